/* usage.c: the node's usage history (see usage.h).  The sampling thread
 * and request threads share the ring under u->mu; file writes happen
 * under it too (one 104-byte append per interval is nothing to contend). */
#include "usage.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/checksum.h"
#include "../common/err.h"
#include "../common/fileio.h"
#include "../common/log.h"
#include "../proto/wire.h"

#define USAGE_MAGIC 0x4f425553u /* "SUBO" little-endian: objfs usage */
#define USAGE_VERSION 1

struct usage {
	char path[PATH_MAX], tmp[PATH_MAX], dir[PATH_MAX];
	uint32_t interval_s;
	usage_probe_fn probe;
	void *arg;
	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;
	int fd;
	uint64_t records;	   /* in the file */
	struct usage_sample *ring; /* keep entries, oldest at head */
	size_t keep, head, n;
	pthread_t th;
	int running, stopping;
};

void usage_rec_encode(const struct usage_sample *s, uint8_t rec[USAGE_REC_LEN])
{
	struct wr w;

	memset(rec, 0, USAGE_REC_LEN);
	wr_init_buf(&w, rec, USAGE_REC_LEN);
	wr_u32(&w, USAGE_MAGIC);
	wr_u16(&w, USAGE_VERSION);
	wr_u16(&w, 0);
	msg_put_usage_sample(&w, s);
	/* 8 + 88 bytes so far; the checksum covers them and ends the record. */
	wr_u64(&w, csum64(rec, USAGE_REC_LEN - 8));
}

int usage_rec_decode(const uint8_t rec[USAGE_REC_LEN], struct usage_sample *s)
{
	struct rd r;
	uint64_t want;

	rd_init(&r, rec + USAGE_REC_LEN - 8, 8);
	want = rd_u64(&r);
	if (csum64(rec, USAGE_REC_LEN - 8) != want) {
		return -OBJ_ECHECKSUM;
	}
	rd_init(&r, rec, USAGE_REC_LEN - 8);
	if (rd_u32(&r) != USAGE_MAGIC || rd_u16(&r) != USAGE_VERSION) {
		return -EINVAL;
	}
	(void)rd_u16(&r);
	msg_get_usage_sample(&r, s);
	return rd_done(&r) ? 0 : -EINVAL;
}

static void ring_push(struct usage *u, const struct usage_sample *s)
{
	if (u->n == u->keep) {
		u->ring[u->head] = *s;
		u->head = (u->head + 1) % u->keep;
		return;
	}
	u->ring[(u->head + u->n++) % u->keep] = *s;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0) {
		return -errno;
	}
	if (fsync(fd) != 0) {
		rc = -errno;
	}
	close(fd);
	return rc;
}

/* Rewrites the file with the ring's samples (the newest keep):
 * temp file, fsync, rename, fsync of the directory.  Under u->mu. */
static int compact(struct usage *u)
{
	uint8_t rec[USAGE_REC_LEN];
	int fd = open(u->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644), rc = 0;

	if (fd < 0) {
		return -errno;
	}
	for (size_t i = 0; i < u->n && rc == 0; i++) {
		usage_rec_encode(&u->ring[(u->head + i) % u->keep], rec);
		rc = fio_write_full(fd, rec, sizeof(rec), (off_t)(i * USAGE_REC_LEN));
	}
	if (rc == 0 && fsync(fd) != 0) {
		rc = -errno;
	}
	close(fd);
	if (rc == 0 && rename(u->tmp, u->path) != 0) {
		rc = -errno;
	}
	if (rc != 0) {
		unlink(u->tmp);
		return rc;
	}
	fsync_dir(u->dir);
	close(u->fd);
	if ((u->fd = open(u->path, O_RDWR | O_CLOEXEC)) < 0) {
		return -errno;
	}
	u->records = u->n;
	return 0;
}

static int load(struct usage *u)
{
	uint8_t rec[USAGE_REC_LEN];
	struct usage_sample s;
	off_t off = 0;

	for (;;) {
		ssize_t got = fio_read_full(u->fd, rec, sizeof(rec), off);

		if (got < 0) {
			return (int)got;
		}
		if (got < USAGE_REC_LEN || usage_rec_decode(rec, &s) != 0) {
			break;
		}
		ring_push(u, &s);
		off += USAGE_REC_LEN;
	}
	/* Anything after the last good record is a torn append: cut it, so
	 * the next record lands on a record boundary. */
	if (ftruncate(u->fd, off) != 0) {
		return -errno;
	}
	u->records = (uint64_t)off / USAGE_REC_LEN;
	return 0;
}

