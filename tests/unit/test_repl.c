/* test_repl.c: Raft replication (nodes/repl.c) with three real replicas
 * in one process, on loopback TCP through the real multiplexer: a group
 * elects a ready leader, asynchronous proposals in flight together are
 * applied once each, in one order, on every replica, and flushed; a
 * follower refuses with -EREMOTE naming the leader; when the leader stops,
 * another one takes over and accepts proposals; a stopped replica fails
 * what it still holds with -ESHUTDOWN. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/config.h"
#include "../../common/log.h"
#include "../../common/metrics.h"
#include "../../nodes/repl.h"
#include "../lib/testlib.h"

#define N 3
#define MAXLOG 4096

/* A replica's state machine: the records applied, in order. */
struct sm {
	pthread_mutex_t mu;
	uint32_t log[MAXLOG];
	size_t n;
	atomic_int flushes;
	atomic_uint stall_ms; /* the next record STALL_V sleeps this long (once) */
};

#define STALL_V 0x57a11u

static struct cfg cfg;
static struct repl *r[N];
static struct sm sm[N];
static char dir[256];

/* Every record of the entry, each answered with its position in the log. */
static int sm_apply(void *arg, uint64_t index, const struct repl_rec *recs, size_t n,
		    void **results)
{
	struct sm *m = arg;

	(void)index;
	for (size_t i = 0; i < n; i++) {
		uint32_t v = 0;
		uint64_t *res = malloc(sizeof(*res));

		if (res == NULL || recs[i].len != sizeof(v)) {
			free(res);
			return -EINVAL;
		}
		memcpy(&v, recs[i].buf, sizeof(v));
		if (v == STALL_V) {
			usleep(atomic_exchange(&m->stall_ms, 0) * 1000u);
		}
		pthread_mutex_lock(&m->mu);
		if (m->n < MAXLOG) {
			m->log[m->n++] = v;
		}
		*res = m->n;
		pthread_mutex_unlock(&m->mu);
		results[i] = res;
	}
	return 0;
}

static int sm_snapshot(void *arg, void **buf, size_t *len)
{
	struct sm *m = arg;

	pthread_mutex_lock(&m->mu);
	*len = m->n * sizeof(uint32_t) + 1;
	*buf = malloc(*len);
	memcpy(*buf, m->log, *len - 1);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

static int sm_restore(void *arg, const void *buf, size_t len)
{
	struct sm *m = arg;

	pthread_mutex_lock(&m->mu);
	m->n = (len - 1) / sizeof(uint32_t);
	memcpy(m->log, buf, len - 1);
	pthread_mutex_unlock(&m->mu);
	return 0;
}

/* What every replica's state says its size is (test_snapshot_spacing). */
static atomic_uint_fast64_t sm_bytes;

static uint64_t sm_state_bytes(void *arg)
{
	(void)arg;
	return atomic_load(&sm_bytes);
}

static int sm_flush(void *arg)
{
	struct sm *m = arg;

	atomic_fetch_add(&m->flushes, 1);
	return 0;
}

/* Opens the N replicas (logging to whatever sink is set). */
static void open_all(void)
{
	unsigned base = 21000 + (unsigned)(getpid() % 500) * 20;

	/* A peer that dies mid-write must not kill us (repl.c says so). */
	signal(SIGPIPE, SIG_IGN);
	tl_mkdtemp(dir, sizeof(dir), "test_repl");
	memset(&cfg, 0, sizeof(cfg));
	memcpy(cfg.secret, "0123456789abcdef0123456789abcdef", 32);
	cfg.secret_len = 32;
	cfg.max_skew_s = 30;
	cfg.meta_replicas = 3;
	cfg.election_ms = 300;
	cfg.snapshot_entries = 8192;
	cfg.snapshot_max_entries = 65536;
	cfg.propose_batch = 64;
	cfg.n_nodes = N;
	for (size_t i = 0; i < N; i++) {
		char rd[300];
		char err[256];

		cfg.nodes[i].id = (uint32_t)i + 1;
		snprintf(cfg.nodes[i].addr, sizeof(cfg.nodes[i].addr), "tcp://127.0.0.1:%u",
			 base + (unsigned)i);
		snprintf(rd, sizeof(rd), "%s/raft%zu", dir, i);
		pthread_mutex_init(&sm[i].mu, NULL);
		sm[i].n = 0;
		atomic_store(&sm[i].flushes, 0);
		atomic_store(&sm[i].stall_ms, 0);
		ck_assert_msg(repl_open(&cfg, i, rd, &r[i], err, sizeof(err)) == 0, "%s", err);
	}
}

static void setup(void)
{
	log_set_sink(tl_quiet_sink, NULL);
	open_all();
}

static void teardown(void)
{
	for (size_t i = 0; i < N; i++) {
		repl_close(r[i]);
		r[i] = NULL;
	}
	tl_rmtree(dir);
	log_set_sink(NULL, NULL);
}

static struct repl_fsm fsm_of(size_t i)
{
	struct repl_fsm f = {.arg = &sm[i],
			     .apply = sm_apply,
			     .snapshot = sm_snapshot,
			     .restore = sm_restore,
			     .state_bytes = sm_state_bytes,
			     .flush = sm_flush};
	return f;
}

/* Opens group "g" on every replica (voters 0..N-1) and waits for a ready
 * leader; returns its index. */
static long open_group(struct repl_group *g[N])
{
	size_t voters[N] = {0, 1, 2};
	int64_t until = clock_mono_ns() + 15 * 1000000000LL;

	for (size_t i = 0; i < N; i++) {
		struct repl_fsm f = fsm_of(i);

		ck_assert_int_eq(repl_group_open(r[i], "g", &f, voters, N, &g[i]), 0);
	}
	while (clock_mono_ns() < until) {
		for (size_t i = 0; i < N; i++) {
			long l;

			if (g[i] != NULL && repl_read_ok(g[i], &l) == 0) {
				return (long)i;
			}
		}
		usleep(20000);
	}
	ck_abort_msg("no ready leader within 15 s");
	return -1;
}

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, ok, other, wrong;
	uint64_t max_pos;
	struct sm *leader_sm; /* set: check each result names its own record */
};

