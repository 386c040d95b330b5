/* manifest.c: encode/decode of object manifests (see manifest.h). */
#include "manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ec.h"
#include "../common/err.h"

#define MANIFEST_BLOCK_WIRE (BLOCK_ID_LEN + 1 + 1 + 4 + 8)

void manifest_encode(struct wr *w, const struct manifest *m)
{
	wr_u8(w, MANIFEST_FMT);
	wr_u8(w, m->is_inline ? MANIFEST_F_INLINE : 0);
	wr_u64(w, m->size);
	if (m->is_inline) {
		wr_blob(w, m->inline_data, (size_t)m->size);
		return;
	}
	wr_u32(w, (uint32_t)m->n_blocks);
	for (size_t i = 0; i < m->n_blocks; i++) {
		const struct manifest_block *b = &m->blocks[i];

		wr_bytes(w, b->id, BLOCK_ID_LEN);
		wr_u8(w, b->k);
		wr_u8(w, b->m);
		wr_u32(w, b->len);
		wr_u64(w, b->csum);
	}
}

int manifest_decode(const uint8_t *buf, size_t len, struct manifest *m)
{
	struct rd r;
	uint8_t flags;
	uint64_t total = 0;
	size_t n;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, len);
	if (rd_u8(&r) != MANIFEST_FMT) {
		return -OBJ_EPROTO;
	}
	flags = rd_u8(&r);
	m->size = rd_u64(&r);
	if (!rd_ok(&r) || (flags & ~MANIFEST_F_INLINE) != 0) {
		return -OBJ_EPROTO;
	}
	if (flags & MANIFEST_F_INLINE) {
		size_t ilen;

		m->is_inline = 1;
		m->inline_data = rd_blob(&r, MSG_MANIFEST_MAX, &ilen);
		if (!rd_done(&r) || ilen != m->size) {
			return -OBJ_EPROTO;
		}
		return 0;
	}
	n = rd_u32(&r);
	/* The count must fit in what is left before anything is allocated. */
	if (!rd_ok(&r) || n > r.left / MANIFEST_BLOCK_WIRE) {
		return -OBJ_EPROTO;
	}
	m->blocks = calloc(n ? n : 1, sizeof(*m->blocks));
	if (m->blocks == NULL) {
		return -ENOMEM;
	}
	m->n_blocks = n;
	for (size_t i = 0; i < n; i++) {
		struct manifest_block *b = &m->blocks[i];

		rd_bytes(&r, b->id, BLOCK_ID_LEN);
		b->k = rd_u8(&r);
		b->m = rd_u8(&r);
		b->len = rd_u32(&r);
		b->csum = rd_u64(&r);
		if (b->k < 1 || b->k > EC_MAX_K || b->m > EC_MAX_M || b->len == 0 ||
		    b->len > MSG_BLOCK_MAX) {
			r.bad = true;
			break;
		}
		total += b->len;
	}
	if (!rd_done(&r) || total != m->size) {
		manifest_free(m);
		return -OBJ_EPROTO;
	}
	return 0;
}

void manifest_free(struct manifest *m)
{
	free(m->blocks);
	m->blocks = NULL;
	m->n_blocks = 0;
}
