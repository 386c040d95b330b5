/* objindex.c: the node's object index replica in DATA_DIR/objindex.db, the
 * only code of objfs-node that calls SQLite.  Never does network I/O; any
 * thread may call it (one connection, serialised by oi->lock).
 *
 * Keys are stored as BLOBs, not TEXT, so SQLite compares them with memcmp
 * and listings come out in the same bytewise order on every replica,
 * whatever the collation or encoding.  Versions are compared by SQLite as
 * signed 64-bit integers, so versions above INT64_MAX are refused. */
#include "objindex.h"

#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/err.h"
#include "../common/log.h"

/* Long enough to ride out a checkpoint by another connection (sqlite3 CLI
 * during debugging); the node itself uses only one connection. */
#define OI_BUSY_TIMEOUT_MS 5000

enum oi_stmt {
	OI_PUT,
	OI_GET,
	OI_LIST,         /* key range bounded above by the prefix's successor */
	OI_LIST_NOBOUND, /* empty prefix, or one of only 0xff bytes */
	OI_COUNT,
	OI_NSTMT
};

static const char *const oi_sql[OI_NSTMT] = {
	[OI_PUT] = "INSERT INTO objects(bucket, key, version, deleted, size, manifest) "
		   "VALUES(?1, ?2, ?3, ?4, ?5, ?6) "
		   "ON CONFLICT(bucket, key) DO UPDATE SET version = excluded.version, "
		   "deleted = excluded.deleted, size = excluded.size, "
		   "manifest = excluded.manifest WHERE excluded.version > objects.version",
	[OI_GET] = "SELECT version, deleted, size, manifest FROM objects "
		   "WHERE bucket = ?1 AND key = ?2",
	[OI_LIST] = "SELECT key, version, deleted, size FROM objects "
		    "WHERE bucket = ?1 AND key > ?2 AND key >= ?3 AND key < ?4 "
		    "ORDER BY key LIMIT ?5",
	[OI_LIST_NOBOUND] = "SELECT key, version, deleted, size FROM objects "
			    "WHERE bucket = ?1 AND key > ?2 AND key >= ?3 "
			    "ORDER BY key LIMIT ?4",
	[OI_COUNT] = "SELECT count(*) FROM objects WHERE deleted = 0",
};

static const char oi_schema[] =
	"CREATE TABLE IF NOT EXISTS objects("
	"bucket TEXT NOT NULL, key BLOB NOT NULL, version INTEGER NOT NULL, "
	"deleted INTEGER NOT NULL, size INTEGER NOT NULL, manifest BLOB, "
	"PRIMARY KEY(bucket, key)) WITHOUT ROWID";

struct objindex {
	pthread_mutex_t lock; /* guards db and every statement */
	sqlite3 *db;
	sqlite3_stmt *stmt[OI_NSTMT];
	char upper[WIRE_STR_MAX + 1]; /* oi_list's prefix bound, kept off the stack */
};

/* Translates an SQLite result code, logging the reason once here. */
static int oi_fail(sqlite3 *db, int rc, const char *what)
{
	log_error("oi.sqlite", "%s: %s (%s)", what, db ? sqlite3_errmsg(db) : "no database",
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

/* Readies a statement for its next use.  Bindings point at the caller's
 * buffers (SQLITE_STATIC), so they are cleared before those die. */
static void stmt_done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* SQLite binds a NULL pointer as SQL NULL; an empty key must stay a
 * zero-length BLOB to compare below every other key. */
static int bind_bytes(sqlite3_stmt *st, int col, const void *p, size_t n)
{
	return sqlite3_bind_blob64(st, col, n ? p : "", n, SQLITE_STATIC);
}

static int bind_text(sqlite3_stmt *st, int col, const char *s)
{
	return sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
}

static int exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : oi_fail(db, rc, sql);
}

/* WAL lets the readers of a future second connection run beside the
 * writer; FULL syncs the WAL on every commit, which is what makes a put
 * durable when it returns. */
static int configure(sqlite3 *db)
{
	sqlite3_stmt *st;
	bool wal = false;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		return oi_fail(db, rc, "journal_mode");
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *mode = sqlite3_column_text(st, 0);

		wal = mode != NULL && strcmp((const char *)mode, "wal") == 0;
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		return oi_fail(db, rc, "journal_mode");
	}
	if (!wal) {
		log_error("oi.sqlite", "journal_mode=WAL refused by the filesystem");
		return -EIO;
	}
	rc = exec(db, "PRAGMA synchronous=FULL");
	if (rc == 0) {
		rc = sqlite3_busy_timeout(db, OI_BUSY_TIMEOUT_MS) == SQLITE_OK ? 0 : -EIO;
	}
	if (rc == 0) {
		rc = exec(db, oi_schema);
	}
	return rc;
}

