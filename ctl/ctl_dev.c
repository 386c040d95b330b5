/* ctl_dev.c: objfsctl dev up|down: a local cluster on loopback.
 * Writes the dev config (dev_conf.c) into DIR, starts one
 * objfs-node process per [node] section in its own session, logging to
 * DIR/nodeID.log with its pid in DIR/nodeID.pid, and waits until every
 * node answers.  Before starting a node it checks that the node's ports
 * can be bound, so ports taken by another cluster are named instead of
 * that cluster's nodes being taken for ours.  `down` stops exactly the
 * processes named by those pid files (checking each is still an
 * objfs-node), never others. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/client.h"
#include "../common/clock.h"
#include "../common/err.h"
#include "../common/keyfile.h"
#include "ctl.h"
#include "dev_conf.h"

#define DEV_DIR ".objfs-dev"
#define DEV_PORT 7401
#define DEV_BUCKET "demo"
#define DEV_MOUNT "mnt"
#define DEV_START_TIMEOUT_MS 15000
/* Blocks of ports tried when the default block is taken and no --port
 * was given: enough to step over a few clusters of other users. */
#define DEV_PORT_TRIES 64
#define DEV_STOP_TIMEOUT_MS 10000

/* snprintf for paths: a path that does not fit is an error, not a
 * silently shortened name. */
static int pathf(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int pathf(char *out, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void dev_usage(FILE *f)
{
	fprintf(f,
		"Usage: objfsctl dev up [--nodes N] [--dir DIR] [--port PORT]\n"
		"                       [--mount MNT | --no-mount] [--no-metrics] [--tls]\n"
		"       objfsctl dev down [--dir DIR] [--purge]\n"
		"Start or stop a local cluster of objfs-node processes on 127.0.0.1.\n\n"
		"  -n, --nodes N    nodes to start on first 'up' (default 6, in 3 zones)\n"
		"  -d, --dir DIR    where config, data, logs and pid files live\n"
		"                   (default ./" DEV_DIR ")\n"
		"  -p, --port PORT  first node's port; node i listens on PORT+i-1 and\n"
		"                   replicates on PORT+i-1+1000 (default %d, or the\n"
		"                   next free block when that is taken)\n"
		"  -m, --mount MNT  mount bucket 'demo' at MNT (default ./mnt)\n"
		"      --no-mount   start the nodes and create the bucket only\n"
		"      --no-metrics a new config without metrics_addr (default: node i\n"
		"                   serves /metrics on PORT+i-1+2000, or another free\n"
		"                   loopback port when that is taken)\n"
		"      --tls        with a new config: make a private CA and node\n"
		"                   certificates in DIR/tls (openssl) and turn TLS on\n"
		"      --purge      with down: also delete DIR and all its data\n\n"
		"'up' writes DIR/objfs.conf with a fresh secret the first time and reuses it\n"
		"afterwards, so data survives down/up.  It starts only nodes not running,\n"
		"after checking that their ports are free (exit 1 naming a port in use),\n"
		"writes DIR/admin.key (admin) and DIR/demo.key (rw on 'demo') the first\n"
		"time, creates bucket 'demo' with the first and mounts it with the second.\n"
		"'down' unmounts first.\n",
		DEV_PORT);
}

static long read_pid(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = -1;

	if (f == NULL) {
		return -1;
	}
	if (fscanf(f, "%ld", &pid) != 1) {
		pid = -1;
	}
	fclose(f);
	return pid;
}

/* True if pid is alive and is an objfs-node (so a recycled pid is never
 * signalled by mistake). */
static int is_our_node(long pid)
{
	char path[64], cmd[256] = "";
	FILE *f;
	size_t n;

	if (pid <= 0 || kill((pid_t)pid, 0) != 0) {
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	f = fopen(path, "r");
	if (f == NULL) {
		return 0;
	}
	n = fread(cmd, 1, sizeof(cmd) - 1, f);
	fclose(f);
	cmd[n] = '\0';
	return strstr(cmd, "objfs-node") != NULL;
}

/* A program of ours: beside objfsctl (installed), in the build tree's
 * folder `alt` relative to objfsctl's (e.g. "../fuse"), or from PATH. */
static void find_program(const char *name, const char *alt, char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			if (pathf(out, len, "%s/%s", self, name) == 0 && access(out, X_OK) == 0) {
				return;
			}
			if (alt != NULL && pathf(out, len, "%s/%s/%s", self, alt, name) == 0 &&
			    access(out, X_OK) == 0) {
				return;
			}
		}
	}
	snprintf(out, len, "%s", name);
}

static int is_mounted(const char *dir)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096], mp[PATH_MAX];
	int found = 0;

	if (f == NULL) {
		return 0;
	}
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) == 1 && strcmp(mp, dir) == 0) {
			found = 1;
		}
	}
	fclose(f);
	return found;
}

