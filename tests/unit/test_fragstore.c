/* test_fragstore.c: the fragment store against a real directory: round
 * trips, every kind of on-disk damage, crash leftovers, listing order,
 * accounting, capacity, open errors and concurrent writers. */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../common/checksum.h"
#include "../../common/ec.h"
#include "../../common/err.h"
#include "../../common/log.h"
#include "../../nodes/fragstore.h"
#include "../lib/testlib.h"

static char tmpdir[4096];
static int corrupt_logged;

static void sink(enum log_level lvl, const char *id, const char *line, void *arg)
{
	(void)lvl;
	(void)line;
	(void)arg;
	if (strcmp(id, "frag.corrupt") == 0) {
		corrupt_logged++;
	}
}

static void setup(void)
{
	tl_mkdtemp(tmpdir, sizeof(tmpdir), "fragstore");
	corrupt_logged = 0;
	log_set_sink(sink, NULL);
}

static void teardown(void)
{
	log_set_sink(NULL, NULL);
	tl_rmtree(tmpdir);
}

/* Fills a header and random data for fragment `index` of a block whose
 * id is derived from seed. */
static uint8_t *make_frag(uint32_t seed, uint8_t index, uint8_t k, uint8_t m, uint64_t block_len,
			  struct frag_hdr *h)
{
	uint8_t *data;

	memset(h, 0, sizeof(*h));
	for (int i = 0; i < BLOCK_ID_LEN; i++) {
		h->ref.block_id[i] = (uint8_t)(seed >> (8 * (i % 4))) ^ (uint8_t)(i * 37);
	}
	h->ref.index = index;
	h->k = k;
	h->m = m;
	h->block_len = block_len;
	h->frag_len = (uint32_t)ec_frag_len((struct ec_profile){k, m}, block_len);
	data = malloc(h->frag_len + 1);
	ck_assert_ptr_nonnull(data);
	for (uint32_t i = 0; i < h->frag_len; i++) {
		data[i] = (uint8_t)random();
	}
	h->csum = csum64(data, h->frag_len);
	return data;
}

static void frag_path(const struct frag_ref *r, char *out, size_t cap)
{
	char hex[2 * BLOCK_ID_LEN + 1];

	msg_block_hex(r->block_id, hex);
	snprintf(out, cap, "%s/frags/%.2s/%.2s/%s.%u", tmpdir, hex, hex + 2, hex, r->index);
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, off), 1);
	b ^= 0x40;
	ck_assert_int_eq(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static int nfiles;
static int ntmp;

static int count_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_F) {
		nfiles++;
		ntmp += strstr(path, ".tmp.") != NULL;
	}
	return 0;
}

/* Counts regular files (and temporary ones) under tmpdir/sub. */
static int count_files(const char *sub, int *tmps)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, sub);
	nfiles = 0;
	ntmp = 0;
	nftw(path, count_cb, 16, FTW_PHYS);
	if (tmps != NULL) {
		*tmps = ntmp;
	}
	return nfiles;
}

static void check_same(const struct frag_hdr *a, const struct frag_hdr *b)
{
	ck_assert_mem_eq(a->ref.block_id, b->ref.block_id, BLOCK_ID_LEN);
	ck_assert_uint_eq(a->ref.index, b->ref.index);
	ck_assert_uint_eq(a->k, b->k);
	ck_assert_uint_eq(a->m, b->m);
	ck_assert_uint_eq(a->block_len, b->block_len);
	ck_assert_uint_eq(a->frag_len, b->frag_len);
	ck_assert_uint_eq(a->csum, b->csum);
}

/* A stored fragment comes back with the same header and bytes, by get and by stat. */
START_TEST(test_roundtrip)
{
	struct fragstore *fs;
	struct frag_hdr h, got;
	uint8_t *data, *back;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	data = make_frag(1, 3, 4, 2, 10000, &h);
	ck_assert_int_eq(frag_put(fs, &h, data), 0);
	ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), 0);
	check_same(&h, &got);
	ck_assert_mem_eq(back, data, h.frag_len);
	free(back);
	memset(&got, 0, sizeof(got));
	ck_assert_int_eq(frag_stat(fs, &h.ref, &got), 0);
	check_same(&h, &got);
	free(data);
	frag_close(fs);
}
END_TEST

