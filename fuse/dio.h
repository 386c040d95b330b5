/* dio.h: coherence of direct and buffered I/O on one mount.
 *
 * The kernel drops a file's cached pages after a synchronous O_DIRECT
 * write, but not after an asynchronous one (io_submit), and a buffered
 * READ that raced a direct write can put the older bytes back in the page
 * cache after any invalidation.  For inodes open with O_DIRECT, dio counts
 * the buffered reads between their last look at the data and the end of
 * their reply, per write generation, and finishes every direct write on a
 * thread of its own: it waits out the reads that may carry older bytes,
 * invalidates the written range in the kernel, then replies.  It never
 * blocks a FUSE worker on the kernel's page locks (the invalidation waits
 * for READs in flight, which need free workers). */
#ifndef OBJFS_DIO_H
#define OBJFS_DIO_H

#ifndef FUSE_USE_VERSION
#define FUSE_USE_VERSION 312
#endif
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdint.h>

struct dio;
struct dio_ino;

/* One buffered read of a tracked inode (e NULL: not tracked, free). */
struct dio_read {
	struct dio_ino *e;
	uint64_t gen;
	int tries;
};

/* Starts the write-completion thread for session se.  Returns 0 or a
 * negative errno. */
int dio_start(struct fuse_session *se, struct dio **out);
/* Replies to every direct write still queued (without invalidating: the
 * session is over) and stops the thread. */
void dio_stop(struct dio *d);

/* An O_DIRECT handle of ino was opened / released. */
int dio_open(struct dio *d, uint64_t ino);
void dio_release(struct dio *d, uint64_t ino);

/* Around a buffered read of ino: begin before reading the data; settle
 * after reading it returns 1 when a direct write came in between (read
 * again, then settle again), else 0 and the reply may go; end after the
 * reply was sent. */
void dio_read_begin(struct dio *d, uint64_t ino, struct dio_read *r);
int dio_read_settle(struct dio *d, struct dio_read *r);
void dio_read_end(struct dio *d, struct dio_read *r);

/* A direct write of n bytes at off was taken by the write buffer: dio
 * replies to req (fuse_reply_write) once the kernel's cache of the range
 * is clean. */
void dio_write_done(struct dio *d, fuse_req_t req, uint64_t ino, uint64_t off, size_t n);

/* Drops the kernel's cached pages and attributes of ino, on the
 * invalidation thread, without waiting (a handle of ino failed with
 * ESTALE: the pages may hold the version it read, and the next open must
 * read the file as it is now).  Call after the reply: the kernel's
 * invalidation waits for the page locks of READs in flight. */
void dio_inval_inode(struct dio *d, uint64_t ino);

#endif
