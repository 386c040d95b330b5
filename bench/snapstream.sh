#!/usr/bin/env bash
# snapstream.sh: snapshot time and catch-up time of a wiped replica as bucket demo's shard
# grows.  A private 3-node cluster (loopback, the integration tests' fixture) is filled with
# inline objects to each size in turn; at each size a follower is killed, its replica of demo
# wiped, and the node started again, and the bench records how long the last snapshot copy
# took on the leader, how long the wiped replica took to fetch the copy and to catch up, and
# its peak RSS (VmHWM) against the shard's size.  Not a test: it prints a CSV.
#
# Usage: OBJFS_BUILDDIR=build bench/snapstream.sh [MB ...]   (default 8 32 128)
#   CSV=FILE   also write the CSV there
#   CHUNK=N    snapshot_chunk (default 1M)
#   ENTRIES=N  snapshot_entries (default 1024; larger shards: fewer copies while filling)
set -u
export OBJFS_BUILDDIR=${OBJFS_BUILDDIR:-$(cd "$(dirname "$0")/.." && pwd)/build}
export CMD_TIMEOUT=${CMD_TIMEOUT:-1800} # a fill of hundreds of MB
# shellcheck source=tests/integ/lib.sh
. "$(dirname "$0")/../tests/integ/lib.sh"
SIZES=${*:-8 32 128}
CHUNK=${CHUNK:-1M}
ENTRIES=${ENTRIES:-1024}
OBJ=15000 # inline objects (below inline_max): the shard holds their bytes
LOAD="$BUILD/bench/objload"

cluster_up 3
ctl dev down --dir "$T/cluster" >/dev/null || fail "dev down"
sed -i "s/^\[cluster\]$/[cluster]\nsnapshot_entries = $ENTRIES\nsnapshot_max_entries = $ENTRIES\nsnapshot_chunk = $CHUNK/" \
	"$OBJFS_CONF"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "dev up"

now() { date +%s.%N; }
start_node() {
	"$NODE" -c "$OBJFS_CONF" -i "$1" >>"$T/cluster/node$1.log" 2>&1 </dev/null &
	echo $! > "$T/cluster/node$1.pid"
	disown
	echo $! >> "$T/pids"
}
lag_of() { ctl status 2>/dev/null | awk -v n="$1" '$1 == "demo" && $2 == n { print $7 }'; }

out="shard_mb,shard_bytes,take_s,fetch_s,catchup_s,follower_hwm_mb,chunk_bytes,snapshot_entries"
echo "$out"
have=0
for mb in $SIZES; do
	n=$(( (mb * 1000000 - have) / OBJ ))
	if [ "$n" -gt 0 ]; then
		t "$LOAD" --bucket demo --size "$OBJ" --objects "$((have / OBJ + n))" --seconds 1 \
			--put-pct 100 --threads 2 >"$T/load.out" 2>&1 || fail "fill: $(tail -2 "$T/load.out")"
		have=$((have + n * OBJ))
	fi
	wait_caught_up demo
	# A copy of the shard at this size: enough entries for one more snapshot
	# (the objects put again, the same size: the shard does not change).
	k=$((ENTRIES + 100))
	t "$LOAD" --bucket demo --size "$OBJ" --objects "$k" --seconds 1 --put-pct 100 --threads 2 \
		>"$T/load.out" 2>&1 || fail "entries: $(tail -2 "$T/load.out")"
	[ $((k * OBJ)) -le "$have" ] || have=$((k * OBJ))
	wait_caught_up demo
	L=$(wait_leader demo) || fail "no leader"
	bytes=$(stat -c %s "$T/cluster/node$L/shards/demo.db")
	take=$(grep "snap.take: shard 'demo'" "$T/cluster/node$L.log" | tail -n 1 | sed 's/.* in \([0-9.]*\) s$/\1/')
	F=$(replicas_of demo | grep -vx "$L" | head -n 1)
	kill9_node "$F"
	rm -rf "$T/cluster/node$F/raft/demo" "$T/cluster/node$F/shards/demo".*
	: > "$T/cluster/node$F.log"
	t0=$(now)
	start_node "$F"
	for _ in $(seq 3000); do
		[ "$(lag_of "$F")" = 0 ] && grep -q "installed the snapshot" "$T/cluster/node$F.log" && break
		sleep 0.1
	done
	[ "$(lag_of "$F")" = 0 ] || fail "node $F did not catch up"
	t1=$(now)
	fetch=$(grep "fetched the copy" "$T/cluster/node$F.log" | tail -n 1 | sed 's/.* in \([0-9.]*\) s$/\1/')
	hwm=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$(node_pid "$F")/status")
	row="$mb,$bytes,$take,$fetch,$(echo "$t1 - $t0" | bc),$hwm,$CHUNK,$ENTRIES"
	echo "$row"
	out="$out
$row"
done
[ -z "${CSV:-}" ] || echo "$out" > "$CSV"
