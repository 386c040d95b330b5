/* test_readcache.c: unit tests of the read path (fuse/readcache.c) against
 * a fake backend: holes and short extents read as zeros, inline data,
 * cache hits and the memory bound, generation checks, versions held by
 * handles (collected and moved blocks), malformed extents
 * and failing blocks, donated blocks, one fetch for concurrent readers,
 * and read-ahead of sequential readers. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/err.h"
#include "../../common/log.h"
#include "../../fuse/readcache.h"
#include "../lib/testlib.h"

#define CS 4096u
#define NBLK 16

/* Block i holds bytes 'a' + i; its id's first byte is i + 1. */
static struct fake {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct meta_extent ext[NBLK];
	size_t n_ext;
	uint8_t inl[100];
	size_t inl_len;
	uint64_t gen;
	int gets[NBLK], extent_calls;
	int fail_block;		       /* index + 1 of a block that fails */
	uint8_t gone_id[BLOCK_ID_LEN]; /* a block whose fragments are deleted */
	int gone;		       /* gone_id is set */
	int removed;		       /* the file is gone: extents fail ENOENT */
	uint64_t size;		       /* the file's size (0: n_ext chunks) */
	int gate;		       /* get_block waits while set */
	int waiting;
} fk;

static struct rc *cache;

static struct manifest_block mkblk(int i, uint32_t len)
{
	struct manifest_block b;

	memset(&b, 0, sizeof(b));
	b.id[0] = (uint8_t)(i + 1);
	b.id[5] = 0x5a;
	b.len = len;
	b.k = 4;
	b.m = 2;
	b.csum = 1000 + (uint64_t)i; /* the bytes of block i */
	return b;
}

static void add_ext(uint64_t chunk, int blk, uint32_t blen, uint32_t len)
{
	fk.ext[fk.n_ext].chunk = chunk;
	fk.ext[fk.n_ext].blk = mkblk(blk, blen);
	fk.ext[fk.n_ext].len = len;
	fk.n_ext++;
}

static int fk_extents(void *arg, uint64_t ino, struct meta_extent **ext, size_t *n,
		      struct meta_attr *attr, uint8_t **inl, size_t *inl_len)
{
	(void)arg;
	pthread_mutex_lock(&fk.mu);
	fk.extent_calls++;
	if (fk.removed) {
		pthread_mutex_unlock(&fk.mu);
		return -ENOENT;
	}
	*ext = malloc(sizeof(fk.ext));
	memcpy(*ext, fk.ext, sizeof(fk.ext));
	*n = fk.n_ext;
	memset(attr, 0, sizeof(*attr));
	attr->ino = ino;
	attr->gen = fk.gen;
	attr->size = fk.size != 0 ? fk.size : fk.n_ext * CS;
	*inl = NULL;
	*inl_len = 0;
	if (fk.inl_len > 0) {
		*inl = malloc(fk.inl_len);
		memcpy(*inl, fk.inl, fk.inl_len);
		*inl_len = fk.inl_len;
	}
	pthread_mutex_unlock(&fk.mu);
	return 0;
}

static int fk_get_block(void *arg, const struct manifest_block *blk, uint8_t *buf)
{
	int i = blk->id[0] - 1, rc = 0;

	(void)arg;
	pthread_mutex_lock(&fk.mu);
	fk.waiting++;
	pthread_cond_broadcast(&fk.cv);
	while (fk.gate) {
		pthread_cond_wait(&fk.cv, &fk.mu);
	}
	fk.waiting--;
	ck_assert_int_ge(i, 0);
	ck_assert_int_lt(i, NBLK);
	fk.gets[i]++;
	if (fk.fail_block == i + 1) {
		rc = -OBJ_ECHECKSUM;
	} else if (fk.gone && memcmp(blk->id, fk.gone_id, BLOCK_ID_LEN) == 0) {
		rc = -EIO;
	} else {
		memset(buf, 'a' + i, blk->len);
	}
	pthread_mutex_unlock(&fk.mu);
	return rc;
}

