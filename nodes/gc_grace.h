/* gc_grace.h: the grace period of block deletion on a shard's leader.
 * Remembers when this node first saw each block in the shard's GC queue
 * and lets a block go only once it has waited grace_ms since: longer than
 * a client may keep using extents it fetched (its caches and one read).
 * In memory only: a new leader, or a restart, starts every block's wait
 * again, which only ever lengthens it.  Pure bookkeeping (the caller's
 * clock); one caller at a time (the maintenance thread). */
#ifndef OBJFS_GC_GRACE_H
#define OBJFS_GC_GRACE_H

#include <stdint.h>

#include "../proto/manifest.h"

struct gc_grace;

/* Returns 0 or -ENOMEM. */
int gcg_open(struct gc_grace **out);
void gcg_close(struct gc_grace *g);

/* Starts a pass over the whole GC queue. */
void gcg_begin(struct gc_grace *g);
/* Block id is in the queue at now_ms: 1 when its grace is over (it may be
 * deleted), 0 while it waits, -ENOMEM (it waits: never deleted early). */
int gcg_ripe(struct gc_grace *g, const uint8_t id[BLOCK_ID_LEN], uint64_t now_ms,
	     uint64_t grace_ms);
/* Ends the pass: blocks not seen in it (collected, or gone with a bucket)
 * are forgotten.  Returns how many are remembered. */
size_t gcg_end(struct gc_grace *g);

#endif
