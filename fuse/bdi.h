/* bdi.h: the kernel's read-ahead window of this mount (its backing-device
 * info in sysfs).  Owns finding the mount's device number and writing
 * read_ahead_kb; never touches the mounted filesystem itself (a stat of
 * the mount point from its own daemon would wait on the daemon). */
#ifndef OBJFS_BDI_H
#define OBJFS_BDI_H

#include <stddef.h>

/* The "MAJOR:MINOR" of the mount on mnt (an absolute, resolved path) in
 * /proc/self/mountinfo, the last one mounted there, into dev (devlen
 * bytes).  0, -ENOENT if nothing is mounted on mnt, or -errno. */
int bdi_find(const char *mountinfo, const char *mnt, char *dev, size_t devlen);

/* Sets the read-ahead of the mount on mnt to kb KiB: the kernel then asks
 * for up to that much per read request of a sequential reader (FUSE
 * starts every mount at 128 KiB, whatever max_readahead the daemon
 * offers at INIT).  0 or -errno (-EACCES when not root). */
int bdi_set_read_ahead(const char *mnt, unsigned kb);

#endif
