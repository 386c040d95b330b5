/* test_ec.c: unit tests of the erasure codec (common/ec.c): every loss
 * pattern the profile tolerates is rebuilt bit-exactly, more losses are
 * refused, and profiles are parsed and range-checked. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/ec.h"
#include "../../common/err.h"
#include "../lib/testlib.h"

/* splitmix64: fixed seeds keep failures reproducible. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void fill_random(uint64_t *s, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = rng_next(s);
		size_t n = len - i < 8 ? len - i : 8;

		memcpy(buf + i, &v, n);
	}
}

/* One random block, its reference encoding and a scratch copy to damage. */
struct fixture {
	struct ec_codec *c;
	struct ec_profile p;
	size_t len;
	size_t fl;
	uint8_t *block;
	uint8_t *joined;
	uint8_t *ref[EC_MAX_FRAGS];
	uint8_t *work[EC_MAX_FRAGS];
};

static uint8_t *xmalloc(size_t len)
{
	uint8_t *p = malloc(len > 0 ? len : 1);

	ck_assert_ptr_nonnull(p);
	return p;
}

static void fixture_init(struct fixture *f, uint8_t k, uint8_t m, size_t len, uint64_t seed)
{
	int err = 1;

	memset(f, 0, sizeof(*f));
	f->p = (struct ec_profile){.k = k, .m = m};
	f->c = ec_create(f->p, &err);
	ck_assert_ptr_nonnull(f->c);
	ck_assert_int_eq(err, 0);
	f->len = len;
	f->fl = ec_frag_len(f->p, len);
	f->block = xmalloc(len);
	f->joined = xmalloc(len);
	fill_random(&seed, f->block, len);
	for (int i = 0; i < k + m; i++) {
		f->ref[i] = xmalloc(f->fl);
		f->work[i] = xmalloc(f->fl);
	}
	ck_assert_int_eq(ec_encode(f->c, f->block, len, f->ref), 0);
	for (int i = 0; i < k + m; i++) {
		memcpy(f->work[i], f->ref[i], f->fl);
	}
}

static void fixture_free(struct fixture *f)
{
	for (int i = 0; i < f->p.k + f->p.m; i++) {
		free(f->ref[i]);
		free(f->work[i]);
	}
	free(f->block);
	free(f->joined);
	ec_destroy(f->c);
}

/* Garbles the fragments in mask, decodes, and requires every fragment to
 * match the reference and the joined block to match the original.  Leaves
 * work[] equal to ref[] again for the next pattern. */
static void check_pattern(struct fixture *f, uint64_t mask)
{
	uint8_t present[EC_MAX_FRAGS] = {0};
	int n = f->p.k + f->p.m;

	for (int i = 0; i < n; i++) {
		present[i] = !((mask >> i) & 1);
		if (!present[i]) {
			memset(f->work[i], 0xa5 ^ i, f->fl);
		}
	}
	ck_assert_int_eq(ec_decode(f->c, f->fl, f->work, present), 0);
	for (int i = 0; i < n; i++) {
		ck_assert_msg(memcmp(f->work[i], f->ref[i], f->fl) == 0,
			      "%d+%d len %zu mask %#llx: fragment %d differs", f->p.k, f->p.m,
			      f->len, (unsigned long long)mask, i);
	}
	memset(f->joined, 0, f->len);
	ec_join(f->p, f->len, f->work, f->joined);
	ck_assert_msg(memcmp(f->joined, f->block, f->len) == 0,
		      "%d+%d len %zu mask %#llx: joined block differs", f->p.k, f->p.m, f->len,
		      (unsigned long long)mask);
}

/* Runs check_pattern on every mask of k+m bits with exactly n_lost set. */
static void sweep(struct fixture *f, int n_lost)
{
	int n = f->p.k + f->p.m;

	for (uint64_t mask = 0; mask < (1ULL << n); mask++) {
		if (__builtin_popcountll(mask) == n_lost) {
			check_pattern(f, mask);
		}
	}
}

#define MIB (1024 * 1024)

struct sweep_case {
	uint8_t k, m;
	size_t len;
};

