#!/usr/bin/env bash
# quota.sh: quotas on a directory tree and on a whole bucket, on a real mount and through
# objfsctl: the usage counted when a quota is set and kept exactly as files are written,
# truncated, renamed in and out and removed (checked against a recount); writes past the byte
# limit fail with EDQUOT at close and leave the file as it was, creates past the inode limit
# fail with EDQUOT; a directory cannot be renamed out of its quota (EXDEV); df and df -i
# inside the tree show the quota; the limits survive a leader change of the shard; rm lifts it.
. "$(dirname "$0")/mountlib.sh"

cluster_up 3
M="$T/mnt"
mount_bucket demo "$M"

# used BYTES INODES: the kept usage of demo/proj is exactly that, and a recount agrees
used() {
	local out
	out=$(ctl quota get demo/proj --check --json) || fail "quota get --check: $out"
	python3 - "$out" "$1" "$2" <<'EOF' || fail "usage of /proj: $out (expected $1 bytes, $2 inodes)"
import json, sys
q = json.loads(sys.argv[1])
ok = q["used_bytes"] == int(sys.argv[2]) and q["used_inodes"] == int(sys.argv[3]) and q["consistent"]
sys.exit(0 if ok else 1)
EOF
}

mkdir -p "$M/proj/a" "$M/other" || fail "mkdir"
head -c 100000 /dev/urandom > "$M/proj/a/f1" || fail "write f1"
printf 'x' > "$M/outside"
out=$(ctl quota set demo/proj/a/f1 --bytes 1M 2>&1) && fail "a quota on a file was accepted"
case $out in *"Not a directory"*) ;; *) fail "quota on a file: '$out'" ;; esac
out=$(ctl quota set demo/proj 2>&1) && fail "quota set without limits was accepted"
ctl quota set demo/proj --bytes 1M --inodes 10 >/dev/null || fail "quota set"
used 100000 2
log "a new quota counts the tree below it (2 entries, 100000 bytes)"

# ---- the usage follows every change ----
head -c 300000 /dev/urandom > "$M/proj/a/f2" || fail "write f2"
used 400000 3
truncate -s 50000 "$M/proj/a/f2" || fail "truncate"
used 150000 3
mv "$M/outside" "$M/proj/in" || fail "rename a file into the tree"
used 150001 4
mv "$M/proj/a/f1" "$M/other/f1" || fail "rename a file out of the tree"
used 50001 3
ln "$M/proj/in" "$M/proj/in2" || fail "link"
used 50001 3
rm "$M/proj/in" "$M/proj/in2" || fail "rm"
used 50000 2
log "writes, truncation, renames in and out, links and removal keep the usage exact"

# ---- hard limits ----
out=$(t dd if=/dev/urandom of="$M/proj/big" bs=100k count=20 2>&1) && fail "a write past the byte limit succeeded"
case $out in *"Disk quota exceeded"*) ;; *) fail "write past the limit: '$out'" ;; esac
[ "$(stat -c %s "$M/proj/big")" = 0 ] || fail "the refused file kept $(stat -c %s "$M/proj/big") bytes"
used 50000 3
for i in 1 2 3 4 5 6 7; do
	t touch "$M/proj/t$i" || fail "create $i within the inode limit"
done
out=$(t touch "$M/proj/t8" 2>&1) && fail "a create past the inode limit succeeded"
case $out in *"Disk quota exceeded"*) ;; *) fail "create past the limit: '$out'" ;; esac
out=$(t mkdir "$M/proj/d" 2>&1) && fail "a mkdir past the inode limit succeeded"
case $out in *"Disk quota exceeded"*) ;; *) fail "mkdir past the limit: '$out'" ;; esac
used 50000 10
log "writes past the byte limit and creates past the inode limit fail with EDQUOT"

# ---- directories keep their quota; df shows it ----
out=$(t python3 -c "import os; os.rename('$M/proj/a', '$M/other/a')" 2>&1) &&
	fail "a directory was renamed out of its quota"
case $out in *"Invalid cross-device link"*) ;; *) fail "directory rename out of the quota: '$out'" ;; esac
mkdir "$M/other/sub" && mv "$M/other/sub" "$M/other/sub2" || fail "rename outside any quota"
df_out=$(df -B1 --output=size,used "$M/proj" | tail -1)
[ "$(echo $df_out | awk '{print $1}')" = 1048576 ] || fail "df in the tree: '$df_out'"
# df counts 4 KiB blocks: 50000 bytes used show as 13 of them
[ "$(echo $df_out | awk '{print $2}')" = $((13 * 4096)) ] || fail "df used in the tree: '$df_out'"
[ "$(df --output=itotal "$M/proj" | tail -1 | tr -d ' ')" = 10 ] || fail "df -i in the tree"
[ "$(df -B1 --output=size "$M" | tail -1 | tr -d ' ')" != 1048576 ] || fail "df outside the tree shows the quota"
log "a directory is not renamed out of its quota (EXDEV); df and df -i show the quota"

# ---- a bucket-wide quota, listing, a leader change, removal ----
ctl quota set demo --inodes 1000 --soft-bytes 10M >/dev/null || fail "quota set on the bucket"
ls_json=$(ctl quota ls demo --check --json) || fail "quota ls --check: $ls_json"
python3 - "$ls_json" <<'EOF' || fail "quota ls: $ls_json"
import json, sys
qs = {q["path"]: q for q in json.loads(sys.argv[1])}
assert sorted(qs) == ["/", "/proj"], qs
assert qs["/"]["max_inodes"] == 1000 and qs["/"]["soft_bytes"] == 10 << 20
assert all(q["consistent"] for q in qs.values())
EOF
leader=$(ctl status 2>/dev/null | awk '$1 == "demo" && $3 == "leader" { print $2 }' | head -1)
if [ -n "$leader" ] && [ "$leader" != 0 ]; then
	kill -9 "$(node_pid "$leader")"
	for ((i = 0; i < 100; i++)); do
		ctl quota get demo/proj >/dev/null 2>&1 && break
		sleep 0.2
	done
	used 50000 10
	log "quota kept across a kill -9 of the shard's leader (node $leader)"
fi
ctl quota set demo/proj --bytes 2M >/dev/null || fail "raise the byte limit"
t dd if=/dev/urandom of="$M/proj/big" bs=100k count=10 2>/dev/null || fail "a write within the raised limit"
used 1074000 10
ctl quota rm demo/proj >/dev/null || fail "quota rm"
out=$(ctl quota get demo/proj 2>&1) && fail "quota get after rm succeeded"
case $out in *"no quota set there"*) ;; *) fail "quota get after rm: '$out'" ;; esac
t touch "$M/proj/t8" || fail "create after the quota was removed"
log "bucket-wide quota listed; limits changed and removed"
unmount_bucket "$M" || fail "unmount (the refused writes must not be left to retry)"
log PASS
