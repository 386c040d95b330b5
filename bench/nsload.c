/* nsload.c: the namespace filler and prober of bench/namespace.sh -- puts
 * tiny objects (inline in their inode rows, so only metadata is measured)
 * into many directories and one huge directory as fast as T threads go,
 * and measures lookup, get and list latencies at the current size.  A
 * measuring tool, not a test; talks to the cluster through the client
 * library only.
 *
 * Entry i is "h/f<i>" (the huge directory) when i % 100 < huge_pct, else
 * "d<hash(i) % dirs>/f<i>", so any i below the filled count names an
 * existing object and a probe can pick them at random.
 *
 * Usage: nsload fill  -c CONF -b BUCKET --from I --to J [-t T] [--dirs D] [--huge-pct P]
 *        nsload probe -c CONF -b BUCKET --to J [--samples S] [--dirs D] [--huge-pct P]
 * fill prints "FILL n=N s=S rate=R"; probe prints one line of
 * key=value figures (milliseconds) for the script's CSV. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/config.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/meta_client.h"
#include "../common/object.h"
#include "../proto/meta.h"

struct ns {
	struct objc *oc;
	const char *bucket;
	long from, to, dirs;
	int huge_pct;
	atomic_long next, done, failed;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void key_of(const struct ns *s, long i, char *key, size_t cap)
{
	if (i % 100 < s->huge_pct) {
		snprintf(key, cap, "h/f%010ld", i);
	} else {
		snprintf(key, cap, "d%05llu/f%010ld",
			 (unsigned long long)(mix((uint64_t)i) % (uint64_t)s->dirs), i);
	}
}

static void *filler(void *arg)
{
	struct ns *s = arg;
	char key[64], val[16];

	for (;;) {
		long i = atomic_fetch_add(&s->next, 1);
		int rc, tries;

		if (i >= s->to) {
			return NULL;
		}
		key_of(s, i, key, sizeof(key));
		memset(val, 'a' + (int)(i % 26), sizeof(val));
		/* A put retried after a leader change replaces the same content. */
		for (tries = 0; tries < 5; tries++) {
			if ((rc = obj_put_buf(s->oc, s->bucket, key, val, sizeof(val))) == 0) {
				break;
			}
		}
		if (rc != 0) {
			fprintf(stderr, "nsload: put %s: %s\n", key, obj_strerror(rc));
			atomic_fetch_add(&s->failed, 1);
		}
		atomic_fetch_add(&s->done, 1);
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n ? v[(size_t)(p * (double)(n - 1))] : 0;
}

static int count_fn(void *arg, const char *path, uint64_t size, int64_t mtime_ns)
{
	(void)path;
	(void)size;
	(void)mtime_ns;
	(*(long *)arg)++;
	return 0;
}

struct walk {
	long n;
	char last[META_NAME_MAX + 1];
};

static int walk_dent(void *arg, const char *name, const struct meta_attr *a)
{
	struct walk *w = arg;

	(void)a;
	snprintf(w->last, sizeof(w->last), "%s", name);
	w->n++;
	return 0;
}

/* Lookup (META_RESOLVE of the path), get (resolve + inline content) and
 * list (one page of the huge directory; a whole small directory) at the
 * current size; readdir pages of the huge directory through META_READDIR. */
