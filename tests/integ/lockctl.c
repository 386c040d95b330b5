/* lockctl.c: `lockctl FILE` opens FILE (read-write, created if missing) and runs the lock
 * commands it reads on stdin, one per line, printing one result line each (flushed), so a test
 * can hold locks in one process and probe them from another:
 *   posix TYPE CMD START LEN   fcntl lock; TYPE r|w|u; CMD setlk|setlkw|ofd|ofdw
 *   get START LEN              F_GETLK for a write lock: "none" or "r|w START LEN"
 *   ofdget START LEN           the same with F_OFD_GETLK
 *   flock sh|ex|un [nb]        flock(2)
 *   alarm SECONDS              SIGALRM after SECONDS (no SA_RESTART: the next wait gets EINTR)
 * A lock command prints "ok" or the errno's name (EAGAIN, EINTR, ...).  Exits at end of
 * input.  Single-threaded. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static void on_alarm(int sig)
{
	(void)sig;
}

static const char *err_name(int e)
{
	switch (e) {
	case EAGAIN:
		return "EAGAIN";
	case EACCES:
		return "EACCES";
	case EINTR:
		return "EINTR";
	case EDEADLK:
		return "EDEADLK";
	case ENOLCK:
		return "ENOLCK";
	default:
		return strerror(e);
	}
}

static void result(int rc)
{
	printf("%s\n", rc == 0 ? "ok" : err_name(errno));
}

static int posix(int fd, const char *type, const char *cmd, long long start, long long len)
{
	struct flock fl = {.l_whence = SEEK_SET, .l_start = start, .l_len = len};
	int op;

	fl.l_type = type[0] == 'r' ? F_RDLCK : type[0] == 'w' ? F_WRLCK : F_UNLCK;
	if (strcmp(cmd, "setlk") == 0) {
		op = F_SETLK;
	} else if (strcmp(cmd, "setlkw") == 0) {
		op = F_SETLKW;
	} else if (strcmp(cmd, "ofd") == 0) {
		op = F_OFD_SETLK;
	} else if (strcmp(cmd, "ofdw") == 0) {
		op = F_OFD_SETLKW;
	} else {
		errno = EINVAL;
		return -1;
	}
	return fcntl(fd, op, &fl);
}

static void getlk(int fd, int op, long long start, long long len)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = start, .l_len = len};

	if (fcntl(fd, op, &fl) != 0) {
		result(-1);
	} else if (fl.l_type == F_UNLCK) {
		printf("none\n");
	} else {
		printf("%c %lld %lld\n", fl.l_type == F_RDLCK ? 'r' : 'w', (long long)fl.l_start,
		       (long long)fl.l_len);
	}
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_alarm};
	char line[256], a[16], b[16];
	long long x, y;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: lockctl FILE < commands\n");
		return 2;
	}
	fd = open(argv[1], O_RDWR | O_CREAT, 0644);
	if (fd < 0) {
		perror(argv[1]);
		return 1;
	}
	sigaction(SIGALRM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		a[0] = b[0] = '\0';
		if (sscanf(line, "posix %15s %15s %lld %lld", a, b, &x, &y) == 4) {
			result(posix(fd, a, b, x, y));
		} else if (sscanf(line, "get %lld %lld", &x, &y) == 2) {
			getlk(fd, F_GETLK, x, y);
		} else if (sscanf(line, "ofdget %lld %lld", &x, &y) == 2) {
			getlk(fd, F_OFD_GETLK, x, y);
		} else if (sscanf(line, "flock %15s %15s", a, b) >= 1) {
			int op = a[0] == 's' ? LOCK_SH : a[0] == 'e' ? LOCK_EX : LOCK_UN;

			result(flock(fd, op | (strcmp(b, "nb") == 0 ? LOCK_NB : 0)));
		} else if (sscanf(line, "alarm %lld", &x) == 1) {
			alarm((unsigned)x);
			printf("ok\n");
		} else {
			printf("bad command\n");
		}
	}
	return 0;
}
