/* fsck.c: block health over a bucket (see fsck.h).  Runs on the caller's
 * thread; every node exchange is one parallel cl_run per batch of blocks.
 *
 * Cost: each batch asks every up node for every fragment index of its
 * blocks, so a node reads (in full) exactly the fragments it holds and
 * answers "missing" for the rest from a failed open; the network carries
 * one result byte per question.  FSCK_BATCH blocks a batch keeps a node's
 * share of one request to a few tens of MiB, well inside a timeout. */
#include "fsck.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blockio.h"
#include "err.h"
#include "log.h"
#include "meta_client.h"

#define FSCK_BATCH 16
#define FSCK_LIST_PAGE 1000
#define FSCK_EXTENT_PAGE 1024
/* A batch is disk-bound on the nodes: give it more than one request's time. */
#define FSCK_TIMEOUT_FACTOR 6

struct fsck_run {
	struct objc *oc;
	struct blk *blk;
	const struct cfg *cfg;
	struct mc *mc;
	const struct fsck_opts *o;
	struct fsck_stats *st;
	const char *path;
	uint64_t bytes_before; /* file bytes of the files finished */
	size_t *rank;	       /* scratch: b->n entries */
	uint8_t *res;	       /* [node][batch block][index] results */
	uint8_t *asked;	       /* [node]: the node answered this batch */
	uint8_t *one;	       /* [node][index]: one block's results, for fsck_classify */
	uint32_t *zone_of;     /* [node]: its zone index */
	int rc;
};

#define RES(fr, node, b, i) ((fr)->res[((node)*FSCK_BATCH + (b)) * EC_MAX_FRAGS + (i)])

/* Asks every up node about every fragment of blocks[0..n). */
static void check_batch(struct fsck_run *fr, const struct meta_extent *ext, size_t n)
{
	size_t nn = fr->cfg->n_nodes, nreq = 0;
	struct cl_req *reqs = calloc(nn, sizeof(*reqs));
	struct wr *w = calloc(nn, sizeof(*w));
	size_t *node_of = calloc(nn, sizeof(*node_of));
	struct frag_ref refs[FSCK_BATCH * EC_MAX_FRAGS];
	size_t nref = 0;

	memset(fr->res, FRAG_RES_ERROR, nn * FSCK_BATCH * EC_MAX_FRAGS);
	memset(fr->asked, 0, nn);
	if (reqs == NULL || w == NULL || node_of == NULL) {
		fr->rc = -ENOMEM;
		goto out;
	}
	for (size_t b = 0; b < n; b++) {
		size_t nfrag = (size_t)ext[b].blk.k + ext[b].blk.m;

		for (size_t i = 0; i < nfrag; i++) {
			memcpy(refs[nref].block_id, ext[b].blk.id, BLOCK_ID_LEN);
			refs[nref++].index = (uint8_t)i;
		}
	}
	for (size_t j = 0; j < nn; j++) {
		if (!cl_node_up(objc_cl(fr->oc), j)) {
			continue;
		}
		wr_init(&w[nreq], 0);
		msg_put_frag_check(&w[nreq], FRAG_CHECK_VERIFY, 0, refs, nref);
		reqs[nreq].node = j;
		reqs[nreq].type = MSG_FRAG_CHECK;
		reqs[nreq].body = w[nreq].buf;
		reqs[nreq].body_len = w[nreq].len;
		node_of[nreq++] = j;
	}
	cl_run(objc_cl(fr->oc), reqs, nreq, fr->cfg->timeout_ms * FSCK_TIMEOUT_FACTOR);
	for (size_t q = 0; q < nreq; q++) {
		size_t j = node_of[q], k = 0;
		struct rd rd;

		if (reqs[q].status == 0 && wr_status(&w[q]) == 0) {
			rd_init(&rd, reqs[q].reply, reqs[q].reply_len);
			if (rd_u32(&rd) == nref) {
				for (size_t b = 0; b < n; b++) {
					size_t nfrag = (size_t)ext[b].blk.k + ext[b].blk.m;

					for (size_t i = 0; i < nfrag; i++) {
						RES(fr, j, b, i) = rd_u8(&rd);
						k++;
					}
				}
				fr->asked[j] = rd_done(&rd);
			}
		} else {
			log_warn("fsck.node", "node %u: %s", fr->cfg->nodes[j].id,
				 obj_strerror(reqs[q].status ? reqs[q].status : -OBJ_EPROTO));
		}
		(void)k;
		cl_req_release(&reqs[q]);
		wr_free(&w[q]);
	}
out:
	free(node_of);
	free(w);
	free(reqs);
}

