/* test_raft_mux.c: Raft group multiplexing over one port (nodes/raft_mux.c)
 * on a real libuv loop and loopback TCP: a connect through the c-raft
 * transport interface reaches the right group's accept callback with the
 * sender's id and address; the bytes after the preamble reach the stream
 * untouched; a wrong secret, a replayed or malformed preamble and an
 * unknown group are refused; an unknown group may be opened on demand; a
 * connect to nobody or a closed transport reports the c-raft status.
 * The preamble codec (nodes/rmux_pre.c) is tested without sockets. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/err.h"
#include "../../common/log.h"
#include "../../nodes/raft_mux.h"
#include "../../proto/frame.h"
#include "../lib/testlib.h"

#define WAIT_MS 5000

static uv_loop_t loop;
static struct frame_key key = {.secret = "raft-mux-test-secret", .len = 20};
static struct rmux *ma, *mb;
static char addr_a[64], addr_b[64];
static int port_b;

/* What the callbacks saw. */
static struct {
	int accepted;
	raft_id id;
	char address[128];
	uv_stream_t *stream;
	int connected, connect_status;
	uv_stream_t *out_stream;
	int closed;
	char unknown[RMUX_GROUP_MAX + 1];
	int refused;
	char refused_why[256];
	char got[64];
	size_t got_len;
	int got_n; /* got_len, as an int for run_until_n */
	int got_eof;
} seen;

static struct raft_uv_transport tb, tb2;
static int open_on_unknown;

static void sink(enum log_level lvl, const char *id, const char *line, void *arg)
{
	(void)lvl;
	(void)arg;
	if (strcmp(id, "rmux.refused") == 0) {
		seen.refused++;
		snprintf(seen.refused_why, sizeof(seen.refused_why), "%s", line);
	}
}

/* Runs the loop until *counter reaches want or WAIT_MS pass; returns
 * whether it did. */
static int run_until_n(const int *counter, int want)
{
	int64_t deadline = tl_mono_ms() + WAIT_MS;

	while (*counter < want && tl_mono_ms() < deadline) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(500);
	}
	return *counter >= want;
}

static int run_until(const int *flag)
{
	return run_until_n(flag, 1);
}

static void free_stream(uv_handle_t *h)
{
	raft_free(h);
}

static void on_accept(struct raft_uv_transport *t, raft_id id, const char *address,
		      uv_stream_t *stream)
{
	(void)t;
	seen.accepted++;
	seen.id = id;
	snprintf(seen.address, sizeof(seen.address), "%s", address);
	seen.stream = stream;
}

static void on_unknown(void *arg, const char *group)
{
	(void)arg;
	snprintf(seen.unknown, sizeof(seen.unknown), "%s", group);
	if (open_on_unknown) {
		ck_assert_int_eq(rmux_transport_init(mb, group, &tb2), 0);
		ck_assert_int_eq(tb2.init(&tb2, 9, addr_b), 0);
		ck_assert_int_eq(tb2.listen(&tb2, on_accept), 0);
	}
}

static void setup(void)
{
	char err[256];
	int port_a = tl_free_port();

	memset(&seen, 0, sizeof(seen));
	open_on_unknown = 0;
	log_set_sink(sink, NULL);
	ck_assert_int_eq(uv_loop_init(&loop), 0);
	port_b = tl_free_port();
	snprintf(addr_a, sizeof(addr_a), "127.0.0.1:%d", port_a);
	snprintf(addr_b, sizeof(addr_b), "127.0.0.1:%d", port_b);
	ck_assert_int_eq(rmux_open(&loop, addr_a, &key, 30, NULL, NULL, &ma, err, sizeof(err)), 0);
	ck_assert_int_eq(
	    rmux_open(&loop, addr_b, &key, 30, on_unknown, NULL, &mb, err, sizeof(err)), 0);
	ck_assert_int_eq(rmux_transport_init(mb, "g1", &tb), 0);
	ck_assert_int_eq(tb.init(&tb, 2, addr_b), 0);
	ck_assert_int_eq(tb.listen(&tb, on_accept), 0);
}

static void close_cb(struct raft_uv_transport *t)
{
	(void)t;
	seen.closed++;
}

static void teardown(void)
{
	int closed;

	if (seen.stream != NULL) {
		uv_close((uv_handle_t *)seen.stream, free_stream);
	}
	if (seen.out_stream != NULL) {
		uv_close((uv_handle_t *)seen.out_stream, free_stream);
	}
	closed = seen.closed + 1;
	tb.close(&tb, close_cb);
	run_until_n(&seen.closed, closed);
	rmux_transport_close(&tb);
	if (tb2.impl != NULL) {
		tb2.close(&tb2, close_cb);
		rmux_transport_close(&tb2);
	}
	rmux_close(ma);
	rmux_close(mb);
	for (int i = 0; i < 100 && uv_run(&loop, UV_RUN_NOWAIT) != 0; i++) {
		usleep(1000);
	}
	ck_assert_int_eq(uv_loop_close(&loop), 0);
	log_set_sink(NULL, NULL);
}

