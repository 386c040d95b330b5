/* test_fileio.c: unit tests of the full reads and writes (common/fileio.c)
 * on real files and pipes: offsets, the end of file, partial transfers,
 * a signal in the middle of a blocked read, and errno passing. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../common/clock.h"
#include "../../common/fileio.h"
#include "../lib/testlib.h"

#define WAIT_MS 5000 /* bound on waiting for another thread's progress */

static char path[4096];

static void setup(void)
{
	const char *base = getenv("TMPDIR");
	int fd;

	snprintf(path, sizeof(path), "%s/fileio.XXXXXX", base && *base ? base : "/tmp");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

static void teardown(void)
{
	unlink(path);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		p[i] = (uint8_t)(i * 31 + seed);
	}
}

/* pwrite/pread at offsets; a read across the end returns what is there. */
START_TEST(test_offsets_and_eof)
{
	uint8_t out[5000], in[6000];
	int fd = open(path, O_RDWR);

	ck_assert_int_ge(fd, 0);
	fill(out, sizeof(out), 1);
	ck_assert_int_eq(fio_write_full(fd, out, sizeof(out), 100), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0); /* offsets leave the position alone */
	ck_assert_int_eq(fio_read_full(fd, in, 5000, 100), 5000);
	ck_assert_mem_eq(in, out, 5000);
	/* 5100 bytes in the file: asking for 6000 at 1000 gets 4100 */
	ck_assert_int_eq(fio_read_full(fd, in, 6000, 1000), 4100);
	ck_assert_mem_eq(in, out + 900, 4100);
	ck_assert_int_eq(fio_read_exact(fd, in, 4100, 1000), 0);
	ck_assert_int_eq(fio_read_exact(fd, in, 4101, 1000), -ENODATA);
	ck_assert_int_eq(fio_read_full(fd, in, 10, 5100), 0);
	ck_assert_int_eq(fio_read_exact(fd, in, 10, 9999), -ENODATA);
	ck_assert_int_eq(fio_read_exact(fd, in, 0, 9999), 0);
	/* the hole before offset 100 reads as zeros */
	ck_assert_int_eq(fio_read_exact(fd, in, 100, 0), 0);
	for (int i = 0; i < 100; i++) {
		ck_assert_uint_eq(in[i], 0);
	}
	close(fd);
}
END_TEST

/* FIO_CUR uses and advances the file position. */
START_TEST(test_file_position)
{
	uint8_t out[300], in[300];
	int fd = open(path, O_RDWR | O_TRUNC);

	ck_assert_int_ge(fd, 0);
	fill(out, sizeof(out), 2);
	ck_assert_int_eq(fio_write_full(fd, out, 100, FIO_CUR), 0);
	ck_assert_int_eq(fio_write_full(fd, out + 100, 200, FIO_CUR), 0);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 300);
	ck_assert_int_eq(lseek(fd, 50, SEEK_SET), 50);
	ck_assert_int_eq(fio_read_full(fd, in, 100, FIO_CUR), 100);
	ck_assert_mem_eq(in, out + 50, 100);
	ck_assert_int_eq(fio_read_full(fd, in, 300, FIO_CUR), 150);
	ck_assert_mem_eq(in, out + 150, 150);
	ck_assert_int_eq(fio_read_full(fd, in, 300, FIO_CUR), 0);
	close(fd);
}
END_TEST

struct dribble {
	int fd;
	const uint8_t *p;
	size_t n, step;
};

/* Writes d->n bytes d->step at a time, so the reader sees short reads. */
static void *dribble_main(void *arg)
{
	struct dribble *d = arg;

	for (size_t off = 0; off < d->n; off += d->step) {
		size_t k = d->n - off < d->step ? d->n - off : d->step;

		ck_assert_int_eq(write(d->fd, d->p + off, k), (ssize_t)k);
	}
	close(d->fd);
	return NULL;
}

/* A pipe delivers bytes in small pieces: the read collects them all, and
 * stops short only when the writer closes. */
START_TEST(test_pipe_partial_reads)
{
	static uint8_t out[100000], in[100001];
	struct dribble d;
	pthread_t t;
	int p[2];

	fill(out, sizeof(out), 3);
	ck_assert_int_eq(pipe(p), 0);
	d = (struct dribble){.fd = p[1], .p = out, .n = sizeof(out), .step = 7};
	ck_assert_int_eq(pthread_create(&t, NULL, dribble_main, &d), 0);
	ck_assert_int_eq(fio_read_full(p[0], in, 50000, FIO_CUR), 50000);
	ck_assert_int_eq(fio_read_full(p[0], in + 50000, 50001, FIO_CUR), 50000);
	ck_assert_mem_eq(in, out, sizeof(out));
	pthread_join(t, NULL);
	close(p[0]);
}
END_TEST

