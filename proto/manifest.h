/* manifest.h: the encoded description of one object's content: either the
 * bytes themselves (inline, for tiny objects) or the ordered list of
 * erasure-coded blocks that hold it.  Stored in the object index and
 * carried in OBJ_PUT/OBJ_GET.  Pure encode/decode; no I/O.
 *
 * Layout v1: u8 fmt=1, u8 flags (bit0 inline), u64 size, then
 *   inline:  u32 len, bytes[len]            (len == size)
 *   blocks:  u32 n, n * { id[16], u8 k, u8 m, u32 len, u64 csum }
 * where len is the block's byte count (sum == size) and csum the XXH3 of
 * the block's bytes, checked after decode so a wrong reconstruction can
 * never be returned as data. */
#ifndef OBJFS_MANIFEST_H
#define OBJFS_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define MANIFEST_FMT 1
#define MANIFEST_F_INLINE 0x01

struct manifest_block {
	uint8_t id[BLOCK_ID_LEN];
	uint8_t k, m;
	uint32_t len;
	uint64_t csum;
};

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
