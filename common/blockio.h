/* blockio.h: erasure-coded blocks over the node fleet.
 * Owns the codec cache, fragment placement (rendezvous over block ids)
 * and the write quorum; uses client.h for the parallel exchanges.  Knows
 * nothing of objects or files.  Thread-safe.
 *
 * Write quorum: a block is acknowledged only when its durable fragments
 * survive the loss of any one more node, i.e. durable - (most fragments on
 * one node) >= k.  A fragment whose home node is down or failed is handed
 * off to another up node (a node may then hold two fragments of a block,
 * which the rule above accounts for).  Reads fetch k fragments from their
 * home nodes, data fragments first (no decode), replace failures with
 * other fragments, and as a last resort look for handed-off fragments on
 * every node. */
#ifndef OBJFS_BLOCKIO_H
#define OBJFS_BLOCKIO_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/manifest.h"
#include "client.h"
#include "ec.h"

struct blk;

int blk_open(struct cl *cl, struct blk **out);
void blk_close(struct blk *b);

/* The profile to use for an object of size bytes: the config's tier for
 * that size, shrunk to fit the number of nodes if the cluster is small. */
struct ec_profile blk_profile_for(struct blk *b, uint64_t size);

/* Encodes and stores len bytes (1..MSG_BLOCK_MAX) as a new block with a
 * fresh random id; fills out.  Returns 0, or -EIO/-OBJ_EQUORUM when the
 * quorum could not be met (fragments already written are removed). */
int blk_put(struct blk *b, const void *data, size_t len, struct ec_profile p,
	    struct manifest_block *out);

/* Reads the block into buf (mb->len bytes), decoding if fragments are
 * missing or damaged, and checks the block checksum.  Returns 0, -EIO if
 * fewer than k fragments can be read, -OBJ_ECHECKSUM if the result does
 * not match.  Read repair: when an up home node lacked its fragment or
 * served a damaged one, a rewrite of the block's damaged fragments is
 * queued (one background thread, at most 16 blocks queued, never waited
 * for: beyond that the scrub and fsck find the damage). */
int blk_get(struct blk *b, const struct manifest_block *mb, void *buf);

/* Puts every fragment of the block back on its home node where it is
 * missing or damaged (after a hand-off, a lost disk or a corruption),
 * rebuilding it from the others.  Each home node reads its fragment in
 * full to check it (FRAG_CHECK verify), so damaged data or parity bytes
 * are found, not only missing files.  Home nodes that are down are skipped.
 * Returns the number of fragments rewritten, or a negative error (-EIO
 * when fewer than k fragments are left anywhere). */
int blk_repair(struct blk *b, const struct manifest_block *mb);

/* What read repair and blk_repair did since blk_open. */
struct blk_rr_stats {
	uint64_t scheduled, dropped; /* read repairs queued / not queued (full) */
	uint64_t done, failed;	     /* read repairs finished */
	uint64_t frags_rewritten;    /* by blk_repair, whoever called it */
	uint64_t bytes_rewritten;
};
void blk_rr_stats(struct blk *b, struct blk_rr_stats *out);

/* The nodes ranked for block id, best first, as indexes into cfg->nodes:
 * fragment i's home is rank[i].  rank has room for every node; returns
 * the count. */
size_t blk_rank(struct blk *b, const uint8_t id[BLOCK_ID_LEN], size_t *rank);

/* Removes every fragment of the block from every up node (best effort:
 * returns 0 unless no node could be asked). */
int blk_delete(struct blk *b, const struct manifest_block *mb);

#endif
