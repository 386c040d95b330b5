/* test_diskcache.c: unit tests of the on-disk block cache
 * (fuse/diskcache.c): verified round trips, damaged files treated as
 * misses and removed, the LRU bound, and the index rebuilt at reopen. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/checksum.h"
#include "../../common/log.h"
#include "../../fuse/diskcache.h"
#include "../../proto/msg.h"
#include "../lib/testlib.h"

#define LEN 1000

static char dir[256];

static void setup(void)
{
	tl_mkdtemp(dir, sizeof(dir), "test_diskcache");
	log_set_sink(tl_quiet_sink, NULL);
}

static void teardown(void)
{
	tl_rmtree(dir);
	log_set_sink(NULL, NULL);
}

/* Block i: LEN bytes of value i, with its real checksum. */
static struct manifest_block block(int i, uint8_t *data)
{
	struct manifest_block b;

	memset(&b, 0, sizeof(b));
	memset(data, i, LEN);
	b.id[0] = (uint8_t)i;
	b.id[15] = 0xab;
	b.len = LEN;
	b.csum = csum64(data, LEN);
	return b;
}

static void block_path(const struct manifest_block *b, char *out, size_t len)
{
	char hex[2 * BLOCK_ID_LEN + 1];

	msg_block_hex(b->id, hex);
	snprintf(out, len, "%s/%s", dir, hex);
}

/* A stored block reads back verified; an unknown one is a miss. */
START_TEST(test_round_trip)
{
	uint8_t data[LEN], back[LEN];
	struct manifest_block b = block(1, data), other = block(2, back);
	struct dc *dc;
	uint64_t bytes, files;

	ck_assert_int_eq(dc_open(dir, 1 << 20, &dc), 0);
	ck_assert_int_eq(dc_get(dc, &b, back), -ENOENT);
	dc_put(dc, &b, data);
	memset(back, 0, LEN);
	ck_assert_int_eq(dc_get(dc, &b, back), 0);
	ck_assert_mem_eq(back, data, LEN);
	ck_assert_int_eq(dc_get(dc, &other, back), -ENOENT);
	dc_usage(dc, &bytes, &files);
	ck_assert_uint_eq(bytes, LEN);
	ck_assert_uint_eq(files, 1);
	dc_close(dc);
}
END_TEST

/* A file whose bytes no longer match the block's checksum is a miss and
 * is removed; so is one of the wrong length. */
START_TEST(test_damaged_file_is_a_miss)
{
	uint8_t data[LEN], back[LEN];
	struct manifest_block b = block(3, data), c = block(4, back);
	char path[512];
	struct dc *dc;
	int fd;

	ck_assert_int_eq(dc_open(dir, 1 << 20, &dc), 0);
	dc_put(dc, &b, data);
	block_path(&b, path, sizeof(path));
	fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "X", 1, 500), 1);
	close(fd);
	ck_assert_int_eq(dc_get(dc, &b, back), -ENOENT);
	ck_assert_int_eq(access(path, F_OK), -1);
	dc_put(dc, &c, back);
	block_path(&c, path, sizeof(path));
	ck_assert_int_eq(truncate(path, 10), 0);
	ck_assert_int_eq(dc_get(dc, &c, data), -ENOENT);
	dc_close(dc);
}
END_TEST

/* The cache never holds more than its bound; the least recently used
 * block goes first, and a hit makes a block recent. */
START_TEST(test_lru_bound)
{
	uint8_t d[4][LEN], back[LEN];
	struct manifest_block b[4];
	uint64_t bytes, files;
	struct dc *dc;

	for (int i = 0; i < 4; i++) {
		b[i] = block(10 + i, d[i]);
	}
	ck_assert_int_eq(dc_open(dir, 3 * LEN, &dc), 0);
	dc_put(dc, &b[0], d[0]);
	dc_put(dc, &b[1], d[1]);
	dc_put(dc, &b[2], d[2]);
	ck_assert_int_eq(dc_get(dc, &b[0], back), 0); /* 1 is now the oldest */
	dc_put(dc, &b[3], d[3]);
	dc_usage(dc, &bytes, &files);
	ck_assert_uint_eq(files, 3);
	ck_assert_uint_le(bytes, 3 * LEN);
	ck_assert_int_eq(dc_get(dc, &b[1], back), -ENOENT);
	ck_assert_int_eq(dc_get(dc, &b[0], back), 0);
	ck_assert_int_eq(dc_get(dc, &b[3], back), 0);
	dc_close(dc);
}
END_TEST

/* A block put by warm-up, or read twice, outlives a stream of blocks
 * read once (ARC); under LRU the stream pushes it out. */
START_TEST(test_scan_keeps_warm)
{
	uint8_t d[8][LEN], back[LEN];
	struct manifest_block b[8];
	struct dc *dc;

	for (int i = 0; i < 8; i++) {
		b[i] = block(30 + i, d[i]);
	}
	for (int pol = 0; pol < 2; pol++) {
		ck_assert_int_eq(dc_open_policy(dir, pol == 0 ? CP_LRU : CP_ARC, 3 * LEN, &dc), 0);
		dc_put_how(dc, &b[0], d[0], true);
		dc_put(dc, &b[1], d[1]);
		ck_assert_int_eq(dc_get(dc, &b[1], back), 0); /* read again */
		ck_assert(dc_has(dc, &b[0]));
		for (int i = 2; i < 8; i++) {
			dc_put(dc, &b[i], d[i]);
		}
		ck_assert(dc_has(dc, &b[0]) == (pol == 1));
		ck_assert(dc_has(dc, &b[1]) == (pol == 1));
		ck_assert(dc_has(dc, &b[7]));
		ck_assert(!dc_has(dc, &b[2]));
		dc_close(dc);
		tl_rmtree(dir);
		tl_mkdtemp(dir, sizeof(dir), "test_diskcache");
	}
}
END_TEST

/* Reopening indexes the files already there, removes leftover temporary
 * files and trims to the new bound. */
START_TEST(test_reopen)
{
	uint8_t d[3][LEN], back[LEN];
	struct manifest_block b[3];
	uint64_t bytes, files;
	char tmp[512];
	struct dc *dc;
	FILE *f;

	for (int i = 0; i < 3; i++) {
		b[i] = block(20 + i, d[i]);
	}
	ck_assert_int_eq(dc_open(dir, 1 << 20, &dc), 0);
	for (int i = 0; i < 3; i++) {
		dc_put(dc, &b[i], d[i]);
	}
	dc_close(dc);
	snprintf(tmp, sizeof(tmp), "%s/abc.1.2.tmp", dir);
	f = fopen(tmp, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_int_eq(dc_open(dir, 1 << 20, &dc), 0);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	dc_usage(dc, &bytes, &files);
	ck_assert_uint_eq(files, 3);
	ck_assert_int_eq(dc_get(dc, &b[1], back), 0);
	ck_assert_mem_eq(back, d[1], LEN);
	dc_close(dc);
	ck_assert_int_eq(dc_open(dir, 2 * LEN, &dc), 0);
	dc_usage(dc, &bytes, &files);
	ck_assert_uint_eq(files, 2);
	dc_close(dc);
}
END_TEST

static Suite *diskcache_suite(void)
{
	Suite *s = suite_create("diskcache");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_damaged_file_is_a_miss);
	tcase_add_test(tc, test_lru_bound);
	tcase_add_test(tc, test_scan_keeps_warm);
	tcase_add_test(tc, test_reopen);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(diskcache_suite());
}
