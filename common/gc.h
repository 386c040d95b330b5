/* gc.h: the stray-fragment sweep of objfsctl gc: mark and sweep over the
 * whole cluster.  Mark: every block every bucket's shard knows (files'
 * blocks and blocks queued for deletion), paged from each shard's leader,
 * never from a stale replica.  Sweep: every up node's fragment list;
 * a fragment is deleted when
 *   - no shard knows its block (a writer died before its commit, a
 *     delete that a down node missed), or
 *   - it is a surplus hand-off: its block is known, this node is not the
 *     fragment's home, and the home node holds an intact copy (read in
 *     full in this run);
 * and the node finds its file older than the grace period (the node's own
 * clock decides, FRAG_CHECK sweep).  A fragment of a known block on its
 * home node is never deleted, nor a hand-off whose home is out (objfsctl
 * node out, the cluster map: gc_opts.out): the out node's own copies
 * still verify intact, and the hand-offs are what stands in for them.
 *
 * The contract with writers: a block's fragments are written before the
 * record that references it commits, and that commit comes within the
 * grace period of the writes; a fragment younger than the grace period may
 * be one whose commit is on its way, so it is kept.  Any error of the mark
 * (a bucket whose shard cannot be read) stops the run before anything of
 * that range is deleted.  Memory: at most gc_opts.mark_max marked blocks at a time; a
 * cluster with more is marked and swept in ranges of block ids, each
 * range's mark complete before its sweep (an error of a later range's
 * mark leaves the earlier ranges swept).  Blocks the calling thread. */
#ifndef OBJFS_GC_H
#define OBJFS_GC_H

#include <stdint.h>

#include "object.h"

struct gc_opts {
	uint32_t grace_s;
	int dry_run;	    /* find and age-check only: nothing is deleted */
	const uint8_t *out; /* NULL, or per node index of the config: 1 when
			     * the node is out (its hand-offs are kept) */
	size_t mark_max;    /* blocks the mark holds at once (0: 1 Mi, about
			     * 48 MiB); more blocks are marked and swept in
			     * ranges of block ids, each at most this many */
};

struct gc_node_stats {
	uint32_t node_id;
	int up;		  /* listed and swept */
	uint64_t listed;  /* fragments it holds */
	uint64_t strays;  /* fragments of blocks no shard knows */
	uint64_t surplus; /* hand-offs whose home copy is intact */
	/* As a home: fragments a hand-off elsewhere holds but this node, up,
	 * lacks (or holds damaged): a repair of its homes writes them back. */
	uint64_t homeless;
	uint64_t deleted; /* removed (dry run: would be) */
	uint64_t young;	  /* candidates kept: younger than the grace period */
	uint64_t bytes;	  /* bytes of the deleted ones */
};

struct gc_stats {
	uint64_t buckets, blocks; /* marked (blocks: distinct ids) */
	uint64_t ranges;	  /* passes over the block id space */
	size_t n_nodes;
	struct gc_node_stats *node; /* n_nodes entries, malloc'd: gc_stats_free */
	uint64_t listed, strays, surplus, deleted, young, bytes, homeless;
};

/* Runs one mark and sweep.  Returns 0, or the error that stopped it
 * (nothing was deleted when the mark failed).  *st is filled either way
 * as far as the run got; release it with gc_stats_free. */
int gc_run(struct objc *oc, const struct gc_opts *o, struct gc_stats *st);
void gc_stats_free(struct gc_stats *st);

#endif
