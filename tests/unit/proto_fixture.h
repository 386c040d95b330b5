/* proto_fixture.h: helpers shared by test_proto.c and test_frame.c (seeded
 * noise, exact-size heap copies, little-endian pokes). Test-only. */
#ifndef OBJFS_TESTS_PROTO_FIXTURE_H
#define OBJFS_TESTS_PROTO_FIXTURE_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../proto/wire.h"

/* splitmix64: fixed seeds keep failures reproducible. */
static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A heap copy of exactly n bytes (at least one byte is allocated so that
 * n == 0 still yields a pointer; reading it would still be a bug that
 * valgrind reports as a read of uninitialised data only if it mattered). */
static inline uint8_t *dup_exact(const void *p, size_t n)
{
	uint8_t *d = malloc(n > 0 ? n : 1);

	ck_assert_ptr_nonnull(d);
	if (n > 0) {
		memcpy(d, p, n);
	}
	return d;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

/* Body bytes of a writer with no reserve, copied out and the writer freed. */
static inline uint8_t *wr_take(struct wr *w, size_t *len)
{
	uint8_t *d;

	ck_assert_int_eq(wr_status(w), 0);
	*len = wr_len(w);
	d = dup_exact(w->buf + w->reserve, *len);
	wr_free(w);
	return d;
}

#endif /* OBJFS_TESTS_PROTO_FIXTURE_H */
