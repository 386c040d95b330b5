#!/usr/bin/env bash
# mount_writeback.sh: a mount with the kernel's write-back cache (-o writeback_cache=1) keeps
# what close and fsync promise: fio's 4 KiB random writes (the case it speeds up) and a file
# appended to in small pieces read back identical from a second, ordinary mount once close
# returned; a partial overwrite through an O_WRONLY descriptor (the kernel then reads the
# partial pages) is correct; data fsync'd before the write-back mount is killed with SIGKILL is
# all there.
. "$(dirname "$0")/mountlib.sh"

cluster_up 6
W="$T/wb"
R="$T/plain"
mount_bucket demo "$W" "writeback_cache=1"
mount_bucket demo "$R"
grep -q "write-back cache on" "$T/objfs.1.log" ||
	{ cat "$T/objfs.1.log"; fail "the write-back mount did not get the kernel's write-back cache"; }

# Random 4 KiB writes, verified on the write-back mount, then read on the plain one.
t fio --name=rand --ioengine=psync --filename="$W/rand" --rw=randwrite --bs=4k --size=16M \
	--verify=crc32c --do_verify=1 --verify_state_save=0 --end_fsync=1 \
	--output="$T/fio.log" || { cat "$T/fio.log"; fail "fio on the write-back mount"; }
t cp "$W/rand" "$T/rand.w" || fail "read back on the write-back mount"
t cmp "$R/rand" "$T/rand.w" || fail "the plain mount reads other bytes than the writer wrote"
log "16 MiB of random 4 KiB writes: same bytes on both mounts"

# 2000 appends of 100 bytes through one O_WRONLY descriptor: after close the other mount
# reads exactly them.
head -c 200000 /dev/urandom > "$T/app"
t python3 - "$T/app" "$W/app" <<'PY' || fail "appending on the write-back mount"
import os, sys
data = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
for i in range(0, len(data), 100):
    os.write(fd, data[i:i + 100])
os.close(fd)
PY
[ "$(t stat -c %s "$R/app")" = 200000 ] || fail "the plain mount sees $(t stat -c %s "$R/app") bytes, not 200000"
t cmp "$T/app" "$R/app" || fail "appended file differs on the plain mount"

# Overwrite the middle of a file through O_WRONLY: the kernel reads the partial pages first.
t python3 - "$W/app" <<'PY' || fail "partial overwrite on the write-back mount"
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b"X" * 10, 4095)
os.close(fd)
PY
printf 'XXXXXXXXXX' | dd of="$T/app" bs=1 seek=4095 conv=notrunc status=none
t cmp "$T/app" "$R/app" || fail "partial overwrite through O_WRONLY differs on the plain mount"

# fsync'd data survives a SIGKILL of the write-back mount.
head -c 3000000 /dev/urandom > "$T/synced"
t python3 - "$T/synced" "$W/synced" <<'PY' || fail "fsync on the write-back mount"
import os, sys
data = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT, 0o644)
for i in range(0, len(data), 1000):
    os.write(fd, data[i:i + 1000])
os.fsync(fd)
PY
kill -9 "${_mnt_pid[$W]}"
wait "${_mnt_pid[$W]}" 2>/dev/null
unset "_mnt_pid[$W]"
timeout -k 2 10 fusermount3 -u -z "$(realpath "$W")" 2>/dev/null || timeout 10 umount -l "$W"
t cmp "$T/synced" "$R/synced" || fail "data fsync'd before SIGKILL of the write-back mount differs"
log "fsync'd file intact after SIGKILL of the write-back mount"
unmount_bucket "$R" || fail "unmount"
log "PASS"
