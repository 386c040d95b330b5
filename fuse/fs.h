/* fs.h: the libfuse low-level operations table of the objfs mount.  The
 * handlers (fs.c, fs_file.c, fs_dir.c) only decode the request, copy what
 * must outlive it, call the client core (vfs.h) and reply exactly once;
 * every cache and policy lives in the vfs.  main.c owns the connections,
 * the session and the vfs.  Run by libfuse's worker threads. */
#ifndef OBJFS_FS_H
#define OBJFS_FS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <stdatomic.h>

#include "locks.h"
#include "vfs.h"

/* The session's userdata: v is set before the session is mounted. */
struct dio;

struct objfs {
	struct vfs *v;
	struct lkc *lk; /* cluster-wide locks (locks.h) */
	struct fuse_session *se;
	struct dio *dio; /* direct/buffered coherence (dio.h) */
	const char *bucket;
	int acl;		   /* the kernel enforces POSIX ACLs: creators' umasks come here */
	const char *mnt;	   /* resolved mount point */
	unsigned read_ahead_kb;	   /* kernel read-ahead to set; 0: the kernel's */
	atomic_int read_ahead_set; /* the first open set it (bdi.h) */
	int writeback;		   /* -o writeback_cache=1: kernel write-back cache */
};

extern const struct fuse_lowlevel_ops objfs_ll_ops;

/* The mode of a new inode for the vfs: with ACLs, the creator's umask
 * travels with it (vfs.h, VFS_UMASK). */
static inline uint32_t fs_new_mode(fuse_req_t req, mode_t mode)
{
	const struct objfs *fs = fuse_req_userdata(req);

	return fs->acl ? (uint32_t)mode | VFS_UMASK(fuse_req_ctx(req)->umask) : (uint32_t)mode;
}

#endif
