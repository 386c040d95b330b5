/* meta_quota.c: quotas on directory trees of a shard -- limits on bytes
 * (regular files' sizes) and inodes (entries) below a directory, with the
 * usage kept exactly by the operations that change it, inside their
 * transaction.  Owns the quotas table; never decides anything else about
 * an operation.  Called with the store's lock held.
 *
 * A charge walks the parent chain from the directory up to the root and
 * touches every quota on it.  A shard without quotas pays one indexed
 * EXISTS per changing operation.  Renaming a directory to where another
 * set of quotas applies is EXDEV (the usage of a directory's tree is not
 * kept per directory, so it cannot move); mv falls back to copy + delete,
 * as it does across CephFS quota realms. */
#include "meta_store_i.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/log.h"

/* Quota'd directories on one parent chain: more means a deeper nest of
 * quotas than anyone sets (refused by msi_quota_set). */
#define Q_CHAIN_MAX 16

struct qrow {
	uint64_t ino;
	int64_t max_bytes, max_inodes, soft_bytes, soft_inodes, used_bytes, used_inodes;
};

static int q_any(struct mstore *ms)
{
	int64_t any = 0;
	int rc = msi_get_int(ms, S_Q_ANY, NOARGS, &any);

	return rc < 0 ? rc : any != 0;
}

/* 1 and *q if ino has a quota, 0 if not. */
static int q_get(struct mstore *ms, uint64_t ino, struct qrow *q)
{
	sqlite3_stmt *st = msi_bind(ms, S_Q_GET, ARGS(AI(ino)));
	int rc = msi_first_row(ms, S_Q_GET, st);

	if (rc == 1) {
		q->ino = ino;
		q->max_bytes = sqlite3_column_int64(st, 0);
		q->max_inodes = sqlite3_column_int64(st, 1);
		q->soft_bytes = sqlite3_column_int64(st, 2);
		q->soft_inodes = sqlite3_column_int64(st, 3);
		q->used_bytes = sqlite3_column_int64(st, 4);
		q->used_inodes = sqlite3_column_int64(st, 5);
		msi_stmt_done(st);
	}
	return rc;
}

/* The quotas on the chain from directory dir to the root, innermost
 * first.  Returns their count or an error.  A chain that ends (an inode
 * made before files kept their parent, an orphan) has no more quotas. */
static int q_chain(struct mstore *ms, uint64_t dir, struct qrow *out)
{
	int n = 0;

	if (meta_is_snap_ino(dir)) {
		return 0; /* snapshots and the trash count against no quota */
	}
	for (int depth = 0; depth < MS_DEPTH_MAX && dir != 0; depth++) {
		struct inode x;
		int rc = q_get(ms, dir, &out[n]);

		if (rc < 0) {
			return rc;
		}
		if (rc == 1 && ++n == Q_CHAIN_MAX) {
			return n;
		}
		if (dir == META_ROOT_INO) {
			return n;
		}
		rc = msi_ino_get(ms, dir, &x);
		if (rc < 0) {
			return rc == -ENOENT ? n : rc;
		}
		dir = x.parent;
	}
	return n;
}

static bool over(int64_t used, int64_t add, int64_t max)
{
	return add > 0 && max > 0 && used + add > max;
}

static void soft_warn(const struct qrow *q, int64_t bytes, int64_t inodes)
{
	if ((bytes > 0 && q->soft_bytes > 0 && q->used_bytes <= q->soft_bytes &&
	     q->used_bytes + bytes > q->soft_bytes) ||
	    (inodes > 0 && q->soft_inodes > 0 && q->used_inodes <= q->soft_inodes &&
	     q->used_inodes + inodes > q->soft_inodes)) {
		log_warn("ms.quota", "directory %llu: over its soft limit",
			 (unsigned long long)q->ino);
	}
}

/* Checks, then applies, a charge to the quotas q[0..n) except skip[]. */
static int q_apply(struct mstore *ms, const struct qrow *q, int n, const struct qrow *skip,
		   int nskip, int64_t bytes, int64_t inodes)
{
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n; i++) {
			bool skipped = false;
			int rc;

			for (int j = 0; j < nskip && !skipped; j++) {
				skipped = skip[j].ino == q[i].ino;
			}
			if (skipped) {
				continue;
			}
			if (pass == 0) {
				if (over(q[i].used_bytes, bytes, q[i].max_bytes) ||
				    over(q[i].used_inodes, inodes, q[i].max_inodes)) {
					return -EDQUOT;
				}
				continue;
			}
			soft_warn(&q[i], bytes, inodes);
			rc = msi_run(ms, S_Q_ADD, ARGS(AI(q[i].ino), AI(bytes), AI(inodes)));
			if (rc < 0) {
				return rc;
			}
		}
	}
	return 0;
}

