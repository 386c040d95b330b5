/* ctl_bench.c: objfsctl bench: put then get (then rm) of same-sized
 * objects from C threads sharing one client, with latency percentiles.
 * A measuring tool for bench/, not a test: it asserts only that every get
 * returned the bytes that were put. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/checksum.h"
#include "../common/err.h"
#include "../common/rand.h"
#include "bench_cmp.h"
#include "ctl.h"
#include "json.h"

/* Repeated runs kept for the spread; more would only take longer. */
#define BENCH_REPEAT_MAX 50

enum phase { PH_PUT, PH_GET, PH_RM };
static const char *const phase_name[] = {"put", "get", "rm"};

struct bench {
	struct objc *oc;
	const char *bucket;
	uint64_t size;
	long count, conc;
	double seconds;
	enum phase ph;
	uint8_t *data; /* size bytes of random data, shared by all puts */
	uint64_t csum;
	atomic_long next; /* next object index to work on */
	atomic_long done;
	atomic_long errors;
	long stored; /* objects the put phase completed */
	double *lat; /* per object, ms */
	struct timespec t0;
	int repeat;
	int quiet; /* --json: no text lines on stdout */
};

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void *worker(void *arg)
{
	struct bench *b = arg;
	char key[64];

	for (;;) {
		long i = atomic_fetch_add(&b->next, 1);
		long limit = b->ph == PH_PUT ? b->count : b->stored;
		struct timespec t;
		int rc = 0;

		if (i >= limit || (b->ph == PH_PUT && since(&b->t0) > b->seconds)) {
			return NULL;
		}
		snprintf(key, sizeof(key), "bench/obj-%08ld", i);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (b->ph == PH_PUT) {
			rc = obj_put_buf(b->oc, b->bucket, key, b->data, b->size);
		} else if (b->ph == PH_GET) {
			uint8_t *buf = NULL;
			size_t len = 0;

			rc = obj_get_buf(b->oc, b->bucket, key, &buf, &len);
			if (rc == 0 && (len != b->size || csum64(buf, len) != b->csum)) {
				rc = -OBJ_ECHECKSUM;
			}
			free(buf);
		} else {
			rc = obj_rm(b->oc, b->bucket, key);
		}
		b->lat[i] = since(&t) * 1000.0;
		if (rc != 0) {
			if (atomic_fetch_add(&b->errors, 1) == 0) {
				fprintf(stderr, "objfsctl bench: %s %s: %s\n", phase_name[b->ph],
					key, obj_strerror(rc));
			}
			b->lat[i] = -1;
		}
		atomic_fetch_add(&b->done, 1);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One phase of one run. */
struct phase_result {
	long ops, errors;
	double secs, ops_s, mb_s, p50, p95, p99;
};

static double pct(const double *v, long n, int p)
{
	long i = n * p / 100;

	return n == 0 ? 0.0 : v[i < n ? i : n - 1];
}

static int run_phase(struct bench *b, enum phase ph, struct phase_result *res)
{
	pthread_t *th = calloc((size_t)b->conc, sizeof(*th));
	long n, ok = 0;
	double secs, *v;

	if (th == NULL) {
		return -ENOMEM;
	}
	b->ph = ph;
	atomic_store(&b->next, 0);
	atomic_store(&b->done, 0);
	atomic_store(&b->errors, 0);
	clock_gettime(CLOCK_MONOTONIC, &b->t0);
	for (long i = 0; i < b->conc; i++) {
		pthread_create(&th[i], NULL, worker, b);
	}
	for (long i = 0; i < b->conc; i++) {
		pthread_join(th[i], NULL);
	}
	secs = since(&b->t0);
	free(th);
	n = atomic_load(&b->done);
	if (ph == PH_PUT) {
		b->stored = n;
	}
	v = malloc((size_t)(n ? n : 1) * sizeof(*v));
	if (v == NULL) {
		return -ENOMEM;
	}
	for (long i = 0; i < n; i++) {
		if (b->lat[i] >= 0) {
			v[ok++] = b->lat[i];
		}
	}
	qsort(v, (size_t)ok, sizeof(*v), cmp_double);
	res->ops = ok;
	res->errors = atomic_load(&b->errors);
	res->secs = secs;
	res->ops_s = (double)ok / secs;
	res->mb_s = ph == PH_RM ? 0.0 : (double)ok * (double)b->size / secs / 1e6;
	res->p50 = pct(v, ok, 50);
	res->p95 = pct(v, ok, 95);
	res->p99 = pct(v, ok, 99);
	free(v);
	if (!b->quiet) {
		printf("%-3s size=%-9llu conc=%-3ld ops=%-6ld err=%-3ld %9.1f MB/s %9.1f ops/s  "
		       "p50 %8.2f ms  p95 %8.2f ms  p99 %8.2f ms\n",
		       phase_name[ph], (unsigned long long)b->size, b->conc, ok, res->errors,
		       res->mb_s, res->ops_s, res->p50, res->p95, res->p99);
		fflush(stdout);
	}
	return res->errors == 0 ? 0 : -EIO;
}

static int cmp_phase_ops(const void *a, const void *b)
{
	return cmp_double(a, b);
}

static double median_of(double *x, int n)
{
	qsort(x, (size_t)n, sizeof(*x), cmp_phase_ops);
	return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

/* Folds the N runs of one phase into a row: medians, with min and max of
 * the figures the verdict reads. */
static void fold_runs(const struct bench *b, enum phase ph, const struct phase_result *r, int n,
		      struct bench_row *row)
{
	double x[BENCH_REPEAT_MAX];
	long ops = 0, errs = 0;

	memset(row, 0, sizeof(*row));
	snprintf(row->scenario, sizeof(row->scenario), "objfsctl.%llu.c%ld",
		 (unsigned long long)b->size, b->conc);
	snprintf(row->op, sizeof(row->op), "%s", phase_name[ph]);
	row->runs = n;
#define FOLD(field, out)                                                                           \
	do {                                                                                       \
		for (int i = 0; i < n; i++) {                                                      \
			x[i] = r[i].field;                                                         \
		}                                                                                  \
		out = median_of(x, n);                                                             \
	} while (0)
	FOLD(ops_s, row->ops_s);
	row->ops_s_min = x[0];
	row->ops_s_max = x[n - 1];
	FOLD(mb_s, row->mb_s);
	row->mb_s_min = x[0];
	row->mb_s_max = x[n - 1];
	FOLD(p95, row->p95_ms);
	row->p95_min = x[0];
	row->p95_max = x[n - 1];
	FOLD(p50, row->p50_ms);
	FOLD(p99, row->p99_ms);
#undef FOLD
	for (int i = 0; i < n; i++) {
		ops += r[i].ops;
		errs += r[i].errors;
	}
	row->errors = (double)errs;
	row->error_rate = ops + errs > 0 ? (double)errs / (double)(ops + errs) : 0.0;
}

static void write_json(FILE *f, const struct bench *b, const struct bench_rows *rows)
{
	char when[32];
	time_t now = time(NULL);
	struct tm tm;
	struct jw w;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	jw_init(&w, f, 1);
	jw_obj(&w, NULL);
	jw_str(&w, "tool", "objfsctl bench");
	jw_u64(&w, "format", 1);
	jw_str(&w, "date", when);
	jw_u64(&w, "size", b->size);
	jw_u64(&w, "count", (uint64_t)b->count);
	jw_u64(&w, "concurrency", (uint64_t)b->conc);
	jw_u64(&w, "repeat", (uint64_t)b->repeat);
	bench_rows_json(&w, rows);
	jw_finish(&w);
}

static int parse_factor(const char *opt, const char *arg, double *out)
{
	char *end;
	double v = strtod(arg, &end);

	if (*end != '\0' || !(v > 0) || v > 1000) {
		fprintf(stderr, "objfsctl bench: --%s: a positive number\n", opt);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static void bench_usage(FILE *f)
{
	fprintf(f,
		"Usage: objfsctl bench [--size S] [--count N] [--concurrency C] [--seconds T]\n"
		"                      [--bucket B] [--repeat R] [--json] [--output FILE]\n"
		"                      [--baseline FILE [--compare FILE] [--p95-factor X]\n"
		"                       [--throughput-factor X] [--error-factor X] [--min-ms MS]]\n"
		"Put N objects of S bytes (default 4M, 64) from C threads (default 1),\n"
		"stopping early after T seconds (default 30); then get each back and\n"
		"verify it; then remove them.  Prints per phase: MB/s, ops/s, p50, p95, p99.\n"
		"Objects are named bench/obj-NNNNNNNN in bucket B (default 'bench').\n"
		"  --repeat R     run it all R times (1..%d) and report the median of each\n"
		"                 figure with its min and max\n"
		"  --json         print the results as JSON instead (schema in objfsctl(8))\n"
		"  --output FILE  also write the JSON results to FILE\n"
		"  --baseline FILE  compare with saved results (JSON, or RESULT lines as in\n"
		"                 bench/baseline.txt): print each regression, exit 1 if any\n"
		"  --compare FILE   with --baseline: compare FILE instead of running\n"
		"  --p95-factor X        p95 above baseline x X regresses (default 1.2)\n"
		"  --throughput-factor X ops/s or MB/s below baseline x X (default 0.8)\n"
		"  --error-factor X      errors above baseline x X (default 2)\n"
		"  --min-ms MS           p95 changes under MS ms are noise (default 0)\n"
		"With --repeat, a figure regresses only if its best run does.\n"
		"Exit status: 0 ok, 1 errors or a regression, 2 bad usage.\n",
		BENCH_REPEAT_MAX);
}

int ctl_cmd_bench(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"size", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'n'},
	    {"concurrency", required_argument, NULL, 'j'},
	    {"seconds", required_argument, NULL, 't'},
	    {"bucket", required_argument, NULL, 'b'},
	    {"repeat", required_argument, NULL, 'r'},
	    {"json", no_argument, NULL, 'J'},
	    {"output", required_argument, NULL, 'o'},
	    {"baseline", required_argument, NULL, 'B'},
	    {"compare", required_argument, NULL, 'C'},
	    {"p95-factor", required_argument, NULL, 'P'},
	    {"throughput-factor", required_argument, NULL, 'T'},
	    {"error-factor", required_argument, NULL, 'E'},
	    {"min-ms", required_argument, NULL, 'M'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bench b = {.bucket = "bench",
			  .size = 4u << 20,
			  .count = 64,
			  .conc = 1,
			  .seconds = 30,
			  .repeat = 1};
	struct bench_thresholds th = BENCH_THRESHOLDS_SEED;
	struct bench_rows base = {0}, cur = {0};
	const char *output = NULL, *baseline = NULL, *compare = NULL;
	struct phase_result *res[3] = {NULL, NULL, NULL};
	char err[512];
	int o, rc = 0, json = 0, regressions = 0;

	while ((o = getopt_long(argc, argv, "s:n:j:t:b:h", opts, NULL)) != -1) {
		char *end;

		switch (o) {
		case 's':
			if (cfg_parse_size(optarg, &b.size) != 0 || b.size == 0 ||
			    b.size > (1ull << 30)) {
				fprintf(stderr, "objfsctl bench: --size: 1 byte to 1G\n");
				return CTL_USAGE;
			}
			break;
		case 'n':
			b.count = strtol(optarg, &end, 10);
			if (*end != '\0' || b.count < 1 || b.count > 10000000) {
				fprintf(stderr, "objfsctl bench: --count: 1..10000000\n");
				return CTL_USAGE;
			}
			break;
		case 'j':
			b.conc = strtol(optarg, &end, 10);
			if (*end != '\0' || b.conc < 1 || b.conc > 1024) {
				fprintf(stderr, "objfsctl bench: --concurrency: 1..1024\n");
				return CTL_USAGE;
			}
			break;
		case 't':
			b.seconds = strtod(optarg, &end);
			if (*end != '\0' || b.seconds <= 0) {
				fprintf(stderr, "objfsctl bench: --seconds: a positive number\n");
				return CTL_USAGE;
			}
			break;
		case 'b':
			b.bucket = optarg;
			break;
		case 'r':
			b.repeat = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || b.repeat < 1 || b.repeat > BENCH_REPEAT_MAX) {
				fprintf(stderr, "objfsctl bench: --repeat: 1..%d\n",
					BENCH_REPEAT_MAX);
				return CTL_USAGE;
			}
			break;
		case 'J':
			json = 1;
			break;
		case 'o':
			output = optarg;
			break;
		case 'B':
			baseline = optarg;
			break;
		case 'C':
			compare = optarg;
			break;
		case 'P':
			if (parse_factor("p95-factor", optarg, &th.p95_factor) != 0) {
				return CTL_USAGE;
			}
			break;
		case 'T':
			if (parse_factor("throughput-factor", optarg, &th.tput_factor) != 0) {
				return CTL_USAGE;
			}
			break;
		case 'E':
			if (parse_factor("error-factor", optarg, &th.err_factor) != 0) {
				return CTL_USAGE;
			}
			break;
		case 'M':
			th.min_ms = strtod(optarg, &end);
			if (*end != '\0' || th.min_ms < 0) {
				fprintf(stderr, "objfsctl bench: --min-ms: 0 or more\n");
				return CTL_USAGE;
			}
			break;
		case 'h':
			bench_usage(stdout);
			return CTL_OK;
		default:
			return CTL_USAGE;
		}
	}
	if (optind != argc || msg_check_bucket(b.bucket) != 0 ||
	    (compare != NULL && baseline == NULL)) {
		fprintf(stderr, "Usage: objfsctl bench [OPTIONS] (see --help)\n");
		return CTL_USAGE;
	}
	if (baseline != NULL && bench_load(baseline, &base, err, sizeof(err)) != 0) {
		fprintf(stderr, "objfsctl bench: --baseline %s\n", err);
		return CTL_FAIL;
	}
	if (compare != NULL) {
		size_t compared;

		if (bench_load(compare, &cur, err, sizeof(err)) != 0) {
			fprintf(stderr, "objfsctl bench: --compare %s\n", err);
			bench_rows_free(&base);
			return CTL_FAIL;
		}
		regressions = bench_compare(&base, &cur, &th, stdout, &compared);
		printf("regression check of %s against %s: %d regressions in %zu compared "
		       "rows\n",
		       compare, baseline, regressions, compared);
		bench_rows_free(&base);
		bench_rows_free(&cur);
		return regressions == 0 && compared > 0 ? CTL_OK : CTL_FAIL;
	}
	b.quiet = json;
	b.data = malloc(b.size);
	b.lat = calloc((size_t)b.count, sizeof(*b.lat));
	for (int p = 0; p < 3; p++) {
		res[p] = calloc((size_t)b.repeat, sizeof(*res[p]));
	}
	if (b.data == NULL || b.lat == NULL || res[0] == NULL || res[1] == NULL || res[2] == NULL ||
	    rand_bytes(b.data, b.size > 65536 ? 65536 : b.size) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint64_t off = 65536; off < b.size; off += 65536) {
		/* Random-looking but cheap: rotate the first 64 KiB. */
		size_t n = b.size - off < 65536 ? b.size - off : 65536;

		for (size_t i = 0; i < n; i++) {
			b.data[off + i] = (uint8_t)(b.data[i] ^ (off >> 16));
		}
	}
	b.csum = csum64(b.data, b.size);
	if (ctl_connect(c, &b.oc) != CTL_OK) {
		rc = -EIO;
		goto out;
	}
	cl_wait_connected(objc_cl(b.oc), 2000);
	rc = bucket_create(b.oc, b.bucket);
	if (rc != 0 && rc != -EEXIST) {
		fprintf(stderr, "objfsctl bench: bucket %s: %s\n", b.bucket, obj_strerror(rc));
		objc_close(b.oc);
		goto out;
	}
	rc = 0;
	for (int i = 0; i < b.repeat; i++) {
		if (b.repeat > 1 && !json) {
			printf("run %d of %d\n", i + 1, b.repeat);
		}
		rc |= run_phase(&b, PH_PUT, &res[PH_PUT][i]);
		rc |= run_phase(&b, PH_GET, &res[PH_GET][i]);
		rc |= run_phase(&b, PH_RM, &res[PH_RM][i]);
	}
	objc_close(b.oc);
	for (int p = 0; p < 3; p++) {
		struct bench_row row;

		fold_runs(&b, (enum phase)p, res[p], b.repeat, &row);
		if (bench_rows_add(&cur, &row) != 0) {
			rc = -ENOMEM;
		}
		if (b.repeat > 1 && !json) {
			printf("%-3s median of %d: %9.1f ops/s (%.1f..%.1f)  %9.1f MB/s "
			       "(%.1f..%.1f)  p95 %8.2f ms (%.2f..%.2f)\n",
			       row.op, b.repeat, row.ops_s, row.ops_s_min, row.ops_s_max, row.mb_s,
			       row.mb_s_min, row.mb_s_max, row.p95_ms, row.p95_min, row.p95_max);
		}
	}
	if (json) {
		write_json(stdout, &b, &cur);
	}
	if (output != NULL) {
		FILE *f = fopen(output, "w");

		if (f == NULL) {
			fprintf(stderr, "objfsctl bench: %s: %s\n", output, strerror(errno));
			rc = -EIO;
		} else {
			write_json(f, &b, &cur);
			if (fclose(f) != 0) {
				fprintf(stderr, "objfsctl bench: %s: %s\n", output,
					strerror(errno));
				rc = -EIO;
			}
		}
	}
	if (baseline != NULL) {
		size_t compared;
		/* With --json, stdout holds only the document. */
		FILE *f = json ? stderr : stdout;

		regressions = bench_compare(&base, &cur, &th, f, &compared);
		fprintf(f, "regression check against %s: %d regressions in %zu compared rows\n",
			baseline, regressions, compared);
		if (compared == 0) {
			regressions = 1; /* a baseline of other rows checks nothing */
		}
	}
out:
	for (int p = 0; p < 3; p++) {
		free(res[p]);
	}
	bench_rows_free(&base);
	bench_rows_free(&cur);
	free(b.data);
	free(b.lat);
	return rc == 0 && regressions == 0 ? CTL_OK : CTL_FAIL;
}
