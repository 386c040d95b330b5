/* usage.h: a node's usage history: a sample of its usage (fragment bytes,
 * fragments, capacity, requests served, objects of the shards it leads)
 * every usage_interval seconds, kept in DATA_DIR/usage.log and answered
 * to MSG_USAGE.  Owns that file and one sampling thread; never touches
 * fragments or shards itself (the probe callback reads them).
 *
 * File: fixed 104-byte records appended one per sample, each with its own
 * XXH3, fdatasync'ed.  A torn last record (power loss mid-append) fails
 * its checksum and is cut off at the next open.  The file is bounded:
 * when it holds 2 x keep records, the newest keep (USAGE_KEEP on a node)
 * are written to a temp file that is fsync'ed and renamed over it. */
#ifndef OBJFS_USAGE_H
#define OBJFS_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/msg.h"

/* A year of hourly samples. */
#define USAGE_KEEP 8760
#define USAGE_FILE "usage.log"
#define USAGE_REC_LEN 104

struct usage;

/* Fills s with the node's usage now (t_s is set by the caller). */
typedef void (*usage_probe_fn)(void *arg, struct usage_sample *s);

/* Opens (creating) data_dir/usage.log and loads its valid records, of
 * which it keeps the newest keep (>= 1).  Returns 0 or a negative errno. */
int usage_open(const char *data_dir, size_t keep, uint32_t interval_s, usage_probe_fn probe,
	       void *arg, struct usage **out);
/* Starts the sampling thread: one sample now, then one per interval. */
int usage_start(struct usage *u);
/* Takes one sample now and records it (also what the thread does). */
int usage_sample_now(struct usage *u);
/* Copies the newest min(max, held) samples, oldest first, to out;
 * returns their count. */
size_t usage_get(struct usage *u, struct usage_sample *out, size_t max);
/* Stops the thread (if started) and closes the file. */
void usage_close(struct usage *u);

/* Record codec, for the tests: encodes s into rec (USAGE_REC_LEN bytes);
 * decodes, returning 0 or -OBJ_ECHECKSUM / -EINVAL. */
void usage_rec_encode(const struct usage_sample *s, uint8_t rec[USAGE_REC_LEN]);
int usage_rec_decode(const uint8_t rec[USAGE_REC_LEN], struct usage_sample *s);

#endif
