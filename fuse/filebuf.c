/* filebuf.c: per-inode write-back chunks, the uploader pool and the commit
 * (see filebuf.h).  Never calls the cluster directly and never blocks while
 * holding its lock; FUSE workers and the uploaders (threads of its work
 * queue, common/workq.h, one item per chunk to store) run here.
 *
 * Locking: one mutex (ctx->mu) guards every file's chunk map, sizes and
 * the upload queue, and one condition variable announces every change.
 * A single lock is enough: copies done under it are at most one FUSE
 * write (max_write) or one chunk, and it lets memory pressure pick victims
 * in any file without a lock order between files.  Backend calls (reads of
 * old content, uploads, commits, donations) always run with it released.
 *
 * Chunk life cycle:
 *   (none) --write--> DIRTY --queued, claimed by an uploader--> UPLOADING
 *   UPLOADING --ok--> STORED (buffer donated, block known)
 *   UPLOADING --error--> DIRTY (err set; flush retries, reports)
 *   STORED --commit ok--> (removed)     STORED --write--> DIRTY (src = block)
 * Invariants:
 *   1. buf holds cap bytes (grown on demand up to chunk_size, so a 4 KiB
 *      file never allocates or zeroes a whole chunk); len <= cap.  The
 *      bytes [len, cap) are undefined: nothing reads them, and a write
 *      starting past len zeroes the gap [len, start) first, so no byte is
 *      zeroed only to be overwritten by the data that follows.
 *   2. A chunk that is not `filled` holds only the bytes [w0, w1) written
 *      since it was created; the older content [0, clen) comes from the
 *      committed file (or block src) and is merged in by chunk_fill before
 *      any read outside [w0, w1) and before upload (lazy read-modify-write:
 *      a chunk rewritten from start to end never reads the old data).
 *   3. A chunk with busy > 0, claimed, or fetching is not freed; writers
 *      wait while it is UPLOADING or fetching (the buffer is being read).
 *   4. A block is discarded only if it never took part in a commit: a
 *      timed-out commit may still have been applied. */
#include "filebuf.h"
#include "filebuf_i.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/workq.h"

/* Largest file offset: off_t is signed 64-bit in FUSE. */
#define FB_MAX_SIZE ((uint64_t)INT64_MAX)
#define FB_MAX_UPLOADERS 64
/* First allocation of a chunk buffer: one page, what a small file needs.
 * Buffers grow by doubling; memory is reserved for a whole chunk anyway
 * (max_dirty bounds chunks, not bytes), so growth never waits. */
#define FB_MIN_BUF 4096u

/* struct chunk, struct fbuf and struct fb_ctx: filebuf_i.h. */

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- chunk map (sorted array) ------------------------------------------ */

static size_t ch_pos(const struct fbuf *fb, uint64_t idx)
{
	size_t lo = 0, hi = fb->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (fb->ch[mid]->idx < idx) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo;
}

static struct chunk *ch_find(const struct fbuf *fb, uint64_t idx)
{
	size_t p = ch_pos(fb, idx);

	return p < fb->n && fb->ch[p]->idx == idx ? fb->ch[p] : NULL;
}

static int ch_insert(struct fbuf *fb, struct chunk *c)
{
	size_t p = ch_pos(fb, c->idx);

	if (fb->n == fb->cap) {
		size_t cap = fb->cap ? fb->cap * 2 : 16;
		struct chunk **nc = realloc(fb->ch, cap * sizeof(*nc));

		if (nc == NULL) {
			return -ENOMEM;
		}
		fb->ch = nc;
		fb->cap = cap;
	}
	memmove(&fb->ch[p + 1], &fb->ch[p], (fb->n - p) * sizeof(*fb->ch));
	fb->ch[p] = c;
	fb->n++;
	return 0;
}

static void garbage_add(struct fbuf *fb, const struct manifest_block *b)
{
	if (fb->n_garbage == fb->cap_garbage) {
		size_t cap = fb->cap_garbage ? fb->cap_garbage * 2 : 8;
		struct manifest_block *ng = realloc(fb->garbage, cap * sizeof(*ng));

		if (ng == NULL) {
			return; /* a leaked block costs space, never data */
		}
		fb->garbage = ng;
		fb->cap_garbage = cap;
	}
	fb->garbage[fb->n_garbage++] = *b;
}

/* Hands the garbage list to the backend; called without the lock. */
static void garbage_discard(struct fb_ctx *ctx, struct manifest_block *g, size_t n)
{
	for (size_t i = 0; i < n && ctx->ops->discard != NULL; i++) {
		ctx->ops->discard(ctx->arg, &g[i]);
	}
	free(g);
}

/* Takes c off the upload queue: its item stays in the work queue and is
 * skipped when a thread takes it.  Lock held. */
static void q_remove(struct fb_ctx *ctx, struct chunk *c)
{
	if (!c->queued) {
		return;
	}
	c->queued = false;
	ctx->nqueued--;
}

static void uploader_run(struct workq_item *it);

/* Queues c for upload.  Lock held.  The work queue is unbounded: chunks
 * are bounded by max_dirty already. */
static void q_push(struct fb_ctx *ctx, struct chunk *c)
{
	int rc;

	if (c->queued || c->claimed) {
		return;
	}
	c->queued = true;
	ctx->nqueued++;
	if (c->inq) {
		return; /* its item is still queued and will take it */
	}
	c->wi.fn = uploader_run;
	c->inq = true;
	rc = workq_push(ctx->wq, &c->wi);
	if (rc != 0) {
		/* Only while stopping, when no file is open: report it to a
		 * flush as an upload failure rather than lose the chunk. */
		c->inq = false;
		c->queued = false;
		ctx->nqueued--;
		c->err = rc;
		ctx->last_err = rc;
		ctx->fail_seq++;
		pthread_cond_broadcast(&ctx->cond);
	}
}

