/* chunk.h: a byte stream cut into sealed chunks, for the replication
 * connections (nodes/rmux_relay.c).  Each chunk is AES-256-GCM under a key
 * of its connection and direction, with its sequence number as the IV, so
 * a chunk that is altered, injected, dropped, replayed or reordered fails
 * to open, and its bytes are private to the two ends.
 *
 * Layout: u32 LE length L (1..CHUNK_MAX, the ciphertext's bytes and the
 * additional data), L bytes ciphertext, 16 bytes tag.  The IV is the
 * 64-bit sequence number LE followed by 4 zero bytes: one key never sees
 * an IV twice, because each direction of each connection has its own key
 * (chunk_derive over the two ends' random nonces).
 * Pure functions; no I/O; one chunk_key per thread at a time. */
#ifndef OBJFS_CHUNK_H
#define OBJFS_CHUNK_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"

#define CHUNK_MAX (256u * 1024) /* plaintext bytes of one chunk */
#define CHUNK_HDR 4
#define CHUNK_TAG 16
#define CHUNK_OVERHEAD (CHUNK_HDR + CHUNK_TAG)
#define CHUNK_KEY_LEN 32

struct chunk_key {
	uint8_t k[CHUNK_KEY_LEN];
	uint64_t seq; /* of the next chunk */
	void *ctx;    /* the cipher context, made once */
};

/* HKDF-SHA256 (RFC 5869) of the secret with salt and label: the key of
 * one direction of one connection.  0 or -EIO. */
int chunk_derive(const struct frame_key *secret, const void *salt, size_t salt_len,
		 const char *label, uint8_t out[CHUNK_KEY_LEN]);

/* 0 or -ENOMEM/-EIO; chunk_key_free wipes the key. */
int chunk_key_init(struct chunk_key *ck, const uint8_t k[CHUNK_KEY_LEN]);
void chunk_key_free(struct chunk_key *ck);

/* Seals n (1..CHUNK_MAX) bytes at in into out (n + CHUNK_OVERHEAD bytes)
 * as the next chunk.  0 or -EINVAL/-EIO. */
int chunk_seal(struct chunk_key *ck, const void *in, size_t n, uint8_t *out);

/* Opens the chunk at the start of the have bytes at buf, in place: the
 * chunk's size in bytes with *plain and *plain_len set (its plaintext,
 * inside buf), 0 when buf does not hold the whole chunk yet, -OBJ_EPROTO
 * for a length out of range, -OBJ_EAUTH for a chunk that fails its tag
 * (altered, injected, replayed, out of order). */
ssize_t chunk_open(struct chunk_key *ck, uint8_t *buf, size_t have, uint8_t **plain,
		   size_t *plain_len);

#endif
