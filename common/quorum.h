/* quorum.h: the write-quorum rule and the hand-off choice of a block put,
 * as pure functions over (fragment holders, node state).  No I/O, no
 * allocation, no locks: blockio.c asks, tests step them exhaustively.
 *
 * A fragment's holder is the index of the node that stored it durably, or
 * -1 while it is not stored.  The rule (ARCHITECTURE.md "Write quorum"):
 * a block is acknowledged when its durable fragments survive the loss of
 * any one more node, durable - (most fragments on one node) >= k; with no
 * parity (nfrag == k) every fragment is needed. */
#ifndef OBJFS_QUORUM_H
#define OBJFS_QUORUM_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the holders of nfrag fragments (k of them data) meet the write
 * quorum, else 0.  Preconditions: k >= 1, nfrag >= k, each holder is -1
 * or a node index. */
int quorum_met(const long *holder, size_t nfrag, size_t k);

/* The node that should take fragment i on a hand-off: among the nr ranked
 * nodes (rank[0] best, each an index < the length of up and load), the up
 * one holding the fewest fragments of this block (load), ties broken by
 * rank starting at position i so fragments spread instead of piling on
 * the best node.  Returns SIZE_MAX when no ranked node is up. */
size_t quorum_handoff(const size_t *rank, size_t nr, size_t i, const uint8_t *up,
		      const size_t *load);

#endif
