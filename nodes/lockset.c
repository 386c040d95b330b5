/* lockset.c: conflict test and owner update of the lock table (lockset.h). */
#include "lockset.h"

#include <stdbool.h>
#include <stdlib.h>

static bool same_owner(const struct meta_lock *a, const struct meta_lock *b)
{
	return a->session == b->session && a->owner == b->owner;
}

static bool overlap(const struct meta_lock *a, const struct meta_lock *b)
{
	return a->start <= b->end && b->start <= a->end;
}

long lockset_conflict(const struct meta_lock *held, size_t n, const struct meta_lock *req)
{
	if (req->type == META_LK_UN) {
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct meta_lock *h = &held[i];

		if (h->kind == req->kind && !same_owner(h, req) && overlap(h, req) &&
		    (h->type == META_LK_WR || req->type == META_LK_WR)) {
			return (long)i;
		}
	}
	return -1;
}

static int by_start(const void *a, const void *b)
{
	const struct meta_lock *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

size_t lockset_apply(const struct meta_lock *mine, size_t n, const struct meta_lock *req,
		     struct meta_lock *out)
{
	size_t k = 0, j = 0;

	/* 1. Cut req's range out of every lock: what is left of each is at
	 * most a piece before and a piece after it. */
	for (size_t i = 0; i < n; i++) {
		const struct meta_lock *m = &mine[i];

		if (!overlap(m, req)) {
			out[k++] = *m;
			continue;
		}
		if (m->start < req->start) {
			out[k] = *m;
			out[k++].end = req->start - 1;
		}
		if (m->end > req->end) {
			out[k] = *m;
			out[k++].start = req->end + 1;
		}
	}
	/* The pieces of locks that did not overlap each other cannot
	 * overlap: at most one lock straddles each end of req, so k <= n+1. */
	if (req->type != META_LK_UN) {
		out[k++] = *req;
	}
	qsort(out, k, sizeof(*out), by_start);
	/* 2. Join neighbours of one type (a range the owner holds twice is
	 * one lock, as fcntl reports it). */
	for (size_t i = 0; i < k; i++) {
		if (j > 0 && out[j - 1].type == out[i].type && out[j - 1].end != META_LOCK_EOF &&
		    out[j - 1].end + 1 >= out[i].start) {
			if (out[i].end > out[j - 1].end) {
				out[j - 1].end = out[i].end;
			}
			if (same_owner(&out[i], req) && out[i].start == req->start &&
			    out[i].end == req->end) {
				out[j - 1].pid = req->pid;
			}
			continue;
		}
		out[j++] = out[i];
	}
	return j;
}
