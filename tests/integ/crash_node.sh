#!/usr/bin/env bash
# crash_node.sh: a node loses power (tests/lib/crashfs.so: every byte and
# every directory change it had not fsynced is dropped) while a writer
# stores objects; after its restart every acknowledged object reads back,
# its fragment store and its metadata shards are intact, and its replica of
# the shard equals the others.  The node runs the shard's leader, so both
# the fragment path and the Raft/SQLite path are under the cut.
. "$(dirname "$0")/lib.sh"

SHIM="$BUILD/tests/lib/crashfs.so"
[ -f "$SHIM" ] || fail "no $SHIM (make check builds it)"

leader_of() {
	ctl status 2>/dev/null | awk -v s="$1" '$1 == s && $3 == "leader" { print $2 }'
}

cluster_up 6
randfile "$T/small" 3000    # inline in its metadata record
randfile "$T/big" 300000    # erasure-coded fragments on every node
L=""
for _ in $(seq 100); do L=$(leader_of demo); [ -n "$L" ] && break; sleep 0.1; done
[ -n "$L" ] || fail "demo has no leader"

# Restart node $L under the shim.  Its Raft log is kept: c-raft writes it
# with O_DIRECT + RWF_DSYNC through raw io_submit, durable per write and
# invisible to an LD_PRELOAD shim.
pid=$(node_pid "$L")
kill -TERM "$pid" || fail "cannot stop node $L"
for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
kill -0 "$pid" 2>/dev/null && fail "node $L did not stop"
env LD_PRELOAD="$SHIM" CRASHFS_ROOT="$T/cluster/node$L" CRASHFS_SHADOW="$T/shadow" \
	CRASHFS_KEEP=raft CRASHFS_TRIGGER="$T/powercut" \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	"$NODE" -c "$OBJFS_CONF" -i "$L" >>"$T/cluster/node$L.log" 2>&1 </dev/null &
shimmed=$!
echo "$shimmed" > "$T/cluster/node$L.pid"
echo "$shimmed" >> "$T/pids"
for _ in $(seq 200); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status >/dev/null 2>&1 || fail "node $L did not come back under the shim"
for _ in $(seq 100); do [ -n "$(leader_of demo)" ] && break; sleep 0.1; done
log "node $L runs under the power-loss shim; writing"

: > "$T/acked"
(
	for i in $(seq 1 40); do
		src="$T/small"; [ $((i % 2)) -eq 0 ] && src="$T/big"
		if ctl put demo "c/f$i" "$src" >/dev/null 2>"$T/werr.$i"; then
			echo "c/f$i $src" >> "$T/acked"
		fi
	done
) &
writer=$!
wait_lines "$T/acked" 8 60
still_running "$writer"
touch "$T/powercut"
wait "$shimmed"
rc=$?
[ $rc -eq 86 ] || fail "node $L exited $rc, not 86 (the shim's power loss)"
before=$(wc -l < "$T/acked")
log "node $L lost power after $before acknowledged puts"
wait "$writer"
rm -f "$T/powercut"
[ "$(wc -l < "$T/acked")" -gt "$before" ] || fail "no put succeeded after the power loss"

ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of node $L"
ctl status >/dev/null || fail "status after restart: not every node is up"
for _ in $(seq 100); do [ -n "$(leader_of demo)" ] && break; sleep 0.1; done
ctl put demo c/after "$T/small" >/dev/null || fail "put after restart"
wait_caught_up demo
n=0
while read -r key src; do
	ctl get demo "$key" - | cmp -s - "$src" || fail "$key, acknowledged, differs or is gone"
	n=$((n + 1))
done < "$T/acked"
log "all $n acknowledged objects read back"

# Fragments: every block whole, and after one repair every fragment home.
ctl repair demo > "$T/repair" || fail "repair: $(cat "$T/repair")"
grep -q " 0 blocks failed$" "$T/repair" || fail "repair: $(cat "$T/repair")"
ctl repair demo > "$T/repair2" || fail "second repair: $(cat "$T/repair2")"
grep -q " 0 fragments rewritten, 0 blocks failed$" "$T/repair2" ||
	fail "second repair still rewrote: $(cat "$T/repair2")"
grep -q "frag.corrupt" "$T/cluster/node$L.log" && fail "node $L found corrupt fragments"
ls "$T/cluster/node$L"/frags/*/*/*.tmp.* >/dev/null 2>&1 && fail "temp fragments left on node $L"

# Shards: integrity, and the three replicas of demo identical.
ctl dev down --dir "$T/cluster" >/dev/null
for db in "$T/cluster/node$L"/shards/*.db; do
	[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || fail "$db: integrity check failed"
done
first=""
for db in "$T"/cluster/node*/shards/demo.db; do
	sqlite3 "$db" "select parent, hex(name), ino from dirents order by 1, 2; select ino, size, mode, nlink from inodes order by 1" > "$db.dump" ||
		fail "$db: unreadable"
	if [ -z "$first" ]; then first="$db.dump"; else
		cmp -s "$first" "$db.dump" || { diff "$first" "$db.dump" | head; fail "replicas differ: $db"; }
	fi
done
log "fragment store and shards of node $L intact; replicas identical"
log "PASS"