/* The file is the documented layout (fragstore.c), byte for byte: the
 * format on disk does not depend on how the code encodes it. */
START_TEST(test_disk_layout)
{
	static const uint8_t want_fixed[16] = {'O', 'B', 'J', 'F', 'F', 'R', 'A',
					       'G', 1,	 0,   4,   2,	3};
	struct fragstore *fs;
	struct frag_hdr h;
	uint8_t *data = make_frag(9, 3, 4, 2, 0x10203, &h);
	uint8_t file[64 + 32768];
	uint8_t want[64] = {0};
	char path[4200];
	uint64_t hc;
	ssize_t n;
	int fd;

	memcpy(want, want_fixed, sizeof(want_fixed));
	memcpy(want + 16, h.ref.block_id, BLOCK_ID_LEN);
	for (int i = 0; i < 8; i++) {
		want[32 + i] = (uint8_t)(h.block_len >> (8 * i));
		want[44 + i] = (uint8_t)(h.csum >> (8 * i));
	}
	for (int i = 0; i < 4; i++) {
		want[40 + i] = (uint8_t)(h.frag_len >> (8 * i));
	}
	hc = csum64(want, 56);
	for (int i = 0; i < 8; i++) {
		want[56 + i] = (uint8_t)(hc >> (8 * i));
	}
	ck_assert_uint_le(h.frag_len, sizeof(file) - 64);
	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	ck_assert_int_eq(frag_put(fs, &h, data), 0);
	frag_path(&h.ref, path, sizeof(path));
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	n = read(fd, file, sizeof(file));
	close(fd);
	ck_assert_int_eq(n, 64 + (ssize_t)h.frag_len);
	ck_assert_mem_eq(file, want, 64);
	ck_assert_mem_eq(file + 64, data, h.frag_len);
	free(data);
	frag_close(fs);
}
END_TEST

/* Fragments of every size class round-trip, including empty ones. */
START_TEST(test_sizes)
{
	static const uint64_t lens[] = {0, 1, 31, 32, 33, 127, 4096, 65537, (1u << 20) + 7};
	struct fragstore *fs;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	for (size_t i = 0; i < OBJ_ARRAY_LEN(lens); i++) {
		struct frag_hdr h, got;
		uint8_t *data = make_frag(100 + (uint32_t)i, 0, 3, 1, lens[i], &h);
		uint8_t *back;

		ck_assert_int_eq(frag_put(fs, &h, data), 0);
		ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), 0);
		ck_assert_ptr_nonnull(back);
		check_same(&h, &got);
		ck_assert_mem_eq(back, data, h.frag_len);
		free(back);
		free(data);
	}
	frag_close(fs);
}
END_TEST

/* Bytes that do not match their checksum are refused and nothing is stored. */
START_TEST(test_put_bad_csum)
{
	struct fragstore *fs;
	struct frag_hdr h, got;
	struct frag_usage u;
	uint8_t *data, *back;
	int tmps;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	data = make_frag(2, 0, 4, 2, 5000, &h);
	data[7] ^= 1;
	ck_assert_int_eq(frag_put(fs, &h, data), -OBJ_ECHECKSUM);
	ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), -ENOENT);
	ck_assert_ptr_null(back);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 0);
	ck_assert_uint_eq(u.bytes, 0);
	ck_assert_int_eq(count_files("frags", &tmps), 0);
	free(data);
	frag_close(fs);
}
END_TEST

