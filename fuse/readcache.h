/* readcache.h: the read path below the write buffer.
 * Owns the extent lists of files (per inode, validated by the inode's
 * generation), a bounded cache of whole blocks in memory (its order and
 * bound are cachepolicy.h's), and read-ahead: sequential readers get the
 * next chunks' blocks fetched in the background.  Knows nothing of FUSE; extents and blocks come
 * through struct rc_ops, so tests run it without a cluster.  Thread-safe: FUSE workers and the
 * write buffer's uploaders call it; the threads of its prefetch work queue (common/workq.h, role
 * "rc.prefetch") run inside it. */
#ifndef OBJFS_READCACHE_H
#define OBJFS_READCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/meta.h"
#include "cachepolicy.h"

struct rc_ops {
	/* Every extent of ino in ascending chunk order, its attributes and its
	 * inline data (NULL if none).  *ext and *inl are malloc'd; the cache
	 * takes them.  Returns 0 or a negative errno. */
	int (*extents)(void *arg, uint64_t ino, struct meta_extent **ext, size_t *n,
		       struct meta_attr *attr, uint8_t **inl, size_t *inl_len);
	/* Reads a whole block (blk->len bytes) into buf, checksum verified.
	 * Returns 0, -EIO, -OBJ_ECHECKSUM ... */
	int (*get_block)(void *arg, const struct manifest_block *blk, uint8_t *buf);
};

struct rc_conf {
	uint32_t chunk_size;	  /* bytes per chunk of the bucket */
	uint64_t cache_bytes;	  /* bound of the block cache */
	uint64_t cache_min_bytes; /* it may shrink to this (0: fixed bound) */
	enum cp_policy policy;	  /* CP_ARC or CP_LRU (zero: LRU) */
	unsigned readahead;	  /* most chunks fetched ahead of a reader */
	unsigned prefetchers;	  /* background fetch threads (0: no read-ahead) */
};

/* Sequential-read state of one open file handle; zero-initialise. */
struct rc_stream {
	uint64_t next_off; /* where a sequential reader reads next */
	uint64_t ra_next;  /* first chunk not yet scheduled */
	uint64_t cur;	   /* chunk of the last read */
	unsigned seq;	   /* consecutive sequential reads */
	unsigned win;	   /* chunks read ahead now (0: not sequential) */
};

struct rc_stats {
	uint64_t hits, misses, prefetched; /* block lookups */
	uint64_t fetched;		   /* bytes read from the backend */
	uint64_t cached;		   /* bytes held now */
	uint64_t evictions;		   /* blocks dropped to fit the bound */
	uint64_t readahead_hits;	   /* reads served by a block read ahead */
	uint64_t ra_grows, ra_collapses;   /* read-ahead window changes */
	struct cp_stats policy;		   /* lists, ghosts, bound */
};

struct rc;

/* ops and arg must outlive the cache.  Returns 0, -EINVAL or -ENOMEM. */
int rc_open(const struct rc_conf *conf, const struct rc_ops *ops, void *arg, struct rc **out);
/* Stops the prefetch threads and frees everything. */
void rc_close(struct rc *rc);

/* The version of a file's committed content: its generation and size. */
struct rc_version {
	uint64_t gen, size;
};

/* Reads [off, off+len) of chunk `chunk` of ino's committed content into
 * dst (off + len <= chunk_size): the chunk's block through the cache,
 * inline data, or zeros for a hole and past the extent's length.  With
 * ver and ver->gen != 0, only from the extents of that generation: cached
 * extents of another are reloaded once, and when the file is at another
 * generation now, fails with -ESTALE and sets *ver to it (the caller's
 * idea of the size is then wrong, and a hole read would invent zeros).
 * Returns 0 or a negative errno (-EIO when the block cannot be read or an
 * extent is malformed). */
int rc_read_chunk(struct rc *rc, uint64_t ino, uint64_t chunk, uint32_t off, uint32_t len,
		  uint8_t *dst, struct rc_version *ver);

/* One version of a file's committed content held by an open handle, so
 * that the handle reads the version it opened until it closes (readers
 * and GC, ARCHITECTURE.md).  Its extents stay in memory while held; its
 * blocks are readable until GC deletes them, after the grace period. */
struct rc_pin;

