/* meta.h: the metadata protocol: attributes, directory entries, extents,
 * and the logical operation records that change a shard.
 *
 * A mutation travels as a `struct meta_op`.  The client fills in what it
 * wants (type, names, mode ...) and a unique op_id; the shard's leader
 * completes every value the outcome depends on (now_ns, new_ino) before
 * the record is applied, so applying the same record to the same state
 * gives the same result on every replica (Raft log entries are exactly
 * these records).  Reads (lookup, getattr, readdir ...) are plain queries.
 * Pure encode/decode; no I/O; any thread.
 *
 * Messages (ids continue msg.h's catalogue; all since v1):
 *  id  name          request body                   reply body
 *  20  META_OP       bucket, meta_op                meta_result
 *  21  META_LOOKUP   bucket, u64 parent, str name   meta_attr
 *  22  META_GETATTR  bucket, u64 ino                meta_attr
 *  23  META_READDIR  bucket, u64 dir, str after,    u32 n, n*(str name, meta_attr),
 *                    u32 max, u8 plus               u8 more
 *  24  META_READLINK bucket, u64 ino                str target
 *  25  META_GETXATTR bucket, u64 ino, str name      blob value
 *  26  META_LISTXATTR bucket, u64 ino               u32 n, n*str
 *  27  META_EXTENTS  bucket, u64 ino, u64 first     meta_attr, u32 n, n*meta_extent,
 *                    chunk, u32 max                 blob inline data
 *  28  META_STATFS   bucket                         u64 files, u64 bytes,
 *                                                 u32 chunk_size, u32 inline_max,
 *                                                 u8 codec (BLK_CODEC_* for new
 *                                                 blocks, MOP_BUCKET_COMPRESS)
 *  29  META_RESOLVE  bucket, str path               meta_attr (walks a/b/c from root)
 *  30  META_LIST     bucket, str prefix, str after, u32 n, n*(str key, u64 size,
 *                    u32 max                        i64 mtime_ns), u8 more
 *  31  META_BUCKETS  -                              u32 n, n*(str name, u64 chunk
 *                                                 size, i64 ctime_ns), u8 more (0)
 *  32  META_SHARD_OPEN bucket                       -   (a replica opens and, if
 *                                                   new, bootstraps the group)
 *  33  META_SHARDS   bucket (ignored)               u32 n, n*shard_state
 *  34  META_MEMBER   bucket, u8 add(1)/remove(2),   -   (leader only)
 *                    u32 node id
 *  37  META_BLOCKS   bucket, u8 first, id after[16], u32 n, n*block_row, u8 more
 *                    u32 max                        (leader only, never stale:
 *                                                   the mark of the stray sweep)
 *      block_row: id[16], u8 k, u8 m, u32 len, u64 csum, u32 refs (0: queued
 *      for GC), u8 cls (storage class; 0 for queued blocks, whose class the
 *      queue does not keep); blocks referenced by files and blocks awaiting
 *      GC, in id order
 *  47  META_LOCK_RENEW bucket, u64 session          u32 lease_ms (the session's
 *                                                   locks live that long without
 *                                                   another renewal)
 *  48  META_LOCK_CANCEL bucket, meta_lock (session, -   (a waiting MOP_LOCK of that
 *                    owner, ino, kind)              owner is answered -EINTR)
 *  49  META_GETLK    bucket, meta_lock              u8 found, meta_lock (the first
 *                                                   lock of another owner in the
 *                                                   way of the one described)
 *  (47..49 since v2)
 *  40  META_KEYS     "" (the catalog)               u32 n, n*key (keys.h, no secret)
 *      (since v3)
 *  41  META_KEY_SYNC "" (the catalog)               u32 n, n*key with secret
 *      (since v3; nodes only: their key caches)
 *  53  META_QUOTA    bucket, u8 what, u64 ino       u32 n, n*meta_quota, u8 more
 *                    (what: QUOTA_LIST from after ino, QUOTA_GET of ino,
 *                    QUOTA_NEAREST of ino or its closest ancestor; |
 *                    QUOTA_CHECK recounts the usage)
 *  54  META_TRASH    bucket, u64 after ino          i64 keep seconds, u32 n,
 *                                                 n*meta_trash, u8 more
 *  55  META_NODE_MAP "" (the catalog)            u32 n, n*(u32 node id, u8 state
 *                                                 (enum meta_node_state), i64
 *                                                 since_ns): the cluster map's
 *                                                 rows in id order, n <=
 *                                                 META_NODE_MAP_MAX; a node
 *                                                 without a row is up (since v3)
 *  57  META_BLOCK_STATS bucket                      u8 codec, u64 blocks, u64
 *                                                 compressed, u64 bytes (as
 *                                                 written), u64 stored
 *  60  META_READDIR_C bucket, u64 dir, u64 cookie,  u32 n, n*(str name, u64 cookie,
 *                    u32 max, u8 plus               meta_attr), u8 more (cookies
 *                                                   rising, above the request's;
 *                                                   see META_COOKIE_FIRST; since v3)
 *  61  META_LIST_D   as META_LIST, with '/' as      as META_LIST; a directory below
 *                    delimiter                      the prefix's is one "dir/" key
 *                                                   of size 0, not entered (v3)
 *  62  META_OPS      bucket, u32 n, n*meta_op       u32 n, n*meta_result, in the
 *                    (1 <= n <= META_OPS_MAX, each  order of the records (v4).
 *                    meta_op_batchable)             Proposed together, so they
 *                                                   travel in one Raft entry; the
 *                                                   call fails as a whole (e.g.
 *                                                   -EREMOTE) only when a record
 *                                                   could not be applied, and is
 *                                                   then repeated whole: op ids
 *                                                   answer the applied ones again.
 *  63  META_LOOKUPS  bucket, u32 n, n*(u64 parent,  u32 n, n*(i32 status, meta_attr
 *                    str name) (1 <= n <=           if status is 0), in order (v4).
 *                    META_LOOKUPS_MAX; no "." or    A replica answering stale
 *                    "..")                          says -OBJ_EMAJORITY where it
 *                                                   would say -ENOENT.
 *
 * Every META request goes to the shard's leader.  Any other replica
 * answers -EREMOTE, whose error reply carries after its text a u32: the
 * leader's node id, or 0 when unknown (an election is under way).  A node
 * that holds no replica of the shard answers -ENXIO.
 *
 * Reads without a majority (FRAME_F_STALE_OK, queries only): any replica
 * answers from its own state, but it cannot prove absence: a query whose
 * answer would be -ENOENT or -ENODATA fails with -OBJ_EMAJORITY
 * ("metadata majority unavailable") instead, since the entry may be
 * committed on the replicas that are down.  Found entries are served.
 *
 * Freshness (FRAME_F_INDEX, frame.h): the request body ends with the u64
 * highest applied index the client has seen on this shard; a replica whose
 * applied index is lower answers -OBJ_EMAJORITY, so a client never reads
 * older than what it has seen.  A successful reply then ends with the u64
 * applied index of the replica, read before the query ran (the answer is
 * at least that recent); for META_OP it is at or after the record's entry.
 */
