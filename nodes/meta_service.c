/* meta_service.c: metadata shards served by this node (see meta_service.h).
 *
 * Every shard is a Raft group (repl.h) whose log entries are operation
 * records (proto/meta.h) and whose state machine is the shard's SQLite
 * database (meta_store.h).  The leader decides the values a record's
 * outcome depends on — now_ns (never going backwards within the shard) and
 * new_ino (from a counter; a PUT reserves one number per path component) —
 * then proposes it; every replica applies it with ms_apply, which is
 * deterministic, so replicas hold identical databases.
 *
 * Shards are opened: at start-up (every group with a log under
 * DATA_DIR/raft), when a client asks a replica to create one
 * (META_SHARD_OPEN: bootstrapped with the rendezvous-chosen replicas), or
 * when a peer's Raft traffic names a group this node has not opened (it
 * joins without bootstrapping: the leader sends it the log or a snapshot).
 * The last case is noticed on the Raft loop thread, which must never
 * block, so the open is handed to the maintenance thread.
 *
 * Threads: handlers run on the server's workers; state machine callbacks on
 * the Raft loop thread; the maintenance thread opens shards for peers and
 * collects garbage on the shards this node leads.  Lock order: m->mu, then
 * s->mu; neither is held while waiting for the Raft loop. */
#include "meta_service.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
#include "raft_mux.h"
#include "repl.h"

/* How often the maintenance thread runs, and how many blocks it deletes
 * per shard per pass. */
#define GC_INTERVAL_MS 1000
#define GC_BATCH 64
/* How long a worker waits for its record to be committed and applied. */
#define PROPOSE_TIMEOUT_MS 10000
#define CATALOG_GROUP "_catalog" /* bucket names cannot start with '_' */
#define PENDING_MAX 64

struct shard {
	char name[MSG_NAME_MAX]; /* bucket, "" = catalog */
	struct mstore *ms;
	struct repl_group *g;
	char snap_path[PATH_MAX]; /* scratch file for snapshots */
	pthread_mutex_t mu;      /* guards next_ino, last_now */
	uint64_t next_ino;
	int64_t last_now;
	struct shard *next;
};

struct msvc {
	const struct cfg *cfg;
	size_t self;
	char dir[PATH_MAX];      /* DATA_DIR/shards */
	char raft_dir[PATH_MAX]; /* DATA_DIR/raft */
	struct repl *repl;
	pthread_mutex_t mu;      /* guards shards, pending */
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
};

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *group_of(const char *bucket)
{
	return bucket[0] ? bucket : CATALOG_GROUP;
}

/* ---- the state machine (Raft loop thread) --------------------------- */

static int fsm_apply(void *arg, uint64_t index, const void *buf, size_t len, void **result)
{
	struct shard *s = arg;
	struct meta_op *op = calloc(1, sizeof(*op));
	struct meta_result *res = calloc(1, sizeof(*res));
	struct rd r;
	int rc;

	if (op == NULL || res == NULL) {
		free(op);
		free(res);
		return -ENOMEM;
	}
	rd_init(&r, buf, len);
	meta_get_op(&r, op);
	if (!rd_done(&r)) {
		/* Only a leader of ours wrote this entry: a record that does
		 * not decode is answered as malformed, identically on every
		 * replica, and changes nothing. */
		res->status = -EINVAL;
		rc = 0;
	} else {
		rc = ms_apply(s->ms, op, index, res);
		log_debug("msvc.apply", "shard '%s' entry %llu: op %u id %llx -> %d (applied %llu)",
			  s->name, (unsigned long long)index, op->type,
			  (unsigned long long)op->op_id, res->status,
			  (unsigned long long)ms_applied_index(s->ms));
	}
	meta_op_free(op);
	free(op);
	if (rc != 0) {
		log_error("msvc.apply", "shard '%s': entry %llu not applied: %s", s->name,
			  (unsigned long long)index, obj_strerror(rc));
		free(res);
		return rc;
	}
	*result = res;
	return 0;
}

