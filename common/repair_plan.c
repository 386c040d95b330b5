/* repair_plan.c: target choice and node states of automatic repair (see
 * repair_plan.h). */
#include "repair_plan.h"

size_t rp_target(const size_t *rank, size_t nr, size_t nfrag, size_t i, const struct place_node *pn,
		 const uint8_t *usable, const size_t *load)
{
	size_t best = SIZE_MAX, best_key[3] = {0, 0, 0};
	uint32_t home_zone;

	if (i >= nr || i >= nfrag) {
		return SIZE_MAX;
	}
	home_zone = pn[rank[i]].zone;
	for (size_t p = 0; p < nr; p++) {
		/* Positions after the homes first, then the other homes. */
		size_t pos = (nfrag + p) % nr, j = rank[pos], zone_load = 0, key[3];

		if (!usable[j] || j == rank[i]) {
			continue;
		}
		for (size_t q = 0; q < nr; q++) {
			if (pn[rank[q]].zone == pn[j].zone) {
				zone_load += load[rank[q]];
			}
		}
		key[0] = load[j];
		key[1] = pn[j].zone == home_zone ? 0 : 1 + zone_load;
		key[2] = p;
		if (best == SIZE_MAX || key[0] < best_key[0] ||
		    (key[0] == best_key[0] &&
		     (key[1] < best_key[1] || (key[1] == best_key[1] && key[2] < best_key[2])))) {
			best = j;
			best_key[0] = key[0];
			best_key[1] = key[1];
			best_key[2] = key[2];
		}
	}
	return best;
}

enum rp_event rp_step(struct rp_node *n, int answered, uint64_t uptime_s, uint64_t now_ms,
		      uint64_t down_after_ms, uint64_t repair_after_ms)
{
	enum rp_event ev = RP_EV_NONE;

	if (n->state == RP_OUT) {
		/* Drained: what it answers changes nothing until node in. */
		if (answered) {
			n->uptime_s = uptime_s;
			n->last_ok_ms = now_ms;
			n->seen = 1;
		}
		return RP_EV_NONE;
	}
	if (answered) {
		/* A lower uptime than before: restarted between two pings; or
		 * first seen within a minute of its start (it may have come
		 * back before this leader could see it down). */
		int restarted = n->seen ? uptime_s < n->uptime_s : uptime_s < RP_FRESH_START_S;

		n->uptime_s = uptime_s;
		n->last_ok_ms = now_ms;
		n->seen = 1;
		if (n->state == RP_DOWN || n->state == RP_GONE) {
			n->state = RP_UP;
			return RP_EV_RETURNED;
		}
		return restarted && n->state == RP_UP ? RP_EV_RESTARTED : RP_EV_NONE;
	}
	if (n->state == RP_UP && now_ms - n->last_ok_ms >= down_after_ms) {
		n->state = RP_DOWN;
		n->down_ms = n->seen ? n->last_ok_ms : now_ms;
		ev = RP_EV_DOWN;
	}
	if (n->state == RP_DOWN && repair_after_ms > 0 && now_ms - n->down_ms >= repair_after_ms) {
		n->state = RP_GONE;
		ev = RP_EV_GONE;
	}
	return ev;
}
