/* meta_repair.c: automatic repair, on the catalog shard's leader.  One
 * thread pings every node each second, keeps each node's state (up; down
 * since T; gone once down longer than repair_after) and, when a node is
 * gone, rebuilds its fragments on other nodes (blk_rebuild); when a node
 * comes back or restarts, checks its home fragments (an empty disk gets
 * them back) and lets the stray GC remove the copies that became surplus.
 * Never deletes a fragment itself; never runs on a node that does not
 * lead the catalog. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/clock.h"
#include "../common/err.h"
#include "../common/gc.h"
#include "../common/log.h"
#include "../common/metrics.h"
#include "../common/object.h"
#include "../common/repair_plan.h"
#include "../common/repair_walk.h"
#include "meta_service_i.h"

#define REP_TICK_MS 1000
/* A node that did not answer a ping for this long is down: a few missed
 * pings, so a busy node or one lost packet is not a failure. */
#define REP_DOWN_AFTER_MS 3000
#define REP_PING_TIMEOUT_MS 1000
/* A pass that failed (a shard without leader, a node that refused) is
 * tried again after this long. */
#define REP_RETRY_MS 5000
/* After a node returns, sweeps run until the surplus copies are old
 * enough for the GC (gc_grace), at most this often. */
#define REP_GC_MIN_MS 5000
/* Checks of a returned node's homes that a sweep may ask for, when it
 * finds hand-offs of fragments the home lacks (see run_gc). */
#define REP_RECHECKS_MAX 3

static const char *const state_names[] = {"up", "down", "gone", "out"};

struct mrep {
	struct msvc *m;
	const struct cfg *cfg;
	pthread_t th;
	pthread_mutex_t mu; /* guards stop */
	pthread_cond_t cv;
	int stop;
	/* the thread's own */
	struct objc *oc;
	int leading;
	struct rp_node node[CFG_MAX_NODES];
	uint8_t check[CFG_MAX_NODES];	 /* returned or restarted: verify its homes */
	uint8_t rechecks[CFG_MAX_NODES]; /* checks since it returned, for homeless copies */
	int rebuild;			 /* a node became gone: rebuild its fragments */
	int census;			 /* node states changed: count degraded blocks */
	uint64_t retry_ms;		 /* no pass before this (after a failed one) */
	uint64_t gc_next_ms, gc_until_ms;
	uint64_t rate_next_ms; /* throttle: next write allowed */
	struct mx_metric *mx_bytes, *mx_blocks, *mx_degraded, *mx_state[4];
};

/* Sleeps ms unless stopped; returns 1 when stopping. */
static int nap(struct mrep *r, uint64_t ms)
{
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&r->mu);
	if (!r->stop) {
		pthread_cond_timedwait(&r->cv, &r->mu, &until);
	}
	stop = r->stop;
	pthread_mutex_unlock(&r->mu);
	return stop;
}

static int stopping(struct mrep *r)
{
	int s;

	pthread_mutex_lock(&r->mu);
	s = r->stop;
	pthread_mutex_unlock(&r->mu);
	return s;
}

static int leads_catalog(struct mrep *r)
{
	struct shard *s = shard_find(r->m, "");
	long leader;

	return s != NULL && repl_read_ok(s->g, &leader) == 0;
}

static void publish_states(struct mrep *r)
{
	size_t count[4] = {0};

	for (size_t j = 0; j < r->cfg->n_nodes; j++) {
		count[r->node[j].state & 3]++;
	}
	for (size_t s = 0; s < 4; s++) {
		mx_set(r->mx_state[s], r->leading ? (double)count[s] : 0);
	}
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Records node j's state in the cluster map (a catalog record, so every
 * replica and the next leader know it).  since_ns 0: now. */
static void record_state(struct mrep *r, size_t j, uint8_t state, int64_t since_ns)
{
	struct shard *s = shard_find(r->m, "");
	struct meta_op op = {.type = MOP_NODE_STATE};
	struct meta_result res;
	uint32_t hint = 0;

	if (s == NULL) {
		return;
	}
	op.ino = r->cfg->nodes[j].id;
	op.mode = state;
	op.size = (uint64_t)since_ns;
	if (msvc_apply_sync(r->m, s, &op, &res, &hint) != 0) {
		log_warn("repair.map", "cannot record node %u as %s in the cluster map",
			 r->cfg->nodes[j].id, state_names[state & 3]);
	}
}

