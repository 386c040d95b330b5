/* test_proto.c: the wire layer (proto/): cursor round trips and bounds,
 * and every catalogue decoder (msg.h and meta.h) against truncation,
 * trailing bytes and garbage. Frames, replay and manifests: test_frame.c.
 * Single-threaded.
 * Buffers handed to decoders are allocated to their exact length, so a run
 * under ASan or valgrind turns any over-read into a failure. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../common/ec.h"
#include "../../common/err.h"
#include "../../proto/frame.h"
#include "../../proto/manifest.h"
#include "../../proto/meta.h"
#include "../../proto/msg.h"
#include "../../proto/wire.h"
#include "../lib/testlib.h"
#include "proto_fixture.h"

/* ---- the catalogue: one valid sample of each message field type ---- */

union any {
	struct frag_ref ref;
	struct frag_hdr hdr;
	struct node_status st;
	char err[MSG_ERR_MAX];
	struct meta_attr attr;
	struct meta_extent ext;
	struct meta_op op;
	struct meta_result res;
};

static const uint8_t sample_data[37] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0, 0, 255, 254};

static void sample_frag_hdr(struct frag_hdr *h)
{
	memset(h, 0, sizeof(*h));
	for (int i = 0; i < BLOCK_ID_LEN; i++) {
		h->ref.block_id[i] = (uint8_t)(0xa0 + i);
	}
	h->ref.index = 5;
	h->k = 4;
	h->m = 2;
	h->block_len = 1000;
	h->frag_len = (uint32_t)ec_frag_len((struct ec_profile){4, 2}, 1000);
	h->csum = 0x1122334455667788ull;
}

static void sample_node_status(struct node_status *s)
{
	memset(s, 0, sizeof(*s));
	s->node_id = 7;
	snprintf(s->zone, sizeof(s->zone), "rack-7");
	s->disk_total = 1ull << 40;
	s->disk_free = (1ull << 39) + 3;
	s->frag_count = 12345;
	s->frag_bytes = 987654321;
	s->uptime_s = 86400;
	s->requests = UINT64_MAX;
	s->auth_failures = 3;
	s->bad_requests = 4;
	s->checksum_errors = 5;
}

static void sample_attr(struct meta_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = 0x1234567890ull;
	a->mode = 0100644;
	a->nlink = 2;
	a->uid = 1000;
	a->gid = 100;
	a->rdev = 0;
	a->size = 5ull << 30;
	a->blocks = 10485760;
	a->atime_ns = -1; /* before the epoch: signed on the wire */
	a->mtime_ns = 1700000000123456789ll;
	a->ctime_ns = INT64_MAX;
	a->gen = 99;
}

static void sample_extent(struct meta_extent *e, uint64_t chunk)
{
	memset(e, 0, sizeof(*e));
	e->chunk = chunk;
	for (int i = 0; i < BLOCK_ID_LEN; i++) {
		e->blk.id[i] = (uint8_t)(chunk * 16 + (uint64_t)i);
	}
	e->blk.k = 6;
	e->blk.m = 3;
	e->blk.len = 4u << 20;
	e->blk.csum = 0xc0ffee00ull + chunk;
	e->len = (4u << 20) - 17;
}

static struct meta_extent sample_exts[2];

/* A WRITE with every field set, a data blob and two extents. */
static void sample_op(struct meta_op *op)
{
	memset(op, 0, sizeof(*op));
	op->type = MOP_WRITE;
	op->flags = META_F_TRUNCATE | META_F_PATH;
	op->op_id = 0xabcdef;
	op->now_ns = 1700000000000000000ll;
	op->new_ino = 0;
	op->parent = 1;
	op->ino = 42;
	op->newparent = 3;
	snprintf(op->name, sizeof(op->name), "dir/sub/file.bin");
	snprintf(op->newname, sizeof(op->newname), "renamed.bin");
	op->mode = 0100600;
	op->uid = 1;
	op->gid = 2;
	op->rdev = 3;
	op->valid = META_SET_SIZE | META_SET_MTIME;
	op->size = 8u << 20;
	op->atime_ns = -5;
	op->mtime_ns = 6;
	op->data = sample_data;
	op->data_len = sizeof(sample_data);
	op->chunk_size = 4u << 20;
	op->inline_max = 4096;
	sample_extent(&sample_exts[0], 0);
	sample_extent(&sample_exts[1], 1);
	op->ext = sample_exts;
	op->n_ext = 2;
}

static void sample_result(struct meta_result *res)
{
	memset(res, 0, sizeof(*res));
	res->status = -ENOTEMPTY;
	sample_attr(&res->attr);
	res->freed_ino = 77;
}

static void enc_frag_ref(struct wr *w)
{
	struct frag_hdr h;

	sample_frag_hdr(&h);
	msg_put_frag_ref(w, &h.ref);
}

static void enc_frag_hdr(struct wr *w)
{
	struct frag_hdr h;

	sample_frag_hdr(&h);
	msg_put_frag_hdr(w, &h);
}

static void enc_node_status(struct wr *w)
{
	struct node_status s;

	sample_node_status(&s);
	msg_put_node_status(w, &s);
}

static void enc_error(struct wr *w)
{
	msg_put_error(w, "node 3 is full");
}

static void enc_attr(struct wr *w)
{
	struct meta_attr a;

	sample_attr(&a);
	meta_put_attr(w, &a);
}

static void enc_extent(struct wr *w)
{
	struct meta_extent e;

	sample_extent(&e, 7);
	meta_put_extent(w, &e);
}

static void enc_op(struct wr *w)
{
	static struct meta_op op;

	sample_op(&op);
	meta_put_op(w, &op);
}

static void enc_result(struct wr *w)
{
	struct meta_result res;

	sample_result(&res);
	meta_put_result(w, &res);
}

static void dec_frag_ref(struct rd *r, union any *a)
{
	msg_get_frag_ref(r, &a->ref);
}
static void dec_frag_hdr(struct rd *r, union any *a)
{
	msg_get_frag_hdr(r, &a->hdr);
}
static void dec_node_status(struct rd *r, union any *a)
{
	msg_get_node_status(r, &a->st);
}
static void dec_error(struct rd *r, union any *a)
{
	msg_get_error(r, a->err, sizeof(a->err));
}
static void dec_attr(struct rd *r, union any *a)
{
	meta_get_attr(r, &a->attr);
}
static void dec_extent(struct rd *r, union any *a)
{
	meta_get_extent(r, &a->ext);
}
static void dec_op(struct rd *r, union any *a)
{
	meta_get_op(r, &a->op);
}
static void dec_result(struct rd *r, union any *a)
{
	meta_get_result(r, &a->res);
}
static void free_op(union any *a)
{
	meta_op_free(&a->op);
}

/* Every field type of the catalogue (msg.h and meta.h) with a valid
 * sample; release frees what a decode allocated, whatever its outcome. */
struct cat {
	const char *name;
	void (*enc)(struct wr *w);
	void (*dec)(struct rd *r, union any *a);
	void (*release)(union any *a);
};

enum { C_REF, C_HDR, C_STATUS, C_ERROR, C_ATTR, C_EXTENT, C_OP, C_RESULT };

