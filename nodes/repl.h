/* repl.h: replication of metadata shards, the one narrow interface over
 * the Raft library (c-raft), so that it can be swapped.
 *
 * A `repl` owns one libuv loop thread that drives every Raft group of the
 * node and the TCP multiplexer their traffic shares (raft_mux.h).  A
 * group replicates opaque records into a state machine given as
 * callbacks, which run on the loop thread only.  Other threads propose
 * records and wait for their outcome; they never call c-raft themselves
 * (c-raft is not thread-safe): requests cross over through a queue and a
 * uv_async wake-up.
 *
 * Reads: a group is "ready" on a node once it is leader and a barrier in
 * its current term has been applied, i.e. its state machine holds every
 * committed entry.  Reads served while ready may be stale by at most the
 * time a deposed leader needs to notice (an election timeout): documented
 * in ARCHITECTURE.md. */
#ifndef OBJFS_REPL_H
#define OBJFS_REPL_H

#include <stddef.h>
#include <stdint.h>

#include "../common/config.h"

struct repl;
struct repl_group;

/* One record of an entry. */
struct repl_rec {
	const void *buf;
	size_t len;
};

/* The records of a log entry as the loop frames them: each [u32 len]
 * [bytes] padded with zeros to 8 bytes, one after another.  The first is
 * always there (an entry of one record is what every version wrote); a
 * zero length after it is padding.  Returns the count with recs filled up
 * to max, or -1 if a length runs past the entry or it holds no record.
 * Pure: exposed for the tests. */
/* Entries between the snapshots of a state of `bytes` whose log entries
 * take `entry_bytes` on average (0: unknown): one per
 * REPL_SNAP_BYTES_PER_ENTRY of the state, but no more than keep
 * REPL_SNAP_LOG_BUDGET of entries in memory (c-raft holds every entry
 * since the last snapshot), at least `base` (snapshot_entries) and at most
 * `most` (snapshot_max_entries; below base, base).  A copy costs the whole
 * state, so a large shard copied every `base` entries would copy more than
 * it applies.  Pure: exposed for the tests. */
#define REPL_SNAP_BYTES_PER_ENTRY 4096
#define REPL_SNAP_LOG_BUDGET (64u << 20)
uint32_t repl_snapshot_every(uint32_t base, uint32_t most, uint64_t bytes, uint64_t entry_bytes);

long repl_entry_records(const void *entry, size_t len, struct repl_rec *recs, size_t max);

/* The replicated state machine.  All callbacks run on the loop thread. */
struct repl_fsm {
	void *arg;
	/* Applies entry `index`: its n records (n >= 1; proposals that
	 * reached the loop together share an entry, up to the config's
	 * propose_batch), in order and as one unit -- the entry is applied
	 * whole or, after a crash, again whole.  results[i] (NULL on entry)
	 * is handed to record i's proposer, or freed with free() if nobody
	 * waits.  A negative return stops the group: only for a storage
	 * failure. */
	int (*apply)(void *arg, uint64_t index, const struct repl_rec *recs, size_t n,
		     void **results);
	/* A consistent copy of the whole state in a malloc'd buffer. */
	int (*snapshot)(void *arg, void **buf, size_t *len);
	/* Optional, replaces snapshot: a copy of the state taken on a
	 * worker thread while the loop goes on applying entries, returned as
	 * a malloc'd buffer (e.g. a small descriptor of a file).  The copy
	 * must hold the state at `index` or later.  Called with no other
	 * snapshot_async of the group running. */
	int (*snapshot_async)(void *arg, uint64_t index, void **buf, size_t *len);
	/* Replaces the state with a snapshot's. */
	int (*restore)(void *arg, const void *buf, size_t len);
	/* Optional: a state machine whose restore returned before its state
	 * was in (an install finishing on a thread of its own, the entries
	 * applied meanwhile held) finishes here what it can: called after
	 * each restore, at every tick (20 ms) and before a snapshot.  > 0
	 * while its state lags the entries applied to it: the group is then
	 * not ready (no reads, no proposals) and takes no snapshot; 0 once
	 * current; < 0 on a storage failure, which stops the group. */
	int (*catch_up)(void *arg);
	/* Optional: the state's size in bytes (its last copy's, say), asked
	 * at the group's open and as each snapshot starts, to space the next
	 * snapshots by (repl_snapshot_every).  No lock, no wait. */
	uint64_t (*state_bytes)(void *arg);
	/* Optional: called once per loop iteration in which entries were
	 * applied, after all of them, so the state machine can commit them
	 * together (results were handed out already: the log is what makes
	 * them durable).  A negative return stops the group. */
	int (*flush)(void *arg);
};

/* Starts the loop thread and listens for replication traffic on this
 * node's raft address; group logs live under raft_dir/NAME.  Returns 0, or a negative errno with
 * err set
 * (-EADDRINUSE for a port in use). */
