#!/usr/bin/env bash
# snapshot_stream.sh: a shard far larger than the snapshot chunk reaches a
# new replica and a wiped one through the chunked snapshot path.
#  1. 4 nodes, snapshots every 64 entries, snapshot_chunk 4096; bucket demo
#     filled to a few MB of inline objects (the log is compacted many times);
#  2. 'node out R' adds a stand-in S, which installs the leader's snapshot
#     by fetching it in chunks: S's log says so, and the node that took the
#     copy counts the chunks it served (objfs_raft_snapshot_chunks_total);
#  3. S is killed, its replica of demo wiped, and started again: it fetches
#     anew; it is killed again once the part file holds a few chunks, and
#     at its next start it resumes at that offset; a writer runs meanwhile,
#     and S installs off its Raft loop (the copy comes in on a thread of
#     its own; entries applied meanwhile are held and applied after);
#  4. once caught up, S's database holds exactly the leader's rows
#     (sqlite3 .dump of both, the cluster stopped), and S's peak RSS stays
#     below the shard's size over the fetch-time baseline.
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null && command -v curl >/dev/null ||
	{ log "SKIP: sqlite3 or curl missing (scripts/deps.sh)"; exit 77; }
LOAD="$BUILD/bench/objload"
CHUNK=4096

cluster_up 4
ctl dev down --dir "$T/cluster" >/dev/null || fail "dev down"
sed -i "s/^\[cluster\]$/[cluster]\nsnapshot_entries = 64\nsnapshot_max_entries = 64\nsnapshot_chunk = $CHUNK/" "$OBJFS_CONF"
grep -qx "snapshot_chunk = $CHUNK" "$OBJFS_CONF" || fail "no snapshot_chunk line in $OBJFS_CONF"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "dev up with small snapshots"

metric() { # NODE NAME: the value node NODE exposes
	local addr
	addr=$(sed -n "/^\[node $1\]/,/^\[/s/^metrics_addr = //p" "$OBJFS_CONF")
	curl -s --max-time 5 "http://$addr/metrics" | sed -n "s/^$2 //p"
}
shard_bytes() { stat -c %s "$T/cluster/node$1/shards/demo.db"; }
# Waits (30 s) until the voters of demo but node $1 (removed by 'node out':
# it keeps running its group, and may campaign) have lag 0, S among them.
wait_synced() {
	for _ in $(seq 150); do
		ctl status 2>/dev/null | awk -v r="$1" -v s="$S" '$1 == "demo" && $2 ~ /^[0-9]+$/ && $2 != r {
			n++; if ($7 != 0 || ($3 != "leader" && $3 != "follower")) bad = 1; if ($2 == s) seen = 1 }
			END { exit !(n == 3 && !bad && seen) }' && return 0
		sleep 0.2
	done
	ctl status
	fail "the replicas of demo did not catch up with node $S"
}
start_node() { # NODE: started here (not by dev up) so the test sees it from its first second
	"$NODE" -c "$OBJFS_CONF" -i "$1" >>"$T/cluster/node$1.log" 2>&1 </dev/null &
	echo $! > "$T/cluster/node$1.pid"
	disown
	echo $! >> "$T/pids"
}

# --- 1: a shard of a few MB ------------------------------------------------
t "$LOAD" --bucket demo --size 12000 --objects 400 --seconds 1 --put-pct 100 --threads 2 \
	>"$T/load.out" 2>&1 || fail "fill demo: $(tail -3 "$T/load.out")"
wait_caught_up demo
L=$(wait_leader demo) || fail "demo has no leader"
size=$(shard_bytes "$L")
[ "$size" -gt $((CHUNK * 200)) ] || fail "shard of $size bytes is not far larger than a chunk"
log "demo: $size bytes on leader $L"

# --- 2: a stand-in installs the snapshot in chunks -------------------------
R=$(replicas_of demo | grep -vx "$L" | head -n 1)
ctl node out "$R" >"$T/out.log" 2>&1 || fail "node out $R: $(cat "$T/out.log")"
# The stand-in is a voter once its log is in; its copy is fetched off
# the Raft loop and may still be arriving.
S=""
for _ in $(seq 300); do
	S=$(replicas_of demo | grep -vx "$R" | while read -r n; do
		grep -q "shard 'demo': fetched the copy" "$T/cluster/node$n.log" && echo "$n"; done | head -n 1)
	[ -n "$S" ] && break
	sleep 0.1
