#!/usr/bin/env bash
# run-fs.sh: filesystem benchmark of an objfs mount beside a libfuse passthrough mount of a
# directory on the same disk, so every figure has a reference from the same machine.  Starts a
# private 6-node cluster, mounts bucket demo, builds fsmix and libfuse's passthrough_ll example
# into a temp dir, runs the seed's scenarios (docs: bench/README.md) on both mounts and prints
# one table: scenario | seed target | seed acceptable | objfs | passthrough | ratio.
# Every RESULT line goes to $OUT, and the same results as JSON to ${OUT%.txt}.json; if a baseline
# exists, lines that got worse by the seed's regression thresholds are printed as REGRESSION
# (objfsctl bench --compare does the check).  Not a test: it prints figures.
#
# Usage: bench/run-fs.sh [BUILDDIR] [--peer DIR [--peer-remount CMD] [--peer-name NAME]]
#        bench/run-fs.sh [BUILDDIR] --compare FILE [--baseline FILE]
#   --peer DIR      also run every scenario in DIR, a directory of any other mounted filesystem
#                   (MooseFS, NFS, ...), as a third column with its own ratio; the files go to a
#                   private subdirectory that is removed at the end
#   --peer-remount CMD  shell command that remounts the peer where a scenario remounts (so its
#                   reads come from the filesystem, not the page cache); without it the peer
#                   column of those reads says "cached"
#   --peer-name NAME    the column's heading (default: peer)
#   --compare FILE  run nothing: check saved results FILE (JSON or RESULT lines) against the
#                   baseline; exit 1 on a regression (seed thresholds, p95 changes under 1 ms
#                   are noise)
#   --baseline FILE the same as BASELINE=FILE
#   OUT=FILE        RESULT lines (default /tmp/objfs-bench-DATE.txt); details in FILE.log
#   BASELINE=FILE   compare with (default bench/baseline.txt, skipped if missing)
#   BUDGET=S        skip scenarios that would start after S seconds (default 840)
#   BENCH_SECONDS=S length of the fsmix mixes (default 20; shorter only for a smoke run)
# Exit status: 0 when every scenario ran without errors, 1 otherwise, 2 if it cannot start;
# with --compare: 0 no regression, 1 regressions (or nothing compared), 2 bad usage.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
b=$src/build
PEER="" PEER_REMOUNT="" PEER_NAME=peer
usage() { sed -n '11,29p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
COMPARE=""
args=("$@")
while [ $# -gt 0 ]; do
	case $1 in
	--peer) [ $# -ge 2 ] || usage; PEER=$2; shift 2 ;;
	--peer-remount) [ $# -ge 2 ] || usage; PEER_REMOUNT=$2; shift 2 ;;
	--peer-name) [ $# -ge 2 ] || usage; PEER_NAME=$2; shift 2 ;;
	--compare) [ $# -ge 2 ] || usage; COMPARE=$2; shift 2 ;;
	--baseline) [ $# -ge 2 ] || usage; BASELINE=$2; shift 2 ;;
	-h | --help) usage ;;
	-*) echo "run-fs: unknown option $1" >&2; usage ;;
	*) b=$1; shift ;;
	esac
done
set -- "${args[@]}"
if [ -n "$PEER" ] && [ ! -d "$PEER" ]; then
	echo "run-fs: --peer $PEER: not a directory" >&2
	exit 2
fi
[ -z "$PEER" ] || export OBJFS_BENCH_KEEP=$(cd "$PEER" && pwd -P)
ctl="$b/ctl/objfsctl"
objfs="$b/fuse/objfs"
BUDGET=${BUDGET:-840}
MIX_S=${BENCH_SECONDS:-20}
BASELINE=${BASELINE:-$src/bench/baseline.txt}
OUT=${OUT:-/tmp/objfs-bench-$(date +%Y%m%d-%H%M%S).txt}
LOGF="${OUT%.txt}.log"
OUT_JSON="${OUT%.txt}.json"
# The seed's RegressionDetector (p95 x1.2, throughput x0.8, errors x2) in objfsctl bench.
# Latencies below 1 ms, and changes of less than 1 ms, are timer and scheduler noise on a
# shared machine and are not flagged.
regression_check() { # regression_check CURRENT: prints REGRESSION lines; 1 if any
	"$ctl" bench --baseline "$BASELINE" --compare "$1" --min-ms 1
}
if [ -n "$COMPARE" ]; then
	[ -x "$ctl" ] || { echo "run-fs: $ctl missing; build first" >&2; exit 2; }
	regression_check "$COMPARE"
	exit $?
