/* failmalloc.c: the failing allocator behind failmalloc.h.  The --wrap
 * entry points must stay cheap and reentrant: no locks, thread-local
 * state only. */
#include "failmalloc.h"

#include <errno.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdlib.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t sz);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t sz);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

static __thread int armed;
static __thread long fail_at, count, live;
static __thread int fired;

void fm_arm(long nth)
{
	fail_at = nth;
	count = 0;
	live = 0;
	fired = 0;
	armed = 1;
}

void fm_disarm(void)
{
	armed = 0;
}

long fm_count(void)
{
	return count;
}

int fm_fired(void)
{
	return fired;
}

long fm_live(void)
{
	return live;
}

/* 1 when this allocation must fail. */
static int should_fail(void)
{
	if (!armed) {
		return 0;
	}
	if (++count == fail_at) {
		fired = 1;
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n)
{
	void *p;

	if (should_fail()) {
		return NULL;
	}
	p = __real_malloc(n);
	live += armed && p != NULL;
	return p;
}

void *__wrap_calloc(size_t n, size_t sz)
{
	void *p;

	if (should_fail()) {
		return NULL;
	}
	p = __real_calloc(n, sz);
	live += armed && p != NULL;
	return p;
}

void *__wrap_realloc(void *p, size_t n)
{
	void *q;

	if (should_fail()) {
		return NULL;
	}
	q = __real_realloc(p, n);
	live += armed && q != NULL && p == NULL;
	return q;
}

void __wrap_free(void *p)
{
	live -= armed && p != NULL;
	__real_free(p);
}

/* SQLite's allocator, counted with the rest (not in live: SQLite keeps
 * caches across calls; its leaks show in ms_close and under LSan). */
static sqlite3_mem_methods orig;

static void *sq_malloc(int n)
{
	return should_fail() ? NULL : orig.xMalloc(n);
}

static void *sq_realloc(void *p, int n)
{
	return should_fail() ? NULL : orig.xRealloc(p, n);
}

int fm_sqlite_install(void)
{
	static sqlite3_mem_methods m;

	sqlite3_shutdown();
	if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &orig) != SQLITE_OK) {
		return -EIO;
	}
	m = orig;
	m.xMalloc = sq_malloc;
	m.xRealloc = sq_realloc;
	return sqlite3_config(SQLITE_CONFIG_MALLOC, &m) == SQLITE_OK ? 0 : -EIO;
}
