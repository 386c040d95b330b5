/* dio.c: coherence of direct and buffered I/O (see dio.h).
 *
 * Per tracked inode: gen, bumped by every direct write once its bytes are
 * in the write buffer, and replying[s], the buffered reads whose data was
 * read at a generation g with g % DIO_SLOTS == s and whose reply is not
 * sent yet.  A direct write at generation g is finished by the one
 * completion thread, in order: it waits until replying[(g-1) % DIO_SLOTS]
 * is 0 (every read that may carry the bytes before this write has put them
 * in the page cache), then invalidates the range and replies.  A read that
 * began at g-1 and settles after the bump sees the new gen and reads again.
 * Reads of earlier generations were waited out by earlier writes (one
 * thread, FIFO); a slot shared with a later generation only makes the
 * wait longer, bounded by DIO_WAIT_MS.
 *
 * The invalidation itself runs on a second thread and the write's reply
 * waits for it at most DIO_INVAL_MS: the kernel's invalidation waits for
 * the page locks of READs in flight, and a readahead READ may be waiting
 * for a slot among the kernel's background requests -- slots that the
 * direct writes whose replies we hold fill up (seen: a hung mount with 16
 * async writes in flight).  Past that bound the reply goes first, which
 * frees the slots, and the invalidation completes just after it. */
#include "dio.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "../common/log.h"
#include "../common/workq.h"

#define DIO_BUCKETS 64
#define DIO_SLOTS 16
#define DIO_WAIT_MS 1000
#define DIO_TRIES 8
#define DIO_INVAL_MS 20

struct dio_ino {
	struct dio_ino *next;
	uint64_t ino;
	unsigned refs; /* O_DIRECT opens, reads and writes in progress */
	uint64_t gen;
	unsigned replying[DIO_SLOTS];
};

struct dio_write {
	struct workq_item wi;
	struct dio *d;
	struct dio_ino *e;
	fuse_req_t req;
	uint64_t off, gen;
	size_t n;
};

/* One invalidation; freed by whichever of the two threads is last. */
struct dio_inval {
	struct workq_item wi;
	struct dio *d;
	uint64_t ino, off;
	size_t n;
	int done, abandoned;
};

struct dio {
	struct fuse_session *se;
	struct workq *q;     /* write completions, in order */
	struct workq *invq;  /* invalidations */
	atomic_uint tracked; /* entries in the table: 0 lets reads skip the lock */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct dio_ino *tab[DIO_BUCKETS];
};

static struct dio_ino **slot_of(struct dio *d, uint64_t ino)
{
	struct dio_ino **p = &d->tab[ino % DIO_BUCKETS];

	while (*p != NULL && (*p)->ino != ino) {
		p = &(*p)->next;
	}
	return p;
}

/* Drops one reference; the last one frees the entry.  Lock held. */
static void unref(struct dio *d, struct dio_ino *e)
{
	struct dio_ino **p;

	if (--e->refs > 0) {
		return;
	}
	p = slot_of(d, e->ino);
	*p = e->next;
	free(e);
	atomic_fetch_sub(&d->tracked, 1);
}

int dio_open(struct dio *d, uint64_t ino)
{
	struct dio_ino **p, *e;

	pthread_mutex_lock(&d->mu);
	p = slot_of(d, ino);
	if (*p == NULL) {
		e = calloc(1, sizeof(*e));
		if (e == NULL) {
			pthread_mutex_unlock(&d->mu);
			return -ENOMEM;
		}
		e->ino = ino;
		*p = e;
		atomic_fetch_add(&d->tracked, 1);
	}
	(*p)->refs++;
	pthread_mutex_unlock(&d->mu);
	return 0;
}

void dio_release(struct dio *d, uint64_t ino)
{
	struct dio_ino *e;

	pthread_mutex_lock(&d->mu);
	e = *slot_of(d, ino);
	if (e != NULL) {
		unref(d, e);
	}
	pthread_mutex_unlock(&d->mu);
}

void dio_read_begin(struct dio *d, uint64_t ino, struct dio_read *r)
{
	r->e = NULL;
	r->tries = 0;
	if (atomic_load(&d->tracked) == 0) {
		return;
	}
	pthread_mutex_lock(&d->mu);
	r->e = *slot_of(d, ino);
	if (r->e != NULL) {
		r->e->refs++;
		r->gen = r->e->gen;
	}
	pthread_mutex_unlock(&d->mu);
}

int dio_read_settle(struct dio *d, struct dio_read *r)
{
	struct dio_ino *e = r->e;

	if (e == NULL) {
		return 0;
	}
	pthread_mutex_lock(&d->mu);
	if (e->gen != r->gen && ++r->tries < DIO_TRIES) {
		r->gen = e->gen;
		pthread_mutex_unlock(&d->mu);
		return 1;
	}
	/* After DIO_TRIES (direct writes arriving faster than one read):
	 * counted at the current gen, so the next write still waits for
	 * this reply. */
	r->gen = e->gen;
	e->replying[r->gen % DIO_SLOTS]++;
	pthread_mutex_unlock(&d->mu);
	return 0;
}

void dio_read_end(struct dio *d, struct dio_read *r)
{
	if (r->e == NULL) {
		return;
	}
	pthread_mutex_lock(&d->mu);
	r->e->replying[r->gen % DIO_SLOTS]--;
	pthread_cond_broadcast(&d->cond);
	unref(d, r->e);
	pthread_mutex_unlock(&d->mu);
	r->e = NULL;
}