#ifndef OBJFS_META_H
#define OBJFS_META_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "msg.h"

enum {
	MSG_META_OP = 20,
	MSG_META_LOOKUP = 21,
	MSG_META_GETATTR = 22,
	MSG_META_READDIR = 23,
	MSG_META_READLINK = 24,
	MSG_META_GETXATTR = 25,
	MSG_META_LISTXATTR = 26,
	MSG_META_EXTENTS = 27,
	MSG_META_STATFS = 28,
	MSG_META_RESOLVE = 29,
	MSG_META_LIST = 30,
	MSG_META_BUCKETS = 31,
	MSG_META_SHARD_OPEN = 32,
	MSG_META_SHARDS = 33,
	MSG_META_MEMBER = 34,
	MSG_META_BLOCKS = 37,
	/* 38..39 other families */
	MSG_META_KEYS = 40,
	MSG_META_KEY_SYNC = 41,
	MSG_META_LOCK_RENEW = 47,
	MSG_META_LOCK_CANCEL = 48,
	MSG_META_GETLK = 49,
	MSG_META_QUOTA = 53,
	MSG_META_TRASH = 54,
	MSG_META_NODE_MAP = 55,
	/* 56 other families */
	MSG_META_BLOCK_STATS = 57,
	MSG_META_READDIR_C = 60,
	MSG_META_LIST_D = 61,
	MSG_META_OPS = 62,
	MSG_META_LOOKUPS = 63,
	MSG_META_MAX
};

