/* filebuf.h: the write-back buffer of open files.
 * Owns, per inode, the chunks written but not yet committed (chunk index ->
 * buffer, valid length, upload state) and the file's local size; a work
 * queue (common/workq.h, role "fb.upload") whose threads store full
 * chunks while the writer goes on; the
 * bound on dirty memory across all files; and the commit that publishes
 * new extents.  Never talks to the cluster itself: storage, commit and
 * reads of committed data go through struct fb_ops, so tests run it
 * without a cluster.  Thread-safe; FUSE worker threads call it, uploader
 * threads run inside it.
 *
 * Durability rule: an extent is committed only after its block is stored
 * (ops->upload returns only then), and the size committed never covers
 * bytes whose chunk is not committed in the same or an earlier batch, so
 * a client killed at any point leaves either the old or the new content
 * of each chunk and never a file that looks longer than what it holds.
 *
 * Failure rule: a failed upload or commit leaves the data dirty and is
 * returned by the next fb_flush (the FUSE layer's flush, fsync, release);
 * the flush after that retries. */
#ifndef OBJFS_FILEBUF_H
#define OBJFS_FILEBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../proto/meta.h"

/* One commit of new content (one MOP_WRITE). */
struct fb_commit {
	uint64_t ino;
	uint64_t size;		       /* new size (the shard keeps max(old, size)) */
	int64_t mtime_ns;	       /* time of the last write */
	const struct meta_extent *ext; /* ascending chunks, n_ext <= max_batch */
	size_t n_ext;
	const uint8_t *inline_data; /* whole content when is_inline */
	size_t inline_len;
	int is_inline;
	int truncate; /* size is exact: the shard may shrink the file to it
		       * (the deferred O_TRUNC of fb_truncate_deferred) */
};

/* The backend.  Every function may block; none is called with the buffer's
 * lock held.  arg is the pointer given to fb_ctx_open. */
struct fb_ops {
	/* Reads bytes [off, off+len) of chunk `chunk` of ino into dst: from
	 * block *blk when blk is not NULL (stored, not yet committed), else
	 * from the committed content (extent, inline data or hole).  Bytes
	 * without data read as zeros.  With blk NULL and *gen != 0, only
	 * from the committed content of generation *gen: when the file is at
	 * another one, -ESTALE with *gen and *size set to it.  Returns 0 or a
	 * negative errno. */
	int (*read)(void *arg, uint64_t ino, uint64_t chunk, const struct manifest_block *blk,
		    uint32_t off, uint32_t len, uint8_t *dst, uint64_t *gen, uint64_t *size);
	/* Stores len (1..chunk_size) bytes as a new durable block and fills
	 * *out; size is the file's current size (picks the EC profile).
	 * Returns 0, -EIO, -ENOSPC ... */
	int (*upload)(void *arg, uint64_t ino, uint64_t size, const uint8_t *data, size_t len,
		      struct manifest_block *out);
	/* Publishes one commit (one MOP_WRITE); fills *attr with the file's new attributes.
	 * Returns 0 or a negative errno (nothing changed then). */
	int (*commit)(void *arg, const struct fb_commit *c, struct meta_attr *attr);
	/* Optional: takes ownership of buf (cap >= blk->len bytes, malloc'd)
	 * that holds the content of the stored block *blk, e.g. to cache it. */
	void (*donate)(void *arg, const struct manifest_block *blk, uint8_t *buf, size_t cap);
	/* Optional: a stored block that no extent will ever reference. */
	void (*discard)(void *arg, const struct manifest_block *blk);
	/* Optional (views, below): reads [off, off+len) of chunk `chunk` of
	 * ino's committed content from the version *pin holds.  With *pin
	 * NULL, from generation *gen, which the call then holds in *pin.
	 * -ESTALE with *gen and *size set to the file's version now when
	 * the file is at another generation (no hold taken), or when the
	 * held version can no longer be read (its blocks collected; *gen 0
	 * if the file is gone).  0 or a negative errno. */
	int (*read_pinned)(void *arg, uint64_t ino, uint64_t chunk, uint32_t off, uint32_t len,
			   uint8_t *dst, void **pin, uint64_t *gen, uint64_t *size);
	/* Another hold of what pin holds, and releasing a hold.  Never
	 * block: called with the buffer's lock held (the exception to the
	 * rule above). */
	void (*pin_ref)(void *arg, void *pin);
	void (*unpin)(void *arg, void *pin);
	/* Optional: 1 when the file at generation *gen (or newer) still
	 * holds every byte of the version pin holds at the same offsets (it
	 * was appended to): *longer is then a new hold of the newer version;
	 * 0 when not.  *gen and *size are set to the version now.  Or a
	 * negative errno. */
	int (*extends)(void *arg, uint64_t ino, void *pin, void **longer, uint64_t *gen,
		       uint64_t *size);
};

