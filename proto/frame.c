/* frame.c: sealing and opening of message envelopes (see frame.h). */
#include "frame.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "../common/err.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		v |= (uint32_t)p[i] << (8 * i);
	}
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++) {
		v |= (uint64_t)p[i] << (8 * i);
	}
	return v;
}

static int mac(const struct frame_key *key, const uint8_t *buf, size_t len, uint8_t out[32])
{
	unsigned int n = 0;

	if (HMAC(EVP_sha256(), key->secret, (int)key->len, buf, len, out, &n) == NULL ||
	    n != FRAME_MAC_LEN) {
		return -EIO;
	}
	return 0;
}

int frame_seal(const struct frame_key *key, const struct frame_hdr *h, uint8_t *buf)
{
	put32(buf + 0, FRAME_MAGIC);
	buf[4] = FRAME_VERSION;
	buf[5] = h->type;
	buf[6] = (uint8_t)h->flags;
	buf[7] = (uint8_t)(h->flags >> 8);
	put64(buf + 8, h->req_id);
	put64(buf + 16, h->ts_ms);
	put64(buf + 24, h->nonce);
	put32(buf + 32, (uint32_t)h->status);
	put32(buf + 36, h->body_len);
	return mac(key, buf, FRAME_HDR_LEN + (size_t)h->body_len,
		   buf + FRAME_HDR_LEN + h->body_len);
}

int frame_open(const struct frame_key *key, const uint8_t *buf, size_t len,
	       struct frame_hdr *h, const uint8_t **body)
{
	uint8_t want[FRAME_MAC_LEN];
	uint8_t diff = 0;

	if (len < FRAME_OVERHEAD || get32(buf) != FRAME_MAGIC || buf[4] != FRAME_VERSION) {
		return -OBJ_EPROTO;
	}
	h->type = buf[5];
	h->flags = (uint16_t)(buf[6] | (buf[7] << 8));
	h->req_id = get64(buf + 8);
	h->ts_ms = get64(buf + 16);
	h->nonce = get64(buf + 24);
	h->status = (int32_t)get32(buf + 32);
	h->body_len = get32(buf + 36);
	if (h->body_len > FRAME_MAX_BODY || frame_size(h->body_len) != len) {
		return -OBJ_EPROTO;
	}
	if (mac(key, buf, FRAME_HDR_LEN + (size_t)h->body_len, want) != 0) {
		return -EIO;
	}
	/* Constant-time compare: the MAC must not leak through timing. */
	for (size_t i = 0; i < FRAME_MAC_LEN; i++) {
		diff |= (uint8_t)(want[i] ^ buf[FRAME_HDR_LEN + h->body_len + i]);
	}
	if (diff != 0) {
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

uint64_t frame_nonce(void)
{
	uint64_t v = 0;

	while (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v)) {
		/* getrandom only fails short on EINTR for small sizes: retry */
	}
	return v;
}
