#!/usr/bin/env bash
# dr.sh: the seed's disaster-recovery scenario on one machine: a whole zone (the 2 nodes of
# zone z3 of a private 6-node, 3-zone cluster) is killed with kill -9 in the middle of a
# closed-loop get/put mix (70/30, 64 KiB objects, 16 threads).  Prints the throughput before
# the kill, the dip (the slowest second after it), the time until throughput is back at 90 %
# of before for 5 seconds running, and the degradation of the rest of the run against the
# seed's 50 % threshold; failed operations are counted.  Then the zone comes back (its nodes
# restarted) and `objfsctl repair` moves the fragments written while it was away to their
# home nodes: the seed's recovery time, here in seconds.  Not a test: it prints figures.
#
# Usage: bench/dr.sh [BUILDDIR]
#   DURATION=S  seconds of load (default 60)
#   KILL_AT=S   second of the kill (default 20; the load must have run that long first)
#   THREADS=N   client threads (default 16)
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$src/build}
ctl="$b/ctl/objfsctl"
load="$b/bench/objload"
DURATION=${DURATION:-60}
KILL_AT=${KILL_AT:-20}
THREADS=${THREADS:-16}
# shellcheck source=bench/fslib.sh
. "$src/bench/fslib.sh"
for x in "$ctl" "$b/nodes/objfs-node" "$load"; do
	[ -x "$x" ] || { echo "dr: $x missing; build first: scripts/build.sh $b" >&2; exit 2; }
done
command -v jq >/dev/null || { echo "dr: needs jq (scripts/deps.sh)" >&2; exit 2; }
d=$(mktemp -d /tmp/objfs-dr.XXXXXX)
export OBJFS_CONF="$d/cluster/objfs.conf"
load_pid=
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	[ -n "$load_pid" ] && alive "$load_pid" && kill -9 "$load_pid"
	[ -f "$OBJFS_CONF" ] && timeout -k 5 60 "$ctl" dev down --dir "$d/cluster" --purge >/dev/null 2>&1
	rm -rf --one-file-system "$d"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkdir -p "$d/cluster"
cluster_up "$ctl" "$d/cluster" || { echo "dr: cluster did not start" >&2; exit 2; }
victims=$(timeout 30 "$ctl" status --json | jq -r '.nodes[] | select(.zone == "z3") | .id')
[ -n "$victims" ] || { echo "dr: no node in zone z3" >&2; exit 2; }
echo "dr: closed loop, $THREADS threads, $DURATION s; zone z3 (nodes" $victims") killed at ${KILL_AT} s" >&2
timeout -k 5 $((DURATION + 180)) "$load" --scenario disaster-recovery --seconds "$DURATION" \
	--threads "$THREADS" --size 65536 --objects 200 --put-pct 30 > "$d/out" 2> "$d/err" &
load_pid=$!
# The fault comes only after the load has run KILL_AT seconds.
until grep -q "^PROGRESS s=$KILL_AT " "$d/out"; do
	alive "$load_pid" || { cat "$d/err" >&2; echo "dr: the load ended before the kill" >&2; exit 1; }
	sleep 0.1
done
# Which shards lose their leader with the zone (an election is part of the dip).
leaders=$(timeout 10 "$ctl" status --json 2>/dev/null |
	jq -r --arg v "$(echo $victims)" '($v | split(" ") | map(tonumber)) as $z |
		[.shards[] | select(.leader as $l | $z | index($l)) | .name] | join(" ")')
for id in $victims; do
	kill -9 "$(cat "$d/cluster/node$id.pid")" || { echo "dr: cannot kill node $id" >&2; exit 1; }
done
wait "$load_pid"
st=$?
load_pid=
grep -v '^PROGRESS' "$d/err" | head -5 >&2
echo "shard leaders in the zone at the kill: ${leaders:-none}"
awk -v k="$KILL_AT" -v dur="$DURATION" '
	function f(line, key,   n, i, kv, p) {
		n = split(line, p, " ")
		for (i = 2; i <= n; i++) { split(p[i], kv, "="); if (kv[1] == key) { return kv[2] } }
		return ""
	}
	$1 == "SEC" {
		s = f($0, "s"); ops[s] = f($0, "ops"); err[s] = f($0, "errors")
		p95[s] = f($0, "p95_ms"); p99[s] = f($0, "p99_ms")
	}
	$1 == "RESULT" { result = $0 }
	END {
		# before: the 10 s before the kill, leaving out the first 2 s (connections warming)
		for (s = (k > 12 ? k - 10 : 2); s < k; s++) { bsum += ops[s]; bn++; bp += p95[s] }
		before = bsum / bn
		dip = -1
		for (s = k; s < k + 10 && s < dur; s++) {
			if (dip < 0 || ops[s] < dip) { dip = ops[s]; dips = s }
		}
		back = -1
		for (s = k; s + 4 < dur; s++) {
			ok = 1
			for (j = s; j < s + 5; j++) { if (ops[j] < 0.9 * before) { ok = 0 } }
			if (ok) { back = s - k; break }
		}
		for (s = k; s < dur; s++) {
			asum += ops[s]; an++; e += err[s]; ap += p95[s]
			if (p99[s] + 0 > worst) { worst = p99[s] + 0; worsts = s }
		}
		after = asum / an
		# The steady state without the zone: from full speed (or 10 s) on.
		from = k + (back >= 0 ? back : 10)
		for (s = from; s < dur; s++) { ssum += ops[s]; sn++ }
		steady = sn ? ssum / sn : 0
		deg = before > 0 ? 1 - steady / before : 1
		printf "before the kill:     %7.1f ops/s, mean p95 %.1f ms\n", before, bp / bn
		printf "dip:                 %7.1f ops/s at %d s after the kill (%.0f %% of before)\n",
			dip, dips - k, 100 * dip / before
		if (back >= 0) {
			printf "back to full speed:  %d s after the kill (5 s running at >= 90 %% of before)\n", back
		} else {
			printf "back to full speed:  not within the run (90 %% of before for 5 s)\n"
		}
		printf "after the kill:      %7.1f ops/s overall, mean p95 %.1f ms, %d failed operations\n",
			after, ap / an, e
		printf "worst second after:  p99 %.1f ms at %d s after the kill\n", worst, worsts - k
		printf "steady without z3:   %7.1f ops/s: degradation %.0f %% (seed threshold 50 %%): %s\n",
			steady, 100 * deg, deg < 0.5 ? "PASS" : "FAIL"
		print result
	}
' "$d/out"
# Recovery: the zone returns; repair puts every handed-off fragment home.
timeout -k 5 120 "$ctl" dev up --no-mount --dir "$d/cluster" >/dev/null 2>&1 ||
	{ echo "dr: the zone's nodes did not restart" >&2; exit 1; }
for _ in $(seq 300); do
	timeout 10 "$ctl" status >/dev/null 2>&1 && break
	sleep 0.2
done
t0=$(date +%s.%N)
timeout -k 5 600 "$ctl" repair --json load > "$d/repair.json" ||
	{ cat "$d/repair.json" >&2; echo "dr: repair failed" >&2; st=1; }
t1=$(date +%s.%N)
jq -r --arg s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
	'"recovery (repair):   \(.fragments_rewritten) fragments of \(.blocks) blocks rewritten home in \($s) s, \(.blocks_failed) blocks failed"' \
	"$d/repair.json"
exit "$st"
