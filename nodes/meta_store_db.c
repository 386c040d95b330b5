/* meta_store_db.c: the SQLite side of a metadata shard: statements and schema,
 * open/close, backup/restore, and the inode, extent, block, directory-entry and
 * path primitives the op records and queries build on (msi_*: caller holds ms->lock). */
#include "meta_store_i.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/log.h"

/* Rides out a checkpoint by a second connection (sqlite3 CLI while
 * debugging); the node itself uses only this one. */
#define MS_BUSY_TIMEOUT_MS 5000
/* 2: blocks.codec, zlen, cls (compressed blocks, storage classes); a
 * format 1 database gains them with their defaults (raw, class 0). */
#define MS_SCHEMA_VERSION 3

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
    /* The shard's totals, kept by the triggers of ms_schema. */
    [S_STAT] = "SELECT files, bytes_hi, bytes_lo FROM totals WHERE id = 0",
    [S_DE_GET] = "SELECT ino FROM dirents WHERE parent = ?1 AND name = ?2",
    [S_DE_INS] = "INSERT INTO dirents(parent, name, skey, ino, nhash) VALUES(?1, ?2, ?3, ?4, ?5)",
    [S_DE_UPD] = "UPDATE dirents SET skey = ?3, ino = ?4, nhash = ?5 WHERE parent = ?1 AND "
		 "name = ?2",
    [S_DE_DEL] = "DELETE FROM dirents WHERE parent = ?1 AND name = ?2",
    [S_DE_ANY] = "SELECT 1 FROM dirents WHERE parent = ?1 LIMIT 1",
    [S_DE_LIST] = "SELECT " INO_COLS ", d.name FROM dirents d JOIN inodes i ON i.ino = d.ino "
		  "WHERE d.parent = ?1 AND d.name > ?2 ORDER BY d.name LIMIT ?3",
    [S_DE_HLIST] = "SELECT " INO_COLS ", d.name, d.nhash FROM dirents d "
		   "JOIN inodes i ON i.ino = d.ino WHERE d.parent = ?1 AND d.nhash > ?2 "
		   "ORDER BY d.nhash, d.name LIMIT ?3",
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
    [S_EXT_DEL_ONE] = "DELETE FROM extents WHERE ino = ?1 AND chunk = ?2",
    [S_Q_ANY] = "SELECT EXISTS(SELECT 1 FROM quotas)",
    [S_Q_GET] = "SELECT max_bytes, max_inodes, soft_bytes, soft_inodes, used_bytes, used_inodes "
		"FROM quotas WHERE ino = ?1",
    [S_Q_PUT] = "INSERT INTO quotas(ino, max_bytes, max_inodes, soft_bytes, soft_inodes, "
		"used_bytes, used_inodes) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(ino) DO "
		"UPDATE SET max_bytes = excluded.max_bytes, max_inodes = excluded.max_inodes, "
		"soft_bytes = excluded.soft_bytes, soft_inodes = excluded.soft_inodes",
    [S_Q_DEL] = "DELETE FROM quotas WHERE ino = ?1",
    [S_Q_ADD] = "UPDATE quotas SET used_bytes = used_bytes + ?2, used_inodes = used_inodes + ?3 "
		"WHERE ino = ?1",
    [S_Q_LIST] = "SELECT ino FROM quotas WHERE ino > ?1 ORDER BY ino LIMIT ?2",
    /* The entries below a directory, each inode once (UNION drops the
     * second path to a hard link), and their files' bytes; snapshots
     * (inodes from META_SNAP_INO_BASE, 2^62) do not count. */
    [S_Q_COUNT] = "WITH RECURSIVE t(ino) AS (SELECT ino FROM dirents WHERE parent = ?1 "
		  "AND ino < 4611686018427387904 "
		  "UNION SELECT d.ino FROM dirents d JOIN t ON d.parent = t.ino) "
		  "SELECT count(*), coalesce(sum(CASE WHEN (i.mode & 61440) = 32768 "
		  "THEN i.size ELSE 0 END), 0) FROM t JOIN inodes i ON i.ino = t.ino",
    [S_DE_NAME_OF] = "SELECT name FROM dirents WHERE parent = ?1 AND ino = ?2 LIMIT 1",
    /* Snapshots (meta_snap.c): snapmap maps the inodes of a tree to
     * their copies (or lists a tree to drop); empty between records. */
    [S_SN_FILL] = "INSERT INTO snapmap(old, new) WITH RECURSIVE t(ino) AS (SELECT ?1 "
		  "UNION SELECT d.ino FROM dirents d JOIN t ON d.parent = t.ino WHERE d.ino < ?3) "
		  "SELECT ino, ?2 + row_number() OVER (ORDER BY ino) - 1 FROM t",
    [S_SN_FILL_ALL] = "INSERT INTO snapmap(old, new) WITH RECURSIVE t(ino) AS (SELECT ?1 "
		      "UNION SELECT d.ino FROM dirents d JOIN t ON d.parent = t.ino) "
		      "SELECT ino, 0 FROM t",
    [S_SN_NEW_OF] = "SELECT new FROM snapmap WHERE old = ?1",
    [S_SN_COUNT] = "SELECT count(*) FROM snapmap",
    [S_SN_INODES] = "INSERT INTO inodes(ino, mode, nlink, uid, gid, rdev, size, blocks, atime, "
		    "mtime, ctime, gen, parent, orphan, inline_data, target) SELECT m.new, i.mode, "
		    "i.nlink, i.uid, i.gid, i.rdev, i.size, i.blocks, i.atime, i.mtime, i.ctime, "
		    "i.gen, coalesce((SELECT p.new FROM snapmap p WHERE p.old = i.parent AND "
		    "i.ino != ?2), ?1), 0, i.inline_data, i.target FROM snapmap m JOIN inodes i "
		    "ON i.ino = m.old",
    [S_SN_DIRENTS] = "INSERT INTO dirents(parent, name, skey, ino, nhash) SELECT p.new, d.name, "
		     "d.skey, c.new, d.nhash FROM dirents d JOIN snapmap p ON p.old = d.parent "
		     "JOIN snapmap c ON c.old = d.ino",
    [S_SN_EXTENTS] = "INSERT INTO extents(ino, chunk, block_id, len) SELECT m.new, e.chunk, "
		     "e.block_id, e.len FROM extents e JOIN snapmap m ON m.old = e.ino",
    [S_SN_BLKREF] = "UPDATE blocks SET refs = refs + d.n FROM (SELECT e.block_id, count(*) AS n "
		    "FROM extents e JOIN snapmap m ON m.old = e.ino GROUP BY e.block_id) AS d "
		    "WHERE blocks.block_id = d.block_id",
    [S_SN_XATTRS] = "INSERT INTO xattrs(ino, name, value) SELECT m.new, x.name, x.value "
		    "FROM xattrs x JOIN snapmap m ON m.old = x.ino",
    /* Links of the copies: a file keeps only the names copied with it, a
     * directory 2 + its subdirectories. */
    /* The copies are numbered [?1, ?2): directories count their
     * subdirectories (the dirents primary key), the others their links,
     * counted in one pass over the copies' entries -- a count per inode
     * by d.ino had no index and made a snapshot O(entries^2). */
    [S_SN_NLINK] = "UPDATE inodes SET nlink = 2 + (SELECT count(*) FROM dirents d JOIN inodes c "
		   "ON c.ino = d.ino WHERE d.parent = inodes.ino AND (c.mode & 61440) = 16384) "
		   "WHERE ino >= ?1 AND ino < ?2 AND (mode & 61440) = 16384",
    [S_SN_NLINK_F] = "UPDATE inodes SET nlink = c.n FROM (SELECT ino, count(*) AS n FROM dirents "
		     "WHERE parent >= ?1 AND parent < ?2 GROUP BY ino) AS c "
		     "WHERE inodes.ino = c.ino AND (inodes.mode & 61440) != 16384",
    [S_SN_UNREF] = "UPDATE blocks SET refs = refs - d.n FROM (SELECT block_id, count(*) AS n "
		   "FROM extents WHERE ino IN (SELECT old FROM snapmap) GROUP BY block_id) AS d "
		   "WHERE blocks.block_id = d.block_id",
    [S_SN_TO_GC] = "INSERT OR IGNORE INTO gc(block_id, k, m, len, csum) SELECT block_id, k, m, "
		   "len, csum FROM blocks WHERE refs <= 0 AND block_id IN (SELECT block_id FROM "
		   "extents WHERE ino IN (SELECT old FROM snapmap))",
    [S_SN_FREE] = "DELETE FROM blocks WHERE refs <= 0 AND block_id IN (SELECT block_id FROM "
		  "extents WHERE ino IN (SELECT old FROM snapmap))",
    [S_SN_DEL_EXT] = "DELETE FROM extents WHERE ino IN (SELECT old FROM snapmap)",
    [S_SN_DEL_XA] = "DELETE FROM xattrs WHERE ino IN (SELECT old FROM snapmap)",
    [S_SN_DEL_DE] = "DELETE FROM dirents WHERE parent IN (SELECT old FROM snapmap)",
    [S_SN_DEL_INO] = "DELETE FROM inodes WHERE ino IN (SELECT old FROM snapmap)",
    [S_SN_CLEAR] = "DELETE FROM snapmap",
    [S_TR_PUT] = "INSERT INTO trash(ino, parent, name, deleted) VALUES(?1, ?2, ?3, ?4)",
    [S_TR_GET] = "SELECT parent, name, deleted FROM trash WHERE ino = ?1",
    [S_TR_DEL] = "DELETE FROM trash WHERE ino = ?1",
    [S_TR_LIST] = "SELECT t.ino, t.parent, t.name, t.deleted, i.mode, i.size FROM trash t "
		  "JOIN inodes i ON i.ino = t.ino WHERE t.ino > ?1 ORDER BY t.ino LIMIT ?2",
    [S_TR_DUE] = "SELECT ino FROM trash WHERE deleted <= ?1 ORDER BY deleted LIMIT ?2",
    /* A restored inode takes a new number (meta_trash.c). */
    [S_RI_INO] = "UPDATE inodes SET ino = ?2 WHERE ino = ?1",
    [S_RI_EXT] = "UPDATE extents SET ino = ?2 WHERE ino = ?1",
    [S_RI_XA] = "UPDATE xattrs SET ino = ?2 WHERE ino = ?1",
    [S_RI_DE] = "UPDATE dirents SET parent = ?2 WHERE parent = ?1",
    [S_RI_TRASH] = "UPDATE trash SET parent = ?2 WHERE parent = ?1",
    [S_RI_QUOTA] = "UPDATE quotas SET ino = ?2 WHERE ino = ?1",
    [S_EXT_LIST] = "SELECT e.chunk, e.block_id, e.len, b.k, b.m, b.len, b.csum, b.codec, b.zlen, "
		   "b.cls FROM extents e "
		   "JOIN blocks b ON b.block_id = e.block_id WHERE e.ino = ?1 AND e.chunk >= ?2 "
		   "ORDER BY e.chunk LIMIT ?3",
    [S_BLK_REF] = "INSERT INTO blocks(block_id, k, m, len, csum, refs, codec, zlen, cls) "
		  "VALUES(?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?8) ON CONFLICT(block_id) DO UPDATE SET "
		  "refs = refs + 1",
    [S_BLK_UNREF] = "UPDATE blocks SET refs = refs - 1 WHERE block_id = ?1",
    [S_BLK_REFS] = "SELECT refs FROM blocks WHERE block_id = ?1",
    [S_BLK_TO_GC] = "INSERT OR IGNORE INTO gc(block_id, k, m, len, csum) "
		    "SELECT block_id, k, m, len, csum FROM blocks WHERE block_id = ?1",
    [S_BLK_DEL] = "DELETE FROM blocks WHERE block_id = ?1",
    [S_GC_HAS] = "SELECT 1 FROM gc WHERE block_id = ?1",
    [S_GC_DEL] = "DELETE FROM gc WHERE block_id = ?1",
    [S_GC_LIST] = "SELECT block_id, k, m, len, csum FROM gc ORDER BY block_id LIMIT ?1",
    [S_GC_COUNT] = "SELECT count(*) FROM gc",
    [S_BLOCKS_PAGE] =
	"SELECT block_id, k, m, len, csum, refs, cls FROM blocks WHERE block_id > ?1 "
	"UNION ALL SELECT block_id, k, m, len, csum, 0, 0 FROM gc WHERE block_id > ?1 "
	"ORDER BY 1 LIMIT ?2",
    [S_GC_LIST_AFTER] = "SELECT block_id, k, m, len, csum FROM gc WHERE block_id > ?2 "
			"ORDER BY block_id LIMIT ?1",
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
    [S_LK_LIST] = "SELECT session, owner, start, end, type, pid FROM locks "
		  "WHERE ino = ?1 AND kind = ?2",
    [S_LK_DEL_OWNER] = "DELETE FROM locks WHERE ino = ?1 AND kind = ?2 AND session = ?3 "
		       "AND owner = ?4",
    [S_LK_INS] = "INSERT INTO locks(ino, kind, session, owner, start, end, type, pid) "
		 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [S_LK_DEL_SESSION] = "DELETE FROM locks WHERE session = ?1",
    [S_LK_SESSIONS] = "SELECT DISTINCT session FROM locks LIMIT ?1",
};

