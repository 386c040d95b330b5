/* fs_dir.c: directory handles: opendir, readdir, readdirplus, releasedir.
 * Run by libfuse's worker threads; a handle's own mutex serialises the
 * kernel's readdir calls on it.
 *
 * Offsets: "." is position 0 and "..", 1; the directory's i-th entry (in
 * the shard's name order) is position i + 2, and each entry is emitted
 * with the offset of the one after it, so the kernel resumes at offset o
 * with position o.  The handle keeps one page of entries (a window of at
 * most META_READDIR_MAX) and continues after the window's last name; an
 * offset before the window (seekdir back) walks again from the start, and
 * offset 0 (rewinddir) starts a fresh listing. */
#include "fs_i.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"

struct dent {
	char *name;
	struct meta_attr attr;
};

struct dhandle {
	pthread_mutex_t mu;
	int loaded;    /* the window is valid */
	uint64_t base; /* index of win[0] among the directory's entries */
	struct dent *win;
	size_t n, cap;
	int more; /* entries follow the window */
};

static struct dhandle *dh_of(const struct fuse_file_info *fi)
{
	return (struct dhandle *)(uintptr_t)fi->fh;
}

static void dh_clear(struct dhandle *dh)
{
	for (size_t i = 0; i < dh->n; i++) {
		free(dh->win[i].name);
	}
	dh->n = 0;
	dh->loaded = 0;
}

static int dh_add(void *arg, const char *name, const struct meta_attr *attr)
{
	struct dhandle *dh = arg;

	if (dh->n == dh->cap) {
		size_t cap = dh->cap ? dh->cap * 2 : 64;
		struct dent *nw = realloc(dh->win, cap * sizeof(*nw));

		if (nw == NULL) {
			return -ENOMEM;
		}
		dh->win = nw;
		dh->cap = cap;
	}
	dh->win[dh->n].name = strdup(name);
	if (dh->win[dh->n].name == NULL) {
		return -ENOMEM;
	}
	dh->win[dh->n].attr = *attr;
	dh->n++;
	return 0;
}

/* Replaces the window by the page after `after`, starting at index base. */
static int dh_fetch(struct objfs *fs, uint64_t dir, struct dhandle *dh, const char *after,
		    uint64_t base)
{
	int more = 0, rc;

	dh_clear(dh);
	rc = mc_readdir(fs->mc, dir, after, META_READDIR_MAX, dh_add, dh, &more);
	if (rc < 0) {
		dh_clear(dh);
		return rc;
	}
	dh->base = base;
	dh->more = more;
	dh->loaded = 1;
	return 0;
}

/* Makes entry idx part of the window.  Returns 0, 1 at the end of the
 * directory, or a negative errno. */
static int dh_seek(struct objfs *fs, uint64_t dir, struct dhandle *dh, uint64_t idx)
{
	int rc;

	if (!dh->loaded || idx < dh->base) {
		if ((rc = dh_fetch(fs, dir, dh, "", 0)) != 0) {
			return rc;
		}
	}
	while (idx >= dh->base + dh->n) {
		char *after;

		if (!dh->more) {
			return 1;
		}
		if (dh->n == 0) {
			return -OBJ_EPROTO; /* "more" with an empty page */
		}
		after = strdup(dh->win[dh->n - 1].name);
		if (after == NULL) {
			return -ENOMEM;
		}
		rc = dh_fetch(fs, dir, dh, after, dh->base + dh->n);
		free(after);
		if (rc != 0) {
			return rc;
		}
	}
	return 0;
}

void fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dhandle *dh = calloc(1, sizeof(*dh));

	(void)ino;
	if (dh == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&dh->mu, NULL);
	fi->fh = (uint64_t)(uintptr_t)dh;
	if (fuse_reply_open(req, fi) != 0) {
		pthread_mutex_destroy(&dh->mu);
		free(dh);
	}
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	struct objfs *fs = fs_of(req);
	struct dhandle *dh = dh_of(fi);
	char *buf = malloc(size ? size : 1);
	size_t used = 0;
	uint64_t pos = off < 0 ? 0 : (uint64_t)off;
	int rc = 0;

	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&dh->mu);
	if (pos == 0) {
		dh_clear(dh); /* rewinddir: a fresh listing */
	}
	for (;;) {
		struct fuse_entry_param e;
		struct meta_attr a;
		const char *name;
		size_t len;

		memset(&e, 0, sizeof(e));
		if (pos < 2) {
			uint64_t p = pos == 0 ? ino : it_parent(fs->it, ino);

			name = pos == 0 ? "." : "..";
			e.attr.st_ino = ino == FUSE_ROOT_ID || p == 0 ? ino : p;
			e.attr.st_mode = S_IFDIR;
		} else {
			rc = dh_seek(fs, ino, dh, pos - 2);
			if (rc != 0) {
				break;
			}
			name = dh->win[pos - 2 - dh->base].name;
			a = dh->win[pos - 2 - dh->base].attr;
			if (plus) {
				fs_entry(fs, &a, &e);
				/* The listing may predate a write-and-close that
				 * finished since (the window is fetched in pages):
				 * a cached size of a file would then hide data
				 * just written.  Names stay cached; file
				 * attributes are fetched again on use. */
				if (S_ISREG(a.mode)) {
					e.attr_timeout = 0;
				}
			} else {
				e.attr.st_ino = a.ino;
				e.attr.st_mode = a.mode;
			}
		}
		if (plus) {
			len = fuse_add_direntry_plus(req, buf + used, size - used, name, &e,
						     (off_t)(pos + 1));
		} else {
			len = fuse_add_direntry(req, buf + used, size - used, name, &e.attr,
						(off_t)(pos + 1));
		}
		if (len > size - used) {
			break;
		}
		if (plus && pos >= 2 && it_lookup(fs->it, e.ino, ino) != 0) {
			/* Not counted: the kernel would forget more than we
			 * hold.  Drop the entry instead. */
			break;
		}
		used += len;
		pos++;
	}
	pthread_mutex_unlock(&dh->mu);
	if (rc < 0 && used == 0) {
		fs_reply_err(req, rc);
	} else {
		/* An error after some entries: return those; the next call
		 * starts at the failed position and reports it then. */
		fuse_reply_buf(req, buf, used);
	}
	free(buf);
}

void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 0);
}

void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 1);
}

void fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dhandle *dh = dh_of(fi);

	(void)ino;
	dh_clear(dh);
	free(dh->win);
	pthread_mutex_destroy(&dh->mu);
	free(dh);
	fuse_reply_err(req, 0);
}

/* Directory changes are committed by the shard before each reply. */
void fs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)ino;
	(void)datasync;
	(void)fi;
	fuse_reply_err(req, 0);
}
