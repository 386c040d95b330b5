/* placesim.c: how objfs's placement (common/place.c: rendezvous ranking
 * with zone spreading) spreads data and metadata as a cluster grows from
 * 6 to 1,000 nodes -- a simulation, no cluster needed.  For each size it
 * places B blocks of k+m fragments and S shards of 3 replicas, then adds
 * one node and counts what moves:
 *   moved      fragments whose node changed when node N+1 joined, as a
 *              fraction of all, with objfs's placement (place_slots); the
 *              ideal is the newcomer's share, 1/(N+1).  "by rank" is the
 *              same with fragment i on the i-th node of place_rank (the
 *              placement before place_slots), which shifts every fragment
 *              ranked after the newcomer
 *   frag skew  most-loaded node's fragments / the mean
 *   shards     replicas per node, mean and max
 *   hot skew   with requests over shards following Zipf(1) and each
 *              shard's load on its leader (its best-ranked replica), the
 *              busiest node's load / the mean
 * Usage: placesim [--blocks B] [--shards-per-node S] [--k K --m M]
 *                 [--zones Z] [--csv]
 * Deterministic: the same arguments give the same numbers. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/place.h"

#define MAX_NODES 1001
#define MAX_WIDTH 32

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* splitmix64: reproducible ids without a system RNG */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void make_ids(uint8_t (*ids)[16], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t a = rng(), b = rng();

		memcpy(ids[i], &a, 8);
		memcpy(ids[i] + 8, &b, 8);
	}
}

static void make_nodes(struct place_node *nodes, size_t n, uint32_t zones)
{
	for (size_t i = 0; i < n; i++) {
		nodes[i].id = (uint32_t)i + 1;
		nodes[i].zone = (uint32_t)(i % zones);
		nodes[i].up = 1;
	}
}

struct row {
	size_t nodes;
	double moved, moved_rank, ideal, frag_skew, shards_mean, hot_skew;
	size_t shards_max;
};

