/* test_meta_client.c: client calls to a bucket's metadata shard
 * (common/meta_client.c) against a real 6-node dev cluster: records and
 * their results, a retried op_id applied once, records of concurrent
 * threads sharing calls, directory paging, errors
 * passed through, and a leader killed between two calls. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/client.h"
#include "../../common/err.h"
#include "../../common/meta_client.h"
#include "../lib/cluster.h"
#include "../lib/testlib.h"

#define ROOT_INO 1

static struct tl_cluster cluster;
static struct cl *cl;
static struct mc *mc;

static void cluster_setup(void)
{
	ck_assert_int_eq(tl_cluster_up(&cluster, 6), 0);
}

static void cluster_teardown(void)
{
	tl_cluster_down(&cluster);
}

static void mc_setup(void)
{
	log_set_sink(tl_quiet_sink, NULL);
	ck_assert_int_eq(cl_open(&cluster.cfg, &cl), 0);
	cl_wait_connected(cl, 10000);
	ck_assert_int_eq(mc_open(cl, "demo", &mc), 0);
}

static void mc_teardown(void)
{
	mc_close(mc);
	cl_close(cl);
	log_set_sink(NULL, NULL);
}

static int create_f(uint64_t parent, const char *name, uint32_t mode, uint64_t op_id,
		    uint32_t flags, struct meta_result *res)
{
	struct meta_op op;

	memset(&op, 0, sizeof(op));
	op.type = MOP_CREATE;
	op.op_id = op_id;
	op.flags = flags;
	op.parent = parent;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.mode = mode;
	return mc_op(mc, &op, res);
}

static int create(uint64_t parent, const char *name, uint32_t mode, uint64_t op_id,
		  struct meta_result *res)
{
	return create_f(parent, name, mode, op_id, 0, res);
}

/* A create returns the new inode; lookup and getattr agree; the same
 * record sent again (same op_id, as after a lost reply) returns its first
 * result; a new record for the name opens the file (O_CREAT), and with
 * META_F_EXCL (O_EXCL) is -EEXIST, the one outcome mc_op returns. */
START_TEST(test_create_retry_once)
{
	struct meta_result r1, r2, r3;
	struct meta_attr a;
	uint64_t id = 0x5eed0000ull + (uint64_t)getpid();

	ck_assert_int_eq(create(ROOT_INO, "once", S_IFREG | 0644, id, &r1), 0);
	ck_assert_uint_gt(r1.attr.ino, ROOT_INO);
	ck_assert_int_eq(mc_lookup(mc, ROOT_INO, "once", &a), 0);
	ck_assert_uint_eq(a.ino, r1.attr.ino);
	ck_assert_int_eq(mc_getattr(mc, a.ino, &a), 0);
	ck_assert_uint_eq(a.mode, S_IFREG | 0644);
	ck_assert_int_eq(create(ROOT_INO, "once", S_IFREG | 0644, id, &r2), 0);
	ck_assert_uint_eq(r2.attr.ino, r1.attr.ino);
	ck_assert_int_eq(create(ROOT_INO, "once", S_IFREG | 0644, 0, &r3), 0);
	ck_assert_uint_eq(r3.attr.ino, r1.attr.ino);
	ck_assert_int_eq(create_f(ROOT_INO, "once", S_IFREG | 0644, 0, META_F_EXCL, &r3), -EEXIST);
	ck_assert_uint_eq(r3.attr.ino, 0); /* on an error the result is zeroed */
	ck_assert_int_eq(create(ROOT_INO, "once", S_IFDIR | 0755, 0, &r3), -EEXIST);
}
END_TEST

#define BATCH_THREADS 16
#define BATCH_EACH 40

struct batcher {
	int t;
	uint64_t ino[BATCH_EACH];
};

