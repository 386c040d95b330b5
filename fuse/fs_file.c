/* fs_file.c: handlers of open files: open, create, read, write, flush,
 * release, fsync.  Data goes through the write buffer (filebuf.h), which
 * falls back to the read cache; these handlers only decode and reply.
 * Run by libfuse's worker threads.
 *
 * Close-to-open: open fetches fresh attributes, drops cached extents of
 * an older generation and keeps the kernel's page cache only when the
 * generation is the one the cache was filled at; flush (every close) and
 * fsync return only once buffered writes are committed, with the error of
 * any failed upload or commit. */
#include "fs_i.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"

static struct fhandle *fh_of(const struct fuse_file_info *fi)
{
	return (struct fhandle *)(uintptr_t)fi->fh;
}

/* O_TRUNC with write access: cut the file to 0 unless it is empty here
 * and at the shard. */
static int maybe_truncate(struct objfs *fs, struct inode *n, const struct fuse_file_info *fi,
			  struct meta_attr *a)
{
	struct fbuf *fb = it_fb(fs->it, n);
	struct meta_op op;

	if (!(fi->flags & O_TRUNC) || (fi->flags & O_ACCMODE) == O_RDONLY) {
		return 0;
	}
	if (a->size == 0 && (fb == NULL || !fb_dirty(fb))) {
		return 0;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_SETATTR;
	op.ino = n->ino;
	op.valid = META_SET_SIZE;
	op.size = 0;
	return fs_setattr_op(fs, n, &op, a);
}

/* Creates the handle for an open of n (pinned) with fresh attributes. */
static int open_handle(struct objfs *fs, struct inode *n, const struct meta_attr *a,
		       struct fuse_file_info *fi)
{
	struct fhandle *fh = calloc(1, sizeof(*fh));
	int keep = 0, rc;

	if (fh == NULL) {
		return -ENOMEM;
	}
	rc_check_gen(fs->rc, n->ino, a->gen);
	rc = it_open_file(fs->it, n, fs->fbc, a->size, a->gen, &keep);
	if (rc != 0) {
		free(fh);
		return rc;
	}
	fh->node = n;
	fi->fh = (uint64_t)(uintptr_t)fh;
	fi->keep_cache = keep;
	fi->direct_io = 0;
	return 0;
}

/* Undoes open_handle when the kernel never got the reply. */
static void drop_handle(struct objfs *fs, struct fuse_file_info *fi)
{
	struct fhandle *fh = fh_of(fi);

	it_release_file(fs->it, fh->node);
	free(fh);
}

void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct objfs *fs = fs_of(req);
	struct inode *n = it_get(fs->it, ino);
	struct meta_attr a;
	int rc;

	if (n == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = mc_getattr(fs->mc, ino, &a);
	if (rc == 0 && S_ISDIR(a.mode)) {
		rc = -EISDIR;
	} else if (rc == 0 && !S_ISREG(a.mode)) {
		rc = -EINVAL;
	}
	if (rc == 0) {
		rc = maybe_truncate(fs, n, fi, &a);
	}
	if (rc == 0) {
		rc = open_handle(fs, n, &a, fi);
	}
	if (rc != 0) {
		fs_reply_err(req, rc);
	} else if (fuse_reply_open(req, fi) != 0) {
		drop_handle(fs, fi);
	}
	it_put(fs->it, n);
}

void fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       struct fuse_file_info *fi)
{
	struct objfs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct meta_result res;
	struct meta_op op;
	struct inode *n;
	int rc = fs_check_name(name);

	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_CREATE;
	/* Without O_EXCL an existing regular file is opened (CREATE
	 * returns it), as open(O_CREAT) must. */
	op.flags = (fi->flags & O_EXCL) ? META_F_EXCL : 0;
	op.parent = parent;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.mode = (mode & 07777) | S_IFREG;
	op.uid = ctx->uid;
	op.gid = ctx->gid;
	rc = mc_op(fs->mc, &op, &res);
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	n = it_get(fs->it, res.attr.ino);
	if (n == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = maybe_truncate(fs, n, fi, &res.attr);
	if (rc == 0) {
		rc = open_handle(fs, n, &res.attr, fi);
	}
	if (rc != 0) {
		fs_reply_err(req, rc);
	} else if (fs_reply_entry(req, fs, &res.attr, parent, fi) != 0) {
		drop_handle(fs, fi);
	}
	it_put(fs->it, n);
}

void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct objfs *fs = fs_of(req);
	struct fhandle *fh = fh_of(fi);
	struct fbuf *fb = it_fb(fs->it, fh->node);
	uint8_t *buf;
	ssize_t n;

	if (fb == NULL || off < 0) {
		fuse_reply_err(req, fb == NULL ? EIO : EINVAL);
		return;
	}
	buf = malloc(size ? size : 1);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc_hint(fs->rc, &fh->stream, ino, (uint64_t)off, size);
	n = fb_read(fb, (uint64_t)off, size, buf);
	if (n < 0) {
		fs_reply_err(req, (int)n);
	} else {
		fuse_reply_buf(req, (const char *)buf, (size_t)n);
	}
	free(buf);
}

void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	struct objfs *fs = fs_of(req);
	struct fbuf *fb = it_fb(fs->it, fh_of(fi)->node);
	ssize_t n;

	(void)ino;
	if (fb == NULL || off < 0) {
		fuse_reply_err(req, fb == NULL ? EIO : EINVAL);
		return;
	}
	n = fb_write(fb, (uint64_t)off, buf, size);
	if (n < 0) {
		fs_reply_err(req, (int)n);
	} else {
		fuse_reply_write(req, (size_t)n);
	}
}

/* Commits n's buffered writes; shared by flush, fsync and release. */
static int commit_file(struct objfs *fs, struct inode *n)
{
	struct fbuf *fb = it_fb(fs->it, n);
	struct meta_attr a;
	int committed = 0;
	int rc;

	if (fb == NULL) {
		return 0;
	}
	rc = fb_flush(fb, &a, &committed);
	if (committed) {
		it_committed(fs->it, n, a.gen);
	}
	return rc;
}

void fs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fs_reply_err(req, commit_file(fs_of(req), fh_of(fi)->node));
}

void fs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync; /* data and metadata are committed together */
	fs_reply_err(req, commit_file(fs_of(req), fh_of(fi)->node));
}

void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct objfs *fs = fs_of(req);
	struct fhandle *fh = fh_of(fi);
	struct inode *n = it_get(fs->it, ino);
	int rc;

	/* flush ran at close(); this only catches writes after it (mmap)
	 * and failures.  Data that still cannot be committed stays in the
	 * buffer, attached to the inode, for the next open or unmount. */
	rc = commit_file(fs, fh->node);
	if (rc != 0) {
		log_warn("fuse.release", "ino %" PRIu64 ": commit at release failed: %s",
			 fh->node->ino, obj_strerror(rc));
	}
	it_release_file(fs->it, fh->node);
	free(fh);
	it_put(fs->it, n); /* may close the clean buffer or drop the entry */
	fuse_reply_err(req, 0);
}
