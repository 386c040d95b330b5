/* shard_install.c: a shard's snapshot install on a thread of its own, the
 * entries applied meanwhile held in order (see shard_install.h). */
#include "shard_install.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/err.h"
#include "../common/log.h"
#include "meta_service_i.h"

/* How long an install tries to fetch its copy. */
#define INST_FETCH_MS (10 * 60 * 1000)

/* One entry applied while the install ran: its records, copied. */
struct inst_held {
	struct inst_held *next;
	uint64_t index;
	size_t n;
	struct repl_rec recs[]; /* then the records' bytes */
};

static void *inst_main(void *arg)
{
	struct shard *s = arg;
	struct inst *in = &s->inst;
	char path[PATH_MAX];
	int rc;

	rc = snap_fetch(s->m->cfg, s->m->self, s->m->dir, msvc_group_of(s->name), &in->d,
			s->m->cfg->snapshot_chunk, INST_FETCH_MS, &in->stop, path, sizeof(path));
	if (rc == 0) {
		rc = ms_restore(s->ms, path);
		unlink(path);
	}
	log_info("msvc.restore",
		 "shard '%s': installed the snapshot at index %llu (%llu bytes): %s", s->name,
		 (unsigned long long)in->d.index, (unsigned long long)in->d.size,
		 rc == 0 ? "ok" : obj_strerror(rc));
	in->rc = rc;
	atomic_store(&in->done, 1);
	return NULL;
}

int inst_start(struct shard *s, const struct snap_desc *d)
{
	struct inst *in = &s->inst;
	int rc;

	in->d = *d;
	in->rc = 0;
	atomic_store(&in->store_index, ms_applied_index(s->ms));
	atomic_store(&in->done, 0);
	atomic_store(&in->stop, 0);
	atomic_store(&in->active, 1);
	rc = pthread_create(&in->thread, NULL, inst_main, s);
	if (rc != 0) {
		atomic_store(&in->active, 0);
		return -rc;
	}
	in->running = 1;
	log_info("msvc.restore",
		 "shard '%s': installing the snapshot at index %llu off the loop; "
		 "entries applied meanwhile are held",
		 s->name, (unsigned long long)d->index);
	return 0;
}

int inst_active(struct shard *s)
{
	return atomic_load(&s->inst.active);
}

uint64_t inst_applied(struct shard *s, uint64_t applied)
{
	uint64_t have = atomic_load(&s->inst.store_index);

	return atomic_load(&s->inst.active) && have < applied ? have : applied;
}

static void drop_held(struct inst *in)
{
	while (in->head != NULL) {
		struct inst_held *h = in->head;

		in->head = h->next;
		free(h);
	}
	in->tail = NULL;
	in->held_bytes = 0;
	in->held_n = 0;
}

/* The held entries, applied in order and committed; each result freed
 * (nobody waits on a replica that was installing). */
static int apply_held(struct shard *s)
{
	struct inst *in = &s->inst;
	uint64_t n = in->held_n;
	int rc = 0;

	while (in->head != NULL && rc == 0) {
		struct inst_held *h = in->head;
		void **res = calloc(h->n, sizeof(*res));

		if (res == NULL) {
			return -ENOMEM;
		}
		rc = shard_apply(s, h->index, h->recs, h->n, res);
		for (size_t i = 0; i < h->n; i++) {
			free(res[i]);
		}
		free(res);
		in->head = h->next;
		free(h);
	}
	if (rc == 0) {
		rc = ms_flush(s->ms);
	}
	drop_held(in);
	if (n > 0) {
		log_info("msvc.restore", "shard '%s': applied the %llu entries held: %s", s->name,
			 (unsigned long long)n, rc == 0 ? "ok" : obj_strerror(rc));
	}
	return rc;
}

int inst_finish(struct shard *s, int wait)
{
	struct inst *in = &s->inst;
	int rc;

	if (!atomic_load(&in->active)) {
		return 0;
	}
	if (in->running) {
		if (!wait && !atomic_load(&in->done)) {
			return 1;
		}
		pthread_join(in->thread, NULL);
		in->running = 0;
	}
	rc = in->rc;
	if (rc == 0) {
		atomic_store(&s->bytes, in->d.size);
		pthread_mutex_lock(&s->mu);
		s->lc.next_ino = ms_next_ino(s->ms);
		pthread_mutex_unlock(&s->mu);
		rc = apply_held(s);
	} else {
		/* The descriptor is in c-raft's log: the next start fetches
		 * again, resuming the part file. */
		log_error("msvc.restore", "shard '%s': the snapshot at index %llu is not in: %s",
			  s->name, (unsigned long long)in->d.index, obj_strerror(rc));
		drop_held(in);
	}
	atomic_store(&in->active, 0);
	return rc;
}

int inst_hold(struct shard *s, uint64_t index, const struct repl_rec *recs, size_t n)
{
	struct inst *in = &s->inst;
	struct inst_held *h;
	size_t bytes = 0;
	uint8_t *p;
	int rc;

	if (!atomic_load(&in->active)) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		bytes += recs[i].len;
	}
	if (atomic_load(&in->done) || in->held_bytes + bytes > INST_HOLD_MAX) {
		rc = inst_finish(s, 1);
		return rc < 0 ? rc : 0;
	}
	h = malloc(sizeof(*h) + n * sizeof(h->recs[0]) + bytes);
	if (h == NULL) {
		rc = inst_finish(s, 1);
		return rc < 0 ? rc : 0;
	}
	h->next = NULL;
	h->index = index;
	h->n = n;
	p = (uint8_t *)&h->recs[n];
	for (size_t i = 0; i < n; i++) {
		if (recs[i].len > 0) {
			memcpy(p, recs[i].buf, recs[i].len);
		}
		h->recs[i].buf = p;
		h->recs[i].len = recs[i].len;
		p += recs[i].len;
	}
	if (in->tail != NULL) {
		in->tail->next = h;
	} else {
		in->head = h;
	}
	in->tail = h;
	in->held_bytes += bytes;
	in->held_n++;
	return 1;
}

void inst_close(struct shard *s)
{
	struct inst *in = &s->inst;

	if (in->running) {
		atomic_store(&in->stop, 1);
		pthread_join(in->thread, NULL);
		in->running = 0;
	}
	drop_held(in);
	atomic_store(&in->active, 0);
}
