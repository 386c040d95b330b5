#!/usr/bin/env bash
# quickstart.sh: from a fresh Debian 12 machine (as root) to a running
# local objfs cluster: installs packages, builds, starts 6 nodes on
# loopback with the embedded default config, and round-trips an object.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/scripts/deps.sh"
"$src/scripts/build.sh" "$src/build"
ctl="$src/build/nodes/objfsctl"
cd "$src"
"$ctl" dev up
"$ctl" status
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.back"' EXIT
head -c 64M /dev/urandom > "$tmp"
start=$(date +%s.%N)
"$ctl" put demo quickstart/random-64M "$tmp"
mid=$(date +%s.%N)
"$ctl" get demo quickstart/random-64M "$tmp.back"
end=$(date +%s.%N)
cmp "$tmp" "$tmp.back"
awk -v a="$start" -v b="$mid" -v c="$end" 'BEGIN {
	printf "round trip ok: 64 MiB put %.0f MB/s, get %.0f MB/s (identical bytes)\n",
	       67.108864 / (b - a), 67.108864 / (c - b) }'
echo "cluster is up: try '$ctl ls demo'; stop it with '$ctl dev down'"