struct fb_conf {
	uint32_t chunk_size; /* bytes per chunk, from the bucket (mc_statfs) */
	uint32_t inline_max; /* files up to this size are committed inline */
	uint64_t max_dirty;  /* bytes of chunk buffers across all files;
			      * raised to 2 chunks if smaller */
	unsigned uploaders;  /* background upload threads (1..64) */
	uint32_t max_batch;  /* extents per commit; 0 or more than
			      * META_EXTENTS_MAX means META_EXTENTS_MAX */
};

struct fb_ctx;
struct fbuf;

/* Starts the uploader threads.  ops and arg must outlive the context.
 * Returns 0, -EINVAL (bad conf) or -ENOMEM. */
int fb_ctx_open(const struct fb_conf *conf, const struct fb_ops *ops, void *arg,
		struct fb_ctx **out);
/* Stops the uploaders.  Every fbuf must have been closed. */
void fb_ctx_close(struct fb_ctx *ctx);
/* Bytes of chunk buffers currently allocated (tests, statistics). */
uint64_t fb_ctx_dirty_bytes(struct fb_ctx *ctx);

/* The buffer of inode ino whose committed size is size at generation gen.
 * Returns 0 or -ENOMEM. */
int fb_open(struct fb_ctx *ctx, uint64_t ino, uint64_t size, uint64_t gen, struct fbuf **out);
/* Drops everything uncommitted (blocks stored for it are discarded) and
 * frees fb, after waiting for its uploads in flight. */
void fb_close(struct fbuf *fb);

/* Adopts a committed size seen at generation gen (another client's change
 * seen at open or getattr); ignored while fb holds uncommitted data or when
 * gen is older than what fb knows (an answer that raced our commit). */
void fb_refresh(struct fbuf *fb, uint64_t size, uint64_t gen);

/* Corrects attributes fetched from the shard with the local view: the
 * size and times of uncommitted writes, or our own newer commit.  Adopts
 * a newer committed size (as fb_refresh).  Returns 1 if *a was changed. */
int fb_overlay(struct fbuf *fb, struct meta_attr *a);

/* Copies len bytes at off into the buffer.  May block: for memory (until
 * uploads free some; fails with the last upload error if nothing can be
 * freed) and for reading the old content of a partly written chunk.
 * Returns len, or a negative errno (-EFBIG past the largest size, -EIO,
 * -ENOMEM, ...) if nothing was written, or the count written before a
 * failure. */
ssize_t fb_write(struct fbuf *fb, uint64_t off, const void *buf, size_t len);

/* Reads up to len bytes at off: buffered data first, else the stored or
 * committed content.  Returns the count (short at end of file, 0 past it)
 * or a negative errno. */
ssize_t fb_read(struct fbuf *fb, uint64_t off, size_t len, void *dst);

