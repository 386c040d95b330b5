#!/usr/bin/env bash
# trash.sh: the bucket's trash on a real mount: with a trash time set, rm -rf of a tree
# moves every file and directory to the read-only /.trash, where they keep their bytes and
# are listed with where they were; restore --all puts the tree back identical; a name taken
# again refuses its restore (the exact message); expired entries are purged by the shard's
# leader by itself and their fragments collected; trash off deletes at once.
. "$(dirname "$0")/mountlib.sh"

cluster_up 3
M="$T/mnt"
mount_bucket demo "$M"

frags() { ctl status | awk '$4 == "up" { n += $9 } END { print n + 0 }'; }
entries() { ctl trash ls demo --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))'; }

ctl trash set demo 3600 >/dev/null || fail "trash set"
mkdir -p "$M/tree/sub"
randfile "$M/tree/big" $((6 << 20))
echo small > "$M/tree/sub/small"
ln -s small "$M/tree/sub/link"
cp -a "$M/tree" "$T/before" || fail "copy of the tree"
rm -rf "$M/tree" || fail "rm -rf"
[ ! -e "$M/tree" ] || fail "the tree is still there"
[ "$(entries)" = 5 ] || fail "trash ls: $(entries) entries, expected 5"
ctl trash ls demo --json | python3 -c '
import json, sys
t = json.load(sys.stdin)
paths = sorted(e["path"].split("/")[-1] for e in t["entries"])
assert t["keep_seconds"] == 3600, t
assert paths == ["big", "link", "small", "sub", "tree"], paths
' || fail "trash ls: $(ctl trash ls demo --json)"
out=$(t sh -c "rm -rf '$M/.trash'" 2>&1) && fail "rm of the trash succeeded"
case $out in *"Read-only file system"*) ;; *) fail "rm of the trash: '$out'" ;; esac
big=$(find "$M/.trash" -name '*-big')
cmp -s "$T/before/big" "$big" || fail "the trashed file's bytes differ"
log "rm -rf moved 5 entries to the read-only trash, bytes kept"

ctl trash restore demo --all >/dev/null || fail "trash restore --all"
# another client's change: seen once the mount's negative entries time out (1 s)
for ((i = 0; i < 50; i++)); do
	[ -e "$M/tree/sub/small" ] && break
	sleep 0.1
done
# names, types, modes, sizes and bytes (a directory's mtime moves as its entries come back)
listing() { (cd "$1" && find . \( -type d -printf '%P d %m\n' \) -o -printf '%P %y %m %s %l\n' | sort); }
[ "$(listing "$T/before")" = "$(listing "$M/tree")" ] || fail "restored tree: $(listing "$M/tree")"
diff -r --no-dereference "$T/before" "$M/tree" >/dev/null || fail "restored tree differs in content"
cmp -s "$T/before/big" "$M/tree/big" || fail "restored big differs"
[ "$(entries)" = 0 ] || fail "entries left after restore --all"
log "restore --all put the tree back identical"

rm "$M/tree/sub/small"
echo again > "$M/tree/sub/small"
ino=$(ctl trash ls demo --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"][0]["ino"])')
out=$(ctl trash restore demo "$ino" 2>&1) && fail "restore over a taken name succeeded"
case $out in *"its name is taken again"*) ;; *) fail "restore over a taken name: '$out'" ;; esac
log "a restore whose name is taken again is refused"

# expiry: the leader purges by itself, and GC collects the blocks
base=$(frags)
rm -rf "$M/tree"
ctl trash set demo 2 >/dev/null || fail "trash set 2"
for ((i = 0; i < 150; i++)); do
	[ "$(entries)" = 0 ] && break
	sleep 0.2
done
[ "$(entries)" = 0 ] || fail "expired entries still in the trash: $(entries)"
for ((i = 0; i < 150; i++)); do
	[ "$(frags)" -lt "$base" ] && break
	sleep 0.2
done
[ "$(frags)" -lt "$base" ] || fail "the expired files' fragments were not collected"
log "expired entries purged by the leader, their fragments collected"

ctl trash set demo off >/dev/null || fail "trash set off"
echo x > "$M/gone"
rm "$M/gone"
[ "$(entries)" = 0 ] || fail "trash off still kept a file"
unmount_bucket "$M" || fail "unmount"
log PASS
