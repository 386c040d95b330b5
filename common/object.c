/* object.c: objects over the object index and blocks (see object.h).
 * The index record is replicated, not consensus-ordered: the newest
 * version wins on every replica (versions are ms timestamps with random
 * low bits), writes need a majority of the record's replicas and reads
 * take the newest answer.  A record's blocks are written before the
 * record, so a record never points at data that is not durable; blocks of
 * a failed or replaced write are removed after the fact. */
#include "object.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../proto/frame.h"
#include "../proto/manifest.h"
#include "checksum.h"
#include "err.h"
#include "log.h"
#include "place.h"

#define LIST_PAGE 1000

struct objc {
	const struct cfg *cfg;
	struct cl *cl;
	struct blk *blk;
	struct place_node *pn;
};

int objc_open(const struct cfg *cfg, struct objc **out)
{
	struct objc *oc = calloc(1, sizeof(*oc));
	int rc;

	if (oc == NULL) {
		return -ENOMEM;
	}
	oc->cfg = cfg;
	oc->pn = calloc(cfg->n_nodes, sizeof(*oc->pn));
	if (oc->pn == NULL) {
		free(oc);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		oc->pn[i].id = cfg->nodes[i].id;
		oc->pn[i].zone = cfg->nodes[i].zone_idx;
		oc->pn[i].up = 1;
	}
	if ((rc = cl_open(cfg, &oc->cl)) != 0 || (rc = blk_open(oc->cl, &oc->blk)) != 0) {
		objc_close(oc);
		return rc;
	}
	*out = oc;
	return 0;
}

void objc_close(struct objc *oc)
{
	if (oc == NULL) {
		return;
	}
	blk_close(oc->blk);
	cl_close(oc->cl);
	free(oc->pn);
	free(oc);
}

struct cl *objc_cl(struct objc *oc)
{
	return oc->cl;
}

static int check_names(const char *bucket, const char *key)
{
	if (msg_check_bucket(bucket) != 0) {
		return -EINVAL;
	}
	return msg_check_key(key);
}

/* Replica nodes of an object's index record; returns the count. */
static size_t replicas(struct objc *oc, const char *bucket, const char *key, size_t *out)
{
	size_t bl = strlen(bucket), kl = strlen(key), want = oc->cfg->meta_replicas;
	uint8_t id[16];
	char *buf = malloc(bl + 1 + kl);

	if (buf == NULL) {
		return 0;
	}
	memcpy(buf, bucket, bl);
	buf[bl] = '\0';
	memcpy(buf + bl + 1, key, kl);
	csum128(buf, bl + 1 + kl, id);
	free(buf);
	if (want > oc->cfg->n_nodes) {
		want = oc->cfg->n_nodes;
	}
	return place_rank(id, oc->pn, oc->cfg->n_nodes, out, want);
}

static void pack_key(struct wr *w, const char *bucket, const char *key)
{
	wr_str(w, bucket);
	wr_str(w, key);
}

/* Reads the newest record.  On success *man is a malloc'd manifest copy. */
static int idx_get(struct objc *oc, const char *bucket, const char *key, struct obj_rec *rec,
		   uint8_t **man)
{
	size_t rep[16], n = replicas(oc, bucket, key, rep), answered = 0;
	struct cl_req reqs[16];
	struct wr w;
	int best = -1, rc;

	wr_init(&w, 0);
	pack_key(&w, bucket, key);
	if ((rc = wr_status(&w)) != 0) {
		wr_free(&w);
		return rc;
	}
	memset(reqs, 0, sizeof(reqs));
	for (size_t i = 0; i < n; i++) {
		reqs[i].node = rep[i];
		reqs[i].type = MSG_OBJ_GET;
		reqs[i].body = w.buf;
		reqs[i].body_len = w.len;
	}
	cl_run(oc->cl, reqs, n, 0);
	*man = NULL;
	for (size_t i = 0; i < n; i++) {
		struct obj_rec r;
		struct rd rd;

		if (reqs[i].status == -ENOENT) {
			answered++;
			continue;
		}
		if (reqs[i].status != 0) {
			continue;
		}
		rd_init(&rd, reqs[i].reply, reqs[i].reply_len);
		msg_get_obj_rec(&rd, &r);
		if (!rd_done(&rd)) {
			continue;
		}
		answered++;
		if (best < 0 || r.version > rec->version) {
			uint8_t *copy = malloc(r.manifest_len ? r.manifest_len : 1);

			if (copy == NULL) {
				continue;
			}
			memcpy(copy, r.manifest, r.manifest_len);
			free(*man);
			*man = copy;
			*rec = r;
			rec->manifest = copy;
			best = (int)i;
		}
	}
	for (size_t i = 0; i < n; i++) {
		cl_req_release(&reqs[i]);
	}
	wr_free(&w);
	if (best >= 0) {
		return 0;
	}
	return answered > 0 ? -ENOENT : -EIO;
}