/* Removes c from its file and frees it.  c must not be busy or claimed. */
static void ch_drop(struct fbuf *fb, struct chunk *c)
{
	struct fb_ctx *ctx = fb->ctx;
	size_t p = ch_pos(fb, c->idx);

	q_remove(ctx, c);
	if (c->buf != NULL) {
		free(c->buf);
		ctx->mem -= ctx->conf.chunk_size;
	}
	if (c->state == CH_STORED && !c->commit_tried && !c->committing) {
		garbage_add(fb, &c->blk);
	}
	if (c->has_src && c->src_garbage) {
		garbage_add(fb, &c->src);
	}
	if (p < fb->n && fb->ch[p] == c) {
		memmove(&fb->ch[p], &fb->ch[p + 1], (fb->n - p - 1) * sizeof(*fb->ch));
		fb->n--;
	}
	if (c->inq) {
		c->orphaned = true; /* freed by the thread that takes its item */
		c->fb = NULL;
	} else {
		free(c);
	}
	pthread_cond_broadcast(&ctx->cond);
}

/* ---- lazy read-modify-write --------------------------------------------- */

/* Does reading or writing [a, b) of c need the older content merged? */
static bool needs_fill(const struct chunk *c, uint32_t a, uint32_t b)
{
	if (c->filled) {
		return false;
	}
	if (b > c->clen) {
		b = c->clen;
	}
	if (a >= b) {
		return false;
	}
	return !(c->w0 < c->w1 && c->w0 <= a && b <= c->w1);
}

static void mark_filled(struct fbuf *fb, struct chunk *c)
{
	c->filled = true;
	if (c->has_src && c->src_garbage) {
		garbage_add(fb, &c->src);
	}
	c->has_src = false;
	c->src_garbage = false;
}

/* Grows c's buffer to hold at least need bytes (<= chunk_size); what it
 * adds is undefined (invariant 1).  Buffers double, but a need past a
 * quarter chunk (a large writer) takes the whole chunk at once, sparing
 * the copies of a chain of reallocs.  Lock held: the chunk is DIRTY and
 * nobody reads its buffer without the lock.  Returns 0 or -ENOMEM. */
static int ch_grow(struct fb_ctx *ctx, struct chunk *c, uint32_t need)
{
	uint32_t cap = c->cap;
	uint8_t *nb;

	if (need <= cap) {
		return 0;
	}
	if (need > ctx->conf.chunk_size / 4) {
		cap = ctx->conf.chunk_size;
	}
	while (cap < need) {
		cap = cap > ctx->conf.chunk_size / 2 ? ctx->conf.chunk_size : cap * 2;
	}
	nb = realloc(c->buf, cap);
	if (nb == NULL) {
		return -ENOMEM;
	}
	c->buf = nb;
	c->cap = cap;
	return 0;
}

/* Merges the older content [0, clen) outside [w0, w1) into c's buffer.
 * Called with the lock held and a busy reference on c; drops the lock
 * while reading.  Returns 0 or the backend's error. */
static int chunk_fill(struct fb_ctx *ctx, struct chunk *c)
{
	struct manifest_block src;
	bool has_src;
	uint32_t clen;
	uint8_t *tmp;
	int rc;

	while (c->fetching) {
		pthread_cond_wait(&ctx->cond, &ctx->mu);
	}
	if (c->filled) {
		return 0;
	}
	c->fetching = true;
	clen = c->clen;
	has_src = c->has_src;
	src = c->src;
	pthread_mutex_unlock(&ctx->mu);
	tmp = malloc(clen ? clen : 1);
	rc = tmp == NULL ? -ENOMEM
			 : ctx->ops->read(ctx->arg, c->fb->ino, c->idx, has_src ? &src : NULL, 0,
					  clen, tmp, NULL, NULL);
	pthread_mutex_lock(&ctx->mu);
	if (rc == 0) {
		rc = ch_grow(ctx, c, clen);
	}
	if (rc == 0) {
		/* Writers waited while fetching, so [w0, w1) is unchanged and
		 * newer than anything read. */
		uint32_t w0 = c->w0 < c->w1 ? c->w0 : clen, w1 = c->w0 < c->w1 ? c->w1 : clen;

		if (w0 > clen) {
			w0 = clen;
		}
		memcpy(c->buf, tmp, w0);
		if (w1 < clen) {
			memcpy(c->buf + w1, tmp + w1, clen - w1);
		}
		if (c->len < clen) {
			c->len = clen;
		}
		mark_filled(c->fb, c);
	}
	c->fetching = false;
	pthread_cond_broadcast(&ctx->cond);
	free(tmp);
	return rc;
}

/* ---- memory ----------------------------------------------------------- */

/* Queues dirty chunks of any file for upload so their buffers can be
 * freed: full chunks first (they will not change again soon). */