static const struct rc_ops fk_ops = {.extents = fk_extents, .get_block = fk_get_block};

static int gets(int i)
{
	int v;

	pthread_mutex_lock(&fk.mu);
	v = fk.gets[i];
	pthread_mutex_unlock(&fk.mu);
	return v;
}

static void set_gate(int v)
{
	pthread_mutex_lock(&fk.mu);
	fk.gate = v;
	pthread_cond_broadcast(&fk.cv);
	pthread_mutex_unlock(&fk.mu);
}

static void open_rc(uint64_t cache_bytes, unsigned readahead, unsigned prefetchers)
{
	struct rc_conf conf = {.chunk_size = CS,
			       .cache_bytes = cache_bytes,
			       .readahead = readahead,
			       .prefetchers = prefetchers};

	ck_assert_int_eq(rc_open(&conf, &fk_ops, NULL, &cache), 0);
}

static void setup(void)
{
	memset(&fk, 0, sizeof(fk));
	pthread_mutex_init(&fk.mu, NULL);
	pthread_cond_init(&fk.cv, NULL);
	log_set_sink(tl_quiet_sink, NULL);
	open_rc(1 << 20, 0, 0);
}

static void teardown(void)
{
	rc_close(cache);
	cache = NULL;
	pthread_cond_destroy(&fk.cv);
	pthread_mutex_destroy(&fk.mu);
	log_set_sink(NULL, NULL);
}

/* Data comes from the chunk's block; bytes past the extent's length and
 * chunks without an extent read as zeros. */
START_TEST(test_holes_and_short_extents)
{
	uint8_t buf[CS];

	add_ext(0, 0, CS, CS);
	add_ext(2, 1, 1000, 600); /* block holds more than the extent */
	ck_assert_int_eq(rc_read_chunk(cache, 7, 0, 10, 20, buf, NULL), 0);
	ck_assert_int_eq(buf[0], 'a');
	ck_assert_int_eq(buf[19], 'a');
	ck_assert_int_eq(rc_read_chunk(cache, 7, 1, 0, CS, buf, NULL), 0);
	for (uint32_t i = 0; i < CS; i++) {
		ck_assert_int_eq(buf[i], 0);
	}
	ck_assert_int_eq(rc_read_chunk(cache, 7, 2, 590, 20, buf, NULL), 0);
	ck_assert_int_eq(buf[9], 'b');
	ck_assert_int_eq(buf[10], 0);
	ck_assert_int_eq(buf[19], 0);
	ck_assert_int_eq(rc_read_chunk(cache, 7, 2, CS - 1, 2, buf, NULL), -EINVAL);
	ck_assert_int_eq(fk.extent_calls, 1);
}
END_TEST

/* Inline data serves chunk 0 of a small file, zero-filled past its end. */
START_TEST(test_inline_data)
{
	uint8_t buf[64];

	memcpy(fk.inl, "inline!", 7);
	fk.inl_len = 7;
	ck_assert_int_eq(rc_read_chunk(cache, 3, 0, 2, 10, buf, NULL), 0);
	ck_assert_mem_eq(buf, "line!\0\0\0\0\0", 10);
	ck_assert_int_eq(rc_read_chunk(cache, 3, 1, 0, 10, buf, NULL), 0);
	ck_assert_int_eq(buf[0], 0);
}
END_TEST

/* A second read of a block is a hit; the cache never holds more than its
 * bound, so the coldest block is fetched again. */
