/* shard_reg.c: the registry of metadata shards open on this node and
 * their replicated state machines (see meta_service_i.h).
 *
 * Every shard is a Raft group (repl.h) whose log entries are operation
 * records (proto/meta.h) and whose state machine is the shard's SQLite
 * database (meta_store.h); every replica applies a record with ms_apply,
 * which is deterministic, so replicas hold identical databases.
 *
 * Shards are opened: at start-up (every group with a log under
 * DATA_DIR/raft), when a client asks a replica to create one
 * (META_SHARD_OPEN: bootstrapped with the rendezvous-chosen replicas), or
 * when a peer's Raft traffic names a group this node has not opened (it
 * joins without bootstrapping: the leader sends it the log or a snapshot).
 * The last case is noticed on the Raft loop thread, which must never
 * block, so the open is handed to the maintenance thread.
 * State machine callbacks run on the Raft loop thread only. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/err.h"
#include "../common/fileio.h"
#include "../common/log.h"
#include "../common/meta_client.h"
#include "gc_grace.h"
#include "meta_service_i.h"
#include "snap_stream.h"

/* How long a replica installing a snapshot tries to fetch its copy. */
#define SNAP_FETCH_MS (10 * 60 * 1000)

const char *msvc_shard_dir(const struct msvc *m)
{
	return m->dir;
}

const char *msvc_group_of(const char *bucket)
{
	return bucket[0] ? bucket : CATALOG_GROUP;
}

/* ---- the state machine (Raft loop thread) --------------------------- */

int shard_apply(struct shard *s, uint64_t index, const struct repl_rec *recs, size_t n,
		void **results)
{
	struct meta_op *ops = calloc(n, sizeof(*ops));
	struct meta_result *res = calloc(n, sizeof(*res));
	struct meta_result **out = calloc(n, sizeof(*out));
	int *bad = calloc(n, sizeof(*bad));
	int rc = -ENOMEM;
	size_t i;

	if (ops == NULL || res == NULL || out == NULL || bad == NULL) {
		goto done;
	}
	for (i = 0; i < n; i++) {
		struct rd r;

		out[i] = calloc(1, sizeof(*out[i]));
		if (out[i] == NULL) {
			goto done;
		}
		rd_init(&r, recs[i].buf, recs[i].len);
		meta_get_op(&r, &ops[i]);
		/* Only a leader of ours wrote this entry: a record that does
		 * not decode is answered as malformed, identically on every
		 * replica, and changes nothing (a no-op in the batch). */
		bad[i] = !rd_done(&r);
		if (bad[i]) {
			meta_op_free(&ops[i]);
			memset(&ops[i], 0, sizeof(ops[i]));
			/* type 0: dispatch answers -EINVAL, changes nothing */
		}
	}
	rc = ms_apply_batch(s->ms, ops, n, index, res);
	if (rc != 0) {
		log_error("msvc.apply", "shard '%s': entry %llu not applied: %s", s->name,
			  (unsigned long long)index, obj_strerror(rc));
		goto done;
	}
	for (i = 0; i < n; i++) {
		*out[i] = res[i];
		if (bad[i]) {
			memset(out[i], 0, sizeof(*out[i]));
			out[i]->status = -EINVAL;
		}
		log_debug("msvc.apply", "shard '%s' entry %llu.%zu: op %u id %llx -> %d", s->name,
			  (unsigned long long)index, i, ops[i].type,
			  (unsigned long long)ops[i].op_id, out[i]->status);
		results[i] = out[i];
		out[i] = NULL;
	}
done:
	for (i = 0; ops != NULL && i < n; i++) {
		meta_op_free(&ops[i]);
	}
	for (i = 0; out != NULL && i < n; i++) {
		free(out[i]);
	}
	free(ops);
	free(res);
	free(out);
	free(bad);
	return rc;
}

/* An entry applied while a snapshot installs off the loop is held until
 * the copy is in (shard_install.h). */
static int fsm_apply(void *arg, uint64_t index, const struct repl_rec *recs, size_t n,
		     void **results)
{
	struct shard *s = arg;
	int rc = inst_hold(s, index, recs, n);

	if (rc != 0) {
		return rc < 0 ? rc : 0;
	}
	return shard_apply(s, index, recs, n, results);
}

static int fsm_catch_up(void *arg)
{
	return inst_finish(arg, 0);
}

