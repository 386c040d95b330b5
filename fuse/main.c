/* main.c: the objfs FUSE client program: options, configuration, the
 * connection to the cluster, the checks that the bucket is reachable, the
 * mount, daemonising, and an orderly stop.  Owns the process and the
 * client core (vfs.h); the FUSE handlers are fs*.c.  Runs on the main
 * thread.  Functions return 0 or a negative errno; the exit status is
 * decided here only.
 *
 * Start-up order (stop runs it backwards):
 *   1. parse options, create the FUSE session (usage errors: exit 2)
 *   2. check the mount point, load the config           (errors: exit 1)
 *   3. fork unless -f: the parent waits for the child's verdict, so every
 *      start-up error below still reaches the terminal with its status
 *   4. block SIGINT/SIGTERM/SIGHUP in every thread created from here on
 *   5. connect, check the bucket (root inode) and read its chunk size
 *   6. start the vfs (caches, uploaders), mount, report success, detach
 *   7. unblock the signals in this thread, run the multi-threaded loop
 *   8. unmount, commit every dirty file, close
 * We fork by hand instead of fuse_daemonize(): nng's threads would not
 * survive a fork made after connecting, and fuse_daemonize lets the
 * parent exit before the mount is known to work. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <unistd.h>

#include "../common/config.h"
#include "../common/err.h"
#include "../common/keyfile.h"
#include "../common/log.h"
#include "../common/metrics.h"
#include "../common/metrics_http.h"
#include "../common/metrics_proc.h"
#include "dio.h"
#include "fs.h"
#include "fs_metrics.h"
#include "objfs_build.h"

#ifndef OBJFS_SYSCONFDIR
#define OBJFS_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF OBJFS_SYSCONFDIR "/objfs/objfs.conf"

struct cmdline {
	char *bucket, *mountpoint;
	struct cfg_mount o; /* -o options of objfs (the key table's mount section) */
	int foreground, debug, single, help, version;
	int remount, ro; /* -o remount: change a live mount; ro/rw: the last one given */
	int extra_args;
	int bad_opt; /* an objfs option was refused (message printed) */
};

enum { KEY_HELP, KEY_VERSION, KEY_FOREGROUND, KEY_DEBUG, KEY_SINGLE, KEY_REMOUNT, KEY_RO, KEY_RW };

/* clang-format off */
static const struct fuse_opt opt_spec[] = {
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_KEY("-f", KEY_FOREGROUND),
    FUSE_OPT_KEY("-d", KEY_DEBUG),
    FUSE_OPT_KEY("--debug", KEY_DEBUG),
    FUSE_OPT_KEY("debug", KEY_DEBUG),
    FUSE_OPT_KEY("-s", KEY_SINGLE),
    FUSE_OPT_KEY("remount", KEY_REMOUNT),
    FUSE_OPT_KEY("ro", KEY_RO),
    FUSE_OPT_KEY("rw", KEY_RW),
    FUSE_OPT_END,
};
/* clang-format on */

static void usage(FILE *f)
{
	fprintf(f, "Usage: objfs BUCKET MOUNTPOINT [-f] [-d] [-s] [-o OPTION[,OPTION...]]\n"
		   "       objfs -h | -V\n"
		   "Mount bucket BUCKET of an objfs cluster at MOUNTPOINT.\n\n"
		   "  -f                    stay in the foreground (log to stderr)\n"
		   "  -d, -o debug          foreground, FUSE request tracing, debug log\n"
		   "  -s                    single-threaded request loop (debugging)\n"
		   "  -h, --help            show this help and exit\n"
		   "  -V, --version         show the version and exit\n\n"
		   "objfs options (see objfs(1)):\n");
	cfg_print_mount_opts(f);
	fprintf(f, "\nFUSE and mount options passed on to the kernel, e.g.:\n"
		   "  -o allow_other        let other users access the mount\n"
		   "  -o ro                 mount read-only\n"
		   "  -o remount,ro|rw      make a live mount read-only or writable again\n"
		   "  -o noatime,nodev,nosuid,noexec\n\n"
		   "Permissions are checked by the kernel (default_permissions is always on).\n"
		   "Exit status: 0 after a clean unmount, 1 on a start-up or commit failure,\n"
		   "2 on bad usage.\n");
}