static void queue_victims(struct fb_ctx *ctx)
{
	unsigned busy = ctx->inflight + ctx->nqueued;
	unsigned want = ctx->conf.uploaders > busy ? ctx->conf.uploaders - busy : 0;

	for (int pass = 0; pass < 2 && want > 0; pass++) {
		for (struct fbuf *fb = ctx->files; fb != NULL && want > 0; fb = fb->next) {
			for (size_t i = 0; i < fb->n && want > 0; i++) {
				struct chunk *c = fb->ch[i];

				if (c->state != CH_DIRTY || c->queued || c->claimed ||
				    c->fetching) {
					continue;
				}
				if (pass == 0 && c->len != ctx->conf.chunk_size) {
					continue;
				}
				q_push(ctx, c);
				want--;
			}
		}
	}
}

/* Reserves one chunk buffer, waiting for uploads to free memory.  Called
 * with the lock held (dropped while waiting).  Returns 0, or the error of
 * an upload that failed while waiting, so a dead cluster fails writes
 * instead of hanging them. */
static int mem_reserve(struct fb_ctx *ctx)
{
	uint64_t seq = ctx->fail_seq;
	uint32_t cs = ctx->conf.chunk_size;

	while (ctx->mem + cs > ctx->conf.max_dirty) {
		if (ctx->fail_seq != seq) {
			return ctx->last_err < 0 ? ctx->last_err : -EIO;
		}
		queue_victims(ctx);
		pthread_cond_wait(&ctx->cond, &ctx->mu);
	}
	ctx->mem += cs;
	return 0;
}

static void mem_unreserve(struct fb_ctx *ctx)
{
	ctx->mem -= ctx->conf.chunk_size;
	pthread_cond_broadcast(&ctx->cond);
}

/* The first size of a chunk buffer. */
static uint32_t buf_first(const struct fb_ctx *ctx)
{
	return ctx->conf.chunk_size < FB_MIN_BUF ? ctx->conf.chunk_size : FB_MIN_BUF;
}

/* Allocates a small zeroed chunk buffer (buf_first bytes) against a
 * reservation of a whole chunk.  Called and returns with the lock held,
 * but drops it: callers re-check their state.  Returns 0 (*out owns one
 * reserved chunk of memory) or a negative errno. */
static int buf_alloc(struct fb_ctx *ctx, uint8_t **out)
{
	int rc = mem_reserve(ctx);
	uint8_t *b;

	if (rc < 0) {
		return rc;
	}
	pthread_mutex_unlock(&ctx->mu);
	b = calloc(1, buf_first(ctx));
	pthread_mutex_lock(&ctx->mu);
	if (b == NULL) {
		mem_unreserve(ctx);
		return -ENOMEM;
	}
	*out = b;
	return 0;
}

/* ---- uploaders --------------------------------------------------------- */

/* Runs on an uploader thread for a chunk's item: fill the chunk's older
 * content if needed, store it, donate the buffer.  The lock is dropped
 * for the backend calls; claimed keeps the chunk alive meanwhile. */
static void uploader_run(struct workq_item *it)
{
	struct chunk *c = (struct chunk *)(void *)((char *)it - offsetof(struct chunk, wi));
	struct fb_ctx *ctx = c->ctx;
	struct manifest_block blk;
	uint8_t *donate = NULL;
	size_t donate_cap = 0;
	int rc;

	pthread_mutex_lock(&ctx->mu);
	c->inq = false;
	if (c->orphaned) {
		pthread_mutex_unlock(&ctx->mu);
		free(c);
		return;
	}
	if (!c->queued) {
		pthread_mutex_unlock(&ctx->mu);
		return;
	}
	c->queued = false;
	ctx->nqueued--;
	if (c->state != CH_DIRTY || c->claimed) {
		pthread_mutex_unlock(&ctx->mu);
		return;
	}
	c->claimed = true;
	c->busy++;
	ctx->inflight++;
	rc = chunk_fill(ctx, c);
	if (rc == 0) {
		struct fbuf *fb = c->fb;
		const uint8_t *data = c->buf;
		uint64_t ino = fb->ino, size = fb->size;
		uint32_t len = c->len;

		c->state = CH_UPLOADING;
		pthread_mutex_unlock(&ctx->mu);
		rc = ctx->ops->upload(ctx->arg, ino, size, data, len, &blk);
		pthread_mutex_lock(&ctx->mu);
	}
	if (rc == 0) {
		c->state = CH_STORED;
		c->blk = blk;
		c->err = 0;
		c->commit_tried = false;
		donate = c->buf;
		donate_cap = c->cap;
		c->buf = NULL;
		c->cap = 0;
		ctx->mem -= ctx->conf.chunk_size;
	} else {
		c->state = CH_DIRTY;
		c->err = rc;
		ctx->last_err = rc;
		ctx->fail_seq++;
		log_warn("fb.upload", "ino %" PRIu64 " chunk %" PRIu64 ": upload failed: %s",
			 c->fb->ino, c->idx, obj_strerror(rc));
	}
	c->claimed = false;
	c->busy--;
	ctx->inflight--;
	pthread_cond_broadcast(&ctx->cond);
	pthread_mutex_unlock(&ctx->mu);
	if (donate != NULL) {
		if (ctx->ops->donate != NULL) {
			ctx->ops->donate(ctx->arg, &blk, donate, donate_cap);
		} else {
			free(donate);
		}
	}
}

int fb_ctx_open(const struct fb_conf *conf, const struct fb_ops *ops, void *arg,
		struct fb_ctx **out)
{
	struct fb_ctx *ctx;
	int rc;

