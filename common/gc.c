/* gc.c: mark and sweep of stray fragments (see gc.h).  Runs on the
 * caller's thread.  The mark set is an open-addressing table of block ids
 * (16 bytes and the profile per block: 64 MiB for 3.5 million blocks,
 * about 14 TiB of 4 MiB blocks); the sweep holds one node's candidates at
 * a time. */
#include "gc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blockio.h"
#include "err.h"
#include "log.h"
#include "meta_client.h"

#define GC_LIST_PAGE 4096 /* fragment headers per FRAG_LIST request */

struct mark_ent {
	uint8_t id[BLOCK_ID_LEN];
	uint8_t k, m, cls, used; /* cls: the block's storage class (its home nodes) */
	uint8_t queued;		 /* in the shard's GC queue: its class is not kept */
};

struct mark {
	struct mark_ent *v;
	size_t cap, n; /* cap a power of two */
};

/* Block ids are random: their first bytes are a good hash already. */
static size_t id_hash(const uint8_t id[BLOCK_ID_LEN])
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
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

static int mark_add(struct mark *mk, const struct manifest_block *b, int queued);

static int mark_grow(struct mark *mk)
{
	struct mark old = *mk;

	mk->cap = old.cap ? old.cap * 2 : 1024;
	mk->n = 0;
	mk->v = calloc(mk->cap, sizeof(*mk->v));
	if (mk->v == NULL) {
		*mk = old;
		return -ENOMEM;
	}
	for (size_t i = 0; i < old.cap; i++) {
		if (old.v[i].used) {
			struct manifest_block b = {
			    .k = old.v[i].k, .m = old.v[i].m, .cls = old.v[i].cls};

			memcpy(b.id, old.v[i].id, BLOCK_ID_LEN);
			mark_add(mk, &b, old.v[i].queued);
		}
	}
	free(old.v);
	return 0;
}

static int mark_add(struct mark *mk, const struct manifest_block *b, int queued)
{
	size_t i;

	if (mark_find(mk, b->id) != NULL) {
		return 0;
	}
	if ((mk->n + 1) * 2 > mk->cap) {
		int rc = mark_grow(mk);

		if (rc != 0) {
			return rc;
		}
	}
	for (i = id_hash(b->id) & (mk->cap - 1); mk->v[i].used; i = (i + 1) & (mk->cap - 1)) {
	}
	memcpy(mk->v[i].id, b->id, BLOCK_ID_LEN);
	mk->v[i].k = b->k;
	mk->v[i].m = b->m;
	mk->v[i].cls = b->cls;
	mk->v[i].queued = (uint8_t)(queued != 0);
	mk->v[i].used = 1;
	mk->n++;
	return 0;
}

struct mark_arg {
	struct objc *oc;
	struct mark *mk;
	struct gc_stats *st;
	int rc;
};

