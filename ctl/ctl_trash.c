/* ctl_trash.c: `objfsctl trash set|ls|restore|empty` -- the bucket's trash
 * of deleted files and directories (MOP_TRASH_*, META_TRASH).  Prints;
 * never keeps state. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/err.h"
#include "../common/meta_client.h"
#include "ctl.h"

#define TRASH_PAGE 64

static void trash_usage(FILE *f)
{
	fprintf(f, "Usage: objfsctl trash set BUCKET SECONDS|off\n"
		   "       objfsctl trash ls BUCKET [--json]\n"
		   "       objfsctl trash restore BUCKET INO... | --all\n"
		   "       objfsctl trash empty BUCKET [--older-than SECONDS]\n"
		   "With a trash time set, files and directories removed from BUCKET go to its\n"
		   "read-only BUCKET/.trash for that long instead of being deleted; their\n"
		   "space is reclaimed when the trash expires or is emptied.  off (the\n"
		   "default) deletes at once.  ls shows each entry's inode, where it was and\n"
		   "when it was deleted; restore puts entries back where they were (a\n"
		   "directory before what was in it: --all goes newest first).\n"
		   "  --json  ls prints {\"keep_seconds\", \"entries\": [{\"ino\", \"path\",\n"
		   "          \"type\", \"size\", \"deleted_ns\"}]}\n");
}

/* Every entry, page by page (fn may stop with a nonzero return). */
static int each_entry(struct mc *mc, int64_t *keep,
		      int (*fn)(void *arg, const struct meta_trash *t), void *arg)
{
	struct meta_trash *v = calloc(TRASH_PAGE, sizeof(*v));
	uint64_t after = 0;
	int more = 0, n, rc = 0;

	if (v == NULL) {
		return -ENOMEM;
	}
	do {
		n = mc_trash(mc, after, v, TRASH_PAGE, keep, &more);
		for (int i = 0; i < n && rc == 0; i++) {
			rc = fn(arg, &v[i]);
			after = v[i].ino;
		}
	} while (n > 0 && more && rc == 0);
	free(v);
	return n < 0 ? n : rc;
}

struct ls_state {
	int json, n;
};

static void entry_path(const struct meta_trash *t, char *out, size_t cap)
{
	if (t->parent_path[0] == '\0') {
		snprintf(out, cap, "(directory %llu, gone)/%s", (unsigned long long)t->parent,
			 t->name);
	} else {
		snprintf(out, cap, "%s%s%s", t->parent_path,
			 strcmp(t->parent_path, "/") == 0 ? "" : "/", t->name);
	}
}

static int print_entry(void *arg, const struct meta_trash *t)
{
	struct ls_state *ls = arg;
	char path[2 * WIRE_STR_MAX], when[64], size[32];
	time_t sec = (time_t)(t->deleted_ns / 1000000000);
	const char *type = S_ISDIR(t->mode) ? "dir" : S_ISLNK(t->mode) ? "symlink" : "file";
	struct tm tm;

	entry_path(t, path, sizeof(path));
	if (ls->json) {
		printf("%s{\"ino\":%llu,\"path\":", ls->n ? "," : "", (unsigned long long)t->ino);
		ctl_json_str(path);
		printf(",\"type\":\"%s\",\"size\":%llu,\"deleted_ns\":%lld}", type,
		       (unsigned long long)t->size, (long long)t->deleted_ns);
	} else {
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime_r(&sec, &tm));
		printf("%-20llu %-20s %-7s %10s  %s\n", (unsigned long long)t->ino, when, type,
		       ctl_human(t->size, size, sizeof(size)), path);
	}
	ls->n++;
	return 0;
}

/* --all: every entry, newest deletion first (rm -r removes a directory
 * after its content, so its restore comes before theirs). */
struct all_state {
	struct meta_trash *v;
	size_t n, cap;
};

static int collect(void *arg, const struct meta_trash *t)
{
	struct all_state *a = arg;

	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct meta_trash *nv = realloc(a->v, cap * sizeof(*nv));

		if (nv == NULL) {
			return -ENOMEM;
		}
		a->v = nv;
		a->cap = cap;
	}
	a->v[a->n++] = *t;
	return 0;
}

static int newest_first(const void *x, const void *y)
{
	const struct meta_trash *a = x, *b = y;

	return (a->deleted_ns < b->deleted_ns) - (a->deleted_ns > b->deleted_ns);
}

static int restore_one(struct mc *mc, uint64_t ino)
{
	int rc = mc_trash_op(mc, MOP_TRASH_RESTORE, ino, 0, NULL);

	if (rc != 0) {
		fprintf(stderr, "objfsctl trash restore: %llu: %s\n", (unsigned long long)ino,
			rc == -ENOENT ? "not in the trash, or its directory is gone or in the trash"
			: rc == -EEXIST ? "its name is taken again"
					: obj_strerror(rc));
	}
	return rc;
}

