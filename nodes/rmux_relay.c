/* rmux_relay.c: sealed relay between a TCP connection and c-raft's end of
 * a socketpair (see rmux_relay.h).
 *
 * Flow control: a side whose write queue holds more than RELAY_HIGH bytes
 * stops reading the other side until it drains below RELAY_LOW, so a slow
 * peer pushes back on c-raft through the socketpair instead of growing
 * our memory. */
#include "rmux_relay.h"

#include <errno.h>
#include <raft.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/err.h"
#include "../common/log.h"

#define RELAY_HIGH (8u << 20)
#define RELAY_LOW (1u << 20)
/* Room for one whole chunk plus one read behind it. */
#define RELAY_RBUF (CHUNK_MAX + CHUNK_OVERHEAD + 65536)

static atomic_uint_fast64_t refused;

struct relay {
	uv_tcp_t *tcp;	 /* the network side */
	uv_pipe_t inner; /* our end of the socketpair */
	struct chunk_key tx, rx;
	uint8_t *rbuf; /* chunks from tcp, not yet whole */
	size_t have;
	int tcp_stopped, inner_stopped; /* reads paused by flow control */
	int closing, handles;		/* handles still open */
	char what[96];			/* for messages: group and peer */
	struct relay *next, **prevp;
};

struct wreq {
	uv_write_t w;
	struct relay *r;
	uint8_t data[];
};

static void tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);
static void inner_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);
static void alloc_plain(uv_handle_t *h, size_t suggested, uv_buf_t *b);
static void alloc_sealed(uv_handle_t *h, size_t suggested, uv_buf_t *b);

static void free_raft_handle(uv_handle_t *h)
{
	raft_free(h);
}

static void handle_closed(uv_handle_t *h)
{
	struct relay *r = h->data;

	if (h == (uv_handle_t *)r->tcp) {
		raft_free(r->tcp);
	}
	if (--r->handles == 0) {
		chunk_key_free(&r->tx);
		chunk_key_free(&r->rx);
		free(r->rbuf);
		free(r);
	}
}

/* Closes both sides; why (NULL: an orderly end) goes to the log, as a
 * warning when the peer broke the stream's seal (refusal). */
static void relay_close2(struct relay *r, const char *why, int refusal)
{
	if (r->closing) {
		return;
	}
	r->closing = 1;
	if (refusal) {
		log_warn("rmux.stream", "replication stream %s dropped: %s", r->what, why);
	} else if (why != NULL) {
		log_debug("rmux.stream", "replication stream %s closed: %s", r->what, why);
	}
	if (r->prevp != NULL) {
		*r->prevp = r->next;
		if (r->next != NULL) {
			r->next->prevp = r->prevp;
		}
		r->prevp = NULL;
	}
	uv_close((uv_handle_t *)r->tcp, handle_closed);
	uv_close((uv_handle_t *)&r->inner, handle_closed);
}

static void relay_close(struct relay *r, const char *why)
{
	relay_close2(r, why, 0);
}

static size_t queued(void *stream)
{
	return uv_stream_get_write_queue_size((uv_stream_t *)stream);
}

static void write_done(uv_write_t *w, int status)
{
	struct wreq *q = (struct wreq *)w;
	struct relay *r = q->r;

	free(q);
	if (r->closing) {
		return;
	}
	if (status != 0) {
		relay_close(r, uv_strerror(status));
		return;
	}
	/* Resume a side paused while the other's queue was full. */
	if (r->inner_stopped && queued(r->tcp) < RELAY_LOW) {
		r->inner_stopped = 0;
		uv_read_start((uv_stream_t *)&r->inner, alloc_plain, inner_read);
	}
	if (r->tcp_stopped && queued(&r->inner) < RELAY_LOW) {
		r->tcp_stopped = 0;
		uv_read_start((uv_stream_t *)r->tcp, alloc_sealed, tcp_read);
	}
}

/* Queues a write of q (n bytes in q->data) on s. */
static int send_req(struct relay *r, uv_stream_t *s, struct wreq *q, size_t n)
{
	uv_buf_t b = uv_buf_init((char *)q->data, (unsigned)n);
	int rv;

	q->r = r;
	rv = uv_write(&q->w, s, &b, 1, write_done);
	if (rv != 0) {
		free(q);
		relay_close(r, uv_strerror(rv));
	}
	return rv;
}

static void alloc_plain(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	(void)h;
	if (suggested > CHUNK_MAX) {
		suggested = CHUNK_MAX;
	}
	b->base = malloc(suggested);
	b->len = b->base != NULL ? suggested : 0;
}

/* c-raft wrote: seal and send. */
static void inner_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct relay *r = s->data;
	struct wreq *q;

	if (n < 0 || r->closing) {
		free(b->base);
		relay_close(r, NULL); /* c-raft closed its end */
		return;
	}
	if (n == 0) {
		free(b->base);
		return;
	}
	q = malloc(sizeof(*q) + (size_t)n + CHUNK_OVERHEAD);
	if (q == NULL || chunk_seal(&r->tx, b->base, (size_t)n, q->data) != 0) {
		free(q);
		free(b->base);
		relay_close(r, "cannot seal a chunk");
		return;
	}
	free(b->base);
	if (send_req(r, (uv_stream_t *)r->tcp, q, (size_t)n + CHUNK_OVERHEAD) == 0 &&
	    queued(r->tcp) > RELAY_HIGH) {
		r->inner_stopped = 1;
		uv_read_stop(s);
	}
}

