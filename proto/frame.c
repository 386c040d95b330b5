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
	if (wr_status(&w) != 0 || w.len != FRAME_HDR_LEN) {
		OBJ_PANIC("frame header layout: %zu bytes", w.len);
	}
	return frame_mac(key, buf, FRAME_HDR_LEN + (size_t)h->body_len,
			 buf + FRAME_HDR_LEN + h->body_len);
}

int frame_open(const struct frame_key *key, const uint8_t *buf, size_t len,
	       struct frame_hdr *h, const uint8_t **body)
{
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
	if (magic != FRAME_MAGIC || version != FRAME_VERSION) {
		return -OBJ_EPROTO;
	}
	h->type = rd_u8(&r);
	h->flags = rd_u16(&r);
	h->req_id = rd_u64(&r);
	h->ts_ms = rd_u64(&r);
	h->nonce = rd_u64(&r);
	h->status = (int32_t)rd_u32(&r);
	h->body_len = rd_u32(&r);
	if (!rd_done(&r)) {
		OBJ_PANIC("frame header layout: %zu bytes left", r.left);
	}
	if (h->body_len > FRAME_MAX_BODY || frame_size(h->body_len) != len) {
		return -OBJ_EPROTO;
	}
	rc = frame_mac_check(key, buf, FRAME_HDR_LEN + (size_t)h->body_len,
			     buf + FRAME_HDR_LEN + h->body_len);
	if (rc != 0) {
		return rc;
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
