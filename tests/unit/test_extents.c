/* test_extents.c: unit tests of the extent walk (common/extents.c): the
 * paging rule, the refusal of pages that do not advance, go backwards or
 * repeat a chunk, and the gathering of every page into one array.  Pages
 * come from a scripted fetch. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/extents.h"
#include "../lib/testlib.h"

#define MAX_PAGES 8
#define MAX_EXT 8

/* One scripted reply: its extents' chunks, `more`, or an error. */
struct page_spec {
	int err;
	size_t n;
	uint64_t chunk[MAX_EXT];
	int more;
	const char *inl;
};

struct script {
	const struct page_spec *pages;
	size_t n_pages;
	size_t fetched;		   /* fetch calls so far */
	uint64_t first[MAX_PAGES]; /* the `first` each fetch asked for */
	uint32_t max[MAX_PAGES];
	uint64_t ino;
};

static int fetch(void *src, uint64_t ino, uint64_t first, uint32_t max, struct meta_extent **ext,
		 int *more, struct meta_attr *attr, uint8_t **inl, size_t *inl_len)
{
	struct script *sc = src;
	const struct page_spec *p;

	ck_assert_uint_lt(sc->fetched, sc->n_pages); /* never asks past the script */
	p = &sc->pages[sc->fetched];
	sc->first[sc->fetched] = first;
	sc->max[sc->fetched] = max;
	sc->ino = ino;
	sc->fetched++;
	*ext = NULL;
	*inl = NULL;
	*inl_len = 0;
	*more = 0;
	if (p->err != 0) {
		return p->err;
	}
	*ext = calloc(p->n ? p->n : 1, sizeof(**ext));
	ck_assert_ptr_nonnull(*ext);
	for (size_t i = 0; i < p->n; i++) {
		(*ext)[i].chunk = p->chunk[i];
		(*ext)[i].len = 100 + (uint32_t)p->chunk[i];
	}
	memset(attr, 0, sizeof(*attr));
	attr->ino = ino;
	attr->gen = 7;
	if (p->inl != NULL) {
		*inl_len = strlen(p->inl);
		*inl = malloc(*inl_len);
		ck_assert_ptr_nonnull(*inl);
		memcpy(*inl, p->inl, *inl_len);
	}
	*more = p->more;
	return (int)p->n;
}

/* What the page callback saw. */
struct seen {
	size_t pages, n_ext;
	uint64_t chunk[MAX_PAGES * MAX_EXT];
	int last[MAX_PAGES];
	char inl[32];
	int ret;	 /* returned from every call ... */
	size_t ret_from; /* ... from this page index on (0 before) */
};

static int on_page(void *arg, const struct ext_page *pg)
{
	struct seen *s = arg;

	ck_assert_uint_eq(pg->attr->gen, 7);
	for (size_t i = 0; i < pg->n; i++) {
		ck_assert_uint_eq(pg->ext[i].len, 100 + (uint32_t)pg->ext[i].chunk);
		s->chunk[s->n_ext++] = pg->ext[i].chunk;
	}
	if (pg->inl != NULL) {
		ck_assert_uint_lt(pg->inl_len, sizeof(s->inl));
		memcpy(s->inl, pg->inl, pg->inl_len);
	}
	s->last[s->pages] = pg->last;
	return s->pages++ >= s->ret_from ? s->ret : 0;
}

static int walk(const struct page_spec *pages, size_t n, uint32_t max, struct script *sc,
		struct seen *s)
{
	memset(sc, 0, sizeof(*sc));
	sc->pages = pages;
	sc->n_pages = n;
	return ext_walk(fetch, sc, 42, max, on_page, s);
}

