# lib.sh: shared fixture of the integration tests (sourced, not run).
# Gives each test a private work dir, a local cluster on loopback ports of
# its own, time limits on every command that talks to the cluster, and a
# trap that stops exactly the processes the test started and removes the
# work dir, pass or fail.  Logs of the nodes are printed on failure.

set -u
BUILD=${OBJFS_BUILDDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
CTL="$BUILD/ctl/objfsctl"
NODE="$BUILD/nodes/objfs-node"
T=$(mktemp -d "${TMPDIR:-/tmp}/objfs-test.XXXXXX")
export OBJFS_CONF="$T/cluster/objfs.conf"
CMD_TIMEOUT=${CMD_TIMEOUT:-120}
_failed=0

log() { printf '%s: %s\n' "$(basename "$0")" "$*"; }

fail() {
	log "FAIL: $*"
	_failed=1
	exit 1
}

# Runs a command with a time limit so a hung cluster cannot hang the suite.
t() { timeout -k 5 "$CMD_TIMEOUT" "$@"; }

ctl() { t "$CTL" "$@"; }

_cleanup() {
	local rc=$? f pid
	if [ -f "$OBJFS_CONF" ]; then
		timeout -k 5 30 "$CTL" dev down --dir "$T/cluster" >/dev/null 2>&1
	fi
	# A node that did not stop on SIGTERM (or a dev down that timed out)
	# must not outlive its work dir: SIGKILL each node still running from
	# this test's config (the command line names it, so a reused pid of
	# another process is left alone).
	for f in "$T"/cluster/node*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$T/cluster/"; then
			log "node pid $pid still ran after dev down: killed"
			kill -9 "$pid" 2>/dev/null
		fi
	done
	# Anything a test started itself and recorded in $T/pids.
	if [ -f "$T/pids" ]; then
		while read -r pid; do kill -9 "$pid" 2>/dev/null; done < "$T/pids"
	fi
	if [ $rc -ne 0 ] || [ $_failed -ne 0 ]; then
		for f in "$T"/cluster/node*.log; do
			[ -f "$f" ] || continue
			echo "--- $f (last 20 lines)"
			tail -n 20 "$f"
		done
	fi
	rm -rf --one-file-system "$T"
	exit $rc
}
trap _cleanup EXIT
trap 'exit 1' INT TERM

# Starts a cluster of $1 nodes on a free block of ports; more arguments
# go to dev up (--tls).
cluster_up() {
	local n=$1 try port
	shift
	for try in 1 2 3 4 5; do
		# Node ports P..P+5 and Raft ports P+1000..: all below the
		# kernel's ephemeral range (32768+), where an outgoing
		# connection could take a killed node's port before it restarts.
		port=$((20000 + (RANDOM % 1100) * 10))
		if ctl dev up --no-mount --nodes "$n" --dir "$T/cluster" --port "$port" "$@" >"$T/up.log" 2>&1; then
			# objfsctl acts with the admin key dev up made, as an
			# administrator would, not with the nodes' secret.
			export OBJFS_KEY="$T/cluster/admin.key"
			return 0
		fi
		# Taken ports: found by dev up itself, or by a node that lost a race.
		grep -qs "in use" "$T/up.log" "$T"/cluster/node*.log || break
		ctl dev down --dir "$T/cluster" --purge >/dev/null 2>&1
	done
	cat "$T/up.log"
	fail "cluster did not start"
}

node_pid() { cat "$T/cluster/node$1.pid"; }

kill9_node() {
	local pid
	pid=$(node_pid "$1")
	kill -9 "$pid" || fail "cannot kill node $1"
	# Wait until the process is gone so the next command sees it down.
	for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
	fail "node $1 did not die"
}

# Runs a command that must fail with exit status $1 and print exactly $2
# on stderr: a crash (134, 139) or a timeout (124) is not that failure.
expect_fail() {
	local want_rc=$1 want_err=$2 rc err
	shift 2
	t "$@" >"$T/xf.out" 2>"$T/xf.err"
	rc=$?
	err=$(cat "$T/xf.err")
	[ "$rc" -eq "$want_rc" ] || fail "'$*' exited $rc, not $want_rc (stderr: $err)"
	[ "$err" = "$want_err" ] || fail "'$*' said '$err', not '$want_err'"
}

# Waits (at most $3 s) until file $1 has at least $2 lines: a fault is
# injected only once the writer has made progress.
wait_lines() {
	local deadline=$(( $(date +%s) + $3 ))
	while [ "$(wc -l < "$1")" -lt "$2" ]; do
		[ "$(date +%s)" -lt "$deadline" ] || fail "$1 reached $(wc -l < "$1") of $2 lines in $3 s"
		sleep 0.05
	done
}

# wait_grep FILE ERE SECONDS: returns 0 once a line of FILE matches ERE,
# 1 when SECONDS pass first (the caller says what was missing).
wait_grep() {
	local deadline=$(( $(date +%s) + $3 ))
	until grep -Eq "$2" "$1" 2>/dev/null; do
		[ "$(date +%s)" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# Fails unless background job $1 (a writer) is still running: a fault
# injected after the writer finished would test nothing.
still_running() {
	kill -0 "$1" 2>/dev/null || fail "the writer finished before the fault was injected"
}

# Waits (at most 30 s) until every replica of shard $1 reports lag 0 and
# there are ${2:-3} of them; fails otherwise.
wait_caught_up() {
	local want=${2:-3} lag n
	for _ in $(seq 150); do
		lag=$(ctl status 2>/dev/null | awk -v s="$1" '$1 == s && $2 ~ /^[0-9]+$/ { print $7 }' | sort -u)
		n=$(ctl status 2>/dev/null | awk -v s="$1" '$1 == s && $2 ~ /^[0-9]+$/' | wc -l)
		[ "$lag" = "0" ] && [ "$n" -eq "$want" ] && return 0
		sleep 0.2
	done
	ctl status
	fail "replicas of $1 did not catch up (lag '$lag', $n replicas)"
}

# Creates a file of $2 random bytes at $1.
# leader_of SHARD: the node id of the shard's leader (empty while none);
# replicas_of SHARD: its replicas' node ids; wait_leader SHARD: the leader
# once there is one (10 s at most, else status 1).
leader_of() {
	ctl status 2>/dev/null | awk -v s="$1" '$1 == s && $3 == "leader" { print $2 }'
}
replicas_of() {
	ctl status 2>/dev/null | awk -v s="$1" '$1 == s && $2 ~ /^[0-9]+$/ { print $2 }'
}
wait_leader() {
	local l
	for _ in $(seq 100); do
		l=$(leader_of "$1")
		[ -n "$l" ] && { echo "$l"; return 0; }
		sleep 0.1
	done
	return 1
}

randfile() { head -c "$2" /dev/urandom > "$1"; }

# Prints the ids of nodes that serve no metadata shard (no shards/*.db
# with content), best candidates to kill while the namespace must stay up.
data_only_nodes() {
	local d id
	for d in "$T"/cluster/node*/; do
		id=${d%/}; id=${id##*node}
		ls "$d"shards/*.db >/dev/null 2>&1 || echo "$id"
	done
}
