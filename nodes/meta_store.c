/* meta_store.c: one metadata shard in one SQLite database (see meta_store.h):
 * the schema, the deterministic apply of operation records, the queries.
 * Never reads the clock, never does network I/O; any thread (one connection
 * serialised by ms->lock).
 *
 * DESIGN
 *  Tables: inodes (one row per inode, orphans included), dirents keyed by
 *  (parent, name), extents keyed by (ino, chunk) pointing at blocks (the
 *  block's k, m, length and checksum live once in `blocks` with a reference
 *  count), gc (blocks no extent references any more), xattrs, meta (applied
 *  index, chunk_size, inline_max, next_ino, result_seq), op_results (the
 *  last MS_RESULTS_KEPT results by op_id) and buckets (the catalog).
 *  Names, keys and block ids are BLOBs so SQLite orders them with memcmp,
 *  the same on every replica whatever the collation.
 *
 *  Invariants (checked by the tests' determinism dump, kept by every op):
 *  1. blocks.refs == number of extents naming the block; a block whose
 *     count reaches 0 leaves `blocks` and enters `gc` in the same
 *     transaction, and a block in `gc` is never referenced again (ESTALE).
 *  2. inodes.blocks == sum over the inode's extents of ceil(len / 512).
 *  3. A directory's nlink == 2 + its subdirectories; its parent column
 *     names the one directory holding it (the root holds itself).
 *  4. dirents.skey == name for non-directories and name + "/" for
 *     directories: the order of full object paths ("a.txt" < "a/b"), which
 *     differs from the order of names ("a" < "a.txt"), so ms_list can walk
 *     the tree in key order from an index instead of sorting.
 *  5. Every extent ends at or before the file's size, and the inline data
 *     is never longer than the size (bytes past either read as zeros).
 *
 *  ms_apply runs each record in BEGIN IMMEDIATE .. COMMIT with a SAVEPOINT
 *  around the op itself: an op that fails with an errno is rolled back to
 *  the savepoint, so no op ever leaves half its changes (PUT that made
 *  parents and then met a file), and its result and the applied index are
 *  still committed.  SQLite failures are kept apart from op errnos in
 *  ms->dberr: any of them rolls the whole transaction back.
 *
 * Decisions where meta_store.h / meta.h leave room:
 *  - Catalog vs bucket shard: BUCKET_CREATE/DELETE with a non-empty
 *    op->name act on the catalog's bucket list; with an empty name on this
 *    bucket shard's namespace.  A bucket-shard BUCKET_DELETE without a root
 *    is a success (idempotent, like BUCKET_CREATE); next_ino survives it so
 *    inode numbers are never reused.
 *  - Every result with op_id != 0 is remembered, errors included.
 *  - new_ino (CREATE, PUT) that is 0, 1, above INT64_MAX or already in use
 *    gives EINVAL: a leader bug, never a client error.  PUT uses new_ino,
 *    new_ino+1, ... for the missing parents in path order, then the file.
 *  - Paths (META_F_PATH, PUT, ms_resolve, ms_list's prefix directory):
 *    components split on '/', each must pass meta_check_name (no empty
 *    component, so no leading, trailing or double '/').  META_F_PATH is
 *    honoured by RMDIR as well as UNLINK.
 *  - CREATE of an existing name returns the existing inode only when both
 *    the request and the existing entry are regular files and EXCL is not
 *    set.  Mode type 0 means a regular file; symlink target: 1..4095 bytes
 *    without NUL (ENOENT if empty, ENAMETOOLONG if longer).
 *  - LINK of an orphan (nlink 0) gives ENOENT, as link(2) does.
 *  - SETATTR size on a directory EISDIR, on another non-file EINVAL; a size
 *    change bumps gen and sets mtime to now unless mtime is given.  Inline
 *    data grows with zeros only up to inline_max (or its current length);
 *    bytes beyond it up to the size read as zeros.  META_SET_CTIME is
 *    ignored: ctime is always now_ns.
 *  - WRITE: mtime = op->mtime_ns (or now), ctime = now.
 *    Inline data longer than the new size, or an extent ending past it or
 *    longer than the chunk, is EINVAL; inline data above
 *    META_XATTR_VALUE_MAX (the wire's blob limit) is EFBIG.  Whether data
 *    is small enough to go inline (inline_max) is the writer's choice.
 *  - BUCKET_CREATE needs chunk_size 1..MSG_BLOCK_MAX and inline_max <=
 *    META_XATTR_VALUE_MAX (else EINVAL); a bucket-shard root's mode may
 *    carry S_IFDIR or no type (another type: EINVAL).
 *  - PUT over an existing file drops all its extents first (the object's
 *    content is exactly the new one); PUT keeps the existing file's mode
 *    and owner; META_F_EXCL makes PUT fail with EEXIST if the file exists;
 *    PUT onto a symlink/fifo/device is EINVAL.
 *  - FORGET reports the deleted orphan in res->freed_ino.
 *  - xattr names: 1..255 bytes else ERANGE (as setxattr(2)); values above
 *    META_XATTR_VALUE_MAX: E2BIG; CREATE|REPLACE together: EINVAL.
 *  - st_blocks: files ceil(len/512) per extent plus ceil(inline/512);
 *    directories 8; symlinks and other types 0.
 *  - ms_lookup also answers "." and ".." (the root's ".." is the root).
 *  - ms_readlink returns the target's length and NUL-terminates it;
 *    ERANGE when cap cannot hold both; EINVAL for a non-symlink.
 *  - ms_listxattr with no names gives *names = NULL, *len = 0.
 *  - ms_backup writes path.tmp and renames it over path; the copy uses a
 *    rollback journal so it can be opened read-only anywhere.
 *  - Files whose path is longer than WIRE_STR_MAX are not listed by
 *    ms_list (no object key can name them).
 *  - ms_statfs counts with one scan of `inodes` (exact, O(inodes)). */
#include "meta_store.h"

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/ec.h"
#include "../common/err.h"
#include "../common/log.h"

/* Rides out a checkpoint by a second connection (sqlite3 CLI while
 * debugging); the node itself uses only this one. */
#define MS_BUSY_TIMEOUT_MS 5000
/* A client retries within seconds; 10000 results cover far more ops than
 * can be in flight, at a few hundred KB of database. */
#define MS_RESULTS_KEPT 10000
#define MS_SCHEMA_VERSION 1
#define MS_DIR_BLOCKS 8
/* Bounds the ancestor walk of RENAME if the parent chain were ever
 * corrupted into a cycle. */
#define MS_DEPTH_MAX 1000000
#define SKEY_MAX (META_NAME_MAX + 1)

enum ms_stmt {
	S_BEGIN, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_UNDO,
	S_META_GET, S_META_SET,
	S_INO_GET, S_INO_INS, S_INO_UPD, S_INO_DEL, S_INO_TOUCH, S_INO_CTIME, S_INO_UNITS,
	S_INL_GET, S_INL_SET, S_TGT_GET, S_TGT_SET, S_STAT,
	S_DE_GET, S_DE_INS, S_DE_UPD, S_DE_DEL, S_DE_ANY, S_DE_LIST, S_DE_NEXT_GT, S_DE_NEXT_GE,
	S_EXT_GET, S_EXT_PUT, S_EXT_TRIM, S_EXT_COUNT, S_EXT_UNREF, S_EXT_TO_GC, S_EXT_FREE,
	S_EXT_DEL, S_EXT_LIST,
	S_BLK_REF, S_BLK_UNREF, S_BLK_REFS, S_BLK_TO_GC, S_BLK_DEL,
	S_GC_HAS, S_GC_DEL, S_GC_LIST,
	S_XA_GET, S_XA_PUT, S_XA_DEL, S_XA_DELALL, S_XA_LIST,
	S_RES_GET, S_RES_PUT, S_RES_TRIM,
	S_BK_GET, S_BK_INS, S_BK_DEL, S_BK_LIST,
	S_NSTMT
};

/* The inode columns read by row_inode, in its order. */
#define INO_COLS                                                                  \
	"i.ino, i.mode, i.nlink, i.uid, i.gid, i.rdev, i.size, i.blocks, i.atime, " \
	"i.mtime, i.ctime, i.gen, i.parent, i.orphan, length(i.inline_data)"
#define INO_NCOLS 15
/* The extents of ?1 from chunk ?2 on. */
#define EXT_RANGE "SELECT block_id FROM extents WHERE ino = ?1 AND chunk >= ?2"