/* Mounts bucket at mnt with objfs (which daemonises once mounted). */
/* key: the client key file of the mount; metrics: HOST:PORT for the
 * mount's -o metrics, or NULL. */
static int dev_mount(const char *conf, const char *key, const char *bucket, const char *mnt,
		     const char *dir, const char *metrics)
{
	char bin[PATH_MAX], opt[2 * PATH_MAX + CFG_ADDR_MAX + 48], rec[PATH_MAX];
	pid_t pid;
	int status;
	FILE *f;

	if (mkdir(mnt, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "objfsctl dev up: %s: %s\n", mnt, strerror(errno));
		return CTL_FAIL;
	}
	if (is_mounted(mnt)) {
		printf("bucket '%s' already mounted at %s\n", bucket, mnt);
		return CTL_OK;
	}
	find_program("objfs", "../fuse", bin, sizeof(bin));
	if (pathf(opt, sizeof(opt), "conf=%s,key=%s%s%s", conf, key,
		  metrics != NULL ? ",metrics=" : "", metrics != NULL ? metrics : "") != 0) {
		return CTL_FAIL;
	}
	pid = fork();
	if (pid < 0) {
		return CTL_FAIL;
	}
	if (pid == 0) {
		execlp(bin, "objfs", bucket, mnt, "-o", opt, (char *)NULL);
		fprintf(stderr, "objfsctl dev up: cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "objfsctl dev up: mounting '%s' at %s failed\n", bucket, mnt);
		return CTL_FAIL;
	}
	/* Remember the mount so that 'dev down' unmounts it first. */
	if (pathf(rec, sizeof(rec), "%s/mountpoint", dir) == 0 && (f = fopen(rec, "w")) != NULL) {
		fprintf(f, "%s\n", mnt);
		fclose(f);
	}
	printf("bucket '%s' mounted at %s\n", bucket, mnt);
	if (metrics != NULL) {
		printf("mount metrics: http://%s/metrics (objfsctl stats --mount %s)\n", metrics,
		       metrics);
	}
	return CTL_OK;
}

/* Unmounts what dev up mounted: fusermount3 -u, then a lazy unmount. */
static void dev_unmount(const char *dir)
{
	char rec[PATH_MAX], mnt[PATH_MAX] = "";
	FILE *f;

	if (pathf(rec, sizeof(rec), "%s/mountpoint", dir) != 0 || (f = fopen(rec, "r")) == NULL) {
		return;
	}
	if (fgets(mnt, sizeof(mnt), f) != NULL) {
		mnt[strcspn(mnt, "\n")] = '\0';
	}
	fclose(f);
	for (int attempt = 0; mnt[0] != '\0' && is_mounted(mnt) && attempt < 2; attempt++) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			if (attempt == 0) {
				execlp("fusermount3", "fusermount3", "-u", mnt, (char *)NULL);
			} else {
				execlp("umount", "umount", "-l", mnt, (char *)NULL);
			}
			_exit(127);
		}
		if (pid > 0) {
			waitpid(pid, &status, 0);
		}
	}
	/* The daemon commits what it buffered, then exits; give it time. */
	for (int i = 0; i < 100 && mnt[0] != '\0' && is_mounted(mnt); i++) {
		usleep(100000);
	}
	unlink(rec);
}

