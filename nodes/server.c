/* server.c: nng rep contexts feeding two work queues (see server.h).
 *
 * Each context cycles RECV -> WORK -> SEND -> RECV.  The nng callback of a
 * finished receive only pushes the context (its own workq item) to the
 * queue the router names; a queue thread authenticates, runs the handler
 * and, unless the handler deferred, finishes the call: seals the reply and
 * starts the send, whose callback starts the next receive.  A deferred
 * call is finished the same way by srv_done on whatever thread completes
 * it (for metadata changes, the Raft loop).  So nng's threads never block,
 * no thread waits on consensus, and at most n_ctx requests are in
 * progress at once, which bounds memory.  Shutdown: the queues drain and
 * stop, then nng_close aborts every aio, then the aios are freed. */
#include "server.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/metrics.h"
#include "../common/tls.h"
#include "../common/workq.h"
#include "../proto/msg.h"
#include "../proto/replay.h"

/* Requests remembered for replay detection: a minute of traffic at ~30k
 * requests/s would need more; the table raises its floor instead of
 * growing (replay.c), so this only bounds memory (16 B/entry, x2). */
#define SRV_REPLAY_ENTRIES (1u << 18)

enum sctx_state { SCTX_RECV, SCTX_WORK, SCTX_SEND };

/* One context and the request it serves: the srv_call of server.h. */
struct srv_call {
	struct workq_item it; /* queued on a work queue while WORK */
	struct server *s;
	nng_ctx ctx;
	nng_aio *aio;
	enum sctx_state state;
	nng_msg *msg;	      /* the request, until the call is finished */
	struct frame_hdr h;   /* its header (zeroed if not authenticated) */
	struct frame_key key; /* what opened the request and seals the reply */
	struct key_ent who;   /* whose key that is */
	struct srv_reply out;
	char err[MSG_ERR_MAX];
	uint64_t t0_ns; /* when the request arrived (metrics on) */
	int refused;	/* an enum srv_refusal + 1 when the frame was refused */
};

/* Why a frame was refused before any handler saw it. */
enum srv_refusal { REF_MAC, REF_REPLAY, REF_SKEW, REF_VERSION, REF_MALFORMED, REF_KEY, REF_N };
static const char *const refusal_names[REF_N] = {
    [REF_MAC] = "bad_mac",     [REF_REPLAY] = "replay",	      [REF_SKEW] = "skew",
    [REF_VERSION] = "version", [REF_MALFORMED] = "malformed", [REF_KEY] = "unknown_key",
};

/* The series of one message type, made at start for every type the
 * catalogue names, so the dispatch point only adds to them. */
struct srv_op_mx {
	struct mx_metric *requests, *duration, *bytes_in, *bytes_out;
	struct mx_errtab errs;
};

struct server {
	struct srv_config sc;
	nng_socket sock;
	struct replay *replay;
	struct srv_call *ctxs;
	size_t n_ctx;
	struct workq *q[2]; /* by enum srv_pool, but SRV_POOL_INLINE */
	atomic_uint_fast64_t requests, auth_failures, bad_requests;
	struct srv_op_mx *op; /* [256] by message type; NULL: metrics off */
	struct mx_metric *refused[REF_N];
};

static void process(struct workq_item *it);

static void start_recv(struct srv_call *x)
{
	x->state = SCTX_RECV;
	nng_ctx_recv(x->ctx, x->aio);
}

static void sctx_cb(void *arg)
{
	struct srv_call *x = arg;
	struct server *s = x->s;
	int rv = nng_aio_result(x->aio);
	enum srv_pool pool = SRV_POOL_DISK;

	if (x->state == SCTX_SEND) {
		if (rv != 0) {
			nng_msg *m = nng_aio_get_msg(x->aio);

			if (m != NULL) {
				nng_msg_free(m); /* the peer went away: drop the reply */
			}
		}
		if (rv != NNG_ECLOSED) {
			start_recv(x);
		}
		return;
	}
	if (rv != 0) {
		if (rv != NNG_ECLOSED) {
			start_recv(x); /* e.g. a peer's oversized frame */
		}
		return;
	}
	x->msg = nng_aio_get_msg(x->aio);
	x->state = SCTX_WORK;
	if (s->op != NULL) {
		x->t0_ns = mx_now_ns(); /* queueing time counts too */
	}
	/* Routing only: the type is authenticated by the queue thread. */
	if (s->sc.route != NULL) {
		pool = s->sc.route(s->sc.handler_arg,
				   frame_peek_type(nng_msg_body(x->msg), nng_msg_len(x->msg)));
	}
	x->it.fn = process;
	if (pool == SRV_POOL_INLINE) {
		process(&x->it);
		return;
	}
	if (workq_push(s->q[pool], &x->it) != 0) {
		/* Stopping: drop the request; the client times out. */
		nng_msg_free(x->msg);
		x->msg = NULL;
	}
}

