#!/usr/bin/env bash
# cluster_ec.sh: 6 real nodes on loopback; objects from 0 B to 100 MiB put
# with objfsctl come back byte-identical while 2 nodes are dead (kill -9:
# the metadata leader and a fragment-only node),
# writes still succeed with 2 nodes dead, listing and removal work, and the
# killed nodes rejoin after a restart.
. "$(dirname "$0")/lib.sh"

cluster_up 6
ctl status >/dev/null || fail "status: not every node is up"

sizes="0 1 4095 4096 4097 65537 1048576 4194303 4194304 4194305 9999999 67108864 104857600"
for s in $sizes; do
	randfile "$T/obj-$s" "$s"
	ctl put demo "dir/obj-$s" "$T/obj-$s" >/dev/null || fail "put of $s bytes"
done
ctl ls demo dir/ > "$T/ls" || fail "ls"
[ "$(wc -l < "$T/ls")" -eq "$(echo $sizes | wc -w)" ] || fail "ls lists $(wc -l < "$T/ls") objects"
grep -q " 104857600  dir/obj-104857600$" "$T/ls" || fail "ls does not show the 100 MiB object with its size"

# Two of six: the leader of demo's metadata shard (a new one is elected
# from its two other replicas) and a node holding only fragments.
set -- $(data_only_nodes)
[ $# -ge 1 ] || fail "no data-only node"
v1=$1
v2=$(ctl status | awk '$1 == "demo" && $3 == "leader" { print $2 }')
[ -n "$v2" ] || fail "demo has no leader"
log "killing nodes $v1 and $v2 with SIGKILL"
kill9_node "$v1"
kill9_node "$v2"
ctl status > "$T/status" 2>&1
rc=$?
[ $rc -eq 1 ] || { cat "$T/status"; fail "status exited $rc with two nodes dead, not 1"; }
grep -qx "4 of 6 nodes up" "$T/status" || { cat "$T/status"; fail "status does not say 4 of 6 nodes up"; }
for v in "$v1" "$v2"; do
	awk -v n="$v" '$1 == n && $4 == "down"' "$T/status" | grep -q . ||
		{ cat "$T/status"; fail "status does not show node $v down"; }
done
for s in $sizes; do
	ctl get demo "dir/obj-$s" "$T/back-$s" || fail "degraded get of $s bytes"
	cmp -s "$T/obj-$s" "$T/back-$s" || fail "degraded get of $s bytes differs"
done
log "every object read back identical with 2 of 6 nodes dead"

# Writes continue: fragments of dead nodes are handed off to live ones.
randfile "$T/late" 5000000
ctl put demo late "$T/late" >/dev/null || fail "put with 2 nodes dead"
ctl get demo late - | cmp -s - "$T/late" || fail "object written while degraded differs"

# Overwrite and removal.
randfile "$T/over" 300000
ctl put demo dir/obj-1 "$T/over" >/dev/null || fail "overwrite"
ctl get demo dir/obj-1 - | cmp -s - "$T/over" || fail "overwritten object differs"
ctl rm demo dir/obj-4097 || fail "rm"
expect_fail 1 "objfsctl get: demo/dir/obj-4097: No such file or directory" \
	"$CTL" get demo dir/obj-4097 /dev/null
expect_fail 1 "objfsctl rm: demo/dir/obj-4097: No such file or directory" \
	"$CTL" rm demo dir/obj-4097

log "restarting the killed nodes"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart"
ctl status >/dev/null || fail "status after restart: not every node is up"
for s in 0 4096 104857600; do
	ctl get demo "dir/obj-$s" - | cmp -s - "$T/obj-$s" || fail "get after restart ($s bytes)"
done
ctl get demo late - | cmp -s - "$T/late" || fail "degraded-written object after restart"
log "PASS"