/* Headers no codec could produce are refused with -EINVAL. */
START_TEST(test_put_bad_fields)
{
	struct fragstore *fs;
	struct frag_hdr h;
	uint8_t *data;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	data = make_frag(3, 0, 4, 2, 5000, &h);
	h.ref.index = 6;
	ck_assert_int_eq(frag_put(fs, &h, data), -EINVAL);
	h.ref.index = 0;
	h.k = 0;
	ck_assert_int_eq(frag_put(fs, &h, data), -EINVAL);
	h.k = 4;
	h.frag_len += 32;
	ck_assert_int_eq(frag_put(fs, &h, data), -EINVAL);
	ck_assert_int_eq(count_files("frags", NULL), 0);
	free(data);
	frag_close(fs);
}
END_TEST

/* A flipped data byte fails get (not stat), is logged, quarantined, then gone. */
START_TEST(test_flip_data)
{
	struct fragstore *fs;
	struct frag_hdr h, got;
	struct frag_usage u;
	uint8_t *data, *back;
	char path[4200];

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	data = make_frag(4, 1, 4, 2, 3000, &h);
	ck_assert_int_eq(frag_put(fs, &h, data), 0);
	frag_path(&h.ref, path, sizeof(path));
	flip_byte(path, 64 + 100);
	ck_assert_int_eq(frag_stat(fs, &h.ref, &got), 0);
	ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), -OBJ_ECHECKSUM);
	ck_assert_ptr_null(back);
	ck_assert_int_eq(corrupt_logged, 1);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_int_eq(count_files("frags/quarantine", NULL), 1);
	ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), -ENOENT);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.checksum_errors, 1);
	ck_assert_uint_eq(u.count, 0);
	ck_assert_uint_eq(u.bytes, 0);
	free(data);
	frag_close(fs);
}
END_TEST

/* frag_verify reads the data: a byte flipped after the header passes
 * frag_stat but fails verify, which quarantines it (then -ENOENT), and
 * counts the bytes of intact fragments only. */
START_TEST(test_verify)
{
	struct fragstore *fs;
	struct frag_hdr h1, h2, got;
	struct frag_ref none = {{0}, 3};
	uint8_t *d1, *d2;
	uint64_t bytes = 0;
	char path[4200];

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	d1 = make_frag(40, 0, 4, 2, 5000, &h1);
	d2 = make_frag(41, 5, 4, 2, 5000, &h2);
	ck_assert_int_eq(frag_put(fs, &h1, d1), 0);
	ck_assert_int_eq(frag_put(fs, &h2, d2), 0);
	ck_assert_int_eq(frag_verify(fs, &h1.ref, &bytes), 0);
	ck_assert_uint_eq(bytes, 64 + h1.frag_len);
	frag_path(&h2.ref, path, sizeof(path));
	flip_byte(path, 64 + h2.frag_len - 1);
	ck_assert_int_eq(frag_stat(fs, &h2.ref, &got), 0);
	ck_assert_int_eq(frag_verify(fs, &h2.ref, &bytes), -OBJ_ECHECKSUM);
	ck_assert_uint_eq(bytes, 64 + h1.frag_len);
	ck_assert_int_eq(count_files("frags/quarantine", NULL), 1);
	ck_assert_int_eq(frag_verify(fs, &h2.ref, NULL), -ENOENT);
	ck_assert_int_eq(frag_verify(fs, &none, NULL), -ENOENT);
	free(d1);
	free(d2);
	frag_close(fs);
}
END_TEST

/* frag_sweep keeps a file younger than the grace period (-EAGAIN), a dry
 * sweep of an old one removes nothing but says it would (1), a real one
 * removes it and its accounting (1), and an absent one is 0. */
START_TEST(test_sweep)
{
	struct fragstore *fs;
	struct frag_hdr h, got;
	struct frag_usage u;
	struct timespec old[2];
	uint8_t *d;
	char path[4200];

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	d = make_frag(50, 2, 4, 2, 7000, &h);
	ck_assert_int_eq(frag_put(fs, &h, d), 0);
	ck_assert_int_eq(frag_sweep(fs, &h.ref, 60, 0), -EAGAIN);
	ck_assert_int_eq(frag_sweep(fs, &h.ref, 60, 1), -EAGAIN);
	frag_path(&h.ref, path, sizeof(path));
	clock_gettime(CLOCK_REALTIME, &old[0]);
	old[0].tv_sec -= 120;
	old[1] = old[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, path, old, 0), 0);
	ck_assert_int_eq(frag_sweep(fs, &h.ref, 60, 1), 1);
	ck_assert_int_eq(frag_stat(fs, &h.ref, &got), 0);
	ck_assert_int_eq(frag_sweep(fs, &h.ref, 60, 0), 1);
	ck_assert_int_eq(frag_stat(fs, &h.ref, &got), -ENOENT);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 0);
	ck_assert_uint_eq(u.bytes, 0);
	ck_assert_int_eq(frag_sweep(fs, &h.ref, 0, 0), 0);
	free(d);
	frag_close(fs);
}
END_TEST

