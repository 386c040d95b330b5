/* blockio.c: erasure-coded block put/get over the nodes (see blockio.h). */
#include "blockio.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "compress.h"
#include "err.h"
#include "log.h"
#include "place.h"
#include "quorum.h"
#include "rand.h"
#include "repair_plan.h"
#include "workq.h"

/* Fixed size of a packed frag_hdr (msg_put_frag_hdr). */
#define FRAG_HDR_WIRE (BLOCK_ID_LEN + 1 + 1 + 1 + 8 + 4 + 8)
/* Read repairs queued at most: each costs a block read and a few
 * fragment writes, so a burst of damage is worked off a few at a time and
 * anything beyond is left to the scrub and fsck (the read itself never
 * waits for this queue). */
#define RR_QUEUE_MAX 16
/* Rounds of hand-off after the first attempt of a put. */
#define PUT_HANDOFF_ROUNDS 2

struct blk {
	struct cl *cl;
	const struct cfg *cfg;
	struct place_node *pn;
	size_t n;
	/* Per storage class id: pn with only the class's tagged nodes up
	 * (NULL: no such class in the config, placed over every node). */
	struct place_node *cls_pn[256];
	pthread_mutex_t mu; /* guards codecs and the read-repair fields */
	struct ec_codec *codecs[EC_MAX_K + 1][EC_MAX_M + 1];
	/* Read repair (guarded by mu): a queue started on first use, and the
	 * blocks queued or being repaired, so one damaged block read by many
	 * threads is rebuilt once. */
	struct workq *rr_q;
	uint8_t rr_ids[RR_QUEUE_MAX + 1][BLOCK_ID_LEN];
	size_t rr_n;
	struct blk_rr_stats rr;
	struct blk_cz_stats cz; /* relaxed atomics, no lock */
};

/* One scheduled rewrite. */
struct rr_item {
	struct workq_item it;
	struct blk *b;
	struct manifest_block mb;
};

int blk_open(struct cl *cl, struct blk **out)
{
	const struct cfg *cfg = cl_cfg(cl);
	struct blk *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		return -ENOMEM;
	}
	b->cl = cl;
	b->cfg = cfg;
	b->n = cfg->n_nodes;
	pthread_mutex_init(&b->mu, NULL);
	b->pn = calloc(b->n, sizeof(*b->pn));
	if (b->pn == NULL) {
		free(b);
		return -ENOMEM;
	}
	for (size_t i = 0; i < b->n; i++) {
		b->pn[i].id = cfg->nodes[i].id;
		b->pn[i].zone = cfg->nodes[i].zone_idx;
		b->pn[i].up = 1;
	}
	for (size_t c = 0; c < cfg->n_classes; c++) {
		const struct cfg_class *cls = &cfg->classes[c];
		struct place_node *pn = calloc(b->n, sizeof(*pn));

		if (pn == NULL) {
			blk_close(b);
			return -ENOMEM;
		}
		for (size_t i = 0; i < b->n; i++) {
			pn[i] = b->pn[i];
			pn[i].up = (uint8_t)cfg_node_has_tag(&cfg->nodes[i], cls->tag);
		}
		b->cls_pn[cls->id] = pn;
	}
	*out = b;
	return 0;
}

void blk_close(struct blk *b)
{
	if (b == NULL) {
		return;
	}
	/* Runs the repairs still queued (at most RR_QUEUE_MAX), then joins. */
	workq_stop(b->rr_q);
	for (size_t k = 0; k <= EC_MAX_K; k++) {
		for (size_t m = 0; m <= EC_MAX_M; m++) {
			ec_destroy(b->codecs[k][m]);
		}
	}
	pthread_mutex_destroy(&b->mu);
	for (size_t c = 0; c < OBJ_ARRAY_LEN(b->cls_pn); c++) {
		free(b->cls_pn[c]);
	}
	free(b->pn);
	free(b);
}

static struct ec_codec *codec_for(struct blk *b, struct ec_profile p)
{
	struct ec_codec *c;
	int err;

	if (p.k < 1 || p.k > EC_MAX_K || p.m > EC_MAX_M) {
		return NULL;
	}
	pthread_mutex_lock(&b->mu);
	c = b->codecs[p.k][p.m];
	if (c == NULL) {
		c = b->codecs[p.k][p.m] = ec_create(p, &err);
	}
	pthread_mutex_unlock(&b->mu);
	return c;
}

struct ec_profile blk_profile_for(struct blk *b, uint64_t size)
{
	struct ec_profile p = cfg_profile_for(b->cfg, size);

	if ((size_t)p.k + p.m > b->n) {
		p = b->cfg->ec;
	}
	if ((size_t)p.k + p.m > b->n) {
		/* Small cluster: keep as much parity as leaves one data node. */
		p.m = (uint8_t)(b->n > 1 ? (p.m < b->n - 1 ? p.m : b->n - 1) : 0);
		p.k = (uint8_t)(b->n - p.m);
	}
	return p;
}

