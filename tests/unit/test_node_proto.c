/* test_node_proto.c: a real objfs-node against hostile and valid frames
 * over nng, its counters, a 1 MiB fragment round trip, a clean SIGTERM
 * stop, and the start-up failures it must report and exit on.
 * Every node is a child of the test (or of Check's per-test child), is
 * killed by its pid only, and dies with its parent (PR_SET_PDEATHSIG; in
 * fork mode Check also kills the test's process group), so none outlives
 * a failed assertion.  All files live under one temp root that the
 * unchecked teardown removes.  The unchecked fixtures run in Check's
 * runner and never touch nng, so in fork mode each test's child starts
 * with nng unused: nng's threads would not survive the fork. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../common/checksum.h"
#include "../../common/client.h"
#include "../../common/config.h"
#include "../../common/ec.h"
#include "../../common/err.h"
#include "../../common/rand.h"
#include "../../proto/frame.h"
#include "../../proto/msg.h"
#include "../../proto/wire.h"
#include "../lib/testlib.h"

/* How long a node may take to start answering, and to stop: generous for
 * a loaded 2-core machine or a sanitizer build. */
#define START_MS 10000
#define STOP_MS 5000
/* A raw request's reply must come well within this. */
#define RAW_TIMEOUT_MS 3000

/* A random request id or nonce, as a client would pick it. */
static uint64_t rnd64(void)
{
	uint64_t v = 0;

	ck_assert_int_eq(rand_u64(&v), 0);
	return v;
}

static char root[PATH_MAX];	     /* temp root of the current TCase */
static char node_bin[PATH_MAX + 64]; /* the objfs-node under test */

/* One node process and its files. */
struct node {
	pid_t pid;	    /* 0 once reaped */
	char dir[PATH_MAX]; /* private dir: conf, log, data */
	char conf[PATH_MAX + 16];
	char log[PATH_MAX + 16];
	char data[PATH_MAX + 16];
	char url[64];
	struct cfg *cfg; /* the conf as the client library reads it */
	struct frame_key key;
};

static struct node nd;	/* the node of a "node" test (checked fixture) */
static pid_t stray = 0; /* a node started by a start-up test, until reaped */