START_TEST(test_cache_hits_and_bound)
{
	struct rc_stats st;
	uint8_t buf[16];

	rc_close(cache);
	open_rc(2 * CS, 0, 0);
	for (int i = 0; i < 4; i++) {
		add_ext((uint64_t)i, i, CS, CS);
	}
	ck_assert_int_eq(rc_read_chunk(cache, 1, 0, 0, 16, buf, NULL), 0);
	ck_assert_int_eq(rc_read_chunk(cache, 1, 0, 100, 16, buf, NULL), 0);
	ck_assert_int_eq(gets(0), 1);
	for (int i = 1; i < 4; i++) {
		ck_assert_int_eq(rc_read_chunk(cache, 1, (uint64_t)i, 0, 16, buf, NULL), 0);
		ck_assert_int_eq(buf[0], 'a' + i);
	}
	rc_get_stats(cache, &st);
	ck_assert_uint_le(st.cached, 2 * CS);
	ck_assert_uint_eq(st.hits, 1);
	ck_assert_uint_eq(st.misses, 4);
	ck_assert_int_eq(rc_read_chunk(cache, 1, 0, 0, 16, buf, NULL), 0);
	ck_assert_int_eq(gets(0), 2);
	ck_assert_int_eq(rc_read_chunk(cache, 1, 3, 0, 16, buf, NULL), 0);
	ck_assert_int_eq(gets(3), 1);
}
END_TEST

/* Extents are kept until the file's generation changes (or an explicit
 * invalidation); then the new content is read. */
START_TEST(test_generation_check)
{
	uint8_t buf[4];

	add_ext(0, 0, CS, CS);
	fk.gen = 5;
	ck_assert_int_eq(rc_read_chunk(cache, 9, 0, 0, 4, buf, NULL), 0);
	ck_assert_int_eq(buf[0], 'a');
	pthread_mutex_lock(&fk.mu);
	fk.ext[0].blk = mkblk(4, CS);
	fk.gen = 6;
	pthread_mutex_unlock(&fk.mu);
	ck_assert_int_eq(rc_check_gen(cache, 9, 5), 0);
	ck_assert_int_eq(rc_read_chunk(cache, 9, 0, 0, 4, buf, NULL), 0);
	ck_assert_int_eq(buf[0], 'a');
	ck_assert_int_eq(rc_check_gen(cache, 9, 6), 1);
	ck_assert_int_eq(rc_read_chunk(cache, 9, 0, 0, 4, buf, NULL), 0);
	ck_assert_int_eq(buf[0], 'e');
	ck_assert_int_eq(fk.extent_calls, 2);
	rc_invalidate(cache, 9);
	ck_assert_int_eq(rc_read_chunk(cache, 9, 0, 0, 4, buf, NULL), 0);
	ck_assert_int_eq(fk.extent_calls, 3);
	rc_forget(cache, 9);
	ck_assert_int_eq(rc_read_chunk(cache, 9, 0, 0, 4, buf, NULL), 0);
	ck_assert_int_eq(fk.extent_calls, 4);
}
END_TEST

/* A read that asks for one generation is served from it only: cached
 * extents of another are reloaded once, and when the file is at another
 * generation now the read fails with -ESTALE naming it (a file truncated
 * at the shard is never read as zeros through an older size). */
