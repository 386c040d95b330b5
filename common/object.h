/* object.h: objects (bucket, key) -> bytes, for objfsctl and benchmarks.
 * Owns the object index protocol: each object's record (version, size,
 * manifest) is replicated on cfg->meta_replicas nodes chosen by
 * rendezvous hashing of (bucket, key); a write needs a majority of them,
 * a read takes the newest version among the replicas that answer.  Data
 * goes through blockio.h.  Thread-safe. */
#ifndef OBJFS_OBJECT_H
#define OBJFS_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/msg.h"
#include "blockio.h"
#include "client.h"
#include "config.h"

struct objc;

/* Connects to the cluster of cfg (which must outlive the handle). */
int objc_open(const struct cfg *cfg, struct objc **out);
void objc_close(struct objc *oc);
struct cl *objc_cl(struct objc *oc);

/* Stores everything read from fd until EOF as bucket/key, replacing any
 * previous version (whose blocks are then removed).  Returns 0 and the
 * size, or a negative error; on error the previous version stays. */
int obj_put_fd(struct objc *oc, const char *bucket, const char *key, int fd, uint64_t *size);
int obj_put_buf(struct objc *oc, const char *bucket, const char *key, const void *buf, size_t len);

/* Writes the object to fd.  -ENOENT if it does not exist. */
int obj_get_fd(struct objc *oc, const char *bucket, const char *key, int fd, uint64_t *size);
/* Reads the object into a malloc'd buffer owned by the caller. */
int obj_get_buf(struct objc *oc, const char *bucket, const char *key, uint8_t **buf, size_t *len);

/* Removes the object.  -ENOENT if it does not exist. */
int obj_rm(struct objc *oc, const char *bucket, const char *key);

/* Calls fn for every live object of bucket whose key starts with prefix,
 * in key order; stops early if fn returns nonzero (and returns that). */
typedef int (*obj_list_fn)(void *arg, const struct obj_entry *e);
int obj_list(struct objc *oc, const char *bucket, const char *prefix, obj_list_fn fn, void *arg);

#endif
