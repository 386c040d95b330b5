/* test_client.c: the client side of the node protocol (common/client.c)
 * against a real 6-node dev cluster: parallel exchanges with every node,
 * a fragment round trip, the node's own errors passed through, and a
 * killed node failing at once with -EHOSTDOWN, then redialled after its
 * restart.  The cluster starts once per test case, in Check's runner
 * (no nng there); each test opens its own client in its child. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/checksum.h"
#include "../../common/client.h"
#include "../../common/err.h"
#include "../../proto/msg.h"
#include "../../proto/wire.h"
#include "../lib/cluster.h"
#include "../lib/testlib.h"

/* Generous for a loaded 2-core machine or a sanitizer build. */
#define CONNECT_MS 10000

/* client.c's CL_CONNECT_GRACE_MS: right after cl_open a request to a node
 * not yet connected waits this long for the first dial. */
#define GRACE_MS 1500

static struct tl_cluster cluster;
static struct cl *cl;
static int64_t opened_ms;

static void cluster_setup(void)
{
	ck_assert_int_eq(tl_cluster_up(&cluster, 6), 0);
}

static void cluster_teardown(void)
{
	tl_cluster_down(&cluster);
}

static void client_setup(void)
{
	log_set_sink(tl_quiet_sink, NULL);
	ck_assert_int_eq(cl_open(&cluster.cfg, &cl), 0);
	opened_ms = tl_mono_ms();
	ck_assert_uint_eq(cl_wait_connected(cl, CONNECT_MS), 6);
}

static void client_teardown(void)
{
	cl_close(cl);
	cl = NULL;
	log_set_sink(NULL, NULL);
}

/* A PING to each of the six nodes in one cl_run: six successes, each
 * reply from the node it was sent to. */
START_TEST(test_ping_all_parallel)
{
	struct cl_req r[6];

	memset(r, 0, sizeof(r));
	for (size_t i = 0; i < 6; i++) {
		r[i].node = i;
		r[i].type = MSG_PING;
	}
	ck_assert_int_eq(cl_run(cl, r, 6, 0), 6);
	for (size_t i = 0; i < 6; i++) {
		struct node_status st;
		struct rd rd;

		ck_assert_int_eq(r[i].status, 0);
		rd_init(&rd, r[i].reply, r[i].reply_len);
		msg_get_node_status(&rd, &st);
		ck_assert(rd_done(&rd));
		ck_assert_uint_eq(st.node_id, cluster.cfg.nodes[i].id);
		cl_req_release(&r[i]);
	}
}
END_TEST

/* A fragment stored on one node reads back from it byte for byte; the
 * same ref on another node is that node's -ENOENT, with its text. */
START_TEST(test_frag_round_trip_and_node_error)
{
	uint8_t data[1024], *stored;
	struct cl_req put = {.node = 2, .type = MSG_FRAG_PUT};
	struct cl_req get = {.node = 2, .type = MSG_FRAG_GET};
	struct cl_req miss = {.node = 3, .type = MSG_FRAG_GET};
	struct frag_hdr h = {.k = 4, .m = 2, .block_len = 4096, .frag_len = sizeof(data)}, got;
	struct wr w, wr;
	struct rd rd;

	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t)(i * 7 + 1);
	}
	memset(h.ref.block_id, 0xc1, BLOCK_ID_LEN);
	h.ref.index = 2;
	h.csum = csum64(data, sizeof(data));
	wr_init(&w, 0);
	msg_put_frag_hdr(&w, &h);
	put.body = w.buf;
	put.body_len = wr_len(&w);
	put.data = data;
	put.data_len = sizeof(data);
	ck_assert_int_eq(cl_run(cl, &put, 1, 0), 1);
	cl_req_release(&put);
	wr_free(&w);

	wr_init(&wr, 0);
	msg_put_frag_ref(&wr, &h.ref);
	get.body = miss.body = wr.buf;
	get.body_len = miss.body_len = wr_len(&wr);
	ck_assert_int_eq(cl_run(cl, &get, 1, 0), 1);
	rd_init(&rd, get.reply, get.reply_len);
	msg_get_frag_hdr(&rd, &got);
	stored = (uint8_t *)rd_ptr(&rd, got.frag_len);
	ck_assert(rd_done(&rd));
	ck_assert_uint_eq(got.frag_len, sizeof(data));
	ck_assert_mem_eq(stored, data, sizeof(data));
	cl_req_release(&get);

	ck_assert_int_eq(cl_run(cl, &miss, 1, 0), 0);
	ck_assert_int_eq(miss.status, -ENOENT);
	ck_assert_str_ne(miss.err, "");
	cl_req_release(&miss);
	wr_free(&wr);
}
END_TEST

