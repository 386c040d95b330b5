/* meta_locks.c: leases, waiters and cancellations of cluster-wide locks on
 * the shard leader (see meta_locks.h).
 *
 * DESIGN
 *  A lock request is a MOP_LOCK record: granting goes through the Raft
 *  log, so a lock is never granted twice across a leader change.  A
 *  blocking request (META_F_LOCK_WAIT) that applies as -EAGAIN is not
 *  answered: its call is parked here.  Every lock record that succeeds
 *  wakes the waiters of its inode (a MOP_LOCK_DROP those of the shard):
 *  the commit callback moves them to the ready list and the lock thread
 *  proposes each again under a fresh op_id (the loop thread may not
 *  propose).  So a waiter is woken by the release, never by polling; a
 *  wait that lasts longer than half of timeout_ms is answered -ETIME and
 *  the client asks again, so no request outlives the client's timeout
 *  and a waiter parked on a leader that lost its office moves on.
 *  Commit callbacks run in apply order on the loop thread, so a waiter
 *  parks before any release applied after its own record is reported.
 *
 *  Leases live only here: a session is renewed by META_LOCK_RENEW and by
 *  each of its lock requests; the lock thread proposes MOP_LOCK_DROP for
 *  a session holding locks whose lease ran out, and a session it finds
 *  in the table but not in memory (this node just became leader) starts
 *  a full lease then.  Replicating renewals would put a Raft entry per
 *  mount every few seconds in every shard's log for no gain: only the
 *  drop changes the table.
 *
 *  Cancels (META_LOCK_CANCEL, sent by a mount whose waiting process got
 *  a signal) answer the parked call -EINTR; one that arrives while the
 *  request is between two tries is remembered for two timeouts and
 *  honoured when it would park again.  A wait id (chosen by the client
 *  per blocking call, in op->atime_ns) names the wait, so a cancel never
 *  ends a later one. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/rand.h"
#include "meta_service_i.h"

/* How often the lock thread checks leases and wait deadlines: leases
 * end within this much of their length. */
#define MLK_TICK_MS 200
#define MLK_SESSIONS_MAX 1024
/* Each parked call holds one of the server's 256 contexts: past this
 * many per shard a wait is answered -ETIME at once and the mount asks
 * again after a pause, so waiters can never starve the node of contexts
 * (it then polls, slowly, instead of being woken). */
#define MLK_WAITING_MAX 64

struct mlk_waiter {
	struct mlk_waiter *next;
	struct msvc *m;
	struct shard *s;
	struct srv_call *call; /* NULL: a drop of the lock thread's own */
	struct meta_op op;     /* the record, lock fields only */
	uint64_t until_ms;     /* parked: when to answer -ETIME */
	int cancelled;	       /* on the ready list when a cancel came */
	int with_index;	       /* FRAME_F_INDEX: the reply ends with the applied index */
};

struct mlk_session {
	struct mlk_session *next;
	uint64_t id;
	uint64_t seen_ms;
};

void mlk_shard_init(struct mlk_shard *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
}

void mlk_shard_fini(struct mlk_shard *l)
{
	while (l->sessions != NULL) {
		struct mlk_session *x = l->sessions;

		l->sessions = x->next;
		free(x);
	}
	pthread_mutex_destroy(&l->mu);
}

uint32_t mlk_lease_ms(const struct msvc *m)
{
	return m->cfg->lock_lease_ms;
}

static uint64_t wait_ms(const struct msvc *m)
{
	return m->cfg->timeout_ms / 2;
}

/* Replies to w's call (if any) and frees w.  status 0 sends res. */
static void answer(struct mlk_waiter *w, int status, const struct meta_result *res, long leader)
{
	if (w->call != NULL) {
		struct srv_reply *out = srv_call_reply(w->call);

		if (status == 0) {
			meta_put_result(&out->w, res);
			if (w->with_index) {
				/* Applied here, so at or after this record's entry. */
				wr_u64(&out->w, repl_applied(w->s->g));
			}
		} else if (status == -EREMOTE) {
			out->hint = msvc_node_id(w->m, leader);
		}
		srv_done(w->call, status, NULL);
	}
	free(w);
}

/* Answers with an outcome of the wait itself (-EINTR, -ETIME, ...). */
static void answer_status(struct mlk_waiter *w, int status)
{
	struct meta_result res = {.status = status};

	answer(w, 0, &res, -1);
}

