/* test_meta_reply.c: the client's decoders of metadata replies
 * (common/meta_reply.c) on bodies built by hand: each round-trips what a
 * shard encodes, refuses a trailing byte and a truncated body, and sizes
 * what it allocates from the bytes present, not from a count a node
 * chose.  Bodies are allocated to their exact length (proto_fixture.h),
 * so an over-read fails under ASan or valgrind.  Single-threaded. */
#include <check.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/meta_reply.h"
#include "../lib/testlib.h"
#include "proto_fixture.h"

static int count_names(void *arg, const char *name, const struct meta_attr *a)
{
	(void)name;
	(void)a;
	(*(int *)arg)++;
	return 0;
}

/* A listxattr reply of 1000 one-byte names decodes to exactly those names
 * in a buffer sized from the reply (about 4 KB), not from the count (256
 * bytes a name: 256 KB); a count the bytes cannot hold is refused. */
START_TEST(test_listxattr_sized_by_reply)
{
	struct wr w;
	uint8_t *body;
	size_t n, len;
	char *names;

	wr_init(&w, 0);
	wr_u32(&w, 1000);
	for (int i = 0; i < 1000; i++) {
		wr_str(&w, "a");
	}
	body = wr_take(&w, &n);
	ck_assert_int_eq(mr_listxattr(body, n, &names, &len), 0);
	ck_assert_uint_eq(len, 2000);
	for (size_t i = 0; i < len; i += 2) {
		ck_assert_str_eq(names + i, "a");
	}
	ck_assert_uint_lt(malloc_usable_size(names), 2 * n);
	free(names);
	ck_assert_int_eq(mr_listxattr(body, n - 1, &names, &len), -OBJ_EPROTO);
	ck_assert_ptr_null(names);
	free(body);

	wr_init(&w, 0);
	wr_u32(&w, 100); /* 100 names in 3 bytes */
	wr_str(&w, "a");
	body = wr_take(&w, &n);
	ck_assert_int_eq(mr_listxattr(body, n, &names, &len), -OBJ_EPROTO);
	ck_assert_ptr_null(names);
	free(body);
}
END_TEST

/* A readdir reply delivers nothing unless all of it decodes: a trailing
 * byte or a count over the asked maximum is refused before any callback. */
START_TEST(test_readdir_all_or_nothing)
{
	struct meta_attr a = {.ino = 5, .mode = 0100644, .nlink = 1};
	struct wr w;
	uint8_t *body, *longer;
	size_t n;
	int calls = 0, more = 0;

	wr_init(&w, 0);
	wr_u32(&w, 2);
	wr_str(&w, "x");
	meta_put_attr(&w, &a);
	wr_str(&w, "y");
	meta_put_attr(&w, &a);
	wr_u8(&w, 1);
	body = wr_take(&w, &n);
	ck_assert_int_eq(mr_readdir(body, n, 10, count_names, &calls, &more), 2);
	ck_assert_int_eq(calls, 2);
	ck_assert_int_eq(more, 1);
	calls = 0;
	ck_assert_int_eq(mr_readdir(body, n, 1, count_names, &calls, &more), -OBJ_EPROTO);
	longer = malloc(n + 1);
	ck_assert_ptr_nonnull(longer);
	memcpy(longer, body, n);
	longer[n] = 0;
	ck_assert_int_eq(mr_readdir(longer, n + 1, 10, count_names, &calls, &more), -OBJ_EPROTO);
	ck_assert_int_eq(mr_readdir(body, n - 1, 10, count_names, &calls, &more), -OBJ_EPROTO);
	ck_assert_int_eq(calls, 0);
	free(longer);
	free(body);
}
END_TEST

static int count_c(void *arg, const char *name, uint64_t cookie, const struct meta_attr *a)
{
	(void)name;
	(void)cookie;
	(void)a;
	(*(int *)arg)++;
	return 0;
}

static uint8_t *cookie_reply(const uint64_t *c, int cnt, int more, size_t *n)
{
	struct meta_attr a = {.ino = 5, .mode = 0100644, .nlink = 1};
	struct wr w;

	wr_init(&w, 0);
	wr_u32(&w, (uint32_t)cnt);
	for (int i = 0; i < cnt; i++) {
		wr_str(&w, "x");
		wr_u64(&w, c[i]);
		meta_put_attr(&w, &a);
	}
	wr_u8(&w, (uint8_t)more);
	return wr_take(&w, n);
}

/* A cookie reply must move forward: cookies rise (equal ones may follow
 * each other: a collision), the first lies above the request's, none is
 * below META_COOKIE_FIRST or above 2^63, and "more" comes with entries --
 * else a hostile node could make a reader loop.  Nothing is delivered
 * from a refused reply. */
