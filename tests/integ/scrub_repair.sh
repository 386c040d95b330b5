#!/usr/bin/env bash
# scrub_repair.sh: 6 real nodes; bytes flipped inside data and parity
# fragments on several nodes.  One scrub finds every damaged fragment (exact
# counts, per node) and quarantines it; fsck reports exactly the blocks
# concerned as degraded (exit 3); a second round of flips that no scrub saw
# is found by repair itself (it reads fragments in full, so bad parity is
# rewritten too); after repair fsck is clean (exit 0) and every object reads
# back identical.  A read that meets a damaged fragment has it rewritten
# by read repair, with no repair command.  fsck's exit status tells the
# states apart: a node down makes every block degraded (3), a block with
# 3 of its 6 fragments damaged is lost (4), which --repair cannot change.
. "$(dirname "$0")/lib.sh"

# jlast FILE KEY: the last numeric value of "KEY" in a JSON output (the
# summary fields come after the nested ones).
jlast() { grep -o "\"$2\":[0-9]*" "$1" | tail -n 1 | cut -d: -f2; }

# Fragment files of the cluster, one "path node block index" line each.
frag_files() {
	local f b
	for f in "$T"/cluster/node*/frags/??/??/*.*; do
		[ -f "$f" ] || continue
		b=${f##*/}
		case $b in *.tmp.*) continue ;; esac
		n=${f#"$T"/cluster/node}
		echo "$f ${n%%/*} ${b%.*} ${b##*.}"
	done
}

# flip FILE: changes one byte of the fragment's data (after its 64-byte header).
flip() {
	local off=$((64 + RANDOM % 1000)) old
	old=$(od -An -tu1 -j "$off" -N1 "$1" | tr -d ' ')
	printf "\\$(printf '%03o' $(( (old + 1) % 256 )))" |
		dd of="$1" bs=1 seek="$off" conv=notrunc status=none || fail "cannot flip a byte of $1"
}

quarantined() { find "$T"/cluster/node*/frags/quarantine -type f 2>/dev/null | wc -l; }

cluster_up 6
# 6 objects of 3 blocks each (4 MiB blocks, 4+2): 18 blocks, 108 fragments.
for i in 1 2 3 4 5 6; do
	randfile "$T/obj$i" $((9 * 1024 * 1024 + i))
	ctl put demo "o/$i" "$T/obj$i" >/dev/null || fail "put $i"
done
ctl fsck --json demo > "$T/fsck0" || { cat "$T/fsck0"; fail "fsck of a fresh bucket is not clean"; }
[ "$(jlast "$T/fsck0" blocks)" -eq 18 ] || fail "fsck saw $(jlast "$T/fsck0" blocks) blocks, not 18"
[ "$(jlast "$T/fsck0" fragments_intact)" -eq 108 ] || fail "fsck: not 108 intact fragments"

# Round 1: one fragment of each of 8 blocks, indexes 0..5 then 4, 5 (both
# parity indexes twice), wherever they live.
frag_files | sort -k3,3 -k4,4n > "$T/frags"
[ "$(wc -l < "$T/frags")" -eq 108 ] || fail "$(wc -l < "$T/frags") fragment files, not 108"
awk '{ print $3 }' "$T/frags" | uniq | head -n 12 > "$T/blocks"
: > "$T/flipped1"
idx=(0 1 2 3 4 5 4 5)
for i in 0 1 2 3 4 5 6 7; do
	b=$(sed -n "$((i + 1))p" "$T/blocks")
	awk -v b="$b" -v x="${idx[$i]}" '$3 == b && $4 == x' "$T/frags" >> "$T/flipped1"
done
[ "$(wc -l < "$T/flipped1")" -eq 8 ] || fail "picked $(wc -l < "$T/flipped1") fragments, not 8"
[ "$(awk '{ print $2 }' "$T/flipped1" | sort -u | wc -l)" -ge 3 ] || fail "flips on fewer than 3 nodes"
while read -r f _; do flip "$f"; done < "$T/flipped1"
log "flipped a byte in 8 fragments (data and parity) on $(awk '{ print $2 }' "$T/flipped1" | sort -u | wc -l) nodes"

# One scrub finds all 8, each on the node that holds it.
t "$CTL" scrub --json > "$T/scrub1"
rc=$?
[ $rc -eq 3 ] || { cat "$T/scrub1"; fail "scrub exited $rc, not 3 (damage found)"; }
[ "$(jlast "$T/scrub1" bad)" -eq 8 ] || { cat "$T/scrub1"; fail "scrub found $(jlast "$T/scrub1" bad) bad fragments, not 8"; }
[ "$(jlast "$T/scrub1" checked)" -eq 108 ] || fail "scrub checked $(jlast "$T/scrub1" checked) fragments, not 108"
[ "$(quarantined)" -eq 8 ] || fail "$(quarantined) fragments quarantined, not 8"
ctl scrub status --json > "$T/status1" || fail "scrub status"
for n in 1 2 3 4 5 6; do
	want=$(awk -v n="$n" '$2 == n' "$T/flipped1" | wc -l)
	got=$(grep -o "{\"id\":$n,\"up\":true[^]]*" "$T/status1" | grep -o '"last":{[^}]*}' | grep -o '"bad":[0-9]*' | cut -d: -f2)
	[ "$got" = "$want" ] || { cat "$T/status1"; fail "scrub status: node $n last pass found '$got' bad, not $want"; }
done
ctl scrub status > "$T/status1.txt" || fail "scrub status (text)"
grep -q "^1 .* idle$" "$T/status1.txt" || { cat "$T/status1.txt"; fail "scrub status text lacks node 1"; }

