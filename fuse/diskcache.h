/* diskcache.h: a bounded on-disk cache of whole blocks for the FUSE
 * client (-o cache_dir=DIR).  Owns one file per block in DIR, named by
 * the block id in hex, and an in-memory LRU index of them.  Every hit is
 * verified against the block's XXH3 from its manifest entry, so a torn,
 * stale or tampered file is a miss (and is removed), never data.  Files
 * are written to a temporary name and renamed; nothing is fsynced: a
 * crash can only lose cache entries.  Thread-safe; called by FUSE workers
 * and prefetch threads through the read path. */
#ifndef OBJFS_DISKCACHE_H
#define OBJFS_DISKCACHE_H

#include <stdint.h>

#include "../proto/manifest.h"

struct dc;

/* Opens (creating, mode 0700) the cache directory, indexes the blocks it
 * holds (oldest first by mtime), removes leftover temporary files and
 * trims it to max_bytes.  Returns 0 or a negative errno. */
int dc_open(const char *dir, uint64_t max_bytes, struct dc **out);
void dc_close(struct dc *dc);

/* Reads the block into buf (blk->len bytes).  Returns 0 on a verified
 * hit, -ENOENT otherwise. */
int dc_get(struct dc *dc, const struct manifest_block *blk, uint8_t *buf);

/* Stores a copy of a block just read (best effort: failures are logged
 * once and ignored), evicting the least recently used beyond the bound. */
void dc_put(struct dc *dc, const struct manifest_block *blk, const uint8_t *buf);

/* Bytes and files indexed now (tests, statistics). */
void dc_usage(struct dc *dc, uint64_t *bytes, uint64_t *files);
/* Lookups found (hits; a file that then fails its check still counted)
 * and not found, files dropped to fit the bound, and the usage. */
struct dc_stats {
	uint64_t hits, misses, evictions, bytes, files;
};
void dc_get_stats(struct dc *dc, struct dc_stats *out);

#endif
