/* locks.h: the mount's side of cluster-wide locks: its lock session (a
 * random id whose lease a background thread renews once the mount first
 * locks), lock requests to the bucket's shard, and a table of which open
 * files took which locks, so that close and release free them without a
 * message when a file never locked (the common path).  Knows nothing of
 * libfuse or of the caches.  Thread-safe; calls block the calling thread. */
#ifndef OBJFS_LOCKS_H
#define OBJFS_LOCKS_H

#include <stdatomic.h>
#include <stdint.h>

#include "../common/meta_client.h"

struct lkc;

/* A lock client over mc (which must outlive it).  0 or -ENOMEM. */
int lkc_open(struct mc *mc, struct lkc **out);
/* Ends the session: its locks are dropped at the shard (so another mount
 * gets them at once, not after the lease), the renewer stops. */
void lkc_close(struct lkc *lk);

/* Takes, changes or releases l (l->session is set here) for the open file
 * fh (any non-zero key naming it until lkc_release).  wait: block until
 * granted, re-asking when the shard ends a long wait, until *intr becomes
 * non-zero (then -EINTR; lkc_cancel wakes the shard's side).  Returns 0,
 * -EAGAIN (in the way, and not waiting), -EINTR, or an error. */
int lkc_set(struct lkc *lk, uint64_t fh, struct meta_lock *l, int wait, uint64_t wait_id,
	    const atomic_int *intr);
/* F_GETLK: 1 with *out the lock in l's way, 0 when none. */
int lkc_get(struct lkc *lk, struct meta_lock *l, struct meta_lock *out);
/* Ends the wait wait_id (a signal reached the waiting process). */
void lkc_cancel(struct lkc *lk, uint64_t wait_id);
/* A fresh wait id: non-zero, random. */
uint64_t lkc_wait_id(void);

/* close(2) by owner: 1 if owner took POSIX locks on ino through this mount
 * (then the caller releases them with lkc_set, after committing), else 0.
 * No message, one atomic load when the mount never locked. */
int lkc_owner_locked(struct lkc *lk, uint64_t ino, uint64_t owner);
/* The last close of fh: every lock taken through it goes (OFD and flock
 * locks belong to the open file; POSIX locks of processes went at their
 * close already, so releasing them again changes nothing). */
void lkc_release(struct lkc *lk, uint64_t fh);

#endif
