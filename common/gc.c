/* gc.c: mark and sweep of stray fragments (see gc.h).  Runs on the
 * caller's thread.  The mark set is an open-addressing table of block ids
 * (24 bytes per block at a load of at most 1/2), bounded by
 * gc_opts.mark_max: the block id space is marked and swept in ranges
 * [lo, hi), each holding at most that many blocks.  A range's hi is found
 * while marking: when the table fills, it keeps the lower half of its ids
 * and the range ends at the median.  Every range's mark is complete
 * before any of its fragments is swept; the sweep confirms and deletes
 * one node's candidates in batches of at most as many while it lists. */
#include "gc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blockio.h"
#include "err.h"
#include "log.h"
#include "meta_client.h"

#define GC_LIST_PAGE 4096      /* fragment headers per FRAG_LIST request */
#define GC_MARK_MAX (1u << 20) /* default bound of the mark: about 48 MiB */

struct mark_ent {
	uint8_t id[BLOCK_ID_LEN];
	uint8_t k, m, cls, used; /* cls: the block's storage class (its home nodes) */
	uint8_t queued;		 /* in the shard's GC queue: its class is not kept */
};

struct mark {
	struct mark_ent *v;
	size_t cap, n; /* cap a power of two */
};

/* The block ids one pass marks and sweeps: [lo, hi). */
struct range {
	uint8_t lo[BLOCK_ID_LEN], hi[BLOCK_ID_LEN];
	int lo_first; /* lo is the first id of all: list from the start */
	int hi_end;   /* hi lies past every id */
};

static int below_hi(const struct range *r, const uint8_t id[BLOCK_ID_LEN])
{
	return r->hi_end || memcmp(id, r->hi, BLOCK_ID_LEN) < 0;
}

/* Where a listing of r's ids starts: returns 1 (list from the first id
 * of all) for the first range, else 0 with after set to the id just
 * before lo (lo - 1 as a big-endian number), since listings return the
 * ids after `after`. */
static int range_start(const struct range *r, uint8_t after[BLOCK_ID_LEN])
{
	memset(after, 0, BLOCK_ID_LEN);
	if (r->lo_first) {
		return 1;
	}
	memcpy(after, r->lo, BLOCK_ID_LEN);
	for (size_t i = BLOCK_ID_LEN; i-- > 0;) {
		if (after[i]-- != 0) {
			break;
		}
	}
	return 0;
}

/* Block ids are random: their bytes are a good hash already -- the last
 * ones, since a range of ids shares its first (most significant) bytes. */
static size_t id_hash(const uint8_t id[BLOCK_ID_LEN])
{
	uint64_t h;

	memcpy(&h, id + BLOCK_ID_LEN - sizeof(h), sizeof(h));
	return (size_t)h;
}

static struct mark_ent *mark_find(const struct mark *mk, const uint8_t id[BLOCK_ID_LEN])
{
	if (mk->cap == 0) {
		return NULL;
	}
	for (size_t i = id_hash(id) & (mk->cap - 1);; i = (i + 1) & (mk->cap - 1)) {
		if (!mk->v[i].used) {
			return NULL;
		}
		if (memcmp(mk->v[i].id, id, BLOCK_ID_LEN) == 0) {
			return &mk->v[i];
		}
	}
}

/* Puts e (not in the table, and room for it) into its slot. */
static void mark_put(struct mark *mk, const struct mark_ent *e)
{
	size_t i;

	for (i = id_hash(e->id) & (mk->cap - 1); mk->v[i].used; i = (i + 1) & (mk->cap - 1)) {
	}
	mk->v[i] = *e;
	mk->v[i].used = 1;
	mk->n++;
}

/* Moves the entries of mk below r's hi into a new table of cap slots. */
static int mark_rebuild(struct mark *mk, size_t cap, const struct range *r)
{
	struct mark old = *mk;

	mk->cap = cap;
	mk->n = 0;
	mk->v = calloc(mk->cap, sizeof(*mk->v));
	if (mk->v == NULL) {
		*mk = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++) {
		if (old.v[i].used && below_hi(r, old.v[i].id)) {
			mark_put(mk, &old.v[i]);
		}
	}
	free(old.v);
	return 0;
}

static int id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, BLOCK_ID_LEN);
}

