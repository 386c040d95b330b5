/* ctl.h: shared pieces of objfsctl's subcommands.
 * Each subcommand is a function taking its own argv (argv[0] is the
 * subcommand's name) and returning the process exit code: 0 ok, 1 failed,
 * 2 bad usage.  Subcommands print their own --help. */
#ifndef OBJFS_CTL_H
#define OBJFS_CTL_H

#include "../common/config.h"
#include "../common/object.h"

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

struct ctl {
	const char *conf_path; /* -c, $OBJFS_CONF, ./.objfs-dev/objfs.conf or /etc */
	struct cfg cfg;
	int cfg_loaded;
};

/* Loads the config once; prints the error and returns CTL_FAIL if bad. */
int ctl_load(struct ctl *c);
/* Connects to the cluster; prints the error on failure. */
int ctl_connect(struct ctl *c, struct objc **oc);

/* getopt_long over a subcommand's argv, with -h/--help handled by
 * printing help to stdout (returns 'h'). */
int ctl_is_help(int argc, char **argv);

/* Formats a byte count as "12.3 GiB". */
const char *ctl_human(uint64_t bytes, char *buf, size_t len);

int ctl_cmd_status(struct ctl *c, int argc, char **argv);
int ctl_cmd_put(struct ctl *c, int argc, char **argv);
int ctl_cmd_get(struct ctl *c, int argc, char **argv);
int ctl_cmd_rm(struct ctl *c, int argc, char **argv);
int ctl_cmd_ls(struct ctl *c, int argc, char **argv);
int ctl_cmd_bucket(struct ctl *c, int argc, char **argv);
int ctl_cmd_node(struct ctl *c, int argc, char **argv);
int ctl_cmd_repair(struct ctl *c, int argc, char **argv);
int ctl_cmd_dev(struct ctl *c, int argc, char **argv);
int ctl_cmd_bench(struct ctl *c, int argc, char **argv);

#endif
