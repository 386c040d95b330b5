/* test_crash_stores.c: the fragment store and the shard store lose nothing
 * they acknowledged when the power fails at any sync.  A child runs a
 * stream of writes under the crashfs shim (tests/lib/crashfs.c) with
 * CRASHFS_AFTER=N and reports each acknowledged write through a pipe; the
 * parent reopens what the "disk" kept and checks it, for N = 1, 2, ...
 * until a run needs no crash: every sync point of the stream is a crash
 * point once. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../common/checksum.h"
#include "../../common/ec.h"
#include "../../common/err.h"
#include "../../nodes/fragstore.h"
#include "../../nodes/meta_store.h"
#include "../lib/testlib.h"

#define CRASH_STATUS 86 /* crashfs.c: CRASHFS_EXIT_STATUS */
#define NFRAG 12
#define NOPS 12
#define MAX_POINTS 400 /* far above the sync count of either stream */

static char dir[PATH_MAX], shim[PATH_MAX + 64], self_exe[PATH_MAX];
static int corrupt_logged;

static void sink(enum log_level lvl, const char *id, const char *line, void *arg)
{
	(void)lvl;
	(void)line;
	(void)arg;
	corrupt_logged += strcmp(id, "frag.corrupt") == 0;
}

/* ---- the streams, run by the child under the shim ---- */

static void frag_of(int i, struct frag_hdr *h, uint8_t *data, size_t cap)
{
	memset(h, 0, sizeof(*h));
	memset(h->ref.block_id, 0x30 + i, BLOCK_ID_LEN);
	h->ref.index = (uint8_t)(i % 6);
	h->k = 4;
	h->m = 2;
	h->block_len = 4 * 4096;
	h->frag_len = (uint32_t)ec_frag_len((struct ec_profile){4, 2}, h->block_len);
	if (h->frag_len > cap) {
		abort(); /* runs in the child too, where Check cannot report */
	}
	for (uint32_t j = 0; j < h->frag_len; j++) {
		data[j] = (uint8_t)(j * 7 + (uint32_t)i);
	}
	h->csum = csum64(data, h->frag_len);
}

static int child_frags(const char *d, int out)
{
	struct fragstore *fs;
	uint8_t data[8192];
	struct frag_hdr h;

	if (frag_open(d, &fs) != 0) {
		return 2;
	}
	for (int i = 0; i < NFRAG; i++) {
		frag_of(i, &h, data, sizeof(data));
		if (frag_put(fs, &h, data) == 0 && write(out, &i, sizeof(i)) != sizeof(i)) {
			return 2;
		}
	}
	frag_close(fs);
	return 0;
}

static void op_create(struct meta_op *op, uint64_t id, const char *name, uint64_t ino)
{
	memset(op, 0, sizeof(*op));
	op->type = MOP_CREATE;
	op->op_id = id;
	op->now_ns = (int64_t)id * 1000;
	op->parent = 1;
	snprintf(op->name, sizeof(op->name), "%s", name);
	op->mode = 0100644;
	op->new_ino = ino;
}

static int child_shard(const char *d, int sync_full, int out)
{
	char path[PATH_MAX + 16];
	struct meta_result res;
	struct mstore *ms;
	struct meta_op op;

	snprintf(path, sizeof(path), "%s/shard.db", d);
	if (ms_open(path, sync_full, &ms) != 0) {
		return 2;
	}
	memset(&op, 0, sizeof(op));
	op.type = MOP_BUCKET_CREATE;
	op.op_id = 1;
	op.mode = 0755;
	op.chunk_size = 4096;
	op.inline_max = 64;
	if (ms_apply(ms, &op, 1, &res) != 0 || res.status != 0) {
		return 2;
	}
	for (int i = 0; i < NOPS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%02d", i);
		op_create(&op, 100 + (uint64_t)i, name, ms_next_ino(ms));
		if (ms_apply(ms, &op, 2 + (uint64_t)i, &res) == 0 && res.status == 0 &&
		    write(out, &i, sizeof(i)) != sizeof(i)) {
			return 2;
		}
	}
	ms_close(ms);
	return 0;
}

/* ---- the parent ---- */

static void find_paths(void)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);

	ck_assert_int_gt(n, 0);
	self_exe[n] = '\0';
	tl_build_path(shim, sizeof(shim), "tests/lib/crashfs.so");
}

static void setup(void)
{
	find_paths();
	corrupt_logged = 0;
	log_set_sink(sink, NULL);
}

static void teardown(void)
{
	log_set_sink(NULL, NULL);
}

/* Runs the stream with a crash at sync n in a fresh dir; fills acked[]
 * and returns 1 if it crashed, 0 if it ran to the end. */
static int run_stream(const char *stream, long n, int *acked, int max)
{
	char after[32];
	int pfd[2], status, i;
	pid_t pid;

	tl_mkdtemp(dir, sizeof(dir), "test_crash_stores");
	ck_assert_int_eq(pipe(pfd), 0);
	snprintf(after, sizeof(after), "%ld", n);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char fd[16];

		close(pfd[0]);
		snprintf(fd, sizeof(fd), "%d", pfd[1]);
		setenv("LD_PRELOAD", shim, 1);
		setenv("CRASHFS_ROOT", dir, 1);
		setenv("CRASHFS_AFTER", after, 1);
		unsetenv("CRASHFS_TRIGGER");
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
		execl(self_exe, self_exe, "--child", stream, dir, fd, (char *)NULL);
		_exit(3);
	}
	close(pfd[1]);
	memset(acked, 0, sizeof(*acked) * (size_t)max);
	while (read(pfd[0], &i, sizeof(i)) == sizeof(i)) {
		ck_assert(i >= 0 && i < max);
		acked[i] = 1;
	}
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "child died of signal %d", WTERMSIG(status));
	ck_assert_msg(WEXITSTATUS(status) == CRASH_STATUS || WEXITSTATUS(status) == 0,
		      "child exited %d at crash point %ld", WEXITSTATUS(status), n);
	return WEXITSTATUS(status) == CRASH_STATUS;
}

