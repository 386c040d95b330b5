/* listing.c: the paged walk over a listing (see listing.h).  Each entry is
 * checked before the caller sees it, so no caller needs its own guard
 * against a reply that would make it ask for the same page again. */
#include "listing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/wire.h"
#include "err.h"

struct walk {
	lst_entry_fn fn;
	void *arg;
	char *last;  /* the last path handed on ("" before the first) */
	size_t seen; /* entries in the current page */
	int stop;    /* fn's non-zero return, or -OBJ_EPROTO */
};

static int walk_entry(void *arg, const char *path, uint64_t size, int64_t mtime_ns)
{
	struct walk *w = arg;
	size_t len = strlen(path);

	/* Bytewise order, strictly: a repeat or a step back is no listing. */
	if (len > WIRE_STR_MAX || strcmp(path, w->last) <= 0) {
		w->stop = -OBJ_EPROTO;
		return w->stop;
	}
	memcpy(w->last, path, len + 1);
	w->seen++;
	w->stop = w->fn(w->arg, path, size, mtime_ns);
	return w->stop;
}

int lst_walk(lst_fetch_fn fetch, void *src, const char *prefix, uint32_t max, lst_entry_fn fn,
	     void *arg)
{
	struct walk w = {.fn = fn, .arg = arg, .last = calloc(1, WIRE_STR_MAX + 1)};
	char *after = calloc(1, WIRE_STR_MAX + 1);
	int more = 1, rc = 0;

	if (w.last == NULL || after == NULL) {
		rc = -ENOMEM;
	}
	while (rc == 0 && more) {
		w.seen = 0;
		rc = fetch(src, prefix, after, max, walk_entry, &w, &more);
		if (w.stop != 0) {
			rc = w.stop; /* fn stopped or aborted, or a path went back */
		} else if (rc > 0) {
			rc = 0; /* the page's count */
		}
		if (rc == 0 && more && w.seen == 0) {
			rc = -OBJ_EPROTO; /* "more" with nothing: the same page again */
		}
		memcpy(after, w.last, WIRE_STR_MAX + 1);
	}
	free(w.last);
	free(after);
	return rc;
}
