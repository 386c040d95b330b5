/* test_workq.c: unit tests of the work queue (common/workq.c): FIFO order
 * on one thread, every item run exactly once across threads, the bound
 * refusing or waiting (with a monotonic deadline), and stop draining. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../../common/clock.h"
#include "../../common/workq.h"
#include "../lib/testlib.h"

struct job {
	struct workq_item it;
	int id;
	pthread_mutex_t *gate; /* held by the test to keep a thread busy */
};

static int order[1000];
static atomic_int n_done;

static void job_fn(struct workq_item *it)
{
	struct job *j = (struct job *)it;

	if (j->gate != NULL) {
		pthread_mutex_lock(j->gate);
		pthread_mutex_unlock(j->gate);
	}
	order[atomic_fetch_add(&n_done, 1)] = j->id;
}

static void wait_done(int n)
{
	int64_t until = clock_mono_ns() + 10 * 1000000000LL;

	while (atomic_load(&n_done) < n && clock_mono_ns() < until) {
		sched_yield();
	}
	ck_assert_int_eq(atomic_load(&n_done), n);
}

/* One thread runs items in the order they were pushed. */
START_TEST(test_fifo)
{
	struct workq *q;
	struct job j[100];

	atomic_store(&n_done, 0);
	ck_assert_int_eq(workq_start("t-fifo", 1, 0, &q), 0);
	for (int i = 0; i < 100; i++) {
		j[i] = (struct job){.it.fn = job_fn, .id = i};
		ck_assert_int_eq(workq_push(q, &j[i].it), 0);
	}
	wait_done(100);
	for (int i = 0; i < 100; i++) {
		ck_assert_int_eq(order[i], i);
	}
	workq_stop(q);
}
END_TEST

/* Many threads: every item runs exactly once. */
START_TEST(test_each_once)
{
	struct workq *q;
	struct job *j = calloc(1000, sizeof(*j));
	int seen[1000] = {0};

	atomic_store(&n_done, 0);
	ck_assert_int_eq(workq_start("t-many", 4, 0, &q), 0);
	for (int i = 0; i < 1000; i++) {
		j[i] = (struct job){.it.fn = job_fn, .id = i};
		ck_assert_int_eq(workq_push(q, &j[i].it), 0);
	}
	workq_stop(q); /* drains: everything queued has run when it returns */
	ck_assert_int_eq(atomic_load(&n_done), 1000);
	for (int i = 0; i < 1000; i++) {
		seen[order[i]]++;
	}
	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(seen[i], 1);
	}
	free(j);
}
END_TEST

/* A full queue refuses with -EAGAIN, a waiting push times out with
 * -ETIMEDOUT at its deadline, and gets in once room is made. */
START_TEST(test_bound)
{
	pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
	struct workq *q;
	struct job busy = {.it.fn = job_fn, .id = 0, .gate = &gate};
	struct job a = {.it.fn = job_fn, .id = 1}, b = {.it.fn = job_fn, .id = 2};
	struct job c = {.it.fn = job_fn, .id = 3};
	int64_t t0;

	atomic_store(&n_done, 0);
	pthread_mutex_lock(&gate);
	ck_assert_int_eq(workq_start("t-bound", 1, 2, &q), 0);
	ck_assert_int_eq(workq_push(q, &busy.it), 0);
	/* Wait until the thread took it (and blocks on the gate). */
	t0 = clock_mono_ns();
	while (workq_len(q) != 0 && clock_mono_ns() - t0 < 5000000000LL) {
		sched_yield();
	}
	ck_assert_uint_eq(workq_len(q), 0);
	ck_assert_int_eq(workq_push(q, &a.it), 0);
	ck_assert_int_eq(workq_push(q, &b.it), 0);
	ck_assert_int_eq(workq_push(q, &c.it), -EAGAIN);
	t0 = clock_mono_ns();
	ck_assert_int_eq(workq_push_wait(q, &c.it, t0 + 50000000), -ETIMEDOUT);
	ck_assert_int_ge(clock_mono_ns() - t0, 50000000);
	pthread_mutex_unlock(&gate);
	ck_assert_int_eq(workq_push_wait(q, &c.it, clock_mono_ns() + 5000000000LL), 0);
	wait_done(4);
	ck_assert_int_eq(order[0], 0);
	ck_assert_int_eq(order[1], 1);
	ck_assert_int_eq(order[2], 2);
	ck_assert_int_eq(order[3], 3);
	workq_stop(q);
}
END_TEST

/* Bad arguments are refused; stopping NULL is a no-op. */
START_TEST(test_args)
{
	struct workq *q;

	ck_assert_int_eq(workq_start("t-args", 0, 0, &q), -EINVAL);
	workq_stop(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("workq");
	TCase *tc = tcase_create("queue");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_fifo);
	tcase_add_test(tc, test_each_once);
	tcase_add_test(tc, test_bound);
	tcase_add_test(tc, test_args);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
