/* bdi.c: the kernel's read-ahead window of this mount (bdi.h).  Reads
 * /proc/self/mountinfo and writes /sys/class/bdi/DEV/read_ahead_kb. */
#include "bdi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo: compares
 * the escaped field with a plain path. */
static int path_is(const char *field, const char *path)
{
	while (*field != '\0' && *path != '\0') {
		char c = *field;

		if (c == '\\' && field[1] >= '0' && field[1] <= '3' && field[2] >= '0' &&
		    field[2] <= '7' && field[3] >= '0' && field[3] <= '7') {
			c = (char)((field[1] - '0') * 64 + (field[2] - '0') * 8 + (field[3] - '0'));
			field += 3;
		}
		if (c != *path) {
			return 0;
		}
		field++;
		path++;
	}
	return *field == '\0' && *path == '\0';
}

int bdi_find(const char *mountinfo, const char *mnt, char *dev, size_t devlen)
{
	FILE *f = fopen(mountinfo, "re");
	char *line = NULL;
	size_t cap = 0;
	int rc = -ENOENT;

	if (f == NULL) {
		return -errno;
	}
	/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT ...": a later line mounted over
	 * an earlier one at the same place, so the last match wins. */
	while (getline(&line, &cap, f) > 0) {
		char *save = NULL;
		char *fld[5];
		int n = 0;

		for (char *t = strtok_r(line, " \n", &save); t != NULL && n < 5;
		     t = strtok_r(NULL, " \n", &save)) {
			fld[n++] = t;
		}
		if (n == 5 && path_is(fld[4], mnt)) {
			if (strlen(fld[2]) >= devlen) {
				rc = -ENAMETOOLONG;
				continue;
			}
			strcpy(dev, fld[2]);
			rc = 0;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

int bdi_set_read_ahead(const char *mnt, unsigned kb)
{
	char dev[32], path[96], val[16];
	int rc = bdi_find("/proc/self/mountinfo", mnt, dev, sizeof(dev));
	int fd;
	ssize_t len;

	if (rc != 0) {
		return rc;
	}
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	len = snprintf(val, sizeof(val), "%u\n", kb);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0) {
		return -errno;
	}
	ssize_t w = write(fd, val, (size_t)len);

	rc = w == len ? 0 : w < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}