/* The delete triggers of the totals (ms_schema), by name: dropped and
 * made again around a whole namespace's deletion (msi_wipe). */
#define TOTALS_DEL_INODES                                                                          \
	"CREATE TRIGGER IF NOT EXISTS totals_del AFTER DELETE ON inodes BEGIN "                    \
	"UPDATE totals SET files = files - 1, "                                                    \
	"bytes_hi = bytes_hi - (CASE WHEN OLD.mode & 61440 = 32768 THEN OLD.size >> 32 ELSE 0 "    \
	"END), "                                                                                   \
	"bytes_lo = bytes_lo - (CASE WHEN OLD.mode & 61440 = 32768 THEN OLD.size & 4294967295 "    \
	"ELSE 0 END) WHERE id = 0; END;"
#define TOTALS_DEL_BLOCKS                                                                          \
	"CREATE TRIGGER IF NOT EXISTS totals_blk_del AFTER DELETE ON blocks BEGIN "                \
	"UPDATE totals SET blk_n = blk_n - 1, blk_z = blk_z - (OLD.codec != 0), "                  \
	"blk_bytes = blk_bytes - OLD.len, "                                                        \
	"blk_stored = blk_stored - (CASE WHEN OLD.codec != 0 THEN OLD.zlen ELSE OLD.len END) "     \
	"WHERE id = 0; END;"

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
    "skey BLOB NOT NULL, ino INTEGER NOT NULL, nhash INTEGER NOT NULL DEFAULT 0, "
    "PRIMARY KEY(parent, name)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS dirents_skey ON dirents(parent, skey, ino);"
    "CREATE TABLE IF NOT EXISTS extents(ino INTEGER NOT NULL, chunk INTEGER NOT NULL, "
    "block_id BLOB NOT NULL, len INTEGER NOT NULL, PRIMARY KEY(ino, chunk)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS blocks(block_id BLOB PRIMARY KEY, k INTEGER NOT NULL, "
    "m INTEGER NOT NULL, len INTEGER NOT NULL, csum INTEGER NOT NULL, "
    "refs INTEGER NOT NULL, codec INTEGER NOT NULL DEFAULT 0, zlen INTEGER NOT NULL DEFAULT 0, "
    "cls INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
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
    "inline_max INTEGER NOT NULL, ctime INTEGER NOT NULL) WITHOUT ROWID;"
    /* Locks (meta_store_locks.c); u64 values stored as their int64 bits. */
    "CREATE TABLE IF NOT EXISTS locks(ino INTEGER NOT NULL, kind INTEGER NOT NULL, "
    "session INTEGER NOT NULL, owner INTEGER NOT NULL, start INTEGER NOT NULL, "
    "end INTEGER NOT NULL, type INTEGER NOT NULL, pid INTEGER NOT NULL, "
    "PRIMARY KEY(ino, kind, session, owner, start)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS locks_session ON locks(session);"
    "CREATE TABLE IF NOT EXISTS quotas(ino INTEGER PRIMARY KEY, max_bytes INTEGER NOT NULL, "
    "max_inodes INTEGER NOT NULL, soft_bytes INTEGER NOT NULL, soft_inodes INTEGER NOT NULL, "
    "used_bytes INTEGER NOT NULL, used_inodes INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS snapmap(old INTEGER PRIMARY KEY, new INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS trash(ino INTEGER PRIMARY KEY, parent INTEGER NOT NULL, "
    "name BLOB NOT NULL, deleted INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS trash_deleted ON trash(deleted);"
    /* What statfs answers -- inodes, and the bytes of regular files,
     * summed in two halves (exact, and no int64 overflow below 2^31
     * files) -- and what block stats answer -- blocks, compressed ones,
     * their bytes and stored bytes -- kept in one row by triggers, in
     * the transaction of every change, whatever statement makes it:
     * counting them at each statfs scanned the whole table while holding
     * the store (0.2 s at 300 k inodes, seconds at millions; format 3).
     * REPLACE into inodes or blocks would skip the delete trigger:
     * nothing does it (blocks' upsert only changes refs). */
    "CREATE TABLE IF NOT EXISTS totals(id INTEGER PRIMARY KEY CHECK(id = 0), "
    "files INTEGER NOT NULL, bytes_hi INTEGER NOT NULL, bytes_lo INTEGER NOT NULL, "
    "blk_n INTEGER NOT NULL, blk_z INTEGER NOT NULL, blk_bytes INTEGER NOT NULL, "
    "blk_stored INTEGER NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS totals_ins AFTER INSERT ON inodes BEGIN "
    "UPDATE totals SET files = files + 1, "
    "bytes_hi = bytes_hi + (CASE WHEN NEW.mode & 61440 = 32768 THEN NEW.size >> 32 ELSE 0 END), "
    "bytes_lo = bytes_lo + (CASE WHEN NEW.mode & 61440 = 32768 THEN NEW.size & 4294967295 "
    "ELSE 0 END) WHERE id = 0; END;" TOTALS_DEL_INODES
    "CREATE TRIGGER IF NOT EXISTS totals_upd AFTER UPDATE OF mode, size ON inodes BEGIN "
    "UPDATE totals SET "
    "bytes_hi = bytes_hi - (CASE WHEN OLD.mode & 61440 = 32768 THEN OLD.size >> 32 ELSE 0 END) "
    "+ (CASE WHEN NEW.mode & 61440 = 32768 THEN NEW.size >> 32 ELSE 0 END), "
    "bytes_lo = bytes_lo - (CASE WHEN OLD.mode & 61440 = 32768 THEN OLD.size & 4294967295 "
    "ELSE 0 END) + (CASE WHEN NEW.mode & 61440 = 32768 THEN NEW.size & 4294967295 ELSE 0 END) "
    "WHERE id = 0; END;"
    "CREATE TRIGGER IF NOT EXISTS totals_blk_ins AFTER INSERT ON blocks BEGIN "
    "UPDATE totals SET blk_n = blk_n + 1, blk_z = blk_z + (NEW.codec != 0), "
    "blk_bytes = blk_bytes + NEW.len, "
    "blk_stored = blk_stored + (CASE WHEN NEW.codec != 0 THEN NEW.zlen ELSE NEW.len END) "
    "WHERE id = 0; END;" TOTALS_DEL_BLOCKS
    "CREATE TRIGGER IF NOT EXISTS totals_blk_upd AFTER UPDATE OF codec, len, zlen ON blocks "
    "BEGIN UPDATE totals SET blk_z = blk_z - (OLD.codec != 0) + (NEW.codec != 0), "
    "blk_bytes = blk_bytes - OLD.len + NEW.len, "
    "blk_stored = blk_stored - (CASE WHEN OLD.codec != 0 THEN OLD.zlen ELSE OLD.len END) "
    "+ (CASE WHEN NEW.codec != 0 THEN NEW.zlen ELSE NEW.len END) WHERE id = 0; END;"

    /* The cluster map (meta_nodemap.c); used in the catalog only. */
    "CREATE TABLE IF NOT EXISTS node_map(id INTEGER PRIMARY KEY, state INTEGER NOT NULL, "
    "since INTEGER NOT NULL);"
    /* Client keys (meta_keys.c); used in the catalog only. */
    "CREATE TABLE IF NOT EXISTS keys(id INTEGER PRIMARY KEY, name BLOB NOT NULL UNIQUE, "
    "bucket BLOB NOT NULL, caps INTEGER NOT NULL, secret BLOB NOT NULL, "
    "ctime INTEGER NOT NULL);";