/* Seals a reply frame around out (header reserve + body + tail). */
static nng_msg *build_reply(const struct frame_key *key, const struct frame_hdr *req, int status,
			    struct srv_reply *out)
{
	struct frame_hdr h = {0};
	size_t body = wr_len(&out->w) + out->tail_len;
	nng_msg *m;
	uint8_t *p;

	if (wr_status(&out->w) != 0 || nng_msg_alloc(&m, frame_size(body)) != 0) {
		return NULL;
	}
	p = nng_msg_body(m);
	memcpy(p + FRAME_HDR_LEN, out->w.buf + out->w.reserve, wr_len(&out->w));
	if (out->tail_len > 0) {
		memcpy(p + FRAME_HDR_LEN + wr_len(&out->w), out->tail, out->tail_len);
	}
	h.type = req->type;
	h.flags = FRAME_F_REPLY;
	h.req_id = req->req_id;
	h.ts_ms = frame_now_ms();
	h.nonce = req->nonce;
	h.status = status;
	h.body_len = (uint32_t)body;
	if (frame_seal(key, &h, p) != 0) {
		nng_msg_free(m);
		return NULL;
	}
	return m;
}

static void reset_reply(struct srv_reply *out)
{
	wr_free(&out->w);
	wr_init(&out->w, FRAME_HDR_LEN);
	free(out->tail);
	out->tail = NULL;
	out->tail_len = 0;
}

/* Metrics of one finished call: the one place every message type is
 * counted, timed and sized.  Refused frames count by reason only (their
 * type is not authenticated).  An error's series is made at its first
 * occurrence (a cold path), keeping only (type, errno) pairs seen. */
static void account(struct server *s, struct srv_call *x, int rc, nng_msg *rep)
{
	struct srv_op_mx *m = &s->op[x->h.type];

	if (x->refused > 0) {
		mx_add(s->refused[x->refused - 1], 1);
		return;
	}
	mx_add(m->requests, 1);
	mx_observe(m->duration, mx_now_ns() - x->t0_ns);
	mx_add(m->bytes_in, nng_msg_len(x->msg));
	if (rep != NULL) {
		mx_add(m->bytes_out, nng_msg_len(rep));
	}
	if (rc < 0) {
		mx_count_error(&m->errs, rc);
	}
}

/* Answers the call with rc and sends it; the context then receives the
 * next request.  Any thread. */
static void finish(struct srv_call *x, int rc)
{
	struct server *s = x->s;
	struct srv_reply *out = &x->out;
	nng_msg *rep;

	if (rc == -OBJ_EAUTH) {
		atomic_fetch_add(&s->auth_failures, 1);
		log_warn("srv.auth", "refused an unauthenticated request (key %016llx '%s'): %s",
			 (unsigned long long)x->key.id, x->who.name,
			 x->err[0] != '\0' ? x->err : "bad tag");
	} else if (rc == -ENOKEY) {
		atomic_fetch_add(&s->auth_failures, 1);
		log_warn("srv.auth", "refused a request: %s", x->err);
	} else if (rc == -OBJ_EPROTO) {
		atomic_fetch_add(&s->bad_requests, 1);
		log_warn("srv.proto", "refused a malformed %s request (%zu bytes)",
			 msg_type_name(x->h.type), nng_msg_len(x->msg));
	}
	if (rc < 0) {
		uint32_t hint = out->hint;

		reset_reply(out);
		msg_put_error(&out->w, x->err[0] != '\0' ? x->err : obj_strerror(rc));
		if (rc == -EREMOTE) {
			wr_u32(&out->w, hint); /* where the leader is (meta.h) */
		}
	}
	rep = build_reply(&x->key, &x->h, rc < 0 ? rc : 0, out);
	if (s->op != NULL) {
		account(s, x, rc, rep);
	}
	wr_free(&out->w);
	free(out->tail);
	memset(out, 0, sizeof(*out));
	nng_msg_free(x->msg);
	x->msg = NULL;
	if (rep == NULL) {
		/* Cannot answer (out of memory): the client times out and
		 * retries.  Receive the next request. */
		start_recv(x);
		return;
	}
	x->state = SCTX_SEND;
	nng_aio_set_msg(x->aio, rep);
	nng_ctx_send(x->ctx, x->aio);
}

