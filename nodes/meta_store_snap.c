/* meta_store_snap.c: an online copy of a shard's database to a file, for
 * Raft snapshots (see ms_backup_online in meta_store.h).  Runs on a worker
 * thread while the Raft loop goes on applying records; never holds the
 * store's lock for more than one step of pages, and paces itself so that
 * it never takes more than its share of the CPU and the disk. */
#include <errno.h>
#include <fcntl.h>
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

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Rests after a step of `ns` so that copying takes duty_pct of the
 * thread's time. */
static void pace(int64_t ns, unsigned duty_pct)
{
	int64_t rest = ns * (100 - (int64_t)duty_pct) / (int64_t)duty_pct;
	struct timespec ts = {(time_t)(rest / 1000000000), (long)(rest % 1000000000)};

	if (rest > 0) {
		nanosleep(&ts, NULL);
	}
}

/* Starts the writeback of what the copy wrote so far: the final fsync
 * then finds little left, and the page cache never holds a whole shard's
 * worth of dirty pages that every other writer of the disk would queue
 * behind. */
static void start_writeback(const char *path, int *fd)
{
	if (*fd < 0) {
		*fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (*fd >= 0) {
		sync_file_range(*fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	}
}

int ms_backup_online(struct mstore *ms, const char *path, int pages_per_step, unsigned duty_pct)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b = NULL;
	int rc, src, fd = -1, steps = 0;
	int per_sync =
	    MS_WRITEBACK_PAGES / pages_per_step > 0 ? MS_WRITEBACK_PAGES / pages_per_step : 1;

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
		int64_t t0 = mono_ns();

		pthread_mutex_lock(&ms->lock);
		rc = msi_flush_locked(ms);
		src = rc == 0 ? sqlite3_backup_step(b, pages_per_step) : SQLITE_ABORT;
		pthread_mutex_unlock(&ms->lock);
		if (src == SQLITE_BUSY || src == SQLITE_LOCKED) {
			struct timespec ts = {0, 1000000};

			nanosleep(&ts, NULL);
			src = SQLITE_OK;
		} else if (src == SQLITE_OK) {
			if (++steps % per_sync == 0) {
				start_writeback(path, &fd);
			}
			if (duty_pct > 0 && duty_pct < 100) {
				pace(mono_ns() - t0, duty_pct);
			}
		}
	} while (src == SQLITE_OK);
	if (fd >= 0) {
		close(fd);
	}
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
