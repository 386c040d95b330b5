/* ctl_snap.c: `objfsctl snapshot create|ls|rm` -- read-only, consistent
 * copies of a bucket or a directory tree under BUCKET/.snapshots/NAME,
 * made by the bucket's shard in one record (MOP_SNAPSHOT).  Prints;
 * never keeps state. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/err.h"
#include "../common/meta_client.h"
#include "ctl.h"

static void snap_usage(FILE *f)
{
	fprintf(f, "Usage: objfsctl snapshot create BUCKET[/DIR] NAME\n"
		   "       objfsctl snapshot ls BUCKET [--json]\n"
		   "       objfsctl snapshot rm BUCKET NAME\n"
		   "Make a read-only copy of BUCKET (or of its directory DIR) as\n"
		   "BUCKET/.snapshots/NAME: consistent (one record of the shard), instant for\n"
		   "the data (blocks are shared, only metadata is copied), visible on every\n"
		   "mount.  Blocks a snapshot still uses are never collected.  ls lists them\n"
		   "with the time each was taken; rm drops one and frees what only it used.\n"
		   "  --json  ls prints an array of {\"name\", \"created_ns\", \"ino\"}\n");
}

struct snap_ls {
	int json, n;
	char last[META_NAME_MAX + 1]; /* the next page starts after it */
};

static int print_snap(void *arg, const char *name, const struct meta_attr *a)
{
	struct snap_ls *ls = arg;
	char when[64];
	time_t t = (time_t)(a->ctime_ns / 1000000000);
	struct tm tm;

	if (ls->json) {
		printf("%s{\"name\":", ls->n ? "," : "");
		ctl_json_str(name);
		printf(",\"created_ns\":%lld,\"ino\":%llu}", (long long)a->ctime_ns,
		       (unsigned long long)a->ino);
	} else {
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&t, &tm));
		printf("%-20s %s\n", when, name);
	}
	ls->n++;
	snprintf(ls->last, sizeof(ls->last), "%s", name);
	return 0;
}

static int snap_list(struct mc *mc, int json)
{
	struct snap_ls ls = {.json = json};
	char after[META_NAME_MAX + 1] = "";
	struct meta_attr a;
	int more = 0, rc = mc_resolve(mc, META_SNAP_DIR, &a);

	if (json) {
		putchar('[');
	} else {
		printf("%-20s %s\n", "CREATED", "NAME");
	}
	if (rc == -ENOENT) {
		rc = 0; /* no snapshot yet */
	} else {
		while (rc == 0) {
			/* the count of a page, or an error */
			rc = mc_readdir(mc, a.ino, after, 1000, print_snap, &ls, &more);
			rc = rc < 0 ? rc : 0;
			if (!more) {
				break;
			}
			memcpy(after, ls.last, sizeof(after));
		}
	}
	if (json) {
		printf("]\n");
	}
	return rc;
}

int ctl_cmd_snapshot(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	char bucket[MSG_NAME_MAX];
	const char *sub, *path;
	struct meta_attr a;
	struct objc *oc;
	struct mc *mc;
	uint64_t ino = 0;
	int json = 0, o, n, rc;

	if (ctl_is_help(argc, argv)) {
		snap_usage(stdout);
		return CTL_OK;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o != 'j') {
			snap_usage(stderr);
			return CTL_USAGE;
		}
		json = 1;
	}
	n = argc - optind;
	sub = n > 0 ? argv[optind] : "";
	if (!((strcmp(sub, "create") == 0 && n == 3) || (strcmp(sub, "ls") == 0 && n == 2) ||
	      (strcmp(sub, "rm") == 0 && n == 3))) {
		snap_usage(stderr);
		return CTL_USAGE;
	}
	if (ctl_split_target(argv[optind + 1], bucket, sizeof(bucket), &path) != 0 ||
	    (strcmp(sub, "create") != 0 && *path != '\0')) {
		fprintf(stderr, "objfsctl snapshot %s: bad target '%s'\n", sub, argv[optind + 1]);
		return CTL_USAGE;
	}
	if (n == 3 && meta_check_name(argv[optind + 2]) != 0) {
		fprintf(stderr, "objfsctl snapshot %s: bad snapshot name '%s'\n", sub,
			argv[optind + 2]);
		return CTL_USAGE;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	rc = mc_open(objc_cl(oc), bucket, &mc);
	if (rc != 0) {
		fprintf(stderr, "objfsctl snapshot: %s: %s\n", bucket, obj_strerror(rc));
		objc_close(oc);
		return CTL_FAIL;
	}
	if (strcmp(sub, "create") == 0) {
		rc = ctl_dir_ino(mc, path, &ino);
		if (rc == 0) {
			rc = mc_snapshot(mc, ino, argv[optind + 2], &a);
		}
		if (rc == 0) {
			printf("snapshot '%s' of %s/%s at %s/%s/%s\n", argv[optind + 2], bucket,
			       path, bucket, META_SNAP_DIR, argv[optind + 2]);
		}
	} else if (strcmp(sub, "rm") == 0) {
		rc = mc_snapshot_rm(mc, argv[optind + 2]);
	} else {
		rc = snap_list(mc, json);
	}
	if (rc != 0) {
		fprintf(stderr, "objfsctl snapshot %s: %s: %s\n", sub, argv[optind + 1],
			rc == -EEXIST ? "a snapshot of that name exists" : obj_strerror(rc));
	}
	mc_close(mc);
	objc_close(oc);
	return rc == 0 ? CTL_OK : CTL_FAIL;
}
