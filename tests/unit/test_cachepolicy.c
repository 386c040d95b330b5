/* test_cachepolicy.c: unit tests of the block caches' replacement policy
 * (fuse/cachepolicy.c): a sequential scan evicts the hot set under LRU
 * and not under ARC, read-ahead and continued reads do not promote, ghost
 * hits move ARC's target and grow the bound, memory pressure shrinks it,
 * and the byte counts stay exact. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../fuse/cachepolicy.h"
#include "../lib/testlib.h"

#define BLK 1000
#define MAXN 4096

/* A toy cache over the policy: entries by number, resident or not. */
struct toy {
	struct cp cp;
	struct cp_node n[MAXN];
	bool resident[MAXN];
	unsigned hits, misses;
};

static void key_of(unsigned id, uint8_t *key)
{
	memset(key, 0, BLOCK_ID_LEN);
	/* The first 8 bytes are what the ghost hash uses: spread them. */
	uint64_t h = (uint64_t)(id + 1) * 0x9e3779b97f4a7c15ULL;

	memcpy(key, &h, sizeof(h));
}

static void toy_init(struct toy *t, enum cp_policy p, uint64_t min, uint64_t max)
{
	memset(t, 0, sizeof(*t));
	ck_assert_int_eq(cp_init(&t->cp, p, min, max), 0);
	for (unsigned i = 0; i < MAXN; i++) {
		key_of(i, t->n[i].key);
		t->n[i].size = BLK;
	}
}

static void toy_fit(struct toy *t)
{
	while (cp_over(&t->cp)) {
		struct cp_node *v = cp_victim(&t->cp, NULL);

		ck_assert_ptr_nonnull(v);
		cp_remove(&t->cp, v, true);
		t->resident[v - t->n] = false;
	}
}

/* One read of entry id; returns 1 on a hit. */
static int toy_read(struct toy *t, unsigned id, enum cp_insert how)
{
	if (t->resident[id]) {
		cp_touch(&t->cp, &t->n[id], true);
		t->hits++;
		return 1;
	}
	t->misses++;
	cp_insert(&t->cp, &t->n[id], how);
	t->resident[id] = true;
	toy_fit(t);
	return 0;
}

/* Invariant 1: the lists' byte counts are the sums of their nodes. */
static void check_sums(struct toy *t)
{
	uint64_t sum[3] = {0};

	for (unsigned i = 0; i < MAXN; i++) {
		if (t->resident[i]) {
			ck_assert_int_ne(t->n[i].list, CP_NONE);
			sum[t->n[i].list] += t->n[i].size;
		}
	}
	ck_assert_uint_eq(sum[CP_T1], t->cp.bytes[CP_T1]);
	ck_assert_uint_eq(sum[CP_T2], t->cp.bytes[CP_T2]);
	ck_assert_uint_le(cp_bytes(&t->cp), t->cp.bound);
}

/* Hot set of 20 blocks read 3 times, then a scan of 1000 blocks (cache 100
 * blocks) with the hot set read between every 50: how many hot reads hit. */
static unsigned hot_hits_during_scan(enum cp_policy p)
{
	static struct toy t;
	unsigned hot_hits = 0;

	toy_init(&t, p, 100 * BLK, 100 * BLK);
	for (int r = 0; r < 3; r++) {
		for (unsigned i = 0; i < 20; i++) {
			toy_read(&t, i, CP_DEMAND);
		}
	}
	for (unsigned s = 0; s < 1000; s++) {
		toy_read(&t, 100 + s, CP_DEMAND);
		if (s % 50 == 49) {
			for (unsigned i = 0; i < 20; i++) {
				hot_hits += (unsigned)toy_read(&t, i, CP_DEMAND);
			}
		}
	}
	check_sums(&t);
	cp_fini(&t.cp);
	return hot_hits;
}

/* The reason for ARC: the hot set read between every 50 blocks of a
 * scan of 10x the cache is hit every time. */
START_TEST(test_scan_keeps_hot_set)
{
	unsigned arc = hot_hits_during_scan(CP_ARC);

	ck_assert_uint_eq(arc, 20 * 20); /* every hot read of the scan hit */
}
END_TEST

