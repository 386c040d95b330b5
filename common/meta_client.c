/* meta_client.c: requests to a bucket's metadata shard (see meta_client.h).
 * Each call packs a body (bucket first), runs one exchange with the
 * shard's node through the client library (which retries transport
 * failures with fresh frames) and decodes the reply with meta_reply.c;
 * a reply that does not decode is -OBJ_EPROTO. */
#include "meta_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../proto/frame.h"
#include "checksum.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "meta_reply.h"
#include "place.h"
#include "rand.h"

struct mc {
	struct cl *cl;
	const struct cfg *cfg;
	char bucket[MSG_NAME_MAX];
	size_t replicas[8]; /* rendezvous-chosen replicas, best first */
	size_t n_replicas;
	atomic_size_t leader;		  /* where requests go: last known leader */
	atomic_uint_fast64_t stale_until; /* queries go stale at once until then */
	atomic_uint_fast64_t *seen;	  /* highest applied index seen (seen_slot) */
	atomic_uint_fast64_t own_seen;	  /* when the process table is full */
	/* Records (mc_op) and lookups (mc_lookup) waiting to go out
	 * together, one queue of each kind: guarded by omu. */
	pthread_mutex_t omu;
	struct mc_queue {
		struct mc_waiter *head, **tail;
		unsigned inflight; /* calls of this kind now */
	} q[2];
	atomic_uint_fast64_t records, calls, lookups, lookup_calls; /* mc_get_stats */
};

/* Combining.  A record (meta_op_batchable) goes out at once while fewer
 * than MC_OPS_INFLIGHT calls of records are under way; otherwise its
 * thread queues it and sleeps, and when a call ends the records queued
 * meanwhile leave together in one META_OPS, sent by the first of their
 * threads (so no thread ever works for another after its own record is
 * done).  The shard proposes them together: one message each way and one
 * Raft entry for many creates of many threads.  Lookups combine the same
 * way, in their own queue, into META_LOOKUPS: the kernel asks one before
 * every unlink and every stat of a name whose entry expired. */
/* Calls of one kind under way at once: one gives the largest batches,
 * two let a call go out while another waits on its commit; on 2 cores
 * the metadata phases of fsmix could not tell them apart, its mix of
 * small puts and gets ran 1.3x faster with two (ARCHITECTURE.md). */
#define MC_OPS_INFLIGHT 2
/* A call carries at most this many bytes of requests (estimated). */
#define MC_OPS_BYTES (1u << 20)

enum { MC_K_RECORD, MC_K_LOOKUP };

struct mc_waiter {
	int kind;
	struct meta_op *op; /* MC_K_RECORD */
	struct meta_result *res;
	uint64_t parent; /* MC_K_LOOKUP */
	const char *name;
	struct meta_attr *attr;
	int rc;
	int state;		 /* 0 queued, 1 done, 2 this thread sends batch */
	struct mc_waiter *next;	 /* in the queue, then in its batch */
	struct mc_waiter *batch; /* state 2: the waiters to send for, this one first */
	pthread_cond_t cv;
};

/* The highest applied index this process has seen per shard, kept for the
 * life of the process (a mount, one objfsctl run), however many mc handles
 * come and go: a stale replica applied below it is not asked (meta.h).
 * Keyed by a hash of the cluster secret and the bucket, so two clusters of
 * one process (tests) never mix.  Slots are never freed. */
#define MC_SEEN_SLOTS 256
static struct {
	pthread_mutex_t mu;
	size_t n;
	struct {
		uint8_t key[16];
		atomic_uint_fast64_t index;
	} slot[MC_SEEN_SLOTS];
} mc_seen = {.mu = PTHREAD_MUTEX_INITIALIZER};

static atomic_uint_fast64_t *seen_slot(const struct cfg *cfg, const char *bucket)
{
	uint8_t buf[CFG_SECRET_MAX + MSG_NAME_MAX + 1], key[16];
	size_t blen = strlen(bucket);
	atomic_uint_fast64_t *p = NULL;

	memcpy(buf, cfg->secret, cfg->secret_len);
	buf[cfg->secret_len] = 0;
	memcpy(buf + cfg->secret_len + 1, bucket, blen);
	csum128(buf, cfg->secret_len + 1 + blen, key);
	pthread_mutex_lock(&mc_seen.mu);
	for (size_t i = 0; i < mc_seen.n && p == NULL; i++) {
		if (memcmp(mc_seen.slot[i].key, key, sizeof(key)) == 0) {
			p = &mc_seen.slot[i].index;
		}
	}
	if (p == NULL && mc_seen.n < MC_SEEN_SLOTS) {
		memcpy(mc_seen.slot[mc_seen.n].key, key, sizeof(key));
		p = &mc_seen.slot[mc_seen.n++].index;
		atomic_store(p, 0);
	}
	pthread_mutex_unlock(&mc_seen.mu);
	return p;
}

