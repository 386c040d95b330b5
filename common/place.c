/* place.c: rendezvous placement with zone spreading.  Pure functions of
 * (key, node list); never does I/O or keeps state, so any thread may call
 * it and every client gets the same answer. */
#include "place.h"

#include <stdlib.h>
#include <string.h>

#include "checksum.h"

/* Node lists up to this size are ranked in a stack buffer (16 bytes per
 * node); larger clusters cost one malloc per call. */
#define PLACE_STACK_NODES 256

struct cand {
	uint64_t score;
	uint32_t idx;  /* index into the caller's nodes[] */
	uint32_t pass; /* rank of this node inside its zone: 0 = zone's best */
};

uint64_t place_score(const uint8_t key[16], uint32_t node_id)
{
	uint8_t buf[20];

	/* Id bytes fixed little-endian so every architecture places alike.
	 * XXH3 over key||id scores each node independently, which is what
	 * makes adding or removing a node move only that node's share. */
	memcpy(buf, key, 16);
	buf[16] = (uint8_t)node_id;
	buf[17] = (uint8_t)(node_id >> 8);
	buf[18] = (uint8_t)(node_id >> 16);
	buf[19] = (uint8_t)(node_id >> 24);
	return csum64(buf, sizeof(buf));
}

/* The score of a node for one fragment slot of key: independent of the
 * other slots' scores, so each slot is a rendezvous of its own. */
static uint64_t slot_score(const uint8_t key[16], uint32_t node_id, uint32_t slot)
{
	uint8_t buf[24];

	memcpy(buf, key, 16);
	for (int i = 0; i < 4; i++) {
		buf[16 + i] = (uint8_t)(node_id >> (8 * i));
		buf[20 + i] = (uint8_t)(slot >> (8 * i));
	}
	return csum64(buf, sizeof(buf));
}

/* Better score first; equal scores fall back to the lower node id, then
 * the lower index, so the order is total and the same on every client. */
