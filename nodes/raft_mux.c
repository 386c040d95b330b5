/* raft_mux.c: Raft group multiplexing over one TCP port (see raft_mux.h).
 *
 * A preamble (rmux_pre.h: group, sender's id and address, timestamp,
 * nonce, HMAC) is sent by the connecting side before any Raft byte.
 * The listener reads it with buffers sized to exactly the bytes still
 * missing, so not one byte of the Raft stream that follows is consumed
 * before the stream is handed to c-raft.  A preamble with a bad MAC, a
 * timestamp outside the window or a repeated nonce closes the connection.
 *
 * Handles passed to c-raft are allocated with raft_malloc: c-raft closes
 * and frees them itself. */
#include "raft_mux.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/rand.h"
#include "../proto/replay.h"

#define RMUX_REPLAY_ENTRIES 4096

struct rtrans;

struct rmux {
	uv_loop_t *loop;
	uv_tcp_t listener;
	struct frame_key key;
	uint32_t max_skew_s;
	struct replay *replay;
	rmux_unknown_fn on_unknown;
	void *arg;
	struct rtrans *listening; /* transports with an accept callback */
	struct inbound *inbound;  /* connections still reading a preamble */
	int closing;
};

struct outbound {
	struct rtrans *rt;
	struct raft_uv_connect *req;
	uv_tcp_t *tcp;
	uv_connect_t conn;
	uv_write_t wr;
	uint8_t pre[RMUX_PRE_MAX];
	size_t pre_len;
	int canceled;
	struct outbound *next;
};

struct inbound {
	struct rmux *m;
	uv_tcp_t *tcp;
	uint8_t buf[RMUX_PRE_MAX];
	size_t have, want;
	struct inbound *next;
};

struct rtrans {
	struct rmux *m;
	struct raft_uv_transport *t;
	char group[RMUX_GROUP_MAX + 1];
	raft_id id;
	char address[RMUX_ADDR_MAX + 1];
	raft_uv_accept_cb accept_cb;
	struct outbound *pending;
	raft_uv_transport_close_cb close_cb;
	int closing;
	struct rtrans *next; /* m->listening */
};

/* "host:port" -> sockaddr (IPv4 or IPv6 literal). */
static int parse_addr(const char *a, struct sockaddr_storage *ss)
{
	char host[RMUX_ADDR_MAX + 1];
	const char *colon = strrchr(a, ':');
	long port;
	char *end;

	if (colon == NULL || (size_t)(colon - a) >= sizeof(host)) {
		return -EINVAL;
	}
	memcpy(host, a, (size_t)(colon - a));
	host[colon - a] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end != '\0' || port < 1 || port > 65535) {
		return -EINVAL;
	}
	if (host[0] == '[') {
		host[strcspn(host, "]")] = '\0';
		return uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)ss) == 0 ? 0
											: -EINVAL;
	}
	return uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0 ? 0 : -EINVAL;
}

/* Unacknowledged data older than this tears the connection down.  Without
 * it a link that went away and came back leaves both ends in TCP's
 * exponential retransmission back-off for minutes, and a healed replica
 * hears nothing from its leader; torn down, c-raft reconnects at once. */
#define RMUX_TCP_USER_TIMEOUT_MS 3000

static void tune_tcp(uv_tcp_t *t)
{
	uv_os_fd_t fd;
	unsigned int ms = RMUX_TCP_USER_TIMEOUT_MS;

	uv_tcp_nodelay(t, 1);
	uv_tcp_keepalive(t, 1, 1);
	if (uv_fileno((uv_handle_t *)t, &fd) == 0) {
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
	}
}

static void free_handle_cb(uv_handle_t *h)
{
	raft_free(h);
}

/* ---- listening side ---------------------------------------------- */

static void inbound_drop(struct inbound *in)
{
	struct inbound **pp = &in->m->inbound;

	while (*pp != NULL && *pp != in) {
		pp = &(*pp)->next;
	}
	if (*pp == in) {
		*pp = in->next;
	}
}

