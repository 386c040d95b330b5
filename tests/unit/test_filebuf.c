/* test_filebuf.c: unit tests of the write-back buffer (fuse/filebuf.c)
 * against a fake backend in memory: background upload of full chunks,
 * lazy read-modify-write, read-after-write, truncation, offsets past
 * 4 GiB, errors kept dirty and reported at flush, the dirty-memory bound,
 * inline commits and commit batches. */
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
#include "../../fuse/filebuf.h"
#include "../lib/testlib.h"

#define CS 65536u /* chunk size of the fake bucket */
#define INLINE 4096u
#define MAX_INO 4
#define MAX_BLOCKS 4096
#define MAX_EXT 8192
#define BATCH 256 /* extents per commit in test_commit_batches */

struct fblock {
	uint8_t *data;
	uint32_t len;
	int deleted;
};

struct fext {
	uint64_t chunk;
	uint32_t block; /* index into blocks */
	uint32_t len;
};

struct ffile {
	uint64_t size, gen;
	struct fext ext[MAX_EXT];
	size_t n_ext;
	uint8_t *inl;
	size_t inl_len;
	int is_inline;
};

/* The fake cluster: blocks by id (the id's first 4 bytes are the index)
 * and committed files.  Knobs make uploads fail or block. */
static struct fake {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct fblock blocks[MAX_BLOCKS];
	uint32_t n_blocks;
	struct ffile files[MAX_INO];
	int uploads, reads, commits, discards, donates;
	int blk_reads; /* reads of stored blocks (not counted in reads) */
	int upload_err, commit_err;
	int gate_closed; /* uploads wait while set */
	int uploads_waiting;
	uint64_t commit_sizes[16];
	size_t commit_ext[16];
	int commit_trunc[16];
} fk;

static struct fb_ctx *ctx;

static uint32_t blk_index(const struct manifest_block *b)
{
	uint32_t i;

	memcpy(&i, b->id, sizeof(i));
	return i;
}

/* Copies [off, off+len) of bytes data[0..have) with zeros past have. */
static void copy_zero(uint8_t *dst, const uint8_t *data, uint32_t have, uint32_t off, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++) {
		dst[i] = off + i < have ? data[off + i] : 0;
	}
}

static int fk_read(void *arg, uint64_t ino, uint64_t chunk, const struct manifest_block *blk,
		   uint32_t off, uint32_t len, uint8_t *dst, uint64_t *gen, uint64_t *size)
{
	(void)gen; /* one version only: never -ESTALE */
	(void)size;
	struct ffile *f = &fk.files[ino];
	int rc = 0;

	(void)arg;
	pthread_mutex_lock(&fk.mu);
	if (blk != NULL) {
		fk.blk_reads++;
	} else {
		fk.reads++;
	}
	if (blk != NULL) {
		uint32_t i = blk_index(blk);

		if (i >= fk.n_blocks || fk.blocks[i].deleted) {
			rc = -EIO;
		} else {
			copy_zero(dst, fk.blocks[i].data, fk.blocks[i].len, off, len);
		}
	} else if (f->is_inline) {
		copy_zero(dst, chunk == 0 ? f->inl : NULL, chunk == 0 ? (uint32_t)f->inl_len : 0,
			  off, len);
	} else {
		memset(dst, 0, len);
		for (size_t e = 0; e < f->n_ext; e++) {
			if (f->ext[e].chunk == chunk) {
				copy_zero(dst, fk.blocks[f->ext[e].block].data, f->ext[e].len, off,
					  len);
			}
		}
	}
	pthread_mutex_unlock(&fk.mu);
	return rc;
}

static int fk_upload(void *arg, uint64_t ino, uint64_t size, const uint8_t *data, size_t len,
		     struct manifest_block *out)
{
	int rc = 0;

	(void)arg;
	(void)ino;
	(void)size;
	pthread_mutex_lock(&fk.mu);
	fk.uploads_waiting++;
	pthread_cond_broadcast(&fk.cv);
	while (fk.gate_closed) {
		pthread_cond_wait(&fk.cv, &fk.mu);
	}
	fk.uploads_waiting--;
	ck_assert_uint_ge(len, 1);
	ck_assert_uint_le(len, CS);
	if (fk.upload_err != 0) {
		rc = fk.upload_err;
	} else {
		uint32_t i = fk.n_blocks++;

		ck_assert_uint_lt(i, MAX_BLOCKS);
		fk.blocks[i].data = malloc(len);
		memcpy(fk.blocks[i].data, data, len);
		fk.blocks[i].len = (uint32_t)len;
		memset(out, 0, sizeof(*out));
		memcpy(out->id, &i, sizeof(i));
		out->len = (uint32_t)len;
		fk.uploads++;
	}
	pthread_mutex_unlock(&fk.mu);
	return rc;
}

/* The shard side of a truncate to size (MOP_SETATTR size, or a commit's
 * truncate before its content).  fk.mu held. */
