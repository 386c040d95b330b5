/* fsmix.c: a time-bounded file workload on any mounted directory: a put/get/delete/list mix
 * or separately timed metadata operations, with per-op latency percentiles.  Links nothing
 * of objfs (libc and pthreads only) so the same binary measures objfs and a reference mount.
 * Worker threads run the operations; the main thread only paces phases and watches for hangs. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Transfers go through the page cache in chunks of this size: big enough that syscall
 * overhead does not dominate, small enough that 16 threads' buffers stay modest. */
#define IO_CHUNK ((size_t)1 << 20)
/* Files start at a random offset of one shared random buffer, so every file's content is
 * distinct and checkable without a per-file buffer. */
#define CONTENT_SLACK ((size_t)64 << 10)
/* The "10MB+" class of the seed's normal-load distribution has no top: 16 MiB keeps the
 * shared content buffer (one per run) small. */
#define NORMAL_LOAD_CAP ((size_t)16 << 20)
#define MAX_THREADS 256
/* Error messages beyond this are counted but not printed, so a dead mount cannot flood. */
#define MAX_ERR_MSGS 10

enum op {
	OP_PUT,
	OP_GET,
	OP_DELETE,
	OP_LIST,
	OP_CREATE,
	OP_STAT,
	OP_READDIR,
	OP_RENAME,
	OP_UNLINK,
	OP_COUNT,
};

static const char *const op_names[OP_COUNT] = {
    [OP_PUT] = "put",	      [OP_GET] = "get",	      [OP_DELETE] = "delete",
    [OP_LIST] = "list",	      [OP_CREATE] = "create", [OP_STAT] = "stat",
    [OP_READDIR] = "readdir", [OP_RENAME] = "rename", [OP_UNLINK] = "unlink",
};

/* Phases the main thread releases the workers into, one at a time. */
enum phase {
	PH_NONE,
	PH_PREFILL,
	PH_MIX,
	PH_META_FIRST, /* PH_META_FIRST + (op - OP_CREATE) for each metadata op */
	PH_CLEANUP = PH_META_FIRST + (OP_UNLINK - OP_CREATE) + 1,
	PH_EXIT,
};

struct stat_acc {
	double *lat_ms; /* successful operations only */
	size_t n, cap;
	uint64_t bytes;
	uint64_t errors;
};

struct slot {
	int64_t size;	   /* -1: no file (or in an unknown state after a failed put) */
	uint32_t off;	   /* where the content starts in the shared random buffer */
	int64_t prev_size; /* the version before, for reports of stale reads; -1: none */
	uint32_t prev_off;
	double put_at; /* when the last put finished */
};

/* What a get saw, for the report of a wrong read. */
struct get_seen {
	uint64_t got;	    /* bytes read */
	int64_t st_size;    /* fstat size after open */
	int64_t first_diff; /* first byte that differs from the expected content; -1: none */
	int prev_match;	    /* the bytes read are a prefix of the previous version */
};

struct worker {
	pthread_t tid;
	int idx;
	uint64_t rng;
	uint8_t *buf; /* IO_CHUNK bytes for reads */
	struct stat_acc acc[OP_COUNT];
	/* mix mode: the files this thread owns, in the shared data directory */
	struct slot *slots;
	size_t n_slots;
	/* meta mode: files created in the thread's own directory; renamed[i] says whether file i
	 * currently has its renamed name */
	size_t n_made, n_gone;
	uint8_t *renamed;
	/* what the thread is doing now, for the hang report (guarded by g.mu) */
	int cur_op;
	double cur_since;
	char cur_path[PATH_MAX];
};

struct config {
	const char *dir;
	const char *scenario;
	int threads;
	double seconds;
	double grace;
	uint64_t ops; /* per thread per phase; 0: no bound */
	unsigned weight[OP_COUNT];
	int meta;
	int meta_ops[OP_COUNT]; /* which metadata ops to report */
	size_t min_size, max_size;
	int normal_load;
	size_t files;
	int fsync;
	int keep;
	uint64_t seed;
};

/* Shared state.  Lock order: g.mu only; workers never hold it across a filesystem call. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int phase;	  /* guarded by mu */
	unsigned gen;	  /* guarded by mu: bumped when a phase is released */
	int done;	  /* guarded by mu: workers finished with the current phase */
	double deadline;  /* written before a phase is released, read-only during it */
	uint8_t *content; /* read-only after start-up */
	size_t content_len;
	/* this run's private directory below --dir; shorter than PATH_MAX so that every
	 * file name built from it fits */
	char root[PATH_MAX - 64];
	unsigned err_msgs; /* guarded by mu */
} g = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
};

static struct config cfg;
static struct worker *workers;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift64*: a per-thread generator, so threads never share random state. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * UINT64_C(2685821657736338717);
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return n == 0 ? 0 : rnd(s) % n;
}

static void report_err(const char *what, const char *path, int err)
{
	int print;

	pthread_mutex_lock(&g.mu);
	print = g.err_msgs < MAX_ERR_MSGS;
	g.err_msgs++;
	pthread_mutex_unlock(&g.mu);
	if (print) {
		fprintf(stderr, "fsmix: %s %s: %s\n", what, path, strerror(err));
	}
}