static const char *const ms_sql[S_NSTMT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT op",
	[S_RELEASE] = "RELEASE op",
	[S_UNDO] = "ROLLBACK TO op",
	[S_META_GET] = "SELECT value FROM meta WHERE key = ?1",
	[S_META_SET] = "INSERT INTO meta(key, value) VALUES(?1, ?2) "
		       "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
	[S_INO_GET] = "SELECT " INO_COLS " FROM inodes i WHERE i.ino = ?1",
	[S_INO_INS] = "INSERT INTO inodes(ino, mode, nlink, uid, gid, rdev, size, blocks, atime, "
		      "mtime, ctime, gen, parent, orphan) "
		      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10, ?11, ?12, ?13)",
	/* Never the blocks or inline columns: those belong to the extent and
	 * inline helpers, so a stale in-memory copy cannot undo them. */
	[S_INO_UPD] = "UPDATE inodes SET mode = ?2, nlink = ?3, uid = ?4, gid = ?5, rdev = ?6, "
		      "size = ?7, atime = ?8, mtime = ?9, ctime = ?10, gen = ?11, parent = ?12, "
		      "orphan = ?13 WHERE ino = ?1",
	[S_INO_DEL] = "DELETE FROM inodes WHERE ino = ?1",
	[S_INO_TOUCH] = "UPDATE inodes SET nlink = nlink + ?2, mtime = ?3, ctime = ?3 "
			"WHERE ino = ?1",
	[S_INO_CTIME] = "UPDATE inodes SET ctime = ?2 WHERE ino = ?1",
	[S_INO_UNITS] = "UPDATE inodes SET blocks = blocks + ?2 WHERE ino = ?1",
	[S_INL_GET] = "SELECT inline_data FROM inodes WHERE ino = ?1",
	[S_INL_SET] = "UPDATE inodes SET inline_data = ?2 WHERE ino = ?1",
	[S_TGT_GET] = "SELECT target FROM inodes WHERE ino = ?1",
	[S_TGT_SET] = "UPDATE inodes SET target = ?2 WHERE ino = ?1",
	/* Sizes summed in two halves: exact, and no int64 overflow below
	 * 2^31 files. */
	[S_STAT] = "SELECT count(*), "
		   "coalesce(sum(CASE WHEN mode & 61440 = 32768 THEN size >> 32 END), 0), "
		   "coalesce(sum(CASE WHEN mode & 61440 = 32768 THEN size & 4294967295 END), 0) "
		   "FROM inodes",
	[S_DE_GET] = "SELECT ino FROM dirents WHERE parent = ?1 AND name = ?2",
	[S_DE_INS] = "INSERT INTO dirents(parent, name, skey, ino) VALUES(?1, ?2, ?3, ?4)",
	[S_DE_UPD] = "UPDATE dirents SET skey = ?3, ino = ?4 WHERE parent = ?1 AND name = ?2",
	[S_DE_DEL] = "DELETE FROM dirents WHERE parent = ?1 AND name = ?2",
	[S_DE_ANY] = "SELECT 1 FROM dirents WHERE parent = ?1 LIMIT 1",
	[S_DE_LIST] = "SELECT " INO_COLS ", d.name FROM dirents d JOIN inodes i ON i.ino = d.ino "
		      "WHERE d.parent = ?1 AND d.name > ?2 ORDER BY d.name LIMIT ?3",
	[S_DE_NEXT_GT] = "SELECT d.skey, i.ino, i.mode, i.size, i.mtime FROM dirents d "
			 "JOIN inodes i ON i.ino = d.ino WHERE d.parent = ?1 AND d.skey > ?2 "
			 "ORDER BY d.skey LIMIT 1",
	[S_DE_NEXT_GE] = "SELECT d.skey, i.ino, i.mode, i.size, i.mtime FROM dirents d "
			 "JOIN inodes i ON i.ino = d.ino WHERE d.parent = ?1 AND d.skey >= ?2 "
			 "ORDER BY d.skey LIMIT 1",
	[S_EXT_GET] = "SELECT block_id, len FROM extents WHERE ino = ?1 AND chunk = ?2",
	[S_EXT_PUT] = "INSERT INTO extents(ino, chunk, block_id, len) VALUES(?1, ?2, ?3, ?4) "
		      "ON CONFLICT(ino, chunk) DO UPDATE SET block_id = excluded.block_id, "
		      "len = excluded.len",
	[S_EXT_TRIM] = "UPDATE extents SET len = ?3 WHERE ino = ?1 AND chunk = ?2",
	[S_EXT_COUNT] = "SELECT count(*), coalesce(sum((len + 511) / 512), 0) FROM extents "
			"WHERE ino = ?1 AND chunk >= ?2",
	/* Dropping a range of extents is set-based: one pass per table
	 * however many extents a file has. */
	[S_EXT_UNREF] = "UPDATE blocks SET refs = refs - d.n FROM "
			"(SELECT block_id, count(*) AS n FROM extents WHERE ino = ?1 AND chunk >= ?2 "
			"GROUP BY block_id) AS d WHERE blocks.block_id = d.block_id",
	[S_EXT_TO_GC] = "INSERT OR IGNORE INTO gc(block_id, k, m, len, csum) "
			"SELECT block_id, k, m, len, csum FROM blocks "
			"WHERE refs <= 0 AND block_id IN (" EXT_RANGE ")",
	[S_EXT_FREE] = "DELETE FROM blocks WHERE refs <= 0 AND block_id IN (" EXT_RANGE ")",
	[S_EXT_DEL] = "DELETE FROM extents WHERE ino = ?1 AND chunk >= ?2",
	[S_EXT_LIST] = "SELECT e.chunk, e.block_id, e.len, b.k, b.m, b.len, b.csum FROM extents e "
		       "JOIN blocks b ON b.block_id = e.block_id WHERE e.ino = ?1 AND e.chunk >= ?2 "
		       "ORDER BY e.chunk LIMIT ?3",
	[S_BLK_REF] = "INSERT INTO blocks(block_id, k, m, len, csum, refs) "
		      "VALUES(?1, ?2, ?3, ?4, ?5, 1) ON CONFLICT(block_id) DO UPDATE SET "
		      "refs = refs + 1",
	[S_BLK_UNREF] = "UPDATE blocks SET refs = refs - 1 WHERE block_id = ?1",
	[S_BLK_REFS] = "SELECT refs FROM blocks WHERE block_id = ?1",
	[S_BLK_TO_GC] = "INSERT OR IGNORE INTO gc(block_id, k, m, len, csum) "
			"SELECT block_id, k, m, len, csum FROM blocks WHERE block_id = ?1",
	[S_BLK_DEL] = "DELETE FROM blocks WHERE block_id = ?1",
	[S_GC_HAS] = "SELECT 1 FROM gc WHERE block_id = ?1",
	[S_GC_DEL] = "DELETE FROM gc WHERE block_id = ?1",
	[S_GC_LIST] = "SELECT block_id, k, m, len, csum FROM gc ORDER BY block_id LIMIT ?1",
	[S_XA_GET] = "SELECT value FROM xattrs WHERE ino = ?1 AND name = ?2",
	[S_XA_PUT] = "INSERT OR REPLACE INTO xattrs(ino, name, value) VALUES(?1, ?2, ?3)",
	[S_XA_DEL] = "DELETE FROM xattrs WHERE ino = ?1 AND name = ?2",
	[S_XA_DELALL] = "DELETE FROM xattrs WHERE ino = ?1",
	[S_XA_LIST] = "SELECT name FROM xattrs WHERE ino = ?1 ORDER BY name",
	[S_RES_GET] = "SELECT status, ino, mode, nlink, uid, gid, rdev, size, blocks, atime, mtime, "
		      "ctime, gen, freed_ino FROM op_results WHERE op_id = ?1",
	[S_RES_PUT] = "INSERT OR REPLACE INTO op_results(op_id, seq, status, ino, mode, nlink, "
		      "uid, gid, rdev, size, blocks, atime, mtime, ctime, gen, freed_ino) "
		      "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
	[S_RES_TRIM] = "DELETE FROM op_results WHERE seq <= ?1",
	[S_BK_GET] = "SELECT 1 FROM buckets WHERE name = ?1",
	[S_BK_INS] = "INSERT INTO buckets(name, chunk_size, inline_max, ctime) "
		     "VALUES(?1, ?2, ?3, ?4)",
	[S_BK_DEL] = "DELETE FROM buckets WHERE name = ?1",
	[S_BK_LIST] = "SELECT name, chunk_size, ctime FROM buckets ORDER BY name",
};

static const char ms_schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key BLOB PRIMARY KEY, value INTEGER NOT NULL) "
	"WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS inodes(ino INTEGER PRIMARY KEY, mode INTEGER NOT NULL, "
	"nlink INTEGER NOT NULL, uid INTEGER NOT NULL, gid INTEGER NOT NULL, "
	"rdev INTEGER NOT NULL, size INTEGER NOT NULL, blocks INTEGER NOT NULL, "
	"atime INTEGER NOT NULL, mtime INTEGER NOT NULL, ctime INTEGER NOT NULL, "
	"gen INTEGER NOT NULL, parent INTEGER NOT NULL, orphan INTEGER NOT NULL, "
	"inline_data BLOB, target BLOB);"
	"CREATE TABLE IF NOT EXISTS dirents(parent INTEGER NOT NULL, name BLOB NOT NULL, "
	"skey BLOB NOT NULL, ino INTEGER NOT NULL, PRIMARY KEY(parent, name)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS dirents_skey ON dirents(parent, skey, ino);"
	"CREATE TABLE IF NOT EXISTS extents(ino INTEGER NOT NULL, chunk INTEGER NOT NULL, "
	"block_id BLOB NOT NULL, len INTEGER NOT NULL, PRIMARY KEY(ino, chunk)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS blocks(block_id BLOB PRIMARY KEY, k INTEGER NOT NULL, "
	"m INTEGER NOT NULL, len INTEGER NOT NULL, csum INTEGER NOT NULL, "
	"refs INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS gc(block_id BLOB PRIMARY KEY, k INTEGER NOT NULL, "
	"m INTEGER NOT NULL, len INTEGER NOT NULL, csum INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS xattrs(ino INTEGER NOT NULL, name BLOB NOT NULL, "
	"value BLOB NOT NULL, PRIMARY KEY(ino, name)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS op_results(op_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, "
	"status INTEGER NOT NULL, ino INTEGER, mode INTEGER, nlink INTEGER, uid INTEGER, "
	"gid INTEGER, rdev INTEGER, size INTEGER, blocks INTEGER, atime INTEGER, mtime INTEGER, "
	"ctime INTEGER, gen INTEGER, freed_ino INTEGER);"
	"CREATE INDEX IF NOT EXISTS op_results_seq ON op_results(seq);"
	"CREATE TABLE IF NOT EXISTS buckets(name BLOB PRIMARY KEY, chunk_size INTEGER NOT NULL, "
	"inline_max INTEGER NOT NULL, ctime INTEGER NOT NULL) WITHOUT ROWID;";

static const char K_APPLIED[] = "applied_index";
static const char K_CHUNK[] = "chunk_size";
static const char K_INLINE[] = "inline_max";
static const char K_NEXT_INO[] = "next_ino";
static const char K_RES_SEQ[] = "result_seq";

struct mstore {
	pthread_mutex_t lock; /* guards everything below */
	sqlite3 *db;
	sqlite3_stmt *stmt[S_NSTMT];
	int dberr; /* first SQLite failure of the current call (negative errno) */
};

/* One inode row. */
struct inode {
	struct meta_attr a; /* a.blocks as reported (see attr_blocks) */
	uint64_t units;     /* the blocks column: 512-byte units of the extents */
	uint64_t parent;    /* directories: the one directory holding it */
	bool orphan;
	size_t inl_len;
};

/* ---- SQLite plumbing ---- */

enum arg_type { A_INT, A_BLOB, A_NULL };

/* A statement argument; built with AI/AB/AS/ANULL so every integer is
 * converted to int64_t at the call site (type-safe, unlike varargs). */
struct arg {
	enum arg_type type;
	int64_t i;
	const void *p;
	size_t n;
};

#define AI(x) ((struct arg){ .type = A_INT, .i = (int64_t)(x) })
#define AB(ptr, len) ((struct arg){ .type = A_BLOB, .p = (ptr), .n = (len) })
#define AS(s) AB((s), strlen(s))
#define ANULL ((struct arg){ .type = A_NULL })
#define ARGS(...)                                                                           \
	(const struct arg[]){ __VA_ARGS__ },                                                \
		OBJ_ARRAY_LEN(((const struct arg[]){ __VA_ARGS__ }))
#define NOARGS NULL, 0

/* Translates an SQLite result code, logging the reason once here. */
static int sql_err(sqlite3 *db, int rc, const char *what)
{
	log_error("ms.sqlite", "%s: %s (%s)", what, db ? sqlite3_errmsg(db) : "no database",
		  sqlite3_errstr(rc));
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* As sql_err, and remembers the failure so ms_apply rolls back. */
static int db_fail(struct mstore *ms, int rc, const char *what)
{
	int err = sql_err(ms->db, rc, what);

	if (ms->dberr == 0) {
		ms->dberr = err;
	}
	return err;
}

/* Readies a statement for its next use; bindings point at the caller's
 * buffers (SQLITE_STATIC), so they are cleared before those die. */
static void stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static sqlite3_stmt *bind(struct mstore *ms, enum ms_stmt id, const struct arg *a, size_t n)
{
	sqlite3_stmt *st = ms->stmt[id];
	int rc = SQLITE_OK;

	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		int col = (int)i + 1;

		if (a[i].type == A_INT) {
			rc = sqlite3_bind_int64(st, col, a[i].i);
		} else if (a[i].type == A_BLOB) {
			/* A NULL pointer would bind SQL NULL: an empty value
			 * must stay a zero-length BLOB. */
			rc = sqlite3_bind_blob64(st, col, a[i].n ? a[i].p : "", a[i].n,
						 SQLITE_STATIC);
		} else {
			rc = sqlite3_bind_null(st, col);
		}
	}
	if (rc != SQLITE_OK) {
		db_fail(ms, rc, ms_sql[id]);
		stmt_done(st);
		return NULL;
	}
	return st;
}

/* Runs a statement whose rows (if any) are not wanted: 0 or an error. */
static int run(struct mstore *ms, enum ms_stmt id, const struct arg *a, size_t n)
{
	sqlite3_stmt *st = bind(ms, id, a, n);
	int rc;

	if (st == NULL) {
		return ms->dberr;
	}
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_fail(ms, rc, ms_sql[id]);
	stmt_done(st);
	return rc;
}

/* Steps a bound statement to its first row: 1 (row), 0 (none) or an
 * error (the statement is then already reset). */
static int first_row(struct mstore *ms, enum ms_stmt id, sqlite3_stmt *st)
{
	int rc;

	if (st == NULL) {
		return ms->dberr;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		return 1;
	}
	rc = rc == SQLITE_DONE ? 0 : db_fail(ms, rc, ms_sql[id]);
	stmt_done(st);
	return rc;
}

/* The first column of the first row: 1 with *out set, 0 when no row. */
static int get_int(struct mstore *ms, enum ms_stmt id, const struct arg *a, size_t n,
		   int64_t *out)
{
	sqlite3_stmt *st = bind(ms, id, a, n);
	int rc = first_row(ms, id, st);

	*out = 0;
	if (rc == 1) {
		*out = sqlite3_column_int64(st, 0);
		stmt_done(st);
	}
	return rc;
}

static int meta_get(struct mstore *ms, const char *key, int64_t *v)
{
	int rc = get_int(ms, S_META_GET, ARGS(AS(key)), v);

	return rc < 0 ? rc : 0;
}

static int meta_set(struct mstore *ms, const char *key, int64_t v)
{
	return run(ms, S_META_SET, ARGS(AS(key), AI(v)));
}

