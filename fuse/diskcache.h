/* diskcache.h: a bounded on-disk cache of whole blocks for the FUSE
 * client (-o cache_dir=DIR).  Owns one file per block in DIR, named by
 * the block id in hex, and an in-memory index of them (ordered by cachepolicy.h).  Every hit is
 * verified against the block's XXH3 from its manifest entry, so a torn,
 * stale or tampered file is a miss (and is removed), never data.  Files
 * are written to a temporary name and renamed; nothing is fsynced: a
 * crash can only lose cache entries.  Thread-safe; called by FUSE workers
 * and prefetch threads through the read path. */
#ifndef OBJFS_DISKCACHE_H
#define OBJFS_DISKCACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "../proto/manifest.h"
#include "cachepolicy.h"

struct dc;

/* Opens (creating, mode 0700) the cache directory, indexes the blocks it
 * holds (oldest first by mtime), removes leftover temporary files and
 * trims it to max_bytes.  Returns 0 or a negative errno. */
int dc_open(const char *dir, uint64_t max_bytes, struct dc **out);
/* The same with the replacement policy named (dc_open: CP_ARC). */
int dc_open_policy(const char *dir, enum cp_policy policy, uint64_t max_bytes, struct dc **out);
void dc_close(struct dc *dc);

/* Reads the block into buf (blk->len bytes).  Returns 0 on a verified
 * hit, -ENOENT otherwise. */
int dc_get(struct dc *dc, const struct manifest_block *blk, uint8_t *buf);

/* Stores a copy of a block just read (best effort: failures are logged
 * once and ignored), evicting the least recently used beyond the bound. */
void dc_put(struct dc *dc, const struct manifest_block *blk, const uint8_t *buf);
/* dc_put; warm: asked for ahead of use (warm-up), so it is kept as if
 * read more than once (ARC's T2). */
void dc_put_how(struct dc *dc, const struct manifest_block *blk, const uint8_t *buf, bool warm);
/* True when the block is indexed (not verified: dc_get does that). */
bool dc_has(struct dc *dc, const struct manifest_block *blk);

/* Bytes and files indexed now (tests, statistics). */
void dc_usage(struct dc *dc, uint64_t *bytes, uint64_t *files);
/* Lookups found (hits; a file that then fails its check still counted)
 * and not found, files dropped to fit the bound, and the usage. */
struct dc_stats {
	uint64_t hits, misses, evictions, bytes, files;
	struct cp_stats policy; /* lists and ghosts */
};
void dc_get_stats(struct dc *dc, struct dc_stats *out);

#endif
