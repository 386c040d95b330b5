/* fuzz_shard.c: reading a whole shard back (see fuzz_shard.h). */
#include "fuzz_shard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

static int list_cb(void *arg, const char *path, uint64_t size, int64_t mtime)
{
	(void)arg;
	(void)size;
	(void)mtime;
	if (strlen(path) > WIRE_STR_MAX) {
		fuzz_fail("a listed path longer than a key");
	}
	return 0;
}

void fuzz_shard_read(struct mstore *a, struct mstore *b)
{
	static struct ms_dirent dents[16];
	struct meta_extent ext[16];
	struct manifest_block gc[8];
	uint64_t end = ms_next_ino(a);
	struct ms_stat st;
	int more;

	if (b != NULL && end != ms_next_ino(b)) {
		fuzz_fail("two replicas disagree on the next inode");
	}
	for (uint64_t ino = 1; ino < end && ino < 64; ino++) {
		struct meta_attr x, y;
		int rx = ms_getattr(a, ino, &x), ry = b != NULL ? ms_getattr(b, ino, &y) : rx;
		char target[META_SYMLINK_MAX + 1], *names = NULL;
		uint8_t *inl = NULL;
		size_t nlen = 0, ilen = 0;

		if (b != NULL && (rx != ry || (rx == 0 && memcmp(&x, &y, sizeof(x)) != 0))) {
			fuzz_fail("two replicas hold different attributes");
		}
		if (rx != 0) {
			continue;
		}
		if (S_ISDIR(x.mode)) {
			int n = ms_readdir(a, ino, "", dents, 16, &more);

			for (int i = 0; i < n; i++) {
				struct meta_attr e;

				if (strlen(dents[i].name) > META_NAME_MAX) {
					fuzz_fail("a directory entry name longer than a name");
				}
				(void)ms_lookup(a, ino, dents[i].name, &e);
			}
		} else if (S_ISLNK(x.mode)) {
			(void)ms_readlink(a, ino, target, sizeof(target));
		} else if (ms_extents(a, ino, 0, ext, 16, &more, &x, &inl, &ilen) >= 0) {
			free(inl);
		}
		if (ms_listxattr(a, ino, &names, &nlen) == 0) {
			for (size_t off = 0; off < nlen; off += strlen(names + off) + 1) {
				uint8_t *val = NULL;
				size_t vlen;

				if (ms_getxattr(a, ino, names + off, &val, &vlen) == 0) {
					free(val);
				}
			}
			free(names);
		}
	}
	(void)ms_list(a, "", "", 64, list_cb, NULL, &more);
	(void)ms_buckets(a, list_cb, NULL);
	(void)ms_gc_pending(a, gc, 8);
	(void)ms_statfs(a, &st);
}

void fuzz_shard_unlink(const char *path)
{
	char p[4300];

	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
}
