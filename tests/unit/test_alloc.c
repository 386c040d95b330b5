/* test_alloc.c: allocation failure in the decoders, encoders and stores.
 * Each operation runs with its 1st, 2nd, ... allocation failing (our
 * allocations through --wrap, SQLite's through its allocator hook) until
 * a run needs no more; every failed run must return its clean error, leak
 * nothing, and leave the store so that the same operation then succeeds
 * with the right result. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/checksum.h"
#include "../../common/ec.h"
#include "../../common/err.h"
#include "../../nodes/fragstore.h"
#include "../../proto/manifest.h"
#include "../../proto/meta.h"
#include "../../proto/replay.h"
#include "../../proto/wire.h"
#include "../lib/failmalloc.h"
#include "meta_store_fixture.h"

/* Allocation points per operation: far above any real count, so a loop
 * that never ends is a failure, not a hang. */
#define MAX_POINTS 20000

/* What an operation returns when it succeeded with a wrong result.  The
 * operations run with the hook armed, so they check their results by
 * returning this instead of calling Check's asserts (which allocate). */
#define WRONG (-100000)

typedef int (*op_fn)(void *arg);

/* Runs op failing each allocation in turn; every failed run must return
 * want and leave fm_live() at 0.  With benign set a failed allocation may
 * also end in success (SQLite recovers from some on purpose: lookaside,
 * page cache); the operation has checked its result either way.  Returns
 * the number of allocation points exercised. */
static long fail_each(op_fn op, void *arg, int want, int benign, const char *what)
{
	for (long n = 1; n <= MAX_POINTS; n++) {
		int rc, fired;
		long live;

		fm_arm(n);
		rc = op(arg);
		fired = fm_fired();
		live = fm_live();
		fm_disarm();
		ck_assert_msg(rc != WRONG, "%s: wrong result with allocation %ld failing", what, n);
		ck_assert_msg(live == 0, "%s: %ld allocations leaked with allocation %ld failing",
			      what, live, n);
		if (!fired) {
			ck_assert_msg(rc == 0, "%s: %d (%s) with no allocation failing", what, rc,
				      obj_strerror(rc));
			fprintf(stderr, "%s: %ld allocation points, each failure handled\n", what,
				n - 1);
			return n - 1;
		}
		ck_assert_msg(rc == want || (benign && rc == 0),
			      "%s: allocation %ld failing gave %d (%s), not %d (%s)", what, n, rc,
			      obj_strerror(rc), want, obj_strerror(want));
	}
	ck_abort_msg("%s: more than %d allocations", what, MAX_POINTS);
	return 0;
}

/* ---- proto: decoders and encoders ---- */

static uint8_t man_buf[4096];
static size_t man_len;

static void make_manifest(void)
{
	struct manifest_block b[3];
	struct manifest m = {.size = 3 * 1000, .n_blocks = 3, .blocks = b};
	struct wr w;

	memset(b, 0, sizeof(b));
	for (int i = 0; i < 3; i++) {
		memset(b[i].id, i + 1, BLOCK_ID_LEN);
		b[i].k = 4;
		b[i].m = 2;
		b[i].len = 1000;
		b[i].csum = (uint64_t)i;
	}
	wr_init(&w, 0);
	manifest_encode(&w, &m);
	ck_assert_int_eq(wr_status(&w), 0);
	man_len = wr_len(&w);
	ck_assert_uint_le(man_len, sizeof(man_buf));
	memcpy(man_buf, w.buf, man_len);
	wr_free(&w);
}

static int op_manifest_decode(void *arg)
{
	struct manifest m;
	int rc;

	(void)arg;
	memset(&m, 0, sizeof(m));
	rc = manifest_decode(man_buf, man_len, &m);
	if (rc == 0) {
		if (m.n_blocks != 3 || m.blocks[2].csum != 2) {
			rc = WRONG;
		}
		manifest_free(&m);
	}
	return rc;
}

/* A manifest decode fails cleanly with -ENOMEM at its one allocation. */
START_TEST(test_manifest_decode)
{
	make_manifest();
	ck_assert_int_eq(fail_each(op_manifest_decode, NULL, -ENOMEM, 0, "manifest_decode"), 1);
}
END_TEST

