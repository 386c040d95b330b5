/* workq.h: a bounded FIFO of work items served by a fixed pool of named
 * threads -- the one thread pool of objfs.  Owns its threads and the
 * queue, never the items: an item is embedded in its owner's struct and
 * handed back through its fn.  Any thread may push; fn runs on a pool
 * thread and may push more work (also to its own queue).
 *
 * Back-pressure instead of unbounded queues: a push beyond max_queued is
 * refused (-EAGAIN) or waits for room until a CLOCK_MONOTONIC deadline. */
#ifndef OBJFS_WORKQ_H
#define OBJFS_WORKQ_H

#include <stddef.h>
#include <stdint.h>

struct workq;

struct workq_item {
	struct workq_item *next;	   /* the queue's link while queued */
	void (*fn)(struct workq_item *it); /* runs once on a pool thread */
};

/* Starts n_threads (>= 1) threads named "ROLE/N" (role: at most 10
 * characters show in top) serving a queue of at most max_queued items
 * (0: no limit -- only for queues whose producers are bounded already).
 * Returns 0, -EINVAL or -ENOMEM. */
int workq_start(const char *role, size_t n_threads, size_t max_queued, struct workq **out);

/* Queues it.  Returns 0, -EAGAIN when the queue is full, -ESHUTDOWN once
 * workq_stop began (the item was not queued: the caller keeps it). */
int workq_push(struct workq *q, struct workq_item *it);

/* As workq_push, but waits for room until deadline_ns (clock_mono_ns()
 * time; 0 waits forever).  Returns 0, -ETIMEDOUT or -ESHUTDOWN. */
int workq_push_wait(struct workq *q, struct workq_item *it, int64_t deadline_ns);

/* Items queued and not yet taken by a thread. */
size_t workq_len(struct workq *q);

/* Refuses new pushes, runs every item already queued, joins the threads
 * and frees the queue.  Not from a pool thread.  NULL is a no-op. */
void workq_stop(struct workq *q);

#endif
