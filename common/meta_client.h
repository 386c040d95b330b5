/* meta_client.h: client calls to a bucket's metadata shard.
 * Finds the node serving the shard (rendezvous placement of the bucket
 * name), sends queries and operation records (proto/meta.h), retries a
 * failed exchange with the same op_id (so a retried op is applied at most
 * once), and turns replies into structs.  Knows nothing of FUSE or of
 * file data.  Thread-safe; calls block the calling thread only.
 *
 * Requests go to the shard's leader: a follower's redirect (-EREMOTE with
 * the leader's id) is followed, and an unreachable replica is replaced by
 * the next, for up to MC_FAILOVER_MS, so a leader change is a pause, not
 * an error.  Every function returns 0 (or a count) or a negative errno:
 * the shard's own answer (-ENOENT, -EEXIST, ...; -ENOENT also when no
 * replica knows the bucket) or a transport failure (-EIO, -ETIMEDOUT,
 * -EHOSTDOWN) once the fail-over time is spent. */
#ifndef OBJFS_META_CLIENT_H
#define OBJFS_META_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/keys.h"
#include "../proto/meta.h"
#include "client.h"
#include "extents.h"
#include "listing.h"

struct mc;

/* A client of bucket's shard (bucket "" = the catalog shard). */
int mc_open(struct cl *cl, const char *bucket, struct mc **out);
void mc_close(struct mc *mc);
const char *mc_bucket(const struct mc *mc);
/* Records sent by mc_op and lookups by mc_lookup, and the calls that
 * carried them (several of concurrent callers travel in one META_OPS or
 * META_LOOKUPS), since mc_open. */
struct mc_stats {
	uint64_t records, calls;
	uint64_t lookups, lookup_calls;
};
void mc_get_stats(struct mc *mc, struct mc_stats *out);

/* Sends an operation record.  op->op_id is assigned if 0; now_ns and
 * new_ino are filled by the shard.  Returns 0 or a negative errno: the
 * op's own outcome as the shard applied it (-EEXIST, -ENOTEMPTY, ...), a
 * transport failure, or -OBJ_EPROTO for a reply that does not decode.  On
 * 0, res->attr and res->freed_ino hold the result; on an error *res is
 * zeroed.  (res->status is the wire field; the return value is the one
 * outcome to read.) */
int mc_op(struct mc *mc, struct meta_op *op, struct meta_result *res);

int mc_lookup(struct mc *mc, uint64_t parent, const char *name, struct meta_attr *out);
int mc_getattr(struct mc *mc, uint64_t ino, struct meta_attr *out);
int mc_resolve(struct mc *mc, const char *path, struct meta_attr *out);

/* Reads up to max entries of dir after name `after` ("" = start); calls
 * fn for each (name, attr) and sets *more.  Returns the count. */
typedef int (*mc_dirent_fn)(void *arg, const char *name, const struct meta_attr *attr);
int mc_readdir(struct mc *mc, uint64_t dir, const char *after, uint32_t max, mc_dirent_fn fn,
	       void *arg, int *more);
/* META_READDIR_C: up to max entries of dir after resume cookie `cookie`
 * (0: from the start), in cookie order, each with its cookie (a hash of
 * the name, >= META_COOKIE_FIRST): a listing resumed at an entry's cookie
 * neither repeats nor skips an entry that stayed, whatever was added or
 * removed meanwhile.  Returns the count; sets *more. */
typedef int (*mc_dirent_c_fn)(void *arg, const char *name, uint64_t cookie,
			      const struct meta_attr *attr);
int mc_readdir_c(struct mc *mc, uint64_t dir, uint64_t cookie, uint32_t max, mc_dirent_c_fn fn,
		 void *arg, int *more);

/* The target of symlink ino, NUL-terminated in buf; returns its length,
 * -ENAMETOOLONG if it does not fit in cap bytes, -OBJ_EPROTO for a reply
 * that is no valid target, or the shard's error (-EINVAL: not a link). */
int mc_readlink(struct mc *mc, uint64_t ino, char *buf, size_t cap);
/* *val malloc'd, caller frees. */
int mc_getxattr(struct mc *mc, uint64_t ino, const char *name, uint8_t **val, size_t *len);
/* NUL-separated names in a malloc'd buffer. */
int mc_listxattr(struct mc *mc, uint64_t ino, char **names, size_t *len);

/* Extents of ino from chunk `first`, at most max (<= META_EXTENTS_MAX);
 * *ext malloc'd (caller frees), *attr filled, inline data malloc'd into
 * *inl (NULL if none).  Returns the count; *more set if more follow. */
int mc_extents(struct mc *mc, uint64_t ino, uint64_t first, uint32_t max, struct meta_extent **ext,
	       int *more, struct meta_attr *attr, uint8_t **inl, size_t *inl_len);

/* Every page of ino's extents through ext_walk (extents.h): fn sees each
 * checked page in chunk order, max extents a page (0 = META_EXTENTS_MAX).
 * fn may make its own requests on mc: a page is complete when it runs.
 * Returns 0, a transport or shard error, -OBJ_EPROTO for a page that does
 * not advance, or fn's negative return. */
int mc_extents_each(struct mc *mc, uint64_t ino, uint32_t max, ext_page_fn fn, void *arg);
/* Every extent of ino gathered into one array: ext_collect (extents.h)
 * over mc_extents, META_EXTENTS_MAX a page. */
int mc_extents_all(struct mc *mc, uint64_t ino, struct meta_extent **ext, size_t *n,
		   struct meta_attr *attr, uint8_t **inl, size_t *inl_len);