START_TEST(test_pages_in_order)
{
	const struct page_spec pages[] = {
	    {.n = 3, .chunk = {0, 1, 5}, .more = 1},
	    {.n = 2, .chunk = {6, 9}, .more = 1},
	    {.n = 1, .chunk = {1000}, .more = 0},
	};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(pages, 3, 3, &sc, &s), 0);
	ck_assert_uint_eq(sc.fetched, 3);
	ck_assert_uint_eq(sc.ino, 42);
	/* each page starts right after the last chunk of the one before */
	ck_assert_uint_eq(sc.first[0], 0);
	ck_assert_uint_eq(sc.first[1], 6);
	ck_assert_uint_eq(sc.first[2], 10);
	ck_assert_uint_eq(sc.max[0], 3);
	ck_assert_uint_eq(s.pages, 3);
	ck_assert_uint_eq(s.n_ext, 6);
	ck_assert_uint_eq(s.chunk[5], 1000);
	ck_assert_int_eq(s.last[0], 0);
	ck_assert_int_eq(s.last[1], 0);
	ck_assert_int_eq(s.last[2], 1);
}
END_TEST

/* The bug this module exists for: `more` with nothing in the page would
 * ask for the same page forever. */
START_TEST(test_empty_page_with_more_refused)
{
	const struct page_spec pages[] = {
	    {.n = 2, .chunk = {0, 1}, .more = 1},
	    {.n = 0, .more = 1},
	    {.n = 0, .more = 1},
	};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(pages, 3, 2, &sc, &s), -OBJ_EPROTO);
	ck_assert_uint_eq(sc.fetched, 2);
	ck_assert_uint_eq(s.pages, 1); /* the bad page never reaches the caller */
}
END_TEST

START_TEST(test_chunk_before_first_refused)
{
	const struct page_spec pages[] = {
	    {.n = 2, .chunk = {3, 4}, .more = 1},
	    {.n = 2, .chunk = {4, 8}, .more = 0}, /* repeats chunk 4 */
	};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(pages, 2, 2, &sc, &s), -OBJ_EPROTO);
	ck_assert_uint_eq(sc.fetched, 2);
	ck_assert_uint_eq(sc.first[1], 5);
	ck_assert_uint_eq(s.pages, 1);
}
END_TEST

START_TEST(test_unordered_page_refused)
{
	const struct page_spec down[] = {{.n = 3, .chunk = {0, 5, 2}, .more = 0}};
	const struct page_spec dup[] = {{.n = 2, .chunk = {5, 5}, .more = 0}};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(down, 1, 8, &sc, &s), -OBJ_EPROTO);
	ck_assert_int_eq(walk(dup, 1, 8, &sc, &s), -OBJ_EPROTO);
	ck_assert_uint_eq(s.pages, 0);
}
END_TEST

/* A page ending at the last chunk number cannot be followed by another. */
START_TEST(test_more_after_last_chunk_refused)
{
	const struct page_spec pages[] = {{.n = 1, .chunk = {UINT64_MAX}, .more = 1}};
	const struct page_spec ok[] = {{.n = 1, .chunk = {UINT64_MAX}, .more = 0}};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(pages, 1, 8, &sc, &s), -OBJ_EPROTO);
	ck_assert_uint_eq(s.pages, 0);
	ck_assert_int_eq(walk(ok, 1, 8, &sc, &s), 0);
	ck_assert_uint_eq(s.pages, 1);
}
END_TEST

START_TEST(test_oversized_page_refused)
{
	const struct page_spec pages[] = {{.n = 3, .chunk = {0, 1, 2}, .more = 0}};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(pages, 1, 2, &sc, &s), -OBJ_EPROTO);
	ck_assert_uint_eq(s.pages, 0);
}
END_TEST

START_TEST(test_fetch_error_returned)
{
	const struct page_spec pages[] = {
	    {.n = 1, .chunk = {0}, .more = 1},
	    {.err = -ETIMEDOUT},
	};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(pages, 2, 1, &sc, &s), -ETIMEDOUT);
	ck_assert_uint_eq(s.pages, 1);
}
END_TEST

START_TEST(test_callback_stops_or_aborts)
{
	const struct page_spec pages[] = {
	    {.n = 1, .chunk = {0}, .more = 1},
	    {.n = 1, .chunk = {1}, .more = 1},
	    {.n = 1, .chunk = {2}, .more = 0},
	};
	struct script sc;
	struct seen stop = {.ret = 1, .ret_from = 1};
	struct seen fail = {.ret = -EIO, .ret_from = 0};

	ck_assert_int_eq(walk(pages, 3, 1, &sc, &stop), 0);
	ck_assert_uint_eq(sc.fetched, 2);
	ck_assert_uint_eq(stop.pages, 2);
	ck_assert_int_eq(walk(pages, 3, 1, &sc, &fail), -EIO);
	ck_assert_uint_eq(sc.fetched, 1);
}
END_TEST

