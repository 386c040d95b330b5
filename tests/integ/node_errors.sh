#!/usr/bin/env bash
# node_errors.sh: wrong input to the programs gets a clear message and the
# documented exit code: bad config (file, line, key named), missing data
# dir, port in use (node and dev up), unknown options, options after
# operands, missing objects, bad bucket names, bucket listing;
# a node flipping a stored byte is caught by its checksum on read.
. "$(dirname "$0")/lib.sh"

expect() { # expect CODE PATTERN CMD...: exit code and stderr text ("" for none)
	local code=$1 pat=$2 rc
	shift 2
	t "$@" >"$T/out" 2>"$T/err"; rc=$?
	[ "$rc" -eq "$code" ] || { cat "$T/err"; fail "'$*' exited $rc, expected $code"; }
	[ -z "$pat" ] || grep -qiE -- "$pat" "$T/err" "$T/out" || { cat "$T/err"; fail "'$*' did not say /$pat/"; }
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
# returns the right data by reconstructing from other fragments (victim
# is the only object with fragments so far).
randfile "$T/obj" 3000000
ctl put demo victim "$T/obj" >/dev/null || fail "put"
f=$(find "$T/cluster" -path '*/frags/*' -name '*.0' ! -path '*quarantine*' | head -1)
[ -n "$f" ] || fail "no data fragment found on disk"
nd=${f#"$T/cluster/"}; nd=${nd%%/*}
printf '\xff' | dd of="$f" bs=1 seek=100 conv=notrunc status=none
ctl get demo victim - | cmp -s - "$T/obj" || fail "read after corruption differs"
[ -n "$(ls -A "$T/cluster/$nd/frags/quarantine" 2>/dev/null)" ] || fail "corrupt fragment not quarantined"
grep -q "frag.corrupt" "$T/cluster/$nd.log" || fail "no frag.corrupt warning logged by $nd"

# bucket ls lists exactly the buckets, in name order, and exits 0.
for b in gca gcb gcc; do
	ctl bucket create "$b" >/dev/null || fail "bucket create $b"
done
expect 0 "" "$CTL" bucket ls
printf 'demo\ngca\ngcb\ngcc\n' | cmp -s - "$T/out" || { cat "$T/out"; fail "bucket ls listed other names"; }

# Options may follow the operands, as with GNU getopt; '--' ends them.
randfile "$T/small" 5000
ctl put gcc k "$T/small" >/dev/null || fail "put gcc/k"
expect 1 "gcc: bucket is not empty" "$CTL" bucket rm gcc
POSIXLY_CORRECT=1 expect 2 "^Usage: objfsctl bucket create" "$CTL" bucket rm gcc --force
expect 0 "" "$CTL" bucket rm gcc --force
expect 0 "" "$CTL" bucket rm gcb -f
expect 2 "^Usage: objfsctl bucket create" "$CTL" bucket ls --force
expect 0 "" "$CTL" bucket ls
printf 'demo\ngca\n' | cmp -s - "$T/out" || { cat "$T/out"; fail "bucket ls after rm --force"; }
ctl put gca a/b "$T/small" >/dev/null && ctl put gca top "$T/small" >/dev/null || fail "put gca"
expect 0 "" "$CTL" ls gca -d
printf '         PRE  a/\n        5000  top\n' | cmp -s - "$T/out" || { cat "$T/out"; fail "ls gca -d"; }
expect 0 "" "$CTL" put gca -- -k "$T/small"
expect 0 "" "$CTL" get gca -- -k "$T/back"
cmp -s "$T/small" "$T/back" || fail "object -k differs"
expect 2 "objfsctl rm: unrecognized option '--bogus'" "$CTL" rm gca --bogus
expect 2 "objfsctl status: invalid option -- 'x'" "$CTL" status -x

# dev up names a taken port and starts nothing: here the node port, then
# the raft port (node port + 1000) of the running cluster's node 1.
pids=$(cat "$T"/cluster/node*.pid)
for p in "$port" $((port - 1000)); do
	t "$CTL" dev up --no-mount --nodes 3 --dir "$T/second" --port "$p" >"$T/out" 2>"$T/err"
	rc=$?
	# Stops whatever a wrong dev up would have started.
	timeout -k 5 30 "$CTL" dev down --dir "$T/second" >/dev/null 2>&1
	[ "$rc" -eq 1 ] || { cat "$T/out" "$T/err"; fail "dev up on taken ports exited $rc"; }
	kind=port; [ "$p" = "$port" ] || kind="raft port"
	grep -q "^objfsctl dev up: $kind $port of node 1 on 127.0.0.1 is in use; nothing started" "$T/err" ||
		{ cat "$T/err"; fail "dev up --port $p did not name $kind $port as in use"; }
	! ls "$T/second"/node*.pid >/dev/null 2>&1 || fail "dev up on taken ports started nodes"
	[ ! -e "$T/second/objfs.conf" ] || fail "dev up on taken ports left its new config behind"
done
[ "$(cat "$T"/cluster/node*.pid)" = "$pids" ] || fail "the running cluster's nodes changed"
ctl status >/dev/null || fail "the running cluster is disturbed"
ctl put demo alive "$T/small" >/dev/null || fail "put to the running cluster"
ctl get demo alive - | cmp -s - "$T/small" || fail "get from the running cluster"
log "PASS"
