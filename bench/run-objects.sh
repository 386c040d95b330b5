#!/usr/bin/env bash
# run-objects.sh: object-level benchmark on a private 6-node loopback
# cluster: codec GB/s, then objfsctl bench for 4 MiB and 4 KiB objects at
# concurrency 1 and 16 (MB/s, ops/s, p50, p99).  Not a test: it prints
# figures.  Usage: bench/run-objects.sh [BUILDDIR]
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$src/build}
ctl="$b/ctl/objfsctl"
[ -x "$ctl" ] || { echo "build first: scripts/build.sh $b" >&2; exit 2; }
d=$(mktemp -d /tmp/objfs-bench.XXXXXX)
trap 'timeout 30 "$ctl" dev down --dir "$d/cluster" --purge >/dev/null 2>&1; rm -rf "$d"' EXIT
export OBJFS_CONF="$d/cluster/objfs.conf"

echo "== erasure codec (one core)"
"$b/bench/bench_codec" --seconds 1

echo "== objects on a 6-node loopback cluster (4+2, $(nproc) cores shared by client and nodes)"
timeout 60 "$ctl" dev up --no-mount --nodes 6 --dir "$d/cluster" --port $((30000 + RANDOM % 5000)) >/dev/null
for spec in "4M 64 1" "4M 128 16" "4K 2000 1" "4K 8000 16"; do
	set -- $spec
	timeout 300 "$ctl" bench --bucket bench --size "$1" --count "$2" --concurrency "$3" --seconds 20
done
