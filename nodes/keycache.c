/* keycache.c: the node's polled copy of the client keys (see keycache.h). */
#include "keycache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/checksum.h"
#include "../common/client.h"
#include "../common/err.h"
#include "../common/fileio.h"
#include "../common/log.h"
#include "../common/meta_client.h"

struct keycache {
	pthread_rwlock_t lock; /* guards keys, n */
	struct key_ent *keys;  /* sorted by id */
	size_t n;
	const struct cfg *cfg;
	struct cl *cl;
	size_t replicas[8]; /* the catalog's, as indexes into cfg->nodes */
	size_t n_replicas;
	size_t next; /* the replica to ask first: the last leader seen */
	atomic_int stop;
	pthread_t thread;
	char path[PATH_MAX]; /* DATA_DIR/keys.cache */
};

/* The table is kept on disk too, so a node that restarts knows every key
 * before it reaches the catalog again (a revocation made while it was
 * down takes effect at its first poll).  Layout: "OBJFSKC1", u32 n,
 * n * key (keys.h, with secret), u64 XXH3 of all before it.  Written to
 * a temp name, fsynced and renamed. */
#define KC_MAGIC "OBJFSKC1"
#define KC_FILE_MAX (1u << 24)

static int by_id(const void *a, const void *b);

static void save(struct keycache *kc, const struct key_ent *keys, size_t n)
{
	char tmp[PATH_MAX + 8];
	struct wr w;
	int fd, rc = -ENOMEM;

	wr_init(&w, 0);
	wr_bytes(&w, KC_MAGIC, 8);
	wr_u32(&w, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		key_put(&w, &keys[i], 1);
	}
	wr_u64(&w, csum64(w.buf, w.len));
	snprintf(tmp, sizeof(tmp), "%s.tmp", kc->path);
	if (wr_status(&w) == 0) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		rc = fd < 0 ? -errno : fio_write_full(fd, w.buf, w.len, 0);
		if (fd >= 0 && rc == 0 && fsync(fd) != 0) {
			rc = -errno;
		}
		if (fd >= 0) {
			close(fd);
		}
		if (rc == 0 && rename(tmp, kc->path) != 0) {
			rc = -errno;
		}
	}
	if (w.buf != NULL) {
		memset(w.buf, 0, w.len);
	}
	wr_free(&w);
	if (rc != 0) {
		unlink(tmp);
		log_warn("keys.save", "cannot save the key cache %s: %s", kc->path,
			 obj_strerror(rc));
	}
}

/* Loads the saved table, if any and intact (else starts empty). */
static void load(struct keycache *kc)
{
	uint8_t *buf = malloc(KC_FILE_MAX);
	int fd = open(kc->path, O_RDONLY | O_CLOEXEC);
	ssize_t len = buf != NULL && fd >= 0 ? fio_read_full(fd, buf, KC_FILE_MAX, 0) : -1;
	struct key_ent *keys = NULL;
	struct rd r;
	uint32_t n = 0;

	if (fd >= 0) {
		close(fd);
	}
	if (len >= 20 && len < KC_FILE_MAX && memcmp(buf, KC_MAGIC, 8) == 0) {
		struct rd t;

		rd_init(&t, buf + len - 8, 8);
		if (rd_u64(&t) == csum64(buf, (size_t)len - 8)) {
			rd_init(&r, buf + 8, (size_t)len - 16);
			n = rd_u32(&r);
			keys = n <= r.left / 8 ? calloc(n ? n : 1, sizeof(*keys)) : NULL;
			for (uint32_t i = 0; keys != NULL && i < n; i++) {
				key_get(&r, &keys[i], 1);
			}
			if (keys == NULL || !rd_done(&r)) {
				free(keys);
				keys = NULL;
			}
		}
	}
	if (keys == NULL && len > 0) {
		log_warn("keys.load", "%s is damaged: no keys until the catalog answers", kc->path);
	}
	if (keys != NULL) {
		qsort(keys, n, sizeof(*keys), by_id);
		kc->keys = keys;
		kc->n = n;
	}
	if (buf != NULL) {
		memset(buf, 0, len > 0 ? (size_t)len : 0);
	}
	free(buf);
}

struct fetch {
	struct key_ent *keys;
	size_t n, cap;
};

static int fetch_cb(void *arg, const struct key_ent *k)
{
	struct fetch *f = arg;

	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 16;
		struct key_ent *p = realloc(f->keys, cap * sizeof(*p));

		if (p == NULL) {
			return -ENOMEM;
		}
		f->keys = p;
		f->cap = cap;
	}
	f->keys[f->n++] = *k;
	return 0;
}

static int by_id(const void *a, const void *b)
{
	uint64_t x = ((const struct key_ent *)a)->id, y = ((const struct key_ent *)b)->id;

	return x < y ? -1 : x > y;
}

static void wipe(struct key_ent *keys, size_t n)
{
	if (keys != NULL) {
		memset(keys, 0, n * sizeof(*keys));
		free(keys);
	}
}

/* Decodes a META_KEY_SYNC reply into f. */
static int fetch_reply(const struct cl_req *r, struct fetch *f)
{
	struct rd rd;
	uint32_t n;
	int rc = 0;

	rd_init(&rd, r->reply, r->reply_len);
	n = rd_u32(&rd);
	for (uint32_t i = 0; i < n && rc == 0 && rd_ok(&rd); i++) {
		struct key_ent k;

		key_get(&rd, &k, 1);
		rc = rd_ok(&rd) ? fetch_cb(f, &k) : -OBJ_EPROTO;
		memset(&k, 0, sizeof(k));
	}
	return rc == 0 && !rd_done(&rd) ? -OBJ_EPROTO : rc;
}

