/* test_place.c: unit tests of rendezvous placement (common/place.c):
 * distinct zone-spread picks, determinism, even load, and that membership
 * changes move only the share they must. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/place.h"
#include "../lib/testlib.h"

#define MAX_NODES 400

/* place_score(key 00 01 .. 0f, node 7): XXH3-64 of the key followed by the
 * id in little-endian bytes. */
#define PINNED_SCORE 0xd58865adf2399fb6ULL

/* splitmix64: fixed seeds keep failures reproducible. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void random_key(uint64_t *s, uint8_t key[16])
{
	uint64_t a = rng_next(s), b = rng_next(s);

	memcpy(key, &a, 8);
	memcpy(key + 8, &b, 8);
}

/* n nodes with ids 100, 101, ... spread round-robin over n_zones zones. */
static void make_nodes(struct place_node *nodes, size_t n, uint32_t n_zones)
{
	for (size_t i = 0; i < n; i++) {
		nodes[i] = (struct place_node){
		    .id = 100 + (uint32_t)i, .zone = (uint32_t)i % n_zones, .up = 1};
	}
}

/* Ranks and converts the indexes to node ids, so lists built from
 * different node arrays can be compared. */
static size_t rank_ids(const uint8_t key[16], const struct place_node *nodes, size_t n,
		       uint32_t *ids, size_t want)
{
	size_t idx[MAX_NODES];
	size_t got = place_rank(key, nodes, n, idx, want);

	ck_assert_uint_le(got, want);
	for (size_t i = 0; i < got; i++) {
		ck_assert_uint_lt(idx[i], n);
		ids[i] = nodes[idx[i]].id;
	}
	return got;
}

static int has_id(const uint32_t *ids, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == id) {
			return 1;
		}
	}
	return 0;
}

/* The score depends on both key and node id, is stable across calls, and
 * is pinned: a change to it would silently move every stored fragment. */
START_TEST(test_score)
{
	uint8_t key[16], key2[16];

	for (int i = 0; i < 16; i++) {
		key[i] = (uint8_t)i;
	}
	memcpy(key2, key, 16);
	key2[15] ^= 1;
	ck_assert_uint_eq(place_score(key, 7), place_score(key, 7));
	ck_assert_uint_ne(place_score(key, 7), place_score(key, 8));
	ck_assert_uint_ne(place_score(key, 7), place_score(key2, 7));
	ck_assert_uint_eq(place_score(key, 7), PINNED_SCORE);
}
END_TEST

/* Picks are distinct up nodes, capped at the number of nodes, and a shorter
 * request is a prefix of a longer one. */
START_TEST(test_distinct)
{
	struct place_node nodes[6];
	uint32_t all[16], few[16];
	uint64_t seed = 1;
	uint8_t key[16];

	make_nodes(nodes, 6, 3);
	for (int t = 0; t < 1000; t++) {
		random_key(&seed, key);
		ck_assert_uint_eq(rank_ids(key, nodes, 6, all, 16), 6);
		for (int i = 0; i < 6; i++) {
			ck_assert(!has_id(all, (size_t)i, all[i]));
		}
		ck_assert_uint_eq(rank_ids(key, nodes, 6, few, 4), 4);
		ck_assert_mem_eq(few, all, 4 * sizeof(uint32_t));
	}
	ck_assert_uint_eq(rank_ids(key, nodes, 6, all, 0), 0);
	ck_assert_uint_eq(place_rank(key, nodes, 0, NULL, 0), 0);
}
END_TEST

/* With 6 nodes in 3 zones the first 3 picks cover all zones and the first
 * 6 use each zone twice. */