/* The mark is full: the range now ends at the median of its ids, and
 * only the lower half stays (the upper half is marked again by the next
 * range).  mk->n >= 2. */
static int mark_halve(struct mark *mk, struct range *r)
{
	uint8_t(*ids)[BLOCK_ID_LEN] = malloc(mk->n * sizeof(*ids));
	size_t n = 0;

	if (ids == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < mk->cap; i++) {
		if (mk->v[i].used) {
			memcpy(ids[n++], mk->v[i].id, BLOCK_ID_LEN);
		}
	}
	qsort(ids, n, sizeof(*ids), id_cmp);
	memcpy(r->hi, ids[n / 2], BLOCK_ID_LEN);
	r->hi_end = 0;
	free(ids);
	return mark_rebuild(mk, mk->cap, r);
}

static int mark_add(struct mark *mk, const struct manifest_block *b, int queued,
		    const struct range *r)
{
	struct mark_ent e = {.k = b->k, .m = b->m, .cls = b->cls, .queued = queued != 0};

	if (mark_find(mk, b->id) != NULL) {
		return 0;
	}
	if ((mk->n + 1) * 2 > mk->cap) {
		int rc = mark_rebuild(mk, mk->cap ? mk->cap * 2 : 1024, r);

		if (rc != 0) {
			return rc;
		}
	}
	memcpy(e.id, b->id, BLOCK_ID_LEN);
	mark_put(mk, &e);
	return 0;
}

struct mark_arg {
	struct objc *oc;
	struct mark *mk;
	struct range *r;
	size_t bound; /* entries the mark may hold (>= 2) */
	struct gc_stats *st;
	int first_range; /* count the buckets */
	int rc;
};

static int mark_bucket(void *arg, const char *name)
{
	struct mark_arg *ma = arg;
	struct meta_block_row *rows = calloc(META_BLOCKS_MAX, sizeof(*rows));
	uint8_t after[BLOCK_ID_LEN];
	struct mc *mc = NULL;
	int first = range_start(ma->r, after), more = 1, rc;

	if (rows == NULL) {
		ma->rc = -ENOMEM;
		return 1;
	}
	rc = mc_open(objc_cl(ma->oc), name, &mc);
	while (rc == 0 && more) {
		int n = mc_blocks(mc, after, first, META_BLOCKS_MAX, rows, &more);

		if (n < 0) {
			rc = n;
			break;
		}
		if (n == 0 && more) {
			rc = -OBJ_EPROTO; /* a page that does not advance */
			break;
		}
		for (int i = 0; i < n && rc == 0; i++) {
			if (!first && memcmp(rows[i].blk.id, after, BLOCK_ID_LEN) <= 0) {
				rc = -OBJ_EPROTO; /* out of order: a hostile or broken reply */
				break;
			}
			if (!below_hi(ma->r, rows[i].blk.id)) {
				more = 0; /* the next range's */
				break;
			}
			rc = mark_add(ma->mk, &rows[i].blk, rows[i].refs == 0, ma->r);
			if (rc == 0 && ma->mk->n >= ma->bound) {
				rc = mark_halve(ma->mk, ma->r);
			}
			memcpy(after, rows[i].blk.id, BLOCK_ID_LEN);
			first = 0;
		}
	}
	mc_close(mc);
	free(rows);
	ma->st->buckets += ma->first_range ? 1 : 0;
	if (rc != 0) {
		log_error("gc.mark",
			  "bucket '%s': cannot list its blocks: %s; nothing more deleted", name,
			  obj_strerror(rc));
		ma->rc = rc;
		return 1; /* stop: a partial mark would make live fragments look stray */
	}
	return 0;
}

/* One candidate for deletion on the node being swept. */
struct cand {
	struct frag_ref ref;
	uint32_t size;
	long home; /* surplus: the home node whose copy must be intact; -1 stray */
};

struct cands {
	struct cand *v;
	size_t n, cap;
};

static int cand_push(struct cands *c, const struct frag_hdr *h, long home)
{
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 256;
		struct cand *nv = realloc(c->v, ncap * sizeof(*nv));

		if (nv == NULL) {
			return -ENOMEM;
		}
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n].ref = h->ref;
	c->v[c->n].size = h->frag_len + 64; /* the file's header */
	c->v[c->n].home = home;
	c->n++;
	return 0;
}

