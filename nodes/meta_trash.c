/* meta_trash.c: the bucket's trash -- with `trash_seconds` set, the last
 * link of a file or an emptied directory does not go: the inode moves to
 * /.trash (read-only, entry "INO-NAME") and a row of the trash table keeps
 * where it was, until MOP_TRASH_RESTORE puts it back or MOP_TRASH_EMPTY
 * (objfsctl, or the leader's maintenance pass once it expired) deletes it
 * and its blocks go to GC.  A restored inode gets a new number.  Owns the trash table; never
 * deletes a live entry.  Called with the store's lock held. */
#include "meta_store_i.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/log.h"

/* Records purged per MOP_TRASH_EMPTY: bounds one record's apply time. */
#define TRASH_PURGE_BATCH 1000

int msi_trash_on(struct mstore *ms)
{
	int64_t keep = 0;
	int rc = msi_meta_get(ms, K_TRASH_SECONDS, &keep);

	return rc < 0 ? rc : keep > 0;
}

/* The entry of ino in /.trash: "INO-NAME", cut to a name's length. */
static void trash_name(uint64_t ino, const char *name, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%llu-", (unsigned long long)ino);
	size_t room = cap > META_NAME_MAX + 1 ? META_NAME_MAX + 1 : cap;

	if (n > 0 && (size_t)n < room) {
		size_t len = strnlen(name, room - (size_t)n - 1);

		memcpy(out + n, name, len);
		out[(size_t)n + len] = '\0';
	}
}

int msi_trash_put(struct mstore *ms, struct inode *x, uint64_t parent, const char *name,
		  int64_t now)
{
	char tname[META_NAME_MAX + 1];
	bool isdir = S_ISDIR(x->a.mode);
	struct inode dir;
	int rc = msi_quota_charge(ms, x->parent ? x->parent : parent,
				  S_ISREG(x->a.mode) ? -(int64_t)x->a.size : 0, -1);

	if (rc == 0) {
		rc = msi_special_dir(ms, META_TRASH_DIR, now, &dir);
	}
	if (rc == 0) {
		trash_name(x->a.ino, name, tname, sizeof(tname));
		rc = msi_de_put(ms, S_DE_INS, dir.a.ino, tname, x->a.ino, isdir);
	}
	if (rc == 0) {
		rc = msi_dir_touch(ms, dir.a.ino, isdir ? 1 : 0, now);
	}
	if (rc == 0) {
		rc = msi_run(ms, S_TR_PUT, ARGS(AI(x->a.ino), AI(parent), AS(name), AI(now)));
	}
	if (rc == 0) {
		x->parent = dir.a.ino;
		x->a.ctime_ns = now;
		rc = msi_ino_write(ms, S_INO_UPD, x);
	}
	return rc;
}

int msi_trash_set(struct mstore *ms, const struct meta_op *op)
{
	if (op->size > INT32_MAX) {
		return -EINVAL;
	}
	return msi_meta_set(ms, K_TRASH_SECONDS, (int64_t)op->size);
}

/* Where trashed ino was: 0, or -ENOENT when it is not in the trash. */
static int trash_get(struct mstore *ms, uint64_t ino, uint64_t *parent, char *name,
		     int64_t *deleted)
{
	sqlite3_stmt *st = msi_bind(ms, S_TR_GET, ARGS(AI(ino)));
	int rc = msi_first_row(ms, S_TR_GET, st);

	if (rc <= 0) {
		return rc < 0 ? rc : -ENOENT;
	}
	*parent = (uint64_t)sqlite3_column_int64(st, 0);
	snprintf(name, META_NAME_MAX + 1, "%.*s", sqlite3_column_bytes(st, 1),
		 (const char *)sqlite3_column_blob(st, 1));
	*deleted = sqlite3_column_int64(st, 2);
	msi_stmt_done(st);
	return 0;
}

int msi_trash_restore(struct mstore *ms, const struct meta_op *op, struct meta_result *res)
{
	static const enum ms_stmt reino[] = {S_RI_INO, S_RI_EXT,   S_RI_XA,
					     S_RI_DE,  S_RI_TRASH, S_RI_QUOTA};
	char name[META_NAME_MAX + 1], tname[META_NAME_MAX + 1];
	struct inode x, dir, tdir;
	uint64_t parent, other;
	int64_t deleted;
	bool isdir;
	int rc = msi_ino_get(ms, op->ino, &x);

	if (rc == 0) {
		rc = trash_get(ms, op->ino, &parent, name, &deleted);
	}
	if (rc == 0) {
		/* The directory it was in must be live (restore it first). */
		rc = meta_is_snap_ino(parent) ? -ENOENT : msi_dir_get(ms, parent, &dir);
	}
	if (rc == 0) {
		rc = msi_special_dir(ms, META_TRASH_DIR, op->now_ns, &tdir);
	}
	if (rc == 0 && dir.parent != 0 && meta_is_snap_ino(dir.parent)) {
		rc = -ENOENT; /* the directory is itself in the trash */
	}
	if (rc == 0) {
		rc = msi_de_get(ms, parent, name, &other);
		rc = rc == 0 ? -EEXIST : rc == -ENOENT ? 0 : rc;
	}
	if (rc < 0) {
		return rc;
	}
	isdir = S_ISDIR(x.a.mode);
	trash_name(x.a.ino, name, tname, sizeof(tname));
	rc = msi_de_del(ms, tdir.a.ino, tname);
	if (rc == 0) {
		rc = msi_run(ms, S_TR_DEL, ARGS(AI(x.a.ino)));
	}
	/* It comes back under a new number: a kernel that saw it removed
	 * may still hold the old inode, dead (an rmdir'ed directory stays
	 * S_DEAD), and would take the old number for it. */
	if (rc == 0) {
		rc = msi_ino_claim(ms, op->new_ino);
	}
	for (size_t i = 0; i < sizeof(reino) / sizeof(reino[0]) && rc == 0; i++) {
		rc = msi_run(ms, reino[i], ARGS(AI(x.a.ino), AI(op->new_ino)));
	}
	x.a.ino = op->new_ino;
	if (rc == 0) {
		rc = msi_dir_touch(ms, tdir.a.ino, isdir ? -1 : 0, op->now_ns);
	}
	if (rc == 0) {
		rc = msi_de_put(ms, S_DE_INS, parent, name, x.a.ino, isdir);
	}
	if (rc == 0) {
		rc = msi_dir_touch(ms, parent, isdir ? 1 : 0, op->now_ns);
	}
	if (rc == 0) {
		x.parent = parent;
		x.a.ctime_ns = op->now_ns;
		rc = msi_ino_write(ms, S_INO_UPD, &x);
	}
	if (rc == 0) {
		rc = msi_quota_charge(ms, parent, S_ISREG(x.a.mode) ? (int64_t)x.a.size : 0, 1);
	}
	return rc < 0 ? rc : msi_attr_of(ms, x.a.ino, &res->attr);
}