/* One asynchronous proposal: its value, to check the result it gets. */
struct prop {
	struct waiter *w;
	uint32_t v;
};

static void done_cb(void *arg, int status, void *result, long leader);

static void prop_done(void *arg, int status, void *result, long leader)
{
	struct prop *p = arg;
	struct waiter *w = p->w;

	if (status == 0 && result != NULL) {
		uint64_t pos = *(uint64_t *)result;

		pthread_mutex_lock(&w->leader_sm->mu);
		if (pos == 0 || pos > w->leader_sm->n || w->leader_sm->log[pos - 1] != p->v) {
			__atomic_fetch_add(&w->wrong, 1, __ATOMIC_RELAXED);
		}
		pthread_mutex_unlock(&w->leader_sm->mu);
	}
	done_cb(w, status, result, leader);
}

static void done_cb(void *arg, int status, void *result, long leader)
{
	struct waiter *w = arg;

	(void)leader;
	pthread_mutex_lock(&w->mu);
	if (status == 0 && result != NULL) {
		uint64_t pos = *(uint64_t *)result;

		w->ok++;
		if (pos > w->max_pos) {
			w->max_pos = pos;
		}
	} else {
		w->other++;
	}
	w->done++;
	free(result);
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Waits until replica i applied n records. */
static void wait_applied(size_t i, size_t n)
{
	int64_t until = clock_mono_ns() + 10 * 1000000000LL;
	size_t got;

	do {
		pthread_mutex_lock(&sm[i].mu);
		got = sm[i].n;
		pthread_mutex_unlock(&sm[i].mu);
		if (got >= n) {
			break;
		}
		usleep(10000);
	} while (clock_mono_ns() < until);
	ck_assert_uint_eq(got, n);
}

/* 500 proposals in flight at once: each applied exactly once, every
 * replica holds the same sequence, they went out in fewer entries than
 * records (propose_batch), each proposer got its own record's result,
 * and flushes batched the applies. */
START_TEST(test_async_batch)
{
	struct repl_group *g[N] = {0};
	long l = open_group(g);
	struct waiter w = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	enum { K = 500 };
	int seen[K] = {0};
	static struct prop props[K];
	struct repl_stats rs;

	w.leader_sm = &sm[l];
	for (uint32_t v = 0; v < K; v++) {
		props[v] = (struct prop){.w = &w, .v = v};
		ck_assert_int_eq(repl_propose_async(g[l], &v, sizeof(v), prop_done, &props[v]), 0);
	}
	pthread_mutex_lock(&w.mu);
	while (w.done < K) {
		pthread_cond_wait(&w.cv, &w.mu);
	}
	pthread_mutex_unlock(&w.mu);
	ck_assert_int_eq(w.ok, K);
	ck_assert_int_eq(w.other, 0);
	ck_assert_int_eq(w.wrong, 0);
	ck_assert_uint_eq(w.max_pos, K);
	repl_get_stats(g[l], &rs);
	ck_assert_uint_eq(rs.proposed_records, K);
	ck_assert_uint_lt(rs.proposed_entries, K);
	ck_assert_uint_ge(rs.proposed_entries, K / 64);
	for (size_t i = 0; i < N; i++) {
		wait_applied(i, K);
	}
	for (size_t j = 0; j < K; j++) {
		seen[sm[l].log[j]]++;
		for (size_t i = 0; i < N; i++) {
			ck_assert_uint_eq(sm[i].log[j], sm[l].log[j]);
		}
	}
	for (size_t j = 0; j < K; j++) {
		ck_assert_int_eq(seen[j], 1);
	}
	/* Group commit: fewer flushes than records on the leader. */
	ck_assert_int_gt(atomic_load(&sm[l].flushes), 0);
	ck_assert_int_lt(atomic_load(&sm[l].flushes), K);
}
END_TEST

/* A follower refuses with -EREMOTE and names the leader; the leader's
 * synchronous proposal returns the state machine's result. */
START_TEST(test_follower_and_sync)
{
	struct repl_group *g[N] = {0};
	long l = open_group(g), leader = -2;
	size_t f = ((size_t)l + 1) % N;
	uint32_t v = 7;
	void *res = NULL;
	int64_t until = clock_mono_ns() + 5 * 1000000000LL;
	int rc;

	/* A follower may not know the leader yet just after the election. */
	for (;;) {
		rc = repl_propose(g[f], &v, sizeof(v), 2000, &res, &leader);
		if (rc != -EREMOTE || leader >= 0 || clock_mono_ns() >= until) {
			break;
		}
		usleep(20000);
	}
	ck_assert_int_eq(rc, -EREMOTE);
	ck_assert_int_eq(leader, l);
	ck_assert_ptr_null(res);
	ck_assert_int_eq(repl_propose(g[l], &v, sizeof(v), 5000, &res, &leader), 0);
	ck_assert_ptr_nonnull(res);
	ck_assert_uint_eq(*(uint64_t *)res, 1);
	free(res);
}
END_TEST

/* Value of the unlabelled series name in mx's exposition (-1: absent). */
static double exposed(struct mx_registry *mx, const char *name)
{
	size_t len;
	char *text = mx_expose(mx, &len), *p = text;
	size_t n = strlen(name);
	double v = -1;

	ck_assert_ptr_nonnull(text);
	while (p != NULL && *p != '\0') {
		if (strncmp(p, name, n) == 0 && p[n] == ' ') {
			v = strtod(p + n + 1, NULL);
			break;
		}
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	free(text);
	return v;
}

static atomic_int stall_warnings;

static void stall_sink(enum log_level lvl, const char *id, const char *line, void *arg)
{
	(void)arg;
	(void)line;
	if (lvl == LOG_LVL_WARN && strcmp(id, "repl.stall") == 0) {
		atomic_fetch_add(&stall_warnings, 1);
	}
}

/* A turn of the loop that works longer than half the election timeout
 * (an apply of 250 ms, election timeout 300 ms) is timed in
 * objfs_raft_loop_turn_seconds, counted in objfs_raft_loop_stalls_total
 * and logged as repl.stall. */
START_TEST(test_loop_stall)
{
	struct repl_group *g[N] = {0};
	long l, leader = -2;
	struct mx_registry *mx = mx_create();
	uint32_t v = STALL_V;
	void *res = NULL;
	double before, turns;
	int64_t until;

	/* Replicas whose every warning is seen: whichever long turn is
	 * logged first (one line per 10 s), it is counted. */
	teardown();
	atomic_store(&stall_warnings, 0);
	log_set_sink(stall_sink, NULL);
	open_all();
	l = open_group(g);
	ck_assert_ptr_nonnull(mx);
	repl_set_metrics(r[l], mx);
	before = exposed(mx, "objfs_raft_loop_stalls_total");
	ck_assert(before >= 0);
	atomic_store(&sm[l].stall_ms, 250);
	ck_assert_int_eq(repl_propose(g[l], &v, sizeof(v), 5000, &res, &leader), 0);
	free(res);
	until = clock_mono_ns() + 2 * 1000000000LL; /* the turn ends after the answer */
	while ((exposed(mx, "objfs_raft_loop_stalls_total") < before + 1 ||
		exposed(mx, "objfs_raft_loop_turn_seconds_sum") < 0.25) &&
	       clock_mono_ns() < until) {
		usleep(10000);
	}
	ck_assert(exposed(mx, "objfs_raft_loop_stalls_total") >= before + 1);
	turns = exposed(mx, "objfs_raft_loop_turn_seconds_count");
	ck_assert(turns > 0);
	ck_assert(exposed(mx, "objfs_raft_loop_turn_seconds_sum") >= 0.25);
	ck_assert_int_ge(atomic_load(&stall_warnings), 1);
	log_set_sink(tl_quiet_sink, NULL);
	teardown(); /* before the registry: the loop observes into it */
	setup();
	mx_destroy(mx);
}
END_TEST

/* The leader stops: the others elect a new one that accepts proposals,
 * and the stopped replica fails a new proposal with -ESHUTDOWN. */
START_TEST(test_failover)
{
	struct repl_group *g[N] = {0};
	long l = open_group(g), nl = -1, leader;
	uint32_t v = 1;
	void *res = NULL;
	int64_t until;
	int rc = -1;

	ck_assert_int_eq(repl_propose(g[l], &v, sizeof(v), 5000, &res, &leader), 0);
	free(res);
	repl_stop(r[l]);
	ck_assert_int_eq(repl_propose(g[l], &v, sizeof(v), 1000, &res, &leader), -ESHUTDOWN);
	until = clock_mono_ns() + 15 * 1000000000LL;
	while (clock_mono_ns() < until && rc != 0) {
		for (size_t i = 0; i < N; i++) {
			if ((long)i != l && repl_read_ok(g[i], &leader) == 0) {
				nl = (long)i;
			}
		}
		if (nl >= 0) {
			v = 2;
			rc = repl_propose(g[nl], &v, sizeof(v), 5000, &res, &leader);
			if (rc == 0) {
				ck_assert_uint_eq(*(uint64_t *)res, 2);
				free(res);
			}
		}
		usleep(20000);
	}
	ck_assert_int_eq(rc, 0);
	ck_assert_int_ne(nl, l);
}
END_TEST

static uint64_t snaps_of(struct repl_group *g)
{
	struct repl_stats st;

	ck_assert_int_eq(repl_get_stats(g, &st), 0);
	return st.snapshots_taken;
}

/* n proposals one after another on the leader. */
static void propose_n(struct repl_group *g, int n)
{
	for (int i = 0; i < n; i++) {
		uint32_t v = 7;
		void *res = NULL;
		long leader;

		ck_assert_int_eq(repl_propose(g, &v, sizeof(v), 5000, &res, &leader), 0);
		free(res);
	}
}

/* The spacing rule, then on real groups: a small state snapshots every
 * snapshot_entries (16); once its size says 1 MiB (256 entries' worth)
 * the snapshot after next waits for snapshot_max_entries (64). */
START_TEST(test_snapshot_spacing)
{
	struct repl_group *g[N] = {0};
	uint64_t s0, s1;
	int64_t until;
	long l;

	ck_assert_uint_eq(repl_snapshot_every(8192, 65536, 0, 0), 8192);
	ck_assert_uint_eq(repl_snapshot_every(8192, 65536, 32u << 20, 0), 8192);
	ck_assert_uint_eq(repl_snapshot_every(8192, 65536, 100u << 20, 300), 25600);
	ck_assert_uint_eq(repl_snapshot_every(8192, 65536, 8ull << 30, 300), 65536);
	ck_assert_uint_eq(repl_snapshot_every(8192, 1000, 8ull << 30, 0), 8192); /* most < base */
	/* entries of 2 KiB: 64 MiB of them in memory at most */
	ck_assert_uint_eq(repl_snapshot_every(8192, 65536, 8ull << 30, 2048), 32768);
	/* entries of 15 KB (inline data): never fewer snapshots than base */
	ck_assert_uint_eq(repl_snapshot_every(8192, 65536, 8ull << 30, 15000), 8192);

	teardown();
	open_all();
	cfg.snapshot_entries = 16;
	cfg.snapshot_max_entries = 64;
	atomic_store(&sm_bytes, 0);
	l = open_group(g);
	s0 = snaps_of(g[l]);
	propose_n(g[l], 40);
	ck_assert_uint_ge(snaps_of(g[l]), s0 + 2);
	/* The size is asked as a snapshot starts: the next one is still due
	 * after 16 entries, and it spaces those after it. */
	atomic_store(&sm_bytes, 1u << 20);
	s0 = snaps_of(g[l]);
	for (int i = 0; i < 40 && snaps_of(g[l]) == s0; i++) {
		propose_n(g[l], 1);
	}
	s1 = snaps_of(g[l]);
	ck_assert_uint_eq(s1, s0 + 1);
	propose_n(g[l], 48);
	ck_assert_uint_eq(snaps_of(g[l]), s1);
	propose_n(g[l], 24);
	until = clock_mono_ns() + 5 * 1000000000LL;
	while (snaps_of(g[l]) == s1 && clock_mono_ns() < until) {
		usleep(10000);
	}
	ck_assert_uint_eq(snaps_of(g[l]), s1 + 1);
	atomic_store(&sm_bytes, 0);
}
END_TEST

struct adder {
	struct repl_group *g;
	int rc;
};

static void *add_thread(void *arg)
{
	struct adder *a = arg;

	a->rc = repl_add_voter(a->g, 2, 30000);
	return NULL;
}

/* Adding a node twice at once (a client retrying an add whose catch-up
 * outlasted its request): both adds succeed, the second by waiting for
 * the first, and a third, once it is a voter, succeeds at once. */
START_TEST(test_add_twice)
{
	struct repl_group *g[N] = {0};
	size_t voters[2] = {0, 1};
	struct adder a[2];
	pthread_t t[2];
	struct repl_state st;
	int64_t until = clock_mono_ns() + 15 * 1000000000LL;
	long l = -1, leader;

	for (size_t i = 0; i < N; i++) {
		struct repl_fsm f = fsm_of(i);

		ck_assert_int_eq(
		    repl_group_open(r[i], "g", &f, i < 2 ? voters : NULL, i < 2 ? 2 : 0, &g[i]), 0);
	}
	while (l < 0 && clock_mono_ns() < until) {
		for (long i = 0; i < 2; i++) {
			if (repl_read_ok(g[i], &leader) == 0) {
				l = i;
			}
		}
		usleep(20000);
	}
	ck_assert_int_ge(l, 0);
	propose_n(g[l], 300); /* something for the new voter to catch up on */
	for (int i = 0; i < 2; i++) {
		a[i].g = g[l];
		a[i].rc = 1;
		ck_assert_int_eq(pthread_create(&t[i], NULL, add_thread, &a[i]), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(a[i].rc, 0);
	}
	ck_assert_int_eq(repl_add_voter(g[l], 2, 5000), 0);
	ck_assert_int_eq(repl_get_state(g[l], &st), 0);
	ck_assert_uint_eq(st.n_voters, 3);
	wait_applied(2, 300);
}
END_TEST

/* Entry framing: a record's length never reads past the entry, an entry
 * of one record (what every version wrote) is one record whatever its
 * padding, a zero length after the first record ends the list. */
START_TEST(test_entry_records)
{
	uint8_t e[64] = {0};
	struct repl_rec rec[4];

	/* one record of 5 bytes, padded to 16 */
	e[0] = 5;
	memcpy(e + 4, "abcde", 5);
	ck_assert_int_eq(repl_entry_records(e, 16, rec, 4), 1);
	ck_assert_uint_eq(rec[0].len, 5);
	ck_assert_int_eq(memcmp(rec[0].buf, "abcde", 5), 0);
	/* the same without its padding (a shorter buffer) */
	ck_assert_int_eq(repl_entry_records(e, 9, rec, 4), 1);
	/* a second record of 4 bytes at offset 16, then zeros */
	e[16] = 4;
	memcpy(e + 20, "wxyz", 4);
	ck_assert_int_eq(repl_entry_records(e, 32, rec, 4), 2);
	ck_assert_uint_eq(rec[1].len, 4);
	ck_assert_int_eq(memcmp(rec[1].buf, "wxyz", 4), 0);
	/* more records than room: counted, not written */
	ck_assert_int_eq(repl_entry_records(e, 32, rec, 1), 2);
	/* a length past the end, first or later */
	e[16] = 200;
	ck_assert_int_eq(repl_entry_records(e, 32, rec, 4), -1);
	e[0] = 13;
	ck_assert_int_eq(repl_entry_records(e, 16, rec, 4), -1);
	e[3] = 0x80;
	ck_assert_int_eq(repl_entry_records(e, 64, rec, 4), -1);
	/* nothing to read */
	ck_assert_int_eq(repl_entry_records(e, 3, rec, 4), -1);
	ck_assert_int_eq(repl_entry_records(e, 0, rec, 4), -1);
	/* an empty first record (older logs may hold one) is a record */
	memset(e, 0, sizeof(e));
	ck_assert_int_eq(repl_entry_records(e, 8, rec, 4), 1);
	ck_assert_uint_eq(rec[0].len, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("repl");
	TCase *tc = tcase_create("groups");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_async_batch);
	tcase_add_test(tc, test_entry_records);
	tcase_add_test(tc, test_follower_and_sync);
	tcase_add_test(tc, test_failover);
	tcase_add_test(tc, test_loop_stall);
	tcase_add_test(tc, test_snapshot_spacing);
	tcase_add_test(tc, test_add_twice);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
