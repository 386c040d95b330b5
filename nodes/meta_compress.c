/* meta_compress.c: a bucket shard's compression setting (MOP_BUCKET_COMPRESS,
 * the codec clients apply to the blocks they write next) and its block
 * statistics (bytes as written against bytes stored).  Never touches a
 * stored block: old and new codecs mix freely in one bucket. */
#include "meta_store_i.h"

#include <errno.h>
#include <string.h>

#include "../common/log.h"

int msi_compress_set(struct mstore *ms, const struct meta_op *op)
{
	struct inode root;
	int rc;

	if (op->mode >= BLK_CODEC_MAX) {
		return -EINVAL;
	}
	/* A shard without a root holds no bucket (never created, or deleted). */
	if ((rc = msi_ino_get(ms, META_ROOT_INO, &root)) != 0) {
		return rc;
	}
	return msi_meta_set(ms, K_COMPRESS, (int64_t)op->mode);
}

int ms_block_stats(struct mstore *ms, struct ms_block_stats *out)
{
	/* The totals the triggers keep (meta_store_db.c): a pass over the
	 * blocks table held the store for a second per million blocks, and
	 * the Raft loop waited for it. */
	static const char sql[] =
	    "SELECT blk_n, blk_z, blk_bytes, blk_stored FROM totals WHERE id = 0";
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = msi_meta_get(ms, K_COMPRESS, &v);
	out->codec = rc == 0 ? (uint8_t)v : 0;
	if (rc == 0 && (rc = sqlite3_prepare_v2(ms->db, sql, -1, &st, NULL)) != SQLITE_OK) {
		rc = msi_db_fail(ms, rc, "block stats");
	} else if (rc == 0) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			out->blocks = (uint64_t)sqlite3_column_int64(st, 0);
			out->compressed = (uint64_t)sqlite3_column_int64(st, 1);
			out->bytes = (uint64_t)sqlite3_column_int64(st, 2);
			out->stored = (uint64_t)sqlite3_column_int64(st, 3);
			rc = 0;
		} else {
			rc = msi_db_fail(ms, rc, "block stats");
		}
	}
	sqlite3_finalize(st);
	pthread_mutex_unlock(&ms->lock);
	return rc;
}
