/* lockset.h: the rules of the cluster-wide lock table as pure functions
 * over arrays of locks of one inode: which lock is in the way of a
 * request, and what an owner holds after a request (POSIX ranges split,
 * merged and converted as fcntl(2) does; flock whole-file).  No I/O, no
 * clock; any thread.  The shard (meta_store_locks.c) loads, applies and
 * stores through these, so every replica decides the same. */
#ifndef OBJFS_LOCKSET_H
#define OBJFS_LOCKSET_H

#include <stddef.h>

#include "../proto/meta.h"

/* The index in held[0..n) of the first lock of another owner (session or
 * owner differ) of the same kind whose range overlaps req's and where one
 * of the two is a write lock; -1 if none.  An unlock conflicts with
 * nothing. */
long lockset_conflict(const struct meta_lock *held, size_t n, const struct meta_lock *req);

/* The locks of req's owner after req, from mine[0..n) (the owner's locks
 * of req's kind on req's inode, any order): req's range is cut out of
 * them, then (unless req unlocks) req is added and joined with adjacent
 * or overlapping locks of the same type.  out needs room for n + 2;
 * returns the count written, in start order. */
size_t lockset_apply(const struct meta_lock *mine, size_t n, const struct meta_lock *req,
		     struct meta_lock *out);

#endif
