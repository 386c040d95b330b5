# mountlib.sh: fixture of the tests that mount objfs (sourced, not run; it sources lib.sh).
# Each mount runs in the foreground (-f) as a child of the test, so its pid is known without
# pgrep and its exit status can be checked.  The exit trap unmounts every mount the test made
# BEFORE lib.sh stops the cluster and removes $T, so a dead or hung daemon never leaves a live
# mount behind.  Every command that touches a mount goes through `t`, so a hung mount fails the
# test instead of hanging the suite; is_mounted reads the mount table and never the mount.
. "$(dirname "$0")/lib.sh"

OBJFS="$BUILD/fuse/objfs"
# Seconds for a mount to appear, an unmount to finish and a daemon to exit after it: a healthy
# mount takes well under one, a daemon stuck on a dead cluster is declared hung after this.
MOUNT_TIMEOUT=20
# How long a daemon may take to commit what it buffered and exit after
# its unmount (bounded by the client's own retry limits, ~20 s per commit).
EXIT_TIMEOUT=60

if [ ! -x "$OBJFS" ]; then
	log "SKIP: $OBJFS is not built"
	exit 77
fi
if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
	log "SKIP: no /dev/fuse or no fusermount3"
	exit 77
fi

# Live mounts of this test, keyed by the directory as the test named it.
declare -A _mnt_pid=() _mnt_real=() _mnt_bucket=() _mnt_opts=()
_mnt_seq=0

