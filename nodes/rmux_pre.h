/* rmux_pre.h: the preamble that opens every Raft connection between nodes
 * (raft_mux.c): its layout, encoder and parser, as pure functions, so the
 * bytes a peer sends are checked in one place that tests and fuzzers
 * reach without a socket.  No I/O; any thread.
 *
 * Layout (little-endian):
 *   u32 magic "RMUX", u8 version 1, u8 group length G (1..64),
 *   u8 address length A (1..127), u8 reserved (0, anything else is
 *   refused), then G bytes group, A bytes
 *   address, u64 raft id, u64 ts_ms, u64 nonce, and 32 bytes
 *   HMAC-SHA256(cluster secret, everything before it). */
#ifndef OBJFS_RMUX_PRE_H
#define OBJFS_RMUX_PRE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/frame.h"

#define RMUX_GROUP_MAX 64
#define RMUX_ADDR_MAX 127
#define RMUX_PRE_FIXED 8 /* the part that says how long the rest is */
#define RMUX_PRE_TAIL (8 + 8 + 8 + FRAME_MAC_LEN)
#define RMUX_PRE_MAX (RMUX_PRE_FIXED + RMUX_GROUP_MAX + RMUX_ADDR_MAX + RMUX_PRE_TAIL)
#define RMUX_VERSION 1

struct rmux_pre {
	char group[RMUX_GROUP_MAX + 1];
	char addr[RMUX_ADDR_MAX + 1];
	uint64_t id;	/* the sender's raft id */
	uint64_t ts_ms; /* for the replay window (replay.h) */
	uint64_t nonce;
};

/* The whole preamble's length, from its first RMUX_PRE_FIXED bytes:
 * RMUX_PRE_FIXED < n <= RMUX_PRE_MAX, -EPROTONOSUPPORT for a preamble of
 * another version (rmux_pre_version tells which), or -OBJ_EPROTO for a
 * bad magic, length or reserved byte. */
int rmux_pre_len(const uint8_t fixed[RMUX_PRE_FIXED]);

/* The version byte of the fixed part (for the message that refuses it). */
static inline unsigned rmux_pre_version(const uint8_t fixed[RMUX_PRE_FIXED])
{
	return fixed[4];
}

/* Writes the preamble of p, sealed under key, into buf (cap bytes,
 * RMUX_PRE_MAX is enough).  Returns its length, -EINVAL for a group or
 * address that is empty, too long or not a C string, -EOVERFLOW, -EIO. */
int rmux_pre_encode(const struct frame_key *key, const struct rmux_pre *p, uint8_t *buf,
		    size_t cap);

/* Authenticates and decodes the len bytes at buf, a whole preamble.
 * Returns 0 with *out filled, -EPROTONOSUPPORT for another version,
 * -OBJ_EPROTO for anything malformed (bad fixed part, a length that disagrees with len, a NUL
 * inside the group or address), -OBJ_EAUTH for a bad MAC, -EIO if the MAC could not be computed.
 * The replay window is the caller's. */
int rmux_pre_parse(const struct frame_key *key, const uint8_t *buf, size_t len,
		   struct rmux_pre *out);

#endif
