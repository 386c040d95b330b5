/* posix_check_io.c: the checks of posix_check (posix_check.c) that go
 * past plain calls -- file handles after the kernel dropped its caches,
 * asynchronous O_DIRECT writes under buffered readers.  Run in the check's
 * work dir; touch nothing outside it. */
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "posix_check.h"

/* A file handle outlives the kernel's caches: after the dentries and inodes are dropped,
 * open_by_handle_at finds the file again through the daemon (what an NFS re-export needs). */
int chk_file_handle(void)
{
	struct {
		struct file_handle h;
		unsigned char bytes[MAX_HANDLE_SZ];
	} fh, dh;
	char buf[8] = {0};
	int mid, fd, dfd, rc = -1;

	fd = open("fh", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "handle", 6) != 6 || close(fd) != 0) {
		return sysfail("write fh");
	}
	if (mkdir("fhd", 0755) != 0) {
		return sysfail("mkdir fhd");
	}
	fh.h.handle_bytes = MAX_HANDLE_SZ;
	dh.h.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(AT_FDCWD, "fh", &fh.h, &mid, 0) != 0 ||
	    name_to_handle_at(AT_FDCWD, "fhd", &dh.h, &mid, 0) != 0) {
		return sysfail("name_to_handle_at");
	}
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "2", 1) != 1) {
		sysfail("drop_caches");
		if (fd >= 0) {
			close(fd);
		}
		return -1;
	}
	close(fd);
	dfd = open(".", O_RDONLY | O_DIRECTORY);
	fd = open_by_handle_at(dfd, &fh.h, O_RDONLY);
	if (fd < 0) {
		sysfail("open_by_handle_at of a file");
	} else if (read(fd, buf, sizeof(buf)) != 6 || memcmp(buf, "handle", 6) != 0) {
		failf("the file opened by its handle does not read back");
	} else {
		close(fd);
		fd = open_by_handle_at(dfd, &dh.h, O_RDONLY | O_DIRECTORY);
		rc = fd < 0 ? sysfail("open_by_handle_at of a dir") : 0;
	}
	if (fd >= 0) {
		close(fd);
	}
	close(dfd);
	return rc;
}

/* Direct and buffered I/O are coherent: a file overwritten by asynchronous O_DIRECT writes
 * (io_submit, 16 in flight) while three processes read it through the page cache reads back,
 * through the page cache, as the last completed write left it.  100 rounds. */
int chk_direct_coherent(void)
{
	enum { LEN = 1 << 20, Q = 16, ROUNDS = 100 };
	aio_context_t ctx = 0;
	pid_t kids[3] = {0};
	unsigned char *buf = NULL, *rb = malloc(LEN);
	int fd = open("dio", O_CREAT | O_RDWR | O_TRUNC, 0644), fdd = -1, fdb = -1, rc = -1;

	if (fd < 0 || rb == NULL || posix_memalign((void **)&buf, 4096, LEN) != 0) {
		sysfail("setup");
		goto out;
	}
	memset(buf, 0, LEN);
	if (pwrite(fd, buf, LEN, 0) != LEN || fsync(fd) != 0) {
		sysfail("write dio");
		goto out;
	}
	for (int i = 0; i < 3; i++) {
		if ((kids[i] = fork()) == 0) {
			for (;;) {
				if (pread(fd, rb, LEN, 0) < 0) {
					_exit(1);
				}
			}
		}
	}
	fdd = open("dio", O_RDWR | O_DIRECT);
	fdb = open("dio", O_RDONLY);
	if (fdd < 0 || fdb < 0 || syscall(SYS_io_setup, Q, &ctx) != 0) {
		sysfail("open O_DIRECT / io_setup");
		goto out;
	}
	for (int v = 1; v <= ROUNDS; v++) {
		struct iocb cbs[Q], *ps[Q];
		struct io_event ev[Q];
		long got = 0;

		memset(buf, v, LEN);
		for (int i = 0; i < Q; i++) {
			memset(&cbs[i], 0, sizeof(cbs[i]));
			cbs[i].aio_fildes = (uint32_t)fdd;
			cbs[i].aio_lio_opcode = IOCB_CMD_PWRITE;
			cbs[i].aio_buf = (uint64_t)(uintptr_t)(buf + i * (LEN / Q));
			cbs[i].aio_nbytes = LEN / Q;
			cbs[i].aio_offset = i * (LEN / Q);
			ps[i] = &cbs[i];
		}
		if (syscall(SYS_io_submit, ctx, (long)Q, ps) != Q) {
			sysfail("io_submit");
			goto out;
		}
		while (got < Q) {
			long n = syscall(SYS_io_getevents, ctx, 1L, (long)(Q - got), ev, NULL);

			if (n < 0) {
				sysfail("io_getevents");
				goto out;
			}
			for (long i = 0; i < n; i++) {
				if (ev[i].res != LEN / Q) {
					failf("round %d: a direct write returned %lld", v,
					      (long long)ev[i].res);
					goto out;
				}
			}
			got += n;
		}
		if (pread(fdb, rb, LEN, 0) != LEN) {
			sysfail("buffered read-back");
			goto out;
		}
		for (int i = 0; i < LEN; i++) {
			if (rb[i] != (unsigned char)v) {
				failf("round %d: byte %d read back %u through the page cache", v, i,
				      rb[i]);
				goto out;
			}
		}
	}
	rc = 0;
out:
	for (int i = 0; i < 3; i++) {
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
	}
	if (ctx != 0) {
		syscall(SYS_io_destroy, ctx);
	}
	for (int *f = (int[]){fd, fdd, fdb}, i = 0; i < 3; i++) {
		if (f[i] >= 0) {
			close(f[i]);
		}
	}
	free(buf);
	free(rb);
	return rc;
}
