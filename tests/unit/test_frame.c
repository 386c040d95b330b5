/* test_frame.c: the proto/ layers above the cursor: frame sealing and
 * every way to break a frame, the replay window under floods, and manifest
 * decoding of hostile input. Single-threaded.
 * Buffers handed to decoders are allocated to their exact length, so a run
 * under ASan or valgrind turns any over-read into a failure. */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "../../common/err.h"
#include "../../proto/frame.h"
#include "../../proto/manifest.h"
#include "../../proto/replay.h"
#include "../../proto/wire.h"
#include "../lib/testlib.h"
#include "proto_fixture.h"

/* ---- frame ---- */

static const struct frame_key test_key = {.secret = "frame-test-secret-0123456789", .len = 28};

/* A sealed frame around body[0..n) with fixed header fields. */
static uint8_t *make_frame(const struct frame_key *key, const void *body, uint32_t n, size_t *len)
{
	struct frame_hdr h = {
	    .type = MSG_FRAG_PUT,
	    .flags = FRAME_F_REPLY | 0x8000,
	    .req_id = 0x1020304050607080ull,
	    .ts_ms = 1700000000123ull,
	    .nonce = 0xfeedfacecafebeefull,
	    .status = -OBJ_ECHECKSUM,
	    .body_len = n,
	};
	uint8_t *b = malloc(frame_size(n));

	ck_assert_ptr_nonnull(b);
	if (n > 0) {
		memcpy(b + FRAME_HDR_LEN, body, n);
	}
	ck_assert_int_eq(frame_seal(key, &h, b), 0);
	*len = frame_size(n);
	return b;
}

/* Recomputes the MAC after the test edited the header, so that only the
 * edited field can be the reason for a refusal. */
static void remac(const struct frame_key *key, uint8_t *b, size_t len)
{
	ck_assert_int_eq(frame_reseal(key, b, len), 0);
}

static int open_exact(const struct frame_key *key, const uint8_t *b, size_t len)
{
	uint8_t *c = dup_exact(b, len);
	struct frame_hdr h;
	const uint8_t *body = NULL;
	int rc = frame_open(key, c, len, &h, &body);

	free(c);
	return rc;
}

/* Sealing then opening gives back every header field and the body in
 * place, for an empty and a non-empty body. */
START_TEST(test_frame_roundtrip)
{
	uint8_t body[1000];
	struct frame_hdr h;
	const uint8_t *bp = NULL;
	uint8_t *b;
	size_t len;

	for (size_t i = 0; i < sizeof(body); i++) {
		body[i] = (uint8_t)(i * 7);
	}
	b = make_frame(&test_key, body, sizeof(body), &len);
	ck_assert_uint_eq(len, sizeof(body) + 64); /* 48-byte header, 16-byte tag */
	ck_assert_uint_eq(b[0], 'O');
	ck_assert_uint_eq(b[3], 'F');
	ck_assert_int_eq(frame_open(&test_key, b, len, &h, &bp), 0);
	ck_assert_ptr_eq(bp, b + FRAME_HDR_LEN);
	ck_assert_mem_eq(bp, body, sizeof(body));
	ck_assert_uint_eq(h.type, MSG_FRAG_PUT);
	ck_assert_uint_eq(h.flags, FRAME_F_REPLY | 0x8000);
	ck_assert_uint_eq(h.req_id, 0x1020304050607080ull);
	ck_assert_uint_eq(h.ts_ms, 1700000000123ull);
	ck_assert_uint_eq(h.nonce, 0xfeedfacecafebeefull);
	ck_assert_int_eq(h.status, -OBJ_ECHECKSUM);
	ck_assert_uint_eq(h.body_len, sizeof(body));
	free(b);

	b = make_frame(&test_key, NULL, 0, &len);
	ck_assert_uint_eq(len, FRAME_OVERHEAD);
	ck_assert_int_eq(open_exact(&test_key, b, len), 0);
	free(b);
}
END_TEST

/* Every single-bit flip anywhere in a sealed frame is refused: as
 * -OBJ_EPROTO when it breaks the magic, version or length, as -OBJ_EAUTH
 * everywhere else (header fields, body, MAC). */
