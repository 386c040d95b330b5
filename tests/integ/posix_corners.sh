#!/usr/bin/env bash
# posix_corners.sh: the POSIX corners beyond the conformance suite, on a real mount:
# lseek SEEK_DATA/SEEK_HOLE from the chunk map; fallocate in its default, KEEP_SIZE,
# PUNCH_HOLE and ZERO_RANGE modes (a punched whole chunk is a hole of the chunk map again); a directory replaced by rename or removed while open stays valid with nlink 0
# until it is closed; and `-o remount,ro` / `remount,rw` of a live mount.
. "$(dirname "$0")/mountlib.sh"

cluster_up 3
M="$T/mnt"
mount_bucket demo "$M"
CS=$((4 << 20)) # the dev cluster's chunk size

# ---- SEEK_DATA / SEEK_HOLE ----
# data in chunk 0 (4 KiB) and chunk 2 (4 KiB at 8 MiB): holes between and after
t python3 - "$M/sparse" "$CS" <<'EOF' || fail "lseek SEEK_DATA/SEEK_HOLE"
import errno, os, sys
p, cs = sys.argv[1], int(sys.argv[2])
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(fd, b"a" * 4096, 0)
os.pwrite(fd, b"b" * 4096, 2 * cs)
size = 2 * cs + 4096
want = [(os.SEEK_DATA, 0, 0), (os.SEEK_DATA, 4096, 2 * cs), (os.SEEK_DATA, cs + 7, 2 * cs),
        (os.SEEK_DATA, 2 * cs + 100, 2 * cs + 100), (os.SEEK_HOLE, 0, 4096),
        (os.SEEK_HOLE, 5000, 5000), (os.SEEK_HOLE, 2 * cs, size)]
for whence, off, exp in want:
    got = os.lseek(fd, off, whence)
    if got != exp:
        sys.exit(f"lseek({off}, {whence}) = {got}, expected {exp}")
for whence in (os.SEEK_DATA, os.SEEK_HOLE):
    try:
        os.lseek(fd, size, whence)
        sys.exit("lseek at the end did not fail")
    except OSError as e:
        if e.errno != errno.ENXIO:
            sys.exit(f"lseek at the end: {e}, expected ENXIO")
os.close(fd)
EOF
log "SEEK_DATA/SEEK_HOLE follow the chunk map"

# ---- fallocate ----
t fallocate -l 1M "$M/fa" || fail "fallocate (default mode)"
[ "$(stat -c %s "$M/fa")" = 1048576 ] || fail "fallocate -l 1M: size $(stat -c %s "$M/fa")"
t fallocate -n -l 8M "$M/fa" || fail "fallocate --keep-size"
[ "$(stat -c %s "$M/fa")" = 1048576 ] || fail "fallocate -n changed the size"
out=$(t fallocate -c -o 0 -l 4096 "$M/fa" 2>&1) && fail "collapse-range succeeded"
case $out in *"Operation not supported"*) ;; *) fail "collapse-range: '$out'" ;; esac

randfile "$T/r" $((3 * CS))
t cp "$T/r" "$M/r" || fail "cp"
# punch [1000, 1000 + 2 chunks): chunk 1 whole (a hole), the edges zeroed
t fallocate -p -o 1000 -l $((2 * CS)) "$M/r" || fail "fallocate --punch-hole"
t python3 - "$T/r" "$M/r" "$CS" <<'EOF' || fail "content after the punch"
import sys
src, got, cs = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), int(sys.argv[3])
exp = src[:1000] + bytes(2 * cs) + src[1000 + 2 * cs:]
sys.exit(0 if got == exp else "punched file differs")
EOF
out=$(t python3 -c "import os; fd = os.open('$M/r', os.O_RDONLY); print(os.lseek(fd, $CS, os.SEEK_DATA))")
[ "$out" = $((2 * CS)) ] || fail "the punched chunk is not a hole: SEEK_DATA from it gave $out"
t fallocate -z -o 100 -l $((5 * CS)) "$M/r" || fail "fallocate --zero-range"
[ "$(stat -c %s "$M/r")" = $((5 * CS + 100)) ] || fail "zero-range past the end: size"
t python3 - "$T/r" "$M/r" <<'EOF' || fail "content after zero-range"
import sys
src, got = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
sys.exit(0 if got == src[:100] + bytes(len(got) - 100) else "zeroed file differs")
EOF
remount_bucket "$M"
t python3 - "$T/r" "$M/r" <<'EOF' || fail "content after a remount"
import sys
src, got = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read()
sys.exit(0 if got == src[:100] + bytes(len(got) - 100) else "zeroed file differs after remount")
EOF
log "fallocate: size, keep-size, punch-hole, zero-range; unsupported modes EOPNOTSUPP"

# ---- directories replaced or removed while open ----
t python3 - "$M" <<'EOF' || fail "open directory replaced by rename"
import errno, os, sys
m = sys.argv[1]
os.mkdir(f"{m}/a"); os.mkdir(f"{m}/b"); os.mkdir(f"{m}/c")
fd = os.open(f"{m}/b", os.O_RDONLY)
os.rename(f"{m}/a", f"{m}/b")
st = os.fstat(fd)
if st.st_nlink != 0 or (st.st_mode & 0o170000) != 0o040000:
    sys.exit(f"replaced directory: nlink {st.st_nlink} mode {oct(st.st_mode)}")
if os.listdir(fd) != []:
    sys.exit("replaced directory lists entries")
try:
    os.mkdir("x", dir_fd=fd)
    sys.exit("mkdir in a replaced directory succeeded")
except OSError as e:
    if e.errno != errno.ENOENT:
        sys.exit(f"mkdir in a replaced directory: {e}")
os.close(fd)
fd = os.open(f"{m}/c", os.O_RDONLY)
os.rmdir(f"{m}/c")
if os.fstat(fd).st_nlink != 0:
    sys.exit("removed directory: nlink not 0")
os.close(fd)
if sorted(os.listdir(m)) != ["b", "fa", "r", "sparse"]:
    sys.exit(f"entries: {sorted(os.listdir(m))}")
EOF
log "a directory replaced or removed while open stays valid (nlink 0) until closed"

# ---- remount read-only and back ----
t "$OBJFS" demo "$M" -o remount,ro || fail "remount,ro"
awk -v d="$(realpath "$M")" '$5 == d && $6 ~ /^ro(,|$)/ { f = 1 } END { exit !f }' /proc/self/mountinfo ||
	fail "not read-only after remount,ro"
out=$(t sh -c "echo x > '$M/ro-test'" 2>&1) && fail "write on a read-only mount succeeded"
case $out in *"Read-only file system"*) ;; *) fail "write on a read-only mount: '$out'" ;; esac
cmp -s <(head -c 100 "$T/r") <(head -c 100 "$M/r") || fail "read on a read-only mount"
t "$OBJFS" demo "$M" -o remount,rw || fail "remount,rw"
t sh -c "echo x > '$M/rw-test'" || fail "write after remount,rw"
out=$(t "$OBJFS" demo "$T" -o remount,ro 2>&1) && fail "remount of a non-objfs directory succeeded"
case $out in *"not an objfs mount"*) ;; *) fail "remount of a non-objfs directory: '$out'" ;; esac
log "remount,ro refuses writes with EROFS; remount,rw writes again"
unmount_bucket "$M" || fail "unmount"
log PASS
