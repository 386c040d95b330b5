/* dirnames.c: complete name lists of directories made here (see
 * dirnames.h).  Any thread. */
#include "dirnames.h"

#include "../common/checksum.h"
#include "../common/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A build or an untar fills a few directories at a time; each list holds
 * up to DN_NAMES names (~40 bytes each beyond the name), larger
 * directories fall back to the cluster's lookup. */
#define DN_DIRS 64
#define DN_NAMES 4096
#define DN_BUCKETS 256

struct dn_name {
	struct dn_name *next;
	uint64_t hash;
	char name[];
};

struct dn_dir {
	uint64_t ino; /* 0: slot free */
	int64_t ctime_ns;
	int64_t until_ns; /* CLOCK_MONOTONIC end of its life */
	uint64_t used;	  /* dn->clock at the last use: the oldest is replaced */
	unsigned n;
	struct dn_name *bucket[DN_BUCKETS];
};

struct dirnames {
	int64_t ttl_ns;
	pthread_mutex_t mu;
	uint64_t clock; /* guarded by mu, as is everything below */
	struct dn_dir dir[DN_DIRS];
};

static uint64_t name_hash(const char *name)
{
	return csum64(name, strlen(name));
}

static void dir_clear(struct dn_dir *d)
{
	for (size_t b = 0; b < DN_BUCKETS; b++) {
		while (d->bucket[b] != NULL) {
			struct dn_name *e = d->bucket[b];

			d->bucket[b] = e->next;
			free(e);
		}
	}
	d->ino = 0;
	d->n = 0;
}

static struct dn_dir *dir_find(struct dirnames *dn, uint64_t ino)
{
	for (size_t i = 0; i < DN_DIRS && ino != 0; i++) {
		if (dn->dir[i].ino == ino) {
			dn->dir[i].used = ++dn->clock;
			return &dn->dir[i];
		}
	}
	return NULL;
}

/* dir's list while it lives; an expired one is dropped (NULL). */
static struct dn_dir *live_find(struct dirnames *dn, uint64_t ino)
{
	struct dn_dir *d = dir_find(dn, ino);

	if (d != NULL && clock_mono_ns() >= d->until_ns) {
		dir_clear(d);
		d = NULL;
	}
	return d;
}

/* dir's list while it lives and is still exact after a change here that
 * replaced ctime was_ns: renewed when was_ns is the ctime it holds,
 * dropped (NULL) when another change came in between or when was_ns is
 * not known (0: a retried op's kept result, which cannot say). */
static struct dn_dir *changed_find(struct dirnames *dn, uint64_t ino, int64_t was_ns)
{
	struct dn_dir *d = live_find(dn, ino);

	if (d == NULL) {
		return NULL;
	}
	if (was_ns == 0 || d->ctime_ns != was_ns) {
		dir_clear(d); /* maybe changed by another client meanwhile */
		return NULL;
	}
	d->until_ns = clock_mono_ns() + dn->ttl_ns;
	return d;
}

/* The slot of name in d, or NULL. */
static struct dn_name **name_slot(struct dn_dir *d, const char *name, uint64_t h)
{
	struct dn_name **pp = &d->bucket[h % DN_BUCKETS];

	for (; *pp != NULL; pp = &(*pp)->next) {
		if ((*pp)->hash == h && strcmp((*pp)->name, name) == 0) {
			return pp;
		}
	}
	return NULL;
}

int dn_open(int64_t ttl_ns, struct dirnames **out)
{
	struct dirnames *dn = calloc(1, sizeof(*dn));

	if (dn == NULL) {
		return -ENOMEM;
	}
	dn->ttl_ns = ttl_ns;
	pthread_mutex_init(&dn->mu, NULL);
	*out = dn;
	return 0;
}

void dn_close(struct dirnames *dn)
{
	if (dn == NULL) {
		return;
	}
	for (size_t i = 0; i < DN_DIRS; i++) {
		dir_clear(&dn->dir[i]);
	}
	pthread_mutex_destroy(&dn->mu);
	free(dn);
}

void dn_start(struct dirnames *dn, uint64_t dir, int64_t ctime_ns)
{
	struct dn_dir *d, *old;

	if (dir == 0 || dn->ttl_ns <= 0) {
		return;
	}
	pthread_mutex_lock(&dn->mu);
	if ((d = dir_find(dn, dir)) == NULL) {
		/* A free slot, else the one used longest ago. */
		old = &dn->dir[0];
		for (size_t i = 0; i < DN_DIRS && old->ino != 0; i++) {
			if (dn->dir[i].ino == 0 || dn->dir[i].used < old->used) {
				old = &dn->dir[i];
			}
		}
		d = old;
	}
	dir_clear(d);
	d->ino = dir;
	d->ctime_ns = ctime_ns;
	d->until_ns = clock_mono_ns() + dn->ttl_ns;
	d->used = ++dn->clock;
	pthread_mutex_unlock(&dn->mu);
}

void dn_add(struct dirnames *dn, uint64_t dir, const char *name, int64_t ctime_ns, int64_t was_ns)
{
	uint64_t h = name_hash(name);
	size_t len = strlen(name);
	struct dn_name *e;
	struct dn_dir *d;

	pthread_mutex_lock(&dn->mu);
	if ((d = changed_find(dn, dir, was_ns)) != NULL && name_slot(d, name, h) == NULL) {
		e = d->n < DN_NAMES ? malloc(sizeof(*e) + len + 1) : NULL;
		if (e == NULL) {
			dir_clear(d); /* too many names, or no memory: forget it */
			d = NULL;
		} else {
			e->hash = h;
			memcpy(e->name, name, len + 1);
			e->next = d->bucket[h % DN_BUCKETS];
			d->bucket[h % DN_BUCKETS] = e;
			d->n++;
		}
	}
	if (d != NULL) {
		d->ctime_ns = ctime_ns;
	}
	pthread_mutex_unlock(&dn->mu);
}

void dn_del(struct dirnames *dn, uint64_t dir, const char *name, int64_t ctime_ns, int64_t was_ns)
{
	struct dn_name **pp, *e;
	struct dn_dir *d;

	pthread_mutex_lock(&dn->mu);
	if ((d = changed_find(dn, dir, was_ns)) != NULL) {
		if ((pp = name_slot(d, name, name_hash(name))) != NULL) {
			e = *pp;
			*pp = e->next;
			free(e);
			d->n--;
		}
		d->ctime_ns = ctime_ns;
	}
	pthread_mutex_unlock(&dn->mu);
}

void dn_drop(struct dirnames *dn, uint64_t dir)
{
	struct dn_dir *d;

	pthread_mutex_lock(&dn->mu);
	if ((d = dir_find(dn, dir)) != NULL) {
		dir_clear(d);
	}
	pthread_mutex_unlock(&dn->mu);
}

int dn_kept(struct dirnames *dn, uint64_t dir)
{
	int kept;

	pthread_mutex_lock(&dn->mu);
	kept = live_find(dn, dir) != NULL;
	pthread_mutex_unlock(&dn->mu);
	return kept;
}

int dn_absent(struct dirnames *dn, uint64_t dir, const char *name, int64_t ctime_ns)
{
	struct dn_dir *d;
	int absent = 0;

	pthread_mutex_lock(&dn->mu);
	if ((d = live_find(dn, dir)) != NULL) {
		if (d->ctime_ns != ctime_ns) {
			dir_clear(d); /* changed by another client */
		} else {
			absent = name_slot(d, name, name_hash(name)) == NULL;
		}
	}
	pthread_mutex_unlock(&dn->mu);
	return absent;
}
