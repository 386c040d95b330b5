/* test_meta_service.c: the metadata service of objfs-node
 * (nodes/meta_handlers.c, meta_service.c, shard_reg.c) through raw
 * requests to each node of a real 3-node dev cluster: 200 changes sent at
 * once to the leader all commit, each once, with distinct inode numbers
 * (replies are deferred to the commit, so none waits for another); a
 * follower refuses with -EREMOTE naming the leader, answers a query marked
 * stale-ok from its own state, but never a change and never "not found";
 * a stale replica behind the client's seen index refuses, and replies
 * carry the applied index (FRAME_F_INDEX); records batched in one
 * META_OPS get their own results and refusals; malformed and unknown
 * requests and buckets that are not here get their exact errors. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../common/client.h"
#include "../../common/err.h"
#include "../../proto/frame.h"
#include "../../proto/meta.h"
#include "../lib/cluster.h"
#include "../lib/testlib.h"

#define ROOT_INO 1
#define MANY 200

static struct tl_cluster cluster;
static struct cl *cl;

static void cluster_setup(void)
{
	ck_assert_int_eq(tl_cluster_up(&cluster, 3), 0);
}

static void cluster_teardown(void)
{
	tl_cluster_down(&cluster);
}

static void cl_setup(void)
{
	log_set_sink(tl_quiet_sink, NULL);
	ck_assert_int_eq(cl_open(&cluster.cfg, &cl), 0);
	ck_assert_uint_eq(cl_wait_connected(cl, 10000), 3);
}

static void cl_teardown(void)
{
	cl_close(cl);
	log_set_sink(NULL, NULL);
}

/* A LOOKUP body of bucket demo. */
static void lookup_body(struct wr *w, const char *bucket, const char *name)
{
	wr_init(w, 0);
	wr_str(w, bucket);
	wr_u64(w, ROOT_INO);
	wr_str(w, name);
}

/* One request to node index i; the caller releases r. */
static void send1(struct cl_req *r, size_t i, uint8_t type, uint16_t flags, const struct wr *w)
{
	memset(r, 0, sizeof(*r));
	r->node = i;
	r->type = type;
	r->flags = flags;
	r->once = 1;
	r->body = w->buf;
	r->body_len = w->len;
	cl_run(cl, r, 1, 5000);
}

/* The index of demo's ready leader (asks node 0, follows its hint). */
static size_t leader(void)
{
	int64_t until = tl_mono_ms() + 15000;
	struct cl_req r;
	struct wr w;
	size_t i = 0;

	lookup_body(&w, "demo", "none");
	while (tl_mono_ms() < until) {
		send1(&r, i, MSG_META_LOOKUP, 0, &w);
		if (r.status == -ENOENT) {
			cl_req_release(&r);
			wr_free(&w);
			return i; /* answered: i leads */
		}
		if (r.status == -EREMOTE && r.hint != 0) {
			const struct cfg_node *cn = cfg_node_by_id(&cluster.cfg, r.hint);

			ck_assert_ptr_nonnull(cn);
			i = (size_t)(cn - cluster.cfg.nodes);
		} else {
			i = (i + 1) % 3;
		}
		cl_req_release(&r);
	}
	wr_free(&w);
	ck_abort_msg("no leader of demo within 15 s");
	return 0;
}

static void create_body(struct wr *w, const char *name, uint64_t op_id)
{
	struct meta_op op;

	memset(&op, 0, sizeof(op));
	op.type = MOP_CREATE;
	op.op_id = op_id;
	op.parent = ROOT_INO;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.mode = S_IFREG | 0644;
	wr_init(w, 0);
	wr_str(w, "demo");
	meta_put_op(w, &op);
}

/* MANY creates in flight at once on the leader: every one commits once,
 * with its own inode number, and every name then resolves to it. */