START_TEST(test_read_at_generation)
{
	struct rc_version ver = {.gen = 5};
	uint8_t buf[4];

	add_ext(0, 0, CS, CS);
	fk.gen = 5;
	ck_assert_int_eq(rc_read_chunk(cache, 9, 0, 0, 4, buf, &ver), 0);
	ck_assert_int_eq(buf[0], 'a');
	ck_assert_int_eq(fk.extent_calls, 1);
	/* Truncated to nothing at generation 6, and the cached extents
	 * dropped (as the truncating call does). */
	pthread_mutex_lock(&fk.mu);
	fk.n_ext = 0;
	fk.gen = 6;
	pthread_mutex_unlock(&fk.mu);
	rc_invalidate(cache, 9);
	memset(buf, 0x77, sizeof(buf));
	ck_assert_int_eq(rc_read_chunk(cache, 9, 0, 0, 4, buf, &ver), -ESTALE);
	ck_assert_uint_eq(ver.gen, 6);
	ck_assert_uint_eq(ver.size, 0);
	ck_assert_int_eq(buf[0], 0x77); /* nothing written */
	ck_assert_int_eq(fk.extent_calls, 2);
	/* At the generation it now has, the hole reads as zeros. */
	ck_assert_int_eq(rc_read_chunk(cache, 9, 0, 0, 4, buf, &ver), 0);
	ck_assert_int_eq(buf[0], 0);
	ck_assert_int_eq(fk.extent_calls, 2);
	/* Rewritten at generation 7 while generation 6 is cached: a read
	 * that knows of 7 loads the extents again, once. */
	pthread_mutex_lock(&fk.mu);
	add_ext(0, 2, CS, CS);
	fk.gen = 7;
	pthread_mutex_unlock(&fk.mu);
	ver.gen = 7;
	ck_assert_int_eq(rc_read_chunk(cache, 9, 0, 0, 4, buf, &ver), 0);
	ck_assert_int_eq(buf[0], 'c');
	ck_assert_int_eq(fk.extent_calls, 3);
}
END_TEST

/* A block that cannot be fetched through cached extents (collected after
 * an overwrite) makes the read fetch the extents again and read the block
 * they name now; the same block again keeps the error. */
START_TEST(test_refetch_collected_block)
{
	uint8_t buf[4];

	add_ext(0, 0, CS, CS);
	add_ext(1, 5, CS, CS);
	ck_assert_int_eq(rc_read_chunk(cache, 4, 1, 0, 4, buf, NULL), 0);
	ck_assert_int_eq(buf[0], 'f');
	pthread_mutex_lock(&fk.mu);
	fk.ext[0].blk = mkblk(3, CS); /* chunk 0 rewritten as block 3 */
	fk.fail_block = 1;	      /* and block 0 collected */
	pthread_mutex_unlock(&fk.mu);
	ck_assert_int_eq(rc_read_chunk(cache, 4, 0, 0, 4, buf, NULL), 0);
	ck_assert_int_eq(buf[0], 'd');
	ck_assert_int_eq(fk.extent_calls, 2);
	ck_assert_int_eq(gets(0), 1);
	/* Block 3 lost too, and still named: the read fails. */
	pthread_mutex_lock(&fk.mu);
	fk.ext[1].blk = mkblk(6, CS);
	fk.fail_block = 7;
	pthread_mutex_unlock(&fk.mu);
	rc_invalidate(cache, 4);
	ck_assert_int_lt(rc_read_chunk(cache, 4, 1, 0, 4, buf, NULL), 0);
	ck_assert_int_eq(fk.extent_calls, 4);
}
END_TEST

/* Marks block b's fragments deleted (GC after the grace period). */
static void collect(const struct manifest_block *b)
{
	pthread_mutex_lock(&fk.mu);
	memcpy(fk.gone_id, b->id, BLOCK_ID_LEN);
	fk.gone = 1;
	pthread_mutex_unlock(&fk.mu);
}

/* A handle that holds a version reads it after the file was overwritten
 * (old blocks not yet collected) without loading extents again; once a
 * block of it is collected and the chunk was rewritten, the read fails
 * with -ESTALE naming the version now, never serving the new bytes. */
