/* posix_check.c: `posix_check DIR` runs POSIX behaviour checks in a fresh subdirectory of DIR
 * (normally an objfs mount) and prints one TAP line per check; exit 1 if any failed.
 * Touches nothing outside that subdirectory.  Single-threaded; the permission checks run in a
 * forked child that has dropped to uid/gid 65534 (nobody). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "posix_check.h"

#define NOBODY 65534
#define GIB (1024LL * 1024 * 1024)
/* A 5 GiB hole is far past any block, stripe or 32-bit offset an implementation might use. */
#define SPARSE_OFF (5 * GIB)
/* What "st_blocks small" means for a file holding a few bytes after a 5 GiB hole: even a store
 * that allocates a whole erasure-coded stripe for the written tail stays far below this. */
#define SPARSE_MAX_BYTES (64LL * 1024 * 1024)
#define MANY 1000

enum {
	NEEDS_ROOT = 1, /* chown to another user needs CAP_CHOWN */
	AS_NOBODY = 2,	/* runs in a child that dropped to uid/gid NOBODY */
};

struct check {
	const char *desc;
	int (*fn)(void);
	unsigned flags;
};

/* Why the last check failed; a check returns -1 after filling it. */
static char why[512];

int failf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return -1;
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n != NULL ? n : "?";
}

/* A step that should have worked did not: name it and its errno. */
int sysfail(const char *what)
{
	int e = errno;

	return failf("%s: got errno %d %s", what, e, ename(e));
}

/* ret is what a call returned, with errno still as the call left it: it must have failed with
 * errno want.  Callers pass the call itself as ret so nothing runs in between. */
static int want_err(long ret, int want, const char *what)
{
	int e = errno;

	if (ret >= 0) {
		return failf("%s succeeded, expected %s", what, ename(want));
	}
	if (e != want) {
		return failf("%s: got errno %d %s, expected %s", what, e, ename(e), ename(want));
	}
	return 0;
}

static int put_file(const char *path, const char *data)
{
	size_t len = strlen(data);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);

	if (fd < 0) {
		return sysfail(path);
	}
	if (write(fd, data, len) != (ssize_t)len) {
		sysfail(path);
		close(fd);
		return -1;
	}
	if (close(fd) != 0) {
		return sysfail(path);
	}
	return 0;
}

/* The file must hold exactly the string want. */
static int file_is(const char *path, const char *want)
{
	char buf[256];
	size_t len = strlen(want);
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0) {
		return sysfail(path);
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 0) {
		return sysfail(path);
	}
	if ((size_t)n != len || memcmp(buf, want, len) != 0) {
		return failf("%s holds %zd bytes '%.*s', expected '%s'", path, n, (int)n, buf,
			     want);
	}
	return 0;
}

static int all_zero(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != 0) {
			return 0;
		}
	}
	return 1;
}

static int ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static int ts_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

static int chk_create_rw(void)
{
	static const char msg[] = "hello, objfs\n";
	size_t len = sizeof(msg) - 1;
	char buf[64];
	struct stat st;
	ssize_t n;
	int fd = open("basic", O_CREAT | O_EXCL | O_WRONLY, 0644);

	if (fd < 0) {
		return sysfail("open O_CREAT|O_EXCL");
	}
	n = write(fd, msg, len);
	if (n != (ssize_t)len) {
		close(fd);
		return n < 0 ? sysfail("write") : failf("short write %zd", n);
	}
	if (close(fd) != 0) {
		return sysfail("close");
	}
	if ((fd = open("basic", O_RDONLY)) < 0) {
		return sysfail("reopen");
	}
	n = read(fd, buf, sizeof(buf));
	if (n != (ssize_t)len || memcmp(buf, msg, len) != 0) {
		close(fd);
		return n < 0 ? sysfail("read") : failf("read back %zd bytes, expected %zu", n, len);
	}
	if ((n = read(fd, buf, sizeof(buf))) != 0) {
		close(fd);
		return failf("read at end of file returned %zd, expected 0", n);
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return sysfail("fstat");
	}
	close(fd);
	if (!S_ISREG(st.st_mode) || st.st_size != (off_t)len || (st.st_mode & 07777) != 0644) {
		return failf("fstat: mode %o size %jd, expected regular 0644 of %zu bytes",
			     (unsigned)st.st_mode, (intmax_t)st.st_size, len);
	}
	return 0;
}

static int chk_trunc_open(void)
{
	struct stat st;
	int fd;

	if (put_file("trunc_open", "0123456789") != 0) {
		return -1;
	}
	if ((fd = open("trunc_open", O_WRONLY | O_TRUNC)) < 0) {
		return sysfail("open O_TRUNC");
	}
	close(fd);
	if (stat("trunc_open", &st) != 0) {
		return sysfail("stat");
	}
	return st.st_size == 0 ? 0 : failf("size %jd after O_TRUNC", (intmax_t)st.st_size);
}

