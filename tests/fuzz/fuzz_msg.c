/* fuzz_msg.c: the body of every message of the wire catalogue
 * (proto/msg.h, proto/meta.h), request and reply: requests through the
 * decoders of proto/msg.c, proto/meta.c and proto/wire.c in the layout
 * each message has on the wire, metadata replies through the client's
 * decoders (common/meta_reply.c).  Input: u8 message type, u8 direction (bit 0: reply),
 * then the body.  Each decoder must stay inside the body, refuse what the
 * catalogue's limits refuse, and release what it allocated. */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/ec.h"
#include "../../common/err.h"
#include "../../common/meta_reply.h"
#include "../../proto/manifest.h"
#include "../../proto/meta.h"
#include "../../proto/msg.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* A decoded string must be a C string within its buffer. */
static void str_field(struct rd *r, size_t cap)
{
	char *s = malloc(cap);

	if (s == NULL) {
		fuzz_fail("out of memory");
	}
	rd_str(r, s, cap);
	if (strnlen(s, cap) >= cap) {
		fuzz_fail("rd_str left an unterminated string");
	}
	free(s);
}

/* The bucket every META_* request starts with (meta_handlers.c). */
static void bucket(struct rd *r)
{
	char b[MSG_NAME_MAX];

	rd_str(r, b, sizeof(b));
	if (rd_ok(r) && b[0] != '\0') {
		(void)msg_check_bucket(b);
	}
}

/* ---- fragment messages (msg.h) ---- */

static void frag_ref(struct rd *r)
{
	struct frag_ref ref;

	msg_get_frag_ref(r, &ref);
}

static void frag_hdr(struct rd *r)
{
	struct frag_hdr h;

	msg_get_frag_hdr(r, &h);
	if (rd_ok(r) && (h.ref.index >= h.k + h.m || h.block_len > MSG_BLOCK_MAX)) {
		fuzz_fail("msg_get_frag_hdr accepted a header out of range");
	}
}

static void ping_reply(struct rd *r)
{
	struct node_status st;

	msg_get_node_status(r, &st);
	if (strnlen(st.zone, sizeof(st.zone)) >= sizeof(st.zone)) {
		fuzz_fail("zone unterminated");
	}
}

static void frag_put_req(struct rd *r)
{
	struct frag_hdr h;

	msg_get_frag_hdr(r, &h);
	(void)rd_ptr(r, rd_ok(r) ? h.frag_len : 0);
}

static void frag_get_reply(struct rd *r)
{
	frag_put_req(r); /* frag_hdr, data[len] */
}

static void frag_del_reply(struct rd *r)
{
	(void)rd_u32(r);
}

static void frag_list_req(struct rd *r)
{
	frag_ref(r);
	(void)rd_u8(r);
	(void)rd_u32(r);
}

static void frag_list_reply(struct rd *r)
{
	uint32_t n = rd_u32(r);

	for (uint32_t i = 0; i < n && rd_ok(r); i++) {
		frag_hdr(r);
	}
	(void)rd_u8(r);
}

static void usage_req(struct rd *r)
{
	(void)rd_u32(r);
}

static void usage_reply(struct rd *r)
{
	uint32_t cnt = rd_u32(r);

	for (uint32_t i = 0; i < cnt && rd_ok(r); i++) {
		struct usage_sample us;

		msg_get_usage_sample(r, &us);
	}
}

static void scrub_req(struct rd *r)
{
	(void)rd_u8(r);
}

static void scrub_reply(struct rd *r)
{
	struct scrub_status st;

	msg_get_scrub_status(r, &st);
}

static void frag_check_req(struct rd *r)
{
	uint32_t cnt;

	(void)rd_u8(r);
	(void)rd_u32(r);
	cnt = rd_u32(r);
	for (uint32_t i = 0; i < cnt && i < FRAG_CHECK_MAX && rd_ok(r); i++) {
		frag_ref(r);
	}
}

static void frag_check_reply(struct rd *r)
{
	uint32_t cnt = rd_u32(r);

	(void)rd_ptr(r, cnt);
}

static void nothing(struct rd *r)
{
	(void)r;
}

/* ---- metadata messages (meta.h) ---- */