/* The key the request names: the cluster secret (id 0) or a client key
 * from the key cache.  Its secret opens the request and seals the reply;
 * an unknown key's reply is sealed with the cluster secret, which the
 * client cannot verify (it learns only that it was refused). */
static int open_key(struct server *s, struct srv_call *x)
{
	uint64_t id = frame_peek_key(nng_msg_body(x->msg), nng_msg_len(x->msg));
	int rc;

	x->key = s->sc.key;
	memset(&x->who, 0, sizeof(x->who));
	x->who.caps = KEY_CAP_NODE;
	snprintf(x->who.name, sizeof(x->who.name), "node");
	if (id == KEY_ID_NODE) {
		return 0;
	}
	rc = s->sc.key_find != NULL ? s->sc.key_find(s->sc.key_arg, id, &x->who) : -ENOKEY;
	if (rc != 0) {
		memset(&x->who, 0, sizeof(x->who));
		snprintf(x->err, sizeof(x->err), "unknown or revoked key %016llx",
			 (unsigned long long)id);
		return -ENOKEY;
	}
	memcpy(x->key.secret, x->who.secret, KEY_SECRET_LEN);
	x->key.len = KEY_SECRET_LEN;
	x->key.id = id;
	return 0;
}

/* Queue thread: authenticates and handles one request. */
static void process(struct workq_item *it)
{
	struct srv_call *x = (struct srv_call *)it;
	struct server *s = x->s;
	const uint8_t *body = NULL;
	int rc;

	atomic_fetch_add(&s->requests, 1);
	x->err[0] = '\0';
	memset(&x->out, 0, sizeof(x->out));
	wr_init(&x->out.w, FRAME_HDR_LEN);
	x->out.call = x;
	x->refused = 0;
	rc = open_key(s, x);
	if (rc == 0) {
		rc = frame_open(&x->key, nng_msg_body(x->msg), nng_msg_len(x->msg), &x->h, &body);
	}
	if (rc != 0) {
		/* Echo nothing from a frame we could not authenticate. */
		memset(&x->h, 0, sizeof(x->h));
		x->refused = 1 + (rc == -OBJ_EAUTH	   ? REF_MAC
				  : rc == -EPROTONOSUPPORT ? REF_VERSION
				  : rc == -ENOKEY	   ? REF_KEY
							   : REF_MALFORMED);
	}
	if (rc == -EPROTONOSUPPORT) {
		snprintf(x->err, sizeof(x->err),
			 "this node speaks objfs protocol version %u, the request %u: run one "
			 "release on every node and client",
			 FRAME_VERSION, frame_version(nng_msg_body(x->msg), nng_msg_len(x->msg)));
		log_warn("srv.version", "refused a request: %s", x->err);
		atomic_fetch_add(&s->bad_requests, 1);
	}
	if (rc == 0 && (x->h.flags & FRAME_F_REPLY)) {
		rc = -OBJ_EPROTO;
		x->refused = 1 + REF_MALFORMED;
	}
	if (rc == 0) {
		uint64_t now = frame_now_ms(), win = (uint64_t)s->sc.max_skew_s * 1000u;

		rc = replay_check(s->replay, x->h.ts_ms, x->h.nonce, now);
		if (rc != 0) {
			/* replay_check refuses both; the metric tells them apart. */
			x->refused =
			    1 + (x->h.ts_ms + win < now || x->h.ts_ms > now + win ? REF_SKEW
										  : REF_REPLAY);
			snprintf(x->err, sizeof(x->err),
				 "request outside the replay window or replayed");
		}
	}
	if (rc == 0) {
		rc = s->sc.handler(s->sc.handler_arg, &x->h, &x->who, body, &x->out, x->err,
				   sizeof(x->err));
		if (rc == SRV_DEFER) {
			return; /* srv_done finishes it, maybe already has */
		}
	}
	finish(x, rc);
}

