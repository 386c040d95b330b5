/* snap_stream.c: shard snapshot copies on disk, served and fetched in
 * chunks (see snap_stream.h).  snap_take runs on a libuv worker thread,
 * snap_serve on the server's disk queue, snap_fetch on the Raft loop
 * (inside a restore); none keeps more than one chunk in memory. */
#include "snap_stream.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "../common/checksum.h"
#include "../common/client.h"
#include "../common/clock.h"
#include "../common/err.h"
#include "../common/fileio.h"
#include "../common/log.h"
#include "../proto/msg.h"

#define SNAP_MAGIC 0x314e534fu /* "OSN1" */
#define SNAP_KEEP 2
#define SNAP_STEP_PAGES 256 /* pages copied per hold of the store's lock */
/* Share of its thread's time a copy may step: every replica of a shard
 * copies at about the same index, and three copies of 580 MB flat out on
 * two cores starved the Raft loops past their election timeout. */
#define SNAP_DUTY_PCT 25
#define SNAP_IO (1u << 20) /* read size when hashing a whole copy */

static struct {
	atomic_uint_fast64_t taken, take_ns_last, take_bytes_last;
	atomic_uint_fast64_t chunks_sent, bytes_sent;
	atomic_uint_fast64_t chunks_received, bytes_received, chunk_errors, resumes, fetches,
	    fetch_ns_last;
} stats;