static void meta_op_req(struct rd *r)
{
	struct meta_op *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		fuzz_fail("out of memory");
	}
	bucket(r);
	meta_get_op(r, op);
	if (rd_ok(r)) {
		if (op->type == 0 || op->type >= MOP_MAX || op->n_ext > META_EXTENTS_MAX ||
		    op->data_len > META_XATTR_VALUE_MAX || (op->n_ext > 0 && op->ext == NULL)) {
			fuzz_fail("meta_get_op accepted a record out of range");
		}
		for (size_t i = 0; i < op->n_ext; i++) {
			if (op->ext[i].len > op->ext[i].blk.len) {
				fuzz_fail("extent longer than its block");
			}
		}
	}
	meta_op_free(op);
	free(op);
}

static void lookup_req(struct rd *r)
{
	bucket(r);
	(void)rd_u64(r);
	str_field(r, META_NAME_MAX + 1);
}

static void ino_req(struct rd *r)
{
	bucket(r);
	(void)rd_u64(r);
}

static void readdir_req(struct rd *r)
{
	bucket(r);
	(void)rd_u64(r);
	str_field(r, META_NAME_MAX + 1);
	(void)rd_u32(r);
	(void)rd_u8(r);
}

static void readdir_c_req(struct rd *r)
{
	bucket(r);
	(void)rd_u64(r);
	(void)rd_u64(r);
	(void)rd_u32(r);
	(void)rd_u8(r);
}

static void getxattr_req(struct rd *r)
{
	ino_req(r);
	str_field(r, META_XATTR_NAME_MAX + 1);
}

static void extents_req(struct rd *r)
{
	ino_req(r);
	(void)rd_u64(r);
	(void)rd_u32(r);
}

static void resolve_req(struct rd *r)
{
	bucket(r);
	str_field(r, WIRE_STR_MAX + 1);
}

static void list_req(struct rd *r)
{
	bucket(r);
	str_field(r, WIRE_STR_MAX + 1);
	str_field(r, WIRE_STR_MAX + 1);
	(void)rd_u32(r);
}

static void quota_req(struct rd *r)
{
	bucket(r);
	(void)rd_u8(r);
	(void)rd_u64(r);
}

static void blocks_req(struct rd *r)
{
	uint8_t id[BLOCK_ID_LEN];

	bucket(r);
	(void)rd_u8(r);
	rd_bytes(r, id, sizeof(id));
	(void)rd_u32(r);
}

static void member_req(struct rd *r)
{
	bucket(r);
	(void)rd_u8(r);
	(void)rd_u32(r);
}

/* ---- metadata replies: the client's own decoders (meta_reply.c) ---- */

static int dirent_cb(void *arg, const char *name, const struct meta_attr *a)
{
	(void)arg;
	(void)a;
	if (strlen(name) > META_NAME_MAX) {
		fuzz_fail("a directory entry name longer than a name may be");
	}
	return 0;
}

static int list_cb(void *arg, const char *path, uint64_t size, int64_t mtime)
{
	(void)arg;
	(void)size;
	(void)mtime;
	if (strlen(path) > WIRE_STR_MAX) {
		fuzz_fail("a listed path longer than a key may be");
	}
	return 0;
}

static int shard_cb(void *arg, const struct shard_state *st)
{
	(void)arg;
	if (st->n_voters > 8 || strnlen(st->name, sizeof(st->name)) >= sizeof(st->name)) {
		fuzz_fail("a shard state out of range");
	}
	return 0;
}

static void op_reply(const uint8_t *p, size_t n)
{
	struct meta_result res;
	int rc = mr_result(p, n, &res);

	if (rc > 0 || (rc < -4095 && rc != -OBJ_EPROTO)) {
		fuzz_fail("mr_result returned no errno");
	}
}

static void attr_reply(const uint8_t *p, size_t n)
{
	struct meta_attr a;

	(void)mr_attr(p, n, &a);
}

static void readdir_reply(const uint8_t *p, size_t n)
{
	int more, rc = mr_readdir(p, n, META_READDIR_MAX, dirent_cb, NULL, &more);

	if (rc > META_READDIR_MAX) {
		fuzz_fail("more directory entries than asked for");
	}
}

static int dirent_c_cb(void *arg, const char *name, uint64_t cookie, const struct meta_attr *a)
{
	(void)arg;
	(void)a;
	if (strlen(name) > META_NAME_MAX || cookie < META_COOKIE_FIRST || cookie > INT64_MAX) {
		fuzz_fail("a directory entry past the decoder's checks");
	}
	return 0;
}

