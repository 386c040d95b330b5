/* vfs_dir.c: directory handles of the client core: opendir, readdir (with
 * or without attributes), releasedir (see vfs.h).  Any caller thread; a
 * handle's own mutex serialises the kernel's readdir calls on it.
 *
 * Positions: "." is 0 and "..", 1; position 2 is the start of the
 * entries, and every entry is emitted with its resume cookie as the
 * position after it (META_READDIR_C: a hash of its name, >= 3), so a
 * listing resumed at a position -- the kernel's next readdir, or a
 * seekdir to what telldir said -- neither repeats nor skips an entry that
 * stayed, whatever was created or removed in the directory meanwhile
 * (index positions shifted: a seekdir back after a create repeated an
 * entry).  The handle keeps one page of entries (at most
 * META_READDIR_MAX), the directory's entries with cookies in (from,
 * last]: a position inside it is served from it, any other one fetches
 * the page after that position.  So memory is one page whatever the
 * directory's size, and seekdir costs one request, not a walk from the
 * start.  Position 0 (rewinddir) starts a fresh listing.  Names whose
 * hashes collide share a cookie: a reader that runs out of room between
 * two of them loses the second (about 1 in 10^7 directories of a million
 * entries; ext4's hash cookies have the same limit).
 *
 * A plus listing fills the kernel's name cache, and its attribute cache
 * for everything but regular files: a file's size in the listing may
 * predate a write-and-close of this mount (the shard learns the size only
 * at the close's commit), and the kernel, given that size with a timeout,
 * shrinks the file it is writing or has just written -- a read right after
 * the close then returns nothing.  The kernel's attr_version check does
 * not catch it (writes without the write-back cache do not bump it), as a
 * 16-thread put/get/list mix showed within 20 s.  So regular files get no
 * attribute timeout (names stay cached; attributes are fetched on use).
 *
 * The kernel keeps a listing it read to the end (FOPEN_CACHE_DIR) and
 * serves the next opendir's readdirs from its page cache when opendir
 * says keep_cache.  It drops the listing itself at every change made
 * through this mount (fuse_dir_changed); for the changes of other mounts
 * each opendir after the first asks the shard for the directory's
 * attributes and keeps the listing only when its mtime and ctime are
 * those recorded before the listing was read (it_listing_keep).  So a
 * listing is as fresh as before -- the shard's state at opendir -- for
 * one getattr instead of a page per 1024 entries and a kernel round trip
 * per 4 KiB of entries. */
#include "vfs_i.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/err.h"

struct dent {
	char *name;
	uint64_t cookie;
	struct meta_attr attr;
};

struct vfs_dir {
	struct inode *node; /* counted open (it_open_dir) until releasedir */
	pthread_mutex_t mu;
	/* guarded by mu: */
	int loaded;    /* the window is valid */
	uint64_t from; /* the window holds the entries with cookies above from */
	struct dent *win;
	size_t n, cap;
	int more; /* entries follow the window */
};

static void dh_clear(struct vfs_dir *dh)
{
	for (size_t i = 0; i < dh->n; i++) {
		free(dh->win[i].name);
	}
	dh->n = 0;
	dh->loaded = 0;
}

static int dh_add(void *arg, const char *name, uint64_t cookie, const struct meta_attr *attr)
{
	struct vfs_dir *dh = arg;

	if (dh->n == dh->cap) {
		size_t cap = dh->cap ? dh->cap * 2 : 64;
		struct dent *nw = realloc(dh->win, cap * sizeof(*nw));

		if (nw == NULL) {
			return -ENOMEM;
		}
		dh->win = nw;
		dh->cap = cap;
	}
	dh->win[dh->n].name = strdup(name);
	if (dh->win[dh->n].name == NULL) {
		return -ENOMEM;
	}
	dh->win[dh->n].cookie = cookie;
	dh->win[dh->n].attr = *attr;
	dh->n++;
	return 0;
}

/* Replaces the window by the page of entries after cookie from. */
static int dh_fetch(struct vfs *v, uint64_t dir, struct vfs_dir *dh, uint64_t from)
{
	int more = 0, rc;

	if (dh->loaded && !(dh->more && dh->n > 0 && from == dh->win[dh->n - 1].cookie)) {
		store_count(&v->st.readdir_seeks);
	}
	dh_clear(dh);
	store_count(&v->st.queries);
	store_count(&v->st.readdir_pages);
	rc = mc_readdir_c(v->st.mc, dir, from, META_READDIR_MAX, dh_add, dh, &more);
	if (rc < 0) {
		dh_clear(dh);
		return rc;
	}
	dh->from = from;
	dh->more = more;
	dh->loaded = 1;
	return 0;
}

