#!/usr/bin/env bash
# plan.sh: objfsctl plan against a real 6-node cluster sampling its usage
# every second: the nodes keep checksummed usage records, plan starts from
# the cluster's real figures (files, raw bytes from every node, the 4+2
# overhead), uses the seed's factors without enough history, fits growth
# from the history once there is enough (saying so), lets options win,
# refuses --model history when the history is short, and its fill date and
# projections follow the model's formulas.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || fail "jq missing (scripts/deps.sh)"

cluster_up 6
ctl dev down --dir "$T/cluster" >/dev/null || fail "dev down"
sed -i 's/^\[cluster\]$/[cluster]\nusage_interval = 1/' "$OBJFS_CONF"
grep -q '^usage_interval = 1$' "$OBJFS_CONF" || fail "usage_interval not set"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "dev up again"

# Before any history: the seed's factors, whatever auto would like.
ctl plan --json > "$T/p0.json" || fail "plan --json exited $?"
[ "$(jq -r '[.growth[].source] | join(",")' "$T/p0.json")" = seed,seed,seed ] ||
	fail "short history not seed: $(jq -c .growth "$T/p0.json")"
[ "$(jq -c '[.growth[].factor]' "$T/p0.json")" = '[1.5,2,1.8]' ] || fail "seed factors"

# Growth: one 200 kB file (erasure-coded, not inline) per second.
for i in $(seq 1 6); do
	randfile "$T/f" 200000
	ctl put demo "g/$i" "$T/f" >/dev/null || fail "put g/$i"
	sleep 1
done
# Every node has sampled at least 5 times.
for _ in $(seq 100); do
	n=$(ctl plan --json | jq .history.samples)
	[ "$n" -ge 30 ] && break
	sleep 0.2
done
[ "$n" -ge 30 ] || fail "only $n usage samples after 20 s"
for d in "$T"/cluster/node*/; do
	s=$(stat -c %s "$d/usage.log")
	[ $((s % 104)) = 0 ] && [ "$s" -ge 520 ] || fail "$d/usage.log is $s bytes"
done

# Today's figures are the cluster's: files, and raw bytes summed over nodes.
ctl status --json > "$T/st.json"
ctl plan --json --model seed --years 2 > "$T/p1.json" || fail "plan --model seed"
raw=$(jq '[.nodes[].frag_bytes] | add' "$T/st.json")
[ "$(jq .now.raw_bytes "$T/p1.json")" = "$raw" ] || fail "raw bytes $(jq .now.raw_bytes "$T/p1.json") != $raw"
[ "$(jq .now.files "$T/p1.json")" = 7 ] || fail "files: $(jq .now.files "$T/p1.json") (g/ and 6 files)"
[ "$(jq .now.logical_bytes "$T/p1.json")" = 1200000 ] || fail "logical bytes"
[ "$(jq -c '[.ec.overhead, .ec.min_nodes]' "$T/p1.json")" = '[1.5,6]' ] || fail "ec: $(jq -c .ec "$T/p1.json")"
[ "$(jq '.years | length' "$T/p1.json")" = 3 ] || fail "years 0..2"
# Year 2 at the seed's 1.5x files with a 20 % peak; raw bytes at 2x.
jq -e '(.years[2].files - (7 * 1.5 * 1.5 * 1.2) | fabs) < 1' "$T/p1.json" >/dev/null ||
	fail "year 2 files: $(jq .years[2].files "$T/p1.json")"
jq -e '(.years[2].raw_bytes / (.now.raw_bytes * 4 * 1.2) - 1 | fabs) < 1e-6' "$T/p1.json" >/dev/null ||
	fail "year 2 raw bytes"
jq -e '.years[0].nodes == 6 and .years[0].nodes_storage == 1' "$T/p1.json" >/dev/null ||
	fail "nodes: $(jq -c .years[0] "$T/p1.json")"
# The fill date: ln(capacity x fill / raw) / ln(2) years.
jq -e '(.years_to_fill - ((.now.capacity_bytes * 0.85 / .now.raw_bytes | log) / (2 | log)) | fabs) < 1e-6' \
	"$T/p1.json" >/dev/null || fail "years to fill: $(jq .years_to_fill "$T/p1.json")"
jq -e '.shards | map(select(.bucket == "demo"))[0].files == 7' "$T/p1.json" >/dev/null ||
	fail "shard demo: $(jq -c .shards "$T/p1.json")"

# Metadata per file is measured from the shard leaders' databases, and the
# shard sizes use it.
jq -e '.meta_bytes_per_file.source == "measured" and .meta_bytes_per_file.value > 0' "$T/p1.json" \
	>/dev/null || fail "meta bytes per file: $(jq -c .meta_bytes_per_file "$T/p1.json")"
jq -e '.meta_bytes_per_file.value as $m | .shards | map(select(.bucket == "demo"))[0] |
	(.meta_bytes_projected - .files_projected * $m | fabs) <= $m' "$T/p1.json" >/dev/null ||
	fail "shard size not files x measured bytes"
[ "$(ctl plan --json --meta-bytes 100 | jq -c .meta_bytes_per_file)" = '{"value":100,"source":"option"}' ] ||
	fail "--meta-bytes did not win"

# With enough history (its seconds standing for 10^7 s each), bytes grow
# by a fitted factor above 1; an option wins over the fit.
ctl plan --json --min-history 3 --time-scale 1e7 > "$T/p2.json" || fail "plan fit"
[ "$(jq -r .growth.bytes.source "$T/p2.json")" = history ] || fail "bytes not fitted: $(jq -c .growth "$T/p2.json")"
jq -e '.growth.bytes.factor > 1 and .growth.bytes.factor < 1000' "$T/p2.json" >/dev/null ||
	fail "fitted bytes factor $(jq .growth.bytes.factor "$T/p2.json")"
ctl plan --json --min-history 3 --time-scale 1e7 --bytes-growth 3 > "$T/p3.json" || fail "plan option"
[ "$(jq -c '.growth.bytes' "$T/p3.json")" = '{"factor":3,"source":"option"}' ] || fail "option did not win"
ctl plan --min-history 3 --time-scale 1e7 | grep -q '^growth per year: .*bytes x[0-9.e+]* (history)' ||
	fail "table does not say the bytes growth came from the history"
t "$CTL" plan --model history --min-history 1e9 > /dev/null 2> "$T/h.err"; rc=$?
[ "$rc" = 1 ] || fail "--model history with a short history exited $rc"
grep -q '^objfsctl plan: --model history: the objects history has [0-9]* points over [0-9]* s, fewer than 3 over 1000000000 s$' "$T/h.err" ||
	fail "--model history said: $(cat "$T/h.err")"
expect_fail 2 "objfsctl plan: --fill: a number in 0.01..1" "$CTL" plan --fill 2
log "ok"