static int idx_put(struct objc *oc, const char *bucket, const char *key, const struct obj_rec *rec)
{
	size_t rep[16], n = replicas(oc, bucket, key, rep);
	struct cl_req reqs[16];
	struct wr w;
	int ok, rc;

	wr_init(&w, 0);
	pack_key(&w, bucket, key);
	msg_put_obj_rec(&w, rec);
	if ((rc = wr_status(&w)) != 0) {
		wr_free(&w);
		return rc;
	}
	memset(reqs, 0, sizeof(reqs));
	for (size_t i = 0; i < n; i++) {
		reqs[i].node = rep[i];
		reqs[i].type = MSG_OBJ_PUT;
		reqs[i].body = w.buf;
		reqs[i].body_len = w.len;
	}
	ok = cl_run(oc->cl, reqs, n, 0);
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (reqs[i].status == -ENOSPC) {
			rc = -ENOSPC;
		}
		cl_req_release(&reqs[i]);
	}
	wr_free(&w);
	if ((size_t)ok >= n / 2 + 1) {
		return 0;
	}
	return rc != 0 ? rc : -OBJ_EQUORUM;
}

static uint64_t new_version(void)
{
	uint16_t r = 0;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
		r = (uint16_t)getpid();
	}
	return (frame_now_ms() << 16) | r;
}

static void delete_blocks(struct objc *oc, const struct manifest *m)
{
	for (size_t i = 0; i < m->n_blocks; i++) {
		blk_delete(oc->blk, &m->blocks[i]);
	}
}

/* Removes the blocks of a record that is no longer referenced. */
static void drop_old(struct objc *oc, const uint8_t *man, size_t len)
{
	struct manifest m;

	if (man != NULL && manifest_decode(man, len, &m) == 0) {
		delete_blocks(oc, &m);
		manifest_free(&m);
	}
}

/* Commits manifest m as the new version of bucket/key. */
static int commit(struct objc *oc, const char *bucket, const char *key, const struct manifest *m)
{
	struct obj_rec rec = {0}, old = {0};
	uint8_t *oldman = NULL;
	struct wr w;
	int rc, have_old;

	have_old = idx_get(oc, bucket, key, &old, &oldman) == 0 && !old.deleted;
	wr_init(&w, 0);
	manifest_encode(&w, m);
	if ((rc = wr_status(&w)) == 0) {
		rec.version = new_version();
		rec.size = m->size;
		rec.manifest = w.buf;
		rec.manifest_len = w.len;
		rc = idx_put(oc, bucket, key, &rec);
	}
	wr_free(&w);
	if (rc == 0 && have_old) {
		drop_old(oc, oldman, old.manifest_len);
	}
	free(oldman);
	return rc;
}

/* Reads until len bytes or EOF; returns bytes read or a negative errno. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);

		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			return -errno;
		}
		if (r == 0) {
			break;
		}
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Shared body of the two put entry points: next() yields successive
 * chunks of at most block_size bytes. */
struct src {
	int fd;
	const uint8_t *buf;
	size_t len, off;
};

