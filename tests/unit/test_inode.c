/* test_inode.c: unit tests of the FUSE client's inode table
 * (fuse/inode.c): lookup counts, when an unlinked inode is handed back
 * for MOP_FORGET (never while referenced or open), write buffers kept
 * while dirty, keep_cache decisions, and the security.capability cache. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../fuse/inode.h"
#include "../lib/testlib.h"

static uint64_t orphans[16], gone[16];
static int n_orphans, n_gone;
static int commit_fail;
static struct fb_ctx *fbc;
static struct itable *it;

static void on_orphan(void *arg, uint64_t ino)
{
	(void)arg;
	orphans[n_orphans++ % 16] = ino;
}

static void on_gone(void *arg, uint64_t ino)
{
	(void)arg;
	gone[n_gone++ % 16] = ino;
}

static const struct it_ops ops = {.orphan = on_orphan, .gone = on_gone};

/* A backend that stores nothing: enough for dirty/clean transitions. */
static int nb_read(void *arg, uint64_t ino, uint64_t chunk, const struct manifest_block *blk,
		   uint32_t off, uint32_t len, uint8_t *dst, uint64_t *gen, uint64_t *size)
{
	(void)gen; /* one version only: never -ESTALE */
	(void)size;
	(void)arg;
	(void)ino;
	(void)chunk;
	(void)blk;
	(void)off;
	memset(dst, 0, len);
	return 0;
}

static int nb_upload(void *arg, uint64_t ino, uint64_t size, const uint8_t *data, size_t len,
		     struct manifest_block *out)
{
	(void)arg;
	(void)ino;
	(void)size;
	(void)data;
	memset(out, 0, sizeof(*out));
	out->len = (uint32_t)len;
	return 0;
}

static int nb_commit(void *arg, const struct fb_commit *c, struct meta_attr *attr)
{
	(void)arg;
	if (commit_fail) {
		return -EIO;
	}
	memset(attr, 0, sizeof(*attr));
	attr->ino = c->ino;
	attr->size = c->size;
	attr->gen = 8;
	return 0;
}

static const struct fb_ops nb_ops = {.read = nb_read, .upload = nb_upload, .commit = nb_commit};

static void setup(void)
{
	struct fb_conf conf = {
	    .chunk_size = 65536, .inline_max = 4096, .max_dirty = 1 << 20, .uploaders = 1};

	n_orphans = n_gone = 0;
	commit_fail = 0;
	log_set_sink(tl_quiet_sink, NULL);
	ck_assert_int_eq(fb_ctx_open(&conf, &nb_ops, NULL, &fbc), 0);
	ck_assert_int_eq(it_open(&ops, NULL, &it), 0);
}

static void teardown(void)
{
	it_close(it);
	fb_ctx_close(fbc);
	log_set_sink(NULL, NULL);
}

/* An entry goes when the kernel forgets its last reference; only an
 * unlinked one is handed back as an orphan. */
START_TEST(test_lookup_forget)
{
	ck_assert_int_eq(it_lookup(it, 5, 1), 0);
	ck_assert_int_eq(it_lookup(it, 5, 1), 0);
	ck_assert_uint_eq(it_parent(it, 5), 1);
	it_forget(it, 5, 1);
	ck_assert_int_eq(n_gone, 0);
	it_forget(it, 5, 1);
	ck_assert_int_eq(n_gone, 1);
	ck_assert_int_eq(n_orphans, 0);
	ck_assert_uint_eq(it_parent(it, 5), 0);

	ck_assert_int_eq(it_lookup(it, 6, 1), 0);
	it_unlinked(it, 6);
	ck_assert_int_eq(n_orphans, 0);
	it_forget(it, 6, 5); /* more than held: clamped */
	ck_assert_int_eq(n_orphans, 1);
	ck_assert_uint_eq(orphans[0], 6);

	it_unlinked(it, 77); /* unknown here: an orphan at once */
	ck_assert_int_eq(n_orphans, 2);
	ck_assert_uint_eq(orphans[1], 77);
}
END_TEST

/* An open file unlinked and forgotten stays until its last handle goes;
 * its write buffer goes then too. */
START_TEST(test_open_unlinked_file)
{
	struct inode *n;
	int keep;

	ck_assert_int_eq(it_lookup(it, 9, 1), 0);
	n = it_get(it, 9);
	ck_assert_int_eq(it_open_file(it, n, fbc, 0, 1, &keep), 0);
	ck_assert_int_eq(keep, 0);
	ck_assert_ptr_nonnull(it_fb(it, n));
	it_put(it, n);
	it_unlinked(it, 9);
	it_forget(it, 9, 1);
	ck_assert_int_eq(n_orphans, 0);
	n = it_get(it, 9);
	it_release_file(it, n);
	ck_assert_int_eq(n_orphans, 0); /* still pinned */
	it_put(it, n);
	ck_assert_int_eq(n_orphans, 1);
	ck_assert_int_eq(n_gone, 1);
}
END_TEST