void oi_close(struct objindex *oi)
{
	if (oi == NULL) {
		return;
	}
	for (int i = 0; i < OI_NSTMT; i++) {
		sqlite3_finalize(oi->stmt[i]);
	}
	sqlite3_close(oi->db);
	pthread_mutex_destroy(&oi->lock);
	free(oi);
}

int oi_open(const char *data_dir, struct objindex **out)
{
	struct objindex *oi;
	struct stat st;
	char *path;
	int rc;

	*out = NULL;
	if (stat(data_dir, &st) < 0) {
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		return -ENOTDIR;
	}
	if (asprintf(&path, "%s/objindex.db", data_dir) < 0) {
		return -ENOMEM;
	}
	oi = calloc(1, sizeof(*oi));
	if (oi == NULL) {
		free(path);
		return -ENOMEM;
	}
	pthread_mutex_init(&oi->lock, NULL);
	/* NOMUTEX: oi->lock already serialises every use of the connection. */
	rc = sqlite3_open_v2(path, &oi->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	free(path);
	if (rc != SQLITE_OK) {
		rc = oi_fail(oi->db, rc, "open");
		goto fail;
	}
	rc = configure(oi->db);
	for (int i = 0; i < OI_NSTMT && rc == 0; i++) {
		int src = sqlite3_prepare_v3(oi->db, oi_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
					     &oi->stmt[i], NULL);

		if (src != SQLITE_OK) {
			rc = oi_fail(oi->db, src, oi_sql[i]);
		}
	}
	if (rc < 0) {
		goto fail;
	}
	*out = oi;
	return 0;
fail:
	oi_close(oi);
	return rc;
}

int oi_put(struct objindex *oi, const struct obj_key *k, const struct obj_rec *rec)
{
	sqlite3_stmt *st = oi->stmt[OI_PUT];
	int rc;

	if (rec->version > INT64_MAX || (rec->manifest == NULL && rec->manifest_len != 0)) {
		return -EINVAL;
	}
	pthread_mutex_lock(&oi->lock);
	rc = bind_text(st, 1, k->bucket);
	if (rc == SQLITE_OK) {
		rc = bind_bytes(st, 2, k->key, strnlen(k->key, sizeof(k->key)));
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_bind_int64(st, 3, (sqlite3_int64)rec->version);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_bind_int(st, 4, rec->deleted ? 1 : 0);
	}
	if (rc == SQLITE_OK) {
		/* Stored as its two's complement; read back bit for bit. */
		rc = sqlite3_bind_int64(st, 5, (sqlite3_int64)rec->size);
	}
	if (rc == SQLITE_OK) {
		rc = bind_bytes(st, 6, rec->manifest, rec->manifest_len);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
	}
	rc = rc == SQLITE_DONE ? 0 : oi_fail(oi->db, rc, "put");
	stmt_done(st);
	pthread_mutex_unlock(&oi->lock);
	return rc;
}

int oi_get(struct objindex *oi, const struct obj_key *k, struct obj_rec *rec,
	   uint8_t **manifest_out)
{
	sqlite3_stmt *st = oi->stmt[OI_GET];
	int rc;

	if (manifest_out != NULL) {
		*manifest_out = NULL;
	}
	pthread_mutex_lock(&oi->lock);
	rc = bind_text(st, 1, k->bucket);
	if (rc == SQLITE_OK) {
		rc = bind_bytes(st, 2, k->key, strnlen(k->key, sizeof(k->key)));
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
	}
	if (rc == SQLITE_ROW) {
		const void *m = sqlite3_column_blob(st, 3);
		size_t mlen = (size_t)sqlite3_column_bytes(st, 3);

		rec->version = (uint64_t)sqlite3_column_int64(st, 0);
		rec->deleted = sqlite3_column_int(st, 1) != 0;
		rec->size = (uint64_t)sqlite3_column_int64(st, 2);
		rec->manifest = NULL;
		rec->manifest_len = mlen;
		rc = 0;
		if (manifest_out != NULL) {
			/* At least one byte, so success always hands back a
			 * buffer, even for an empty manifest. */
			uint8_t *copy = malloc(mlen ? mlen : 1);

			if (copy == NULL) {
				rc = -ENOMEM;
			} else {
				if (mlen != 0) {
					memcpy(copy, m, mlen);
				}
				rec->manifest = copy;
				*manifest_out = copy;
			}
		}
	} else if (rc == SQLITE_DONE) {
		rc = -ENOENT;
	} else {
		rc = oi_fail(oi->db, rc, "get");
	}
	stmt_done(st);
	pthread_mutex_unlock(&oi->lock);
	return rc;
}

/* Computes the smallest byte string greater than every string starting
 * with prefix: drop trailing 0xff bytes, then add one to the last byte.
 * Returns its length, or 0 when no such bound exists (empty prefix, or
 * only 0xff bytes). */
static size_t prefix_successor(const char *prefix, size_t len, char *out)
{
	while (len > 0 && (uint8_t)prefix[len - 1] == 0xff) {
		len--;
	}
	if (len == 0) {
		return 0;
	}
	memcpy(out, prefix, len);
	out[len - 1] = (char)((uint8_t)out[len - 1] + 1);
	return len;
}

int oi_list(struct objindex *oi, const char *bucket, const char *prefix, const char *after,
	    struct obj_entry *out, size_t max, int *more)
{
	size_t plen = strnlen(prefix, WIRE_STR_MAX);
	size_t alen = strnlen(after, WIRE_STR_MAX);
	size_t ulen, n = 0;
	bool bad_row = false;
	sqlite3_stmt *st;
	int rc, col;

	*more = 0;
	/* The count comes back as an int. */
	if (max >= INT_MAX) {
		return -EINVAL;
	}
	pthread_mutex_lock(&oi->lock);
	ulen = prefix_successor(prefix, plen, oi->upper);
	st = oi->stmt[ulen ? OI_LIST : OI_LIST_NOBOUND];
	rc = bind_text(st, 1, bucket);
	if (rc == SQLITE_OK) {
		rc = bind_bytes(st, 2, after, alen);
	}
	if (rc == SQLITE_OK) {
		rc = bind_bytes(st, 3, prefix, plen);
	}
	col = 4;
	if (rc == SQLITE_OK && ulen) {
		rc = bind_bytes(st, col++, oi->upper, ulen);
	}
	/* One row past max tells whether there are more. */
	if (rc == SQLITE_OK) {
		rc = sqlite3_bind_int64(st, col, (sqlite3_int64)max + 1);
	}
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		const void *key;
		size_t klen;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			break;
		}
		if (n == max) {
			*more = 1;
			rc = SQLITE_DONE;
			break;
		}
		key = sqlite3_column_blob(st, 0);
		klen = (size_t)sqlite3_column_bytes(st, 0);
		if (klen > WIRE_STR_MAX) {
			/* Only oi_put writes rows, and it cannot store this. */
			log_error("oi.sqlite", "list: key of %zu bytes in bucket %s", klen, bucket);
			bad_row = true;
			break;
		}
		if (klen != 0) {
			memcpy(out[n].key, key, klen);
		}
		out[n].key[klen] = '\0';
		out[n].version = (uint64_t)sqlite3_column_int64(st, 1);
		out[n].deleted = sqlite3_column_int(st, 2) != 0;
		out[n].size = (uint64_t)sqlite3_column_int64(st, 3);
		n++;
	}
	if (bad_row) {
		rc = -EIO;
	} else if (rc == SQLITE_DONE) {
		rc = (int)n;
	} else {
		rc = oi_fail(oi->db, rc, "list");
	}
	stmt_done(st);
	pthread_mutex_unlock(&oi->lock);
	return rc;
}

int64_t oi_count(struct objindex *oi)
{
	sqlite3_stmt *st = oi->stmt[OI_COUNT];
	int64_t n;
	int rc;

	pthread_mutex_lock(&oi->lock);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		n = sqlite3_column_int64(st, 0);
	} else {
		n = oi_fail(oi->db, rc, "count");
	}
	stmt_done(st);
	pthread_mutex_unlock(&oi->lock);
	return n;
}
