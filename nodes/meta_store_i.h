/* meta_store_i.h: private to meta_store*.c: the shard's state, its prepared
 * statements and the SQLite/inode/extent/dirent helpers shared by the op
 * records (meta_store.c) and the queries (meta_store_query.c). */
#ifndef OBJFS_META_STORE_I_H
#define OBJFS_META_STORE_I_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../common/err.h"
#include "meta_store.h"

#define MS_DIR_BLOCKS 8
#define SKEY_MAX (META_NAME_MAX + 1)

enum ms_stmt {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_UNDO,
	S_META_GET,
	S_META_SET,
	S_INO_GET,
	S_INO_INS,
	S_INO_UPD,
	S_INO_DEL,
	S_INO_TOUCH,
	S_INO_CTIME,
	S_INO_UNITS,
	S_INL_GET,
	S_INL_SET,
	S_TGT_GET,
	S_TGT_SET,
	S_STAT,
	S_DE_GET,
	S_DE_INS,
	S_DE_UPD,
	S_DE_DEL,
	S_DE_ANY,
	S_DE_LIST,
	S_DE_HLIST,
	S_DE_NEXT_GT,
	S_DE_NEXT_GE,
	S_EXT_GET,
	S_EXT_PUT,
	S_EXT_TRIM,
	S_EXT_COUNT,
	S_EXT_UNREF,
	S_EXT_TO_GC,
	S_EXT_FREE,
	S_EXT_DEL,
	S_EXT_DEL_ONE,
	S_Q_ANY,
	S_Q_GET,
	S_Q_PUT,
	S_Q_DEL,
	S_Q_ADD,
	S_Q_LIST,
	S_Q_COUNT,
	S_DE_NAME_OF,
	S_SN_FILL,
	S_SN_FILL_ALL,
	S_SN_NEW_OF,
	S_SN_COUNT,
	S_SN_INODES,
	S_SN_DIRENTS,
	S_SN_EXTENTS,
	S_SN_BLKREF,
	S_SN_XATTRS,
	S_SN_NLINK,
	S_SN_NLINK_F,
	S_SN_UNREF,
	S_SN_TO_GC,
	S_SN_FREE,
	S_SN_DEL_EXT,
	S_SN_DEL_XA,
	S_SN_DEL_DE,
	S_SN_DEL_INO,
	S_SN_CLEAR,
	S_TR_PUT,
	S_TR_GET,
	S_TR_DEL,
	S_TR_LIST,
	S_TR_DUE,
	S_RI_INO,
	S_RI_EXT,
	S_RI_XA,
	S_RI_DE,
	S_RI_TRASH,
	S_RI_QUOTA,
	S_EXT_LIST,
	S_BLK_REF,
	S_BLK_UNREF,
	S_BLK_REFS,
	S_BLK_TO_GC,
	S_BLK_DEL,
	S_GC_HAS,
	S_GC_DEL,
	S_GC_LIST,
	S_GC_COUNT,
	S_BLOCKS_PAGE,
	S_GC_LIST_AFTER,
	S_XA_GET,
	S_XA_PUT,
	S_XA_DEL,
	S_XA_DELALL,
	S_XA_LIST,
	S_RES_GET,
	S_RES_PUT,
	S_RES_TRIM,
	S_BK_GET,
	S_BK_INS,
	S_BK_DEL,
	S_BK_LIST,
	S_LK_LIST,
	S_LK_DEL_OWNER,
	S_LK_INS,
	S_LK_DEL_SESSION,
	S_LK_SESSIONS,
	S_NSTMT
};

/* The inode columns read by msi_row_inode, in its order. */
#define INO_COLS                                                                                   \
	"i.ino, i.mode, i.nlink, i.uid, i.gid, i.rdev, i.size, i.blocks, i.atime, "                \
	"i.mtime, i.ctime, i.gen, i.parent, i.orphan, length(i.inline_data)"
#define INO_NCOLS 15

/* Keys of the meta table. */
#define K_APPLIED "applied_index"
#define K_CHUNK "chunk_size"
#define K_INLINE "inline_max"
#define K_NEXT_INO "next_ino"
#define K_NEXT_SNAP_INO "next_snap_ino"
#define K_TRASH_SECONDS "trash_seconds"
#define K_COMPRESS "compress" /* BLK_CODEC_* for new blocks (meta_compress.c) */
#define K_RES_SEQ "result_seq"

struct mstore {
	pthread_mutex_t lock; /* guards everything below */
	sqlite3 *db;
	sqlite3_stmt *stmt[S_NSTMT];
	int dberr;     /* first SQLite failure of the current call (negative errno) */
	bool batching; /* ms_set_batching: records share a transaction */
	bool in_txn;   /* a batch's transaction is open (ms_flush commits it) */
	int broken;    /* a batch failed to commit: every later call fails */
};

/* Commits an open batch (lock held).  0, or the failure, after which the
 * store is broken: applied records were lost from the database, so it
 * must never serve or apply again before a restart replays the log. */
int msi_flush_locked(struct mstore *ms);

