/* meta_service.c: metadata shards served by this node (see meta_service.h).
 *
 * Leader decisions: before a record is applied, the node fills in the
 * values its outcome may depend on — now_ns (never going backwards within
 * a shard) and new_ino (from the shard's counter; a PUT reserves one
 * number per path component) — under the shard's mutex, so records are
 * applied in the order they were completed.  The store (meta_store.c) is
 * then deterministic, which is what lets replicas apply the same records.
 *
 * Shards are opened lazily on first use: DATA_DIR/shards/BUCKET.db, and
 * catalog.db for the bucket list.  A request for a bucket whose shard does
 * not exist here is answered -ENOENT, except BUCKET_CREATE which creates
 * it; a request for a shard this node does not serve is -EREMOTE. */
#include "meta_service.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/blockio.h"
#include "../common/client.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/meta_client.h"
#include "../proto/meta.h"
#include "meta_store.h"

/* How often the GC looks for unreferenced blocks, and how many it deletes
 * per shard per pass (bounds the time one pass holds nothing but a
 * network client). */
#define GC_INTERVAL_MS 1000
#define GC_BATCH 64

struct shard {
	char name[MSG_NAME_MAX]; /* "" = catalog */
	struct mstore *ms;
	pthread_mutex_t mu;      /* serialises decide+apply */
	uint64_t next_ino;
	int64_t last_now;
	struct shard *next;
};

struct msvc {
	const struct cfg *cfg;
	size_t self;
	char dir[PATH_MAX];
	pthread_mutex_t mu; /* guards shards list */
	struct shard *shards;
	/* GC */
	struct cl *cl;
	struct blk *blk;
	pthread_t gc;
	int gc_running;
	pthread_mutex_t gc_mu;
	pthread_cond_t gc_cv;
	int stopping;
};

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int msvc_open(const struct cfg *cfg, size_t node_idx, const char *data_dir, struct msvc **out)
{
	struct msvc *m = calloc(1, sizeof(*m));
	int n;

	if (m == NULL) {
		return -ENOMEM;
	}
	m->cfg = cfg;
	m->self = node_idx;
	n = snprintf(m->dir, sizeof(m->dir), "%s/shards", data_dir);
	if (n < 0 || (size_t)n >= sizeof(m->dir)) {
		free(m);
		return -ENAMETOOLONG;
	}
	if (mkdir(m->dir, 0700) != 0 && errno != EEXIST) {
		int e = -errno;

		free(m);
		return e;
	}
	pthread_mutex_init(&m->mu, NULL);
	pthread_mutex_init(&m->gc_mu, NULL);
	pthread_cond_init(&m->gc_cv, NULL);
	*out = m;
	return 0;
}

/* Returns the open shard, opening its database if it exists (or
 * creating it when create is set).  NULL with *err set otherwise. */
static struct shard *shard_get(struct msvc *m, const char *name, int create, int *err)
{
	struct shard *s;
	char path[PATH_MAX];
	struct stat st;
	size_t rep[1];
	int rc, n;

