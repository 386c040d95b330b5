#!/usr/bin/env bash
# metrics-cost.sh: what Prometheus metrics cost.  One private 6-node cluster and mount, run
# alternately with metrics on (every node's metrics_addr, the mount's -o metrics, and a
# scrape of every endpoint each second, as Prometheus would) and off (no metrics_addr, no
# -o metrics): ROUNDS rounds of each, interleaved so drift of the machine hits both alike.
# Each round: fsmix --meta at 8 threads (create/stat/unlink, 3 s or 1000 ops per thread) and
# streaming (dd 256 MiB with conv=fsync, remount, read it back).  Besides rates, each round
# reports the CPU the nodes and the mount used (utime + stime from /proc, the scraper's own
# curl processes not counted: Prometheus runs elsewhere) per metadata operation and per
# streamed MiB, which other load on the machine disturbs far less than rates.  Prints each
# round and the mean and spread (min..max) per figure.  Not a test: it prints figures.
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

MOUNT_PID=""
# mount MODE: the mount in the foreground as a child, so its pid is known.
mount_fs() {
	local o="conf=$OBJFS_CONF"
	[ "$1" = on ] && o="$o,metrics=127.0.0.1:$mport"
	"$objfs" demo "$d/mnt" -f -o "$o" > "$d/objfs.log" 2>&1 &
	MOUNT_PID=$!
	for _ in $(seq 200); do mountpoint -q "$d/mnt" && return 0; sleep 0.05; done
	cat "$d/objfs.log"
	exit 1
}
umount_fs() {
	fusermount3 -u "$d/mnt"
	wait "$MOUNT_PID" 2>/dev/null
}
# CPU seconds the nodes and the mount have used so far.
cpu() {
	local p t=0 f
	for p in $(cat "$d"/c/node*.pid) "$MOUNT_PID"; do
		f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
		t=$((t + ${f% *} + ${f#* }))
	done
	echo "$t"
}
HZ=$(getconf CLK_TCK)
# start MODE: nodes with that config, the mount, and with metrics a 1 s scraper.
start() {
	cp "$d/$1.conf" "$OBJFS_CONF"
	timeout 60 "$ctl" dev up --no-mount --dir "$d/c" > "$d/up.log" || { cat "$d/up.log"; exit 1; }
	mount_fs "$1"
	if [ "$1" = on ]; then
		( while :; do
			for a in $(sed -n 's/^metrics_addr = //p' "$OBJFS_CONF") "127.0.0.1:$mport"; do
				curl -s --max-time 1 "http://$a/metrics" > /dev/null
			done
			sleep 1
		done ) &
		SCRAPER=$!
	fi
}
stop() {
	[ -n "$SCRAPER" ] && { kill "$SCRAPER"; wait "$SCRAPER" 2>/dev/null; SCRAPER=""; }
	umount_fs
	timeout 30 "$ctl" dev down --dir "$d/c" >/dev/null
}
# round MODE: prints "MODE create/s stat/s unlink/s create_p95_ms write_MB/s read_MB/s
# cpu_ms_per_1000_meta_ops cpu_ms_per_MiB".
round() {
	local out w r c0 c1 c2 c3 cm
	start "$1"
	sleep 2 # leaders settle
	c0=$(cpu)
	out=$(timeout 120 "$fsmix" --dir "$d/mnt" --threads 8 --seconds 3 --ops 1000 \
		--meta create,stat,unlink --scenario "$1")
	c1=$(cpu)
	cm=$((c1 - c0))
	w=$( { /usr/bin/time -f %e dd if=/dev/urandom of="$d/mnt/big" bs=1M count=256 conv=fsync status=none; } 2>&1 )
	c2=$(( $(cpu) - c1 ))
	umount_fs
	mount_fs "$1"
	c1=$(cpu)
	r=$( { /usr/bin/time -f %e dd if="$d/mnt/big" of=/dev/null bs=1M status=none; } 2>&1 )
	c3=$(( $(cpu) - c1 ))
	rm -f "$d/mnt/big"
	stop
	echo "$out" | awk -v m="$1" -v w="$w" -v r="$r" -v cm="$cm" -v c2="$c2" -v c3="$c3" -v hz="$HZ" '
		/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
			ops[f["op"]] = f["ops_s"]; p95[f["op"]] = f["p95_ms"] }
		/^ *(create|stat|unlink) / { cnt += $2 }
		END { printf "%s %s %s %s %s %.1f %.1f %.1f %.2f\n", m, ops["create"], ops["stat"],
			ops["unlink"], p95["create"], 256 * 1.048576 / w, 256 * 1.048576 / r,
			(cnt > 0 ? cm * 1000 / hz / cnt * 1000 : 0), (c2 + c3) * 1000 / hz / 512 }'
}
echo "mode create/s stat/s unlink/s create_p95_ms write_MB/s read_MB/s cpu_ms/1000meta cpu_ms/MiB"
for _ in $(seq "$ROUNDS"); do
	round on
	round off
done | tee "$d/rounds"
awk '{ n[$1]++; for (i = 2; i <= 9; i++) { k = $1 SUBSEP i; s[k] += $i
		if (!(k in lo) || $i + 0 < lo[k]) lo[k] = $i + 0
		if (!(k in hi) || $i + 0 > hi[k]) hi[k] = $i + 0 } }
	END { split("create/s stat/s unlink/s create_p95_ms write_MB/s read_MB/s cpu_ms/1000meta cpu_ms/MiB", h, " ")
		for (i = 2; i <= 9; i++) {
			on = "on" SUBSEP i; off = "off" SUBSEP i
			printf "%-14s on %8.1f (%s..%s)   off %8.1f (%s..%s)   on/off %.3f\n", h[i - 1],
				s[on] / n["on"], lo[on], hi[on], s[off] / n["off"], lo[off], hi[off],
				(s[on] / n["on"]) / (s[off] / n["off"]) } }' "$d/rounds"
