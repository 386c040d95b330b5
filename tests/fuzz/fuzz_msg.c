/* fuzz_msg.c: the body of every message of the wire catalogue
 * (proto/msg.h, proto/meta.h), request and reply, through the decoders of
 * proto/msg.c, proto/meta.c and proto/wire.c in the layout each message
 * has on the wire.  Input: u8 message type, u8 direction (bit 0: reply),
 * then the body.  Each decoder must stay inside the body, refuse what the
 * catalogue's limits refuse, and release what it allocated. */
#include <stdlib.h>
#include <string.h>

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

static void blob_field(struct rd *r, size_t max)
{
	size_t n;
	const uint8_t *p = rd_blob(r, max, &n);

	if (rd_ok(r) && (n > max || (n > 0 && p == NULL))) {
		fuzz_fail("rd_blob returned a length it did not check");
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

static void nothing(struct rd *r)
{
	(void)r;
}

/* ---- metadata messages (meta.h) ---- */

static void attr(struct rd *r)
{
	struct meta_attr a;

	meta_get_attr(r, &a);
}

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

static void meta_op_reply(struct rd *r)
{
	struct meta_result res;

	meta_get_result(r, &res);
	if (rd_ok(r) && (res.status > 0 || res.status < -4095)) {
		fuzz_fail("meta_get_result accepted a status out of range");
	}
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

static void readdir_reply(struct rd *r)
{
	uint32_t n = rd_u32(r);

	if (n > META_READDIR_MAX) {
		return; /* refused before any entry is read */
	}
	for (uint32_t i = 0; i < n && rd_ok(r); i++) {
		str_field(r, META_NAME_MAX + 1);
		attr(r);
	}
	(void)rd_u8(r);
}

static void readlink_reply(struct rd *r)
{
	size_t n = rd_u16(r);

	(void)rd_ptr(r, n);
}

static void getxattr_req(struct rd *r)
{
	ino_req(r);
	str_field(r, META_XATTR_NAME_MAX + 1);
}

static void getxattr_reply(struct rd *r)
{
	blob_field(r, META_XATTR_VALUE_MAX);
}

static void listxattr_reply(struct rd *r)
{
	uint32_t n = rd_u32(r);

	for (uint32_t i = 0; i < n && rd_ok(r); i++) {
		str_field(r, META_XATTR_NAME_MAX + 1);
	}
}

static void extents_req(struct rd *r)
{
	ino_req(r);
	(void)rd_u64(r);
	(void)rd_u32(r);
}

static void extents_reply(struct rd *r)
{
	uint32_t n;

	attr(r);
	n = rd_u32(r);
	if (n > META_EXTENTS_MAX) {
		return;
	}
	for (uint32_t i = 0; i < n && rd_ok(r); i++) {
		struct meta_extent e;

		meta_get_extent(r, &e);
	}
	(void)rd_u8(r);
	blob_field(r, META_XATTR_VALUE_MAX);
}

static void statfs_reply(struct rd *r)
{
	(void)rd_u64(r);
	(void)rd_u64(r);
	(void)rd_u32(r);
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

static void list_reply(struct rd *r)
{
	uint32_t n = rd_u32(r);

	if (n > MSG_LIST_MAX) {
		return;
	}
	for (uint32_t i = 0; i < n && rd_ok(r); i++) {
		str_field(r, WIRE_STR_MAX + 1);
		(void)rd_u64(r);
		(void)rd_u64(r);
	}
	(void)rd_u8(r);
}

static void shards_reply(struct rd *r)
{
	uint32_t n = rd_u32(r);

	for (uint32_t i = 0; i < n && rd_ok(r); i++) {
		struct shard_state st;

		meta_get_shard_state(r, &st);
		if (rd_ok(r) && st.n_voters > 8) {
			fuzz_fail("meta_get_shard_state accepted too many voters");
		}
	}
}

static void member_req(struct rd *r)
{
	bucket(r);
	(void)rd_u8(r);
	(void)rd_u32(r);
}

/* Request and reply decoder of each message id, as the catalogue lays
 * them out; a new message adds its row here. */
static const struct {
	void (*req)(struct rd *r);
	void (*reply)(struct rd *r);
} msgs[MSG_META_MAX] = {
    [MSG_PING] = {nothing, ping_reply},
    [MSG_FRAG_PUT] = {frag_put_req, nothing},
    [MSG_FRAG_GET] = {frag_ref, frag_get_reply},
    [MSG_FRAG_STAT] = {frag_ref, frag_hdr},
    [MSG_FRAG_DEL] = {frag_ref, frag_del_reply},
    [MSG_FRAG_LIST] = {frag_list_req, frag_list_reply},
    [MSG_META_OP] = {meta_op_req, meta_op_reply},
    [MSG_META_LOOKUP] = {lookup_req, attr},
    [MSG_META_GETATTR] = {ino_req, attr},
    [MSG_META_READDIR] = {readdir_req, readdir_reply},
    [MSG_META_READLINK] = {ino_req, readlink_reply},
    [MSG_META_GETXATTR] = {getxattr_req, getxattr_reply},
    [MSG_META_LISTXATTR] = {ino_req, listxattr_reply},
    [MSG_META_EXTENTS] = {extents_req, extents_reply},
    [MSG_META_STATFS] = {bucket, statfs_reply},
    [MSG_META_RESOLVE] = {resolve_req, attr},
    [MSG_META_LIST] = {list_req, list_reply},
    [MSG_META_BUCKETS] = {nothing, list_reply},
    [MSG_META_SHARD_OPEN] = {bucket, nothing},
    [MSG_META_SHARDS] = {bucket, shards_reply},
    [MSG_META_MEMBER] = {member_req, nothing},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t type, reply;
	uint8_t *body;
	struct rd r;
	void (*fn)(struct rd *);

	if (size < 2) {
		return 0;
	}
	type = data[0];
	reply = data[1] & 1;
	if (type >= MSG_META_MAX || msgs[type].req == NULL) {
		(void)msg_type_name(type);
		return 0;
	}
	(void)msg_type_name(type);
	fn = reply ? msgs[type].reply : msgs[type].req;
	body = fuzz_dup(data + 2, size - 2);
	rd_init(&r, body, size - 2);
	fn(&r);
	(void)rd_done(&r);
	if (r.left > size - 2) {
		fuzz_fail("reader moved outside the body");
	}
	free(body);
	return 0;
}
