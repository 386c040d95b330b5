/* objfsctl.c: the admin CLI's entry point: global options, config
 * discovery and dispatch to the subcommands in ctl_*.c. */
#include "objfs_build.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/err.h"
#include "../common/keyfile.h"
#include "../common/log.h"
#include "ctl.h"

#ifndef OBJFS_SYSCONFDIR
#define OBJFS_SYSCONFDIR "/etc"
#endif
#define DEV_CONF ".objfs-dev/objfs.conf"

struct cmd {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
	const char *summary;
};

static const struct cmd cmds[] = {
    {"status", ctl_cmd_status, "show every node: up/down, address, zone, disk, fragments"},
    {"bucket", ctl_cmd_bucket, "create, list, inspect or remove buckets; set their compression"},
    {"put", ctl_cmd_put, "store a file (or stdin) as BUCKET/KEY"},
    {"get", ctl_cmd_get, "write BUCKET/KEY to a file (or stdout)"},
    {"rm", ctl_cmd_rm, "remove BUCKET/KEY"},
    {"ls", ctl_cmd_ls, "list the objects of BUCKET, optionally under PREFIX"},
    {"repair", ctl_cmd_repair, "rebuild missing or damaged fragments of a bucket's files"},
    {"scrub", ctl_cmd_scrub, "read every fragment now and check it; 'scrub status': last passes"},
    {"fsck", ctl_cmd_fsck, "check every block's redundancy (degraded, lost); --repair"},
    {"gc", ctl_cmd_gc, "delete stray fragments no block references (after a grace period)"},
    {"durability", ctl_cmd_durability, "estimate annual durability from k+m, zones, AFR, MTTR"},
    {"quota", ctl_cmd_quota, "limit bytes and inodes of a bucket or directory tree"},
    {"snapshot", ctl_cmd_snapshot, "make, list or remove read-only copies of a tree"},
    {"trash", ctl_cmd_trash, "keep deleted files for a while; list, restore, empty"},
    {"node", ctl_cmd_node, "drain a node (out: replicas and fragments) or rebalance onto it (in)"},
    {"dev", ctl_cmd_dev, "start (up) or stop (down) a local cluster on loopback"},
    {"bench", ctl_cmd_bench, "measure put/get throughput and latency; compare with a baseline"},
    {"plan", ctl_cmd_plan, "capacity planning: growth of files, bytes and requests, nodes needed"},
    {"stats", ctl_cmd_stats, "live ops/s, MB/s, latency and errors from the nodes' metrics"},
    {"key", ctl_cmd_key, "create, list or revoke client keys"},
    {"class", ctl_cmd_class, "storage classes: list, name one for a tree, move files into it"},
    {"warmup", ctl_cmd_warmup, "fill a mount's disk cache with files or directories"},
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: objfsctl [-c FILE] [-k FILE] [-v] COMMAND [ARGS...]\n"
		   "Administer an objfs cluster.\n\n"
		   "Options:\n"
		   "  -c, --config FILE  cluster config (default: $OBJFS_CONF, else ./" DEV_CONF
		   " if present,\n"
		   "                     else " OBJFS_SYSCONFDIR "/objfs/objfs.conf)\n"
		   "  -k, --key FILE     client key file (objfsctl key create; default:\n"
		   "                     $OBJFS_KEY, else the config's cluster secret)\n"
		   "  -v, --verbose      log debug messages to stderr\n"
		   "  -h, --help         show this help\n"
		   "  -V, --version      show the version\n\nCommands:\n");
	for (size_t i = 0; i < OBJ_ARRAY_LEN(cmds); i++) {
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	}
	fprintf(f, "\nRun 'objfsctl COMMAND --help' for a command's options.  They may also\n"
		   "follow its operands (bucket rm NAME --force); '--' ends them.\n"
		   "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int ctl_load(struct ctl *c)
{
	char err[512];
	int rc;

	if (c->cfg_loaded) {
		return CTL_OK;
	}
	if (c->conf_path == NULL) {
		c->conf_path = getenv("OBJFS_CONF");
	}
	if (c->conf_path == NULL) {
		c->conf_path =
		    access(DEV_CONF, R_OK) == 0 ? DEV_CONF : OBJFS_SYSCONFDIR "/objfs/objfs.conf";
	}
	rc = cfg_load_file(c->conf_path, &c->cfg, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "objfsctl: %s\n", err);
		if (rc == -ENOENT) {
			fprintf(stderr, "objfsctl: start a local cluster with 'objfsctl dev up', "
					"or name a config with -c FILE\n");
		}
		return CTL_FAIL;
	}
	if (c->key_path == NULL) {
		c->key_path = getenv("OBJFS_KEY");
	}
	if (c->key_path != NULL && c->key_path[0] != '\0' &&
	    cfg_use_key_file(&c->cfg, c->key_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "objfsctl: %s\n", err);
		return CTL_FAIL;
	}
	c->cfg_loaded = 1;
	return CTL_OK;
}

int ctl_connect(struct ctl *c, struct objc **oc)
{
	int rc;

	if (ctl_load(c) != CTL_OK) {
		return CTL_FAIL;
	}
	if ((rc = objc_open(&c->cfg, oc)) != 0) {
		fprintf(stderr, "objfsctl: cannot connect to the cluster: %s\n", obj_strerror(rc));
		return CTL_FAIL;
	}
	return CTL_OK;
}

int ctl_is_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			break;
		}
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			return 1;
		}
	}
	return 0;
}

int ctl_operands(int argc, char **argv)
{
	static const struct option none[] = {{NULL, 0, NULL, 0}};

	if (getopt_long(argc, argv, "", none, NULL) != -1) {
		return -1; /* every option is unknown; getopt said which */
	}
	return optind;
}

int ctl_json_operands(int argc, char **argv, int *json)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'J'},
	    {NULL, 0, NULL, 0},
	};
	int o;

	*json = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'J') {
			return -1;
		}
		*json = 1;
	}
	return optind;
}

const char *ctl_human(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)bytes;
	size_t u = 0;

	while (v >= 1024 && u + 1 < OBJ_ARRAY_LEN(units)) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
	return buf;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'}, {"key", required_argument, NULL, 'k'},
	    {"verbose", no_argument, NULL, 'v'},      {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	static struct ctl c;
	int o;

	log_set_ident("objfsctl");
	log_set_level(LOG_LVL_WARN);
	/* '+' stops at the first non-option: the subcommand owns the rest. */
	while ((o = getopt_long(argc, argv, "+c:k:vhV", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			c.conf_path = optarg;
			break;
		case 'k':
			c.key_path = optarg;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return CTL_OK;
		case 'V':
			printf("objfsctl %s\n", PACKAGE_VERSION);
			return CTL_OK;
		default:
			usage(stderr);
			return CTL_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	for (size_t i = 0; i < OBJ_ARRAY_LEN(cmds); i++) {
		if (strcmp(argv[optind], cmds[i].name) == 0) {
			static char name[32];
			int sub = optind;

			/* getopt names argv[0] in its messages: "objfsctl bucket: ..." */
			snprintf(name, sizeof(name), "objfsctl %s", cmds[i].name);
			argv[sub] = name;
			optind = 0; /* glibc: re-initialise, ordering included (permute) */
			return cmds[i].fn(&c, argc - sub, argv + sub);
		}
	}
	fprintf(stderr, "objfsctl: unknown command '%s'\n", argv[optind]);
	usage(stderr);
	return CTL_USAGE;
}