/* Nodes for a block id of class cls: rank[i] is fragment i's home for
 * i < k+m, then the hand-off candidates (of the class too, so a block of
 * a class never lands outside it); returns the count.  A class this
 * config does not know ranks every node: a reader then still finds the
 * fragments by asking every node (blk_get's last phase). */
static size_t rank_nodes(struct blk *b, const uint8_t id[BLOCK_ID_LEN], uint8_t cls, size_t *rank)
{
	const struct place_node *pn = b->cls_pn[cls] != NULL ? b->cls_pn[cls] : b->pn;

	return place_slots(id, pn, b->n, EC_MAX_FRAGS, rank, b->n);
}

struct ec_profile blk_class_profile(struct blk *b, uint8_t cls, uint64_t size)
{
	const struct cfg_class *cl = cfg_class_by_id(b->cfg, cls);

	return cl != NULL ? cl->ec : blk_profile_for(b, size);
}

static void pack_hdr(uint8_t out[FRAG_HDR_WIRE], const struct frag_hdr *h)
{
	struct wr w;

	wr_init(&w, 0);
	msg_put_frag_hdr(&w, h);
	if (wr_status(&w) == 0 && w.len == FRAG_HDR_WIRE) {
		memcpy(out, w.buf, FRAG_HDR_WIRE);
	}
	wr_free(&w);
}

/* A node's refusal of the client's key (proto/keys.h): the same answer
 * from every node, so no reason to try others or to blame one. */
static int key_refused(int rc)
{
	return rc == -EACCES || rc == -ENOKEY;
}

static void delete_frags(struct blk *b, const uint8_t id[BLOCK_ID_LEN], const long *holder,
			 size_t nfrag)
{
	struct cl_req reqs[EC_MAX_FRAGS];
	uint8_t body[EC_MAX_FRAGS][BLOCK_ID_LEN + 1];
	size_t n = 0;

	for (size_t i = 0; i < nfrag; i++) {
		if (holder[i] < 0) {
			continue;
		}
		memcpy(body[n], id, BLOCK_ID_LEN);
		body[n][BLOCK_ID_LEN] = (uint8_t)i;
		memset(&reqs[n], 0, sizeof(reqs[n]));
		reqs[n].node = (size_t)holder[i];
		reqs[n].type = MSG_FRAG_DEL;
		reqs[n].body = body[n];
		reqs[n].body_len = sizeof(body[n]);
		n++;
	}
	cl_run(b->cl, reqs, n, 0);
	for (size_t i = 0; i < n; i++) {
		cl_req_release(&reqs[i]);
	}
}

/* Erasure-codes and stores len bytes (what the fragments hold: the
 * block's data or its compressed form) under a fresh id on the nodes of
 * class cls; fills out's id, k, m and cls.  Errors as blk_put. */
static int put_stored(struct blk *b, const void *data, size_t len, struct ec_profile p, uint8_t cls,
		      struct manifest_block *out)
{
	struct ec_codec *codec = codec_for(b, p);
	size_t nfrag = (size_t)p.k + p.m, flen, nr;
	uint8_t *buf;
	const uint8_t *frags[EC_MAX_FRAGS];
	uint8_t hdrs[EC_MAX_FRAGS][FRAG_HDR_WIRE];
	struct cl_req reqs[EC_MAX_FRAGS];
	long holder[EC_MAX_FRAGS];
	size_t *rank, *load;
	uint8_t *up;
	int rc = 0;

	if (codec == NULL || len == 0 || len > MSG_BLOCK_MAX || nfrag > b->n) {
		return -EINVAL;
	}
	flen = ec_frag_len(p, len);
	/* The whole data fragments are sent from data itself: only the
	 * padded last ones and the parity need room of their own. */
	buf = malloc((nfrag - ec_whole_frags(p, len)) * flen + 1);
	rank = calloc(b->n, sizeof(*rank));
	load = calloc(b->n, sizeof(*load));
	up = calloc(b->n, sizeof(*up));
	if (buf == NULL || rank == NULL || load == NULL || up == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nfrag; i++) {
		holder[i] = -1;
	}
	ec_encode_ref(codec, data, len, buf, frags);
	/* Every field defined (raw, uncompressed): callers copy the record
	 * whole into extents, and the shard refuses unknown codec bytes. */
	memset(out, 0, sizeof(*out));
	if ((rc = rand_bytes(out->id, BLOCK_ID_LEN)) != 0) {
		goto out;
	}
	out->k = p.k;
	out->m = p.m;
	for (size_t i = 0; i < nfrag; i++) {
		struct frag_hdr h = {.k = p.k,
				     .m = p.m,
				     .block_len = len,
				     .frag_len = (uint32_t)flen,
				     .csum = csum64(frags[i], flen)};

		memcpy(h.ref.block_id, out->id, BLOCK_ID_LEN);
		h.ref.index = (uint8_t)i;
		pack_hdr(hdrs[i], &h);
	}
	out->cls = cls;
	nr = rank_nodes(b, out->id, cls, rank);

