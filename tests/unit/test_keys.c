/* test_keys.c: client keys (proto/keys.c, common/keyfile.c, the dispatch
 * check of objfs-node).  Pure: what each capability allows for every kind
 * of request; key files parsed, refused with the line and reason (never
 * the secret) and written back.  On a real 3-node cluster: a ro key may
 * ping and read but a fragment put is refused with EACCES and the key's
 * name; a replayed frame sealed with a client key, a wrong secret and an
 * unknown key id are each refused and counted; an admin key may not read
 * the key secrets that only nodes get. */
#include <check.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/client.h"
#include "../../common/err.h"
#include "../../common/keyfile.h"
#include "../../common/rand.h"
#include "../../proto/frame.h"
#include "../../proto/keys.h"
#include "../../proto/meta.h"
#include "../lib/cluster.h"
#include "../lib/testlib.h"

/* ---- pure ---- */

static struct key_ent mk(uint32_t caps, const char *bucket)
{
	struct key_ent k = {.id = 5, .caps = caps};

	snprintf(k.name, sizeof(k.name), "k");
	snprintf(k.bucket, sizeof(k.bucket), "%s", bucket);
	return k;
}

/* Every capability against every need, on its own bucket, another one,
 * the catalog ("") and no bucket (fragments). */
START_TEST(test_allows_matrix)
{
	struct key_ent ro = mk(KEY_CAP_RO, "b"), rw = mk(KEY_CAP_RW, "b"),
		       ad = mk(KEY_CAP_ADMIN, ""), node = mk(KEY_CAP_NODE, "");
	static const char *const buckets[] = {"b", "other", "", NULL};
	/* [need][bucket]: 0 allowed, 1 refused (EACCES) */
	static const int ro_want[5][4] = {
	    {0, 0, 0, 0}, {0, 1, 0, 0}, {1, 1, 1, 1}, {1, 1, 1, 1}, {1, 1, 1, 1}};
	static const int rw_want[5][4] = {
	    {0, 0, 0, 0}, {0, 1, 0, 0}, {0, 1, 1, 0}, {1, 1, 1, 1}, {1, 1, 1, 1}};

	for (int need = KEY_NEED_ANY; need <= KEY_NEED_NODE; need++) {
		for (int b = 0; b < 4; b++) {
			ck_assert_int_eq(key_allows(&ro, need, buckets[b]),
					 ro_want[need][b] ? -EACCES : 0);
			ck_assert_int_eq(key_allows(&rw, need, buckets[b]),
					 rw_want[need][b] ? -EACCES : 0);
			ck_assert_int_eq(key_allows(&ad, need, buckets[b]),
					 need == KEY_NEED_NODE ? -EACCES : 0);
			ck_assert_int_eq(key_allows(&node, need, buckets[b]), 0);
		}
	}
}
END_TEST

#define GOOD                                                                                       \
	"# a key\n"                                                                                \
	"name = alice\n"                                                                           \
	"id = 00000000000000ff\n"                                                                  \
	"caps = ro:photos\n"                                                                       \
	"secret = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"

/* A key file reads back what key_file_format wrote; the documented fields
 * land where they belong. */
START_TEST(test_file_roundtrip)
{
	struct key_ent k, k2;
	char err[256], text[512];
	int n;

	ck_assert_int_eq(key_file_parse(GOOD, strlen(GOOD), "f", &k, err, sizeof(err)), 0);
	ck_assert_str_eq(k.name, "alice");
	ck_assert_uint_eq(k.id, 0xff);
	ck_assert_uint_eq(k.caps, KEY_CAP_RO);
	ck_assert_str_eq(k.bucket, "photos");
	ck_assert_uint_eq(k.secret[31], 0x1f);
	n = key_file_format(&k, text, sizeof(text));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(key_file_parse(text, (size_t)n, "f", &k2, err, sizeof(err)), 0);
	ck_assert_mem_eq(&k, &k2, sizeof(k));
	ck_assert_int_eq(key_file_format(&k, text, 40), -ENOSPC);
}
END_TEST

/* Bad files are refused with the file, line and reason, and the secret
 * never appears in the message. */