fi
PT_EXAMPLE=/usr/share/doc/libfuse3-dev/examples/passthrough_ll.c
# shellcheck source=bench/fslib.sh
. "$src/bench/fslib.sh"
private_ns "$@"

for x in "$ctl" "$b/nodes/objfs-node" "$objfs"; do
	[ -x "$x" ] || { echo "run-fs: $x missing; build first: scripts/build.sh $b" >&2; exit 2; }
done
for c in fio fusermount3 cc pkg-config timeout awk; do
	command -v "$c" >/dev/null || { echo "run-fs: needs $c (scripts/deps.sh)" >&2; exit 2; }
done
[ -c /dev/fuse ] || { echo "run-fs: no /dev/fuse" >&2; exit 2; }
if [ ! -f "$PT_EXAMPLE" ] && [ ! -f "$PT_EXAMPLE.gz" ]; then
	echo "run-fs: $PT_EXAMPLE missing (package libfuse3-dev)" >&2
	exit 2
fi

d=$(mktemp -d /tmp/objfs-fsbench.XXXXXX)
export OBJFS_CONF="$d/cluster/objfs.conf"
: > "$OUT" || exit 2
: > "$LOGF" || exit 2
failed=0

# --- mounts -------------------------------------------------------------------------------
# Each daemon runs in the foreground as our child, so its pid is known without searching and
# only it is ever signalled.
declare -A mpid=() mdir=([objfs]="$d/mnt-objfs" [pt]="$d/mnt-pt") R=() note=()
[ -z "$PEER" ] || mdir[peer]="$(cd "$PEER" && pwd)/objfs-bench.$$"
peer_cached=0
FS_LIST="objfs pt${PEER:+ peer}"

say() { printf 'run-fs: %s\n' "$*" >&2; printf '# %s\n' "$*" >> "$LOGF"; }

fs_mount() {
	local fs=$1 dir=${mdir[$1]} i
	if [ "$fs" = peer ]; then
		# mounted by its owner: only our private directory in it
		timeout -k 2 60 mkdir -p "$dir" && return 0
		say "cannot make $dir in the peer filesystem"
		return 1
	fi
	mkdir -p "$dir"
	if [ "$fs" = objfs ]; then
		"$objfs" demo "$dir" -f -o "conf=$OBJFS_CONF" </dev/null >>"$d/objfs.log" 2>&1 &
	else
		"$d/passthrough_ll" -f -o "source=$d/ptsrc" "$dir" </dev/null >>"$d/pt.log" 2>&1 &
	fi
	mpid[$fs]=$!
	for ((i = 0; i < 200; i++)); do
		is_mounted "$dir" && return 0
		alive "${mpid[$fs]}" || break
		sleep 0.1
	done
	say "cannot mount $fs at $dir; last lines of its log:"
	tail -n 20 "$d/$fs.log" >&2
	return 1
}

