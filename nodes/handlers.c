/* handlers.c: request dispatch of objfs-node (see handlers.h).
 * One function per message type, chosen through a table; each decodes
 * with the bounds-checked reader and refuses trailing bytes, so a frame
 * that is one byte too long or short is an error, never an over-read. */
#include "handlers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ec.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../proto/frame.h"
#include "../proto/meta.h"
#include "authz.h"
#include "snap_stream.h"

/* List replies are kept well under the frame limit. */
#define FRAG_LIST_MAX 4096

typedef int (*handler_fn)(struct node_ctx *n, struct rd *r, struct srv_reply *out, char *err,
			  size_t errlen);

static int h_ping(struct node_ctx *n, struct rd *r, struct srv_reply *out, char *err, size_t errlen)
{
	struct node_status st = {0};
	struct frag_usage u;
	struct srv_stats ss = {0};

	(void)err;
	(void)errlen;
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	frag_usage(n->fs, &u);
	if (n->srv != NULL) {
		srv_get_stats(n->srv, &ss);
	}
	st.node_id = n->node_id;
	snprintf(st.zone, sizeof(st.zone), "%s", n->zone);
	st.disk_total = u.disk_total;
	st.disk_free = u.disk_free;
	st.frag_count = u.count;
	st.frag_bytes = u.bytes;
	st.uptime_s = (frame_now_ms() - n->start_ms) / 1000u;
	st.requests = ss.requests;
	/* Refusals by capability count with the unauthenticated ones. */
	st.auth_failures = ss.auth_failures + authz_refusals();
	st.bad_requests = ss.bad_requests;
	st.checksum_errors = u.checksum_errors;
	msg_put_node_status(&out->w, &st);
	return 0;
}

static int h_frag_put(struct node_ctx *n, struct rd *r, struct srv_reply *out, char *err,
		      size_t errlen)
{
	struct frag_hdr h;
	const uint8_t *data;
	int rc;

	(void)out;
	msg_get_frag_hdr(r, &h);
	data = rd_ptr(r, h.frag_len);
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = frag_put(n->fs, &h, data);
	if (rc == -OBJ_ECHECKSUM) {
		snprintf(err, errlen, "fragment damaged in transit (checksum mismatch)");
	} else if (rc == -ENOSPC) {
		snprintf(err, errlen, "node %u is full", n->node_id);
	}
	return rc;
}

static int h_frag_get(struct node_ctx *n, struct rd *r, struct srv_reply *out, char *err,
		      size_t errlen)
{
	struct frag_ref ref;
	struct frag_hdr h;
	uint8_t *data = NULL;
	int rc;

	msg_get_frag_ref(r, &ref);
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = frag_get(n->fs, &ref, &h, &data);
	if (rc == -OBJ_ECHECKSUM) {
		snprintf(err, errlen, "stored fragment failed its checksum (quarantined)");
	}
	if (rc != 0) {
		return rc;
	}
	msg_put_frag_hdr(&out->w, &h);
	out->tail = data; /* the server frees it after copying */
	out->tail_len = h.frag_len;
	return 0;
}

static int h_frag_stat(struct node_ctx *n, struct rd *r, struct srv_reply *out, char *err,
		       size_t errlen)
{
	struct frag_ref ref;
	struct frag_hdr h;
	int rc;

	(void)err;
	(void)errlen;
	msg_get_frag_ref(r, &ref);
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = frag_stat(n->fs, &ref, &h);
	if (rc == 0) {
		msg_put_frag_hdr(&out->w, &h);
	}
	return rc;
}

static int h_frag_del(struct node_ctx *n, struct rd *r, struct srv_reply *out, char *err,
		      size_t errlen)
{
	struct frag_ref ref;
	int rc;

	(void)err;
	(void)errlen;
	msg_get_frag_ref(r, &ref);
	if (!rd_done(r)) {
		return -OBJ_EPROTO;
	}
	rc = frag_del(n->fs, &ref);
	if (rc < 0) {
		return rc;
	}
	wr_u32(&out->w, (uint32_t)rc);
	return 0;
}

static int h_frag_list(struct node_ctx *n, struct rd *r, struct srv_reply *out, char *err,
		       size_t errlen)
{
	struct frag_ref after;
	struct frag_hdr *v;
	uint32_t max;
	uint8_t first;
	int more = 0, cnt;

	(void)err;
	(void)errlen;
	msg_get_frag_ref(r, &after);
	first = rd_u8(r);
	max = rd_u32(r);
	if (!rd_done(r) || max == 0 || first > 1) {
		return -OBJ_EPROTO;
	}
	if (max > FRAG_LIST_MAX) {
		max = FRAG_LIST_MAX;
	}
	v = calloc(max, sizeof(*v));
	if (v == NULL) {
		return -ENOMEM;
	}
	cnt = frag_list(n->fs, &after, first, v, max, &more);
	if (cnt < 0) {
		free(v);
		return cnt;
	}
	wr_u32(&out->w, (uint32_t)cnt);
	for (int i = 0; i < cnt; i++) {
		msg_put_frag_hdr(&out->w, &v[i]);
	}
	wr_u8(&out->w, more ? 1 : 0);
	free(v);
	return 0;
}

