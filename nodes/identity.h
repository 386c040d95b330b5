/* identity.h: who a node's data dir belongs to.  DATA_DIR/identity holds
 * the cluster id (derived from the secret), the node id and a random
 * incarnation, written at the first start.  A node whose Raft state is
 * gone must never vote again as the voter it was: at a start without an
 * identity file and without Raft state, the other nodes are asked
 * whether any shard still lists this node as a voter, and if one does
 * the node refuses to start (ARCHITECTURE.md explains the hazard).  Runs
 * once, on the main thread, before replication starts. */
#ifndef OBJFS_IDENTITY_H
#define OBJFS_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "../common/config.h"

struct node_identity {
	char cluster[33]; /* 32 hex digits */
	uint32_t node_id;
	uint64_t incarnation;
};

/* The cluster id of cfg: 32 hex digits of an XXH3-128 of its secret. */
void id_cluster(const struct cfg *cfg, char out[33]);

/* Checks or creates me's identity (me is one of cfg->nodes).  Returns 0
 * with *out filled (*created set when this start wrote it), or an error
 * with a message in err: -EEXIST when the data dir belongs to another
 * cluster or node, -ESTALE when the node lost its state while a shard
 * still lists it as a voter, -EIO/-EACCES/-EPROTO (a damaged file). */
int id_check(const struct cfg *cfg, const struct cfg_node *me, struct node_identity *out,
	     int *created, char *err, size_t errlen);

#endif
