/* test_object.c: buckets and objects (common/object.c, over blockio.c and
 * meta_client.c) against a real 6-node dev cluster: sizes across the
 * inline and block boundaries, listing, overwrite, removal, bucket rules,
 * and reads, writes and repair with two nodes dead.  The cluster starts
 * once per test case in Check's runner; each test opens its own handle. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/fsck.h"
#include "../../common/meta_client.h"
#include "../../common/object.h"
#include "../lib/cluster.h"
#include "../lib/testlib.h"

static struct tl_cluster cluster;
static struct objc *oc;

static void cluster_setup(void)
{
	ck_assert_int_eq(tl_cluster_up(&cluster, 6), 0);
}

static void cluster_teardown(void)
{
	tl_cluster_down(&cluster);
}

static void objc_setup(void)
{
	log_set_sink(tl_quiet_sink, NULL);
	ck_assert_int_eq(objc_open(&cluster.cfg, &oc), 0);
	cl_wait_connected(objc_cl(oc), 10000);
}

static void objc_teardown(void)
{
	objc_close(oc);
	oc = NULL;
	log_set_sink(NULL, NULL);
}

/* Seeded bytes: each object's content depends on its size and tag. */
static uint8_t *pattern(size_t len, uint8_t tag)
{
	uint8_t *b = malloc(len ? len : 1);
	uint64_t s = len * 31 + tag;

	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < len; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		b[i] = (uint8_t)(s >> 56);
	}
	return b;
}

static void put_get(const char *key, size_t len, uint8_t tag)
{
	uint8_t *want = pattern(len, tag), *got = NULL;
	size_t got_len = 0;

	ck_assert_int_eq(obj_put_buf(oc, "demo", key, want, len), 0);
	ck_assert_int_eq(obj_get_buf(oc, "demo", key, &got, &got_len), 0);
	ck_assert_uint_eq(got_len, len);
	ck_assert(len == 0 || memcmp(got, want, len) == 0);
	free(got);
	free(want);
}

struct seen {
	char keys[16][64];
	uint64_t sizes[16];
	int n;
};

static int collect(void *arg, const struct obj_entry *e)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 16);
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", e->key);
	s->sizes[s->n++] = e->size;
	return 0;
}

/* Objects of 0 B to 4 MiB + 1 (inline, one block, two blocks) read back
 * identical, and listing shows exactly them in bytewise order with sizes. */
START_TEST(test_sizes_and_listing)
{
	static const size_t sizes[] = {0, 1, 4096, 4097, 1048579, 4194304, 4194305};
	struct seen s = {0};
	char key[64];

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(key, sizeof(key), "sz/%zu", i);
		put_get(key, sizes[i], (uint8_t)i);
	}
	ck_assert_int_eq(obj_list(oc, "demo", "sz/", collect, &s), 0);
	ck_assert_int_eq(s.n, 7);
	for (int i = 0; i < 7; i++) {
		snprintf(key, sizeof(key), "sz/%d", i);
		ck_assert_str_eq(s.keys[i], key);
		ck_assert_uint_eq(s.sizes[i], sizes[i]);
	}
}
END_TEST

/* An overwrite replaces the content whole; rm removes it, and a second
 * rm and a get say -ENOENT; a directory is not an object. */
START_TEST(test_overwrite_and_rm)
{
	uint8_t *got = NULL;
	size_t len = 0;

	put_get("ow/x", 300000, 1);
	put_get("ow/x", 5000, 2);
	ck_assert_int_eq(obj_rm(oc, "demo", "ow/x"), 0);
	ck_assert_int_eq(obj_get_buf(oc, "demo", "ow/x", &got, &len), -ENOENT);
	ck_assert_int_eq(obj_rm(oc, "demo", "ow/x"), -ENOENT);
	put_get("ow/d/f", 10, 3);
	ck_assert_int_eq(obj_get_buf(oc, "demo", "ow/d", &got, &len), -EISDIR);
}
END_TEST

static int add_name(void *arg, const char *name)
{
	struct seen *s = arg;

	ck_assert_int_lt(s->n, 16);
	snprintf(s->keys[s->n++], sizeof(s->keys[0]), "%s", name);
	return 0;
}

static int listed(const char *name)
{
	struct seen s = {0};

	ck_assert_int_eq(bucket_list(oc, add_name, &s), 0);
	for (int i = 0; i < s.n; i++) {
		if (strcmp(s.keys[i], name) == 0) {
			return 1;
		}
	}
	return 0;
}