static int mark_bucket(void *arg, const char *name)
{
	struct mark_arg *ma = arg;
	struct meta_block_row *rows = calloc(META_BLOCKS_MAX, sizeof(*rows));
	uint8_t after[BLOCK_ID_LEN] = {0};
	struct mc *mc = NULL;
	int first = 1, more = 1, rc;

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
			} else {
				rc = mark_add(ma->mk, &rows[i].blk, rows[i].refs == 0);
			}
			memcpy(after, rows[i].blk.id, BLOCK_ID_LEN);
			first = 0;
		}
		ma->st->blocks += (uint64_t)n;
	}
	mc_close(mc);
	free(rows);
	ma->st->buckets++;
	if (rc != 0) {
		log_error("gc.mark", "bucket '%s': cannot list its blocks: %s; nothing deleted",
			  name, obj_strerror(rc));
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

/* Lists node j's fragments and collects its candidates. */
static int list_node(struct objc *oc, size_t j, const struct mark *mk, const uint8_t *out,
		     struct cands *c, struct gc_node_stats *ns, size_t *rank)
{
	struct cl *cl = objc_cl(oc);
	struct frag_ref after = {0};
	int first = 1, more = 1, rc = 0;

	while (more && rc == 0) {
		uint8_t body[BLOCK_ID_LEN + 1 + 1 + 4];
		struct cl_req r = {.node = j, .type = MSG_FRAG_LIST};
		struct wr w;
		struct rd rd;
		uint32_t n;

		wr_init_buf(&w, body, sizeof(body));
		msg_put_frag_ref(&w, &after);
		wr_u8(&w, first ? 1 : 0);
		wr_u32(&w, GC_LIST_PAGE);
		r.body = body;
		r.body_len = w.len;
		cl_run(cl, &r, 1, 0);
		rc = r.status;
		if (rc == 0) {
			rd_init(&rd, r.reply, r.reply_len);
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
				ns->listed++;
				e = mark_find(mk, h.ref.block_id);
				if (e == NULL) {
					ns->strays++;
					rc = cand_push(c, &h, -1);
				} else if (h.ref.index < (unsigned)e->k + e->m && !e->queued) {
					/* (A queued block's home is not known -- the
					 * queue keeps no class -- and the shard deletes
					 * every copy of it anyway.) */
					size_t nr =
					    blk_rank(objc_blk(oc), h.ref.block_id, e->cls, rank);

					/* A home that is out keeps its copies
					 * (they still verify), but the ones
					 * made elsewhere stand in for them. */
					if (h.ref.index < nr && rank[h.ref.index] != j &&
					    (out == NULL || !out[rank[h.ref.index]])) {
						ns->surplus++;
						rc = cand_push(c, &h, (long)rank[h.ref.index]);
					}
				}
				after = h.ref;
			}
			more = rd_u8(&rd) != 0;
			if (rc == 0 && !rd_done(&rd)) {
				rc = -OBJ_EPROTO;
			}
			if (rc == 0 && more && n == 0) {
				rc = -OBJ_EPROTO;
			}
		}
		first = 0;
		cl_req_release(&r);
	}
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

int gc_run(struct objc *oc, const struct gc_opts *o, struct gc_stats *st)
{
	struct cl *cl = objc_cl(oc);
	const struct cfg *cfg = cl_cfg(cl);
	struct mark mk = {0};
	struct mark_arg ma = {.oc = oc, .mk = &mk, .st = st};
	size_t *rank = calloc(cfg->n_nodes, sizeof(*rank));
	int rc;

	memset(st, 0, sizeof(*st));
	st->n_nodes = cfg->n_nodes;
	st->node = calloc(cfg->n_nodes, sizeof(*st->node));
	if (st->node == NULL || rank == NULL) {
		free(rank);
		return -ENOMEM;
	}
	/* 1. Mark: every block of every bucket, all or nothing. */
	rc = bucket_list(oc, collect_bucket, &ma);
	if (ma.rc != 0) {
		rc = ma.rc;
	}
	if (rc < 0) {
		free(mk.v);
		free(rank);
		return rc;
	}
	/* 2. Sweep the nodes one at a time. */
	rc = 0;
	for (size_t j = 0; j < cfg->n_nodes && rc == 0; j++) {
		struct gc_node_stats *ns = &st->node[j];
		struct cands c = {0};

		ns->node_id = cfg->nodes[j].id;
		if (!cl_node_up(cl, j)) {
			log_warn("gc.node", "node %u is down: not swept", ns->node_id);
			continue;
		}
		rc = list_node(oc, j, &mk, o->out, &c, ns, rank);
		if (rc == 0) {
			rc = confirm_surplus(cl, &c, cfg->n_nodes, st->node);
		}
		if (rc == 0) {
			rc = sweep_node(cl, j, o, &c, ns);
		}
		if (rc != 0) {
			log_warn("gc.node", "node %u: %s", ns->node_id, obj_strerror(rc));
			rc = 0; /* the other nodes still get their sweep */
		} else {
			ns->up = 1;
		}
		free(c.v);
		st->listed += ns->listed;
		st->strays += ns->strays;
		st->surplus += ns->surplus;
		st->deleted += ns->deleted;
		st->young += ns->young;
		st->bytes += ns->bytes;
	}
	for (size_t j = 0; j < cfg->n_nodes; j++) {
		st->homeless += st->node[j].homeless;
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
