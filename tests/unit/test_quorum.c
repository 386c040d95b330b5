/* test_quorum.c: the write-quorum rule and the hand-off choice of a block
 * put (common/quorum.c), stepped exhaustively: every holder assignment of
 * 4+2, and every set of 0..m (and more) down nodes for 4+2, 6+3 and 8+4
 * placed the way blk_put places them. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "../../common/quorum.h"
#include "../lib/testlib.h"

#define MAXN 16
#define MAXF 12
#define ROUNDS 2 /* blk_put's hand-off rounds after the first attempt */

/* The rule restated from its definition: after losing any one node that
 * holds fragments, at least k durable fragments remain (all of them when
 * there is no parity). */
static int survives_one_loss(const long *holder, size_t nfrag, size_t k, size_t nnodes)
{
	size_t durable = 0;

	for (size_t i = 0; i < nfrag; i++) {
		durable += holder[i] >= 0 ? 1 : 0;
	}
	if (nfrag == k) {
		return durable == k;
	}
	if (durable < k) {
		return 0;
	}
	for (size_t lost = 0; lost < nnodes; lost++) {
		size_t left = 0;

		for (size_t i = 0; i < nfrag; i++) {
			left += holder[i] >= 0 && (size_t)holder[i] != lost ? 1 : 0;
		}
		if (left < k) {
			return 0;
		}
	}
	return 1;
}

/* Every assignment of 6 fragments to {absent, node 0..5}: 7^6 cases. */
START_TEST(test_rule_every_assignment_4_2)
{
	long h[6];
	size_t met = 0, cases = 0;

	for (unsigned code = 0; code < 117649; code++) {
		unsigned c = code;

		for (size_t i = 0; i < 6; i++) {
			h[i] = (long)(c % 7) - 1;
			c /= 7;
		}
		ck_assert_int_eq(quorum_met(h, 6, 4), survives_one_loss(h, 6, 4, 6));
		met += (size_t)quorum_met(h, 6, 4);
		cases++;
	}
	ck_assert_uint_eq(cases, 117649);
	ck_assert_uint_gt(met, 0);
}
END_TEST

/* No parity: all k fragments, wherever they are, and nothing less. */
START_TEST(test_rule_no_parity)
{
	long h[4] = {0, 0, 0, 0};

	ck_assert_int_eq(quorum_met(h, 4, 4), 1);
	h[2] = -1;
	ck_assert_int_eq(quorum_met(h, 4, 4), 0);
}
END_TEST

/* The example of ARCHITECTURE.md: 4+2 landing 2,2,1,1 on four nodes is
 * safe; 3,3 on two nodes or 5 fragments 2,2,1 are not. */
START_TEST(test_rule_examples)
{
	long safe[6] = {0, 0, 1, 1, 2, 3};
	long two[6] = {0, 0, 0, 1, 1, 1};
	long five[6] = {0, 0, 1, 1, 2, -1};
	long six[6] = {0, 1, 2, 3, 4, 5};

	ck_assert_int_eq(quorum_met(safe, 6, 4), 1);
	ck_assert_int_eq(quorum_met(two, 6, 4), 0);
	ck_assert_int_eq(quorum_met(five, 6, 4), 0);
	ck_assert_int_eq(quorum_met(six, 6, 4), 1);
}
END_TEST

/* Hand-off picks the least-loaded up node, ties from position i on. */
START_TEST(test_handoff_choice)
{
	size_t rank[4] = {2, 0, 3, 1};
	uint8_t up[4] = {1, 1, 1, 1};
	size_t load[4] = {0, 0, 0, 0};

	ck_assert_uint_eq(quorum_handoff(rank, 4, 0, up, load), 2);
	ck_assert_uint_eq(quorum_handoff(rank, 4, 1, up, load), 0);
	ck_assert_uint_eq(quorum_handoff(rank, 4, 5, up, load), 0);
	load[0] = 1;
	ck_assert_uint_eq(quorum_handoff(rank, 4, 1, up, load), 3);
	up[3] = 0;
	ck_assert_uint_eq(quorum_handoff(rank, 4, 1, up, load), 1);
	memset(up, 0, sizeof(up));
	ck_assert_uint_eq(quorum_handoff(rank, 4, 0, up, load), SIZE_MAX);
}
END_TEST

/* Places k+m fragments on n nodes of which the set bits of down are down,
 * as blk_put does: round 0 sends fragment i to rank[i] (the identity
 * ranking here; a down node fails it), later rounds hand the failed ones
 * off (blk_put keeps handing off while a fragment is unplaced, even once
 * the quorum is met).  Fills holder and returns quorum_met. */
static int place(size_t k, size_t m, size_t n, unsigned down, long *holder)
{
	size_t rank[MAXN], load[MAXN] = {0};
	uint8_t up[MAXN];
	size_t nfrag = k + m;

	for (size_t j = 0; j < n; j++) {
		rank[j] = j;
		up[j] = (down >> j & 1) == 0;
	}
	for (size_t i = 0; i < nfrag; i++) {
		holder[i] = -1;
	}
	for (int round = 0; round <= ROUNDS; round++) {
		for (size_t i = 0; i < nfrag; i++) {
			size_t t;

			if (holder[i] >= 0) {
				continue;
			}
			t = round == 0 ? rank[i] : quorum_handoff(rank, n, i, up, load);
			if (t == SIZE_MAX || !up[t]) {
				continue;
			}
			holder[i] = (long)t;
			load[t]++;
		}
	}
	return quorum_met(holder, nfrag, k);
}

/* Every set of d down nodes out of n = k+m, for d = 0..n-1: the placement
 * stores every fragment on up nodes, spreads them within one of even, and
 * the verdict is the rule's definition.  For d <= m the write succeeds. */
static void sweep(size_t k, size_t m)
{
	size_t n = k + m, nfrag = k + m;

	for (unsigned down = 0; down < (1u << n); down++) {
		long holder[MAXF];
		size_t d = (size_t)__builtin_popcount(down), live = n - d;
		size_t per[MAXN] = {0}, most = 0, expect_most;
		int ok;

		if (live == 0) {
			continue;
		}
		ok = place(k, m, n, down, holder);
		for (size_t i = 0; i < nfrag; i++) {
			ck_assert_int_ge(holder[i], 0);
			ck_assert_uint_eq(down >> holder[i] & 1, 0);
			if (++per[holder[i]] > most) {
				most = per[holder[i]];
			}
		}
		expect_most = (nfrag + live - 1) / live;
		ck_assert_uint_eq(most, expect_most);
		ck_assert_int_eq(ok, survives_one_loss(holder, nfrag, k, n));
		ck_assert_int_eq(ok, nfrag - expect_most >= k);
		if (d <= m) {
			ck_assert_msg(ok, "%zu+%zu with %zu down (mask %#x) refused", k, m, d,
				      down);
		}
	}
}

START_TEST(test_sweep_4_2)
{
	sweep(4, 2);
}
END_TEST

START_TEST(test_sweep_6_3)
{
	sweep(6, 3);
}
END_TEST

START_TEST(test_sweep_8_4)
{
	sweep(8, 4);
}
END_TEST

static Suite *quorum_suite(void)
{
	Suite *s = suite_create("quorum");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rule_every_assignment_4_2);
	tcase_add_test(tc, test_rule_no_parity);
	tcase_add_test(tc, test_rule_examples);
	tcase_add_test(tc, test_handoff_choice);
	tcase_add_test(tc, test_sweep_4_2);
	tcase_add_test(tc, test_sweep_6_3);
	tcase_add_test(tc, test_sweep_8_4);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(quorum_suite());
}