void fsck_classify(const struct manifest_block *mb, const uint8_t *res, const uint8_t *answered,
		   const uint32_t *zone_of, size_t n_nodes, size_t n_zones, const size_t *rank,
		   size_t nr, struct fsck_block *out)
{
	size_t nfrag = (size_t)mb->k + mb->m, want_zones;
	uint8_t used[CFG_MAX_NODES] = {0}, zone_used[CFG_MAX_NODES] = {0};
	long holder[EC_MAX_FRAGS];

#define ANSWER(j, i) (answered[j] ? res[(j)*EC_MAX_FRAGS + (i)] : FRAG_RES_ERROR)
	out->state = FSCK_HEALTHY;
	out->intact = out->placed = out->zones = out->bad = out->missing = 0;
	out->nodes_down = out->copies = 0;
	for (size_t i = 0; i < nfrag; i++) {
		int intact = 0;

		holder[i] = -1;
		for (size_t j = 0; j < n_nodes; j++) {
			uint8_t r = ANSWER(j, i);

			intact |= r == FRAG_RES_OK;
			out->bad += r == FRAG_RES_BAD;
			out->copies += r == FRAG_RES_OK;
		}
		out->intact += (uint32_t)intact;
		if (i < nr && rank[i] < n_nodes) {
			size_t home = rank[i];

			if (!answered[home]) {
				out->nodes_down++;
			} else if (ANSWER(home, i) == FRAG_RES_MISSING) {
				out->missing++;
			}
			/* The home copy first: it is where reads look. */
			if (ANSWER(home, i) == FRAG_RES_OK) {
				holder[i] = (long)home;
				used[home] = 1;
			}
		}
	}
	/* Then a hand-off on a node not holding another fragment already. */
	for (size_t i = 0; i < nfrag; i++) {
		for (size_t j = 0; j < n_nodes && holder[i] < 0; j++) {
			if (!used[j] && ANSWER(j, i) == FRAG_RES_OK) {
				holder[i] = (long)j;
				used[j] = 1;
			}
		}
	}
#undef ANSWER
	for (size_t i = 0; i < nfrag; i++) {
		if (holder[i] >= 0) {
			uint32_t z = zone_of[holder[i]];

			out->placed++;
			if (z < CFG_MAX_NODES && !zone_used[z]) {
				zone_used[z] = 1;
				out->zones++;
			}
		}
	}
	want_zones = n_zones < nfrag ? n_zones : nfrag;
	if (out->intact < mb->k) {
		out->state = FSCK_LOST;
	} else if (out->placed < nfrag || out->zones < want_zones) {
		out->state = FSCK_DEGRADED;
	}
}

/* Classifies block b of the batch from the results; fills out. */
static void classify(struct fsck_run *fr, const struct meta_extent *e, size_t b,
		     struct fsck_block *out)
{
	size_t nn = fr->cfg->n_nodes, nfrag = (size_t)e->blk.k + e->blk.m, nr;

	memset(out, 0, sizeof(*out));
	out->path = fr->path;
	out->chunk = e->chunk;
	out->blk = e->blk;
	for (size_t j = 0; j < nn; j++) {
		for (size_t i = 0; i < nfrag; i++) {
			fr->one[j * EC_MAX_FRAGS + i] = RES(fr, j, b, i);
		}
	}
	nr = blk_rank(fr->blk, e->blk.id, e->blk.cls, fr->rank);
	fsck_classify(&e->blk, fr->one, fr->asked, fr->zone_of, nn, fr->cfg->n_zones, fr->rank, nr,
		      out);
	fr->st->frags_checked += out->copies;
}

