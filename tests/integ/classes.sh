#!/usr/bin/env bash
# classes.sh: storage classes and the class mover.  Six nodes, the last
# three tagged `class = cold`, a class cold of 2+1 on them.  A directory
# of a mounted bucket is named cold and `objfsctl class move` re-encodes
# its files while a reader on the mount reads one of them in a loop:
# every read is the file's content, and afterwards every block is 2+1
# and lives on the tagged nodes only (fragment files per node, fsck).
# A file written into the directory afterwards is stored in cold at once.
# Then the directory goes back to the default class and a mover is killed
# (kill -9) once it reported moved blocks: every file still reads back
# identical, and once the grace periods pass no fragment is left that no
# block names; a second run finishes the move.  Last, an age rule (class
# age) sends the one file not read for 3 days to cold: a read through the
# mount, which records it in atime, keeps another one in place.
. "$(dirname "$0")/mountlib.sh"

jnum() { grep -o "\"$2\":[0-9]*" "$1" | tail -n 1 | cut -d: -f2; }
# Fragment files on node $1.
frags_on() { find "$T/cluster/node$1/frags" -path '*/quarantine' -prune -o -type f -name '*.*' -print | wc -l; }
frags_all() { local n=0 i; for i in 1 2 3 4 5 6; do n=$((n + $(frags_on "$i"))); done; echo "$n"; }
# Fragments the files' blocks should have: sum of count * (k + m) over
# the block groups `class get --json` reports for each file.
want_frags() {
	local f n=0 j
	for f in big s1 s2 s3 new; do
		ctl class get "demo/cold/$f" --json > "$T/get.$f" || fail "class get $f"
		j=$(grep -o '"k":[0-9]*,"m":[0-9]*,"count":[0-9]*' "$T/get.$f" |
			awk -F'[:,]' '{ s += ($2 + $4) * $6 } END { print s + 0 }')
		n=$((n + j))
	done
	echo "$n"
}
# Waits (30 s at most) until the cluster holds exactly $1 fragments.
wait_frags() {
	local n
	for _ in $(seq 300); do
		n=$(frags_all)
		[ "$n" -eq "$1" ] && return 0
		sleep 0.1
	done
	for i in 1 2 3 4 5 6; do echo "node $i: $(frags_on "$i") fragments"; done
	cat "$T"/get.* 2>/dev/null
	ctl gc --dry-run --grace 0 --json
	find "$T"/cluster/node*/frags -type f -name '*.*' | sed 's|.*/||' | sort | uniq -c | head -40
	fail "$n fragments in the cluster, not $1"
}

cluster_up 6
# Short grace periods, so replaced blocks go while the test runs; tags on
# nodes 4-6 (zones z1, z2, z3: dev up deals three zones round-robin).
sed -i 's/^free_grace = .*/free_grace = 2/' "$OBJFS_CONF"
awk '{ print } /^\[node [456]\]$/ { print "class = cold" }' "$OBJFS_CONF" > "$T/conf" &&
	printf '\n[class cold]\nid = 7\nk = 2\nm = 1\ntag = cold\n' >> "$T/conf" &&
	cp "$T/conf" "$OBJFS_CONF" || fail "config"
ctl dev down --dir "$T/cluster" >/dev/null || fail "dev down"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "dev up with a class"

ctl class ls --json > "$T/ls" || fail "class ls"
grep -q '{"name":"cold","id":7,"k":2,"m":1,"tag":"cold","nodes":3,"node_ids":\[4,5,6\]}' "$T/ls" ||
	{ cat "$T/ls"; fail "class ls does not show cold on nodes 4,5,6"; }

M="$T/m"
mount_bucket demo "$M" cache_mb=1
mkdir "$M/cold" || fail "mkdir"
randfile "$T/big" $((24 << 20))
for f in s1 s2 s3; do randfile "$T/$f" $((3 << 20)); done
for f in big s1 s2 s3; do t cp "$T/$f" "$M/cold/$f" || fail "cp $f"; done
t sync -f "$M/cold/big" || fail "sync"

expect_fail 1 "objfsctl class set: no class 'warm' in $OBJFS_CONF (objfsctl class ls)" \
	"$CTL" class set demo/cold warm
expect_fail 1 "objfsctl class set: demo/nodir: No such file or directory" \
	"$CTL" class set demo/nodir cold
expect_fail 1 "objfsctl class set: demo/cold/big: Not a directory" \
	"$CTL" class set demo/cold/big cold
ctl class set demo/cold cold > /dev/null || fail "class set"
ctl class get demo/cold/big --json > "$T/g0" || fail "class get"
grep -q '^{"path":"cold/big","class":"cold","id":7,"from":"cold","blocks":\[{"class":"default","id":0,"k":4,"m":2,"count":6}\]}$' "$T/g0" ||
	{ cat "$T/g0"; fail "class get before the move"; }
[ "$(getfattr --only-values -n user.objfs.class "$M/cold" 2>/dev/null)" = "cold" ] ||
	fail "the mount does not show user.objfs.class = cold"