	if (conf->chunk_size == 0 || conf->uploaders == 0 || conf->uploaders > FB_MAX_UPLOADERS ||
	    ops->read == NULL || ops->upload == NULL || ops->commit == NULL) {
		return -EINVAL;
	}
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		return -ENOMEM;
	}
	ctx->conf = *conf;
	if (ctx->conf.max_dirty < 2 * (uint64_t)conf->chunk_size) {
		/* One chunk being filled while another uploads: less could
		 * never make progress. */
		ctx->conf.max_dirty = 2 * (uint64_t)conf->chunk_size;
	}
	if (ctx->conf.max_batch == 0 || ctx->conf.max_batch > META_EXTENTS_MAX) {
		ctx->conf.max_batch = META_EXTENTS_MAX;
	}
	ctx->ops = ops;
	ctx->arg = arg;
	pthread_mutex_init(&ctx->mu, NULL);
	pthread_cond_init(&ctx->cond, NULL);
	rc = workq_start("fb.upload", conf->uploaders, 0, &ctx->wq);
	if (rc != 0) {
		fb_ctx_close(ctx);
		return rc;
	}
	*out = ctx;
	return 0;
}

void fb_ctx_close(struct fb_ctx *ctx)
{
	if (ctx == NULL) {
		return;
	}
	/* Every file is closed: what is left queued are items of dropped
	 * chunks, which the threads free. */
	workq_stop(ctx->wq);
	pthread_cond_destroy(&ctx->cond);
	pthread_mutex_destroy(&ctx->mu);
	free(ctx);
}

uint64_t fb_ctx_dirty_bytes(struct fb_ctx *ctx)
{
	uint64_t m;

	pthread_mutex_lock(&ctx->mu);
	m = ctx->mem;
	pthread_mutex_unlock(&ctx->mu);
	return m;
}

/* ---- files ------------------------------------------------------------- */

int fb_open(struct fb_ctx *ctx, uint64_t ino, uint64_t size, uint64_t gen, struct fbuf **out)
{
	struct fbuf *fb = calloc(1, sizeof(*fb));

	if (fb == NULL) {
		return -ENOMEM;
	}
	fb->ctx = ctx;
	fb->ino = ino;
	fb->size = fb->base = size;
	fb->gen = gen;
	pthread_mutex_lock(&ctx->mu);
	fb->next = ctx->files;
	if (ctx->files != NULL) {
		ctx->files->prev = fb;
	}
	ctx->files = fb;
	pthread_mutex_unlock(&ctx->mu);
	*out = fb;
	return 0;
}

/* True while some chunk of fb is used by another thread. */
static bool fb_busy(const struct fbuf *fb)
{
	if (fb->flushing) {
		return true;
	}
	for (size_t i = 0; i < fb->n; i++) {
		const struct chunk *c = fb->ch[i];

		if (c->busy > 0 || c->claimed || c->fetching) {
			return true;
		}
	}
	return false;
}

void fb_close(struct fbuf *fb)
{
	struct fb_ctx *ctx;
	struct manifest_block *g;
	size_t ng;

	if (fb == NULL) {
		return;
	}
	ctx = fb->ctx;
	pthread_mutex_lock(&ctx->mu);
	while (fb_busy(fb)) {
		pthread_cond_wait(&ctx->cond, &ctx->mu);
	}
	if (fbi_held(fb)) {
		log_warn("fb.drop", "ino %" PRIu64 ": dropping %zu uncommitted chunk(s)%s", fb->ino,
			 fb->n, fb->trunc ? " and a truncate" : "");
	}
	while (fb->n > 0) {
		ch_drop(fb, fb->ch[fb->n - 1]);
	}
	if (fb->prev != NULL) {
		fb->prev->next = fb->next;
	} else {
		ctx->files = fb->next;
	}
	if (fb->next != NULL) {
		fb->next->prev = fb->prev;
	}
	g = fb->garbage;
	ng = fb->n_garbage;
	pthread_mutex_unlock(&ctx->mu);
	garbage_discard(ctx, g, ng);
	free(fb->ch);
	free(fb);
}

/* Lock held. */
static void refresh_locked(struct fbuf *fb, uint64_t size, uint64_t gen)
{
	if (!fbi_held(fb) && !fb->flushing && gen >= fb->gen) {
		fb->size = fb->base = size;
		fb->gen = gen;
	}
}

void fb_refresh(struct fbuf *fb, uint64_t size, uint64_t gen)
{
	pthread_mutex_lock(&fb->ctx->mu);
	refresh_locked(fb, size, gen);
	pthread_mutex_unlock(&fb->ctx->mu);
}

int fb_overlay(struct fbuf *fb, struct meta_attr *a)
{
	int changed = 0;

	pthread_mutex_lock(&fb->ctx->mu);
	refresh_locked(fb, a->size, a->gen);
	if (fbi_held(fb) || fb->flushing || a->gen < fb->gen) {
		changed = a->size != fb->size;
		a->size = fb->size;
		if (fb->mtime_ns != 0) {
			a->mtime_ns = a->ctime_ns = fb->mtime_ns;
			changed = 1;
		}
	}
	pthread_mutex_unlock(&fb->ctx->mu);
	return changed;
}

int fb_dirty(struct fbuf *fb)
{
	int d;

	pthread_mutex_lock(&fb->ctx->mu);
	d = fbi_held(fb);
	pthread_mutex_unlock(&fb->ctx->mu);
	return d;
}

int fb_stat(struct fbuf *fb, uint64_t *size, int64_t *mtime_ns)
{
	int d;

	pthread_mutex_lock(&fb->ctx->mu);
	d = fbi_held(fb);
	*size = fb->size;
	*mtime_ns = fb->mtime_ns;
	pthread_mutex_unlock(&fb->ctx->mu);
	return d;
}

