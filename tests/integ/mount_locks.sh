#!/usr/bin/env bash
# mount_locks.sh: locks taken through one objfs mount are seen by every other mount of the
# bucket.  Two mounts contend on flock(2), on fcntl byte ranges and on OFD locks (exact
# outcomes: EAGAIN for a non-blocking conflict, a blocked waiter woken when the holder
# unlocks, EINTR for a wait a signal ends); locks go with the close that frees them; two
# SQLite writers on two mounts (rollback journal, and WAL in exclusive locking mode) keep the
# database intact with every row; and the locks of a mount killed with SIGKILL go within the
# lease (lock_lease_ms, 2 s here).
. "$(dirname "$0")/mountlib.sh"

LC="$BUILD/tests/integ/lockctl"
LEASE_MS=2000
[ -x "$LC" ] || { log "SKIP: $LC is not built"; exit 77; }
command -v sqlite3 >/dev/null || { log "SKIP: no sqlite3"; exit 77; }

declare -A lc_fd=() lc_pid=()

# lc_start NAME FILE: a lockctl process on FILE that runs the commands lc sends it.
lc_start() {
	local fd
	mkfifo "$T/$1.in" || fail "mkfifo"
	: > "$T/$1.out"
	"$LC" "$2" < "$T/$1.in" > "$T/$1.out" 2>&1 &
	lc_pid[$1]=$!
	echo "$!" >> "$T/pids"
	exec {fd}> "$T/$1.in"
	lc_fd[$1]=$fd
}

# lc_send NAME CMD: sends CMD to lockctl NAME without waiting for its answer.
lc_send() { echo "$2" >&"${lc_fd[$1]}"; }

# lc_next NAME: the number of the line NAME's next answer will be.
lc_next() { echo $(( $(wc -l < "$T/$1.out") + 1 )); }

# lc_expect NAME LINE WANT [SECONDS]: answer number LINE of NAME is WANT, within SECONDS.
lc_expect() {
	local got
	wait_lines "$T/$1.out" "$2" "${4:-15}"
	got=$(sed -n "$2p" "$T/$1.out")
	[ "$got" = "$3" ] || fail "$1: answer $2 is '$got', not '$3'"
}

# lc NAME CMD WANT: runs CMD in lockctl NAME and checks its answer.
lc() {
	local n
	n=$(lc_next "$1")
	lc_send "$1" "$2"
	lc_expect "$1" "$n" "$3"
}

# lc_stop NAME: ends lockctl NAME (its close releases what it held) and waits for it.
lc_stop() {
	local fd=${lc_fd[$1]}
	exec {fd}>&-
	t tail --pid="${lc_pid[$1]}" -f /dev/null || fail "lockctl $1 did not exit"
	wait "${lc_pid[$1]}" 2>/dev/null
}

