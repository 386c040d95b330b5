/* fs.c: the operations table and the handlers of names, attributes,
 * links, xattrs and statfs.  Each handler decodes, calls the vfs and
 * replies exactly once; no cache or policy lives here.  Run by libfuse's
 * worker threads.
 *
 * Lookup counts: the vfs counts one kernel reference for every entry it
 * returns; a handler whose entry reply fails (the request was
 * interrupted) gives it back with vfs_forget, since the kernel never saw
 * it.  forget drops them; the last one of an unlinked inode makes the vfs
 * send MOP_FORGET so the shard deletes the orphan. */
#include "fs_i.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "../common/err.h"
#include "../common/log.h"
#include "fs_metrics.h"

/* Free inodes reported by statfs: the shard allocates from a 64-bit
 * counter, so the only limit is space; df wants a finite number. */
#define FS_FFREE ((uint64_t)1 << 40)

/* ---- helpers shared by the handler files -------------------------------- */

void fs_reply_err(fuse_req_t req, int rc)
{
	fs_metrics_error(rc);
	fuse_reply_err(req, rc == 0 ? 0 : obj_errno(rc));
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

void fs_stat(struct vfs *v, const struct meta_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)(a->size > INT64_MAX ? INT64_MAX : a->size);
	if (S_ISREG(a->mode)) {
		vfs_told_size(v, a->ino, a->size); /* what the kernel's i_size becomes */
	}
	st->st_blocks = (blkcnt_t)a->blocks;
	/* Whole chunks are what the cluster moves: tell applications. */
	st->st_blksize = vfs_conf(v)->chunk_size;
	ns_to_ts(a->atime_ns, &st->st_atim);
	ns_to_ts(a->mtime_ns, &st->st_mtim);
	ns_to_ts(a->ctime_ns, &st->st_ctim);
}

void fs_entry_param(struct vfs *v, const struct vfs_entry *ve, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ve->ino;
	/* Inode numbers come from a per-bucket counter and are never
	 * reused, so generation 0 keeps (ino, generation) unique. */
	e->generation = 0;
	e->attr_timeout = ve->attr_timeout;
	e->entry_timeout = ve->entry_timeout;
	if (ve->attr.ino != 0) {
		fs_stat(v, &ve->attr, &e->attr);
	}
}

/* Replies with an entry the vfs counted (or an error). */
static void reply_entry(fuse_req_t req, int rc, const struct vfs_entry *ve)
{
	struct vfs *v = vfs_of(req);
	struct fuse_entry_param e;

	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	fs_entry_param(v, ve, &e);
	if (fuse_reply_entry(req, &e) != 0 && e.ino != 0) {
		vfs_forget(v, e.ino, 1);
	}
}

static void reply_attr(fuse_req_t req, int rc, const struct meta_attr *a, double timeout)
{
	struct stat st;

	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	fs_stat(vfs_of(req), a, &st);
	fuse_reply_attr(req, &st, timeout);
}

/* ---- handlers ---------------------------------------------------------- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct objfs *fs = userdata;
	const struct vfs_conf *c = vfs_conf(fs->v);
	const char *wb = "off";

	/* Close-to-open needs every write to reach us before close returns
	 * and the size we report to be the truth: no kernel write-back,
	 * unless asked for.  With it the kernel gathers small writes in its
	 * page cache and sends them at close or fsync (both still wait for
	 * them), but it keeps its own size of a regular file and ignores
	 * ours, so a file another mount changed keeps its old size here
	 * until the kernel forgets the inode (objfs(1), writeback_cache). */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	if (fs->writeback) {
		wb = "off (not offered by the kernel)";
		if (conn->capable & FUSE_CAP_WRITEBACK_CACHE) {
			conn->want |= FUSE_CAP_WRITEBACK_CACHE;
			wb = "on";
		}
	}
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
	/* Every listing fills the kernel's name and attribute caches: the
	 * shard sends the attributes with the names anyway, so plain
	 * readdir would save nothing (AUTO lets the kernel fall back to it
	 * after the first page). */
	/* Stable file handles (name_to_handle_at, NFS re-export): node ids
	 * are inode numbers, never reused; the kernel decodes a handle by
	 * looking up "." (and ".." for a parent) in it. */
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT) {
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	}
	if (conn->capable & FUSE_CAP_READDIRPLUS) {
		conn->want |= FUSE_CAP_READDIRPLUS;
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	}
	/* POSIX ACLs, enforced by the kernel from system.posix_acl_* (the
	 * shard keeps them with the mode, as ext4 does); the kernel then
	 * leaves the umask to us, since a default ACL replaces it. */
	if ((conn->capable & FUSE_CAP_POSIX_ACL) && (conn->capable & FUSE_CAP_DONT_MASK)) {
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
		fs->acl = 1;
	}
	/* Fewer, larger writes: libfuse caps this to its buffer size. */
	conn->max_write = 1024 * 1024;
	conn->time_gran = 1;
	log_info("fuse.init",
		 "bucket %s: chunk %u bytes, inline up to %u, kernel proto %u.%u, POSIX ACLs %s, "
		 "write-back cache %s",
		 fs->bucket, c->chunk_size, c->inline_max, conn->proto_major, conn->proto_minor,
		 fs->acl ? "on" : "off (not offered by the kernel)", wb);
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vfs_entry e;

	reply_entry(req, vfs_lookup(vfs_of(req), parent, name, &e), &e);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	vfs_forget(vfs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct vfs *v = vfs_of(req);

	for (size_t i = 0; i < count; i++) {
		vfs_forget(v, forgets[i].ino, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct meta_attr a;
	double timeout = 0;
	int rc = vfs_getattr(vfs_of(req), ino, &a, &timeout);

	(void)fi;
	/* An inode another mount removed, behind a name still cached here:
	 * ESTALE makes the kernel look the name up again (a stat then says
	 * ENOENT, an open(O_CREAT) creates), as it does for NFS. */
	if (rc == -ENOENT) {
		rc = -ESTALE;
	}
	reply_attr(req, rc, &a, timeout);
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static void fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct vfs_setattr s = {0};
	struct meta_attr a;
	double timeout = 0;
	int rc;

	(void)fi;
	if (to_set & FUSE_SET_ATTR_MODE) {
		s.valid |= META_SET_MODE;
		s.mode = attr->st_mode & 07777;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		s.valid |= META_SET_UID;
		s.uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		s.valid |= META_SET_GID;
		s.gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (attr->st_size < 0) {
			fuse_reply_err(req, EINVAL);
			return;
		}
		s.valid |= META_SET_SIZE;
		s.size = (uint64_t)attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		s.valid |= META_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		s.valid |= META_SET_ATIME;
		s.atime_ns = ts_ns(&attr->st_atim);
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		s.valid |= META_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		s.valid |= META_SET_MTIME;
		s.mtime_ns = ts_ns(&attr->st_mtim);
	}
	if (to_set & FUSE_SET_ATTR_CTIME) {
		/* The shard sets ctime to its own now on every SETATTR. */
		s.valid |= META_SET_CTIME;
	}
	rc = vfs_setattr(vfs_of(req), ino, &s, &a, &timeout);
	reply_attr(req, rc, &a, timeout);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[META_SYMLINK_MAX + 1];
	int rc = vfs_readlink(vfs_of(req), ino, buf, sizeof(buf));

	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	fuse_reply_readlink(req, buf);
}

static void fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct vfs_entry e;
	int rc;

	if ((mode & S_IFMT) == S_IFDIR) {
		rc = -EINVAL; /* directories come through mkdir */
	} else {
		rc = vfs_mknod(vfs_of(req), parent, name, fs_new_mode(req, mode), rdev, ctx->uid,
			       ctx->gid, &e);
	}
	reply_entry(req, rc, &e);
}

static void fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct vfs_entry e;
	int rc = vfs_mknod(vfs_of(req), parent, name, fs_new_mode(req, (mode & 07777) | S_IFDIR), 0,
			   ctx->uid, ctx->gid, &e);

	reply_entry(req, rc, &e);
}

