/* keyfile.c: client key files (see keyfile.h). */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "log.h"

/* A key file is a few lines; anything larger is not one. */
#define KEY_FILE_MAX 4096

int key_file_load(const char *path, struct key_ent *k, char *err, size_t errlen)
{
	char text[KEY_FILE_MAX];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int rc;

	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "key file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
		/* Whoever reads the file holds the key, as with ssh keys. */
		log_warn("key.mode", "key file %s is readable by others (mode %03o): chmod 600 it",
			 path, (unsigned)(st.st_mode & 0777));
	}
	n = fio_read_full(fd, text, sizeof(text), FIO_CUR);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "key file %s: %s", path, strerror((int)-n));
		return (int)n;
	}
	if ((size_t)n == sizeof(text)) {
		snprintf(err, errlen, "key file %s: larger than %d bytes: not an objfs key file",
			 path, KEY_FILE_MAX);
		return -EINVAL;
	}
	rc = key_file_parse(text, (size_t)n, path, k, err, errlen);
	memset(text, 0, sizeof(text));
	return rc;
}

int cfg_use_key_file(struct cfg *cfg, const char *path, char *err, size_t errlen)
{
	int rc = key_file_load(path, &cfg->client_key, err, errlen);

	cfg->has_client_key = rc == 0;
	return rc;
}
