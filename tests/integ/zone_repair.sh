#!/usr/bin/env bash
# zone_repair.sh: a whole zone (nodes 1 and 4 of z1, 6 nodes in 3 zones,
# 4+2) killed with kill -9 while a writer puts objects: no put fails (the
# fragments of the zone's nodes are handed off, each shard keeps two of
# its three replicas, one per zone).  The zone restarts; with no command,
# the catalog leader checks its nodes' fragments, writes the missing ones
# home and the sweep removes the hand-offs: fsck is clean (k+m fragments
# on distinct nodes over 3 zones) within a bound, exactly k+m fragment
# files per block are left, and every object reads back identical.
. "$(dirname "$0")/lib.sh"

N=40

frags_all() {
	find "$T"/cluster/node*/frags -path '*/quarantine' -prune -o -type f -name '*.[0-9]*' \
		! -name '*.tmp.*' -print 2>/dev/null | wc -l
}

cluster_up 6
sed -i -e 's/^# *repair_after = .*/repair_after = 600/' -e 's/^# *gc_grace = .*/gc_grace = 2/' "$OBJFS_CONF"
grep -qx "gc_grace = 2" "$OBJFS_CONF" || fail "no gc_grace line in $OBJFS_CONF"
ctl dev down --dir "$T/cluster" >/dev/null || fail "dev down"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "dev up with gc_grace = 2"
randfile "$T/obj" $((6 * 1024 * 1024 + 7)) # 2 blocks each

# The writer: one line per acknowledged put, one per failure.
(
	for i in $(seq "$N"); do
		if t "$CTL" put demo "w/$i" "$T/obj" >/dev/null 2>"$T/w$i.err"; then
			echo "$i" >>"$T/ok"
		else
			echo "$i $(cat "$T/w$i.err")" >>"$T/failed"
		fi
	done
) &
writer=$!
echo "$writer" >>"$T/pids"
: >"$T/ok"
wait_lines "$T/ok" 3 60
still_running "$writer"
kill9_node 1
kill9_node 4
before=$(wc -l <"$T/ok")
log "zone z1 (nodes 1, 4) killed after $before puts"
wait "$writer"
[ "$before" -lt "$N" ] || fail "the writer finished before the zone died"
[ ! -s "$T/failed" ] || fail "puts failed with a zone down: $(cat "$T/failed")"
[ "$(wc -l <"$T/ok")" -eq "$N" ] || fail "$(wc -l <"$T/ok") of $N puts acknowledged"

ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of zone z1"
t0=$(date +%s)
until ctl fsck demo >"$T/fsck" 2>&1; do
	[ $(($(date +%s) - t0)) -lt 60 ] || { cat "$T/fsck"; fail "fsck not clean 60 s after the zone returned"; }
	sleep 1
done
log "fsck clean $(($(date +%s) - t0)) s after the zone returned, no command run"
log "sweeps asked $(cat "$T"/cluster/node*.log | grep -c 'repair.homeless') times for a home to be checked again (hand-offs of blocks committed after its first check)"
for _ in $(seq 120); do
	[ "$(frags_all)" -eq $((N * 2 * 6)) ] && break
	sleep 0.25
done
[ "$(frags_all)" -eq $((N * 2 * 6)) ] || fail "$(frags_all) fragment files, not $((N * 2 * 6)): hand-offs left"
for i in $(seq "$N"); do
	ctl get demo "w/$i" - | cmp -s - "$T/obj" || fail "object w/$i differs"
done
log "PASS: $N puts with zone z1 killed mid-way, none failed; fsck clean and $((N * 12)) fragment files after it returned"