static const struct cat catalogue[] = {
    [C_REF] = {"frag_ref", enc_frag_ref, dec_frag_ref, NULL},
    [C_HDR] = {"frag_hdr", enc_frag_hdr, dec_frag_hdr, NULL},
    [C_STATUS] = {"node_status", enc_node_status, dec_node_status, NULL},
    [C_ERROR] = {"error", enc_error, dec_error, NULL},
    [C_ATTR] = {"meta_attr", enc_attr, dec_attr, NULL},
    [C_EXTENT] = {"meta_extent", enc_extent, dec_extent, NULL},
    [C_OP] = {"meta_op", enc_op, dec_op, free_op},
    [C_RESULT] = {"meta_result", enc_result, dec_result, NULL},
};

static uint8_t *cat_encode(const struct cat *c, size_t *len)
{
	struct wr w;

	wr_init(&w, 0);
	c->enc(&w);
	return wr_take(&w, len);
}

static void cat_release(const struct cat *c, union any *a)
{
	if (c->release != NULL) {
		c->release(a);
	}
}

/* Decodes the n bytes at p (copied to an exact-size buffer that is freed
 * before returning, so only non-pointer fields may be inspected) and
 * releases what the decode allocated; returns the reader's final state. */
static void cat_decode(const struct cat *c, const uint8_t *p, size_t n, union any *a, bool *ok,
		       bool *done)
{
	uint8_t *b = dup_exact(p, n);
	struct rd r;

	memset(a, 0x5a, sizeof(*a));
	rd_init(&r, b, n);
	c->dec(&r, a);
	*ok = rd_ok(&r);
	*done = rd_done(&r);
	cat_release(c, a);
	free(b);
}

/* ---- wire ---- */

/* Every field type written by the writer reads back identically, in
 * little-endian order, including extremes, empty strings and blobs. */
START_TEST(test_wire_roundtrip)
{
	static const uint8_t raw[5] = {9, 8, 7, 6, 5};
	struct wr w;
	struct rd r;
	uint8_t *buf, out5[5];
	char s[32];
	size_t len, blen;
	const uint8_t *bp;
	uint8_t *sp;

	wr_init(&w, 0);
	wr_u8(&w, 0xab);
	wr_u16(&w, 0xbeef);
	wr_u32(&w, 0xdeadbeefu);
	wr_u64(&w, 0x0123456789abcdefull);
	wr_u8(&w, 0);
	wr_u16(&w, UINT16_MAX);
	wr_u32(&w, UINT32_MAX);
	wr_u64(&w, UINT64_MAX);
	wr_bytes(&w, raw, sizeof(raw));
	wr_bytes(&w, NULL, 0);
	wr_str(&w, "");
	wr_str(&w, "hello");
	wr_blob(&w, raw, 3);
	wr_blob(&w, NULL, 0);
	sp = wr_space(&w, 2);
	ck_assert_ptr_nonnull(sp);
	sp[0] = 0x11;
	sp[1] = 0x22;
	buf = wr_take(&w, &len);
	ck_assert_uint_eq(len, 1 + 2 + 4 + 8 + 1 + 2 + 4 + 8 + 5 + 2 + 2 + 5 + 4 + 3 + 4 + 2);

	/* Little-endian on the wire whatever the host. */
	ck_assert_uint_eq(buf[0], 0xab);
	ck_assert_uint_eq(buf[1], 0xef);
	ck_assert_uint_eq(buf[2], 0xbe);
	ck_assert_uint_eq(buf[3], 0xef);
	ck_assert_uint_eq(buf[6], 0xde);
	ck_assert_uint_eq(buf[7], 0xef);
	ck_assert_uint_eq(buf[14], 0x01);

	rd_init(&r, buf, len);
	ck_assert_uint_eq(rd_u8(&r), 0xab);
	ck_assert_uint_eq(rd_u16(&r), 0xbeef);
	ck_assert_uint_eq(rd_u32(&r), 0xdeadbeefu);
	ck_assert_uint_eq(rd_u64(&r), 0x0123456789abcdefull);
	ck_assert_uint_eq(rd_u8(&r), 0);
	ck_assert_uint_eq(rd_u16(&r), UINT16_MAX);
	ck_assert_uint_eq(rd_u32(&r), UINT32_MAX);
	ck_assert_uint_eq(rd_u64(&r), UINT64_MAX);
	rd_bytes(&r, out5, sizeof(out5));
	ck_assert_mem_eq(out5, raw, sizeof(raw));
	rd_str(&r, s, sizeof(s));
	ck_assert_str_eq(s, "");
	rd_str(&r, s, sizeof(s));
	ck_assert_str_eq(s, "hello");
	bp = rd_blob(&r, 100, &blen);
	ck_assert_ptr_nonnull(bp);
	ck_assert_uint_eq(blen, 3);
	ck_assert_mem_eq(bp, raw, 3);
	ck_assert(bp >= buf && bp + blen <= buf + len); /* points into the input */
	bp = rd_blob(&r, 100, &blen);
	ck_assert_uint_eq(blen, 0);
	ck_assert(rd_ok(&r));
	ck_assert(!rd_done(&r));
	bp = rd_ptr(&r, 2);
	ck_assert_ptr_nonnull(bp);
	ck_assert_uint_eq(bp[0], 0x11);
	ck_assert_uint_eq(bp[1], 0x22);
	ck_assert(rd_done(&r));
	free(buf);
}
END_TEST

/* The reserve stays in front of the body, wr_len excludes it, and growth
 * past many reallocations keeps every value. */
START_TEST(test_wire_reserve_growth)
{
	struct wr w;
	struct rd r;

	wr_init(&w, FRAME_HDR_LEN);
	ck_assert_int_eq(wr_status(&w), 0);
	ck_assert_uint_eq(w.len, FRAME_HDR_LEN);
	ck_assert_uint_eq(wr_len(&w), 0);
	for (uint32_t i = 0; i < 100000; i++) {
		wr_u32(&w, i * 2654435761u);
	}
	ck_assert_int_eq(wr_status(&w), 0);
	ck_assert_uint_eq(wr_len(&w), 400000);
	for (size_t i = 0; i < FRAME_HDR_LEN; i++) {
		ck_assert_uint_eq(w.buf[i], 0);
	}
	rd_init(&r, w.buf + w.reserve, wr_len(&w));
	for (uint32_t i = 0; i < 100000; i++) {
		ck_assert_uint_eq(rd_u32(&r), i * 2654435761u);
	}
	ck_assert(rd_done(&r));
	wr_free(&w);
	ck_assert_ptr_null(w.buf);
}
END_TEST

/* A writer over a fixed buffer fills it in place, never grows or frees
 * it, and drops a field that does not fit with a sticky -EOVERFLOW. */
START_TEST(test_wire_fixed_buffer)
{
	uint8_t buf[16];
	struct wr w;
	struct rd r;

	memset(buf, 0xaa, sizeof(buf));
	wr_init_buf(&w, buf, 12);
	wr_u32(&w, 0x04030201u);
	wr_u64(&w, 0x0c0b0a0908070605ull);
	ck_assert_int_eq(wr_status(&w), 0);
	ck_assert_uint_eq(w.len, 12);
	ck_assert_ptr_eq(w.buf, buf);
	for (int i = 0; i < 12; i++) {
		ck_assert_uint_eq(buf[i], i + 1);
	}
	wr_u8(&w, 0xee); /* no room: dropped, the bytes after stay untouched */
	ck_assert_int_eq(wr_status(&w), -EOVERFLOW);
	ck_assert_uint_eq(w.len, 12);
	ck_assert_uint_eq(buf[12], 0xaa);
	wr_u8(&w, 0);
	ck_assert_ptr_null(wr_space(&w, 0));
	ck_assert_int_eq(wr_status(&w), -EOVERFLOW);
	wr_free(&w); /* must not free a stack buffer (ASan would say) */

	rd_init(&r, buf, 12);
	ck_assert_uint_eq(rd_u32(&r), 0x04030201u);
	ck_assert_uint_eq(rd_u64(&r), 0x0c0b0a0908070605ull);
	ck_assert(rd_done(&r));
	/* a field wider than what is left overflows at once, in bytes */
	wr_init_buf(&w, buf, 3);
	wr_u32(&w, 1);
	ck_assert_int_eq(wr_status(&w), -EOVERFLOW);
	ck_assert_uint_eq(w.len, 0);
}
END_TEST

