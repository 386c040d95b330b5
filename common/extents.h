/* extents.h: the one walk over a file's extent list, page by page.
 * Owns the paging rule (the next page starts after the last chunk seen)
 * and refuses a page that does not advance; never does I/O itself: pages
 * come from a fetch callback (mc_extents in production, a table in tests).
 * Runs on the caller's thread. */
#ifndef OBJFS_EXTENTS_H
#define OBJFS_EXTENTS_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/meta.h"

/* Fetches up to max extents of ino from chunk `first` on: the contract of
 * mc_extents (*ext and *inl malloc'd, handed to the caller; the count or a
 * negative errno). */
typedef int (*ext_fetch_fn)(void *src, uint64_t ino, uint64_t first, uint32_t max,
			    struct meta_extent **ext, int *more, struct meta_attr *attr,
			    uint8_t **inl, size_t *inl_len);

/* One page as the shard sent it.  Everything is borrowed: valid only
 * during the callback.  ext[0..n) are strictly ascending chunks, all at or
 * after the page's first chunk.  inl is the inline content (NULL if the
 * file has none).  last: no page follows. */
struct ext_page {
	const struct meta_extent *ext;
	size_t n;
	const struct meta_attr *attr;
	const uint8_t *inl;
	size_t inl_len;
	int last;
};

/* Returns 0 to go on, > 0 to stop early (the walk then returns 0), or a
 * negative errno to abort the walk with that error. */
typedef int (*ext_page_fn)(void *arg, const struct ext_page *pg);

/* Calls fn for every page of ino's extents, in chunk order, max extents a
 * page (1..META_EXTENTS_MAX).  A page with `more` set but no extents, a
 * chunk before the page's start, chunks out of order, or a page ending at
 * chunk UINT64_MAX with `more` set is -OBJ_EPROTO (a malformed or hostile
 * reply must not loop the caller forever).  Returns 0, fetch's error, or
 * fn's negative return. */
int ext_walk(ext_fetch_fn fetch, void *src, uint64_t ino, uint32_t max, ext_page_fn fn, void *arg);

/* ext_walk gathering every page: all extents of ino in one malloc'd array
 * (*ext, *n; the caller frees it, NULL when there are none), the
 * attributes of the last page in *attr, and the inline content (malloc'd,
 * or NULL with *inl_len 0) in *inl.  Returns 0, -ENOMEM, or ext_walk's
 * errors, with nothing allocated. */
int ext_collect(ext_fetch_fn fetch, void *src, uint64_t ino, uint32_t max, struct meta_extent **ext,
		size_t *n, struct meta_attr *attr, uint8_t **inl, size_t *inl_len);

#endif