	/* Round 0 sends each fragment home; later rounds hand failed ones
	 * off to the up node holding the fewest fragments of this block. */
	for (int round = 0; round <= PUT_HANDOFF_ROUNDS; round++) {
		size_t n = 0, idx[EC_MAX_FRAGS];

		/* One view of the nodes per round: quorum_handoff is pure. */
		for (size_t j = 0; round > 0 && j < b->n; j++) {
			up[j] = (uint8_t)(cl_node_up(b->cl, j) != 0);
		}
		for (size_t i = 0; i < nfrag; i++) {
			size_t target = SIZE_MAX;

			if (holder[i] >= 0) {
				continue;
			}
			if (round == 0) {
				target = rank[i];
			} else {
				target = quorum_handoff(rank, nr, i, up, load);
			}
			if (target == SIZE_MAX) {
				continue;
			}
			memset(&reqs[n], 0, sizeof(reqs[n]));
			reqs[n].node = target;
			reqs[n].type = MSG_FRAG_PUT;
			reqs[n].body = hdrs[i];
			reqs[n].body_len = FRAG_HDR_WIRE;
			reqs[n].data = frags[i];
			reqs[n].data_len = flen;
			idx[n++] = i;
			load[target]++; /* tentatively, so one round spreads out */
		}
		if (n == 0) {
			break;
		}
		cl_run(b->cl, reqs, n, 0);
		for (size_t j = 0; j < n; j++) {
			if (reqs[j].status == 0) {
				holder[idx[j]] = (long)reqs[j].node;
			} else {
				load[reqs[j].node]--;
				log_debug("blk.put", "fragment %zu to node %u: %s%s%s", idx[j],
					  b->cfg->nodes[reqs[j].node].id,
					  obj_strerror(reqs[j].status), reqs[j].err[0] ? ": " : "",
					  reqs[j].err);
				if (reqs[j].status == -ENOSPC || key_refused(reqs[j].status) ||
				    rc == 0) {
					rc = reqs[j].status;
				}
			}
			cl_req_release(&reqs[j]);
		}
		if (quorum_met(holder, nfrag, p.k)) {
			/* Fragments that could not be placed at all are left for repair. */
			size_t missing = 0;

			for (size_t i = 0; i < nfrag; i++) {
				missing += holder[i] < 0 ? 1 : 0;
			}
			if (missing == 0) {
				break;
			}
			if (round == PUT_HANDOFF_ROUNDS) {
				break;
			}
		}
	}
	if (quorum_met(holder, nfrag, p.k)) {
		rc = 0;
	} else if (key_refused(rc)) {
		/* The key may not write: no node's fault, nothing to log. */
		delete_frags(b, out->id, holder, nfrag);
	} else {
		log_warn("blk.quorum", "block write failed: too few nodes stored fragments (%s)",
			 obj_strerror(rc ? rc : -OBJ_EQUORUM));
		delete_frags(b, out->id, holder, nfrag);
		rc = rc == -ENOSPC ? -ENOSPC : -OBJ_EQUORUM;
	}
out:
	free(up);
	free(load);
	free(rank);
	free(buf);
	return rc;
}

static void cz_count(uint64_t *counter, uint64_t n)
{
	__atomic_add_fetch(counter, n, __ATOMIC_RELAXED);
}

int blk_put_codec(struct blk *b, const void *data, size_t len, struct ec_profile p, uint8_t codec,
		  struct manifest_block *out)
{
	return blk_put_codec_cls(b, data, len, p, codec, 0, out);
}

int blk_put_cls(struct blk *b, const void *data, size_t len, struct ec_profile p, uint8_t cls,
		struct manifest_block *out)
{
	return blk_put_codec_cls(b, data, len, p, BLK_CODEC_NONE, cls, out);
}

int blk_put_codec_cls(struct blk *b, const void *data, size_t len, struct ec_profile p,
		      uint8_t codec, uint8_t cls, struct manifest_block *out)
{
	uint8_t *z = NULL;
	ssize_t zl = 0;
	int rc;

	if (codec >= BLK_CODEC_MAX || len == 0 || len > MSG_BLOCK_MAX) {
		return -EINVAL;
	}
	if (codec != BLK_CODEC_NONE) {
		size_t cap = cz_bound(codec, len);

		if ((z = malloc(cap)) == NULL) {
			return -ENOMEM;
		}
		zl = cz_compress(codec, data, len, z, cap);
		if (zl < 0) {
			free(z);
			return (int)zl;
		}
	}
	rc = zl > 0 ? put_stored(b, z, (size_t)zl, p, cls, out)
		    : put_stored(b, data, len, p, cls, out);
	free(z);
	if (rc != 0) {
		return rc;
	}
	/* The checksum covers what the user wrote, whatever is stored. */
	out->len = (uint32_t)len;
	out->csum = csum64(data, len);
	out->codec = zl > 0 ? codec : BLK_CODEC_NONE;
	out->zlen = zl > 0 ? (uint32_t)zl : 0;
	out->cls = cls;
	if (zl > 0) {
		cz_count(&b->cz.compressed, 1);
		cz_count(&b->cz.bytes_in, len);
		cz_count(&b->cz.bytes_out, (uint64_t)zl);
	} else if (codec != BLK_CODEC_NONE) {
		cz_count(&b->cz.raw, 1);
	}
	return 0;
}