/* The window index of the first entry after position pos (>= 2), the
 * window fetched as needed.  Returns 0 with *idx set, 1 at the end of the
 * directory, or a negative errno. */
static int dh_seek(struct vfs *v, uint64_t dir, struct vfs_dir *dh, uint64_t pos, size_t *idx)
{
	int rc;

	for (int fetched = 0;; fetched = 1) {
		if (dh->loaded && pos >= dh->from) {
			size_t lo = 0, hi = dh->n, i;

			/* cookies rise (meta_reply checks): the first above pos */
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (dh->win[mid].cookie <= pos) {
					lo = mid + 1;
				} else {
					hi = mid;
				}
			}
			i = lo;
			if (i < dh->n) {
				*idx = i;
				return 0;
			}
			if (!dh->more) {
				return 1;
			}
			if (fetched) {
				return -OBJ_EPROTO; /* "more" but nothing after pos */
			}
		}
		if ((rc = dh_fetch(v, dir, dh, pos)) != 0) {
			return rc;
		}
	}
}

/* Whether the kernel may keep the listing it cached at an earlier opendir
 * (see the top of the file): a fresh getattr, only when one was recorded. */
static int listing_keep(struct vfs *v, struct inode *n)
{
	struct meta_attr a;

	if (!it_listing_known(v->it, n)) {
		return it_listing_keep(v->it, n, NULL);
	}
	store_count(&v->st.queries);
	if (mc_getattr(v->st.mc, n->ino, &a) != 0) {
		return 0; /* the listing's own queries report the error */
	}
	it_attr_keep(v->it, &a, vfs_ttl_ns(v->conf.attr_timeout));
	return it_listing_keep(v->it, n, &a);
}

int vfs_opendir(struct vfs *v, uint64_t ino, struct vfs_dir **out, int *keep_cache)
{
	struct vfs_dir *dh = calloc(1, sizeof(*dh));
	struct inode *n = it_get(v->it, ino);

	if (dh == NULL || n == NULL) {
		free(dh);
		it_put(v->it, n);
		return -ENOMEM;
	}
	if (keep_cache != NULL) {
		*keep_cache = listing_keep(v, n);
	}
	it_open_dir(v->it, n);
	it_put(v->it, n);
	dh->node = n;
	pthread_mutex_init(&dh->mu, NULL);
	*out = dh;
	return 0;
}

void vfs_releasedir(struct vfs *v, struct vfs_dir *dh)
{
	struct inode *n = it_get(v->it, dh->node->ino);

	it_release_file(v->it, dh->node);
	it_put(v->it, n); /* may drop the entry, or end an orphan */
	dh_clear(dh);
	free(dh->win);
	pthread_mutex_destroy(&dh->mu);
	free(dh);
}

int vfs_readdir(struct vfs *v, struct vfs_dir *dh, uint64_t ino, uint64_t pos, int plus,
		vfs_dirent_fn fn, void *arg)
{
	int rc = 0;

	pthread_mutex_lock(&dh->mu);
	if (pos == 0) {
		dh_clear(dh); /* rewinddir: a fresh listing */
	}
	for (;;) {
		struct vfs_entry e;
		const char *name;
		uint64_t next = pos + 1; /* "." and ".." */
		int counted = 0;

		memset(&e, 0, sizeof(e));
		if (pos < 2) {
			uint64_t p = pos == 0 ? ino : it_parent(v->it, ino);

			name = pos == 0 ? "." : "..";
			e.attr.ino = ino == META_ROOT_INO || p == 0 ? ino : p;
			e.attr.mode = S_IFDIR;
		} else {
			const struct dent *d;
			size_t i;

			rc = dh_seek(v, ino, dh, pos, &i);
			if (rc != 0) {
				break;
			}
			d = &dh->win[i];
			name = d->name;
			next = d->cookie;
			if (plus) {
				rc = vfs_entry(v, &d->attr, ino, &e);
				if (rc != 0) {
					break;
				}
				counted = 1;
				if (S_ISREG(d->attr.mode)) {
					e.attr_timeout = 0;
				}
			} else {
				e.attr.ino = d->attr.ino;
				e.attr.mode = d->attr.mode;
			}
		}
		if (fn(arg, name, &e, next) != 0) {
			if (counted) {
				/* Not in the reply: the kernel holds no reference. */
				it_forget(v->it, e.ino, 1);
			}
			break;
		}
		pos = next;
	}
	pthread_mutex_unlock(&dh->mu);
	return rc < 0 ? rc : 0;
}
