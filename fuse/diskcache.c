/* diskcache.c: blocks as files under the cache directory (see
 * diskcache.h).  The mutex guards only the index; file I/O runs without
 * it.  An entry is indexed once its file is complete (renamed into
 * place), and eviction unlinks the file: a reader that already opened it
 * still reads the old inode, and a reader that did not gets a miss.
 * Which file goes is cachepolicy.c's choice (ARC by default: blocks a
 * stream read once give way before those read again).  Any thread. */
#include "diskcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/checksum.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../proto/msg.h"

#define DC_BUCKETS 4096

struct dc_ent {
	struct cp_node node; /* first: the policy's handle (key: the id) */
	uint8_t id[BLOCK_ID_LEN];
	uint64_t size;
	struct dc_ent *hnext;
};

struct dc {
	char dir[PATH_MAX];
	uint64_t max_bytes;
	pthread_mutex_t mu;
	struct dc_ent *tab[DC_BUCKETS];
	struct cp cp; /* the entries' order; its bound is max_bytes */
	uint64_t bytes, files;
	uint64_t hits, misses, evictions; /* statistics */
	unsigned tmp_seq;
	bool warned; /* a failed put was logged */
};

static size_t dc_hash(const uint8_t *id)
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return (size_t)(h % DC_BUCKETS);
}

static struct dc_ent *find(struct dc *dc, const uint8_t *id)
{
	struct dc_ent *e = dc->tab[dc_hash(id)];

	while (e != NULL && memcmp(e->id, id, BLOCK_ID_LEN) != 0) {
		e = e->hnext;
	}
	return e;
}

static void path_of(const struct dc *dc, const uint8_t *id, char *out, size_t len)
{
	char hex[2 * BLOCK_ID_LEN + 1];

	msg_block_hex(id, hex);
	snprintf(out, len, "%s/%s", dc->dir, hex);
}

/* Removes e from the index and its file from the disk; evicted: pushed
 * out by the bound (the policy remembers it).  Lock held. */
static void drop(struct dc *dc, struct dc_ent *e, bool evicted)
{
	struct dc_ent **pp = &dc->tab[dc_hash(e->id)];
	char path[PATH_MAX + 40];

	while (*pp != NULL && *pp != e) {
		pp = &(*pp)->hnext;
	}
	if (*pp == e) {
		*pp = e->hnext;
	}
	cp_remove(&dc->cp, &e->node, evicted);
	dc->bytes -= e->size;
	dc->files--;
	path_of(dc, e->id, path, sizeof(path));
	unlink(path);
	free(e);
}

static void trim(struct dc *dc)
{
	struct cp_node *n;

	while (dc->bytes > dc->max_bytes && (n = cp_victim(&dc->cp, NULL)) != NULL) {
		drop(dc, (struct dc_ent *)(void *)n, true);
		dc->evictions++;
	}
}

/* Lock held.  Returns the new entry or NULL. */
static struct dc_ent *add(struct dc *dc, const uint8_t *id, uint64_t size, enum cp_insert how)
{
	struct dc_ent *e = calloc(1, sizeof(*e));
	size_t h = dc_hash(id);

	if (e == NULL) {
		return NULL;
	}
	memcpy(e->id, id, BLOCK_ID_LEN);
	e->size = size;
	e->hnext = dc->tab[h];
	dc->tab[h] = e;
	memcpy(e->node.key, id, BLOCK_ID_LEN);
	e->node.size = size;
	cp_insert(&dc->cp, &e->node, how);
	dc->bytes += size;
	dc->files++;
	return e;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/* Parses a cache file name: exactly the block id in lower-case hex. */
static bool parse_name(const char *name, uint8_t *id)
{
	if (strlen(name) != 2 * BLOCK_ID_LEN) {
		return false;
	}
	for (size_t i = 0; i < BLOCK_ID_LEN; i++) {
		int hi = hexval(name[2 * i]), lo = hexval(name[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			return false;
		}
		id[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

struct scan_item {
	uint8_t id[BLOCK_ID_LEN];
	uint64_t size;
	int64_t mtime;
};

static int by_mtime(const void *a, const void *b)
{
	const struct scan_item *x = a, *y = b;

	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

/* Indexes what the directory holds, oldest first so the newest end up
 * at the LRU's head. */
static int scan(struct dc *dc)
{
	DIR *d = opendir(dc->dir);
	struct scan_item *items = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (d == NULL) {
		return -errno;
	}
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX + 300];
		struct stat st;
		uint8_t id[BLOCK_ID_LEN];

		if (de->d_name[0] == '.') {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dc->dir, de->d_name);
		if (!parse_name(de->d_name, id)) {
			if (strstr(de->d_name, ".tmp") != NULL) {
				unlink(path); /* a put cut short */
			}
			continue;
		}
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			continue;
		}
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct scan_item *ni = realloc(items, nc * sizeof(*ni));

			if (ni == NULL) {
				break;
			}
			items = ni;
			cap = nc;
		}
		memcpy(items[n].id, id, BLOCK_ID_LEN);
		items[n].size = (uint64_t)st.st_size;
		items[n].mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		n++;
	}
	closedir(d);
	if (n > 0) {
		qsort(items, n, sizeof(*items), by_mtime);
	}
	for (size_t i = 0; i < n; i++) {
		if (find(dc, items[i].id) == NULL) {
			add(dc, items[i].id, items[i].size, CP_DEMAND);
		}
	}
	free(items);
	return 0;
}

int dc_open(const char *dir, uint64_t max_bytes, struct dc **out)
{
	return dc_open_policy(dir, CP_ARC, max_bytes, out);
}

int dc_open_policy(const char *dir, enum cp_policy policy, uint64_t max_bytes, struct dc **out)
{
	struct dc *dc;
	struct stat st;
	int rc;

	if (strlen(dir) >= PATH_MAX - 2 * BLOCK_ID_LEN - 32) {
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		return -errno;
	}
	if (stat(dir, &st) != 0) {
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		return -ENOTDIR;
	}
	dc = calloc(1, sizeof(*dc));
	if (dc == NULL) {
		return -ENOMEM;
	}
	/* Absolute: the daemon changes to / after start-up. */
	if (realpath(dir, dc->dir) == NULL) {
		rc = -errno;
		free(dc);
		return rc;
	}
	dc->max_bytes = max_bytes;
	/* A fixed bound: the disk is what it is, memory pressure is not
	 * its business. */
	if ((rc = cp_init(&dc->cp, policy, max_bytes, max_bytes)) != 0) {
		free(dc);
		return rc;
	}
	pthread_mutex_init(&dc->mu, NULL);
	if ((rc = scan(dc)) != 0) {
		dc_close(dc);
		return rc;
	}
	trim(dc);
	*out = dc;
	return 0;
}

void dc_close(struct dc *dc)
{
	if (dc == NULL) {
		return;
	}
	for (size_t i = 0; i < DC_BUCKETS; i++) {
		while (dc->tab[i] != NULL) {
			struct dc_ent *e = dc->tab[i];

			dc->tab[i] = e->hnext;
			free(e);
		}
	}
	cp_fini(&dc->cp);
	pthread_mutex_destroy(&dc->mu);
	free(dc);
}

static int read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)got);

		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			return -EIO;
		}
		got += (size_t)r;
	}
	return 0;
}