static long node_index(const struct mrep *r, uint32_t id)
{
	for (size_t j = 0; j < r->cfg->n_nodes; j++) {
		if (r->cfg->nodes[j].id == id) {
			return (long)j;
		}
	}
	return -1;
}

/* Reads the cluster map.  At the start of a leadership (fresh) the down
 * times recorded by the previous leader are taken over, so its clocks do
 * not start again; every tick, a node out (objfsctl node out) is taken
 * as gone, and one back in is checked. */
static void read_map(struct mrep *r, uint64_t now, int fresh)
{
	struct shard *s = shard_find(r->m, "");
	struct meta_node_row rows[CFG_MAX_NODES];
	uint8_t out[CFG_MAX_NODES] = {0};
	int n;

	if (s == NULL || (n = ms_node_map(s->ms, rows, CFG_MAX_NODES)) < 0) {
		return;
	}
	for (int i = 0; i < n; i++) {
		long j = node_index(r, rows[i].id);
		struct rp_node *nd;

		if (j < 0) {
			continue;
		}
		nd = &r->node[j];
		out[j] = rows[i].state == META_NODE_OUT;
		if (fresh && (rows[i].state == META_NODE_DOWN || rows[i].state == META_NODE_GONE)) {
			uint64_t ago_ms = (uint64_t)((real_ns() - rows[i].since_ns) / 1000000);

			nd->state = RP_DOWN;
			nd->seen = 1;
			nd->down_ms = ago_ms < now ? now - ago_ms : 0;
		}
	}
	for (size_t j = 0; j < r->cfg->n_nodes; j++) {
		if (out[j] && r->node[j].state != RP_OUT) {
			log_info("repair.out", "node %u is out: rebuilding its fragments elsewhere",
				 r->cfg->nodes[j].id);
			r->node[j].state = RP_OUT;
			r->rebuild = r->census = 1;
		} else if (!out[j] && r->node[j].state == RP_OUT) {
			log_info("repair.in", "node %u is in again: checking its fragments",
				 r->cfg->nodes[j].id);
			r->node[j].state = RP_UP;
			r->node[j].last_ok_ms = now;
			r->check[j] = 1;
			r->census = 1;
		}
	}
}

/* Pings every node once and steps its state. */
static void ping_all(struct mrep *r, uint64_t now)
{
	size_t n = r->cfg->n_nodes;
	struct cl_req *reqs = calloc(n, sizeof(*reqs));
	uint64_t down_ms = REP_DOWN_AFTER_MS, after_ms = (uint64_t)(r->cfg->repair_after_s * 1000);

	if (reqs == NULL) {
		return;
	}
	for (size_t j = 0; j < n; j++) {
		reqs[j].node = j;
		reqs[j].type = MSG_PING;
		reqs[j].once = 1;
	}
	cl_run(objc_cl(r->oc), reqs, n, REP_PING_TIMEOUT_MS);
	for (size_t j = 0; j < n; j++) {
		struct node_status st = {0};
		int ok = reqs[j].status == 0;
		enum rp_event ev;
		uint32_t id = r->cfg->nodes[j].id;

		if (ok) {
			struct rd rd;

			rd_init(&rd, reqs[j].reply, reqs[j].reply_len);
			msg_get_node_status(&rd, &st);
			ok = rd_done(&rd);
		}
		cl_req_release(&reqs[j]);
		ev = rp_step(&r->node[j], ok, st.uptime_s, now, down_ms, after_ms);
		switch (ev) {
		case RP_EV_DOWN:
			log_warn("repair.down", "node %u is down (no answer for %llu ms)", id,
				 (unsigned long long)(now - r->node[j].down_ms));
			r->census = 1;
			record_state(r, j, META_NODE_DOWN,
				     real_ns() - (int64_t)(now - r->node[j].down_ms) * 1000000);
			break;
		case RP_EV_GONE:
			log_warn("repair.gone",
				 "node %u down for %.0f s (repair_after): rebuilding its fragments",
				 id, r->cfg->repair_after_s);
			r->rebuild = 1;
			r->census = 1;
			record_state(r, j, META_NODE_GONE, 0);
			break;
		case RP_EV_RETURNED:
		case RP_EV_RESTARTED:
			log_info("repair.returned", "node %u %s: checking its fragments", id,
				 ev == RP_EV_RETURNED ? "is up again" : "restarted");
			r->check[j] = 1;
			r->rechecks[j] = 0;
			r->census = 1;
			if (ev == RP_EV_RETURNED) {
				record_state(r, j, META_NODE_UP, 0);
			}
			break;
		case RP_EV_NONE:
			break;
		}
	}
	free(reqs);
	publish_states(r);
}

