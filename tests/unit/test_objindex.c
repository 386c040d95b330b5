/* test_objindex.c: the object index replica on a real SQLite file: newest
 * version wins, tombstones, bytewise listing with prefixes and paging,
 * durability across reopen, and SQLite failures turned into errnos. */
#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/err.h"
#include "../../common/log.h"
#include "../../nodes/objindex.h"

static char tmpdir[4096];
static int sqlite_logged;

static void sink(enum log_level lvl, const char *id, const char *line, void *arg)
{
	(void)lvl;
	(void)line;
	(void)arg;
	if (strcmp(id, "oi.sqlite") == 0) {
		sqlite_logged++;
	}
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/objindex.XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	sqlite_logged = 0;
	log_set_sink(sink, NULL);
}

static void teardown(void)
{
	log_set_sink(NULL, NULL);
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static struct obj_key *key(const char *bucket, const char *k)
{
	static struct obj_key ok;

	memset(&ok, 0, sizeof(ok));
	snprintf(ok.bucket, sizeof(ok.bucket), "%s", bucket);
	snprintf(ok.key, sizeof(ok.key), "%s", k);
	return &ok;
}

static int put(struct objindex *oi, const char *bucket, const char *k, uint64_t version,
	       uint8_t deleted, uint64_t size, const char *manifest)
{
	struct obj_rec r = {
		.version = version,
		.deleted = deleted,
		.size = size,
		.manifest = (const uint8_t *)manifest,
		.manifest_len = manifest ? strlen(manifest) : 0,
	};

	return oi_put(oi, key(bucket, k), &r);
}

static int ukey_cmp(const void *a, const void *b)
{
	/* strcmp compares as unsigned char: the bytewise order. */
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A put record reads back field for field; an absent key is -ENOENT. */
START_TEST(test_put_get)
{
	struct objindex *oi;
	struct obj_rec r;
	uint8_t *m;

	ck_assert_int_eq(oi_open(tmpdir, &oi), 0);
	ck_assert_int_eq(put(oi, "bkt", "dir/file", 42, 0, 123456789012ull, "manifest-bytes"), 0);
	ck_assert_int_eq(oi_get(oi, key("bkt", "dir/file"), &r, &m), 0);
	ck_assert_uint_eq(r.version, 42);
	ck_assert_uint_eq(r.deleted, 0);
	ck_assert_uint_eq(r.size, 123456789012ull);
	ck_assert_uint_eq(r.manifest_len, 14);
	ck_assert_ptr_eq(r.manifest, m);
	ck_assert_mem_eq(m, "manifest-bytes", 14);
	free(m);

	m = (uint8_t *)1;
	ck_assert_int_eq(oi_get(oi, key("bkt", "dir/other"), &r, &m), -ENOENT);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(oi_get(oi, key("other", "dir/file"), &r, &m), -ENOENT);
	oi_close(oi);
}
END_TEST

/* An empty manifest still comes back as a (zero-length) buffer. */
START_TEST(test_empty_manifest)
{
	struct objindex *oi;
	struct obj_rec r;
	uint8_t *m;

	ck_assert_int_eq(oi_open(tmpdir, &oi), 0);
	ck_assert_int_eq(put(oi, "bkt", "empty", 1, 0, 0, NULL), 0);
	ck_assert_int_eq(oi_get(oi, key("bkt", "empty"), &r, &m), 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(r.manifest_len, 0);
	free(m);
	oi_close(oi);
}
END_TEST

/* A larger version replaces the record; an equal or smaller one is ignored but succeeds. */
START_TEST(test_versions)
{
	struct objindex *oi;
	struct obj_rec r;
	uint8_t *m;

	ck_assert_int_eq(oi_open(tmpdir, &oi), 0);
	ck_assert_int_eq(put(oi, "b", "k", 10, 0, 100, "ten"), 0);
	ck_assert_int_eq(put(oi, "b", "k", 5, 0, 50, "five"), 0);
	ck_assert_int_eq(oi_get(oi, key("b", "k"), &r, &m), 0);
	ck_assert_uint_eq(r.version, 10);
	ck_assert_uint_eq(r.size, 100);
	ck_assert_mem_eq(m, "ten", 3);
	free(m);

	ck_assert_int_eq(put(oi, "b", "k", 10, 1, 0, "same"), 0);
	ck_assert_int_eq(oi_get(oi, key("b", "k"), &r, &m), 0);
	ck_assert_uint_eq(r.deleted, 0);
	ck_assert_uint_eq(r.manifest_len, 3);
	free(m);

	ck_assert_int_eq(put(oi, "b", "k", 20, 0, 200, "twenty"), 0);
	ck_assert_int_eq(oi_get(oi, key("b", "k"), &r, &m), 0);
	ck_assert_uint_eq(r.version, 20);
	ck_assert_uint_eq(r.size, 200);
	ck_assert_uint_eq(r.manifest_len, 6);
	ck_assert_mem_eq(m, "twenty", 6);
	free(m);

	/* Realistic versions (ms timestamp << 16 | random) fit; ones SQLite
	 * would see as negative are refused rather than misordered. */
	ck_assert_int_eq(put(oi, "b", "k", (uint64_t)1700000000000ull << 16 | 0xbeef, 0, 1, "x"),
			 0);
	ck_assert_int_eq(put(oi, "b", "k", UINT64_MAX, 0, 1, "x"), -EINVAL);
	ck_assert_int_eq(oi_get(oi, key("b", "k"), &r, NULL), 0);
	ck_assert_uint_eq(r.version, (uint64_t)1700000000000ull << 16 | 0xbeef);
	ck_assert_ptr_null(r.manifest);
	oi_close(oi);
}
END_TEST

/* Tombstones are returned by get, listed with deleted=1, and not counted. */
START_TEST(test_tombstones)
{
	struct obj_entry e[4];
	struct objindex *oi;
	struct obj_rec r;
	uint8_t *m;
	int more;

	ck_assert_int_eq(oi_open(tmpdir, &oi), 0);
	ck_assert_int_eq(put(oi, "b", "gone", 1, 0, 10, "m"), 0);
	ck_assert_int_eq(put(oi, "b", "live", 1, 0, 10, "m"), 0);
	ck_assert_int_eq(oi_count(oi), 2);
	ck_assert_int_eq(put(oi, "b", "gone", 2, 1, 0, NULL), 0);
	ck_assert_int_eq(oi_count(oi), 1);
	ck_assert_int_eq(oi_get(oi, key("b", "gone"), &r, &m), 0);
	ck_assert_uint_eq(r.deleted, 1);
	ck_assert_uint_eq(r.version, 2);
	free(m);
	ck_assert_int_eq(oi_list(oi, "b", "", "", e, 4, &more), 2);
	ck_assert_str_eq(e[0].key, "gone");
	ck_assert_uint_eq(e[0].deleted, 1);
	ck_assert_uint_eq(e[0].version, 2);
	ck_assert_str_eq(e[1].key, "live");
	ck_assert_uint_eq(e[1].deleted, 0);
	ck_assert_uint_eq(e[1].size, 10);
	ck_assert_int_eq(more, 0);

	/* A tombstone older than a live record loses too. */
	ck_assert_int_eq(put(oi, "b", "live", 0, 1, 0, NULL), 0);
	ck_assert_int_eq(oi_count(oi), 1);
	oi_close(oi);
}
END_TEST

/* Prefix and `after` select the right keys of the right bucket only. */
START_TEST(test_list_prefix)
{
	static const char *const keys[] = {"a/1", "a/2", "a/3", "a", "ab", "a0", "b/1", "a/"};
	struct obj_entry e[16];
	struct objindex *oi;
	int more;

	ck_assert_int_eq(oi_open(tmpdir, &oi), 0);
	for (size_t i = 0; i < OBJ_ARRAY_LEN(keys); i++) {
		ck_assert_int_eq(put(oi, "b1", keys[i], 1, 0, i, NULL), 0);
	}
	ck_assert_int_eq(put(oi, "b2", "a/9", 1, 0, 0, NULL), 0);

	ck_assert_int_eq(oi_list(oi, "b1", "a/", "", e, 16, &more), 4);
	ck_assert_str_eq(e[0].key, "a/");
	ck_assert_str_eq(e[1].key, "a/1");
	ck_assert_str_eq(e[3].key, "a/3");
	ck_assert_int_eq(more, 0);

	ck_assert_int_eq(oi_list(oi, "b1", "a/", "a/1", e, 16, &more), 2);
	ck_assert_str_eq(e[0].key, "a/2");
	ck_assert_str_eq(e[1].key, "a/3");

	/* `after` before the prefix range starts at the prefix. */
	ck_assert_int_eq(oi_list(oi, "b1", "a/", "0", e, 16, &more), 4);
	/* `after` past the range gives nothing. */
	ck_assert_int_eq(oi_list(oi, "b1", "a/", "a0", e, 16, &more), 0);
	ck_assert_int_eq(more, 0);

	ck_assert_int_eq(oi_list(oi, "b1", "a", "", e, 16, &more), 7);
	ck_assert_int_eq(oi_list(oi, "b1", "", "", e, 16, &more), 8);
	ck_assert_int_eq(oi_list(oi, "b2", "", "", e, 16, &more), 1);
	ck_assert_int_eq(oi_list(oi, "b3", "", "", e, 16, &more), 0);
	ck_assert_int_eq(oi_list(oi, "b1", "zz", "", e, 16, &more), 0);
	oi_close(oi);
}
END_TEST

/* Paging with `more` visits every key once, in order, whatever the page size. */
START_TEST(test_list_pages)
{
	enum { N = 250 };
	static const size_t pages[] = {1, 7, 100, 125, 249, 250, 251};
	struct obj_entry *e = calloc(N + 1, sizeof(*e));
	struct objindex *oi;

	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(oi_open(tmpdir, &oi), 0);
	for (int i = 0; i < N; i++) {
		char k[32];

		snprintf(k, sizeof(k), "obj/%05d", (i * 7919) % N);
		ck_assert_int_eq(put(oi, "b", k, 1, 0, (uint64_t)i, NULL), 0);
	}
	for (size_t p = 0; p < OBJ_ARRAY_LEN(pages); p++) {
		char after[sizeof(e->key)] = "";
		int seen = 0, more, calls = 0;

		do {
			int n = oi_list(oi, "b", "obj/", after, e, pages[p], &more);

			ck_assert_int_ge(n, 0);
			ck_assert_int_le(n, (int)pages[p]);
			for (int i = 0; i < n; i++) {
				char want[32];

				snprintf(want, sizeof(want), "obj/%05d", seen + i);
				ck_assert_str_eq(e[i].key, want);
			}
			seen += n;
			if (n > 0) {
				strcpy(after, e[n - 1].key);
			}
			calls++;
			ck_assert_int_le(calls, N + 1);
		} while (more);
		ck_assert_int_eq(seen, N);
		ck_assert_int_eq(calls, (int)((N + pages[p] - 1) / pages[p]));
	}
	free(e);
	oi_close(oi);
}
END_TEST

/* Keys sort by unsigned bytes, and a prefix ending in 0xff still bounds correctly. */
START_TEST(test_bytewise)
{
	static const char *const keys[] = {
		"\x7f", "\x80", "\xff", "\xff\xff", "\xff\xff\x01", "a\xff", "a\xff\x01",
		"a\xff\xff", "a\xff\xff\xff", "b", "a", "A", "a\x80", "a\x7f", "\xc3\xa9t\xc3\xa9",
	};
	enum { N = OBJ_ARRAY_LEN(keys) };
	const char *sorted[N];
	struct obj_entry e[N + 1];
	struct objindex *oi;
	int more;

	ck_assert_int_eq(oi_open(tmpdir, &oi), 0);
	for (size_t i = 0; i < N; i++) {
		ck_assert_int_eq(put(oi, "b", keys[i], 1, 0, i, NULL), 0);
		sorted[i] = keys[i];
	}
	qsort(sorted, N, sizeof(sorted[0]), ukey_cmp);
	ck_assert_int_eq(oi_list(oi, "b", "", "", e, N + 1, &more), N);
	for (size_t i = 0; i < N; i++) {
		ck_assert_str_eq(e[i].key, sorted[i]);
	}

	/* "a\xff" must not stop at "a\xff\xff" nor run into "b". */
	ck_assert_int_eq(oi_list(oi, "b", "a\xff", "", e, N, &more), 4);
	ck_assert_str_eq(e[0].key, "a\xff");
	ck_assert_str_eq(e[3].key, "a\xff\xff\xff");

	/* A prefix of only 0xff bytes has no upper bound at all. */
	ck_assert_int_eq(oi_list(oi, "b", "\xff", "", e, N, &more), 3);
	ck_assert_int_eq(oi_list(oi, "b", "\xff\xff", "\xff\xff", e, N, &more), 1);
	ck_assert_str_eq(e[0].key, "\xff\xff\x01");

	/* High bytes in the middle of a prefix. */
	ck_assert_int_eq(oi_list(oi, "b", "\xc3\xa9", "", e, N, &more), 1);
	ck_assert_int_eq(oi_list(oi, "b", "\x80", "", e, N, &more), 1);
	oi_close(oi);
}
END_TEST

/* Records, tombstones and the count survive closing and reopening. */
START_TEST(test_reopen)
{
	struct objindex *oi;
	struct obj_rec r;
	uint8_t *m;

	ck_assert_int_eq(oi_open(tmpdir, &oi), 0);
	for (int i = 0; i < 20; i++) {
		char k[16];

		snprintf(k, sizeof(k), "k%d", i);
		ck_assert_int_eq(put(oi, "b", k, 5, i % 4 == 0, 1, "manifest"), 0);
	}
	ck_assert_int_eq(oi_count(oi), 15);
	oi_close(oi);

	ck_assert_int_eq(oi_open(tmpdir, &oi), 0);
	ck_assert_int_eq(oi_count(oi), 15);
	ck_assert_int_eq(oi_get(oi, key("b", "k7"), &r, &m), 0);
	ck_assert_uint_eq(r.version, 5);
	ck_assert_mem_eq(m, "manifest", 8);
	free(m);
	ck_assert_int_eq(oi_get(oi, key("b", "k8"), &r, &m), 0);
	ck_assert_uint_eq(r.deleted, 1);
	free(m);
	/* The version rule still holds against records from before the reopen. */
	ck_assert_int_eq(put(oi, "b", "k8", 4, 0, 1, NULL), 0);
	ck_assert_int_eq(oi_count(oi), 15);
	ck_assert_int_eq(put(oi, "b", "k8", 6, 0, 1, NULL), 0);
	ck_assert_int_eq(oi_count(oi), 16);
	oi_close(oi);
}
END_TEST

/* oi_count counts live records across buckets and starts at zero. */
START_TEST(test_count)
{
	struct objindex *oi;

	ck_assert_int_eq(oi_open(tmpdir, &oi), 0);
	ck_assert_int_eq(oi_count(oi), 0);
	ck_assert_int_eq(put(oi, "b1", "x", 1, 0, 1, NULL), 0);
	ck_assert_int_eq(put(oi, "b2", "x", 1, 0, 1, NULL), 0);
	ck_assert_int_eq(put(oi, "b2", "x", 1, 0, 1, NULL), 0);
	ck_assert_int_eq(put(oi, "b2", "y", 1, 1, 0, NULL), 0);
	ck_assert_int_eq(oi_count(oi), 2);
	oi_close(oi);
}
END_TEST

/* A missing directory is -ENOENT; a file that is not a database is -EIO, logged. */
START_TEST(test_open_errors)
{
	struct objindex *oi = (struct objindex *)1;
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	ck_assert_int_eq(oi_open(path, &oi), -ENOENT);
	ck_assert_ptr_null(oi);

	snprintf(path, sizeof(path), "%s/objindex.db", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	for (int i = 0; i < 64; i++) {
		ck_assert_int_eq(write(fd, "this is not an sqlite database file.", 36), 36);
	}
	close(fd);
	ck_assert_int_eq(oi_open(tmpdir, &oi), -EIO);
	ck_assert_ptr_null(oi);
	ck_assert_int_ge(sqlite_logged, 1);
}
END_TEST

static Suite *objindex_suite(void)
{
	Suite *s = suite_create("objindex");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* Every put syncs to disk; the default 4 s is too tight when other
	 * jobs load the disk, though each test takes well under a second. */
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_put_get);
	tcase_add_test(tc, test_empty_manifest);
	tcase_add_test(tc, test_versions);
	tcase_add_test(tc, test_tombstones);
	tcase_add_test(tc, test_list_prefix);
	tcase_add_test(tc, test_list_pages);
	tcase_add_test(tc, test_bytewise);
	tcase_add_test(tc, test_reopen);
	tcase_add_test(tc, test_count);
	tcase_add_test(tc, test_open_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(objindex_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
