/* test_listing.c: unit tests of the listing walk (common/listing.c): the
 * paging rule (each page starts after the last path seen), early stops,
 * and the refusal of pages that do not advance, repeat or go back.
 * Pages come from a scripted fetch that honours fn's stop like mc_list. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/listing.h"
#include "../lib/testlib.h"

#define MAX_PAGES 6
#define MAX_ENT 6

struct page_spec {
	int err;
	const char *path[MAX_ENT]; /* NULL-terminated */
	int more;
};

struct script {
	const struct page_spec *pages;
	size_t n_pages, fetched;
	char after[MAX_PAGES][64]; /* the `after` of each fetch */
	char prefix[64];
	uint32_t max;
};

static int fetch(void *src, const char *prefix, const char *after, uint32_t max, lst_entry_fn fn,
		 void *arg, int *more)
{
	struct script *sc = src;
	const struct page_spec *p;
	int n = 0;

	ck_assert_uint_lt(sc->fetched, sc->n_pages); /* never asks past the script */
	p = &sc->pages[sc->fetched];
	ck_assert_uint_lt(strlen(after), sizeof(sc->after[0]));
	strcpy(sc->after[sc->fetched], after);
	strcpy(sc->prefix, prefix);
	sc->max = max;
	sc->fetched++;
	*more = 0;
	if (p->err != 0) {
		return p->err;
	}
	for (; n < MAX_ENT && p->path[n] != NULL; n++) {
		int rc = fn(arg, p->path[n], 100 + (uint64_t)n, -(int64_t)n);

		if (rc != 0) {
			return rc; /* mc_list hands fn's stop back */
		}
	}
	*more = p->more;
	return n;
}

struct seen {
	char all[256];
	size_t n;
	int stop_at; /* 1-based entry at which to return ret (0: never) */
	int ret;
};

static int on_entry(void *arg, const char *path, uint64_t size, int64_t mtime_ns)
{
	struct seen *s = arg;

	ck_assert_uint_ge(size, 100);
	ck_assert_int_le(mtime_ns, 0);
	strcat(s->all, path);
	strcat(s->all, ",");
	s->n++;
	return (int)s->n == s->stop_at ? s->ret : 0;
}

static int walk(const struct page_spec *pages, size_t n, struct script *sc, struct seen *s)
{
	memset(sc, 0, sizeof(*sc));
	sc->pages = pages;
	sc->n_pages = n;
	return lst_walk(fetch, sc, "a", 3, on_entry, s);
}

START_TEST(test_pages_in_order)
{
	const struct page_spec pages[] = {
	    {.path = {"a-", "a.txt", "a/b"}, .more = 1},
	    {.path = {"a/c/d", "ab"}, .more = 1},
	    {.path = {NULL}, .more = 0}, /* an empty last page is fine */
	};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(pages, 3, &sc, &s), 0);
	ck_assert_str_eq(s.all, "a-,a.txt,a/b,a/c/d,ab,");
	ck_assert_uint_eq(sc.fetched, 3);
	ck_assert_str_eq(sc.after[0], "");
	ck_assert_str_eq(sc.after[1], "a/b");
	ck_assert_str_eq(sc.after[2], "ab");
	ck_assert_str_eq(sc.prefix, "a");
	ck_assert_uint_eq(sc.max, 3);
}
END_TEST

/* `more` with an empty page would ask for the same page forever. */
START_TEST(test_empty_page_with_more_refused)
{
	const struct page_spec pages[] = {
	    {.path = {"x"}, .more = 1},
	    {.path = {NULL}, .more = 1},
	    {.path = {NULL}, .more = 1},
	};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(pages, 3, &sc, &s), -OBJ_EPROTO);
	ck_assert_uint_eq(sc.fetched, 2);
	ck_assert_str_eq(s.all, "x,");
}
END_TEST

/* A page that starts at (or before) the last path seen is refused before
 * the caller sees the repeated entry. */
START_TEST(test_repeat_or_step_back_refused)
{
	const struct page_spec repeat[] = {
	    {.path = {"a", "b"}, .more = 1},
	    {.path = {"b", "c"}, .more = 0},
	};
	const struct page_spec back[] = {{.path = {"b", "a"}, .more = 0}};
	const struct page_spec dup[] = {{.path = {"a", "a"}, .more = 0}};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(repeat, 2, &sc, &s), -OBJ_EPROTO);
	ck_assert_str_eq(sc.after[1], "b");
	ck_assert_str_eq(s.all, "a,b,");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(walk(back, 1, &sc, &s), -OBJ_EPROTO);
	ck_assert_str_eq(s.all, "b,");
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(walk(dup, 1, &sc, &s), -OBJ_EPROTO);
	ck_assert_str_eq(s.all, "a,");
}
END_TEST

/* Bytewise order: a byte >= 0x80 sorts after every ASCII byte. */
START_TEST(test_bytewise_order)
{
	const struct page_spec pages[] = {{.path = {"z", "\xc3\xa9", "\xff"}, .more = 0}};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(pages, 1, &sc, &s), 0);
	ck_assert_uint_eq(s.n, 3);
}
END_TEST

START_TEST(test_stop_and_abort)
{
	const struct page_spec pages[] = {
	    {.path = {"a", "b"}, .more = 1},
	    {.path = {"c", "d"}, .more = 1},
	    {.path = {"e"}, .more = 0},
	};
	struct script sc;
	struct seen stop = {.stop_at = 3, .ret = 7};
	struct seen fail = {.stop_at = 1, .ret = -EIO};

	ck_assert_int_eq(walk(pages, 3, &sc, &stop), 7);
	ck_assert_uint_eq(sc.fetched, 2);
	ck_assert_str_eq(stop.all, "a,b,c,");
	ck_assert_int_eq(walk(pages, 3, &sc, &fail), -EIO);
	ck_assert_uint_eq(sc.fetched, 1);
}
END_TEST

START_TEST(test_fetch_error_returned)
{
	const struct page_spec pages[] = {
	    {.path = {"a"}, .more = 1},
	    {.err = -EHOSTDOWN},
	};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(pages, 2, &sc, &s), -EHOSTDOWN);
	ck_assert_str_eq(s.all, "a,");
}
END_TEST

static Suite *listing_suite(void)
{
	Suite *s = suite_create("listing");
	TCase *tc = tcase_create("walk");

	tcase_add_test(tc, test_pages_in_order);
	tcase_add_test(tc, test_empty_page_with_more_refused);
	tcase_add_test(tc, test_repeat_or_step_back_refused);
	tcase_add_test(tc, test_bytewise_order);
	tcase_add_test(tc, test_stop_and_abort);
	tcase_add_test(tc, test_fetch_error_returned);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(listing_suite());
}
