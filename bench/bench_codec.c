/* bench_codec.c: measures ec_encode and ec_decode throughput on 4 MiB
 * blocks for the stock profiles.  Single-threaded; touches no disk or
 * network, so it isolates the codec from the rest of objfs. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/ec.h"
#include "../common/err.h"

/* The block size objfs writes, so the numbers predict real throughput. */
#define BLOCK_LEN ((size_t)4 << 20)

static const char *const profiles[] = {"4+2", "6+3", "8+4"};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench_codec [--seconds S] [--help]\n"
		"Prints encode and decode (2 data fragments lost) throughput in GB/s\n"
		"(10^9 bytes of block per second) for the 4+2, 6+3 and 8+4 profiles\n"
		"over %zu-byte blocks, running each measurement for S seconds\n"
		"(default 1).\n",
		BLOCK_LEN);
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v <= 0 || v > 3600) {
		return -EINVAL;
	}
	*out = v;
	return 0;
}

struct bench {
	struct ec_codec *c;
	struct ec_profile p;
	size_t fl;
	uint8_t *block;
	uint8_t *frags[EC_MAX_FRAGS];
};

static void bench_free(struct bench *b)
{
	for (int i = 0; i < EC_MAX_FRAGS; i++) {
		free(b->frags[i]);
	}
	free(b->block);
	ec_destroy(b->c);
}

static int bench_init(struct bench *b, const char *profile)
{
	int rc;

	memset(b, 0, sizeof(*b));
	rc = ec_profile_parse(profile, &b->p);
	if (rc < 0) {
		return rc;
	}
	b->c = ec_create(b->p, &rc);
	if (b->c == NULL) {
		return rc;
	}
	b->fl = ec_frag_len(b->p, BLOCK_LEN);
	b->block = malloc(BLOCK_LEN);
	if (b->block == NULL) {
		return -ENOMEM;
	}
	/* Non-trivial data; GF multiplies cost the same for any bytes, but
	 * zeros would let a future shortcut flatter the numbers. */
	for (size_t i = 0; i < BLOCK_LEN; i++) {
		b->block[i] = (uint8_t)(i * 2654435761u >> 13);
	}
	for (int i = 0; i < b->p.k + b->p.m; i++) {
		b->frags[i] = malloc(b->fl);
		if (b->frags[i] == NULL) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* Runs encode, or decode with data fragments 0 and 1 lost, for about
 * seconds; returns GB of block per second, or -1 if the codec failed. */
static double run(struct bench *b, int decode, double seconds)
{
	uint8_t present[EC_MAX_FRAGS];
	double start, elapsed;
	long iters = 0;

	memset(present, 1, sizeof(present));
	present[0] = 0;
	present[1] = 0;
	start = now_s();
	do {
		/* Batches keep the clock reads out of the measurement. */
		for (int i = 0; i < 8; i++) {
			int rc = decode ? ec_decode(b->c, b->fl, b->frags, present)
					: ec_encode(b->c, b->block, BLOCK_LEN, b->frags);

			if (rc < 0) {
				return -1;
			}
		}
		iters += 8;
		elapsed = now_s() - start;
	} while (elapsed < seconds);
	return (double)iters * (double)BLOCK_LEN / elapsed / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = 1.0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--seconds") == 0) {
			if (i + 1 < argc && parse_seconds(argv[i + 1], &seconds) == 0) {
				i++;
				continue;
			}
			fprintf(stderr, "bench_codec: --seconds needs a number in (0, 3600]\n");
			return 2;
		}
		fprintf(stderr, "bench_codec: unknown argument '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}
	for (size_t i = 0; i < OBJ_ARRAY_LEN(profiles); i++) {
		struct bench b;
		double enc, dec;
		int rc = bench_init(&b, profiles[i]);

		if (rc < 0) {
			fprintf(stderr, "bench_codec: %s: %s\n", profiles[i], obj_strerror(rc));
			bench_free(&b);
			return 1;
		}
		enc = run(&b, 0, seconds);
		/* The block is encoded, so decode rebuilds real data. */
		dec = run(&b, 1, seconds);
		if (enc < 0 || dec < 0) {
			fprintf(stderr, "bench_codec: %s: codec failed\n", profiles[i]);
			bench_free(&b);
			return 1;
		}
		printf("profile %s block %zu: encode %.2f GB/s, decode(2 lost) %.2f GB/s\n",
		       profiles[i], BLOCK_LEN, enc, dec);
		fflush(stdout);
		bench_free(&b);
	}
	return 0;
}