static void inbound_fail(struct inbound *in, const char *why)
{
	log_warn("rmux.refused", "raft connection refused: %s", why);
	inbound_drop(in);
	uv_close((uv_handle_t *)in->tcp, free_handle_cb);
	free(in);
}

static struct rtrans *find_listening(struct rmux *m, const char *group)
{
	for (struct rtrans *rt = m->listening; rt != NULL; rt = rt->next) {
		if (strcmp(rt->group, group) == 0) {
			return rt;
		}
	}
	return NULL;
}

/* The whole preamble is in: authenticate it and hand the stream over. */
static void inbound_done(struct inbound *in)
{
	struct rmux *m = in->m;
	struct rmux_pre pre;
	struct rtrans *rt;
	int rc = rmux_pre_parse(&m->key, in->buf, in->want, &pre);

	if (rc != 0) {
		inbound_fail(in, rc == -OBJ_EAUTH ? "bad MAC (wrong cluster secret?)"
				 : rc == -EIO	  ? "cannot compute MAC"
						  : "malformed preamble");
		return;
	}
	if (replay_check(m->replay, pre.ts_ms, pre.nonce, frame_now_ms()) != 0) {
		inbound_fail(in, "stale or replayed preamble");
		return;
	}
	rt = find_listening(m, pre.group);
	if (rt == NULL && m->on_unknown != NULL) {
		m->on_unknown(m->arg, pre.group); /* may open the group now */
		rt = find_listening(m, pre.group);
	}
	if (rt == NULL || rt->closing) {
		inbound_fail(in, "no such raft group here");
		return;
	}
	uv_read_stop((uv_stream_t *)in->tcp);
	inbound_drop(in);
	rt->accept_cb(rt->t, pre.id, pre.addr, (uv_stream_t *)in->tcp);
	free(in);
}

static void inbound_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct inbound *in = h->data;

	(void)suggested;
	/* Exactly what is missing: never a byte of the raft stream. */
	buf->base = (char *)in->buf + in->have;
	buf->len = in->want - in->have;
}

static void inbound_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct inbound *in = s->data;

	(void)buf;
	if (n < 0) {
		inbound_fail(in, "closed during preamble");
		return;
	}
	in->have += (size_t)n;
	if (in->have < in->want) {
		return;
	}
	if (in->want == RMUX_PRE_FIXED) {
		int want = rmux_pre_len(in->buf);

		if (want == -EPROTONOSUPPORT) {
			char why[96];

			snprintf(why, sizeof(why),
				 "peer speaks replication version %u, this node %u: run one "
				 "release on every node",
				 rmux_pre_version(in->buf), RMUX_VERSION);
			inbound_fail(in, why);
			return;
		}
		if (want < 0) {
			inbound_fail(in, "malformed preamble");
			return;
		}
		in->want = (size_t)want;
		return;
	}
	inbound_done(in);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct rmux *m = server->data;
	struct inbound *in;

	if (status < 0 || m->closing) {
		return;
	}
	in = calloc(1, sizeof(*in));
	if (in == NULL) {
		return;
	}
	in->m = m;
	in->want = RMUX_PRE_FIXED;
	in->tcp = raft_malloc(sizeof(*in->tcp));
	if (in->tcp == NULL) {
		free(in);
		return;
	}
	uv_tcp_init(m->loop, in->tcp);
	in->tcp->data = in;
	if (uv_accept(server, (uv_stream_t *)in->tcp) != 0) {
		uv_close((uv_handle_t *)in->tcp, free_handle_cb);
		free(in);
		return;
	}
	tune_tcp(in->tcp);
	in->next = m->inbound;
	m->inbound = in;
	uv_read_start((uv_stream_t *)in->tcp, inbound_alloc, inbound_read);
}

