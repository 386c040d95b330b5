#!/usr/bin/env bash
# fuzz.sh [--build-dir DIR] [--only NAME[,NAME...]] [SECONDS]: builds the
# libFuzzer harnesses of tests/fuzz with clang (ASan+UBSan+fuzzer, in
# DIR, default ./build-fuzz) and runs each for SECONDS (default 60),
# starting from its committed seeds and regression inputs.  New inputs go
# to DIR/corpus/<harness>/, crashes to DIR/crashes/<harness>/ (commit a
# crash as tests/fuzz/regress/<harness>/<name> once it is fixed).
# Installs clang and libFuzzer through deps.sh when run as root.
# Exits 1 when a harness crashed, leaked or could not be built.
#
# One row per harness: name, longest input, extra libFuzzer options (-:
# none); tests/fuzz/<name>.dict, when present, is its dictionary.
# A new decoder adds tests/fuzz/fuzz_<name>.c, its FUZZERS entry in
# Makefile.am, seeds in tests/fuzz/corpus/<name>/ and a row here.
HARNESSES="
frame        70000   -
msg          70000   -
manifest     4096    -
meta_record  8192    -
frag_hdr     4096    -
rmux_pre     512     -
config       8192    -
replay       40960   -
node_req     70000   -
meta_req     8192    -
shard_snapshot 131072 -
"
set -u

# All in a function, called on the line that exits: bash has then read
# every line it will run before the run starts, so editing the script
# during a long run cannot break that run.
main() {
	src=$(cd "$(dirname "$0")/.." && pwd)
	b=$src/build-fuzz
	only=""
	secs=60
	while [ $# -gt 0 ]; do
		case $1 in
		--build-dir) b=$2; shift 2 ;;
		--only) only=",$2,"; shift 2 ;;
		-h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) secs=$1; shift ;;
		esac
	done
	case $secs in '' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a number" >&2; exit 2 ;; esac

	if [ "$(id -u)" = 0 ]; then
		"$src/scripts/deps.sh" || exit 1
	fi
	command -v clang >/dev/null || { echo "fuzz.sh: clang not found (scripts/deps.sh installs it)" >&2; exit 1; }
	echo "== fuzz: build in $b"
	[ -x "$src/configure" ] || (cd "$src" && autoreconf -fi >/dev/null)
	mkdir -p "$b"
	if ! { [ -f "$b/Makefile" ] || (cd "$b" && "$src/configure" -q CC=clang --enable-fuzz); } ||
		! make -C "$b" -j2 fuzzers >"$b/build.log" 2>&1; then
		tail -n 30 "$b/build.log" 2>/dev/null
		echo "== fuzz: BUILD FAILED"
		exit 1
	fi

	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
	export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
	export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp}
	fail=0
	while read -r name maxlen opts; do
		[ -n "$name" ] || continue
		case $only in '' | *",$name,"*) ;; *) continue ;; esac
		bin=$b/tests/fuzz/fuzz_$name
		work=$b/corpus/$name
		crashes=$b/crashes/$name
		mkdir -p "$work" "$crashes"
		seeds=("$src/tests/fuzz/corpus/$name")
		[ -d "$src/tests/fuzz/regress/$name" ] && seeds+=("$src/tests/fuzz/regress/$name")
		[ "$opts" = - ] && opts=""
		# A dictionary of the format's tokens, when the harness has one.
		[ -f "$src/tests/fuzz/$name.dict" ] && opts="$opts -dict=$src/tests/fuzz/$name.dict"
		# The first directory collects new inputs; the committed ones are
		# only read.  -rss_limit_mb: a decoder that allocates from an
		# unchecked length shows up as an out-of-memory crash.
		# shellcheck disable=SC2086
		if "$bin" "$work" "${seeds[@]}" -max_total_time="$secs" -max_len="$maxlen" \
			-rss_limit_mb=1024 -malloc_limit_mb=256 -timeout=10 -print_final_stats=1 \
			-artifact_prefix="$crashes/" $opts >"$b/fuzz-$name.log" 2>&1; then
			runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$b/fuzz-$name.log")
			echo "PASS: fuzz $name (${secs}s, ${runs:-?} runs, $(ls "$work" | wc -l) corpus inputs)"
		else
			echo "FAIL: fuzz $name: see $b/fuzz-$name.log and $crashes/"
			grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: )' "$b/fuzz-$name.log" | head -n 5
			fail=1
		fi
	done <<<"$HARNESSES"
	return $fail
}
main "$@"; exit
