#!/usr/bin/env bash
# failover.sh: how long writes stop when the Raft leader of bucket demo's metadata shard is
# killed.  On a private 6-node cluster a writer creates small files in a loop, first through
# an objfs mount, then with `objfsctl put`; each round kill -9s the shard's leader and
# measures the time from the kill to the end of the first create that started after it.
# Rounds restart the killed node and wait for a healthy shard first.  Prints each round and
# the median per writer.  Not a test: it prints figures (exit 1 if a round could not run).
#
# Usage: bench/failover.sh [BUILDDIR]
#   ROUNDS=N         kills per writer (default 3)
#   MODES="mount put" the writers, in this order
set -u
export LC_ALL=C # EPOCHREALTIME with a decimal point, for awk
src=$(cd "$(dirname "$0")/.." && pwd)
b=${1:-$src/build}
ctl="$b/ctl/objfsctl"
objfs="$b/fuse/objfs"
ROUNDS=${ROUNDS:-3}
MODES=${MODES:-mount put}
# A create slower than this is treated as failed (and the writer moves on), so a hung
# cluster cannot hang the benchmark.
OP_TIMEOUT=30
# Longest wait for the first create after a kill before the round is declared failed.
RECOVERY_LIMIT=60
# shellcheck source=bench/fslib.sh
. "$src/bench/fslib.sh"
private_ns "$@"

for x in "$ctl" "$b/nodes/objfs-node" "$objfs"; do
	[ -x "$x" ] || { echo "failover: $x missing; build first: scripts/build.sh $b" >&2; exit 2; }
done
if ! command -v fusermount3 >/dev/null || [ ! -c /dev/fuse ]; then
	echo "failover: needs fusermount3 and /dev/fuse" >&2
	exit 2
fi

d=$(mktemp -d /tmp/objfs-failover.XXXXXX)
export OBJFS_CONF="$d/cluster/objfs.conf"
mnt="$d/mnt"
mount_pid=
writer_pid=
failed=0

say() { printf 'failover: %s\n' "$*" >&2; }

stop_writer() {
	[ -n "$writer_pid" ] || return 0
	touch "$d/stop"
	for ((i = 0; i < (OP_TIMEOUT + 5) * 10; i++)); do
		alive "$writer_pid" || break
		sleep 0.1
	done
	alive "$writer_pid" && kill -9 "$writer_pid"
	wait "$writer_pid" 2>/dev/null
	writer_pid=
	rm -f "$d/stop"
}