struct srv_reply *srv_call_reply(struct srv_call *c)
{
	return &c->out;
}

void srv_done(struct srv_call *c, int rc, const char *err)
{
	if (rc < 0 && err != NULL) {
		snprintf(c->err, sizeof(c->err), "%s", err);
	}
	finish(c, rc > 0 ? 0 : rc);
}

static int listen_error(int rv, const char *url, char *err, size_t errlen)
{
	switch (rv) {
	case NNG_EADDRINUSE:
		snprintf(err, errlen, "cannot listen on %s: address already in use", url);
		return -EADDRINUSE;
	case NNG_EADDRINVAL:
	case NNG_EINVAL:
		snprintf(err, errlen, "cannot listen on %s: invalid address", url);
		return -EINVAL;
	default:
		snprintf(err, errlen, "cannot listen on %s: %s", url, nng_strerror(rv));
		return rv == NNG_ENOMEM ? -ENOMEM : -EADDRNOTAVAIL;
	}
}

/* Listens on sc->url, with TLS when a certificate is configured: 0 or a
 * negative errno with the reason in err. */
static int listen_on(struct server *s, const struct srv_config *sc, char *err, size_t errlen)
{
	char url[CFG_ADDR_MAX + 8];
	nng_tls_config *tc = NULL;
	nng_listener l;
	int rv, tls = sc->tls_cert != NULL && sc->tls_cert[0] != '\0';

	if (tls_url(sc->url, tls, url, sizeof(url)) != 0) {
		snprintf(err, errlen, "address too long: %s", sc->url);
		return -EINVAL;
	}
	if (!tls) {
		rv = nng_listen(s->sock, url, NULL, 0);
		return rv != 0 ? listen_error(rv, url, err, errlen) : 0;
	}
	if ((rv = tls_server_config(sc->tls_cert, sc->tls_key, &tc, err, errlen)) != 0) {
		return rv;
	}
	rv = nng_listener_create(&l, s->sock, url);
	if (rv == 0) {
		rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, tc);
	}
	if (rv == 0) {
		rv = nng_listener_start(l, 0);
	}
	nng_tls_config_free(tc); /* the listener holds its own reference */
	return rv != 0 ? listen_error(rv, url, err, errlen) : 0;
}

static int register_metrics(struct server *s)
{
	struct mx_registry *r = s->sc.metrics;
	char labels[96];

	s->op = calloc(256, sizeof(*s->op));
	if (s->op == NULL) {
		return -ENOMEM;
	}
	/* Types the catalogue does not name share op="unknown" (registered
	 * first, as type 0, which no request uses), so none goes uncounted
	 * and the label stays bounded. */
	for (int t = 0; t < 256; t++) {
		const char *name = msg_type_name((uint8_t)t);
		struct srv_op_mx *m = &s->op[t];

		if (t > 0 && strcmp(name, "unknown") == 0) {
			*m = s->op[0];
			continue;
		}
		snprintf(labels, sizeof(labels), "op=\"%s\"", name);
		m->requests = mx_counter(r, "objfs_node_requests_total",
					 "Requests answered, by message type.", labels);
		m->duration = mx_histogram(
		    r, "objfs_node_request_duration_seconds",
		    "Time from receiving a request to sending its reply, by message type.", labels,
		    &mx_buckets_latency);
		m->errs.r = r;
		m->errs.name = "objfs_node_request_errors_total";
		m->errs.help = "Requests answered with an error, by message type and errno.";
		snprintf(m->errs.op, sizeof(m->errs.op), "op=\"%s\"", name);
		snprintf(labels, sizeof(labels), "op=\"%s\",direction=\"in\"", name);
		m->bytes_in = mx_counter(r, "objfs_node_request_bytes_total",
					 "Frame bytes received and sent, by message type.", labels);
		snprintf(labels, sizeof(labels), "op=\"%s\",direction=\"out\"", name);
		m->bytes_out =
		    mx_counter(r, "objfs_node_request_bytes_total",
			       "Frame bytes received and sent, by message type.", labels);
		if (m->requests == NULL || m->duration == NULL || m->bytes_in == NULL ||
		    m->bytes_out == NULL) {
			return -ENOMEM;
		}
	}
	for (int i = 0; i < REF_N; i++) {
		snprintf(labels, sizeof(labels), "reason=\"%s\"", refusal_names[i]);
		s->refused[i] = mx_counter(
		    r, "objfs_node_frames_refused_total",
		    "Frames refused before any handler: bad MAC, replay, clock skew, protocol "
		    "version, malformed, unknown key.",
		    labels);
		if (s->refused[i] == NULL) {
			return -ENOMEM;
		}
	}
	return 0;
}