int msi_quota_charge(struct mstore *ms, uint64_t dir, int64_t bytes, int64_t inodes)
{
	struct qrow q[Q_CHAIN_MAX];
	int n, rc;

	if (bytes == 0 && inodes == 0) {
		return 0;
	}
	rc = q_any(ms);
	if (rc <= 0) {
		return rc;
	}
	n = q_chain(ms, dir, q);
	return n < 0 ? n : q_apply(ms, q, n, NULL, 0, bytes, inodes);
}

int msi_quota_move(struct mstore *ms, uint64_t from, uint64_t to, int64_t bytes, int64_t inodes,
		   bool is_dir)
{
	struct qrow a[Q_CHAIN_MAX], b[Q_CHAIN_MAX];
	int na, nb, rc;

	if (from == to) {
		return 0;
	}
	rc = q_any(ms);
	if (rc <= 0) {
		return rc;
	}
	na = q_chain(ms, from, a);
	nb = na < 0 ? na : q_chain(ms, to, b);
	if (nb < 0) {
		return nb;
	}
	if (is_dir) {
		bool same = na == nb;

		for (int i = 0; i < na && same; i++) {
			same = a[i].ino == b[i].ino;
		}
		if (!same) {
			return -EXDEV;
		}
		return 0;
	}
	/* Where it arrives first (the check), then where it leaves. */
	rc = q_apply(ms, b, nb, a, na, bytes, inodes);
	return rc < 0 ? rc : q_apply(ms, a, na, b, nb, -bytes, -inodes);
}

int msi_quota_set(struct mstore *ms, const struct meta_op *op)
{
	struct qrow chain[Q_CHAIN_MAX];
	uint64_t lim[4];
	struct inode dir;
	int64_t files = 0, bytes = 0;
	sqlite3_stmt *st;
	int rc;

	if (op->data == NULL || op->data_len != sizeof(lim)) {
		return -EINVAL;
	}
	for (int i = 0; i < 4; i++) {
		lim[i] = 0;
		for (int b = 7; b >= 0; b--) {
			lim[i] = lim[i] << 8 | op->data[i * 8 + b];
		}
		if (lim[i] > INT64_MAX) {
			return -EINVAL;
		}
	}
	rc = msi_dir_get(ms, op->ino, &dir);
	if (rc < 0) {
		return rc;
	}
	if (lim[0] == 0 && lim[1] == 0 && lim[2] == 0 && lim[3] == 0) {
		return msi_run(ms, S_Q_DEL, ARGS(AI(op->ino)));
	}
	rc = q_get(ms, op->ino, &chain[0]);
	if (rc < 0) {
		return rc;
	}
	if (rc == 0) {
		/* A new quota: count the tree once; from now on every change
		 * below it is charged as it applies. */
		int n = q_chain(ms, op->ino, chain);

		if (n < 0) {
			return n;
		}
		if (n >= Q_CHAIN_MAX - 1) {
			return -EMLINK;
		}
		st = msi_bind(ms, S_Q_COUNT, ARGS(AI(op->ino)));
		rc = msi_first_row(ms, S_Q_COUNT, st);
		if (rc < 0) {
			return rc;
		}
		if (rc == 1) {
			files = sqlite3_column_int64(st, 0);
			bytes = sqlite3_column_int64(st, 1);
			msi_stmt_done(st);
		}
	}
	return msi_run(ms, S_Q_PUT,
		       ARGS(AI(op->ino), AI(lim[0]), AI(lim[1]), AI(lim[2]), AI(lim[3]), AI(bytes),
			    AI(files)));
}

