/* testlib.c: shared unit-test fixtures (see testlib.h). */
#include "testlib.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int tl_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

void tl_mkdtemp(char *buf, size_t len, const char *name)
{
	const char *t = getenv("TMPDIR");
	int n = snprintf(buf, len, "%s/%s.XXXXXX", t != NULL && *t != '\0' ? t : "/tmp", name);

	ck_assert_int_lt(n, (int)len);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int open_dir(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)ftw;
	if (flag == FTW_D && (st->st_mode & 0700) != 0700) {
		chmod(path, 0700);
	}
	return 0;
}

void tl_rmtree(const char *path)
{
	if (path != NULL && path[0] != '\0') {
		/* Tests make directories read-only to provoke EACCES; open them
		 * again first, or nothing below them could be removed. */
		chmod(path, 0700);
		nftw(path, open_dir, 16, FTW_PHYS);
		nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
}

void tl_quiet_sink(enum log_level lvl, const char *id, const char *line, void *arg)
{
	(void)lvl;
	(void)id;
	(void)line;
	(void)arg;
}

int64_t tl_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double tl_elapsed_s(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

void tl_build_path(char *out, size_t len, const char *rel)
{
	const char *bd = getenv("OBJFS_BUILDDIR");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (bd != NULL && bd[0] != '\0') {
		ck_assert_int_lt(snprintf(out, len, "%s/%s", bd, rel), (int)len);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		ck_assert_int_gt(n, 0);
		self[n] = '\0';
		slash = strrchr(self, '/');
		ck_assert_ptr_nonnull(slash);
		*slash = '\0';
		ck_assert_int_lt(snprintf(out, len, "%s/../../%s", self, rel), (int)len);
	}
	ck_assert_msg(access(out, F_OK) == 0, "no %s (set OBJFS_BUILDDIR)", out);
}

int tl_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

pid_t tl_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

int tl_thread_sleeping(pid_t tid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (f == NULL) {
		return 0;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "tid (comm) S ...": comm may hold spaces and parentheses. */
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && (p[2] == 'S' || p[2] == 'D');
}

int tl_wait_until(int (*cond)(void *arg), void *arg, int timeout_ms)
{
	int64_t deadline = tl_mono_ms() + timeout_ms;

	for (;;) {
		if (cond(arg)) {
			return 1;
		}
		if (tl_mono_ms() >= deadline) {
			return cond(arg) != 0;
		}
		usleep(1000);
	}
}

pid_t tl_spawn(const char *log, char *const argv[])
{
	pid_t parent = getpid();
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		/* Die with the test, even if it is killed outright. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || fd < 0) {
			_exit(127);
		}
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}