static void fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct vfs_entry e;
	int rc = vfs_symlink(vfs_of(req), parent, name, link, ctx->uid, ctx->gid, &e);

	reply_entry(req, rc, &e);
}

static void fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_reply_err(req, vfs_unlink(vfs_of(req), parent, name));
}

static void fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fs_reply_err(req, vfs_rmdir(vfs_of(req), parent, name));
}

static void fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	fs_reply_err(req, vfs_rename(vfs_of(req), parent, name, newparent, newname, flags));
}

static void fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct vfs_entry e;

	reply_entry(req, vfs_link(vfs_of(req), ino, newparent, newname, &e), &e);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct vfs_statfs vs;
	struct statvfs sv;
	int rc = vfs_statfs(vfs_of(req), ino, &vs);

	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = vs.total / 4096;
	sv.f_bfree = vs.avail / 4096;
	sv.f_bavail = vs.avail / 4096;
	if (vs.max_files > 0) {
		sv.f_files = vs.max_files;
		sv.f_ffree = vs.files < vs.max_files ? vs.max_files - vs.files : 0;
	} else {
		sv.f_files = vs.files + FS_FFREE;
		sv.f_ffree = FS_FFREE;
	}
	sv.f_favail = sv.f_ffree;
	sv.f_namemax = META_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static void fs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	fs_reply_err(req, vfs_setxattr(vfs_of(req), ino, name, value, size, flags));
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

/* The warm-up attribute's value: two counts, fixed width, so a size
 * probe (size 0) is answered without doing the work. */
#define WARM_VALUE_LEN 41

static void fs_warmup(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct vfs_warm w;
	char val[WARM_VALUE_LEN + 1];
	int rc;

	if (size == 0) {
		fuse_reply_xattr(req, WARM_VALUE_LEN);
		return;
	}
	if (size < WARM_VALUE_LEN) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	rc = vfs_warmup(vfs_of(req), ino, &w);
	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	snprintf(val, sizeof(val), "%20" PRIu64 " %20" PRIu64, w.fetched, w.cached);
	fuse_reply_buf(req, val, WARM_VALUE_LEN);
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	uint8_t *val = NULL;
	size_t len = 0;
	int rc;

	if (strcmp(name, VFS_WARMUP_XATTR) == 0) {
		fs_warmup(req, ino, size);
		return;
	}
	rc = vfs_getxattr(vfs_of(req), ino, name, &val, &len);

	if (rc != 0) {
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
	int rc = vfs_listxattr(vfs_of(req), ino, &names, &len);

	if (rc != 0) {
		fs_reply_err(req, rc);
		return;
	}
	reply_sized(req, size, names, len);
	free(names);
}

static void fs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fs_reply_err(req, vfs_removexattr(vfs_of(req), ino, name));
}

/* With default_permissions the kernel checks modes itself and only asks
 * this for existence (F_OK) on some paths. */
static void fs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	(void)mask;
	fs_reply_err(req, vfs_access(vfs_of(req), ino));
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
    .getlk = fs_getlk,
    .setlk = fs_setlk,
    .flock = fs_flock,
    .lseek = fs_lseek,
    .fallocate = fs_fallocate,
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
