/* versions_check.c: overwrites whole files with numbered versions and reads them back,
 * checking what each read returned.  Version v of file f is a size that depends on (f, v)
 * and 8-byte words (v << 32 | word index) ^ KEY, so any byte can be traced to its version.
 * Writers open(O_TRUNC), write, close in a loop; readers open, read to EOF, close.
 * --strict: every read is one version: whole, cut short by a concurrent O_TRUNC, or the
 * empty file between an O_TRUNC and its close (another mount, close-to-open); a read whose
 * handle fails with ESTALE (its version's blocks were collected) counts as stale, and the
 * bytes it got before are checked the same way; any other error is an error;
 * otherwise a read may mix versions or stop early (a concurrent O_TRUNC on this mount), but
 * every word must belong to some version at its index: zero-filled ranges are caught.
 * Links nothing of objfs.  Exit 0 clean, 1 a bad read or an I/O error, 2 usage. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEY 0x5a17c3e9b2d4f681ull
#define MAX_SIZE ((size_t)6 << 20)  /* two 4 MiB chunks: reads cross blocks */
#define MIN_SIZE ((size_t)64 << 10) /* above inline_max: the data lives in blocks */
#define MAX_MSGS 10

static struct {
	const char *dir;
	int files, writers, readers, strict;
	double seconds;
} cfg = {.files = 8, .writers = 4, .readers = 4, .seconds = 10};

static atomic_uint_fast64_t n_writes, n_reads, n_bad, n_err, n_mixed, n_empty, n_prefix, n_stale;
static atomic_int msgs;
static double t_end;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t version_size(int f, uint32_t v)
{
	uint64_t h = ((uint64_t)v * 2654435761u + (uint64_t)f * 40503u) % (MAX_SIZE - MIN_SIZE);

	return (MIN_SIZE + (size_t)h) & ~(size_t)7;
}

static uint64_t word(uint32_t v, uint64_t idx)
{
	return ((uint64_t)v << 32 | (idx & 0xffffffffu)) ^ KEY;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&msgs, 1) >= MAX_MSGS) {
		return;
	}
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

static void path_of(char *buf, size_t len, int f)
{
	snprintf(buf, len, "%s/v%03d", cfg.dir, f);
}

static int write_version(int f, uint32_t v, uint64_t *buf)
{
	char path[4096];
	size_t size = version_size(f, v), off = 0;
	int fd, rc = 0;

	for (size_t i = 0; i < size / 8; i++) {
		buf[i] = word(v, i);
	}
	path_of(path, sizeof(path), f);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		return -errno;
	}
	while (off < size && rc == 0) {
		/* 1 MiB writes, as cp does: the file grows while readers read it */
		size_t n = size - off < ((size_t)1 << 20) ? size - off : (size_t)1 << 20;
		ssize_t w = write(fd, (uint8_t *)buf + off, n);

		if (w < 0 && errno != EINTR) {
			rc = -errno;
		} else if (w > 0) {
			off += (size_t)w;
		}
	}
	if (close(fd) != 0 && rc == 0) {
		rc = -errno;
	}
	return rc;
}

/* Reads file f whole and checks it; returns 0, 1 for a bad read, 2 for a good read that
 * ended in ESTALE (counted here), or -errno. */
static int check_read(int f, uint64_t *buf)
{
	char path[4096];
	size_t got = 0;
	int fd, mixed = 0, stale = 0;
	uint32_t v0 = 0;

	path_of(path, sizeof(path), f);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	for (;;) {
		ssize_t n = read(fd, (uint8_t *)buf + got, MAX_SIZE + 8 - got);

		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == ESTALE) {
			/* The version this handle read is gone: what it got
			 * before must still be all of that version. */
			stale = 1;
			break;
		}
		if (n < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
		if (n == 0 || (got += (size_t)n) >= MAX_SIZE + 8) {
			break;
		}
	}
	close(fd);
	if (stale) {
		atomic_fetch_add(&n_stale, 1);
	}
	if (got == 0 && stale) {
		return 2;
	}
	if (got == 0) {
		/* Between an O_TRUNC and the close that commits the new
		 * content another mount sees the file empty: that state is
		 * real, not a mix. */
		atomic_fetch_add(&n_empty, 1);
		return 0;
	}
	for (size_t i = 0; i < got / 8; i++) {
		uint64_t x = buf[i] ^ KEY;
		uint32_t v = (uint32_t)(x >> 32);

		if ((x & 0xffffffffu) != (i & 0xffffffffu) || i * 8 + 8 > version_size(f, v)) {
			say("%s: word %zu (offset %zu) is %016" PRIx64
			    ", of no version%s; read %zu "
			    "bytes\n",
			    path, i, i * 8, buf[i], buf[i] == 0 ? " (zeros)" : "", got);
			return 1;
		}
		if (i == 0) {
			v0 = v;
		} else if (v != v0) {
			mixed = 1;
		}
	}
	if (cfg.strict && mixed) {
		say("%s: read %zu bytes, a mix of versions; version %u has %zu\n", path, got, v0,
		    version_size(f, v0));
		return 1;
	}
	if (got < version_size(f, v0) && !stale) {
		/* One version, cut short: an O_TRUNC of the writer came while
		 * this read ran, as on a local file system. */
		atomic_fetch_add(&n_prefix, 1);
	}
	if (mixed) {
		atomic_fetch_add(&n_mixed, 1);
	}
	return stale ? 2 : 0;
}

