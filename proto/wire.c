/* wire.c: bounds-checked little-endian cursors (see wire.h). */
#include "wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void wr_init(struct wr *w, size_t reserve)
{
	w->buf = NULL;
	w->len = 0;
	w->cap = 0;
	w->reserve = 0;
	w->oom = false;
	w->fixed = false;
	w->full = false;
	if (reserve > 0 && wr_space(w, reserve) != NULL) {
		memset(w->buf, 0, reserve);
	}
	w->reserve = reserve;
}

void wr_init_buf(struct wr *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->len = 0;
	w->cap = cap;
	w->reserve = 0;
	w->oom = false;
	w->fixed = true;
	w->full = false;
}

void wr_free(struct wr *w)
{
	if (!w->fixed) {
		free(w->buf);
	}
	w->buf = NULL;
	w->len = w->cap = 0;
}

uint8_t *wr_space(struct wr *w, size_t n)
{
	if (w->oom || w->full) {
		return NULL;
	}
	if (w->fixed && n > w->cap - w->len) {
		w->full = true;
		return NULL;
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *nb;

		while (cap < w->len + n) {
			cap *= 2;
		}
		nb = realloc(w->buf, cap);
		if (nb == NULL) {
			w->oom = true;
			return NULL;
		}
		w->buf = nb;
		w->cap = cap;
	}
	w->len += n;
	return w->buf + w->len - n;
}

int wr_status(const struct wr *w)
{
	if (w->oom) {
		return -ENOMEM;
	}
	return w->full ? -EOVERFLOW : 0;
}

static void put_le(struct wr *w, uint64_t v, size_t n)
{
	uint8_t *p = wr_space(w, n);

	if (p == NULL) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

void wr_u8(struct wr *w, uint8_t v)
{
	put_le(w, v, 1);
}
void wr_u16(struct wr *w, uint16_t v)
{
	put_le(w, v, 2);
}
void wr_u32(struct wr *w, uint32_t v)
{
	put_le(w, v, 4);
}
void wr_u64(struct wr *w, uint64_t v)
{
	put_le(w, v, 8);
}

void wr_bytes(struct wr *w, const void *p, size_t n)
{
	uint8_t *d = wr_space(w, n);

	if (d != NULL && n > 0) {
		memcpy(d, p, n);
	}
}

void wr_str(struct wr *w, const char *s)
{
	size_t n = strlen(s);

	if (n > WIRE_STR_MAX) {
		n = WIRE_STR_MAX; /* callers validate; never emit an undecodable frame */
	}
	wr_u16(w, (uint16_t)n);
	wr_bytes(w, s, n);
}

void wr_blob(struct wr *w, const void *p, size_t n)
{
	wr_u32(w, (uint32_t)n);
	wr_bytes(w, p, n);
}

static const uint8_t *take(struct rd *r, size_t n)
{
	const uint8_t *p;

	if (r->bad || n > r->left) {
		r->bad = true;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static uint64_t get_le(struct rd *r, size_t n)
{
	const uint8_t *p = take(r, n);
	uint64_t v = 0;

	if (p == NULL) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

uint8_t rd_u8(struct rd *r)
{
	return (uint8_t)get_le(r, 1);
}
uint16_t rd_u16(struct rd *r)
{
	return (uint16_t)get_le(r, 2);
}
uint32_t rd_u32(struct rd *r)
{
	return (uint32_t)get_le(r, 4);
}
uint64_t rd_u64(struct rd *r)
{
	return get_le(r, 8);
}

void rd_bytes(struct rd *r, void *out, size_t n)
{
	const uint8_t *p = take(r, n);

	if (p == NULL) {
		memset(out, 0, n);
		return;
	}
	memcpy(out, p, n);
}

const uint8_t *rd_ptr(struct rd *r, size_t n)
{
	return take(r, n);
}

void rd_str(struct rd *r, char *out, size_t cap)
{
	size_t n = rd_u16(r);
	const uint8_t *p;

	out[0] = '\0';
	if (n >= cap || n > WIRE_STR_MAX) {
		r->bad = true;
		return;
	}
	p = take(r, n);
	if (p == NULL) {
		return;
	}
	if (memchr(p, '\0', n) != NULL) {
		r->bad = true;
		return;
	}
	memcpy(out, p, n);
	out[n] = '\0';
}

const uint8_t *rd_blob(struct rd *r, size_t max, size_t *len)
{
	size_t n = rd_u32(r);

	*len = 0;
	if (r->bad || n > max) {
		r->bad = true;
		return NULL;
	}
	*len = n;
	return take(r, n);
}