static int acc_add(struct stat_acc *a, double ms, uint64_t bytes)
{
	if (a->n == a->cap) {
		size_t cap = a->cap != 0 ? a->cap * 2 : 4096;
		double *p = realloc(a->lat_ms, cap * sizeof(*p));

		if (p == NULL) {
			return -ENOMEM;
		}
		a->lat_ms = p;
		a->cap = cap;
	}
	a->lat_ms[a->n++] = ms;
	a->bytes += bytes;
	return 0;
}

/* Records one finished operation: a latency if it succeeded (rc == 0), an error otherwise. */
static void record(struct worker *w, enum op op, double t0, int rc, uint64_t bytes)
{
	if (rc != 0 || acc_add(&w->acc[op], (now_s() - t0) * 1e3, bytes) != 0) {
		w->acc[op].errors++;
	}
}

static void set_current(struct worker *w, int op, const char *path)
{
	pthread_mutex_lock(&g.mu);
	w->cur_op = op;
	w->cur_since = now_s();
	snprintf(w->cur_path, sizeof(w->cur_path), "%s", path != NULL ? path : "");
	pthread_mutex_unlock(&g.mu);
}

static void slot_path(char *out, size_t len, int thread, size_t i)
{
	snprintf(out, len, "%s/data/t%02d-%06zu", g.root, thread, i);
}

static void meta_path(char *out, size_t len, int thread, size_t i, int renamed)
{
	snprintf(out, len, "%s/m%02d/%c%06zu", g.root, thread, renamed ? 'r' : 'f', i);
}

static size_t pick_size(uint64_t *s)
{
	size_t lo = cfg.min_size, hi = cfg.max_size;

	if (cfg.normal_load) {
		/* The seed's normal-load classes: 60% 1-10KB, 25% 10-100KB, 10% 100KB-1MB,
		 * 4% 1-10MB, 1% 10MB and up (capped). */
		uint64_t p = rnd_below(s, 100);

		if (p < 60) {
			lo = 1000, hi = 10000;
		} else if (p < 85) {
			lo = 10000, hi = 100000;
		} else if (p < 95) {
			lo = 100000, hi = 1000000;
		} else if (p < 99) {
			lo = 1000000, hi = 10000000;
		} else {
			lo = 10000000, hi = NORMAL_LOAD_CAP;
		}
	}
	return lo + (size_t)rnd_below(s, hi - lo + 1);
}

/* create + write + (fsync) + close.  Returns 0 or a negative errno. */
static int write_file(const char *path, const uint8_t *data, size_t len, int flags)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
	size_t done = 0;
	int rc = 0;

	if (fd < 0) {
		return -errno;
	}
	while (done < len && rc == 0) {
		size_t want = len - done < IO_CHUNK ? len - done : IO_CHUNK;
		ssize_t n = write(fd, data + done, want);

		if (n < 0 && errno != EINTR) {
			rc = -errno;
		} else if (n > 0) {
			done += (size_t)n;
		}
	}
	if (rc == 0 && cfg.fsync && fsync(fd) != 0) {
		rc = -errno;
	}
	/* close reports write-back failures on many filesystems, objfs included */
	if (close(fd) != 0 && rc == 0) {
		rc = -errno;
	}
	return rc;
}

/* Offset of the first byte where a and b differ, or -1. */
static int64_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i] != b[i]) {
			return (int64_t)i;
		}
	}
	return -1;
}

/* open + read to EOF + close, checking length and bytes against what was written:
 * -ENODATA for a short file, -EILSEQ for wrong or extra bytes; *seen says what was read. */
static int read_file(struct worker *w, const char *path, const struct slot *sl,
		     struct get_seen *seen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t total = 0;
	struct stat st;
	int rc = 0;

	seen->got = 0;
	seen->st_size = -1;
	seen->first_diff = -1;
	seen->prev_match = sl->prev_size >= 0;
	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) == 0) {
		seen->st_size = (int64_t)st.st_size;
	}
	for (;;) {
		ssize_t n = read(fd, w->buf, IO_CHUNK);

		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			rc = -errno;
			break;
		}
		if (n == 0) {
			break;
		}
		if (seen->prev_match &&
		    (total + (uint64_t)n > (uint64_t)sl->prev_size ||
		     memcmp(w->buf, g.content + sl->prev_off + total, (size_t)n) != 0)) {
			seen->prev_match = 0;
		}
		if (total + (uint64_t)n > (uint64_t)sl->size) {
			rc = -EILSEQ; /* more bytes than written */
			seen->first_diff = sl->size;
		} else if (memcmp(w->buf, g.content + sl->off + total, (size_t)n) != 0) {
			rc = -EILSEQ;
			seen->first_diff =
			    (int64_t)total +
			    first_diff(w->buf, g.content + sl->off + total, (size_t)n);
		}
		total += (uint64_t)n;
		if (rc != 0) {
			break;
		}
	}
	if (close(fd) != 0 && rc == 0) {
		rc = -errno;
	}
	if (rc == 0 && total != (uint64_t)sl->size) {
		rc = -ENODATA; /* short file */
	}
	seen->got = total;
	return rc;
}

