#!/usr/bin/env bash
# metrics.sh: a real Prometheus scrapes a dev cluster and a mount.  Every
# node and the mount are up as targets; a workload through the mount moves
# the node request histograms (frag_put, meta_op) and the mount's FUSE and
# block histograms as Prometheus's HTTP API reports them; after a kill -9
# of one node, the NodeDown alert (a test-only copy with a 2 s `for`)
# fires for exactly that node.  A client with the wrong secret is counted
# as refused frames (bad_mac); a node whose metrics port is taken does
# not start and says why.  Needs prometheus and curl; skips without.
. "$(dirname "$0")/mountlib.sh"

command -v prometheus >/dev/null && command -v curl >/dev/null ||
	{ log "SKIP: prometheus or curl missing (scripts/deps.sh)"; exit 77; }
# The whole test, bounded: a stuck step fails it instead of hanging
# (the watchdog keeps none of the test's output open).
( sleep 85; kill -TERM $$ ) >/dev/null 2>&1 &
WATCHDOG=$!
echo "$WATCHDOG" >> "$T/pids"
disown "$WATCHDOG"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

cluster_up 6
NODE_TARGETS=$(sed -n 's/^metrics_addr = //p' "$OBJFS_CONF")
[ "$(echo "$NODE_TARGETS" | wc -l)" -eq 6 ] || fail "dev up wrote $(echo "$NODE_TARGETS" | wc -l) metrics_addr, not 6"
grep -q "node 6 metrics: http://" "$T/up.log" || fail "dev up did not print the metrics addresses"
# A client with the wrong secret: node 1 counts its frames as bad MACs.
N1=$(sed -n '/^\[node 1\]/,/^\[/s/^metrics_addr = //p' "$OBJFS_CONF")
refused() { curl -s --max-time 5 "http://$N1/metrics" | sed -n "s/^objfs_node_frames_refused_total{reason=\"$1\"} //p"; }
[ "$(refused bad_mac)" = 0 ] || fail "bad_mac refusals before any: '$(refused bad_mac)'"
sed 's/^secret = .*/secret = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff/' \
	"$OBJFS_CONF" > "$T/bad.conf"
OBJFS_KEY= t "$CTL" -c "$T/bad.conf" status > /dev/null 2>&1 # as a node, with the wrong secret
[ "$(refused bad_mac)" -ge 1 ] || fail "a wrong secret's frames not counted: '$(refused bad_mac)'"
[ "$(refused replay)" = 0 ] && [ "$(refused skew)" = 0 ] || fail "refusals of the wrong reason"
MPORT=$(free_port)
mount_bucket demo "$T/mnt" "metrics=127.0.0.1:$MPORT,cache_dir=$T/dcache"

# A second mount on the same metrics port is refused with the reason.
mkdir -p "$T/mnt2"
t "$OBJFS" demo "$T/mnt2" -f -o "conf=$OBJFS_CONF,metrics=127.0.0.1:$MPORT" > "$T/m2.out" 2>&1
rc=$?
[ $rc -eq 1 ] || fail "a mount on a taken metrics port exited $rc, not 1"
grep -q "metrics address 127.0.0.1:$MPORT: address already in use" "$T/m2.out" ||
	fail "a taken metrics port was not named: $(cat "$T/m2.out")"

{
	echo "global: {scrape_interval: 1s, evaluation_interval: 1s, scrape_timeout: 900ms}"
	echo "rule_files: [$T/rules.yml]"
	echo "scrape_configs:"
	echo "  - job_name: objfs-node"
	echo "    static_configs: [{targets: [$(echo "$NODE_TARGETS" | paste -sd, -)]}]"
	echo "  - job_name: objfs-mount"
	echo "    static_configs: [{targets: ['127.0.0.1:$MPORT']}]"
} > "$T/prometheus.yml"
# NodeDown of monitoring/objfs-rules.yml with a test-sized `for`.
cat > "$T/rules.yml" <<'RULES'
groups:
  - name: objfs-test
    rules:
      - alert: NodeDown
        expr: up{job="objfs-node"} == 0
        for: 2s
        labels: {severity: critical}
RULES
PPORT=$(free_port)
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/tsdb" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn > "$T/prometheus.log" 2>&1 &
PROM_PID=$!
echo "$PROM_PID" >> "$T/pids"
API="http://127.0.0.1:$PPORT/api/v1"

