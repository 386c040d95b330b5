/* meta_handlers.c: the META_* requests of objfs-node, as one table of
 * designated initialisers: each entry names its handler, the queue that
 * runs it and what it needs (a shard; the ready leader; whether it
 * changes state).  msvc_handle decodes the bucket every META_* body
 * starts with, finds the shard and checks leadership from the flags, so
 * handlers only decode their own fields (trailing bytes refused), call
 * the store and encode the reply.  Changes never wait: mh_op proposes and
 * replies from the commit callback.  Runs on the server's queue threads. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/log.h"
#include "authz.h"
#include "meta_service_i.h"

/* One request as handlers see it. */
struct mh_req {
	struct msvc *m;
	struct shard *s;    /* NULL unless the entry has MH_SHARD */
	const char *bucket; /* "" = catalog */
	struct rd *r;	    /* the body after the bucket name */
	struct srv_reply *out;
	char *err;
	size_t errlen;
	int with_index; /* FRAME_F_INDEX: the reply ends with an applied index */
	int stale;	/* answered from this replica's own state, no leader */
};

enum {
	MH_SHARD = 1u << 0,   /* needs the bucket's shard open here */
	MH_LEADER = 1u << 1,  /* only the ready leader answers ... */
	MH_MUTATES = 1u << 2, /* ... and a change never from a stale replica */
};

struct mh_entry {
	int (*fn)(struct mh_req *q);
	unsigned flags;
	enum key_need need; /* checked on the request's bucket before fn */
	/* SRV_POOL_INLINE: a point query or a proposal, short and never
	 * waiting; SRV_POOL_META: may walk many rows; SRV_POOL_DISK: anything
	 * that may block. */
	enum srv_pool pool;
};

/* The reply of a proposed record: sent from the commit callback. */
struct op_call {
	struct msvc *m;
	struct srv_call *call;
	struct repl_group *g;
	int with_index;
};

/* Raft loop thread: the record was applied here, or failed. */
static void op_done(void *arg, int status, void *result, long leader)
{
	struct op_call *oc = arg;
	struct srv_reply *out = srv_call_reply(oc->call);

	if (status == 0 && result == NULL) {
		status = -EIO;
	}
	if (status == 0) {
		meta_put_result(&out->w, result);
		if (oc->with_index) {
			/* Applied here, so at or after this record's entry. */
			wr_u64(&out->w, repl_applied(oc->g));
		}
	} else if (status == -EREMOTE) {
		out->hint = msvc_node_id(oc->m, leader);
	}
	free(result);
	srv_done(oc->call, status, NULL);
	free(oc);
}

/* META_OP: stamps the record as leader and proposes it; the reply goes
 * out when it is applied (op_done), so this thread moves on at once and
 * many records of one shard are in flight together (c-raft writes those
 * that arrive during an append in one batch, with one fsync). */
static int mh_op(struct mh_req *q)
{
	struct meta_op *op = calloc(1, sizeof(*op));
	struct op_call *oc = malloc(sizeof(*oc));
	struct wr w;
	int rc;

	if (op == NULL || oc == NULL) {
		free(op);
		free(oc);
		return -ENOMEM;
	}
	meta_get_op(q->r, op);
	if (!rd_done(q->r)) {
		meta_op_free(op);
		free(op);
		free(oc);
		return -OBJ_EPROTO;
	}
	if (op->type == MOP_LOCK || op->type == MOP_LOCK_DROP) {
		/* Lock records may wait for a release: meta_locks.c. */
		free(oc);
		rc = mlk_propose(q->m, q->s, op, q->out->call, q->with_index);
		meta_op_free(op);
		free(op);
		return rc;
	}
	oc->m = q->m;
	oc->call = q->out->call;
	oc->g = q->s->g;
	oc->with_index = q->with_index;
	rc = msvc_prepare(q->s, op, &w);
	meta_op_free(op);
	free(op);
	if (rc == 0) {
		rc = repl_propose_async(q->s->g, w.buf, w.len, op_done, oc);
	}
	wr_free(&w);
	if (rc != 0) {
		free(oc);
		return rc;
	}
	return SRV_DEFER; /* q->out may already be gone: touch nothing */
}

/* META_OPS: the records of one request, proposed one after the other so
 * they leave in one Raft entry; one reply with every result, sent by
 * whichever completion (or the handler itself) drops the last hold. */
struct ops_call {
	struct msvc *m;
	struct srv_call *call;
	struct repl_group *g;
	int with_index;
	uint32_t n;
	atomic_uint holds;  /* one per record proposed, one for the handler */
	atomic_int status;  /* the first record that could not be applied */
	atomic_long leader; /* its leader hint */
	struct ops_slot {
		struct ops_call *oc;
		struct meta_result res;
	} slot[];
};

static void ops_finish(struct ops_call *oc)
{
	struct srv_reply *out = srv_call_reply(oc->call);
	int status = atomic_load(&oc->status);

	if (status == 0) {
		wr_u32(&out->w, oc->n);
		for (uint32_t i = 0; i < oc->n; i++) {
			meta_put_result(&out->w, &oc->slot[i].res);
		}
		if (oc->with_index) {
			wr_u64(&out->w, repl_applied(oc->g));
		}
	} else if (status == -EREMOTE) {
		out->hint = msvc_node_id(oc->m, atomic_load(&oc->leader));
	}
	srv_done(oc->call, status, NULL);
	free(oc);
}