static void fk_truncate_locked(uint64_t ino, uint64_t size)
{
	struct ffile *f = &fk.files[ino];
	size_t w = 0;

	for (size_t e = 0; e < f->n_ext; e++) {
		uint64_t start = f->ext[e].chunk * CS;

		if (start >= size) {
			continue;
		}
		if (size - start < f->ext[e].len) {
			f->ext[e].len = (uint32_t)(size - start);
		}
		f->ext[w++] = f->ext[e];
	}
	f->n_ext = w;
	if (f->is_inline && f->inl_len > size) {
		f->inl_len = size;
	}
	f->size = size;
	f->gen++;
}

static void fk_truncate(uint64_t ino, uint64_t size)
{
	pthread_mutex_lock(&fk.mu);
	fk_truncate_locked(ino, size);
	pthread_mutex_unlock(&fk.mu);
}

static int fk_commit(void *arg, const struct fb_commit *c, struct meta_attr *attr)
{
	struct ffile *f = &fk.files[c->ino];
	int rc = 0;

	(void)arg;
	pthread_mutex_lock(&fk.mu);
	if (fk.commit_err != 0) {
		rc = fk.commit_err;
		goto out;
	}
	ck_assert_uint_le(c->n_ext, META_EXTENTS_MAX);
	ck_assert_uint_ge(c->n_ext + (size_t)c->is_inline + (size_t)c->truncate, 1);
	if (fk.commits < 16) {
		fk.commit_sizes[fk.commits] = c->size;
		fk.commit_ext[fk.commits] = c->n_ext;
		fk.commit_trunc[fk.commits] = c->truncate;
	}
	fk.commits++;
	if (c->truncate && !c->is_inline) {
		fk_truncate_locked(c->ino, c->size);
	}
	if (c->is_inline) {
		free(f->inl);
		f->inl = malloc(c->inline_len ? c->inline_len : 1);
		memcpy(f->inl, c->inline_data, c->inline_len);
		f->inl_len = c->inline_len;
		f->is_inline = 1;
		f->n_ext = 0;
	} else {
		for (size_t i = 0; i < c->n_ext; i++) {
			size_t e;

			ck_assert_uint_le(c->ext[i].len, c->ext[i].blk.len);
			for (e = 0; e < f->n_ext && f->ext[e].chunk != c->ext[i].chunk; e++) {
			}
			ck_assert_uint_lt(e, MAX_EXT);
			f->ext[e].chunk = c->ext[i].chunk;
			f->ext[e].block = blk_index(&c->ext[i].blk);
			f->ext[e].len = c->ext[i].len;
			if (e == f->n_ext) {
				f->n_ext++;
			}
		}
		if (c->n_ext > 0) {
			f->is_inline = 0;
		}
	}
	if (c->size > f->size || c->truncate) {
		f->size = c->size;
	}
	f->gen++;
	memset(attr, 0, sizeof(*attr));
	attr->ino = c->ino;
	attr->size = f->size;
	attr->gen = f->gen;
out:
	pthread_mutex_unlock(&fk.mu);
	return rc;
}

static void fk_donate(void *arg, const struct manifest_block *blk, uint8_t *buf, size_t cap)
{
	(void)arg;
	(void)blk;
	(void)cap;
	pthread_mutex_lock(&fk.mu);
	fk.donates++;
	pthread_mutex_unlock(&fk.mu);
	free(buf);
}

static void fk_discard(void *arg, const struct manifest_block *blk)
{
	(void)arg;
	pthread_mutex_lock(&fk.mu);
	fk.discards++;
	fk.blocks[blk_index(blk)].deleted = 1;
	pthread_mutex_unlock(&fk.mu);
}

static const struct fb_ops fk_ops = {
    .read = fk_read,
    .upload = fk_upload,
    .commit = fk_commit,
    .donate = fk_donate,
    .discard = fk_discard,
};

static int fk_get(int what)
{
	int v;

	pthread_mutex_lock(&fk.mu);
	v = what == 0 ? fk.uploads : what == 1 ? fk.reads : what == 2 ? fk.commits : fk.discards;
	pthread_mutex_unlock(&fk.mu);
	return v;
}

static void fk_set(int *knob, int v)
{
	pthread_mutex_lock(&fk.mu);
	*knob = v;
	pthread_cond_broadcast(&fk.cv);
	pthread_mutex_unlock(&fk.mu);
}

/* Reads the committed content of ino as a reader after close would (not
 * counted as a read of old data). */
static void committed_read(uint64_t ino, uint64_t off, uint8_t *dst, size_t len)
{
	int reads = fk_get(1);

	for (size_t done = 0; done < len;) {
		uint64_t pos = off + done;
		uint32_t a = (uint32_t)(pos % CS), n = CS - a;

		if (n > len - done) {
			n = (uint32_t)(len - done);
		}
		ck_assert_int_eq(fk_read(NULL, ino, pos / CS, NULL, a, n, dst + done, NULL, NULL),
				 0);
		done += n;
	}
	fk_set(&fk.reads, reads);
}

static void fill_pattern(uint8_t *b, size_t len, uint64_t off)
{
	for (size_t i = 0; i < len; i++) {
		b[i] = (uint8_t)((off + i) * 31 + 7);
	}
}