/* Says precisely how a get read the wrong thing: sizes, where bytes differ, and whether
 * what came back is (a prefix of) the version before the last put. */
static void report_bad_read(const char *path, const struct slot *sl, const struct get_seen *s,
			    int rc)
{
	char why[160], prev[96];

	if (rc == -ENODATA) {
		snprintf(why, sizeof(why), "short read: %" PRIu64 " of %" PRId64 " bytes", s->got,
			 sl->size);
	} else {
		snprintf(why, sizeof(why),
			 "wrong bytes from offset %" PRId64 " (read %" PRIu64 " bytes of %" PRId64
			 ")",
			 s->first_diff, s->got, sl->size);
	}
	if (sl->prev_size < 0) {
		snprintf(prev, sizeof(prev), "no previous version");
	} else {
		snprintf(prev, sizeof(prev), "previous version %" PRId64 " bytes%s", sl->prev_size,
			 s->prev_match && s->got > 0 ? ", which the bytes read match" : "");
	}
	pthread_mutex_lock(&g.mu);
	if (g.err_msgs++ < MAX_ERR_MSGS) {
		fprintf(stderr,
			"fsmix: get %s: %s; fstat size %" PRId64 "; written %.0f ms before by "
			"this thread's put (%s)\n",
			path, why, s->st_size, (now_s() - sl->put_at) * 1e3, prev);
	}
	pthread_mutex_unlock(&g.mu);
}

static int list_dir(const char *path, size_t *entries)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;
	int rc = 0;

	if (d == NULL) {
		return -errno;
	}
	errno = 0;
	while ((e = readdir(d)) != NULL) {
		n++;
	}
	if (errno != 0) {
		rc = -errno;
	}
	closedir(d);
	*entries = n;
	return rc;
}

static void do_put(struct worker *w, size_t i, const char *what)
{
	char path[PATH_MAX];
	struct slot *sl = &w->slots[i];
	size_t size = pick_size(&w->rng);
	uint32_t off = (uint32_t)rnd_below(&w->rng, CONTENT_SLACK);
	double t0;
	int rc;

	slot_path(path, sizeof(path), w->idx, i);
	set_current(w, OP_PUT, path);
	t0 = now_s();
	rc = write_file(path, g.content + off, size, O_TRUNC);
	if (what == NULL) {
		record(w, OP_PUT, t0, rc, size);
	}
	if (rc != 0) {
		report_err(what != NULL ? what : "put", path, -rc);
		sl->size = -1;
		return;
	}
	sl->prev_size = sl->size;
	sl->prev_off = sl->off;
	sl->size = (int64_t)size;
	sl->off = off;
	sl->put_at = now_s();
}

/* A random slot with a file, or n_slots if none; bounded probing keeps it O(1) when full. */
static size_t pick_existing(struct worker *w)
{
	for (int tries = 0; tries < 16; tries++) {
		size_t i = (size_t)rnd_below(&w->rng, w->n_slots);

		if (w->slots[i].size >= 0) {
			return i;
		}
	}
	for (size_t i = 0; i < w->n_slots; i++) {
		if (w->slots[i].size >= 0) {
			return i;
		}
	}
	return w->n_slots;
}

static enum op pick_op(struct worker *w)
{
	unsigned total = 0, r;

	for (int op = OP_PUT; op <= OP_LIST; op++) {
		total += cfg.weight[op];
	}
	r = (unsigned)rnd_below(&w->rng, total);
	for (int op = OP_PUT; op <= OP_LIST; op++) {
		if (r < cfg.weight[op]) {
			return (enum op)op;
		}
		r -= cfg.weight[op];
	}
	return OP_GET;
}

static void mix_one(struct worker *w)
{
	char path[PATH_MAX];
	enum op op = pick_op(w);
	size_t i = 0;
	double t0;
	int rc;

	if (op == OP_GET || op == OP_DELETE) {
		i = pick_existing(w);
		if (i == w->n_slots) {
			op = OP_PUT; /* nothing to read or delete: grow the population instead */
		}
	}
	switch (op) {
	case OP_PUT:
		do_put(w, (size_t)rnd_below(&w->rng, w->n_slots), NULL);
		break;
	case OP_GET: {
		struct get_seen seen;

		slot_path(path, sizeof(path), w->idx, i);
		set_current(w, op, path);
		t0 = now_s();
		rc = read_file(w, path, &w->slots[i], &seen);
		record(w, op, t0, rc, seen.got);
		if (rc == -ENODATA || rc == -EILSEQ) {
			report_bad_read(path, &w->slots[i], &seen, rc);
		} else if (rc != 0) {
			report_err("get", path, -rc);
		}
		break;
	}
	case OP_DELETE:
		slot_path(path, sizeof(path), w->idx, i);
		set_current(w, op, path);
		t0 = now_s();
		rc = unlink(path) != 0 ? -errno : 0;
		record(w, op, t0, rc, 0);
		if (rc != 0) {
			report_err("delete", path, -rc);
		}
		w->slots[i].size = -1;
		w->slots[i].prev_size = -1;
		break;
	case OP_LIST: {
		size_t n;

		snprintf(path, sizeof(path), "%s/data", g.root);
		set_current(w, op, path);
		t0 = now_s();
		rc = list_dir(path, &n);
		record(w, op, t0, rc, 0);
		if (rc != 0) {
			report_err("list", path, -rc);
		}
		break;
	}
	default:
		break;
	}
}

