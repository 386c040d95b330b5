/* server.h: the request loop of objfs-node.
 * Owns the nng rep socket, a fixed set of contexts receiving concurrently
 * (the bound on requests in progress, so memory in flight is bounded and
 * a busy node pushes back through TCP), and two work queues with named
 * roles: "meta" for work that never waits on a disk flush or on consensus,
 * "disk" for fragment I/O and other calls that may block.  nng callbacks
 * only hand received messages to a queue; queue threads authenticate each
 * frame (MAC, replay window), call the handler, and send the sealed reply.
 * A handler may instead defer its reply and finish it later from any
 * thread (a metadata change replies from its Raft commit callback), so no
 * thread waits for consensus.  Never interprets message bodies: that is
 * the handler's job. */
#ifndef OBJFS_SERVER_H
#define OBJFS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/frame.h"
#include "../proto/keys.h"
#include "../proto/wire.h"

struct mx_registry;
struct srv_call; /* one request in progress; owned by the server */

/* What a handler produces: a body written to w (which reserves room for
 * the frame header) and optionally a heap buffer appended after it, which
 * the server frees (so bulk data is copied once, into the message). */
struct srv_reply {
	struct wr w;
	uint8_t *tail;
	size_t tail_len;
	uint32_t hint;	       /* with -EREMOTE: the leader's node id (0 unknown) */
	struct srv_call *call; /* the request being answered, for srv_done */
};

/* Handler return value: the reply will be finished by srv_done(out->call,
 * ...) exactly once, from any thread, possibly before the handler
 * returns.  Until then the request body stays valid. */
#define SRV_DEFER 1

/* Handles one authenticated request from the holder of key who (the
 * cluster secret: caps KEY_CAP_NODE), whose capabilities the handler's
 * dispatch checks.  Returns 0 with the reply body in out, SRV_DEFER, or
 * a negative error; then err may hold text for the client.  who lives
 * until the call is finished. */
typedef int (*srv_handler_fn)(void *arg, const struct frame_hdr *h, const struct key_ent *who,
			      const uint8_t *body, struct srv_reply *out, char *err, size_t errlen);

/* Finds the client key of this id (never KEY_ID_NODE) to open a frame
 * with: 0 with *k filled, or -ENOKEY when no such key exists (never
 * created, or revoked).  Any thread; never blocks. */
typedef int (*srv_key_fn)(void *arg, uint64_t id, struct key_ent *k);

/* Which queue runs a request of this (not yet authenticated) type.
 * SRV_POOL_INLINE runs it on the nng thread that received it, saving two
 * thread hand-offs: only for handlers that are short and never wait
 * (a point query of SQLite, a proposal that replies from its commit). */
enum srv_pool { SRV_POOL_META, SRV_POOL_DISK, SRV_POOL_INLINE };
typedef enum srv_pool (*srv_route_fn)(void *arg, uint8_t type);

struct srv_config {
	const char *url;      /* tcp://host:port to listen on */
	const char *tls_cert; /* with tls_key: listen with TLS (tls+tcp://) */
	const char *tls_key;
	struct frame_key key;
	uint32_t max_skew_s; /* replay window */
	size_t n_ctx;	     /* concurrent requests, e.g. 128 */
	size_t n_meta;	     /* threads of the meta queue, e.g. 2 */
	size_t n_disk;	     /* threads of the disk queue, e.g. 8 */
	srv_handler_fn handler;
	srv_route_fn route; /* NULL: everything on the disk queue */
	void *handler_arg;
	srv_key_fn key_find; /* NULL: only the cluster secret is accepted */
	void *key_arg;
	/* Where requests are counted and timed (objfs_node_request_*,
	 * objfs_node_frames_refused_total); NULL: metrics off. */
	struct mx_registry *metrics;
};

struct srv_stats {
	uint64_t requests;	/* frames received */
	uint64_t auth_failures; /* bad MAC, unknown key or replay */
	uint64_t bad_requests;	/* malformed frames or bodies */
};

struct server;

/* Listens and starts serving.  Returns 0, -EADDRINUSE, -EADDRNOTAVAIL,
 * -EINVAL (bad URL) or -ENOMEM, with a message in err. */
int srv_start(const struct srv_config *sc, struct server **out, char *err, size_t errlen);
/* Stops receiving, finishes requests in progress, frees everything.
 * Deferred replies must all be done first (node_main stops replication,
 * which fails every proposal, before the server). */
void srv_stop(struct server *s);
void srv_get_stats(struct server *s, struct srv_stats *st);

/* The reply of a deferred call, to fill before srv_done. */
struct srv_reply *srv_call_reply(struct srv_call *c);
/* Finishes a deferred call: rc 0 sends the reply body, a negative rc an
 * error reply with err (NULL: the error's own text).  Any thread; never
 * blocks; c is gone when it returns. */
void srv_done(struct srv_call *c, int rc, const char *err);

#endif