static void open_ctx(uint64_t max_dirty, unsigned uploaders, uint32_t batch)
{
	struct fb_conf conf = {.chunk_size = CS,
			       .inline_max = INLINE,
			       .max_dirty = max_dirty,
			       .uploaders = uploaders,
			       .max_batch = batch};

	ck_assert_int_eq(fb_ctx_open(&conf, &fk_ops, NULL, &ctx), 0);
}

static void setup(void)
{
	memset(&fk, 0, sizeof(fk));
	pthread_mutex_init(&fk.mu, NULL);
	pthread_cond_init(&fk.cv, NULL);
	log_set_sink(tl_quiet_sink, NULL);
	open_ctx(64 * (uint64_t)CS, 4, 0);
}

static void teardown(void)
{
	fb_ctx_close(ctx);
	ctx = NULL;
	for (uint32_t i = 0; i < fk.n_blocks; i++) {
		free(fk.blocks[i].data);
	}
	for (int i = 0; i < MAX_INO; i++) {
		free(fk.files[i].inl);
	}
	pthread_cond_destroy(&fk.cv);
	pthread_mutex_destroy(&fk.mu);
	log_set_sink(NULL, NULL);
}

/* Full chunks written sequentially are uploaded before any flush; the
 * flush then uploads the tail and commits everything once. */
START_TEST(test_sequential_fill_uploads_in_background)
{
	size_t len = 3 * CS + 100;
	uint8_t *data = malloc(len), *back = malloc(len);
	struct meta_attr attr;
	struct fbuf *fb;
	int committed;
	int64_t t0;

	fill_pattern(data, len, 0);
	ck_assert_int_eq(fb_open(ctx, 1, 0, 0, &fb), 0);
	for (size_t off = 0; off < len; off += 4096) {
		size_t n = len - off < 4096 ? len - off : 4096;

		ck_assert_int_eq(fb_write(fb, off, data + off, n), (ssize_t)n);
	}
	t0 = tl_mono_ms();
	while (fk_get(0) < 3 && tl_mono_ms() - t0 < 3000) {
		usleep(1000);
	}
	ck_assert_int_eq(fk_get(0), 3);
	ck_assert_int_eq(fk_get(2), 0);
	ck_assert_int_eq(fk_get(1), 0); /* a new file never reads old data */
	ck_assert_int_eq(fb_flush(fb, &attr, &committed), 0);
	ck_assert_int_eq(committed, 1);
	ck_assert_int_eq(fk_get(0), 4);
	ck_assert_int_eq(fk_get(2), 1);
	ck_assert_uint_eq(attr.size, len);
	ck_assert_int_eq(fb_dirty(fb), 0);
	committed_read(1, 0, back, len);
	ck_assert_mem_eq(back, data, len);
	ck_assert_uint_eq(fb_ctx_dirty_bytes(ctx), 0);
	fb_close(fb);
	free(data);
	free(back);
}
END_TEST

/* A write into part of an existing chunk merges the old bytes around it
 * (one read of the old chunk); a chunk rewritten entirely reads nothing. */
START_TEST(test_rmw_partial_chunk_reads_old_data)
{
	uint8_t *old = malloc(2 * CS), *back = malloc(2 * CS), patch[10];
	struct fbuf *fb;

	memset(old, 'A', 2 * CS);
	ck_assert_int_eq(fb_open(ctx, 1, 0, 0, &fb), 0);
	ck_assert_int_eq(fb_write(fb, 0, old, 2 * CS), 2 * CS);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	fb_close(fb);
	ck_assert_int_eq(fk_get(1), 0);

	/* Reopen: patch 10 bytes in chunk 0, rewrite chunk 1 in pieces. */
	ck_assert_int_eq(fb_open(ctx, 1, 2 * CS, 0, &fb), 0);
	memset(patch, 'B', sizeof(patch));
	ck_assert_int_eq(fb_write(fb, 100, patch, sizeof(patch)), sizeof(patch));
	memset(back, 'C', CS);
	for (uint32_t off = 0; off < CS; off += 8192) {
		ck_assert_int_eq(fb_write(fb, CS + off, back, 8192), 8192);
	}
	ck_assert_int_eq(fk_get(1), 0); /* lazy: nothing read yet */
	ck_assert_int_eq(fb_read(fb, 0, 2 * CS, back), 2 * CS);
	ck_assert_int_eq(fk_get(1), 1); /* chunk 0 merged once */
	ck_assert_int_eq(back[99], 'A');
	ck_assert_int_eq(back[100], 'B');
	ck_assert_int_eq(back[109], 'B');
	ck_assert_int_eq(back[110], 'A');
	ck_assert_int_eq(back[CS - 1], 'A');
	ck_assert_int_eq(back[CS], 'C');
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	ck_assert_int_eq(fk_get(1), 1);
	fb_close(fb);
	committed_read(1, 0, back, 2 * CS);
	ck_assert_int_eq(back[99], 'A');
	ck_assert_int_eq(back[105], 'B');
	ck_assert_int_eq(back[110], 'A');
	ck_assert_int_eq(back[CS + 5], 'C');
	ck_assert_uint_eq(fk.files[1].size, 2 * CS);
	free(old);
	free(back);
}
END_TEST

