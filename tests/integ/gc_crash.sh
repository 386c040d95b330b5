#!/usr/bin/env bash
# gc_crash.sh: a mount killed with SIGKILL in the middle of a large write
# (once its uploads are seen on the nodes) leaves fragments no block
# references.  objfsctl gc keeps them while they are younger than the grace
# period (dry run and real run both say so, nothing deleted), deletes
# exactly them once they are older, and never a referenced fragment: fsck
# is clean after it and every other file reads back identical, through a
# new mount and as objects.  Then the hand-off copies a write made while a
# node was down, left behind once repair put every fragment home, are
# collected the same way (surplus copies whose home copy is intact).
. "$(dirname "$0")/mountlib.sh"

GRACE=3

jlast() { grep -o "\"$2\":[0-9]*" "$1" | tail -n 1 | cut -d: -f2; }

frag_count() {
	find "$T"/cluster/node*/frags -path '*/quarantine' -prune -o -type f -name '*.[0-9]*' \
		! -name '*.tmp.*' -print | wc -l
}

cluster_up 6
mount_bucket demo "$T/mnt"
for i in 1 2 3; do
	randfile "$T/ref$i" $((6 * 1024 * 1024 + i * 1000))
	t cp "$T/ref$i" "$T/mnt/ref$i" || fail "cp ref$i"
done
randfile "$T/small" 5000 # inline: no fragments at all
t cp "$T/small" "$T/mnt/small" || fail "cp small"
remount_bucket "$T/mnt"
base=$(frag_count)
# 3 files of 2 blocks (4+2): 36 fragments, all referenced.
[ "$base" -eq 36 ] || fail "$base fragments before the big write, not 36"

# A large write; the mount uploads full chunks in the background.
t dd if=/dev/urandom of="$T/mnt/big" bs=1M count=1024 status=none 2>"$T/dd.err" &
dd_pid=$!
echo "$dd_pid" >> "$T/pids"
deadline=$(( $(date +%s) + 60 ))
while [ "$(frag_count)" -lt $((base + 4 * 6)) ]; do
	[ "$(date +%s)" -lt "$deadline" ] || fail "no uploads of the big file seen in 60 s"
	sleep 0.05
done
still_running "$dd_pid"
kill -9 "${_mnt_pid[$T/mnt]}" || fail "cannot kill the mount"
wait "$dd_pid" 2>/dev/null
unmount_bucket "$T/mnt" >/dev/null 2>&1 || true
log "mount killed after $(( $(frag_count) - base )) fragments of the big file were stored"

# Let uploads in flight on the nodes land: the count settles.
prev=-1
for _ in $(seq 50); do
	now=$(frag_count)
	[ "$now" -eq "$prev" ] && break
	prev=$now
	sleep 0.2
done
strays=$(( $(frag_count) - base ))
[ "$strays" -ge 24 ] || fail "only $strays stray fragments"

# Every referenced block is intact; the strays are unknown to the shard.
ctl fsck --json > "$T/fsck0" || { cat "$T/fsck0"; fail "fsck before gc"; }
[ "$(jlast "$T/fsck0" fragments_intact)" -eq 36 ] || fail "fsck: not 36 referenced fragments"

# Younger than the grace period: found, not deleted, by a dry run or a run.
ctl gc --dry-run --grace 3600 --json > "$T/gc1" || { cat "$T/gc1"; fail "gc --dry-run"; }
[ "$(jlast "$T/gc1" strays)" -eq "$strays" ] || { cat "$T/gc1"; fail "gc found $(jlast "$T/gc1" strays) strays, not $strays"; }
[ "$(jlast "$T/gc1" young)" -eq "$strays" ] || fail "dry run: not every stray young"
[ "$(jlast "$T/gc1" deleted)" -eq 0 ] || fail "dry run with a long grace would delete"
[ "$(jlast "$T/gc1" ranges)" -eq 1 ] || fail "6 blocks took $(jlast "$T/gc1" ranges) ranges, not 1"
ctl gc --grace 3600 --json > "$T/gc2" || { cat "$T/gc2"; fail "gc"; }
[ "$(jlast "$T/gc2" deleted)" -eq 0 ] || fail "gc deleted fragments younger than the grace period"
[ "$(frag_count)" -eq $((base + strays)) ] || fail "fragments vanished during a gc that deleted none"

# Once older than the grace period, a dry run lists all of them ...
deadline=$(( $(date +%s) + 30 ))
while :; do
	ctl gc --dry-run --grace "$GRACE" --json > "$T/gc3" || { cat "$T/gc3"; fail "gc --dry-run"; }
	[ "$(jlast "$T/gc3" deleted)" -eq "$strays" ] && break
	[ "$(date +%s)" -lt "$deadline" ] || { cat "$T/gc3"; fail "strays never became older than $GRACE s"; }
	sleep 0.5
done
[ "$(frag_count)" -eq $((base + strays)) ] || fail "a dry run deleted fragments"
# ... and a run deletes exactly them.
# With room for 2 block ids the mark and sweep go range by range.
ctl gc --mark-max 1 > "$T/gcbad.out" 2> "$T/gcbad.err" && fail "gc --mark-max 1 accepted"
[ $? -eq 2 ] || fail "gc --mark-max 1: not a usage error"
grep -qF "objfsctl gc: --mark-max: not a number of blocks in 2..4294967296: '1'" "$T/gcbad.err" ||
	{ cat "$T/gcbad.err"; fail "gc --mark-max 1: wrong message"; }