#define META_ROOT_INO 1
/* Inodes of snapshots (and /.snapshots itself) are numbered from here, by
 * the shard at apply time: read-only, and never confused with the inodes
 * the leader hands out below it. */
#define META_SNAP_INO_BASE ((uint64_t)1 << 62)
#define META_SNAP_DIR ".snapshots"
#define META_TRASH_DIR ".trash"
static inline int meta_is_snap_ino(uint64_t ino)
{
	return ino >= META_SNAP_INO_BASE;
}
#define META_NAME_MAX 255
#define META_SYMLINK_MAX 4095
#define META_XATTR_NAME_MAX 255
#define META_XATTR_VALUE_MAX 65536
#define META_EXTENTS_MAX 65536 /* per META_OP record (256 GiB of 4 MiB chunks) */
#define META_READDIR_MAX 1024
/* META_READDIR_C cookies: 0 lists from the start; an entry's cookie is a
 * hash of its name (>= META_COOKIE_FIRST, < 2^63), and the listing resumes
 * after it.  Below META_COOKIE_FIRST a client may number "." and "..". */
#define META_COOKIE_FIRST 3
#define META_BLOCKS_MAX 4096 /* rows per META_BLOCKS reply */

/* Node states of the cluster map (MOP_NODE_STATE, nodes/meta_nodemap.c). */
enum meta_node_state {
	META_NODE_UP = 0,
	META_NODE_DOWN = 1, /* not answering the catalog leader */
	META_NODE_GONE = 2, /* down longer than repair_after: being rebuilt */
	META_NODE_OUT = 3   /* objfsctl node out: drained, never a home */
};
struct meta_node_row {
	uint32_t id;
	uint8_t state; /* enum meta_node_state */
	int64_t since_ns;
};
/* Most rows of one META_NODE_MAP reply: a cluster has at most this many
 * nodes (CFG_MAX_NODES), and the map has a row only for a node that was
 * down or out. */
#define META_NODE_MAP_MAX 256

/* One row of META_BLOCKS. */
struct meta_block_row {
	struct manifest_block blk;
	uint32_t refs; /* 0: waiting in the GC queue */
};

struct meta_attr {
	uint64_t ino;
	uint32_t mode; /* S_IFMT type bits | permission bits */
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t rdev;
	uint64_t size;
	uint64_t blocks; /* 512-byte units actually stored */
	int64_t atime_ns, mtime_ns, ctime_ns;
	uint64_t gen; /* bumped on every data change: cache validation */
};

/* One chunk of a file: bytes [chunk*chunk_size, +len) live in a block.
 * A chunk missing from the extent list is a hole (reads as zeros), and
 * bytes past len inside a chunk read as zeros too. */
struct meta_extent {
	uint64_t chunk;
	struct manifest_block blk; /* id, k, m, len (bytes stored), csum */
	uint32_t len;		   /* bytes of the chunk that are valid (<= blk.len) */
};