static int fsm_snapshot(void *arg, void **buf, size_t *len)
{
	struct shard *s = arg;
	struct stat st;
	uint8_t *data;
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
	rc = data != NULL ? fio_read_exact(fd, data, (size_t)st.st_size, 0) : -ENOMEM;
	close(fd);
	unlink(s->snap_path);
	if (rc != 0) {
		free(data);
		return rc;
	}
	*buf = data;
	*len = (size_t)st.st_size;
	return 0;
}

/* A worker thread, while the loop goes on applying: the copy is a file
 * of the shard directory and the Raft snapshot only its descriptor. */
static int fsm_snapshot_async(void *arg, uint64_t index, void **buf, size_t *len)
{
	struct shard *s = arg;
	struct snap_desc d;
	uint8_t *out;
	int rc = snap_take(s->ms, s->m->dir, msvc_group_of(s->name), index, s->m->self, &d);

	if (rc != 0) {
		log_error("snap.take", "shard '%s': no copy at index %llu: %s", s->name,
			  (unsigned long long)index, obj_strerror(rc));
		return rc;
	}
	if ((out = malloc(SNAP_DESC_LEN)) == NULL) {
		return -ENOMEM;
	}
	atomic_store(&s->bytes, d.size);
	snap_desc_put(&d, out);
	*buf = out;
	*len = SNAP_DESC_LEN;
	return 0;
}

/* Installs the copy a descriptor names: nothing to do when the database
 * already holds that index (a restart: the snapshot is the one this
 * replica took or installed before), else fetched in chunks and copied
 * in.  Runs on the loop, which waits for the transfer (see
 * ARCHITECTURE.md, "Snapshots"). */
static int restore_desc(struct shard *s, const struct snap_desc *d)
{
	const char *group = msvc_group_of(s->name);
	uint64_t have;
	char path[PATH_MAX];
	int rc;

	/* An install still under way ends first (this one supersedes what
	 * it held, or finds the store at its index already). */
	if ((rc = inst_finish(s, 1)) < 0) {
		return rc;
	}
	have = ms_applied_index(s->ms);
	if (have >= d->index) {
		log_info("msvc.restore",
			 "shard '%s': snapshot at index %llu: the database is at %llu", s->name,
			 (unsigned long long)d->index, (unsigned long long)have);
		return 0;
	}
	if (inst_start(s, d) == 0) {
		return 0;
	}
	/* No thread: in place, the loop waiting. */
	rc = snap_fetch(s->m->cfg, s->m->self, s->m->dir, group, d, s->m->cfg->snapshot_chunk,
			SNAP_FETCH_MS, NULL, path, sizeof(path));
	if (rc == 0) {
		rc = ms_restore(s->ms, path);
		unlink(path);
	}
	if (rc == 0) {
		atomic_store(&s->bytes, d->size);
	}
	log_info("msvc.restore",
		 "shard '%s': installed the snapshot at index %llu (%llu bytes): %s", s->name,
		 (unsigned long long)d->index, (unsigned long long)d->size,
		 rc == 0 ? "ok" : obj_strerror(rc));
	return rc;
}

/* Spaces the Raft snapshots by the shard's size (repl_snapshot_every). */
static uint64_t fsm_state_bytes(void *arg)
{
	struct shard *s = arg;

	return atomic_load(&s->bytes);
}

/* Records applied in one loop iteration share one SQLite commit. */
static int fsm_flush(void *arg)
{
	struct shard *s = arg;
	int rc = inst_finish(s, 0);

	if (rc != 0) {
		return rc < 0 ? rc : 0; /* nothing of ours is open while it runs */
	}
	return ms_flush(s->ms);
}

static int fsm_restore(void *arg, const void *buf, size_t len)
{
	struct shard *s = arg;
	struct snap_desc d;
	int fd, rc = 0;

	if (snap_desc_get(buf, len, &d) == 0) {
		rc = restore_desc(s, &d);
		goto done;
	}
	/* A whole database: a snapshot taken before descriptors. */
	fd = open(s->snap_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		return -errno;
	}
	rc = fio_write_full(fd, buf, len, 0);
	if (rc == 0 && fsync(fd) != 0) {
		rc = -errno;
	}
	close(fd);
	if (rc == 0) {
		rc = ms_restore(s->ms, s->snap_path);
	}
	unlink(s->snap_path);
	log_info("msvc.restore", "shard '%s': installed a snapshot of %zu bytes: %s", s->name, len,
		 rc == 0 ? "ok" : obj_strerror(rc));
done:
	/* An install off the loop sets it when it ends (the store is
	 * its thread's until then). */
	if (rc == 0 && !inst_active(s)) {
		pthread_mutex_lock(&s->mu);
		s->lc.next_ino = ms_next_ino(s->ms);
		pthread_mutex_unlock(&s->mu);
	}
	return rc;
}