/* LRU with a scan longer than the cache between two hot reads: every
 * hot block is gone; ARC keeps them all. */
START_TEST(test_long_scan_lru_vs_arc)
{
	static struct toy t;

	for (int p = 0; p < 2; p++) {
		unsigned hits = 0;

		toy_init(&t, p == 0 ? CP_LRU : CP_ARC, 100 * BLK, 100 * BLK);
		for (int r = 0; r < 2; r++) {
			for (unsigned i = 0; i < 20; i++) {
				toy_read(&t, i, CP_DEMAND);
			}
		}
		for (unsigned s = 0; s < 500; s++) {
			toy_read(&t, 100 + s, CP_DEMAND);
		}
		for (unsigned i = 0; i < 20; i++) {
			hits += (unsigned)toy_read(&t, i, CP_DEMAND);
		}
		ck_assert_uint_eq(hits, p == 0 ? 0 : 20);
		check_sums(&t);
		cp_fini(&t.cp);
	}
}
END_TEST

/* A block read ahead and then read is referenced once: it stays in T1;
 * a read continuing inside a block (new_ref false) does not promote. */
START_TEST(test_readahead_not_promoted)
{
	static struct toy t;

	toy_init(&t, CP_ARC, 100 * BLK, 100 * BLK);
	toy_read(&t, 1, CP_AHEAD);
	ck_assert_int_eq(t.n[1].list, CP_T1);
	ck_assert(t.n[1].unreferenced);
	toy_read(&t, 1, CP_DEMAND); /* the reader reaches it */
	ck_assert_int_eq(t.n[1].list, CP_T1);
	cp_touch(&t.cp, &t.n[1], false); /* its next 128 KiB */
	ck_assert_int_eq(t.n[1].list, CP_T1);
	cp_touch(&t.cp, &t.n[1], true); /* read again: frequent */
	ck_assert_int_eq(t.n[1].list, CP_T2);
	/* Read ahead and evicted unread: no ghost, no adaptation. */
	toy_read(&t, 3, CP_AHEAD);
	cp_remove(&t.cp, &t.n[3], true);
	t.resident[3] = false;
	toy_read(&t, 3, CP_DEMAND);
	ck_assert_int_eq(t.n[3].list, CP_T1);
	ck_assert_uint_eq(t.cp.st.ghost_hits[0], 0);
	toy_read(&t, 2, CP_FREQUENT); /* warm-up */
	ck_assert_int_eq(t.n[2].list, CP_T2);
	check_sums(&t);
	cp_fini(&t.cp);
}
END_TEST

/* Ghost hits: a key evicted from T1 and read again enters T2 and raises
 * p; one evicted from T2 lowers it.  Invariant 2: not both resident and
 * a ghost. */
START_TEST(test_ghost_adaptation)
{
	static struct toy t;
	struct cp_stats st;
	uint64_t p1;

	toy_init(&t, CP_ARC, 10 * BLK, 10 * BLK);
	for (int r = 0; r < 2; r++) {
		for (unsigned i = 0; i < 5; i++) {
			toy_read(&t, i, CP_DEMAND); /* 0..4 frequent: T2 */
		}
	}
	for (unsigned i = 10; i < 30; i++) {
		toy_read(&t, i, CP_DEMAND); /* a scan through T1: B1 keeps 15..24 */
	}
	ck_assert_uint_eq(t.cp.p, 0);
	for (unsigned i = 0; i < 5; i++) {
		ck_assert_int_eq(t.n[i].list, CP_T2);
	}
	toy_read(&t, 15, CP_DEMAND); /* a B1 ghost hit */
	cp_get_stats(&t.cp, &st);
	ck_assert_uint_eq(st.ghost_hits[0], 1);
	ck_assert(!t.resident[10]); /* out of B1: its bound is max */
	ck_assert_int_eq(t.n[15].list, CP_T2);
	ck_assert_uint_eq(t.cp.p, BLK);
	for (unsigned i = 16; i < 25; i++) {
		toy_read(&t, i, CP_DEMAND); /* more: T1 gives way, then T2 */
	}
	cp_get_stats(&t.cp, &st);
	ck_assert_uint_eq(st.ghost_hits[0], 10);
	ck_assert_uint_eq(st.ghost_hits[1], 0);
	ck_assert(!t.resident[0]); /* the coldest of T2, now in B2 */
	p1 = t.cp.p;
	ck_assert_uint_gt(p1, BLK);
	toy_read(&t, 0, CP_DEMAND); /* a B2 ghost hit lowers p */
	cp_get_stats(&t.cp, &st);
	ck_assert_uint_eq(st.ghost_hits[1], 1);
	ck_assert_uint_lt(t.cp.p, p1);
	check_sums(&t);
	cp_fini(&t.cp);
}
END_TEST

