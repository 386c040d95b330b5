/* meta_reply.h: the decoders of the replies a metadata shard sends
 * (proto/meta.h), as pure functions over a reply body, so everything a
 * node's bytes can do to a client is in one place that tests and
 * fuzzers reach without a cluster.  meta_client.c calls them after each
 * exchange.  No I/O; any thread.
 *
 * Each takes the body (p, n) of a reply whose status was 0, checks every
 * length against the bytes present and the catalogue's limits before
 * using or allocating from it, refuses trailing bytes, and returns 0 (or
 * a count) or -OBJ_EPROTO for a reply that does not decode (-ENOMEM,
 * -ENAMETOOLONG where said).  Nothing is delivered to a callback from a
 * reply that turns out malformed, except by mr_list (see there). */
#ifndef OBJFS_META_REPLY_H
#define OBJFS_META_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/meta.h"
#include "meta_client.h"

/* META_OP: the record's outcome; returns res->status (0 or a negative
 * errno as the shard applied it), or -OBJ_EPROTO. */
int mr_result(const uint8_t *p, size_t n, struct meta_result *res);
/* A META_OPS reply: exactly count results, into *res[0..count-1], each a
 * valid status.  Returns 0 or -OBJ_EPROTO (then *res are zeroed). */
int mr_results(const uint8_t *p, size_t n, struct meta_result *const *res, uint32_t count);
/* A META_LOOKUPS reply: exactly count statuses, each 0 with its
 * attributes into *attr[i] or a negative errno into status[i].  Returns 0
 * or -OBJ_EPROTO (then status[] and *attr[] mean nothing). */
int mr_lookups(const uint8_t *p, size_t n, struct meta_attr *const *attr, int *status,
	       uint32_t count);
/* LOOKUP, GETATTR, RESOLVE: one meta_attr. */
int mr_attr(const uint8_t *p, size_t n, struct meta_attr *out);
/* READDIR of at most max entries: decodes them all, then calls fn for
 * each until one returns non-zero; returns the count, or a negative
 * errno (fn's, or -OBJ_EPROTO). */
int mr_readdir(const uint8_t *p, size_t n, uint32_t max, mc_dirent_fn fn, void *arg, int *more);
/* META_READDIR_C's reply to a request for entries after `after`: cookies
 * must rise and lie above `after` (else -OBJ_EPROTO, so a hostile reply
 * cannot make a reader loop); fn gets each entry with its cookie.  Returns
 * the count or a negative errno (fn's included). */
int mr_readdir_c(const uint8_t *p, size_t n, uint32_t max, uint64_t after, mc_dirent_c_fn fn,
		 void *arg, int *more);
/* READLINK: the target into buf (cap bytes, NUL-terminated); its length,
 * -ENAMETOOLONG when buf is too small, or -OBJ_EPROTO. */
int mr_readlink(const uint8_t *p, size_t n, char *buf, size_t cap);
/* GETXATTR: a malloc'd copy of the value in *val (the caller frees). */
int mr_getxattr(const uint8_t *p, size_t n, uint8_t **val, size_t *len);
/* LISTXATTR: the names, each NUL-terminated, one after the other in a
 * malloc'd *names of *len bytes (the caller frees). */
int mr_listxattr(const uint8_t *p, size_t n, char **names, size_t *len);
/* EXTENTS of at most max entries: *ext malloc'd (the caller frees), the
 * file's attributes, *more, and a malloc'd copy of inline data (NULL
 * when none).  Returns the number of extents. */
int mr_extents(const uint8_t *p, size_t n, uint32_t max, struct meta_extent **ext, int *more,
	       struct meta_attr *attr, uint8_t **inl, size_t *inl_len);
/* STATFS. */
int mr_statfs(const uint8_t *p, size_t n, struct mc_statfs *st);
/* BLOCK_STATS. */
int mr_block_stats(const uint8_t *p, size_t n, struct mc_block_stats *st);
/* META_NODE_MAP: up to max rows into out (rising ids, known states).
 * Returns the count or -OBJ_EPROTO. */
int mr_node_map(const uint8_t *p, size_t n, struct meta_node_row *out, size_t max);
/* LIST and BUCKETS of at most max entries: calls fn for each as it is
 * decoded (an entry already delivered stays so when a later one is
 * malformed); more == NULL for a reply that cannot page (its flag must be
 * 0).  Returns the count, fn's first positive return, or a negative
 * errno. */
int mr_list(const uint8_t *p, size_t n, uint32_t max, mc_list_fn fn, void *arg, int *more);
/* SHARDS: fn for each replica state; 0, fn's first non-zero return, or
 * -OBJ_EPROTO. */
int mr_shards(const uint8_t *p, size_t n, int (*fn)(void *arg, const struct shard_state *st),
	      void *arg);
/* QUOTA of at most max entries into out; *more.  Returns the count. */
int mr_quota(const uint8_t *p, size_t n, struct meta_quota *out, size_t max, int *more);
/* TRASH of at most max entries into out; the bucket's trash time in
 * *keep, *more.  Returns the count. */
int mr_trash(const uint8_t *p, size_t n, struct meta_trash *out, size_t max, int64_t *keep,
	     int *more);
/* BLOCKS of at most max rows into out; *more.  A row no codec could
 * have written (k, m or length out of range) is -OBJ_EPROTO.  Returns
 * the count. */
int mr_blocks(const uint8_t *p, size_t n, uint32_t max, struct meta_block_row *out, int *more);

#endif