/* ---- processes and files ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/* The whole of a (small) file as a string; "" if unreadable. */
static char *read_file(const char *path)
{
	static char buf[65536];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* Starts objfs-node with argv (argv[0] is replaced), output to log. */
static pid_t spawn_node(const char *argv[], const char *log)
{
	argv[0] = node_bin;
	return tl_spawn(log, (char *const *)argv);
}

/* Waits up to ms for pid to exit; 0 with its status, or -ETIMEDOUT. */
static int wait_exit(pid_t pid, int ms, int *status)
{
	for (int waited = 0;; waited += 10) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid) {
			return 0;
		}
		if (r < 0) {
			return -errno;
		}
		if (waited >= ms) {
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
}

/* Stops pid: SIGTERM, then SIGKILL if it lingers.  Returns the status. */
static int stop_pid(pid_t pid)
{
	int status = 0;

	kill(pid, SIGTERM);
	if (wait_exit(pid, STOP_MS, &status) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	return status;
}

/* A fresh private dir under root, with a data dir and a one-node conf
 * listening on a free port (extra is appended to [cluster]). */
static void node_prepare(struct node *n, const char *extra)
{
	char text[PATH_MAX + 512];
	uint8_t rnd[16];
	char secret[33];
	int port;

	memset(n, 0, sizeof(*n));
	ck_assert_int_lt(snprintf(n->dir, sizeof(n->dir), "%s/node.XXXXXX", root),
			 (int)sizeof(n->dir));
	ck_assert_ptr_nonnull(mkdtemp(n->dir));
	snprintf(n->conf, sizeof(n->conf), "%s/objfs.conf", n->dir);
	snprintf(n->log, sizeof(n->log), "%s/node.log", n->dir);
	snprintf(n->data, sizeof(n->data), "%s/data", n->dir);
	ck_assert_int_eq(mkdir(n->data, 0700), 0);
	ck_assert_int_eq(rand_bytes(rnd, sizeof(rnd)), 0);
	for (size_t i = 0; i < sizeof(rnd); i++) {
		snprintf(secret + 2 * i, 3, "%02x", rnd[i]);
	}
	port = tl_free_port();
	snprintf(n->url, sizeof(n->url), "tcp://127.0.0.1:%d", port);
	snprintf(text, sizeof(text),
		 "[cluster]\nsecret = %s\n%s[node 1]\naddr = %s\ndata_dir = %s\n", secret,
		 extra != NULL ? extra : "", n->url, n->data);
	write_file(n->conf, text);
	memcpy(n->key.secret, secret, 32);
	n->key.len = 32;
}

/* PINGs the node through the client library; 0 and *st, or the error. */
static int ping(struct node *n, struct node_status *st, uint32_t timeout_ms)
{
	struct cl *cl = NULL;
	struct cl_req rq = {.node = 0, .type = MSG_PING};
	int rc;

	ck_assert_int_eq(cl_open(n->cfg, &cl), 0);
	cl_wait_connected(cl, timeout_ms);
	cl_run(cl, &rq, 1, timeout_ms);
	rc = rq.status;
	if (rc == 0 && st != NULL) {
		struct rd r;

		rd_init(&r, rq.reply, rq.reply_len);
		msg_get_node_status(&r, st);
		ck_assert(rd_done(&r));
	}
	cl_req_release(&rq);
	cl_close(cl);
	return rc;
}

static void node_release(struct node *n)
{
	if (n->pid > 0) {
		stop_pid(n->pid);
		n->pid = 0;
	}
	free(n->cfg);
	n->cfg = NULL;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Starts the prepared node and waits until it answers a PING.  On failure
 * it cleans up itself: no teardown follows a failed setup in no-fork mode. */
static void node_start(struct node *n)
{
	const char *argv[] = {NULL, "-c", n->conf, "-i", "1", NULL};
	uint64_t deadline = mono_ms() + START_MS;
	char err[512];
	int status;

	n->cfg = malloc(sizeof(*n->cfg)); /* ~1 MiB: never on the stack */
	ck_assert_ptr_nonnull(n->cfg);
	if (cfg_load_file(n->conf, n->cfg, err, sizeof(err)) != 0) {
		free(n->cfg);
		n->cfg = NULL;
		ck_abort_msg("%s", err);
	}
	n->pid = spawn_node(argv, n->log);
	for (;;) {
		if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
			n->pid = 0;
			node_release(n);
			ck_abort_msg("objfs-node exited at start (status 0x%x):\n%s", status,
				     read_file(n->log));
		}
		if (ping(n, NULL, 200) == 0) {
			return;
		}
		if (mono_ms() >= deadline) {
			node_release(n);
			ck_abort_msg("objfs-node never answered a PING:\n%s", read_file(n->log));
		}
	}
}

/* ---- fixtures ---- */

/* Unchecked, in the runner: the temp root and the binary; no nng here. */
static void root_setup(void)
{
	tl_build_path(node_bin, sizeof(node_bin), "nodes/objfs-node");
	ck_assert_msg(access(node_bin, X_OK) == 0, "objfs-node at %s cannot run", node_bin);
	tl_mkdtemp(root, sizeof(root), "objfs-node-proto");
}

static void root_teardown(void)
{
	tl_rmtree(root);
	root[0] = '\0';
}

/* Checked: each node test gets a fresh node (in Check's child in fork mode). */
static void node_setup(void)
{
	node_prepare(&nd, NULL);
	node_start(&nd);
}

/* Every test also proves the node survived it: it must still stop
 * cleanly (a sanitizer build exits nonzero on any error it found). */
static void node_teardown(void)
{
	int status = 0;
	bool running = nd.pid > 0;

	if (running) {
		status = stop_pid(nd.pid);
		nd.pid = 0;
	}
	node_release(&nd);
	ck_assert_msg(!running || (WIFEXITED(status) && WEXITSTATUS(status) == 0),
		      "objfs-node did not stop cleanly (status 0x%x):\n%s", status,
		      read_file(nd.log));
}

/* Checked teardown of start-up tests: runs after a failure in no-fork
 * mode, where nothing else would stop a node that wrongly kept running. */
static void stray_teardown(void)
{
	if (stray > 0) {
		kill(stray, SIGKILL);
		waitpid(stray, NULL, 0);
		stray = 0;
	}
}

/* ---- raw frames ---- */

static nng_socket raw_open(const char *url)
{
	nng_socket s;

	ck_assert_int_eq(nng_req0_open(&s), 0);
	ck_assert_int_eq(nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, RAW_TIMEOUT_MS), 0);
	ck_assert_int_eq(nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, RAW_TIMEOUT_MS), 0);
	ck_assert_int_eq(nng_dial(s, url, NULL, 0), 0);
	return s;
}

/* Sends len bytes as one message; returns the reply (never NULL). */
static nng_msg *raw_call(nng_socket s, const void *buf, size_t len)
{
	nng_msg *m;
	int rv;

	ck_assert_int_eq(nng_msg_alloc(&m, 0), 0);
	if (len > 0) {
		ck_assert_int_eq(nng_msg_append(m, buf, len), 0);
	}
	rv = nng_sendmsg(s, m, 0);
	if (rv != 0) {
		nng_msg_free(m);
	}
	ck_assert_msg(rv == 0, "send: %s", nng_strerror(rv));
	rv = nng_recvmsg(s, &m, 0);
	ck_assert_msg(rv == 0, "no reply: %s", nng_strerror(rv));
	return m;
}

