/* fuzz_main.c: the main of a harness built without libFuzzer (gcc, the
 * plain and sanitizer builds): runs every file named on the command line,
 * or found in a directory named there, through LLVMFuzzerTestOneInput
 * once, so committed corpora and regression inputs replay in `make check`
 * on any compiler.  Exits 0 when every input ran, 1 on a file it could
 * not read; a crash is the harness's own abort. */
#ifndef OBJFS_LIBFUZZER

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	if (f == NULL) {
		perror(path);
		return 1;
	}
	for (;;) {
		size_t got;

		if (len == cap) {
			uint8_t *nb = realloc(buf, cap ? 2 * cap : 4096);

			if (nb == NULL) {
				rc = 1;
				break;
			}
			buf = nb;
			cap = cap ? 2 * cap : 4096;
		}
		got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0) {
			rc = ferror(f) ? 1 : 0;
			break;
		}
	}
	fclose(f);
	if (rc == 0) {
		/* An exact-size copy, as libFuzzer hands it over. */
		uint8_t *in = fuzz_dup(buf, len);

		LLVMFuzzerTestOneInput(in, len);
		free(in);
	} else {
		fprintf(stderr, "%s: cannot read\n", path);
	}
	free(buf);
	return rc;
}

static int run_path(const char *path, unsigned *count)
{
	struct stat st;
	struct dirent **names;
	int n, rc = 0;

	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return run_file(path);
	}
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		perror(path);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		char sub[4096];

		if (names[i]->d_name[0] != '.') {
			snprintf(sub, sizeof(sub), "%s/%s", path, names[i]->d_name);
			rc |= run_path(sub, count);
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned count = 0;
	int rc = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (int i = 1; i < argc; i++) {
		rc |= run_path(argv[i], &count);
	}
	printf("%s: %u inputs\n", argv[0], count);
	return rc;
}

#else
typedef int fuzz_main_unused; /* libFuzzer brings its own main */
#endif
