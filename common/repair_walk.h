/* repair_walk.h: one walk over every block of every bucket (META_BLOCKS
 * pages from each shard's leader) that calls blk_rebuild on the blocks a
 * node role concerns: the automatic repair of the catalog leader and
 * objfsctl node out/in share it.  Blocks the calling thread; deletes
 * nothing. */
#ifndef OBJFS_REPAIR_WALK_H
#define OBJFS_REPAIR_WALK_H

#include <stdint.h>

#include "object.h"

struct rw_stats {
	uint64_t blocks;    /* walked */
	uint64_t concerned; /* with a home whose role is not BLK_NODE_TRUST */
	uint64_t rebuilt;   /* blocks that got fragments written */
	uint64_t bytes;	    /* fragment bytes written */
	uint64_t degraded;  /* short of k+m after the walk (see rw_opts.down) */
	int rc;		    /* first error met (the walk goes on), 0 if none */
};

struct rw_opts {
	const uint8_t *role; /* per node: enum blk_node_role (blockio.h) */
	const uint8_t *down; /* per node, or NULL: a home there counts its
			      * block as degraded (down, not yet rebuilt) */
	int count_only;	     /* count concerned blocks; no fragment I/O */
	/* Called after each concerned block (NULL: none); a nonzero return
	 * stops the walk.  bytes: what that block's rebuild wrote. */
	int (*each)(void *arg, const struct rw_stats *st, uint64_t bytes);
	void *arg;
};

/* Walks every block.  Returns 0, or the error that stopped it (the
 * bucket list unreadable, or each asked to stop: -ECANCELED); st->rc
 * tells whether some block or bucket failed on the way. */
int rw_run(struct objc *oc, const struct rw_opts *o, struct rw_stats *st);

#endif
