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
#include "ctl.h"

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

static int run_phase(struct bench *b, enum phase ph)
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
	printf("%-3s size=%-9llu conc=%-3ld ops=%-6ld err=%-3ld %9.1f MB/s %9.1f ops/s  "
	       "p50 %8.2f ms  p99 %8.2f ms\n",
	       phase_name[ph], (unsigned long long)b->size, b->conc, ok, atomic_load(&b->errors),
	       ph == PH_RM ? 0.0 : (double)ok * (double)b->size / secs / 1e6, (double)ok / secs,
	       ok ? v[(size_t)(ok * 50 / 100)] : 0.0,
	       ok ? v[(size_t)((ok * 99) / 100 < ok ? (ok * 99) / 100 : ok - 1)] : 0.0);
	free(v);
	return atomic_load(&b->errors) == 0 ? 0 : -EIO;
}

int ctl_cmd_bench(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"size", required_argument, NULL, 's'},
	    {"count", required_argument, NULL, 'n'},
	    {"concurrency", required_argument, NULL, 'j'},
	    {"seconds", required_argument, NULL, 't'},
	    {"bucket", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct bench b = {
	    .bucket = "bench", .size = 4u << 20, .count = 64, .conc = 1, .seconds = 30};
	int o, rc = 0;

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
		case 'h':
			printf(
			    "Usage: objfsctl bench [--size S] [--count N] [--concurrency C]\n"
			    "                      [--seconds T] [--bucket B]\n"
			    "Put N objects of S bytes (default 4M, 64) from C threads (default "
			    "1),\n"
			    "stopping early after T seconds (default 30); then get each back and\n"
			    "verify it; then remove them.  Prints per phase: MB/s, ops/s, p50, "
			    "p99.\n"
			    "Objects are named bench/obj-NNNNNNNN in bucket B (default "
			    "'bench').\n");
			return CTL_OK;
		default:
			return CTL_USAGE;
		}
	}
	if (optind != argc || msg_check_bucket(b.bucket) != 0) {
		fprintf(stderr, "Usage: objfsctl bench [OPTIONS] (see --help)\n");
		return CTL_USAGE;
	}
	b.data = malloc(b.size);
	b.lat = calloc((size_t)b.count, sizeof(*b.lat));
	if (b.data == NULL || b.lat == NULL ||
	    rand_bytes(b.data, b.size > 65536 ? 65536 : b.size) != 0) {
		free(b.data);
		free(b.lat);
		return CTL_FAIL;
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
		free(b.data);
		free(b.lat);
		return CTL_FAIL;
	}
	cl_wait_connected(objc_cl(b.oc), 2000);
	rc = bucket_create(b.oc, b.bucket);
	if (rc != 0 && rc != -EEXIST) {
		fprintf(stderr, "objfsctl bench: bucket %s: %s\n", b.bucket, obj_strerror(rc));
		objc_close(b.oc);
		free(b.data);
		free(b.lat);
		return CTL_FAIL;
	}
	rc = 0;
	rc |= run_phase(&b, PH_PUT);
	rc |= run_phase(&b, PH_GET);
	rc |= run_phase(&b, PH_RM);
	objc_close(b.oc);
	free(b.data);
	free(b.lat);
	return rc == 0 ? CTL_OK : CTL_FAIL;
}