/* ---- SQLite plumbing ---- */

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
int msi_db_fail(struct mstore *ms, int rc, const char *what)
{
	int err = sql_err(ms->db, rc, what);

	if (ms->dberr == 0) {
		ms->dberr = err;
	}
	return err;
}

/* Readies a statement for its next use; bindings point at the caller's
 * buffers (SQLITE_STATIC), so they are cleared before those die. */
void msi_stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

sqlite3_stmt *msi_bind(struct mstore *ms, enum ms_stmt id, const struct arg *a, size_t n)
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
		msi_db_fail(ms, rc, ms_sql[id]);
		msi_stmt_done(st);
		return NULL;
	}
	return st;
}

/* Runs a statement whose rows (if any) are not wanted: 0 or an error. */
int msi_run(struct mstore *ms, enum ms_stmt id, const struct arg *a, size_t n)
{
	sqlite3_stmt *st = msi_bind(ms, id, a, n);
	int rc;

	if (st == NULL) {
		return ms->dberr;
	}
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : msi_db_fail(ms, rc, ms_sql[id]);
	msi_stmt_done(st);
	return rc;
}

/* Steps a bound statement to its first row: 1 (row), 0 (none) or an
 * error (the statement is then already reset). */
int msi_first_row(struct mstore *ms, enum ms_stmt id, sqlite3_stmt *st)
{
	int rc;

	if (st == NULL) {
		return ms->dberr;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		return 1;
	}
	rc = rc == SQLITE_DONE ? 0 : msi_db_fail(ms, rc, ms_sql[id]);
	msi_stmt_done(st);
	return rc;
}