# Unmounts and waits for the daemon (objfs commits what it buffered before it exits).
fs_unmount() {
	local fs=$1 dir=${mdir[$1]} pid=${mpid[$1]:-} i st t0=$SECONDS
	[ "$fs" != peer ] || return 0
	[ -n "$pid" ] || return 0
	if is_mounted "$dir" && ! timeout -k 2 60 fusermount3 -u "$dir"; then
		say "fusermount3 -u $dir failed; detaching it lazily"
		timeout -k 2 20 fusermount3 -u -z "$dir" || say "cannot unmount $dir"
	fi
	for ((i = 0; i < 600; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		say "$fs daemon (pid $pid) still runs 60 s after the unmount; killing it"
		kill -9 "$pid"
	fi
	wait "$pid"
	st=$?
	[ "$st" -eq 0 ] || say "$fs daemon exited with status $st"
	# a healthy daemon exits within a second of the unmount; say so when it does not
	[ $((SECONDS - t0)) -lt 5 ] || say "$fs daemon took $((SECONDS - t0)) s to exit after the unmount"
	unset "mpid[$fs]"
}

fs_remount() {
	if [ "$1" = peer ]; then
		if [ -z "$PEER_REMOUNT" ]; then
			peer_cached=1
			return 0
		fi
		timeout -k 5 120 bash -c "$PEER_REMOUNT" >> "$LOGF" 2>&1 ||
			{ say "--peer-remount failed: $PEER_REMOUNT"; return 1; }
		for _ in $(seq 100); do [ -d "${mdir[peer]}" ] && return 0; sleep 0.1; done
		say "${mdir[peer]} missing after --peer-remount"
		return 1
	fi
	fs_unmount "$1" && fs_mount "$1"
}

# Before each measurement: a daemon that died during the previous one is reported (with its
# log) and mounted again, so one crash does not void every later figure.
fs_check() {
	local fs=$1 st
	if [ -n "${mpid[$fs]:-}" ] && ! alive "${mpid[$fs]}"; then
		wait "${mpid[$fs]}"
		st=$?
		say "$fs daemon died (status $st) before '$2'; last lines of its log:"
		tail -n 20 "$d/$fs.log" >&2
		failed=1
		unset "mpid[$fs]"
		timeout -k 2 20 fusermount3 -u -z "${mdir[$fs]}" 2>/dev/null
	fi
	if [ "$fs" = peer ]; then
		timeout -k 2 30 test -d "${mdir[peer]}" || { say "the peer's ${mdir[peer]} is gone"; return 1; }
	elif ! is_mounted "${mdir[$fs]}"; then
		fs_mount "$fs"
	fi
}

# shellcheck disable=SC2317 # (called by the trap)
cleanup() {
	local rc=$? fs n
	trap - EXIT INT TERM HUP
	for fs in objfs pt; do
		fs_unmount "$fs"
	done
	[ -z "$PEER" ] || timeout -k 5 300 rm -rf "${mdir[peer]}"
	if [ -f "$OBJFS_CONF" ]; then
		# dev down reports nodes that ignored SIGTERM: pass that on
		timeout -k 5 60 "$ctl" dev down --dir "$d/cluster" > "$d/down.log" 2>&1 ||
			{ say "objfsctl dev down failed:"; cat "$d/down.log" >&2; }
		grep -v "^objfs dev cluster down" "$d/down.log" >&2
		# shellcheck disable=SC2013
		for n in $(sed -n 's/.*: node \([0-9]*\) (pid .*ignored SIGTERM.*/\1/p' "$d/down.log"); do
			say "last lines of node $n's log:"
			tail -n 5 "$d/cluster/node$n.log" >&2
		done
		timeout -k 5 60 "$ctl" dev down --dir "$d/cluster" --purge >/dev/null 2>&1
	fi
	rm -rf --one-file-system "$d"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# --- results ------------------------------------------------------------------------------
# Files RESULT lines from $1 into $OUT and R["scenario op field"].
add_results() {
	local line kv scen op
	while read -r line; do
		[[ $line == "RESULT "* ]] || continue
		echo "$line" >> "$OUT"
		scen=
		op=
		for kv in $line; do
			case $kv in
			scenario=*) scen=${kv#*=} ;;
			op=*) op=${kv#*=} ;;
			esac
		done
		for kv in $line; do
			case $kv in
			*=*) R["$scen $op ${kv%%=*}"]=${kv#*=} ;;
			esac
		done
	done < "$1"
}

# Keeps a command's output in the details log under a heading.
keep_log() {
	{
		echo "=== $1"
		cat "$2"
	} >> "$LOGF"
}

# Marks a scenario's status for the table: anything but a clean run is shown beside it.
mark() {
	note["$1"]=$2
	failed=1
	say "$1: $2"
}

over_budget() {
	if [ "$SECONDS" -ge "$BUDGET" ]; then
		say "skipping $1: $SECONDS s spent of the $BUDGET s budget"
		return 0
	fi
	return 1
}

# run_fsmix FS NAME LIMIT ARGS...: one fsmix run on FS's mount, scenario FS.NAME.
run_fsmix() {
	local fs=$1 name=$2 lim=$3 st
	shift 3
	fs_check "$fs" "$name" || { mark "$fs.$name" "NOMOUNT"; return; }
	timeout -k 5 "$lim" "$d/fsmix" --dir "${mdir[$fs]}" --scenario "$fs.$name" "$@" \
		> "$d/out" 2>&1
	st=$?
	keep_log "$fs.$name: fsmix $*" "$d/out"
	add_results "$d/out"
	case $st in
	0) ;;
	1) mark "$fs.$name" "ERRORS" ;;
	3) mark "$fs.$name" "HANG"; grep HANG "$d/out" >&2 ;;
	124 | 137) mark "$fs.$name" "TIMEOUT(${lim}s)" ;;
	*) mark "$fs.$name" "EXIT$st"; tail -n 5 "$d/out" >&2 ;;
	esac
}