/* A short read marks the reader bad for good: that read and every later
 * one return zeros and consume nothing, and rd_bytes zero-fills. */
START_TEST(test_wire_sticky_bad)
{
	static const uint8_t four[4] = {1, 2, 3, 4};
	uint8_t *b = dup_exact(four, sizeof(four));
	uint8_t out[8];
	struct rd r;
	size_t len = 99;
	char s[8] = "zzz";

	rd_init(&r, b, 4);
	ck_assert_uint_eq(rd_u64(&r), 0);
	ck_assert(!rd_ok(&r));
	ck_assert_uint_eq(r.left, 4);
	ck_assert_uint_eq(rd_u8(&r), 0);
	ck_assert_uint_eq(rd_u16(&r), 0);
	ck_assert_uint_eq(rd_u32(&r), 0);
	memset(out, 0xff, sizeof(out));
	rd_bytes(&r, out, 2);
	ck_assert_uint_eq(out[0], 0);
	ck_assert_uint_eq(out[1], 0);
	ck_assert_uint_eq(out[2], 0xff);
	ck_assert_ptr_null(rd_ptr(&r, 1));
	ck_assert_ptr_null(rd_blob(&r, 100, &len));
	ck_assert_uint_eq(len, 0);
	rd_str(&r, s, sizeof(s));
	ck_assert_str_eq(s, "");
	ck_assert(!rd_done(&r));

	/* Reading exactly to the end is fine; one more byte is not. */
	rd_init(&r, b, 4);
	ck_assert_uint_eq(rd_u32(&r), 0x04030201u);
	ck_assert(rd_done(&r));
	ck_assert_uint_eq(rd_u8(&r), 0);
	ck_assert(!rd_ok(&r));

	/* A zero-length input is a valid empty message. */
	rd_init(&r, b, 0);
	ck_assert(rd_done(&r));
	rd_bytes(&r, out, 0);
	ck_assert(rd_done(&r));
	memset(out, 0xff, sizeof(out));
	rd_bytes(&r, out, 8);
	ck_assert(!rd_ok(&r));
	for (size_t i = 0; i < 8; i++) {
		ck_assert_uint_eq(out[i], 0);
	}
	free(b);
}
END_TEST

/* Builds "u16 len, bytes" with the length field free to lie. */
static uint8_t *make_str(uint16_t claimed, const char *bytes, size_t n, size_t *len)
{
	uint8_t *b = malloc(2 + n + 1);

	ck_assert_ptr_nonnull(b);
	b[0] = (uint8_t)claimed;
	b[1] = (uint8_t)(claimed >> 8);
	memcpy(b + 2, bytes, n);
	*len = 2 + n;
	return b;
}

/* rd_str accepts exactly cap-1 bytes, refuses cap or more, refuses an
 * embedded NUL, a length beyond the input and anything over WIRE_STR_MAX
 * even when the caller's buffer is larger. */
START_TEST(test_wire_str_limits)
{
	char out[8];
	char *big = malloc(WIRE_STR_MAX + 2);
	char *bigout = malloc(WIRE_STR_MAX + 10);
	uint8_t *b;
	struct rd r;
	size_t len;

	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_nonnull(bigout);
	b = make_str(7, "1234567", 7, &len);
	rd_init(&r, b, len);
	rd_str(&r, out, sizeof(out));
	ck_assert(rd_done(&r));
	ck_assert_str_eq(out, "1234567");
	free(b);

	b = make_str(8, "12345678", 8, &len);
	rd_init(&r, b, len);
	rd_str(&r, out, sizeof(out));
	ck_assert(!rd_ok(&r));
	ck_assert_str_eq(out, "");
	free(b);

	b = make_str(5, "ab\0cd", 5, &len);
	rd_init(&r, b, len);
	rd_str(&r, out, sizeof(out));
	ck_assert(!rd_ok(&r));
	free(b);

	b = make_str(6, "abc", 3, &len); /* claims more than present */
	rd_init(&r, b, len);
	rd_str(&r, out, sizeof(out));
	ck_assert(!rd_ok(&r));
	ck_assert_str_eq(out, "");
	free(b);

	memset(big, 'x', WIRE_STR_MAX + 1);
	b = make_str(WIRE_STR_MAX, big, WIRE_STR_MAX, &len);
	rd_init(&r, b, len);
	rd_str(&r, bigout, WIRE_STR_MAX + 10);
	ck_assert(rd_done(&r));
	ck_assert_uint_eq(strlen(bigout), WIRE_STR_MAX);
	free(b);

	b = make_str(WIRE_STR_MAX + 1, big, WIRE_STR_MAX + 1, &len);
	rd_init(&r, b, len);
	rd_str(&r, bigout, WIRE_STR_MAX + 10);
	ck_assert(!rd_ok(&r));
	free(b);

	/* The writer never emits what the reader would refuse. */
	{
		struct wr w;

		big[WIRE_STR_MAX + 1] = '\0';
		wr_init(&w, 0);
		wr_str(&w, big);
		b = wr_take(&w, &len);
		ck_assert_uint_eq(len, 2 + WIRE_STR_MAX);
		rd_init(&r, b, len);
		rd_str(&r, bigout, WIRE_STR_MAX + 1);
		ck_assert(rd_done(&r));
		free(b);
	}
	free(big);
	free(bigout);
}
END_TEST

/* rd_blob accepts a length equal to max, refuses max+1 before looking at
 * the bytes, and refuses a length beyond the input. */
START_TEST(test_wire_blob_limits)
{
	uint8_t raw[4 + 11];
	uint8_t *b;
	const uint8_t *p;
	struct rd r;
	size_t len;

	memset(raw, 'b', sizeof(raw));
	raw[0] = 10;
	raw[1] = raw[2] = raw[3] = 0;
	b = dup_exact(raw, 4 + 10);
	rd_init(&r, b, 4 + 10);
	p = rd_blob(&r, 10, &len);
	ck_assert_ptr_eq(p, b + 4);
	ck_assert_uint_eq(len, 10);
	ck_assert(rd_done(&r));
	rd_init(&r, b, 4 + 10);
	p = rd_blob(&r, 9, &len);
	ck_assert_ptr_null(p);
	ck_assert_uint_eq(len, 0);
	ck_assert(!rd_ok(&r));
	free(b);

	raw[0] = 11;
	b = dup_exact(raw, 4 + 10); /* one byte short */
	rd_init(&r, b, 4 + 10);
	p = rd_blob(&r, 100, &len);
	ck_assert_ptr_null(p);
	ck_assert(!rd_ok(&r));
	free(b);

	raw[0] = raw[1] = raw[2] = raw[3] = 0xff; /* 4 GiB - 1 claimed */
	b = dup_exact(raw, sizeof(raw));
	rd_init(&r, b, sizeof(raw));
	ck_assert_ptr_null(rd_blob(&r, SIZE_MAX, &len));
	ck_assert(!rd_ok(&r));
	free(b);
}
END_TEST