static int probe(struct ns *s, long samples)
{
	struct mc *mc;
	double *res = calloc((size_t)samples, sizeof(double));
	double *get = calloc((size_t)samples, sizeof(double));
	double *lst = calloc((size_t)samples, sizeof(double));
	struct meta_attr a;
	char key[64];
	long n;
	int more, rc;
	double t;

	if (res == NULL || get == NULL || lst == NULL) {
		return -ENOMEM;
	}
	if ((rc = mc_open(objc_cl(s->oc), s->bucket, &mc)) != 0) {
		return rc;
	}
	for (long k = 0; k < samples; k++) {
		long i = (long)(mix((uint64_t)k * 7919 + (uint64_t)s->to) % (uint64_t)s->to);
		uint8_t *buf = NULL;
		size_t len;

		key_of(s, i, key, sizeof(key));
		t = now_s();
		rc = mc_resolve(mc, key, &a);
		res[k] = (now_s() - t) * 1e3;
		if (rc != 0) {
			fprintf(stderr, "nsload: resolve %s: %s\n", key, obj_strerror(rc));
			return rc;
		}
		t = now_s();
		rc = obj_get_buf(s->oc, s->bucket, key, &buf, &len);
		get[k] = (now_s() - t) * 1e3;
		free(buf);
		if (rc != 0) {
			fprintf(stderr, "nsload: get %s: %s\n", key, obj_strerror(rc));
			return rc;
		}
		/* A page of 1000 keys of the huge directory from a random place. */
		snprintf(key, sizeof(key), "h/f%010ld", i);
		n = 0;
		t = now_s();
		rc = mc_list(mc, "h/", key, 1000, count_fn, &n, &more);
		lst[k] = (now_s() - t) * 1e3;
		if (rc < 0) {
			fprintf(stderr, "nsload: list h/: %s\n", obj_strerror(rc));
			return rc;
		}
	}
	printf("lookup_p50_ms=%.3f lookup_p99_ms=%.3f get_p50_ms=%.3f get_p99_ms=%.3f "
	       "list1000_p50_ms=%.3f list1000_p99_ms=%.3f",
	       pct(res, (size_t)samples, 0.5), pct(res, (size_t)samples, 0.99),
	       pct(get, (size_t)samples, 0.5), pct(get, (size_t)samples, 0.99),
	       pct(lst, (size_t)samples, 0.5), pct(lst, (size_t)samples, 0.99));
	/* Whole listing of one ordinary directory (objects), and the whole
	 * huge directory in META_READDIR pages of 1,024 (name order; the mount
	 * pages the same way, by cookie: META_READDIR_C). */
	snprintf(key, sizeof(key), "d%05d/", 0);
	n = 0;
	t = now_s();
	rc = mc_list_each(mc, key, 1000, count_fn, &n);
	printf(" dir_list_n=%ld dir_list_ms=%.3f", n, (now_s() - t) * 1e3);
	if (rc < 0 || (rc = mc_resolve(mc, "h", &a)) != 0) {
		return rc;
	}
	{
		struct walk w = {.n = 0};
		double worst = 0;

		t = now_s();
		do {
			double t1 = now_s(), d;
			char after[META_NAME_MAX + 1];
			long before = w.n;

			memcpy(after, w.last, sizeof(after));
			rc = mc_readdir(mc, a.ino, after, META_READDIR_MAX, walk_dent, &w, &more);
			d = (now_s() - t1) * 1e3;
			worst = d > worst ? d : worst;
			if (rc < 0 || w.n == before) {
				break;
			}
		} while (more);
		printf(" readdir_n=%ld readdir_ms=%.1f readdir_page_max_ms=%.3f", w.n,
		       (now_s() - t) * 1e3, worst);
	}
	mc_close(mc);
	printf("\n");
	free(res);
	free(get);
	free(lst);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: nsload fill|probe -c CONF -b BUCKET [--from I] --to J [-t THREADS]\n"
		   "                         [--dirs D] [--huge-pct P] [--samples S]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"conf", required_argument, NULL, 'c'},	{"bucket", required_argument, NULL, 'b'},
	    {"from", required_argument, NULL, 'F'},	{"to", required_argument, NULL, 'T'},
	    {"threads", required_argument, NULL, 't'},	{"dirs", required_argument, NULL, 'D'},
	    {"huge-pct", required_argument, NULL, 'H'}, {"samples", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},		{NULL, 0, NULL, 0},
	};
	struct ns s = {.bucket = "demo", .dirs = 1000, .huge_pct = 50};
	const char *conf = NULL, *mode;
	long threads = 16, samples = 200;
	struct cfg cfg;
	char err[256];
	int o, rc;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	mode = argv[1];
	optind = 2;
	while ((o = getopt_long(argc, argv, "c:b:t:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			conf = optarg;
			break;
		case 'b':
			s.bucket = optarg;
			break;
		case 'F':
			s.from = atol(optarg);
			break;
		case 'T':
			s.to = atol(optarg);
			break;
		case 't':
			threads = atol(optarg);
			break;
		case 'D':
			s.dirs = atol(optarg);
			break;
		case 'H':
			s.huge_pct = atoi(optarg);
			break;
		case 'S':
			samples = atol(optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (conf == NULL || s.to <= s.from || s.from < 0 || threads < 1 || threads > 256 ||
	    s.dirs < 1 || s.huge_pct < 0 || s.huge_pct > 100 || samples < 1 ||
	    (strcmp(mode, "fill") != 0 && strcmp(mode, "probe") != 0)) {
		usage(stderr);
		return 2;
	}
	log_set_level(LOG_LVL_ERROR);
	if (cfg_load_file(conf, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "nsload: %s\n", err);
		return 2;
	}
	if (objc_open(&cfg, &s.oc) != 0) {
		fprintf(stderr, "nsload: cannot connect\n");
		return 1;
	}
	cl_wait_connected(objc_cl(s.oc), 3000);
	if (strcmp(mode, "probe") == 0) {
		rc = probe(&s, samples);
		objc_close(s.oc);
		return rc == 0 ? 0 : 1;
	}
	{
		pthread_t *th = calloc((size_t)threads, sizeof(*th));
		double t0 = now_s(), dt;

		if (th == NULL) {
			return 1;
		}
		/* A shard still busy (a loaded machine) is waited for. */
		for (int tries = 0; tries < 10; tries++) {
			rc = bucket_create(s.oc, s.bucket);
			if (rc == 0 || rc == -EEXIST) {
				break;
			}
		}
		if (rc != 0 && rc != -EEXIST) {
			fprintf(stderr, "nsload: bucket %s: %s\n", s.bucket, obj_strerror(rc));
			return 1;
		}
		atomic_store(&s.next, s.from);
		for (long i = 0; i < threads; i++) {
			pthread_create(&th[i], NULL, filler, &s);
		}
		for (long i = 0; i < threads; i++) {
			pthread_join(th[i], NULL);
		}
		dt = now_s() - t0;
		printf("FILL n=%ld s=%.3f rate=%.1f failed=%ld\n", s.to - s.from, dt,
		       (double)(s.to - s.from) / dt, atomic_load(&s.failed));
		free(th);
	}
	objc_close(s.oc);
	return atomic_load(&s.failed) == 0 ? 0 : 1;
}
