/* bench_compress.c: what the block codecs (common/compress.c) do to a
 * file cut into 4 MiB blocks, as blockio would: stored/raw ratio and
 * compress / decompress MB/s on one core, for none, lz4 and zstd, the
 * trial included (a block it refuses costs only the trial).  Touches no
 * disk but the input file, and no network. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/compress.h"

#define BLOCK_LEN ((size_t)4 << 20)

/* CPU time of this thread: figures of one core, whatever else the
 * machine runs (a shared box would halve wall-clock rates). */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0, got;

	if (f == NULL) {
		return NULL;
	}
	do {
		if (n == cap) {
			uint8_t *nb = realloc(buf, cap = cap ? cap * 2 : BLOCK_LEN);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got > 0);
	fclose(f);
	*len = n;
	return buf;
}

/* One codec over every block of data: sums into the out-parameters. */
static int run(uint8_t codec, const uint8_t *data, size_t len, size_t *stored, double *ct,
	       double *dt, size_t *kept)
{
	size_t cap = cz_bound(codec, BLOCK_LEN);
	uint8_t *z = malloc(cap), *back = malloc(BLOCK_LEN);
	int rc = 0;

	*stored = 0;
	*ct = *dt = 0;
	*kept = 0;
	for (size_t off = 0; rc == 0 && off < len; off += BLOCK_LEN) {
		size_t n = len - off < BLOCK_LEN ? len - off : BLOCK_LEN;
		double t0 = now_s();
		ssize_t zl = cz_compress(codec, data + off, n, z, cap);

		*ct += now_s() - t0;
		if (zl < 0) {
			rc = (int)zl;
			break;
		}
		if (zl == 0) {
			*stored += n; /* stored raw: nothing to decompress */
			continue;
		}
		(*kept)++;
		*stored += (size_t)zl;
		t0 = now_s();
		rc = cz_decompress(codec, z, (size_t)zl, back, n);
		*dt += now_s() - t0;
		if (rc == 0 && memcmp(back, data + off, n) != 0) {
			rc = -EIO;
		}
	}
	free(z);
	free(back);
	return rc;
}

int main(int argc, char **argv)
{
	static const uint8_t codecs[] = {BLK_CODEC_LZ4, BLK_CODEC_ZSTD};

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: bench_compress FILE...\n"
			"For each FILE cut into 4 MiB blocks: per codec, the blocks kept\n"
			"compressed, stored/raw bytes, and compress and decompress MB/s\n"
			"(10^6 raw bytes per second of one core's CPU time; for blocks the\n"
			"trial turns away that is the trial's cost alone).\n");
		return argc < 2 ? 2 : 0;
	}
	printf("%-24s %-5s %7s %7s %10s %10s\n", "file", "codec", "kept", "ratio", "comp MB/s",
	       "dec MB/s");
	for (int i = 1; i < argc; i++) {
		size_t len;
		uint8_t *data = slurp(argv[i], &len);
		const char *name = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];

		if (data == NULL || len == 0) {
			fprintf(stderr, "bench_compress: cannot read %s\n", argv[i]);
			free(data);
			return 1;
		}
		for (size_t c = 0; c < sizeof(codecs); c++) {
			size_t stored, kept, blocks = (len + BLOCK_LEN - 1) / BLOCK_LEN;
			double ct, dt;
			int rc = run(codecs[c], data, len, &stored, &ct, &dt, &kept);

			if (rc != 0) {
				fprintf(stderr, "bench_compress: %s: %s failed (%d)\n", argv[i],
					cz_name(codecs[c]), rc);
				free(data);
				return 1;
			}
			char dec[16] = "-";

			/* Decompression speed over the blocks kept compressed. */
			if (kept > 0 && dt > 0) {
				snprintf(dec, sizeof(dec), "%.0f",
					 (double)kept * BLOCK_LEN / dt / 1e6);
			}
			printf("%-24s %-5s %3zu/%-3zu %7.3f %10.0f %10s\n", name,
			       cz_name(codecs[c]), kept, blocks, (double)stored / (double)len,
			       ct > 0 ? (double)len / ct / 1e6 : 0.0, dec);
		}
		free(data);
	}
	return 0;
}
