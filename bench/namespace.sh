#!/usr/bin/env bash
# namespace.sh: where one bucket's namespace (one SQLite shard, one Raft group) hits a cliff.
# Fills bucket demo of a private 6-node cluster to SIZE entries -- tiny objects through the
# client library (bench/nsload, T threads: the fastest honest path, one MOP_PUT each), half of
# them in one huge directory h/, the rest over DIRS directories, plus MOUNT_FILES files per step
# created through an objfs mount -- and after every STEP entries records one CSV row:
#   entries, create rate (objects, mount files), lookup/get p50 p99 (client library), a page of
#   1000 keys of h/ (p50 p99), a whole ordinary directory's listing, readdir of h/ in shard pages
#   and through the mount (time, slowest page), stat through the mount (p50 p99), objfsctl ls -d
#   of the bucket root (time, client max RSS) and of h/ (time, RSS: it streams), shard size on
#   disk, node RSS (max over the replicas), mount RSS, namespace snapshot time, and since the
#   last row the shard's elections (summed over its replicas) and the turns of the nodes' Raft
#   loops longer than half the election timeout (objfs_raft_loop_stalls_total, summed).
# At CATCHUP_AT entries a follower replica is wiped and re-added (node out, wipe, node in) and the time
# until it is at lag 0 again is recorded (catch-up, a Raft snapshot install).
# A measurement, not a test: figures only.  Signals only processes whose pids it recorded.
# Usage: SIZE=200000 STEP=50000 OUT=ns.csv bench/namespace.sh [BUILD]
set -u
export LC_ALL=C
src=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$src/build}
SIZE=${SIZE:-200000}
STEP=${STEP:-50000}
THREADS=${THREADS:-16}
DIRS=${DIRS:-1000}
HUGE_PCT=${HUGE_PCT:-50}
MOUNT_FILES=${MOUNT_FILES:-2000}
SAMPLES=${SAMPLES:-200}
SNAP_MAX=${SNAP_MAX:-50000} # namespace snapshots are timed up to this many entries
CATCHUP_AT=${CATCHUP_AT:-200000} # entries at which the wiped-replica catch-up runs (> SIZE: at the end)
OUT=${OUT:-namespace.csv}
ctl="$b/ctl/objfsctl"
objfs="$b/fuse/objfs"
nsload="$b/bench/nsload"
. "$src/bench/fslib.sh"
private_ns "$@"

for x in "$ctl" "$b/nodes/objfs-node" "$objfs" "$nsload"; do
	[ -x "$x" ] || { echo "namespace: $x missing; build first" >&2; exit 2; }
done
d=$(mktemp -d /tmp/objfs-ns.XXXXXX)
export OBJFS_CONF="$d/cluster/objfs.conf"
mnt="$d/mnt"
mount_pid=

say() { printf 'namespace: %s\n' "$*" >&2; }
ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

