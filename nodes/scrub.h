/* scrub.h: the scrubber of one node: a thread that reads every fragment
 * of the fragment store in full, one pass every scrub_period, at most
 * scrub_rate MB/s and at idle I/O priority, so foreground requests keep
 * their latency.  A fragment that fails a checksum is quarantined by the
 * store (frag_verify) and remembered for `objfsctl scrub status`.  Never
 * talks to the network and never repairs: repair needs the block's
 * metadata, which lives in the shards (objfsctl repair, fsck --repair). */
#ifndef OBJFS_SCRUB_H
#define OBJFS_SCRUB_H

#include <stdint.h>

#include "../proto/msg.h"
#include "fragstore.h"

struct scrub;

/* Starts the scrub thread over fs.  period_s 0: passes only on request.
 * The time of the last complete pass is kept in state_path (may be NULL:
 * nothing kept), so a restart does not restart the schedule.  Returns 0,
 * -ENOMEM or the error of pthread_create. */
int scrub_start(struct fragstore *fs, double period_s, uint32_t rate_mb, const char *state_path,
		struct scrub **out);

/* Stops the thread (a pass under way is abandoned) and frees it. */
void scrub_stop(struct scrub *s);

/* Starts a pass now; a pass under way is abandoned and a new one begins.
 * Returns the id of the pass that starts, which `status` reports as
 * last.id once it is complete. */
uint32_t scrub_kick(struct scrub *s);

void scrub_status(struct scrub *s, struct scrub_status *out);

#endif
