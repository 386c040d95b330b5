/* meta_gc.c: the maintenance thread of the metadata service: opens the
 * shards peers named (shard_reg.c queues them from the Raft loop, which
 * must not block) and, on the shards this node leads, deletes the
 * fragments of blocks no file references any more, then records them as
 * collected.  Runs on its own thread; waits for Raft commits, which no
 * request thread ever does. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "../common/clock.h"
#include "../common/err.h"
#include "../common/log.h"
#include "gc_grace.h"
#include "meta_service_i.h"

/* How often the maintenance thread runs, and how many blocks it deletes
 * per shard per pass (the queue is walked whole, in pages of this size,
 * so every block's grace period starts at the first pass that sees it). */
#define GC_INTERVAL_MS 1000
#define GC_BATCH 64

/* Deletes, on a shard this node leads, the blocks whose grace period
 * (free_grace, gc_grace.h) is over.  A client that fetched extents just
 * before an overwrite reads the old blocks for that long; one that keeps
 * extents longer finds a block missing and fetches them again. */
static void gc_shard(struct msvc *m, struct shard *s)
{
	struct manifest_block v[GC_BATCH];
	struct meta_extent ext[GC_BATCH];
	uint8_t after[BLOCK_ID_LEN];
	struct meta_op op = {0};
	struct meta_result res;
	uint64_t now = clock_mono_ms(), grace = (uint64_t)m->cfg->free_grace_s * 1000;
	size_t done = 0;
	uint32_t hint = 0;
	long leader;
	int n, first = 1;

	if (m->mx != NULL) {
		atomic_store(&s->gc_queue, ms_gc_count(s->ms));
	}
	if (repl_read_ok(s->g, &leader) != 0) {
		/* Only the leader collects; should this node lead again, its
		 * waits start over (they may only grow longer). */
		gcg_close(s->grace);
		s->grace = NULL;
		return;
	}
	if (s->grace == NULL && gcg_open(&s->grace) != 0) {
		return;
	}
	gcg_begin(s->grace);
	do {
		n = ms_gc_pending_after(s->ms, first ? NULL : after, v, GC_BATCH);
		first = 0;
		for (int i = 0; i < n; i++) {
			memcpy(after, v[i].id, BLOCK_ID_LEN);
			if (done == GC_BATCH || gcg_ripe(s->grace, v[i].id, now, grace) != 1) {
				continue;
			}
			/* A block is dropped from the queue only once every
			 * live node confirmed; a node that is down keeps
			 * stray fragments that a scrub finds later
			 * (documented in ARCHITECTURE.md). */
			if (blk_delete(m->blk, &v[i]) == 0) {
				memset(&ext[done], 0, sizeof(ext[done]));
				ext[done].blk = v[i];
				ext[done].len = v[i].len;
				done++;
			}
		}
	} while (n == GC_BATCH);
	if (n >= 0) {
		gcg_end(s->grace); /* forgets what left the queue */
	}
	if (done == 0) {
		return;
	}
	op.type = MOP_GC_DONE;
	op.ext = ext;
	op.n_ext = done;
	if (msvc_apply_sync(m, s, &op, &res, &hint) != 0) {
		log_warn("gc.apply", "shard '%s': cannot record collected blocks", s->name);
	} else {
		log_debug("gc.done", "shard '%s': collected %zu blocks", s->name, done);
	}
}

/* On the shards this node leads: purges trash entries that expired, a
 * batch per record (meta_trash.c). */
static void trash_shard(struct msvc *m, struct shard *s)
{
	struct meta_op op = {0};
	struct meta_result res;
	struct timespec now;
	uint32_t hint = 0;
	int64_t cutoff;
	long leader;

	if (repl_read_ok(s->g, &leader) != 0) {
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	if (ms_trash_due(s->ms, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec, &cutoff) != 1) {
		return;
	}
	op.type = MOP_TRASH_EMPTY;
	op.size = (uint64_t)cutoff;
	if (msvc_apply_sync(m, s, &op, &res, &hint) != 0) {
		log_warn("trash.expire", "shard '%s': cannot purge the expired trash", s->name);
	}
}

void *msvc_gc_main(void *arg)
{
	struct msvc *m = arg;

	pthread_mutex_lock(&m->gc_mu);
	while (!m->stopping) {
		struct timespec until;
		struct shard *s;

		/* gc_cv waits on CLOCK_MONOTONIC (msvc_open). */
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += GC_INTERVAL_MS / 1000;
		pthread_cond_timedwait(&m->gc_cv, &m->gc_mu, &until);
		if (m->stopping) {
			break;
		}
		pthread_mutex_unlock(&m->gc_mu);
		shard_open_pending(m);
		/* Shards are only ever added at the head: walking from a
		 * snapshot of the head is safe unlocked. */
		pthread_mutex_lock(&m->mu);
		s = m->shards;
		pthread_mutex_unlock(&m->mu);
		for (; s != NULL; s = s->next) {
			gc_shard(m, s);
			trash_shard(m, s);
		}
		pthread_mutex_lock(&m->gc_mu);
	}
	pthread_mutex_unlock(&m->gc_mu);
	return NULL;
}
