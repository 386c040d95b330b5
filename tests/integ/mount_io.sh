#!/usr/bin/env bash
# mount_io.sh: data written through an objfs mount reads back identical, also from a fresh
# mount: fio sequential (1 MiB) and random (4 KiB) writes verified with crc32c; a 1 GiB file
# (512 MiB on a slow mount) copied with dd; a ~20 MB source tree copied with cp -a and through
# tar both ways, with modes, owners, times, hard and symbolic links, fifos and odd names; 8
# writers at once on separate files; 2 writers at once creating 500 files each in one dir;
# the kernel's read-ahead of the mount set to 1 MiB.
. "$(dirname "$0")/mountlib.sh"

# make_tree DIR: ~20 MB of system headers (a few thousand files) plus the cases copies get
# wrong: empty files and dirs, deep paths, long and non-ASCII names, hard links, symlinks
# (also dangling and to a dir), a fifo, odd modes, old times and (as root) other owners.
make_tree() {
	local d=$1 sub i
	mkdir -p "$d/sys" "$d/odd/empty dir" "$d/odd/deep/a/b/c/d/e/f/g/h" "$d/odd/wide"
	for sub in linux asm-generic x86_64-linux-gnu c++; do
		[ -d "/usr/include/$sub" ] || continue
		[ "$(du -sm "$d" | cut -f1)" -lt 20 ] || break
		cp -a "/usr/include/$sub" "$d/sys/" || fail "cannot copy /usr/include/$sub"
	done
	for i in $(seq 300); do echo "$i" > "$d/odd/wide/f$i"; done
	: > "$d/odd/empty file"
	echo leaf > "$d/odd/deep/a/b/c/d/e/f/g/h/leaf"
	echo 'ünïcödé' > "$d/odd/ünïcödé ☃ name"
	echo long > "$d/odd/$(printf 'L%.0s' $(seq 255))"
	head -c 1000003 /dev/urandom > "$d/odd/binary"
	ln "$d/odd/binary" "$d/odd/hardlink"
	ln -s binary "$d/odd/symlink"
	ln -s ../nowhere "$d/odd/dangling"
	ln -s deep/a "$d/odd/dirlink"
	mkfifo "$d/odd/pipe.fifo"
	printf '#!/bin/sh\necho hi\n' > "$d/odd/exec"
	chmod 0755 "$d/odd/exec"
	echo secret > "$d/odd/private"
	chmod 0600 "$d/odd/private"
	chmod 0700 "$d/odd/deep/a"
	mkdir -m 1777 "$d/odd/sticky"
	touch -d '2001-02-03 04:05:06.789' "$d/odd/old" "$d/odd/deep/a/b"
	if [ "$(id -u)" -eq 0 ]; then
		echo nobody > "$d/odd/nobody"
		chown 65534:65534 "$d/odd/nobody" "$d/odd/wide"
		chown -h 65534:65534 "$d/odd/symlink"
	fi
}

# fio_job NAME ARGS...: one fio job on the mount; verifying jobs must have read back every
# block they wrote (so a job cut short by --runtime still verified what it wrote).
fio_job() {
	local name=$1 reads writes
	shift
	# No verify state file: fio would leave it in the working directory.
	t fio --name="$name" --ioengine=psync --verify_state_save=0 --output="$T/fio-$name.log" \
		"$@" || { cat "$T/fio-$name.log"; fail "fio $name"; }
	read -r reads writes < <(sed -n 's/.*issued rwts: total=\([0-9]*\),\([0-9]*\),.*/\1 \2/p' \
		"$T/fio-$name.log")
	[ -n "$writes" ] || { cat "$T/fio-$name.log"; fail "fio $name: no I/O counts"; }
	log "fio $name: $reads blocks read and verified, $writes written"
	[ "$reads" -ge "$writes" ] || fail "fio $name verified only $reads of $writes blocks"
}

cluster_up 6
M="$T/mnt"
mount_bucket demo "$M"
t mkdir "$M/fio" || fail "mkdir in the mount"

start=$SECONDS
fio_job seq --filename="$M/fio/seq" --rw=write --bs=1M --size=256M \
	--verify=crc32c --do_verify=1 --end_fsync=1
seq_secs=$((SECONDS - start))
remount_bucket "$M"
fio_job seq-again --filename="$M/fio/seq" --rw=write --bs=1M --size=256M \
	--verify=crc32c --verify_only
