/* test_compress.c: unit tests of the block codecs (common/compress.c):
 * every codec round-trips, data that does not compress is stored raw,
 * and damaged, truncated or lying input is refused without a byte
 * written past the stated length. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/compress.h"
#include "../../common/err.h"
#include "../../common/rand.h"
#include "../lib/testlib.h"

#define LEN (4u << 20)
#define GUARD 4096

/* Text that compresses about 4:1 with lz4: numbered log lines. */
static uint8_t *make_text(size_t len)
{
	uint8_t *p = malloc(len);
	size_t off = 0;

	ck_assert_ptr_nonnull(p);
	for (unsigned i = 0; off < len; i++) {
		char line[128];
		int n = snprintf(line, sizeof(line),
				 "2026-12-02T03:%02u:%02u node %u: fragment %08x stored in %u us\n",
				 i / 60 % 60, i % 60, i % 7, i * 2654435761u, i % 997);
		size_t c = (size_t)n < len - off ? (size_t)n : len - off;

		memcpy(p + off, line, c);
		off += c;
	}
	return p;
}

static uint8_t *make_random(size_t len)
{
	uint8_t *p = malloc(len);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(rand_bytes(p, len), 0);
	return p;
}

/* Compresses src with codec; the compressed length (> 0 asserted). */
static size_t squeeze(uint8_t codec, const uint8_t *src, size_t len, uint8_t **out)
{
	size_t cap = cz_bound(codec, len);
	ssize_t n;

	*out = malloc(cap);
	ck_assert_ptr_nonnull(*out);
	n = cz_compress(codec, src, len, *out, cap);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

/* lz4 and zstd round-trip text, 4 MiB and small, and keep it only when
 * it saves a tenth; zstd level 1 beats lz4 on it. */
START_TEST(test_round_trip)
{
	static const uint8_t codecs[] = {BLK_CODEC_LZ4, BLK_CODEC_ZSTD};
	static const size_t lens[] = {LEN, 100000, 3000};
	uint8_t *text = make_text(LEN);
	size_t zl[2] = {0};

	for (size_t c = 0; c < 2; c++) {
		for (size_t l = 0; l < 3; l++) {
			uint8_t *z, *back = malloc(lens[l]);
			size_t n = squeeze(codecs[c], text, lens[l], &z);

			ck_assert_uint_le(n * 10, lens[l] * 9);
			ck_assert_int_eq(cz_decompress(codecs[c], z, n, back, lens[l]), 0);
			ck_assert_mem_eq(back, text, lens[l]);
			if (l == 0) {
				zl[c] = n;
			}
			free(z);
			free(back);
		}
	}
	ck_assert_uint_lt(zl[1], zl[0]);
	free(text);
}
END_TEST

/* Random bytes: 0 (store raw) from both codecs, at every size; so does
 * NONE, and a block that starts compressible but is mostly random fails
 * the final test even when the first sample passes. */
START_TEST(test_incompressible_raw)
{
	uint8_t *rnd = make_random(LEN), *text = make_text(LEN);
	size_t cap = cz_bound(BLK_CODEC_ZSTD, LEN) + cz_bound(BLK_CODEC_LZ4, LEN);
	uint8_t *dst = malloc(cap);

	ck_assert_ptr_nonnull(dst);
	ck_assert_int_eq(cz_compress(BLK_CODEC_LZ4, rnd, LEN, dst, cap), 0);
	ck_assert_int_eq(cz_compress(BLK_CODEC_ZSTD, rnd, LEN, dst, cap), 0);
	ck_assert_int_eq(cz_compress(BLK_CODEC_LZ4, rnd, 5000, dst, cap), 0);
	ck_assert_int_eq(cz_compress(BLK_CODEC_ZSTD, rnd, 5000, dst, cap), 0);
	ck_assert_int_eq(cz_compress(BLK_CODEC_NONE, text, LEN, dst, cap), 0);
	memcpy(rnd, text, CZ_SAMPLE_LEN);
	ck_assert_int_eq(cz_compress(BLK_CODEC_LZ4, rnd, LEN, dst, cap), 0);
	free(dst);
	free(rnd);
	free(text);
}
END_TEST

/* Damaged streams: flipped bytes, a truncation, a stated length that is
 * too long or too short, another codec's stream: -OBJ_EPROTO, and the
 * guard past the stated length is never written. */
START_TEST(test_corrupt_refused)
{
	static const uint8_t codecs[] = {BLK_CODEC_LZ4, BLK_CODEC_ZSTD};
	size_t len = 1u << 20;
	uint8_t *text = make_text(len);
	uint8_t *back = malloc(2 * len + GUARD);

	ck_assert_ptr_nonnull(back);
	for (size_t c = 0; c < 2; c++) {
		uint8_t *z;
		size_t n = squeeze(codecs[c], text, len, &z);
		int rc;

		/* Output shorter than stated, then longer (the record lies). */
		memset(back, 0xa5, 2 * len + GUARD);
		ck_assert_int_eq(cz_decompress(codecs[c], z, n, back, len - 1), -OBJ_EPROTO);
		for (size_t i = len - 1; i < 2 * len + GUARD; i++) {
			ck_assert_uint_eq(back[i], 0xa5);
		}
		ck_assert_int_eq(cz_decompress(codecs[c], z, n, back, len + 1), -OBJ_EPROTO);
		/* Truncated. */
		ck_assert_int_eq(cz_decompress(codecs[c], z, n / 2, back, len), -OBJ_EPROTO);
		/* Flipped bytes through the stream: refused, or (where a byte
		 * is a literal) decoded to the stated length only; never more. */
		for (size_t off = 0; off < n; off += n / 97 + 1) {
			z[off] ^= 0x5a;
			memset(back + len, 0xa5, GUARD);
			rc = cz_decompress(codecs[c], z, n, back, len);
			ck_assert(rc == 0 || rc == -OBJ_EPROTO);
			for (size_t i = len; i < len + GUARD; i++) {
				ck_assert_uint_eq(back[i], 0xa5);
			}
			z[off] ^= 0x5a;
		}
		/* The other codec's stream. */
		ck_assert_int_eq(cz_decompress(codecs[1 - c], z, n, back, len), -OBJ_EPROTO);
		ck_assert_int_eq(cz_decompress(codecs[c], z, n, back, len), 0);
		ck_assert_mem_eq(back, text, len);
		free(z);
	}
	free(back);
	free(text);
}
END_TEST

/* Lengths and codecs out of range: -EINVAL before any work. */
START_TEST(test_bounds)
{
	uint8_t src[64] = {0}, dst[64];
	uint8_t codec = 0;

	ck_assert_int_eq(cz_compress(BLK_CODEC_MAX, src, sizeof(src), dst, sizeof(dst)), -EINVAL);
	ck_assert_int_eq(cz_compress(BLK_CODEC_LZ4, src, 0, dst, sizeof(dst)), -EINVAL);
	ck_assert_int_eq(cz_compress(BLK_CODEC_ZSTD, src, sizeof(src), dst, 8), -EINVAL);
	ck_assert_int_eq(cz_compress(BLK_CODEC_LZ4, src, MSG_BLOCK_MAX + 1, dst, SIZE_MAX),
			 -EINVAL);
	ck_assert_int_eq(cz_decompress(BLK_CODEC_NONE, src, 10, dst, 10), -EINVAL);
	ck_assert_int_eq(cz_decompress(BLK_CODEC_MAX, src, 10, dst, 10), -EINVAL);
	ck_assert_int_eq(cz_decompress(BLK_CODEC_LZ4, src, 10, dst, 0), -EINVAL);
	ck_assert_int_eq(cz_decompress(BLK_CODEC_ZSTD, src, 0, dst, 10), -EINVAL);
	ck_assert_int_eq(cz_decompress(BLK_CODEC_LZ4, src, 10, dst, MSG_BLOCK_MAX + 1), -EINVAL);
	ck_assert_int_eq(cz_decompress(BLK_CODEC_ZSTD, src, MSG_BLOCK_MAX + 1, dst, 10), -EINVAL);
	ck_assert_uint_ge(cz_bound(BLK_CODEC_LZ4, 1000), 1000);
	ck_assert_uint_ge(cz_bound(BLK_CODEC_ZSTD, 1000), 1000);

	ck_assert_int_eq(cz_parse("zstd", &codec), 0);
	ck_assert_uint_eq(codec, BLK_CODEC_ZSTD);
	ck_assert_int_eq(cz_parse("lz4", &codec), 0);
	ck_assert_uint_eq(codec, BLK_CODEC_LZ4);
	ck_assert_int_eq(cz_parse("none", &codec), 0);
	ck_assert_uint_eq(codec, BLK_CODEC_NONE);
	ck_assert_int_eq(cz_parse("gzip", &codec), -EINVAL);
	ck_assert_str_eq(cz_name(BLK_CODEC_LZ4), "lz4");
	ck_assert_str_eq(cz_name(BLK_CODEC_MAX), "?");
}
END_TEST

static Suite *compress_suite(void)
{
	Suite *s = suite_create("compress");
	TCase *t = tcase_create("codecs");

	tcase_set_timeout(t, 60);
	tcase_add_test(t, test_round_trip);
	tcase_add_test(t, test_incompressible_raw);
	tcase_add_test(t, test_corrupt_refused);
	tcase_add_test(t, test_bounds);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	return tl_run(compress_suite());
}
