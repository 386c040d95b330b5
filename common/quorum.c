/* quorum.c: the write-quorum rule and the hand-off choice (see quorum.h).
 * Pure: nothing here may block, allocate or look at a socket. */
#include "quorum.h"

int quorum_met(const long *holder, size_t nfrag, size_t k)
{
	size_t durable = 0, most = 0;

	/* nfrag <= EC_MAX_FRAGS, so counting each holder's share by a
	 * second pass is cheaper than an allocation and cannot fail. */
	for (size_t i = 0; i < nfrag; i++) {
		size_t same = 0;

		if (holder[i] < 0) {
			continue;
		}
		durable++;
		for (size_t j = 0; j < nfrag; j++) {
			same += holder[j] == holder[i] ? 1 : 0;
		}
		if (same > most) {
			most = same;
		}
	}
	if (nfrag == k) {
		return durable == k; /* no parity: every fragment is needed */
	}
	return durable >= most + k;
}

size_t quorum_handoff(const size_t *rank, size_t nr, size_t i, const uint8_t *up,
		      const size_t *load)
{
	size_t target = SIZE_MAX;

	for (size_t j = 0; j < nr; j++) {
		size_t cand = rank[(i + j) % nr];

		if (up[cand] && (target == SIZE_MAX || load[cand] < load[target])) {
			target = cand;
		}
	}
	return target;
}
