/* meta_usage.c: what the metadata shards this node leads hold, for the
 * usage history (nodes/usage.c): files and their bytes per bucket shard
 * whose ready leader is here, so each bucket is counted by exactly one
 * node.  Reads through each store's own lock; never proposes. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#include "meta_service_i.h"

/* Bytes of a shard's database and its WAL on this node. */
static uint64_t db_bytes(const struct msvc *m, const char *name)
{
	static const char *const suffix[] = {".db", ".db-wal"};
	uint64_t total = 0;

	for (size_t i = 0; i < 2; i++) {
		char path[PATH_MAX + 64];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s%s", m->dir, msvc_group_of(name), suffix[i]);
		if (stat(path, &st) == 0) {
			total += (uint64_t)st.st_size;
		}
	}
	return total;
}

int msvc_usage(struct msvc *m, uint64_t *files, uint64_t *bytes, uint64_t *shards_led,
	       uint64_t *meta_bytes)
{
	struct shard *s;

	*files = *bytes = *shards_led = *meta_bytes = 0;
	if (m == NULL) {
		return 0;
	}
	/* Shards are only ever added at the head and freed at close: the
	 * list may be walked from a snapshot of the head. */
	pthread_mutex_lock(&m->mu);
	s = m->shards;
	pthread_mutex_unlock(&m->mu);
	for (; s != NULL; s = s->next) {
		struct ms_stat st;
		long leader;

		if (s->name[0] == '\0' || s->g == NULL || s->ms == NULL ||
		    repl_read_ok(s->g, &leader) != 0 || ms_statfs(s->ms, &st) != 0) {
			continue; /* the catalog, a follower, or a removed bucket */
		}
		(*shards_led)++;
		/* statfs counts every inode, the root directory included. */
		*files += st.files > 0 ? st.files - 1 : 0;
		*bytes += st.bytes;
		*meta_bytes += db_bytes(m, s->name);
	}
	return 0;
}