static void kick(struct msvc *m)
{
	pthread_mutex_lock(&m->lk_mu);
	m->lk_kick = 1;
	pthread_cond_signal(&m->lk_cv);
	pthread_mutex_unlock(&m->lk_mu);
}

/* Moves the waiters of ino (0: all) to the ready list.  Loop thread. */
static void wake(struct msvc *m, struct shard *s, uint64_t ino)
{
	struct mlk_waiter **p = &s->lk.waiting;
	int moved = 0;

	pthread_mutex_lock(&s->lk.mu);
	while (*p != NULL) {
		struct mlk_waiter *w = *p;

		if (ino == 0 || w->op.ino == ino) {
			*p = w->next;
			w->next = s->lk.ready;
			s->lk.ready = w;
			s->lk.n_waiting--;
			moved = 1;
		} else {
			p = &w->next;
		}
	}
	pthread_mutex_unlock(&s->lk.mu);
	if (moved) {
		kick(m);
	}
}

/* Takes a remembered cancel of w's wait (lk.mu held): 1 if there was one. */
static int take_cancel(struct mlk_shard *l, const struct mlk_waiter *w, uint64_t now)
{
	for (size_t i = 0; i < OBJ_ARRAY_LEN(l->cancels); i++) {
		struct mlk_cancel *c = &l->cancels[i];

		if (c->until_ms > now && c->session == w->op.parent &&
		    c->wait_id == (uint64_t)w->op.atime_ns) {
			c->until_ms = 0;
			return 1;
		}
	}
	return 0;
}

/* Parks w after -EAGAIN, unless its wait was cancelled or the service
 * stops.  Loop thread. */
static void park(struct mlk_waiter *w)
{
	struct shard *s = w->s;
	uint64_t now = clock_mono_ms();
	int status = 0;

	pthread_mutex_lock(&w->m->lk_mu);
	if (w->m->lk_stop) {
		status = -ESHUTDOWN;
	}
	pthread_mutex_unlock(&w->m->lk_mu);
	pthread_mutex_lock(&s->lk.mu);
	if (status == 0 && take_cancel(&s->lk, w, now)) {
		status = -EINTR;
	}
	if (status == 0 && s->lk.n_waiting >= MLK_WAITING_MAX) {
		status = -ETIME;
	}
	if (status == 0) {
		w->until_ms = now + wait_ms(w->m);
		w->next = s->lk.waiting;
		s->lk.waiting = w;
		s->lk.n_waiting++;
	}
	pthread_mutex_unlock(&s->lk.mu);
	if (status != 0) {
		answer_status(w, status);
	}
}

/* Raft loop thread: a lock record was applied here, or failed. */
static void lock_done(void *arg, int status, void *result, long leader)
{
	struct mlk_waiter *w = arg;
	struct meta_result *res = result;

	if (status == 0 && res == NULL) {
		status = -EIO;
	}
	if (status != 0) {
		answer(w, status, NULL, leader);
	} else {
		if (res->status == 0) {
			wake(w->m, w->s, w->op.type == MOP_LOCK_DROP ? 0 : w->op.ino);
		}
		if (res->status == -EAGAIN && (w->op.flags & META_F_LOCK_WAIT) && w->call != NULL) {
			park(w);
		} else {
			answer(w, 0, res, -1);
		}
	}
	free(res);
}

/* Stamps and proposes w's record; on failure w is still the caller's. */
static int propose(struct mlk_waiter *w)
{
	struct wr wr;
	int rc = msvc_prepare(w->s, &w->op, &wr);

	if (rc == 0) {
		rc = repl_propose_async(w->s->g, wr.buf, wr.len, lock_done, w);
	}
	wr_free(&wr);
	return rc;
}

static struct mlk_session *session_find(struct mlk_shard *l, uint64_t id)
{
	for (struct mlk_session *x = l->sessions; x != NULL; x = x->next) {
		if (x->id == id) {
			return x;
		}
	}
	return NULL;
}

/* Renews session id (lk.mu held); a session that cannot be remembered
 * is found again by the next lease check, with a fresh lease. */