/* Sends one FRAG_CHECK of refs[0..n) to node; fills res (n bytes). */
static int check_refs(struct cl *cl, size_t node, uint8_t op, uint32_t grace_s,
		      const struct frag_ref *refs, size_t n, uint8_t *res)
{
	struct cl_req r = {.node = node, .type = MSG_FRAG_CHECK};
	const struct cfg *cfg = cl_cfg(cl);
	struct wr w;
	struct rd rd;
	int rc;

	wr_init(&w, 0);
	msg_put_frag_check(&w, op, grace_s, refs, n);
	if ((rc = wr_status(&w)) != 0) {
		wr_free(&w);
		return rc;
	}
	r.body = w.buf;
	r.body_len = w.len;
	/* A verify reads fragments in full: allow for a disk's pace. */
	cl_run(cl, &r, 1, op == FRAG_CHECK_VERIFY ? cfg->timeout_ms * 6 : 0);
	rc = r.status;
	if (rc == 0) {
		rd_init(&rd, r.reply, r.reply_len);
		if (rd_u32(&rd) != n) {
			rc = -OBJ_EPROTO;
		}
		for (size_t i = 0; rc == 0 && i < n; i++) {
			res[i] = rd_u8(&rd);
		}
		if (rc == 0 && !rd_done(&rd)) {
			rc = -OBJ_EPROTO;
		}
	}
	cl_req_release(&r);
	wr_free(&w);
	return rc;
}

/* Drops surplus candidates whose home copy is not intact (or unknown),
 * counting in node[home].homeless those whose up home answered that it
 * lacks the fragment or holds it damaged. */
static int confirm_surplus(struct cl *cl, struct cands *c, size_t n_nodes,
			   struct gc_node_stats *node)
{
	struct frag_ref *refs = malloc(FRAG_CHECK_MAX * sizeof(*refs));
	size_t *pos = malloc(FRAG_CHECK_MAX * sizeof(*pos));
	uint8_t *res = malloc(FRAG_CHECK_MAX);
	int rc = 0;

	if (refs == NULL || pos == NULL || res == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t home = 0; home < n_nodes; home++) {
		size_t i = 0;

		while (i < c->n) {
			size_t n = 0;

			for (; i < c->n && n < FRAG_CHECK_MAX; i++) {
				if (c->v[i].home == (long)home) {
					refs[n] = c->v[i].ref;
					pos[n++] = i;
				}
			}
			if (n == 0) {
				continue;
			}
			if (!cl_node_up(cl, home) ||
			    check_refs(cl, home, FRAG_CHECK_VERIFY, 0, refs, n, res) != 0) {
				memset(res, FRAG_RES_ERROR, n);
			}
			for (size_t j = 0; j < n; j++) {
				if (res[j] != FRAG_RES_OK) {
					c->v[pos[j]].home = -2; /* keep it */
				}
				if (res[j] == FRAG_RES_MISSING || res[j] == FRAG_RES_BAD) {
					node[home].homeless++;
				}
			}
		}
	}
out:
	free(res);
	free(pos);
	free(refs);
	return rc;
}

/* Where a listing of one node's fragments of a range stands. */
struct listing {
	struct frag_ref after;
	int first, more;
};

static void listing_start(struct listing *l, const struct range *r)
{
	l->first = range_start(r, l->after.block_id);
	/* (lo - 1, the last index): the first fragment after it is lo's. */
	l->after.index = l->first ? 0 : UINT8_MAX;
	l->more = 1;
}

/* Lists the next page of node j's fragments of range r and adds its
 * candidates to c. */
static int list_page(struct objc *oc, size_t j, const struct mark *mk, const struct range *r,
		     const uint8_t *out, struct listing *l, struct cands *c,
		     struct gc_node_stats *ns, size_t *rank)
{
	struct cl *cl = objc_cl(oc);
	struct frag_ref after = l->after;
	int first = l->first, more = 1, rc = 0;
	uint8_t body[BLOCK_ID_LEN + 1 + 1 + 4];
	struct cl_req q = {.node = j, .type = MSG_FRAG_LIST};
	struct wr w;
	struct rd rd;
	uint32_t n;
	int past = 0; /* the page reached the next range */

