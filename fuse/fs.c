/* fs.c: the operations table, mount-wide start and stop, and the handlers
 * of names, attributes, links, xattrs and statfs.  Handlers decode, call
 * the metadata client or the modules below, and reply exactly once; no
 * caching or retry policy lives here.  Run by libfuse's worker threads.
 *
 * Lookup counts: every entry reply (lookup, mknod, mkdir, symlink, link,
 * create, readdirplus) counts one kernel reference in the inode table
 * before the reply is sent, and is undone if the reply fails; forget
 * drops them, and the last one of an unlinked inode sends MOP_FORGET so
 * the shard deletes the orphan.  Unlink and rename over a file always
 * keep the orphan (META_F_KEEP_ORPHAN): an open file stays readable until
 * its last close. */
#include "fs_i.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

#include "../common/err.h"
#include "../common/log.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* Free inodes reported by statfs: the shard allocates from a 64-bit
 * counter, so the only limit is space; df wants a finite number. */
#define FS_FFREE ((uint64_t)1 << 40)
#define CAP_XATTR "security.capability"

/* ---- helpers shared by the handler files -------------------------------- */

void fs_reply_err(fuse_req_t req, int rc)
{
	fuse_reply_err(req, rc == 0 ? 0 : obj_errno(rc));
}

int fs_check_name(const char *name)
{
	return strlen(name) > META_NAME_MAX ? -ENAMETOOLONG : 0;
}

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
	int64_t s = ns / 1000000000, r = ns % 1000000000;

	if (r < 0) {
		r += 1000000000;
		s--;
	}
	ts->tv_sec = (time_t)s;
	ts->tv_nsec = (long)r;
}

void fs_stat(const struct objfs *fs, const struct meta_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)(a->size > INT64_MAX ? INT64_MAX : a->size);
	st->st_blocks = (blkcnt_t)a->blocks;
	/* Whole chunks are what the cluster moves: tell applications. */
	st->st_blksize = fs->chunk_size;
	ns_to_ts(a->atime_ns, &st->st_atim);
	ns_to_ts(a->mtime_ns, &st->st_mtim);
	ns_to_ts(a->ctime_ns, &st->st_ctim);
}

void fs_entry(struct objfs *fs, struct meta_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	it_overlay(fs->it, a);
	e->ino = a->ino;
	/* Inode numbers come from a per-bucket counter and are never
	 * reused, so generation 0 keeps (ino, generation) unique. */
	e->generation = 0;
	e->attr_timeout = fs->o.attr_timeout;
	e->entry_timeout = fs->o.entry_timeout;
	fs_stat(fs, a, &e->attr);
}

int fs_reply_entry(fuse_req_t req, struct objfs *fs, struct meta_attr *a, uint64_t parent,
		   const struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	int rc;

	fs_entry(fs, a, &e);
	rc = it_lookup(fs->it, a->ino, parent);
	if (rc != 0) {
		fs_reply_err(req, rc);
		return rc;
	}
	rc = fi != NULL ? fuse_reply_create(req, &e, fi) : fuse_reply_entry(req, &e);
	if (rc != 0) {
		/* The kernel never saw it (interrupted): no reference. */
		it_forget(fs->it, a->ino, 1);
	}
	return rc;
}

static void reply_attr(fuse_req_t req, struct objfs *fs, struct meta_attr *a)
{
	struct stat st;

	it_overlay(fs->it, a);
	fs_stat(fs, a, &st);
	fuse_reply_attr(req, &st, fs->o.attr_timeout);
}

/* ---- start / stop ------------------------------------------------------ */

static void orphan_cb(void *arg, uint64_t ino)
{
	struct objfs *fs = arg;
	struct meta_result res;
	struct meta_op op;
	int rc;

	memset(&op, 0, sizeof(op));
	op.type = MOP_FORGET;
	op.ino = ino;
	rc = mc_op(fs->mc, &op, &res);
	if (rc != 0) {
		/* The shard keeps the orphan: space, not data, is lost. */
		log_warn("fuse.forget", "ino %" PRIu64 ": MOP_FORGET failed: %s", ino,
			 obj_strerror(rc));
	}
}

static void gone_cb(void *arg, uint64_t ino)
{
	struct objfs *fs = arg;

	rc_forget(fs->rc, ino);
}

static const struct it_ops fs_it_ops = {
    .orphan = orphan_cb,
    .gone = gone_cb,
};