/* ---- the catalogue ---- */

static void assert_attr_eq(const struct meta_attr *x, const struct meta_attr *y)
{
	ck_assert_uint_eq(x->ino, y->ino);
	ck_assert_uint_eq(x->mode, y->mode);
	ck_assert_uint_eq(x->nlink, y->nlink);
	ck_assert_uint_eq(x->uid, y->uid);
	ck_assert_uint_eq(x->gid, y->gid);
	ck_assert_uint_eq(x->rdev, y->rdev);
	ck_assert_uint_eq(x->size, y->size);
	ck_assert_uint_eq(x->blocks, y->blocks);
	ck_assert_int_eq(x->atime_ns, y->atime_ns);
	ck_assert_int_eq(x->mtime_ns, y->mtime_ns);
	ck_assert_int_eq(x->ctime_ns, y->ctime_ns);
	ck_assert_uint_eq(x->gen, y->gen);
}

static void assert_extent_eq(const struct meta_extent *x, const struct meta_extent *y)
{
	ck_assert_uint_eq(x->chunk, y->chunk);
	ck_assert_mem_eq(x->blk.id, y->blk.id, BLOCK_ID_LEN);
	ck_assert_uint_eq(x->blk.k, y->blk.k);
	ck_assert_uint_eq(x->blk.m, y->blk.m);
	ck_assert_uint_eq(x->blk.len, y->blk.len);
	ck_assert_uint_eq(x->blk.csum, y->blk.csum);
	ck_assert_uint_eq(x->len, y->len);
}

/* Decodes a catalogue sample in place (pointers into the buffer stay
 * valid until the caller frees *buf). */
static void decode_in_place(size_t c, union any *a, uint8_t **buf)
{
	size_t len;
	struct rd r;

	*buf = cat_encode(&catalogue[c], &len);
	rd_init(&r, *buf, len);
	catalogue[c].dec(&r, a);
	ck_assert_msg(rd_done(&r), "%s: the valid sample does not decode", catalogue[c].name);
}

/* Each catalogue type decodes to exactly the values encoded. */
START_TEST(test_msg_roundtrip)
{
	union any *a = malloc(sizeof(*a));
	uint8_t *b;

	ck_assert_ptr_nonnull(a);
	{
		struct frag_hdr h;

		sample_frag_hdr(&h);
		decode_in_place(C_REF, a, &b);
		ck_assert_mem_eq(a->ref.block_id, h.ref.block_id, BLOCK_ID_LEN);
		ck_assert_uint_eq(a->ref.index, h.ref.index);
		free(b);
		decode_in_place(C_HDR, a, &b);
		ck_assert_mem_eq(a->hdr.ref.block_id, h.ref.block_id, BLOCK_ID_LEN);
		ck_assert_uint_eq(a->hdr.ref.index, h.ref.index);
		ck_assert_uint_eq(a->hdr.k, h.k);
		ck_assert_uint_eq(a->hdr.m, h.m);
		ck_assert_uint_eq(a->hdr.block_len, h.block_len);
		ck_assert_uint_eq(a->hdr.frag_len, h.frag_len);
		ck_assert_uint_eq(a->hdr.csum, h.csum);
		free(b);
	}
	{
		struct node_status s;

		sample_node_status(&s);
		decode_in_place(C_STATUS, a, &b);
		ck_assert_uint_eq(a->st.node_id, s.node_id);
		ck_assert_str_eq(a->st.zone, s.zone);
		ck_assert_uint_eq(a->st.disk_total, s.disk_total);
		ck_assert_uint_eq(a->st.disk_free, s.disk_free);
		ck_assert_uint_eq(a->st.frag_count, s.frag_count);
		ck_assert_uint_eq(a->st.frag_bytes, s.frag_bytes);
		ck_assert_uint_eq(a->st.uptime_s, s.uptime_s);
		ck_assert_uint_eq(a->st.requests, s.requests);
		ck_assert_uint_eq(a->st.auth_failures, s.auth_failures);
		ck_assert_uint_eq(a->st.bad_requests, s.bad_requests);
		ck_assert_uint_eq(a->st.checksum_errors, s.checksum_errors);
		free(b);
	}
	decode_in_place(C_ERROR, a, &b);
	ck_assert_str_eq(a->err, "node 3 is full");
	free(b);
	{
		struct meta_attr at;
		struct meta_extent e;
		struct meta_result res;

		sample_attr(&at);
		decode_in_place(C_ATTR, a, &b);
		assert_attr_eq(&a->attr, &at);
		free(b);
		sample_extent(&e, 7);
		decode_in_place(C_EXTENT, a, &b);
		assert_extent_eq(&a->ext, &e);
		free(b);
		sample_result(&res);
		decode_in_place(C_RESULT, a, &b);
		ck_assert_int_eq(a->res.status, res.status);
		assert_attr_eq(&a->res.attr, &res.attr);
		ck_assert_uint_eq(a->res.freed_ino, res.freed_ino);
		free(b);
	}
	{
		static struct meta_op op;

		sample_op(&op);
		decode_in_place(C_OP, a, &b);
		ck_assert_uint_eq(a->op.type, op.type);
		ck_assert_uint_eq(a->op.flags, op.flags);
		ck_assert_uint_eq(a->op.op_id, op.op_id);
		ck_assert_int_eq(a->op.now_ns, op.now_ns);
		ck_assert_uint_eq(a->op.new_ino, op.new_ino);
		ck_assert_uint_eq(a->op.parent, op.parent);
		ck_assert_uint_eq(a->op.ino, op.ino);
		ck_assert_uint_eq(a->op.newparent, op.newparent);
		ck_assert_str_eq(a->op.name, op.name);
		ck_assert_str_eq(a->op.newname, op.newname);
		ck_assert_uint_eq(a->op.mode, op.mode);
		ck_assert_uint_eq(a->op.uid, op.uid);
		ck_assert_uint_eq(a->op.gid, op.gid);
		ck_assert_uint_eq(a->op.rdev, op.rdev);
		ck_assert_uint_eq(a->op.valid, op.valid);
		ck_assert_uint_eq(a->op.size, op.size);
		ck_assert_int_eq(a->op.atime_ns, op.atime_ns);
		ck_assert_int_eq(a->op.mtime_ns, op.mtime_ns);
		ck_assert_uint_eq(a->op.chunk_size, op.chunk_size);
		ck_assert_uint_eq(a->op.inline_max, op.inline_max);
		ck_assert_uint_eq(a->op.data_len, op.data_len);
		ck_assert(a->op.data > b); /* points into the input */
		ck_assert_mem_eq(a->op.data, op.data, op.data_len);
		ck_assert_uint_eq(a->op.n_ext, 2);
		assert_extent_eq(&a->op.ext[0], &op.ext[0]);
		assert_extent_eq(&a->op.ext[1], &op.ext[1]);
		meta_op_free(&a->op);
		ck_assert_ptr_null(a->op.ext);
		free(b);
	}
	free(a);
}
END_TEST

/* For every catalogue type, every truncation 0..len-1 of a valid encoding
 * leaves the reader bad (never over-reads: the buffer is exact-size), and
 * 1..3 trailing bytes leave it ok but not done. */
