#!/usr/bin/env bash
# repair.sh: the repair rate (MB/s rebuilt) and the time from a node's
# death to full redundancy (MTTR) with `objfsctl repair`, on a private
# 6-node cluster on loopback.  Puts SIZE_MB of objects, kill -9s one node,
# deletes its fragments (a replaced disk; its metadata replicas are kept so
# the shards stay healthy), restarts it, runs `objfsctl repair` and then
# `objfsctl fsck` until clean.  Prints the figures; not a test (exit 1 if
# a step failed).
#
# MODE=auto measures automatic repair instead, on 7 nodes (so that k+m = 6
# distinct nodes remain): the node is killed with kill -9 and left down;
# the catalog leader rebuilds its fragments on others once it has been
# down repair_after seconds; MTTR is kill -9 to the first clean fsck, and
# the rate is the rebuild pass's own (its repair.pass log line).
#
# Usage: bench/repair.sh [BUILDDIR]
#   SIZE_MB=N    data put before the kill (default 768)
#   VICTIM=ID    the node killed (default 3)
#   MODE=auto    automatic repair (default: objfsctl repair after a restart)
#   REPAIR_AFTER=S, REPAIR_RATE=MB/s  with MODE=auto (default 5, 1000)
set -u
export LC_ALL=C
src=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$src/build}
ctl="$b/ctl/objfsctl"
SIZE_MB=${SIZE_MB:-768}
VICTIM=${VICTIM:-3}
OBJ_MB=64
d=$(mktemp -d "${TMPDIR:-/tmp}/objfs-repair.XXXXXX")
export OBJFS_CONF="$d/c/objfs.conf"
trap 'timeout 30 "$ctl" dev down --dir "$d/c" --purge >/dev/null 2>&1; rm -rf "$d"' EXIT

now() { date +%s.%N; }
die() { echo "repair: $*" >&2; exit 1; }

MODE=${MODE:-manual}
NODES=6
[ "$MODE" = auto ] && NODES=7
port=$((24000 + (RANDOM % 500) * 10))
timeout 60 "$ctl" dev up --no-mount --nodes $NODES --dir "$d/c" --port "$port" >/dev/null ||
	die "cluster did not start"
if [ "$MODE" = auto ]; then
	sed -i -e "s/^# *repair_after = .*/repair_after = ${REPAIR_AFTER:-5}/" \
		-e "s/^# *repair_rate = .*/repair_rate = ${REPAIR_RATE:-1000}/" "$OBJFS_CONF"
	timeout 60 "$ctl" dev down --dir "$d/c" >/dev/null || die "dev down"
	timeout 60 "$ctl" dev up --no-mount --dir "$d/c" >/dev/null || die "cluster did not restart"
fi
head -c $((OBJ_MB << 20)) /dev/urandom > "$d/obj"
for ((i = 0; i < SIZE_MB / OBJ_MB; i++)); do
	timeout 120 "$ctl" put demo "o$i" "$d/obj" >/dev/null || die "put o$i"
done
frags=$(find "$d/c/node$VICTIM/frags" -type f -name '*.[0-9]*' | wc -l)
bytes=$(du -sb "$d/c/node$VICTIM/frags" | cut -f1)

if [ "$MODE" = auto ]; then
	t0=$(now)
	kill -9 "$(cat "$d/c/node$VICTIM.pid")"
	until timeout 600 "$ctl" fsck demo > "$d/fsck" 2>&1; do
		awk -v t0="$t0" -v t="$(now)" 'BEGIN { exit !(t - t0 > 900) }' && die "no clean fsck in 900 s"
		sleep 1
	done
	t3=$(now)
	pass=$(grep -h 'repair.pass' "$d"/c/node*.log | grep -v ' 0 rebuilt' | tail -n 1)
	[ -n "$pass" ] || die "no rebuild pass logged"
	awk -v f="$frags" -v by="$bytes" -v t0="$t0" -v t3="$t3" -v size="$SIZE_MB" \
		-v after="${REPAIR_AFTER:-5}" -v p="$pass" 'BEGIN {
		match(p, /\([0-9]+ bytes\) in [0-9]+ ms/); s = substr(p, RSTART + 1, RLENGTH - 1);
		split(s, a, " "); rb = a[1]; ms = a[4];
		printf "data: %d MiB in 4+2 on 7 nodes; node lost %d fragments (%.1f MB); repair_after %d s\n", size, f, by / 1e6, after;
		printf "automatic repair wrote %.1f MB in %.2f s: %.1f MB/s rebuilt\n", rb / 1e6, ms / 1000, rb / 1e6 / (ms / 1000);
		printf "MTTR (kill -9 to full redundancy, fsck clean): %.2f s (repair_after %d s of it)\n", t3 - t0, after;
	}'
	exit 0
fi
t0=$(now)
kill -9 "$(cat "$d/c/node$VICTIM.pid")"
while kill -0 "$(cat "$d/c/node$VICTIM.pid")" 2>/dev/null; do sleep 0.05; done
rm -rf "$d/c/node$VICTIM/frags" "$d/c/node$VICTIM/scrub.state"
timeout 60 "$ctl" dev up --no-mount --dir "$d/c" >/dev/null || die "restart of node $VICTIM"
t1=$(now)
timeout 600 "$ctl" repair --json demo > "$d/repair.json" || die "repair: $(cat "$d/repair.json")"
t2=$(now)
timeout 600 "$ctl" fsck demo > "$d/fsck" || die "fsck after repair: $(cat "$d/fsck")"
t3=$(now)

awk -v f="$frags" -v by="$bytes" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v t3="$t3" \
	-v size="$SIZE_MB" -v j="$(cat "$d/repair.json")" 'BEGIN {
	match(j, /"bytes_rewritten":[0-9]+/); rb = substr(j, RSTART + 18, RLENGTH - 18);
	match(j, /"fragments_rewritten":[0-9]+/); rf = substr(j, RSTART + 22, RLENGTH - 22);
	printf "data: %d MiB in 4+2 on 6 nodes; node lost %d fragments (%.1f MB)\n", size, f, by / 1e6;
	printf "repair rewrote %d fragments, %.1f MB in %.2f s: %.1f MB/s rebuilt\n", rf, rb / 1e6, t2 - t1, rb / 1e6 / (t2 - t1);
	printf "death to restart %.2f s, repair %.2f s, fsck (full read) %.2f s\n", t1 - t0, t2 - t1, t3 - t2;
	printf "MTTR (death to full redundancy, fsck clean): %.2f s\n", t3 - t0;
}'
