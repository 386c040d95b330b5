/* dirnames.h: the client core's complete name lists of directories this
 * mount just made, so the kernel's lookup of a new name before every
 * create in them costs no round trip.  A list starts empty at the mkdir
 * that made the directory and follows every change made here (create,
 * unlink).  Every change of a directory's entries, by any client, stamps
 * a new, strictly rising ctime, and the shard's answer to a change says
 * which ctime the change replaced (meta_result.dir_ctime_was): when that
 * is the one the list holds, nobody else changed the directory in
 * between, the list is still exact, and it lives ttl_ns (the negative
 * timeout) from then; otherwise it is dropped.  So another client's
 * change goes unseen at most ttl_ns after the last change here, as long
 * as a negative entry would hide it, and a mount that keeps creating in
 * its own directory never asks for the names it is about to make.  A
 * change it cannot follow exactly (a rename, an error, a create that may
 * have opened an old file) drops it, and so does an answer without the
 * old ctime (a retried op's kept result).  Bounded:
 * DN_DIRS directories of at most DN_NAMES names each.  Never talks to
 * the cluster.  Thread-safe (one mutex). */
#ifndef OBJFS_DIRNAMES_H
#define OBJFS_DIRNAMES_H

#include <stdint.h>

struct dirnames;

/* ttl_ns 0 makes lists that are never used.  Returns 0 or -ENOMEM. */
int dn_open(int64_t ttl_ns, struct dirnames **out);
void dn_close(struct dirnames *dn);

/* dir was made here, empty, with ctime ctime_ns. */
void dn_start(struct dirnames *dn, uint64_t dir, int64_t ctime_ns);
/* name was added to (dn_add) or removed from (dn_del) dir here, and the
 * shard stamped dir's ctime with ctime_ns where it had been was_ns (0: not
 * known, which drops the list).  No-ops for a dir not kept. */
void dn_add(struct dirnames *dn, uint64_t dir, const char *name, int64_t ctime_ns, int64_t was_ns);
void dn_del(struct dirnames *dn, uint64_t dir, const char *name, int64_t ctime_ns, int64_t was_ns);
/* Forgets dir's list. */
void dn_drop(struct dirnames *dn, uint64_t dir);
/* 1 while dir's list is kept and alive (a lookup in it may be answered
 * here). */
int dn_kept(struct dirnames *dn, uint64_t dir);
/* 1 when dir's list is kept and alive, dir's ctime is still ctime_ns
 * (fresh attributes) and name is not in it; a different ctime or an
 * expired list is dropped. */
int dn_absent(struct dirnames *dn, uint64_t dir, const char *name, int64_t ctime_ns);

#endif
