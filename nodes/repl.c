/* repl.c: Raft groups of metadata shards on one libuv loop (see repl.h).
 *
 * Threads: the loop thread (repl_main) runs every raft_* call, the state
 * machine callbacks and the mux.  Other threads post a `rreq` to the
 * queue, wake the loop with uv_async_send and wait on their request's
 * condition; the loop answers from its callbacks.  A waiter that times
 * out marks its request abandoned and the loop frees it when c-raft is
 * done with it (a raft_apply cannot be cancelled).
 *
 * Tuning (facts measured with c-raft 0.15 on this kind of machine):
 *  - election timeout from the config (300 ms default, heartbeat a tenth):
 *    ~0.5 s fail-over instead of ~1.8 s at c-raft's 1 s default;
 *  - snapshot every snapshot_entries (8192 by default) keeping a quarter:
 *    c-raft's default 1024 stalled commits ~30 ms per snapshot; a large
 *    shard (over 32 MB) every 4 KiB of it, up to snapshot_max_entries:
 *    three replicas copying 580 MB every 8192 entries starved the loops;
 *  - install_snapshot_timeout 4 s: the 30 s default made catch-up wait
 *    30 s whenever a follower was busy;
 *  - 1 MiB log segments instead of 8 MiB: each group preallocates three.
 * SIGPIPE must be ignored by the process: a peer that dies mid-write
 * would otherwise kill the node. */
#include "repl.h"

#include <errno.h>
#include <pthread.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <uv.h>

#include "../common/clock.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/metrics.h"
#include "../proto/wire.h"
#include "loop_turn.h"
#include "raft_mux.h"

#define REPL_TICK_MS 20
/* Applied entries one SQLite commit holds at most, whatever the window. */
#define REPL_FLUSH_MAX 1024
#define REPL_INSTALL_SNAPSHOT_MS 4000
#define REPL_SEGMENT_SIZE (1024 * 1024)
#define REPL_NAME_MAX RMUX_GROUP_MAX
#define ENTRY_HDR 4
/* Bytes of records one entry carries at most (a single larger record
 * still goes alone). */
#define REPL_BATCH_BYTES (1024 * 1024)

enum rq_type { RQ_OPEN, RQ_PROPOSE, RQ_STATE, RQ_ADD, RQ_REMOVE };

struct rreq {
	enum rq_type type;
	struct repl_group *g;
	/* in */
	const void *buf;
	size_t len;
	size_t node;
	const char *name;
	const struct repl_fsm *fsm;
	const size_t *voters;
	size_t n_voters;
	struct raft_buffer entry; /* RQ_PROPOSE: the framed record, raft_malloc'd */
	repl_done_fn done_fn;	  /* asynchronous proposals: no waiter */
	void *done_arg;
	/* out */
	int status;
	long leader;
	void *result;
	struct repl_state *st;
	struct repl_group *opened;
	/* bookkeeping (under r->mu) */
	int done, abandoned;
	pthread_cond_t cv;
	struct raft_apply apply;
	struct raft_change change;
	struct rreq *next;
	struct rreq *inflight_next; /* g->inflight, loop thread only */
	struct rreq *batch_next;    /* the records after this one in its entry */
	uint64_t t0_ns;		    /* proposals, when metrics are on */
};

struct repl_group {
	struct repl *r;
	char name[REPL_NAME_MAX + 1];
	struct repl_fsm fsm;
	struct raft raft;
	struct raft_io io;
	struct raft_uv_transport trans;
	struct raft_fsm rfsm;
	atomic_int ready;
	atomic_long leader;
	/* raft.last_applied for other threads: set at each apply and tick
	 * (the tick covers snapshot installs and restarts).  It never runs
	 * ahead of the state machine, so a read that loads it first returns
	 * an answer at least that recent. */
	atomic_uint_fast64_t applied;
	uint64_t ready_term;
	int barrier_pending;
	uint64_t barrier_term;
	struct raft_barrier barrier;
	int closed;
	struct rreq *inflight;	/* proposals appended here: loop thread only */
	struct rreq *add_waits; /* adds waiting for an earlier add of their node: loop only */
	unsigned dirty;		/* entries applied since the last flush: loop only */
	uint64_t dirty_ms;	/* loop time of the first of them */
	struct repl_group *next;
	/* What repl_get_stats reads without waiting for the loop: the state
	 * published at each tick, and counters the loop bumps. */
	pthread_mutex_t pub_mu; /* guards pub, term0 */
	struct repl_state pub;
	uint64_t term0; /* the term at the first tick: elections since */
	atomic_uint_fast64_t snaps_taken, snaps_installed;
	atomic_uint_fast64_t entries_out, records_out; /* proposed as leader */
	uint64_t snap_index;		 /* the async snapshot being taken: set on the loop */
	uint64_t log_bytes, log_entries; /* applied since the last snapshot began: loop only */
	int lagging;			 /* the state machine's catch_up said > 0: loop only */
	struct raft_transfer transfer;	 /* a lagging leader hands over */
	int transferring;
	struct mx_metric *propose_ns; /* proposal latency; NULL: metrics off */
};

struct repl {
	const struct cfg *cfg;
	size_t self;
	char dir[PATH_MAX];
	char addr[128];
	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t tick;
	uv_check_t flush;	/* after each loop iteration's I/O: fsm flushes */
	uv_timer_t flush_timer; /* the next flush a batch window still holds back */
	struct loop_turn turn;	/* its turns timed (loop_turn.h) */
	pthread_t thread;
	struct rmux *mux;
	void (*unknown)(void *arg, const char *group);
	void *unknown_arg;
	pthread_mutex_t mu; /* guards queue, groups list, rreq done/abandoned */
	struct rreq *qhead, *qtail;
	struct repl_group *groups;
	int stopping; /* set by repl_close (under mu) */
	int closing;  /* loop thread: shutdown begun */
	int stopped;  /* repl_stop done (caller's thread) */
	int stuck;    /* the loop did not stop: never free */
	int started;
	struct mx_registry *mx; /* repl_set_metrics; NULL: off */
};