/* The two ports a node listens on, as objfs-node derives them
 * (repl_node_addr in nodes/repl.c): addr's port, and raft_port or else
 * addr's port + 1000, both on addr's host. */
struct node_ports {
	char host[CFG_ADDR_MAX];
	long port, raft;
};

static int node_ports(const struct cfg_node *n, struct node_ports *np)
{
	const char *a = n->addr + strlen("tcp://"); /* the config allows only tcp:// */
	const char *colon = strrchr(a, ':');
	size_t hl;

	if (colon == NULL) {
		return -EINVAL;
	}
	hl = (size_t)(colon - a);
	if (hl >= 2 && a[0] == '[' && a[hl - 1] == ']') {
		a++; /* [::1] */
		hl -= 2;
	}
	snprintf(np->host, sizeof(np->host), "%.*s", (int)hl, a);
	np->port = strtol(colon + 1, NULL, 10);
	np->raft = n->raft_port != 0 ? (long)n->raft_port : np->port + 1000;
	return np->port >= 1 && np->port <= 65535 && np->raft <= 65535 ? 0 : -ERANGE;
}

/* 0 if a listener could bind host:port now, -EADDRINUSE if something
 * holds it, or another negative errno.  SO_REUSEADDR as nng and libuv set
 * it: a port with connections in TIME_WAIT is free for the node too. */
static int port_free(const char *host, long port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *ai;
	char serv[16];
	int fd, one = 1, rc;

	snprintf(serv, sizeof(serv), "%ld", port);
	rc =
	    getaddrinfo(host[0] != '\0' && strcmp(host, "*") != 0 ? host : NULL, serv, &hints, &ai);
	if (rc != 0) {
		return rc == EAI_SYSTEM ? -errno : -EADDRNOTAVAIL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	rc = fd < 0 ? -errno : 0;
	if (rc == 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
			bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1) != 0)) {
		rc = -errno;
	}
	if (fd >= 0) {
		close(fd);
	}
	freeaddrinfo(ai);
	return rc;
}

/* Checks both ports of node n; on failure writes what is wrong to why. */
static int node_ports_free(const struct cfg_node *n, char *why, size_t whylen)
{
	struct node_ports np = {.port = 0};
	int rc = node_ports(n, &np);

	if (rc != 0) {
		snprintf(why, whylen, "node %u (%s): %s", n->id, n->addr,
			 rc == -ERANGE ? "its raft port would be above 65535" : "no port in addr");
		return rc;
	}
	for (int raft = 0; raft <= 1; raft++) {
		long port = raft ? np.raft : np.port;

		rc = port_free(np.host, port);
		if (rc != 0) {
			snprintf(why, whylen, "%s %ld of node %u on %s is %s%s",
				 raft ? "raft port" : "port", port, n->id,
				 np.host[0] ? np.host : "*",
				 rc == -EADDRINUSE ? "in use" : "not usable: ",
				 rc == -EADDRINUSE ? "" : obj_strerror(rc));
			return rc;
		}
	}
	if (n->metrics_addr[0] != '\0') {
		const char *colon = strrchr(n->metrics_addr, ':');
		char host[CFG_ADDR_MAX];

		snprintf(host, sizeof(host), "%.*s", (int)(colon - n->metrics_addr),
			 n->metrics_addr);
		rc = port_free(host, strtol(colon + 1, NULL, 10));
		if (rc != 0) {
			snprintf(why, whylen, "metrics_addr %s of node %u is %s%s", n->metrics_addr,
				 n->id, rc == -EADDRINUSE ? "in use" : "not usable: ",
				 rc == -EADDRINUSE ? "" : obj_strerror(rc));
			return rc;
		}
	}
	return 0;
}

