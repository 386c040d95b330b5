/* ec.c: the erasure codec and the only caller of ISA-L.  Owns the Cauchy
 * generator and the encode tables of one (k, m); never does I/O or locks.
 * Any thread: a codec is written only by ec_create, decode state is per call. */
#include "ec.h"

#include <isa-l/erasure_code.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* ISA-L expands every matrix coefficient into a 32-byte multiply table. */
#define EC_TBL_BYTES 32

/* ISA-L takes lengths as int.  Longer fragments are coded in slices of
 * 1 GiB, a multiple of 32, so every slice but the last stays on the vector
 * path. */
#define EC_SLICE ((size_t)1 << 30)

struct ec_codec {
	struct ec_profile p;
	/* (k+m) x k generator, row-major, from gf_gen_cauchy1_matrix: the
	 * identity for the data rows, then Cauchy rows for parity.  Any k of
	 * its rows form an invertible matrix, which the plain RS (Vandermonde)
	 * generator of ISA-L does not guarantee; so any k fragments rebuild.
	 * Sized for the largest profile so a codec is one allocation. */
	uint8_t matrix[EC_MAX_FRAGS * EC_MAX_K];
	/* ec_init_tables() of the m parity rows, ready for ec_encode_data. */
	uint8_t enc_tables[EC_MAX_M * EC_MAX_K * EC_TBL_BYTES];
};

static int profile_valid(struct ec_profile p)
{
	return p.k >= 1 && p.k <= EC_MAX_K && p.m <= EC_MAX_M && p.k + p.m <= 255;
}

/* Parses a run of decimal digits; rejects an empty run, and values past
 * 255 (the GF(2^8) limit) before they can overflow. */
static const char *parse_u8(const char *s, unsigned *out)
{
	unsigned v = 0;

	if (*s < '0' || *s > '9') {
		return NULL;
	}
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > 255) {
			return NULL;
		}
		s++;
	}
	*out = v;
	return s;
}

int ec_profile_parse(const char *s, struct ec_profile *out)
{
	struct ec_profile p;
	unsigned k, m;

	if (s == NULL) {
		return -EINVAL;
	}
	/* Hand-rolled rather than strtoul: that would accept blanks and signs. */
	s = parse_u8(s, &k);
	if (s == NULL || *s != '+') {
		return -EINVAL;
	}
	s = parse_u8(s + 1, &m);
	if (s == NULL || *s != '\0') {
		return -EINVAL;
	}
	p.k = (uint8_t)k;
	p.m = (uint8_t)m;
	if (!profile_valid(p)) {
		return -EINVAL;
	}
	*out = p;
	return 0;
}

struct ec_codec *ec_create(struct ec_profile p, int *err)
{
	struct ec_codec *c;
	int e = 0;

	if (!profile_valid(p)) {
		e = -EINVAL;
		c = NULL;
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		e = -ENOMEM;
		goto out;
	}
	c->p = p;
	gf_gen_cauchy1_matrix(c->matrix, p.k + p.m, p.k);
	if (p.m > 0) {
		ec_init_tables(p.k, p.m, &c->matrix[p.k * p.k], c->enc_tables);
	}
out:
	if (err != NULL) {
		*err = e;
	}
	return c;
}

void ec_destroy(struct ec_codec *c)
{
	free(c);
}

struct ec_profile ec_codec_profile(const struct ec_codec *c)
{
	return c->p;
}

size_t ec_frag_len(struct ec_profile p, size_t block_len)
{
	size_t per;

	if (p.k == 0) {
		return 0;
	}
	per = block_len / p.k + (block_len % p.k != 0);
	return (per + 31) & ~(size_t)31;
}

/* dst[r] = sum over j of coef(r, j) * src[j], for r < rows, over len bytes;
 * tables come from ec_init_tables(k, rows, ...).  ISA-L only reads tables,
 * but its prototype is not const. */
static void code_slices(size_t len, int k, int rows, const uint8_t *tables, uint8_t *const *src,
			uint8_t *const *dst)
{
	unsigned char *s[EC_MAX_K];
	unsigned char *d[EC_MAX_M];

	for (size_t off = 0; off < len; off += EC_SLICE) {
		size_t n = len - off < EC_SLICE ? len - off : EC_SLICE;

		for (int i = 0; i < k; i++) {
			s[i] = src[i] + off;
		}
		for (int r = 0; r < rows; r++) {
			d[r] = dst[r] + off;
		}
		ec_encode_data((int)n, k, rows, (unsigned char *)tables, s, d);
	}
}

/* Copies data rows first..k-1 of the block into frags (zero-padded to
 * fl bytes) and computes the m parity rows.  Rows below first already
 * point into the block. */
static void encode_rows(const struct ec_codec *c, const uint8_t *b, size_t block_len, size_t fl,
			size_t first, uint8_t *const *frags)
{
	for (size_t i = first; i < (size_t)c->p.k; i++) {
		size_t off = i * fl, n = off < block_len ? block_len - off : 0;

		n = n < fl ? n : fl;
		memcpy(frags[i], b + off, n);
		memset(frags[i] + n, 0, fl - n);
	}
	if (c->p.m > 0) {
		code_slices(fl, c->p.k, c->p.m, c->enc_tables, frags, frags + c->p.k);
	}
}

