/* chunk.c: sealed chunks of a byte stream (see chunk.h). */
#include "chunk.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "../common/err.h"
#include "wire.h"

int chunk_derive(const struct frame_key *secret, const void *salt, size_t salt_len,
		 const char *label, uint8_t out[CHUNK_KEY_LEN])
{
	uint8_t prk[32], info[128];
	size_t ilen = strlen(label);
	unsigned int n = 0;
	int rc = -EIO;

	if (ilen + 1 > sizeof(info)) {
		return -EINVAL;
	}
	/* Extract, then one block of expand: T(1) = HMAC(PRK, info || 1). */
	memcpy(info, label, ilen);
	info[ilen] = 1;
	if (HMAC(EVP_sha256(), salt, (int)salt_len, secret->secret, secret->len, prk, &n) != NULL &&
	    n == 32 && HMAC(EVP_sha256(), prk, 32, info, ilen + 1, out, &n) != NULL && n == 32) {
		rc = 0;
	}
	OPENSSL_cleanse(prk, sizeof(prk));
	return rc;
}

int chunk_key_init(struct chunk_key *ck, const uint8_t k[CHUNK_KEY_LEN])
{
	memset(ck, 0, sizeof(*ck));
	memcpy(ck->k, k, CHUNK_KEY_LEN);
	ck->ctx = EVP_CIPHER_CTX_new();
	return ck->ctx != NULL ? 0 : -ENOMEM;
}

void chunk_key_free(struct chunk_key *ck)
{
	EVP_CIPHER_CTX_free(ck->ctx);
	OPENSSL_cleanse(ck, sizeof(*ck));
}

static void iv_of(uint64_t seq, uint8_t iv[12])
{
	struct wr w;

	wr_init_buf(&w, iv, 12);
	wr_u64(&w, seq);
	wr_u32(&w, 0);
}

int chunk_seal(struct chunk_key *ck, const void *in, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *c = ck->ctx;
	uint8_t iv[12];
	struct wr w;
	int ol = 0, fl = 0;

	if (n == 0 || n > CHUNK_MAX) {
		return -EINVAL;
	}
	wr_init_buf(&w, out, CHUNK_HDR);
	wr_u32(&w, (uint32_t)n);
	iv_of(ck->seq, iv);
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, ck->k, iv) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &ol, out, CHUNK_HDR) != 1 ||
	    EVP_EncryptUpdate(c, out + CHUNK_HDR, &ol, in, (int)n) != 1 ||
	    EVP_EncryptFinal_ex(c, out + CHUNK_HDR + ol, &fl) != 1 || (size_t)(ol + fl) != n ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, CHUNK_TAG, out + CHUNK_HDR + n) != 1) {
		return -EIO;
	}
	ck->seq++;
	return 0;
}

ssize_t chunk_open(struct chunk_key *ck, uint8_t *buf, size_t have, uint8_t **plain,
		   size_t *plain_len)
{
	EVP_CIPHER_CTX *c = ck->ctx;
	uint8_t iv[12];
	struct rd r;
	uint32_t n;
	int ol = 0, fl = 0;

	if (have < CHUNK_HDR) {
		return 0;
	}
	rd_init(&r, buf, CHUNK_HDR);
	n = rd_u32(&r);
	if (n == 0 || n > CHUNK_MAX) {
		return -OBJ_EPROTO;
	}
	if (have < CHUNK_OVERHEAD + (size_t)n) {
		return 0;
	}
	iv_of(ck->seq, iv);
	if (EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, ck->k, iv) != 1 ||
	    EVP_DecryptUpdate(c, NULL, &ol, buf, CHUNK_HDR) != 1 ||
	    EVP_DecryptUpdate(c, buf + CHUNK_HDR, &ol, buf + CHUNK_HDR, (int)n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, CHUNK_TAG, buf + CHUNK_HDR + n) != 1) {
		return -EIO;
	}
	if (EVP_DecryptFinal_ex(c, buf + CHUNK_HDR + ol, &fl) != 1) {
		/* Nothing of a chunk that fails its tag may be used. */
		OPENSSL_cleanse(buf + CHUNK_HDR, n);
		return -OBJ_EAUTH;
	}
	ck->seq++;
	*plain = buf + CHUNK_HDR;
	*plain_len = n;
	return (ssize_t)(CHUNK_OVERHEAD + n);
}