/* One inode row. */
struct inode {
	struct meta_attr a; /* a.blocks as reported (see attr_blocks) */
	uint64_t units;	    /* the blocks column: 512-byte units of the extents */
	uint64_t parent;    /* directories: the one directory holding it */
	bool orphan;
	size_t inl_len;
};

enum arg_type { A_INT, A_BLOB, A_NULL };

/* A statement argument; built with AI/AB/AS/ANULL so every integer is
 * converted to int64_t at the call site (type-safe, unlike varargs). */
struct arg {
	enum arg_type type;
	int64_t i;
	const void *p;
	size_t n;
};

#define AI(x) ((struct arg){.type = A_INT, .i = (int64_t)(x)})
#define AB(ptr, len) ((struct arg){.type = A_BLOB, .p = (ptr), .n = (len)})
#define AS(s) AB((s), strlen(s))
#define ANULL ((struct arg){.type = A_NULL})
#define ARGS(...)                                                                                  \
	(const struct arg[]){__VA_ARGS__}, OBJ_ARRAY_LEN(((const struct arg[]){__VA_ARGS__}))
#define NOARGS NULL, 0

/* The helpers below are defined in meta_store_db.c, each with its contract
 * there.  All expect ms->lock held; an SQLite failure is also recorded in
 * ms->dberr (see msi_db_fail) so ms_apply rolls the whole record back. */

/* ---- SQLite plumbing ---- */
int msi_db_fail(struct mstore *ms, int rc, const char *what);
/* Deletes every row of the namespace (blocks to the GC queue first) and
 * zeroes the totals: a bucket's deletion.  0 or -EIO (msi_db_fail). */
int msi_wipe(struct mstore *ms);
/* Registers ms_nhash (meta_store_dir.c) on db, and on every connection
 * the process opens later.  0 or -EIO. */
int msi_nhash_register(sqlite3 *db);
void msi_stmt_done(sqlite3_stmt *st);
sqlite3_stmt *msi_bind(struct mstore *ms, enum ms_stmt id, const struct arg *a, size_t n);
int msi_run(struct mstore *ms, enum ms_stmt id, const struct arg *a, size_t n);
int msi_first_row(struct mstore *ms, enum ms_stmt id, sqlite3_stmt *st);
int msi_get_int(struct mstore *ms, enum ms_stmt id, const struct arg *a, size_t n, int64_t *out);
int msi_meta_get(struct mstore *ms, const char *key, int64_t *v);
int msi_meta_set(struct mstore *ms, const char *key, int64_t v);

/* ---- inodes ---- */
void msi_row_inode(sqlite3_stmt *st, int c, struct inode *x);
/* A listing row (INO_COLS, then the name) into d (cookie untouched):
 * 0, or -EIO (logged) for a name of no or too many bytes. */
int msi_row_dirent(sqlite3_stmt *st, uint64_t dir, struct ms_dirent *d);
/* Lookups: 0 with the result filled, -ENOENT when absent, or an error. */
int msi_ino_get(struct mstore *ms, uint64_t ino, struct inode *x);
int msi_dir_get(struct mstore *ms, uint64_t ino, struct inode *x);
int msi_ino_write(struct mstore *ms, enum ms_stmt id, const struct inode *x);
int msi_dir_touch(struct mstore *ms, uint64_t dir, int dnlink, int64_t now);
int msi_attr_of(struct mstore *ms, uint64_t ino, struct meta_attr *a);
int msi_ino_claim(struct mstore *ms, uint64_t ino);
int msi_inline_set(struct mstore *ms, uint64_t ino, const void *p, size_t n);
int msi_inline_get(struct mstore *ms, uint64_t ino, size_t cap, uint8_t **out, size_t *len);

/* ---- blocks and extents ---- */
int msi_ext_drop(struct mstore *ms, uint64_t ino, uint64_t first);
int msi_ext_set(struct mstore *ms, uint64_t ino, const struct meta_extent *e);
int msi_ext_trim(struct mstore *ms, uint64_t ino, uint64_t size);
/* Bounds every walk up a parent chain (RENAME's ancestor check, quota
 * charges) if the chain were ever corrupted into a cycle. */
#define MS_DEPTH_MAX 1000000

/* Quotas (meta_quota.c).  Charges bytes and inodes to every quota from
 * directory dir up to the root: -EDQUOT, with nothing charged, when a
 * positive charge would pass a hard limit.  0 when there is no quota. */
int msi_quota_charge(struct mstore *ms, uint64_t dir, int64_t bytes, int64_t inodes);
/* An entry (bytes, inodes; a directory when is_dir) moves from directory
 * from to directory to: -EDQUOT as above, -EXDEV for a directory whose
 * quotas would change (its tree's usage is not kept per directory). */
int msi_quota_move(struct mstore *ms, uint64_t from, uint64_t to, int64_t bytes, int64_t inodes,
		   bool is_dir);
/* Snapshots (meta_snap.c): -EROFS when op would change a snapshot or
 * /.snapshots, -EPERM when it would take that name at the root. */
