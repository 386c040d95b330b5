#!/usr/bin/env bash
# stats.sh: `objfsctl stats` against a live dev cluster and mount: with a
# put workload running, --once --json reports 6 nodes up and frag_put and
# meta_op rates above zero with latencies; a mount's FUSE rate and cache
# hit ratio show with --mount; a node killed with -9 is reported down and
# out of the cluster's count; the table has its cluster line; a config
# without metrics_addr and bad usage fail with their exact messages.
. "$(dirname "$0")/mountlib.sh"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# jq-less JSON checks: j JSON PYEXPR prints eval(PYEXPR) with d the object.
j() { python3 -c "import json, sys; d = json.loads(sys.argv[1]); print(($2))" "$1"; }

cluster_up 6
MPORT=$(free_port)
mount_bucket demo "$T/mnt" "metrics=127.0.0.1:$MPORT"
head -c 300000 /dev/urandom > "$T/obj"

# Puts in the background until told to stop; stats samples while they run.
( while [ ! -e "$T/stop" ]; do t "$CTL" put demo "k$RANDOM" "$T/obj" >/dev/null || exit 1; done ) &
W=$!
echo "$W" >> "$T/pids"
for _ in $(seq 100); do [ "$(ctl ls demo | wc -l)" -ge 2 ] && break; sleep 0.1; done
out=$(ctl stats --once --json --interval 1.5) || fail "stats --json failed"
[ "$(j "$out" 'd["cluster"]["nodes_up"], d["cluster"]["nodes"]')" = "(6, 6)" ] || fail "nodes: $out"
[ "$(j "$out" '[o["ops_per_s"] > 0 for o in d["cluster"]["ops"] if o["op"] in ("frag_put", "meta_op")]')" = "[True, True]" ] ||
	fail "frag_put and meta_op rates not above 0: $out"
[ "$(j "$out" '[o["p99_s"] > 0 for o in d["cluster"]["ops"] if o["op"] == "frag_put"]')" = "[True]" ] ||
	fail "frag_put p99 missing: $out"
[ "$(j "$out" 'd["cluster"]["in_bytes_per_s"] > 100000')" = True ] || fail "no MB/s in: $out"
[ "$(j "$out" 'len(d["nodes"]), all(n["up"] for n in d["nodes"])')" = "(6, True)" ] || fail "per node: $out"
touch "$T/stop"
wait "$W" || fail "the put workload failed"

# A mount: reads of one file, O_DIRECT past the page cache, so the
# block cache serves them.
t dd if=/dev/urandom of="$T/mnt/f" bs=1M count=4 status=none || fail "write"
t cat "$T/mnt/f" > /dev/null; t cat "$T/mnt/f" > /dev/null
( for _ in $(seq 40); do t dd if="$T/mnt/f" of=/dev/null bs=1M iflag=direct status=none; t ls "$T/mnt" > /dev/null; sleep 0.05; done ) &
R=$!
echo "$R" >> "$T/pids"
out=$(ctl stats --once --json --mount "127.0.0.1:$MPORT") || fail "stats --mount failed"
wait "$R"
[ "$(j "$out" 'd["mounts"][0]["up"], d["mounts"][0]["ops_per_s"] > 0')" = "(True, True)" ] ||
	fail "mount rates: $out"
[ "$(j "$out" '0 < d["mounts"][0]["cache_hit_ratio"] <= 1')" = True ] || fail "no cache hit ratio: $out"

# Node 4 dies: reported down, the cluster counts 5 of 6.
kill9_node 4
out=$(ctl stats --once --json) || fail "stats with a node down failed"
[ "$(j "$out" 'd["cluster"]["nodes_up"], [n["up"] for n in d["nodes"] if n["id"] == 4]')" = "(5, [False])" ] ||
	fail "node 4 not down: $out"
ctl stats --once > "$T/table" || fail "stats table failed"
grep -q '^cluster: 5/6 nodes ' "$T/table" || fail "table: $(cat "$T/table")"
grep -Eq '^4 +127\.0\.0\.1:[0-9]+ +down$' "$T/table" || fail "node 4 not down in the table: $(cat "$T/table")"

# No metrics_addr anywhere, and bad usage.
grep -v '^metrics_addr' "$OBJFS_CONF" > "$T/nomx.conf"
expect_fail 1 "objfsctl stats: no node of $T/nomx.conf has a metrics_addr (objfs.conf(5))" \
	"$CTL" -c "$T/nomx.conf" stats --once
expect_fail 2 "objfsctl stats: --interval must be 0.2..3600 seconds" "$CTL" stats --interval 0.1
unmount_bucket "$T/mnt" || fail "unmount"
log "ok"