START_TEST(test_zones_even)
{
	struct place_node nodes[6];
	size_t idx[6];
	uint64_t seed = 2;
	uint8_t key[16];

	make_nodes(nodes, 6, 3);
	for (int t = 0; t < 2000; t++) {
		int count[3] = {0, 0, 0};

		random_key(&seed, key);
		ck_assert_uint_eq(place_rank(key, nodes, 6, idx, 6), 6);
		for (int i = 0; i < 6; i++) {
			count[nodes[idx[i]].zone]++;
			if (i == 2) {
				ck_assert(count[0] == 1 && count[1] == 1 && count[2] == 1);
			}
		}
		ck_assert(count[0] == 2 && count[1] == 2 && count[2] == 2);
	}
}
END_TEST

/* With uneven zones (4, 3 and 2 nodes) every prefix stays balanced: a zone
 * that still has nodes never trails the fullest zone by more than one. */
START_TEST(test_zones_uneven)
{
	static const uint32_t zone_of[9] = {0, 0, 0, 0, 1, 1, 1, 2, 2};
	static const int zone_size[3] = {4, 3, 2};
	struct place_node nodes[9];
	size_t idx[9];
	uint64_t seed = 3;
	uint8_t key[16];

	for (int i = 0; i < 9; i++) {
		nodes[i] =
		    (struct place_node){.id = 7 * (uint32_t)i + 1, .zone = zone_of[i], .up = 1};
	}
	for (int t = 0; t < 2000; t++) {
		int count[3] = {0, 0, 0};

		random_key(&seed, key);
		ck_assert_uint_eq(place_rank(key, nodes, 9, idx, 9), 9);
		for (int i = 0; i < 9; i++) {
			int most;

			count[nodes[idx[i]].zone]++;
			most = count[0] > count[1] ? count[0] : count[1];
			most = most > count[2] ? most : count[2];
			for (int z = 0; z < 3; z++) {
				ck_assert(count[z] == zone_size[z] || count[z] >= most - 1);
			}
		}
	}
}
END_TEST

/* Ranking is a function of (key, node set): repeated calls agree, and so
 * does a node list given in another order. */
START_TEST(test_deterministic)
{
	struct place_node nodes[8], shuffled[8];
	uint32_t a[8], b[8], c[8];
	uint64_t seed = 4;
	uint8_t key[16];

	make_nodes(nodes, 8, 3);
	for (int i = 0; i < 8; i++) {
		shuffled[i] = nodes[(i * 5 + 3) % 8];
	}
	for (int t = 0; t < 1000; t++) {
		random_key(&seed, key);
		ck_assert_uint_eq(rank_ids(key, nodes, 8, a, 8), 8);
		ck_assert_uint_eq(rank_ids(key, nodes, 8, b, 8), 8);
		ck_assert_uint_eq(rank_ids(key, shuffled, 8, c, 8), 8);
		ck_assert_mem_eq(a, b, sizeof(a));
		ck_assert_mem_eq(a, c, sizeof(a));
	}
}
END_TEST

/* Nodes marked down are never picked, and with all down nothing is. */
START_TEST(test_down)
{
	struct place_node nodes[8];
	size_t idx[8];
	uint64_t seed = 5;
	uint8_t key[16];

	make_nodes(nodes, 8, 2);
	nodes[1].up = 0;
	nodes[4].up = 0;
	nodes[7].up = 0;
	for (int t = 0; t < 1000; t++) {
		random_key(&seed, key);
		ck_assert_uint_eq(place_rank(key, nodes, 8, idx, 8), 5);
		for (int i = 0; i < 5; i++) {
			ck_assert(nodes[idx[i]].up);
		}
	}
	for (int i = 0; i < 8; i++) {
		nodes[i].up = 0;
	}
	ck_assert_uint_eq(place_rank(key, nodes, 8, idx, 8), 0);
}
END_TEST

