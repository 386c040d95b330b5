/* client.c: parallel authenticated requests to nodes over nng (see client.h).
 *
 * Each request of a cl_run batch becomes a `call`: an nng context plus an
 * aio driven by call_cb through two states, SEND then RECV.  Callbacks run
 * on nng's threads; they only move state, start the next aio or count the
 * call as finished.  Verifying the reply's MAC (CPU work proportional to
 * its size) happens afterwards on the caller's thread.
 *
 * Failure handling:
 *  - a node without a connection fails fast with -EHOSTDOWN (after a short
 *    grace period following cl_open, during which the first dial may still
 *    be under way);
 *  - when a node's connection drops, every call in flight to it is aborted
 *    at once (pipe_cb), instead of waiting out its timeout;
 *  - a timeout or dropped connection is retried up to cfg->retries times
 *    with a fresh frame (new req_id, timestamp and nonce), which is safe
 *    because every request of the protocol is idempotent. */
#include "client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../proto/frame.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "rand.h"
#include "tls.h"

/* How long after cl_open a not-yet-connected node is waited for rather
 * than failed: the first TCP connect on loopback takes well under 100 ms. */
#define CL_CONNECT_GRACE_MS 1500
/* How long cl_open waits for its reachability probe (probe_nodes). */
#define CL_PROBE_MS 200

struct call;

struct cl_node {
	int refused; /* a TCP probe at cl_open was refused: no grace */
	nng_socket sock;
	nng_dialer dialer;
	atomic_int npipes;  /* live connections (0 or 1 for a req dialer) */
	pthread_mutex_t mu; /* guards calls */
	struct call *calls; /* in flight to this node */
};

struct cl {
	const struct cfg *cfg;
	struct frame_key key;
	struct cl_node *nodes;
	size_t n_nodes;
	uint64_t open_ms;
	atomic_uint_fast64_t next_id;
	atomic_uint_fast64_t retries, timeouts; /* cl_get_stats */
};

struct batch {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t pending; /* guarded by mu */
};

enum call_state { CALL_IDLE, CALL_SEND, CALL_RECV, CALL_DONE };

struct call {
	struct cl *cl;
	struct cl_req *r;
	struct batch *b;
	nng_ctx ctx;
	nng_aio *aio;
	enum call_state state;
	unsigned attempts;
	uint32_t timeout_ms;
	uint64_t req_id, nonce;
	int rv; /* nng error of the last attempt */
	nng_msg *reply;
	struct call *next, *prev; /* node->calls, under node->mu */
};

static int nng_to_errno(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case NNG_ETIMEDOUT:
		return -ETIMEDOUT;
	case NNG_ENOMEM:
		return -ENOMEM;
	case NNG_ECONNREFUSED:
		return -ECONNREFUSED;
	case NNG_ECONNSHUT:
	case NNG_ECONNRESET:
	case NNG_ECONNABORTED:
	case NNG_ECANCELED:
		return -EHOSTDOWN;
	case NNG_ECLOSED:
		return -ESHUTDOWN;
	case NNG_EMSGSIZE:
		return -EMSGSIZE;
	default:
		return -EIO;
	}
}

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct cl_node *n = arg;

	(void)p;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_fetch_add(&n->npipes, 1);
		return;
	}
	if (ev != NNG_PIPE_EV_REM_POST) {
		return;
	}
	atomic_fetch_sub(&n->npipes, 1);
	/* The req protocol would hold these until their timeout and then
	 * resend on the next connection; fail them now so the caller can
	 * read from another node at once.  nng_aio_abort only schedules the
	 * completion, so holding mu here cannot deadlock with call_cb. */
	pthread_mutex_lock(&n->mu);
	for (struct call *c = n->calls; c != NULL; c = c->next) {
		nng_aio_abort(c->aio, NNG_ECONNSHUT);
	}
	pthread_mutex_unlock(&n->mu);
}

