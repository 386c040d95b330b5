/* vfs.h: the client core of the objfs mount, below the FUSE handlers.
 * Owns the inode table, the write-back buffer, the read cache, the disk
 * cache and the store, and every policy between them: close-to-open,
 * commit before a size or time change, O_TRUNC, the negative caches, the
 * lookup counts of kernel references.  Knows nothing of libfuse: a caller
 * (fs*.c, or a unit test) hands in decoded arguments and gets 0 or a
 * negative errno.  Thread-safe; any number of caller threads.
 *
 * Kernel references: every call that returns an entry (lookup, mknod,
 * symlink, link, create, readdir with plus) counts one reference on ino
 * when it succeeds with ino != 0; a caller whose reply does not reach
 * the kernel gives it back with vfs_forget(ino, 1). */
#ifndef OBJFS_VFS_H
#define OBJFS_VFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../common/blockio.h"
#include "../common/client.h"
#include "../common/meta_client.h"
#include "diskcache.h"

struct vfs_conf {
	uint32_t chunk_size;	  /* from the bucket (mc_statfs) */
	uint32_t inline_max;	  /* from the bucket */
	double attr_timeout;	  /* kernel attribute cache, seconds */
	double entry_timeout;	  /* kernel name cache, seconds */
	double negative_timeout;  /* kernel cache of missing names, seconds (0: none) */
	uint64_t max_dirty;	  /* write-back memory across files */
	uint64_t cache_bytes;	  /* block cache in memory */
	uint64_t cache_min_bytes; /* it may shrink to (0: fixed) */
	int cache_policy;	  /* enum cp_policy */
	unsigned readahead;	  /* chunks read ahead of sequential readers */
	unsigned uploaders;	  /* background upload threads */
	unsigned prefetchers;	  /* background read-ahead threads */
};

/* An entry for the kernel.  ino is the inode the kernel gets a reference
 * to; 0 for a negative entry ("no such name", to be cached for
 * entry_timeout) and for "." and ".." of a listing. */
struct vfs_entry {
	uint64_t ino;
	struct meta_attr attr;
	double attr_timeout, entry_timeout;
};

/* Attributes to change: valid is a mask of META_SET_* (proto/meta.h). */
struct vfs_setattr {
	uint32_t valid;
	uint32_t mode, uid, gid;
	uint64_t size;
	int64_t atime_ns, mtime_ns;
};

/* Calls made to the cluster since vfs_start (tests, measurements). */
struct vfs_stats {
	uint64_t queries;    /* metadata reads: lookup, getattr, xattr, readdir, extents */
	uint64_t commits;    /* metadata changes (one Raft entry each) */
	uint64_t block_puts; /* erasure-coded blocks stored */
	uint64_t block_gets; /* blocks read from the cluster */
};

/* Mode bits above S_IFMT for mknod and create: the creator's umask, which
 * the shard applies unless the parent directory has a default ACL, whose
 * entries the new inode then inherits (the kernel leaves the umask to
 * filesystems with POSIX ACLs).  Without them the mode is used as is. */
#define VFS_UMASK_SET 0x80000000u
#define VFS_UMASK(u) (VFS_UMASK_SET | (((uint32_t)(u)&0777u) << 16))

struct vfs;
struct vfs_file;
struct vfs_dir;

/* Starts the caches and the uploader and prefetch threads over the
 * connections cl, blk and mc (which must outlive the vfs).  dc (may be
 * NULL) is the on-disk block cache: the vfs owns it from here, also on
 * failure.  Returns 0, -EINVAL (bad conf) or -ENOMEM. */
int vfs_start(const struct vfs_conf *conf, struct cl *cl, struct blk *blk, struct mc *mc,
	      struct dc *dc, struct vfs **out);
/* Commits every dirty file, stops the threads and frees everything.
 * Returns 0, or the first error of a file that could not be committed
 * (each is logged as fuse.flush_lost). */
int vfs_stop(struct vfs *v);

const struct vfs_conf *vfs_conf(const struct vfs *v);
void vfs_get_stats(struct vfs *v, struct vfs_stats *out);
/* Times block transfers into r and adds the collector of the caches,
 * dirty bytes, retries and timeouts (objfs_mount_*; vfs_metrics.c).
 * Before the session serves; r outlives v's use of it. */