/* Bucket rules: create once (-EEXIST again, -EINVAL for a bad name), a
 * non-empty bucket is kept unless forced, a removed one holds nothing. */
START_TEST(test_buckets)
{
	uint8_t one = 1, *got = NULL;
	size_t len = 0;

	ck_assert_int_eq(bucket_create(oc, "b2"), 0);
	ck_assert_int_eq(bucket_create(oc, "b2"), -EEXIST);
	ck_assert_int_eq(bucket_create(oc, "Bad/Name"), -EINVAL);
	ck_assert_int_eq(obj_put_buf(oc, "b2", "k", &one, 1), 0);
	ck_assert_int_eq(bucket_remove(oc, "b2", 0), -ENOTEMPTY);
	ck_assert_int_eq(bucket_remove(oc, "b2", 1), 0);
	ck_assert_int_eq(obj_get_buf(oc, "b2", "k", &got, &len), -ENOENT);
}
END_TEST

/* The catalog lists every bucket, in order, once: with two or more
 * buckets too (the listing reply ends with a "more" byte that the
 * bucket listing must read). */
START_TEST(test_bucket_list)
{
	ck_assert_int_eq(bucket_create(oc, "b3"), 0);
	ck_assert(listed("demo"));
	ck_assert(listed("b3"));
	ck_assert_int_eq(bucket_remove(oc, "b3", 0), 0);
	ck_assert(!listed("b3"));
}
END_TEST

/* With two nodes dead (4+2), every object
 * still reads and a new one is stored (fragments handed off); after the
 * restart, every home copy is back and a second repair finds nothing to
 * do.  The catalog leader's automatic repair checks a returning node too,
 * so the manual repair may find the work already done: what is asserted
 * is the outcome (fsck: no home copy missing), not who did it. */
START_TEST(test_two_nodes_down_then_repair)
{
	struct repair_stats st;
	struct fsck_opts fo = {0};
	struct fsck_stats fs;
	size_t rep[3], nrep = mc_shard_replicas(&cluster.cfg, "demo", rep, 3), nv = 0;
	unsigned victim[2];

	/* Two nodes outside demo's shard: its metadata keeps a majority, so
	 * this tests the data path, not Raft. */
	ck_assert_uint_eq(nrep, 3);
	for (size_t i = 0; i < cluster.cfg.n_nodes && nv < 2; i++) {
		if (i != rep[0] && i != rep[1] && i != rep[2]) {
			victim[nv++] = cluster.cfg.nodes[i].id;
		}
	}
	ck_assert_uint_eq(nv, 2);

	put_get("deg/before", 2000000, 9);
	ck_assert_int_eq(tl_node_kill(&cluster, victim[0]), 0);
	ck_assert_int_eq(tl_node_kill(&cluster, victim[1]), 0);
	objc_teardown();
	objc_setup();
	{
		uint8_t *want = pattern(2000000, 9), *got = NULL;
		size_t len = 0;
		int rc = obj_get_buf(oc, "demo", "deg/before", &got, &len);

		ck_assert_msg(rc == 0, "degraded get: %s", obj_strerror(rc));
		ck_assert_uint_eq(len, 2000000);
		ck_assert_mem_eq(got, want, len);
		free(got);
		free(want);
	}
	put_get("deg/during", 3000000, 10);
	ck_assert_int_eq(tl_cluster_restart(&cluster), 0);
	objc_teardown();
	objc_setup();
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(obj_repair(oc, "demo", &st), 0);
	ck_assert_uint_eq(st.failed, 0);
	memset(&fs, 0, sizeof(fs));
	ck_assert_int_eq(fsck_bucket(oc, "demo", &fo, &fs), 0);
	ck_assert_uint_gt(fs.blocks, 0);
	ck_assert_uint_eq(fs.healthy, fs.blocks);
	ck_assert_uint_eq(fs.frags_missing, 0);
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(obj_repair(oc, "demo", &st), 0);
	ck_assert_uint_eq(st.failed, 0);
	ck_assert_uint_eq(st.fragments, 0);
}
END_TEST

static Suite *object_suite(void)
{
	Suite *s = suite_create("object");
	TCase *tc = tcase_create("cluster");

	tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_add_checked_fixture(tc, objc_setup, objc_teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_sizes_and_listing);
	tcase_add_test(tc, test_overwrite_and_rm);
	tcase_add_test(tc, test_buckets);
	tcase_add_test(tc, test_bucket_list);
	tcase_add_test(tc, test_two_nodes_down_then_repair);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(object_suite());
}
