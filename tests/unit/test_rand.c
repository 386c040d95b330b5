/* test_rand.c: unit tests of the one random source (common/rand.c): it
 * fills whole buffers, large ones included, and a failure of getrandom is
 * a negative errno and a "rand.fail" log line, never a silent fallback. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../common/rand.h"
#include "../lib/testlib.h"

static int fails_logged;

static void sink(enum log_level lvl, const char *id, const char *line, void *arg)
{
	(void)line;
	(void)arg;
	if (lvl == LOG_LVL_ERROR && strcmp(id, "rand.fail") == 0) {
		fails_logged++;
	}
}

/* Bytes come out different each time and cover the whole buffer,
 * including sizes over 256 bytes, where getrandom may return short. */
START_TEST(test_fills_buffers)
{
	size_t n = 3 << 20;
	uint8_t *a = malloc(n), *b = malloc(n);
	size_t zero_a = 0, same = 0;

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	memset(a, 0, n);
	memset(b, 0, n);
	ck_assert_int_eq(rand_bytes(a, n), 0);
	ck_assert_int_eq(rand_bytes(b, n), 0);
	/* Checked in 4 KiB windows: a stretch the loop missed stays zero. */
	for (size_t off = 0; off < n; off += 4096) {
		size_t z = 0;

		for (size_t i = off; i < off + 4096; i++) {
			z += a[i] == 0;
			same += a[i] == b[i];
		}
		ck_assert_uint_lt(z, 100); /* 16 expected */
		zero_a += z;
	}
	ck_assert_uint_lt(zero_a, n / 128);
	ck_assert_uint_lt(same, n / 128);
	ck_assert_int_eq(rand_bytes(a, 0), 0);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_u64)
{
	uint64_t a = 0, b = 0;

	ck_assert_int_eq(rand_u64(&a), 0);
	ck_assert_int_eq(rand_u64(&b), 0);
	ck_assert_uint_ne(a, b);
}
END_TEST

/* A buffer the kernel may not write: -EFAULT, logged once. */
START_TEST(test_failure_reported)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *ro = mmap(NULL, (size_t)page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(ro, MAP_FAILED);
	fails_logged = 0;
	log_set_sink(sink, NULL);
	ck_assert_int_eq(rand_bytes(ro, 16), -EFAULT);
	log_set_sink(NULL, NULL);
	ck_assert_int_eq(fails_logged, 1);
	ck_assert_uint_eq(ro[0], 0);
	munmap(ro, (size_t)page);
}
END_TEST

static Suite *rand_suite(void)
{
	Suite *s = suite_create("rand");
	TCase *tc = tcase_create("bytes");

	tcase_add_test(tc, test_fills_buffers);
	tcase_add_test(tc, test_u64);
	tcase_add_test(tc, test_failure_reported);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(rand_suite());
}