int ec_encode(const struct ec_codec *c, const void *block, size_t block_len, uint8_t *const *frags)
{
	size_t fl = ec_frag_len(c->p, block_len);

	if (fl > 0) {
		encode_rows(c, block, block_len, fl, 0, frags);
	}
	return 0;
}

size_t ec_whole_frags(struct ec_profile p, size_t block_len)
{
	size_t fl = ec_frag_len(p, block_len);
	size_t w = fl == 0 ? p.k : block_len / fl;

	return w < p.k ? w : p.k;
}

int ec_encode_ref(const struct ec_codec *c, const void *block, size_t block_len, uint8_t *scratch,
		  const uint8_t **out)
{
	const uint8_t *b = block;
	size_t fl = ec_frag_len(c->p, block_len), w = ec_whole_frags(c->p, block_len);
	uint8_t *frags[EC_MAX_FRAGS];

	/* ISA-L takes mutable pointers; the data rows are only read. */
	for (size_t i = 0; i < (size_t)c->p.k + c->p.m; i++) {
		frags[i] = i < w ? (uint8_t *)(uintptr_t)(b + i * fl) : scratch + (i - w) * fl;
		out[i] = frags[i];
	}
	if (fl > 0) {
		encode_rows(c, b, block_len, fl, w, frags);
	}
	return 0;
}

/* Rebuilds the lost data fragments from k survivors: if B is the generator
 * restricted to the survivors' rows, survivors = B * data, so data row i is
 * row i of B^-1 applied to the survivors.  Per-call state lives on the
 * stack (about 19 KiB at the largest profile), keeping decode lock-free. */
static int rebuild_data(const struct ec_codec *c, size_t frag_len, uint8_t *const *frags,
			const int *surv, const int *lost, int n_lost)
{
	int k = c->p.k;
	uint8_t b[EC_MAX_K * EC_MAX_K];
	uint8_t inv[EC_MAX_K * EC_MAX_K];
	uint8_t rows[EC_MAX_M * EC_MAX_K];
	uint8_t tables[EC_MAX_M * EC_MAX_K * EC_TBL_BYTES];
	uint8_t *src[EC_MAX_K];
	uint8_t *dst[EC_MAX_M];

	for (int i = 0; i < k; i++) {
		memcpy(&b[i * k], &c->matrix[surv[i] * k], (size_t)k);
		src[i] = frags[surv[i]];
	}
	/* Cannot fail for a Cauchy generator; kept as a read error rather
	 * than a panic because the survivor set comes from the network. */
	if (gf_invert_matrix(b, inv, k) != 0) {
		return -EIO;
	}
	for (int j = 0; j < n_lost; j++) {
		memcpy(&rows[j * k], &inv[lost[j] * k], (size_t)k);
		dst[j] = frags[lost[j]];
	}
	ec_init_tables(k, n_lost, rows, tables);
	code_slices(frag_len, k, n_lost, tables, src, dst);
	return 0;
}

/* Re-encodes only the lost parity rows from the complete data. */
static void rebuild_parity(const struct ec_codec *c, size_t frag_len, uint8_t *const *frags,
			   const int *lost, int n_lost)
{
	int k = c->p.k;
	uint8_t rows[EC_MAX_M * EC_MAX_K];
	uint8_t tables[EC_MAX_M * EC_MAX_K * EC_TBL_BYTES];
	uint8_t *dst[EC_MAX_M];

	for (int j = 0; j < n_lost; j++) {
		memcpy(&rows[j * k], &c->matrix[lost[j] * k], (size_t)k);
		dst[j] = frags[lost[j]];
	}
	ec_init_tables(k, n_lost, rows, tables);
	code_slices(frag_len, k, n_lost, tables, frags, dst);
}

int ec_decode(const struct ec_codec *c, size_t frag_len, uint8_t *const *frags,
	      const uint8_t *present)
{
	int k = c->p.k;
	int n = c->p.k + c->p.m;
	int surv[EC_MAX_K], lost_data[EC_MAX_M], lost_par[EC_MAX_M];
	int n_present = 0, n_surv = 0, n_ld = 0, n_lp = 0;
	int rc;

	for (int i = 0; i < n; i++) {
		n_present += present[i] != 0;
	}
	if (n_present < k) {
		return -EIO;
	}
	/* Now at most m are lost, so the arrays below cannot overflow.  The
	 * lowest-numbered survivors are used: data rows first, whose identity
	 * rows keep the matrix to invert sparse. */
	for (int i = 0; i < n; i++) {
		if (present[i]) {
			if (n_surv < k) {
				surv[n_surv++] = i;
			}
		} else if (i < k) {
			lost_data[n_ld++] = i;
		} else {
			lost_par[n_lp++] = i;
		}
	}
	if (n_ld > 0) {
		rc = rebuild_data(c, frag_len, frags, surv, lost_data, n_ld);
		if (rc < 0) {
			return rc;
		}
	}
	if (n_lp > 0) {
		rebuild_parity(c, frag_len, frags, lost_par, n_lp);
	}
	return 0;
}

void ec_join(struct ec_profile p, size_t block_len, uint8_t *const *frags, void *block)
{
	uint8_t *b = block;
	size_t fl = ec_frag_len(p, block_len);

	for (int i = 0; i < p.k; i++) {
		size_t off = (size_t)i * fl;

		if (off >= block_len) {
			break;
		}
		memcpy(b + off, frags[i], block_len - off < fl ? block_len - off : fl);
	}
}
