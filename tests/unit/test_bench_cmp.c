/* test_bench_cmp.c: unit tests of the regression verdict (ctl/bench_cmp.c):
 * the seed's thresholds at their edges, the noise floor, repeated runs
 * judged by their best run, both file formats read, and bad files refused
 * with the line or byte named. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ctl/bench_cmp.h"
#include "../../ctl/json.h"
#include "../lib/testlib.h"

static struct bench_row row(const char *scen, const char *op, double ops_s, double p95,
			    double errors)
{
	struct bench_row r;

	memset(&r, 0, sizeof(r));
	snprintf(r.scenario, sizeof(r.scenario), "%s", scen);
	snprintf(r.op, sizeof(r.op), "%s", op);
	r.ops_s = r.ops_s_min = r.ops_s_max = ops_s;
	r.p95_ms = r.p95_min = r.p95_max = p95;
	r.errors = errors;
	r.error_rate = -1;
	r.runs = 1;
	return r;
}

/* Runs the comparison; returns the regressions, the report in out. */
static int compare(const struct bench_row *b, const struct bench_row *c, double min_ms, char *out,
		   size_t cap)
{
	struct bench_rows base = {0}, cur = {0};
	struct bench_thresholds th = BENCH_THRESHOLDS_SEED;
	FILE *f = fmemopen(out, cap, "w");
	size_t compared;
	int n;

	th.min_ms = min_ms;
	ck_assert_int_eq(bench_rows_add(&base, b), 0);
	ck_assert_int_eq(bench_rows_add(&cur, c), 0);
	n = bench_compare(&base, &cur, &th, f, &compared);
	fclose(f);
	ck_assert_uint_eq(compared, strcmp(b->op, c->op) == 0 ? 1 : 0);
	bench_rows_free(&base);
	bench_rows_free(&cur);
	return n;
}

/* Exactly at a threshold is no regression; just past it is, named. */
START_TEST(test_thresholds)
{
	struct bench_row b = row("s", "put", 100, 10, 1), c;
	char out[512];

	c = row("s", "put", 80, 12, 2);
	ck_assert_int_eq(compare(&b, &c, 0, out, sizeof(out)), 0);
	c = row("s", "put", 79.9, 12.01, 2.1);
	ck_assert_int_eq(compare(&b, &c, 0, out, sizeof(out)), 3);
	ck_assert_ptr_nonnull(
	    strstr(out, "REGRESSION s put metric=p95_ms baseline=10 current=12.01 (+20%)\n"));
	ck_assert_ptr_nonnull(
	    strstr(out, "REGRESSION s put metric=ops_s baseline=100 current=79.9 (-20%)\n"));
	ck_assert_ptr_nonnull(
	    strstr(out, "REGRESSION s put metric=errors baseline=1 current=2.1\n"));
	/* Other rows are not compared. */
	c = row("s", "get", 1, 1000, 50);
	ck_assert_int_eq(compare(&b, &c, 0, out, sizeof(out)), 0);
}
END_TEST

/* Below the noise floor, or by less than it, p95 does not regress. */
START_TEST(test_noise_floor)
{
	struct bench_row b = row("s", "stat", 0, 0.3, 0), c = row("s", "stat", 0, 0.9, 0);
	char out[512];

	ck_assert_int_eq(compare(&b, &c, 1, out, sizeof(out)), 0);
	ck_assert_int_eq(compare(&b, &c, 0, out, sizeof(out)), 1);
	b = row("s", "stat", 0, 10, 0);
	c = row("s", "stat", 0, 12.5, 0);
	ck_assert_int_eq(compare(&b, &c, 1, out, sizeof(out)), 1);
	/* +45 %, but by 0.9 ms: noise with a 1 ms floor. */
	b = row("s", "stat", 0, 2, 0);
	c = row("s", "stat", 0, 2.9, 0);
	ck_assert_int_eq(compare(&b, &c, 1, out, sizeof(out)), 0);
	ck_assert_int_eq(compare(&b, &c, 0, out, sizeof(out)), 1);
	ck_assert_int_eq(compare(&b, &c, 1, out, sizeof(out)), 0);
}
END_TEST

