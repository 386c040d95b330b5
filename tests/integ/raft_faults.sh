#!/usr/bin/env bash
# raft_faults.sh: metadata shards survive node failures.
#  1. kill -9 the leader of bucket demo's shard while a writer stores
#     objects: the writer sees a pause, no error, and every object it was
#     told was stored is intact afterwards;
#  2. kill 2 of 6 nodes (two of the shard's three replicas): everything
#     still reads; writes resume once a majority is back;
#  3. restart them: they catch up and status shows every replica with no
#     lag;
#  4. kill -9 a replica in the middle of a stream of creates: after the
#     restart every replica's database passes PRAGMA integrity_check and
#     all replicas hold identical contents.
. "$(dirname "$0")/lib.sh"

# Dumps a shard database's user tables (sorted) for comparison.
dump_db() {
	sqlite3 "$1" "PRAGMA integrity_check;" || return 1
	for tbl in $(sqlite3 "$1" "select name from sqlite_master where type='table' and name not like 'sqlite_%' order by name"); do
		echo "== $tbl"
		sqlite3 "$1" "select * from $tbl order by 1, 2" 2>/dev/null
	done
}

cluster_up 6
randfile "$T/small" 3000
randfile "$T/big" 600000

# --- 1: leader killed under a writer -------------------------------------
L=$(wait_leader demo) || fail "demo has no leader"
log "demo leader is node $L; writing while it is killed"
: > "$T/acked"
(
	for i in $(seq 1 60); do
		src="$T/small"; [ $((i % 3)) -eq 0 ] && src="$T/big"
		if ctl put demo "w/f$i" "$src" >/dev/null 2>"$T/werr.$i"; then
			echo "w/f$i $src" >> "$T/acked"
		else
			echo "FAILED w/f$i: $(cat "$T/werr.$i")" >> "$T/acked"
		fi
	done
) &
writer=$!
wait_lines "$T/acked" 3 60
still_running "$writer"
kill9_node "$L"
before=$(wc -l < "$T/acked")
wait "$writer"
grep -q FAILED "$T/acked" && { cat "$T/acked"; fail "a write failed across the leader change"; }
[ "$(wc -l < "$T/acked")" -eq 60 ] || fail "writer stored $(wc -l < "$T/acked") of 60"
[ "$before" -lt 60 ] || fail "the writer finished before the leader died"
while read -r key src; do
	ctl get demo "$key" - | cmp -s - "$src" || fail "$key differs after fail-over"
done < "$T/acked"
NL=$(wait_leader demo) || fail "no new leader"
[ "$NL" != "$L" ] || fail "leader did not change"
log "all 60 acknowledged objects intact; new leader node $NL"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of node $L"
# Blocks written while node $L was down had its fragments handed off:
# move them home so the data survives two more failures.  The restarted
# node's own check (automatic repair) may have moved them first; either
# way every block must then have k+m healthy fragments on distinct nodes.
ctl repair demo | tee "$T/repair" | grep -q "0 blocks failed" || fail "repair: $(cat "$T/repair")"
ctl fsck --json demo > "$T/fsck" || { cat "$T/fsck"; fail "fsck after the repair is not clean"; }
grep -q " 0 fragments rewritten" "$T/repair" && log "(the restarted node's check had moved them home)"

# --- 2: two of the three replicas down -----------------------------------
set -- $(replicas_of demo)
[ $# -eq 3 ] || fail "demo has $# replicas"
r1=$1 r2=$2
log "killing replicas $r1 and $r2 of demo"
kill9_node "$r1"
kill9_node "$r2"
for i in 3 6 30 60; do
	src="$T/small"; [ $((i % 3)) -eq 0 ] && src="$T/big"
	ctl get demo "w/f$i" - | cmp -s - "$src" || fail "read w/f$i without a metadata majority"
done
ctl ls demo w/ | grep -q "w/f60" || fail "listing without a majority"
log "reads work with one replica of three"
# Refused cleanly by the client once its fail-over time is spent: exit 1
# with the key in the message, not a hang (124) or a crash.
CMD_TIMEOUT=60 ctl put demo w/late "$T/small" >/dev/null 2>"$T/late.err"
rc=$?
[ $rc -eq 1 ] || fail "put without a majority exited $rc, not 1: $(cat "$T/late.err")"
grep -q "^objfsctl put: demo/w/late: " "$T/late.err" || fail "put without a majority said: $(cat "$T/late.err")"

# --- 3: restart: they catch up ---------------------------------------------
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart"
wait_leader demo >/dev/null || fail "no leader after restart"
ctl put demo w/late "$T/small" >/dev/null || fail "write after restart"
wait_caught_up demo
ctl status >/dev/null || fail "status: not every node is up"
log "replicas caught up, status healthy"

# --- 4: kill -9 in a stream of creates; replicas identical -----------------
set -- $(replicas_of demo)
victim=$1
[ "$victim" = "$(leader_of demo)" ] && victim=$2
: > "$T/streamed"
(
	for i in $(seq 1 80); do
		if ctl put demo "s/$i" "$T/small" >/dev/null 2>"$T/serr.$i"; then
			echo "s/$i" >> "$T/streamed"
		else
			echo "FAILED s/$i: $(cat "$T/serr.$i")" >> "$T/streamed"
		fi
	done
) &
stream=$!
wait_lines "$T/streamed" 5 60
still_running "$stream"
kill9_node "$victim"
before=$(wc -l < "$T/streamed")
wait "$stream"
grep -q FAILED "$T/streamed" && { cat "$T/streamed"; fail "a create failed while a follower died"; }
[ "$(wc -l < "$T/streamed")" -eq 80 ] || fail "stream stored $(wc -l < "$T/streamed") of 80"
[ "$before" -lt 80 ] || fail "the stream finished before the follower died"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of $victim"
wait_leader demo >/dev/null || fail "no leader"
ctl put demo s/final "$T/small" >/dev/null || fail "write after restart"
wait_caught_up demo
ctl ls demo s/ > "$T/ls.s" || fail "ls s/"
[ "$(wc -l < "$T/ls.s")" -eq 81 ] || fail "s/ lists $(wc -l < "$T/ls.s") objects, not 81"
# Stop the nodes so the databases are quiet, then compare them.
ctl dev down --dir "$T/cluster" >/dev/null
first=""
for n in "$T"/cluster/node*/shards/demo.db; do
	dump_db "$n" > "$n.dump" || fail "$n: integrity check failed"
	head -1 "$n.dump" | grep -qx ok || fail "$n: integrity_check says $(head -1 "$n.dump")"
	if [ -z "$first" ]; then first=$n.dump; else
		cmp -s "$first" "$n.dump" || { diff "$first" "$n.dump" | head -20; fail "replicas differ: $n"; }
	fi
done
log "integrity ok and replicas identical"
log "PASS"