START_TEST(test_pinned_version)
{
	struct rc_version ver = {.gen = 5};
	struct rc_pin *pin = NULL;
	struct manifest_block old2;
	uint8_t buf[4];

	add_ext(0, 0, CS, CS);
	add_ext(1, 1, CS, CS);
	add_ext(2, 4, CS, CS);
	fk.gen = 5;
	old2 = fk.ext[2].blk;
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 9, 0, 0, 4, buf, &ver), 0);
	ck_assert_ptr_nonnull(pin);
	ck_assert_int_eq(buf[0], 'a');
	/* Overwritten at generation 6 by another client. */
	pthread_mutex_lock(&fk.mu);
	fk.ext[0].blk = mkblk(2, CS);
	fk.ext[1].blk = mkblk(3, CS);
	fk.ext[2].blk = mkblk(5, CS);
	fk.gen = 6;
	pthread_mutex_unlock(&fk.mu);
	rc_invalidate(cache, 9);
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 9, 1, 0, 4, buf, &ver), 0);
	ck_assert_int_eq(buf[0], 'b'); /* the held version's block */
	ck_assert_int_eq(fk.extent_calls, 1);
	/* An unpinned read of generation 5 learns of 6. */
	ck_assert_int_eq(rc_read_chunk(cache, 9, 1, 0, 4, buf, &ver), -ESTALE);
	ck_assert_uint_eq(ver.gen, 6);
	/* Block 4 collected: chunk 2 of the held version is gone. */
	collect(&old2);
	memset(buf, 0x77, sizeof(buf));
	ver = (struct rc_version){0};
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 9, 2, 0, 4, buf, &ver), -ESTALE);
	ck_assert_uint_eq(ver.gen, 6);
	ck_assert_int_eq(buf[0], 0x77); /* nothing of generation 6 served */
	/* What is cached of the held version still reads. */
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 9, 0, 0, 4, buf, &ver), 0);
	ck_assert_int_eq(buf[0], 'a');
	rc_unpin(cache, pin);
	/* A new hold is of generation 6. */
	pin = NULL;
	ver = (struct rc_version){.gen = 6};
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 9, 2, 0, 4, buf, &ver), 0);
	ck_assert_int_eq(buf[0], 'f');
	rc_unpin(cache, pin);
}
END_TEST

/* A block of the held version that moved (the same bytes in a new block,
 * as the class mover makes it: same length and checksum, new id, new
 * generation) is read from its new block, and the hold names it from
 * then on; a file removed (and its blocks collected) fails -ESTALE. */
START_TEST(test_pinned_moved_block)
{
	struct rc_version ver = {.gen = 3};
	struct rc_pin *pin = NULL;
	struct manifest_block old0, moved;
	uint8_t buf[4];
	int calls;

	add_ext(0, 0, CS, CS);
	add_ext(1, 1, CS, CS);
	fk.gen = 3;
	old0 = fk.ext[0].blk;
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 5, 1, 0, 4, buf, &ver), 0);
	ck_assert_int_eq(buf[0], 'b');
	moved = old0;
	moved.id[1] = 9; /* another block of the same bytes */
	moved.cls = 1;
	pthread_mutex_lock(&fk.mu);
	fk.ext[0].blk = moved;
	fk.gen = 4;
	pthread_mutex_unlock(&fk.mu);
	rc_invalidate(cache, 5);
	collect(&old0);
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 5, 0, 0, 4, buf, &ver), 0);
	ck_assert_int_eq(buf[0], 'a');
	calls = fk.extent_calls;
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 5, 0, 0, 4, buf, &ver), 0);
	ck_assert_int_eq(fk.extent_calls, calls); /* the hold names the new block */
	/* Removed, and block 1 collected: stale, the file is no more. */
	pthread_mutex_lock(&fk.mu);
	fk.removed = 1;
	pthread_mutex_unlock(&fk.mu);
	collect(&fk.ext[1].blk);
	rc_invalidate(cache, 5);
	/* block 1 is cached: the held version still reads it */
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 5, 1, 0, 4, buf, &ver), 0);
	rc_unpin(cache, pin);
	pin = NULL;
	rc_close(cache);
	open_rc(1 << 20, 0, 0); /* a cold cache */
	pthread_mutex_lock(&fk.mu);
	fk.removed = 0;
	pthread_mutex_unlock(&fk.mu);
	ver.gen = 4;
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 5, 0, 0, 4, buf, &ver), 0);
	pthread_mutex_lock(&fk.mu);
	fk.removed = 1;
	pthread_mutex_unlock(&fk.mu);
	rc_invalidate(cache, 5);
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 5, 1, 0, 4, buf, &ver), -ESTALE);
	ck_assert_uint_eq(ver.gen, 0);
	rc_unpin(cache, pin);
}
END_TEST

