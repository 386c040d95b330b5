/* fuzz_shard.h: what the harnesses over a metadata shard share. */
#ifndef OBJFS_TESTS_FUZZ_SHARD_H
#define OBJFS_TESTS_FUZZ_SHARD_H

#include "../../nodes/meta_store.h"

/* Reads back every row of shard a through the store's queries (each
 * decodes SQLite BLOBs into fixed buffers: names, targets, xattrs,
 * extents, listings), checking what each returns; with b set, checks
 * that replica b holds the same inodes. */
void fuzz_shard_read(struct mstore *a, struct mstore *b);
/* Removes the shard database at path with its WAL files. */
void fuzz_shard_unlink(const char *path);

#endif