/* A partial write and then a disjoint one in the same old chunk keep both
 * writes and the old bytes between them. */
START_TEST(test_rmw_disjoint_writes)
{
	uint8_t *old = malloc(CS), back[300];
	struct fbuf *fb;

	memset(old, 'A', CS);
	ck_assert_int_eq(fb_open(ctx, 2, 0, 0, &fb), 0);
	ck_assert_int_eq(fb_write(fb, 0, old, CS), CS);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	fb_close(fb);
	ck_assert_int_eq(fb_open(ctx, 2, CS, 0, &fb), 0);
	ck_assert_int_eq(fb_write(fb, 10, "xy", 2), 2);
	ck_assert_int_eq(fb_write(fb, 200, "zz", 2), 2);
	ck_assert_int_eq(fb_write(fb, 12, "w", 1), 1);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	fb_close(fb);
	committed_read(2, 0, back, sizeof(back));
	ck_assert_int_eq(back[9], 'A');
	ck_assert_mem_eq(back + 10, "xyw", 3);
	ck_assert_int_eq(back[13], 'A');
	ck_assert_int_eq(back[199], 'A');
	ck_assert_mem_eq(back + 200, "zz", 2);
	ck_assert_int_eq(back[202], 'A');
	free(old);
}
END_TEST

/* Reads see buffered writes before any flush, merged with committed data,
 * holes as zeros, and stop at the local end of file. */
START_TEST(test_read_after_write)
{
	uint8_t buf[64], back[CS + 64];
	struct fbuf *fb;

	ck_assert_int_eq(fb_open(ctx, 1, 0, 0, &fb), 0);
	memset(buf, 'x', sizeof(buf));
	ck_assert_int_eq(fb_write(fb, 10, buf, 5), 5);
	ck_assert_int_eq(fb_read(fb, 0, 100, back), 15);
	ck_assert_int_eq(back[0], 0);
	ck_assert_int_eq(back[10], 'x');
	ck_assert_int_eq(back[14], 'x');
	ck_assert_int_eq(fb_write(fb, CS + 3, "hello", 5), 5);
	ck_assert_int_eq(fb_read(fb, CS - 2, 64, back), 10);
	ck_assert_mem_eq(back, "\0\0\0\0\0hello", 10);
	ck_assert_int_eq(fb_read(fb, CS + 8, 10, back), 0);
	/* Partly committed: flush chunk 0, rewrite a byte, read across. */
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	ck_assert_int_eq(fb_write(fb, 11, "Y", 1), 1);
	ck_assert_int_eq(fb_read(fb, 0, sizeof(back), back), CS + 8);
	ck_assert_mem_eq(back + 10, "xYxxx", 5);
	ck_assert_mem_eq(back + CS + 3, "hello", 5);
	fb_close(fb);
}
END_TEST

/* After a truncation the bytes past the new end read as zeros when the
 * file is extended again, both committed and still-buffered ones. */
START_TEST(test_truncate_then_extend_reads_zeros)
{
	uint8_t a[1000], back[3000];
	uint64_t size;
	int64_t mt;
	struct fbuf *fb;

	memset(a, 'A', sizeof(a));
	ck_assert_int_eq(fb_open(ctx, 1, 0, 0, &fb), 0);
	ck_assert_int_eq(fb_write(fb, 0, a, sizeof(a)), sizeof(a));
	/* The FUSE layer's order: flush, truncate on the shard, tell fb. */
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	fk_truncate(1, 10);
	fb_truncated(fb, 10, fk.files[1].gen);
	ck_assert_int_eq(fb_stat(fb, &size, &mt), 0);
	ck_assert_uint_eq(size, 10);
	ck_assert_int_eq(fb_write(fb, 2000, "B", 1), 1);
	ck_assert_int_eq(fb_read(fb, 0, sizeof(back), back), 2001);
	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(back[i], 'A');
	}
	for (int i = 10; i < 2000; i++) {
		ck_assert_int_eq(back[i], 0);
	}
	ck_assert_int_eq(back[2000], 'B');
	/* Buffered bytes past a truncation go too. */
	ck_assert_int_eq(fb_write(fb, 0, a, sizeof(a)), sizeof(a));
	fb_truncated(fb, 20, fk.files[1].gen);
	ck_assert_int_eq(fb_write(fb, 30, "C", 1), 1);
	ck_assert_int_eq(fb_read(fb, 0, sizeof(back), back), 31);
	ck_assert_int_eq(back[19], 'A');
	ck_assert_int_eq(back[20], 0);
	ck_assert_int_eq(back[29], 0);
	ck_assert_int_eq(back[30], 'C');
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	fb_close(fb);
	committed_read(1, 0, back, 31);
	ck_assert_int_eq(back[19], 'A');
	ck_assert_int_eq(back[25], 0);
	ck_assert_int_eq(back[30], 'C');
}
END_TEST