/* A held version that another client appended to (its whole chunks the
 * same bytes, its last partial chunk rewritten with the same first
 * bytes) is followed: the hold moves to the longer version.  A rewrite of
 * any of its bytes is not followed, and the hold stays. */
START_TEST(test_pinned_append)
{
	struct rc_version ver = {.gen = 3};
	struct rc_pin *pin = NULL, *next = NULL;
	struct manifest_block longer;
	uint8_t buf[4];

	add_ext(0, 0, CS, CS);
	add_ext(1, 1, 100, 100);
	fk.gen = 3;
	fk.size = CS + 100;
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 8, 0, 0, 4, buf, &ver), 0);
	/* Appended: chunk 1 rewritten as a 200-byte block that starts with
	 * the same 100 bytes (the fake fills a block by its first id byte). */
	longer = mkblk(1, 200);
	longer.id[1] = 7;
	longer.csum = 4242;
	pthread_mutex_lock(&fk.mu);
	fk.ext[1].blk = longer;
	fk.ext[1].len = 200;
	fk.gen = 4;
	fk.size = CS + 200;
	pthread_mutex_unlock(&fk.mu);
	rc_invalidate(cache, 8);
	ver.gen = 4;
	ck_assert_int_eq(rc_pin_extends(cache, pin, 8, &next, &ver), 1);
	ck_assert_uint_eq(ver.size, CS + 200);
	rc_unpin(cache, pin);
	pin = next;
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 8, 1, 150, 4, buf, &ver), 0);
	ck_assert_int_eq(buf[0], 'b'); /* the appended bytes, from the new block */
	/* Rewritten at generation 5: chunk 0 names other bytes. */
	pthread_mutex_lock(&fk.mu);
	fk.ext[0].blk = mkblk(3, CS);
	fk.gen = 5;
	pthread_mutex_unlock(&fk.mu);
	rc_invalidate(cache, 8);
	ver.gen = 5;
	next = NULL;
	ck_assert_int_eq(rc_pin_extends(cache, pin, 8, &next, &ver), 0);
	ck_assert_ptr_null(next);
	ck_assert_uint_eq(ver.gen, 5);
	ck_assert_int_eq(rc_read_pinned(cache, &pin, 8, 0, 0, 4, buf, &ver), 0);
	ck_assert_int_eq(buf[0], 'a'); /* still the held version */
	rc_unpin(cache, pin);
}
END_TEST

/* An extent no shard could have written is refused with EIO; a block
 * that cannot be read fails the read, is not cached, and a later read
 * succeeds once it can. */
START_TEST(test_errors)
{
	uint8_t buf[4];

	add_ext(0, 0, 100, 200); /* len > block length */
	ck_assert_int_eq(rc_read_chunk(cache, 2, 0, 0, 4, buf, NULL), -EIO);
	fk.n_ext = 0;
	add_ext(0, 1, CS, CS);
	fk.fail_block = 2;
	ck_assert_int_eq(rc_read_chunk(cache, 2, 0, 0, 4, buf, NULL), -OBJ_ECHECKSUM);
	ck_assert_int_eq(obj_errno(-OBJ_ECHECKSUM), EIO);
	fk.fail_block = 0;
	ck_assert_int_eq(rc_read_chunk(cache, 2, 0, 0, 4, buf, NULL), 0);
	ck_assert_int_eq(buf[0], 'b');
	ck_assert_int_eq(gets(1), 2);
}
END_TEST

/* A donated block (just written) is served without a fetch. */
START_TEST(test_donate)
{
	struct manifest_block b = mkblk(6, 10);
	uint8_t *mem = calloc(1, CS), buf[16];

	memcpy(mem, "donated!!!", 10);
	rc_donate(cache, &b, mem, CS);
	ck_assert_int_eq(rc_read_block(cache, &b, 4, 12, buf), 0);
	ck_assert_mem_eq(buf, "ted!!!\0\0\0\0\0\0", 12);
	ck_assert_int_eq(gets(6), 0);
}
END_TEST

