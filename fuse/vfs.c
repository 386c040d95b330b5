/* vfs.c: the client core's start and stop, the wiring of write-back, read
 * cache and store, and the operations on names, attributes, links, xattrs
 * and statfs (see vfs.h).  Any caller thread; blocks on the cluster.
 *
 * The data path: writes go to the write buffer (filebuf.c); its reads of
 * committed content and the blocks it stored go through the read cache
 * (readcache.c), which alone reads from the store (store.c); uploads and
 * commits go to the store, and a commit drops the read cache's extents of
 * the file.  So the store sits under the read cache only.
 *
 * Unlink, rmdir and rename over a name keep the victim as an orphan only
 * when a file or directory in the directory is open here
 * (META_F_KEEP_ORPHAN): an open file stays readable, and an open directory
 * stays a valid (empty, nlink 0) directory, until its last close, and rm -rf of a tree nobody has
 * open does not pay one MOP_FORGET per file when the kernel forgets them. */
#include "vfs_i.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "../common/err.h"
#include "../common/log.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* The kernel asks for this one before every write (file_remove_privs). */
#define CAP_XATTR "security.capability"

/* ---- the write buffer's backend: read cache and store ------------------- */

static int fbo_read(void *arg, uint64_t ino, uint64_t chunk, const struct manifest_block *blk,
		    uint32_t off, uint32_t len, uint8_t *dst, uint64_t *gen, uint64_t *size)
{
	struct vfs *v = arg;
	struct rc_version ver = {.gen = gen != NULL ? *gen : 0};
	int rc;

	if (blk != NULL) {
		return rc_read_block(v->rc, blk, off, len, dst);
	}
	rc = rc_read_chunk(v->rc, ino, chunk, off, len, dst, &ver);
	if (rc == -ESTALE && gen != NULL && size != NULL) {
		*gen = ver.gen;
		*size = ver.size;
	}
	return rc;
}

static int fbo_read_pinned(void *arg, uint64_t ino, uint64_t chunk, uint32_t off, uint32_t len,
			   uint8_t *dst, void **pin, uint64_t *gen, uint64_t *size)
{
	struct vfs *v = arg;
	struct rc_version ver = {.gen = *gen};
	struct rc_pin *p = *pin;
	int rc = rc_read_pinned(v->rc, &p, ino, chunk, off, len, dst, &ver);

	*pin = p;
	if (rc == -ESTALE) {
		*gen = ver.gen;
		*size = ver.size;
	}
	return rc;
}

static void fbo_pin_ref(void *arg, void *pin)
{
	struct vfs *v = arg;

	rc_pin_ref(v->rc, pin);
}

static void fbo_unpin(void *arg, void *pin)
{
	struct vfs *v = arg;

	rc_unpin(v->rc, pin);
}

static int fbo_extends(void *arg, uint64_t ino, void *pin, void **longer, uint64_t *gen,
		       uint64_t *size)
{
	struct vfs *v = arg;
	struct rc_version ver = {.gen = *gen};
	struct rc_pin *p = NULL;
	int rc = rc_pin_extends(v->rc, pin, ino, &p, &ver);

	*longer = p;
	*gen = ver.gen;
	*size = ver.size;
	return rc;
}

static int fbo_upload(void *arg, uint64_t ino, uint64_t size, const uint8_t *data, size_t len,
		      struct manifest_block *out)
{
	struct vfs *v = arg;

	return store_upload_cls(&v->st, size, cm_class_of(v->cm, ino), data, len, out);
}

static int fbo_commit(void *arg, const struct fb_commit *c, struct meta_attr *attr)
{
	struct vfs *v = arg;
	int rc = store_commit(&v->st, c, attr);

	/* Whatever the outcome, cached extents may be stale now. */
	rc_invalidate(v->rc, c->ino);
	return rc;
}

static void fbo_donate(void *arg, const struct manifest_block *blk, uint8_t *buf, size_t cap)
{
	struct vfs *v = arg;

	rc_donate(v->rc, blk, buf, cap);
}

static void fbo_discard(void *arg, const struct manifest_block *blk)
{
	struct vfs *v = arg;

	store_discard(&v->st, blk);
}

static const struct fb_ops vfs_fb_ops = {
    .read = fbo_read,
    .upload = fbo_upload,
    .commit = fbo_commit,
    .donate = fbo_donate,
    .discard = fbo_discard,
    .read_pinned = fbo_read_pinned,
    .pin_ref = fbo_pin_ref,
    .unpin = fbo_unpin,
    .extends = fbo_extends,
};