/* ---- write ------------------------------------------------------------- */

/* Creates chunk idx with a fresh buffer.  Lock held.  Returns 1 (look the
 * chunk up again: the lock was dropped) or a negative errno. */
static int ch_create(struct fbuf *fb, uint64_t idx)
{
	struct fb_ctx *ctx = fb->ctx;
	uint32_t cs = ctx->conf.chunk_size;
	uint64_t start = idx * cs;
	struct chunk *c;
	uint8_t *b;
	int rc = buf_alloc(ctx, &b);

	if (rc != 0) {
		return rc;
	}
	if (ch_find(fb, idx) != NULL) {
		free(b);
		mem_unreserve(ctx);
		return 1;
	}
	c = calloc(1, sizeof(*c));
	if (c != NULL) {
		c->idx = idx;
	}
	if (c == NULL || ch_insert(fb, c) != 0) {
		free(c);
		free(b);
		mem_unreserve(ctx);
		return -ENOMEM;
	}
	c->fb = fb;
	c->ctx = ctx;
	c->buf = b;
	c->cap = buf_first(ctx);
	c->state = CH_DIRTY;
	c->clen = fb->base > start ? (uint32_t)(fb->base - start < cs ? fb->base - start : cs) : 0;
	c->filled = c->clen == 0;
	return 1;
}

/* Gives a STORED chunk a buffer again; its block becomes the older
 * content.  Lock held; c->busy keeps c alive while the lock is dropped.
 * Returns 1 (re-check) or a negative errno. */
static int ch_redirty(struct fbuf *fb, struct chunk *c)
{
	struct fb_ctx *ctx = fb->ctx;
	uint8_t *b;
	int rc;

	c->busy++;
	rc = buf_alloc(ctx, &b);
	c->busy--;
	pthread_cond_broadcast(&ctx->cond);
	if (rc != 0) {
		return rc;
	}
	if (c->state != CH_STORED) {
		free(b);
		mem_unreserve(ctx);
		return 1;
	}
	c->buf = b;
	c->cap = buf_first(ctx);
	c->state = CH_DIRTY;
	c->has_src = true;
	c->src = c->blk;
	c->src_garbage = !c->commit_tried && !c->committing;
	c->clen = c->len;
	c->filled = false;
	c->w0 = c->w1 = 0;
	c->ver++;
	return 1;
}

ssize_t fb_write(struct fbuf *fb, uint64_t off, const void *buf, size_t len)
{
	struct fb_ctx *ctx = fb->ctx;
	uint32_t cs = ctx->conf.chunk_size;
	const uint8_t *src = buf;
	size_t done = 0;
	int rc = 0;

	if (len == 0) {
		return 0;
	}
	if (off > FB_MAX_SIZE || len > FB_MAX_SIZE - off) {
		return -EFBIG;
	}
	pthread_mutex_lock(&ctx->mu);
	while (done < len) {
		uint64_t pos = off + done, idx = pos / cs;
		uint32_t a = (uint32_t)(pos % cs);
		uint32_t n = len - done < cs - a ? (uint32_t)(len - done) : cs - a;
		struct chunk *c = ch_find(fb, idx);

		if (c == NULL) {
			rc = ch_create(fb, idx);
		} else if (c->state == CH_UPLOADING || c->fetching) {
			pthread_cond_wait(&ctx->cond, &ctx->mu);
			rc = 1;
		} else if (c->state == CH_STORED) {
			rc = ch_redirty(fb, c);
		} else if (!c->filled && c->w0 < c->w1 && (a > c->w1 || a + n < c->w0)) {
			/* Not adjacent to what was written: merge the old
			 * content now, keeping [w0, w1) one interval. */
			c->busy++;
			rc = chunk_fill(ctx, c);
			c->busy--;
			pthread_cond_broadcast(&ctx->cond);
			rc = rc < 0 ? rc : 1;
		} else {
			rc = 0;
		}
		if (rc < 0) {
			break;
		}
		if (rc > 0) {
			continue;
		}
		if ((rc = ch_grow(ctx, c, a + n)) != 0) {
			break;
		}
		if (a > c->len) {
			memset(c->buf + c->len, 0, a - c->len);
		}
		memcpy(c->buf + a, src + done, n);
		if (!c->filled) {
			if (c->w0 == c->w1) {
				c->w0 = a;
				c->w1 = a + n;
			} else {
				c->w0 = a < c->w0 ? a : c->w0;
				c->w1 = a + n > c->w1 ? a + n : c->w1;
			}
			if (c->w0 == 0 && c->w1 >= c->clen) {
				mark_filled(fb, c);
			}
		}
		if (c->len < a + n) {
			c->len = a + n;
		}
		c->err = 0;
		c->ver++;
		done += n;
		if (pos + n > fb->size) {
			fb->size = pos + n;
		}
		if (a + n == cs && c->filled && c->len == cs) {
			/* Filled up to its end by a sequential writer: store it
			 * now, overlapping the upload with the next writes. */
			q_push(ctx, c);
		}
	}
	if (done > 0) {
		fb->mtime_ns = now_ns();
	}
	pthread_mutex_unlock(&ctx->mu);
	return done > 0 ? (ssize_t)done : rc;
}

/* ---- read -------------------------------------------------------------- */

