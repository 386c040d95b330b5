/* test_blockio.c: erasure-coded blocks over real nodes (common/blockio.c)
 * on a 6-node dev cluster, 4+2: a round trip; with 2 nodes down the
 * fragments are handed off 2,2,1,1 and the block still reads; with 4 down
 * the write is refused with -OBJ_EQUORUM and leaves no fragment behind;
 * after the restart repair moves exactly the handed-off fragments home;
 * compressed blocks store fewer bytes, read back, repair, and refuse a
 * record that lies about them.
 * The quorum rule itself is stepped exhaustively in test_quorum.c. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/blockio.h"
#include "../../common/checksum.h"
#include "../../common/client.h"
#include "../../common/err.h"
#include "../../common/rand.h"
#include "../../proto/msg.h"
#include "../lib/cluster.h"
#include "../lib/testlib.h"

#define LEN (1048576 + 5)

static struct tl_cluster cluster;
static struct cl *cl;
static struct blk *blk;

static void cluster_setup(void)
{
	ck_assert_int_eq(tl_cluster_up(&cluster, 6), 0);
}

static void cluster_teardown(void)
{
	tl_cluster_down(&cluster);
}

static void blk_setup(void)
{
	log_set_sink(tl_quiet_sink, NULL);
	ck_assert_int_eq(cl_open(&cluster.cfg, &cl), 0);
	ck_assert_uint_eq(cl_wait_connected(cl, 10000), 6);
	ck_assert_int_eq(blk_open(cl, &blk), 0);
}

static void blk_teardown(void)
{
	blk_close(blk);
	cl_close(cl);
	log_set_sink(NULL, NULL);
}

static uint8_t *pattern(uint8_t tag)
{
	uint8_t *b = malloc(LEN);

	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < LEN; i++) {
		b[i] = (uint8_t)(i * 13 + tag);
	}
	return b;
}

static void get_ok(const struct manifest_block *mb, const uint8_t *want)
{
	uint8_t *got = malloc(LEN);

	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(blk_get(blk, mb, got), 0);
	ck_assert_mem_eq(got, want, LEN);
	free(got);
}

/* How many fragments of the block each node holds (-1: node down). */
static void holdings(const struct manifest_block *mb, int *per)
{
	struct cl_req r[6 * 6];
	uint8_t body[6][BLOCK_ID_LEN + 1];
	size_t n = 0;

	memset(r, 0, sizeof(r));
	for (size_t f = 0; f < 6; f++) {
		memcpy(body[f], mb->id, BLOCK_ID_LEN);
		body[f][BLOCK_ID_LEN] = (uint8_t)f;
	}
	for (size_t node = 0; node < 6; node++) {
		per[node] = cl_node_up(cl, node) ? 0 : -1;
		for (size_t f = 0; per[node] >= 0 && f < 6; f++) {
			r[n].node = node;
			r[n].type = MSG_FRAG_GET;
			r[n].body = body[f];
			r[n].body_len = sizeof(body[f]);
			n++;
		}
	}
	cl_run(cl, r, n, 0);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(r[i].status == 0 || r[i].status == -ENOENT, "FRAG_GET: %s",
			      obj_strerror(r[i].status));
		per[r[i].node] += r[i].status == 0;
		cl_req_release(&r[i]);
	}
}

struct down_arg {
	size_t node;
};

static int seen_down(void *p)
{
	return !cl_node_up(cl, ((struct down_arg *)p)->node);
}

static void kill_node(size_t i)
{
	struct down_arg a = {i};

	ck_assert_int_eq(tl_node_kill(&cluster, cluster.cfg.nodes[i].id), 0);
	ck_assert_msg(tl_wait_until(seen_down, &a, 10000), "client still sees node %zu up", i);
}

/* 4+2 on six nodes: one fragment on each, and the block reads back. */
START_TEST(test_round_trip)
{
	struct ec_profile p = blk_profile_for(blk, LEN);
	struct manifest_block mb;
	uint8_t *data = pattern(1);
	int per[6];

	ck_assert_uint_eq(p.k, 4);
	ck_assert_uint_eq(p.m, 2);
	ck_assert_int_eq(blk_put(blk, data, LEN, p, &mb), 0);
	ck_assert_uint_eq(mb.len, LEN);
	ck_assert_uint_eq(mb.k, 4);
	ck_assert_uint_eq(mb.m, 2);
	holdings(&mb, per);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(per[i], 1);
	}
	get_ok(&mb, data);
	ck_assert_int_eq(blk_repair(blk, &mb), 0);
	free(data);
}
END_TEST

/* Log-like text: compresses well with either codec. */
static uint8_t *text(void)
{
	uint8_t *b = malloc(LEN);

	ck_assert_ptr_nonnull(b);
	for (size_t i = 0; i < LEN; i++) {
		b[i] = (uint8_t)("node 3 stored fragment 0042 of block in 17 us\n"[i % 47] +
				 (i / 4096 % 3));
	}
	return b;
}

/* zstd text: stored as fewer bytes, one fragment per node, reads back;
 * a deleted fragment is rebuilt from the compressed form; random bytes
 * asked for lz4 are stored raw; a record lying about the codec, either
 * length or the checksum is refused (-EIO, -OBJ_ECHECKSUM), never read
 * past its buffer. */
