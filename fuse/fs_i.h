/* fs_i.h: what the handler files of the FUSE layer (fs.c, fs_file.c,
 * fs_dir.c) share: reply helpers and the handlers that fs.c puts in the
 * operations table.  Private to fuse/. */
#ifndef OBJFS_FS_I_H
#define OBJFS_FS_I_H

#include <sys/stat.h>

#include "fs.h"

static inline struct vfs *vfs_of(fuse_req_t req)
{
	return ((struct objfs *)fuse_req_userdata(req))->v;
}

static inline struct dio *dio_of(fuse_req_t req)
{
	return ((struct objfs *)fuse_req_userdata(req))->dio;
}

/* Replies with the positive errno for a negative objfs code. */
void fs_reply_err(fuse_req_t req, int rc);
/* Converts attributes for the kernel. */
void fs_stat(struct vfs *v, const struct meta_attr *a, struct stat *st);
/* Converts an entry for the kernel. */
void fs_entry_param(struct vfs *v, const struct vfs_entry *ve, struct fuse_entry_param *e);

/* fs_file.c */
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi);
void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, struct fuse_file_info *fi);
void fs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
		  struct fuse_file_info *fi);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* fs_lock.c */
void fs_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *fl);
void fs_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *fl,
	      int sleep);
void fs_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op);
/* At close (flush, after the commit): frees fi->lock_owner's POSIX locks
 * on ino if it has any here.  0 or an error. */
int fs_lock_close(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
/* At release, before the handle goes: frees the locks taken through it. */
void fs_lock_release(fuse_req_t req, struct fuse_file_info *fi);

/* fs_dir.c */
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

#endif