static void ops_release(struct ops_call *oc, unsigned n)
{
	if (n > 0 && atomic_fetch_sub(&oc->holds, n) == n) {
		ops_finish(oc);
	}
}

/* Records the first failure of the call (status < 0).  The call fails
 * whole while records of it may be applied, so the client must repeat it
 * (op ids answer those again): an error it would hand to its caller
 * instead (-ENOMEM) goes out as -EIO, which it retries. */
static void ops_fail(struct ops_call *oc, int status, long leader)
{
	int none = 0;

	if (status != -EREMOTE && status != -ESHUTDOWN) {
		status = -EIO;
	}

	if (atomic_compare_exchange_strong(&oc->status, &none, status)) {
		atomic_store(&oc->leader, leader);
	}
}

/* Raft loop thread: one record of the call was applied, or failed. */
static void ops_done(void *arg, int status, void *result, long leader)
{
	struct ops_slot *sl = arg;

	if (status == 0 && result == NULL) {
		status = -EIO;
	}
	if (status == 0) {
		sl->res = *(struct meta_result *)result;
	} else {
		ops_fail(sl->oc, status, leader);
	}
	free(result);
	ops_release(sl->oc, 1);
}

static void ops_free(struct meta_op *ops, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		meta_op_free(&ops[i]);
	}
	free(ops);
}

static int mh_ops(struct mh_req *q)
{
	uint32_t n = rd_u32(q->r), i;
	struct meta_op *ops;
	struct ops_call *oc;

	if (!rd_ok(q->r) || n == 0 || n > META_OPS_MAX) {
		return -OBJ_EPROTO;
	}
	ops = calloc(n, sizeof(*ops));
	oc = calloc(1, sizeof(*oc) + n * sizeof(oc->slot[0]));
	if (ops == NULL || oc == NULL) {
		free(ops);
		free(oc);
		return -ENOMEM;
	}
	/* Every record is decoded and checked before any is proposed, so a
	 * malformed request changes nothing. */
	for (i = 0; i < n && rd_ok(q->r); i++) {
		meta_get_op(q->r, &ops[i]);
		if (rd_ok(q->r) && !meta_op_batchable(ops[i].type)) {
			snprintf(q->err, q->errlen, "a record of type %u cannot travel in %s",
				 ops[i].type, msg_type_name(MSG_META_OPS));
			q->r->bad = true;
		}
	}
	if (!rd_done(q->r)) {
		ops_free(ops, n);
		free(oc);
		return -OBJ_EPROTO;
	}
	oc->m = q->m;
	oc->call = q->out->call;
	oc->g = q->s->g;
	oc->with_index = q->with_index;
	oc->n = n;
	atomic_init(&oc->holds, n + 1);
	atomic_init(&oc->status, 0);
	atomic_init(&oc->leader, -1);
	for (i = 0; i < n; i++) {
		struct wr w;
		int rc;

		oc->slot[i].oc = oc;
		rc = msvc_prepare(q->s, &ops[i], &w);
		if (rc == 0) {
			rc = repl_propose_async(q->s->g, w.buf, w.len, ops_done, &oc->slot[i]);
		}
		wr_free(&w);
		if (rc != 0) {
			ops_fail(oc, rc, -1);
			break;
		}
	}
	ops_free(ops, n);
	/* The records not proposed, and the handler's own hold. */
	ops_release(oc, n - i + 1);
	return SRV_DEFER; /* q->out may already be gone: touch nothing */
}

static int mh_lookup(struct mh_req *q)
{
	struct shard *s = q->s;
	struct rd *r = q->r;
	struct srv_reply *out = q->out;
	char name[META_NAME_MAX + 1];
	struct meta_attr a;
	uint64_t parent = rd_u64(r);
	int rc;

	rd_str(r, name, sizeof(name));
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_lookup(s->ms, parent, name, &a);
	if (rc == 0) {
		meta_put_attr(&out->w, &a);
	}
	return rc;
}

/* META_LOOKUPS: the lookups of several callers, answered in order, each
 * with its own status.  All are decoded before any is answered. */
static int mh_lookups(struct mh_req *q)
{
	struct rd *r = q->r;
	uint32_t n = rd_u32(r);
	struct lookup_item {
		uint64_t parent;
		char name[META_NAME_MAX + 1];
	} * it;
	struct meta_attr a;

	if (!rd_ok(r) || n == 0 || n > META_LOOKUPS_MAX) {
		return -OBJ_EPROTO;
	}
	it = malloc(n * sizeof(*it));
	if (it == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n && rd_ok(r); i++) {
		it[i].parent = rd_u64(r);
		rd_str(r, it[i].name, sizeof(it[i].name));
		if (rd_ok(r) && meta_check_name(it[i].name) != 0) {
			r->bad = true; /* "." and ".." travel alone */
		}
	}
	if (!rd_done(r)) {
		free(it);
		return -OBJ_EPROTO;
	}
	wr_u32(&q->out->w, n);
	for (uint32_t i = 0; i < n; i++) {
		int rc = ms_lookup(q->s->ms, it[i].parent, it[i].name, &a);

		if (q->stale && (rc == -ENOENT || rc == -ENODATA)) {
			rc = -OBJ_EMAJORITY; /* absent here proves nothing (msvc_handle) */
		}
		wr_u32(&q->out->w, (uint32_t)rc);
		if (rc == 0) {
			meta_put_attr(&q->out->w, &a);
		}
	}
	free(it);
	return 0;
}