ctl gc --grace "$GRACE" --mark-max 2 --json > "$T/gc4" || { cat "$T/gc4"; fail "gc"; }
[ "$(jlast "$T/gc4" deleted)" -eq "$strays" ] || { cat "$T/gc4"; fail "gc deleted $(jlast "$T/gc4" deleted), not $strays"; }
[ "$(jlast "$T/gc4" ranges)" -ge 3 ] || { cat "$T/gc4"; fail "gc with room for 2 ids took $(jlast "$T/gc4" ranges) ranges"; }
[ "$(jlast "$T/gc4" blocks)" -eq 6 ] || { cat "$T/gc4"; fail "gc marked $(jlast "$T/gc4" blocks) blocks over its ranges, not 6"; }
[ "$(frag_count)" -eq "$base" ] || fail "$(frag_count) fragments after gc, not $base"
ctl gc --grace 0 --json > "$T/gc5" || fail "second gc"
[ "$(jlast "$T/gc5" deleted)" -eq 0 ] || fail "a second gc (grace 0) deleted referenced fragments"

ctl fsck --json > "$T/fsck1" || { cat "$T/fsck1"; fail "fsck after gc is not clean"; }
[ "$(jlast "$T/fsck1" fragments_intact)" -eq 36 ] || fail "fsck after gc: not 36 intact"
mount_bucket demo "$T/mnt"
for i in 1 2 3; do
	cmp -s "$T/ref$i" "$T/mnt/ref$i" || fail "ref$i differs after gc"
	ctl get demo "ref$i" - | cmp -s - "$T/ref$i" || fail "object ref$i differs after gc"
done
cmp -s "$T/small" "$T/mnt/small" || fail "small differs after gc"
log "gc collected $strays stray fragments of the killed writer; 36 referenced ones kept"
unmount_bucket "$T/mnt" || fail "unmount"

# Hand-offs: an object of 2 blocks put while a fragment-only node is down
# sends that node's 2 fragments elsewhere; repair (objfsctl's, or the
# nodes' own once it is back) writes them home, and the 2 hand-off
# copies are surplus.
set -- $(data_only_nodes)
[ $# -ge 1 ] || fail "no data-only node"
kill9_node "$1"
randfile "$T/late" $((5 * 1024 * 1024))
ctl put demo late "$T/late" >/dev/null || fail "put with a node down"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of node $1"
ctl repair demo > "$T/repair" || fail "repair: $(cat "$T/repair")"
# The nodes' own repair of a node that came back (repair.returned) may
# put some of the 2 home first: together they move exactly 2, and a
# second pass finds nothing left to move.
moved=$(sed -n 's/.*, \([0-9]*\) fragments rewritten, 0 blocks failed.*/\1/p' "$T/repair")
[ -n "$moved" ] && [ "$moved" -le 2 ] || { cat "$T/repair"; fail "repair did not move the hand-offs home"; }
ctl repair demo > "$T/repair2" || fail "second repair: $(cat "$T/repair2")"
grep -q ", 0 fragments rewritten, 0 blocks failed" "$T/repair2" || { cat "$T/repair2"; fail "a second repair still moved fragments"; }
[ "$(frag_count)" -eq $((base + 12 + 2)) ] || fail "$(frag_count) fragments, not $((base + 14)) with 2 hand-offs"
ctl gc --grace 3600 --json > "$T/gc6" || fail "gc of hand-offs"
[ "$(jlast "$T/gc6" surplus)" -eq 2 ] || { cat "$T/gc6"; fail "gc found $(jlast "$T/gc6" surplus) surplus copies, not 2"; }
[ "$(jlast "$T/gc6" strays)" -eq 0 ] || fail "gc found strays among referenced blocks"
[ "$(jlast "$T/gc6" deleted)" -eq 0 ] || fail "gc deleted young hand-offs"
# Both old enough (they were written a moment apart): a dry run says so.
deadline=$(( $(date +%s) + 30 ))
while :; do
	ctl gc --dry-run --grace "$GRACE" --json > "$T/gc7" || { cat "$T/gc7"; fail "gc --dry-run"; }
	[ "$(jlast "$T/gc7" deleted)" -eq 2 ] && break
	[ "$(date +%s)" -lt "$deadline" ] || { cat "$T/gc7"; fail "hand-offs never older than $GRACE s"; }
	sleep 0.5
done
ctl gc --grace "$GRACE" --mark-max 3 --json > "$T/gc8" || { cat "$T/gc8"; fail "gc"; }
[ "$(jlast "$T/gc8" deleted)" -eq 2 ] || { cat "$T/gc8"; fail "gc deleted $(jlast "$T/gc8" deleted) hand-offs, not 2"; }
[ "$(frag_count)" -eq $((base + 12)) ] || fail "$(frag_count) fragments after the hand-off gc, not $((base + 12))"
ctl fsck --json > "$T/fsck2" || { cat "$T/fsck2"; fail "fsck after the hand-off gc is not clean"; }
[ "$(jlast "$T/fsck2" fragments_intact)" -eq 48 ] || fail "fsck: not 48 intact after the hand-off gc"
ctl get demo late - | cmp -s - "$T/late" || fail "late differs after the hand-off gc"
log "gc collected the 2 surplus hand-off copies; 48 referenced fragments kept"
log "PASS"
