/* repair_walk.c: the block walk of automatic repair and node out/in (see
 * repair_walk.h). */
#include "repair_walk.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blockio.h"
#include "err.h"
#include "log.h"
#include "meta_client.h"

struct walk {
	struct objc *oc;
	const struct rw_opts *o;
	struct rw_stats *st;
	size_t *rank;
	struct meta_block_row *rows;
	int stop;
};

/* Does a home of the block have a role other than TRUST, or sit on a
 * down node?  Most blocks do not: they cost no fragment I/O at all. */
static int concerned(struct walk *wk, const struct manifest_block *mb, int *down_home)
{
	struct blk *b = objc_blk(wk->oc);
	size_t nfrag = (size_t)mb->k + mb->m, nr = blk_rank(b, mb->id, mb->cls, wk->rank);
	int any = 0;

	*down_home = 0;
	for (size_t i = 0; i < nfrag && i < nr; i++) {
		any |= wk->o->role[wk->rank[i]] != BLK_NODE_TRUST;
		*down_home |= wk->o->down != NULL && wk->o->down[wk->rank[i]];
	}
	return any;
}

static void one_block(struct walk *wk, const struct manifest_block *mb)
{
	struct rw_stats *st = wk->st;
	struct blk_rebuild_res res = {0};
	int down_home, rc = 0;

	st->blocks++;
	if (!concerned(wk, mb, &down_home)) {
		st->degraded += (uint64_t)down_home;
		return;
	}
	st->concerned++;
	if (!wk->o->count_only) {
		rc = blk_rebuild(objc_blk(wk->oc), mb, wk->o->role, &res);
	}
	if (rc < 0 || res.unplaced > 0) {
		st->degraded++;
		st->rc = st->rc ? st->rc : (rc < 0 ? rc : -EAGAIN);
	} else {
		st->degraded += (uint64_t)down_home;
	}
	if (res.written > 0) {
		st->rebuilt++;
		st->bytes += res.bytes;
	}
	if (wk->o->each != NULL && wk->o->each(wk->o->arg, st, res.bytes) != 0) {
		wk->stop = 1;
	}
}

static int walk_bucket(void *arg, const char *name)
{
	struct walk *wk = arg;
	uint8_t after[BLOCK_ID_LEN] = {0};
	struct mc *mc = NULL;
	int first = 1, more = 1, rc = mc_open(objc_cl(wk->oc), name, &mc);

	while (rc == 0 && more && !wk->stop) {
		int n = mc_blocks(mc, after, first, META_BLOCKS_MAX, wk->rows, &more);

		if (n < 0) {
			rc = n;
			break;
		}
		if (n == 0) {
			rc = more ? -OBJ_EPROTO : 0; /* a page that does not advance */
			break;
		}
		first = 0;
		memcpy(after, wk->rows[n - 1].blk.id, BLOCK_ID_LEN);
		for (int i = 0; i < n && !wk->stop; i++) {
			one_block(wk, &wk->rows[i].blk);
		}
	}
	mc_close(mc);
	if (rc != 0) {
		log_warn("repair.bucket", "bucket '%s': %s", name, obj_strerror(rc));
		wk->st->rc = wk->st->rc ? wk->st->rc : rc;
	}
	return wk->stop; /* other buckets still get their walk unless stopped */
}

int rw_run(struct objc *oc, const struct rw_opts *o, struct rw_stats *st)
{
	const struct cfg *cfg = cl_cfg(objc_cl(oc));
	struct walk wk = {.oc = oc, .o = o, .st = st};
	int rc;

	memset(st, 0, sizeof(*st));
	wk.rank = calloc(cfg->n_nodes, sizeof(*wk.rank));
	wk.rows = calloc(META_BLOCKS_MAX, sizeof(*wk.rows));
	if (wk.rank == NULL || wk.rows == NULL) {
		rc = -ENOMEM;
	} else {
		rc = bucket_list(oc, walk_bucket, &wk);
	}
	free(wk.rows);
	free(wk.rank);
	if (wk.stop) {
		return -ECANCELED;
	}
	return rc < 0 ? rc : 0;
}
