/* vfs_i.h: what the files of the client core (vfs.c, vfs_file.c,
 * vfs_dir.c) share: the mount-wide state and the helpers between them.
 * Private to fuse/. */
#ifndef OBJFS_VFS_I_H
#define OBJFS_VFS_I_H

#include "classmap.h"
#include "dirnames.h"
#include "filebuf.h"
#include "inode.h"
#include "negcache.h"
#include "readcache.h"
#include "store.h"
#include "vfs.h"

/* Set once by vfs_start; the modules inside guard themselves (lock order:
 * inode table, then write buffer; the read cache and store take no lock
 * of the others). */
struct vfs {
	struct vfs_conf conf;
	struct cl *cl;
	struct store st; /* below the read cache */
	struct rc *rc;	 /* committed content, over the store */
	struct fb_ctx *fbc;
	struct itable *it;
	struct negcache *nc; /* names known missing */
	struct dirnames *dn; /* name lists of directories made here */
	struct classmap *cm; /* storage class of new blocks */
};

/* An open file.  node stays valid while the handle is open: the inode
 * table keeps an entry with open handles. */
struct vfs_file {
	struct inode *node;
	struct rc_stream stream; /* sequential-read detection */
	struct fb_view view;	 /* the version it reads (filebuf.h) */
	int cut;		 /* its open deferred an O_TRUNC (vfs_abandon) */
};

static inline int64_t vfs_ttl_ns(double seconds)
{
	return (int64_t)(seconds * 1e9);
}

/* Puts mode (with an optional VFS_UMASK) into a MOP_CREATE. */
static inline void vfs_op_mode(struct meta_op *op, uint32_t mode)
{
	op->mode = mode & 0177777u;
	if (mode & VFS_UMASK_SET) {
		op->flags |= META_F_UMASK;
		op->valid = (mode >> 16) & 0777u;
	}
}

/* -ENAMETOOLONG for a name longer than the shard accepts, else 0. */
int vfs_check_name(const char *name);
/* Sends op through the shard, counted as a commit. */
int vfs_op(struct vfs *v, struct meta_op *op, struct meta_result *res);
/* Fills e from a (overlaid with buffered writes) and counts the kernel's
 * reference.  Returns 0 or -ENOMEM. */
int vfs_entry(struct vfs *v, const struct meta_attr *a, uint64_t parent, struct vfs_entry *e);
/* Commits n's (pinned) buffered writes. */
int vfs_commit_node(struct vfs *v, struct inode *n);
/* Applies a MOP_SETATTR to n (pinned), committing buffered writes first
 * when the size or times change, then updates the buffer and caches. */
int vfs_setattr_node(struct vfs *v, struct inode *n, const struct vfs_setattr *s,
		     struct meta_attr *out);

#endif