static int op_manifest_encode(void *arg)
{
	struct manifest_block b[40];
	struct manifest m = {.size = 40 * 1000, .n_blocks = 40, .blocks = b};
	struct wr w;
	int rc;

	(void)arg;
	memset(b, 7, sizeof(b));
	for (int i = 0; i < 40; i++) {
		b[i].k = 4;
		b[i].m = 2;
		b[i].len = 1000;
	}
	wr_init(&w, 0);
	manifest_encode(&w, &m);
	rc = wr_status(&w);
	wr_free(&w);
	return rc;
}

/* An encoder whose buffer cannot grow reports -ENOMEM through the writer. */
START_TEST(test_manifest_encode)
{
	ck_assert_int_ge(fail_each(op_manifest_encode, NULL, -ENOMEM, 0, "manifest_encode"), 2);
}
END_TEST

static uint8_t op_buf[8192];
static size_t op_len;

static void make_op(void)
{
	struct meta_extent e[5];
	struct meta_op op;
	struct wr w;

	memset(&op, 0, sizeof(op));
	memset(e, 0, sizeof(e));
	op.type = MOP_WRITE;
	op.op_id = 77;
	op.ino = 9;
	snprintf(op.name, sizeof(op.name), "file");
	for (int i = 0; i < 5; i++) {
		e[i].chunk = (uint64_t)i;
		memset(e[i].blk.id, i + 1, BLOCK_ID_LEN);
		e[i].blk.k = 4;
		e[i].blk.m = 2;
		e[i].blk.len = 4096;
		e[i].len = 4096;
	}
	op.ext = e;
	op.n_ext = 5;
	wr_init(&w, 0);
	meta_put_op(&w, &op);
	ck_assert_int_eq(wr_status(&w), 0);
	op_len = wr_len(&w);
	ck_assert_uint_le(op_len, sizeof(op_buf));
	memcpy(op_buf, w.buf, op_len);
	wr_free(&w);
}

/* meta_get_op reports an allocation failure as a bad reader (the decoder
 * has no errno channel): the caller's rd_done() is false and nothing is
 * left allocated. */
static int op_meta_decode(void *arg)
{
	struct meta_op op;
	struct rd r;
	int rc;

	(void)arg;
	memset(&op, 0, sizeof(op));
	rd_init(&r, op_buf, op_len);
	meta_get_op(&r, &op);
	if (!rd_done(&r)) {
		rc = op.ext == NULL && op.n_ext == 0 ? -OBJ_EPROTO : WRONG;
		meta_op_free(&op);
		return rc;
	}
	rc = op.n_ext == 5 && op.ext[4].chunk == 4 && op.op_id == 77 ? 0 : WRONG;
	meta_op_free(&op);
	return rc;
}

START_TEST(test_meta_op_decode)
{
	make_op();
	ck_assert_int_eq(fail_each(op_meta_decode, NULL, -OBJ_EPROTO, 0, "meta_get_op"), 1);
}
END_TEST

static int op_replay(void *arg)
{
	struct replay *r;
	int rc = 0;

	(void)arg;
	r = replay_create(60000, 64);
	if (r == NULL) {
		return -ENOMEM;
	}
	/* More pairs than the table holds: it purges and rebuilds. */
	for (uint64_t i = 0; i < 200 && rc == 0; i++) {
		rc = replay_check(r, 1000000 + i, i, 1000000 + i);
	}
	replay_destroy(r);
	return rc;
}

/* The replay table fails to build with -ENOMEM and never refuses a fresh
 * pair for lack of memory (its purge may be skipped, not the check). */
START_TEST(test_replay)
{
	ck_assert_int_ge(fail_each(op_replay, NULL, -ENOMEM, 0, "replay"), 2);
}
END_TEST

/* ---- the fragment store ---- */

static struct fragstore *fs;
static struct frag_hdr fh;
static uint8_t fdata[4096];

static int op_frag_open(void *arg)
{
	struct fragstore *f = NULL;
	int rc = frag_open(tmpdir, &f);

	(void)arg;
	if (rc == 0) {
		frag_close(f);
	}
	return rc;
}

