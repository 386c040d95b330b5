/* test_crashfs.c: the power-loss shim (tests/lib/crashfs.c) drops what was
 * not synced and keeps what was: a child runs under the shim, writes with
 * and without fsync, "loses power", and the parent reads what survived. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lib/testlib.h"

#define CRASH_STATUS 86 /* crashfs.c: CRASHFS_EXIT_STATUS */

static char dir[PATH_MAX], shim[PATH_MAX + 64], self_exe[PATH_MAX];

/* ---- the child, run under the shim ---- */

static int put(const char *d, const char *name, const char *data, int sync)
{
	char p[PATH_MAX * 2];
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/%s", d, name);
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0) {
		return -1;
	}
	n = write(fd, data, strlen(data));
	if (n != (ssize_t)strlen(data) || (sync && fsync(fd) != 0)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static int sync_dir(const char *d)
{
	int fd = open(d, O_RDONLY | O_DIRECTORY);
	int rc = fd < 0 ? -1 : fsync(fd);

	if (fd >= 0) {
		close(fd);
	}
	return rc;
}

/* Every kind of write, then the trigger; returns (exits) 1 if no crash
 * came, 2 if a write failed.  In order: a synced and its name synced, then
 * an unsynced append; b synced, c not, both named by the next directory
 * sync with sub/; sub/d synced with its name; keep/k never synced; old
 * renamed and unlinked with no directory sync; late synced, name not. */
static int child_main(const char *d, const char *scenario)
{
	char sub[PATH_MAX + 8], p1[PATH_MAX + 8], p2[PATH_MAX + 8], trig[PATH_MAX + 8];

	if (strcmp(scenario, "after") == 0) {
		/* CRASHFS_AFTER=3: the third sync never runs. */
		if (put(d, "e", "e-data", 1) != 0 || sync_dir(d) != 0) {
			return 2;
		}
		put(d, "f", "f-data", 1);
		return 1;
	}
	snprintf(sub, sizeof(sub), "%s/sub", d);
	snprintf(p1, sizeof(p1), "%s/old", d);
	snprintf(p2, sizeof(p2), "%s/old2", d);
	if (put(d, "a", "synced", 1) != 0 || sync_dir(d) != 0 || put(d, "a", "+lost", 0) != 0 ||
	    put(d, "b", "b-data", 1) != 0 || put(d, "c", "c-data", 0) != 0 ||
	    mkdir(sub, 0755) != 0 || sync_dir(d) != 0 || put(sub, "d", "d-data", 1) != 0 ||
	    sync_dir(sub) != 0 || put(d, "keep/k", "kept", 0) != 0 || rename(p1, p2) != 0 ||
	    unlink(p2) != 0) {
		return 2;
	}
	/* Fsynced, but created after the last sync of its directory. */
	if (put(d, "late", "late-data", 1) != 0) {
		return 2;
	}
	snprintf(trig, sizeof(trig), "%s.trigger", d);
	close(open(trig, O_WRONLY | O_CREAT, 0600));
	for (int i = 0; i < 5000; i++) {
		usleep(1000); /* the shim's watcher crashes us within ~2 ms */
	}
	return 1;
}

/* ---- the parent ---- */

static void find_paths(void)
{
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);

	ck_assert_int_gt(n, 0);
	self_exe[n] = '\0';
	tl_build_path(shim, sizeof(shim), "tests/lib/crashfs.so");
}

static void setup(void)
{
	char p[PATH_MAX + 16];

	find_paths();
	tl_mkdtemp(dir, sizeof(dir), "test_crashfs");
	snprintf(p, sizeof(p), "%s/old", dir);
	ck_assert_int_eq(put(dir, "old", "old-data", 0), 0); /* before the shim: durable */
	snprintf(p, sizeof(p), "%s/keep", dir);
	ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void teardown(void)
{
	char p[PATH_MAX + 16];

	snprintf(p, sizeof(p), "%s.trigger", dir);
	unlink(p);
	tl_rmtree(dir);
}

/* Runs the child scenario under the shim; returns its wait status. */
static int run_child(const char *scenario, const char *after)
{
	char trig[PATH_MAX + 16];
	pid_t pid;
	int status;

	snprintf(trig, sizeof(trig), "%s.trigger", dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setenv("LD_PRELOAD", shim, 1);
		setenv("CRASHFS_ROOT", dir, 1);
		setenv("CRASHFS_KEEP", "keep", 1);
		setenv("CRASHFS_TRIGGER", trig, 1);
		if (after != NULL) {
			setenv("CRASHFS_AFTER", after, 1);
		}
		/* A sanitizer runtime must otherwise come first in the list. */
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0:detect_leaks=0", 1);
		execl(self_exe, self_exe, "--child", dir, scenario, (char *)NULL);
		_exit(3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static char *slurp(const char *name)
{
	static char buf[256];
	char p[PATH_MAX + 16];
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	fd = open(p, O_RDONLY);
	if (fd < 0) {
		return NULL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	return buf;
}

/* Synced data and names survive; unsynced appends, names created after
 * the last directory sync, and an unsynced rename and unlink do not; a
 * kept subtree stays as it was. */
START_TEST(test_power_loss_drops_unsynced)
{
	int status = run_child("all", NULL);
	struct stat st;

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == CRASH_STATUS,
		      "child status %#x, not a crash", status);
	ck_assert_str_eq(slurp("a"), "synced");
	ck_assert_str_eq(slurp("b"), "b-data"); /* name synced by the 2nd dir sync */
	ck_assert_str_eq(slurp("c"), "");	/* name synced, data never */
	ck_assert_str_eq(slurp("sub/d"), "d-data");
	ck_assert_str_eq(slurp("old"), "old-data"); /* rename and unlink lost */
	ck_assert_ptr_null(slurp("old2"));
	ck_assert_ptr_null(slurp("late")); /* fsynced, but its name never was */
	ck_assert_str_eq(slurp("keep/k"), "kept");
	ck_assert_int_ne(stat(dir, &st), -1);
	ck_assert_ptr_null(slurp(".crash-durable/tree/a")); /* the shadow is gone */
}
END_TEST

/* CRASHFS_AFTER=3 crashes at the third sync, before it runs. */
START_TEST(test_crash_after_n_syncs)
{
	int status = run_child("after", "3");

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == CRASH_STATUS,
		      "child status %#x, not a crash", status);
	ck_assert_str_eq(slurp("e"), "e-data");
	ck_assert_ptr_null(slurp("f"));
	ck_assert_str_eq(slurp("old"), "old-data");
}
END_TEST

/* Without the shim the same writes all stay: the test sees the shim's
 * doing, not its own. */
START_TEST(test_no_shim_keeps_everything)
{
	char trig[PATH_MAX + 16];
	pid_t pid;
	int status;

	snprintf(trig, sizeof(trig), "%s.trigger", dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		unsetenv("LD_PRELOAD");
		unsetenv("CRASHFS_ROOT");
		_exit(child_main(dir, "after") == 1 ? 0 : 4);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_str_eq(slurp("f"), "f-data");
}
END_TEST

static Suite *crashfs_suite(void)
{
	Suite *s = suite_create("crashfs");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_power_loss_drops_unsynced);
	tcase_add_test(tc, test_crash_after_n_syncs);
	tcase_add_test(tc, test_no_shim_keeps_everything);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0) {
		return child_main(argv[2], argv[3]);
	}
	return tl_run(crashfs_suite());
}
