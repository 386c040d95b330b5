/* fuzz_shard_snapshot.c: a shard snapshot as a replica installs it from
 * its leader (shard_reg.c fsm_restore: the bytes become a file that
 * ms_restore copies in).  The input is that SQLite database; after the
 * restore every row is read back through the store's queries, and a few
 * records are applied over what it holds.  Whatever the file contains,
 * the store must answer 0 or a negative errno, never crash, over-read or
 * reach an assert.  Seeds are ms_backup copies of real shards. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/err.h"
#include "../../nodes/meta_store.h"
#include "fuzz.h"
#include "fuzz_shard.h"

static char db_path[4200], snap_path[4200];
static struct mstore *ms;

/* A fresh, empty shard: after a failed restore its content is unknown. */
static void reopen(void)
{
	if (ms != NULL) {
		ms_close(ms);
	}
	fuzz_shard_unlink(db_path);
	if (ms_open(db_path, MS_EXCLUSIVE, &ms) != 0) {
		fuzz_fail("cannot open a fresh shard");
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(db_path, sizeof(db_path), "%s/shard.db", fuzz_scratch());
	snprintf(snap_path, sizeof(snap_path), "%s/snapshot", fuzz_scratch());
	reopen();
	return 0;
}

/* Records that touch the usual rows: the root, a name in it, a file's
 * content, a rename and an unlink. */
static void apply_some(void)
{
	static const struct meta_op ops[] = {
	    {.type = MOP_CREATE, .new_ino = 1000, .parent = 1, .name = "n", .mode = 0100644},
	    {.type = MOP_WRITE,
	     .ino = 2,
	     .size = 3,
	     .flags = META_F_INLINE,
	     .data = (const uint8_t *)"abc",
	     .data_len = 3},
	    {.type = MOP_SETATTR, .ino = 2, .valid = META_SET_SIZE, .size = 1},
	    {.type = MOP_RENAME, .parent = 1, .name = "n", .newparent = 2, .newname = "m"},
	    {.type = MOP_UNLINK, .parent = 1, .name = "f"},
	    {.type = MOP_PUT,
	     .new_ino = 1001,
	     .name = "a/b",
	     .flags = META_F_PATH | META_F_INLINE,
	     .mode = 0100644,
	     .size = 1,
	     .data = (const uint8_t *)"x",
	     .data_len = 1},
	    {.type = MOP_RMDIR, .parent = 1, .name = "d"},
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct meta_op op = ops[i];
		struct meta_result res;
		int rc;

		op.op_id = 1u << 30 | i;
		op.now_ns = 2000000000 + (int64_t)i;
		rc = ms_apply(ms, &op, 0, &res);
		if (rc > 0 || (rc == 0 && (res.status > 0 || res.status <= -OBJ_ELAST))) {
			fuzz_fail("ms_apply answered neither 0 nor a negative errno");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int rc;

	if (fuzz_write_file(snap_path, data, size) != 0) {
		fuzz_fail("cannot write the snapshot file");
	}
	rc = ms_restore(ms, snap_path);
	unlink(snap_path);
	if (rc > 0) {
		fuzz_fail("ms_restore answered neither 0 nor a negative errno");
	}
	if (rc == 0) {
		fuzz_shard_read(ms, NULL);
		apply_some();
		fuzz_shard_read(ms, NULL);
	} else {
		reopen();
	}
	return 0;
}