/* The throttle: waits until bytes more may be written at repair_rate. */
static void throttle(struct mrep *r, uint64_t bytes)
{
	uint64_t now = clock_mono_ms(), rate = (uint64_t)r->cfg->repair_rate_mb * 1000000;

	if (r->rate_next_ms < now) {
		r->rate_next_ms = now;
	}
	r->rate_next_ms += bytes * 1000 / rate;
	if (r->rate_next_ms > now) {
		nap(r, r->rate_next_ms - now);
	}
}

/* After each block: counts, throttles, stops when the node does. */
static int each_block(void *arg, const struct rw_stats *st, uint64_t bytes)
{
	struct mrep *r = arg;

	(void)st;
	if (bytes > 0) {
		mx_add(r->mx_blocks, 1);
		mx_add(r->mx_bytes, bytes);
		throttle(r, bytes);
	}
	return stopping(r);
}

/* One walk over every block of every bucket with the current roles. */
static void run_pass(struct mrep *r, uint64_t now)
{
	uint8_t role[CFG_MAX_NODES], down[CFG_MAX_NODES], checked[CFG_MAX_NODES];
	struct rw_opts o = {.role = role, .down = down, .each = each_block, .arg = r};
	struct rw_stats p;
	uint64_t t0 = clock_mono_ms();
	int rebuild = 0, rc;

	for (size_t j = 0; j < r->cfg->n_nodes; j++) {
		uint8_t st = r->node[j].state;

		role[j] = st == RP_GONE || st == RP_OUT ? BLK_NODE_GONE
			  : r->check[j]			? BLK_NODE_CHECK
							: BLK_NODE_TRUST;
		down[j] = st == RP_DOWN;
		rebuild |= role[j] == BLK_NODE_GONE;
		checked[j] = r->check[j];
	}
	rc = rw_run(r->oc, &o, &p);
	if (rc == -ECANCELED) {
		return;
	}
	if (rc < 0 && p.rc == 0) {
		p.rc = rc;
	}
	mx_set(r->mx_degraded, (double)p.degraded);
	if (p.rebuilt > 0 || p.rc != 0 || rebuild) {
		log_info("repair.pass",
			 "%llu blocks: %llu rebuilt (%llu bytes) in %llu ms, %llu degraded%s%s",
			 (unsigned long long)p.blocks, (unsigned long long)p.rebuilt,
			 (unsigned long long)p.bytes, (unsigned long long)(clock_mono_ms() - t0),
			 (unsigned long long)p.degraded, p.rc ? "; incomplete: " : "",
			 p.rc ? obj_strerror(p.rc) : "");
	}
	if (p.rc != 0) {
		r->retry_ms = now + REP_RETRY_MS;
		return;
	}
	r->rebuild = 0;
	r->census = 0;
	for (size_t j = 0; j < r->cfg->n_nodes; j++) {
		if (checked[j]) {
			r->check[j] = 0;
			/* Copies made while it was away are surplus now. */
			r->gc_next_ms = now;
			r->gc_until_ms =
			    clock_mono_ms() + (uint64_t)(r->cfg->gc_grace_s * 1000) + 60000;
		}
	}
}

/* The stray GC's sweep (gc.h), which removes hand-offs and rebuilt copies
 * whose home copy verifies intact, once they are older than gc_grace. */
