#!/usr/bin/env bash
# ops_json.sh: objfsctl's machine-readable output against a real 6-node
# cluster: --json of status, bucket ls, ls, repair and node parses and
# carries the values the cluster holds (a key with a quote, sizes, node
# states and the cluster map, a killed node shown down); bench --output writes JSON results
# that --baseline compares: equal results exit 0, a baseline made better
# than reality exits 1 naming the row and the metric.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || fail "jq missing (scripts/deps.sh)"

cluster_up 6
# A key that needs escaping in JSON, and one under a prefix.
randfile "$T/a" 5000
randfile "$T/b" 300000
ctl put demo 'q"uote\back' "$T/a" >/dev/null || fail "put q\"uote"
ctl put demo dir/big "$T/b" >/dev/null || fail "put dir/big"

ctl status --json > "$T/st.json" || fail "status --json exited $?"
jq -e . "$T/st.json" >/dev/null || fail "status --json is not JSON"
[ "$(jq '.nodes | length' "$T/st.json")" = 6 ] || fail "status --json: not 6 nodes"
[ "$(jq '.nodes_up' "$T/st.json")" = 6 ] || fail "status --json: nodes_up"
[ "$(jq -r '[.nodes[].state] | unique | join(",")' "$T/st.json")" = up ] || fail "status: states"
[ "$(jq '[.nodes[].frag_count] | add' "$T/st.json")" -ge 6 ] || fail "status: fragments of dir/big"
[ "$(jq -c '[.cluster_map[] | [.node, .state, .since]]' "$T/st.json")" = \
	'[[1,"up",null],[2,"up",null],[3,"up",null],[4,"up",null],[5,"up",null],[6,"up",null]]' ] ||
	fail "status --json: cluster map $(jq -c .cluster_map "$T/st.json")"
[ "$(jq -r '.shards[] | select(.name == "demo") | .replicas | length' "$T/st.json")" = 3 ] ||
	fail "status --json: demo has not 3 replicas"
[ "$(jq -r '.shards[] | select(.name == "demo") | .leader | type' "$T/st.json")" = number ] ||
	fail "status --json: demo has no leader"

ctl ls --json demo > "$T/ls.json" || fail "ls --json"
[ "$(jq -r '.entries[0].key' "$T/ls.json")" = 'dir/big' ] || fail "ls --json: first key"
[ "$(jq -r '.entries[1].key' "$T/ls.json")" = 'q"uote\back' ] || fail "ls --json: escaped key"
[ "$(jq '.entries[1].size' "$T/ls.json")" = 5000 ] || fail "ls --json: size"
[ "$(jq -r '.error' "$T/ls.json")" = null ] || fail "ls --json: error set"
ctl ls -d demo --json > "$T/lsd.json" || fail "ls -d --json"
[ "$(jq -c '[.entries[] | [.type, .key]]' "$T/lsd.json")" = '[["prefix","dir/"],["object","q\"uote\\back"]]' ] ||
	fail "ls -d --json: $(cat "$T/lsd.json")"
ctl bucket create other >/dev/null || fail "bucket create"
[ "$(ctl bucket ls --json | jq -c .buckets)" = '["demo","other"]' ] || fail "bucket ls --json"
ctl repair --json demo > "$T/rep.json" || fail "repair --json"
[ "$(jq -c '[.files, .blocks, .fragments_rewritten, .blocks_failed]' "$T/rep.json")" = '[2,1,0,0]' ] ||
	fail "repair --json: $(cat "$T/rep.json")"

# A node that is down is a JSON record with its error, and exit 1.
kill9_node 6
t "$CTL" status --json > "$T/st6.json"; rc=$?
[ "$rc" = 1 ] || fail "status --json with a node down exited $rc"
[ "$(jq -r '.nodes[] | select(.id == 6) | .state' "$T/st6.json")" = down ] || fail "node 6 not down"
[ "$(jq -r '.nodes[] | select(.id == 6) | .error | type' "$T/st6.json")" = string ] || fail "no error"
[ "$(jq '.nodes_up' "$T/st6.json")" = 5 ] || fail "nodes_up with one down"