struct mx_registry;
int vfs_set_metrics(struct vfs *v, struct mx_registry *r);

/* ---- names and attributes (vfs.c) ---- */

/* -ENOENT, or with negative_timeout > 0 a negative entry and 0. */
int vfs_lookup(struct vfs *v, uint64_t parent, const char *name, struct vfs_entry *e);
void vfs_forget(struct vfs *v, uint64_t ino, uint64_t nlookup);
/* Attributes with the local view of buffered writes; *timeout is how long
 * the kernel may keep them.  A directory's come from the cache while it
 * is valid (then *timeout is what is left of it). */
int vfs_getattr(struct vfs *v, uint64_t ino, struct meta_attr *out, double *timeout);
/* Commits buffered writes first when the size or a time changes (else
 * that later commit would overwrite them). */
int vfs_setattr(struct vfs *v, uint64_t ino, const struct vfs_setattr *s, struct meta_attr *out,
		double *timeout);
/* mknod and mkdir (mode carries the type; 0 means a regular file). */
int vfs_mknod(struct vfs *v, uint64_t parent, const char *name, uint32_t mode, uint64_t rdev,
	      uint32_t uid, uint32_t gid, struct vfs_entry *e);
int vfs_symlink(struct vfs *v, uint64_t parent, const char *name, const char *target, uint32_t uid,
		uint32_t gid, struct vfs_entry *e);
int vfs_link(struct vfs *v, uint64_t ino, uint64_t newparent, const char *newname,
	     struct vfs_entry *e);
/* Fills buf (cap bytes) with the NUL-terminated target. */
int vfs_readlink(struct vfs *v, uint64_t ino, char *buf, size_t cap);
int vfs_unlink(struct vfs *v, uint64_t parent, const char *name);
int vfs_rmdir(struct vfs *v, uint64_t parent, const char *name);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE (others: -EINVAL). */
int vfs_rename(struct vfs *v, uint64_t parent, const char *name, uint64_t newparent,
	       const char *newname, unsigned flags);
/* Existence check (permissions are the kernel's). */
int vfs_access(struct vfs *v, uint64_t ino);

struct vfs_statfs {
	uint64_t total, avail; /* bytes; 0 when the cluster cannot say */
	uint64_t files;
	uint64_t max_files; /* a quota's inode limit (then files is its usage), or 0 */
};
/* The bucket's figures, or those of the quota nearest to ino (itself or
 * an ancestor): df inside a quota'd tree shows the quota. */
int vfs_statfs(struct vfs *v, uint64_t ino, struct vfs_statfs *out);

/* flags: XATTR_CREATE, XATTR_REPLACE.  system.* is -EOPNOTSUPP (no ACLs). */
int vfs_setxattr(struct vfs *v, uint64_t ino, const char *name, const void *value, size_t size,
		 int flags);
/* *val malloc'd (caller frees). */
int vfs_getxattr(struct vfs *v, uint64_t ino, const char *name, uint8_t **val, size_t *len);
int vfs_listxattr(struct vfs *v, uint64_t ino, char **names, size_t *len);
int vfs_removexattr(struct vfs *v, uint64_t ino, const char *name);

/* Warm-up: reading this extended attribute of a regular file fills the
 * mount's disk cache with the file's blocks (objfsctl warmup); its value
 * is "FETCHED CACHED", the bytes fetched now and those already there.
 * Never stored: the mount answers it. */
#define VFS_WARMUP_XATTR "user.objfs.warmup"
struct vfs_warm {
	uint64_t fetched, cached; /* bytes */
};
/* Puts every block of ino's committed content into the disk cache, as
 * blocks asked for (kept before blocks a scan read once).  Returns 0,
 * -EOPNOTSUPP without a disk cache, -ENOSPC when a block does not fit
 * it, or the error of reading the extents or a block. */
int vfs_warmup(struct vfs *v, uint64_t ino, struct vfs_warm *out);

/* ---- open files (vfs_file.c) ---- */

/* Opens ino with open(2) flags (O_TRUNC with write access empties it).
 * Fresh attributes are fetched (close-to-open); *keep_cache says whether
 * the kernel's cached pages of the file are still valid. */
int vfs_open(struct vfs *v, uint64_t ino, int flags, struct vfs_file **fh, int *keep_cache);
/* open(O_CREAT): creates parent/name (or opens it without O_EXCL) and
 * opens it; *e counts a kernel reference as for lookup. */