# fio_result FS NAME: turns fio's terse (v3) lines in $d/out into RESULT lines.  Fields: 5
# error; read 6 KiB, 7 KiB/s, 8 IOPS, 18-37 completion-latency percentiles "P%=usec"; write
# the same from 47, 48, 49 and 59-78.
fio_result() {
	awk -F';' -v scen="$1.$2" '
	function pct(base, want,   i, kv) {
		for (i = base; i < base + 20; i++) {
			split($i, kv, "%=")
			if (kv[1] + 0 == want) { return kv[2] / 1000 }
		}
		return 0
	}
	function emit(op, bw, iops, base) {
		printf "RESULT scenario=%s op=%s ops_s=%.1f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f", scen,
			op, iops, pct(base, 50), pct(base, 95), pct(base, 99)
		printf " mb_s=%.2f errors=%d\n", bw * 1024 / 1e6, $5 != 0
	}
	$1 == "3" {
		if ($6 > 0) { emit("read", $7, $8, 18) }
		if ($47 > 0) { emit("write", $48, $49, 59) }
	}' "$d/out"
}

# run_fio FS NAME JOB [SECTION]: one fio job file (or one section of it) on FS's mount.
run_fio() {
	local fs=$1 name=$2 job=$3 sec=${4:-} lim=${FIO_LIMIT:-180} st
	fs_check "$fs" "$name" || { mark "$fs.$name" "NOMOUNT"; return; }
	FIODIR=${mdir[$fs]} timeout -k 5 "$lim" fio --output-format=terse --terse-version=3 \
		${sec:+--section="$sec"} "$src/bench/fio/$job" > "$d/out" 2>&1
	st=$?
	keep_log "$fs.$name: fio ${sec:+--section=$sec }$job" "$d/out"
	fio_result "$fs" "$name" > "$d/res"
	add_results "$d/res"
	if [ "$st" -ne 0 ] || grep -q "errors=1" "$d/res" || [ ! -s "$d/res" ]; then
		mark "$fs.$name" "$([ "$st" -ge 124 ] && echo "TIMEOUT(${lim}s)" || echo FAILED)"
		grep -v '^3;' "$d/out" | tail -n 5 >&2
	fi
}

# run_dd FS NAME write|read: 1 GiB with dd, conv=fsync on write; figures from dd's summary.
run_dd() {
	local fs=$1 name=$2 op=$3 f=${mdir[$1]}/dd-1g.dat st
	fs_check "$fs" "$name" || { mark "$fs.$name" "NOMOUNT"; return; }
	if [ "$op" = write ]; then
		timeout -k 5 300 dd if="$d/random-1g" of="$f" bs=1M conv=fsync > "$d/out" 2>&1
	else
		timeout -k 5 300 dd if="$f" of=/dev/null bs=1M > "$d/out" 2>&1
	fi
	st=$?
	keep_log "$fs.$name: dd $op" "$d/out"
	awk -v scen="$fs.$name" -v op="$op" -v st="$st" '
	/ copied, / {
		for (i = 1; i <= NF; i++) { if ($i == "copied,") { secs = $(i + 1) } }
		bytes = $1
	}
	END {
		mb = secs > 0 ? bytes / 1e6 / secs : 0
		printf "RESULT scenario=%s op=%s ops_s=0.0 p50_ms=0.000 p95_ms=0.000", scen, op
		printf " p99_ms=0.000 mb_s=%.2f errors=%d\n", mb, st != 0 || bytes != 1073741824
	}' "$d/out" > "$d/res"
	add_results "$d/res"
	if [ "$st" -ne 0 ] || grep -q "errors=1" "$d/res"; then
		mark "$fs.$name" "$([ "$st" -ge 124 ] && echo "TIMEOUT(300s)" || echo FAILED)"
		tail -n 3 "$d/out" >&2
	fi
}