static int op_frag_put_get(void *arg)
{
	struct frag_hdr h;
	uint8_t *data = NULL;
	int rc;

	(void)arg;
	rc = frag_put(fs, &fh, fdata);
	if (rc != 0) {
		return rc;
	}
	rc = frag_get(fs, &fh.ref, &h, &data);
	if (rc == 0) {
		if (h.frag_len != sizeof(fdata) || memcmp(data, fdata, sizeof(fdata)) != 0) {
			rc = WRONG;
		}
		free(data);
	}
	return rc;
}

static int op_frag_list(void *arg)
{
	struct frag_hdr out[8];
	struct frag_ref after;
	int more = 0, n;

	(void)arg;
	memset(&after, 0, sizeof(after));
	n = frag_list(fs, &after, 1, out, 8, &more);
	if (n < 0) {
		return n;
	}
	return n == 1 && more == 0 ? 0 : WRONG;
}

/* Open, put+get and list of the fragment store fail with -ENOMEM at each
 * allocation and the store stays usable: the next run succeeds. */
START_TEST(test_fragstore)
{
	memset(&fh, 0, sizeof(fh));
	memset(fh.ref.block_id, 0x42, BLOCK_ID_LEN);
	fh.ref.index = 1;
	fh.k = 4;
	fh.m = 2;
	fh.block_len = 4 * sizeof(fdata);
	fh.frag_len = sizeof(fdata);
	memset(fdata, 0x5a, sizeof(fdata));
	fh.csum = csum64(fdata, sizeof(fdata));
	ck_assert_int_ge(fail_each(op_frag_open, NULL, -ENOMEM, 0, "frag_open"), 1);
	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	ck_assert_int_ge(fail_each(op_frag_put_get, NULL, -ENOMEM, 0, "frag_put/get"), 1);
	fail_each(op_frag_list, NULL, -ENOMEM, 0, "frag_list");
	frag_close(fs);
}
END_TEST

/* ---- the shard store (SQLite) ---- */

static struct meta_extent put_ext[3];
static struct meta_op put_op;

static int op_ms_put(void *arg)
{
	struct meta_result res;
	int rc;

	(void)arg;
	memset(&res, 0, sizeof(res));
	rc = ms_apply(ms, &put_op, 0, &res);
	if (rc != 0) {
		return rc;
	}
	if (res.status == 0 && res.attr.size != 3 * CHUNK) {
		return WRONG;
	}
	return res.status;
}

static int op_ms_read(void *arg)
{
	struct meta_extent e[8];
	struct meta_attr a, ea;
	struct ms_dirent d[4];
	int more = 0, n;

	(void)arg;
	n = ms_resolve(ms, "a/b/c", &a);
	if (n != 0) {
		return n;
	}
	n = ms_extents(ms, a.ino, 0, e, 8, &more, &ea, NULL, NULL);
	if (n < 0) {
		return n;
	}
	if (n != 3) {
		return WRONG;
	}
	n = ms_readdir(ms, 1, "", d, 4, &more);
	if (n < 0) {
		return n;
	}
	return n == 1 && strcmp(d[0].name, "a") == 0 ? 0 : WRONG;
}

static uint64_t put_ino;

static int list_cb(void *arg, const char *path, uint64_t size, int64_t mtime)
{
	int *n = arg;

	(void)mtime;
	*n += strcmp(path, "a/b/c") == 0 && size == 3 * CHUNK;
	return 0;
}

/* xattr reads, an object listing and a page of blocks: buffers our query
 * code allocates. */
static int op_ms_xattr_list(void *arg)
{
	uint8_t *val = NULL;
	char *names = NULL;
	size_t len = 0;
	int more = 0, found = 0, rc;

	(void)arg;
	rc = ms_getxattr(ms, put_ino, "user.k", &val, &len);
	if (rc != 0) {
		return rc;
	}
	rc = len == 5 && memcmp(val, "value", 5) == 0 ? 0 : WRONG;
	free(val);
	if (rc != 0) {
		return rc;
	}
	rc = ms_listxattr(ms, put_ino, &names, &len);
	if (rc != 0) {
		return rc;
	}
	rc = len == sizeof("user.k") && strcmp(names, "user.k") == 0 ? 0 : WRONG;
	free(names);
	if (rc != 0) {
		return rc;
	}
	rc = ms_list(ms, "a/", "", 10, list_cb, &found, &more);
	if (rc < 0) {
		return rc;
	}
	if (found != 1 || more != 0) {
		return WRONG;
	}
	{
		struct meta_block_row rows[4];

		rc = ms_blocks(ms, NULL, 1, rows, 4, &more);
	}
	if (rc < 0) {
		return rc;
	}
	return rc == 3 && more == 0 ? 0 : WRONG;
}