/* clang-format off */
static const struct sweep_case sweep_cases[] = {
	{4, 2, 0}, {4, 2, 1}, {4, 2, 31}, {4, 2, 1000},
	{4, 2, 4096 * 4 + 7}, {4, 2, 5 * MIB + 3},
	{6, 3, 0}, {6, 3, 1}, {6, 3, 31}, {6, 3, 1000},
	{6, 3, 4096 * 6 + 7}, {6, 3, 5 * MIB + 3},
	{8, 4, 0}, {8, 4, 1}, {8, 4, 31}, {8, 4, 1000},
	{8, 4, 4096 * 8 + 7}, {8, 4, 5 * MIB + 3},
	{1, 2, 1000}, /* k = 1: plain replication */
	{3, 1, 1000}, /* m = 1: single parity */
	{10, 6, 1000}, /* 46 of its 6-loss patterns are singular under plain RS */
};
/* clang-format on */

/* Loop index = case * SWEEP_SLOTS + number of lost fragments, so the
 * 5 MiB sweeps are split into runs that each fit Check's timeout.  Must
 * exceed every m in the table. */
#define SWEEP_SLOTS 7

/* Every pattern of up to m lost fragments is rebuilt bit-exactly, data and
 * parity, at sizes that are empty, tiny, odd and not multiples of k or 32. */
START_TEST(test_sweep)
{
	const struct sweep_case *sc = &sweep_cases[_i / SWEEP_SLOTS];
	int n_lost = _i % SWEEP_SLOTS;
	struct fixture f;

	if (n_lost > sc->m) {
		return;
	}
	fixture_init(&f, sc->k, sc->m, sc->len, 1000 + (uint64_t)_i);
	sweep(&f, n_lost);
	fixture_free(&f);
}
END_TEST

/* With more than m fragments lost, decode reports -EIO for every pattern. */
START_TEST(test_too_many_lost)
{
	struct ec_profile profiles[] = {{4, 2}, {6, 3}, {8, 4}};
	struct ec_profile p = profiles[_i];
	uint8_t present[EC_MAX_FRAGS] = {0};
	struct fixture f;
	int n = p.k + p.m;

	fixture_init(&f, p.k, p.m, 1000, 5);
	for (uint64_t mask = 0; mask < (1ULL << n); mask++) {
		if (__builtin_popcountll(mask) <= p.m) {
			continue;
		}
		for (int i = 0; i < n; i++) {
			present[i] = !((mask >> i) & 1);
		}
		ck_assert_int_eq(ec_decode(f.c, f.fl, f.work, present), -EIO);
	}
	fixture_free(&f);
}
END_TEST

/* m = 0 works: encode copies the data, decode with all present is a no-op,
 * any missing fragment is -EIO. */
START_TEST(test_no_parity)
{
	uint8_t present[EC_MAX_K];
	struct fixture f;

	fixture_init(&f, 4, 0, 1000, 9);
	memset(present, 1, sizeof(present));
	ck_assert_int_eq(ec_decode(f.c, f.fl, f.work, present), 0);
	for (int i = 0; i < 4; i++) {
		ck_assert_mem_eq(f.work[i], f.ref[i], f.fl);
	}
	ec_join(f.p, f.len, f.work, f.joined);
	ck_assert_mem_eq(f.joined, f.block, f.len);
	for (int i = 0; i < 4; i++) {
		present[i] = 0;
		ck_assert_int_eq(ec_decode(f.c, f.fl, f.work, present), -EIO);
		present[i] = 1;
	}
	fixture_free(&f);
}
END_TEST

/* The largest profile, 32+16, rebuilds random sets of 16 lost fragments. */
START_TEST(test_max_profile)
{
	struct fixture f;
	uint64_t seed = 42;
	int n = EC_MAX_K + EC_MAX_M;

	fixture_init(&f, EC_MAX_K, EC_MAX_M, 100003, 11);
	check_pattern(&f, 0xffffULL);
	check_pattern(&f, 0xffffULL << EC_MAX_K);
	for (int t = 0; t < 40; t++) {
		uint64_t mask = 0;

		while (__builtin_popcountll(mask) < EC_MAX_M) {
			mask |= 1ULL << (rng_next(&seed) % (uint64_t)n);
		}
		check_pattern(&f, mask);
	}
	fixture_free(&f);
}
END_TEST

/* Data fragments hold the block in order followed by zeros, and
 * fragment lengths are ceil(len / k) rounded up to 32. */
