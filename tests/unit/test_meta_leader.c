/* test_meta_leader.c: the leader's decisions (nodes/meta_leader.c) as a
 * pure function: timestamps never run backwards within a shard, inode
 * numbers are never handed out twice (also across a leader change, when
 * the store's counter is ahead), and only creates and puts take any. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../nodes/meta_leader.h"

static struct meta_op op_of(uint8_t type, const char *name)
{
	struct meta_op op;

	memset(&op, 0, sizeof(op));
	op.type = type;
	snprintf(op.name, sizeof(op.name), "%s", name);
	return op;
}

/* A clock that steps back still yields increasing stamps. */
START_TEST(test_time_monotonic)
{
	struct leader_clock lc = {.next_ino = 2};
	struct meta_op op = op_of(MOP_SETATTR, "");
	int64_t now[] = {1000, 2000, 1500, 1500, 3000, 10};
	int64_t last = 0;

	for (size_t i = 0; i < sizeof(now) / sizeof(now[0]); i++) {
		leader_stamp(&lc, now[i], 2, &op);
		ck_assert_int_gt(op.now_ns, last);
		ck_assert_int_ge(op.now_ns, now[i] > last ? now[i] : last + 1);
		last = op.now_ns;
	}
	ck_assert_int_eq(last, 3001); /* 1000 2000 2001 2002 3000 3001 */
}
END_TEST

/* Creates take one number each, a put one per path component, other
 * records none; numbers never repeat. */
START_TEST(test_inos)
{
	struct leader_clock lc = {.next_ino = 10};
	struct meta_op c = op_of(MOP_CREATE, "f"), p = op_of(MOP_PUT, "a/b/c");
	struct meta_op u = op_of(MOP_UNLINK, "f");

	ck_assert_uint_eq(leader_inos_needed(&c), 1);
	ck_assert_uint_eq(leader_inos_needed(&p), 3);
	ck_assert_uint_eq(leader_inos_needed(&u), 0);
	leader_stamp(&lc, 1, 10, &c);
	ck_assert_uint_eq(c.new_ino, 10);
	leader_stamp(&lc, 2, 10, &p);
	ck_assert_uint_eq(p.new_ino, 11); /* 11, 12, 13 */
	leader_stamp(&lc, 3, 10, &u);
	ck_assert_uint_eq(u.new_ino, 0);
	leader_stamp(&lc, 4, 10, &c);
	ck_assert_uint_eq(c.new_ino, 14);
	ck_assert_uint_eq(lc.next_ino, 15);
}
END_TEST

/* A new leader whose store counter is ahead of its own (numbers handed
 * out by the previous leader were applied here) starts above them; one
 * whose counter is ahead of the store's keeps its own. */
START_TEST(test_leader_change)
{
	struct leader_clock lc = {.next_ino = 5};
	struct meta_op c = op_of(MOP_CREATE, "f");

	leader_stamp(&lc, 1, 40, &c);
	ck_assert_uint_eq(c.new_ino, 40);
	leader_stamp(&lc, 2, 20, &c);
	ck_assert_uint_eq(c.new_ino, 41);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("meta_leader");
	TCase *tc = tcase_create("decide");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_time_monotonic);
	tcase_add_test(tc, test_inos);
	tcase_add_test(tc, test_leader_change);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0;
}