START_TEST(test_msg_truncation)
{
	union any *a = malloc(sizeof(*a));

	ck_assert_ptr_nonnull(a);
	for (size_t c = 0; c < OBJ_ARRAY_LEN(catalogue); c++) {
		const struct cat *ct = &catalogue[c];
		size_t len;
		uint8_t *b = cat_encode(ct, &len);
		uint8_t *ext;
		bool ok, done;

		cat_decode(ct, b, len, a, &ok, &done);
		ck_assert_msg(done, "%s: the valid sample does not decode", ct->name);
		for (size_t n = 0; n < len; n++) {
			cat_decode(ct, b, n, a, &ok, &done);
			ck_assert_msg(!ok, "%s: truncated to %zu of %zu bytes decoded", ct->name, n,
				      len);
		}
		ext = malloc(len + 3);
		ck_assert_ptr_nonnull(ext);
		memcpy(ext, b, len);
		memset(ext + len, 0, 3);
		for (size_t extra = 1; extra <= 3; extra++) {
			cat_decode(ct, ext, len + extra, a, &ok, &done);
			ck_assert_msg(ok, "%s: +%zu bytes broke the fields", ct->name, extra);
			ck_assert_msg(!done, "%s: +%zu trailing bytes accepted", ct->name, extra);
		}
		free(ext);
		free(b);
	}
	free(a);
}
END_TEST

static void check_extent(const struct meta_extent *e)
{
	if (e->blk.k == 0 && e->blk.m == 0 && e->blk.len == 0 && e->len == 0) {
		return; /* a hole (META_F_PUNCH) */
	}
	ck_assert(e->blk.k >= 1 && e->blk.k <= EC_MAX_K && e->blk.m <= EC_MAX_M);
	ck_assert(e->blk.len >= 1 && e->blk.len <= MSG_BLOCK_MAX && e->len <= e->blk.len);
}

/* Checks what a decoder that reported success promises about its output. */
static void check_decoded(size_t c, const union any *a, const uint8_t *buf, size_t len)
{
	switch (c) {
	case C_HDR:
		ck_assert(a->hdr.k >= 1 && a->hdr.k <= EC_MAX_K && a->hdr.m <= EC_MAX_M);
		ck_assert(a->hdr.ref.index < a->hdr.k + a->hdr.m);
		ck_assert(a->hdr.block_len <= MSG_BLOCK_MAX);
		ck_assert_uint_eq(
		    a->hdr.frag_len,
		    ec_frag_len((struct ec_profile){a->hdr.k, a->hdr.m}, a->hdr.block_len));
		break;
	case C_STATUS:
		ck_assert(memchr(a->st.zone, '\0', sizeof(a->st.zone)) != NULL);
		break;
	case C_ERROR:
		ck_assert(memchr(a->err, '\0', sizeof(a->err)) != NULL);
		break;
	case C_EXTENT:
		check_extent(&a->ext);
		break;
	case C_OP:
		ck_assert(a->op.type >= 1 && a->op.type < MOP_MAX);
		ck_assert(a->op.n_ext <= META_EXTENTS_MAX);
		ck_assert(a->op.data_len <= META_XATTR_VALUE_MAX);
		if (a->op.data_len > 0) {
			ck_assert(a->op.data >= buf && a->op.data + a->op.data_len <= buf + len);
		}
		for (size_t i = 0; i < a->op.n_ext; i++) {
			check_extent(&a->op.ext[i]);
		}
		break;
	case C_RESULT:
		ck_assert(a->res.status <= 0 && a->res.status >= -4095);
		break;
	default:
		break;
	}
}

/* 10000 seeded garbage inputs (pure noise, and valid encodings with bytes
 * flipped, cut or extended) never crash or over-read any decoder, the
 * manifest decoder or frame_open; what decodes obeys the decoder's limits. */
START_TEST(test_msg_garbage)
{
	union any *a = malloc(sizeof(*a));
	uint8_t *enc[OBJ_ARRAY_LEN(catalogue)];
	size_t enc_len[OBJ_ARRAY_LEN(catalogue)];
	struct frame_key key = {.len = 16};
	uint64_t seed = 20240601;
	uint8_t tmp[600];

	ck_assert_ptr_nonnull(a);
	memcpy(key.secret, "garbage-test-key", 16);
	for (size_t c = 0; c < OBJ_ARRAY_LEN(catalogue); c++) {
		enc[c] = cat_encode(&catalogue[c], &enc_len[c]);
	}
	for (int it = 0; it < 10000; it++) {
		uint64_t v = rng_next(&seed);
		size_t len;
		uint8_t *b;

		if (v % 2 == 0) {
			len = (size_t)(rng_next(&seed) % 512);
			for (size_t i = 0; i < len; i++) {
				tmp[i] = (uint8_t)rng_next(&seed);
			}
			/* Small length prefixes make the noise reach deeper. */
			if (len >= 2 && v % 4 == 0) {
				tmp[0] = (uint8_t)(rng_next(&seed) % 16);
				tmp[1] = 0;
			}
		} else {
			size_t c = (size_t)(rng_next(&seed) % OBJ_ARRAY_LEN(catalogue));
			int flips = 1 + (int)(rng_next(&seed) % 4);

			len = enc_len[c];
			memcpy(tmp, enc[c], len);
			for (int f = 0; f < flips && len > 0; f++) {
				size_t at = (size_t)(rng_next(&seed) % len);

				tmp[at] ^= (uint8_t)(1u << (rng_next(&seed) % 8));
			}
			if (v % 3 == 0 && len > 0) {
				len = (size_t)(rng_next(&seed) % len);
			} else if (v % 5 == 0) {
				size_t extra = (size_t)(rng_next(&seed) % 8);

				for (size_t i = 0; i < extra; i++) {
					tmp[len + i] = (uint8_t)rng_next(&seed);
				}
				len += extra;
			}
		}
		b = dup_exact(tmp, len);
		for (size_t c = 0; c < OBJ_ARRAY_LEN(catalogue); c++) {
			struct rd r;

			memset(a, 0x5a, sizeof(*a));
			rd_init(&r, b, len);
			catalogue[c].dec(&r, a);
			ck_assert(r.left <= len);
			if (rd_ok(&r)) {
				check_decoded(c, a, b, len);
			}
			cat_release(&catalogue[c], a);
		}
		{
			struct manifest m;
			uint64_t total = 0;

			if (manifest_decode(b, len, &m) == 0) {
				if (m.is_inline) {
					ck_assert(m.inline_data >= b &&
						  m.inline_data + m.size <= b + len);
				} else {
					for (size_t i = 0; i < m.n_blocks; i++) {
						total += m.blocks[i].len;
					}
					ck_assert_uint_eq(total, m.size);
				}
				manifest_free(&m);
			}
		}
		{
			struct frame_hdr h;
			const uint8_t *body;

			ck_assert_int_ne(frame_open(&key, b, len, &h, &body), 0);
		}
		free(b);
	}
	for (size_t c = 0; c < OBJ_ARRAY_LEN(catalogue); c++) {
		free(enc[c]);
	}
	free(a);
}
END_TEST

/* Decodes a frag_hdr built from the given fields; true if accepted. */
static bool frag_hdr_ok(uint8_t index, uint8_t k, uint8_t m, uint64_t block_len, uint32_t frag_len)
{
	struct frag_hdr h, out;
	struct wr w;
	struct rd r;
	uint8_t *b;
	size_t len;
	bool ok;

	sample_frag_hdr(&h);
	h.ref.index = index;
	h.k = k;
	h.m = m;
	h.block_len = block_len;
	h.frag_len = frag_len;
	wr_init(&w, 0);
	msg_put_frag_hdr(&w, &h);
	b = wr_take(&w, &len);
	rd_init(&r, b, len);
	msg_get_frag_hdr(&r, &out);
	ok = rd_done(&r);
	free(b);
	return ok;
}

