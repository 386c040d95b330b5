/* meta_store.h: one metadata shard in one SQLite database (WAL).
 * A bucket shard holds a bucket's namespace: inodes, directory entries,
 * chunk extents, block reference counts, xattrs, symlink targets, inline
 * data of tiny files, orphans (unlinked but still open) and the GC queue
 * of blocks no extent references any more.  The catalog shard holds the
 * bucket list.  The only module of objfs-node that runs SQL for shards.
 *
 * Every change goes through ms_apply with a complete operation record
 * (proto/meta.h): applying the same records in the same order to the same
 * database gives the same state and the same results, on any replica.
 * ms_apply never reads the clock or any other outside state.  Each record
 * is applied in one transaction together with the shard's applied index
 * and the op's result (keyed by op_id, so a retried op returns its first
 * result instead of applying twice).  Thread-safe (one connection, one
 * mutex); queries and applies may come from any thread. */
#ifndef OBJFS_META_STORE_H
#define OBJFS_META_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/keys.h"
#include "../proto/meta.h"

struct mstore;

/* ms_open flags.  MS_SYNC_FULL: synchronous=FULL (else NORMAL, when a
 * replicated log makes each entry durable elsewhere).  MS_EXCLUSIVE: hold
 * the file lock for good (locking_mode=EXCLUSIVE: no fcntl per
 * transaction); no other connection may then open the file. */
#define MS_SYNC_FULL 1u
#define MS_EXCLUSIVE 2u

/* Opens or creates the shard database at path (schema created if new).
 * Returns 0 or -EIO/-ENOMEM/-ENOENT. */
int ms_open(const char *path, unsigned flags, struct mstore **out);
void ms_close(struct mstore *ms);

/* Applies op as log entry `index` (0 = no log: the store counts itself).
 * Returns 0 when the record was applied or was a repeat (then *res holds
 * the outcome: res->status 0 or a negative errno that every replica
 * computes alike), or a negative errno when the database failed and
 * nothing changed.  Entries with index <= the stored applied index are
 * skipped (returns 0, res->status from the op-result table if present).
 *
 * Semantics per type (errno in res->status):
 *  CREATE   parent must be a dir (ENOTDIR, ENOENT); name checked
 *           (ENAMETOOLONG, EINVAL); if name exists: EEXIST when
 *           META_F_EXCL or not a regular file, else res->attr = existing.
 *           New inode new_ino: mode (type from S_IFMT: REG, DIR, LNK
 *           with data = target, FIFO, SOCK, CHR, BLK with rdev), uid,
 *           gid, times = now_ns, nlink 1 (2 for dirs, parent nlink+1);
 *           parent mtime/ctime = now.
 *  LINK     ino (not a dir: EPERM) gets newname in newparent; nlink+1,
 *           ctime; EEXIST if taken.
 *  UNLINK   name in parent; EISDIR for a dir; nlink-1, ctime; when nlink
 *           reaches 0 the inode becomes an orphan if META_F_KEEP_ORPHAN,
 *           else it is deleted and its blocks' refs dropped;
 *           res->freed_ino = that inode.  With META_F_PATH, name is a
 *           path from the root (parent ignored).
 *  RMDIR    ENOTDIR, ENOTEMPTY; parent nlink-1.
 *  RENAME   POSIX rename(2) within the shard: over an existing file (its
 *           link dropped as in UNLINK, honouring KEEP_ORPHAN), over an
 *           empty dir (ENOTEMPTY if not; EISDIR/ENOTDIR for type
 *           mismatch), into its own subtree EINVAL, same inode no-op,
 *           NOREPLACE -> EEXIST, EXCHANGE swaps (ENOENT if either
 *           missing); dir moves fix parent nlinks; ctime of moved inode
 *           and mtime/ctime of both parents = now.
 *  SETATTR  valid bits: mode (keeps type bits), uid, gid, size (truncate
 *           up or down: chunks past the end dropped, the last chunk's
 *           len trimmed, inline data trimmed/zero-extended), atime,
 *           mtime (explicit or _NOW = now_ns), ctime = now always.
 *  SETXATTR / REMOVEXATTR  EEXIST/ENODATA with the CREATE/REPLACE flags;
 *           ENODATA when removing a missing name; ctime = now.
 *  WRITE    ino must be a regular file (EISDIR/EINVAL); with
 *           META_F_INLINE the content becomes op->data and every extent
 *           goes; else each ext[i] replaces chunk ext[i].chunk (old
 *           block refs dropped, new added) and inline data goes; size =
 *           max(old, op->size), or op->size with META_F_TRUNCATE;
 *           mtime = ctime = op->mtime_ns (or now if 0); gen + 1.
 *  PUT      name is a path: missing parents made (mode 0755, uid/gid
 *           of the op); the file is created (mode) or its content
 *           replaced as in WRITE (inline or extents, size = op->size
 *           exactly); EISDIR if a dir is there, ENOTDIR if a parent
 *           component is a file.
 *  FORGET   an orphan inode is deleted with its blocks' refs; no-op for
 *           an inode that still has links or does not exist.
 *  BUCKET_CREATE / BUCKET_DELETE  as described in meta.h.
 *  GC_DONE  removes ext[i].blk ids from the GC queue.
 * A block whose reference count drops to 0 enters the GC queue. */