/* A request frame sealed with key; *h gets its header. */
static uint8_t *make_req(const struct frame_key *key, uint8_t type, uint64_t ts, const void *body,
			 size_t n, struct frame_hdr *h, size_t *len)
{
	uint8_t *b = malloc(frame_size(n));

	ck_assert_ptr_nonnull(b);
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->req_id = rnd64();
	h->ts_ms = ts;
	h->nonce = rnd64();
	h->body_len = (uint32_t)n;
	if (n > 0) {
		memcpy(b + FRAME_HDR_LEN, body, n);
	}
	ck_assert_int_eq(frame_seal(key, h, b), 0);
	*len = frame_size(n);
	return b;
}

static void remac(const struct frame_key *key, uint8_t *b, size_t len)
{
	ck_assert_int_eq(frame_reseal(key, b, len), 0);
}

/* Asserts the reply is an authentic error reply with status want whose
 * body is exactly an error string; when req is given, it must echo the
 * request's type, req_id and nonce. */
static void expect_error(const struct node *n, nng_msg *rep, int want, const struct frame_hdr *req,
			 const char *text)
{
	struct frame_hdr h;
	const uint8_t *body = NULL;
	char err[MSG_ERR_MAX];
	struct rd r;

	ck_assert_int_eq(frame_open(&n->key, nng_msg_body(rep), nng_msg_len(rep), &h, &body), 0);
	ck_assert(h.flags & FRAME_F_REPLY);
	ck_assert_msg(h.status == want, "status %d (%s), want %d (%s)", h.status,
		      obj_strerror(h.status), want, obj_strerror(want));
	rd_init(&r, body, h.body_len);
	msg_get_error(&r, err, sizeof(err));
	ck_assert(rd_done(&r));
	ck_assert_str_ne(err, "");
	if (text != NULL) {
		ck_assert_msg(strstr(err, text) != NULL, "error '%s' lacks '%s'", err, text);
	}
	if (req != NULL) {
		ck_assert_uint_eq(h.type, req->type);
		ck_assert_uint_eq(h.req_id, req->req_id);
		ck_assert_uint_eq(h.nonce, req->nonce);
	}
	nng_msg_free(rep);
}

/* The node still serves a PING through the client library. */
static void expect_alive(struct node *n)
{
	ck_assert_int_eq(ping(n, NULL, 3000), 0);
}

/* ---- the hostile frames, one helper each (also used by the counters test) ---- */

static void send_garbage(struct node *n, nng_socket s, uint64_t seed)
{
	uint8_t junk[500];

	for (size_t i = 0; i < sizeof(junk); i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		junk[i] = (uint8_t)(seed >> 56);
	}
	expect_error(n, raw_call(s, junk, sizeof(junk)), -OBJ_EPROTO, NULL, NULL);
}

static void send_bad_mac(struct node *n, nng_socket s)
{
	struct frame_key wrong = n->key;
	struct frame_hdr h;
	uint8_t *b;
	size_t len;

	wrong.secret[5] ^= 0x20;
	b = make_req(&wrong, MSG_PING, frame_now_ms(), NULL, 0, &h, &len);
	expect_error(n, raw_call(s, b, len), -OBJ_EAUTH, NULL, NULL);
	free(b);
}

static void send_truncated(struct node *n, nng_socket s)
{
	uint8_t body[64] = {1, 2, 3};
	struct frame_hdr h;
	uint8_t *b;
	size_t len;

	b = make_req(&n->key, MSG_FRAG_GET, frame_now_ms(), body, sizeof(body), &h, &len);
	expect_error(n, raw_call(s, b, FRAME_HDR_LEN + sizeof(body) / 2), -OBJ_EPROTO, NULL, NULL);
	free(b);
}

static void send_unknown_type(struct node *n, nng_socket s)
{
	struct frame_hdr h;
	uint8_t *b;
	size_t len;

	b = make_req(&n->key, 200, frame_now_ms(), "x", 1, &h, &len);
	expect_error(n, raw_call(s, b, len), -OBJ_EPROTO, &h, "unknown message type 200");
	free(b);
}

/* A FRAG_PUT body of frag_hdr + data, delta bytes off the right size. */
static void send_frag_put_off(struct node *n, nng_socket s, int delta)
{
	struct frag_hdr fh = {.ref = {.index = 1}, .k = 2, .m = 1, .block_len = 1000};
	uint8_t data[512 + 1];
	struct frame_hdr h;
	struct wr w;
	uint8_t *b;
	size_t len;

	memset(data, 0x3c, sizeof(data));
	memset(fh.ref.block_id, 0x77, BLOCK_ID_LEN);
	fh.frag_len = (uint32_t)ec_frag_len((struct ec_profile){2, 1}, 1000);
	ck_assert_uint_eq(fh.frag_len, 512);
	fh.csum = csum64(data, fh.frag_len);
	wr_init(&w, 0);
	msg_put_frag_hdr(&w, &fh);
	wr_bytes(&w, data, (size_t)((int)fh.frag_len + delta));
	ck_assert_int_eq(wr_status(&w), 0);
	b = make_req(&n->key, MSG_FRAG_PUT, frame_now_ms(), w.buf, wr_len(&w), &h, &len);
	wr_free(&w);
	expect_error(n, raw_call(s, b, len), -OBJ_EPROTO, &h, NULL);
	free(b);
}