static void session_seen(struct mlk_shard *l, uint64_t id, uint64_t now)
{
	struct mlk_session *x = session_find(l, id);

	if (x == NULL && (x = calloc(1, sizeof(*x))) != NULL) {
		x->id = id;
		x->next = l->sessions;
		l->sessions = x;
	}
	if (x != NULL) {
		x->seen_ms = now;
	}
}

void mlk_renew(struct msvc *m, struct shard *s, uint64_t session)
{
	(void)m;
	pthread_mutex_lock(&s->lk.mu);
	session_seen(&s->lk, session, clock_mono_ms());
	pthread_mutex_unlock(&s->lk.mu);
}

int mlk_propose(struct msvc *m, struct shard *s, const struct meta_op *op, struct srv_call *call,
		int with_index)
{
	struct mlk_waiter *w = calloc(1, sizeof(*w));
	int rc;

	if (w == NULL) {
		return -ENOMEM;
	}
	w->m = m;
	w->s = s;
	w->call = call;
	w->with_index = with_index;
	w->op = *op;
	w->op.data = NULL;
	w->op.data_len = 0;
	w->op.ext = NULL;
	w->op.n_ext = 0;
	if (op->type == MOP_LOCK) {
		mlk_renew(m, s, op->parent);
	}
	rc = propose(w);
	if (rc != 0) {
		free(w);
		return rc;
	}
	return SRV_DEFER;
}

void mlk_cancel(struct msvc *m, struct shard *s, uint64_t session, uint64_t wait_id)
{
	struct mlk_waiter **p, *found = NULL;
	uint64_t now = clock_mono_ms();
	int pending = 0;

	pthread_mutex_lock(&s->lk.mu);
	for (p = &s->lk.waiting; *p != NULL; p = &(*p)->next) {
		if ((*p)->op.parent == session && (uint64_t)(*p)->op.atime_ns == wait_id) {
			found = *p;
			*p = found->next;
			s->lk.n_waiting--;
			break;
		}
	}
	for (struct mlk_waiter *w = s->lk.ready; found == NULL && w != NULL; w = w->next) {
		if (w->op.parent == session && (uint64_t)w->op.atime_ns == wait_id) {
			w->cancelled = 1;
			pending = 1;
		}
	}
	if (found == NULL && !pending) {
		struct mlk_cancel *c =
		    &s->lk.cancels[s->lk.next_cancel++ % OBJ_ARRAY_LEN(s->lk.cancels)];

		c->session = session;
		c->wait_id = wait_id;
		c->until_ms = now + 2 * (uint64_t)m->cfg->timeout_ms;
	}
	pthread_mutex_unlock(&s->lk.mu);
	if (found != NULL) {
		answer_status(found, -EINTR);
	}
}

/* ---- the lock thread ---- */

/* Proposes the woken waiters of s again and ends the waits past their
 * deadline. */
static void run_waiters(struct shard *s, uint64_t now)
{
	struct mlk_waiter *ready, *late = NULL, **p;

	pthread_mutex_lock(&s->lk.mu);
	ready = s->lk.ready;
	s->lk.ready = NULL;
	for (p = &s->lk.waiting; *p != NULL;) {
		struct mlk_waiter *w = *p;

		if (w->until_ms <= now) {
			*p = w->next;
			w->next = late;
			late = w;
			s->lk.n_waiting--;
		} else {
			p = &w->next;
		}
	}
	pthread_mutex_unlock(&s->lk.mu);
	while (late != NULL) {
		struct mlk_waiter *w = late;

		late = w->next;
		answer_status(w, -ETIME);
	}
	while (ready != NULL) {
		struct mlk_waiter *w = ready;
		int rc;

		ready = w->next;
		if (w->cancelled) {
			answer_status(w, -EINTR);
			continue;
		}
		/* A new id: the first try's result (-EAGAIN) is remembered
		 * under the old one. */
		rc = rand_u64(&w->op.op_id);
		if (rc == 0) {
			rc = propose(w);
		}
		if (rc != 0) {
			answer(w, rc, NULL, -1);
		}
	}
}

/* Forgets the sessions not seen for `idle` ms (idle 0: all). */
static void forget_sessions(struct mlk_shard *l, uint64_t now, uint64_t idle)
{
	pthread_mutex_lock(&l->mu);
	for (struct mlk_session **p = &l->sessions; *p != NULL;) {
		struct mlk_session *x = *p;

		if (idle == 0 || (now > x->seen_ms && now - x->seen_ms > idle)) {
			*p = x->next;
			free(x);
		} else {
			p = &x->next;
		}
	}
	pthread_mutex_unlock(&l->mu);
}