/* True while the phase may go on: before its deadline and under --ops per thread. */
static int time_left(uint64_t done)
{
	return now_s() < g.deadline && (cfg.ops == 0 || done < cfg.ops);
}

static void meta_phase(struct worker *w, enum op op)
{
	char path[PATH_MAX], to[PATH_MAX];
	uint64_t done = 0;
	size_t next = 0;
	double t0;
	int rc;

	/* create always runs (later phases need its files); a phase not asked for is skipped */
	if (op != OP_CREATE && !cfg.meta_ops[op]) {
		return;
	}
	while (time_left(done)) {
		switch (op) {
		case OP_CREATE: {
			uint8_t *r = realloc(w->renamed, w->n_made + 1);

			if (r == NULL) {
				return;
			}
			w->renamed = r;
			meta_path(path, sizeof(path), w->idx, w->n_made, 0);
			set_current(w, op, path);
			t0 = now_s();
			rc = write_file(path, NULL, 0, O_EXCL);
			record(w, op, t0, rc, 0);
			if (rc != 0) {
				report_err("create", path, -rc);
			} else {
				w->renamed[w->n_made++] = 0;
			}
			break;
		}
		case OP_STAT: {
			struct stat st;
			size_t i;

			if (w->n_made == 0) {
				return;
			}
			i = (size_t)rnd_below(&w->rng, w->n_made);
			meta_path(path, sizeof(path), w->idx, i, w->renamed[i]);
			set_current(w, op, path);
			t0 = now_s();
			rc = stat(path, &st) != 0 ? -errno : 0;
			record(w, op, t0, rc, 0);
			if (rc != 0) {
				report_err("stat", path, -rc);
			}
			break;
		}
		case OP_READDIR: {
			size_t n = 0;

			snprintf(path, sizeof(path), "%s/m%02d", g.root, w->idx);
			set_current(w, op, path);
			t0 = now_s();
			rc = list_dir(path, &n);
			record(w, op, t0, rc == 0 && n != w->n_made + 2 ? -EBADMSG : rc, 0);
			if (rc != 0) {
				report_err("readdir", path, -rc);
			} else if (n != w->n_made + 2) {
				/* "." and ".." plus every file created: anything else is lost or
				 * invented entries */
				fprintf(stderr, "fsmix: readdir %s: %zu entries, expected %zu\n",
					path, n, w->n_made + 2);
			}
			break;
		}
		case OP_RENAME: {
			size_t i;

			if (w->n_made == 0) {
				return;
			}
			i = next++ % w->n_made;
			meta_path(path, sizeof(path), w->idx, i, w->renamed[i]);
			meta_path(to, sizeof(to), w->idx, i, !w->renamed[i]);
			set_current(w, op, path);
			t0 = now_s();
			rc = rename(path, to) != 0 ? -errno : 0;
			record(w, op, t0, rc, 0);
			if (rc != 0) {
				report_err("rename", path, -rc);
			} else {
				w->renamed[i] ^= 1;
			}
			break;
		}
		case OP_UNLINK:
			if (w->n_gone == w->n_made) {
				return;
			}
			meta_path(path, sizeof(path), w->idx, w->n_gone, w->renamed[w->n_gone]);
			set_current(w, op, path);
			t0 = now_s();
			rc = unlink(path) != 0 ? -errno : 0;
			record(w, op, t0, rc, 0);
			if (rc != 0) {
				report_err("unlink", path, -rc);
			}
			w->n_gone++;
			break;
		default:
			return;
		}
		done++;
	}
}

static void prefill(struct worker *w)
{
	for (size_t i = 0; i < w->n_slots && now_s() < g.deadline; i++) {
		do_put(w, i, "prefill");
	}
}