int blk_put(struct blk *b, const void *data, size_t len, struct ec_profile p,
	    struct manifest_block *out)
{
	return blk_put_codec(b, data, len, p, BLK_CODEC_NONE, out);
}

/* Decodes and checks a FRAG_GET reply; returns the fragment bytes or NULL. */
static const uint8_t *check_frag(const struct cl_req *r, const struct manifest_block *mb,
				 size_t idx, size_t flen)
{
	struct frag_hdr h;
	struct rd rd;
	const uint8_t *data;

	rd_init(&rd, r->reply, r->reply_len);
	msg_get_frag_hdr(&rd, &h);
	data = rd_ptr(&rd, flen);
	if (!rd_done(&rd) || memcmp(h.ref.block_id, mb->id, BLOCK_ID_LEN) != 0 ||
	    h.ref.index != idx || h.k != mb->k || h.m != mb->m ||
	    h.block_len != mb_stored_len(mb) || h.frag_len != flen ||
	    csum64(data, flen) != h.csum) {
		return NULL;
	}
	return data;
}

static int all_data_present(const uint8_t *const *got, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		if (got[i] == NULL) {
			return 0;
		}
	}
	return 1;
}

static void rr_schedule(struct blk *b, const struct manifest_block *mb);

/* Reads the stored bytes of mb (mb_stored_len of them: the data, or its
 * compressed form) into out, unchecked: check_block follows.  *damaged
 * set when a home node that is up lacked its fragment or served a damaged
 * one (a rewrite would restore the redundancy). */
static int get_block(struct blk *b, const struct manifest_block *mb, void *out, int *damaged)
{
	struct ec_profile p = {mb->k, mb->m};
	size_t slen = mb_stored_len(mb);
	size_t nfrag = (size_t)p.k + p.m, flen = ec_frag_len(p, slen), have = 0, nr;
	const uint8_t *got[EC_MAX_FRAGS] = {0};
	uint8_t tried[EC_MAX_FRAGS] = {0};
	/* Replies kept alive until the bytes are copied out. */
	struct cl_req *held = NULL;
	size_t nheld = 0, cap_held = 0;
	size_t *rank = calloc(b->n, sizeof(*rank));
	int rc = 0;

	if (rank == NULL) {
		return -ENOMEM;
	}
	if (nfrag > EC_MAX_FRAGS || mb->k == 0 || mb_check_codec(mb) != 0 || slen == 0 ||
	    slen > MSG_BLOCK_MAX) {
		free(rank);
		return -EINVAL;
	}
	nr = rank_nodes(b, mb->id, mb->cls, rank);

	/* Phase 1: home nodes, data fragments first, never a down node;
	 * phase 2: ask every up node for each fragment still missing
	 * (hand-offs).  Each round asks only for as many as still needed. */
	for (int phase = 1; phase <= 2 && have < p.k; phase++) {
		for (;;) {
			struct cl_req reqs[EC_MAX_FRAGS * 4];
			uint8_t body[EC_MAX_FRAGS * 4][BLOCK_ID_LEN + 1];
			size_t idx[EC_MAX_FRAGS * 4], n = 0, want = p.k - have;

			if (phase == 1) {
				for (size_t i = 0; i < nfrag && n < want; i++) {
					if (got[i] != NULL || tried[i] || i >= nr ||
					    !cl_node_up(b->cl, rank[i])) {
						continue;
					}
					tried[i] = 1;
					idx[n] = i;
					memset(&reqs[n], 0, sizeof(reqs[n]));
					reqs[n++].node = rank[i];
				}
			} else {
				for (size_t i = 0; i < nfrag; i++) {
					for (size_t j = 0;
					     j < nr && got[i] == NULL && n < OBJ_ARRAY_LEN(reqs);
					     j++) {
						if (j == i || !cl_node_up(b->cl, rank[j])) {
							continue;
						}
						idx[n] = i;
						memset(&reqs[n], 0, sizeof(reqs[n]));
						reqs[n++].node = rank[j];
					}
				}
			}
			if (n == 0) {
				break;
			}
			for (size_t j = 0; j < n; j++) {
				memcpy(body[j], mb->id, BLOCK_ID_LEN);
				body[j][BLOCK_ID_LEN] = (uint8_t)idx[j];
				reqs[j].type = MSG_FRAG_GET;
				reqs[j].body = body[j];
				reqs[j].body_len = BLOCK_ID_LEN + 1;
			}
			cl_run(b->cl, reqs, n, 0);
			for (size_t j = 0; j < n; j++) {
				const uint8_t *d = NULL;

				if (reqs[j].status == 0 && got[idx[j]] == NULL) {
					d = check_frag(&reqs[j], mb, idx[j], flen);
					*damaged |= phase == 1 && d == NULL;
				} else if (phase == 1 && (reqs[j].status == -ENOENT ||
							  reqs[j].status == -OBJ_ECHECKSUM)) {
					*damaged = 1;
				} else if (reqs[j].status != 0 && reqs[j].status != -ENOENT) {
					log_debug("blk.get", "fragment %zu from node %u: %s",
						  idx[j], b->cfg->nodes[reqs[j].node].id,
						  obj_strerror(reqs[j].status));
				}
				if (d == NULL) {
					cl_req_release(&reqs[j]);
					continue;
				}
				if (nheld == cap_held) {
					struct cl_req *nh;

					cap_held = cap_held ? cap_held * 2 : 16;
					nh = realloc(held, cap_held * sizeof(*held));
					if (nh == NULL) {
						cl_req_release(&reqs[j]);
						rc = -ENOMEM;
						goto out;
					}
					held = nh;
				}
				held[nheld++] = reqs[j];
				got[idx[j]] = d;
				have++;
			}
			if (phase == 2 || have >= p.k) {
				break;
			}
		}
	}
	if (have < p.k) {
		rc = -EIO;
		goto out;
	}
	if (all_data_present(got, p.k)) {
		/* Fast path: every data fragment arrived; no decode. */
		for (size_t i = 0; i < p.k; i++) {
			size_t off = i * flen, n = off >= slen ? 0 : slen - off;

			memcpy((uint8_t *)out + off, got[i], n < flen ? n : flen);
		}
	} else {
		uint8_t *buf = malloc(nfrag * flen), *frags[EC_MAX_FRAGS], present[EC_MAX_FRAGS];
		struct ec_codec *codec = codec_for(b, p);

		if (buf == NULL || codec == NULL) {
			free(buf);
			rc = buf == NULL ? -ENOMEM : -EINVAL;
			goto out;
		}
		for (size_t i = 0; i < nfrag; i++) {
			frags[i] = buf + i * flen;
			present[i] = got[i] != NULL;
			if (present[i]) {
				memcpy(frags[i], got[i], flen);
			}
		}
		rc = ec_decode(codec, flen, frags, present);
		if (rc == 0) {
			ec_join(p, slen, frags, out);
		}
		free(buf);
		if (rc != 0) {
			goto out;
		}
	}
out:
	for (size_t i = 0; i < nheld; i++) {
		cl_req_release(&held[i]);
	}
	free(held);
	free(rank);
	return rc;
}

