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

/* The profile of storage class cls (config.h): the class's own, or for
 * the default class 0 (and an id the config does not define)
 * blk_profile_for(size). */
struct ec_profile blk_class_profile(struct blk *b, uint8_t cls, uint64_t size);

/* Encodes and stores len bytes (1..MSG_BLOCK_MAX) as a new block with a
 * fresh random id; fills out.  Returns 0, or -EIO/-OBJ_EQUORUM when the
 * quorum could not be met (fragments already written are removed). */
int blk_put(struct blk *b, const void *data, size_t len, struct ec_profile p,
	    struct manifest_block *out);
/* As blk_put, compressing the block with codec (BLK_CODEC_*) first when
 * that pays (compress.h: else it is stored raw, out->codec NONE).  The
 * fragments hold the compressed form; out->len and out->csum are the
 * data's.  -EINVAL for an unknown codec. */
int blk_put_codec(struct blk *b, const void *data, size_t len, struct ec_profile p, uint8_t codec,
		  struct manifest_block *out);
/* blk_put in storage class cls: the fragments go to the class's tagged
 * nodes only (home and hand-off alike), and out->cls records it so that
 * readers rank the same nodes.  p must fit the class's node count. */
int blk_put_cls(struct blk *b, const void *data, size_t len, struct ec_profile p, uint8_t cls,
		struct manifest_block *out);
/* Both: compressed with codec when that pays, stored in class cls. */
int blk_put_codec_cls(struct blk *b, const void *data, size_t len, struct ec_profile p,
		      uint8_t codec, uint8_t cls, struct manifest_block *out);

/* Reads the block into buf (mb->len bytes), decoding if fragments are
 * missing or damaged and decompressing a compressed block (bounded by
 * mb->len), and checks the block checksum.  Returns 0, -EIO if fewer than
 * k fragments can be read or the compressed form does not decode to
 * mb->len bytes, -OBJ_ECHECKSUM if the result does not match.  Read
 * repair: when an up home node lacked its fragment or served a damaged
 * one, a rewrite of the block's damaged fragments is queued (one
 * background thread, at most 16 blocks queued, never waited for: beyond
 * that the scrub and fsck find the damage). */
int blk_get(struct blk *b, const struct manifest_block *mb, void *buf);

/* Puts every fragment of the block back on its home node where it is
 * missing or damaged (after a hand-off, a lost disk or a corruption),
 * rebuilding it from the others.  Each home node reads its fragment in
 * full to check it (FRAG_CHECK verify), so damaged data or parity bytes
 * are found, not only missing files.  Home nodes that are down are skipped.
 * Returns the number of fragments rewritten, or a negative error (-EIO
 * when fewer than k fragments are left anywhere). */
int blk_repair(struct blk *b, const struct manifest_block *mb);

/* What blk_rebuild may assume of each node (role[node]). */
enum blk_node_role {
	BLK_NODE_CHECK = 0, /* verify its home fragments in full */
	BLK_NODE_TRUST = 1, /* its home fragments are taken as intact, not read */
	BLK_NODE_GONE = 2   /* down past repair_after or out: its home fragments
			     * are rebuilt on another node (repair_plan.h
			     * rp_target) unless a copy exists elsewhere */
};
struct blk_rebuild_res {
	uint32_t written;  /* fragments written */
	uint64_t bytes;	   /* their bytes */
	uint32_t unplaced; /* fragments missing that no node could take */
};

/* blk_repair with a role per node (NULL: all BLK_NODE_CHECK).  Every new
 * fragment is written before anything is removed (nothing is: surplus
 * copies are the stray GC's, gc.h), so no block's redundancy is ever
 * lowered on the way.  Returns the fragments written, or a negative error;
 * *res is filled either way. */
int blk_rebuild(struct blk *b, const struct manifest_block *mb, const uint8_t *role,
		struct blk_rebuild_res *res);

/* What read repair and blk_repair did since blk_open. */
struct blk_rr_stats {
	uint64_t scheduled, dropped; /* read repairs queued / not queued (full) */
	uint64_t done, failed;	     /* read repairs finished */
	uint64_t frags_rewritten;    /* by blk_repair, whoever called it */
	uint64_t bytes_rewritten;
};
void blk_rr_stats(struct blk *b, struct blk_rr_stats *out);

/* What compression did since blk_open. */
struct blk_cz_stats {
	uint64_t compressed;	      /* blocks stored compressed */
	uint64_t raw;		      /* blocks a codec was asked for, stored raw */
	uint64_t bytes_in, bytes_out; /* the compressed blocks: data, stored */
	uint64_t decompressed;	      /* blocks read and decompressed */
};
void blk_cz_stats(struct blk *b, struct blk_cz_stats *out);

/* The nodes ranked for block id of storage class cls, best first, as
 * indexes into cfg->nodes: fragment i's home is rank[i].  rank has room
 * for every node; returns the count. */
size_t blk_rank(struct blk *b, const uint8_t id[BLOCK_ID_LEN], uint8_t cls, size_t *rank);

/* Removes every fragment of the block from every up node (best effort:
 * returns 0 unless no node could be asked). */
int blk_delete(struct blk *b, const struct manifest_block *mb);

#endif
