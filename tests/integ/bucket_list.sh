#!/usr/bin/env bash
# bucket_list.sh: 3 real nodes on loopback; `objfsctl bucket ls` prints
# every bucket of the catalog, in order, and exits 0, with one bucket and
# with several (the catalog reply carries a `more` flag like every listing,
# which the client must consume).
. "$(dirname "$0")/lib.sh"

cluster_up 3

ctl bucket ls > "$T/ls1" 2> "$T/err1" || fail "bucket ls with one bucket: exit $? ($(cat "$T/err1"))"
[ "$(cat "$T/ls1")" = "demo" ] || fail "bucket ls with one bucket printed: $(cat "$T/ls1")"
[ ! -s "$T/err1" ] || fail "bucket ls with one bucket wrote to stderr: $(cat "$T/err1")"

ctl bucket create zz || fail "bucket create zz"
ctl bucket create aa || fail "bucket create aa"
ctl bucket ls > "$T/ls3" 2> "$T/err3" || fail "bucket ls with three buckets: exit $? ($(cat "$T/err3"))"
printf 'aa\ndemo\nzz\n' > "$T/want3"
cmp -s "$T/ls3" "$T/want3" || fail "bucket ls with three buckets printed: $(tr '\n' ' ' < "$T/ls3")"
[ ! -s "$T/err3" ] || fail "bucket ls with three buckets wrote to stderr: $(cat "$T/err3")"
log "PASS"