enum meta_op_type {
	MOP_CREATE = 1,	  /* name in parent: file, dir, symlink, fifo, dev */
	MOP_LINK = 2,	  /* hard link ino as newname in newparent */
	MOP_UNLINK = 3,	  /* name in parent (not a directory) */
	MOP_RMDIR = 4,	  /* empty directory name in parent */
	MOP_RENAME = 5,	  /* name in parent -> newname in newparent, flags */
	MOP_SETATTR = 6,  /* valid: which of mode/uid/gid/size/atime/mtime */
	MOP_SETXATTR = 7, /* name = value (flags: XATTR_CREATE/REPLACE) */
	MOP_REMOVEXATTR = 8,
	MOP_WRITE = 9,		/* replace chunks of ino, set size (>= old unless
				 * truncating is flagged) and mtime */
	MOP_FORGET = 10,	/* the last user of an unlinked inode is gone */
	MOP_BUCKET_CREATE = 11, /* name set: catalog entry for bucket `name`
				 * (EEXIST); name empty: this bucket shard
				 * creates its root directory
				 * (mode, uid, gid) and record chunk_size,
				 * inline_max; idempotent */
	MOP_BUCKET_DELETE = 12, /* name set: drop the catalog entry (ENOENT);
				 * name empty: ENOTEMPTY unless the root is
				 * empty or META_F_FORCE; then every inode
				 * goes and every block is queued for GC */
	MOP_GC_DONE = 13,	/* blocks whose fragments were deleted (ext[].blk) */
	MOP_PUT = 14,		/* create or replace the file at path `name` with
				 * the given content (inline data or extents) and
				 * size, making missing parents: atomic object put */
	MOP_QUOTA_SET = 20,	/* limits of directory ino: data = 4 u64 LE (max
				 * bytes, max inodes, soft bytes, soft inodes; 0 =
				 * none); all 0 removes the quota */
	MOP_SNAPSHOT = 21,	/* read-only copy of directory ino's tree as
				 * /.snapshots/name (blocks shared) */
	MOP_SNAPSHOT_RM = 22,	/* drop /.snapshots/name */
	MOP_TRASH_SET = 23,	/* keep deleted entries size seconds (0: off) */
	MOP_TRASH_RESTORE = 24, /* put trashed inode ino back where it was */
	MOP_TRASH_EMPTY = 25,	/* purge entries deleted at or before size (ns;
				 * 0: all), a bounded batch per record */
	MOP_NODE_STATE = 26,	/* cluster map (catalog only): node ino is in
				 * state mode (meta_node_state) since size (ns
				 * of the leader's clock; 0: the record's now_ns) */
	/* Bucket shard: new blocks use codec `mode` (BLK_CODEC_*; EINVAL
	 * else, ENOENT without a bucket); stored blocks keep theirs. */
	MOP_BUCKET_COMPRESS = 28,
	/* 27, 30..39 other families; key records (catalog only) take the ids of
	 * their messages' range. */
	MOP_CLASS_MOVE = 29, /* storage class mover: ext[] new blocks of chunks of
			      * ino, data = n_ext * 16-byte ids of the blocks they
			      * replace; a chunk still naming its old block (same
			      * valid len) takes the new one, the others are left;
			      * only gen changes (meta_class.c) */
	MOP_KEY_PUT = 40,    /* create key `name` (EEXIST): id in ino, caps in
			      * mode, bucket in newname, secret in data */
	MOP_KEY_DEL = 41,    /* revoke key `name` (ENOENT) */
	MOP_LOCK = 47,	     /* take, change or release a lock (meta_lock_to_op):
			      * 0 or -EAGAIN; with META_F_LOCK_WAIT the leader
			      * keeps an -EAGAIN waiting and tries again when a
			      * lock of the inode is released */
	MOP_LOCK_DROP = 48,  /* every lock of session `parent` goes (lease
			      * expired, or the mount ends) */
	MOP_MAX
};

/* setattr valid bits */
#define META_SET_MODE 0x01
#define META_SET_UID 0x02
#define META_SET_GID 0x04
#define META_SET_SIZE 0x08
#define META_SET_ATIME 0x10
#define META_SET_MTIME 0x20
#define META_SET_ATIME_NOW 0x40
#define META_SET_MTIME_NOW 0x80
#define META_SET_CTIME 0x100
/* A read's access time (relatime): atime = now if the stored one is a day
 * or more older, nothing else; ctime stays.  Alone in valid. */
#define META_SET_ATIME_READ 0x200
#define META_ATIME_READ_NS ((int64_t)86400 * 1000000000)

