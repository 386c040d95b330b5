/* cachepolicy.c: LRU and ARC over the entries of a block cache (see
 * cachepolicy.h).  Pure bookkeeping on lists the caller locks; the only
 * I/O is cp_memory_short's read of /proc/meminfo.
 *
 * Invariants (checked by test_cachepolicy):
 *  1. bytes[l] is the sum of the sizes of the nodes on list l.
 *  2. A key is resident or in at most one ghost list, never both.
 *  3. min_bytes <= bound <= max_bytes, and p <= bound.
 *  4. Each ghost list holds at most max_bytes of (evicted) sizes: a key
 *     costs ~80 bytes, so remembering as much as the largest the cache
 *     may grow to is cheap, and a loop over more than the bound still
 *     finds its keys there (and grows the bound). */
#include "cachepolicy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CP_GHOST_BUCKETS 4096

struct cp_ghost {
	uint8_t key[BLOCK_ID_LEN];
	uint64_t size;
	int which; /* 0: B1, 1: B2 */
	struct cp_ghost *hnext;
	struct cp_ghost *prev, *next; /* head = most recent */
};

static size_t ghash(const uint8_t *key)
{
	uint64_t h;

	/* Block ids are random: any 8 bytes of them hash well. */
	memcpy(&h, key, sizeof(h));
	return (size_t)(h % CP_GHOST_BUCKETS);
}

int cp_init(struct cp *cp, enum cp_policy policy, uint64_t min_bytes, uint64_t max_bytes)
{
	if (min_bytes > max_bytes || (policy != CP_LRU && policy != CP_ARC)) {
		return -EINVAL;
	}
	memset(cp, 0, sizeof(*cp));
	cp->policy = policy;
	/* LRU keeps the old fixed bound: it has no ghosts to grow by. */
	cp->min_bytes = policy == CP_LRU ? max_bytes : min_bytes;
	cp->max_bytes = max_bytes;
	cp->bound = cp->min_bytes;
	if (policy == CP_ARC) {
		cp->gtab = calloc(CP_GHOST_BUCKETS, sizeof(*cp->gtab));
		if (cp->gtab == NULL) {
			return -ENOMEM;
		}
	}
	return 0;
}

void cp_fini(struct cp *cp)
{
	for (int w = 0; w < 2; w++) {
		while (cp->ghead[w] != NULL) {
			struct cp_ghost *g = cp->ghead[w];

			cp->ghead[w] = g->next;
			free(g);
		}
	}
	free(cp->gtab);
	cp->gtab = NULL;
}

int cp_parse(const char *name, enum cp_policy *out)
{
	if (strcmp(name, "lru") == 0) {
		*out = CP_LRU;
	} else if (strcmp(name, "arc") == 0) {
		*out = CP_ARC;
	} else {
		return -EINVAL;
	}
	return 0;
}

const char *cp_name(enum cp_policy policy)
{
	return policy == CP_LRU ? "lru" : "arc";
}

/* ---- resident lists ----------------------------------------------------- */

static void unlink_node(struct cp *cp, struct cp_node *n)
{
	int l = n->list;

	if (n->prev != NULL) {
		n->prev->next = n->next;
	} else {
		cp->head[l] = n->next;
	}
	if (n->next != NULL) {
		n->next->prev = n->prev;
	} else {
		cp->tail[l] = n->prev;
	}
	cp->bytes[l] -= n->size;
	n->prev = n->next = NULL;
	n->list = CP_NONE;
}

static void push_node(struct cp *cp, struct cp_node *n, int l)
{
	n->list = l;
	n->prev = NULL;
	n->next = cp->head[l];
	if (cp->head[l] != NULL) {
		cp->head[l]->prev = n;
	}
	cp->head[l] = n;
	if (cp->tail[l] == NULL) {
		cp->tail[l] = n;
	}
	cp->bytes[l] += n->size;
}

/* ---- ghosts ------------------------------------------------------------- */

static struct cp_ghost *ghost_find(struct cp *cp, const uint8_t *key)
{
	struct cp_ghost *g = cp->gtab[ghash(key)];

	while (g != NULL && memcmp(g->key, key, BLOCK_ID_LEN) != 0) {
		g = g->hnext;
	}
	return g;
}

static void ghost_drop(struct cp *cp, struct cp_ghost *g)
{
	struct cp_ghost **pp = &cp->gtab[ghash(g->key)];
	int w = g->which;

	while (*pp != NULL && *pp != g) {
		pp = &(*pp)->hnext;
	}
	if (*pp == g) {
		*pp = g->hnext;
	}
	if (g->prev != NULL) {
		g->prev->next = g->next;
	} else {
		cp->ghead[w] = g->next;
	}
	if (g->next != NULL) {
		g->next->prev = g->prev;
	} else {
		cp->gtail[w] = g->prev;
	}
	cp->gbytes[w] -= g->size;
	free(g);
}

/* Remembers an evicted key (best effort: without memory it is simply
 * forgotten, which costs only an adaptation). */