/* Removes what this thread made; errors other than "already gone" are only reported. */
static void cleanup(struct worker *w)
{
	char path[PATH_MAX];

	if (cfg.keep) {
		return;
	}
	for (size_t i = 0; i < w->n_slots && now_s() < g.deadline; i++) {
		slot_path(path, sizeof(path), w->idx, i);
		set_current(w, OP_DELETE, path);
		if (unlink(path) != 0 && errno != ENOENT) {
			report_err("cleanup unlink", path, errno);
		}
	}
	for (size_t i = w->n_gone; i < w->n_made && now_s() < g.deadline; i++) {
		meta_path(path, sizeof(path), w->idx, i, w->renamed[i]);
		set_current(w, OP_UNLINK, path);
		if (unlink(path) != 0 && errno != ENOENT) {
			report_err("cleanup unlink", path, errno);
		}
	}
	if (cfg.meta) {
		snprintf(path, sizeof(path), "%s/m%02d", g.root, w->idx);
		if (rmdir(path) != 0) {
			report_err("cleanup rmdir", path, errno);
		}
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned seen = 0;

	for (;;) {
		int phase;

		pthread_mutex_lock(&g.mu);
		while (g.gen == seen) {
			pthread_cond_wait(&g.cv, &g.mu);
		}
		seen = g.gen;
		phase = g.phase;
		pthread_mutex_unlock(&g.mu);

		if (phase == PH_EXIT) {
			return NULL;
		}
		if (phase == PH_PREFILL) {
			prefill(w);
		} else if (phase == PH_MIX) {
			while (time_left(0)) {
				mix_one(w);
			}
		} else if (phase >= PH_META_FIRST && phase < PH_CLEANUP) {
			meta_phase(w, (enum op)(OP_CREATE + phase - PH_META_FIRST));
		} else if (phase == PH_CLEANUP) {
			cleanup(w);
		}
		pthread_mutex_lock(&g.mu);
		w->cur_op = -1;
		g.done++;
		pthread_cond_broadcast(&g.cv);
		pthread_mutex_unlock(&g.mu);
	}
}

/* Releases the workers into phase and waits for all of them.  Returns the phase's elapsed
 * seconds, or -1 after printing which operations are stuck if they outlive limit + grace. */
static double run_phase(int phase, double limit)
{
	double t0 = now_s(), t1;
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(limit + cfg.grace) + 1;
	pthread_mutex_lock(&g.mu);
	g.deadline = t0 + limit;
	g.done = 0;
	g.phase = phase;
	g.gen++;
	pthread_cond_broadcast(&g.cv);
	while (g.done < cfg.threads && rc == 0) {
		rc = pthread_cond_timedwait(&g.cv, &g.mu, &until);
	}
	t1 = now_s();
	if (g.done < cfg.threads) {
		for (int i = 0; i < cfg.threads; i++) {
			const struct worker *w = &workers[i];

			if (w->cur_op >= 0) {
				fprintf(stderr, "fsmix: HANG: thread %d in %s of %s for %.1f s\n",
					i, op_names[w->cur_op], w->cur_path, t1 - w->cur_since);
			}
		}
		pthread_mutex_unlock(&g.mu);
		return -1;
	}
	pthread_mutex_unlock(&g.mu);
	return t1 - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile (p in whole percent) of a sorted array. */
static double pct(const double *v, size_t n, unsigned p)
{
	size_t rank = (p * n + 99) / 100;

	if (n == 0) {
		return 0;
	}
	return v[(rank == 0 ? 1 : rank) - 1];
}

struct summary {
	uint64_t count, errors, bytes;
	double p50, p95, p99;
};

/* Merges every worker's samples of op.  Returns 0 or -ENOMEM. */
static int summarize(enum op op, struct summary *s)
{
	size_t n = 0;
	double *all;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < cfg.threads; i++) {
		n += workers[i].acc[op].n;
		s->errors += workers[i].acc[op].errors;
		s->bytes += workers[i].acc[op].bytes;
	}
	s->count = n;
	if (n == 0) {
		return 0;
	}
	all = malloc(n * sizeof(*all));
	if (all == NULL) {
		return -ENOMEM;
	}
	n = 0;
	for (int i = 0; i < cfg.threads; i++) {
		if (workers[i].acc[op].n == 0) {
			continue; /* its lat_ms may be NULL */
		}
		memcpy(all + n, workers[i].acc[op].lat_ms, workers[i].acc[op].n * sizeof(*all));
		n += workers[i].acc[op].n;
	}
	qsort(all, n, sizeof(*all), cmp_double);
	s->p50 = pct(all, n, 50);
	s->p95 = pct(all, n, 95);
	s->p99 = pct(all, n, 99);
	free(all);
	return 0;
}

static void print_header(void)
{
	printf("%-8s %9s %10s %9s %9s %9s %9s %7s\n", "op", "count", "ops/s", "MB/s", "p50 ms",
	       "p95 ms", "p99 ms", "errors");
}

/* One human line and keeps the machine line for the end, so RESULT lines come last. */
static void print_op(enum op op, double secs, char *results, size_t len)
{
	struct summary s;
	double ops_s, mb_s;
	size_t used = strlen(results);

	if (summarize(op, &s) != 0) {
		fprintf(stderr, "fsmix: out of memory summarizing %s\n", op_names[op]);
		return;
	}
	ops_s = secs > 0 ? (double)s.count / secs : 0;
	mb_s = secs > 0 ? (double)s.bytes / 1e6 / secs : 0;
	printf("%-8s %9" PRIu64 " %10.1f %9.2f %9.3f %9.3f %9.3f %7" PRIu64 "\n", op_names[op],
	       s.count, ops_s, mb_s, s.p50, s.p95, s.p99, s.errors);
	if (used < len) {
		snprintf(results + used, len - used,
			 "RESULT scenario=%s op=%s ops_s=%.1f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f "
			 "mb_s=%.2f errors=%" PRIu64 "\n",
			 cfg.scenario, op_names[op], ops_s, s.p50, s.p95, s.p99, mb_s, s.errors);
	}
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: fsmix --dir D [--threads N] [--seconds S] [--scenario NAME] [--seed N]\n"
	    "             [--mix put:40,get:55,delete:5[,list:2]] [--sizes 1K-16K | --dist "
	    "normal-load]\n"
	    "             [--files F] [--fsync] [--keep] [--grace S]\n"
	    "       fsmix --dir D --meta create,stat,readdir,rename,unlink [--threads N]\n"
	    "             [--seconds S] [--ops N] [--scenario NAME]\n"
	    "Runs a file workload in a new private directory below D and removes it after.\n\n"
	    "Mix mode: F files (default 1000, split between the threads) are written first\n"
	    "(not timed), then each thread picks operations by the --mix weights for S seconds\n"
	    "(default 10): put = create/truncate + write + [fsync] + close of one of its files,\n"
	    "get = open + read to EOF (bytes checked) + close, delete = unlink, list = readdir\n"
	    "of the shared directory of all F files.  Sizes are uniform in --sizes or follow\n"
	    "the seed's normal-load classes (60%% 1-10KB, 25%% 10-100KB, 10%% 100KB-1MB,\n"
	    "4%% 1-10MB, 1%% 10-16MiB).\n"
	    "Meta mode: each thread works in its own subdirectory; the listed operations run\n"
	    "as separate phases in the order create, stat, readdir, rename, unlink, each for\n"
	    "at most S seconds and N operations per thread (--ops).  create makes empty files\n"
	    "and always runs; stat and rename pick among them; unlink removes them in order.\n\n"
	    "Prints per operation: count, ops/s, MB/s (10^6 bytes), p50/p95/p99 latency of\n"
	    "successful operations in ms, and errors; then one line per operation:\n"
	    "RESULT scenario=NAME op=OP ops_s=X p50_ms=X p95_ms=X p99_ms=X mb_s=X errors=N\n"
	    "Exit status 0; 1 if any operation failed; 2 on bad usage; 3 if an operation\n"
	    "hung for longer than S + grace (default 30) seconds.\n");
}

