/* test_meta_store.c: a metadata shard on a real SQLite file: every
 * namespace op type's POSIX semantics and errnos (bucket, create, link,
 * unlink, rmdir, rename, setattr, xattr). Content ops: test_meta_content.c. */
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
#include "meta_store_fixture.h"

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
	struct listing l = {0};

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
		static const char *const b[] = {"zeta", "alpha", "mid"};

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
 * queues every block for GC, statfs then reports no bucket; inode numbers
 * are not reused afterwards. */
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
	/* No root, no bucket: statfs says so (clients read the geometry
	 * first and report "no such file"). */
	ck_assert_int_eq(ms_statfs(ms, &st), -ENOENT);
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
	ck_assert_int_eq(mv(b, "g", a, "new", META_F_NOREPLACE | META_F_EXCHANGE, NULL), -EINVAL);

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
	struct meta_extent e[3] = {ext(0, 0x31, CHUNK), ext(1, 0x32, CHUNK), ext(2, 0x33, 1000)};
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
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(meta_store_suite());
}
