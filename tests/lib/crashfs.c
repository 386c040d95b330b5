/* crashfs.c: an LD_PRELOAD power-loss shim for crash tests (in the spirit
 * of SQLite's test6.c).  Keeps a shadow of what the disk would hold after a
 * power cut and, on a trigger, puts the tree back to it and _exit()s: every
 * byte not covered by fsync/fdatasync of its file, and every create, rename
 * or unlink not covered by an fsync of its directory, is gone.  Never
 * touches anything outside CRASHFS_ROOT and CRASHFS_SHADOW.
 *
 * The model (invariant 1 is what makes it honest):
 *  1. The shadow holds nothing that was not fsynced: SHADOW/ino/<dev>_<ino>
 *     is the content of an inode at its last fsync/fdatasync (empty if it
 *     never had one); SHADOW/tree/ mirrors the directories, each name a hard
 *     link to its inode's shadow, as of the directory's last fsync.
 *  2. A file fsync rewrites its inode's shadow in place, so every durable
 *     name of that inode sees the new content.
 *  3. Unlinking or renaming over the last name of an inode drops its key
 *     (not its durable names), so a reused inode number starts empty.
 *  4. Paths listed in CRASHFS_KEEP (relative to the root, ':'-separated)
 *     are left as they are at the crash: for writers whose I/O the shim
 *     cannot see (c-raft writes its log with O_DIRECT and RWF_DSYNC through
 *     raw io_submit syscalls, durable when each write completes).
 *  5. An fsync of a directory whose own name is not yet durable still
 *     records it (as ext4's ordered journal does in practice).
 * Writes are not intercepted: what they did is lost unless a sync copies
 * it into the shadow, which is the same thing as recording them.
 *
 * Environment: CRASHFS_ROOT (required; an existing directory),
 * CRASHFS_SHADOW (default ROOT/.crash-durable; same file system as ROOT),
 * CRASHFS_KEEP, CRASHFS_TRIGGER (crash as soon as this path exists; polled
 * every 2 ms and at every sync), CRASHFS_AFTER (crash at the Nth sync call,
 * before it runs).  The crash exits with status CRASHFS_EXIT_STATUS (86).
 * Thread-safe: one mutex serialises the shadow and the crash, so a crash
 * never sees half a shadow copy.  Inside the shim, unlink and rename are
 * called through real_*: the exported ones would take mu again. */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CRASHFS_EXIT_STATUS 86
#define KEEP_MAX 8

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned);

static int active;
static char root[PATH_MAX], shadow[PATH_MAX], trigger[PATH_MAX];
static char keep[KEEP_MAX][PATH_MAX];
static size_t n_keep;
static long crash_after; /* 0: off */
static long syncs;	 /* guarded by mu */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void die(const char *what)
{
	fprintf(stderr, "crashfs: %s: %s\n", what, strerror(errno));
	_exit(127);
}

/* The path of p relative to the root, or NULL when p is outside it, is the
 * shadow, or is kept. */
static const char *rel_of(const char *p)
{
	size_t n = strlen(root), s = strlen(shadow);
	const char *rel;

	if (strncmp(p, shadow, s) == 0 && (p[s] == '\0' || p[s] == '/')) {
		return NULL;
	}
	if (strncmp(p, root, n) != 0 || (p[n] != '\0' && p[n] != '/')) {
		return NULL;
	}
	rel = p[n] == '/' ? p + n + 1 : p + n;
	for (size_t i = 0; i < n_keep; i++) {
		size_t k = strlen(keep[i]);

		if (strncmp(rel, keep[i], k) == 0 && (rel[k] == '\0' || rel[k] == '/')) {
			return NULL;
		}
	}
	return rel;
}

static void key_path(char *out, size_t len, dev_t dev, ino_t ino)
{
	snprintf(out, len, "%s/ino/%llx_%llx", shadow, (unsigned long long)dev,
		 (unsigned long long)ino);
}

static void tree_path(char *out, size_t len, const char *rel)
{
	snprintf(out, len, "%s/tree%s%s", shadow, rel[0] ? "/" : "", rel);
}

/* Copies everything readable from src to the file dst (created or
 * truncated in place, so hard links to it follow). */
