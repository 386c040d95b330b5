/* shard_install.h: a shard's snapshot install on a thread of its own.
 *
 * c-raft calls `restore` on the Raft loop, which drives every group of
 * the node, and takes its return as the install's end.  Fetching a copy
 * of several GB there held every other group of the node (a leader among
 * them lost its leadership).  So the fetch and the copy into the store
 * run on an install thread; restore returns at once, and the entries
 * c-raft applies meanwhile are held here, in order, and applied once the
 * copy is in -- the group stays not ready (repl_fsm.catch_up) and stale
 * reads are refused until then.  Past INST_HOLD_MAX bytes of held entries
 * the loop waits for the install, as it did before.
 *
 * Owns the install thread, its descriptor and the held entries.  Every
 * call is on the Raft loop thread except inst_active (any thread) and
 * inst_close (after the loop stopped).  While the thread runs, nothing
 * here touches the shard's store but the thread itself. */
#ifndef OBJFS_SHARD_INSTALL_H
#define OBJFS_SHARD_INSTALL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "repl.h"
#include "snap_stream.h"

#define INST_HOLD_MAX (64u << 20)

struct shard;
struct inst_held;

struct inst {
	pthread_t thread;
	int running;			  /* a thread started and not joined: loop only */
	atomic_int active;		  /* running, or held entries not yet applied */
	atomic_int done;		  /* the thread's work is over (its result in rc) */
	atomic_int stop;		  /* the fetch gives up (shutdown) */
	atomic_uint_fast64_t store_index; /* the store's applied index when it began */
	int rc;
	struct snap_desc d;
	struct inst_held *head, *tail;
	size_t held_bytes;
	uint64_t held_n;
};

/* Starts installing the copy d names on a thread.  0, or a negative errno
 * when no thread could start (the caller installs in place). */
int inst_start(struct shard *s, const struct snap_desc *d);

/* While an install is active: holds entry `index` (its records copied)
 * and returns 1, or, with the budget spent, waits for the install, applies
 * what it held and returns 0 for the caller to apply this entry.  0 at
 * once when no install is active; a negative errno on failure. */
int inst_hold(struct shard *s, uint64_t index, const struct repl_rec *recs, size_t n);

/* Ends an install whose thread is done (wait: waits for it): the held
 * entries are applied and committed.  1 while still running (wait 0),
 * 0 once none is active, a negative errno when the install or an apply
 * failed. */
int inst_finish(struct shard *s, int wait);

/* 1 while an install is active (stale reads must not be served). */
int inst_active(struct shard *s);
/* What the store holds of `applied` (an index c-raft applied): while an
 * install is active, the store's index when it began.  Any thread. */
uint64_t inst_applied(struct shard *s, uint64_t applied);

/* Stops a running install and frees what it held (shard close). */
void inst_close(struct shard *s);

#endif