int ms_apply(struct mstore *ms, const struct meta_op *op, uint64_t index, struct meta_result *res);
/* The n records of one log entry at `index`, as one unit: each applied as
 * by ms_apply (its own savepoint and res[i]), the applied index set once
 * after the last; an index applied already answers every record from the
 * results kept by op id. */
int ms_apply_batch(struct mstore *ms, const struct meta_op *ops, size_t n, uint64_t index,
		   struct meta_result *res);

/* The applied log index (0 when never applied through a log). */
/* Group commit of applied records: with batching on, ms_apply leaves its
 * transaction open and the records applied until ms_flush share one
 * SQLite commit (one WAL write of each page they touch).  Reads through
 * the store see them at once.  Safe only where a replicated log makes
 * each record durable and replays it after a crash (the applied index is
 * committed with the records).  Backup, restore and close flush first.
 * ms_flush returns 0 or the commit's failure; after one the store refuses
 * every call (the records it lost are replayed at the next start). */
void ms_set_batching(struct mstore *ms, int on);
int ms_flush(struct mstore *ms);
uint64_t ms_applied_index(struct mstore *ms);
/* The next free inode number (max allocated + 1; >= 2). */
uint64_t ms_next_ino(struct mstore *ms);

int ms_lookup(struct mstore *ms, uint64_t parent, const char *name, struct meta_attr *out);
int ms_getattr(struct mstore *ms, uint64_t ino, struct meta_attr *out);
/* Resolves "a/b/c" from the root ("" is the root). */
int ms_resolve(struct mstore *ms, const char *path, struct meta_attr *out);

struct ms_dirent {
	char name[META_NAME_MAX + 1];
	uint64_t cookie; /* ms_readdir_cookie only: ms_name_cookie(name) */
	struct meta_attr attr;
};
/* Entries of dir in bytewise name order after `after` ("" = from the
 * start), at most max.  Returns the count (>= 0) or -ENOTDIR/-ENOENT;
 * *more is set when entries remain. */
int ms_readdir(struct mstore *ms, uint64_t dir, const char *after, struct ms_dirent *out,
	       size_t max, int *more);

/* The resume cookie of a name: a hash in [META_COOKIE_FIRST, 2^62 +
 * META_COOKIE_FIRST), the same on every replica and in every version. */
uint64_t ms_name_cookie(const void *name, size_t len);
/* Entries of dir whose cookie is above `cookie`, in (cookie, name) order,
 * at most max; a page never splits entries of one cookie.  Returns the
 * count, -ENOTDIR/-ENOENT, -EINVAL (max 0, cookie >= 2^63) or -EOVERFLOW
 * (more than max names share one cookie); *more when entries remain. */
int ms_readdir_cookie(struct mstore *ms, uint64_t dir, uint64_t cookie, struct ms_dirent *out,
		      size_t max, int *more);

int ms_readlink(struct mstore *ms, uint64_t ino, char *buf, size_t cap);
/* *val is malloc'd (caller frees); -ENODATA if absent. */
int ms_getxattr(struct mstore *ms, uint64_t ino, const char *name, uint8_t **val, size_t *len);
/* Names as consecutive NUL-terminated strings in a malloc'd buffer. */
int ms_listxattr(struct mstore *ms, uint64_t ino, char **names, size_t *len);

/* Extents of ino from chunk `first` on (ascending), at most max; *attr
 * filled; inline data (if any) as a malloc'd copy in *inl.  Returns the
 * count, *more set if more extents follow. */
int ms_extents(struct mstore *ms, uint64_t ino, uint64_t first, struct meta_extent *out, size_t max,
	       int *more, struct meta_attr *attr, uint8_t **inl, size_t *inl_len);

struct ms_stat {
	uint64_t files;	     /* inodes */
	uint64_t bytes;	     /* sum of regular file sizes */
	uint32_t chunk_size; /* from BUCKET_CREATE */
	uint32_t inline_max;
	uint8_t codec; /* BLK_CODEC_* for new blocks (MOP_BUCKET_COMPRESS) */
};
int ms_statfs(struct mstore *ms, struct ms_stat *st);

/* The blocks the shard references (META_BLOCK_STATS): how many, how many
 * compressed, their bytes as written and as stored; and the codec set. */
