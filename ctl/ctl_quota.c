/* ctl_quota.c: `objfsctl quota set|get|ls|rm` -- quotas on a bucket or a
 * directory tree of it, through the bucket's shard (MOP_QUOTA_SET,
 * META_QUOTA).  Prints; never keeps state. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/meta_client.h"
#include "ctl.h"

static void quota_usage(FILE *f)
{
	fprintf(f, "Usage: objfsctl quota set BUCKET[/DIR] [--bytes SIZE] [--inodes N]\n"
		   "                          [--soft-bytes SIZE] [--soft-inodes N]\n"
		   "       objfsctl quota get BUCKET[/DIR] [--check] [--json]\n"
		   "       objfsctl quota ls BUCKET [--check] [--json]\n"
		   "       objfsctl quota rm BUCKET[/DIR]\n"
		   "Limit the bytes (sizes of regular files) and inodes (entries) below a\n"
		   "directory of BUCKET (the whole bucket without /DIR).  Writes, creates\n"
		   "and renames past a hard limit fail with EDQUOT; passing a soft limit is\n"
		   "logged by the shard's leader.  SIZE takes K, M, G, T suffixes; a limit\n"
		   "of 0 is none, and set keeps the limits it is not given.\n"
		   "  --check  recount the usage now and show it beside the kept one\n"
		   "  --json   one JSON object (get) or array (ls); see objfsctl(8)\n");
}

static void print_json(const struct meta_quota *q, int check)
{
	printf("{\"path\":");
	ctl_json_str(q->path);
	printf(",\"ino\":%llu,\"max_bytes\":%llu,\"max_inodes\":%llu,\"soft_bytes\":%llu,"
	       "\"soft_inodes\":%llu,\"used_bytes\":%llu,\"used_inodes\":%llu",
	       (unsigned long long)q->ino, (unsigned long long)q->max_bytes,
	       (unsigned long long)q->max_inodes, (unsigned long long)q->soft_bytes,
	       (unsigned long long)q->soft_inodes, (unsigned long long)q->used_bytes,
	       (unsigned long long)q->used_inodes);
	if (check) {
		printf(",\"counted_bytes\":%llu,\"counted_inodes\":%llu,\"consistent\":%s",
		       (unsigned long long)q->counted_bytes, (unsigned long long)q->counted_inodes,
		       q->counted_bytes == q->used_bytes && q->counted_inodes == q->used_inodes
			   ? "true"
			   : "false");
	}
	putchar('}');
}

static const char *limit(uint64_t v, int bytes, char *buf, size_t len)
{
	if (v == 0) {
		return "-";
	}
	if (bytes) {
		return ctl_human(v, buf, len);
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

static void print_header(int check)
{
	printf("%-10s %-10s %-10s %-8s %-8s %-8s%s  %s\n", "USED", "LIMIT", "SOFT", "INODES",
	       "LIMIT", "SOFT", check ? "  CHECK" : "", "PATH");
}

static void print_row(const struct meta_quota *q, int check)
{
	char a[32], b[32], c[32], d[32], e[32];

	printf("%-10s %-10s %-10s %-8llu %-8s %-8s", ctl_human(q->used_bytes, a, sizeof(a)),
	       limit(q->max_bytes, 1, b, sizeof(b)), limit(q->soft_bytes, 1, c, sizeof(c)),
	       (unsigned long long)q->used_inodes, limit(q->max_inodes, 0, d, sizeof(d)),
	       limit(q->soft_inodes, 0, e, sizeof(e)));
	if (check) {
		printf("  %-5s",
		       q->counted_bytes == q->used_bytes && q->counted_inodes == q->used_inodes
			   ? "ok"
			   : "DIFF");
	}
	const char *note = "";

	if ((q->max_bytes && q->used_bytes > q->max_bytes) ||
	    (q->max_inodes && q->used_inodes > q->max_inodes)) {
		note = "  (over the limit)";
	} else if ((q->soft_bytes && q->used_bytes > q->soft_bytes) ||
		   (q->soft_inodes && q->used_inodes > q->soft_inodes)) {
		note = "  (over the soft limit)";
	}
	printf("  %s%s\n", q->path, note);
}

int ctl_cmd_quota(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"bytes", required_argument, NULL, 'b'},
	    {"inodes", required_argument, NULL, 'i'},
	    {"soft-bytes", required_argument, NULL, 'B'},
	    {"soft-inodes", required_argument, NULL, 'I'},
	    {"check", no_argument, NULL, 'c'},
	    {"json", no_argument, NULL, 'j'},
	    {NULL, 0, NULL, 0},
	};
	uint64_t lim[4] = {0};
	int given[4] = {0}, check = 0, json = 0, o, rc, n, more = 0, status = CTL_OK;
	char bucket[MSG_NAME_MAX];
	const char *sub, *path;
	struct meta_quota *q;
	struct objc *oc;
	struct mc *mc;
	uint64_t ino = 0;

	if (ctl_is_help(argc, argv)) {
		quota_usage(stdout);
		return CTL_OK;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int k = o == 'b' ? 0 : o == 'i' ? 1 : o == 'B' ? 2 : o == 'I' ? 3 : -1;

		if (k >= 0) {
			char *end;

			if (k % 2 == 0 ? cfg_parse_size(optarg, &lim[k]) != 0
				       : (lim[k] = strtoull(optarg, &end, 10),
					  *optarg == '\0' || *end != '\0' || *optarg == '-')) {
				fprintf(stderr, "objfsctl quota: bad %s '%s'\n", opts[k].name,
					optarg);
				return CTL_USAGE;
			}
			given[k] = 1;
		} else if (o == 'c') {
			check = 1;
		} else if (o == 'j') {
			json = 1;
		} else {
			quota_usage(stderr);
			return CTL_USAGE;
		}
	}
	if (argc - optind != 2) {
		quota_usage(stderr);
		return CTL_USAGE;
	}
	sub = argv[optind];
	if (strcmp(sub, "set") != 0 && strcmp(sub, "get") != 0 && strcmp(sub, "ls") != 0 &&
	    strcmp(sub, "rm") != 0) {
		fprintf(stderr, "objfsctl quota: unknown subcommand '%s'\n", sub);
		return CTL_USAGE;
	}
	if (ctl_split_target(argv[optind + 1], bucket, sizeof(bucket), &path) != 0 ||
	    (strcmp(sub, "ls") == 0 && *path != '\0')) {
		fprintf(stderr, "objfsctl quota %s: bad target '%s'\n", sub, argv[optind + 1]);
		return CTL_USAGE;
	}
	if (strcmp(sub, "set") == 0 && !given[0] && !given[1] && !given[2] && !given[3]) {
		fprintf(stderr, "objfsctl quota set: give at least one limit\n");
		return CTL_USAGE;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	q = calloc(64, sizeof(*q));
	rc = q == NULL ? -ENOMEM : mc_open(objc_cl(oc), bucket, &mc);
	if (rc != 0) {
		fprintf(stderr, "objfsctl quota: %s: %s\n", bucket, obj_strerror(rc));
		free(q);
		objc_close(oc);
		return CTL_FAIL;
	}
	rc = strcmp(sub, "ls") == 0 ? 0 : ctl_dir_ino(mc, path, &ino);
	if (rc == 0 && strcmp(sub, "set") == 0) {
		/* Limits not given stay as they are. */
		n = mc_quota(mc, QUOTA_GET, ino, q, 1, &more);
		if (n == 1) {
			uint64_t old[4] = {q->max_bytes, q->max_inodes, q->soft_bytes,
					   q->soft_inodes};

			for (int k = 0; k < 4; k++) {
				lim[k] = given[k] ? lim[k] : old[k];
			}
		}
		rc = n < 0 && n != -ENODATA ? n : mc_quota_set(mc, ino, lim);
	} else if (rc == 0 && strcmp(sub, "rm") == 0) {
		static const uint64_t none[4] = {0};

		rc = mc_quota(mc, QUOTA_GET, ino, q, 1, &more);
		rc = rc < 0 ? rc : mc_quota_set(mc, ino, none);
	} else if (rc == 0 && strcmp(sub, "get") == 0) {
		rc = mc_quota(mc, QUOTA_GET | (check ? QUOTA_CHECK : 0), ino, q, 1, &more);
		if (rc == 1) {
			if (check && (q->counted_bytes != q->used_bytes ||
				      q->counted_inodes != q->used_inodes)) {
				status = CTL_FAIL;
			}
			if (json) {
				print_json(q, check);
				putchar('\n');
			} else {
				print_header(check);
				print_row(q, check);
			}
			rc = 0;
		}
	} else if (rc == 0) {
		uint64_t after = 0;
		int first = 1;

		if (json) {
			putchar('[');
		} else {
			print_header(check);
		}
		do {
			n = mc_quota(mc, QUOTA_LIST | (check ? QUOTA_CHECK : 0), after, q, 64,
				     &more);
			for (int i = 0; i < n; i++) {
				if (json) {
					printf("%s", first ? "" : ",");
					print_json(&q[i], check);
				} else {
					print_row(&q[i], check);
				}
				first = 0;
				after = q[i].ino;
				if (check && (q[i].counted_bytes != q[i].used_bytes ||
					      q[i].counted_inodes != q[i].used_inodes)) {
					status = CTL_FAIL;
				}
			}
		} while (n > 0 && more);
		rc = n < 0 ? n : 0;
		if (json) {
			printf("]\n");
		}
	}
	if (rc != 0) {
		fprintf(stderr, "objfsctl quota %s: %s: %s\n", sub, argv[optind + 1],
			rc == -ENODATA ? "no quota set there" : obj_strerror(rc));
		status = CTL_FAIL;
	}
	mc_close(mc);
	free(q);
	objc_close(oc);
	return status;
}
