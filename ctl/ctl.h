/* ctl.h: shared pieces of objfsctl's subcommands.
 * Each subcommand is a function taking its own argv (argv[0] is the
 * subcommand's name) and returning the process exit code: 0 ok, 1 failed,
 * 2 bad usage.  Subcommands print their own --help.  main resets getopt
 * (optind = 0) before calling one, and subcommands parse with optstrings
 * that do not start with '+': glibc then permutes, so options may follow
 * operands (`bucket rm NAME --force`), unless POSIXLY_CORRECT is set. */
#ifndef OBJFS_CTL_H
#define OBJFS_CTL_H

#include "../common/config.h"
#include "../common/object.h"

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

struct ctl {
	const char *conf_path; /* -c, $OBJFS_CONF, ./.objfs-dev/objfs.conf or /etc */
	const char *key_path;  /* -k, $OBJFS_KEY; NULL: the config's secret */
	struct cfg cfg;
	int cfg_loaded;
};

/* Loads the config once; prints the error and returns CTL_FAIL if bad. */
int ctl_load(struct ctl *c);
/* Connects to the cluster; prints the error on failure. */
int ctl_connect(struct ctl *c, struct objc **oc);

/* True if -h or --help is among a subcommand's arguments (before "--"):
 * the subcommand then prints its help to stdout and exits 0. */
int ctl_is_help(int argc, char **argv);

/* For a subcommand without options: lets getopt_long move any operand
 * behind the (absent) options and refuse an option-looking argument, as
 * GNU tools do ("--" lets an operand start with '-').  Returns the index
 * of the first operand, or -1 after getopt printed the bad option. */
int ctl_operands(int argc, char **argv);

/* The same for a subcommand whose one option is --json (sets *json). */
int ctl_json_operands(int argc, char **argv, int *json);

/* Formats a byte count as "12.3 GiB". */
const char *ctl_human(uint64_t bytes, char *buf, size_t len);

struct mc;
/* Splits "bucket/dir/sub" into the bucket (checked) and the directory
 * path after it ("" for the bucket's root).  0 or -EINVAL. */
int ctl_split_target(const char *arg, char *bucket, size_t cap, const char **path);
/* The inode of directory path of mc's bucket ("" is the root): 0, or
 * mc_resolve's error, -ENOTDIR. */
int ctl_dir_ino(struct mc *mc, const char *path, uint64_t *ino);
/* Prints s as a JSON string, quoted and escaped. */
void ctl_json_str(const char *s);

int ctl_cmd_status(struct ctl *c, int argc, char **argv);
int ctl_cmd_put(struct ctl *c, int argc, char **argv);
int ctl_cmd_get(struct ctl *c, int argc, char **argv);
int ctl_cmd_rm(struct ctl *c, int argc, char **argv);
int ctl_cmd_ls(struct ctl *c, int argc, char **argv);
int ctl_cmd_bucket(struct ctl *c, int argc, char **argv);
/* objfsctl bucket info (ctl_compress.c): prints the codec and block
 * statistics of bucket; 0 or the query's error (printed by the caller). */
int ctl_bucket_info(struct objc *oc, const char *bucket, int json);
int ctl_cmd_node(struct ctl *c, int argc, char **argv);
int ctl_cmd_repair(struct ctl *c, int argc, char **argv);
int ctl_cmd_scrub(struct ctl *c, int argc, char **argv);
int ctl_cmd_fsck(struct ctl *c, int argc, char **argv);
int ctl_cmd_gc(struct ctl *c, int argc, char **argv);
int ctl_cmd_durability(struct ctl *c, int argc, char **argv);
int ctl_cmd_dev(struct ctl *c, int argc, char **argv);
int ctl_cmd_bench(struct ctl *c, int argc, char **argv);
int ctl_cmd_plan(struct ctl *c, int argc, char **argv);
int ctl_cmd_quota(struct ctl *c, int argc, char **argv);
int ctl_cmd_snapshot(struct ctl *c, int argc, char **argv);
int ctl_cmd_trash(struct ctl *c, int argc, char **argv);
int ctl_cmd_stats(struct ctl *c, int argc, char **argv);
int ctl_cmd_key(struct ctl *c, int argc, char **argv);
int ctl_cmd_class(struct ctl *c, int argc, char **argv);
int ctl_cmd_warmup(struct ctl *c, int argc, char **argv);
/* Creates key name in the catalog (caps and bucket as keys.h checks
 * them), waits until every reachable node knows it, and writes its key
 * file to out.  0, -EEXIST, or the failure (printed by the caller). */
int ctl_key_new(struct ctl *c, const char *name, uint32_t caps, const char *bucket, FILE *out);

#endif