# bench: JSON results, and the regression check on them.
ctl bench --size 64K --count 20 -j 2 --output "$T/run.json" >/dev/null || fail "bench --output"
jq -e '.results | length == 3' "$T/run.json" >/dev/null || fail "bench: 3 rows"
[ "$(jq -r '[.results[].op] | join(",")' "$T/run.json")" = put,get,rm ] || fail "bench ops"
[ "$(jq '.results[0].errors' "$T/run.json")" = 0 ] || fail "bench put errors"
ctl bench --baseline "$T/run.json" --compare "$T/run.json" > "$T/cmp.out" ||
	fail "a baseline equal to the run regressed: $(cat "$T/cmp.out")"
grep -q "0 regressions in 3 compared rows" "$T/cmp.out" || fail "cmp: $(cat "$T/cmp.out")"
jq '.results[1].p95_ms /= 10 | .results[0].ops_s *= 10' "$T/run.json" > "$T/better.json"
t "$CTL" bench --baseline "$T/better.json" --compare "$T/run.json" > "$T/cmp2.out"; rc=$?
[ "$rc" = 1 ] || fail "a better baseline exited $rc"
grep -q '^REGRESSION objfsctl.65536.c2 put metric=ops_s ' "$T/cmp2.out" || fail "no put ops_s row"
grep -q '^REGRESSION objfsctl.65536.c2 get metric=p95_ms ' "$T/cmp2.out" || fail "no get p95 row"
[ "$(grep -c '^REGRESSION' "$T/cmp2.out")" = 2 ] || fail "other rows: $(cat "$T/cmp2.out")"
# A live run against the better baseline fails the same way, and its
# thresholds are options: a factor of 100 forgives the tenfold change.
t "$CTL" bench --size 64K --count 20 -j 2 --repeat 2 --json --baseline "$T/better.json" \
	> "$T/live.json" 2> "$T/live.err"; rc=$?
[ "$rc" = 1 ] || fail "live run against a better baseline exited $rc"
grep -q '^REGRESSION objfsctl.65536.c2 put metric=ops_s .* best of 2 runs' "$T/live.err" ||
	fail "live: $(cat "$T/live.err")"
jq -e '.results[0].runs == 2 and (.results[0].spread.ops_s.min <= .results[0].spread.ops_s.max)' \
	"$T/live.json" >/dev/null || fail "live --json has no spread"
ctl bench --baseline "$T/better.json" --compare "$T/run.json" --p95-factor 100 \
	--throughput-factor 0.01 >/dev/null || fail "factors did not apply"
# The RESULT lines of bench/baseline.txt are read too.
ctl bench --baseline "${OBJFS_SRCDIR:-.}/bench/baseline.txt" \
	--compare "${OBJFS_SRCDIR:-.}/bench/baseline.txt" >/dev/null || fail "baseline.txt"
expect_fail 1 "objfsctl bench: --baseline $T/none.json: No such file or directory" \
	"$CTL" bench --baseline "$T/none.json"
# bench/run-fs.sh's compare mode: its RESULT lines against the baseline,
# equal (exit 0) and with one row worse than the thresholds (exit 1).
RUNFS="${OBJFS_SRCDIR:-.}/bench/run-fs.sh"
BASE="${OBJFS_SRCDIR:-.}/bench/baseline.txt"
t "$RUNFS" "$BUILD" --compare "$BASE" --baseline "$BASE" > "$T/rf.out" ||
	fail "run-fs.sh --compare of the baseline itself: $(cat "$T/rf.out")"
sed 's/^\(RESULT scenario=objfs.large op=write .* mb_s=\)[0-9.]*/\1100.00/' "$BASE" > "$T/worse.txt"
t "$RUNFS" "$BUILD" --compare "$T/worse.txt" --baseline "$BASE" > "$T/rf2.out"; rc=$?
[ "$rc" = 1 ] || fail "run-fs.sh --compare of a worse run exited $rc"
[ "$(grep '^REGRESSION' "$T/rf2.out")" = "REGRESSION objfs.large write metric=mb_s baseline=217.53 current=100 (-54%)" ] ||
	fail "run-fs.sh --compare said: $(cat "$T/rf2.out")"
log "ok"