static uint32_t fl(uint8_t k, uint8_t m, uint64_t block_len)
{
	return (uint32_t)ec_frag_len((struct ec_profile){k, m}, (size_t)block_len);
}

/* A frag_hdr must describe a codable fragment: index < k+m, 1 <= k <= 32,
 * m <= 16, block_len <= MSG_BLOCK_MAX and frag_len equal to the codec's;
 * the limits themselves are accepted. */
START_TEST(test_msg_frag_hdr_limits)
{
	ck_assert(frag_hdr_ok(5, 4, 2, 1000, fl(4, 2, 1000)));
	ck_assert(frag_hdr_ok(47, 32, 16, 1000, fl(32, 16, 1000)));
	ck_assert(frag_hdr_ok(0, 1, 0, 0, 0));
	ck_assert(frag_hdr_ok(0, 1, 0, MSG_BLOCK_MAX, fl(1, 0, MSG_BLOCK_MAX)));
	ck_assert(frag_hdr_ok(0, 4, 2, 1, 32));

	ck_assert(!frag_hdr_ok(6, 4, 2, 1000, fl(4, 2, 1000))); /* index == k+m */
	ck_assert(!frag_hdr_ok(200, 4, 2, 1000, fl(4, 2, 1000)));
	ck_assert(!frag_hdr_ok(FRAG_ALL, 4, 2, 1000, fl(4, 2, 1000)));
	ck_assert(!frag_hdr_ok(0, 0, 2, 1000, 0));		  /* k = 0 */
	ck_assert(!frag_hdr_ok(0, 33, 0, 1000, fl(33, 0, 1000))); /* k > 32 */
	ck_assert(!frag_hdr_ok(0, 255, 0, 1000, fl(255, 0, 1000)));
	ck_assert(!frag_hdr_ok(0, 4, 17, 1000, fl(4, 17, 1000))); /* m > 16 */
	ck_assert(!frag_hdr_ok(0, 4, 255, 1000, fl(4, 255, 1000)));
	ck_assert(!frag_hdr_ok(0, 4, 2, 1000, fl(4, 2, 1000) + 1)); /* frag_len wrong */
	ck_assert(!frag_hdr_ok(0, 4, 2, 1000, fl(4, 2, 1000) - 32));
	ck_assert(!frag_hdr_ok(0, 4, 2, 1000, 0));
	ck_assert(!frag_hdr_ok(0, 4, 2, 1000, UINT32_MAX));
	ck_assert(!frag_hdr_ok(0, 1, 0, MSG_BLOCK_MAX + 1, fl(1, 0, MSG_BLOCK_MAX + 1)));
	ck_assert(!frag_hdr_ok(0, 4, 2, UINT64_MAX, 0));
}
END_TEST

/* Bucket names follow the simplified S3 rules; keys refuse empty, ".",
 * ".." and empty segments, a leading '/', over-long segments
 * (-ENAMETOOLONG) and keys of 1024 bytes or more. */
START_TEST(test_msg_check_names)
{
	char seg[300];
	char key[1100];

	ck_assert_int_eq(msg_check_bucket("photos"), 0);
	ck_assert_int_eq(msg_check_bucket("0logs.eu-1"), 0);
	ck_assert_int_eq(msg_check_bucket("a"), 0);
	ck_assert_int_eq(msg_check_bucket(""), -EINVAL);
	ck_assert_int_eq(msg_check_bucket("-a"), -EINVAL);
	ck_assert_int_eq(msg_check_bucket(".a"), -EINVAL);
	ck_assert_int_eq(msg_check_bucket("Photos"), -EINVAL);
	ck_assert_int_eq(msg_check_bucket("a_b"), -EINVAL);
	ck_assert_int_eq(msg_check_bucket("a/b"), -EINVAL);
	memset(seg, 'b', 63);
	seg[63] = '\0';
	ck_assert_int_eq(msg_check_bucket(seg), 0);
	seg[63] = 'b';
	seg[64] = '\0';
	ck_assert_int_eq(msg_check_bucket(seg), -EINVAL);

	ck_assert_int_eq(msg_check_key("a"), 0);
	ck_assert_int_eq(msg_check_key("a/b/c.txt"), 0);
	ck_assert_int_eq(msg_check_key("...a/..b/.c"), 0);
	ck_assert_int_eq(msg_check_key(""), -EINVAL);
	ck_assert_int_eq(msg_check_key("."), -EINVAL);
	ck_assert_int_eq(msg_check_key(".."), -EINVAL);
	ck_assert_int_eq(msg_check_key("a/../b"), -EINVAL);
	ck_assert_int_eq(msg_check_key("a/./b"), -EINVAL);
	ck_assert_int_eq(msg_check_key("a/.."), -EINVAL);
	ck_assert_int_eq(msg_check_key("a//b"), -EINVAL);
	ck_assert_int_eq(msg_check_key("/a"), -EINVAL);
	ck_assert_int_eq(msg_check_key("a/"), -EINVAL);
	ck_assert_int_eq(msg_check_key("/"), -EINVAL);

	memset(seg, 's', 255);
	seg[255] = '\0';
	ck_assert_int_eq(msg_check_key(seg), 0);
	snprintf(key, sizeof(key), "dir/%s/x", seg);
	ck_assert_int_eq(msg_check_key(key), 0);
	seg[255] = 's';
	seg[256] = '\0';
	ck_assert_int_eq(msg_check_key(seg), -ENAMETOOLONG);
	snprintf(key, sizeof(key), "dir/%s", seg);
	ck_assert_int_eq(msg_check_key(key), -ENAMETOOLONG);
	snprintf(key, sizeof(key), "%s/x", seg);
	ck_assert_int_eq(msg_check_key(key), -ENAMETOOLONG);

	/* 1023 bytes in short segments is the longest key. */
	for (size_t i = 0; i < 1023; i++) {
		key[i] = i % 8 == 7 ? '/' : 'k';
	}
	key[1023] = '\0';
	ck_assert_int_eq(msg_check_key(key), 0);
	key[1023] = 'k';
	key[1024] = '\0';
	ck_assert_int_eq(msg_check_key(key), -EINVAL);
}
END_TEST

/* Encodes an extent with these fields and decodes it; true if accepted. */
static bool extent_ok(uint8_t k, uint8_t m, uint32_t blk_len, uint32_t len)
{
	struct meta_extent e, out;
	struct wr w;
	struct rd r;
	uint8_t *b;
	size_t n;
	bool ok;

	sample_extent(&e, 3);
	e.blk.k = k;
	e.blk.m = m;
	e.blk.len = blk_len;
	e.len = len;
	wr_init(&w, 0);
	meta_put_extent(&w, &e);
	b = wr_take(&w, &n);
	rd_init(&r, b, n);
	meta_get_extent(&r, &out);
	ok = rd_done(&r);
	free(b);
	return ok;
}

/* Encodes op, optionally overwrites its trailing extent count, decodes
 * it and frees what the decode allocated; true if accepted. */
