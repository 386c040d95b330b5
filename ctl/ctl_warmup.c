/* ctl_warmup.c: objfsctl warmup PATH...: fills the disk cache of the objfs
 * mount PATH lies in with the files under it.  Talks to the mount only,
 * never to the cluster: for each regular file it reads the virtual xattr
 * user.objfs.warmup, which makes the mount fetch the file's blocks into
 * its cache_dir (fuse/vfs_warm.c) and answer the bytes fetched and those
 * already cached.  A few files at once (--jobs), progress on stderr. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "json.h"

#define WARM_XATTR "user.objfs.warmup"
/* Files warmed at once: each holds one of the mount's FUSE workers for
 * the file's fetch; 4 keep the cluster busy and leave the mount's other
 * 12 workers to its readers. */
#define WARM_JOBS 4
#define WARM_JOBS_MAX 16

struct warm_file {
	char *path;
	uint64_t size;
};

struct warm {
	struct warm_file *files;
	size_t n, cap, next, done;
	uint64_t total, fetched, cached, bytes_done;
	unsigned errors;
	int quiet;
	pthread_mutex_t mu;
};

static struct warm *walk_w; /* nftw has no argument pointer */
static int walk_err;

static int walk_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	struct warm *w = walk_w;

	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode)) {
		if (type == FTW_DNR || type == FTW_NS) {
			fprintf(stderr, "objfsctl warmup: %s: cannot read\n", path);
			walk_err = 1;
		}
		return 0;
	}
	if (w->n == w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 256;
		struct warm_file *nf = realloc(w->files, nc * sizeof(*nf));

		if (nf == NULL) {
			return -1;
		}
		w->files = nf;
		w->cap = nc;
	}
	w->files[w->n].path = strdup(path);
	if (w->files[w->n].path == NULL) {
		return -1;
	}
	w->files[w->n].size = (uint64_t)st->st_size;
	w->total += (uint64_t)st->st_size;
	w->n++;
	return 0;
}

/* Warms one file: 0, or the errno of the getxattr. */
static int warm_file(const char *path, uint64_t *fetched, uint64_t *cached)
{
	char val[64];
	unsigned long long f, c;
	ssize_t len = getxattr(path, WARM_XATTR, val, sizeof(val) - 1);

	if (len < 0) {
		return errno;
	}
	val[len] = '\0';
	if (sscanf(val, "%llu %llu", &f, &c) != 2) {
		return EPROTO;
	}
	*fetched = f;
	*cached = c;
	return 0;
}

static void *worker(void *arg)
{
	struct warm *w = arg;

	for (;;) {
		uint64_t fetched = 0, cached = 0;
		char h1[32], h2[32], h3[32];
		size_t i;
		int err;

		pthread_mutex_lock(&w->mu);
		i = w->next < w->n ? w->next++ : w->n;
		pthread_mutex_unlock(&w->mu);
		if (i == w->n) {
			return NULL;
		}
		err = warm_file(w->files[i].path, &fetched, &cached);
		pthread_mutex_lock(&w->mu);
		w->done++;
		w->bytes_done += w->files[i].size;
		if (err != 0) {
			w->errors++;
			fprintf(stderr, "objfsctl warmup: %s: %s\n", w->files[i].path,
				err == EOPNOTSUPP || err == ENOTSUP || err == ENODATA
				    ? "not in an objfs mount with a disk cache (-o cache_dir)"
				    : strerror(err));
		} else {
			w->fetched += fetched;
			w->cached += cached;
		}
		if (!w->quiet) {
			fprintf(stderr, "warmup: %zu/%zu files, %s of %s, %s fetched\n", w->done,
				w->n, ctl_human(w->bytes_done, h1, sizeof(h1)),
				ctl_human(w->total, h2, sizeof(h2)),
				ctl_human(w->fetched, h3, sizeof(h3)));
		}
		pthread_mutex_unlock(&w->mu);
	}
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: objfsctl warmup [--jobs N] [--quiet] [--json] [--background LOG] PATH...\n"
		"Fill the disk cache (-o cache_dir) of the objfs mount each PATH is in with\n"
		"the blocks of PATH, or of every file under it, so later reads are served\n"
		"from the cache.  Needs no cluster config: it asks the mount, which fetches\n"
		"what its cache lacks.  Warmed blocks are kept before blocks a scan read\n"
		"once.  A cache smaller than the files keeps the last ones warmed.\n"
		"  --jobs N  files warmed at once (default %d, at most %d)\n"
		"  --quiet   no progress lines on stderr\n"
		"  --json    the totals as one JSON object on stdout\n"
		"  --background LOG\n"
		"            list the files, then go on in the background, writing progress\n"
		"            and totals to LOG (appended); prints the process id and exits 0\n"
		"Exit status 0 when every file was warmed, 1 otherwise.\n",
		WARM_JOBS, WARM_JOBS_MAX);
}

