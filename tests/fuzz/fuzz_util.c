/* fuzz_util.c: the helpers every harness shares (see fuzz.h). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/fileio.h"
#include "../../common/log.h"
#include "fuzz.h"

void fuzz_key(struct frame_key *k)
{
	memset(k, 0, sizeof(*k));
	k->len = strlen(FUZZ_SECRET);
	memcpy(k->secret, FUZZ_SECRET, k->len);
}

static void drop_line(enum log_level lvl, const char *id, const char *line, void *arg)
{
	(void)lvl;
	(void)id;
	(void)line;
	(void)arg;
}

void fuzz_quiet(void)
{
	log_set_sink(drop_line, NULL);
}

uint8_t *fuzz_dup(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n ? n : 1);

	if (d == NULL) {
		fuzz_fail("out of memory");
	}
	if (n > 0) {
		memcpy(d, p, n);
	}
	return d;
}

void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz: invariant broken: %s\n", what);
	abort();
}

int fuzz_write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc;

	if (fd < 0) {
		return -errno;
	}
	rc = fio_write_full(fd, p, n, 0);
	close(fd);
	return rc;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0) {
		remove(path);
	}
	return 0;
}

void fuzz_clear(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char scratch[PATH_MAX];

static void scratch_remove(void)
{
	fuzz_clear(scratch);
	rmdir(scratch);
}

const char *fuzz_scratch(void)
{
	const char *base;

	if (scratch[0] != '\0') {
		return scratch;
	}
	base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
	snprintf(scratch, sizeof(scratch), "%s/objfs-fuzz.XXXXXX", base ? base : "/tmp");
	if (mkdtemp(scratch) == NULL) {
		fuzz_fail("cannot make a scratch directory");
	}
	atexit(scratch_remove);
	return scratch;
}