# A reader on the mount, O_DIRECT so each read goes to the cluster.
reader() {
	local good=0 bad=0
	while [ ! -e "$T/stop" ]; do
		if dd if="$M/cold/big" iflag=direct bs=4M status=none 2>>"$T/reader.err" | cmp -s - "$T/big"; then
			good=$((good + 1))
		else
			bad=$((bad + 1))
		fi
		echo "$good $bad" > "$T/reads.tmp" && mv "$T/reads.tmp" "$T/reads"
	done
}
reader &
rpid=$!
echo "$rpid" >> "$T/pids"
for _ in $(seq 100); do [ -s "$T/reads" ] && break; sleep 0.1; done
[ -s "$T/reads" ] || fail "the reader never finished a read"
read -r g0 _ < "$T/reads"
ctl class move demo/cold --rate 8 --json > "$T/mv1" 2> "$T/mv1.err" || { cat "$T/mv1" "$T/mv1.err"; fail "class move"; }
read -r g1 _ < "$T/reads"
touch "$T/stop"
wait "$rpid"
read -r good bad < "$T/reads"
cat "$T/mv1"
[ "$bad" -eq 0 ] || { cat "$T/reader.err"; fail "$bad of $((good + bad)) reads under the mover were wrong"; }
[ $((g1 - g0)) -ge 3 ] || fail "only $((g1 - g0)) reads ran while the mover did"
grep -q '"files_seen":4,"files":4,"blocks":9,"bytes":34603008,"raced":0,"in_class":0,"errors":0' "$T/mv1" ||
	fail "move: not 4 files, 9 blocks, 33 MiB"
grep -q 'blocks (.*, done$' "$T/mv1.err" || { cat "$T/mv1.err"; fail "no final progress line"; }
for f in big s1 s2 s3; do cmp -s "$T/$f" "$M/cold/$f" || fail "$f differs after the move"; done
ctl class get demo/cold/big --json > "$T/g1" || fail "class get"
grep -q '"blocks":\[{"class":"cold","id":7,"k":2,"m":1,"count":6}\]}$' "$T/g1" ||
	{ cat "$T/g1"; fail "big is not 6 blocks of cold 2+1"; }
# Old blocks collected after free_grace: 9 blocks of 3 fragments, on
# nodes 4-6 only, one fragment of each block on each of them.
wait_frags 27
for i in 1 2 3; do [ "$(frags_on "$i")" -eq 0 ] || fail "node $i holds $(frags_on "$i") fragments of class cold"; done
for i in 4 5 6; do [ "$(frags_on "$i")" -eq 9 ] || fail "node $i holds $(frags_on "$i") fragments, not 9"; done
ctl fsck demo --json > "$T/fsck1" || { cat "$T/fsck1"; fail "fsck after the move"; }
[ "$(jnum "$T/fsck1" fragments_intact)" -eq 27 ] || { cat "$T/fsck1"; fail "fsck: not 27 intact fragments"; }
log "moved 4 files (9 blocks) to cold 2+1 under $good reads, none wrong"

# A new file written through the mount takes its directory's class at
# once (the mount re-reads a directory's class every 5 s; the move took
# longer than that since the class was set).
randfile "$T/new" $((3 << 20))
t cp "$T/new" "$M/cold/new" || fail "cp new"
t sync -f "$M/cold/new" || fail "sync new"
ctl class get demo/cold/new --json > "$T/gn" || fail "class get new"
grep -q '"blocks":\[{"class":"cold","id":7,"k":2,"m":1,"count":1}\]}$' "$T/gn" ||
	{ cat "$T/gn"; fail "a new file in cold is not written in cold 2+1"; }
wait_frags 30
for i in 1 2 3; do [ "$(frags_on "$i")" -eq 0 ] || fail "node $i holds fragments of the new file"; done

# Back to the default class, with a mover killed half way.
ctl class set demo/cold default > /dev/null || fail "class set default"
# Started directly, not through `t`, so that $! is the mover itself (the
# wait below is bounded, and the exit trap kills it by that pid).  Its
# metrics on a loopback port below the ephemeral range.
mport=$((31500 + RANDOM % 1200))
"$CTL" class move demo/cold --rate 2 --metrics "127.0.0.1:$mport" > "$T/mv2" 2> "$T/mv2.err" &
mpid=$!
echo "$mpid" >> "$T/pids"
deadline=$(( $(date +%s) + 30 ))
until grep -q ' moved, [1-9][0-9]* blocks' "$T/mv2.err"; do
	kill -0 "$mpid" 2>/dev/null || { cat "$T/mv2.err"; fail "the mover ended before the kill"; }
	[ "$(date +%s)" -lt "$deadline" ] || fail "no progress of the mover in 30 s"
	sleep 0.05
