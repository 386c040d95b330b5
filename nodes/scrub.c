/* scrub.c: the scrub thread of a node (see scrub.h).  Runs on its own
 * thread "scrub"; holds s->mu only to read or update the counters, never
 * across a fragment read or a wait for the rate limit's next slot.
 *
 * Throttle: after each fragment the pass compares the bytes read so far
 * with what scrub_rate allows since the pass began and sleeps off any
 * excess (on the condition variable, so stop and kick wake it).  The
 * thread's I/O runs in the idle class, so a scheduler that honours
 * priorities (BFQ) serves the node's requests first; with others the rate
 * limit is the bound.
 *
 * The state file holds the last complete pass as one line of decimal
 * fields (id started_ms finished_ms total checked bad bytes), replaced
 * atomically; a missing or damaged file means "no pass yet". */
#include "scrub.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../proto/frame.h"

/* Headers listed per frag_list call: a few hundred KiB of memory. */
#define SCRUB_PAGE 256

/* ioprio_set(2) has no glibc wrapper; these are the kernel's values. */
#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13

struct scrub {
	struct fragstore *fs;
	double period_s;
	uint32_t rate_mb;
	char *state_path;
	pthread_t th;
	uint64_t start_ms; /* when the node started: the schedule's origin */
	pthread_mutex_t mu;
	pthread_cond_t cv; /* CLOCK_MONOTONIC; signalled on stop and kick */
	/* Guarded by mu: */
	bool stop, kick, running;
	uint32_t next_id; /* id of the next pass */
	struct scrub_pass cur, last;
	struct frag_ref bad[SCRUB_BAD_MAX]; /* ring of the latest bad fragments */
	uint32_t n_bad, bad_head;
};

