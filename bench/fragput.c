/* fragput.c: how fast one node's fragment store takes concurrent puts,
 * with each fragment syncing its own file and directory or with the puts
 * in progress sharing syncs (frag_set_sync).  T threads each put N
 * fragments of S bytes (4+2 fragments of 4·S-byte blocks, random block
 * ids) into a fresh store under DIR, which is removed afterwards.  A
 * measuring tool, not a test: the fragment store only, no network.
 *
 * Usage: fragput --dir DIR [--mode each|shared] [--threads T] [--count N] [--size S]
 * Prints "FRAGPUT mode=M threads=T puts=P s=S rate=R p50_ms=A p99_ms=B". */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/checksum.h"
#include "../common/ec.h"
#include "../common/err.h"
#include "../common/rand.h"
#include "../nodes/fragstore.h"

struct job {
	struct fragstore *fs;
	long count;
	size_t size;
	double *lat_ms; /* count entries */
	int rc;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run(void *arg)
{
	struct job *j = arg;
	const struct ec_profile p = {4, 2};
	uint8_t *data = malloc(j->size);
	struct frag_hdr h = {.k = 4, .m = 2, .block_len = 4 * (uint64_t)j->size};

	h.frag_len = (uint32_t)ec_frag_len(p, h.block_len);
	if (data == NULL || h.frag_len != j->size) {
		j->rc = data == NULL ? -ENOMEM : -EINVAL;
		free(data);
		return NULL;
	}
	for (long i = 0; i < j->count && j->rc == 0; i++) {
		double t0 = now_s();

		j->rc = rand_bytes(h.ref.block_id, BLOCK_ID_LEN);
		memcpy(data, h.ref.block_id, BLOCK_ID_LEN < j->size ? BLOCK_ID_LEN : j->size);
		h.ref.index = (uint8_t)(i % 6);
		h.csum = csum64(data, j->size);
		if (j->rc == 0) {
			j->rc = frag_put(j->fs, &h, data);
		}
		j->lat_ms[i] = (now_s() - t0) * 1e3;
	}
	free(data);
	return NULL;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(path);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: fragput --dir DIR [--mode each|shared] [--threads T] [--count N] "
		   "[--size BYTES]\n"
		   "Puts T x N fragments into a fresh fragment store under DIR (removed after)\n"
		   "and prints the rate and latencies.  Defaults: shared, 8 threads, 200 each,\n"
		   "16384 bytes (a multiple of 32).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", 1, 0, 'd'},	  {"mode", 1, 0, 'm'}, {"threads", 1, 0, 't'},
	    {"count", 1, 0, 'n'}, {"size", 1, 0, 's'}, {"help", 0, 0, 'h'},
	    {0, 0, 0, 0}};
	const char *dir = NULL, *mode = "shared";
	long threads = 8, count = 200, size = 16384;
	char path[4096];
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "d:m:t:n:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 't':
			threads = strtol(optarg, NULL, 10);
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 's':
			size = strtol(optarg, NULL, 10);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (dir == NULL || threads < 1 || threads > 256 || count < 1 || size < 32 ||
	    size % 32 != 0 || size > (1 << 24) ||
	    (strcmp(mode, "each") != 0 && strcmp(mode, "shared") != 0)) {
		usage(stderr);
		return 2;
	}
	snprintf(path, sizeof(path), "%s/fragput.%d", dir, (int)getpid());
	if (mkdir(path, 0755) < 0) {
		fprintf(stderr, "fragput: %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct fragstore *fs = NULL;
	struct job *jobs = calloc((size_t)threads, sizeof(*jobs));
	pthread_t *tids = calloc((size_t)threads, sizeof(*tids));
	double *lat = calloc((size_t)(threads * count), sizeof(*lat));

	rc = jobs == NULL || tids == NULL || lat == NULL ? -ENOMEM : frag_open(path, &fs);
	if (rc == 0) {
		rc = frag_set_sync(fs,
				   strcmp(mode, "shared") == 0 ? FRAG_SYNC_SHARED : FRAG_SYNC_EACH);
	}
	double t0 = now_s(), s = 0;

	for (long i = 0; rc == 0 && i < threads; i++) {
		jobs[i] = (struct job){fs, count, (size_t)size, lat + i * count, 0};
		pthread_create(&tids[i], NULL, run, &jobs[i]);
	}
	for (long i = 0; rc == 0 && i < threads; i++) {
		pthread_join(tids[i], NULL);
	}
	s = now_s() - t0;
	for (long i = 0; rc == 0 && i < threads; i++) {
		rc = jobs[i].rc;
	}
	frag_close(fs);
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (rc != 0) {
		fprintf(stderr, "fragput: %s\n", obj_strerror(rc));
	} else {
		long n = threads * count;

		qsort(lat, (size_t)n, sizeof(*lat), cmp_d);
		printf("FRAGPUT mode=%s threads=%ld puts=%ld s=%.3f rate=%.1f p50_ms=%.3f "
		       "p99_ms=%.3f\n",
		       mode, threads, n, s, (double)n / s, lat[n / 2], lat[(n * 99) / 100]);
	}
	free(jobs);
	free(tids);
	free(lat);
	return rc != 0;
}
