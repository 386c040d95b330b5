/* meta_store_fixture.h: the shard fixture shared by test_meta_store.c and
 * test_meta_content.c: a fresh SQLite shard per test under a temp dir,
 * op builders and lookups. Test-only; each test file includes it once. */
#ifndef OBJFS_TESTS_META_STORE_FIXTURE_H
#define OBJFS_TESTS_META_STORE_FIXTURE_H

#include <check.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "../../common/err.h"
#include "../../common/log.h"
#include "../../nodes/meta_store.h"
#include "../lib/testlib.h"

#define CHUNK 4096
#define INLINE_MAX 64

static char tmpdir[4096];
static char dbpath[4200];
static struct mstore *ms;
static uint64_t op_ids = 1000;
static int64_t clock_ns = 1000000;

static int sqlite_logged;

static inline void quiet(enum log_level lvl, const char *id, const char *line, void *arg)
{
	(void)lvl;
	(void)line;
	(void)arg;
	sqlite_logged += strcmp(id, "ms.sqlite") == 0;
}

static inline void op_init(struct meta_op *op, uint8_t type)
{
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->op_id = ++op_ids;
	clock_ns += 1000;
	op->now_ns = clock_ns;
}

static inline int apply_to(struct mstore *m, struct meta_op *op, struct meta_result *res)
{
	struct meta_result r;

	if (res == NULL) {
		res = &r;
	}
	ck_assert_int_eq(ms_apply(m, op, 0, res), 0);
	return res->status;
}

static inline int apply(struct meta_op *op, struct meta_result *res)
{
	return apply_to(ms, op, res);
}

static struct meta_op bucket_op; /* the setup's BUCKET_CREATE, for replicas */

static inline int bucket_create(struct mstore *m, uint32_t mode, struct meta_result *res)
{
	op_init(&bucket_op, MOP_BUCKET_CREATE);
	bucket_op.mode = mode;
	bucket_op.uid = 1;
	bucket_op.gid = 2;
	bucket_op.chunk_size = CHUNK;
	bucket_op.inline_max = INLINE_MAX;
	return apply_to(m, &bucket_op, res);
}

struct listing {
	char **keys;
	size_t n, cap;
};

static inline int collect(void *arg, const char *path, uint64_t size, int64_t mtime)
{
	struct listing *l = arg;

	(void)size;
	(void)mtime;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->keys = realloc(l->keys, l->cap * sizeof(*l->keys));
		ck_assert_ptr_nonnull(l->keys);
	}
	l->keys[l->n++] = strdup(path);
	return 0;
}

static inline void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->keys[i]);
	}
	free(l->keys);
	memset(l, 0, sizeof(*l));
}

static inline void setup(void)
{
	tl_mkdtemp(tmpdir, sizeof(tmpdir), "mstore");
	snprintf(dbpath, sizeof(dbpath), "%s/shard.db", tmpdir);
	log_set_sink(quiet, NULL);
	ck_assert_int_eq(ms_open(dbpath, 0, &ms), 0);
	ck_assert_int_eq(bucket_create(ms, 0755, NULL), 0);
}

static inline void teardown(void)
{
	ms_close(ms);
	ms = NULL;
	log_set_sink(NULL, NULL);
	tl_rmtree(tmpdir);
}

/* ---- op helpers ---- */

static inline int mknode_to(struct mstore *m, uint64_t parent, const char *name, uint32_t mode,
			    struct meta_attr *a)
{
	struct meta_op op;
	struct meta_result r;
	int st;

	op_init(&op, MOP_CREATE);
	op.parent = parent;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.mode = mode;
	op.uid = 7;
	op.gid = 8;
	op.new_ino = ms_next_ino(m);
	st = apply_to(m, &op, &r);
	if (a != NULL) {
		*a = r.attr;
	}
	return st;
}

static inline int mknode(uint64_t parent, const char *name, uint32_t mode, struct meta_attr *a)
{
	return mknode_to(ms, parent, name, mode, a);
}

/* Creates and returns the inode number, failing the test on error. */
static inline uint64_t mk(uint64_t parent, const char *name, uint32_t mode)
{
	struct meta_attr a;

	ck_assert_int_eq(mknode(parent, name, mode, &a), 0);
	return a.ino;
}

static inline int rm(uint8_t type, uint64_t parent, const char *name, uint32_t flags,
		     struct meta_result *res)
{
	struct meta_op op;

	op_init(&op, type);
	op.parent = parent;
	op.flags = flags;
	snprintf(op.name, sizeof(op.name), "%s", name);
	return apply(&op, res);
}

