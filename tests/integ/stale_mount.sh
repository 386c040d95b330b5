#!/usr/bin/env bash
# stale_mount.sh: a mount never reads older than what it has seen.  A file
# is written through the mount (version 1) and every replica applies it;
# then it is overwritten (version 2) and, the moment close returns, the
# shard's leader and one follower are killed -9.  Once the kernel's caches
# expired, reading the file through the same mount gives version 2 or
# fails with EIO ("metadata majority unavailable"), never version 1: the
# surviving replica, if it has not applied version 2, is behind the index
# the mount saw acknowledged and does not answer.
. "$(dirname "$0")/mountlib.sh"

ROUNDS=2


cluster_up 6
M="$T/mnt"
mount_bucket demo "$M"
eio=0
for i in $(seq 1 "$ROUNDS"); do
	randfile "$T/v1" 5000
	randfile "$T/v2" 7000
	t cp "$T/v1" "$M/f$i" || fail "round $i: write version 1"
	wait_caught_up demo
	L=$(wait_leader demo) || fail "round $i: demo has no leader"
	F=$(replicas_of demo | grep -vx "$L" | head -n 1)
	pl=$(node_pid "$L")
	pf=$(node_pid "$F")
	t cp "$T/v2" "$M/f$i" || fail "round $i: write version 2"
	kill -9 "$pl" "$pf" || fail "round $i: kill"
	# The kernel answers from its own caches for attr_timeout and
	# entry_timeout (1 s): only after that does the read reach objfs.
	sleep 1.2
	if t cat "$M/f$i" >"$T/got" 2>"$T/err"; then
		cmp -s "$T/got" "$T/v1" && fail "round $i: read version 1 after the mount wrote version 2"
		cmp -s "$T/got" "$T/v2" || fail "round $i: read neither version"
	else
		[ "$(cat "$T/err")" = "cat: $M/f$i: Input/output error" ] ||
			fail "round $i: cat said '$(cat "$T/err")'"
		eio=$((eio + 1))
	fi
	log "round $i: killed leader $L and follower $F; read: $([ -s "$T/err" ] && cat "$T/err" || echo version 2)"
	: >"$T/err"
	ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "round $i: restart"
	wait_caught_up demo
	t cmp -s "$M/f$i" "$T/v2" || fail "round $i: version 2 lost"
done
log "PASS: $ROUNDS rounds, $eio answered EIO, none read the older version"