/* Reads [off, off+len) of chunk `chunk` of ino as rc_read_chunk does, from
 * the version *pin holds.  With *pin NULL: from generation ver->gen (not
 * 0), which the read then holds in *pin; -ESTALE with *ver set when the
 * file is at another generation (nothing held).  With a hold: a block of
 * that version that cannot be fetched makes the read load the file's
 * extents: a chunk whose bytes moved to another block (same length and
 * XXH3: the class mover) is read from it, and the held version names it
 * from then on; a chunk rewritten since (its old block collected), or a
 * file removed, fails with -ESTALE and *ver set to the file's version
 * now ({0} when removed).  Returns 0 or a negative errno. */
int rc_read_pinned(struct rc *rc, struct rc_pin **pin, uint64_t ino, uint64_t chunk, uint32_t off,
		   uint32_t len, uint8_t *dst, struct rc_version *ver);
/* Another hold of what pin holds (released by rc_unpin), and releasing
 * a hold (NULL: nothing).  Neither blocks: the cache's lock only. */
void rc_pin_ref(struct rc *rc, struct rc_pin *pin);
void rc_unpin(struct rc *rc, struct rc_pin *pin);
/* Whether the file's version now (of generation ver->gen, loaded if the
 * cached extents are older) still holds every byte of pin's version at
 * the same offsets -- it was appended to, not rewritten: the chunks the
 * held version covers whole name the same bytes (length and XXH3), and
 * its last partial chunk reads the same as far as it went.  Then returns
 * 1 and *longer is a new hold of the version now; else 0.  *ver is set
 * to the version now either way; pin stays the caller's.  A negative
 * errno when the extents cannot be read. */
int rc_pin_extends(struct rc *rc, struct rc_pin *pin, uint64_t ino, struct rc_pin **longer,
		   struct rc_version *ver);
/* A hold of ino's cached extents if they are of generation gen, else
 * NULL; never loads them (an open whose kernel pages are kept). */
struct rc_pin *rc_pin_cached(struct rc *rc, uint64_t ino, uint64_t gen);

/* Reads [off, off+len) of block *blk through the cache; bytes past
 * blk->len are zeros.  Returns 0 or a negative errno. */
int rc_read_block(struct rc *rc, const struct manifest_block *blk, uint32_t off, uint32_t len,
		  uint8_t *dst);

/* Takes buf (malloc'd, cap bytes, blk->len of them valid) as the cached
 * content of the block, e.g. just written.  Frees it if already cached. */
void rc_donate(struct rc *rc, const struct manifest_block *blk, uint8_t *buf, size_t cap);

/* Drops the extents of ino: the next read fetches them again. */
void rc_invalidate(struct rc *rc, uint64_t ino);
/* The extents of ino fetched outside a read (an open that asked for
 * them with the attributes, saving the read its query): rc_epoch before
 * the request, rc_offer with its answer -- the complete extent list of
 * generation attr->gen, owned from then on (freed when not taken).  Kept
 * only when nothing invalidated ino in between and no newer version is
 * loaded; returns 1 when kept.  *loaded says whether extents of ino are
 * held (or being loaded) already. */
uint64_t rc_epoch(struct rc *rc, uint64_t ino, int *loaded);
int rc_offer(struct rc *rc, uint64_t ino, uint64_t epoch, const struct meta_attr *attr,
	     struct meta_extent *ext, size_t n, uint8_t *inl, size_t inl_len);
/* Drops the extents of ino if they were loaded at another generation.
 * Returns 1 when they were dropped. */
int rc_check_gen(struct rc *rc, uint64_t ino, uint64_t gen);
/* Forgets ino entirely (the kernel forgot the inode). */
void rc_forget(struct rc *rc, uint64_t ino);

/* Notes a read of [off, off+len) through stream s; when the reads are
 * sequential, schedules the blocks of the chunks ahead of it.  The window
 * starts at one chunk, doubles each time a sequential reader enters a new
 * chunk, up to `readahead` chunks, and collapses to none at a read that
 * is not where the last one ended. */
void rc_hint(struct rc *rc, struct rc_stream *s, uint64_t ino, uint64_t off, size_t len);

void rc_get_stats(struct rc *rc, struct rc_stats *out);

#endif
