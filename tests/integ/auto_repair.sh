#!/usr/bin/env bash
# auto_repair.sh: automatic repair on 7 real nodes (3 zones, 4+2) with
# repair_after = 3 s and gc_grace = 2 s, no repair command ever run.
#  1. a node killed with kill -9 and left down: within a bound its
#     fragments are rebuilt on other nodes (fsck exit 0: every block has
#     k+m intact fragments on distinct nodes over 3 zones), the catalog
#     leader's metrics count the rebuild and the node as gone, and
#     objfsctl status shows it gone in the cluster map, with the time;
#  2. the node returns: the copies that stood in for its fragments are
#     removed (exactly k+m fragment files per block on disk again, the
#     node holding what it held), and fsck stays clean;
#  3. a node's data dir wiped (a replaced disk; a node no shard lists as a
#     voter) and the node restarted: it gets its fragments back with no
#     command (fsck clean, the node holding what it held);
#  4. 'objfsctl node out' of an up node rebuilds its fragments elsewhere and
#     says it can be removed (--json: removable); status shows it out; a
#     manual 'objfsctl gc' (grace 0) keeps the copies that stand in for
#     it; killed right after, fsck is clean at once; restarted and 'node
#     in', it holds its fragments again and the surplus copies go.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || fail "jq missing (scripts/deps.sh)"

BLOCKS=12
FRAGS=$((BLOCKS * 6))

jlast() { grep -o "\"$2\": *[0-9]*" "$1" | tail -n 1 | sed 's/.*: *//'; }
frags_on() { find "$T/cluster/node$1/frags" -path '*/quarantine' -prune -o -type f -name '*.[0-9]*' ! -name '*.tmp.*' -print 2>/dev/null | wc -l; }
frags_all() {
	local n=0 i
	for i in 1 2 3 4 5 6 7; do n=$((n + $(frags_on "$i"))); done
	echo "$n"
}
# wait_clean SECONDS: until fsck of demo exits 0; prints the seconds taken.
wait_clean() {
	local t0
	t0=$(date +%s%N)
	while :; do
		ctl fsck --json demo >"$T/fsck" 2>&1 && break
		[ $(( $(date +%s%N) - t0 )) -lt $(( $1 * 1000000000 )) ] ||
			{ cat "$T/fsck"; fail "fsck not clean within $1 s"; }
		sleep 0.5
	done
	t0=$(( ($(date +%s%N) - t0) / 1000000 ))
	printf '%d.%03d\n' $((t0 / 1000)) $((t0 % 1000))
}
# metric NODE NAME: the value of a metric series on a node's /metrics.
metric() {
	local addr
	addr=$(awk -v n="[node $1]" '$0 == n { s = 1 } s && /^metrics_addr/ { print $3; exit }' "$OBJFS_CONF")
	curl -s "http://$addr/metrics" | awk -v m="$2" '$1 == m { print $2 }'
}

cluster_up 7
sed -i -e 's/^# *repair_after = .*/repair_after = 3/' -e 's/^# *gc_grace = .*/gc_grace = 2/' "$OBJFS_CONF"
grep -qx "repair_after = 3" "$OBJFS_CONF" || fail "no repair_after line in $OBJFS_CONF"
grep -qx "gc_grace = 2" "$OBJFS_CONF" || fail "no gc_grace line in $OBJFS_CONF"
ctl dev down --dir "$T/cluster" >/dev/null || fail "dev down"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "dev up with repair_after = 3"

# 4 objects of 3 blocks each (4 MiB blocks): 12 blocks, 72 fragments.
for i in 1 2 3 4; do
	randfile "$T/obj$i" $((9 * 1024 * 1024 + i))
	ctl put demo "o/$i" "$T/obj$i" >/dev/null || fail "put $i"
done
ctl fsck --json demo >"$T/fsck0" || { cat "$T/fsck0"; fail "fsck of a fresh bucket is not clean"; }
[ "$(jlast "$T/fsck0" blocks)" -eq $BLOCKS ] || fail "fsck saw $(jlast "$T/fsck0" blocks) blocks"
[ "$(frags_all)" -eq $FRAGS ] || fail "$(frags_all) fragment files, not $FRAGS"