/* One round over the catalog's replicas, the last leader first, each
 * asked once (a redirect names the one to ask next): a poll never loops
 * on a catalog that is not there, which the next poll asks again. */
static int fetch_keys(struct keycache *kc, struct fetch *f)
{
	uint8_t body[2] = {0, 0}; /* the catalog's bucket: "" */
	int rc = -ENXIO;

	for (size_t attempt = 0; attempt < kc->n_replicas; attempt++) {
		struct cl_req r = {.node = kc->replicas[kc->next],
				   .type = MSG_META_KEY_SYNC,
				   .once = 1,
				   .body = body,
				   .body_len = sizeof(body)};

		cl_run(kc->cl, &r, 1, KEYCACHE_POLL_MS * 2);
		rc = r.status;
		if (rc == 0) {
			rc = fetch_reply(&r, f);
			cl_req_release(&r);
			return rc;
		}
		kc->next = (kc->next + 1) % kc->n_replicas;
		for (size_t i = 0; rc == -EREMOTE && r.hint != 0 && i < kc->n_replicas; i++) {
			if (kc->cfg->nodes[kc->replicas[i]].id == r.hint) {
				kc->next = i;
			}
		}
		cl_req_release(&r);
	}
	return rc;
}

/* One poll: the whole table or nothing. */
static void refresh(struct keycache *kc, int *warned)
{
	struct fetch f = {0};
	int rc = fetch_keys(kc, &f);
	struct key_ent *old;
	size_t old_n;
	int same;

	if (rc != 0) {
		wipe(f.keys, f.cap);
		if (!*warned) {
			log_warn("keys.stale",
				 "cannot read the keys from the catalog (%s): the "
				 "last copy stays in force",
				 obj_strerror(rc));
			*warned = 1;
		}
		return;
	}
	if (*warned) {
		log_info("keys.fresh", "keys read from the catalog again (%zu keys)", f.n);
		*warned = 0;
	}
	if (f.n > 1) {
		qsort(f.keys, f.n, sizeof(*f.keys), by_id); /* f.keys is NULL with no key */
	}
	pthread_rwlock_rdlock(&kc->lock);
	same = f.n == kc->n && (f.n == 0 || memcmp(f.keys, kc->keys, f.n * sizeof(*f.keys)) == 0);
	pthread_rwlock_unlock(&kc->lock);
	if (same) {
		wipe(f.keys, f.cap);
		return;
	}
	log_info("keys.update", "%zu client keys", f.n);
	save(kc, f.keys, f.n);
	pthread_rwlock_wrlock(&kc->lock);
	old = kc->keys;
	old_n = kc->n;
	kc->keys = f.keys;
	kc->n = f.n;
	pthread_rwlock_unlock(&kc->lock);
	wipe(old, old_n);
}

static void *poll_main(void *arg)
{
	struct keycache *kc = arg;
	int warned = 0;

	while (!atomic_load(&kc->stop)) {
		struct timespec ts = {.tv_sec = KEYCACHE_POLL_MS / 1000,
				      .tv_nsec = (KEYCACHE_POLL_MS % 1000) * 1000000L};

		refresh(kc, &warned);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

int keycache_start(const struct cfg *cfg, const char *data_dir, struct keycache **out)
{
	struct keycache *kc = calloc(1, sizeof(*kc));
	int rc;

	if (kc == NULL) {
		return -ENOMEM;
	}
	pthread_rwlock_init(&kc->lock, NULL);
	kc->cfg = cfg;
	snprintf(kc->path, sizeof(kc->path), "%s/keys.cache", data_dir);
	load(kc);
	kc->n_replicas = mc_shard_replicas(cfg, "", kc->replicas,
					   cfg->meta_replicas < OBJ_ARRAY_LEN(kc->replicas)
					       ? cfg->meta_replicas
					       : OBJ_ARRAY_LEN(kc->replicas));
	if (kc->n_replicas == 0) {
		wipe(kc->keys, kc->n);
		free(kc);
		return -EINVAL;
	}
	if ((rc = cl_open(cfg, &kc->cl)) != 0) {
		wipe(kc->keys, kc->n);
		free(kc);
		return rc;
	}
	atomic_init(&kc->stop, 0);
	if (pthread_create(&kc->thread, NULL, poll_main, kc) != 0) {
		cl_close(kc->cl);
		free(kc);
		return -EAGAIN;
	}
	pthread_detach(kc->thread);
	*out = kc;
	return 0;
}

void keycache_stop(struct keycache *kc)
{
	if (kc != NULL) {
		atomic_store(&kc->stop, 1);
	}
}

int keycache_find(void *arg, uint64_t id, struct key_ent *k)
{
	struct keycache *kc = arg;
	struct key_ent want = {.id = id};
	const struct key_ent *hit;
	int rc = -ENOKEY;

	pthread_rwlock_rdlock(&kc->lock);
	hit = kc->n > 0 ? bsearch(&want, kc->keys, kc->n, sizeof(*kc->keys), by_id) : NULL;
	if (hit != NULL) {
		*k = *hit;
		rc = 0;
	}
	pthread_rwlock_unlock(&kc->lock);
	return rc;
}