/* "16K", "1M", "512" (bytes; K, M, G are powers of 1024). */
static int parse_size(const char *s, const char **end, size_t *out)
{
	char *e;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &e, 10);
	if (errno != 0 || e == s) {
		return -EINVAL;
	}
	switch (*e) {
	case 'k':
	case 'K':
		v <<= 10;
		e++;
		break;
	case 'm':
	case 'M':
		v <<= 20;
		e++;
		break;
	case 'g':
	case 'G':
		v <<= 30;
		e++;
		break;
	default:
		break;
	}
	if (v > ((unsigned long long)1 << 32)) {
		return -ERANGE;
	}
	*out = (size_t)v;
	*end = e;
	return 0;
}

static int parse_sizes(const char *s)
{
	const char *e;

	if (parse_size(s, &e, &cfg.min_size) != 0) {
		return -EINVAL;
	}
	if (*e == '\0') {
		cfg.max_size = cfg.min_size;
		return 0;
	}
	if (*e != '-' || parse_size(e + 1, &e, &cfg.max_size) != 0 || *e != '\0' ||
	    cfg.max_size < cfg.min_size) {
		return -EINVAL;
	}
	return 0;
}

static int find_op(const char *name, size_t len, int first, int last)
{
	for (int op = first; op <= last; op++) {
		if (strlen(op_names[op]) == len && strncmp(op_names[op], name, len) == 0) {
			return op;
		}
	}
	return -1;
}

static int parse_mix(const char *s)
{
	memset(cfg.weight, 0, sizeof(cfg.weight));
	while (*s != '\0') {
		const char *colon = strchr(s, ':');
		char *e;
		unsigned long v;
		int op;

		if (colon == NULL || (op = find_op(s, (size_t)(colon - s), OP_PUT, OP_LIST)) < 0) {
			return -EINVAL;
		}
		errno = 0;
		v = strtoul(colon + 1, &e, 10);
		if (errno != 0 || e == colon + 1 || v > 1000000 || (*e != ',' && *e != '\0')) {
			return -EINVAL;
		}
		cfg.weight[op] = (unsigned)v;
		s = *e == ',' ? e + 1 : e;
	}
	if (cfg.weight[OP_PUT] + cfg.weight[OP_GET] + cfg.weight[OP_DELETE] + cfg.weight[OP_LIST] ==
	    0) {
		return -EINVAL;
	}
	return 0;
}

static int parse_meta(const char *s)
{
	while (*s != '\0') {
		size_t len = strcspn(s, ",");
		int op = find_op(s, len, OP_CREATE, OP_UNLINK);

		if (op < 0) {
			return -EINVAL;
		}
		cfg.meta_ops[op] = 1;
		s += len;
		if (*s == ',') {
			s++;
		}
	}
	cfg.meta = 1;
	return 0;
}

