/* syncgroup.h: one syncfs(2) shared by every thread that needs its writes
 * on a file system durable at about the same time (group commit for the
 * fragment store).  A caller's sync is one that began after the call did,
 * so everything it wrote before calling is on the disk when it returns;
 * callers arriving while a sync runs wait for it and share the next one.
 * Owns nothing but its counters and a descriptor it does not close; never
 * syncs anything but the file system of that descriptor.  Thread-safe. */
#ifndef OBJFS_SYNCGROUP_H
#define OBJFS_SYNCGROUP_H

#include <stdint.h>

struct syncgroup;

/* fd: any descriptor on the file system (kept open by the caller for the
 * group's life).  Returns 0 or -ENOMEM. */
int sg_open(int fd, struct syncgroup **out);
void sg_close(struct syncgroup *g);

/* Returns once a syncfs(2) that began after this call began has ended:
 * 0, or the negative errno that sync (or a later one this call waited
 * for) failed with -- a failed sync fails every caller it covered. */
int sg_sync(struct syncgroup *g);

struct sg_stats {
	uint64_t calls; /* sg_sync calls */
	uint64_t syncs; /* syncfs(2) calls made for them */
};
void sg_get_stats(struct syncgroup *g, struct sg_stats *out);

#endif
