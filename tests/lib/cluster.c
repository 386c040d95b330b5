/* cluster.c: dev clusters for unit tests (see cluster.h). */
#include "cluster.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

/* Bounds every objfsctl call: a hung cluster fails the test, not the suite. */
#define CTL_TIMEOUT_S 60

static int run_ctl(const struct tl_cluster *c, const char *args)
{
	char cmd[PATH_MAX * 3 + 256];

	snprintf(cmd, sizeof(cmd), "timeout -k 5 %d '%s' %s >>'%s/ctl.log' 2>&1", CTL_TIMEOUT_S,
		 c->ctl, args, c->dir);
	return system(cmd) == 0 ? 0 : -1;
}

int tl_cluster_up(struct tl_cluster *c, int n)
{
	char args[PATH_MAX + 128], err[512];

	memset(c, 0, sizeof(*c));
	c->nodes = n;
	tl_build_path(c->ctl, sizeof(c->ctl), "ctl/objfsctl");
	tl_mkdtemp(c->dir, sizeof(c->dir), "objfs-cluster");
	snprintf(c->conf, sizeof(c->conf), "%s/cluster/objfs.conf", c->dir);
	srand((unsigned)(getpid() ^ time(NULL)));
	for (int try = 0; try < 5; try++) {
		/* Node ports P..P+n-1 and Raft ports P+1000..: below the
		 * ephemeral range, as in tests/integ/lib.sh. */
		unsigned port = 20000 + (unsigned)(rand() % 1100) * 10;

		snprintf(args, sizeof(args),
			 "dev up --no-mount --nodes %d --dir '%s/cluster' --port %u", n, c->dir,
			 port);
		if (run_ctl(c, args) == 0) {
			if (cfg_load_file(c->conf, &c->cfg, err, sizeof(err)) != 0) {
				fprintf(stderr, "%s\n", err);
				tl_cluster_down(c);
				return -1;
			}
			return 0;
		}
		snprintf(args, sizeof(args), "dev down --purge --dir '%s/cluster'", c->dir);
		run_ctl(c, args);
	}
	fprintf(stderr, "dev cluster did not start; see %s/ctl.log\n", c->dir);
	return -1;
}

void tl_cluster_down(struct tl_cluster *c)
{
	char args[PATH_MAX + 64];

	if (c->dir[0] == '\0') {
		return;
	}
	snprintf(args, sizeof(args), "dev down --dir '%s/cluster'", c->dir);
	run_ctl(c, args);
	tl_rmtree(c->dir);
	c->dir[0] = '\0';
}

pid_t tl_node_pid(const struct tl_cluster *c, unsigned id)
{
	char path[PATH_MAX + 64];
	long pid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cluster/node%u.pid", c->dir, id);
	f = fopen(path, "r");
	if (f == NULL) {
		return 0;
	}
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 0 || kill((pid_t)pid, 0) != 0) {
		pid = 0;
	}
	fclose(f);
	return (pid_t)pid;
}

int tl_node_kill(struct tl_cluster *c, unsigned id)
{
	pid_t pid = tl_node_pid(c, id);

	if (pid <= 0 || kill(pid, SIGKILL) != 0) {
		return -1;
	}
	/* dev up's children are not ours to reap: poll until it is gone. */
	for (int i = 0; i < 400; i++) {
		if (kill(pid, 0) != 0 && errno == ESRCH) {
			return 0;
		}
		usleep(10000);
	}
	return -1;
}

int tl_cluster_restart(struct tl_cluster *c)
{
	char args[PATH_MAX + 64];

	snprintf(args, sizeof(args), "dev up --no-mount --dir '%s/cluster'", c->dir);
	return run_ctl(c, args);
}