/* ---- the inode table's callbacks ---------------------------------------- */

static void orphan_cb(void *arg, uint64_t ino)
{
	struct vfs *v = arg;
	struct meta_result res;
	struct meta_op op;
	int rc;

	memset(&op, 0, sizeof(op));
	op.type = MOP_FORGET;
	op.ino = ino;
	rc = vfs_op(v, &op, &res);
	if (rc != 0) {
		/* The shard keeps the orphan: space, not data, is lost. */
		log_warn("fuse.forget", "ino %" PRIu64 ": MOP_FORGET failed: %s", ino,
			 obj_strerror(rc));
	}
}

static void gone_cb(void *arg, uint64_t ino)
{
	struct vfs *v = arg;

	rc_forget(v->rc, ino);
}

static const struct it_ops vfs_it_ops = {
    .orphan = orphan_cb,
    .gone = gone_cb,
};

/* ---- start / stop ------------------------------------------------------ */

int vfs_start(const struct vfs_conf *conf, struct cl *cl, struct blk *blk, struct mc *mc,
	      struct dc *dc, struct vfs **out)
{
	struct rc_conf rcc = {
	    .chunk_size = conf->chunk_size,
	    .cache_bytes = conf->cache_bytes,
	    .cache_min_bytes = conf->cache_min_bytes,
	    .policy = (enum cp_policy)conf->cache_policy,
	    .readahead = conf->readahead,
	    .prefetchers = conf->readahead > 0 ? conf->prefetchers : 0,
	};
	struct fb_conf fbc = {
	    .chunk_size = conf->chunk_size,
	    .inline_max = conf->inline_max,
	    .max_dirty = conf->max_dirty,
	    .uploaders = conf->uploaders,
	};
	struct vfs *v = calloc(1, sizeof(*v));
	int rc;

	if (v == NULL) {
		dc_close(dc);
		return -ENOMEM;
	}
	v->conf = *conf;
	v->cl = cl;
	v->st.blk = blk;
	v->st.mc = mc;
	v->st.dc = dc;
	if ((rc = rc_open(&rcc, &store_rc_ops, &v->st, &v->rc)) != 0 ||
	    (rc = fb_ctx_open(&fbc, &vfs_fb_ops, v, &v->fbc)) != 0 ||
	    (rc = it_open(&vfs_it_ops, v, &v->it)) != 0 ||
	    (rc = nc_open(vfs_ttl_ns(conf->negative_timeout), &v->nc)) != 0 ||
	    (rc = dn_open(vfs_ttl_ns(conf->negative_timeout), &v->dn)) != 0 ||
	    (rc = cm_open(cl_cfg(cl), mc, v->it, &v->cm)) != 0) {
		vfs_stop(v);
		return rc;
	}
	*out = v;
	return 0;
}

int vfs_stop(struct vfs *v)
{
	int rc = 0;

	if (v == NULL) {
		return 0;
	}
	if (v->it != NULL) {
		rc = it_flush_all(v->it);
		it_close(v->it);
	}
	cm_close(v->cm); /* after the last upload (the flush above) */
	nc_close(v->nc);
	dn_close(v->dn);
	fb_ctx_close(v->fbc);
	rc_close(v->rc);
	dc_close(v->st.dc);
	free(v);
	return rc;
}

const struct vfs_conf *vfs_conf(const struct vfs *v)
{
	return &v->conf;
}

void vfs_get_stats(struct vfs *v, struct vfs_stats *out)
{
	out->queries = store_read_count(&v->st.queries);
	out->commits = store_read_count(&v->st.commits);
	out->block_puts = store_read_count(&v->st.block_puts);
	out->block_gets = store_read_count(&v->st.block_gets);
}

/* ---- helpers shared by the vfs files ---------------------------------- */

int vfs_check_name(const char *name)
{
	return strlen(name) > META_NAME_MAX ? -ENAMETOOLONG : 0;
}

int vfs_op(struct vfs *v, struct meta_op *op, struct meta_result *res)
{
	store_count(&v->st.commits);
	return mc_op(v->st.mc, op, res);
}

int vfs_entry(struct vfs *v, const struct meta_attr *a, uint64_t parent, struct vfs_entry *e)
{
	int rc;

	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->attr = *a;
	it_overlay(v->it, &e->attr);
	e->attr_timeout = v->conf.attr_timeout;
	e->entry_timeout = v->conf.entry_timeout;
	rc = it_lookup(v->it, a->ino, parent);
	if (rc != 0) {
		memset(e, 0, sizeof(*e));
	}
	return rc;
}

