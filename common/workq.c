/* workq.c: bounded FIFO and its thread pool (see workq.h).
 * One mutex guards the list, the count and `stopping`; two condition
 * variables: `work` wakes pool threads, `room` wakes pushers waiting for
 * space.  Both wait on CLOCK_MONOTONIC so a wall-clock step never shortens
 * or stretches a deadline. */
#include "workq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

struct workq {
	pthread_mutex_t mu;
	pthread_cond_t work;		/* an item was queued, or stopping */
	pthread_cond_t room;		/* an item was taken, or stopping */
	struct workq_item *head, *tail; /* under mu */
	size_t len, max;		/* under mu */
	bool stopping;			/* under mu */
	size_t n_threads;
	char role[16];
	pthread_t threads[];
};

static void *workq_main(void *arg)
{
	struct workq *q = arg;

	pthread_mutex_lock(&q->mu);
	for (;;) {
		struct workq_item *it;

		while (q->head == NULL && !q->stopping) {
			pthread_cond_wait(&q->work, &q->mu);
		}
		if (q->head == NULL) {
			break; /* stopping and drained */
		}
		it = q->head;
		q->head = it->next;
		if (q->head == NULL) {
			q->tail = NULL;
		}
		q->len--;
		pthread_cond_signal(&q->room);
		pthread_mutex_unlock(&q->mu);
		it->next = NULL;
		it->fn(it);
		pthread_mutex_lock(&q->mu);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

int workq_start(const char *role, size_t n_threads, size_t max_queued, struct workq **out)
{
	struct workq *q;
	pthread_condattr_t ca;

	if (n_threads == 0 || n_threads > 1024) {
		return -EINVAL;
	}
	q = calloc(1, sizeof(*q) + n_threads * sizeof(q->threads[0]));
	if (q == NULL) {
		return -ENOMEM;
	}
	snprintf(q->role, sizeof(q->role), "%s", role);
	q->max = max_queued;
	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->work, &ca);
	pthread_cond_init(&q->room, &ca);
	pthread_condattr_destroy(&ca);
	for (size_t i = 0; i < n_threads; i++) {
		char name[16];

		if (pthread_create(&q->threads[i], NULL, workq_main, q) != 0) {
			workq_stop(q);
			return -ENOMEM;
		}
		q->n_threads++;
		/* Thread names are at most 15 bytes: role is cut to fit. */
		snprintf(name, sizeof(name), "%.10s/%zu", q->role, i);
		pthread_setname_np(q->threads[i], name);
	}
	*out = q;
	return 0;
}

/* Appends it; called with q->mu held and room available. */
static void enqueue_locked(struct workq *q, struct workq_item *it)
{
	it->next = NULL;
	if (q->tail != NULL) {
		q->tail->next = it;
	} else {
		q->head = it;
	}
	q->tail = it;
	q->len++;
	pthread_cond_signal(&q->work);
}

int workq_push(struct workq *q, struct workq_item *it)
{
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	if (q->stopping) {
		rc = -ESHUTDOWN;
	} else if (q->max != 0 && q->len >= q->max) {
		rc = -EAGAIN;
	} else {
		enqueue_locked(q, it);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

int workq_push_wait(struct workq *q, struct workq_item *it, int64_t deadline_ns)
{
	struct timespec until = {
	    .tv_sec = (time_t)(deadline_ns / 1000000000),
	    .tv_nsec = (long)(deadline_ns % 1000000000),
	};
	int rc = 0;

	pthread_mutex_lock(&q->mu);
	while (!q->stopping && q->max != 0 && q->len >= q->max) {
		if (deadline_ns == 0) {
			pthread_cond_wait(&q->room, &q->mu);
		} else if (pthread_cond_timedwait(&q->room, &q->mu, &until) == ETIMEDOUT &&
			   q->len >= q->max && !q->stopping) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	if (rc == 0 && q->stopping) {
		rc = -ESHUTDOWN;
	}
	if (rc == 0) {
		enqueue_locked(q, it);
	}
	pthread_mutex_unlock(&q->mu);
	return rc;
}

size_t workq_len(struct workq *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

void workq_stop(struct workq *q)
{
	if (q == NULL) {
		return;
	}
	pthread_mutex_lock(&q->mu);
	q->stopping = true;
	pthread_cond_broadcast(&q->work);
	pthread_cond_broadcast(&q->room);
	pthread_mutex_unlock(&q->mu);
	for (size_t i = 0; i < q->n_threads; i++) {
		pthread_join(q->threads[i], NULL);
	}
	pthread_cond_destroy(&q->work);
	pthread_cond_destroy(&q->room);
	pthread_mutex_destroy(&q->mu);
	free(q);
}
