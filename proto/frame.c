/* frame.c: sealing and opening of message envelopes (see frame.h). */
#include "frame.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <time.h>

#include "../common/err.h"
#include "wire.h"

int frame_mac(const struct frame_key *key, const void *p, size_t n, uint8_t out[FRAME_MAC_LEN])
{
	unsigned int len = 0;

	if (HMAC(EVP_sha256(), key->secret, (int)key->len, p, n, out, &len) == NULL ||
	    len != FRAME_MAC_LEN) {
		return -EIO;
	}
	return 0;
}

int frame_mac_check(const struct frame_key *key, const void *p, size_t n,
		    const uint8_t mac[FRAME_MAC_LEN])
{
	uint8_t want[FRAME_MAC_LEN];
	int rc = frame_mac(key, p, n, want);

	if (rc != 0) {
		return rc;
	}
	return CRYPTO_memcmp(want, mac, FRAME_MAC_LEN) == 0 ? 0 : -OBJ_EAUTH;
}

/* The GMAC key derived from the secret, cached per thread (no heap, so
 * nothing to free when the thread ends): deriving costs an HMAC. */
static __thread struct {
	uint8_t secret[sizeof(((struct frame_key *)0)->secret)];
	size_t len;
	uint8_t aes[32];
	int ok;
} kcache;

static int gmac_key(const struct frame_key *key, uint8_t aes[32])
{
	static const char label[] = "objfs frame v2 aes-256-gmac";
	unsigned int n = 0;

	if (key->len > sizeof(kcache.secret)) {
		return -EINVAL;
	}
	if (!kcache.ok || kcache.len != key->len ||
	    memcmp(kcache.secret, key->secret, key->len) != 0) {
		kcache.ok = 0;
		if (HMAC(EVP_sha256(), key->secret, (int)key->len, (const uint8_t *)label,
			 sizeof(label) - 1, kcache.aes, &n) == NULL ||
		    n != 32) {
			return -EIO;
		}
		memcpy(kcache.secret, key->secret, key->len);
		kcache.len = key->len;
		kcache.ok = 1;
	}
	memcpy(aes, kcache.aes, 32);
	return 0;
}

/* The tag of the frame whose header and body are the n bytes at p (the
 * header's nonce, ts_ms and flags give the IV: frame.h). */
static int frame_tag(const struct frame_key *key, const uint8_t *p, size_t n,
		     uint8_t tag[FRAME_TAG_LEN])
{
	uint8_t aes[32], iv[12];
	struct rd r;
	struct wr w;
	uint16_t flags;
	uint64_t ts, nonce;
	EVP_CIPHER_CTX *c;
	int ol, rc = -EIO;

	if (n < FRAME_HDR_LEN || n > (size_t)INT32_MAX || gmac_key(key, aes) != 0) {
		return -EIO;
	}
	rd_init(&r, p + 6, FRAME_HDR_LEN - 6);
	flags = rd_u16(&r);
	rd_u64(&r); /* req_id */
	ts = rd_u64(&r);
	nonce = rd_u64(&r);
	wr_init_buf(&w, iv, sizeof(iv));
	wr_u64(&w, nonce);
	wr_u32(&w, (uint32_t)(ts & 0x7fffffffu) | ((flags & FRAME_F_REPLY) ? 0x80000000u : 0));
	c = EVP_CIPHER_CTX_new();
	if (c != NULL && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, aes, iv) == 1 &&
	    EVP_EncryptUpdate(c, NULL, &ol, p, (int)n) == 1 &&
	    EVP_EncryptFinal_ex(c, NULL, &ol) == 1 &&
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, FRAME_TAG_LEN, tag) == 1) {
		rc = 0;
	}
	EVP_CIPHER_CTX_free(c);
	OPENSSL_cleanse(aes, sizeof(aes));
	return rc;
}

int frame_reseal(const struct frame_key *key, uint8_t *buf, size_t len)
{
	if (len < FRAME_OVERHEAD) {
		return -EIO;
	}
	return frame_tag(key, buf, len - FRAME_TAG_LEN, buf + len - FRAME_TAG_LEN);
}

unsigned frame_version(const uint8_t *buf, size_t len)
{
	return len > 4 ? buf[4] : 0;
}

uint8_t frame_peek_type(const uint8_t *buf, size_t len)
{
	return len > 5 ? buf[5] : 0;
}

uint64_t frame_peek_key(const uint8_t *buf, size_t len)
{
	struct rd r;

	/* A frame frame_open refuses for its shape names no key. */
	if (len < FRAME_OVERHEAD || frame_version(buf, len) != FRAME_VERSION) {
		return 0;
	}
	rd_init(&r, buf, FRAME_HDR_LEN);
	if (rd_u32(&r) != FRAME_MAGIC) {
		return 0;
	}
	rd_init(&r, buf + 40, 8);
	return rd_u64(&r);
}

int frame_seal(const struct frame_key *key, const struct frame_hdr *h, uint8_t *buf)
{
	struct wr w;

	wr_init_buf(&w, buf, FRAME_HDR_LEN);
	wr_u32(&w, FRAME_MAGIC);
	wr_u8(&w, FRAME_VERSION);
	wr_u8(&w, h->type);
	wr_u16(&w, h->flags);
	wr_u64(&w, h->req_id);
	wr_u64(&w, h->ts_ms);
	wr_u64(&w, h->nonce);
	wr_u32(&w, (uint32_t)h->status);
	wr_u32(&w, h->body_len);
	wr_u64(&w, key->id);
	if (wr_status(&w) != 0 || w.len != FRAME_HDR_LEN) {
		OBJ_PANIC("frame header layout: %zu bytes", w.len);
	}
	return frame_tag(key, buf, FRAME_HDR_LEN + (size_t)h->body_len,
			 buf + FRAME_HDR_LEN + h->body_len);
}

int frame_open(const struct frame_key *key, const uint8_t *buf, size_t len, struct frame_hdr *h,
	       const uint8_t **body)
{
	uint8_t tag[FRAME_TAG_LEN];
	struct rd r;
	uint32_t magic;
	uint8_t version;
	int rc;

	if (len < FRAME_OVERHEAD) {
		return -OBJ_EPROTO;
	}
	rd_init(&r, buf, FRAME_HDR_LEN);
	magic = rd_u32(&r);
	version = rd_u8(&r);
	if (magic != FRAME_MAGIC) {
		return -OBJ_EPROTO;
	}
	if (version != FRAME_VERSION) {
		return -EPROTONOSUPPORT;
	}
	h->type = rd_u8(&r);
	h->flags = rd_u16(&r);
	h->req_id = rd_u64(&r);
	h->ts_ms = rd_u64(&r);
	h->nonce = rd_u64(&r);
	h->status = (int32_t)rd_u32(&r);
	h->body_len = rd_u32(&r);
	h->key_id = rd_u64(&r);
	if (!rd_done(&r)) {
		OBJ_PANIC("frame header layout: %zu bytes left", r.left);
	}
	if (h->body_len > FRAME_MAX_BODY || frame_size(h->body_len) != len) {
		return -OBJ_EPROTO;
	}
	if (h->key_id != key->id) {
		return -OBJ_EAUTH;
	}
	rc = frame_tag(key, buf, FRAME_HDR_LEN + (size_t)h->body_len, tag);
	if (rc != 0) {
		return rc;
	}
	if (CRYPTO_memcmp(tag, buf + FRAME_HDR_LEN + h->body_len, FRAME_TAG_LEN) != 0) {
		return -OBJ_EAUTH;
	}
	*body = buf + FRAME_HDR_LEN;
	return 0;
}

uint64_t frame_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
