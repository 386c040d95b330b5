/* client.h: the client side of the node protocol.
 * Owns one nng req socket per node (dialled in the background, redialled
 * forever), the connection state of every node, and the authenticated
 * request/reply exchange.  Requests to many nodes run in parallel on nng
 * contexts; cl_run blocks its caller until all have finished, while nng's
 * own threads drive the exchanges (callbacks only change state and never
 * block).  Knows nothing of fragments or objects: callers build bodies
 * with proto/msg.h.  Thread-safe: any number of threads may call cl_run. */
#ifndef OBJFS_CLIENT_H
#define OBJFS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/msg.h"
#include "config.h"

struct cl;

/* One request to one node, and after cl_run its outcome. */
struct cl_req {
	/* in: filled by the caller, borrowed until cl_run returns */
	size_t node;	  /* index into cfg->nodes */
	uint8_t type;	  /* enum msg_type */
	uint16_t flags;	  /* frame flags, e.g. FRAME_F_STALE_OK */
	uint8_t once;	  /* no transport retry: the caller fails over */
	const void *body; /* first body segment (e.g. packed fields) */
	size_t body_len;
	const void *data; /* optional second segment (e.g. fragment bytes) */
	size_t data_len;
	/* out */
	int status;	       /* 0, the node's negative error, or a transport
				* error: -ETIMEDOUT, -EHOSTDOWN (not connected),
				* -OBJ_EAUTH / -OBJ_EPROTO (bad reply) */
	char err[MSG_ERR_MAX]; /* the node's error text, if it sent one */
	uint32_t hint;	       /* -EREMOTE: the leader's node id, 0 unknown */
	const uint8_t *reply;  /* reply body (valid until cl_req_release) */
	size_t reply_len;
	void *priv_msg; /* the reply message; internal */
};

/* Connects to every node of cfg (non-blocking: dials continue in the
 * background).  cfg must outlive the client.  Returns 0 or -ENOMEM/-EIO. */
int cl_open(const struct cfg *cfg, struct cl **out);
void cl_close(struct cl *cl);

/* Runs reqs[0..n) in parallel and waits for all.  Each request is retried
 * on a transport failure up to cfg->retries times (every objfs request is
 * idempotent).  A node that is not connected fails at once with
 * -EHOSTDOWN, except during the first connect grace period after
 * cl_open.  timeout_ms 0 means cfg->timeout_ms.  Returns the number of
 * requests whose status is 0.  Each request must be released with
 * cl_req_release afterwards. */
int cl_run(struct cl *cl, struct cl_req *reqs, size_t n, uint32_t timeout_ms);

/* Frees the reply of one request (safe on a request that failed). */
void cl_req_release(struct cl_req *r);

/* True when the client currently has a connection to node i. */
int cl_node_up(struct cl *cl, size_t i);

/* Requests resent after a timeout or dropped connection, and requests
 * that timed out (each attempt counts), since cl_open. */
struct cl_stats {
	uint64_t retries, timeouts;
};
void cl_get_stats(struct cl *cl, struct cl_stats *out);

/* Waits up to ms for connections to all nodes; returns how many are up. */
size_t cl_wait_connected(struct cl *cl, uint32_t ms);

const struct cfg *cl_cfg(const struct cl *cl);

#endif
