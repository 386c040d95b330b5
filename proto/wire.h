/* wire.h: cursor-style pack/unpack of little-endian fields: the one
 * integer codec of objfs, for messages and for on-disk headers alike.
 * The writer grows a heap buffer (wr_init) or fills a caller's fixed
 * buffer (wr_init_buf); the reader never reads past its end: the first
 * short read sets a sticky error and every later read returns zeros, so a
 * decoder checks rd_ok() once at the end instead of after each field.
 * No I/O, no allocation on the read side; any thread. */
#ifndef OBJFS_WIRE_H
#define OBJFS_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_STR_MAX 4096 /* longest string field (bucket, key, path) */

struct wr {
	uint8_t *buf;
	size_t len;
	size_t cap;
	size_t reserve; /* bytes left free at the front for a frame header */
	bool oom;	/* sticky allocation failure */
	bool fixed;	/* buf is the caller's: never grown, never freed */
	bool full;	/* sticky: a fixed buffer had no room for a field */
};

/* Starts a writer whose buffer keeps `reserve` free bytes before the
 * first field (so a frame header can be written in place later). */
void wr_init(struct wr *w, size_t reserve);
/* Starts a writer over the caller's cap bytes at buf (an on-disk header,
 * a preamble): fields land at buf[0..]; a field that does not fit is
 * dropped and makes wr_status -EOVERFLOW.  wr_free leaves buf alone. */
void wr_init_buf(struct wr *w, uint8_t *buf, size_t cap);
void wr_free(struct wr *w);
void wr_u8(struct wr *w, uint8_t v);
void wr_u16(struct wr *w, uint16_t v);
void wr_u32(struct wr *w, uint32_t v);
void wr_u64(struct wr *w, uint64_t v);
void wr_bytes(struct wr *w, const void *p, size_t n); /* raw, no length */
void wr_str(struct wr *w, const char *s);	      /* u16 len + bytes */
void wr_blob(struct wr *w, const void *p, size_t n);  /* u32 len + bytes */
/* Reserves n bytes and returns where to write them (NULL on OOM). */
uint8_t *wr_space(struct wr *w, size_t n);
/* 0, -ENOMEM (a heap writer could not grow) or -EOVERFLOW (a fixed
 * buffer was too small). */
int wr_status(const struct wr *w);
/* Body bytes written (excluding the reserve). */
static inline size_t wr_len(const struct wr *w)
{
	return w->len - w->reserve;
}

struct rd {
	const uint8_t *p;
	size_t left;
	bool bad; /* sticky: a read went past the end or a limit was broken */
};

static inline void rd_init(struct rd *r, const void *p, size_t n)
{
	r->p = p;
	r->left = n;
	r->bad = false;
}
uint8_t rd_u8(struct rd *r);
uint16_t rd_u16(struct rd *r);
uint32_t rd_u32(struct rd *r);
uint64_t rd_u64(struct rd *r);
/* Copies n raw bytes to out (zeros on short input). */
void rd_bytes(struct rd *r, void *out, size_t n);
/* Points *out into the input for n bytes without copying; NULL if short. */
const uint8_t *rd_ptr(struct rd *r, size_t n);
/* Reads a u16-length string into out (cap includes the NUL).  A string
 * longer than cap-1 or containing NUL marks the reader bad. */
void rd_str(struct rd *r, char *out, size_t cap);
/* Reads a u32-length blob; returns a pointer into the input and its
 * length, or NULL if the length exceeds max or the input. */
const uint8_t *rd_blob(struct rd *r, size_t max, size_t *len);
/* True when every read so far was in bounds. */
static inline bool rd_ok(const struct rd *r)
{
	return !r->bad;
}
/* True when every read was in bounds and the input was consumed exactly. */
static inline bool rd_done(const struct rd *r)
{
	return !r->bad && r->left == 0;
}

#endif