void node_usage_probe(void *arg, struct usage_sample *s)
{
	struct node_ctx *n = arg;
	struct frag_usage u;
	struct srv_stats ss = {0};

	frag_usage(n->fs, &u);
	if (n->srv != NULL) {
		srv_get_stats(n->srv, &ss);
	}
	s->uptime_s = (frame_now_ms() - n->start_ms) / 1000u;
	s->frag_bytes = u.bytes;
	s->frag_count = u.count;
	s->capacity = u.disk_total;
	s->disk_free = u.disk_free;
	s->requests = ss.requests;
	msvc_usage(n->msvc, &s->objects, &s->object_bytes, &s->shards_led, &s->meta_bytes);
}

/* Runs on the metadata pool: memory only, the history is a ring the
 * sampler thread fills. */
static int h_usage(struct node_ctx *n, struct rd *r, struct srv_reply *out, char *err,
		   size_t errlen)
{
	struct usage_sample *v;
	uint32_t max;
	size_t cnt = 0;

	(void)err;
	(void)errlen;
	max = rd_u32(r);
	if (!rd_done(r) || max == 0) {
		return -OBJ_EPROTO;
	}
	if (max > MSG_USAGE_MAX) {
		max = MSG_USAGE_MAX;
	}
	if ((v = calloc(max, sizeof(*v))) == NULL) {
		return -ENOMEM;
	}
	if (n->usage != NULL) {
		cnt = usage_get(n->usage, v, max);
	}
	wr_u32(&out->w, (uint32_t)cnt);
	for (size_t i = 0; i < cnt; i++) {
		msg_put_usage_sample(&out->w, &v[i]);
	}
	free(v);
	return 0;
}

static int h_scrub(struct node_ctx *n, struct rd *r, struct srv_reply *out, char *err,
		   size_t errlen)
{
	struct scrub_status st;
	uint8_t op = rd_u8(r);
	uint32_t want;

	if (!rd_done(r) || op > SCRUB_START) {
		return -OBJ_EPROTO;
	}
	if (n->scrub == NULL) {
		snprintf(err, errlen, "node %u runs no scrubber", n->node_id);
		return -ENOTSUP;
	}
	want = op == SCRUB_START ? scrub_kick(n->scrub) : 0;
	scrub_status(n->scrub, &st);
	if (op == SCRUB_START && st.cur.id != want) {
		/* The thread has not taken the kick yet: report the pass that
		 * starts now, which the caller waits to see as last.id. */
		st.cur = (struct scrub_pass){.id = want, .total = st.cur.total};
		st.running = 1;
	}
	msg_put_scrub_status(&out->w, &st);
	return 0;
}

/* One fragment of a FRAG_CHECK request. */
static uint8_t check_one(struct node_ctx *n, uint8_t op, uint32_t grace_s,
			 const struct frag_ref *ref)
{
	int rc;

	if (op == FRAG_CHECK_VERIFY) {
		rc = frag_verify(n->fs, ref, NULL);
		if (rc == 0) {
			return FRAG_RES_OK;
		}
		return rc == -ENOENT	      ? FRAG_RES_MISSING
		       : rc == -OBJ_ECHECKSUM ? FRAG_RES_BAD
					      : FRAG_RES_ERROR;
	}
	rc = frag_sweep(n->fs, ref, grace_s, op == FRAG_CHECK_AGE);
	if (rc == 1 && op == FRAG_CHECK_AGE) {
		return FRAG_RES_OK;
	}
	if (rc == 1) {
		char hex[2 * BLOCK_ID_LEN + 1];

		msg_block_hex(ref->block_id, hex);
		log_info("frag.sweep", "stray fragment %s.%u deleted", hex, ref->index);
		return FRAG_RES_DELETED;
	}
	return rc == 0 ? FRAG_RES_MISSING : rc == -EAGAIN ? FRAG_RES_YOUNG : FRAG_RES_ERROR;
}

/* FRAG_CHECK: full reads (VERIFY), age-checked deletes (SWEEP) or age
 * checks alone (AGE) of a list of fragments, one result byte each. */