/* The first column of the first row: 1 with *out set, 0 when no row. */
int msi_get_int(struct mstore *ms, enum ms_stmt id, const struct arg *a, size_t n, int64_t *out)
{
	sqlite3_stmt *st = msi_bind(ms, id, a, n);
	int rc = msi_first_row(ms, id, st);

	*out = 0;
	if (rc == 1) {
		*out = sqlite3_column_int64(st, 0);
		msi_stmt_done(st);
	}
	return rc;
}

int msi_meta_get(struct mstore *ms, const char *key, int64_t *v)
{
	int rc = msi_get_int(ms, S_META_GET, ARGS(AS(key)), v);

	return rc < 0 ? rc : 0;
}

int msi_meta_set(struct mstore *ms, const char *key, int64_t v)
{
	return msi_run(ms, S_META_SET, ARGS(AS(key), AI(v)));
}

/* ---- inodes ---- */

static uint64_t units(uint64_t bytes)
{
	return bytes / 512 + (bytes % 512 != 0);
}

void msi_row_inode(sqlite3_stmt *st, int c, struct inode *x)
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

/* 0 with *x filled, -ENOENT when there is no such inode, or an error. */
int msi_ino_get(struct mstore *ms, uint64_t ino, struct inode *x)
{
	sqlite3_stmt *st = msi_bind(ms, S_INO_GET, ARGS(AI(ino)));
	int rc = msi_first_row(ms, S_INO_GET, st);

	if (rc == 1) {
		msi_row_inode(st, 0, x);
		msi_stmt_done(st);
		return 0;
	}
	return rc == 0 ? -ENOENT : rc;
}