int msi_trash_empty(struct mstore *ms, const struct meta_op *op)
{
	int64_t cutoff = op->size == 0 ? INT64_MAX : (int64_t)(op->size & INT64_MAX);
	sqlite3_stmt *st = msi_bind(ms, S_TR_DUE, ARGS(AI(cutoff), AI(TRASH_PURGE_BATCH)));
	uint64_t *due = calloc(TRASH_PURGE_BATCH, sizeof(*due));
	struct inode tdir;
	size_t n = 0;
	int rc = 0;

	while (st != NULL && due != NULL && n < TRASH_PURGE_BATCH &&
	       sqlite3_step(st) == SQLITE_ROW) {
		due[n++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	msi_stmt_done(st);
	if (st == NULL || due == NULL) {
		free(due);
		return due == NULL ? -ENOMEM : -EIO;
	}
	if (n > 0) {
		rc = msi_special_dir(ms, META_TRASH_DIR, op->now_ns, &tdir);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		char name[META_NAME_MAX + 1], tname[META_NAME_MAX + 1];
		uint64_t parent;
		int64_t deleted;
		struct inode x;

		rc = trash_get(ms, due[i], &parent, name, &deleted);
		if (rc == 0) {
			rc = msi_ino_get(ms, due[i], &x);
		}
		if (rc == 0) {
			trash_name(x.a.ino, name, tname, sizeof(tname));
			rc = msi_de_del(ms, tdir.a.ino, tname);
		}
		if (rc == 0) {
			rc = msi_dir_touch(ms, tdir.a.ino, S_ISDIR(x.a.mode) ? -1 : 0, op->now_ns);
		}
		if (rc == 0) {
			rc = msi_run(ms, S_TR_DEL, ARGS(AI(x.a.ino)));
		}
		if (rc == 0) {
			rc = msi_ino_delete(ms, x.a.ino); /* its blocks go to GC */
		}
	}
	free(due);
	return rc;
}

int ms_trash(struct mstore *ms, uint64_t after, struct meta_trash *out, size_t max, int64_t *keep,
	     int *more)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int rc;

	*more = 0;
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	*keep = 0;
	rc = msi_meta_get(ms, K_TRASH_SECONDS, keep);
	st = rc < 0 ? NULL : msi_bind(ms, S_TR_LIST, ARGS(AI(after), AI(max + 1)));
	while (st != NULL && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct meta_trash *t = &out[n];

		if (n == max) {
			*more = 1;
			break;
		}
		memset(t, 0, sizeof(*t));
		t->ino = (uint64_t)sqlite3_column_int64(st, 0);
		t->parent = (uint64_t)sqlite3_column_int64(st, 1);
		snprintf(t->name, sizeof(t->name), "%.*s", sqlite3_column_bytes(st, 2),
			 (const char *)sqlite3_column_blob(st, 2));
		t->deleted_ns = sqlite3_column_int64(st, 3);
		t->mode = (uint32_t)sqlite3_column_int64(st, 4);
		t->size = (uint64_t)sqlite3_column_int64(st, 5);
		n++;
	}
	msi_stmt_done(st);
	rc = st == NULL ? (ms->dberr ? ms->dberr : -EIO) : 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		/* "" when the directory it was in is gone or in the trash. */
		if (msi_dir_path(ms, out[i].parent, out[i].parent_path,
				 sizeof(out[i].parent_path)) != 0) {
			out[i].parent_path[0] = '\0';
		}
	}
	if (rc == 0 && ms->dberr != 0) {
		rc = ms->dberr;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : (int)n;
}

int ms_trash_due(struct mstore *ms, int64_t now_ns, int64_t *cutoff)
{
	int64_t keep = 0, ino = 0;
	int rc;

	*cutoff = 0;
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = msi_meta_get(ms, K_TRASH_SECONDS, &keep);
	if (rc == 0 && keep > 0) {
		*cutoff = now_ns - keep * 1000000000LL;
		rc = msi_get_int(ms, S_TR_DUE, ARGS(AI(*cutoff), AI(1)), &ino);
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : rc == 1;
}
