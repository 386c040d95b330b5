/* test_meta_content.c: a metadata shard on a real SQLite file: block
 * reference counting into the GC queue, inline data, object PUT, readdir and
 * S3 listing order, replay and op_id dedupe, determinism of two replicas,
 * backup/restore and reopen, statfs and SQLite failures. */
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

/* ---- write and GC ---- */

/* ms_blocks pages through every block the shard knows in id order: a
 * block two files share appears once with refs 2, a block queued for GC
 * stays listed with refs 0 until GC_DONE, and pages resume after the
 * last id returned. */
START_TEST(test_blocks_page)
{
	uint64_t f = mk(META_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t g = mk(META_ROOT_INO, "g", S_IFREG | 0644);
	struct meta_extent fe[2] = {ext(0, 0xB1, CHUNK), ext(1, 0x31, 10)};
	struct meta_extent ge = ext(0, 0xB1, CHUNK), ce = ext(0, 0xC1, 10);
	struct meta_block_row rows[4];
	struct meta_attr a;
	struct meta_op op;
	int more = -1;

	ck_assert_int_eq(write_ext(f, fe, 2, CHUNK + 10, 0, NULL), 0);
	ck_assert_int_eq(write_ext(g, &ge, 1, CHUNK, 0, NULL), 0);
	ck_assert_int_eq(put("o/c", &ce, 1, NULL, 10, NULL), 0);
	ck_assert_int_eq(ms_blocks(ms, NULL, 1, rows, 2, &more), 2);
	ck_assert_int_eq(more, 1);
	ck_assert_uint_eq(rows[0].blk.id[0], 0x31);
	ck_assert_uint_eq(rows[0].refs, 1);
	ck_assert_uint_eq(rows[1].blk.id[0], 0xB1);
	ck_assert_uint_eq(rows[1].refs, 2);
	ck_assert_uint_eq(rows[1].blk.k, 4);
	ck_assert_uint_eq(rows[1].blk.m, 2);
	ck_assert_uint_eq(rows[1].blk.len, CHUNK);
	ck_assert_uint_eq(rows[1].blk.csum, 0xB1);
	ck_assert_int_eq(ms_blocks(ms, rows[1].blk.id, 0, rows, 2, &more), 1);
	ck_assert_int_eq(more, 0);
	ck_assert_uint_eq(rows[0].blk.id[0], 0xC1);

	/* o/c removed: C1 waits in the GC queue, still known (refs 0). */
	ck_assert_int_eq(ms_resolve(ms, "o", &a), 0);
	ck_assert_int_eq(rm(MOP_UNLINK, a.ino, "c", 0, NULL), 0);
	ck_assert_int_eq(ms_blocks(ms, NULL, 1, rows, 4, &more), 3);
	ck_assert_int_eq(more, 0);
	ck_assert_uint_eq(rows[2].blk.id[0], 0xC1);
	ck_assert_uint_eq(rows[2].refs, 0);
	op_init(&op, MOP_GC_DONE);
	op.ext = &ce;
	op.n_ext = 1;
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert_int_eq(ms_blocks(ms, NULL, 1, rows, 4, &more), 2);
	ck_assert_int_eq(ms_blocks(ms, NULL, 1, rows, 0, &more), -EINVAL);
}
END_TEST

/* WRITE replaces chunks: an old block goes to GC once no extent of any
 * file names it; a rewrite with the same block keeps it; a block already
 * queued for GC cannot be referenced again; GC_DONE empties the queue. */
START_TEST(test_write_gc)
{
	uint64_t f = mk(META_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t g = mk(META_ROOT_INO, "g", S_IFREG | 0644);
	uint64_t d = mk(META_ROOT_INO, "d", S_IFDIR | 0755);
	struct meta_extent fa[2] = {ext(0, 0xA1, CHUNK), ext(1, 0xB1, 10)};
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

/* MOP_CLASS_MOVE swaps a chunk's block only while the chunk still names
 * the block the mover read: the moved chunk takes the new block (class
 * and k+m kept in the shard), the old one goes to the GC queue; a chunk
 * rewritten meanwhile keeps the writer's block; only gen changes; a
 * malformed record is refused whole, and a snapshot's file cannot move. */
START_TEST(test_class_move)
{
	uint64_t f = mk(META_ROOT_INO, "f", S_IFREG | 0644);
	uint64_t d = mk(META_ROOT_INO, "d", S_IFDIR | 0755);
	struct meta_extent fe[2] = {ext(0, 0xA1, CHUNK), ext(1, 0xB1, 10)};
	struct meta_extent nw[2] = {ext(0, 0xA2, CHUNK), ext(1, 0xB2, 10)};
	struct meta_extent w = ext(1, 0xB3, 10), got[4];
	uint8_t old[2 * BLOCK_ID_LEN];
	struct meta_result r, r0;
	struct meta_attr a;
	struct meta_op op;
	int more;

	ck_assert_int_eq(write_ext(f, fe, 2, CHUNK + 10, 0, &r0), 0);
	/* A writer rewrites chunk 1 after the mover read it. */
	ck_assert_int_eq(write_ext(f, &w, 1, 0, 0, &r0), 0);
	for (int i = 0; i < 2; i++) {
		nw[i].blk.k = 2;
		nw[i].blk.m = 1;
		nw[i].blk.cls = 7;
		memcpy(old + i * BLOCK_ID_LEN, fe[i].blk.id, BLOCK_ID_LEN);
	}
	clock_ns += 1000;
	op_init(&op, MOP_CLASS_MOVE);
	op.ino = f;
	op.ext = nw;
	op.n_ext = 2;
	op.data = old;
	op.data_len = sizeof(old);
	ck_assert_int_eq(apply(&op, &r), 0);
	ck_assert_uint_eq(r.attr.gen, r0.attr.gen + 1);
	ck_assert_int_eq(r.attr.mtime_ns, r0.attr.mtime_ns);
	ck_assert_int_eq(r.attr.ctime_ns, r0.attr.ctime_ns);
	ck_assert_uint_eq(r.attr.size, CHUNK + 10);
	ck_assert_uint_eq(r.attr.blocks, r0.attr.blocks);
	ck_assert_int_eq(ms_extents(ms, f, 0, got, 4, &more, &a, NULL, NULL), 2);
	ck_assert_uint_eq(got[0].blk.id[0], 0xA2);
	ck_assert_uint_eq(got[0].blk.k, 2);
	ck_assert_uint_eq(got[0].blk.m, 1);
	ck_assert_uint_eq(got[0].blk.cls, 7);
	ck_assert_uint_eq(got[0].len, CHUNK);
	ck_assert_uint_eq(got[1].blk.id[0], 0xB3); /* the writer's, not the mover's */
	ck_assert_int_eq(gc_has(0xA1), 1);
	ck_assert_int_eq(gc_has(0xB2), 0); /* never referenced: the mover deletes it */

	/* Nothing left to swap: 0 and no gen change. */
	op.op_id = ++op_ids; /* a new record: a retried one answers its first result */
	ck_assert_int_eq(apply(&op, &r0), 0);
	ck_assert_uint_eq(r0.attr.gen, r.attr.gen);
	/* Malformed: ids not matching the extents, a bad block, not a file. */
	op.data_len = BLOCK_ID_LEN;
	op.op_id = ++op_ids;
	ck_assert_int_eq(apply(&op, NULL), -EINVAL);
	op.data_len = sizeof(old);
	nw[1].blk.k = 0;
	op.op_id = ++op_ids;
	ck_assert_int_eq(apply(&op, NULL), -EINVAL);
	nw[1].blk.k = 2;
	op.ino = d;
	op.op_id = ++op_ids;
	ck_assert_int_eq(apply(&op, NULL), -EISDIR);
	op.ino = META_SNAP_INO_BASE + 5;
	op.op_id = ++op_ids;
	ck_assert_int_eq(apply(&op, NULL), -EROFS);
	op.ino = 999;
	op.op_id = ++op_ids;
	ck_assert_int_eq(apply(&op, NULL), -ENOENT);
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
	struct meta_extent e[2] = {ext(0, 0x71, CHUNK), ext(1, 0x72, 50)};
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
	static const char *const names[] = {"b", "a.txt", "\xc3\xa9", "A", "a", "a-b", "~"};
	static const char *const sorted[] = {"A", "a", "a-b", "a.txt", "b", "~", "\xc3\xa9"};
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
static char *list_str(const char *prefix, const char *after, size_t max, int *more, int delim)
{
	struct listing l = {0};
	size_t cap = 1;
	char *s;
	int n = (delim ? ms_list_delim : ms_list)(ms, prefix, after, max, collect, &l, more);

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

#define LIST_EQ(prefix, after, max, expect, expect_more)                                           \
	LIST_EQ_D(prefix, after, max, expect, expect_more, 0)
#define LIST_EQ_D(prefix, after, max, expect, expect_more, delim)                                  \
	do {                                                                                       \
		int m_;                                                                            \
		char *s_ = list_str(prefix, after, max, &m_, delim);                               \
		ck_assert_str_eq(s_, expect);                                                      \
		ck_assert_int_eq(m_, expect_more);                                                 \
		free(s_);                                                                          \
	} while (0)

/* ms_list yields regular files in bytewise full-path order ("a.txt"
 * before "a/b" although "a" < "a.txt"), honouring prefix, after and max,
 * and skipping symlinks, fifos and empty directories. */
START_TEST(test_list_order)
{
	static const char *const paths[] = {"a/c/d", "b/x", "a.txt", "ab", "a-", "a/b"};
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
	/* With '/' as delimiter the shard folds each directory below the
	 * prefix's own into one "dir/" entry and resumes after it. */
	LIST_EQ_D("", "", 100, "a-,a.txt,a/,ab,b/,empty/,", 0, 1);
	LIST_EQ_D("", "", 3, "a-,a.txt,a/,", 1, 1);
	LIST_EQ_D("", "a/", 100, "ab,b/,empty/,", 0, 1);
	LIST_EQ_D("", "a/b", 100, "ab,b/,empty/,", 0, 1);
	LIST_EQ_D("a", "", 100, "a-,a.txt,a/,ab,", 0, 1);
	LIST_EQ_D("a/", "", 100, "a/b,a/c/,", 0, 1);
	LIST_EQ_D("a/", "a/b", 100, "a/c/,", 0, 1);
	LIST_EQ_D("a/", "a/c/", 100, "", 0, 1);
	LIST_EQ_D("a/c/", "", 100, "a/c/d,", 0, 1);
	LIST_EQ_D("b", "", 100, "b/,", 0, 1);
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
	struct listing all = {0};
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
		struct listing got = {0};
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
			struct listing got = {0};

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
	ck_assert_int_eq(sqlite3_prepare_v2(db,
					    "SELECT name FROM sqlite_master WHERE type = "
					    "'table' ORDER BY name",
					    -1, &tabs, NULL),
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
	static const char *const pool[] = {"a", "b", "c", "a.txt", "dd"};
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
	static const char *const paths[] = {"a", "a/b", "b/c/a.txt", "c", "dd/a", "a/b/c"};
	static const uint8_t types[] = {
	    MOP_CREATE, MOP_CREATE, MOP_CREATE,	 MOP_LINK,     MOP_UNLINK,	MOP_RMDIR,
	    MOP_RENAME, MOP_RENAME, MOP_SETATTR, MOP_SETXATTR, MOP_REMOVEXATTR, MOP_WRITE,
	    MOP_WRITE,	MOP_PUT,    MOP_PUT,	 MOP_FORGET,   MOP_GC_DONE};
	static const uint32_t modes[] = {S_IFREG | 0644, S_IFDIR | 0755, S_IFLNK | 0777,
					 S_IFIFO | 0600, S_IFDIR | 0700};
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
		op->flags = (uint32_t[]){0, 0, META_F_NOREPLACE, META_F_EXCHANGE,
					 META_F_KEEP_ORPHAN}[rand_r(seed) % 5];
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
	ck_assert_int_eq(ms_open(path2, MS_SYNC_FULL, &ms2), 0);
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
	ck_assert_int_eq(ms_apply(ms, &op, 50, &(struct meta_result){0}), 0);
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

	ck_assert_int_eq(ms_open(bpath, MS_SYNC_FULL, &copy), 0);
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
	ck_assert_int_eq(ms_open(dbpath, MS_SYNC_FULL, &ms), 0);
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

/* What full scans of the inodes and blocks say statfs and block stats
 * should answer, in v[0..5]: files, bytes, blocks, compressed ones, their
 * bytes, stored bytes (a second connection: the fixture's store is not
 * exclusive and commits each op). */
static void scan_totals(uint64_t v[6])
{
	static const char sql[] =
	    "SELECT (SELECT count(*) FROM inodes), (SELECT coalesce(sum(CASE WHEN mode & 61440 = "
	    "32768 THEN size END), 0) FROM inodes), (SELECT count(*) FROM blocks), (SELECT "
	    "coalesce(sum(codec != 0), 0) FROM blocks), (SELECT coalesce(sum(len), 0) FROM "
	    "blocks), (SELECT coalesce(sum(CASE WHEN codec != 0 THEN zlen ELSE len END), 0) FROM "
	    "blocks)";
	sqlite3 *db;
	sqlite3_stmt *st;

	ck_assert_int_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	for (int i = 0; i < 6; i++) {
		v[i] = (uint64_t)sqlite3_column_int64(st, i);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
}

/* What format 3 added, dropped to make an older database. */
#define DROP_TOTALS                                                                                \
	"DROP TRIGGER totals_ins; DROP TRIGGER totals_upd; DROP TRIGGER totals_del; "              \
	"DROP TRIGGER totals_blk_ins; DROP TRIGGER totals_blk_upd; DROP TRIGGER totals_blk_del; "  \
	"DROP TABLE totals; "

static void assert_totals(void)
{
	struct ms_block_stats bs;
	struct ms_stat st;
	uint64_t v[6];

	scan_totals(v);
	ck_assert_int_eq(ms_statfs(ms, &st), 0);
	ck_assert_uint_eq(st.files, v[0]);
	ck_assert_uint_eq(st.bytes, v[1]);
	ck_assert_int_eq(ms_block_stats(ms, &bs), 0);
	ck_assert_uint_eq(bs.blocks, v[2]);
	ck_assert_uint_eq(bs.compressed, v[3]);
	ck_assert_uint_eq(bs.bytes, v[4]);
	ck_assert_uint_eq(bs.stored, v[5]);
}

/* statfs and block stats read totals that triggers keep (no scan): after every kind of
 * change -- puts and creates, size changes both ways, links, renames
 * over a file, unlinks with and without an open handle, rmdir, a
 * namespace snapshot (set-based copies) and its removal -- they equal a
 * full count of the inodes, and after a forced bucket delete and a new
 * bucket too; a format 2 database (no totals) counts once
 * at open and keeps them from then on. */
START_TEST(test_statfs_totals)
{
	struct meta_extent e = ext(0, 0x91, 100), e2 = ext(1, 0x92, 50), z = ext(0, 0x93, CHUNK);
	struct meta_result r;
	struct meta_op op;
	struct meta_attr a;
	uint64_t f, g, d;

	ck_assert_int_eq(put("a", NULL, 0, "12345", 5, NULL), 0);
	ck_assert_int_eq(put("d/b", &e, 1, NULL, 3 * CHUNK, NULL), 0);
	ck_assert_int_eq(put("d/b", NULL, 0, "xy", 2, NULL), 0); /* replaced by inline content */
	assert_totals();
	d = mk(META_ROOT_INO, "dir", S_IFDIR | 0755);
	f = mk(d, "f", S_IFREG | 0644);
	g = mk(d, "g", S_IFREG | 0644);
	ck_assert_int_eq(write_ext(f, &e2, 1, CHUNK + 50, 0, NULL), 0);
	z.blk.codec = BLK_CODEC_ZSTD;
	z.blk.zlen = 300;
	ck_assert_int_eq(write_ext(g, &z, 1, CHUNK, 0, NULL), 0); /* a compressed block */
	assert_totals();
	ck_assert_int_eq(truncate_(g, (uint64_t)1 << 40, NULL), 0);
	assert_totals();
	ck_assert_int_eq(truncate_(g, 7, NULL), 0);
	ck_assert_int_eq(link_(f, META_ROOT_INO, "f2", NULL), 0);
	ck_assert_int_eq(mv(d, "g", d, "f", 0, NULL), 0); /* over f: one link of it left */
	assert_totals();
	ck_assert_int_eq(rm(MOP_UNLINK, META_ROOT_INO, "f2", META_F_KEEP_ORPHAN, NULL), 0);
	assert_totals(); /* an orphan still counts, as its inode row stays */
	mk(d, "sub", S_IFDIR | 0755);
	ck_assert_int_eq(rm(MOP_RMDIR, d, "sub", 0, NULL), 0);
	assert_totals();

	op_init(&op, MOP_SNAPSHOT);
	op.ino = META_ROOT_INO;
	snprintf(op.name, sizeof(op.name), "s1");
	ck_assert_int_eq(apply(&op, &r), 0);
	assert_totals();
	op_init(&op, MOP_SNAPSHOT_RM);
	snprintf(op.name, sizeof(op.name), "s1");
	ck_assert_int_eq(apply(&op, &r), 0);
	assert_totals();

	/* Back to format 2: the totals are counted at open. */
	ms_close(ms);
	sql2(DROP_TOTALS "PRAGMA user_version = 2;");
	ck_assert_int_eq(ms_open(dbpath, MS_SYNC_FULL, &ms), 0);
	assert_totals();
	ck_assert_int_eq(put("d/c", NULL, 0, "abc", 3, NULL), 0);
	ck_assert_int_eq(ms_resolve(ms, "d/c", &a), 0);
	assert_totals();

	/* A forced bucket delete truncates the tables without their delete
	 * triggers, zeroes the totals and makes the triggers again. */
	op_init(&op, MOP_BUCKET_DELETE);
	op.flags = META_F_FORCE;
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert_int_eq(gc_has(0x93), 1);
	ck_assert_int_eq(bucket_create(ms, 0755, &r), 0);
	assert_totals();
	e = ext(0, 0x94, 100); /* the old blocks wait in the GC queue */
	ck_assert_int_eq(put("again/x", &e, 1, NULL, 100, NULL), 0);
	mk(META_ROOT_INO, "gone", S_IFREG | 0644);
	ck_assert_int_eq(rm(MOP_UNLINK, META_ROOT_INO, "gone", 0, NULL), 0);
	assert_totals();
}
END_TEST

/* The codec, compressed length and class of a block are stored and read
 * back; MOP_BUCKET_COMPRESS sets the bucket's codec (statfs shows it;
 * an unknown one is EINVAL); block stats add up written and stored
 * bytes; a format 1 database (no such columns) opens, gains them, reads
 * its old blocks as raw of class 0 and stores new ones with theirs. */
START_TEST(test_codec_fields)
{
	struct meta_extent e[2] = {ext(0, 0xC1, CHUNK), ext(1, 0xC2, 100)}, got[4];
	uint64_t f = mk(META_ROOT_INO, "z", S_IFREG | 0644);
	struct ms_block_stats bs;
	struct meta_attr a;
	struct meta_op op;
	struct ms_stat st;
	uint8_t *inl = NULL;
	size_t inl_len = 0;
	int more;

	e[0].blk.codec = BLK_CODEC_ZSTD;
	e[0].blk.zlen = 1000;
	e[0].blk.cls = 2;
	ck_assert_int_eq(write_ext(f, e, 2, CHUNK + 100, 0, NULL), 0);
	ck_assert_int_eq(ms_extents(ms, f, 0, got, 4, &more, &a, &inl, &inl_len), 2);
	ck_assert_uint_eq(got[0].blk.codec, BLK_CODEC_ZSTD);
	ck_assert_uint_eq(got[0].blk.zlen, 1000);
	ck_assert_uint_eq(got[0].blk.cls, 2);
	ck_assert_uint_eq(got[1].blk.codec, BLK_CODEC_NONE);
	ck_assert_uint_eq(got[1].blk.zlen, 0);

	ck_assert_int_eq(ms_statfs(ms, &st), 0);
	ck_assert_uint_eq(st.codec, BLK_CODEC_NONE);
	op_init(&op, MOP_BUCKET_COMPRESS);
	op.mode = BLK_CODEC_LZ4;
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert_int_eq(ms_statfs(ms, &st), 0);
	ck_assert_uint_eq(st.codec, BLK_CODEC_LZ4);
	op_init(&op, MOP_BUCKET_COMPRESS);
	op.mode = BLK_CODEC_MAX;
	ck_assert_int_eq(apply(&op, NULL), -EINVAL);
	ck_assert_int_eq(ms_block_stats(ms, &bs), 0);
	ck_assert_uint_eq(bs.codec, BLK_CODEC_LZ4);
	ck_assert_uint_eq(bs.blocks, 2);
	ck_assert_uint_eq(bs.compressed, 1);
	ck_assert_uint_eq(bs.bytes, 2 * CHUNK);
	ck_assert_uint_eq(bs.stored, 1000 + CHUNK);

	/* Back to format 1. */
	ms_close(ms);
	sql2(DROP_TOTALS
	     "ALTER TABLE blocks DROP COLUMN codec; ALTER TABLE blocks DROP COLUMN zlen; "
	     "ALTER TABLE blocks DROP COLUMN cls; PRAGMA user_version = 1;");
	ck_assert_int_eq(ms_open(dbpath, MS_SYNC_FULL, &ms), 0);
	ck_assert_int_eq(ms_extents(ms, f, 0, got, 4, &more, &a, &inl, &inl_len), 2);
	ck_assert_uint_eq(got[0].blk.codec, BLK_CODEC_NONE);
	ck_assert_uint_eq(got[0].blk.zlen, 0);
	ck_assert_uint_eq(got[0].blk.cls, 0);
	e[1] = ext(1, 0xC3, 100);
	e[1].blk.codec = BLK_CODEC_LZ4;
	e[1].blk.zlen = 77;
	ck_assert_int_eq(write_ext(f, &e[1], 1, CHUNK + 100, 0, NULL), 0);
	ck_assert_int_eq(ms_extents(ms, f, 1, got, 4, &more, &a, &inl, &inl_len), 1);
	ck_assert_uint_eq(got[0].blk.codec, BLK_CODEC_LZ4);
	ck_assert_uint_eq(got[0].blk.zlen, 77);
	assert_totals(); /* counted at the upgrade, kept since */
	ms_close(ms);
	ck_assert_int_eq(ms_open(dbpath, MS_SYNC_FULL, &ms), 0); /* format 3 now: opens as is */
	assert_totals();
	ck_assert_int_eq(ms_extents(ms, f, 1, got, 4, &more, &a, &inl, &inl_len), 1);
	ck_assert_uint_eq(got[0].blk.zlen, 77);
}
END_TEST

/* Group commit: records applied while batching are seen by reads at once,
 * reach the file only at ms_flush (a second connection sees nothing
 * before), and a close flushes what is still open. */
START_TEST(test_batching)
{
	struct meta_attr a;
	struct mstore *ms2;
	sqlite3 *db;
	sqlite3_stmt *st;
	int n = -1;

	ms_set_batching(ms, 1);
	for (int i = 0; i < 20; i++) {
		char name[16];

		snprintf(name, sizeof(name), "b%d", i);
		mk(1, name, S_IFREG | 0644);
	}
	ck_assert_int_eq(ms_lookup(ms, 1, "b19", &a), 0);
	/* Not committed yet: another connection sees none of it (WAL lets
	 * it read the last commit beside our open transaction). */
	ck_assert_int_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(
	    sqlite3_prepare_v2(db, "SELECT count(*) FROM dirents WHERE parent = 1", -1, &st, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(ms_flush(ms), 0);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(st, 0), 20);
	sqlite3_finalize(st);
	sqlite3_close(db);
	/* More records, then close without a flush: close commits them. */
	mk(1, "after", S_IFREG | 0644);
	ms_close(ms);
	ck_assert_int_eq(ms_open(dbpath, 0, &ms2), 0);
	ck_assert_int_eq(ms_lookup(ms2, 1, "after", &a), 0);
	ck_assert_int_eq(ms_lookup(ms2, 1, "b0", &a), 0);
	ms = ms2;
}
END_TEST

static Suite *meta_content_suite(void)
{
	Suite *s = suite_create("meta_content");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	/* Generous for valgrind; natively the slowest test takes ~1 s. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_write_gc);
	tcase_add_test(tc, test_class_move);
	tcase_add_test(tc, test_blocks_page);
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
	tcase_add_test(tc, test_statfs_totals);
	tcase_add_test(tc, test_codec_fields);
	tcase_add_test(tc, test_db_failure);
	tcase_add_test(tc, test_batching);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(meta_content_suite());
}