START_TEST(test_frame_bit_flips)
{
	uint8_t body[64];
	uint8_t *b;
	size_t len;

	for (size_t i = 0; i < sizeof(body); i++) {
		body[i] = (uint8_t)(255 - i);
	}
	b = make_frame(&test_key, body, sizeof(body), &len);
	for (size_t byte = 0; byte < len; byte++) {
		for (int bit = 0; bit < 8; bit++) {
			int rc, want;

			b[byte] ^= (uint8_t)(1u << bit);
			rc = open_exact(&test_key, b, len);
			b[byte] ^= (uint8_t)(1u << bit);
			want = byte == 4			       ? -EPROTONOSUPPORT
			       : byte < 4 || (byte >= 36 && byte < 40) ? -OBJ_EPROTO
								       : -OBJ_EAUTH;
			ck_assert_msg(rc == want, "flip of byte %zu bit %d: got %d, want %d", byte,
				      bit, rc, want);
		}
	}
	ck_assert_int_eq(open_exact(&test_key, b, len), 0);
	free(b);
}
END_TEST

/* A frame sealed with another key, or a key that is a prefix of the right
 * one, or opened with an empty key, is refused with -OBJ_EAUTH. */
START_TEST(test_frame_wrong_key)
{
	struct frame_key other = test_key;
	uint8_t *b;
	size_t len;

	b = make_frame(&test_key, "abc", 3, &len);
	other.secret[0] ^= 1;
	ck_assert_int_eq(open_exact(&other, b, len), -OBJ_EAUTH);
	other = test_key;
	other.len--;
	ck_assert_int_eq(open_exact(&other, b, len), -OBJ_EAUTH);
	other.len = 0;
	ck_assert_int_eq(open_exact(&other, b, len), -OBJ_EAUTH);
	ck_assert_int_eq(open_exact(&test_key, b, len), 0);
	free(b);
}
END_TEST

/* Every truncation of a frame and 1..3 extra bytes are -OBJ_EPROTO. */
START_TEST(test_frame_length)
{
	uint8_t *b, *ext;
	size_t len;

	b = make_frame(&test_key, "0123456789", 10, &len);
	for (size_t n = 0; n < len; n++) {
		ck_assert_int_eq(open_exact(&test_key, b, n), -OBJ_EPROTO);
	}
	ext = calloc(1, len + 3);
	ck_assert_ptr_nonnull(ext);
	memcpy(ext, b, len);
	for (size_t extra = 1; extra <= 3; extra++) {
		ck_assert_int_eq(open_exact(&test_key, ext, len + extra), -OBJ_EPROTO);
	}
	free(ext);
	free(b);
}
END_TEST

/* Wrong magic is -OBJ_EPROTO, versions 0, 1 (HMAC-SHA256) and 3 are
 * -EPROTONOSUPPORT, even when the tag over the edited header is valid. */
START_TEST(test_frame_magic_version)
{
	uint8_t *b;
	size_t len;

	b = make_frame(&test_key, "xyz", 3, &len);
	b[3] = 'G';
	remac(&test_key, b, len);
	ck_assert_int_eq(open_exact(&test_key, b, len), -OBJ_EPROTO);
	b[3] = 'F';
	for (uint8_t v = 0; v <= 3; v++) {
		if (v == FRAME_VERSION) {
			continue;
		}
		b[4] = v;
		remac(&test_key, b, len);
		ck_assert_int_eq(open_exact(&test_key, b, len), -EPROTONOSUPPORT);
		ck_assert_uint_eq(frame_version(b, len), v);
	}
	b[4] = FRAME_VERSION;
	remac(&test_key, b, len);
	ck_assert_int_eq(open_exact(&test_key, b, len), 0);
	free(b);
}
END_TEST

/* A body_len over FRAME_MAX_BODY is refused from the header alone: with a
 * 72-byte buffer (ASan catches a read past it) and with a buffer of the
 * claimed size whose pages after the header are unreadable. */
