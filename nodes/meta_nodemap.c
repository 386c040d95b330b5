/* meta_nodemap.c: the cluster map of the catalog shard: each node's state
 * as automatic repair (meta_repair.c) and objfsctl node out/in record it
 * (MOP_NODE_STATE, applied by ms_apply deterministically: the time is the
 * record's), and the query that reads it back.  A node without a row is
 * up.  Runs with the store's lock as its callers. */
#include <errno.h>
#include <string.h>

#include "../common/log.h"
#include "meta_store_i.h"

int msi_node_state(struct mstore *ms, const struct meta_op *op)
{
	sqlite3_stmt *st;
	int rc;

	if (op->ino == 0 || op->ino > UINT32_MAX || op->mode > META_NODE_OUT) {
		return -EINVAL;
	}
	rc = sqlite3_prepare_v2(ms->db,
				"INSERT INTO node_map(id, state, since) VALUES (?1, ?2, ?3) "
				"ON CONFLICT(id) DO UPDATE SET state = ?2, since = ?3",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		return msi_db_fail(ms, rc, "node map");
	}
	sqlite3_bind_int64(st, 1, (int64_t)op->ino);
	sqlite3_bind_int64(st, 2, op->mode);
	sqlite3_bind_int64(st, 3, op->size != 0 ? (int64_t)op->size : op->now_ns);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : msi_db_fail(ms, rc, "node map");
}

int ms_node_map(struct mstore *ms, struct meta_node_row *out, size_t max)
{
	sqlite3_stmt *st = NULL;
	size_t n = 0;
	int rc;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = sqlite3_prepare_v2(ms->db, "SELECT id, state, since FROM node_map ORDER BY id", -1,
				&st, NULL);
	rc = rc == SQLITE_OK ? 0 : msi_db_fail(ms, rc, "node map");
	while (rc == 0 && n < max) {
		int64_t id, state;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : msi_db_fail(ms, rc, "node map");
			break;
		}
		rc = 0;
		id = sqlite3_column_int64(st, 0);
		state = sqlite3_column_int64(st, 1);
		if (id <= 0 || id > UINT32_MAX || state < 0 || state > META_NODE_OUT) {
			log_error("ms.corrupt", "node map row %lld is invalid", (long long)id);
			rc = -EIO;
			break;
		}
		out[n].id = (uint32_t)id;
		out[n].state = (uint8_t)state;
		out[n].since_ns = sqlite3_column_int64(st, 2);
		n++;
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : (int)n;
}
