/* meta_class.c: MOP_CLASS_MOVE, the record with which the class mover
 * swaps a file's blocks for re-encoded copies (same bytes, another storage
 * class).  Runs inside ms_apply's transaction like every record; never
 * touches fragments: the new blocks are written and durable before the
 * record is proposed, and the old ones go through the GC queue.
 *
 * Conditional per chunk: a chunk takes its new block only while it still
 * names the block the mover read (same id, same valid length).  A write
 * that committed in between wins and its chunk is left alone, so the
 * mover can never bring back older content; the new block it made for
 * that chunk stays unreferenced, and the mover deletes it (or, if the
 * mover died, the stray-fragment GC does after gc_grace). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/ec.h"
#include "meta_store_i.h"

/* 1 when chunk of ino is (old, len), 0 when not (or a hole), or an error. */
static int chunk_is(struct mstore *ms, uint64_t ino, uint64_t chunk, const uint8_t *old,
		    uint32_t len)
{
	sqlite3_stmt *st = msi_bind(ms, S_EXT_GET, ARGS(AI(ino), AI(chunk)));
	int rc = msi_first_row(ms, S_EXT_GET, st);

	if (rc == 1) {
		const void *p = sqlite3_column_blob(st, 0);

		rc = p != NULL && sqlite3_column_bytes(st, 0) == BLOCK_ID_LEN &&
		     memcmp(p, old, BLOCK_ID_LEN) == 0 &&
		     (uint64_t)sqlite3_column_int64(st, 1) == len;
		msi_stmt_done(st);
	}
	return rc;
}

int msi_class_move(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	struct inode x;
	size_t moved = 0;
	int rc = msi_ino_get(ms, op->ino, &x);

	if (rc < 0) {
		return rc;
	}
	if (!S_ISREG(x.a.mode)) {
		return S_ISDIR(x.a.mode) ? -EISDIR : -EINVAL;
	}
	if (op->n_ext == 0 || op->ext == NULL || op->data == NULL ||
	    op->data_len != op->n_ext * BLOCK_ID_LEN) {
		return -EINVAL;
	}
	for (size_t i = 0; i < op->n_ext && rc == 0; i++) {
		const struct meta_extent *e = &op->ext[i];

		if (e->blk.k < 1 || e->blk.k > EC_MAX_K || e->blk.m > EC_MAX_M || e->blk.len == 0 ||
		    e->blk.len > MSG_BLOCK_MAX || e->len > e->blk.len ||
		    mb_check_codec(&e->blk) != 0) {
			return -EINVAL;
		}
		rc = chunk_is(ms, x.a.ino, e->chunk, op->data + i * BLOCK_ID_LEN, e->len);
		if (rc == 1) {
			rc = msi_ext_set(ms, x.a.ino, e);
			moved++;
		}
	}
	if (rc < 0) {
		return rc;
	}
	/* Only gen changes: readers that cached the extents load them again
	 * and read the new blocks, while size, mtime and ctime stay as the
	 * file's writers left them (a move is not a change of the file). */
	if (moved > 0) {
		x.a.gen++;
		rc = msi_ino_write(ms, S_INO_UPD, &x);
	}
	return rc < 0 ? rc : msi_attr_of(ms, x.a.ino, &res->attr);
}
