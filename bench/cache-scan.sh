#!/usr/bin/env bash
# cache-scan.sh [BUILD]: small hot files read while a large file streams past them, on one
# mount per replacement policy, in one run: cache_policy=lru (the old policy), cache_policy=arc,
# and, with OBJFS_BEFORE=path/to/objfs (a build of another revision, e.g. main), that binary
# with its defaults and the same cache size.  Per round: 64 files of 64 KiB (4 MiB) are read
# three times, then for DURATION seconds a reader reads random hot files (O_DIRECT, so every
# read reaches the mount) while `dd iflag=direct` scans a 256 MiB file over and over; then the
# scan stops and each hot file is read once more.  Prints the hot reads' latency (p50/p95/p99)
# and rate during the scan, the mount's memory-cache hits and misses in that window (the
# scan's reads included), and how many of the 64 hot blocks are still cached after it.
# Figures, not a test.
set -u
B=$(cd "${1:-build}" && pwd)
. "$(dirname "$0")/fslib.sh"
private_ns "$@"
CTL="$B/ctl/objfsctl"
DURATION=${DURATION:-15}
CACHE_MB=${CACHE_MB:-32}
W=$(mktemp -d /tmp/objfs-cachebench.XXXXXX)
PIDS=()
cleanup() {
	local m
	for m in "$W"/m-*; do
		is_mounted "$m" && { fusermount3 -u "$m" 2>/dev/null || umount -l "$m"; }
	done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	timeout -k 5 60 "$CTL" dev down --dir "$W/cluster" >/dev/null 2>&1
	rm -rf --one-file-system "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
metric() {
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
		awk -v n="$2{$3}" '$1 == n { printf "%d\n", $2; found = 1 } END { if (!found) print 0 }'
}

cluster_up "$CTL" "$W/cluster" || exit 1
export OBJFS_CONF="$W/cluster/objfs.conf"
KEY="$W/cluster/demo.key"
[ -f "$KEY" ] || KEY="$W/cluster/admin.key"

# mount BIN DIR OPTS: a foreground mount, waited for.
mount_with() {
	mkdir -p "$2"
	"$1" demo "$2" -f -o "conf=$OBJFS_CONF,key=$KEY${3:+,$3}" > "$2.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 200); do is_mounted "$2" && return 0; sleep 0.1; done
	echo "mount of $2 failed: $(cat "$2.log")" >&2
	exit 1
}
unmount() { fusermount3 -u "$1" || umount -l "$1"; sleep 0.5; }

mount_with "$B/fuse/objfs" "$W/m-writer" ""
mkdir -p "$W/m-writer/hot"
for i in $(seq 0 63); do head -c 65536 /dev/urandom > "$W/m-writer/hot/f$i"; done
head -c $((256 << 20)) /dev/urandom > "$W/m-writer/big"
unmount "$W/m-writer"

# reader DIR SECONDS OUT: random hot files, O_DIRECT, one latency per line in OUT.
reader() {
	python3 - "$1" "$2" "$3" <<'PY'
import mmap, os, random, sys, time
d, secs, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
buf = mmap.mmap(-1, 65536)
lat = []
end = time.monotonic() + secs
while time.monotonic() < end:
    fd = os.open(f"{d}/hot/f{random.randrange(64)}", os.O_RDONLY | os.O_DIRECT)
    t0 = time.monotonic()
    os.preadv(fd, [buf], 0)
    lat.append(time.monotonic() - t0)
    os.close(fd)
with open(out, "w") as f:
    f.write("\n".join(f"{x:.6f}" for x in lat))
PY
}
read_hot() {
	local i
	for i in $(seq 0 63); do dd if="$1/hot/f$i" of=/dev/null bs=64k iflag=direct status=none; done
}

round() {
	local name=$1 bin=$2 opts=$3 port m h0 m0 h1 m1 h2 m2 s
	port=$(free_port)
	m="$W/m-$name"
	mount_with "$bin" "$m" "metrics=127.0.0.1:$port,cache_mb=$CACHE_MB${opts:+,$opts}"
	read_hot "$m"; read_hot "$m"; read_hot "$m"
	( while :; do dd if="$m/big" of=/dev/null bs=128k iflag=direct status=none; done ) &
	s=$!
	PIDS+=($s)
	sleep 1
	h0=$(metric "$port" objfs_mount_cache_hits_total 'cache="memory"')
	m0=$(metric "$port" objfs_mount_cache_misses_total 'cache="memory"')
	reader "$m" "$DURATION" "$W/lat-$name"
	h1=$(metric "$port" objfs_mount_cache_hits_total 'cache="memory"')
	m1=$(metric "$port" objfs_mount_cache_misses_total 'cache="memory"')
	kill "$s"; wait "$s" 2>/dev/null
	sleep 0.5
	read_hot "$m"
	h2=$(metric "$port" objfs_mount_cache_hits_total 'cache="memory"')
	m2=$(metric "$port" objfs_mount_cache_misses_total 'cache="memory"')
	python3 - "$name" "$W/lat-$name" "$DURATION" $((h1 - h0)) $((m1 - m0)) $((m2 - m1)) <<'PY'
import sys
name, path, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
hits, misses, after_miss = (int(x) for x in sys.argv[4:7])
lat = sorted(float(x) for x in open(path).read().split())
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000
print(f"RESULT cache-scan {name}: hot reads {len(lat) / secs:.0f}/s p50 {q(.5):.2f} ms "
      f"p95 {q(.95):.2f} ms p99 {q(.99):.2f} ms; mount memory cache during the scan "
      f"{hits} hits {misses} misses ({100 * hits / max(1, hits + misses):.1f}% hits); "
      f"hot blocks cached after the scan {64 - min(64, after_miss)}/64")
PY
	unmount "$m"
}

echo "# $(nproc) cores, cache_mb=$CACHE_MB, $DURATION s per round, hot set 64 x 64 KiB, scan 256 MiB"
if [ -n "${OBJFS_BEFORE:-}" ]; then
	round before "$OBJFS_BEFORE" ""
fi
round lru "$B/fuse/objfs" "cache_min_mb=$CACHE_MB,cache_policy=lru"
round arc "$B/fuse/objfs" "cache_min_mb=$CACHE_MB,cache_policy=arc"
