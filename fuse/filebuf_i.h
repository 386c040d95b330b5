/* filebuf_i.h: the write buffer's private types, shared by filebuf.c
 * (chunks, uploads, commits) and filebuf_view.c (what one handle reads).
 * Nothing outside those two files may include it; the lock and state
 * rules are in filebuf.c's header comment. */
#ifndef OBJFS_FILEBUF_I_H
#define OBJFS_FILEBUF_I_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../common/workq.h"
#include "filebuf.h"

enum ch_state { CH_DIRTY, CH_UPLOADING, CH_STORED };

struct chunk {
	uint64_t idx;
	struct fbuf *fb;
	uint8_t *buf;	 /* cap bytes; NULL once STORED */
	uint32_t cap;	 /* bytes allocated in buf (invariant 1) */
	uint32_t len;	 /* bytes of the chunk that belong to the file */
	uint32_t clen;	 /* older content to merge while !filled */
	uint32_t w0, w1; /* bytes written while !filled (w0 == w1: none) */
	enum ch_state state;
	bool filled;		   /* invariant 2 */
	bool fetching;		   /* chunk_fill running */
	bool queued;		   /* on the upload queue */
	bool claimed;		   /* an uploader owns it (fill + upload) */
	bool committing;	   /* blk is in a commit in flight */
	bool commit_tried;	   /* blk took part in a commit (invariant 4) */
	bool has_src;		   /* older content is block src */
	bool src_garbage;	   /* src was never committed: discard when unused */
	unsigned busy;		   /* threads using it without the lock */
	int err;		   /* last upload failure, cleared by a write */
	uint64_t try_id;	   /* flush round that queued it */
	uint64_t ver;		   /* bumped on every change of content */
	struct manifest_block blk; /* STORED */
	struct manifest_block src;
	/* The upload queue: wi is in the work queue while inq; queued says
	 * whether it still should be uploaded when a thread takes it (a
	 * dequeue only clears queued).  A chunk dropped while inq is left
	 * to that thread to free (orphaned): the queue holds its item. */
	struct fb_ctx *ctx;
	struct workq_item wi;
	bool inq;
	bool orphaned;
};

struct fbuf {
	struct fb_ctx *ctx;
	uint64_t ino;
	uint64_t size;	   /* local size: committed and buffered */
	uint64_t base;	   /* committed size as far as we know */
	uint64_t gen;	   /* generation base was seen at */
	uint64_t seq;	   /* bumped by this mount's own changes (commits, truncates,
			    * discards) and fb_follow: views of another seq follow */
	int64_t mtime_ns;  /* last write since the last commit, or 0 */
	struct chunk **ch; /* sorted by idx */
	size_t n, cap;
	bool flushing; /* a flush or truncate owns the commit path */
	bool trunc;    /* an O_TRUNC not committed yet (fb_truncate_deferred):
			* the next commit cuts the file to its size first */
	struct manifest_block *garbage;
	size_t n_garbage, cap_garbage;
	struct fbuf *prev, *next; /* ctx->files */
};

struct fb_ctx {
	struct fb_conf conf;
	const struct fb_ops *ops;
	void *arg;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* any chunk/file state change */
	struct workq *wq;    /* the uploaders */
	unsigned nqueued;    /* chunks with queued set */
	unsigned inflight;   /* chunks claimed by uploaders */
	uint64_t mem;	     /* bytes of chunk buffers */
	uint64_t round;	     /* flush round ids */
	uint64_t fail_seq;   /* counts upload failures */
	int last_err;
	struct fbuf *files;
};

/* Lock held: fb holds a change not committed yet (buffered bytes, or a
 * deferred truncate), so its sizes are ours, not the shard's. */
static inline bool fbi_held(const struct fbuf *fb)
{
	return fb->n > 0 || fb->trunc;
}

/* A read found the committed file at generation gen with size size, not
 * at fb->gen: adopt it if newer (filebuf.c).  Lock held. */
void fbi_stale_adopt(struct fbuf *fb, uint64_t gen, uint64_t size);

#endif
