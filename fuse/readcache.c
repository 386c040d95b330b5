/* readcache.c: extent lists, the in-memory block LRU and read-ahead (see
 * readcache.h).  Never holds its lock across a backend call; FUSE workers,
 * uploaders (donations) and the prefetchers (threads of its work queue,
 * common/workq.h, one item per chunk to read ahead) run here.
 *
 * One mutex guards the file table, the block table, the LRU and the
 * free read-ahead jobs; one condition variable announces finished loads.  A
 * block being loaded is in the table (state LOADING) so concurrent readers
 * of the same block wait for one fetch instead of issuing several.  A
 * block with refs > 0 is being copied out without the lock and is never
 * evicted; eviction walks the LRU from its cold end.
 *
 * Extent lists carry the generation they were loaded at; rc_invalidate
 * bumps the file's epoch so a load that raced with it serves only the
 * read that started it and is not kept. */
#include "readcache.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/workq.h"

#define RC_FILE_BUCKETS 1024
#define RC_BLOCK_BUCKETS 4096
/* Prefetch jobs waiting; more are dropped (a reader that outruns the
 * prefetchers gains nothing from a longer queue). */
#define RC_QUEUE_MAX 64
#define RC_MAX_PREFETCHERS 16
/* Extent reloads of one read whose block could not be fetched: a block
 * collected after an overwrite is replaced by the next version's, which
 * can itself be overwritten and collected once more while we read. */
#define RC_REFETCH_TRIES 2

enum { RF_EMPTY, RF_LOADING, RF_READY };
enum { RB_LOADING, RB_READY };

struct rc_file {
	uint64_t ino;
	int state;
	uint64_t epoch;		 /* bumped by every invalidation */
	uint64_t gen;		 /* generation of the loaded extents */
	uint64_t size;		 /* the file's size at that generation */
	struct meta_extent *ext; /* ascending chunks */
	size_t n;
	uint8_t *inl; /* inline content (chunk 0), if any */
	size_t inl_len;
	struct rc_file *next;
};

struct rc_block {
	struct manifest_block blk;
	uint8_t *buf;
	size_t cap; /* bytes allocated (what the bound counts) */
	int state;
	unsigned refs;
	bool ahead; /* loaded by read-ahead, not yet read */
	struct rc_block *hnext;
	struct rc_block *lprev, *lnext; /* LRU: head = most recent */
};

/* One read-ahead job: an item of the prefetch work queue.  RC_QUEUE_MAX
 * of them live in struct rc; the free ones are on a list. */
struct rc_job {
	struct workq_item wi;
	struct rc *rc;
	uint64_t ino, chunk;
	struct rc_job *free_next;
};

struct rc {
	struct rc_conf conf;
	const struct rc_ops *ops;
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* a load finished */
	struct rc_file *files[RC_FILE_BUCKETS];
	struct rc_block *blocks[RC_BLOCK_BUCKETS];
	struct rc_block *lru_head, *lru_tail;
	uint64_t bytes;
	struct workq *wq; /* the prefetchers, or NULL */
	struct rc_job jobs[RC_QUEUE_MAX];
	struct rc_job *free_jobs; /* not queued nor running */
	bool stop;		  /* rc_close began: queued jobs do nothing */
	struct rc_stats st;
};

/* ---- tables ------------------------------------------------------------ */

static size_t file_hash(uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ULL) >> 32) % RC_FILE_BUCKETS;
}

static size_t block_hash(const struct manifest_block *b)
{
	uint64_t h;

	/* Block ids are random: any 8 bytes of them hash well. */
	memcpy(&h, b->id, sizeof(h));
	return (size_t)(h % RC_BLOCK_BUCKETS);
}

static struct rc_file *file_find(struct rc *rc, uint64_t ino)
{
	struct rc_file *f = rc->files[file_hash(ino)];

	while (f != NULL && f->ino != ino) {
		f = f->next;
	}
	return f;
}

static struct rc_file *file_get(struct rc *rc, uint64_t ino)
{
	struct rc_file *f = file_find(rc, ino);
	size_t h = file_hash(ino);