# probe FILE CMD: one lockctl run of CMD on FILE; prints its answer.
probe() { echo "$2" | t "$LC" "$1"; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

cluster_up 3
# A short lease, so the kill test is quick: the nodes read it at start.
ctl dev down --dir "$T/cluster" >/dev/null || fail "dev down"
sed -i "s/^\[cluster\]$/[cluster]\nlock_lease_ms = $LEASE_MS/" "$OBJFS_CONF"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "dev up with a short lease"
A="$T/a"
B="$T/b"
mount_bucket demo "$A"
mount_bucket demo "$B"
echo data > "$A/f" || fail "create f"

# --- flock: exclusive, shared, a woken waiter -------------------------------------------
lc_start ha "$A/f"
lc ha "flock ex" ok
[ "$(probe "$B/f" "flock ex nb")" = EAGAIN ] || fail "flock: a second mount got an exclusive lock"
[ "$(probe "$B/f" "flock sh nb")" = EAGAIN ] || fail "flock: a second mount got a shared lock"
[ "$(probe "$A/f" "flock ex nb")" = EAGAIN ] || fail "flock: a second file of the same mount got it"
lc_start wb "$B/f"
n=$(lc_next wb)
lc_send wb "flock ex"
sleep 1
[ "$(wc -l < "$T/wb.out")" -lt "$n" ] || fail "flock: the waiter got the lock while it was held"
t0=$(now_ms)
lc ha "flock un" ok
lc_expect wb "$n" ok 10
woke=$(( $(now_ms) - t0 ))
# The shard answers a parked waiter when the lock is released; a waiter that only re-asked
# would take up to half of timeout_ms (2.5 s).
[ "$woke" -lt 1500 ] || fail "flock: the waiter took $woke ms after the unlock"
log "flock: waiter on the other mount woken $woke ms after the unlock"
[ "$(probe "$A/f" "flock sh nb")" = EAGAIN ] || fail "flock: shared granted beside exclusive"
lc wb "flock sh" ok
[ "$(probe "$A/f" "flock sh nb")" = ok ] || fail "flock: a shared lock beside a shared one"

# A signal ends a wait with EINTR, and the cancelled waiter holds nothing afterwards.
lc ha "alarm 1" ok
n=$(lc_next ha)
lc_send ha "flock ex"
lc_expect ha "$n" EINTR 10
lc_stop wb
[ "$(probe "$B/f" "flock ex nb")" = ok ] || fail "flock: the interrupted waiter kept a lock"
log "flock: a signal ends a wait with EINTR"

# --- byte ranges (fcntl) ------------------------------------------------------------------
lc ha "posix w setlk 0 100" ok
lc_start pb "$B/f"
lc pb "posix w setlk 50 10" EAGAIN
lc pb "posix r setlk 99 1" EAGAIN
lc pb "posix w setlk 100 50" ok
lc pb "get 0 0" "w 0 100"
lc ha "get 0 0" "w 100 50"
lc ha "posix r setlk 0 100" ok # a downgrade in place
lc pb "posix r setlk 0 10" ok
lc pb "posix w setlk 0 10" EAGAIN
lc ha "posix u setlk 0 50" ok # splits A's lock: [50, 100) stays
lc pb "posix w setlk 0 50" ok
lc pb "posix w setlk 50 1" EAGAIN
n=$(lc_next pb)
lc_send pb "posix w setlkw 50 50"
sleep 1
[ "$(wc -l < "$T/pb.out")" -lt "$n" ] || fail "fcntl: the waiter got the range while it was held"
t0=$(now_ms)
lc ha "posix u setlk 0 0" ok
lc_expect pb "$n" ok 10
woke=$(( $(now_ms) - t0 ))
[ "$woke" -lt 1500 ] || fail "fcntl: the waiter took $woke ms after the unlock"
log "fcntl: waiter on the other mount woken $woke ms after the unlock"
lc ha "posix w setlk 150 0" ok # up to the end of the file, beyond B's ranges
lc pb "posix w setlk 200 1" EAGAIN
lc ha "alarm 1" ok
n=$(lc_next ha)
lc_send ha "posix w setlkw 0 1"
lc_expect ha "$n" EINTR 10
# A process's POSIX locks go at its close of the file.
lc_stop pb
lc ha "posix w setlk 0 150" ok
log "fcntl: ranges split, join, convert and go at close as on one machine"

# --- OFD locks belong to the open file ----------------------------------------------------
lc_start ob "$B/f"
lc ob "posix w ofd 0 10" EAGAIN # A's process lock covers it
lc ha "posix u setlk 0 0" ok
lc ob "posix w ofd 0 10" ok
lc ha "ofdget 0 1" "w 0 10"
lc ha "posix w ofd 5 1" EAGAIN
lc_stop ob
lc ha "posix w ofd 5 1" ok
lc_stop ha
log "OFD locks: seen across mounts, released with their open file"

# --- SQLite writers on two mounts ---------------------------------------------------------
# sql_check DB WANT [PRAGMAS]: the database is intact and has WANT rows.
sql_check() {
	local out
	out=$(t sqlite3 ${3:+-cmd "$3"} "$1" "PRAGMA integrity_check; SELECT count(*) FROM t;" |
		tail -n 2) || fail "sqlite3 on $1"
	[ "$out" = "ok
$2" ] || fail "$1: integrity_check and count said '$out', not ok and $2"
}

ROWS=24
# Rollback journal: one process per mount inserts ROWS rows, one transaction each, in one
# connection (so each transaction relies on the lock, not on a fresh open, to see the other
# mount's writes).
t sqlite3 "$A/rb.db" "PRAGMA journal_mode=DELETE; CREATE TABLE t(id INTEGER PRIMARY KEY,
	who TEXT, n INT, pad BLOB);" >/dev/null || fail "create rb.db"
writer() {
	local i
	{
		echo ".bail on"
		echo "PRAGMA busy_timeout=30000;"
		for ((i = 1; i <= ROWS; i++)); do
			echo "INSERT INTO t(who, n, pad) VALUES('$2', $i, randomblob(3000));"
		done
	} | t sqlite3 "$1/rb.db" > "$T/sql.$2.out" 2>&1
}
writer "$A" a &
wa=$!
writer "$B" b &
wb_=$!
wait $wa || { cat "$T/sql.a.out"; fail "the writer on mount a failed"; }
wait $wb_ || { cat "$T/sql.b.out"; fail "the writer on mount b failed"; }
sql_check "$B/rb.db" $((2 * ROWS))
log "sqlite rollback journal (${SECONDS} s): $((2 * ROWS)) rows from two mounts, integrity ok"

# WAL: its index lives in shared memory, which two machines (or mounts) cannot share, so SQLite
# runs WAL there in exclusive locking mode (the index in the process); a process per insert.
EXCL="PRAGMA locking_mode=EXCLUSIVE"
t sqlite3 -cmd "$EXCL" "$A/wal.db" "PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER
	PRIMARY KEY, who TEXT, n INT, pad BLOB);" >/dev/null || fail "create wal.db"