START_TEST(test_readdir_cookie_checks)
{
	static const uint64_t ok[] = {10, 20, 20, 30}, down[] = {10, 30, 20}, low[] = {2, 10},
			      high[] = {10, (uint64_t)1 << 63};
	uint8_t *b;
	size_t n;
	int calls = 0, more = 0;

	b = cookie_reply(ok, 4, 1, &n);
	ck_assert_int_eq(mr_readdir_c(b, n, 10, 0, count_c, &calls, &more), 4);
	ck_assert_int_eq(calls, 4);
	ck_assert_int_eq(more, 1);
	calls = 0;
	ck_assert_int_eq(mr_readdir_c(b, n, 10, 10, count_c, &calls, &more), -OBJ_EPROTO);
	ck_assert_int_eq(mr_readdir_c(b, n, 10, 15, count_c, &calls, &more), -OBJ_EPROTO);
	ck_assert_int_eq(mr_readdir_c(b, n, 10, 9, count_c, &calls, &more), 4);
	calls = 0;
	free(b);
	b = cookie_reply(down, 3, 0, &n);
	ck_assert_int_eq(mr_readdir_c(b, n, 10, 0, count_c, &calls, &more), -OBJ_EPROTO);
	free(b);
	b = cookie_reply(low, 2, 0, &n);
	ck_assert_int_eq(mr_readdir_c(b, n, 10, 0, count_c, &calls, &more), -OBJ_EPROTO);
	free(b);
	b = cookie_reply(high, 2, 0, &n);
	ck_assert_int_eq(mr_readdir_c(b, n, 10, 0, count_c, &calls, &more), -OBJ_EPROTO);
	free(b);
	b = cookie_reply(ok, 0, 1, &n);
	ck_assert_int_eq(mr_readdir_c(b, n, 10, 0, count_c, &calls, &more), -OBJ_EPROTO);
	free(b);
	ck_assert_int_eq(calls, 0);
}
END_TEST

/* An extents reply round-trips; a refused one leaves no buffer behind. */
START_TEST(test_extents_roundtrip_and_refusal)
{
	struct meta_extent e = {.chunk = 3, .blk = {.k = 4, .m = 2, .len = 4096}, .len = 100};
	struct meta_attr a = {.ino = 9, .size = 12388}, got;
	struct meta_extent *ext;
	struct wr w;
	uint8_t *body, *inl;
	size_t n, inl_len;
	int more;

	wr_init(&w, 0);
	meta_put_attr(&w, &a);
	wr_u32(&w, 1);
	meta_put_extent(&w, &e);
	wr_u8(&w, 0);
	wr_blob(&w, "xy", 2);
	body = wr_take(&w, &n);
	ck_assert_int_eq(mr_extents(body, n, 10, &ext, &more, &got, &inl, &inl_len), 1);
	ck_assert_uint_eq(ext[0].chunk, 3);
	ck_assert_uint_eq(ext[0].len, 100);
	ck_assert_uint_eq(got.ino, 9);
	ck_assert_uint_eq(inl_len, 2);
	ck_assert_mem_eq(inl, "xy", 2);
	free(ext);
	free(inl);
	ck_assert_int_eq(mr_extents(body, n, 0, &ext, &more, &got, &inl, &inl_len), -OBJ_EPROTO);
	ck_assert_ptr_null(ext);
	ck_assert_int_eq(mr_extents(body, n - 1, 10, &ext, &more, &got, &inl, &inl_len),
			 -OBJ_EPROTO);
	ck_assert_ptr_null(ext);
	ck_assert_ptr_null(inl);
	free(body);
}
END_TEST

/* A readlink reply with a NUL inside the target is malformed; one longer
 * than the caller's buffer is -ENAMETOOLONG. */
START_TEST(test_readlink_checks)
{
	struct wr w;
	uint8_t *body;
	size_t n;
	char buf[16];

	wr_init(&w, 0);
	wr_u16(&w, 3);
	wr_bytes(&w, "a\0b", 3);
	body = wr_take(&w, &n);
	ck_assert_int_eq(mr_readlink(body, n, buf, sizeof(buf)), -OBJ_EPROTO);
	free(body);
	wr_init(&w, 0);
	wr_str(&w, "../target");
	body = wr_take(&w, &n);
	ck_assert_int_eq(mr_readlink(body, n, buf, 9), -ENAMETOOLONG); /* no room for the NUL */
	ck_assert_int_eq(mr_readlink(body, n, buf, 10), 9);
	ck_assert_str_eq(buf, "../target");
	free(body);
}
END_TEST