struct reader {
	uint8_t buf[8];
	int rc;
	pid_t tid; /* 0 until the thread runs */
	pthread_mutex_t mu;
};

static void *reader_main(void *p)
{
	struct reader *r = p;

	pthread_mutex_lock(&r->mu);
	r->tid = tl_gettid();
	pthread_mutex_unlock(&r->mu);
	r->rc = rc_read_chunk(cache, 4, 0, 0, sizeof(r->buf), r->buf, NULL);
	return NULL;
}

static int fetch_under_way_all_waiting(void *arg)
{
	struct reader *r = arg;
	int w;

	pthread_mutex_lock(&fk.mu);
	w = fk.waiting;
	pthread_mutex_unlock(&fk.mu);
	if (w != 1) {
		return 0;
	}
	for (int i = 0; i < 3; i++) {
		pid_t tid;

		pthread_mutex_lock(&r[i].mu);
		tid = r[i].tid;
		pthread_mutex_unlock(&r[i].mu);
		if (tid == 0 || !tl_thread_sleeping(tid)) {
			return 0;
		}
	}
	return 1;
}

/* Concurrent readers of one block wait for a single fetch. */
START_TEST(test_single_fetch_for_concurrent_readers)
{
	struct reader r[3];
	pthread_t t[3];

	memset(r, 0, sizeof(r));
	add_ext(0, 2, CS, CS);
	set_gate(1);
	for (int i = 0; i < 3; i++) {
		pthread_mutex_init(&r[i].mu, NULL);
		ck_assert_int_eq(pthread_create(&t[i], NULL, reader_main, &r[i]), 0);
	}
	/* Release the fetch only once one reader is in it and the other two
	 * are asleep waiting for it; otherwise a late reader would find the
	 * block cached and prove nothing. */
	ck_assert_msg(tl_wait_until(fetch_under_way_all_waiting, r, 5000),
		      "the readers did not all wait on the fetch");
	set_gate(0);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(r[i].rc, 0);
		ck_assert_int_eq(r[i].buf[0], 'c');
		pthread_mutex_destroy(&r[i].mu);
	}
	ck_assert_int_eq(gets(2), 1);
}
END_TEST

/* A scan through a cache of 4 blocks: under ARC the 2 blocks read twice
 * before it are still cached after 14 blocks streamed by in 1 KiB reads
 * (a read continuing inside a block is not a new reference); under LRU
 * (the old policy) they are fetched again. */
START_TEST(test_scan_resistance)
{
	for (int pol = 0; pol < 2; pol++) {
		struct rc_conf conf = {
		    .chunk_size = CS, .cache_bytes = 4 * CS, .policy = pol == 0 ? CP_LRU : CP_ARC};
		uint8_t buf[1024];

		rc_close(cache);
		memset(fk.gets, 0, sizeof(fk.gets));
		fk.n_ext = 0;
		ck_assert_int_eq(rc_open(&conf, &fk_ops, NULL, &cache), 0);
		for (int i = 0; i < NBLK; i++) {
			add_ext((uint64_t)i, i, CS, CS);
		}
		for (int r = 0; r < 2; r++) {
			for (uint64_t c = 0; c < 2; c++) {
				ck_assert_int_eq(rc_read_chunk(cache, 1, c, 0, 1024, buf, NULL), 0);
			}
		}
		for (uint64_t c = 2; c < NBLK; c++) {
			for (uint32_t off = 0; off < CS; off += 1024) {
				ck_assert_int_eq(rc_read_chunk(cache, 1, c, off, 1024, buf, NULL),
						 0);
			}
		}
		for (uint64_t c = 0; c < 2; c++) {
			ck_assert_int_eq(rc_read_chunk(cache, 1, c, 0, 1024, buf, NULL), 0);
			ck_assert_int_eq(buf[0], 'a' + (int)c);
		}
		ck_assert_int_eq(gets(0), pol == 0 ? 2 : 1);
		ck_assert_int_eq(gets(1), pol == 0 ? 2 : 1);
		ck_assert_int_eq(gets(NBLK - 1), 1);
	}
}
END_TEST