	if (f != NULL) {
		return f;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		return NULL;
	}
	f->ino = ino;
	f->next = rc->files[h];
	rc->files[h] = f;
	return f;
}

static void file_clear(struct rc_file *f)
{
	free(f->ext);
	free(f->inl);
	f->ext = NULL;
	f->inl = NULL;
	f->n = f->inl_len = 0;
	f->state = RF_EMPTY;
}

static struct rc_block *block_find(struct rc *rc, const struct manifest_block *b)
{
	struct rc_block *e = rc->blocks[block_hash(b)];

	while (e != NULL && memcmp(e->blk.id, b->id, BLOCK_ID_LEN) != 0) {
		e = e->hnext;
	}
	return e;
}

static void block_unhash(struct rc *rc, struct rc_block *e)
{
	struct rc_block **pp = &rc->blocks[block_hash(&e->blk)];

	while (*pp != NULL && *pp != e) {
		pp = &(*pp)->hnext;
	}
	if (*pp == e) {
		*pp = e->hnext;
	}
}

static void lru_unlink(struct rc *rc, struct rc_block *e)
{
	if (e->lprev != NULL) {
		e->lprev->lnext = e->lnext;
	} else if (rc->lru_head == e) {
		rc->lru_head = e->lnext;
	}
	if (e->lnext != NULL) {
		e->lnext->lprev = e->lprev;
	} else if (rc->lru_tail == e) {
		rc->lru_tail = e->lprev;
	}
	e->lprev = e->lnext = NULL;
}

static void lru_push(struct rc *rc, struct rc_block *e)
{
	e->lprev = NULL;
	e->lnext = rc->lru_head;
	if (rc->lru_head != NULL) {
		rc->lru_head->lprev = e;
	}
	rc->lru_head = e;
	if (rc->lru_tail == NULL) {
		rc->lru_tail = e;
	}
}

/* Frees cold blocks until the cache fits its bound. */
static void evict(struct rc *rc)
{
	struct rc_block *e = rc->lru_tail;

	while (rc->bytes > rc->conf.cache_bytes && e != NULL) {
		struct rc_block *prev = e->lprev;

		if (e->refs == 0) {
			lru_unlink(rc, e);
			block_unhash(rc, e);
			rc->bytes -= e->cap;
			rc->st.evictions++;
			free(e->buf);
			free(e);
		}
		e = prev;
	}
}

/* ---- blocks ------------------------------------------------------------ */

/* Returns a READY block with a reference, loading it if needed.  Lock held
 * (dropped while loading).  On error returns NULL and sets *err. */
static struct rc_block *block_acquire(struct rc *rc, const struct manifest_block *blk, int *err,
				      bool prefetch)
{
	for (;;) {
		struct rc_block *e = block_find(rc, blk);
		uint8_t *buf;
		int rc_get;

		if (e != NULL && e->state == RB_READY) {
			e->refs++;
			lru_unlink(rc, e);
			lru_push(rc, e);
			if (!prefetch) {
				rc->st.hits++;
				rc->st.readahead_hits += e->ahead;
				e->ahead = false;
			}
			return e;
		}
		if (e != NULL) {
			pthread_cond_wait(&rc->cond, &rc->mu);
			continue;
		}
		if (blk->len == 0 || blk->len > MSG_BLOCK_MAX) {
			*err = -EIO;
			return NULL;
		}
		e = calloc(1, sizeof(*e));
		if (e == NULL) {
			*err = -ENOMEM;
			return NULL;
		}
		e->blk = *blk;
		e->state = RB_LOADING;
		e->refs = 1;
		e->hnext = rc->blocks[block_hash(blk)];
		rc->blocks[block_hash(blk)] = e;
		if (prefetch) {
			rc->st.prefetched++;
			e->ahead = true;
		} else {
			rc->st.misses++;
		}
		pthread_mutex_unlock(&rc->mu);
		buf = malloc(blk->len);
		rc_get = buf == NULL ? -ENOMEM : rc->ops->get_block(rc->arg, blk, buf);
		pthread_mutex_lock(&rc->mu);
		pthread_cond_broadcast(&rc->cond);
		if (rc_get != 0) {
			block_unhash(rc, e);
			free(buf);
			free(e);
			*err = rc_get;
			return NULL;
		}
		e->buf = buf;
		e->cap = blk->len;
		e->state = RB_READY;
		rc->bytes += e->cap;
		rc->st.fetched += e->cap;
		lru_push(rc, e);
		evict(rc);
		return e;
	}
}

