/* ctl_obj.c: objfsctl put, get, rm and ls. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/err.h"
#include "ctl.h"

static int fail(const char *what, const char *bucket, const char *key, int rc)
{
	fprintf(stderr, "objfsctl %s: %s/%s: %s\n", what, bucket, key, obj_strerror(rc));
	return CTL_FAIL;
}

static int bad_usage(const char *cmd, const char *synopsis)
{
	fprintf(stderr, "Usage: objfsctl %s %s\n", cmd, synopsis);
	return CTL_USAGE;
}

int ctl_cmd_put(struct ctl *c, int argc, char **argv)
{
	struct objc *oc;
	uint64_t size = 0;
	int fd, rc;

	if (ctl_is_help(argc, argv)) {
		printf("Usage: objfsctl put BUCKET KEY FILE|-\n"
		       "Store FILE (or standard input for -) as object KEY of BUCKET, replacing\n"
		       "any object of that key.  The object is erasure-coded across the nodes\n"
		       "and acknowledged only once it survives the loss of one more node.\n");
		return CTL_OK;
	}
	if (argc != 4) {
		return bad_usage("put", "BUCKET KEY FILE|-");
	}
	if (msg_check_bucket(argv[1]) != 0 || msg_check_key(argv[2]) != 0) {
		fprintf(stderr, "objfsctl put: invalid %s '%s'\n",
			msg_check_bucket(argv[1]) != 0 ? "bucket name" : "key",
			msg_check_bucket(argv[1]) != 0 ? argv[1] : argv[2]);
		return CTL_USAGE;
	}
	fd = strcmp(argv[3], "-") == 0 ? STDIN_FILENO : open(argv[3], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "objfsctl put: %s: %s\n", argv[3], strerror(errno));
		return CTL_FAIL;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	rc = obj_put_fd(oc, argv[1], argv[2], fd, &size);
	objc_close(oc);
	if (fd != STDIN_FILENO) {
		close(fd);
	}
	if (rc != 0) {
		return fail("put", argv[1], argv[2], rc);
	}
	printf("put %s/%s: %llu bytes\n", argv[1], argv[2], (unsigned long long)size);
	return CTL_OK;
}

int ctl_cmd_get(struct ctl *c, int argc, char **argv)
{
	struct objc *oc;
	const char *out = argc >= 4 ? argv[3] : "-";
	char *tmp = NULL;
	int fd, rc;

	if (ctl_is_help(argc, argv)) {
		printf("Usage: objfsctl get BUCKET KEY [FILE|-]\n"
		       "Write object KEY of BUCKET to FILE, or to standard output when FILE is\n"
		       "- or missing.  A FILE is written under a temporary name and renamed\n"
		       "into place only when the whole object was read and verified.\n");
		return CTL_OK;
	}
	if (argc != 3 && argc != 4) {
		return bad_usage("get", "BUCKET KEY [FILE|-]");
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	struct stat st;

	if (strcmp(out, "-") == 0) {
		fd = STDOUT_FILENO;
	} else if (stat(out, &st) == 0 && !S_ISREG(st.st_mode)) {
		/* A device or pipe (/dev/null, a FIFO): write it directly;
		 * renaming a temporary file over it would replace it. */
		fd = open(out, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "objfsctl get: %s: %s\n", out, strerror(errno));
			objc_close(oc);
			return CTL_FAIL;
		}
	} else {
		if (asprintf(&tmp, "%s.objfsctl-XXXXXX", out) < 0) {
			objc_close(oc);
			return CTL_FAIL;
		}
		fd = mkstemp(tmp);
		if (fd < 0) {
			fprintf(stderr, "objfsctl get: %s: %s\n", out, strerror(errno));
			free(tmp);
			objc_close(oc);
			return CTL_FAIL;
		}
	}
	rc = obj_get_fd(oc, argv[1], argv[2], fd, NULL);
	objc_close(oc);
	if (tmp == NULL && fd != STDOUT_FILENO) {
		close(fd);
	}
	if (tmp != NULL) {
		if (rc == 0 && (fchmod(fd, 0644) != 0 || fsync(fd) != 0)) {
			rc = -errno;
		}
		close(fd);
		if (rc == 0 && rename(tmp, out) != 0) {
			rc = -errno;
		}
		if (rc != 0) {
			unlink(tmp);
		}
		free(tmp);
	}
	return rc == 0 ? CTL_OK : fail("get", argv[1], argv[2], rc);
}