/* Metrics ports of a new dev cluster: node i's is PORT+i-1+2000 beside
 * its node and raft ports (below the kernel's ephemeral range for the
 * usual ports, so a restarted node finds it free), else one the kernel
 * picks.  Sockets stay bound until all are chosen, so none repeats. */
#define DEV_METRICS_OFFSET 2000
static int free_metrics_ports(size_t n, long base, unsigned *out)
{
	int *fds = calloc(n, sizeof(*fds));
	int rc = fds == NULL ? -ENOMEM : 0;
	size_t i;

	for (i = 0; rc == 0 && i < n; i++) {
		struct sockaddr_in sa = {.sin_family = AF_INET};
		socklen_t len = sizeof(sa);
		long want = base + (long)i + DEV_METRICS_OFFSET;

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fds[i] < 0) {
			rc = -errno;
			break;
		}
		sa.sin_port = htons((uint16_t)(want <= 65535 ? want : 0));
		if (bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			sa.sin_port = 0;
			if (bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0) {
				rc = -errno;
				break;
			}
		}
		if (getsockname(fds[i], (struct sockaddr *)&sa, &len) != 0) {
			rc = -errno;
			break;
		}
		out[i] = ntohs(sa.sin_port);
	}
	for (size_t j = 0; fds != NULL && j < n && j <= i; j++) {
		if (fds[j] > 0) {
			close(fds[j]);
		}
	}
	free(fds);
	return rc;
}

/* The first block of n node ports from DEV_PORT on whose node and raft
 * ports are all free, or DEV_PORT if none is (up then names what holds it). */
static long free_port_block(size_t n)
{
	char why[CFG_ADDR_MAX + 64];

	for (long base = DEV_PORT, t = 0; t < DEV_PORT_TRIES && base + (long)n - 1 + 1000 <= 65535;
	     t++, base += (long)n) {
		int ok = 1;

		for (size_t i = 0; ok && i < n; i++) {
			struct cfg_node nd = {.id = (uint32_t)i + 1};

			snprintf(nd.addr, sizeof(nd.addr), "tcp://127.0.0.1:%ld", base + (long)i);
			ok = node_ports_free(&nd, why, sizeof(why)) == 0;
		}
		if (ok) {
			return base;
		}
	}
	return DEV_PORT;
}