int usage_open(const char *data_dir, size_t keep, uint32_t interval_s, usage_probe_fn probe,
	       void *arg, struct usage **out)
{
	struct usage *u = calloc(1, sizeof(*u));
	int rc;

	*out = NULL;
	if (keep == 0) {
		free(u);
		return -EINVAL;
	}
	if (u == NULL || (u->ring = calloc(keep, sizeof(*u->ring))) == NULL) {
		free(u);
		return -ENOMEM;
	}
	u->keep = keep;
	if (snprintf(u->path, sizeof(u->path), "%s/%s", data_dir, USAGE_FILE) >=
		(int)sizeof(u->path) ||
	    snprintf(u->tmp, sizeof(u->tmp), "%s/%s.tmp", data_dir, USAGE_FILE) >=
		(int)sizeof(u->tmp)) {
		free(u->ring);
		free(u);
		return -ENAMETOOLONG;
	}
	snprintf(u->dir, sizeof(u->dir), "%s", data_dir);
	u->interval_s = interval_s;
	u->probe = probe;
	u->arg = arg;
	unlink(u->tmp); /* a compaction that did not finish */
	if ((u->fd = open(u->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		rc = -errno;
		free(u->ring);
		free(u);
		return rc;
	}
	if ((rc = load(u)) != 0) {
		close(u->fd);
		free(u->ring);
		free(u);
		return rc;
	}
	pthread_mutex_init(&u->mu, NULL);
	{
		pthread_condattr_t ca;

		/* Intervals on the monotonic clock: a stepped wall clock must not
		 * stop the sampling for the length of the step. */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&u->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	*out = u;
	return 0;
}

int usage_sample_now(struct usage *u)
{
	uint8_t rec[USAGE_REC_LEN];
	struct usage_sample s = {0};
	int rc;

	u->probe(u->arg, &s);
	s.t_s = (uint64_t)time(NULL);
	usage_rec_encode(&s, rec);
	pthread_mutex_lock(&u->mu);
	ring_push(u, &s);
	rc = fio_write_full(u->fd, rec, sizeof(rec), (off_t)(u->records * USAGE_REC_LEN));
	if (rc == 0 && fdatasync(u->fd) != 0) {
		rc = -errno;
	}
	if (rc == 0) {
		u->records++;
		if (u->records >= 2 * u->keep) {
			rc = compact(u);
		}
	}
	pthread_mutex_unlock(&u->mu);
	if (rc != 0) {
		log_warn("usage.write", "%s: %s (the sample is kept in memory only)", u->path,
			 obj_strerror(rc));
	}
	return rc;
}

static void *sampler(void *arg)
{
	struct usage *u = arg;

	for (;;) {
		struct timespec until;

		usage_sample_now(u);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += u->interval_s;
		pthread_mutex_lock(&u->mu);
		while (!u->stopping) {
			if (pthread_cond_timedwait(&u->cv, &u->mu, &until) == ETIMEDOUT) {
				break;
			}
		}
		if (u->stopping) {
			pthread_mutex_unlock(&u->mu);
			return NULL;
		}
		pthread_mutex_unlock(&u->mu);
	}
}

int usage_start(struct usage *u)
{
	int rc = pthread_create(&u->th, NULL, sampler, u);

	if (rc != 0) {
		return -rc;
	}
	u->running = 1;
	return 0;
}

size_t usage_get(struct usage *u, struct usage_sample *out, size_t max)
{
	size_t n, skip;

	pthread_mutex_lock(&u->mu);
	n = u->n < max ? u->n : max;
	skip = u->n - n;
	for (size_t i = 0; i < n; i++) {
		out[i] = u->ring[(u->head + skip + i) % u->keep];
	}
	pthread_mutex_unlock(&u->mu);
	return n;
}

void usage_close(struct usage *u)
{
	if (u == NULL) {
		return;
	}
	if (u->running) {
		pthread_mutex_lock(&u->mu);
		u->stopping = 1;
		pthread_cond_signal(&u->cv);
		pthread_mutex_unlock(&u->mu);
		pthread_join(u->th, NULL);
	}
	close(u->fd);
	pthread_mutex_destroy(&u->mu);
	pthread_cond_destroy(&u->cv);
	free(u->ring);
	free(u);
}
