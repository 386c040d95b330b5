/* store.c: the cluster below the read cache (see store.h).  Each function
 * is one blockio or metadata call plus the translation between the
 * modules' records and the protocol's; no state but its counters, no
 * locks.  Runs on whichever thread calls it. */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "../common/metrics.h"

int store_upload(struct store *st, uint64_t size, const uint8_t *data, size_t len,
		 struct manifest_block *out)
{
	uint64_t t0 = st->up_ns != NULL ? mx_now_ns() : 0;
	int rc;

	store_count(&st->block_puts);
	rc = blk_put(st->blk, data, len, blk_profile_for(st->blk, size), out);
	if (st->up_ns != NULL) {
		mx_observe(st->up_ns, mx_now_ns() - t0);
		if (rc == 0) {
			mx_add(st->up_bytes, len);
		}
	}
	return rc;
}

int store_commit(struct store *st, const struct fb_commit *c, struct meta_attr *attr)
{
	struct meta_result res;
	struct meta_op *op = calloc(1, sizeof(*op));
	int rc;

	if (op == NULL) {
		return -ENOMEM;
	}
	op->type = MOP_WRITE;
	op->ino = c->ino;
	op->size = c->size;
	op->mtime_ns = c->mtime_ns;
	if (c->is_inline) {
		op->flags = META_F_INLINE;
		op->data = c->inline_data;
		op->data_len = c->inline_len;
	} else {
		/* The op record only reads the extents while it is encoded. */
		op->ext = (struct meta_extent *)c->ext;
		op->n_ext = c->n_ext;
	}
	store_count(&st->commits);
	rc = mc_op(st->mc, op, &res);
	free(op);
	if (rc == 0) {
		*attr = res.attr;
	}
	return rc;
}

void store_discard(struct store *st, const struct manifest_block *blk)
{
	blk_delete(st->blk, blk);
}

/* Collects every page of extents; refuses a reply that does not advance
 * (a malformed or hostile shard must not loop us forever). */
static int st_extents(void *arg, uint64_t ino, struct meta_extent **ext, size_t *n,
		      struct meta_attr *attr, uint8_t **inl, size_t *inl_len)
{
	struct store *st = arg;
	struct meta_extent *all = NULL;
	size_t cnt = 0;
	uint64_t first = 0;
	int more = 1, rc = 0;

	*inl = NULL;
	*inl_len = 0;
	while (more) {
		struct meta_extent *page = NULL, *grown;
		uint8_t *pinl = NULL;
		size_t plen = 0;
		int got;

		store_count(&st->queries);
		got = mc_extents(st->mc, ino, first, META_EXTENTS_MAX, &page, &more, attr, &pinl,
				 &plen);
		if (got < 0) {
			rc = got;
			break;
		}
		if (*inl == NULL && pinl != NULL) {
			*inl = pinl;
			*inl_len = plen;
		} else {
			free(pinl);
		}
		if (got == 0) {
			free(page);
			if (more) {
				rc = -OBJ_EPROTO;
			}
			break;
		}
		grown = realloc(all, (cnt + (size_t)got) * sizeof(*all));
		if (grown == NULL) {
			free(page);
			rc = -ENOMEM;
			break;
		}
		all = grown;
		memcpy(all + cnt, page, (size_t)got * sizeof(*all));
		free(page);
		if (all[cnt + (size_t)got - 1].chunk < first) {
			rc = -OBJ_EPROTO;
			break;
		}
		first = all[cnt + (size_t)got - 1].chunk + 1;
		cnt += (size_t)got;
	}
	if (rc != 0) {
		free(all);
		free(*inl);
		*inl = NULL;
		*inl_len = 0;
		return rc;
	}
	*ext = all;
	*n = cnt;
	return 0;
}

static int st_get_block(void *arg, const struct manifest_block *blk, uint8_t *buf)
{
	struct store *st = arg;
	int rc;

	if (st->dc != NULL && dc_get(st->dc, blk, buf) == 0) {
		return 0;
	}
	store_count(&st->block_gets);
	if (st->down_ns != NULL) {
		uint64_t t0 = mx_now_ns();

		rc = blk_get(st->blk, blk, buf);
		mx_observe(st->down_ns, mx_now_ns() - t0);
		if (rc == 0) {
			mx_add(st->down_bytes, blk->len);
		}
	} else {
		rc = blk_get(st->blk, blk, buf);
	}
	if (rc == 0 && st->dc != NULL) {
		dc_put(st->dc, blk, buf);
	}
	return rc;
}

const struct rc_ops store_rc_ops = {
    .extents = st_extents,
    .get_block = st_get_block,
};