/* ---- registry ------------------------------------------------------ */

struct shard *shard_find(struct msvc *m, const char *name)
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
	int n = snprintf(path, sizeof(path), "%s/%s", m->raft_dir, msvc_group_of(name));

	return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Opens the shard (bucket name, "" = catalog).  bootstrap: this node is
 * asked to create it (META_SHARD_OPEN).  Serialised by the callers' use
 * of m->mu only around the list: two threads opening the same shard at
 * once both reach repl_group_open, which returns the same group. */
struct shard *shard_open(struct msvc *m, const char *name, int bootstrap, int *err)
{
	static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
	struct repl_fsm fsm = {0};
	struct shard *s;
	size_t voters[8], nv = 0;
	char path[PATH_MAX];
	struct stat st;
	int rc, n;

	if ((s = shard_find(m, name)) != NULL) {
		return s;
	}
	/* A bootstrap needs to be a chosen replica; otherwise only a shard
	 * with a log here (or one a peer told us of) is opened. */
	if (bootstrap && !is_replica(m, name, voters, &nv)) {
		*err = -ENXIO;
		return NULL;
	}
	pthread_mutex_lock(&open_mu); /* never held while the Raft loop waits on us */
	if ((s = shard_find(m, name)) != NULL) {
		pthread_mutex_unlock(&open_mu);
		return s;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		*err = -ENOMEM;
		goto fail;
	}
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->m = m;
	pthread_mutex_init(&s->mu, NULL);
	atomic_init(&s->gc_queue, -1);
	mlk_shard_init(&s->lk);
	n = snprintf(path, sizeof(path), "%s/%s.db", m->dir, msvc_group_of(name));
	if (n < 0 || (size_t)n >= sizeof(path) ||
	    snprintf(s->snap_path, sizeof(s->snap_path), "%s/%s.snap", m->dir,
		     msvc_group_of(name)) >= (int)sizeof(s->snap_path)) {
		*err = -ENAMETOOLONG;
		goto fail;
	}
	/* The Raft log makes each entry durable: the database can use
	 * synchronous=NORMAL and is rebuilt from the log after a crash. */
	if ((rc = ms_open(path, MS_EXCLUSIVE, &s->ms)) != 0) {
		*err = rc;
		goto fail;
	}
	s->lc.next_ino = ms_next_ino(s->ms);
	ms_set_batching(s->ms, 1);
	atomic_init(&s->bytes, stat(path, &st) == 0 ? (uint64_t)st.st_size : 0);
	fsm.arg = s;
	fsm.apply = fsm_apply;
	fsm.snapshot = fsm_snapshot;
	fsm.snapshot_async = fsm_snapshot_async;
	fsm.restore = fsm_restore;
	fsm.state_bytes = fsm_state_bytes;
	fsm.catch_up = fsm_catch_up;
	fsm.flush = fsm_flush;
	rc = repl_group_open(m->repl, msvc_group_of(name), &fsm, bootstrap ? voters : NULL,
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
		mlk_shard_fini(&s->lk);
		free(s);
	}
	pthread_mutex_unlock(&open_mu);
	return NULL;
}

/* The shard for a request: open, or with a log here, or -ENXIO. */
struct shard *shard_get(struct msvc *m, const char *name, int *err)
{
	struct shard *s = shard_find(m, name);

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
void shard_on_unknown_group(void *arg, const char *group)
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

void shard_open_pending(struct msvc *m)
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
		if (shard_open(m, strcmp(group, CATALOG_GROUP) == 0 ? "" : group, 0, &err) ==
		    NULL) {
			log_warn("msvc.join", "cannot join group %s: %s", group, obj_strerror(err));
		}
	}
}

/* Opens every shard with a log on disk (at start-up). */
void shard_open_existing(struct msvc *m)
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

void shard_free(struct shard *s)
{
	inst_close(s);
	gcg_close(s->grace);
	ms_close(s->ms);
	pthread_mutex_destroy(&s->mu);
	mlk_shard_fini(&s->lk);
	free(s);
}