START_TEST(test_inline_and_default_max)
{
	const struct page_spec pages[] = {{.n = 0, .more = 0, .inl = "hello"}};
	struct script sc;
	struct seen s = {0};

	ck_assert_int_eq(walk(pages, 1, 0, &sc, &s), 0);
	ck_assert_uint_eq(sc.max[0], META_EXTENTS_MAX);
	ck_assert_uint_eq(s.pages, 1);
	ck_assert_int_eq(s.last[0], 1);
	ck_assert_str_eq(s.inl, "hello");
}
END_TEST

/* ext_collect: every page in one array, inline content copied. */
START_TEST(test_collect)
{
	const struct page_spec pages[] = {
	    {.n = 2, .chunk = {0, 3}, .more = 1},
	    {.n = 2, .chunk = {4, 7}, .more = 1},
	    {.n = 1, .chunk = {9}, .more = 0},
	};
	const struct page_spec inl[] = {{.n = 0, .more = 0, .inl = "tiny"}};
	const uint64_t want[] = {0, 3, 4, 7, 9};
	struct meta_extent *ext = NULL;
	struct meta_attr attr;
	struct script sc;
	uint8_t *data = NULL;
	size_t n = 0, len = 0;

	memset(&sc, 0, sizeof(sc));
	sc.pages = pages;
	sc.n_pages = 3;
	ck_assert_int_eq(ext_collect(fetch, &sc, 42, 2, &ext, &n, &attr, &data, &len), 0);
	ck_assert_uint_eq(n, 5);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(ext[i].chunk, want[i]);
		ck_assert_uint_eq(ext[i].len, 100 + (uint32_t)want[i]);
	}
	ck_assert_uint_eq(attr.ino, 42);
	ck_assert_ptr_null(data);
	ck_assert_uint_eq(len, 0);
	free(ext);

	memset(&sc, 0, sizeof(sc));
	sc.pages = inl;
	sc.n_pages = 1;
	ck_assert_int_eq(ext_collect(fetch, &sc, 42, 0, &ext, &n, &attr, &data, &len), 0);
	ck_assert_ptr_null(ext);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(len, 4);
	ck_assert_mem_eq(data, "tiny", 4);
	free(data);
}
END_TEST

/* A refused page leaves the caller nothing to free. */
START_TEST(test_collect_refusal_frees)
{
	const struct page_spec pages[] = {
	    {.n = 2, .chunk = {0, 1}, .more = 1, .inl = "x"},
	    {.n = 0, .more = 1},
	};
	struct meta_extent *ext = (struct meta_extent *)1;
	struct meta_attr attr;
	struct script sc;
	uint8_t *data = (uint8_t *)1;
	size_t n = 9, len = 9;

	memset(&sc, 0, sizeof(sc));
	sc.pages = pages;
	sc.n_pages = 2;
	ck_assert_int_eq(ext_collect(fetch, &sc, 42, 2, &ext, &n, &attr, &data, &len), -OBJ_EPROTO);
	ck_assert_ptr_null(ext);
	ck_assert_ptr_null(data);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(len, 0);
}
END_TEST

static Suite *extents_suite(void)
{
	Suite *s = suite_create("extents");
	TCase *tc = tcase_create("walk");

	tcase_add_test(tc, test_pages_in_order);
	tcase_add_test(tc, test_empty_page_with_more_refused);
	tcase_add_test(tc, test_chunk_before_first_refused);
	tcase_add_test(tc, test_unordered_page_refused);
	tcase_add_test(tc, test_more_after_last_chunk_refused);
	tcase_add_test(tc, test_oversized_page_refused);
	tcase_add_test(tc, test_fetch_error_returned);
	tcase_add_test(tc, test_callback_stops_or_aborts);
	tcase_add_test(tc, test_inline_and_default_max);
	tcase_add_test(tc, test_collect);
	tcase_add_test(tc, test_collect_refusal_frees);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(extents_suite());
}