/* Raises the seen index to at least idx. */
static void seen_raise(struct mc *mc, uint64_t idx)
{
	uint_fast64_t cur = atomic_load(mc->seen);

	while (cur < idx && !atomic_compare_exchange_weak(mc->seen, &cur, idx)) {
	}
}

/* How long a request keeps looking for a leader (an election takes about
 * one election timeout; a node restart a few seconds). */
#define MC_FAILOVER_MS 20000
/* After this long without a leader, queries accept a replica's own,
 * possibly stale, state: reads keep working while a majority is down. */
#define MC_STALE_AFTER_MS 2000
/* A membership change waits on its node for the new voter's catch-up
 * (up to 60 s, mh_member); its request must outlast that, or its retry
 * meets the change still under way. */
#define MC_MEMBER_MS 65000

size_t mc_shard_replicas(const struct cfg *cfg, const char *bucket, size_t *out, size_t max)
{
	struct place_node pn[CFG_MAX_NODES];
	uint8_t key[16];
	char buf[MSG_NAME_MAX + 8];
	size_t n;

	for (size_t i = 0; i < cfg->n_nodes; i++) {
		pn[i].id = cfg->nodes[i].id;
		pn[i].zone = cfg->nodes[i].zone_idx;
		pn[i].up = 1;
	}
	n = (size_t)snprintf(buf, sizeof(buf), "shard:%s", bucket);
	csum128(buf, n < sizeof(buf) ? n : sizeof(buf) - 1, key);
	return place_rank(key, pn, cfg->n_nodes, out, max);
}

int mc_open(struct cl *cl, const char *bucket, struct mc **out)
{
	struct mc *mc;
	size_t want;

	if (bucket[0] != '\0' && msg_check_bucket(bucket) != 0) {
		return -EINVAL;
	}
	mc = calloc(1, sizeof(*mc));
	if (mc == NULL) {
		return -ENOMEM;
	}
	mc->cl = cl;
	mc->cfg = cl_cfg(cl);
	snprintf(mc->bucket, sizeof(mc->bucket), "%s", bucket);
	want = mc->cfg->meta_replicas < 8 ? mc->cfg->meta_replicas : 8;
	mc->n_replicas = mc_shard_replicas(mc->cfg, bucket, mc->replicas, want);
	if (mc->n_replicas == 0) {
		free(mc);
		return -EINVAL;
	}
	atomic_init(&mc->leader, mc->replicas[0]);
	atomic_init(&mc->own_seen, 0);
	pthread_mutex_init(&mc->omu, NULL);
	for (size_t k = 0; k < OBJ_ARRAY_LEN(mc->q); k++) {
		mc->q[k].tail = &mc->q[k].head;
	}
	mc->seen = seen_slot(mc->cfg, mc->bucket);
	if (mc->seen == NULL) {
		mc->seen = &mc->own_seen; /* table full: this handle's own */
	}
	*out = mc;
	return 0;
}

void mc_close(struct mc *mc)
{
	if (mc != NULL) {
		pthread_mutex_destroy(&mc->omu);
	}
	free(mc);
}

void mc_get_stats(struct mc *mc, struct mc_stats *out)
{
	out->records = atomic_load(&mc->records);
	out->calls = atomic_load(&mc->calls);
	out->lookups = atomic_load(&mc->lookups);
	out->lookup_calls = atomic_load(&mc->lookup_calls);
}

const char *mc_bucket(const struct mc *mc)
{
	return mc->bucket;
}

static size_t node_index(const struct cfg *cfg, uint32_t id)
{
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		if (cfg->nodes[i].id == id) {
			return i;
		}
	}
	return SIZE_MAX;
}

/* Transport failures that mean "try another replica". */
static int unreachable(int rc)
{
	return rc == -EHOSTDOWN || rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -ESHUTDOWN ||
	       rc == -EIO;
}

/* One request to the shard's leader, following redirects and moving to
 * another replica when one is unreachable, until MC_FAILOVER_MS passes.
 * Safe to repeat: queries change nothing and records carry an op_id the
 * shard remembers.  Appends the seen index to w (FRAME_F_INDEX) and takes
 * the replica's applied index off the reply.  On success the reply is in
 * *r (release with cl_req_release).  Returns the shard's status, a
 * transport error, or -OBJ_EMAJORITY when a replica could not answer
 * truthfully without a majority and no other replica could either. */
