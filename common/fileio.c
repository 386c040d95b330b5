/* fileio.c: full reads and writes (see fileio.h). */
#include "fileio.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

ssize_t fio_read_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = off == FIO_CUR
				? read(fd, (uint8_t *)buf + done, len - done)
				: pread(fd, (uint8_t *)buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		if (n == 0) {
			break; /* end of file */
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int fio_read_exact(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = fio_read_full(fd, buf, len, off);

	if (n < 0) {
		return (int)n;
	}
	return (size_t)n == len ? 0 : -ENODATA;
}

int fio_write_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = off == FIO_CUR ? write(fd, (const uint8_t *)buf + done, len - done)
					   : pwrite(fd, (const uint8_t *)buf + done, len - done,
						    off + (off_t)done);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		if (n == 0) {
			return -EIO; /* no progress: do not spin */
		}
		done += (size_t)n;
	}
	return 0;
}