START_TEST(test_layout)
{
	struct ec_profile p42 = {4, 2}, p84 = {8, 4};
	struct fixture f;

	ck_assert_uint_eq(ec_frag_len(p42, 0), 0);
	ck_assert_uint_eq(ec_frag_len(p42, 1), 32);
	ck_assert_uint_eq(ec_frag_len(p42, 128), 32);
	ck_assert_uint_eq(ec_frag_len(p42, 129), 64);
	ck_assert_uint_eq(ec_frag_len(p42, 1000), 256);
	ck_assert_uint_eq(ec_frag_len(p84, 4096 * 8 + 7), 4128);

	fixture_init(&f, 8, 4, 1000, 3);
	for (size_t off = 0; off < 8 * f.fl; off++) {
		uint8_t want = off < f.len ? f.block[off] : 0;

		ck_assert_uint_eq(f.ref[off / f.fl][off % f.fl], want);
	}
	fixture_free(&f);
}
END_TEST

/* ec_encode_ref gives the bytes of ec_encode for every fragment, with
 * the whole data fragments pointing into the block itself. */
START_TEST(test_encode_ref)
{
	static const size_t lens[] = {0, 1, 31, 128, 129, 1000, 4096, 65536 + 3, (1u << 20)};
	static const struct ec_profile profs[] = {{4, 2}, {1, 0}, {3, 1}, {8, 4}, {6, 0}};
	uint64_t seed = 77;

	for (size_t pi = 0; pi < OBJ_ARRAY_LEN(profs); pi++) {
		struct ec_codec *c = ec_create(profs[pi], NULL);
		size_t nf = (size_t)profs[pi].k + profs[pi].m;

		ck_assert_ptr_nonnull(c);
		for (size_t li = 0; li < OBJ_ARRAY_LEN(lens); li++) {
			size_t len = lens[li], fl = ec_frag_len(profs[pi], len);
			size_t w = ec_whole_frags(profs[pi], len);
			uint8_t *block = malloc(len + 1), *full = malloc(nf * fl + 1);
			uint8_t *scratch = malloc((nf - w) * fl + 1), *frags[EC_MAX_FRAGS];
			const uint8_t *out[EC_MAX_FRAGS];

			fill_random(&seed, block, len);
			for (size_t i = 0; i < nf; i++) {
				frags[i] = full + i * fl;
			}
			ck_assert_int_eq(ec_encode(c, block, len, frags), 0);
			ck_assert_int_eq(ec_encode_ref(c, block, len, scratch, out), 0);
			ck_assert_uint_le(w, profs[pi].k);
			ck_assert_uint_le(w * fl, len == 0 ? 0 : len);
			for (size_t i = 0; i < nf; i++) {
				if (i < w) {
					ck_assert_ptr_eq(out[i], block + i * fl);
				}
				ck_assert_mem_eq(out[i], frags[i], fl);
			}
			free(block);
			free(full);
			free(scratch);
		}
		ec_destroy(c);
	}
}
END_TEST

/* "K+M" parses only within range and with nothing else around it. */
START_TEST(test_profile_parse)
{
	/* clang-format off */
	static const char *const bad[] = {
		"",			/* empty */
		"0+2", "40+2", "33+1",	/* k out of range */
		"4+17",			/* m out of range */
		"4+", "+2", "4",	/* a part missing */
		"4-2", "4++2",		/* wrong separator */
		"4+2x", "4+2 ",		/* trailing junk */
		" 4+2", "4+ 2",		/* blanks and signs that strtoul accepts */
		"4+-2", "-4+2",
		"999999999999+2",	/* would overflow a naive parser */
	};
	/* clang-format on */
	struct ec_profile p = {0, 0};

	ck_assert_int_eq(ec_profile_parse("4+2", &p), 0);
	ck_assert_uint_eq(p.k, 4);
	ck_assert_uint_eq(p.m, 2);
	ck_assert_int_eq(ec_profile_parse("12+4", &p), 0);
	ck_assert_uint_eq(p.k, 12);
	ck_assert_uint_eq(p.m, 4);
	ck_assert_int_eq(ec_profile_parse("32+16", &p), 0);
	ck_assert_int_eq(ec_profile_parse("1+0", &p), 0);
	ck_assert_uint_eq(p.k, 1);
	ck_assert_uint_eq(p.m, 0);
	for (size_t i = 0; i < OBJ_ARRAY_LEN(bad); i++) {
		p = (struct ec_profile){7, 7};
		ck_assert_msg(ec_profile_parse(bad[i], &p) == -EINVAL, "accepted \"%s\"", bad[i]);
		ck_assert_msg(p.k == 7 && p.m == 7, "\"%s\" wrote the output", bad[i]);
	}
	ck_assert_int_eq(ec_profile_parse(NULL, &p), -EINVAL);
}
END_TEST

