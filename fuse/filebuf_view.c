/* filebuf_view.c: what one handle reads (see filebuf.h, "views").  A view
 * keeps the version its handle opened -- its generation, size and the
 * read cache's hold on that version's extents -- and reads through it
 * until this mount changes the file or the version is collected, then
 * fails with ESTALE rather than read another version or zeros.  Takes
 * the write buffer's lock (filebuf_i.h) and drops it for every backend
 * call; never touches chunks or the upload queue. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include "../common/log.h"
#include "filebuf.h"
#include "filebuf_i.h"

void fb_view_init(struct fbuf *fb, struct fb_view *v, uint64_t gen, uint64_t size, int kept,
		  void *pin)
{
	memset(v, 0, sizeof(*v));
	v->gen = gen;
	v->size = size;
	v->read = kept != 0;
	v->pin = pin;
	pthread_mutex_lock(&fb->ctx->mu);
	v->seq = fb->seq;
	pthread_mutex_unlock(&fb->ctx->mu);
}

static void view_unpin(struct fb_ctx *ctx, void *pin)
{
	if (pin != NULL && ctx->ops->unpin != NULL) {
		ctx->ops->unpin(ctx->arg, pin);
	}
}

static void view_ref(struct fb_ctx *ctx, void *pin)
{
	if (pin != NULL && ctx->ops->pin_ref != NULL) {
		ctx->ops->pin_ref(ctx->arg, pin);
	}
}

void fb_view_end(struct fbuf *fb, struct fb_view *v)
{
	view_unpin(fb->ctx, v->pin);
	v->pin = NULL;
}

void fb_follow(struct fbuf *fb)
{
	pthread_mutex_lock(&fb->ctx->mu);
	fb->seq++;
	pthread_mutex_unlock(&fb->ctx->mu);
}

/* How often the first read of a view adopts a newer version (the file
 * changed at the shard between the open and its first read). */
#define FB_VIEW_ADOPT_TRIES 8

/* A read past the end of v's version while this mount knows a newer one:
 * the view moves to it when it only appended (ops->extends).  Lock held
 * (dropped for the call). */
static void view_extend(struct fbuf *fb, struct fb_view *v)
{
	struct fb_ctx *ctx = fb->ctx;

	for (int tries = 0; tries < 2 && v->gen != fb->gen && v->pin != NULL && !v->stale;
	     tries++) {
		uint64_t gen = fb->gen, size = 0, want = v->gen;
		void *old = v->pin, *pin = NULL;
		int rc;

		view_ref(ctx, old); /* another read may drop the view's hold */
		pthread_mutex_unlock(&ctx->mu);
		rc = ctx->ops->extends(ctx->arg, fb->ino, old, &pin, &gen, &size);
		pthread_mutex_lock(&ctx->mu);
		view_unpin(ctx, old);
		if (rc != 1) {
			if (rc == 0 && gen != 0) {
				fbi_stale_adopt(fb, gen, size);
			}
			return;
		}
		if (v->gen != want || v->pin != old) {
			view_unpin(ctx, pin); /* moved meanwhile by another read */
			continue;
		}
		fbi_stale_adopt(fb, gen, size);
		view_unpin(ctx, v->pin);
		v->pin = pin;
		v->gen = gen;
		v->size = size;
	}
}

/* Reads through a view of a clean buffer (fb_read_view).  Lock held
 * (dropped for every backend call that may block). */
