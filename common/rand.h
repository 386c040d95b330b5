/* rand.h: the one source of random bytes (identifiers, nonces, names).
 * Everything random in objfs comes from the kernel CSPRNG through here,
 * with one failure policy: EINTR and short reads are retried; anything
 * else is returned as a negative errno and logged ("rand.fail").  Never
 * falls back to a weaker source.  Any thread. */
#ifndef OBJFS_RAND_H
#define OBJFS_RAND_H

#include <stddef.h>
#include <stdint.h>

/* Fills buf with len random bytes (blocking until the kernel pool is
 * initialised, at boot only).  Returns 0 or a negative errno. */
int rand_bytes(void *buf, size_t len);

/* A random 64-bit value in *out.  Returns 0 or a negative errno. */
int rand_u64(uint64_t *out);

#endif
