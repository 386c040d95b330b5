/* server.c: nng rep contexts feeding a worker pool (see server.h).
 *
 * Each context cycles RECV -> (queued) -> worker -> SEND -> RECV.  The
 * nng callback of a finished receive only appends the context to the work
 * queue; a worker takes it, does the CPU and disk work, starts the send,
 * and the send's callback starts the next receive.  So nng's threads never
 * block, and at most n_ctx requests are in progress at once, which bounds
 * memory.  Shutdown: workers drain the queue and exit, then nng_close
 * aborts every aio, then the aios are freed. */
#include "server.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../proto/msg.h"
#include "../proto/replay.h"

/* Requests remembered for replay detection: a minute of traffic at ~30k
 * requests/s would need more; the table raises its floor instead of
 * growing (replay.c), so this only bounds memory (16 B/entry, x2). */
#define SRV_REPLAY_ENTRIES (1u << 18)

enum sctx_state { SCTX_RECV, SCTX_WORK, SCTX_SEND };

struct sctx {
	struct server *s;
	nng_ctx ctx;
	nng_aio *aio;
	enum sctx_state state;
	nng_msg *msg;        /* received request while queued */
	struct sctx *qnext;  /* work queue link, under s->mu */
};

struct server {
	struct srv_config sc;
	nng_socket sock;
	struct replay *replay;
	struct sctx *ctxs;
	size_t n_ctx;
	pthread_t *workers;
	size_t n_workers;
	pthread_mutex_t mu;      /* guards the queue and stopping */
	pthread_cond_t cv;
	struct sctx *qhead, *qtail;
	bool stopping;
	atomic_uint_fast64_t requests, auth_failures, bad_requests;
};