static int call(struct mc *mc, uint8_t type, struct wr *w, struct cl_req *r)
{
	uint64_t start = clock_mono_ms(), deadline = start + MC_FAILOVER_MS;
	unsigned attempt = 0, nxio = 0, since_nomaj = 0;
	/* META_BLOCKS is a query that must never be answered stale. */
	int query = type != MSG_META_OP && type != MSG_META_OPS && type != MSG_META_MEMBER &&
		    type != MSG_META_BLOCKS;
	size_t node = atomic_load(&mc->leader);
	int rc;

	memset(r, 0, sizeof(*r));
	wr_u64(w, atomic_load(mc->seen));
	if ((rc = wr_status(w)) != 0) {
		return rc;
	}
	for (;;) {
		memset(r, 0, sizeof(*r));
		r->node = node;
		r->type = type;
		r->once = 1; /* this loop fails over: cl_run must not retry */
		r->flags = FRAME_F_INDEX;
		if (query && (clock_mono_ms() - start >= MC_STALE_AFTER_MS ||
			      clock_mono_ms() < atomic_load(&mc->stale_until))) {
			r->flags |= FRAME_F_STALE_OK;
		}
		r->body = w->buf;
		r->body_len = w->len;
		cl_run(mc->cl, r, 1, type == MSG_META_MEMBER ? MC_MEMBER_MS : 0);
		rc = r->status;
		log_debug("mc.try", "%s to node %u: %s (hint %u)", msg_type_name(type),
			  mc->cfg->nodes[node].id, obj_strerror(rc), r->hint);
		if (rc == 0 ||
		    !(rc == -EREMOTE || rc == -ENXIO || rc == -OBJ_EMAJORITY || unreachable(rc))) {
			atomic_store(&mc->leader, node);
			if (r->flags & FRAME_F_STALE_OK) {
				/* No leader now: the next queries need not wait
				 * again for one (re-checked after the window). */
				atomic_store(&mc->stale_until, clock_mono_ms() + MC_STALE_AFTER_MS);
			}
			break;
		}
		nxio = rc == -ENXIO ? nxio + 1 : 0;
		if (nxio >= mc->n_replicas) {
			rc = -ENOENT; /* no replica knows the shard: no such bucket */
			break;
		}
		/* A replica without a majority that cannot prove its answer
		 * current: ask the others once each, then say so rather than
		 * wait out the whole fail-over time for a majority. */
		if (rc == -OBJ_EMAJORITY || since_nomaj > 0) {
			if (++since_nomaj >= mc->n_replicas) {
				log_debug("mc.nomajority", "%s on bucket '%s': %s",
					  msg_type_name(type), mc->bucket, r->err);
				rc = -OBJ_EMAJORITY;
				break;
			}
		}
		if (clock_mono_ms() >= deadline) {
			break;
		}
		cl_req_release(r);
		if (rc == -EREMOTE && r->hint != 0 && node_index(mc->cfg, r->hint) != SIZE_MAX &&
		    node_index(mc->cfg, r->hint) != node) {
			node = node_index(mc->cfg, r->hint); /* redirected: go at once */
			continue;
		}
		/* No leader known, or this one is unreachable: next replica,
		 * pausing once per round so an election can finish. */
		attempt++;
		for (size_t i = 0; i < mc->n_replicas; i++) {
			if (mc->replicas[i] == node) {
				node = mc->replicas[(i + 1) % mc->n_replicas];
				break;
			}
		}
		if (attempt % mc->n_replicas == 0) {
			usleep(attempt < 3 * mc->n_replicas ? 50000 : 200000);
		}
	}
	if (rc == 0) {
		/* The answering replica's applied index trails the reply. */
		struct rd rd;

		if (r->reply_len < 8) {
			cl_req_release(r);
			return -OBJ_EPROTO;
		}
		r->reply_len -= 8;
		rd_init(&rd, r->reply + r->reply_len, 8);
		seen_raise(mc, rd_u64(&rd));
	}
	if (rc != 0 && rc != -ENOENT && rc > -OBJ_EBASE) {
		log_debug("mc.call", "%s on bucket '%s': %s%s%s", msg_type_name(type), mc->bucket,
			  obj_strerror(rc), r->err[0] ? ": " : "", r->err);
	}
	return rc;
}

static void begin(struct mc *mc, struct wr *w)
{
	wr_init(w, 0);
	wr_str(w, mc->bucket);
}

/* A fresh operation id: random, never 0 (0 asks for one). */
static int new_op_id(uint64_t *id)
{
	int rc;

	do {
		rc = rand_u64(id);
	} while (rc == 0 && *id == 0);
	return rc;
}

/* One record in one META_OP call. */
static int op_single(struct mc *mc, struct meta_op *op, struct meta_result *res)
{
	struct wr w;
	struct cl_req r;
	int rc;

	atomic_fetch_add(&mc->records, 1);
	atomic_fetch_add(&mc->calls, 1);
	begin(mc, &w);
	meta_put_op(&w, op);
	rc = call(mc, MSG_META_OP, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_result(r.reply, r.reply_len, res);
	}
	cl_req_release(&r);
	if (rc != 0) {
		memset(res, 0, sizeof(*res)); /* nothing half-valid beside the error */
	}
	return rc;
}

/* The body of a batch call up to its items: bucket, then the count of
 * the chain from first. */