START_TEST(test_frame_oversize)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t claim = frame_size(FRAME_MAX_BODY + 1);
	size_t map = (claim + page - 1) / page * page;
	uint8_t hdr[FRAME_OVERHEAD];
	uint8_t *b;
	size_t len;

	b = make_frame(&test_key, NULL, 0, &len);
	memcpy(hdr, b, sizeof(hdr));
	free(b);
	put_le32(hdr + 36, UINT32_MAX);
	ck_assert_int_eq(open_exact(&test_key, hdr, sizeof(hdr)), -OBJ_EPROTO);

	b = mmap(NULL, map, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(b, MAP_FAILED);
	memcpy(b, hdr, FRAME_HDR_LEN);
	put_le32(b + 36, (uint32_t)(FRAME_MAX_BODY + 1));
	ck_assert_int_eq(mprotect(b + page, map - page, PROT_NONE), 0);
	{
		struct frame_hdr h;
		const uint8_t *body = NULL;

		ck_assert_int_eq(frame_open(&test_key, b, claim, &h, &body), -OBJ_EPROTO);
		ck_assert_ptr_null(body);
	}
	munmap(b, map);
}
END_TEST

/* The clock is the wall clock in ms. */
START_TEST(test_frame_clock)
{
	uint64_t now = (uint64_t)time(NULL) * 1000u;
	uint64_t ms = frame_now_ms();

	ck_assert(ms + 2000 >= now && ms <= now + 2000);
}
END_TEST

/* The header is the documented layout (frame.h), byte for byte. */
START_TEST(test_frame_layout)
{
	/* magic, version, type, flags; req_id; ts_ms; nonce; status, body_len;
	 * key_id (0: the cluster secret) */
	static const uint8_t want[FRAME_HDR_LEN] = {
	    'O',  'B',	'J',  'F',  4,	  MSG_FRAG_PUT,
	    0x01, 0x80, 0x80, 0x70, 0x60, 0x50,
	    0x40, 0x30, 0x20, 0x10, 0x7b, 0x68,
	    0xe5, 0xcf, 0x8b, 0x01, 0x00, 0x00,
	    0xef, 0xbe, 0xfe, 0xca, 0xce, 0xfa,
	    0xed, 0xfe, 0xff, 0xef, 0xff, 0xff,
	    3,	  0,	0,    0,    0,	  0,
	    0,	  0,	0,    0,    0,	  0,
	};
	static const char label[] = "objfs frame v2 aes-256-gmac";
	uint8_t k[32], tag[FRAME_TAG_LEN];
	/* IV: the nonce's 8 bytes, then ts_ms & 0x7fffffff with the top bit
	 * set: this frame's flags (0x8001) mark a reply */
	uint8_t iv[12] = {0xef, 0xbe, 0xfe, 0xca, 0xce, 0xfa, 0xed, 0xfe};
	unsigned int n = 0;
	size_t len;
	uint8_t *b = make_frame(&test_key, "abc", 3, &len);
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int ol;

	ck_assert_int_eq(-OBJ_ECHECKSUM, -4097); /* the status bytes below */
	ck_assert_mem_eq(b, want, FRAME_HDR_LEN);
	ck_assert_mem_eq(b + FRAME_HDR_LEN, "abc", 3);
	ck_assert_uint_eq(len, FRAME_HDR_LEN + 3 + FRAME_TAG_LEN);
	/* The tag, computed here from its definition in frame.h. */
	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), test_key.secret, (int)test_key.len,
				   (const uint8_t *)label, sizeof(label) - 1, k, &n));
	memcpy(iv + 8, b + 16, 4);
	iv[11] |= 0x80;
	ck_assert_int_eq(EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, k, iv), 1);
	ck_assert_int_eq(EVP_EncryptUpdate(c, NULL, &ol, b, FRAME_HDR_LEN + 3), 1);
	ck_assert_int_eq(EVP_EncryptFinal_ex(c, NULL, &ol), 1);
	ck_assert_int_eq(EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, FRAME_TAG_LEN, tag), 1);
	EVP_CIPHER_CTX_free(c);
	ck_assert_mem_eq(b + FRAME_HDR_LEN + 3, tag, FRAME_TAG_LEN);
	free(b);
}
END_TEST

/* frame_mac is HMAC-SHA256; frame_mac_check accepts exactly that MAC and
 * refuses it for any other byte, key or length. */