/* 0 with *x a directory, -ENOENT, -ENOTDIR or an error. */
int msi_dir_get(struct mstore *ms, uint64_t ino, struct inode *x)
{
	int rc = msi_ino_get(ms, ino, x);

	if (rc < 0) {
		return rc;
	}
	return S_ISDIR(x->a.mode) ? 0 : -ENOTDIR;
}

int msi_ino_write(struct mstore *ms, enum ms_stmt id, const struct inode *x)
{
	const struct meta_attr *a = &x->a;

	return msi_run(ms, id,
		       ARGS(AI(a->ino), AI(a->mode), AI(a->nlink), AI(a->uid), AI(a->gid),
			    AI(a->rdev), AI(a->size), AI(a->atime_ns), AI(a->mtime_ns),
			    AI(a->ctime_ns), AI(a->gen), AI(x->parent), AI(x->orphan)));
}

/* Directory entry count change (subdirectories) and mtime = ctime = now. */
int msi_dir_touch(struct mstore *ms, uint64_t dir, int dnlink, int64_t now)
{
	return msi_run(ms, S_INO_TOUCH, ARGS(AI(dir), AI(dnlink), AI(now)));
}

/* Reads the attributes of ino into *a (zeros if it vanished). */
int msi_attr_of(struct mstore *ms, uint64_t ino, struct meta_attr *a)
{
	struct inode x;
	int rc = msi_ino_get(ms, ino, &x);

	memset(a, 0, sizeof(*a));
	if (rc == 0) {
		*a = x.a;
	}
	return rc == -ENOENT ? 0 : rc;
}

/* Takes inode number ino for a new inode: refuses numbers the leader
 * should never have chosen, and keeps next_ino above it. */
int msi_ino_claim(struct mstore *ms, uint64_t ino)
{
	struct inode x;
	int64_t next;
	int rc;

	if (ino < 2 || ino >= INT64_MAX) {
		log_warn("ms.ino", "op record with inode number %llu", (unsigned long long)ino);
		return -EINVAL;
	}
	rc = msi_ino_get(ms, ino, &x);
	if (rc == 0) {
		log_warn("ms.ino", "op record reuses inode %llu", (unsigned long long)ino);
		return -EINVAL;
	}
	if (rc != -ENOENT) {
		return rc;
	}
	rc = msi_meta_get(ms, K_NEXT_INO, &next);
	if (rc == 0 && (uint64_t)next <= ino) {
		rc = msi_meta_set(ms, K_NEXT_INO, (int64_t)ino + 1);
	}
	return rc;
}

int msi_inline_set(struct mstore *ms, uint64_t ino, const void *p, size_t n)
{
	if (n == 0) {
		return msi_run(ms, S_INL_SET, ARGS(AI(ino), ANULL));
	}
	return msi_run(ms, S_INL_SET, ARGS(AI(ino), AB(p, n)));
}

/* Copies the inline data of ino into a malloc'd buffer of at least cap
 * bytes (zero-filled past the data); *len = bytes of data. */
int msi_inline_get(struct mstore *ms, uint64_t ino, size_t cap, uint8_t **out, size_t *len)
{
	sqlite3_stmt *st = msi_bind(ms, S_INL_GET, ARGS(AI(ino)));
	int rc = msi_first_row(ms, S_INL_GET, st);
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
		msi_stmt_done(st);
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
	int rc = msi_get_int(ms, S_GC_HAS, ARGS(AB(b->id, BLOCK_ID_LEN)), &v);

	if (rc != 0) {
		return rc < 0 ? rc : -ESTALE;
	}
	return msi_run(ms, S_BLK_REF,
		       ARGS(AB(b->id, BLOCK_ID_LEN), AI(b->k), AI(b->m), AI(b->len), AI(b->csum),
			    AI(b->codec), AI(b->zlen), AI(b->cls)));
}