static int better(const struct place_node *nodes, const struct cand *a, const struct cand *b)
{
	if (a->score != b->score) {
		return a->score > b->score ? -1 : 1;
	}
	if (nodes[a->idx].id != nodes[b->idx].id) {
		return nodes[a->idx].id < nodes[b->idx].id ? -1 : 1;
	}
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* qsort_r comparators; arg is the caller's node list. */
static int by_zone(const void *pa, const void *pb, void *arg)
{
	const struct place_node *nodes = arg;
	const struct cand *a = pa, *b = pb;

	if (nodes[a->idx].zone != nodes[b->idx].zone) {
		return nodes[a->idx].zone < nodes[b->idx].zone ? -1 : 1;
	}
	return better(nodes, a, b);
}

static int by_score(const void *pa, const void *pb, void *arg)
{
	return better(arg, pa, pb);
}

static int by_pass(const void *pa, const void *pb, void *arg)
{
	const struct place_node *nodes = arg;
	const struct cand *a = pa, *b = pb;

	if (a->pass != b->pass) {
		return a->pass < b->pass ? -1 : 1;
	}
	return better(nodes, a, b);
}

size_t place_rank(const uint8_t key[16], const struct place_node *nodes, size_t n_nodes,
		  size_t *out, size_t want)
{
	struct cand stack[PLACE_STACK_NODES];
	struct cand *c = stack;
	size_t n = 0;

	if (n_nodes > PLACE_STACK_NODES) {
		c = malloc(n_nodes * sizeof(*c));
		if (c == NULL) {
			/* The contract has no error return; "no node" makes the
			 * caller fail the operation rather than misplace data. */
			return 0;
		}
	}
	for (size_t i = 0; i < n_nodes; i++) {
		if (nodes[i].up) {
			c[n].score = place_score(key, nodes[i].id);
			c[n].idx = (uint32_t)i;
			n++;
		}
	}
	/* Pass p takes every zone's p-th best node, in score order: every pass,
	 * not only the first, is zone-diverse, so in any prefix a zone with
	 * nodes left holds at most one fewer pick than the fullest zone, and
	 * losing a zone costs as few fragments as the layout allows.  Sorting
	 * by zone numbers the nodes inside each zone; sorting by (pass, score)
	 * then lays the passes out one after another. */
	qsort_r(c, n, sizeof(*c), by_zone, (void *)nodes);
	for (size_t i = 0; i < n; i++) {
		int same = i > 0 && nodes[c[i].idx].zone == nodes[c[i - 1].idx].zone;

		c[i].pass = same ? c[i - 1].pass + 1 : 0;
	}
	qsort_r(c, n, sizeof(*c), by_pass, (void *)nodes);
	if (want > n) {
		want = n;
	}
	for (size_t i = 0; i < want; i++) {
		out[i] = c[i].idx;
	}
	if (c != stack) {
		free(c);
	}
	return want;
}

/* A zone's score for key: zones take turns at the slots in this order. */
static uint64_t zone_score(const uint8_t key[16], uint32_t zone)
{
	return slot_score(key, zone, UINT32_MAX);
}

struct zrank {
	uint64_t score;
	uint32_t zone;
};

static int by_zscore(const void *pa, const void *pb)
{
	const struct zrank *a = pa, *b = pb;

	if (a->score != b->score) {
		return a->score > b->score ? -1 : 1;
	}
	return (a->zone > b->zone) - (a->zone < b->zone);
}

size_t place_slots(const uint8_t key[16], const struct place_node *nodes, size_t n_nodes,
		   size_t slots, size_t *out, size_t want)
{
	struct cand stack[PLACE_STACK_NODES];
	struct zrank zstack[PLACE_STACK_NODES];
	struct cand *c = stack;
	struct zrank *zr = zstack;
	size_t n = 0, nz = 0, done = 0;

	if (n_nodes > PLACE_STACK_NODES) {
		c = malloc(n_nodes * sizeof(*c));
		zr = malloc(n_nodes * sizeof(*zr));
		if (c == NULL || zr == NULL) {
			free(c);
			free(zr);
			return 0; /* as place_rank: no node rather than a wrong one */
		}
	}
	for (size_t i = 0; i < n_nodes; i++) {
		size_t z = 0;

		if (!nodes[i].up) {
			continue;
		}
		c[n].idx = (uint32_t)i;
		c[n].pass = 0; /* 1 once a slot took it */
		n++;
		while (z < nz && zr[z].zone != nodes[i].zone) {
			z++;
		}
		if (z == nz) {
			zr[nz].zone = nodes[i].zone;
			zr[nz].score = zone_score(key, nodes[i].zone);
			nz++;
		}
	}
	qsort(zr, nz, sizeof(*zr), by_zscore);
	want = want < n ? want : n;
	slots = slots < want ? slots : want;
	/* Slot s belongs to the zone whose turn it is, (s mod zones) in the
	 * key's zone order -- or the next zone with a node left -- and goes
	 * to that zone's best free node for (key, s).  A node joining zone z
	 * can only take slots of z, each with the chance its share says. */
	for (size_t s = 0; s < slots; s++) {
		struct cand *best = NULL;

		for (size_t t = 0; t < nz && best == NULL; t++) {
			uint32_t zone = zr[(s + t) % nz].zone;

			for (size_t i = 0; i < n; i++) {
				if (c[i].pass || nodes[c[i].idx].zone != zone) {
					continue;
				}
				c[i].score = slot_score(key, nodes[c[i].idx].id, (uint32_t)s);
				if (best == NULL || better(nodes, &c[i], best) < 0) {
					best = &c[i];
				}
			}
		}
		best->pass = 1;
		out[done++] = best->idx;
	}
	/* the rest: plain rendezvous order */
	if (done < want) {
		size_t left = 0;

		for (size_t i = 0; i < n; i++) {
			if (!c[i].pass) {
				c[left] = c[i];
				c[left].score = place_score(key, nodes[c[left].idx].id);
				left++;
			}
		}
		qsort_r(c, left, sizeof(*c), by_score, (void *)nodes);
		for (size_t i = 0; i < left && done < want; i++) {
			out[done++] = c[i].idx;
		}
	}
	if (c != stack) {
		free(c);
		free(zr);
	}
	return done;
}