	wr_init_buf(&w, body, sizeof(body));
	msg_put_frag_ref(&w, &after);
	wr_u8(&w, first ? 1 : 0);
	wr_u32(&w, GC_LIST_PAGE);
	q.body = body;
	q.body_len = w.len;
	cl_run(cl, &q, 1, 0);
	rc = q.status;
	if (rc == 0) {
		rd_init(&rd, q.reply, q.reply_len);
		n = rd_u32(&rd);
		if (n > GC_LIST_PAGE) {
			rc = -OBJ_EPROTO;
		}
		for (uint32_t i = 0; rc == 0 && i < n; i++) {
			struct frag_hdr h;
			const struct mark_ent *e;

			msg_get_frag_hdr(&rd, &h);
			if (!rd_ok(&rd)) {
				rc = -OBJ_EPROTO;
				break;
			}
			if (!first && (memcmp(h.ref.block_id, after.block_id, BLOCK_ID_LEN) < 0 ||
				       (memcmp(h.ref.block_id, after.block_id, BLOCK_ID_LEN) == 0 &&
					h.ref.index <= after.index))) {
				rc = -OBJ_EPROTO; /* out of order: nothing
						   * below lo is swept */
				break;
			}
			first = 0;
			after = h.ref;
			if (past || !below_hi(r, h.ref.block_id)) {
				past = 1; /* read on: the reply must still parse */
				continue;
			}
			ns->listed++;
			e = mark_find(mk, h.ref.block_id);
			if (e == NULL) {
				ns->strays++;
				rc = cand_push(c, &h, -1);
			} else if (h.ref.index < (unsigned)e->k + e->m && !e->queued) {
				/* (A queued block's home is not known -- the
				 * queue keeps no class -- and the shard deletes
				 * every copy of it anyway.) */
				size_t nr = blk_rank(objc_blk(oc), h.ref.block_id, e->cls, rank);

				/* A home that is out keeps its copies
				 * (they still verify), but the ones
				 * made elsewhere stand in for them. */
				if (h.ref.index < nr && rank[h.ref.index] != j &&
				    (out == NULL || !out[rank[h.ref.index]])) {
					ns->surplus++;
					rc = cand_push(c, &h, (long)rank[h.ref.index]);
				}
			}
		}
		more = rd_u8(&rd) != 0;
		if (rc == 0 && !rd_done(&rd)) {
			rc = -OBJ_EPROTO;
		}
		if (rc == 0 && more && n == 0) {
			rc = -OBJ_EPROTO;
		}
		more = more && !past;
	}
	first = 0;
	cl_req_release(&q);
	l->after = after;
	l->first = first;
	l->more = rc == 0 && more;
	return rc;
}

/* Sweeps (or age-checks) node j's confirmed candidates. */
static int sweep_node(struct cl *cl, size_t j, const struct gc_opts *o, const struct cands *c,
		      struct gc_node_stats *ns)
{
	struct frag_ref *refs = malloc(FRAG_CHECK_MAX * sizeof(*refs));
	size_t *pos = malloc(FRAG_CHECK_MAX * sizeof(*pos));
	uint8_t *res = malloc(FRAG_CHECK_MAX);
	size_t i = 0;
	int rc = 0;