START_TEST(test_file_refusals)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"name = alice\n", "f: no 'id' line: not an objfs key file"},
	    {"name = al ice\nid = 1\n", "f:1: invalid key name"},
	    {"name = a\nid = 12\n", "f:2: id must be 16 hex digits"},
	    {"name = a\nid = 0000000000000000\n", "f:2: id 0 is reserved"},
	    {"name = a\ncaps = rx:b\n", "f:2: caps must be admin, rw:BUCKET or ro:BUCKET"},
	    {"name = a\ncaps = ro:Bad_Bucket\n", "f:2: caps must be"},
	    {"secret = 00zz\n", "f:1: secret must be 64 hex digits"},
	    {"name = a\nname = b\n", "f:2: repeated key 'name'"},
	    {"colour = blue\n", "f:1: unknown key 'colour'"},
	    {"just words\n", "f:1: expected NAME = VALUE"},
	    {"", "f: no 'name' line"},
	};
	struct key_ent k;
	char err[256];

	for (size_t i = 0; i < OBJ_ARRAY_LEN(cases); i++) {
		err[0] = '\0';
		ck_assert_int_eq(
		    key_file_parse(cases[i].text, strlen(cases[i].text), "f", &k, err, sizeof(err)),
		    -EINVAL);
		ck_assert_msg(strstr(err, cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i,
			      err, cases[i].want);
	}
	{
		char bad[sizeof(GOOD) + 8];

		snprintf(bad, sizeof(bad), "%s", GOOD);
		bad[strlen(bad) - 2] = 'g'; /* one non-hex digit in the secret */
		ck_assert_int_eq(key_file_parse(bad, strlen(bad), "f", &k, err, sizeof(err)),
				 -EINVAL);
		ck_assert_ptr_null(strstr(err, "0102030405"));
	}
}
END_TEST

/* ---- on a real cluster ---- */

#define RAW_TIMEOUT_MS 5000

static struct tl_cluster cluster;
static struct key_ent admin, ro;

/* Runs no nng code (Check forks the tests after it): the ro key is made
 * by objfsctl, which returns once every node knows it. */
static void cluster_setup(void)
{
	static char path[PATH_MAX + 64], cmd[16384], err[256];
	int n;

	ck_assert_int_eq(tl_cluster_up(&cluster, 3), 0);
	snprintf(path, sizeof(path), "%s/cluster/admin.key", cluster.dir);
	ck_assert_msg(key_file_load(path, &admin, err, sizeof(err)) == 0, "%s", err);
	snprintf(path, sizeof(path), "%s/reader.key", cluster.dir);
	n = snprintf(
	    cmd, sizeof(cmd),
	    "timeout 60 '%s' -c '%s' -k '%s/cluster/admin.key' key create reader --bucket demo "
	    "--ro > '%s'",
	    cluster.ctl, cluster.conf, cluster.dir, path);
	ck_assert(n > 0 && (size_t)n < sizeof(cmd));
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_msg(key_file_load(path, &ro, err, sizeof(err)) == 0, "%s", err);
}

static void cluster_teardown(void)
{
	tl_cluster_down(&cluster);
}

static nng_socket raw_open(size_t node)
{
	nng_socket s;

	ck_assert_int_eq(nng_req0_open(&s), 0);
	ck_assert_int_eq(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, RAW_TIMEOUT_MS), 0);
	ck_assert_int_eq(nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, RAW_TIMEOUT_MS), 0);
	ck_assert_int_eq(nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, frame_size(FRAME_MAX_BODY)), 0);
	ck_assert_int_eq(nng_dial(s, cluster.cfg.nodes[node].addr, NULL, 0), 0);
	return s;
}

static struct frame_key fkey(const struct key_ent *k)
{
	struct frame_key fk = {.len = KEY_SECRET_LEN, .id = k->id};

	memcpy(fk.secret, k->secret, KEY_SECRET_LEN);
	return fk;
}

/* Sends the frame and returns the reply's status, opened with k (the
 * node seals its answer with the request's key); err gets its text. */
static int call(nng_socket s, const struct key_ent *k, const uint8_t *frame, size_t len, char *err,
		size_t errlen)
{
	struct frame_key fk = fkey(k);
	struct frame_hdr h;
	const uint8_t *body;
	nng_msg *m;
	struct rd r;
	int rc;

	ck_assert_int_eq(nng_msg_alloc(&m, 0), 0);
	ck_assert_int_eq(nng_msg_append(m, frame, len), 0);
	ck_assert_int_eq(nng_sendmsg(s, m, 0), 0);
	ck_assert_int_eq(nng_recvmsg(s, &m, 0), 0);
	rc = frame_open(&fk, nng_msg_body(m), nng_msg_len(m), &h, &body);
	if (rc != 0) {
		nng_msg_free(m);
		return rc; /* not sealed with k: the node does not know it */
	}
	err[0] = '\0';
	if (h.status < 0) {
		rd_init(&r, body, h.body_len);
		msg_get_error(&r, err, errlen);
	}
	nng_msg_free(m);
	return h.status;
}

static uint8_t *frame_of(const struct key_ent *k, uint8_t type, const void *body, size_t n,
			 size_t *len)
{
	struct frame_key fk = fkey(k);
	struct frame_hdr h = {.type = type, .ts_ms = frame_now_ms(), .body_len = (uint32_t)n};
	uint8_t *b = malloc(frame_size(n));

	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(rand_u64(&h.nonce), 0);
	ck_assert_int_eq(rand_u64(&h.req_id), 0);
	if (n > 0) {
		memcpy(b + FRAME_HDR_LEN, body, n);
	}
	ck_assert_int_eq(frame_seal(&fk, &h, b), 0);
	*len = frame_size(n);
	return b;
}