# True while pid $1 runs (a zombie child that exited does not count).
_alive() {
	local stat
	read -r stat 2>/dev/null < "/proc/$1/stat" || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

# is_mounted ABSDIR: ABSDIR is a mount point now.  Reads /proc/self/mountinfo only, so it never
# blocks on a hung daemon.  mountinfo escapes backslash and space in paths as \134 and \040.
is_mounted() {
	local d=${1//\\/\\134}
	d=${d// /\\040}
	awk -v d="$d" '$5 == d { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# mount_bucket BUCKET DIR [OPTS]: mounts BUCKET of the test's cluster on DIR (made if missing)
# with extra comma-separated -o OPTS; fails the test unless the mount is there within
# MOUNT_TIMEOUT.  The daemon's output goes to $T/objfs.N.log, printed if the test fails.
# Without a key= in OPTS the mount gets the bucket's key of dev up ($T/cluster/BUCKET.key,
# rw on demo), else the admin key, as a client would.
mount_bucket() {
	local bucket=$1 dir=$2 opts=${3:-} real pid rc i
	case ",$opts," in
	*,key=*) ;;
	*)
		if [ -f "$T/cluster/$bucket.key" ]; then
			opts="key=$T/cluster/$bucket.key${opts:+,$opts}"
		elif [ -f "$T/cluster/admin.key" ]; then
			opts="key=$T/cluster/admin.key${opts:+,$opts}"
		fi
		;;
	esac
	mkdir -p "$dir" || fail "mkdir $dir"
	real=$(realpath "$dir") || fail "realpath $dir"
	is_mounted "$real" && fail "$dir is mounted already"
	_mnt_seq=$((_mnt_seq + 1))
	"$OBJFS" "$bucket" "$dir" -f -o "conf=$OBJFS_CONF${opts:+,$opts}" </dev/null \
		>"$T/objfs.$_mnt_seq.log" 2>&1 &
	pid=$!
	echo "$pid" >> "$T/pids"
	_mnt_pid[$dir]=$pid
	_mnt_real[$dir]=$real
	_mnt_bucket[$dir]=$bucket
	_mnt_opts[$dir]=$opts
	for ((i = 0; i < MOUNT_TIMEOUT * 10; i++)); do
		is_mounted "$real" && return 0
		if ! _alive "$pid"; then
			wait "$pid"
			rc=$?
			unset "_mnt_pid[$dir]"
			fail "objfs exited with status $rc before $dir was mounted"
		fi
		sleep 0.1
	done
	fail "$dir not mounted ${MOUNT_TIMEOUT}s after starting objfs"
}

# unmount_bucket DIR: unmounts DIR and waits for its daemon to exit.  Returns 1 (having said
# why) if a plain unmount failed and DIR had to be detached lazily, or the daemon did not exit
# by itself with status 0; the mount and the daemon are gone either way.
unmount_bucket() {
	local dir=$1 pid real rc=0 st i
	pid=${_mnt_pid[$dir]:-}
	if [ -z "$pid" ]; then
		log "unmount_bucket: $dir was not mounted by mount_bucket"
		return 1
	fi
	real=${_mnt_real[$dir]}
	if is_mounted "$real"; then
		if ! timeout -k 2 "$MOUNT_TIMEOUT" fusermount3 -u "$real"; then
			log "fusermount3 -u $real failed; detaching it lazily"
			rc=1
			timeout -k 2 "$MOUNT_TIMEOUT" fusermount3 -u -z "$real" 2>/dev/null ||
				timeout -k 2 "$MOUNT_TIMEOUT" umount -l "$real" ||
				log "cannot unmount $real"
		fi
	fi
	for ((i = 0; i < EXIT_TIMEOUT * 10; i++)); do
		_alive "$pid" || break
		sleep 0.1
	done
	if _alive "$pid"; then
		log "objfs for $dir still runs ${EXIT_TIMEOUT}s after the unmount; killing it"
		kill -9 "$pid"
		rc=1
	fi
	wait "$pid"
	st=$?
	if [ "$st" -ne 0 ]; then
		log "objfs for $dir exited with status $st"
		rc=1
	fi
	unset "_mnt_pid[$dir]" "_mnt_real[$dir]"
	return $rc
}

# remount_bucket DIR: unmount and mount again with the same bucket and options, so reads come
# from the cluster and not from the kernel's page cache or the daemon's memory.
remount_bucket() {
	local dir=$1 bucket=${_mnt_bucket[$1]:-} opts=${_mnt_opts[$1]:-}
	unmount_bucket "$dir" || fail "unmount of $dir"
	mount_bucket "$bucket" "$dir" "$opts"
}

# tree_list DIR [sec]: one sorted line per entry below DIR with its type, mode, owner, link
# count, size and mtime (nanoseconds, or whole seconds with "sec" for archives that keep no
# more), symlinks with their target instead.  Directory sizes and link counts differ between
# filesystems and are left out; so are symlink times, which cp and tar treat differently.
tree_list() {
	local tf='%T@'
	[ "${2:-}" = sec ] && tf='%Ts'
	t find "$1" -mindepth 1 \( -type d -printf "%P d %m %U:%G $tf\n" \) \
		-o \( -type l -printf '%P l %U:%G -> %l\n' \) \
		-o -printf "%P %y %m %U:%G %n %s $tf\n" > "$T/tree_list.tmp" || return 1
	sort "$T/tree_list.tmp"
}

# same_tree A B [sec]: the trees below A and B hold the same names, bytes and metadata
# (see tree_list); fails the test with the first differences otherwise.  Fifos are compared
# by tree_list only: diff cannot compare them.
same_tree() {
	tree_list "$1" "${3:-}" > "$T/tree.a" || fail "cannot list $1"
	tree_list "$2" "${3:-}" > "$T/tree.b" || fail "cannot list $2"
	if ! diff "$T/tree.a" "$T/tree.b" > "$T/tree.diff"; then
		head -n 20 "$T/tree.diff"
		fail "$2 differs from $1 in names or metadata"
	fi
	if ! t diff -r --no-dereference --exclude='*.fifo' "$1" "$2" > "$T/tree.diff"; then
		head -n 20 "$T/tree.diff"
		fail "$2 differs from $1 in content"
	fi
}

# sha FILE: the SHA-256 of FILE (empty if it cannot be read).
sha() {
	t sha256sum "$1" | cut -d' ' -f1
}

_unmount_all() {
	local dir
	for dir in "${!_mnt_pid[@]}"; do
		unmount_bucket "$dir" || true
	done
}

# Exit trap: unmount, show the daemons' logs if the test failed, then lib.sh's _cleanup (which
# stops the cluster and reads the test's exit status from $?).
_mount_cleanup() {
	local rc=$? f
	_unmount_all
	if [ $rc -ne 0 ] || [ "$_failed" -ne 0 ]; then
		for f in "$T"/objfs.*.log; do
			[ -f "$f" ] || continue
			echo "--- $f (last 20 lines)"
			tail -n 20 "$f"
		done
	fi
	(exit $rc)
	_cleanup
}
trap _mount_cleanup EXIT