int msi_dir_path(struct mstore *ms, uint64_t ino, char *out, size_t cap)
{
	char tmp[WIRE_STR_MAX + 1];
	size_t len = 0;

	out[0] = '\0';
	for (int depth = 0; depth < MS_DEPTH_MAX && ino != META_ROOT_INO; depth++) {
		struct inode x;
		sqlite3_stmt *st;
		const unsigned char *name;
		int rc = msi_ino_get(ms, ino, &x);
		int n;

		if (rc < 0) {
			return rc;
		}
		st = msi_bind(ms, S_DE_NAME_OF, ARGS(AI(x.parent), AI(ino)));
		rc = msi_first_row(ms, S_DE_NAME_OF, st);
		if (rc <= 0) {
			return rc < 0 ? rc : -ENOENT; /* an orphan directory */
		}
		name = sqlite3_column_text(st, 0);
		n = snprintf(tmp, sizeof(tmp), "/%s%s", name ? (const char *)name : "", out);
		msi_stmt_done(st);
		if (n < 0 || (size_t)n >= cap || (size_t)n >= sizeof(tmp)) {
			return -ENAMETOOLONG;
		}
		memcpy(out, tmp, (size_t)n + 1);
		len = (size_t)n;
		ino = x.parent;
	}
	if (len == 0) {
		snprintf(out, cap, "/");
	}
	return 0;
}

static int q_fill(struct mstore *ms, const struct qrow *r, bool check, struct meta_quota *out)
{
	memset(out, 0, sizeof(*out));
	out->ino = r->ino;
	out->max_bytes = (uint64_t)r->max_bytes;
	out->max_inodes = (uint64_t)r->max_inodes;
	out->soft_bytes = (uint64_t)r->soft_bytes;
	out->soft_inodes = (uint64_t)r->soft_inodes;
	out->used_bytes = r->used_bytes > 0 ? (uint64_t)r->used_bytes : 0;
	out->used_inodes = r->used_inodes > 0 ? (uint64_t)r->used_inodes : 0;
	if (check) {
		sqlite3_stmt *st = msi_bind(ms, S_Q_COUNT, ARGS(AI(r->ino)));
		int rc = msi_first_row(ms, S_Q_COUNT, st);

		if (rc < 0) {
			return rc;
		}
		if (rc == 1) {
			out->counted_inodes = (uint64_t)sqlite3_column_int64(st, 0);
			out->counted_bytes = (uint64_t)sqlite3_column_int64(st, 1);
			msi_stmt_done(st);
		}
	}
	return msi_dir_path(ms, r->ino, out->path, sizeof(out->path));
}

int ms_quota(struct mstore *ms, int what, uint64_t ino, struct meta_quota *out, size_t max,
	     int *more)
{
	bool check = what & QUOTA_CHECK;
	struct qrow q;
	size_t n = 0;
	int rc = 0;

	*more = 0;
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	switch (what & ~QUOTA_CHECK) {
	case QUOTA_GET:
		rc = q_get(ms, ino, &q);
		rc = rc == 0 ? -ENODATA : rc;
		if (rc == 1 && max > 0) {
			rc = q_fill(ms, &q, check, &out[n++]);
		}
		break;
	case QUOTA_NEAREST: {
		struct qrow chain[Q_CHAIN_MAX];
		struct inode x;
		int k;

		rc = msi_ino_get(ms, ino, &x);
		if (rc == 0 && !S_ISDIR(x.a.mode)) {
			ino = x.parent;
		}
		k = rc < 0 ? rc : q_chain(ms, ino, chain);
		rc = k < 0 ? k : (k == 0 ? -ENODATA : 0);
		if (rc == 0 && max > 0) {
			rc = q_fill(ms, &chain[0], check, &out[n++]);
		}
		break;
	}
	case QUOTA_LIST: {
		sqlite3_stmt *st = msi_bind(ms, S_Q_LIST, ARGS(AI(ino), AI(max + 1)));
		uint64_t inos[QUOTA_LIST_MAX + 1];
		size_t k = 0;

		while (st != NULL && k <= max && k <= QUOTA_LIST_MAX &&
		       (rc = sqlite3_step(st)) == SQLITE_ROW) {
			inos[k++] = (uint64_t)sqlite3_column_int64(st, 0);
		}
		msi_stmt_done(st);
		rc = st == NULL ? -EIO : 0;
		*more = k > max;
		for (size_t i = 0; i < k && i < max && rc >= 0; i++) {
			rc = q_get(ms, inos[i], &q);
			if (rc == 1) {
				rc = q_fill(ms, &q, check, &out[n++]);
			}
		}
		break;
	}
	default:
		rc = -EINVAL;
	}
	if (rc >= 0 && ms->dberr != 0) {
		rc = ms->dberr;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : (int)n;
}
