#!/usr/bin/env bash
# test.sh: runs every test of objfs on a fresh Debian 12 machine (as root):
# installs packages, builds, runs `make check` (unit tests, integration
# tests with real nodes) and `make format-check`, then the same suite built
# with ASan+UBSan, then a 5-second pass of every fuzzer (scripts/fuzz.sh).
# Set OBJFS_SKIP_SAN=1 to skip the sanitizer pass, OBJFS_SKIP_FUZZ=1 the
# fuzzers.  Prints one closing line "N passed, N failed".
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
"$src/scripts/deps.sh" || exit 1
pass=0; fail=0
failed_logs=()

run_suite() { # run_suite NAME BUILDDIR [configure args]
	local name=$1 b=$2 rc
	shift 2
	echo "== $name: build in $b"
	if ! "$src/scripts/build.sh" "$b" "$@"; then
		echo "== $name: BUILD FAILED"
		fail=$((fail + 1))
		return
	fi
	echo "== $name: make check"
	make -C "$b" -j2 check >"$b/check.out" 2>&1; rc=$?
	grep -E '^(PASS|FAIL|XFAIL|XPASS|SKIP|ERROR):' "$b/check.out"
	pass=$((pass + $(grep -c '^PASS:' "$b/check.out")))
	fail=$((fail + $(grep -cE '^(FAIL|ERROR|XPASS):' "$b/check.out")))
	if [ $rc -ne 0 ]; then
		# automake's .trs files say ":test-result: FAIL"
		for log in $(grep -lE '^:test-result: (FAIL|ERROR|XPASS)' "$b"/tests/*/*.trs 2>/dev/null); do
			failed_logs+=("${log%.trs}.log")
		done
		[ "$(grep -cE '^(FAIL|ERROR|XPASS):' "$b/check.out")" -gt 0 ] || fail=$((fail + 1))
	fi
}

run_suite plain "$src/build"
# Formatting: every tracked C file as .clang-format says (needs a git checkout).
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	if make -C "$src/build" format-check >"$src/build/format.out" 2>&1; then
		echo "PASS: format-check"
		pass=$((pass + 1))
	else
		echo "FAIL: format-check (run 'make format' and commit)"
		tail -n 20 "$src/build/format.out"
		fail=$((fail + 1))
	fi
fi
if [ "${OBJFS_SKIP_SAN:-0}" != 1 ]; then
	run_suite sanitizers "$src/build-san" --enable-sanitizers
fi
# A short pass of every libFuzzer harness (clang, ASan+UBSan), 5 s each.
if [ "${OBJFS_SKIP_FUZZ:-0}" != 1 ]; then
	"$src/scripts/fuzz.sh" --build-dir "$src/build-fuzz" 5 >"$src/build/fuzz.out" 2>&1
	grep -E '^(PASS|FAIL)' "$src/build/fuzz.out"
	pass=$((pass + $(grep -c '^PASS:' "$src/build/fuzz.out")))
	fail=$((fail + $(grep -c '^FAIL:' "$src/build/fuzz.out")))
	if ! grep -q '^PASS:' "$src/build/fuzz.out"; then
		tail -n 30 "$src/build/fuzz.out"
		fail=$((fail + 1))
	fi
fi
# The logs of failed tests last, just above the summary, where a reader of
# the output's tail finds them.
for log in "${failed_logs[@]}"; do
	echo "---- $log: its failures, then its last 30 lines"
	grep -E 'FAIL|Assertion|ERROR|runtime error|Sanitizer' "$log" | head -n 10
	tail -n 30 "$log"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