int vfs_create(struct vfs *v, uint64_t parent, const char *name, uint32_t mode, int flags,
	       uint32_t uid, uint32_t gid, struct vfs_entry *e, struct vfs_file **fh,
	       int *keep_cache);
/* The kernel was told size as ino's size (every attribute reply of a
 * regular file): reads never end short inside it (vfs_read). */
void vfs_told_size(struct vfs *v, uint64_t ino, uint64_t size);
/* Returns the count read (short at end of file) or a negative errno:
 * -ESTALE when the handle's version was collected, or when the answer
 * would end short inside the size the kernel holds (see vfs_told_size). */
ssize_t vfs_read(struct vfs *v, struct vfs_file *fh, uint64_t off, size_t size, void *buf);
/* Buffers the bytes; returns the count or a negative errno. */
ssize_t vfs_write(struct vfs *v, struct vfs_file *fh, uint64_t off, const void *buf, size_t size);
/* lseek SEEK_DATA / SEEK_HOLE (whence) from off, by the chunk map after
 * committing buffered writes: *out is the position; -ENXIO at or past the
 * end (or no data after off). */
int vfs_lseek(struct vfs *v, struct vfs_file *fh, uint64_t off, int whence, uint64_t *out);
/* fallocate: mode 0 and KEEP_SIZE never reserve space (0 sets the size),
 * PUNCH_HOLE|KEEP_SIZE and ZERO_RANGE make [off, off+len) read as zeros,
 * whole chunks becoming holes.  Other modes: -EOPNOTSUPP. */
int vfs_fallocate(struct vfs *v, struct vfs_file *fh, int mode, uint64_t off, uint64_t len);
/* close(2) and fsync(2): return once everything written is durable and
 * committed, or with the error of the upload or commit that failed. */
int vfs_flush(struct vfs *v, struct vfs_file *fh);
/* Locks make other mounts' changes visible, as NFS does: before a lock is
 * released the file's buffered writes are committed (vfs_lock_commit);
 * after one is taken the committed size and generation are fetched and
 * cached content of an older generation is dropped (vfs_lock_refresh;
 * the caller also drops the kernel's page cache).  0 or an error. */
int vfs_lock_commit(struct vfs *v, uint64_t ino);
int vfs_lock_refresh(struct vfs *v, uint64_t ino);
/* Up to max inodes known in ino's directory (ino among them), into out:
 * a lock holder must see their current attributes too (SQLite checks
 * for a journal with stat(2) under its lock).  Returns the count. */
size_t vfs_lock_siblings(struct vfs *v, uint64_t ino, uint64_t *out, size_t max);
/* The last reference to fh: commits what flush did not (mmap writes, a
 * failed flush), frees fh.  Data that still fails stays buffered for the
 * next open or vfs_stop; the error is returned for the log. */
int vfs_release(struct vfs *v, struct vfs_file *fh);
/* Undoes vfs_open/vfs_create when the kernel never saw the handle. */
void vfs_abandon(struct vfs *v, struct vfs_file *fh);

/* ---- directories (vfs_dir.c) ---- */

/* With keep_cache: *keep_cache says whether the kernel may serve this
 * opendir from the listing it cached (vfs_dir.c). */
int vfs_opendir(struct vfs *v, uint64_t ino, struct vfs_dir **dh, int *keep_cache);
void vfs_releasedir(struct vfs *v, struct vfs_dir *dh);

/* Called per entry from position pos on: returns 0 when it took the
 * entry, 1 when it has no room (the listing stops there).  next is the
 * position after this entry.  Without plus only e->attr.ino and mode are
 * set. */
typedef int (*vfs_dirent_fn)(void *arg, const char *name, const struct vfs_entry *e, uint64_t next);
/* Lists dir ino from position pos ("." is 0, ".." 1, 2 the start of the
 * entries; each entry's next is its resume cookie, >= 3: see vfs_dir.c),
 * in cookie order.  With plus each entry taken counts a kernel
 * reference.  Returns 0 at the end or when fn ran out of room, or a
 * negative errno (entries taken before it stand). */
int vfs_readdir(struct vfs *v, struct vfs_dir *dh, uint64_t ino, uint64_t pos, int plus,
		vfs_dirent_fn fn, void *arg);

#endif
