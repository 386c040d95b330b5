/* meta_store.c: one metadata shard in one SQLite database (see meta_store.h):
 * the deterministic apply of operation records (ms_apply, the do_* ops, the
 * op-result table).  The schema, statements, open/close/backup and the inode,
 * extent and dirent primitives live in meta_store_db.c, the queries in
 * meta_store_query.c; meta_store_i.h is private to the three.  Never reads the
 * clock, never does network I/O; any thread (one connection serialised by
 * ms->lock).
 *
 * DESIGN
 *  Tables: inodes (one row per inode, orphans included), dirents keyed by
 *  (parent, name), extents keyed by (ino, chunk) pointing at blocks (the
 *  block's k, m, length and checksum live once in `blocks` with a reference
 *  count), gc (blocks no extent references any more), xattrs, meta (applied
 *  index, chunk_size, inline_max, next_ino, result_seq), op_results (the
 *  last MS_RESULTS_KEPT results by op_id), buckets (the catalog) and
 *  locks (the cluster-wide lock table, meta_store_locks.c).
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
 *  - RMDIR, and RENAME over an empty directory, with KEEP_ORPHAN keep the
 *    directory as an orphan (nlink 0) as UNLINK keeps a file, until FORGET.
 *  - WRITE with META_F_PUNCH: the chunks ext[].chunk (all-zero extents)
 *    become holes, their blocks released; size unchanged.
 *  - SNAPSHOT copies directory ino's tree to /.snapshots/name (EEXIST if
 *    taken; EINVAL for a tree inside a snapshot); SNAPSHOT_RM drops one.
 *    Any other change to a snapshot or to /.snapshots is EROFS, and taking
 *    the name .snapshots at the root is EPERM (meta_snap.c).
 *  - With TRASH_SET seconds > 0, UNLINK of a last link and RMDIR move the
 *    inode to /.trash instead (meta_trash.c), until TRASH_RESTORE or
 *    TRASH_EMPTY; renames over a name still delete the victim.
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
#include "meta_store_i.h"

#include <sys/stat.h>

#include "../common/ec.h"
#include "../common/log.h"

/* A client retries within seconds; 10000 results cover far more ops than
 * can be in flight, at a few hundred KB of database. */
#define MS_RESULTS_KEPT 10000

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
	x->parent = parent; /* files too: where their quotas are charged */
}

/* Creates ino (already claimed) as name in dir. */
static int make_entry(struct mstore *ms, const struct meta_op *op, struct inode *x, uint64_t dir,
		      const char *name)
{
	bool isdir = S_ISDIR(x->a.mode);
	int rc = msi_ino_write(ms, S_INO_INS, x);

	if (rc == 0) {
		rc = msi_de_put(ms, S_DE_INS, dir, name, x->a.ino, isdir);
	}
	if (rc == 0) {
		rc = msi_dir_touch(ms, dir, isdir ? 1 : 0, op->now_ns);
	}
	if (rc == 0) {
		rc = msi_quota_charge(ms, dir, 0, 1);
	}
	return rc;
}

