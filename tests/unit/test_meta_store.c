/* test_meta_store.c: a metadata shard on a real SQLite file: every op
 * type's POSIX semantics and errnos, block reference counting into the GC
 * queue, inline data, object PUT, readdir and S3 listing order, replay and
 * op_id dedupe, determinism of two replicas, backup/restore and reopen. */
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

#define CHUNK 4096
#define INLINE_MAX 64

static char tmpdir[4096];
static char dbpath[4200];
static struct mstore *ms;
static uint64_t op_ids = 1000;
static int64_t clock_ns = 1000000;

static int sqlite_logged;

static void quiet(enum log_level lvl, const char *id, const char *line, void *arg)
{
	(void)lvl;
	(void)line;
	(void)arg;
	sqlite_logged += strcmp(id, "ms.sqlite") == 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void op_init(struct meta_op *op, uint8_t type)
{
	memset(op, 0, sizeof(*op));
	op->type = type;
	op->op_id = ++op_ids;
	clock_ns += 1000;
	op->now_ns = clock_ns;
}

static int apply_to(struct mstore *m, struct meta_op *op, struct meta_result *res)
{
	struct meta_result r;

	if (res == NULL) {
		res = &r;
	}
	ck_assert_int_eq(ms_apply(m, op, 0, res), 0);
	return res->status;
}

static int apply(struct meta_op *op, struct meta_result *res)
{
	return apply_to(ms, op, res);
}

static struct meta_op bucket_op; /* the setup's BUCKET_CREATE, for replicas */

static int bucket_create(struct mstore *m, uint32_t mode, struct meta_result *res)
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

static int collect(void *arg, const char *path, uint64_t size, int64_t mtime)
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

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->keys[i]);
	}
	free(l->keys);
	memset(l, 0, sizeof(*l));
}

static void setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/mstore.XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(dbpath, sizeof(dbpath), "%s/shard.db", tmpdir);
	log_set_sink(quiet, NULL);
	ck_assert_int_eq(ms_open(dbpath, 0, &ms), 0);
	ck_assert_int_eq(bucket_create(ms, 0755, NULL), 0);
}

