/* ec.h: the erasure codec, the only module that calls ISA-L.
 * Splits a block into k data fragments plus m parity fragments with a
 * Cauchy generator matrix and rebuilds any <= m lost fragments.  Pure
 * computation: no I/O, no locks; a codec object may be shared by threads
 * once created (it is read-only after ec_create). */
#ifndef OBJFS_EC_H
#define OBJFS_EC_H

#include <stddef.h>
#include <stdint.h>

#define EC_MAX_K 32
#define EC_MAX_M 16
#define EC_MAX_FRAGS (EC_MAX_K + EC_MAX_M)

struct ec_profile {
	uint8_t k; /* data fragments, 1..EC_MAX_K */
	uint8_t m; /* parity fragments, 0..EC_MAX_M */
};

struct ec_codec; /* opaque: matrix and ISA-L tables for one (k, m) */

/* Parses "K+M" (e.g. "4+2"); returns 0 or -EINVAL. */
int ec_profile_parse(const char *s, struct ec_profile *out);

/* Creates a codec for p.  Returns NULL with *err = -EINVAL for a profile
 * out of range or -ENOMEM. */
struct ec_codec *ec_create(struct ec_profile p, int *err);
void ec_destroy(struct ec_codec *c);
struct ec_profile ec_codec_profile(const struct ec_codec *c);

/* Length of each fragment for a block of block_len bytes: the block is
 * split in k equal parts, the last padded with zeros.  Rounded up to a
 * multiple of 32 bytes so ISA-L runs its vector code on whole words.
 * A zero-length block has fragments of length 0. */
size_t ec_frag_len(struct ec_profile p, size_t block_len);

/* Encodes: frags[0..k+m-1] each point to ec_frag_len() bytes owned by the
 * caller.  Copies the block into frags[0..k-1] (zero padded) and computes
 * frags[k..k+m-1].  Returns 0. */
int ec_encode(const struct ec_codec *c, const void *block, size_t block_len, uint8_t *const *frags);

/* The data fragments that lie wholly inside a block of block_len bytes
 * (the first ones; the others need zero padding): min(k, block_len /
 * frag_len), k for an empty block. */
size_t ec_whole_frags(struct ec_profile p, size_t block_len);

/* Encodes without copying the block where no copy is needed: out[i] of
 * the first w = ec_whole_frags() data fragments points into block
 * itself; the other data fragments are copied, zero padded, into scratch
 * and the m parity fragments computed after them, so scratch must hold
 * (k + m - w) * ec_frag_len() bytes.  out[0..k+m-1] are read-only views,
 * valid while block and scratch are.  Returns 0. */
int ec_encode_ref(const struct ec_codec *c, const void *block, size_t block_len, uint8_t *scratch,
		  const uint8_t **out);

/* Rebuilds lost fragments in place.  present[i] is nonzero when frags[i]
 * holds valid data; every frags[i] points to frag_len writable bytes.  On
 * return every fragment (data and parity) is valid.  Returns 0, or -EIO
 * when fewer than k fragments are present. */
int ec_decode(const struct ec_codec *c, size_t frag_len, uint8_t *const *frags,
	      const uint8_t *present);

/* Copies the original block (block_len bytes) out of the k data fragments. */
void ec_join(struct ec_profile p, size_t block_len, uint8_t *const *frags, void *block);

#endif