int dc_get(struct dc *dc, const struct manifest_block *blk, uint8_t *buf)
{
	char path[PATH_MAX + 40];
	struct dc_ent *e;
	struct stat st;
	int fd, ok;

	pthread_mutex_lock(&dc->mu);
	e = find(dc, blk->id);
	if (e != NULL) {
		/* Each get is a read the memory cache could not serve: a new
		 * reference. */
		cp_touch(&dc->cp, &e->node, true);
		dc->hits++;
	} else {
		dc->misses++;
	}
	pthread_mutex_unlock(&dc->mu);
	if (e == NULL) {
		return -ENOENT;
	}
	path_of(dc, blk->id, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -ENOENT;
	}
	ok = fstat(fd, &st) == 0 && (uint64_t)st.st_size == blk->len &&
	     read_full(fd, buf, blk->len) == 0 && csum64(buf, blk->len) == blk->csum;
	close(fd);
	if (!ok) {
		log_warn("dc.bad", "cache file %s does not match its block: removed", path);
		pthread_mutex_lock(&dc->mu);
		e = find(dc, blk->id);
		if (e != NULL) {
			drop(dc, e, false);
		}
		pthread_mutex_unlock(&dc->mu);
		return -ENOENT;
	}
	return 0;
}

static int write_full(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return w < 0 ? -errno : -EIO;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

void dc_put(struct dc *dc, const struct manifest_block *blk, const uint8_t *buf)
{
	dc_put_how(dc, blk, buf, false);
}

void dc_put_how(struct dc *dc, const struct manifest_block *blk, const uint8_t *buf, bool warm)
{
	char path[PATH_MAX + 40], tmp[PATH_MAX + 80];
	unsigned seq;
	int fd, rc;

	if (blk->len == 0 || blk->len > dc->max_bytes) {
		return;
	}
	pthread_mutex_lock(&dc->mu);
	if (find(dc, blk->id) != NULL) {
		pthread_mutex_unlock(&dc->mu);
		return;
	}
	seq = dc->tmp_seq++;
	pthread_mutex_unlock(&dc->mu);
	path_of(dc, blk->id, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.%d.%u.tmp", path, (int)getpid(), seq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	rc = fd < 0 ? -errno : write_full(fd, buf, blk->len);
	if (fd >= 0 && close(fd) != 0 && rc == 0) {
		rc = -errno;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = -errno;
	}
	pthread_mutex_lock(&dc->mu);
	if (rc == 0 && find(dc, blk->id) == NULL &&
	    add(dc, blk->id, blk->len, warm ? CP_FREQUENT : CP_DEMAND) == NULL) {
		rc = -ENOMEM;
	}
	if (rc == 0) {
		trim(dc);
	} else if (!dc->warned) {
		dc->warned = true;
		log_warn("dc.put", "cannot write to the block cache %s: %s", dc->dir,
			 obj_strerror(rc));
	}
	pthread_mutex_unlock(&dc->mu);
	if (rc != 0) {
		unlink(tmp);
	}
}

bool dc_has(struct dc *dc, const struct manifest_block *blk)
{
	bool has;

	pthread_mutex_lock(&dc->mu);
	has = find(dc, blk->id) != NULL;
	pthread_mutex_unlock(&dc->mu);
	return has;
}

void dc_get_stats(struct dc *dc, struct dc_stats *out)
{
	pthread_mutex_lock(&dc->mu);
	out->hits = dc->hits;
	out->misses = dc->misses;
	out->evictions = dc->evictions;
	out->bytes = dc->bytes;
	out->files = dc->files;
	cp_get_stats(&dc->cp, &out->policy);
	pthread_mutex_unlock(&dc->mu);
}

void dc_usage(struct dc *dc, uint64_t *bytes, uint64_t *files)
{
	pthread_mutex_lock(&dc->mu);
	*bytes = dc->bytes;
	*files = dc->files;
	pthread_mutex_unlock(&dc->mu);
}