static void block_release(struct rc *rc, struct rc_block *e)
{
	e->refs--;
	if (e->refs == 0 && rc->bytes > rc->conf.cache_bytes) {
		evict(rc);
	}
}

/* Copies [off, off+len) of e (valid bytes: have) to dst, zeros past it.
 * Called without the lock; e is referenced. */
static void block_copy(const struct rc_block *e, uint32_t have, uint32_t off, uint32_t len,
		       uint8_t *dst)
{
	uint32_t n = off < have ? have - off : 0;

	if (n > len) {
		n = len;
	}
	memcpy(dst, e->buf + off, n);
	memset(dst + n, 0, len - n);
}

int rc_read_block(struct rc *rc, const struct manifest_block *blk, uint32_t off, uint32_t len,
		  uint8_t *dst)
{
	struct rc_block *e;
	int err = 0;

	pthread_mutex_lock(&rc->mu);
	e = block_acquire(rc, blk, &err, false);
	pthread_mutex_unlock(&rc->mu);
	if (e == NULL) {
		return err;
	}
	block_copy(e, blk->len < e->blk.len ? blk->len : e->blk.len, off, len, dst);
	pthread_mutex_lock(&rc->mu);
	block_release(rc, e);
	pthread_mutex_unlock(&rc->mu);
	return 0;
}

void rc_donate(struct rc *rc, const struct manifest_block *blk, uint8_t *buf, size_t cap)
{
	struct rc_block *e;

	pthread_mutex_lock(&rc->mu);
	if (block_find(rc, blk) != NULL || cap < blk->len || blk->len == 0 ||
	    (e = calloc(1, sizeof(*e))) == NULL) {
		pthread_mutex_unlock(&rc->mu);
		free(buf);
		return;
	}
	e->blk = *blk;
	e->buf = buf;
	e->cap = cap;
	e->state = RB_READY;
	e->hnext = rc->blocks[block_hash(blk)];
	rc->blocks[block_hash(blk)] = e;
	rc->bytes += cap;
	lru_push(rc, e);
	evict(rc);
	pthread_mutex_unlock(&rc->mu);
}

/* ---- extents ----------------------------------------------------------- */

static int ext_cmp(const void *a, const void *b)
{
	const struct meta_extent *x = a, *y = b;

	return x->chunk < y->chunk ? -1 : x->chunk > y->chunk;
}

/* Refuses extents no shard could have written: a reply is input. */
static int ext_check(const struct rc *rc, struct meta_extent *ext, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (ext[i].len > ext[i].blk.len || ext[i].len > rc->conf.chunk_size ||
		    ext[i].blk.len > MSG_BLOCK_MAX) {
			return -EIO;
		}
	}
	if (n > 1) {
		qsort(ext, n, sizeof(*ext), ext_cmp);
	}
	return 0;
}

/* What a read of one chunk needs, copied out under the lock. */
struct chunk_src {
	int kind; /* 0 hole, 1 block, 2 inline (bytes in inl) */
	struct manifest_block blk;
	uint32_t len;
	uint8_t *inl; /* malloc'd copy of the inline bytes */
	size_t inl_len;
	struct rc_version ver; /* of the extents it was found in */
	bool fresh;	       /* those extents were loaded by this call */
};

static int find_chunk(const struct meta_extent *ext, size_t n, const uint8_t *inl, size_t inl_len,
		      uint64_t chunk, struct chunk_src *out)
{
	size_t lo = 0, hi = n;

	memset(out, 0, sizeof(*out));
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ext[mid].chunk < chunk) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (lo < n && ext[lo].chunk == chunk) {
		out->kind = 1;
		out->blk = ext[lo].blk;
		out->len = ext[lo].len;
	} else if (chunk == 0 && inl != NULL && inl_len > 0) {
		out->kind = 2;
		out->inl = malloc(inl_len);
		if (out->inl == NULL) {
			return -ENOMEM;
		}
		memcpy(out->inl, inl, inl_len);
		out->inl_len = inl_len;
	}
	return 0;
}

