/* cluster.h: a real dev cluster for unit tests of the client libraries:
 * `objfsctl dev up --no-mount` in a private temp dir on a free block of
 * loopback ports, its config loaded, nodes killed and restarted by the pid
 * files dev up writes, and `dev down` plus removal at the end.  Runs no nng
 * code itself, so it may run in Check's runner before tests fork. */
#ifndef OBJFS_TESTS_CLUSTER_H
#define OBJFS_TESTS_CLUSTER_H

#include <limits.h>
#include <sys/types.h>

#include "../../common/config.h"

struct tl_cluster {
	char dir[PATH_MAX]; /* temp root; the cluster lives in dir/cluster */
	char conf[PATH_MAX + 32];
	char ctl[PATH_MAX + 32]; /* the objfsctl under test */
	int nodes;
	struct cfg cfg; /* the cluster's config as clients read it */
};

/* Starts n nodes (bucket "demo" is created by dev up).  Returns 0, or -1
 * with the reason printed. */
int tl_cluster_up(struct tl_cluster *c, int n);
/* Stops every node it started and removes the temp root. */
void tl_cluster_down(struct tl_cluster *c);
/* The pid of node id (0 when it is not running). */
pid_t tl_node_pid(const struct tl_cluster *c, unsigned id);
/* SIGKILLs node id by its pid and waits until it is gone; 0 or -1. */
int tl_node_kill(struct tl_cluster *c, unsigned id);
/* Starts again every node that is not running (dev up); 0 or -1. */
int tl_cluster_restart(struct tl_cluster *c);

#endif
