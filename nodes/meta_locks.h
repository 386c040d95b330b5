/* meta_locks.h: the shard leader's side of cluster-wide locks, in memory:
 * the leases of lock sessions, the requests waiting for a lock, and the
 * cancellations of waits.  The lock table itself is replicated state
 * (meta_store_locks.c); nothing here is, so a new leader starts with no
 * waiters (they time out on the old one and ask again) and gives every
 * session holding locks a fresh lease.  Runs on the request threads
 * (proposals, renewals, cancels), the Raft loop (commit callbacks) and
 * one thread of its own ("lock-lease": re-proposes woken waiters, times
 * out waits, ends expired sessions).  Private to nodes/meta_*.c. */
#ifndef OBJFS_META_LOCKS_H
#define OBJFS_META_LOCKS_H

#include <pthread.h>
#include <stdint.h>

#include "server.h"

struct msvc;
struct shard;
struct meta_op;
struct mlk_waiter;
struct mlk_session;

/* Per shard; guarded by mu (never held across a call into Raft or the
 * server). */
struct mlk_shard {
	pthread_mutex_t mu;
	struct mlk_waiter *waiting; /* parked after -EAGAIN, until woken */
	struct mlk_waiter *ready;   /* woken: the lock thread proposes again */
	struct mlk_session *sessions;
	struct mlk_cancel {
		uint64_t session, wait_id, until_ms;
	} cancels[16]; /* cancels that found no waiter (yet): a ring */
	unsigned next_cancel;
	unsigned n_waiting; /* parked calls (each holds a server context) */
};

void mlk_shard_init(struct mlk_shard *l);
/* The shard is gone: every waiter must have been answered (mlk_stop). */
void mlk_shard_fini(struct mlk_shard *l);

/* Starts and stops the lock thread of the service (m->lk_mu and lk_cv
 * are initialised by msvc_open); mlk_stop answers every waiter with
 * -ESHUTDOWN and must follow repl_stop (no commit callback may run after
 * it).  0 or -ENOMEM. */
int mlk_start(struct msvc *m);
void mlk_stop(struct msvc *m);

/* META_OP carrying MOP_LOCK or MOP_LOCK_DROP: proposes op (the caller
 * keeps it) and answers call from its commit, or later when it waits
 * (with the applied index after the result if with_index).  Returns
 * SRV_DEFER or a negative errno (call not taken). */
int mlk_propose(struct msvc *m, struct shard *s, const struct meta_op *op, struct srv_call *call,
		int with_index);
/* META_LOCK_RENEW: the session lives another lease. */
void mlk_renew(struct msvc *m, struct shard *s, uint64_t session);
/* META_LOCK_CANCEL: the wait wait_id of session ends with -EINTR, now or
 * (if its request is between two tries) when it would wait again. */
void mlk_cancel(struct msvc *m, struct shard *s, uint64_t session, uint64_t wait_id);
/* The lease in ms (cluster key lock_lease_ms). */
uint32_t mlk_lease_ms(const struct msvc *m);

#endif
