/* failmalloc.h: allocation-failure injection for unit tests (in the
 * spirit of SQLite's test_malloc.c).  Linked with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free so every
 * allocation of the project's objects goes through it; fm_sqlite_install
 * routes SQLite's allocations through it too.  Only the thread that called
 * fm_arm counts and fails: background threads are never disturbed. */
#ifndef OBJFS_TESTS_FAILMALLOC_H
#define OBJFS_TESTS_FAILMALLOC_H

/* From now on, on this thread, counts allocations and fails the nth one
 * (1-based; 0: never fails, only counts).  Resets the counters. */
void fm_arm(long nth);
/* Stops counting and failing. */
void fm_disarm(void);
/* Allocations seen since fm_arm (the failed one included). */
long fm_count(void);
/* 1 if the nth allocation was reached and failed. */
int fm_fired(void);
/* Allocations of the project's code minus its frees, since fm_arm: 0 after
 * an operation and the release of what it returned means no leak. */
long fm_live(void);

/* Makes SQLite allocate through the hook (before any SQLite use). */
int fm_sqlite_install(void);

#endif