# verify_backlog checks blocks while writing: a run that hits --runtime skips the final
# verify phase, the backlog still covers what it wrote.
fio_job rand --filename="$M/fio/rand" --rw=randwrite --bs=4k --size=64M --runtime=30 \
	--verify=crc32c --do_verify=1 --verify_backlog=1024 --end_fsync=1
t rm -r "$M/fio" || fail "rm -r of the fio files"

# One big file.  Writing and reading 1 GiB takes about 4 times the 256 MiB fio run; past
# a minute for that, 512 MiB shows the same and keeps the whole test near 2 min.
big_mb=1024
[ $((seq_secs * 4)) -le 60 ] || big_mb=512
log "dd of $big_mb MiB (the 256 MiB fio run took ${seq_secs}s)"
randfile "$T/big" $((big_mb << 20))
big_sum=$(sha "$T/big")
t dd if="$T/big" of="$M/big" bs=1M conv=fsync status=none || fail "dd into the mount"
rm -f "$T/big"
remount_bucket "$M"
[ "$(sha "$M/big")" = "$big_sum" ] || fail "$big_mb MiB file read back differs"
# The first open set the kernel's read-ahead (kernel_readahead, 1 MiB): whole blocks per read
# request instead of FUSE's 128 KiB.
if [ "$(id -u)" -eq 0 ]; then
	dev=$(t mountpoint -d "$M") || fail "mountpoint -d $M"
	ra=$(cat "/sys/class/bdi/$dev/read_ahead_kb")
	[ "$ra" = 1024 ] || fail "kernel read-ahead of the mount is $ra KiB, not kernel_readahead's 1024"
fi
t rm "$M/big" || fail "rm of the big file"

make_tree "$T/tree"
log "tree: $(find "$T/tree" | wc -l) entries, $(du -sm "$T/tree" | cut -f1) MB"
t cp -a "$T/tree" "$M/tree" || fail "cp -a into the mount"
same_tree "$T/tree" "$M/tree"
t mkdir "$M/untar" || fail "mkdir in the mount"
t tar -C "$T/tree" -cf - . | t tar -C "$M/untar" -xpf -
[ "${PIPESTATUS[*]}" = "0 0" ] || fail "tar from local disk into the mount"
remount_bucket "$M"
same_tree "$T/tree" "$M/tree"
same_tree "$T/tree" "$M/untar" sec
mkdir "$T/back"
t tar -C "$M/untar" -cf - . | t tar -C "$T/back" -xpf -
[ "${PIPESTATUS[*]}" = "0 0" ] || fail "tar from the mount to local disk"
same_tree "$T/tree" "$T/back" sec
log "cp -a and tar round trips of the tree are identical"

# 8 writers at once, each on its own file.
t mkdir "$M/par" || fail "mkdir in the mount"
pids=()
for i in $(seq 8); do
	randfile "$T/par$i" $((32 << 20))
done
for i in $(seq 8); do
	t dd if="$T/par$i" of="$M/par/f$i" bs=1M status=none &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
[ $bad -eq 0 ] || fail "$bad of 8 parallel writers failed"

# 2 writers at once creating 500 files each in one directory.
t mkdir "$M/shared" || fail "mkdir in the mount"
pids=()
for w in a b; do
	t bash -c 'for i in $(seq 500); do echo "$2-$i" > "$1/$2-$i" || exit 1; done' _ \
		"$M/shared" "$w" &
	pids+=($!)
done
bad=0
for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
[ $bad -eq 0 ] || fail "$bad of 2 parallel creators failed"

remount_bucket "$M"
for i in $(seq 8); do
	[ "$(sha "$M/par/f$i")" = "$(sha "$T/par$i")" ] || fail "parallel writer $i: file differs"
done
{ for w in a b; do for i in $(seq 500); do echo "$w-$i"; done; done; } | sort > "$T/names"
t ls "$M/shared" | sort > "$T/listed"
diff "$T/names" "$T/listed" > "$T/names.diff" ||
	{ head "$T/names.diff"; fail "the shared dir does not list exactly the 1000 files made"; }
# File NAME holds "NAME\n", so the files read in name order give the name list back.
t bash -c 'cd "$1" && xargs -d "\n" cat < "$2"' _ "$M/shared" "$T/names" > "$T/contents" ||
	fail "reading the 1000 files"
cmp -s "$T/names" "$T/contents" || fail "some of the 1000 files hold the wrong bytes"
[ "$(ctl ls demo shared/ | wc -l)" -eq 1000 ] || fail "objfsctl ls does not list 1000 files"

unmount_bucket "$M" || fail "unmount"
log "PASS"