/* An "-o NAME=VALUE" of ours is parsed into c->o; anything else goes on
 * to libfuse.  Returns 0 (taken), 1 (not ours) or -EINVAL (refused,
 * message printed). */
static int mount_opt(struct cmdline *c, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[64], why[256];
	int rc;

	if (eq == NULL || (size_t)(eq - arg) >= sizeof(name)) {
		return 1;
	}
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	rc = cfg_mount_set(&c->o, name, eq + 1, why, sizeof(why));
	if (rc == -ENOENT) {
		return 1;
	}
	if (rc != 0) {
		fprintf(stderr, "objfs: -o %s: %s\n", arg, why);
		return -EINVAL;
	}
	return 0;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct cmdline *cl = data;

	(void)outargs;
	switch (key) {
	case FUSE_OPT_KEY_OPT:
		switch (mount_opt(cl, arg)) {
		case 0:
			return 0;
		case 1:
			return 1; /* a FUSE or mount option: fuse_session_new checks it */
		default:
			cl->bad_opt = 1;
			return 0;
		}
	case FUSE_OPT_KEY_NONOPT:
		if (cl->bucket == NULL) {
			cl->bucket = strdup(arg);
		} else if (cl->mountpoint == NULL) {
			cl->mountpoint = strdup(arg);
		} else {
			cl->extra_args = 1;
		}
		return 0;
	case KEY_HELP:
		cl->help = 1;
		return 0;
	case KEY_VERSION:
		cl->version = 1;
		return 0;
	case KEY_FOREGROUND:
		cl->foreground = 1;
		return 0;
	case KEY_DEBUG:
		cl->debug = cl->foreground = 1;
		return 0;
	case KEY_SINGLE:
		cl->single = 1;
		return 0;
	case KEY_REMOUNT:
		cl->remount = 1;
		return 0;
	case KEY_RO:
	case KEY_RW:
		cl->ro = key == KEY_RO;
		return 1; /* the kernel's too */
	default:
		return 1; /* a FUSE or mount option: fuse_session_new checks it */
	}
}

/* ---- remount ----------------------------------------------------------- */

#define FUSE_SUPER_MAGIC 0x65735546

/* `-o remount,ro|rw` (what mount(8) runs through its helper): changes the
 * live objfs mount at mnt in place, as the kernel allows for FUSE, keeping
 * its other flags.  No new daemon is started; the running one keeps
 * serving, and the kernel refuses writes with EROFS while it is
 * read-only (its dirty data was flushed at the last close).  Returns the
 * exit status. */
static int remount(const char *mnt, int ro)
{
	static const struct {
		unsigned long st, ms;
	} keep[] = {
	    {ST_NOSUID, MS_NOSUID},   {ST_NODEV, MS_NODEV},	      {ST_NOEXEC, MS_NOEXEC},
	    {ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME}, {ST_RELATIME, MS_RELATIME},
	};
	unsigned long flags = MS_REMOUNT | (ro ? MS_RDONLY : 0);
	struct statvfs sv;
	struct statfs sf;

	if (statfs(mnt, &sf) != 0 || statvfs(mnt, &sv) != 0) {
		fprintf(stderr, "objfs: remount %s: %s\n", mnt, strerror(errno));
		return 1;
	}
	if (sf.f_type != FUSE_SUPER_MAGIC) {
		fprintf(stderr, "objfs: remount %s: not an objfs mount\n", mnt);
		return 1;
	}
	for (size_t i = 0; i < OBJ_ARRAY_LEN(keep); i++) {
		if (sv.f_flag & keep[i].st) {
			flags |= keep[i].ms;
		}
	}
	if (mount("objfs", mnt, NULL, flags, NULL) != 0) {
		fprintf(stderr, "objfs: remount %s: %s%s\n", mnt, strerror(errno),
			errno == EPERM ? " (remounting needs root)" : "");
		return 1;
	}
	return 0;
}