# Removes a benchmark's files from both mounts so the next one starts on an empty bucket.
tidy() {
	local fs
	for fs in $FS_LIST; do
		# shellcheck disable=SC2086
		{ [ "$fs" = peer ] || is_mounted "${mdir[$fs]}"; } &&
			timeout -k 5 120 rm -rf "${mdir[$fs]:?}"/$1
	done
}

# --- set-up -------------------------------------------------------------------------------
say "work dir $d; results to $OUT, details to $LOGF"
cc -O2 -Wall -Wextra -Werror -pthread "$src/bench/fsmix.c" -o "$d/fsmix" ||
	{ say "cannot build fsmix"; exit 2; }
# libfuse's example is compiled from the installed documentation (in place: it includes
# passthrough_helpers.h from its own folder); none of it is in objfs.
pt_c=$PT_EXAMPLE
if [ ! -f "$pt_c" ]; then
	for f in passthrough_ll.c passthrough_helpers.h; do
		gzip -dc "$(dirname "$PT_EXAMPLE")/$f.gz" > "$d/$f" 2>/dev/null ||
			cp "$(dirname "$PT_EXAMPLE")/$f" "$d/$f"
	done
	pt_c=$d/passthrough_ll.c
fi
# shellcheck disable=SC2046
cc -D_FILE_OFFSET_BITS=64 $(pkg-config --cflags fuse3) "$pt_c" \
	$(pkg-config --libs fuse3) -o "$d/passthrough_ll" > "$d/out" 2>&1 ||
	{ cat "$d/out" >&2; say "cannot build passthrough_ll"; exit 2; }

cluster_up "$ctl" "$d/cluster" || { say "cluster did not start"; exit 2; }
mkdir -p "$d/ptsrc"
fs_mount objfs || exit 2
fs_mount pt || exit 2
if [ -n "$PEER" ]; then
	fs_mount peer || exit 2