/* ---- inodes ---- */

static uint64_t units(uint64_t bytes)
{
	return bytes / 512 + (bytes % 512 != 0);
}

static void row_inode(sqlite3_stmt *st, int c, struct inode *x)
{
	memset(x, 0, sizeof(*x));
	x->a.ino = (uint64_t)sqlite3_column_int64(st, c);
	x->a.mode = (uint32_t)sqlite3_column_int64(st, c + 1);
	x->a.nlink = (uint32_t)sqlite3_column_int64(st, c + 2);
	x->a.uid = (uint32_t)sqlite3_column_int64(st, c + 3);
	x->a.gid = (uint32_t)sqlite3_column_int64(st, c + 4);
	x->a.rdev = (uint64_t)sqlite3_column_int64(st, c + 5);
	x->a.size = (uint64_t)sqlite3_column_int64(st, c + 6);
	x->units = (uint64_t)sqlite3_column_int64(st, c + 7);
	x->a.atime_ns = sqlite3_column_int64(st, c + 8);
	x->a.mtime_ns = sqlite3_column_int64(st, c + 9);
	x->a.ctime_ns = sqlite3_column_int64(st, c + 10);
	x->a.gen = (uint64_t)sqlite3_column_int64(st, c + 11);
	x->parent = (uint64_t)sqlite3_column_int64(st, c + 12);
	x->orphan = sqlite3_column_int64(st, c + 13) != 0;
	x->inl_len = (size_t)sqlite3_column_int64(st, c + 14);
	if (S_ISREG(x->a.mode)) {
		x->a.blocks = x->units + units(x->inl_len);
	} else if (S_ISDIR(x->a.mode)) {
		x->a.blocks = MS_DIR_BLOCKS;
	}
}

/* 1 with *x filled, 0 when there is no such inode, or an error. */
static int ino_get(struct mstore *ms, uint64_t ino, struct inode *x)
{
	sqlite3_stmt *st = bind(ms, S_INO_GET, ARGS(AI(ino)));
	int rc = first_row(ms, S_INO_GET, st);

	if (rc == 1) {
		row_inode(st, 0, x);
		stmt_done(st);
	}
	return rc;
}

/* 0 with *x a directory, -ENOENT, -ENOTDIR or an error. */
static int dir_get(struct mstore *ms, uint64_t ino, struct inode *x)
{
	int rc = ino_get(ms, ino, x);

	if (rc < 0) {
		return rc;
	}
	if (rc == 0) {
		return -ENOENT;
	}
	return S_ISDIR(x->a.mode) ? 0 : -ENOTDIR;
}

static int ino_write(struct mstore *ms, enum ms_stmt id, const struct inode *x)
{
	const struct meta_attr *a = &x->a;

	return run(ms, id, ARGS(AI(a->ino), AI(a->mode), AI(a->nlink), AI(a->uid), AI(a->gid),
				AI(a->rdev), AI(a->size), AI(a->atime_ns), AI(a->mtime_ns),
				AI(a->ctime_ns), AI(a->gen), AI(x->parent), AI(x->orphan)));
}

/* Directory entry count change (subdirectories) and mtime = ctime = now. */
static int dir_touch(struct mstore *ms, uint64_t dir, int dnlink, int64_t now)
{
	return run(ms, S_INO_TOUCH, ARGS(AI(dir), AI(dnlink), AI(now)));
}

/* Reads the attributes of ino into *a (zeros if it vanished). */
static int attr_of(struct mstore *ms, uint64_t ino, struct meta_attr *a)
{
	struct inode x;
	int rc = ino_get(ms, ino, &x);

	memset(a, 0, sizeof(*a));
	if (rc == 1) {
		*a = x.a;
	}
	return rc < 0 ? rc : 0;
}

/* Takes inode number ino for a new inode: refuses numbers the leader
 * should never have chosen, and keeps next_ino above it. */
static int ino_claim(struct mstore *ms, uint64_t ino)
{
	struct inode x;
	int64_t next;
	int rc;

	if (ino < 2 || ino >= INT64_MAX) {
		log_warn("ms.ino", "op record with inode number %llu", (unsigned long long)ino);
		return -EINVAL;
	}
	rc = ino_get(ms, ino, &x);
	if (rc != 0) {
		if (rc == 1) {
			log_warn("ms.ino", "op record reuses inode %llu", (unsigned long long)ino);
		}
		return rc < 0 ? rc : -EINVAL;
	}
	rc = meta_get(ms, K_NEXT_INO, &next);
	if (rc == 0 && (uint64_t)next <= ino) {
		rc = meta_set(ms, K_NEXT_INO, (int64_t)ino + 1);
	}
	return rc;
}

static int inline_set(struct mstore *ms, uint64_t ino, const void *p, size_t n)
{
	if (n == 0) {
		return run(ms, S_INL_SET, ARGS(AI(ino), ANULL));
	}
	return run(ms, S_INL_SET, ARGS(AI(ino), AB(p, n)));
}

/* Copies the inline data of ino into a malloc'd buffer of at least cap
 * bytes (zero-filled past the data); *len = bytes of data. */
