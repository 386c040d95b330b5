#!/usr/bin/env bash
# mount_acl.sh: POSIX ACLs on an objfs mount behave as on ext4: setfacl/getfacl round trip, a
# named-user entry allows and denies another uid (checked by the kernel), an ACL the mode says
# fully is not stored, chmod changes the mask, default ACLs are inherited by new files and
# directories (instead of the umask), cp -a keeps ACLs, and another mount sees them.
. "$(dirname "$0")/mountlib.sh"

for c in setfacl getfacl setpriv getfattr; do
	command -v $c >/dev/null || { log "SKIP: no $c"; exit 77; }
done
[ "$(id -u)" -eq 0 ] || { log "SKIP: needs root (to act as uid 65534)"; exit 77; }

# as_nobody CMD...: CMD as uid/gid 65534 without supplementary groups.
as_nobody() { t setpriv --reuid 65534 --regid 65534 --clear-groups "$@"; }
# acl_of FILE: its ACL entries, one line each, without the header.
acl_of() { t getfacl --omit-header --absolute-names --numeric "$1" 2>/dev/null | sed '/^$/d'; }
# expect_acl FILE WANT...: the ACL of FILE is exactly the lines WANT.
expect_acl() {
	local f=$1 got want
	shift
	got=$(acl_of "$f")
	want=$(printf '%s\n' "$@")
	[ "$got" = "$want" ] || fail "ACL of $f is
$got
not
$want"
}

cluster_up 3
chmod 0755 "$T" # uid 65534 walks to the mount
M="$T/m"
mount_bucket demo "$M" allow_other
chmod 0755 "$M"

# --- round trip, named user, mask -----------------------------------------------------------
echo secret > "$M/f"
chmod 0600 "$M/f"
as_nobody cat "$M/f" >/dev/null 2>&1 && fail "uid 65534 read a 0600 file"
t setfacl -m u:65534:r "$M/f" || fail "setfacl -m u:65534:r"
expect_acl "$M/f" "user::rw-" "user:65534:r--" "group::---" "mask::r--" "other::---"
[ "$(stat -c %a "$M/f")" = 640 ] || fail "mode after setfacl is $(stat -c %a "$M/f"), not 640"
[ "$(as_nobody cat "$M/f")" = secret ] || fail "the named-user entry did not let uid 65534 read"
as_nobody sh -c "echo x >> '$M/f'" 2>/dev/null && fail "uid 65534 wrote with r-- only"
log "named user: allowed by the entry, denied writing"

# chmod changes the mask, and the named entry's effective rights with it.
t chmod 0600 "$M/f" || fail "chmod"
expect_acl "$M/f" "user::rw-" "user:65534:r--	#effective:---" "group::---" "mask::---" \
	"other::---"
as_nobody cat "$M/f" >/dev/null 2>&1 && fail "uid 65534 read after chmod cleared the mask"
t chmod 0640 "$M/f" || fail "chmod back"
[ "$(as_nobody cat "$M/f")" = secret ] || fail "uid 65534 cannot read after the mask came back"
log "chmod: sets the mask"

# A named entry denies what the other bits would allow.
echo open > "$M/g"
chmod 0644 "$M/g"
t setfacl -m u:65534:- "$M/g" || fail "setfacl -m u:65534:-"
as_nobody cat "$M/g" >/dev/null 2>&1 && fail "uid 65534 read past its --- entry"
t setfacl -b "$M/g" || fail "setfacl -b"
[ "$(as_nobody cat "$M/g")" = open ] || fail "uid 65534 cannot read after setfacl -b"
[ "$(stat -c %a "$M/g")" = 644 ] || fail "setfacl -b changed the mode to $(stat -c %a "$M/g")"

# An ACL the mode says fully is the mode: nothing stored.
t setfacl -m u::rwx,g::r-x,o::r-x "$M/g" || fail "setfacl of a minimal ACL"
[ "$(stat -c %a "$M/g")" = 755 ] || fail "a minimal ACL set the mode to $(stat -c %a "$M/g")"
getfattr -n system.posix_acl_access "$M/g" >/dev/null 2>&1 &&
	fail "a minimal ACL was stored as an xattr"
log "minimal ACLs and setfacl -b: only the mode"

# --- default ACLs ---------------------------------------------------------------------------
mkdir "$M/d"
t setfacl -d -m u:65534:rwx,g::r-x,o::- "$M/d" || fail "setfacl -d"
(umask 077 && touch "$M/d/file" && mkdir "$M/d/sub") || fail "create in d"
# The default ACL replaces the umask: the group class keeps rw from the mask.
expect_acl "$M/d/file" "user::rw-" "user:65534:rwx	#effective:rw-" "group::r-x	#effective:r--" \
	"mask::rw-" "other::---"
[ "$(stat -c %a "$M/d/file")" = 660 ] || fail "inherited file mode $(stat -c %a "$M/d/file")"
expect_acl "$M/d/sub" "user::rwx" "user:65534:rwx" "group::r-x" "mask::rwx" "other::---" \
	"default:user::rwx" "default:user:65534:rwx" "default:group::r-x" "default:mask::rwx" \
	"default:other::---"
as_nobody sh -c "echo hi > '$M/d/sub/by-nobody'" || fail "uid 65534 cannot create in d/sub"
(umask 077 && mkdir "$M/plain") || fail "mkdir without a default ACL"
[ "$(stat -c %a "$M/plain")" = 700 ] || fail "umask not applied without a default ACL"
log "default ACLs: inherited by files and directories, umask applied elsewhere"

# --- cp -a and a second mount ---------------------------------------------------------------
t cp -a "$M/f" "$M/f.copy" || fail "cp -a"
[ "$(acl_of "$M/f.copy")" = "$(acl_of "$M/f")" ] || fail "cp -a lost the ACL"
[ "$(stat -c %a "$M/f.copy")" = 640 ] || fail "cp -a: mode $(stat -c %a "$M/f.copy")"
M2="$T/m2"
mount_bucket demo "$M2" allow_other
[ "$(acl_of "$M2/d/sub")" = "$(acl_of "$M/d/sub")" ] || fail "the other mount sees another ACL"
[ "$(as_nobody cat "$M2/f")" = secret ] || fail "the other mount does not enforce the ACL"
log "cp -a keeps ACLs; a second mount sees and enforces them"
unmount_bucket "$M2" || fail "unmount of m2"
unmount_bucket "$M" || fail "unmount of m"
exit 0
