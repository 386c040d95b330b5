/* store.c: the cluster below the read cache (see store.h).  Each function
 * is one blockio or metadata call plus the translation between the
 * modules' records and the protocol's; no state but its counters, no
 * locks.  Runs on whichever thread calls it. */
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/clock.h"
#include "../common/compress.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/metrics.h"

void store_set_codec(struct store *st, uint8_t codec)
{
	__atomic_store_n(&st->codec, codec, __ATOMIC_RELAXED);
	__atomic_store_n(&st->codec_ms, clock_mono_ms(), __ATOMIC_RELAXED);
}

/* The codec for the next block, read again once it is STORE_CODEC_TTL_MS
 * old: by the one uploader that moves the stamp on, while the others go
 * on with the codec they have (until the first answer, each asks).  On a
 * failed query the last codec stays, for another TTL. */
static uint8_t upload_codec(struct store *st)
{
	uint64_t at = __atomic_load_n(&st->codec_ms, __ATOMIC_RELAXED);
	uint64_t now = clock_mono_ms();
	struct mc_statfs ms;

	if (at == 0 || (now - at >= STORE_CODEC_TTL_MS &&
			__atomic_compare_exchange_n(&st->codec_ms, &at, now, 0, __ATOMIC_RELAXED,
						    __ATOMIC_RELAXED))) {
		store_count(&st->queries);
		if (mc_statfs(st->mc, &ms) == 0) {
			store_set_codec(st, ms.codec);
		}
	}
	return __atomic_load_n(&st->codec, __ATOMIC_RELAXED);
}

int store_upload(struct store *st, uint64_t size, const uint8_t *data, size_t len,
		 struct manifest_block *out)
{
	return store_upload_cls(st, size, 0, data, len, out);
}

int store_upload_cls(struct store *st, uint64_t size, uint8_t cls, const uint8_t *data, size_t len,
		     struct manifest_block *out)
{
	uint8_t codec = upload_codec(st);
	uint64_t t0 = st->up_ns != NULL ? mx_now_ns() : 0;
	int rc;

	store_count(&st->block_puts);
	rc = blk_put_codec_cls(st->blk, data, len, blk_class_profile(st->blk, cls, size), codec,
			       cls, out);
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
	if (c->truncate) {
		op->flags |= META_F_TRUNCATE;
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

int store_warm_block(struct store *st, const struct manifest_block *blk, bool *fetched)
{
	uint8_t *buf;
	int rc;

	*fetched = false;
	if (blk->len == 0 || dc_has(st->dc, blk)) {
		return 0;
	}
	if (blk->len > MSG_BLOCK_MAX || (buf = malloc(blk->len)) == NULL) {
		return blk->len > MSG_BLOCK_MAX ? -EIO : -ENOMEM;
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
	if (rc == 0) {
		dc_put_how(st->dc, blk, buf, true);
		*fetched = true;
		rc = dc_has(st->dc, blk) ? 0 : -ENOSPC;
	}
	free(buf);
	return rc;
}

const struct rc_ops store_rc_ops = {
    .extents = st_extents,
    .get_block = st_get_block,
};

static void collect(void *arg, struct mx_out *o)
{
	struct store *st = arg;
	struct blk_cz_stats cz;

	blk_cz_stats(st->blk, &cz);
	mx_out_family(
	    o, "objfs_blocks_compressed_total",
	    "Blocks this mount stored compressed (the bucket's codec saved a tenth or more).",
	    MX_COUNTER);
	mx_out_sample(o, "objfs_blocks_compressed_total", NULL, (double)cz.compressed);
	mx_out_family(o, "objfs_blocks_incompressible_total",
		      "Blocks this mount stored raw although the bucket asks for a codec.",
		      MX_COUNTER);
	mx_out_sample(o, "objfs_blocks_incompressible_total", NULL, (double)cz.raw);
	mx_out_family(o, "objfs_blocks_decompressed_total",
		      "Compressed blocks this mount read from the cluster and decompressed.",
		      MX_COUNTER);
	mx_out_sample(o, "objfs_blocks_decompressed_total", NULL, (double)cz.decompressed);
	mx_out_family(o, "objfs_compress_bytes_total",
		      "Bytes of the blocks stored compressed: in (as written), out (as stored).",
		      MX_COUNTER);
	mx_out_sample(o, "objfs_compress_bytes_total", "direction=\"in\"", (double)cz.bytes_in);
	mx_out_sample(o, "objfs_compress_bytes_total", "direction=\"out\"", (double)cz.bytes_out);
	mx_out_family(o, "objfs_compress_codec",
		      "The bucket's codec for new blocks (1 for the one set).", MX_GAUGE);
	for (uint8_t c = 0; c < BLK_CODEC_MAX; c++) {
		char label[32];

		snprintf(label, sizeof(label), "codec=\"%s\"", cz_name(c));
		mx_out_sample(o, "objfs_compress_codec", label,
			      __atomic_load_n(&st->codec, __ATOMIC_RELAXED) == c ? 1.0 : 0.0);
	}
}

int store_metrics(struct store *st, struct mx_registry *r)
{
	return r == NULL ? 0 : mx_add_collector(r, collect, st, NULL);
}