# The victims: nodes without any shard replica (not the catalog's leader,
# whose repair worker would restart its clocks, and free to be wiped).
mapfile -t spare < <(data_only_nodes)
[ "${#spare[@]}" -ge 1 ] || fail "every node holds a shard replica"
V=${spare[0]}
CAT=$(leader_of _catalog)
[ -n "$CAT" ] || fail "the catalog has no leader"
held=$(frags_on "$V")
[ "$held" -gt 0 ] || fail "node $V holds no fragment"

# --- 1: killed and left down: rebuilt elsewhere ---------------------------
kill9_node "$V"
took=$(wait_clean 40)
log "node $V (held $held fragments) killed: fsck clean after $took s with no command"
# The dead node's files are still in its data dir: the 72 are elsewhere.
[ $(( $(frags_all) - held )) -eq $FRAGS ] ||
	fail "$(( $(frags_all) - held )) fragment files on the live nodes after the rebuild, not $FRAGS"
[ "$(metric "$CAT" 'objfs_nodes_state{state="gone"}')" = 1 ] ||
	fail "catalog leader $CAT: objfs_nodes_state{state=\"gone\"} is '$(metric "$CAT" 'objfs_nodes_state{state="gone"}')', not 1"
[ "$(metric "$CAT" objfs_repair_blocks_total)" -ge 1 ] || fail "objfs_repair_blocks_total did not count"
[ "$(metric "$CAT" objfs_repair_bytes_total)" -gt 0 ] || fail "objfs_repair_bytes_total did not count"
[ "$(metric "$CAT" objfs_blocks_degraded)" = 0 ] || fail "objfs_blocks_degraded is not 0 after the rebuild"
# The cluster map, as status prints it: the node gone since its fall.
t "$CTL" status --json >"$T/st1.json"
[ "$(jq -r --argjson v "$V" '.cluster_map[] | select(.node == $v) | .state' "$T/st1.json")" = gone ] ||
	fail "status: node $V is not gone in the cluster map: $(jq -c .cluster_map "$T/st1.json")"
jq -e --argjson v "$V" '.cluster_map[] | select(.node == $v) | .since | test("^20[0-9-]+T[0-9:]+Z$")' \
	"$T/st1.json" >/dev/null || fail "status: no time for node $V: $(jq -c .cluster_map "$T/st1.json")"
[ "$(jq '[.cluster_map[] | select(.state == "up")] | length' "$T/st1.json")" = 6 ] ||
	fail "status: not 6 nodes up in the cluster map: $(jq -c .cluster_map "$T/st1.json")"
t "$CTL" status >"$T/st1.txt"
grep -Eq "^$V +gone +20[0-9-]+T[0-9:]+Z\$" "$T/st1.txt" || { cat "$T/st1.txt"; fail "status text: node $V not gone"; }

# --- 2: it returns: the stand-in copies go --------------------------------
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of node $V"
for _ in $(seq 120); do
	[ "$(frags_all)" -eq $FRAGS ] && [ "$(frags_on "$V")" -eq "$held" ] && break
	sleep 0.25
done
[ "$(frags_on "$V")" -eq "$held" ] || fail "node $V holds $(frags_on "$V") fragments, not $held"
total=$(frags_all)
[ "$total" -eq $FRAGS ] || fail "$total fragment files 30 s after node $V returned, not $FRAGS"
[ "$(metric "$CAT" 'objfs_nodes_state{state="up"}')" = 7 ] || fail "not 7 nodes up in the metrics"
ctl fsck --json demo >"$T/fsck2" || { cat "$T/fsck2"; fail "fsck not clean after node $V returned"; }
log "node $V returned: surplus copies removed, $total fragment files"