static void do_batch(struct fsck_run *fr, const struct meta_extent *ext, size_t n)
{
	struct fsck_block fb[FSCK_BATCH];
	int repaired[FSCK_BATCH] = {0}, any = 0;

	check_batch(fr, ext, n);
	for (size_t b = 0; b < n; b++) {
		classify(fr, &ext[b], b, &fb[b]);
		fr->st->frags_bad += fb[b].bad;
		fr->st->frags_missing += fb[b].missing;
		fr->st->frags_unreachable += fb[b].nodes_down;
		if (fr->o->repair && fb[b].state == FSCK_DEGRADED) {
			int rc = blk_repair(fr->blk, &ext[b].blk);

			if (rc > 0) {
				repaired[b] = 1;
				any = 1;
				fr->st->repaired_blocks++;
				fr->st->frags_rewritten += (uint64_t)rc;
			} else if (rc < 0) {
				log_warn("fsck.repair", "%s: chunk %llu: %s", fr->path,
					 (unsigned long long)ext[b].chunk, obj_strerror(rc));
			}
		}
	}
	if (any) {
		/* What counts is the state after the repair. */
		check_batch(fr, ext, n);
		for (size_t b = 0; b < n; b++) {
			if (repaired[b]) {
				uint64_t keep = fr->st->frags_checked;

				classify(fr, &ext[b], b, &fb[b]);
				fr->st->frags_checked = keep;
				fb[b].repaired = 1;
			}
		}
	}
	for (size_t b = 0; b < n; b++) {
		fr->st->blocks++;
		if (fb[b].state == FSCK_HEALTHY) {
			fr->st->healthy++;
			continue;
		}
		if (fb[b].state == FSCK_DEGRADED) {
			fr->st->degraded++;
		} else {
			fr->st->lost++;
		}
		if (fr->o->report != NULL) {
			fr->o->report(fr->o->arg, &fb[b]);
		}
	}
}

static int fsck_page(void *arg, const struct ext_page *pg)
{
	struct fsck_run *fr = arg;

	for (size_t i = 0; i < pg->n && fr->rc == 0; i += FSCK_BATCH) {
		size_t n = pg->n - i < FSCK_BATCH ? pg->n - i : FSCK_BATCH;

		do_batch(fr, pg->ext + i, n);
		if (fr->o->progress != NULL) {
			uint64_t done = 0;

			for (size_t j = 0; j < i + n; j++) {
				done += pg->ext[j].len;
			}
			fr->o->progress(fr->o->arg, fr->bytes_before + done);
		}
	}
	return fr->rc;
}

static int fsck_file(void *arg, const char *path, uint64_t size, int64_t mtime_ns)
{
	struct fsck_run *fr = arg;
	struct meta_attr a;
	int rc;

	(void)mtime_ns;
	fr->path = path;
	if (mc_resolve(fr->mc, path, &a) != 0) {
		return 0; /* removed meanwhile */
	}
	fr->st->files++;
	fr->st->bytes += size;
	rc = mc_extents_each(fr->mc, a.ino, FSCK_EXTENT_PAGE, fsck_page, fr);
	fr->bytes_before += size;
	if (fr->o->progress != NULL) {
		fr->o->progress(fr->o->arg, fr->bytes_before);
	}
	if (rc < 0 && fr->rc == 0) {
		fr->rc = rc;
	}
	return fr->rc < 0 ? fr->rc : 0;
}

int fsck_bucket(struct objc *oc, const char *bucket, const struct fsck_opts *o,
		struct fsck_stats *st)
{
	struct fsck_run fr = {.oc = oc, .blk = objc_blk(oc), .o = o, .st = st};
	int rc;

	fr.cfg = cl_cfg(objc_cl(oc));
	fr.rank = calloc(fr.cfg->n_nodes, sizeof(*fr.rank));
	fr.res = malloc(fr.cfg->n_nodes * FSCK_BATCH * EC_MAX_FRAGS);
	fr.asked = calloc(fr.cfg->n_nodes, 1);
	fr.one = malloc(fr.cfg->n_nodes * EC_MAX_FRAGS);
	fr.zone_of = calloc(fr.cfg->n_nodes, sizeof(*fr.zone_of));
	if (fr.rank == NULL || fr.res == NULL || fr.asked == NULL || fr.one == NULL ||
	    fr.zone_of == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t j = 0; j < fr.cfg->n_nodes; j++) {
		fr.zone_of[j] = fr.cfg->nodes[j].zone_idx;
	}
	if ((rc = mc_open(objc_cl(oc), bucket, &fr.mc)) != 0) {
		goto out;
	}
	rc = mc_list_each(fr.mc, "", FSCK_LIST_PAGE, fsck_file, &fr);
	mc_close(fr.mc);
	if (rc == 0) {
		rc = fr.rc;
	}
out:
	free(fr.zone_of);
	free(fr.one);
	free(fr.asked);
	free(fr.res);
	free(fr.rank);
	return rc < 0 ? rc : 0;
}
