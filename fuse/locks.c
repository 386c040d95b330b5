/* locks.c: lock session, requests and the table of locks taken through
 * open files (see locks.h).
 *
 * The session starts with the first lock: the mount asks for its lease
 * once (META_LOCK_RENEW answers with the length) and a thread renews it
 * every third of it, so a mount that never locks sends nothing.  A mount
 * that cannot renew for a whole lease loses its locks at the shard;
 * processes that hold them are not told (as with NFS), which is why the
 * renewal runs three times per lease. */
#include "locks.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/clock.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/rand.h"

/* The pause before asking again after a wait the leader could not park
 * (too many waiters there). */
#define LKC_RETRY_MS 100

/* One lock taken through an open file, until the file's release. */
struct lk_use {
	uint64_t fh, ino, owner;
	uint8_t kind;
};

struct lkc {
	struct mc *mc;
	uint64_t session;
	atomic_int active;  /* the session started: the table may hold entries */
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;
	struct lk_use *use;
	size_t n_use, cap_use;
	uint32_t lease_ms;
	int stop;
	int thread_running;
	pthread_t renewer;
};

uint64_t lkc_wait_id(void)
{
	uint64_t id = 0;

	/* rand_u64 fails only when getrandom does: the clock still gives
	 * ids that differ. */
	if (rand_u64(&id) != 0) {
		id = (uint64_t)clock_mono_ns();
	}
	return id != 0 ? id : 1;
}