static int blk_unref(struct mstore *ms, const uint8_t *id)
{
	int64_t refs;
	int rc = msi_run(ms, S_BLK_UNREF, ARGS(AB(id, BLOCK_ID_LEN)));

	if (rc == 0) {
		rc = msi_get_int(ms, S_BLK_REFS, ARGS(AB(id, BLOCK_ID_LEN)), &refs);
	}
	if (rc == 1 && refs <= 0) {
		rc = msi_run(ms, S_BLK_TO_GC, ARGS(AB(id, BLOCK_ID_LEN)));
		if (rc == 0) {
			rc = msi_run(ms, S_BLK_DEL, ARGS(AB(id, BLOCK_ID_LEN)));
		}
	}
	return rc < 0 ? rc : 0;
}

/* Looks up extent (ino, chunk): 1 with its block id and len, 0, or error. */
static int ext_get(struct mstore *ms, uint64_t ino, uint64_t chunk, uint8_t *id, uint32_t *len)
{
	sqlite3_stmt *st = msi_bind(ms, S_EXT_GET, ARGS(AI(ino), AI(chunk)));
	int rc = msi_first_row(ms, S_EXT_GET, st);

	if (rc == 1) {
		const void *p = sqlite3_column_blob(st, 0);

		memset(id, 0, BLOCK_ID_LEN);
		if (p != NULL && sqlite3_column_bytes(st, 0) == BLOCK_ID_LEN) {
			memcpy(id, p, BLOCK_ID_LEN);
		}
		*len = (uint32_t)sqlite3_column_int64(st, 1);
		msi_stmt_done(st);
	}
	return rc;
}

/* Drops every extent of ino from chunk `first` on, with its references. */
int msi_ext_drop(struct mstore *ms, uint64_t ino, uint64_t first)
{
	sqlite3_stmt *st = msi_bind(ms, S_EXT_COUNT, ARGS(AI(ino), AI(first)));
	int64_t count, u;
	int rc = msi_first_row(ms, S_EXT_COUNT, st);

	if (rc <= 0) {
		return rc;
	}
	count = sqlite3_column_int64(st, 0);
	u = sqlite3_column_int64(st, 1);
	msi_stmt_done(st);
	if (count == 0) {
		return 0;
	}
	rc = msi_run(ms, S_EXT_UNREF, ARGS(AI(ino), AI(first)));
	if (rc == 0) {
		rc = msi_run(ms, S_EXT_TO_GC, ARGS(AI(ino), AI(first)));
	}
	if (rc == 0) {
		rc = msi_run(ms, S_EXT_FREE, ARGS(AI(ino), AI(first)));
	}
	if (rc == 0) {
		rc = msi_run(ms, S_EXT_DEL, ARGS(AI(ino), AI(first)));
	}
	if (rc == 0) {
		rc = msi_run(ms, S_INO_UNITS, ARGS(AI(ino), AI(-u)));
	}
	return rc;
}

/* Makes e the extent of its chunk, releasing the block it replaces. */
int msi_ext_set(struct mstore *ms, uint64_t ino, const struct meta_extent *e)
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
		rc = msi_run(ms, S_EXT_PUT,
			     ARGS(AI(ino), AI(e->chunk), AB(e->blk.id, BLOCK_ID_LEN), AI(e->len)));
	}
	if (rc == 0 && had == 1) {
		delta -= (int64_t)units(old_len);
		rc = blk_unref(ms, old);
	}
	if (rc == 0 && delta != 0) {
		rc = msi_run(ms, S_INO_UNITS, ARGS(AI(ino), AI(delta)));
	}
	return rc;
}

int msi_ext_unset(struct mstore *ms, uint64_t ino, uint64_t chunk)
{
	uint8_t old[BLOCK_ID_LEN];
	uint32_t old_len;
	int rc = ext_get(ms, ino, chunk, old, &old_len);

	if (rc <= 0) {
		return rc;
	}
	rc = msi_run(ms, S_EXT_DEL_ONE, ARGS(AI(ino), AI(chunk)));
	if (rc == 0) {
		rc = blk_unref(ms, old);
	}
	if (rc == 0) {
		rc = msi_run(ms, S_INO_UNITS, ARGS(AI(ino), AI(-(int64_t)units(old_len))));
	}
	return rc;
}

/* Cuts the extents of ino at byte `size`: chunks past it go, the last
 * chunk's valid length is trimmed. */
int msi_ext_trim(struct mstore *ms, uint64_t ino, uint64_t size)
{
	uint8_t id[BLOCK_ID_LEN];
	uint64_t cs, rem;
	uint32_t len;
	int64_t v;
	int rc = msi_meta_get(ms, K_CHUNK, &v);

	if (rc < 0) {
		return rc;
	}
	if (v <= 0) {
		/* No chunk size: no extent can exist (WRITE refuses them). */
		return size == 0 ? msi_ext_drop(ms, ino, 0) : 0;
	}
	cs = (uint64_t)v;
	rem = size % cs;
	rc = msi_ext_drop(ms, ino, size / cs + (rem != 0));
	if (rc < 0 || rem == 0) {
		return rc;
	}
	rc = ext_get(ms, ino, size / cs, id, &len);
	if (rc <= 0 || len <= rem) {
		return rc < 0 ? rc : 0;
	}
	rc = msi_run(ms, S_EXT_TRIM, ARGS(AI(ino), AI(size / cs), AI(rem)));
	if (rc == 0) {
		rc = msi_run(ms, S_INO_UNITS,
			     ARGS(AI(ino), AI((int64_t)units(rem) - (int64_t)units(len))));
	}
	return rc;
}

/* Resizes the inline data of x for a new file size (invariant 5). */
int msi_inline_resize(struct mstore *ms, const struct inode *x, uint64_t size)
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
		rc = msi_meta_get(ms, K_INLINE, &imax);
		if (rc < 0) {
			return rc;
		}
		want = (uint64_t)imax > x->inl_len ? (size_t)imax : x->inl_len;
		want = size < want ? (size_t)size : want;
	}
	if (want == x->inl_len) {
		return 0;
	}
	rc = msi_inline_get(ms, x->a.ino, want, &buf, &have);
	if (rc == 0) {
		rc = msi_inline_set(ms, x->a.ino, buf, want);
		free(buf);
	}
	return rc;
}

