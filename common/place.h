/* place.h: rendezvous (highest random weight) placement.
 * Decides which nodes hold a block's fragments or a shard's replicas from
 * the id alone, so every client computes the same answer without asking
 * anyone.  Pure functions over the node list; no I/O, any thread. */
#ifndef OBJFS_PLACE_H
#define OBJFS_PLACE_H

#include <stddef.h>
#include <stdint.h>

struct place_node {
	uint32_t id;   /* stable node id from the config */
	uint32_t zone; /* failure-zone number (index into the zone names) */
	uint8_t up;    /* 0: excluded from placement (node out) */
};

/* Rendezvous score of (key, node id); higher wins. */
uint64_t place_score(const uint8_t key[16], uint32_t node_id);

/* Ranks every "up" node for key and writes their indexes (into nodes[]) to
 * out[], best first, choosing distinct zones first: the first pass takes
 * the best node of each zone in score order, later passes fill with the
 * remaining nodes in score order.  So the first want entries spread over
 * as many zones as there are.  Returns the number of indexes written
 * (min(want, number of up nodes)). */
size_t place_rank(const uint8_t key[16], const struct place_node *nodes, size_t n_nodes,
		  size_t *out, size_t want);

/* Fragment placement: slot i (fragment i) goes to the unused node with the
 * best score for (key, i) among the zones holding the fewest slots so far,
 * for slots [0, min(slots, up nodes)); the nodes left follow in
 * place_score order (hand-off candidates).  Each slot is chosen on its
 * own, so a node that joins takes over about 1/N of the fragments and
 * moves almost nothing else (placement by rank order would shift every
 * fragment ranked after it), and the first k slots do not depend on
 * `slots`.  Writes up to want indexes to out[]; returns their count. */
size_t place_slots(const uint8_t key[16], const struct place_node *nodes, size_t n_nodes,
		   size_t slots, size_t *out, size_t want);

#endif
