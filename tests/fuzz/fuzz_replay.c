/* fuzz_replay.c: the replay window (proto/replay.c), whose (ts, nonce)
 * pairs come from the network before anything else is trusted.  Input: a
 * stream of 10-byte steps, u16 clock advance in ms and u64 nonce, the
 * timestamp taken from the advance's low bits relative to the clock.
 * Invariant: a pair is never accepted twice, whatever the flood. */
#include <stdlib.h>
#include <string.h>

#include "../../proto/replay.h"
#include "../../proto/wire.h"
#include "fuzz.h"

#define WINDOW_MS 2000
#define CAPACITY 16 /* small, so floods and purges happen within one input */
#define MAX_STEPS 4096

struct pair {
	uint64_t ts, nonce;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay *rp = replay_create(WINDOW_MS, CAPACITY);
	struct pair *seen = calloc(MAX_STEPS, sizeof(*seen));
	size_t n_seen = 0;
	uint64_t now = 1700000000000ull;
	struct rd r;

	if (rp == NULL || seen == NULL) {
		fuzz_fail("out of memory");
	}
	rd_init(&r, data, size);
	for (int i = 0; i < MAX_STEPS && r.left >= 10; i++) {
		uint16_t step = rd_u16(&r);
		uint64_t nonce = rd_u64(&r);
		/* Bit 15: the clock moves on; the rest: how far the request's
		 * timestamp lies from it, either way, beyond the window too. */
		int64_t off = (int64_t)(step & 0x1fff) - 0x1000;
		uint64_t ts = (uint64_t)((int64_t)now + off);

		if (step & 0x8000) {
			now += step & 0x3ff;
		}
		if (replay_check(rp, ts, nonce & 0xf, now) == 0) {
			for (size_t j = 0; j < n_seen; j++) {
				if (seen[j].ts == ts && seen[j].nonce == (nonce & 0xf)) {
					fuzz_fail("a (ts, nonce) pair was accepted twice");
				}
			}
			seen[n_seen++] = (struct pair){ts, nonce & 0xf};
		}
	}
	free(seen);
	replay_destroy(rp);
	return 0;
}