/* Sends a valid PING frame twice: answered, then refused as a replay. */
static void send_replay(struct node *n, nng_socket s)
{
	struct frame_hdr h, rh;
	const uint8_t *body;
	struct node_status st;
	nng_msg *rep;
	struct rd r;
	uint8_t *b;
	size_t len;

	b = make_req(&n->key, MSG_PING, frame_now_ms(), NULL, 0, &h, &len);
	rep = raw_call(s, b, len);
	ck_assert_int_eq(frame_open(&n->key, nng_msg_body(rep), nng_msg_len(rep), &rh, &body), 0);
	ck_assert_int_eq(rh.status, 0);
	ck_assert(rh.flags & FRAME_F_REPLY);
	ck_assert_uint_eq(rh.req_id, h.req_id);
	ck_assert_uint_eq(rh.nonce, h.nonce);
	rd_init(&r, body, rh.body_len);
	msg_get_node_status(&r, &st);
	ck_assert(rd_done(&r));
	ck_assert_uint_eq(st.node_id, 1);
	nng_msg_free(rep);
	expect_error(n, raw_call(s, b, len), -OBJ_EAUTH, &h, NULL);
	free(b);
}

static void send_skewed(struct node *n, nng_socket s, int64_t skew_ms)
{
	struct frame_hdr h;
	uint8_t *b;
	size_t len;

	b = make_req(&n->key, MSG_PING, (uint64_t)((int64_t)frame_now_ms() + skew_ms), NULL, 0, &h,
		     &len);
	expect_error(n, raw_call(s, b, len), -OBJ_EAUTH, &h, NULL);
	free(b);
}

static void send_version1(struct node *n, nng_socket s)
{
	struct frame_hdr h;
	uint8_t *b;
	size_t len;

	b = make_req(&n->key, MSG_PING, frame_now_ms(), NULL, 0, &h, &len);
	b[4] = 1;		/* the HMAC-SHA256 release */
	remac(&n->key, b, len); /* only the version is wrong */
	expect_error(n, raw_call(s, b, len), -EPROTONOSUPPORT, NULL,
		     "this node speaks objfs protocol version 4, the request 1: run one release "
		     "on every node and client");
	free(b);
}

/* ---- node tests ---- */

/* Garbage of several shapes (empty, short, long, magic-prefixed) gets an
 * authentic -OBJ_EPROTO reply and leaves the node serving. */
START_TEST(test_garbage)
{
	nng_socket s = raw_open(nd.url);
	uint8_t magic[FRAME_OVERHEAD + 3] = {'O', 'B', 'J', 'F', FRAME_VERSION};

	expect_error(&nd, raw_call(s, NULL, 0), -OBJ_EPROTO, NULL, NULL);
	expect_error(&nd, raw_call(s, "x", 1), -OBJ_EPROTO, NULL, NULL);
	send_garbage(&nd, s, 1);
	send_garbage(&nd, s, 2);
	expect_error(&nd, raw_call(s, magic, sizeof(magic)), -OBJ_EPROTO, NULL, NULL);
	nng_close(s);
	expect_alive(&nd);
}
END_TEST

/* A frame sealed with the wrong secret, and a valid frame with one body
 * bit flipped, are refused with -OBJ_EAUTH. */
START_TEST(test_bad_mac)
{
	nng_socket s = raw_open(nd.url);
	struct frame_hdr h;
	uint8_t body[17] = {0};
	uint8_t *b;
	size_t len;

	send_bad_mac(&nd, s);
	b = make_req(&nd.key, MSG_FRAG_GET, frame_now_ms(), body, sizeof(body), &h, &len);
	b[FRAME_HDR_LEN + 3] ^= 0x10;
	expect_error(&nd, raw_call(s, b, len), -OBJ_EAUTH, NULL, NULL);
	free(b);
	nng_close(s);
	expect_alive(&nd);
}
END_TEST

/* A frame whose body_len claims more than was sent is -OBJ_EPROTO. */
START_TEST(test_truncated_body)
{
	nng_socket s = raw_open(nd.url);

	send_truncated(&nd, s);
	nng_close(s);
	expect_alive(&nd);
}
END_TEST

/* A valid frame of unknown type 200 (and of type 0) is -OBJ_EPROTO naming
 * the type; a request carrying the reply flag is -OBJ_EPROTO too. */