/* op flags */
#define META_F_EXCL 0x01      /* CREATE: fail with EEXIST (else open existing) */
#define META_F_NOREPLACE 0x02 /* RENAME_NOREPLACE */
#define META_F_EXCHANGE 0x04  /* RENAME_EXCHANGE */
#define META_F_KEEP_ORPHAN                                                                         \
	0x08 /* UNLINK/RENAME-over: keep inode data until                                          \
	      * MOP_FORGET (a mounted client may hold it) */
#define META_F_PATH                                                                                \
	0x10 /* name is a slash-separated path from the                                            \
	      * root (object calls); PUT makes parents */
#define META_F_XATTR_CREATE 0x20
#define META_F_XATTR_REPLACE 0x40
#define META_F_INLINE 0x80     /* WRITE/PUT: content is op->data (inline) */
#define META_F_TRUNCATE 0x100  /* WRITE: op->size may shrink the file */
#define META_F_FORCE 0x200     /* BUCKET_DELETE of a non-empty bucket */
#define META_F_PUNCH 0x400     /* WRITE: the chunks ext[].chunk become holes */
#define META_F_LOCK_WAIT 0x800 /* LOCK: wait for a conflicting lock to go */
#define META_F_UMASK                                                                               \
	0x1000 /* CREATE: `valid` is the creator's umask, applied unless the                       \
		* parent has a default ACL (then inherited) */

struct meta_op {
	uint8_t type;
	uint32_t flags;
	uint64_t op_id;	  /* unique per logical operation (retries reuse it) */
	int64_t now_ns;	  /* decided by the leader */
	uint64_t new_ino; /* decided by the leader (CREATE; 0 otherwise) */
	uint64_t parent, ino, newparent;
	char name[WIRE_STR_MAX + 1]; /* a path with META_F_PATH */
	char newname[META_NAME_MAX + 1];
	uint32_t mode, uid, gid;
	uint64_t rdev;
	uint32_t valid; /* SETATTR */
	uint64_t size;	/* SETATTR size, WRITE new size */
	int64_t atime_ns, mtime_ns;
	const uint8_t *data; /* symlink target, xattr value, inline file data */
	size_t data_len;
	uint32_t chunk_size, inline_max; /* BUCKET_CREATE */
	struct meta_extent *ext;	 /* WRITE, PUT, GC_DONE; decode allocates */
	size_t n_ext;
};

/* The outcome of applying an op: the status (0 or -errno, same on every
 * replica) and the attributes of the inode it concerns. */
struct meta_result {
	int32_t status;
	struct meta_attr attr; /* created/changed inode */
	uint64_t freed_ino;    /* UNLINK/RMDIR/RENAME: inode whose last link went */
	/* CREATE of a new inode, UNLINK, RMDIR: the directory's ctime just
	 * before this change stamped it (0: not known, e.g. a result kept
	 * from before this field), so a client that knows the directory's
	 * names can tell whether anybody else changed it in between
	 * (fuse/dirnames.h).  Since frame version 4. */
	int64_t dir_ctime_was;
};

/* One replica's view of a shard group (META_SHARDS). */
struct shard_state {
	char name[MSG_NAME_MAX];
	uint8_t role;	    /* 0 unavailable, 1 follower, 2 candidate, 3 leader */
	uint8_t ready;	    /* leader serving requests */
	uint32_t leader_id; /* node id, 0 unknown */
	uint64_t term, commit, applied, last_index;
	uint32_t n_voters;
	uint32_t voter_id[8];
	uint64_t match[8]; /* leader: each voter's replicated index */
};
/* A lock of the cluster-wide lock table: flock(2) locks and POSIX record
 * locks (fcntl, OFD) never conflict with each other, as on Linux.  The
 * owner is (session, owner): session names one mount (a random id, its
 * lease renewed by META_LOCK_RENEW), owner the kernel's lock owner. */