/* A flipped byte anywhere in the header fails both stat and get. */
START_TEST(test_flip_header)
{
	static const off_t offs[] = {0, 7, 8, 10, 12, 14, 20, 33, 41, 45, 53, 56, 63};
	struct fragstore *fs;
	struct frag_usage u;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	for (size_t i = 0; i < OBJ_ARRAY_LEN(offs); i++) {
		struct frag_hdr h, got;
		uint8_t *data = make_frag(5, 0, 4, 2, 3000, &h);
		uint8_t *back;
		char path[4200];

		ck_assert_int_eq(frag_put(fs, &h, data), 0);
		frag_path(&h.ref, path, sizeof(path));
		flip_byte(path, offs[i]);
		if (i % 2) {
			ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), -OBJ_ECHECKSUM);
		} else {
			ck_assert_int_eq(frag_stat(fs, &h.ref, &got), -OBJ_ECHECKSUM);
		}
		ck_assert_int_eq(frag_stat(fs, &h.ref, &got), -ENOENT);
		free(data);
	}
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.checksum_errors, OBJ_ARRAY_LEN(offs));
	ck_assert_int_eq(count_files("frags/quarantine", NULL), (int)OBJ_ARRAY_LEN(offs));
	frag_close(fs);
}
END_TEST

/* Truncated files (in the data or in the header) fail their checks. */
START_TEST(test_truncated)
{
	static const off_t lens[] = {64 + 500, 64, 30, 0};
	struct fragstore *fs;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	for (size_t i = 0; i < OBJ_ARRAY_LEN(lens); i++) {
		struct frag_hdr h, got;
		uint8_t *data = make_frag(6, 2, 4, 2, 4000, &h);
		uint8_t *back;
		char path[4200];

		ck_assert_int_eq(frag_put(fs, &h, data), 0);
		frag_path(&h.ref, path, sizeof(path));
		ck_assert_int_eq(truncate(path, lens[i]), 0);
		ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), -OBJ_ECHECKSUM);
		ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), -ENOENT);
		free(data);
	}
	frag_close(fs);
}
END_TEST

/* A valid file stored under another fragment's name is not served as that fragment. */
START_TEST(test_wrong_name)
{
	struct fragstore *fs;
	struct frag_hdr h, got;
	uint8_t *data, *back;
	char from[4200], to[4200];

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	data = make_frag(7, 0, 4, 2, 1000, &h);
	ck_assert_int_eq(frag_put(fs, &h, data), 0);
	frag_path(&h.ref, from, sizeof(from));
	h.ref.index = 1;
	frag_path(&h.ref, to, sizeof(to));
	ck_assert_int_eq(link(from, to), 0);
	ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), -OBJ_ECHECKSUM);
	h.ref.index = 0;
	ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), 0);
	free(back);
	free(data);
	frag_close(fs);
}
END_TEST

/* frag_open deletes a crash's temporary files and does not count them. */
START_TEST(test_tmp_cleanup)
{
	struct fragstore *fs;
	struct frag_hdr h, got;
	struct frag_usage u;
	uint8_t *data, *back;
	char path[4300];
	int fd, tmps;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	data = make_frag(8, 0, 4, 2, 2000, &h);
	ck_assert_int_eq(frag_put(fs, &h, data), 0);
	frag_close(fs);

	frag_path(&h.ref, path, sizeof(path));
	strcat(path, ".tmp.0123456789abcdef");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "partial", 7), 7);
	close(fd);
	ck_assert_int_eq(count_files("frags", &tmps), 2);
	ck_assert_int_eq(tmps, 1);

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	ck_assert_int_eq(count_files("frags", &tmps), 1);
	ck_assert_int_eq(tmps, 0);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 1);
	ck_assert_uint_eq(u.bytes, 64 + h.frag_len);
	ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), 0);
	free(back);
	free(data);
	frag_close(fs);
}
END_TEST