static void sctx_cb(void *arg)
{
	struct sctx *x = arg;
	struct server *s = x->s;
	int rv = nng_aio_result(x->aio);

	if (x->state == SCTX_SEND) {
		if (rv != 0) {
			nng_msg *m = nng_aio_get_msg(x->aio);

			if (m != NULL) {
				nng_msg_free(m); /* the peer went away: drop the reply */
			}
		}
		if (rv == NNG_ECLOSED) {
			return;
		}
		x->state = SCTX_RECV;
		nng_ctx_recv(x->ctx, x->aio);
		return;
	}
	if (rv != 0) {
		if (rv != NNG_ECLOSED) {
			nng_ctx_recv(x->ctx, x->aio); /* e.g. a peer's oversized frame */
		}
		return;
	}
	x->msg = nng_aio_get_msg(x->aio);
	x->state = SCTX_WORK;
	pthread_mutex_lock(&s->mu);
	x->qnext = NULL;
	if (s->qtail != NULL) {
		s->qtail->qnext = x;
	} else {
		s->qhead = x;
	}
	s->qtail = x;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Seals a reply frame around out (header reserve + body + tail). */
static nng_msg *build_reply(struct server *s, const struct frame_hdr *req, int status,
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
	if (frame_seal(&s->sc.key, &h, p) != 0) {
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

/* Authenticates and handles one request; returns the reply message or
 * NULL when nothing can be sent (out of memory). */
static nng_msg *process(struct server *s, nng_msg *req)
{
	struct frame_hdr h = {0};
	const uint8_t *body = NULL;
	struct srv_reply out = {0};
	char err[MSG_ERR_MAX] = "";
	nng_msg *rep;
	int rc;

	atomic_fetch_add(&s->requests, 1);
	wr_init(&out.w, FRAME_HDR_LEN);
	rc = frame_open(&s->sc.key, nng_msg_body(req), nng_msg_len(req), &h, &body);
	if (rc != 0) {
		/* Echo nothing from a frame we could not authenticate. */
		memset(&h, 0, sizeof(h));
	}
	if (rc == 0 && (h.flags & FRAME_F_REPLY)) {
		rc = -OBJ_EPROTO;
	}
	if (rc == 0) {
		rc = replay_check(s->replay, h.ts_ms, h.nonce, frame_now_ms());
		if (rc != 0) {
			snprintf(err, sizeof(err), "request outside the replay window or replayed");
		}
	}
	if (rc == 0) {
		rc = s->sc.handler(s->sc.handler_arg, &h, body, &out, err, sizeof(err));
	}
	if (rc == -OBJ_EAUTH) {
		atomic_fetch_add(&s->auth_failures, 1);
		log_warn("srv.auth", "refused an unauthenticated %s request",
			 msg_type_name(h.type));
	} else if (rc == -OBJ_EPROTO) {
		atomic_fetch_add(&s->bad_requests, 1);
		log_warn("srv.proto", "refused a malformed %s request (%zu bytes)",
			 msg_type_name(h.type), nng_msg_len(req));
	}
	if (rc < 0) {
		uint32_t hint = out.hint;

		reset_reply(&out);
		msg_put_error(&out.w, err[0] != '\0' ? err : obj_strerror(rc));
		if (rc == -EREMOTE) {
			wr_u32(&out.w, hint); /* where the leader is (meta.h) */
		}
	}
	rep = build_reply(s, &h, rc < 0 ? rc : 0, &out);
	wr_free(&out.w);
	free(out.tail);
	return rep;
}

static void *worker_main(void *arg)
{
	struct server *s = arg;

	for (;;) {
		struct sctx *x;
		nng_msg *rep;

		pthread_mutex_lock(&s->mu);
		while (s->qhead == NULL && !s->stopping) {
			pthread_cond_wait(&s->cv, &s->mu);
		}
		if (s->qhead == NULL) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		x = s->qhead;
		s->qhead = x->qnext;
		if (s->qhead == NULL) {
			s->qtail = NULL;
		}
		pthread_mutex_unlock(&s->mu);

		rep = process(s, x->msg);
		nng_msg_free(x->msg);
		x->msg = NULL;
		if (rep == NULL) {
			/* Cannot answer: drop it; the client times out and
			 * retries.  Receive the next request. */
			x->state = SCTX_RECV;
			nng_ctx_recv(x->ctx, x->aio);
			continue;
		}
		x->state = SCTX_SEND;
		nng_aio_set_msg(x->aio, rep);
		nng_ctx_send(x->ctx, x->aio);
	}
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

int srv_start(const struct srv_config *sc, struct server **out, char *err, size_t errlen)
{
	struct server *s = calloc(1, sizeof(*s));
	int rv;

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->sc = *sc;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->replay = replay_create((uint64_t)sc->max_skew_s * 1000u, SRV_REPLAY_ENTRIES);
	s->ctxs = calloc(sc->n_ctx, sizeof(*s->ctxs));
	s->workers = calloc(sc->n_workers, sizeof(*s->workers));
	if (s->replay == NULL || s->ctxs == NULL || s->workers == NULL) {
		snprintf(err, errlen, "out of memory");
		srv_stop(s);
		return -ENOMEM;
	}
	if ((rv = nng_rep0_open(&s->sock)) != 0) {
		snprintf(err, errlen, "cannot open socket: %s", nng_strerror(rv));
		srv_stop(s);
		return -ENOMEM;
	}
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, frame_size(FRAME_MAX_BODY));
	if ((rv = nng_listen(s->sock, sc->url, NULL, 0)) != 0) {
		int e = listen_error(rv, sc->url, err, errlen);

		srv_stop(s);
		return e;
	}
	for (size_t i = 0; i < sc->n_workers; i++) {
		if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0) {
			snprintf(err, errlen, "cannot start worker threads");
			srv_stop(s);
			return -ENOMEM;
		}
		s->n_workers++;
	}
	for (size_t i = 0; i < sc->n_ctx; i++) {
		struct sctx *x = &s->ctxs[i];

		x->s = s;
		if (nng_aio_alloc(&x->aio, sctx_cb, x) != 0 || nng_ctx_open(&x->ctx, s->sock) != 0) {
			snprintf(err, errlen, "out of memory");
			srv_stop(s);
			return -ENOMEM;
		}
		s->n_ctx++;
		x->state = SCTX_RECV;
		nng_ctx_recv(x->ctx, x->aio);
	}
	*out = s;
	return 0;
}

void srv_stop(struct server *s)
{
	if (s == NULL) {
		return;
	}
	/* 1. Workers finish what is queued (replying on the still open
	 * socket) and exit.  Closing the socket first raced with a worker's
	 * nng_ctx_send on a context being torn down (an nng 1.5.2 panic). */
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < s->n_workers; i++) {
		pthread_join(s->workers[i], NULL);
	}
	/* 2. Stop the network: pending receives fail with NNG_ECLOSED; one
	 * that completed meanwhile stays queued and is freed below. */
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
	free(s->workers);
	replay_destroy(s->replay);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void srv_get_stats(struct server *s, struct srv_stats *st)
{
	st->requests = atomic_load(&s->requests);
	st->auth_failures = atomic_load(&s->auth_failures);
	st->bad_requests = atomic_load(&s->bad_requests);
}
