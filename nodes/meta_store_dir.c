/* meta_store_dir.c: directory listings by resume cookie -- the name hash
 * stored with each entry (dirents.nhash; the SQL function ms_nhash,
 * registered on every connection of the process, fills the column of an
 * older shard) and ms_readdir_cookie.  Never changes a row; runs on the
 * caller's thread under ms->lock like every other query.
 *
 * Why a hash and not the name order: a reader's position must survive
 * entries being added or removed around it, and it must fit the 63 bits
 * of a FUSE/POSIX directory offset (telldir).  An index position shifts
 * when names are added before it (seekdir back then repeats or skips
 * entries), and a name does not fit; the name's hash does both, as ext4's
 * htree cookies do.  Entries are listed in (hash, name) order; a page
 * never ends inside a run of equal hashes, so a collision costs nothing
 * but a slightly longer page. */
#include "meta_store_i.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "../common/checksum.h"
#include "../common/log.h"

uint64_t ms_name_cookie(const void *name, size_t len)
{
	/* In [META_COOKIE_FIRST, 2^62 + META_COOKIE_FIRST): positive as an
	 * off_t, and above the offsets of "." and "..". */
	return (csum64(name, len) >> 2) + META_COOKIE_FIRST;
}

static void nhash_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	sqlite3_result_int64(ctx,
			     (sqlite3_int64)ms_name_cookie(sqlite3_value_blob(argv[0]),
							   (size_t)sqlite3_value_bytes(argv[0])));
}

static int nhash_init(sqlite3 *db, char **err, const struct sqlite3_api_routines *api)
{
	(void)err;
	(void)api;
	return sqlite3_create_function_v2(db, "ms_nhash", 1,
					  SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
					  NULL, nhash_fn, NULL, NULL, NULL);
}

static void nhash_auto(void)
{
	/* Every later connection of this process (backups, restores, tests
	 * that open a shard file by hand) can then write dirents and check
	 * the index; the sqlite3 shell cannot: see ARCHITECTURE.md. */
	sqlite3_auto_extension((void (*)(void))nhash_init);
}

int msi_nhash_register(sqlite3 *db)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, nhash_auto);
	return nhash_init(db, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

int ms_readdir_cookie(struct mstore *ms, uint64_t dir, uint64_t cookie, struct ms_dirent *out,
		      size_t max, int *more)
{
	sqlite3_stmt *st;
	struct inode x;
	size_t n = 0;
	int rc;

	*more = 0;
	if (max == 0 || max >= INT_MAX || cookie > INT64_MAX) {
		return -EINVAL;
	}
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = msi_dir_get(ms, dir, &x);
	st = rc == 0 ? msi_bind(ms, S_DE_HLIST, ARGS(AI(dir), AI(cookie), AI(max + 1))) : NULL;
	while (st != NULL) {
		uint64_t h;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? (int)n : msi_db_fail(ms, rc, "readdir");
			break;
		}
		h = (uint64_t)sqlite3_column_int64(st, INO_NCOLS + 1);
		if (n == max) {
			/* Entries of the last cookie continue past the page:
			 * they go to the next page together. */
			while (n > 0 && out[n - 1].cookie == h) {
				n--;
			}
			*more = 1;
			rc = n > 0 ? (int)n : -EOVERFLOW;
			break;
		}
		if ((rc = msi_row_dirent(st, dir, &out[n])) != 0) {
			break;
		}
		out[n].cookie = h;
		n++;
	}
	if (st != NULL) {
		msi_stmt_done(st);
	} else if (rc == 0) {
		rc = ms->dberr;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}
