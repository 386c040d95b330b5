/* test_durability.c: the Markov estimate of ctl/durability.c against
 * closed forms: no parity is one disk's failure rate times n, one and two
 * parity match the classic MTTDL approximations when repair is fast, a
 * faster repair or more parity always helps, and zone tolerance follows
 * the placement's spread. */
#include <check.h>
#include <math.h>

#include "../../ctl/durability.h"
#include "../lib/testlib.h"

static double lambda_of(double afr)
{
	return -log1p(-afr) / DUR_HOURS_PER_YEAR;
}

/* m = 0: the first of n failures loses the block: MTTDL = 1 / (n lambda). */
START_TEST(test_no_parity)
{
	double l = lambda_of(0.02);

	ck_assert_double_eq_tol(dur_mttdl_hours(4, 0, 0.02, 10), 1.0 / (4 * l), 1e-6 / l);
}
END_TEST

/* m = 1 and m = 2 with mu >> lambda: MTTDL ~ mu / (n (n-1) lambda^2) and
 * mu^2 / (n (n-1) (n-2) lambda^3), within 1 %. */
START_TEST(test_closed_forms)
{
	double l = lambda_of(0.02), mu = 1.0 / 24.0;
	double one = dur_mttdl_hours(5, 1, 0.02, 24), two = dur_mttdl_hours(4, 2, 0.02, 24);

	ck_assert_double_eq_tol(one / (mu / (6 * 5 * l * l)), 1.0, 0.01);
	ck_assert_double_eq_tol(two / (mu * mu / (6 * 5 * 4 * l * l * l)), 1.0, 0.01);
	/* The annual loss is 1 - exp(-year / MTTDL). */
	ck_assert_double_eq_tol(dur_annual_loss(4, 2, 0.02, 24), -expm1(-DUR_HOURS_PER_YEAR / two),
				1e-20);
}
END_TEST

/* More parity and faster repair lower the loss; a higher AFR raises it. */
START_TEST(test_monotonic)
{
	double base = dur_annual_loss(4, 2, 0.02, 80);

	ck_assert(dur_annual_loss(4, 3, 0.02, 80) < base);
	ck_assert(dur_annual_loss(4, 2, 0.02, 8) < base);
	ck_assert(dur_annual_loss(4, 2, 0.05, 80) > base);
	ck_assert(base > 0 && base < 1e-6); /* 4+2, 2 % AFR, 80 h: better than 6 nines */
}
END_TEST

/* Out-of-range arguments give a negative value, never a number. */
START_TEST(test_bad_args)
{
	ck_assert(dur_mttdl_hours(0, 2, 0.02, 1) < 0);
	ck_assert(dur_mttdl_hours(4, 2, 0, 1) < 0);
	ck_assert(dur_mttdl_hours(4, 2, 1, 1) < 0);
	ck_assert(dur_mttdl_hours(4, 2, 0.02, 0) < 0);
	ck_assert(dur_annual_loss(4, 2, 0.02, -1) < 0);
}
END_TEST

/* 4+2 over 3 zones: 2 a zone, survives 1 zone; over 2 zones: 3 a zone,
 * survives none; over 6: 1 a zone, survives 2; 8+4 over 3: 4 a zone, 1. */
START_TEST(test_zones)
{
	ck_assert_uint_eq(dur_zone_tolerance(4, 2, 3), 1);
	ck_assert_uint_eq(dur_zone_tolerance(4, 2, 2), 0);
	ck_assert_uint_eq(dur_zone_tolerance(4, 2, 6), 2);
	ck_assert_uint_eq(dur_zone_tolerance(4, 2, 1), 0);
	ck_assert_uint_eq(dur_zone_tolerance(8, 4, 3), 1);
	ck_assert_uint_eq(dur_zone_tolerance(4, 2, 0), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("durability");
	TCase *tc = tcase_create("markov");

	tcase_add_test(tc, test_no_parity);
	tcase_add_test(tc, test_closed_forms);
	tcase_add_test(tc, test_monotonic);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_zones);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