int rmux_open(uv_loop_t *loop, const char *bind_addr, const struct frame_key *key,
	      uint32_t max_skew_s, rmux_unknown_fn on_unknown, void *arg, struct rmux **out,
	      char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct rmux *m;
	int rv;

	if (parse_addr(bind_addr, &ss) != 0) {
		snprintf(err, errlen, "raft address '%s': not host:port", bind_addr);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->loop = loop;
	m->key = *key;
	m->max_skew_s = max_skew_s;
	m->on_unknown = on_unknown;
	m->arg = arg;
	m->replay = replay_create((uint64_t)max_skew_s * 1000u, RMUX_REPLAY_ENTRIES);
	if (m->replay == NULL) {
		free(m);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	uv_tcp_init(loop, &m->listener);
	m->listener.data = m;
	rv = uv_tcp_bind(&m->listener, (struct sockaddr *)&ss, 0);
	if (rv == 0) {
		rv = uv_listen((uv_stream_t *)&m->listener, 128, on_connection);
	}
	if (rv != 0) {
		snprintf(err, errlen, "cannot listen for raft on %s: %s", bind_addr,
			 rv == UV_EADDRINUSE ? "address already in use" : uv_strerror(rv));
		m->closing = 1;
		uv_close((uv_handle_t *)&m->listener, NULL);
		uv_run(loop, UV_RUN_NOWAIT); /* let the close complete */
		replay_destroy(m->replay);
		free(m);
		return rv == UV_EADDRINUSE ? -EADDRINUSE : -EINVAL;
	}
	*out = m;
	return 0;
}

static void listener_closed(uv_handle_t *h)
{
	struct rmux *m = h->data;

	replay_destroy(m->replay);
	free(m);
}

void rmux_close(struct rmux *m)
{
	if (m == NULL) {
		return;
	}
	m->closing = 1;
	while (m->inbound != NULL) {
		struct inbound *in = m->inbound;

		m->inbound = in->next;
		uv_close((uv_handle_t *)in->tcp, free_handle_cb);
		free(in);
	}
	uv_close((uv_handle_t *)&m->listener, listener_closed);
}

/* ---- connecting side --------------------------------------------- */

static void outbound_unlink(struct outbound *ob)
{
	struct outbound **pp = &ob->rt->pending;

	while (*pp != NULL && *pp != ob) {
		pp = &(*pp)->next;
	}
	if (*pp == ob) {
		*pp = ob->next;
	}
}

static void maybe_closed(struct rtrans *rt)
{
	if (rt->closing && rt->pending == NULL && rt->close_cb != NULL) {
		raft_uv_transport_close_cb cb = rt->close_cb;

		rt->close_cb = NULL;
		cb(rt->t);
	}
}

/* Finishes a connect attempt: hands the stream over or reports failure. */
static void outbound_finish(struct outbound *ob, int status)
{
	struct rtrans *rt = ob->rt;
	struct raft_uv_connect *req = ob->req;

	outbound_unlink(ob);
	if (status == 0 && !ob->canceled) {
		req->cb(req, (uv_stream_t *)ob->tcp, 0);
	} else {
		uv_close((uv_handle_t *)ob->tcp, free_handle_cb);
		req->cb(req, NULL, ob->canceled ? RAFT_CANCELED : RAFT_NOCONNECTION);
	}
	free(ob);
	maybe_closed(rt);
}

static void on_written(uv_write_t *w, int status)
{
	struct outbound *ob = w->data;

	outbound_finish(ob, status);
}

static void on_connected(uv_connect_t *c, int status)
{
	struct outbound *ob = c->data;
	uv_buf_t b;

	if (status != 0 || ob->canceled) {
		outbound_finish(ob, status ? status : UV_ECANCELED);
		return;
	}
	tune_tcp(ob->tcp);
	b = uv_buf_init((char *)ob->pre, (unsigned)ob->pre_len);
	ob->wr.data = ob;
	if (uv_write(&ob->wr, (uv_stream_t *)ob->tcp, &b, 1, on_written) != 0) {
		outbound_finish(ob, UV_EIO);
	}
}

static int build_preamble(struct rtrans *rt, uint8_t *p, size_t *len)
{
	struct rmux_pre pre = {.id = rt->id, .ts_ms = frame_now_ms()};
	int rc = rand_u64(&pre.nonce);

	if (rc != 0) {
		return rc;
	}
	snprintf(pre.group, sizeof(pre.group), "%s", rt->group);
	snprintf(pre.addr, sizeof(pre.addr), "%s", rt->address);
	rc = rmux_pre_encode(&rt->m->key, &pre, p, RMUX_PRE_MAX);
	if (rc < 0) {
		return rc;
	}
	*len = (size_t)rc;
	return 0;
}

static int t_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	struct rtrans *rt = t->impl;

	if (strlen(address) > RMUX_ADDR_MAX) {
		return RAFT_NAMETOOLONG;
	}
	rt->id = id;
	snprintf(rt->address, sizeof(rt->address), "%s", address);
	return 0;
}

static int t_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct rtrans *rt = t->impl;

	rt->accept_cb = cb;
	rt->next = rt->m->listening;
	rt->m->listening = rt;
	return 0;
}