/* Resolves chunk of ino to its source, loading the extent list if needed.
 * Lock held (dropped while loading). */
static int resolve(struct rc *rc, uint64_t ino, uint64_t chunk, struct chunk_src *out)
{
	memset(out, 0, sizeof(*out));
	for (;;) {
		struct rc_file *f = file_get(rc, ino);
		struct meta_extent *ext = NULL;
		struct meta_attr attr;
		uint8_t *inl = NULL;
		size_t n = 0, inl_len = 0;
		uint64_t epoch;
		int err;

		if (f == NULL) {
			return -ENOMEM;
		}
		if (f->state == RF_READY) {
			err = find_chunk(f->ext, f->n, f->inl, f->inl_len, chunk, out);
			out->ver = (struct rc_version){.gen = f->gen, .size = f->size};
			return err;
		}
		if (f->state == RF_LOADING) {
			pthread_cond_wait(&rc->cond, &rc->mu);
			continue;
		}
		f->state = RF_LOADING;
		epoch = f->epoch;
		pthread_mutex_unlock(&rc->mu);
		err = rc->ops->extents(rc->arg, ino, &ext, &n, &attr, &inl, &inl_len);
		if (err == 0) {
			err = ext_check(rc, ext, n);
		}
		pthread_mutex_lock(&rc->mu);
		pthread_cond_broadcast(&rc->cond);
		/* f stays in the table while LOADING (rc_forget only marks). */
		f = file_find(rc, ino);
		if (err != 0) {
			if (f != NULL) {
				f->state = RF_EMPTY;
			}
			free(ext);
			free(inl);
			log_warn("rc.extents", "ino %" PRIu64 ": reading extents failed: %s", ino,
				 obj_strerror(err));
			return err;
		}
		if (f != NULL && f->epoch == epoch) {
			f->ext = ext;
			f->n = n;
			f->inl = inl;
			f->inl_len = inl_len;
			f->gen = attr.gen;
			f->size = attr.size;
			f->state = RF_READY;
			err = find_chunk(ext, n, inl, inl_len, chunk, out);
		} else {
			/* Invalidated meanwhile: serve this read, keep nothing. */
			if (f != NULL) {
				f->state = RF_EMPTY;
			}
			err = find_chunk(ext, n, inl, inl_len, chunk, out);
			free(ext);
			free(inl);
		}
		out->ver = (struct rc_version){.gen = attr.gen, .size = attr.size};
		out->fresh = true;
		return err;
	}
}

/* Forgets the loaded extents of ino, so the next resolve loads them.  Lock
 * held. */
static void drop_extents(struct rc *rc, uint64_t ino)
{
	struct rc_file *f = file_find(rc, ino);

	if (f != NULL && f->state == RF_READY) {
		f->epoch++;
		file_clear(f);
	}
}