START_TEST(test_many_in_flight)
{
	size_t l = leader();
	struct cl_req *r = calloc(MANY, sizeof(*r));
	struct wr *w = calloc(MANY, sizeof(*w));
	uint64_t ino[MANY];

	for (int i = 0; i < MANY; i++) {
		char name[32];

		snprintf(name, sizeof(name), "many-%d", i);
		create_body(&w[i], name, 0x6d616e79000000ull + (uint64_t)i);
		r[i].node = l;
		r[i].type = MSG_META_OP;
		r[i].once = 1;
		r[i].body = w[i].buf;
		r[i].body_len = w[i].len;
	}
	ck_assert_int_eq(cl_run(cl, r, MANY, 20000), MANY);
	for (int i = 0; i < MANY; i++) {
		struct meta_result res;
		struct rd rd;

		rd_init(&rd, r[i].reply, r[i].reply_len);
		meta_get_result(&rd, &res);
		ck_assert(rd_done(&rd));
		ck_assert_int_eq(res.status, 0);
		ino[i] = res.attr.ino;
		for (int j = 0; j < i; j++) {
			ck_assert_uint_ne(ino[j], ino[i]);
		}
		cl_req_release(&r[i]);
		wr_free(&w[i]);
	}
	for (int i = 0; i < MANY; i++) {
		char name[32];
		struct meta_attr a;
		struct cl_req q;
		struct wr lw;
		struct rd rd;

		snprintf(name, sizeof(name), "many-%d", i);
		lookup_body(&lw, "demo", name);
		send1(&q, l, MSG_META_LOOKUP, 0, &lw);
		ck_assert_int_eq(q.status, 0);
		rd_init(&rd, q.reply, q.reply_len);
		meta_get_attr(&rd, &a);
		ck_assert_uint_eq(a.ino, ino[i]);
		cl_req_release(&q);
		wr_free(&lw);
	}
	free(r);
	free(w);
}
END_TEST

/* A META_OPS body: bucket demo, then n records as given. */
static void ops_body(struct wr *w, const struct meta_op *ops, uint32_t n)
{
	wr_init(w, 0);
	wr_str(w, "demo");
	wr_u32(w, n);
	for (uint32_t i = 0; i < n; i++) {
		meta_put_op(w, &ops[i]);
	}
}

static struct meta_op create_op(const char *name, uint64_t op_id)
{
	struct meta_op op;

	memset(&op, 0, sizeof(op));
	op.type = MOP_CREATE;
	op.flags = META_F_EXCL;
	op.op_id = op_id;
	op.parent = ROOT_INO;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.mode = S_IFREG | 0644;
	return op;
}

/* The n results of a META_OPS reply, in order. */
static void ops_results(const struct cl_req *r, struct meta_result *res, uint32_t n)
{
	struct rd rd;

	ck_assert_int_eq(r->status, 0);
	rd_init(&rd, r->reply, r->reply_len);
	ck_assert_uint_eq(rd_u32(&rd), n);
	for (uint32_t i = 0; i < n; i++) {
		meta_get_result(&rd, &res[i]);
	}
	ck_assert(rd_done(&rd));
}

/* META_OPS: records of one request each get their own result, in order
 * (a name taken gives its EEXIST, the others commit, each with the
 * directory's ctime before it, rising); sent again whole, the same op ids
 * answer the same results and apply nothing twice.  A record that may
 * not travel in a batch, a count of 0 or past META_OPS_MAX, a truncated
 * record: refused whole, with nothing applied. */
