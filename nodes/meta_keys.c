/* meta_keys.c: the client keys of the catalog shard: the records that
 * create and revoke them (applied by ms_apply, deterministically) and the
 * query that lists them.  A key row holds its secret: only nodes ever
 * read it (META_KEY_SYNC).  Runs with the store's lock as its callers. */
#include <errno.h>
#include <string.h>

#include "../common/log.h"
#include "meta_store_i.h"

static int prep(struct mstore *ms, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(ms->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : msi_db_fail(ms, rc, "keys");
}

int msi_key_apply(struct mstore *ms, const struct meta_op *op)
{
	size_t nlen = strlen(op->name);
	sqlite3_stmt *st;
	int rc;

	if (key_check_name(op->name) != 0) {
		return -EINVAL;
	}
	if (op->type == MOP_KEY_DEL) {
		rc = prep(ms, "DELETE FROM keys WHERE name = ?1", &st);
		if (rc != 0) {
			return rc;
		}
		sqlite3_bind_blob(st, 1, op->name, (int)nlen, SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE) {
			return msi_db_fail(ms, rc, "key delete");
		}
		return sqlite3_changes(ms->db) > 0 ? 0 : -ENOENT;
	}
	if (op->ino == KEY_ID_NODE || op->data_len != KEY_SECRET_LEN ||
	    strlen(op->newname) >= KEY_BUCKET_MAX || key_check_caps(op->mode, op->newname) != 0) {
		return -EINVAL;
	}
	rc = prep(ms,
		  "INSERT INTO keys(id, name, bucket, caps, secret, ctime) "
		  "SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS "
		  "(SELECT 1 FROM keys WHERE name = ?2 OR id = ?1)",
		  &st);
	if (rc != 0) {
		return rc;
	}
	sqlite3_bind_int64(st, 1, (int64_t)op->ino);
	sqlite3_bind_blob(st, 2, op->name, (int)nlen, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, op->newname, (int)strlen(op->newname), SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, op->mode);
	sqlite3_bind_blob(st, 5, op->data, (int)op->data_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, op->now_ns);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		return msi_db_fail(ms, rc, "key create");
	}
	return sqlite3_changes(ms->db) > 0 ? 0 : -EEXIST;
}

static void col_str(sqlite3_stmt *st, int c, char *out, size_t cap)
{
	size_t n = (size_t)sqlite3_column_bytes(st, c);

	if (n >= cap) {
		n = 0;
	}
	if (n > 0) {
		memcpy(out, sqlite3_column_blob(st, c), n);
	}
	out[n] = '\0';
}

int ms_keys(struct mstore *ms, ms_key_fn fn, void *arg)
{
	sqlite3_stmt *st = NULL;
	int rc, n = 0;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = prep(ms, "SELECT id, name, bucket, caps, secret, ctime FROM keys ORDER BY name", &st);
	while (rc == 0) {
		struct key_ent k = {0};

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : msi_db_fail(ms, rc, "keys");
			break;
		}
		k.id = (uint64_t)sqlite3_column_int64(st, 0);
		col_str(st, 1, k.name, sizeof(k.name));
		col_str(st, 2, k.bucket, sizeof(k.bucket));
		k.caps = (uint32_t)sqlite3_column_int64(st, 3);
		if (sqlite3_column_bytes(st, 4) == KEY_SECRET_LEN) {
			memcpy(k.secret, sqlite3_column_blob(st, 4), KEY_SECRET_LEN);
		}
		k.ctime_ns = sqlite3_column_int64(st, 5);
		if (key_check_name(k.name) != 0 || key_check_caps(k.caps, k.bucket) != 0) {
			log_error("ms.corrupt", "key row %016llx is invalid",
				  (unsigned long long)k.id);
			rc = -EIO;
			break;
		}
		rc = fn(arg, &k);
		memset(k.secret, 0, sizeof(k.secret));
		n++;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : n;
}