/* Leader only: ends the sessions holding locks whose lease ran out. */
static void run_leases(struct msvc *m, struct shard *s, uint64_t now)
{
	uint64_t ids[MLK_SESSIONS_MAX];
	long leader;
	int n;

	if (repl_read_ok(s->g, &leader) != 0) {
		/* Not the leader: forget, so a later term starts fresh. */
		forget_sessions(&s->lk, 0, 0);
		return;
	}
	n = ms_lock_sessions(s->ms, ids, MLK_SESSIONS_MAX);
	for (int i = 0; i < n; i++) {
		struct mlk_session *x;
		struct mlk_waiter *w;
		int expired;

		pthread_mutex_lock(&s->lk.mu);
		x = session_find(&s->lk, ids[i]);
		if (x == NULL) {
			session_seen(&s->lk, ids[i], now); /* new leader: a full lease */
		}
		/* A renewal may have come after `now` was read. */
		expired = x != NULL && now > x->seen_ms && now - x->seen_ms > mlk_lease_ms(m);
		if (expired) {
			x->seen_ms = now; /* one drop per lease */
		}
		pthread_mutex_unlock(&s->lk.mu);
		if (!expired || (w = calloc(1, sizeof(*w))) == NULL) {
			continue;
		}
		log_info("lock.expired", "shard '%s': lock session %016llx expired: its locks go",
			 s->name, (unsigned long long)ids[i]);
		w->m = m;
		w->s = s;
		w->op.type = MOP_LOCK_DROP;
		w->op.parent = ids[i];
		if (rand_u64(&w->op.op_id) != 0 || propose(w) != 0) {
			free(w);
		}
	}
	/* Sessions without locks need no memory once their lease is over. */
	forget_sessions(&s->lk, now, 2 * (uint64_t)mlk_lease_ms(m));
}

static void *lock_main(void *arg)
{
	struct msvc *m = arg;

	pthread_mutex_lock(&m->lk_mu);
	while (!m->lk_stop) {
		struct timespec until;
		struct shard *s;
		uint64_t now;

		if (!m->lk_kick) {
			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_nsec += MLK_TICK_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&m->lk_cv, &m->lk_mu, &until);
		}
		m->lk_kick = 0;
		if (m->lk_stop) {
			break;
		}
		pthread_mutex_unlock(&m->lk_mu);
		pthread_mutex_lock(&m->mu);
		s = m->shards;
		pthread_mutex_unlock(&m->mu);
		now = clock_mono_ms();
		for (; s != NULL; s = s->next) {
			run_waiters(s, now);
			run_leases(m, s, now);
		}
		pthread_mutex_lock(&m->lk_mu);
	}
	pthread_mutex_unlock(&m->lk_mu);
	return NULL;
}

int mlk_start(struct msvc *m)
{
	if (pthread_create(&m->lk, NULL, lock_main, m) != 0) {
		return -ENOMEM;
	}
	m->lk_running = 1;
	return 0;
}

void mlk_stop(struct msvc *m)
{
	struct shard *s;

	if (!m->lk_running) {
		return;
	}
	pthread_mutex_lock(&m->lk_mu);
	m->lk_stop = 1;
	pthread_cond_signal(&m->lk_cv);
	pthread_mutex_unlock(&m->lk_mu);
	pthread_join(m->lk, NULL);
	m->lk_running = 0;
	pthread_mutex_lock(&m->mu);
	s = m->shards;
	pthread_mutex_unlock(&m->mu);
	for (; s != NULL; s = s->next) {
		struct mlk_waiter *w, *all;

		pthread_mutex_lock(&s->lk.mu);
		all = s->lk.waiting;
		s->lk.waiting = NULL;
		s->lk.n_waiting = 0;
		for (w = s->lk.ready; w != NULL;) {
			struct mlk_waiter *next = w->next;

			w->next = all;
			all = w;
			w = next;
		}
		s->lk.ready = NULL;
		pthread_mutex_unlock(&s->lk.mu);
		while (all != NULL) {
			w = all;
			all = w->next;
			answer(w, -ESHUTDOWN, NULL, -1);
		}
	}
}