static int do_create(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	uint32_t type = op->mode & S_IFMT, mode;
	struct msi_inherit inh = {0};
	struct inode dir, x;
	uint64_t ino = 0;
	int rc;

	rc = msi_dir_get(ms, op->parent, &dir);
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
	case S_IFREG:
	case S_IFDIR:
	case S_IFIFO:
	case S_IFSOCK:
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		rc = -EINVAL;
	}
	if (rc == 0) {
		rc = msi_de_get(ms, op->parent, op->name, &ino);
		if (rc == 0) {
			/* The name exists already. */
			rc = msi_ino_get(ms, ino, &x);
			if (rc < 0) {
				return rc == -ENOENT ? -EIO : rc; /* an entry without inode */
			}
			if (!S_ISREG(x.a.mode) || type != S_IFREG || (op->flags & META_F_EXCL)) {
				return -EEXIST;
			}
			res->attr = x.a;
			return 0;
		}
		if (rc == -ENOENT) {
			rc = msi_ino_claim(ms, op->new_ino);
		}
	}
	mode = type | (op->mode & 07777);
	if (rc == 0) {
		rc = msi_acl_inherit(ms, op, &mode, &inh);
	}
	if (rc < 0) {
		return rc;
	}
	new_inode(&x, op, op->new_ino, mode, op->parent);
	if (type == S_IFCHR || type == S_IFBLK) {
		x.a.rdev = op->rdev;
	}
	if (type == S_IFLNK) {
		x.a.size = op->data_len;
	}
	rc = make_entry(ms, op, &x, op->parent, op->name);
	if (rc == 0 && type == S_IFLNK) {
		rc = msi_run(ms, S_TGT_SET, ARGS(AI(x.a.ino), AB(op->data, op->data_len)));
	}
	if (rc == 0) {
		rc = msi_acl_inherit_store(ms, x.a.ino, &inh);
	}
	msi_acl_inherit_done(&inh);
	res->dir_ctime_was = dir.a.ctime_ns; /* a new entry: the stamp it replaced */
	return rc < 0 ? rc : msi_attr_of(ms, x.a.ino, &res->attr);
}

static int do_link(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	struct inode x, dir;
	uint64_t other;
	int rc = msi_ino_get(ms, op->ino, &x);

	if (rc < 0) {
		return rc;
	}
	if (S_ISDIR(x.a.mode)) {
		return -EPERM;
	}
	if (x.a.nlink == 0) {
		return -ENOENT;
	}
	rc = msi_dir_get(ms, op->newparent, &dir);
	if (rc == 0) {
		rc = meta_check_name(op->newname);
	}
	if (rc == 0) {
		rc = msi_de_get(ms, op->newparent, op->newname, &other);
		rc = rc == 0 ? -EEXIST : rc == -ENOENT ? 0 : rc;
	}
	if (rc < 0) {
		return rc;
	}
	x.a.nlink++;
	x.a.ctime_ns = op->now_ns;
	rc = msi_ino_write(ms, S_INO_UPD, &x);
	if (rc == 0) {
		rc = msi_de_put(ms, S_DE_INS, op->newparent, op->newname, x.a.ino, false);
	}
	if (rc == 0) {
		rc = msi_dir_touch(ms, op->newparent, 0, op->now_ns);
	}
	return rc < 0 ? rc : msi_attr_of(ms, x.a.ino, &res->attr);
}