/* ---- names ------------------------------------------------------------- */

/* 1 when the name list of parent, a directory made here within the
 * negative timeout (dirnames.h), says name is absent, checked against
 * parent's attributes: cached ones while they last (attr_timeout), else
 * a query.  So a name another mount just made is missed no longer than a
 * negative entry would miss it. */
static int listed_absent(struct vfs *v, uint64_t parent, const char *name)
{
	struct meta_attr pa;
	double timeout;

	if (!dn_kept(v->dn, parent) || vfs_getattr(v, parent, &pa, &timeout) != 0) {
		return 0;
	}
	return dn_absent(v->dn, parent, name, pa.ctime_ns);
}

int vfs_lookup(struct vfs *v, uint64_t parent, const char *name, struct vfs_entry *e)
{
	struct meta_attr a;
	uint64_t epoch = nc_epoch(v->nc);
	/* "." and ".." come from the kernel's file-handle decoding: the
	 * answer says nothing about which directory holds the inode. */
	int dots = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
	int rc = vfs_check_name(name);

	if (rc == 0 && !dots &&
	    (nc_missing(v->nc, parent, name) || listed_absent(v, parent, name))) {
		rc = -ENOENT;
	} else if (rc == 0) {
		store_count(&v->st.queries);
		rc = mc_lookup(v->st.mc, parent, name, &a);
		if (rc == -ENOENT && !dots) {
			nc_add(v->nc, parent, name, epoch);
		}
	}
	if (rc == -ENOENT && !dots && v->conf.negative_timeout > 0) {
		/* The kernel keeps "no such name" for the timeout (and asks
		 * again before an O_EXCL create: the cache above answers);
		 * a create, link or rename here forgets it at once. */
		memset(e, 0, sizeof(*e));
		e->entry_timeout = v->conf.negative_timeout;
		return 0;
	}
	if (rc != 0) {
		return rc;
	}
	rc = vfs_entry(v, &a, dots ? 0 : parent, e);
	if (rc == 0) {
		it_attr_keep(v->it, &a, vfs_ttl_ns(v->conf.attr_timeout));
	}
	return rc;
}

void vfs_forget(struct vfs *v, uint64_t ino, uint64_t nlookup)
{
	it_forget(v->it, ino, nlookup);
}

int vfs_getattr(struct vfs *v, uint64_t ino, struct meta_attr *out, double *timeout)
{
	int64_t left;
	int rc;

	if (it_attr_cached(v->it, ino, out, &left)) {
		/* The kernel keeps them only for what is left, so nothing is
		 * served older than attr_timeout. */
		*timeout = (double)left / 1e9;
		return 0;
	}
	store_count(&v->st.queries);
	rc = mc_getattr(v->st.mc, ino, out);
	if (rc != 0) {
		return rc;
	}
	it_attr_keep(v->it, out, vfs_ttl_ns(v->conf.attr_timeout));
	it_overlay(v->it, out);
	*timeout = v->conf.attr_timeout;
	return 0;
}

int vfs_setattr_node(struct vfs *v, struct inode *n, const struct vfs_setattr *s,
		     struct meta_attr *out)
{
	struct fbuf *fb = it_fb(v->it, n);
	struct meta_result res;
	struct meta_op op;
	int rc;