int rc_read_chunk(struct rc *rc, uint64_t ino, uint64_t chunk, uint32_t off, uint32_t len,
		  uint8_t *dst, struct rc_version *ver)
{
	struct chunk_src src;
	struct rc_block *e = NULL;
	int err;

	if (off > rc->conf.chunk_size || len > rc->conf.chunk_size - off) {
		return -EINVAL;
	}
	pthread_mutex_lock(&rc->mu);
	err = resolve(rc, ino, chunk, &src);
	if (err == 0 && ver != NULL && ver->gen != 0 && src.ver.gen != ver->gen && !src.fresh) {
		/* Cached extents of another version: load them again. */
		free(src.inl);
		drop_extents(rc, ino);
		err = resolve(rc, ino, chunk, &src);
	}
	for (int tries = 0;; tries++) {
		uint8_t gone[BLOCK_ID_LEN];
		int gone_err;

		if (err == 0 && ver != NULL && ver->gen != 0 && src.ver.gen != ver->gen) {
			pthread_mutex_unlock(&rc->mu);
			free(src.inl);
			*ver = src.ver;
			return -ESTALE;
		}
		if (err != 0 || src.kind != 1) {
			break;
		}
		e = block_acquire(rc, &src.blk, &err, false);
		if (e != NULL || err == -ENOMEM || tries == RC_REFETCH_TRIES) {
			break;
		}
		/* The block may have been collected after the file was
		 * overwritten (its grace period is over): fetch the extents
		 * again and read what they name now.  The same block again
		 * means it is lost, not replaced: that error stands. */
		memcpy(gone, src.blk.id, BLOCK_ID_LEN);
		gone_err = err;
		drop_extents(rc, ino);
		err = resolve(rc, ino, chunk, &src);
		if (err == 0 && src.kind == 1 && memcmp(src.blk.id, gone, BLOCK_ID_LEN) == 0) {
			err = gone_err;
			break;
		}
	}
	pthread_mutex_unlock(&rc->mu);
	if (err != 0) {
		free(src.inl);
		if (err != -ENOMEM) {
			log_warn("rc.read", "ino %" PRIu64 " chunk %" PRIu64 ": %s", ino, chunk,
				 obj_strerror(err));
		}
		return err;
	}
	switch (src.kind) {
	case 1:
		block_copy(e, src.len < e->blk.len ? src.len : e->blk.len, off, len, dst);
		pthread_mutex_lock(&rc->mu);
		block_release(rc, e);
		pthread_mutex_unlock(&rc->mu);
		break;
	case 2: {
		uint32_t have =
		    src.inl_len > rc->conf.chunk_size ? rc->conf.chunk_size : (uint32_t)src.inl_len;
		uint32_t n = off < have ? have - off : 0;

		n = n > len ? len : n;
		memcpy(dst, src.inl + off, n);
		memset(dst + n, 0, len - n);
		free(src.inl);
		break;
	}
	default:
		memset(dst, 0, len);
	}
	return 0;
}

void rc_invalidate(struct rc *rc, uint64_t ino)
{
	struct rc_file *f;

	pthread_mutex_lock(&rc->mu);
	f = file_find(rc, ino);
	if (f != NULL) {
		f->epoch++;
		if (f->state == RF_READY) {
			file_clear(f);
		}
	}
	pthread_mutex_unlock(&rc->mu);
}

int rc_check_gen(struct rc *rc, uint64_t ino, uint64_t gen)
{
	struct rc_file *f;
	int dropped = 0;

	pthread_mutex_lock(&rc->mu);
	f = file_find(rc, ino);
	if (f != NULL && f->state == RF_READY && f->gen != gen) {
		f->epoch++;
		file_clear(f);
		dropped = 1;
	}
	pthread_mutex_unlock(&rc->mu);
	return dropped;
}

void rc_forget(struct rc *rc, uint64_t ino)
{
	struct rc_file **pp, *f;

	pthread_mutex_lock(&rc->mu);
	pp = &rc->files[file_hash(ino)];
	while (*pp != NULL && (*pp)->ino != ino) {
		pp = &(*pp)->next;
	}
	f = *pp;
	if (f != NULL) {
		f->epoch++;
		if (f->state != RF_LOADING) {
			/* A loader finds its file again by ino, so only an idle
			 * entry may go. */
			*pp = f->next;
			file_clear(f);
			free(f);
		}
	}
	pthread_mutex_unlock(&rc->mu);
}

/* ---- read-ahead -------------------------------------------------------- */

void rc_hint(struct rc *rc, struct rc_stream *s, uint64_t ino, uint64_t off, size_t len)
{
	uint32_t cs = rc->conf.chunk_size;
	uint64_t cur, first, last;

	if (len == 0 || rc->wq == NULL || rc->conf.readahead == 0) {
		return;
	}
	pthread_mutex_lock(&rc->mu);
	if (off == s->next_off) {
		s->seq++;
	} else {
		s->seq = 0;
		s->ra_next = 0;
	}
	s->next_off = off + len;
	/* The first read at 0 counts as sequential: most files are read
	 * whole from the start. */
	if (s->seq > 0 || off == 0) {
		cur = (off + len - 1) / cs;
		first = cur + 1 > s->ra_next ? cur + 1 : s->ra_next;
		last = cur + rc->conf.readahead;
		for (uint64_t c = first; c <= last && rc->free_jobs != NULL; c++) {
			struct rc_job *j = rc->free_jobs;

			rc->free_jobs = j->free_next;
			j->ino = ino;
			j->chunk = c;
			if (workq_push(rc->wq, &j->wi) != 0) {
				j->free_next = rc->free_jobs;
				rc->free_jobs = j;
				break;
			}
			s->ra_next = c + 1;
		}
	}
	pthread_mutex_unlock(&rc->mu);
}