	if (mc_shard_replicas(m->cfg, name, rep, 1) != 1 || rep[0] != m->self) {
		*err = -EREMOTE;
		return NULL;
	}
	pthread_mutex_lock(&m->mu);
	for (s = m->shards; s != NULL; s = s->next) {
		if (strcmp(s->name, name) == 0) {
			pthread_mutex_unlock(&m->mu);
			return s;
		}
	}
	n = snprintf(path, sizeof(path), "%s/%s.db", m->dir, name[0] ? name : "catalog");
	if (n < 0 || (size_t)n >= sizeof(path)) {
		*err = -ENAMETOOLONG;
		goto fail;
	}
	/* The catalog always exists on its node; a bucket only once created. */
	if (name[0] != '\0' && !create && stat(path, &st) != 0) {
		*err = -ENOENT;
		goto fail;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		*err = -ENOMEM;
		goto fail;
	}
	if ((rc = ms_open(path, 1, &s->ms)) != 0) {
		free(s);
		*err = rc;
		goto fail;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	pthread_mutex_init(&s->mu, NULL);
	s->next_ino = ms_next_ino(s->ms);
	s->next = m->shards;
	m->shards = s;
	pthread_mutex_unlock(&m->mu);
	return s;
fail:
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* Counts the components of a path: the inode numbers a PUT may need. */
static uint64_t path_parts(const char *p)
{
	uint64_t n = 1;

	for (; *p; p++) {
		n += *p == '/';
	}
	return n;
}

/* Completes op as the shard's leader and applies it. */
static int shard_apply(struct shard *s, struct meta_op *op, struct meta_result *res)
{
	int64_t now = realtime_ns();
	uint64_t need = 0;
	int rc;

	pthread_mutex_lock(&s->mu);
	if (now <= s->last_now) {
		now = s->last_now + 1; /* per-shard time never runs backwards */
	}
	s->last_now = now;
	op->now_ns = now;
	if (op->type == MOP_CREATE) {
		need = 1;
	} else if (op->type == MOP_PUT) {
		need = path_parts(op->name);
	}
	op->new_ino = need ? s->next_ino : 0;
	rc = ms_apply(s->ms, op, 0, res);
	if (rc == 0 && need) {
		uint64_t n = ms_next_ino(s->ms);

		s->next_ino = n > s->next_ino + need ? n : s->next_ino + need;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* --- request handlers ----------------------------------------------- */

typedef int (*mh_fn)(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out);

static int mh_op(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	struct meta_op *op = calloc(1, sizeof(*op));
	struct meta_result res;
	int rc;

	(void)m;
	if (op == NULL) {
		return -ENOMEM;
	}
	meta_get_op(r, op);
	if (!rd_done(r)) {
		meta_op_free(op);
		free(op);
		return -OBJ_EPROTO;
	}
	rc = shard_apply(s, op, &res);
	if (rc == 0) {
		meta_put_result(&out->w, &res);
	}
	meta_op_free(op);
	free(op);
	return rc;
}

static int mh_lookup(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	char name[META_NAME_MAX + 1];
	struct meta_attr a;
	uint64_t parent = rd_u64(r);
	int rc;

	(void)m;
	rd_str(r, name, sizeof(name));
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_lookup(s->ms, parent, name, &a);
	if (rc == 0) {
		meta_put_attr(&out->w, &a);
	}
	return rc;
}

static int mh_getattr(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	struct meta_attr a;
	uint64_t ino = rd_u64(r);
	int rc;

	(void)m;
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_getattr(s->ms, ino, &a);
	if (rc == 0) {
		meta_put_attr(&out->w, &a);
	}
	return rc;
}

static int mh_resolve(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	char *path = malloc(WIRE_STR_MAX + 1);
	struct meta_attr a;
	int rc;

	(void)m;
	if (path == NULL) {
		return -ENOMEM;
	}
	rd_str(r, path, WIRE_STR_MAX + 1);
	rc = rd_done(r) ? ms_resolve(s->ms, path, &a) : -OBJ_EPROTO;
	if (rc == 0) {
		meta_put_attr(&out->w, &a);
	}
	free(path);
	return rc;
}

static int mh_readdir(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	char after[META_NAME_MAX + 1];
	uint64_t dir = rd_u64(r);
	uint32_t max;
	struct ms_dirent *v;
	int more = 0, n;

	(void)m;
	rd_str(r, after, sizeof(after));
	max = rd_u32(r);
	rd_u8(r); /* plus: attributes are always sent */
	if (!rd_done(r) || max == 0) {
		return -OBJ_EPROTO;
	}
	if (max > META_READDIR_MAX) {
		max = META_READDIR_MAX;
	}
	v = calloc(max, sizeof(*v));
	if (v == NULL) {
		return -ENOMEM;
	}
	n = ms_readdir(s->ms, dir, after, v, max, &more);
	if (n >= 0) {
		wr_u32(&out->w, (uint32_t)n);
		for (int i = 0; i < n; i++) {
			wr_str(&out->w, v[i].name);
			meta_put_attr(&out->w, &v[i].attr);
		}
		wr_u8(&out->w, more ? 1 : 0);
	}
	free(v);
	return n < 0 ? n : 0;
}

static int mh_readlink(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	char buf[META_SYMLINK_MAX + 1];
	uint64_t ino = rd_u64(r);
	int rc;

	(void)m;
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_readlink(s->ms, ino, buf, sizeof(buf));
	if (rc >= 0) {
		wr_str(&out->w, buf);
	}
	return rc < 0 ? rc : 0;
}

static int mh_getxattr(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	char name[META_XATTR_NAME_MAX + 1];
	uint64_t ino = rd_u64(r);
	uint8_t *val = NULL;
	size_t len = 0;
	int rc;

	(void)m;
	rd_str(r, name, sizeof(name));
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_getxattr(s->ms, ino, name, &val, &len);
	if (rc == 0) {
		wr_blob(&out->w, val, len);
	}
	free(val);
	return rc;
}

static int mh_listxattr(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	uint64_t ino = rd_u64(r);
	char *names = NULL;
	size_t len = 0;
	uint32_t n = 0;
	int rc;

	(void)m;
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_listxattr(s->ms, ino, &names, &len);
	if (rc == 0) {
		for (size_t i = 0; i < len; i++) {
			n += names[i] == '\0';
		}
		wr_u32(&out->w, n);
		for (size_t off = 0; off < len; off += strlen(names + off) + 1) {
			wr_str(&out->w, names + off);
		}
	}
	free(names);
	return rc;
}

static int mh_extents(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	uint64_t ino = rd_u64(r), first = rd_u64(r);
	uint32_t max = rd_u32(r);
	struct meta_extent *v;
	struct meta_attr a;
	uint8_t *inl = NULL;
	size_t inl_len = 0;
	int more = 0, n;

	(void)m;
	if (!rd_done(r) || max == 0) {
		return -OBJ_EPROTO;
	}
	if (max > META_EXTENTS_MAX) {
		max = META_EXTENTS_MAX;
	}
	v = calloc(max, sizeof(*v));
	if (v == NULL) {
		return -ENOMEM;
	}
	n = ms_extents(s->ms, ino, first, v, max, &more, &a, &inl, &inl_len);
	if (n >= 0) {
		meta_put_attr(&out->w, &a);
		wr_u32(&out->w, (uint32_t)n);
		for (int i = 0; i < n; i++) {
			meta_put_extent(&out->w, &v[i]);
		}
		wr_u8(&out->w, more ? 1 : 0);
		wr_blob(&out->w, inl, inl_len);
	}
	free(inl);
	free(v);
	return n < 0 ? n : 0;
}

static int mh_statfs(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	struct ms_stat st;
	int rc;

	(void)m;
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_statfs(s->ms, &st);
	if (rc == 0) {
		wr_u64(&out->w, st.files);
		wr_u64(&out->w, st.bytes);
		wr_u32(&out->w, st.chunk_size);
		wr_u32(&out->w, st.inline_max);
	}
	return rc;
}

/* Collects list entries into the reply, counting them. */
struct list_out {
	struct wr body;
	uint32_t n;
};

static int list_cb(void *arg, const char *path, uint64_t size, int64_t mtime_ns)
{
	struct list_out *lo = arg;

	wr_str(&lo->body, path);
	wr_u64(&lo->body, size);
	wr_u64(&lo->body, (uint64_t)mtime_ns);
	lo->n++;
	return 0;
}

static int finish_list(struct list_out *lo, int rc, int more, struct srv_reply *out)
{
	if (rc >= 0 && wr_status(&lo->body) == 0) {
		wr_u32(&out->w, lo->n);
		wr_bytes(&out->w, lo->body.buf, lo->body.len);
		wr_u8(&out->w, more ? 1 : 0);
		rc = 0;
	} else if (rc >= 0) {
		rc = -ENOMEM;
	}
	wr_free(&lo->body);
	return rc;
}

static int mh_list(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	char *prefix = malloc(WIRE_STR_MAX + 1), *after = malloc(WIRE_STR_MAX + 1);
	struct list_out lo = {.n = 0};
	uint32_t max;
	int more = 0, rc;

	(void)m;
	if (prefix == NULL || after == NULL) {
		free(prefix);
		free(after);
		return -ENOMEM;
	}
	rd_str(r, prefix, WIRE_STR_MAX + 1);
	rd_str(r, after, WIRE_STR_MAX + 1);
	max = rd_u32(r);
	if (!rd_done(r) || max == 0 || max > MSG_LIST_MAX) {
		free(prefix);
		free(after);
		return -OBJ_EPROTO;
	}
	wr_init(&lo.body, 0);
	rc = ms_list(s->ms, prefix, after, max, list_cb, &lo, &more);
	free(prefix);
	free(after);
	return finish_list(&lo, rc, more, out);
}

static int mh_buckets(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	struct list_out lo = {.n = 0};
	int rc;

	(void)m;
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	wr_init(&lo.body, 0);
	rc = ms_buckets(s->ms, list_cb, &lo);
	return finish_list(&lo, rc, 0, out);
}

static const mh_fn meta_handlers[MSG_META_MAX] = {
	[MSG_META_OP] = mh_op,
	[MSG_META_LOOKUP] = mh_lookup,
	[MSG_META_GETATTR] = mh_getattr,
	[MSG_META_READDIR] = mh_readdir,
	[MSG_META_READLINK] = mh_readlink,
	[MSG_META_GETXATTR] = mh_getxattr,
	[MSG_META_LISTXATTR] = mh_listxattr,
	[MSG_META_EXTENTS] = mh_extents,
	[MSG_META_STATFS] = mh_statfs,
	[MSG_META_RESOLVE] = mh_resolve,
	[MSG_META_LIST] = mh_list,
	[MSG_META_BUCKETS] = mh_buckets,
};

int msvc_handle(struct msvc *m, const struct frame_hdr *h, const uint8_t *body,
		struct srv_reply *out, char *err, size_t errlen)
{
	char bucket[MSG_NAME_MAX];
	struct shard *s;
	struct rd r;
	int create = 0, rc = 0;

	if (h->type >= MSG_META_MAX || meta_handlers[h->type] == NULL) {
		snprintf(err, errlen, "unknown message type %u", h->type);
		return -OBJ_EPROTO;
	}
	rd_init(&r, body, h->body_len);
	rd_str(&r, bucket, sizeof(bucket));
	if (!rd_ok(&r) || (bucket[0] != '\0' && msg_check_bucket(bucket) != 0)) {
		return -OBJ_EPROTO;
	}
	/* Only creating a bucket may create its shard: peek at the op type,
	 * the first byte of the record. */
	if (h->type == MSG_META_OP && r.left > 0 && r.p[0] == MOP_BUCKET_CREATE) {
		create = 1;
	}
	s = shard_get(m, bucket, create, &rc);
	if (s == NULL) {
		if (rc == -EREMOTE) {
			snprintf(err, errlen, "node does not serve the shard of bucket '%s'", bucket);
		} else if (rc == -ENOENT) {
			snprintf(err, errlen, "no such bucket '%s'", bucket);
		}
		return rc;
	}
	return meta_handlers[h->type](m, s, &r, out);
}

/* --- garbage collection --------------------------------------------- */

static void gc_shard(struct msvc *m, struct shard *s)
{
	struct manifest_block v[GC_BATCH];
	struct meta_extent ext[GC_BATCH];
	struct meta_op op = {0};
	struct meta_result res;
	size_t done = 0;
	int n = ms_gc_pending(s->ms, v, GC_BATCH);

	for (int i = 0; i < n; i++) {
		/* A block is dropped from the queue only once every live node
		 * confirmed; a node that is down keeps stray fragments that
		 * a scrub finds later (documented in ARCHITECTURE.md). */
		if (blk_delete(m->blk, &v[i]) == 0) {
			memset(&ext[done], 0, sizeof(ext[done]));
			ext[done].blk = v[i];
			ext[done].len = v[i].len;
			done++;
		}
	}
	if (done == 0) {
		return;
	}
	op.type = MOP_GC_DONE;
	op.ext = ext;
	op.n_ext = done;
	if (shard_apply(s, &op, &res) != 0) {
		log_warn("gc.apply", "shard '%s': cannot record collected blocks", s->name);
	} else {
		log_debug("gc.done", "shard '%s': collected %zu blocks", s->name, done);
	}
}

static void *gc_main(void *arg)
{
	struct msvc *m = arg;

	pthread_mutex_lock(&m->gc_mu);
	while (!m->stopping) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += GC_INTERVAL_MS / 1000;
		pthread_cond_timedwait(&m->gc_cv, &m->gc_mu, &until);
		if (m->stopping) {
			break;
		}
		pthread_mutex_unlock(&m->gc_mu);
		for (;;) {
			struct shard *s;

			/* Shards are only ever added at the head: walking
			 * from a snapshot of the head is safe unlocked. */
			pthread_mutex_lock(&m->mu);
			s = m->shards;
			pthread_mutex_unlock(&m->mu);
			for (; s != NULL; s = s->next) {
				gc_shard(m, s);
			}
			break;
		}
		pthread_mutex_lock(&m->gc_mu);
	}
	pthread_mutex_unlock(&m->gc_mu);
	return NULL;
}

int msvc_start_gc(struct msvc *m)
{
	int rc;

	if ((rc = cl_open(m->cfg, &m->cl)) != 0 || (rc = blk_open(m->cl, &m->blk)) != 0) {
		return rc;
	}
	if (pthread_create(&m->gc, NULL, gc_main, m) != 0) {
		return -ENOMEM;
	}
	m->gc_running = 1;
	return 0;
}

void msvc_close(struct msvc *m)
{
	if (m == NULL) {
		return;
	}
	if (m->gc_running) {
		pthread_mutex_lock(&m->gc_mu);
		m->stopping = 1;
		pthread_cond_signal(&m->gc_cv);
		pthread_mutex_unlock(&m->gc_mu);
		pthread_join(m->gc, NULL);
	}
	blk_close(m->blk);
	cl_close(m->cl);
	while (m->shards != NULL) {
		struct shard *s = m->shards;

		m->shards = s->next;
		ms_close(s->ms);
		pthread_mutex_destroy(&s->mu);
		free(s);
	}
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->gc_mu);
	pthread_cond_destroy(&m->gc_cv);
	free(m);
}