cleanup() {
	local rc=$? i
	trap - EXIT INT TERM HUP
	if [ -n "$mount_pid" ]; then
		if is_mounted "$mnt" && ! timeout -k 2 60 fusermount3 -u "$mnt"; then
			timeout -k 2 20 fusermount3 -u -z "$mnt" || umount -l "$mnt"
		fi
		for ((i = 0; i < 600; i++)); do
			alive "$mount_pid" || break
			sleep 0.1
		done
		alive "$mount_pid" && kill -9 "$mount_pid"
		wait "$mount_pid" 2>/dev/null
	fi
	if [ -f "$OBJFS_CONF" ]; then
		timeout -k 5 60 "$ctl" dev down --dir "$d/cluster" --purge >/dev/null 2>&1 ||
			say "dev down failed"
	fi
	rm -rf --one-file-system "$d"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

replicas() { timeout -k 2 20 "$ctl" status 2>/dev/null | awk '$1 == "demo" && $2 ~ /^[0-9]+$/ { print $2 }'; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
# Sum over every node of the metric series named $1 (exact, labels included).
metric_sum() {
	local a sum=0 v
	for a in $(awk '$1 == "metrics_addr" { print $3 }' "$OBJFS_CONF"); do
		v=$(curl -s -m 5 "http://$a/metrics" | awk -v n="$1" '$1 == n { print $2 }')
		sum=$(awk -v a="$sum" -v b="${v:-0}" 'BEGIN { printf "%.0f", a + b }')
	done
	echo "$sum"
}

# Waits (at most $1 s) until node $2's replica of demo is a voter at lag 0.
wait_lag0() {
	local end=$((SECONDS + $1))
	while [ $SECONDS -lt "$end" ]; do
		timeout -k 2 20 "$ctl" status 2>/dev/null | awk -v r="$2" '$1 == "demo" && $2 == r &&
			($3 == "follower" || $3 == "leader") && $7 == 0 { ok = 1 } END { exit !ok }' && return 0
		sleep 0.2
	done
	return 1
}

# catchup: a follower replica of demo is killed, taken out (`node out`: a stand-in replica is
# added and caught up from nothing, then the dead one removed), its data dir emptied, started
# as a new incarnation and added back (`node in`), timed to lag 0.  One CSV comment line.
catchup() {
	local lead R pid t0 out_ms
	lead=$(timeout -k 2 20 "$ctl" status 2>/dev/null | awk '$1 == "demo" && $3 == "leader" { print $2 }')
	R=$(replicas | grep -vx "$lead" | head -n 1)
	pid=$(cat "$d/cluster/node$R.pid")
	kill -9 "$pid"
	while alive "$pid"; do sleep 0.05; done
	t0=$EPOCHREALTIME
	timeout -k 2 1800 "$ctl" node out "$R" >"$d/out.log" 2>&1 || { say "node out $R: $(cat "$d/out.log")"; return 1; }
	out_ms=$(ms_since "$t0")
	find "$d/cluster/node$R" -mindepth 1 -delete
	timeout -k 2 60 "$ctl" dev up --no-mount --dir "$d/cluster" >"$d/up2.log" 2>&1 ||
		{ say "restart: $(cat "$d/up2.log")"; return 1; }
	t0=$EPOCHREALTIME
	timeout -k 2 1800 "$ctl" node in "$R" >"$d/in.log" 2>&1 || { say "node in $R: $(cat "$d/in.log")"; return 1; }
	if wait_lag0 1800 "$R"; then
		echo "# at $filled entries: node out $R (stand-in caught up) $out_ms ms; wiped node $R back at lag 0 $(ms_since "$t0") ms" >> "$OUT"
	else
		echo "# at $filled entries: node out $R $out_ms ms; wiped node $R not at lag 0 in 1800 s" >> "$OUT"
	fi
	tail -n 1 "$OUT" >&2
}

cluster_up "$ctl" "$d/cluster" || exit 1
export OBJFS_KEY="$d/cluster/admin.key"
mkdir -p "$mnt"
"$objfs" demo "$mnt" -f -o "conf=$OBJFS_CONF,key=$d/cluster/admin.key" </dev/null \
	>"$d/objfs.log" 2>&1 &
mount_pid=$!
for ((i = 0; i < 200; i++)); do is_mounted "$mnt" && break; sleep 0.1; done
is_mounted "$mnt" || { say "mount failed: $(cat "$d/objfs.log")"; exit 1; }
mkdir -p "$mnt/m" || exit 1

cols="entries,put_rate,mount_create_rate,lookup_p50_ms,lookup_p99_ms,get_p50_ms,get_p99_ms"
cols+=",list1000_p50_ms,list1000_p99_ms,dir_list_n,dir_list_ms,readdir_n,readdir_ms"
cols+=",readdir_page_max_ms,mount_readdir_n,mount_readdir_ms,mount_stat_p50_ms,mount_stat_p99_ms"
cols+=",ls_d_root_ms,ls_d_root_rss_kb,ls_huge_n,ls_huge_ms,ls_huge_rss_kb,shard_bytes"
cols+=",node_rss_kb,mount_rss_kb,snapshot_ms,elections,loop_stalls"
echo "$cols" > "$OUT"
filled=0
mfiles=0
elections0=$(metric_sum 'objfs_raft_elections_total{shard="demo"}')
stalls0=$(metric_sum objfs_raft_loop_stalls_total)
snap_ms=
while [ "$filled" -lt "$SIZE" ]; do
	next=$((filled + STEP > SIZE ? SIZE : filled + STEP))
	fl=$("$nsload" fill -c "$OBJFS_CONF" -b demo --from "$filled" --to "$next" -t "$THREADS" \
		--dirs "$DIRS" --huge-pct "$HUGE_PCT") || { say "fill failed: $fl"; exit 1; }
	put_rate=$(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"$fl")
	filled=$next
	# Files through the mount: create + close each (a builtin redirection, no process).
	t0=$EPOCHREALTIME
	for ((j = 0; j < MOUNT_FILES; j++)); do
		: > "$mnt/m/f$mfiles" || { say "create through the mount failed"; exit 1; }
		mfiles=$((mfiles + 1))
	done
	mrate=$(awk -v a="$t0" -v b="$EPOCHREALTIME" -v n="$MOUNT_FILES" 'BEGIN { printf "%.1f", n / (b - a) }')
	probe=$("$nsload" probe -c "$OBJFS_CONF" -b demo --to "$filled" --samples "$SAMPLES" \
		--dirs "$DIRS" --huge-pct "$HUGE_PCT") || { say "probe failed"; exit 1; }
	pv() { sed -n "s/.*\\b$1=\\([0-9.]*\\).*/\\1/p" <<<"$probe"; }
	# Through the mount: the whole of h/ (getdents, no stat), then stat of random names of
	# h/ after the entry cache (1 s) expired.
	sleep 1.2
	mr=$(python3 - "$mnt/h" "$filled" "$HUGE_PCT" "$SAMPLES" <<'EOF'
import os, sys, time, random
d, n, hp, s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
t = time.monotonic(); c = 0
with os.scandir(d) as it:
    for _ in it: c += 1
rd = (time.monotonic() - t) * 1e3
time.sleep(1.2)
rnd = random.Random(n); lat = []
while len(lat) < s:
    i = rnd.randrange(n)
    if i % 100 >= hp: continue
    t = time.monotonic(); os.stat("%s/f%010d" % (d, i)); lat.append((time.monotonic() - t) * 1e3)
lat.sort()
print("%d %.1f %.3f %.3f" % (c, rd, lat[len(lat) // 2], lat[int(0.99 * (len(lat) - 1))]))
EOF
	) || { say "mount probe failed"; exit 1; }
	read -r m_n m_ms m_p50 m_p99 <<<"$mr"
	t0=$EPOCHREALTIME
	/usr/bin/time -o "$d/rss" -f %M "$ctl" ls -d demo >/dev/null || { say "ls -d failed"; exit 1; }
	lsd_ms=$(ms_since "$t0")
	lsd_rss=$(tail -n 1 "$d/rss")
	t0=$EPOCHREALTIME
	lsh_n=$(/usr/bin/time -o "$d/rss" -f %M "$ctl" ls demo h/ | wc -l)
	lsh_ms=$(ms_since "$t0")
	lsh_rss=$(tail -n 1 "$d/rss")
	shard=0
	nrss=0
	for r in $(replicas); do
		s=$(du -sb "$d/cluster/node$r/shards" 2>/dev/null | awk '{ print $1 }')
		[ "${s:-0}" -gt "$shard" ] && shard=$s
		k=$(rss_kb "$(cat "$d/cluster/node$r.pid")")
		[ "${k:-0}" -gt "$nrss" ] && nrss=$k
	done
	t0=$EPOCHREALTIME
	if [ "$snap_ms" = "fail" ] || [ "$filled" -gt "$SNAP_MAX" ]; then
		snap_ms=${snap_ms:+skip}
		: # one record copies every row: past SNAP_MAX (or a first failure) not tried
	elif timeout -k 2 120 "$ctl" snapshot create demo "s$filled" >/dev/null 2>"$d/snap.err"; then
		snap_ms=$(ms_since "$t0")
		timeout -k 2 300 "$ctl" snapshot rm demo "s$filled" >/dev/null 2>&1
	else
		snap_ms="fail"
		say "snapshot: $(cat "$d/snap.err")"
	fi
	row="$filled,$put_rate,$mrate,$(pv lookup_p50_ms),$(pv lookup_p99_ms),$(pv get_p50_ms)"
	row+=",$(pv get_p99_ms),$(pv list1000_p50_ms),$(pv list1000_p99_ms),$(pv dir_list_n)"
	row+=",$(pv dir_list_ms),$(pv readdir_n),$(pv readdir_ms),$(pv readdir_page_max_ms)"
	row+=",$m_n,$m_ms,$m_p50,$m_p99,$lsd_ms,$lsd_rss,$lsh_n,$lsh_ms,$lsh_rss"
	elections1=$(metric_sum 'objfs_raft_elections_total{shard="demo"}')
	stalls1=$(metric_sum objfs_raft_loop_stalls_total)
	row+=",$shard,$nrss,$(rss_kb "$mount_pid"),$snap_ms,$((elections1 - elections0))"
	row+=",$((stalls1 - stalls0))"
	elections0=$elections1
	stalls0=$stalls1
	echo "$row" >> "$OUT"
	say "$row"
	if [ "$filled" -eq "$CATCHUP_AT" ] || { [ "$filled" -ge "$SIZE" ] && [ "$CATCHUP_AT" -gt "$SIZE" ]; }; then
		catchup || exit 1
	fi
done

