/* vfs_warm.c: warm-up of the disk cache (see vfs.h, VFS_WARMUP_XATTR).
 * Fetches every block of a file's committed content that the disk cache
 * lacks straight into it, past the memory cache (a warm-up of a large
 * tree must not evict what the mount is reading now).  Runs on the FUSE
 * worker serving the request; the caller decides how many files at once. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "../common/err.h"
#include "../common/log.h"
#include "vfs_i.h"

int vfs_warmup(struct vfs *v, uint64_t ino, struct vfs_warm *out)
{
	struct meta_extent *ext = NULL;
	struct meta_attr attr;
	uint8_t *inl = NULL;
	size_t n = 0, inl_len = 0;
	int rc;

	out->fetched = out->cached = 0;
	if (v->st.dc == NULL) {
		return -EOPNOTSUPP; /* nothing to warm: the mount has no cache_dir */
	}
	rc = store_rc_ops.extents(&v->st, ino, &ext, &n, &attr, &inl, &inl_len);
	if (rc != 0) {
		return rc;
	}
	free(inl); /* inline content lives in the metadata: no block */
	for (size_t i = 0; i < n && rc == 0; i++) {
		bool fetched = false;

		rc = store_warm_block(&v->st, &ext[i].blk, &fetched);
		if (rc == 0) {
			*(fetched ? &out->fetched : &out->cached) += ext[i].blk.len;
		}
	}
	free(ext);
	if (rc != 0) {
		log_warn("fuse.warmup", "ino %" PRIu64 ": %s", ino, obj_strerror(rc));
	}
	return rc;
}