struct ms_block_stats {
	uint64_t blocks, compressed, bytes, stored;
	uint8_t codec;
};
int ms_block_stats(struct mstore *ms, struct ms_block_stats *out);

/* S3-style listing: regular files whose path starts with prefix and sorts
 * after `after`, in bytewise path order.  Calls fn(arg, path, size,
 * mtime_ns) for each, at most max; returns the count or an error;
 * *more set if more follow. */
typedef int (*ms_list_fn)(void *arg, const char *path, uint64_t size, int64_t mtime_ns);
int ms_list(struct mstore *ms, const char *prefix, const char *after, size_t max, ms_list_fn fn,
	    void *arg, int *more);

/* The same with '/' as delimiter: a directory just below the prefix's own
 * directory is one entry, its path with a trailing '/' (size 0, mtime 0),
 * and is not entered -- a listing of the root of a bucket of millions of
 * files costs its top-level entries, not the whole walk.  `after` such a
 * path resumes after everything below it. */
int ms_list_delim(struct mstore *ms, const char *prefix, const char *after, size_t max,
		  ms_list_fn fn, void *arg, int *more);

/* Catalog: bucket names in order (fn as above, size = chunk size). */
int ms_buckets(struct mstore *ms, ms_list_fn fn, void *arg);
/* The client keys of the catalog, by name, secrets included, through fn
 * (called with the store's lock held: fn must not call the store).
 * Returns the count or a negative errno (fn's negative return stops). */
typedef int (*ms_key_fn)(void *arg, const struct key_ent *k);
int ms_keys(struct mstore *ms, ms_key_fn fn, void *arg);
/* The cluster map's rows (catalog), in node id order, into out (at most
 * max); returns the count or a negative error (meta_nodemap.c). */
int ms_node_map(struct mstore *ms, struct meta_node_row *out, size_t max);
/* Blocks waiting for GC, at most max; returns the count. */
/* F_GETLK: 1 with *out the first lock of another owner in req's way, 0
 * when none, -EINVAL for a malformed req, or an error. */
int ms_getlk(struct mstore *ms, const struct meta_lock *req, struct meta_lock *out);
/* Sessions holding locks: returns the count (<= max) written to out. */
int ms_lock_sessions(struct mstore *ms, uint64_t *out, size_t max);

int ms_gc_pending(struct mstore *ms, struct manifest_block *out, size_t max);
/* The same in pages, in block id order: those after block id `after`
 * (NULL: from the first). */
int ms_gc_pending_after(struct mstore *ms, const uint8_t *after, struct manifest_block *out,
			size_t max);
/* Blocks in the GC queue (for metrics), or a negative errno. */
int64_t ms_gc_count(struct mstore *ms);

/* Blocks the shard knows, referenced or waiting for GC, whose id sorts
 * after `after` (every block when first is set), in id order: at most
 * max rows into out.  Returns the count; *more set if more may follow. */
int ms_blocks(struct mstore *ms, const uint8_t after[BLOCK_ID_LEN], int first,
	      struct meta_block_row *out, size_t max, int *more);
/* Quotas: what is QUOTA_LIST (from after ino), QUOTA_GET (-ENODATA if
 * none) or QUOTA_NEAREST (ino's or its closest ancestor's), | QUOTA_CHECK
 * to recount usage.  Fills at most max; returns the count, *more set if
 * the list goes on. */
int ms_quota(struct mstore *ms, int what, uint64_t ino, struct meta_quota *out, size_t max,
	     int *more);

/* The trash: entries after ino (at most max; *more if others follow)
 * and the time entries are kept (*keep seconds, 0 off).  Returns the
 * count. */
int ms_trash(struct mstore *ms, uint64_t after, struct meta_trash *out, size_t max, int64_t *keep,
	     int *more);
/* 1 with *cutoff (ns) when entries deleted at or before it have expired. */
int ms_trash_due(struct mstore *ms, int64_t now_ns, int64_t *cutoff);

/* Writes a consistent copy of the database to path (for snapshots). */
int ms_backup(struct mstore *ms, const char *path);
/* Replaces the database content with the copy at path. */
int ms_restore(struct mstore *ms, const char *path);
/* Copies the database to path while other threads go on applying: the
 * store's lock is taken for one step of pages_per_step pages at a time,
 * and after each step the thread rests so that stepping takes duty_pct of
 * its time (0 or 100: no rest); every MS_WRITEBACK_PAGES pages copied the
 * file's writeback is started.  The copy holds the committed state of
 * some moment between the call and its return (its applied index at least
 * the one at the call).  Any thread; the caller fsyncs and renames the
 * file.  0 or a negative errno (the file is then removed). */
#define MS_WRITEBACK_PAGES 4096
int ms_backup_online(struct mstore *ms, const char *path, int pages_per_step, unsigned duty_pct);

#endif
