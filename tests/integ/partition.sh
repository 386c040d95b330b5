#!/usr/bin/env bash
# partition.sh: a node cut off from the others by the network (its own
# network namespace, link taken down) while it leads bucket demo's shard:
# the minority leader steps down, a new leader is elected on the majority
# side, every write the writer was told succeeded is there exactly once
# and intact, and when the link returns the node rejoins and its replica
# catches up to an identical database (by a snapshot: the shard snapshots
# every 16 entries here, fewer than the writes made while it was away).
#
# Topology (made here, removed on exit): a bridge in the root namespace
# with 10.N.0.254/24, and one namespace per node, ns_i with 10.N.0.i,
# joined to the bridge by a veth pair.  Nodes listen on their namespace's
# address; objfsctl runs in the root namespace.
. "$(dirname "$0")/lib.sh"

command -v ip >/dev/null || { echo "ip (iproute2) missing: skipped"; exit 77; }
[ "$(id -u)" -eq 0 ] || { echo "needs root for network namespaces: skipped"; exit 77; }
P="ob$$"             # short prefix: interface names are at most 15 bytes
NET="10.$((100 + RANDOM % 100)).$((RANDOM % 250))"
BR="${P}br"
NODES=6
PORT=7401

net_cleanup() {
	local i
	for i in $(seq $NODES); do
		ip netns del "${P}n$i" 2>/dev/null
		ip link del "${P}h$i" 2>/dev/null
	done
	ip link del "$BR" 2>/dev/null
}
_cleanup_net_then_lib() {
	local rc=$?
	[ -f "$T/pids" ] && while read -r pid; do kill -9 "$pid" 2>/dev/null; done < "$T/pids"
	net_cleanup
	(exit $rc)
	_cleanup
}
trap _cleanup_net_then_lib EXIT

ip link add "$BR" type bridge || { echo "no bridge support: skipped"; exit 77; }
ip addr add "$NET.254/24" dev "$BR"
ip link set "$BR" up
mkdir -p "$T/cluster"
secret=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
{
	# Snapshots every 16 entries: the cut-off node falls further behind
	# than the kept log and must catch up by installing a snapshot.
	printf '[cluster]\nname = partition\nsecret = %s\ntimeout_ms = 2000\nsnapshot_entries = 16\nsnapshot_max_entries = 16\n' "$secret"
	for i in $(seq $NODES); do
		printf '[node %d]\naddr = tcp://%s.%d:%d\nzone = z%d\ndata_dir = %s/cluster/node%d\n' \
			"$i" "$NET" "$i" "$PORT" $(( (i - 1) % 3 + 1 )) "$T" "$i"
	done
} > "$OBJFS_CONF"
for i in $(seq $NODES); do
	ns="${P}n$i"
	ip netns add "$ns"
	ip link add "${P}h$i" type veth peer name "${P}p$i"
	ip link set "${P}p$i" netns "$ns"
	ip link set "${P}h$i" master "$BR"
	ip link set "${P}h$i" up
	ip netns exec "$ns" ip addr add "$NET.$i/24" dev "${P}p$i"
	ip netns exec "$ns" ip link set "${P}p$i" up
	ip netns exec "$ns" ip link set lo up
	mkdir -p "$T/cluster/node$i"
done

# `ip netns exec` gives the node its own copy of every mount, FUSE mounts
# of tests running beside this one included; a node holding such a copy
# would keep that mount's daemon alive after its unmount.  Drop them.
start_node() {
	ip netns exec "${P}n$1" sh -c '
		awk '\''$3 ~ /^fuse/ { print $2 }'\'' /proc/self/mounts | while read -r m; do
			umount -l "$m" 2>/dev/null
		done
		exec "$@"' node "$NODE" -c "$OBJFS_CONF" -i "$1" >>"$T/cluster/node$1.log" 2>&1 &
	echo $! > "$T/cluster/node$1.pid"
	echo $! >> "$T/pids"
}
for i in $(seq $NODES); do start_node "$i"; done
for _ in $(seq 100); do ctl status >/dev/null 2>&1 && break; sleep 0.1; done
ctl status >/dev/null || fail "cluster did not come up"
ctl bucket create demo || fail "bucket create"

