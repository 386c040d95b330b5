/* msg.c: field encoders and bounds-checked decoders of the wire catalogue. */
#include "msg.h"

#include <errno.h>
#include <string.h>

#include "../common/ec.h"
#include "../common/err.h"
#include "meta.h"

static const char *const msg_names[MSG_TYPE_MAX] = {
    [MSG_PING] = "ping",	   [MSG_FRAG_PUT] = "frag_put", [MSG_FRAG_GET] = "frag_get",
    [MSG_FRAG_STAT] = "frag_stat", [MSG_FRAG_DEL] = "frag_del", [MSG_FRAG_LIST] = "frag_list",
    [MSG_USAGE] = "usage",	   [MSG_SCRUB] = "scrub",	[MSG_FRAG_CHECK] = "frag_check",
    [MSG_SNAP_READ] = "snap_read",
};

static const char *const meta_names[] = {
    "meta_op",	     "meta_lookup",    "meta_getattr",	  "meta_readdir", "meta_readlink",
    "meta_getxattr", "meta_listxattr", "meta_extents",	  "meta_statfs",  "meta_resolve",
    "meta_list",     "meta_buckets",   "meta_shard_open", "meta_shards",  "meta_member",
};

/* Metadata ids past the dense run above (ids are given out in ranges). */
static const struct {
	uint8_t type;
	const char *name;
} meta_names_sparse[] = {
    {MSG_META_READDIR_C, "meta_readdir_c"},
    {MSG_META_LIST_D, "meta_list_d"},
    {MSG_META_OPS, "meta_ops"},
    {MSG_META_LOOKUPS, "meta_lookups"},
    {MSG_META_BLOCKS, "meta_blocks"},
    {MSG_META_LOCK_RENEW, "meta_lock_renew"},
    {MSG_META_LOCK_CANCEL, "meta_lock_cancel"},
    {MSG_META_GETLK, "meta_getlk"},
    {MSG_META_QUOTA, "meta_quota"},
    {MSG_META_TRASH, "meta_trash"},
    {MSG_META_NODE_MAP, "meta_node_map"},
    {MSG_META_BLOCK_STATS, "meta_block_stats"},
    {MSG_META_KEYS, "meta_keys"},
    {MSG_META_KEY_SYNC, "meta_key_sync"},
};

const char *msg_type_name(uint8_t type)
{
	if (type < MSG_TYPE_MAX && msg_names[type] != NULL) {
		return msg_names[type];
	}
	if (type >= MSG_META_FIRST && type - MSG_META_FIRST < (int)OBJ_ARRAY_LEN(meta_names)) {
		return meta_names[type - MSG_META_FIRST];
	}
	for (size_t i = 0; i < OBJ_ARRAY_LEN(meta_names_sparse); i++) {
		if (meta_names_sparse[i].type == type) {
			return meta_names_sparse[i].name;
		}
	}
	return "unknown";
}

void msg_put_frag_ref(struct wr *w, const struct frag_ref *r)
{
	wr_bytes(w, r->block_id, BLOCK_ID_LEN);
	wr_u8(w, r->index);
}

void msg_get_frag_ref(struct rd *r, struct frag_ref *out)
{
	rd_bytes(r, out->block_id, BLOCK_ID_LEN);
	out->index = rd_u8(r);
}

void msg_put_frag_hdr(struct wr *w, const struct frag_hdr *h)
{
	msg_put_frag_ref(w, &h->ref);
	wr_u8(w, h->k);
	wr_u8(w, h->m);
	wr_u64(w, h->block_len);
	wr_u32(w, h->frag_len);
	wr_u64(w, h->csum);
}

void msg_get_frag_hdr(struct rd *r, struct frag_hdr *out)
{
	msg_get_frag_ref(r, &out->ref);
	out->k = rd_u8(r);
	out->m = rd_u8(r);
	out->block_len = rd_u64(r);
	out->frag_len = rd_u32(r);
	out->csum = rd_u64(r);
	/* A header describes a real fragment: the profile must be codable,
	 * the index inside it, and the fragment length the one the codec
	 * would produce for block_len. */
	if (out->k < 1 || out->k > EC_MAX_K || out->m > EC_MAX_M ||
	    out->ref.index >= out->k + out->m || out->block_len > MSG_BLOCK_MAX ||
	    out->frag_len != ec_frag_len((struct ec_profile){out->k, out->m}, out->block_len)) {
		r->bad = true;
	}
}

void msg_put_node_status(struct wr *w, const struct node_status *s)
{
	wr_u32(w, s->node_id);
	wr_str(w, s->zone);
	wr_u64(w, s->disk_total);
	wr_u64(w, s->disk_free);
	wr_u64(w, s->frag_count);
	wr_u64(w, s->frag_bytes);
	wr_u64(w, s->uptime_s);
	wr_u64(w, s->requests);
	wr_u64(w, s->auth_failures);
	wr_u64(w, s->bad_requests);
	wr_u64(w, s->checksum_errors);
}

void msg_get_node_status(struct rd *r, struct node_status *out)
{
	out->node_id = rd_u32(r);
	rd_str(r, out->zone, sizeof(out->zone));
	out->disk_total = rd_u64(r);
	out->disk_free = rd_u64(r);
	out->frag_count = rd_u64(r);
	out->frag_bytes = rd_u64(r);
	out->uptime_s = rd_u64(r);
	out->requests = rd_u64(r);
	out->auth_failures = rd_u64(r);
	out->bad_requests = rd_u64(r);
	out->checksum_errors = rd_u64(r);
}

