/* cachepolicy.h: the replacement policy of the client's block caches, one
 * module for the memory cache (readcache.c) and the disk cache
 * (diskcache.c).  Owns the order of their entries, the ghost lists of keys
 * evicted lately, and the adaptive bound; never touches a block's bytes,
 * a file or a lock: the cache that embeds it locks around every call.
 *
 * Policies (cp_policy):
 *  - LRU: one list; what every read touched last stays (the old policy: a
 *    large sequential scan pushes out the small hot blocks).
 *  - ARC (Megiddo and Modha, FAST 2003), counted in bytes: T1 holds blocks
 *    referenced once, T2 blocks referenced again; B1 and B2 remember the
 *    keys evicted from each.  A hit in B1 says T1 was too small and moves
 *    the target p of T1 up, a hit in B2 moves it down.  A scan passes
 *    through T1 only, so the blocks of T2 survive it.
 *
 * References: a read that continues forward inside a block it just read
 * (the kernel reads a 4 MiB block in 128 KiB requests) is one reference,
 * not 32; the cache says which accesses are new references (cp_touch).
 * Read-ahead inserts a block as not yet referenced: its first read is its
 * first reference, so a streamed file is not promoted to T2 by its reader.
 *
 * The bound follows the workload between min and max: it starts at min,
 * grows by each ghost hit (a bigger cache would have hit), and shrinks
 * toward min while the machine is short of memory (cp_pressure). */
#ifndef OBJFS_CACHEPOLICY_H
#define OBJFS_CACHEPOLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "../proto/manifest.h"

enum cp_policy { CP_LRU, CP_ARC };

enum cp_list { CP_NONE, CP_T1, CP_T2 };

/* Embedded in each entry of a cache; zero-initialise.  The cache owns the
 * entry; the policy links it while it is resident. */
struct cp_node {
	uint8_t key[BLOCK_ID_LEN];
	uint64_t size;
	int list;		     /* enum cp_list */
	bool unreferenced;	     /* inserted by read-ahead, not read yet */
	struct cp_node *prev, *next; /* head = most recent */
};

struct cp_ghost;

struct cp_stats {
	uint64_t ghost_hits[2]; /* B1, B2 */
	uint64_t t1_bytes, t2_bytes, p_bytes, bound_bytes;
	uint64_t grows, shrinks; /* bound changes */
};

struct cp {
	enum cp_policy policy;
	uint64_t min_bytes, max_bytes;	   /* configured bounds */
	uint64_t bound;			   /* what the cache may hold now */
	uint64_t p;			   /* ARC: target bytes of T1 */
	struct cp_node *head[3], *tail[3]; /* by cp_list; [CP_NONE] unused */
	uint64_t bytes[3];
	/* Ghosts: keys only, [0] B1 and [1] B2, a hash over both. */
	struct cp_ghost *ghead[2], *gtail[2];
	uint64_t gbytes[2];
	struct cp_ghost **gtab;
	uint64_t checked_ns; /* last look at the machine's memory */
	struct cp_stats st;
};

/* Where cp_insert puts an entry. */
enum cp_insert {
	CP_DEMAND,   /* read now: a first reference */
	CP_AHEAD,    /* read ahead: referenced by its first read */
	CP_FREQUENT, /* asked for (warm-up): straight into T2 */
};

/* min_bytes <= max_bytes; min_bytes == max_bytes is a fixed bound.
 * Returns 0, -EINVAL or -ENOMEM. */
int cp_init(struct cp *cp, enum cp_policy policy, uint64_t min_bytes, uint64_t max_bytes);
/* Frees the ghosts; resident nodes belong to the cache. */
void cp_fini(struct cp *cp);

/* Parses "lru" or "arc".  Returns 0 or -EINVAL. */
int cp_parse(const char *name, enum cp_policy *out);
const char *cp_name(enum cp_policy policy);

/* Makes n (key and size set, not resident) resident.  A key found in a
 * ghost list adapts p and the bound, and enters T2. */
void cp_insert(struct cp *cp, struct cp_node *n, enum cp_insert how);
/* A hit on resident n; new_ref false for a read that continues the one
 * before it (no promotion, only recency). */
void cp_touch(struct cp *cp, struct cp_node *n, bool new_ref);
/* Unlinks resident n.  evicted: remember its key in a ghost list (it was
 * pushed out); else forget it (invalidated, failed its check). */
void cp_remove(struct cp *cp, struct cp_node *n, bool evicted);

/* Bytes held resident. */
static inline uint64_t cp_bytes(const struct cp *cp)
{
	return cp->bytes[CP_T1] + cp->bytes[CP_T2];
}
/* True while the cache holds more than its bound. */
static inline bool cp_over(const struct cp *cp)
{
	return cp_bytes(cp) > cp->bound;
}

/* The entry to evict next, from the cold end of the list the policy
 * picks, skipping those busy() refuses (e.g. being copied out).  NULL if
 * none may go.  The caller then cp_remove(.., true)s it and frees it. */
struct cp_node *cp_victim(struct cp *cp, bool (*busy)(struct cp_node *n));

/* Memory pressure: short (the machine has less than a tenth of its
 * memory available) halves the distance from the bound to min; relieved
 * lets ghost hits grow it again.  Returns the new bound. */
uint64_t cp_pressure(struct cp *cp, bool short_of_memory);

/* Reads /proc/meminfo: true when MemAvailable is under a tenth of
 * MemTotal.  False when it cannot tell. */
bool cp_memory_short(void);
/* Looks at the machine's memory at most once a second (now_ns: a
 * monotonic clock) and applies cp_pressure.  True when the bound shrank. */
bool cp_tick(struct cp *cp, uint64_t now_ns);

void cp_get_stats(const struct cp *cp, struct cp_stats *out);

#endif
