/* fileio.h: whole-buffer reads and writes on a file descriptor.
 * Owns the loops that every short read or write needs (EINTR, partial
 * transfers); never opens, syncs or closes a descriptor.  Any thread. */
#ifndef OBJFS_FILEIO_H
#define OBJFS_FILEIO_H

#include <stddef.h>
#include <sys/types.h>

/* As `off`: use (and advance) the descriptor's file position -- for pipes,
 * sockets and streams -- instead of pread/pwrite at an offset. */
#define FIO_CUR ((off_t)-1)

/* Reads len bytes at off (>= 0) or at the file position (FIO_CUR).
 * Returns the count read, which is less than len only when the end of the
 * file came first, or a negative errno. */
ssize_t fio_read_full(int fd, void *buf, size_t len, off_t off);

/* Like fio_read_full for callers that need every byte: 0, -ENODATA when
 * the file ends before len bytes, or a negative errno. */
int fio_read_exact(int fd, void *buf, size_t len, off_t off);

/* Writes all len bytes at off (>= 0) or at the file position (FIO_CUR).
 * Returns 0 or a negative errno (-EIO if the kernel accepts no byte). */
int fio_write_full(int fd, const void *buf, size_t len, off_t off);

#endif