/* ---- a raw peer: the preamble built by hand from its documented layout ---- */

static size_t preamble(uint8_t *p, const struct frame_key *k, const char *group, const char *addr,
		       uint64_t id, uint64_t ts, uint64_t nonce)
{
	size_t glen = strlen(group), alen = strlen(addr), off = 8;
	unsigned int maclen = 0;
	uint64_t v[3] = {id, ts, nonce};

	p[0] = 'R';
	p[1] = 'M';
	p[2] = 'U';
	p[3] = 'X';
	p[4] = 1;
	p[5] = (uint8_t)glen;
	p[6] = (uint8_t)alen;
	p[7] = 0;
	memcpy(p + off, group, glen);
	off += glen;
	memcpy(p + off, addr, alen);
	off += alen;
	for (int j = 0; j < 3; j++) {
		for (int i = 0; i < 8; i++) {
			p[off++] = (uint8_t)(v[j] >> (8 * i));
		}
	}
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), k->secret, (int)k->len, p, off, p + off, &maclen));
	return off + maclen;
}

static int raw_connect(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port_b)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = seen.got + seen.got_len;
	buf->len = sizeof(seen.got) - 1 - seen.got_len;
}

static void read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	(void)s;
	(void)buf;
	if (n < 0) {
		seen.got_eof = 1;
		return;
	}
	seen.got_len += (size_t)n;
	seen.got_n = (int)seen.got_len;
}

/* A preamble and Raft bytes sent in one write: the group's accept callback
 * gets the sender's id and address, and the stream it gets starts with
 * exactly the Raft bytes. */
START_TEST(test_accept_hands_over_untouched_stream)
{
	uint8_t buf[512];
	size_t n = preamble(buf, &key, "g1", "127.0.0.1:7001", 7, frame_now_ms(), 1);
	int fd = raw_connect();

	memcpy(buf + n, "raft-bytes", 10);
	ck_assert_int_eq(write(fd, buf, n + 10), (ssize_t)(n + 10));
	ck_assert(run_until(&seen.accepted));
	ck_assert_int_eq(seen.accepted, 1);
	ck_assert_uint_eq(seen.id, 7);
	ck_assert_str_eq(seen.address, "127.0.0.1:7001");
	ck_assert_int_eq(uv_read_start(seen.stream, read_alloc, read_cb), 0);
	ck_assert(run_until_n(&seen.got_n, 10));
	ck_assert_uint_eq(seen.got_len, 10);
	ck_assert_mem_eq(seen.got, "raft-bytes", 10);
	ck_assert_int_eq(seen.refused, 0);
	close(fd);
}
END_TEST

static void raw_refused(const uint8_t *buf, size_t n, const char *why)
{
	int fd = raw_connect(), want = seen.refused + 1;

	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	ck_assert(run_until_n(&seen.refused, want));
	ck_assert_int_eq(seen.refused, want);
	ck_assert_msg(strstr(seen.refused_why, why) != NULL, "refused for '%s', not '%s'",
		      seen.refused_why, why);
	{
		char c;

		/* The listener closed the connection: EOF, not a hang. */
		ck_assert_int_eq(read(fd, &c, 1), 0);
	}
	close(fd);
}

/* A wrong secret, a replayed preamble, a stale one, a malformed one and
 * one of another version are each refused with their reason, and nothing
 * is accepted. */
START_TEST(test_refusals)
{
	struct frame_key wrong = key;
	uint8_t buf[512];
	uint64_t now = frame_now_ms();
	size_t n;
	int fd;

	wrong.secret[0] ^= 1;
	n = preamble(buf, &wrong, "g1", "127.0.0.1:7001", 7, now, 11);
	raw_refused(buf, n, "bad MAC");

	n = preamble(buf, &key, "g1", "127.0.0.1:7001", 7, now, 12);
	fd = raw_connect();
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	ck_assert(run_until(&seen.accepted));
	raw_refused(buf, n, "stale or replayed");
	close(fd);

	n = preamble(buf, &key, "g1", "127.0.0.1:7001", 7, now - 3600 * 1000, 13);
	raw_refused(buf, n, "stale or replayed");

	memcpy(buf, "XXXX\1\2\3\0", 8);
	raw_refused(buf, 8, "malformed preamble");
	memcpy(buf, "RMUX\2\2\3\0", 8);
	raw_refused(buf, 8, "peer speaks replication version 2, this node 1");
	ck_assert_int_eq(seen.accepted, 1);
}
END_TEST

/* A group nobody listens for is offered to on_unknown: refused when it
 * does not open it, accepted when it does. */
