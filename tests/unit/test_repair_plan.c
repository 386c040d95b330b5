/* test_repair_plan.c: automatic repair's decisions (common/repair_plan.c):
 * where a fragment whose home is gone is rebuilt (over real place_slots
 * rankings of many block ids on 7 nodes in 3 zones), and the node states
 * the catalog leader steps through (up, down, gone, returned, restarted). */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "../../common/place.h"
#include "../../common/repair_plan.h"
#include "../lib/testlib.h"

#define N 7
#define NFRAG 6

static void nodes7(struct place_node *pn)
{
	for (size_t j = 0; j < N; j++) {
		pn[j].id = (uint32_t)j + 1;
		pn[j].zone = (uint32_t)(j % 3);
		pn[j].up = 1;
	}
}

/* For 2000 block ids and each home lost in turn: the target is the one
 * node that holds no fragment of the block (the 7th), which here is in a
 * zone of its own only when the home shares it; and the block ends on 6
 * distinct nodes spread over the 3 zones (2 per zone) whenever the
 * placement had them. */
START_TEST(test_target_spreads)
{
	struct place_node pn[N];
	size_t rank[N], load[N];
	uint8_t usable[N];

	nodes7(pn);
	for (unsigned b = 0; b < 2000; b++) {
		uint8_t id[16] = {0};
		size_t nr;

		memcpy(id, &b, sizeof(b));
		id[15] = 0x5a;
		nr = place_slots(id, pn, N, NFRAG, rank, N);
		ck_assert_uint_eq(nr, N);
		for (size_t lost = 0; lost < NFRAG; lost++) {
			size_t t, zones[3] = {0};

			memset(load, 0, sizeof(load));
			for (size_t j = 0; j < N; j++) {
				usable[j] = rank[lost] != j;
			}
			for (size_t i = 0; i < NFRAG; i++) {
				load[rank[i]] += i != lost;
			}
			t = rp_target(rank, nr, NFRAG, lost, pn, usable, load);
			ck_assert_uint_eq(t, rank[NFRAG]); /* the only node without one */
			for (size_t i = 0; i < NFRAG; i++) {
				zones[pn[i == lost ? t : rank[i]].zone]++;
			}
			if (pn[rank[NFRAG]].zone == pn[rank[lost]].zone) {
				ck_assert_uint_eq(zones[0], 2);
				ck_assert_uint_eq(zones[1], 2);
				ck_assert_uint_eq(zones[2], 2);
			}
		}
	}
}
END_TEST

/* With two homes gone in one zone and no free node there, the second
 * rebuilt fragment goes to the zone holding fewest fragments, never onto
 * a gone node, and SIZE_MAX when nothing is usable. */
START_TEST(test_target_fallbacks)
{
	struct place_node pn[4] = {{1, 0, 1}, {2, 0, 1}, {3, 1, 1}, {4, 2, 1}};
	size_t rank[4] = {0, 1, 2, 3}, load[4] = {0, 0, 1, 2};
	uint8_t usable[4] = {0, 0, 1, 1};

	/* Homes 0 and 1 (zone 0) gone; k+m = 2 on nodes 0, 1; 2 and 3 hold
	 * other copies: the least loaded wins. */
	ck_assert_uint_eq(rp_target(rank, 4, 2, 0, pn, usable, load), 2);
	load[2] = 3;
	ck_assert_uint_eq(rp_target(rank, 4, 2, 0, pn, usable, load), 3);
	memset(usable, 0, sizeof(usable));
	ck_assert_uint_eq(rp_target(rank, 4, 2, 0, pn, usable, load), SIZE_MAX);
	ck_assert_uint_eq(rp_target(rank, 4, 2, 5, pn, usable, load), SIZE_MAX);
}
END_TEST

/* up -> down after down_after -> gone after repair_after -> returned;
 * a lower uptime while up is a restart; repair_after 0 never gives gone. */
START_TEST(test_states)
{
	struct rp_node n = {.last_ok_ms = 1000}, fresh = {0};

	/* First seen just after its start: checked as a restart. */
	ck_assert_int_eq(rp_step(&fresh, 1, 5, 1000, 3000, 10000), RP_EV_RESTARTED);
	ck_assert_int_eq(rp_step(&n, 1, 500, 1000, 3000, 10000), RP_EV_NONE);
	ck_assert_int_eq(rp_step(&n, 0, 0, 3500, 3000, 10000), RP_EV_NONE);
	ck_assert_int_eq(rp_step(&n, 0, 0, 4000, 3000, 10000), RP_EV_DOWN);
	ck_assert_uint_eq(n.down_ms, 1000); /* down since its last answer */
	ck_assert_int_eq(rp_step(&n, 0, 0, 10999, 3000, 10000), RP_EV_NONE);
	ck_assert_int_eq(rp_step(&n, 0, 0, 11000, 3000, 10000), RP_EV_GONE);
	ck_assert_int_eq(n.state, RP_GONE);
	ck_assert_int_eq(rp_step(&n, 0, 0, 12000, 3000, 10000), RP_EV_NONE);
	ck_assert_int_eq(rp_step(&n, 1, 2, 13000, 3000, 10000), RP_EV_RETURNED);
	ck_assert_int_eq(n.state, RP_UP);
	ck_assert_int_eq(rp_step(&n, 1, 3, 14000, 3000, 10000), RP_EV_NONE);
	ck_assert_int_eq(rp_step(&n, 1, 0, 15000, 3000, 10000), RP_EV_RESTARTED);
	/* Never gone without repair_after. */
	ck_assert_int_eq(rp_step(&n, 0, 0, 20000, 3000, 0), RP_EV_DOWN);
	ck_assert_int_eq(rp_step(&n, 0, 0, 9000000, 3000, 0), RP_EV_NONE);
	ck_assert_int_eq(n.state, RP_DOWN);
	/* Out (from the cluster map): neither answers nor silence change it. */
	n.state = RP_OUT;
	ck_assert_int_eq(rp_step(&n, 1, 1, 9001000, 3000, 10000), RP_EV_NONE);
	ck_assert_int_eq(rp_step(&n, 0, 0, 9900000, 3000, 10000), RP_EV_NONE);
	ck_assert_int_eq(n.state, RP_OUT);
}
END_TEST

static Suite *repair_plan_suite(void)
{
	Suite *s = suite_create("repair_plan");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_target_spreads);
	tcase_add_test(tc, test_target_fallbacks);
	tcase_add_test(tc, test_states);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(repair_plan_suite());
}