/* Over 20000 keys each of 6 nodes is ranked first 1/6 +- 2% of the time. */
START_TEST(test_distribution)
{
	struct place_node nodes[6];
	int first[6] = {0};
	size_t idx[1];
	uint64_t seed = 6;
	uint8_t key[16];
	const int n_keys = 20000;

	make_nodes(nodes, 6, 3);
	for (int t = 0; t < n_keys; t++) {
		random_key(&seed, key);
		ck_assert_uint_eq(place_rank(key, nodes, 6, idx, 1), 1);
		first[idx[0]]++;
	}
	for (int i = 0; i < 6; i++) {
		double share = (double)first[i] / n_keys;

		ck_assert_msg(share > 1.0 / 6 - 0.02 && share < 1.0 / 6 + 0.02,
			      "node %d first for %.4f of keys", i, share);
	}
}
END_TEST

/* Fraction of the want picks per key whose node is no longer picked after
 * the cluster changes from a to b, over n_keys keys. */
static double moved_share(const struct place_node *a, size_t na, const struct place_node *b,
			  size_t nb, size_t want, int n_keys)
{
	uint32_t before[MAX_NODES], after[MAX_NODES];
	uint64_t seed = 7;
	uint8_t key[16];
	long moved = 0, total = 0;

	for (int t = 0; t < n_keys; t++) {
		size_t got, got2;

		random_key(&seed, key);
		got = rank_ids(key, a, na, before, want);
		got2 = rank_ids(key, b, nb, after, want);
		for (size_t i = 0; i < got; i++) {
			moved += !has_id(after, got2, before[i]);
		}
		total += (long)got;
	}
	return (double)moved / (double)total;
}

/* Adding a 7th node to a single zone of 6 moves about 1/7 of the 6 picks
 * per key (the new node's fair share), well under 2/7. */
/* Fragment slots (place_slots): fragment i of every key sits on slot i's
 * node; over 24 nodes in 3 zones, a 25th node moves no more fragments than
 * its fair share 1/25 (plus noise) -- by rank order it would be about 2x. */
START_TEST(test_slots_add_node)
{
	struct place_node nodes[25];
	size_t a[6], b[6];
	uint64_t seed = 11;
	uint8_t key[16];
	long moved = 0, total = 0;

	make_nodes(nodes, 25, 3);
	for (int t = 0; t < 4000; t++) {
		size_t na, nb;

		random_key(&seed, key);
		na = place_slots(key, nodes, 24, 6, a, 6);
		nb = place_slots(key, nodes, 25, 6, b, 6);
		ck_assert_uint_eq(na, 6);
		ck_assert_uint_eq(nb, 6);
		for (size_t i = 0; i < 6; i++) {
			moved += nodes[a[i]].id != nodes[b[i]].id;
		}
		total += 6;
	}
	ck_assert_msg((double)moved / (double)total < 1.1 / 25, "moved %.4f of the fragments",
		      (double)moved / (double)total);
}
END_TEST

/* Slots spread over the zones like place_rank (2 per zone for 6 slots over
 * 3 zones), hold distinct nodes, do not depend on how many slots were
 * asked for (k of k+m are the same for any m), and the rest of the list
 * holds every other up node once. */
START_TEST(test_slots_shape)
{
	struct place_node nodes[12];
	size_t x[12], y[12];
	uint64_t seed = 5;
	uint8_t key[16];

	make_nodes(nodes, 12, 3);
	nodes[4].up = 0;
	for (int t = 0; t < 500; t++) {
		int zone[3] = {0}, seen[12] = {0};
		size_t n;

		random_key(&seed, key);
		n = place_slots(key, nodes, 12, 6, x, 12);
		ck_assert_uint_eq(n, 11);
		for (size_t i = 0; i < n; i++) {
			ck_assert(nodes[x[i]].up);
			ck_assert(!seen[x[i]]);
			seen[x[i]] = 1;
			if (i < 6) {
				zone[nodes[x[i]].zone]++;
			}
		}
		ck_assert(zone[0] == 2 && zone[1] == 2 && zone[2] == 2);
		ck_assert_uint_eq(place_slots(key, nodes, 12, 9, y, 4), 4);
		ck_assert(memcmp(x, y, 4 * sizeof(*x)) == 0);
		ck_assert_uint_eq(place_slots(key, nodes, 12, 6, y, 6), 6);
		ck_assert(memcmp(x, y, 6 * sizeof(*x)) == 0);
	}
}
END_TEST

