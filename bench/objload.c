/* objload.c: a load generator for the seed's peak-load and disaster-recovery
 * scenarios (bench/burst.sh, bench/dr.sh): gets and puts of same-sized
 * objects through the client library, open-loop at a rate with bursts of
 * factor x the rate, or closed-loop as fast as T threads go.  Open-loop
 * latency is measured from each operation's scheduled time, so a cluster
 * that falls behind shows it as latency instead of silently issuing fewer
 * requests.  A measuring tool, not a test: every get is checked, though.
 *
 * Output: "PROGRESS s=N ops=M" every second while running (so a script can
 * wait for progress before a fault), then per second "SEC ..." lines, per
 * burst "BURST ..." lines (during it, and the same length after it), and
 * a "RESULT ..." summary. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/checksum.h"
#include "../common/config.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/object.h"
#include "../common/rand.h"

/* Operations recorded in one run; more end it early (2 M x 24 bytes). */
#define MAX_OPS (2u << 20)

struct rec {
	float sched; /* s since start: scheduled (open loop) or started */
	float lat;   /* ms; REC_FAILED, or REC_SKIPPED: taken after the end */
	uint8_t put;
};
#define REC_FAILED -1.0f
#define REC_SKIPPED -2.0f

struct load {
	struct objc *oc;
	const char *bucket;
	size_t size;
	long objects;
	double rate, factor, burst_len, burst_every, seconds;
	int put_pct;
	uint8_t *data;
	uint64_t csum;
	double *sched; /* open loop: each op's scheduled time */
	size_t n_sched;
	struct rec *recs;
	atomic_size_t next, done, failed;
	struct timespec t0;
};

static double now_s(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static int in_burst(const struct load *l, double t)
{
	if (l->factor <= 1 || l->burst_every <= 0) {
		return 0;
	}
	/* The first burst comes after one whole period of the base rate. */
	return t >= l->burst_every && fmod(t, l->burst_every) < l->burst_len;
}

static void sleep_until(const struct timespec *t0, double t)
{
	double d = t - now_s(t0);

	if (d > 0) {
		struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};

		nanosleep(&ts, NULL);
	}
}

static void *worker(void *arg)
{
	struct load *l = arg;
	uint64_t seed;
	char key[64];

	rand_bytes(&seed, sizeof(seed));
	for (;;) {
		size_t i = atomic_fetch_add(&l->next, 1);
		double start;
		int put, rc;
		long obj;

		if (i >= MAX_OPS || (l->sched != NULL && i >= l->n_sched)) {
			return NULL;
		}
		if (l->sched != NULL) {
			sleep_until(&l->t0, l->sched[i]);
			start = l->sched[i];
		} else {
			start = now_s(&l->t0);
			if (start >= l->seconds) {
				l->recs[i].lat = REC_SKIPPED;
				return NULL;
			}
		}
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		put = (int)((seed >> 33) % 100) < l->put_pct;
		obj = (long)((seed >> 17) % (uint64_t)l->objects);
		snprintf(key, sizeof(key), "load/obj-%06ld", obj);
		if (put) {
			rc = obj_put_buf(l->oc, l->bucket, key, l->data, l->size);
		} else {
			uint8_t *buf = NULL;
			size_t len = 0;

			/* -EAGAIN: a put replaced the object while it was read; the
			 * library leaves the retry to its caller (object.c). */
			for (int try = 0; try < 5; try++) {
				free(buf);
				buf = NULL;
				if ((rc = obj_get_buf(l->oc, l->bucket, key, &buf, &len)) !=
				    -EAGAIN) {
					break;
				}
			}
			if (rc == 0 && (len != l->size || csum64(buf, len) != l->csum)) {
				rc = -OBJ_ECHECKSUM;
			}
			free(buf);
		}
		if (rc != 0 && atomic_fetch_add(&l->failed, 1) < 5) {
			fprintf(stderr, "objload: %s %s: %s\n", put ? "put" : "get", key,
				obj_strerror(rc));
		}
		l->recs[i].sched = (float)start;
		l->recs[i].put = (uint8_t)put;
		l->recs[i].lat = rc == 0 ? (float)((now_s(&l->t0) - start) * 1000.0) : REC_FAILED;
		atomic_fetch_add(&l->done, 1);
	}
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x < y ? -1 : x > y;
}

