/* rmux_relay.h: the sealed replication stream of one connection.  c-raft
 * reads and writes a plain stream: one end of a socketpair, handed to it
 * as its uv_stream_t.  The relay owns the other end and the TCP
 * connection, and moves bytes between them: what c-raft writes goes out
 * as sealed chunks (proto/chunk.h), what arrives is opened and written to
 * c-raft.  A chunk that fails to open closes the connection at once
 * (c-raft sees its stream end and connects again): nothing of it, nor of
 * anything after it, reaches c-raft.  Runs only on the Raft loop thread. */
#ifndef OBJFS_RMUX_RELAY_H
#define OBJFS_RMUX_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "../proto/chunk.h"

struct relay;

/* Starts relaying over tcp (raft_malloc'ed, past its handshake; the relay
 * owns it from now on, also on failure), sealing with key tx and opening
 * with key rx; first writes the prefix bytes (the handshake's answer,
 * copied).  *outer gets c-raft's end (raft_malloc'ed: c-raft closes and
 * frees it).  The relay links itself into *list (rmux_relay_close_all).
 * 0 or a negative errno (tcp then closed). */
int rmux_relay_start(uv_loop_t *loop, uv_tcp_t *tcp, const uint8_t tx[CHUNK_KEY_LEN],
		     const uint8_t rx[CHUNK_KEY_LEN], const void *prefix, size_t prefix_len,
		     const char *what, struct relay **list, uv_stream_t **outer);

/* Closes every relay of list (at shutdown; they free themselves once
 * their handles are closed, so the loop must run on). */
void rmux_relay_close_all(struct relay **list);

/* Chunks refused since the process started (bad tag or length). */
uint64_t rmux_relay_refused(void);

#endif