static ssize_t src_next(struct src *s, uint8_t *chunk, size_t max)
{
	if (s->fd >= 0) {
		return read_full(s->fd, chunk, max);
	}
	size_t n = s->len - s->off < max ? s->len - s->off : max;

	memcpy(chunk, s->buf + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static int put_src(struct objc *oc, const char *bucket, const char *key, struct src *s,
		   uint64_t size_hint, uint64_t *size_out)
{
	size_t bs = oc->cfg->block_size;
	uint8_t *chunk = malloc(bs);
	struct manifest m = {0};
	size_t cap = 0;
	struct ec_profile p = blk_profile_for(oc->blk, size_hint);
	int rc = 0;

	if (chunk == NULL) {
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = src_next(s, chunk, bs);

		if (n < 0) {
			rc = (int)n;
			break;
		}
		if (n == 0) {
			break;
		}
		if (m.size == 0 && (size_t)n <= oc->cfg->inline_max && (size_t)n < bs) {
			/* Tiny object: kept inside its index record, no blocks. */
			m.is_inline = 1;
			m.inline_data = chunk;
			m.size = (uint64_t)n;
			break;
		}
		if (m.n_blocks == cap) {
			struct manifest_block *nb;

			cap = cap ? cap * 2 : 16;
			nb = realloc(m.blocks, cap * sizeof(*nb));
			if (nb == NULL) {
				rc = -ENOMEM;
				break;
			}
			m.blocks = nb;
		}
		rc = blk_put(oc->blk, chunk, (size_t)n, p, &m.blocks[m.n_blocks]);
		if (rc != 0) {
			break;
		}
		m.n_blocks++;
		m.size += (uint64_t)n;
		if ((size_t)n < bs) {
			break;
		}
	}
	if (rc == 0) {
		rc = commit(oc, bucket, key, &m);
	}
	if (rc != 0) {
		delete_blocks(oc, &m);
	} else if (size_out != NULL) {
		*size_out = m.size;
	}
	free(m.blocks);
	free(chunk);
	return rc;
}

int obj_put_fd(struct objc *oc, const char *bucket, const char *key, int fd, uint64_t *size)
{
	struct src s = {.fd = fd};
	struct stat st;
	int rc = check_names(bucket, key);

	if (rc != 0) {
		return rc;
	}
	return put_src(oc, bucket, key, &s,
		       fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0, size);
}

int obj_put_buf(struct objc *oc, const char *bucket, const char *key, const void *buf, size_t len)
{
	struct src s = {.fd = -1, .buf = buf, .len = len};
	int rc = check_names(bucket, key);

	if (rc != 0) {
		return rc;
	}
	return put_src(oc, bucket, key, &s, len, NULL);
}

static int write_full(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0) {
			return -errno;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Streams the object to fd (fd >= 0) or into *bufp. */
static int get_into(struct objc *oc, const char *bucket, const char *key, int fd, uint8_t **bufp,
		    uint64_t *size)
{
	struct obj_rec rec;
	uint8_t *man = NULL, *block = NULL, *whole = NULL;
	struct manifest m;
	uint64_t off = 0;
	int rc = check_names(bucket, key);

	if (rc != 0) {
		return rc;
	}
	if ((rc = idx_get(oc, bucket, key, &rec, &man)) != 0) {
		return rc;
	}
	if (rec.deleted) {
		free(man);
		return -ENOENT;
	}
	if ((rc = manifest_decode(man, rec.manifest_len, &m)) != 0) {
		free(man);
		return rc;
	}
	if (fd < 0) {
		whole = malloc(m.size ? m.size : 1);
		if (whole == NULL) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (m.is_inline) {
		rc = fd >= 0 ? write_full(fd, m.inline_data, m.size) : 0;
		if (fd < 0) {
			memcpy(whole, m.inline_data, m.size);
		}
		goto out;
	}
	for (size_t i = 0; i < m.n_blocks && rc == 0; i++) {
		uint8_t *dst = whole != NULL ? whole + off : NULL;

		if (dst == NULL) {
			if (block == NULL && (block = malloc(oc->cfg->block_size > m.blocks[i].len
								? oc->cfg->block_size
								: m.blocks[i].len)) == NULL) {
				rc = -ENOMEM;
				break;
			}
			dst = block;
		}
		rc = blk_get(oc->blk, &m.blocks[i], dst);
		if (rc == 0 && fd >= 0) {
			rc = write_full(fd, dst, m.blocks[i].len);
		}
		off += m.blocks[i].len;
	}
out:
	if (rc == 0) {
		if (size != NULL) {
			*size = m.size;
		}
		if (bufp != NULL) {
			*bufp = whole;
			whole = NULL;
		}
	}
	free(whole);
	free(block);
	manifest_free(&m);
	free(man);
	return rc;
}

int obj_get_fd(struct objc *oc, const char *bucket, const char *key, int fd, uint64_t *size)
{
	return get_into(oc, bucket, key, fd, NULL, size);
}

int obj_get_buf(struct objc *oc, const char *bucket, const char *key, uint8_t **buf, size_t *len)
{
	uint64_t size = 0;
	int rc = get_into(oc, bucket, key, -1, buf, &size);

	*len = (size_t)size;
	return rc;
}

int obj_rm(struct objc *oc, const char *bucket, const char *key)
{
	struct obj_rec old = {0}, tomb = {0};
	uint8_t *man = NULL;
	int rc = check_names(bucket, key);

	if (rc != 0) {
		return rc;
	}
	if ((rc = idx_get(oc, bucket, key, &old, &man)) != 0) {
		return rc;
	}
	if (old.deleted) {
		free(man);
		return -ENOENT;
	}
	tomb.version = new_version();
	tomb.deleted = 1;
	rc = idx_put(oc, bucket, key, &tomb);
	if (rc == 0) {
		drop_old(oc, man, old.manifest_len);
	}
	free(man);
	return rc;
}

/* One node's page of a listing. */
struct page {
	struct obj_entry *e;
	size_t n, pos;
	int more, ok;
};

static int entry_cmp(const char *a, const char *b)
{
	return strcmp(a, b); /* keys are NUL-free: bytewise order */
}

int obj_list(struct objc *oc, const char *bucket, const char *prefix, obj_list_fn fn, void *arg)
{
	size_t nn = oc->cfg->n_nodes;
	struct page *pg = calloc(nn, sizeof(*pg));
	struct cl_req *reqs = calloc(nn, sizeof(*reqs));
	struct obj_list_req *q = calloc(1, sizeof(*q));
	struct obj_entry *best = calloc(1, sizeof(*best));
	char *after = calloc(1, WIRE_STR_MAX + 1);
	int rc = 0;

	if (pg == NULL || reqs == NULL || q == NULL || best == NULL || after == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (msg_check_bucket(bucket) != 0 || strlen(prefix) > WIRE_STR_MAX) {
		rc = -EINVAL;
		goto out;
	}
	/* Records are spread over all nodes by key: merge every node's
	 * sorted pages.  A key is final once it sorts at or below the last
	 * key of every node that still has more to send. */
	for (;;) {
		struct wr w;
		size_t answered = 0;
		const char *bound = NULL;

		wr_init(&w, 0);
		snprintf(q->bucket, sizeof(q->bucket), "%s", bucket);
		snprintf(q->prefix, sizeof(q->prefix), "%s", prefix);
		snprintf(q->after, sizeof(q->after), "%s", after);
		q->max = LIST_PAGE;
		msg_put_obj_list_req(&w, q);
		if ((rc = wr_status(&w)) != 0) {
			wr_free(&w);
			goto out;
		}
		for (size_t i = 0; i < nn; i++) {
			memset(&reqs[i], 0, sizeof(reqs[i]));
			reqs[i].node = i;
			reqs[i].type = MSG_OBJ_LIST;
			reqs[i].body = w.buf;
			reqs[i].body_len = w.len;
		}
		cl_run(oc->cl, reqs, nn, 0);
		wr_free(&w);
		for (size_t i = 0; i < nn; i++) {
			struct rd rd;
			uint32_t cnt;

			free(pg[i].e);
			memset(&pg[i], 0, sizeof(pg[i]));
			if (reqs[i].status != 0) {
				cl_req_release(&reqs[i]);
				continue;
			}
			rd_init(&rd, reqs[i].reply, reqs[i].reply_len);
			cnt = rd_u32(&rd);
			if (cnt > LIST_PAGE || (pg[i].e = calloc(cnt ? cnt : 1, sizeof(*pg[i].e))) == NULL) {
				cl_req_release(&reqs[i]);
				continue;
			}
			for (uint32_t j = 0; j < cnt; j++) {
				msg_get_obj_entry(&rd, &pg[i].e[j]);
			}
			pg[i].more = rd_u8(&rd);
			cl_req_release(&reqs[i]);
			if (!rd_done(&rd)) {
				continue;
			}
			pg[i].n = cnt;
			pg[i].ok = 1;
			answered++;
			if (pg[i].more && cnt > 0 &&
			    (bound == NULL || entry_cmp(pg[i].e[cnt - 1].key, bound) < 0)) {
				bound = pg[i].e[cnt - 1].key;
			}
		}
		if (answered == 0) {
			rc = -EIO;
			goto out;
		}
		/* Emit merged keys up to bound, newest version of each. */
		for (;;) {
			const char *min = NULL;

			for (size_t i = 0; i < nn; i++) {
				if (pg[i].ok && pg[i].pos < pg[i].n &&
				    (min == NULL || entry_cmp(pg[i].e[pg[i].pos].key, min) < 0)) {
					min = pg[i].e[pg[i].pos].key;
				}
			}
			if (min == NULL || (bound != NULL && entry_cmp(min, bound) > 0)) {
				break;
			}
			memset(best, 0, sizeof(*best));
			snprintf(best->key, sizeof(best->key), "%s", min);
			for (size_t i = 0; i < nn; i++) {
				struct obj_entry *e;

				if (!pg[i].ok || pg[i].pos >= pg[i].n) {
					continue;
				}
				e = &pg[i].e[pg[i].pos];
				if (entry_cmp(e->key, best->key) != 0) {
					continue;
				}
				if (e->version >= best->version) {
					*best = *e;
				}
				pg[i].pos++;
			}
			if (!best->deleted && (rc = fn(arg, best)) != 0) {
				goto out;
			}
		}
		if (bound == NULL) {
			break;
		}
		snprintf(after, WIRE_STR_MAX + 1, "%s", bound);
	}
out:
	if (pg != NULL) {
		for (size_t i = 0; i < nn; i++) {
			free(pg[i].e);
		}
	}
	free(pg);
	free(reqs);
	free(q);
	free(best);
	free(after);
	return rc;
}
