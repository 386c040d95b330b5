/* meta_snap.c: snapshots of a shard's directory trees -- read-only copies
 * under /.snapshots/NAME made by one record (MOP_SNAPSHOT), so they are
 * consistent: every replica copies the same state at the same index.
 * Blocks are immutable and shared: the copy duplicates the metadata rows
 * (set-based statements through the snapmap table) and adds a reference
 * to every block, so GC never deletes what a snapshot still reads.
 * Owns the snapshot inode space (META_SNAP_INO_BASE up, numbered here at
 * apply time) and its guard; never changes a live file.  Lock held. */
#include "meta_store_i.h"

#include <string.h>
#include <sys/stat.h>

/* /.snapshots and /.trash: names of the read-only space at the root. */
static int is_snapdir_name(uint64_t parent, const char *name)
{
	return parent == META_ROOT_INO &&
	       (strcmp(name, META_SNAP_DIR) == 0 || strcmp(name, META_TRASH_DIR) == 0);
}

/* 1 if entry name of parent is in the snapshot space, 0 if not or absent. */
static int names_snap(struct mstore *ms, uint64_t parent, const char *name)
{
	uint64_t ino;
	int rc = msi_de_get(ms, parent, name, &ino);

	if (rc == -ENOENT || rc == -EINVAL) {
		return 0;
	}
	return rc < 0 ? rc : meta_is_snap_ino(ino);
}

/* A path op (META_F_PATH, PUT) whose first component is /.snapshots or
 * /.trash. */
static int path_in_snap(const char *path)
{
	static const char *const dirs[] = {META_SNAP_DIR, META_TRASH_DIR};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		size_t n = strlen(dirs[i]);

		if (strncmp(path, dirs[i], n) == 0 && (path[n] == '/' || path[n] == '\0')) {
			return 1;
		}
	}
	return 0;
}

int msi_snap_guard(struct mstore *ms, const struct meta_op *op)
{
	int rc = 0;

	switch (op->type) {
	case MOP_CREATE:
		if (meta_is_snap_ino(op->parent)) {
			return -EROFS;
		}
		return is_snapdir_name(op->parent, op->name) ? -EPERM : 0;
	case MOP_LINK:
		if (meta_is_snap_ino(op->ino) || meta_is_snap_ino(op->newparent)) {
			return -EROFS;
		}
		return is_snapdir_name(op->newparent, op->newname) ? -EPERM : 0;
	case MOP_UNLINK:
	case MOP_RMDIR:
		if (op->flags & META_F_PATH) {
			return path_in_snap(op->name) ? -EROFS : 0;
		}
		if (meta_is_snap_ino(op->parent)) {
			return -EROFS;
		}
		rc = names_snap(ms, op->parent, op->name);
		return rc < 0 ? rc : rc ? -EROFS : 0;
	case MOP_RENAME:
		if (meta_is_snap_ino(op->parent) || meta_is_snap_ino(op->newparent)) {
			return -EROFS;
		}
		rc = names_snap(ms, op->parent, op->name);
		if (rc == 0) {
			rc = names_snap(ms, op->newparent, op->newname);
		}
		if (rc == 0 && is_snapdir_name(op->newparent, op->newname)) {
			return -EPERM;
		}
		return rc < 0 ? rc : rc ? -EROFS : 0;
	case MOP_SETATTR:
	case MOP_SETXATTR:
	case MOP_REMOVEXATTR:
	case MOP_WRITE:
	case MOP_CLASS_MOVE:
		return meta_is_snap_ino(op->ino) ? -EROFS : 0;
	case MOP_PUT:
		return path_in_snap(op->name) ? -EROFS : 0;
	default:
		return 0;
	}
}

/* Numbers n snapshot inodes; *base is the first. */
int msi_snap_inos(struct mstore *ms, int64_t n, uint64_t *base)
{
	int64_t next = 0;
	int rc = msi_meta_get(ms, K_NEXT_SNAP_INO, &next);

	if (rc < 0) {
		return rc;
	}
	*base = next > 0 ? (uint64_t)next : META_SNAP_INO_BASE;
	if (*base > (uint64_t)INT64_MAX - (uint64_t)n) {
		return -ENOSPC;
	}
	return msi_meta_set(ms, K_NEXT_SNAP_INO, (int64_t)(*base + (uint64_t)n));
}

int msi_special_dir(struct mstore *ms, const char *name, int64_t now, struct inode *dir)
{
	uint64_t ino;
	int rc = msi_de_get(ms, META_ROOT_INO, name, &ino);

	if (rc == 0) {
		return meta_is_snap_ino(ino) ? msi_dir_get(ms, ino, dir) : -EEXIST;
	}
	if (rc != -ENOENT) {
		return rc;
	}
	rc = msi_snap_inos(ms, 1, &ino);
	if (rc < 0) {
		return rc;
	}
	memset(dir, 0, sizeof(*dir));
	dir->a.ino = ino;
	dir->a.mode = S_IFDIR | 0555;
	dir->a.nlink = 2;
	dir->a.atime_ns = dir->a.mtime_ns = dir->a.ctime_ns = now;
	dir->a.gen = 1;
	dir->parent = META_ROOT_INO;
	rc = msi_ino_write(ms, S_INO_INS, dir);
	if (rc == 0) {
		rc = msi_de_put(ms, S_DE_INS, META_ROOT_INO, name, ino, true);
	}
	if (rc == 0) {
		rc = msi_dir_touch(ms, META_ROOT_INO, 1, now);
	}
	return rc;
}

