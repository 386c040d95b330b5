#!/usr/bin/env bash
# mount_mix.sh: 16 threads on one mount put (O_TRUNC, write, close), get
# (open, read to EOF, bytes checked), delete and list (readdirplus of the
# shared directory) their files for 15 s (bench/fsmix, the seed's stress
# mix): every get of a file its own thread just closed reads exactly what
# was written.  A listing whose file sizes the kernel kept once shrank a
# file just written to 0 bytes here.
. "$(dirname "$0")/mountlib.sh"

FSMIX="$BUILD/bench/fsmix"
[ -x "$FSMIX" ] || fail "$FSMIX is not built"
cluster_up 6
M="$T/mnt"
mount_bucket demo "$M"
t "$FSMIX" --dir "$M" --threads 16 --seconds 15 --grace 60 --files 200 \
	--mix get:70,put:25,delete:3,list:2 --dist normal-load --scenario mix >"$T/mix.out" 2>&1
rc=$?
# fsmix's own complaints first (a failed operation names its path and
# errno), then its table.
grep '^fsmix: ' "$T/mix.out" | head -n 20
grep -v '^RESULT' "$T/mix.out" | grep -v '^fsmix: ' | head -n 12
[ "$rc" -eq 0 ] || fail "fsmix exited $rc (1: an operation failed, 3: one hung)"
grep -q "^RESULT scenario=mix op=get .* errors=0$" "$T/mix.out" || fail "no clean get line"
log "PASS"
