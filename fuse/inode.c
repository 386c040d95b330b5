/* inode.c: the inode table of the FUSE client (see inode.h).  Never calls
 * the cluster or holds its lock across a callback; any FUSE worker.
 *
 * An entry lives while the kernel references it (nlookup), a handle is
 * open (nopen), a handler uses it (pins), or it holds a write buffer with
 * uncommitted data (a failed flush keeps the data for a retry).  The root
 * is never dropped.  Chained hash table, grown when the load passes 1. */
#include "inode.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../proto/meta.h"

struct itable {
	const struct it_ops *ops;
	void *arg;
	pthread_mutex_t mu;
	struct inode **tab;
	size_t nbuckets, count;
};

/* What cleanup found to do once the lock is released. */
struct it_after {
	struct fbuf *fb; /* close */
	uint64_t gone;	 /* entry dropped: ino */
	int orphan;	 /* and it was unlinked */
};

static size_t it_hash(const struct itable *it, uint64_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ULL) >> 20) & (it->nbuckets - 1);
}

static struct inode *find(const struct itable *it, uint64_t ino)
{
	struct inode *n = it->tab[it_hash(it, ino)];

	while (n != NULL && n->ino != ino) {
		n = n->next;
	}
	return n;
}

static void grow(struct itable *it)
{
	size_t nb = it->nbuckets * 2;
	struct inode **nt = calloc(nb, sizeof(*nt));
	struct inode **old = it->tab;
	size_t ob = it->nbuckets;

	if (nt == NULL) {
		return; /* longer chains, still correct */
	}
	it->tab = nt;
	it->nbuckets = nb;
	for (size_t i = 0; i < ob; i++) {
		while (old[i] != NULL) {
			struct inode *n = old[i];
			size_t h = it_hash(it, n->ino);

			old[i] = n->next;
			n->next = nt[h];
			nt[h] = n;
		}
	}
	free(old);
}

static struct inode *find_or_add(struct itable *it, uint64_t ino)
{
	struct inode *n = find(it, ino);
	size_t h;

	if (n != NULL) {
		return n;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		return NULL;
	}
	n->ino = ino;
	if (it->count >= it->nbuckets) {
		grow(it);
	}
	h = it_hash(it, ino);
	n->next = it->tab[h];
	it->tab[h] = n;
	it->count++;
	return n;
}

static void unhash(struct itable *it, struct inode *n)
{
	struct inode **pp = &it->tab[it_hash(it, n->ino)];

	while (*pp != NULL && *pp != n) {
		pp = &(*pp)->next;
	}
	if (*pp == n) {
		*pp = n->next;
		it->count--;
	}
}

/* Decides what may go.  Lock held; frees n if it is dropped. */
static void cleanup(struct itable *it, struct inode *n, struct it_after *after)
{
	if (n->nopen == 0 && n->pins == 0 && n->fb != NULL && !fb_dirty(n->fb)) {
		after->fb = n->fb;
		n->fb = NULL;
	}
	if (n->nlookup == 0 && n->nopen == 0 && n->pins == 0 && n->fb == NULL &&
	    n->ino != META_ROOT_INO) {
		after->gone = n->ino;
		after->orphan = n->unlinked;
		unhash(it, n);
		free(n);
	}
}

/* Runs what cleanup decided.  No lock held. */
static void run_after(struct itable *it, const struct it_after *after)
{
	fb_close(after->fb);
	if (after->gone != 0) {
		if (after->orphan && it->ops->orphan != NULL) {
			it->ops->orphan(it->arg, after->gone);
		}
		if (it->ops->gone != NULL) {
			it->ops->gone(it->arg, after->gone);
		}
	}
}

int it_open(const struct it_ops *ops, void *arg, struct itable **out)
{
	struct itable *it = calloc(1, sizeof(*it));

	if (it == NULL) {
		return -ENOMEM;
	}
	it->nbuckets = 1024;
	it->tab = calloc(it->nbuckets, sizeof(*it->tab));
	if (it->tab == NULL) {
		free(it);
		return -ENOMEM;
	}
	it->ops = ops;
	it->arg = arg;
	pthread_mutex_init(&it->mu, NULL);
	*out = it;
	return 0;
}

