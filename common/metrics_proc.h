/* metrics_proc.h: the process metrics every objfs program exposes,
 * read from /proc at scrape time: the standard process_* names that
 * Prometheus' own clients use, objfs_process_* for what they lack, and
 * objfs_build_info.  Linux only; never writes anything. */
#ifndef OBJFS_METRICS_PROC_H
#define OBJFS_METRICS_PROC_H

#include "metrics.h"

/* Adds the collector to r; program and version label objfs_build_info.
 * Both strings must outlive r.  0 or -ENOMEM. */
int mx_add_process_collector(struct mx_registry *r, const char *program, const char *version);

#endif