static void run_gc(struct mrep *r, uint64_t now)
{
	struct gc_opts o = {.grace_s = (uint32_t)r->cfg->gc_grace_s};
	struct gc_stats st;
	uint64_t every = (uint64_t)(r->cfg->gc_grace_s * 1000);
	int rc = gc_run(r->oc, &o, &st);

	if (rc == 0) {
		log_info("repair.surplus",
			 "%llu surplus copies, %llu strays deleted, %llu young kept",
			 (unsigned long long)st.surplus, (unsigned long long)st.strays,
			 (unsigned long long)st.young);
	}
	/* A hand-off whose home is up but lacks its copy: a block whose
	 * record committed after the check of that home had walked past it
	 * (written while the home was away, committed after it returned).
	 * Check that home again; its copies come back, and a later sweep
	 * finds the hand-off surplus. */
	for (size_t j = 0; rc == 0 && j < st.n_nodes; j++) {
		/* A home that cannot take its copies back (a full disk) is
		 * not read in full again and again: a few checks, then the
		 * blocks wait for fsck --repair. */
		if (st.node[j].homeless > 0 && r->rechecks[j] < REP_RECHECKS_MAX) {
			r->rechecks[j]++;
			log_info("repair.homeless",
				 "node %u lacks %llu fragments that hand-offs hold: checking it",
				 st.node[j].node_id, (unsigned long long)st.node[j].homeless);
			r->check[j] = 1;
		}
	}
	if (rc == 0 && st.young == 0 && st.homeless == 0) {
		r->gc_until_ms = 0;
	}
	gc_stats_free(&st);
	every = every < REP_GC_MIN_MS ? REP_GC_MIN_MS : every > 3600000 ? 3600000 : every;
	r->gc_next_ms = now + every;
}

static void forget_states(struct mrep *r, uint64_t now)
{
	/* A new leader starts every node's clock again: it cannot know how
	 * long a node was down before (only delays a rebuild). */
	memset(r->node, 0, sizeof(r->node));
	memset(r->check, 0, sizeof(r->check));
	for (size_t j = 0; j < r->cfg->n_nodes; j++) {
		r->node[j].last_ok_ms = now;
	}
	r->rebuild = r->census = 0;
	r->gc_until_ms = 0;
	mx_set(r->mx_degraded, 0);
}

static void *rep_main(void *arg)
{
	struct mrep *r = arg;

	while (!nap(r, REP_TICK_MS)) {
		uint64_t now = clock_mono_ms();
		int lead = leads_catalog(r), want = 0;

		if (!lead) {
			if (r->leading) {
				r->leading = 0;
				forget_states(r, now);
				publish_states(r);
			}
			continue;
		}
		if (!r->leading) {
			r->leading = 1;
			forget_states(r, now);
			read_map(r, now, 1);
		}
		read_map(r, now, 0);
		ping_all(r, now);
		for (size_t j = 0; j < r->cfg->n_nodes; j++) {
			want |= r->check[j];
		}
		if ((want || r->rebuild || r->census) && now >= r->retry_ms) {
			run_pass(r, now);
		}
		/* Not while a node is out: its own copies still verify intact,
		 * and the sweep would take the drained ones for surplus. */
		for (size_t j = 0; j < r->cfg->n_nodes; j++) {
			want |= r->node[j].state == RP_OUT ? 2 : 0;
		}
		if (r->gc_until_ms != 0 && now >= r->gc_next_ms && !(want & 2)) {
			if (now > r->gc_until_ms) {
				r->gc_until_ms = 0;
			} else {
				run_gc(r, now);
			}
		}
	}
	return NULL;
}

int mrep_start(struct msvc *m, struct mrep **out)
{
	struct mrep *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	if (r == NULL) {
		return -ENOMEM;
	}
	r->m = m;
	r->cfg = m->cfg;
	if ((rc = objc_open(m->cfg, &r->oc)) != 0) {
		free(r);
		return rc;
	}
	if (m->mx != NULL) {
		r->mx_bytes = mx_counter(m->mx, "objfs_repair_bytes_total",
					 "Fragment bytes written by automatic repair.", NULL);
		r->mx_blocks = mx_counter(m->mx, "objfs_repair_blocks_total",
					  "Blocks that automatic repair wrote fragments of.", NULL);
		r->mx_degraded = mx_gauge(
		    m->mx, "objfs_blocks_degraded",
		    "Blocks short of k+m fragments at the last repair pass (catalog leader).",
		    NULL);
		for (size_t s = 0; s < 4; s++) {
			char lab[32];

			r->mx_state[s] =
			    mx_gauge(m->mx, "objfs_nodes_state",
				     "Nodes in each state, as the catalog leader sees them.",
				     mx_label(lab, sizeof(lab), "state", state_names[s]));
		}
	}
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&r->th, NULL, rep_main, r) != 0) {
		pthread_cond_destroy(&r->cv);
		pthread_mutex_destroy(&r->mu);
		objc_close(r->oc);
		free(r);
		return -ENOMEM;
	}
	*out = r;
	return 0;
}

void mrep_stop(struct mrep *r)
{
	if (r == NULL) {
		return;
	}
	pthread_mutex_lock(&r->mu);
	r->stop = 1;
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->th, NULL);
	objc_close(r->oc);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
