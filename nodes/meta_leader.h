/* meta_leader.h: the values a shard's leader decides before it proposes
 * an operation record, as a pure function of (state, event): the record's
 * timestamp, which never runs backwards within the shard, and the inode
 * numbers it may allocate.  No clock, no locks, no I/O: callers pass the
 * time and hold whatever guards the state. */
#ifndef OBJFS_META_LEADER_H
#define OBJFS_META_LEADER_H

#include <stdint.h>

#include "../proto/meta.h"

struct leader_clock {
	uint64_t next_ino; /* first inode number not handed out by this leader */
	int64_t last_now;  /* the last timestamp handed out */
};

/* Inode numbers op may allocate: 1 for a create, one per path component
 * for a PUT (it creates missing parents), else 0. */
uint64_t leader_inos_needed(const struct meta_op *op);

/* Sets op->now_ns (now_ns, or one past the last stamp if the clock went
 * back) and op->new_ino (0 if none is needed).  store_next_ino: the
 * shard's own counter; numbers handed out by earlier leaders are all
 * applied once this node is a ready leader, so the larger of both
 * counters is free. */
void leader_stamp(struct leader_clock *lc, int64_t now_ns, uint64_t store_next_ino,
		  struct meta_op *op);

#endif
