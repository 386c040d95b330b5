/* inode.h: the FUSE client's table of inodes the kernel knows.
 * Owns, per inode number: the kernel's lookup count, open handles, the
 * "unlinked" mark, the generation seen at the last open (close-to-open
 * page-cache decisions), a short negative cache for security.capability,
 * the cached attributes of directories, and the write buffer (struct
 * fbuf) while the file is open or dirty.
 * Decides when an entry may go and tells its owner (MOP_FORGET for an
 * unlinked inode, cache cleanup).  Never talks to the cluster.  Any FUSE
 * worker thread.
 *
 * Lock order: the table's mutex, then the write buffer's (fb_dirty is
 * called under it); callbacks and fb_close run with no lock held. */
#ifndef OBJFS_INODE_H
#define OBJFS_INODE_H

#include <stdint.h>

#include "filebuf.h"

struct itable;

/* One entry.  Only ino may be read without the table's lock; the rest is
 * reached through the functions below. */
struct inode {
	uint64_t ino;
	/* guarded by the table's mutex: */
	uint64_t parent;     /* last parent it was looked up in (for "..") */
	uint64_t nlookup;    /* kernel references (lookup, create, readdirplus ...) */
	uint32_t nopen;	     /* open file handles */
	uint32_t pins;	     /* handlers using the entry right now */
	int unlinked;	     /* its last link went while the kernel held it */
	int opened;	     /* open_gen is valid */
	uint64_t open_gen;   /* generation the kernel's page cache reflects */
	int64_t nocap_until; /* CLOCK_MONOTONIC ns: no security.capability */
	int64_t attr_until;  /* CLOCK_MONOTONIC ns: attr is valid (directories) */
	uint64_t ksize;	     /* the size the kernel has (it_ksize_*), if ksize_known */
	int ksize_known;
	struct meta_attr attr;
	int listed;	       /* list_* hold what the kernel's listing is no newer than */
	int64_t list_mtime_ns; /* (directories: it_listing_keep) */
	int64_t list_ctime_ns;
	struct fbuf *fb; /* write buffer, while open or dirty */
	struct inode *next;
};

struct it_ops {
	/* The last reference to an unlinked inode is gone (send MOP_FORGET). */
	void (*orphan)(void *arg, uint64_t ino);
	/* The entry was dropped: forget cached state of ino. */
	void (*gone)(void *arg, uint64_t ino);
};

/* ops and arg must outlive the table.  Returns 0 or -ENOMEM. */
int it_open(const struct it_ops *ops, void *arg, struct itable **out);
/* Frees the table; write buffers still attached are closed (their
 * uncommitted data dropped: flush with it_flush_all first) and unlinked
 * inodes are handed to ops->orphan. */
void it_close(struct itable *it);

/* Pins the entry of ino, creating it if needed.  NULL on -ENOMEM. */
struct inode *it_get(struct itable *it, uint64_t ino);
/* Unpins; may close a clean write buffer or drop the entry. */
void it_put(struct itable *it, struct inode *n);

/* The kernel got a reference to ino (an entry reply).  Returns 0 or
 * -ENOMEM. */
int it_lookup(struct itable *it, uint64_t ino, uint64_t parent);
/* The kernel dropped n references. */
void it_forget(struct itable *it, uint64_t ino, uint64_t n);
/* ino's last link went (unlink, rmdir, rename over it). */
void it_unlinked(struct itable *it, uint64_t ino);
/* True when some inode last seen in directory parent has open handles:
 * an unlink or rename-over in parent must keep its victim as an orphan. */
int it_open_in(struct itable *it, uint64_t parent);
/* Up to max inodes last seen in directory parent, into out; the count. */
size_t it_children(struct itable *it, uint64_t parent, uint64_t *out, size_t max);
/* The parent ino was last seen in, or 0. */
uint64_t it_parent(struct itable *it, uint64_t ino);

/* An open of n (pinned) with fresh attributes size and gen: creates or
 * refreshes its write buffer and counts the handle.  *keep_cache is set
 * when the kernel's cached pages are still valid (same generation as at
 * the previous open).  Returns 0 or -ENOMEM. */
