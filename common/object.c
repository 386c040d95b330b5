/* object.c: buckets and objects over the metadata shards (see object.h).
 * A put streams the source chunk by chunk (the bucket's chunk size), each
 * chunk one erasure-coded block, then commits one MOP_PUT record naming
 * every block: the object appears whole or not at all.  If the commit
 * fails, the blocks just written are deleted again.  Replaced blocks are
 * collected by the shard's garbage collector. */
#include "object.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../proto/meta.h"
#include "clock.h"
#include "err.h"
#include "fileio.h"
#include "log.h"
#include "meta_client.h"
#include "workq.h"

#define LIST_PAGE 1000
#define EXTENT_PAGE 1024

struct objc {
	const struct cfg *cfg;
	struct cl *cl;
	struct blk *blk;
	/* The chunk size and inline limit of the last bucket used: fixed when
	 * a bucket is created, so one META_STATFS per bucket, not per object;
	 * its codec may change (bucket set), so it is read again once the
	 * answer is OBJ_GEO_TTL_MS old, as a mount does. */
	pthread_mutex_t geo_mu;
	char geo_bucket[MSG_NAME_MAX];
	struct mc_statfs geo;
	uint64_t geo_ms; /* clock_mono_ms of the answer */
	/* A thread is asking again for geo_asking_for: the others use geo. */
	int geo_asking;
	char geo_asking_for[MSG_NAME_MAX];
};

#define OBJ_GEO_TTL_MS 5000

int objc_open(const struct cfg *cfg, struct objc **out)
{
	struct objc *oc = calloc(1, sizeof(*oc));
	int rc;

	if (oc == NULL) {
		return -ENOMEM;
	}
	oc->cfg = cfg;
	pthread_mutex_init(&oc->geo_mu, NULL);
	if ((rc = cl_open(cfg, &oc->cl)) != 0 || (rc = blk_open(oc->cl, &oc->blk)) != 0) {
		objc_close(oc);
		return rc;
	}
	*out = oc;
	return 0;
}

void objc_close(struct objc *oc)
{
	if (oc == NULL) {
		return;
	}
	blk_close(oc->blk);
	cl_close(oc->cl);
	pthread_mutex_destroy(&oc->geo_mu);
	free(oc);
}

/* The bucket's chunk size and inline limit (cached, see struct objc). */
static int bucket_geometry(struct objc *oc, struct mc *mc, const char *bucket, struct mc_statfs *st)
{
	int same, mine = 0, rc;

	pthread_mutex_lock(&oc->geo_mu);
	same = strcmp(oc->geo_bucket, bucket) == 0;
	if (same && (clock_mono_ms() - oc->geo_ms < OBJ_GEO_TTL_MS ||
		     (oc->geo_asking && strcmp(oc->geo_asking_for, bucket) == 0))) {
		*st = oc->geo;
		pthread_mutex_unlock(&oc->geo_mu);
		return 0;
	}
	if (same && !oc->geo_asking) { /* 16 putting threads ask once, not 16 times */
		oc->geo_asking = mine = 1;
		snprintf(oc->geo_asking_for, sizeof(oc->geo_asking_for), "%s", bucket);
	}
	pthread_mutex_unlock(&oc->geo_mu);
	rc = mc_statfs(mc, st);
	pthread_mutex_lock(&oc->geo_mu);
	if (mine) {
		oc->geo_asking = 0;
	}
	if (rc == 0) {
		snprintf(oc->geo_bucket, sizeof(oc->geo_bucket), "%s", bucket);
		oc->geo = *st;
		oc->geo_ms = clock_mono_ms();
	}
	pthread_mutex_unlock(&oc->geo_mu);
	return rc;
}

struct blk *objc_blk(struct objc *oc)
{
	return oc->blk;
}

struct cl *objc_cl(struct objc *oc)
{
	return oc->cl;
}

/* Runs one op on bucket's shard ("" = catalog); returns its outcome. */
static int run_op(struct objc *oc, const char *bucket, struct meta_op *op, struct meta_result *res)
{
	struct mc *mc;
	int rc = mc_open(oc->cl, bucket, &mc);

	if (rc != 0) {
		return rc;
	}
	rc = mc_op(mc, op, res);
	mc_close(mc);
	return rc;
}