static void readdir_c_reply(const uint8_t *p, size_t n)
{
	int more, rc = mr_readdir_c(p, n, META_READDIR_MAX, 0, dirent_c_cb, NULL, &more);

	if (rc > META_READDIR_MAX) {
		fuzz_fail("more directory entries than asked for");
	}
}

static void readlink_reply(const uint8_t *p, size_t n)
{
	char buf[META_SYMLINK_MAX + 1];
	int rc = mr_readlink(p, n, buf, sizeof(buf));

	if (rc >= 0 && (size_t)rc != strlen(buf)) {
		fuzz_fail("a symlink target with a NUL inside");
	}
}

static void getxattr_reply(const uint8_t *p, size_t n)
{
	uint8_t *val;
	size_t len;
	int rc = mr_getxattr(p, n, &val, &len);

	if (rc == 0 && (len > META_XATTR_VALUE_MAX || len > n)) {
		fuzz_fail("an xattr value longer than its reply");
	}
	free(val);
}

static void listxattr_reply(const uint8_t *p, size_t n)
{
	char *names;
	size_t len;
	int rc = mr_listxattr(p, n, &names, &len);

	if (rc == 0 && (len > n || (len > 0 && names[len - 1] != '\0'))) {
		fuzz_fail("an xattr name list longer than its reply, or unterminated");
	}
	/* The list's buffer is sized from the reply, not from its count. */
	if (names != NULL && malloc_usable_size(names) > n + 64) {
		fuzz_fail("an xattr name list allocated beyond the reply's size");
	}
	free(names);
}

static void extents_reply(const uint8_t *p, size_t n)
{
	struct meta_extent *ext;
	struct meta_attr a;
	uint8_t *inl;
	size_t inl_len;
	int more, rc = mr_extents(p, n, META_EXTENTS_MAX, &ext, &more, &a, &inl, &inl_len);

	for (int i = 0; i < rc; i++) {
		if (ext[i].len > ext[i].blk.len) {
			fuzz_fail("an extent longer than its block");
		}
	}
	if (rc < 0 && (ext != NULL || inl != NULL)) {
		fuzz_fail("a refused extents reply kept its buffers");
	}
	free(ext);
	free(inl);
}

static void statfs_reply(const uint8_t *p, size_t n)
{
	struct mc_statfs st;

	(void)mr_statfs(p, n, &st);
}

static void block_stats_reply(const uint8_t *p, size_t n)
{
	struct mc_block_stats st;

	(void)mr_block_stats(p, n, &st);
}

static void node_map_reply(const uint8_t *p, size_t n)
{
	struct meta_node_row rows[META_NODE_MAP_MAX];

	(void)mr_node_map(p, n, rows, META_NODE_MAP_MAX);
}

static void list_reply(const uint8_t *p, size_t n)
{
	int more;

	(void)mr_list(p, n, MSG_LIST_MAX, list_cb, NULL, &more);
}

static void buckets_reply(const uint8_t *p, size_t n)
{
	(void)mr_list(p, n, MSG_LIST_MAX, list_cb, NULL, NULL);
}

static void shards_reply(const uint8_t *p, size_t n)
{
	(void)mr_shards(p, n, shard_cb, NULL);
}

#define PAGE 64 /* entries a client asks for at most (the node's page) */

static void quota_reply(const uint8_t *p, size_t n)
{
	struct meta_quota *q = calloc(PAGE, sizeof(*q));
	int more;

	if (q == NULL) {
		fuzz_fail("out of memory");
	}
	if (mr_quota(p, n, q, PAGE, &more) > PAGE) {
		fuzz_fail("more quotas than asked for");
	}
	free(q);
}

static void trash_reply(const uint8_t *p, size_t n)
{
	struct meta_trash *t = calloc(PAGE, sizeof(*t));
	int64_t keep;
	int more;

	if (t == NULL) {
		fuzz_fail("out of memory");
	}
	if (mr_trash(p, n, t, PAGE, &keep, &more) > PAGE) {
		fuzz_fail("more trash entries than asked for");
	}
	free(t);
}