# shellcheck disable=SC2317 # (called by the trap)
cleanup() {
	local rc=$? i
	trap - EXIT INT TERM HUP
	stop_writer
	if [ -n "$mount_pid" ]; then
		if is_mounted "$mnt" && ! timeout -k 2 60 fusermount3 -u "$mnt"; then
			timeout -k 2 20 fusermount3 -u -z "$mnt"
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

# The node id of demo's shard leader (empty while there is none).
leader_of() {
	timeout -k 2 20 "$ctl" status 2>/dev/null |
		awk '$1 == "demo" && $3 == "leader" { print $2; exit }'
}

# Waits until all nodes are up (status exits 0) and every shard has a leader and every
# replica is at lag 0, so a round never starts while the last victim is still catching up.
wait_healthy() {
	local i
	for ((i = 0; i < 120; i++)); do
		if timeout -k 2 20 "$ctl" status > "$d/status" 2>&1 &&
			awk '$1 == "SHARD" { t = 1; next }
			     t && NF >= 7 { sh[$1] = 1; if ($3 == "leader") { l[$1] = 1 }
					    if ($7 != "0") { bad = 1 } }
			     END { for (s in sh) { if (!(s in l)) { bad = 1 } }
				   exit bad || !("demo" in l) }' "$d/status"; then
			return 0
		fi
		sleep 0.5
	done
	say "cluster not healthy after 60 s:"
	cat "$d/status" >&2
	return 1
}

# writer MODE ROUND: creates files until $d/stop appears, one line per create:
# "START END ok|fail" in seconds since the epoch.  Builtins only between creates, so the
# timestamps cost no process.
writer() {
	local mode=$1 round=$2 i=0 t0 st
	while [ ! -e "$d/stop" ]; do
		i=$((i + 1))
		t0=$EPOCHREALTIME
		if [ "$mode" = mount ]; then
			# dd checks write, fsync and close; the fsync makes objfs commit the file
			timeout -k 2 "$OP_TIMEOUT" dd if="$d/payload" of="$mnt/fo/r$round-$i" bs=1k \
				conv=fsync status=none 2>> "$d/werr"
			st=$?
		else
			timeout -k 2 "$OP_TIMEOUT" "$ctl" put demo "fo/p$round-$i" "$d/payload" \
				> /dev/null 2>> "$d/werr"
			st=$?
		fi
		if [ "$st" -eq 0 ]; then
			echo "$t0 $EPOCHREALTIME ok"
		else
			echo "$t0 $EPOCHREALTIME fail"
		fi
	done
}

# count_ok LOG: successful creates so far.
count_ok() { grep -c ' ok$' "$1" 2>/dev/null || true; }

# round MODE N: one kill; prints the round's line and appends its milliseconds to $d/ms.MODE.
round() {
	local mode=$1 n=$2 log="$d/wlog.$1.$2" leader led pid tk i res newl first fails pause
	wait_healthy || return 1
	leader=$(awk '$1 == "demo" && $3 == "leader" { print $2; exit }' "$d/status")
	[ -n "$leader" ] || { say "no leader for demo"; return 1; }
	# every shard the victim leads: a _catalog leader too makes clients look buckets up anew
	led=$(awk -v n="$leader" '$2 == n && $3 == "leader" { print $1 }' "$d/status" | paste -sd, -)
	pid=$(cat "$d/cluster/node$leader.pid")
	grep -q objfs-node "/proc/$pid/cmdline" 2>/dev/null ||
		{ say "pid $pid of node $leader is not an objfs-node"; return 1; }
	: > "$d/werr"
	writer "$mode" "$n" > "$log" &
	writer_pid=$!
	for ((i = 0; i < 300; i++)); do
		[ "$(count_ok "$log")" -ge 10 ] && break
		sleep 0.1
	done
	if [ "$(count_ok "$log")" -lt 10 ]; then
		say "$mode round $n: the writer made $(count_ok "$log") files in 30 s before any kill"
		stop_writer
		return 1
	fi
	sleep 1
	tk=$EPOCHREALTIME
	kill -9 "$pid"
	# the first create that started after the kill and succeeded ends the outage
	for ((i = 0; i < RECOVERY_LIMIT * 10; i++)); do
		awk -v tk="$tk" '$1 > tk && $3 == "ok" { f = 1 } END { exit !f }' "$log" && break
		sleep 0.1
	done
	sleep 1
	stop_writer
	newl=$(leader_of)
	# first: the end of the first create that started after the kill and succeeded; pause:
	# the longest gap between two consecutive creates' ends up to that one (the stall the
	# writer saw); fails: creates that failed after the kill.
	res=$(awk -v tk="$tk" '
		done { next }
		$2 > tk && prev != "" && $2 - prev > pause { pause = $2 - prev }
		$2 > tk && $3 == "fail" { fails++ }
		$1 > tk && $3 == "ok" { first = ($2 - tk) * 1000; done = 1 }
		{ prev = $2 }
		END { printf "%s %d %.0f\n", first == "" ? "none" : sprintf("%.0f", first), fails,
			pause * 1000 }' "$log")
	read -r first fails pause <<< "$res"
	if [ "$first" = none ]; then
		printf '%-5s round %d: killed node %s (leader of %s); NO successful create within %d s' \
			"$mode" "$n" "$leader" "$led" "$RECOVERY_LIMIT"
		printf ' (%d failed)\n' "$fails"
		tail -n 3 "$d/werr"
		failed=1
	else
		printf '%-5s round %d: killed node %s (leader of %s): first create after it done in' \
			"$mode" "$n" "$leader" "$led"
		printf ' %5d ms\n      (longest stall %s ms, %d creates failed; new demo leader node %s)\n' \
			"$first" "$pause" "$fails" "${newl:-none}"
		echo "$first" >> "$d/ms.$mode"
		[ "$fails" -eq 0 ] || sort "$d/werr" | uniq -c | head -n 5
	fi
	# bring the killed node back for the next round
	timeout -k 5 60 "$ctl" dev up --no-mount --dir "$d/cluster" > "$d/up.log" 2>&1 ||
		{ say "restart of node $leader failed:"; cat "$d/up.log" >&2; return 1; }
}

# --- set-up -------------------------------------------------------------------------------
cluster_up "$ctl" "$d/cluster" || { say "cluster did not start"; exit 2; }
mkdir -p "$mnt"
"$objfs" demo "$mnt" -f -o "conf=$OBJFS_CONF" </dev/null > "$d/objfs.log" 2>&1 &
mount_pid=$!
for ((i = 0; i < 200; i++)); do
	is_mounted "$mnt" && break
	sleep 0.1
done
is_mounted "$mnt" || { cat "$d/objfs.log" >&2; say "mount failed"; exit 2; }
mkdir "$mnt/fo" || exit 2
head -c 1024 /dev/urandom > "$d/payload"

election=$(awk -F'[ =]+' '$1 ~ /^#?election_ms$/ { v = $2 } END { print v }' "$OBJFS_CONF")
echo "6-node cluster on ports $port..$((port + 5)), bucket demo, Raft election_ms $election"
echo "writer: 1 KiB files one after another (mount: dd conv=fsync; put: objfsctl put);"
echo "each round kill -9s the leader of demo's metadata shard, then restarts it"
echo
for mode in $MODES; do
	for ((n = 1; n <= ROUNDS; n++)); do
		round "$mode" "$n" || failed=1
	done
	if [ -s "$d/ms.$mode" ]; then
		sort -n "$d/ms.$mode" | awk -v m="$mode" '
			{ v[NR] = $1; all = all (NR > 1 ? " " : "") $1 }
			END { printf "%-5s median %d ms over %d rounds (%s ms)\n\n", m,
				NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, NR, all }'
	fi
done
if [ -n "$mount_pid" ] && ! alive "$mount_pid"; then
	wait "$mount_pid"
	say "the objfs mount daemon exited (status $?) during the run; its log:"
	tail -n 20 "$d/objfs.log" >&2
	mount_pid=
	failed=1
fi
exit "$failed"