int bucket_create(struct objc *oc, const char *bucket)
{
	return bucket_create_codec(oc, bucket, BLK_CODEC_NONE);
}

int bucket_create_codec(struct objc *oc, const char *bucket, uint8_t codec)
{
	struct meta_op *op;
	struct meta_result res;
	int rc;

	if (msg_check_bucket(bucket) != 0) {
		return -EINVAL;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		return -ENOMEM;
	}
	/* Shard first (idempotent), then the catalog entry that makes the
	 * bucket exist: a crash in between leaves only an unlisted shard
	 * that the next create adopts. */
	op->type = MOP_BUCKET_CREATE;
	op->mode = S_IFDIR | 0755;
	op->chunk_size = oc->cfg->block_size;
	op->inline_max = oc->cfg->inline_max;
	/* Both Raft groups exist before any record is proposed to them. */
	if ((rc = mc_shard_create(oc->cl, "")) != 0 ||
	    (rc = mc_shard_create(oc->cl, bucket)) != 0) {
		free(op);
		return rc;
	}
	/* An empty name addresses the bucket's own shard; a name, the
	 * catalog's entry for it. */
	rc = run_op(oc, bucket, op, &res);
	/* The codec before the catalog entry: a listed bucket has its own. */
	if (rc == 0 && codec != BLK_CODEC_NONE) {
		rc = bucket_set_codec(oc, bucket, codec);
	}
	if (rc == 0) {
		memset(op, 0, sizeof(*op));
		op->type = MOP_BUCKET_CREATE;
		op->mode = S_IFDIR | 0755;
		op->chunk_size = oc->cfg->block_size;
		op->inline_max = oc->cfg->inline_max;
		snprintf(op->name, sizeof(op->name), "%s", bucket);
		rc = run_op(oc, "", op, &res);
	}
	free(op);
	return rc;
}

int bucket_set_codec(struct objc *oc, const char *bucket, uint8_t codec)
{
	struct meta_op *op;
	struct meta_result res;
	int rc;

	if (msg_check_bucket(bucket) != 0 || codec >= BLK_CODEC_MAX) {
		return -EINVAL;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		return -ENOMEM;
	}
	op->type = MOP_BUCKET_COMPRESS;
	op->mode = codec;
	rc = run_op(oc, bucket, op, &res);
	free(op);
	/* This client's own next writes follow at once. */
	pthread_mutex_lock(&oc->geo_mu);
	if (rc == 0 && strcmp(oc->geo_bucket, bucket) == 0) {
		oc->geo.codec = codec;
	}
	pthread_mutex_unlock(&oc->geo_mu);
	return rc;
}

int bucket_block_stats(struct objc *oc, const char *bucket, struct mc_block_stats *st)
{
	struct mc *mc;
	int rc;

	if (msg_check_bucket(bucket) != 0) {
		return -EINVAL;
	}
	if ((rc = mc_open(oc->cl, bucket, &mc)) != 0) {
		return rc;
	}
	rc = mc_block_stats(mc, st);
	mc_close(mc);
	return rc;
}

int bucket_remove(struct objc *oc, const char *bucket, int force)
{
	struct meta_op *op;
	struct meta_result res;
	int rc;

	if (msg_check_bucket(bucket) != 0) {
		return -EINVAL;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		return -ENOMEM;
	}
	pthread_mutex_lock(&oc->geo_mu);
	if (strcmp(oc->geo_bucket, bucket) == 0) {
		oc->geo_bucket[0] = '\0'; /* a new bucket of that name may differ */
	}
	pthread_mutex_unlock(&oc->geo_mu);
	op->type = MOP_BUCKET_DELETE;
	op->flags = force ? META_F_FORCE : 0;
	rc = run_op(oc, bucket, op, &res);
	if (rc == 0 || rc == -ENOENT) {
		int shard_rc = rc;

		op->op_id = 0;
		snprintf(op->name, sizeof(op->name), "%s", bucket);
		rc = run_op(oc, "", op, &res);
		if (rc == -ENOENT && shard_rc == 0) {
			rc = 0; /* an unlisted shard: removed now */
		}
	}
	free(op);
	return rc;
}