done
[ -n "$S" ] || fail "no replica of demo fetched a snapshot copy"
served=0
for n in 1 2 3 4; do served=$((served + $(metric "$n" objfs_raft_snapshot_chunks_total))); done
[ "$served" -ge $((size / CHUNK / 2)) ] || fail "only $served chunks served for a shard of $size bytes"
log "stand-in $S installed the snapshot: $served chunks served"

# --- 3: wiped, fetching, killed mid-transfer, resumed ----------------------
# A writer runs through it: the entries committed while S installs its
# copy reach S's Raft loop, which goes on (the copy comes in on a thread
# of its own) and holds them until the copy is in.
"$LOAD" --bucket demo --size 2000 --objects 400 --seconds 120 --put-pct 100 --threads 1 \
	>"$T/writer.out" 2>&1 &
writer=$!
echo "$writer" >> "$T/pids"
kill9_node "$S"
rm -rf "$T/cluster/node$S/raft/demo" "$T/cluster/node$S/shards/demo".* || fail "wipe demo on $S"
start_node "$S"
part=""
for _ in $(seq 2000); do
	part=$(ls "$T/cluster/node$S/shards/"demo.fetch-* 2>/dev/null | head -n 1)
	[ -n "$part" ] && [ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -ge $((CHUNK * 4)) ] && break
	part=""
	sleep 0.005
done
[ -n "$part" ] || fail "node $S never began fetching the snapshot of demo"
kill9_node "$S"
had=$(stat -c %s "$part")
[ "$had" -lt "$size" ] || fail "the fetch finished ($had bytes) before the kill"
log "node $S killed with $had of ~$size bytes fetched"
since=$(($(wc -l < "$T/cluster/node$S.log") + 1))
start_node "$S"
# The writer goes on until S's install is over (no lag 0 while it writes).
for _ in $(seq 600); do
	tail -n +"$since" "$T/cluster/node$S.log" |
		grep -q "shard 'demo': installed the snapshot at index [0-9]* ([0-9]* bytes): ok" && break
	sleep 0.1
done
kill "$writer" 2>/dev/null
wait "$writer" 2>/dev/null
wait_synced "$R"
tail -n +"$since" "$T/cluster/node$S.log" | grep -q "shard 'demo': installing the snapshot at index [0-9]* off the loop" ||
	fail "node $S did not install off its Raft loop: $(grep msvc.restore "$T/cluster/node$S.log" | tail -3)"
# Whether entries arrive during the install depends on the leader's log
# (it may send snapshot after snapshot): counted when there were some.
log "node $S installed off its loop; $(tail -n +"$since" "$T/cluster/node$S.log" |
	grep -o "applied the [0-9]* entries held" | tail -n 1 || echo "no entries held")"
grep -q "shard 'demo': resuming the copy at index [0-9]* at offset [1-9]" "$T/cluster/node$S.log" ||
	fail "node $S did not resume its fetch: $(grep snap.fetch "$T/cluster/node$S.log" | tail -3)"
hwm=$(awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$(node_pid "$S")/status")
# The baseline: the peak of another replica of demo, which carried the
# same writes (and took and served copies) without installing one.
base=0
for n in $(replicas_of demo | sort -u | grep -vx "$S" | grep -vx "$R"); do
	b=$(awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$(node_pid "$n")/status")
	[ "$b" -gt "$base" ] && base=$b && B=$n
done
log "node $S peak RSS $hwm bytes after installing $size bytes (node $B: $base)"
[ "$hwm" -lt $((base + size)) ] || fail "node $S peaked at $hwm bytes: not bounded by the chunk"

# --- 4: the same rows --------------------------------------------------------
L=$(wait_leader demo) || fail "demo has no leader"
ctl dev down --dir "$T/cluster" >/dev/null || fail "dev down"
sqlite3 "$T/cluster/node$L/shards/demo.db" .dump >"$T/leader.sql" || fail "dump the leader's db"
sqlite3 "$T/cluster/node$S/shards/demo.db" .dump >"$T/s.sql" || fail "dump node $S's db"
[ "$(grep -c "INSERT INTO" "$T/s.sql")" -gt 400 ] || fail "node $S's db has few rows"
cmp -s "$T/leader.sql" "$T/s.sql" || fail "node $S's db differs from the leader's: $(diff "$T/leader.sql" "$T/s.sql" | head -5)"
log "PASS: $size bytes in $CHUNK-byte chunks to a stand-in and to a wiped replica, resumed after a kill"
