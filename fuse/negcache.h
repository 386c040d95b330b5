/* negcache.h: the client core's memory of names known not to exist,
 * (parent, name) -> CLOCK_MONOTONIC expiry, so a lookup repeated within
 * the negative timeout (the kernel revalidates a negative entry before
 * every O_EXCL create) costs no round trip.  Bounded: a fixed
 * direct-mapped table, a collision replaces the older entry.  Never talks
 * to the cluster.  Thread-safe (one mutex). */
#ifndef OBJFS_NEGCACHE_H
#define OBJFS_NEGCACHE_H

#include <stdint.h>

struct negcache;

/* ttl_ns 0 makes a cache that remembers nothing.  Returns 0 or -ENOMEM. */
int nc_open(int64_t ttl_ns, struct negcache **out);
void nc_close(struct negcache *nc);

/* The count of nc_drop calls: read it before the lookup whose answer
 * goes to nc_add, so an answer that raced a create is not remembered. */
uint64_t nc_epoch(struct negcache *nc);
/* parent has no entry name: a lookup started at epoch said so. */
void nc_add(struct negcache *nc, uint64_t parent, const char *name, uint64_t epoch);
/* 1 while parent/name is known missing. */
int nc_missing(struct negcache *nc, uint64_t parent, const char *name);
/* parent/name may exist now (created, linked or renamed here). */
void nc_drop(struct negcache *nc, uint64_t parent, const char *name);

#endif