/* A write buffer with data that could not be committed keeps the entry
 * after the last close; a successful flush lets it go. */
START_TEST(test_dirty_buffer_kept)
{
	struct meta_attr a = {.ino = 4, .size = 0, .gen = 1};
	struct inode *n;
	int keep;

	ck_assert_int_eq(it_lookup(it, 4, 1), 0);
	n = it_get(it, 4);
	ck_assert_int_eq(it_open_file(it, n, fbc, 0, 1, &keep), 0);
	ck_assert_int_eq(fb_write(it_fb(it, n), 0, "abc", 3), 3);
	ck_assert_int_eq(it_overlay(it, &a), 1);
	ck_assert_uint_eq(a.size, 3);
	commit_fail = 1;
	ck_assert_int_eq(fb_flush(it_fb(it, n), NULL, NULL), -EIO);
	it_release_file(it, n);
	it_put(it, n);
	it_forget(it, 4, 1);
	ck_assert_int_eq(n_gone, 0);
	commit_fail = 0;
	ck_assert_int_eq(it_flush_all(it), 0); /* committed: the entry goes */
	ck_assert_int_eq(n_gone, 1);
	ck_assert_uint_eq(gone[0], 4);
}
END_TEST

/* The page cache is kept on reopen only at the same generation, or
 * after our own commits moved it by as many (a deferred truncate and
 * the extents after it are two). */
START_TEST(test_keep_cache)
{
	struct inode *n = it_get(it, 3);
	int keep;

	ck_assert_int_eq(it_open_file(it, n, fbc, 0, 7, &keep), 0);
	ck_assert_int_eq(keep, 0);
	it_release_file(it, n);
	ck_assert_int_eq(it_open_file(it, n, fbc, 0, 7, &keep), 0);
	ck_assert_int_eq(keep, 1);
	it_committed(it, n, 8, 1);
	it_release_file(it, n);
	ck_assert_int_eq(it_open_file(it, n, fbc, 0, 8, &keep), 0);
	ck_assert_int_eq(keep, 1);
	it_release_file(it, n);
	it_committed(it, n, 10, 2);
	it_release_file(it, n);
	ck_assert_int_eq(it_open_file(it, n, fbc, 0, 10, &keep), 0);
	ck_assert_int_eq(keep, 1);
	it_release_file(it, n);
	ck_assert_int_eq(it_open_file(it, n, fbc, 0, 12, &keep), 0);
	ck_assert_int_eq(keep, 0);
	it_committed(it, n, 14, 1); /* another mount's change came between */
	it_release_file(it, n);
	ck_assert_int_eq(it_open_file(it, n, fbc, 0, 14, &keep), 0);
	ck_assert_int_eq(keep, 0);
	it_release_file(it, n);
	it_put(it, n);
}
END_TEST

/* The negative cache of security.capability expires and can be reset. */
START_TEST(test_nocap)
{
	struct inode *n = it_get(it, 2);

	ck_assert_int_eq(it_nocap(it, n), 0);
	it_set_nocap(it, n, 1000000000);
	ck_assert_int_eq(it_nocap(it, n), 1);
	it_set_nocap(it, n, 0);
	ck_assert_int_eq(it_nocap(it, n), 0);
	it_put(it, n);
}
END_TEST

/* Many entries: the table grows and finds each again. */
START_TEST(test_many_entries)
{
	for (uint64_t i = 2; i < 5000; i++) {
		ck_assert_int_eq(it_lookup(it, i, 1), 0);
	}
	for (uint64_t i = 2; i < 5000; i++) {
		ck_assert_uint_eq(it_parent(it, i), 1);
		it_forget(it, i, 1);
	}
	ck_assert_int_eq(n_gone, 4998);
}
END_TEST

static Suite *inode_suite(void)
{
	Suite *s = suite_create("inode");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lookup_forget);
	tcase_add_test(tc, test_open_unlinked_file);
	tcase_add_test(tc, test_dirty_buffer_kept);
	tcase_add_test(tc, test_keep_cache);
	tcase_add_test(tc, test_nocap);
	tcase_add_test(tc, test_many_entries);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(inode_suite());
}