START_TEST(test_unknown_type)
{
	nng_socket s = raw_open(nd.url);
	struct frame_hdr h;
	uint8_t *b;
	size_t len;

	send_unknown_type(&nd, s);
	b = make_req(&nd.key, 0, frame_now_ms(), NULL, 0, &h, &len);
	expect_error(&nd, raw_call(s, b, len), -OBJ_EPROTO, &h, "unknown message type 0");
	free(b);

	b = malloc(frame_size(0));
	ck_assert_ptr_nonnull(b);
	h.type = MSG_PING;
	h.flags = FRAME_F_REPLY;
	h.req_id = rnd64();
	h.ts_ms = frame_now_ms();
	h.nonce = rnd64();
	h.body_len = 0;
	ck_assert_int_eq(frame_seal(&nd.key, &h, b), 0);
	expect_error(&nd, raw_call(s, b, frame_size(0)), -OBJ_EPROTO, &h, NULL);
	free(b);
	nng_close(s);
	expect_alive(&nd);
}
END_TEST

/* A valid FRAG_PUT whose body is one byte short, or one byte long, is
 * -OBJ_EPROTO and stores nothing. */
START_TEST(test_frag_put_short)
{
	nng_socket s = raw_open(nd.url);
	struct node_status st;

	send_frag_put_off(&nd, s, -1);
	send_frag_put_off(&nd, s, +1);
	nng_close(s);
	ck_assert_int_eq(ping(&nd, &st, 3000), 0);
	ck_assert_uint_eq(st.frag_count, 0);
}
END_TEST

/* Sends body as a request of type and expects -OBJ_EPROTO. */
static void send_refused(struct node *n, nng_socket s, uint8_t type, const void *body, size_t blen)
{
	struct frame_hdr h;
	uint8_t *b;
	size_t len;

	b = make_req(&n->key, type, frame_now_ms(), body, blen, &h, &len);
	expect_error(n, raw_call(s, b, len), -OBJ_EPROTO, &h, NULL);
	free(b);
}

/* SCRUB and FRAG_CHECK bodies that are malformed are -OBJ_EPROTO: an
 * unknown op, a count that disagrees with the refs present (one short,
 * one long), a count over FRAG_CHECK_MAX, an index past EC_MAX_FRAGS,
 * trailing bytes; the node stays up. */
START_TEST(test_scrub_check_refused)
{
	nng_socket s = raw_open(nd.url);
	struct frag_ref ref = {{0x55}, 1};
	uint8_t op;
	struct wr w;

	op = 2;
	send_refused(&nd, s, MSG_SCRUB, &op, 1);
	send_refused(&nd, s, MSG_SCRUB, NULL, 0);
	for (int c = 0; c < 6; c++) {
		wr_init(&w, 0);
		wr_u8(&w, c == 0 ? 9 : FRAG_CHECK_VERIFY);
		wr_u32(&w, 0);
		wr_u32(&w, c == 1 ? 2 : c == 3 ? FRAG_CHECK_MAX + 1 : 1);
		ref.index = c == 4 ? EC_MAX_FRAGS : 1;
		msg_put_frag_ref(&w, &ref);
		if (c == 2) {
			w.len--; /* count 1, one byte short of a ref */
		}
		if (c == 5) {
			wr_u8(&w, 0);
		}
		ck_assert_int_eq(wr_status(&w), 0);
		send_refused(&nd, s, MSG_FRAG_CHECK, w.buf, w.len);
		wr_free(&w);
	}
	nng_close(s);
	expect_alive(&nd);
}
END_TEST

/* A valid frame sent twice is answered once and refused (-OBJ_EAUTH) as
 * a replay the second time. */
START_TEST(test_replay)
{
	nng_socket s = raw_open(nd.url);

	send_replay(&nd, s);
	nng_close(s);
	expect_alive(&nd);
}
END_TEST

/* Frames stamped 10 minutes in the past or future are -OBJ_EAUTH. */
START_TEST(test_skew)
{
	nng_socket s = raw_open(nd.url);

	send_skewed(&nd, s, -10 * 60 * 1000);
	send_skewed(&nd, s, 10 * 60 * 1000);
	nng_close(s);
	expect_alive(&nd);
}
END_TEST

/* A frame of version 1 (with a valid tag) is refused with
 * -EPROTONOSUPPORT and a message that names both versions. */
START_TEST(test_version1)
{
	nng_socket s = raw_open(nd.url);

	send_version1(&nd, s);
	nng_close(s);
	expect_alive(&nd);
}
END_TEST

/* After every kind of hostile frame in a row the node still serves a
 * PING, and its status counts them exactly: 3 more auth_failures (bad
 * MAC, replay, skew), 5 more bad_requests (garbage, truncated, unknown
 * type, short FRAG_PUT, version 1) and 10 more requests (the nine frames,
 * the replay sent twice, and the PING that reads them) than a PING before,
 * plus the key cache's polls of the catalog (one a second, keycache.h). */