START_TEST(test_frame_mac)
{
	static const struct frame_key other = {.secret = "frame-test-secret-0123456788", .len = 28};
	uint8_t data[100], mac[FRAME_MAC_LEN], ref[FRAME_MAC_LEN];
	unsigned int n = 0;

	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t)(i * 13 + 1);
	}
	ck_assert_int_eq(frame_mac(&test_key, data, sizeof(data), mac), 0);
	ck_assert_ptr_nonnull(
	    HMAC(EVP_sha256(), test_key.secret, (int)test_key.len, data, sizeof(data), ref, &n));
	ck_assert_mem_eq(mac, ref, FRAME_MAC_LEN);
	ck_assert_int_eq(frame_mac_check(&test_key, data, sizeof(data), mac), 0);
	ck_assert_int_eq(frame_mac_check(&other, data, sizeof(data), mac), -OBJ_EAUTH);
	ck_assert_int_eq(frame_mac_check(&test_key, data, sizeof(data) - 1, mac), -OBJ_EAUTH);
	for (size_t i = 0; i < sizeof(data); i += 7) {
		data[i] ^= 1;
		ck_assert_int_eq(frame_mac_check(&test_key, data, sizeof(data), mac), -OBJ_EAUTH);
		data[i] ^= 1;
	}
	for (size_t i = 0; i < FRAME_MAC_LEN; i++) {
		mac[i] ^= 0x80;
		ck_assert_int_eq(frame_mac_check(&test_key, data, sizeof(data), mac), -OBJ_EAUTH);
		mac[i] ^= 0x80;
	}
}
END_TEST

/* ---- replay ---- */

#define NOW 1700000000000ull /* a realistic wall clock in ms */
#define WIN 60000ull

/* The same (ts, nonce) is refused the second time; the same nonce with
 * another ts, or the same ts with another nonce, is a new request. */
START_TEST(test_replay_duplicate)
{
	struct replay *r = replay_create(WIN, 1000);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(replay_check(r, NOW, 42, NOW), 0);
	ck_assert_int_eq(replay_check(r, NOW, 42, NOW), -OBJ_EAUTH);
	ck_assert_int_eq(replay_check(r, NOW, 42, NOW + 1000), -OBJ_EAUTH);
	ck_assert_int_eq(replay_check(r, NOW, 43, NOW), 0);
	ck_assert_int_eq(replay_check(r, NOW + 1, 42, NOW), 0);
	ck_assert_int_eq(replay_check(r, NOW + 1, 42, NOW), -OBJ_EAUTH);
	replay_destroy(r);
	replay_destroy(NULL);
}
END_TEST

/* A timestamp more than the window in the past or the future is refused;
 * the window edges themselves are accepted; ts 0 is never accepted. */
START_TEST(test_replay_window)
{
	struct replay *r = replay_create(WIN, 1000);

	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(replay_check(r, NOW - WIN - 1, 1, NOW), -OBJ_EAUTH);
	ck_assert_int_eq(replay_check(r, NOW - 10 * WIN, 2, NOW), -OBJ_EAUTH);
	ck_assert_int_eq(replay_check(r, 0, 3, NOW), -OBJ_EAUTH);
	ck_assert_int_eq(replay_check(r, NOW + WIN + 1, 4, NOW), -OBJ_EAUTH);
	ck_assert_int_eq(replay_check(r, UINT64_MAX, 5, NOW), -OBJ_EAUTH);
	ck_assert_int_eq(replay_check(r, NOW - WIN, 6, NOW), 0);
	ck_assert_int_eq(replay_check(r, NOW + WIN, 7, NOW), 0);
	/* Once the clock moves on, an accepted request falls out of the
	 * window and stays refused. */
	ck_assert_int_eq(replay_check(r, NOW - WIN, 6, NOW + 1), -OBJ_EAUTH);
	replay_destroy(r);

	/* Early clocks (now < window) never underflow into accepting ts 0. */
	r = replay_create(WIN, 1000);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(replay_check(r, 0, 1, 10), -OBJ_EAUTH);
	ck_assert_int_eq(replay_check(r, 1, 1, 10), 0);
	replay_destroy(r);
}
END_TEST

