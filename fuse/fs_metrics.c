/* fs_metrics.c: the timed operations table of the mount (fs_metrics.h).
 * Each wrapper records the start, calls objfs_ll_ops' handler and
 * observes the elapsed time into its operation's histogram; a
 * thread-local index tells fs_reply_err whose error it is replying.
 * An operation added to objfs_ll_ops needs its WRAP and SET here, or it
 * runs untimed (the copy keeps the plain handler). */
#include "fs_metrics.h"

#include <stdio.h>

#include "../common/err.h"
#include "../common/metrics.h"

enum fsop {
	OP_LOOKUP,
	OP_FORGET,
	OP_FORGET_MULTI,
	OP_GETATTR,
	OP_SETATTR,
	OP_READLINK,
	OP_MKNOD,
	OP_MKDIR,
	OP_UNLINK,
	OP_RMDIR,
	OP_SYMLINK,
	OP_RENAME,
	OP_LINK,
	OP_OPEN,
	OP_READ,
	OP_WRITE,
	OP_FLUSH,
	OP_RELEASE,
	OP_FSYNC,
	OP_OPENDIR,
	OP_READDIR,
	OP_READDIRPLUS,
	OP_RELEASEDIR,
	OP_FSYNCDIR,
	OP_STATFS,
	OP_SETXATTR,
	OP_GETXATTR,
	OP_LISTXATTR,
	OP_REMOVEXATTR,
	OP_ACCESS,
	OP_CREATE,
	OP_FALLOCATE,
	OP_LSEEK,
	OP_GETLK,
	OP_SETLK,
	OP_FLOCK,
	OP_N
};

static const char *const op_names[OP_N] = {
    "lookup", "forget",	   "forget_multi", "getattr",	  "setattr",	 "readlink",
    "mknod",  "mkdir",	   "unlink",	   "rmdir",	  "symlink",	 "rename",
    "link",   "open",	   "read",	   "write",	  "flush",	 "release",
    "fsync",  "opendir",   "readdir",	   "readdirplus", "releasedir",	 "fsyncdir",
    "statfs", "setxattr",  "getxattr",	   "listxattr",	  "removexattr", "access",
    "create", "fallocate", "lseek",	   "getlk",	  "setlk",	 "flock",
};

static struct {
	struct mx_metric *duration[OP_N];
	struct mx_errtab errs[OP_N];
} fm;

static _Thread_local int cur_op = -1;

static struct fuse_lowlevel_ops timed;

#define WRAP(op, OPID, PARAMS, ARGS)                                                               \
	static void w_##op PARAMS                                                                  \
	{                                                                                          \
		uint64_t t0 = mx_now_ns();                                                         \
                                                                                                   \
		cur_op = OPID;                                                                     \
		objfs_ll_ops.op ARGS;                                                              \
		mx_observe(fm.duration[OPID], mx_now_ns() - t0);                                   \
		cur_op = -1;                                                                       \
	}