/* An O_TRUNC deferred to the commit: the file reads empty at once, nothing
 * of the old content is read, and the cut travels with the next commit --
 * in the same commit as content that fits inline, alone when nothing was
 * written, first when the content needs extents.  A failed commit keeps
 * both the cut and the data. */
START_TEST(test_truncate_deferred)
{
	size_t len = 2 * CS + 500;
	uint8_t *old = malloc(len), *back = malloc(len);
	uint8_t b[300];
	uint64_t size;
	int64_t mt;
	struct fbuf *fb;
	int committed, c0, r0;

	fill_pattern(old, len, 0);
	for (uint64_t ino = 1; ino <= 3; ino++) {
		ck_assert_int_eq(fb_open(ctx, ino, 0, 0, &fb), 0);
		ck_assert_int_eq(fb_write(fb, 0, old, len), (ssize_t)len);
		ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
		fb_close(fb);
		ck_assert_uint_eq(fk.files[ino].n_ext, 3);
	}
	memset(b, 'B', sizeof(b));

	/* 1: rewritten small: one commit, inline, with the cut. */
	ck_assert_int_eq(fb_open(ctx, 1, len, fk.files[1].gen, &fb), 0);
	c0 = fk_get(2);
	r0 = fk_get(1);
	fb_truncate_deferred(fb);
	ck_assert_int_eq(fb_dirty(fb), 1);
	ck_assert_int_eq(fb_stat(fb, &size, &mt), 1);
	ck_assert_uint_eq(size, 0);
	ck_assert_int_ne(mt, 0);
	ck_assert_int_eq(fb_read(fb, 0, 100, back), 0);
	ck_assert_int_eq(fb_write(fb, 200, b, 100), 100);
	ck_assert_int_eq(fb_read(fb, 0, len, back), 300);
	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(back[i], 0); /* never the old bytes */
	}
	ck_assert_mem_eq(back + 200, b, 100);
	ck_assert_int_eq(fk_get(2), c0); /* nothing reached the shard yet */
	ck_assert_uint_eq(fk.files[1].size, len);
	fk_set(&fk.commit_err, -EIO);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), -EIO);
	ck_assert_int_eq(fb_dirty(fb), 1);
	ck_assert_uint_eq(fk.files[1].size, len);
	fk_set(&fk.commit_err, 0);
	ck_assert_int_eq(fb_flush(fb, NULL, &committed), 0);
	ck_assert_int_eq(committed, 1);
	ck_assert_int_eq(fk_get(2), c0 + 1);
	ck_assert_int_eq(fk.commit_trunc[c0], 1);
	ck_assert_uint_eq(fk.commit_sizes[c0], 300);
	ck_assert_int_eq(fk_get(1), r0); /* the old content was never read */
	ck_assert_int_eq(fb_dirty(fb), 0);
	fb_close(fb);
	ck_assert_int_eq(fk.files[1].is_inline, 1);
	ck_assert_uint_eq(fk.files[1].size, 300);
	committed_read(1, 0, back, 300);
	ck_assert_int_eq(back[199], 0);
	ck_assert_mem_eq(back + 200, b, 100);

	/* 2: nothing written: the cut alone, to size 0. */
	ck_assert_int_eq(fb_open(ctx, 2, len, fk.files[2].gen, &fb), 0);
	c0 = fk_get(2);
	fb_truncate_deferred(fb);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	ck_assert_int_eq(fk_get(2), c0 + 1);
	ck_assert_int_eq(fk.commit_trunc[c0], 1);
	ck_assert_uint_eq(fk.commit_ext[c0], 0);
	ck_assert_uint_eq(fk.commit_sizes[c0], 0);
	ck_assert_int_eq(fb_dirty(fb), 0);
	fb_close(fb);
	ck_assert_uint_eq(fk.files[2].size, 0);
	ck_assert_uint_eq(fk.files[2].n_ext, 0);

	/* 3: rewritten past inline_max: the cut first, then the extents;
	 * the old third chunk is gone.  A size change whose flush came
	 * before the O_TRUNC lands after it (fb_truncated): the cut is the
	 * newer, no old byte comes back. */
	ck_assert_int_eq(fb_open(ctx, 3, len, fk.files[3].gen, &fb), 0);
	c0 = fk_get(2);
	fb_truncate_deferred(fb);
	fk_truncate(3, CS + 10);
	fb_truncated(fb, CS + 10, fk.files[3].gen);
	ck_assert_int_eq(fb_stat(fb, &size, &mt), 1);
	ck_assert_uint_eq(size, 0);
	c0 = fk_get(2);
	ck_assert_int_eq(fb_write(fb, CS / 2, b, sizeof(b)), sizeof(b));
	ck_assert_int_eq(fb_flush(fb, NULL, &committed), 0);
	ck_assert_int_eq(committed, 2);
	ck_assert_int_eq(fk_get(2), c0 + 2);
	ck_assert_int_eq(fk.commit_trunc[c0], 1);
	ck_assert_uint_eq(fk.commit_sizes[c0], 0);
	ck_assert_int_eq(fk.commit_trunc[c0 + 1], 0);
	ck_assert_uint_eq(fk.commit_ext[c0 + 1], 1);
	fb_close(fb);
	ck_assert_uint_eq(fk.files[3].size, CS / 2 + sizeof(b));
	ck_assert_uint_eq(fk.files[3].n_ext, 1);
	committed_read(3, 0, back, CS / 2 + sizeof(b));
	for (size_t i = 0; i < CS / 2; i++) {
		ck_assert_int_eq(back[i], 0);
	}
	ck_assert_mem_eq(back + CS / 2, b, sizeof(b));
	free(old);
	free(back);
}
END_TEST

