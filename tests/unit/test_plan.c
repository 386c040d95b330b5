/* test_plan.c: unit tests of the capacity-planning arithmetic (ctl/plan.c):
 * cluster totals carry each node's latest sample forward and start only
 * when every node has one; request rates come from one run of a node and
 * a restart is not a negative rate; the fit recovers a known growth; the
 * fill date and node counts follow the seed's model. */
#include <check.h>
#include <errno.h>
#include <math.h>

#include "../../ctl/plan.h"
#include "../lib/testlib.h"

#define DAY 86400.0

/* Two nodes, the second starting later: the sum starts at its first
 * sample and carries the first node's value between its samples. */
START_TEST(test_series_carry_forward)
{
	struct usage_sample a[3] = {{.t_s = 100, .frag_bytes = 10},
				    {.t_s = 200, .frag_bytes = 20},
				    {.t_s = 300, .frag_bytes = 30}};
	struct usage_sample b[2] = {{.t_s = 150, .frag_bytes = 5}, {.t_s = 250, .frag_bytes = 7}};
	struct plan_hist h[3] = {{a, 3}, {b, 2}, {NULL, 0}};
	struct plan_series s;

	ck_assert_int_eq(plan_cluster_series(h, 3, PLAN_FRAG_BYTES, &s), 0);
	ck_assert_uint_eq(s.n, 4); /* 150, 200, 250, 300 */
	ck_assert(s.t[0] == 150 && s.v[0] == 15);
	ck_assert(s.t[1] == 200 && s.v[1] == 25);
	ck_assert(s.t[2] == 250 && s.v[2] == 27);
	ck_assert(s.t[3] == 300 && s.v[3] == 37);
	plan_series_free(&s);
}
END_TEST

/* Rates from consecutive samples of one run; after a restart (uptime
 * went down, counter reset) the first pair of the new run starts again. */
START_TEST(test_request_rate_restart)
{
	struct usage_sample a[4] = {{.t_s = 0, .uptime_s = 10, .requests = 100},
				    {.t_s = 10, .uptime_s = 20, .requests = 600},
				    {.t_s = 20, .uptime_s = 2, .requests = 10},
				    {.t_s = 30, .uptime_s = 12, .requests = 210}};
	struct plan_hist h = {a, 4};
	struct plan_series s;

	ck_assert_int_eq(plan_cluster_series(&h, 1, PLAN_REQ_RATE, &s), 0);
	ck_assert_uint_eq(s.n, 2);
	ck_assert(s.t[0] == 10 && s.v[0] == 50);
	ck_assert(s.t[1] == 30 && s.v[1] == 20);
	plan_series_free(&s);
}
END_TEST

/* A series doubling every year gives back 2.0; too few points or too
 * short a span is -ENODATA; zeros are skipped. */
START_TEST(test_fit)
{
	double t[6], v[6], f = 0;
	struct plan_series s = {t, v, 6};

	for (int i = 0; i < 6; i++) {
		t[i] = 1.7e9 + i * 30 * DAY;
		v[i] = 1000 * pow(2, i * 30 * DAY / PLAN_YEAR_S);
	}
	ck_assert_int_eq(plan_fit_growth(&s, 3, 7 * DAY, &f), 0);
	ck_assert_double_eq_tol(f, 2.0, 1e-9);
	ck_assert_int_eq(plan_fit_growth(&s, 7, 7 * DAY, &f), -ENODATA);
	ck_assert_int_eq(plan_fit_growth(&s, 3, 200 * DAY, &f), -ENODATA);
	v[0] = 0;
	ck_assert_int_eq(plan_fit_growth(&s, 3, 7 * DAY, &f), 0);
	ck_assert_double_eq_tol(f, 2.0, 1e-9);
}
END_TEST

/* Fill date: 1 of 8 at 2x a year fills in 3 years; full now is 0; no
 * growth or nothing stored never fills. */
START_TEST(test_fill_and_nodes)
{
	uint64_t ns, nr;

	ck_assert_double_eq_tol(plan_years_to_fill(1, 8, 2), 3.0, 1e-12);
	ck_assert(plan_years_to_fill(9, 8, 2) == 0);
	ck_assert(plan_years_to_fill(1, 8, 1) < 0);
	ck_assert(plan_years_to_fill(0, 8, 2) < 0);
	/* Seed: 3 years at 2x with a 20 % peak. */
	ck_assert_double_eq_tol(plan_project(100, 2, 3, 0.2), 960, 1e-9);
	/* 10 TB raw on 4 TB nodes at 85 %: 3; 12000 req/s at 5000: 3; 4+2: 6. */
	ck_assert_uint_eq(plan_nodes_needed(10e12, 4e12, 0.85, 12000, 5000, 6, &ns, &nr), 6);
	ck_assert_uint_eq(ns, 3);
	ck_assert_uint_eq(nr, 3);
	ck_assert_uint_eq(plan_nodes_needed(100e12, 4e12, 0.85, 0, 0, 6, &ns, &nr), 30);
	ck_assert_uint_eq(nr, 0);
}
END_TEST

static Suite *plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("plan");

	tcase_add_test(tc, test_series_carry_forward);
	tcase_add_test(tc, test_request_rate_restart);
	tcase_add_test(tc, test_fit);
	tcase_add_test(tc, test_fill_and_nodes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(plan_suite());
}