static int parse_num(const char *s, double lo, double hi, double *out)
{
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (errno != 0 || e == s || *e != '\0' || !(v >= lo && v <= hi)) {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, NULL, 'd'},	{"threads", required_argument, NULL, 't'},
	    {"seconds", required_argument, NULL, 's'},	{"mix", required_argument, NULL, 'm'},
	    {"sizes", required_argument, NULL, 'z'},	{"dist", required_argument, NULL, 'D'},
	    {"files", required_argument, NULL, 'f'},	{"fsync", no_argument, NULL, 'F'},
	    {"meta", required_argument, NULL, 'M'},	{"ops", required_argument, NULL, 'o'},
	    {"scenario", required_argument, NULL, 'n'}, {"seed", required_argument, NULL, 'r'},
	    {"keep", no_argument, NULL, 'k'},		{"grace", required_argument, NULL, 'g'},
	    {"help", no_argument, NULL, 'h'},		{NULL, 0, NULL, 0},
	};
	double v;
	int o;

	cfg.threads = 4;
	cfg.seconds = 10;
	cfg.grace = 30;
	cfg.files = 1000;
	cfg.min_size = 1024;
	cfg.max_size = 16384;
	cfg.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	parse_mix("put:40,get:55,delete:5");
	while ((o = getopt_long(argc, argv, "d:t:s:h", opts, NULL)) != -1) {
		int rc = 0;

		switch (o) {
		case 'd':
			cfg.dir = optarg;
			break;
		case 't':
			rc = parse_num(optarg, 1, MAX_THREADS, &v);
			cfg.threads = (int)v;
			break;
		case 's':
			rc = parse_num(optarg, 0.1, 86400, &v);
			cfg.seconds = v;
			break;
		case 'g':
			rc = parse_num(optarg, 1, 86400, &v);
			cfg.grace = v;
			break;
		case 'm':
			rc = parse_mix(optarg);
			break;
		case 'z':
			rc = parse_sizes(optarg);
			cfg.normal_load = 0;
			break;
		case 'D':
			rc = strcmp(optarg, "normal-load") == 0 ? 0 : -EINVAL;
			cfg.normal_load = 1;
			break;
		case 'f':
			rc = parse_num(optarg, 1, 10000000, &v);
			cfg.files = (size_t)v;
			break;
		case 'F':
			cfg.fsync = 1;
			break;
		case 'M':
			rc = parse_meta(optarg);
			break;
		case 'o':
			rc = parse_num(optarg, 1, 1e12, &v);
			cfg.ops = (uint64_t)v;
			break;
		case 'n':
			cfg.scenario = optarg;
			rc = strpbrk(optarg, " \t\n=") != NULL ? -EINVAL : 0;
			break;
		case 'r':
			rc = parse_num(optarg, 1, 1e18, &v);
			cfg.seed = (uint64_t)v;
			break;
		case 'k':
			cfg.keep = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
		if (rc != 0) {
			fprintf(stderr, "fsmix: bad option value: %s\n", optarg);
			return -EINVAL;
		}
	}
	if (optind != argc || cfg.dir == NULL) {
		return -EINVAL;
	}
	if (cfg.max_size == 0 && !cfg.normal_load && !cfg.meta) {
		cfg.max_size = cfg.min_size = 1;
	}
	if (cfg.scenario == NULL) {
		cfg.scenario = cfg.meta ? "meta" : "mix";
	}
	if (cfg.files < (size_t)cfg.threads) {
		cfg.files = (size_t)cfg.threads;
	}
	return 0;
}

