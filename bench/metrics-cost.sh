#!/usr/bin/env bash
# metrics-cost.sh: what Prometheus metrics cost.  One private 6-node cluster and mount, run
# alternately with metrics on (every node's metrics_addr, the mount's -o metrics, and a
# scrape of every endpoint each second, as Prometheus would) and off (no metrics_addr, no
# -o metrics): ROUNDS rounds of each, interleaved so drift of the machine hits both alike.
# Each round: fsmix --meta at 8 threads (create/stat/unlink, 3 s or 1000 ops per thread) and
# streaming (dd 256 MiB with conv=fsync, remount, read it back).  Prints each round and the
# mean and spread (min..max) per figure.  Not a test: it prints figures.
# Usage: bench/metrics-cost.sh [BUILDDIR]   (ROUNDS=N, default 3)
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$src/build}
ROUNDS=${ROUNDS:-3}
ctl="$b/ctl/objfsctl" objfs="$b/fuse/objfs" fsmix="$b/bench/fsmix"
for x in "$ctl" "$objfs" "$fsmix"; do
	[ -x "$x" ] || { echo "metrics-cost: $x missing; build first" >&2; exit 2; }
done
d=$(mktemp -d /tmp/objfs-mxcost.XXXXXX)
export OBJFS_CONF="$d/c/objfs.conf"
SCRAPER=""
cleanup() {
	[ -n "$SCRAPER" ] && kill "$SCRAPER" 2>/dev/null
	mountpoint -q "$d/mnt" && { fusermount3 -u "$d/mnt" 2>/dev/null || umount -l "$d/mnt"; }
	timeout 30 "$ctl" dev down --dir "$d/c" >/dev/null 2>&1
	rm -rf "$d"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
port=$((20000 + (RANDOM % 1000) * 10))
timeout 60 "$ctl" dev up --no-mount --dir "$d/c" --port "$port" > "$d/up.log" || { cat "$d/up.log"; exit 1; }
cp "$OBJFS_CONF" "$d/on.conf"
grep -v '^metrics_addr' "$d/on.conf" > "$d/off.conf"
timeout 30 "$ctl" dev down --dir "$d/c" >/dev/null
mport=$((port + 2100))
mkdir -p "$d/mnt"

# start MODE: nodes with that config, the mount, and with metrics a 1 s scraper.
start() {
	cp "$d/$1.conf" "$OBJFS_CONF"
	timeout 60 "$ctl" dev up --no-mount --dir "$d/c" > "$d/up.log" || { cat "$d/up.log"; exit 1; }
	if [ "$1" = on ]; then
		"$objfs" demo "$d/mnt" -o "conf=$OBJFS_CONF,metrics=127.0.0.1:$mport" || exit 1
		( while :; do
			for a in $(sed -n 's/^metrics_addr = //p' "$OBJFS_CONF") "127.0.0.1:$mport"; do
				curl -s --max-time 1 "http://$a/metrics" > /dev/null
			done
			sleep 1
		done ) &
		SCRAPER=$!
	else
		"$objfs" demo "$d/mnt" -o "conf=$OBJFS_CONF" || exit 1
	fi
}
stop() {
	[ -n "$SCRAPER" ] && { kill "$SCRAPER"; wait "$SCRAPER" 2>/dev/null; SCRAPER=""; }
	fusermount3 -u "$d/mnt"
	for _ in $(seq 100); do mountpoint -q "$d/mnt" || break; sleep 0.1; done
	timeout 30 "$ctl" dev down --dir "$d/c" >/dev/null
}
# round MODE: prints "MODE create_ops stat_ops unlink_ops create_p95 write_MBs read_MBs".
round() {
	local out w r
	start "$1"
	sleep 2 # leaders settle
	out=$(timeout 120 "$fsmix" --dir "$d/mnt" --threads 8 --seconds 3 --ops 1000 \
		--meta create,stat,unlink --scenario "$1")
	w=$( { /usr/bin/time -f %e dd if=/dev/urandom of="$d/mnt/big" bs=1M count=256 conv=fsync status=none; } 2>&1 )
	fusermount3 -u "$d/mnt"
	for _ in $(seq 100); do mountpoint -q "$d/mnt" || break; sleep 0.1; done
	if [ "$1" = on ]; then
		"$objfs" demo "$d/mnt" -o "conf=$OBJFS_CONF,metrics=127.0.0.1:$mport" || exit 1
	else
		"$objfs" demo "$d/mnt" -o "conf=$OBJFS_CONF" || exit 1
	fi
	r=$( { /usr/bin/time -f %e dd if="$d/mnt/big" of=/dev/null bs=1M status=none; } 2>&1 )
	rm -f "$d/mnt/big"
	stop
	echo "$out" | awk -v m="$1" -v w="$w" -v r="$r" '
		/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			ops[f["op"]] = f["ops_s"]; p95[f["op"]] = f["p95_ms"] }
		END { printf "%s %s %s %s %s %.1f %.1f\n", m, ops["create"], ops["stat"], ops["unlink"],
			p95["create"], 256 * 1.048576 / w, 256 * 1.048576 / r }'
}
echo "mode create/s stat/s unlink/s create_p95_ms write_MB/s read_MB/s"
for i in $(seq "$ROUNDS"); do
	round on
	round off
done | tee "$d/rounds"
awk '{ n[$1]++; for (i = 2; i <= 7; i++) { k = $1 SUBSEP i; s[k] += $i
		if (!(k in lo) || $i + 0 < lo[k]) lo[k] = $i + 0
		if (!(k in hi) || $i + 0 > hi[k]) hi[k] = $i + 0 } }
	END { split("create/s stat/s unlink/s create_p95_ms write_MB/s read_MB/s", h, " ")
		for (i = 2; i <= 7; i++) {
			on = "on" SUBSEP i; off = "off" SUBSEP i
			printf "%-14s on %8.1f (%s..%s)   off %8.1f (%s..%s)   on/off %.3f\n", h[i - 1],
				s[on] / n["on"], lo[on], hi[on], s[off] / n["off"], lo[off], hi[off],
				(s[on] / n["on"]) / (s[off] / n["off"]) } }' "$d/rounds"