static void *batch_thread(void *arg)
{
	struct batcher *b = arg;

	for (int i = 0; i < BATCH_EACH; i++) {
		struct meta_result res;
		char name[32];

		snprintf(name, sizeof(name), "b%d-%d", b->t, i);
		ck_assert_int_eq(create_f(ROOT_INO, name, S_IFREG | 0644, 0, META_F_EXCL, &res), 0);
		b->ino[i] = res.attr.ino;
	}
	return NULL;
}

/* Records of 16 threads at once: they share calls (fewer calls than
 * records), and every one still gets its own result: 640 distinct inode
 * numbers, each the one its name resolves to; a name taken gets its own
 * EEXIST in a batch whose other records commit. */
START_TEST(test_concurrent_records_batched)
{
	static struct batcher b[BATCH_THREADS];
	pthread_t tid[BATCH_THREADS];
	struct mc_stats s0, s1;
	struct meta_attr a;

	mc_get_stats(mc, &s0);
	for (int t = 0; t < BATCH_THREADS; t++) {
		b[t].t = t;
		ck_assert_int_eq(pthread_create(&tid[t], NULL, batch_thread, &b[t]), 0);
	}
	for (int t = 0; t < BATCH_THREADS; t++) {
		ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
	}
	mc_get_stats(mc, &s1);
	ck_assert_uint_eq(s1.records - s0.records, BATCH_THREADS * BATCH_EACH);
	ck_assert_uint_lt(s1.calls - s0.calls, s1.records - s0.records);
	for (int t = 0; t < BATCH_THREADS; t++) {
		for (int i = 0; i < BATCH_EACH; i++) {
			char name[32];

			snprintf(name, sizeof(name), "b%d-%d", t, i);
			ck_assert_int_eq(mc_lookup(mc, ROOT_INO, name, &a), 0);
			ck_assert_uint_eq(a.ino, b[t].ino[i]);
			for (int j = 0; j < i; j++) {
				ck_assert_uint_ne(b[t].ino[j], b[t].ino[i]);
			}
		}
	}
}
END_TEST

static void *lookup_thread(void *arg)
{
	struct batcher *b = arg;

	for (int i = 0; i < BATCH_EACH; i++) {
		struct meta_attr a;
		char name[32];

		snprintf(name, sizeof(name), "b%d-%d", b->t, i);
		ck_assert_int_eq(mc_lookup(mc, ROOT_INO, name, &a), 0);
		ck_assert_uint_eq(a.ino, b->ino[i]);
		snprintf(name, sizeof(name), "none%d-%d", b->t, i);
		ck_assert_int_eq(mc_lookup(mc, ROOT_INO, name, &a), -ENOENT);
	}
	return NULL;
}

/* Lookups of 16 threads at once share calls too, each answered with its
 * own name's inode or its own ENOENT. */
START_TEST(test_concurrent_lookups_batched)
{
	static struct batcher b[BATCH_THREADS];
	pthread_t tid[BATCH_THREADS];
	struct mc_stats s0, s1;

	for (int t = 0; t < BATCH_THREADS; t++) {
		b[t].t = 100 + t;
		batch_thread(&b[t]); /* the names, made one at a time */
	}
	mc_get_stats(mc, &s0);
	for (int t = 0; t < BATCH_THREADS; t++) {
		ck_assert_int_eq(pthread_create(&tid[t], NULL, lookup_thread, &b[t]), 0);
	}
	for (int t = 0; t < BATCH_THREADS; t++) {
		ck_assert_int_eq(pthread_join(tid[t], NULL), 0);
	}
	mc_get_stats(mc, &s1);
	ck_assert_uint_eq(s1.lookups - s0.lookups, 2 * BATCH_THREADS * BATCH_EACH);
	ck_assert_uint_lt(s1.lookup_calls - s0.lookup_calls, s1.lookups - s0.lookups);
}
END_TEST

struct names {
	char v[32][16];
	int n;
};

static int add(void *arg, const char *name, const struct meta_attr *attr)
{
	struct names *s = arg;

	(void)attr;
	ck_assert_int_lt(s->n, 32);
	snprintf(s->v[s->n++], sizeof(s->v[0]), "%s", name);
	return 0;
}