int srv_start(const struct srv_config *sc, struct server **out, char *err, size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	int rv;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->sc = *sc;
	s->replay = replay_create((uint64_t)sc->max_skew_s * 1000u, SRV_REPLAY_ENTRIES);
	s->ctxs = calloc(sc->n_ctx, sizeof(*s->ctxs));
	if (s->replay == NULL || s->ctxs == NULL) {
		snprintf(err, errlen, "out of memory");
		srv_stop(s);
		return -ENOMEM;
	}
	if (sc->metrics != NULL && register_metrics(s) != 0) {
		snprintf(err, errlen, "out of memory");
		srv_stop(s);
		return -ENOMEM;
	}
	/* Unbounded queues: the contexts bound what can be queued. */
	if (workq_start("srv-meta", sc->n_meta ? sc->n_meta : 1, 0, &s->q[SRV_POOL_META]) != 0 ||
	    workq_start("srv-disk", sc->n_disk ? sc->n_disk : 1, 0, &s->q[SRV_POOL_DISK]) != 0) {
		snprintf(err, errlen, "cannot start worker threads");
		srv_stop(s);
		return -ENOMEM;
	}
	if ((rv = nng_rep0_open(&s->sock)) != 0) {
		snprintf(err, errlen, "cannot open socket: %s", nng_strerror(rv));
		srv_stop(s);
		return -ENOMEM;
	}
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, frame_size(FRAME_MAX_BODY));
	if ((rv = listen_on(s, sc, err, errlen)) != 0) {
		srv_stop(s);
		return rv;
	}
	for (size_t i = 0; i < sc->n_ctx; i++) {
		struct srv_call *x = &s->ctxs[i];

		x->s = s;
		if (nng_aio_alloc(&x->aio, sctx_cb, x) != 0 ||
		    nng_ctx_open(&x->ctx, s->sock) != 0) {
			snprintf(err, errlen, "out of memory");
			srv_stop(s);
			return -ENOMEM;
		}
		s->n_ctx++;
		start_recv(x);
	}
	*out = s;
	return 0;
}

void srv_stop(struct server *s)
{
	if (s == NULL) {
		return;
	}
	/* 1. The queues finish what is queued (replying on the still open
	 * socket) and stop; a receive completing meanwhile is dropped.
	 * Closing the socket first raced with a worker's nng_ctx_send on a
	 * context being torn down (an nng 1.5.2 panic). */
	workq_stop(s->q[SRV_POOL_META]);
	workq_stop(s->q[SRV_POOL_DISK]);
	s->q[SRV_POOL_META] = s->q[SRV_POOL_DISK] = NULL;
	/* 2. Stop the network: pending receives fail with NNG_ECLOSED. */
	if (nng_socket_id(s->sock) > 0) {
		nng_close(s->sock);
	}
	/* 3. No callback can run any more once its aio is freed. */
	for (size_t i = 0; i < s->n_ctx; i++) {
		nng_aio_free(s->ctxs[i].aio);
	}
	for (size_t i = 0; i < s->n_ctx; i++) {
		if (s->ctxs[i].msg != NULL) {
			nng_msg_free(s->ctxs[i].msg);
		}
	}
	free(s->ctxs);
	free(s->op);
	replay_destroy(s->replay);
	free(s);
}

void srv_get_stats(struct server *s, struct srv_stats *st)
{
	st->requests = atomic_load(&s->requests);
	st->auth_failures = atomic_load(&s->auth_failures);
	st->bad_requests = atomic_load(&s->bad_requests);
}