/* Deletes inode ino with its extents' references and its xattrs. */
int msi_ino_delete(struct mstore *ms, uint64_t ino)
{
	int rc = msi_ext_drop(ms, ino, 0);

	if (rc == 0) {
		rc = msi_run(ms, S_XA_DELALL, ARGS(AI(ino)));
	}
	if (rc == 0) {
		rc = msi_run(ms, S_INO_DEL, ARGS(AI(ino)));
	}
	return rc;
}

/* One link of non-directory x went: nlink-1, ctime; at 0 the inode is
 * kept as an orphan or deleted. */
int msi_drop_link(struct mstore *ms, struct inode *x, bool keep, int64_t now,
		  struct meta_result *res)
{
	int rc;

	if (x->a.nlink > 0) {
		x->a.nlink--;
	}
	x->a.ctime_ns = now;
	if (x->a.nlink > 0) {
		return msi_ino_write(ms, S_INO_UPD, x);
	}
	res->freed_ino = x->a.ino;
	/* Its quotas are free of it now, even while an open keeps it. */
	rc = msi_quota_charge(ms, x->parent, S_ISREG(x->a.mode) ? -(int64_t)x->a.size : 0, -1);
	if (rc < 0) {
		return rc;
	}
	if (keep) {
		x->orphan = true;
		return msi_ino_write(ms, S_INO_UPD, x);
	}
	return msi_ino_delete(ms, x->a.ino);
}

/* ---- directory entries and paths ---- */

/* 0 with *ino the inode name of parent points at, -ENOENT when there is
 * no such entry, or an error. */
int msi_de_get(struct mstore *ms, uint64_t parent, const char *name, uint64_t *ino)
{
	int64_t v;
	int rc = msi_get_int(ms, S_DE_GET, ARGS(AI(parent), AS(name)), &v);

	*ino = (uint64_t)v;
	if (rc < 0) {
		return rc;
	}
	return rc == 1 ? 0 : -ENOENT;
}

/* Inserts (S_DE_INS) or repoints (S_DE_UPD) entry name of parent. */
int msi_de_put(struct mstore *ms, enum ms_stmt id, uint64_t parent, const char *name, uint64_t ino,
	       bool dir)
{
	uint8_t skey[SKEY_MAX];
	size_t n = strlen(name), n0 = n;

	memcpy(skey, name, n);
	if (dir) {
		skey[n++] = '/';
	}
	return msi_run(
	    ms, id, ARGS(AI(parent), AS(name), AB(skey, n), AI(ino), AI(ms_name_cookie(name, n0))));
}

int msi_de_del(struct mstore *ms, uint64_t parent, const char *name)
{
	return msi_run(ms, S_DE_DEL, ARGS(AI(parent), AS(name)));
}

/* Copies the component of path[0..len) at *pos into name and moves *pos
 * past it and its '/'.  Returns 1 if more follow, 0 for the last one,
 * -EINVAL (empty, ".", "..") or -ENAMETOOLONG. */
int msi_next_comp(const char *path, size_t len, size_t *pos, char *name)
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
int msi_walk(struct mstore *ms, const char *path, size_t len, struct inode *x, char *leaf)
{
	char name[META_NAME_MAX + 1];
	size_t pos = 0;
	uint64_t ino;
	int more, rc;

	rc = msi_ino_get(ms, META_ROOT_INO, x);
	if (rc < 0) {
		return rc;
	}
	if (len == 0) {
		return leaf != NULL ? -EINVAL : 0;
	}
	do {
		more = msi_next_comp(path, len, &pos, name);
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
		rc = msi_de_get(ms, x->a.ino, name, &ino);
		if (rc == 0) {
			rc = msi_ino_get(ms, ino, x);
		}
		if (rc < 0) {
			return rc;
		}
	} while (more);
	return 0;
}

/* 1 if directory anc is dir or one of its ancestors, else 0. */
int msi_is_ancestor(struct mstore *ms, uint64_t anc, uint64_t dir)
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
		rc = msi_ino_get(ms, dir, &x);
		if (rc < 0) {
			return rc == -ENOENT ? 0 : rc; /* a chain that ends: not below anc */
		}
		dir = x.parent;
	}
	log_error("ms.corrupt", "directory %llu: parent chain too long", (unsigned long long)dir);
	return -ELOOP;
}

/* ---- open, close, backup ---- */

static int exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sql_err(db, rc, sql);
}

/* Listing by resume cookie (meta_store_dir.c) reads dirents.nhash, the
 * name's cookie stored with the entry; a shard made before it gets the
 * column filled at its first open, the same on every replica.  A stored
 * column rather than an index on ms_nhash(name): the sqlite3 shell,
 * which lacks the function, could not check or write the table.  With
 * ino (and the key's name, which every index of the table carries) the
 * index covers the listing: no lookup of the dirent row per entry. */
static int dirents_nhash(sqlite3 *db)
{
	sqlite3_stmt *st;
	int has = 0, rc = sqlite3_prepare_v2(
			 db, "SELECT 1 FROM pragma_table_info('dirents') WHERE name = 'nhash'", -1,
			 &st, NULL);

	if (rc != SQLITE_OK) {
		return sql_err(db, rc, "table_info");
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		return sql_err(db, rc, "table_info");
	}
	has = rc == SQLITE_ROW;
	if (!has) {
		rc = exec(db, "DROP INDEX IF EXISTS dirents_hash;"
			      "ALTER TABLE dirents ADD COLUMN nhash INTEGER NOT NULL DEFAULT 0;"
			      "UPDATE dirents SET nhash = ms_nhash(name);");
		if (rc < 0) {
			return rc;
		}
	}
	return exec(db, "CREATE INDEX IF NOT EXISTS dirents_hash ON dirents(parent, nhash, ino);");
}

