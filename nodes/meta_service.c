/* meta_service.c: the metadata shards a node serves (see meta_service.h):
 * start-up and shutdown of the service, and the leader's path from an
 * operation record to a proposal.  The parts live beside it, one concern
 * each (meta_service_i.h lists them).
 *
 * A leader decides the values a record's outcome depends on -- now_ns and
 * new_ino (meta_leader.h) -- then proposes it; request handlers propose
 * asynchronously and reply from the commit callback (meta_handlers.c), so
 * no request thread waits for consensus; only the maintenance thread uses
 * the synchronous msvc_apply_sync. */
#include "meta_service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/err.h"
#include "../common/log.h"
#include "meta_service_i.h"

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int msvc_open(const struct cfg *cfg, size_t node_idx, const char *data_dir, struct msvc **out)
{
	struct msvc *m = calloc(1, sizeof(*m));
	pthread_condattr_t ca;
	int n;

	if (m == NULL) {
		return -ENOMEM;
	}
	m->cfg = cfg;
	m->self = node_idx;
	n = snprintf(m->dir, sizeof(m->dir), "%s/shards", data_dir);
	if (n < 0 || (size_t)n >= sizeof(m->dir) ||
	    snprintf(m->raft_dir, sizeof(m->raft_dir), "%s/raft", data_dir) >=
		(int)sizeof(m->raft_dir)) {
		free(m);
		return -ENAMETOOLONG;
	}
	if (mkdir(m->dir, 0700) != 0 && errno != EEXIST) {
		int e = -errno;

		free(m);
		return e;
	}
	pthread_mutex_init(&m->mu, NULL);
	pthread_mutex_init(&m->gc_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->gc_cv, &ca);
	pthread_mutex_init(&m->lk_mu, NULL);
	pthread_cond_init(&m->lk_cv, &ca);
	pthread_condattr_destroy(&ca);
	*out = m;
	return 0;
}

uint32_t msvc_node_id(const struct msvc *m, long leader)
{
	return leader >= 0 && (size_t)leader < m->cfg->n_nodes ? m->cfg->nodes[leader].id : 0;
}

int msvc_prepare(struct shard *s, struct meta_op *op, struct wr *w)
{
	int64_t now = realtime_ns(); /* timestamps leave the process: wall clock */

	pthread_mutex_lock(&s->mu);
	leader_stamp(&s->lc, now, ms_next_ino(s->ms), op);
	pthread_mutex_unlock(&s->mu);
	wr_init(w, 0);
	meta_put_op(w, op);
	return wr_status(w);
}

int msvc_apply_sync(struct msvc *m, struct shard *s, struct meta_op *op, struct meta_result *res,
		    uint32_t *hint)
{
	struct wr w;
	void *result = NULL;
	long leader = -1;
	int rc = msvc_prepare(s, op, &w);

	if (rc == 0) {
		rc = repl_propose(s->g, w.buf, w.len, PROPOSE_TIMEOUT_MS, &result, &leader);
	}
	wr_free(&w);
	if (rc == -EREMOTE) {
		*hint = msvc_node_id(m, leader);
	}
	if (rc == 0) {
		if (result == NULL) {
			return -EIO;
		}
		*res = *(struct meta_result *)result;
		free(result);
	}
	return rc;
}

int msvc_start(struct msvc *m, char *err, size_t errlen)
{
	int rc = repl_open(m->cfg, m->self, m->raft_dir, &m->repl, err, errlen);

	if (rc != 0) {
		return rc;
	}
	repl_set_unknown_cb(m->repl, shard_on_unknown_group, m);
	repl_set_metrics(m->repl, m->mx);
	shard_open_existing(m);
	if ((rc = cl_open(m->cfg, &m->cl)) != 0 || (rc = blk_open(m->cl, &m->blk)) != 0) {
		snprintf(err, errlen, "cannot start the garbage collector's client: %s",
			 obj_strerror(rc));
		return rc;
	}
	if (pthread_create(&m->gc, NULL, msvc_gc_main, m) != 0) {
		snprintf(err, errlen, "cannot start the maintenance thread");
		return -ENOMEM;
	}
	m->gc_running = 1;
	if (mlk_start(m) != 0) {
		snprintf(err, errlen, "cannot start the lock thread");
		return -ENOMEM;
	}
	if ((rc = mrep_start(m, &m->rep)) != 0) {
		snprintf(err, errlen, "cannot start automatic repair: %s", obj_strerror(rc));
		return rc;
	}
	return 0;
}

void msvc_quiesce(struct msvc *m)
{
	if (m != NULL && m->repl != NULL) {
		repl_stop(m->repl);
	}
	if (m != NULL) {
		mlk_stop(m); /* parked lock requests are answered now */
	}
}

void msvc_close(struct msvc *m)
{
	if (m == NULL) {
		return;
	}
	mrep_stop(m->rep); /* its passes call the other nodes, not this service */
	m->rep = NULL;
	if (m->gc_running) {
		pthread_mutex_lock(&m->gc_mu);
		m->stopping = 1;
		pthread_cond_signal(&m->gc_cv);
		pthread_mutex_unlock(&m->gc_mu);
		pthread_join(m->gc, NULL);
	}
	/* Replication first: no state machine callback may run once the
	 * stores close. */
	mlk_stop(m);
	repl_close(m->repl);
	blk_close(m->blk);
	cl_close(m->cl);
	while (m->shards != NULL) {
		struct shard *s = m->shards;

		m->shards = s->next;
		shard_free(s);
	}
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->gc_mu);
	pthread_cond_destroy(&m->gc_cv);
	pthread_mutex_destroy(&m->lk_mu);
	pthread_cond_destroy(&m->lk_cv);
	free(m);
}
