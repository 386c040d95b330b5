/* vfs_space.c: where a file has bytes and where it has holes -- lseek
 * SEEK_DATA/SEEK_HOLE from the chunk map, and fallocate (size, hole
 * punching, zeroing).  Holes are chunks without a block: free.  Works on
 * committed content only (buffered writes are committed first) and never
 * keeps data of its own. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>

#include "../common/meta_client.h"
#include "vfs_i.h"

/* Commits n's buffered writes so the chunk map is the file's truth. */
static int commit_node(struct vfs *v, struct inode *n)
{
	struct fbuf *fb = it_fb(v->it, n);
	struct meta_attr a;
	int committed = 0;
	int rc;

	if (fb == NULL) {
		return -EIO;
	}
	rc = fb_flush(fb, &a, &committed);
	if (committed) {
		it_committed(v->it, n, a.gen, committed);
	}
	return rc;
}

/* ---- lseek -------------------------------------------------------------- */

struct seek {
	uint64_t cs, size, off;
	int data;	/* looking for data (else for a hole) */
	uint64_t pos;	/* hole search: the first byte not yet known to be data */
	uint64_t found; /* UINT64_MAX: not yet */
};

/* A range of bytes [a, b) that holds data, in file order. */
static int seek_range(struct seek *s, uint64_t a, uint64_t b)
{
	b = b < s->size ? b : s->size;
	if (b <= s->off || a >= b) {
		return 0;
	}
	if (s->data) {
		s->found = a > s->off ? a : s->off;
		return 1;
	}
	if (a > s->pos) {
		s->found = s->pos; /* a hole before this range */
		return 1;
	}
	s->pos = b > s->pos ? b : s->pos;
	return 0;
}

static int seek_page(void *arg, const struct ext_page *pg)
{
	struct seek *s = arg;

	if (pg->inl != NULL && pg->inl_len > 0 && seek_range(s, 0, pg->inl_len)) {
		return 1;
	}
	for (size_t i = 0; i < pg->n; i++) {
		uint64_t a = pg->ext[i].chunk * s->cs;

		if (pg->ext[i].len > 0 && seek_range(s, a, a + pg->ext[i].len)) {
			return 1;
		}
	}
	return 0;
}

int vfs_lseek(struct vfs *v, struct vfs_file *fh, uint64_t off, int whence, uint64_t *out)
{
	struct seek s = {.cs = v->conf.chunk_size, .off = off, .found = UINT64_MAX};
	struct fbuf *fb;
	int64_t mtime;
	int rc;

	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		return -EINVAL;
	}
	if ((rc = commit_node(v, fh->node)) != 0) {
		return rc;
	}
	fb = it_fb(v->it, fh->node);
	if (fb == NULL) {
		return -EIO;
	}
	fb_stat(fb, &s.size, &mtime);
	if (off >= s.size) {
		return -ENXIO;
	}
	s.data = whence == SEEK_DATA;
	s.pos = off;
	rc = mc_extents_each(v->st.mc, fh->node->ino, 0, seek_page, &s);
	if (rc < 0) {
		return rc;
	}
	if (s.found != UINT64_MAX) {
		*out = s.found;
	} else if (s.data) {
		return -ENXIO; /* only holes from off to the end */
	} else {
		*out = s.pos < s.size ? s.pos : s.size; /* the hole at the end */
	}
	return 0;
}

/* ---- fallocate ---------------------------------------------------------- */

/* Sends one MOP_WRITE with META_F_PUNCH for chunks [first, first + n). */
static int punch_chunks(struct vfs *v, struct inode *n, uint64_t first, uint64_t count)
{
	struct meta_extent *ext;
	struct meta_result res;
	struct meta_op op;
	int rc = 0;

	ext = calloc(count < META_EXTENTS_MAX ? count : META_EXTENTS_MAX, sizeof(*ext));
	if (ext == NULL) {
		return -ENOMEM;
	}
	while (count > 0 && rc == 0) {
		size_t k = count < META_EXTENTS_MAX ? (size_t)count : META_EXTENTS_MAX;

		for (size_t i = 0; i < k; i++) {
			ext[i].chunk = first + i;
		}
		memset(&op, 0, sizeof(op));
		op.type = MOP_WRITE;
		op.flags = META_F_PUNCH;
		op.ino = n->ino;
		op.ext = ext;
		op.n_ext = k;
		rc = vfs_op(v, &op, &res);
		if (rc == 0) {
			struct fbuf *fb = it_fb(v->it, n);

			if (fb != NULL) {
				fb_truncated(fb, res.attr.size, res.attr.gen);
			}
			it_committed(v->it, n, res.attr.gen, 1);
		}
		first += k;
		count -= k;
	}
	free(ext);
	rc_invalidate(v->rc, n->ino);
	return rc;
}