# A connection in exclusive mode keeps its lock until it closes, and SQLite's busy handler
# polls: a writer that reopened at once could starve the other for its whole busy_timeout, so
# each pauses between rows, and one that still found the database locked (SQLITE_BUSY, nothing
# done) tries again.
wal_writer() {
	local i tries=0
	for ((i = 1; i <= ROWS / 2; i++)); do
		while ! t sqlite3 -bail -cmd "PRAGMA busy_timeout=5000" -cmd "$EXCL" "$1/wal.db" \
			"INSERT INTO t(who, n, pad) VALUES('$2', $i, randomblob(3000));" \
			> "$T/wal.$2.out" 2>&1; do
			grep -q "database is locked" "$T/wal.$2.out" || return 1
			tries=$((tries + 1))
			[ $tries -lt 20 ] || return 1
		done
		sleep 0.3
	done
}
wal_writer "$A" a &
wa=$!
wal_writer "$B" b &
wb_=$!
wait $wa || { cat "$T/wal.a.out"; fail "the WAL writer on mount a failed"; }
wait $wb_ || { cat "$T/wal.b.out"; fail "the WAL writer on mount b failed"; }
sql_check "$B/wal.db" "$ROWS" "$EXCL"
log "sqlite WAL (${SECONDS} s): $ROWS rows from two mounts, integrity ok"

# --- a leader change: a lock granted is not granted again, a waiter carries on -----------
leader_of() { ctl status 2>/dev/null | awk -v s="$1" '$1 == s && $3 == "leader" { print $2 }'; }
L=
for _ in $(seq 100); do L=$(leader_of demo); [ -n "$L" ] && break; sleep 0.1; done
[ -n "$L" ] || fail "no leader of demo"
lc_start lh "$A/f"
lc lh "flock ex" ok
lc_start lw "$B/f"
n=$(lc_next lw)
lc_send lw "flock ex"
sleep 0.5
kill9_node "$L"
L2=
for _ in $(seq 100); do L2=$(leader_of demo); [ -n "$L2" ] && [ "$L2" != "$L" ] && break; sleep 0.1; done
[ -n "$L2" ] && [ "$L2" != "$L" ] || fail "no new leader of demo after node $L died"
[ "$(probe "$B/f" "flock ex nb")" = EAGAIN ] || fail "the new leader granted a held flock"
[ "$(wc -l < "$T/lw.out")" -lt "$n" ] || fail "the waiter got the lock across the leader change"
lc lh "flock un" ok
lc_expect lw "$n" ok 15
lc_stop lw
lc_stop lh
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of node $L"
log "leader change (node $L to $L2): the held lock stayed held, the waiter got it after"

# --- live mounts keep their locks however long they hold them -----------------------------
lc_start long "$A/f"
lc long "posix w setlk 0 1" ok
sleep $((3 * LEASE_MS / 1000))
[ "$(probe "$B/f" "posix w setlk 0 1")" = EAGAIN ] || fail "a live mount's lock went after 3 leases"
lc_stop long
! grep -q "lock.expired" "$T"/cluster/node*.log || fail "a live mount's lock session expired"
log "a lock held for three leases by a live mount stays held"

# --- a mount killed while it holds locks --------------------------------------------------
C="$T/c"
mount_bucket demo "$C"
lc_start kc "$C/f"
lc kc "flock ex" ok
lc kc "posix w setlk 0 0" ok
kill -9 "${_mnt_pid[$C]}" || fail "kill -9 of mount c"
t0=$(now_ms)
wait "${_mnt_pid[$C]}" 2>/dev/null
unset "_mnt_pid[$C]"
t fusermount3 -u -z "$C" || t umount -l "$C" || fail "cannot detach the dead mount"
kill -9 "${lc_pid[kc]}" 2>/dev/null
[ "$(probe "$B/f" "flock ex nb")" = EAGAIN ] || fail "the dead mount's flock went at once"
[ "$(probe "$B/f" "get 0 0")" = "w 0 0" ] || fail "the dead mount's range lock is not seen"
while :; do
	r1=$(probe "$B/f" "flock ex nb")
	r2=$(probe "$B/f" "posix w setlk 0 0")
	[ "$r1" = ok ] && [ "$r2" = ok ] && break
	[ $(( $(now_ms) - t0 )) -lt $((LEASE_MS + 3000)) ] ||
		fail "the dead mount's locks still held $(( $(now_ms) - t0 )) ms after the kill"
	sleep 0.1
done
freed=$(( $(now_ms) - t0 ))
log "a mount killed with SIGKILL: its locks went $freed ms later (lease $LEASE_MS ms)"
unmount_bucket "$A" || fail "unmount of a"
unmount_bucket "$B" || fail "unmount of b"
exit 0