int lkc_open(struct mc *mc, struct lkc **out)
{
	struct lkc *lk = calloc(1, sizeof(*lk));
	pthread_condattr_t ca;

	if (lk == NULL) {
		return -ENOMEM;
	}
	lk->mc = mc;
	lk->session = lkc_wait_id();
	atomic_init(&lk->active, 0);
	pthread_mutex_init(&lk->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&lk->cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = lk;
	return 0;
}

static void *renew_main(void *arg)
{
	struct lkc *lk = arg;

	pthread_mutex_lock(&lk->mu);
	while (!lk->stop) {
		struct timespec until;
		uint32_t every = lk->lease_ms / 3;
		uint32_t lease = 0;
		int rc;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += every / 1000;
		until.tv_nsec += (long)(every % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&lk->cv, &lk->mu, &until);
		if (lk->stop) {
			break;
		}
		pthread_mutex_unlock(&lk->mu);
		rc = mc_lock_renew(lk->mc, lk->session, &lease);
		if (rc != 0) {
			log_warn("lock.renew",
				 "cannot renew the lock session: %s; its locks go "
				 "when the lease runs out",
				 obj_strerror(rc));
		}
		pthread_mutex_lock(&lk->mu);
		if (rc == 0) {
			lk->lease_ms = lease;
		}
	}
	pthread_mutex_unlock(&lk->mu);
	return NULL;
}

/* Starts the session before the first lock request. */
static int session_start(struct lkc *lk)
{
	uint32_t lease = 0;
	int rc = 0;

	if (atomic_load(&lk->active)) {
		return 0;
	}
	pthread_mutex_lock(&lk->mu);
	if (!lk->thread_running) {
		rc = mc_lock_renew(lk->mc, lk->session, &lease);
		if (rc == 0) {
			lk->lease_ms = lease;
			if (pthread_create(&lk->renewer, NULL, renew_main, lk) != 0) {
				rc = -ENOMEM;
			} else {
				lk->thread_running = 1;
				atomic_store(&lk->active, 1);
			}
		}
	}
	pthread_mutex_unlock(&lk->mu);
	return rc;
}

static void use_add(struct lkc *lk, uint64_t fh, const struct meta_lock *l)
{
	pthread_mutex_lock(&lk->mu);
	for (size_t i = 0; i < lk->n_use; i++) {
		struct lk_use *u = &lk->use[i];

		if (u->fh == fh && u->ino == l->ino && u->owner == l->owner && u->kind == l->kind) {
			pthread_mutex_unlock(&lk->mu);
			return;
		}
	}
	if (lk->n_use == lk->cap_use) {
		size_t cap = lk->cap_use ? 2 * lk->cap_use : 16;
		struct lk_use *nu = realloc(lk->use, cap * sizeof(*nu));

		if (nu == NULL) {
			/* The lock then stays until its owner unlocks it or
			 * the mount ends. */
			pthread_mutex_unlock(&lk->mu);
			log_warn("lock.table", "out of memory: a lock outlives its file's close");
			return;
		}
		lk->use = nu;
		lk->cap_use = cap;
	}
	lk->use[lk->n_use++] = (struct lk_use){fh, l->ino, l->owner, l->kind};
	pthread_mutex_unlock(&lk->mu);
}

int lkc_set(struct lkc *lk, uint64_t fh, struct meta_lock *l, int wait, uint64_t wait_id,
	    const atomic_int *intr)
{
	struct meta_result res;
	struct meta_op op;
	int rc = session_start(lk);

	if (rc != 0) {
		return rc;
	}
	l->session = lk->session;
	for (;;) {
		uint64_t t0 = clock_mono_ms();

		memset(&op, 0, sizeof(op));
		meta_lock_to_op(l, &op);
		op.flags = wait && l->type != META_LK_UN ? META_F_LOCK_WAIT : 0;
		op.atime_ns = (int64_t)wait_id; /* names the wait for a cancel */
		rc = mc_op(lk->mc, &op, &res);
		/* -ETIME: the shard ended a long wait; a new try (new op id)
		 * waits again, unless a signal came meanwhile. */
		if (rc != -ETIME || !wait) {
			break;
		}
		if (intr != NULL && atomic_load(intr)) {
			rc = -EINTR;
			break;
		}
		/* At once: the leader has too many waiters parked; poll. */
		if (clock_mono_ms() - t0 < LKC_RETRY_MS) {
			struct timespec ts = {0, LKC_RETRY_MS * 1000000L};

			nanosleep(&ts, NULL);
		}
	}
	if (rc == 0 && l->type != META_LK_UN) {
		use_add(lk, fh, l);
	}
	return rc;
}

int lkc_get(struct lkc *lk, struct meta_lock *l, struct meta_lock *out)
{
	l->session = lk->session;
	return mc_getlk(lk->mc, l, out);
}

void lkc_cancel(struct lkc *lk, uint64_t wait_id)
{
	int rc = mc_lock_cancel(lk->mc, lk->session, wait_id);

	if (rc != 0) {
		log_warn("lock.cancel", "cannot cancel a lock wait: %s", obj_strerror(rc));
	}
}

int lkc_owner_locked(struct lkc *lk, uint64_t ino, uint64_t owner)
{
	int found = 0;

	if (!atomic_load(&lk->active)) {
		return 0;
	}
	pthread_mutex_lock(&lk->mu);
	for (size_t i = 0; i < lk->n_use && !found; i++) {
		found = lk->use[i].ino == ino && lk->use[i].owner == owner &&
			lk->use[i].kind == META_LK_POSIX;
	}
	pthread_mutex_unlock(&lk->mu);
	return found;
}

void lkc_release(struct lkc *lk, uint64_t fh)
{
	if (!atomic_load(&lk->active)) {
		return;
	}
	for (;;) {
		struct meta_lock l = {.start = 0, .end = META_LOCK_EOF, .type = META_LK_UN};
		int found = 0, rc;

		pthread_mutex_lock(&lk->mu);
		for (size_t i = 0; i < lk->n_use; i++) {
			if (lk->use[i].fh == fh) {
				l.ino = lk->use[i].ino;
				l.owner = lk->use[i].owner;
				l.kind = lk->use[i].kind;
				lk->use[i] = lk->use[--lk->n_use];
				found = 1;
				break;
			}
		}
		pthread_mutex_unlock(&lk->mu);
		if (!found) {
			return;
		}
		rc = lkc_set(lk, 0, &l, 0, 0, NULL);
		if (rc != 0) {
			log_warn("lock.release",
				 "cannot release a lock at close: %s; it goes with "
				 "the session",
				 obj_strerror(rc));
		}
	}
}

void lkc_close(struct lkc *lk)
{
	if (lk == NULL) {
		return;
	}
	pthread_mutex_lock(&lk->mu);
	lk->stop = 1;
	pthread_cond_signal(&lk->cv);
	pthread_mutex_unlock(&lk->mu);
	if (lk->thread_running) {
		struct meta_result res;
		struct meta_op op = {.type = MOP_LOCK_DROP, .parent = lk->session};

		pthread_join(lk->renewer, NULL);
		if (mc_op(lk->mc, &op, &res) != 0) {
			log_warn("lock.end", "cannot end the lock session; its locks go when the "
					     "lease runs out");
		}
	}
	pthread_mutex_destroy(&lk->mu);
	pthread_cond_destroy(&lk->cv);
	free(lk->use);
	free(lk);
}