static void run_inval(struct workq_item *it)
{
	struct dio_inval *iv = (struct dio_inval *)it;
	struct dio *d = iv->d;
	int rc = fuse_lowlevel_notify_inval_inode(d->se, iv->ino, (off_t)iv->off, (off_t)iv->n);

	if (rc != 0 && rc != -ENOENT) {
		log_debug("fuse.dio", "ino %" PRIu64 ": invalidation failed: %d", iv->ino, rc);
	}
	pthread_mutex_lock(&d->mu);
	iv->done = 1;
	pthread_cond_broadcast(&d->cond);
	if (iv->abandoned) {
		free(iv);
	}
	pthread_mutex_unlock(&d->mu);
}

/* Invalidates [off, off+n) of ino in the kernel, waiting at most
 * DIO_INVAL_MS for it (see the top of the file). */
static void invalidate(struct dio *d, uint64_t ino, uint64_t off, size_t n)
{
	struct dio_inval *iv = calloc(1, sizeof(*iv));
	struct timespec until;
	int rc = 0;

	if (iv == NULL) {
		return;
	}
	iv->wi.fn = run_inval;
	iv->d = d;
	iv->ino = ino;
	iv->off = off;
	iv->n = n;
	if (workq_push(d->invq, &iv->wi) != 0) {
		free(iv);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += DIO_INVAL_MS * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->mu);
	while (!iv->done && rc == 0) {
		rc = pthread_cond_timedwait(&d->cond, &d->mu, &until);
	}
	if (iv->done) {
		free(iv);
	} else {
		iv->abandoned = 1;
		log_debug("fuse.dio", "ino %" PRIu64 ": reply before the invalidation", ino);
	}
	pthread_mutex_unlock(&d->mu);
}

void dio_inval_inode(struct dio *d, uint64_t ino)
{
	struct dio_inval *iv = calloc(1, sizeof(*iv));

	if (iv == NULL) {
		return;
	}
	iv->wi.fn = run_inval;
	iv->d = d;
	iv->ino = ino;
	iv->abandoned = 1; /* nobody waits: run_inval frees it */
	if (workq_push(d->invq, &iv->wi) != 0) {
		free(iv);
	}
}

static void finish_write(struct workq_item *it)
{
	struct dio_write *w = (struct dio_write *)it;
	struct dio *d = w->d;
	unsigned *busy = &w->e->replying[(w->gen - 1) % DIO_SLOTS];
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += DIO_WAIT_MS / 1000;
	pthread_mutex_lock(&d->mu);
	while (*busy > 0 && rc == 0) {
		rc = pthread_cond_timedwait(&d->cond, &d->mu, &until);
	}
	pthread_mutex_unlock(&d->mu);
	if (rc != 0) {
		log_debug("fuse.dio", "ino %" PRIu64 ": reads still replying after %d ms",
			  w->e->ino, DIO_WAIT_MS);
	}
	invalidate(d, w->e->ino, w->off, w->n);
	fuse_reply_write(w->req, w->n);
	pthread_mutex_lock(&d->mu);
	unref(d, w->e);
	pthread_mutex_unlock(&d->mu);
	free(w);
}

void dio_write_done(struct dio *d, fuse_req_t req, uint64_t ino, uint64_t off, size_t n)
{
	struct dio_write *w = calloc(1, sizeof(*w));
	struct dio_ino *e;

	pthread_mutex_lock(&d->mu);
	e = *slot_of(d, ino);
	if (e == NULL || w == NULL) {
		/* Not tracked (no O_DIRECT open left), or no memory: the
		 * kernel's own invalidation is all there is. */
		pthread_mutex_unlock(&d->mu);
		free(w);
		fuse_reply_write(req, n);
		return;
	}
	e->gen++;
	e->refs++;
	w->wi.fn = finish_write;
	w->d = d;
	w->e = e;
	w->req = req;
	w->off = off;
	w->n = n;
	w->gen = e->gen;
	pthread_mutex_unlock(&d->mu);
	if (workq_push(d->q, &w->wi) != 0) {
		finish_write(&w->wi); /* stopping: finish here */
	}
}

int dio_start(struct fuse_session *se, struct dio **out)
{
	struct dio *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int rc;

	if (d == NULL) {
		return -ENOMEM;
	}
	d->se = se;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Producers are bounded: one item per direct write the kernel has
	 * in flight. */
	rc = workq_start("fuse.dio", 1, 0, &d->q);
	if (rc == 0 && (rc = workq_start("fuse.inval", 1, 0, &d->invq)) != 0) {
		workq_stop(d->q);
	}
	if (rc != 0) {
		pthread_cond_destroy(&d->cond);
		pthread_mutex_destroy(&d->mu);
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void dio_stop(struct dio *d)
{
	if (d == NULL) {
		return;
	}
	workq_stop(d->q);
	workq_stop(d->invq);
	for (size_t b = 0; b < DIO_BUCKETS; b++) {
		while (d->tab[b] != NULL) {
			struct dio_ino *e = d->tab[b];

			d->tab[b] = e->next;
			free(e);
		}
	}
	pthread_cond_destroy(&d->cond);
	pthread_mutex_destroy(&d->mu);
	free(d);
}