static void batch_begin(struct mc *mc, const struct mc_waiter *first, struct wr *w)
{
	uint32_t n = 0;

	for (const struct mc_waiter *x = first; x != NULL; x = x->next) {
		n++;
	}
	begin(mc, w);
	wr_u32(w, n);
}

/* The records of a batch (chain through next) in one META_OPS call; sets
 * each waiter's rc and result. */
static void op_batch(struct mc *mc, struct mc_waiter *first)
{
	struct meta_result *res[META_OPS_MAX];
	struct mc_waiter *x;
	uint32_t n = 0;
	struct wr w;
	struct cl_req r;
	int rc;

	batch_begin(mc, first, &w);
	for (x = first; x != NULL; x = x->next) {
		meta_put_op(&w, x->op);
		res[n++] = x->res;
	}
	atomic_fetch_add(&mc->records, n);
	atomic_fetch_add(&mc->calls, 1);
	rc = call(mc, MSG_META_OPS, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_results(r.reply, r.reply_len, res, n);
	}
	cl_req_release(&r);
	for (x = first; x != NULL; x = x->next) {
		if (rc != 0) {
			memset(x->res, 0, sizeof(*x->res));
		}
		x->rc = rc != 0 ? rc : x->res->status;
	}
}

static int attr_call(struct mc *mc, uint8_t type, struct wr *w, struct meta_attr *out);

static int lookup_single(struct mc *mc, uint64_t parent, const char *name, struct meta_attr *out)
{
	struct wr w;

	atomic_fetch_add(&mc->lookups, 1);
	atomic_fetch_add(&mc->lookup_calls, 1);
	begin(mc, &w);
	wr_u64(&w, parent);
	wr_str(&w, name);
	return attr_call(mc, MSG_META_LOOKUP, &w, out);
}

/* The lookups of a batch in one META_LOOKUPS call. */
static void lookup_batch(struct mc *mc, struct mc_waiter *first)
{
	struct meta_attr *attr[META_LOOKUPS_MAX];
	int status[META_LOOKUPS_MAX];
	struct mc_waiter *x;
	uint32_t n = 0;
	struct wr w;
	struct cl_req r;
	int rc;

	batch_begin(mc, first, &w);
	for (x = first; x != NULL; x = x->next) {
		wr_u64(&w, x->parent);
		wr_str(&w, x->name);
		attr[n++] = x->attr;
	}
	atomic_fetch_add(&mc->lookups, n);
	atomic_fetch_add(&mc->lookup_calls, 1);
	rc = call(mc, MSG_META_LOOKUPS, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_lookups(r.reply, r.reply_len, attr, status, n);
	}
	cl_req_release(&r);
	n = 0;
	for (x = first; x != NULL; x = x->next, n++) {
		x->rc = rc != 0 ? rc : status[n];
		if (rc == 0 && x->rc == -OBJ_EMAJORITY) {
			/* A stale replica cannot prove the name absent: alone,
			 * the lookup asks the other replicas as call() does. */
			x->rc = lookup_single(mc, x->parent, x->name, x->attr);
		}
	}
}

/* Sends a batch (chain through next) of one kind; a batch of one goes as
 * the plain request. */
static void send_batch(struct mc *mc, struct mc_waiter *first)
{
	if (first->kind == MC_K_RECORD) {
		if (first->next == NULL) {
			first->rc = op_single(mc, first->op, first->res);
		} else {
			op_batch(mc, first);
		}
	} else if (first->next == NULL) {
		first->rc = lookup_single(mc, first->parent, first->name, first->attr);
	} else {
		lookup_batch(mc, first);
	}
}

static size_t wait_bytes(const struct mc_waiter *w)
{
	if (w->kind == MC_K_LOOKUP) {
		return 16 + strlen(w->name);
	}
	return 256 + w->op->data_len + w->op->n_ext * 96;
}

/* A call ended (omu held): the requests queued meanwhile leave as
 * batches, each sent by its first thread, while calls are free. */
static void hand_over(struct mc_queue *q)
{
	while (q->inflight < MC_OPS_INFLIGHT && q->head != NULL) {
		struct mc_waiter *first = q->head, *last = first;
		size_t n = 1, bytes = wait_bytes(first);

		/* META_OPS_MAX == META_LOOKUPS_MAX */
		while (last->next != NULL && n < META_OPS_MAX &&
		       bytes + wait_bytes(last->next) <= MC_OPS_BYTES) {
			last = last->next;
			bytes += wait_bytes(last);
			n++;
		}
		q->head = last->next;
		if (q->head == NULL) {
			q->tail = &q->head;
		}
		last->next = NULL;
		first->batch = first;
		first->state = 2;
		q->inflight++;
		pthread_cond_signal(&first->cv);
	}
}

/* Sends w's request, alone or together with others of its kind; returns
 * its outcome. */