int msi_snap_guard(struct mstore *ms, const struct meta_op *op);
int msi_snap_create(struct mstore *ms, const struct meta_op *op, struct meta_result *res);
int msi_snap_remove(struct mstore *ms, const struct meta_op *op, struct meta_result *res);
/* Numbers n inodes of the read-only space; *base is the first. */
int msi_snap_inos(struct mstore *ms, int64_t n, uint64_t *base);
/* A read-only directory at the root (/.snapshots, /.trash), made on
 * first use: 0 with *dir. */
int msi_special_dir(struct mstore *ms, const char *name, int64_t now, struct inode *dir);

/* Trash (meta_trash.c).  > 0 when removed entries go to the trash. */
int msi_trash_on(struct mstore *ms);
/* Moves x, whose entry name in parent was just removed (its last link),
 * to the trash instead of deleting it. */
int msi_trash_put(struct mstore *ms, struct inode *x, uint64_t parent, const char *name,
		  int64_t now);
/* MOP_BUCKET_COMPRESS (meta_compress.c). */
int msi_compress_set(struct mstore *ms, const struct meta_op *op);
int msi_trash_set(struct mstore *ms, const struct meta_op *op);
int msi_trash_restore(struct mstore *ms, const struct meta_op *op, struct meta_result *res);
int msi_trash_empty(struct mstore *ms, const struct meta_op *op);
/* The path of directory ino from the root ("/" for the root). */
int msi_dir_path(struct mstore *ms, uint64_t ino, char *out, size_t cap);
/* MOP_CLASS_MOVE (meta_class.c). */
int msi_class_move(struct mstore *ms, const struct meta_op *op, struct meta_result *res);
/* MOP_QUOTA_SET. */
int msi_quota_set(struct mstore *ms, const struct meta_op *op);
/* Makes chunk a hole of ino, releasing its block; 0 if it was one. */
int msi_ext_unset(struct mstore *ms, uint64_t ino, uint64_t chunk);
int msi_inline_resize(struct mstore *ms, const struct inode *x, uint64_t size);
int msi_ino_delete(struct mstore *ms, uint64_t ino);
int msi_drop_link(struct mstore *ms, struct inode *x, bool keep, int64_t now,
		  struct meta_result *res);

/* ---- directory entries and paths ---- */
/* 0 with *ino, -ENOENT when parent has no entry name, or an error. */
int msi_de_get(struct mstore *ms, uint64_t parent, const char *name, uint64_t *ino);
int msi_de_put(struct mstore *ms, enum ms_stmt id, uint64_t parent, const char *name, uint64_t ino,
	       bool dir);
int msi_de_del(struct mstore *ms, uint64_t parent, const char *name);
int msi_next_comp(const char *path, size_t len, size_t *pos, char *name);
int msi_walk(struct mstore *ms, const char *path, size_t len, struct inode *x, char *leaf);
int msi_is_ancestor(struct mstore *ms, uint64_t anc, uint64_t dir);

/* ---- locks (meta_store_locks.c) ---- */
/* MOP_LOCK: 0, -EAGAIN (another owner's lock is in the way), -EINVAL
 * (malformed), -ENOLCK (the inode has too many locks). */
int msi_lock(struct mstore *ms, const struct meta_op *op);
/* MOP_LOCK_DROP: every lock of session op->parent goes. */
int msi_lock_drop(struct mstore *ms, const struct meta_op *op);

/* ---- POSIX ACLs (meta_store_acl.c) ---- */
struct acl;
/* 1 for system.posix_acl_access and _default. */
int msi_acl_name(const char *name);
/* SETXATTR/REMOVEXATTR of an ACL name on x (fetched): the whole op. */
int msi_acl_xattr(struct mstore *ms, const struct meta_op *op, struct inode *x,
		  struct meta_result *res);
/* SETATTR of the mode: a stored access ACL follows it. */
int msi_acl_chmod(struct mstore *ms, uint64_t ino, uint32_t mode);
/* CREATE with META_F_UMASK: *mode (type and bits) narrowed by the parent's
 * default ACL, or by the umask when it has none; h holds what the new
 * inode stores (msi_acl_inherit_store), released by _done. */
struct msi_inherit {
	struct acl *access, *dflt;
};
int msi_acl_inherit(struct mstore *ms, const struct meta_op *op, uint32_t *mode,
		    struct msi_inherit *h);
int msi_acl_inherit_store(struct mstore *ms, uint64_t ino, struct msi_inherit *h);
void msi_acl_inherit_done(struct msi_inherit *h);

/* ---- client keys (meta_keys.c) ---- */
/* Applies MOP_KEY_PUT or MOP_KEY_DEL: 0, -EEXIST, -ENOENT, -EINVAL. */
int msi_key_apply(struct mstore *ms, const struct meta_op *op);
/* Applies MOP_NODE_STATE: 0 or -EINVAL (meta_nodemap.c). */
int msi_node_state(struct mstore *ms, const struct meta_op *op);

#endif