void it_close(struct itable *it)
{
	if (it == NULL) {
		return;
	}
	for (size_t i = 0; i < it->nbuckets; i++) {
		while (it->tab[i] != NULL) {
			struct inode *n = it->tab[i];

			it->tab[i] = n->next;
			fb_close(n->fb);
			if (n->unlinked && it->ops->orphan != NULL) {
				/* The kernel drops its references at unmount
				 * without forgets: the orphan is ours to end. */
				it->ops->orphan(it->arg, n->ino);
			}
			free(n);
		}
	}
	pthread_mutex_destroy(&it->mu);
	free(it->tab);
	free(it);
}

struct inode *it_get(struct itable *it, uint64_t ino)
{
	struct inode *n;

	pthread_mutex_lock(&it->mu);
	n = find_or_add(it, ino);
	if (n != NULL) {
		n->pins++;
	}
	pthread_mutex_unlock(&it->mu);
	return n;
}

void it_put(struct itable *it, struct inode *n)
{
	struct it_after after = {0};

	if (n == NULL) {
		return;
	}
	pthread_mutex_lock(&it->mu);
	n->pins--;
	cleanup(it, n, &after);
	pthread_mutex_unlock(&it->mu);
	run_after(it, &after);
}

int it_lookup(struct itable *it, uint64_t ino, uint64_t parent)
{
	struct inode *n;

	pthread_mutex_lock(&it->mu);
	n = find_or_add(it, ino);
	if (n != NULL) {
		n->nlookup++;
		if (parent != 0) {
			n->parent = parent;
		}
	}
	pthread_mutex_unlock(&it->mu);
	return n != NULL ? 0 : -ENOMEM;
}

void it_forget(struct itable *it, uint64_t ino, uint64_t count)
{
	struct it_after after = {0};
	struct inode *n;

	pthread_mutex_lock(&it->mu);
	n = find(it, ino);
	if (n != NULL) {
		/* The kernel never forgets more than it got; clamp anyway so
		 * a bug cannot wrap the count and pin the entry forever. */
		n->nlookup = count < n->nlookup ? n->nlookup - count : 0;
		cleanup(it, n, &after);
	}
	pthread_mutex_unlock(&it->mu);
	run_after(it, &after);
}

void it_unlinked(struct itable *it, uint64_t ino)
{
	struct inode *n;

	pthread_mutex_lock(&it->mu);
	n = find(it, ino);
	if (n != NULL) {
		n->unlinked = 1;
	}
	pthread_mutex_unlock(&it->mu);
	if (n == NULL && it->ops->orphan != NULL) {
		/* Nobody here holds it: let the shard delete it now. */
		it->ops->orphan(it->arg, ino);
	}
}

uint64_t it_parent(struct itable *it, uint64_t ino)
{
	struct inode *n;
	uint64_t p = 0;

	pthread_mutex_lock(&it->mu);
	n = find(it, ino);
	if (n != NULL) {
		p = n->parent;
	}
	pthread_mutex_unlock(&it->mu);
	return p;
}

int it_open_in(struct itable *it, uint64_t parent)
{
	int found = 0;

	pthread_mutex_lock(&it->mu);
	for (size_t b = 0; b < it->nbuckets && !found; b++) {
		for (struct inode *n = it->tab[b]; n != NULL && !found; n = n->next) {
			found = n->nopen > 0 && n->parent == parent;
		}
	}
	pthread_mutex_unlock(&it->mu);
	return found;
}

size_t it_children(struct itable *it, uint64_t parent, uint64_t *out, size_t max)
{
	size_t k = 0;

	pthread_mutex_lock(&it->mu);
	for (size_t b = 0; b < it->nbuckets && k < max; b++) {
		for (struct inode *n = it->tab[b]; n != NULL && k < max; n = n->next) {
			if (n->parent == parent && n->ino != parent) {
				out[k++] = n->ino;
			}
		}
	}
	pthread_mutex_unlock(&it->mu);
	return k;
}