static int spawn_node(const char *bin, const char *conf, const char *dir, uint32_t id)
{
	char log[PATH_MAX], pidf[PATH_MAX], idbuf[16];
	pid_t pid;
	FILE *f;

	pathf(log, sizeof(log), "%s/node%u.log", dir, id);
	pathf(pidf, sizeof(pidf), "%s/node%u.pid", dir, id);
	snprintf(idbuf, sizeof(idbuf), "%u", id);
	pid = fork();
	if (pid < 0) {
		return -errno;
	}
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		setsid(); /* survives the shell that ran objfsctl */
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		if (nul >= 0) {
			dup2(nul, STDIN_FILENO);
		}
		execlp(bin, "objfs-node", "-c", conf, "-i", idbuf, (char *)NULL);
		fprintf(stderr, "objfsctl dev: cannot run %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	f = fopen(pidf, "w");
	if (f == NULL) {
		return -errno;
	}
	fprintf(f, "%ld\n", (long)pid);
	fclose(f);
	return 0;
}

/* Pings every node until all answer or the timeout passes; returns how
 * many answered. */
static size_t wait_ready(const struct cfg *cfg, uint32_t timeout_ms)
{
	uint64_t until = clock_mono_ms() + timeout_ms;
	struct cl *cl;
	struct cl_req *reqs = calloc(cfg->n_nodes, sizeof(*reqs));
	size_t ok = 0;

	if (reqs == NULL || cl_open(cfg, &cl) != 0) {
		free(reqs);
		return 0;
	}
	while (clock_mono_ms() < until) {
		cl_wait_connected(cl, 200);
		for (size_t i = 0; i < cfg->n_nodes; i++) {
			memset(&reqs[i], 0, sizeof(reqs[i]));
			reqs[i].node = i;
			reqs[i].type = MSG_PING;
		}
		ok = (size_t)cl_run(cl, reqs, cfg->n_nodes, 1000);
		for (size_t i = 0; i < cfg->n_nodes; i++) {
			cl_req_release(&reqs[i]);
		}
		if (ok == cfg->n_nodes) {
			break;
		}
		usleep(100000);
	}
	cl_close(cl);
	free(reqs);
	return ok;
}

/* DIR/NAME.key: made (mode 0600) unless it exists; path gets its name. */
static int dev_key(struct ctl *c, const char *dir, const char *name, uint32_t caps,
		   const char *bucket, char path[PATH_MAX])
{
	FILE *f;
	int fd, rc;

	if (pathf(path, PATH_MAX, "%s/%s.key", dir, name) != 0) {
		return -ENAMETOOLONG;
	}
	if (access(path, R_OK) == 0) {
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	f = fd >= 0 ? fdopen(fd, "w") : NULL;
	rc = f != NULL ? ctl_key_new(c, name, caps, bucket, f) : -errno;
	if (f != NULL && fclose(f) != 0 && rc == 0) {
		rc = -errno;
	}
	if (rc != 0) {
		fprintf(stderr, "objfsctl dev up: cannot make key %s: %s\n", path,
			rc == -EEXIST ? "the catalog has a key of that name, the file is gone"
				      : obj_strerror(rc));
		unlink(path);
	}
	return rc;
}

/* A private CA and a certificate for each of n nodes on 127.0.0.1, in
 * tls_dir, with the openssl command (P-256 keys, ten years): the names
 * clients check are the host of each node's address. */
static int dev_tls_make(const char *tls_dir, size_t n)
{
	static const char script[] =
	    "set -e; umask 077; cd \"$1\"; n=$2\n"
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 "
	    "-subj /CN=objfs-dev-ca -keyout ca.key -out ca.crt 2>/dev/null\n"
	    "printf 'subjectAltName=DNS:127.0.0.1,IP:127.0.0.1,DNS:localhost\\n' > san.ext\n"
	    "i=1; while [ $i -le $n ]; do\n"
	    "  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "
	    "/CN=127.0.0.1 -keyout node$i.key -out node$i.csr 2>/dev/null\n"
	    "  openssl x509 -req -in node$i.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
	    "-days 3650 -extfile san.ext -out node$i.crt 2>/dev/null\n"
	    "  rm -f node$i.csr; i=$((i + 1))\n"
	    "done\n"
	    "chmod 644 ca.crt\n";
	char count[16];
	pid_t pid;
	int status;

	if (mkdir(tls_dir, 0700) != 0 && errno != EEXIST) {
		return -errno;
	}
	snprintf(count, sizeof(count), "%zu", n);
	pid = fork();
	if (pid < 0) {
		return -errno;
	}
	if (pid == 0) {
		execlp("sh", "sh", "-c", script, "sh", tls_dir, count, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		return -EIO;
	}
	return 0;
}

static int dev_up(struct ctl *c, const char *dir, long nodes, long port, int port_given,
		  const char *mnt, int metrics, int tls)
{
	unsigned mports[CFG_MAX_NODES];
	char conf[PATH_MAX], absdir[PATH_MAX], bin[PATH_MAX], tls_dir[PATH_MAX];
	char admin_key[PATH_MAX], demo_key[PATH_MAX];
	char running[CFG_MAX_NODES];
	int fresh = 0;
	size_t ready;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		fprintf(stderr, "objfsctl dev up: %s: %s\n", dir, strerror(errno));
		return CTL_FAIL;
	}
	if (realpath(dir, absdir) == NULL) {
		fprintf(stderr, "objfsctl dev up: %s: %s\n", dir, strerror(errno));
		return CTL_FAIL;
	}
	if (pathf(conf, sizeof(conf), "%s/objfs.conf", absdir) != 0) {
		fprintf(stderr, "objfsctl dev up: %s: path too long\n", absdir);
		return CTL_FAIL;
	}
	if (access(conf, F_OK) != 0) {
		int fd, rc;
		FILE *f;

		if (!port_given) {
			long free_port = free_port_block((size_t)nodes);

			if (free_port != port) {
				printf("ports %ld..%ld (or their raft ports) are in use; using "
				       "%ld..%ld\n",
				       port, port + nodes - 1, free_port, free_port + nodes - 1);
			}
			port = free_port;
		}
		if (metrics && (rc = free_metrics_ports((size_t)nodes, port, mports)) != 0) {
			fprintf(stderr, "objfsctl dev up: no free port for metrics: %s\n",
				obj_strerror(rc));
			return CTL_FAIL;
		}
		fd = open(conf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (tls) {
			pathf(tls_dir, sizeof(tls_dir), "%s/tls", absdir);
			rc = dev_tls_make(tls_dir, (size_t)nodes);
			if (rc != 0) {
				fprintf(stderr,
					"objfsctl dev up: cannot make TLS certificates in %s "
					"(is openssl installed?)\n",
					tls_dir);
				if (f != NULL) {
					fclose(f);
				}
				unlink(conf);
				return CTL_FAIL;
			}
		}
		rc = f != NULL ? dev_conf_write_full(f, (size_t)nodes, absdir, (unsigned)port,
						     metrics ? mports : NULL, tls ? tls_dir : NULL)
			       : -errno;
		if (f != NULL && fclose(f) != 0 && rc == 0) {
			rc = -errno;
		}
		if (rc != 0) {
			fprintf(stderr, "objfsctl dev up: cannot write %s: %s\n", conf,
				obj_strerror(rc));
			unlink(conf);
			return CTL_FAIL;
		}
		fresh = 1;
	}
	c->conf_path = conf;
	if (ctl_load(c) != CTL_OK) {
		return CTL_FAIL;
	}
	/* Every port first, so that a taken one starts nothing at all. */
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		const struct cfg_node *n = &c->cfg.nodes[i];
		char pidf[PATH_MAX], why[CFG_ADDR_MAX + 64];

		pathf(pidf, sizeof(pidf), "%s/node%u.pid", absdir, n->id);
		running[i] = (char)is_our_node(read_pid(pidf));
		if (!running[i] && node_ports_free(n, why, sizeof(why)) != 0) {
			fprintf(stderr, "objfsctl dev up: %s; nothing started (%s)\n", why,
				fresh ? "choose other ports with --port"
				      : "stop what holds it, or change the ports in the config");
			if (fresh) {
				unlink(conf); /* a retry with another --port writes a new one */
			}
			return CTL_FAIL;
		}
	}
	find_program("objfs-node", "../nodes", bin, sizeof(bin));
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		const struct cfg_node *n = &c->cfg.nodes[i];
		int rc;

		if (running[i]) {
			continue;
		}
		if (mkdir(n->data_dir, 0700) != 0 && errno != EEXIST) {
			fprintf(stderr, "objfsctl dev up: %s: %s\n", n->data_dir, strerror(errno));
			return CTL_FAIL;
		}
		if ((rc = spawn_node(bin, conf, absdir, n->id)) != 0) {
			fprintf(stderr, "objfsctl dev up: node %u: %s\n", n->id, obj_strerror(rc));
			return CTL_FAIL;
		}
	}
	ready = wait_ready(&c->cfg, DEV_START_TIMEOUT_MS);
	if (ready != c->cfg.n_nodes) {
		fprintf(stderr,
			"objfsctl dev up: only %zu of %zu nodes answered; see %s/node*.log\n",
			ready, c->cfg.n_nodes, absdir);
		return CTL_FAIL;
	}
	/* Keys: made with the cluster secret the first time, then the admin
	 * key does the rest; the mount gets the demo key. */
	if (dev_key(c, absdir, "admin", KEY_CAP_ADMIN, "", admin_key) != 0 ||
	    dev_key(c, absdir, DEV_BUCKET, KEY_CAP_RW, DEV_BUCKET, demo_key) != 0) {
		return CTL_FAIL;
	}
	{
		struct objc *oc;
		char err[512];
		int rc = cfg_use_key_file(&c->cfg, admin_key, err, sizeof(err));

		if (rc != 0) {
			fprintf(stderr, "objfsctl dev up: %s\n", err);
			return CTL_FAIL;
		}
		rc = objc_open(&c->cfg, &oc);

		if (rc == 0) {
			rc = bucket_create(oc, DEV_BUCKET);
			objc_close(oc);
		}
		if (rc != 0 && rc != -EEXIST) {
			fprintf(stderr, "objfsctl dev up: cannot create bucket '%s': %s\n",
				DEV_BUCKET, obj_strerror(rc));
			return CTL_FAIL;
		}
	}
	printf("objfs dev cluster up: %zu nodes, bucket '%s', config %s\n", ready, DEV_BUCKET,
	       conf);
	printf("use it with: export OBJFS_CONF=%s OBJFS_KEY=%s\n", conf, admin_key);
	printf("keys: %s (admin), %s (rw on '%s')\n", admin_key, demo_key, DEV_BUCKET);
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		const struct cfg_node *n = &c->cfg.nodes[i];

		if (n->metrics_addr[0] != '\0') {
			printf("node %u metrics: http://%s/metrics\n", n->id, n->metrics_addr);
		}
	}
	if (mnt != NULL) {
		char absmnt[PATH_MAX];

		if (mkdir(mnt, 0755) != 0 && errno != EEXIST) {
			fprintf(stderr, "objfsctl dev up: %s: %s\n", mnt, strerror(errno));
			return CTL_FAIL;
		}
		if (realpath(mnt, absmnt) == NULL) {
			fprintf(stderr, "objfsctl dev up: %s: %s\n", mnt, strerror(errno));
			return CTL_FAIL;
		}
		/* With node metrics, the mount serves them too: on the port after
		 * the last node's, or one the kernel picks. */
		{
			const struct cfg_node *last = &c->cfg.nodes[c->cfg.n_nodes - 1];
			const char *colon = strrchr(last->metrics_addr, ':');
			char maddr[CFG_ADDR_MAX];
			unsigned mp;

			if (colon != NULL &&
			    free_metrics_ports(1,
					       strtol(colon + 1, NULL, 10) + 1 - DEV_METRICS_OFFSET,
					       &mp) == 0) {
				snprintf(maddr, sizeof(maddr), "127.0.0.1:%u", mp);
				return dev_mount(conf, demo_key, DEV_BUCKET, absmnt, absdir, maddr);
			}
		}
		return dev_mount(conf, demo_key, DEV_BUCKET, absmnt, absdir, NULL);
	}
	return CTL_OK;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int dev_down(const char *dir, int purge)
{
	char conf[PATH_MAX];
	struct cfg *cfg = calloc(1, sizeof(*cfg));
	char err[512];
	int rc = CTL_OK;

	if (cfg == NULL) {
		return CTL_FAIL;
	}
	if (pathf(conf, sizeof(conf), "%s/objfs.conf", dir) != 0) {
		fprintf(stderr, "objfsctl dev down: %s: path too long\n", dir);
		free(cfg);
		return CTL_FAIL;
	}
	if (cfg_load_file(conf, cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "objfsctl dev down: %s\n", err);
		free(cfg);
		return CTL_FAIL;
	}
	/* The mount first: its daemon commits buffered data to the nodes. */
	dev_unmount(dir);
	/* Signal all first, then wait: nodes stop in parallel. */
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		char pidf[PATH_MAX];
		long pid;

		pathf(pidf, sizeof(pidf), "%s/node%u.pid", dir, cfg->nodes[i].id);
		pid = read_pid(pidf);
		if (is_our_node(pid)) {
			kill((pid_t)pid, SIGTERM);
		}
	}
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		char pidf[PATH_MAX];
		long pid;
		uint64_t until = clock_mono_ms() + DEV_STOP_TIMEOUT_MS;

		pathf(pidf, sizeof(pidf), "%s/node%u.pid", dir, cfg->nodes[i].id);
		pid = read_pid(pidf);
		while (is_our_node(pid) && clock_mono_ms() < until) {
			waitpid((pid_t)pid, NULL, WNOHANG); /* reaps if it is our child */
			usleep(20000);
		}
		if (is_our_node(pid)) {
			fprintf(stderr,
				"objfsctl dev down: node %u (pid %ld) ignored SIGTERM; killing\n",
				cfg->nodes[i].id, pid);
			kill((pid_t)pid, SIGKILL);
			rc = CTL_FAIL;
		}
		unlink(pidf);
	}
	free(cfg);
	if (purge && nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
		fprintf(stderr, "objfsctl dev down: cannot remove %s: %s\n", dir, strerror(errno));
		return CTL_FAIL;
	}
	printf("objfs dev cluster down%s\n", purge ? " and purged" : "");
	return rc;
}