/* Repeated runs: a slow median with one good run is not a verdict; when
 * the best run is bad too, it is, and says so. */
START_TEST(test_spread)
{
	struct bench_row b = row("s", "get", 100, 10, 0), c = row("s", "get", 50, 20, 0);
	char out[512];

	c.runs = 3;
	c.ops_s_max = 90;
	c.p95_min = 11;
	ck_assert_int_eq(compare(&b, &c, 0, out, sizeof(out)), 0);
	c.ops_s_max = 70;
	c.p95_min = 13;
	ck_assert_int_eq(compare(&b, &c, 0, out, sizeof(out)), 2);
	ck_assert_ptr_nonnull(
	    strstr(out, "metric=ops_s baseline=100 current=50 (-50%) best of 3 runs 70\n"));
}
END_TEST

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* RESULT lines and JSON give the same rows; what the writer writes the
 * reader reads; a spread comes back. */
START_TEST(test_files)
{
	char dir[256], p1[300], p2[300], err[256];
	struct bench_rows a = {0}, j = {0}, back = {0};
	struct bench_row r;
	struct jw w;
	FILE *f;

	tl_mkdtemp(dir, sizeof(dir), "bench_cmp");
	snprintf(p1, sizeof(p1), "%s/r.txt", dir);
	snprintf(p2, sizeof(p2), "%s/r.json", dir);
	write_file(p1, "# comment\nRESULT scenario=x op=put ops_s=10.5 p95_ms=3 mb_s=1 "
		       "errors=2\nnoise line\n");
	ck_assert_int_eq(bench_load(p1, &a, err, sizeof(err)), 0);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_str_eq(a.v[0].scenario, "x");
	ck_assert(a.v[0].ops_s == 10.5 && a.v[0].p95_ms == 3 && a.v[0].errors == 2);
	ck_assert(a.v[0].ops_s_max == 10.5 && a.v[0].error_rate < 0);

	r = row("y", "get", 7, 4, 0);
	r.runs = 3;
	r.ops_s_min = 6;
	r.ops_s_max = 9;
	r.error_rate = 0;
	ck_assert_int_eq(bench_rows_add(&j, &r), 0);
	f = fopen(p2, "w");
	ck_assert_ptr_nonnull(f);
	jw_init(&w, f, 1);
	jw_obj(&w, NULL);
	bench_rows_json(&w, &j);
	ck_assert_int_eq(jw_finish(&w), 0);
	fclose(f);
	ck_assert_int_eq(bench_load(p2, &back, err, sizeof(err)), 0);
	ck_assert_uint_eq(back.n, 1);
	ck_assert_int_eq(back.v[0].runs, 3);
	ck_assert(back.v[0].ops_s == 7 && back.v[0].ops_s_min == 6 && back.v[0].ops_s_max == 9);
	ck_assert(back.v[0].error_rate == 0);

	write_file(p1, "RESULT scenario=x op=put ops_s=fast\n");
	ck_assert_int_eq(bench_load(p1, &a, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "r.txt: line 1: ops_s=fast is not a number"));
	write_file(p2, "{\"results\": [{\"op\": \"put\"}]}");
	ck_assert_int_eq(bench_load(p2, &j, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "r.json: result 0 has no scenario or op"));
	write_file(p2, "{\"results\": 3}");
	ck_assert_int_eq(bench_load(p2, &j, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no \"results\" array"));
	bench_rows_free(&a);
	bench_rows_free(&j);
	bench_rows_free(&back);
	tl_rmtree(dir);
}
END_TEST

static Suite *bench_cmp_suite(void)
{
	Suite *s = suite_create("bench_cmp");
	TCase *tc = tcase_create("cmp");

	tcase_add_test(tc, test_thresholds);
	tcase_add_test(tc, test_noise_floor);
	tcase_add_test(tc, test_spread);
	tcase_add_test(tc, test_files);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(bench_cmp_suite());
}