static int combine(struct mc *mc, struct mc_waiter *w)
{
	struct mc_queue *q = &mc->q[w->kind];

	pthread_mutex_lock(&mc->omu);
	if (q->inflight < MC_OPS_INFLIGHT && q->head == NULL) {
		q->inflight++;
		pthread_mutex_unlock(&mc->omu);
		send_batch(mc, w);
		pthread_mutex_lock(&mc->omu);
		q->inflight--;
		hand_over(q);
		pthread_mutex_unlock(&mc->omu);
		return w->rc;
	}
	pthread_cond_init(&w->cv, NULL);
	*q->tail = w;
	q->tail = &w->next;
	while (w->state == 0) {
		pthread_cond_wait(&w->cv, &mc->omu);
	}
	if (w->state == 2) {
		pthread_mutex_unlock(&mc->omu);
		send_batch(mc, w->batch);
		pthread_mutex_lock(&mc->omu);
		for (struct mc_waiter *x = w->next, *next; x != NULL; x = next) {
			next = x->next; /* x may return once it is told */
			x->state = 1;
			pthread_cond_signal(&x->cv);
		}
		q->inflight--;
		hand_over(q);
	}
	pthread_mutex_unlock(&mc->omu);
	pthread_cond_destroy(&w->cv);
	return w->rc;
}

int mc_op(struct mc *mc, struct meta_op *op, struct meta_result *res)
{
	struct mc_waiter w = {.kind = MC_K_RECORD, .op = op, .res = res};
	int rc;

	memset(res, 0, sizeof(*res));
	if (op->op_id == 0 && (rc = new_op_id(&op->op_id)) != 0) {
		return rc;
	}
	if (!meta_op_batchable(op->type)) {
		return op_single(mc, op, res);
	}
	return combine(mc, &w);
}

/* Queries whose reply is one meta_attr. */
static int attr_call(struct mc *mc, uint8_t type, struct wr *w, struct meta_attr *out)
{
	struct cl_req r;
	int rc = call(mc, type, w, &r);

	wr_free(w);
	if (rc == 0) {
		rc = mr_attr(r.reply, r.reply_len, out);
	}
	cl_req_release(&r);
	return rc;
}

int mc_lookup(struct mc *mc, uint64_t parent, const char *name, struct meta_attr *out)
{
	struct mc_waiter w = {.kind = MC_K_LOOKUP, .parent = parent, .name = name, .attr = out};
	/* "." (any inode) and ".." (a directory's parent): what the kernel
	 * asks when it decodes a file handle; they travel alone. */
	int dots = strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
	int rc = dots ? 0 : meta_check_name(name);

	if (rc != 0) {
		return rc;
	}
	if (dots) {
		return lookup_single(mc, parent, name, out);
	}
	return combine(mc, &w);
}

int mc_getattr(struct mc *mc, uint64_t ino, struct meta_attr *out)
{
	struct wr w;

	begin(mc, &w);
	wr_u64(&w, ino);
	return attr_call(mc, MSG_META_GETATTR, &w, out);
}

int mc_resolve(struct mc *mc, const char *path, struct meta_attr *out)
{
	struct wr w;

	if (strlen(path) > WIRE_STR_MAX) {
		return -ENAMETOOLONG;
	}
	begin(mc, &w);
	wr_str(&w, path);
	return attr_call(mc, MSG_META_RESOLVE, &w, out);
}

int mc_readdir(struct mc *mc, uint64_t dir, const char *after, uint32_t max, mc_dirent_fn fn,
	       void *arg, int *more)
{
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	wr_u64(&w, dir);
	wr_str(&w, after);
	wr_u32(&w, max);
	wr_u8(&w, 1);
	rc = call(mc, MSG_META_READDIR, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_readdir(r.reply, r.reply_len, max, fn, arg, more);
	}
	cl_req_release(&r);
	return rc;
}

int mc_readdir_c(struct mc *mc, uint64_t dir, uint64_t cookie, uint32_t max, mc_dirent_c_fn fn,
		 void *arg, int *more)
{
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	wr_u64(&w, dir);
	wr_u64(&w, cookie);
	wr_u32(&w, max);
	wr_u8(&w, 1);
	rc = call(mc, MSG_META_READDIR_C, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_readdir_c(r.reply, r.reply_len, max, cookie, fn, arg, more);
	}
	cl_req_release(&r);
	return rc;
}

int mc_readlink(struct mc *mc, uint64_t ino, char *buf, size_t cap)
{
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	wr_u64(&w, ino);
	rc = call(mc, MSG_META_READLINK, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_readlink(r.reply, r.reply_len, buf, cap);
	}
	cl_req_release(&r);
	return rc;
}

int mc_getxattr(struct mc *mc, uint64_t ino, const char *name, uint8_t **val, size_t *len)
{
	struct wr w;
	struct cl_req r;
	int rc;

	*val = NULL;
	*len = 0;
	begin(mc, &w);
	wr_u64(&w, ino);
	wr_str(&w, name);
	rc = call(mc, MSG_META_GETXATTR, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_getxattr(r.reply, r.reply_len, val, len);
	}
	cl_req_release(&r);
	return rc;
}

