/* server.h: the request loop of objfs-node.
 * Owns the nng rep socket, a fixed set of contexts receiving concurrently,
 * and a small pool of worker threads.  nng callbacks only hand received
 * messages to the pool; workers authenticate each frame (MAC, replay
 * window), call the handler, and send the sealed reply.  Never interprets
 * message bodies: that is the handler's job. */
#ifndef OBJFS_SERVER_H
#define OBJFS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/frame.h"
#include "../proto/wire.h"

/* What a handler produces: a body written to w (which reserves room for
 * the frame header) and optionally a heap buffer appended after it, which
 * the server frees (so bulk data is copied once, into the message). */
struct srv_reply {
	struct wr w;
	uint8_t *tail;
	size_t tail_len;
	uint32_t hint;  /* with -EREMOTE: the leader's node id (0 unknown) */
};

/* Handles one authenticated request.  Returns 0 with the reply body in
 * out, or a negative error; then err may hold text for the client. */
typedef int (*srv_handler_fn)(void *arg, const struct frame_hdr *h, const uint8_t *body,
			      struct srv_reply *out, char *err, size_t errlen);

struct srv_config {
	const char *url;         /* tcp://host:port to listen on */
	struct frame_key key;
	uint32_t max_skew_s;     /* replay window */
	size_t n_ctx;            /* concurrent receives, e.g. 64 */
	size_t n_workers;        /* worker threads, e.g. 8 */
	srv_handler_fn handler;
	void *handler_arg;
};

struct srv_stats {
	uint64_t requests;      /* frames received */
	uint64_t auth_failures; /* bad MAC or replay */
	uint64_t bad_requests;  /* malformed frames or bodies */
};

struct server;

/* Listens and starts serving.  Returns 0, -EADDRINUSE, -EADDRNOTAVAIL,
 * -EINVAL (bad URL) or -ENOMEM, with a message in err. */
int srv_start(const struct srv_config *sc, struct server **out, char *err, size_t errlen);
/* Stops receiving, finishes requests in progress, frees everything. */
void srv_stop(struct server *s);
void srv_get_stats(struct server *s, struct srv_stats *st);

#endif
