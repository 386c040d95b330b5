/* repair_plan.h: the decisions of automatic repair as pure functions:
 * which node takes a fragment whose home is gone, and the state of each
 * node as the catalog leader sees it (up; down since T; gone once down
 * longer than repair_after; out).  No I/O, no clock, no locks: callers
 * pass the time in, tests step every case. */
#ifndef OBJFS_REPAIR_PLAN_H
#define OBJFS_REPAIR_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "place.h"

/* Fragment i (< nfrag) of a block, whose home rank[i] is gone, goes to the
 * usable node holding the fewest fragments of this block (load), then one
 * in the home's zone (so the block keeps its spread over zones), else one
 * of the zone holding the fewest of its fragments, then the best ranked
 * after the k+m homes (the block's own hand-off order).  rank holds nr
 * node indexes (place_slots), pn and usable/load are indexed by node.
 * Returns the node index, or SIZE_MAX when no ranked node is usable. */
size_t rp_target(const size_t *rank, size_t nr, size_t nfrag, size_t i, const struct place_node *pn,
		 const uint8_t *usable, const size_t *load);

enum rp_state { RP_UP = 0, RP_DOWN = 1, RP_GONE = 2, RP_OUT = 3 };

/* One node as the leader tracks it. */
struct rp_node {
	uint8_t state;	     /* enum rp_state */
	uint8_t seen;	     /* it answered at least once since tracking began */
	uint64_t last_ok_ms; /* last answer (monotonic ms of the caller) */
	uint64_t down_ms;    /* when it went down */
	uint64_t uptime_s;   /* uptime it last reported */
};

/* What a step tells the caller to do. */
enum rp_event {
	RP_EV_NONE = 0,
	RP_EV_DOWN,	/* stopped answering for down_after_ms */
	RP_EV_GONE,	/* down longer than repair_after: rebuild its fragments */
	RP_EV_RETURNED, /* answers again after being down or gone */
	RP_EV_RESTARTED /* answered with a lower uptime: it restarted unseen
			 * (maybe with an empty disk) */
};

/* A node first seen with less uptime than this is checked as restarted. */
#define RP_FRESH_START_S 60

/* Advances n at now_ms: answered says whether it answered the last ping
 * (with uptime_s).  repair_after_ms 0 never makes a node gone.  An out
 * node (state set to RP_OUT by the caller, from the cluster map) stays
 * out whatever it answers. */
enum rp_event rp_step(struct rp_node *n, int answered, uint64_t uptime_s, uint64_t now_ms,
		      uint64_t down_after_ms, uint64_t repair_after_ms);

#endif