static int fsm_snapshot(void *arg, void **buf, size_t *len)
{
	struct shard *s = arg;
	struct stat st;
	uint8_t *data;
	ssize_t got;
	int fd, rc = ms_backup(s->ms, s->snap_path);

	if (rc != 0) {
		return rc;
	}
	fd = open(s->snap_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		if (fd >= 0) {
			close(fd);
		}
		return rc;
	}
	data = malloc((size_t)st.st_size ? (size_t)st.st_size : 1);
	got = data != NULL ? pread(fd, data, (size_t)st.st_size, 0) : -1;
	close(fd);
	unlink(s->snap_path);
	if (got != st.st_size) {
		free(data);
		return -EIO;
	}
	*buf = data;
	*len = (size_t)st.st_size;
	return 0;
}

static int fsm_restore(void *arg, const void *buf, size_t len)
{
	struct shard *s = arg;
	int fd = open(s->snap_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = 0;

	if (fd < 0) {
		return -errno;
	}
	if (write(fd, buf, len) != (ssize_t)len || fsync(fd) != 0) {
		rc = -EIO;
	}
	close(fd);
	if (rc == 0) {
		rc = ms_restore(s->ms, s->snap_path);
	}
	unlink(s->snap_path);
	log_info("msvc.restore", "shard '%s': installed a snapshot of %zu bytes: %s", s->name,
		 len, rc == 0 ? "ok" : obj_strerror(rc));
	if (rc == 0) {
		pthread_mutex_lock(&s->mu);
		s->next_ino = ms_next_ino(s->ms);
		pthread_mutex_unlock(&s->mu);
	}
	return rc;
}

/* ---- shard registry ----------------------------------------------- */

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
	if (n < 0 || (size_t)n >= sizeof(m->dir) ||
	    snprintf(m->raft_dir, sizeof(m->raft_dir), "%s/raft", data_dir) >= (int)sizeof(m->raft_dir)) {
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

static struct shard *find_shard(struct msvc *m, const char *name)
{
	struct shard *s;

	pthread_mutex_lock(&m->mu);
	for (s = m->shards; s != NULL; s = s->next) {
		if (strcmp(s->name, name) == 0) {
			break;
		}
	}
	pthread_mutex_unlock(&m->mu);
	return s;
}

/* True when this node is one of the shard's rendezvous-chosen replicas;
 * fills voters with them. */
static int is_replica(struct msvc *m, const char *name, size_t *voters, size_t *n)
{
	size_t want = m->cfg->meta_replicas;

	if (want > 8) {
		want = 8;
	}
	*n = mc_shard_replicas(m->cfg, name, voters, want);
	for (size_t i = 0; i < *n; i++) {
		if (voters[i] == m->self) {
			return 1;
		}
	}
	return 0;
}

static int has_log(struct msvc *m, const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	int n = snprintf(path, sizeof(path), "%s/%s", m->raft_dir, group_of(name));

	return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Opens the shard (bucket name, "" = catalog).  bootstrap: this node is
 * asked to create it (META_SHARD_OPEN).  Serialised by the callers' use
 * of m->mu only around the list: two threads opening the same shard at
 * once both reach repl_group_open, which returns the same group. */
static struct shard *shard_open(struct msvc *m, const char *name, int bootstrap, int *err)
{
	static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
	struct repl_fsm fsm;
	struct shard *s;
	size_t voters[8], nv = 0;
	char path[PATH_MAX];
	int rc, n;

	if ((s = find_shard(m, name)) != NULL) {
		return s;
	}
	/* A bootstrap needs to be a chosen replica; otherwise only a shard
	 * with a log here (or one a peer told us of) is opened. */
	if (bootstrap && !is_replica(m, name, voters, &nv)) {
		*err = -ENXIO;
		return NULL;
	}
	pthread_mutex_lock(&open_mu); /* never held while the Raft loop waits on us */
	if ((s = find_shard(m, name)) != NULL) {
		pthread_mutex_unlock(&open_mu);
		return s;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		*err = -ENOMEM;
		goto fail;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	pthread_mutex_init(&s->mu, NULL);
	n = snprintf(path, sizeof(path), "%s/%s.db", m->dir, group_of(name));
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    snprintf(s->snap_path, sizeof(s->snap_path), "%s/%s.snap", m->dir, group_of(name)) >=
		    (int)sizeof(s->snap_path)) {
		*err = -ENAMETOOLONG;
		goto fail;
	}
	/* The Raft log makes each entry durable: the database can use
	 * synchronous=NORMAL and is rebuilt from the log after a crash. */
	if ((rc = ms_open(path, 0, &s->ms)) != 0) {
		*err = rc;
		goto fail;
	}
	s->next_ino = ms_next_ino(s->ms);
	fsm.arg = s;
	fsm.apply = fsm_apply;
	fsm.snapshot = fsm_snapshot;
	fsm.restore = fsm_restore;
	rc = repl_group_open(m->repl, group_of(name), &fsm, bootstrap ? voters : NULL,
			     bootstrap ? nv : 0, &s->g);
	if (rc != 0) {
		log_error("msvc.open", "shard '%s': cannot start replication: %s", name,
			  obj_strerror(rc));
		*err = rc;
		goto fail;
	}
	pthread_mutex_lock(&m->mu);
	s->next = m->shards;
	m->shards = s;
	pthread_mutex_unlock(&m->mu);
	pthread_mutex_unlock(&open_mu);
	log_info("msvc.open", "shard '%s' open%s", name[0] ? name : CATALOG_GROUP,
		 bootstrap ? " (created)" : "");
	return s;
fail:
	if (s != NULL) {
		/* Only reached before the group started: nothing refers to s. */
		ms_close(s->ms);
		pthread_mutex_destroy(&s->mu);
		free(s);
	}
	pthread_mutex_unlock(&open_mu);
	return NULL;
}

/* The shard for a request: open, or with a log here, or -ENXIO. */
static struct shard *shard_get(struct msvc *m, const char *name, int *err)
{
	struct shard *s = find_shard(m, name);

	if (s != NULL) {
		return s;
	}
	if (!has_log(m, name)) {
		*err = -ENXIO;
		return NULL;
	}
	return shard_open(m, name, 0, err);
}

/* Raft loop thread: a peer named a group we have not opened.  Queue it
 * for the maintenance thread (the loop must not block on opening). */
static void on_unknown_group(void *arg, const char *group)
{
	struct msvc *m = arg;

	pthread_mutex_lock(&m->mu);
	if (m->n_pending < PENDING_MAX) {
		int dup = 0;

		for (size_t i = 0; i < m->n_pending; i++) {
			dup |= strcmp(m->pending[i], group) == 0;
		}
		if (!dup) {
			snprintf(m->pending[m->n_pending++], (RMUX_GROUP_MAX + 1), "%s", group);
		}
	}
	pthread_mutex_unlock(&m->mu);
	pthread_mutex_lock(&m->gc_mu);
	pthread_cond_signal(&m->gc_cv);
	pthread_mutex_unlock(&m->gc_mu);
}

static void open_pending(struct msvc *m)
{
	for (;;) {
		char group[(RMUX_GROUP_MAX + 1)];
		int err = 0;

		pthread_mutex_lock(&m->mu);
		if (m->n_pending == 0) {
			pthread_mutex_unlock(&m->mu);
			return;
		}
		snprintf(group, sizeof(group), "%s", m->pending[--m->n_pending]);
		pthread_mutex_unlock(&m->mu);
		if (shard_open(m, strcmp(group, CATALOG_GROUP) == 0 ? "" : group, 0, &err) == NULL) {
			log_warn("msvc.join", "cannot join group %s: %s", group, obj_strerror(err));
		}
	}
}

/* Opens every shard with a log on disk (at start-up). */
static void open_existing(struct msvc *m)
{
	DIR *d = opendir(m->raft_dir);
	struct dirent *e;

	if (d == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL) {
		int err = 0;
		const char *name = e->d_name;

		if (name[0] == '.' || (name[0] != '_' && msg_check_bucket(name) != 0)) {
			continue;
		}
		if (strcmp(name, CATALOG_GROUP) == 0) {
			name = "";
		} else if (name[0] == '_') {
			continue;
		}
		if (shard_open(m, name, 0, &err) == NULL) {
			log_error("msvc.open", "shard '%s': %s", e->d_name, obj_strerror(err));
		}
	}
	closedir(d);
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

/* Completes op as the shard's leader and replicates it. */
static int shard_apply(struct msvc *m, struct shard *s, struct meta_op *op,
		       struct meta_result *res, uint32_t *hint)
{
	int64_t now = realtime_ns();
	uint64_t need = 0, base;
	struct wr w;
	void *result = NULL;
	long leader = -1;
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
	/* Numbers handed out by earlier leaders are all applied once this
	 * node is a ready leader: the larger of both counters is free. */
	base = ms_next_ino(s->ms);
	if (base < s->next_ino) {
		base = s->next_ino;
	}
	op->new_ino = need ? base : 0;
	s->next_ino = base + need;
	pthread_mutex_unlock(&s->mu);

	wr_init(&w, 0);
	meta_put_op(&w, op);
	rc = wr_status(&w);
	if (rc == 0) {
		rc = repl_propose(s->g, w.buf, w.len, PROPOSE_TIMEOUT_MS, &result, &leader);
	}
	wr_free(&w);
	if (rc == -EREMOTE) {
		*hint = leader >= 0 ? m->cfg->nodes[leader].id : 0;
	}
	if (rc == 0) {
		if (result == NULL) {
			return -EIO;
		}
		*res = *(struct meta_result *)result;
		free(result);
	}
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
	rc = shard_apply(m, s, op, &res, &out->hint);
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

/* META_SHARD_OPEN: become a replica of a new shard (idempotent). */
static int handle_shard_open(struct msvc *m, const char *bucket, struct rd *r, char *err,
			     size_t errlen)
{
	int rc = 0;

	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	if (shard_open(m, bucket, 1, &rc) == NULL) {
		if (rc == -ENXIO) {
			snprintf(err, errlen, "node is not a replica of shard '%s'", bucket);
		}
		return rc;
	}
	return 0;
}

struct shards_out {
	struct msvc *m;
	struct wr body;
	uint32_t n;
};

static void shard_state_cb(void *arg, struct repl_group *g, const char *name)
{
	struct shards_out *so = arg;
	struct repl_state rs;
	struct shard_state st = {0};

	if (repl_get_state(g, &rs) != 0) {
		return;
	}
	snprintf(st.name, sizeof(st.name), "%s", name);
	st.role = (uint8_t)rs.role;
	st.ready = (uint8_t)rs.ready;
	st.leader_id = rs.leader >= 0 ? so->m->cfg->nodes[rs.leader].id : 0;
	st.term = rs.term;
	st.commit = rs.commit;
	st.applied = rs.applied;
	st.last_index = rs.last_index;
	st.n_voters = (uint32_t)rs.n_voters;
	for (size_t i = 0; i < rs.n_voters; i++) {
		st.voter_id[i] = rs.voters[i] >= 0 ? so->m->cfg->nodes[rs.voters[i]].id : 0;
		st.match[i] = rs.match[i];
	}
	meta_put_shard_state(&so->body, &st);
	so->n++;
}

/* META_SHARDS: this node's view of every group it runs. */
static int handle_shards(struct msvc *m, struct rd *r, struct srv_reply *out)
{
	struct shards_out so = {.m = m};

	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	wr_init(&so.body, 0);
	repl_groups(m->repl, shard_state_cb, &so);
	wr_u32(&out->w, so.n);
	wr_bytes(&out->w, so.body.buf, so.body.len);
	wr_free(&so.body);
	return 0;
}

/* META_MEMBER: add or remove a voter, on the leader. */
static int handle_member(struct msvc *m, struct shard *s, struct rd *r, struct srv_reply *out)
{
	uint8_t what = rd_u8(r);
	uint32_t id = rd_u32(r);
	long leader = -1;
	size_t node = SIZE_MAX;
	int rc;

	if (!rd_done(r) || (what != 1 && what != 2)) {
		return -OBJ_EPROTO;
	}
	for (size_t i = 0; i < m->cfg->n_nodes; i++) {
		if (m->cfg->nodes[i].id == id) {
			node = i;
		}
	}
	if (node == SIZE_MAX) {
		return -EINVAL;
	}
	if (repl_read_ok(s->g, &leader) != 0) {
		out->hint = leader >= 0 ? m->cfg->nodes[leader].id : 0;
		return -EREMOTE;
	}
	rc = what == 1 ? repl_add_voter(s->g, node, 60000) : repl_remove_voter(s->g, node, 60000);
	if (rc == -EREMOTE) {
		out->hint = 0;
	}
	return rc;
}

int msvc_handle(struct msvc *m, const struct frame_hdr *h, const uint8_t *body,
		struct srv_reply *out, char *err, size_t errlen)
{
	char bucket[MSG_NAME_MAX];
	struct shard *s;
	struct rd r;
	long leader = -1;
	int rc = 0;

	if (h->type >= MSG_META_MAX ||
	    (meta_handlers[h->type] == NULL && h->type != MSG_META_SHARD_OPEN &&
	     h->type != MSG_META_SHARDS && h->type != MSG_META_MEMBER)) {
		snprintf(err, errlen, "unknown message type %u", h->type);
		return -OBJ_EPROTO;
	}
	rd_init(&r, body, h->body_len);
	rd_str(&r, bucket, sizeof(bucket));
	if (!rd_ok(&r) || (bucket[0] != '\0' && msg_check_bucket(bucket) != 0)) {
		return -OBJ_EPROTO;
	}
	if (h->type == MSG_META_SHARD_OPEN) {
		return handle_shard_open(m, bucket, &r, err, errlen);
	}
	if (h->type == MSG_META_SHARDS) {
		return handle_shards(m, &r, out);
	}
	s = shard_get(m, bucket, &rc);
	if (s == NULL) {
		if (rc == -ENXIO) {
			snprintf(err, errlen, "no replica of bucket '%s' here", bucket);
		}
		return rc;
	}
	if (h->type == MSG_META_MEMBER) {
		return handle_member(m, s, &r, out);
	}
	/* Only the ready leader answers: it holds every committed entry.  A
	 * client that found no leader may accept this replica's own state
	 * for a query (never for a change). */
	if (repl_read_ok(s->g, &leader) != 0 &&
	    !((h->flags & FRAME_F_STALE_OK) && h->type != MSG_META_OP)) {
		out->hint = leader >= 0 ? m->cfg->nodes[leader].id : 0;
		snprintf(err, errlen, "not the leader of shard '%s'", bucket);
		return -EREMOTE;
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
	uint32_t hint = 0;
	long leader;
	int n;

	if (repl_read_ok(s->g, &leader) != 0) {
		return; /* only the leader collects */
	}
	n = ms_gc_pending(s->ms, v, GC_BATCH);

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
	if (shard_apply(m, s, &op, &res, &hint) != 0) {
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
		open_pending(m);
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

int msvc_start(struct msvc *m, char *err, size_t errlen)
{
	int rc = repl_open(m->cfg, m->self, m->raft_dir, &m->repl, err, errlen);

	if (rc != 0) {
		return rc;
	}
	repl_set_unknown_cb(m->repl, on_unknown_group, m);
	open_existing(m);
	if ((rc = cl_open(m->cfg, &m->cl)) != 0 || (rc = blk_open(m->cl, &m->blk)) != 0) {
		snprintf(err, errlen, "cannot start the garbage collector's client: %s",
			 obj_strerror(rc));
		return rc;
	}
	if (pthread_create(&m->gc, NULL, gc_main, m) != 0) {
		snprintf(err, errlen, "cannot start the maintenance thread");
		return -ENOMEM;
	}
	m->gc_running = 1;
	return 0;
}

void msvc_quiesce(struct msvc *m)
{
	if (m != NULL && m->repl != NULL) {
		repl_stop(m->repl);
	}
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
	/* Replication first: no state machine callback may run once the
	 * stores close. */
	repl_close(m->repl);
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