static void teardown(void)
{
	ms_close(ms);
	ms = NULL;
	log_set_sink(NULL, NULL);
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- op helpers ---- */

static int mknode_to(struct mstore *m, uint64_t parent, const char *name, uint32_t mode,
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

static int mknode(uint64_t parent, const char *name, uint32_t mode, struct meta_attr *a)
{
	return mknode_to(ms, parent, name, mode, a);
}

/* Creates and returns the inode number, failing the test on error. */
static uint64_t mk(uint64_t parent, const char *name, uint32_t mode)
{
	struct meta_attr a;

	ck_assert_int_eq(mknode(parent, name, mode, &a), 0);
	return a.ino;
}

static int rm(uint8_t type, uint64_t parent, const char *name, uint32_t flags,
	      struct meta_result *res)
{
	struct meta_op op;

	op_init(&op, type);
	op.parent = parent;
	op.flags = flags;
	snprintf(op.name, sizeof(op.name), "%s", name);
	return apply(&op, res);
}

static int mv(uint64_t p, const char *n, uint64_t np, const char *nn, uint32_t flags,
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

static int link_(uint64_t ino, uint64_t np, const char *nn, struct meta_result *res)
{
	struct meta_op op;

	op_init(&op, MOP_LINK);
	op.ino = ino;
	op.newparent = np;
	snprintf(op.newname, sizeof(op.newname), "%s", nn);
	return apply(&op, res);
}

static int truncate_(uint64_t ino, uint64_t size, struct meta_result *res)
{
	struct meta_op op;

	op_init(&op, MOP_SETATTR);
	op.ino = ino;
	op.valid = META_SET_SIZE;
	op.size = size;
	return apply(&op, res);
}

static struct meta_extent ext(uint64_t chunk, uint8_t tag, uint32_t len)
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

static int write_to(struct mstore *m, uint64_t ino, struct meta_extent *e, size_t n,
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

static int write_ext(uint64_t ino, struct meta_extent *e, size_t n, uint64_t size, uint32_t flags,
		     struct meta_result *res)
{
	return write_to(ms, ino, e, n, size, flags, res);
}

static int write_inline(uint64_t ino, const char *data, uint64_t size, struct meta_result *res)
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

static int put_to(struct mstore *m, const char *path, struct meta_extent *e, size_t n,
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

static int put(const char *path, struct meta_extent *e, size_t n, const char *inl,
	       uint64_t size, struct meta_result *res)
{
	return put_to(ms, path, e, n, inl, size, res);
}

static struct meta_attr getattr(uint64_t ino)
{
	struct meta_attr a;

	ck_assert_int_eq(ms_getattr(ms, ino, &a), 0);
	return a;
}

static int lookup(uint64_t parent, const char *name, struct meta_attr *a)
{
	struct meta_attr tmp;

	return ms_lookup(ms, parent, name, a ? a : &tmp);
}

static int gc_has(uint8_t tag)
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

static int extent_count(uint64_t ino)
{
	struct meta_extent e[64];
	struct meta_attr a;
	int more;

	return ms_extents(ms, ino, 0, e, 64, &more, &a, NULL, NULL);
}

/* ---- bucket ---- */

/* BUCKET_CREATE makes the root (S_IFDIR added to the mode), records chunk
 * size and inline_max, and is idempotent; the catalog refuses a second
 * bucket of the same name and lists them in order. */
START_TEST(test_bucket_root)
{
	struct meta_result r, r2;
	struct meta_op op;
	struct ms_stat st;
	struct meta_attr a = getattr(META_ROOT_INO);
	struct listing l = { 0 };

	ck_assert_uint_eq(a.mode, S_IFDIR | 0755);
	ck_assert_uint_eq(a.nlink, 2);
	ck_assert_uint_eq(a.uid, 1);
	ck_assert_uint_eq(a.gid, 2);
	ck_assert_uint_eq(a.blocks, 8);
	ck_assert_uint_eq(ms_next_ino(ms), 2);
	ck_assert_int_eq(ms_resolve(ms, "", &a), 0);
	ck_assert_uint_eq(a.ino, META_ROOT_INO);
	ck_assert_int_eq(ms_statfs(ms, &st), 0);
	ck_assert_uint_eq(st.chunk_size, CHUNK);
	ck_assert_uint_eq(st.inline_max, INLINE_MAX);
	ck_assert_uint_eq(st.files, 1);

	ck_assert_int_eq(bucket_create(ms, 0700, &r), 0);
	ck_assert_uint_eq(r.attr.mode, S_IFDIR | 0755);
	ck_assert_int_eq(bucket_create(ms, S_IFREG | 0700, &r2), -EINVAL);

	/* The catalog side. */
	for (int i = 0; i < 3; i++) {
		static const char *const b[] = { "zeta", "alpha", "mid" };

		op_init(&op, MOP_BUCKET_CREATE);
		snprintf(op.name, sizeof(op.name), "%s", b[i]);
		op.chunk_size = CHUNK;
		op.inline_max = 16;
		ck_assert_int_eq(apply(&op, NULL), 0);
	}
	op.op_id = ++op_ids;
	ck_assert_int_eq(apply(&op, NULL), -EEXIST);
	ck_assert_int_eq(ms_buckets(ms, collect, &l), 3);
	ck_assert_str_eq(l.keys[0], "alpha");
	ck_assert_str_eq(l.keys[1], "mid");
	ck_assert_str_eq(l.keys[2], "zeta");
	listing_free(&l);
	op_init(&op, MOP_BUCKET_DELETE);
	snprintf(op.name, sizeof(op.name), "mid");
	ck_assert_int_eq(apply(&op, NULL), 0);
	op.op_id = ++op_ids;
	ck_assert_int_eq(apply(&op, NULL), -ENOENT);
	ck_assert_int_eq(ms_buckets(ms, collect, &l), 2);
	ck_assert_str_eq(l.keys[1], "zeta");
	listing_free(&l);
}
END_TEST

/* BUCKET_DELETE refuses a non-empty root, FORCE removes every inode and
 * queues every block for GC; inode numbers are not reused afterwards. */
START_TEST(test_bucket_delete)
{
	struct meta_extent e = ext(0, 0x51, 100);
	struct meta_op op;
	struct ms_stat st;
	struct meta_attr a;
	uint64_t next;

	ck_assert_int_eq(put("d/f", &e, 1, NULL, 100, NULL), 0);
	next = ms_next_ino(ms);
	op_init(&op, MOP_BUCKET_DELETE);
	ck_assert_int_eq(apply(&op, NULL), -ENOTEMPTY);
	op.op_id = ++op_ids;
	op.flags = META_F_FORCE;
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert_int_eq(ms_getattr(ms, META_ROOT_INO, &a), -ENOENT);
	ck_assert_int_eq(gc_has(0x51), 1);
	ck_assert_int_eq(ms_statfs(ms, &st), 0);
	ck_assert_uint_eq(st.files, 0);
	op.op_id = ++op_ids;
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert_int_eq(bucket_create(ms, 0755, NULL), 0);
	ck_assert_uint_eq(ms_next_ino(ms), next);
	ck_assert_int_eq(mknode(META_ROOT_INO, "x", S_IFREG | 0644, &a), 0);
	ck_assert_uint_eq(a.ino, next);
}
END_TEST

/* ---- create, lookup, getattr ---- */

/* Files, directories, symlinks, fifos and devices are created with the
 * op's mode, owner and time; directories count their subdirectories. */
START_TEST(test_create_kinds)
{
	struct meta_attr f, d, s, p, c, a;
	struct meta_op op;
	char buf[64];

	ck_assert_int_eq(mknode(META_ROOT_INO, "file", S_IFREG | 0640, &f), 0);
	ck_assert_uint_eq(f.ino, 2);
	ck_assert_uint_eq(f.mode, S_IFREG | 0640);
	ck_assert_uint_eq(f.nlink, 1);
	ck_assert_uint_eq(f.uid, 7);
	ck_assert_uint_eq(f.gid, 8);
	ck_assert_int_eq(f.atime_ns, clock_ns);
	ck_assert_int_eq(f.mtime_ns, clock_ns);
	ck_assert_int_eq(f.ctime_ns, clock_ns);
	a = getattr(META_ROOT_INO);
	ck_assert_int_eq(a.mtime_ns, clock_ns);
	ck_assert_int_eq(a.ctime_ns, clock_ns);
	ck_assert_uint_eq(a.nlink, 2);

	ck_assert_int_eq(mknode(META_ROOT_INO, "dir", S_IFDIR | 0755, &d), 0);
	ck_assert_uint_eq(d.nlink, 2);
	ck_assert_uint_eq(d.blocks, 8);
	ck_assert_uint_eq(getattr(META_ROOT_INO).nlink, 3);
	ck_assert_int_eq(mknode(d.ino, "sub", S_IFDIR | 0755, NULL), 0);
	ck_assert_uint_eq(getattr(d.ino).nlink, 3);
	ck_assert_uint_eq(getattr(META_ROOT_INO).nlink, 3);

	op_init(&op, MOP_CREATE);
	op.parent = d.ino;
	snprintf(op.name, sizeof(op.name), "link");
	op.mode = S_IFLNK | 0777;
	op.data = (const uint8_t *)"../file";
	op.data_len = 7;
	op.new_ino = ms_next_ino(ms);
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert_int_eq(lookup(d.ino, "link", &s), 0);
	ck_assert_uint_eq(s.mode, S_IFLNK | 0777);
	ck_assert_uint_eq(s.size, 7);
	ck_assert_uint_eq(s.blocks, 0);
	ck_assert_int_eq(ms_readlink(ms, s.ino, buf, sizeof(buf)), 7);
	ck_assert_str_eq(buf, "../file");
	ck_assert_int_eq(ms_readlink(ms, s.ino, buf, 7), -ERANGE);
	ck_assert_int_eq(ms_readlink(ms, f.ino, buf, sizeof(buf)), -EINVAL);

	ck_assert_int_eq(mknode(META_ROOT_INO, "fifo", S_IFIFO | 0600, &p), 0);
	ck_assert_uint_eq(p.mode, S_IFIFO | 0600);
	op_init(&op, MOP_CREATE);
	op.parent = META_ROOT_INO;
	snprintf(op.name, sizeof(op.name), "tty");
	op.mode = S_IFCHR | 0620;
	op.rdev = makedev(4, 1);
	op.new_ino = ms_next_ino(ms);
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert_int_eq(lookup(META_ROOT_INO, "tty", &c), 0);
	ck_assert_uint_eq(c.rdev, makedev(4, 1));
	ck_assert_int_eq(mknode(META_ROOT_INO, "sock", S_IFSOCK | 0600, NULL), 0);
	ck_assert_int_eq(mknode(META_ROOT_INO, "plain", 0644, &a), 0);
	ck_assert_uint_eq(a.mode, S_IFREG | 0644);

	ck_assert_int_eq(lookup(META_ROOT_INO, "file", &a), 0);
	ck_assert_uint_eq(a.ino, f.ino);
	ck_assert_int_eq(ms_resolve(ms, "dir/link", &a), 0);
	ck_assert_uint_eq(a.ino, s.ino);
	ck_assert_int_eq(lookup(d.ino, ".", &a), 0);
	ck_assert_uint_eq(a.ino, d.ino);
	ck_assert_int_eq(lookup(d.ino, "..", &a), 0);
	ck_assert_uint_eq(a.ino, META_ROOT_INO);
	ck_assert_int_eq(lookup(META_ROOT_INO, "..", &a), 0);
	ck_assert_uint_eq(a.ino, META_ROOT_INO);
	ck_assert_uint_gt(ms_next_ino(ms), a.ino);
}
END_TEST

/* Name, parent and type errors of CREATE; an existing regular file is
 * returned unless EXCL; a leader's bad new_ino is refused. */
START_TEST(test_create_errors)
{
	char longname[META_NAME_MAX + 2];
	struct meta_attr f, a;
	struct meta_op op;

	ck_assert_int_eq(mknode(META_ROOT_INO, "f", S_IFREG | 0644, &f), 0);
	ck_assert_int_eq(mknode(META_ROOT_INO, "f", S_IFREG | 0600, &a), 0);
	ck_assert_uint_eq(a.ino, f.ino);
	ck_assert_uint_eq(a.mode, S_IFREG | 0644);
	op_init(&op, MOP_CREATE);
	op.parent = META_ROOT_INO;
	op.flags = META_F_EXCL;
	op.mode = S_IFREG | 0644;
	op.new_ino = ms_next_ino(ms);
	snprintf(op.name, sizeof(op.name), "f");
	ck_assert_int_eq(apply(&op, NULL), -EEXIST);
	ck_assert_int_eq(mknode(META_ROOT_INO, "f", S_IFDIR | 0755, NULL), -EEXIST);
	ck_assert_int_eq(mknode(META_ROOT_INO, "d", S_IFDIR | 0755, NULL), 0);
	ck_assert_int_eq(mknode(META_ROOT_INO, "d", S_IFREG | 0644, NULL), -EEXIST);

	ck_assert_int_eq(mknode(999, "x", S_IFREG | 0644, NULL), -ENOENT);
	ck_assert_int_eq(mknode(f.ino, "x", S_IFREG | 0644, NULL), -ENOTDIR);
	memset(longname, 'n', META_NAME_MAX + 1);
	longname[META_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(mknode(META_ROOT_INO, longname, S_IFREG | 0644, NULL), -ENAMETOOLONG);
	longname[META_NAME_MAX] = '\0';
	ck_assert_int_eq(mknode(META_ROOT_INO, longname, S_IFREG | 0644, NULL), 0);
	ck_assert_int_eq(mknode(META_ROOT_INO, "", S_IFREG | 0644, NULL), -EINVAL);
	ck_assert_int_eq(mknode(META_ROOT_INO, ".", S_IFDIR | 0755, NULL), -EINVAL);
	ck_assert_int_eq(mknode(META_ROOT_INO, "..", S_IFDIR | 0755, NULL), -EINVAL);
	ck_assert_int_eq(mknode(META_ROOT_INO, "a/b", S_IFREG | 0644, NULL), -EINVAL);
	ck_assert_int_eq(mknode(META_ROOT_INO, "t", 0170000 | 0644, NULL), -EINVAL);
	ck_assert_int_eq(mknode(META_ROOT_INO, "lnk", S_IFLNK | 0777, NULL), -ENOENT);

	op_init(&op, MOP_CREATE);
	op.parent = META_ROOT_INO;
	op.mode = S_IFREG | 0644;
	snprintf(op.name, sizeof(op.name), "g");
	op.new_ino = f.ino; /* in use */
	ck_assert_int_eq(apply(&op, NULL), -EINVAL);
	op.op_id = ++op_ids;
	op.new_ino = 1;
	ck_assert_int_eq(apply(&op, NULL), -EINVAL);
	op.op_id = ++op_ids;
	op.new_ino = 0;
	ck_assert_int_eq(apply(&op, NULL), -EINVAL);
	ck_assert_int_eq(lookup(META_ROOT_INO, "g", NULL), -ENOENT);
	ck_assert_int_eq(lookup(META_ROOT_INO, "zz", NULL), -ENOENT);
	ck_assert_int_eq(lookup(f.ino, "zz", NULL), -ENOTDIR);
	ck_assert_int_eq(ms_resolve(ms, "f/x", &a), -ENOTDIR);
	ck_assert_int_eq(ms_resolve(ms, "d//x", &a), -EINVAL);
}
END_TEST

/* ---- link, unlink, rmdir, forget ---- */

/* LINK adds a name and a link count (EPERM for directories, EEXIST for a
 * taken name); UNLINK drops one. */
START_TEST(test_link)
{
	uint64_t f = mk(META_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t d = mk(META_ROOT_INO, "d", S_IFDIR | 0755);
	struct meta_result r;
	struct meta_attr a;

	ck_assert_int_eq(link_(f, d, "g", &r), 0);
	ck_assert_uint_eq(r.attr.nlink, 2);
	ck_assert_int_eq(r.attr.ctime_ns, clock_ns);
	ck_assert_int_eq(getattr(d).mtime_ns, clock_ns);
	ck_assert_int_eq(lookup(d, "g", &a), 0);
	ck_assert_uint_eq(a.ino, f);
	ck_assert_int_eq(link_(d, META_ROOT_INO, "d2", NULL), -EPERM);
	ck_assert_int_eq(link_(f, d, "g", NULL), -EEXIST);
	ck_assert_int_eq(link_(f, f, "x", NULL), -ENOTDIR);
	ck_assert_int_eq(link_(999, d, "x", NULL), -ENOENT);
	ck_assert_int_eq(rm(MOP_UNLINK, META_ROOT_INO, "f", 0, &r), 0);
	ck_assert_uint_eq(r.freed_ino, 0);
	ck_assert_uint_eq(getattr(f).nlink, 1);
	ck_assert_int_eq(lookup(d, "g", NULL), 0);
}
END_TEST

/* The last UNLINK deletes the inode and frees its blocks, or with
 * KEEP_ORPHAN keeps it (nlink 0, data intact) until FORGET. */
START_TEST(test_unlink_orphan)
{
	uint64_t f = mk(META_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t g = mk(META_ROOT_INO, "g", S_IFREG | 0644);
	uint64_t d = mk(META_ROOT_INO, "d", S_IFDIR | 0755);
	struct meta_extent e1 = ext(0, 0x11, 10), e2 = ext(0, 0x12, 10);
	struct meta_result r;
	struct meta_attr a;
	struct meta_op op;

	ck_assert_int_eq(write_ext(f, &e1, 1, 10, 0, NULL), 0);
	ck_assert_int_eq(write_ext(g, &e2, 1, 10, 0, NULL), 0);
	ck_assert_int_eq(rm(MOP_UNLINK, META_ROOT_INO, "f", 0, &r), 0);
	ck_assert_uint_eq(r.freed_ino, f);
	ck_assert_uint_eq(r.attr.nlink, 0);
	ck_assert_int_eq(ms_getattr(ms, f, &a), -ENOENT);
	ck_assert_int_eq(gc_has(0x11), 1);

	ck_assert_int_eq(rm(MOP_UNLINK, META_ROOT_INO, "g", META_F_KEEP_ORPHAN, &r), 0);
	ck_assert_uint_eq(r.freed_ino, g);
	ck_assert_int_eq(lookup(META_ROOT_INO, "g", NULL), -ENOENT);
	a = getattr(g);
	ck_assert_uint_eq(a.nlink, 0);
	ck_assert_uint_eq(a.size, 10);
	ck_assert_int_eq(extent_count(g), 1);
	ck_assert_int_eq(gc_has(0x12), 0);
	/* An open unlinked file still takes writes and setattr. */
	ck_assert_int_eq(truncate_(g, 5, NULL), 0);

	/* FORGET of a linked inode or a missing one changes nothing. */
	op_init(&op, MOP_FORGET);
	op.ino = d;
	ck_assert_int_eq(apply(&op, &r), 0);
	ck_assert_uint_eq(r.freed_ino, 0);
	ck_assert_uint_eq(getattr(d).nlink, 2);
	op.op_id = ++op_ids;
	op.ino = 999;
	ck_assert_int_eq(apply(&op, NULL), 0);
	op.op_id = ++op_ids;
	op.ino = g;
	ck_assert_int_eq(apply(&op, &r), 0);
	ck_assert_uint_eq(r.freed_ino, g);
	ck_assert_int_eq(ms_getattr(ms, g, &a), -ENOENT);
	ck_assert_int_eq(gc_has(0x12), 1);

	ck_assert_int_eq(rm(MOP_UNLINK, META_ROOT_INO, "d", 0, NULL), -EISDIR);
	ck_assert_int_eq(rm(MOP_UNLINK, META_ROOT_INO, "nope", 0, NULL), -ENOENT);
	ck_assert_int_eq(rm(MOP_UNLINK, 999, "x", 0, NULL), -ENOENT);
	ck_assert_int_eq(mknode(d, "h", S_IFREG | 0644, NULL), 0);
	ck_assert_int_eq(rm(MOP_UNLINK, 0, "d/h", META_F_PATH, &r), 0);
	ck_assert_uint_ne(r.freed_ino, 0);
	ck_assert_int_eq(lookup(d, "h", NULL), -ENOENT);
	ck_assert_int_eq(rm(MOP_UNLINK, 0, "d/h", META_F_PATH, NULL), -ENOENT);
	ck_assert_int_eq(rm(MOP_UNLINK, 0, "x/h", META_F_PATH, NULL), -ENOENT);
}
END_TEST

/* RMDIR refuses non-empty directories and non-directories, and takes a
 * link from the parent. */
START_TEST(test_rmdir)
{
	uint64_t d = mk(META_ROOT_INO, "d", S_IFDIR | 0755);
	uint64_t s = mk(d, "s", S_IFDIR | 0755);
	struct meta_result r;
	struct meta_attr a;

	mk(META_ROOT_INO, "f", S_IFREG | 0644);
	ck_assert_uint_eq(getattr(META_ROOT_INO).nlink, 3);
	ck_assert_int_eq(rm(MOP_RMDIR, META_ROOT_INO, "d", 0, NULL), -ENOTEMPTY);
	ck_assert_int_eq(rm(MOP_RMDIR, META_ROOT_INO, "f", 0, NULL), -ENOTDIR);
	ck_assert_int_eq(rm(MOP_RMDIR, META_ROOT_INO, "x", 0, NULL), -ENOENT);
	ck_assert_int_eq(rm(MOP_RMDIR, d, "s", 0, &r), 0);
	ck_assert_uint_eq(r.freed_ino, s);
	ck_assert_int_eq(ms_getattr(ms, s, &a), -ENOENT);
	ck_assert_uint_eq(getattr(d).nlink, 2);
	ck_assert_int_eq(getattr(d).mtime_ns, clock_ns);
	ck_assert_int_eq(rm(MOP_RMDIR, 0, "d", META_F_PATH, NULL), 0);
	ck_assert_uint_eq(getattr(META_ROOT_INO).nlink, 2);
}
END_TEST

/* ---- rename ---- */

/* rename(2) cases: plain move, over a file (its inode freed), over an
 * empty dir, type mismatches, non-empty target, own subtree, NOREPLACE,
 * same inode; directory moves fix both parents' nlink and "..". */
START_TEST(test_rename)
{
	uint64_t a = mk(META_ROOT_INO, "a", S_IFDIR | 0755);
	uint64_t b = mk(META_ROOT_INO, "b", S_IFDIR | 0755);
	uint64_t sub = mk(a, "sub", S_IFDIR | 0755);
	uint64_t f = mk(a, "f", S_IFREG | 0644);
	uint64_t g = mk(b, "g", S_IFREG | 0644);
	uint64_t e = mk(b, "empty", S_IFDIR | 0755);
	struct meta_extent ge = ext(0, 0x21, 5);
	struct meta_result r;
	struct meta_attr at;

	mk(sub, "x", S_IFREG | 0644);
	ck_assert_int_eq(write_ext(g, &ge, 1, 5, 0, NULL), 0);
	/* Over a file: g's only link goes. */
	ck_assert_int_eq(mv(a, "f", b, "g", 0, &r), 0);
	ck_assert_uint_eq(r.freed_ino, g);
	ck_assert_uint_eq(r.attr.ino, f);
	ck_assert_int_eq(r.attr.ctime_ns, clock_ns);
	ck_assert_int_eq(ms_getattr(ms, g, &at), -ENOENT);
	ck_assert_int_eq(gc_has(0x21), 1);
	ck_assert_int_eq(lookup(b, "g", &at), 0);
	ck_assert_uint_eq(at.ino, f);
	ck_assert_int_eq(lookup(a, "f", NULL), -ENOENT);
	ck_assert_int_eq(getattr(a).mtime_ns, clock_ns);
	ck_assert_int_eq(getattr(b).ctime_ns, clock_ns);

	/* Type mismatches and a non-empty target. */
	ck_assert_int_eq(mv(a, "sub", b, "g", 0, NULL), -ENOTDIR);
	ck_assert_int_eq(mv(b, "g", b, "empty", 0, NULL), -EISDIR);
	ck_assert_int_eq(mv(b, "empty", a, "sub", 0, NULL), -ENOTEMPTY);
	ck_assert_int_eq(mv(b, "nope", a, "x", 0, NULL), -ENOENT);
	ck_assert_int_eq(mv(b, "g", 999, "x", 0, NULL), -ENOENT);
	ck_assert_int_eq(mv(b, "g", f, "x", 0, NULL), -ENOTDIR);
	ck_assert_int_eq(mv(b, "g", a, "", 0, NULL), -EINVAL);
	/* Into its own subtree, or onto itself as a parent. */
	ck_assert_int_eq(mv(META_ROOT_INO, "a", sub, "a2", 0, NULL), -EINVAL);
	ck_assert_int_eq(mv(META_ROOT_INO, "a", a, "a2", 0, NULL), -EINVAL);
	/* NOREPLACE; and EXCHANGE with it is invalid. */
	ck_assert_int_eq(mv(b, "g", b, "empty", META_F_NOREPLACE, NULL), -EEXIST);
	ck_assert_int_eq(mv(b, "g", a, "new", META_F_NOREPLACE | META_F_EXCHANGE, NULL),
			 -EINVAL);

	/* Over an empty directory: b loses a subdir, a loses sub, b gains it. */
	ck_assert_uint_eq(getattr(a).nlink, 3);
	ck_assert_uint_eq(getattr(b).nlink, 3);
	ck_assert_int_eq(mv(a, "sub", b, "empty", 0, &r), 0);
	ck_assert_uint_eq(r.freed_ino, e);
	ck_assert_int_eq(ms_getattr(ms, e, &at), -ENOENT);
	ck_assert_uint_eq(getattr(a).nlink, 2);
	ck_assert_uint_eq(getattr(b).nlink, 3);
	ck_assert_int_eq(lookup(sub, "..", &at), 0);
	ck_assert_uint_eq(at.ino, b);
	ck_assert_int_eq(ms_resolve(ms, "b/empty/x", &at), 0);

	/* A directory moved across parents. */
	ck_assert_int_eq(mv(b, "empty", a, "moved", 0, NULL), 0);
	ck_assert_uint_eq(getattr(a).nlink, 3);
	ck_assert_uint_eq(getattr(b).nlink, 2);
	ck_assert_int_eq(lookup(sub, "..", &at), 0);
	ck_assert_uint_eq(at.ino, a);
	/* Within one directory nlink stays. */
	ck_assert_int_eq(mv(a, "moved", a, "renamed", 0, NULL), 0);
	ck_assert_uint_eq(getattr(a).nlink, 3);

	/* Same inode: both names stay, nothing changes. */
	ck_assert_int_eq(link_(f, a, "f2", NULL), 0);
	ck_assert_int_eq(mv(a, "f2", b, "g", 0, &r), 0);
	ck_assert_uint_eq(r.attr.ino, f);
	ck_assert_uint_eq(getattr(f).nlink, 2);
	ck_assert_int_eq(lookup(a, "f2", NULL), 0);
	ck_assert_int_eq(mv(a, "f2", a, "f2", 0, NULL), 0);

	/* Over a file with KEEP_ORPHAN: the replaced inode survives. */
	g = mk(b, "victim", S_IFREG | 0644);
	ck_assert_int_eq(mv(a, "f2", b, "victim", META_F_KEEP_ORPHAN, &r), 0);
	ck_assert_uint_eq(r.freed_ino, g);
	ck_assert_uint_eq(getattr(g).nlink, 0);
}
END_TEST

/* RENAME_EXCHANGE swaps a file and a directory across directories,
 * fixing both parents' nlink and the directory's parent. */
START_TEST(test_rename_exchange)
{
	uint64_t a = mk(META_ROOT_INO, "a", S_IFDIR | 0755);
	uint64_t b = mk(META_ROOT_INO, "b", S_IFDIR | 0755);
	uint64_t f = mk(a, "f", S_IFREG | 0644);
	uint64_t d = mk(b, "d", S_IFDIR | 0755);
	struct meta_result r;
	struct meta_attr at;

	ck_assert_uint_eq(getattr(a).nlink, 2);
	ck_assert_uint_eq(getattr(b).nlink, 3);
	ck_assert_int_eq(mv(a, "f", b, "d", META_F_EXCHANGE, &r), 0);
	ck_assert_uint_eq(r.attr.ino, f);
	ck_assert_uint_eq(r.freed_ino, 0);
	ck_assert_int_eq(lookup(a, "f", &at), 0);
	ck_assert_uint_eq(at.ino, d);
	ck_assert_int_eq(lookup(b, "d", &at), 0);
	ck_assert_uint_eq(at.ino, f);
	ck_assert_uint_eq(getattr(a).nlink, 3);
	ck_assert_uint_eq(getattr(b).nlink, 2);
	ck_assert_int_eq(lookup(d, "..", &at), 0);
	ck_assert_uint_eq(at.ino, a);
	ck_assert_int_eq(getattr(d).ctime_ns, clock_ns);
	ck_assert_int_eq(getattr(f).ctime_ns, clock_ns);
	/* The listing order follows the swapped types: a/f is now a dir. */
	ck_assert_int_eq(put("a/f/inner", NULL, 0, "x", 1, NULL), 0);
	ck_assert_int_eq(mv(a, "f", b, "none", META_F_EXCHANGE, NULL), -ENOENT);
	/* A directory cannot be swapped with its own descendant. */
	ck_assert_int_eq(mv(META_ROOT_INO, "a", a, "f", META_F_EXCHANGE, NULL), -EINVAL);
	ck_assert_int_eq(mv(a, "f", META_ROOT_INO, "a", META_F_EXCHANGE, NULL), -EINVAL);
	/* Same directory: a plain swap. */
	mk(a, "g", S_IFREG | 0644);
	ck_assert_int_eq(mv(a, "g", a, "f", META_F_EXCHANGE, NULL), 0);
	ck_assert_uint_eq(getattr(a).nlink, 3);
	ck_assert_int_eq(ms_resolve(ms, "a/g/inner", &at), 0);
}
END_TEST

/* ---- setattr ---- */

/* Truncation drops chunks past the end (their blocks to GC), trims the
 * last chunk, leaves extents alone when growing; mode keeps the type,
 * owner and times are set, ctime is always now. */
START_TEST(test_setattr)
{
	uint64_t f = mk(META_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t d = mk(META_ROOT_INO, "d", S_IFDIR | 0755);
	struct meta_extent e[3] = { ext(0, 0x31, CHUNK), ext(1, 0x32, CHUNK), ext(2, 0x33, 1000) };
	struct meta_extent out[8];
	struct meta_result r;
	struct meta_attr a;
	struct meta_op op;
	uint64_t gen;
	int more;

	ck_assert_int_eq(write_ext(f, e, 3, 2 * CHUNK + 1000, 0, &r), 0);
	ck_assert_uint_eq(r.attr.blocks, 8 + 8 + 2);
	gen = r.attr.gen;
	ck_assert_int_eq(truncate_(f, CHUNK + 904, &r), 0);
	ck_assert_uint_eq(r.attr.size, CHUNK + 904);
	ck_assert_uint_eq(r.attr.blocks, 8 + 2);
	ck_assert_uint_gt(r.attr.gen, gen);
	ck_assert_int_eq(r.attr.mtime_ns, clock_ns);
	ck_assert_int_eq(gc_has(0x33), 1);
	ck_assert_int_eq(gc_has(0x32), 0);
	ck_assert_int_eq(ms_extents(ms, f, 0, out, 8, &more, &a, NULL, NULL), 2);
	ck_assert_uint_eq(out[1].chunk, 1);
	ck_assert_uint_eq(out[1].len, 904);
	ck_assert_uint_eq(out[1].blk.len, CHUNK);
	ck_assert_uint_eq(out[1].blk.k, 4);
	ck_assert_uint_eq(out[1].blk.m, 2);
	ck_assert_uint_eq(out[1].blk.csum, 0x32);
	/* Growing keeps the extents; a cut exactly at a chunk boundary. */
	ck_assert_int_eq(truncate_(f, 100000, &r), 0);
	ck_assert_uint_eq(r.attr.size, 100000);
	ck_assert_int_eq(extent_count(f), 2);
	ck_assert_int_eq(truncate_(f, CHUNK, &r), 0);
	ck_assert_int_eq(extent_count(f), 1);
	ck_assert_int_eq(gc_has(0x32), 1);
	ck_assert_uint_eq(r.attr.blocks, 8);
	ck_assert_int_eq(truncate_(f, 0, &r), 0);
	ck_assert_int_eq(extent_count(f), 0);
	ck_assert_uint_eq(r.attr.blocks, 0);
	ck_assert_int_eq(gc_has(0x31), 1);
	ck_assert_int_eq(truncate_(d, 10, NULL), -EISDIR);
	ck_assert_int_eq(truncate_(999, 10, NULL), -ENOENT);

	op_init(&op, MOP_SETATTR);
	op.ino = f;
	op.valid = META_SET_MODE | META_SET_UID | META_SET_GID | META_SET_ATIME | META_SET_MTIME;
	op.mode = S_IFDIR | 04711;
	op.uid = 100;
	op.gid = 200;
	op.atime_ns = 11;
	op.mtime_ns = 22;
	ck_assert_int_eq(apply(&op, &r), 0);
	ck_assert_uint_eq(r.attr.mode, S_IFREG | 04711);
	ck_assert_uint_eq(r.attr.uid, 100);
	ck_assert_uint_eq(r.attr.gid, 200);
	ck_assert_int_eq(r.attr.atime_ns, 11);
	ck_assert_int_eq(r.attr.mtime_ns, 22);
	ck_assert_int_eq(r.attr.ctime_ns, clock_ns);
	op_init(&op, MOP_SETATTR);
	op.ino = f;
	op.valid = META_SET_ATIME_NOW | META_SET_MTIME_NOW;
	ck_assert_int_eq(apply(&op, &r), 0);
	ck_assert_int_eq(r.attr.atime_ns, clock_ns);
	ck_assert_int_eq(r.attr.mtime_ns, clock_ns);
	ck_assert_uint_eq(r.attr.uid, 100);
}
END_TEST

/* Truncating an inline file trims its data, and growing zero-extends it
 * up to inline_max only. */
START_TEST(test_setattr_inline)
{
	uint64_t f = mk(META_ROOT_INO, "f", S_IFREG | 0644);
	struct meta_extent out[1];
	struct meta_attr a;
	uint8_t *inl;
	size_t len;
	int more;

	ck_assert_int_eq(write_inline(f, "hello world", 11, NULL), 0);
	ck_assert_int_eq(truncate_(f, 5, NULL), 0);
	ck_assert_int_eq(ms_extents(ms, f, 0, out, 1, &more, &a, &inl, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_mem_eq(inl, "hello", 5);
	free(inl);
	ck_assert_int_eq(truncate_(f, 40, NULL), 0);
	ck_assert_int_eq(ms_extents(ms, f, 0, out, 1, &more, &a, &inl, &len), 0);
	ck_assert_uint_eq(len, 40);
	ck_assert_uint_eq(a.size, 40);
	ck_assert_mem_eq(inl, "hello\0\0\0", 8);
	free(inl);
	ck_assert_int_eq(truncate_(f, 1000, NULL), 0);
	ck_assert_int_eq(ms_extents(ms, f, 0, out, 1, &more, &a, &inl, &len), 0);
	ck_assert_uint_eq(len, INLINE_MAX);
	ck_assert_uint_eq(a.size, 1000);
	ck_assert_uint_eq(a.blocks, 1);
	free(inl);
}
END_TEST

/* ---- xattrs ---- */

static int setx(uint64_t ino, const char *name, const char *value, uint32_t flags,
		struct meta_result *res)
{
	struct meta_op op;

	op_init(&op, MOP_SETXATTR);
	op.ino = ino;
	op.flags = flags;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.data = (const uint8_t *)value;
	op.data_len = strlen(value);
	return apply(&op, res);
}

static int rmx(uint64_t ino, const char *name)
{
	struct meta_op op;

	op_init(&op, MOP_REMOVEXATTR);
	op.ino = ino;
	snprintf(op.name, sizeof(op.name), "%s", name);
	return apply(&op, NULL);
}

/* Extended attributes: set/get/list/remove with CREATE/REPLACE flags,
 * ENODATA for missing names, ERANGE for bad names; ctime = now. */
START_TEST(test_xattr)
{
	uint64_t f = mk(META_ROOT_INO, "f", S_IFREG | 0644);
	char longname[META_XATTR_NAME_MAX + 2];
	struct meta_result r;
	uint8_t *val;
	char *names;
	size_t len;

	ck_assert_int_eq(setx(f, "user.b", "two", 0, &r), 0);
	ck_assert_int_eq(r.attr.ctime_ns, clock_ns);
	ck_assert_int_eq(setx(f, "user.a", "one", META_F_XATTR_CREATE, NULL), 0);
	ck_assert_int_eq(setx(f, "user.a", "uno", META_F_XATTR_CREATE, NULL), -EEXIST);
	ck_assert_int_eq(setx(f, "user.c", "x", META_F_XATTR_REPLACE, NULL), -ENODATA);
	ck_assert_int_eq(setx(f, "user.a", "uno", META_F_XATTR_REPLACE, NULL), 0);
	ck_assert_int_eq(setx(f, "user.e", "", 0, NULL), 0);
	ck_assert_int_eq(setx(f, "user.a", "x", META_F_XATTR_CREATE | META_F_XATTR_REPLACE, NULL),
			 -EINVAL);
	ck_assert_int_eq(setx(f, "", "x", 0, NULL), -ERANGE);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(setx(f, longname, "x", 0, NULL), -ERANGE);
	ck_assert_int_eq(setx(999, "user.a", "x", 0, NULL), -ENOENT);

	ck_assert_int_eq(ms_getxattr(ms, f, "user.a", &val, &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(val, "uno", 3);
	free(val);
	ck_assert_int_eq(ms_getxattr(ms, f, "user.e", &val, &len), 0);
	ck_assert_uint_eq(len, 0);
	free(val);
	ck_assert_int_eq(ms_getxattr(ms, f, "user.z", &val, &len), -ENODATA);
	ck_assert_int_eq(ms_getxattr(ms, 999, "user.a", &val, &len), -ENOENT);
	ck_assert_int_eq(ms_listxattr(ms, f, &names, &len), 0);
	ck_assert_uint_eq(len, 21);
	ck_assert_mem_eq(names, "user.a\0user.b\0user.e\0", 21);
	free(names);

	ck_assert_int_eq(rmx(f, "user.b"), 0);
	ck_assert_int_eq(getattr(f).ctime_ns, clock_ns);
	ck_assert_int_eq(rmx(f, "user.b"), -ENODATA);
	ck_assert_int_eq(ms_listxattr(ms, f, &names, &len), 0);
	ck_assert_uint_eq(len, 14);
	ck_assert_mem_eq(names, "user.a\0user.e\0", 14);
	free(names);
}
END_TEST

/* ---- write and GC ---- */

/* WRITE replaces chunks: an old block goes to GC once no extent of any
 * file names it; a rewrite with the same block keeps it; a block already
 * queued for GC cannot be referenced again; GC_DONE empties the queue. */
START_TEST(test_write_gc)
{
	uint64_t f = mk(META_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t g = mk(META_ROOT_INO, "g", S_IFREG | 0644);
	uint64_t d = mk(META_ROOT_INO, "d", S_IFDIR | 0755);
	struct meta_extent fa[2] = { ext(0, 0xA1, CHUNK), ext(1, 0xB1, 10) };
	struct meta_extent ga = ext(3, 0xA1, 100);
	struct meta_extent c = ext(0, 0xC1, CHUNK), dd = ext(1, 0xD1, 10);
	struct manifest_block pend[8];
	struct meta_result r;
	struct meta_op op;
	uint64_t gen;

	ck_assert_int_eq(write_ext(f, fa, 2, CHUNK + 10, 0, &r), 0);
	ck_assert_uint_eq(r.attr.size, CHUNK + 10);
	ck_assert_int_eq(r.attr.mtime_ns, clock_ns);
	ck_assert_int_eq(r.attr.ctime_ns, clock_ns);
	gen = r.attr.gen;
	/* g shares block A1 in its chunk 3. */
	ck_assert_int_eq(write_ext(g, &ga, 1, 3 * CHUNK + 100, 0, NULL), 0);
	ck_assert_int_eq(write_ext(f, &c, 1, 0, 0, &r), 0);
	ck_assert_uint_eq(r.attr.size, CHUNK + 10); /* max(old, 0) */
	ck_assert_uint_gt(r.attr.gen, gen);
	ck_assert_int_eq(gc_has(0xA1), 0);
	/* The same block rewritten into its own chunk stays live. */
	ck_assert_int_eq(write_ext(f, &fa[1], 1, 0, 0, NULL), 0);
	ck_assert_int_eq(gc_has(0xB1), 0);
	ck_assert_int_eq(write_ext(f, &dd, 1, 0, 0, NULL), 0);
	ck_assert_int_eq(gc_has(0xB1), 1);
	ck_assert_int_eq(rm(MOP_UNLINK, META_ROOT_INO, "g", 0, NULL), 0);
	ck_assert_int_eq(gc_has(0xA1), 1);
	ck_assert_int_eq(ms_gc_pending(ms, pend, 8), 2);
	ck_assert_int_eq(ms_gc_pending(ms, pend, 1), 1);

	/* A queued block is stale: the write is refused, nothing changes. */
	ck_assert_int_eq(write_ext(f, &fa[0], 1, 0, 0, NULL), -ESTALE);
	ck_assert_int_eq(gc_has(0xC1), 0);

	op_init(&op, MOP_GC_DONE);
	op.ext = fa;
	op.n_ext = 2;
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert_int_eq(ms_gc_pending(ms, pend, 8), 0);

	/* Explicit mtime; TRUNCATE shrinks; extents must fit the size. */
	op_init(&op, MOP_WRITE);
	op.ino = f;
	op.mtime_ns = 777;
	op.size = 10;
	op.flags = META_F_TRUNCATE;
	ck_assert_int_eq(apply(&op, &r), 0);
	ck_assert_int_eq(r.attr.mtime_ns, 777);
	ck_assert_uint_eq(r.attr.size, 10);
	ck_assert_int_eq(extent_count(f), 1);
	ck_assert_int_eq(gc_has(0xD1), 1);
	dd = ext(1, 0xE1, 20);
	ck_assert_int_eq(write_ext(f, &dd, 1, CHUNK + 19, 0, NULL), -EINVAL);
	dd.len = CHUNK + 1;
	ck_assert_int_eq(write_ext(f, &dd, 1, 10 * CHUNK, 0, NULL), -EINVAL);
	ck_assert_int_eq(write_ext(d, &c, 1, CHUNK, 0, NULL), -EISDIR);
	ck_assert_int_eq(mknode(META_ROOT_INO, "p", S_IFIFO | 0600, NULL), 0);
	ck_assert_int_eq(lookup(META_ROOT_INO, "p", &r.attr), 0);
	ck_assert_int_eq(write_ext(r.attr.ino, NULL, 0, 1, 0, NULL), -EINVAL);
	ck_assert_int_eq(write_ext(999, NULL, 0, 1, 0, NULL), -ENOENT);
}
END_TEST

/* Inline content and extents replace each other: an extent write drops
 * the inline data, an inline write drops (and frees) the extents. */
START_TEST(test_inline_then_extents)
{
	uint64_t f = mk(META_ROOT_INO, "f", S_IFREG | 0644);
	struct meta_extent e = ext(0, 0x41, 3000), out[4];
	struct meta_result r;
	struct meta_attr a;
	uint8_t *inl;
	size_t len;
	int more;

	ck_assert_int_eq(write_inline(f, "tiny", 4, &r), 0);
	ck_assert_uint_eq(r.attr.size, 4);
	ck_assert_uint_eq(r.attr.blocks, 1);
	ck_assert_int_eq(ms_extents(ms, f, 0, out, 4, &more, &a, &inl, &len), 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(inl, "tiny", 4);
	free(inl);
	ck_assert_int_eq(write_inline(f, "toolong", 4, NULL), -EINVAL);

	ck_assert_int_eq(write_ext(f, &e, 1, 3000, 0, &r), 0);
	ck_assert_uint_eq(r.attr.blocks, 6);
	ck_assert_int_eq(ms_extents(ms, f, 0, out, 4, &more, &a, &inl, &len), 1);
	ck_assert_ptr_null(inl);
	ck_assert_uint_eq(len, 0);
	ck_assert_uint_eq(a.size, 3000);
	ck_assert_int_eq(write_inline(f, "back", 4, &r), 0);
	ck_assert_uint_eq(r.attr.size, 4);
	ck_assert_int_eq(extent_count(f), 0);
	ck_assert_int_eq(gc_has(0x41), 1);
}
END_TEST

/* ms_extents pages from `first` with `max` and reports more. */
START_TEST(test_extents_paging)
{
	uint64_t f = mk(META_ROOT_INO, "f", S_IFREG | 0644);
	struct meta_extent e[10], out[4];
	struct meta_attr a;
	int more;

	for (int i = 0; i < 10; i++) {
		e[i] = ext((uint64_t)i * 2, (uint8_t)(0x60 + i), CHUNK);
	}
	ck_assert_int_eq(write_ext(f, e, 10, 20 * CHUNK, 0, NULL), 0);
	ck_assert_int_eq(ms_extents(ms, f, 0, out, 4, &more, &a, NULL, NULL), 4);
	ck_assert_int_eq(more, 1);
	ck_assert_uint_eq(out[3].chunk, 6);
	ck_assert_int_eq(ms_extents(ms, f, 7, out, 4, &more, &a, NULL, NULL), 4);
	ck_assert_uint_eq(out[0].chunk, 8);
	ck_assert_int_eq(more, 1);
	ck_assert_int_eq(ms_extents(ms, f, 15, out, 4, &more, &a, NULL, NULL), 2);
	ck_assert_int_eq(more, 0);
	ck_assert_uint_eq(a.blocks, 80);
	ck_assert_int_eq(ms_extents(ms, 999, 0, out, 4, &more, &a, NULL, NULL), -ENOENT);
}
END_TEST

/* ---- put ---- */

/* PUT makes missing parents (0755, op owner), creates or replaces the
 * file with exactly the given content, and fails atomically: EISDIR,
 * ENOTDIR, EXCL, and a failure after making parents leaves nothing. */
START_TEST(test_put)
{
	struct meta_extent e[2] = { ext(0, 0x71, CHUNK), ext(1, 0x72, 50) };
	struct meta_extent e2 = ext(0, 0x73, 10);
	struct meta_result r;
	struct meta_attr a, f;
	struct meta_op op;
	uint64_t next;

	next = ms_next_ino(ms);
	ck_assert_int_eq(put("a/b/c.txt", e, 2, NULL, CHUNK + 50, &r), 0);
	ck_assert_uint_eq(r.attr.ino, next + 2);
	ck_assert_uint_eq(r.attr.mode, S_IFREG | 0644);
	ck_assert_uint_eq(r.attr.size, CHUNK + 50);
	ck_assert_uint_eq(r.attr.uid, 5);
	ck_assert_uint_eq(r.attr.gen, 1);
	ck_assert_uint_gt(ms_next_ino(ms), next + 2);
	ck_assert_int_eq(ms_resolve(ms, "a", &a), 0);
	ck_assert_uint_eq(a.ino, next);
	ck_assert_uint_eq(a.mode, S_IFDIR | 0755);
	ck_assert_uint_eq(a.uid, 5);
	ck_assert_uint_eq(a.nlink, 3);
	ck_assert_uint_eq(getattr(META_ROOT_INO).nlink, 3);
	ck_assert_int_eq(ms_resolve(ms, "a/b/c.txt", &f), 0);
	ck_assert_uint_eq(f.ino, r.attr.ino);

	/* Replace: all old extents go, size is exactly the new one. */
	ck_assert_int_eq(put("a/b/c.txt", &e2, 1, NULL, 10, &r), 0);
	ck_assert_uint_eq(r.attr.ino, f.ino);
	ck_assert_uint_eq(r.attr.size, 10);
	ck_assert_uint_eq(r.attr.gen, 2);
	ck_assert_int_eq(extent_count(f.ino), 1);
	ck_assert_int_eq(gc_has(0x71), 1);
	ck_assert_int_eq(gc_has(0x72), 1);
	ck_assert_int_eq(put("a/b/c.txt", NULL, 0, "inline!", 7, &r), 0);
	ck_assert_int_eq(gc_has(0x73), 1);
	ck_assert_uint_eq(r.attr.size, 7);

	ck_assert_int_eq(put("a/b", NULL, 0, "x", 1, NULL), -EISDIR);
	ck_assert_int_eq(put("a/b/c.txt/d", NULL, 0, "x", 1, NULL), -ENOTDIR);
	ck_assert_int_eq(put("a//d", NULL, 0, "x", 1, NULL), -EINVAL);
	ck_assert_int_eq(put("", NULL, 0, "x", 1, NULL), -EINVAL);
	ck_assert_int_eq(put("a/x", NULL, 0, "xy", 1, NULL), -EINVAL);

	/* n1 gets `next`, then n2's number next+1 is found taken (a leader
	 * bug): the whole PUT is undone, n1 included. */
	next = ms_next_ino(ms);
	op_init(&op, MOP_CREATE);
	op.parent = META_ROOT_INO;
	op.mode = S_IFREG | 0644;
	op.new_ino = next + 1;
	snprintf(op.name, sizeof(op.name), "blocker");
	ck_assert_int_eq(apply(&op, NULL), 0);
	op_init(&op, MOP_PUT);
	snprintf(op.name, sizeof(op.name), "n1/n2");
	op.mode = 0644;
	op.new_ino = next;
	ck_assert_int_eq(apply(&op, NULL), -EINVAL);
	ck_assert_int_eq(lookup(META_ROOT_INO, "n1", NULL), -ENOENT);
	ck_assert_int_eq(ms_getattr(ms, next, &a), -ENOENT);
	ck_assert_uint_eq(getattr(META_ROOT_INO).nlink, 3);
	ck_assert_uint_eq(ms_next_ino(ms), next + 2);

	op_init(&op, MOP_PUT);
	snprintf(op.name, sizeof(op.name), "a/b/c.txt");
	op.flags = META_F_EXCL;
	op.new_ino = ms_next_ino(ms);
	ck_assert_int_eq(apply(&op, NULL), -EEXIST);
}
END_TEST

/* ---- readdir and listing ---- */

/* readdir returns names in bytewise order (not locale order), pages with
 * `after` and reports more. */
START_TEST(test_readdir)
{
	static const char *const names[] = { "b", "a.txt", "\xc3\xa9", "A", "a", "a-b", "~" };
	static const char *const sorted[] = { "A", "a", "a-b", "a.txt", "b", "~", "\xc3\xa9" };
	struct ms_dirent out[3];
	char after[META_NAME_MAX + 1] = "";
	uint64_t f = 0;
	int more, n, total = 0;

	for (size_t i = 0; i < 7; i++) {
		f = mk(META_ROOT_INO, names[i], i == 4 ? S_IFDIR | 0755 : S_IFREG | 0644);
	}
	do {
		n = ms_readdir(ms, META_ROOT_INO, after, out, 3, &more);
		ck_assert_int_ge(n, 0);
		for (int i = 0; i < n; i++) {
			ck_assert_str_eq(out[i].name, sorted[total + i]);
		}
		if (n > 0) {
			snprintf(after, sizeof(after), "%s", out[n - 1].name);
		}
		total += n;
		ck_assert_int_eq(more, total < 7);
	} while (more);
	ck_assert_int_eq(total, 7);
	n = ms_readdir(ms, META_ROOT_INO, "", out, 3, &more);
	ck_assert_uint_eq(out[1].attr.mode, S_IFDIR | 0755);
	ck_assert_int_eq(ms_readdir(ms, META_ROOT_INO, "~", out, 3, &more), 1);
	ck_assert_int_eq(more, 0);
	ck_assert_int_eq(ms_readdir(ms, META_ROOT_INO, "", out, 0, &more), 0);
	ck_assert_int_eq(more, 1);
	ck_assert_int_eq(ms_readdir(ms, f, "", out, 3, &more), -ENOTDIR);
	ck_assert_int_eq(ms_readdir(ms, 999, "", out, 3, &more), -ENOENT);
}
END_TEST

/* Lists into a joined "k1,k2," string for compact comparisons. */
static char *list_str(const char *prefix, const char *after, size_t max, int *more)
{
	struct listing l = { 0 };
	size_t cap = 1;
	char *s;
	int n = ms_list(ms, prefix, after, max, collect, &l, more);

	ck_assert_int_ge(n, 0);
	ck_assert_uint_eq((size_t)n, l.n);
	for (size_t i = 0; i < l.n; i++) {
		cap += strlen(l.keys[i]) + 1;
	}
	s = calloc(1, cap);
	for (size_t i = 0; i < l.n; i++) {
		strcat(s, l.keys[i]);
		strcat(s, ",");
	}
	listing_free(&l);
	return s;
}

#define LIST_EQ(prefix, after, max, expect, expect_more)                                    \
	do {                                                                                \
		int m_;                                                                     \
		char *s_ = list_str(prefix, after, max, &m_);                               \
		ck_assert_str_eq(s_, expect);                                               \
		ck_assert_int_eq(m_, expect_more);                                          \
		free(s_);                                                                   \
	} while (0)

/* ms_list yields regular files in bytewise full-path order ("a.txt"
 * before "a/b" although "a" < "a.txt"), honouring prefix, after and max,
 * and skipping symlinks, fifos and empty directories. */
START_TEST(test_list_order)
{
	static const char *const paths[] = { "a/c/d", "b/x", "a.txt", "ab", "a-", "a/b" };
	struct meta_op op;

	for (size_t i = 0; i < 6; i++) {
		ck_assert_int_eq(put(paths[i], NULL, 0, "v", 1, NULL), 0);
	}
	mk(META_ROOT_INO, "empty", S_IFDIR | 0755);
	mk(META_ROOT_INO, "a0", S_IFIFO | 0644);
	op_init(&op, MOP_CREATE);
	op.parent = META_ROOT_INO;
	op.mode = S_IFLNK | 0777;
	op.data = (const uint8_t *)"ab";
	op.data_len = 2;
	op.new_ino = ms_next_ino(ms);
	snprintf(op.name, sizeof(op.name), "s");
	ck_assert_int_eq(apply(&op, NULL), 0);

	LIST_EQ("", "", 100, "a-,a.txt,a/b,a/c/d,ab,b/x,", 0);
	LIST_EQ("", "", 3, "a-,a.txt,a/b,", 1);
	LIST_EQ("", "a/b", 2, "a/c/d,ab,", 1);
	LIST_EQ("", "a/c/d", 100, "ab,b/x,", 0);
	LIST_EQ("", "a/", 100, "a/b,a/c/d,ab,b/x,", 0);
	LIST_EQ("", "a/c", 100, "a/c/d,ab,b/x,", 0);
	LIST_EQ("", "a", 1, "a-,", 1);
	LIST_EQ("", "b/x", 100, "", 0);
	LIST_EQ("", "zzz", 100, "", 0);
	LIST_EQ("a", "", 100, "a-,a.txt,a/b,a/c/d,ab,", 0);
	LIST_EQ("a/", "", 100, "a/b,a/c/d,", 0);
	LIST_EQ("a/", "a/b", 100, "a/c/d,", 0);
	LIST_EQ("a/", "a.txt", 100, "a/b,a/c/d,", 0);
	LIST_EQ("a/", "b", 100, "", 0);
	LIST_EQ("a/c", "", 100, "a/c/d,", 0);
	LIST_EQ("a/b", "", 100, "a/b,", 0);
	LIST_EQ("a.", "", 100, "a.txt,", 0);
	LIST_EQ("b/x/", "", 100, "", 0);
	LIST_EQ("zz", "", 100, "", 0);
	LIST_EQ("/a", "", 100, "", 0);
	LIST_EQ("a", "", 0, "", 1);
	LIST_EQ("b", "", 0, "", 1);
	LIST_EQ("empty/", "", 10, "", 0);
}
END_TEST

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ms_list against a brute-force filter and sort of a random tree: every
 * prefix/after/max combination gives exactly the expected page, and
 * paging by the last key visits every key once. */
START_TEST(test_list_random)
{
	static const char alpha[] = "ab.-_0";
	unsigned seed = 12345;
	struct listing all = { 0 };
	char path[64];

	for (int i = 0; i < 150; i++) {
		size_t len = 0;
		int depth = 1 + rand_r(&seed) % 3;

		for (int d = 0; d < depth; d++) {
			int cl = 1 + rand_r(&seed) % 2;

			if (d > 0) {
				path[len++] = '/';
			}
			for (int c = 0; c < cl; c++) {
				path[len++] = alpha[rand_r(&seed) % 6];
			}
		}
		path[len] = '\0';
		if (put(path, NULL, 0, "", 0, NULL) == 0) {
			int dup = 0;

			for (size_t k = 0; k < all.n; k++) {
				dup |= strcmp(all.keys[k], path) == 0;
			}
			if (!dup) {
				collect(&all, path, 0, 0);
			}
		}
	}
	ck_assert_uint_gt(all.n, 50);
	qsort(all.keys, all.n, sizeof(*all.keys), cmp_str);

	for (int q = 0; q < 300; q++) {
		char prefix[64] = "", after[64] = "";
		struct listing got = { 0 };
		size_t max = (size_t)(rand_r(&seed) % 12), exp = 0, k;
		int more, n;

		if (rand_r(&seed) % 4) {
			const char *src = all.keys[rand_r(&seed) % all.n];

			snprintf(prefix, sizeof(prefix), "%.*s",
				 (int)(rand_r(&seed) % (strlen(src) + 1)), src);
		}
		if (rand_r(&seed) % 3) {
			const char *src = all.keys[rand_r(&seed) % all.n];

			snprintf(after, sizeof(after), "%.*s",
				 (int)(rand_r(&seed) % (strlen(src) + 1)), src);
		}
		n = ms_list(ms, prefix, after, max, collect, &got, &more);
		ck_assert_int_eq(n, (int)got.n);
		for (k = 0; k < all.n; k++) {
			const char *key = all.keys[k];

			if (strncmp(key, prefix, strlen(prefix)) != 0 || strcmp(key, after) <= 0) {
				continue;
			}
			if (exp == max) {
				break;
			}
			ck_assert_msg(exp < got.n && strcmp(got.keys[exp], key) == 0,
				      "prefix '%s' after '%s' max %zu: #%zu want %s got %s", prefix,
				      after, max, exp, key, exp < got.n ? got.keys[exp] : "-");
			exp++;
		}
		ck_assert_uint_eq(got.n, exp);
		ck_assert_int_eq(more, k < all.n);
		listing_free(&got);
	}

	{
		char after[64] = "";
		size_t seen = 0;
		int more;

		do {
			struct listing got = { 0 };

			ck_assert_int_ge(ms_list(ms, "", after, 7, collect, &got, &more), 0);
			for (size_t i = 0; i < got.n; i++) {
				ck_assert_str_eq(got.keys[i], all.keys[seen + i]);
			}
			seen += got.n;
			if (got.n) {
				snprintf(after, sizeof(after), "%s", got.keys[got.n - 1]);
			}
			listing_free(&got);
		} while (more);
		ck_assert_uint_eq(seen, all.n);
	}
	listing_free(&all);
}
END_TEST

/* ---- log, dedupe, determinism ---- */

/* Entries at or below the applied index are skipped; index 0 counts on
 * from the stored index. */
START_TEST(test_replay)
{
	struct meta_result r;
	struct meta_op op;

	op_init(&op, MOP_CREATE);
	op.parent = META_ROOT_INO;
	op.mode = S_IFREG | 0644;
	op.new_ino = ms_next_ino(ms);
	snprintf(op.name, sizeof(op.name), "f");
	ck_assert_int_eq(ms_apply(ms, &op, 10, &r), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(ms_applied_index(ms), 10);

	/* A replayed entry returns the stored result and changes nothing. */
	ck_assert_int_eq(ms_apply(ms, &op, 10, &r), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.attr.ino, op.new_ino);
	op_init(&op, MOP_CREATE);
	op.parent = META_ROOT_INO;
	op.mode = S_IFREG | 0644;
	op.new_ino = ms_next_ino(ms);
	snprintf(op.name, sizeof(op.name), "g");
	ck_assert_int_eq(ms_apply(ms, &op, 7, &r), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_eq(r.attr.ino, 0);
	ck_assert_int_eq(lookup(META_ROOT_INO, "g", NULL), -ENOENT);
	ck_assert_uint_eq(ms_applied_index(ms), 10);
	ck_assert_int_eq(ms_apply(ms, &op, 0, &r), 0);
	ck_assert_uint_eq(ms_applied_index(ms), 11);
	ck_assert_int_eq(lookup(META_ROOT_INO, "g", NULL), 0);
}
END_TEST

/* A retried op_id returns its first result (an EXCL create that
 * succeeded stays a success); results are kept for the last 10000 ops. */
START_TEST(test_dedupe)
{
	struct meta_result r;
	struct meta_op op, first;
	sqlite3 *db;
	sqlite3_stmt *st;

	op_init(&first, MOP_CREATE);
	first.parent = META_ROOT_INO;
	first.flags = META_F_EXCL;
	first.mode = S_IFREG | 0644;
	first.new_ino = ms_next_ino(ms);
	snprintf(first.name, sizeof(first.name), "f");
	ck_assert_int_eq(apply(&first, &r), 0);
	ck_assert_int_eq(apply(&first, &r), 0);
	ck_assert_uint_eq(r.attr.ino, first.new_ino);
	op = first;
	op.op_id = ++op_ids;
	ck_assert_int_eq(apply(&op, &r), -EEXIST);
	ck_assert_int_eq(apply(&op, &r), -EEXIST);
	/* op_id 0 is never deduplicated. */
	op.op_id = 0;
	op.flags = 0;
	ck_assert_int_eq(apply(&op, &r), 0);

	for (int i = 0; i < 10000; i++) {
		op_init(&op, MOP_SETATTR);
		op.ino = META_ROOT_INO;
		ck_assert_int_eq(apply(&op, NULL), 0);
	}
	ck_assert_int_eq(apply(&first, &r), -EEXIST);
	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT count(*) FROM op_results", -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 10000);
	sqlite3_finalize(st);
	sqlite3_close(db);
}
END_TEST

/* A textual dump of every table, rows in a canonical order. */
static char *dump(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *tabs, *st;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = "
						"'table' ORDER BY name", -1, &tabs, NULL),
			 SQLITE_OK);
	while (sqlite3_step(tabs) == SQLITE_ROW) {
		char sql[256];
		int ncol;

		snprintf(sql, sizeof(sql), "SELECT * FROM %s", sqlite3_column_text(tabs, 0));
		ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		ncol = sqlite3_column_count(st);
		sqlite3_finalize(st);
		for (int c = 1; c <= ncol; c++) {
			char *p = sql + strlen(sql);

			snprintf(p, sizeof(sql) - (size_t)(p - sql), "%s%d",
				 c == 1 ? " ORDER BY " : ",", c);
		}
		ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		fprintf(f, "[%s]\n", sqlite3_column_text(tabs, 0));
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int c = 0; c < ncol; c++) {
				const uint8_t *b = sqlite3_column_blob(st, c);
				int t = sqlite3_column_type(st, c);

				if (t == SQLITE_INTEGER) {
					fprintf(f, "%lld|", (long long)sqlite3_column_int64(st, c));
				} else if (t == SQLITE_NULL) {
					fprintf(f, "N|");
				} else {
					for (int i = 0; i < sqlite3_column_bytes(st, c); i++) {
						fprintf(f, "%02x", b[i]);
					}
					fprintf(f, "|");
				}
			}
			fprintf(f, "\n");
		}
		sqlite3_finalize(st);
	}
	sqlite3_finalize(tabs);
	sqlite3_close(db);
	fclose(f);
	return out;
}

/* Counts rows breaking invariants 1-4 of meta_store.c. */
static int violations(const char *path)
{
	static const char *const checks[] = {
		"SELECT count(*) FROM blocks b WHERE refs != (SELECT count(*) FROM extents e "
		"WHERE e.block_id = b.block_id) OR refs <= 0",
		"SELECT count(*) FROM extents e WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE "
		"b.block_id = e.block_id) OR EXISTS (SELECT 1 FROM gc g WHERE g.block_id = "
		"e.block_id)",
		"SELECT count(*) FROM inodes i WHERE blocks != (SELECT coalesce(sum((len + 511) / "
		"512), 0) FROM extents e WHERE e.ino = i.ino)",
		"SELECT count(*) FROM inodes i WHERE mode & 61440 = 16384 AND nlink != 2 + (SELECT "
		"count(*) FROM dirents d JOIN inodes c ON c.ino = d.ino WHERE d.parent = i.ino "
		"AND c.mode & 61440 = 16384)",
		"SELECT count(*) FROM dirents d JOIN inodes c ON c.ino = d.ino WHERE c.mode & 61440 "
		"= 16384 AND c.parent != d.parent",
		"SELECT count(*) FROM inodes i WHERE mode & 61440 != 16384 AND nlink != (SELECT "
		"count(*) FROM dirents d WHERE d.ino = i.ino)",
		"SELECT count(*) FROM dirents d LEFT JOIN inodes c ON c.ino = d.ino WHERE c.ino IS "
		"NULL OR d.skey != CAST(d.name || CASE WHEN c.mode & 61440 = 16384 THEN '/' ELSE "
		"'' END AS BLOB)",
		"SELECT count(*) FROM extents e JOIN inodes i ON i.ino = e.ino WHERE e.chunk * 4096 "
		"+ e.len > i.size",
		"SELECT count(*) FROM inodes WHERE length(inline_data) > size",
	};
	sqlite3 *db;
	int bad = 0;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		sqlite3_stmt *st;
		int n;

		ck_assert_int_eq(sqlite3_prepare_v2(db, checks[i], -1, &st, NULL), SQLITE_OK);
		ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
		n = sqlite3_column_int(st, 0);
		ck_assert_msg(n == 0, "invariant %zu broken by %d rows", i, n);
		bad += n;
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return bad;
}

/* A random existing directory of m: the root or up to 3 levels below. */
static uint64_t pick_dir(struct mstore *m, unsigned *seed)
{
	uint64_t dir = META_ROOT_INO;

	for (int depth = 0; depth < 3 && rand_r(seed) % 3; depth++) {
		struct ms_dirent ents[16];
		uint64_t dirs[16];
		int more, nd = 0;
		int n = ms_readdir(m, dir, "", ents, 16, &more);

		for (int i = 0; i < n; i++) {
			if (S_ISDIR(ents[i].attr.mode)) {
				dirs[nd++] = ents[i].attr.ino;
			}
		}
		if (nd == 0) {
			break;
		}
		dir = dirs[rand_r(seed) % nd];
	}
	return dir;
}

/* A name in dir: mostly an existing entry (its inode in *ino), else one
 * from a small pool. */
static void pick_name(struct mstore *m, unsigned *seed, uint64_t dir, char *name, uint64_t *ino)
{
	static const char *const pool[] = { "a", "b", "c", "a.txt", "dd" };
	struct ms_dirent ents[16];
	int more, n = ms_readdir(m, dir, "", ents, 16, &more);

	*ino = 0;
	if (n > 0 && rand_r(seed) % 3) {
		int i = rand_r(seed) % n;

		strcpy(name, ents[i].name);
		*ino = ents[i].attr.ino;
		return;
	}
	strcpy(name, pool[rand_r(seed) % 5]);
}

/* A random record against the current namespace of m (the same on every
 * replica, so each replica may be asked). */
static void random_op(struct mstore *m, struct meta_op *op, unsigned *seed, struct meta_extent *e)
{
	static const char *const paths[] = { "a", "a/b", "b/c/a.txt", "c", "dd/a", "a/b/c" };
	static const uint8_t types[] = { MOP_CREATE, MOP_CREATE, MOP_CREATE, MOP_LINK,
					 MOP_UNLINK, MOP_RMDIR, MOP_RENAME, MOP_RENAME,
					 MOP_SETATTR, MOP_SETXATTR, MOP_REMOVEXATTR, MOP_WRITE,
					 MOP_WRITE, MOP_PUT, MOP_PUT, MOP_FORGET, MOP_GC_DONE };
	static const uint32_t modes[] = { S_IFREG | 0644, S_IFDIR | 0755, S_IFLNK | 0777,
					  S_IFIFO | 0600, S_IFDIR | 0700 };
	uint64_t next = ms_next_ino(m), ino, other;
	char name[META_NAME_MAX + 1];

	op_init(op, types[rand_r(seed) % (int)sizeof(types)]);
	op->parent = pick_dir(m, seed);
	pick_name(m, seed, op->parent, name, &ino);
	snprintf(op->name, sizeof(op->name), "%s", name);
	op->newparent = pick_dir(m, seed);
	pick_name(m, seed, op->newparent, op->newname, &other);
	op->ino = ino && rand_r(seed) % 5 ? ino : 1 + (uint64_t)(rand_r(seed) % (int)next);
	op->mode = modes[rand_r(seed) % 5];
	op->uid = (uint32_t)(rand_r(seed) % 3);
	op->new_ino = next;
	op->data = (const uint8_t *)"some-target";
	op->data_len = (size_t)(1 + rand_r(seed) % 11);
	switch (op->type) {
	case MOP_CREATE:
		if (rand_r(seed) % 4) {
			snprintf(op->name, sizeof(op->name), "n%d", rand_r(seed) % 8);
		}
		break;
	case MOP_UNLINK:
		op->flags = rand_r(seed) % 2 ? META_F_KEEP_ORPHAN : 0;
		break;
	case MOP_RENAME:
		op->flags = (uint32_t[]){ 0, 0, META_F_NOREPLACE, META_F_EXCHANGE,
					  META_F_KEEP_ORPHAN }[rand_r(seed) % 5];
		break;
	case MOP_SETATTR:
		op->valid = (uint32_t)rand_r(seed) & 0x1ff;
		op->size = (uint64_t)(rand_r(seed) % (3 * CHUNK));
		break;
	case MOP_SETXATTR:
		op->flags = (uint32_t)(rand_r(seed) % 3) * META_F_XATTR_CREATE;
		break;
	case MOP_FORGET:
		op->ino = 1 + (uint64_t)(rand_r(seed) % (int)next);
		break;
	case MOP_PUT:
		snprintf(op->name, sizeof(op->name), "%s", paths[rand_r(seed) % 6]);
		op->mode = rand_r(seed) % 8 ? 0644 : S_IFDIR | 0755;
		/* fall through */
	case MOP_WRITE:
		op->flags = rand_r(seed) % 3 == 0 ? META_F_INLINE : 0;
		op->flags |= rand_r(seed) % 2 ? META_F_TRUNCATE : 0;
		op->size = (uint64_t)(rand_r(seed) % (4 * CHUNK));
		/* fall through */
	case MOP_GC_DONE:
		op->n_ext = (op->flags & META_F_INLINE) ? 0 : (size_t)(rand_r(seed) % 3);
		for (size_t i = 0; i < op->n_ext; i++) {
			uint64_t end;

			e[i] = ext((uint64_t)(rand_r(seed) % 4), (uint8_t)(rand_r(seed) % 12),
				   (uint32_t)(rand_r(seed) % CHUNK));
			end = e[i].chunk * CHUNK + e[i].len;
			/* Mostly valid records, some extents past the size. */
			if (op->size < end && rand_r(seed) % 8) {
				op->size = end;
			}
		}
		op->ext = e;
		if (op->flags & META_F_INLINE) {
			op->data_len = op->size < 11 ? (size_t)op->size : 11;
		}
		break;
	default:
		break;
	}
}

static int res_eq(const struct meta_result *a, const struct meta_result *b)
{
	return a->status == b->status && a->freed_ino == b->freed_ino &&
	       memcmp(&a->attr, &b->attr, sizeof(a->attr)) == 0;
}

/* Two replicas given the same 300 random records (seeded) return equal
 * results and end with identical tables; invariants hold throughout. */
START_TEST(test_determinism)
{
	char path2[4300];
	struct mstore *ms2;
	unsigned seed = 42;
	int ok = 0, fail = 0;
	char *d1, *d2;

	snprintf(path2, sizeof(path2), "%s/replica.db", tmpdir);
	ck_assert_int_eq(ms_open(path2, 1, &ms2), 0);
	ck_assert_int_eq(apply_to(ms2, &bucket_op, NULL), 0);
	for (int i = 0; i < 300; i++) {
		struct meta_extent e[4];
		struct meta_result r1, r2;
		struct meta_op op;

		ck_assert_uint_eq(ms_next_ino(ms2), ms_next_ino(ms));
		random_op(ms, &op, &seed, e);
		apply_to(ms, &op, &r1);
		apply_to(ms2, &op, &r2);
		ck_assert_msg(res_eq(&r1, &r2), "op %d type %d differs", i, op.type);
		if (r1.status == 0) {
			ok++;
		} else {
			fail++;
		}
		if (i % 50 == 0) {
			ck_assert_int_eq(violations(dbpath), 0);
		}
	}
	ck_assert_int_gt(ok, 150);
	ck_assert_int_gt(fail, 30);
	ck_assert_int_eq(violations(dbpath), 0);
	d1 = dump(dbpath);
	d2 = dump(path2);
	ck_assert_str_eq(d1, d2);
	ck_assert_ptr_nonnull(strstr(d1, "[gc]\n"));
	free(d1);
	free(d2);
	ms_close(ms2);
}
END_TEST

/* ---- persistence ---- */

static char *journal_mode(const char *path)
{
	sqlite3_stmt *st;
	sqlite3 *db;
	char *mode;

	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	mode = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return mode;
}

/* A backup is a consistent copy (a plain rollback-journal file); restoring
 * it brings the shard back to that state (later changes gone) and keeps
 * the shard in WAL mode; the copy opens as a shard. */
START_TEST(test_backup_restore)
{
	char bpath[4300];
	struct mstore *copy;
	struct meta_op op;
	struct meta_attr a;
	char *before, *after, *mode;

	snprintf(bpath, sizeof(bpath), "%s/snap.db", tmpdir);
	ck_assert_int_eq(put("keep/me", NULL, 0, "data", 4, NULL), 0);
	op_init(&op, MOP_SETATTR);
	op.ino = META_ROOT_INO;
	ck_assert_int_eq(ms_apply(ms, &op, 50, &(struct meta_result){ 0 }), 0);
	ck_assert_int_eq(ms_backup(ms, bpath), 0);
	mode = journal_mode(bpath);
	ck_assert_str_eq(mode, "delete");
	free(mode);
	before = dump(dbpath);
	ck_assert_int_eq(put("later", NULL, 0, "x", 1, NULL), 0);
	ck_assert_uint_eq(ms_applied_index(ms), 51);

	ck_assert_int_eq(ms_restore(ms, bpath), 0);
	ck_assert_uint_eq(ms_applied_index(ms), 50);
	ck_assert_int_eq(ms_resolve(ms, "later", &a), -ENOENT);
	ck_assert_int_eq(ms_resolve(ms, "keep/me", &a), 0);
	after = dump(dbpath);
	ck_assert_str_eq(before, after);
	mode = journal_mode(dbpath);
	ck_assert_str_eq(mode, "wal");
	free(mode);
	free(before);
	free(after);
	/* The store still works after a restore. */
	ck_assert_int_eq(put("again", NULL, 0, "x", 1, NULL), 0);

	ck_assert_int_eq(ms_open(bpath, 1, &copy), 0);
	ck_assert_uint_eq(ms_applied_index(copy), 50);
	ck_assert_int_eq(ms_resolve(copy, "keep/me", &a), 0);
	ms_close(copy);
	ck_assert_int_eq(ms_restore(ms, "/nonexistent/snap.db"), -ENOENT);
	ck_assert_int_eq(ms_backup(ms, "/nonexistent/dir/snap.db"), -ENOENT);
}
END_TEST

/* Closing and reopening keeps every table, the applied index and the
 * inode counter; unusable paths are reported. */
START_TEST(test_reopen)
{
	char junk[4300];
	struct mstore *bad;
	struct meta_attr a;
	uint64_t next;
	FILE *f;

	ck_assert_int_eq(put("x/y", NULL, 0, "hi", 2, NULL), 0);
	next = ms_next_ino(ms);
	ms_close(ms);
	ck_assert_int_eq(ms_open(dbpath, 1, &ms), 0);
	ck_assert_int_eq(ms_resolve(ms, "x/y", &a), 0);
	ck_assert_uint_eq(a.size, 2);
	ck_assert_uint_eq(ms_next_ino(ms), next);
	ck_assert_uint_eq(ms_applied_index(ms), 2);

	ck_assert_int_eq(ms_open("/nonexistent/dir/x.db", 0, &bad), -ENOENT);
	ck_assert_ptr_null(bad);
	snprintf(junk, sizeof(junk), "%s/junk.db", tmpdir);
	f = fopen(junk, "w");
	for (int i = 0; i < 100; i++) {
		fputs("this is not a database file at all\n", f);
	}
	fclose(f);
	ck_assert_int_eq(ms_open(junk, 0, &bad), -EIO);
}
END_TEST

/* Runs sql on the shard through a second connection. */
static void sql2(const char *sql)
{
	sqlite3 *db;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

/* An SQLite failure in the middle of an op (injected by a trigger) gives
 * -EIO, is logged as ms.sqlite, and rolls back the whole record: no half
 * applied op, no result, no applied index. */
START_TEST(test_db_failure)
{
	struct meta_extent e = ext(0, 0xF1, 10);
	struct meta_result r;
	struct meta_op op;
	struct meta_attr a;
	uint64_t next, applied;
	char *before, *after;

	ck_assert_int_eq(put("f", &e, 1, NULL, 10, NULL), 0);
	sql2("CREATE TRIGGER boom BEFORE INSERT ON dirents WHEN NEW.name = CAST('boom' AS BLOB) "
	     "BEGIN SELECT RAISE(ABORT, 'injected'); END;"
	     "CREATE TRIGGER gcboom BEFORE INSERT ON gc BEGIN SELECT RAISE(ABORT, 'injected'); "
	     "END;");
	before = dump(dbpath);
	applied = ms_applied_index(ms);
	next = ms_next_ino(ms);
	op_init(&op, MOP_CREATE);
	op.parent = META_ROOT_INO;
	op.mode = S_IFDIR | 0755;
	op.new_ino = next;
	snprintf(op.name, sizeof(op.name), "boom");
	sqlite_logged = 0;
	r.status = 1;
	ck_assert_int_eq(ms_apply(ms, &op, 0, &r), -EIO);
	ck_assert_int_eq(r.status, 0);
	ck_assert_int_gt(sqlite_logged, 0);
	/* Deep inside: the last extent's block cannot enter the GC queue. */
	op_init(&op, MOP_UNLINK);
	op.parent = META_ROOT_INO;
	snprintf(op.name, sizeof(op.name), "f");
	ck_assert_int_eq(ms_apply(ms, &op, 0, &r), -EIO);
	after = dump(dbpath);
	ck_assert_str_eq(before, after);
	ck_assert_uint_eq(ms_applied_index(ms), applied);
	ck_assert_uint_eq(ms_next_ino(ms), next);
	ck_assert_int_eq(lookup(META_ROOT_INO, "f", &a), 0);
	ck_assert_uint_eq(getattr(META_ROOT_INO).nlink, 2);
	free(before);
	free(after);

	/* The store carries on once the cause is gone; the retried op_id
	 * is applied, not answered from a result that was never kept. */
	sql2("DROP TRIGGER boom; DROP TRIGGER gcboom;");
	ck_assert_int_eq(apply(&op, &r), 0);
	ck_assert_int_eq(gc_has(0xF1), 1);
	ck_assert_int_eq(mknode(META_ROOT_INO, "boom", S_IFDIR | 0755, &a), 0);
	ck_assert_uint_eq(a.ino, next);
}
END_TEST

/* statfs counts inodes and the bytes of regular files. */
START_TEST(test_statfs)
{
	struct meta_extent e = ext(0, 0x90, 100);
	struct meta_attr a;
	struct ms_stat st;

	ck_assert_int_eq(put("a", NULL, 0, "12345", 5, NULL), 0);
	ck_assert_int_eq(put("d/b", &e, 1, NULL, 3 * CHUNK, NULL), 0);
	mk(META_ROOT_INO, "dir", S_IFDIR | 0755);
	ck_assert_int_eq(ms_statfs(ms, &st), 0);
	ck_assert_uint_eq(st.files, 5);
	ck_assert_uint_eq(st.bytes, 5 + 3 * CHUNK);
	ck_assert_int_eq(ms_resolve(ms, "d/b", &a), 0);
	ck_assert_int_eq(truncate_(a.ino, (uint64_t)1 << 40, NULL), 0);
	ck_assert_int_eq(ms_statfs(ms, &st), 0);
	ck_assert_uint_eq(st.bytes, 5 + ((uint64_t)1 << 40));
}
END_TEST

static Suite *meta_store_suite(void)
{
	Suite *s = suite_create("meta_store");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* Generous for valgrind; natively the slowest test takes ~1 s. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_bucket_root);
	tcase_add_test(tc, test_bucket_delete);
	tcase_add_test(tc, test_create_kinds);
	tcase_add_test(tc, test_create_errors);
	tcase_add_test(tc, test_link);
	tcase_add_test(tc, test_unlink_orphan);
	tcase_add_test(tc, test_rmdir);
	tcase_add_test(tc, test_rename);
	tcase_add_test(tc, test_rename_exchange);
	tcase_add_test(tc, test_setattr);
	tcase_add_test(tc, test_setattr_inline);
	tcase_add_test(tc, test_xattr);
	tcase_add_test(tc, test_write_gc);
	tcase_add_test(tc, test_inline_then_extents);
	tcase_add_test(tc, test_extents_paging);
	tcase_add_test(tc, test_put);
	tcase_add_test(tc, test_readdir);
	tcase_add_test(tc, test_list_order);
	tcase_add_test(tc, test_list_random);
	tcase_add_test(tc, test_replay);
	tcase_add_test(tc, test_dedupe);
	tcase_add_test(tc, test_determinism);
	tcase_add_test(tc, test_backup_restore);
	tcase_add_test(tc, test_reopen);
	tcase_add_test(tc, test_statfs);
	tcase_add_test(tc, test_db_failure);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(meta_store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