# q EXPR: the first value of an instant query ("" when empty).
q() {
	curl -s --max-time 5 --data-urlencode "query=$1" "$API/query" |
		python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")'
}
# wait_q EXPR TEST SECONDS: until the query's value passes the python
# expression TEST on v (a float), or fail.
wait_q() {
	local v i
	for ((i = 0; i < $3 * 5; i++)); do
		v=$(q "$1" 2>/dev/null)
		if [ -n "$v" ] && python3 -c "import sys; v = float('$v'); sys.exit(0 if ($2) else 1)"; then
			echo "$v"
			return 0
		fi
		kill -0 "$PROM_PID" 2>/dev/null || { cat "$T/prometheus.log"; fail "prometheus exited"; }
		sleep 0.2
	done
	fail "'$1' is '$v', wanted $2 within $3 s"
}

wait_q 'count(up == 1)' 'v == 7' 30 >/dev/null
puts0=$(wait_q 'sum(objfs_node_request_duration_seconds_count{op="frag_put"})' 'v >= 0' 10)
ops0=$(wait_q 'sum(objfs_node_request_duration_seconds_count{op="meta_op"})' 'v >= 0' 10)
log "scraping 7 targets; frag_put count $puts0, meta_op count $ops0"

# Workload: 8 MiB in 4 MiB chunks (2 blocks of 4+2 fragments) and 20 small
# files (inline: commits only), read back.
t dd if=/dev/urandom of="$T/mnt/big" bs=1M count=8 status=none || fail "write big"
for i in $(seq 20); do echo "small $i" > "$T/mnt/s$i" || fail "write s$i"; done
t cat "$T/mnt/big" "$T"/mnt/s* > /dev/null || fail "read back"

# 12 fragment puts at least (more if a hand-off happened); the create and
# write commits of 21 files.
wait_q 'sum(objfs_node_request_duration_seconds_count{op="frag_put"})' "v >= $puts0 + 12" 20 >/dev/null
wait_q 'sum(objfs_node_request_duration_seconds_count{op="meta_op"})' "v >= $ops0 + 42" 20 >/dev/null
wait_q 'sum(objfs_node_request_bytes_total{op="frag_put",direction="in"})' 'v >= 8 * 1048576 * 1.5' 20 >/dev/null
p99=$(wait_q 'histogram_quantile(0.99, sum by (le) (objfs_node_request_duration_seconds_bucket{op="frag_put"}))' 'v > 0' 10)
wait_q 'sum(objfs_mount_fuse_duration_seconds_count{op="write"})' 'v >= 20' 20 >/dev/null
wait_q 'objfs_mount_block_upload_duration_seconds_count' 'v >= 2' 20 >/dev/null
wait_q 'objfs_mount_block_bytes_total{direction="upload"}' 'v == 8 * 1048576' 20 >/dev/null
# Both caches report (the mount has a disk cache).
wait_q 'count(objfs_mount_cache_bytes{cache=~"memory|disk"})' 'v == 2' 10 >/dev/null
log "histograms moved; frag_put p99 ${p99}s"

# kill -9 node 6: its target goes down and NodeDown fires for it alone.
N6=$(sed -n '/^\[node 6\]/,/^\[/s/^metrics_addr = //p' "$OBJFS_CONF")
kill9_node 6
wait_q "count(ALERTS{alertname=\"NodeDown\",alertstate=\"firing\",instance=\"$N6\"})" 'v == 1' 20 >/dev/null
[ "$(q 'count(ALERTS{alertname="NodeDown",alertstate="firing"})')" = 1 ] ||
	fail "NodeDown fired for more than node 6"
log "NodeDown fired for node 6 ($N6)"

# Node 6 restarted while another process holds its metrics port: it
# refuses to start and names the address.
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
h, p = sys.argv[1].rsplit(":", 1); s.bind((h, int(p))); s.listen(1); print("held", flush=True); time.sleep(30)' \
	"$N6" > "$T/hold.out" &
HOLD=$!
echo "$HOLD" >> "$T/pids"
for _ in $(seq 50); do grep -q held "$T/hold.out" && break; sleep 0.1; done
expect_fail 1 "objfs-node: node 6: metrics address $N6: address already in use" \
	"$NODE" --config "$OBJFS_CONF" --id 6
kill "$HOLD"

kill "$PROM_PID"
kill "$WATCHDOG" # the cleanup must not be cut short
unmount_bucket "$T/mnt" || fail "unmount"
log "ok"