static ssize_t view_read(struct fbuf *fb, struct fb_view *v, uint64_t off, size_t len, uint8_t *out)
{
	struct fb_ctx *ctx = fb->ctx;
	uint32_t cs = ctx->conf.chunk_size;
	unsigned adopt = 0;
	size_t done = 0, want_len = len;

	if (v->gen < fb->gen && v->pin == NULL && !v->read) {
		/* Nothing read yet, and this mount knows a newer version. */
		v->gen = fb->gen;
		v->size = fb->base;
	}
	if (v->gen != fb->gen && off + len > v->size && ctx->ops->extends != NULL) {
		view_extend(fb, v);
	}
	if (v->gen != fb->gen && off + len > v->size) {
		/* This mount knows a newer version, whose size the kernel may
		 * have been told: an answer that ends at this version's end
		 * would be a short read inside that size, and the kernel
		 * fills the rest of its pages with zeros. */
		v->stale = 1;
	}
	for (;;) {
		uint64_t pos = off + done, idx = pos / cs, gen, size = 0, want;
		uint32_t a = (uint32_t)(pos % cs), n;
		void *pin, *held;
		int rc;

		if (v->stale) {
			return -ESTALE;
		}
		if (done == 0) {
			/* Clamped to the view's size, which the first read may
			 * change (adopting a newer version). */
			len = off >= v->size ? 0 : want_len;
			if (len > v->size - off) {
				len = (size_t)(v->size - off);
			}
		}
		if (done >= len) {
			break;
		}
		n = len - done < cs - a ? (uint32_t)(len - done) : cs - a;
		gen = want = v->gen;
		pin = held = v->pin;
		view_ref(ctx, held); /* ours while the lock is dropped */
		pthread_mutex_unlock(&ctx->mu);
		rc = ctx->ops->read_pinned(ctx->arg, fb->ino, idx, a, n, out + done, &pin, &gen,
					   &size);
		pthread_mutex_lock(&ctx->mu);
		if (held != NULL) {
			view_unpin(ctx, held);
		} else if (pin != NULL && (v->pin != NULL || v->gen != want)) {
			view_unpin(ctx, pin); /* two first reads at once: one hold */
		} else if (pin != NULL) {
			v->pin = pin; /* the first read took the hold */
		}
		if (v->gen != want) {
			/* Another read of this handle took another version
			 * meanwhile: what this one read is not of it. */
			if (done == 0) {
				continue;
			}
			v->stale = 1;
			return -ESTALE;
		}
		if (rc == -ESTALE && v->pin == NULL && !v->read && ++adopt < FB_VIEW_ADOPT_TRIES) {
			/* Nothing of the opened version was served yet and the
			 * file is at another one now: take that one. */
			fbi_stale_adopt(fb, gen, size);
			if (gen >= v->gen) {
				v->gen = gen;
				v->size = size;
			}
			continue;
		}
		if (rc == -ESTALE) {
			/* The version this handle holds is gone (its blocks were
			 * collected after the grace period): never a mix of it
			 * and the next one, never zeros in its place. */
			v->stale = 1;
			if (gen != 0) {
				fbi_stale_adopt(fb, gen, size);
			}
			log_info("fb.stale_handle",
				 "ino %" PRIu64 ": a handle's version (generation %" PRIu64
				 ") is gone; it fails with ESTALE",
				 fb->ino, want);
			return -ESTALE;
		}
		if (rc < 0) {
			return rc; /* a whole answer or none: a short one is zeros */
		}
		v->read = 1;
		done += n;
	}
	return (ssize_t)done;
}

ssize_t fb_read_view(struct fbuf *fb, struct fb_view *v, uint64_t off, size_t len, void *dst,
		     int *buffered)
{
	struct fb_ctx *ctx = fb->ctx;
	ssize_t rc;

	if (buffered != NULL) {
		*buffered = 0;
	}
	if (v == NULL || ctx->ops->read_pinned == NULL) {
		return fb_read(fb, off, len, dst);
	}
	pthread_mutex_lock(&ctx->mu);
	if (fbi_held(fb) || fb->flushing) {
		/* Writes of this mount not committed yet: every handle reads
		 * the file as this mount has it. */
		pthread_mutex_unlock(&ctx->mu);
		if (buffered != NULL) {
			*buffered = 1;
		}
		return fb_read(fb, off, len, dst);
	}
	if (v->seq != fb->seq) {
		/* This mount changed the file (or took a lock): the view
		 * follows to the version it knows now. */
		v->seq = fb->seq;
		if (v->gen != fb->gen || v->size != fb->base) {
			view_unpin(ctx, v->pin);
			v->pin = NULL;
			v->gen = fb->gen;
			v->size = fb->base;
		}
		v->stale = 0;
	}
	rc = view_read(fb, v, off, len, dst);
	pthread_mutex_unlock(&ctx->mu);
	return rc;
}