static void ghost_add(struct cp *cp, const struct cp_node *n, int w)
{
	struct cp_ghost *g = calloc(1, sizeof(*g));
	size_t h = ghash(n->key);

	if (g == NULL) {
		return;
	}
	memcpy(g->key, n->key, BLOCK_ID_LEN);
	g->size = n->size;
	g->which = w;
	g->hnext = cp->gtab[h];
	cp->gtab[h] = g;
	g->next = cp->ghead[w];
	if (cp->ghead[w] != NULL) {
		cp->ghead[w]->prev = g;
	}
	cp->ghead[w] = g;
	if (cp->gtail[w] == NULL) {
		cp->gtail[w] = g;
	}
	cp->gbytes[w] += g->size;
	while (cp->gbytes[w] > cp->max_bytes && cp->gtail[w] != NULL) {
		ghost_drop(cp, cp->gtail[w]);
	}
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* A ghost hit: the key was evicted from T1 (w 0) or T2 (w 1) and is
 * wanted again.  ARC's adaptation of p, by the ratio of the ghost lists,
 * and growth of the bound by what a bigger cache would have kept. */
static void ghost_hit(struct cp *cp, struct cp_ghost *g)
{
	uint64_t size = g->size ? g->size : 1;
	int w = g->which;
	uint64_t mine = cp->gbytes[w], other = cp->gbytes[!w];
	uint64_t delta = mine > 0 && other > mine ? size * (other / mine) : size;

	cp->st.ghost_hits[w]++;
	if (w == 0) {
		cp->p = min_u64(cp->bound, cp->p + delta);
	} else {
		cp->p = cp->p > delta ? cp->p - delta : 0;
	}
	if (cp->bound < cp->max_bytes) {
		cp->bound = min_u64(cp->max_bytes, cp->bound + size);
		cp->st.grows++;
	}
	ghost_drop(cp, g);
}

/* ---- the policy --------------------------------------------------------- */

void cp_insert(struct cp *cp, struct cp_node *n, enum cp_insert how)
{
	struct cp_ghost *g;

	n->unreferenced = false;
	if (cp->policy == CP_LRU) {
		push_node(cp, n, CP_T1);
		return;
	}
	g = ghost_find(cp, n->key);
	if (g != NULL) {
		ghost_hit(cp, g);
		push_node(cp, n, CP_T2);
		return;
	}
	if (how == CP_FREQUENT) {
		push_node(cp, n, CP_T2);
		return;
	}
	n->unreferenced = how == CP_AHEAD;
	push_node(cp, n, CP_T1);
}

void cp_touch(struct cp *cp, struct cp_node *n, bool new_ref)
{
	int to = n->list;

	if (cp->policy == CP_ARC && n->unreferenced) {
		/* Read ahead, now read: its first reference. */
		n->unreferenced = false;
	} else if (cp->policy == CP_ARC && new_ref) {
		to = CP_T2;
	}
	unlink_node(cp, n);
	push_node(cp, n, to);
}

void cp_remove(struct cp *cp, struct cp_node *n, bool evicted)
{
	int from = n->list;

	if (from == CP_NONE) {
		return;
	}
	unlink_node(cp, n);
	/* A block read ahead and dropped unread was never referenced: its
	 * later read is a plain miss, not a sign that T1 is too small
	 * (else a stream outrunning its read-ahead would grow p and fill T2
	 * with its blocks). */
	if (evicted && cp->policy == CP_ARC && !n->unreferenced) {
		ghost_add(cp, n, from == CP_T1 ? 0 : 1);
	}
}

static struct cp_node *coldest(struct cp_node *n, bool (*busy)(struct cp_node *n))
{
	while (n != NULL && busy != NULL && busy(n)) {
		n = n->prev;
	}
	return n;
}

struct cp_node *cp_victim(struct cp *cp, bool (*busy)(struct cp_node *n))
{
	struct cp_node *n;

	if (cp->policy == CP_LRU) {
		return coldest(cp->tail[CP_T1], busy);
	}
	/* ARC's REPLACE: T1 gives way while it holds more than its target,
	 * T2 otherwise.  When T1 should give but every block of it is busy
	 * (a stream's block being copied out, its next one loading), the
	 * cache stays over its bound until they are released rather than
	 * evict the frequent blocks for a stream. */
	if (cp->bytes[CP_T1] > 0 && (cp->bytes[CP_T1] > cp->p || cp->bytes[CP_T2] == 0)) {
		n = coldest(cp->tail[CP_T1], busy);
		return n != NULL || cp->bytes[CP_T1] > cp->p ? n : coldest(cp->tail[CP_T2], busy);
	}
	n = coldest(cp->tail[CP_T2], busy);
	return n != NULL ? n : coldest(cp->tail[CP_T1], busy);
}

uint64_t cp_pressure(struct cp *cp, bool short_of_memory)
{
	if (short_of_memory && cp->bound > cp->min_bytes) {
		cp->bound -= (cp->bound - cp->min_bytes + 1) / 2;
		cp->p = min_u64(cp->p, cp->bound);
		cp->st.shrinks++;
	}
	return cp->bound;
}

bool cp_memory_short(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	unsigned long long total = 0, avail = 0, v;
	char line[128], name[64];

	if (f == NULL) {
		return false;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%63[^:]: %llu", name, &v) != 2) {
			continue;
		}
		if (strcmp(name, "MemTotal") == 0) {
			total = v;
		} else if (strcmp(name, "MemAvailable") == 0) {
			avail = v;
		}
	}
	fclose(f);
	return total > 0 && avail > 0 && avail < total / 10;
}

bool cp_tick(struct cp *cp, uint64_t now_ns)
{
	uint64_t before = cp->bound;

	/* Once a second: reading /proc/meminfo costs ~20 us. */
	if (cp->min_bytes == cp->max_bytes || now_ns - cp->checked_ns < 1000000000ULL) {
		return false;
	}
	cp->checked_ns = now_ns;
	return cp_pressure(cp, cp_memory_short()) < before;
}

void cp_get_stats(const struct cp *cp, struct cp_stats *out)
{
	*out = cp->st;
	out->t1_bytes = cp->bytes[CP_T1];
	out->t2_bytes = cp->bytes[CP_T2];
	out->p_bytes = cp->p;
	out->bound_bytes = cp->bound;
}