	if (refs == NULL || pos == NULL || res == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	while (i < c->n && rc == 0) {
		size_t n = 0;

		for (; i < c->n && n < FRAG_CHECK_MAX; i++) {
			if (c->v[i].home >= -1) {
				refs[n] = c->v[i].ref;
				pos[n++] = i;
			}
		}
		if (n == 0) {
			break;
		}
		rc = check_refs(cl, j, o->dry_run ? FRAG_CHECK_AGE : FRAG_CHECK_SWEEP, o->grace_s,
				refs, n, res);
		for (size_t k = 0; rc == 0 && k < n; k++) {
			uint8_t want = o->dry_run ? FRAG_RES_OK : FRAG_RES_DELETED;

			if (res[k] == want) {
				ns->deleted++;
				ns->bytes += c->v[pos[k]].size;
			} else if (res[k] == FRAG_RES_YOUNG) {
				ns->young++;
			}
		}
	}
out:
	free(res);
	free(pos);
	free(refs);
	return rc;
}

static int collect_bucket(void *arg, const char *name)
{
	return mark_bucket(arg, name);
}

/* Sweeps node j's fragments of range r (the mark of r is complete). */
/* Sweeps node j's fragments of range r (the mark of r is complete), in
 * batches of at most cand_max candidates: they are confirmed and swept
 * while the listing goes on, so memory stays bounded however many strays
 * the range holds. */
static int sweep_range(struct objc *oc, size_t j, const struct gc_opts *o, const struct mark *mk,
		       const struct range *r, size_t cand_max, struct gc_stats *st, size_t *rank)
{
	struct cl *cl = objc_cl(oc);
	struct gc_node_stats *ns = &st->node[j];
	struct cands c = {0};
	struct listing l;
	int rc = 0;

	listing_start(&l, r);
	while (rc == 0 && (l.more || c.n > 0)) {
		if (l.more) {
			rc = list_page(oc, j, mk, r, o->out, &l, &c, ns, rank);
		}
		if (rc == 0 && (c.n >= cand_max || !l.more)) {
			rc = confirm_surplus(cl, &c, st->n_nodes, st->node);
			if (rc == 0) {
				rc = sweep_node(cl, j, o, &c, ns);
			}
			c.n = 0;
		}
	}
	free(c.v);
	return rc;
}

int gc_run(struct objc *oc, const struct gc_opts *o, struct gc_stats *st)
{
	struct cl *cl = objc_cl(oc);
	const struct cfg *cfg = cl_cfg(cl);
	struct mark mk = {0};
	struct range r = {.lo_first = 1, .hi_end = 1};
	struct mark_arg ma = {.oc = oc, .mk = &mk, .r = &r, .st = st, .first_range = 1};
	size_t *rank = calloc(cfg->n_nodes, sizeof(*rank));
	int rc = 0;

	memset(st, 0, sizeof(*st));
	st->n_nodes = cfg->n_nodes;
	st->node = calloc(cfg->n_nodes, sizeof(*st->node));
	if (st->node == NULL || rank == NULL) {
		free(rank);
		return -ENOMEM;
	}
	ma.bound = o->mark_max == 0 ? GC_MARK_MAX : o->mark_max < 2 ? 2 : o->mark_max;
	for (size_t j = 0; j < cfg->n_nodes; j++) {
		st->node[j].node_id = cfg->nodes[j].id;
		st->node[j].up = cl_node_up(cl, j);
		if (!st->node[j].up) {
			log_warn("gc.node", "node %u is down: not swept", st->node[j].node_id);
		}
	}
	for (;;) {
		/* 1. Mark: every block of the range of every bucket, all or
		 * nothing (the range may end earlier while it is marked). */
		ma.rc = 0;
		rc = bucket_list(oc, collect_bucket, &ma);
		if (ma.rc != 0) {
			rc = ma.rc;
		}
		if (rc < 0) {
			break;
		}
		rc = 0;
		st->ranges++;
		st->blocks += mk.n;
		ma.first_range = 0;
		/* 2. Sweep the range's fragments, one node at a time. */
		for (size_t j = 0; j < cfg->n_nodes; j++) {
			int nrc;

			if (!st->node[j].up) {
				continue;
			}
			nrc = sweep_range(oc, j, o, &mk, &r, ma.bound, st, rank);
			if (nrc != 0) {
				/* The other nodes still get their sweep. */
				log_warn("gc.node", "node %u: %s", st->node[j].node_id,
					 obj_strerror(nrc));
				st->node[j].up = 0;
			}
		}
		if (r.hi_end) {
			break;
		}
		memcpy(r.lo, r.hi, BLOCK_ID_LEN);
		r.lo_first = 0;
		r.hi_end = 1;
		free(mk.v);
		memset(&mk, 0, sizeof(mk));
	}
	for (size_t j = 0; j < cfg->n_nodes; j++) {
		const struct gc_node_stats *ns = &st->node[j];

		st->listed += ns->listed;
		st->strays += ns->strays;
		st->surplus += ns->surplus;
		st->deleted += ns->deleted;
		st->young += ns->young;
		st->bytes += ns->bytes;
		st->homeless += ns->homeless;
	}
	free(mk.v);
	free(rank);
	return rc;
}

void gc_stats_free(struct gc_stats *st)
{
	free(st->node);
	st->node = NULL;
}