int mc_listxattr(struct mc *mc, uint64_t ino, char **names, size_t *len)
{
	struct wr w;
	struct cl_req r;
	int rc;

	*names = NULL;
	*len = 0;
	begin(mc, &w);
	wr_u64(&w, ino);
	rc = call(mc, MSG_META_LISTXATTR, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_listxattr(r.reply, r.reply_len, names, len);
	}
	cl_req_release(&r);
	return rc;
}

int mc_extents(struct mc *mc, uint64_t ino, uint64_t first, uint32_t max, struct meta_extent **ext,
	       int *more, struct meta_attr *attr, uint8_t **inl, size_t *inl_len)
{
	struct wr w;
	struct cl_req r;
	int rc;

	*ext = NULL;
	*inl = NULL;
	*inl_len = 0;
	*more = 0;
	if (max > META_EXTENTS_MAX) {
		max = META_EXTENTS_MAX;
	}
	begin(mc, &w);
	wr_u64(&w, ino);
	wr_u64(&w, first);
	wr_u32(&w, max);
	rc = call(mc, MSG_META_EXTENTS, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_extents(r.reply, r.reply_len, max, ext, more, attr, inl, inl_len);
	}
	cl_req_release(&r);
	return rc;
}

static int extents_fetch(void *src, uint64_t ino, uint64_t first, uint32_t max,
			 struct meta_extent **ext, int *more, struct meta_attr *attr, uint8_t **inl,
			 size_t *inl_len)
{
	return mc_extents(src, ino, first, max, ext, more, attr, inl, inl_len);
}

int mc_extents_each(struct mc *mc, uint64_t ino, uint32_t max, ext_page_fn fn, void *arg)
{
	return ext_walk(extents_fetch, mc, ino, max, fn, arg);
}

int mc_extents_all(struct mc *mc, uint64_t ino, struct meta_extent **ext, size_t *n,
		   struct meta_attr *attr, uint8_t **inl, size_t *inl_len)
{
	return ext_collect(extents_fetch, mc, ino, META_EXTENTS_MAX, ext, n, attr, inl, inl_len);
}

int mc_statfs(struct mc *mc, struct mc_statfs *st)
{
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	rc = call(mc, MSG_META_STATFS, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_statfs(r.reply, r.reply_len, st);
	}
	cl_req_release(&r);
	return rc;
}

int mc_block_stats(struct mc *mc, struct mc_block_stats *st)
{
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	rc = call(mc, MSG_META_BLOCK_STATS, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_block_stats(r.reply, r.reply_len, st);
	}
	cl_req_release(&r);
	return rc;
}

int mc_node_map(struct mc *mc, struct meta_node_row *out, size_t max)
{
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	rc = call(mc, MSG_META_NODE_MAP, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_node_map(r.reply, r.reply_len, out, max);
	}
	cl_req_release(&r);
	return rc;
}

int mc_quota(struct mc *mc, uint8_t what, uint64_t ino, struct meta_quota *out, size_t max,
	     int *more)
{
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	wr_u8(&w, what);
	wr_u64(&w, ino);
	rc = call(mc, MSG_META_QUOTA, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_quota(r.reply, r.reply_len, out, max, more);
	}
	cl_req_release(&r);
	return rc;
}

int mc_quota_set(struct mc *mc, uint64_t ino, const uint64_t lim[4])
{
	uint8_t data[32];
	struct meta_result res;
	struct meta_op *op = calloc(1, sizeof(*op));
	int rc;

	if (op == NULL) {
		return -ENOMEM;
	}
	for (int i = 0; i < 4; i++) {
		for (int b = 0; b < 8; b++) {
			data[i * 8 + b] = (uint8_t)(lim[i] >> (8 * b));
		}
	}
	op->type = MOP_QUOTA_SET;
	op->ino = ino;
	op->data = data;
	op->data_len = sizeof(data);
	rc = mc_op(mc, op, &res);
	free(op);
	return rc;
}

int mc_trash(struct mc *mc, uint64_t after, struct meta_trash *out, size_t max, int64_t *keep,
	     int *more)
{
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	wr_u64(&w, after);
	rc = call(mc, MSG_META_TRASH, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_trash(r.reply, r.reply_len, out, max, keep, more);
	}
	cl_req_release(&r);
	return rc;
}

int mc_trash_op(struct mc *mc, uint8_t type, uint64_t ino, uint64_t arg, struct meta_attr *attr)
{
	struct meta_result res;
	struct meta_op *op = calloc(1, sizeof(*op));
	int rc;

	if (op == NULL) {
		return -ENOMEM;
	}
	op->type = type;
	op->ino = ino;
	op->size = arg;
	rc = mc_op(mc, op, &res);
	free(op);
	if (rc == 0 && attr != NULL) {
		*attr = res.attr;
	}
	return rc;
}

