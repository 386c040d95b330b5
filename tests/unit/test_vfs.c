/* test_vfs.c: the FUSE client's core (fuse/vfs.h) without a mount,
 * against a real cluster: three objfs-node processes on loopback started
 * by the test, one bucket with 64 KiB chunks so files of a few chunks are
 * cheap.  Proves create/write/read, close-to-open through a second vfs,
 * O_TRUNC, setattr committing buffered writes first, rename, unlink of an
 * open file, the negative name cache, readdir with attributes, and the
 * exact count of cluster calls of create + write 4 KiB + close.
 *
 * The nodes are children of the test that die with it (PR_SET_PDEATHSIG)
 * and are stopped by pid in the teardown; all files live under one temp
 * root.  Check runs without fork here: nng's threads, started by the
 * first test, would not survive one. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <nng/nng.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../common/blockio.h"
#include "../../common/client.h"
#include "../../common/config.h"
#include "../../common/err.h"
#include "../../common/meta_client.h"
#include "../../common/object.h"
#include "../../fuse/dirnames.h"
#include "../../fuse/vfs.h"
#include "../lib/testlib.h"

#define N_NODES 3
#define CHUNK (64u << 10)
/* Start-up of a node and the first shard election on a loaded 2-core
 * machine (or under a sanitizer): generous. */
#define START_MS 60000
#define BUCKET "vfs"

static char root[PATH_MAX];
static char conf_path[PATH_MAX + 32];
static pid_t nodes[N_NODES];
static struct cfg *cfg;
static struct cl *cl;
static struct blk *blk;
static struct mc *mc;
static struct mc_statfs bucket_fs;