/* Stats of the operations scheduled in [from, to). */
struct win {
	size_t ops, errors;
	double p50, p95, p99;
};

static void window(const struct load *l, size_t n, double from, double to, struct win *w)
{
	float *v = malloc((n ? n : 1) * sizeof(*v));
	size_t k = 0;

	memset(w, 0, sizeof(*w));
	if (v == NULL) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct rec *r = &l->recs[i];

		if (r->sched < from || r->sched >= to || r->lat == REC_SKIPPED) {
			continue;
		}
		if (r->lat < 0) {
			w->errors++;
			continue;
		}
		v[k++] = r->lat;
	}
	qsort(v, k, sizeof(*v), cmp_float);
	w->ops = k;
	if (k > 0) {
		w->p50 = v[k * 50 / 100];
		w->p95 = v[k * 95 / 100];
		w->p99 = v[k * 99 / 100 < k ? k * 99 / 100 : k - 1];
	}
	free(v);
}

static void *reporter(void *arg)
{
	struct load *l = arg;

	for (int s = 1;; s++) {
		sleep_until(&l->t0, s);
		if (s > l->seconds + 60) {
			return NULL; /* the workers are stuck: main reports it */
		}
		printf("PROGRESS s=%d ops=%zu\n", s, atomic_load(&l->done));
		fflush(stdout);
		if (s >= l->seconds) {
			return NULL;
		}
	}
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: objload [--bucket B] [--size S] [--objects N] [--threads T]\n"
		   "               [--seconds D] [--rate R [--burst-factor F --burst-len L\n"
		   "               --burst-every E]] [--put-pct P] [--scenario NAME]\n"
		   "Config from $OBJFS_CONF.  --rate 0 (default): closed loop.\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"bucket", required_argument, NULL, 'b'},
	    {"size", required_argument, NULL, 's'},
	    {"objects", required_argument, NULL, 'n'},
	    {"threads", required_argument, NULL, 'j'},
	    {"seconds", required_argument, NULL, 't'},
	    {"rate", required_argument, NULL, 'r'},
	    {"burst-factor", required_argument, NULL, 'f'},
	    {"burst-len", required_argument, NULL, 'L'},
	    {"burst-every", required_argument, NULL, 'E'},
	    {"put-pct", required_argument, NULL, 'p'},
	    {"scenario", required_argument, NULL, 'S'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct cfg cfg;
	struct load l = {.bucket = "load",
			 .size = 64 << 10,
			 .objects = 200,
			 .seconds = 60,
			 .factor = 1,
			 .burst_len = 5,
			 .burst_every = 30,
			 .put_pct = 30};
	const char *conf = getenv("OBJFS_CONF"), *scenario = "load";
	long threads = 16;
	pthread_t *th, rep;
	struct win all;
	char err[512];
	size_t n;
	int o, rc;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'b':
			l.bucket = optarg;
			break;
		case 's':
			l.size = (size_t)atol(optarg);
			break;
		case 'n':
			l.objects = atol(optarg);
			break;
		case 'j':
			threads = atol(optarg);
			break;
		case 't':
			l.seconds = atof(optarg);
			break;
		case 'r':
			l.rate = atof(optarg);
			break;
		case 'f':
			l.factor = atof(optarg);
			break;
		case 'L':
			l.burst_len = atof(optarg);
			break;
		case 'E':
			l.burst_every = atof(optarg);
			break;
		case 'p':
			l.put_pct = atoi(optarg);
			break;
		case 'S':
			scenario = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || conf == NULL || l.size == 0 || l.objects < 1 || threads < 1 ||
	    threads > 1024 || l.seconds <= 0 || l.rate < 0 || l.put_pct < 0 || l.put_pct > 100) {
		usage(stderr);
		return 2;
	}
	log_set_level(LOG_LVL_ERROR);
	if (cfg_load_file(conf, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "objload: %s\n", err);
		return 2;
	}
	l.data = malloc(l.size);
	l.recs = calloc(MAX_OPS, sizeof(*l.recs));
	th = calloc((size_t)threads, sizeof(*th));
	if (l.data == NULL || l.recs == NULL || th == NULL || rand_bytes(l.data, l.size) != 0 ||
	    objc_open(&cfg, &l.oc) != 0) {
		fprintf(stderr, "objload: cannot start\n");
		return 1;
	}
	l.csum = csum64(l.data, l.size);
	cl_wait_connected(objc_cl(l.oc), 3000);
	rc = bucket_create(l.oc, l.bucket);
	if (rc != 0 && rc != -EEXIST) {
		fprintf(stderr, "objload: bucket %s: %s\n", l.bucket, obj_strerror(rc));
		return 1;
	}
	/* Every object exists before the clock starts, so gets never miss. */
	for (long i = 0; i < l.objects; i++) {
		char key[64];

		snprintf(key, sizeof(key), "load/obj-%06ld", i);
		if ((rc = obj_put_buf(l.oc, l.bucket, key, l.data, l.size)) != 0) {
			fprintf(stderr, "objload: put %s: %s\n", key, obj_strerror(rc));
			return 1;
		}
	}
	if (l.rate > 0) {
		double t = 0;

		l.sched = malloc(MAX_OPS * sizeof(*l.sched));
		if (l.sched == NULL) {
			return 1;
		}
		while (t < l.seconds && l.n_sched < MAX_OPS) {
			l.sched[l.n_sched++] = t;
			t += 1.0 / (l.rate * (in_burst(&l, t) ? l.factor : 1));
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &l.t0);
	pthread_create(&rep, NULL, reporter, &l);
	for (long i = 0; i < threads; i++) {
		pthread_create(&th[i], NULL, worker, &l);
	}
	for (long i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
	}
	pthread_join(rep, NULL);
	n = atomic_load(&l.next);
	n = n > MAX_OPS ? MAX_OPS : n;
	if (l.sched != NULL && n > l.n_sched) {
		n = l.n_sched;
	}
	for (int s = 0; s < (int)ceil(l.seconds); s++) {
		struct win w;

		window(&l, n, s, s + 1, &w);
		printf("SEC s=%d burst=%d ops=%zu errors=%zu p50_ms=%.3f p95_ms=%.3f "
		       "p99_ms=%.3f\n",
		       s, in_burst(&l, s), w.ops, w.errors, w.p50, w.p95, w.p99);
	}
	if (l.rate > 0 && l.factor > 1) {
		int b = 0;

		/* Each burst with its "after" window inside the run. */
		for (double t = l.burst_every; t + 2 * l.burst_len <= l.seconds;
		     t += l.burst_every) {
			struct win before, during, after;

			window(&l, n, t - l.burst_len, t, &before);
			window(&l, n, t, t + l.burst_len, &during);
			window(&l, n, t + l.burst_len, t + 2 * l.burst_len, &after);
			printf("BURST n=%d at_s=%.0f before_p95_ms=%.3f during_p95_ms=%.3f "
			       "after_p95_ms=%.3f during_p99_ms=%.3f after_p99_ms=%.3f "
			       "during_ops_s=%.1f offered_ops_s=%.1f errors=%zu\n",
			       ++b, t, before.p95, during.p95, after.p95, during.p99, after.p99,
			       (double)during.ops / l.burst_len, l.rate * l.factor,
			       during.errors + after.errors);
		}
	}
	window(&l, n, 0, l.seconds + 1, &all);
	printf("RESULT scenario=%s op=mix ops_s=%.1f p50_ms=%.3f p95_ms=%.3f p99_ms=%.3f "
	       "mb_s=%.2f errors=%zu\n",
	       scenario, (double)all.ops / l.seconds, all.p50, all.p95, all.p99,
	       (double)all.ops * (double)l.size / l.seconds / 1e6, all.errors);
	objc_close(l.oc);
	free(l.sched);
	free(th);
	free(l.recs);
	free(l.data);
	return all.errors == 0 ? 0 : 1;
}