/* The directory and name an UNLINK/RMDIR names (META_F_PATH or not). */
static int op_target(struct mstore *ms, const struct meta_op *op, struct inode *dir, char *leaf)
{
	int rc;

	if (op->flags & META_F_PATH) {
		return msi_walk(ms, op->name, strlen(op->name), dir, leaf);
	}
	rc = msi_dir_get(ms, op->parent, dir);
	if (rc == 0) {
		rc = meta_check_name(op->name);
	}
	if (rc == 0) {
		strcpy(leaf, op->name);
	}
	return rc;
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
		rc = msi_de_get(ms, dir.a.ino, leaf, &ino);
		if (rc == 0) {
			rc = msi_ino_get(ms, ino, &x);
		}
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
		rc = msi_get_int(ms, S_DE_ANY, ARGS(AI(ino)), &any);
		if (rc != 0) {
			return rc < 0 ? rc : -ENOTEMPTY;
		}
	}
	rc = msi_de_del(ms, dir.a.ino, leaf);
	if (rc == 0) {
		rc = msi_dir_touch(ms, dir.a.ino, rmdir ? -1 : 0, op->now_ns);
	}
	if (rc < 0) {
		return rc;
	}
	res->dir_ctime_was = dir.a.ctime_ns;
	rc = (rmdir || x.a.nlink == 1) ? msi_trash_on(ms) : 0;
	if (rc > 0) {
		/* Its last link: kept in the trash, not deleted. */
		rc = msi_trash_put(ms, &x, dir.a.ino, leaf, op->now_ns);
		res->attr = x.a;
		res->attr.ctime_ns = op->now_ns; /* the reply's stamp, as below */
		return rc;
	}
	if (rc < 0) {
		return rc;
	}
	if (rmdir) {
		x.a.nlink = 1; /* an empty directory's last link goes */
	}
	rc = msi_drop_link(ms, &x, op->flags & META_F_KEEP_ORPHAN, op->now_ns, res);
	/* The victim's ctime is now_ns, the directory's new mtime and ctime:
	 * a client patches its cached directory attributes with it. */
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
		rc = msi_is_ancestor(ms, dst->a.ino, op->parent);
	}
	if (rc != 0) {
		return rc < 0 ? rc : -EINVAL;
	}
	rc = msi_de_put(ms, S_DE_UPD, op->parent, op->name, dst->a.ino, dd);
	if (rc == 0) {
		rc = msi_de_put(ms, S_DE_UPD, op->newparent, op->newname, src->a.ino, sd);
	}
	if (moves && rc == 0) {
		rc = msi_quota_move(ms, src->parent ? src->parent : op->parent, op->newparent,
				    S_ISREG(src->a.mode) ? (int64_t)src->a.size : 0, 1, sd);
	}
	if (moves && rc == 0) {
		rc = msi_quota_move(ms, dst->parent ? dst->parent : op->newparent, op->parent,
				    S_ISREG(dst->a.mode) ? (int64_t)dst->a.size : 0, 1, dd);
	}
	if (moves) {
		src->parent = op->newparent;
		dst->parent = op->parent;
	}
	src->a.ctime_ns = dst->a.ctime_ns = op->now_ns;
	if (rc == 0) {
		rc = msi_ino_write(ms, S_INO_UPD, src);
	}
	if (rc == 0) {
		rc = msi_ino_write(ms, S_INO_UPD, dst);
	}
	if (rc == 0) {
		rc = msi_dir_touch(ms, op->parent, moves ? -dn : 0, op->now_ns);
	}
	if (rc == 0 && moves) {
		rc = msi_dir_touch(ms, op->newparent, dn, op->now_ns);
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
	rc = msi_dir_get(ms, op->parent, &sdir);
	if (rc == 0) {
		rc = msi_dir_get(ms, op->newparent, &ddir);
	}
	if (rc == 0) {
		rc = meta_check_name(op->name);
	}
	if (rc == 0) {
		rc = meta_check_name(op->newname);
	}
	if (rc == 0) {
		rc = msi_de_get(ms, op->parent, op->name, &sino);
		if (rc == 0) {
			rc = msi_ino_get(ms, sino, &src);
		}
	}
	if (rc < 0) {
		return rc;
	}
	rc = msi_de_get(ms, op->newparent, op->newname, &dino);
	if (rc == 0) {
		rc = msi_ino_get(ms, dino, &dst);
	}
	if (rc < 0 && rc != -ENOENT) {
		return rc;
	}
	found = rc == 0;
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
		rc = msi_is_ancestor(ms, sino, op->newparent);
		if (rc != 0) {
			return rc < 0 ? rc : -EINVAL;
		}
	}
	if (xchg) {
		rc = rename_exchange(ms, op, &src, &dst);
		return rc < 0 ? rc : msi_attr_of(ms, sino, &res->attr);
	}
	if (found && sd && !dd) {
		return -ENOTDIR;
	}
	if (found && !sd && dd) {
		return -EISDIR;
	}
	if (dd) {
		int64_t any;

		rc = msi_get_int(ms, S_DE_ANY, ARGS(AI(dino)), &any);
		if (rc != 0) {
			return rc < 0 ? rc : -ENOTEMPTY;
		}
	}
	if (op->parent != op->newparent) {
		/* Checked before anything changes: EXDEV or EDQUOT undo nothing. */
		rc = msi_quota_move(ms, src.parent ? src.parent : op->parent, op->newparent,
				    S_ISREG(src.a.mode) ? (int64_t)src.a.size : 0, 1, sd);
		if (rc < 0) {
			return rc;
		}
	}
	rc = msi_de_del(ms, op->parent, op->name);
	if (rc == 0) {
		rc = msi_de_put(ms, found ? S_DE_UPD : S_DE_INS, op->newparent, op->newname, sino,
				sd);
	}
	if (rc == 0 && found) {
		if (dd) {
			dst.a.nlink = 1; /* an empty directory's last link goes */
		}
		rc = msi_drop_link(ms, &dst, op->flags & META_F_KEEP_ORPHAN, op->now_ns, res);
	}
	src.parent = op->newparent;
	src.a.ctime_ns = op->now_ns;
	if (rc == 0) {
		rc = msi_ino_write(ms, S_INO_UPD, &src);
	}
	if (op->parent == op->newparent) {
		/* A replaced directory was a subdirectory of this one. */
		if (rc == 0) {
			rc = msi_dir_touch(ms, op->parent, dd ? -1 : 0, op->now_ns);
		}
	} else {
		if (rc == 0) {
			rc = msi_dir_touch(ms, op->parent, sd ? -1 : 0, op->now_ns);
		}
		if (rc == 0) {
			rc = msi_dir_touch(ms, op->newparent, (sd ? 1 : 0) - (dd ? 1 : 0),
					   op->now_ns);
		}
	}
	return rc < 0 ? rc : msi_attr_of(ms, sino, &res->attr);
}