static int mh_getattr(struct mh_req *q)
{
	struct shard *s = q->s;
	struct rd *r = q->r;
	struct srv_reply *out = q->out;
	struct meta_attr a;
	uint64_t ino = rd_u64(r);
	int rc;

	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_getattr(s->ms, ino, &a);
	if (rc == 0) {
		meta_put_attr(&out->w, &a);
	}
	return rc;
}

static int mh_resolve(struct mh_req *q)
{
	struct shard *s = q->s;
	struct rd *r = q->r;
	struct srv_reply *out = q->out;
	char *path = malloc(WIRE_STR_MAX + 1);
	struct meta_attr a;
	int rc;

	if (path == NULL) {
		return -ENOMEM;
	}
	rd_str(r, path, WIRE_STR_MAX + 1);
	rc = rd_done(r) ? ms_resolve(s->ms, path, &a) : -OBJ_EPROTO;
	if (rc == 0) {
		meta_put_attr(&out->w, &a);
	}
	free(path);
	return rc;
}

/* A page of at most max entries of dir into the reply: after the name
 * `after`, or, when after is NULL, after the resume cookie (then each
 * entry carries its cookie). */
static int dir_page(struct mh_req *q, uint64_t dir, const char *after, uint64_t cookie,
		    uint32_t max)
{
	struct srv_reply *out = q->out;
	struct ms_dirent *v;
	int more = 0, n;

	if (max > META_READDIR_MAX) {
		max = META_READDIR_MAX;
	}
	v = calloc(max, sizeof(*v));
	if (v == NULL) {
		return -ENOMEM;
	}
	n = after != NULL ? ms_readdir(q->s->ms, dir, after, v, max, &more)
			  : ms_readdir_cookie(q->s->ms, dir, cookie, v, max, &more);
	if (n >= 0) {
		wr_u32(&out->w, (uint32_t)n);
		for (int i = 0; i < n; i++) {
			wr_str(&out->w, v[i].name);
			if (after == NULL) {
				wr_u64(&out->w, v[i].cookie);
			}
			meta_put_attr(&out->w, &v[i].attr);
		}
		wr_u8(&out->w, more ? 1 : 0);
	}
	free(v);
	return n < 0 ? n : 0;
}

static int mh_readdir(struct mh_req *q)
{
	struct rd *r = q->r;
	char after[META_NAME_MAX + 1];
	uint64_t dir = rd_u64(r);
	uint32_t max;

	rd_str(r, after, sizeof(after));
	max = rd_u32(r);
	rd_u8(r); /* plus: attributes are always sent */
	if (!rd_done(r) || max == 0) {
		return -OBJ_EPROTO;
	}
	return dir_page(q, dir, after, 0, max);
}

/* META_READDIR_C: a page of entries after a resume cookie (see
 * meta_store_dir.c for why the position is a hash of the name). */
static int mh_readdir_c(struct mh_req *q)
{
	struct rd *r = q->r;
	uint64_t dir = rd_u64(r), cookie = rd_u64(r);
	uint32_t max = rd_u32(r);

	rd_u8(r); /* plus: attributes are always sent */
	if (!rd_done(r) || max == 0 || cookie > INT64_MAX) {
		return -OBJ_EPROTO;
	}
	return dir_page(q, dir, NULL, cookie, max);
}

static int mh_readlink(struct mh_req *q)
{
	struct shard *s = q->s;
	struct rd *r = q->r;
	struct srv_reply *out = q->out;
	char buf[META_SYMLINK_MAX + 1];
	uint64_t ino = rd_u64(r);
	int rc;

	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_readlink(s->ms, ino, buf, sizeof(buf));
	if (rc >= 0) {
		wr_str(&out->w, buf);
	}
	return rc < 0 ? rc : 0;
}

static int mh_getxattr(struct mh_req *q)
{
	struct shard *s = q->s;
	struct rd *r = q->r;
	struct srv_reply *out = q->out;
	char name[META_XATTR_NAME_MAX + 1];
	uint64_t ino = rd_u64(r);
	uint8_t *val = NULL;
	size_t len = 0;
	int rc;

	rd_str(r, name, sizeof(name));
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_getxattr(s->ms, ino, name, &val, &len);
	if (rc == 0) {
		wr_blob(&out->w, val, len);
	}
	free(val);
	return rc;
}

