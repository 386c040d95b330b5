/* replay.c: the replay window (see replay.h).
 * An open-addressing table of (ts, nonce) pairs.  When it passes half full
 * it is rebuilt without the entries that fell out of the window; if that
 * frees too little, the floor of accepted timestamps is raised to the
 * middle of the window, which bounds memory under any flood while never
 * accepting a pair twice (anything below the floor is refused). */
#include "replay.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"

struct slot {
	uint64_t ts; /* 0 = empty (a real request never has ts 0) */
	uint64_t nonce;
};

struct replay {
	pthread_mutex_t mu; /* guards everything below */
	uint64_t window_ms;
	uint64_t floor_ts; /* requests older than this are refused */
	uint32_t cap;	   /* power of two */
	uint32_t used;
	uint64_t max_ts; /* newest timestamp accepted */
	struct slot *slots;
};

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t c = 1024;

	while (c < n && c < (1u << 30)) {
		c <<= 1;
	}
	return c;
}

struct replay *replay_create(uint64_t window_ms, uint32_t capacity)
{
	struct replay *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		return NULL;
	}
	r->cap = pow2_at_least(capacity * 2);
	r->slots = calloc(r->cap, sizeof(*r->slots));
	if (r->slots == NULL) {
		free(r);
		return NULL;
	}
	r->window_ms = window_ms;
	pthread_mutex_init(&r->mu, NULL);
	return r;
}

void replay_destroy(struct replay *r)
{
	if (r == NULL) {
		return;
	}
	pthread_mutex_destroy(&r->mu);
	free(r->slots);
	free(r);
}

static uint32_t slot_of(const struct replay *r, uint64_t ts, uint64_t nonce)
{
	uint64_t h = (nonce ^ (ts * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;

	return (uint32_t)(h >> 32) & (r->cap - 1);
}

/* Returns 1 if present, 0 after inserting. */
static int find_or_insert(struct replay *r, uint64_t ts, uint64_t nonce)
{
	uint32_t i = slot_of(r, ts, nonce);

	for (;;) {
		struct slot *s = &r->slots[i];

		if (s->ts == 0) {
			s->ts = ts;
			s->nonce = nonce;
			r->used++;
			return 0;
		}
		if (s->ts == ts && s->nonce == nonce) {
			return 1;
		}
		i = (i + 1) & (r->cap - 1);
	}
}

/* Rebuilds the table keeping entries at or above floor_ts. */
static void purge(struct replay *r)
{
	struct slot *old = malloc((size_t)r->cap * sizeof(*old));
	uint32_t cap = r->cap;

	if (old == NULL) {
		/* Cannot rebuild: forget everything and refuse the whole
		 * window that might have been remembered. */
		memset(r->slots, 0, (size_t)cap * sizeof(*r->slots));
		r->used = 0;
		r->floor_ts = r->max_ts + 1;
		return;
	}
	memcpy(old, r->slots, (size_t)cap * sizeof(*old));
	memset(r->slots, 0, (size_t)cap * sizeof(*r->slots));
	r->used = 0;
	for (uint32_t i = 0; i < cap; i++) {
		if (old[i].ts != 0 && old[i].ts >= r->floor_ts) {
			find_or_insert(r, old[i].ts, old[i].nonce);
		}
	}
	free(old);
}

int replay_check(struct replay *r, uint64_t ts_ms, uint64_t nonce, uint64_t now_ms)
{
	uint64_t lo = now_ms > r->window_ms ? now_ms - r->window_ms : 1;
	int rc = 0;

	if (ts_ms < lo || ts_ms > now_ms + r->window_ms) {
		return -OBJ_EAUTH;
	}
	pthread_mutex_lock(&r->mu);
	if (r->floor_ts < lo) {
		r->floor_ts = lo; /* slides with the clock; raised further on floods */
	}
	if (ts_ms < r->floor_ts) {
		rc = -OBJ_EAUTH;
		goto out;
	}
	if (r->used >= r->cap / 2) {
		purge(r);
		if (r->used >= r->cap / 4) {
			r->floor_ts = now_ms - r->window_ms / 2;
			purge(r);
			if (r->used >= r->cap / 4) {
				r->floor_ts = now_ms; /* pathological: keep only the future */
				purge(r);
			}
		}
		if (ts_ms < r->floor_ts || r->used >= r->cap / 2) { /* a full table hangs probes */
			rc = -OBJ_EAUTH;
			goto out;
		}
	}
	if (find_or_insert(r, ts_ms, nonce)) {
		rc = -OBJ_EAUTH;
	} else if (ts_ms > r->max_ts) {
		r->max_ts = ts_ms;
	}
out:
	pthread_mutex_unlock(&r->mu);
	return rc;
}
