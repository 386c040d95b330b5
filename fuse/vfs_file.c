/* vfs_file.c: open files of the client core: open, create, read, write,
 * flush, release (see vfs.h).  Data goes through the write buffer, which
 * falls back to the read cache for committed content.  Any caller thread.
 *
 * Close-to-open: open fetches fresh attributes, drops cached extents of
 * an older generation and tells the kernel to keep its page cache only
 * when the generation is the one the cache was filled at; flush (every
 * close) and fsync return only once buffered writes are committed, with
 * the error of any failed upload or commit. */
#include "vfs_i.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/err.h"
#include "../common/log.h"

/* O_TRUNC with write access: the file is empty here from now on, and the
 * cut goes to the shard with the next commit (fb_truncate_deferred), so
 * a small file rewritten and closed costs one commit.  A file that is
 * empty here and at the shard is left alone (its times do not change). */
static void maybe_truncate(struct vfs *v, struct vfs_file *fh, int flags, const struct meta_attr *a)
{
	struct fbuf *fb = it_fb(v->it, fh->node);

	if (!(flags & O_TRUNC) || (flags & O_ACCMODE) == O_RDONLY || fb == NULL) {
		return;
	}
	if (a->size == 0 && !fb_dirty(fb)) {
		return;
	}
	fb_truncate_deferred(fb);
	fh->cut = 1;
}

/* An open for reading records the read in the file's atime when the
 * shard's is a day old (relatime; META_SET_ATIME_READ), so the class
 * mover's age rule sees which files are read.  Best effort: a read-only
 * key or mount, or a shard that cannot be reached, leaves atime as it is
 * and the open goes on. */
