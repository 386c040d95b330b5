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