/* clang-format off */
WRAP(lookup, OP_LOOKUP, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
WRAP(forget, OP_FORGET, (fuse_req_t r, fuse_ino_t i, uint64_t n), (r, i, n))
WRAP(forget_multi, OP_FORGET_MULTI, (fuse_req_t r, size_t c, struct fuse_forget_data *f), (r, c, f))
WRAP(getattr, OP_GETATTR, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi), (r, i, fi))
WRAP(setattr, OP_SETATTR, (fuse_req_t r, fuse_ino_t i, struct stat *a, int s, struct fuse_file_info *fi), (r, i, a, s, fi))
WRAP(readlink, OP_READLINK, (fuse_req_t r, fuse_ino_t i), (r, i))
WRAP(mknod, OP_MKNOD, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m, dev_t d), (r, p, n, m, d))
WRAP(mkdir, OP_MKDIR, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m), (r, p, n, m))
WRAP(unlink, OP_UNLINK, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
WRAP(rmdir, OP_RMDIR, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
WRAP(symlink, OP_SYMLINK, (fuse_req_t r, const char *l, fuse_ino_t p, const char *n), (r, l, p, n))
WRAP(rename, OP_RENAME, (fuse_req_t r, fuse_ino_t p, const char *n, fuse_ino_t np, const char *nn, unsigned int f), (r, p, n, np, nn, f))
WRAP(link, OP_LINK, (fuse_req_t r, fuse_ino_t i, fuse_ino_t np, const char *nn), (r, i, np, nn))
WRAP(open, OP_OPEN, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi), (r, i, fi))
WRAP(read, OP_READ, (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi), (r, i, s, o, fi))
WRAP(write, OP_WRITE, (fuse_req_t r, fuse_ino_t i, const char *b, size_t s, off_t o, struct fuse_file_info *fi), (r, i, b, s, o, fi))
WRAP(flush, OP_FLUSH, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi), (r, i, fi))
WRAP(release, OP_RELEASE, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi), (r, i, fi))
WRAP(fsync, OP_FSYNC, (fuse_req_t r, fuse_ino_t i, int d, struct fuse_file_info *fi), (r, i, d, fi))
WRAP(opendir, OP_OPENDIR, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi), (r, i, fi))
WRAP(readdir, OP_READDIR, (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi), (r, i, s, o, fi))
WRAP(readdirplus, OP_READDIRPLUS, (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi), (r, i, s, o, fi))
WRAP(releasedir, OP_RELEASEDIR, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi), (r, i, fi))
WRAP(fsyncdir, OP_FSYNCDIR, (fuse_req_t r, fuse_ino_t i, int d, struct fuse_file_info *fi), (r, i, d, fi))
WRAP(statfs, OP_STATFS, (fuse_req_t r, fuse_ino_t i), (r, i))
WRAP(setxattr, OP_SETXATTR, (fuse_req_t r, fuse_ino_t i, const char *n, const char *v, size_t s, int f), (r, i, n, v, s, f))
WRAP(getxattr, OP_GETXATTR, (fuse_req_t r, fuse_ino_t i, const char *n, size_t s), (r, i, n, s))
WRAP(listxattr, OP_LISTXATTR, (fuse_req_t r, fuse_ino_t i, size_t s), (r, i, s))
WRAP(removexattr, OP_REMOVEXATTR, (fuse_req_t r, fuse_ino_t i, const char *n), (r, i, n))
WRAP(access, OP_ACCESS, (fuse_req_t r, fuse_ino_t i, int m), (r, i, m))
WRAP(create, OP_CREATE, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m, struct fuse_file_info *fi), (r, p, n, m, fi))
WRAP(fallocate, OP_FALLOCATE, (fuse_req_t r, fuse_ino_t i, int m, off_t o, off_t l, struct fuse_file_info *fi), (r, i, m, o, l, fi))
WRAP(lseek, OP_LSEEK, (fuse_req_t r, fuse_ino_t i, off_t o, int w, struct fuse_file_info *fi), (r, i, o, w, fi))
WRAP(getlk, OP_GETLK, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi, struct flock *l), (r, i, fi, l))
WRAP(setlk, OP_SETLK, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi, struct flock *l, int s), (r, i, fi, l, s))
WRAP(flock, OP_FLOCK, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi, int o), (r, i, fi, o))
/* clang-format on */

/* Only the operations objfs implements are wrapped: a NULL entry stays
 * NULL, so libfuse keeps answering ENOSYS itself. */
#define SET(op)                                                                                    \
	if (objfs_ll_ops.op != NULL) {                                                             \
		timed.op = w_##op;                                                                 \
	}

const struct fuse_lowlevel_ops *fs_metrics_ops(struct mx_registry *r)
{
	char labels[64];

	if (r == NULL) {
		return &objfs_ll_ops;
	}
	for (int i = 0; i < OP_N; i++) {
		snprintf(labels, sizeof(labels), "op=\"%s\"", op_names[i]);
		fm.duration[i] = mx_histogram(
		    r, "objfs_mount_fuse_duration_seconds",
		    "Time to serve a FUSE request, from the handler's start to its reply, by "
		    "operation.",
		    labels, &mx_buckets_latency);
		fm.errs[i].r = r;
		fm.errs[i].name = "objfs_mount_fuse_errors_total";
		fm.errs[i].help = "FUSE requests answered with an error, by operation and errno.";
		snprintf(fm.errs[i].op, sizeof(fm.errs[i].op), "%s", labels);
	}
	timed = objfs_ll_ops;
	SET(lookup);
	SET(forget);
	SET(forget_multi);
	SET(getattr);
	SET(setattr);
	SET(readlink);
	SET(mknod);
	SET(mkdir);
	SET(unlink);
	SET(rmdir);
	SET(symlink);
	SET(rename);
	SET(link);
	SET(open);
	SET(read);
	SET(write);
	SET(flush);
	SET(release);
	SET(fsync);
	SET(opendir);
	SET(readdir);
	SET(readdirplus);
	SET(releasedir);
	SET(fsyncdir);
	SET(statfs);
	SET(setxattr);
	SET(getxattr);
	SET(listxattr);
	SET(removexattr);
	SET(access);
	SET(create);
	SET(fallocate);
	SET(lseek);
	SET(getlk);
	SET(setlk);
	SET(flock);
	return &timed;
}

void fs_metrics_error(int rc)
{
	int op = cur_op;

	if (op >= 0 && rc != 0) {
		mx_count_error(&fm.errs[op], obj_errno(rc));
	}
}
