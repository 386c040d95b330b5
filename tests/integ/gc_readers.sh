#!/usr/bin/env bash
# gc_readers.sh: readers never see an error or a mix because of GC.  With a
# grace period of 2 s (free_grace), one mount overwrites whole files in a
# loop (O_TRUNC, write, close: numbered versions of 64 KiB..6 MiB, one or
# two blocks) while a second mount of the same bucket reads them in a
# loop: every read is entirely one version or the empty file between a
# truncate and its close, or one version cut short by a truncate that came
# while the read ran (versions_check --strict), never EIO.  The
# blocks of overwritten versions are collected meanwhile: afterwards only
# the current versions' fragments are left.
. "$(dirname "$0")/mountlib.sh"

VC="$BUILD/tests/integ/versions_check"
[ -x "$VC" ] || fail "$VC is not built"
FILES=8
SECS=20

cluster_up 6
# A short grace, so blocks are deleted while the readers run.
sed -i 's/^free_grace = .*/free_grace = 2/' "$OBJFS_CONF"
grep -qx "free_grace = 2" "$OBJFS_CONF" || fail "no free_grace line in $OBJFS_CONF"
ctl dev down --dir "$T/cluster" >/dev/null || fail "dev down"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "dev up with free_grace = 2"
W="$T/w"
R="$T/r"
mount_bucket demo "$W"
mount_bucket demo "$R" "${ROPTS:-}"
t "$VC" --dir "$W" --files "$FILES" --writers 4 --readers 0 --seconds 0 >/dev/null ||
	fail "first versions"
t "$VC" --dir "$W" --files "$FILES" --writers 4 --readers 0 --seconds "$SECS" >"$T/w.out" 2>&1 &
writer=$!
t "$VC" --dir "$R" --files "$FILES" --writers 0 --readers 4 --seconds "$SECS" --strict \
	>"$T/r.out" 2>&1
rrc=$?
wait "$writer"
wrc=$?
cat "$T/w.out" "$T/r.out"
[ "$wrc" -eq 0 ] || fail "the writer failed ($wrc)"
[ "$rrc" -eq 0 ] || fail "a reader saw an error or a mix ($rrc)"
writes=$(sed -n 's/^versions_check: \([0-9]*\) writes.*/\1/p' "$T/w.out")
reads=$(sed -n 's/.* \([0-9]*\) good reads.*/\1/p' "$T/r.out")
empty=$(sed -n 's/.* \([0-9]*\) empty.*/\1/p' "$T/r.out")
[ "${writes:-0}" -ge 50 ] || fail "only ${writes:-0} versions written"
[ $((${reads:-0} - ${empty:-0})) -ge 100 ] || fail "only ${reads:-0} reads, ${empty:-0} of them empty"
# Collected: at most two blocks of k+m = 6 fragments per file remain,
# where each overwrite left two more.
frags() { find "$T"/cluster/node*/frags -path '*/quarantine' -prune -o -type f -name '*.*' -print | wc -l; }
for _ in $(seq 100); do
	n=$(frags)
	[ "$n" -le $((FILES * 2 * 6)) ] && break
	sleep 0.1
done
[ "$n" -le $((FILES * 2 * 6)) ] || fail "$n fragments left after $writes versions of $FILES files"
log "PASS: $writes versions written, $reads reads ($empty empty) each of one version, $n fragments left"
