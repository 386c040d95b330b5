/* store.h: the cluster below the FUSE client's caches: blocks through
 * blockio (behind the optional on-disk cache), extents and commits through
 * the bucket's metadata shard.  Sits under the read cache only: the read
 * cache fetches through store_rc_ops, the vfs uploads and commits through
 * the functions below; nothing here calls back up.  Counts every call to
 * the cluster.  Thread-safe: FUSE workers, uploader and prefetch threads.
 */
#ifndef OBJFS_STORE_H
#define OBJFS_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/blockio.h"
#include "../common/meta_client.h"
#include "diskcache.h"
#include "filebuf.h"
#include "readcache.h"

struct mx_metric;
struct mx_registry;

/* How long a mount writes with the codec it last read from the bucket
 * (META_STATFS) before asking again: a change by `objfsctl bucket set`
 * reaches new blocks within this, for one small query per interval. */
#define STORE_CODEC_TTL_MS 5000

/* The arg of store_rc_ops.  The counters are updated atomically (use
 * store_count and store_read_count). */
struct store {
	struct blk *blk;
	struct mc *mc;
	struct dc *dc; /* on-disk block cache, or NULL */
	uint64_t queries, commits, block_puts, block_gets;
	/* Directory pages fetched (META_READDIR_C), and those of them that
	 * did not continue the handle's window (a seekdir). */
	uint64_t readdir_pages, readdir_seeks;
	/* Metrics (NULL: off): block transfers to and from the cluster,
	 * and lookups of the on-disk cache. */
	struct mx_metric *up_ns, *down_ns, *up_bytes, *down_bytes;
	/* The bucket's codec for new blocks and when it was read
	 * (clock_mono_ms; 0: never); relaxed atomics. */
	uint8_t codec;
	uint64_t codec_ms;
};

extern const struct rc_ops store_rc_ops;

/* Stores len bytes as a new durable block for a file of size bytes (the
 * size picks the EC profile).  Returns 0 or blk_put's error. */
int store_upload(struct store *st, uint64_t size, const uint8_t *data, size_t len,
		 struct manifest_block *out);
/* store_upload in storage class cls (0: the default class), with the
 * class's profile. */
int store_upload_cls(struct store *st, uint64_t size, uint8_t cls, const uint8_t *data, size_t len,
		     struct manifest_block *out);
/* One MOP_WRITE with c's extents or inline data; *attr the new
 * attributes.  Returns 0 or a negative errno. */
int store_commit(struct store *st, const struct fb_commit *c, struct meta_attr *attr);
/* Makes sure the disk cache (st->dc, not NULL) holds blk: fetches it
 * from the cluster unless it is there (*fetched says which).  Returns 0,
 * -ENOSPC when the cache could not keep it, or blk_get's error. */
int store_warm_block(struct store *st, const struct manifest_block *blk, bool *fetched);
/* Deletes the fragments of a stored block nothing references. */
void store_discard(struct store *st, const struct manifest_block *blk);
/* Records the bucket's codec, read by another query (statfs). */
void store_set_codec(struct store *st, uint8_t codec);
/* Adds the collector of the compression counters (objfs_blocks_*,
 * objfs_compress_*): 0 or -ENOMEM. */
int store_metrics(struct store *st, struct mx_registry *r);

static inline void store_count(uint64_t *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static inline uint64_t store_read_count(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

#endif