/* Deleting one index removes only it; FRAG_ALL removes the whole block and no other. */
START_TEST(test_del)
{
	struct fragstore *fs;
	struct frag_hdr h, other, got;
	struct frag_usage u;
	struct frag_ref r;
	uint8_t *data;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	for (uint8_t i = 0; i < 12; i++) {
		data = make_frag(9, i, 8, 4, 8000, &h);
		ck_assert_int_eq(frag_put(fs, &h, data), 0);
		free(data);
	}
	/* Shares the first two id bytes, so it lives in the same leaf. */
	data = make_frag(9, 0, 8, 4, 8000, &other);
	other.ref.block_id[15] ^= 1;
	ck_assert_int_eq(frag_put(fs, &other, data), 0);
	free(data);

	r = h.ref;
	r.index = 10;
	ck_assert_int_eq(frag_del(fs, &r), 1);
	ck_assert_int_eq(frag_del(fs, &r), 0);
	ck_assert_int_eq(frag_stat(fs, &r, &got), -ENOENT);
	r.index = 1;
	ck_assert_int_eq(frag_stat(fs, &r, &got), 0);
	r.index = FRAG_ALL;
	ck_assert_int_eq(frag_del(fs, &r), 11);
	ck_assert_int_eq(frag_del(fs, &r), 0);
	for (uint8_t i = 0; i < 12; i++) {
		r.index = i;
		ck_assert_int_eq(frag_stat(fs, &r, &got), -ENOENT);
	}
	ck_assert_int_eq(frag_stat(fs, &other.ref, &got), 0);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 1);
	ck_assert_uint_eq(u.bytes, 64 + other.frag_len);

	/* A block never stored, in a leaf that does not exist. */
	memset(r.block_id, 0xee, BLOCK_ID_LEN);
	r.index = FRAG_ALL;
	ck_assert_int_eq(frag_del(fs, &r), 0);
	r.index = 0;
	ck_assert_int_eq(frag_del(fs, &r), 0);
	frag_close(fs);
}
END_TEST

static int ref_cmp(const void *pa, const void *pb)
{
	const struct frag_ref *a = pa, *b = pb;
	int c = memcmp(a->block_id, b->block_id, BLOCK_ID_LEN);

	return c ? c : (int)a->index - (int)b->index;
}

