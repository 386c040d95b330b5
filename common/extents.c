/* extents.c: the paged walk over a file's extents (see extents.h).
 * Checks every page before the caller sees it, so no caller needs its own
 * guard against a reply that would make it ask for the same page again. */
#include "extents.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* 0 if pg may be handed on: its chunks ascend from `first`, and a page
 * that promises more has moved past `first` without wrapping. */
static int page_check(const struct ext_page *pg, uint64_t first)
{
	uint64_t min = first;

	for (size_t i = 0; i < pg->n; i++) {
		if (pg->ext[i].chunk < min || (i > 0 && pg->ext[i].chunk == pg->ext[i - 1].chunk)) {
			return -OBJ_EPROTO;
		}
		min = pg->ext[i].chunk;
	}
	if (!pg->last && (pg->n == 0 || pg->ext[pg->n - 1].chunk == UINT64_MAX)) {
		return -OBJ_EPROTO;
	}
	return 0;
}

int ext_walk(ext_fetch_fn fetch, void *src, uint64_t ino, uint32_t max, ext_page_fn fn, void *arg)
{
	uint64_t first = 0;
	int rc = 0, more = 1;

	if (max == 0 || max > META_EXTENTS_MAX) {
		max = META_EXTENTS_MAX;
	}
	while (rc == 0 && more) {
		struct meta_extent *ext = NULL;
		struct meta_attr attr;
		uint8_t *inl = NULL;
		size_t inl_len = 0;
		int n = fetch(src, ino, first, max, &ext, &more, &attr, &inl, &inl_len);

		if (n < 0) {
			rc = n;
		} else if ((uint32_t)n > max) {
			rc = -OBJ_EPROTO;
		} else {
			struct ext_page pg = {
			    .ext = ext,
			    .n = (size_t)n,
			    .attr = &attr,
			    .inl = inl,
			    .inl_len = inl_len,
			    .last = !more,
			};

			rc = page_check(&pg, first);
			if (rc == 0) {
				rc = fn(arg, &pg);
			}
			if (rc == 0 && more) {
				first = ext[n - 1].chunk + 1;
			}
		}
		free(ext);
		free(inl);
	}
	return rc > 0 ? 0 : rc;
}

struct collect {
	struct meta_extent *ext;
	size_t n, cap;
	struct meta_attr *attr;
	uint8_t *inl;
	size_t inl_len;
};

static int collect_page(void *arg, const struct ext_page *pg)
{
	struct collect *c = arg;

	*c->attr = *pg->attr;
	if (c->inl == NULL && pg->inl != NULL && pg->inl_len > 0) {
		if ((c->inl = malloc(pg->inl_len)) == NULL) {
			return -ENOMEM;
		}
		memcpy(c->inl, pg->inl, pg->inl_len);
		c->inl_len = pg->inl_len;
	}
	if (pg->n > c->cap - c->n) {
		size_t cap = c->cap ? c->cap : pg->n;
		struct meta_extent *grown;

		while (cap - c->n < pg->n) {
			cap *= 2;
		}
		if ((grown = realloc(c->ext, cap * sizeof(*grown))) == NULL) {
			return -ENOMEM;
		}
		c->ext = grown;
		c->cap = cap;
	}
	if (pg->n > 0) {
		memcpy(c->ext + c->n, pg->ext, pg->n * sizeof(*pg->ext));
		c->n += pg->n;
	}
	return 0;
}

int ext_collect(ext_fetch_fn fetch, void *src, uint64_t ino, uint32_t max, struct meta_extent **ext,
		size_t *n, struct meta_attr *attr, uint8_t **inl, size_t *inl_len)
{
	struct collect c = {.attr = attr};
	int rc = ext_walk(fetch, src, ino, max, collect_page, &c);

	if (rc != 0) {
		free(c.ext);
		free(c.inl);
		c = (struct collect){0};
	}
	*ext = c.ext;
	*n = c.n;
	*inl = c.inl;
	*inl_len = c.inl_len;
	return rc;
}
