#!/usr/bin/env bash
# mount_failover.sh: the leader of the mounted bucket's metadata shard is
# killed with SIGKILL while a writer creates and writes files through the
# mount: the writer sees a pause, no error, goes on writing after the
# fail-over, and every file it was told was written (close returned 0) is
# intact afterwards, also after a remount.  The writer runs until told to
# stop (at most 2000 files), so however fast it is the kill lands while
# it writes.
. "$(dirname "$0")/mountlib.sh"

leader_of() {
	ctl status 2>/dev/null | awk -v s="$1" '$1 == s && $3 == "leader" { print $2 }'
}

cluster_up 6
M="$T/mnt"
mount_bucket demo "$M"
randfile "$T/src" 300000
L=""
for _ in $(seq 100); do L=$(leader_of demo); [ -n "$L" ] && break; sleep 0.1; done
[ -n "$L" ] || fail "no leader"

: > "$T/done"
(
	set +e
	mkdir -p "$M/w" || { echo "FAILED mkdir" >> "$T/done"; exit; }
	for i in $(seq 1 2000); do
		[ -e "$T/stop" ] && break
		# cp returns only after close (flush) committed the file.
		if timeout 60 cp "$T/src" "$M/w/f$i" 2>>"$T/werr"; then
			echo "w/f$i" >> "$T/done"
		else
			echo "FAILED w/f$i" >> "$T/done"
		fi
	done
) &
writer=$!
wait_lines "$T/done" 3 60
still_running "$writer"
log "killing demo's leader, node $L, under the writer"
kill9_node "$L"
before=$(wc -l < "$T/done")
# Five more files after the leader died: the writer went on.
wait_lines "$T/done" $((before + 5)) 120
: > "$T/stop"
wait "$writer"
grep -q FAILED "$T/done" && { cat "$T/werr"; fail "the writer saw an error: $(grep FAILED "$T/done" | head -3)"; }
n=$(wc -l < "$T/done")
[ "$n" -lt 2000 ] || fail "the writer was not stopped"
remount_bucket "$M"
while read -r f; do
	t cmp -s "$M/$f" "$T/src" || fail "$f differs after the fail-over"
done < "$T/done"
[ "$(t ls "$M/w" | wc -l)" -eq "$n" ] || fail "the directory lists $(t ls "$M/w" | wc -l) files, not $n"
log "all $n files intact across the leader change ($before written before it)"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of node $L"
log "PASS"