START_TEST(test_counters)
{
	nng_socket s = raw_open(nd.url);
	struct node_status st0, st;

	/* The start-up pings are a varying number of requests: count from
	 * a baseline. */
	ck_assert_int_eq(ping(&nd, &st0, 3000), 0);
	send_garbage(&nd, s, 3);
	send_bad_mac(&nd, s);
	send_truncated(&nd, s);
	send_unknown_type(&nd, s);
	send_frag_put_off(&nd, s, -1);
	send_replay(&nd, s);
	send_skewed(&nd, s, -10 * 60 * 1000);
	send_version1(&nd, s);
	nng_close(s);
	ck_assert_int_eq(ping(&nd, &st, 3000), 0);
	ck_assert_uint_eq(st.node_id, 1);
	ck_assert_str_eq(st.zone, "default");
	ck_assert_uint_eq(st.auth_failures, st0.auth_failures + 3);
	ck_assert_uint_eq(st.bad_requests, st0.bad_requests + 5);
	ck_assert_uint_ge(st.requests, st0.requests + 10);
	ck_assert_uint_le(st.requests, st0.requests + 12);
	ck_assert_uint_eq(st.checksum_errors, 0);
}
END_TEST

static void sample_frag(struct frag_hdr *fh, uint8_t **data, uint8_t tag)
{
	uint64_t seed = tag;

	memset(fh, 0, sizeof(*fh));
	memset(fh->ref.block_id, tag, BLOCK_ID_LEN);
	fh->ref.index = 3;
	fh->k = 4;
	fh->m = 2;
	fh->block_len = 4u << 20;
	fh->frag_len = (uint32_t)ec_frag_len((struct ec_profile){4, 2}, fh->block_len);
	ck_assert_uint_eq(fh->frag_len, 1u << 20);
	*data = malloc(fh->frag_len);
	ck_assert_ptr_nonnull(*data);
	for (size_t i = 0; i < fh->frag_len; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		(*data)[i] = (uint8_t)(seed >> 56);
	}
	fh->csum = csum64(*data, fh->frag_len);
}

/* Runs one request through the client library on a fresh client. */
static void run1(struct node *n, struct cl_req *rq)
{
	struct cl *cl = NULL;

	ck_assert_int_eq(cl_open(n->cfg, &cl), 0);
	cl_wait_connected(cl, 3000);
	cl_run(cl, rq, 1, 0);
	cl_close(cl); /* the reply message outlives the client */
}

/* A 1 MiB fragment stored with FRAG_PUT comes back from FRAG_GET with the
 * same header and identical bytes. */
START_TEST(test_frag_roundtrip)
{
	struct frag_hdr fh, got;
	struct cl_req put = {.node = 0, .type = MSG_FRAG_PUT};
	struct cl_req get = {.node = 0, .type = MSG_FRAG_GET};
	const uint8_t *p;
	uint8_t *data;
	struct wr w, wg;
	struct rd r;

	sample_frag(&fh, &data, 0x42);
	wr_init(&w, 0);
	msg_put_frag_hdr(&w, &fh);
	put.body = w.buf;
	put.body_len = wr_len(&w);
	put.data = data;
	put.data_len = fh.frag_len;
	run1(&nd, &put);
	ck_assert_msg(put.status == 0, "FRAG_PUT: %s %s", obj_strerror(put.status), put.err);
	cl_req_release(&put);

	wr_init(&wg, 0);
	msg_put_frag_ref(&wg, &fh.ref);
	get.body = wg.buf;
	get.body_len = wr_len(&wg);
	run1(&nd, &get);
	ck_assert_msg(get.status == 0, "FRAG_GET: %s %s", obj_strerror(get.status), get.err);
	rd_init(&r, get.reply, get.reply_len);
	msg_get_frag_hdr(&r, &got);
	p = rd_ptr(&r, got.frag_len);
	ck_assert(rd_done(&r));
	ck_assert_mem_eq(got.ref.block_id, fh.ref.block_id, BLOCK_ID_LEN);
	ck_assert_uint_eq(got.ref.index, fh.ref.index);
	ck_assert_uint_eq(got.k, fh.k);
	ck_assert_uint_eq(got.m, fh.m);
	ck_assert_uint_eq(got.block_len, fh.block_len);
	ck_assert_uint_eq(got.frag_len, fh.frag_len);
	ck_assert_uint_eq(got.csum, fh.csum);
	ck_assert(memcmp(p, data, fh.frag_len) == 0);
	cl_req_release(&get);
	wr_free(&w);
	wr_free(&wg);
	free(data);
}
END_TEST

/* USAGE returns the node's history: the sample it took at start, with its
 * capacity and a current time; a request asking for 0 samples, or with a
 * byte too many, is -OBJ_EPROTO. */
