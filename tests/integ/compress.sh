#!/usr/bin/env bash
# compress.sh: compressed and raw blocks mix in one file.  A bucket made
# with --compress zstd gets a file of a text chunk and a random chunk
# through a mount; the bucket is switched to lz4, then to none, and the
# same file grows by a text and a random chunk each time.  The codec
# statistics count exactly the two text chunks of zstd and lz4 as
# compressed (random chunks are stored raw, and so is everything under
# none), the file reads back identical through a fresh mount and through
# objfsctl get, objects put through objfsctl are compressed too, the
# mount's metrics count its compressed blocks, fsck is clean, and bad
# codecs or buckets, and a non-admin key, are refused with their exact
# message.
. "$(dirname "$0")/mountlib.sh"

command -v jq >/dev/null || fail "jq missing (scripts/deps.sh)"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
CHUNK=$((4 << 20)) # the dev cluster's block_size

# textfile FILE SEED: one chunk of log lines (compresses about 5:1).
textfile() {
	awk -v s="$2" 'BEGIN { srand(s); while (n < 4194304) {
		l = sprintf("2026-12-02T03:%02d:%02d node %d: block %08x stored in %d us\n",
			int(rand() * 60), int(rand() * 60), int(rand() * 6), int(rand() * 2^31), int(rand() * 900));
		printf "%s", l; n += length(l) } }' | head -c "$CHUNK" > "$1"
}

# info FIELD: the field of `bucket info zb --json`.
info() { ctl bucket info zb --json | jq -r ".$1"; }

cluster_up 6
ctl bucket create --compress zstd zb >/dev/null || fail "bucket create --compress zstd"
[ "$(info compress)" = zstd ] || fail "a new bucket's codec is $(info compress), not zstd"
[ "$(info blocks)" = 0 ] || fail "a new bucket holds $(info blocks) blocks"

textfile "$T/t1" 1
textfile "$T/t2" 2
textfile "$T/t3" 3
randfile "$T/r1" "$CHUNK"
randfile "$T/r2" "$CHUNK"
randfile "$T/r3" 100000
cat "$T/t1" "$T/r1" > "$T/want"

M="$T/mnt"
MPORT=$(free_port)
mount_bucket zb "$M" "metrics=127.0.0.1:$MPORT"
t cp "$T/want" "$M/f" || fail "write with zstd"
t sync "$M/f" || fail "sync"
# A statfs makes the mount read the bucket's codec at once (else it
# would within 5 s).
ctl bucket set --compress lz4 zb >/dev/null || fail "bucket set --compress lz4"
t stat -f "$M" >/dev/null || fail "statfs"
cat "$T/t2" "$T/r2" >> "$T/want"
t sh -c "cat '$T/t2' '$T/r2' >> '$M/f'" || fail "append with lz4"
t sync "$M/f" || fail "sync"
ctl bucket set --compress none zb >/dev/null || fail "bucket set --compress none"
t stat -f "$M" >/dev/null || fail "statfs"
cat "$T/t3" "$T/r3" >> "$T/want"
t sh -c "cat '$T/t3' '$T/r3' >> '$M/f'" || fail "append with none"
t sync "$M/f" || fail "sync"
curl -s --max-time 5 "http://127.0.0.1:$MPORT/metrics" > "$T/metrics" || fail "mount metrics"
unmount_bucket "$M" || fail "unmount"

grep -qx 'objfs_blocks_compressed_total 2' "$T/metrics" ||
	fail "mount metrics: $(grep '^objfs_blocks_compressed_total' "$T/metrics"), not 2 compressed blocks"
grep -qx 'objfs_blocks_incompressible_total 2' "$T/metrics" ||
	fail "mount metrics: $(grep '^objfs_blocks_incompressible_total' "$T/metrics"), not 2 raw (random) blocks"
[ "$(info compress)" = none ] || fail "codec is $(info compress) after set none"
[ "$(info blocks)" = 6 ] || fail "the file has $(info blocks) blocks, not 6"
[ "$(info compressed_blocks)" = 2 ] || fail "$(info compressed_blocks) blocks compressed, not 2 (zstd and lz4 text)"
[ "$(info logical_bytes)" = "$(stat -c %s "$T/want")" ] || fail "logical bytes $(info logical_bytes)"
stored=$(info stored_bytes)
# The two text chunks shrink to well under half; the rest is stored as is.
[ "$stored" -lt $((4 * CHUNK + 100000 + CHUNK)) ] || fail "stored $stored bytes: the text was not compressed"

mount_bucket zb "$T/mnt2"
t cmp "$T/mnt2/f" "$T/want" || fail "a fresh mount reads another file"
unmount_bucket "$T/mnt2" || fail "unmount 2"
ctl get zb f "$T/got" || fail "objfsctl get"
cmp "$T/got" "$T/want" || fail "objfsctl get reads another file"

# objfsctl put compresses too: a text chunk with zstd is one compressed block more.
ctl bucket set --compress zstd zb >/dev/null || fail "bucket set --compress zstd"
ctl put zb obj "$T/t1" || fail "objfsctl put"
[ "$(info compressed_blocks)" = 3 ] || fail "objfsctl put: $(info compressed_blocks) compressed blocks, not 3"
ctl get zb obj - | cmp - "$T/t1" || fail "objfsctl get of a put object"

ctl fsck --json > "$T/fsck" || { cat "$T/fsck"; fail "fsck is not clean"; }
[ "$(jq -r .status "$T/fsck" | tail -n 1)" = clean ] || fail "fsck: $(tail -c 300 "$T/fsck")"

expect_fail 2 "objfsctl bucket: unknown codec 'gzip' (zstd, lz4 or none)" \
	"$CTL" bucket set --compress gzip zb
expect_fail 1 "objfsctl bucket set nosuch: No such file or directory" \
	"$CTL" bucket set --compress lz4 nosuch
# A bucket's own rw key writes and reads it, but only an admin sets its codec.
(umask 077 && ctl key create zrw --bucket zb --rw > "$T/zrw.key") || fail "key create"
expect_fail 1 "objfsctl bucket set zb: Permission denied" \
	"$CTL" -k "$T/zrw.key" bucket set --compress lz4 zb
[ "$(ctl -k "$T/zrw.key" bucket info zb --json | jq -r .compress)" = zstd ] ||
	fail "the rw key cannot read the codec, or it changed"
log "PASS: zstd, lz4 and raw blocks in one file read back identical; stored $stored of $(info logical_bytes) bytes"