static bool op_ok(const struct meta_op *op, bool patch_count, uint32_t count)
{
	static struct meta_op out;
	struct wr w;
	struct rd r;
	uint8_t *b;
	size_t n;
	bool ok;

	wr_init(&w, 0);
	meta_put_op(&w, op);
	b = wr_take(&w, &n);
	if (patch_count) {
		ck_assert_uint_eq(op->n_ext, 0);
		put_le32(b + n - 4, count);
	}
	rd_init(&r, b, n);
	meta_get_op(&r, &out);
	ok = rd_done(&r);
	if (!ok && patch_count) {
		ck_assert_ptr_null(out.ext); /* refused before allocating */
	}
	meta_op_free(&out);
	free(b);
	return ok;
}

static bool result_ok(int32_t status)
{
	struct meta_result res, out;
	struct wr w;
	struct rd r;
	uint8_t *b;
	size_t n;
	bool ok;

	sample_result(&res);
	res.status = status;
	wr_init(&w, 0);
	meta_put_result(&w, &res);
	b = wr_take(&w, &n);
	rd_init(&r, b, n);
	meta_get_result(&r, &out);
	ok = rd_done(&r);
	free(b);
	return ok;
}

/* Metadata decoders apply their limits: an extent must name a codable
 * block (1 <= k <= 32, m <= 16, 1 <= blk.len <= MSG_BLOCK_MAX, len <=
 * blk.len); an op needs a known type, a data blob of at most
 * META_XATTR_VALUE_MAX, at most META_EXTENTS_MAX valid extents, and a
 * count that fits the bytes present (checked before allocating); a result
 * status is 0 or an errno. */
/* Block codec and class fields: a record keeps the narrow bytes of old
 * records while every block is raw and of class 0, takes the wide ones as
 * soon as one is not, round-trips them, and refuses a lying codec. */
START_TEST(test_meta_wide_extents)
{
	static struct meta_op op, out;
	struct wr w;
	struct rd r;
	size_t narrow;

	sample_op(&op);
	wr_init(&w, 0);
	meta_put_op(&w, &op);
	narrow = w.len;
	wr_free(&w);

	op.ext[1].blk.codec = BLK_CODEC_ZSTD;
	op.ext[1].blk.zlen = 1234;
	op.ext[1].blk.cls = 3;
	wr_init(&w, 0);
	meta_put_op(&w, &op);
	ck_assert_uint_eq(w.len, narrow + 2 * 6);
	rd_init(&r, w.buf, w.len);
	meta_get_op(&r, &out);
	ck_assert(rd_done(&r));
	ck_assert_uint_eq(out.ext[0].blk.codec, BLK_CODEC_NONE);
	ck_assert_uint_eq(out.ext[1].blk.codec, BLK_CODEC_ZSTD);
	ck_assert_uint_eq(out.ext[1].blk.zlen, 1234);
	ck_assert_uint_eq(out.ext[1].blk.cls, 3);
	ck_assert_uint_eq(mb_stored_len(&out.ext[1].blk), 1234);
	ck_assert_uint_eq(mb_stored_len(&out.ext[0].blk), out.ext[0].blk.len);
	meta_op_free(&out);
	wr_free(&w);

	op.ext[1].blk.cls = 0;
	ck_assert(op_ok(&op, false, 0));
	op.ext[1].blk.codec = BLK_CODEC_MAX; /* unknown codec */
	ck_assert(!op_ok(&op, false, 0));
	op.ext[1].blk.codec = BLK_CODEC_LZ4;
	op.ext[1].blk.zlen = 0; /* compressed to nothing */
	ck_assert(!op_ok(&op, false, 0));
	op.ext[1].blk.zlen = (uint32_t)MSG_BLOCK_MAX + 1;
	ck_assert(!op_ok(&op, false, 0));
	op.ext[1].blk.codec = BLK_CODEC_NONE;
	op.ext[1].blk.zlen = 5; /* a stored length without a codec */
	ck_assert(!op_ok(&op, false, 0));

	/* The wide bit on a list of raw extents is not canonical. */
	sample_op(&op);
	op.ext = NULL;
	op.n_ext = 0;
	ck_assert(!op_ok(&op, true, 0x80000000u));
}
END_TEST

/* Manifests: fmt 1 bytes for raw blocks, fmt 2 once a block is compressed,
 * and a fmt 2 manifest of raw blocks refused. */
START_TEST(test_manifest_wide)
{
	struct manifest_block b[2] = {{.k = 4, .m = 2, .len = 4096}, {.k = 4, .m = 2, .len = 100}};
	struct manifest m = {.size = 4196, .n_blocks = 2, .blocks = b}, out;
	struct wr w;

	wr_init(&w, 0);
	manifest_encode(&w, &m);
	ck_assert_uint_eq(w.buf[0], MANIFEST_FMT);
	w.buf[0] = MANIFEST_FMT_WIDE;
	ck_assert_int_eq(manifest_decode(w.buf, w.len, &out), -OBJ_EPROTO);
	wr_free(&w);

	b[0].codec = BLK_CODEC_LZ4;
	b[0].zlen = 77;
	wr_init(&w, 0);
	manifest_encode(&w, &m);
	ck_assert_uint_eq(w.buf[0], MANIFEST_FMT_WIDE);
	ck_assert_int_eq(manifest_decode(w.buf, w.len, &out), 0);
	ck_assert_uint_eq(out.blocks[0].codec, BLK_CODEC_LZ4);
	ck_assert_uint_eq(out.blocks[0].zlen, 77);
	ck_assert_uint_eq(out.blocks[1].codec, BLK_CODEC_NONE);
	manifest_free(&out);
	wr_free(&w);
}
END_TEST

START_TEST(test_meta_refusals)
{
	static struct meta_op op;
	struct meta_extent *many;
	uint8_t *blob;

	ck_assert(extent_ok(6, 3, 4u << 20, (4u << 20) - 17));
	ck_assert(extent_ok(32, 16, 1, 1));
	ck_assert(extent_ok(1, 0, (uint32_t)MSG_BLOCK_MAX, 0));
	ck_assert(!extent_ok(0, 3, 4096, 4096));
	ck_assert(!extent_ok(33, 3, 4096, 4096));
	ck_assert(!extent_ok(4, 17, 4096, 4096));
	ck_assert(!extent_ok(4, 2, 0, 0));
	ck_assert(!extent_ok(1, 0, (uint32_t)MSG_BLOCK_MAX + 1, 1));
	ck_assert(!extent_ok(4, 2, 4096, 4097));

	sample_op(&op);
	ck_assert(op_ok(&op, false, 0));
	op.type = 0;
	ck_assert(!op_ok(&op, false, 0));
	op.type = MOP_MAX;
	ck_assert(!op_ok(&op, false, 0));
	sample_op(&op);
	op.ext[1].blk.k = 0; /* one bad extent spoils the op; no leak */
	ck_assert(!op_ok(&op, false, 0));

	blob = calloc(1, META_XATTR_VALUE_MAX + 1);
	ck_assert_ptr_nonnull(blob);
	sample_op(&op);
	op.data = blob;
	op.data_len = META_XATTR_VALUE_MAX;
	ck_assert(op_ok(&op, false, 0));
	op.data_len++;
	ck_assert(!op_ok(&op, false, 0));
	free(blob);

	sample_op(&op);
	op.ext = NULL;
	op.n_ext = 0;
	ck_assert(op_ok(&op, true, 0));
	ck_assert(!op_ok(&op, true, 1));
	ck_assert(!op_ok(&op, true, UINT32_MAX));
	ck_assert(!op_ok(&op, true, 0x10000000u));

	/* The count limit holds even when every extent is present. */
	many = malloc((META_EXTENTS_MAX + 1) * sizeof(*many));
	ck_assert_ptr_nonnull(many);
	for (size_t i = 0; i <= META_EXTENTS_MAX; i++) {
		sample_extent(&many[i], i);
	}
	op.ext = many;
	op.n_ext = META_EXTENTS_MAX;
	ck_assert(op_ok(&op, false, 0));
	op.n_ext = META_EXTENTS_MAX + 1;
	ck_assert(!op_ok(&op, false, 0));
	free(many);

	ck_assert(result_ok(0));
	ck_assert(result_ok(-ENOENT));
	ck_assert(result_ok(-4095));
	ck_assert(!result_ok(1));
	ck_assert(!result_ok(-4096));
	ck_assert(!result_ok(-OBJ_EPROTO));
	ck_assert(!result_ok(INT32_MIN));
}
END_TEST