static uint64_t authfail(size_t node)
{
	struct cl *cl;
	struct cl_req rq = {.node = node, .type = MSG_PING};
	struct node_status st;
	struct rd r;

	ck_assert_int_eq(cl_open(&cluster.cfg, &cl), 0);
	cl_wait_connected(cl, 2000);
	ck_assert_int_eq(cl_run(cl, &rq, 1, 2000), 1);
	rd_init(&r, rq.reply, rq.reply_len);
	msg_get_node_status(&r, &st);
	ck_assert(rd_done(&r));
	cl_req_release(&rq);
	cl_close(cl);
	return st.auth_failures;
}

/* A ro key pings; its fragment put is refused at dispatch with EACCES
 * and a text naming the key; the refusal is counted. */
START_TEST(test_ro_key_refused_write)
{
	nng_socket s = raw_open(0);
	uint8_t body[64] = {0};
	char err[MSG_ERR_MAX];
	uint64_t before = authfail(0);
	size_t len;
	uint8_t *f = frame_of(&ro, MSG_PING, NULL, 0, &len);

	ck_assert_int_eq(call(s, &ro, f, len, err, sizeof(err)), 0);
	free(f);
	f = frame_of(&ro, MSG_FRAG_PUT, body, sizeof(body), &len);
	ck_assert_int_eq(call(s, &ro, f, len, err, sizeof(err)), -EACCES);
	ck_assert_str_eq(err, "key 'reader' (ro:demo) may not frag_put: needs write");
	free(f);
	ck_assert_uint_eq(authfail(0), before + 1);
	nng_close(s);
}
END_TEST

/* A frame sealed with a client key, sent twice: the second is refused
 * as a replay; a wrong secret under the key's id is refused; an unknown
 * id gets an answer the client cannot open (the node cannot seal with a
 * key it does not have).  Each is counted once. */
START_TEST(test_replay_wrong_and_unknown_counted)
{
	nng_socket s = raw_open(1);
	struct key_ent wrong = ro, unknown = ro;
	char err[MSG_ERR_MAX];
	uint64_t before = authfail(1);
	size_t len;
	uint8_t *f = frame_of(&ro, MSG_PING, NULL, 0, &len);

	ck_assert_int_eq(call(s, &ro, f, len, err, sizeof(err)), 0);
	ck_assert_int_eq(call(s, &ro, f, len, err, sizeof(err)), -OBJ_EAUTH);
	ck_assert_str_eq(err, "request outside the replay window or replayed");
	free(f);
	wrong.secret[0] ^= 1;
	f = frame_of(&wrong, MSG_PING, NULL, 0, &len);
	/* Sealed with the real key: the node knows it, not our secret. */
	ck_assert_int_eq(call(s, &ro, f, len, err, sizeof(err)), -OBJ_EAUTH);
	free(f);
	unknown.id ^= 0xff;
	f = frame_of(&unknown, MSG_PING, NULL, 0, &len);
	ck_assert_int_eq(call(s, &unknown, f, len, err, sizeof(err)), -OBJ_EAUTH);
	free(f);
	ck_assert_uint_eq(authfail(1), before + 3);
	nng_close(s);
}
END_TEST

/* The secrets of every key go to nodes only: an admin key may list the
 * keys (no secrets) but not sync them. */
START_TEST(test_admin_cannot_read_secrets)
{
	nng_socket s = raw_open(2);
	uint8_t body[2] = {0, 0}; /* bucket "" */
	char err[MSG_ERR_MAX];
	size_t len;
	uint8_t *f = frame_of(&admin, MSG_META_KEY_SYNC, body, sizeof(body), &len);
	int rc = call(s, &admin, f, len, err, sizeof(err));

	/* A non-leader replica redirects before anything else: -EREMOTE is
	 * only possible after the capability check passed, which it must
	 * not. */
	ck_assert_int_eq(rc, -EACCES);
	ck_assert_str_eq(err,
			 "key 'admin' (admin) may not meta_key_sync: needs node on the catalog");
	free(f);
	nng_close(s);
}
END_TEST

static Suite *keys_suite(void)
{
	Suite *s = suite_create("keys");
	TCase *pure = tcase_create("pure"), *tc = tcase_create("cluster");

	tcase_add_test(pure, test_allows_matrix);
	tcase_add_test(pure, test_file_roundtrip);
	tcase_add_test(pure, test_file_refusals);
	suite_add_tcase(s, pure);
	tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ro_key_refused_write);
	tcase_add_test(tc, test_replay_wrong_and_unknown_counted);
	tcase_add_test(tc, test_admin_cannot_read_secrets);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(keys_suite());
}