/* Paging through 300 fragments returns each exactly once, in (id, index) order. */
START_TEST(test_list_pages)
{
	enum { NBLOCKS = 100, PER = 3, TOTAL = NBLOCKS * PER, PAGE = 64 };
	static const uint8_t idx[PER] = {2, 10, 1}; /* 10 after 2: numeric, not textual */
	struct frag_ref put[TOTAL], seen[TOTAL];
	struct frag_hdr page[PAGE];
	struct frag_ref after;
	struct fragstore *fs;
	size_t nseen = 0;
	int more, n, first = 1, pages = 0;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	for (int b = 0; b < NBLOCKS; b++) {
		for (int j = 0; j < PER; j++) {
			struct frag_hdr h;
			uint8_t *data = make_frag((uint32_t)b * 2654435761u, idx[j], 8, 4,
						  (uint64_t)(b * 7 % 900), &h);

			/* Every fourth block shares a leaf with its neighbour. */
			if (b % 4 == 1) {
				h.ref.block_id[0] = put[(b - 1) * PER].block_id[0];
				h.ref.block_id[1] = put[(b - 1) * PER].block_id[1];
			}
			ck_assert_int_eq(frag_put(fs, &h, data), 0);
			put[b * PER + j] = h.ref;
			free(data);
		}
	}
	memset(&after, 0, sizeof(after));
	do {
		n = frag_list(fs, &after, first, page, PAGE, &more);
		ck_assert_int_ge(n, 0);
		ck_assert_int_le(n, PAGE);
		ck_assert_uint_le(nseen + (size_t)n, TOTAL);
		for (int i = 0; i < n; i++) {
			size_t want = ec_frag_len((struct ec_profile){8, 4}, page[i].block_len);

			ck_assert_uint_eq(page[i].frag_len, want);
			seen[nseen++] = page[i].ref;
		}
		if (n > 0) {
			after = page[n - 1].ref;
		}
		first = 0;
		pages++;
		ck_assert_int_le(pages, 10);
	} while (more);
	ck_assert_int_eq(pages, (TOTAL + PAGE - 1) / PAGE);
	ck_assert_uint_eq(nseen, TOTAL);
	for (size_t i = 1; i < nseen; i++) {
		ck_assert_int_lt(ref_cmp(&seen[i - 1], &seen[i]), 0);
	}
	qsort(put, TOTAL, sizeof(put[0]), ref_cmp);
	for (size_t i = 0; i < TOTAL; i++) {
		ck_assert_int_eq(ref_cmp(&put[i], &seen[i]), 0);
	}

	/* Resuming from a ref that is not stored starts at its successor. */
	after = put[TOTAL / 2];
	after.index = 0;
	n = frag_list(fs, &after, 0, page, 1, &more);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(ref_cmp(&page[0].ref, &put[TOTAL / 2]), 0);
	ck_assert_int_eq(more, 1);

	/* Past the end: nothing, and no more. */
	memset(&after, 0xff, sizeof(after));
	ck_assert_int_eq(frag_list(fs, &after, 0, page, PAGE, &more), 0);
	ck_assert_int_eq(more, 0);
	frag_close(fs);
}
END_TEST

/* Empty store, exact last page, stray files and a damaged header are all listed right. */
START_TEST(test_list_edges)
{
	struct frag_hdr page[5], h;
	struct frag_ref after;
	struct fragstore *fs;
	struct frag_usage u;
	char path[4300];
	int more = -1, fd;

	memset(&after, 0, sizeof(after));
	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	ck_assert_int_eq(frag_list(fs, &after, 1, page, 4, &more), 0);
	ck_assert_int_eq(more, 0);
	for (uint8_t i = 0; i < 5; i++) {
		uint8_t *data = make_frag(11, i, 2, 3, 100, &h);

		ck_assert_int_eq(frag_put(fs, &h, data), 0);
		free(data);
	}
	/* Strays: a file with a hex name where a directory would be, and junk in a leaf. */
	snprintf(path, sizeof(path), "%s/frags/ab", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	frag_path(&h.ref, path, sizeof(path));
	strcat(path, "x");
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	h.ref.index = 4;
	frag_path(&h.ref, path, sizeof(path));
	flip_byte(path, 20);

	ck_assert_int_eq(frag_list(fs, &after, 1, page, 5, &more), 4);
	ck_assert_int_eq(more, 0);
	ck_assert_uint_eq(page[3].ref.index, 3);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.checksum_errors, 1);
	ck_assert_uint_eq(u.count, 4);
	ck_assert_int_eq(frag_list(fs, &after, 1, page, 3, &more), 3);
	ck_assert_int_eq(more, 1);
	ck_assert_int_eq(frag_list(fs, &page[2].ref, 0, page, 3, &more), 1);
	ck_assert_uint_eq(page[0].ref.index, 3);
	ck_assert_int_eq(more, 0);
	frag_close(fs);
	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 4);
	frag_close(fs);
}
END_TEST