/* Turns the stored bytes of mb into its data in out (mb->len bytes; out
 * may be stored itself for a raw block) and checks the block checksum:
 * 0, -EIO for a compressed form that does not decode to mb->len bytes,
 * -OBJ_ECHECKSUM for data that is not what was written. */
static int check_block(struct blk *b, const struct manifest_block *mb, const uint8_t *stored,
		       uint8_t *out)
{
	if (mb->codec != BLK_CODEC_NONE) {
		int rc = cz_decompress(mb->codec, stored, mb->zlen, out, mb->len);

		if (rc != 0) {
			log_error("blk.decompress",
				  "block does not decompress (%s %u -> %u bytes): %s",
				  cz_name(mb->codec), mb->zlen, mb->len, obj_strerror(rc));
			return -EIO;
		}
		cz_count(&b->cz.decompressed, 1);
	}
	if (csum64(out, mb->len) != mb->csum) {
		log_error("blk.checksum", "block failed its checksum after read");
		return -OBJ_ECHECKSUM;
	}
	return 0;
}

/* A block's stored bytes: out itself when raw, else a new buffer. */
static int get_checked(struct blk *b, const struct manifest_block *mb, uint8_t *out, int *damaged)
{
	uint8_t *stored = out;
	int rc;

	if (mb->codec != BLK_CODEC_NONE && mb_check_codec(mb) == 0 &&
	    (stored = malloc(mb->zlen)) == NULL) {
		return -ENOMEM;
	}
	rc = get_block(b, mb, stored, damaged);
	if (rc == 0) {
		rc = check_block(b, mb, stored, out);
	}
	if (stored != out) {
		free(stored);
	}
	return rc;
}

int blk_get(struct blk *b, const struct manifest_block *mb, void *out)
{
	int damaged = 0;
	int rc = get_checked(b, mb, out, &damaged);

	/* A block that could not be read cannot be rebuilt either. */
	if (damaged && rc == 0) {
		rr_schedule(b, mb);
	}
	return rc;
}

int blk_delete(struct blk *b, const struct manifest_block *mb)
{
	struct cl_req *reqs = calloc(b->n, sizeof(*reqs));
	uint8_t body[BLOCK_ID_LEN + 1];
	size_t n = 0;
	int ok;

	if (reqs == NULL) {
		return -ENOMEM;
	}
	memcpy(body, mb->id, BLOCK_ID_LEN);
	body[BLOCK_ID_LEN] = FRAG_ALL;
	/* Hand-offs may have put fragments anywhere: ask every up node. */
	for (size_t i = 0; i < b->n; i++) {
		if (!cl_node_up(b->cl, i)) {
			continue;
		}
		reqs[n].node = i;
		reqs[n].type = MSG_FRAG_DEL;
		reqs[n].body = body;
		reqs[n].body_len = sizeof(body);
		n++;
	}
	ok = cl_run(b->cl, reqs, n, 0);
	for (size_t i = 0; i < n; i++) {
		cl_req_release(&reqs[i]);
	}
	free(reqs);
	return ok > 0 ? 0 : -EIO;
}