static int chk_excl(void)
{
	if (put_file("excl", "x") != 0) {
		return -1;
	}
	return want_err(open("excl", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST, "open O_EXCL");
}

static int chk_missing(void)
{
	struct stat st;

	if (want_err(open("no-such-file", O_RDONLY), ENOENT, "open") != 0) {
		return -1;
	}
	return want_err(stat("no-such-file", &st), ENOENT, "stat");
}

static int chk_mkdir_exists(void)
{
	if (mkdir("dir_exists", 0755) != 0) {
		return sysfail("mkdir");
	}
	if (want_err(mkdir("dir_exists", 0755), EEXIST, "mkdir of a dir") != 0) {
		return -1;
	}
	if (put_file("file_exists", "x") != 0) {
		return -1;
	}
	return want_err(mkdir("file_exists", 0755), EEXIST, "mkdir over a file");
}

static int chk_rmdir_full(void)
{
	if (mkdir("dir_full", 0755) != 0) {
		return sysfail("mkdir");
	}
	if (put_file("dir_full/f", "x") != 0) {
		return -1;
	}
	return want_err(rmdir("dir_full"), ENOTEMPTY, "rmdir");
}

static int chk_rmdir_file(void)
{
	if (put_file("rmdir_file", "x") != 0) {
		return -1;
	}
	return want_err(rmdir("rmdir_file"), ENOTDIR, "rmdir");
}

static int chk_unlink_dir(void)
{
	if (mkdir("unlink_dir", 0755) != 0) {
		return sysfail("mkdir");
	}
	return want_err(unlink("unlink_dir"), EISDIR, "unlink");
}

static int chk_open_dir_write(void)
{
	char buf[16];
	int fd;

	if (mkdir("wdir", 0755) != 0) {
		return sysfail("mkdir");
	}
	if (want_err(open("wdir", O_WRONLY), EISDIR, "open O_WRONLY") != 0 ||
	    want_err(open("wdir", O_RDWR), EISDIR, "open O_RDWR") != 0) {
		return -1;
	}
	if ((fd = open("wdir", O_RDONLY)) < 0) {
		return sysfail("open O_RDONLY");
	}
	if (want_err(read(fd, buf, sizeof(buf)), EISDIR, "read of a dir fd") != 0) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int chk_path_through_file(void)
{
	struct stat st;

	if (put_file("notdir", "x") != 0) {
		return -1;
	}
	if (want_err(open("notdir/x", O_RDONLY), ENOTDIR, "open notdir/x") != 0 ||
	    want_err(open("notdir/x", O_CREAT | O_WRONLY, 0644), ENOTDIR, "create notdir/x") != 0 ||
	    want_err(mkdir("notdir/x", 0755), ENOTDIR, "mkdir notdir/x") != 0 ||
	    want_err(stat("notdir/x", &st), ENOTDIR, "stat notdir/x") != 0) {
		return -1;
	}
	return want_err(open("notdir", O_RDONLY | O_DIRECTORY), ENOTDIR, "open O_DIRECTORY");
}

static int chk_name_max(void)
{
	char name[300];
	struct stat st;
	int fd;

	memset(name, 'n', 256);
	name[256] = '\0';
	if (want_err(open(name, O_CREAT | O_WRONLY, 0644), ENAMETOOLONG, "create 256") != 0 ||
	    want_err(mkdir(name, 0755), ENAMETOOLONG, "mkdir 256") != 0 ||
	    want_err(stat(name, &st), ENAMETOOLONG, "stat 256") != 0) {
		return -1;
	}
	name[255] = '\0';
	if ((fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0644)) < 0) {
		return sysfail("create of a 255-byte name");
	}
	close(fd);
	if (stat(name, &st) != 0) {
		return sysfail("stat of a 255-byte name");
	}
	return unlink(name) == 0 ? 0 : sysfail("unlink of a 255-byte name");
}

static int chk_rename_file(void)
{
	struct stat st;

	if (put_file("rn_a", "A") != 0 || put_file("rn_b", "B") != 0) {
		return -1;
	}
	if (rename("rn_a", "rn_b") != 0) {
		return sysfail("rename");
	}
	if (file_is("rn_b", "A") != 0) {
		return -1;
	}
	return want_err(stat("rn_a", &st), ENOENT, "stat of the old name");
}

static int chk_rename_kind(void)
{
	if (put_file("rk_file", "x") != 0) {
		return -1;
	}
	if (mkdir("rk_dir", 0755) != 0) {
		return sysfail("mkdir");
	}
	if (want_err(rename("rk_file", "rk_dir"), EISDIR, "rename file over dir") != 0) {
		return -1;
	}
	return want_err(rename("rk_dir", "rk_file"), ENOTDIR, "rename dir over file");
}

static int chk_rename_dir_empty(void)
{
	struct stat st;

	if (mkdir("rd_src", 0755) != 0 || mkdir("rd_dst", 0755) != 0) {
		return sysfail("mkdir");
	}
	if (put_file("rd_src/inner", "in") != 0) {
		return -1;
	}
	if (rename("rd_src", "rd_dst") != 0) {
		return sysfail("rename");
	}
	if (file_is("rd_dst/inner", "in") != 0) {
		return -1;
	}
	return want_err(stat("rd_src", &st), ENOENT, "stat of the old name");
}

static int chk_rename_dir_full(void)
{
	if (mkdir("rf_src", 0755) != 0 || mkdir("rf_dst", 0755) != 0) {
		return sysfail("mkdir");
	}
	if (put_file("rf_dst/x", "x") != 0) {
		return -1;
	}
	if (want_err(rename("rf_src", "rf_dst"), ENOTEMPTY, "rename") != 0) {
		return -1;
	}
	return file_is("rf_dst/x", "x");
}

static int chk_rename_into_self(void)
{
	if (mkdir("loop", 0755) != 0 || mkdir("loop/sub", 0755) != 0) {
		return sysfail("mkdir");
	}
	if (want_err(rename("loop", "loop/sub/x"), EINVAL, "rename into own subdir") != 0) {
		return -1;
	}
	return want_err(rename("loop", "loop/sub"), EINVAL, "rename over own subdir");
}

static int chk_noreplace(void)
{
	if (put_file("nr_a", "a") != 0 || put_file("nr_b", "b") != 0) {
		return -1;
	}
	if (want_err(renameat2(AT_FDCWD, "nr_a", AT_FDCWD, "nr_b", RENAME_NOREPLACE), EEXIST,
		     "renameat2") != 0) {
		return -1;
	}
	if (file_is("nr_a", "a") != 0 || file_is("nr_b", "b") != 0) {
		return -1;
	}
	if (renameat2(AT_FDCWD, "nr_a", AT_FDCWD, "nr_c", RENAME_NOREPLACE) != 0) {
		return sysfail("renameat2 to a free name");
	}
	return file_is("nr_c", "a");
}

static int chk_exchange(void)
{
	struct stat st;

	if (put_file("xf", "file") != 0) {
		return -1;
	}
	if (mkdir("xd", 0755) != 0) {
		return sysfail("mkdir");
	}
	if (put_file("xd/in", "in") != 0) {
		return -1;
	}
	if (renameat2(AT_FDCWD, "xf", AT_FDCWD, "xd", RENAME_EXCHANGE) != 0) {
		return sysfail("renameat2 RENAME_EXCHANGE");
	}
	if (stat("xf", &st) != 0) {
		return sysfail("stat xf");
	}
	if (!S_ISDIR(st.st_mode)) {
		return failf("xf is not a directory after the exchange");
	}
	if (file_is("xf/in", "in") != 0) {
		return -1;
	}
	if (stat("xd", &st) != 0) {
		return sysfail("stat xd");
	}
	if (!S_ISREG(st.st_mode)) {
		return failf("xd is not a regular file after the exchange");
	}
	return file_is("xd", "file");
}

static int chk_hardlink(void)
{
	struct stat a, b;

	if (put_file("hl_a", "linked") != 0) {
		return -1;
	}
	if (link("hl_a", "hl_b") != 0) {
		return sysfail("link");
	}
	if (stat("hl_a", &a) != 0 || stat("hl_b", &b) != 0) {
		return sysfail("stat");
	}
	if (a.st_nlink != 2 || b.st_nlink != 2) {
		return failf("st_nlink %ju and %ju, expected 2", (uintmax_t)a.st_nlink,
			     (uintmax_t)b.st_nlink);
	}
	if (a.st_ino != b.st_ino) {
		return failf("st_ino %ju and %ju differ", (uintmax_t)a.st_ino, (uintmax_t)b.st_ino);
	}
	if (unlink("hl_a") != 0) {
		return sysfail("unlink");
	}
	if (stat("hl_b", &b) != 0) {
		return sysfail("stat after unlink");
	}
	if (b.st_nlink != 1) {
		return failf("st_nlink %ju after unlink, expected 1", (uintmax_t)b.st_nlink);
	}
	return file_is("hl_b", "linked");
}

static int chk_link_dir(void)
{
	if (mkdir("ld", 0755) != 0) {
		return sysfail("mkdir");
	}
	return want_err(link("ld", "ld2"), EPERM, "link of a dir");
}

static int chk_dir_nlink(void)
{
	struct stat st;

	if (mkdir("nl", 0755) != 0 || mkdir("nl/s1", 0755) != 0 || mkdir("nl/s2", 0755) != 0 ||
	    mkdir("nl/s3", 0755) != 0) {
		return sysfail("mkdir");
	}
	if (put_file("nl/f", "x") != 0) {
		return -1;
	}
	if (stat("nl", &st) != 0) {
		return sysfail("stat");
	}
	if (st.st_nlink != 5) {
		return failf("st_nlink %ju with 3 subdirs, expected 5", (uintmax_t)st.st_nlink);
	}
	if (rmdir("nl/s3") != 0) {
		return sysfail("rmdir");
	}
	if (stat("nl", &st) != 0) {
		return sysfail("stat");
	}
	if (st.st_nlink != 4) {
		return failf("st_nlink %ju after rmdir, expected 4", (uintmax_t)st.st_nlink);
	}
	return 0;
}

static int chk_symlink(void)
{
	static const char target[] = "some/where/target";
	char buf[64];
	struct stat st;
	ssize_t n;

	if (symlink(target, "sl") != 0) {
		return sysfail("symlink");
	}
	n = readlink("sl", buf, sizeof(buf));
	if (n < 0) {
		return sysfail("readlink");
	}
	if ((size_t)n != strlen(target) || memcmp(buf, target, (size_t)n) != 0) {
		return failf("readlink gave '%.*s'", (int)n, buf);
	}
	if (lstat("sl", &st) != 0) {
		return sysfail("lstat");
	}
	if (!S_ISLNK(st.st_mode)) {
		return failf("lstat mode %o is not a symlink", (unsigned)st.st_mode);
	}
	if (st.st_size != (off_t)strlen(target)) {
		return failf("lstat st_size %jd, expected %zu", (intmax_t)st.st_size,
			     strlen(target));
	}
	if (put_file("sl_target", "via link") != 0) {
		return -1;
	}
	if (symlink("sl_target", "sl_ok") != 0) {
		return sysfail("symlink");
	}
	return file_is("sl_ok", "via link");
}

static int chk_dangling(void)
{
	struct stat st;

	if (symlink("no-such-target", "dangling") != 0) {
		return sysfail("symlink");
	}
	if (want_err(open("dangling", O_RDONLY), ENOENT, "open") != 0 ||
	    want_err(stat("dangling", &st), ENOENT, "stat") != 0) {
		return -1;
	}
	if (lstat("dangling", &st) != 0) {
		return sysfail("lstat");
	}
	return S_ISLNK(st.st_mode) ? 0 : failf("lstat mode %o", (unsigned)st.st_mode);
}

static int chk_xattr_create(void)
{
	if (put_file("xa1", "x") != 0) {
		return -1;
	}
	if (setxattr("xa1", "user.objfs", "v1", 2, XATTR_CREATE) != 0) {
		return sysfail("setxattr XATTR_CREATE");
	}
	if (want_err(setxattr("xa1", "user.objfs", "v2", 2, XATTR_CREATE), EEXIST,
		     "second setxattr XATTR_CREATE") != 0) {
		return -1;
	}
	if (setxattr("xa1", "user.objfs", "value-2", 7, XATTR_REPLACE) != 0) {
		return sysfail("setxattr XATTR_REPLACE on an existing name");
	}
	return 0;
}

static int chk_xattr_replace(void)
{
	char buf[16];

	if (put_file("xa2", "x") != 0) {
		return -1;
	}
	if (want_err(setxattr("xa2", "user.missing", "v", 1, XATTR_REPLACE), ENODATA,
		     "setxattr XATTR_REPLACE") != 0) {
		return -1;
	}
	return want_err(getxattr("xa2", "user.missing", buf, sizeof(buf)), ENODATA, "getxattr");
}

static int chk_xattr_size(void)
{
	static const char val[] = "a value of 26 bytes long!!";
	char buf[64];
	ssize_t n;

	if (put_file("xa3", "x") != 0) {
		return -1;
	}
	if (setxattr("xa3", "user.sized", val, sizeof(val) - 1, 0) != 0) {
		return sysfail("setxattr");
	}
	if ((n = getxattr("xa3", "user.sized", NULL, 0)) != (ssize_t)(sizeof(val) - 1)) {
		return n < 0 ? sysfail("getxattr size 0") : failf("getxattr size 0 gave %zd", n);
	}
	if (want_err(getxattr("xa3", "user.sized", buf, 4), ERANGE, "getxattr into 4 bytes") != 0) {
		return -1;
	}
	n = getxattr("xa3", "user.sized", buf, sizeof(buf));
	if (n != (ssize_t)(sizeof(val) - 1) || memcmp(buf, val, (size_t)n) != 0) {
		return n < 0 ? sysfail("getxattr") : failf("getxattr gave %zd bytes", n);
	}
	return 0;
}

/* listxattr must name both set attributes; names from the lower layers (security.*) are
 * allowed beside them. */
static int chk_xattr_list_remove(void)
{
	char list[1024], buf[16];
	ssize_t n, need;
	int seen = 0;

	if (put_file("xa4", "x") != 0) {
		return -1;
	}
	if (setxattr("xa4", "user.one", "1", 1, 0) != 0 ||
	    setxattr("xa4", "user.two", "", 0, 0) != 0) {
		return sysfail("setxattr");
	}
	if ((need = listxattr("xa4", NULL, 0)) < 0) {
		return sysfail("listxattr size 0");
	}
	if ((n = listxattr("xa4", list, sizeof(list))) < 0) {
		return sysfail("listxattr");
	}
	if (n != need) {
		return failf("listxattr size 0 said %zd, the list is %zd", need, n);
	}
	if (n > 0 && want_err(listxattr("xa4", list, 1), ERANGE, "listxattr into 1 byte") != 0) {
		return -1;
	}
	n = listxattr("xa4", list, sizeof(list));
	for (ssize_t i = 0; i < n; i += (ssize_t)strlen(list + i) + 1) {
		if (strcmp(list + i, "user.one") == 0) {
			seen |= 1;
		} else if (strcmp(list + i, "user.two") == 0) {
			seen |= 2;
		}
	}
	if (seen != 3) {
		return failf("listxattr misses user.one or user.two");
	}
	if (getxattr("xa4", "user.two", buf, sizeof(buf)) != 0) {
		return failf("empty value of user.two did not read back empty");
	}
	if (removexattr("xa4", "user.one") != 0) {
		return sysfail("removexattr");
	}
	if (want_err(getxattr("xa4", "user.one", buf, sizeof(buf)), ENODATA, "get removed") != 0) {
		return -1;
	}
	return want_err(removexattr("xa4", "user.one"), ENODATA, "second removexattr");
}

static int chk_unlink_open(void)
{
	char buf[32];
	struct stat st;
	int fd = open("uo", O_CREAT | O_RDWR, 0644), rc = -1;

	if (fd < 0) {
		return sysfail("open");
	}
	if (write(fd, "before", 6) != 6) {
		sysfail("write");
		goto out;
	}
	if (unlink("uo") != 0) {
		sysfail("unlink");
		goto out;
	}
	if (want_err(stat("uo", &st), ENOENT, "stat of the unlinked name") != 0) {
		goto out;
	}
	if (pwrite(fd, "+after", 6, 6) != 6) {
		sysfail("write after unlink");
		goto out;
	}
	if (pread(fd, buf, sizeof(buf), 0) != 12 || memcmp(buf, "before+after", 12) != 0) {
		failf("read after unlink did not return the 12 bytes written");
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		sysfail("fstat");
		goto out;
	}
	if (st.st_nlink != 0) {
		failf("fstat st_nlink %ju, expected 0", (uintmax_t)st.st_nlink);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

static int chk_truncate(void)
{
	char buf[8192];
	struct stat st;
	int fd = open("tr", O_CREAT | O_RDWR, 0644), rc = -1;

	if (fd < 0) {
		return sysfail("open");
	}
	memset(buf, 'x', sizeof(buf));
	if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
		sysfail("write");
		goto out;
	}
	if (ftruncate(fd, 100) != 0 || truncate("tr", 8192) != 0) {
		sysfail("truncate");
		goto out;
	}
	if (fstat(fd, &st) != 0 || st.st_size != 8192) {
		failf("size after truncate up is not 8192");
		goto out;
	}
	if (pread(fd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf)) {
		sysfail("read");
		goto out;
	}
	for (int i = 0; i < 100; i++) {
		if (buf[i] != 'x') {
			failf("byte %d below the cut changed", i);
			goto out;
		}
	}
	if (!all_zero(buf + 100, sizeof(buf) - 100)) {
		failf("old bytes came back in the gap instead of zeros");
		goto out;
	}
	rc = 0;
out:
	close(fd);
	return rc;
}

static int chk_sparse(void)
{
	static char buf[65536];
	static const off_t holes[] = {0, GIB, SPARSE_OFF - (off_t)sizeof(buf)};
	struct stat st;
	int fd = open("sparse", O_CREAT | O_RDWR, 0644), rc = -1;

	if (fd < 0) {
		return sysfail("open");
	}
	if (pwrite(fd, "tail", 4, SPARSE_OFF) != 4) {
		sysfail("pwrite at 5 GiB");
		goto out;
	}
	if (fsync(fd) != 0 || fstat(fd, &st) != 0) {
		sysfail("fsync/fstat");
		goto out;
	}
	if (st.st_size != SPARSE_OFF + 4) {
		failf("st_size %jd, expected %jd", (intmax_t)st.st_size,
		      (intmax_t)(SPARSE_OFF + 4));
		goto out;
	}
	if ((long long)st.st_blocks * 512 > SPARSE_MAX_BYTES) {
		failf("st_blocks %jd: the hole takes space", (intmax_t)st.st_blocks);
		goto out;
	}
	for (size_t i = 0; i < sizeof(holes) / sizeof(holes[0]); i++) {
		memset(buf, 0xa5, sizeof(buf));
		if (pread(fd, buf, sizeof(buf), holes[i]) != (ssize_t)sizeof(buf)) {
			sysfail("pread of the hole");
			goto out;
		}
		if (!all_zero(buf, sizeof(buf))) {
			failf("hole at %jd does not read as zeros", (intmax_t)holes[i]);
			goto out;
		}
	}
	if (pread(fd, buf, sizeof(buf), SPARSE_OFF) != 4 || memcmp(buf, "tail", 4) != 0) {
		failf("the 4 bytes at 5 GiB did not read back");
		goto out;
	}
	rc = 0;
out:
	close(fd);
	unlink("sparse");
	return rc;
}

static int chk_chmod(void)
{
	struct stat st;

	if (put_file("cm", "x") != 0) {
		return -1;
	}
	if (chmod("cm", 0640) != 0) {
		return sysfail("chmod");
	}
	if (stat("cm", &st) != 0) {
		return sysfail("stat");
	}
	if ((st.st_mode & 07777) != 0640 || !S_ISREG(st.st_mode)) {
		return failf("mode %o after chmod 0640", (unsigned)st.st_mode);
	}
	if (mkdir("cm_dir", 0700) != 0 || chmod("cm_dir", 02755) != 0) {
		return sysfail("mkdir/chmod of a dir");
	}
	if (stat("cm_dir", &st) != 0) {
		return sysfail("stat");
	}
	if ((st.st_mode & 07777) != 02755 || !S_ISDIR(st.st_mode)) {
		return failf("dir mode %o after chmod 02755", (unsigned)st.st_mode);
	}
	return 0;
}

static int chk_chown(void)
{
	struct stat st;

	if (put_file("co", "x") != 0) {
		return -1;
	}
	if (chown("co", NOBODY, NOBODY) != 0) {
		return sysfail("chown");
	}
	if (stat("co", &st) != 0) {
		return sysfail("stat");
	}
	if (st.st_uid != NOBODY || st.st_gid != NOBODY) {
		return failf("owner %u:%u after chown", (unsigned)st.st_uid, (unsigned)st.st_gid);
	}
	if (chown("co", (uid_t)-1, 0) != 0) {
		return sysfail("chown of the group only");
	}
	if (stat("co", &st) != 0) {
		return sysfail("stat");
	}
	if (st.st_uid != NOBODY || st.st_gid != 0) {
		return failf("owner %u:%u after chown -1:0", (unsigned)st.st_uid,
			     (unsigned)st.st_gid);
	}
	if (symlink("co", "co_link") != 0 || lchown("co_link", NOBODY, NOBODY) != 0) {
		return sysfail("lchown");
	}
	if (lstat("co_link", &st) != 0) {
		return sysfail("lstat");
	}
	return st.st_uid == NOBODY ? 0 : failf("lchown did not change the symlink");
}

/* |a - b| <= slack seconds */
static int ts_near(struct timespec a, struct timespec b, time_t slack)
{
	time_t d = a.tv_sec - b.tv_sec;

	return d <= slack && d >= -slack;
}

static int chk_utimens(void)
{
	struct timespec set[2] = {{1000000000, 500000000}, {1200000000, 250000000}};
	struct timespec now;
	struct stat st;

	if (put_file("ut", "x") != 0) {
		return -1;
	}
	if (utimensat(AT_FDCWD, "ut", set, 0) != 0) {
		return sysfail("utimensat");
	}
	if (stat("ut", &st) != 0) {
		return sysfail("stat");
	}
	if (!ts_eq(st.st_atim, set[0]) || !ts_eq(st.st_mtim, set[1])) {
		return failf("times %jd.%09ld/%jd.%09ld, expected 1000000000.5/1200000000.25",
			     (intmax_t)st.st_atim.tv_sec, st.st_atim.tv_nsec,
			     (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	}
	set[0].tv_nsec = UTIME_OMIT;
	set[1].tv_nsec = UTIME_NOW;
	clock_gettime(CLOCK_REALTIME, &now);
	if (utimensat(AT_FDCWD, "ut", set, 0) != 0 || stat("ut", &st) != 0) {
		return sysfail("utimensat OMIT/NOW");
	}
	if (st.st_atim.tv_sec != 1000000000 || !ts_near(st.st_mtim, now, 5)) {
		return failf("after OMIT/NOW: atime %jd (expected kept), mtime %jd (expected ~%jd)",
			     (intmax_t)st.st_atim.tv_sec, (intmax_t)st.st_mtim.tv_sec,
			     (intmax_t)now.tv_sec);
	}
	if (utimensat(AT_FDCWD, "ut", (struct timespec[2]){{0, UTIME_NOW}, {1, 0}}, 0) != 0 ||
	    stat("ut", &st) != 0) {
		return sysfail("utimensat NOW/1");
	}
	if (!ts_near(st.st_atim, now, 5) || st.st_mtim.tv_sec != 1) {
		return failf("after NOW/1: atime %jd, mtime %jd", (intmax_t)st.st_atim.tv_sec,
			     (intmax_t)st.st_mtim.tv_sec);
	}
	if (utimensat(AT_FDCWD, "ut", (struct timespec[2]){{5, 0}, {0, UTIME_OMIT}}, 0) != 0 ||
	    stat("ut", &st) != 0) {
		return sysfail("utimensat 5/OMIT");
	}
	if (st.st_atim.tv_sec != 5 || st.st_mtim.tv_sec != 1) {
		return failf("after 5/OMIT: atime %jd, mtime %jd (expected 5, 1)",
			     (intmax_t)st.st_atim.tv_sec, (intmax_t)st.st_mtim.tv_sec);
	}
	return 0;
}

/* One pause covers every clock check: 1.1 s outlasts both a coarse kernel clock tick and a
 * store that keeps whole seconds.  atime is not checked (relatime/noatime make it vary). */
static int chk_times(void)
{
	struct stat w0, w1, c0, c1, d0, d1;
	int fd;

	if (put_file("tm_w", "x") != 0 || put_file("tm_c", "x") != 0) {
		return -1;
	}
	if (mkdir("tm_d", 0755) != 0) {
		return sysfail("mkdir");
	}
	if (stat("tm_w", &w0) != 0 || stat("tm_c", &c0) != 0 || stat("tm_d", &d0) != 0) {
		return sysfail("stat");
	}
	usleep(1100000);
	if ((fd = open("tm_w", O_WRONLY)) < 0) {
		return sysfail("open");
	}
	if (write(fd, "y", 1) != 1) {
		close(fd);
		return sysfail("write");
	}
	close(fd);
	if (chmod("tm_c", 0600) != 0) {
		return sysfail("chmod");
	}
	if (put_file("tm_d/new", "n") != 0) {
		return -1;
	}
	if (stat("tm_w", &w1) != 0 || stat("tm_c", &c1) != 0 || stat("tm_d", &d1) != 0) {
		return sysfail("stat");
	}
	if (!ts_after(w1.st_mtim, w0.st_mtim) || !ts_after(w1.st_ctim, w0.st_ctim)) {
		return failf("write did not advance mtime and ctime");
	}
	if (!ts_after(c1.st_ctim, c0.st_ctim)) {
		return failf("chmod did not advance ctime");
	}
	if (!ts_eq(c1.st_mtim, c0.st_mtim)) {
		return failf("chmod changed mtime");
	}
	if (!ts_after(d1.st_mtim, d0.st_mtim) || !ts_after(d1.st_ctim, d0.st_ctim)) {
		return failf("creating a file did not advance the directory's mtime and ctime");
	}
	return 0;
}

static int chk_append(void)
{
	int fd;

	if (put_file("ap", "abc") != 0) {
		return -1;
	}
	if ((fd = open("ap", O_WRONLY | O_APPEND)) < 0) {
		return sysfail("open O_APPEND");
	}
	/* The seek must not matter: every O_APPEND write lands at the end. */
	if (lseek(fd, 0, SEEK_SET) != 0 || write(fd, "def", 3) != 3 || write(fd, "gh", 2) != 2) {
		close(fd);
		return sysfail("write");
	}
	close(fd);
	return file_is("ap", "abcdefgh");
}

static int chk_fifo(void)
{
	struct stat st;

	if (mknod("fifo", S_IFIFO | 0644, 0) != 0) {
		return sysfail("mknod S_IFIFO");
	}
	if (lstat("fifo", &st) != 0) {
		return sysfail("lstat");
	}
	if (!S_ISFIFO(st.st_mode) || (st.st_mode & 07777) != 0644) {
		return failf("mode %o, expected a 0644 fifo", (unsigned)st.st_mode);
	}
	return 0;
}

static int chk_readdir(void)
{
	static unsigned char seen[MANY];
	int dots = 0, extra = 0, n = 0;
	struct dirent *de;
	char name[32];
	DIR *d;

	if (mkdir("many", 0755) != 0) {
		return sysfail("mkdir");
	}
	for (int i = 0; i < MANY; i++) {
		int fd;

		snprintf(name, sizeof(name), "many/entry-%04d", i);
		if ((fd = open(name, O_CREAT | O_EXCL | O_WRONLY, 0644)) < 0) {
			return sysfail(name);
		}
		close(fd);
	}
	if ((d = opendir("many")) == NULL) {
		return sysfail("opendir");
	}
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		int i;
		char tail;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
			dots++;
		} else if (sscanf(de->d_name, "entry-%4d%c", &i, &tail) == 1 && i >= 0 &&
			   i < MANY && seen[i] == 0) {
			seen[i] = 1;
			n++;
		} else {
			extra++;
		}
		errno = 0;
	}
	if (errno != 0) {
		sysfail("readdir");
		closedir(d);
		return -1;
	}
	closedir(d);
	if (dots != 2 || n != MANY || extra != 0) {
		return failf("%d of %d names, %d dot entries, %d unexpected or repeated", n, MANY,
			     dots, extra);
	}
	return 0;
}

static int chk_statfs(void)
{
	struct statfs sf;

	if (statfs(".", &sf) != 0) {
		return sysfail("statfs");
	}
	if (sf.f_bsize <= 0 || sf.f_blocks == 0 || sf.f_bfree > sf.f_blocks ||
	    sf.f_bavail > sf.f_blocks) {
		return failf("f_bsize %jd f_blocks %ju f_bfree %ju f_bavail %ju",
			     (intmax_t)sf.f_bsize, (uintmax_t)sf.f_blocks, (uintmax_t)sf.f_bfree,
			     (uintmax_t)sf.f_bavail);
	}
	return 0;
}

static int chk_fsync(void)
{
	int fd = open("fs", O_CREAT | O_WRONLY, 0644), dfd, rc = 0;

	if (fd < 0) {
		return sysfail("open");
	}
	if (write(fd, "sync me", 7) != 7 || fsync(fd) != 0 || fdatasync(fd) != 0) {
		rc = sysfail("write/fsync/fdatasync");
	}
	close(fd);
	if (rc != 0) {
		return rc;
	}
	if ((dfd = open(".", O_RDONLY | O_DIRECTORY)) < 0) {
		return sysfail("open .");
	}
	rc = fsync(dfd) == 0 ? 0 : sysfail("fsync of a directory");
	close(dfd);
	return rc;
}

/* Fixtures of the permission checks, made by root before the child drops to nobody. */
static int prep_perm(void)
{
	static int done;

	if (done) {
		return 0;
	}
	if (mkdir("perm", 0755) != 0 || chmod("perm", 0755) != 0) {
		return sysfail("mkdir perm");
	}
	if (put_file("perm/secret", "secret") != 0 || chmod("perm/secret", 0600) != 0 ||
	    put_file("perm/pub", "pub") != 0 || chmod("perm/pub", 0644) != 0) {
		return sysfail("perm files");
	}
	if (mkdir("perm/open", 0777) != 0 || chmod("perm/open", 0777) != 0) {
		return sysfail("mkdir perm/open");
	}
	if (mkdir("perm/sticky", 0777) != 0 || chmod("perm/sticky", 01777) != 0 ||
	    put_file("perm/sticky/rootfile", "root") != 0 || chmod("perm/sticky/rootfile", 0666)) {
		return sysfail("sticky fixtures");
	}
	done = 1;
	return 0;
}

static int nb_read_private(void)
{
	return want_err(open("perm/secret", O_RDONLY), EACCES, "open of a 0600 root file");
}

static int nb_create_denied(void)
{
	return want_err(open("perm/mine", O_CREAT | O_WRONLY, 0644), EACCES,
			"create in a 0755 root dir");
}

static int nb_create_open(void)
{
	struct stat st;
	int fd = open("perm/open/mine", O_CREAT | O_EXCL | O_WRONLY, 0644);

	if (fd < 0) {
		return sysfail("create in a 0777 dir");
	}
	if (fstat(fd, &st) != 0) {
		close(fd);
		return sysfail("fstat");
	}
	close(fd);
	if (st.st_uid != NOBODY || st.st_gid != NOBODY) {
		return failf("new file owned by %u:%u, expected %u:%u", (unsigned)st.st_uid,
			     (unsigned)st.st_gid, NOBODY, NOBODY);
	}
	return unlink("perm/open/mine") == 0 ? 0 : sysfail("unlink of my own file");
}

static int nb_sticky(void)
{
	int rc = unlink("perm/sticky/rootfile"), e = errno;

	if (rc == 0) {
		return failf("unlink of root's file in a sticky dir succeeded");
	}
	if (e != EPERM && e != EACCES) {
		return failf("unlink: got errno %d %s, expected EPERM or EACCES", e, ename(e));
	}
	return 0;
}

static int nb_not_owner(void)
{
	if (want_err(chmod("perm/pub", 0666), EPERM, "chmod of root's file") != 0) {
		return -1;
	}
	return want_err(open("perm/pub", O_WRONLY), EACCES, "open for write of a 0644 root file");
}

/* Runs fn in a child with uid and gid NOBODY and no supplementary groups; the child sends
 * its failure text back through a pipe. */
static int run_as_nobody(int (*fn)(void))
{
	int p[2], status, rc;
	ssize_t n;
	pid_t pid;

	if (prep_perm() != 0) {
		return -1;
	}
	if (pipe(p) != 0) {
		return sysfail("pipe");
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return sysfail("fork");
	}
	if (pid == 0) {
		close(p[0]);
		if (setgroups(0, NULL) != 0 || setgid(NOBODY) != 0 || setuid(NOBODY) != 0) {
			rc = sysfail("dropping to nobody");
		} else {
			rc = fn();
		}
		if (rc != 0 && write(p[1], why, strlen(why)) < 0) {
			_exit(2);
		}
		_exit(rc != 0);
	}
	close(p[1]);
	memset(why, 0, sizeof(why));
	n = read(p[0], why, sizeof(why) - 1);
	close(p[0]);
	if (waitpid(pid, &status, 0) != pid) {
		return sysfail("waitpid");
	}
	if (!WIFEXITED(status)) {
		return failf("child died of signal %d", WTERMSIG(status));
	}
	if (WEXITSTATUS(status) != 0) {
		return n > 0 ? -1 : failf("child failed without saying why");
	}
	return 0;
}

static const struct check checks[] = {
    {.desc = "create, write, close, reopen and read back", .fn = chk_create_rw},
    {.desc = "O_TRUNC empties an existing file", .fn = chk_trunc_open},
    {.desc = "O_CREAT|O_EXCL on an existing file fails with EEXIST", .fn = chk_excl},
    {.desc = "open and stat of a missing name fail with ENOENT", .fn = chk_missing},
    {.desc = "mkdir of an existing name fails with EEXIST", .fn = chk_mkdir_exists},
    {.desc = "rmdir of a non-empty dir fails with ENOTEMPTY", .fn = chk_rmdir_full},
    {.desc = "rmdir of a file fails with ENOTDIR", .fn = chk_rmdir_file},
    {.desc = "unlink of a dir fails with EISDIR", .fn = chk_unlink_dir},
    {.desc = "open of a dir for writing and read of a dir fail with EISDIR",
     .fn = chk_open_dir_write},
    {.desc = "a path through a file fails with ENOTDIR", .fn = chk_path_through_file},
    {.desc = "a 256-byte name fails with ENAMETOOLONG, 255 bytes work", .fn = chk_name_max},
    {.desc = "rename over an existing file replaces it", .fn = chk_rename_file},
    {.desc = "rename file over dir is EISDIR, dir over file is ENOTDIR", .fn = chk_rename_kind},
    {.desc = "rename of a dir over an empty dir", .fn = chk_rename_dir_empty},
    {.desc = "rename of a dir over a non-empty dir fails with ENOTEMPTY",
     .fn = chk_rename_dir_full},
    {.desc = "rename of a dir into its own subdir fails with EINVAL", .fn = chk_rename_into_self},
    {.desc = "renameat2 RENAME_NOREPLACE onto an existing name fails with EEXIST",
     .fn = chk_noreplace},
    {.desc = "renameat2 RENAME_EXCHANGE swaps a file and a dir", .fn = chk_exchange},
    {.desc = "hard link: nlink 2, same inode, unlink one leaves nlink 1", .fn = chk_hardlink},
    {.desc = "link of a dir fails with EPERM", .fn = chk_link_dir},
    {.desc = "dir st_nlink is 2 + subdirs", .fn = chk_dir_nlink},
    {.desc = "symlink, readlink, lstat S_ISLNK with st_size = target length", .fn = chk_symlink},
    {.desc = "open of a dangling symlink fails with ENOENT", .fn = chk_dangling},
    {.desc = "setxattr XATTR_CREATE on an existing name fails with EEXIST", .fn = chk_xattr_create},
    {.desc = "setxattr XATTR_REPLACE / getxattr of a missing name fail with ENODATA",
     .fn = chk_xattr_replace},
    {.desc = "getxattr size 0 returns the length, a small buffer gives ERANGE",
     .fn = chk_xattr_size},
    {.desc = "listxattr lists the names, removexattr removes", .fn = chk_xattr_list_remove},
    {.desc = "an unlinked open file stays readable and writable, fstat nlink 0",
     .fn = chk_unlink_open},
    {.desc = "truncate down then up reads zeros in the gap", .fn = chk_truncate},
    {.desc = "sparse file: a write at 5 GiB, holes read as zeros, few blocks", .fn = chk_sparse},
    {.desc = "chmod sets the mode of a file and a dir (with setgid)", .fn = chk_chmod},
    {.desc = "chown and lchown (as root)", .fn = chk_chown, .flags = NEEDS_ROOT},
    {.desc = "utimensat with explicit times, UTIME_NOW and UTIME_OMIT", .fn = chk_utimens},
    {.desc = "write advances mtime/ctime, chmod ctime only, create the dir's times",
     .fn = chk_times},
    {.desc = "O_APPEND writes land at the end", .fn = chk_append},
    {.desc = "mknod S_IFIFO makes a fifo", .fn = chk_fifo},
    {.desc = "readdir of 1000 entries lists each exactly once plus . and ..", .fn = chk_readdir},
    {.desc = "statfs reports f_bsize > 0 and f_blocks > 0", .fn = chk_statfs},
    {.desc = "fsync and fdatasync of a file, fsync of a dir return 0", .fn = chk_fsync},
    {.desc = "file handles of a file and a dir open after the kernel dropped its caches",
     .fn = chk_file_handle,
     .flags = NEEDS_ROOT},
    {.desc = "async O_DIRECT overwrites read back through the page cache under readers",
     .fn = chk_direct_coherent},
    {.desc = "nobody: open of a 0600 root file fails with EACCES",
     .fn = nb_read_private,
     .flags = AS_NOBODY},
    {.desc = "nobody: create in a 0755 root dir fails with EACCES",
     .fn = nb_create_denied,
     .flags = AS_NOBODY},
    {.desc = "nobody: create in a 0777 dir works and is owned by nobody",
     .fn = nb_create_open,
     .flags = AS_NOBODY},
    {.desc = "nobody: unlink of root's file in a 1777 dir fails with EPERM/EACCES",
     .fn = nb_sticky,
     .flags = AS_NOBODY},
    {.desc = "nobody: chmod of root's file is EPERM, write-open of it EACCES",
     .fn = nb_not_owner,
     .flags = AS_NOBODY},
};

int main(int argc, char **argv)
{
	size_t n = sizeof(checks) / sizeof(checks[0]);
	char work[64];
	int failed = 0;

	if (argc != 2) {
		fprintf(stderr, "Usage: posix_check DIR\n");
		return 2;
	}
	umask(022);
	snprintf(work, sizeof(work), "posix_check.%ld", (long)getpid());
	/* Everything below uses paths relative to the work dir, so the nobody child needs no
	 * search permission on DIR's ancestors (a test's private dir is 0700). */
	if (chdir(argv[1]) != 0 || mkdir(work, 0755) != 0 || chmod(work, 0755) != 0 ||
	    chdir(work) != 0) {
		fprintf(stderr, "posix_check: cannot make %s/%s: %s\n", argv[1], work,
			strerror(errno));
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("1..%zu\n", n);
	for (size_t i = 0; i < n; i++) {
		const struct check *c = &checks[i];
		int rc;

		if ((c->flags & (NEEDS_ROOT | AS_NOBODY)) && geteuid() != 0) {
			printf("ok %zu - %s # SKIP not root\n", i + 1, c->desc);
			continue;
		}
		why[0] = '\0';
		rc = c->flags & AS_NOBODY ? run_as_nobody(c->fn) : c->fn();
		if (rc == 0) {
			printf("ok %zu - %s\n", i + 1, c->desc);
		} else {
			printf("not ok %zu - %s (%s)\n", i + 1, c->desc, why);
			failed++;
		}
	}
	printf("# %d of %zu checks failed; files left in %s/%s\n", failed, n, argv[1], work);
	return failed != 0;
}
