/* test_snap_stream.c: shard snapshot copies (nodes/snap_stream.c) on a
 * real SQLite shard: the descriptor codec, a copy taken while another
 * thread applies records, served back chunk by chunk, pruned to the two
 * newest and those served lately, and malformed requests refused. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>

#include "../../common/checksum.h"
#include "../../common/fileio.h"
#include "../../nodes/snap_stream.h"
#include "../../proto/msg.h"
#include "meta_store_fixture.h"

START_TEST(test_desc)
{
	struct snap_desc d = {.index = 77,
			      .size = 123456,
			      .xxh3 = 0x0123456789abcdefULL,
			      .node = 2},
			 got;
	uint8_t buf[SNAP_DESC_LEN];

	snap_desc_put(&d, buf);
	ck_assert_int_eq(snap_desc_get(buf, sizeof(buf), &got), 0);
	ck_assert_uint_eq(got.index, 77);
	ck_assert_uint_eq(got.size, 123456);
	ck_assert_uint_eq(got.xxh3, d.xxh3);
	ck_assert_uint_eq(got.node, 2);
	ck_assert_int_eq(snap_desc_get(buf, sizeof(buf) - 1, &got), -EINVAL);
	buf[9] ^= 1; /* a field changed: its checksum no longer matches */
	ck_assert_int_eq(snap_desc_get(buf, sizeof(buf), &got), -EINVAL);
	/* A whole database (a snapshot from before descriptors) is not one. */
	memcpy(buf, "SQLite format 3\0", 16);
	ck_assert_int_eq(snap_desc_get(buf, sizeof(buf), &got), -EINVAL);
}
END_TEST

static atomic_int stop_applier;
static atomic_uint_fast64_t applied_by_thread;

/* Applies puts as the Raft loop would, batch after batch. */
static void *applier(void *arg)
{
	char name[64];

	(void)arg;
	for (int i = 0; !atomic_load(&stop_applier); i++) {
		struct meta_result res = {0};
		struct meta_op op;

		op_init(&op, MOP_PUT);
		snprintf(name, sizeof(name), "during/%d", i);
		snprintf(op.name, sizeof(op.name), "%s", name);
		op.mode = 0644;
		op.new_ino = ms_next_ino(ms);
		op.flags = META_F_INLINE;
		op.data = (const uint8_t *)"abc";
		op.data_len = 3;
		op.size = 3;
		ck_assert_int_eq(ms_apply(ms, &op, 1000 + (uint64_t)i, &res), 0);
		if (i % 8 == 7) {
			ck_assert_int_eq(ms_flush(ms), 0);
		}
		atomic_store(&applied_by_thread, 1000 + (uint64_t)i);
	}
	return NULL;
}

/* Reads copy `index` back through snap_serve in chunks of `chunk`. */
static void serve_all(uint64_t index, const struct snap_desc *d, uint32_t chunk, const char *out)
{
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint64_t off = 0;
	int chunks = 0;

	ck_assert_int_ge(fd, 0);
	for (;;) {
		struct wr w, req;
		struct rd r;
		uint8_t *data = NULL;
		size_t n = 0;

		wr_init(&req, 0);
		wr_str(&req, "demo");
		wr_u64(&req, 0);
		wr_u64(&req, index);
		wr_u64(&req, off);
		wr_u32(&req, chunk);
		rd_init(&r, req.buf + req.reserve, wr_len(&req));
		wr_init(&w, 0);
		ck_assert_int_eq(snap_serve(tmpdir, &r, &w, &data, &n), 0);
		rd_init(&r, w.buf + w.reserve, wr_len(&w));
		ck_assert_uint_eq(rd_u64(&r), index);
		ck_assert_uint_eq(rd_u64(&r), d->size);
		ck_assert_uint_eq(rd_u64(&r), d->xxh3);
		ck_assert_uint_eq(rd_u64(&r), csum64(data, n));
		ck_assert(rd_done(&r));
		ck_assert_int_eq(fio_write_full(fd, data, n, (off_t)off), 0);
		off += n;
		free(data);
		wr_free(&w);
		wr_free(&req);
		if (n < chunk) {
			break;
		}
		chunks++;
	}
	close(fd);
	ck_assert_uint_eq(off, d->size);
	ck_assert_int_gt(chunks, 8); /* far larger than a chunk */
}

