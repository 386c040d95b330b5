/* compress.h: the block codecs (lz4, zstd) blockio applies before erasure
 * coding: whether a block is worth compressing (a trial on samples of it),
 * compression into the caller's buffer, and decompression bounded by the
 * length the block record states.  Pure computation: no I/O, no state, no
 * allocation beyond the codec libraries' own; any thread.
 *
 * A block is kept compressed only when that saves at least a tenth of it
 * (CZ_KEEP_NUM / CZ_KEEP_DEN): below that, every read would pay the
 * decompression for little space.  Data that does not compress (media,
 * archives, encrypted or random bytes) is found by the trial, which costs
 * a few percent of compressing the whole block, and then stored raw. */
#ifndef OBJFS_COMPRESS_H
#define OBJFS_COMPRESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../proto/manifest.h"

/* Kept compressed only at or below 9/10 of the raw size. */
#define CZ_KEEP_NUM 9
#define CZ_KEEP_DEN 10
/* Trial: CZ_SAMPLES slices of CZ_SAMPLE_LEN bytes, spread over the block
 * (a tar or a log may start with a header unlike the rest), each
 * compressed alone.  Blocks up to CZ_TRIAL_MIN bytes skip the trial: the
 * trial would cost about as much as compressing them. */
#define CZ_SAMPLE_LEN (16 * 1024)
#define CZ_SAMPLES 4
#define CZ_TRIAL_MIN (4 * CZ_SAMPLES * CZ_SAMPLE_LEN)
/* zstd level 1: about 3x lz4's ratio gain on text at a third of its
 * speed, still well above what one client pushes through erasure coding
 * and the network (bench/compress.sh). */
#define CZ_ZSTD_LEVEL 1

/* "none", "lz4", "zstd"; "?" for an unknown number. */
const char *cz_name(uint8_t codec);
/* Parses a codec name; 0, or -EINVAL for anything else. */
int cz_parse(const char *name, uint8_t *codec);

/* The room dst needs for cz_compress of len bytes with codec (>= len). */
size_t cz_bound(uint8_t codec, size_t len);

/* Compresses src[0..len) with codec into dst (cap >= cz_bound(codec, len)).
 * Returns the compressed length when the block is worth keeping
 * compressed (<= len * 9/10), 0 when it must be stored raw (the trial or
 * the result says it does not compress, or codec is BLK_CODEC_NONE), or
 * -EINVAL (unknown codec, len 0 or above MSG_BLOCK_MAX, cap too small)
 * or -ENOMEM (the library could not allocate). */
ssize_t cz_compress(uint8_t codec, const void *src, size_t len, void *dst, size_t cap);

/* Decompresses the zlen bytes of src, which must decode to exactly
 * raw_len bytes (1..MSG_BLOCK_MAX), into dst (raw_len bytes of room: never
 * written past).  Returns 0, -OBJ_EPROTO when src is not such a stream
 * (damaged, truncated, of another length, or a lying block record), or
 * -EINVAL for an unknown codec or a length out of range. */
int cz_decompress(uint8_t codec, const void *src, size_t zlen, void *dst, size_t raw_len);

#endif