/* Offsets past 4 GiB address the right chunk and set the right size. */
START_TEST(test_offsets_past_4gib)
{
	uint64_t off = 5ULL * 1024 * 1024 * 1024 + 12345;
	uint8_t back[16];
	struct meta_attr attr;
	struct fbuf *fb;

	ck_assert_int_eq(fb_open(ctx, 3, 0, 0, &fb), 0);
	ck_assert_int_eq(fb_write(fb, off, "0123456789", 10), 10);
	ck_assert_int_eq(fb_read(fb, off - 2, 16, back), 12);
	ck_assert_mem_eq(back,
			 "\0\0"
			 "0123456789",
			 12);
	ck_assert_int_eq(fb_read(fb, 4096, 16, back), 16); /* hole */
	ck_assert_int_eq(back[0], 0);
	ck_assert_int_eq(fb_flush(fb, &attr, NULL), 0);
	ck_assert_uint_eq(attr.size, off + 10);
	ck_assert_uint_eq(fk.files[3].n_ext, 1);
	ck_assert_uint_eq(fk.files[3].ext[0].chunk, off / CS);
	ck_assert_uint_eq(fk.files[3].ext[0].len, off % CS + 10);
	ck_assert_int_eq(fb_write(fb, UINT64_MAX - 5, "x", 1), -EFBIG);
	fb_close(fb);
	committed_read(3, off, back, 10);
	ck_assert_mem_eq(back, "0123456789", 10);
}
END_TEST

/* A failed upload is reported by the flush, the data stays dirty and
 * readable, and the next flush succeeds. */
START_TEST(test_upload_error_reported_at_flush)
{
	size_t len = CS + 500;
	uint8_t *data = malloc(len), *back = malloc(len);
	struct fbuf *fb;

	fill_pattern(data, len, 0);
	fk_set(&fk.upload_err, -ENOSPC);
	ck_assert_int_eq(fb_open(ctx, 1, 0, 0, &fb), 0);
	ck_assert_int_eq(fb_write(fb, 0, data, len), (ssize_t)len);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), -ENOSPC);
	ck_assert_int_eq(fb_dirty(fb), 1);
	ck_assert_int_eq(fk_get(2), 0);
	ck_assert_int_eq(fb_read(fb, 0, len, back), (ssize_t)len);
	ck_assert_mem_eq(back, data, len);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), -ENOSPC); /* retried, still failing */
	fk_set(&fk.upload_err, 0);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	ck_assert_int_eq(fb_dirty(fb), 0);
	fb_close(fb);
	committed_read(1, 0, back, len);
	ck_assert_mem_eq(back, data, len);
	free(data);
	free(back);
}
END_TEST

/* A failed commit is reported, keeps the stored blocks (never discarded:
 * the commit may have been applied) and a retry commits them. */
START_TEST(test_commit_error_kept_dirty)
{
	size_t len = 2 * CS;
	uint8_t *data = malloc(len), *back = malloc(len);
	struct fbuf *fb;

	fill_pattern(data, len, 3);
	ck_assert_int_eq(fb_open(ctx, 1, 0, 0, &fb), 0);
	ck_assert_int_eq(fb_write(fb, 0, data, len), (ssize_t)len);
	fk_set(&fk.commit_err, -ETIMEDOUT);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), -ETIMEDOUT);
	ck_assert_int_eq(fb_dirty(fb), 1);
	ck_assert_int_eq(fb_read(fb, 0, len, back), (ssize_t)len);
	ck_assert_mem_eq(back, data, len);
	fk_set(&fk.commit_err, 0);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	ck_assert_int_eq(fk_get(0), 2); /* no re-upload */
	ck_assert_int_eq(fk_get(3), 0);
	fb_close(fb);
	committed_read(1, 0, back, len);
	ck_assert_mem_eq(back, data, len);
	free(data);
	free(back);
}
END_TEST

struct writer_arg {
	struct fbuf *fb;
	size_t len;
	int chunks_done;
	ssize_t rc;
	pid_t tid; /* the writer thread, 0 until it runs */
	pthread_mutex_t mu;
};