static int h_frag_check(struct node_ctx *n, struct rd *r, struct srv_reply *out, char *err,
			size_t errlen)
{
	uint8_t op = rd_u8(r);
	uint32_t grace_s = rd_u32(r), cnt = rd_u32(r);
	struct frag_ref *refs;

	(void)err;
	(void)errlen;
	if (!rd_ok(r) || op < FRAG_CHECK_VERIFY || op > FRAG_CHECK_AGE || cnt > FRAG_CHECK_MAX ||
	    r->left != (size_t)cnt * (BLOCK_ID_LEN + 1)) {
		return -OBJ_EPROTO;
	}
	refs = calloc(cnt ? cnt : 1, sizeof(*refs));
	if (refs == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		msg_get_frag_ref(r, &refs[i]);
		if (refs[i].index >= EC_MAX_FRAGS) {
			r->bad = true;
		}
	}
	if (!rd_done(r)) {
		free(refs);
		return -OBJ_EPROTO;
	}
	wr_u32(&out->w, cnt);
	for (uint32_t i = 0; i < cnt; i++) {
		wr_u8(&out->w, check_one(n, op, grace_s, &refs[i]));
	}
	free(refs);
	return 0;
}

/* A chunk of a shard snapshot copy, for a replica installing it. */
static int h_snap_read(struct node_ctx *n, struct rd *r, struct srv_reply *out, char *err,
		       size_t errlen)
{
	uint8_t *data = NULL;
	size_t len = 0;
	int rc;

	if (n->msvc == NULL) {
		snprintf(err, errlen, "no metadata service on this node");
		return -ENOTSUP;
	}
	rc = snap_serve(msvc_shard_dir(n->msvc), r, &out->w, &data, &len);
	if (rc != 0) {
		return rc;
	}
	out->tail = data; /* the server frees it after copying */
	out->tail_len = len;
	return 0;
}

/* Fragment and node requests; pool: the server queue that runs each
 * (fragment I/O fsyncs, so it never shares threads with metadata). */
/* need: the capability a request needs (keys.h); fragments name no
 * bucket, so a bucket key's right applies to any fragment. */
static const struct {
	handler_fn fn;
	enum srv_pool pool;
	enum key_need need;
} handlers[MSG_TYPE_MAX] = {
    [MSG_PING] = {h_ping, SRV_POOL_META, KEY_NEED_ANY},
    [MSG_FRAG_PUT] = {h_frag_put, SRV_POOL_DISK, KEY_NEED_WRITE},
    [MSG_FRAG_GET] = {h_frag_get, SRV_POOL_DISK, KEY_NEED_READ},
    [MSG_FRAG_STAT] = {h_frag_stat, SRV_POOL_DISK, KEY_NEED_READ},
    [MSG_FRAG_DEL] = {h_frag_del, SRV_POOL_DISK, KEY_NEED_WRITE},
    [MSG_FRAG_LIST] = {h_frag_list, SRV_POOL_DISK, KEY_NEED_ADMIN},
    [MSG_USAGE] = {h_usage, SRV_POOL_META, KEY_NEED_ADMIN},
    [MSG_SCRUB] = {h_scrub, SRV_POOL_META, KEY_NEED_ADMIN},
    /* A whole shard, keys included: nodes only. */
    [MSG_SNAP_READ] = {h_snap_read, SRV_POOL_DISK, KEY_NEED_NODE},
    /* A verify reads; a sweep deletes strays: check_need. */
    [MSG_FRAG_CHECK] = {h_frag_check, SRV_POOL_DISK, KEY_NEED_READ},
};

static int is_meta(uint8_t type)
{
	return type >= MSG_META_OP && type < MSG_META_MAX;
}

enum srv_pool node_route(void *arg, uint8_t type)
{
	(void)arg;
	if (is_meta(type)) {
		return msvc_route(type);
	}
	return type < MSG_TYPE_MAX && handlers[type].fn != NULL ? handlers[type].pool
								: SRV_POOL_META;
}

/* What a request needs: its table entry's, but a FRAG_CHECK that sweeps
 * (deletes strays, its first byte says: msg.h) is an admin's. */
static enum key_need check_need(const struct frame_hdr *h, const uint8_t *body)
{
	if (h->type == MSG_FRAG_CHECK && h->body_len > 0 && body[0] == FRAG_CHECK_SWEEP) {
		return KEY_NEED_ADMIN;
	}
	return handlers[h->type].need;
}

int node_handle(void *arg, const struct frame_hdr *h, const struct key_ent *who,
		const uint8_t *body, struct srv_reply *out, char *err, size_t errlen)
{
	struct node_ctx *n = arg;
	struct rd r;
	int rc;

	if (is_meta(h->type) && n->msvc != NULL) {
		return msvc_handle(n->msvc, h, who, body, out, err, errlen);
	}
	if (h->type >= MSG_TYPE_MAX || handlers[h->type].fn == NULL) {
		snprintf(err, errlen, "unknown message type %u", h->type);
		return -OBJ_EPROTO;
	}
	rc = authz_check(who, check_need(h, body), NULL, msg_type_name(h->type), err, errlen);
	if (rc != 0) {
		return rc;
	}
	rd_init(&r, body, h->body_len);
	return handlers[h->type].fn(n, &r, out, err, errlen);
}
