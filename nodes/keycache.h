/* keycache.h: objfs-node's copy of the catalog's client keys.  A thread
 * of its own fetches every key, secrets included, from the catalog's
 * leader every KEYCACHE_POLL_MS (as a node, with the cluster secret) and
 * swaps the table in whole, so a key created or revoked anywhere is known
 * on every node within about a second.  When the catalog cannot be
 * reached the last table stays in force (and a warning says so); it is
 * also saved in DATA_DIR/keys.cache, so a node restarting knows the keys
 * at once.
 * Lookups run on the server's threads: a read lock and a binary search,
 * never a wait on the network. */
#ifndef OBJFS_KEYCACHE_H
#define OBJFS_KEYCACHE_H

#include <stdint.h>

#include "../common/config.h"
#include "../proto/keys.h"

/* Between polls of the catalog: the bound on how long a revoked key may
 * still be accepted by a node that reaches the catalog. */
#define KEYCACHE_POLL_MS 1000

struct keycache;

/* Loads DATA_DIR/keys.cache and starts the poller over its own client
 * of cfg (which must outlive the process: the thread is never joined,
 * see keycache_stop).  0 or -errno. */
int keycache_start(const struct cfg *cfg, const char *data_dir, struct keycache **out);
/* Stops polling.  The thread may be inside a request that waits for the
 * catalog; it is left to finish on its own (it touches only its own
 * state) rather than holding up the node's shutdown. */
void keycache_stop(struct keycache *kc);
/* srv_key_fn (server.h): 0 with *k, or -ENOKEY. */
int keycache_find(void *kc, uint64_t id, struct key_ent *k);

#endif