/* One MOP_SNAPSHOT or MOP_SNAPSHOT_RM. */
static int snap_op(struct mc *mc, uint8_t type, uint64_t ino, const char *name,
		   struct meta_attr *attr)
{
	struct meta_result res;
	struct meta_op *op;
	int rc = meta_check_name(name);

	if (rc != 0) {
		return rc;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		return -ENOMEM;
	}
	op->type = type;
	op->ino = ino;
	snprintf(op->name, sizeof(op->name), "%s", name);
	rc = mc_op(mc, op, &res);
	free(op);
	if (rc == 0 && attr != NULL) {
		*attr = res.attr;
	}
	return rc;
}

int mc_snapshot(struct mc *mc, uint64_t ino, const char *name, struct meta_attr *attr)
{
	return snap_op(mc, MOP_SNAPSHOT, ino, name, attr);
}

int mc_snapshot_rm(struct mc *mc, const char *name)
{
	return snap_op(mc, MOP_SNAPSHOT_RM, 0, name, NULL);
}

int mc_getlk(struct mc *mc, const struct meta_lock *req, struct meta_lock *out)
{
	struct wr w;
	struct cl_req r;
	struct rd rd;
	int rc;

	begin(mc, &w);
	meta_put_lock(&w, req);
	rc = call(mc, MSG_META_GETLK, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		uint8_t found;

		rd_init(&rd, r.reply, r.reply_len);
		found = rd_u8(&rd);
		meta_get_lock(&rd, out);
		rc = !rd_done(&rd) || found > 1 ? -OBJ_EPROTO : found;
	}
	cl_req_release(&r);
	return rc;
}

int mc_lock_renew(struct mc *mc, uint64_t session, uint32_t *lease_ms)
{
	struct wr w;
	struct cl_req r;
	struct rd rd;
	int rc;

	begin(mc, &w);
	wr_u64(&w, session);
	rc = call(mc, MSG_META_LOCK_RENEW, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rd_init(&rd, r.reply, r.reply_len);
		*lease_ms = rd_u32(&rd);
		rc = rd_done(&rd) && *lease_ms > 0 ? 0 : -OBJ_EPROTO;
	}
	cl_req_release(&r);
	return rc;
}

int mc_lock_cancel(struct mc *mc, uint64_t session, uint64_t wait_id)
{
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	wr_u64(&w, session);
	wr_u64(&w, wait_id);
	rc = call(mc, MSG_META_LOCK_CANCEL, &w, &r);
	wr_free(&w);
	if (rc == 0 && r.reply_len != 0) {
		rc = -OBJ_EPROTO;
	}
	cl_req_release(&r);
	return rc;
}

static int list_call(struct mc *mc, int type, const char *prefix, const char *after, uint32_t max,
		     mc_list_fn fn, void *arg, int *more)
{
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	wr_str(&w, prefix);
	wr_str(&w, after);
	wr_u32(&w, max);
	rc = call(mc, type, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_list(r.reply, r.reply_len, max, fn, arg, more);
	}
	cl_req_release(&r);
	return rc;
}

int mc_list(struct mc *mc, const char *prefix, const char *after, uint32_t max, mc_list_fn fn,
	    void *arg, int *more)
{
	return list_call(mc, MSG_META_LIST, prefix, after, max, fn, arg, more);
}

static int list_fetch(void *src, const char *prefix, const char *after, uint32_t max,
		      lst_entry_fn fn, void *arg, int *more)
{
	return mc_list(src, prefix, after, max, fn, arg, more);
}

static int list_fetch_d(void *src, const char *prefix, const char *after, uint32_t max,
			lst_entry_fn fn, void *arg, int *more)
{
	return list_call(src, MSG_META_LIST_D, prefix, after, max, fn, arg, more);
}

int mc_list_each(struct mc *mc, const char *prefix, uint32_t max, mc_list_fn fn, void *arg)
{
	return lst_walk(list_fetch, mc, prefix, max, fn, arg);
}

int mc_list_each_delim(struct mc *mc, const char *prefix, uint32_t max, mc_list_fn fn, void *arg)
{
	return lst_walk(list_fetch_d, mc, prefix, max, fn, arg);
}

int mc_buckets(struct mc *mc, mc_list_fn fn, void *arg)
{
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	rc = call(mc, MSG_META_BUCKETS, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_list(r.reply, r.reply_len, MSG_LIST_MAX, fn, arg, NULL);
	}
	cl_req_release(&r);
	return rc < 0 ? rc : 0;
}

