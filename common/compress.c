/* compress.c: block codecs, the compressibility trial and bounded
 * decompression (see compress.h).  liblz4 and libzstd only here. */
#include "compress.h"

#include <errno.h>
#include <limits.h>
#include <lz4.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "err.h"

/* The trial is looser than the final test (19/20 against 9/10): slices
 * compressed alone lack the context the whole block gives, so they
 * compress a little worse than it; only data that clearly does not
 * compress is turned away before the real attempt. */
#define CZ_TRIAL_NUM 19
#define CZ_TRIAL_DEN 20

static const char *const names[BLK_CODEC_MAX] = {
    [BLK_CODEC_NONE] = "none",
    [BLK_CODEC_LZ4] = "lz4",
    [BLK_CODEC_ZSTD] = "zstd",
};

const char *cz_name(uint8_t codec)
{
	return codec < BLK_CODEC_MAX ? names[codec] : "?";
}

int cz_parse(const char *name, uint8_t *codec)
{
	for (uint8_t i = 0; i < BLK_CODEC_MAX; i++) {
		if (strcmp(name, names[i]) == 0) {
			*codec = i;
			return 0;
		}
	}
	return -EINVAL;
}

size_t cz_bound(uint8_t codec, size_t len)
{
	switch (codec) {
	case BLK_CODEC_LZ4:
		return len <= LZ4_MAX_INPUT_SIZE ? (size_t)LZ4_compressBound((int)len) : len;
	case BLK_CODEC_ZSTD:
		return ZSTD_compressBound(len);
	default:
		return len;
	}
}

/* One compression of src into dst; the length, or a negative errno. */
static ssize_t squeeze(uint8_t codec, ZSTD_CCtx *zc, const void *src, size_t len, void *dst,
		       size_t cap)
{
	if (codec == BLK_CODEC_LZ4) {
		int n =
		    LZ4_compress_default(src, dst, (int)len, cap > INT_MAX ? INT_MAX : (int)cap);

		return n > 0 ? (ssize_t)n : -EINVAL;
	}
	size_t n = ZSTD_compressCCtx(zc, dst, cap, src, len, CZ_ZSTD_LEVEL);

	if (ZSTD_isError(n)) {
		return ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? -ENOMEM : -EINVAL;
	}
	return (ssize_t)n;
}

/* The trial: 1 when samples of src compress well enough to try it all. */
static int worth_trying(uint8_t codec, ZSTD_CCtx *zc, const uint8_t *src, size_t len,
			uint8_t *scratch, size_t cap)
{
	size_t in = 0, out = 0;

	if (len <= CZ_TRIAL_MIN) {
		return 1;
	}
	for (size_t i = 0; i < CZ_SAMPLES; i++) {
		size_t off = i * ((len - CZ_SAMPLE_LEN) / (CZ_SAMPLES - 1));
		ssize_t n = squeeze(codec, zc, src + off, CZ_SAMPLE_LEN, scratch, cap);

		if (n < 0) {
			return (int)n;
		}
		in += CZ_SAMPLE_LEN;
		out += (size_t)n;
	}
	return out * CZ_TRIAL_DEN <= in * CZ_TRIAL_NUM;
}

ssize_t cz_compress(uint8_t codec, const void *src, size_t len, void *dst, size_t cap)
{
	ZSTD_CCtx *zc = NULL;
	ssize_t n;
	int go;

	if (codec >= BLK_CODEC_MAX || len == 0 || len > MSG_BLOCK_MAX ||
	    cap < cz_bound(codec, len)) {
		return -EINVAL;
	}
	if (codec == BLK_CODEC_NONE) {
		return 0;
	}
	/* One context for the samples and the block: its tables are made
	 * once. */
	if (codec == BLK_CODEC_ZSTD && (zc = ZSTD_createCCtx()) == NULL) {
		return -ENOMEM;
	}
	/* The samples go through dst too: it is the block's room, far more
	 * than a sample's bound. */
	go = worth_trying(codec, zc, src, len, dst, cap);
	if (go <= 0) {
		ZSTD_freeCCtx(zc);
		return go;
	}
	n = squeeze(codec, zc, src, len, dst, cap);
	ZSTD_freeCCtx(zc);
	if (n < 0) {
		return n;
	}
	return (size_t)n * CZ_KEEP_DEN <= len * CZ_KEEP_NUM ? n : 0;
}

int cz_decompress(uint8_t codec, const void *src, size_t zlen, void *dst, size_t raw_len)
{
	if (raw_len == 0 || raw_len > MSG_BLOCK_MAX || zlen == 0 || zlen > MSG_BLOCK_MAX) {
		return -EINVAL;
	}
	switch (codec) {
	case BLK_CODEC_LZ4: {
		/* _safe never reads past zlen nor writes past raw_len. */
		int n = LZ4_decompress_safe(src, dst, (int)zlen, (int)raw_len);

		return n >= 0 && (size_t)n == raw_len ? 0 : -OBJ_EPROTO;
	}
	case BLK_CODEC_ZSTD: {
		/* The frame states its size (ZSTD_compressCCtx writes it): one
		 * that disagrees with the block record is refused unread. */
		unsigned long long want = ZSTD_getFrameContentSize(src, zlen);
		size_t n;

		if (want != raw_len) {
			return -OBJ_EPROTO;
		}
		n = ZSTD_decompress(dst, raw_len, src, zlen);
		return !ZSTD_isError(n) && n == raw_len ? 0 : -OBJ_EPROTO;
	}
	default:
		return -EINVAL;
	}
}