void snap_get_stats(struct snap_stats *o)
{
	o->taken = atomic_load(&stats.taken);
	o->take_ns_last = atomic_load(&stats.take_ns_last);
	o->take_bytes_last = atomic_load(&stats.take_bytes_last);
	o->chunks_sent = atomic_load(&stats.chunks_sent);
	o->bytes_sent = atomic_load(&stats.bytes_sent);
	o->chunks_received = atomic_load(&stats.chunks_received);
	o->bytes_received = atomic_load(&stats.bytes_received);
	o->chunk_errors = atomic_load(&stats.chunk_errors);
	o->resumes = atomic_load(&stats.resumes);
	o->fetches = atomic_load(&stats.fetches);
	o->fetch_ns_last = atomic_load(&stats.fetch_ns_last);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- descriptor ----------------------------------------------------- */

void snap_desc_put(const struct snap_desc *d, uint8_t out[SNAP_DESC_LEN])
{
	struct wr w;

	wr_init_buf(&w, out, SNAP_DESC_LEN);
	wr_u32(&w, SNAP_MAGIC);
	wr_u32(&w, d->node);
	wr_u64(&w, d->index);
	wr_u64(&w, d->size);
	wr_u64(&w, d->xxh3);
	/* A check of the fields: a database that happens to begin with the
	 * magic is not taken for a descriptor. */
	wr_u64(&w, csum64(out, SNAP_DESC_LEN - 8));
}

int snap_desc_get(const void *buf, size_t len, struct snap_desc *d)
{
	struct rd r;

	if (len != SNAP_DESC_LEN) {
		return -EINVAL;
	}
	rd_init(&r, buf, len);
	if (rd_u32(&r) != SNAP_MAGIC) {
		return -EINVAL;
	}
	d->node = rd_u32(&r);
	d->index = rd_u64(&r);
	d->size = rd_u64(&r);
	d->xxh3 = rd_u64(&r);
	return rd_u64(&r) == csum64(buf, SNAP_DESC_LEN - 8) && rd_done(&r) ? 0 : -EINVAL;
}

/* ---- copies on disk ------------------------------------------------- */

/* Parses NAME = GROUP.snap-INDEX-XXH3 (16 hex digits); 1 if it is one. */
static int copy_name(const char *name, const char *group, uint64_t *index, uint64_t *xxh)
{
	size_t gl = strlen(group);
	const char *p;
	char *end;

	if (strncmp(name, group, gl) != 0 || strncmp(name + gl, ".snap-", 6) != 0) {
		return 0;
	}
	p = name + gl + 6;
	if (*p < '0' || *p > '9') {
		return 0;
	}
	*index = strtoull(p, &end, 10);
	if (*end != '-' || strlen(end + 1) != 16) {
		return 0;
	}
	*xxh = strtoull(end + 1, &end, 16);
	return *end == '\0';
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Streams the XXH3 of a whole file: 0 with *out, or a negative errno. */
static int file_xxh3(int fd, uint64_t size, uint64_t *out)
{
	XXH3_state_t *st = XXH3_createState();
	uint8_t *buf = malloc(SNAP_IO);
	int rc = st != NULL && buf != NULL ? 0 : -ENOMEM;

	if (rc == 0) {
		XXH3_64bits_reset(st);
	}
	for (uint64_t off = 0; rc == 0 && off < size;) {
		size_t n = size - off < SNAP_IO ? (size_t)(size - off) : SNAP_IO;

		rc = fio_read_exact(fd, buf, n, (off_t)off);
		if (rc == 0) {
			XXH3_64bits_update(st, buf, n);
			off += n;
		}
	}
	if (rc == 0) {
		*out = XXH3_64bits_digest(st);
	}
	free(buf);
	XXH3_freeState(st);
	return rc;
}

/* The copies served lately: a fetch in progress keeps its copy, however
 * many newer ones were taken since (a fetch slower than two snapshot
 * intervals would otherwise restart for ever).  Process-wide, as the
 * copies of a directory are. */
#define SERVED_MAX 16
#define SERVED_HOLD_NS (30ull * 1000000000u)

static struct {
	pthread_mutex_t mu;
	struct {
		char group[MSG_NAME_MAX];
		uint64_t index, at_ns;
	} v[SERVED_MAX];
} served = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void note_served(const char *group, uint64_t index)
{
	uint64_t now = now_ns();
	size_t pick = 0;

	pthread_mutex_lock(&served.mu);
	for (size_t i = 0; i < SERVED_MAX; i++) {
		if (served.v[i].index == index && strcmp(served.v[i].group, group) == 0) {
			pick = i;
			break;
		}
		if (served.v[i].at_ns < served.v[pick].at_ns) {
			pick = i; /* else the oldest slot */
		}
	}
	snprintf(served.v[pick].group, sizeof(served.v[pick].group), "%s", group);
	served.v[pick].index = index;
	served.v[pick].at_ns = now;
	pthread_mutex_unlock(&served.mu);
}

static int served_lately(const char *group, uint64_t index)
{
	uint64_t now = now_ns();
	int yes = 0;

	pthread_mutex_lock(&served.mu);
	for (size_t i = 0; i < SERVED_MAX && !yes; i++) {
		yes = served.v[i].index == index && served.v[i].at_ns + SERVED_HOLD_NS > now &&
		      strcmp(served.v[i].group, group) == 0;
	}
	pthread_mutex_unlock(&served.mu);
	return yes;
}

/* Removes every copy of group but the `keep` newest and those served
 * lately. */
static void prune(const char *dir, const char *group, int keep)
{
	uint64_t newest[SNAP_KEEP] = {0}, idx, xxh;
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (copy_name(e->d_name, group, &idx, &xxh)) {
			for (int i = 0; i < keep; i++) {
				if (idx > newest[i]) {
					memmove(&newest[i + 1], &newest[i],
						(size_t)(keep - i - 1) * sizeof(newest[0]));
					newest[i] = idx;
					break;
				}
			}
		}
	}
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		int kept = 0;

		if (!copy_name(e->d_name, group, &idx, &xxh)) {
			continue;
		}
		for (int i = 0; i < keep; i++) {
			kept |= idx == newest[i];
		}
		if (!kept && !served_lately(group, idx)) {
			unlinkat(dirfd(d), e->d_name, 0);
		}
	}
	closedir(d);
}