/* A read found the committed file at generation gen with size size, not
 * at fb->gen.  Lock held.  A newer version replaces what a clean buffer
 * holds (sizes and generation); with buffered writes only the committed
 * size and generation move, the local size stays ours. */
void fbi_stale_adopt(struct fbuf *fb, uint64_t gen, uint64_t size)
{
	if (gen < fb->gen) {
		return; /* an older answer (a stale replica): ask again */
	}
	fb->gen = gen;
	if (fb->trunc) {
		return; /* nothing of the committed content is ours any more */
	}
	fb->base = size;
	if (fb->n == 0 && !fb->flushing) {
		fb->size = size;
	}
}

/* Reads [a, a+n) of a STORED chunk whose file bytes end at len. */
static int read_stored(struct fb_ctx *ctx, struct fbuf *fb, uint64_t idx,
		       const struct manifest_block *blk, uint32_t len, uint32_t a, uint32_t n,
		       uint8_t *dst)
{
	uint32_t have = a < len ? len - a : 0;

	if (have > n) {
		have = n;
	}
	memset(dst + have, 0, n - have);
	if (have == 0) {
		return 0;
	}
	return ctx->ops->read(ctx->arg, fb->ino, idx, blk, a, have, dst, NULL, NULL);
}

/* How often a read adopts a newer version of the committed content before
 * it gives up (each time the file changed at the shard under the read). */
#define FB_READ_STALE_TRIES 8

ssize_t fb_read(struct fbuf *fb, uint64_t off, size_t len, void *dst)
{
	struct fb_ctx *ctx = fb->ctx;
	uint32_t cs = ctx->conf.chunk_size;
	uint8_t *out = dst;
	size_t done = 0;
	unsigned stale = 0;
	int rc = 0;

	pthread_mutex_lock(&ctx->mu);
	if (off >= fb->size) {
		pthread_mutex_unlock(&ctx->mu);
		return 0;
	}
	if (len > fb->size - off) {
		len = (size_t)(fb->size - off);
	}
	while (done < len) {
		uint64_t pos = off + done, idx = pos / cs;
		uint32_t a = (uint32_t)(pos % cs);
		uint32_t n = len - done < cs - a ? (uint32_t)(len - done) : cs - a;
		struct chunk *c = ch_find(fb, idx);

		if (pos >= fb->size) {
			break; /* the file was cut under this read: it ends here */
		}
		if (n > fb->size - pos) {
			n = (uint32_t)(fb->size - pos);
			len = done + n;
		}
		if (c != NULL && c->buf != NULL) {
			if (needs_fill(c, a, a + n)) {
				c->busy++;
				rc = chunk_fill(ctx, c);
				c->busy--;
				pthread_cond_broadcast(&ctx->cond);
				if (rc < 0) {
					break;
				}
				continue;
			}
			uint32_t have = a < c->len ? (c->len - a < n ? c->len - a : n) : 0;

			memcpy(out + done, c->buf + a, have);
			memset(out + done + have, 0, n - have);
		} else if (c != NULL) {
			struct manifest_block blk = c->blk;
			uint32_t clen = c->len;

			pthread_mutex_unlock(&ctx->mu);
			rc = read_stored(ctx, fb, idx, &blk, clen, a, n, out + done);
			pthread_mutex_lock(&ctx->mu);
		} else {
			/* Committed content: only below the committed size;
			 * past it the file was extended by us (zeros). */
			uint64_t base = fb->base;
			uint32_t have =
			    base > pos ? (base - pos < n ? (uint32_t)(base - pos) : n) : 0;

			memset(out + done + have, 0, n - have);
			if (have > 0) {
				uint64_t gen = fb->gen, size = 0;

				pthread_mutex_unlock(&ctx->mu);
				rc = ctx->ops->read(ctx->arg, fb->ino, idx, NULL, a, have,
						    out + done, &gen, &size);
				pthread_mutex_lock(&ctx->mu);
				if (rc == -ESTALE && ++stale < FB_READ_STALE_TRIES) {
					/* The committed file is another version than
					 * the size we hold (truncated or rewritten at
					 * the shard before this buffer heard of it):
					 * reading its extents with our size would
					 * serve zeros that were never written.  Take
					 * that version's size, read again. */
					fbi_stale_adopt(fb, gen, size);
					rc = 0;
					continue;
				}
				if (rc == -ESTALE) {
					log_warn("fb.stale",
						 "ino %" PRIu64 ": the file changed under %u "
						 "reads in a row",
						 fb->ino, stale);
					rc = -EIO;
				}
			}
		}
		if (rc < 0) {
			break;
		}
		done += n;
	}
	pthread_mutex_unlock(&ctx->mu);
	return done > 0 ? (ssize_t)done : rc;
}

/* ---- flush and commit ------------------------------------------------- */

/* Uploads every dirty chunk of fb and waits.  Lock held.  Returns 0 when
 * all chunks are STORED, else the first upload error of this round. */
static int upload_all(struct fbuf *fb)
{
	struct fb_ctx *ctx = fb->ctx;
	uint64_t id = ++ctx->round;

	for (;;) {
		bool busy = false;
		int err = 0;

		for (size_t i = 0; i < fb->n; i++) {
			struct chunk *c = fb->ch[i];

			if (c->state == CH_DIRTY && !c->queued && !c->claimed) {
				if (c->try_id == id && c->err != 0) {
					err = err != 0 ? err : c->err;
					continue;
				}
				c->try_id = id;
				q_push(ctx, c);
			}
			if (c->queued || c->claimed) {
				busy = true;
			}
		}
		if (!busy) {
			return err;
		}
		pthread_cond_wait(&ctx->cond, &ctx->mu);
	}
}

