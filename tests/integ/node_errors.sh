#!/usr/bin/env bash
# node_errors.sh: wrong input to the programs gets a clear message and the
# documented exit code: bad config (file, line, key named), missing data
# dir, port in use, unknown options, missing objects, bad bucket names;
# a node flipping a stored byte is caught by its checksum on read.
. "$(dirname "$0")/lib.sh"

expect() { # expect CODE PATTERN CMD...: exit code and stderr text
	local code=$1 pat=$2 rc
	shift 2
	t "$@" >"$T/out" 2>"$T/err"; rc=$?
	[ "$rc" -eq "$code" ] || { cat "$T/err"; fail "'$*' exited $rc, expected $code"; }
	grep -qiE -- "$pat" "$T/err" "$T/out" || { cat "$T/err"; fail "'$*' did not say /$pat/"; }
}

mkdir -p "$T/d1"
cat > "$T/bad.conf" <<CONF
[cluster]
secret = 0123456789abcdef0123456789abcdef
block_size = 1K
[node 1]
addr = tcp://127.0.0.1:1
data_dir = $T/d1
CONF
expect 1 "bad.conf:3.*block_size" "$NODE" -c "$T/bad.conf" -i 1
expect 1 "cannot read|No such file" "$NODE" -c "$T/none.conf" -i 1
expect 2 "--id is required" "$NODE" -c "$T/bad.conf"
expect 2 "usage" "$NODE" --bogus
expect 0 "usage" "$NODE" --help

cluster_up 3
port=$(sed -n 's/^addr = tcp:\/\/127.0.0.1:\([0-9]*\)$/\1/p' "$OBJFS_CONF" | head -1)
sed -n '/^\[cluster\]/,/^\[node 1\]/p' "$OBJFS_CONF" | sed '$d' > "$T/busy.conf"
printf '[node 9]\naddr = tcp://127.0.0.1:%s\ndata_dir = %s\n' "$port" "$T/d1" >> "$T/busy.conf"
expect 1 "address already in use" "$NODE" -c "$T/busy.conf" -i 9
printf '[node 9]\naddr = tcp://127.0.0.1:1\ndata_dir = %s\n' "$T/missing" > "$T/nodir.conf.tail"
sed -n '/^\[cluster\]/,/^\[node 1\]/p' "$OBJFS_CONF" | sed '$d' | cat - "$T/nodir.conf.tail" > "$T/nodir.conf"
expect 1 "$T/missing" "$NODE" -c "$T/nodir.conf" -i 9

expect 2 "usage" "$CTL" put demo
expect 2 "unknown command" "$CTL" frobnicate
expect 2 "invalid bucket" "$CTL" put Bad_Bucket k /dev/null
expect 1 "No such file" "$CTL" get demo nothing-here
expect 0 "usage" "$CTL" put --help

# A byte flipped on disk is detected by the checksum and the read still
# returns the right data by reconstructing from other fragments.
randfile "$T/obj" 3000000
ctl put demo victim "$T/obj" >/dev/null || fail "put"
f=$(find "$T/cluster" -path '*/frags/*' -name '*.0' ! -path '*quarantine*' | head -1)
[ -n "$f" ] || fail "no data fragment found on disk"
nd=${f#"$T/cluster/"}; nd=${nd%%/*}
printf '\xff' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
ctl get demo victim - | cmp -s - "$T/obj" || fail "read after corruption differs"
[ -n "$(ls -A "$T/cluster/$nd/frags/quarantine" 2>/dev/null)" ] || fail "corrupt fragment not quarantined"
grep -q "frag.corrupt" "$T/cluster/$nd.log" || fail "no frag.corrupt warning logged by $nd"
log "PASS"
