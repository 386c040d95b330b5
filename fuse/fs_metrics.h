/* fs_metrics.h: the mount's per-operation metrics.  When metrics are on,
 * the session runs a copy of the operations table whose every entry
 * times the real handler (handlers reply before they return, so that is
 * the operation's latency) and notes which operation the thread serves,
 * so fs_reply_err can count its errors.  One place: no handler is
 * touched.  Run by libfuse's worker threads. */
#ifndef OBJFS_FS_METRICS_H
#define OBJFS_FS_METRICS_H

#include "fs.h"

struct mx_registry;

/* The table for fuse_session_new: objfs_ll_ops itself when r is NULL,
 * else the timed copy, its series made in r (objfs_mount_fuse_*).  Once,
 * before the session starts. */
const struct fuse_lowlevel_ops *fs_metrics_ops(struct mx_registry *r);
/* Counts an error reply (negative errno) of the operation this thread
 * is serving; nothing when metrics are off. */
void fs_metrics_error(int rc);

#endif
