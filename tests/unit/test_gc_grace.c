/* test_gc_grace.c: the grace period of block deletion (nodes/gc_grace.c):
 * a block becomes deletable only grace_ms after the first pass that saw
 * it, a block that left the queue is forgotten (coming back, it waits
 * again), and grace 0 deletes at once. */
#include <check.h>
#include <string.h>

#include "../../nodes/gc_grace.h"
#include "../lib/testlib.h"

static void id_of(uint8_t id[BLOCK_ID_LEN], int i)
{
	memset(id, 0, BLOCK_ID_LEN);
	id[0] = (uint8_t)i;
	id[1] = (uint8_t)(i >> 8);
	id[15] = 0xa5;
}

/* Waits are counted from the first sighting, per block. */
START_TEST(test_wait_from_first_seen)
{
	struct gc_grace *g;
	uint8_t a[BLOCK_ID_LEN], b[BLOCK_ID_LEN];

	ck_assert_int_eq(gcg_open(&g), 0);
	id_of(a, 1);
	id_of(b, 2);
	gcg_begin(g);
	ck_assert_int_eq(gcg_ripe(g, a, 1000, 500), 0);
	ck_assert_uint_eq(gcg_end(g), 1);
	gcg_begin(g);
	ck_assert_int_eq(gcg_ripe(g, a, 1400, 500), 0);
	ck_assert_int_eq(gcg_ripe(g, b, 1400, 500), 0);
	ck_assert_uint_eq(gcg_end(g), 2);
	gcg_begin(g);
	ck_assert_int_eq(gcg_ripe(g, a, 1500, 500), 1);
	ck_assert_int_eq(gcg_ripe(g, b, 1500, 500), 0);
	gcg_end(g);
	gcg_begin(g);
	ck_assert_int_eq(gcg_ripe(g, b, 1900, 500), 1);
	gcg_end(g);
	/* A clock that went back never ripens a block early. */
	gcg_begin(g);
	ck_assert_int_eq(gcg_ripe(g, b, 100, 500), 0);
	gcg_end(g);
	gcg_close(g);
}
END_TEST

/* A block missing from a pass is forgotten: back in the queue, it waits
 * the whole grace again; grace 0 lets every block go at once. */
START_TEST(test_forget_and_zero)
{
	struct gc_grace *g;
	uint8_t id[BLOCK_ID_LEN];

	ck_assert_int_eq(gcg_open(&g), 0);
	for (int i = 0; i < 3000; i++) {
		id_of(id, i);
		gcg_begin(g);
		ck_assert_int_eq(gcg_ripe(g, id, 10, 0), 1);
	}
	ck_assert_uint_eq(gcg_end(g), 1); /* only the last pass's block */
	id_of(id, 7);
	gcg_begin(g);
	ck_assert_int_eq(gcg_ripe(g, id, 0, 100), 0);
	gcg_end(g);
	gcg_begin(g);
	ck_assert_uint_eq(gcg_end(g), 0);
	gcg_begin(g);
	ck_assert_int_eq(gcg_ripe(g, id, 150, 100), 0); /* waits anew */
	ck_assert_int_eq(gcg_ripe(g, id, 250, 100), 1);
	gcg_end(g);
	gcg_close(g);
	gcg_close(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gc_grace");
	TCase *tc = tcase_create("grace");

	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_wait_from_first_seen);
	tcase_add_test(tc, test_forget_and_zero);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
