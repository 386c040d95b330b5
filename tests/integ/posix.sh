#!/usr/bin/env bash
# posix.sh: an objfs mount behaves as POSIX programs expect (posix_check: the errno of each
# refused call, renames, hard and symbolic links, xattrs, unlinked open files, sparse files,
# times, modes, owners and permissions as nobody), and the mount and objfsctl share one
# namespace: an object put with objfsctl is a file in the mount under its parent dirs with the
# same bytes; a file written in the mount is read by objfsctl get as soon as close returned,
# is listed by objfsctl ls, and renames and unlinks in the mount move and remove its object.
. "$(dirname "$0")/mountlib.sh"

SRC=${OBJFS_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
PC="$BUILD/tests/integ/posix_check"
if [ ! -x "$PC" ]; then
	# Not built by `make check` (check_PROGRAMS): build it for this run only.
	PC="$T/posix_check"
	cc -std=gnu11 -O1 -Wall -Wextra -Werror -D_GNU_SOURCE "$SRC/tests/integ/posix_check.c" \
		-o "$PC" || fail "cannot build posix_check"
fi

cluster_up 6
M="$T/mnt"
# allow_other: the permission checks run as nobody, whom a FUSE mount refuses outright without it.
mount_bucket demo "$M" allow_other

t "$PC" "$M" > "$T/posix.out" 2>&1
rc=$?
cat "$T/posix.out"
[ $rc -eq 0 ] || fail "posix_check: $(grep -c '^not ok' "$T/posix.out") checks failed (exit $rc)"
log "posix_check passed on the mount"

# objfsctl -> mount: the key's prefixes are directories, the bytes are the same.
randfile "$T/put.bin" 3000017
ctl put demo from-ctl/deep/er/file.bin "$T/put.bin" >/dev/null || fail "objfsctl put"
ctl put demo from-ctl/empty /dev/null >/dev/null || fail "objfsctl put of an empty object"
for d in from-ctl from-ctl/deep from-ctl/deep/er; do
	t test -d "$M/$d" || fail "$d of a put object is not a directory in the mount"
done
[ "$(t ls "$M/from-ctl/deep")" = er ] || fail "ls of a put object's parent does not show 'er'"
[ "$(t stat -c %s "$M/from-ctl/deep/er/file.bin")" = 3000017 ] ||
	fail "size in the mount of an object put with objfsctl"
t cmp "$T/put.bin" "$M/from-ctl/deep/er/file.bin" ||
	fail "object put with objfsctl differs in the mount"
[ "$(t stat -c %s "$M/from-ctl/empty")" = 0 ] || fail "empty object is not an empty file"

# mount -> objfsctl.  cp closes the file; nothing else (no fsync, no unmount) happens before
# objfsctl reads it: close-to-open consistency as NFS gives it.
randfile "$T/mnt.bin" 5000001
t mkdir -p "$M/from-mount/sub" || fail "mkdir -p in the mount"
t cp "$T/mnt.bin" "$M/from-mount/sub/file.bin" || fail "cp into the mount"
ctl get demo from-mount/sub/file.bin "$T/got.bin" ||
	fail "objfsctl get of a file written in the mount"
cmp -s "$T/mnt.bin" "$T/got.bin" || fail "objfsctl get of a file written in the mount differs"
ctl ls demo from-mount/ > "$T/ls" || fail "objfsctl ls"
grep -qE '^ *5000001  from-mount/sub/file\.bin$' "$T/ls" ||
	{ cat "$T/ls"; fail "objfsctl ls misses the file written in the mount, or its size"; }

t mv "$M/from-mount/sub/file.bin" "$M/from-mount/moved.bin" || fail "mv in the mount"
ctl get demo from-mount/moved.bin - | cmp -s - "$T/mnt.bin" || fail "objfsctl get after a rename"
expect_fail 1 "objfsctl get: demo/from-mount/sub/file.bin: No such file or directory" \
	"$CTL" get demo from-mount/sub/file.bin -
t rm "$M/from-mount/moved.bin" || fail "rm in the mount"
expect_fail 1 "objfsctl get: demo/from-mount/moved.bin: No such file or directory" \
	"$CTL" get demo from-mount/moved.bin -

unmount_bucket "$M" || fail "unmount"
log "PASS"
