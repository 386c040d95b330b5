/* rand.c: random bytes from getrandom(2) (see rand.h). */
#include "rand.h"

#include <errno.h>
#include <sys/random.h>

#include "err.h"
#include "log.h"

int rand_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno == EINTR) {
			continue; /* only requests over 256 bytes are interruptible */
		}
		if (n < 0) {
			int rc = -errno;

			log_error("rand.fail", "getrandom: %s", obj_strerror(rc));
			return rc;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int rand_u64(uint64_t *out)
{
	return rand_bytes(out, sizeof(*out));
}