/* Builds a cluster map reply of n rows (id, state) into *len bytes. */
static uint8_t *node_map_body(const uint32_t *ids, const uint8_t *states, uint32_t n,
			      uint32_t count, size_t *len)
{
	struct wr w;

	wr_init(&w, 0);
	wr_u32(&w, count);
	for (uint32_t i = 0; i < n; i++) {
		wr_u32(&w, ids[i]);
		wr_u8(&w, states[i]);
		wr_u64(&w, 1700000000000000000ull + i);
	}
	return wr_take(&w, len);
}

/* Decodes the body node_map_body builds into 4 rows: mr_node_map's answer. */
static int node_map_decode(const uint32_t *ids, const uint8_t *states, uint32_t n, uint32_t count)
{
	struct meta_node_row rows[4];
	size_t len;
	uint8_t *body = node_map_body(ids, states, n, count, &len);
	int rc = mr_node_map(body, len, rows, 4);

	free(body);
	return rc;
}

/* A cluster map reply round-trips; a truncated body, a trailing byte, a
 * count past the caller's room or META_NODE_MAP_MAX, an unknown state, a
 * node id 0 and ids out of order are refused. */
START_TEST(test_node_map_checks)
{
	const uint32_t ids[] = {2, 5, 7}, bad_order[] = {5, 2, 7}, zero[] = {0, 5, 7};
	const uint8_t states[] = {META_NODE_DOWN, META_NODE_OUT, META_NODE_GONE};
	const uint8_t bad_state[] = {META_NODE_DOWN, META_NODE_OUT + 1, META_NODE_UP};
	struct meta_node_row rows[4];
	uint8_t *body, *cut;
	size_t n;

	body = node_map_body(ids, states, 3, 3, &n);
	ck_assert_int_eq(mr_node_map(body, n, rows, 4), 3);
	ck_assert_uint_eq(rows[1].id, 5);
	ck_assert_uint_eq(rows[1].state, META_NODE_OUT);
	ck_assert_int_eq(rows[2].since_ns, 1700000000000000002ll);
	ck_assert_int_eq(mr_node_map(body, n, rows, 2), -OBJ_EPROTO); /* no room */
	cut = dup_exact(body, n - 1);
	ck_assert_int_eq(mr_node_map(cut, n - 1, rows, 4), -OBJ_EPROTO);
	free(cut);
	free(body);
	ck_assert_int_eq(node_map_decode(ids, states, 3, 2),
			 -OBJ_EPROTO); /* a row past the count */
	ck_assert_int_eq(node_map_decode(ids, states, 0, META_NODE_MAP_MAX + 1), -OBJ_EPROTO);
	ck_assert_int_eq(node_map_decode(ids, bad_state, 3, 3), -OBJ_EPROTO);
	ck_assert_int_eq(node_map_decode(bad_order, states, 3, 3), -OBJ_EPROTO);
	ck_assert_int_eq(node_map_decode(zero, states, 3, 3), -OBJ_EPROTO);
	ck_assert_int_eq(node_map_decode(ids, states, 0, 0), 0);
}
END_TEST

/* A META_OPS body of count results (statuses given), claiming `claim`. */
static uint8_t *results_body(const int32_t *status, uint32_t count, uint32_t claim, size_t *n)
{
	struct wr w;
	uint8_t *b, *exact;

	wr_init(&w, 0);
	wr_u32(&w, claim);
	for (uint32_t i = 0; i < count; i++) {
		struct meta_result r = {.status = status[i], .freed_ino = 10 + i};

		r.attr.ino = 100 + i;
		r.dir_ctime_was = 1000 + i;
		meta_put_result(&w, &r);
	}
	b = wr_take(&w, n);
	exact = dup_exact(b, *n);
	free(b);
	return exact;
}

/* META_OPS replies: every result in order into its own place, each status
 * its own; a count other than the call's, a positive status, a truncated
 * body or a trailing byte is refused and leaves every result zeroed. */