int msi_snap_create(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	struct inode src, dir, root;
	int64_t n = 0, newroot = 0;
	uint64_t base, other;
	int rc = meta_check_name(op->name);

	if (rc == 0) {
		rc = msi_dir_get(ms, op->ino, &src);
	}
	if (rc == 0 && meta_is_snap_ino(op->ino)) {
		rc = -EINVAL; /* a snapshot of a snapshot: copy it instead */
	}
	if (rc == 0) {
		rc = msi_special_dir(ms, META_SNAP_DIR, op->now_ns, &dir);
	}
	if (rc == 0) {
		rc = msi_de_get(ms, dir.a.ino, op->name, &other);
		rc = rc == 0 ? -EEXIST : rc == -ENOENT ? 0 : rc;
	}
	/* Number the copies: the tree's size first, then its map. */
	if (rc == 0) {
		rc = msi_run(ms, S_SN_FILL,
			     ARGS(AI(op->ino), AI(META_SNAP_INO_BASE), AI(META_SNAP_INO_BASE)));
	}
	if (rc == 0) {
		rc = msi_get_int(ms, S_SN_COUNT, NOARGS, &n);
		rc = rc < 0 ? rc : 0;
	}
	if (rc == 0) {
		rc = msi_run(ms, S_SN_CLEAR, NOARGS);
	}
	if (rc == 0) {
		rc = msi_snap_inos(ms, n, &base);
	}
	if (rc == 0) {
		rc = msi_run(ms, S_SN_FILL, ARGS(AI(op->ino), AI(base), AI(META_SNAP_INO_BASE)));
	}
	if (rc == 0) {
		rc = msi_run(ms, S_SN_INODES, ARGS(AI(dir.a.ino), AI(op->ino)));
	}
	if (rc == 0) {
		rc = msi_run(ms, S_SN_DIRENTS, NOARGS);
	}
	if (rc == 0) {
		rc = msi_run(ms, S_SN_EXTENTS, NOARGS);
	}
	if (rc == 0) {
		rc = msi_run(ms, S_SN_BLKREF, NOARGS);
	}
	if (rc == 0) {
		rc = msi_run(ms, S_SN_XATTRS, NOARGS);
	}
	if (rc == 0) {
		rc = msi_run(ms, S_SN_NLINK, ARGS(AI(base), AI(base + n)));
	}
	if (rc == 0) {
		rc = msi_run(ms, S_SN_NLINK_F, ARGS(AI(base), AI(base + n)));
	}
	if (rc == 0) {
		rc = msi_get_int(ms, S_SN_NEW_OF, ARGS(AI(op->ino)), &newroot);
		rc = rc < 0 ? rc : 0;
	}
	if (rc == 0) {
		rc = msi_run(ms, S_SN_CLEAR, NOARGS);
	}
	if (rc == 0) {
		rc = msi_de_put(ms, S_DE_INS, dir.a.ino, op->name, (uint64_t)newroot, true);
	}
	if (rc == 0) {
		rc = msi_dir_touch(ms, dir.a.ino, 1, op->now_ns);
	}
	/* The snapshot's root tells when it was taken. */
	if (rc == 0) {
		rc = msi_dir_get(ms, (uint64_t)newroot, &root);
	}
	if (rc == 0) {
		root.a.ctime_ns = op->now_ns;
		rc = msi_ino_write(ms, S_INO_UPD, &root);
	}
	return rc < 0 ? rc : msi_attr_of(ms, (uint64_t)newroot, &res->attr);
}

int msi_snap_remove(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	static const enum ms_stmt drop[] = {S_SN_UNREF,	 S_SN_TO_GC,  S_SN_FREE,    S_SN_DEL_EXT,
					    S_SN_DEL_XA, S_SN_DEL_DE, S_SN_DEL_INO, S_SN_CLEAR};
	uint64_t dirino, ino;
	int rc = meta_check_name(op->name);

	(void)res;
	if (rc == 0) {
		rc = msi_de_get(ms, META_ROOT_INO, META_SNAP_DIR, &dirino);
	}
	if (rc == 0 && !meta_is_snap_ino(dirino)) {
		rc = -ENOENT;
	}
	if (rc == 0) {
		rc = msi_de_get(ms, dirino, op->name, &ino);
	}
	if (rc == 0) {
		rc = msi_run(ms, S_SN_FILL_ALL, ARGS(AI(ino)));
	}
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]) && rc == 0; i++) {
		rc = msi_run(ms, drop[i], NOARGS);
	}
	if (rc == 0) {
		rc = msi_de_del(ms, dirino, op->name);
	}
	if (rc == 0) {
		rc = msi_dir_touch(ms, dirino, -1, op->now_ns);
	}
	return rc;
}
