/* negcache.c: the negative name cache (see negcache.h).  Any thread. */
#include "negcache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../proto/meta.h"

/* Slots of the table: a few thousand names cover the misses of a build
 * or an untar in flight, at ~270 bytes each. */
#define NC_SLOTS 4096

struct nc_slot {
	uint64_t parent;
	int64_t until; /* 0: empty */
	char name[META_NAME_MAX + 1];
};

struct negcache {
	int64_t ttl_ns;
	pthread_mutex_t mu;
	struct nc_slot *slot; /* NC_SLOTS, guarded by mu */
	uint64_t epoch;	      /* nc_drop calls, guarded by mu */
};

/* FNV-1a over the parent and the name. */
static size_t nc_hash(uint64_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ parent;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++) {
		h = (h ^ *p) * 1099511628211ULL;
	}
	return (size_t)(h % NC_SLOTS);
}

int nc_open(int64_t ttl_ns, struct negcache **out)
{
	struct negcache *nc = calloc(1, sizeof(*nc));

	if (nc == NULL) {
		return -ENOMEM;
	}
	nc->ttl_ns = ttl_ns;
	if (ttl_ns > 0) {
		nc->slot = calloc(NC_SLOTS, sizeof(*nc->slot));
		if (nc->slot == NULL) {
			free(nc);
			return -ENOMEM;
		}
	}
	pthread_mutex_init(&nc->mu, NULL);
	*out = nc;
	return 0;
}

void nc_close(struct negcache *nc)
{
	if (nc == NULL) {
		return;
	}
	pthread_mutex_destroy(&nc->mu);
	free(nc->slot);
	free(nc);
}

uint64_t nc_epoch(struct negcache *nc)
{
	uint64_t e;

	pthread_mutex_lock(&nc->mu);
	e = nc->epoch;
	pthread_mutex_unlock(&nc->mu);
	return e;
}

void nc_add(struct negcache *nc, uint64_t parent, const char *name, uint64_t epoch)
{
	struct nc_slot *s;

	if (nc->slot == NULL || strlen(name) > META_NAME_MAX) {
		return;
	}
	s = &nc->slot[nc_hash(parent, name)];
	pthread_mutex_lock(&nc->mu);
	if (nc->epoch != epoch) {
		/* A name appeared meanwhile (maybe this one). */
		pthread_mutex_unlock(&nc->mu);
		return;
	}
	s->parent = parent;
	strcpy(s->name, name);
	s->until = clock_mono_ns() + nc->ttl_ns;
	pthread_mutex_unlock(&nc->mu);
}

int nc_missing(struct negcache *nc, uint64_t parent, const char *name)
{
	struct nc_slot *s;
	int hit;

	if (nc->slot == NULL) {
		return 0;
	}
	s = &nc->slot[nc_hash(parent, name)];
	pthread_mutex_lock(&nc->mu);
	hit = s->until != 0 && s->parent == parent && strcmp(s->name, name) == 0 &&
	      s->until > clock_mono_ns();
	pthread_mutex_unlock(&nc->mu);
	return hit;
}

void nc_drop(struct negcache *nc, uint64_t parent, const char *name)
{
	struct nc_slot *s;

	if (nc->slot == NULL) {
		return;
	}
	s = &nc->slot[nc_hash(parent, name)];
	pthread_mutex_lock(&nc->mu);
	nc->epoch++;
	if (s->until != 0 && s->parent == parent && strcmp(s->name, name) == 0) {
		s->until = 0;
	}
	pthread_mutex_unlock(&nc->mu);
}