static int mh_listxattr(struct mh_req *q)
{
	struct shard *s = q->s;
	struct rd *r = q->r;
	struct srv_reply *out = q->out;
	uint64_t ino = rd_u64(r);
	char *names = NULL;
	size_t len = 0;
	uint32_t n = 0;
	int rc;

	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_listxattr(s->ms, ino, &names, &len);
	if (rc == 0) {
		for (size_t i = 0; i < len; i++) {
			n += names[i] == '\0';
		}
		wr_u32(&out->w, n);
		for (size_t off = 0; off < len; off += strlen(names + off) + 1) {
			wr_str(&out->w, names + off);
		}
	}
	free(names);
	return rc;
}

static int mh_extents(struct mh_req *q)
{
	struct shard *s = q->s;
	struct rd *r = q->r;
	struct srv_reply *out = q->out;
	uint64_t ino = rd_u64(r), first = rd_u64(r);
	uint32_t max = rd_u32(r);
	struct meta_extent *v;
	struct meta_attr a;
	uint8_t *inl = NULL;
	size_t inl_len = 0;
	int more = 0, n;

	if (!rd_done(r) || max == 0) {
		return -OBJ_EPROTO;
	}
	if (max > META_EXTENTS_MAX) {
		max = META_EXTENTS_MAX;
	}
	v = calloc(max, sizeof(*v));
	if (v == NULL) {
		return -ENOMEM;
	}
	n = ms_extents(s->ms, ino, first, v, max, &more, &a, &inl, &inl_len);
	if (n >= 0) {
		meta_put_attr(&out->w, &a);
		wr_u32(&out->w, (uint32_t)n);
		for (int i = 0; i < n; i++) {
			meta_put_extent(&out->w, &v[i]);
		}
		wr_u8(&out->w, more ? 1 : 0);
		wr_blob(&out->w, inl, inl_len);
	}
	free(inl);
	free(v);
	return n < 0 ? n : 0;
}

static int mh_statfs(struct mh_req *q)
{
	struct shard *s = q->s;
	struct rd *r = q->r;
	struct srv_reply *out = q->out;
	struct ms_stat st;
	int rc;

	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_statfs(s->ms, &st);
	if (rc == 0) {
		wr_u64(&out->w, st.files);
		wr_u64(&out->w, st.bytes);
		wr_u32(&out->w, st.chunk_size);
		wr_u32(&out->w, st.inline_max);
		wr_u8(&out->w, st.codec);
	}
	return rc;
}