done
if command -v curl >/dev/null; then
	curl -s --max-time 5 "http://127.0.0.1:$mport/metrics" > "$T/mx" || fail "no mover metrics on $mport"
	grep -Eq '^objfs_mover_blocks_total [1-9]' "$T/mx" || { cat "$T/mx"; fail "objfs_mover_blocks_total not counting"; }
	grep -Eq '^objfs_mover_bytes_total [1-9]' "$T/mx" || fail "objfs_mover_bytes_total not counting"
	grep -q '^objfs_mover_files_total ' "$T/mx" || fail "no objfs_mover_files_total"
fi
kill -9 "$mpid"
wait "$mpid" 2>/dev/null
kill -0 "$mpid" 2>/dev/null && fail "the mover survived kill -9"
tail -n 1 "$T/mv2.err"
for f in big s1 s2 s3 new; do
	ctl get demo "cold/$f" - | cmp -s - "$T/$f" || fail "$f differs after the killed mover"
	cmp -s "$T/$f" "$M/cold/$f" || fail "$f differs on the mount after the killed mover"
done
want=$(want_frags)
grep -q '"class":"default","id":0,"k":4,"m":2' "$T"/get.* || fail "the killed mover moved no block"
grep -q '"class":"cold"' "$T"/get.* || fail "the killed mover moved every block"
# The blocks the mover wrote but never committed are strays: found by
# gc once older than its grace, deleted, and then nothing else is left.
sleep 1.5
ctl gc --grace 1 --json > "$T/gc1" || { cat "$T/gc1"; fail "gc"; }
cat "$T/gc1"
[ "$(jnum "$T/gc1" surplus)" -eq 0 ] || fail "gc found surplus copies"
wait_frags "$want"
ctl gc --dry-run --grace 0 --json > "$T/gc2" || { cat "$T/gc2"; fail "gc --dry-run"; }
[ "$(jnum "$T/gc2" strays)" -eq 0 ] || { cat "$T/gc2"; fail "strays left after gc"; }
log "killed mover: every file readable, $(jnum "$T/gc1" deleted) stray fragments collected, $want fragments left, all referenced"

# A second run finishes the move.
ctl class move demo/cold --json > "$T/mv3" 2>/dev/null || { cat "$T/mv3"; fail "second move"; }
[ "$(jnum "$T/mv3" errors)" -eq 0 ] || fail "second move had errors"
wait_frags $((10 * 6))
for f in big s1 s2 s3 new; do
	ctl class get "demo/cold/$f" --json | grep -q '"blocks":\[{"class":"default","id":0,"k":4,"m":2,"count":[0-9]*}\]}$' ||
		fail "$f is not all default 4+2 after the second move"
	cmp -s "$T/$f" "$M/cold/$f" || fail "$f differs after the second move"
done

# The age rule: files below demo/cold unread for 2 days go to cold at the
# next move.  s1 and s2 were last read 3 days ago (atime set so), s3 just
# now; then s2 is read through the mount, which records the read (its
# atime was more than a day old): only s1 moves.
t touch -a -d '3 days ago' "$M/cold/s1" "$M/cold/s2" || fail "touch -a"
t touch -a "$M/cold/s3" || fail "touch -a s3"
t cat "$M/cold/s2" > /dev/null || fail "read s2"
expect_fail 2 "objfsctl class age: want NAME AGE (AGE: seconds, or with a suffix m, h or d) or off" \
	"$CTL" class age demo/cold cold 2x
expect_fail 1 "objfsctl class age: no class 'warm' in $OBJFS_CONF (objfsctl class ls)" \
	"$CTL" class age demo/cold warm 2d
ctl class age demo/cold cold 2d > "$T/age" || fail "class age"
grep -qx "demo/cold: files unread for 172800 s go to class cold at the next move" "$T/age" ||
	{ cat "$T/age"; fail "class age said: $(cat "$T/age")"; }
ctl class move demo/cold --json > "$T/mv4" 2>/dev/null || { cat "$T/mv4"; fail "move by age"; }
[ "$(jnum "$T/mv4" files)" -eq 1 ] || { cat "$T/mv4"; fail "the age rule moved $(jnum "$T/mv4" files) files, not 1"; }
ctl class get demo/cold/s1 --json | grep -q '"blocks":\[{"class":"cold","id":7,"k":2,"m":1,"count":1}\]}$' ||
	fail "s1, unread for 3 days, is not in cold"
for f in big s2 s3 new; do
	ctl class get "demo/cold/$f" --json | grep -q '"class":"default","id":0,"k":4,"m":2' ||
		fail "$f (read recently) left the default class"
done
for f in big s1 s2 s3 new; do cmp -s "$T/$f" "$M/cold/$f" || fail "$f differs after the move by age"; done
ctl class age demo/cold off > /dev/null || fail "class age off"
ctl class move demo/cold --json > "$T/mv5" 2>/dev/null || fail "move after age off"
[ "$(jnum "$T/mv5" files)" -eq 1 ] || { cat "$T/mv5"; fail "with the rule off s1 did not come back"; }
log "age rule: the file unread for 3 days went to cold, the file read through the mount stayed"
unmount_bucket "$M" || fail "unmount"
log "PASS"
