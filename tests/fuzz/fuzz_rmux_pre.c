/* fuzz_rmux_pre.c: the preamble of a Raft connection as a node's listener
 * reads it (nodes/rmux_pre.c): the fixed part that sizes the read, then
 * the whole preamble, as sent and with its MAC recomputed so the checks
 * behind the MAC are reached.  A preamble that parses must encode back to
 * its own bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../nodes/rmux_pre.h"
#include "fuzz.h"

static struct frame_key key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_key(&key);
	fuzz_quiet();
	return 0;
}

static void parse_once(const uint8_t *buf, size_t size)
{
	struct rmux_pre pre;
	uint8_t again[RMUX_PRE_MAX];
	int rc = rmux_pre_parse(&key, buf, size, &pre);

	if (rc == 0) {
		if (rmux_pre_encode(&key, &pre, again, sizeof(again)) != (int)size ||
		    memcmp(again, buf, size) != 0) {
			fuzz_fail("a parsed preamble does not encode to its own bytes");
		}
	} else if (rc != -OBJ_EPROTO && rc != -OBJ_EAUTH && rc != -EPROTONOSUPPORT) {
		fuzz_fail("rmux_pre_parse returned an error outside its contract");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size);

	if (size >= RMUX_PRE_FIXED) {
		int want = rmux_pre_len(buf);

		if (want >= 0 && (want <= RMUX_PRE_FIXED || want > RMUX_PRE_MAX)) {
			fuzz_fail("rmux_pre_len sized a read outside the preamble buffer");
		}
	}
	parse_once(buf, size);
	if (size >= RMUX_PRE_FIXED + FRAME_MAC_LEN) {
		size_t signed_len = size - FRAME_MAC_LEN;

		if (frame_mac(&key, buf, signed_len, buf + signed_len) != 0) {
			fuzz_fail("frame_mac failed");
		}
		parse_once(buf, size);
	}
	free(buf);
	return 0;
}