int it_open_file(struct itable *it, struct inode *n, struct fb_ctx *fbc, uint64_t size,
		 uint64_t gen, int *keep_cache)
{
	struct fbuf *fb = NULL;
	int rc = 0;

	pthread_mutex_lock(&it->mu);
	if (n->fb == NULL) {
		pthread_mutex_unlock(&it->mu);
		rc = fb_open(fbc, n->ino, size, gen, &fb);
		if (rc != 0) {
			return rc;
		}
		pthread_mutex_lock(&it->mu);
		if (n->fb == NULL) {
			n->fb = fb;
			fb = NULL;
		}
	} else {
		fb_refresh(n->fb, size, gen);
	}
	n->nopen++;
	*keep_cache = n->opened && n->open_gen == gen;
	n->opened = 1;
	n->open_gen = gen;
	pthread_mutex_unlock(&it->mu);
	fb_close(fb); /* lost a race with another open */
	return 0;
}

void it_open_dir(struct itable *it, struct inode *n)
{
	pthread_mutex_lock(&it->mu);
	n->nopen++;
	pthread_mutex_unlock(&it->mu);
}

void it_release_file(struct itable *it, struct inode *n)
{
	pthread_mutex_lock(&it->mu);
	if (n->nopen > 0) {
		n->nopen--;
	}
	pthread_mutex_unlock(&it->mu);
}

struct fbuf *it_fb(struct itable *it, struct inode *n)
{
	struct fbuf *fb;

	pthread_mutex_lock(&it->mu);
	fb = n->fb;
	pthread_mutex_unlock(&it->mu);
	return fb;
}

int it_overlay(struct itable *it, struct meta_attr *a)
{
	struct inode *n;
	int changed = 0;

	pthread_mutex_lock(&it->mu);
	n = find(it, a->ino);
	if (n != NULL && n->fb != NULL) {
		changed = fb_overlay(n->fb, a);
	}
	pthread_mutex_unlock(&it->mu);
	return changed;
}

void it_committed(struct itable *it, struct inode *n, uint64_t gen, int commits)
{
	pthread_mutex_lock(&it->mu);
	if (n->opened && n->open_gen + (uint64_t)commits == gen) {
		n->open_gen = gen;
	}
	pthread_mutex_unlock(&it->mu);
}