/* ---- start-up reporting ------------------------------------------------- */

/* Write end of the pipe to the waiting parent; -1 in the foreground or
 * once start-up is over. */
static int report_fd = -1;

/* Sends the start-up verdict (status byte, then the message) to the
 * parent, or prints the message. */
static void report(int status, const char *msg)
{
	if (report_fd >= 0) {
		unsigned char s = (unsigned char)status;
		ssize_t w = write(report_fd, &s, 1);

		if (w == 1 && msg != NULL) {
			w = write(report_fd, msg, strlen(msg));
		}
		(void)w;
		close(report_fd);
		report_fd = -1;
	} else if (msg != NULL) {
		fputs(msg, stderr);
	}
}

static void failf(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failf(int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "objfs: ");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	strncat(msg, "\n", sizeof(msg) - strlen(msg) - 1);
	report(status, msg);
}

/* Forks.  The parent returns only in the child's place: it waits for the
 * verdict and exits with it. */
static int daemon_fork(void)
{
	int p[2];
	pid_t pid;

	if (pipe(p) != 0) {
		return -errno;
	}
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (pid > 0) {
		unsigned char s = 1;
		char buf[1024];
		ssize_t n;

		close(p[1]);
		n = read(p[0], &s, 1);
		if (n != 1) {
			fprintf(stderr, "objfs: the daemon exited during start-up\n");
			_exit(1);
		}
		while ((n = read(p[0], buf, sizeof(buf))) > 0) {
			fwrite(buf, 1, (size_t)n, stderr);
		}
		_exit(s);
	}
	close(p[0]);
	report_fd = p[1];
	setsid();
	return 0;
}

/* After a good start: stdio to /dev/null, cwd to / (the mount point's
 * file system must stay unmountable). */
static void daemon_detach(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO) {
			close(fd);
		}
	}
	if (chdir("/") != 0) {
		log_warn("fuse.chdir", "chdir /: %s", strerror(errno));
	}
}

static void syslog_sink(enum log_level lvl, const char *id, const char *line, void *arg)
{
	static const int prio[] = {
	    [LOG_LVL_DEBUG] = LOG_DEBUG,
	    [LOG_LVL_INFO] = LOG_INFO,
	    [LOG_LVL_WARN] = LOG_WARNING,
	    [LOG_LVL_ERROR] = LOG_ERR,
	};

	(void)id;
	(void)arg;
	syslog(prio[lvl <= LOG_LVL_ERROR ? lvl : LOG_LVL_ERROR], "%s", line);
}

/* ---- main -------------------------------------------------------------- */

static void free_cmdline(struct cmdline *c)
{
	free(c->bucket);
	free(c->mountpoint);
}

/* The connections of one mount; closed in reverse by conn_close. */
struct conn {
	struct cl *cl;
	struct blk *blk;
	struct mc *mc;
	uint32_t chunk_size, inline_max;
};

static void conn_close(struct conn *cn)
{
	mc_close(cn->mc);
	blk_close(cn->blk);
	cl_close(cn->cl);
}

/* Connects and checks the bucket.  Returns 0 or a negative errno, the
 * message sent to the waiting parent (exit status 1). */
