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
 * evicted; which READY block goes is cachepolicy.c's choice (ARC by
 * default: a streamed file passes through without evicting the blocks
 * read more than once).
 *
 * Extent lists carry the generation they were loaded at; rc_invalidate
 * bumps the file's epoch so a load that raced with it serves only the
 * read that started it and is not kept.  Lists are reference-counted
 * (struct rc_set): the file's entry holds its current one, and open
 * handles hold the one of the version they read (rc_pin) after the entry
 * has moved on, so a handle keeps reading its version (readcache.h). */
#include "readcache.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
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
 * can itself be overwritten and collected once more while we read (and a
 * moved block can move again). */
#define RC_REFETCH_TRIES 2

enum { RF_EMPTY, RF_LOADING, RF_READY };
enum { RB_LOADING, RB_READY };

/* The extents of one version of a file, as one load returned them.
 * Shared by the file's entry (while they are its current ones), the reads
 * running on them and the handles that hold the version (rc_pin is this
 * struct).  Never changed once loaded, except that a chunk whose block
 * moved (the same bytes in a new block: class mover) is made to name the
 * new block.  Guarded by rc->mu; freed at the last reference. */
struct rc_set {
	unsigned refs;
	uint64_t gen;		 /* generation of the loaded extents */
	uint64_t size;		 /* the file's size at that generation */
	struct meta_extent *ext; /* ascending chunks */
	size_t n;
	uint8_t *inl; /* inline content (chunk 0), if any */
	size_t inl_len;
};

struct rc_file {
	uint64_t ino;
	int state;
	uint64_t epoch;	    /* renewed (rc->epochs) by every invalidation: never repeats */
	struct rc_set *set; /* RF_READY: the current extents (one reference) */
	struct rc_file *next;
};

struct rc_block {
	struct cp_node node; /* first: the policy's handle (key, size = cap) */
	struct manifest_block blk;
	uint8_t *buf;
	size_t cap; /* bytes allocated (what the bound counts) */
	int state;
	unsigned refs;
	bool ahead;	   /* loaded by read-ahead, not yet read */
	uint32_t last_end; /* end of the last read: a read from there on
			    * continues it (not a new reference) */
	struct rc_block *hnext;
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
	struct cp cp;	  /* the READY blocks' order and the bound */
	struct workq *wq; /* the prefetchers, or NULL */
	struct rc_job jobs[RC_QUEUE_MAX];
	struct rc_job *free_jobs; /* not queued nor running */
	bool stop;		  /* rc_close began: queued jobs do nothing */
	uint64_t epochs;	  /* the last epoch given out: one sequence for all files */
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
	f->epoch = ++rc->epochs;
	f->next = rc->files[h];
	rc->files[h] = f;
	return f;
}

static void set_put(struct rc_set *set)
{
	if (set != NULL && --set->refs == 0) {
		free(set->ext);
		free(set->inl);
		free(set);
	}
}

