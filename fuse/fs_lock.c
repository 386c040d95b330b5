/* fs_lock.c: the FUSE lock handlers (getlk, setlk, flock) and the lock
 * duties of close and release, over the mount's lock client (locks.h).
 * Every lock lives at the bucket's shard, so other mounts see it; the
 * kernel sends every lock call here, including those of this mount.
 * A blocking wait registers an interrupt callback: a signal to the
 * waiting process cancels the wait at the shard, and the call returns
 * EINTR.  Run by libfuse's worker threads; a blocked wait holds its
 * worker until it is granted, interrupted or the mount ends. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/file.h>

#include "fs_i.h"

/* Files beside a locked one whose kernel attributes a lock drops: a
 * database and its journals, with room to spare. */
#define LOCK_SIBLINGS_MAX 256

static struct objfs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void lock_of(fuse_ino_t ino, const struct fuse_file_info *fi, const struct flock *fl,
		    struct meta_lock *l)
{
	l->ino = ino;
	l->owner = fi->lock_owner;
	l->kind = META_LK_POSIX;
	l->type = fl->l_type == F_RDLCK	  ? META_LK_RD
		  : fl->l_type == F_WRLCK ? META_LK_WR
					  : META_LK_UN;
	/* libfuse gives an absolute range, l_len 0 meaning "to the end". */
	l->start = fl->l_start < 0 ? 0 : (uint64_t)fl->l_start;
	l->end = fl->l_len <= 0 ? META_LOCK_EOF : l->start + (uint64_t)fl->l_len - 1;
	l->pid = fl->l_pid > 0 ? (uint32_t)fl->l_pid : 0;
}

void fs_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *fl)
{
	struct meta_lock l, in_way;
	int rc;

	lock_of(ino, fi, fl, &l);
	rc = lkc_get(fs_of(req)->lk, &l, &in_way);
	if (rc < 0) {
		fs_reply_err(req, rc);
		return;
	}
	if (rc == 0) {
		fl->l_type = F_UNLCK;
	} else {
		fl->l_type = in_way.type == META_LK_RD ? F_RDLCK : F_WRLCK;
		fl->l_whence = SEEK_SET;
		fl->l_start = (off_t)in_way.start;
		fl->l_len =
		    in_way.end == META_LOCK_EOF ? 0 : (off_t)(in_way.end - in_way.start + 1);
		/* Another mount's pid means nothing here: the kernel maps it
		 * through this pid namespace. */
		fl->l_pid = (pid_t)in_way.pid;
	}
	fuse_reply_lock(req, fl);
}

/* A blocking wait, as the interrupt callback sees it. */
struct lock_wait {
	struct lkc *lk;
	uint64_t wait_id;
	atomic_int intr;
};

static void on_interrupt(fuse_req_t req, void *data)
{
	struct lock_wait *w = data;

	(void)req;
	atomic_store(&w->intr, 1);
	lkc_cancel(w->lk, w->wait_id);
}

/* The kernel's page cache and attributes of ino, and the attributes of
 * the files beside it, are dropped: files another mount created, changed
 * or removed (a journal) look as they are now. */
static void refresh_kernel(struct objfs *fs, fuse_ino_t ino)
{
	uint64_t sib[LOCK_SIBLINGS_MAX];
	size_t n = vfs_lock_siblings(fs->v, ino, sib, LOCK_SIBLINGS_MAX);

	fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
	for (size_t i = 0; i < n; i++) {
		if (sib[i] != ino) {
			fuse_lowlevel_notify_inval_inode(fs->se, sib[i], -1, 0); /* attributes */
		}
	}
}

/* Sets l for the open file fi, waiting if asked; the reply is sent. */
static void do_lock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct meta_lock *l,
		    int wait)
{
	struct objfs *fs = fs_of(req);
	struct lock_wait w = {.lk = fs->lk, .wait_id = lkc_wait_id()};
	int rc = 0;

	atomic_init(&w.intr, 0);
	/* Releasing publishes this mount's writes first (the next holder
	 * reads them). */
	if (l->type == META_LK_UN) {
		rc = vfs_lock_commit(fs->v, ino);
	}
	if (rc == 0 && wait && l->type != META_LK_UN) {
		fuse_req_interrupt_func(req, on_interrupt, &w);
		rc = lkc_set(fs->lk, fi->fh, l, 1, w.wait_id, &w.intr);
		/* Waits for a callback in progress: w dies with this frame. */
		fuse_req_interrupt_func(req, NULL, NULL);
	} else if (rc == 0) {
		rc = lkc_set(fs->lk, fi->fh, l, 0, 0, NULL);
	}
	/* Taking one makes other mounts' committed writes visible: fresh
	 * size and generation here, no stale pages in the kernel. */
	if (rc == 0 && l->type != META_LK_UN && vfs_lock_refresh(fs->v, ino) == 0) {
		refresh_kernel(fs, ino);
	}
	fs_reply_err(req, rc);
}

void fs_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *fl,
	      int sleep)
{
	struct meta_lock l;

	lock_of(ino, fi, fl, &l);
	do_lock(req, ino, fi, &l, sleep);
}

void fs_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	struct meta_lock l = {.ino = ino,
			      .owner = fi->lock_owner,
			      .kind = META_LK_FLOCK,
			      .start = 0,
			      .end = META_LOCK_EOF};

	switch (op & ~LOCK_NB) {
	case LOCK_SH:
		l.type = META_LK_RD;
		break;
	case LOCK_EX:
		l.type = META_LK_WR;
		break;
	case LOCK_UN:
		l.type = META_LK_UN;
		break;
	default:
		fuse_reply_err(req, EINVAL);
		return;
	}
	do_lock(req, ino, fi, &l, !(op & LOCK_NB));
}

int fs_lock_close(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct objfs *fs = fs_of(req);
	struct meta_lock l = {.ino = ino,
			      .owner = fi->lock_owner,
			      .kind = META_LK_POSIX,
			      .start = 0,
			      .end = META_LOCK_EOF,
			      .type = META_LK_UN};

	/* A process's POSIX locks on a file go at any close of it. */
	if (!lkc_owner_locked(fs->lk, ino, fi->lock_owner)) {
		return 0;
	}
	return lkc_set(fs->lk, fi->fh, &l, 0, 0, NULL);
}

void fs_lock_release(fuse_req_t req, struct fuse_file_info *fi)
{
	lkc_release(fs_of(req)->lk, fi->fh);
}