# fsck: the 8 blocks are degraded (their fragments are now missing), none lost.
t "$CTL" fsck --json demo > "$T/fsck1"
rc=$?
[ $rc -eq 3 ] || { cat "$T/fsck1"; fail "fsck exited $rc, not 3 (degraded)"; }
[ "$(jlast "$T/fsck1" degraded)" -eq 8 ] || fail "fsck: $(jlast "$T/fsck1" degraded) degraded blocks, not 8"
[ "$(jlast "$T/fsck1" lost)" -eq 0 ] || fail "fsck: lost blocks"
[ "$(jlast "$T/fsck1" fragments_missing)" -eq 8 ] || fail "fsck: not 8 missing fragments"

# Round 2: 4 more fragments of 4 other blocks (2 parity, 2 data), seen by
# no scrub: repair must read them in full to notice.
: > "$T/flipped2"
idx=(5 4 0 3)
for i in 0 1 2 3; do
	b=$(sed -n "$((i + 9))p" "$T/blocks")
	awk -v b="$b" -v x="${idx[$i]}" '$3 == b && $4 == x' "$T/frags" >> "$T/flipped2"
done
[ "$(wc -l < "$T/flipped2")" -eq 4 ] || fail "picked $(wc -l < "$T/flipped2") fragments, not 4"
while read -r f _; do flip "$f"; done < "$T/flipped2"
ctl repair demo > "$T/repair" || { cat "$T/repair"; fail "repair"; }
grep -q ", 12 fragments rewritten, 0 blocks failed" "$T/repair" ||
	{ cat "$T/repair"; fail "repair did not rewrite exactly 12 fragments"; }
[ "$(quarantined)" -eq 12 ] || fail "$(quarantined) fragments quarantined, not 12"

ctl fsck --json > "$T/fsck2" || { cat "$T/fsck2"; fail "fsck after repair is not clean"; }
grep -q '"status":"clean"' "$T/fsck2" || fail "fsck does not say clean"
[ "$(jlast "$T/fsck2" fragments_intact)" -eq 108 ] || fail "fsck after repair: not 108 intact"
[ "$(jlast "$T/fsck2" fragments_bad)" -eq 0 ] || fail "fsck after repair: bad fragments"
for i in 1 2 3 4 5 6; do
	ctl get demo "o/$i" - | cmp -s - "$T/obj$i" || fail "object $i differs after repair"
done
log "scrub found 8 of 8, repair rewrote 12 of 12 (4 seen by no scrub), fsck clean"

# Read repair: damage one data fragment of o/1's first block; a plain get
# returns the right bytes and its rewrite follows, with no repair command.
set -- $(frag_files | sort -k3,3 -k4,4n | awk '$4 == 0' | head -n 1)
flip "$1"
for i in 1 2 3 4 5 6; do
	ctl get demo "o/$i" - | cmp -s - "$T/obj$i" || fail "object $i differs with a damaged fragment"
done
[ "$(quarantined)" -eq 13 ] || fail "the damaged fragment was not quarantined by the read"
ctl fsck --json demo > "$T/fsck3" || { cat "$T/fsck3"; fail "fsck after read repair is not clean"; }
[ "$(jlast "$T/fsck3" fragments_intact)" -eq 108 ] || fail "read repair did not restore the fragment"

# A fragment-only node down: all 18 blocks lack one fragment.
set -- $(data_only_nodes)
[ $# -ge 1 ] || fail "no data-only node"
down=$1
kill9_node "$down"
t "$CTL" fsck --json demo > "$T/fsck4"
rc=$?
[ $rc -eq 3 ] || { cat "$T/fsck4"; fail "fsck with node $down down exited $rc, not 3"; }
[ "$(jlast "$T/fsck4" degraded)" -eq 18 ] || fail "fsck with a node down: not 18 degraded blocks"
[ "$(grep -o '"nodes_down":1' "$T/fsck4" | wc -l)" -eq 18 ] || fail "fsck does not name the down home node of each block"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of node $down"
ctl fsck demo >/dev/null || fail "fsck after the node came back is not clean"

# One block beyond repair: 3 of its 6 fragments damaged (m = 2).
randfile "$T/doomed" 100000
ctl put demo doomed "$T/doomed" >/dev/null || fail "put doomed"
frag_files | sort -k3,3 -k4,4n > "$T/frags2"
awk '{ print $3 }' "$T/frags" | sort -u > "$T/old_blocks"
b=$(awk '{ print $3 }' "$T/frags2" | sort -u | comm -13 "$T/old_blocks" - | head -n 1)
[ -n "$b" ] || fail "cannot find the new block"
awk -v b="$b" '$3 == b && $4 <= 2 { print $1 }' "$T/frags2" | while read -r f; do flip "$f"; done
t "$CTL" fsck --repair --json demo > "$T/fsck5"
rc=$?
[ $rc -eq 4 ] || { cat "$T/fsck5"; fail "fsck with a lost block exited $rc, not 4"; }
[ "$(jlast "$T/fsck5" lost)" -eq 1 ] || fail "fsck: not exactly 1 lost block"
[ "$(jlast "$T/fsck5" degraded)" -eq 0 ] || fail "fsck: degraded blocks beside the lost one"
grep -q "\"path\":\"doomed\",\"chunk\":0,\"block\":\"$b\"" "$T/fsck5" || { cat "$T/fsck5"; fail "fsck does not name the lost block"; }
expect_fail 1 "objfsctl get: demo/doomed: Input/output error" "$CTL" get demo doomed /dev/null
for i in 1 2 3 4 5 6; do
	ctl get demo "o/$i" - | cmp -s - "$T/obj$i" || fail "object $i differs beside a lost block"
done
log "fsck exit status: 3 with a node down, 4 with a lost block"
log "PASS"