static int connect_bucket(const struct cfg *cfg, const char *bucket, struct conn *fs)
{
	struct mc_statfs ms;
	struct meta_attr root;
	int rc;

	if ((rc = cl_open(cfg, &fs->cl)) != 0 || (rc = blk_open(fs->cl, &fs->blk)) != 0) {
		failf(1, "cannot start the cluster client: %s", obj_strerror(rc));
		return rc;
	}
	if ((rc = mc_open(fs->cl, bucket, &fs->mc)) != 0) {
		failf(1, "bucket '%s': %s", bucket, obj_strerror(rc));
		return rc;
	}
	rc = mc_getattr(fs->mc, META_ROOT_INO, &root);
	if (rc == -ENOENT) {
		failf(1, "bucket '%s' does not exist", bucket);
		return rc;
	}
	if (rc != 0) {
		failf(1, "cannot reach the cluster of %s (bucket '%s'): %s", cfg->path, bucket,
		      obj_strerror(rc));
		return rc;
	}
	if ((rc = mc_statfs(fs->mc, &ms)) != 0) {
		failf(1, "bucket '%s': cannot read its settings: %s", bucket, obj_strerror(rc));
		return rc;
	}
	if (ms.chunk_size < 4096 || ms.chunk_size > MSG_BLOCK_MAX ||
	    ms.inline_max > ms.chunk_size) {
		failf(1, "bucket '%s': unusable chunk size %u / inline_max %u", bucket,
		      ms.chunk_size, ms.inline_max);
		return -OBJ_EPROTO;
	}
	fs->chunk_size = ms.chunk_size;
	fs->inline_max = ms.inline_max;
	return 0;
}