static int copy_fd(int src, const char *dst, mode_t mode)
{
	char buf[65536];
	off_t off = 0;
	ssize_t n;
	int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);

	if (out < 0) {
		return -1;
	}
	while ((n = pread(src, buf, sizeof(buf), off)) > 0) {
		if (write(out, buf, (size_t)n) != n) {
			close(out);
			return -1;
		}
		off += n;
	}
	fchmod(out, mode & 07777);
	close(out);
	return n < 0 ? -1 : 0;
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

static void rm_tree(const char *p)
{
	nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Makes SHADOW/tree/<rel>/<name> a durable copy of what the real entry
 * is now: a link to its inode's shadow, a directory, or a symlink. */
static void record_entry(const char *real, const char *tree, const struct stat *st)
{
	char key[PATH_MAX + 64], target[PATH_MAX];
	struct stat ts, ks;
	ssize_t n;

	if (S_ISDIR(st->st_mode)) {
		if (lstat(tree, &ts) == 0 && !S_ISDIR(ts.st_mode)) {
			remove(tree);
		}
		mkdir(tree, st->st_mode & 07777);
		return;
	}
	if (S_ISLNK(st->st_mode)) {
		n = readlink(real, target, sizeof(target) - 1);
		if (n >= 0) {
			target[n] = '\0';
			remove(tree);
			symlink(target, tree);
		}
		return;
	}
	if (!S_ISREG(st->st_mode)) {
		return;
	}
	key_path(key, sizeof(key), st->st_dev, st->st_ino);
	if (lstat(key, &ks) != 0) {
		/* Never fsynced: its name is durable, its data is not. */
		int fd = open(key, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st->st_mode & 07777);

		if (fd >= 0) {
			close(fd);
		}
		if (lstat(key, &ks) != 0) {
			return;
		}
	}
	if (lstat(tree, &ts) == 0) {
		if (ts.st_ino == ks.st_ino && ts.st_dev == ks.st_dev) {
			return;
		}
		if (S_ISDIR(ts.st_mode)) {
			rm_tree(tree);
		} else {
			real_unlink(tree);
		}
	}
	link(key, tree);
}

/* fsync of a directory: its shadow lists exactly its entries now. */
static void sync_dir(const char *real, const char *rel)
{
	char tree[PATH_MAX + 16], rp[PATH_MAX * 2], tp[PATH_MAX * 2 + 16];
	struct dirent *de;
	struct stat st;
	DIR *d;

	tree_path(tree, sizeof(tree), rel);
	if (lstat(real, &st) == 0) {
		mkdir(tree, st.st_mode & 07777);
	}
	d = opendir(real);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
			continue;
		}
		snprintf(rp, sizeof(rp), "%s/%s", real, de->d_name);
		snprintf(tp, sizeof(tp), "%s/%s", tree, de->d_name);
		if (rel_of(rp) == NULL || lstat(rp, &st) != 0) {
			continue;
		}
		record_entry(rp, tp, &st);
	}
	if (d != NULL) {
		closedir(d);
	}
	/* Names gone from the real directory are gone durably too. */
	d = opendir(tree);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
			continue;
		}
		snprintf(rp, sizeof(rp), "%s/%s", real, de->d_name);
		snprintf(tp, sizeof(tp), "%s/%s", tree, de->d_name);
		if (lstat(rp, &st) != 0) {
			rm_tree(tp);
		}
	}
	if (d != NULL) {
		closedir(d);
	}
}

/* fsync/fdatasync of a file: its inode's shadow becomes its content. */
static void sync_file(int fd, const struct stat *st)
{
	char key[PATH_MAX + 64], self[64];
	int rfd;

	if (st->st_nlink == 0) {
		return; /* an orphan: no name can ever reach this content */
	}
	key_path(key, sizeof(key), st->st_dev, st->st_ino);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	rfd = open(self, O_RDONLY | O_CLOEXEC); /* fd may be write-only */
	if (rfd < 0) {
		return;
	}
	copy_fd(rfd, key, st->st_mode);
	close(rfd);
}

static size_t restore_base; /* length of SHADOW/tree, during a restore */

/* Copies one durable entry back under the root.  Files get new inodes, so
 * writes still in flight on old descriptors land in orphans; names of one
 * durable inode are copied once and linked (a durable hard link). */
