/* manifest.c: encode/decode of object manifests (see manifest.h). */
#include "manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ec.h"
#include "../common/err.h"

#define MANIFEST_BLOCK_WIRE (BLOCK_ID_LEN + 1 + 1 + 4 + 8)
#define MANIFEST_BLOCK_WIDE (MANIFEST_BLOCK_WIRE + 1 + 4 + 1)

static int any_wide(const struct manifest *m)
{
	for (size_t i = 0; !m->is_inline && i < m->n_blocks; i++) {
		if (mb_is_wide(&m->blocks[i])) {
			return 1;
		}
	}
	return 0;
}

void manifest_encode(struct wr *w, const struct manifest *m)
{
	int wide = any_wide(m);

	wr_u8(w, wide ? MANIFEST_FMT_WIDE : MANIFEST_FMT);
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
		if (wide) {
			wr_u8(w, b->codec);
			wr_u32(w, b->zlen);
			wr_u8(w, b->cls);
		}
	}
}

int manifest_decode(const uint8_t *buf, size_t len, struct manifest *m)
{
	struct rd r;
	uint8_t flags, fmt;
	uint64_t total = 0;
	size_t n, wire;
	int wide = 0;

	memset(m, 0, sizeof(*m));
	rd_init(&r, buf, len);
	fmt = rd_u8(&r);
	if (fmt != MANIFEST_FMT && fmt != MANIFEST_FMT_WIDE) {
		return -OBJ_EPROTO;
	}
	wire = fmt == MANIFEST_FMT_WIDE ? MANIFEST_BLOCK_WIDE : MANIFEST_BLOCK_WIRE;
	flags = rd_u8(&r);
	m->size = rd_u64(&r);
	if (!rd_ok(&r) || (flags & ~MANIFEST_F_INLINE) != 0) {
		return -OBJ_EPROTO;
	}
	if (flags & MANIFEST_F_INLINE) {
		size_t ilen;

		m->is_inline = 1;
		m->inline_data = rd_blob(&r, MSG_MANIFEST_MAX, &ilen);
		if (!rd_done(&r) || ilen != m->size || fmt != MANIFEST_FMT) {
			return -OBJ_EPROTO;
		}
		return 0;
	}
	n = rd_u32(&r);
	/* The count must fit in what is left before anything is allocated. */
	if (!rd_ok(&r) || n > r.left / wire) {
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
		if (fmt == MANIFEST_FMT_WIDE) {
			b->codec = rd_u8(&r);
			b->zlen = rd_u32(&r);
			b->cls = rd_u8(&r);
			wide |= mb_is_wide(b);
		}
		if (b->k < 1 || b->k > EC_MAX_K || b->m > EC_MAX_M || b->len == 0 ||
		    b->len > MSG_BLOCK_MAX || mb_check_codec(b) != 0) {
			r.bad = true;
			break;
		}
		total += b->len;
	}
	/* A wide manifest of only raw, default-class blocks is not canonical. */
	if (!rd_done(&r) || total != m->size || (fmt == MANIFEST_FMT_WIDE && !wide)) {
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
