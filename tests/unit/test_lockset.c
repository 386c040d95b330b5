/* test_lockset.c: the lock table's rules (nodes/lockset.c): which locks are in each other's
 * way, and an owner's locks after each request, checked against a byte-by-byte model over
 * random request sequences. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../../nodes/lockset.h"
#include "../lib/testlib.h"

static struct meta_lock lk(uint64_t owner, uint8_t type, uint64_t start, uint64_t end)
{
	struct meta_lock l = {.ino = 7,
			      .session = 1,
			      .owner = owner,
			      .start = start,
			      .end = end,
			      .kind = META_LK_POSIX,
			      .type = type};
	return l;
}

/* Read locks share, write locks exclude, an owner never blocks itself, flock and POSIX locks
 * never meet, ranges that only touch do not overlap, an unlock is in nobody's way. */
START_TEST(test_conflicts)
{
	struct meta_lock held[2] = {lk(1, META_LK_RD, 0, 9), lk(2, META_LK_WR, 20, META_LOCK_EOF)};
	struct meta_lock r;

	r = lk(3, META_LK_RD, 5, 5);
	ck_assert_int_eq(lockset_conflict(held, 2, &r), -1);
	r = lk(3, META_LK_WR, 9, 10);
	ck_assert_int_eq(lockset_conflict(held, 2, &r), 0);
	r = lk(3, META_LK_WR, 10, 19);
	ck_assert_int_eq(lockset_conflict(held, 2, &r), -1);
	r = lk(3, META_LK_RD, 1000, 1000);
	ck_assert_int_eq(lockset_conflict(held, 2, &r), 1);
	r = lk(2, META_LK_WR, 0, META_LOCK_EOF); /* owner 2 vs owner 1's read lock */
	ck_assert_int_eq(lockset_conflict(held, 2, &r), 0);
	r = lk(1, META_LK_WR, 0, 9); /* its own lock: an upgrade */
	ck_assert_int_eq(lockset_conflict(held, 2, &r), -1);
	r = lk(3, META_LK_WR, 0, META_LOCK_EOF);
	r.session = 9; /* same owner number, another mount */
	r.owner = 1;
	ck_assert_int_eq(lockset_conflict(held, 2, &r), 0);
	r.kind = META_LK_FLOCK;
	ck_assert_int_eq(lockset_conflict(held, 2, &r), -1);
	r = lk(3, META_LK_UN, 0, META_LOCK_EOF);
	ck_assert_int_eq(lockset_conflict(held, 2, &r), -1);
}
END_TEST

/* An unlock in the middle splits a lock; a conversion makes three; neighbours of one type
 * join; a lock to the end of file is cut without wrapping. */
START_TEST(test_apply_examples)
{
	struct meta_lock out[8], a[1] = {lk(1, META_LK_WR, 0, 99)}, r;
	size_t n;

	r = lk(1, META_LK_UN, 40, 59);
	n = lockset_apply(a, 1, &r, out);
	ck_assert_uint_eq(n, 2);
	ck_assert(out[0].start == 0 && out[0].end == 39 && out[1].start == 60 && out[1].end == 99);

	r = lk(1, META_LK_RD, 40, 59);
	n = lockset_apply(a, 1, &r, out);
	ck_assert_uint_eq(n, 3);
	ck_assert(out[1].type == META_LK_RD && out[1].start == 40 && out[1].end == 59);

	r = lk(1, META_LK_WR, 100, 199);
	n = lockset_apply(a, 1, &r, out);
	ck_assert_uint_eq(n, 1);
	ck_assert(out[0].start == 0 && out[0].end == 199);

	a[0] = lk(1, META_LK_WR, 100, META_LOCK_EOF);
	r = lk(1, META_LK_UN, 200, META_LOCK_EOF);
	n = lockset_apply(a, 1, &r, out);
	ck_assert_uint_eq(n, 1);
	ck_assert(out[0].start == 100 && out[0].end == 199);
	r = lk(1, META_LK_WR, 0, META_LOCK_EOF);
	n = lockset_apply(a, 1, &r, out);
	ck_assert_uint_eq(n, 1);
	ck_assert(out[0].start == 0 && out[0].end == META_LOCK_EOF);
}
END_TEST

#define SPAN 24

/* 1000 random sequences of 40 requests of one owner over bytes 0..SPAN-1 (and to the end of
 * file): after each, the locks cover exactly the bytes a per-byte model says, with the type
 * it says, in start order, never overlapping and never two neighbours of one type. */
START_TEST(test_apply_model)
{
	srand(1);
	for (int seq = 0; seq < 1000; seq++) {
		uint8_t model[SPAN + 1] = {0}; /* byte SPAN stands for "to the end" */
		struct meta_lock cur[64], out[66];
		size_t n = 0;
		int bad = 0;

		for (int step = 0; step < 40; step++) {
			uint64_t s = (uint64_t)(rand() % SPAN), e;
			uint8_t type = (uint8_t)(1 + rand() % 3);
			struct meta_lock r;

			e = rand() % 5 == 0 ? META_LOCK_EOF : s + (uint64_t)(rand() % (SPAN - s));
			r = lk(1, type, s, e);
			for (uint64_t b = s; b <= (e == META_LOCK_EOF ? SPAN : e); b++) {
				model[b] = type == META_LK_UN ? 0 : type;
			}
			n = lockset_apply(cur, n, &r, out);
			ck_assert_uint_le(n, 64);
			memcpy(cur, out, n * sizeof(*out));
			/* Plain checks in the loops: Check records every assertion. */
			for (uint64_t b = 0; b <= SPAN; b++) {
				uint8_t t = 0;

				for (size_t i = 0; i < n; i++) {
					uint64_t end =
					    cur[i].end == META_LOCK_EOF ? SPAN : cur[i].end;

					if (cur[i].start <= b && b <= end) {
						bad |= t != 0; /* overlap */
						t = cur[i].type;
					}
				}
				bad |= t != model[b];
			}
			for (size_t i = 1; i < n; i++) {
				bad |= !(cur[i - 1].end < cur[i].start);
				bad |= cur[i - 1].type == cur[i].type &&
				       cur[i - 1].end + 1 >= cur[i].start;
			}
			ck_assert_msg(!bad, "sequence %d step %d: locks differ from the model", seq,
				      step);
		}
	}
}
END_TEST

static Suite *lockset_suite(void)
{
	Suite *s = suite_create("lockset");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_conflicts);
	tcase_add_test(tc, test_apply_examples);
	tcase_add_test(tc, test_apply_model);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(lockset_suite());
}