static int restore_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	static char first[64][PATH_MAX * 2];
	static ino_t seen[64];
	static size_t n_seen;
	char dst[PATH_MAX * 2];
	int fd;

	(void)flag;
	(void)ftw;
	snprintf(dst, sizeof(dst), "%s%s", root, p + restore_base);
	if (S_ISDIR(st->st_mode)) {
		mkdir(dst, st->st_mode & 07777);
	} else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlink(p, target, sizeof(target) - 1);

		if (n >= 0) {
			target[n] = '\0';
			symlink(target, dst);
		}
	} else if (S_ISREG(st->st_mode)) {
		/* Every name links its inode's key too: nlink > 2 means
		 * another durable name shares it. */
		for (size_t i = 0; st->st_nlink > 2 && i < n_seen; i++) {
			if (seen[i] == st->st_ino) {
				link(first[i], dst);
				return 0;
			}
		}
		if (st->st_nlink > 2 && n_seen < 64) {
			seen[n_seen] = st->st_ino;
			snprintf(first[n_seen++], sizeof(first[0]), "%s", dst);
		}
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			copy_fd(fd, dst, st->st_mode);
			close(fd);
		}
	}
	return 0;
}

/* Puts the tree back to its durable state and exits.  mu is held. */
static void crash_locked(void)
{
	char tree[PATH_MAX + 16];
	DIR *d = opendir(root);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		char p[PATH_MAX * 2];

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
			continue;
		}
		snprintf(p, sizeof(p), "%s/%s", root, de->d_name);
		if (rel_of(p) != NULL) {
			rm_tree(p);
		}
	}
	if (d != NULL) {
		closedir(d);
	}
	tree_path(tree, sizeof(tree), "");
	restore_base = strlen(tree);
	nftw(tree, restore_entry, 16, FTW_PHYS);
	rm_tree(shadow);
	_exit(CRASHFS_EXIT_STATUS);
}

static void check_trigger_locked(void)
{
	if ((crash_after > 0 && ++syncs >= crash_after) ||
	    (trigger[0] != '\0' && access(trigger, F_OK) == 0)) {
		crash_locked();
	}
}

static int do_sync(int fd, int (*fn)(int))
{
	char self[64], path[PATH_MAX];
	const char *rel;
	struct stat st;
	ssize_t n;
	int rc;

	if (!active) {
		return fn(fd);
	}
	pthread_mutex_lock(&mu);
	check_trigger_locked();
	rc = fn(fd);
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	n = readlink(self, path, sizeof(path) - 1);
	if (rc == 0 && n > 0 && fstat(fd, &st) == 0) {
		path[n] = '\0';
		rel = rel_of(path);
		if (rel != NULL && S_ISDIR(st.st_mode)) {
			sync_dir(path, rel);
		} else if (rel != NULL && S_ISREG(st.st_mode)) {
			sync_file(fd, &st);
		}
	}
	pthread_mutex_unlock(&mu);
	return rc;
}

int fsync(int fd)
{
	return do_sync(fd, real_fsync);
}

int fdatasync(int fd)
{
	return do_sync(fd, real_fdatasync);
}

/* Invariant 3: the last name of an inode is about to go (unless it is
 * the inode being renamed onto itself, from). */