START_TEST(test_unknown_group)
{
	uint8_t buf[512];
	size_t n = preamble(buf, &key, "g2", "127.0.0.1:7002", 8, frame_now_ms(), 21);
	int fd;

	raw_refused(buf, n, "no such raft group");
	ck_assert_str_eq(seen.unknown, "g2");
	open_on_unknown = 1;
	n = preamble(buf, &key, "g2", "127.0.0.1:7002", 8, frame_now_ms(), 22);
	fd = raw_connect();
	ck_assert_int_eq(write(fd, buf, n), (ssize_t)n);
	ck_assert(run_until(&seen.accepted));
	ck_assert_uint_eq(seen.id, 8);
	close(fd);
}
END_TEST

static void on_connect(struct raft_uv_connect *req, uv_stream_t *stream, int status)
{
	(void)req;
	seen.connected++;
	seen.connect_status = status;
	seen.out_stream = stream;
}

/* Through the c-raft transport interface: A's connect to group g1 at B
 * completes with a stream, and B accepts it as A's id and address. */
START_TEST(test_transport_connect)
{
	struct raft_uv_transport ta;
	struct raft_uv_connect req;
	int closed;

	ck_assert_int_eq(rmux_transport_init(ma, "g1", &ta), 0);
	ck_assert_int_eq(ta.init(&ta, 1, addr_a), 0);
	ck_assert_int_eq(ta.connect(&ta, &req, 2, addr_b, on_connect), 0);
	ck_assert(run_until(&seen.connected));
	ck_assert_int_eq(seen.connect_status, 0);
	ck_assert_ptr_nonnull(seen.out_stream);
	ck_assert(run_until(&seen.accepted));
	ck_assert_uint_eq(seen.id, 1);
	ck_assert_str_eq(seen.address, addr_a);
	closed = seen.closed + 1;
	ta.close(&ta, close_cb);
	ck_assert(run_until_n(&seen.closed, closed));
	rmux_transport_close(&ta);
}
END_TEST

/* A connect to a port nobody listens on fails with RAFT_NOCONNECTION;
 * one cut short by closing the transport with RAFT_CANCELED, and the
 * close completes after it. */
START_TEST(test_connect_failures)
{
	struct raft_uv_transport ta;
	struct raft_uv_connect req;
	char nobody[64];
	int closed;

	snprintf(nobody, sizeof(nobody), "127.0.0.1:%d", tl_free_port());
	ck_assert_int_eq(rmux_transport_init(ma, "g1", &ta), 0);
	ck_assert_int_eq(ta.init(&ta, 1, addr_a), 0);
	ck_assert_int_eq(ta.connect(&ta, &req, 3, nobody, on_connect), 0);
	ck_assert(run_until(&seen.connected));
	ck_assert_int_eq(seen.connect_status, RAFT_NOCONNECTION);
	ck_assert_ptr_null(seen.out_stream);

	seen.connected = 0;
	ck_assert_int_eq(ta.connect(&ta, &req, 2, addr_b, on_connect), 0);
	closed = seen.closed + 1;
	ta.close(&ta, close_cb);
	ck_assert(run_until(&seen.connected));
	ck_assert_int_eq(seen.connect_status, RAFT_CANCELED);
	ck_assert(run_until_n(&seen.closed, closed));
	ck_assert_int_eq(ta.connect(&ta, &req, 2, addr_b, on_connect), RAFT_CANCELED);
	rmux_transport_close(&ta);
}
END_TEST

/* ---- the preamble codec alone (nodes/rmux_pre.c) ---- */

static const struct frame_key pre_key = {.secret = "preamble test secret", .len = 20};

/* Recomputes the MAC of a preamble edited in place, so a test reaches the
 * checks behind it. */
static void pre_reseal(uint8_t *p, size_t n)
{
	ck_assert_int_eq(frame_mac(&pre_key, p, n - FRAME_MAC_LEN, p + n - FRAME_MAC_LEN), 0);
}

/* The encoder writes the documented layout (the hand-built preamble
 * above), and the parser returns every field of it. */
START_TEST(test_pre_roundtrip)
{
	struct rmux_pre p = {.group = "g1",
			     .addr = "127.0.0.1:7001",
			     .id = 7,
			     .ts_ms = 1234,
			     .nonce = 99},
			got;
	uint8_t buf[RMUX_PRE_MAX], hand[512];
	int n = rmux_pre_encode(&pre_key, &p, buf, sizeof(buf));
	size_t hn = preamble(hand, &pre_key, "g1", "127.0.0.1:7001", 7, 1234, 99);

	ck_assert_int_eq(n, (int)hn);
	ck_assert_mem_eq(buf, hand, hn);
	ck_assert_int_eq(rmux_pre_len(buf), n);
	ck_assert_int_eq(rmux_pre_parse(&pre_key, buf, (size_t)n, &got), 0);
	ck_assert_str_eq(got.group, "g1");
	ck_assert_str_eq(got.addr, "127.0.0.1:7001");
	ck_assert_uint_eq(got.id, 7);
	ck_assert_uint_eq(got.ts_ms, 1234);
	ck_assert_uint_eq(got.nonce, 99);
}
END_TEST