int snap_take(struct mstore *ms, const char *dir, const char *group, uint64_t index, size_t self,
	      struct snap_desc *d)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	uint64_t t0 = now_ns();
	struct stat st;
	int fd, rc;

	if (snprintf(tmp, sizeof(tmp), "%s/%s.snap-%" PRIu64 ".tmp", dir, group, index) >=
	    (int)sizeof(tmp)) {
		return -ENAMETOOLONG;
	}
	if ((rc = ms_backup_online(ms, tmp, SNAP_STEP_PAGES, SNAP_DUTY_PCT)) != 0) {
		return rc;
	}
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	d->index = index;
	d->size = (uint64_t)st.st_size;
	d->node = (uint32_t)self;
	if ((rc = file_xxh3(fd, d->size, &d->xxh3)) != 0) {
		goto out;
	}
	/* Durable before raft_uv records the descriptor that names it. */
	if (fsync(fd) != 0) {
		rc = -errno;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/%s.snap-%" PRIu64 "-%016" PRIx64, dir, group, index,
		 d->xxh3);
	if (rename(tmp, path) != 0) {
		rc = -errno;
		goto out;
	}
	fsync_dir(dir);
	prune(dir, group, SNAP_KEEP);
	atomic_fetch_add(&stats.taken, 1);
	atomic_store(&stats.take_ns_last, now_ns() - t0);
	atomic_store(&stats.take_bytes_last, d->size);
	log_info("snap.take", "shard '%s': copy at index %" PRIu64 ": %" PRIu64 " bytes in %.3f s",
		 group, index, d->size, (double)(now_ns() - t0) / 1e9);
out:
	if (fd >= 0) {
		close(fd);
	}
	if (rc != 0) {
		unlink(tmp);
	}
	return rc;
}

/* ---- serving -------------------------------------------------------- */

/* Finds the copy of group: exactly `want` when nonzero, else the newest
 * at min or later.  1 with its index and xxh3, 0 when there is none. */
static int find_copy(const char *dir, const char *group, uint64_t min, uint64_t want,
		     uint64_t *index, uint64_t *xxh)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t i, x;
	int found = 0;

	if (d == NULL) {
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (!copy_name(e->d_name, group, &i, &x) || i < min || (want != 0 && i != want)) {
			continue;
		}
		if (!found || i > *index) {
			*index = i;
			*xxh = x;
			found = 1;
		}
	}
	closedir(d);
	return found;
}