int mc_keys(struct mc *mc, int secret, mc_key_fn fn, void *arg)
{
	struct wr w;
	struct cl_req r;
	struct rd rd;
	uint32_t n;
	int rc;

	begin(mc, &w);
	rc = call(mc, secret ? MSG_META_KEY_SYNC : MSG_META_KEYS, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rd_init(&rd, r.reply, r.reply_len);
		n = rd_u32(&rd);
		for (uint32_t i = 0; i < n && rc == 0 && rd_ok(&rd); i++) {
			struct key_ent k;

			key_get(&rd, &k, secret);
			rc = rd_ok(&rd) ? fn(arg, &k) : -OBJ_EPROTO;
			memset(k.secret, 0, sizeof(k.secret));
		}
		if (rc == 0 && !rd_done(&rd)) {
			rc = -OBJ_EPROTO;
		}
	}
	cl_req_release(&r);
	return rc;
}

int mc_capacity(struct cl *cl, uint64_t *total, uint64_t *avail)
{
	const struct cfg *cfg = cl_cfg(cl);
	struct cl_req *reqs = calloc(cfg->n_nodes, sizeof(*reqs));
	int ok = 0;

	*total = *avail = 0;
	if (reqs == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		reqs[i].node = i;
		reqs[i].type = MSG_PING;
	}
	cl_run(cl, reqs, cfg->n_nodes, 2000);
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		struct node_status st;
		struct rd rd;

		if (reqs[i].status == 0) {
			rd_init(&rd, reqs[i].reply, reqs[i].reply_len);
			msg_get_node_status(&rd, &st);
			if (rd_done(&rd)) {
				*total += st.disk_total;
				*avail += st.disk_free;
				ok++;
			}
		}
		cl_req_release(&reqs[i]);
	}
	free(reqs);
	return ok > 0 ? 0 : -EIO;
}

int mc_shard_create(struct cl *cl, const char *bucket)
{
	const struct cfg *cfg = cl_cfg(cl);
	size_t rep[8], n, want = cfg->meta_replicas < 8 ? cfg->meta_replicas : 8;
	struct cl_req reqs[8];
	struct wr w;
	int ok, rc, refused;

	n = mc_shard_replicas(cfg, bucket, rep, want);
	wr_init(&w, 0);
	wr_str(&w, bucket);
	if ((rc = wr_status(&w)) != 0) {
		wr_free(&w);
		return rc;
	}
	memset(reqs, 0, sizeof(reqs));
	for (size_t i = 0; i < n; i++) {
		reqs[i].node = rep[i];
		reqs[i].type = MSG_META_SHARD_OPEN;
		reqs[i].body = w.buf;
		reqs[i].body_len = w.len;
	}
	ok = cl_run(cl, reqs, n, 0);
	refused = 0;
	for (size_t i = 0; i < n; i++) {
		if (reqs[i].status == -EACCES || reqs[i].status == -ENOKEY) {
			refused = reqs[i].status; /* the key's answer, not the node's */
		} else if (reqs[i].status != 0) {
			log_warn("mc.shard", "replica %u of shard '%s' not opened: %s",
				 cfg->nodes[rep[i]].id, bucket, obj_strerror(reqs[i].status));
		}
		cl_req_release(&reqs[i]);
	}
	wr_free(&w);
	if (refused != 0 && ok == 0) {
		return refused;
	}
	/* A majority can elect a leader; the others join when they return. */
	return (size_t)ok >= n / 2 + 1 ? 0 : -OBJ_EQUORUM;
}

int mc_shards(struct cl *cl, size_t node, int (*fn)(void *arg, const struct shard_state *st),
	      void *arg)
{
	struct cl_req r;
	struct wr w;
	int rc;

	wr_init(&w, 0);
	wr_str(&w, "");
	memset(&r, 0, sizeof(r));
	r.node = node;
	r.type = MSG_META_SHARDS;
	r.body = w.buf;
	r.body_len = w.len;
	cl_run(cl, &r, 1, 2000);
	wr_free(&w);
	rc = r.status;
	if (rc == 0) {
		rc = mr_shards(r.reply, r.reply_len, fn, arg);
	}
	cl_req_release(&r);
	return rc;
}

int mc_member(struct mc *mc, int add, uint32_t node_id)
{
	struct cl_req r;
	struct wr w;
	int rc;

	begin(mc, &w);
	wr_u8(&w, add ? 1 : 2);
	wr_u32(&w, node_id);
	rc = call(mc, MSG_META_MEMBER, &w, &r);
	wr_free(&w);
	cl_req_release(&r);
	return rc;
}

int mc_blocks(struct mc *mc, const uint8_t after[BLOCK_ID_LEN], int first, uint32_t max,
	      struct meta_block_row *out, int *more)
{
	static const uint8_t zero[BLOCK_ID_LEN];
	struct wr w;
	struct cl_req r;
	int rc;

	begin(mc, &w);
	wr_u8(&w, first ? 1 : 0);
	wr_bytes(&w, first ? zero : after, BLOCK_ID_LEN);
	wr_u32(&w, max);
	rc = call(mc, MSG_META_BLOCKS, &w, &r);
	wr_free(&w);
	if (rc == 0) {
		rc = mr_blocks(r.reply, r.reply_len, max, out, more);
	}
	cl_req_release(&r);
	return rc;
}
