#!/usr/bin/env bash
# corpus.sh: replays every committed seed and regression input of
# tests/fuzz/{corpus,regress}/<harness>/ through its harness, as built by
# this build (a plain main without libFuzzer; scripts/fuzz.sh fuzzes).
# Fails when a harness is missing or any input crashes, leaks or trips a
# sanitizer.  Bounded: each harness gets 60 s.
set -u
b=${OBJFS_BUILDDIR:?}
s=${OBJFS_SRCDIR:?}
fail=0
for dir in "$s"/tests/fuzz/corpus/*/; do
	h=$(basename "$dir")
	bin=$b/tests/fuzz/fuzz_$h
	if [ ! -x "$bin" ]; then
		echo "FAIL: no harness $bin for corpus $h"
		fail=1
		continue
	fi
	inputs=("$dir")
	[ -d "$s/tests/fuzz/regress/$h" ] && inputs+=("$s/tests/fuzz/regress/$h")
	if timeout 60 "$bin" "${inputs[@]}"; then
		:
	else
		echo "FAIL: $h (exit $?)"
		fail=1
	fi
done
exit $fail
