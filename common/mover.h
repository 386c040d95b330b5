/* mover.h: the storage class mover -- re-encodes a file's blocks into
 * another storage class (config.h [class]) while the file stays readable.
 * Each block is read, written anew in the class, and a batch is committed
 * with one MOP_CLASS_MOVE that swaps a chunk only if it still names the
 * block read (a concurrent write wins); the old blocks go through the
 * shard's GC with its grace period, so readers holding old extents still
 * read them.  Redundancy never drops on the way: a new block is durable
 * (write quorum) before any record names it, and the old one stays until
 * the record is committed.  Runs on the caller's thread; not thread-safe
 * (one mover per thread). */
#ifndef OBJFS_MOVER_H
#define OBJFS_MOVER_H

#include <stdint.h>

#include "blockio.h"
#include "meta_client.h"
#include "metrics.h"

/* What a mover did since mover_open (also as the objfs_mover_* metrics). */
struct mover_stats {
	uint64_t files;	      /* files that had at least one block moved */
	uint64_t files_seen;  /* files looked at */
	uint64_t blocks;      /* blocks re-encoded and committed */
	uint64_t bytes;	      /* bytes of those blocks */
	uint64_t raced;	      /* new blocks not taken: a write changed the chunk first */
	uint64_t blocks_left; /* blocks already in their class */
};

struct mover;

/* A mover over mc's bucket and b (both borrowed, and cfg, the config b
 * was opened with), reading at most rate_mb MB/s (0: no limit).  mx may
 * be NULL; else the objfs_mover_* counters are made in it.  0 or -ENOMEM. */
int mover_open(struct mc *mc, struct blk *b, const struct cfg *cfg, uint32_t rate_mb,
	       struct mx_registry *mx, struct mover **out);
void mover_close(struct mover *mv);

/* 1 when block mb is in storage class cls as the config defines it now
 * (class id, and the class's k+m), else 0.  The default class 0 takes any
 * k+m: its profile depends on the file size (ec_tiers). */
int mover_in_class(const struct cfg *cfg, const struct manifest_block *mb, uint8_t cls);

/* Moves every block of file ino that is not in class cls into it.
 * Returns the number of blocks moved (0: nothing to do, an inline file
 * too), or a negative errno: blk_get/blk_put's (-EIO, -OBJ_EQUORUM,
 * -OBJ_ECHECKSUM), the shard's (-ENOENT: the file went), -ENOMEM.  On an
 * error the file is as readable as before: every committed batch named
 * durable blocks, and new blocks never committed are deleted (or left to
 * the stray GC if the process dies). */
int mover_file(struct mover *mv, uint64_t ino, uint8_t cls);

void mover_get_stats(const struct mover *mv, struct mover_stats *out);

/* fn(arg) runs on the caller's thread after every committed batch (a
 * progress report inside a large file); NULL turns it off. */
void mover_on_batch(struct mover *mv, void (*fn)(void *arg), void *arg);

#endif