static void *drain_main(void *arg)
{
	int fd = *(int *)arg;
	uint8_t *buf = malloc(1 << 20);
	size_t got = 0;
	ssize_t n;

	ck_assert_ptr_nonnull(buf);
	while ((n = read(fd, buf + got, (1 << 20) - got)) > 0) {
		got += (size_t)n;
	}
	return buf;
}

/* A write bigger than the pipe's buffer is taken in parts. */
START_TEST(test_pipe_partial_writes)
{
	uint8_t *out = malloc(1 << 20), *in;
	pthread_t t;
	int p[2], rfd;

	ck_assert_ptr_nonnull(out);
	fill(out, 1 << 20, 4);
	ck_assert_int_eq(pipe(p), 0);
	rfd = p[0];
	ck_assert_int_eq(pthread_create(&t, NULL, drain_main, &rfd), 0);
	ck_assert_int_eq(fio_write_full(p[1], out, 1 << 20, FIO_CUR), 0);
	close(p[1]);
	pthread_join(t, (void **)&in);
	ck_assert_mem_eq(in, out, 1 << 20);
	free(in);
	free(out);
	close(p[0]);
}
END_TEST

static volatile sig_atomic_t signals;

static void on_signal(int sig)
{
	(void)sig;
	signals++;
}

struct blocked_reader {
	int fd;
	pid_t tid;
	uint8_t buf[64];
	ssize_t rc;
};

static void *reader_main(void *arg)
{
	struct blocked_reader *r = arg;

	__atomic_store_n(&r->tid, (pid_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
	r->rc = fio_read_full(r->fd, r->buf, sizeof(r->buf), FIO_CUR);
	return NULL;
}

/* 'S' once thread tid sleeps in the kernel (here: in read on the pipe). */
static char thread_state(pid_t tid)
{
	char p[64], line[512], *c;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(p, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	c = strrchr(line, ')');
	ck_assert_ptr_nonnull(c);
	return c[2];
}

/* A signal (handler without SA_RESTART) interrupts the blocked read with
 * EINTR; the read goes on and returns every byte, not -EINTR. */
START_TEST(test_signal_during_read)
{
	struct sigaction sa = {.sa_handler = on_signal}, old;
	struct blocked_reader r = {0};
	uint8_t out[64];
	uint64_t until;
	pthread_t t;
	int p[2];

	fill(out, sizeof(out), 5);
	ck_assert_int_eq(sigaction(SIGUSR1, &sa, &old), 0); /* no SA_RESTART */
	ck_assert_int_eq(pipe(p), 0);
	r.fd = p[0];
	ck_assert_int_eq(pthread_create(&t, NULL, reader_main, &r), 0);
	until = clock_mono_ms() + WAIT_MS;
	while (__atomic_load_n(&r.tid, __ATOMIC_ACQUIRE) == 0 || thread_state(r.tid) != 'S') {
		ck_assert_uint_lt(clock_mono_ms(), until);
		sched_yield();
	}
	signals = 0;
	ck_assert_int_eq(pthread_kill(t, SIGUSR1), 0);
	until = clock_mono_ms() + WAIT_MS;
	while (signals == 0) {
		ck_assert_uint_lt(clock_mono_ms(), until);
		sched_yield();
	}
	ck_assert_int_eq(write(p[1], out, 10), 10);
	ck_assert_int_eq(write(p[1], out + 10, 54), 54);
	pthread_join(t, NULL);
	ck_assert_int_eq(r.rc, 64);
	ck_assert_mem_eq(r.buf, out, 64);
	ck_assert_int_eq(signals, 1);
	sigaction(SIGUSR1, &old, NULL);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* Failures come back as the call's own negative errno. */
START_TEST(test_errors)
{
	uint8_t b[16] = {0};
	int ro = open(path, O_RDONLY), dir = open("/", O_RDONLY | O_DIRECTORY);

	ck_assert_int_ge(ro, 0);
	ck_assert_int_ge(dir, 0);
	ck_assert_int_eq(fio_write_full(ro, b, sizeof(b), 0), -EBADF);
	ck_assert_int_eq(fio_write_full(ro, b, sizeof(b), FIO_CUR), -EBADF);
	ck_assert_int_eq(fio_read_full(dir, b, sizeof(b), 0), -EISDIR);
	ck_assert_int_eq(fio_read_exact(dir, b, sizeof(b), FIO_CUR), -EISDIR);
	ck_assert_int_eq(fio_read_full(-1, b, sizeof(b), 0), -EBADF);
	ck_assert_int_eq(fio_write_full(ro, b, 0, 0), 0); /* nothing to write: no call */
	close(ro);
	close(dir);
}
END_TEST

static Suite *fileio_suite(void)
{
	Suite *s = suite_create("fileio");
	TCase *tc = tcase_create("full");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_offsets_and_eof);
	tcase_add_test(tc, test_file_position);
	tcase_add_test(tc, test_pipe_partial_reads);
	tcase_add_test(tc, test_pipe_partial_writes);
	tcase_add_test(tc, test_signal_during_read);
	tcase_add_test(tc, test_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(fileio_suite());
}
