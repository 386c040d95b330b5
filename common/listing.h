/* listing.h: the one walk over a paged listing of paths (a bucket's
 * objects, S3-style, in bytewise path order).  Owns the paging rule (the
 * next page starts after the last path seen) and refuses a page that does
 * not advance; never does I/O itself: pages come from a fetch callback
 * (mc_list in production, a table in tests).  Runs on the caller's thread. */
#ifndef OBJFS_LISTING_H
#define OBJFS_LISTING_H

#include <stdint.h>

/* One entry: returns 0 to go on, > 0 to stop (the walk returns that
 * value), or a negative errno to abort the walk with it. */
typedef int (*lst_entry_fn)(void *arg, const char *path, uint64_t size, int64_t mtime_ns);

/* Fetches up to max entries under prefix that sort after `after`, calling
 * fn for each and stopping at fn's first non-zero return; sets *more.
 * The contract of mc_list: the count, fn's return, or a negative errno. */
typedef int (*lst_fetch_fn)(void *src, const char *prefix, const char *after, uint32_t max,
			    lst_entry_fn fn, void *arg, int *more);

/* Calls fn for every entry under prefix, max a page.  fn may make its own
 * requests (a page is complete when it runs).  A page with `more` set but
 * no entries, or a path not after the one before it (or the page's
 * start), is -OBJ_EPROTO: a malformed or hostile reply must not loop the
 * caller forever.  Returns 0, fn's positive stop value, fn's or fetch's
 * negative errno, or -ENOMEM. */
int lst_walk(lst_fetch_fn fetch, void *src, const char *prefix, uint32_t max, lst_entry_fn fn,
	     void *arg);

#endif