# --- 3: wiped and restarted: gets its fragments back ----------------------
W=${spare[${#spare[@]} - 1]}
held=$(frags_on "$W")
kill9_node "$W"
find "$T/cluster/node$W" -mindepth 1 -delete || fail "wipe node $W"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of wiped node $W"
# (Had it been down past repair_after, stand-in copies were made: they go
# once gc_grace old.)
for _ in $(seq 160); do
	[ "$(frags_on "$W")" -eq "$held" ] && [ "$(frags_all)" -eq $FRAGS ] && break
	sleep 0.25
done
[ "$(frags_on "$W")" -eq "$held" ] || fail "wiped node $W holds $(frags_on "$W") fragments 40 s after its restart, not $held"
took=$(wait_clean 30)
[ "$(frags_all)" -eq $FRAGS ] || fail "$(frags_all) fragment files after node $W's rebuild, not $FRAGS"
for i in 1 2 3 4; do
	ctl get demo "o/$i" - | cmp -s - "$T/obj$i" || fail "object $i differs"
done
# --- 4: node out drains, node in rebalances -------------------------------
held=$(frags_on "$V")
ctl node out "$V" --json >"$T/out.json" 2>"$T/out.err" || { cat "$T/out.json" "$T/out.err"; fail "node out $V"; }
grep -q '"removable": *true' "$T/out.json" || { cat "$T/out.json"; fail "node out $V: not removable"; }
# One fragment per block at most on a node (6 of 7): $held blocks concerned;
# the catalog leader, told by the cluster map, rebuilds alongside.
[ "$(jlast "$T/out.json" blocks)" -eq "$held" ] ||
	fail "node out $V walked $(jlast "$T/out.json" blocks) blocks with a fragment there, not $held"
for _ in $(seq 40); do
	[ "$(metric "$CAT" 'objfs_nodes_state{state="out"}')" = 1 ] && break
	sleep 0.25
done
[ "$(metric "$CAT" 'objfs_nodes_state{state="out"}')" = 1 ] || fail "the catalog leader does not see node $V out"
ctl status --json >"$T/st4.json" || fail "status with node $V out"
[ "$(jq -r --argjson v "$V" '.cluster_map[] | select(.node == $v) | .state' "$T/st4.json")" = out ] ||
	fail "status: node $V is not out in the cluster map: $(jq -c .cluster_map "$T/st4.json")"
# A manual sweep keeps what stands in for the node out, as the leader's does:
# its own copies still verify, and would make the stand-ins look surplus.
before=$(frags_all)
ctl gc --grace 0 --json >"$T/gc4.json" || { cat "$T/gc4.json"; fail "gc with node $V out"; }
[ "$(jq -c .out "$T/gc4.json")" = "[$V]" ] || fail "gc does not name node $V out: $(cat "$T/gc4.json")"
[ "$(jq .deleted "$T/gc4.json")" = 0 ] || fail "gc deleted $(jq .deleted "$T/gc4.json") fragments with node $V out"
[ "$(frags_all)" -eq "$before" ] || fail "$(frags_all) fragment files after gc, not $before"
ctl node out "$V" >"$T/out.txt" || fail "node out $V again"
grep -qx "node $V can be removed: no block needs it" "$T/out.txt" || { cat "$T/out.txt"; fail "node out $V does not say it can be removed"; }
grep -q " 0 rebuilt" "$T/out.txt" || { cat "$T/out.txt"; fail "a second node out $V rebuilt again"; }
kill9_node "$V"
ctl fsck --json demo >"$T/fsck4" || { cat "$T/fsck4"; fail "fsck not clean right after node $V was drained and killed"; }
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of node $V"
ctl node in "$V" --json >"$T/in.json" 2>"$T/in.err" || { cat "$T/in.json" "$T/in.err"; fail "node in $V"; }
for _ in $(seq 120); do
	[ "$(frags_all)" -eq $FRAGS ] && break
	sleep 0.25
done
[ "$(frags_on "$V")" -eq "$held" ] || fail "node $V holds $(frags_on "$V") fragments after node in, not $held"
# The leader reads the map once a second.
for _ in $(seq 40); do
	[ "$(metric "$CAT" 'objfs_nodes_state{state="up"}')" = 7 ] && break
	sleep 0.25
done
[ "$(metric "$CAT" 'objfs_nodes_state{state="up"}')" = 7 ] || fail "not 7 nodes up in the metrics after node in"
[ "$(frags_all)" -eq $FRAGS ] || fail "$(frags_all) fragment files 30 s after node in $V, not $FRAGS"
ctl fsck --json demo >"$T/fsck5" || { cat "$T/fsck5"; fail "fsck not clean after node in $V"; }
log "node out $V drained $held blocks' fragments; node in: back to $FRAGS fragment files"
log "PASS: rebuilt while down, surplus removed on return, wiped node refilled, node out/in"
