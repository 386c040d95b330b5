/* test_scrub.c: the scrub thread over a real fragment store: a pass finds
 * exactly the damaged fragments and quarantines them, keeps to its rate,
 * runs by itself every period, survives a restart through its state file,
 * and a kick during a pass starts a new one. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/checksum.h"
#include "../../common/ec.h"
#include "../../common/log.h"
#include "../../nodes/scrub.h"
#include "../lib/testlib.h"

static char tmpdir[4096];

static void setup(void)
{
	tl_mkdtemp(tmpdir, sizeof(tmpdir), "scrub");
	log_set_sink(tl_quiet_sink, NULL);
}

static void teardown(void)
{
	log_set_sink(NULL, NULL);
	tl_rmtree(tmpdir);
}

/* Stores n fragments of block_len-byte 4+2 blocks; refs[i] names each. */
static void fill(struct fragstore *fs, size_t n, uint64_t block_len, struct frag_ref *refs)
{
	for (size_t i = 0; i < n; i++) {
		struct frag_hdr h = {.k = 4, .m = 2, .block_len = block_len};
		uint8_t *d;

		for (int j = 0; j < BLOCK_ID_LEN; j++) {
			h.ref.block_id[j] = (uint8_t)(i * 131 + (size_t)j * 7);
		}
		h.ref.index = (uint8_t)(i % 6);
		h.frag_len = (uint32_t)ec_frag_len((struct ec_profile){4, 2}, block_len);
		d = malloc(h.frag_len);
		ck_assert_ptr_nonnull(d);
		for (uint32_t j = 0; j < h.frag_len; j++) {
			d[j] = (uint8_t)random();
		}
		h.csum = csum64(d, h.frag_len);
		ck_assert_int_eq(frag_put(fs, &h, d), 0);
		refs[i] = h.ref;
		free(d);
	}
}

static void flip(const struct frag_ref *r)
{
	char hex[2 * BLOCK_ID_LEN + 1], path[4300];
	uint8_t b;
	int fd;

	msg_block_hex(r->block_id, hex);
	snprintf(path, sizeof(path), "%s/frags/%.2s/%.2s/%s.%u", tmpdir, hex, hex + 2, hex,
		 r->index);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &b, 1, 100), 1);
	b ^= 1;
	ck_assert_int_eq(pwrite(fd, &b, 1, 100), 1);
	close(fd);
}

struct wait_pass {
	struct scrub *s;
	uint32_t id;
};

static int pass_done(void *arg)
{
	struct wait_pass *w = arg;
	struct scrub_status st;

	scrub_status(w->s, &st);
	return st.last.id >= w->id;
}

/* A kicked pass reads all 20 fragments, finds exactly the 3 damaged ones
 * (listed in the status, quarantined in the store), and the state file
 * brings that pass back after a restart. */
START_TEST(test_pass_finds_damage)
{
	struct fragstore *fs;
	struct frag_ref refs[20];
	struct scrub *s;
	struct scrub_status st;
	struct frag_usage u;
	struct wait_pass w;
	char state[4200];

	snprintf(state, sizeof(state), "%s/scrub.state", tmpdir);
	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	fill(fs, 20, 10000, refs);
	flip(&refs[2]);
	flip(&refs[9]);
	flip(&refs[17]);
	ck_assert_int_eq(scrub_start(fs, 0, 1000, state, &s), 0);
	w.s = s;
	w.id = scrub_kick(s);
	ck_assert_uint_eq(w.id, 1);
	ck_assert_int_eq(tl_wait_until(pass_done, &w, 10000), 1);
	scrub_status(s, &st);
	ck_assert_uint_eq(st.last.checked, 20);
	ck_assert_uint_eq(st.last.bad, 3);
	ck_assert_uint_eq(st.last.total, 20);
	/* Intact ones only: header and data of each. */
	ck_assert_uint_eq(st.last.bytes, 17 * (64 + ec_frag_len((struct ec_profile){4, 2}, 10000)));
	ck_assert_uint_eq(st.n_bad, 3);
	ck_assert_int_eq(st.running, 0);
	frag_usage(fs, &u);
	ck_assert_uint_eq(u.count, 17);
	ck_assert_uint_eq(u.checksum_errors, 3);
	scrub_stop(s);

	ck_assert_int_eq(scrub_start(fs, 0, 1000, state, &s), 0);
	scrub_status(s, &st);
	ck_assert_uint_eq(st.last.id, 1);
	ck_assert_uint_eq(st.last.checked, 20);
	ck_assert_uint_eq(st.last.bad, 3);
	w.s = s;
	w.id = scrub_kick(s);
	ck_assert_uint_eq(w.id, 2);
	ck_assert_int_eq(tl_wait_until(pass_done, &w, 10000), 1);
	scrub_status(s, &st);
	ck_assert_uint_eq(st.last.checked, 17);
	ck_assert_uint_eq(st.last.bad, 0);
	scrub_stop(s);
	frag_close(fs);
}
END_TEST

/* 16 fragments of 256 KiB (4 MiB read) at 8 MB/s take at least half a
 * second; a pass starts by itself once the period is over. */
START_TEST(test_rate_and_period)
{
	struct fragstore *fs;
	struct frag_ref refs[16];
	struct scrub *s;
	struct scrub_status st;
	struct wait_pass w;
	int64_t t0;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	fill(fs, 16, 1u << 20, refs);
	t0 = tl_mono_ms();
	ck_assert_int_eq(scrub_start(fs, 1, 8, NULL, &s), 0);
	w.s = s;
	w.id = 1;
	ck_assert_int_eq(tl_wait_until(pass_done, &w, 15000), 1);
	scrub_status(s, &st);
	ck_assert_uint_eq(st.last.checked, 16);
	/* One period before it starts, then 4 MiB at 8 MB/s. */
	ck_assert_int_ge(tl_mono_ms() - t0, 1000 + 500);
	ck_assert_uint_ge(st.last.finished_ms - st.last.started_ms, 500);
	scrub_stop(s);
	frag_close(fs);
}
END_TEST

/* A kick while a slow pass runs abandons it and starts the next, whose
 * id the kick returned; stop during a pass returns promptly. */
START_TEST(test_kick_restarts)
{
	struct fragstore *fs;
	struct frag_ref refs[16];
	struct scrub *s;
	struct scrub_status st;
	struct wait_pass w;
	int64_t t0;

	ck_assert_int_eq(frag_open(tmpdir, &fs), 0);
	fill(fs, 16, 1u << 20, refs);
	ck_assert_int_eq(scrub_start(fs, 0, 1, NULL, &s), 0);
	ck_assert_uint_eq(scrub_kick(s), 1);
	usleep(200 * 1000);
	scrub_status(s, &st);
	ck_assert_int_eq(st.running, 1);
	ck_assert_uint_eq(st.cur.id, 1);
	w.s = s;
	w.id = scrub_kick(s);
	ck_assert_uint_eq(w.id, 2);
	usleep(200 * 1000);
	scrub_status(s, &st);
	ck_assert_uint_eq(st.cur.id, 2);
	ck_assert_uint_eq(st.last.id, 0);
	t0 = tl_mono_ms();
	scrub_stop(s);
	ck_assert_int_lt(tl_mono_ms() - t0, 1000);
	frag_close(fs);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scrub");
	TCase *tc = tcase_create("scrub");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pass_finds_damage);
	tcase_add_test(tc, test_rate_and_period);
	tcase_add_test(tc, test_kick_restarts);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