static void *writer_main(void *p)
{
	struct writer_arg *w = p;
	uint8_t *buf = malloc(CS);
	ssize_t rc = 0;

	memset(buf, 'w', CS);
	pthread_mutex_lock(&w->mu);
	w->tid = tl_gettid();
	pthread_mutex_unlock(&w->mu);
	for (size_t off = 0; off < w->len && rc >= 0; off += CS) {
		rc = fb_write(w->fb, off, buf, CS);
		pthread_mutex_lock(&w->mu);
		w->chunks_done += rc == CS;
		pthread_mutex_unlock(&w->mu);
	}
	w->rc = rc;
	free(buf);
	return NULL;
}

static int writer_done(struct writer_arg *w)
{
	int n;

	pthread_mutex_lock(&w->mu);
	n = w->chunks_done;
	pthread_mutex_unlock(&w->mu);
	return n;
}

/* Two chunks written and the writer asleep in the third write. */
static int writer_blocked_at_two(void *arg)
{
	struct writer_arg *w = arg;
	pid_t tid;

	pthread_mutex_lock(&w->mu);
	tid = w->tid;
	pthread_mutex_unlock(&w->mu);
	return writer_done(w) == 2 && tid != 0 && tl_thread_sleeping(tid);
}

/* With the dirty limit reached and uploads stalled the writer waits;
 * when uploads go on it finishes, and memory never passes the limit. */
START_TEST(test_dirty_limit_blocks_writer)
{
	struct writer_arg w = {.len = 6 * CS};
	pthread_t t;
	int64_t t0;

	fb_ctx_close(ctx);
	open_ctx(2 * (uint64_t)CS, 2, 0);
	pthread_mutex_init(&w.mu, NULL);
	fk_set(&fk.gate_closed, 1);
	ck_assert_int_eq(fb_open(ctx, 1, 0, 0, &w.fb), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, writer_main, &w), 0);
	ck_assert_msg(tl_wait_until(writer_blocked_at_two, &w, 5000),
		      "writer did not block after 2 chunks (%d done)", writer_done(&w));
	ck_assert_int_eq(writer_done(&w), 2);
	ck_assert_uint_le(fb_ctx_dirty_bytes(ctx), 2 * CS);
	fk_set(&fk.gate_closed, 0);
	t0 = tl_mono_ms();
	while (writer_done(&w) < 6 && tl_mono_ms() - t0 < 5000) {
		ck_assert_uint_le(fb_ctx_dirty_bytes(ctx), 2 * CS);
		usleep(1000);
	}
	pthread_join(t, NULL);
	ck_assert_int_eq(w.rc, CS);
	ck_assert_int_eq(writer_done(&w), 6);
	ck_assert_int_eq(fb_flush(w.fb, NULL, NULL), 0);
	ck_assert_uint_eq(fk.files[1].size, 6 * CS);
	fb_close(w.fb);
	pthread_mutex_destroy(&w.mu);
}
END_TEST

/* When uploads fail under memory pressure the writer gets the error
 * instead of waiting forever; the data written so far stays dirty. */
START_TEST(test_dirty_limit_dead_cluster_fails_writer)
{
	struct writer_arg w = {.len = 8 * CS};
	pthread_t t;
	int64_t t0;

	fb_ctx_close(ctx);
	open_ctx(2 * (uint64_t)CS, 2, 0);
	pthread_mutex_init(&w.mu, NULL);
	fk_set(&fk.upload_err, -EIO);
	ck_assert_int_eq(fb_open(ctx, 1, 0, 0, &w.fb), 0);
	t0 = tl_mono_ms();
	ck_assert_int_eq(pthread_create(&t, NULL, writer_main, &w), 0);
	pthread_join(t, NULL);
	ck_assert_int_lt(tl_mono_ms() - t0, 5000);
	ck_assert_int_eq(w.rc, -EIO);
	ck_assert_int_eq(fb_dirty(w.fb), 1);
	ck_assert_int_eq(fb_flush(w.fb, NULL, NULL), -EIO);
	fk_set(&fk.upload_err, 0);
	ck_assert_int_eq(fb_flush(w.fb, NULL, NULL), 0);
	fb_close(w.fb);
	pthread_mutex_destroy(&w.mu);
}
END_TEST

/* A small file is committed inline, with no block stored. */
START_TEST(test_small_file_inline)
{
	uint8_t back[200];
	struct meta_attr attr;
	struct fbuf *fb;

	ck_assert_int_eq(fb_open(ctx, 2, 0, 0, &fb), 0);
	ck_assert_int_eq(fb_write(fb, 0, "tiny file", 9), 9);
	ck_assert_int_eq(fb_write(fb, 100, "!", 1), 1);
	ck_assert_int_eq(fb_flush(fb, &attr, NULL), 0);
	ck_assert_int_eq(fk_get(0), 0);
	ck_assert_int_eq(fk.files[2].is_inline, 1);
	ck_assert_uint_eq(fk.files[2].inl_len, 101);
	ck_assert_uint_eq(attr.size, 101);
	/* Appending to an inline file reads it back first. */
	ck_assert_int_eq(fb_write(fb, 101, "?", 1), 1);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	fb_close(fb);
	committed_read(2, 0, back, 102);
	ck_assert_mem_eq(back, "tiny file", 9);
	ck_assert_int_eq(back[50], 0);
	ck_assert_int_eq(back[100], '!');
	ck_assert_int_eq(back[101], '?');
}
END_TEST