START_TEST(test_compressed)
{
	struct ec_profile p = blk_profile_for(blk, LEN);
	struct manifest_block mb, raw, lie;
	uint8_t *data = text(), *rnd = malloc(LEN), *got = malloc(LEN);
	struct blk_cz_stats cz;
	uint8_t body[BLOCK_ID_LEN + 1];
	size_t rank[6];
	struct cl_req r;
	int per[6];

	ck_assert_ptr_nonnull(rnd);
	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(blk_put_codec(blk, data, LEN, p, BLK_CODEC_ZSTD, &mb), 0);
	ck_assert_uint_eq(mb.codec, BLK_CODEC_ZSTD);
	ck_assert_uint_eq(mb.len, LEN);
	ck_assert_uint_lt(mb.zlen, LEN / 10);
	ck_assert(mb.csum == csum64(data, LEN));
	holdings(&mb, per);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(per[i], 1);
	}
	get_ok(&mb, data);

	/* Fragment 1 deleted on its home node: repair rebuilds exactly it. */
	ck_assert_uint_eq(blk_rank(blk, mb.id, mb.cls, rank), 6);
	memcpy(body, mb.id, BLOCK_ID_LEN);
	body[BLOCK_ID_LEN] = 1;
	r = (struct cl_req){
	    .node = rank[1], .type = MSG_FRAG_DEL, .body = body, .body_len = sizeof(body)};
	cl_run(cl, &r, 1, 0);
	ck_assert_int_eq(r.status, 0);
	cl_req_release(&r);
	ck_assert_int_eq(blk_repair(blk, &mb), 1);
	ck_assert_int_eq(blk_repair(blk, &mb), 0);
	get_ok(&mb, data);

	ck_assert_int_eq(rand_bytes(rnd, LEN), 0);
	ck_assert_int_eq(blk_put_codec(blk, rnd, LEN, p, BLK_CODEC_LZ4, &raw), 0);
	ck_assert_uint_eq(raw.codec, BLK_CODEC_NONE);
	ck_assert_uint_eq(raw.zlen, 0);
	get_ok(&raw, rnd);
	blk_cz_stats(blk, &cz);
	ck_assert_uint_ge(cz.compressed, 1);
	ck_assert_uint_ge(cz.raw, 1);
	ck_assert_uint_ge(cz.decompressed, 2);
	ck_assert_uint_gt(cz.bytes_in, cz.bytes_out);

	lie = mb;
	lie.len = LEN - 1; /* decodes to one byte more than stated */
	ck_assert_int_eq(blk_get(blk, &lie, got), -EIO);
	lie = mb;
	lie.codec = BLK_CODEC_LZ4; /* another codec's stream */
	ck_assert_int_eq(blk_get(blk, &lie, got), -EIO);
	lie = mb;
	lie.zlen++; /* the fragments say otherwise: none is accepted */
	ck_assert_int_eq(blk_get(blk, &lie, got), -EIO);
	lie = mb;
	lie.csum ^= 1;
	ck_assert_int_eq(blk_get(blk, &lie, got), -OBJ_ECHECKSUM);
	lie = mb;
	lie.codec = BLK_CODEC_MAX;
	ck_assert_int_eq(blk_get(blk, &lie, got), -EINVAL);
	ck_assert_int_eq(blk_put_codec(blk, data, LEN, p, BLK_CODEC_MAX, &lie), -EINVAL);
	blk_delete(blk, &mb);
	blk_delete(blk, &raw);
	free(got);
	free(rnd);
	free(data);
}
END_TEST

/* Two nodes down: the two homeless fragments go to two different live
 * nodes (2,2,1,1), the write is acknowledged and reads back.  Four down:
 * 3,3 on two nodes cannot survive one more loss, so the write is refused
 * and the fragments it stored are deleted.  After the restart, repair
 * moves exactly the 2 handed-off fragments home, then finds nothing. */
START_TEST(test_handoff_quorum_repair)
{
	struct ec_profile p = {4, 2};
	struct manifest_block mb, refused;
	uint8_t *data = pattern(2), *other = pattern(3);
	int per[6], ones = 0, twos = 0;

	kill_node(0);
	kill_node(3);
	ck_assert_int_eq(blk_put(blk, data, LEN, p, &mb), 0);
	holdings(&mb, per);
	ck_assert_int_eq(per[0], -1);
	ck_assert_int_eq(per[3], -1);
	for (int i = 0; i < 6; i++) {
		ones += per[i] == 1;
		twos += per[i] == 2;
	}
	ck_assert_int_eq(ones, 2);
	ck_assert_int_eq(twos, 2);
	get_ok(&mb, data);

	kill_node(1);
	kill_node(4);
	ck_assert_int_eq(blk_put(blk, other, LEN, p, &refused), -OBJ_EQUORUM);
	holdings(&refused, per);
	ck_assert_int_eq(per[2], 0);
	ck_assert_int_eq(per[5], 0);

	ck_assert_int_eq(tl_cluster_restart(&cluster), 0);
	ck_assert_uint_eq(cl_wait_connected(cl, 10000), 6);
	ck_assert_int_eq(blk_repair(blk, &mb), 2);
	holdings(&mb, per);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_ge(per[i], 1);
	}
	ck_assert_int_eq(blk_repair(blk, &mb), 0);
	get_ok(&mb, data);
	free(data);
	free(other);
}
END_TEST

static Suite *blockio_suite(void)
{
	Suite *s = suite_create("blockio");
	TCase *tc = tcase_create("cluster");

	tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_add_checked_fixture(tc, blk_setup, blk_teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_compressed);
	tcase_add_test(tc, test_handoff_quorum_repair);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(blockio_suite());
}
