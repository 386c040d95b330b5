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
	local rc=$?
	if [ -f "$OBJFS_CONF" ]; then
		timeout -k 5 30 "$CTL" dev down --dir "$T/cluster" >/dev/null 2>&1
	fi
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

# Starts a cluster of $1 nodes on a free block of ports.
cluster_up() {
	local n=$1 try port
	for try in 1 2 3 4 5; do
		# Node ports P..P+5 and Raft ports P+1000..: all below the
		# kernel's ephemeral range (32768+), where an outgoing
		# connection could take a killed node's port before it restarts.
		port=$((20000 + (RANDOM % 1100) * 10))
		if ctl dev up --no-mount --nodes "$n" --dir "$T/cluster" --port "$port" >"$T/up.log" 2>&1; then
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

# Creates a file of $2 random bytes at $1.
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
