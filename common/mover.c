/* mover.c: the storage class mover (see mover.h).  Owns the throttle and
 * the batch of re-encoded blocks of one file; never writes a record that
 * names a block before the block is durable, and never holds more than
 * MOVER_BATCH blocks in memory. */
#include "mover.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "err.h"
#include "log.h"

/* Blocks per MOP_CLASS_MOVE: 4 blocks of 4 MiB are 16 MiB of memory, and
 * a record per 16 MiB keeps the Raft log traffic of a move negligible,
 * while a reader refetches its extents (gen changed) only that often. */
#define MOVER_BATCH 4

struct mover {
	struct mc *mc;
	struct blk *blk;
	const struct cfg *cfg;
	uint64_t rate_bps;   /* 0: unthrottled */
	int64_t t0_ns;	     /* throttle epoch */
	uint64_t read_bytes; /* read since t0_ns */
	struct mover_stats st;
	struct mx_metric *mx_bytes, *mx_files, *mx_blocks, *mx_raced;
	void (*on_batch)(void *arg);
	void *on_batch_arg;
};

int mover_open(struct mc *mc, struct blk *b, const struct cfg *cfg, uint32_t rate_mb,
	       struct mx_registry *mx, struct mover **out)
{
	struct mover *mv = calloc(1, sizeof(*mv));

	if (mv == NULL) {
		return -ENOMEM;
	}
	mv->mc = mc;
	mv->blk = b;
	mv->cfg = cfg;
	mv->rate_bps = (uint64_t)rate_mb * 1000000u;
	mv->t0_ns = clock_mono_ns();
	mv->mx_bytes =
	    mx_counter(mx, "objfs_mover_bytes_total",
		       "Bytes of blocks the class mover re-encoded and committed.", NULL);
	mv->mx_files = mx_counter(mx, "objfs_mover_files_total",
				  "Files the class mover moved at least one block of.", NULL);
	mv->mx_blocks = mx_counter(mx, "objfs_mover_blocks_total",
				   "Blocks the class mover re-encoded and committed.", NULL);
	mv->mx_raced =
	    mx_counter(mx, "objfs_mover_raced_total",
		       "Re-encoded blocks dropped: a write changed the chunk first.", NULL);
	*out = mv;
	return 0;
}

void mover_close(struct mover *mv)
{
	free(mv);
}

void mover_get_stats(const struct mover *mv, struct mover_stats *out)
{
	*out = mv->st;
}

void mover_on_batch(struct mover *mv, void (*fn)(void *arg), void *arg)
{
	mv->on_batch = fn;
	mv->on_batch_arg = arg;
}

int mover_in_class(const struct cfg *cfg, const struct manifest_block *mb, uint8_t cls)
{
	const struct cfg_class *cl = cfg_class_by_id(cfg, cls);

	if (mb->cls != cls) {
		return 0;
	}
	return cl == NULL || (mb->k == cl->ec.k && mb->m == cl->ec.m);
}

/* Sleeps until reading n more bytes keeps the average at the rate. */
static void throttle(struct mover *mv, size_t n)
{
	int64_t due, now;

	if (mv->rate_bps == 0) {
		return;
	}
	mv->read_bytes += n;
	due = mv->t0_ns + (int64_t)(mv->read_bytes * 1000000000.0 / (double)mv->rate_bps);
	now = clock_mono_ns();
	if (due > now) {
		struct timespec ts = {.tv_sec = (due - now) / 1000000000,
				      .tv_nsec = (due - now) % 1000000000};

		nanosleep(&ts, NULL);
	} else if (now - due > 1000000000) {
		/* Behind by more than a second (a slow cluster): no burst to
		 * catch up, start the average anew. */
		mv->t0_ns = now;
		mv->read_bytes = 0;
	}
}

/* After a committed batch: the new blocks the shard did not take (their
 * chunk was rewritten meanwhile) are deleted now rather than left for the
 * stray GC.  Each chunk is asked on its own, so that a block is deleted
 * only when the shard's answer covers its chunk and names another block
 * (or a hole); not knowing (the query failed) keeps the block: a stray
 * costs space until gc_grace, a wrong delete would lose data.  Returns
 * how many were not taken. */
static size_t drop_untaken(struct mover *mv, uint64_t ino, const struct meta_extent *nw, size_t n)
{
	size_t untaken = 0;

	for (size_t i = 0; i < n; i++) {
		struct meta_extent *cur = NULL;
		struct meta_attr attr;
		uint8_t *inl = NULL;
		size_t inl_len = 0;
		int more = 0;
		int got =
		    mc_extents(mv->mc, ino, nw[i].chunk, 1, &cur, &more, &attr, &inl, &inl_len);
		int taken = got == 1 && cur[0].chunk == nw[i].chunk &&
			    memcmp(cur[0].blk.id, nw[i].blk.id, BLOCK_ID_LEN) == 0;

		if (got >= 0 && !taken) {
			blk_delete(mv->blk, &nw[i].blk);
			untaken++;
		}
		free(cur);
		free(inl);
	}
	return untaken;
}