static int t_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
		     const char *address, raft_uv_connect_cb cb)
{
	struct rtrans *rt = t->impl;
	struct sockaddr_storage ss;
	struct outbound *ob;

	(void)id;
	req->cb = cb;
	if (rt->closing) {
		return RAFT_CANCELED;
	}
	if (parse_addr(address, &ss) != 0) {
		return RAFT_NOCONNECTION;
	}
	ob = calloc(1, sizeof(*ob));
	if (ob == NULL) {
		return RAFT_NOMEM;
	}
	ob->rt = rt;
	ob->req = req;
	if (build_preamble(rt, ob->pre, &ob->pre_len) != 0 ||
	    (ob->tcp = raft_malloc(sizeof(*ob->tcp))) == NULL) {
		free(ob);
		return RAFT_NOMEM;
	}
	uv_tcp_init(rt->m->loop, ob->tcp);
	ob->conn.data = ob;
	if (uv_tcp_connect(&ob->conn, ob->tcp, (struct sockaddr *)&ss, on_connected) != 0) {
		uv_close((uv_handle_t *)ob->tcp, free_handle_cb);
		free(ob);
		return RAFT_NOCONNECTION;
	}
	ob->next = rt->pending;
	rt->pending = ob;
	return 0;
}

static void t_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct rtrans *rt = t->impl;
	struct rtrans **pp = &rt->m->listening;

	rt->closing = 1;
	rt->close_cb = cb;
	while (*pp != NULL && *pp != rt) {
		pp = &(*pp)->next;
	}
	if (*pp == rt) {
		*pp = rt->next;
	}
	/* Closing the handle makes a pending connect complete with
	 * UV_ECANCELED; outbound_finish then reports RAFT_CANCELED. */
	for (struct outbound *ob = rt->pending; ob != NULL; ob = ob->next) {
		ob->canceled = 1;
	}
	maybe_closed(rt);
}

int rmux_transport_init(struct rmux *m, const char *group, struct raft_uv_transport *t)
{
	struct rtrans *rt;

	if (strlen(group) == 0 || strlen(group) > RMUX_GROUP_MAX) {
		return -EINVAL;
	}
	rt = calloc(1, sizeof(*rt));
	if (rt == NULL) {
		return -ENOMEM;
	}
	rt->m = m;
	rt->t = t;
	snprintf(rt->group, sizeof(rt->group), "%s", group);
	memset(t, 0, sizeof(*t));
	t->impl = rt;
	t->init = t_init;
	t->listen = t_listen;
	t->connect = t_connect;
	t->close = t_close;
	return 0;
}

void rmux_transport_close(struct raft_uv_transport *t)
{
	free(t->impl);
	t->impl = NULL;
}
