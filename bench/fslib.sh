# shellcheck shell=bash
# fslib.sh: helpers shared by run-fs.sh and failover.sh (sourced, not run): a mount namespace
# of the benchmark's own, mount-table checks that never touch a mount, and a private cluster on
# a free block of ports.  Signals only processes whose pids the caller recorded.

# private_ns "$@": re-runs the calling script (as root, when unshare exists) in a mount
# namespace of its own.  Another job that clones a mount namespace while our FUSE mounts exist
# (`ip netns exec` does, for each command) holds a copy of them: after our unmount the kernel
# keeps the connection and the daemon keeps running until that job's processes exit, which
# stalls every remount.  In our own namespace nobody copies our mounts; and the copies of other
# jobs' FUSE mounts that came with the namespace are detached at once, so we never pin theirs.
private_ns() {
	if [ -z "${OBJFS_BENCH_NS:-}" ] && [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null; then
		export OBJFS_BENCH_NS=1
		exec unshare --mount --propagation private bash "$0" "$@"
	fi
	if [ -n "${OBJFS_BENCH_NS:-}" ]; then
		# mountinfo: mount point is field 5, the type follows the "-" separator
		awk '{ for (i = 7; i < NF; i++) { if ($i == "-") { if ($(i + 1) ~ /^fuse(\.|blk$|$)/)
			{ print $5 }; break } } }' /proc/self/mountinfo |
			while read -r m; do
				# a peer filesystem the benchmark was asked to measure stays
				case "${OBJFS_BENCH_KEEP:-}/" in "$m"/*) continue ;; esac
				umount -l "$m" 2>/dev/null
			done
	fi
}

# is_mounted DIR: DIR is a mount point in our namespace.  Reads the table, never the mount, so
# a hung daemon cannot hang it.
is_mounted() { awk -v d="$1" '$5 == d { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# alive PID: the process runs (an exited child that is not yet reaped does not count).
alive() {
	local s
	read -r s 2>/dev/null < "/proc/$1/stat" || return 1
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# cluster_up CTL DIR: starts a 6-node cluster in DIR on random ports 30000-39005, retrying
# with other ports while dev up or a node reports a port taken.  Sets $port; output in DIR.up.log.
cluster_up() {
	local ctl=$1 dir=$2 _
	for _ in 1 2 3 4 5; do
		port=$((30000 + RANDOM % 9000))
		if timeout -k 5 60 "$ctl" dev up --no-mount --nodes 6 --dir "$dir" --port "$port" \
			> "$dir.up.log" 2>&1; then
			return 0
		fi
		grep -qs "in use" "$dir.up.log" "$dir"/node*.log || break
		timeout -k 5 60 "$ctl" dev down --dir "$dir" --purge >/dev/null 2>&1
	done
	cat "$dir.up.log" >&2
	return 1
}