fi
# dd's source: random bytes, so no layer can win by spotting zeros or compressing
head -c 1G /dev/urandom > "$d/random-1g" || { say "cannot make $d/random-1g"; exit 2; }
{
	echo "# bench/run-fs.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -n): $(nproc) cores," \
		"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
		"commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >> "$OUT"
say "cluster on ports $port..$((port + 5)); objfs at ${mdir[objfs]}, passthrough at ${mdir[pt]}"

# --- scenarios ----------------------------------------------------------------------------
# Each runs on objfs, then on the passthrough, before the next starts, so drift in the
# machine's load hits both alike.
FS_LIST="objfs pt${PEER:+ peer}"

if ! over_budget "small objects"; then
	say "small objects: 1-16 KiB, put/get/delete 40/55/5, 8 threads, $MIX_S s"
	for fs in $FS_LIST; do
		run_fsmix "$fs" small 150 --threads 8 --seconds "$MIX_S" --mix put:40,get:55,delete:5 \
			--sizes 1K-16K --files 400
	done
fi

if ! over_budget "large objects"; then
	say "large objects: fio sequential write (fsync) then read after remount, 256 MiB"
	for fs in $FS_LIST; do
		run_fio "$fs" large large-seq.fio seqwrite
		fs_remount "$fs" || mark "$fs.large" "REMOUNT"
		run_fio "$fs" large large-seq.fio seqread
	done
	tidy large-seq.dat
fi

if ! over_budget "stress mix"; then
	say "stress mix: get/put/delete/list 70/25/3/2, normal-load sizes, 16 threads, $MIX_S s"
	for fs in $FS_LIST; do
		run_fsmix "$fs" stress 200 --threads 16 --seconds "$MIX_S" \
			--mix get:70,put:25,delete:3,list:2 --dist normal-load --files 200
	done
fi

for t in 1 8; do
	over_budget "metadata ops, $t threads" && continue
	say "metadata ops: create/stat/readdir/rename/unlink, $t thread(s), 3 s or 1000 ops each"
	for fs in $FS_LIST; do
		run_fsmix "$fs" "meta-t$t" 150 --threads "$t" --seconds 3 --ops 1000 \
			--meta create,stat,readdir,rename,unlink
	done
done

if ! over_budget "small random"; then
	say "small random: fio 4 KiB randread then randwrite in a 256 MiB file, 20 s each"
	for fs in $FS_LIST; do
		run_fio "$fs" random small-random.fio
	done
	tidy small-random.dat
fi

if ! over_budget "dd"; then
	say "dd: 1 GiB write with conv=fsync, then read after remount"
	for fs in $FS_LIST; do
		run_dd "$fs" dd write
		fs_remount "$fs" || mark "$fs.dd" "REMOUNT"
		run_dd "$fs" dd read
	done
	tidy dd-1g.dat
fi

if ! over_budget "large objects 512 MiB"; then
		say "large objects: fio sequential write (fsync) then read after remount, 512 MiB"
		for fs in $FS_LIST; do
			run_fio "$fs" large512 large-seq-512m.fio seqwrite
			fs_remount "$fs" || mark "$fs.large512" "REMOUNT"
			run_fio "$fs" large512 large-seq-512m.fio seqread
		done
		tidy large-seq-512m.dat
fi
if ! over_budget "fio small files"; then
		say "fio small files: 4 jobs x 250 files of 1-16 KiB, write then read after remount"
		for fs in $FS_LIST; do
			run_fio "$fs" smallfiles small-files.fio smallwrite
			fs_remount "$fs" || mark "$fs.smallfiles" "REMOUNT"
			run_fio "$fs" smallfiles small-files.fio smallread
		done
		tidy 'small-files.*'
fi
if ! over_budget "fio stress"; then
		say "fio stress: 8 jobs, random 70% reads, 4K/64K/1M requests, 20 s"
		for fs in $FS_LIST; do
			run_fio "$fs" stressrw stress-rw.fio
		done
		tidy 'stress-rw.*'
fi

# Nodes that died during the run void the objfs figures after their death: say so.
if ! timeout -k 5 30 "$ctl" status > "$d/out" 2>&1; then
	say "objfsctl status after the run reports a problem:"
	grep -v " up " "$d/out" | head -n 12 >&2
	failed=1
fi

# --- the table ----------------------------------------------------------------------------
# Rows: label | target | acceptable | scenario | op | figure | better.  Figures: a RESULT
# field, "sgb" (seconds per 10^9 bytes, from mb_s), "sum" and "summb" (ops_s or mb_s of every
# op of the scenario added), "errpct" (errors per op of the whole scenario, in %).
# Targets and acceptable bounds are the seed's (performance-analysis.md: "Performance
# Targets" and the three test scenarios); "-" where the seed sets none.
ROWS='small objects: put p95 ms|50|100|small|put|p95_ms|low
small objects: get p95 ms|30|75|small|get|p95_ms|low
small objects: delete p95 ms (metadata)|20|50|small|delete|p95_ms|low
small objects: ops/s, all ops|10000|8000|small|*|sum|high
small objects: errors % of ops|0.1|0.1|small|*|errpct|low
large 256 MiB: write+fsync s/GB|5|10|large|write|sgb|low
large 256 MiB: read after remount s/GB|3|6|large|read|sgb|low
large 512 MiB: write+fsync s/GB|5|10|large512|write|sgb|low
large 512 MiB: read after remount s/GB|3|6|large512|read|sgb|low
stress mix: get p99 ms|1000|-|stress|get|p99_ms|low
stress mix: put p99 ms|1000|-|stress|put|p99_ms|low
stress mix: delete p99 ms|1000|-|stress|delete|p99_ms|low
stress mix: list p95 ms|100|200|stress|list|p95_ms|low
stress mix: list p99 ms|1000|-|stress|list|p99_ms|low
stress mix: ops/s, all ops|15000|-|stress|*|sum|high
stress mix: errors % of ops|0.1|0.1|stress|*|errpct|low'
for t in 1 8; do
	for op in create stat rename unlink; do
		ROWS+=$'\n'"metadata ${t}T: $op p95 ms|20|50|meta-t$t|$op|p95_ms|low"
	done
	ROWS+=$'\n'"metadata ${t}T: readdir p95 ms (list)|100|200|meta-t$t|readdir|p95_ms|low"
	ROWS+=$'\n'"metadata ${t}T: create ops/s|-|-|meta-t$t|create|ops_s|high"
done
ROWS+='
small random: 4K randread IOPS|-|-|random|read|ops_s|high
small random: 4K randread p99 ms|-|-|random|read|p99_ms|low
small random: 4K randwrite IOPS|-|-|random|write|ops_s|high
small random: 4K randwrite p99 ms|-|-|random|write|p99_ms|low
fio small files: write MB/s|-|-|smallfiles|write|mb_s|high
fio small files: read after remount MB/s|-|-|smallfiles|read|mb_s|high
fio stress: read p99 ms|1000|-|stressrw|read|p99_ms|low
fio stress: write p99 ms|1000|-|stressrw|write|p99_ms|low
fio stress: MB/s read+write|-|-|stressrw|*|summb|high
dd 1 GiB: write conv=fsync s/GB|5|10|dd|write|sgb|low
dd 1 GiB: read after remount s/GB|3|6|dd|read|sgb|low'

# figure FS SCEN OP FIG: prints the figure, or nothing if the scenario did not produce it.
figure() {
	local fs=$1 scen=$2 op=$3 fig=$4 k v tot=0 errs=0 any=0 ks ko kf
	case $fig in
	sum | summb | errpct)
		for k in "${!R[@]}"; do
			read -r ks ko kf <<< "$k"
			[ "$ks" = "$fs.$scen" ] || continue
			: "$ko"
			case $kf in
			ops_s | mb_s)
				if [ "$kf" = "$([ "$fig" = summb ] && echo mb_s || echo ops_s)" ]; then
					tot=$(awk -v a="$tot" -v b="${R[$k]}" 'BEGIN { print a + b }')
				fi
				;;
			errors) errs=$((errs + R[$k])) ;;
			*) continue ;;
			esac
			any=1
		done
		[ "$any" -eq 1 ] || return 0
		if [ "$fig" = errpct ]; then
			awk -v e="$errs" -v o="$tot" -v s="$MIX_S" \
				'BEGIN { printf "%.3g", (o > 0 ? 100 * e / (o * s + e) : (e > 0 ? 100 : 0)) }'
		else
			awk -v t="$tot" 'BEGIN { printf "%.1f", t }'
		fi
		;;
	sgb)
		v=${R["$fs.$scen $op mb_s"]:-}
		[ -n "$v" ] || return 0
		awk -v m="$v" 'BEGIN { if (m > 0) { printf "%.2f", 1000 / m } else { print "inf" } }'
		;;
	*)
		v=${R["$fs.$scen $op $fig"]:-}
		[ -n "$v" ] && awk -v x="$v" 'BEGIN { printf (x >= 100 ? "%.0f" : "%.3g"), x }'
		;;
	esac
}