/* Commits fb's single small chunk as inline content.  Lock held. */
static int commit_inline(struct fbuf *fb, struct chunk *c, struct meta_attr *attr, int *committed)
{
	struct fb_ctx *ctx = fb->ctx;
	struct fb_commit cm = {0};
	uint64_t ver, size = fb->size;
	uint8_t *data;
	int rc;

	q_remove(ctx, c);
	c->busy++;
	rc = chunk_fill(ctx, c);
	if (rc != 0) {
		c->busy--;
		pthread_cond_broadcast(&ctx->cond);
		return rc;
	}
	data = malloc(size ? size : 1);
	if (data == NULL) {
		c->busy--;
		pthread_cond_broadcast(&ctx->cond);
		return -ENOMEM;
	}
	memcpy(data, c->buf, size < c->len ? size : c->len);
	if (size > c->len) {
		memset(data + c->len, 0, size - c->len);
	}
	ver = c->ver;
	cm.ino = fb->ino;
	cm.size = size;
	cm.mtime_ns = fb->mtime_ns;
	cm.inline_data = data;
	cm.inline_len = size;
	cm.is_inline = 1;
	cm.truncate = fb->trunc; /* inline content replaces the whole file */
	pthread_mutex_unlock(&ctx->mu);
	rc = ctx->ops->commit(ctx->arg, &cm, attr);
	pthread_mutex_lock(&ctx->mu);
	free(data);
	c->busy--;
	if (rc == 0) {
		(*committed)++;
		fb->base = size;
		fb->trunc = false;
		fb->seq++;
		if (attr->gen > fb->gen) {
			fb->gen = attr->gen;
		}
		if (c->ver == ver) {
			ch_drop(fb, c);
		}
	} else {
		log_warn("fb.commit", "ino %" PRIu64 ": inline commit failed: %s", fb->ino,
			 obj_strerror(rc));
	}
	pthread_cond_broadcast(&ctx->cond);
	return rc;
}

/* Commits fb's deferred truncate alone (nothing buffered, or content that
 * does not fit inline and commits as extents after it).  Lock held. */
static int commit_cut(struct fbuf *fb, struct meta_attr *attr, int *committed)
{
	struct fb_ctx *ctx = fb->ctx;
	struct fb_commit cm = {.ino = fb->ino, .mtime_ns = fb->mtime_ns, .truncate = 1};
	int rc;

	pthread_mutex_unlock(&ctx->mu);
	rc = ctx->ops->commit(ctx->arg, &cm, attr);
	pthread_mutex_lock(&ctx->mu);
	if (rc != 0) {
		log_warn("fb.commit", "ino %" PRIu64 ": truncate failed: %s", fb->ino,
			 obj_strerror(rc));
		return rc;
	}
	(*committed)++;
	fb->trunc = false;
	fb->seq++;
	if (attr->gen > fb->gen) {
		fb->gen = attr->gen;
	}
	return 0;
}

/* Commits every STORED chunk of fb, in batches of max_batch.  Lock
 * held (dropped during the commits; fb->flushing keeps the chunks). */
