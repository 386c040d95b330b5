/* meta_store_locks.c: the lock table of a metadata shard (see lockset.h for
 * the rules): MOP_LOCK and MOP_LOCK_DROP applied inside ms_apply's
 * transaction, and the queries the leader makes (F_GETLK, the sessions
 * holding locks).  Deterministic like every op; never reads the clock: a
 * session's lease lives in the leader's memory (meta_locks.c), which
 * proposes MOP_LOCK_DROP when it runs out. */
#include "meta_store_i.h"

#include <stdlib.h>

#include "lockset.h"

/* A bound on the locks of one inode and kind: what one record may have
 * to load and rewrite.  SQLite's lock file needs 3 per connection. */
#define MS_LOCKS_MAX 4096

/* Every lock of (ino, kind) into a malloc'd array (*out, caller frees). */
static int load(struct mstore *ms, uint64_t ino, uint8_t kind, struct meta_lock **out, size_t *n)
{
	sqlite3_stmt *st = msi_bind(ms, S_LK_LIST, ARGS(AI(ino), AI(kind)));
	struct meta_lock *v = NULL;
	size_t cap = 0;
	int rc = st == NULL ? ms->dberr : 0;

	*n = 0;
	while (st != NULL && rc == 0) {
		struct meta_lock *l;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : msi_db_fail(ms, rc, "lock list");
			break;
		}
		rc = 0;
		if (*n == cap) {
			struct meta_lock *nv;

			cap = cap ? 2 * cap : 8;
			nv = cap > MS_LOCKS_MAX ? NULL : realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = cap > MS_LOCKS_MAX ? -ENOLCK : -ENOMEM;
				break;
			}
			v = nv;
		}
		l = &v[(*n)++];
		l->ino = ino;
		l->kind = kind;
		l->session = (uint64_t)sqlite3_column_int64(st, 0);
		l->owner = (uint64_t)sqlite3_column_int64(st, 1);
		l->start = (uint64_t)sqlite3_column_int64(st, 2);
		l->end = (uint64_t)sqlite3_column_int64(st, 3);
		l->type = (uint8_t)sqlite3_column_int64(st, 4);
		l->pid = (uint32_t)sqlite3_column_int64(st, 5);
	}
	if (st != NULL) {
		msi_stmt_done(st);
	}
	if (rc < 0) {
		free(v);
		v = NULL;
		*n = 0;
	}
	*out = v;
	return rc;
}

static int valid(const struct meta_lock *l)
{
	if (l->kind != META_LK_POSIX && l->kind != META_LK_FLOCK) {
		return 0;
	}
	if (l->type < META_LK_RD || l->type > META_LK_UN || l->start > l->end) {
		return 0;
	}
	return l->kind == META_LK_POSIX || (l->start == 0 && l->end == META_LOCK_EOF);
}

int msi_lock(struct mstore *ms, const struct meta_op *op)
{
	struct meta_lock req, *held, *mine, *now;
	size_t n, n_mine = 0, n_now;
	struct inode x;
	int rc;

	meta_op_to_lock(op, &req);
	if (!valid(&req)) {
		return -EINVAL;
	}
	/* An unlock of an inode that is gone is a success: its last close
	 * releases what it held. */
	if (req.type != META_LK_UN && (rc = msi_ino_get(ms, req.ino, &x)) < 0) {
		return rc;
	}
	rc = load(ms, req.ino, req.kind, &held, &n);
	if (rc < 0) {
		return rc;
	}
	if (lockset_conflict(held, n, &req) >= 0) {
		free(held);
		return -EAGAIN;
	}
	mine = malloc((n + 2) * sizeof(*mine));
	now = malloc((n + 2) * sizeof(*now));
	if (mine == NULL || now == NULL) {
		free(held);
		free(mine);
		free(now);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (held[i].session == req.session && held[i].owner == req.owner) {
			mine[n_mine++] = held[i];
		}
	}
	n_now = lockset_apply(mine, n_mine, &req, now);
	if (n - n_mine + n_now > MS_LOCKS_MAX) {
		rc = -ENOLCK;
	}
	if (rc == 0) {
		rc = msi_run(ms, S_LK_DEL_OWNER,
			     ARGS(AI(req.ino), AI(req.kind), AI(req.session), AI(req.owner)));
	}
	for (size_t i = 0; i < n_now && rc == 0; i++) {
		const struct meta_lock *l = &now[i];

		rc = msi_run(ms, S_LK_INS,
			     ARGS(AI(l->ino), AI(l->kind), AI(l->session), AI(l->owner),
				  AI(l->start), AI(l->end), AI(l->type), AI(l->pid)));
	}
	free(held);
	free(mine);
	free(now);
	return rc;
}

int msi_lock_drop(struct mstore *ms, const struct meta_op *op)
{
	return msi_run(ms, S_LK_DEL_SESSION, ARGS(AI(op->parent)));
}

int ms_getlk(struct mstore *ms, const struct meta_lock *req, struct meta_lock *out)
{
	struct meta_lock *held;
	size_t n;
	long i;
	int rc;

	if (!valid(req)) {
		return -EINVAL;
	}
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = load(ms, req->ino, req->kind, &held, &n);
	pthread_mutex_unlock(&ms->lock);
	if (rc < 0) {
		return rc;
	}
	i = lockset_conflict(held, n, req);
	if (i >= 0) {
		*out = held[i];
	}
	free(held);
	return i >= 0 ? 1 : 0;
}

int ms_lock_sessions(struct mstore *ms, uint64_t *out, size_t max)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int rc;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	st = msi_bind(ms, S_LK_SESSIONS, ARGS(AI(max)));
	rc = st == NULL ? ms->dberr : 0;
	while (st != NULL && rc == 0 && n < max) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : msi_db_fail(ms, rc, "lock sessions");
			break;
		}
		rc = 0;
		out[n++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	if (st != NULL) {
		msi_stmt_done(st);
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : (int)n;
}
