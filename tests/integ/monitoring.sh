#!/usr/bin/env bash
# monitoring.sh: the monitoring assets are valid and tested: promtool
# checks the rules and the example scrape config and runs the unit test
# of every alert; the Grafana dashboard is JSON; every objfs metric the
# rules and the dashboard use, and every one the programs export, is
# documented in objfs-node(8) or objfs(1).
# Needs promtool (Debian package prometheus); skips (77) without it.
set -u
SRC=${OBJFS_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
M="$SRC/monitoring"
command -v promtool >/dev/null || { echo "monitoring.sh: promtool missing (apt install prometheus): skip"; exit 77; }
fail() { echo "monitoring.sh: FAIL: $*"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/objfs-mon.XXXXXX")
trap 'rm -rf "$T"' EXIT

(cd "$M" && timeout 60 promtool check rules objfs-rules.yml) || fail "promtool check rules"
(cd "$M" && timeout 60 promtool check config prometheus.yml) || fail "promtool check config"
(cd "$M" && timeout 60 promtool test rules tests/objfs-rules.test.yml) >"$T/test.out" 2>&1 ||
	{ cat "$T/test.out"; fail "promtool test rules"; }
grep -q SUCCESS "$T/test.out" || fail "promtool test rules did not report SUCCESS"

# Every alert of the rules file has a test case.
for a in $(sed -n 's/^ *- alert: *//p' "$M/objfs-rules.yml"); do
	grep -q "alertname: $a\$" "$M/tests/objfs-rules.test.yml" || fail "alert $a has no unit test"
done
[ "$(grep -c '^ *- alert:' "$M/objfs-rules.yml")" -eq 10 ] || fail "expected the 10 alerts"

python3 -m json.tool "$M/grafana-objfs.json" >/dev/null || fail "grafana-objfs.json is not JSON"

for m in $(grep -oh 'objfs_[a-z_]*' "$M/objfs-rules.yml" "$M/grafana-objfs.json" | sort -u); do
	base=$(echo "$m" | sed -E 's/_(bucket|sum|count)$//')
	grep -q -- "$base" "$SRC/man/objfs-node.8" "$SRC/man/objfs.1" || fail "metric $base is in no man page"
done
# Every metric the programs export is documented too (names are string
# literals in the sources that register or emit them; objfsctl class move
# serves the mover's).
for m in $(grep -oh '"\(objfs\|process\)_[a-z_]*"' "$SRC"/common/*.c "$SRC"/nodes/*.c "$SRC"/fuse/*.c |
	tr -d '"' | sort -u); do
	grep -q -- "$m" "$SRC/man/objfs-node.8" "$SRC/man/objfs.1" "$SRC/man/objfsctl.8" ||
		fail "exported metric $m is in no man page"
done
echo "monitoring.sh: rules, alert tests, config, dashboard: ok"