static inline int mv(uint64_t p, const char *n, uint64_t np, const char *nn, uint32_t flags,
		     struct meta_result *res)
{
	struct meta_op op;

	op_init(&op, MOP_RENAME);
	op.parent = p;
	op.newparent = np;
	op.flags = flags;
	snprintf(op.name, sizeof(op.name), "%s", n);
	snprintf(op.newname, sizeof(op.newname), "%s", nn);
	return apply(&op, res);
}

static inline int link_(uint64_t ino, uint64_t np, const char *nn, struct meta_result *res)
{
	struct meta_op op;

	op_init(&op, MOP_LINK);
	op.ino = ino;
	op.newparent = np;
	snprintf(op.newname, sizeof(op.newname), "%s", nn);
	return apply(&op, res);
}

static inline int truncate_(uint64_t ino, uint64_t size, struct meta_result *res)
{
	struct meta_op op;

	op_init(&op, MOP_SETATTR);
	op.ino = ino;
	op.valid = META_SET_SIZE;
	op.size = size;
	return apply(&op, res);
}

static inline struct meta_extent ext(uint64_t chunk, uint8_t tag, uint32_t len)
{
	struct meta_extent e;

	memset(&e, 0, sizeof(e));
	e.chunk = chunk;
	memset(e.blk.id, tag, BLOCK_ID_LEN);
	e.blk.k = 4;
	e.blk.m = 2;
	e.blk.len = CHUNK;
	e.blk.csum = tag;
	e.len = len;
	return e;
}

static inline int write_to(struct mstore *m, uint64_t ino, struct meta_extent *e, size_t n,
			   uint64_t size, uint32_t flags, struct meta_result *res)
{
	struct meta_op op;

	op_init(&op, MOP_WRITE);
	op.ino = ino;
	op.ext = e;
	op.n_ext = n;
	op.size = size;
	op.flags = flags;
	return apply_to(m, &op, res);
}

static inline int write_ext(uint64_t ino, struct meta_extent *e, size_t n, uint64_t size,
			    uint32_t flags, struct meta_result *res)
{
	return write_to(ms, ino, e, n, size, flags, res);
}

static inline int write_inline(uint64_t ino, const char *data, uint64_t size,
			       struct meta_result *res)
{
	struct meta_op op;

	op_init(&op, MOP_WRITE);
	op.ino = ino;
	op.flags = META_F_INLINE | META_F_TRUNCATE;
	op.data = (const uint8_t *)data;
	op.data_len = strlen(data);
	op.size = size;
	return apply(&op, res);
}

static inline int put_to(struct mstore *m, const char *path, struct meta_extent *e, size_t n,
			 const char *inl, uint64_t size, struct meta_result *res)
{
	struct meta_op op;

	op_init(&op, MOP_PUT);
	snprintf(op.name, sizeof(op.name), "%s", path);
	op.mode = 0644;
	op.uid = 5;
	op.gid = 6;
	op.new_ino = ms_next_ino(m);
	op.ext = e;
	op.n_ext = n;
	if (inl != NULL) {
		op.flags = META_F_INLINE;
		op.data = (const uint8_t *)inl;
		op.data_len = strlen(inl);
	}
	op.size = size;
	return apply_to(m, &op, res);
}

static inline int put(const char *path, struct meta_extent *e, size_t n, const char *inl,
		      uint64_t size, struct meta_result *res)
{
	return put_to(ms, path, e, n, inl, size, res);
}

static inline struct meta_attr getattr(uint64_t ino)
{
	struct meta_attr a;

	ck_assert_int_eq(ms_getattr(ms, ino, &a), 0);
	return a;
}

static inline int lookup(uint64_t parent, const char *name, struct meta_attr *a)
{
	struct meta_attr tmp;

	return ms_lookup(ms, parent, name, a ? a : &tmp);
}

static inline int gc_has(uint8_t tag)
{
	struct manifest_block b[256];
	int n = ms_gc_pending(ms, b, 256);

	ck_assert_int_ge(n, 0);
	for (int i = 0; i < n; i++) {
		if (b[i].id[0] == tag && b[i].id[15] == tag) {
			ck_assert_uint_eq(b[i].csum, tag);
			return 1;
		}
	}
	return 0;
}

static inline int extent_count(uint64_t ino)
{
	struct meta_extent e[64];
	struct meta_attr a;
	int more;

	return ms_extents(ms, ino, 0, e, 64, &more, &a, NULL, NULL);
}

#endif /* OBJFS_TESTS_META_STORE_FIXTURE_H */
