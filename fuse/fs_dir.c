/* fs_dir.c: directory handlers: opendir, readdir, readdirplus,
 * releasedir, fsyncdir.  They pack what the vfs lists (vfs_dir.c owns
 * the handle, its window and the cache policy) into the kernel's buffer
 * and reply once.  Run by libfuse's worker threads. */
#include "fs_i.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pack {
	fuse_req_t req;
	struct vfs *v;
	char *buf;
	size_t size, used;
	int plus;
};

static struct vfs_dir *dh_of(const struct fuse_file_info *fi)
{
	return (struct vfs_dir *)(uintptr_t)fi->fh;
}

/* Adds one entry to the reply; 1 when it does not fit. */
static int pack_one(void *arg, const char *name, const struct vfs_entry *ve, uint64_t next)
{
	struct pack *p = arg;
	size_t len;

	if (p->plus) {
		struct fuse_entry_param e;

		fs_entry_param(p->v, ve, &e);
		len = fuse_add_direntry_plus(p->req, p->buf + p->used, p->size - p->used, name, &e,
					     (off_t)next);
	} else {
		struct stat st;

		memset(&st, 0, sizeof(st));
		st.st_ino = ve->attr.ino;
		st.st_mode = ve->attr.mode;
		len = fuse_add_direntry(p->req, p->buf + p->used, p->size - p->used, name, &st,
					(off_t)next);
	}
	if (len > p->size - p->used) {
		return 1;
	}
	p->used += len;
	return 0;
}

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vfs *v = vfs_of(req);
	struct vfs_dir *dh = NULL;
	int keep = 0;
	int rc = vfs_opendir(v, ino, &dh, &keep);

	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)dh;
	fi->cache_readdir = 1;
	fi->keep_cache = keep;
	if (fuse_reply_open(req, fi) != 0) {
		vfs_releasedir(v, dh);
	}
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	struct pack p = {.req = req, .v = vfs_of(req), .size = size, .plus = plus};
	int rc;

	p.buf = malloc(size ? size : 1);
	if (p.buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = vfs_readdir(p.v, dh_of(fi), ino, off < 0 ? 0 : (uint64_t)off, plus, pack_one, &p);
	if (rc < 0 && p.used == 0) {
		fs_reply_err(req, rc);
	} else {
		/* An error after some entries: return those; the next call
		 * starts at the failed position and reports it then. */
		fuse_reply_buf(req, p.buf, p.used);
	}
	free(p.buf);
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 0);
}

void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 1);
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	vfs_releasedir(vfs_of(req), dh_of(fi));
	fuse_reply_err(req, 0);
}

/* Directory changes are committed by the shard before each reply. */
void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}