/* Writes zeros over [a, b) through the write buffer (the partial chunks
 * at the edges of a punched range). */
static int zero_bytes(struct vfs *v, struct inode *n, uint64_t a, uint64_t b)
{
	static const uint8_t zeros[64 * 1024];
	struct fbuf *fb = it_fb(v->it, n);

	if (fb == NULL) {
		return -EIO;
	}
	while (a < b) {
		size_t k = b - a < sizeof(zeros) ? (size_t)(b - a) : sizeof(zeros);
		ssize_t w = fb_write(fb, a, zeros, k);

		if (w < 0) {
			return (int)w;
		}
		a += (uint64_t)w;
	}
	return 0;
}

/* Makes [a, b) of n (within its size) read as zeros: whole chunks become
 * holes, the edges are overwritten. */
static int zero_range(struct vfs *v, struct inode *n, uint64_t a, uint64_t b)
{
	uint64_t cs = v->conf.chunk_size;
	uint64_t first = (a + cs - 1) / cs, last = b / cs; /* whole chunks [first, last) */
	int rc;

	if (first >= last) {
		rc = zero_bytes(v, n, a, b);
	} else {
		rc = zero_bytes(v, n, a, first * cs);
		if (rc == 0) {
			rc = zero_bytes(v, n, last * cs, b);
		}
	}
	if (rc == 0) {
		rc = commit_node(v, n);
	}
	if (rc == 0 && first < last) {
		rc = punch_chunks(v, n, first, last - first);
	}
	return rc;
}

/* The file's size becomes at least end (fallocate without KEEP_SIZE). */
static int grow_to(struct vfs *v, struct inode *n, uint64_t end, uint64_t size)
{
	struct vfs_setattr s = {.valid = META_SET_SIZE, .size = end};
	struct meta_attr a;

	if (end <= size) {
		return 0;
	}
	return vfs_setattr_node(v, n, &s, &a);
}

int vfs_fallocate(struct vfs *v, struct vfs_file *fh, int mode, uint64_t off, uint64_t len)
{
	const int known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
	struct inode *n = fh->node;
	uint64_t size, end;
	struct fbuf *fb;
	int64_t mtime;
	int rc;

	if (mode & ~known) {
		return -EOPNOTSUPP; /* COLLAPSE_RANGE, INSERT_RANGE, UNSHARE */
	}
	if ((mode & FALLOC_FL_PUNCH_HOLE) &&
	    (!(mode & FALLOC_FL_KEEP_SIZE) || (mode & FALLOC_FL_ZERO_RANGE))) {
		return -EOPNOTSUPP; /* as the kernel demands of every filesystem */
	}
	if (len == 0) {
		return -EINVAL;
	}
	if (off > INT64_MAX || len > INT64_MAX - off) {
		return -EFBIG;
	}
	end = off + len;
	if ((rc = commit_node(v, n)) != 0) {
		return rc;
	}
	fb = it_fb(v->it, n);
	if (fb == NULL) {
		return -EIO;
	}
	fb_stat(fb, &size, &mtime);
	if ((mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) && off < size) {
		rc = zero_range(v, n, off, end < size ? end : size);
	}
	/* Space is never reserved: blocks are written when data is (a
	 * preallocation could not survive a node's loss anyway), so the
	 * default mode only sets the size and KEEP_SIZE alone is a no-op. */
	if (rc == 0 && !(mode & FALLOC_FL_KEEP_SIZE)) {
		rc = grow_to(v, n, end, size);
	}
	if (rc == 0 && !(mode & FALLOC_FL_KEEP_SIZE)) {
		it_ksize_grow(v->it, n->ino, end); /* the kernel extends its i_size */
	}
	return rc;
}