#define FLOOD_CAP 1000u
#define FLOOD_N (3 * FLOOD_CAP)

/* Runs FLOOD_N distinct requests with ts_of(i) at now_of(i); each one
 * accepted is immediately replayed (must be refused), and at the end all
 * of them are replayed again.  Returns how many were accepted. */
static unsigned flood(struct replay *r, uint64_t (*ts_of)(unsigned), uint64_t (*now_of)(unsigned))
{
	static bool accepted[FLOOD_N];
	unsigned n = 0;

	for (unsigned i = 0; i < FLOOD_N; i++) {
		uint64_t ts = ts_of(i), now = now_of(i);

		accepted[i] = replay_check(r, ts, 1000000 + i, now) == 0;
		if (accepted[i]) {
			n++;
			ck_assert_msg(replay_check(r, ts, 1000000 + i, now) == -OBJ_EAUTH,
				      "request %u accepted twice in a row", i);
		}
	}
	for (unsigned i = 0; i < FLOOD_N; i++) {
		ck_assert_msg(
		    replay_check(r, ts_of(i), 1000000 + i, now_of(FLOOD_N - 1)) == -OBJ_EAUTH,
		    "request %u (accepted %d) accepted again after the flood", i, accepted[i]);
	}
	return n;
}

static uint64_t ts_spread(unsigned i)
{
	return NOW + i - (i * 7919u) % WIN;
}
static uint64_t now_moving(unsigned i)
{
	return NOW + i;
}
static uint64_t ts_fixed(unsigned i)
{
	(void)i;
	return NOW;
}
static uint64_t now_fixed(unsigned i)
{
	(void)i;
	return NOW;
}
static uint64_t ts_future(unsigned i)
{
	return NOW + 1 + i % 1000u;
}

/* A flood of 3x capacity distinct requests, with timestamps spread over
 * the window, never gets a duplicate accepted and ends without crashing. */
START_TEST(test_replay_flood_spread)
{
	struct replay *r = replay_create(WIN, FLOOD_CAP);
	unsigned n;

	ck_assert_ptr_nonnull(r);
	n = flood(r, ts_spread, now_moving);
	ck_assert_uint_ge(n, FLOOD_CAP / 2);
	replay_destroy(r);
}
END_TEST

/* The same with every request stamped with the current millisecond: the
 * table can purge nothing, yet it must neither accept a duplicate nor
 * stall once it is full. */
START_TEST(test_replay_flood_same_ms)
{
	struct replay *r = replay_create(WIN, FLOOD_CAP);
	unsigned n;

	ck_assert_ptr_nonnull(r);
	n = flood(r, ts_fixed, now_fixed);
	ck_assert_uint_ge(n, FLOOD_CAP / 2);
	replay_destroy(r);
}
END_TEST

/* The same with timestamps ahead of the receiver's clock (a client whose
 * clock runs fast): entries that purging cannot drop must not stall it. */
START_TEST(test_replay_flood_future)
{
	struct replay *r = replay_create(WIN, FLOOD_CAP);
	unsigned n;

	ck_assert_ptr_nonnull(r);
	n = flood(r, ts_future, now_fixed);
	ck_assert_uint_ge(n, FLOOD_CAP / 2);
	replay_destroy(r);
}
END_TEST

/* ---- manifest ---- */

static uint8_t *encode_manifest(const struct manifest *m, size_t *len)
{
	struct wr w;

	wr_init(&w, 0);
	manifest_encode(&w, m);
	return wr_take(&w, len);
}

static int decode_exact(const uint8_t *b, size_t len, struct manifest *m)
{
	uint8_t *c = dup_exact(b, len);
	int rc = manifest_decode(c, len, m);

	if (rc == 0) {
		manifest_free(m);
	}
	free(c);
	return rc;
}

static void sample_blocks(struct manifest_block *b, size_t n)
{
	memset(b, 0, n * sizeof(*b));
	for (size_t i = 0; i < n; i++) {
		for (int j = 0; j < BLOCK_ID_LEN; j++) {
			b[i].id[j] = (uint8_t)(i * 31 + j);
		}
		b[i].k = 4;
		b[i].m = 2;
		b[i].len = (uint32_t)(4096 * (i + 1));
		b[i].csum = 0xabcdef0000000000ull + i;
	}
}

