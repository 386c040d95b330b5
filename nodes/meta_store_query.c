/* meta_store_query.c: the read side of a metadata shard: attributes, directory
 * listings, xattrs, extents, statfs, the S3 listing, the bucket catalog and the
 * GC queue.  Never changes the database; each call takes ms->lock itself. */
#include "meta_store_i.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../common/log.h"

/* ---- queries ---- */

static uint64_t meta_value(struct mstore *ms, const char *key)
{
	int64_t v = 0;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	msi_meta_get(ms, key, &v);
	pthread_mutex_unlock(&ms->lock);
	return (uint64_t)v;
}

uint64_t ms_applied_index(struct mstore *ms)
{
	return meta_value(ms, K_APPLIED);
}

uint64_t ms_next_ino(struct mstore *ms)
{
	uint64_t v = meta_value(ms, K_NEXT_INO);

	return v < 2 ? 2 : v;
}

int ms_lookup(struct mstore *ms, uint64_t parent, const char *name, struct meta_attr *out)
{
	struct inode dir, x;
	uint64_t ino = 0;
	int rc;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	if (strcmp(name, ".") == 0) {
		/* Any inode, as the kernel asks when it decodes a file handle
		 * (open_by_handle_at, NFS); an orphan's handle is stale. */
		rc = msi_ino_get(ms, parent, &x);
		rc = rc == 0 && x.a.nlink == 0 ? -ESTALE : rc;
	} else if ((rc = msi_dir_get(ms, parent, &dir)) == 0 && strcmp(name, "..") == 0) {
		rc = msi_ino_get(ms, dir.parent, &x);
	} else if (rc == 0) {
		rc = meta_check_name(name);
		if (rc == 0) {
			rc = msi_de_get(ms, parent, name, &ino);
		}
		if (rc == 0) {
			rc = msi_ino_get(ms, ino, &x);
		}
	}
	if (rc == 0) {
		*out = x.a;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int ms_getattr(struct mstore *ms, uint64_t ino, struct meta_attr *out)
{
	struct inode x;
	int rc;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = msi_ino_get(ms, ino, &x);
	if (rc == 0) {
		*out = x.a;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int ms_resolve(struct mstore *ms, const char *path, struct meta_attr *out)
{
	struct inode x;
	int rc;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = msi_walk(ms, path, strlen(path), &x, NULL);
	if (rc == 0) {
		*out = x.a;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int ms_readdir(struct mstore *ms, uint64_t dir, const char *after, struct ms_dirent *out,
	       size_t max, int *more)
{
	sqlite3_stmt *st;
	struct inode x;
	size_t n = 0;
	int rc;

	*more = 0;
	if (max >= INT_MAX) {
		return -EINVAL;
	}
	after = after ? after : "";
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = msi_dir_get(ms, dir, &x);
	st = rc == 0 ? msi_bind(ms, S_DE_LIST, ARGS(AI(dir), AS(after), AI(max + 1))) : NULL;
	while (st != NULL) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? (int)n : msi_db_fail(ms, rc, "readdir");
			break;
		}
		if (n == max) {
			*more = 1;
			rc = (int)n;
			break;
		}
		if ((rc = msi_row_dirent(st, dir, &out[n])) != 0) {
			break;
		}
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

int msi_row_dirent(sqlite3_stmt *st, uint64_t dir, struct ms_dirent *d)
{
	size_t len = (size_t)sqlite3_column_bytes(st, INO_NCOLS);
	struct inode x;

	if (len == 0 || len > META_NAME_MAX) {
		log_error("ms.corrupt", "readdir %llu: name of %zu bytes", (unsigned long long)dir,
			  len);
		return -EIO;
	}
	memcpy(d->name, sqlite3_column_blob(st, INO_NCOLS), len);
	d->name[len] = '\0';
	msi_row_inode(st, 0, &x);
	d->attr = x.a;
	return 0;
}

int ms_readlink(struct mstore *ms, uint64_t ino, char *buf, size_t cap)
{
	sqlite3_stmt *st;
	struct inode x;
	int rc;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = msi_ino_get(ms, ino, &x);
	if (rc == 0 && !S_ISLNK(x.a.mode)) {
		rc = -EINVAL;
	}
	if (rc == 0) {
		st = msi_bind(ms, S_TGT_GET, ARGS(AI(ino)));
		rc = msi_first_row(ms, S_TGT_GET, st);
		if (rc == 1) {
			size_t len = (size_t)sqlite3_column_bytes(st, 0);

			if (len >= cap) {
				rc = -ERANGE;
			} else {
				if (len != 0) {
					memcpy(buf, sqlite3_column_blob(st, 0), len);
				}
				buf[len] = '\0';
				rc = (int)len;
			}
			msi_stmt_done(st);
		} else if (rc == 0) {
			rc = -EIO;
		}
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int ms_getxattr(struct mstore *ms, uint64_t ino, const char *name, uint8_t **val, size_t *len)
{
	sqlite3_stmt *st;
	struct inode x;
	int rc;

	*val = NULL;
	*len = 0;
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = msi_ino_get(ms, ino, &x);
	if (rc == 0) {
		st = msi_bind(ms, S_XA_GET, ARGS(AI(ino), AS(name)));
		rc = msi_first_row(ms, S_XA_GET, st);
		if (rc == 1) {
			size_t n = (size_t)sqlite3_column_bytes(st, 0);

			*val = malloc(n ? n : 1);
			rc = *val == NULL ? -ENOMEM : 0;
			if (rc == 0 && n != 0) {
				memcpy(*val, sqlite3_column_blob(st, 0), n);
			}
			*len = rc == 0 ? n : 0;
			msi_stmt_done(st);
		} else if (rc == 0) {
			rc = -ENODATA;
		}
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

int ms_listxattr(struct mstore *ms, uint64_t ino, char **names, size_t *len)
{
	sqlite3_stmt *st = NULL;
	struct inode x;
	char *buf = NULL;
	size_t used = 0;
	int rc;

	*names = NULL;
	*len = 0;
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = msi_ino_get(ms, ino, &x);
	if (rc == 0) {
		st = msi_bind(ms, S_XA_LIST, ARGS(AI(ino)));
		rc = st == NULL ? ms->dberr : 0;
	}
	while (st != NULL && rc == 0) {
		size_t n;
		char *nb;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : msi_db_fail(ms, rc, "listxattr");
			break;
		}
		n = (size_t)sqlite3_column_bytes(st, 0);
		nb = realloc(buf, used + n + 1);
		if (nb == NULL) {
			rc = -ENOMEM;
			break;
		}
		buf = nb;
		if (n != 0) {
			memcpy(buf + used, sqlite3_column_blob(st, 0), n);
		}
		buf[used + n] = '\0';
		used += n + 1;
		rc = 0;
	}
	if (st != NULL) {
		msi_stmt_done(st);
	}
	pthread_mutex_unlock(&ms->lock);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*names = buf;
	*len = used;
	return 0;
}

int ms_extents(struct mstore *ms, uint64_t ino, uint64_t first, struct meta_extent *out, size_t max,
	       int *more, struct meta_attr *attr, uint8_t **inl, size_t *inl_len)
{
	sqlite3_stmt *st = NULL;
	struct inode x;
	size_t n = 0;
	int rc;

	*more = 0;
	if (inl != NULL) {
		*inl = NULL;
		*inl_len = 0;
	}
	if (max >= INT_MAX || first > INT64_MAX) {
		return -EINVAL;
	}
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = msi_ino_get(ms, ino, &x);
	if (rc == 0) {
		if (attr != NULL) {
			*attr = x.a;
		}
		st = msi_bind(ms, S_EXT_LIST, ARGS(AI(ino), AI(first), AI(max + 1)));
		rc = st == NULL ? ms->dberr : 0;
	}
	while (st != NULL) {
		struct meta_extent *e;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : msi_db_fail(ms, rc, "extents");
			break;
		}
		if (n == max) {
			*more = 1;
			rc = 0;
			break;
		}
		e = &out[n];
		memset(e, 0, sizeof(*e));
		e->chunk = (uint64_t)sqlite3_column_int64(st, 0);
		if (sqlite3_column_bytes(st, 1) == BLOCK_ID_LEN) {
			memcpy(e->blk.id, sqlite3_column_blob(st, 1), BLOCK_ID_LEN);
		}
		e->len = (uint32_t)sqlite3_column_int64(st, 2);
		e->blk.k = (uint8_t)sqlite3_column_int64(st, 3);
		e->blk.m = (uint8_t)sqlite3_column_int64(st, 4);
		e->blk.len = (uint32_t)sqlite3_column_int64(st, 5);
		e->blk.csum = (uint64_t)sqlite3_column_int64(st, 6);
		e->blk.codec = (uint8_t)sqlite3_column_int64(st, 7);
		e->blk.zlen = (uint32_t)sqlite3_column_int64(st, 8);
		e->blk.cls = (uint8_t)sqlite3_column_int64(st, 9);
		n++;
	}
	if (st != NULL) {
		msi_stmt_done(st);
	}
	if (rc == 0 && inl != NULL && x.inl_len != 0) {
		rc = msi_inline_get(ms, ino, 0, inl, inl_len);
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : (int)n;
}

int ms_statfs(struct mstore *ms, struct ms_stat *st_out)
{
	struct inode root;
	sqlite3_stmt *st;
	int64_t v;
	int rc;

	memset(st_out, 0, sizeof(*st_out));
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	/* A shard whose bucket was deleted (or never created) has no root:
	 * the bucket does not exist, whatever its old settings say. */
	if ((rc = msi_ino_get(ms, META_ROOT_INO, &root)) != 0) {
		pthread_mutex_unlock(&ms->lock);
		return rc;
	}
	st = msi_bind(ms, S_STAT, NOARGS);
	rc = msi_first_row(ms, S_STAT, st);
	if (rc == 1) {
		st_out->files = (uint64_t)sqlite3_column_int64(st, 0);
		st_out->bytes = ((uint64_t)sqlite3_column_int64(st, 1) << 32) +
				(uint64_t)sqlite3_column_int64(st, 2);
		msi_stmt_done(st);
		rc = msi_meta_get(ms, K_CHUNK, &v);
		st_out->chunk_size = (uint32_t)v;
	}
	if (rc == 0) {
		rc = msi_meta_get(ms, K_INLINE, &v);
		st_out->inline_max = (uint32_t)v;
	}
	if (rc == 0) {
		rc = msi_meta_get(ms, K_COMPRESS, &v);
		st_out->codec = (uint8_t)v;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc;
}

/* ---- S3 listing ----
 * A depth-first walk over the skey index (invariant 4): visiting each
 * directory's entries in skey order yields full paths in bytewise order.
 * The stack is first positioned along `after` (one seek per level), so a
 * resumed listing never reads what sorts before it.
 * ms_list and ms_buckets call fn with ms->lock held, so fn must not call
 * back into the store; a non-zero return from fn ends the listing (a
 * negative one is returned as the error, a positive one returns the count
 * so far). */

struct lframe {
	uint64_t dir;
	size_t path_len;       /* the directory's path incl. its '/' */
	uint8_t cur[SKEY_MAX]; /* resume position among its entries */
	size_t cur_len;
	bool incl; /* cur itself is still to be visited */
};

struct lister {
	struct lframe *f;
	size_t depth, cap;
	bool delim; /* '/' delimits: directories of the prefix's own are
		     * listed as "name/" and not entered */
	char path[WIRE_STR_MAX + SKEY_MAX + 1];
};

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c != 0 ? c : (an > bn) - (an < bn);
}

static bool has_prefix(const void *s, size_t n, const void *p, size_t pn)
{
	return n >= pn && memcmp(s, p, pn) == 0;
}

static int push(struct lister *l, uint64_t dir, size_t path_len)
{
	struct lframe *f;

	if (l->depth == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;

		f = realloc(l->f, cap * sizeof(*f));
		if (f == NULL) {
			return -ENOMEM;
		}
		l->f = f;
		l->cap = cap;
	}
	f = &l->f[l->depth++];
	f->dir = dir;
	f->path_len = path_len;
	f->cur_len = 0;
	f->incl = true;
	return 0;
}

struct lentry {
	uint8_t skey[SKEY_MAX];
	size_t len;
	uint64_t ino;
	uint32_t mode;
	uint64_t size;
	int64_t mtime;
};

/* The next entry of frame f after its position: 1, 0 (none) or error. */
static int next_entry(struct mstore *ms, struct lframe *f, struct lentry *e)
{
	enum ms_stmt id = f->incl ? S_DE_NEXT_GE : S_DE_NEXT_GT;
	sqlite3_stmt *st = msi_bind(ms, id, ARGS(AI(f->dir), AB(f->cur, f->cur_len)));
	int rc = msi_first_row(ms, id, st);

	if (rc != 1) {
		return rc;
	}
	e->len = (size_t)sqlite3_column_bytes(st, 0);
	if (e->len == 0 || e->len > SKEY_MAX) {
		msi_stmt_done(st);
		log_error("ms.corrupt", "directory %llu: sort key of %zu bytes",
			  (unsigned long long)f->dir, e->len);
		return -EIO;
	}
	memcpy(e->skey, sqlite3_column_blob(st, 0), e->len);
	e->ino = (uint64_t)sqlite3_column_int64(st, 1);
	e->mode = (uint32_t)sqlite3_column_int64(st, 2);
	e->size = (uint64_t)sqlite3_column_int64(st, 3);
	e->mtime = sqlite3_column_int64(st, 4);
	msi_stmt_done(st);
	memcpy(f->cur, e->skey, e->len);
	f->cur_len = e->len;
	f->incl = false;
	return 1;
}

/* Positions the stack (one frame: the prefix's directory at dlen, whose
 * entries must start with rest) just after `after`.  Returns 1 when
 * nothing can follow, else 0 or an error. */
static int list_seek(struct mstore *ms, struct lister *l, const char *after, const char *rest,
		     size_t rlen)
{
	size_t alen = strlen(after), dlen = l->f[0].path_len;
	const char *a;

	if (!has_prefix(after, alen, l->path, dlen)) {
		/* `after` sorts wholly before or after this directory. */
		return bytes_cmp(after, alen, l->path, dlen) > 0;
	}
	a = after + dlen;
	alen -= dlen;
	for (;;) {
		struct lframe *f = &l->f[l->depth - 1];
		const char *slash = memchr(a, '/', alen);
		size_t clen = slash ? (size_t)(slash - a) + 1 : alen;
		char name[META_NAME_MAX + 1];
		struct inode x;
		uint64_t ino;
		int rc;

		if (clen == 0) {
			return 0; /* after == this directory's path */
		}
		if (l->depth == 1 && bytes_cmp(a, clen, rest, rlen) < 0) {
			return 0; /* the prefix's own start comes later */
		}
		/* A component longer than any sort key is cut: no key lies
		 * between the cut and the whole, so "after the cut" is
		 * exact. */
		f->cur_len = clen < SKEY_MAX ? clen : SKEY_MAX;
		memcpy(f->cur, a, f->cur_len);
		f->incl = false;
		if (slash == NULL || clen > SKEY_MAX || (l->delim && l->depth == 1) ||
		    (l->depth == 1 && !has_prefix(a, clen, rest, rlen))) {
			return 0;
		}
		memcpy(name, a, clen - 1);
		name[clen - 1] = '\0';
		rc = msi_de_get(ms, f->dir, name, &ino);
		if (rc == 0) {
			rc = msi_ino_get(ms, ino, &x);
		}
		if (rc < 0 || !S_ISDIR(x.a.mode) || f->path_len + clen > WIRE_STR_MAX) {
			return rc == -ENOENT ? 0 : rc; /* no such directory: no key below */
		}
		memcpy(l->path + f->path_len, a, clen);
		rc = push(l, ino, f->path_len + clen);
		if (rc < 0) {
			return rc;
		}
		a += clen;
		alen -= clen;
	}
}

static int list_locked(struct mstore *ms, struct lister *l, const char *prefix, const char *after,
		       size_t max, ms_list_fn fn, void *arg, int *more)
{
	size_t plen = strlen(prefix), dlen, rlen;
	const char *slash = strrchr(prefix, '/');
	const char *rest;
	struct inode x;
	size_t n = 0;
	int rc;

	dlen = slash ? (size_t)(slash - prefix) + 1 : 0;
	rest = prefix + dlen;
	rlen = plen - dlen;
	if (dlen > WIRE_STR_MAX || dlen == 1) {
		return 0; /* too long, or "/...": no key can start so */
	}
	rc = msi_ino_get(ms, META_ROOT_INO, &x);
	if (rc < 0) {
		return rc;
	}
	rc = msi_walk(ms, prefix, dlen ? dlen - 1 : 0, &x, NULL);
	if (rc == -ENOENT || rc == -ENOTDIR || rc == -EINVAL || rc == -ENAMETOOLONG ||
	    (rc == 0 && !S_ISDIR(x.a.mode))) {
		return 0; /* no such directory: nothing has this prefix */
	}
	memcpy(l->path, prefix, dlen);
	rc = rc < 0 ? rc : push(l, x.a.ino, dlen);
	if (rc == 0 && rlen != 0) {
		size_t c = rlen < SKEY_MAX ? rlen : SKEY_MAX;

		memcpy(l->f[0].cur, rest, c);
		l->f[0].cur_len = c;
	}
	if (rc == 0) {
		rc = list_seek(ms, l, after, rest, rlen);
		if (rc == 1) {
			return 0;
		}
	}
	while (rc == 0 && l->depth > 0) {
		struct lframe *f = &l->f[l->depth - 1];
		struct lentry e = {.len = 0};
		size_t len;

		rc = next_entry(ms, f, &e);
		if (rc <= 0) {
			l->depth -= rc == 0;
			continue;
		}
		rc = 0;
		if (l->depth == 1 && !has_prefix(e.skey, e.len, rest, rlen)) {
			break;
		}
		len = f->path_len + e.len;
		if (len > WIRE_STR_MAX) {
			continue; /* no object key can name it, or anything below */
		}
		memcpy(l->path + f->path_len, e.skey, e.len);
		if (e.skey[e.len - 1] == '/' && S_ISDIR(e.mode) && l->delim && l->depth == 1) {
			/* A common prefix: one entry however much lies below. */
			if (n == max) {
				*more = 1;
				break;
			}
			l->path[len] = '\0';
			rc = fn(arg, l->path, 0, 0);
			n++;
		} else if (e.skey[e.len - 1] == '/' && S_ISDIR(e.mode)) {
			rc = push(l, e.ino, len);
		} else if (S_ISREG(e.mode)) {
			if (n == max) {
				*more = 1;
				break;
			}
			l->path[len] = '\0';
			rc = fn(arg, l->path, e.size, e.mtime);
			n++;
		}
	}
	return rc < 0 ? rc : (int)n;
}

static int list_any(struct mstore *ms, const char *prefix, const char *after, size_t max,
		    ms_list_fn fn, void *arg, int *more, bool delim)
{
	struct lister *l;
	int rc;

	*more = 0;
	if (max >= INT_MAX) {
		return -EINVAL;
	}
	prefix = prefix ? prefix : "";
	after = after ? after : "";
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		return -ENOMEM;
	}
	l->delim = delim;
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	rc = list_locked(ms, l, prefix, after, max, fn, arg, more);
	pthread_mutex_unlock(&ms->lock);
	free(l->f);
	free(l);
	return rc;
}

int ms_list(struct mstore *ms, const char *prefix, const char *after, size_t max, ms_list_fn fn,
	    void *arg, int *more)
{
	return list_any(ms, prefix, after, max, fn, arg, more, false);
}

int ms_list_delim(struct mstore *ms, const char *prefix, const char *after, size_t max,
		  ms_list_fn fn, void *arg, int *more)
{
	return list_any(ms, prefix, after, max, fn, arg, more, true);
}

int ms_buckets(struct mstore *ms, ms_list_fn fn, void *arg)
{
	char name[MSG_NAME_MAX];
	sqlite3_stmt *st;
	int rc = 0, n = 0;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	st = msi_bind(ms, S_BK_LIST, NOARGS);
	while (st != NULL && rc == 0) {
		size_t len;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : msi_db_fail(ms, rc, "buckets");
			break;
		}
		len = (size_t)sqlite3_column_bytes(st, 0);
		if (len == 0 || len >= sizeof(name)) {
			log_error("ms.corrupt", "bucket name of %zu bytes", len);
			rc = -EIO;
			break;
		}
		memcpy(name, sqlite3_column_blob(st, 0), len);
		name[len] = '\0';
		rc = fn(arg, name, (uint64_t)sqlite3_column_int64(st, 1),
			sqlite3_column_int64(st, 2));
		n++;
	}
	if (st != NULL) {
		msi_stmt_done(st);
	} else {
		rc = ms->dberr;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : n;
}

int ms_gc_pending(struct mstore *ms, struct manifest_block *out, size_t max)
{
	return ms_gc_pending_after(ms, NULL, out, max);
}

int ms_gc_pending_after(struct mstore *ms, const uint8_t *after, struct manifest_block *out,
			size_t max)
{
	sqlite3_stmt *st;
	size_t n = 0;
	int rc = 0;

	if (max >= INT_MAX) {
		return -EINVAL;
	}
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	st = after == NULL ? msi_bind(ms, S_GC_LIST, ARGS(AI(max)))
			   : msi_bind(ms, S_GC_LIST_AFTER, ARGS(AI(max), AB(after, BLOCK_ID_LEN)));
	while (st != NULL) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : msi_db_fail(ms, rc, "gc list");
			break;
		}
		memset(&out[n], 0, sizeof(out[n]));
		if (sqlite3_column_bytes(st, 0) == BLOCK_ID_LEN) {
			memcpy(out[n].id, sqlite3_column_blob(st, 0), BLOCK_ID_LEN);
		}
		out[n].k = (uint8_t)sqlite3_column_int64(st, 1);
		out[n].m = (uint8_t)sqlite3_column_int64(st, 2);
		out[n].len = (uint32_t)sqlite3_column_int64(st, 3);
		out[n].csum = (uint64_t)sqlite3_column_int64(st, 4);
		n++;
	}
	if (st != NULL) {
		msi_stmt_done(st);
	} else {
		rc = ms->dberr;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : (int)n;
}

int64_t ms_gc_count(struct mstore *ms)
{
	sqlite3_stmt *st;
	int64_t n = -EIO;

	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	st = msi_bind(ms, S_GC_COUNT, NOARGS);
	if (st != NULL) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			n = sqlite3_column_int64(st, 0);
		}
		msi_stmt_done(st);
	}
	pthread_mutex_unlock(&ms->lock);
	return n;
}

int ms_blocks(struct mstore *ms, const uint8_t after[BLOCK_ID_LEN], int first,
	      struct meta_block_row *out, size_t max, int *more)
{
	/* An empty blob sorts before every id: the first page. */
	static const uint8_t none[1];
	sqlite3_stmt *st;
	size_t n = 0;
	int rc = 0;

	*more = 0;
	if (max == 0 || max >= INT_MAX) {
		return -EINVAL;
	}
	pthread_mutex_lock(&ms->lock);
	ms->dberr = 0;
	st = msi_bind(ms, S_BLOCKS_PAGE,
		      ARGS(first ? AB(none, 0) : AB(after, BLOCK_ID_LEN), AI(max + 1)));
	while (st != NULL) {
		struct meta_block_row *row = &out[n];

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW) {
			rc = rc == SQLITE_DONE ? 0 : msi_db_fail(ms, rc, "blocks page");
			break;
		}
		if (n == max) {
			*more = 1;
			rc = 0;
			break;
		}
		memset(row, 0, sizeof(*row));
		if (sqlite3_column_bytes(st, 0) == BLOCK_ID_LEN) {
			memcpy(row->blk.id, sqlite3_column_blob(st, 0), BLOCK_ID_LEN);
		}
		row->blk.k = (uint8_t)sqlite3_column_int64(st, 1);
		row->blk.m = (uint8_t)sqlite3_column_int64(st, 2);
		row->blk.len = (uint32_t)sqlite3_column_int64(st, 3);
		row->blk.csum = (uint64_t)sqlite3_column_int64(st, 4);
		row->refs = (uint32_t)sqlite3_column_int64(st, 5);
		row->blk.cls = (uint8_t)sqlite3_column_int64(st, 6);
		n++;
	}
	if (st != NULL) {
		msi_stmt_done(st);
	} else {
		rc = ms->dberr;
	}
	pthread_mutex_unlock(&ms->lock);
	return rc < 0 ? rc : (int)n;
}