/* ec_create refuses profiles out of range with -EINVAL and reports the
 * profile it was built with. */
START_TEST(test_create)
{
	static const struct ec_profile bad[] = {
	    {0, 0}, {0, 2}, {EC_MAX_K + 1, 0}, {4, EC_MAX_M + 1}, {255, 255},
	};
	struct ec_profile p = {6, 3};
	struct ec_codec *c;
	int err;

	for (size_t i = 0; i < OBJ_ARRAY_LEN(bad); i++) {
		err = 0;
		ck_assert_ptr_null(ec_create(bad[i], &err));
		ck_assert_int_eq(err, -EINVAL);
	}
	err = 1;
	c = ec_create(p, &err);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(err, 0);
	ck_assert_uint_eq(ec_codec_profile(c).k, 6);
	ck_assert_uint_eq(ec_codec_profile(c).m, 3);
	ec_destroy(c);
}
END_TEST

#define N_THREADS 4

struct thread_arg {
	const struct ec_codec *c;
	struct fixture *f; /* read only: block and reference */
	int id;
	int failures;
};

static void *decode_thread(void *p)
{
	struct thread_arg *a = p;
	struct fixture *f = a->f;
	uint8_t *frags[EC_MAX_FRAGS];
	uint8_t present[EC_MAX_FRAGS] = {0};
	int n = f->p.k + f->p.m;

	for (int i = 0; i < n; i++) {
		frags[i] = malloc(f->fl);
		if (frags[i] == NULL) {
			OBJ_PANIC("test out of memory");
		}
		memcpy(frags[i], f->ref[i], f->fl);
	}
	for (int round = 0; round < 50; round++) {
		/* Each thread loses a different pair, so tables differ. */
		int x = (a->id + round) % n, y = (a->id * 3 + round * 5 + 1) % n;

		memset(present, 1, sizeof(present));
		present[x] = present[y] = 0;
		memset(frags[x], 0, f->fl);
		memset(frags[y], 0xff, f->fl);
		if (ec_decode(a->c, f->fl, frags, present) != 0) {
			a->failures++;
		}
		for (int i = 0; i < n; i++) {
			a->failures += memcmp(frags[i], f->ref[i], f->fl) != 0;
		}
	}
	for (int i = 0; i < n; i++) {
		free(frags[i]);
	}
	return NULL;
}

/* One codec decodes correctly from several threads at once. */
START_TEST(test_threads)
{
	struct thread_arg args[N_THREADS];
	pthread_t th[N_THREADS];
	struct fixture f;

	fixture_init(&f, 6, 3, 65536 + 5, 21);
	for (int t = 0; t < N_THREADS; t++) {
		args[t] = (struct thread_arg){.c = f.c, .f = &f, .id = t};
		ck_assert_int_eq(pthread_create(&th[t], NULL, decode_thread, &args[t]), 0);
	}
	for (int t = 0; t < N_THREADS; t++) {
		ck_assert_int_eq(pthread_join(th[t], NULL), 0);
		ck_assert_int_eq(args[t].failures, 0);
	}
	fixture_free(&f);
}
END_TEST

static Suite *ec_suite(void)
{
	Suite *s = suite_create("ec");
	TCase *tc = tcase_create("codec");

	tcase_add_loop_test(tc, test_sweep, 0, (int)OBJ_ARRAY_LEN(sweep_cases) * SWEEP_SLOTS);
	tcase_add_loop_test(tc, test_too_many_lost, 0, 3);
	tcase_add_test(tc, test_no_parity);
	tcase_add_test(tc, test_max_profile);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_encode_ref);
	tcase_add_test(tc, test_profile_parse);
	tcase_add_test(tc, test_create);
	tcase_add_test(tc, test_threads);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(ec_suite());
}