static void add_arg(struct fuse_args *args, const char *a)
{
	if (fuse_opt_add_arg(args, a) != 0) {
		fprintf(stderr, "objfs: out of memory\n");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	static struct cmdline c;
	static struct cfg cfg;
	static struct key_ent key;
	struct objfs fs = {0};
	struct conn cn = {0};
	struct dc *dc = NULL;
	enum cp_policy policy = CP_ARC;
	struct vfs_conf vc;
	struct fuse_session *se = NULL;
	struct fuse_loop_config *lc;
	struct mx_registry *mxr = NULL;
	struct mx_http *mxh = NULL;
	char mnt[PATH_MAX], err[512], fsname[128];
	const char *conf;
	enum log_level lvl;
	sigset_t sigs, old;
	struct stat st;
	int rc, status = 1, mounted = 0, handlers = 0;

	log_set_ident("objfs");
	/* Chunk and block buffers (MiBs each) come and go at the rate of the
	 * writes: served from mmap, every one would arrive as fresh pages the
	 * kernel faults in and zeroes (a tenth of the CPU of a large write).
	 * Keep them in the heap and keep freed memory for the next one. */
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
	cfg_mount_defaults(&c.o);
	if (fuse_opt_parse(&args, &c, opt_spec, opt_proc) != 0) {
		usage(stderr);
		return 2;
	}
	if (c.bad_opt) {
		free_cmdline(&c);
		fuse_opt_free_args(&args);
		return 2;
	}
	if (c.help) {
		usage(stdout);
		return 0;
	}
	if (c.version) {
		printf("objfs %s (libfuse %s)\n", PACKAGE_VERSION, fuse_pkgversion());
		return 0;
	}
	if (c.bucket == NULL || c.mountpoint == NULL || c.extra_args) {
		fprintf(stderr, "objfs: expected BUCKET and MOUNTPOINT\n");
		usage(stderr);
		free_cmdline(&c);
		return 2;
	}
	if (msg_check_bucket(c.bucket) != 0) {
		fprintf(stderr, "objfs: '%s' is not a valid bucket name\n", c.bucket);
		free_cmdline(&c);
		return 2;
	}

	/* 1. the key decides whether the mount may write: a ro key mounts
	 * read-only, so the kernel answers EROFS to every change. */
	if (c.o.key[0] != '\0') {
		if (key_file_load(c.o.key, &key, err, sizeof(err)) != 0) {
			fprintf(stderr, "objfs: %s\n", err);
			free_cmdline(&c);
			return 1;
		}
		if (!(key.caps & KEY_CAP_ADMIN) && strcmp(key.bucket, c.bucket) != 0) {
			fprintf(stderr, "objfs: key '%s' is for bucket '%s', not '%s'\n", key.name,
				key.bucket, c.bucket);
			free_cmdline(&c);
			return 1;
		}
		if ((key.caps & KEY_CAP_RO) && c.remount && !c.ro) {
			fprintf(stderr, "objfs: remount %s: key '%s' is read-only\n", c.mountpoint,
				key.name);
			free_cmdline(&c);
			fuse_opt_free_args(&args);
			return 1;
		}
		if (key.caps & KEY_CAP_RO) {
			add_arg(&args, "-oro");
		}
	}
	if (c.remount) {
		rc = remount(c.mountpoint, c.ro);
		free_cmdline(&c);
		fuse_opt_free_args(&args);
		return rc;
	}

	/* the session checks the FUSE options before anything else */
	snprintf(fsname, sizeof(fsname), "-ofsname=%s,subtype=objfs", c.bucket);
	add_arg(&args, fsname);
	add_arg(&args, "-odefault_permissions");
	if (c.debug) {
		add_arg(&args, "-odebug");
	}
	fs.bucket = c.bucket;
	/* The registry has no threads, so it may precede the fork; its
	 * HTTP server (nng's threads) starts after it. */
	if (c.o.metrics[0] != '\0' &&
	    ((mxr = mx_create()) == NULL ||
	     mx_add_process_collector(mxr, "objfs", PACKAGE_VERSION) != 0)) {
		fprintf(stderr, "objfs: out of memory\n");
		mx_destroy(mxr);
		free_cmdline(&c);
		fuse_opt_free_args(&args);
		return 1;
	}
	se = fuse_session_new(&args, fs_metrics_ops(mxr), sizeof(objfs_ll_ops), &fs);
	fs.se = se;
	if (se == NULL) {
		/* libfuse printed which option it refused */
		mx_destroy(mxr);
		free_cmdline(&c);
		fuse_opt_free_args(&args);
		return 2;
	}

	/* 2. mount point and configuration */
	if (stat(c.mountpoint, &st) != 0 || realpath(c.mountpoint, mnt) == NULL) {
		fprintf(stderr, "objfs: mount point '%s': %s\n", c.mountpoint, strerror(errno));
		goto out;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "objfs: mount point '%s': not a directory\n", c.mountpoint);
		goto out;
	}
	fs.mnt = mnt;
	fs.read_ahead_kb = (unsigned)(c.o.kernel_readahead >> 10);
	fs.writeback = c.o.writeback_cache != 0;
	conf = c.o.conf[0] != '\0' ? c.o.conf : getenv("OBJFS_CONF");
	if (conf == NULL) {
		conf = DEFAULT_CONF;
	}
	if ((rc = cfg_load_file(conf, &cfg, err, sizeof(err))) != 0) {
		fprintf(stderr, "objfs: %s\n", err);
		goto out;
	}
	if (c.o.key[0] != '\0') {
		cfg.client_key = key;
		cfg.has_client_key = 1;
	}
	/* Both levels were checked by their parsers. */
	lvl = LOG_LVL_DEBUG;
	if (!c.debug) {
		log_parse_level(c.o.log_level[0] != '\0' ? c.o.log_level : cfg.log_level, &lvl);
	}
	log_set_level(lvl);
	/* Checked by the option's parser. */
	cp_parse(c.o.cache_policy, &policy);
	if (c.o.cache_dir[0] != '\0' &&
	    (rc = dc_open_policy(c.o.cache_dir, policy, (uint64_t)c.o.cache_dir_mb << 20, &dc)) !=
		0) {
		fprintf(stderr, "objfs: cache_dir '%s': %s\n", c.o.cache_dir, obj_strerror(rc));
		goto out;
	}

	/* 3. daemon */
	if (!c.foreground) {
		if ((rc = daemon_fork()) != 0) {
			fprintf(stderr, "objfs: fork: %s\n", strerror(-rc));
			goto out;
		}
		openlog("objfs", LOG_PID, LOG_DAEMON);
		log_set_sink(syslog_sink, NULL);
	}

	/* 4. signals go to this thread only: libfuse's handlers end the loop
	 * by interrupting its wait here. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, &old);
	if (fuse_set_signal_handlers(se) != 0) {
		failf(1, "cannot install signal handlers");
		goto out;
	}
	handlers = 1;

	/* 5. cluster and bucket */
	if (connect_bucket(&cfg, c.bucket, &cn) != 0) {
		goto out;
	}

	/* 6. caches, mount */
	vc = (struct vfs_conf){
	    .chunk_size = cn.chunk_size,
	    .inline_max = cn.inline_max,
	    .attr_timeout = c.o.attr_timeout,
	    .entry_timeout = c.o.entry_timeout,
	    .negative_timeout = c.o.negative_timeout,
	    .max_dirty = c.o.max_dirty,
	    .cache_bytes = (uint64_t)c.o.cache_mb << 20,
	    .cache_min_bytes = (uint64_t)c.o.cache_min_mb << 20,
	    .cache_policy = (int)policy,
	    .readahead = c.o.readahead,
	    .uploaders = c.o.uploaders,
	    .prefetchers = c.o.prefetchers,
	};
	rc = vfs_start(&vc, cn.cl, cn.blk, cn.mc, dc, &fs.v);
	dc = NULL; /* the vfs's now */
	if (rc == 0) {
		rc = dio_start(se, &fs.dio);
	}
	if (rc == 0) {
		rc = lkc_open(cn.mc, &fs.lk);
	}
	if (rc != 0) {
		failf(1, "cannot start: %s", obj_strerror(rc));
		goto out;
	}
	if (mxr != NULL) {
		if ((rc = vfs_set_metrics(fs.v, mxr)) != 0 ||
		    (rc = mx_http_start(mxr, c.o.metrics, &mxh, err, sizeof(err))) != 0) {
			failf(1, "%s", rc == -ENOMEM ? "out of memory" : err);
			goto out;
		}
		log_info("fuse.metrics", "metrics at http://%s/metrics", c.o.metrics);
	}
	if (fuse_session_mount(se, mnt) != 0) {
		failf(1,
		      "cannot mount on %s (see the message above; is it already mounted, "
		      "or is /dev/fuse missing?)",
		      mnt);
		goto out;
	}
	mounted = 1;
	log_info("fuse.mount", "bucket %s mounted on %s", c.bucket, mnt);
	report(0, NULL);
	if (!c.foreground) {
		daemon_detach();
	}

	/* 7. serve */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (c.single) {
		rc = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		if (lc == NULL) {
			log_error("fuse.loop", "out of memory");
			rc = -ENOMEM;
		} else {
			fuse_loop_cfg_set_max_threads(lc, c.o.max_threads);
			fuse_loop_cfg_set_clone_fd(lc, 0);
			rc = fuse_session_loop_mt(se, lc);
			fuse_loop_cfg_destroy(lc);
		}
	}
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	status = rc < 0 ? 1 : 0;

out:
	/* 8. stop */
	dio_stop(fs.dio); /* replies to direct writes still waiting */
	fs.dio = NULL;
	if (mounted) {
		fuse_session_unmount(se);
		log_info("fuse.unmount", "bucket %s unmounted from %s", c.bucket, mnt);
	}
	/* The mount's locks go now, not when their lease runs out. */
	lkc_close(fs.lk);
	fs.lk = NULL;
	/* Scrapes read the vfs: they stop first. */
	mx_http_stop(mxh);
	if (fs.v != NULL) {
		struct vfs_stats vs;

		vfs_get_stats(fs.v, &vs);
		log_info("fuse.stats",
			 "cluster calls: %" PRIu64 " queries, %" PRIu64 " commits, %" PRIu64
			 " block puts, %" PRIu64 " block gets",
			 vs.queries, vs.commits, vs.block_puts, vs.block_gets);
		if (vfs_stop(fs.v) != 0) {
			log_error("fuse.stop", "some data could not be committed (see above)");
			status = 1;
		}
		fs.v = NULL;
	}
	if (handlers) {
		fuse_remove_signal_handlers(se);
	}
	if (se != NULL) {
		fuse_session_destroy(se);
	}
	dc_close(dc);
	conn_close(&cn);
	mx_destroy(mxr);
	if (report_fd >= 0) {
		report(status != 0 ? status : 1, "objfs: start-up failed\n");
	}
	free_cmdline(&c);
	fuse_opt_free_args(&args);
	return status;
}
