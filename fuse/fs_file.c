/* fs_file.c: handlers of open files: open, create, read, write, flush,
 * release, fsync.  They decode, call the vfs (vfs_file.c owns the
 * policies) and reply once.  Run by libfuse's worker threads. */
#include "fs_i.h"

#include <errno.h>
#include <stdlib.h>

#include "../common/err.h"
#include "../common/log.h"
#include "bdi.h"
#include "dio.h"

/* fi->fh is the vfs handle; its low bit (handles are malloc'd, so
 * aligned) says dio_open counted this open. */
#define FH_DIO 1u

static struct vfs_file *fh_of(const struct fuse_file_info *fi)
{
	return (struct vfs_file *)(uintptr_t)(fi->fh & ~(uint64_t)FH_DIO);
}

static int fh_dio(const struct fuse_file_info *fi)
{
	return (fi->fh & FH_DIO) != 0;
}

/* The kernel's read-ahead window, set once at the first open: by then
 * INIT has been answered (its reply would cap the window again), and the
 * kernel sizes each file's window after OPEN returns, so even the first
 * file gets it.  Whole blocks per request instead of 128 KiB. */
static void tune_read_ahead(fuse_req_t req)
{
	struct objfs *fs = fuse_req_userdata(req);
	int rc;

	/* A load first: every open passes here, and only the first writes. */
	if (fs->read_ahead_kb == 0 ||
	    atomic_load_explicit(&fs->read_ahead_set, memory_order_relaxed) ||
	    atomic_exchange(&fs->read_ahead_set, 1) != 0) {
		return;
	}
	if ((rc = bdi_set_read_ahead(fs->mnt, fs->read_ahead_kb)) != 0) {
		log_info("fuse.readahead", "kernel read-ahead of %s stays as it is: %s", fs->mnt,
			 obj_strerror(rc));
	} else {
		log_debug("fuse.readahead", "kernel read-ahead of %s: %u KiB", fs->mnt,
			  fs->read_ahead_kb);
	}
}

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vfs *v = vfs_of(req);
	struct dio *d = dio_of(req);
	struct vfs_file *fh = NULL;
	int keep = 0;
	int rc = vfs_open(v, ino, fi->flags, &fh, &keep);

	tune_read_ahead(req);
	/* The inode is gone at the shard (another mount removed it) while
	 * the kernel still had its name: ESTALE makes the kernel look the
	 * name up again and retry, so open(O_CREAT) creates the file anew
	 * instead of failing with ENOENT. */
	if (rc == -ENOENT) {
		rc = -ESTALE;
	}
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	if ((fi->flags & O_DIRECT) && (rc = dio_open(d, ino)) != 0) {
		vfs_abandon(v, fh);
		fs_reply_err(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)fh | ((fi->flags & O_DIRECT) ? FH_DIO : 0);
	fi->keep_cache = keep;
	fi->direct_io = 0;
	if (fuse_reply_open(req, fi) != 0) {
		if (fh_dio(fi)) {
			dio_release(d, ino);
		}
		vfs_abandon(v, fh);
	}
}

void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct vfs *v = vfs_of(req);
	struct dio *d = dio_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	struct vfs_entry ve;
	struct vfs_file *fh = NULL;
	int keep = 0;
	int rc = vfs_create(v, parent, name, fs_new_mode(req, mode), fi->flags, ctx->uid, ctx->gid,
			    &ve, &fh, &keep);

	tune_read_ahead(req);
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)fh | ((fi->flags & O_DIRECT) ? FH_DIO : 0);
	fi->keep_cache = keep;
	fi->direct_io = 0;
	fs_entry_param(v, &ve, &e);
	if (fh_dio(fi) && (rc = dio_open(d, ve.ino)) != 0) {
		vfs_forget(v, e.ino, 1);
		vfs_abandon(v, fh);
		fs_reply_err(req, rc);
		return;
	}
	if (fuse_reply_create(req, &e, fi) != 0) {
		/* The kernel never saw the entry nor the handle. */
		if (fh_dio(fi)) {
			dio_release(d, ve.ino);
		}
		vfs_forget(v, e.ino, 1);
		vfs_abandon(v, fh);
	}
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct dio *d = dio_of(req); /* req is gone once replied to */
	struct dio_read dr;
	uint8_t *buf;
	ssize_t n;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	buf = malloc(size ? size : 1);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* While ino has O_DIRECT opens, a read that raced a direct write is
	 * read again, and writes wait for its reply (dio.h). */
	dio_read_begin(d, ino, &dr);
	do {
		n = vfs_read(vfs_of(req), fh_of(fi), (uint64_t)off, size, buf);
	} while (n >= 0 && dio_read_settle(d, &dr));
	if (n < 0) {
		fs_reply_err(req, (int)n);
	} else {
		fuse_reply_buf(req, (const char *)buf, (size_t)n);
	}
	dio_read_end(d, &dr);
	if (n == -ESTALE) {
		/* The handle's version is gone: the kernel's pages of the
		 * file may be of it, so a new open reads the file anew. */
		dio_inval_inode(d, ino);
	}
	free(buf);
}

void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	ssize_t n;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	n = vfs_write(vfs_of(req), fh_of(fi), (uint64_t)off, buf, size);
	if (n < 0) {
		fs_reply_err(req, (int)n);
	} else if (fh_dio(fi) || (fi->flags & O_DIRECT)) {
		/* O_DIRECT at open, or set later by fcntl: either way the
		 * pages this write makes stale are dropped before the reply
		 * (untracked inodes get the reply at once). */
		dio_write_done(dio_of(req), req, ino, (uint64_t)off, (size_t)n);
	} else {
		fuse_reply_write(req, (size_t)n);
	}
}

void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int rc = vfs_flush(vfs_of(req), fh_of(fi));

	if (rc == 0) {
		rc = fs_lock_close(req, ino, fi);
	}
	fs_reply_err(req, rc);
}

void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi)
{
	uint64_t pos;
	int rc;

	(void)ino;
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	rc = vfs_lseek(vfs_of(req), fh_of(fi), (uint64_t)off, whence, &pos);
	if (rc != 0) {
		fs_reply_err(req, rc);
	} else {
		fuse_reply_lseek(req, (off_t)pos);
	}
}

void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		  struct fuse_file_info *fi)
{
	(void)ino;
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	fs_reply_err(req,
		     vfs_fallocate(vfs_of(req), fh_of(fi), mode, (uint64_t)off, (uint64_t)len));
}

void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync; /* data and metadata are committed together */
	fs_reply_err(req, vfs_flush(vfs_of(req), fh_of(fi)));
}

void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	/* Its error is logged by the vfs; close(2) got flush's already. */
	fs_lock_release(req, fi);
	vfs_release(vfs_of(req), fh_of(fi));
	if (fh_dio(fi)) {
		dio_release(dio_of(req), ino);
	}
	fuse_reply_err(req, 0);
}
