/* fs.h: the objfs FUSE file system: mount-wide state and the libfuse
 * low-level operations table.  The handlers (fs.c, fs_file.c, fs_dir.c)
 * are thin: they decode the request, call the metadata client, the write
 * buffer or the read cache, and reply exactly once.  main.c owns the
 * connections and the session; this module owns the caches between them.
 *
 * Threads: libfuse's worker threads run the handlers; the write buffer's
 * uploaders and the read cache's prefetchers run inside those modules. */
#ifndef OBJFS_FS_H
#define OBJFS_FS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <stdint.h>

#include "../common/blockio.h"
#include "../common/client.h"
#include "../common/meta_client.h"
#include "filebuf.h"
#include "inode.h"
#include "readcache.h"
#include "store.h"

/* Mount options that shape the caches (main.c parses them). */
struct objfs_opts {
	double attr_timeout;	 /* kernel attribute cache, seconds (1) */
	double entry_timeout;	 /* kernel name cache, seconds (1) */
	double negative_timeout; /* cache of "no such name", seconds (0) */
	uint64_t max_dirty;	 /* write-back memory across files (256 MiB) */
	uint64_t cache_bytes;	 /* block cache in memory (256 MiB) */
	unsigned readahead;	 /* chunks read ahead of sequential readers (2) */
	unsigned uploaders;	 /* background upload threads (4) */
	unsigned prefetchers;	 /* background read-ahead threads (2) */
};

struct objfs {
	struct objfs_opts o;
	/* set by the caller before objfs_start, owned by it: */
	struct cl *cl;
	struct blk *blk;
	struct mc *mc;
	struct dc *dc;	     /* on-disk block cache, or NULL */
	uint32_t chunk_size; /* from the bucket (mc_statfs) */
	uint32_t inline_max;
	/* owned here: */
	struct store st;
	struct rc *rc;
	struct fb_ctx *fbc;
	struct itable *it;
};

/* Creates the caches and the write buffer's threads.  Returns 0 or a
 * negative errno. */
int objfs_start(struct objfs *fs);
/* Commits every dirty file and frees the caches.  Returns 0, or the first
 * error of a file whose data could not be committed (each is logged). */
int objfs_stop(struct objfs *fs);

extern const struct fuse_lowlevel_ops objfs_ll_ops;

#endif