static void alloc_sealed(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	struct relay *r = h->data;

	(void)suggested;
	b->base = (char *)r->rbuf + r->have;
	b->len = RELAY_RBUF - r->have;
}

/* Sealed bytes arrived: open every whole chunk and hand it to c-raft. */
static void tcp_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct relay *r = s->data;
	size_t off = 0;

	(void)b;
	if (r->closing) {
		return;
	}
	if (n < 0) {
		relay_close(r, n == UV_EOF ? NULL : uv_strerror((int)n));
		return;
	}
	r->have += (size_t)n;
	for (;;) {
		uint8_t *plain;
		size_t plen;
		ssize_t used = chunk_open(&r->rx, r->rbuf + off, r->have - off, &plain, &plen);
		struct wreq *q;

		if (used == 0) {
			break;
		}
		if (used < 0) {
			atomic_fetch_add(&refused, 1);
			relay_close2(r,
				     used == -OBJ_EAUTH
					 ? "a chunk failed its tag (altered, injected or replayed)"
					 : "malformed chunk",
				     1);
			return;
		}
		q = malloc(sizeof(*q) + plen);
		if (q == NULL) {
			relay_close(r, "out of memory");
			return;
		}
		memcpy(q->data, plain, plen);
		off += (size_t)used;
		if (send_req(r, (uv_stream_t *)&r->inner, q, plen) != 0) {
			return;
		}
	}
	memmove(r->rbuf, r->rbuf + off, r->have - off);
	r->have -= off;
	if (queued(&r->inner) > RELAY_HIGH) {
		r->tcp_stopped = 1;
		uv_read_stop(s);
	}
}

int rmux_relay_start(uv_loop_t *loop, uv_tcp_t *tcp, const uint8_t tx[CHUNK_KEY_LEN],
		     const uint8_t rx[CHUNK_KEY_LEN], const void *prefix, size_t prefix_len,
		     const char *what, struct relay **list, uv_stream_t **outer)
{
	struct relay *r = calloc(1, sizeof(*r));
	uv_pipe_t *o = raft_malloc(sizeof(*o));
	int sv[2] = {-1, -1}, rc = -ENOMEM;

	if (r == NULL || o == NULL || (r->rbuf = malloc(RELAY_RBUF)) == NULL) {
		goto fail;
	}
	if (chunk_key_init(&r->tx, tx) != 0 || chunk_key_init(&r->rx, rx) != 0) {
		goto fail;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
		rc = -errno;
		goto fail;
	}
	uv_pipe_init(loop, &r->inner, 0);
	uv_pipe_init(loop, o, 0);
	if (uv_pipe_open(&r->inner, sv[0]) != 0 || uv_pipe_open(o, sv[1]) != 0) {
		/* Both handles are initialised: close them through the loop. */
		r->tcp = tcp;
		tcp->data = r;
		r->inner.data = r;
		r->handles = 2;
		r->closing = 1;
		uv_close((uv_handle_t *)tcp, handle_closed);
		uv_close((uv_handle_t *)&r->inner, handle_closed);
		uv_close((uv_handle_t *)o, free_raft_handle);
		return -EIO;
	}
	r->tcp = tcp;
	tcp->data = r;
	r->inner.data = r;
	r->handles = 2;
	snprintf(r->what, sizeof(r->what), "%s", what);
	r->next = *list;
	if (r->next != NULL) {
		r->next->prevp = &r->next;
	}
	r->prevp = list;
	*list = r;
	if (prefix_len > 0) {
		struct wreq *q = malloc(sizeof(*q) + prefix_len);

		if (q == NULL) {
			relay_close(r, "out of memory");
			uv_close((uv_handle_t *)o, free_raft_handle);
			return -ENOMEM;
		}
		memcpy(q->data, prefix, prefix_len);
		if (send_req(r, (uv_stream_t *)tcp, q, prefix_len) != 0) {
			uv_close((uv_handle_t *)o, free_raft_handle);
			return -EIO;
		}
	}
	uv_read_start((uv_stream_t *)tcp, alloc_sealed, tcp_read);
	uv_read_start((uv_stream_t *)&r->inner, alloc_plain, inner_read);
	*outer = (uv_stream_t *)o;
	return 0;
fail:
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	if (r != NULL) {
		chunk_key_free(&r->tx);
		chunk_key_free(&r->rx);
		free(r->rbuf);
	}
	free(r);
	raft_free(o);
	uv_close((uv_handle_t *)tcp, free_raft_handle);
	return rc;
}

void rmux_relay_close_all(struct relay **list)
{
	while (*list != NULL) {
		relay_close(*list, NULL);
	}
}

uint64_t rmux_relay_refused(void)
{
	return atomic_load(&refused);
}