/* Power cut at every sync of 12 fragment puts: the store reopens, every
 * acknowledged fragment reads back identical, any other one is either
 * whole or absent, and nothing is corrupt. */
START_TEST(test_fragstore_every_crash_point)
{
	int acked[NFRAG], crashed = 1;
	long n;

	for (n = 1; n <= MAX_POINTS && crashed; n++) {
		struct fragstore *fs;

		crashed = run_stream("frags", n, acked, NFRAG);
		ck_assert_int_eq(frag_open(dir, &fs), 0);
		for (int i = 0; i < NFRAG; i++) {
			uint8_t want[8192], *got = NULL;
			struct frag_hdr h, gh;
			int rc;

			frag_of(i, &h, want, sizeof(want));
			rc = frag_get(fs, &h.ref, &gh, &got);
			ck_assert_msg(rc == 0 || (!acked[i] && rc == -ENOENT),
				      "crash at sync %ld: fragment %d (%sacknowledged): %s", n, i,
				      acked[i] ? "" : "not ", obj_strerror(rc));
			if (rc == 0) {
				ck_assert_uint_eq(gh.frag_len, h.frag_len);
				ck_assert_mem_eq(got, want, h.frag_len);
			}
			free(got);
		}
		frag_close(fs);
		ck_assert_int_eq(corrupt_logged, 0);
		tl_rmtree(dir);
	}
	ck_assert_msg(!crashed, "more than %d sync points", MAX_POINTS);
	ck_assert_int_gt(n, NFRAG); /* at least a sync per put was a crash point */
	fprintf(stderr, "fragment store: %ld crash points\n", n - 2);
}
END_TEST

static void check_shard(long n, const int *acked, int durable)
{
	char path[PATH_MAX + 16];
	struct mstore *ms;
	sqlite3 *db;
	sqlite3_stmt *st;
	int seen_gap = 0;

	snprintf(path, sizeof(path), "%s/shard.db", dir);
	if (access(path, F_OK) != 0) {
		/* The power failed before the database file was durable. */
		for (int i = 0; i < NOPS; i++) {
			ck_assert(!durable || !acked[i]);
		}
		return;
	}
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL),
			 SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
	ck_assert_msg(strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0,
		      "crash at sync %ld: integrity_check: %s", n, sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
	ck_assert_int_eq(ms_open(path, 0, &ms), 0);
	for (int i = 0; i < NOPS; i++) {
		struct meta_attr a;
		char name[16];
		int rc;

		snprintf(name, sizeof(name), "f%02d", i);
		rc = ms_lookup(ms, 1, name, &a);
		ck_assert_msg(rc == 0 || rc == -ENOENT, "crash at sync %ld: lookup %s: %s", n, name,
			      obj_strerror(rc));
		if (durable && acked[i]) {
			ck_assert_msg(rc == 0, "crash at sync %ld: acknowledged %s lost", n, name);
		}
		/* Commits survive in order: what is there is a prefix. */
		ck_assert_msg(!(seen_gap && rc == 0), "crash at sync %ld: %s after a gap", n, name);
		seen_gap |= rc != 0;
	}
	ms_close(ms);
}

static void shard_loop(const char *stream, int durable)
{
	int acked[NOPS], crashed = 1;
	long n;

	for (n = 1; n <= MAX_POINTS && crashed; n++) {
		crashed = run_stream(stream, n, acked, NOPS);
		check_shard(n, acked, durable);
		tl_rmtree(dir);
	}
	ck_assert_msg(!crashed, "more than %d sync points", MAX_POINTS);
	ck_assert_int_gt(n, 2);
	fprintf(stderr, "%s: %ld crash points\n", stream, n - 2);
}

/* synchronous=FULL: a power cut at any sync keeps every acknowledged
 * record, and the database passes integrity_check. */
START_TEST(test_shard_full_every_crash_point)
{
	shard_loop("shard-full", 1);
}
END_TEST

/* synchronous=NORMAL, as nodes run shards (the Raft log is the durable
 * copy): records may be lost, but only a suffix, and never the database's
 * integrity. */
START_TEST(test_shard_normal_every_crash_point)
{
	shard_loop("shard-normal", 0);
}
END_TEST

static Suite *crash_stores_suite(void)
{
	Suite *s = suite_create("crash_stores");
	TCase *tc = tcase_create("power-loss");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_fragstore_every_crash_point);
	tcase_add_test(tc, test_shard_full_every_crash_point);
	tcase_add_test(tc, test_shard_normal_every_crash_point);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "--child") == 0) {
		int out = atoi(argv[4]);

		log_set_sink(tl_quiet_sink, NULL);
		if (strcmp(argv[2], "frags") == 0) {
			return child_frags(argv[3], out);
		}
		return child_shard(argv[3], strcmp(argv[2], "shard-full") == 0, out);
	}
	return tl_run(crash_stores_suite());
}