int ctl_cmd_rm(struct ctl *c, int argc, char **argv)
{
	struct objc *oc;
	int rc;

	if (ctl_is_help(argc, argv)) {
		printf("Usage: objfsctl rm BUCKET KEY\nRemove object KEY of BUCKET and free its "
		       "blocks.\n");
		return CTL_OK;
	}
	if (argc != 3) {
		return bad_usage("rm", "BUCKET KEY");
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	rc = obj_rm(oc, argv[1], argv[2]);
	objc_close(oc);
	return rc == 0 ? CTL_OK : fail("rm", argv[1], argv[2], rc);
}

/* S3-style listing state: with a delimiter, keys that continue past the
 * next '/' after the prefix are folded into one common prefix. */
struct ls_state {
	const char *prefix;
	int delim;
	char last_common[WIRE_STR_MAX + 2];
};

static int print_entry(void *arg, const struct obj_entry *e)
{
	struct ls_state *ls = arg;

	if (ls->delim) {
		size_t pl = strlen(ls->prefix);
		const char *slash = strchr(e->key + pl, '/');

		if (slash != NULL) {
			size_t n = (size_t)(slash - e->key) + 1;

			if (strlen(ls->last_common) != n ||
			    strncmp(ls->last_common, e->key, n) != 0) {
				memcpy(ls->last_common, e->key, n);
				ls->last_common[n] = '\0';
				printf("%12s  %s\n", "PRE", ls->last_common);
			}
			return 0;
		}
	}
	printf("%12llu  %s\n", (unsigned long long)e->size, e->key);
	return 0;
}

int ctl_cmd_ls(struct ctl *c, int argc, char **argv)
{
	struct ls_state ls = {.prefix = "", .delim = 0};
	struct objc *oc;
	int rc;

	if (ctl_is_help(argc, argv)) {
		printf("Usage: objfsctl ls [-d] BUCKET [PREFIX]\n"
		       "List the objects (files) of BUCKET whose key starts with PREFIX, in\n"
		       "key order, one per line: size in bytes, then the key.\n"
		       "  -d, --delimiter  S3-style with '/' as delimiter: keys that go on past\n"
		       "                   the next '/' after PREFIX are shown once as a common\n"
		       "                   prefix, marked PRE (like directories).\n");
		return CTL_OK;
	}
	if (argc >= 2 && (strcmp(argv[1], "-d") == 0 || strcmp(argv[1], "--delimiter") == 0)) {
		ls.delim = 1;
		argc--;
		argv++;
	}
	if (argc != 2 && argc != 3) {
		return bad_usage("ls", "[-d] BUCKET [PREFIX]");
	}
	if (msg_check_bucket(argv[1]) != 0) {
		fprintf(stderr, "objfsctl ls: invalid bucket name '%s'\n", argv[1]);
		return CTL_USAGE;
	}
	if (argc == 3) {
		ls.prefix = argv[2];
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	rc = obj_list(oc, argv[1], ls.prefix, print_entry, &ls);
	objc_close(oc);
	if (rc != 0) {
		fprintf(stderr, "objfsctl ls: %s: %s\n", argv[1], obj_strerror(rc));
		return CTL_FAIL;
	}
	return CTL_OK;
}

static int print_bucket(void *arg, const char *name)
{
	(void)arg;
	printf("%s\n", name);
	return 0;
}

static void bucket_usage(FILE *f)
{
	fprintf(f, "Usage: objfsctl bucket create BUCKET\n"
		   "       objfsctl bucket ls\n"
		   "       objfsctl bucket rm [--force] BUCKET\n"
		   "Create, list or remove buckets.  A bucket name is 1-63 characters of\n"
		   "a-z, 0-9, '.' and '-', starting with a letter or digit.  'rm' refuses a\n"
		   "bucket that still holds files unless --force is given, which removes\n"
		   "every file and frees its blocks.\n");
}

int ctl_cmd_bucket(struct ctl *c, int argc, char **argv)
{
	struct objc *oc;
	const char *action = argc >= 2 ? argv[1] : "";
	int force = 0, rc;

	if (ctl_is_help(argc, argv)) {
		bucket_usage(stdout);
		return CTL_OK;
	}
	if (strcmp(action, "rm") == 0 && argc == 4 && strcmp(argv[2], "--force") == 0) {
		force = 1;
		argv[2] = argv[3];
		argc = 3;
	}
	if (!((strcmp(action, "create") == 0 && argc == 3) ||
	      (strcmp(action, "ls") == 0 && argc == 2) ||
	      (strcmp(action, "rm") == 0 && argc == 3))) {
		bucket_usage(stderr);
		return CTL_USAGE;
	}
	if (argc == 3 && msg_check_bucket(argv[2]) != 0) {
		fprintf(stderr, "objfsctl bucket: invalid bucket name '%s'\n", argv[2]);
		return CTL_USAGE;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	if (strcmp(action, "create") == 0) {
		rc = bucket_create(oc, argv[2]);
	} else if (strcmp(action, "rm") == 0) {
		rc = bucket_remove(oc, argv[2], force);
	} else {
		rc = bucket_list(oc, print_bucket, NULL);
	}
	objc_close(oc);
	if (rc != 0) {
		fprintf(stderr, "objfsctl bucket %s%s%s: %s%s\n", action, argc == 3 ? " " : "",
			argc == 3 ? argv[2] : "",
			rc == -ENOTEMPTY ? "bucket is not empty" : obj_strerror(rc),
			rc == -ENOTEMPTY ? " (use --force to remove its files too)" : "");
		return CTL_FAIL;
	}
	return CTL_OK;
}

int ctl_cmd_repair(struct ctl *c, int argc, char **argv)
{
	struct repair_stats st;
	struct objc *oc;
	int rc;

	if (ctl_is_help(argc, argv) || argc != 2) {
		printf("Usage: objfsctl repair BUCKET\n"
		       "Check every block of every file of BUCKET and write each fragment that\n"
		       "is missing or damaged on its home node back there, rebuilt from the\n"
		       "others: run it after a node was down (its fragments were handed off\n"
		       "to other nodes) or replaced.  Home nodes that are down are skipped.\n");
		return ctl_is_help(argc, argv) ? CTL_OK : CTL_USAGE;
	}
	if (msg_check_bucket(argv[1]) != 0) {
		fprintf(stderr, "objfsctl repair: invalid bucket name '%s'\n", argv[1]);
		return CTL_USAGE;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	cl_wait_connected(objc_cl(oc), 2000);
	rc = obj_repair(oc, argv[1], &st);
	objc_close(oc);
	printf("repair %s: %llu files, %llu blocks checked, %llu fragments rewritten, %llu blocks "
	       "failed\n",
	       argv[1], (unsigned long long)st.files, (unsigned long long)st.blocks,
	       (unsigned long long)st.fragments, (unsigned long long)st.failed);
	if (rc != 0) {
		fprintf(stderr, "objfsctl repair: %s: %s\n", argv[1], obj_strerror(rc));
		return CTL_FAIL;
	}
	return CTL_OK;
}