static void simulate(size_t n, uint32_t zones, size_t width, uint8_t (*blocks)[16], size_t nb,
		     size_t spn, struct row *r)
{
	struct place_node nodes[MAX_NODES];
	size_t a[MAX_WIDTH], b[MAX_WIDTH];
	size_t *load = calloc(n + 1, sizeof(*load)), moved = 0, moved_rank = 0, ns = spn * n;
	double *hot = calloc(n + 1, sizeof(*hot)), hsum = 0, hmax = 0;
	size_t *reps = calloc(n + 1, sizeof(*reps));
	uint8_t(*shards)[16] = malloc(ns * sizeof(*shards));

	if (load == NULL || hot == NULL || reps == NULL || shards == NULL) {
		fprintf(stderr, "placesim: out of memory\n");
		exit(1);
	}
	make_nodes(nodes, n + 1, zones);
	for (size_t i = 0; i < nb; i++) {
		size_t wa = place_rank(blocks[i], nodes, n, a, width);
		size_t wb = place_rank(blocks[i], nodes, n + 1, b, width);

		for (size_t j = 0; j < wa; j++) {
			/* fragment j lives on a[j]: it moves unless j keeps it */
			moved_rank += j >= wb || a[j] != b[j];
		}
		wa = place_slots(blocks[i], nodes, n, width, a, width);
		wb = place_slots(blocks[i], nodes, n + 1, width, b, width);
		for (size_t j = 0; j < wa; j++) {
			load[a[j]]++;
			moved += j >= wb || a[j] != b[j];
		}
	}
	rng_state = 0x1234567;
	make_ids(shards, ns);
	for (size_t s = 0; s < ns; s++) {
		size_t w = place_rank(shards[s], nodes, n, a, 3);
		double q = 1.0 / (double)(s + 1); /* Zipf(1) over shards */

		for (size_t j = 0; j < w; j++) {
			reps[a[j]]++;
		}
		hot[a[0]] += q;
		hsum += q;
	}
	r->nodes = n;
	r->moved = (double)moved / (double)(nb * width);
	r->moved_rank = (double)moved_rank / (double)(nb * width);
	r->ideal = 1.0 / (double)(n + 1);
	{
		double mean = (double)(nb * width) / (double)n, mx = 0;

		for (size_t i = 0; i < n; i++) {
			mx = (double)load[i] > mx ? (double)load[i] : mx;
		}
		r->frag_skew = mx / mean;
	}
	r->shards_mean = 3.0 * (double)ns / (double)n;
	r->shards_max = 0;
	for (size_t i = 0; i < n; i++) {
		r->shards_max = reps[i] > r->shards_max ? reps[i] : r->shards_max;
		hmax = hot[i] > hmax ? hot[i] : hmax;
	}
	r->hot_skew = hmax / (hsum / (double)n);
	free(load);
	free(hot);
	free(reps);
	free(shards);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"blocks", required_argument, NULL, 'b'},
	    {"shards-per-node", required_argument, NULL, 's'},
	    {"k", required_argument, NULL, 'k'},
	    {"m", required_argument, NULL, 'm'},
	    {"zones", required_argument, NULL, 'z'},
	    {"csv", no_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const size_t sizes[] = {6, 12, 24, 48, 100, 250, 500, 1000};
	size_t nb = 100000, spn = 10, k = 4, m = 2;
	uint32_t zones = 3;
	int csv = 0, o;
	uint8_t(*blocks)[16];

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'b':
			nb = strtoull(optarg, NULL, 10);
			break;
		case 's':
			spn = strtoull(optarg, NULL, 10);
			break;
		case 'k':
			k = strtoull(optarg, NULL, 10);
			break;
		case 'm':
			m = strtoull(optarg, NULL, 10);
			break;
		case 'z':
			zones = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			csv = 1;
			break;
		case 'h':
			printf("Usage: placesim [--blocks B] [--shards-per-node S] [--k K] [--m M] "
			       "[--zones Z] [--csv]\n(see the top of bench/placesim.c)\n");
			return 0;
		default:
			return 2;
		}
	}
	if (nb == 0 || spn == 0 || k == 0 || k + m > MAX_WIDTH || zones == 0) {
		fprintf(stderr, "placesim: bad arguments\n");
		return 2;
	}
	blocks = malloc(nb * sizeof(*blocks));
	if (blocks == NULL) {
		return 1;
	}
	make_ids(blocks, nb);
	if (csv) {
		printf(
		    "nodes,moved_fraction,moved_fraction_by_rank,ideal_fraction,moved_over_ideal,"
		    "frag_skew,shards_per_node_mean,shards_per_node_max,hot_skew\n");
	} else {
		printf("%zu blocks of %zu+%zu, %zu shards per node (3 replicas), %u zones\n", nb, k,
		       m, spn, zones);
		printf("%6s %9s %7s %9s %9s %9s %8s %8s %8s\n", "NODES", "MOVED", "x IDEAL",
		       "BY RANK", "IDEAL", "FRAGSKEW", "SHARDS", "MAX", "HOTSKEW");
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct row r;

		if (sizes[i] < k + m) {
			continue;
		}
		simulate(sizes[i], zones, k + m, blocks, nb, spn, &r);
		if (csv) {
			printf("%zu,%.6f,%.6f,%.6f,%.3f,%.3f,%.1f,%zu,%.2f\n", r.nodes, r.moved,
			       r.moved_rank, r.ideal, r.moved / r.ideal, r.frag_skew, r.shards_mean,
			       r.shards_max, r.hot_skew);
		} else {
			printf("%6zu %8.3f%% %7.2f %8.3f%% %8.3f%% %9.3f %8.1f %8zu %8.2f\n",
			       r.nodes, 100 * r.moved, r.moved / r.ideal, 100 * r.moved_rank,
			       100 * r.ideal, r.frag_skew, r.shards_mean, r.shards_max, r.hot_skew);
		}
	}
	free(blocks);
	return 0;
}
