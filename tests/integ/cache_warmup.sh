#!/usr/bin/env bash
# cache_warmup.sh: objfsctl warmup fills a mount's disk cache.  Files
# written by one mount are warmed on a fresh mount with a cache_dir: the
# progress line counts 7/7 files, --json reports every byte fetched; then
# reading all of them back (identical) is served by the disk cache: disk
# hits grow by the 8 blocks (f5 has 2) and the mount downloads no block byte from
# the cluster.  A second warm-up fetches nothing.  On a mount without a
# cache_dir, and outside objfs, warmup fails with the exact reason; the
# attribute cannot be set (EPERM).  --background detaches and logs the same
# progress and totals.
. "$(dirname "$0")/mountlib.sh"

( sleep 100; kill -TERM $$ ) >/dev/null 2>&1 &
WATCHDOG=$!
echo "$WATCHDOG" >> "$T/pids"
disown "$WATCHDOG"

command -v curl >/dev/null || { log "SKIP: curl missing (scripts/deps.sh)"; exit 77; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
metric() {
	curl -s --max-time 5 "http://127.0.0.1:$1/metrics" |
		awk -v n="$2{$3}" '$1 == n { printf "%d\n", $2; found = 1 } END { if (!found) print "none" }'
}
j() { python3 -c "import json, sys; d = json.loads(sys.argv[1]); print(($2))" "$1"; }

cluster_up 6
mount_bucket demo "$T/w"
mkdir -p "$T/w/data/sub" || fail "mkdir"
total=0
for i in 1 2 3 4 5; do
	t head -c $((i << 20)) /dev/urandom > "$T/w/data/f$i" || fail "write f$i"
	total=$((total + (i << 20)))
done
t head -c 20000 /dev/urandom > "$T/w/data/sub/small" || fail "write small"
t head -c 3000000 /dev/urandom > "$T/w/data/sub/mid" || fail "write mid"
total=$((total + 20000 + 3000000))
(cd "$T/w/data" && t sha256sum f1 f2 f3 f4 f5 sub/small sub/mid) > "$T/sums" || fail "sums"

# The writer has no cache_dir: the exact refusal.
out=$(t "$CTL" warmup --quiet "$T/w/data/f1" 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "warmup without a cache_dir exited $rc"
[ "$(echo "$out" | head -1)" = "objfsctl warmup: $T/w/data/f1: not in an objfs mount with a disk cache (-o cache_dir)" ] ||
	fail "warmup without a cache_dir said: $out"
echo x > "$T/plain"
out=$(t "$CTL" warmup --quiet "$T/plain" 2>&1)
[ $? -eq 1 ] && echo "$out" | grep -qF "$T/plain: not in an objfs mount" || fail "warmup outside objfs: $out"
setfattr -n user.objfs.warmup -v 1 "$T/w/data/f1" 2> "$T/setx" && fail "user.objfs.warmup was stored"
grep -q "Operation not permitted" "$T/setx" || fail "setting user.objfs.warmup: $(cat "$T/setx")"
unmount_bucket "$T/w" || fail "unmount of the writer"

port=$(free_port)
mount_bucket demo "$T/m" "metrics=127.0.0.1:$port,cache_dir=$T/dc,cache_dir_mb=64"
json=$(t "$CTL" warmup --json "$T/m/data" 2> "$T/progress") || fail "warmup failed: $(cat "$T/progress")"
grep -q "^warmup: 7/7 files, " "$T/progress" || fail "no progress line of 7/7 files: $(cat "$T/progress")"
[ "$(grep -c '^warmup: ' "$T/progress")" -eq 7 ] || fail "not one progress line per file: $(cat "$T/progress")"
[ "$(j "$json" 'd["files"], d["bytes"], d["fetched_bytes"], d["cached_bytes"], d["errors"]')" = \
	"(7, $total, $total, 0, 0)" ] || fail "warmup --json: $json (total $total)"
[ "$(metric "$port" objfs_mount_cache_bytes 'cache="disk"')" -eq "$total" ] ||
	fail "disk cache holds $(metric "$port" objfs_mount_cache_bytes 'cache="disk"') bytes, not $total"
[ "$(metric "$port" objfs_mount_cache_bytes 'cache="memory"')" -eq 0 ] ||
	fail "warm-up filled the memory cache"

down0=$(metric "$port" objfs_mount_block_bytes_total 'direction="download"')
[ "$down0" -eq "$total" ] || fail "warm-up downloaded $down0 bytes, not $total"
hits0=$(metric "$port" objfs_mount_cache_hits_total 'cache="disk"')
(cd "$T/m/data" && t sha256sum -c --quiet "$T/sums") || fail "files read after warm-up differ"
down1=$(metric "$port" objfs_mount_block_bytes_total 'direction="download"')
hits1=$(metric "$port" objfs_mount_cache_hits_total 'cache="disk"')
[ "$down1" -eq "$down0" ] || fail "reads after warm-up downloaded $((down1 - down0)) bytes from the cluster"
[ $((hits1 - hits0)) -eq 8 ] || fail "reads after warm-up: $((hits1 - hits0)) disk hits, not 8"

json=$(t "$CTL" warmup --json --quiet "$T/m/data") || fail "second warmup failed"
[ "$(j "$json" 'd["fetched_bytes"], d["cached_bytes"]')" = "(0, $total)" ] || fail "second warmup: $json"

# In the background: the command lists the files, says where it goes on and
# exits at once; the child writes progress and the totals to the log.
out=$(t "$CTL" warmup --json --background "$T/wlog" "$T/m/data") || fail "warmup --background: $out"
bgpid=$(echo "$out" | sed -n 's/^objfsctl warmup: 7 files, in the background as pid \([0-9]*\); progress and totals in .*/\1/p')
[ -n "$bgpid" ] || fail "warmup --background said: $out"
echo "$bgpid" >> "$T/pids"
for _ in $(seq 300); do kill -0 "$bgpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$bgpid" 2>/dev/null && fail "background warmup still runs after 30 s"
[ "$(grep -c '^warmup: ' "$T/wlog")" -eq 7 ] || fail "background log lacks 7 progress lines: $(cat "$T/wlog")"
json=$(sed -n '/^{/,/^}/p' "$T/wlog")
[ "$(j "$json" 'd["files"], d["cached_bytes"], d["errors"]')" = "(7, $total, 0)" ] ||
	fail "background warmup totals: $json"
unmount_bucket "$T/m" || fail "unmount"
log PASS