struct mc_statfs {
	uint64_t files, bytes;
	uint32_t chunk_size, inline_max;
	uint8_t codec; /* BLK_CODEC_* for new blocks */
};
int mc_statfs(struct mc *mc, struct mc_statfs *st);

/* META_BLOCK_STATS: the blocks the bucket references, compressed or not,
 * their bytes as written and as stored, and the codec for new blocks. */
struct mc_block_stats {
	uint64_t blocks, compressed, bytes, stored;
	uint8_t codec;
};
int mc_block_stats(struct mc *mc, struct mc_block_stats *st);

/* META_NODE_MAP (mc of the catalog, bucket ""): the cluster map's rows,
 * up to max (META_NODE_MAP_MAX is enough) into out; a node without a row
 * is up.  Needs an admin key.  Returns the count or a negative errno. */
int mc_node_map(struct mc *mc, struct meta_node_row *out, size_t max);

/* META_QUOTA (what and ino as in meta.h): fills at most max quotas;
 * returns the count (-ENODATA: no such quota), *more set if a list goes
 * on after out[count-1].ino. */
int mc_quota(struct mc *mc, uint8_t what, uint64_t ino, struct meta_quota *out, size_t max,
	     int *more);
/* MOP_QUOTA_SET on directory ino: lim = max bytes, max inodes, soft
 * bytes, soft inodes (0: none; all 0 removes the quota). */
int mc_quota_set(struct mc *mc, uint64_t ino, const uint64_t lim[4]);
/* MOP_SNAPSHOT of directory ino as /.snapshots/name; *attr its root. */
int mc_snapshot(struct mc *mc, uint64_t ino, const char *name, struct meta_attr *attr);
/* META_TRASH: a page of the trash after inode `after` (at most max, *more
 * if others follow) and the seconds entries are kept (*keep, 0: off).
 * Returns the count. */
int mc_trash(struct mc *mc, uint64_t after, struct meta_trash *out, size_t max, int64_t *keep,
	     int *more);
/* MOP_TRASH_SET, MOP_TRASH_RESTORE, MOP_TRASH_EMPTY (see meta.h). */
int mc_trash_op(struct mc *mc, uint8_t type, uint64_t ino, uint64_t arg, struct meta_attr *attr);
/* MOP_SNAPSHOT_RM of /.snapshots/name. */
int mc_snapshot_rm(struct mc *mc, const char *name);

/* S3-style listing of file paths under prefix (see ms_list). */
typedef int (*mc_list_fn)(void *arg, const char *path, uint64_t size, int64_t mtime_ns);
int mc_list(struct mc *mc, const char *prefix, const char *after, uint32_t max, mc_list_fn fn,
	    void *arg, int *more);
/* Every path under prefix through lst_walk (listing.h), max a page:
 * pages that do not advance are -OBJ_EPROTO; fn's positive return stops
 * the walk and is returned. */
int mc_list_each(struct mc *mc, const char *prefix, uint32_t max, mc_list_fn fn, void *arg);
/* The same with '/' as delimiter (META_LIST_D): a directory below the
 * prefix's own comes once, as "path/" with size 0, and is not entered. */
int mc_list_each_delim(struct mc *mc, const char *prefix, uint32_t max, mc_list_fn fn, void *arg);

/* Catalog: bucket names (mc opened with bucket ""). */
int mc_buckets(struct mc *mc, mc_list_fn fn, void *arg);

/* The replicas of bucket's shard ("" = catalog) as indexes into
 * cfg->nodes, best first (the first is the one that serves it until
 * shards are replicated); returns the count (<= max). */
size_t mc_shard_replicas(const struct cfg *cfg, const char *bucket, size_t *out, size_t max);

/* Asks every replica of bucket's shard to open (and on first use,
 * bootstrap) its Raft group; 0 once a majority did. */
int mc_shard_create(struct cl *cl, const char *bucket);

/* Node cfg->nodes[node]'s view of every shard group it runs. */
int mc_shards(struct cl *cl, size_t node, int (*fn)(void *arg, const struct shard_state *st),
	      void *arg);

/* Adds (add=1) or removes a voter of the shard, through its leader. */
int mc_member(struct mc *mc, int add, uint32_t node_id);

/* The catalog's client keys (mc opened with bucket ""), by name, through
 * fn: without secrets (META_KEYS, an admin key's right) or with them
 * (META_KEY_SYNC, nodes only).  0, a transport or shard error,
 * -OBJ_EPROTO, or fn's negative return. */
typedef int (*mc_key_fn)(void *arg, const struct key_ent *k);
int mc_keys(struct mc *mc, int secret, mc_key_fn fn, void *arg);
/* Cluster-wide locks (proto/meta.h; the records go through mc_op).
 * mc_getlk: 1 with *out the first lock of another owner in req's way, 0
 * when none.  mc_lock_renew: renews session's lease, *lease_ms its
 * length.  mc_lock_cancel: ends the wait wait_id of session (-EINTR). */
int mc_getlk(struct mc *mc, const struct meta_lock *req, struct meta_lock *out);
int mc_lock_renew(struct mc *mc, uint64_t session, uint32_t *lease_ms);
int mc_lock_cancel(struct mc *mc, uint64_t session, uint64_t wait_id);
/* A page of the shard's blocks (META_BLOCKS) after id `after` (ignored
 * when first is set), at most max (<= META_BLOCKS_MAX) into out, from the
 * leader only (never a stale replica).  Returns the count; *more set if
 * more may follow. */
int mc_blocks(struct mc *mc, const uint8_t after[BLOCK_ID_LEN], int first, uint32_t max,
	      struct meta_block_row *out, int *more);

/* Cluster capacity from every node that answers: total and free bytes. */
int mc_capacity(struct cl *cl, uint64_t *total, uint64_t *avail);

#endif