static int commit_stored(struct fbuf *fb, struct meta_attr *attr, int *committed)
{
	struct fb_ctx *ctx = fb->ctx;
	uint32_t cs = ctx->conf.chunk_size;
	struct meta_extent *ext;
	struct chunk **cl;
	uint64_t *ver, end = fb->base;
	size_t n = 0, ok = 0;
	int rc = 0;

	for (size_t i = 0; i < fb->n; i++) {
		n += fb->ch[i]->state == CH_STORED;
	}
	if (n == 0) {
		return 0;
	}
	ext = calloc(n, sizeof(*ext));
	cl = calloc(n, sizeof(*cl));
	ver = calloc(n, sizeof(*ver));
	if (ext == NULL || cl == NULL || ver == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	n = 0;
	for (size_t i = 0; i < fb->n; i++) {
		struct chunk *c = fb->ch[i];

		if (c->state != CH_STORED) {
			continue;
		}
		c->committing = true;
		c->commit_tried = true;
		cl[n] = c;
		ver[n] = c->ver;
		ext[n].chunk = c->idx;
		ext[n].blk = c->blk;
		ext[n].len = c->len;
		n++;
	}
	pthread_mutex_unlock(&ctx->mu);
	while (ok < n) {
		struct fb_commit cm = {0};
		size_t cnt = n - ok < ctx->conf.max_batch ? n - ok : ctx->conf.max_batch;
		const struct meta_extent *last = &ext[ok + cnt - 1];
		uint64_t last_end = last->chunk * cs + last->len;

		/* The size never covers a chunk committed in a later batch. */
		if (last_end > end) {
			end = last_end;
		}
		cm.ino = fb->ino;
		cm.size = end;
		cm.mtime_ns = fb->mtime_ns;
		cm.ext = &ext[ok];
		cm.n_ext = cnt;
		rc = ctx->ops->commit(ctx->arg, &cm, attr);
		if (rc != 0) {
			break;
		}
		ok += cnt;
		(*committed)++;
	}
	pthread_mutex_lock(&ctx->mu);
	for (size_t i = 0; i < n; i++) {
		struct chunk *c = cl[i];

		c->committing = false;
		if (i < ok && c->state == CH_STORED && c->ver == ver[i] && c->busy == 0) {
			ch_drop(fb, c);
		}
	}
	if (ok > 0 && end > fb->base) {
		fb->base = end;
	}
	if (ok > 0) {
		fb->seq++;
	}
	if (ok > 0 && attr->gen > fb->gen) {
		fb->gen = attr->gen;
	}
	if (rc != 0) {
		log_warn("fb.commit", "ino %" PRIu64 ": commit of %zu extent(s) failed: %s",
			 fb->ino, n - ok, obj_strerror(rc));
	}
out:
	free(ext);
	free(cl);
	free(ver);
	return rc;
}

int fb_flush(struct fbuf *fb, struct meta_attr *attr, int *committed)
{
	struct fb_ctx *ctx = fb->ctx;
	struct meta_attr scratch;
	struct manifest_block *g;
	int rc = 0, dummy;
	size_t ng;

	if (attr == NULL) {
		attr = &scratch;
	}
	if (committed == NULL) {
		committed = &dummy;
	}
	*committed = 0;
	pthread_mutex_lock(&ctx->mu);
	while (fb->flushing) {
		pthread_cond_wait(&ctx->cond, &ctx->mu);
	}
	fb->flushing = true;
	if (fb->n == 1 && fb->ch[0]->idx == 0 && fb->ch[0]->state == CH_DIRTY &&
	    !fb->ch[0]->claimed && fb->size <= ctx->conf.inline_max &&
	    fb->size <= ctx->conf.chunk_size) {
		/* A tiny file lives in its metadata record: no block. */
		rc = commit_inline(fb, fb->ch[0], attr, committed);
	} else if (fb->n > 0 || fb->trunc) {
		rc = upload_all(fb);
		if (rc == 0 && fb->trunc) {
			rc = commit_cut(fb, attr, committed);
		}
		if (rc == 0) {
			rc = commit_stored(fb, attr, committed);
		}
	}
	if (!fbi_held(fb)) {
		fb->mtime_ns = 0;
	}
	fb->flushing = false;
	pthread_cond_broadcast(&ctx->cond);
	g = fb->garbage;
	ng = fb->n_garbage;
	fb->garbage = NULL;
	fb->n_garbage = fb->cap_garbage = 0;
	pthread_mutex_unlock(&ctx->mu);
	garbage_discard(ctx, g, ng);
	return rc;
}

/* Waits until no other thread uses fb's chunks, then drops them all
 * (blocks stored for them become garbage).  Lock held. */
static void drop_all_locked(struct fbuf *fb)
{
	while (fb_busy(fb)) {
		pthread_cond_wait(&fb->ctx->cond, &fb->ctx->mu);
	}
	while (fb->n > 0) {
		ch_drop(fb, fb->ch[fb->n - 1]);
	}
}

void fb_discard(struct fbuf *fb)
{
	struct fb_ctx *ctx = fb->ctx;

	pthread_mutex_lock(&ctx->mu);
	drop_all_locked(fb);
	fb->size = fb->base;
	if (!fb->trunc) {
		fb->mtime_ns = 0; /* (a pending cut keeps the time of its open) */
	}
	fb->seq++;
	pthread_cond_broadcast(&ctx->cond);
	pthread_mutex_unlock(&ctx->mu);
}

void fb_truncate_deferred(struct fbuf *fb)
{
	struct fb_ctx *ctx = fb->ctx;

	pthread_mutex_lock(&ctx->mu);
	drop_all_locked(fb);
	fb->trunc = true;
	fb->size = fb->base = 0;
	fb->mtime_ns = now_ns();
	fb->seq++;
	pthread_cond_broadcast(&ctx->cond);
	pthread_mutex_unlock(&ctx->mu);
}

void fb_truncated(struct fbuf *fb, uint64_t size, uint64_t gen)
{
	struct fb_ctx *ctx = fb->ctx;
	uint32_t cs = ctx->conf.chunk_size;

	pthread_mutex_lock(&ctx->mu);
	while (fb_busy(fb)) {
		pthread_cond_wait(&ctx->cond, &ctx->mu);
	}
	if (fb->trunc) {
		/* An O_TRUNC came after the flush that preceded this size
		 * change: the cut (and what was written since) is newer and
		 * supersedes it at the next commit.  Nothing of the committed
		 * content may come back. */
		if (gen > fb->gen) {
			fb->gen = gen;
		}
		fb->seq++;
		pthread_cond_broadcast(&ctx->cond);
		pthread_mutex_unlock(&ctx->mu);
		return;
	}
	for (size_t i = fb->n; i-- > 0;) {
		struct chunk *c = fb->ch[i];
		uint64_t start = c->idx * (uint64_t)cs;
		uint32_t keep;

		if (start >= size) {
			ch_drop(fb, c);
			continue;
		}
		if (size - start >= c->len) {
			continue;
		}
		keep = (uint32_t)(size - start);
		c->len = keep;
		c->ver++;
		if (c->buf != NULL) {
			if (!c->filled) {
				c->clen = c->clen < keep ? c->clen : keep;
				c->w1 = c->w1 < keep ? c->w1 : keep;
				c->w0 = c->w0 < c->w1 ? c->w0 : c->w1;
				if (c->clen == 0 || (c->w0 == 0 && c->w1 >= c->clen)) {
					mark_filled(fb, c);
				}
			}
		}
	}
	fb->size = fb->base = size;
	fb->seq++;
	if (gen > fb->gen) {
		fb->gen = gen;
	}
	pthread_cond_broadcast(&ctx->cond);
	pthread_mutex_unlock(&ctx->mu);
}