enum { META_LK_POSIX = 1, META_LK_FLOCK = 2 };
enum { META_LK_RD = 1, META_LK_WR = 2, META_LK_UN = 3 };
#define META_LOCK_EOF UINT64_MAX /* end of a lock "to the end of file" */
struct meta_lock {
	uint64_t ino;
	uint64_t session, owner;
	uint64_t start, end; /* bytes [start, end], inclusive; flock: 0..EOF */
	uint32_t pid;	     /* informational (F_GETLK) */
	uint8_t kind;	     /* META_LK_POSIX / FLOCK */
	uint8_t type;	     /* META_LK_RD / WR / UN */
};
void meta_put_lock(struct wr *w, const struct meta_lock *l);
/* Marks r bad for an unknown kind or type or start > end. */
void meta_get_lock(struct rd *r, struct meta_lock *l);
/* MOP_LOCK carries a lock in the op's fields: ino, parent = session,
 * newparent = owner, size = start, rdev = end, uid = pid, mode = type,
 * valid = kind.  to_op sets the type and those fields only. */
void meta_lock_to_op(const struct meta_lock *l, struct meta_op *op);
void meta_op_to_lock(const struct meta_op *op, struct meta_lock *l);

void meta_put_shard_state(struct wr *w, const struct shard_state *s);
void meta_get_shard_state(struct rd *r, struct shard_state *s);

/* A quota on a directory tree (META_QUOTA, MOP_QUOTA_SET).  Usage counts
 * the entries below ino (inodes) and their regular files' sizes (bytes),
 * kept exactly as operations apply; 0 limits are none. */
#define QUOTA_LIST 0
#define QUOTA_GET 1
#define QUOTA_NEAREST 2
#define QUOTA_CHECK 0x80
#define QUOTA_LIST_MAX 1000
struct meta_quota {
	uint64_t ino;
	uint64_t max_bytes, max_inodes, soft_bytes, soft_inodes;
	uint64_t used_bytes, used_inodes;
	uint64_t counted_bytes, counted_inodes; /* QUOTA_CHECK: recounted now */
	char path[WIRE_STR_MAX + 1];		/* from the root, "/" for it */
};
/* A deleted file or directory kept in the bucket's trash (META_TRASH). */
#define TRASH_LIST_MAX 256
struct meta_trash {
	uint64_t ino, parent; /* where it was: parent directory and name */
	uint32_t mode;
	uint64_t size;
	int64_t deleted_ns;
	char name[META_NAME_MAX + 1];
	char parent_path[WIRE_STR_MAX + 1]; /* "" when the parent is gone */
};
void meta_put_trash(struct wr *w, const struct meta_trash *t);
void meta_get_trash(struct rd *r, struct meta_trash *t);

void meta_put_quota(struct wr *w, const struct meta_quota *q);
void meta_get_quota(struct rd *r, struct meta_quota *q);

void meta_put_attr(struct wr *w, const struct meta_attr *a);
void meta_get_attr(struct rd *r, struct meta_attr *a);
void meta_put_extent(struct wr *w, const struct meta_extent *e);
void meta_get_extent(struct rd *r, struct meta_extent *e);
void meta_put_op(struct wr *w, const struct meta_op *op);
/* Decodes an op; op->data points into the input; op->ext is allocated
 * (release with meta_op_free).  The caller checks rd_done(r). */
void meta_get_op(struct rd *r, struct meta_op *op);
void meta_op_free(struct meta_op *op);
void meta_put_result(struct wr *w, const struct meta_result *res);
/* Records one META_OPS request may carry; lookups one META_LOOKUPS may. */
#define META_OPS_MAX 64
#define META_LOOKUPS_MAX 64
/* 1 when a record of this type may travel in META_OPS: a change of files
 * that a read-write key may make and that never waits (not a lock, not a
 * bucket, key, quota, codec, cluster-map or GC record). */
int meta_op_batchable(uint8_t type);
void meta_get_result(struct rd *r, struct meta_result *res);

/* Checks a file name: 1..255 bytes, no '/', not "." or "..".  Returns 0,
 * -ENAMETOOLONG or -EINVAL. */
int meta_check_name(const char *name);

#endif