START_TEST(test_usage_msg)
{
	struct cl_req rq = {.node = 0, .type = MSG_USAGE};
	struct usage_sample us;
	uint8_t body[5] = {0};
	struct wr w;
	struct rd r;
	uint32_t n;

	wr_init_buf(&w, body, sizeof(body));
	wr_u32(&w, 16);
	rq.body = body;
	rq.body_len = 4;
	run1(&nd, &rq);
	ck_assert_msg(rq.status == 0, "USAGE: %s %s", obj_strerror(rq.status), rq.err);
	rd_init(&r, rq.reply, rq.reply_len);
	n = rd_u32(&r);
	ck_assert_uint_eq(n, 1); /* usage_interval 3600: the start-up sample */
	msg_get_usage_sample(&r, &us);
	ck_assert(rd_done(&r));
	ck_assert_uint_gt(us.capacity, 0);
	ck_assert_uint_le(us.t_s, (uint64_t)time(NULL));
	ck_assert_uint_ge(us.t_s + 60, (uint64_t)time(NULL));
	ck_assert_uint_eq(us.shards_led, 0);
	cl_req_release(&rq);

	rq.body_len = 5;
	run1(&nd, &rq);
	ck_assert_int_eq(rq.status, -OBJ_EPROTO);
	cl_req_release(&rq);
	memset(body, 0, sizeof(body));
	rq.body_len = 4;
	run1(&nd, &rq);
	ck_assert_int_eq(rq.status, -OBJ_EPROTO);
	cl_req_release(&rq);
}
END_TEST

/* A FRAG_PUT whose data does not match its csum is refused with
 * -OBJ_ECHECKSUM and an explanation, and nothing is stored. */
START_TEST(test_frag_bad_csum)
{
	struct frag_hdr fh;
	struct cl_req put = {.node = 0, .type = MSG_FRAG_PUT};
	struct cl_req get = {.node = 0, .type = MSG_FRAG_GET};
	uint8_t *data;
	struct wr w, wg;

	sample_frag(&fh, &data, 0x43);
	fh.csum ^= 1;
	wr_init(&w, 0);
	msg_put_frag_hdr(&w, &fh);
	put.body = w.buf;
	put.body_len = wr_len(&w);
	put.data = data;
	put.data_len = fh.frag_len;
	run1(&nd, &put);
	ck_assert_msg(put.status == -OBJ_ECHECKSUM, "FRAG_PUT: %d %s", put.status, put.err);
	ck_assert_str_ne(put.err, "");
	cl_req_release(&put);

	wr_init(&wg, 0);
	msg_put_frag_ref(&wg, &fh.ref);
	get.body = wg.buf;
	get.body_len = wr_len(&wg);
	run1(&nd, &get);
	ck_assert_int_eq(get.status, -ENOENT);
	cl_req_release(&get);
	wr_free(&w);
	wr_free(&wg);
	free(data);
}
END_TEST

/* SIGTERM stops a serving node cleanly: exit status 0 within 5 s. */
START_TEST(test_sigterm)
{
	int status = -1;

	ck_assert_int_eq(kill(nd.pid, SIGTERM), 0);
	ck_assert_msg(wait_exit(nd.pid, STOP_MS, &status) == 0, "still running 5 s after SIGTERM");
	nd.pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "status 0x%x after SIGTERM:\n%s", status, read_file(nd.log));
}
END_TEST

/* ---- start-up failures ---- */

/* Runs objfs-node -c conf [args] and expects it to exit with want within
 * 5 s; returns what it printed. */
static char *run_expect_exit(const char *conf, const char *log, const char *a1, const char *a2,
			     int want)
{
	const char *argv[] = {NULL, "-c", conf, a1, a2, NULL};
	int status = -1, rc;

	stray = spawn_node(argv, log);
	rc = wait_exit(stray, STOP_MS, &status);
	ck_assert_msg(rc == 0, "objfs-node did not exit:\n%s", read_file(log));
	stray = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == want,
		      "status 0x%x, want exit %d:\n%s", status, want, read_file(log));
	return read_file(log);
}

/* A data_dir that does not exist: exit 1, and stderr names the dir. */
START_TEST(test_start_no_data_dir)
{
	struct node n;
	char text[PATH_MAX * 2 + 128];
	const char *out;

	node_prepare(&n, NULL);
	ck_assert_int_eq(rmdir(n.data), 0);
	out = run_expect_exit(n.conf, n.log, "-i", "1", 1);
	ck_assert_msg(strstr(out, n.data) != NULL, "stderr does not name %s:\n%s", n.data, out);

	/* The same for a missing parent directory. */
	snprintf(text, sizeof(text), "%s/no/such/dir", n.dir);
	{
		char conf[PATH_MAX * 2 + 256];
		const char *body = read_file(n.conf);
		char *edited = malloc(strlen(body) + sizeof(text));
		char *at;

		ck_assert_ptr_nonnull(edited);
		strcpy(edited, body);
		at = strstr(edited, "data_dir = ");
		ck_assert_ptr_nonnull(at);
		sprintf(at, "data_dir = %s\n", text);
		snprintf(conf, sizeof(conf), "%s/nested.conf", n.dir);
		write_file(conf, edited);
		free(edited);
		out = run_expect_exit(conf, n.log, "-i", "1", 1);
		ck_assert_msg(strstr(out, text) != NULL, "stderr does not name %s:\n%s", text, out);
	}
}
END_TEST

