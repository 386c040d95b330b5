/* store.h: binds the write buffer (filebuf.h) and the read cache
 * (readcache.h) to the cluster: blocks through blockio (behind the
 * optional on-disk cache), extents and commits through the bucket's
 * metadata shard.  The only place where the
 * FUSE client's data modules meet the network.  Thread-safe: called from
 * FUSE workers, uploader and prefetch threads. */
#ifndef OBJFS_STORE_H
#define OBJFS_STORE_H

#include <stdint.h>

#include "../common/blockio.h"
#include "../common/meta_client.h"
#include "diskcache.h"
#include "filebuf.h"
#include "readcache.h"

/* The arg of both ops tables.  rc must be set before the write buffer
 * reads or donates anything. */
struct store {
	struct blk *blk;
	struct mc *mc;
	struct rc *rc;
	struct dc *dc; /* on-disk block cache, or NULL */
	uint32_t chunk_size;
};

extern const struct fb_ops store_fb_ops;
extern const struct rc_ops store_rc_ops;

#endif
