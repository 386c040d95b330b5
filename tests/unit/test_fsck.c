/* test_fsck.c: fsck_classify, the health decision of one block, stepped
 * case by case without a cluster: intact, a missing or damaged copy, a
 * node down, hand-offs (on a node already holding a fragment, or on a
 * spare node), too few zones, and loss. */
#include <check.h>
#include <string.h>

#include "../../common/fsck.h"
#include "../lib/testlib.h"

#define NN 7 /* nodes 0..5 are the homes of fragments 0..5; node 6 is spare */

static uint8_t res[NN * EC_MAX_FRAGS], answered[NN];
static uint32_t zone_of[NN] = {0, 1, 2, 0, 1, 2, 0};
static const size_t rank[NN] = {0, 1, 2, 3, 4, 5, 6};
static const struct manifest_block mb = {.k = 4, .m = 2, .len = 1 << 20};

#define AT(node, idx) res[(node)*EC_MAX_FRAGS + (idx)]

/* Every node answers; each home holds its fragment, nothing else. */
static void healthy(void)
{
	memset(res, FRAG_RES_MISSING, sizeof(res));
	memset(answered, 1, sizeof(answered));
	for (int i = 0; i < 6; i++) {
		AT(i, i) = FRAG_RES_OK;
	}
}

static struct fsck_block run(size_t n_zones)
{
	struct fsck_block b;

	memset(&b, 0xee, sizeof(b));
	fsck_classify(&mb, res, answered, zone_of, NN, n_zones, rank, NN, &b);
	return b;
}

/* All six home copies intact over three zones: healthy. */
START_TEST(test_healthy)
{
	struct fsck_block b;

	healthy();
	b = run(3);
	ck_assert_int_eq(b.state, FSCK_HEALTHY);
	ck_assert_uint_eq(b.intact, 6);
	ck_assert_uint_eq(b.placed, 6);
	ck_assert_uint_eq(b.zones, 3);
	ck_assert_uint_eq(b.copies, 6);
	ck_assert_uint_eq(b.bad + b.missing + b.nodes_down, 0);
}
END_TEST

/* A home copy missing, one damaged, one on a node that did not answer:
 * degraded each time, with the reason counted. */
START_TEST(test_degraded)
{
	struct fsck_block b;

	healthy();
	AT(2, 2) = FRAG_RES_MISSING;
	b = run(3);
	ck_assert_int_eq(b.state, FSCK_DEGRADED);
	ck_assert_uint_eq(b.missing, 1);
	ck_assert_uint_eq(b.intact, 5);

	healthy();
	AT(5, 5) = FRAG_RES_BAD;
	b = run(3);
	ck_assert_int_eq(b.state, FSCK_DEGRADED);
	ck_assert_uint_eq(b.bad, 1);
	ck_assert_uint_eq(b.missing, 0);

	healthy();
	answered[4] = 0;
	b = run(3);
	ck_assert_int_eq(b.state, FSCK_DEGRADED);
	ck_assert_uint_eq(b.nodes_down, 1);
	ck_assert_uint_eq(b.intact, 5);
}
END_TEST

/* Fragment 3 handed off to node 1, which holds fragment 1: 6 intact but
 * only 5 on distinct nodes, degraded.  The same hand-off on the spare
 * node 6 (zone 0): healthy. */
START_TEST(test_handoffs)
{
	struct fsck_block b;

	healthy();
	AT(3, 3) = FRAG_RES_MISSING;
	AT(1, 3) = FRAG_RES_OK;
	b = run(3);
	ck_assert_int_eq(b.state, FSCK_DEGRADED);
	ck_assert_uint_eq(b.intact, 6);
	ck_assert_uint_eq(b.placed, 5);

	AT(1, 3) = FRAG_RES_MISSING;
	AT(6, 3) = FRAG_RES_OK;
	b = run(3);
	ck_assert_int_eq(b.state, FSCK_HEALTHY);
	ck_assert_uint_eq(b.placed, 6);
	ck_assert_uint_eq(b.missing, 1); /* its home still lacks it */
}
END_TEST

/* Six distinct nodes in only two of three zones: degraded; with a map of
 * two zones the same placement is healthy. */
START_TEST(test_zones)
{
	struct fsck_block b;

	healthy();
	zone_of[2] = 0;
	zone_of[5] = 1;
	b = run(3);
	ck_assert_int_eq(b.state, FSCK_DEGRADED);
	ck_assert_uint_eq(b.zones, 2);
	b = run(2);
	ck_assert_int_eq(b.state, FSCK_HEALTHY);
	zone_of[2] = 2;
	zone_of[5] = 2;
}
END_TEST

/* Three of six lost (m = 2): lost; an extra copy of a lost index
 * elsewhere brings it back to degraded. */
START_TEST(test_lost)
{
	struct fsck_block b;

	healthy();
	AT(0, 0) = FRAG_RES_BAD;
	AT(1, 1) = FRAG_RES_MISSING;
	answered[2] = 0;
	b = run(3);
	ck_assert_int_eq(b.state, FSCK_LOST);
	ck_assert_uint_eq(b.intact, 3);
	AT(6, 1) = FRAG_RES_OK;
	b = run(3);
	ck_assert_int_eq(b.state, FSCK_DEGRADED);
	ck_assert_uint_eq(b.intact, 4);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fsck");
	TCase *tc = tcase_create("classify");

	tcase_add_test(tc, test_healthy);
	tcase_add_test(tc, test_degraded);
	tcase_add_test(tc, test_handoffs);
	tcase_add_test(tc, test_zones);
	tcase_add_test(tc, test_lost);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
