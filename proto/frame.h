/* frame.h: the envelope of every objfs message, and its authentication.
 *
 * Layout (little-endian), version 4:
 *   off  len  field
 *     0    4  magic      "OBJF" (0x464a424f)
 *     4    1  version    FRAME_VERSION; anything else is refused
 *     5    1  type       message id from msg.h
 *     6    2  flags      FRAME_F_REPLY on replies, FRAME_F_STALE_OK,
 *                         FRAME_F_INDEX
 *     8    8  req_id     chosen by the client, echoed in the reply
 *    16    8  ts_ms      sender's wall clock, ms since the epoch
 *    24    8  nonce      random per request, echoed in the reply
 *    32    4  status     0 or a negative error (replies only)
 *    36    4  body_len   bytes of body that follow the header
 *    40    8  key_id     which key sealed the frame: 0 the cluster secret
 *                        (nodes), else a client key of the catalog (keys.h)
 *    48    n  body
 *  48+n   16  tag        AES-256-GMAC of bytes 0 .. 48+n (below)
 *
 * The tag is AES-256-GCM over no plaintext with the whole frame as
 * additional data (GMAC), under K = HMAC-SHA256(secret, "objfs frame v2
 * aes-256-gmac") where secret is the key named by key_id, with the 96-bit
 * IV nonce (8 bytes LE) || u32 LE of (ts_ms & 0x7fffffff) | 0x80000000 on
 * replies. An IV must never repeat under K: requests pick a fresh random
 * nonce; a reply shares its request's nonce but not the direction bit; two
 * frames would collide only with the same 64-bit random nonce in the same
 * millisecond (mod 24 days). Version 1 used HMAC-SHA256 (32-byte trailer):
 * GMAC runs at about 8 GB/s here against 1.8 GB/s, and every fragment byte
 * is authenticated twice per hop. Version 2 had no key_id (one cluster
 * secret for everybody); in version 3 a metadata result (meta.h) had no
 * dir_ctime_was. A frame of another version is refused with
 * -EPROTONOSUPPORT, so mixed builds fail with a message that says so. A
 * reply is sealed with the key of its request.
 *
 * A frame is authenticated as a whole, header included, so no field can be
 * altered.  Replay protection: a request is accepted only when ts_ms lies
 * within the configured skew of the receiver's clock and its (ts, nonce)
 * pair was not seen before in that window (replay.h).  A reply is accepted
 * only when it echoes the request's req_id and nonce.
 * Pure functions; no I/O; any thread. */
#ifndef OBJFS_FRAME_H
#define OBJFS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAGIC 0x464a424fu
#define FRAME_VERSION 4
#define FRAME_HDR_LEN 48
#define FRAME_TAG_LEN 16 /* the frame's GMAC tag */
#define FRAME_MAC_LEN 32 /* frame_mac: HMAC-SHA256, for the Raft preamble */
#define FRAME_OVERHEAD (FRAME_HDR_LEN + FRAME_TAG_LEN)
#define FRAME_F_REPLY 0x0001u
/* Request flag: a metadata query may be answered by any replica from its
 * own state, possibly stale, because no leader can be reached. */
#define FRAME_F_STALE_OK 0x0002u
/* Request flag (metadata requests, since v2): the body ends with a u64,
 * the highest applied index of the shard the client has seen; a replica
 * applied below it refuses (-OBJ_EMAJORITY), and a successful reply ends
 * with the u64 applied index of the replica that answered (meta.h). */
#define FRAME_F_INDEX 0x0004u

/* Largest body any message may carry: one fragment of the largest block
 * (64 MiB / k=1) plus its header.  Receivers set NNG_OPT_RECVMAXSZ from it. */
#define FRAME_MAX_BODY ((size_t)64 * 1024 * 1024 + 4096)

struct frame_hdr {
	uint8_t type;
	uint16_t flags;
	uint64_t req_id;
	uint64_t ts_ms;
	uint64_t nonce;
	int32_t status;
	uint32_t body_len;
	uint64_t key_id; /* frame_open: the key that sealed it */
};

/* A sealing key: the secret and the id frames name it by (0 = the
 * cluster secret). */
struct frame_key {
	uint8_t secret[128];
	size_t len;
	uint64_t id;
};

/* Total frame size for a body of body_len bytes. */
static inline size_t frame_size(size_t body_len)
{
	return FRAME_OVERHEAD + body_len;
}

/* Writes the header (key_id = key->id, whatever h says) and the MAC into
 * buf, whose body (h->body_len bytes) is already in place at buf +
 * FRAME_HDR_LEN; buf must hold frame_size(h->body_len) bytes. Returns 0 or
 * -EIO if the MAC failed. */
int frame_seal(const struct frame_key *key, const struct frame_hdr *h, uint8_t *buf);

/* Checks magic, version, length and tag of the len bytes at buf, in that
 * order.  On success fills *h and points *body into buf.  Returns 0,
 * -EPROTONOSUPPORT for a frame of another protocol version (*h then holds
 * nothing; frame_version tells which), -OBJ_EPROTO for a malformed frame
 * (short, wrong magic, length mismatch, body over FRAME_MAX_BODY) or
 * -OBJ_EAUTH for a bad tag or a key_id other than key->id. */
int frame_open(const struct frame_key *key, const uint8_t *buf, size_t len, struct frame_hdr *h,
	       const uint8_t **body);

/* The version byte of a frame (0 if too short to have one): what a peer
 * of another build speaks, for the message that refuses it. */
unsigned frame_version(const uint8_t *buf, size_t len);
/* The type byte of a frame not yet opened (0 if too short), for routing
 * only: nothing may be trusted before frame_open. */
uint8_t frame_peek_type(const uint8_t *buf, size_t len);
/* The key_id of a frame not yet opened (0 if too short, of another
 * version or without the magic): which key to open it with.  Trusted only once frame_open succeeded
 * with that key. */
uint64_t frame_peek_key(const uint8_t *buf, size_t len);

/* Recomputes the tag of the frame of len bytes at buf from its header as
 * it stands (for tests and tools that edit a header).  0 or -EIO. */
int frame_reseal(const struct frame_key *key, uint8_t *buf, size_t len);

/* The keyed MAC of the Raft stream preamble: HMAC-SHA256 under the
 * cluster secret (frames use the faster GMAC above).
 * frame_mac writes the MAC of the n bytes at p to out: 0 or -EIO (the
 * library failed).  frame_mac_check compares the MAC of p[0..n) with mac
 * in constant time (no timing leak): 0, -OBJ_EAUTH on a mismatch, -EIO. */
int frame_mac(const struct frame_key *key, const void *p, size_t n, uint8_t out[FRAME_MAC_LEN]);
int frame_mac_check(const struct frame_key *key, const void *p, size_t n,
		    const uint8_t mac[FRAME_MAC_LEN]);

/* Wall clock in milliseconds. */
uint64_t frame_now_ms(void);

#endif