int objfs_start(struct objfs *fs)
{
	struct rc_conf rcc = {
	    .chunk_size = fs->chunk_size,
	    .cache_bytes = fs->o.cache_bytes,
	    .readahead = fs->o.readahead,
	    .prefetchers = fs->o.readahead > 0 ? fs->o.prefetchers : 0,
	};
	struct fb_conf fbc = {
	    .chunk_size = fs->chunk_size,
	    .inline_max = fs->inline_max,
	    .max_dirty = fs->o.max_dirty,
	    .uploaders = fs->o.uploaders,
	};
	int rc;

	fs->st.blk = fs->blk;
	fs->st.mc = fs->mc;
	fs->st.dc = fs->dc;
	fs->st.chunk_size = fs->chunk_size;
	if ((rc = rc_open(&rcc, &store_rc_ops, &fs->st, &fs->rc)) != 0) {
		return rc;
	}
	fs->st.rc = fs->rc;
	if ((rc = fb_ctx_open(&fbc, &store_fb_ops, &fs->st, &fs->fbc)) != 0 ||
	    (rc = it_open(&fs_it_ops, fs, &fs->it)) != 0) {
		objfs_stop(fs);
		return rc;
	}
	return 0;
}

int objfs_stop(struct objfs *fs)
{
	int rc = 0;

	if (fs->it != NULL) {
		rc = it_flush_all(fs->it);
		it_close(fs->it);
		fs->it = NULL;
	}
	fb_ctx_close(fs->fbc);
	fs->fbc = NULL;
	rc_close(fs->rc);
	fs->rc = NULL;
	return rc;
}

