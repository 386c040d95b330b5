/* manifest.h: the encoded description of one object's content: either the
 * bytes themselves (inline, for tiny objects) or the ordered list of
 * erasure-coded blocks that hold it.  Stored in the object index and
 * carried in OBJ_PUT/OBJ_GET.  Pure encode/decode; no I/O.
 *
 * Layout: u8 fmt (1 or 2), u8 flags (bit0 inline), u64 size, then
 *   inline:  u32 len, bytes[len]            (len == size)
 *   blocks:  u32 n, n * { id[16], u8 k, u8 m, u32 len, u64 csum
 *                         fmt 2 only: u8 codec, u32 zlen, u8 cls }
 * where len is the block's byte count as the user wrote it (sum == size)
 * and csum the XXH3 of those bytes, checked after decode (and after
 * decompression) so a wrong reconstruction can never be returned as data.
 * fmt 2 is written only when some block is compressed or has a class, so
 * the bytes of raw, default-class manifests are those of fmt 1 (and a
 * fmt 2 manifest without such a block is refused: one encoding each). */
#ifndef OBJFS_MANIFEST_H
#define OBJFS_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define MANIFEST_FMT 1
#define MANIFEST_FMT_WIDE 2
#define MANIFEST_F_INLINE 0x01

/* Block codecs (common/compress.h); numbers are stored, never reused. */
enum { BLK_CODEC_NONE = 0, BLK_CODEC_LZ4 = 1, BLK_CODEC_ZSTD = 2, BLK_CODEC_MAX };

struct manifest_block {
	uint8_t id[BLOCK_ID_LEN];
	uint8_t k, m;
	uint32_t len;  /* the user's bytes (uncompressed) */
	uint64_t csum; /* XXH3 of those len bytes */
	uint8_t codec; /* BLK_CODEC_*: how the stored bytes encode them */
	uint32_t zlen; /* codec != NONE: bytes stored (erasure-coded); else 0 */
	uint8_t cls;   /* storage class id, 0 = the default class */
};

/* The bytes the fragments of b hold: its compressed form, or its data. */
static inline uint32_t mb_stored_len(const struct manifest_block *b)
{
	return b->codec != BLK_CODEC_NONE ? b->zlen : b->len;
}

/* True when b needs the wide encoding (codec, zlen, cls). */
static inline int mb_is_wide(const struct manifest_block *b)
{
	return b->codec != BLK_CODEC_NONE || b->zlen != 0 || b->cls != 0;
}

/* Checks the codec fields read from disk or network: a known codec, zlen
 * only with one and within a block.  0 or -1. */
static inline int mb_check_codec(const struct manifest_block *b)
{
	if (b->codec >= BLK_CODEC_MAX) {
		return -1;
	}
	if (b->codec == BLK_CODEC_NONE) {
		return b->zlen == 0 ? 0 : -1;
	}
	return b->zlen >= 1 && b->zlen <= MSG_BLOCK_MAX ? 0 : -1;
}

struct manifest {
	uint64_t size;
	int is_inline;
	const uint8_t *inline_data; /* points into the decoded buffer */
	size_t n_blocks;
	struct manifest_block *blocks; /* malloc'd by decode; manifest_free */
};

void manifest_encode(struct wr *w, const struct manifest *m);
/* Decodes buf; 0, -OBJ_EPROTO for anything malformed or inconsistent, or
 * -ENOMEM.  On success m->blocks must be released with manifest_free. */
int manifest_decode(const uint8_t *buf, size_t len, struct manifest *m);
void manifest_free(struct manifest *m);

#endif