static int inline_get(struct mstore *ms, uint64_t ino, size_t cap, uint8_t **out, size_t *len)
{
	sqlite3_stmt *st = bind(ms, S_INL_GET, ARGS(AI(ino)));
	int rc = first_row(ms, S_INL_GET, st);
	size_t n = 0;
	uint8_t *buf;

	*out = NULL;
	*len = 0;
	if (rc == 1) {
		n = (size_t)sqlite3_column_bytes(st, 0);
	} else if (rc < 0) {
		return rc;
	}
	cap = cap > n ? cap : n;
	buf = calloc(1, cap ? cap : 1);
	if (buf == NULL) {
		rc = -ENOMEM;
	} else if (n != 0) {
		memcpy(buf, sqlite3_column_blob(st, 0), n);
	}
	if (st != NULL && rc == 1) {
		stmt_done(st);
	}
	if (buf == NULL) {
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

/* ---- blocks and extents ---- */

/* Adds a reference to block b (registering it on first use).  A block
 * already queued for GC may be half deleted: ESTALE. */
static int blk_ref(struct mstore *ms, const struct manifest_block *b)
{
	int64_t v;
	int rc = get_int(ms, S_GC_HAS, ARGS(AB(b->id, BLOCK_ID_LEN)), &v);

	if (rc != 0) {
		return rc < 0 ? rc : -ESTALE;
	}
	return run(ms, S_BLK_REF, ARGS(AB(b->id, BLOCK_ID_LEN), AI(b->k), AI(b->m), AI(b->len),
				      AI(b->csum)));
}

static int blk_unref(struct mstore *ms, const uint8_t *id)
{
	int64_t refs;
	int rc = run(ms, S_BLK_UNREF, ARGS(AB(id, BLOCK_ID_LEN)));

	if (rc == 0) {
		rc = get_int(ms, S_BLK_REFS, ARGS(AB(id, BLOCK_ID_LEN)), &refs);
	}
	if (rc == 1 && refs <= 0) {
		rc = run(ms, S_BLK_TO_GC, ARGS(AB(id, BLOCK_ID_LEN)));
		if (rc == 0) {
			rc = run(ms, S_BLK_DEL, ARGS(AB(id, BLOCK_ID_LEN)));
		}
	}
	return rc < 0 ? rc : 0;
}

/* Looks up extent (ino, chunk): 1 with its block id and len, 0, or error. */
static int ext_get(struct mstore *ms, uint64_t ino, uint64_t chunk, uint8_t *id, uint32_t *len)
{
	sqlite3_stmt *st = bind(ms, S_EXT_GET, ARGS(AI(ino), AI(chunk)));
	int rc = first_row(ms, S_EXT_GET, st);

	if (rc == 1) {
		const void *p = sqlite3_column_blob(st, 0);

		memset(id, 0, BLOCK_ID_LEN);
		if (p != NULL && sqlite3_column_bytes(st, 0) == BLOCK_ID_LEN) {
			memcpy(id, p, BLOCK_ID_LEN);
		}
		*len = (uint32_t)sqlite3_column_int64(st, 1);
		stmt_done(st);
	}
	return rc;
}

/* Drops every extent of ino from chunk `first` on, with its references. */
static int ext_drop(struct mstore *ms, uint64_t ino, uint64_t first)
{
	sqlite3_stmt *st = bind(ms, S_EXT_COUNT, ARGS(AI(ino), AI(first)));
	int64_t count, u;
	int rc = first_row(ms, S_EXT_COUNT, st);

	if (rc <= 0) {
		return rc;
	}
	count = sqlite3_column_int64(st, 0);
	u = sqlite3_column_int64(st, 1);
	stmt_done(st);
	if (count == 0) {
		return 0;
	}
	rc = run(ms, S_EXT_UNREF, ARGS(AI(ino), AI(first)));
	if (rc == 0) {
		rc = run(ms, S_EXT_TO_GC, ARGS(AI(ino), AI(first)));
	}
	if (rc == 0) {
		rc = run(ms, S_EXT_FREE, ARGS(AI(ino), AI(first)));
	}
	if (rc == 0) {
		rc = run(ms, S_EXT_DEL, ARGS(AI(ino), AI(first)));
	}
	if (rc == 0) {
		rc = run(ms, S_INO_UNITS, ARGS(AI(ino), AI(-u)));
	}
	return rc;
}

/* Makes e the extent of its chunk, releasing the block it replaces. */
static int ext_set(struct mstore *ms, uint64_t ino, const struct meta_extent *e)
{
	uint8_t old[BLOCK_ID_LEN];
	uint32_t old_len;
	int64_t delta = (int64_t)units(e->len);
	int had = ext_get(ms, ino, e->chunk, old, &old_len);
	int rc = had < 0 ? had : 0;

	/* Referenced before the old one is released: rewriting a chunk with
	 * its own block must not send the block through 0 to GC. */
	if (rc == 0) {
		rc = blk_ref(ms, &e->blk);
	}
	if (rc == 0) {
		rc = run(ms, S_EXT_PUT, ARGS(AI(ino), AI(e->chunk), AB(e->blk.id, BLOCK_ID_LEN),
					     AI(e->len)));
	}
	if (rc == 0 && had == 1) {
		delta -= (int64_t)units(old_len);
		rc = blk_unref(ms, old);
	}
	if (rc == 0 && delta != 0) {
		rc = run(ms, S_INO_UNITS, ARGS(AI(ino), AI(delta)));
	}
	return rc;
}

/* Cuts the extents of ino at byte `size`: chunks past it go, the last
 * chunk's valid length is trimmed. */
static int ext_trim(struct mstore *ms, uint64_t ino, uint64_t size)
{
	uint8_t id[BLOCK_ID_LEN];
	uint64_t cs, rem;
	uint32_t len;
	int64_t v;
	int rc = meta_get(ms, K_CHUNK, &v);

	if (rc < 0) {
		return rc;
	}
	if (v <= 0) {
		/* No chunk size: no extent can exist (WRITE refuses them). */
		return size == 0 ? ext_drop(ms, ino, 0) : 0;
	}
	cs = (uint64_t)v;
	rem = size % cs;
	rc = ext_drop(ms, ino, size / cs + (rem != 0));
	if (rc < 0 || rem == 0) {
		return rc;
	}
	rc = ext_get(ms, ino, size / cs, id, &len);
	if (rc <= 0 || len <= rem) {
		return rc < 0 ? rc : 0;
	}
	rc = run(ms, S_EXT_TRIM, ARGS(AI(ino), AI(size / cs), AI(rem)));
	if (rc == 0) {
		rc = run(ms, S_INO_UNITS, ARGS(AI(ino), AI((int64_t)units(rem) - (int64_t)units(len))));
	}
	return rc;
}

/* Resizes the inline data of x for a new file size (invariant 5). */
static int inline_resize(struct mstore *ms, const struct inode *x, uint64_t size)
{
	size_t want, have;
	uint8_t *buf;
	int64_t imax;
	int rc;

	if (x->inl_len == 0) {
		return 0;
	}
	if (size < x->inl_len) {
		want = (size_t)size;
	} else {
		rc = meta_get(ms, K_INLINE, &imax);
		if (rc < 0) {
			return rc;
		}
		want = (uint64_t)imax > x->inl_len ? (size_t)imax : x->inl_len;
		want = size < want ? (size_t)size : want;
	}
	if (want == x->inl_len) {
		return 0;
	}
	rc = inline_get(ms, x->a.ino, want, &buf, &have);
	if (rc == 0) {
		rc = inline_set(ms, x->a.ino, buf, want);
		free(buf);
	}
	return rc;
}

/* Deletes inode ino with its extents' references and its xattrs. */
static int ino_delete(struct mstore *ms, uint64_t ino)
{
	int rc = ext_drop(ms, ino, 0);

	if (rc == 0) {
		rc = run(ms, S_XA_DELALL, ARGS(AI(ino)));
	}
	if (rc == 0) {
		rc = run(ms, S_INO_DEL, ARGS(AI(ino)));
	}
	return rc;
}

/* One link of non-directory x went: nlink-1, ctime; at 0 the inode is
 * kept as an orphan or deleted. */
static int drop_link(struct mstore *ms, struct inode *x, bool keep, int64_t now,
		     struct meta_result *res)
{
	if (x->a.nlink > 0) {
		x->a.nlink--;
	}
	x->a.ctime_ns = now;
	if (x->a.nlink > 0) {
		return ino_write(ms, S_INO_UPD, x);
	}
	res->freed_ino = x->a.ino;
	if (keep) {
		x->orphan = true;
		return ino_write(ms, S_INO_UPD, x);
	}
	return ino_delete(ms, x->a.ino);
}

/* ---- directory entries and paths ---- */

static int de_get(struct mstore *ms, uint64_t parent, const char *name, uint64_t *ino)
{
	int64_t v;
	int rc = get_int(ms, S_DE_GET, ARGS(AI(parent), AS(name)), &v);

	*ino = (uint64_t)v;
	return rc;
}

/* Inserts (S_DE_INS) or repoints (S_DE_UPD) entry name of parent. */
static int de_put(struct mstore *ms, enum ms_stmt id, uint64_t parent, const char *name,
		  uint64_t ino, bool dir)
{
	uint8_t skey[SKEY_MAX];
	size_t n = strlen(name);

	memcpy(skey, name, n);
	if (dir) {
		skey[n++] = '/';
	}
	return run(ms, id, ARGS(AI(parent), AS(name), AB(skey, n), AI(ino)));
}

static int de_del(struct mstore *ms, uint64_t parent, const char *name)
{
	return run(ms, S_DE_DEL, ARGS(AI(parent), AS(name)));
}

/* Copies the component of path[0..len) at *pos into name and moves *pos
 * past it and its '/'.  Returns 1 if more follow, 0 for the last one,
 * -EINVAL (empty, ".", "..") or -ENAMETOOLONG. */
static int next_comp(const char *path, size_t len, size_t *pos, char *name)
{
	const char *s = path + *pos;
	const char *e = memchr(s, '/', len - *pos);
	size_t n = e ? (size_t)(e - s) : len - *pos;

	if (n > META_NAME_MAX) {
		return -ENAMETOOLONG;
	}
	memcpy(name, s, n);
	name[n] = '\0';
	if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		return -EINVAL;
	}
	*pos += n + (e != NULL);
	return e != NULL;
}

/* Resolves path[0..len) from the root ("" is the root) into *x.  With
 * leaf != NULL the last component is not looked up but copied to leaf
 * and *x is its directory. */
static int walk(struct mstore *ms, const char *path, size_t len, struct inode *x, char *leaf)
{
	char name[META_NAME_MAX + 1];
	size_t pos = 0;
	uint64_t ino;
	int more, rc;

	rc = ino_get(ms, META_ROOT_INO, x);
	if (rc <= 0) {
		return rc < 0 ? rc : -ENOENT;
	}
	if (len == 0) {
		return leaf != NULL ? -EINVAL : 0;
	}
	do {
		more = next_comp(path, len, &pos, name);
		if (more < 0) {
			return more;
		}
		if (!S_ISDIR(x->a.mode)) {
			return -ENOTDIR;
		}
		if (!more && leaf != NULL) {
			strcpy(leaf, name);
			return 0;
		}
		rc = de_get(ms, x->a.ino, name, &ino);
		if (rc == 1) {
			rc = ino_get(ms, ino, x);
		}
		if (rc <= 0) {
			return rc < 0 ? rc : -ENOENT;
		}
	} while (more);
	return 0;
}

/* The directory and name an UNLINK/RMDIR names (META_F_PATH or not). */
static int op_target(struct mstore *ms, const struct meta_op *op, struct inode *dir, char *leaf)
{
	int rc;

	if (op->flags & META_F_PATH) {
		return walk(ms, op->name, strlen(op->name), dir, leaf);
	}
	rc = dir_get(ms, op->parent, dir);
	if (rc == 0) {
		rc = meta_check_name(op->name);
	}
	if (rc == 0) {
		strcpy(leaf, op->name);
	}
	return rc;
}

/* 1 if directory anc is dir or one of its ancestors, else 0. */
static int is_ancestor(struct mstore *ms, uint64_t anc, uint64_t dir)
{
	struct inode x;

	for (int i = 0; i < MS_DEPTH_MAX; i++) {
		int rc;

		if (dir == anc) {
			return 1;
		}
		if (dir == META_ROOT_INO) {
			return 0;
		}
		rc = ino_get(ms, dir, &x);
		if (rc <= 0) {
			return rc;
		}
		dir = x.parent;
	}
	log_error("ms.corrupt", "directory %llu: parent chain too long", (unsigned long long)dir);
	return -ELOOP;
}

/* ---- ops ---- */

static int check_symlink(const struct meta_op *op)
{
	if (op->data_len == 0 || op->data == NULL) {
		return -ENOENT;
	}
	if (op->data_len > META_SYMLINK_MAX) {
		return -ENAMETOOLONG;
	}
	return memchr(op->data, '\0', op->data_len) ? -EINVAL : 0;
}

/* A new inode row for ino in directory parent. */
static void new_inode(struct inode *x, const struct meta_op *op, uint64_t ino, uint32_t mode,
		      uint64_t parent)
{
	memset(x, 0, sizeof(*x));
	x->a.ino = ino;
	x->a.mode = mode;
	x->a.nlink = S_ISDIR(mode) ? 2 : 1;
	x->a.uid = op->uid;
	x->a.gid = op->gid;
	x->a.atime_ns = x->a.mtime_ns = x->a.ctime_ns = op->now_ns;
	x->a.gen = 1;
	x->parent = S_ISDIR(mode) ? parent : 0;
}

/* Creates ino (already claimed) as name in dir. */
static int make_entry(struct mstore *ms, const struct meta_op *op, struct inode *x,
		      uint64_t dir, const char *name)
{
	bool isdir = S_ISDIR(x->a.mode);
	int rc = ino_write(ms, S_INO_INS, x);

	if (rc == 0) {
		rc = de_put(ms, S_DE_INS, dir, name, x->a.ino, isdir);
	}
	if (rc == 0) {
		rc = dir_touch(ms, dir, isdir ? 1 : 0, op->now_ns);
	}
	return rc;
}

static int do_create(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	uint32_t type = op->mode & S_IFMT;
	struct inode dir, x;
	uint64_t ino = 0;
	int rc;

	rc = dir_get(ms, op->parent, &dir);
	if (rc == 0) {
		rc = meta_check_name(op->name);
	}
	if (rc < 0) {
		return rc;
	}
	type = type ? type : S_IFREG;
	switch (type) {
	case S_IFLNK:
		rc = check_symlink(op);
		break;
	case S_IFREG: case S_IFDIR: case S_IFIFO: case S_IFSOCK: case S_IFCHR: case S_IFBLK:
		break;
	default:
		rc = -EINVAL;
	}
	if (rc == 0) {
		rc = de_get(ms, op->parent, op->name, &ino);
	}
	if (rc == 1) {
		rc = ino_get(ms, ino, &x);
		if (rc <= 0) {
			return rc < 0 ? rc : -EIO;
		}
		if (!S_ISREG(x.a.mode) || type != S_IFREG || (op->flags & META_F_EXCL)) {
			return -EEXIST;
		}
		res->attr = x.a;
		return 0;
	}
	if (rc == 0) {
		rc = ino_claim(ms, op->new_ino);
	}
	if (rc < 0) {
		return rc;
	}
	new_inode(&x, op, op->new_ino, type | (op->mode & 07777), op->parent);
	if (type == S_IFCHR || type == S_IFBLK) {
		x.a.rdev = op->rdev;
	}
	if (type == S_IFLNK) {
		x.a.size = op->data_len;
	}
	rc = make_entry(ms, op, &x, op->parent, op->name);
	if (rc == 0 && type == S_IFLNK) {
		rc = run(ms, S_TGT_SET, ARGS(AI(x.a.ino), AB(op->data, op->data_len)));
	}
	return rc < 0 ? rc : attr_of(ms, x.a.ino, &res->attr);
}

static int do_link(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	struct inode x, dir;
	uint64_t other;
	int rc = ino_get(ms, op->ino, &x);

	if (rc <= 0) {
		return rc < 0 ? rc : -ENOENT;
	}
	if (S_ISDIR(x.a.mode)) {
		return -EPERM;
	}
	if (x.a.nlink == 0) {
		return -ENOENT;
	}
	rc = dir_get(ms, op->newparent, &dir);
	if (rc == 0) {
		rc = meta_check_name(op->newname);
	}
	if (rc == 0) {
		rc = de_get(ms, op->newparent, op->newname, &other);
	}
	if (rc != 0) {
		return rc < 0 ? rc : -EEXIST;
	}
	x.a.nlink++;
	x.a.ctime_ns = op->now_ns;
	rc = ino_write(ms, S_INO_UPD, &x);
	if (rc == 0) {
		rc = de_put(ms, S_DE_INS, op->newparent, op->newname, x.a.ino, false);
	}
	if (rc == 0) {
		rc = dir_touch(ms, op->newparent, 0, op->now_ns);
	}
	return rc < 0 ? rc : attr_of(ms, x.a.ino, &res->attr);
}

/* UNLINK and RMDIR. */
static int do_remove(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	char leaf[META_NAME_MAX + 1];
	bool rmdir = op->type == MOP_RMDIR;
	struct inode dir, x;
	uint64_t ino = 0;
	int64_t any;
	int rc = op_target(ms, op, &dir, leaf);

	if (rc == 0) {
		rc = de_get(ms, dir.a.ino, leaf, &ino);
		if (rc == 1) {
			rc = ino_get(ms, ino, &x);
		}
		rc = rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
	}
	if (rc < 0) {
		return rc;
	}
	if (!rmdir && S_ISDIR(x.a.mode)) {
		return -EISDIR;
	}
	if (rmdir && !S_ISDIR(x.a.mode)) {
		return -ENOTDIR;
	}
	if (rmdir) {
		rc = get_int(ms, S_DE_ANY, ARGS(AI(ino)), &any);
		if (rc != 0) {
			return rc < 0 ? rc : -ENOTEMPTY;
		}
	}
	rc = de_del(ms, dir.a.ino, leaf);
	if (rc == 0) {
		rc = dir_touch(ms, dir.a.ino, rmdir ? -1 : 0, op->now_ns);
	}
	if (rc < 0) {
		return rc;
	}
	if (rmdir) {
		x.a.nlink = 0;
		x.a.ctime_ns = op->now_ns;
		res->freed_ino = ino;
		rc = ino_delete(ms, ino);
	} else {
		rc = drop_link(ms, &x, op->flags & META_F_KEEP_ORPHAN, op->now_ns, res);
	}
	res->attr = x.a;
	return rc;
}

/* RENAME_EXCHANGE of two existing entries (src in sdir, dst in ddir). */
static int rename_exchange(struct mstore *ms, const struct meta_op *op, struct inode *src,
			   struct inode *dst)
{
	bool sd = S_ISDIR(src->a.mode), dd = S_ISDIR(dst->a.mode);
	bool moves = op->parent != op->newparent;
	int dn = (int)sd - (int)dd; /* subdirectories newparent gains */
	int rc = 0;

	/* Each side must not land inside itself. */
	if (moves && dd) {
		rc = is_ancestor(ms, dst->a.ino, op->parent);
	}
	if (rc != 0) {
		return rc < 0 ? rc : -EINVAL;
	}
	rc = de_put(ms, S_DE_UPD, op->parent, op->name, dst->a.ino, dd);
	if (rc == 0) {
		rc = de_put(ms, S_DE_UPD, op->newparent, op->newname, src->a.ino, sd);
	}
	if (moves) {
		if (sd) {
			src->parent = op->newparent;
		}
		if (dd) {
			dst->parent = op->parent;
		}
	}
	src->a.ctime_ns = dst->a.ctime_ns = op->now_ns;
	if (rc == 0) {
		rc = ino_write(ms, S_INO_UPD, src);
	}
	if (rc == 0) {
		rc = ino_write(ms, S_INO_UPD, dst);
	}
	if (rc == 0) {
		rc = dir_touch(ms, op->parent, moves ? -dn : 0, op->now_ns);
	}
	if (rc == 0 && moves) {
		rc = dir_touch(ms, op->newparent, dn, op->now_ns);
	}
	return rc;
}

static int do_rename(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	bool excl = op->flags & META_F_NOREPLACE, xchg = op->flags & META_F_EXCHANGE;
	struct inode sdir, ddir, src, dst;
	uint64_t sino = 0, dino = 0;
	bool sd, dd = false;
	int found, rc;

	if (excl && xchg) {
		return -EINVAL;
	}
	rc = dir_get(ms, op->parent, &sdir);
	if (rc == 0) {
		rc = dir_get(ms, op->newparent, &ddir);
	}
	if (rc == 0) {
		rc = meta_check_name(op->name);
	}
	if (rc == 0) {
		rc = meta_check_name(op->newname);
	}
	if (rc == 0) {
		rc = de_get(ms, op->parent, op->name, &sino);
		if (rc == 1) {
			rc = ino_get(ms, sino, &src);
		}
		rc = rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
	}
	if (rc < 0) {
		return rc;
	}
	found = de_get(ms, op->newparent, op->newname, &dino);
	if (found == 1) {
		found = ino_get(ms, dino, &dst);
	}
	if (found < 0) {
		return found;
	}
	if (!found && xchg) {
		return -ENOENT;
	}
	if (found && excl) {
		return -EEXIST;
	}
	res->attr = src.a;
	if (found && dino == sino) {
		return 0;
	}
	sd = S_ISDIR(src.a.mode);
	dd = found && S_ISDIR(dst.a.mode);
	if (sd && op->parent != op->newparent) {
		rc = is_ancestor(ms, sino, op->newparent);
		if (rc != 0) {
			return rc < 0 ? rc : -EINVAL;
		}
	}
	if (xchg) {
		rc = rename_exchange(ms, op, &src, &dst);
		return rc < 0 ? rc : attr_of(ms, sino, &res->attr);
	}
	if (found && sd && !dd) {
		return -ENOTDIR;
	}
	if (found && !sd && dd) {
		return -EISDIR;
	}
	if (dd) {
		int64_t any;

		rc = get_int(ms, S_DE_ANY, ARGS(AI(dino)), &any);
		if (rc != 0) {
			return rc < 0 ? rc : -ENOTEMPTY;
		}
	}
	rc = de_del(ms, op->parent, op->name);
	if (rc == 0) {
		rc = de_put(ms, found ? S_DE_UPD : S_DE_INS, op->newparent, op->newname, sino, sd);
	}
	if (rc == 0 && found) {
		if (dd) {
			res->freed_ino = dino;
			rc = ino_delete(ms, dino);
		} else {
			rc = drop_link(ms, &dst, op->flags & META_F_KEEP_ORPHAN, op->now_ns, res);
		}
	}
	if (sd) {
		src.parent = op->newparent;
	}
	src.a.ctime_ns = op->now_ns;
	if (rc == 0) {
		rc = ino_write(ms, S_INO_UPD, &src);
	}
	if (op->parent == op->newparent) {
		/* A replaced directory was a subdirectory of this one. */
		if (rc == 0) {
			rc = dir_touch(ms, op->parent, dd ? -1 : 0, op->now_ns);
		}
	} else {
		if (rc == 0) {
			rc = dir_touch(ms, op->parent, sd ? -1 : 0, op->now_ns);
		}
		if (rc == 0) {
			rc = dir_touch(ms, op->newparent, (sd ? 1 : 0) - (dd ? 1 : 0), op->now_ns);
		}
	}
	return rc < 0 ? rc : attr_of(ms, sino, &res->attr);
}

static int do_setattr(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	uint32_t v = op->valid;
	struct inode x;
	int rc = ino_get(ms, op->ino, &x);

	if (rc <= 0) {
		return rc < 0 ? rc : -ENOENT;
	}
	if ((v & META_SET_SIZE) && op->size != x.a.size) {
		if (S_ISDIR(x.a.mode)) {
			return -EISDIR;
		}
		if (!S_ISREG(x.a.mode)) {
			return -EINVAL;
		}
		if (op->size > INT64_MAX) {
			return -EFBIG;
		}
		rc = op->size < x.a.size ? ext_trim(ms, x.a.ino, op->size) : 0;
		if (rc == 0) {
			rc = inline_resize(ms, &x, op->size);
		}
		if (rc < 0) {
			return rc;
		}
		x.a.size = op->size;
		x.a.gen++;
		x.a.mtime_ns = op->now_ns;
	}
	if (v & META_SET_MODE) {
		x.a.mode = (x.a.mode & S_IFMT) | (op->mode & 07777);
	}
	if (v & META_SET_UID) {
		x.a.uid = op->uid;
	}
	if (v & META_SET_GID) {
		x.a.gid = op->gid;
	}
	if (v & (META_SET_ATIME | META_SET_ATIME_NOW)) {
		x.a.atime_ns = (v & META_SET_ATIME_NOW) ? op->now_ns : op->atime_ns;
	}
	if (v & (META_SET_MTIME | META_SET_MTIME_NOW)) {
		x.a.mtime_ns = (v & META_SET_MTIME_NOW) ? op->now_ns : op->mtime_ns;
	}
	x.a.ctime_ns = op->now_ns;
	rc = ino_write(ms, S_INO_UPD, &x);
	return rc < 0 ? rc : attr_of(ms, x.a.ino, &res->attr);
}

static int do_xattr(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	size_t nlen = strlen(op->name);
	struct inode x;
	uint32_t f = op->flags & (META_F_XATTR_CREATE | META_F_XATTR_REPLACE);
	int64_t any;
	int rc = ino_get(ms, op->ino, &x);

	if (rc <= 0) {
		return rc < 0 ? rc : -ENOENT;
	}
	if (nlen == 0 || nlen > META_XATTR_NAME_MAX) {
		return -ERANGE;
	}
	rc = get_int(ms, S_XA_GET, ARGS(AI(x.a.ino), AB(op->name, nlen)), &any);
	if (rc < 0) {
		return rc;
	}
	if (op->type == MOP_REMOVEXATTR) {
		if (rc == 0) {
			return -ENODATA;
		}
		rc = run(ms, S_XA_DEL, ARGS(AI(x.a.ino), AB(op->name, nlen)));
	} else {
		if (f == (META_F_XATTR_CREATE | META_F_XATTR_REPLACE)) {
			return -EINVAL;
		}
		if (op->data_len > META_XATTR_VALUE_MAX || (op->data == NULL && op->data_len)) {
			return -E2BIG;
		}
		if (rc == 1 && f == META_F_XATTR_CREATE) {
			return -EEXIST;
		}
		if (rc == 0 && f == META_F_XATTR_REPLACE) {
			return -ENODATA;
		}
		rc = run(ms, S_XA_PUT, ARGS(AI(x.a.ino), AB(op->name, nlen),
					    AB(op->data, op->data_len)));
	}
	if (rc == 0) {
		rc = run(ms, S_INO_CTIME, ARGS(AI(x.a.ino), AI(op->now_ns)));
	}
	return rc < 0 ? rc : attr_of(ms, x.a.ino, &res->attr);
}

/* Checks the content of a WRITE or PUT for a file of the given new size
 * before anything changes. */
static int content_check(struct mstore *ms, const struct meta_op *op, uint64_t size)
{
	int64_t cs;
	int rc;

	if (op->flags & META_F_INLINE) {
		if (op->n_ext != 0 || (op->data == NULL && op->data_len != 0)) {
			return -EINVAL;
		}
		if (op->data_len > META_XATTR_VALUE_MAX) {
			return -EFBIG;
		}
		return op->data_len > size ? -EINVAL : 0;
	}
	if (op->n_ext == 0) {
		return 0;
	}
	rc = meta_get(ms, K_CHUNK, &cs);
	if (rc < 0) {
		return rc;
	}
	if (cs <= 0 || op->ext == NULL || op->n_ext > META_EXTENTS_MAX) {
		return -EINVAL;
	}
	for (size_t i = 0; i < op->n_ext; i++) {
		const struct meta_extent *e = &op->ext[i];

		if (e->blk.k < 1 || e->blk.k > EC_MAX_K || e->blk.m > EC_MAX_M ||
		    e->blk.len == 0 || e->blk.len > MSG_BLOCK_MAX || e->len > e->blk.len ||
		    e->len > (uint64_t)cs || e->len > size ||
		    e->chunk > (size - e->len) / (uint64_t)cs) {
			return -EINVAL;
		}
	}
	return 0;
}

/* Gives file x the op's content and size (after content_check):
 * WRITE semantics, or PUT's (every old extent goes) when replace. */
static int content_set(struct mstore *ms, const struct meta_op *op, struct inode *x,
		       uint64_t size, bool replace)
{
	bool inl = op->flags & META_F_INLINE;
	int rc = 0;

	if (replace || inl) {
		rc = ext_drop(ms, x->a.ino, 0);
	} else if (size < x->a.size) {
		rc = ext_trim(ms, x->a.ino, size);
	}
	if (rc == 0 && inl) {
		rc = inline_set(ms, x->a.ino, op->data, op->data_len);
	} else if (rc == 0) {
		for (size_t i = 0; i < op->n_ext && rc == 0; i++) {
			rc = ext_set(ms, x->a.ino, &op->ext[i]);
		}
		if (rc == 0 && x->inl_len != 0) {
			rc = inline_set(ms, x->a.ino, NULL, 0);
		}
	}
	x->a.size = size;
	x->a.gen++;
	/* mtime may be the writer's (the time of its last write); ctime is
	 * always the shard's: it records when the change became visible. */
	x->a.mtime_ns = op->mtime_ns ? op->mtime_ns : op->now_ns;
	x->a.ctime_ns = op->now_ns;
	if (rc == 0) {
		rc = ino_write(ms, S_INO_UPD, x);
	}
	return rc;
}

static int check_regular(const struct inode *x)
{
	if (S_ISDIR(x->a.mode)) {
		return -EISDIR;
	}
	return S_ISREG(x->a.mode) ? 0 : -EINVAL;
}

static int do_write(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	struct inode x;
	uint64_t size;
	int rc = ino_get(ms, op->ino, &x);

	if (rc <= 0) {
		return rc < 0 ? rc : -ENOENT;
	}
	rc = check_regular(&x);
	if (rc < 0) {
		return rc;
	}
	if (op->size > INT64_MAX) {
		return -EFBIG;
	}
	size = (op->flags & META_F_TRUNCATE) || op->size > x.a.size ? op->size : x.a.size;
	rc = content_check(ms, op, size);
	if (rc == 0) {
		rc = content_set(ms, op, &x, size, false);
	}
	return rc < 0 ? rc : attr_of(ms, x.a.ino, &res->attr);
}

static int do_put(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	char name[META_NAME_MAX + 1];
	uint32_t type = op->mode & S_IFMT;
	size_t pos = 0, len = strlen(op->name);
	uint64_t next = op->new_ino, ino;
	struct inode dir, x;
	int more, rc;

	if (type != 0 && type != S_IFREG) {
		return -EINVAL;
	}
	if (op->size > INT64_MAX) {
		return -EFBIG;
	}
	rc = content_check(ms, op, op->size);
	if (rc == 0) {
		rc = dir_get(ms, META_ROOT_INO, &dir);
	}
	if (rc < 0) {
		return rc;
	}
	do {
		more = next_comp(op->name, len, &pos, name);
		if (more < 0) {
			return more;
		}
		rc = de_get(ms, dir.a.ino, name, &ino);
		if (rc == 1) {
			rc = ino_get(ms, ino, &x);
			rc = rc == 0 ? -EIO : rc;
		} else if (rc == 0) {
			/* Missing: a parent directory, or the file itself. */
			rc = ino_claim(ms, next);
			if (rc == 0) {
				new_inode(&x, op, next++,
					  more ? S_IFDIR | 0755 : S_IFREG | (op->mode & 07777),
					  dir.a.ino);
				rc = make_entry(ms, op, &x, dir.a.ino, name);
			}
			if (rc == 0 && !more) {
				/* Fresh: setting its content is not a change
				 * of earlier data, so gen stays 1. */
				x.a.gen = 0;
				rc = content_set(ms, op, &x, op->size, true);
				return rc < 0 ? rc : attr_of(ms, x.a.ino, &res->attr);
			}
		}
		if (rc < 0) {
			return rc;
		}
		if (more && !S_ISDIR(x.a.mode)) {
			return -ENOTDIR;
		}
		dir = x;
	} while (more);
	rc = check_regular(&x);
	if (rc == 0 && (op->flags & META_F_EXCL)) {
		rc = -EEXIST;
	}
	if (rc == 0) {
		rc = content_set(ms, op, &x, op->size, true);
	}
	return rc < 0 ? rc : attr_of(ms, x.a.ino, &res->attr);
}

static int do_forget(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	struct inode x;
	int rc = ino_get(ms, op->ino, &x);

	if (rc <= 0 || x.a.nlink != 0 || S_ISDIR(x.a.mode)) {
		return rc < 0 ? rc : 0;
	}
	res->attr = x.a;
	res->freed_ino = x.a.ino;
	return ino_delete(ms, x.a.ino);
}

static int do_gc_done(struct mstore *ms, const struct meta_op *op)
{
	int rc = 0;

	if (op->n_ext != 0 && op->ext == NULL) {
		return -EINVAL;
	}
	for (size_t i = 0; i < op->n_ext && rc == 0; i++) {
		rc = run(ms, S_GC_DEL, ARGS(AB(op->ext[i].blk.id, BLOCK_ID_LEN)));
	}
	return rc;
}

static int do_bucket_create(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	uint32_t type = op->mode & S_IFMT;
	size_t nlen = strlen(op->name);
	struct inode root;
	int64_t v;
	int rc;

	if (op->chunk_size == 0 || op->chunk_size > MSG_BLOCK_MAX ||
	    op->inline_max > META_XATTR_VALUE_MAX) {
		return -EINVAL;
	}
	if (nlen != 0) {
		/* The catalog. */
		if (nlen >= MSG_NAME_MAX) {
			return -ENAMETOOLONG;
		}
		rc = get_int(ms, S_BK_GET, ARGS(AB(op->name, nlen)), &v);
		if (rc != 0) {
			return rc < 0 ? rc : -EEXIST;
		}
		return run(ms, S_BK_INS, ARGS(AB(op->name, nlen), AI(op->chunk_size),
					      AI(op->inline_max), AI(op->now_ns)));
	}
	if (type != 0 && type != S_IFDIR) {
		return -EINVAL;
	}
	rc = ino_get(ms, META_ROOT_INO, &root);
	if (rc != 0) {
		res->attr = root.a;
		return rc < 0 ? rc : 0;
	}
	new_inode(&root, op, META_ROOT_INO, S_IFDIR | (op->mode & 07777), META_ROOT_INO);
	rc = ino_write(ms, S_INO_INS, &root);
	if (rc == 0) {
		rc = meta_set(ms, K_CHUNK, op->chunk_size);
	}
	if (rc == 0) {
		rc = meta_set(ms, K_INLINE, op->inline_max);
	}
	if (rc == 0) {
		rc = meta_get(ms, K_NEXT_INO, &v);
	}
	if (rc == 0 && v < 2) {
		rc = meta_set(ms, K_NEXT_INO, 2);
	}
	return rc < 0 ? rc : attr_of(ms, META_ROOT_INO, &res->attr);
}

static int do_bucket_delete(struct mstore *ms, const struct meta_op *op)
{
	size_t nlen = strlen(op->name);
	struct inode root;
	int64_t any;
	int rc;

	if (nlen != 0) {
		rc = get_int(ms, S_BK_GET, ARGS(AB(op->name, nlen)), &any);
		if (rc <= 0) {
			return rc < 0 ? rc : -ENOENT;
		}
		return run(ms, S_BK_DEL, ARGS(AB(op->name, nlen)));
	}
	rc = ino_get(ms, META_ROOT_INO, &root);
	if (rc <= 0) {
		return rc;
	}
	if (!(op->flags & META_F_FORCE)) {
		rc = get_int(ms, S_DE_ANY, ARGS(AI(META_ROOT_INO)), &any);
		if (rc != 0) {
			return rc < 0 ? rc : -ENOTEMPTY;
		}
	}
	rc = sqlite3_exec(ms->db,
			  "INSERT OR IGNORE INTO gc(block_id, k, m, len, csum) "
			  "SELECT block_id, k, m, len, csum FROM blocks; DELETE FROM blocks; "
			  "DELETE FROM extents; DELETE FROM dirents; DELETE FROM xattrs; "
			  "DELETE FROM inodes",
			  NULL, NULL, NULL);
	rc = rc == SQLITE_OK ? 0 : db_fail(ms, rc, "bucket delete");
	if (rc == 0) {
		rc = meta_set(ms, K_CHUNK, 0);
	}
	return rc == 0 ? meta_set(ms, K_INLINE, 0) : rc;
}

static int dispatch(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	/* The decoder terminates both; a hand-built record might not. */
	if (!memchr(op->name, '\0', sizeof(op->name)) ||
	    !memchr(op->newname, '\0', sizeof(op->newname))) {
		return -EINVAL;
	}
	switch (op->type) {
	case MOP_CREATE:
		return do_create(ms, op, res);
	case MOP_LINK:
		return do_link(ms, op, res);
	case MOP_UNLINK:
	case MOP_RMDIR:
		return do_remove(ms, op, res);
	case MOP_RENAME:
		return do_rename(ms, op, res);
	case MOP_SETATTR:
		return do_setattr(ms, op, res);
	case MOP_SETXATTR:
	case MOP_REMOVEXATTR:
		return do_xattr(ms, op, res);
	case MOP_WRITE:
		return do_write(ms, op, res);
	case MOP_FORGET:
		return do_forget(ms, op, res);
	case MOP_BUCKET_CREATE:
		return do_bucket_create(ms, op, res);
	case MOP_BUCKET_DELETE:
		return do_bucket_delete(ms, op);
	case MOP_GC_DONE:
		return do_gc_done(ms, op);
	case MOP_PUT:
		return do_put(ms, op, res);
	default:
		return -EINVAL;
	}
}

/* ---- op results ---- */

static int result_get(struct mstore *ms, uint64_t op_id, struct meta_result *res)
{
	sqlite3_stmt *st = bind(ms, S_RES_GET, ARGS(AI(op_id)));
	int rc = first_row(ms, S_RES_GET, st);

	if (rc == 1) {
		struct meta_attr *a = &res->attr;

		res->status = (int32_t)sqlite3_column_int64(st, 0);
		a->ino = (uint64_t)sqlite3_column_int64(st, 1);
		a->mode = (uint32_t)sqlite3_column_int64(st, 2);
		a->nlink = (uint32_t)sqlite3_column_int64(st, 3);
		a->uid = (uint32_t)sqlite3_column_int64(st, 4);
		a->gid = (uint32_t)sqlite3_column_int64(st, 5);
		a->rdev = (uint64_t)sqlite3_column_int64(st, 6);
		a->size = (uint64_t)sqlite3_column_int64(st, 7);
		a->blocks = (uint64_t)sqlite3_column_int64(st, 8);
		a->atime_ns = sqlite3_column_int64(st, 9);
		a->mtime_ns = sqlite3_column_int64(st, 10);
		a->ctime_ns = sqlite3_column_int64(st, 11);
		a->gen = (uint64_t)sqlite3_column_int64(st, 12);
		res->freed_ino = (uint64_t)sqlite3_column_int64(st, 13);
		stmt_done(st);
	}
	return rc;
}

/* Remembers res under op_id, forgetting the oldest beyond the window. */
static int result_put(struct mstore *ms, uint64_t op_id, const struct meta_result *res)
{
	const struct meta_attr *a = &res->attr;
	int64_t seq;
	int rc = meta_get(ms, K_RES_SEQ, &seq);

	if (rc == 0) {
		rc = meta_set(ms, K_RES_SEQ, ++seq);
	}
	if (rc == 0) {
		rc = run(ms, S_RES_PUT,
			 ARGS(AI(op_id), AI(seq), AI(res->status), AI(a->ino), AI(a->mode),
			      AI(a->nlink), AI(a->uid), AI(a->gid), AI(a->rdev), AI(a->size),
			      AI(a->blocks), AI(a->atime_ns), AI(a->mtime_ns), AI(a->ctime_ns),
			      AI(a->gen), AI(res->freed_ino)));
	}
	if (rc == 0 && seq > MS_RESULTS_KEPT) {
		rc = run(ms, S_RES_TRIM, ARGS(AI(seq - MS_RESULTS_KEPT)));
	}
	return rc;
}

/* The body of ms_apply inside its transaction. */
static void apply_locked(struct mstore *ms, const struct meta_op *op, uint64_t index,
			 struct meta_result *res)
{
	int64_t applied;
	int status;

	if (meta_get(ms, K_APPLIED, &applied) < 0) {
		return;
	}
	if (index != 0 && index <= (uint64_t)applied) {
		if (op->op_id != 0) {
			result_get(ms, op->op_id, res);
		}
		return;
	}
	if (index == 0) {
		index = (uint64_t)applied + 1;
	}
	if (op->op_id == 0 || result_get(ms, op->op_id, res) == 0) {
		if (run(ms, S_SAVEPOINT, NOARGS) < 0) {
			return;
		}
		status = dispatch(ms, op, res);
		if (ms->dberr != 0) {
			return;
		}
		if (status < 0) {
			/* Undo whatever the op did before it failed. */
			memset(res, 0, sizeof(*res));
			res->status = status;
			run(ms, S_UNDO, NOARGS);
		}
		run(ms, S_RELEASE, NOARGS);
		if (ms->dberr == 0 && op->op_id != 0) {
			result_put(ms, op->op_id, res);
		}
	}
	if (ms->dberr == 0) {
		meta_set(ms, K_APPLIED, (int64_t)index);
	}
}

int ms_apply(struct mstore *ms, const struct meta_op *op, uint64_t index, struct meta_result *res)
{
	int rc;

	memset(res, 0, sizeof(*res));
	if (index > INT64_MAX) {
		return -EINVAL;
	}
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	if (run(ms, S_BEGIN, NOARGS) == 0) {
		apply_locked(ms, op, index, res);
		if (ms->dberr == 0) {
			run(ms, S_COMMIT, NOARGS);
		}
		if (ms->dberr != 0) {
			/* Nothing of this record may remain. */
			run(ms, S_ROLLBACK, NOARGS);
		}
	}
	rc = ms->dberr;
	if (rc != 0) {
		memset(res, 0, sizeof(*res));
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

/* ---- queries ---- */

static uint64_t meta_value(struct mstore *ms, const char *key)
{
	int64_t v = 0;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	meta_get(ms, key, &v);
	pthread_mutex_unlock(&ms->lock);
	return (uint64_t)v;
}

uint64_t ms_applied_index(struct mstore *ms)
{
	return meta_value(ms, K_APPLIED);
}

uint64_t ms_next_ino(struct mstore *ms)
{
	uint64_t v = meta_value(ms, K_NEXT_INO);

	return v < 2 ? 2 : v;
}

int ms_lookup(struct mstore *ms, uint64_t parent, const char *name, struct meta_attr *out)
{
	struct inode dir, x;
	uint64_t ino = 0;
	int rc;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = dir_get(ms, parent, &dir);
	if (rc == 0 && strcmp(name, ".") == 0) {
		x = dir;
	} else if (rc == 0 && strcmp(name, "..") == 0) {
		rc = ino_get(ms, dir.parent, &x);
		rc = rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
	} else if (rc == 0) {
		rc = meta_check_name(name);
		if (rc == 0) {
			rc = de_get(ms, parent, name, &ino);
		}
		if (rc == 1) {
			rc = ino_get(ms, ino, &x);
		}
		rc = rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
	}
	if (rc == 0) {
		*out = x.a;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int ms_getattr(struct mstore *ms, uint64_t ino, struct meta_attr *out)
{
	struct inode x;
	int rc;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = ino_get(ms, ino, &x);
	if (rc == 1) {
		*out = x.a;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
}

int ms_resolve(struct mstore *ms, const char *path, struct meta_attr *out)
{
	struct inode x;
	int rc;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = walk(ms, path, strlen(path), &x, NULL);
	if (rc == 0) {
		*out = x.a;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int ms_readdir(struct mstore *ms, uint64_t dir, const char *after, struct ms_dirent *out,
	       size_t max, int *more)
{
	sqlite3_stmt *st;
	struct inode x;
	size_t n = 0;
	int rc;

	*more = 0;
	if (max >= INT_MAX) {
		return -EINVAL;
	}
	after = after ? after : "";
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = dir_get(ms, dir, &x);
	st = rc == 0 ? bind(ms, S_DE_LIST, ARGS(AI(dir), AS(after), AI(max + 1))) : NULL;
	while (st != NULL) {
		size_t len;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? (int)n : db_fail(ms, rc, "readdir");
			break;
		}
		if (n == max) {
			*more = 1;
			rc = (int)n;
			break;
		}
		len = (size_t)sqlite3_column_bytes(st, INO_NCOLS);
		if (len == 0 || len > META_NAME_MAX) {
			log_error("ms.corrupt", "readdir %llu: name of %zu bytes",
				  (unsigned long long)dir, len);
			rc = -EIO;
			break;
		}
		memcpy(out[n].name, sqlite3_column_blob(st, INO_NCOLS), len);
		out[n].name[len] = '\0';
		row_inode(st, 0, &x);
		out[n].attr = x.a;
		n++;
	}
	if (st != NULL) {
		stmt_done(st);
	} else if (rc == 0) {
		rc = ms->dberr;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int ms_readlink(struct mstore *ms, uint64_t ino, char *buf, size_t cap)
{
	sqlite3_stmt *st;
	struct inode x;
	int rc;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = ino_get(ms, ino, &x);
	rc = rc < 0 ? rc : rc == 0 ? -ENOENT : S_ISLNK(x.a.mode) ? 0 : -EINVAL;
	if (rc == 0) {
		st = bind(ms, S_TGT_GET, ARGS(AI(ino)));
		rc = first_row(ms, S_TGT_GET, st);
		if (rc == 1) {
			size_t len = (size_t)sqlite3_column_bytes(st, 0);

			if (len >= cap) {
				rc = -ERANGE;
			} else {
				if (len != 0) {
					memcpy(buf, sqlite3_column_blob(st, 0), len);
				}
				buf[len] = '\0';
				rc = (int)len;
			}
			stmt_done(st);
		} else if (rc == 0) {
			rc = -EIO;
		}
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int ms_getxattr(struct mstore *ms, uint64_t ino, const char *name, uint8_t **val, size_t *len)
{
	sqlite3_stmt *st;
	struct inode x;
	int rc;

	*val = NULL;
	*len = 0;
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = ino_get(ms, ino, &x);
	rc = rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
	if (rc == 0) {
		st = bind(ms, S_XA_GET, ARGS(AI(ino), AS(name)));
		rc = first_row(ms, S_XA_GET, st);
		if (rc == 1) {
			size_t n = (size_t)sqlite3_column_bytes(st, 0);

			*val = malloc(n ? n : 1);
			rc = *val == NULL ? -ENOMEM : 0;
			if (rc == 0 && n != 0) {
				memcpy(*val, sqlite3_column_blob(st, 0), n);
			}
			*len = rc == 0 ? n : 0;
			stmt_done(st);
		} else if (rc == 0) {
			rc = -ENODATA;
		}
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int ms_listxattr(struct mstore *ms, uint64_t ino, char **names, size_t *len)
{
	sqlite3_stmt *st = NULL;
	struct inode x;
	char *buf = NULL;
	size_t used = 0;
	int rc;

	*names = NULL;
	*len = 0;
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = ino_get(ms, ino, &x);
	rc = rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
	if (rc == 0) {
		st = bind(ms, S_XA_LIST, ARGS(AI(ino)));
		rc = st == NULL ? ms->dberr : 0;
	}
	while (st != NULL && rc == 0) {
		size_t n;
		char *nb;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : db_fail(ms, rc, "listxattr");
			break;
		}
		n = (size_t)sqlite3_column_bytes(st, 0);
		nb = realloc(buf, used + n + 1);
		if (nb == NULL) {
			rc = -ENOMEM;
			break;
		}
		buf = nb;
		if (n != 0) {
			memcpy(buf + used, sqlite3_column_blob(st, 0), n);
		}
		buf[used + n] = '\0';
		used += n + 1;
		rc = 0;
	}
	if (st != NULL) {
		stmt_done(st);
	}
	pthread_mutex_unlock(&ms->lock);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*names = buf;
	*len = used;
	return 0;
}

int ms_extents(struct mstore *ms, uint64_t ino, uint64_t first, struct meta_extent *out,
	       size_t max, int *more, struct meta_attr *attr, uint8_t **inl, size_t *inl_len)
{
	sqlite3_stmt *st = NULL;
	struct inode x;
	size_t n = 0;
	int rc;

	*more = 0;
	if (inl != NULL) {
		*inl = NULL;
		*inl_len = 0;
	}
	if (max >= INT_MAX || first > INT64_MAX) {
		return -EINVAL;
	}
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = ino_get(ms, ino, &x);
	rc = rc < 0 ? rc : rc == 0 ? -ENOENT : 0;
	if (rc == 0) {
		if (attr != NULL) {
			*attr = x.a;
		}
		st = bind(ms, S_EXT_LIST, ARGS(AI(ino), AI(first), AI(max + 1)));
		rc = st == NULL ? ms->dberr : 0;
	}
	while (st != NULL) {
		struct meta_extent *e;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : db_fail(ms, rc, "extents");
			break;
		}
		if (n == max) {
			*more = 1;
			rc = 0;
			break;
		}
		e = &out[n];
		memset(e, 0, sizeof(*e));
		e->chunk = (uint64_t)sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == BLOCK_ID_LEN) {
			memcpy(e->blk.id, sqlite3_column_blob(st, 1), BLOCK_ID_LEN);
		}
		e->len = (uint32_t)sqlite3_column_int64(st, 2);
		e->blk.k = (uint8_t)sqlite3_column_int64(st, 3);
		e->blk.m = (uint8_t)sqlite3_column_int64(st, 4);
		e->blk.len = (uint32_t)sqlite3_column_int64(st, 5);
		e->blk.csum = (uint64_t)sqlite3_column_int64(st, 6);
		n++;
	}
	if (st != NULL) {
		stmt_done(st);
	}
	if (rc == 0 && inl != NULL && x.inl_len != 0) {
		rc = inline_get(ms, ino, 0, inl, inl_len);
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : (int)n;
}

int ms_statfs(struct mstore *ms, struct ms_stat *st_out)
{
	sqlite3_stmt *st;
	int64_t v;
	int rc;

	memset(st_out, 0, sizeof(*st_out));
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	st = bind(ms, S_STAT, NOARGS);
	rc = first_row(ms, S_STAT, st);
	if (rc == 1) {
		st_out->files = (uint64_t)sqlite3_column_int64(st, 0);
		st_out->bytes = ((uint64_t)sqlite3_column_int64(st, 1) << 32) +
				(uint64_t)sqlite3_column_int64(st, 2);
		stmt_done(st);
		rc = meta_get(ms, K_CHUNK, &v);
		st_out->chunk_size = (uint32_t)v;
	}
	if (rc == 0) {
		rc = meta_get(ms, K_INLINE, &v);
		st_out->inline_max = (uint32_t)v;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

/* ---- S3 listing ----
 * A depth-first walk over the skey index (invariant 4): visiting each
 * directory's entries in skey order yields full paths in bytewise order.
 * The stack is first positioned along `after` (one seek per level), so a
 * resumed listing never reads what sorts before it.
 * ms_list and ms_buckets call fn with ms->lock held, so fn must not call
 * back into the store; a non-zero return from fn ends the listing (a
 * negative one is returned as the error, a positive one returns the count
 * so far). */

struct lframe {
	uint64_t dir;
	size_t path_len;          /* the directory's path incl. its '/' */
	uint8_t cur[SKEY_MAX];    /* resume position among its entries */
	size_t cur_len;
	bool incl;                /* cur itself is still to be visited */
};

struct lister {
	struct lframe *f;
	size_t depth, cap;
	char path[WIRE_STR_MAX + SKEY_MAX + 1];
};

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c != 0 ? c : (an > bn) - (an < bn);
}

static bool has_prefix(const void *s, size_t n, const void *p, size_t pn)
{
	return n >= pn && memcmp(s, p, pn) == 0;
}

static int push(struct lister *l, uint64_t dir, size_t path_len)
{
	struct lframe *f;

	if (l->depth == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;

		f = realloc(l->f, cap * sizeof(*f));
		if (f == NULL) {
			return -ENOMEM;
		}
		l->f = f;
		l->cap = cap;
	}
	f = &l->f[l->depth++];
	f->dir = dir;
	f->path_len = path_len;
	f->cur_len = 0;
	f->incl = true;
	return 0;
}

struct lentry {
	uint8_t skey[SKEY_MAX];
	size_t len;
	uint64_t ino;
	uint32_t mode;
	uint64_t size;
	int64_t mtime;
};

/* The next entry of frame f after its position: 1, 0 (none) or error. */
static int next_entry(struct mstore *ms, struct lframe *f, struct lentry *e)
{
	enum ms_stmt id = f->incl ? S_DE_NEXT_GE : S_DE_NEXT_GT;
	sqlite3_stmt *st = bind(ms, id, ARGS(AI(f->dir), AB(f->cur, f->cur_len)));
	int rc = first_row(ms, id, st);

	if (rc != 1) {
		return rc;
	}
	e->len = (size_t)sqlite3_column_bytes(st, 0);
	if (e->len == 0 || e->len > SKEY_MAX) {
		stmt_done(st);
		log_error("ms.corrupt", "directory %llu: sort key of %zu bytes",
			  (unsigned long long)f->dir, e->len);
		return -EIO;
	}
	memcpy(e->skey, sqlite3_column_blob(st, 0), e->len);
	e->ino = (uint64_t)sqlite3_column_int64(st, 1);
	e->mode = (uint32_t)sqlite3_column_int64(st, 2);
	e->size = (uint64_t)sqlite3_column_int64(st, 3);
	e->mtime = sqlite3_column_int64(st, 4);
	stmt_done(st);
	memcpy(f->cur, e->skey, e->len);
	f->cur_len = e->len;
	f->incl = false;
	return 1;
}

/* Positions the stack (one frame: the prefix's directory at dlen, whose
 * entries must start with rest) just after `after`.  Returns 1 when
 * nothing can follow, else 0 or an error. */
static int list_seek(struct mstore *ms, struct lister *l, const char *after, const char *rest,
		     size_t rlen)
{
	size_t alen = strlen(after), dlen = l->f[0].path_len;
	const char *a;

	if (!has_prefix(after, alen, l->path, dlen)) {
		/* `after` sorts wholly before or after this directory. */
		return bytes_cmp(after, alen, l->path, dlen) > 0;
	}
	a = after + dlen;
	alen -= dlen;
	for (;;) {
		struct lframe *f = &l->f[l->depth - 1];
		const char *slash = memchr(a, '/', alen);
		size_t clen = slash ? (size_t)(slash - a) + 1 : alen;
		char name[META_NAME_MAX + 1];
		struct inode x;
		uint64_t ino;
		int rc;

		if (clen == 0) {
			return 0; /* after == this directory's path */
		}
		if (l->depth == 1 && bytes_cmp(a, clen, rest, rlen) < 0) {
			return 0; /* the prefix's own start comes later */
		}
		/* A component longer than any sort key is cut: no key lies
		 * between the cut and the whole, so "after the cut" is
		 * exact. */
		f->cur_len = clen < SKEY_MAX ? clen : SKEY_MAX;
		memcpy(f->cur, a, f->cur_len);
		f->incl = false;
		if (slash == NULL || clen > SKEY_MAX ||
		    (l->depth == 1 && !has_prefix(a, clen, rest, rlen))) {
			return 0;
		}
		memcpy(name, a, clen - 1);
		name[clen - 1] = '\0';
		rc = de_get(ms, f->dir, name, &ino);
		if (rc == 1) {
			rc = ino_get(ms, ino, &x);
		}
		if (rc <= 0 || !S_ISDIR(x.a.mode) || f->path_len + clen > WIRE_STR_MAX) {
			return rc < 0 ? rc : 0;
		}
		memcpy(l->path + f->path_len, a, clen);
		rc = push(l, ino, f->path_len + clen);
		if (rc < 0) {
			return rc;
		}
		a += clen;
		alen -= clen;
	}
}

static int list_locked(struct mstore *ms, struct lister *l, const char *prefix, const char *after,
		       size_t max, ms_list_fn fn, void *arg, int *more)
{
	size_t plen = strlen(prefix), dlen, rlen;
	const char *slash = strrchr(prefix, '/');
	const char *rest;
	struct inode x;
	size_t n = 0;
	int rc;

	dlen = slash ? (size_t)(slash - prefix) + 1 : 0;
	rest = prefix + dlen;
	rlen = plen - dlen;
	if (dlen > WIRE_STR_MAX || dlen == 1) {
		return 0; /* too long, or "/...": no key can start so */
	}
	rc = ino_get(ms, META_ROOT_INO, &x);
	if (rc <= 0) {
		return rc < 0 ? rc : -ENOENT;
	}
	rc = walk(ms, prefix, dlen ? dlen - 1 : 0, &x, NULL);
	if (rc == -ENOENT || rc == -ENOTDIR || rc == -EINVAL || rc == -ENAMETOOLONG ||
	    (rc == 0 && !S_ISDIR(x.a.mode))) {
		return 0; /* no such directory: nothing has this prefix */
	}
	memcpy(l->path, prefix, dlen);
	rc = rc < 0 ? rc : push(l, x.a.ino, dlen);
	if (rc == 0 && rlen != 0) {
		size_t c = rlen < SKEY_MAX ? rlen : SKEY_MAX;

		memcpy(l->f[0].cur, rest, c);
		l->f[0].cur_len = c;
	}
	if (rc == 0) {
		rc = list_seek(ms, l, after, rest, rlen);
		if (rc == 1) {
			return 0;
		}
	}
	while (rc == 0 && l->depth > 0) {
		struct lframe *f = &l->f[l->depth - 1];
		struct lentry e = { .len = 0 };
		size_t len;

		rc = next_entry(ms, f, &e);
		if (rc <= 0) {
			l->depth -= rc == 0;
			continue;
		}
		rc = 0;
		if (l->depth == 1 && !has_prefix(e.skey, e.len, rest, rlen)) {
			break;
		}
		len = f->path_len + e.len;
		if (len > WIRE_STR_MAX) {
			continue; /* no object key can name it, or anything below */
		}
		memcpy(l->path + f->path_len, e.skey, e.len);
		if (e.skey[e.len - 1] == '/' && S_ISDIR(e.mode)) {
			rc = push(l, e.ino, len);
		} else if (S_ISREG(e.mode)) {
			if (n == max) {
				*more = 1;
				break;
			}
			l->path[len] = '\0';
			rc = fn(arg, l->path, e.size, e.mtime);
			n++;
		}
	}
	return rc < 0 ? rc : (int)n;
}

int ms_list(struct mstore *ms, const char *prefix, const char *after, size_t max, ms_list_fn fn,
	    void *arg, int *more)
{
	struct lister *l;
	int rc;

	*more = 0;
	if (max >= INT_MAX) {
		return -EINVAL;
	}
	prefix = prefix ? prefix : "";
	after = after ? after : "";
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		return -ENOMEM;
	}
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = list_locked(ms, l, prefix, after, max, fn, arg, more);
	pthread_mutex_unlock(&ms->lock);
	free(l->f);
	free(l);
	return rc;
}

int ms_buckets(struct mstore *ms, ms_list_fn fn, void *arg)
{
	char name[MSG_NAME_MAX];
	sqlite3_stmt *st;
	int rc = 0, n = 0;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	st = bind(ms, S_BK_LIST, NOARGS);
	while (st != NULL && rc == 0) {
		size_t len;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : db_fail(ms, rc, "buckets");
			break;
		}
		len = (size_t)sqlite3_column_bytes(st, 0);
		if (len == 0 || len >= sizeof(name)) {
			log_error("ms.corrupt", "bucket name of %zu bytes", len);
			rc = -EIO;
			break;
		}
		memcpy(name, sqlite3_column_blob(st, 0), len);
		name[len] = '\0';
		rc = fn(arg, name, (uint64_t)sqlite3_column_int64(st, 1),
			sqlite3_column_int64(st, 2));
		n++;
	}
	if (st != NULL) {
		stmt_done(st);
	} else {
		rc = ms->dberr;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : n;
}

int ms_gc_pending(struct mstore *ms, struct manifest_block *out, size_t max)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int rc = 0;

	if (max >= INT_MAX) {
		return -EINVAL;
	}
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	st = bind(ms, S_GC_LIST, ARGS(AI(max)));
	while (st != NULL) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : db_fail(ms, rc, "gc list");
			break;
		}
		memset(&out[n], 0, sizeof(out[n]));
		if (sqlite3_column_bytes(st, 0) == BLOCK_ID_LEN) {
			memcpy(out[n].id, sqlite3_column_blob(st, 0), BLOCK_ID_LEN);
		}
		out[n].k = (uint8_t)sqlite3_column_int64(st, 1);
		out[n].m = (uint8_t)sqlite3_column_int64(st, 2);
		out[n].len = (uint32_t)sqlite3_column_int64(st, 3);
		out[n].csum = (uint64_t)sqlite3_column_int64(st, 4);
		n++;
	}
	if (st != NULL) {
		stmt_done(st);
	} else {
		rc = ms->dberr;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : (int)n;
}

/* ---- open, close, backup ---- */

static int exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sql_err(db, rc, sql);
}

/* Creates the schema if missing and refuses a database of a newer format. */
static int schema(sqlite3 *db)
{
	sqlite3_stmt *st;
	int version = 0, rc;

	rc = exec(db, "BEGIN IMMEDIATE");
	if (rc < 0) {
		return rc;
	}
	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			version = sqlite3_column_int(st, 0);
		}
		sqlite3_finalize(st);
		rc = 0;
	} else {
		rc = sql_err(db, rc, "user_version");
	}
	if (rc == 0 && version > MS_SCHEMA_VERSION) {
		log_error("ms.sqlite", "database format %d is newer than %d", version,
			  MS_SCHEMA_VERSION);
		rc = -EIO;
	}
	if (rc == 0) {
		rc = exec(db, ms_schema);
	}
	if (rc == 0 && version == 0) {
		char sql[64];

		snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", MS_SCHEMA_VERSION);
		rc = exec(db, sql);
	}
	if (rc == 0) {
		rc = exec(db, "COMMIT");
	}
	if (rc < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	return rc;
}

/* WAL lets readers of a second connection run beside the writer; FULL
 * syncs every commit, NORMAL leaves durability to the replicated log. */
static int configure(sqlite3 *db, int sync_full)
{
	sqlite3_stmt *st;
	bool wal = false;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		return sql_err(db, rc, "journal_mode");
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *mode = sqlite3_column_text(st, 0);

		wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		return sql_err(db, rc, "journal_mode");
	}
	if (!wal) {
		log_error("ms.sqlite", "journal_mode=WAL refused");
		return -EIO;
	}
	rc = exec(db, sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
	if (rc == 0 && sqlite3_busy_timeout(db, MS_BUSY_TIMEOUT_MS) != SQLITE_OK) {
		rc = -EIO;
	}
	return rc == 0 ? schema(db) : rc;
}

void ms_close(struct mstore *ms)
{
	if (ms == NULL) {
		return;
	}
	for (int i = 0; i < S_NSTMT; i++) {
		sqlite3_finalize(ms->stmt[i]);
	}
	sqlite3_close(ms->db);
	pthread_mutex_destroy(&ms->lock);
	free(ms);
}

int ms_open(const char *path, int sync_full, struct mstore **out)
{
	struct mstore *ms;
	int rc;

	*out = NULL;
	ms = calloc(1, sizeof(*ms));
	if (ms == NULL) {
		return -ENOMEM;
	}
	pthread_mutex_init(&ms->lock, NULL);
	/* NOMUTEX: ms->lock already serialises every use of the connection. */
	rc = sqlite3_open_v2(path, &ms->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int err = sql_err(ms->db, rc, path);

		rc = (rc & 0xff) == SQLITE_CANTOPEN ? -ENOENT : err;
		goto fail;
	}
	rc = configure(ms->db, sync_full);
	for (int i = 0; i < S_NSTMT && rc == 0; i++) {
		int src = sqlite3_prepare_v3(ms->db, ms_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					     &ms->stmt[i], NULL);

		if (src != SQLITE_OK) {
			rc = sql_err(ms->db, src, ms_sql[i]);
		}
	}
	if (rc < 0) {
		goto fail;
	}
	*out = ms;
	return 0;
fail:
	ms_close(ms);
	return rc;
}

/* Copies database `from` into `to` with the online backup API. */
static int copy_db(sqlite3 *to, sqlite3 *from, const char *what)
{
	sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
	int rc, frc;

	if (b == NULL) {
		return sql_err(to, sqlite3_errcode(to), what);
	}
	rc = sqlite3_backup_step(b, -1);
	frc = sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		return sql_err(to, rc, what);
	}
	return frc == SQLITE_OK ? 0 : sql_err(to, frc, what);
}

int ms_backup(struct mstore *ms, const char *path)
{
	sqlite3 *dst = NULL;
	char *tmp;
	int rc;

	/* Written beside the target and renamed: a crash never leaves a
	 * half copy under the final name. */
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		return -ENOMEM;
	}
	unlink(tmp);
	pthread_mutex_lock(&ms->lock);
	rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		rc = (rc & 0xff) == SQLITE_CANTOPEN ? -ENOENT : sql_err(dst, rc, tmp);
	} else {
		rc = copy_db(dst, ms->db, "backup");
	}
	/* The copy's header says WAL like its source; a plain rollback
	 * journal lets it be opened read-only without a -shm file. */
	if (rc == 0) {
		rc = exec(dst, "PRAGMA journal_mode=DELETE");
	}
	pthread_mutex_unlock(&ms->lock);
	if (sqlite3_close(dst) != SQLITE_OK && rc == 0) {
		rc = -EIO;
	}
	if (rc == 0 && rename(tmp, path) < 0) {
		rc = -errno;
	}
	if (rc < 0) {
		unlink(tmp);
	}
	free(tmp);
	return rc;
}

int ms_restore(struct mstore *ms, const char *path)
{
	sqlite3 *src = NULL;
	struct stat sb;
	int rc;

	if (stat(path, &sb) < 0) {
		return -errno;
	}
	rc = sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		rc = sql_err(src, rc, path);
		sqlite3_close(src);
		return rc;
	}
	pthread_mutex_lock(&ms->lock);
	rc = copy_db(ms->db, src, "restore");
	if (rc == 0) {
		/* A copy from an older build gets any table it lacks. */
		rc = schema(ms->db);
	}
	pthread_mutex_unlock(&ms->lock);
	sqlite3_close(src);
	return rc;
}
