/* vfs_dir.c: directory handles of the client core: opendir, readdir (with
 * or without attributes), releasedir (see vfs.h).  Any caller thread; a
 * handle's own mutex serialises the kernel's readdir calls on it.
 *
 * Positions: "." is 0 and "..", 1; the directory's i-th entry (in the
 * shard's name order) is position i + 2, and each entry is emitted with
 * the position of the one after it, so a listing resumes at position o.
 * The handle keeps one page of entries (a window of at most
 * META_READDIR_MAX) and continues after the window's last name; a
 * position before the window (seekdir back) walks again from the start,
 * and position 0 (rewinddir) starts a fresh listing.
 *
 * A plus listing fills the kernel's name cache, and its attribute cache
 * for everything but regular files: a file's size in the listing may
 * predate a write-and-close of this mount (the shard learns the size only
 * at the close's commit), and the kernel, given that size with a timeout,
 * shrinks the file it is writing or has just written -- a read right after
 * the close then returns nothing.  The kernel's attr_version check does
 * not catch it (writes without the write-back cache do not bump it), as a
 * 16-thread put/get/list mix showed within 20 s.  So regular files get no
 * attribute timeout (names stay cached; attributes are fetched on use). */
#include "vfs_i.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/err.h"

struct dent {
	char *name;
	struct meta_attr attr;
};

struct vfs_dir {
	struct inode *node; /* counted open (it_open_dir) until releasedir */
	pthread_mutex_t mu;
	/* guarded by mu: */
	int loaded;    /* the window is valid */
	uint64_t base; /* index of win[0] among the directory's entries */
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

static int dh_add(void *arg, const char *name, const struct meta_attr *attr)
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
	dh->win[dh->n].attr = *attr;
	dh->n++;
	return 0;
}

/* Replaces the window by the page after `after`, starting at index base. */
static int dh_fetch(struct vfs *v, uint64_t dir, struct vfs_dir *dh, const char *after,
		    uint64_t base)
{
	int more = 0, rc;

	dh_clear(dh);
	store_count(&v->st.queries);
	rc = mc_readdir(v->st.mc, dir, after, META_READDIR_MAX, dh_add, dh, &more);
	if (rc < 0) {
		dh_clear(dh);
		return rc;
	}
	dh->base = base;
	dh->more = more;
	dh->loaded = 1;
	return 0;
}

/* Makes entry idx part of the window.  Returns 0, 1 at the end of the
 * directory, or a negative errno. */
static int dh_seek(struct vfs *v, uint64_t dir, struct vfs_dir *dh, uint64_t idx)
{
	int rc;

	if (!dh->loaded || idx < dh->base) {
		if ((rc = dh_fetch(v, dir, dh, "", 0)) != 0) {
			return rc;
		}
	}
	while (idx >= dh->base + dh->n) {
		char *after;

		if (!dh->more) {
			return 1;
		}
		if (dh->n == 0) {
			return -OBJ_EPROTO; /* "more" with an empty page */
		}
		after = strdup(dh->win[dh->n - 1].name);
		if (after == NULL) {
			return -ENOMEM;
		}
		rc = dh_fetch(v, dir, dh, after, dh->base + dh->n);
		free(after);
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

int vfs_opendir(struct vfs *v, uint64_t ino, struct vfs_dir **out)
{
	struct vfs_dir *dh = calloc(1, sizeof(*dh));
	struct inode *n = it_get(v->it, ino);

	if (dh == NULL || n == NULL) {
		free(dh);
		it_put(v->it, n);
		return -ENOMEM;
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
		int counted = 0;

		memset(&e, 0, sizeof(e));
		if (pos < 2) {
			uint64_t p = pos == 0 ? ino : it_parent(v->it, ino);

			name = pos == 0 ? "." : "..";
			e.attr.ino = ino == META_ROOT_INO || p == 0 ? ino : p;
			e.attr.mode = S_IFDIR;
		} else {
			const struct dent *d;

			rc = dh_seek(v, ino, dh, pos - 2);
			if (rc != 0) {
				break;
			}
			d = &dh->win[pos - 2 - dh->base];
			name = d->name;
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
		if (fn(arg, name, &e, pos + 1) != 0) {
			if (counted) {
				/* Not in the reply: the kernel holds no reference. */
				it_forget(v->it, e.ino, 1);
			}
			break;
		}
		pos++;
	}
	pthread_mutex_unlock(&dh->mu);
	return rc < 0 ? rc : 0;
}
