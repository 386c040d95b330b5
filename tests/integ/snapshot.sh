#!/usr/bin/env bash
# snapshot.sh: snapshots of a directory tree and of a whole bucket on a real mount: the copy
# under /.snapshots/NAME has the tree as it was (contents of multi-block files, modes, hard
# links, symlinks, xattrs) however the live tree changes afterwards, even once the live files
# are deleted and GC ran; every change inside a snapshot fails with EROFS and the name
# .snapshots cannot be taken; snapshots survive a remount and a kill -9 of the shard's leader;
# removing them frees their blocks (the fragment count comes back).
. "$(dirname "$0")/mountlib.sh"

cluster_up 3
M="$T/mnt"
mount_bucket demo "$M"

frags() { ctl status | awk '$4 == "up" { n += $9 } END { print n + 0 }'; }
# expect_errno ERRTEXT CMD...: CMD fails and says ERRTEXT
expect_errno() {
	local want=$1 out
	shift
	out=$(t "$@" 2>&1) && fail "$* succeeded"
	case $out in *"$want"*) ;; *) fail "$*: '$out', expected '$want'" ;; esac
}

expect_errno "Operation not permitted" mkdir "$M/.snapshots"
base=$(frags)
mkdir -p "$M/proj/a" "$M/keep"
randfile "$T/big" $((9 << 20))
cp "$T/big" "$M/proj/a/big" || fail "cp big"
echo small > "$M/proj/s"
ln "$M/proj/s" "$M/proj/s2"
ln -s s "$M/proj/sl"
chmod 0640 "$M/proj/s"
setfattr -n user.tag -v one "$M/proj/s" || fail "setfattr"
cp -a "$M/proj" "$T/before" || fail "copy of the tree before the snapshot"

ctl snapshot create demo/proj p1 >/dev/null || fail "snapshot create demo/proj"
ctl snapshot create demo all >/dev/null || fail "snapshot create demo"
expect_errno "a snapshot of that name exists" "$CTL" snapshot create demo/proj p1
expect_errno "Invalid argument" "$CTL" snapshot create demo/.snapshots/p1 p2
names=$(ctl snapshot ls demo --json | python3 -c 'import json,sys; print(" ".join(s["name"] for s in json.load(sys.stdin)))')
[ "$names" = "all p1" ] || fail "snapshot ls: '$names'"

# Made by another client: the mount sees it once its negative entry for .snapshots (from the
# refused mkdir above) times out (negative_timeout, 1 s).
for ((i = 0; i < 50; i++)); do
	[ -d "$M/.snapshots/p1" ] && [ -d "$M/.snapshots/all" ] && break
	sleep 0.1
done
# the live tree moves on
echo changed > "$M/proj/s"
rm "$M/proj/a/big" "$M/proj/s2"
setfattr -n user.tag -v two "$M/proj/s"
mkdir "$M/proj/new"
check_snap() { # check_snap WHEN
	same_tree "$T/before" "$M/.snapshots/p1"
	same_tree "$T/before" "$M/.snapshots/all/proj"
	cmp -s "$T/big" "$M/.snapshots/p1/a/big" || fail "$1: the snapshot's big file differs"
	[ "$(getfattr --only-values -n user.tag "$M/.snapshots/p1/s")" = one ] || fail "$1: xattr"
	[ "$(stat -c %h "$M/.snapshots/p1/s")" = 2 ] || fail "$1: hard link count"
	[ "$(stat -c %i "$M/.snapshots/p1/s")" = "$(stat -c %i "$M/.snapshots/p1/s2")" ] ||
		fail "$1: the hard links are not one inode"
	[ "$(readlink "$M/.snapshots/p1/sl")" = s ] || fail "$1: symlink"
	[ ! -e "$M/.snapshots/all/.snapshots" ] || fail "$1: a snapshot holds the snapshots"
}
check_snap "after the live tree changed"
log "the snapshots keep the tree as it was: contents, modes, links, symlinks, xattrs"

# nothing inside a snapshot changes
expect_errno "Read-only file system" sh -c "echo x > '$M/.snapshots/p1/s'"
expect_errno "Read-only file system" touch "$M/.snapshots/p1/new"
expect_errno "Read-only file system" mkdir "$M/.snapshots/p1/d"
expect_errno "Read-only file system" rm "$M/.snapshots/p1/s"
expect_errno "Read-only file system" mv "$M/.snapshots/p1" "$M/stolen"
expect_errno "Read-only file system" chmod 0777 "$M/.snapshots/p1/s"
expect_errno "Read-only file system" setfattr -n user.tag -v x "$M/.snapshots/p1/s"
expect_errno "Read-only file system" ln "$M/.snapshots/p1/s" "$M/keep/l"
expect_errno "Read-only file system" rm -rf "$M/.snapshots"
expect_errno "Read-only file system" "$CTL" put demo .snapshots/p1/x "$T/big"
ctl get demo .snapshots/p1/a/big "$T/got" || fail "objfsctl get from a snapshot"
cmp -s "$T/big" "$T/got" || fail "objfsctl get from a snapshot: content"
log "every change inside a snapshot fails with EROFS; objfsctl get reads one"

# durable: a remount, and the shard's leader killed
remount_bucket "$M"
leader=$(ctl status 2>/dev/null | awk '$1 == "demo" && $3 == "leader" { print $2 }' | head -1)
[ -n "$leader" ] || fail "no leader of demo in status"
kill -9 "$(node_pid "$leader")"
for ((i = 0; i < 150; i++)); do
	t ls "$M/.snapshots/p1" >/dev/null 2>&1 && break
	sleep 0.2
done
check_snap "after a remount and a kill -9 of node $leader (the leader)"
log "snapshots survive a remount and the leader's death"

# removal frees what only the snapshots used
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of node $leader"
ctl snapshot rm demo p1 >/dev/null || fail "snapshot rm p1"
ctl snapshot rm demo all >/dev/null || fail "snapshot rm all"
expect_errno "No such file or directory" "$CTL" snapshot rm demo p1
rm -rf "$M/proj" "$M/keep"
for ((i = 0; i < 150; i++)); do
	[ "$(frags)" -le "$base" ] && break
	sleep 0.2
done
[ "$(frags)" -le "$base" ] || fail "fragments left after the snapshots went: $(frags), were $base"
[ -z "$(ls -A "$M/.snapshots")" ] || fail ".snapshots not empty"
log "removed snapshots free their blocks"
unmount_bucket "$M" || fail "unmount"
log PASS
