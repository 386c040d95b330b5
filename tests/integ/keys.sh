#!/usr/bin/env bash
# keys.sh: client keys and their capabilities on a real 4-node cluster.
# A ro key reads but cannot change anything, through objfsctl (EACCES)
# or a mount (mounted read-only: EROFS); a bucket key cannot touch
# another bucket nor do an admin's work; a key with a wrong secret is
# refused and counted; a revoked key is refused by every node; the key
# list is readable as JSON.
. "$(dirname "$0")/mountlib.sh"

cluster_up 4
K="$T/cluster"
[ -f "$K/admin.key" ] && [ -f "$K/demo.key" ] || fail "dev up wrote no admin.key/demo.key"
[ "$(stat -c %a "$K/demo.key")" = 600 ] || fail "demo.key is not mode 600"
adm() { ctl -k "$K/admin.key" "$@"; }

adm bucket create other >/dev/null || fail "admin: bucket create other"
adm key create rodemo --bucket demo --ro >"$T/ro.key" || fail "key create --ro"
adm key create rwother --bucket other --rw >"$T/other.key" || fail "key create --rw"
# A key file others may read is used, with a warning to chmod it.
chmod 644 "$T/ro.key"
ctl -k "$T/ro.key" ls demo >/dev/null 2>"$T/mode.err" || fail "ro key: ls"
grep -q "WARN key.mode: key file $T/ro.key is readable by others (mode 644): chmod 600 it" \
	"$T/mode.err" || fail "no warning for a key file of mode 644: $(cat "$T/mode.err")"
chmod 600 "$T/ro.key" "$T/other.key"
expect_fail 1 "objfsctl key create rodemo: a key of that name exists" \
	"$CTL" -k "$K/admin.key" key create rodemo --bucket demo --rw
expect_fail 2 "objfsctl key create: --ro and --rw need a valid --bucket BUCKET" \
	"$CTL" -k "$K/admin.key" key create x --ro

# The listing: every key, no secret.
adm key ls --json >"$T/ls.json" || fail "key ls --json"
python3 - "$T/ls.json" <<'PY' || fail "key ls --json is not the expected list"
import json, sys
keys = {k["name"]: k for k in json.load(open(sys.argv[1]))}
assert set(keys) == {"admin", "demo", "rodemo", "rwother"}, keys
assert keys["rodemo"]["caps"] == "ro" and keys["rodemo"]["bucket"] == "demo"
assert keys["admin"]["caps"] == "admin" and keys["admin"]["bucket"] == ""
assert all("secret" not in k for k in keys.values())
PY

# rw key: writes its bucket.
randfile "$T/obj" 300000
ctl -k "$K/demo.key" put demo a/obj "$T/obj" >/dev/null || fail "rw key: put"

# ro key: reads, never writes (objfsctl: EACCES).
ctl -k "$T/ro.key" get demo a/obj - | cmp -s - "$T/obj" || fail "ro key: get differs"
ctl -k "$T/ro.key" ls demo >/dev/null || fail "ro key: ls"
expect_fail 1 "objfsctl put: demo/b: Permission denied" "$CTL" -k "$T/ro.key" put demo b "$T/obj"
expect_fail 1 "objfsctl rm: demo/a/obj: Permission denied" "$CTL" -k "$T/ro.key" rm demo a/obj

# Another bucket's key, and admin work with a bucket key.
expect_fail 1 "objfsctl get: demo/a/obj: Permission denied" "$CTL" -k "$T/other.key" get demo a/obj -
expect_fail 1 "objfsctl put: demo/c: Permission denied" "$CTL" -k "$T/other.key" put demo c "$T/obj"
expect_fail 1 "objfsctl bucket create x: Permission denied" "$CTL" -k "$K/demo.key" bucket create x
expect_fail 1 "objfsctl key ls: Permission denied" "$CTL" -k "$K/demo.key" key ls
grep -qh "srv.cap: refused: key 'rwother' (rw:other) may not meta_statfs: needs read on bucket 'demo'" \
	"$K"/node*.log || fail "no refusal logged with the key's name"

# Mounts: the ro key mounts read-only; every change is EROFS.
mount_bucket demo "$T/ro" "key=$T/ro.key"
cmp -s "$T/ro/a/obj" "$T/obj" || fail "ro mount: read differs"
python3 - "$T/ro" <<'PY' || fail "ro mount: a change did not fail with EROFS"
import errno, os, sys
d = sys.argv[1]
for what, f in [("create", lambda: open(d + "/new", "w")),
                ("write", lambda: open(d + "/a/obj", "r+b")),
                ("mkdir", lambda: os.mkdir(d + "/dir")),
                ("unlink", lambda: os.unlink(d + "/a/obj")),
                ("rename", lambda: os.rename(d + "/a/obj", d + "/moved")),
                ("chmod", lambda: os.chmod(d + "/a/obj", 0o600))]:
    try:
        f()
    except OSError as e:
        assert e.errno == errno.EROFS, (what, e)
    else:
        raise AssertionError(what + " succeeded")
PY
unmount_bucket "$T/ro" || fail "unmount ro"
# A bucket key cannot mount another bucket.
t "$OBJFS" other "$T/ro" -f -o "conf=$OBJFS_CONF,key=$K/demo.key" >"$T/m.out" 2>&1 &&
	fail "demo's key mounted bucket other"
grep -q "objfs: key 'demo' is for bucket 'demo', not 'other'" "$T/m.out" ||
	fail "mount of another bucket: $(cat "$T/m.out")"

# A wrong secret under a known key id: refused and counted by the node.
authfail() { adm status | awk '$4 == "up" { print $1, $(NF - 1) }'; }
authfail >"$T/af.before"
awk '/^secret = / { s = substr($3, 2); print "secret = " (substr($3, 1, 1) == "0" ? "1" : "0") s; next } { print }' \
	"$K/demo.key" >"$T/wrong.key"
chmod 600 "$T/wrong.key"
expect_fail 1 "objfsctl get: demo/a/obj: message not authenticated" "$CTL" -k "$T/wrong.key" get demo a/obj -
ctl -k "$T/wrong.key" status >"$T/st.out"
[ "$(grep -c "refused.*(message not authenticated)" "$T/st.out")" -eq 4 ] ||
	{ cat "$T/st.out"; fail "a node accepted a wrong secret"; }
authfail >"$T/af.after"
join "$T/af.before" "$T/af.after" | awk '$3 <= $2 { bad = 1 } END { exit bad || NR != 4 }' ||
	fail "auth failures not counted on every node: $(join "$T/af.before" "$T/af.after")"

# Revocation: rm returns once every node refuses the key.
adm key rm rodemo || fail "key rm"
ctl -k "$T/ro.key" status >"$T/st.out"
[ "$(grep -c "refused.*(Required key not available)" "$T/st.out")" -eq 4 ] ||
	{ cat "$T/st.out"; fail "a node still accepts the revoked key"; }
id=$(sed -n 's/^id = //p' "$T/ro.key")
for i in 1 2 3 4; do
	grep -q "unknown or revoked key $id" "$K/node$i.log" || fail "node $i logged no refusal of $id"
done
expect_fail 1 "objfsctl get: demo/a/obj: Required key not available" \
	"$CTL" -k "$T/ro.key" get demo a/obj -
expect_fail 1 "objfsctl key rm rodemo: no such key" "$CTL" -k "$K/admin.key" key rm rodemo
log "PASS"