void msg_put_usage_sample(struct wr *w, const struct usage_sample *s)
{
	wr_u64(w, s->t_s);
	wr_u64(w, s->uptime_s);
	wr_u64(w, s->frag_bytes);
	wr_u64(w, s->frag_count);
	wr_u64(w, s->capacity);
	wr_u64(w, s->disk_free);
	wr_u64(w, s->requests);
	wr_u64(w, s->objects);
	wr_u64(w, s->object_bytes);
	wr_u64(w, s->shards_led);
	wr_u64(w, s->meta_bytes);
}

void msg_get_usage_sample(struct rd *r, struct usage_sample *out)
{
	out->t_s = rd_u64(r);
	out->uptime_s = rd_u64(r);
	out->frag_bytes = rd_u64(r);
	out->frag_count = rd_u64(r);
	out->capacity = rd_u64(r);
	out->disk_free = rd_u64(r);
	out->requests = rd_u64(r);
	out->objects = rd_u64(r);
	out->object_bytes = rd_u64(r);
	out->shards_led = rd_u64(r);
	out->meta_bytes = rd_u64(r);
}

void msg_put_error(struct wr *w, const char *text)
{
	char buf[MSG_ERR_MAX];

	/* Bounded so an error reply never outgrows what decoders accept. */
	strncpy(buf, text, sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	wr_str(w, buf);
}

void msg_get_error(struct rd *r, char *out, size_t cap)
{
	rd_str(r, out, cap);
}

static void put_scrub_pass(struct wr *w, const struct scrub_pass *p)
{
	wr_u32(w, p->id);
	wr_u64(w, p->started_ms);
	wr_u64(w, p->finished_ms);
	wr_u64(w, p->total);
	wr_u64(w, p->checked);
	wr_u64(w, p->bad);
	wr_u64(w, p->bytes);
}

static void get_scrub_pass(struct rd *r, struct scrub_pass *p)
{
	p->id = rd_u32(r);
	p->started_ms = rd_u64(r);
	p->finished_ms = rd_u64(r);
	p->total = rd_u64(r);
	p->checked = rd_u64(r);
	p->bad = rd_u64(r);
	p->bytes = rd_u64(r);
}

void msg_put_scrub_status(struct wr *w, const struct scrub_status *s)
{
	uint32_t n = s->n_bad < SCRUB_BAD_MAX ? s->n_bad : SCRUB_BAD_MAX;

	wr_u8(w, s->running);
	wr_u32(w, s->rate_mb);
	wr_u64(w, s->period_s);
	put_scrub_pass(w, &s->cur);
	put_scrub_pass(w, &s->last);
	wr_u32(w, n);
	for (uint32_t i = 0; i < n; i++) {
		msg_put_frag_ref(w, &s->bad[i]);
	}
}

void msg_get_scrub_status(struct rd *r, struct scrub_status *out)
{
	memset(out, 0, sizeof(*out));
	out->running = rd_u8(r);
	out->rate_mb = rd_u32(r);
	out->period_s = rd_u64(r);
	get_scrub_pass(r, &out->cur);
	get_scrub_pass(r, &out->last);
	out->n_bad = rd_u32(r);
	if (out->running > 1 || out->n_bad > SCRUB_BAD_MAX) {
		r->bad = true;
		out->n_bad = 0;
	}
	for (uint32_t i = 0; i < out->n_bad; i++) {
		msg_get_frag_ref(r, &out->bad[i]);
	}
}

void msg_put_frag_check(struct wr *w, uint8_t op, uint32_t grace_s, const struct frag_ref *refs,
			size_t n)
{
	wr_u8(w, op);
	wr_u32(w, grace_s);
	wr_u32(w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		msg_put_frag_ref(w, &refs[i]);
	}
}

int msg_check_bucket(const char *b)
{
	size_t n = strlen(b);

	if (n < 1 || n > 63) {
		return -EINVAL;
	}
	if (!((b[0] >= 'a' && b[0] <= 'z') || (b[0] >= '0' && b[0] <= '9'))) {
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = b[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
			return -EINVAL;
		}
	}
	return 0;
}

int msg_check_key(const char *k)
{
	size_t n = strlen(k);
	const char *seg = k;

	if (n < 1 || n > 1023 || k[0] == '/') {
		return -EINVAL;
	}
	/* Every '/'-separated segment must be a usable file name. */
	for (const char *p = k;; p++) {
		if (*p == '/' || *p == '\0') {
			size_t len = (size_t)(p - seg);

			if (len == 0) {
				return -EINVAL;
			}
			if ((len == 1 && seg[0] == '.') ||
			    (len == 2 && seg[0] == '.' && seg[1] == '.')) {
				return -EINVAL;
			}
			if (len > 255) {
				return -ENAMETOOLONG;
			}
			if (*p == '\0') {
				break;
			}
			seg = p + 1;
		}
	}
	return 0;
}

void msg_block_hex(const uint8_t id[BLOCK_ID_LEN], char out[2 * BLOCK_ID_LEN + 1])
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < BLOCK_ID_LEN; i++) {
		out[2 * i] = hx[id[i] >> 4];
		out[2 * i + 1] = hx[id[i] & 15];
	}
	out[2 * BLOCK_ID_LEN] = '\0';
}
