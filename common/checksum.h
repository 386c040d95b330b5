/* checksum.h: XXH3 checksums, the one integrity check of objfs.
 * Uses libxxhash's runtime-dispatched XXH3 (AVX2 where the CPU has it).
 * Pure functions; any thread. */
#ifndef OBJFS_CHECKSUM_H
#define OBJFS_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

uint64_t csum64(const void *buf, size_t len);
/* 128-bit hash, used for identifiers (bucket/key hashing, placement). */
void csum128(const void *buf, size_t len, uint8_t out[16]);

#endif
