#!/usr/bin/env bash
# burst.sh: the seed's peak-load scenario scaled to this machine: an open-loop mix of gets and
# puts (70/30, 64 KiB objects) at a base rate, with bursts of 3x that rate for 5 s every 30 s
# (the seed: 30 s every 5 min, factor 3), on a private 6-node cluster.  Prints, per burst, p95
# and p99 latency in the 5 s before it, during it, and in the 5 s after it, the throughput
# achieved against the throughput offered, and the whole run's summary.  Latency counts from
# each operation's scheduled time, so falling behind shows.  Not a test: it prints figures.
#
# Usage: bench/burst.sh [BUILDDIR]
#   RATE=R       base operations per second (default 80: its 3x burst is near what this
#                2-core machine serves)
#   DURATION=S   seconds of load (default 100: bursts at 30, 60 and 90 s, each followed by
#                the 5 s after it)
#   THREADS=N    client threads (default 64, so a burst is never short of them)
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$src/build}
ctl="$b/ctl/objfsctl"
load="$b/bench/objload"
RATE=${RATE:-80}
DURATION=${DURATION:-100}
THREADS=${THREADS:-64}
# shellcheck source=bench/fslib.sh
. "$src/bench/fslib.sh"
for x in "$ctl" "$b/nodes/objfs-node" "$load"; do
	[ -x "$x" ] || { echo "burst: $x missing; build first: scripts/build.sh $b" >&2; exit 2; }
done
d=$(mktemp -d /tmp/objfs-burst.XXXXXX)
export OBJFS_CONF="$d/cluster/objfs.conf"
cleanup() {
	local rc=$?
	trap - EXIT INT TERM HUP
	[ -f "$OBJFS_CONF" ] && timeout -k 5 60 "$ctl" dev down --dir "$d/cluster" --purge >/dev/null 2>&1
	rm -rf --one-file-system "$d"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkdir -p "$d/cluster"
cluster_up "$ctl" "$d/cluster" || { echo "burst: cluster did not start" >&2; exit 2; }
echo "burst: base $RATE ops/s, bursts of 3x for 5 s every 30 s, $DURATION s, 64 KiB objects" >&2
timeout -k 5 $((DURATION + 120)) "$load" --scenario peak-load --seconds "$DURATION" \
	--rate "$RATE" --burst-factor 3 --burst-len 5 --burst-every 30 --threads "$THREADS" \
	--size 65536 --objects 200 --put-pct 30 > "$d/out" 2> "$d/err"
st=$?
grep -v '^PROGRESS' "$d/err" >&2
awk '
	function f(line, k,   n, i, kv, p) {
		n = split(line, p, " ")
		for (i = 2; i <= n; i++) { split(p[i], kv, "="); if (kv[1] == k) { return kv[2] } }
		return ""
	}
	$1 == "BURST" {
		if (!hdr++) {
			printf "%-5s %-5s %12s %12s %12s %12s %12s %14s %7s\n", "BURST", "AT_S",
				"BEFORE_P95", "DURING_P95", "AFTER_P95", "DURING_P99", "AFTER_P99",
				"OPS/S(OFFER)", "ERRORS"
		}
		printf "%-5s %-5s %10.1f ms %9.1f ms %9.1f ms %9.1f ms %9.1f ms %7.1f(%5.0f) %7s\n",
			f($0, "n"), f($0, "at_s"), f($0, "before_p95_ms"), f($0, "during_p95_ms"),
			f($0, "after_p95_ms"), f($0, "during_p99_ms"), f($0, "after_p99_ms"),
			f($0, "during_ops_s"), f($0, "offered_ops_s"), f($0, "errors")
	}
	$1 == "RESULT" { print; }
' "$d/out"
exit "$st"