int ctl_cmd_dev(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"nodes", required_argument, NULL, 'n'},
	    {"dir", required_argument, NULL, 'd'},
	    {"port", required_argument, NULL, 'p'},
	    {"purge", no_argument, NULL, 'P'},
	    {"mount", required_argument, NULL, 'm'},
	    {"no-mount", no_argument, NULL, 'M'},
	    {"no-metrics", no_argument, NULL, 'X'},
	    {"tls", no_argument, NULL, 'T'},
	    {NULL, 0, NULL, 0},
	};
	const char *dir = DEV_DIR, *action, *mnt = DEV_MOUNT;
	long nodes = 6, port = DEV_PORT;
	int purge = 0, port_given = 0, metrics = 1, tls = 0, o;

	if (ctl_is_help(argc, argv)) {
		dev_usage(stdout);
		return CTL_OK;
	}
	while ((o = getopt_long(argc, argv, "n:d:p:m:", opts, NULL)) != -1) {
		char *end;

		switch (o) {
		case 'n':
			nodes = strtol(optarg, &end, 10);
			if (*end != '\0' || nodes < 1 || nodes > CFG_MAX_NODES) {
				fprintf(stderr, "objfsctl dev: --nodes must be 1..%d\n",
					CFG_MAX_NODES);
				return CTL_USAGE;
			}
			break;
		case 'd':
			dir = optarg;
			break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end != '\0' || port < 1 || port > 65535 - CFG_MAX_NODES) {
				fprintf(stderr, "objfsctl dev: --port must be 1..%d\n",
					65535 - CFG_MAX_NODES);
				return CTL_USAGE;
			}
			port_given = 1;
			break;
		case 'P':
			purge = 1;
			break;
		case 'm':
			mnt = optarg;
			break;
		case 'M':
			mnt = NULL;
			break;
		case 'X':
			metrics = 0;
			break;
		case 'T':
			tls = 1;
			break;
		default:
			dev_usage(stderr);
			return CTL_USAGE;
		}
	}
	if (argc - optind != 1) {
		dev_usage(stderr);
		return CTL_USAGE;
	}
	action = argv[optind];
	if (strcmp(action, "up") == 0 && !purge) {
		return dev_up(c, dir, nodes, port, port_given, mnt, metrics, tls);
	}
	if (strcmp(action, "down") == 0) {
		return dev_down(dir, purge);
	}
	dev_usage(stderr);
	return CTL_USAGE;
}