/* Per test: the vfs under test and its directory in the bucket. */
static struct vfs *v;
static uint64_t dir;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static const char *node_bin(void)
{
	static char path[PATH_MAX + 64];
	const char *bd = getenv("OBJFS_BUILDDIR");

	if (bd != NULL && bd[0] != '\0') {
		snprintf(path, sizeof(path), "%s/nodes/objfs-node", bd);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		char *slash;

		ck_assert_int_gt(n, 0);
		self[n] = '\0';
		slash = strrchr(self, '/');
		ck_assert_ptr_nonnull(slash);
		*slash = '\0';
		snprintf(path, sizeof(path), "%s/../../nodes/objfs-node", self);
	}
	return path;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Writes a 3-node config on ports below the ephemeral range. */
static void write_conf(unsigned base)
{
	FILE *f = fopen(conf_path, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"[cluster]\nsecret = %016llx%016llx\nblock_size = 64K\ninline_max = 4K\n"
		"log_level = warn\n",
		(unsigned long long)time(NULL), (unsigned long long)getpid() * 2654435761ULL);
	for (unsigned i = 0; i < N_NODES; i++) {
		char data[PATH_MAX + 32];

		snprintf(data, sizeof(data), "%s/node%u", root, i + 1);
		ck_assert_int_eq(mkdir(data, 0700), 0);
		fprintf(f, "[node %u]\naddr = tcp://127.0.0.1:%u\ndata_dir = %s\n", i + 1, base + i,
			data);
	}
	ck_assert_int_eq(fclose(f), 0);
}

static pid_t spawn_node(unsigned id)
{
	char ids[16], log[PATH_MAX + 32], conf[PATH_MAX + 32], bin[PATH_MAX + 32];
	char *argv[] = {bin, "-c", conf, "-i", ids, NULL};

	snprintf(ids, sizeof(ids), "%u", id);
	snprintf(log, sizeof(log), "%s/node%u.log", root, id);
	snprintf(conf, sizeof(conf), "%s", conf_path);
	snprintf(bin, sizeof(bin), "%s", node_bin());
	return tl_spawn(log, argv);
}

static void stop_nodes(void)
{
	for (unsigned i = 0; i < N_NODES; i++) {
		if (nodes[i] > 0) {
			kill(nodes[i], SIGTERM);
		}
	}
	for (unsigned i = 0; i < N_NODES; i++) {
		if (nodes[i] > 0) {
			uint64_t until = mono_ms() + 10000;

			while (waitpid(nodes[i], NULL, WNOHANG) == 0 && mono_ms() < until) {
				usleep(20000);
			}
			if (mono_ms() >= until) {
				kill(nodes[i], SIGKILL);
				waitpid(nodes[i], NULL, 0);
			}
			nodes[i] = 0;
		}
	}
}

/* Unchecked: the cluster, the bucket and the connections every test uses. */
static void cluster_setup(void)
{
	const char *tmp = getenv("TMPDIR");
	char err[512];
	struct objc *oc = NULL;
	uint64_t until;
	unsigned base;
	int rc;

	ck_assert_msg(access(node_bin(), X_OK) == 0, "no objfs-node at %s", node_bin());
	snprintf(root, sizeof(root), "%s/objfs-vfs.XXXXXX",
		 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(conf_path, sizeof(conf_path), "%s/objfs.conf", root);
	srand((unsigned)getpid());
	base = 20000 + (unsigned)(rand() % 1100) * 10;
	write_conf(base);
	cfg = malloc(sizeof(*cfg));
	ck_assert_ptr_nonnull(cfg);
	ck_assert_msg(cfg_load_file(conf_path, cfg, err, sizeof(err)) == 0, "%s", err);
	for (unsigned i = 0; i < N_NODES; i++) {
		nodes[i] = spawn_node(i + 1);
	}
	ck_assert_int_eq(objc_open(cfg, &oc), 0);
	/* The nodes elect the catalog's and the bucket's leaders. */
	until = mono_ms() + START_MS;
	while ((rc = bucket_create(oc, BUCKET)) != 0 && rc != -EEXIST && mono_ms() < until) {
		usleep(100000);
	}
	objc_close(oc);
	ck_assert_msg(rc == 0, "bucket create: %s", obj_strerror(rc));
	ck_assert_int_eq(cl_open(cfg, &cl), 0);
	ck_assert_int_eq(blk_open(cl, &blk), 0);
	ck_assert_int_eq(mc_open(cl, BUCKET, &mc), 0);
	ck_assert_int_eq(mc_statfs(mc, &bucket_fs), 0);
	ck_assert_uint_eq(bucket_fs.chunk_size, CHUNK);
	ck_assert_uint_eq(bucket_fs.inline_max, 4096);
}

static void cluster_teardown(void)
{
	mc_close(mc);
	blk_close(blk);
	cl_close(cl);
	mc = NULL;
	blk = NULL;
	cl = NULL;
	stop_nodes();
	free(cfg);
	cfg = NULL;
	if (root[0] != '\0') {
		nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
}

static struct vfs_conf test_conf(void)
{
	struct vfs_conf c = {
	    .chunk_size = bucket_fs.chunk_size,
	    .inline_max = bucket_fs.inline_max,
	    .attr_timeout = 1,
	    .entry_timeout = 1,
	    .negative_timeout = 1,
	    .max_dirty = 16 * CHUNK,
	    .cache_bytes = 64 * CHUNK,
	    .readahead = 2,
	    .uploaders = 2,
	    .prefetchers = 1,
	};
	return c;
}

/* Checked: a fresh vfs and a directory of the test's own. */
static void vfs_setup(void)
{
	static unsigned seq;
	struct vfs_conf c = test_conf();
	struct vfs_entry e;
	char name[64];

	ck_assert_int_eq(vfs_start(&c, cl, blk, mc, NULL, &v), 0);
	snprintf(name, sizeof(name), "t%d.%u", (int)getpid(), ++seq);
	ck_assert_int_eq(vfs_mknod(v, 1, name, S_IFDIR | 0755, 0, getuid(), getgid(), &e), 0);
	dir = e.ino;
	ck_assert_uint_ne(dir, 0);
}

static void vfs_teardown(void)
{
	ck_assert_int_eq(vfs_stop(v), 0);
	v = NULL;
}

static void fill(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++) {
		b[i] = (uint8_t)((i * 131u + seed * 7u) ^ (i >> 9));
	}
}

/* Creates parent/name with O_EXCL, writes data, closes; returns ino. */
static uint64_t put_file(const char *name, const uint8_t *data, size_t len)
{
	struct vfs_file *fh = NULL;
	struct vfs_entry e;
	int keep;

	ck_assert_int_eq(vfs_create(v, dir, name, 0644, O_CREAT | O_EXCL | O_WRONLY, getuid(),
				    getgid(), &e, &fh, &keep),
			 0);
	ck_assert_int_eq(vfs_write(v, fh, 0, data, len), (ssize_t)len);
	ck_assert_int_eq(vfs_flush(v, fh), 0);
	ck_assert_int_eq(vfs_release(v, fh), 0);
	return e.ino;
}

/* Opens ino read-only and checks its whole content is want. */
static void check_content(struct vfs *w, uint64_t ino, const uint8_t *want, size_t len)
{
	struct vfs_file *fh = NULL;
	uint8_t *got = malloc(len + 100);
	int keep;

	ck_assert_ptr_nonnull(got);
	ck_assert_int_eq(vfs_open(w, ino, O_RDONLY, &fh, &keep), 0);
	ck_assert_int_eq(vfs_read(w, fh, 0, len + 100, got), (ssize_t)len);
	ck_assert_msg(memcmp(got, want, len) == 0, "content of ino %llu differs",
		      (unsigned long long)ino);
	ck_assert_int_eq(vfs_release(w, fh), 0);
	free(got);
}

/* create + write 4 KiB + close costs exactly two commits (the create and
 * the inline data with the close) and no query or block: the figure the
 * mount's create path is measured by. */
START_TEST(test_small_create_cost)
{
	struct vfs_stats s0, s1;
	struct vfs_file *fh = NULL;
	struct vfs_entry e;
	uint8_t data[4096], got[4096];
	int keep;

	fill(data, sizeof(data), 1);
	vfs_get_stats(v, &s0);
	ck_assert_int_eq(vfs_create(v, dir, "small", 0644, O_CREAT | O_EXCL | O_WRONLY, getuid(),
				    getgid(), &e, &fh, &keep),
			 0);
	ck_assert_uint_ne(e.ino, 0);
	ck_assert_int_eq(vfs_write(v, fh, 0, data, sizeof(data)), (ssize_t)sizeof(data));
	/* The kernel asks for security.capability before the write: a file
	 * this create made has none, and asking costs nothing. */
	{
		uint8_t *val = NULL;
		size_t len = 0;

		ck_assert_int_eq(vfs_getxattr(v, e.ino, "security.capability", &val, &len),
				 -ENODATA);
	}
	ck_assert_int_eq(vfs_flush(v, fh), 0);
	vfs_get_stats(v, &s1);
	ck_assert_uint_eq(s1.commits - s0.commits, 2);
	ck_assert_uint_eq(s1.queries - s0.queries, 0);
	ck_assert_uint_eq(s1.block_puts - s0.block_puts, 0);
	/* Read back through the same handle, then after a fresh open. */
	ck_assert_int_eq(vfs_read(v, fh, 0, sizeof(got), got), (ssize_t)sizeof(got));
	ck_assert_int_eq(memcmp(got, data, sizeof(data)), 0);
	ck_assert_int_eq(vfs_release(v, fh), 0);
	check_content(v, e.ino, data, sizeof(data));
}
END_TEST

/* An open for reading and its reads cost one query: the open asks for
 * the extents (and inline bytes) with the attributes and hands them to
 * the read cache.  For a small inline file nothing else is asked; for a
 * file of blocks only the blocks.  A new version written by another
 * client is what the next open reads, never the extents kept before. */
START_TEST(test_small_read_cost)
{
	size_t big = 2 * CHUNK + 10;
	uint8_t small[3000], small2[3000], *data = malloc(big);
	struct vfs_conf c = test_conf();
	struct vfs_stats s0, s1;
	struct vfs *w = NULL;
	struct vfs_file *fh = NULL;
	struct vfs_entry e;
	uint64_t ino, bino;
	int keep;

	ck_assert_ptr_nonnull(data);
	fill(small, sizeof(small), 21);
	fill(small2, sizeof(small2), 22);
	fill(data, big, 23);
	ino = put_file("rsmall", small, sizeof(small));
	bino = put_file("rbig", data, big);
	ck_assert_int_eq(vfs_start(&c, cl, blk, mc, NULL, &w), 0);
	/* Looked up, as the kernel does: w keeps the inodes (and their
	 * cached extents) between the opens. */
	ck_assert_int_eq(vfs_lookup(w, dir, "rsmall", &e), 0);
	ck_assert_uint_eq(e.ino, ino);
	ck_assert_int_eq(vfs_lookup(w, dir, "rbig", &e), 0);
	ck_assert_uint_eq(e.ino, bino);
	vfs_get_stats(w, &s0);
	check_content(w, ino, small, sizeof(small));
	vfs_get_stats(w, &s1);
	ck_assert_uint_eq(s1.queries - s0.queries, 1);
	ck_assert_uint_eq(s1.block_gets - s0.block_gets, 0);
	vfs_get_stats(w, &s0);
	check_content(w, bino, data, big);
	vfs_get_stats(w, &s1);
	ck_assert_uint_eq(s1.queries - s0.queries, 1);
	ck_assert_uint_eq(s1.block_gets - s0.block_gets, 3);
	/* v writes a new version; w's next open reads it. */
	ck_assert_int_eq(vfs_open(v, ino, O_WRONLY | O_TRUNC, &fh, &keep), 0);
	ck_assert_int_eq(vfs_write(v, fh, 0, small2, sizeof(small2)), (ssize_t)sizeof(small2));
	ck_assert_int_eq(vfs_release(v, fh), 0);
	check_content(w, ino, small2, sizeof(small2));
	vfs_forget(w, ino, 1);
	vfs_forget(w, bino, 1);
	ck_assert_int_eq(vfs_stop(w), 0);
	free(data);
}
END_TEST

/* Data written through one vfs is seen by another after close
 * (close-to-open), across chunks: blocks, not inline data. */
START_TEST(test_close_to_open)
{
	size_t len = 2 * CHUNK + 1000;
	uint8_t *data = malloc(len);
	struct vfs_conf c = test_conf();
	struct vfs_stats s;
	struct vfs *w = NULL;
	uint64_t ino;
	struct meta_attr a;
	double t;

	ck_assert_ptr_nonnull(data);
	fill(data, len, 2);
	ino = put_file("big", data, len);
	vfs_get_stats(v, &s);
	ck_assert_uint_eq(s.block_puts, 3);
	ck_assert_int_eq(vfs_start(&c, cl, blk, mc, NULL, &w), 0);
	ck_assert_int_eq(vfs_getattr(w, ino, &a, &t), 0);
	ck_assert_uint_eq(a.size, len);
	check_content(w, ino, data, len);
	ck_assert_int_eq(vfs_stop(w), 0);
	free(data);
}
END_TEST

/* Reads see buffered writes before any commit; nothing reaches the shard
 * until close. */
START_TEST(test_read_buffered)
{
	struct vfs_file *fh = NULL;
	struct vfs_entry e;
	struct vfs_stats s0, s1;
	uint8_t data[10000], got[10000];
	int keep;

	fill(data, sizeof(data), 3);
	ck_assert_int_eq(
	    vfs_create(v, dir, "buf", 0600, O_CREAT | O_RDWR, getuid(), getgid(), &e, &fh, &keep),
	    0);
	vfs_get_stats(v, &s0);
	ck_assert_int_eq(vfs_write(v, fh, 0, data, sizeof(data)), (ssize_t)sizeof(data));
	ck_assert_int_eq(vfs_read(v, fh, 100, sizeof(got), got), (ssize_t)(sizeof(data) - 100));
	ck_assert_int_eq(memcmp(got, data + 100, sizeof(data) - 100), 0);
	vfs_get_stats(v, &s1);
	ck_assert_uint_eq(s1.commits, s0.commits);
	ck_assert_uint_eq(s1.block_puts, s0.block_puts);
	ck_assert_int_eq(vfs_release(v, fh), 0);
	check_content(v, e.ino, data, sizeof(data));
}
END_TEST

/* open(O_TRUNC) for writing empties the file; for reading it does not. */
START_TEST(test_open_trunc)
{
	uint8_t data[5000];
	struct vfs_file *fh = NULL;
	struct meta_attr a;
	uint64_t ino;
	double t;
	int keep;

	fill(data, sizeof(data), 4);
	ino = put_file("tr", data, sizeof(data));
	ck_assert_int_eq(vfs_open(v, ino, O_RDONLY | O_TRUNC, &fh, &keep), 0);
	ck_assert_int_eq(vfs_release(v, fh), 0);
	ck_assert_int_eq(vfs_getattr(v, ino, &a, &t), 0);
	ck_assert_uint_eq(a.size, sizeof(data));
	ck_assert_int_eq(vfs_open(v, ino, O_WRONLY | O_TRUNC, &fh, &keep), 0);
	ck_assert_int_eq(vfs_getattr(v, ino, &a, &t), 0);
	ck_assert_uint_eq(a.size, 0);
	ck_assert_int_eq(vfs_release(v, fh), 0);
	check_content(v, ino, data, 0);
}
END_TEST

/* Commits x has made so far. */
static uint64_t commits_of(struct vfs *x)
{
	struct vfs_stats s;

	vfs_get_stats(x, &s);
	return s.commits;
}

/* Rewriting a file through O_TRUNC commits once when the new content
 * fits inline: the cut travels with the content.  Until that close
 * another client reads the old version whole, and after it exactly the
 * new one, with no old byte past the new end.  A rewrite too large for
 * inline data commits the cut and then the extents; an O_TRUNC with
 * nothing written commits the cut alone. */
START_TEST(test_rewrite_cost)
{
	size_t big = 2 * CHUNK + 10, mid = CHUNK + 5;
	uint8_t old[5000], neu[1000], *data = malloc(big);
	struct vfs_conf c = test_conf();
	uint64_t c0;
	struct vfs *w = NULL;
	struct vfs_file *fh = NULL;
	struct meta_attr a;
	uint64_t ino, bino;
	double t;
	int keep;

	ck_assert_ptr_nonnull(data);
	fill(old, sizeof(old), 31);
	fill(neu, sizeof(neu), 32);
	fill(data, big, 33);
	ino = put_file("rw", old, sizeof(old));
	bino = put_file("rwbig", data, big);
	ck_assert_int_eq(vfs_start(&c, cl, blk, mc, NULL, &w), 0);

	c0 = commits_of(v);
	ck_assert_int_eq(vfs_open(v, ino, O_WRONLY | O_TRUNC, &fh, &keep), 0);
	ck_assert_int_eq(vfs_getattr(v, ino, &a, &t), 0);
	ck_assert_uint_eq(a.size, 0);
	ck_assert_int_eq(vfs_write(v, fh, 0, neu, sizeof(neu)), (ssize_t)sizeof(neu));
	check_content(w, ino, old, sizeof(old));
	ck_assert_int_eq(vfs_getattr(v, ino, &a, &t), 0);
	ck_assert_uint_eq(a.size, sizeof(neu));
	ck_assert_int_eq(vfs_release(v, fh), 0);
	ck_assert_uint_eq(commits_of(v) - c0, 1);
	check_content(w, ino, neu, sizeof(neu));

	c0 = commits_of(v);
	ck_assert_int_eq(vfs_open(v, bino, O_RDWR | O_TRUNC, &fh, &keep), 0);
	ck_assert_int_eq(vfs_write(v, fh, 0, data + 1, mid), (ssize_t)mid);
	ck_assert_int_eq(vfs_release(v, fh), 0);
	ck_assert_uint_eq(commits_of(v) - c0, 2);
	check_content(w, bino, data + 1, mid);

	/* An open whose reply never reached the kernel (vfs_abandon)
	 * still truncates, at once, as an open that cut at the shard. */
	ck_assert_int_eq(vfs_open(v, bino, O_WRONLY | O_TRUNC, &fh, &keep), 0);
	vfs_abandon(v, fh);
	check_content(w, bino, data, 0);

	c0 = commits_of(v);
	ck_assert_int_eq(vfs_open(v, ino, O_WRONLY | O_TRUNC, &fh, &keep), 0);
	ck_assert_int_eq(vfs_release(v, fh), 0);
	ck_assert_uint_eq(commits_of(v) - c0, 1);
	check_content(w, ino, neu, 0);
	ck_assert_int_eq(vfs_getattr(w, ino, &a, &t), 0);
	ck_assert_uint_eq(a.size, 0);
	vfs_forget(w, ino, 1);
	vfs_forget(w, bino, 1);
	ck_assert_int_eq(vfs_stop(w), 0);
	free(data);
}
END_TEST

/* A size change commits buffered writes first: truncating a file with
 * unflushed data keeps the bytes below the new size, and a later close
 * does not bring the old size back; an explicit mtime survives too. */
START_TEST(test_setattr_flushes)
{
	struct vfs_setattr s = {.valid = META_SET_SIZE, .size = 3000};
	struct vfs_setattr m = {.valid = META_SET_MTIME, .mtime_ns = 1000000000LL * 1234567};
	struct vfs_file *fh = NULL;
	struct vfs_entry e;
	struct meta_attr a;
	uint8_t data[8000];
	double t;
	int keep;

	fill(data, sizeof(data), 5);
	ck_assert_int_eq(vfs_create(v, dir, "sa", 0644, O_CREAT | O_EXCL | O_WRONLY, getuid(),
				    getgid(), &e, &fh, &keep),
			 0);
	ck_assert_int_eq(vfs_write(v, fh, 0, data, sizeof(data)), (ssize_t)sizeof(data));
	ck_assert_int_eq(vfs_setattr(v, e.ino, &s, &a, &t), 0);
	ck_assert_uint_eq(a.size, 3000);
	ck_assert_int_eq(vfs_write(v, fh, 0, data, 10), 10);
	ck_assert_int_eq(vfs_setattr(v, e.ino, &m, &a, &t), 0);
	ck_assert_int_eq(vfs_flush(v, fh), 0);
	ck_assert_int_eq(vfs_release(v, fh), 0);
	ck_assert_int_eq(vfs_getattr(v, e.ino, &a, &t), 0);
	ck_assert_uint_eq(a.size, 3000);
	ck_assert_int_eq(a.mtime_ns, m.mtime_ns);
	check_content(v, e.ino, data, 3000);
}
END_TEST

/* rename moves the name (the old one is gone, the content follows);
 * RENAME_NOREPLACE refuses an existing target; unlink of an open file
 * keeps it readable until release. */
START_TEST(test_rename_unlink)
{
	uint8_t a1[100], a2[200];
	struct vfs_file *fh = NULL;
	struct vfs_entry e;
	uint64_t ino1, ino2;
	int keep;

	fill(a1, sizeof(a1), 6);
	fill(a2, sizeof(a2), 7);
	ino1 = put_file("a", a1, sizeof(a1));
	ino2 = put_file("b", a2, sizeof(a2));
	ck_assert_int_eq(vfs_rename(v, dir, "a", dir, "b", 1 /* RENAME_NOREPLACE */), -EEXIST);
	ck_assert_int_eq(vfs_rename(v, dir, "a", dir, "c", 0), 0);
	ck_assert_int_eq(vfs_lookup(v, dir, "a", &e), 0);
	ck_assert_uint_eq(e.ino, 0); /* negative entry */
	ck_assert_int_eq(vfs_lookup(v, dir, "c", &e), 0);
	ck_assert_uint_eq(e.ino, ino1);
	vfs_forget(v, ino1, 1);
	/* Rename over b, which is open: it stays readable. */
	ck_assert_int_eq(vfs_open(v, ino2, O_RDONLY, &fh, &keep), 0);
	ck_assert_int_eq(vfs_rename(v, dir, "c", dir, "b", 0), 0);
	{
		uint8_t got[300];

		ck_assert_int_eq(vfs_read(v, fh, 0, sizeof(got), got), (ssize_t)sizeof(a2));
		ck_assert_int_eq(memcmp(got, a2, sizeof(a2)), 0);
	}
	ck_assert_int_eq(vfs_release(v, fh), 0);
	check_content(v, ino1, a1, sizeof(a1));
	ck_assert_int_eq(vfs_unlink(v, dir, "b"), 0);
	ck_assert_int_eq(vfs_unlink(v, dir, "b"), -ENOENT);
	ck_assert_int_eq(vfs_rmdir(v, 1, "no-such-dir"), -ENOENT);
}
END_TEST

/* Creates name in parent through x (O_EXCL); returns its inode. */
static uint64_t make_in(struct vfs *x, uint64_t parent, const char *name)
{
	struct vfs_file *fh = NULL;
	struct vfs_entry e;
	int keep;

	ck_assert_int_eq(vfs_create(x, parent, name, 0644, O_CREAT | O_EXCL | O_WRONLY, getuid(),
				    getgid(), &e, &fh, &keep),
			 0);
	ck_assert_int_eq(vfs_release(x, fh), 0);
	vfs_forget(x, e.ino, 1);
	return e.ino;
}

/* In a directory another client made, a missing name costs one query,
 * then none within the negative timeout; a create here forgets it at
 * once. */
START_TEST(test_negative_cache)
{
	struct vfs_conf c = test_conf();
	struct vfs_stats s0, s1;
	struct vfs_entry e;
	struct vfs *w = NULL;
	uint64_t ino, nd;

	ck_assert_int_eq(vfs_start(&c, cl, blk, mc, NULL, &w), 0);
	ck_assert_int_eq(vfs_mknod(w, dir, "nd", S_IFDIR | 0755, 0, getuid(), getgid(), &e), 0);
	nd = e.ino;
	ck_assert_int_eq(vfs_stop(w), 0);
	vfs_get_stats(v, &s0);
	ck_assert_int_eq(vfs_lookup(v, nd, "ghost", &e), 0);
	ck_assert_uint_eq(e.ino, 0);
	ck_assert(e.entry_timeout == 1);
	ck_assert_int_eq(vfs_lookup(v, nd, "ghost", &e), 0);
	ck_assert_uint_eq(e.ino, 0);
	vfs_get_stats(v, &s1);
	ck_assert_uint_eq(s1.queries - s0.queries, 1);
	ino = make_in(v, nd, "ghost");
	ck_assert_int_eq(vfs_lookup(v, nd, "ghost", &e), 0);
	ck_assert_uint_eq(e.ino, ino);
	vfs_forget(v, ino, 1);
	ck_assert_int_eq(vfs_lookup(v, nd, "ghost2", &e), 0);
	ck_assert_int_eq(vfs_mknod(v, nd, "ghost2", S_IFDIR | 0700, 0, getuid(), getgid(), &e), 0);
	ck_assert_int_eq(vfs_lookup(v, nd, "ghost2", &e), 0);
	ck_assert_uint_ne(e.ino, 0);
}
END_TEST

/* In a directory this client made (within the negative timeout), the
 * lookup of a missing name (the kernel's, before every create) costs no
 * query: the client knows every name in it.  Creates and unlinks here
 * keep that list exact; a name another client adds is found once the
 * directory's attributes expire (its ctime changed), the list's life
 * (the negative timeout after the last change here) ends or the next
 * change here shows it, and a rename drops the list. */
START_TEST(test_dir_names)
{
	struct vfs_conf c = test_conf(), quick = test_conf();
	struct vfs_stats s0, s1;
	struct vfs_entry e;
	struct vfs *x = NULL, *y = NULL;
	uint64_t made, ino, wino;

	c.attr_timeout = 60; /* nothing expires during the counted part */
	c.negative_timeout = 60;
	quick.attr_timeout = 0.2;
	ck_assert_int_eq(vfs_start(&c, cl, blk, mc, NULL, &x), 0);
	ck_assert_int_eq(vfs_mknod(x, dir, "made", S_IFDIR | 0755, 0, getuid(), getgid(), &e), 0);
	made = e.ino;
	vfs_get_stats(x, &s0);
	ck_assert_int_eq(vfs_lookup(x, made, "n1", &e), 0);
	ck_assert_uint_eq(e.ino, 0);
	ino = make_in(x, made, "n1");
	ck_assert_int_eq(vfs_lookup(x, made, "n2", &e), 0);
	ck_assert_uint_eq(e.ino, 0);
	vfs_get_stats(x, &s1);
	ck_assert_uint_eq(s1.queries - s0.queries, 0);
	/* A name that exists is asked for: its inode comes from the shard. */
	ck_assert_int_eq(vfs_lookup(x, made, "n1", &e), 0);
	ck_assert_uint_eq(e.ino, ino);
	vfs_forget(x, ino, 1);
	ck_assert_int_eq(vfs_unlink(x, made, "n1"), 0);
	vfs_get_stats(x, &s0);
	ck_assert_int_eq(vfs_lookup(x, made, "n1", &e), 0);
	ck_assert_uint_eq(e.ino, 0);
	vfs_get_stats(x, &s1);
	ck_assert_uint_eq(s1.queries - s0.queries, 0);
	/* A rename out of it: the list is gone, lookups ask again. */
	make_in(x, made, "r1");
	ck_assert_int_eq(vfs_rename(x, made, "r1", dir, "r1", 0), 0);
	vfs_get_stats(x, &s0);
	ck_assert_int_eq(vfs_lookup(x, made, "n3", &e), 0);
	ck_assert_uint_eq(e.ino, 0);
	vfs_get_stats(x, &s1);
	ck_assert_uint_eq(s1.queries - s0.queries, 1);
	ck_assert_int_eq(vfs_stop(x), 0);

	/* Another client adds a name: seen once y's attributes expired. */
	ck_assert_int_eq(vfs_start(&quick, cl, blk, mc, NULL, &y), 0);
	ck_assert_int_eq(vfs_mknod(y, dir, "made2", S_IFDIR | 0755, 0, getuid(), getgid(), &e), 0);
	made = e.ino;
	wino = make_in(v, made, "w1");
	usleep(300 * 1000); /* > quick.attr_timeout */
	ck_assert_int_eq(vfs_lookup(y, made, "w1", &e), 0);
	ck_assert_uint_eq(e.ino, wino);
	vfs_forget(y, wino, 1);
	ck_assert_int_eq(vfs_stop(y), 0);

	/* The list's life is the negative timeout: with the directory's
	 * attributes still cached (unchanged ctime here), another client's
	 * name is found once the list expired. */
	c.negative_timeout = 0.2;
	ck_assert_int_eq(vfs_start(&c, cl, blk, mc, NULL, &x), 0);
	ck_assert_int_eq(vfs_mknod(x, dir, "made3", S_IFDIR | 0755, 0, getuid(), getgid(), &e), 0);
	made = e.ino;
	wino = make_in(v, made, "late");
	usleep(300 * 1000); /* > c.negative_timeout, < c.attr_timeout */
	ck_assert_int_eq(vfs_lookup(x, made, "late", &e), 0);
	ck_assert_uint_eq(e.ino, wino);
	vfs_forget(x, wino, 1);

	/* Each create here renews the list: the shard says which ctime it
	 * replaced, the one the list holds, so nobody else came in between.
	 * Creating for three lifetimes still asks for no missing name. */
	ck_assert_int_eq(vfs_mknod(x, dir, "made4", S_IFDIR | 0755, 0, getuid(), getgid(), &e), 0);
	made = e.ino;
	vfs_get_stats(x, &s0);
	for (int i = 0; i < 6; i++) {
		char name[16];

		snprintf(name, sizeof(name), "k%d", i);
		usleep(100 * 1000);
		ck_assert_int_eq(vfs_lookup(x, made, name, &e), 0);
		ck_assert_uint_eq(e.ino, 0);
		make_in(x, made, name);
	}
	vfs_get_stats(x, &s1);
	ck_assert_uint_eq(s1.queries - s0.queries, 0);

	/* Another client's create between two of ours: our second create's
	 * answer names a ctime the list does not hold, so the list goes and
	 * that client's name is found at once, the lifetime notwithstanding. */
	wino = make_in(v, made, "between");
	make_in(x, made, "after");
	ck_assert_int_eq(vfs_lookup(x, made, "between", &e), 0);
	ck_assert_uint_eq(e.ino, wino);
	vfs_forget(x, wino, 1);
	ck_assert_int_eq(vfs_stop(x), 0);
}
END_TEST

/* The rules of a name list (dirnames.h), without a cluster: a change
 * whose answer names the ctime the list holds keeps it exact; one that
 * names another (a change of another client came in between) or none (a
 * retried op's kept result) drops it. */
START_TEST(test_dir_names_rules)
{
	struct dirnames *dn = NULL;

	ck_assert_int_eq(dn_open(60ll * 1000000000, &dn), 0);
	dn_start(dn, 7, 100);
	dn_add(dn, 7, "a", 110, 100);
	ck_assert_int_eq(dn_absent(dn, 7, "b", 110), 1);
	ck_assert_int_eq(dn_absent(dn, 7, "a", 110), 0);
	dn_del(dn, 7, "a", 120, 110);
	ck_assert_int_eq(dn_absent(dn, 7, "a", 120), 1);
	dn_add(dn, 7, "c", 140, 130); /* 130: another client's change */
	ck_assert_int_eq(dn_kept(dn, 7), 0);
	ck_assert_int_eq(dn_absent(dn, 7, "x", 140), 0);
	dn_start(dn, 8, 200);
	dn_add(dn, 8, "a", 210, 0); /* a kept result: cannot tell */
	ck_assert_int_eq(dn_kept(dn, 8), 0);
	dn_start(dn, 9, 300);
	dn_del(dn, 9, "a", 310, 0);
	ck_assert_int_eq(dn_kept(dn, 9), 0);
	dn_close(dn);
}
END_TEST

/* Compares the attributes two clients report for ino. */
static void same_attr(const struct meta_attr *a, const struct meta_attr *b)
{
	ck_assert_uint_eq(a->ino, b->ino);
	ck_assert_uint_eq(a->mode, b->mode);
	ck_assert_uint_eq(a->nlink, b->nlink);
	ck_assert_uint_eq(a->size, b->size);
	ck_assert_int_eq(a->mtime_ns, b->mtime_ns);
	ck_assert_int_eq(a->ctime_ns, b->ctime_ns);
}

/* A directory's attributes are served from the cache within the
 * attribute timeout, patched exactly as the shard changed them by a
 * create, mkdir, unlink or rmdir here (a second client that asks the
 * shard sees the same), with no query. */
START_TEST(test_dir_attr_cache)
{
	struct vfs_conf c = test_conf();
	struct vfs_stats s0, s1;
	struct meta_attr a, b;
	struct vfs_entry e;
	struct vfs *w = NULL;
	uint8_t x[3] = {1, 2, 3};
	double t;

	ck_assert_int_eq(vfs_start(&c, cl, blk, mc, NULL, &w), 0);
	vfs_get_stats(v, &s0);
	ck_assert_int_eq(vfs_getattr(v, dir, &a, &t), 0);
	ck_assert(t > 0 && t <= 1);
	put_file("x", x, sizeof(x));
	ck_assert_int_eq(vfs_mknod(v, dir, "sub", S_IFDIR | 0700, 0, getuid(), getgid(), &e), 0);
	ck_assert_int_eq(vfs_getattr(v, dir, &a, &t), 0);
	ck_assert_int_eq(vfs_access(v, dir), 0);
	vfs_get_stats(v, &s1);
	ck_assert_uint_eq(s1.queries - s0.queries, 0);
	ck_assert_int_eq(vfs_getattr(w, dir, &b, &t), 0);
	same_attr(&a, &b);
	ck_assert_uint_eq(a.nlink, 3);
	ck_assert_int_eq(vfs_unlink(v, dir, "x"), 0);
	ck_assert_int_eq(vfs_getattr(v, dir, &a, &t), 0);
	vfs_get_stats(v, &s0);
	ck_assert_uint_eq(s0.queries - s1.queries, 0);
	ck_assert_int_eq(vfs_getattr(w, dir, &b, &t), 0);
	same_attr(&a, &b);
	ck_assert_int_eq(vfs_rmdir(v, dir, "sub"), 0);
	ck_assert_int_eq(vfs_getattr(v, dir, &a, &t), 0);
	vfs_get_stats(v, &s1);
	ck_assert_uint_eq(s1.queries - s0.queries, 0);
	ck_assert_uint_eq(a.nlink, 2);
	ck_assert_int_eq(vfs_getattr(w, dir, &b, &t), 0);
	same_attr(&a, &b);
	ck_assert_int_eq(vfs_stop(w), 0);
}
END_TEST

/* opendir: nothing recorded, the kernel may not keep a listing; at the
 * next opendir one getattr tells whether it may (the directory is
 * unchanged), and a change by another client or by this one makes it
 * drop the listing once. */
static int opendir_keeps(struct vfs *x)
{
	struct vfs_dir *dh = NULL;
	int keep = -1;

	ck_assert_int_eq(vfs_opendir(x, dir, &dh, &keep), 0);
	vfs_releasedir(x, dh);
	ck_assert(keep == 0 || keep == 1);
	return keep;
}

START_TEST(test_listing_cache)
{
	struct vfs_conf c = test_conf();
	struct vfs_stats s0, s1;
	struct meta_attr a;
	struct vfs_entry e;
	struct vfs *w = NULL;
	uint8_t x[3] = {1, 2, 3};
	double t;

	ck_assert_int_eq(vfs_start(&c, cl, blk, mc, NULL, &w), 0);
	put_file("x", x, sizeof(x));
	ck_assert_int_eq(vfs_getattr(v, dir, &a, &t), 0);
	vfs_get_stats(v, &s0);
	ck_assert_int_eq(opendir_keeps(v), 0);
	vfs_get_stats(v, &s1);
	ck_assert_uint_eq(s1.queries - s0.queries, 0);
	ck_assert_int_eq(opendir_keeps(v), 1);
	vfs_get_stats(v, &s0);
	ck_assert_uint_eq(s0.queries - s1.queries, 1);
	ck_assert_int_eq(opendir_keeps(v), 1);
	/* another client adds a name */
	ck_assert_int_eq(vfs_mknod(w, dir, "y", S_IFREG | 0600, 0, getuid(), getgid(), &e), 0);
	vfs_forget(w, e.ino, 1);
	ck_assert_int_eq(opendir_keeps(v), 0);
	ck_assert_int_eq(opendir_keeps(v), 1);
	/* and removes one */
	ck_assert_int_eq(vfs_unlink(w, dir, "x"), 0);
	ck_assert_int_eq(opendir_keeps(v), 0);
	ck_assert_int_eq(opendir_keeps(v), 1);
	/* this client renames one */
	ck_assert_int_eq(vfs_rename(v, dir, "y", dir, "z", 0), 0);
	ck_assert_int_eq(opendir_keeps(v), 0);
	ck_assert_int_eq(opendir_keeps(v), 1);
	ck_assert_int_eq(vfs_stop(w), 0);
}
END_TEST

struct listing {
	char names[8][32];
	struct vfs_entry e[8];
	uint64_t next[8];
	size_t n, room;
};

static int take(void *arg, const char *name, const struct vfs_entry *e, uint64_t next)
{
	struct listing *l = arg;

	if (l->n == l->room) {
		return 1;
	}
	snprintf(l->names[l->n], sizeof(l->names[l->n]), "%s", name);
	l->e[l->n] = *e;
	l->next[l->n] = next;
	l->n++;
	return 0;
}

/* A plus listing returns ".", "..", then the entries in cookie order with
 * their attributes (names cached, regular files' attributes not), resumes
 * at the cookie of the last entry the reader took, and counts a kernel
 * reference only for entries taken.  A position resumed again after
 * creates (seekdir back) gives the same entry again, and no other twice. */
START_TEST(test_readdir_plus)
{
	struct listing l = {.room = 3};
	struct vfs_dir *dh = NULL;
	uint8_t b[7] = "1234567";

	put_file("z", b, 7);
	put_file("m", b, 3);
	ck_assert_int_eq(vfs_opendir(v, dir, &dh, NULL), 0);
	ck_assert_int_eq(vfs_readdir(v, dh, dir, 0, 1, take, &l), 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_str_eq(l.names[0], ".");
	ck_assert_str_eq(l.names[1], "..");
	ck_assert(strcmp(l.names[2], "m") == 0 || strcmp(l.names[2], "z") == 0);
	ck_assert_uint_eq(l.next[0], 1);
	ck_assert_uint_eq(l.next[1], 2);
	ck_assert_uint_ge(l.next[2], META_COOKIE_FIRST);
	ck_assert_uint_eq(l.e[0].ino, 0);
	ck_assert_uint_eq(l.e[2].attr.size, strcmp(l.names[2], "m") == 0 ? 3 : 7);
	/* A regular file's size in a listing may predate a close of this
	 * mount: the kernel must not keep it (vfs_dir.c). */
	ck_assert(l.e[2].attr_timeout == 0);
	ck_assert(l.e[2].entry_timeout == 1);
	l.room = 8;
	ck_assert_int_eq(vfs_readdir(v, dh, dir, l.next[2], 1, take, &l), 0);
	ck_assert_uint_eq(l.n, 4);
	ck_assert_str_eq(l.names[3], strcmp(l.names[2], "m") == 0 ? "z" : "m");
	ck_assert_uint_eq(l.e[3].attr.size, strcmp(l.names[3], "m") == 0 ? 3 : 7);
	ck_assert(l.e[3].attr_timeout == 0);
	/* seekdir back to the first entry's position after creates: the
	 * second entry comes again, the new ones once each, nothing else. */
	put_file("a", b, 1);
	put_file("q", b, 1);
	{
		struct listing l2 = {.room = 8};
		int seen_a = 0, seen_q = 0, seen_2nd = 0;

		vfs_releasedir(v, dh);
		ck_assert_int_eq(vfs_opendir(v, dir, &dh, NULL), 0);
		ck_assert_int_eq(vfs_readdir(v, dh, dir, l.next[2], 1, take, &l2), 0);
		for (size_t i = 0; i < l2.n; i++) {
			ck_assert_str_ne(l2.names[i], l.names[2]);
			seen_a += strcmp(l2.names[i], "a") == 0;
			seen_q += strcmp(l2.names[i], "q") == 0;
			seen_2nd += strcmp(l2.names[i], l.names[3]) == 0;
			ck_assert_uint_gt(l2.next[i], l.next[2]);
		}
		ck_assert_int_eq(seen_2nd, 1);
		ck_assert_int_le(seen_a, 1);
		ck_assert_int_le(seen_q, 1);
	}
	vfs_releasedir(v, dh);
}
END_TEST

static Suite *vfs_suite(void)
{
	Suite *s = suite_create("vfs");
	TCase *tc = tcase_create("vfs");

	tcase_add_unchecked_fixture(tc, cluster_setup, cluster_teardown);
	tcase_add_checked_fixture(tc, vfs_setup, vfs_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_small_create_cost);
	tcase_add_test(tc, test_small_read_cost);
	tcase_add_test(tc, test_close_to_open);
	tcase_add_test(tc, test_read_buffered);
	tcase_add_test(tc, test_open_trunc);
	tcase_add_test(tc, test_rewrite_cost);
	tcase_add_test(tc, test_setattr_flushes);
	tcase_add_test(tc, test_rename_unlink);
	tcase_add_test(tc, test_negative_cache);
	tcase_add_test(tc, test_dir_names);
	tcase_add_test(tc, test_dir_names_rules);
	tcase_add_test(tc, test_readdir_plus);
	tcase_add_test(tc, test_dir_attr_cache);
	tcase_add_test(tc, test_listing_cache);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(vfs_suite());
	int failed;

	signal(SIGPIPE, SIG_IGN);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	stop_nodes(); /* after a failed setup the teardown did not run */
	nng_fini();
	return failed != 0;
}
