/* gc_grace.c: first-seen times of queued blocks (see gc_grace.h).  A chained
 * hash table keyed by block id; a pass marks what it saw and sweeps the
 * rest.  Never frees a block's wait early: a failed allocation answers
 * "wait". */
#include "gc_grace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Block ids are random: their first bytes hash well.  1024 chains keep a
 * queue of tens of thousands of blocks a few steps per lookup. */
#define GCG_BUCKETS 1024

struct gcg_entry {
	uint8_t id[BLOCK_ID_LEN];
	uint64_t first_ms;
	uint64_t pass; /* the last pass that saw it */
	struct gcg_entry *next;
};

struct gc_grace {
	struct gcg_entry *b[GCG_BUCKETS];
	uint64_t pass;
	size_t n;
};

int gcg_open(struct gc_grace **out)
{
	*out = calloc(1, sizeof(**out));
	return *out == NULL ? -ENOMEM : 0;
}

void gcg_close(struct gc_grace *g)
{
	if (g == NULL) {
		return;
	}
	for (size_t i = 0; i < GCG_BUCKETS; i++) {
		while (g->b[i] != NULL) {
			struct gcg_entry *e = g->b[i];

			g->b[i] = e->next;
			free(e);
		}
	}
	free(g);
}

static size_t bucket_of(const uint8_t id[BLOCK_ID_LEN])
{
	return ((size_t)id[0] | (size_t)id[1] << 8) % GCG_BUCKETS;
}

void gcg_begin(struct gc_grace *g)
{
	g->pass++;
}

int gcg_ripe(struct gc_grace *g, const uint8_t id[BLOCK_ID_LEN], uint64_t now_ms, uint64_t grace_ms)
{
	struct gcg_entry **pp = &g->b[bucket_of(id)], *e;

	for (e = *pp; e != NULL; e = e->next) {
		if (memcmp(e->id, id, BLOCK_ID_LEN) == 0) {
			break;
		}
	}
	if (e == NULL) {
		e = malloc(sizeof(*e));
		if (e == NULL) {
			return -ENOMEM;
		}
		memcpy(e->id, id, BLOCK_ID_LEN);
		e->first_ms = now_ms;
		e->next = *pp;
		*pp = e;
		g->n++;
	}
	e->pass = g->pass;
	return now_ms >= e->first_ms && now_ms - e->first_ms >= grace_ms;
}

size_t gcg_end(struct gc_grace *g)
{
	for (size_t i = 0; i < GCG_BUCKETS; i++) {
		struct gcg_entry **pp = &g->b[i];

		while (*pp != NULL) {
			struct gcg_entry *e = *pp;

			if (e->pass != g->pass) {
				*pp = e->next;
				free(e);
				g->n--;
			} else {
				pp = &e->next;
			}
		}
	}
	return g->n;
}