static void *writer(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t *buf = malloc(MAX_SIZE);
	uint32_t v = (uint32_t)time(NULL) << 8; /* versions of one run stay distinct */

	/* The first round writes every file of this writer, however short
	 * the run: --seconds 0 creates the files. */
	for (int round = 0; buf != NULL && (round == 0 || now_s() < t_end); round++) {
		for (int f = id; f < cfg.files && (round == 0 || now_s() < t_end);
		     f += cfg.writers) {
			int rc = write_version(f, ++v, buf);

			if (rc != 0) {
				say("write v%03d: %s\n", f, strerror(-rc));
				atomic_fetch_add(&n_err, 1);
			} else {
				atomic_fetch_add(&n_writes, 1);
			}
		}
	}
	free(buf);
	return NULL;
}

static void *reader(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t *buf = malloc(MAX_SIZE + 8);

	/* --strict readers each read only their own files (f = id mod readers):
	 * two handles of one mount share the file's size, and a second open
	 * that learns of a truncate ends the first one's read early, which the
	 * kernel may then fill with zero pages (ARCHITECTURE.md). */
	int step = cfg.strict && cfg.readers <= cfg.files ? cfg.readers : 1;

	for (int f = id % cfg.files; buf != NULL && now_s() < t_end; f = (f + step) % cfg.files) {
		int rc = check_read(f, buf);

		if (rc < 0) {
			say("read v%03d: %s\n", f, strerror(-rc));
			atomic_fetch_add(&n_err, 1);
		} else if (rc != 2) {
			atomic_fetch_add(rc == 0 ? &n_reads : &n_bad, 1);
		}
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"dir", required_argument, NULL, 'd'},
					     {"files", required_argument, NULL, 'f'},
					     {"writers", required_argument, NULL, 'w'},
					     {"readers", required_argument, NULL, 'r'},
					     {"seconds", required_argument, NULL, 's'},
					     {"strict", no_argument, NULL, 'S'},
					     {NULL, 0, NULL, 0}};
	pthread_t th[128];
	int n = 0, c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			cfg.dir = optarg;
			break;
		case 'f':
			cfg.files = atoi(optarg);
			break;
		case 'w':
			cfg.writers = atoi(optarg);
			break;
		case 'r':
			cfg.readers = atoi(optarg);
			break;
		case 's':
			cfg.seconds = atof(optarg);
			break;
		case 'S':
			cfg.strict = 1;
			break;
		default:
			return 2;
		}
	}
	if (cfg.dir == NULL || cfg.files < 1 || cfg.writers < 0 || cfg.readers < 0 ||
	    cfg.writers + cfg.readers > 128 || cfg.writers + cfg.readers == 0) {
		fprintf(stderr, "usage: versions_check --dir DIR [--files N] [--writers N] "
				"[--readers N] [--seconds S] [--strict]\n");
		return 2;
	}
	t_end = now_s() + cfg.seconds;
	for (int i = 0; i < cfg.writers; i++) {
		pthread_create(&th[n++], NULL, writer, (void *)(intptr_t)i);
	}
	for (int i = 0; i < cfg.readers; i++) {
		pthread_create(&th[n++], NULL, reader, (void *)(intptr_t)i);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(th[i], NULL);
	}
	printf("versions_check: %" PRIu64 " writes, %" PRIu64 " good reads (%" PRIu64
	       " of them mixed versions, %" PRIu64 " empty, %" PRIu64 " cut short), %" PRIu64
	       " stale handles (ESTALE), %" PRIu64 " bad reads, %" PRIu64 " errors\n",
	       (uint64_t)n_writes, (uint64_t)n_reads, (uint64_t)n_mixed, (uint64_t)n_empty,
	       (uint64_t)n_prefix, (uint64_t)n_stale, (uint64_t)n_bad, (uint64_t)n_err);
	return n_bad == 0 && n_err == 0 ? 0 : 1;
}