static int do_setattr(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	uint32_t v = op->valid;
	struct inode x;
	int rc = msi_ino_get(ms, op->ino, &x);

	if (rc < 0) {
		return rc;
	}
	if (v == META_SET_ATIME_READ) {
		/* Reads record when a file was last read, to a day, as
		 * relatime does: the mover's age rule (class age) needs no
		 * more, and a read costs a commit at most once a day. */
		if (op->now_ns - x.a.atime_ns >= META_ATIME_READ_NS) {
			x.a.atime_ns = op->now_ns;
			rc = msi_ino_write(ms, S_INO_UPD, &x);
		}
		return rc < 0 ? rc : msi_attr_of(ms, x.a.ino, &res->attr);
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
		rc = msi_quota_charge(ms, x.parent, (int64_t)op->size - (int64_t)x.a.size, 0);
		if (rc == 0 && op->size < x.a.size) {
			rc = msi_ext_trim(ms, x.a.ino, op->size);
		}
		if (rc == 0) {
			rc = msi_inline_resize(ms, &x, op->size);
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
		rc = msi_acl_chmod(ms, x.a.ino, x.a.mode);
		if (rc < 0) {
			return rc;
		}
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
	rc = msi_ino_write(ms, S_INO_UPD, &x);
	return rc < 0 ? rc : msi_attr_of(ms, x.a.ino, &res->attr);
}

static int do_xattr(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	size_t nlen = strlen(op->name);
	struct inode x;
	uint32_t f = op->flags & (META_F_XATTR_CREATE | META_F_XATTR_REPLACE);
	int64_t any;
	int rc = msi_ino_get(ms, op->ino, &x);

	if (rc < 0) {
		return rc;
	}
	if (nlen == 0 || nlen > META_XATTR_NAME_MAX) {
		return -ERANGE;
	}
	if (msi_acl_name(op->name)) {
		return msi_acl_xattr(ms, op, &x, res);
	}
	rc = msi_get_int(ms, S_XA_GET, ARGS(AI(x.a.ino), AB(op->name, nlen)), &any);
	if (rc < 0) {
		return rc;
	}
	if (op->type == MOP_REMOVEXATTR) {
		if (rc == 0) {
			return -ENODATA;
		}
		rc = msi_run(ms, S_XA_DEL, ARGS(AI(x.a.ino), AB(op->name, nlen)));
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
		rc = msi_run(ms, S_XA_PUT,
			     ARGS(AI(x.a.ino), AB(op->name, nlen), AB(op->data, op->data_len)));
	}
	if (rc == 0) {
		rc = msi_run(ms, S_INO_CTIME, ARGS(AI(x.a.ino), AI(op->now_ns)));
	}
	return rc < 0 ? rc : msi_attr_of(ms, x.a.ino, &res->attr);
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
	rc = msi_meta_get(ms, K_CHUNK, &cs);
	if (rc < 0) {
		return rc;
	}
	if (cs <= 0 || op->ext == NULL || op->n_ext > META_EXTENTS_MAX) {
		return -EINVAL;
	}
	for (size_t i = 0; i < op->n_ext; i++) {
		const struct meta_extent *e = &op->ext[i];

		if (e->blk.k < 1 || e->blk.k > EC_MAX_K || e->blk.m > EC_MAX_M || e->blk.len == 0 ||
		    e->blk.len > MSG_BLOCK_MAX || e->len > e->blk.len || e->len > (uint64_t)cs ||
		    mb_check_codec(&e->blk) != 0 || e->len > size ||
		    e->chunk > (size - e->len) / (uint64_t)cs) {
			return -EINVAL;
		}
	}
	return 0;
}

/* Gives file x the op's content and size (after content_check):
 * WRITE semantics, or PUT's (every old extent goes) when replace. */
static int content_set(struct mstore *ms, const struct meta_op *op, struct inode *x, uint64_t size,
		       bool replace)
{
	bool inl = op->flags & META_F_INLINE;
	int rc = msi_quota_charge(ms, x->parent, (int64_t)size - (int64_t)x->a.size, 0);

	if (rc < 0) {
		return rc;
	}
	if (replace || inl) {
		rc = msi_ext_drop(ms, x->a.ino, 0);
	} else if (size < x->a.size) {
		rc = msi_ext_trim(ms, x->a.ino, size);
	}
	if (rc == 0 && inl) {
		rc = msi_inline_set(ms, x->a.ino, op->data, op->data_len);
	} else if (rc == 0) {
		for (size_t i = 0; i < op->n_ext && rc == 0; i++) {
			rc = msi_ext_set(ms, x->a.ino, &op->ext[i]);
		}
		if (rc == 0 && x->inl_len != 0) {
			rc = msi_inline_set(ms, x->a.ino, NULL, 0);
		}
	}
	x->a.size = size;
	x->a.gen++;
	/* mtime may be the writer's (the time of its last write); ctime is
	 * always the shard's: it records when the change became visible. */
	x->a.mtime_ns = op->mtime_ns ? op->mtime_ns : op->now_ns;
	x->a.ctime_ns = op->now_ns;
	if (rc == 0) {
		rc = msi_ino_write(ms, S_INO_UPD, x);
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

/* WRITE with META_F_PUNCH (fallocate's hole punching): the chunks named
 * by ext[].chunk lose their blocks and read as zeros; the size stays.
 * The client zeroes the partial chunks at the edges itself. */
static int do_punch(struct mstore *ms, const struct meta_op *op, struct inode *x,
		    struct meta_result *res)
{
	int rc = 0;

	if ((op->flags & (META_F_INLINE | META_F_TRUNCATE)) || op->n_ext > META_EXTENTS_MAX ||
	    (op->n_ext != 0 && op->ext == NULL)) {
		return -EINVAL;
	}
	for (size_t i = 0; i < op->n_ext && rc == 0; i++) {
		rc = msi_ext_unset(ms, x->a.ino, op->ext[i].chunk);
	}
	x->a.gen++;
	x->a.mtime_ns = op->now_ns;
	x->a.ctime_ns = op->now_ns;
	if (rc == 0) {
		rc = msi_ino_write(ms, S_INO_UPD, x);
	}
	return rc < 0 ? rc : msi_attr_of(ms, x->a.ino, &res->attr);
}

static int do_write(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	struct inode x;
	uint64_t size;
	int rc = msi_ino_get(ms, op->ino, &x);

	if (rc < 0) {
		return rc;
	}
	rc = check_regular(&x);
	if (rc < 0) {
		return rc;
	}
	if (op->flags & META_F_PUNCH) {
		return do_punch(ms, op, &x, res);
	}
	if (op->size > INT64_MAX) {
		return -EFBIG;
	}
	size = (op->flags & META_F_TRUNCATE) || op->size > x.a.size ? op->size : x.a.size;
	rc = content_check(ms, op, size);
	if (rc == 0) {
		rc = content_set(ms, op, &x, size, false);
	}
	return rc < 0 ? rc : msi_attr_of(ms, x.a.ino, &res->attr);
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
		rc = msi_dir_get(ms, META_ROOT_INO, &dir);
	}
	if (rc < 0) {
		return rc;
	}
	do {
		more = msi_next_comp(op->name, len, &pos, name);
		if (more < 0) {
			return more;
		}
		rc = msi_de_get(ms, dir.a.ino, name, &ino);
		if (rc == 0) {
			rc = msi_ino_get(ms, ino, &x);
			rc = rc == -ENOENT ? -EIO : rc; /* an entry without inode */
		} else if (rc == -ENOENT) {
			/* Missing: a parent directory, or the file itself. */
			rc = msi_ino_claim(ms, next);
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
				return rc < 0 ? rc : msi_attr_of(ms, x.a.ino, &res->attr);
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
	return rc < 0 ? rc : msi_attr_of(ms, x.a.ino, &res->attr);
}

static int do_forget(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	struct inode x;
	int rc = msi_ino_get(ms, op->ino, &x);

	if (rc < 0 || x.a.nlink != 0) {
		return rc == -ENOENT ? 0 : rc; /* gone already, or still linked */
	}
	res->attr = x.a;
	res->freed_ino = x.a.ino;
	return msi_ino_delete(ms, x.a.ino);
}

static int do_gc_done(struct mstore *ms, const struct meta_op *op)
{
	int rc = 0;

	if (op->n_ext != 0 && op->ext == NULL) {
		return -EINVAL;
	}
	for (size_t i = 0; i < op->n_ext && rc == 0; i++) {
		rc = msi_run(ms, S_GC_DEL, ARGS(AB(op->ext[i].blk.id, BLOCK_ID_LEN)));
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
		rc = msi_get_int(ms, S_BK_GET, ARGS(AB(op->name, nlen)), &v);
		if (rc != 0) {
			return rc < 0 ? rc : -EEXIST;
		}
		return msi_run(ms, S_BK_INS,
			       ARGS(AB(op->name, nlen), AI(op->chunk_size), AI(op->inline_max),
				    AI(op->now_ns)));
	}
	if (type != 0 && type != S_IFDIR) {
		return -EINVAL;
	}
	rc = msi_ino_get(ms, META_ROOT_INO, &root);
	if (rc == 0) {
		res->attr = root.a; /* initialised already */
		return 0;
	}
	if (rc != -ENOENT) {
		return rc;
	}
	new_inode(&root, op, META_ROOT_INO, S_IFDIR | (op->mode & 07777), META_ROOT_INO);
	rc = msi_ino_write(ms, S_INO_INS, &root);
	if (rc == 0) {
		rc = msi_meta_set(ms, K_CHUNK, op->chunk_size);
	}
	if (rc == 0) {
		rc = msi_meta_set(ms, K_INLINE, op->inline_max);
	}
	if (rc == 0) {
		rc = msi_meta_get(ms, K_NEXT_INO, &v);
	}
	if (rc == 0 && v < 2) {
		rc = msi_meta_set(ms, K_NEXT_INO, 2);
	}
	return rc < 0 ? rc : msi_attr_of(ms, META_ROOT_INO, &res->attr);
}

static int do_bucket_delete(struct mstore *ms, const struct meta_op *op)
{
	size_t nlen = strlen(op->name);
	struct inode root;
	int64_t any;
	int rc;

	if (nlen != 0) {
		rc = msi_get_int(ms, S_BK_GET, ARGS(AB(op->name, nlen)), &any);
		if (rc <= 0) {
			return rc < 0 ? rc : -ENOENT;
		}
		return msi_run(ms, S_BK_DEL, ARGS(AB(op->name, nlen)));
	}
	rc = msi_ino_get(ms, META_ROOT_INO, &root);
	if (rc < 0) {
		return rc == -ENOENT ? 0 : rc; /* never initialised: nothing to drop */
	}
	if (!(op->flags & META_F_FORCE)) {
		rc = msi_get_int(ms, S_DE_ANY, ARGS(AI(META_ROOT_INO)), &any);
		if (rc != 0) {
			return rc < 0 ? rc : -ENOTEMPTY;
		}
	}
	rc = msi_wipe(ms);
	if (rc == 0) {
		rc = msi_meta_set(ms, K_CHUNK, 0);
	}
	return rc == 0 ? msi_meta_set(ms, K_INLINE, 0) : rc;
}

static int dispatch(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	int rc = msi_snap_guard(ms, op);

	if (rc < 0) {
		return rc;
	}
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
	case MOP_LOCK:
		return msi_lock(ms, op);
	case MOP_LOCK_DROP:
		return msi_lock_drop(ms, op);
	case MOP_QUOTA_SET:
		return msi_quota_set(ms, op);
	case MOP_CLASS_MOVE:
		return msi_class_move(ms, op, res);
	case MOP_SNAPSHOT:
		return msi_snap_create(ms, op, res);
	case MOP_SNAPSHOT_RM:
		return msi_snap_remove(ms, op, res);
	case MOP_TRASH_SET:
		return msi_trash_set(ms, op);
	case MOP_BUCKET_COMPRESS:
		return msi_compress_set(ms, op);
	case MOP_TRASH_RESTORE:
		return msi_trash_restore(ms, op, res);
	case MOP_TRASH_EMPTY:
		return msi_trash_empty(ms, op);
	case MOP_KEY_PUT:
	case MOP_KEY_DEL:
		return msi_key_apply(ms, op);
	case MOP_NODE_STATE:
		return msi_node_state(ms, op);
	default:
		return -EINVAL;
	}
}

/* ---- op results ---- */

static int result_get(struct mstore *ms, uint64_t op_id, struct meta_result *res)
{
	sqlite3_stmt *st = msi_bind(ms, S_RES_GET, ARGS(AI(op_id)));
	int rc = msi_first_row(ms, S_RES_GET, st);

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
		msi_stmt_done(st);
	}
	return rc;
}

/* Remembers res under op_id, forgetting the oldest beyond the window. */
static int result_put(struct mstore *ms, uint64_t op_id, const struct meta_result *res)
{
	const struct meta_attr *a = &res->attr;
	int64_t seq;
	int rc = msi_meta_get(ms, K_RES_SEQ, &seq);

	if (rc == 0) {
		rc = msi_meta_set(ms, K_RES_SEQ, ++seq);
	}
	if (rc == 0) {
		rc = msi_run(ms, S_RES_PUT,
			     ARGS(AI(op_id), AI(seq), AI(res->status), AI(a->ino), AI(a->mode),
				  AI(a->nlink), AI(a->uid), AI(a->gid), AI(a->rdev), AI(a->size),
				  AI(a->blocks), AI(a->atime_ns), AI(a->mtime_ns), AI(a->ctime_ns),
				  AI(a->gen), AI(res->freed_ino)));
	}
	if (rc == 0 && seq > MS_RESULTS_KEPT) {
		rc = msi_run(ms, S_RES_TRIM, ARGS(AI(seq - MS_RESULTS_KEPT)));
	}
	return rc;
}

/* One record of an entry, inside the entry's transaction. */
static void apply_one(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	int status;

	if (op->op_id != 0 && result_get(ms, op->op_id, res) != 0) {
		return; /* applied before: the same answer again */
	}
	if (msi_run(ms, S_SAVEPOINT, NOARGS) < 0) {
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
		msi_run(ms, S_UNDO, NOARGS);
	}
	msi_run(ms, S_RELEASE, NOARGS);
	if (ms->dberr == 0 && op->op_id != 0) {
		result_put(ms, op->op_id, res);
	}
}

/* The body of ms_apply_batch inside its transaction. */
static void apply_locked(struct mstore *ms, const struct meta_op *ops, size_t n, uint64_t index,
			 struct meta_result *res)
{
	int64_t applied;

	if (msi_meta_get(ms, K_APPLIED, &applied) < 0) {
		return;
	}
	if (index != 0 && index <= (uint64_t)applied) {
		for (size_t i = 0; i < n; i++) {
			if (ops[i].op_id != 0) {
				result_get(ms, ops[i].op_id, &res[i]);
			}
		}
		return;
	}
	if (index == 0) {
		index = (uint64_t)applied + 1;
	}
	for (size_t i = 0; i < n && ms->dberr == 0; i++) {
		apply_one(ms, &ops[i], &res[i]);
	}
	if (ms->dberr == 0) {
		msi_meta_set(ms, K_APPLIED, (int64_t)index);
	}
}

int ms_apply_batch(struct mstore *ms, const struct meta_op *ops, size_t n, uint64_t index,
		   struct meta_result *res)
{
	int rc;

	memset(res, 0, n * sizeof(*res));
	if (index > INT64_MAX) {
		return -EINVAL;
	}
	pthread_mutex_lock(&ms->lock);
	if (ms->broken != 0) {
		pthread_mutex_unlock(&ms->lock);
		return ms->broken;
	}
	ms->dberr = 0;
	if (!ms->in_txn && msi_run(ms, S_BEGIN, NOARGS) == 0) {
		ms->in_txn = true;
	}
	if (ms->in_txn) {
		apply_locked(ms, ops, n, index, res);
		if (ms->dberr == 0 && !ms->batching) {
			msi_run(ms, S_COMMIT, NOARGS);
		}
		if (ms->dberr != 0) {
			/* Nothing of this entry may remain; in a batch the
			 * earlier records go too, and the log replays them. */
			msi_run(ms, S_ROLLBACK, NOARGS);
			ms->in_txn = false;
		} else if (!ms->batching) {
			ms->in_txn = false;
		}
	}
	rc = ms->dberr;
	if (rc != 0) {
		memset(res, 0, n * sizeof(*res));
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int ms_apply(struct mstore *ms, const struct meta_op *op, uint64_t index, struct meta_result *res)
{
	return ms_apply_batch(ms, op, 1, index, res);
}

int msi_flush_locked(struct mstore *ms)
{
	if (ms->broken != 0 || !ms->in_txn) {
		return ms->broken;
	}
	ms->dberr = 0;
	msi_run(ms, S_COMMIT, NOARGS);
	ms->in_txn = false;
	if (ms->dberr != 0) {
		msi_run(ms, S_ROLLBACK, NOARGS);
		ms->broken = ms->dberr;
		log_error("ms.flush",
			  "a batch of applied records could not be committed: %s; "
			  "the shard stops until the node restarts",
			  obj_strerror(ms->broken));
	}
	return ms->broken;
}

int ms_flush(struct mstore *ms)
{
	int rc;

	pthread_mutex_lock(&ms->lock);
	rc = msi_flush_locked(ms);
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

void ms_set_batching(struct mstore *ms, int on)
{
	pthread_mutex_lock(&ms->lock);
	if (!on) {
		msi_flush_locked(ms);
	}
	ms->batching = on != 0;
	pthread_mutex_unlock(&ms->lock);
}
