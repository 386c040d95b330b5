/* meta_service_i.h: what the parts of the metadata service share.
 * The service is split by concern: meta_service.c (start, stop, the
 * synchronous apply used by maintenance), shard_reg.c (the registry of
 * open shards and their state machines), meta_handlers.c (the META_*
 * handler table), meta_gc.c (the maintenance thread), meta_leader.c (the
 * leader's decisions, pure).  Private to nodes/meta_*.c and shard_reg.c.
 * Lock order: m->mu, then s->mu; neither is held while waiting for the
 * Raft loop. */
#ifndef OBJFS_META_SERVICE_I_H
#define OBJFS_META_SERVICE_I_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "../common/blockio.h"
#include "../common/client.h"
#include "../common/config.h"
#include "../proto/meta.h"
#include "../proto/msg.h"
#include "meta_leader.h"
#include "meta_locks.h"
#include "meta_service.h"
#include "meta_store.h"
#include "raft_mux.h"
#include "repl.h"
#include "shard_install.h"

/* How long the maintenance thread waits for a record to be committed. */
#define PROPOSE_TIMEOUT_MS 10000
#define CATALOG_GROUP "_catalog" /* bucket names cannot start with '_' */
#define PENDING_MAX 64

struct gc_grace;
struct mrep;

struct shard {
	char name[MSG_NAME_MAX]; /* bucket, "" = catalog */
	struct mstore *ms;
	struct repl_group *g;
	char snap_path[PATH_MAX]; /* scratch file for snapshots */
	struct msvc *m;		  /* the registry it belongs to */
	pthread_mutex_t mu;	  /* guards lc */
	struct leader_clock lc;
	atomic_int_fast64_t gc_queue; /* blocks queued, counted by the GC pass; -1 unknown */
	atomic_uint_fast64_t bytes;   /* the database's size at open, its last copy's since */
	struct inst inst;	      /* a snapshot install off the loop (shard_install.h) */
	struct mlk_shard lk;	      /* lock waiters and leases (meta_locks.c) */
	struct gc_grace *grace;	      /* the maintenance thread's only (meta_gc.c) */
	struct shard *next;	      /* m->shards; only ever added at the head */
};

struct msvc {
	const struct cfg *cfg;
	size_t self;
	char dir[PATH_MAX];	 /* DATA_DIR/shards */
	char raft_dir[PATH_MAX]; /* DATA_DIR/raft */
	struct repl *repl;
	pthread_mutex_t mu; /* guards shards, pending */
	struct shard *shards;
	char pending[PENDING_MAX][(RMUX_GROUP_MAX + 1)];
	size_t n_pending;
	/* maintenance thread */
	struct cl *cl;
	struct blk *blk;
	pthread_t gc;
	int gc_running;
	pthread_mutex_t gc_mu;
	pthread_cond_t gc_cv;
	int stopping;
	/* lock thread (meta_locks.c) */
	pthread_t lk;
	int lk_running;
	pthread_mutex_t lk_mu; /* guards lk_stop, lk_kick */
	pthread_cond_t lk_cv;
	int lk_stop, lk_kick;
	struct mx_registry *mx; /* msvc_set_metrics; NULL: off */
	struct mrep *rep;	/* automatic repair (meta_repair.c) */
};

/* shard_reg.c */
const char *msvc_group_of(const char *bucket);
struct shard *shard_find(struct msvc *m, const char *name);
/* Opens the shard (bucket name, "" = catalog); bootstrap: this node is
 * asked to create it.  NULL with *err set (-ENXIO: not a replica). */
struct shard *shard_open(struct msvc *m, const char *name, int bootstrap, int *err);
/* The shard for a request: open, or with a log here, or -ENXIO. */
struct shard *shard_get(struct msvc *m, const char *name, int *err);
void shard_on_unknown_group(void *arg, const char *group);
void shard_open_pending(struct msvc *m);
void shard_open_existing(struct msvc *m);
void shard_free(struct shard *s);
/* Applies entry `index` (its n records) to the shard's store, results[i]
 * for each record (the state machine's apply; Raft loop only). */
int shard_apply(struct shard *s, uint64_t index, const struct repl_rec *recs, size_t n,
		void **results);

/* meta_service.c */
/* Stamps op as the shard's leader (leader_stamp) and encodes it into w
 * (initialised here; the caller frees it).  0 or -ENOMEM. */
int msvc_prepare(struct shard *s, struct meta_op *op, struct wr *w);
/* Stamps, replicates and waits for op: for the maintenance thread only
 * (request handlers never wait: they use repl_propose_async). */
int msvc_apply_sync(struct msvc *m, struct shard *s, struct meta_op *op, struct meta_result *res,
		    uint32_t *hint);
/* The node id of node index leader, 0 if unknown (-1). */
uint32_t msvc_node_id(const struct msvc *m, long leader);

/* meta_repair.c: automatic repair's thread (acts only while this node
 * leads the catalog).  0 or -ENOMEM; mrep_stop(NULL) is a no-op. */
int mrep_start(struct msvc *m, struct mrep **out);
void mrep_stop(struct mrep *r);

/* meta_gc.c: the maintenance thread (joins for peers, garbage collection). */
void *msvc_gc_main(void *arg);

#endif