/* FRAG_STAT of fragment idx on node: what a node that does not know
 * FRAG_CHECK can say (header and size only). */
static uint8_t stat_home(struct blk *b, const struct manifest_block *mb, size_t idx, size_t node)
{
	uint8_t body[BLOCK_ID_LEN + 1];
	struct cl_req r = {
	    .node = node, .type = MSG_FRAG_STAT, .body = body, .body_len = sizeof(body)};
	uint8_t res;

	memcpy(body, mb->id, BLOCK_ID_LEN);
	body[BLOCK_ID_LEN] = (uint8_t)idx;
	cl_run(b->cl, &r, 1, 0);
	res = r.status == 0		   ? FRAG_RES_OK
	      : r.status == -ENOENT	   ? FRAG_RES_MISSING
	      : r.status == -OBJ_ECHECKSUM ? FRAG_RES_BAD
					   : FRAG_RES_ERROR;
	cl_req_release(&r);
	return res;
}

/* Asks each up node of nodes[0..nn) whether it holds an intact copy of
 * the fragments idx[0..ni) of mb (FRAG_CHECK verify: read in full);
 * holder[x] becomes the node of the first intact copy of idx[x], or stays
 * -1. */
static void find_copies(struct blk *b, const struct manifest_block *mb, const size_t *nodes,
			size_t nn, const size_t *idx, size_t ni, long *holder)
{
	struct cl_req *reqs = calloc(nn, sizeof(*reqs));
	struct wr *w = calloc(nn, sizeof(*w));
	struct frag_ref refs[EC_MAX_FRAGS];
	size_t n = 0;

	if (reqs == NULL || w == NULL) {
		free(reqs);
		free(w);
		return; /* nothing found: the caller rebuilds, which is safe */
	}
	for (size_t x = 0; x < ni; x++) {
		memcpy(refs[x].block_id, mb->id, BLOCK_ID_LEN);
		refs[x].index = (uint8_t)idx[x];
	}
	for (size_t j = 0; j < nn; j++) {
		if (!cl_node_up(b->cl, nodes[j])) {
			continue;
		}
		wr_init(&w[n], 0);
		msg_put_frag_check(&w[n], FRAG_CHECK_VERIFY, 0, refs, ni);
		memset(&reqs[n], 0, sizeof(reqs[n]));
		reqs[n].node = nodes[j];
		reqs[n].type = MSG_FRAG_CHECK;
		reqs[n].body = w[n].buf;
		reqs[n].body_len = w[n].len;
		n++;
	}
	cl_run(b->cl, reqs, n, 0);
	for (size_t j = 0; j < n; j++) {
		struct rd rd;

		if (reqs[j].status == 0 && wr_status(&w[j]) == 0) {
			rd_init(&rd, reqs[j].reply, reqs[j].reply_len);
			if (rd_u32(&rd) == ni) {
				for (size_t x = 0; x < ni; x++) {
					uint8_t res = rd_u8(&rd);

					if (res == FRAG_RES_OK && rd_ok(&rd) && holder[x] < 0) {
						holder[x] = (long)reqs[j].node;
					}
				}
			}
		}
		cl_req_release(&reqs[j]);
		wr_free(&w[j]);
	}
	free(w);
	free(reqs);
}

int blk_repair(struct blk *b, const struct manifest_block *mb)
{
	struct blk_rebuild_res res;

	return blk_rebuild(b, mb, NULL, &res);
}

int blk_rebuild(struct blk *b, const struct manifest_block *mb, const uint8_t *role,
		struct blk_rebuild_res *res)
{
	struct ec_profile p = {mb->k, mb->m};
	size_t slen = mb_stored_len(mb);
	size_t nfrag = (size_t)p.k + p.m, flen = ec_frag_len(p, slen), nr, n = 0;
	struct cl_req reqs[EC_MAX_FRAGS];
	uint8_t hdrs[EC_MAX_FRAGS][FRAG_HDR_WIRE];
	size_t missing[EC_MAX_FRAGS], target[EC_MAX_FRAGS], nmiss = 0;
	size_t gone[EC_MAX_FRAGS], ngone = 0, *others = calloc(b->n, sizeof(*others)), nothers = 0;
	long away[EC_MAX_FRAGS];
	size_t *rank = calloc(b->n, sizeof(*rank)), *load = calloc(b->n, sizeof(*load));
	uint8_t *usable = calloc(b->n, 1);
	struct ec_codec *codec = codec_for(b, p);
	uint8_t *block = NULL, *buf = NULL, *frags[EC_MAX_FRAGS];
	struct wr w[EC_MAX_FRAGS];
	int rc = 0, damaged = 0;

