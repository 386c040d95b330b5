#!/usr/bin/env bash
# replaced_disk.sh: a node whose data dir is wiped (a replaced disk) never
# votes again as the voter it was.
#  1. every node writes DATA_DIR/identity at its first start;
#  2. a replica of bucket demo's shard is killed, its data dir emptied and
#     the node started again: it refuses, exit 1, with the exact message
#     naming the shards that list it as a voter;
#  3. a data dir of another node is refused as such;
#  4. after 'objfsctl node out ID' it starts as a new incarnation, 'node
#     in ID' makes it a voter again through membership changes, and its
#     replica catches up: the shard's objects read back identical.
. "$(dirname "$0")/lib.sh"

replicas_of() {
	ctl status 2>/dev/null | awk -v s="$1" '$1 == s && $2 ~ /^[0-9]+$/ { print $2 }'
}

cluster_up 6
randfile "$T/small" 3000
randfile "$T/big" 300000
ctl put demo small "$T/small" >/dev/null || fail "put small"
ctl put demo big "$T/big" >/dev/null || fail "put big"
for d in "$T"/cluster/node*/; do
	grep -q "^cluster [0-9a-f]\{32\}$" "$d/identity" || fail "$d: no identity file"
done
wait_caught_up demo
R=$(replicas_of demo | head -n 1)
[ -n "$R" ] || fail "demo has no replica"
# Every shard node R votes in, as the others list them (sorted).
groups=$( (ctl status 2>/dev/null | awk -v r="$R" '$2 == r && $1 != "node" { print $1 }') |
	sort -u | sed "s/.*/'&'/" | paste -sd, | sed 's/,/, /g')
[ -n "$groups" ] || fail "node $R is in no shard"
inc=$(sed -n 's/^incarnation //p' "$T/cluster/node$R/identity")
kill9_node "$R"
dir="$T/cluster/node$R"
find "$dir" -mindepth 1 -delete || fail "wipe $dir"

# --- 2: refused ----------------------------------------------------------
t "$NODE" -c "$OBJFS_CONF" --id "$R" >"$T/r.out" 2>"$T/r.err"
rc=$?
[ "$rc" -eq 1 ] || fail "node $R with a wiped data dir exited $rc, not 1: $(cat "$T/r.err")"
want="objfs-node: node $R: data_dir $dir has no identity and no Raft state, but node [0-9]* lists node $R as a voter of shard $groups: refusing to vote again with its log and votes lost; run 'objfsctl node out $R', start the node, then 'objfsctl node in $R'"
grep -qx -- "$want" "$T/r.err" || fail "node $R said '$(cat "$T/r.err")', not '$want'"
[ ! -e "$dir/identity" ] || fail "the refused node wrote an identity"
[ ! -e "$dir/raft" ] || [ -z "$(ls -A "$dir/raft")" ] || fail "the refused node joined a group"
log "wiped node $R refused: voter of $groups"

# --- 3: another node's data dir ------------------------------------------
O=$((R % 6 + 1))
cp "$T/cluster/node$O/identity" "$dir/identity" || fail "copy the identity of node $O"
C=$(sed -n 's/^cluster //p' "$dir/identity")
expect_fail 1 "objfs-node: node $R: data_dir $dir belongs to node $O of cluster $C, not to node $R of cluster $C" \
	"$NODE" -c "$OBJFS_CONF" --id "$R"
rm -f "$dir/identity"

# --- 4: out, start as a new incarnation, in ------------------------------
ctl node out "$R" >"$T/out.log" 2>&1 || fail "node out $R: $(cat "$T/out.log")"
replicas_of demo | grep -qx "$R" && fail "node $R still a replica after node out"
ctl dev up --no-mount --dir "$T/cluster" >/dev/null || fail "restart of node $R"
inc2=$(sed -n 's/^incarnation //p' "$dir/identity")
[ -n "$inc2" ] && [ "$inc2" != "$inc" ] || fail "node $R is not a new incarnation ($inc -> '$inc2')"
ctl node in "$R" >"$T/in.log" 2>&1 || fail "node in $R: $(cat "$T/in.log")"
# Its replica caught up (the stand-in it replaced keeps running its group
# as a removed voter, so status lists four replicas).
for _ in $(seq 150); do
	ctl status 2>/dev/null | awk -v r="$R" '$1 == "demo" && $2 == r && ($3 == "follower" || $3 == "leader") && $7 == 0 { ok = 1 } END { exit !ok }' && break
	sleep 0.2
done
ctl status 2>/dev/null | awk -v r="$R" '$1 == "demo" && $2 == r && ($3 == "follower" || $3 == "leader") && $7 == 0 { ok = 1 } END { exit !ok }' ||
	{ ctl status; fail "node $R's replica of demo did not catch up"; }
ctl get demo small - | cmp -s - "$T/small" || fail "small differs"
ctl get demo big - | cmp -s - "$T/big" || fail "big differs"
log "PASS: node $R refused while a voter, rejoined as incarnation $inc2 through membership changes"
