/* bench_cmp.h: benchmark results as rows, their files, and the regression
 * check of `objfsctl bench --baseline` and bench/run-fs.sh.  Owns the file
 * formats (JSON results, and the RESULT lines of bench/baseline.txt) and
 * the verdict; runs nothing and talks to no cluster.
 *
 * The verdict is the seed's RegressionDetector: p95 latency above
 * baseline x p95_factor, throughput (ops/s, MB/s) below baseline x
 * tput_factor, errors above baseline x err_factor.  A row measured several
 * times carries its spread, and the check uses its most favourable run
 * (highest throughput, lowest p95): a regression is reported only when
 * even the best of the repeated runs crossed the threshold, so one slow
 * run on a busy machine is not a verdict. */
#ifndef OBJFS_CTL_BENCH_CMP_H
#define OBJFS_CTL_BENCH_CMP_H

#include <stddef.h>
#include <stdio.h>

#define BENCH_NAME_MAX 128

struct bench_row {
	char scenario[BENCH_NAME_MAX];
	char op[32];
	double ops_s, mb_s, p50_ms, p95_ms, p99_ms; /* the median of its runs */
	double errors;				    /* count */
	double error_rate;			    /* errors / attempts; < 0 unknown */
	int runs;				    /* 0 or 1: no spread */
	double ops_s_min, ops_s_max, mb_s_min, mb_s_max, p95_min, p95_max;
};

struct bench_rows {
	struct bench_row *v;
	size_t n, cap;
};

struct bench_thresholds {
	double p95_factor;  /* 1.2 */
	double tput_factor; /* 0.8 */
	double err_factor;  /* 2.0 */
	double min_ms;	    /* p95 changes smaller than this, or p95 below it, are noise */
};

#define BENCH_THRESHOLDS_SEED                                                                      \
	{                                                                                          \
		1.2, 0.8, 2.0, 0.0                                                                 \
	}

/* Appends a copy of r.  Returns 0 or -ENOMEM. */
int bench_rows_add(struct bench_rows *rows, const struct bench_row *r);
void bench_rows_free(struct bench_rows *rows);

/* Reads a results file: a JSON document with a "results" array (what
 * objfsctl bench --output and bench/run-fs.sh write), or RESULT lines
 * (key=value words: scenario, op, ops_s, mb_s, p50_ms, p95_ms, p99_ms,
 * errors).  Returns 0, -ENOENT and friends, or -EINVAL with a message. */
int bench_load(const char *path, struct bench_rows *out, char *err, size_t errlen);

/* Writes rows as the "results" array member of an open JSON object. */
struct jw;
void bench_rows_json(struct jw *w, const struct bench_rows *rows);

/* Compares cur with base row by row (matched on scenario and op), printing
 * one "REGRESSION ..." line per regression to f and a summary line.
 * Returns the number of regressions; *compared gets the matched rows. */
int bench_compare(const struct bench_rows *base, const struct bench_rows *cur,
		  const struct bench_thresholds *th, FILE *f, size_t *compared);

#endif