static void load_state(struct scrub *s)
{
	FILE *f = s->state_path != NULL ? fopen(s->state_path, "re") : NULL;
	unsigned long long v[7];

	if (f == NULL) {
		return;
	}
	if (fscanf(f, "%llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5], &v[6]) == 7 &&
	    v[0] > 0 && v[0] < UINT32_MAX) {
		s->last = (struct scrub_pass){.id = (uint32_t)v[0],
					      .started_ms = v[1],
					      .finished_ms = v[2],
					      .total = v[3],
					      .checked = v[4],
					      .bad = v[5],
					      .bytes = v[6]};
		s->next_id = s->last.id + 1;
		s->cur = s->last;
	} else {
		log_warn("scrub.state", "%s: unreadable, ignored", s->state_path);
	}
	fclose(f);
}

/* Best effort: a lost state file only moves the next automatic pass. */
static void save_state(const struct scrub *s, const struct scrub_pass *p)
{
	char tmp[4096];
	FILE *f;

	if (s->state_path == NULL ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", s->state_path) >= (int)sizeof(tmp)) {
		return;
	}
	f = fopen(tmp, "we");
	if (f == NULL) {
		log_warn("scrub.state", "%s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f, "%u %llu %llu %llu %llu %llu %llu\n", p->id, (unsigned long long)p->started_ms,
		(unsigned long long)p->finished_ms, (unsigned long long)p->total,
		(unsigned long long)p->checked, (unsigned long long)p->bad,
		(unsigned long long)p->bytes);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		log_warn("scrub.state", "%s: %s", tmp, strerror(errno));
	}
	fclose(f);
	if (rename(tmp, s->state_path) != 0) {
		log_warn("scrub.state", "%s: %s", s->state_path, strerror(errno));
	}
}

/* Waits on s->cv until the monotonic time until_ms, stop or kick.
 * Called and returns with s->mu held. */
static void wait_until(struct scrub *s, uint64_t until_ms)
{
	struct timespec ts = {.tv_sec = (time_t)(until_ms / 1000),
			      .tv_nsec = (long)(until_ms % 1000) * 1000000};

	while (!s->stop && !s->kick && clock_mono_ms() < until_ms) {
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
}

/* Checks one fragment and accounts for it.  Returns false when the pass
 * must end (stop, or a kick asking for a new pass). */
static bool check_one(struct scrub *s, const struct frag_ref *ref, uint64_t t0_ms)
{
	uint64_t bytes = 0, allowed_ms;
	int rc = frag_verify(s->fs, ref, &bytes);
	bool go_on;

	pthread_mutex_lock(&s->mu);
	if (rc == 0 || rc == -OBJ_ECHECKSUM) {
		s->cur.checked++;
		s->cur.bytes += bytes;
	}
	if (rc == -OBJ_ECHECKSUM) {
		s->cur.bad++;
		s->bad[s->bad_head] = *ref;
		s->bad_head = (s->bad_head + 1) % SCRUB_BAD_MAX;
		s->n_bad += s->n_bad < SCRUB_BAD_MAX;
	} else if (rc != 0 && rc != -ENOENT) {
		/* -ENOENT: deleted since it was listed. */
		char hex[2 * BLOCK_ID_LEN + 1];

		msg_block_hex(ref->block_id, hex);
		log_warn("scrub.read", "fragment %s.%u: %s", hex, ref->index, obj_strerror(rc));
	}
	/* Bytes at rate_mb MB/s take bytes / (rate_mb * 1000) ms. */
	allowed_ms = t0_ms + s->cur.bytes / ((uint64_t)s->rate_mb * 1000u);
	wait_until(s, allowed_ms);
	go_on = !s->stop && !s->kick;
	pthread_mutex_unlock(&s->mu);
	return go_on;
}

/* One pass over the whole store.  Called without s->mu. */
static void run_pass(struct scrub *s)
{
	struct frag_hdr *page = calloc(SCRUB_PAGE, sizeof(*page));
	struct frag_ref after = {0};
	struct frag_usage u;
	uint64_t t0 = clock_mono_ms();
	int first = 1, more = 1;
	bool go_on = true;
	struct scrub_pass done;

	frag_usage(s->fs, &u);
	pthread_mutex_lock(&s->mu);
	s->kick = false;
	s->running = true;
	s->cur =
	    (struct scrub_pass){.id = s->next_id++, .started_ms = frame_now_ms(), .total = u.count};
	pthread_mutex_unlock(&s->mu);
	log_info("scrub.start", "pass %u: %llu fragments", s->cur.id, (unsigned long long)u.count);

	while (page != NULL && go_on && more) {
		int n = frag_list(s->fs, &after, first, page, SCRUB_PAGE, &more);

		if (n < 0) {
			log_warn("scrub.list", "pass %u: listing fragments: %s", s->cur.id,
				 obj_strerror(n));
			break;
		}
		for (int i = 0; i < n && go_on; i++) {
			go_on = check_one(s, &page[i].ref, t0);
		}
		if (n > 0) {
			after = page[n - 1].ref;
		}
		first = 0;
		more = more && n > 0;
	}
	free(page);

	pthread_mutex_lock(&s->mu);
	s->running = false;
	s->cur.finished_ms = frame_now_ms();
	done = s->cur;
	if (go_on) {
		s->last = done;
	}
	pthread_mutex_unlock(&s->mu);
	if (!go_on) {
		log_info("scrub.abandon", "pass %u abandoned after %llu fragments", done.id,
			 (unsigned long long)done.checked);
		return;
	}
	save_state(s, &done);
	log_info("scrub.done", "pass %u: %llu fragments, %llu bad, %llu bytes in %.1f s", done.id,
		 (unsigned long long)done.checked, (unsigned long long)done.bad,
		 (unsigned long long)done.bytes, (double)(clock_mono_ms() - t0) / 1000.0);
	if (s->period_s > 0 && (double)(clock_mono_ms() - t0) / 1000.0 > s->period_s) {
		log_warn("scrub.slow",
			 "pass %u took longer than scrub_period (%.0f s): raise scrub_rate",
			 done.id, s->period_s);
	}
}

static void *scrub_main(void *arg)
{
	struct scrub *s = arg;

	/* Per thread on Linux: only this thread's reads become idle I/O. */
	if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, (int)syscall(SYS_gettid),
		    IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT) != 0) {
		log_debug("scrub.ioprio", "ioprio_set: %s", strerror(errno));
	}
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		if (!s->kick) {
			uint64_t due_ms = UINT64_MAX;

			if (s->period_s > 0) {
				/* Wall clock of the due pass, mapped onto the
				 * monotonic clock we wait on. */
				uint64_t base = s->last.id != 0 ? s->last.started_ms : s->start_ms;
				uint64_t due_wall = base + (uint64_t)(s->period_s * 1000.0);
				uint64_t now_wall = frame_now_ms();

				due_ms = clock_mono_ms() +
					 (due_wall > now_wall ? due_wall - now_wall : 0);
			}
			wait_until(s, due_ms);
			if (s->stop) {
				break;
			}
			if (!s->kick && clock_mono_ms() < due_ms) {
				continue; /* spurious wake-up */
			}
		}
		pthread_mutex_unlock(&s->mu);
		run_pass(s);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int scrub_start(struct fragstore *fs, double period_s, uint32_t rate_mb, const char *state_path,
		struct scrub **out)
{
	struct scrub *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;
	int rc;

	if (s == NULL) {
		return -ENOMEM;
	}
	s->fs = fs;
	s->period_s = period_s;
	s->rate_mb = rate_mb > 0 ? rate_mb : 1;
	s->next_id = 1;
	s->start_ms = frame_now_ms();
	if (state_path != NULL && (s->state_path = strdup(state_path)) == NULL) {
		free(s);
		return -ENOMEM;
	}
	load_state(s);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&s->th, NULL, scrub_main, s);
	if (rc != 0) {
		pthread_cond_destroy(&s->cv);
		pthread_mutex_destroy(&s->mu);
		free(s->state_path);
		free(s);
		return -rc;
	}
	pthread_setname_np(s->th, "scrub");
	*out = s;
	return 0;
}

void scrub_stop(struct scrub *s)
{
	if (s == NULL) {
		return;
	}
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->state_path);
	free(s);
}

uint32_t scrub_kick(struct scrub *s)
{
	uint32_t id;

	pthread_mutex_lock(&s->mu);
	s->kick = true;
	/* run_pass takes next_id when it starts; nothing else does. */
	id = s->next_id;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return id;
}

void scrub_status(struct scrub *s, struct scrub_status *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&s->mu);
	out->running = s->running;
	out->rate_mb = s->rate_mb;
	out->period_s = (uint64_t)s->period_s;
	out->cur = s->cur;
	out->last = s->last;
	out->n_bad = s->n_bad;
	/* Oldest first. */
	for (uint32_t i = 0; i < s->n_bad; i++) {
		uint32_t j = (s->bad_head + SCRUB_BAD_MAX - s->n_bad + i) % SCRUB_BAD_MAX;

		out->bad[i] = s->bad[j];
	}
	pthread_mutex_unlock(&s->mu);
}
