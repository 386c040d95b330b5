/* fuzz_meta_record.c: metadata operation records as a shard replica reads
 * them from its Raft log on disk or from a leader (nodes/repl.c framing,
 * proto/meta.c decoding, nodes/meta_store*.c applying to SQLite).
 * Input: a sequence of log entries, each u32 length + record.  Every
 * entry that decodes must encode back to its own bytes; it is then
 * applied to two fresh shards (SQLite files in the scratch directory),
 * which must agree on every result (replicas apply records
 * deterministically, meta_store.h) and on every inode they hold; every
 * row is read back through the store's queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../nodes/meta_store.h"
#include "../../proto/meta.h"
#include "fuzz.h"
#include "fuzz_shard.h"

#define MAX_ENTRIES 16 /* keeps one input's SQLite work small */

static char db_a[4200], db_b[4200];
static int trace; /* OBJFS_FUZZ_TRACE set: each entry's outcome on stderr */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	trace = getenv("OBJFS_FUZZ_TRACE") != NULL;
	snprintf(db_a, sizeof(db_a), "%s/a.db", fuzz_scratch());
	snprintf(db_b, sizeof(db_b), "%s/b.db", fuzz_scratch());
	return 0;
}

/* A shard as a bucket create leaves it (what every record applies to),
 * opened as a node opens its shards: one exclusive connection, records
 * batched into one commit. */
static struct mstore *fresh_shard(const char *path)
{
	struct meta_op op = {.type = MOP_BUCKET_CREATE,
			     .op_id = 1,
			     .now_ns = 1000000,
			     .mode = S_IFDIR | 0755,
			     .chunk_size = 4096,
			     .inline_max = 64};
	struct meta_result res;
	struct mstore *ms;

	fuzz_shard_unlink(path);
	if (ms_open(path, MS_EXCLUSIVE, &ms) != 0) {
		fuzz_fail("cannot open a fresh shard");
	}
	ms_set_batching(ms, 1);
	if (ms_apply(ms, &op, 1, &res) != 0 || res.status != 0) {
		fuzz_fail("bucket create failed on a fresh shard");
	}
	return ms;
}

static void check_roundtrip(const struct meta_op *op, const uint8_t *p, size_t n)
{
	struct wr w;

	wr_init(&w, 0);
	meta_put_op(&w, op);
	if (wr_status(&w) != 0 || wr_len(&w) != n || memcmp(w.buf, p, n) != 0) {
		fuzz_fail("a decoded record does not encode to its own bytes");
	}
	wr_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size);
	struct mstore *a = NULL, *b = NULL;
	struct meta_op *op = calloc(1, sizeof(*op));
	struct rd in;
	uint64_t index = 1;

	if (op == NULL) {
		fuzz_fail("out of memory");
	}
	rd_init(&in, buf, size);
	for (int e = 0; e < MAX_ENTRIES && in.left >= 4; e++) {
		uint32_t len = rd_u32(&in);
		const uint8_t *p = rd_ptr(&in, len);
		struct meta_result ra, rb;
		struct rd r;
		int rca, rcb;

		if (p == NULL) {
			break;
		}
		memset(op, 0, sizeof(*op));
		rd_init(&r, p, len);
		meta_get_op(&r, op);
		if (!rd_done(&r)) {
			meta_op_free(op);
			continue; /* answered as malformed, changes nothing */
		}
		check_roundtrip(op, p, len);
		if (a == NULL) {
			a = fresh_shard(db_a);
			b = fresh_shard(db_b);
		}
		index++;
		memset(&ra, 0, sizeof(ra));
		memset(&rb, 0, sizeof(rb));
		rca = ms_apply(a, op, index, &ra);
		rcb = ms_apply(b, op, index, &rb);
		if (rca != rcb ||
		    (rca == 0 && (ra.status != rb.status || ra.freed_ino != rb.freed_ino ||
				  memcmp(&ra.attr, &rb.attr, sizeof(ra.attr)) != 0))) {
			fuzz_fail("two replicas applied one record differently");
		}
		if (trace) {
			fprintf(stderr, "entry %d: op %u -> rc %d status %d ino %llu\n", e,
				op->type, rca, ra.status, (unsigned long long)ra.attr.ino);
		}
		if (rca == 0 && (ra.status > 0 || ra.status < -4095)) {
			fuzz_fail("ms_apply gave a status that is not an errno");
		}
		meta_op_free(op);
	}
	if (a != NULL) {
		fuzz_shard_read(a, b);
		if (ms_flush(a) != 0 || ms_flush(b) != 0) {
			fuzz_fail("the group commit of applied records failed");
		}
		ms_close(a);
		ms_close(b);
	}
	free(op);
	free(buf);
	return 0;
}
