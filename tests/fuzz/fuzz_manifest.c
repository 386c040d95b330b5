/* fuzz_manifest.c: object manifests as they come back from a shard or a
 * disk (proto/manifest.c).  A manifest that decodes must encode back to
 * exactly the same bytes, describe exactly its size, and be released
 * without a leak; any other must be refused with -OBJ_EPROTO. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../proto/manifest.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size);
	struct manifest m;
	int rc = manifest_decode(buf, size, &m);

	if (rc == 0) {
		struct wr w;
		uint64_t total = 0;

		for (size_t i = 0; i < m.n_blocks; i++) {
			total += m.blocks[i].len;
		}
		if (!m.is_inline && total != m.size) {
			fuzz_fail("block lengths do not add up to the size");
		}
		wr_init(&w, 0);
		manifest_encode(&w, &m);
		if (wr_status(&w) != 0 || wr_len(&w) != size || memcmp(w.buf, buf, size) != 0) {
			fuzz_fail("a decoded manifest does not encode to its own bytes");
		}
		wr_free(&w);
		manifest_free(&m);
	} else if (rc != -OBJ_EPROTO && rc != -ENOMEM) {
		fuzz_fail("manifest_decode returned an error outside its contract");
	} else if (m.blocks != NULL) {
		fuzz_fail("a refused manifest kept its block array");
	}
	free(buf);
	return 0;
}