/* The bound starts at min, grows by ghost hits up to max, and halves
 * its distance to min under memory pressure (invariant 3). */
START_TEST(test_bound_follows_workload)
{
	static struct toy t;

	toy_init(&t, CP_ARC, 10 * BLK, 40 * BLK);
	ck_assert_uint_eq(t.cp.bound, 10 * BLK);
	for (int loop = 0; loop < 4; loop++) {
		for (unsigned i = 0; i < 30; i++) {
			toy_read(&t, i, CP_DEMAND);
		}
	}
	/* A loop of 30 blocks: the bound grew until it fits. */
	ck_assert_uint_ge(t.cp.bound, 30 * BLK);
	ck_assert_uint_le(t.cp.bound, 40 * BLK);
	t.hits = 0;
	for (unsigned i = 0; i < 30; i++) {
		toy_read(&t, i, CP_DEMAND);
	}
	ck_assert_uint_eq(t.hits, 30);
	ck_assert_uint_eq(cp_pressure(&t.cp, false), t.cp.bound);
	{
		uint64_t before = t.cp.bound;
		uint64_t after = cp_pressure(&t.cp, true);

		ck_assert_uint_eq(after, before - (before - 10 * BLK + 1) / 2);
	}
	for (int i = 0; i < 40; i++) {
		cp_pressure(&t.cp, true);
	}
	ck_assert_uint_eq(t.cp.bound, 10 * BLK);
	ck_assert_uint_le(t.cp.p, t.cp.bound);
	toy_fit(&t);
	check_sums(&t);
	cp_fini(&t.cp);
}
END_TEST

/* LRU keeps a fixed bound (max); busy entries are skipped by cp_victim;
 * bad arguments are refused. */
static bool busy_1(struct cp_node *n)
{
	return n->key[0] == 1;
}

START_TEST(test_lru_and_args)
{
	static struct toy t;
	enum cp_policy p;
	struct cp c;

	toy_init(&t, CP_LRU, 1 * BLK, 5 * BLK);
	ck_assert_uint_eq(t.cp.bound, 5 * BLK);
	for (unsigned i = 0; i < 5; i++) {
		toy_read(&t, i, CP_DEMAND);
	}
	t.n[0].key[0] = 1; /* the coldest is busy */
	ck_assert_ptr_eq(cp_victim(&t.cp, busy_1), &t.n[1]);
	ck_assert_ptr_eq(cp_victim(&t.cp, NULL), &t.n[0]);
	cp_remove(&t.cp, &t.n[0], false);
	t.resident[0] = false;
	check_sums(&t);
	cp_fini(&t.cp);
	ck_assert_int_eq(cp_init(&c, CP_ARC, 2, 1), -EINVAL);
	ck_assert_int_eq(cp_init(&c, (enum cp_policy)7, 0, 1), -EINVAL);
	ck_assert_int_eq(cp_parse("arc", &p), 0);
	ck_assert_int_eq(p, CP_ARC);
	ck_assert_int_eq(cp_parse("lru", &p), 0);
	ck_assert_int_eq(p, CP_LRU);
	ck_assert_int_eq(cp_parse("2q", &p), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cachepolicy");
	TCase *tc = tcase_create("policy");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_scan_keeps_hot_set);
	tcase_add_test(tc, test_long_scan_lru_vs_arc);
	tcase_add_test(tc, test_readahead_not_promoted);
	tcase_add_test(tc, test_ghost_adaptation);
	tcase_add_test(tc, test_bound_follows_workload);
	tcase_add_test(tc, test_lru_and_args);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