/* count/bytes follow put, overwrite and del, and match after reopening. */
START_TEST(test_usage)
{
	struct fragstore *fs;
	struct frag_hdr a, a2, b;
	struct frag_usage u;
	uint8_t *da, *da2, *db;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	da = make_frag(12, 0, 4, 2, 4000, &a);
	da2 = make_frag(12, 0, 4, 2, 9000, &a2);
	db = make_frag(13, 5, 4, 2, 100, &b);
	ck_assert_int_eq(frag_put(fs, &a, da), 0);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 1);
	ck_assert_uint_eq(u.bytes, 64 + a.frag_len);
	ck_assert_uint_gt(u.disk_total, 0);
	ck_assert_uint_le(u.disk_free, u.disk_total);

	ck_assert_int_eq(frag_put(fs, &a2, da2), 0);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 1);
	ck_assert_uint_eq(u.bytes, 64 + a2.frag_len);

	ck_assert_int_eq(frag_put(fs, &b, db), 0);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 2);
	ck_assert_uint_eq(u.bytes, 128 + a2.frag_len + b.frag_len);

	ck_assert_int_eq(frag_del(fs, &a.ref), 1);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 1);
	ck_assert_uint_eq(u.bytes, 64 + b.frag_len);
	ck_assert_int_eq(frag_put(fs, &a, da), 0);
	frag_close(fs);

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 2);
	ck_assert_uint_eq(u.bytes, 128 + a.frag_len + b.frag_len);
	ck_assert_uint_eq(u.checksum_errors, 0);
	free(da);
	free(da2);
	free(db);
	frag_close(fs);
}
END_TEST

/* Past the capacity a put fails with -ENOSPC and leaves nothing behind. */
START_TEST(test_capacity)
{
	struct fragstore *fs;
	struct frag_hdr a, b, got;
	struct frag_usage u;
	uint8_t *da, *db, *back;
	uint64_t cap;
	int tmps;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	da = make_frag(14, 0, 2, 1, 10000, &a);
	db = make_frag(15, 0, 2, 1, 10000, &b);
	cap = 64 + a.frag_len + a.frag_len / 2;
	frag_set_capacity(fs, cap);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.disk_total, cap);
	ck_assert_uint_eq(u.disk_free, cap);

	ck_assert_int_eq(frag_put(fs, &a, da), 0);
	ck_assert_int_eq(frag_put(fs, &b, db), -ENOSPC);
	ck_assert_int_eq(frag_get(fs, &b.ref, &got, &back), -ENOENT);
	ck_assert_int_eq(count_files("frags", &tmps), 1);
	ck_assert_int_eq(tmps, 0);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 1);
	ck_assert_uint_eq(u.disk_free, cap - 64 - a.frag_len);

	/* Freeing space admits the put again; lifting the limit restores the disk's. */
	ck_assert_int_eq(frag_del(fs, &a.ref), 1);
	ck_assert_int_eq(frag_put(fs, &b, db), 0);
	frag_set_capacity(fs, 0);
	frag_usage(fs, &u);
	ck_assert_uint_gt(u.disk_total, cap);
	free(da);
	free(db);
	frag_close(fs);
}
END_TEST