int repl_open(const struct cfg *cfg, size_t self, const char *raft_dir, struct repl **out,
	      char *err, size_t errlen);
/* Stops every group and the loop thread, and fails every proposal still
 * waiting with -ESHUTDOWN (later calls fail at once); the memory stays
 * valid until repl_close, so threads still running may call in. */
void repl_stop(struct repl *r);
/* repl_stop, then frees everything. */
void repl_close(struct repl *r);

/* Called (on the loop thread) when a peer contacts a group this node has
 * not opened; the callback may call repl_group_open for it. */
void repl_set_unknown_cb(struct repl *r, void (*fn)(void *arg, const char *group), void *arg);

/* Opens group `name` (its log lives in raft_dir/NAME).  With
 * voters (indexes into cfg->nodes) and a fresh directory, the group is
 * bootstrapped with them as its first configuration; every initial voter
 * must be bootstrapped with the same list.  Opening an open group returns
 * it.  May be called from any thread, including the loop thread. */
int repl_group_open(struct repl *r, const char *name, const struct repl_fsm *fsm,
		    const size_t *voters, size_t n_voters, struct repl_group **out);
/* The group if it is open, else NULL. */
struct repl_group *repl_group_find(struct repl *r, const char *name);
/* Names of the groups open, for status: calls fn for each. */
void repl_groups(struct repl *r, void (*fn)(void *arg, struct repl_group *g, const char *name),
		 void *arg);

/* Proposes a record and waits until it is applied here.  Returns 0 with
 * *result from the state machine, -EREMOTE when this node is not the
 * ready leader (*leader = node index or -1 if unknown), -ETIMEDOUT,
 * -ESHUTDOWN, or -EIO.  Not on the loop thread. */
int repl_propose(struct repl_group *g, const void *buf, size_t len, uint32_t timeout_ms,
		 void **result, long *leader);

/* Completion of repl_propose_async, on the loop thread: status 0 with the
 * state machine's result (the callee owns it: free()), or -EREMOTE with
 * leader (node index or -1), -ENOMEM, -ESHUTDOWN, -EIO.  Must not block. */
typedef void (*repl_done_fn)(void *arg, int status, void *result, long leader);

/* Proposes a record without waiting: done runs exactly once, on the loop
 * thread, when the entry is applied here or has failed.  Entries proposed
 * while the log is being written go out in the next write together (one
 * fsync for many).  Returns 0 once queued, or -ENOMEM / -ESHUTDOWN (done
 * is then never called).  Any thread but the loop's. */
int repl_propose_async(struct repl_group *g, const void *buf, size_t len, repl_done_fn done,
		       void *arg);

/* 0 when this node may serve reads of the group (ready leader), else
 * -EREMOTE with *leader set as above. */
int repl_read_ok(struct repl_group *g, long *leader);

/* The index of the last entry applied here (0 before the first; behind
 * by at most one tick after a snapshot install).  Any thread, no wait. */
uint64_t repl_applied(struct repl_group *g);

struct repl_state {
	int role; /* 0 unavailable, 1 follower, 2 candidate, 3 leader */
	int ready;
	long leader; /* node index or -1 */
	uint64_t term, commit, applied, last_index;
	size_t n_voters;
	long voters[8];	   /* node indexes */
	uint64_t match[8]; /* leader only: replicated index per voter */
};
int repl_get_state(struct repl_group *g, struct repl_state *st);

/* The state the loop published at its last tick (every 20 ms) and the
 * group's counters, without waiting for the loop (for metrics scrapes).
 * -EAGAIN until the first tick. */
struct repl_stats {
	struct repl_state st;
	uint64_t elections;	      /* terms begun since the group opened here */
	uint64_t snapshots_taken;     /* by this replica */
	uint64_t snapshots_installed; /* restored: sent by a leader, or at start */
	uint64_t proposed_entries;    /* Raft entries this replica proposed as leader */
	uint64_t proposed_records;    /* the records they carried */
};
int repl_get_stats(struct repl_group *g, struct repl_stats *out);
/* Times every proposal of groups opened from now on in mx's
 * objfs_raft_proposal_duration_seconds{shard}.  Before any group opens. */
struct mx_registry;
void repl_set_metrics(struct repl *r, struct mx_registry *mx);

/* Membership, one change at a time, on the leader: adds node as a voter
 * (catching it up first) or removes it.  -EREMOTE if not leader. */
int repl_add_voter(struct repl_group *g, size_t node, uint32_t timeout_ms);
int repl_remove_voter(struct repl_group *g, size_t node, uint32_t timeout_ms);

/* The raft address ("host:port") of cfg->nodes[i]. */
int repl_node_addr(const struct cfg *cfg, size_t i, char *out, size_t len);

#endif