# verdict VALUE TARGET ACCEPTABLE BETTER: ok (meets the target), acc (within acceptable),
# MISS, or nothing when the seed sets no bound.
verdict() {
	awk -v v="$1" -v t="$2" -v a="$3" -v dir="$4" 'BEGIN {
		if (t == "-" || v == "") { exit }
		if (a == "-") { a = t }
		if (v == "inf") { print "MISS"; exit }
		if (dir == "low") { print (v + 0 <= t + 0 ? "ok" : (v + 0 <= a + 0 ? "acc" : "MISS")) }
		else { print (v + 0 >= t + 0 ? "ok" : (v + 0 >= a + 0 ? "acc" : "MISS")) }
	}'
}

sign() {
	if [ "$1" = - ]; then
		echo -
	elif [ "$2" = low ]; then
		echo "<$1"
	else
		echo ">$1"
	fi
}

# ratio A B: A / B, or "-" when either is missing
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a == "" || b == "" || a == "inf" || b == "inf" || b + 0 == 0) { print "-"; exit }
		printf "%.2f", a / b }'
}

echo
hdr1=$(printf '%-42s | %-8s | %-10s | %-22s | %-11s | %-8s' scenario "seed" "seed" "objfs" \
	"passthrough" "ratio")
hdr2=$(printf '%-42s | %-8s | %-10s | %-22s | %-11s | %-8s' "" target acceptable measured \
	measured "objfs/pt")
