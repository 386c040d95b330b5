/* checksum.c: thin wrapper so no other module includes xxHash. */
#include "checksum.h"

#include <string.h>
#include <xxh_x86dispatch.h>

uint64_t csum64(const void *buf, size_t len)
{
	return XXH3_64bits_dispatch(buf, len);
}

void csum128(const void *buf, size_t len, uint8_t out[16])
{
	XXH128_hash_t h = XXH3_128bits_dispatch(buf, len);
	XXH128_canonical_t c;

	XXH128_canonicalFromHash(&c, h);
	memcpy(out, c.digest, 16);
}
