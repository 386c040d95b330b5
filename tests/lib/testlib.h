/* testlib.h: fixtures shared by the unit tests: the Check main runner,
 * temp dirs removed recursively, a quiet log sink, a monotonic clock and a
 * bounded wait on a condition.  Test-only; links with Check and libobjfs. */
#ifndef OBJFS_TESTS_TESTLIB_H
#define OBJFS_TESTS_TESTLIB_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../../common/log.h"

/* Exit status automake reads as "skipped". */
#define TL_EXIT_SKIP 77

/* Runs every test of s and returns EXIT_SUCCESS or EXIT_FAILURE, the
 * status main() should return. */
int tl_run(Suite *s);

/* Creates a fresh directory $TMPDIR/<name>.XXXXXX (TMPDIR defaults to
 * /tmp) and writes its path to buf; fails the test if it cannot. */
void tl_mkdtemp(char *buf, size_t len, const char *name);

/* Removes path and everything below it, read-only directories included
 * (links are not followed). */
void tl_rmtree(const char *path);

/* A log sink that drops every line (log_set_sink(tl_quiet_sink, NULL)). */
void tl_quiet_sink(enum log_level lvl, const char *id, const char *line, void *arg);

/* CLOCK_MONOTONIC in milliseconds, and seconds elapsed since t0. */
int64_t tl_mono_ms(void);
double tl_elapsed_s(const struct timespec *t0);

/* Polls cond(arg) every millisecond until it returns nonzero or timeout_ms
 * pass; returns 1 if it held in time, 0 on the deadline.  For waiting on
 * a background thread instead of sleeping a guessed time. */
int tl_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms);

/* Writes the path of rel (e.g. "tests/lib/crashfs.so") in the build tree
 * to out: under $OBJFS_BUILDDIR, or two folders above this test program
 * (tests/unit/ in the build tree).  Fails the test if it is not there. */
void tl_build_path(char *out, size_t len, const char *rel);

/* A loopback TCP port nobody listens on right now (the kernel picks it). */
int tl_free_port(void);

/* Starts argv[0] (a path) with argv as a child whose stdout and stderr
 * go to log, and which dies with the calling process even if that is
 * killed outright (PR_SET_PDEATHSIG).  Returns its pid; fails the test if
 * fork fails.  The child exits 127 if it cannot start. */
pid_t tl_spawn(const char *log, char *const argv[]);

/* The calling thread's kernel id, for tl_thread_sleeping. */
pid_t tl_gettid(void);

/* 1 when thread tid of this process is asleep in the kernel (state S or
 * D: waiting on a lock, condition variable or I/O), 0 when it runs or is
 * gone.  With a condition on the shared state, tells "blocked waiting"
 * from "not there yet" without guessing a sleep. */
int tl_thread_sleeping(pid_t tid);

#endif