/* Inline manifests round trip with the data pointing into the buffer;
 * an empty inline object is valid. */
START_TEST(test_manifest_inline)
{
	struct manifest m = {.size = 5, .is_inline = 1, .inline_data = (const uint8_t *)"hello"};
	struct manifest out;
	uint8_t *b;
	size_t len;

	b = encode_manifest(&m, &len);
	ck_assert_uint_eq(len, 1 + 1 + 8 + 4 + 5);
	ck_assert_int_eq(manifest_decode(b, len, &out), 0);
	ck_assert(out.is_inline);
	ck_assert_uint_eq(out.size, 5);
	ck_assert_ptr_eq(out.inline_data, b + len - 5);
	ck_assert_mem_eq(out.inline_data, "hello", 5);
	ck_assert_uint_eq(out.n_blocks, 0);
	manifest_free(&out);
	for (size_t n = 0; n < len; n++) {
		ck_assert_int_eq(decode_exact(b, n, &out), -OBJ_EPROTO);
	}
	free(b);

	m.size = 0;
	m.inline_data = NULL;
	b = encode_manifest(&m, &len);
	ck_assert_int_eq(decode_exact(b, len, &out), 0);
	free(b);
}
END_TEST

/* Block manifests round trip field by field. */
START_TEST(test_manifest_blocks)
{
	struct manifest_block blk[3];
	struct manifest m = {.size = 4096 * 6, .n_blocks = 3, .blocks = blk};
	struct manifest out;
	uint8_t *b;
	size_t len;

	sample_blocks(blk, 3);
	b = encode_manifest(&m, &len);
	ck_assert_uint_eq(len, 1 + 1 + 8 + 4 + 3 * 30);
	ck_assert_int_eq(manifest_decode(b, len, &out), 0);
	ck_assert(!out.is_inline);
	ck_assert_uint_eq(out.size, m.size);
	ck_assert_uint_eq(out.n_blocks, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_mem_eq(out.blocks[i].id, blk[i].id, BLOCK_ID_LEN);
		ck_assert_uint_eq(out.blocks[i].k, blk[i].k);
		ck_assert_uint_eq(out.blocks[i].m, blk[i].m);
		ck_assert_uint_eq(out.blocks[i].len, blk[i].len);
		ck_assert_uint_eq(out.blocks[i].csum, blk[i].csum);
	}
	manifest_free(&out);
	ck_assert_ptr_null(out.blocks);
	for (size_t n = 0; n < len; n++) {
		ck_assert_int_eq(decode_exact(b, n, &out), -OBJ_EPROTO);
	}
	free(b);
}
END_TEST

/* Inconsistent manifests are -OBJ_EPROTO: lens not summing to size (both
 * ways), inline length != size, a len 0 block, k 0 or over 32, m over 16,
 * unknown format or flags, trailing bytes. */
START_TEST(test_manifest_inconsistent)
{
	struct manifest_block blk[2];
	struct manifest m = {.size = 4096 * 3, .n_blocks = 2, .blocks = blk};
	struct manifest out;
	uint8_t *b, *ext;
	size_t len;

	sample_blocks(blk, 2);
	b = encode_manifest(&m, &len);
	ck_assert_int_eq(decode_exact(b, len, &out), 0);
	ext = calloc(1, len + 1);
	ck_assert_ptr_nonnull(ext);
	memcpy(ext, b, len);
	ck_assert_int_eq(decode_exact(ext, len + 1, &out), -OBJ_EPROTO);
	free(ext);
	b[0] = 2;
	ck_assert_int_eq(decode_exact(b, len, &out), -OBJ_EPROTO);
	b[0] = MANIFEST_FMT;
	b[1] = 0x02;
	ck_assert_int_eq(decode_exact(b, len, &out), -OBJ_EPROTO);
	free(b);

	for (int i = 0; i < 6; i++) {
		sample_blocks(blk, 2);
		m.size = 4096 * 3;
		switch (i) {
		case 0:
			m.size++;
			break;
		case 1:
			m.size--;
			break;
		case 2:
			blk[1].len = 0;
			m.size = 4096;
			break;
		case 3:
			blk[0].k = 0;
			break;
		case 4:
			blk[1].k = 33;
			break;
		default:
			blk[0].m = 17;
			break;
		}
		b = encode_manifest(&m, &len);
		ck_assert_msg(decode_exact(b, len, &out) == -OBJ_EPROTO, "case %d accepted", i);
		free(b);
	}

	{
		struct manifest im = {
		    .size = 5, .is_inline = 1, .inline_data = (const uint8_t *)"hello"};

		b = encode_manifest(&im, &len);
		b[2] = 4; /* size 4, inline length 5 */
		ck_assert_int_eq(decode_exact(b, len, &out), -OBJ_EPROTO);
		b[2] = 6;
		ck_assert_int_eq(decode_exact(b, len, &out), -OBJ_EPROTO);
		free(b);
	}
}
END_TEST

