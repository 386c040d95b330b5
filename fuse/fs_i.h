/* fs_i.h: what the handler files of the FUSE layer (fs.c, fs_file.c,
 * fs_dir.c) share: handle structs, reply helpers and the handlers that
 * fs.c puts in the operations table.  Private to fuse/. */
#ifndef OBJFS_FS_I_H
#define OBJFS_FS_I_H

#include <sys/stat.h>

#include "fs.h"

/* An open file (fi->fh).  node stays valid while the handle is open: the
 * inode table keeps an entry with open handles. */
struct fhandle {
	struct inode *node;
	struct rc_stream stream; /* sequential-read detection */
};

static inline struct objfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* Replies with the positive errno for a negative objfs code. */
void fs_reply_err(fuse_req_t req, int rc);
/* Converts attributes for the kernel. */
void fs_stat(const struct objfs *fs, const struct meta_attr *a, struct stat *st);
/* Fills an entry (attributes corrected by local writes) with timeouts. */
void fs_entry(struct objfs *fs, struct meta_attr *a, struct fuse_entry_param *e);
/* Counts the kernel's new reference and replies with the entry (or the
 * create reply when fi is not NULL); undoes the count if the reply fails.
 * Returns 0 or the reply's error. */
int fs_reply_entry(fuse_req_t req, struct objfs *fs, struct meta_attr *a, uint64_t parent,
		   const struct fuse_file_info *fi);
/* -ENAMETOOLONG for a name longer than the shard accepts, else 0. */
int fs_check_name(const char *name);
/* Applies a MOP_SETATTR to n (pinned): commits buffered writes first
 * when the size or times change, then updates the buffer and caches. */
int fs_setattr_op(struct objfs *fs, struct inode *n, struct meta_op *op, struct meta_attr *out);

/* fs_file.c */
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi);
void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

/* fs_dir.c */
void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi);
void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi);

#endif