/* ---- handlers ---------------------------------------------------------- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct objfs *fs = userdata;

	/* Close-to-open needs every write to reach us before close returns
	 * and the size we report to be the truth: no kernel write-back. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* The kernel clears set-user/group-ID bits itself (by a setattr of
	 * the mode) when a file is written, truncated or chowned; libfuse
	 * would otherwise hand that duty to us. */
	conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
	/* A symlink's target never changes (a new link is a new inode). */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS) {
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	}
	if (conn->capable & FUSE_CAP_ASYNC_READ) {
		conn->want |= FUSE_CAP_ASYNC_READ;
	}
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) {
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	}
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) {
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	}
	/* Fewer, larger writes: libfuse caps this to its buffer size. */
	conn->max_write = 1024 * 1024;
	conn->time_gran = 1;
	log_info("fuse.init", "bucket %s: chunk %u bytes, inline up to %u, kernel proto %u.%u",
		 mc_bucket(fs->mc), fs->chunk_size, fs->inline_max, conn->proto_major,
		 conn->proto_minor);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct objfs *fs = fs_of(req);
	struct meta_attr a;
	int rc = fs_check_name(name);

	if (rc == 0) {
		rc = mc_lookup(fs->mc, parent, name, &a);
	}
	if (rc == -ENOENT && fs->o.negative_timeout > 0) {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->o.negative_timeout;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	fs_reply_entry(req, fs, &a, parent, NULL);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	it_forget(fs_of(req)->it, ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct objfs *fs = fs_of(req);

	for (size_t i = 0; i < count; i++) {
		it_forget(fs->it, forgets[i].ino, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct objfs *fs = fs_of(req);
	struct meta_attr a;
	int rc = mc_getattr(fs->mc, ino, &a);

	(void)fi;
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	reply_attr(req, fs, &a);
}

int fs_setattr_op(struct objfs *fs, struct inode *n, struct meta_op *op, struct meta_attr *out)
{
	struct fbuf *fb = it_fb(fs->it, n);
	struct meta_result res;
	int rc;

	if (fb != NULL && fb_dirty(fb) &&
	    (op->valid & (META_SET_SIZE | META_SET_MTIME | META_SET_MTIME_NOW | META_SET_ATIME |
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
			it_committed(fs->it, n, a.gen);
		}
	}
	rc = mc_op(fs->mc, op, &res);
	if (rc != 0) {
		return rc;
	}
	*out = res.attr;
	if (op->valid & META_SET_SIZE) {
		if (fb != NULL) {
			fb_truncated(fb, op->size, res.attr.gen);
		}
		rc_invalidate(fs->rc, n->ino);
		it_committed(fs->it, n, res.attr.gen);
	}
	return 0;
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct objfs *fs = fs_of(req);
	struct meta_attr a;
	struct meta_op op;
	struct inode *n;
	int rc;

	(void)fi;
	memset(&op, 0, sizeof(op));
	op.type = MOP_SETATTR;
	op.ino = ino;
	if (to_set & FUSE_SET_ATTR_MODE) {
		op.valid |= META_SET_MODE;
		op.mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		op.valid |= META_SET_UID;
		op.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		op.valid |= META_SET_GID;
		op.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		op.valid |= META_SET_SIZE;
		op.size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		op.valid |= META_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		op.valid |= META_SET_ATIME;
		op.atime_ns = (int64_t)attr->st_atim.tv_sec * 1000000000 + attr->st_atim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		op.valid |= META_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		op.valid |= META_SET_MTIME;
		op.mtime_ns = (int64_t)attr->st_mtim.tv_sec * 1000000000 + attr->st_mtim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_CTIME) {
		/* The shard sets ctime to its own now on every SETATTR. */
		op.valid |= META_SET_CTIME;
	}
	n = it_get(fs->it, ino);
	if (n == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc = fs_setattr_op(fs, n, &op, &a);
	it_put(fs->it, n);
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	reply_attr(req, fs, &a);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[META_SYMLINK_MAX + 1];
	int rc = mc_readlink(fs_of(req)->mc, ino, buf, sizeof(buf));

	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	buf[sizeof(buf) - 1] = '\0';
	fuse_reply_readlink(req, buf);
}

/* MOP_CREATE of any type; replies with the entry. */
static void create_node(fuse_req_t req, fuse_ino_t parent, const char *name, uint32_t mode,
			uint64_t rdev, const char *target)
{
	struct objfs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct meta_result res;
	struct meta_op op;
	int rc = fs_check_name(name);

	if (rc == 0 && target != NULL && strlen(target) > META_SYMLINK_MAX) {
		rc = -ENAMETOOLONG;
	}
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_CREATE;
	op.flags = META_F_EXCL;
	op.parent = parent;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.mode = mode;
	op.uid = ctx->uid;
	op.gid = ctx->gid;
	op.rdev = rdev;
	if (target != NULL) {
		op.data = (const uint8_t *)target;
		op.data_len = strlen(target);
	}
	rc = mc_op(fs->mc, &op, &res);
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	fs_reply_entry(req, fs, &res.attr, parent, NULL);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		create_node(req, parent, name, mode, rdev, NULL);
		break;
	case 0:
		create_node(req, parent, name, mode | S_IFREG, 0, NULL);
		break;
	default:
		fuse_reply_err(req, EINVAL);
	}
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	create_node(req, parent, name, (mode & 07777) | S_IFDIR, 0, NULL);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	create_node(req, parent, name, S_IFLNK | 0777, 0, link);
}

/* UNLINK and RMDIR. */
static void remove_name(fuse_req_t req, fuse_ino_t parent, const char *name, uint8_t type)
{
	struct objfs *fs = fs_of(req);
	struct meta_result res;
	struct meta_op op;
	int rc = fs_check_name(name);

	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	memset(&op, 0, sizeof(op));
	op.type = type;
	/* Keep the inode as an orphan only when a file of this directory is
	 * open here: else nothing can reach it any more, and deleting it now
	 * spares one MOP_FORGET per file when the kernel forgets it (rm -rf
	 * of a large tree would otherwise pay them all at unmount). */
	op.flags = type == MOP_UNLINK && it_open_in(fs->it, parent) ? META_F_KEEP_ORPHAN : 0;
	op.parent = parent;
	snprintf(op.name, sizeof(op.name), "%s", name);
	rc = mc_op(fs->mc, &op, &res);
	if (rc == 0 && type == MOP_UNLINK && res.freed_ino != 0 && (op.flags & META_F_KEEP_ORPHAN)) {
		it_unlinked(fs->it, res.freed_ino);
	}
	fs_reply_err(req, rc);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, MOP_UNLINK);
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	remove_name(req, parent, name, MOP_RMDIR);
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct objfs *fs = fs_of(req);
	struct meta_result res;
	struct meta_op op;
	int rc = fs_check_name(name);

	if (rc == 0) {
		rc = fs_check_name(newname);
	}
	if (rc == 0 && (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0) {
		rc = -EINVAL; /* RENAME_WHITEOUT: overlayfs only */
	}
	if (rc == 0 && (flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) {
		rc = -EINVAL;
	}
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_RENAME;
	op.flags = it_open_in(fs->it, newparent) ? META_F_KEEP_ORPHAN : 0;
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
	rc = mc_op(fs->mc, &op, &res);
	if (rc == 0 && res.freed_ino != 0 && (op.flags & META_F_KEEP_ORPHAN)) {
		it_unlinked(fs->it, res.freed_ino);
	}
	fs_reply_err(req, rc);
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct objfs *fs = fs_of(req);
	struct meta_result res;
	struct meta_op op;
	int rc = fs_check_name(newname);

	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_LINK;
	op.ino = ino;
	op.newparent = newparent;
	snprintf(op.newname, sizeof(op.newname), "%s", newname);
	rc = mc_op(fs->mc, &op, &res);
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	fs_reply_entry(req, fs, &res.attr, newparent, NULL);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct objfs *fs = fs_of(req);
	struct mc_statfs ms;
	struct statvfs sv;
	uint64_t total = 0, avail = 0;
	int rc = mc_statfs(fs->mc, &ms);

	(void)ino;
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	rc = mc_capacity(fs->cl, &total, &avail);
	if (rc != 0) {
		/* df keeps working on a degraded cluster; space unknown. */
		log_debug("fuse.statfs", "capacity: %s", obj_strerror(rc));
		total = avail = 0;
	}
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = total / 4096;
	sv.f_bfree = avail / 4096;
	sv.f_bavail = avail / 4096;
	sv.f_files = ms.files + FS_FFREE;
	sv.f_ffree = FS_FFREE;
	sv.f_favail = FS_FFREE;
	sv.f_namemax = META_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct objfs *fs = fs_of(req);
	struct meta_result res;
	struct meta_op op;
	struct inode *n;
	int rc = 0;

	if (strncmp(name, "system.", 7) == 0) {
		/* No POSIX ACLs: the mode bits are the permissions.  Accepting
		 * system.posix_acl_access as a plain xattr would make cp -a and
		 * tar believe the mode was set through it, and skip chmod. */
		rc = -EOPNOTSUPP;
	} else if (strlen(name) > META_XATTR_NAME_MAX) {
		rc = -ERANGE;
	} else if (size > META_XATTR_VALUE_MAX) {
		rc = -E2BIG;
	} else if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) != 0) {
		rc = -EINVAL;
	}
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_SETXATTR;
	op.ino = ino;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.data = (const uint8_t *)value;
	op.data_len = size;
	if (flags & XATTR_CREATE) {
		op.flags |= META_F_XATTR_CREATE;
	}
	if (flags & XATTR_REPLACE) {
		op.flags |= META_F_XATTR_REPLACE;
	}
	if (strcmp(name, CAP_XATTR) == 0 && (n = it_get(fs->it, ino)) != NULL) {
		it_set_nocap(fs->it, n, 0);
		it_put(fs->it, n);
	}
	rc = mc_op(fs->mc, &op, &res);
	fs_reply_err(req, rc);
}

/* Replies to a size query, or with the bytes, or ERANGE. */
static void reply_sized(fuse_req_t req, size_t want, const void *data, size_t len)
{
	if (want == 0) {
		fuse_reply_xattr(req, len);
	} else if (want < len) {
		fuse_reply_err(req, ERANGE);
	} else {
		fuse_reply_buf(req, data, len);
	}
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct objfs *fs = fs_of(req);
	int cap = strcmp(name, CAP_XATTR) == 0;
	struct inode *n = NULL;
	uint8_t *val = NULL;
	size_t len = 0;
	int rc;

	if (strlen(name) > META_XATTR_NAME_MAX) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	if (cap) {
		/* The kernel asks for this one before every write. */
		n = it_get(fs->it, ino);
		if (n != NULL && it_nocap(fs->it, n)) {
			it_put(fs->it, n);
			fuse_reply_err(req, ENODATA);
			return;
		}
	}
	rc = mc_getxattr(fs->mc, ino, name, &val, &len);
	if (n != NULL) {
		if (rc == -ENODATA) {
			it_set_nocap(fs->it, n, (int64_t)(fs->o.attr_timeout * 1e9));
		}
		it_put(fs->it, n);
	}
	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	reply_sized(req, size, val, len);
	free(val);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *names = NULL;
	size_t len = 0;
	int rc = mc_listxattr(fs_of(req)->mc, ino, &names, &len);

	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	reply_sized(req, size, names, len);
	free(names);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct objfs *fs = fs_of(req);
	struct meta_result res;
	struct meta_op op;

	if (strlen(name) > META_XATTR_NAME_MAX) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_REMOVEXATTR;
	op.ino = ino;
	snprintf(op.name, sizeof(op.name), "%s", name);
	fs_reply_err(req, mc_op(fs->mc, &op, &res));
}

/* With default_permissions the kernel checks modes itself and only asks
 * this for existence (F_OK) on some paths. */
static void fs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct meta_attr a;

	(void)mask;
	fs_reply_err(req, mc_getattr(fs_of(req)->mc, ino, &a));
}

const struct fuse_lowlevel_ops objfs_ll_ops = {
    .init = fs_init,
    .lookup = fs_lookup,
    .forget = fs_forget,
    .forget_multi = fs_forget_multi,
    .getattr = fs_getattr,
    .setattr = fs_setattr,
    .readlink = fs_readlink,
    .mknod = fs_mknod,
    .mkdir = fs_mkdir,
    .unlink = fs_unlink,
    .rmdir = fs_rmdir,
    .symlink = fs_symlink,
    .rename = fs_rename,
    .link = fs_link,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .flush = fs_flush,
    .release = fs_release,
    .fsync = fs_fsync,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .readdirplus = fs_readdirplus,
    .releasedir = fs_releasedir,
    .fsyncdir = fs_fsyncdir,
    .statfs = fs_statfs,
    .setxattr = fs_setxattr,
    .getxattr = fs_getxattr,
    .listxattr = fs_listxattr,
    .removexattr = fs_removexattr,
    .access = fs_access,
    .create = fs_create,
};
