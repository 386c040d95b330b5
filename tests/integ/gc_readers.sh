#!/usr/bin/env bash
# gc_readers.sh: readers never see an error, zeros or a mix because of GC.
# With a grace period of 2 s (free_grace), one mount overwrites whole files
# in a loop (O_TRUNC, write, close: numbered versions of 64 KiB..6 MiB, one
# or two blocks) while a second mount of the same bucket reads them in a
# loop: every read is entirely one version or the empty file between a
# truncate and its close, or one version cut short by a truncate that came
# while the read ran, or one version up to where its handle failed with
# ESTALE (versions_check --strict); never EIO, never a zero word.  The
# blocks of overwritten versions are collected meanwhile: afterwards only
# the current versions' fragments are left.  Then a handle held open
# across an overwrite and the deletion of its version's fragments: its
# next read fails with ESTALE exactly (never the new bytes, zeros or
# EIO), and a new open reads the new version whole.  And a handle that
# follows a file another mount appends to reads the appended bytes.
. "$(dirname "$0")/mountlib.sh"

VC="$BUILD/tests/integ/versions_check"
[ -x "$VC" ] || fail "$VC is not built"
FILES=8
SECS=10

cluster_up 6
# A short grace, so blocks are deleted while the readers run.  (Before
# handles kept their version, one run in five of the sanitizer build at
# 2 s saw a reader read zeros: a block of the version it had opened was
# deleted under it, the refetched extents were the next version's,
# shorter, and the kernel filled the short read's pages with zeros inside
# the size it had -- ARCHITECTURE.md, "Readers and GC".)
sed -i 's/^free_grace = .*/free_grace = 2/' "$OBJFS_CONF"
grep -qx "free_grace = 2" "$OBJFS_CONF" || fail "no free_grace line in $OBJFS_CONF"
ctl dev down --dir "$T/cluster" >/dev/null || fail "dev down"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "dev up with free_grace = 2"
W="$T/w"
R="$T/r"
mount_bucket demo "$W"
mount_bucket demo "$R" "${ROPTS:-}"
t "$VC" --dir "$W" --files "$FILES" --writers 4 --readers 0 --seconds 0 >/dev/null ||
	fail "first versions"
t "$VC" --dir "$W" --files "$FILES" --writers 4 --readers 0 --seconds "$SECS" >"$T/w.out" 2>&1 &
writer=$!
t "$VC" --dir "$R" --files "$FILES" --writers 0 --readers 4 --seconds "$SECS" --strict \
	>"$T/r.out" 2>&1
rrc=$?
wait "$writer"
wrc=$?
cat "$T/w.out" "$T/r.out"
[ "$wrc" -eq 0 ] || fail "the writer failed ($wrc)"
[ "$rrc" -eq 0 ] || fail "a reader saw an error or a mix ($rrc)"
writes=$(sed -n 's/^versions_check: \([0-9]*\) writes.*/\1/p' "$T/w.out")
reads=$(sed -n 's/.* \([0-9]*\) good reads.*/\1/p' "$T/r.out")
empty=$(sed -n 's/.* \([0-9]*\) empty.*/\1/p' "$T/r.out")
[ "${writes:-0}" -ge 50 ] || fail "only ${writes:-0} versions written"
[ $((${reads:-0} - ${empty:-0})) -ge 100 ] || fail "only ${reads:-0} reads, ${empty:-0} of them empty"
# Collected: at most two blocks of k+m = 6 fragments per file remain,
# where each overwrite left two more.
frags() { find "$T"/cluster/node*/frags -path '*/quarantine' -prune -o -type f -name '*.*' -print | wc -l; }
# Deletions come in bounded batches after the grace: up to a minute for
# the hundreds of versions a fast machine writes.
t0=$SECONDS
for _ in $(seq 900); do
	n=$(frags)
	[ "$n" -le $((FILES * 2 * 6)) ] && break
	sleep 0.1
done
[ "$n" -le $((FILES * 2 * 6)) ] || fail "$n fragments left after $writes versions of $FILES files"
log "$writes versions written, $reads reads ($empty empty) each of one version, $n fragments left $((SECONDS - t0)) s after the last write"

# A handle held across an overwrite and the collection of its version.
# Version A: 12 MiB of 'A' (three blocks); version B: 5 MiB of 'B' (two),
# shorter, as in the case that used to read zeros.  The reader opens A on
# a third mount without read-ahead and reads its first 64 KiB, which makes
# the handle hold A; chunk 1 is then neither in the kernel's pages (its
# read-ahead stays inside chunk 0) nor in the mount's cache.
MIB=1048576
S="$T/s"
mount_bucket demo "$S" readahead=0
fraglist() {
	find "$T"/cluster/node*/frags -path '*/quarantine' -prune -o -type f -name '*.*' -print |
		sort
}
fraglist >"$T/frags.before"
t python3 -c "import sys; open(sys.argv[1], 'wb').write(b'A' * (12 * $MIB))" "$W/slow" ||
	fail "writing version A"
fraglist | comm -13 "$T/frags.before" - >"$T/frags.a"
[ -s "$T/frags.a" ] || fail "version A left no fragment files"
cat >"$T/slow.py" <<'PY'
import errno, os, sys, time

path, state, go, mib = sys.argv[1], sys.argv[2], sys.argv[3], 1048576