static void note_read(struct vfs *v, uint64_t ino, int flags, const struct meta_attr *a)
{
	struct meta_result res;
	struct meta_op op;
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	if ((flags & O_ACCMODE) == O_WRONLY || meta_is_snap_ino(ino) ||
	    (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - a->atime_ns < META_ATIME_READ_NS) {
		return;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_SETATTR;
	op.ino = ino;
	op.valid = META_SET_ATIME_READ;
	if ((rc = vfs_op(v, &op, &res)) != 0) {
		log_debug("vfs.atime", "ino %" PRIu64 ": read time not recorded: %s", ino,
			  obj_strerror(rc));
	}
}

/* An open for reading: the fresh attributes, and with them (one query,
 * META_EXTENTS) the file's extents and inline bytes, handed to the read
 * cache so the first read asks nothing.  Only a complete list is kept.
 * A file whose extents this mount holds already asks only for the
 * attributes: most likely unchanged, its pages stay in the kernel and
 * no read comes (and a changed one loads its extents at the read). */
static int fresh_for_reading(struct vfs *v, uint64_t ino, struct meta_attr *a)
{
	int loaded = 0;
	uint64_t epoch = rc_epoch(v->rc, ino, &loaded);
	struct meta_extent *ext = NULL;
	uint8_t *inl = NULL;
	size_t inl_len = 0;
	int more = 0, n;

	if (loaded) {
		return mc_getattr(v->st.mc, ino, a);
	}
	n = mc_extents(v->st.mc, ino, 0, META_EXTENTS_MAX, &ext, &more, a, &inl, &inl_len);
	if (n < 0) {
		return n;
	}
	if (more || !S_ISREG(a->mode)) {
		free(ext);
		free(inl);
		return 0;
	}
	rc_offer(v->rc, ino, epoch, a, ext, (size_t)n, inl, inl_len);
	return 0;
}

/* Creates the handle for an open of n (pinned) with fresh attributes. */
static int open_handle(struct vfs *v, struct inode *n, const struct meta_attr *a,
		       struct vfs_file **out, int *keep_cache)
{
	struct vfs_file *fh = calloc(1, sizeof(*fh));
	int rc;

	if (fh == NULL) {
		return -ENOMEM;
	}
	rc_check_gen(v->rc, n->ino, a->gen);
	rc = it_open_file(v->it, n, v->fbc, a->size, a->gen, keep_cache);
	if (rc != 0) {
		free(fh);
		return rc;
	}
	fh->node = n;
	if (it_fb(v->it, n) != NULL) {
		/* Pages the kernel keeps are of this version: hold its extents
		 * if they are cached (a later append can then be followed). */
		fb_view_init(it_fb(v->it, n), &fh->view, a->gen, a->size, *keep_cache,
			     *keep_cache ? rc_pin_cached(v->rc, n->ino, a->gen) : NULL);
	}
	*out = fh;
	return 0;
}

/* Ends fh's view of its file (before the handle counts as released, while
 * the write buffer is certainly there). */
static void end_view(struct vfs *v, struct vfs_file *fh)
{
	struct fbuf *fb = it_fb(v->it, fh->node);

	if (fb != NULL) {
		fb_view_end(fb, &fh->view);
	}
}

void vfs_abandon(struct vfs *v, struct vfs_file *fh)
{
	if (fh->cut) {
		/* The open did its O_TRUNC, but the kernel never got the
		 * handle: commit the cut now, as an open that truncated at
		 * the shard left it, rather than at some later close. */
		int rc = vfs_commit_node(v, fh->node);

		if (rc != 0) {
			log_warn("fuse.open", "ino %" PRIu64 ": truncate of an abandoned open: %s",
				 fh->node->ino, obj_strerror(rc));
		}
	}
	end_view(v, fh);
	it_release_file(v->it, fh->node);
	free(fh);
}

int vfs_open(struct vfs *v, uint64_t ino, int flags, struct vfs_file **fh, int *keep_cache)
{
	struct inode *n = it_get(v->it, ino);
	struct meta_attr a;
	int rc;

	if (n == NULL) {
		return -ENOMEM;
	}
	if (meta_is_snap_ino(ino) && (flags & (O_WRONLY | O_RDWR | O_TRUNC))) {
		it_put(v->it, n);
		return -EROFS; /* a snapshot: its shard refuses any change */
	}
	store_count(&v->st.queries);
	rc = (flags & O_ACCMODE) == O_RDONLY ? fresh_for_reading(v, ino, &a)
					     : mc_getattr(v->st.mc, ino, &a);
	if (rc == 0 && S_ISDIR(a.mode)) {
		rc = -EISDIR;
	} else if (rc == 0 && !S_ISREG(a.mode)) {
		rc = -EINVAL;
	}
	if (rc == 0) {
		note_read(v, ino, flags, &a);
		rc = open_handle(v, n, &a, fh, keep_cache);
	}
	if (rc == 0) {
		maybe_truncate(v, *fh, flags, &a);
	}
	if (rc == 0 && (flags & O_TRUNC) && (flags & O_ACCMODE) != O_RDONLY) {
		it_ksize_set(v->it, ino, 0); /* the kernel truncates its own size */
	}
	it_put(v->it, n);
	return rc;
}

int vfs_create(struct vfs *v, uint64_t parent, const char *name, uint32_t mode, int flags,
	       uint32_t uid, uint32_t gid, struct vfs_entry *e, struct vfs_file **fh,
	       int *keep_cache)
{
	struct meta_result res;
	struct meta_op op;
	struct inode *n;
	int rc = vfs_check_name(name);

	if (rc != 0) {
		return rc;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_CREATE;
	/* Without O_EXCL an existing regular file is opened (CREATE
	 * returns it), as open(O_CREAT) must. */
	op.flags = (flags & O_EXCL) ? META_F_EXCL : 0;
	op.parent = parent;
	snprintf(op.name, sizeof(op.name), "%s", name);
	vfs_op_mode(&op, (mode & ~(uint32_t)S_IFMT) | S_IFREG);
	op.uid = uid;
	op.gid = gid;
	nc_drop(v->nc, parent, name);
	rc = vfs_op(v, &op, &res);
	if (rc != 0) {
		it_attr_drop(v->it, parent);
		dn_drop(v->dn, parent);
		return rc;
	}
	if (flags & O_EXCL) {
		/* A new inode: the shard set the parent's times to its ctime. */
		it_attr_touch(v->it, parent, res.attr.ctime_ns, res.dir_ctime_was, 0);
		dn_add(v->dn, parent, name, res.attr.ctime_ns, res.dir_ctime_was);
	} else {
		it_attr_drop(v->it, parent); /* created, or opened an old one */
		dn_drop(v->dn, parent);
	}
	n = it_get(v->it, res.attr.ino);
	if (n == NULL) {
		return -ENOMEM;
	}
	if (flags & O_EXCL) {
		/* A file this call made has no xattrs: spare the query the
		 * kernel makes for security.capability before the first
		 * write.  (Without O_EXCL the file may be an older one.) */
		it_set_nocap(v->it, n, vfs_ttl_ns(v->conf.attr_timeout));
	}
	rc = open_handle(v, n, &res.attr, fh, keep_cache);
	if (rc == 0) {
		maybe_truncate(v, *fh, flags, &res.attr);
	}
	if (rc == 0) {
		rc = vfs_entry(v, &res.attr, parent, e);
		if (rc != 0) {
			vfs_abandon(v, *fh);
			*fh = NULL;
		}
	}
	it_put(v->it, n);
	return rc;
}

void vfs_told_size(struct vfs *v, uint64_t ino, uint64_t size)
{
	it_ksize_set(v->it, ino, size);
}

ssize_t vfs_read(struct vfs *v, struct vfs_file *fh, uint64_t off, size_t size, void *buf)
{
	struct fbuf *fb = it_fb(v->it, fh->node);
	ssize_t n;
	uint64_t ksize;
	int buffered;

	if (fb == NULL) {
		return -EIO;
	}
	rc_hint(v->rc, &fh->stream, fh->node->ino, off, size);
	n = fb_read_view(fb, &fh->view, off, size, buf, &buffered);
	if (n >= 0 && (size_t)n < size && !buffered && it_ksize(v->it, fh->node->ino, &ksize) &&
	    off + (uint64_t)n < ksize) {
		/* A short answer inside the size the kernel has (another
		 * version's, told before this handle's version was known)
		 * would be zero-filled by the kernel and kept: this handle's
		 * version is not the one the kernel sizes.  An answer of
		 * this mount's uncommitted changes is its newest version:
		 * there the size recorded is the stale one (an attribute
		 * reply computed before an O_TRUNC, which the kernel ignored
		 * by its attr_version). */
		log_info("fb.stale_handle",
			 "ino %" PRIu64 ": the read ends at %" PRIu64 ", the kernel has %" PRIu64
			 " bytes: ESTALE",
			 fh->node->ino, off + (uint64_t)n, ksize);
		fh->view.stale = 1;
		return -ESTALE;
	}
	return n;
}

ssize_t vfs_write(struct vfs *v, struct vfs_file *fh, uint64_t off, const void *buf, size_t size)
{
	struct fbuf *fb = it_fb(v->it, fh->node);
	ssize_t n;

	if (fb == NULL) {
		return -EIO;
	}
	n = fb_write(fb, off, buf, size);
	if (n > 0) {
		it_ksize_grow(v->it, fh->node->ino, off + (uint64_t)n); /* the kernel's i_size */
	}
	return n;
}

/* Commits n's buffered writes; shared by flush, fsync, release and locks. */
int vfs_commit_node(struct vfs *v, struct inode *n)
{
	struct fbuf *fb = it_fb(v->it, n);
	struct meta_attr a;
	int committed = 0;
	int rc;

	if (fb == NULL) {
		return 0;
	}
	rc = fb_flush(fb, &a, &committed);
	if (committed) {
		it_committed(v->it, n, a.gen, committed);
	}
	if (rc == 0 && committed && !fb_dirty(fb)) {
		/* The kernel's size is the committed one now: forget any
		 * older size an attribute reply recorded that the kernel
		 * ignored (one computed before an O_TRUNC: attr_version). */
		it_ksize_set(v->it, n->ino, a.size);
	}
	if (rc == -EDQUOT) {
		/* Past a hard quota: retrying cannot succeed, and keeping the
		 * writes would fail every later close of the file. */
		log_info("fuse.quota", "ino %" PRIu64 ": writes past a quota dropped", n->ino);
		fb_discard(fb);
		rc_invalidate(v->rc, n->ino);
		it_drop_cache(v->it, n);
	}
	return rc;
}

int vfs_flush(struct vfs *v, struct vfs_file *fh)
{
	return vfs_commit_node(v, fh->node);
}

int vfs_release(struct vfs *v, struct vfs_file *fh)
{
	struct inode *n = it_get(v->it, fh->node->ino);
	int rc;

	/* flush ran at close(); this only catches writes after it (mmap)
	 * and failures.  Data that still cannot be committed stays in the
	 * buffer, attached to the inode, for the next open or unmount. */
	rc = vfs_commit_node(v, fh->node);
	if (rc != 0) {
		log_warn("fuse.release", "ino %" PRIu64 ": commit at release failed: %s",
			 fh->node->ino, obj_strerror(rc));
	}
	end_view(v, fh);
	it_release_file(v->it, fh->node);
	free(fh);
	if (n != NULL) {
		it_put(v->it, n); /* may close the clean buffer or drop the entry */
	}
	return rc;
}

int vfs_lock_commit(struct vfs *v, uint64_t ino)
{
	struct inode *n = it_get(v->it, ino);
	int rc;

	if (n == NULL) {
		return -ENOMEM;
	}
	rc = vfs_commit_node(v, n);
	it_put(v->it, n);
	return rc;
}

int vfs_lock_refresh(struct vfs *v, uint64_t ino)
{
	struct inode *n = it_get(v->it, ino);
	struct fbuf *fb;
	struct meta_attr a;
	int rc;

	if (n == NULL) {
		return -ENOMEM;
	}
	store_count(&v->st.queries);
	rc = mc_getattr(v->st.mc, ino, &a);
	if (rc == 0) {
		it_attr_drop(v->it, ino);
		rc_check_gen(v->rc, ino, a.gen);
		fb = it_fb(v->it, n);
		if (fb != NULL) {
			fb_refresh(fb, a.size, a.gen);
			fb_follow(fb); /* the lock holder's handles see it now */
		}
	}
	it_put(v->it, n);
	return rc;
}

size_t vfs_lock_siblings(struct vfs *v, uint64_t ino, uint64_t *out, size_t max)
{
	uint64_t dir = it_parent(v->it, ino);

	return dir != 0 ? it_children(v->it, dir, out, max) : 0;
}
