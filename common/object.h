/* object.h: buckets and objects (bucket, key) -> bytes, for objfsctl and
 * benchmarks.  An object is the regular file at path KEY of the bucket's
 * namespace, the same one a mount shows: objects and files are two views
 * of one metadata shard.  Data goes through blockio.h (one block per
 * chunk), metadata through meta_client.h; an object appears atomically
 * (one MOP_PUT record after all its blocks are durable).  Thread-safe. */
#ifndef OBJFS_OBJECT_H
#define OBJFS_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "blockio.h"
#include "client.h"
#include "config.h"
#include "meta_client.h"

struct objc;

/* Connects to the cluster of cfg (which must outlive the handle). */
int objc_open(const struct cfg *cfg, struct objc **out);
void objc_close(struct objc *oc);
struct cl *objc_cl(struct objc *oc);
struct blk *objc_blk(struct objc *oc);

/* Creates a bucket: its shard (root directory) and its catalog entry.
 * -EEXIST if it exists, -EINVAL for a bad name. */
int bucket_create(struct objc *oc, const char *bucket);
/* As bucket_create, its blocks compressed with codec (BLK_CODEC_*). */
int bucket_create_codec(struct objc *oc, const char *bucket, uint8_t codec);
/* The codec of the blocks written to bucket from now on (stored blocks
 * keep theirs; mounts follow within STORE_CODEC_TTL_MS).  -ENOENT for no
 * such bucket, -EINVAL for a bad name or codec. */
int bucket_set_codec(struct objc *oc, const char *bucket, uint8_t codec);
/* The bucket's blocks: how many are compressed, bytes written and stored. */
int bucket_block_stats(struct objc *oc, const char *bucket, struct mc_block_stats *st);
/* Removes a bucket; -ENOTEMPTY unless it is empty or force is set (then
 * every file goes and its blocks are collected). */
int bucket_remove(struct objc *oc, const char *bucket, int force);
/* Calls fn for each bucket name in order. */
int bucket_list(struct objc *oc, int (*fn)(void *arg, const char *name), void *arg);

/* Stores everything read from fd until EOF as bucket/key, replacing any
 * previous file at that path; parent directories are created.  Returns 0
 * and the size, or a negative error; on error the previous version stays. */
int obj_put_fd(struct objc *oc, const char *bucket, const char *key, int fd, uint64_t *size);
int obj_put_buf(struct objc *oc, const char *bucket, const char *key, const void *buf, size_t len);

/* Writes the object to fd.  -ENOENT if absent, -EISDIR for a directory. */
int obj_get_fd(struct objc *oc, const char *bucket, const char *key, int fd, uint64_t *size);
/* Reads the object into a malloc'd buffer owned by the caller. */
int obj_get_buf(struct objc *oc, const char *bucket, const char *key, uint8_t **buf, size_t *len);

/* Removes the object.  -ENOENT if absent. */
int obj_rm(struct objc *oc, const char *bucket, const char *key);

struct obj_entry {
	const char *key;
	uint64_t size;
	int64_t mtime_ns;
};
/* Calls fn for every file of bucket whose path starts with prefix, in
 * bytewise path order; stops early if fn returns nonzero (and returns it). */
typedef int (*obj_list_fn)(void *arg, const struct obj_entry *e);
int obj_list(struct objc *oc, const char *bucket, const char *prefix, obj_list_fn fn, void *arg);
/* The same with '/' as delimiter, folded by the shard: a directory below
 * PREFIX's own comes once as "dir/" (size 0) and is not walked. */
int obj_list_delim(struct objc *oc, const char *bucket, const char *prefix, obj_list_fn fn,
		   void *arg);

/* Puts every fragment of every file of bucket back on its home node
 * (blk_repair on each block, 8 blocks at a time).  Fills what it did; returns 0 or the first
 * error (-EIO for a block that can no longer be read). */
struct repair_stats {
	uint64_t files, blocks, fragments, failed;
};
int obj_repair(struct objc *oc, const char *bucket, struct repair_stats *st);

#endif
