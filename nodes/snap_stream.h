/* snap_stream.h: shard snapshots as files, streamed in chunks.  A Raft
 * snapshot of a shard is only a descriptor (which node holds which copy
 * of the database, its size and XXH3); the copy is a file beside the
 * shard, taken online on a worker thread, and a replica that installs the
 * snapshot fetches it with SNAP_READ requests (proto/msg.h) of one chunk
 * each, checked chunk by chunk, resumable at the last good chunk.
 * Neither side ever holds more than one chunk of it in memory. */
#ifndef OBJFS_SNAP_STREAM_H
#define OBJFS_SNAP_STREAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/config.h"
#include "../proto/wire.h"
#include "meta_store.h"

#define SNAP_DESC_LEN 40
#define SNAP_CHUNK_MAX (8u << 20)

struct snap_desc {
	uint64_t index; /* the Raft index it was taken at (the copy may be later) */
	uint64_t size;	/* bytes of the database copy */
	uint64_t xxh3;	/* of the whole copy */
	uint32_t node;	/* index into cfg->nodes of the node holding the copy */
};

/* Encodes d into out[SNAP_DESC_LEN]. */
void snap_desc_put(const struct snap_desc *d, uint8_t out[SNAP_DESC_LEN]);
/* 0, or -EINVAL when buf is not a descriptor (e.g. a whole database, as
 * snapshots were before descriptors). */
int snap_desc_get(const void *buf, size_t len, struct snap_desc *d);

/* Copies ms to dir/GROUP.snap-INDEX-XXH3 while the loop goes on applying
 * and fills d (node = self).  Keeps the two newest copies of the group
 * (a replica may still be fetching the older one) and removes the rest.
 * A worker thread; 0 or a negative errno. */
int snap_take(struct mstore *ms, const char *dir, const char *group, uint64_t index, size_t self,
	      struct snap_desc *d);

/* Answers a SNAP_READ request (body in r) from the copies in dir: the
 * chunk is malloc'd into *data (the caller's to free) and its header
 * written to w.  -ENOENT when no such copy, -OBJ_EPROTO if malformed. */
int snap_serve(const char *dir, struct rd *r, struct wr *w, uint8_t **data, size_t *n);

/* Fetches a copy of group at index d->index or later into a file of dir,
 * from d->node first and then from the other nodes, in chunks of `chunk`
 * bytes; a fetch interrupted (connection, restart) resumes at its last
 * good chunk.  On 0, path holds the verified copy (the caller installs
 * and removes it).  Blocks the calling thread for the whole transfer;
 * gives up after timeout_ms with -ETIMEDOUT, or with -ECANCELED once
 * *stop (if given) is set, checked between chunks. */
int snap_fetch(const struct cfg *cfg, size_t self, const char *dir, const char *group,
	       const struct snap_desc *d, uint32_t chunk, uint32_t timeout_ms,
	       const atomic_int *stop, char *path, size_t cap);

/* Process-wide counters, for objfs_raft_snapshot_* metrics. */
struct snap_stats {
	uint64_t taken, take_ns_last, take_bytes_last;
	uint64_t chunks_sent, bytes_sent;
	uint64_t chunks_received, bytes_received, chunk_errors, resumes, fetches, fetch_ns_last;
};
void snap_get_stats(struct snap_stats *out);

#endif