static int setup(void)
{
	size_t maxsz = cfg.normal_load ? NORMAL_LOAD_CAP : cfg.max_size;
	uint64_t s = cfg.seed | 1;
	char path[PATH_MAX];

	if (cfg.meta) {
		maxsz = 0;
	}
	g.content_len = maxsz + CONTENT_SLACK;
	g.content = malloc(g.content_len);
	if (g.content == NULL) {
		return -ENOMEM;
	}
	/* incompressible bytes, so no layer can win by compressing */
	for (size_t i = 0; i + 8 <= g.content_len; i += 8) {
		uint64_t r = rnd(&s);

		memcpy(g.content + i, &r, 8);
	}
	if (strlen(cfg.dir) + 32 > sizeof(g.root)) {
		fprintf(stderr, "fsmix: --dir is too long\n");
		return -ENAMETOOLONG;
	}
	snprintf(g.root, sizeof(g.root), "%s/fsmix.%ld.%04x", cfg.dir, (long)getpid(),
		 (unsigned)(rnd(&s) & 0xffff));
	if (mkdir(g.root, 0755) != 0) {
		fprintf(stderr, "fsmix: mkdir %s: %s\n", g.root, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/data", g.root);
	if (!cfg.meta && mkdir(path, 0755) != 0) {
		fprintf(stderr, "fsmix: mkdir %s: %s\n", path, strerror(errno));
		return -errno;
	}
	workers = calloc((size_t)cfg.threads, sizeof(*workers));
	if (workers == NULL) {
		return -ENOMEM;
	}
	for (int i = 0; i < cfg.threads; i++) {
		struct worker *w = &workers[i];

		w->idx = i;
		w->cur_op = -1;
		w->rng = (cfg.seed + (uint64_t)i * UINT64_C(0x9E3779B97F4A7C15)) | 1;
		w->buf = malloc(IO_CHUNK);
		if (w->buf == NULL) {
			return -ENOMEM;
		}
		if (cfg.meta) {
			snprintf(path, sizeof(path), "%s/m%02d", g.root, i);
			if (mkdir(path, 0755) != 0) {
				fprintf(stderr, "fsmix: mkdir %s: %s\n", path, strerror(errno));
				return -errno;
			}
			continue;
		}
		/* threads own disjoint files, so no file is read while another thread writes it */
		w->n_slots = cfg.files / (size_t)cfg.threads +
			     ((size_t)i < cfg.files % (size_t)cfg.threads ? 1 : 0);
		w->slots = calloc(w->n_slots, sizeof(*w->slots));
		if (w->slots == NULL) {
			return -ENOMEM;
		}
		for (size_t j = 0; j < w->n_slots; j++) {
			w->slots[j].size = -1;
			w->slots[j].prev_size = -1;
		}
	}
	return 0;
}

static void print_config(void)
{
	printf("fsmix: scenario=%s dir=%s threads=%d seconds=%g", cfg.scenario, g.root, cfg.threads,
	       cfg.seconds);
	if (cfg.meta) {
		printf(" meta=");
		for (int op = OP_CREATE, first = 1; op <= OP_UNLINK; op++) {
			if (cfg.meta_ops[op]) {
				printf("%s%s", first ? "" : ",", op_names[op]);
				first = 0;
			}
		}
		if (cfg.ops != 0) {
			printf(" ops=%" PRIu64 "/thread/phase", cfg.ops);
		}
	} else {
		printf(" mix=put:%u,get:%u,delete:%u,list:%u", cfg.weight[OP_PUT],
		       cfg.weight[OP_GET], cfg.weight[OP_DELETE], cfg.weight[OP_LIST]);
		if (cfg.normal_load) {
			printf(" sizes=normal-load");
		} else {
			printf(" sizes=%zu-%zu", cfg.min_size, cfg.max_size);
		}
		printf(" files=%zu fsync=%s", cfg.files, cfg.fsync ? "yes" : "no");
	}
	printf("\n");
}

/* Runs the timed phases and prints the figures.  Returns the exit status. */
static int run(void)
{
	static char results[OP_COUNT * 256];
	uint64_t errors = 0;
	double secs;

	if (!cfg.meta) {
		uint64_t bytes = 0;
		size_t made = 0;

		secs = run_phase(PH_PREFILL, cfg.seconds);
		if (secs < 0) {
			return 3;
		}
		for (int i = 0; i < cfg.threads; i++) {
			for (size_t j = 0; j < workers[i].n_slots; j++) {
				if (workers[i].slots[j].size >= 0) {
					made++;
					bytes += (uint64_t)workers[i].slots[j].size;
				}
			}
		}
		printf("prefill: %zu of %zu files, %.1f MB in %.2f s (not counted)\n", made,
		       cfg.files, (double)bytes / 1e6, secs);
		secs = run_phase(PH_MIX, cfg.seconds);
		if (secs < 0) {
			return 3;
		}
		print_header();
		for (int op = OP_PUT; op <= OP_LIST; op++) {
			if (cfg.weight[op] != 0) {
				print_op((enum op)op, secs, results, sizeof(results));
			}
		}
	} else {
		print_header();
		for (int op = OP_CREATE; op <= OP_UNLINK; op++) {
			secs = run_phase(PH_META_FIRST + op - OP_CREATE, cfg.seconds);
			if (secs < 0) {
				return 3;
			}
			if (cfg.meta_ops[op]) {
				print_op((enum op)op, secs, results, sizeof(results));
			}
		}
	}
	for (int i = 0; i < cfg.threads; i++) {
		for (int op = 0; op < OP_COUNT; op++) {
			errors += workers[i].acc[op].errors;
		}
	}
	fflush(stdout);
	if (run_phase(PH_CLEANUP, cfg.seconds) < 0) {
		return 3;
	}
	if (!cfg.keep) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/data", g.root);
		if (!cfg.meta && rmdir(path) != 0) {
			report_err("cleanup rmdir", path, errno);
		}
		if (rmdir(g.root) != 0) {
			report_err("cleanup rmdir", g.root, errno);
		}
	}
	fputs(results, stdout);
	return errors != 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	int status;

	if (parse_args(argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	if (setup() != 0) {
		return 2;
	}
	for (int i = 0; i < cfg.threads; i++) {
		if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]) != 0) {
			fprintf(stderr, "fsmix: cannot start thread %d\n", i);
			return 2;
		}
	}
	print_config();
	fflush(stdout);
	status = run();
	fflush(stdout);
	if (status == 3) {
		/* a worker is stuck in a filesystem call; exiting is the only way out */
		fprintf(stderr, "fsmix: giving up after %.0f s of grace\n", cfg.grace);
		_exit(3);
	}
	pthread_mutex_lock(&g.mu);
	g.phase = PH_EXIT;
	g.gen++;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	for (int i = 0; i < cfg.threads; i++) {
		pthread_join(workers[i].tid, NULL);
		free(workers[i].buf);
		free(workers[i].slots);
		free(workers[i].renamed);
		for (int op = 0; op < OP_COUNT; op++) {
			free(workers[i].acc[op].lat_ms);
		}
	}
	free(workers);
	free(g.content);
	return status;
}
