/* fsck.h: the health of every block of a bucket, checked on the nodes.
 * Walks the bucket's files and their extents in pages and asks every up
 * node to read, in full, each fragment of each block it may hold
 * (FRAG_CHECK verify: home copies and hand-offs alike), so damaged data
 * and parity bytes are found, not only missing files.  Optionally
 * rebuilds what is damaged (blk_repair) and checks again.  Knows nothing
 * of printing: the caller gets each unhealthy block through a callback.
 * Blocks its calling thread; thread-safe as blockio and meta_client are.
 *
 * A block is
 *   healthy   k+m fragments intact, on k+m distinct nodes, spread over
 *             min(k+m, zones) zones (as placement does it);
 *   degraded  at least k intact fragments, but fewer than k+m on distinct
 *             nodes, or too few zones (one more failure costs redundancy
 *             the block claims to have);
 *   lost      fewer than k intact fragments on the nodes that answered. */
#ifndef OBJFS_FSCK_H
#define OBJFS_FSCK_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/manifest.h"
#include "object.h"

enum fsck_state { FSCK_HEALTHY = 0, FSCK_DEGRADED = 1, FSCK_LOST = 2 };

/* One block that is not healthy (after repair, if asked). */
struct fsck_block {
	const char *path; /* borrowed for the callback's duration */
	uint64_t chunk;
	struct manifest_block blk;
	enum fsck_state state;
	uint32_t intact;     /* distinct fragment indexes intact somewhere */
	uint32_t placed;     /* of those, on distinct nodes */
	uint32_t zones;	     /* distinct zones of the placed ones */
	uint32_t bad;	     /* copies that failed their checksum (now quarantined) */
	uint32_t missing;    /* indexes whose home node is up and lacks them */
	uint32_t nodes_down; /* home nodes of this block that did not answer */
	uint32_t copies;     /* intact copies over all nodes (hand-offs too) */
	uint8_t repaired;    /* --repair rewrote fragments of it */
};

struct fsck_opts {
	int repair; /* rebuild damaged blocks (blk_repair) and check them again */
	/* Called for each unhealthy block; may be NULL. */
	void (*report)(void *arg, const struct fsck_block *b);
	/* Called after each batch with the bytes of files done so far; may be NULL. */
	void (*progress)(void *arg, uint64_t bytes_done);
	void *arg;
};

struct fsck_stats {
	uint64_t files, blocks, bytes; /* walked (bytes: file sizes) */
	uint64_t healthy, degraded, lost;
	uint64_t frags_checked;	    /* intact copies read in full */
	uint64_t frags_bad;	    /* copies that failed their checksum */
	uint64_t frags_missing;	    /* home copies absent on an up node */
	uint64_t frags_unreachable; /* home copies on nodes that did not answer */
	uint64_t repaired_blocks, frags_rewritten;
};

/* The decision for one block, a pure function: res[j * EC_MAX_FRAGS + i]
 * is node j's FRAG_CHECK answer for fragment i (ignored when answered[j]
 * is 0: the node did not answer), zone_of[j] node j's zone index (<
 * n_zones), rank[0..nr) the block's home nodes (fragment i's home is
 * rank[i]).  Fills out's state and counts; path, chunk, blk and repaired
 * are left as they are.  Home copies are placed first, then hand-offs on
 * nodes holding no other fragment of the block. */
void fsck_classify(const struct manifest_block *mb, const uint8_t *res, const uint8_t *answered,
		   const uint32_t *zone_of, size_t n_nodes, size_t n_zones, const size_t *rank,
		   size_t nr, struct fsck_block *out);

/* Checks every block of every file of bucket.  Counts are added to *st
 * (zero it first).  Returns 0 (whatever the blocks' health), or the
 * error that stopped the walk (the shard unreachable ...). */
int fsck_bucket(struct objc *oc, const char *bucket, const struct fsck_opts *o,
		struct fsck_stats *st);

#endif