/* Runs one job on a prefetch thread: loads the chunk's block into the
 * cache unless it is there (or the cache is closing). */
static void prefetch_run(struct workq_item *it)
{
	struct rc_job *job = (struct rc_job *)(void *)it;
	struct rc *rc = job->rc;
	struct chunk_src src;
	struct rc_block *e;
	int err = 0;

	pthread_mutex_lock(&rc->mu);
	if (!rc->stop && resolve(rc, job->ino, job->chunk, &src) == 0) {
		if (src.kind != 1) {
			free(src.inl);
		} else if (block_find(rc, &src.blk) == NULL) {
			e = block_acquire(rc, &src.blk, &err, true);
			if (e != NULL) {
				block_release(rc, e);
			}
		}
	}
	job->free_next = rc->free_jobs;
	rc->free_jobs = job;
	pthread_mutex_unlock(&rc->mu);
}

/* ---- life cycle -------------------------------------------------------- */

int rc_open(const struct rc_conf *conf, const struct rc_ops *ops, void *arg, struct rc **out)
{
	struct rc *rc;

	if (conf->chunk_size == 0 || ops->extents == NULL || ops->get_block == NULL) {
		return -EINVAL;
	}
	rc = calloc(1, sizeof(*rc));
	if (rc == NULL) {
		return -ENOMEM;
	}
	rc->conf = *conf;
	rc->ops = ops;
	rc->arg = arg;
	pthread_mutex_init(&rc->mu, NULL);
	pthread_cond_init(&rc->cond, NULL);
	for (size_t i = RC_QUEUE_MAX; i-- > 0;) {
		rc->jobs[i].wi.fn = prefetch_run;
		rc->jobs[i].rc = rc;
		rc->jobs[i].free_next = rc->free_jobs;
		rc->free_jobs = &rc->jobs[i];
	}
	if (conf->prefetchers > 0) {
		int err = workq_start("rc.prefetch",
				      conf->prefetchers < RC_MAX_PREFETCHERS ? conf->prefetchers
									     : RC_MAX_PREFETCHERS,
				      RC_QUEUE_MAX, &rc->wq);

		if (err != 0) {
			rc_close(rc);
			return err;
		}
	}
	*out = rc;
	return 0;
}

void rc_close(struct rc *rc)
{
	if (rc == NULL) {
		return;
	}
	/* Queued read-ahead is only a guess: drop it, do not fetch it. */
	pthread_mutex_lock(&rc->mu);
	rc->stop = true;
	pthread_mutex_unlock(&rc->mu);
	workq_stop(rc->wq);
	for (size_t i = 0; i < RC_FILE_BUCKETS; i++) {
		while (rc->files[i] != NULL) {
			struct rc_file *f = rc->files[i];

			rc->files[i] = f->next;
			file_clear(f);
			free(f);
		}
	}
	for (size_t i = 0; i < RC_BLOCK_BUCKETS; i++) {
		while (rc->blocks[i] != NULL) {
			struct rc_block *e = rc->blocks[i];

			rc->blocks[i] = e->hnext;
			free(e->buf);
			free(e);
		}
	}
	pthread_cond_destroy(&rc->cond);
	pthread_mutex_destroy(&rc->mu);
	free(rc);
}

void rc_get_stats(struct rc *rc, struct rc_stats *out)
{
	pthread_mutex_lock(&rc->mu);
	*out = rc->st;
	out->cached = rc->bytes;
	pthread_mutex_unlock(&rc->mu);
}
