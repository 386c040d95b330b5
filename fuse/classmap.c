/* classmap.c: directory -> storage class, cached (see classmap.h). */
#include "classmap.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/log.h"

/* A directory's class is re-read this often: `class set` shows in new
 * writes of a mount within that, at one getxattr per directory level per
 * period at most (blocks are MiBs, so this is noise). */
#define CM_TTL_MS 5000
/* Direct-mapped cache slots: a mount writes into few directories at once. */
#define CM_SLOTS 256
/* Parent walks stop here (a cycle in a stale table must not loop). */
#define CM_DEPTH_MAX 256

struct cm_slot {
	uint64_t ino;	  /* 0: empty */
	uint64_t expires; /* clock_mono_ms */
	int named;	  /* the directory names a class (else: none) */
	uint8_t cls;
};

struct classmap {
	const struct cfg *cfg;
	struct mc *mc;
	struct itable *it;
	pthread_mutex_t mu; /* guards slots */
	struct cm_slot slots[CM_SLOTS];
};

int cm_open(const struct cfg *cfg, struct mc *mc, struct itable *it, struct classmap **out)
{
	struct classmap *cm = calloc(1, sizeof(*cm));

	if (cm == NULL) {
		return -ENOMEM;
	}
	cm->cfg = cfg;
	cm->mc = mc;
	cm->it = it;
	pthread_mutex_init(&cm->mu, NULL);
	*out = cm;
	return 0;
}

void cm_close(struct classmap *cm)
{
	if (cm == NULL) {
		return;
	}
	pthread_mutex_destroy(&cm->mu);
	free(cm);
}

/* Directory d's own answer: 1 named (*cls), 0 none; cached. */
static int dir_named(struct classmap *cm, uint64_t d, uint8_t *cls)
{
	struct cm_slot *s = &cm->slots[d % CM_SLOTS], v = {.ino = d};
	uint64_t now = clock_mono_ms();
	uint8_t *val = NULL;
	size_t len = 0;
	int rc;

	pthread_mutex_lock(&cm->mu);
	if (s->ino == d && s->expires > now) {
		v = *s;
		pthread_mutex_unlock(&cm->mu);
		*cls = v.cls;
		return v.named;
	}
	pthread_mutex_unlock(&cm->mu);
	rc = mc_getxattr(cm->mc, d, CM_XATTR, &val, &len);
	if (rc == 0) {
		char name[CFG_CLASS_NAME_MAX];
		const struct cfg_class *cl;

		snprintf(name, sizeof(name), "%.*s",
			 (int)(len < sizeof(name) ? len : sizeof(name) - 1), (const char *)val);
		cl = cfg_class_by_name(cm->cfg, name);
		v.named = cl != NULL || strcmp(name, "default") == 0;
		v.cls = cl != NULL ? (uint8_t)cl->id : 0;
		if (!v.named) {
			log_warn("cm.class",
				 "directory %llu names class '%s', which the config lacks",
				 (unsigned long long)d, name);
		}
	} else if (rc != -ENODATA) {
		free(val);
		return 0; /* not cached: asked again next time */
	}
	free(val);
	v.expires = now + CM_TTL_MS;
	pthread_mutex_lock(&cm->mu);
	*s = v;
	pthread_mutex_unlock(&cm->mu);
	*cls = v.cls;
	return v.named;
}

uint8_t cm_class_of(struct classmap *cm, uint64_t ino)
{
	uint64_t d = it_parent(cm->it, ino);
	uint8_t cls = 0;

	if (cm->cfg->n_classes == 0) {
		return 0;
	}
	for (int depth = 0; d != 0 && depth < CM_DEPTH_MAX; depth++) {
		if (dir_named(cm, d, &cls)) {
			return cls;
		}
		if (d == META_ROOT_INO) {
			break;
		}
		d = it_parent(cm->it, d);
	}
	return 0;
}