int msi_wipe(struct mstore *ms)
{
	/* Every block to the GC queue, every row of the namespace gone, in
	 * the record's transaction.  Without delete triggers a DELETE of a
	 * whole table is SQLite's truncation (pages dropped, not rows
	 * visited); with them it visits every row on the Raft loop. */
	static const char sql[] =
	    "DROP TRIGGER totals_del; DROP TRIGGER totals_blk_del; "
	    "INSERT OR IGNORE INTO gc(block_id, k, m, len, csum) "
	    "SELECT block_id, k, m, len, csum FROM blocks; DELETE FROM blocks; "
	    "DELETE FROM extents; DELETE FROM dirents; DELETE FROM xattrs; DELETE FROM inodes; "
	    "UPDATE totals SET files = 0, bytes_hi = 0, bytes_lo = 0, blk_n = 0, blk_z = 0, "
	    "blk_bytes = 0, blk_stored = 0 WHERE id = 0; " TOTALS_DEL_INODES TOTALS_DEL_BLOCKS;
	int rc = sqlite3_exec(ms->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : msi_db_fail(ms, rc, "bucket delete");
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
		rc = msi_nhash_register(db);
	}
	if (rc == 0) {
		rc = exec(db, ms_schema);
	}
	if (rc == 0) {
		rc = dirents_nhash(db);
	}
	if (rc == 0 && version == 1) {
		rc = exec(db, "ALTER TABLE blocks ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;"
			      "ALTER TABLE blocks ADD COLUMN zlen INTEGER NOT NULL DEFAULT 0;"
			      "ALTER TABLE blocks ADD COLUMN cls INTEGER NOT NULL DEFAULT 0;");
	}
	if (rc == 0 && version < 3) {
		/* Counted once, here; the triggers keep them from now on. */
		rc = exec(
		    db,
		    "INSERT OR REPLACE INTO totals(id, files, bytes_hi, bytes_lo, blk_n, blk_z, "
		    "blk_bytes, blk_stored) SELECT 0, i.n, i.hi, i.lo, b.n, b.z, b.bytes, "
		    "b.stored FROM (SELECT count(*) AS n, "
		    "coalesce(sum(CASE WHEN mode & 61440 = 32768 THEN size >> 32 END), 0) AS hi, "
		    "coalesce(sum(CASE WHEN mode & 61440 = 32768 THEN size & 4294967295 END), "
		    "0) AS lo FROM inodes) i, (SELECT count(*) AS n, "
		    "coalesce(sum(codec != 0), 0) AS z, coalesce(sum(len), 0) AS bytes, "
		    "coalesce(sum(CASE WHEN codec != 0 THEN zlen ELSE len END), 0) AS stored "
		    "FROM blocks) b");
	}
	if (rc == 0 && version < MS_SCHEMA_VERSION) {
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
static int configure(sqlite3 *db, unsigned flags)
{
	sqlite3_stmt *st;
	bool wal = false;
	int rc;

	/* One connection per shard and process: holding the file lock for
	 * good saves the fcntl calls of every transaction and read, and WAL
	 * then keeps its index in memory (no -shm file).  Other processes
	 * (sqlite3 in the tests) open the file only once the node stopped. */
	if ((flags & MS_EXCLUSIVE) && (rc = exec(db, "PRAGMA locking_mode=EXCLUSIVE")) != 0) {
		return rc;
	}
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
	rc = exec(db,
		  (flags & MS_SYNC_FULL) ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
	/* Temporary files in memory, the sub-journal of the per-record
	 * savepoints above all: it holds the first copy of each page a record
	 * changes, and past 64 KiB (16 pages: a record of a multi-million
	 * entry shard touches more) SQLite spilled it to a file under
	 * /var/tmp, two pwrite calls per page on the Raft loop -- 224,000 a
	 * minute on each replica while filling a 3 M-entry shard. */
	if (rc == 0) {
		rc = exec(db, "PRAGMA temp_store=MEMORY");
	}
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
	pthread_mutex_lock(&ms->lock);
	msi_flush_locked(ms);
	pthread_mutex_unlock(&ms->lock);
	for (int i = 0; i < S_NSTMT; i++) {
		sqlite3_finalize(ms->stmt[i]);
	}
	sqlite3_close(ms->db);
	pthread_mutex_destroy(&ms->lock);
	free(ms);
}

int ms_open(const char *path, unsigned flags, struct mstore **out)
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
	rc = sqlite3_open_v2(
	    path, &ms->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		int err = sql_err(ms->db, rc, path);

		rc = (rc & 0xff) == SQLITE_CANTOPEN ? -ENOENT : err;
		goto fail;
	}
	rc = configure(ms->db, flags);
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
	if ((rc = msi_flush_locked(ms)) != 0) {
		pthread_mutex_unlock(&ms->lock);
		free(tmp);
		return rc;
	}
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
	/* What the batch applied is replaced by the snapshot anyway, but
	 * the copy needs no transaction of ours open. */
	rc = msi_flush_locked(ms);
	if (rc == 0) {
		rc = copy_db(ms->db, src, "restore");
	}
	if (rc == 0) {
		/* A copy from an older build gets any table it lacks. */
		rc = schema(ms->db);
	}
	pthread_mutex_unlock(&ms->lock);
	sqlite3_close(src);
	return rc;
}