void it_drop_cache(struct itable *it, struct inode *n)
{
	pthread_mutex_lock(&it->mu);
	n->opened = 0;
	pthread_mutex_unlock(&it->mu);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int it_nocap(struct itable *it, struct inode *n)
{
	int64_t now = mono_ns();
	int r;

	pthread_mutex_lock(&it->mu);
	r = n->nocap_until > now;
	pthread_mutex_unlock(&it->mu);
	return r;
}

void it_set_nocap(struct itable *it, struct inode *n, int64_t ttl_ns)
{
	int64_t until = ttl_ns > 0 ? mono_ns() + ttl_ns : 0;

	pthread_mutex_lock(&it->mu);
	n->nocap_until = until;
	pthread_mutex_unlock(&it->mu);
}

void it_attr_keep(struct itable *it, const struct meta_attr *a, int64_t ttl_ns)
{
	struct inode *n;

	if (!S_ISDIR(a->mode) || ttl_ns <= 0) {
		return;
	}
	pthread_mutex_lock(&it->mu);
	n = find(it, a->ino);
	if (n != NULL) {
		n->attr = *a;
		n->attr_until = mono_ns() + ttl_ns;
	}
	pthread_mutex_unlock(&it->mu);
}

int it_attr_cached(struct itable *it, uint64_t ino, struct meta_attr *out, int64_t *left_ns)
{
	int64_t now = mono_ns();
	struct inode *n;
	int hit = 0;

	pthread_mutex_lock(&it->mu);
	n = find(it, ino);
	if (n != NULL && n->attr_until > now) {
		*out = n->attr;
		*left_ns = n->attr_until - now;
		hit = 1;
	}
	pthread_mutex_unlock(&it->mu);
	return hit;
}

void it_attr_touch(struct itable *it, uint64_t dir, int64_t now_ns, int64_t was_ns, int dnlink)
{
	struct inode *n;

	pthread_mutex_lock(&it->mu);
	n = find(it, dir);
	if (n != NULL && n->attr_until != 0 && (was_ns == 0 || n->attr.ctime_ns != was_ns)) {
		n->attr_until = 0; /* maybe another client changed it meanwhile */
	} else if (n != NULL && n->attr_until != 0) {
		n->attr.mtime_ns = n->attr.ctime_ns = now_ns;
		n->attr.nlink = (uint32_t)((int64_t)n->attr.nlink + dnlink);
	}
	pthread_mutex_unlock(&it->mu);
}

int it_listing_known(struct itable *it, struct inode *n)
{
	int known;

	pthread_mutex_lock(&it->mu);
	known = n->listed;
	pthread_mutex_unlock(&it->mu);
	return known;
}

void it_ksize_set(struct itable *it, uint64_t ino, uint64_t size)
{
	struct inode *n;

	pthread_mutex_lock(&it->mu);
	if ((n = find(it, ino)) != NULL) {
		n->ksize = size;
		n->ksize_known = 1;
	}
	pthread_mutex_unlock(&it->mu);
}

void it_ksize_grow(struct itable *it, uint64_t ino, uint64_t end)
{
	struct inode *n;

	pthread_mutex_lock(&it->mu);
	if ((n = find(it, ino)) != NULL && n->ksize_known && end > n->ksize) {
		n->ksize = end;
	}
	pthread_mutex_unlock(&it->mu);
}

int it_ksize(struct itable *it, uint64_t ino, uint64_t *size)
{
	struct inode *n;
	int known = 0;

	pthread_mutex_lock(&it->mu);
	if ((n = find(it, ino)) != NULL && n->ksize_known) {
		*size = n->ksize;
		known = 1;
	}
	pthread_mutex_unlock(&it->mu);
	return known;
}

int it_listing_keep(struct itable *it, struct inode *n, const struct meta_attr *a)
{
	int keep = 0;

	pthread_mutex_lock(&it->mu);
	if (a == NULL) {
		/* First listing: the cached attributes are no newer than it. */
		n->listed = n->attr_until > mono_ns();
		a = &n->attr;
	} else {
		keep =
		    n->listed && n->list_mtime_ns == a->mtime_ns && n->list_ctime_ns == a->ctime_ns;
		n->listed = 1;
	}
	n->list_mtime_ns = a->mtime_ns;
	n->list_ctime_ns = a->ctime_ns;
	pthread_mutex_unlock(&it->mu);
	return keep;
}

void it_attr_drop(struct itable *it, uint64_t ino)
{
	struct inode *n;

	pthread_mutex_lock(&it->mu);
	if (ino != 0) {
		n = find(it, ino);
		if (n != NULL) {
			n->attr_until = 0;
		}
	} else {
		for (size_t b = 0; b < it->nbuckets; b++) {
			for (n = it->tab[b]; n != NULL; n = n->next) {
				n->attr_until = 0;
			}
		}
	}
	pthread_mutex_unlock(&it->mu);
}

int it_flush_all(struct itable *it)
{
	struct inode **list = NULL;
	size_t cnt = 0;
	int first = 0;

	pthread_mutex_lock(&it->mu);
	list = calloc(it->count ? it->count : 1, sizeof(*list));
	for (size_t i = 0; list != NULL && i < it->nbuckets; i++) {
		for (struct inode *n = it->tab[i]; n != NULL; n = n->next) {
			if (n->fb != NULL) {
				n->pins++;
				list[cnt++] = n;
			}
		}
	}
	pthread_mutex_unlock(&it->mu);
	if (list == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < cnt; i++) {
		struct fbuf *fb = it_fb(it, list[i]);
		int rc = fb != NULL ? fb_flush(fb, NULL, NULL) : 0;

		if (rc != 0) {
			log_error("fuse.flush_lost",
				  "ino %" PRIu64 ": data could not be committed: %s", list[i]->ino,
				  obj_strerror(rc));
			first = first != 0 ? first : rc;
		}
		it_put(it, list[i]);
	}
	free(list);
	return first;
}