	memset(res, 0, sizeof(*res));
	if (rank == NULL || load == NULL || usable == NULL || others == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (codec == NULL || nfrag > b->n || mb_check_codec(mb) != 0 || slen == 0 ||
	    slen > MSG_BLOCK_MAX) {
		rc = -EINVAL;
		goto out;
	}
	nr = rank_nodes(b, mb->id, mb->cls, rank);
	for (size_t j = 0; j < b->n; j++) {
		usable[j] = (uint8_t)((role == NULL || role[j] != BLK_NODE_GONE) &&
				      cl_node_up(b->cl, j) != 0);
		if (role == NULL || role[j] != BLK_NODE_GONE) {
			others[nothers++] = j;
		}
	}
	/* Which home nodes lack their fragment or hold a damaged one?  Each
	 * reads its fragment in full (FRAG_CHECK verify): a header and a size
	 * say nothing of flipped bytes in the data, parity included. */
	for (size_t i = 0; i < nfrag && i < nr; i++) {
		struct frag_ref ref = {.index = (uint8_t)i};
		uint8_t r = role == NULL ? BLK_NODE_CHECK : role[rank[i]];

		if (r == BLK_NODE_GONE) {
			gone[ngone++] = i;
			continue;
		}
		if (!cl_node_up(b->cl, rank[i])) {
			continue;
		}
		if (r == BLK_NODE_TRUST) {
			load[rank[i]]++;
			continue;
		}
		memcpy(ref.block_id, mb->id, BLOCK_ID_LEN);
		wr_init(&w[n], 0);
		msg_put_frag_check(&w[n], FRAG_CHECK_VERIFY, 0, &ref, 1);
		memset(&reqs[n], 0, sizeof(reqs[n]));
		reqs[n].node = rank[i];
		reqs[n].type = MSG_FRAG_CHECK;
		reqs[n].body = w[n].buf;
		reqs[n].body_len = w[n].len;
		missing[n] = i;
		n++;
	}
	cl_run(b->cl, reqs, n, 0);
	for (size_t j = 0; j < n; j++) {
		uint8_t r = FRAG_RES_ERROR;
		struct rd rd;

		if (reqs[j].status == 0 && wr_status(&w[j]) == 0) {
			rd_init(&rd, reqs[j].reply, reqs[j].reply_len);
			if (rd_u32(&rd) == 1) {
				r = rd_u8(&rd);
			}
			if (!rd_done(&rd)) {
				r = FRAG_RES_ERROR;
			}
		} else if (reqs[j].status == -OBJ_EPROTO) {
			/* A node older than FRAG_CHECK: its header check at least. */
			r = stat_home(b, mb, missing[j], reqs[j].node);
		}
		if (r == FRAG_RES_MISSING || r == FRAG_RES_BAD) {
			target[nmiss] = reqs[j].node;
			missing[nmiss++] = missing[j];
		} else if (r == FRAG_RES_OK) {
			load[reqs[j].node]++;
		}
		cl_req_release(&reqs[j]);
		wr_free(&w[j]);
	}
	/* Fragments whose home is gone: a copy anywhere else (a hand-off of
	 * the write, or an earlier rebuild) is enough; the others are rebuilt
	 * on the node rp_target picks, one at a time so each choice sees the
	 * load the previous ones added. */
	for (size_t x = 0; x < ngone; x++) {
		away[x] = -1;
	}
	if (ngone > 0) {
		find_copies(b, mb, others, nothers, gone, ngone, away);
	}
	for (size_t x = 0; x < ngone; x++) {
		if (away[x] >= 0) {
			load[away[x]]++;
		}
	}
	for (size_t x = 0; x < ngone; x++) {
		size_t t;

		if (away[x] >= 0) {
			continue;
		}
		t = rp_target(rank, nr, nfrag, gone[x], b->pn, usable, load);
		if (t == SIZE_MAX) {
			res->unplaced++;
			continue;
		}
		load[t]++;
		target[nmiss] = t;
		missing[nmiss++] = gone[x];
	}
	if (nmiss == 0) {
		goto out;
	}
	block = malloc(slen);
	buf = malloc(nfrag * flen);
	if (block == NULL || buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = get_block(b, mb, block, &damaged)) != 0) {
		goto out;
	}
	/* Never spread a wrong reconstruction: the stored form is checked
	 * down to the user's bytes before it is encoded again. */
	if (mb->codec == BLK_CODEC_NONE) {
		rc = check_block(b, mb, block, block);
	} else {
		uint8_t *raw = malloc(mb->len);

		rc = raw == NULL ? -ENOMEM : check_block(b, mb, block, raw);
		free(raw);
	}
	if (rc != 0) {
		goto out;
	}
	for (size_t i = 0; i < nfrag; i++) {
		frags[i] = buf + i * flen;
	}
	ec_encode(codec, block, slen, frags);
	for (size_t j = 0; j < nmiss; j++) {
		size_t i = missing[j];
		struct frag_hdr h = {.k = p.k,
				     .m = p.m,
				     .block_len = slen,
				     .frag_len = (uint32_t)flen,
				     .csum = csum64(frags[i], flen)};

		memcpy(h.ref.block_id, mb->id, BLOCK_ID_LEN);
		h.ref.index = (uint8_t)i;
		pack_hdr(hdrs[j], &h);
		memset(&reqs[j], 0, sizeof(reqs[j]));
		reqs[j].node = target[j];
		reqs[j].type = MSG_FRAG_PUT;
		reqs[j].body = hdrs[j];
		reqs[j].body_len = FRAG_HDR_WIRE;
		reqs[j].data = frags[i];
		reqs[j].data_len = flen;
	}
	rc = cl_run(b->cl, reqs, nmiss, 0);
	for (size_t j = 0; j < nmiss; j++) {
		cl_req_release(&reqs[j]);
	}
	res->unplaced += (uint32_t)(nmiss - (size_t)rc);
	if (rc > 0) {
		res->written = (uint32_t)rc;
		res->bytes = (uint64_t)rc * flen;
		pthread_mutex_lock(&b->mu);
		b->rr.frags_rewritten += (uint64_t)rc;
		b->rr.bytes_rewritten += (uint64_t)rc * flen;
		pthread_mutex_unlock(&b->mu);
	}
out:
	free(buf);
	free(block);
	free(others);
	free(usable);
	free(load);
	free(rank);
	return rc;
}

