/* meta_store_snap.c: an online copy of a shard's database to a file, for
 * Raft snapshots (see ms_backup_online in meta_store.h).  Runs on a worker
 * thread while the Raft loop goes on applying records; never holds the
 * store's lock for more than one step of pages. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "meta_store_i.h"

static int snap_err(sqlite3 *db, int rc, const char *what)
{
	log_error("ms.snapshot", "%s: %s (%s)", what, db ? sqlite3_errmsg(db) : "no database",
		  sqlite3_errstr(rc));
	return (rc & 0xff) == SQLITE_FULL ? -ENOSPC : (rc & 0xff) == SQLITE_NOMEM ? -ENOMEM : -EIO;
}

int ms_backup_online(struct mstore *ms, const char *path, int pages_per_step)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b = NULL;
	int rc, src;

	unlink(path);
	rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		rc = snap_err(dst, rc, path);
		sqlite3_close(dst);
		return rc;
	}
	/* The copy is fsynced once by the caller and renamed in: no journal. */
	sqlite3_exec(dst, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF", NULL, NULL, NULL);
	pthread_mutex_lock(&ms->lock);
	b = sqlite3_backup_init(dst, "main", ms->db, "main");
	pthread_mutex_unlock(&ms->lock);
	if (b == NULL) {
		rc = snap_err(dst, sqlite3_errcode(dst), "backup init");
		sqlite3_close(dst);
		return rc;
	}
	/* One step at a time under the lock, after committing the batch the
	 * loop has open (a source in a write transaction answers BUSY).
	 * Commits made through the same connection between steps are copied
	 * into the pages already done (SQLite's backup follows its source
	 * connection), so the copy ends as the committed state at the last
	 * step: at or after the snapshot's index, which ms_apply's skipping
	 * of applied entries makes a valid install for that index. */
	do {
		pthread_mutex_lock(&ms->lock);
		rc = msi_flush_locked(ms);
		src = rc == 0 ? sqlite3_backup_step(b, pages_per_step) : SQLITE_ABORT;
		pthread_mutex_unlock(&ms->lock);
		if (src == SQLITE_BUSY || src == SQLITE_LOCKED) {
			struct timespec ts = {0, 1000000};

			nanosleep(&ts, NULL);
			src = SQLITE_OK;
		}
	} while (src == SQLITE_OK);
	pthread_mutex_lock(&ms->lock);
	if (sqlite3_backup_finish(b) != SQLITE_OK && src == SQLITE_DONE) {
		src = sqlite3_errcode(dst);
	}
	pthread_mutex_unlock(&ms->lock);
	if (rc == 0 && src != SQLITE_DONE) {
		rc = snap_err(dst, src, "online backup");
	}
	/* The copy's header says WAL like its source; a rollback journal lets
	 * it be opened read-only without a -shm file. */
	if (rc == 0 &&
	    sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
		rc = snap_err(dst, sqlite3_errcode(dst), "journal_mode");
	}
	if (sqlite3_close(dst) != SQLITE_OK && rc == 0) {
		rc = -EIO;
	}
	if (rc != 0) {
		unlink(path);
	}
	return rc;
}