/* More chunks than one commit may carry go in ascending batches whose
 * sizes never cover a later batch's chunks. */
START_TEST(test_commit_batches)
{
	size_t n = BATCH + 10;
	uint8_t *buf = malloc(CS);
	struct fbuf *fb;

	fb_ctx_close(ctx);
	open_ctx(16 * (uint64_t)CS, 4, BATCH);
	memset(buf, 'q', CS);
	ck_assert_int_eq(fb_open(ctx, 1, 0, 0, &fb), 0);
	/* One byte per chunk keeps the fake's memory small. */
	for (size_t i = 0; i < n; i++) {
		ck_assert_int_eq(fb_write(fb, i * (uint64_t)CS, buf, 1), 1);
	}
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	ck_assert_int_eq(fk_get(2), 2);
	ck_assert_uint_eq(fk.commit_ext[0], BATCH);
	ck_assert_uint_eq(fk.commit_sizes[0], (BATCH - 1) * (uint64_t)CS + 1);
	ck_assert_uint_eq(fk.commit_ext[1], 10);
	ck_assert_uint_eq(fk.commit_sizes[1], (n - 1) * (uint64_t)CS + 1);
	fb_close(fb);
	free(buf);
}
END_TEST

/* A chunk rewritten after it was stored (not yet committed) is merged from
 * that block, and the block no commit saw is discarded. */
START_TEST(test_rewrite_stored_chunk)
{
	uint8_t *data = malloc(CS), back[8];
	struct fbuf *fb;
	int64_t t0;

	memset(data, 'S', CS);
	ck_assert_int_eq(fb_open(ctx, 1, 0, 0, &fb), 0);
	ck_assert_int_eq(fb_write(fb, 0, data, CS), CS);
	t0 = tl_mono_ms();
	while (fk_get(0) < 1 && tl_mono_ms() - t0 < 3000) {
		usleep(1000);
	}
	ck_assert_int_eq(fk_get(0), 1);
	ck_assert_int_eq(fb_write(fb, 4, "new", 3), 3);
	ck_assert_int_eq(fb_flush(fb, NULL, NULL), 0);
	ck_assert_int_eq(fk_get(3), 1);
	fb_close(fb);
	committed_read(1, 0, back, sizeof(back));
	ck_assert_mem_eq(back, "SSSSnewS", 8);
	free(data);
}
END_TEST

/* Attributes from the shard are corrected with uncommitted writes, an
 * answer older than our own commit does not shrink the file, and a newer
 * one (another client's change) is adopted once the buffer is clean. */
START_TEST(test_overlay_attrs)
{
	struct meta_attr a = {.ino = 1, .size = 0, .gen = 0, .mtime_ns = 5};
	struct meta_attr done;
	struct fbuf *fb;
	uint8_t back[4];

	ck_assert_int_eq(fb_open(ctx, 1, 0, 0, &fb), 0);
	ck_assert_int_eq(fb_write(fb, 0, "abcdefgh", 8), 8);
	ck_assert_int_eq(fb_overlay(fb, &a), 1);
	ck_assert_uint_eq(a.size, 8);
	ck_assert_int_gt(a.mtime_ns, 5);
	ck_assert_int_eq(fb_flush(fb, &done, NULL), 0);
	ck_assert_uint_eq(done.gen, 1);
	a = (struct meta_attr){.ino = 1, .size = 0, .gen = 0};
	ck_assert_int_eq(fb_overlay(fb, &a), 1); /* raced our commit */
	ck_assert_uint_eq(a.size, 8);
	a = (struct meta_attr){.ino = 1, .size = 3, .gen = 2};
	ck_assert_int_eq(fb_overlay(fb, &a), 0); /* truncated elsewhere */
	ck_assert_uint_eq(a.size, 3);
	ck_assert_int_eq(fb_read(fb, 0, sizeof(back), back), 3);
	fb_close(fb);
}
END_TEST

static Suite *filebuf_suite(void)
{
	Suite *s = suite_create("filebuf");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_sequential_fill_uploads_in_background);
	tcase_add_test(tc, test_rmw_partial_chunk_reads_old_data);
	tcase_add_test(tc, test_rmw_disjoint_writes);
	tcase_add_test(tc, test_read_after_write);
	tcase_add_test(tc, test_truncate_then_extend_reads_zeros);
	tcase_add_test(tc, test_truncate_deferred);
	tcase_add_test(tc, test_offsets_past_4gib);
	tcase_add_test(tc, test_upload_error_reported_at_flush);
	tcase_add_test(tc, test_commit_error_kept_dirty);
	tcase_add_test(tc, test_dirty_limit_blocks_writer);
	tcase_add_test(tc, test_dirty_limit_dead_cluster_fails_writer);
	tcase_add_test(tc, test_small_file_inline);
	tcase_add_test(tc, test_commit_batches);
	tcase_add_test(tc, test_rewrite_stored_chunk);
	tcase_add_test(tc, test_overlay_attrs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(filebuf_suite());
}