int snap_serve(const char *dir, struct rd *r, struct wr *w, uint8_t **data, size_t *n)
{
	char group[MSG_NAME_MAX], path[PATH_MAX];
	uint64_t min, want, off, index = 0, xxh = 0;
	uint32_t len;
	struct stat st;
	ssize_t got;
	int fd;

	rd_str(r, group, sizeof(group));
	min = rd_u64(r);
	want = rd_u64(r);
	off = rd_u64(r);
	len = rd_u32(r);
	/* A group is a bucket name or the catalog's: never a path. */
	if (!rd_done(r) || group[0] == '\0' || group[0] == '.' || strchr(group, '/') != NULL ||
	    len == 0 || len > SNAP_CHUNK_MAX) {
		return -OBJ_EPROTO;
	}
	if (!find_copy(dir, group, min, want, &index, &xxh)) {
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "%s/%s.snap-%" PRIu64 "-%016" PRIx64, dir, group, index, xxh);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno; /* pruned since: the fetcher starts again */
	}
	if (fstat(fd, &st) != 0 || (*data = malloc(len)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	got = off < (uint64_t)st.st_size ? fio_read_full(fd, *data, len, (off_t)off) : 0;
	close(fd);
	if (got < 0) {
		free(*data);
		*data = NULL;
		return (int)got;
	}
	*n = (size_t)got;
	wr_u64(w, index);
	wr_u64(w, (uint64_t)st.st_size);
	wr_u64(w, xxh);
	wr_u64(w, csum64(*data, *n));
	note_served(group, index);
	atomic_fetch_add(&stats.chunks_sent, 1);
	atomic_fetch_add(&stats.bytes_sent, *n);
	return 0;
}

/* ---- fetching ------------------------------------------------------- */

struct fetch {
	const struct cfg *cfg;
	const char *dir, *group;
	struct cl *cl;
	uint32_t chunk;
	/* the copy being fetched (index 0: none chosen yet) */
	uint64_t index, size, xxh;
	int fd;
	uint64_t have; /* bytes written and checked, a multiple of chunk */
	char part[PATH_MAX];
};

static void part_path(struct fetch *f)
{
	snprintf(f->part, sizeof(f->part), "%s/%s.fetch-%" PRIu64 "-%016" PRIx64, f->dir, f->group,
		 f->index, f->xxh);
}

/* Picks up a fetch a crash or a dropped connection interrupted: the part
 * file of a copy at min or later, cut back to its last whole chunk.
 * Other part files of the group are stale and go. */
static void resume_part(struct fetch *f, uint64_t min)
{
	char prefix[PATH_MAX];
	DIR *d = opendir(f->dir);
	struct dirent *e;
	size_t pl;

	snprintf(prefix, sizeof(prefix), "%s.fetch-", f->group);
	pl = strlen(prefix);
	if (d == NULL) {
		return;
	}
	while ((e = readdir(d)) != NULL) {
		uint64_t i, x;
		char *end;
		struct stat st;

		if (strncmp(e->d_name, prefix, pl) != 0) {
			continue;
		}
		i = strtoull(e->d_name + pl, &end, 10);
		x = *end == '-' ? strtoull(end + 1, &end, 16) : 0;
		if (f->index != 0 || i < min || *end != '\0' ||
		    fstatat(dirfd(d), e->d_name, &st, 0) != 0) {
			unlinkat(dirfd(d), e->d_name, 0);
			continue;
		}
		f->index = i;
		f->xxh = x;
		f->have = (uint64_t)st.st_size / f->chunk * f->chunk;
		f->size = UINT64_MAX; /* learnt from the next chunk */
	}
	closedir(d);
	if (f->index != 0) {
		part_path(f);
		f->fd = open(f->part, O_RDWR | O_CLOEXEC);
		if (f->fd < 0 || ftruncate(f->fd, (off_t)f->have) != 0) {
			if (f->fd >= 0) {
				close(f->fd);
			}
			f->fd = -1;
			unlink(f->part);
			f->index = 0;
			f->have = 0;
			return;
		}
		atomic_fetch_add(&stats.resumes, 1);
		log_info("snap.fetch",
			 "shard '%s': resuming the copy at index %" PRIu64 " at offset %" PRIu64,
			 f->group, f->index, f->have);
	}
}

static void drop_part(struct fetch *f)
{
	if (f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
	if (f->index != 0) {
		unlink(f->part);
	}
	f->index = 0;
	f->have = 0;
}

/* One chunk from node: 0 when it was written (or the copy is complete:
 * f->have == f->size), -EAGAIN when the copy changed under us (start
 * again), else the failure. */
static int fetch_chunk(struct fetch *f, size_t node, uint64_t min)
{
	struct cl_req rq = {0};
	struct wr w;
	struct rd r;
	uint64_t index, size, xxh, cx;
	size_t n;
	const uint8_t *data;
	int rc;

	wr_init(&w, 0);
	wr_str(&w, f->group);
	wr_u64(&w, min);
	wr_u64(&w, f->index);
	wr_u64(&w, f->have);
	wr_u32(&w, f->chunk);
	if ((rc = wr_status(&w)) != 0) {
		wr_free(&w);
		return rc;
	}
	rq.node = node;
	rq.type = MSG_SNAP_READ;
	rq.body = w.buf + w.reserve;
	rq.body_len = wr_len(&w);
	cl_run(f->cl, &rq, 1, 10000);
	wr_free(&w);
	if ((rc = rq.status) != 0) {
		cl_req_release(&rq);
		if (rc == -ENOENT && f->index != 0) {
			return -EAGAIN; /* that copy was pruned: take a newer one */
		}
		return rc;
	}
	rd_init(&r, rq.reply, rq.reply_len);
	index = rd_u64(&r);
	size = rd_u64(&r);
	xxh = rd_u64(&r);
	cx = rd_u64(&r);
	n = r.left;
	data = rd_ptr(&r, n);
	if (!rd_done(&r) || (n != f->chunk && f->have + n != size) || csum64(data, n) != cx) {
		atomic_fetch_add(&stats.chunk_errors, 1);
		cl_req_release(&rq);
		return -OBJ_ECHECKSUM;
	}
	if (f->index == 0) {
		f->index = index;
		f->xxh = xxh;
		f->size = size;
		part_path(f);
		f->fd = open(f->part, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (f->fd < 0) {
			rc = -errno;
			f->index = 0;
			cl_req_release(&rq);
			return rc;
		}
	} else if (index != f->index || xxh != f->xxh) {
		cl_req_release(&rq);
		return -EAGAIN; /* another node's copy of the same index differs */
	}
	f->size = size;
	rc = n ? fio_write_full(f->fd, data, n, (off_t)f->have) : 0;
	cl_req_release(&rq);
	if (rc == 0) {
		f->have += n;
		atomic_fetch_add(&stats.chunks_received, 1);
		atomic_fetch_add(&stats.bytes_received, n);
		log_debug("snap.fetch",
			  "shard '%s': chunk at %" PRIu64 " (%zu bytes) from node %zu", f->group,
			  f->have - n, n, node);
	}
	return rc;
}

int snap_fetch(const struct cfg *cfg, size_t self, const char *dir, const char *group,
	       const struct snap_desc *d, uint32_t chunk, uint32_t timeout_ms,
	       const atomic_int *stop, char *path, size_t cap)
{
	struct fetch f = {.cfg = cfg, .dir = dir, .group = group, .chunk = chunk, .fd = -1};
	uint64_t t0 = now_ns(), deadline = t0 + (uint64_t)timeout_ms * 1000000u, got;
	size_t src = d->node < cfg->n_nodes ? d->node : 0, tried = 0;
	int rc;

	if (chunk == 0 || chunk > SNAP_CHUNK_MAX) {
		return -EINVAL;
	}
	if ((rc = cl_open(cfg, &f.cl)) != 0) {
		return rc;
	}
	atomic_fetch_add(&stats.fetches, 1);
	resume_part(&f, d->index);
	log_info("snap.fetch",
		 "shard '%s': fetching a copy at index %" PRIu64 " or later (%" PRIu64
		 " bytes at %" PRIu64 ") from node %u",
		 group, d->index, d->size, f.have, cfg->nodes[src].id);
	for (;;) {
		if (f.index != 0 && f.have == f.size) {
			/* Every chunk was checked; the whole copy is checked
			 * too, since a resumed part was written by an earlier
			 * run (and a chunk may have been cut short then). */
			rc = file_xxh3(f.fd, f.size, &got);
			if (rc == 0 && got == f.xxh) {
				break;
			}
			log_warn("snap.fetch",
				 "shard '%s': the copy fetched fails its checksum; "
				 "fetching it again",
				 group);
			drop_part(&f);
		}
		if (now_ns() > deadline) {
			rc = -ETIMEDOUT;
			goto fail;
		}
		if (stop != NULL && atomic_load(stop)) {
			rc = -ECANCELED;
			goto fail;
		}
		rc = src == self ? -EHOSTDOWN : fetch_chunk(&f, src, d->index);
		if (rc == -EAGAIN) {
			drop_part(&f);
			continue;
		}
		if (rc != 0) {
			/* That node cannot serve: try the next one, and pause
			 * after a round of all of them. */
			src = (src + 1) % cfg->n_nodes;
			if (++tried % cfg->n_nodes == 0) {
				struct timespec ts = {0, 200 * 1000000};

				log_warn("snap.fetch",
					 "shard '%s': no node serves a copy at index %" PRIu64
					 " yet: %s",
					 group, d->index, obj_strerror(rc));
				nanosleep(&ts, NULL);
			}
		}
	}
	if (fsync(f.fd) != 0) {
		rc = -errno;
		goto fail;
	}
	if (snprintf(path, cap, "%s", f.part) >= (int)cap) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	close(f.fd);
	cl_close(f.cl);
	atomic_store(&stats.fetch_ns_last, now_ns() - t0);
	log_info("snap.fetch",
		 "shard '%s': fetched the copy at index %" PRIu64 ", %" PRIu64 " bytes in %.3f s",
		 group, f.index, f.size, (double)(now_ns() - t0) / 1e9);
	return 0;
fail:
	/* The part file stays: the next attempt resumes it. */
	if (f.fd >= 0) {
		close(f.fd);
	}
	cl_close(f.cl);
	log_error("snap.fetch", "shard '%s': fetch failed: %s", group, obj_strerror(rc));
	return rc;
}