/* An object put into a shard fails cleanly at every allocation (ours or
 * SQLite's), rolls back whole -- its op_id keeps no result, so the same
 * record then applies -- and the reads that follow fail cleanly too. */
START_TEST(test_shard_store)
{
	struct meta_attr a;
	long points;

	for (int i = 0; i < 3; i++) {
		put_ext[i] = ext((uint64_t)i, (uint8_t)(0x10 + i), CHUNK);
	}
	op_init(&put_op, MOP_PUT);
	snprintf(put_op.name, sizeof(put_op.name), "a/b/c");
	put_op.mode = 0644;
	put_op.new_ino = ms_next_ino(ms);
	put_op.ext = put_ext;
	put_op.n_ext = 3;
	put_op.size = 3 * CHUNK;
	points = fail_each(op_ms_put, NULL, -ENOMEM, 1, "ms_apply(PUT)");
	ck_assert_int_gt(points, 0);
	ck_assert_int_eq(ms_resolve(ms, "a/b/c", &a), 0);
	ck_assert_uint_eq(a.size, 3 * CHUNK);
	ck_assert_int_eq(extent_count(a.ino), 3);
	ck_assert_int_gt(fail_each(op_ms_read, NULL, -ENOMEM, 1, "ms reads"), 0);
	{
		struct meta_result res;
		struct meta_op op;

		put_ino = a.ino;
		op_init(&op, MOP_SETXATTR);
		op.ino = a.ino;
		snprintf(op.name, sizeof(op.name), "user.k");
		op.data = (const uint8_t *)"value";
		op.data_len = 5;
		ck_assert_int_eq(apply(&op, &res), 0);
	}
	ck_assert_int_gt(fail_each(op_ms_xattr_list, NULL, -ENOMEM, 1, "ms xattrs, list"), 2);
}
END_TEST

static int op_ms_open(void *arg)
{
	struct mstore *m = NULL;
	char path[4300];
	int rc;

	(void)arg;
	snprintf(path, sizeof(path) - 8, "%s/other.db", tmpdir);
	rc = ms_open(path, 0, &m);
	if (rc == 0) {
		struct meta_result res;
		struct meta_op op;

		/* A usable shard: the schema is there, a bucket can be made. */
		op_init(&op, MOP_BUCKET_CREATE);
		op.mode = 0755;
		op.chunk_size = CHUNK;
		op.inline_max = INLINE_MAX;
		rc = ms_apply(m, &op, 0, &res);
		rc = rc != 0 ? rc : res.status;
		ms_close(m);
		unlink(path);
		strcat(path, "-wal");
		unlink(path);
	}
	return rc;
}

/* Opening a shard and creating its bucket fail with -ENOMEM at every
 * allocation, or recover and work. */
START_TEST(test_shard_open)
{
	ck_assert_int_gt(fail_each(op_ms_open, NULL, -ENOMEM, 1, "ms_open"), 0);
}
END_TEST

static Suite *alloc_suite(void)
{
	Suite *s = suite_create("alloc");
	TCase *tp = tcase_create("proto");
	TCase *ts = tcase_create("stores");

	tcase_add_test(tp, test_manifest_decode);
	tcase_add_test(tp, test_manifest_encode);
	tcase_add_test(tp, test_meta_op_decode);
	tcase_add_test(tp, test_replay);
	suite_add_tcase(s, tp);
	tcase_add_checked_fixture(ts, setup, teardown);
	tcase_set_timeout(ts, 60);
	tcase_add_test(ts, test_fragstore);
	tcase_add_test(ts, test_shard_store);
	tcase_add_test(ts, test_shard_open);
	suite_add_tcase(s, ts);
	return s;
}

int main(void)
{
	if (fm_sqlite_install() != 0) {
		fprintf(stderr, "cannot hook SQLite's allocator\n");
		return EXIT_FAILURE;
	}
	return tl_run(alloc_suite());
}
