/* loop_turn.h: times the turns of one libuv loop -- the work between two
 * waits for I/O, without the waits -- into a histogram, counts and logs
 * turns longer than a limit.  For the Raft loop (repl.c): no message is
 * read during a turn, so a turn past the election timeout costs the
 * leaderships of the groups the node leads.  Owns its prepare handle and
 * its counters; never blocks the loop.  lt_init, lt_close and the timing
 * run on the loop's thread (or before it runs); lt_set_metrics and
 * lt_quiet on any thread. */
#ifndef OBJFS_LOOP_TURN_H
#define OBJFS_LOOP_TURN_H

#include <stdint.h>
#include <uv.h>

#include "../common/metrics.h"

struct loop_turn {
	uv_prepare_t h;
	uint64_t limit_ns;		    /* a turn this long is a stall */
	uint32_t election_ms;		    /* for the log line */
	uint64_t turn_ns, idle_ns;	    /* clock and idle time at the last turn */
	uint64_t logged_ns;		    /* when a stall was last logged */
	unsigned unlogged;		    /* stalls since */
	struct mx_metric *busy_ns, *stalls; /* atomic; NULL: not exported */
};

/* Before uv_run: turns longer than half of election_ms are stalls.  If
 * libuv keeps no idle time, nothing is timed (logged once). */
void lt_init(struct loop_turn *t, uv_loop_t *loop, uint32_t election_ms);
/* Exports objfs_raft_loop_turn_seconds and objfs_raft_loop_stalls_total. */
void lt_set_metrics(struct loop_turn *t, struct mx_registry *mx);
/* Stops exporting (the registry may go away after this). */
void lt_quiet(struct loop_turn *t);
/* On the loop, at shutdown: stops and closes the handle. */
void lt_close(struct loop_turn *t);

#endif