/* Each malformed preamble is refused with -OBJ_EPROTO even under a valid
 * MAC: a set reserved byte (found by fuzz_rmux_pre), a NUL inside the
 * group or address, lengths out of range or disagreeing with the bytes
 * present; a bad MAC is -OBJ_EAUTH; another version -EPROTONOSUPPORT. */
START_TEST(test_pre_refusals)
{
	struct rmux_pre p = {.group = "g1", .addr = "127.0.0.1:7001", .id = 7}, got;
	uint8_t buf[RMUX_PRE_MAX], bad[RMUX_PRE_MAX + 1];
	int n = rmux_pre_encode(&pre_key, &p, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	memcpy(bad, buf, (size_t)n);
	bad[7] = 1;
	pre_reseal(bad, (size_t)n);
	ck_assert_int_eq(rmux_pre_len(bad), -OBJ_EPROTO);
	ck_assert_int_eq(rmux_pre_parse(&pre_key, bad, (size_t)n, &got), -OBJ_EPROTO);

	memcpy(bad, buf, (size_t)n);
	bad[RMUX_PRE_FIXED + 1] = '\0'; /* "g\0" */
	pre_reseal(bad, (size_t)n);
	ck_assert_int_eq(rmux_pre_parse(&pre_key, bad, (size_t)n, &got), -OBJ_EPROTO);
	memcpy(bad, buf, (size_t)n);
	bad[RMUX_PRE_FIXED + 2 + 3] = '\0'; /* inside the address */
	pre_reseal(bad, (size_t)n);
	ck_assert_int_eq(rmux_pre_parse(&pre_key, bad, (size_t)n, &got), -OBJ_EPROTO);

	for (int glen = 0; glen < 256; glen += 255) {
		memcpy(bad, buf, (size_t)n);
		bad[5] = (uint8_t)glen;
		ck_assert_int_eq(rmux_pre_len(bad), -OBJ_EPROTO);
	}
	memcpy(bad, buf, (size_t)n);
	bad[5] = RMUX_GROUP_MAX + 1;
	ck_assert_int_eq(rmux_pre_len(bad), -OBJ_EPROTO);
	bad[5] = 2;
	bad[6] = 0;
	ck_assert_int_eq(rmux_pre_len(bad), -OBJ_EPROTO);
	bad[6] = RMUX_ADDR_MAX + 1;
	ck_assert_int_eq(rmux_pre_len(bad), -OBJ_EPROTO);

	ck_assert_int_eq(rmux_pre_parse(&pre_key, buf, (size_t)n - 1, &got), -OBJ_EPROTO);
	memcpy(bad, buf, (size_t)n);
	bad[n] = 0;
	ck_assert_int_eq(rmux_pre_parse(&pre_key, bad, (size_t)n + 1, &got), -OBJ_EPROTO);
	ck_assert_int_eq(rmux_pre_parse(&pre_key, buf, 3, &got), -OBJ_EPROTO);

	memcpy(bad, buf, (size_t)n);
	bad[4] = RMUX_VERSION + 1;
	pre_reseal(bad, (size_t)n);
	ck_assert_int_eq(rmux_pre_len(bad), -EPROTONOSUPPORT);
	ck_assert_uint_eq(rmux_pre_version(bad), RMUX_VERSION + 1);
	ck_assert_int_eq(rmux_pre_parse(&pre_key, bad, (size_t)n, &got), -EPROTONOSUPPORT);

	memcpy(bad, buf, (size_t)n);
	bad[n - 1] ^= 1;
	ck_assert_int_eq(rmux_pre_parse(&pre_key, bad, (size_t)n, &got), -OBJ_EAUTH);

	snprintf(p.group, sizeof(p.group), "%s", "");
	ck_assert_int_eq(rmux_pre_encode(&pre_key, &p, buf, sizeof(buf)), -EINVAL);
}
END_TEST

static Suite *raft_mux_suite(void)
{
	Suite *s = suite_create("raft_mux");
	TCase *tc = tcase_create("loopback");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_accept_hands_over_untouched_stream);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_unknown_group);
	tcase_add_test(tc, test_transport_connect);
	tcase_add_test(tc, test_connect_failures);
	suite_add_tcase(s, tc);
	tc = tcase_create("preamble");
	tcase_add_test(tc, test_pre_roundtrip);
	tcase_add_test(tc, test_pre_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(raft_mux_suite());
}