/* A block count larger than the remaining bytes can hold is refused
 * before anything is allocated: n = 0xffffffff with a short buffer
 * returns -OBJ_EPROTO (not -ENOMEM) at once, as does a count one over
 * what the bytes hold. */
START_TEST(test_manifest_huge_count)
{
	struct manifest_block blk[2];
	struct manifest m = {.size = 4096 * 3, .n_blocks = 2, .blocks = blk};
	uint8_t hdr[1 + 1 + 8 + 4 + 10] = {MANIFEST_FMT, 0};
	struct manifest out;
	struct timespec t0;
	uint8_t *b;
	size_t len;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	put_le32(hdr + 10, UINT32_MAX);
	ck_assert_int_eq(decode_exact(hdr, sizeof(hdr), &out), -OBJ_EPROTO);
	ck_assert_ptr_null(out.blocks);
	put_le32(hdr + 10, 0x10000000u);
	ck_assert_int_eq(decode_exact(hdr, sizeof(hdr), &out), -OBJ_EPROTO);
	ck_assert(tl_elapsed_s(&t0) < 1.0);

	sample_blocks(blk, 2);
	b = encode_manifest(&m, &len);
	put_le32(b + 10, 3);
	ck_assert_int_eq(decode_exact(b, len, &out), -OBJ_EPROTO);
	put_le32(b + 10, 1);
	ck_assert_int_eq(decode_exact(b, len, &out), -OBJ_EPROTO); /* then trailing bytes */
	put_le32(b + 10, 2);
	ck_assert_int_eq(decode_exact(b, len, &out), 0);
	free(b);
}
END_TEST

static Suite *frame_suite(void)
{
	Suite *s = suite_create("frame");
	TCase *tf = tcase_create("frame");
	TCase *tr = tcase_create("replay");
	TCase *tn = tcase_create("manifest");

	tcase_add_test(tf, test_frame_roundtrip);
	tcase_add_test(tf, test_frame_bit_flips);
	tcase_add_test(tf, test_frame_wrong_key);
	tcase_add_test(tf, test_frame_length);
	tcase_add_test(tf, test_frame_magic_version);
	tcase_add_test(tf, test_frame_oversize);
	tcase_add_test(tf, test_frame_clock);
	tcase_add_test(tf, test_frame_layout);
	tcase_add_test(tf, test_frame_mac);
	suite_add_tcase(s, tf);

	/* A stalled table shows up as a timeout, so keep it short but above
	 * what the floods take under valgrind. */
	tcase_set_timeout(tr, 20);
	tcase_add_test(tr, test_replay_duplicate);
	tcase_add_test(tr, test_replay_window);
	tcase_add_test(tr, test_replay_flood_spread);
	tcase_add_test(tr, test_replay_flood_same_ms);
	tcase_add_test(tr, test_replay_flood_future);
	suite_add_tcase(s, tr);

	tcase_add_test(tn, test_manifest_inline);
	tcase_add_test(tn, test_manifest_blocks);
	tcase_add_test(tn, test_manifest_inconsistent);
	tcase_add_test(tn, test_manifest_huge_count);
	suite_add_tcase(s, tn);
	return s;
}

int main(void)
{
	return tl_run(frame_suite());
}