int it_open_file(struct itable *it, struct inode *n, struct fb_ctx *fbc, uint64_t size,
		 uint64_t gen, int *keep_cache);
/* The handle is gone (after its flush).  n stays valid until it_put. */
void it_release_file(struct itable *it, struct inode *n);
/* An opendir of n (pinned): counted as an open, released by
 * it_release_file, so a directory removed while open stays an orphan. */
void it_open_dir(struct itable *it, struct inode *n);
/* The write buffer of n, or NULL.  Valid while the caller holds an open
 * handle or a pin on n. */
struct fbuf *it_fb(struct itable *it, struct inode *n);

/* Corrects attributes of a->ino from the shard with its write buffer's
 * local view (fb_overlay).  Returns 1 if *a changed. */
int it_overlay(struct itable *it, struct meta_attr *a);

/* Our own commits (commits of them, each moving the generation by one)
 * left n at generation gen: if nobody else changed it meanwhile, the
 * kernel's pages are still ours to keep. */
void it_committed(struct itable *it, struct inode *n, uint64_t gen, int commits);
/* The kernel's page cache of n holds bytes the shard never took: the next
 * open must not keep it. */
void it_drop_cache(struct itable *it, struct inode *n);

/* Negative cache of "security.capability" (the kernel asks before every
 * write): it_nocap returns 1 while known absent. */
int it_nocap(struct itable *it, struct inode *n);
void it_set_nocap(struct itable *it, struct inode *n, int64_t ttl_ns);

/* Attributes of directories the kernel knows, kept for ttl_ns: the
 * kernel drops its own copy of a directory's attributes after every
 * create in it, and asks again for the next path walk.  Only directories:
 * a file's attributes depend on its write buffer and on open's fresh
 * fetch (close-to-open).  it_attr_keep ignores a non-directory or an
 * inode the table does not hold. */
void it_attr_keep(struct itable *it, const struct meta_attr *a, int64_t ttl_ns);
/* 1, *out and the time they stay valid (*left_ns) while ino's cached
 * attributes are valid; else 0. */
int it_attr_cached(struct itable *it, uint64_t ino, struct meta_attr *out, int64_t *left_ns);
/* A create in dir applied at now_ns (the new inode's ctime): the shard set
 * dir's mtime and ctime to it, where they had been was_ns (0: not known),
 * and added dnlink to its link count.  Cached attributes with another
 * ctime than was_ns missed a change of another client, and with was_ns 0
 * may have: dropped. */
void it_attr_touch(struct itable *it, uint64_t dir, int64_t now_ns, int64_t was_ns, int dnlink);
/* The kernel's own listing cache of directory n (FOPEN_CACHE_DIR): what
 * it holds was read after attributes the table recorded.  At an opendir
 * with the shard's fresh attributes a: 1 when they are the recorded ones
 * (no entry was added, removed or renamed since: every such change stamps
 * the directory's mtime and ctime with a new, strictly rising time), so
 * the kernel may keep its listing; else 0, and a is recorded for the
 * listing about to be read.  With a NULL (no fresh attributes) it records
 * the cached ones, if any, and returns 0.  it_listing_known says whether
 * a listing was recorded (only then is a fresh getattr worth its query). */
int it_listing_keep(struct itable *it, struct inode *n, const struct meta_attr *a);
int it_listing_known(struct itable *it, struct inode *n);
/* Forgets the cached attributes of ino, or of every inode (ino 0). */
void it_attr_drop(struct itable *it, uint64_t ino);

/* The size the kernel holds for ino (its i_size): what an attribute
 * reply told it (set), what its own writes, extensions and O_TRUNC made
 * it (set, grow).  Only for inodes the table holds.  it_ksize returns 1
 * and *size when known.  A read that ends short inside that size is
 * filled with zeros by the kernel (ARCHITECTURE.md, Readers and GC). */
void it_ksize_set(struct itable *it, uint64_t ino, uint64_t size);
void it_ksize_grow(struct itable *it, uint64_t ino, uint64_t end);
int it_ksize(struct itable *it, uint64_t ino, uint64_t *size);

/* Flushes every write buffer; returns 0 or the first error and logs each
 * file that could not be committed. */
int it_flush_all(struct itable *it);

#endif