def say(line):
    with open(state, "a") as f:
        f.write(line + "\n")


def kind(data, size):
    """What a read returned: one version's bytes, zeros, or a mix."""
    if len(data) != size:
        return "short %d" % len(data)
    for c in (b"A", b"B"):
        if data == c * size:
            return c.decode()
    return "zeros" if data.count(0) else "mix"


def pread(fd, off, size):
    try:
        return kind(os.pread(fd, size, off), size)
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


fd = os.open(path, os.O_RDONLY)
say("opened " + pread(fd, 0, 65536))
deadline = time.monotonic() + 300
while not os.path.exists(go):
    if time.monotonic() > deadline:
        say("no go")
        sys.exit(1)
    time.sleep(0.05)
# Inside both versions' sizes, so the kernel asks the mount whichever size
# it has learned by now (it may have fetched the attributes again).
say("chunk1 " + pread(fd, 4 * mib + 65536, 65536))  # the held block is gone
say("again " + pread(fd, 0, 65536))  # the handle stays stale
os.close(fd)
fd = os.open(path, os.O_RDONLY)  # a new open: the version now
data = b""
while True:
    b = os.read(fd, 4 * mib)
    if not b:
        break
    data += b
os.close(fd)
say("reopen %s %d" % (kind(data, len(data)), len(data)))
PY
timeout -k 5 400 python3 "$T/slow.py" "$S/slow" "$T/slow.state" "$T/go" &
slow=$!
echo "$slow" >>"$T/pids"
# Progress before the fault: the handle has read version A.
wait_grep "$T/slow.state" '^opened' 60
grep -qx 'opened A' "$T/slow.state" || fail "the slow reader did not read version A: $(cat "$T/slow.state" 2>&1)"
t python3 -c "import sys; open(sys.argv[1], 'wb').write(b'B' * (5 * $MIB))" "$W/slow" ||
	fail "writing version B"
# The fault: every fragment of version A deleted (grace over, GC done).
t1=$SECONDS
for _ in $(seq 1200); do
	left=$(fraglist | comm -12 "$T/frags.a" - | wc -l)
	[ "$left" -eq 0 ] && break
	sleep 0.1
done
[ "$left" -eq 0 ] || fail "$left fragment files of version A left $((SECONDS - t1)) s after the overwrite"
touch "$T/go"
wait "$slow"
src=$?
cat "$T/slow.state"
[ "$src" -eq 0 ] || fail "the slow reader failed ($src)"
grep -qx 'chunk1 ESTALE' "$T/slow.state" ||
	fail "a read of the collected version did not fail with ESTALE: $(grep chunk1 "$T/slow.state")"
# Chunk 0 may still be in the kernel's pages (version A) or not (ESTALE).
grep -Eqx 'again (ESTALE|A)' "$T/slow.state" ||
	fail "the stale handle read $(grep again "$T/slow.state")"
grep -qx "reopen B $((5 * MIB))" "$T/slow.state" ||
	fail "a new open did not read version B whole: $(grep reopen "$T/slow.state")"
grep -q 'fb.stale_handle' "$T"/objfs.*.log || fail "no fb.stale_handle in the reading mount's log"

# A handle that follows a file another mount appends to (a log): the
# newer version holds every byte of the one it read, so its next read
# past the old end gets the appended bytes, not ESTALE.
t python3 -c "import sys; open(sys.argv[1], 'wb').write(b'L' * 102400)" "$W/log" ||
	fail "writing the log"
cat >"$T/follow.py" <<'PY'
import errno, os, sys, time

path, state, go = sys.argv[1], sys.argv[2], sys.argv[3]


def say(line):
    with open(state, "a") as f:
        f.write(line + "\n")


fd = os.open(path, os.O_RDONLY)
data = os.pread(fd, 1 << 20, 0)
say("read %d %s" % (len(data), data == b"L" * len(data)))
deadline = time.monotonic() + 60
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.05)
# Progress: the kernel learns the new size once its attributes expire.
while os.fstat(fd).st_size == len(data) and time.monotonic() < deadline:
    time.sleep(0.05)
try:
    more = os.pread(fd, 1 << 20, len(data))
    say("tail %d %s" % (len(more), more == b"L" * len(more)))
except OSError as e:
    say("tail " + errno.errorcode.get(e.errno, str(e.errno)))
os.close(fd)
PY
timeout -k 5 120 python3 "$T/follow.py" "$S/log" "$T/follow.state" "$T/appended" &
follow=$!
echo "$follow" >>"$T/pids"
wait_grep "$T/follow.state" '^read' 60
grep -qx 'read 102400 True' "$T/follow.state" || fail "the follower did not read the log: $(cat "$T/follow.state" 2>&1)"
t python3 -c "import sys; open(sys.argv[1], 'ab').write(b'L' * 51200)" "$W/log" ||
	fail "appending to the log"
touch "$T/appended"
wait "$follow" || fail "the follower failed"
cat "$T/follow.state"
grep -qx 'tail 51200 True' "$T/follow.state" ||
	fail "the follower did not read the appended bytes: $(grep tail "$T/follow.state")"
log "PASS: $writes versions written, $reads reads ($empty empty) each of one version, $n fragments left; a handle of a collected version failed with ESTALE, a new open read the new version; a handle followed an append"