int ctl_cmd_trash(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"all", no_argument, NULL, 'a'},
	    {"older-than", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	int json = 0, all = 0, o, n, rc = 0, failed = 0;
	long long older = -1;
	const char *sub, *bucket;
	struct objc *oc;
	struct mc *mc;
	int64_t keep = 0;
	char *end;

	if (ctl_is_help(argc, argv)) {
		trash_usage(stdout);
		return CTL_OK;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'j') {
			json = 1;
		} else if (o == 'a') {
			all = 1;
		} else if (o == 'o') {
			older = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || older < 0) {
				fprintf(stderr, "objfsctl trash: bad --older-than '%s'\n", optarg);
				return CTL_USAGE;
			}
		} else {
			trash_usage(stderr);
			return CTL_USAGE;
		}
	}
	n = argc - optind;
	sub = n > 0 ? argv[optind] : "";
	if (!((strcmp(sub, "set") == 0 && n == 3) || (strcmp(sub, "ls") == 0 && n == 2) ||
	      (strcmp(sub, "empty") == 0 && n == 2) ||
	      (strcmp(sub, "restore") == 0 && (all ? n == 2 : n >= 3)))) {
		trash_usage(stderr);
		return CTL_USAGE;
	}
	bucket = argv[optind + 1];
	if (msg_check_bucket(bucket) != 0) {
		fprintf(stderr, "objfsctl trash: invalid bucket name '%s'\n", bucket);
		return CTL_USAGE;
	}
	if (strcmp(sub, "set") == 0 && strcmp(argv[optind + 2], "off") != 0) {
		keep = strtoll(argv[optind + 2], &end, 10);
		if (*argv[optind + 2] == '\0' || *end != '\0' || keep <= 0 || keep > INT32_MAX) {
			fprintf(stderr, "objfsctl trash set: bad time '%s' (seconds, or off)\n",
				argv[optind + 2]);
			return CTL_USAGE;
		}
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	rc = mc_open(objc_cl(oc), bucket, &mc);
	if (rc != 0) {
		fprintf(stderr, "objfsctl trash: %s: %s\n", bucket, obj_strerror(rc));
		objc_close(oc);
		return CTL_FAIL;
	}
	if (strcmp(sub, "set") == 0) {
		rc = mc_trash_op(mc, MOP_TRASH_SET, 0, (uint64_t)keep, NULL);
	} else if (strcmp(sub, "ls") == 0) {
		struct ls_state ls = {.json = json};
		struct all_state a = {0};

		/* Gathered first: the JSON object starts with the trash time,
		 * which comes with the first page. */
		rc = each_entry(mc, &keep, collect, &a);
		if (rc == 0 && json) {
			printf("{\"keep_seconds\":%lld,\"entries\":[", (long long)keep);
		} else if (rc == 0) {
			if (keep > 0) {
				printf("deleted entries are kept %lld s\n", (long long)keep);
			} else {
				printf("trash off: removed entries are deleted at once\n");
			}
			printf("%-20s %-20s %-7s %10s  %s\n", "INO", "DELETED", "TYPE", "SIZE",
			       "WAS AT");
		}
		for (size_t i = 0; i < a.n && rc == 0; i++) {
			print_entry(&ls, &a.v[i]);
		}
		if (rc == 0 && json) {
			printf("]}\n");
		}
		free(a.v);
	} else if (strcmp(sub, "empty") == 0) {
		struct timespec now;
		uint64_t cutoff = 0;

		if (older >= 0) {
			clock_gettime(CLOCK_REALTIME, &now);
			cutoff = (uint64_t)((int64_t)now.tv_sec * 1000000000 + now.tv_nsec -
					    older * 1000000000LL);
		}
		/* A record purges a batch: repeat until nothing is left. */
		do {
			struct meta_trash v;
			int more = 0;

			rc = mc_trash_op(mc, MOP_TRASH_EMPTY, 0, cutoff ? cutoff : 0, NULL);
			n = rc == 0 && cutoff == 0 ? mc_trash(mc, 0, &v, 1, &keep, &more) : 0;
		} while (rc == 0 && n > 0);
		rc = rc == 0 && n < 0 ? n : rc;
	} else if (all) {
		struct all_state a = {0};

		rc = each_entry(mc, &keep, collect, &a);
		if (a.n > 1) {
			qsort(a.v, a.n, sizeof(*a.v), newest_first);
		}
		for (size_t i = 0; i < a.n && rc == 0; i++) {
			failed |= restore_one(mc, a.v[i].ino) != 0;
		}
		free(a.v);
	} else {
		for (int i = optind + 2; i < argc; i++) {
			unsigned long long ino = strtoull(argv[i], &end, 10);

			if (*argv[i] == '\0' || *end != '\0') {
				fprintf(stderr, "objfsctl trash restore: bad inode '%s'\n",
					argv[i]);
				failed = 1;
				continue;
			}
			failed |= restore_one(mc, ino) != 0;
		}
	}
	if (rc != 0) {
		fprintf(stderr, "objfsctl trash %s: %s: %s\n", sub, bucket, obj_strerror(rc));
	}
	mc_close(mc);
	objc_close(oc);
	return rc == 0 && !failed ? CTL_OK : CTL_FAIL;
}