/* A view: the version of the committed content one open handle reads.
 * Every handle keeps the version it opened (generation, size, and through
 * ops->read_pinned its extents) until it closes, while other clients
 * overwrite the file: its reads are all of that version, or fail with
 * -ESTALE once that version cannot be read any more (its blocks were
 * collected after the grace period, or this mount knows a newer version
 * and the read reaches past the held version's end -- unless the newer
 * version only appended to it (ops->extends): then the view moves on).  A handle never
 * gets a mix of versions, nor zeros for bytes of a version it does not
 * hold.  Writes of this mount are seen at once: while the buffer is dirty
 * every view reads through it, and after this mount's own commits and
 * truncates (or fb_follow) the views move to the buffer's version. */
struct fb_view {
	uint64_t gen, size; /* the version held */
	uint64_t seq;	    /* the buffer's change count it follows */
	void *pin;	    /* ops->read_pinned's hold, or NULL (set at open
			     * when the kernel keeps its pages: fb_view_init) */
	int read;	    /* served committed bytes (or the kernel kept its pages) */
	int stale;	    /* failed with -ESTALE: every later read does */
};

/* Starts a view of fb at the version an open fetched; kept says the
 * kernel keeps its cached pages of the file (they count as read); pin is
 * a hold of that version already taken, or NULL (the view owns it). */
void fb_view_init(struct fbuf *fb, struct fb_view *v, uint64_t gen, uint64_t size, int kept,
		  void *pin);
/* Ends a view (the handle closes): releases its hold. */
void fb_view_end(struct fbuf *fb, struct fb_view *v);
/* Every view of fb moves to fb's version at its next read (a lock was
 * taken: changes of other mounts must be seen). */
void fb_follow(struct fbuf *fb);
/* fb_read through view v (NULL, or ops without read_pinned: fb_read).
 * Returns the count (short only at the end of the held version) or a
 * negative errno (-ESTALE: see struct fb_view); never a count short of
 * an error.  *buffered (may be NULL) is set to 1 when the bytes came
 * through the buffer's uncommitted changes, this mount's newest version
 * of the file, and to 0 when they are the view's own version. */
ssize_t fb_read_view(struct fbuf *fb, struct fb_view *v, uint64_t off, size_t len, void *dst,
		     int *buffered);

/* Uploads every dirty chunk (in parallel) and commits the new extents and
 * size.  Returns 0 once durable (then *attr, if not NULL, holds the new
 * attributes), or the error of an upload or commit (the data stays
 * dirty).  *committed counts the commits made either way: each moved the
 * file's generation by one. */
int fb_flush(struct fbuf *fb, struct meta_attr *attr, int *committed);

/* After the caller truncated the committed file to size (flush first, then
 * MOP_SETATTR, which left generation gen): forgets buffered bytes past
 * size and sets both sizes.  With a deferred O_TRUNC pending (one that
 * came after that flush) only the generation moves: the cut is newer. */
void fb_truncated(struct fbuf *fb, uint64_t size, uint64_t gen);
/* An open with O_TRUNC: forgets every buffered byte, and the file reads
 * as empty here at once, with the time of the open as its mtime.  The cut
 * itself reaches the shard with the next commit (fb_flush): in the same
 * record as the new content of a file that fits inline, so rewriting a
 * small file is one commit, not two; before the other content of a larger
 * one.  Other mounts see the old content until that commit, as they see
 * any write only after its close.  fb_dirty is 1 until it is committed. */
void fb_truncate_deferred(struct fbuf *fb);
/* Drops every write not committed yet (a commit the shard refuses for
 * good: EDQUOT); blocks stored for them are deleted.  A deferred truncate
 * stays: the next flush commits it. */
void fb_discard(struct fbuf *fb);

/* 1 when fb holds data not yet committed. */
int fb_dirty(struct fbuf *fb);

/* The local view: size including buffered writes, and the time of the
 * last write (0 if none since the last commit).  Returns fb_dirty(fb). */
int fb_stat(struct fbuf *fb, uint64_t *size, int64_t *mtime_ns);

#endif
