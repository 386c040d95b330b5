/* test_usage.c: unit tests of a node's usage history (nodes/usage.c):
 * records carry their own checksum, a torn append is cut off at the next
 * open without losing the samples before it, the file stays bounded and
 * keeps the newest samples in order, and the sampler samples on its own. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/err.h"
#include "../../nodes/usage.h"
#include "../lib/testlib.h"

/* A probe that numbers its samples: frag_bytes = 1000 * n, objects = n. */
static void probe(void *arg, struct usage_sample *s)
{
	int *n = arg;

	(*n)++;
	s->frag_bytes = 1000u * (uint64_t)*n;
	s->objects = (uint64_t)*n;
	s->capacity = 1u << 30;
}

static off_t file_size(const char *dir)
{
	char p[512];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, USAGE_FILE);
	ck_assert_int_eq(stat(p, &st), 0);
	return st.st_size;
}

/* A record decodes to what was encoded; one flipped bit anywhere fails. */
START_TEST(test_record_checksum)
{
	struct usage_sample s = {.t_s = 1,
				 .uptime_s = 2,
				 .frag_bytes = 3,
				 .frag_count = 4,
				 .capacity = 5,
				 .disk_free = 6,
				 .requests = 7,
				 .objects = 8,
				 .object_bytes = 9,
				 .shards_led = 10,
				 .meta_bytes = 11},
			    back;
	uint8_t rec[USAGE_REC_LEN];

	usage_rec_encode(&s, rec);
	ck_assert_int_eq(usage_rec_decode(rec, &back), 0);
	ck_assert_int_eq(memcmp(&s, &back, sizeof(s)), 0);
	for (size_t i = 0; i < USAGE_REC_LEN; i++) {
		rec[i] ^= 0x10;
		ck_assert_int_eq(usage_rec_decode(rec, &back), -OBJ_ECHECKSUM);
		rec[i] ^= 0x10;
	}
}
END_TEST

/* Samples survive a reopen; a torn tail is cut to the record boundary and
 * the next sample follows the last good one. */
START_TEST(test_torn_tail)
{
	char dir[256];

	tl_mkdtemp(dir, sizeof(dir), "usage");
	struct usage_sample v[8];
	struct usage *u;
	char p[512];
	int n = 0, fd;

	ck_assert_int_eq(usage_open(dir, 16, 3600, probe, &n, &u), 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(usage_sample_now(u), 0);
	}
	usage_close(u);
	ck_assert_int_eq(file_size(dir), 3 * USAGE_REC_LEN);
	snprintf(p, sizeof(p), "%s/%s", dir, USAGE_FILE);
	fd = open(p, O_WRONLY | O_APPEND);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "half a record", 13), 13);
	close(fd);

	ck_assert_int_eq(usage_open(dir, 16, 3600, probe, &n, &u), 0);
	ck_assert_int_eq(file_size(dir), 3 * USAGE_REC_LEN);
	ck_assert_uint_eq(usage_get(u, v, 8), 3);
	ck_assert_uint_eq(v[0].frag_bytes, 1000);
	ck_assert_uint_eq(v[2].frag_bytes, 3000);
	ck_assert_int_eq(usage_sample_now(u), 0);
	usage_close(u);
	ck_assert_int_eq(usage_open(dir, 16, 3600, probe, &n, &u), 0);
	ck_assert_uint_eq(usage_get(u, v, 8), 4);
	ck_assert_uint_eq(v[3].objects, 4);
	ck_assert_uint_eq(usage_get(u, v, 2), 2); /* the newest two */
	ck_assert_uint_eq(v[0].objects, 3);
	usage_close(u);
	tl_rmtree(dir);
}
END_TEST

/* The file never holds more than 2 x keep records; the newest keep
 * samples are kept, oldest first, across a reopen. */
START_TEST(test_bounded)
{
	char dir[256];

	tl_mkdtemp(dir, sizeof(dir), "usage");
	struct usage_sample v[8];
	struct usage *u;
	int n = 0;

	ck_assert_int_eq(usage_open(dir, 4, 3600, probe, &n, &u), 0);
	for (int i = 0; i < 21; i++) {
		ck_assert_int_eq(usage_sample_now(u), 0);
		ck_assert_int_lt(file_size(dir), 8 * USAGE_REC_LEN);
	}
	ck_assert_uint_eq(usage_get(u, v, 8), 4);
	for (int i = 0; i < 4; i++) {
		ck_assert_uint_eq(v[i].objects, 18 + i);
	}
	usage_close(u);
	ck_assert_int_eq(usage_open(dir, 4, 3600, probe, &n, &u), 0);
	ck_assert_uint_eq(usage_get(u, v, 8), 4);
	ck_assert_uint_eq(v[0].objects, 18);
	ck_assert_uint_eq(v[3].objects, 21);
	usage_close(u);
	ck_assert_int_eq(usage_open(dir, 0, 3600, probe, &n, &u), -EINVAL);
	tl_rmtree(dir);
}
END_TEST

/* The sampler takes one sample at start and one per interval, and close
 * stops it promptly even with a long interval pending. */
START_TEST(test_sampler)
{
	char dir[256];

	tl_mkdtemp(dir, sizeof(dir), "usage");
	struct usage_sample v[8];
	struct usage *u;
	int n = 0;

	ck_assert_int_eq(usage_open(dir, 16, 1, probe, &n, &u), 0);
	ck_assert_int_eq(usage_start(u), 0);
	for (int i = 0; i < 60 && usage_get(u, v, 8) < 2; i++) {
		usleep(100 * 1000);
	}
	ck_assert_uint_ge(usage_get(u, v, 8), 2);
	ck_assert_uint_ge(v[1].t_s, v[0].t_s + 1);
	usage_close(u);

	ck_assert_int_eq(usage_open(dir, 16, 86400, probe, &n, &u), 0);
	ck_assert_int_eq(usage_start(u), 0);
	usage_close(u); /* would hang for a day if the wait ignored stopping */
	tl_rmtree(dir);
}
END_TEST

static Suite *usage_suite(void)
{
	Suite *s = suite_create("usage");
	TCase *tc = tcase_create("usage");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_record_checksum);
	tcase_add_test(tc, test_torn_tail);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_sampler);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(usage_suite());
}