struct bucket_list_arg {
	int (*fn)(void *arg, const char *name);
	void *arg;
};

static int bucket_cb(void *arg, const char *path, uint64_t size, int64_t mtime_ns)
{
	struct bucket_list_arg *b = arg;

	(void)size;
	(void)mtime_ns;
	return b->fn(b->arg, path);
}

int bucket_list(struct objc *oc, int (*fn)(void *arg, const char *name), void *arg)
{
	struct bucket_list_arg b = {fn, arg};
	struct mc *mc;
	int rc = mc_open(oc->cl, "", &mc);

	if (rc != 0) {
		return rc;
	}
	rc = mc_buckets(mc, bucket_cb, &b);
	mc_close(mc);
	return rc;
}

static int check_names(const char *bucket, const char *key)
{
	if (msg_check_bucket(bucket) != 0) {
		return -EINVAL;
	}
	return msg_check_key(key);
}

/* Where a put's bytes come from: a descriptor or a buffer. */
struct src {
	int fd;
	const uint8_t *buf;
	size_t len, off;
};

static ssize_t src_next(struct src *s, uint8_t *chunk, size_t max)
{
	size_t n;

	if (s->fd >= 0) {
		return fio_read_full(s->fd, chunk, max, FIO_CUR);
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(chunk, s->buf + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static void delete_blocks(struct objc *oc, const struct meta_extent *ext, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		blk_delete(oc->blk, &ext[i].blk);
	}
}

static int put_src(struct objc *oc, const char *bucket, const char *key, struct src *s,
		   uint64_t size_hint, uint64_t *size_out)
{
	struct mc *mc = NULL;
	struct mc_statfs st;
	struct meta_op *op = calloc(1, sizeof(*op));
	struct meta_result res;
	uint8_t *chunk = NULL;
	struct meta_extent *ext = NULL;
	size_t n_ext = 0, cap = 0;
	uint64_t size = 0;
	struct ec_profile p = blk_profile_for(oc->blk, size_hint);
	int rc, is_inline = 0;

	if (op == NULL) {
		return -ENOMEM;
	}
	if ((rc = mc_open(oc->cl, bucket, &mc)) != 0 ||
	    (rc = bucket_geometry(oc, mc, bucket, &st)) != 0) {
		goto out;
	}
	if ((chunk = malloc(st.chunk_size)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t n = src_next(s, chunk, st.chunk_size);

		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0) {
			break;
		}
		if (size == 0 && (size_t)n <= st.inline_max && (size_t)n < st.chunk_size) {
			/* Tiny object: its bytes live in the metadata record. */
			is_inline = 1;
			size = (uint64_t)n;
			break;
		}
		if (n_ext == cap) {
			struct meta_extent *ne;

			cap = cap ? cap * 2 : 16;
			if (cap > META_EXTENTS_MAX ||
			    (ne = realloc(ext, cap * sizeof(*ne))) == NULL) {
				rc = cap > META_EXTENTS_MAX ? -EFBIG : -ENOMEM;
				break;
			}
			ext = ne;
		}
		memset(&ext[n_ext], 0, sizeof(ext[n_ext]));
		rc = blk_put_codec(oc->blk, chunk, (size_t)n, p, st.codec, &ext[n_ext].blk);
		if (rc != 0) {
			break;
		}
		ext[n_ext].chunk = n_ext;
		ext[n_ext].len = (uint32_t)n;
		n_ext++;
		size += (uint64_t)n;
		if ((size_t)n < st.chunk_size) {
			break;
		}
	}
	if (rc == 0) {
		op->type = MOP_PUT;
		op->flags = META_F_PATH | (is_inline ? META_F_INLINE : 0);
		op->mode = S_IFREG | 0644;
		op->uid = getuid();
		op->gid = getgid();
		op->size = size;
		snprintf(op->name, sizeof(op->name), "%s", key);
		op->data = is_inline ? chunk : NULL;
		op->data_len = is_inline ? (size_t)size : 0;
		op->ext = ext;
		op->n_ext = n_ext;
		rc = mc_op(mc, op, &res);
	}
	if (rc != 0) {
		delete_blocks(oc, ext, n_ext);
	} else if (size_out != NULL) {
		*size_out = size;
	}
out:
	mc_close(mc);
	free(ext);
	free(chunk);
	free(op);
	return rc;
}

int obj_put_fd(struct objc *oc, const char *bucket, const char *key, int fd, uint64_t *size)
{
	struct src s = {.fd = fd};
	struct stat st;
	int rc = check_names(bucket, key);

	if (rc != 0) {
		return rc;
	}
	return put_src(oc, bucket, key, &s,
		       fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, size);
}

int obj_put_buf(struct objc *oc, const char *bucket, const char *key, const void *buf, size_t len)
{
	struct src s = {.fd = -1, .buf = buf, .len = len};
	int rc = check_names(bucket, key);

	if (rc != 0) {
		return rc;
	}
	return put_src(oc, bucket, key, &s, len, NULL);
}

/* A get in progress: where the bytes go and how far they have come. */
struct get_ctx {
	struct objc *oc;
	const struct meta_attr *a; /* the file as resolved: size, gen */
	uint32_t chunk_size;
	int fd;		/* sink when >= 0 ... */
	uint8_t *whole; /* ... else this buffer of a->size bytes */
	uint8_t *chunk; /* one chunk of scratch */
	uint64_t pos;	/* bytes delivered: the sink is written in order */
};

static int get_emit(struct get_ctx *g, const uint8_t *p, size_t len)
{
	if (g->fd >= 0) {
		return fio_write_full(g->fd, p, len, FIO_CUR);
	}
	memcpy(g->whole + g->pos, p, len);
	return 0;
}

/* Zeros from pos up to `to`: a hole, or the tail past the last extent. */
static int get_zeros(struct get_ctx *g, uint64_t to)
{
	int rc = 0;

	if (to > g->a->size) {
		to = g->a->size;
	}
	while (rc == 0 && g->pos < to) {
		size_t z = to - g->pos < g->chunk_size ? (size_t)(to - g->pos) : g->chunk_size;

		memset(g->chunk, 0, z);
		rc = get_emit(g, g->chunk, z);
		g->pos += z;
	}
	return rc;
}

/* One page of extents, in chunk order (ext_walk checked that). */
static int get_page(void *arg, const struct ext_page *pg)
{
	struct get_ctx *g = arg;
	uint64_t size = g->a->size;
	int rc = 0;

	if (pg->attr->gen != g->a->gen) {
		return -EAGAIN; /* changed while we read: the caller retries */
	}
	if (pg->inl != NULL) {
		size_t len = pg->inl_len < size ? pg->inl_len : (size_t)size;

		rc = get_emit(g, pg->inl, len);
		g->pos = len;
		return rc != 0 ? rc : 1; /* inline content is the whole file */
	}
	for (size_t i = 0; rc == 0 && i < pg->n; i++) {
		const struct meta_extent *e = &pg->ext[i];
		uint64_t cstart = e->chunk * g->chunk_size, cend;
		size_t valid = e->len, span;

		if (cstart >= size) {
			return 1; /* extents past the size hold nothing readable */
		}
		if ((rc = get_zeros(g, cstart)) != 0) {
			break;
		}
		cend = cstart + g->chunk_size < size ? cstart + g->chunk_size : size;
		span = (size_t)(cend - cstart);
		if ((rc = blk_get(g->oc->blk, &e->blk, g->chunk)) != 0) {
			break;
		}
		if (valid < span) {
			memset(g->chunk + valid, 0, span - valid);
		}
		rc = get_emit(g, g->chunk, span);
		g->pos = cend;
	}
	if (rc == 0 && g->pos >= size) {
		return 1;
	}
	return rc;
}

/* Reads the file at key to fd (fd >= 0) or into a new buffer *bufp. */
static int get_into(struct objc *oc, const char *bucket, const char *key, int fd, uint8_t **bufp,
		    uint64_t *size_out)
{
	struct mc *mc = NULL;
	struct mc_statfs st;
	struct meta_attr a;
	struct get_ctx g = {.oc = oc, .a = &a, .fd = fd};
	int rc = check_names(bucket, key);

	if (rc != 0) {
		return rc;
	}
	if ((rc = mc_open(oc->cl, bucket, &mc)) != 0 ||
	    (rc = bucket_geometry(oc, mc, bucket, &st)) != 0 ||
	    (rc = mc_resolve(mc, key, &a)) != 0) {
		goto out;
	}
	if (S_ISDIR(a.mode)) {
		rc = -EISDIR;
		goto out;
	}
	if (!S_ISREG(a.mode)) {
		rc = -EINVAL;
		goto out;
	}
	if (fd < 0 && (g.whole = calloc(1, a.size ? a.size : 1)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	g.chunk_size = st.chunk_size;
	if ((g.chunk = malloc(st.chunk_size)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	/* Walk the extents in chunk order, filling holes with zeros. */
	if (a.size > 0) {
		rc = mc_extents_each(mc, a.ino, EXTENT_PAGE, get_page, &g);
	}
	if (rc == 0) {
		rc = get_zeros(&g, a.size);
	}
	if (rc == 0) {
		if (size_out != NULL) {
			*size_out = a.size;
		}
		if (bufp != NULL) {
			*bufp = g.whole;
			g.whole = NULL;
		}
	}
out:
	mc_close(mc);
	free(g.chunk);
	free(g.whole);
	return rc;
}

int obj_get_fd(struct objc *oc, const char *bucket, const char *key, int fd, uint64_t *size)
{
	return get_into(oc, bucket, key, fd, NULL, size);
}

int obj_get_buf(struct objc *oc, const char *bucket, const char *key, uint8_t **buf, size_t *len)
{
	uint64_t size = 0;
	int rc = get_into(oc, bucket, key, -1, buf, &size);

	*len = (size_t)size;
	return rc;
}

int obj_rm(struct objc *oc, const char *bucket, const char *key)
{
	struct meta_op *op;
	struct meta_result res;
	int rc = check_names(bucket, key);

	if (rc != 0) {
		return rc;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		return -ENOMEM;
	}
	op->type = MOP_UNLINK;
	op->flags = META_F_PATH;
	snprintf(op->name, sizeof(op->name), "%s", key);
	rc = run_op(oc, bucket, op, &res);
	free(op);
	return rc;
}

struct list_arg {
	obj_list_fn fn;
	void *arg;
};

static int list_cb(void *arg, const char *path, uint64_t size, int64_t mtime_ns)
{
	struct list_arg *la = arg;
	struct obj_entry e = {path, size, mtime_ns};

	return la->fn(la->arg, &e);
}

static int list_any(struct objc *oc, const char *bucket, const char *prefix, obj_list_fn fn,
		    void *arg, int delim)
{
	struct list_arg la = {fn, arg};
	struct mc *mc = NULL;
	int rc;

	if (msg_check_bucket(bucket) != 0 || strlen(prefix) > WIRE_STR_MAX) {
		return -EINVAL;
	}
	if ((rc = mc_open(oc->cl, bucket, &mc)) != 0) {
		return rc;
	}
	rc = (delim ? mc_list_each_delim : mc_list_each)(mc, prefix, LIST_PAGE, list_cb, &la);
	mc_close(mc);
	return rc;
}

int obj_list(struct objc *oc, const char *bucket, const char *prefix, obj_list_fn fn, void *arg)
{
	return list_any(oc, bucket, prefix, fn, arg, 0);
}

int obj_list_delim(struct objc *oc, const char *bucket, const char *prefix, obj_list_fn fn,
		   void *arg)
{
	return list_any(oc, bucket, prefix, fn, arg, 1);
}

/* Blocks repaired at once: each waits on round trips (verify, read k
 * fragments, write the missing ones), so a few in flight keep the nodes'
 * disks and the network busy where one at a time leaves them idle. */
#define REPAIR_THREADS 8
#define REPAIR_QUEUE 32

struct repair_arg {
	struct objc *oc;
	struct mc *mc;
	struct repair_stats *st;
	int rc;
	const char *path; /* the file being repaired (borrowed from the listing) */
	struct workq *q;
	pthread_mutex_t mu; /* guards st, rc and pending once q runs */
	pthread_cond_t cv;
	size_t pending;
};

/* One block's repair, queued with copies of what it needs. */
struct repair_item {
	struct workq_item it;
	struct repair_arg *ra;
	struct manifest_block mb;
	uint64_t chunk;
	char *path;
};

/* Pool thread: repairs one block and counts the outcome. */
static void repair_one(struct workq_item *it)
{
	struct repair_item *ri = (struct repair_item *)it;
	struct repair_arg *ra = ri->ra;
	int rc = blk_repair(ra->oc->blk, &ri->mb);

	if (rc < 0) {
		log_warn("repair.block", "%s: chunk %llu: %s", ri->path,
			 (unsigned long long)ri->chunk, obj_strerror(rc));
	}
	pthread_mutex_lock(&ra->mu);
	ra->st->blocks++;
	if (rc < 0) {
		ra->st->failed++;
		ra->rc = ra->rc ? ra->rc : rc;
	} else {
		ra->st->fragments += (uint64_t)rc;
	}
	ra->pending--;
	pthread_cond_signal(&ra->cv);
	pthread_mutex_unlock(&ra->mu);
	free(ri->path);
	free(ri);
}

/* One page of a file's extents: queues each block's repair (waiting for
 * room in the bounded queue). */
static int repair_page(void *arg, const struct ext_page *pg)
{
	struct repair_arg *ra = arg;

	for (size_t i = 0; i < pg->n; i++) {
		struct repair_item *ri = calloc(1, sizeof(*ri));

		if (ri == NULL || (ri->path = strdup(ra->path)) == NULL) {
			free(ri);
			return -ENOMEM;
		}
		ri->it.fn = repair_one;
		ri->ra = ra;
		ri->mb = pg->ext[i].blk;
		ri->chunk = pg->ext[i].chunk;
		pthread_mutex_lock(&ra->mu);
		ra->pending++;
		pthread_mutex_unlock(&ra->mu);
		if (workq_push_wait(ra->q, &ri->it, 0) != 0) {
			pthread_mutex_lock(&ra->mu);
			ra->pending--;
			pthread_mutex_unlock(&ra->mu);
			free(ri->path);
			free(ri);
			return -ESHUTDOWN;
		}
	}
	return 0;
}

static int repair_file(void *arg, const char *path, uint64_t size, int64_t mtime_ns)
{
	struct repair_arg *ra = arg;
	struct meta_attr a;
	int rc;

	(void)size;
	(void)mtime_ns;
	ra->path = path;
	if (mc_resolve(ra->mc, path, &a) != 0) {
		return 0; /* removed meanwhile */
	}
	pthread_mutex_lock(&ra->mu);
	ra->st->files++;
	pthread_mutex_unlock(&ra->mu);
	rc = mc_extents_each(ra->mc, a.ino, EXTENT_PAGE, repair_page, ra);
	if (rc < 0) {
		pthread_mutex_lock(&ra->mu);
		ra->rc = ra->rc ? ra->rc : rc;
		pthread_mutex_unlock(&ra->mu);
	}
	return 0;
}

int obj_repair(struct objc *oc, const char *bucket, struct repair_stats *st)
{
	struct repair_arg ra = {.oc = oc, .st = st};
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = mc_open(oc->cl, bucket, &ra.mc)) != 0) {
		return rc;
	}
	if ((rc = workq_start("repair", REPAIR_THREADS, REPAIR_QUEUE, &ra.q)) != 0) {
		mc_close(ra.mc);
		return rc;
	}
	pthread_mutex_init(&ra.mu, NULL);
	pthread_cond_init(&ra.cv, NULL);
	/* The callback may make its own requests: each page's reply is
	 * already complete when it runs. */
	rc = mc_list_each(ra.mc, "", LIST_PAGE, repair_file, &ra);
	pthread_mutex_lock(&ra.mu);
	while (ra.pending > 0) {
		pthread_cond_wait(&ra.cv, &ra.mu);
	}
	pthread_mutex_unlock(&ra.mu);
	workq_stop(ra.q);
	pthread_cond_destroy(&ra.cv);
	pthread_mutex_destroy(&ra.mu);
	mc_close(ra.mc);
	return rc < 0 ? rc : ra.rc;
}
