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

/* The two replicas, opened once as a node opens its shards (one exclusive
 * connection, records batched into one commit), and the snapshot every
 * input starts from: a shard as its bucket create leaves it.  Installing
 * that snapshot (ms_restore, what a replica does with its leader's) costs
 * a fraction of opening a shard, which was nine tenths of every run. */
static struct mstore *rep_a, *rep_b;
static char template_path[4200];

static struct mstore *open_shard(const char *path)
{
	struct mstore *ms;

	fuzz_shard_unlink(path);
	if (ms_open(path, MS_EXCLUSIVE, &ms) != 0) {
		fuzz_fail("cannot open a fresh shard");
	}
	ms_set_batching(ms, 1);
	return ms;
}

static void make_replicas(void)
{
	struct meta_op op = {.type = MOP_BUCKET_CREATE,
			     .op_id = 1,
			     .now_ns = 1000000,
			     .mode = S_IFDIR | 0755,
			     .chunk_size = 4096,
			     .inline_max = 64};
	struct meta_result res;

	rep_a = open_shard(db_a);
	rep_b = open_shard(db_b);
	if (ms_apply(rep_a, &op, 1, &res) != 0 || res.status != 0) {
		fuzz_fail("bucket create failed on a fresh shard");
	}
	snprintf(template_path, sizeof(template_path), "%s/template.db", fuzz_scratch());
	if (ms_backup(rep_a, template_path) != 0) {
		fuzz_fail("cannot write the starting snapshot");
	}
}

/* Both replicas back to the starting snapshot. */
static void reset_replicas(void)
{
	if (ms_restore(rep_a, template_path) != 0 || ms_restore(rep_b, template_path) != 0) {
		fuzz_fail("cannot install the starting snapshot");
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	trace = getenv("OBJFS_FUZZ_TRACE") != NULL;
	snprintf(db_a, sizeof(db_a), "%s/a.db", fuzz_scratch());
	snprintf(db_b, sizeof(db_b), "%s/b.db", fuzz_scratch());
	make_replicas();
	return 0;
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
			reset_replicas();
			a = rep_a;
			b = rep_b;
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
	}
	free(op);
	free(buf);
	return 0;
}