int repl_node_addr(const struct cfg *cfg, size_t i, char *out, size_t len)
{
	const char *a = cfg->nodes[i].addr;
	const char *colon = strrchr(a, ':');
	long port;
	int n;

	if (strncmp(a, "tcp://", 6) != 0 || colon == NULL) {
		return -EINVAL;
	}
	port = strtol(colon + 1, NULL, 10);
	port = cfg->nodes[i].raft_port ? (long)cfg->nodes[i].raft_port : port + 1000;
	if (port < 1 || port > 65535) {
		return -EINVAL;
	}
	n = snprintf(out, len, "%.*s:%ld", (int)(colon - (a + 6)), a + 6, port);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static long node_of_id(const struct repl *r, raft_id id)
{
	for (size_t i = 0; i < r->cfg->n_nodes; i++) {
		if (r->cfg->nodes[i].id == id) {
			return (long)i;
		}
	}
	return -1;
}

static int raft_to_errno(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case RAFT_NOTLEADER:
	case RAFT_LEADERSHIPLOST:
		return -EREMOTE;
	case RAFT_NOMEM:
		return -ENOMEM;
	case RAFT_SHUTDOWN:
	case RAFT_CANCELED:
		return -ESHUTDOWN;
	case RAFT_CANTCHANGE:
		return -EBUSY;
	case RAFT_BADID:
	case RAFT_DUPLICATEID:
	case RAFT_BADROLE:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* ---- request completion (loop thread) ------------------------------ */

/* Hands a finished request to its waiter, or frees it when the waiter
 * gave up (abandoned).  Called with r->mu held. */
static void rq_complete_locked(struct rreq *rq)
{
	if (rq->entry.base != NULL) {
		raft_free(rq->entry.base); /* never handed to c-raft */
		rq->entry.base = NULL;
	}
	if (rq->abandoned) {
		free(rq->result);
		free(rq->st);
		pthread_cond_destroy(&rq->cv);
		free(rq);
		return;
	}
	rq->done = 1;
	pthread_cond_signal(&rq->cv);
}

/* Runs an asynchronous request's callback and frees it.  Not with r->mu
 * held: the callback may start a reply send or propose again. */
static void rq_call_done(struct rreq *rq)
{
	if (rq->entry.base != NULL) {
		raft_free(rq->entry.base); /* never handed to c-raft */
	}
	rq->done_fn(rq->done_arg, rq->status, rq->result, rq->leader);
	free(rq);
}

static void rq_finish(struct repl *r, struct rreq *rq)
{
	if (rq->done_fn != NULL) {
		rq_call_done(rq);
		return;
	}
	pthread_mutex_lock(&r->mu);
	rq_complete_locked(rq);
	pthread_mutex_unlock(&r->mu);
}

/* ---- state machine glue (loop thread) ------------------------------ */

/* What c-raft hands to the proposer of an entry: one result per record. */
struct entry_results {
	size_t n;
	void *res[];
};

static void results_free(struct entry_results *er)
{
	if (er != NULL) {
		for (size_t i = 0; i < er->n; i++) {
			free(er->res[i]);
		}
		free(er);
	}
}

long repl_entry_records(const void *entry, size_t len, struct repl_rec *recs, size_t max)
{
	const uint8_t *p = entry;
	size_t off = 0;
	long n = 0;

	while (len - off >= ENTRY_HDR) {
		struct rd rd;
		size_t l;

		rd_init(&rd, p + off, ENTRY_HDR);
		l = rd_u32(&rd);
		if (l == 0 && n > 0) {
			break;
		}
		if (l > len - off - ENTRY_HDR) {
			return -1;
		}
		if ((size_t)n < max) {
			recs[n].buf = p + off + ENTRY_HDR;
			recs[n].len = l;
		}
		n++;
		off += ENTRY_HDR + l;
		off += (8 - off % 8) % 8;
		if (off > len) {
			break; /* the last record's padding was cut: nothing more */
		}
	}
	return n > 0 ? n : -1;
}

static int fsm_apply(struct raft_fsm *f, const struct raft_buffer *buf, void **result)
{
	struct repl_group *g = f->data;
	/* c-raft applies entries in order: this one is last_applied + 1. */
	uint64_t index = g->raft.last_applied + 1;
	struct repl_rec one, *recs = &one;
	struct entry_results *er;
	long n;
	int waited = 0, rc;

	*result = NULL;
	g->log_bytes += buf->len;
	g->log_entries++;
	n = repl_entry_records(buf->base, buf->len, &one, 1);
	if (n < 0) {
		return RAFT_CORRUPT;
	}
	er = calloc(1, sizeof(*er) + (size_t)n * sizeof(er->res[0]));
	if (n > 1) {
		recs = malloc((size_t)n * sizeof(*recs));
	}
	if (er == NULL || recs == NULL) {
		free(er);
		return RAFT_NOMEM;
	}
	if (n > 1) {
		repl_entry_records(buf->base, buf->len, recs, (size_t)n);
	}
	er->n = (size_t)n;
	rc = g->fsm.apply(g->fsm.arg, index, recs, (size_t)n, er->res);
	if (recs != &one) {
		free(recs);
	}
	if (rc != 0) {
		results_free(er);
		return RAFT_IOERR;
	}
	atomic_store(&g->applied, index);
	if (g->dirty++ == 0) {
		g->dirty_ms = uv_now(&g->r->loop);
	}
	/* c-raft hands the result to a local proposer's callback and drops it
	 * otherwise (followers, entries of an earlier leader): free those. */
	for (struct rreq *rq = g->inflight; rq != NULL; rq = rq->inflight_next) {
		waited |= rq->apply.index == index;
	}
	if (!waited) {
		results_free(er);
		er = NULL;
	}
	*result = er;
	return 0;
}

/* Hands a malloc'd copy to c-raft as one raft_buffer. */
static int to_bufs(void *data, size_t len, struct raft_buffer *bufs[], unsigned *n)
{
	struct raft_buffer *b;

	b = raft_malloc(sizeof(*b));
	if (b == NULL) {
		free(data);
		return RAFT_NOMEM;
	}
	b->base = raft_malloc(len ? len : 1);
	if (b->base == NULL) {
		raft_free(b);
		free(data);
		return RAFT_NOMEM;
	}
	memcpy(b->base, data, len);
	b->len = len;
	free(data);
	*bufs = b;
	*n = 1;
	return 0;
}

uint32_t repl_snapshot_every(uint32_t base, uint32_t most, uint64_t bytes, uint64_t entry_bytes)
{
	uint64_t every = bytes / REPL_SNAP_BYTES_PER_ENTRY;

	if (entry_bytes > 0 && every > REPL_SNAP_LOG_BUDGET / entry_bytes) {
		every = REPL_SNAP_LOG_BUDGET / entry_bytes;
	}
	if (most < base) {
		most = base;
	}
	return every < base ? base : every > most ? most : (uint32_t)every;
}

/* Sets when the group's next snapshot is due and how much log it keeps
 * (a quarter), from the state's size.  On the loop, or before it runs the
 * group. */
static void space_snapshots(struct repl_group *g)
{
	const struct cfg *cfg = g->r->cfg;
	uint64_t bytes = g->fsm.state_bytes != NULL ? g->fsm.state_bytes(g->fsm.arg) : 0;
	uint64_t entry = g->log_entries > 0 ? g->log_bytes / g->log_entries : 0;
	uint32_t every =
	    repl_snapshot_every(cfg->snapshot_entries, cfg->snapshot_max_entries, bytes, entry);

	g->log_bytes = 0;
	g->log_entries = 0;

	raft_set_snapshot_threshold(&g->raft, every);
	raft_set_snapshot_trailing(&g->raft, every / 4 > 8 ? every / 4 : 8);
}

/* Asks the state machine whether its state lags (repl_fsm.catch_up);
 * a group whose state lags is not ready.  -1 on a storage failure. */
static int check_lag(struct repl_group *g)
{
	int c = g->fsm.catch_up != NULL ? g->fsm.catch_up(g->fsm.arg) : 0;

	if (c < 0) {
		return -1;
	}
	g->lagging = c > 0;
	if (g->lagging) {
		atomic_store(&g->ready, 0);
		g->ready_term = 0; /* a barrier again once current */
	}
	return 0;
}

static int fsm_snapshot(struct raft_fsm *f, struct raft_buffer *bufs[], unsigned *n)
{
	struct repl_group *g = f->data;
	void *data = NULL;
	size_t len = 0;

	/* A state that lags its applied index cannot be copied as of it
	 * (c-raft takes RAFT_BUSY as "later"). */
	if (check_lag(g) != 0 || g->lagging) {
		return RAFT_BUSY;
	}
	space_snapshots(g);
	if (g->fsm.snapshot_async != NULL) {
		/* c-raft takes the snapshot at last_applied, and calls
		 * fsm_snapshot_async next on a worker thread. */
		g->snap_index = g->raft.last_applied;
		*bufs = NULL;
		*n = 0;
		return 0;
	}
	if (g->fsm.snapshot(g->fsm.arg, &data, &len) != 0) {
		return RAFT_IOERR;
	}
	atomic_fetch_add(&g->snaps_taken, 1);
	return to_bufs(data, len, bufs, n);
}

/* A libuv worker thread (raft_uv's async_work): the loop goes on. */
static int fsm_snapshot_async(struct raft_fsm *f, struct raft_buffer *bufs[], unsigned *n)
{
	struct repl_group *g = f->data;
	void *data = NULL;
	size_t len = 0;

	if (g->fsm.snapshot_async(g->fsm.arg, g->snap_index, &data, &len) != 0) {
		return RAFT_IOERR;
	}
	atomic_fetch_add(&g->snaps_taken, 1);
	return to_bufs(data, len, bufs, n);
}

/* With a finalize callback (fsm version 2 and up) the buffers of a
 * snapshot taken are ours to free, stored or not. */
static int fsm_snapshot_finalize(struct raft_fsm *f, struct raft_buffer *bufs[], unsigned *n)
{
	(void)f;
	if (*bufs != NULL) {
		for (unsigned i = 0; i < *n; i++) {
			raft_free((*bufs)[i].base);
		}
		raft_free(*bufs);
	}
	*bufs = NULL;
	*n = 0;
	return 0;
}

static int fsm_restore(struct raft_fsm *f, struct raft_buffer *buf)
{
	struct repl_group *g = f->data;
	int rc = g->fsm.restore(g->fsm.arg, buf->base, buf->len);

	if (rc != 0 || check_lag(g) != 0) {
		return RAFT_IOERR;
	}
	raft_free(buf->base); /* on success the buffer is ours to free */
	atomic_fetch_add(&g->snaps_installed, 1);
	return 0;
}

static void group_closed(struct raft *rf);

/* ---- leadership tracking (loop thread) ----------------------------- */

static void barrier_cb(struct raft_barrier *req, int status)
{
	struct repl_group *g = req->data;

	g->barrier_pending = 0;
	if (status == 0 && g->raft.state == RAFT_LEADER && !g->lagging &&
	    g->raft.current_term == g->barrier_term) {
		g->ready_term = g->barrier_term;
		atomic_store(&g->ready, 1);
		log_info("repl.leader", "group %s: leader for term %llu", g->name,
			 (unsigned long long)g->ready_term);
	}
}

static void adds_tick(struct repl_group *g);

static void transfer_cb(struct raft_transfer *req)
{
	struct repl_group *g = req->data;

	g->transferring = 0;
}
static void fill_state(struct repl_group *g, struct repl_state *st);

/* Publishes the group's state for repl_get_stats (a copy under a mutex
 * no other path takes: scrapes never wait for the loop). */
static void publish(struct repl_group *g)
{
	struct repl_state st;

	fill_state(g, &st);
	pthread_mutex_lock(&g->pub_mu);
	if (g->term0 == 0) {
		g->term0 = st.term ? st.term : 1;
	}
	g->pub = st;
	pthread_mutex_unlock(&g->pub_mu);
}

static void group_tick(struct repl_group *g)
{
	raft_id id = 0;
	const char *addr = NULL;

	if (g->closed) {
		return;
	}
	publish(g);
	raft_leader(&g->raft, &id, &addr);
	atomic_store(&g->leader, id ? node_of_id(g->r, id) : -1L);
	atomic_store(&g->applied, g->raft.last_applied);
	adds_tick(g);
	if (check_lag(g) != 0) {
		log_error("repl.catchup", "group %s: the state machine failed; stopping it",
			  g->name);
		g->closed = 1;
		atomic_store(&g->ready, 0);
		raft_close(&g->raft, group_closed);
		return;
	}
	if (g->raft.state == RAFT_LEADER && g->lagging && !g->transferring) {
		/* Elected while its state machine lags (an install off the
		 * loop): it cannot serve, so it hands over to the voter most
		 * up to date. */
		g->transfer.data = g;
		g->transferring = raft_transfer(&g->raft, &g->transfer, 0, transfer_cb) == 0;
	}
	if (g->raft.state != RAFT_LEADER || g->lagging) {
		atomic_store(&g->ready, 0);
		return;
	}
	if (g->ready_term == g->raft.current_term) {
		return;
	}
	atomic_store(&g->ready, 0);
	if (!g->barrier_pending) {
		g->barrier.data = g;
		g->barrier_term = g->raft.current_term;
		if (raft_barrier(&g->raft, &g->barrier, barrier_cb) == 0) {
			g->barrier_pending = 1;
		}
	}
}

/* Loop thread, after each iteration's I/O callbacks and when the batch
 * timer fires: every group whose applied entries have waited
 * commit_batch_ms (or that holds REPL_FLUSH_MAX of them) commits them in
 * one go (group commit of the state machine; see repl_fsm.flush); the
 * timer is set for the earliest group still waiting. */
static void flush_timer_cb(uv_timer_t *t);

static void flush_due(struct repl *r)
{
	uint64_t now = uv_now(&r->loop), next = UINT64_MAX;

	for (struct repl_group *g = r->groups; g != NULL; g = g->next) {
		uint64_t due = g->dirty_ms + r->cfg->commit_batch_ms;

		if (!g->dirty || g->closed) {
			continue;
		}
		if (g->dirty < REPL_FLUSH_MAX && now < due) {
			next = due < next ? due : next;
			continue;
		}
		g->dirty = 0;
		if (g->fsm.flush != NULL && g->fsm.flush(g->fsm.arg) != 0) {
			log_error("repl.flush",
				  "group %s: applied entries not committed; stopping it", g->name);
			g->closed = 1;
			atomic_store(&g->ready, 0);
			raft_close(&g->raft, group_closed);
		}
	}
	if (next != UINT64_MAX && !r->closing) {
		uv_timer_start(&r->flush_timer, flush_timer_cb, next - now, 0);
	}
}

static void flush_cb(uv_check_t *c)
{
	flush_due(c->data);
}

static void flush_timer_cb(uv_timer_t *t)
{
	flush_due(t->data);
}

static void tick_cb(uv_timer_t *t)
{
	struct repl *r = t->data;

	for (struct repl_group *g = r->groups; g != NULL; g = g->next) {
		group_tick(g);
	}
}

/* ---- group open (loop thread) -------------------------------------- */

static struct repl_group *find_locked(struct repl *r, const char *name)
{
	for (struct repl_group *g = r->groups; g != NULL; g = g->next) {
		if (strcmp(g->name, name) == 0) {
			return g;
		}
	}
	return NULL;
}

static int group_start(struct repl *r, const char *name, const struct repl_fsm *fsm,
		       const size_t *voters, size_t n_voters, struct repl_group **out)
{
	struct repl_group *g;
	char dir[PATH_MAX];
	int rv, n;

	pthread_mutex_lock(&r->mu);
	g = find_locked(r, name);
	pthread_mutex_unlock(&r->mu);
	if (g != NULL) {
		*out = g;
		return 0;
	}
	if (strlen(name) == 0 || strlen(name) > REPL_NAME_MAX) {
		return -EINVAL;
	}
	n = snprintf(dir, sizeof(dir), "%s/%s", r->dir, name);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		return -errno;
	}
	g = calloc(1, sizeof(*g));
	if (g == NULL) {
		return -ENOMEM;
	}
	g->r = r;
	snprintf(g->name, sizeof(g->name), "%s", name);
	pthread_mutex_init(&g->pub_mu, NULL);
	if (r->mx != NULL) {
		char lb[RMUX_GROUP_MAX + 16];

		g->propose_ns =
		    mx_histogram(r->mx, "objfs_raft_proposal_duration_seconds",
				 "Time from proposing a record to its commit and apply, by shard.",
				 mx_label(lb, sizeof(lb), "shard", name), &mx_buckets_latency);
	}
	g->fsm = *fsm;
	atomic_init(&g->ready, 0);
	atomic_init(&g->leader, -1L);
	atomic_init(&g->applied, 0);
	g->rfsm.version = 3;
	g->rfsm.data = g;
	g->rfsm.apply = fsm_apply;
	g->rfsm.snapshot = fsm_snapshot;
	g->rfsm.restore = fsm_restore;
	g->rfsm.snapshot_finalize = fsm_snapshot_finalize;
	g->rfsm.snapshot_async = g->fsm.snapshot_async != NULL ? fsm_snapshot_async : NULL;
	if ((rv = rmux_transport_init(r->mux, name, &g->trans)) != 0) {
		free(g);
		return rv;
	}
	if ((rv = raft_uv_init(&g->io, &r->loop, dir, &g->trans)) != 0) {
		log_error("repl.open", "group %s: %s", name, raft_strerror(rv));
		rmux_transport_close(&g->trans);
		free(g);
		return -EIO;
	}
	raft_uv_set_segment_size(&g->io, REPL_SEGMENT_SIZE);
	raft_uv_set_connect_retry_delay(&g->io, 200);
	/* A damaged closed segment must stop the group, not be dropped: entries
	 * this node acknowledged would silently vanish. */
	raft_uv_set_auto_recovery(&g->io, false);
	/* raft_uv 0.15 implements async_work but says version 1, and
	 * raft_init refuses async snapshots over an io of version 1. */
	if (g->io.async_work != NULL && g->io.version < 2) {
		g->io.version = 2;
	}
	rv = raft_init(&g->raft, &g->io, &g->rfsm, r->cfg->nodes[r->self].id, r->addr);
	if (rv != 0) {
		log_error("repl.open", "group %s: %s", name, raft_strerror(rv));
		raft_uv_close(&g->io);
		rmux_transport_close(&g->trans);
		free(g);
		return -EIO;
	}
	g->raft.data = g;
	raft_set_election_timeout(&g->raft, r->cfg->election_ms);
	raft_set_heartbeat_timeout(&g->raft,
				   r->cfg->election_ms / 10 ? r->cfg->election_ms / 10 : 1);
	raft_set_install_snapshot_timeout(&g->raft, REPL_INSTALL_SNAPSHOT_MS);
	space_snapshots(g);
	raft_set_pre_vote(&g->raft, true); /* a node cut off does not disrupt on return */
	if (voters != NULL && n_voters > 0) {
		struct raft_configuration conf;

		raft_configuration_init(&conf);
		for (size_t i = 0; i < n_voters; i++) {
			char a[128];

			if (repl_node_addr(r->cfg, voters[i], a, sizeof(a)) != 0 ||
			    raft_configuration_add(&conf, r->cfg->nodes[voters[i]].id, a,
						   RAFT_VOTER) != 0) {
				raft_configuration_close(&conf);
				rv = RAFT_NOMEM;
				break;
			}
		}
		if (rv == 0) {
			rv = raft_bootstrap(&g->raft, &conf);
			raft_configuration_close(&conf);
			if (rv == RAFT_CANTBOOTSTRAP) {
				rv = 0; /* state exists already: just start */
			}
		}
	}
	if (rv == 0) {
		rv = raft_start(&g->raft);
	}
	if (rv != 0) {
		log_error("repl.open", "group %s: cannot start: %s", name, raft_errmsg(&g->raft));
		/* raft_close frees asynchronously; keep g until then. */
		g->closed = 1;
		pthread_mutex_lock(&r->mu);
		g->next = r->groups;
		r->groups = g;
		pthread_mutex_unlock(&r->mu);
		raft_close(&g->raft, NULL);
		return -EIO;
	}
	pthread_mutex_lock(&r->mu);
	g->next = r->groups;
	r->groups = g;
	pthread_mutex_unlock(&r->mu);
	*out = g;
	return 0;
}

static void mux_unknown(void *arg, const char *group)
{
	struct repl *r = arg;

	if (r->unknown != NULL) {
		r->unknown(r->unknown_arg, group);
	}
}

/* ---- requests on the loop ------------------------------------------ */

/* An entry's outcome: each record's proposer gets its own result, in
 * the order they were put in (a result missing is -EIO: only an entry
 * not ours could have fewer records, and c-raft fails ours before). */
static void apply_cb(struct raft_apply *req, int status, void *result)
{
	struct rreq *rq = req->data;
	struct rreq **pp = &rq->g->inflight;
	struct entry_results *er = result;
	size_t i = 0;

	while (*pp != NULL && *pp != rq) {
		pp = &(*pp)->inflight_next;
	}
	if (*pp == rq) {
		*pp = rq->inflight_next;
	}

	status = raft_to_errno(status);
	while (rq != NULL) {
		struct rreq *next = rq->batch_next;

		rq->status = status;
		if (status == -EREMOTE) {
			rq->leader = atomic_load(&rq->g->leader);
		}
		if (status == 0) {
			if (er != NULL && i < er->n) {
				rq->result = er->res[i];
				er->res[i] = NULL;
			} else {
				rq->status = -EIO;
			}
		}
		if (rq->g->propose_ns != NULL) {
			mx_observe(rq->g->propose_ns, mx_now_ns() - rq->t0_ns);
		}
		rq_finish(rq->g->r, rq);
		rq = next;
		i++;
	}
	results_free(er);
}

static void change_cb(struct raft_change *req, int status)
{
	struct rreq *rq = req->data;
	struct repl_group *g = rq->g;

	if (status == 0 && rq->type == RQ_ADD && rq->buf == NULL) {
		/* Step 2 of an add: promote the new spare to voter (c-raft
		 * catches it up first). */
		rq->buf = rq; /* marks step 2 */
		rq->change.data = rq;
		status = raft_assign(&g->raft, &rq->change, g->r->cfg->nodes[rq->node].id,
				     RAFT_VOTER, change_cb);
		if (status == 0) {
			return;
		}
	}
	rq->status = raft_to_errno(status);
	rq_finish(g->r, rq);
}

/* The role of server id in the group's configuration; -1 if absent. */
static int conf_role(const struct raft *rf, raft_id id)
{
	for (unsigned i = 0; i < rf->configuration.n; i++) {
		if (rf->configuration.servers[i].id == id) {
			return rf->configuration.servers[i].role;
		}
	}
	return -1;
}

enum { ADD_DONE, ADD_STARTED, ADD_WAIT };

/* An add of a node the configuration already holds: a client's retry of
 * an add whose catch-up outlasted its request (a large shard), or a
 * second operator.  Done when the node is a voter; waits while a change
 * is under way (c-raft refuses another, RAFT_CANTCHANGE); promotes a
 * spare that nobody promotes.  Leader only, on the loop. */
static int add_again(struct repl_group *g, struct rreq *rq)
{
	raft_id id = g->r->cfg->nodes[rq->node].id;
	int rv;

	if (conf_role(&g->raft, id) == RAFT_VOTER) {
		rq->status = 0;
		return ADD_DONE;
	}
	if (g->raft.leader_state.change != NULL || g->raft.leader_state.promotee_id != 0) {
		return ADD_WAIT;
	}
	rq->buf = rq; /* step 2 of an add (change_cb) */
	rq->change.data = rq;
	rv = raft_assign(&g->raft, &rq->change, id, RAFT_VOTER, change_cb);
	if (rv != 0) {
		rq->status = raft_to_errno(rv);
		return ADD_DONE;
	}
	return ADD_STARTED;
}

/* Each tick: the adds waiting for an earlier one (add_again). */
static void adds_tick(struct repl_group *g)
{
	struct rreq **pp = &g->add_waits;

	while (*pp != NULL) {
		struct rreq *rq = *pp;
		int how = ADD_DONE;

		if (g->raft.state != RAFT_LEADER) {
			rq->status = -EREMOTE;
			rq->leader = atomic_load(&g->leader);
		} else {
			how = add_again(g, rq);
		}
		if (how == ADD_WAIT) {
			pp = &rq->inflight_next;
			continue;
		}
		*pp = rq->inflight_next;
		if (how == ADD_DONE) {
			rq_finish(g->r, rq);
		}
	}
}

static void fill_state(struct repl_group *g, struct repl_state *st)
{
	struct raft *rf = &g->raft;

	memset(st, 0, sizeof(*st));
	st->role = rf->state;
	st->ready = atomic_load(&g->ready);
	st->leader = atomic_load(&g->leader);
	st->term = rf->current_term;
	st->commit = rf->commit_index;
	st->applied = rf->last_applied;
	st->last_index = raft_last_index(rf);
	for (unsigned i = 0; i < rf->configuration.n && st->n_voters < 8; i++) {
		const struct raft_server *s = &rf->configuration.servers[i];

		if (s->role != RAFT_VOTER) {
			continue;
		}
		st->voters[st->n_voters] = node_of_id(g->r, s->id);
		if (rf->state == RAFT_LEADER && rf->leader_state.progress != NULL) {
			st->match[st->n_voters] = rf->leader_state.progress[i].match_index;
		}
		if (s->id == rf->id) {
			st->match[st->n_voters] = raft_last_index(rf);
		}
		st->n_voters++;
	}
}

/* Finishes every record of a batch that never became an entry. */
static void fail_batch(struct rreq *rq, int status, long leader)
{
	while (rq != NULL) {
		struct rreq *next = rq->batch_next;

		raft_free(rq->entry.base);
		rq->entry.base = NULL;
		rq->status = status;
		rq->leader = leader;
		rq_finish(rq->g->r, rq);
		rq = next;
	}
}

/* Proposes rq and the records batched behind it (rq->batch_next) as one
 * entry: their framed records end to end, each already padded to 8
 * bytes.  apply_cb, or fail_batch here, finishes all of them. */
static void propose_entry(struct repl_group *g, struct rreq *rq)
{
	struct raft_buffer b = rq->entry;
	size_t n = 0;
	int rv;

	if (g->closed || !atomic_load(&g->ready) || g->raft.state != RAFT_LEADER) {
		fail_batch(rq, -EREMOTE, atomic_load(&g->leader));
		return;
	}
	if (rq->batch_next != NULL) {
		size_t off = 0;

		b.len = 0;
		for (struct rreq *m = rq; m != NULL; m = m->batch_next) {
			b.len += m->entry.len;
		}
		b.base = raft_malloc(b.len);
		if (b.base == NULL) {
			fail_batch(rq, -ENOMEM, -1);
			return;
		}
		for (struct rreq *m = rq; m != NULL; m = m->batch_next) {
			memcpy((uint8_t *)b.base + off, m->entry.base, m->entry.len);
			off += m->entry.len;
			raft_free(m->entry.base);
			m->entry.base = NULL;
		}
	}
	for (struct rreq *m = rq; m != NULL; m = m->batch_next) {
		n++;
	}
	rq->apply.data = rq;
	rv = raft_apply(&g->raft, &rq->apply, &b, 1, apply_cb);
	if (rv != 0) {
		if (b.base != rq->entry.base) {
			raft_free(b.base);
		}
		fail_batch(rq, raft_to_errno(rv), atomic_load(&g->leader));
		return;
	}
	rq->entry.base = NULL; /* c-raft owns it now */
	rq->inflight_next = g->inflight;
	g->inflight = rq;
	atomic_fetch_add(&g->entries_out, 1);
	atomic_fetch_add(&g->records_out, n);
}

static void run_request(struct repl *r, struct rreq *rq)
{
	struct repl_group *g = rq->g;
	int rv;

	switch (rq->type) {
	case RQ_OPEN:
		rq->status =
		    group_start(r, rq->name, rq->fsm, rq->voters, rq->n_voters, &rq->opened);
		break;
	case RQ_STATE:
		fill_state(g, rq->st);
		rq->status = 0;
		break;
	case RQ_PROPOSE:
		propose_entry(g, rq);
		return;
	case RQ_ADD:
	case RQ_REMOVE: {
		char a[128];

		if (g->raft.state != RAFT_LEADER) {
			rq->status = -EREMOTE;
			rq->leader = atomic_load(&g->leader);
			break;
		}
		rq->change.data = rq;
		rq->buf = NULL;
		if (rq->type == RQ_ADD && conf_role(&g->raft, r->cfg->nodes[rq->node].id) >= 0) {
			int how = add_again(g, rq);

			if (how == ADD_WAIT) {
				rq->inflight_next = g->add_waits;
				g->add_waits = rq;
			}
			if (how != ADD_DONE) {
				return;
			}
			break;
		}
		if (rq->type == RQ_ADD) {
			if (repl_node_addr(r->cfg, rq->node, a, sizeof(a)) != 0) {
				rq->status = -EINVAL;
				break;
			}
			rv = raft_add(&g->raft, &rq->change, r->cfg->nodes[rq->node].id, a,
				      change_cb);
		} else {
			rv = raft_remove(&g->raft, &rq->change, r->cfg->nodes[rq->node].id,
					 change_cb);
		}
		if (rv == 0) {
			return;
		}
		rq->status = raft_to_errno(rv);
		break;
	}
	}
	rq_finish(r, rq);
}

static void group_closed(struct raft *rf)
{
	struct repl_group *g = rf->data;

	raft_uv_close(&g->io);
	rmux_transport_close(&g->trans);
	g->closed = 2; /* memory may go */
}

/* Loop thread: closes every group, the mux and our own handles.  c-raft
 * finishes its segments (close, rename, fsync) in callbacks, so the loop
 * must keep running until they fired: uv_run then returns by itself once
 * no handle is left.  Stopping the loop early truncates closed segments
 * and the next start refuses (or "recovers" by dropping) the log. */
static void shutdown_on_loop(struct repl *r)
{
	r->closing = 1;
	for (struct repl_group *g = r->groups; g != NULL; g = g->next) {
		if (!g->closed) {
			g->closed = 1;
			raft_close(&g->raft, group_closed);
		}
	}
	rmux_close(r->mux);
	uv_timer_stop(&r->tick);
	uv_close((uv_handle_t *)&r->tick, NULL);
	uv_check_stop(&r->flush);
	uv_close((uv_handle_t *)&r->flush, NULL);
	uv_timer_stop(&r->flush_timer);
	uv_close((uv_handle_t *)&r->flush_timer, NULL);
	lt_close(&r->turn);
	uv_close((uv_handle_t *)&r->wake, NULL);
}

/* Takes the queue's first request; a proposal takes the proposals of
 * the same group queued right behind it along (rq->batch_next), up to
 * propose_batch records and REPL_BATCH_BYTES: what arrived while the
 * loop was busy goes out as one entry.  r->mu held. */
static struct rreq *dequeue_locked(struct repl *r)
{
	struct rreq *rq = r->qhead, *last;
	size_t n = 1, bytes;

	if (rq == NULL) {
		return NULL;
	}
	r->qhead = rq->next;
	last = rq;
	bytes = rq->entry.len;
	while (rq->type == RQ_PROPOSE && r->qhead != NULL && r->qhead->type == RQ_PROPOSE &&
	       r->qhead->g == rq->g && n < r->cfg->propose_batch &&
	       bytes + r->qhead->entry.len <= REPL_BATCH_BYTES) {
		last->batch_next = r->qhead;
		last = r->qhead;
		r->qhead = last->next;
		bytes += last->entry.len;
		n++;
	}
	last->batch_next = NULL;
	if (r->qhead == NULL) {
		r->qtail = NULL;
	}
	return rq;
}

static void wake_cb(uv_async_t *a)
{
	struct repl *r = a->data;

	for (;;) {
		struct rreq *rq;

		pthread_mutex_lock(&r->mu);
		rq = dequeue_locked(r);
		pthread_mutex_unlock(&r->mu);
		if (rq == NULL) {
			break;
		}
		run_request(r, rq);
	}
	if (r->stopping && !r->closing) {
		shutdown_on_loop(r);
	}
}

static void *repl_main(void *arg)
{
	struct repl *r = arg;

	pthread_setname_np(pthread_self(), "raft-loop");
	uv_run(&r->loop, UV_RUN_DEFAULT);
	return NULL;
}

/* Queues rq for the loop and wakes it (r->mu held).  -ESHUTDOWN once
 * stopping: rq was not queued. */
static int post_locked(struct repl *r, struct rreq *rq)
{
	if (r->stopping) {
		return -ESHUTDOWN;
	}
	rq->next = NULL;
	if (r->qtail != NULL) {
		r->qtail->next = rq;
	} else {
		r->qhead = rq;
	}
	r->qtail = rq;
	uv_async_send(&r->wake);
	return 0;
}

/* Posts rq and waits for it; returns 0 when done, -ETIMEDOUT after
 * abandoning it (the loop frees it later), -ESHUTDOWN after freeing it
 * (stopping: never queued). */
static int post_wait(struct repl *r, struct rreq *rq, uint32_t timeout_ms)
{
	int64_t deadline = clock_mono_ns() + (int64_t)timeout_ms * 1000000;
	struct timespec until = {.tv_sec = (time_t)(deadline / 1000000000),
				 .tv_nsec = (long)(deadline % 1000000000)};
	pthread_condattr_t ca;
	int rc = 0;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&rq->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&r->mu);
	if ((rc = post_locked(r, rq)) != 0) {
		pthread_mutex_unlock(&r->mu);
		pthread_cond_destroy(&rq->cv);
		raft_free(rq->entry.base);
		free(rq->st);
		free(rq);
		return rc;
	}
	while (!rq->done) {
		if (pthread_cond_timedwait(&rq->cv, &r->mu, &until) == ETIMEDOUT && !rq->done) {
			rq->abandoned = 1;
			rc = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	if (rc == 0) {
		pthread_cond_destroy(&rq->cv);
	}
	return rc;
}

static struct rreq *rq_new(enum rq_type type, struct repl_group *g)
{
	struct rreq *rq = calloc(1, sizeof(*rq));

	if (rq != NULL) {
		rq->type = type;
		rq->g = g;
		rq->leader = -1;
	}
	return rq;
}

/* ---- public API ------------------------------------------------------ */

int repl_open(const struct cfg *cfg, size_t self, const char *raft_dir, struct repl **out,
	      char *err, size_t errlen)
{
	struct repl *r = calloc(1, sizeof(*r));
	struct frame_key key;
	int rc, n;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->cfg = cfg;
	r->self = self;
	n = snprintf(r->dir, sizeof(r->dir), "%s", raft_dir);
	if (n < 0 || (size_t)n >= sizeof(r->dir) || (mkdir(r->dir, 0700) != 0 && errno != EEXIST)) {
		snprintf(err, errlen, "%s: cannot create: %s", raft_dir, strerror(errno));
		free(r);
		return -EIO;
	}
	if ((rc = repl_node_addr(cfg, self, r->addr, sizeof(r->addr))) != 0) {
		snprintf(err, errlen, "bad raft address for node %u", cfg->nodes[self].id);
		free(r);
		return rc;
	}
	pthread_mutex_init(&r->mu, NULL);
	uv_loop_init(&r->loop);
	memcpy(key.secret, cfg->secret, cfg->secret_len);
	key.len = cfg->secret_len;
	rc = rmux_open(&r->loop, r->addr, &key, cfg->max_skew_s, mux_unknown, r, &r->mux, err,
		       errlen);
	if (rc != 0) {
		uv_loop_close(&r->loop);
		pthread_mutex_destroy(&r->mu);
		free(r);
		return rc;
	}
	uv_async_init(&r->loop, &r->wake, wake_cb);
	r->wake.data = r;
	uv_timer_init(&r->loop, &r->tick);
	r->tick.data = r;
	uv_timer_start(&r->tick, tick_cb, REPL_TICK_MS, REPL_TICK_MS);
	uv_check_init(&r->loop, &r->flush);
	r->flush.data = r;
	uv_check_start(&r->flush, flush_cb);
	uv_timer_init(&r->loop, &r->flush_timer);
	r->flush_timer.data = r;
	lt_init(&r->turn, &r->loop, cfg->election_ms);
	if (pthread_create(&r->thread, NULL, repl_main, r) != 0) {
		snprintf(err, errlen, "cannot start the replication thread");
		rmux_close(r->mux);
		free(r);
		return -ENOMEM;
	}
	r->started = 1;
	*out = r;
	return 0;
}

void repl_set_unknown_cb(struct repl *r, void (*fn)(void *arg, const char *group), void *arg)
{
	r->unknown = fn;
	r->unknown_arg = arg;
}

/* Fails a request nobody will answer any more (r->mu held); an
 * asynchronous one goes to *async, to be called once the lock is let go. */
static void fail_waiter(struct rreq *rq, struct rreq **async)
{
	rq->status = -ESHUTDOWN;
	if (rq->done_fn != NULL) {
		rq->next = *async;
		*async = rq;
		return;
	}
	rq_complete_locked(rq);
}

void repl_stop(struct repl *r)
{
	struct rreq *async = NULL;
	struct timespec until;

	if (r == NULL || r->stopped) {
		return;
	}
	/* A loop that does not stop (r->stuck) must not time its turns
	 * into a registry its owner destroys after this. */
	lt_quiet(&r->turn);
	pthread_mutex_lock(&r->mu);
	r->stopping = 1;
	pthread_mutex_unlock(&r->mu);
	uv_async_send(&r->wake);
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 15;
	if (pthread_clockjoin_np(r->thread, NULL, CLOCK_MONOTONIC, &until) != 0) {
		/* Something in c-raft never finished closing: leave it to the
		 * process exit rather than freeing memory it still uses. */
		log_error("repl.close", "replication did not stop within 15 s");
		r->stuck = 1;
	}
	r->stopped = 1;
	if (r->stuck) {
		return;
	}
	/* The loop is gone: nobody will answer what is still queued or in
	 * flight.  Wake those waiters now (new ones see `stopping`). */
	pthread_mutex_lock(&r->mu);
	while (r->qhead != NULL) {
		struct rreq *rq = r->qhead;

		r->qhead = rq->next;
		fail_waiter(rq, &async);
	}
	r->qtail = NULL;
	for (struct repl_group *g = r->groups; g != NULL; g = g->next) {
		while (g->add_waits != NULL) {
			struct rreq *rq = g->add_waits;

			g->add_waits = rq->inflight_next;
			fail_waiter(rq, &async);
		}
		while (g->inflight != NULL) {
			struct rreq *rq = g->inflight;

			g->inflight = rq->inflight_next;
			while (rq != NULL) {
				struct rreq *next = rq->batch_next;

				fail_waiter(rq, &async);
				rq = next;
			}
		}
	}
	pthread_mutex_unlock(&r->mu);
	while (async != NULL) {
		struct rreq *rq = async;

		async = rq->next;
		rq_call_done(rq);
	}
}

void repl_close(struct repl *r)
{
	if (r == NULL) {
		return;
	}
	repl_stop(r);
	if (r->stuck) {
		return;
	}
	uv_loop_close(&r->loop);
	while (r->groups != NULL) {
		struct repl_group *g = r->groups;

		r->groups = g->next;
		pthread_mutex_destroy(&g->pub_mu);
		free(g);
	}
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int repl_group_open(struct repl *r, const char *name, const struct repl_fsm *fsm,
		    const size_t *voters, size_t n_voters, struct repl_group **out)
{
	struct rreq *rq;
	int rc;

	if (pthread_equal(pthread_self(), r->thread)) {
		return group_start(r, name, fsm, voters, n_voters, out);
	}
	if ((*out = repl_group_find(r, name)) != NULL) {
		return 0;
	}
	rq = rq_new(RQ_OPEN, NULL);
	if (rq == NULL) {
		return -ENOMEM;
	}
	rq->name = name;
	rq->fsm = fsm;
	rq->voters = voters;
	rq->n_voters = n_voters;
	rc = post_wait(r, rq, 30000);
	if (rc != 0) {
		return rc; /* abandoned: the loop frees it (it borrowed our args:
			    * an open never takes 30 s unless the disk hangs) */
	}
	rc = rq->status;
	*out = rq->opened;
	free(rq);
	return rc;
}

struct repl_group *repl_group_find(struct repl *r, const char *name)
{
	struct repl_group *g;

	pthread_mutex_lock(&r->mu);
	g = find_locked(r, name);
	pthread_mutex_unlock(&r->mu);
	return g != NULL && !g->closed ? g : NULL;
}

void repl_groups(struct repl *r, void (*fn)(void *arg, struct repl_group *g, const char *name),
		 void *arg)
{
	struct repl_group *g;

	pthread_mutex_lock(&r->mu);
	g = r->groups;
	pthread_mutex_unlock(&r->mu);
	/* Groups are only added at the head and freed at close: safe. */
	for (; g != NULL; g = g->next) {
		if (!g->closed) {
			fn(arg, g, g->name);
		}
	}
}

/* Frames a record as a log entry: u32 length, record, zeros to a
 * multiple of 8 -- c-raft's segment files assume 8-byte multiples (an odd
 * length made the closed segment come out short, unreadable at the next
 * start).  Done on the proposer's thread, not the loop's. */
static int frame_entry(const void *buf, size_t len, struct raft_buffer *b)
{
	struct wr w;

	if (len == 0 || len > UINT32_MAX - 8) {
		return -EINVAL; /* a zero length ends an entry's records */
	}
	b->len = (ENTRY_HDR + len + 7) & ~(size_t)7;
	b->base = raft_malloc(b->len);
	if (b->base == NULL) {
		return -ENOMEM;
	}
	wr_init_buf(&w, b->base, ENTRY_HDR);
	wr_u32(&w, (uint32_t)len);
	memcpy((uint8_t *)b->base + ENTRY_HDR, buf, len);
	memset((uint8_t *)b->base + ENTRY_HDR + len, 0, b->len - ENTRY_HDR - len);
	return 0;
}

/* A proposal request carrying the framed record; NULL with *rc set. */
static struct rreq *propose_new(struct repl_group *g, const void *buf, size_t len, int *rc)
{
	struct rreq *rq = rq_new(RQ_PROPOSE, g);

	*rc = rq == NULL ? -ENOMEM : frame_entry(buf, len, &rq->entry);
	if (*rc != 0) {
		free(rq);
		return NULL;
	}
	if (g->propose_ns != NULL) {
		rq->t0_ns = mx_now_ns();
	}
	return rq;
}

int repl_propose(struct repl_group *g, const void *buf, size_t len, uint32_t timeout_ms,
		 void **result, long *leader)
{
	int rc;
	struct rreq *rq = propose_new(g, buf, len, &rc);

	*result = NULL;
	*leader = -1;
	if (rq == NULL) {
		return rc;
	}
	rc = post_wait(g->r, rq, timeout_ms);
	if (rc != 0) {
		return rc; /* rq is gone or abandoned */
	}
	rc = rq->status;
	*leader = rq->leader;
	*result = rq->result;
	free(rq);
	return rc;
}

int repl_propose_async(struct repl_group *g, const void *buf, size_t len, repl_done_fn done,
		       void *arg)
{
	int rc;
	struct rreq *rq = propose_new(g, buf, len, &rc);

	if (rq == NULL) {
		return rc;
	}
	rq->done_fn = done;
	rq->done_arg = arg;
	pthread_mutex_lock(&g->r->mu);
	rc = post_locked(g->r, rq);
	pthread_mutex_unlock(&g->r->mu);
	if (rc != 0) {
		raft_free(rq->entry.base);
		free(rq);
	}
	return rc;
}

int repl_read_ok(struct repl_group *g, long *leader)
{
	*leader = atomic_load(&g->leader);
	return atomic_load(&g->ready) ? 0 : -EREMOTE;
}

uint64_t repl_applied(struct repl_group *g)
{
	return atomic_load(&g->applied);
}

int repl_get_state(struct repl_group *g, struct repl_state *st)
{
	struct rreq *rq = rq_new(RQ_STATE, g);
	int rc;

	if (rq == NULL) {
		return -ENOMEM;
	}
	rq->st = calloc(1, sizeof(*rq->st));
	if (rq->st == NULL) {
		free(rq);
		return -ENOMEM;
	}
	rc = post_wait(g->r, rq, 5000);
	if (rc != 0) {
		return rc; /* abandoned: the loop frees rq and rq->st */
	}
	*st = *rq->st;
	free(rq->st);
	free(rq);
	return 0;
}

int repl_get_stats(struct repl_group *g, struct repl_stats *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&g->pub_mu);
	out->st = g->pub;
	out->elections = g->term0 != 0 && g->pub.term > g->term0 ? g->pub.term - g->term0 : 0;
	pthread_mutex_unlock(&g->pub_mu);
	out->snapshots_taken = atomic_load(&g->snaps_taken);
	out->snapshots_installed = atomic_load(&g->snaps_installed);
	out->proposed_entries = atomic_load(&g->entries_out);
	out->proposed_records = atomic_load(&g->records_out);
	return out->st.term != 0 ? 0 : -EAGAIN;
}

void repl_set_metrics(struct repl *r, struct mx_registry *mx)
{
	r->mx = mx;
	if (mx == NULL) {
		return;
	}
	lt_set_metrics(&r->turn, mx);
}

static int change(struct repl_group *g, enum rq_type t, size_t node, uint32_t timeout_ms)
{
	struct rreq *rq = rq_new(t, g);
	int rc;

	if (rq == NULL) {
		return -ENOMEM;
	}
	rq->node = node;
	rc = post_wait(g->r, rq, timeout_ms);
	if (rc != 0) {
		return rc;
	}
	rc = rq->status;
	free(rq);
	return rc;
}

int repl_add_voter(struct repl_group *g, size_t node, uint32_t timeout_ms)
{
	return change(g, RQ_ADD, node, timeout_ms);
}

int repl_remove_voter(struct repl_group *g, size_t node, uint32_t timeout_ms)
{
	return change(g, RQ_REMOVE, node, timeout_ms);
}