static void file_clear(struct rc_file *f)
{
	set_put(f->set);
	f->set = NULL;
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

static struct rc_block *block_of(struct cp_node *n)
{
	return (struct rc_block *)(void *)n;
}

static bool block_busy(struct cp_node *n)
{
	return block_of(n)->refs > 0;
}

/* Frees the blocks the policy picks until the cache fits its bound. */
static void evict(struct rc *rc)
{
	struct cp_node *n;

	while (cp_over(&rc->cp) && (n = cp_victim(&rc->cp, block_busy)) != NULL) {
		struct rc_block *e = block_of(n);

		cp_remove(&rc->cp, n, true);
		block_unhash(rc, e);
		rc->st.evictions++;
		free(e->buf);
		free(e);
	}
}

/* Makes a loaded or donated block resident; looks at the machine's
 * memory now and then (the bound shrinks under pressure). */
static void block_admit(struct rc *rc, struct rc_block *e, enum cp_insert how)
{
	memcpy(e->node.key, e->blk.id, BLOCK_ID_LEN);
	e->node.size = e->cap;
	cp_insert(&rc->cp, &e->node, how);
	cp_tick(&rc->cp, (uint64_t)clock_mono_ns());
	evict(rc);
}

/* ---- blocks ------------------------------------------------------------ */

/* Returns a READY block with a reference, loading it if needed.  Lock held
 * (dropped while loading).  On error returns NULL and sets *err. */
static struct rc_block *block_acquire(struct rc *rc, const struct manifest_block *blk, int *err,
				      bool prefetch, uint32_t off, uint32_t len)
{
	for (;;) {
		struct rc_block *e = block_find(rc, blk);
		uint8_t *buf;
		int rc_get;

		if (e != NULL && e->state == RB_READY) {
			e->refs++;
			if (!prefetch) {
				/* A read from where the last one ended continues
				 * it: one reference per pass over a block. */
				cp_touch(&rc->cp, &e->node, off < e->last_end);
				e->last_end = off + len;
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
		e->last_end = prefetch ? 0 : off + len;
		rc->st.fetched += e->cap;
		block_admit(rc, e, prefetch ? CP_AHEAD : CP_DEMAND);
		return e;
	}
}

static void block_release(struct rc *rc, struct rc_block *e)
{
	e->refs--;
	if (e->refs == 0 && cp_over(&rc->cp)) {
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
	e = block_acquire(rc, blk, &err, false, off, len);
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
	block_admit(rc, e, CP_DEMAND);
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
	struct rc_set *set;    /* those extents (a reference: src_done) */
};

/* Releases what a resolved chunk_src holds.  Lock held. */
static void src_done(struct chunk_src *src)
{
	free(src->inl);
	src->inl = NULL;
	set_put(src->set);
	src->set = NULL;
}

static int find_chunk(const struct rc_set *set, uint64_t chunk, struct chunk_src *out)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (set->ext[mid].chunk < chunk) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	out->kind = 0;
	out->inl = NULL;
	out->inl_len = 0;
	if (lo < set->n && set->ext[lo].chunk == chunk) {
		out->kind = 1;
		out->blk = set->ext[lo].blk;
		out->len = set->ext[lo].len;
	} else if (chunk == 0 && set->inl != NULL && set->inl_len > 0) {
		out->kind = 2;
		out->inl = malloc(set->inl_len);
		if (out->inl == NULL) {
			return -ENOMEM;
		}
		memcpy(out->inl, set->inl, set->inl_len);
		out->inl_len = set->inl_len;
	}
	return 0;
}

/* Fills out from set (taking a reference to it).  Lock held. */
static int from_set(struct rc_set *set, uint64_t chunk, bool fresh, struct chunk_src *out)
{
	int err = find_chunk(set, chunk, out);

	set->refs++;
	out->set = set;
	out->ver = (struct rc_version){.gen = set->gen, .size = set->size};
	out->fresh = fresh;
	return err;
}

/* Resolves chunk of ino to its source, loading the extent list if needed.
 * Lock held (dropped while loading).  On success out holds a reference to
 * the extents it was found in (src_done releases it); on error nothing. */
static int resolve(struct rc *rc, uint64_t ino, uint64_t chunk, struct chunk_src *out)
{
	memset(out, 0, sizeof(*out));
	for (;;) {
		struct rc_file *f = file_get(rc, ino);
		struct rc_set *set;
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
			err = from_set(f->set, chunk, false, out);
			if (err != 0) {
				src_done(out);
			}
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
		set = err == 0 ? calloc(1, sizeof(*set)) : NULL;
		if (err == 0 && set == NULL) {
			err = -ENOMEM;
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
			if (err != -ENOENT) {
				log_warn("rc.extents",
					 "ino %" PRIu64 ": reading extents failed: %s", ino,
					 obj_strerror(err));
			}
			return err;
		}
		*set = (struct rc_set){.refs = 0,
				       .gen = attr.gen,
				       .size = attr.size,
				       .ext = ext,
				       .n = n,
				       .inl = inl,
				       .inl_len = inl_len};
		if (f != NULL && f->epoch == epoch) {
			set->refs = 1;
			f->set = set;
			f->state = RF_READY;
		} else if (f != NULL) {
			/* Invalidated meanwhile: serve this read, keep nothing. */
			f->state = RF_EMPTY;
		}
		err = from_set(set, chunk, true, out);
		if (err != 0) {
			src_done(out);
		}
		return err;
	}
}

/* Forgets the loaded extents of ino, so the next resolve loads them.  Lock
 * held. */
static void drop_extents(struct rc *rc, uint64_t ino)
{
	struct rc_file *f = file_find(rc, ino);

	if (f != NULL && f->state == RF_READY) {
		f->epoch = ++rc->epochs;
		file_clear(f);
	}
}

/* True when b holds the bytes a held: a block moved (re-encoded into
 * another class, or compressed) keeps its length and the XXH3 of its
 * bytes, and the chunk keeps its valid length.  Any write makes a new
 * block whose checksum names its new bytes. */
static bool same_bytes(const struct chunk_src *a, const struct chunk_src *b)
{
	return a->kind == 1 && b->kind == 1 && a->len == b->len && a->blk.len == b->blk.len &&
	       a->blk.csum == b->blk.csum;
}

/* Makes chunk of set name blk (same bytes, another block).  Lock held. */
static void set_move(struct rc_set *set, uint64_t chunk, const struct manifest_block *blk)
{
	for (size_t i = 0; i < set->n; i++) {
		if (set->ext[i].chunk == chunk) {
			set->ext[i].blk = *blk;
			return;
		}
	}
}

/* Copies [off, off+len) of a resolved chunk to dst and releases src and
 * e.  Called without the lock. */
static void src_copy(struct rc *rc, struct chunk_src *src, struct rc_block *e, uint32_t off,
		     uint32_t len, uint8_t *dst)
{
	switch (src->kind) {
	case 1:
		block_copy(e, src->len < e->blk.len ? src->len : e->blk.len, off, len, dst);
		break;
	case 2: {
		uint32_t have = src->inl_len > rc->conf.chunk_size ? rc->conf.chunk_size
								   : (uint32_t)src->inl_len;
		uint32_t n = off < have ? have - off : 0;

		n = n > len ? len : n;
		memcpy(dst, src->inl + off, n);
		memset(dst + n, 0, len - n);
		break;
	}
	default:
		memset(dst, 0, len);
	}
	pthread_mutex_lock(&rc->mu);
	if (e != NULL) {
		block_release(rc, e);
	}
	src_done(src);
	pthread_mutex_unlock(&rc->mu);
}

/* Resolves chunk of ino and acquires its block (see rc_read_chunk).  Lock
 * held (dropped while loading).  On success *src holds its extents and *e
 * the block (NULL unless src->kind is 1): src_copy finishes. */
static int chunk_get(struct rc *rc, uint64_t ino, uint64_t chunk, uint32_t off, uint32_t len,
		     struct rc_version *ver, struct chunk_src *src, struct rc_block **e)
{
	int err = resolve(rc, ino, chunk, src);

	*e = NULL;
	if (err == 0 && ver != NULL && ver->gen != 0 && src->ver.gen != ver->gen && !src->fresh) {
		/* Cached extents of another version: load them again. */
		src_done(src);
		drop_extents(rc, ino);
		err = resolve(rc, ino, chunk, src);
	}
	for (int tries = 0;; tries++) {
		uint8_t gone[BLOCK_ID_LEN];
		int gone_err;

		if (err == 0 && ver != NULL && ver->gen != 0 && src->ver.gen != ver->gen) {
			*ver = src->ver;
			src_done(src);
			return -ESTALE;
		}
		if (err != 0 || src->kind != 1) {
			break;
		}
		*e = block_acquire(rc, &src->blk, &err, false, off, len);
		if (*e != NULL || err == -ENOMEM || tries == RC_REFETCH_TRIES) {
			break;
		}
		/* The block may have been collected after the file was
		 * overwritten (its grace period is over): fetch the extents
		 * again and read what they name now.  The same block again
		 * means it is lost, not replaced: that error stands. */
		memcpy(gone, src->blk.id, BLOCK_ID_LEN);
		gone_err = err;
		src_done(src);
		drop_extents(rc, ino);
		err = resolve(rc, ino, chunk, src);
		if (err == 0 && src->kind == 1 && memcmp(src->blk.id, gone, BLOCK_ID_LEN) == 0) {
			err = gone_err;
			break;
		}
	}
	if (err != 0) {
		src_done(src);
		if (err != -ENOMEM) {
			log_warn("rc.read", "ino %" PRIu64 " chunk %" PRIu64 ": %s", ino, chunk,
				 obj_strerror(err));
		}
	}
	return err;
}

int rc_read_chunk(struct rc *rc, uint64_t ino, uint64_t chunk, uint32_t off, uint32_t len,
		  uint8_t *dst, struct rc_version *ver)
{
	struct chunk_src src;
	struct rc_block *e;
	int err;

	if (off > rc->conf.chunk_size || len > rc->conf.chunk_size - off) {
		return -EINVAL;
	}
	pthread_mutex_lock(&rc->mu);
	err = chunk_get(rc, ino, chunk, off, len, ver, &src, &e);
	pthread_mutex_unlock(&rc->mu);
	if (err == 0) {
		src_copy(rc, &src, e, off, len, dst);
	}
	return err;
}

int rc_read_pinned(struct rc *rc, struct rc_pin **pin, uint64_t ino, uint64_t chunk, uint32_t off,
		   uint32_t len, uint8_t *dst, struct rc_version *ver)
{
	struct rc_set *set = (struct rc_set *)*pin;
	struct chunk_src src, now;
	struct rc_block *e = NULL;
	int err = 0;

	if (off > rc->conf.chunk_size || len > rc->conf.chunk_size - off) {
		return -EINVAL;
	}
	if (set == NULL) {
		/* The first read of the handle: the version it opened, if the
		 * file is still at it; that version is held from here on. */
		pthread_mutex_lock(&rc->mu);
		err = chunk_get(rc, ino, chunk, off, len, ver, &src, &e);
		if (err == 0) {
			src.set->refs++;
			*pin = (struct rc_pin *)src.set;
		}
		pthread_mutex_unlock(&rc->mu);
		if (err == 0) {
			src_copy(rc, &src, e, off, len, dst);
		}
		return err;
	}
	pthread_mutex_lock(&rc->mu);
	err = from_set(set, chunk, false, &src);
	for (int tries = 0; err == 0 && src.kind == 1; tries++) {
		e = block_acquire(rc, &src.blk, &err, false, off, len);
		if (e != NULL || err == -ENOMEM || tries == RC_REFETCH_TRIES) {
			break;
		}
		/* A block of the held version is gone.  The file's extents now
		 * say whether it moved (the same bytes in another block: read
		 * that one) or the chunk was rewritten and the old block
		 * collected after its grace period: then this version cannot
		 * be read any more, and the handle is stale.  The same block
		 * named again is lost: that error stands. */
		drop_extents(rc, ino);
		{
			int gone_err = err;

			err = resolve(rc, ino, chunk, &now);
			if (err == -ENOENT) {
				/* Removed at the shard, its blocks collected. */
				*ver = (struct rc_version){0};
				err = -ESTALE;
				break;
			}
			if (err != 0) {
				break;
			}
			if (now.kind == 1 && memcmp(now.blk.id, src.blk.id, BLOCK_ID_LEN) == 0) {
				src_done(&now);
				err = gone_err;
				break;
			}
			if (!same_bytes(&src, &now)) {
				*ver = now.ver;
				src_done(&now);
				err = -ESTALE;
				break;
			}
			set_move(set, chunk, &now.blk);
			src.blk = now.blk;
			src_done(&now);
		}
	}
	if (err != 0) {
		src_done(&src);
		pthread_mutex_unlock(&rc->mu);
		if (err != -ENOMEM && err != -ESTALE) {
			log_warn("rc.read", "ino %" PRIu64 " chunk %" PRIu64 ": %s", ino, chunk,
				 obj_strerror(err));
		}
		return err;
	}
	pthread_mutex_unlock(&rc->mu);
	src_copy(rc, &src, e, off, len, dst);
	return 0;
}

/* Reads [0, len) of chunk of set into dst (holes and past the extent:
 * zeros).  Called without the lock.  0 or a negative errno. */
static int set_read(struct rc *rc, struct rc_set *set, uint64_t chunk, uint32_t len, uint8_t *dst)
{
	struct chunk_src src;
	struct rc_block *e = NULL;
	int err;

	pthread_mutex_lock(&rc->mu);
	err = from_set(set, chunk, false, &src);
	if (err == 0 && src.kind == 1) {
		e = block_acquire(rc, &src.blk, &err, false, 0, len);
	}
	if (err != 0) {
		src_done(&src);
		pthread_mutex_unlock(&rc->mu);
		return err;
	}
	pthread_mutex_unlock(&rc->mu);
	src_copy(rc, &src, e, 0, len, dst);
	return 0;
}

/* 1 when every byte of old is in now at the same offset: the chunks old
 * covers whole name the same bytes in both, and its last, partial chunk
 * reads the same as far as old goes (an append rewrote it).  Lock held
 * on entry and return (dropped to read the partial chunk). */
static int set_extends(struct rc *rc, struct rc_set *old, struct rc_set *now)
{
	uint32_t cs = rc->conf.chunk_size, tail = (uint32_t)(old->size % cs);
	uint64_t whole = old->size / cs;
	size_t i = 0, j = 0;
	uint8_t *a, *b;
	int same;

	if (now->size < old->size || (old->inl_len > 0 && whole > 0)) {
		return 0;
	}
	for (;;) {
		bool hi = i < old->n && old->ext[i].chunk < whole;
		bool hj = j < now->n && now->ext[j].chunk < whole;
		struct chunk_src x = {.kind = 1}, y = {.kind = 1};

		if (!hi && !hj) {
			break;
		}
		if (hi != hj || old->ext[i].chunk != now->ext[j].chunk) {
			return 0; /* a hole filled, or a chunk emptied */
		}
		x.blk = old->ext[i].blk;
		x.len = old->ext[i].len;
		y.blk = now->ext[j].blk;
		y.len = now->ext[j].len;
		if (!same_bytes(&x, &y)) {
			return 0;
		}
		i++;
		j++;
	}
	if (tail == 0) {
		return 1;
	}
	a = malloc(tail);
	b = malloc(tail);
	old->refs++;
	now->refs++;
	pthread_mutex_unlock(&rc->mu);
	same = a != NULL && b != NULL && set_read(rc, old, whole, tail, a) == 0 &&
	       set_read(rc, now, whole, tail, b) == 0 && memcmp(a, b, tail) == 0;
	free(a);
	free(b);
	pthread_mutex_lock(&rc->mu);
	set_put(old);
	set_put(now);
	return same;
}

int rc_pin_extends(struct rc *rc, struct rc_pin *pin, uint64_t ino, struct rc_pin **longer,
		   struct rc_version *ver)
{
	struct rc_set *old = (struct rc_set *)pin;
	struct chunk_src now;
	int err, ext;

	if (old == NULL) {
		return 0;
	}
	pthread_mutex_lock(&rc->mu);
	err = resolve(rc, ino, 0, &now);
	if (err == 0 && now.set->gen != ver->gen && !now.fresh) {
		/* Cached extents older than the version asked about. */
		src_done(&now);
		drop_extents(rc, ino);
		err = resolve(rc, ino, 0, &now);
	}
	if (err != 0) {
		pthread_mutex_unlock(&rc->mu);
		return err == -ENOENT ? 0 : err;
	}
	free(now.inl);
	now.inl = NULL;
	*ver = now.ver;
	ext = set_extends(rc, old, now.set);
	if (ext == 1) {
		*longer = (struct rc_pin *)now.set; /* the reference now held */
		now.set = NULL;
	}
	src_done(&now);
	pthread_mutex_unlock(&rc->mu);
	return ext;
}

struct rc_pin *rc_pin_cached(struct rc *rc, uint64_t ino, uint64_t gen)
{
	struct rc_file *f;
	struct rc_set *set = NULL;

	pthread_mutex_lock(&rc->mu);
	f = file_find(rc, ino);
	if (f != NULL && f->state == RF_READY && f->set->gen == gen) {
		set = f->set;
		set->refs++;
	}
	pthread_mutex_unlock(&rc->mu);
	return (struct rc_pin *)set;
}

void rc_pin_ref(struct rc *rc, struct rc_pin *pin)
{
	pthread_mutex_lock(&rc->mu);
	((struct rc_set *)pin)->refs++;
	pthread_mutex_unlock(&rc->mu);
}

void rc_unpin(struct rc *rc, struct rc_pin *pin)
{
	if (pin == NULL) {
		return;
	}
	pthread_mutex_lock(&rc->mu);
	set_put((struct rc_set *)pin);
	pthread_mutex_unlock(&rc->mu);
}

void rc_invalidate(struct rc *rc, uint64_t ino)
{
	struct rc_file *f;

	pthread_mutex_lock(&rc->mu);
	f = file_find(rc, ino);
	if (f != NULL) {
		f->epoch = ++rc->epochs;
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
	if (f != NULL && f->state == RF_READY && f->set->gen != gen) {
		f->epoch = ++rc->epochs;
		file_clear(f);
		dropped = 1;
	}
	pthread_mutex_unlock(&rc->mu);
	return dropped;
}

uint64_t rc_epoch(struct rc *rc, uint64_t ino, int *loaded)
{
	struct rc_file *f;
	uint64_t e;

	pthread_mutex_lock(&rc->mu);
	f = file_get(rc, ino);
	e = f != NULL ? f->epoch : 0;
	*loaded = f != NULL && f->state != RF_EMPTY;
	pthread_mutex_unlock(&rc->mu);
	return e;
}

int rc_offer(struct rc *rc, uint64_t ino, uint64_t epoch, const struct meta_attr *attr,
	     struct meta_extent *ext, size_t n, uint8_t *inl, size_t inl_len)
{
	struct rc_set *set = NULL;
	struct rc_file *f;
	int taken = 0;

	if (ext_check(rc, ext, n) == 0) {
		set = calloc(1, sizeof(*set));
	}
	pthread_mutex_lock(&rc->mu);
	f = file_find(rc, ino);
	/* Nothing invalidated the file since the extents were asked for,
	 * and nobody loaded a version as new meanwhile. */
	if (set != NULL && epoch != 0 && f != NULL && f->epoch == epoch &&
	    (f->state == RF_EMPTY || (f->state == RF_READY && f->set->gen < attr->gen))) {
		if (f->state == RF_READY) {
			file_clear(f);
		}
		*set = (struct rc_set){.refs = 1,
				       .gen = attr->gen,
				       .size = attr->size,
				       .ext = ext,
				       .n = n,
				       .inl = inl,
				       .inl_len = inl_len};
		f->set = set;
		f->state = RF_READY;
		taken = 1;
	}
	pthread_mutex_unlock(&rc->mu);
	if (!taken) {
		free(set);
		free(ext);
		free(inl);
	}
	return taken;
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
		f->epoch = ++rc->epochs;
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
	uint64_t cur, first, last, fit;
	unsigned max;

	if (len == 0 || rc->wq == NULL || rc->conf.readahead == 0) {
		return;
	}
	pthread_mutex_lock(&rc->mu);
	/* Never more read ahead than a quarter of the cache's bound: blocks
	 * fetched ahead and evicted before their read are fetched twice. */
	fit = rc->cp.bound / 4 / cs;
	max = fit < rc->conf.readahead ? (unsigned)(fit > 0 ? fit : 1) : rc->conf.readahead;
	cur = (off + len - 1) / cs;
	if (off == s->next_off) {
		s->seq++;
	} else {
		if (s->win > 0) {
			rc->st.ra_collapses++;
		}
		s->seq = 0;
		s->win = 0;
		s->ra_next = 0;
	}
	s->next_off = off + len;
	/* The first read at 0 counts as sequential: most files are read
	 * whole from the start. */
	if (s->seq > 0 || off == 0) {
		if (s->win == 0) {
			s->win = 1;
		} else if (cur > s->cur && s->win < max) {
			/* Each chunk read in order doubles the bet on the next:
			 * a stream reaches the full window after a few chunks,
			 * a file read once at its start costs one chunk. */
			s->win = s->win * 2 < max ? s->win * 2 : max;
			rc->st.ra_grows++;
		}
		first = cur + 1 > s->ra_next ? cur + 1 : s->ra_next;
		last = cur + s->win;
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
	s->cur = cur;
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
		if (src.kind == 1 && block_find(rc, &src.blk) == NULL) {
			e = block_acquire(rc, &src.blk, &err, true, 0, 0);
			if (e != NULL) {
				block_release(rc, e);
			}
		}
		src_done(&src);
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
	{
		uint64_t min = conf->cache_min_bytes;
		int err;

		/* 0 or more than the bound: a fixed bound. */
		if (min == 0 || min > conf->cache_bytes) {
			min = conf->cache_bytes;
		}
		err = cp_init(&rc->cp, conf->policy, min, conf->cache_bytes);
		if (err != 0) {
			free(rc);
			return err;
		}
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
	cp_fini(&rc->cp);
	pthread_cond_destroy(&rc->cond);
	pthread_mutex_destroy(&rc->mu);
	free(rc);
}

void rc_get_stats(struct rc *rc, struct rc_stats *out)
{
	pthread_mutex_lock(&rc->mu);
	*out = rc->st;
	out->cached = cp_bytes(&rc->cp);
	cp_get_stats(&rc->cp, &out->policy);
	pthread_mutex_unlock(&rc->mu);
}