	if (fb != NULL && fb_dirty(fb) &&
	    (s->valid & (META_SET_SIZE | META_SET_MTIME | META_SET_MTIME_NOW | META_SET_ATIME |
			 META_SET_ATIME_NOW))) {
		struct meta_attr a;
		int committed;

		/* Buffered writes first: a later commit would otherwise
		 * overwrite the new size or the explicit mtime. */
		rc = fb_flush(fb, &a, &committed);
		if (rc != 0) {
			return rc;
		}
		if (committed) {
			it_committed(v->it, n, a.gen, committed);
		}
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_SETATTR;
	op.ino = n->ino;
	op.valid = s->valid;
	op.mode = s->mode;
	op.uid = s->uid;
	op.gid = s->gid;
	op.size = s->size;
	op.atime_ns = s->atime_ns;
	op.mtime_ns = s->mtime_ns;
	rc = vfs_op(v, &op, &res);
	if (rc != 0) {
		return rc;
	}
	*out = res.attr;
	if (s->valid & META_SET_SIZE) {
		if (fb != NULL) {
			fb_truncated(fb, s->size, res.attr.gen);
		}
		rc_invalidate(v->rc, n->ino);
		it_committed(v->it, n, res.attr.gen, 1);
	}
	return 0;
}

int vfs_setattr(struct vfs *v, uint64_t ino, const struct vfs_setattr *s, struct meta_attr *out,
		double *timeout)
{
	struct inode *n = it_get(v->it, ino);
	int rc;

	if (n == NULL) {
		return -ENOMEM;
	}
	rc = vfs_setattr_node(v, n, s, out);
	it_put(v->it, n);
	it_attr_drop(v->it, ino);
	if (rc == 0) {
		it_attr_keep(v->it, out, vfs_ttl_ns(v->conf.attr_timeout));
		it_overlay(v->it, out);
		*timeout = v->conf.attr_timeout;
	}
	return rc;
}

/* MOP_CREATE of any type but through open(O_CREAT). */
static int create_node(struct vfs *v, uint64_t parent, const char *name, uint32_t mode,
		       uint64_t rdev, const char *target, uint32_t uid, uint32_t gid,
		       struct vfs_entry *e)
{
	struct meta_result res;
	struct meta_op op;
	int rc = vfs_check_name(name);

	if (rc == 0 && target != NULL && strlen(target) > META_SYMLINK_MAX) {
		rc = -ENAMETOOLONG;
	}
	if (rc != 0) {
		return rc;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_CREATE;
	op.flags = META_F_EXCL;
	op.parent = parent;
	snprintf(op.name, sizeof(op.name), "%s", name);
	vfs_op_mode(&op, mode);
	op.uid = uid;
	op.gid = gid;
	op.rdev = rdev;
	if (target != NULL) {
		op.data = (const uint8_t *)target;
		op.data_len = strlen(target);
	}
	nc_drop(v->nc, parent, name);
	rc = vfs_op(v, &op, &res);
	if (rc != 0) {
		it_attr_drop(v->it, parent);
		dn_drop(v->dn, parent);
		return rc;
	}
	/* What the shard did to the parent (META_F_EXCL: a new inode). */
	it_attr_touch(v->it, parent, res.attr.ctime_ns, res.dir_ctime_was,
		      S_ISDIR(res.attr.mode) ? 1 : 0);
	dn_add(v->dn, parent, name, res.attr.ctime_ns, res.dir_ctime_was);
	if (S_ISDIR(res.attr.mode)) {
		dn_start(v->dn, res.attr.ino, res.attr.ctime_ns); /* empty */
	}
	rc = vfs_entry(v, &res.attr, parent, e);
	if (rc == 0) {
		it_attr_keep(v->it, &res.attr, vfs_ttl_ns(v->conf.attr_timeout));
	}
	return rc;
}

int vfs_mknod(struct vfs *v, uint64_t parent, const char *name, uint32_t mode, uint64_t rdev,
	      uint32_t uid, uint32_t gid, struct vfs_entry *e)
{
	switch (mode & S_IFMT) {
	case S_IFDIR:
		return create_node(v, parent, name, (mode & ~(uint32_t)S_IFMT) | S_IFDIR, 0, NULL,
				   uid, gid, e);
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		return create_node(v, parent, name, mode, rdev, NULL, uid, gid, e);
	case 0:
		return create_node(v, parent, name, mode | S_IFREG, 0, NULL, uid, gid, e);
	default:
		return -EINVAL;
	}
}

int vfs_symlink(struct vfs *v, uint64_t parent, const char *name, const char *target, uint32_t uid,
		uint32_t gid, struct vfs_entry *e)
{
	return create_node(v, parent, name, S_IFLNK | 0777, 0, target, uid, gid, e);
}

int vfs_link(struct vfs *v, uint64_t ino, uint64_t newparent, const char *newname,
	     struct vfs_entry *e)
{
	struct meta_result res;
	struct meta_op op;
	int rc = vfs_check_name(newname);