/* A port already in use: exit 1, stderr says "address already in use". */
START_TEST(test_start_port_in_use)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	char text[PATH_MAX + 256];
	struct node n;
	const char *out;
	int fd;

	node_prepare(&n, NULL);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	snprintf(text, sizeof(text),
		 "[cluster]\nsecret = 0123456789abcdef0123456789abcdef\n"
		 "[node 1]\naddr = tcp://127.0.0.1:%d\ndata_dir = %s\n",
		 ntohs(a.sin_port), n.data);
	write_file(n.conf, text);
	out = run_expect_exit(n.conf, n.log, "-i", "1", 1);
	close(fd);
	ck_assert_msg(strstr(out, "address already in use") != NULL, "stderr:\n%s", out);
}
END_TEST

/* A config with an unknown key: exit 1, stderr names the file and line. */
START_TEST(test_start_unknown_key)
{
	char text[PATH_MAX + 256], where[PATH_MAX + 64];
	struct node n;
	const char *out;

	node_prepare(&n, NULL);
	snprintf(text, sizeof(text),
		 "# test\n[cluster]\nsecret = 0123456789abcdef0123456789abcdef\n"
		 "frobnicate = 1\n[node 1]\naddr = %s\ndata_dir = %s\n",
		 n.url, n.data);
	write_file(n.conf, text);
	out = run_expect_exit(n.conf, n.log, "-i", "1", 1);
	snprintf(where, sizeof(where), "%s:4", n.conf);
	ck_assert_msg(strstr(out, where) != NULL, "stderr lacks '%s':\n%s", where, out);
	ck_assert_msg(strstr(out, "frobnicate") != NULL, "stderr lacks the key:\n%s", out);
}
END_TEST

/* Without --id (or with a malformed one) the node exits 2 (usage). */
START_TEST(test_start_no_id)
{
	struct node n;
	const char *out;

	node_prepare(&n, NULL);
	out = run_expect_exit(n.conf, n.log, NULL, NULL, 2);
	ck_assert_msg(strstr(out, "--id") != NULL, "stderr:\n%s", out);
	run_expect_exit(n.conf, n.log, "-i", "abc", 2);
	run_expect_exit(n.conf, n.log, "-i", "0", 2);
}
END_TEST

static Suite *node_proto_suite(void)
{
	Suite *s = suite_create("node_proto");
	TCase *tn = tcase_create("node");
	TCase *ts = tcase_create("startup");

	tcase_add_unchecked_fixture(tn, root_setup, root_teardown);
	tcase_add_checked_fixture(tn, node_setup, node_teardown);
	/* A node start, fsyncs and 1 MiB transfers on a loaded machine. */
	tcase_set_timeout(tn, 30);
	tcase_add_test(tn, test_garbage);
	tcase_add_test(tn, test_bad_mac);
	tcase_add_test(tn, test_truncated_body);
	tcase_add_test(tn, test_unknown_type);
	tcase_add_test(tn, test_frag_put_short);
	tcase_add_test(tn, test_scrub_check_refused);
	tcase_add_test(tn, test_replay);
	tcase_add_test(tn, test_skew);
	tcase_add_test(tn, test_version1);
	tcase_add_test(tn, test_counters);
	tcase_add_test(tn, test_frag_roundtrip);
	tcase_add_test(tn, test_frag_bad_csum);
	tcase_add_test(tn, test_usage_msg);
	tcase_add_test(tn, test_sigterm);
	suite_add_tcase(s, tn);

	tcase_add_unchecked_fixture(ts, root_setup, root_teardown);
	tcase_add_checked_fixture(ts, NULL, stray_teardown);
	tcase_set_timeout(ts, 30);
	tcase_add_test(ts, test_start_no_data_dir);
	tcase_add_test(ts, test_start_port_in_use);
	tcase_add_test(ts, test_start_unknown_key);
	tcase_add_test(ts, test_start_no_id);
	suite_add_tcase(s, ts);
	return s;
}

int main(void)
{
	/* A dead peer must fail a send, not kill the test. */
	signal(SIGPIPE, SIG_IGN);
	/* nng keeps global threads until finalized; without this valgrind
	 * reports their stacks.  Runs in every process that exits normally
	 * (Check's children included) and is harmless where nng was unused. */
	atexit(nng_fini);
	return tl_run(node_proto_suite());
}