static void blocks_reply(const uint8_t *p, size_t n)
{
	struct meta_block_row *rows = calloc(PAGE, sizeof(*rows));
	int more, rc;

	if (rows == NULL) {
		fuzz_fail("out of memory");
	}
	rc = mr_blocks(p, n, PAGE, rows, &more);
	for (int i = 0; i < rc; i++) {
		if (rows[i].blk.k < 1 || rows[i].blk.k > EC_MAX_K) {
			fuzz_fail("a block row no codec could have written");
		}
	}
	free(rows);
}

static void no_reply(const uint8_t *p, size_t n)
{
	(void)p;
	(void)n;
}

/* Request and reply decoder of each message id, as the catalogue lays
 * them out: requests as a node's handlers read them, fragment replies as
 * blockio.c reads them, metadata replies through the client's own
 * decoders.  A new message adds its row here. */
static const struct {
	void (*req)(struct rd *r);
	void (*reply)(struct rd *r);		    /* fragment and node replies */
	void (*mreply)(const uint8_t *p, size_t n); /* metadata replies */
} msgs[MSG_META_MAX] = {
    [MSG_PING] = {nothing, ping_reply, NULL},
    [MSG_FRAG_PUT] = {frag_put_req, nothing, NULL},
    [MSG_FRAG_GET] = {frag_ref, frag_get_reply, NULL},
    [MSG_FRAG_STAT] = {frag_ref, frag_hdr, NULL},
    [MSG_FRAG_DEL] = {frag_ref, frag_del_reply, NULL},
    [MSG_FRAG_LIST] = {frag_list_req, frag_list_reply, NULL},
    [MSG_USAGE] = {usage_req, usage_reply, NULL},
    [MSG_SCRUB] = {scrub_req, scrub_reply, NULL},
    [MSG_FRAG_CHECK] = {frag_check_req, frag_check_reply, NULL},
    [MSG_META_OP] = {meta_op_req, NULL, op_reply},
    [MSG_META_LOOKUP] = {lookup_req, NULL, attr_reply},
    [MSG_META_GETATTR] = {ino_req, NULL, attr_reply},
    [MSG_META_READDIR] = {readdir_req, NULL, readdir_reply},
    [MSG_META_READDIR_C] = {readdir_c_req, NULL, readdir_c_reply},
    [MSG_META_READLINK] = {ino_req, NULL, readlink_reply},
    [MSG_META_GETXATTR] = {getxattr_req, NULL, getxattr_reply},
    [MSG_META_LISTXATTR] = {ino_req, NULL, listxattr_reply},
    [MSG_META_EXTENTS] = {extents_req, NULL, extents_reply},
    [MSG_META_STATFS] = {bucket, NULL, statfs_reply},
    [MSG_META_RESOLVE] = {resolve_req, NULL, attr_reply},
    [MSG_META_LIST] = {list_req, NULL, list_reply},
    [MSG_META_LIST_D] = {list_req, NULL, list_reply},
    [MSG_META_BUCKETS] = {nothing, NULL, buckets_reply},
    [MSG_META_BLOCKS] = {blocks_req, NULL, blocks_reply},
    [MSG_META_QUOTA] = {quota_req, NULL, quota_reply},
    [MSG_META_TRASH] = {ino_req, NULL, trash_reply},
    [MSG_META_BLOCK_STATS] = {bucket, NULL, block_stats_reply},
    [MSG_META_NODE_MAP] = {bucket, NULL, node_map_reply},
    [MSG_META_SHARD_OPEN] = {bucket, NULL, no_reply},
    [MSG_META_SHARDS] = {bucket, NULL, shards_reply},
    [MSG_META_MEMBER] = {member_req, NULL, no_reply},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t type, reply;
	uint8_t *body;
	size_t n;

	if (size < 2) {
		return 0;
	}
	type = data[0];
	reply = data[1] & 1;
	(void)msg_type_name(type);
	if (type >= MSG_META_MAX || msgs[type].req == NULL) {
		return 0;
	}
	n = size - 2;
	body = fuzz_dup(data + 2, n);
	if (reply && msgs[type].mreply != NULL) {
		msgs[type].mreply(body, n);
	} else {
		struct rd r;

		rd_init(&r, body, n);
		(reply ? msgs[type].reply : msgs[type].req)(&r);
		(void)rd_done(&r);
		if (r.left > n) {
			fuzz_fail("reader moved outside the body");
		}
	}
	free(body);
	return 0;
}