	if (rc != 0) {
		return rc;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_LINK;
	op.ino = ino;
	op.newparent = newparent;
	snprintf(op.newname, sizeof(op.newname), "%s", newname);
	nc_drop(v->nc, newparent, newname);
	rc = vfs_op(v, &op, &res);
	it_attr_drop(v->it, newparent);
	dn_drop(v->dn, newparent);
	if (rc != 0) {
		return rc;
	}
	return vfs_entry(v, &res.attr, newparent, e);
}

int vfs_readlink(struct vfs *v, uint64_t ino, char *buf, size_t cap)
{
	int rc;

	store_count(&v->st.queries);
	rc = mc_readlink(v->st.mc, ino, buf, cap);
	if (rc < 0) {
		return rc;
	}
	buf[cap - 1] = '\0';
	return 0;
}

/* UNLINK and RMDIR. */
static int remove_name(struct vfs *v, uint64_t parent, const char *name, uint8_t type)
{
	struct meta_result res;
	struct meta_op op;
	int rc = vfs_check_name(name);

	if (rc != 0) {
		return rc;
	}
	memset(&op, 0, sizeof(op));
	op.type = type;
	op.flags = it_open_in(v->it, parent) ? META_F_KEEP_ORPHAN : 0;
	op.parent = parent;
	snprintf(op.name, sizeof(op.name), "%s", name);
	rc = vfs_op(v, &op, &res);
	if (rc == 0 && res.attr.ctime_ns != 0) {
		/* The shard set the directory's mtime and ctime to the stamp
		 * the victim's ctime carries (and took a subdirectory's link):
		 * patched like a create's, so the kernel's getattr of the
		 * directory after the unlink costs no query. */
		it_attr_touch(v->it, parent, res.attr.ctime_ns, res.dir_ctime_was,
			      type == MOP_RMDIR ? -1 : 0);
		dn_del(v->dn, parent, name, res.attr.ctime_ns, res.dir_ctime_was);
	} else {
		it_attr_drop(v->it, parent);
		dn_drop(v->dn, parent);
	}
	if (rc == 0 && type == MOP_RMDIR && res.freed_ino != 0) {
		dn_drop(v->dn, res.freed_ino);
	}
	if (rc == 0 && res.freed_ino != 0) {
		it_attr_drop(v->it, res.freed_ino);
	}
	if (rc == 0 && res.freed_ino != 0 && (op.flags & META_F_KEEP_ORPHAN)) {
		it_unlinked(v->it, res.freed_ino);
	}
	return rc;
}

int vfs_unlink(struct vfs *v, uint64_t parent, const char *name)
{
	return remove_name(v, parent, name, MOP_UNLINK);
}

int vfs_rmdir(struct vfs *v, uint64_t parent, const char *name)
{
	return remove_name(v, parent, name, MOP_RMDIR);
}

int vfs_rename(struct vfs *v, uint64_t parent, const char *name, uint64_t newparent,
	       const char *newname, unsigned flags)
{
	struct meta_result res;
	struct meta_op op;
	int rc = vfs_check_name(name);

	if (rc == 0) {
		rc = vfs_check_name(newname);
	}
	if (rc == 0 && (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0) {
		rc = -EINVAL; /* RENAME_WHITEOUT: overlayfs only */
	}
	if (rc == 0 && (flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) {
		rc = -EINVAL;
	}
	if (rc != 0) {
		return rc;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_RENAME;
	op.flags = it_open_in(v->it, newparent) ? META_F_KEEP_ORPHAN : 0;
	if (flags & RENAME_NOREPLACE) {
		op.flags |= META_F_NOREPLACE;
	}
	if (flags & RENAME_EXCHANGE) {
		op.flags |= META_F_EXCHANGE;
	}
	op.parent = parent;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.newparent = newparent;
	snprintf(op.newname, sizeof(op.newname), "%s", newname);
	nc_drop(v->nc, newparent, newname);
	nc_drop(v->nc, parent, name); /* RENAME_EXCHANGE puts a file there */
	rc = vfs_op(v, &op, &res);
	dn_drop(v->dn, parent);
	dn_drop(v->dn, newparent);
	/* Both parents, a moved directory's "..", a replaced victim: rare
	 * enough to forget every cached directory. */
	it_attr_drop(v->it, 0);
	if (rc == 0 && res.freed_ino != 0 && (op.flags & META_F_KEEP_ORPHAN)) {
		it_unlinked(v->it, res.freed_ino);
	}
	return rc;
}

int vfs_access(struct vfs *v, uint64_t ino)
{
	struct meta_attr a;
	int64_t left;

	if (it_attr_cached(v->it, ino, &a, &left)) {
		return 0;
	}
	store_count(&v->st.queries);
	return mc_getattr(v->st.mc, ino, &a);
}

int vfs_statfs(struct vfs *v, uint64_t ino, struct vfs_statfs *out)
{
	struct mc_statfs ms;
	struct meta_quota q;
	int more, rc;

	store_count(&v->st.queries);
	rc = mc_statfs(v->st.mc, &ms);
	if (rc != 0) {
		return rc;
	}
	store_set_codec(&v->st, ms.codec);
	out->files = ms.files;
	rc = mc_capacity(v->cl, &out->total, &out->avail);
	if (rc != 0) {
		/* df keeps working on a degraded cluster; space unknown. */
		log_debug("fuse.statfs", "capacity: %s", obj_strerror(rc));
		out->total = out->avail = 0;
	}
	out->max_files = 0;
	store_count(&v->st.queries);
	rc = mc_quota(v->st.mc, QUOTA_NEAREST, ino, &q, 1, &more);
	if (rc == 1 && q.max_bytes > 0) {
		out->total = q.max_bytes;
		out->avail = q.used_bytes < q.max_bytes ? q.max_bytes - q.used_bytes : 0;
	}
	if (rc == 1 && q.max_inodes > 0) {
		out->files = q.used_inodes;
		out->max_files = q.max_inodes;
	}
	if (rc < 0 && rc != -ENODATA) {
		log_debug("fuse.statfs", "quota: %s", obj_strerror(rc));
	}
	return 0;
}

/* ---- xattrs ------------------------------------------------------------ */

int vfs_setxattr(struct vfs *v, uint64_t ino, const char *name, const void *value, size_t size,
		 int flags)
{
	struct meta_result res;
	struct meta_op op;
	struct inode *n;

	if (strcmp(name, VFS_WARMUP_XATTR) == 0) {
		return -EPERM; /* answered by the mount, never stored */
	}
	if (strncmp(name, "system.", 7) == 0 && strcmp(name, "system.posix_acl_access") != 0 &&
	    strcmp(name, "system.posix_acl_default") != 0) {
		/* POSIX ACLs only: the shard keeps them with the mode (an
		 * access ACL sets it), so cp -a and tar see them applied. */
		return -EOPNOTSUPP;
	}
	if (strlen(name) > META_XATTR_NAME_MAX) {
		return -ERANGE;
	}
	if (size > META_XATTR_VALUE_MAX) {
		return -E2BIG;
	}
	if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) != 0) {
		return -EINVAL;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_SETXATTR;
	op.ino = ino;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.data = value;
	op.data_len = size;
	if (flags & XATTR_CREATE) {
		op.flags |= META_F_XATTR_CREATE;
	}
	if (flags & XATTR_REPLACE) {
		op.flags |= META_F_XATTR_REPLACE;
	}
	if (strcmp(name, CAP_XATTR) == 0 && (n = it_get(v->it, ino)) != NULL) {
		it_set_nocap(v->it, n, 0);
		it_put(v->it, n);
	}
	it_attr_drop(v->it, ino); /* ctime */
	return vfs_op(v, &op, &res);
}

int vfs_getxattr(struct vfs *v, uint64_t ino, const char *name, uint8_t **val, size_t *len)
{
	int cap = strcmp(name, CAP_XATTR) == 0;
	struct inode *n = NULL;
	int rc;

	*val = NULL;
	*len = 0;
	if (strlen(name) > META_XATTR_NAME_MAX) {
		return -ERANGE;
	}
	if (cap) {
		/* Negative cache, within the attribute timeout: another
		 * client's setcap shows up as late as its chmod would. */
		n = it_get(v->it, ino);
		if (n != NULL && it_nocap(v->it, n)) {
			it_put(v->it, n);
			return -ENODATA;
		}
	}
	store_count(&v->st.queries);
	rc = mc_getxattr(v->st.mc, ino, name, val, len);
	if (n != NULL) {
		if (rc == -ENODATA) {
			it_set_nocap(v->it, n, vfs_ttl_ns(v->conf.attr_timeout));
		}
		it_put(v->it, n);
	}
	return rc < 0 ? rc : 0;
}

int vfs_listxattr(struct vfs *v, uint64_t ino, char **names, size_t *len)
{
	int rc;

	store_count(&v->st.queries);
	rc = mc_listxattr(v->st.mc, ino, names, len);
	return rc < 0 ? rc : 0;
}

int vfs_removexattr(struct vfs *v, uint64_t ino, const char *name)
{
	struct meta_result res;
	struct meta_op op;

	if (strlen(name) > META_XATTR_NAME_MAX) {
		return -ERANGE;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_REMOVEXATTR;
	op.ino = ino;
	snprintf(op.name, sizeof(op.name), "%s", name);
	it_attr_drop(v->it, ino); /* ctime */
	return vfs_op(v, &op, &res);
}
