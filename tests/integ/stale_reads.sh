#!/usr/bin/env bash
# stale_reads.sh: reads without a metadata majority never lie.
# Each round puts an object, and the moment the put returns kills -9 the
# leader of bucket demo's shard and one follower: the surviving replica may
# not have applied the put yet, so `objfsctl get` must print the object or
# fail with exactly "metadata majority unavailable" -- never "No such file
# or directory".  An object put in an earlier round (which the survivor has
# applied) is served by it.  Then the two nodes are restarted and the
# shard caught up for the next round.
. "$(dirname "$0")/lib.sh"

ROUNDS=4


cluster_up 6
randfile "$T/small" 3000  # inline: lives in the shard alone
randfile "$T/big" 300000  # erasure-coded blocks: readable with 2 nodes down
errors=0
served=0
for i in $(seq 1 "$ROUNDS"); do
	src="$T/small"
	[ $((i % 2)) -eq 0 ] && src="$T/big"
	L=$(wait_leader demo) || fail "round $i: demo has no leader"
	F=$(replicas_of demo | grep -vx "$L" | head -n 1)
	[ -n "$F" ] || fail "round $i: no follower of demo"
	pl=$(node_pid "$L")
	pf=$(node_pid "$F")
	ctl put demo "r$i" "$src" >/dev/null || fail "round $i: put"
	kill -9 "$pl" "$pf" || fail "round $i: kill"
	for _ in $(seq 100); do
		kill -0 "$pl" 2>/dev/null || kill -0 "$pf" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$pl" 2>/dev/null || kill -0 "$pf" 2>/dev/null && fail "round $i: nodes did not die"
	if t "$CTL" get demo "r$i" - >"$T/got" 2>"$T/err"; then
		cmp -s "$T/got" "$src" || fail "round $i: r$i read back different bytes"
		served=$((served + 1))
	else
		[ "$(cat "$T/err")" = "objfsctl get: demo/r$i: metadata majority unavailable" ] ||
			fail "round $i: get r$i said '$(cat "$T/err")'"
		errors=$((errors + 1))
	fi
	# A name that never existed: not "no such file" either.
	expect_fail 1 "objfsctl get: demo/never$i: metadata majority unavailable" \
		"$CTL" get demo "never$i" -
	# An object the survivor applied before the kill is served.
	if [ "$i" -gt 1 ]; then
		prev="$T/small"
		[ $(((i - 1) % 2)) -eq 0 ] && prev="$T/big"
		ctl get demo "r$((i - 1))" - | cmp -s - "$prev" ||
			fail "round $i: r$((i - 1)) not served without a majority"
	fi
	log "round $i: killed leader $L and follower $F; get r$i: $([ -s "$T/err" ] && cat "$T/err" || echo data)"
	: >"$T/err"
	ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "round $i: restart"
	wait_caught_up demo
	ctl get demo "r$i" - | cmp -s - "$src" || fail "round $i: r$i lost after the restart"
done
log "PASS: $ROUNDS rounds, $errors answered 'metadata majority unavailable', $served served the data, none 'no such file'"
