#!/usr/bin/env bash
# mount_persist.sh: what was written through an objfs mount (a 200 MiB file and a small tree
# with modes, owners, times, links, a fifo and empty files) is there unchanged after an unmount
# and remount, and after every node was stopped and restarted (dev down, dev up) and the
# bucket mounted again; and the 200 MiB file reads back identical while a node that holds no
# metadata shard of the bucket is killed with SIGKILL in the middle of the read.
. "$(dirname "$0")/mountlib.sh"

BIG=$((200 << 20))

# check_tree WHEN: the tree is unchanged and the big file has its size.
check_tree() {
	same_tree "$T/keep" "$M/keep"
	[ "$(t stat -c %s "$M/big")" = "$BIG" ] || fail "$1: size of the big file changed"
	log "$1: tree unchanged"
}

cluster_up 6
M="$T/mnt"
mount_bucket demo "$M"

mkdir -p "$T/keep/a/b/c" "$T/keep/empty dir"
randfile "$T/keep/a/b/c/small" 70001
randfile "$T/keep/block" 4194304
: > "$T/keep/empty"
ln "$T/keep/block" "$T/keep/a/hardlink"
ln -s a/b/c/small "$T/keep/symlink"
mkfifo "$T/keep/pipe.fifo"
chmod 0640 "$T/keep/a/b/c/small"
chmod 0711 "$T/keep/a/b"
touch -d '1999-12-31 23:59:59.5' "$T/keep/empty"
[ "$(id -u)" -ne 0 ] || chown 65534:65534 "$T/keep/block"
t cp -a "$T/keep" "$M/keep" || fail "cp -a into the mount"
randfile "$T/big" "$BIG"
big_sum=$(sha "$T/big")
t cp "$T/big" "$M/big" || fail "cp of the big file into the mount"
rm -f "$T/big"

remount_bucket "$M"
check_tree "after a remount"
[ "$(sha "$M/big")" = "$big_sum" ] || fail "after a remount: the big file differs"

unmount_bucket "$M" || fail "unmount"
ctl dev down --dir "$T/cluster" >/dev/null || fail "dev down"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "dev up after dev down"
ctl status >/dev/null || fail "status after the restart: not every node is up"
mount_bucket demo "$M"
# The big file is not read here: the next step must read it from the nodes, not from the
# page cache.
check_tree "after every node restarted"

# A node holding a metadata shard of demo would take the namespace with it; such nodes are
# the ones with DATA_DIR/shards/demo.db.  Spare the bucket catalog too when a node allows.
victim=
for pass in 1 2; do
	for i in 1 2 3 4 5 6; do
		[ -e "$T/cluster/node$i/shards/demo.db" ] && continue
		[ $pass -eq 1 ] && [ -e "$T/cluster/node$i/shards/catalog.db" ] && continue
		victim=$i
		break 2
	done
done
[ -n "$victim" ] || fail "every node holds a shard of demo: no node can be killed"

# The reader takes 1 MiB, then pauses 20 ms: the 200 reads last seconds, so the kill lands
# while most of the file is still unread.  $T/progress counts the MiB read.
echo 0 > "$T/progress"
{
	t bash -c 'exec 3< "$1" || exit 1
		for ((i = 1; i <= 200; i++)); do
			dd bs=1M count=1 iflag=fullblock status=none <&3 || exit 1
			echo "$i" > "$2"
			sleep 0.02
		done' _ "$M/big" "$T/progress"
	echo $? > "$T/reader.rc"
} | sha256sum | cut -d' ' -f1 > "$T/read.sum" &
reader=$!
for ((i = 0; i < 600; i++)); do
	p=$(cat "$T/progress")
	[ "${p:-0}" -ge 20 ] && break
	sleep 0.1
done
[ "${p:-0}" -ge 20 ] || fail "the reader read only ${p:-0} MiB in 60 s"
kill9_node "$victim"
log "killed node $victim after $p MiB of 200 were read"
wait "$reader"
[ "$(cat "$T/reader.rc")" = 0 ] ||
	fail "reading the big file failed (exit $(cat "$T/reader.rc")) after killing node $victim"
[ "$(cat "$T/read.sum")" = "$big_sum" ] || fail "the big file read across the kill differs"
t ls "$M/keep" >/dev/null || fail "ls after the kill"
log "the big file read back identical across the kill of node $victim"

unmount_bucket "$M" || fail "unmount"
log "PASS"
