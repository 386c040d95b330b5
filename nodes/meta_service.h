/* meta_service.h: the metadata shards a node serves.
 * Owns the registry of open shard databases (DATA_DIR/shards/NAME.db, the
 * catalog as catalog.db), the decisions a leader makes before applying an
 * operation record (inode numbers, timestamps), the META_* request
 * handlers, and the garbage collector that deletes the fragments of
 * blocks no file references any more.  Runs on the server's queue
 * threads (handlers, which never wait for consensus), the Raft loop
 * (state machines, commit replies) and one maintenance thread. */
#ifndef OBJFS_META_SERVICE_H
#define OBJFS_META_SERVICE_H

#include <stdint.h>

#include "../common/config.h"
#include "server.h"

struct msvc;

/* data_dir: the node's; cfg: the cluster (for placement and the GC's own
 * client connection); node_idx: this node's index in cfg->nodes. */
int msvc_open(const struct cfg *cfg, size_t node_idx, const char *data_dir, struct msvc **out);
/* Starts replication (listening on this node's raft port, -EADDRINUSE if
 * taken), opens every shard with a log here, and starts the maintenance
 * thread (garbage collection, joining groups peers name).  err gets a
 * message on failure. */
int msvc_start(struct msvc *ms, char *err, size_t errlen);
/* Stops replication first, failing proposals still waiting, so that the
 * request workers finish quickly; handlers may still run (and fail). */
void msvc_quiesce(struct msvc *ms);
void msvc_close(struct msvc *ms);

/* Times proposals and counts GC queues for mx (before msvc_start). */
struct mx_registry;
struct mx_out;
void msvc_set_metrics(struct msvc *ms, struct mx_registry *mx);
/* mx_collect_fn: the objfs_raft_* gauges and counters of every shard
 * open here and its GC queue (meta_metrics.c).  arg is the msvc. */
void msvc_collect(void *arg, struct mx_out *o);

/* Handles a META_* request (type >= MSG_META_OP): 0, SRV_DEFER (a
 * change: the reply follows from its commit) or a negative errno. */
int msvc_handle(struct msvc *ms, const struct frame_hdr *h, const struct key_ent *who,
		const uint8_t *body, struct srv_reply *out, char *err, size_t errlen);
/* Inodes (less each root) and file bytes of the bucket shards whose ready
 * leader is this node, how many those are, and the bytes of their database
 * files here (nodes/meta_usage.c). */
int msvc_usage(struct msvc *ms, uint64_t *files, uint64_t *bytes, uint64_t *shards_led,
	       uint64_t *meta_bytes);

/* The server queue for a META_* request type (server.h). */
enum srv_pool msvc_route(uint8_t type);
/* DATA_DIR/shards: the shard databases and their snapshot copies. */
const char *msvc_shard_dir(const struct msvc *ms);

#endif