/* ---- read repair ---- */

/* Pool thread: rewrites the block's damaged fragments, then lets the
 * block be scheduled again. */
static void rr_run(struct workq_item *it)
{
	struct rr_item *ri = (struct rr_item *)it;
	struct blk *b = ri->b;
	char hex[2 * BLOCK_ID_LEN + 1];
	int rc = blk_repair(b, &ri->mb);

	msg_block_hex(ri->mb.id, hex);
	if (rc < 0) {
		log_warn("blk.read_repair", "block %s: %s", hex, obj_strerror(rc));
	} else {
		log_info("blk.read_repair", "block %s: %d fragments rewritten", hex, rc);
	}
	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < b->rr_n; i++) {
		if (memcmp(b->rr_ids[i], ri->mb.id, BLOCK_ID_LEN) == 0) {
			memcpy(b->rr_ids[i], b->rr_ids[--b->rr_n], BLOCK_ID_LEN);
			break;
		}
	}
	if (rc >= 0) {
		b->rr.done++;
	} else {
		b->rr.failed++;
	}
	pthread_mutex_unlock(&b->mu);
	free(ri);
}

/* Queues a rewrite of mb's damaged fragments without ever waiting: a
 * full queue, a block already queued or a failed allocation drop it
 * (counted), so the read that noticed the damage is not slowed. */
static void rr_schedule(struct blk *b, const struct manifest_block *mb)
{
	struct rr_item *ri = NULL;
	int rc = 0;

	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; i < b->rr_n; i++) {
		if (memcmp(b->rr_ids[i], mb->id, BLOCK_ID_LEN) == 0) {
			pthread_mutex_unlock(&b->mu);
			return; /* already on its way */
		}
	}
	if (b->rr_n >= RR_QUEUE_MAX) {
		rc = -EAGAIN;
	} else if (b->rr_q == NULL) {
		rc = workq_start("readrepair", 1, RR_QUEUE_MAX, &b->rr_q);
	}
	if (rc == 0 && (ri = calloc(1, sizeof(*ri))) == NULL) {
		rc = -ENOMEM;
	}
	if (rc == 0) {
		ri->it.fn = rr_run;
		ri->b = b;
		ri->mb = *mb;
		rc = workq_push(b->rr_q, &ri->it);
	}
	if (rc == 0) {
		memcpy(b->rr_ids[b->rr_n++], mb->id, BLOCK_ID_LEN);
		b->rr.scheduled++;
	} else {
		b->rr.dropped++;
		free(ri);
	}
	pthread_mutex_unlock(&b->mu);
}

void blk_cz_stats(struct blk *b, struct blk_cz_stats *out)
{
	out->compressed = __atomic_load_n(&b->cz.compressed, __ATOMIC_RELAXED);
	out->raw = __atomic_load_n(&b->cz.raw, __ATOMIC_RELAXED);
	out->bytes_in = __atomic_load_n(&b->cz.bytes_in, __ATOMIC_RELAXED);
	out->bytes_out = __atomic_load_n(&b->cz.bytes_out, __ATOMIC_RELAXED);
	out->decompressed = __atomic_load_n(&b->cz.decompressed, __ATOMIC_RELAXED);
}

void blk_rr_stats(struct blk *b, struct blk_rr_stats *out)
{
	pthread_mutex_lock(&b->mu);
	*out = b->rr;
	pthread_mutex_unlock(&b->mu);
}

size_t blk_rank(struct blk *b, const uint8_t id[BLOCK_ID_LEN], uint8_t cls, size_t *rank)
{
	return rank_nodes(b, id, cls, rank);
}