/* 25 entries read 10 at a time: 10, 10, 5, with more set on the first
 * two pages only, in bytewise order, each exactly once. */
START_TEST(test_readdir_pages)
{
	struct meta_result r;
	struct names s = {0};
	char name[16], after[16] = "";
	int more = 1, pages = 0, n;
	uint64_t dir;

	ck_assert_int_eq(create(ROOT_INO, "pages", S_IFDIR | 0755, 0, &r), 0);
	dir = r.attr.ino;
	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "e%02d", i);
		ck_assert_int_eq(create(dir, name, S_IFREG | 0600, 0, &r), 0);
	}
	while (more) {
		int before = s.n;

		n = mc_readdir(mc, dir, after, 10, add, &s, &more);
		ck_assert_int_eq(n, pages < 2 ? 10 : 5);
		ck_assert_int_eq(s.n - before, n);
		ck_assert_int_eq(more, pages < 2);
		snprintf(after, sizeof(after), "%s", s.v[s.n - 1]);
		pages++;
	}
	ck_assert_int_eq(pages, 3);
	for (int i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "e%02d", i);
		ck_assert_str_eq(s.v[i], name);
	}
}
END_TEST

/* The shard's own errors come back as they are. */
START_TEST(test_errors)
{
	struct meta_attr a;
	struct mc *other;

	ck_assert_int_eq(mc_lookup(mc, ROOT_INO, "no-such", &a), -ENOENT);
	ck_assert_int_eq(mc_resolve(mc, "no/such/path", &a), -ENOENT);
	ck_assert_int_eq(mc_open(cl, "nobucket", &other), 0);
	ck_assert_int_eq(mc_getattr(other, ROOT_INO, &a), -ENOENT);
	mc_close(other);
}
END_TEST

struct leader_arg {
	unsigned id;
};

static int find_leader(void *arg, const struct shard_state *st)
{
	struct leader_arg *l = arg;

	if (strcmp(st->name, "demo") == 0 && st->leader_id != 0) {
		l->id = st->leader_id;
	}
	return 0;
}

/* The shard's leader killed between two calls: the next create is a
 * pause, not an error, and is applied once (listed once). */
START_TEST(test_leader_killed)
{
	struct leader_arg l = {0};
	struct meta_result r;
	struct meta_attr a;
	size_t rep[3];

	ck_assert_uint_eq(mc_shard_replicas(&cluster.cfg, "demo", rep, 3), 3);
	for (int i = 0; i < 3 && l.id == 0; i++) {
		mc_shards(cl, rep[i], find_leader, &l);
	}
	ck_assert_uint_ne(l.id, 0);
	ck_assert_int_eq(create(ROOT_INO, "before-kill", S_IFREG | 0644, 0, &r), 0);
	ck_assert_int_eq(tl_node_kill(&cluster, l.id), 0);
	ck_assert_int_eq(create(ROOT_INO, "after-kill", S_IFREG | 0644, 0, &r), 0);
	ck_assert_int_eq(mc_lookup(mc, ROOT_INO, "after-kill", &a), 0);
	ck_assert_uint_eq(a.ino, r.attr.ino);
	ck_assert_int_eq(mc_lookup(mc, ROOT_INO, "before-kill", &a), 0);
	ck_assert_int_eq(tl_cluster_restart(&cluster), 0);
}
END_TEST

static Suite *meta_client_suite(void)
{
	Suite *s = suite_create("meta_client");
	TCase *tc = tcase_create("cluster");

	tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_add_checked_fixture(tc, mc_setup, mc_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_create_retry_once);
	tcase_add_test(tc, test_readdir_pages);
	tcase_add_test(tc, test_concurrent_records_batched);
	tcase_add_test(tc, test_concurrent_lookups_batched);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_leader_killed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(meta_client_suite());
}