static int mh_block_stats(struct mh_req *q)
{
	struct ms_block_stats st;
	int rc;

	if (!rd_done(q->r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_block_stats(q->s->ms, &st);
	if (rc == 0) {
		wr_u8(&q->out->w, st.codec);
		wr_u64(&q->out->w, st.blocks);
		wr_u64(&q->out->w, st.compressed);
		wr_u64(&q->out->w, st.bytes);
		wr_u64(&q->out->w, st.stored);
	}
	return rc;
}

/* META_QUOTA: the shard's quotas (meta.h).  A list page carries at most
 * MH_QUOTA_PAGE of them (each has a path). */
#define MH_QUOTA_PAGE 64

static int mh_quota(struct mh_req *q)
{
	uint8_t what = rd_u8(q->r);
	uint64_t ino = rd_u64(q->r);
	size_t max = (what & ~QUOTA_CHECK) == QUOTA_LIST ? MH_QUOTA_PAGE : 1;
	struct meta_quota *v;
	int more = 0, n;

	if (!rd_done(q->r)) {
		return -OBJ_EPROTO;
	}
	v = calloc(max, sizeof(*v));
	if (v == NULL) {
		return -ENOMEM;
	}
	n = ms_quota(q->s->ms, what, ino, v, max, &more);
	if (n >= 0) {
		wr_u32(&q->out->w, (uint32_t)n);
		for (int i = 0; i < n; i++) {
			meta_put_quota(&q->out->w, &v[i]);
		}
		wr_u8(&q->out->w, more ? 1 : 0);
	} else if (n == -ENODATA) {
		snprintf(q->err, q->errlen, "no quota");
	}
	free(v);
	return n < 0 ? n : 0;
}

/* META_TRASH: a page of the trash (meta.h). */
#define MH_TRASH_PAGE 64

static int mh_trash(struct mh_req *q)
{
	uint64_t after = rd_u64(q->r);
	struct meta_trash *v;
	int64_t keep = 0;
	int more = 0, n;

	if (!rd_done(q->r)) {
		return -OBJ_EPROTO;
	}
	v = calloc(MH_TRASH_PAGE, sizeof(*v));
	if (v == NULL) {
		return -ENOMEM;
	}
	n = ms_trash(q->s->ms, after, v, MH_TRASH_PAGE, &keep, &more);
	if (n >= 0) {
		wr_u64(&q->out->w, (uint64_t)keep);
		wr_u32(&q->out->w, (uint32_t)n);
		for (int i = 0; i < n; i++) {
			meta_put_trash(&q->out->w, &v[i]);
		}
		wr_u8(&q->out->w, more ? 1 : 0);
	}
	free(v);
	return n < 0 ? n : 0;
}

/* The cluster map of the catalog (META_NODE_MAP), for objfsctl status and
 * gc. */
static int mh_node_map(struct mh_req *q)
{
	struct meta_node_row *v;
	int n;

	if (!rd_done(q->r)) {
		return -OBJ_EPROTO;
	}
	if (q->bucket[0] != '\0') {
		return -EINVAL; /* only the catalog keeps it */
	}
	v = calloc(META_NODE_MAP_MAX, sizeof(*v));
	if (v == NULL) {
		return -ENOMEM;
	}
	n = ms_node_map(q->s->ms, v, META_NODE_MAP_MAX);
	if (n >= 0) {
		wr_u32(&q->out->w, (uint32_t)n);
		for (int i = 0; i < n; i++) {
			wr_u32(&q->out->w, v[i].id);
			wr_u8(&q->out->w, v[i].state);
			wr_u64(&q->out->w, (uint64_t)v[i].since_ns);
		}
	}
	free(v);
	return n < 0 ? n : 0;
}

/* Collects list entries into the reply, counting them. */
struct list_out {
	struct wr body;
	uint32_t n;
};

static int list_cb(void *arg, const char *path, uint64_t size, int64_t mtime_ns)
{
	struct list_out *lo = arg;

	wr_str(&lo->body, path);
	wr_u64(&lo->body, size);
	wr_u64(&lo->body, (uint64_t)mtime_ns);
	lo->n++;
	return 0;
}

static int finish_list(struct list_out *lo, int rc, int more, struct srv_reply *out)
{
	if (rc >= 0 && wr_status(&lo->body) == 0) {
		wr_u32(&out->w, lo->n);
		wr_bytes(&out->w, lo->body.buf, lo->body.len);
		wr_u8(&out->w, more ? 1 : 0);
		rc = 0;
	} else if (rc >= 0) {
		rc = -ENOMEM;
	}
	wr_free(&lo->body);
	return rc;
}

static int list_req(struct mh_req *q, int delim)
{
	struct shard *s = q->s;
	struct rd *r = q->r;
	struct srv_reply *out = q->out;
	char *prefix = malloc(WIRE_STR_MAX + 1), *after = malloc(WIRE_STR_MAX + 1);
	struct list_out lo = {.n = 0};
	uint32_t max;
	int more = 0, rc;

	if (prefix == NULL || after == NULL) {
		free(prefix);
		free(after);
		return -ENOMEM;
	}
	rd_str(r, prefix, WIRE_STR_MAX + 1);
	rd_str(r, after, WIRE_STR_MAX + 1);
	max = rd_u32(r);
	if (!rd_done(r) || max == 0 || max > MSG_LIST_MAX) {
		free(prefix);
		free(after);
		return -OBJ_EPROTO;
	}
	wr_init(&lo.body, 0);
	rc = (delim ? ms_list_delim : ms_list)(s->ms, prefix, after, max, list_cb, &lo, &more);
	free(prefix);
	free(after);
	return finish_list(&lo, rc, more, out);
}

static int mh_list(struct mh_req *q)
{
	return list_req(q, 0);
}

/* META_LIST_D: the same with '/' as delimiter (ms_list_delim). */
static int mh_list_d(struct mh_req *q)
{
	return list_req(q, 1);
}

static int mh_buckets(struct mh_req *q)
{
	struct shard *s = q->s;
	struct rd *r = q->r;
	struct srv_reply *out = q->out;
	struct list_out lo = {.n = 0};
	int rc;

	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	wr_init(&lo.body, 0);
	rc = ms_buckets(s->ms, list_cb, &lo);
	return finish_list(&lo, rc, 0, out);
}

/* META_BLOCKS: a page of the shard's blocks in id order (the mark of
 * objfsctl gc).  Leader only and never stale: a replica that is behind
 * would leave out blocks committed since, and their fragments would look
 * like strays. */
static int mh_blocks(struct mh_req *q)
{
	struct rd *r = q->r;
	uint8_t first = rd_u8(r), after[BLOCK_ID_LEN];
	struct meta_block_row *v;
	uint32_t max;
	int more = 0, n;

	rd_bytes(r, after, BLOCK_ID_LEN);
	max = rd_u32(r);
	if (!rd_done(r) || first > 1 || max == 0) {
		return -OBJ_EPROTO;
	}
	if (max > META_BLOCKS_MAX) {
		max = META_BLOCKS_MAX;
	}
	v = calloc(max, sizeof(*v));
	if (v == NULL) {
		return -ENOMEM;
	}
	n = ms_blocks(q->s->ms, after, first, v, max, &more);
	if (n >= 0) {
		wr_u32(&q->out->w, (uint32_t)n);
		for (int i = 0; i < n; i++) {
			wr_bytes(&q->out->w, v[i].blk.id, BLOCK_ID_LEN);
			wr_u8(&q->out->w, v[i].blk.k);
			wr_u8(&q->out->w, v[i].blk.m);
			wr_u32(&q->out->w, v[i].blk.len);
			wr_u64(&q->out->w, v[i].blk.csum);
			wr_u32(&q->out->w, v[i].refs);
			wr_u8(&q->out->w, v[i].blk.cls);
		}
		wr_u8(&q->out->w, more ? 1 : 0);
	}
	free(v);
	return n < 0 ? n : 0;
}

/* META_SHARD_OPEN: become a replica of a new shard (idempotent). */
static int mh_shard_open(struct mh_req *q)
{
	int rc = 0;

	if (!rd_done(q->r)) {
		return -OBJ_EPROTO;
	}
	if (shard_open(q->m, q->bucket, 1, &rc) == NULL) {
		if (rc == -ENXIO) {
			snprintf(q->err, q->errlen, "node is not a replica of shard '%s'",
				 q->bucket);
		}
		return rc;
	}
	return 0;
}

struct shards_out {
	struct msvc *m;
	struct wr body;
	uint32_t n;
};

static void shard_state_cb(void *arg, struct repl_group *g, const char *name)
{
	struct shards_out *so = arg;
	struct repl_state rs;
	struct shard_state st = {0};
	struct shard *s = shard_find(so->m, strcmp(name, CATALOG_GROUP) == 0 ? "" : name);

	if (repl_get_state(g, &rs) != 0) {
		return;
	}
	if (s != NULL) {
		/* A replica installing a snapshot is as far as its store. */
		rs.applied = inst_applied(s, rs.applied);
	}
	snprintf(st.name, sizeof(st.name), "%s", name);
	st.role = (uint8_t)rs.role;
	st.ready = (uint8_t)rs.ready;
	st.leader_id = msvc_node_id(so->m, rs.leader);
	st.term = rs.term;
	st.commit = rs.commit;
	st.applied = rs.applied;
	st.last_index = rs.last_index;
	st.n_voters = (uint32_t)rs.n_voters;
	for (size_t i = 0; i < rs.n_voters; i++) {
		st.voter_id[i] = msvc_node_id(so->m, rs.voters[i]);
		st.match[i] = rs.match[i];
	}
	meta_put_shard_state(&so->body, &st);
	so->n++;
}

/* META_SHARDS: this node's view of every group it runs. */
static int mh_shards(struct mh_req *q)
{
	struct shards_out so = {.m = q->m};

	if (!rd_done(q->r)) {
		return -OBJ_EPROTO;
	}
	wr_init(&so.body, 0);
	repl_groups(q->m->repl, shard_state_cb, &so);
	wr_u32(&q->out->w, so.n);
	wr_bytes(&q->out->w, so.body.buf, so.body.len);
	wr_free(&so.body);
	return 0;
}

/* META_MEMBER: add or remove a voter, on the leader. */
static int mh_member(struct mh_req *q)
{
	struct shard *s = q->s;
	uint8_t what = rd_u8(q->r);
	const struct cfg_node *cn = cfg_node_by_id(q->m->cfg, rd_u32(q->r));
	size_t node;
	int rc;

	if (!rd_done(q->r) || (what != 1 && what != 2)) {
		return -OBJ_EPROTO;
	}
	if (cn == NULL) {
		return -EINVAL;
	}
	node = (size_t)(cn - q->m->cfg->nodes);
	/* Leadership was checked from the table; it may be lost meanwhile. */
	rc = what == 1 ? repl_add_voter(s->g, node, 60000) : repl_remove_voter(s->g, node, 60000);
	if (rc == -EREMOTE) {
		q->out->hint = 0;
	}
	return rc;
}

/* META_LOCK_RENEW: the lease of a mount's lock session. */
static int mh_lock_renew(struct mh_req *q)
{
	uint64_t session = rd_u64(q->r);

	if (!rd_done(q->r)) {
		return -OBJ_EPROTO;
	}
	mlk_renew(q->m, q->s, session);
	wr_u32(&q->out->w, mlk_lease_ms(q->m));
	return 0;
}

/* META_LOCK_CANCEL: a waiting lock request ends with -EINTR. */
static int mh_lock_cancel(struct mh_req *q)
{
	uint64_t session = rd_u64(q->r), wait_id = rd_u64(q->r);

	if (!rd_done(q->r)) {
		return -OBJ_EPROTO;
	}
	mlk_cancel(q->m, q->s, session, wait_id);
	return 0;
}

/* META_GETLK: the first lock in the way of the one described. */
static int mh_getlk(struct mh_req *q)
{
	struct meta_lock req, found;
	int rc;

	meta_get_lock(q->r, &req);
	if (!rd_done(q->r)) {
		return -OBJ_EPROTO;
	}
	rc = ms_getlk(q->s->ms, &req, &found);
	if (rc >= 0) {
		wr_u8(&q->out->w, rc == 1);
		if (rc == 0) {
			memset(&found, 0, sizeof(found));
			found.kind = req.kind;
			found.type = META_LK_UN;
		}
		meta_put_lock(&q->out->w, &found);
	}
	return rc < 0 ? rc : 0;
}

struct keys_out {
	struct wr body;
	uint32_t n;
	int secret;
};

static int key_cb(void *arg, const struct key_ent *k)
{
	struct keys_out *ko = arg;

	key_put(&ko->body, k, ko->secret);
	ko->n++;
	return 0;
}

/* META_KEYS (admin: no secrets) and META_KEY_SYNC (nodes: with them). */
static int keys_reply(struct mh_req *q, int secret)
{
	struct keys_out ko = {.secret = secret};
	int rc;

	if (!rd_done(q->r)) {
		return -OBJ_EPROTO;
	}
	if (q->bucket[0] != '\0') {
		snprintf(q->err, q->errlen, "keys live in the catalog, not bucket '%s'", q->bucket);
		return -EINVAL;
	}
	wr_init(&ko.body, 0);
	rc = ms_keys(q->s->ms, key_cb, &ko);
	if (rc >= 0 && wr_status(&ko.body) == 0) {
		wr_u32(&q->out->w, ko.n);
		wr_bytes(&q->out->w, ko.body.buf, ko.body.len);
		rc = 0;
	} else if (rc >= 0) {
		rc = -ENOMEM;
	}
	if (ko.body.buf != NULL) {
		memset(ko.body.buf, 0, ko.body.len);
	}
	wr_free(&ko.body);
	return rc;
}

static int mh_keys(struct mh_req *q)
{
	return keys_reply(q, 0);
}

static int mh_key_sync(struct mh_req *q)
{
	return keys_reply(q, 1);
}

#define MH_QUERY (MH_SHARD | MH_LEADER)
#define READ KEY_NEED_READ

/* need: what the caller's key must allow on the request's bucket.  A
 * record (META_OP) needs write, and admin when it creates or drops a
 * bucket or a key (op_need). */
static const struct mh_entry meta_handlers[MSG_META_MAX] = {
    [MSG_META_OP] = {mh_op, MH_SHARD | MH_LEADER | MH_MUTATES, KEY_NEED_WRITE, SRV_POOL_INLINE},
    [MSG_META_OPS] = {mh_ops, MH_SHARD | MH_LEADER | MH_MUTATES, KEY_NEED_WRITE, SRV_POOL_INLINE},
    [MSG_META_LOOKUP] = {mh_lookup, MH_QUERY, READ, SRV_POOL_INLINE},
    [MSG_META_LOOKUPS] = {mh_lookups, MH_QUERY, READ, SRV_POOL_INLINE},
    [MSG_META_GETATTR] = {mh_getattr, MH_QUERY, READ, SRV_POOL_INLINE},
    [MSG_META_READDIR] = {mh_readdir, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_READDIR_C] = {mh_readdir_c, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_READLINK] = {mh_readlink, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_GETXATTR] = {mh_getxattr, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_LISTXATTR] = {mh_listxattr, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_EXTENTS] = {mh_extents, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_STATFS] = {mh_statfs, MH_QUERY, READ, SRV_POOL_INLINE},
    [MSG_META_RESOLVE] = {mh_resolve, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_LIST] = {mh_list, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_LIST_D] = {mh_list_d, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_BUCKETS] = {mh_buckets, MH_QUERY, READ, SRV_POOL_META},
    /* Lock sessions live in the leader's memory: leader only.  A lock
     * changes no data: a ro key's mount may take one, as POSIX allows. */
    [MSG_META_LOCK_RENEW] = {mh_lock_renew, MH_SHARD | MH_LEADER | MH_MUTATES, READ,
			     SRV_POOL_INLINE},
    [MSG_META_LOCK_CANCEL] = {mh_lock_cancel, MH_SHARD | MH_LEADER | MH_MUTATES, READ,
			      SRV_POOL_INLINE},
    [MSG_META_GETLK] = {mh_getlk, MH_SHARD | MH_LEADER | MH_MUTATES, READ, SRV_POOL_INLINE},
    [MSG_META_QUOTA] = {mh_quota, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_TRASH] = {mh_trash, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_BLOCK_STATS] = {mh_block_stats, MH_QUERY, READ, SRV_POOL_META},
    [MSG_META_NODE_MAP] = {mh_node_map, MH_QUERY, KEY_NEED_ADMIN, SRV_POOL_META},
    /* These wait on the Raft loop (open, state of every group, a
     * membership change): never on the queue of quick requests. */
    [MSG_META_SHARD_OPEN] = {mh_shard_open, 0, KEY_NEED_ADMIN, SRV_POOL_DISK},
    [MSG_META_SHARDS] = {mh_shards, 0, KEY_NEED_ADMIN, SRV_POOL_DISK},
    [MSG_META_MEMBER] = {mh_member, MH_SHARD | MH_LEADER | MH_MUTATES, KEY_NEED_ADMIN,
			 SRV_POOL_DISK},
    /* MH_MUTATES although it changes nothing: it must never be answered
     * by a stale replica (see mh_blocks). */
    [MSG_META_BLOCKS] = {mh_blocks, MH_SHARD | MH_LEADER | MH_MUTATES, KEY_NEED_ADMIN,
			 SRV_POOL_META},
    [MSG_META_KEYS] = {mh_keys, MH_QUERY, KEY_NEED_ADMIN, SRV_POOL_META},
    [MSG_META_KEY_SYNC] = {mh_key_sync, MH_QUERY, KEY_NEED_NODE, SRV_POOL_META},
};

/* The capability a META_OP record needs beyond the table's: the first
 * byte of the record (meta.h) is its type.  Creating or dropping a bucket
 * or a key, setting a quota (a tenant's own key must not raise its
 * limits) or a bucket's codec, is an admin's; a record of collected garbage only a node's.
 * A snapshot is a change of the bucket like any other. */
static enum key_need op_need(const struct rd *r)
{
	struct rd peek = *r;

	switch (rd_u8(&peek)) {
	case MOP_BUCKET_CREATE:
	case MOP_BUCKET_DELETE:
	case MOP_KEY_PUT:
	case MOP_KEY_DEL:
	case MOP_QUOTA_SET:
	case MOP_BUCKET_COMPRESS:
	case MOP_NODE_STATE:
		return KEY_NEED_ADMIN;
	case MOP_GC_DONE:
		return KEY_NEED_NODE;
	case MOP_LOCK:
	case MOP_LOCK_DROP:
		return KEY_NEED_READ; /* a lock changes no data (POSIX: ro too) */
	default:
		return KEY_NEED_WRITE;
	}
}

static const struct mh_entry *entry_of(uint8_t type)
{
	if (type >= MSG_META_MAX || meta_handlers[type].fn == NULL) {
		return NULL;
	}
	return &meta_handlers[type];
}

enum srv_pool msvc_route(uint8_t type)
{
	const struct mh_entry *e = entry_of(type);

	return e != NULL ? e->pool : SRV_POOL_META;
}

int msvc_handle(struct msvc *m, const struct frame_hdr *h, const struct key_ent *who,
		const uint8_t *body, struct srv_reply *out, char *err, size_t errlen)
{
	const struct mh_entry *e = entry_of(h->type);
	char bucket[MSG_NAME_MAX];
	struct mh_req q = {.m = m, .bucket = bucket, .out = out, .err = err, .errlen = errlen};
	struct rd r;
	size_t len = h->body_len;
	uint64_t seen = 0, applied = 0;
	long leader = -1;
	int stale = 0, rc = 0;

	if (e == NULL) {
		snprintf(err, errlen, "unknown message type %u", h->type);
		return -OBJ_EPROTO;
	}
	if (h->flags & FRAME_F_INDEX) {
		/* The client's highest seen index trails the body (meta.h). */
		if (len < 8) {
			return -OBJ_EPROTO;
		}
		len -= 8;
		rd_init(&r, body + len, 8);
		seen = rd_u64(&r);
		q.with_index = 1;
	}
	rd_init(&r, body, len);
	q.r = &r;
	rd_str(&r, bucket, sizeof(bucket));
	if (!rd_ok(&r) || (bucket[0] != '\0' && msg_check_bucket(bucket) != 0)) {
		return -OBJ_EPROTO;
	}
	/* Nothing is touched before the key's capability is checked. */
	rc = authz_check(who, h->type == MSG_META_OP ? op_need(&r) : e->need, bucket,
			 msg_type_name(h->type), err, errlen);
	if (rc != 0) {
		return rc;
	}
	if (e->flags & MH_SHARD) {
		q.s = shard_get(m, bucket, &rc);
		if (q.s == NULL) {
			if (rc == -ENXIO) {
				snprintf(err, errlen, "no replica of bucket '%s' here", bucket);
			}
			return rc;
		}
	}
	/* Only the ready leader answers: it holds every committed entry.  A
	 * client that found no leader may accept this replica's own state
	 * for a query (never for a change). */
	if ((e->flags & MH_LEADER) && repl_read_ok(q.s->g, &leader) != 0) {
		if (!(h->flags & FRAME_F_STALE_OK) || (e->flags & MH_MUTATES)) {
			out->hint = msvc_node_id(m, leader);
			snprintf(err, errlen, "not the leader of shard '%s'", bucket);
			return -EREMOTE;
		}
		stale = 1;
	}
	if (q.s != NULL) {
		/* Loaded before the query runs, so the answer is at least
		 * this recent.  Only a stale answer is checked against the
		 * client: a ready leader applied every earlier commit (its
		 * term's barrier), and a bucket deleted and created again
		 * starts its indexes anew. */
		applied = repl_applied(q.s->g);
		if (stale && inst_active(q.s)) {
			/* Its store is being replaced, and behind the entries
			 * it counts as applied. */
			snprintf(err, errlen,
				 "metadata majority unavailable: replica of shard '%s' is "
				 "installing a snapshot",
				 bucket);
			return -OBJ_EMAJORITY;
		}
		if (stale && applied < seen) {
			snprintf(
			    err, errlen,
			    "metadata majority unavailable: replica of shard '%s' applied %llu, "
			    "older than index %llu this client has seen",
			    bucket, (unsigned long long)applied, (unsigned long long)seen);
			return -OBJ_EMAJORITY;
		}
	}
	q.stale = stale;
	rc = e->fn(&q);
	if (stale && (rc == -ENOENT || rc == -ENODATA)) {
		/* Absent here proves nothing: the entry may be committed on
		 * the replicas that are down.  Only found entries are served
		 * without a majority. */
		snprintf(err, errlen,
			 "metadata majority unavailable: a replica of shard '%s' alone cannot "
			 "prove %s",
			 bucket, rc == -ENOENT ? "a name absent" : "an attribute absent");
		return -OBJ_EMAJORITY;
	}
	if (rc == 0 && q.with_index) {
		wr_u64(&out->w, applied);
	}
	return rc;
}