START_TEST(test_add_node_single_zone)
{
	struct place_node nodes[7];
	double share;

	make_nodes(nodes, 7, 1);
	share = moved_share(nodes, 6, nodes, 7, 6, 5000);
	ck_assert_msg(share > 0.05 && share < 2.0 / 7, "moved %.4f", share);
}
END_TEST

/* Adding a 7th node to 6 spread over 3 zones moves under half the picks. */
START_TEST(test_add_node_zones)
{
	struct place_node nodes[7];
	double share;

	make_nodes(nodes, 7, 3);
	share = moved_share(nodes, 6, nodes, 7, 6, 5000);
	ck_assert_msg(share > 0.0 && share < 0.5, "moved %.4f", share);
}
END_TEST

/* Removing a node (single zone, 10 nodes, 6 picks) only moves the picks that
 * were on it: keys that did not use it keep the same list, keys that did
 * keep their other 5 nodes in the same order. */
START_TEST(test_remove_node)
{
	struct place_node nodes[10];
	uint32_t before[10], after[10];
	uint64_t seed = 8;
	uint8_t key[16];
	const uint32_t gone = 103;
	int used = 0;

	make_nodes(nodes, 10, 1);
	for (int t = 0; t < 5000; t++) {
		size_t j = 0;

		random_key(&seed, key);
		nodes[3].up = 1;
		ck_assert_uint_eq(rank_ids(key, nodes, 10, before, 6), 6);
		nodes[3].up = 0;
		ck_assert_uint_eq(rank_ids(key, nodes, 10, after, 6), 6);
		ck_assert(!has_id(after, 6, gone));
		if (!has_id(before, 6, gone)) {
			ck_assert_mem_eq(before, after, sizeof(before[0]) * 6);
			continue;
		}
		used++;
		for (size_t i = 0; i < 6; i++) {
			if (before[i] != gone) {
				ck_assert_uint_eq(after[j++], before[i]);
			}
		}
		ck_assert(!has_id(before, 6, after[5]));
	}
	ck_assert_int_gt(used, 0);
}
END_TEST

/* Clusters past the stack buffer (300 nodes, 5 zones) rank every node once,
 * zones interleaved. */
START_TEST(test_large_cluster)
{
	static struct place_node nodes[300];
	static size_t idx[300];
	static uint8_t seen[300];
	uint64_t seed = 9;
	uint8_t key[16];

	make_nodes(nodes, 300, 5);
	for (int t = 0; t < 20; t++) {
		random_key(&seed, key);
		memset(seen, 0, sizeof(seen));
		ck_assert_uint_eq(place_rank(key, nodes, 300, idx, 300), 300);
		for (size_t i = 0; i < 300; i++) {
			ck_assert(!seen[idx[i]]);
			seen[idx[i]] = 1;
			/* 60 nodes per zone: every block of 5 covers 5 zones. */
			for (size_t j = i - i % 5; j < i; j++) {
				ck_assert_uint_ne(nodes[idx[j]].zone, nodes[idx[i]].zone);
			}
		}
	}
}
END_TEST

static Suite *place_suite(void)
{
	Suite *s = suite_create("place");
	TCase *tc = tcase_create("rank");

	tcase_add_test(tc, test_score);
	tcase_add_test(tc, test_distinct);
	tcase_add_test(tc, test_zones_even);
	tcase_add_test(tc, test_zones_uneven);
	tcase_add_test(tc, test_deterministic);
	tcase_add_test(tc, test_down);
	tcase_add_test(tc, test_distribution);
	tcase_add_test(tc, test_add_node_single_zone);
	tcase_add_test(tc, test_add_node_zones);
	tcase_add_test(tc, test_remove_node);
	tcase_add_test(tc, test_large_cluster);
	tcase_add_test(tc, test_slots_add_node);
	tcase_add_test(tc, test_slots_shape);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(place_suite());
}