struct down_arg {
	struct cl *cl;
	size_t node;
	int want_up;
};

static int node_state_is(void *p)
{
	struct down_arg *a = p;

	return (cl_node_up(a->cl, a->node) != 0) == a->want_up;
}

/* A killed node: the client notices, a request to it fails at once with
 * -EHOSTDOWN while the others still answer, and after the restart the
 * client has redialled and the node answers again. */
START_TEST(test_dead_node_fails_fast_then_redials)
{
	struct down_arg a = {.cl = cl, .node = 4, .want_up = 0};
	struct cl_req r[2];
	int64_t t0;

	ck_assert_int_eq(tl_node_kill(&cluster, cluster.cfg.nodes[4].id), 0);
	ck_assert_msg(tl_wait_until(node_state_is, &a, 10000), "client still sees node 5 up");
	/* Past the documented start-up grace, "at once" is what is promised. */
	while (tl_mono_ms() - opened_ms < GRACE_MS + 100) {
		usleep(10000);
	}
	memset(r, 0, sizeof(r));
	r[0].node = 4;
	r[0].type = MSG_PING;
	r[1].node = 1;
	r[1].type = MSG_PING;
	t0 = tl_mono_ms();
	ck_assert_int_eq(cl_run(cl, r, 2, 0), 1);
	ck_assert_int_lt(tl_mono_ms() - t0, 500);
	ck_assert_int_eq(r[0].status, -EHOSTDOWN);
	ck_assert_int_eq(r[1].status, 0);
	cl_req_release(&r[0]);
	cl_req_release(&r[1]);

	/* A client opened while the node is dead finds its port refused and
	 * gives it no grace. */
	{
		struct cl *fresh;

		ck_assert_int_eq(cl_open(&cluster.cfg, &fresh), 0);
		memset(r, 0, sizeof(r));
		r[0].node = 4;
		r[0].type = MSG_PING;
		t0 = tl_mono_ms();
		ck_assert_int_eq(cl_run(fresh, r, 1, 0), 0);
		ck_assert_int_lt(tl_mono_ms() - t0, 500);
		ck_assert_int_eq(r[0].status, -EHOSTDOWN);
		cl_req_release(&r[0]);
		cl_close(fresh);
	}

	ck_assert_int_eq(tl_cluster_restart(&cluster), 0);
	a.want_up = 1;
	ck_assert_msg(tl_wait_until(node_state_is, &a, 10000), "client did not redial node 5");
	memset(r, 0, sizeof(r));
	r[0].node = 4;
	r[0].type = MSG_PING;
	ck_assert_int_eq(cl_run(cl, r, 1, 0), 1);
	cl_req_release(&r[0]);
}
END_TEST

static Suite *client_suite(void)
{
	Suite *s = suite_create("client");
	TCase *tc = tcase_create("cluster");

	tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_add_checked_fixture(tc, client_setup, client_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ping_all_parallel);
	tcase_add_test(tc, test_frag_round_trip_and_node_error);
	tcase_add_test(tc, test_dead_node_fails_fast_then_redials);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(client_suite());
}
