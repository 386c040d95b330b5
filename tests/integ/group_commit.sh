#!/usr/bin/env bash
# group_commit.sh: the metadata leader is killed with SIGKILL while 16
# writers keep creates in flight through one mount, so the leader holds a
# batch of proposals being appended and replicated together.  Afterwards
# every create a writer was told succeeded exists exactly once, no create
# failed (a create retried across the leader change is not applied twice:
# O_EXCL would fail it with EEXIST), writes went on after the kill, and
# each directory lists exactly what its writer acknowledged.  The kill
# waits until the leader has put several records into single Raft entries
# (propose_batch; its metrics count entries and records) and answered
# requests that carried several writers' records together (META_OPS), so
# it hits batched entries and combined requests in flight.
. "$(dirname "$0")/mountlib.sh"

WRITERS=16
BEFORE=300  # acknowledged creates before the kill (progress, not a sleep)
AFTER=300   # and after it, proving the new leader took the batch over

command -v curl >/dev/null || fail "curl missing (scripts/deps.sh installs it)"
acked() { cat "$T"/ack.* 2>/dev/null | wc -l; }
# wait_acked N SECONDS: until N creates are acknowledged in all.
wait_acked() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ "$(acked)" -ge "$1" ] && return 0
		grep -q . "$T"/err.* 2>/dev/null && return 1
		sleep 0.1
	done
	return 1
}

cluster_up 6
M="$T/mnt"
mount_bucket demo "$M"
L=$(wait_leader demo) || fail "no leader"
LM=$(sed -n "/^\[node $L\]/,/^\[/s/^metrics_addr = //p" "$OBJFS_CONF")
[ -n "$LM" ] || fail "no metrics_addr for node $L in $OBJFS_CONF"
# batched: records minus entries the leader proposed for demo (records
# that rode in an entry with others).
batched() {
	curl -s --max-time 5 "http://$LM/metrics" | awk '
		/^objfs_raft_proposed_entries_total\{shard="demo"\}/ { e = $2 }
		/^objfs_raft_proposed_records_total\{shard="demo"\}/ { r = $2 }
		END { print r - e + 0 }'
}
# META_OPS requests the leader answered: the mount's records combined.
combined() {
	curl -s --max-time 5 "http://$LM/metrics" |
		awk '/^objfs_node_requests_total\{op="meta_ops"\}/ { n = $2 } END { print n + 0 }'
}

pids=()
for w in $(seq $WRITERS); do
	t mkdir "$M/w$w" || fail "mkdir w$w"
	: > "$T/ack.$w"
	: > "$T/err.$w"
	(
		i=0
		while [ ! -e "$T/stop" ]; do
			i=$((i + 1))
			# noclobber: the create is O_CREAT|O_EXCL, and close
			# returns only once it is committed.
			if timeout 60 bash -c 'set -C; : > "$1"' _ "$M/w$w/f$i" 2>>"$T/err.$w"; then
				echo "f$i" >> "$T/ack.$w"
			else
				echo "create w$w/f$i failed" >> "$T/err.$w"
				break
			fi
		done
	) &
	pids+=($!)
	echo "$!" >> "$T/pids"
done
stop_writers() {
	touch "$T/stop"
	for p in "${pids[@]}"; do wait "$p"; done
}

wait_acked $BEFORE 60 || { stop_writers; cat "$T"/err.*; fail "only $(acked) creates acknowledged before the kill"; }
for _ in $(seq 300); do [ "$(batched)" -ge 20 ] && [ "$(combined)" -ge 20 ] && break; sleep 0.1; done
b=$(batched)
c=$(combined)
[ "$b" -ge 20 ] || { stop_writers; fail "the leader batched only $b records into shared entries"; }
[ "$c" -ge 20 ] || { stop_writers; fail "the leader answered only $c requests of combined records (meta_ops)"; }
n0=$(acked)
log "$n0 creates acknowledged, $b records proposed in shared entries, $c requests of combined records; killing demo's leader, node $L, with $WRITERS creates in flight"
kill9_node "$L"
wait_acked $((n0 + AFTER)) 90 || { stop_writers; cat "$T"/err.*; fail "writes did not go on after the kill ($(acked) acknowledged)"; }
stop_writers
for w in $(seq $WRITERS); do
	[ -s "$T/err.$w" ] && fail "writer $w saw an error: $(head -3 "$T/err.$w")"
done
total=$(acked)
log "$total creates acknowledged in all, $((total - n0)) after the kill"

# Exactly once: each directory lists exactly the acknowledged names.
remount_bucket "$M"
for w in $(seq $WRITERS); do
	sort "$T/ack.$w" > "$T/want.$w"
	[ "$(sort -u "$T/want.$w" | wc -l)" -eq "$(wc -l < "$T/want.$w")" ] ||
		fail "writer $w was told twice that one name was created"
	t ls "$M/w$w" | sort > "$T/got.$w" || fail "ls w$w"
	cmp -s "$T/want.$w" "$T/got.$w" ||
		fail "w$w lists $(wc -l < "$T/got.$w") files, $(wc -l < "$T/want.$w") acknowledged: $(diff "$T/want.$w" "$T/got.$w" | head -4 | tr '\n' ' ')"
done
log "every acknowledged create is there exactly once"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of node $L"
log "PASS"
