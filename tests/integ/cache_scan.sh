#!/usr/bin/env bash
# cache_scan.sh: scan resistance of the mount's block caches.  A mount with
# a 16 MiB memory cache (4 blocks) reads 16 small files (256 KiB, one block each)
# twice, then streams a 64 MiB file past them, then reads the small files
# again: with cache_policy=arc every one of those reads is a memory hit
# (objfs_mount_cache_misses_total{cache="memory"} does not move, and the
# scan's blocks are counted as evictions), while with cache_policy=lru,
# the old policy, the scan evicted all 16 and they miss.  Reads use
# O_DIRECT so the kernel's page cache does not answer them.
. "$(dirname "$0")/mountlib.sh"

( sleep 100; kill -TERM $$ ) >/dev/null 2>&1 &
WATCHDOG=$!
echo "$WATCHDOG" >> "$T/pids"
disown "$WATCHDOG"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# metric PORT NAME LABELS: the sample's value, as an integer.
metric() {
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
		awk -v n="$2{$3}" '$1 == n { printf "%d\n", $2; found = 1 } END { if (!found) print "none" }'
}
command -v curl >/dev/null || { log "SKIP: curl missing (scripts/deps.sh)"; exit 77; }

cluster_up 6
mount_bucket demo "$T/w"
mkdir "$T/w/hot" || fail "mkdir"
for i in $(seq 16); do
	t head -c 262144 /dev/urandom > "$T/w/hot/f$i" || fail "write hot f$i"
done
t head -c $((64 << 20)) /dev/urandom > "$T/w/big" || fail "write big"
unmount_bucket "$T/w" || fail "unmount of the writer"

read_hot() {
	local i
	for i in $(seq 16); do
		t dd if="$1/hot/f$i" of=/dev/null bs=256k iflag=direct status=none || fail "read $1/hot/f$i"
	done
}

for policy in arc lru; do
	port=$(free_port)
	mount_bucket demo "$T/m-$policy" "metrics=127.0.0.1:$port,cache_mb=16,cache_min_mb=16,cache_policy=$policy"
	read_hot "$T/m-$policy"
	read_hot "$T/m-$policy"
	m0=$(metric "$port" objfs_mount_cache_misses_total 'cache="memory"')
	[ "$m0" = 16 ] || fail "$policy: $m0 misses for 16 small files read twice, not 16"
	t dd if="$T/m-$policy/big" of=/dev/null bs=128k iflag=direct status=none || fail "$policy: scan"
	ev=$(metric "$port" objfs_mount_cache_evictions_total 'cache="memory"')
	[ "$ev" != none ] && [ "$ev" -ge 8 ] || fail "$policy: a 64 MiB scan through 16 MiB evicted $ev blocks"
	m1=$(metric "$port" objfs_mount_cache_misses_total 'cache="memory"')
	h1=$(metric "$port" objfs_mount_cache_hits_total 'cache="memory"')
	read_hot "$T/m-$policy"
	m2=$(metric "$port" objfs_mount_cache_misses_total 'cache="memory"')
	h2=$(metric "$port" objfs_mount_cache_hits_total 'cache="memory"')
	log "$policy: small-file reads after the scan: $((h2 - h1)) hits, $((m2 - m1)) misses"
	if [ "$policy" = arc ]; then
		[ $((m2 - m1)) -eq 0 ] || fail "arc: the scan evicted $((m2 - m1)) of the 16 hot blocks"
		[ $((h2 - h1)) -ge 16 ] || fail "arc: $((h2 - h1)) hits for 16 hot reads"
		fb=$(metric "$port" objfs_mount_cache_frequent_bytes 'cache="memory"')
		[ "$fb" -ge $((16 * 262144)) ] || fail "arc: $fb bytes in T2, not the 16 hot blocks"
	else
		[ $((m2 - m1)) -eq 16 ] || fail "lru: $((m2 - m1)) misses after the scan, not 16 (test proves nothing)"
	fi
	unmount_bucket "$T/m-$policy" || fail "unmount $policy"
done
log PASS