/* Re-encodes ext[0..n) into class cls and commits them in one record. */
static int move_batch(struct mover *mv, uint64_t ino, const struct meta_extent *ext, size_t n,
		      uint8_t cls, uint64_t size)
{
	struct meta_extent nw[MOVER_BATCH];
	uint8_t old[MOVER_BATCH * BLOCK_ID_LEN];
	struct ec_profile p = blk_class_profile(mv->blk, cls, size);
	struct meta_op *op = NULL;
	struct meta_result res;
	uint8_t *buf = NULL;
	size_t done = 0, raced;
	int rc = 0, sent = 0;

	for (; done < n && rc == 0; done++) {
		const struct manifest_block *mb = &ext[done].blk;
		uint8_t *nb = realloc(buf, mb->len);

		if (nb == NULL) {
			rc = -ENOMEM;
			break;
		}
		buf = nb;
		throttle(mv, mb->len);
		rc = blk_get(mv->blk, mb, buf);
		if (rc == 0) {
			/* The block keeps its codec: a move changes where
			 * and how redundantly, not how it is encoded. */
			rc = blk_put_codec_cls(mv->blk, buf, mb->len, p, mb->codec, cls,
					       &nw[done].blk);
		}
		if (rc != 0) {
			break;
		}
		nw[done].chunk = ext[done].chunk;
		nw[done].len = ext[done].len;
		memcpy(old + done * BLOCK_ID_LEN, mb->id, BLOCK_ID_LEN);
	}
	free(buf);
	if (rc == 0) {
		op = calloc(1, sizeof(*op));
		rc = op == NULL ? -ENOMEM : 0;
	}
	if (rc == 0) {
		op->type = MOP_CLASS_MOVE;
		op->ino = ino;
		op->ext = nw;
		op->n_ext = done;
		op->data = old;
		op->data_len = done * BLOCK_ID_LEN;
		sent = 1;
		rc = mc_op(mv->mc, op, &res);
	}
	free(op);
	if (rc != 0) {
		/* Not committed, or not known to be: a record whose answer
		 * was lost (transport errors) may still apply and then names
		 * these blocks, which the stray GC then leaves alone.  Only a
		 * failure before sending or the shard's refusal proves them
		 * unused. */
		int unknown = sent && (rc == -ETIMEDOUT || rc == -EIO || rc == -EHOSTDOWN ||
				       rc == -OBJ_EMAJORITY);

		for (size_t i = 0; i < done && !unknown; i++) {
			blk_delete(mv->blk, &nw[i].blk);
		}
		return rc;
	}
	raced = drop_untaken(mv, ino, nw, done);
	for (size_t i = 0; i < done; i++) {
		mv->st.bytes += ext[i].blk.len;
		mx_add(mv->mx_bytes, ext[i].blk.len);
	}
	mv->st.blocks += done - raced;
	mv->st.raced += raced;
	mx_add(mv->mx_blocks, done - raced);
	mx_add(mv->mx_raced, raced);
	if (mv->on_batch != NULL) {
		mv->on_batch(mv->on_batch_arg);
	}
	return (int)(done - raced);
}

int mover_file(struct mover *mv, uint64_t ino, uint8_t cls)
{
	struct meta_extent *ext = NULL, todo[MOVER_BATCH];
	struct meta_attr attr;
	uint8_t *inl = NULL;
	size_t n = 0, inl_len = 0, nt = 0;
	int rc = mc_extents_all(mv->mc, ino, &ext, &n, &attr, &inl, &inl_len);
	int moved = 0;

	free(inl);
	if (rc < 0) {
		return rc;
	}
	mv->st.files_seen++;
	for (size_t i = 0; i <= n && rc >= 0; i++) {
		if (i < n && mover_in_class(mv->cfg, &ext[i].blk, cls)) {
			mv->st.blocks_left++;
			continue;
		}
		if (i < n) {
			todo[nt++] = ext[i];
		}
		if (nt == MOVER_BATCH || (i == n && nt > 0)) {
			rc = move_batch(mv, ino, todo, nt, cls, attr.size);
			moved += rc > 0 ? rc : 0;
			nt = 0;
		}
	}
	free(ext);
	if (moved > 0) {
		mv->st.files++;
		mx_add(mv->mx_files, 1);
	}
	if (rc < 0) {
		log_warn("mover.file", "inode %llu: %s", (unsigned long long)ino, obj_strerror(rc));
		return rc;
	}
	return moved;
}