/* frag_open rejects a missing directory, a file, and "frags" that is a file. */
START_TEST(test_open_errors)
{
	struct fragstore *fs = (struct fragstore *)1;
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	ck_assert_int_eq(frag_open(path, &fs), -ENOENT);
	ck_assert_ptr_null(fs);

	snprintf(path, sizeof(path), "%s/file", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(frag_open(path, &fs), -ENOTDIR);

	/* "frags" exists but is a file. */
	snprintf(path, sizeof(path), "%s/d", tmpdir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/d/frags", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/d", tmpdir);
	ck_assert_int_eq(frag_open(path, &fs), -ENOTDIR);
}
END_TEST

/* Whether this process can see EACCES from mode bits: not root, or root
 * that can drop to nobody in a child. */
static int can_drop_root(void)
{
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		return 0;
	}
	if (pid == 0) {
		_exit(setgid(65534) == 0 && setuid(65534) == 0 ? 0 : 1);
	}
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* frag_open rejects a directory it cannot write (as nobody when root). */
START_TEST(test_open_readonly)
{
	struct fragstore *fs = NULL;
	char path[4200];

	snprintf(path, sizeof(path), "%s/ro", tmpdir);
	ck_assert_int_eq(mkdir(path, 0555), 0);
	ck_assert_int_eq(chmod(path, 0555), 0);
	if (geteuid() != 0) {
		ck_assert_int_eq(frag_open(path, &fs), -EACCES);
	} else {
		/* Root ignores the mode bits, so try as nobody in a child. */
		pid_t pid;
		int status;

		ck_assert_int_eq(chmod(tmpdir, 0755), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			if (setgid(65534) < 0 || setuid(65534) < 0) {
				_exit(2);
			}
			_exit(frag_open(path, &fs) == -EACCES ? 0 : 1);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFEXITED(status));
		ck_assert_int_eq(WEXITSTATUS(status), 0);
	}
}
END_TEST

struct worker {
	struct fragstore *fs;
	int id;
	int failures;
};

enum { NTHREADS = 4, PER_THREAD = 50 };

static void *put_worker(void *arg)
{
	struct worker *w = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		struct frag_hdr h;
		uint8_t *data = make_frag((uint32_t)(w->id * 1000 + i / 3), (uint8_t)(i % 3), 4, 2,
					  (uint64_t)(100 + i * 50), &h);

		w->failures += frag_put(w->fs, &h, data) != 0;
		free(data);
	}
	return NULL;
}

/* Four threads putting distinct fragments at once all land, and the count agrees. */
START_TEST(test_concurrent)
{
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	struct fragstore *fs;
	struct frag_usage u;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	for (int t = 0; t < NTHREADS; t++) {
		w[t] = (struct worker){.fs = fs, .id = t + 1};
		ck_assert_int_eq(pthread_create(&th[t], NULL, put_worker, &w[t]), 0);
	}
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		ck_assert_int_eq(w[t].failures, 0);
	}
	for (int t = 0; t < NTHREADS; t++) {
		for (int i = 0; i < PER_THREAD; i++) {
			struct frag_hdr h, got;
			uint8_t *data =
			    make_frag((uint32_t)((t + 1) * 1000 + i / 3), (uint8_t)(i % 3), 4, 2,
				      (uint64_t)(100 + i * 50), &h);
			uint8_t *back;

			ck_assert_int_eq(frag_get(fs, &h.ref, &got, &back), 0);
			ck_assert_uint_eq(got.block_len, h.block_len);
			free(back);
			free(data);
		}
	}
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, NTHREADS * PER_THREAD);
	frag_close(fs);
	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, NTHREADS * PER_THREAD);
	frag_close(fs);
}
END_TEST

static Suite *fragstore_suite(int readonly_case)
{
	Suite *s = suite_create("fragstore");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* Every put syncs to disk; the default 4 s is too tight when other
	 * jobs load the disk, though each test takes well under a second. */
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_disk_layout);
	tcase_add_test(tc, test_sizes);
	tcase_add_test(tc, test_put_bad_csum);
	tcase_add_test(tc, test_put_bad_fields);
	tcase_add_test(tc, test_flip_data);
	tcase_add_test(tc, test_flip_header);
	tcase_add_test(tc, test_verify);
	tcase_add_test(tc, test_sweep);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_wrong_name);
	tcase_add_test(tc, test_tmp_cleanup);
	tcase_add_test(tc, test_del);
	tcase_add_test(tc, test_list_pages);
	tcase_add_test(tc, test_list_edges);
	tcase_add_test(tc, test_usage);
	tcase_add_test(tc, test_capacity);
	tcase_add_test(tc, test_open_errors);
	if (readonly_case) {
		tcase_add_test(tc, test_open_readonly);
	}
	tcase_add_test(tc, test_concurrent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int readonly_case = can_drop_root();
	int rc = tl_run(fragstore_suite(readonly_case));

	/* A case that cannot run here is a skip, not a pass (automake: 77). */
	if (rc == EXIT_SUCCESS && !readonly_case) {
		fprintf(stderr, "test_open_readonly skipped: root that cannot become nobody\n");
		return TL_EXIT_SKIP;
	}
	return rc;
}
