/* objindex.h: a node's replica of the object index (bucket, key) ->
 * (version, tombstone, size, manifest), in one SQLite database
 * DATA_DIR/objindex.db (WAL, synchronous=FULL: a put is durable when it
 * returns).  The only module of objfs-node that calls SQLite.  A record is
 * replaced only by one with a larger version, so replicas converge no
 * matter the order puts arrive in.  Thread-safe (one connection guarded by
 * a mutex). */
#ifndef OBJFS_OBJINDEX_H
#define OBJFS_OBJINDEX_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/msg.h"

struct objindex;

/* Opens or creates the database.  Returns 0 or a negative errno (-EIO for
 * an SQLite failure, with the reason logged). */
int oi_open(const char *data_dir, struct objindex **out);
void oi_close(struct objindex *oi);

/* Stores rec unless a record with a version >= rec->version exists
 * (returns 0 in both cases: the put is idempotent). */
int oi_put(struct objindex *oi, const struct obj_key *k, const struct obj_rec *rec);

/* Reads the record; rec->manifest is a malloc'd copy owned by the caller
 * (set *manifest_out).  -ENOENT if absent (tombstones are returned). */
int oi_get(struct objindex *oi, const struct obj_key *k, struct obj_rec *rec, uint8_t **manifest_out);

/* Lists up to max entries of bucket whose key starts with prefix and sorts
 * after `after` (bytewise), tombstones included.  Returns the count and
 * sets *more. */
int oi_list(struct objindex *oi, const char *bucket, const char *prefix, const char *after,
	    struct obj_entry *out, size_t max, int *more);

/* Number of live (non-tombstone) records. */
int64_t oi_count(struct objindex *oi);

#endif
