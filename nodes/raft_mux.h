/* raft_mux.h: one TCP listener per node that carries the Raft traffic of
 * every metadata shard group, as c-raft transports (struct
 * raft_uv_transport).  A connection starts with an authenticated preamble
 * naming the group, the sender's raft id and address; the listener hands
 * the stream to that group's raft instance.  A group nobody opened yet is
 * offered to the owner (on_unknown) first, so a replica added to a group,
 * or restarted without it open, joins on first contact.  Runs only on the
 * libuv loop thread that drives raft. */
#ifndef OBJFS_RAFT_MUX_H
#define OBJFS_RAFT_MUX_H

#include <raft.h>
#include <raft/uv.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../proto/frame.h"
#include "rmux_pre.h"

struct rmux;

/* Called on the loop thread for a connection to a group that has no
 * transport listening yet; it may open the group (which calls listen)
 * before returning. */
typedef void (*rmux_unknown_fn)(void *arg, const char *group);

/* Listens on bind_addr ("host:port").  Returns 0 or a negative errno with
 * a message in err. */
int rmux_open(uv_loop_t *loop, const char *bind_addr, const struct frame_key *key,
	      uint32_t max_skew_s, rmux_unknown_fn on_unknown, void *arg, struct rmux **out,
	      char *err, size_t errlen);
/* Stops listening and closes every stream it still owns; frees the mux
 * once its handles are closed (the loop must keep running until then). */
void rmux_close(struct rmux *m);

/* Initialises t as the transport of `group` (raft_uv_init takes it). */
int rmux_transport_init(struct rmux *m, const char *group, struct raft_uv_transport *t);
/* Releases what rmux_transport_init allocated (after raft_close). */
void rmux_transport_close(struct raft_uv_transport *t);

#endif