START_TEST(test_take_serve_prune)
{
	char path[4400], got[4400];
	struct snap_desc d;
	struct mstore *copy;
	pthread_t th;
	uint64_t at;
	char big[2048];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (int i = 0; i < 200; i++) {
		char name[32];

		snprintf(name, sizeof(name), "before/%d", i);
		ck_assert_int_eq(put(name, NULL, 0, big, strlen(big), NULL), 0);
	}
	ms_set_batching(ms, 1);
	atomic_store(&stop_applier, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, applier, NULL), 0);
	while (atomic_load(&applied_by_thread) < 1010) {
		usleep(1000);
	}
	at = ms_applied_index(ms);
	ck_assert_int_eq(snap_take(ms, tmpdir, "demo", at, 1, &d), 0);
	atomic_store(&stop_applier, 1);
	pthread_join(th, NULL);
	ck_assert_int_eq(ms_flush(ms), 0);
	ck_assert_uint_eq(d.index, at);
	ck_assert_uint_eq(d.node, 1);

	/* Served back in 4 KiB chunks, it is the copy, and opens as a shard
	 * at the index of the call or later. */
	snprintf(got, sizeof(got), "%s/got.db", tmpdir);
	serve_all(at, &d, 4096, got);
	ck_assert_int_eq(ms_open(got, 0, &copy), 0);
	ck_assert_uint_ge(ms_applied_index(copy), at);
	ck_assert_int_eq(ms_resolve(copy, "before/199", &(struct meta_attr){0}), 0);
	ms_close(copy);

	/* Two newest copies kept, and the one just served. */
	ck_assert_int_eq(snap_take(ms, tmpdir, "demo", at + 1, 1, &d), 0);
	ck_assert_int_eq(snap_take(ms, tmpdir, "demo", at + 2, 1, &d), 0);
	ck_assert_int_eq(snap_take(ms, tmpdir, "demo", at + 3, 1, &d), 0);
	snprintf(path, sizeof(path), "%s/demo.snap-%llu-%016llx", tmpdir,
		 (unsigned long long)(at + 3), (unsigned long long)d.xxh3);
	ck_assert_int_eq(access(path, R_OK), 0);
	{
		struct wr req, w;
		struct rd r;
		uint8_t *data = NULL;
		size_t n = 0;

		/* An older copy never served is gone: asked by its index,
		 * ENOENT. */
		wr_init(&req, 0);
		wr_str(&req, "demo");
		wr_u64(&req, 0);
		wr_u64(&req, at + 1);
		wr_u64(&req, 0);
		wr_u32(&req, 4096);
		rd_init(&r, req.buf + req.reserve, wr_len(&req));
		wr_init(&w, 0);
		ck_assert_int_eq(snap_serve(tmpdir, &r, &w, &data, &n), -ENOENT);
		wr_free(&req);
		/* The oldest, served a moment ago (a fetch under way), stays. */
		wr_init(&req, 0);
		wr_str(&req, "demo");
		wr_u64(&req, 0);
		wr_u64(&req, at);
		wr_u64(&req, 0);
		wr_u32(&req, 4096);
		rd_init(&r, req.buf + req.reserve, wr_len(&req));
		ck_assert_int_eq(snap_serve(tmpdir, &r, &w, &data, &n), 0);
		ck_assert_uint_eq(n, 4096);
		free(data);
		data = NULL;
		wr_free(&req);
		wr_free(&w);
		wr_init(&w, 0);
		/* Newest at min or later: none above at + 3. */
		wr_init(&req, 0);
		wr_str(&req, "demo");
		wr_u64(&req, at + 4);
		wr_u64(&req, 0);
		wr_u64(&req, 0);
		wr_u32(&req, 4096);
		rd_init(&r, req.buf + req.reserve, wr_len(&req));
		ck_assert_int_eq(snap_serve(tmpdir, &r, &w, &data, &n), -ENOENT);
		wr_free(&req);
		/* A group that is a path, and a chunk too large: malformed. */
		wr_init(&req, 0);
		wr_str(&req, "../demo");
		wr_u64(&req, 0);
		wr_u64(&req, 0);
		wr_u64(&req, 0);
		wr_u32(&req, 4096);
		rd_init(&r, req.buf + req.reserve, wr_len(&req));
		ck_assert_int_eq(snap_serve(tmpdir, &r, &w, &data, &n), -OBJ_EPROTO);
		wr_free(&req);
		wr_init(&req, 0);
		wr_str(&req, "demo");
		wr_u64(&req, 0);
		wr_u64(&req, 0);
		wr_u64(&req, 0);
		wr_u32(&req, SNAP_CHUNK_MAX + 1);
		rd_init(&r, req.buf + req.reserve, wr_len(&req));
		ck_assert_int_eq(snap_serve(tmpdir, &r, &w, &data, &n), -OBJ_EPROTO);
		wr_free(&req);
		wr_free(&w);
	}
}
END_TEST

static Suite *snap_stream_suite(void)
{
	Suite *s = suite_create("snap_stream");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_desc);
	tcase_add_test(tc, test_take_serve_prune);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(snap_stream_suite());
}