/* File names are 1..255 bytes without '/', and not "." or "..". */
START_TEST(test_meta_check_name)
{
	char name[300];

	ck_assert_int_eq(meta_check_name("a"), 0);
	ck_assert_int_eq(meta_check_name("..."), 0);
	ck_assert_int_eq(meta_check_name(".hidden"), 0);
	ck_assert_int_eq(meta_check_name(""), -EINVAL);
	ck_assert_int_eq(meta_check_name("."), -EINVAL);
	ck_assert_int_eq(meta_check_name(".."), -EINVAL);
	ck_assert_int_eq(meta_check_name("a/b"), -EINVAL);
	ck_assert_int_eq(meta_check_name("/"), -EINVAL);
	memset(name, 'n', 255);
	name[255] = '\0';
	ck_assert_int_eq(meta_check_name(name), 0);
	name[255] = 'n';
	name[256] = '\0';
	ck_assert_int_eq(meta_check_name(name), -ENAMETOOLONG);
}
END_TEST

/* Every id has its name; retired ids and ids outside the table are
 * "unknown"; block ids print as 32 lowercase hex digits. */
START_TEST(test_msg_names_hex)
{
	uint8_t id[BLOCK_ID_LEN];
	char hex[2 * BLOCK_ID_LEN + 1];

	ck_assert_str_eq(msg_type_name(MSG_PING), "ping");
	ck_assert_str_eq(msg_type_name(MSG_FRAG_LIST), "frag_list");
	ck_assert_str_eq(msg_type_name(MSG_USAGE), "usage");
	ck_assert_str_eq(msg_type_name(MSG_SCRUB), "scrub");
	ck_assert_str_eq(msg_type_name(MSG_FRAG_CHECK), "frag_check");
	ck_assert_str_eq(msg_type_name(10), "unknown"); /* not assigned */
	ck_assert_str_eq(msg_type_name(0), "unknown");
	ck_assert_str_eq(msg_type_name(MSG_TYPE_MAX), "unknown");
	ck_assert_str_eq(msg_type_name(255), "unknown");
	for (int i = 0; i < BLOCK_ID_LEN; i++) {
		id[i] = (uint8_t)(i * 17);
	}
	msg_block_hex(id, hex);
	ck_assert_str_eq(hex, "00112233445566778899aabbccddeeff");
}
END_TEST

/* A scrub status survives encoding; every truncation of it and a list
 * longer than SCRUB_BAD_MAX are refused; FRAG_CHECK bodies have the
 * documented layout; the new types have names. */
START_TEST(test_msg_scrub)
{
	struct scrub_status st = {.running = 1, .rate_mb = 32, .period_s = 604800}, got;
	struct frag_ref refs[2] = {{{1, 2, 3}, 4}, {{9}, 5}};
	struct wr w;
	struct rd r;

	st.cur = (struct scrub_pass){7, 1000, 0, 50, 20, 1, 123456};
	st.last = (struct scrub_pass){6, 10, 900, 49, 49, 2, 999999};
	st.n_bad = 2;
	st.bad[0] = refs[0];
	st.bad[1] = refs[1];
	wr_init(&w, 0);
	msg_put_scrub_status(&w, &st);
	ck_assert_int_eq(wr_status(&w), 0);
	rd_init(&r, w.buf, w.len);
	msg_get_scrub_status(&r, &got);
	ck_assert(rd_done(&r));
	ck_assert_mem_eq(&got.cur, &st.cur, sizeof(st.cur));
	ck_assert_mem_eq(&got.last, &st.last, sizeof(st.last));
	ck_assert_uint_eq(got.n_bad, 2);
	ck_assert_mem_eq(got.bad[1].block_id, refs[1].block_id, BLOCK_ID_LEN);
	ck_assert_uint_eq(got.bad[1].index, 5);
	for (size_t cut = 0; cut < w.len; cut++) {
		rd_init(&r, w.buf, cut);
		msg_get_scrub_status(&r, &got);
		ck_assert(!rd_done(&r));
	}
	/* n_bad sits right after the two passes: 1+4+8 + 2*(4+6*8) bytes in. */
	w.buf[1 + 4 + 8 + 2 * (4 + 6 * 8)] = SCRUB_BAD_MAX + 1;
	rd_init(&r, w.buf, w.len);
	msg_get_scrub_status(&r, &got);
	ck_assert(!rd_done(&r));
	wr_free(&w);

	wr_init(&w, 0);
	msg_put_frag_check(&w, FRAG_CHECK_SWEEP, 3600, refs, 2);
	ck_assert_uint_eq(w.len, 1 + 4 + 4 + 2 * (BLOCK_ID_LEN + 1));
	ck_assert_uint_eq(w.buf[0], FRAG_CHECK_SWEEP);
	ck_assert_uint_eq(w.buf[9 + BLOCK_ID_LEN], 4);
	wr_free(&w);
	ck_assert_str_eq(msg_type_name(MSG_SCRUB), "scrub");
	ck_assert_str_eq(msg_type_name(MSG_FRAG_CHECK), "frag_check");
	ck_assert_str_eq(msg_type_name(MSG_META_BLOCKS), "meta_blocks");
	ck_assert_str_eq(msg_type_name(MSG_META_MAX), "unknown");
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tw = tcase_create("wire");
	TCase *tm = tcase_create("msg");

	tcase_add_test(tw, test_wire_roundtrip);
	tcase_add_test(tw, test_wire_reserve_growth);
	tcase_add_test(tw, test_wire_fixed_buffer);
	tcase_add_test(tw, test_wire_sticky_bad);
	tcase_add_test(tw, test_wire_str_limits);
	tcase_add_test(tw, test_wire_blob_limits);
	suite_add_tcase(s, tw);

	/* The garbage run decodes 10000 inputs nine ways: slow under valgrind. */
	tcase_set_timeout(tm, 60);
	tcase_add_test(tm, test_msg_roundtrip);
	tcase_add_test(tm, test_msg_truncation);
	tcase_add_test(tm, test_msg_garbage);
	tcase_add_test(tm, test_msg_frag_hdr_limits);
	tcase_add_test(tm, test_msg_check_names);
	tcase_add_test(tm, test_meta_refusals);
	tcase_add_test(tm, test_meta_wide_extents);
	tcase_add_test(tm, test_manifest_wide);
	tcase_add_test(tm, test_meta_check_name);
	tcase_add_test(tm, test_msg_names_hex);
	tcase_add_test(tm, test_msg_scrub);
	suite_add_tcase(s, tm);
	return s;
}

int main(void)
{
	return tl_run(proto_suite());
}
