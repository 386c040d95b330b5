#!/usr/bin/env bash
# big_dir.sh: a directory of N (20,000) entries streams in pages.
#  1. the mount lists it (getdents) with the exact count and names, in
#     N / 1024 shard pages (its own count of queries), memory bounded;
#  2. `objfsctl ls BUCKET h/` lists the same names with bounded memory,
#     and `objfsctl ls -d BUCKET` folds h/ into one line;
#  3. a listing resumed with seekdir at what telldir said, after creates
#     in the directory, returns every entry that was there before exactly
#     once over the two halves -- no duplicate, no gap -- and each new
#     entry at most once; so does a whole listing while another process
#     creates files in the directory.
. "$(dirname "$0")/mountlib.sh"

N=${BIG_DIR_N:-20000}
NSLOAD="$BUILD/bench/nsload"
[ -x "$NSLOAD" ] || { log "SKIP: $NSLOAD is not built"; exit 77; }
command -v python3 >/dev/null || { log "SKIP: no python3"; exit 77; }

cluster_up 3
M="$T/mnt"
mount_bucket demo "$M"
# N objects h/f0000000000 ... as fast as 16 threads put them.
t "$NSLOAD" fill -c "$OBJFS_CONF" -b demo --from 0 --to "$N" -t 16 --huge-pct 100 \
	>"$T/fill.log" 2>&1 || fail "fill: $(cat "$T/fill.log")"
seq -f 'f%010g' 0 $((N - 1)) > "$T/want"

# --- 1: the mount ----------------------------------------------------------
# A mount of its own for the count of shard requests it logs at unmount.
mount_bucket demo "$T/m2"
m2log="$T/objfs.$_mnt_seq.log"
pid=${_mnt_pid[$T/m2]}
hwm0=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
t ls -f "$T/m2/h" | grep -v '^\.\.\?$' | sort > "$T/got" || fail "ls -f of the mount"
cmp -s "$T/got" "$T/want" || fail "the mount listed $(wc -l < "$T/got") names, not the $N made ($(diff "$T/want" "$T/got" | head -n 3 | tr '\n' ' '))"
hwm1=$(awk '/^VmHWM/ { print $2 }' "/proc/$pid/status")
unmount_bucket "$T/m2" || fail "unmount of $T/m2"
# Pages of 1,024 entries: N / 1024 of them, plus the lookups of the walk.
q=$(sed -n 's/.*fuse\.stats: cluster calls: \([0-9]*\) queries.*/\1/p' "$m2log")
[ -n "$q" ] && [ "$q" -le $((N / 1024 + 8)) ] ||
	fail "listing $N entries took '$q' shard queries, not about $((N / 1024 + 1)) pages"
# Every entry of a readdirplus is a kernel inode reference the mount tracks
# (~0.3 KiB each, ~0.7 KiB under ASan); the listing itself is one page.
[ $((hwm1 - hwm0)) -lt "$N" ] ||
	fail "the mount's peak memory grew by $((hwm1 - hwm0)) KiB listing $N entries"
log "mount: $N names exact in $q shard queries, peak memory +$((hwm1 - hwm0)) KiB"

# --- 2: objfsctl ls ------------------------------------------------------
t /usr/bin/time -o "$T/rss" -f %M "$CTL" ls demo h/ > "$T/ls" || fail "objfsctl ls"
awk '{ print $2 }' "$T/ls" | sed 's|^h/||' > "$T/got2"
cmp -s "$T/got2" "$T/want" || fail "objfsctl ls listed $(wc -l < "$T/got2") keys, not the $N made"
rss=$(tail -n 1 "$T/rss")
[ "$rss" -lt 32768 ] || fail "objfsctl ls of $N keys peaked at $rss KiB"
log "objfsctl ls: $N keys exact in key order, peak RSS $rss KiB"
# With a delimiter the shard folds h/ into one entry: one line, not N.
got=$(ctl ls -d demo) || fail "objfsctl ls -d"
[ "$got" = "$(printf '%12s  %s' PRE h/)" ] || fail "objfsctl ls -d demo said '$(head -c 200 <<<"$got")'"

# --- 3: seekdir/telldir across creates; a listing beside a writer -------
cat > "$T/seek.py" <<'EOF'
import ctypes, os, sys
class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_uint16), ("d_type", ctypes.c_uint8),
                ("d_name", ctypes.c_char * 256)]
libc = ctypes.CDLL(None, use_errno=True)
libc.opendir.restype = ctypes.c_void_p
libc.opendir.argtypes = [ctypes.c_char_p]
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.readdir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.telldir.argtypes = [ctypes.c_void_p]
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
libc.closedir.argtypes = [ctypes.c_void_p]
d, first, add = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
dp = libc.opendir(d.encode())
assert dp, "opendir"
def read(n):
    out = []
    while n is None or len(out) < n:
        e = libc.readdir(dp)
        if not e:
            break
        name = e.contents.d_name.decode()
        if name not in (".", ".."):
            out.append(name)
    return out
head = read(first)
pos = libc.telldir(dp)
read(3000)  # read on past the mark: the kernel and the daemon move on
for i in range(add):  # new names sort before the old ones (and hash anywhere)
    open(os.path.join(d, "a%06d" % i), "w").close()
libc.seekdir(dp, pos)
tail = read(None)
libc.closedir(dp)
print("\n".join(head + tail))
EOF
t python3 "$T/seek.py" "$M/h" 7000 500 > "$T/seek" || fail "seekdir run"
dups=$(sort "$T/seek" | uniq -d | head -n 3 | tr '\n' ' ')
[ -z "$dups" ] || fail "after seekdir, names listed twice: $dups"
grep -v '^a' "$T/seek" | sort | cmp -s - "$T/want" ||
	fail "after seekdir the old names are not all there once ($(grep -vc '^a' "$T/seek") of $N)"
log "seekdir after 500 creates: $N old names once each, $(grep -c '^a' "$T/seek") of 500 new, no duplicate"

# A whole listing while a writer adds 1000 names.
( for i in $(seq 1000); do : > "$M/h/b$i" || exit 1; done ) &
wpid=$!
t ls -f "$M/h" > "$T/live" || fail "ls -f beside a writer"
kill -0 "$wpid" 2>/dev/null || log "note: the writer finished before the listing did"
wait "$wpid" || fail "the writer failed"
dups=$(grep -v '^\.\.\?$' "$T/live" | sort | uniq -d | head -n 3 | tr '\n' ' ')
[ -z "$dups" ] || fail "a listing beside a writer repeated: $dups"
grep -v -e '^a' -e '^b' -e '^\.\.\?$' "$T/live" | sort | cmp -s - "$T/want" ||
	fail "a listing beside a writer missed old names"
log "PASS: listing beside a writer: every old name once, no duplicate"