leader_of() {
	ctl status 2>/dev/null | awk -v s="$1" '$1 == s && $3 == "leader" { print $2 }'
}
wait_leader() {
	local l
	for _ in $(seq 150); do
		l=$(leader_of "$1")
		[ -n "$l" ] && [ "$l" != "${2:-}" ] && { echo "$l"; return 0; }
		sleep 0.1
	done
	return 1
}
L=$(wait_leader demo) || fail "no leader"
log "demo leader is node $L; cutting it off while a writer runs"
randfile "$T/obj" 5000

: > "$T/acked"
(
	for i in $(seq 1 80); do
		if ctl put demo "p/f$i" "$T/obj" >/dev/null 2>"$T/perr"; then
			echo "p/f$i" >> "$T/acked"
		else
			echo "FAILED p/f$i: $(cat "$T/perr")" >> "$T/acked"
		fi
	done
) &
writer=$!
wait_lines "$T/acked" 3 60
still_running "$writer"
ip link set "${P}h$L" down
before=$(wc -l < "$T/acked")
t_cut=$(date +%s%N)
NL=$(wait_leader demo "$L") || fail "no new leader on the majority side"
t_new=$(date +%s%N)
log "node $NL leads the majority after $(( (t_new - t_cut) / 1000000 )) ms"

# The cut-off node must stop acting as leader: ask it from its namespace.
stepped=0
for _ in $(seq 100); do
	role=$(ip netns exec "${P}n$L" "$CTL" status 2>/dev/null |
		awk -v n="$L" '$1 == "demo" && $2 == n { print $3 }')
	[ -n "$role" ] && [ "$role" != leader ] && { stepped=1; break; }
	sleep 0.1
done
[ $stepped -eq 1 ] || fail "the cut-off leader did not step down (role '$role')"
log "the cut-off node stepped down (now $role)"

wait "$writer"
grep -q FAILED "$T/acked" && { cat "$T/acked"; fail "a write failed during the partition"; }
[ "$(wc -l < "$T/acked")" -eq 80 ] || fail "only $(wc -l < "$T/acked") of 80 writes acknowledged"
[ "$before" -lt 80 ] || fail "the writer finished before the partition"
ctl ls demo p/ > "$T/ls"
[ "$(wc -l < "$T/ls")" -eq 80 ] || { cat "$T/ls"; fail "listing shows $(wc -l < "$T/ls") files, not 80"; }
while read -r key; do
	ctl get demo "$key" - | cmp -s - "$T/obj" || fail "$key differs"
done < "$T/acked"
log "all 80 acknowledged writes present once and intact"

ip link set "${P}h$L" up
ctl put demo p/after "$T/obj" >/dev/null || fail "write after healing"
wait_caught_up demo 3
log "node $L rejoined and caught up"
grep -q "msvc.restore" "$T/cluster/node$L.log" || log "(node $L caught up from the log, not a snapshot)"

# Quiet the nodes, then the three replicas must be identical.
for i in $(seq $NODES); do kill "$(cat "$T/cluster/node$i.pid")" 2>/dev/null; done
# A node's stop waits for its repair thread's probe of the other nodes
# (timeout_ms), slower still under the sanitizers: give each 30 s.
for i in $(seq $NODES); do
	pid=$(cat "$T/cluster/node$i.pid")
	for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
	kill -0 "$pid" 2>/dev/null && fail "node $i (pid $pid) still runs 30 s after SIGTERM"
done
first=""
for db in "$T"/cluster/node*/shards/demo.db; do
	[ "$(sqlite3 "$db" 'PRAGMA integrity_check')" = ok ] || fail "$db: integrity check failed"
	sqlite3 "$db" "select parent, hex(name), ino from dirents order by 1, 2; select ino, size, mode, nlink from inodes order by 1" > "$db.dump"
	if [ -z "$first" ]; then first="$db.dump"; else
		cmp -s "$first" "$db.dump" || fail "replicas differ: $db"
	fi
done
log "replicas identical after the partition healed"
log "PASS"