/* Splits tcp://host:port; returns 0 or -EINVAL. */
static int parse_tcp(const char *url, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[CFG_ADDR_MAX];
	const char *p, *colon;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;

	if (strncmp(url, "tcp://", 6) != 0) {
		return -EINVAL;
	}
	p = url + 6;
	colon = strrchr(p, ':');
	if (colon == NULL || (size_t)(colon - p) >= sizeof(host)) {
		return -EINVAL;
	}
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	if (host[0] == '[') { /* [v6] */
		memmove(host, host + 1, strlen(host));
		host[strcspn(host, "]")] = '\0';
	}
	if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
		return -EINVAL;
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* Connects to every node at once with plain non-blocking sockets and
 * notes the ones that refuse within CL_PROBE_MS.  A refused node is down
 * now, so requests to it fail at once instead of waiting out the connect
 * grace period.  Costs one round trip on a healthy cluster. */
static void probe_nodes(struct cl *cl)
{
	struct pollfd *pf = calloc(cl->n_nodes, sizeof(*pf));
	uint64_t until = clock_mono_ms() + CL_PROBE_MS;
	size_t open = 0;

	if (pf == NULL) {
		return;
	}
	for (size_t i = 0; i < cl->n_nodes; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		int fd;

		pf[i].fd = -1;
		if (parse_tcp(cl->cfg->nodes[i].addr, &ss, &len) != 0) {
			continue;
		}
		fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			continue;
		}
		if (connect(fd, (struct sockaddr *)&ss, len) == 0) {
			close(fd);
			continue;
		}
		if (errno != EINPROGRESS) {
			cl->nodes[i].refused = errno == ECONNREFUSED;
			close(fd);
			continue;
		}
		pf[i].fd = fd;
		pf[i].events = POLLOUT;
		open++;
	}
	while (open > 0 && clock_mono_ms() < until) {
		if (poll(pf, cl->n_nodes, (int)(until - clock_mono_ms())) <= 0) {
			break;
		}
		for (size_t i = 0; i < cl->n_nodes; i++) {
			int err = 0;
			socklen_t el = sizeof(err);

			if (pf[i].fd < 0 || pf[i].revents == 0) {
				continue;
			}
			getsockopt(pf[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
			cl->nodes[i].refused = err == ECONNREFUSED;
			close(pf[i].fd);
			pf[i].fd = -1;
			open--;
		}
	}
	for (size_t i = 0; i < cl->n_nodes; i++) {
		if (pf[i].fd >= 0) {
			close(pf[i].fd);
		}
	}
	free(pf);
}

/* Starts a dialer of sock to node i, over TLS when the config says so
 * (flags: NNG_FLAG_NONBLOCK, or 0 for one attempt, synchronously).
 * 0 or an nng error. */
static int dial(const struct cfg *cfg, size_t i, nng_socket sock, nng_dialer *d, int flags)
{
	char url[CFG_ADDR_MAX + 8], host[CFG_ADDR_MAX], err[256];
	nng_tls_config *tc = NULL;
	int rv;

	if (!tls_on(cfg)) {
		return nng_dial(sock, cfg->nodes[i].addr, d, flags);
	}
	tls_url(cfg->nodes[i].addr, 1, url, sizeof(url));
	tls_host_of(cfg->nodes[i].addr, host, sizeof(host));
	if (tls_client_config(cfg->tls_ca, host, &tc, err, sizeof(err)) != 0) {
		log_error("cl.tls", "%s", err);
		return NNG_EINVAL;
	}
	rv = nng_dialer_create(d, sock, url);
	if (rv == 0) {
		rv = nng_dialer_set_ptr(*d, NNG_OPT_TLS_CONFIG, tc);
	}
	if (rv == 0) {
		rv = nng_dialer_start(*d, flags);
	}
	nng_tls_config_free(tc); /* the dialer holds its own reference */
	return rv;
}

/* With TLS, one handshake with every node that accepts TCP, so that a
 * certificate that is not trusted (a wrong tls_ca) is reported, once and
 * clearly, instead of showing only as a node that never connects. */
static void check_tls(struct cl *cl)
{
	for (size_t i = 0; i < cl->n_nodes; i++) {
		char why[512];
		nng_socket s;
		nng_dialer d;
		int rv;

		if (cl->nodes[i].refused || nng_req0_open(&s) != 0) {
			continue;
		}
		rv = dial(cl->cfg, i, s, &d, 0);
		if (rv != 0 && rv != NNG_ECONNREFUSED) {
			log_error("cl.tls", "node %u (%s): %s", cl->cfg->nodes[i].id,
				  cl->cfg->nodes[i].addr,
				  tls_dial_error(rv, cl->cfg->tls_ca, why, sizeof(why)));
		}
		nng_close(s);
	}
}

int cl_open(const struct cfg *cfg, struct cl **out)
{
	struct cl *cl = calloc(1, sizeof(*cl));
	uint64_t seed;
	int rv;

	if (cl == NULL) {
		return -ENOMEM;
	}
	if ((rv = rand_u64(&seed)) != 0) {
		free(cl);
		return rv;
	}
	cl->cfg = cfg;
	if (cfg->has_client_key) {
		memcpy(cl->key.secret, cfg->client_key.secret, KEY_SECRET_LEN);
		cl->key.len = KEY_SECRET_LEN;
		cl->key.id = cfg->client_key.id;
	} else {
		memcpy(cl->key.secret, cfg->secret, cfg->secret_len);
		cl->key.len = cfg->secret_len;
	}
	cl->n_nodes = cfg->n_nodes;
	cl->open_ms = clock_mono_ms();
	atomic_init(&cl->next_id, ((uint64_t)getpid() << 32) ^ seed);
	cl->nodes = calloc(cfg->n_nodes, sizeof(*cl->nodes));
	if (cl->nodes == NULL) {
		free(cl);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		struct cl_node *n = &cl->nodes[i];

		pthread_mutex_init(&n->mu, NULL);
		atomic_init(&n->npipes, 0);
		if ((rv = nng_req0_open(&n->sock)) != 0) {
			goto fail;
		}
		/* Retry is ours, deliberate and bounded (see top comment). */
		nng_socket_set_ms(n->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
		nng_socket_set_size(n->sock, NNG_OPT_RECVMAXSZ, frame_size(FRAME_MAX_BODY));
		nng_socket_set_ms(n->sock, NNG_OPT_RECONNMINT, 50);
		nng_socket_set_ms(n->sock, NNG_OPT_RECONNMAXT, 1000);
		nng_pipe_notify(n->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, n);
		nng_pipe_notify(n->sock, NNG_PIPE_EV_REM_POST, pipe_cb, n);
		rv = dial(cfg, i, n->sock, &n->dialer, NNG_FLAG_NONBLOCK);
		if (rv != 0) {
			log_error("cl.dial", "node %u: cannot dial %s: %s", cfg->nodes[i].id,
				  cfg->nodes[i].addr, nng_strerror(rv));
			goto fail;
		}
	}
	probe_nodes(cl);
	if (tls_on(cfg)) {
		check_tls(cl);
	}
	*out = cl;
	return 0;
fail:
	cl_close(cl);
	return rv == NNG_ENOMEM ? -ENOMEM : -EIO;
}

void cl_close(struct cl *cl)
{
	if (cl == NULL) {
		return;
	}
	for (size_t i = 0; i < cl->n_nodes; i++) {
		if (nng_socket_id(cl->nodes[i].sock) > 0) {
			nng_close(cl->nodes[i].sock);
		}
		pthread_mutex_destroy(&cl->nodes[i].mu);
	}
	free(cl->nodes);
	free(cl);
}

const struct cfg *cl_cfg(const struct cl *cl)
{
	return cl->cfg;
}

int cl_node_up(struct cl *cl, size_t i)
{
	return i < cl->n_nodes && atomic_load(&cl->nodes[i].npipes) > 0;
}

size_t cl_wait_connected(struct cl *cl, uint32_t ms)
{
	uint64_t until = clock_mono_ms() + ms;
	size_t up;

	for (;;) {
		up = 0;
		for (size_t i = 0; i < cl->n_nodes; i++) {
			up += cl_node_up(cl, i) ? 1 : 0;
		}
		if (up == cl->n_nodes || clock_mono_ms() >= until) {
			return up;
		}
		usleep(5000);
	}
}

static void call_link(struct call *c)
{
	struct cl_node *n = &c->cl->nodes[c->r->node];

	pthread_mutex_lock(&n->mu);
	c->prev = NULL;
	c->next = n->calls;
	if (n->calls != NULL) {
		n->calls->prev = c;
	}
	n->calls = c;
	pthread_mutex_unlock(&n->mu);
}

static void call_unlink(struct call *c)
{
	struct cl_node *n = &c->cl->nodes[c->r->node];

	pthread_mutex_lock(&n->mu);
	if (c->prev != NULL) {
		c->prev->next = c->next;
	} else {
		n->calls = c->next;
	}
	if (c->next != NULL) {
		c->next->prev = c->prev;
	}
	c->next = c->prev = NULL;
	pthread_mutex_unlock(&n->mu);
}

static void call_finish(struct call *c, int rv)
{
	struct batch *b = c->b;

	c->rv = rv;
	c->state = CALL_DONE;
	call_unlink(c);
	pthread_mutex_lock(&b->mu);
	if (--b->pending == 0) {
		pthread_cond_signal(&b->cv);
	}
	pthread_mutex_unlock(&b->mu);
	/* c may be freed by the waiter from here on: touch nothing. */
}

/* Builds a freshly sealed frame and starts sending it.  Returns an nng
 * error if the attempt could not even start. */
static int call_start(struct call *c)
{
	struct cl_req *r = c->r;
	struct frame_hdr h = {0};
	size_t body = r->body_len + r->data_len;
	nng_msg *m;
	uint8_t *p;
	int rv;

	if (rand_u64(&c->nonce) != 0) {
		return NNG_EINTERNAL; /* logged by rand_bytes */
	}
	if ((rv = nng_msg_alloc(&m, frame_size(body))) != 0) {
		return rv;
	}
	p = nng_msg_body(m);
	if (r->body_len > 0) {
		memcpy(p + FRAME_HDR_LEN, r->body, r->body_len);
	}
	if (r->data_len > 0) {
		memcpy(p + FRAME_HDR_LEN + r->body_len, r->data, r->data_len);
	}
	c->req_id = atomic_fetch_add(&c->cl->next_id, 1);
	h.type = r->type;
	h.flags = r->flags & (uint16_t)~FRAME_F_REPLY;
	h.req_id = c->req_id;
	h.ts_ms = frame_now_ms();
	h.nonce = c->nonce;
	h.body_len = (uint32_t)body;
	if (frame_seal(&c->cl->key, &h, p) != 0) {
		nng_msg_free(m);
		return NNG_EINTERNAL;
	}
	c->attempts++;
	c->state = CALL_SEND;
	nng_aio_set_timeout(c->aio, (nng_duration)c->timeout_ms);
	nng_aio_set_msg(c->aio, m);
	nng_ctx_send(c->ctx, c->aio);
	return 0;
}

static int retryable(int rv)
{
	return rv == NNG_ETIMEDOUT || rv == NNG_ECONNSHUT || rv == NNG_ECONNRESET ||
	       rv == NNG_ECONNREFUSED;
}

static void call_cb(void *arg)
{
	struct call *c = arg;
	int rv = nng_aio_result(c->aio);

	if (rv == 0 && c->state == CALL_SEND) {
		c->state = CALL_RECV;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (rv == 0) {
		c->reply = nng_aio_get_msg(c->aio);
		call_finish(c, 0);
		return;
	}
	if (c->state == CALL_SEND) {
		nng_msg *m = nng_aio_get_msg(c->aio); /* a failed send leaves it to us */

		if (m != NULL) {
			nng_msg_free(m);
		}
	}
	/* Retry only a node that is still connected: one that went away
	 * fails at once, so the caller can use another (a timed-out request
	 * to a dead node must not wait out a second timeout). */
	if (rv == NNG_ETIMEDOUT) {
		atomic_fetch_add_explicit(&c->cl->timeouts, 1, memory_order_relaxed);
	}
	if (retryable(rv) && !c->r->once && c->attempts <= c->cl->cfg->retries &&
	    cl_node_up(c->cl, c->r->node)) {
		int srv;

		atomic_fetch_add_explicit(&c->cl->retries, 1, memory_order_relaxed);
		srv = call_start(c);

		if (srv == 0) {
			return;
		}
		rv = srv;
	}
	call_finish(c, rv);
}

/* True when an unverifiable reply says (status field, frame.h) that the
 * node refused our frame's tag. */
static int refused_tag(nng_msg *m)
{
	struct rd rd;

	if (nng_msg_len(m) < FRAME_HDR_LEN) {
		return 0;
	}
	rd_init(&rd, (const uint8_t *)nng_msg_body(m) + 32, 4);
	return (int32_t)rd_u32(&rd) == -OBJ_EAUTH;
}

/* Checks and decodes the reply of a finished call into its request. */
static void call_reply(struct call *c)
{
	struct cl_req *r = c->r;
	struct frame_hdr h;
	const uint8_t *body;
	int rc;

	if (c->reply == NULL) {
		r->status = c->rv == NNG_ECONNSHUT && !cl_node_up(c->cl, r->node)
				? -EHOSTDOWN
				: nng_to_errno(c->rv);
		return;
	}
	rc = frame_open(&c->cl->key, nng_msg_body(c->reply), nng_msg_len(c->reply), &h, &body);
	if (rc == 0 && (!(h.flags & FRAME_F_REPLY) || h.type != r->type || h.req_id != c->req_id ||
			h.nonce != c->nonce)) {
		rc = -OBJ_EAUTH; /* not the reply to this request: refuse it */
	}
	if (rc == -EPROTONOSUPPORT) {
		snprintf(r->err, sizeof(r->err),
			 "node %u speaks objfs protocol version %u, this client %u: run one "
			 "release on every node and client",
			 c->cl->cfg->nodes[r->node].id,
			 frame_version(nng_msg_body(c->reply), nng_msg_len(c->reply)),
			 FRAME_VERSION);
		log_error("cl.version", "%s", r->err);
	} else if (rc == -OBJ_EAUTH && c->cl->key.id != KEY_ID_NODE &&
		   frame_peek_key(nng_msg_body(c->reply), nng_msg_len(c->reply)) != c->cl->key.id) {
		/* A node that does not know our key cannot seal with it: it
		 * answered under its own.  Unauthenticated, so it can only
		 * ever make a call fail, which an attacker on the path can do
		 * anyway. */
		rc = -ENOKEY;
		snprintf(r->err, sizeof(r->err),
			 "node %u does not know key '%s' (revoked, or not yet known there)",
			 c->cl->cfg->nodes[r->node].id, c->cl->cfg->client_key.name);
		log_debug("cl.key", "%s", r->err);
	} else if (rc == -OBJ_EAUTH && c->cl->key.id != KEY_ID_NODE && refused_tag(c->reply)) {
		/* It knows the key but not our secret: a key file damaged or
		 * of another cluster.  Unauthenticated too (see above). */
		snprintf(r->err, sizeof(r->err),
			 "node %u refused the tag of key '%s' (wrong secret)",
			 c->cl->cfg->nodes[r->node].id, c->cl->cfg->client_key.name);
		log_debug("cl.key", "%s", r->err);
	} else if (rc != 0) {
		log_warn("cl.reply", "node %u: %s reply refused: %s", c->cl->cfg->nodes[r->node].id,
			 msg_type_name(r->type), obj_strerror(rc));
	}
	if (rc != 0) {
		r->status = rc;
		return;
	}
	r->priv_msg = c->reply;
	c->reply = NULL;
	if (h.status < 0) {
		struct rd rd;

		rd_init(&rd, body, h.body_len);
		msg_get_error(&rd, r->err, sizeof(r->err));
		r->hint = h.status == -EREMOTE && rd.left == 4 ? rd_u32(&rd) : 0;
		r->status = h.status;
		return;
	}
	r->status = 0;
	r->reply = body;
	r->reply_len = h.body_len;
}

int cl_run(struct cl *cl, struct cl_req *reqs, size_t n, uint32_t timeout_ms)
{
	struct batch b = {.pending = 0};
	struct call *calls;
	int ok = 0;

	if (timeout_ms == 0) {
		timeout_ms = cl->cfg->timeout_ms;
	}
	calls = calloc(n ? n : 1, sizeof(*calls));
	if (calls == NULL) {
		for (size_t i = 0; i < n; i++) {
			reqs[i].status = -ENOMEM;
		}
		return 0;
	}
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);

	/* Shortly after cl_open, give the first dials a chance to finish. */
	for (size_t i = 0; i < n; i++) {
		uint64_t grace_end = cl->open_ms + CL_CONNECT_GRACE_MS;

		while (reqs[i].node < cl->n_nodes && !cl_node_up(cl, reqs[i].node) &&
		       !cl->nodes[reqs[i].node].refused && clock_mono_ms() < grace_end) {
			usleep(5000);
		}
	}

	pthread_mutex_lock(&b.mu);
	for (size_t i = 0; i < n; i++) {
		struct call *c = &calls[i];
		struct cl_req *r = &reqs[i];

		r->status = -EIO;
		r->err[0] = '\0';
		r->hint = 0;
		r->reply = NULL;
		r->reply_len = 0;
		r->priv_msg = NULL;
		c->cl = cl;
		c->r = r;
		c->b = &b;
		c->timeout_ms = timeout_ms;
		c->state = CALL_IDLE;
		if (r->node >= cl->n_nodes) {
			r->status = -EINVAL;
			continue;
		}
		if (!cl_node_up(cl, r->node)) {
			r->status = -EHOSTDOWN;
			continue;
		}
		if (nng_aio_alloc(&c->aio, call_cb, c) != 0 ||
		    nng_ctx_open(&c->ctx, cl->nodes[r->node].sock) != 0) {
			r->status = -ENOMEM;
			continue;
		}
		b.pending++;
		call_link(c);
		/* The connection may have dropped between the check above and
		 * the link: pipe_cb only aborts calls it can see. */
		if (!cl_node_up(cl, r->node) || call_start(c) != 0) {
			call_unlink(c);
			b.pending--;
			r->status = cl_node_up(cl, r->node) ? -ENOMEM : -EHOSTDOWN;
			continue;
		}
	}
	while (b.pending > 0) {
		pthread_cond_wait(&b.cv, &b.mu);
	}
	pthread_mutex_unlock(&b.mu);

	for (size_t i = 0; i < n; i++) {
		struct call *c = &calls[i];

		if (c->aio != NULL) {
			nng_aio_free(c->aio); /* waits for a callback still returning */
			nng_ctx_close(c->ctx);
			if (c->state == CALL_DONE) {
				call_reply(c);
			}
			if (c->reply != NULL) {
				nng_msg_free(c->reply);
			}
		}
		ok += reqs[i].status == 0 ? 1 : 0;
	}
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
	free(calls);
	return ok;
}

void cl_req_release(struct cl_req *r)
{
	if (r->priv_msg != NULL) {
		nng_msg_free(r->priv_msg);
	}
	r->priv_msg = NULL;
	r->reply = NULL;
	r->reply_len = 0;
}

void cl_get_stats(struct cl *cl, struct cl_stats *out)
{
	out->retries = atomic_load_explicit(&cl->retries, memory_order_relaxed);
	out->timeouts = atomic_load_explicit(&cl->timeouts, memory_order_relaxed);
}