static void forget_inode_locked(int dirfd, const char *p, int fromfd, const char *from)
{
	char key[PATH_MAX + 64];
	struct stat st, fs;

	if (from != NULL && fstatat(fromfd, from, &fs, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(dirfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && fs.st_ino == st.st_ino &&
	    fs.st_dev == st.st_dev) {
		return;
	}
	if (fstatat(dirfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    st.st_nlink == 1) {
		key_path(key, sizeof(key), st.st_dev, st.st_ino);
		real_unlink(key);
	}
}

int unlink(const char *p)
{
	int rc;

	if (!active) {
		return real_unlink(p);
	}
	pthread_mutex_lock(&mu);
	forget_inode_locked(AT_FDCWD, p, AT_FDCWD, NULL);
	rc = real_unlink(p);
	pthread_mutex_unlock(&mu);
	return rc;
}

int unlinkat(int dirfd, const char *p, int flags)
{
	int rc;

	if (!active) {
		return real_unlinkat(dirfd, p, flags);
	}
	pthread_mutex_lock(&mu);
	if (!(flags & AT_REMOVEDIR)) {
		forget_inode_locked(dirfd, p, AT_FDCWD, NULL);
	}
	rc = real_unlinkat(dirfd, p, flags);
	pthread_mutex_unlock(&mu);
	return rc;
}

int rename(const char *from, const char *to)
{
	int rc;

	if (!active) {
		return real_rename(from, to);
	}
	pthread_mutex_lock(&mu);
	forget_inode_locked(AT_FDCWD, to, AT_FDCWD, from);
	rc = real_rename(from, to);
	pthread_mutex_unlock(&mu);
	return rc;
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	int rc;

	if (!active) {
		return real_renameat(fd1, from, fd2, to);
	}
	pthread_mutex_lock(&mu);
	forget_inode_locked(fd2, to, fd1, from);
	rc = real_renameat(fd1, from, fd2, to);
	pthread_mutex_unlock(&mu);
	return rc;
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
	int rc;

	if (!active) {
		return real_renameat2(fd1, from, fd2, to, flags);
	}
	pthread_mutex_lock(&mu);
	forget_inode_locked(fd2, to, fd1, from);
	rc = real_renameat2(fd1, from, fd2, to, flags);
	pthread_mutex_unlock(&mu);
	return rc;
}

/* The durable state at start: everything present (it survived so far). */
static int snapshot_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	char tree[PATH_MAX + 16];
	const char *rel = rel_of(p);

	(void)flag;
	(void)ftw;
	if (rel == NULL) {
		return 0;
	}
	tree_path(tree, sizeof(tree), rel);
	if (S_ISREG(st->st_mode)) {
		char key[PATH_MAX + 64];
		int fd = open(p, O_RDONLY | O_CLOEXEC);

		key_path(key, sizeof(key), st->st_dev, st->st_ino);
		if (fd >= 0) {
			copy_fd(fd, key, st->st_mode);
			close(fd);
		}
	}
	record_entry(p, tree, st);
	return 0;
}

static void *watch_main(void *arg)
{
	(void)arg;
	for (;;) {
		if (access(trigger, F_OK) == 0) {
			pthread_mutex_lock(&mu);
			crash_locked();
		}
		usleep(2000);
	}
	return NULL;
}

__attribute__((constructor)) static void crashfs_init(void)
{
	const char *r = getenv("CRASHFS_ROOT"), *s = getenv("CRASHFS_SHADOW");
	const char *k = getenv("CRASHFS_KEEP"), *t = getenv("CRASHFS_TRIGGER");
	const char *a = getenv("CRASHFS_AFTER");
	char p[PATH_MAX + 16];

	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	real_unlink = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");
	real_unlinkat = (int (*)(int, const char *, int))dlsym(RTLD_NEXT, "unlinkat");
	real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	real_renameat = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
	real_renameat2 =
	    (int (*)(int, const char *, int, const char *, unsigned))dlsym(RTLD_NEXT, "renameat2");
	if (r == NULL || r[0] == '\0') {
		return;
	}
	if (realpath(r, root) == NULL) {
		die(r);
	}
	if (s != NULL && s[0] != '\0') {
		mkdir(s, 0700);
		if (realpath(s, shadow) == NULL) {
			die(s);
		}
	} else {
		if (snprintf(shadow, sizeof(shadow), "%s/.crash-durable", root) >=
		    (int)sizeof(shadow)) {
			errno = ENAMETOOLONG;
			die(root);
		}
	}
	while (k != NULL && *k != '\0' && n_keep < KEEP_MAX) {
		const char *end = strchr(k, ':');
		size_t len = end ? (size_t)(end - k) : strlen(k);

		snprintf(keep[n_keep++], sizeof(keep[0]), "%.*s", (int)len, k);
		k = end ? end + 1 : NULL;
	}
	if (t != NULL) {
		snprintf(trigger, sizeof(trigger), "%s", t);
	}
	crash_after = a != NULL ? atol(a) : 0;
	rm_tree(shadow);
	snprintf(p, sizeof(p), "%s/ino", shadow);
	if ((mkdir(shadow, 0700) != 0 && errno != EEXIST) || mkdir(p, 0700) != 0) {
		die(shadow);
	}
	snprintf(p, sizeof(p), "%s/tree", shadow);
	if (mkdir(p, 0700) != 0) {
		die(p);
	}
	nftw(root, snapshot_entry, 16, FTW_PHYS);
	active = 1;
	if (trigger[0] != '\0') {
		sigset_t all, old;
		pthread_t th;

		/* The watcher must never take a signal meant for the program
		 * (a daemon that sigwait()s would lose it, or die of it). */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		if (pthread_create(&th, NULL, watch_main, NULL) != 0) {
			die("pthread_create");
		}
		pthread_detach(th);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
}