static void free_files(struct warm *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->files[i].path);
	}
	free(w->files);
}

/* The parent's return of background(): it said where the work goes on. */
#define CTL_DETACHED (-1)

/* --background: the files are listed (so a bad PATH fails here, in the
 * foreground); a child in its own session warms them with stdout and
 * stderr appended to log, and the parent says so and returns
 * CTL_DETACHED.  CTL_OK in the child, CTL_FAIL (message printed) if log
 * cannot be opened or the fork fails. */
static int background(const char *log, size_t files)
{
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	pid_t pid;

	if (fd < 0) {
		fprintf(stderr, "objfsctl warmup: %s: %s\n", log, strerror(errno));
		return CTL_FAIL;
	}
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "objfsctl warmup: fork: %s\n", strerror(errno));
		close(fd);
		return CTL_FAIL;
	}
	if (pid > 0) {
		close(fd);
		printf("objfsctl warmup: %zu files, in the background as pid %ld; progress and "
		       "totals in %s\n",
		       files, (long)pid, log);
		return CTL_DETACHED;
	}
	setsid();
	if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) {
		_exit(1);
	}
	close(fd);
	return CTL_OK;
}

int ctl_cmd_warmup(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"jobs", required_argument, NULL, 'j'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"json", no_argument, NULL, 'J'},
	    {"background", required_argument, NULL, 'b'},
	    {NULL, 0, NULL, 0},
	};
	const char *bg_log = NULL;
	struct warm w = {.quiet = 0};
	pthread_t th[WARM_JOBS_MAX];
	struct timespec t0, t1;
	int json = 0, o, jobs = WARM_JOBS, started = 0, rc = CTL_OK;
	char h1[32], h2[32];
	double secs;

	(void)c;
	if (ctl_is_help(argc, argv)) {
		usage(stdout);
		return CTL_OK;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;

		switch (o) {
		case 'j':
			jobs = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || jobs < 1 || jobs > WARM_JOBS_MAX) {
				fprintf(stderr, "objfsctl warmup: --jobs must be 1 to %d\n",
					WARM_JOBS_MAX);
				return CTL_USAGE;
			}
			break;
		case 'q':
			w.quiet = 1;
			break;
		case 'J':
			json = 1;
			break;
		case 'b':
			bg_log = optarg;
			break;
		default:
			usage(stderr);
			return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	walk_w = &w;
	walk_err = 0;
	for (int i = optind; i < argc; i++) {
		/* FTW_MOUNT: a tree warms one mount, never what is mounted
		 * inside it. */
		if (nftw(argv[i], walk_one, 16, FTW_PHYS | FTW_MOUNT) != 0) {
			fprintf(stderr, "objfsctl warmup: %s: %s\n", argv[i], strerror(errno));
			rc = CTL_FAIL;
		}
	}
	if (bg_log != NULL) {
		int brc = background(bg_log, w.n);

		if (brc != CTL_OK) {
			free_files(&w);
			return brc == CTL_DETACHED ? rc : brc;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_mutex_init(&w.mu, NULL);
	if ((size_t)jobs > w.n) {
		jobs = w.n > 0 ? (int)w.n : 1;
	}
	for (; started < jobs; started++) {
		if (pthread_create(&th[started], NULL, worker, &w) != 0) {
			break;
		}
	}
	if (started == 0) {
		worker(&w);
	}
	for (int i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
	}
	pthread_mutex_destroy(&w.mu);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (w.errors > 0 || walk_err) {
		rc = CTL_FAIL;
	}
	if (json) {
		struct jw jw;

		jw_init(&jw, stdout, 1);
		jw_obj(&jw, NULL);
		jw_u64(&jw, "files", w.n);
		jw_u64(&jw, "bytes", w.total);
		jw_u64(&jw, "fetched_bytes", w.fetched);
		jw_u64(&jw, "cached_bytes", w.cached);
		jw_u64(&jw, "errors", w.errors);
		jw_num(&jw, "seconds", secs);
		jw_end(&jw);
		jw_finish(&jw);
	} else {
		printf("warmed %zu files: %s fetched, %s already cached, %u errors, %.1f s\n", w.n,
		       ctl_human(w.fetched, h1, sizeof(h1)), ctl_human(w.cached, h2, sizeof(h2)),
		       w.errors, secs);
	}
	free_files(&w);
	return rc;
}