START_TEST(test_ops_batch)
{
	size_t l = leader();
	struct meta_op ops[3] = {create_op("batch-a", 0x62617461ull),
				 create_op("batch-b", 0x62617462ull),
				 create_op("batch-a", 0x62617463ull)};
	struct meta_result res[3], again[3];
	struct meta_op bad[2] = {create_op("batch-c", 0x62617464ull), {.type = MOP_BUCKET_CREATE}};
	struct cl_req r;
	struct wr w;

	ops_body(&w, ops, 3);
	send1(&r, l, MSG_META_OPS, 0, &w);
	ops_results(&r, res, 3);
	cl_req_release(&r);
	ck_assert_int_eq(res[0].status, 0);
	ck_assert_int_eq(res[1].status, 0);
	ck_assert_int_eq(res[2].status, -EEXIST);
	ck_assert_uint_ne(res[0].attr.ino, res[1].attr.ino);
	ck_assert_int_gt(res[0].dir_ctime_was, 0);
	ck_assert_int_eq(res[1].dir_ctime_was, res[0].attr.ctime_ns);
	send1(&r, l, MSG_META_OPS, 0, &w); /* a client's retry */
	ops_results(&r, again, 3);
	cl_req_release(&r);
	wr_free(&w);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(again[i].status, res[i].status);
		ck_assert_uint_eq(again[i].attr.ino, res[i].attr.ino);
	}

	ops_body(&w, bad, 2);
	send1(&r, l, MSG_META_OPS, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	ck_assert_str_eq(r.err, "a record of type 11 cannot travel in meta_ops");
	cl_req_release(&r);
	wr_free(&w);
	ops_body(&w, bad, 1);
	w.len -= 3;
	send1(&r, l, MSG_META_OPS, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	cl_req_release(&r);
	wr_free(&w);
	ops_body(&w, bad, 0);
	send1(&r, l, MSG_META_OPS, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	cl_req_release(&r);
	wr_free(&w);
	wr_init(&w, 0);
	wr_str(&w, "demo");
	wr_u32(&w, META_OPS_MAX + 1);
	send1(&r, l, MSG_META_OPS, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	cl_req_release(&r);
	wr_free(&w);
	/* None of the refused requests made batch-c. */
	lookup_body(&w, "demo", "batch-c");
	send1(&r, l, MSG_META_LOOKUP, 0, &w);
	ck_assert_int_eq(r.status, -ENOENT);
	cl_req_release(&r);
	wr_free(&w);
}
END_TEST

/* A META_LOOKUPS body of bucket demo: (parent, name) pairs. */
static void lookups_body(struct wr *w, const uint64_t *parent, const char *const *name, uint32_t n)
{
	wr_init(w, 0);
	wr_str(w, "demo");
	wr_u32(w, n);
	for (uint32_t i = 0; i < n; i++) {
		wr_u64(w, parent[i]);
		wr_str(w, name[i]);
	}
}

/* META_LOOKUPS: each lookup its own status and attributes, in order; "."
 * or "..", a count of 0 or past META_LOOKUPS_MAX, trailing bytes: refused
 * whole.  A follower asked stale-ok answers the names it holds and says
 * -OBJ_EMAJORITY, never -ENOENT, for the others. */
START_TEST(test_lookups_batch)
{
	size_t l = leader(), f = (l + 1) % 3;
	const uint64_t parent[] = {ROOT_INO, ROOT_INO, 999999, ROOT_INO};
	const char *const name[] = {"look-a", "look-missing", "x", "look-a"};
	const char *const dots[] = {"look-a", ".."};
	struct meta_result res;
	struct meta_attr a;
	struct cl_req r;
	struct wr w;
	struct rd rd;
	uint64_t ino;
	int64_t until;

	create_body(&w, "look-a", 0x6c6f6f6b61ull);
	send1(&r, l, MSG_META_OP, 0, &w);
	ck_assert_int_eq(r.status, 0);
	rd_init(&rd, r.reply, r.reply_len);
	meta_get_result(&rd, &res);
	ino = res.attr.ino;
	cl_req_release(&r);
	wr_free(&w);

	lookups_body(&w, parent, name, 4);
	send1(&r, l, MSG_META_LOOKUPS, 0, &w);
	ck_assert_int_eq(r.status, 0);
	rd_init(&rd, r.reply, r.reply_len);
	ck_assert_uint_eq(rd_u32(&rd), 4);
	ck_assert_int_eq((int32_t)rd_u32(&rd), 0);
	meta_get_attr(&rd, &a);
	ck_assert_uint_eq(a.ino, ino);
	ck_assert_int_eq((int32_t)rd_u32(&rd), -ENOENT);
	ck_assert_int_eq((int32_t)rd_u32(&rd), -ENOENT); /* no such directory */
	ck_assert_int_eq((int32_t)rd_u32(&rd), 0);
	meta_get_attr(&rd, &a);
	ck_assert_uint_eq(a.ino, ino);
	ck_assert(rd_done(&rd));
	cl_req_release(&r);

	/* The follower, stale-ok, once it applied the create. */
	until = tl_mono_ms() + 10000;
	for (;;) {
		int32_t st0;

		send1(&r, f, MSG_META_LOOKUPS, FRAME_F_STALE_OK, &w);
		ck_assert_int_eq(r.status, 0);
		rd_init(&rd, r.reply, r.reply_len);
		ck_assert_uint_eq(rd_u32(&rd), 4);
		st0 = (int32_t)rd_u32(&rd);
		if (st0 == 0) {
			meta_get_attr(&rd, &a);
			ck_assert_uint_eq(a.ino, ino);
			ck_assert_int_eq((int32_t)rd_u32(&rd), -OBJ_EMAJORITY);
			cl_req_release(&r);
			break;
		}
		ck_assert_int_eq(st0, -OBJ_EMAJORITY);
		cl_req_release(&r);
		ck_assert_int_lt(tl_mono_ms(), until);
	}
	wr_free(&w);

	lookups_body(&w, parent, dots, 2);
	send1(&r, l, MSG_META_LOOKUPS, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	cl_req_release(&r);
	wr_free(&w);
	lookups_body(&w, parent, name, 0);
	send1(&r, l, MSG_META_LOOKUPS, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	cl_req_release(&r);
	wr_free(&w);
	lookups_body(&w, parent, name, 1);
	wr_u8(&w, 0);
	send1(&r, l, MSG_META_LOOKUPS, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	cl_req_release(&r);
	wr_free(&w);
	wr_init(&w, 0);
	wr_str(&w, "demo");
	wr_u32(&w, META_LOOKUPS_MAX + 1);
	send1(&r, l, MSG_META_LOOKUPS, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	cl_req_release(&r);
	wr_free(&w);
}
END_TEST

/* A follower names the leader; with FRAME_F_STALE_OK it answers a query
 * from its own state, but a change never. */
START_TEST(test_follower)
{
	size_t l = leader(), f = (l + 1) % 3;
	struct cl_req r;
	struct wr w;
	int64_t until;

	create_body(&w, "seen-by-all", 0x666f6c6c6f77ull);
	send1(&r, l, MSG_META_OP, 0, &w);
	ck_assert_int_eq(r.status, 0);
	cl_req_release(&r);
	/* The change, sent to the follower, even marked stale-ok. */
	send1(&r, f, MSG_META_OP, FRAME_F_STALE_OK, &w);
	ck_assert_int_eq(r.status, -EREMOTE);
	ck_assert_uint_eq(r.hint, cluster.cfg.nodes[l].id);
	cl_req_release(&r);
	wr_free(&w);

	lookup_body(&w, "demo", "seen-by-all");
	send1(&r, f, MSG_META_LOOKUP, 0, &w);
	ck_assert_int_eq(r.status, -EREMOTE);
	ck_assert_uint_eq(r.hint, cluster.cfg.nodes[l].id);
	ck_assert_str_eq(r.err, "not the leader of shard 'demo'");
	cl_req_release(&r);
	/* Stale-ok: the follower answers once it applied the create;
	 * before, it cannot prove the name absent, and says so. */
	until = tl_mono_ms() + 10000;
	do {
		send1(&r, f, MSG_META_LOOKUP, FRAME_F_STALE_OK, &w);
		if (r.status == 0) {
			break;
		}
		ck_assert_int_eq(r.status, -OBJ_EMAJORITY);
		cl_req_release(&r);
	} while (tl_mono_ms() < until);
	ck_assert_int_eq(r.status, 0);
	cl_req_release(&r);
	wr_free(&w);

	/* A name that exists nowhere: the leader says ENOENT, a replica
	 * without a majority never does. */
	lookup_body(&w, "demo", "never-created");
	send1(&r, l, MSG_META_LOOKUP, 0, &w);
	ck_assert_int_eq(r.status, -ENOENT);
	cl_req_release(&r);
	send1(&r, f, MSG_META_LOOKUP, FRAME_F_STALE_OK, &w);
	ck_assert_int_eq(r.status, -OBJ_EMAJORITY);
	ck_assert_str_eq(r.err, "metadata majority unavailable: a replica of shard 'demo' alone "
				"cannot prove a name absent");
	cl_req_release(&r);
	wr_free(&w);
}
END_TEST

/* A lookup body with the client's seen index appended (FRAME_F_INDEX). */
static void indexed_lookup(struct wr *w, const char *name, uint64_t seen)
{
	lookup_body(w, "demo", name);
	wr_u64(w, seen);
}

/* The applied index that ends a FRAME_F_INDEX reply. */
static uint64_t reply_index(const struct cl_req *r)
{
	struct rd rd;

	ck_assert_uint_ge(r->reply_len, 8);
	rd_init(&rd, r->reply + r->reply_len - 8, 8);
	return rd_u64(&rd);
}

/* Replies to FRAME_F_INDEX requests end with the replica's applied index
 * (a change's at or after its entry); a stale replica applied below the
 * client's index refuses with the exact error, the leader never does. */
START_TEST(test_seen_index)
{
	size_t l = leader(), f = (l + 1) % 3;
	struct cl_req r;
	struct wr w;
	uint64_t idx, got = 0;
	int64_t until;

	create_body(&w, "indexed", 0x696e646578ull);
	send1(&r, l, MSG_META_OP, FRAME_F_INDEX, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO); /* no index at the end */
	cl_req_release(&r);
	wr_u64(&w, 0);
	send1(&r, l, MSG_META_OP, FRAME_F_INDEX, &w);
	ck_assert_int_eq(r.status, 0);
	idx = reply_index(&r);
	ck_assert_uint_gt(idx, 0);
	cl_req_release(&r);
	wr_free(&w);

	/* The leader answers whatever the client claims to have seen. */
	indexed_lookup(&w, "indexed", idx + 1000);
	send1(&r, l, MSG_META_LOOKUP, FRAME_F_INDEX, &w);
	ck_assert_int_eq(r.status, 0);
	ck_assert_uint_ge(reply_index(&r), idx);
	cl_req_release(&r);
	/* A stale replica does not, when behind the client. */
	send1(&r, f, MSG_META_LOOKUP, FRAME_F_INDEX | FRAME_F_STALE_OK, &w);
	ck_assert_int_eq(r.status, -OBJ_EMAJORITY);
	cl_req_release(&r);
	wr_free(&w);
	/* Once it applied the create, it serves it, with its index. */
	indexed_lookup(&w, "indexed", idx);
	until = tl_mono_ms() + 10000;
	do {
		send1(&r, f, MSG_META_LOOKUP, FRAME_F_INDEX | FRAME_F_STALE_OK, &w);
		if (r.status == 0) {
			got = reply_index(&r);
			cl_req_release(&r);
			break;
		}
		ck_assert_int_eq(r.status, -OBJ_EMAJORITY);
		ck_assert_ptr_nonnull(strstr(r.err, "older than index"));
		cl_req_release(&r);
	} while (tl_mono_ms() < until);
	ck_assert_uint_ge(got, idx);
	wr_free(&w);
}
END_TEST

/* Exact errors: an unknown bucket, a truncated change, a query with
 * trailing bytes, an unknown message type. */
START_TEST(test_bad_requests)
{
	size_t l = leader();
	struct cl_req r;
	char want[64];
	struct wr w;

	lookup_body(&w, "nosuch", "x");
	send1(&r, l, MSG_META_LOOKUP, 0, &w);
	ck_assert_int_eq(r.status, -ENXIO);
	ck_assert_str_eq(r.err, "no replica of bucket 'nosuch' here");
	cl_req_release(&r);
	wr_free(&w);

	create_body(&w, "short", 0x73686f7274ull);
	w.len -= 3;
	send1(&r, l, MSG_META_OP, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	cl_req_release(&r);
	wr_free(&w);

	lookup_body(&w, "demo", "x");
	wr_u8(&w, 0);
	send1(&r, l, MSG_META_LOOKUP, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	cl_req_release(&r);

	send1(&r, l, MSG_META_MEMBER + 1, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	ck_assert_str_eq(r.err, "unknown message type 35");
	cl_req_release(&r);

	send1(&r, l, MSG_META_MAX, 0, &w);
	ck_assert_int_eq(r.status, -OBJ_EPROTO);
	snprintf(want, sizeof(want), "unknown message type %d", MSG_META_MAX);
	ck_assert_str_eq(r.err, want);
	cl_req_release(&r);
	wr_free(&w);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("meta_service");
	TCase *tc = tcase_create("cluster");

	tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_add_checked_fixture(tc, cl_setup, cl_teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_many_in_flight);
	tcase_add_test(tc, test_ops_batch);
	tcase_add_test(tc, test_lookups_batch);
	tcase_add_test(tc, test_follower);
	tcase_add_test(tc, test_seen_index);
	tcase_add_test(tc, test_bad_requests);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