START_TEST(test_results_checks)
{
	const int32_t st[] = {0, -EEXIST, 0}, bad[] = {0, 5, 0};
	struct meta_result a, b, c, *res[] = {&a, &b, &c};
	uint8_t *body, *cut;
	size_t n;

	body = results_body(st, 3, 3, &n);
	ck_assert_int_eq(mr_results(body, n, res, 3), 0);
	ck_assert_int_eq(a.status, 0);
	ck_assert_int_eq(b.status, -EEXIST);
	ck_assert_uint_eq(c.attr.ino, 102);
	ck_assert_uint_eq(b.freed_ino, 11);
	ck_assert_int_eq(c.dir_ctime_was, 1002);
	ck_assert_int_eq(mr_results(body, n, res, 2), -OBJ_EPROTO); /* not the call's count */
	ck_assert_uint_eq(a.attr.ino, 0);
	for (size_t len = 0; len < n; len++) {
		cut = dup_exact(body, len);
		ck_assert_int_eq(mr_results(cut, len, res, 3), -OBJ_EPROTO);
		free(cut);
	}
	cut = calloc(1, n + 1);
	memcpy(cut, body, n);
	ck_assert_int_eq(mr_results(cut, n + 1, res, 3), -OBJ_EPROTO);
	free(cut);
	free(body);
	body = results_body(st, 3, 4, &n); /* claims a fourth */
	ck_assert_int_eq(mr_results(body, n, res, 3), -OBJ_EPROTO);
	free(body);
	body = results_body(bad, 3, 3, &n);
	ck_assert_int_eq(mr_results(body, n, res, 3), -OBJ_EPROTO);
	ck_assert_int_eq(a.status, 0);
	ck_assert_uint_eq(a.attr.ino, 0);
	free(body);
}
END_TEST

/* A META_LOOKUPS body: statuses given, attributes after the zeros. */
static uint8_t *lookups_body(const int32_t *status, uint32_t count, uint32_t claim, size_t *n)
{
	struct wr w;
	uint8_t *b, *exact;

	wr_init(&w, 0);
	wr_u32(&w, claim);
	for (uint32_t i = 0; i < count; i++) {
		wr_u32(&w, (uint32_t)status[i]);
		if (status[i] == 0) {
			struct meta_attr a = {.ino = 200 + i, .mode = 0100644};

			meta_put_attr(&w, &a);
		}
	}
	b = wr_take(&w, n);
	exact = dup_exact(b, *n);
	free(b);
	return exact;
}

/* META_LOOKUPS replies: each status in place (errnos and the project's
 * own codes), attributes only after a 0; a count other than the call's, a
 * positive status or one past the project's codes, a truncated body or a
 * trailing byte is refused. */
START_TEST(test_lookups_checks)
{
	const int32_t st[] = {0, -ENOENT, 0, -OBJ_EMAJORITY}, pos[] = {0, 2, 0, 0};
	const int32_t far[] = {0, -OBJ_ELAST, 0, 0};
	struct meta_attr a[4], *attr[] = {&a[0], &a[1], &a[2], &a[3]};
	int status[4];
	uint8_t *body, *cut;
	size_t n;

	body = lookups_body(st, 4, 4, &n);
	ck_assert_int_eq(mr_lookups(body, n, attr, status, 4), 0);
	ck_assert_int_eq(status[0], 0);
	ck_assert_uint_eq(a[0].ino, 200);
	ck_assert_int_eq(status[1], -ENOENT);
	ck_assert_uint_eq(a[2].ino, 202);
	ck_assert_int_eq(status[3], -OBJ_EMAJORITY);
	ck_assert_int_eq(mr_lookups(body, n, attr, status, 3), -OBJ_EPROTO);
	for (size_t len = 0; len < n; len++) {
		cut = dup_exact(body, len);
		ck_assert_int_eq(mr_lookups(cut, len, attr, status, 4), -OBJ_EPROTO);
		free(cut);
	}
	cut = calloc(1, n + 1);
	memcpy(cut, body, n);
	ck_assert_int_eq(mr_lookups(cut, n + 1, attr, status, 4), -OBJ_EPROTO);
	free(cut);
	free(body);
	body = lookups_body(pos, 4, 4, &n);
	ck_assert_int_eq(mr_lookups(body, n, attr, status, 4), -OBJ_EPROTO);
	free(body);
	body = lookups_body(far, 4, 4, &n);
	ck_assert_int_eq(mr_lookups(body, n, attr, status, 4), -OBJ_EPROTO);
	free(body);
}
END_TEST

static Suite *meta_reply_suite(void)
{
	Suite *s = suite_create("meta_reply");
	TCase *tc = tcase_create("decode");

	tcase_add_test(tc, test_listxattr_sized_by_reply);
	tcase_add_test(tc, test_readdir_all_or_nothing);
	tcase_add_test(tc, test_readdir_cookie_checks);
	tcase_add_test(tc, test_extents_roundtrip_and_refusal);
	tcase_add_test(tc, test_readlink_checks);
	tcase_add_test(tc, test_node_map_checks);
	tcase_add_test(tc, test_results_checks);
	tcase_add_test(tc, test_lookups_checks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(meta_reply_suite());
}