/* Sequential reads make the next chunks' blocks arrive before they are
 * read, in a window that starts at one chunk and doubles at each new
 * chunk up to `readahead`; a random reader collapses it. */
START_TEST(test_readahead)
{
	struct rc_stream s = {0};
	struct rc_stats st;
	uint8_t buf[1024];
	int64_t t0;

	rc_close(cache);
	open_rc(1 << 20, 2, 2);
	for (int i = 0; i < 8; i++) {
		add_ext((uint64_t)i, i, CS, CS);
	}
	rc_hint(cache, &s, 1, 0, 1024);
	ck_assert_uint_eq(s.win, 1);
	ck_assert_int_eq(rc_read_chunk(cache, 1, 0, 0, 1024, buf, NULL), 0);
	t0 = tl_mono_ms();
	while (gets(1) == 0 && tl_mono_ms() - t0 < 3000) {
		usleep(1000);
	}
	ck_assert_int_eq(gets(1), 1);
	ck_assert_int_eq(gets(2), 0);
	rc_hint(cache, &s, 1, 1024, 1024);
	rc_hint(cache, &s, 1, 2048, 2048);
	ck_assert_uint_eq(s.win, 1);	 /* the same chunk: no growth */
	rc_hint(cache, &s, 1, CS, 1024); /* into chunk 1: window 2, chunks 2, 3 */
	ck_assert_uint_eq(s.win, 2);
	t0 = tl_mono_ms();
	while ((gets(2) == 0 || gets(3) == 0) && tl_mono_ms() - t0 < 3000) {
		usleep(1000);
	}
	ck_assert_int_eq(gets(2), 1);
	ck_assert_int_eq(gets(3), 1);
	ck_assert_int_eq(rc_read_chunk(cache, 1, 1, 0, 16, buf, NULL), 0);
	ck_assert_int_eq(gets(1), 1);
	rc_get_stats(cache, &st);
	ck_assert_uint_ge(st.prefetched, 3);
	ck_assert_uint_eq(st.ra_grows, 1);
	/* A jump elsewhere is not sequential: rc_hint decides at once, so
	 * nothing is scheduled (the stream's next scheduled chunk is reset)
	 * and nothing can be fetched later. */
	rc_hint(cache, &s, 1, 6 * (uint64_t)CS + 7, 100);
	ck_assert_uint_eq(s.seq, 0);
	ck_assert_uint_eq(s.win, 0);
	rc_get_stats(cache, &st);
	ck_assert_uint_eq(st.ra_collapses, 1);
	ck_assert_uint_eq(s.ra_next, 0);
	ck_assert_int_eq(gets(7), 0);
}
END_TEST

static Suite *readcache_suite(void)
{
	Suite *s = suite_create("readcache");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_holes_and_short_extents);
	tcase_add_test(tc, test_inline_data);
	tcase_add_test(tc, test_cache_hits_and_bound);
	tcase_add_test(tc, test_read_at_generation);
	tcase_add_test(tc, test_refetch_collected_block);
	tcase_add_test(tc, test_pinned_version);
	tcase_add_test(tc, test_pinned_moved_block);
	tcase_add_test(tc, test_pinned_append);
	tcase_add_test(tc, test_generation_check);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_donate);
	tcase_add_test(tc, test_single_fetch_for_concurrent_readers);
	tcase_add_test(tc, test_readahead);
	tcase_add_test(tc, test_scan_resistance);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(readcache_suite());
}