if [ -n "$PEER" ]; then
	hdr1+=$(printf ' | %-14s | %s' "$PEER_NAME" "ratio")
	hdr2+=$(printf ' | %-14s | %s' measured "objfs/$PEER_NAME")
fi
printf '%s\n%s\n%s\n' "$hdr1" "$hdr2" "$(printf '%.0s-' $(seq ${#hdr1}))"
while IFS='|' read -r label tgt acc scen op fig dir; do
	o=$(figure objfs "$scen" "$op" "$fig")
	p=$(figure pt "$scen" "$op" "$fig")
	[ -n "$o$p" ] || [ -n "${note[objfs.$scen]:-}${note[pt.$scen]:-}" ] || continue
	v=$(verdict "$o" "$tgt" "$acc" "$dir")
	ov="${o:-n/a}${v:+ [$v]}${note[objfs.$scen]:+ ${note[objfs.$scen]}}"
	pv="${p:-n/a}${note[pt.$scen]:+ ${note[pt.$scen]}}"
	line=$(printf '%-42s | %-8s | %-10s | %-22s | %-11s | %-8s' "$label" "$(sign "$tgt" "$dir")" \
		"$(sign "$acc" "$dir")" "$ov" "$pv" "$(ratio "$o" "$p")")
	if [ -n "$PEER" ]; then
		q=$(figure peer "$scen" "$op" "$fig")
		qv="${q:-n/a}${note[peer.$scen]:+ ${note[peer.$scen]}}"
		[ "$peer_cached" = 1 ] && [[ $label == *"after remount"* ]] && qv+=" cached"
		line+=$(printf ' | %-14s | %s' "$qv" "$(ratio "$o" "$q")")
	fi
	printf '%s\n' "$line"
done <<< "$ROWS"
echo
echo "[ok] meets the seed's target, [acc] within its acceptable bound, [MISS] neither."
echo "ratio = objfs / passthrough: above 1 is slower for ms and s/GB, below 1 for ops/s and MB/s."
echo "Machine: $(nproc) cores shared by the client, the 6 nodes and the passthrough daemon${PEER:+ (and $PEER_NAME)}."

# --- JSON results and the regression check -----------------------------------------------
# The RESULT lines as the "results" of a JSON document (objfsctl bench --output's schema).
awk -v date="$(date -u +%Y-%m-%dT%H:%M:%SZ)" '
	BEGIN { printf "{\n  \"tool\": \"bench/run-fs.sh\",\n  \"format\": 1,\n" \
		"  \"date\": \"%s\",\n  \"results\": [", date }
	$1 == "RESULT" {
		row = ""
		for (i = 2; i <= NF; i++) {
			split($i, kv, "=")
			if (kv[1] == "scenario" || kv[1] == "op") {
				gsub(/["\\]/, "\\\\&", kv[2])
				v = "\"" kv[2] "\""
			} else if (kv[2] ~ /^-?[0-9]+(\.[0-9]+)?$/) {
				v = kv[2] + 0
			} else {
				continue
			}
			row = row (row == "" ? "" : ", ") "\"" kv[1] "\": " v
		}
		printf "%s\n    {%s}", (n++ ? "," : ""), row
	}
	END { printf "\n  ]\n}\n" }
' "$OUT" > "$OUT_JSON"
echo
if [ -f "$BASELINE" ]; then
	regression_check "$OUT_JSON"
else
	echo "no baseline at $BASELINE: nothing compared (copy $OUT there to make one)"
fi
echo "RESULT lines: $OUT; JSON: $OUT_JSON; per-run output: $LOGF; total $SECONDS s"
exit "$failed"
