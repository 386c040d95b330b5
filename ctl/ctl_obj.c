/* ctl_obj.c: objfsctl put, get, rm and ls. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/compress.h"
#include "../common/err.h"
#include "ctl.h"
#include "json.h"

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
	const char *bucket, *key, *file;
	struct objc *oc;
	uint64_t size = 0;
	int fd, rc, i;

	if (ctl_is_help(argc, argv)) {
		printf("Usage: objfsctl put BUCKET KEY FILE|-\n"
		       "Store FILE (or standard input for -) as object KEY of BUCKET, replacing\n"
		       "any object of that key.  The object is erasure-coded across the nodes\n"
		       "and acknowledged only once it survives the loss of one more node.\n");
		return CTL_OK;
	}
	if ((i = ctl_operands(argc, argv)) < 0 || argc - i != 3) {
		return bad_usage("put", "BUCKET KEY FILE|-");
	}
	bucket = argv[i];
	key = argv[i + 1];
	file = argv[i + 2];
	if (msg_check_bucket(bucket) != 0 || msg_check_key(key) != 0) {
		fprintf(stderr, "objfsctl put: invalid %s '%s'\n",
			msg_check_bucket(bucket) != 0 ? "bucket name" : "key",
			msg_check_bucket(bucket) != 0 ? bucket : key);
		return CTL_USAGE;
	}
	fd = strcmp(file, "-") == 0 ? STDIN_FILENO : open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "objfsctl put: %s: %s\n", file, strerror(errno));
		return CTL_FAIL;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	rc = obj_put_fd(oc, bucket, key, fd, &size);
	objc_close(oc);
	if (fd != STDIN_FILENO) {
		close(fd);
	}
	if (rc != 0) {
		return fail("put", bucket, key, rc);
	}
	printf("put %s/%s: %llu bytes\n", bucket, key, (unsigned long long)size);
	return CTL_OK;
}

int ctl_cmd_get(struct ctl *c, int argc, char **argv)
{
	const char *bucket, *key, *out;
	struct objc *oc;
	char *tmp = NULL;
	int fd, rc, i;

	if (ctl_is_help(argc, argv)) {
		printf("Usage: objfsctl get BUCKET KEY [FILE|-]\n"
		       "Write object KEY of BUCKET to FILE, or to standard output when FILE is\n"
		       "- or missing.  A FILE is written under a temporary name and renamed\n"
		       "into place only when the whole object was read and verified.\n");
		return CTL_OK;
	}
	if ((i = ctl_operands(argc, argv)) < 0 || (argc - i != 2 && argc - i != 3)) {
		return bad_usage("get", "BUCKET KEY [FILE|-]");
	}
	bucket = argv[i];
	key = argv[i + 1];
	out = argc - i == 3 ? argv[i + 2] : "-";
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
	rc = obj_get_fd(oc, bucket, key, fd, NULL);
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
	return rc == 0 ? CTL_OK : fail("get", bucket, key, rc);
}

int ctl_cmd_rm(struct ctl *c, int argc, char **argv)
{
	const char *bucket, *key;
	struct objc *oc;
	int rc, i;

	if (ctl_is_help(argc, argv)) {
		printf("Usage: objfsctl rm BUCKET KEY\nRemove object KEY of BUCKET and free its "
		       "blocks.\n");
		return CTL_OK;
	}
	if ((i = ctl_operands(argc, argv)) < 0 || argc - i != 2) {
		return bad_usage("rm", "BUCKET KEY");
	}
	bucket = argv[i];
	key = argv[i + 1];
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	rc = obj_rm(oc, bucket, key);
	objc_close(oc);
	return rc == 0 ? CTL_OK : fail("rm", bucket, key, rc);
}

/* S3-style listing state: with a delimiter, keys that continue past the
 * next '/' after the prefix are folded into one common prefix. */
struct ls_state {
	const char *prefix;
	int delim;
	struct jw *w; /* --json: entries go to its "entries" array */
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
				if (ls->w != NULL) {
					jw_obj(ls->w, NULL);
					jw_str(ls->w, "type", "prefix");
					jw_str(ls->w, "key", ls->last_common);
					jw_end(ls->w);
				} else {
					printf("%12s  %s\n", "PRE", ls->last_common);
				}
			}
			return 0;
		}
	}
	if (ls->w != NULL) {
		jw_obj(ls->w, NULL);
		jw_str(ls->w, "type", "object");
		jw_str(ls->w, "key", e->key);
		jw_u64(ls->w, "size", e->size);
		jw_i64(ls->w, "mtime_ns", e->mtime_ns);
		jw_end(ls->w);
		return 0;
	}
	printf("%12llu  %s\n", (unsigned long long)e->size, e->key);
	return 0;
}

int ctl_cmd_ls(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"delimiter", no_argument, NULL, 'd'},
	    {"json", no_argument, NULL, 'J'},
	    {NULL, 0, NULL, 0},
	};
	struct ls_state ls = {.prefix = "", .delim = 0};
	struct jw jw;
	int json = 0;
	const char *bucket;
	struct objc *oc;
	int rc, o, n;

	if (ctl_is_help(argc, argv)) {
		printf("Usage: objfsctl ls [-d] [--json] BUCKET [PREFIX]\n"
		       "List the objects (files) of BUCKET whose key starts with PREFIX, in\n"
		       "key order, one per line: size in bytes, then the key.\n"
		       "  -d, --delimiter  S3-style with '/' as delimiter: keys that go on past\n"
		       "                   the next '/' after PREFIX are shown once as a common\n"
		       "                   prefix, marked PRE (like directories; folded by the\n"
		       "                   shard, so as fast as the level listed).\n"
		       "  --json           one JSON document (schema in objfsctl(8)).\n");
		return CTL_OK;
	}
	while ((o = getopt_long(argc, argv, "d", opts, NULL)) != -1) {
		if (o == 'J') {
			json = 1;
		} else if (o == 'd') {
			ls.delim = 1;
		} else {
			return bad_usage("ls", "[-d] [--json] BUCKET [PREFIX]");
		}
	}
	n = argc - optind;
	if (n != 1 && n != 2) {
		return bad_usage("ls", "[-d] [--json] BUCKET [PREFIX]");
	}
	bucket = argv[optind];
	if (n == 2) {
		ls.prefix = argv[optind + 1];
	}
	if (msg_check_bucket(bucket) != 0) {
		fprintf(stderr, "objfsctl ls: invalid bucket name '%s'\n", bucket);
		return CTL_USAGE;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	if (json) {
		/* Entries stream out as they are listed; a listing that fails
		 * half-way is still a complete document, with its "error". */
		ls.w = &jw;
		jw_init(&jw, stdout, 1);
		jw_obj(&jw, NULL);
		jw_str(&jw, "bucket", bucket);
		jw_str(&jw, "prefix", ls.prefix);
		jw_bool(&jw, "delimiter", ls.delim);
		jw_arr(&jw, "entries");
	}
	/* With -d the shard folds each directory into one entry: a listing
	 * of a bucket's root costs its top level, not every key below. */
	rc = (ls.delim ? obj_list_delim : obj_list)(oc, bucket, ls.prefix, print_entry, &ls);
	objc_close(oc);
	if (json) {
		jw_end(&jw);
		jw_str(&jw, "error", rc != 0 ? obj_strerror(rc) : NULL);
		jw_finish(&jw);
	}
	if (rc != 0) {
		fprintf(stderr, "objfsctl ls: %s: %s\n", bucket, obj_strerror(rc));
		return CTL_FAIL;
	}
	return CTL_OK;
}

static int print_bucket(void *arg, const char *name)
{
	struct jw *w = arg;

	if (w != NULL) {
		jw_str(w, NULL, name);
	} else {
		printf("%s\n", name);
	}
	return 0;
}

static void bucket_usage(FILE *f)
{
	fprintf(f, "Usage: objfsctl bucket create [--compress CODEC] BUCKET\n"
		   "       objfsctl bucket set --compress CODEC BUCKET\n"
		   "       objfsctl bucket info [--json] BUCKET\n"
		   "       objfsctl bucket ls [--json]\n"
		   "       objfsctl bucket rm [-f|--force] BUCKET\n"
		   "Create, list or remove buckets.  A bucket name is 1-63 characters of\n"
		   "a-z, 0-9, '.' and '-', starting with a letter or digit.  'rm' refuses a\n"
		   "bucket that still holds files unless --force is given, which removes\n"
		   "every file and frees its blocks.  'ls --json' prints {\"buckets\": [...]}.\n"
		   "--compress zstd|lz4|none (default none) compresses each block written\n"
		   "from then on before erasure coding, storing raw any block that would\n"
		   "not shrink by a tenth; 'set' changes it for new writes (mounts follow\n"
		   "within 5 s; stored blocks keep theirs).  'info' prints the codec and\n"
		   "the bucket's blocks: how many are compressed, bytes as written and as\n"
		   "stored, and their ratio.\n");
}

int ctl_cmd_bucket(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"force", no_argument, NULL, 'f'},
	    {"json", no_argument, NULL, 'J'},
	    {"compress", required_argument, NULL, 'z'},
	    {NULL, 0, NULL, 0},
	};
	const char *action, *bucket, *codec_name = NULL;
	struct objc *oc;
	struct jw jw;
	uint8_t codec = BLK_CODEC_NONE;
	int force = 0, json = 0, rc, o, n;

	if (ctl_is_help(argc, argv)) {
		bucket_usage(stdout);
		return CTL_OK;
	}
	while ((o = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
		if (o == 'f') {
			force = 1;
		} else if (o == 'J') {
			json = 1;
		} else if (o == 'z') {
			codec_name = optarg;
		} else {
			bucket_usage(stderr);
			return CTL_USAGE;
		}
	}
	n = argc - optind;
	action = n >= 1 ? argv[optind] : "";
	bucket = n >= 2 ? argv[optind + 1] : NULL;
	if (!((strcmp(action, "create") == 0 && n == 2) || (strcmp(action, "ls") == 0 && n == 1) ||
	      (strcmp(action, "rm") == 0 && n == 2) || (strcmp(action, "set") == 0 && n == 2) ||
	      (strcmp(action, "info") == 0 && n == 2)) ||
	    (force && strcmp(action, "rm") != 0) ||
	    (json && strcmp(action, "ls") != 0 && strcmp(action, "info") != 0) ||
	    (codec_name != NULL && strcmp(action, "create") != 0 && strcmp(action, "set") != 0) ||
	    (codec_name == NULL && strcmp(action, "set") == 0)) {
		bucket_usage(stderr);
		return CTL_USAGE;
	}
	if (codec_name != NULL && cz_parse(codec_name, &codec) != 0) {
		fprintf(stderr, "objfsctl bucket: unknown codec '%s' (zstd, lz4 or none)\n",
			codec_name);
		return CTL_USAGE;
	}
	if (bucket != NULL && msg_check_bucket(bucket) != 0) {
		fprintf(stderr, "objfsctl bucket: invalid bucket name '%s'\n", bucket);
		return CTL_USAGE;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	if (strcmp(action, "create") == 0) {
		rc = bucket_create_codec(oc, bucket, codec);
	} else if (strcmp(action, "set") == 0) {
		rc = bucket_set_codec(oc, bucket, codec);
	} else if (strcmp(action, "info") == 0) {
		rc = ctl_bucket_info(oc, bucket, json);
	} else if (strcmp(action, "rm") == 0) {
		rc = bucket_remove(oc, bucket, force);
	} else if (json) {
		jw_init(&jw, stdout, 1);
		jw_obj(&jw, NULL);
		jw_arr(&jw, "buckets");
		rc = bucket_list(oc, print_bucket, &jw);
		jw_end(&jw);
		jw_str(&jw, "error", rc != 0 ? obj_strerror(rc) : NULL);
		jw_finish(&jw);
	} else {
		rc = bucket_list(oc, print_bucket, NULL);
	}
	objc_close(oc);
	if (rc != 0) {
		fprintf(stderr, "objfsctl bucket %s%s%s: %s%s\n", action, bucket != NULL ? " " : "",
			bucket != NULL ? bucket : "",
			rc == -ENOTEMPTY ? "bucket is not empty" : obj_strerror(rc),
			rc == -ENOTEMPTY ? " (use --force to remove its files too)" : "");
		return CTL_FAIL;
	}
	return CTL_OK;
}

static void repair_usage(FILE *f)
{
	fprintf(f, "Usage: objfsctl repair [--json] BUCKET\n"
		   "Check every block of every file of BUCKET and write each fragment that\n"
		   "is missing or damaged on its home node back there, rebuilt from the\n"
		   "others: run it after a node was down (its fragments were handed off\n"
		   "to other nodes) or replaced.  Each home node reads its fragment in full\n"
		   "to check it, so damaged data and parity are found too.  Home nodes that\n"
		   "are down are skipped.  Prints the bytes rebuilt and the rate.\n\n"
		   "  --json   print the result as one JSON document (objfsctl(8))\n");
}

int ctl_cmd_repair(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	struct repair_stats st;
	struct blk_rr_stats before, after;
	const char *bucket;
	struct objc *oc;
	uint64_t t0, bytes;
	double secs;
	int rc, ch, json = 0;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'h':
			repair_usage(stdout);
			return CTL_OK;
		default:
			repair_usage(stderr);
			return CTL_USAGE;
		}
	}
	if (argc - optind != 1) {
		repair_usage(stderr);
		return CTL_USAGE;
	}
	bucket = argv[optind];
	if (msg_check_bucket(bucket) != 0) {
		fprintf(stderr, "objfsctl repair: invalid bucket name '%s'\n", bucket);
		return CTL_USAGE;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	cl_wait_connected(objc_cl(oc), 2000);
	blk_rr_stats(objc_blk(oc), &before);
	t0 = clock_mono_ms();
	rc = obj_repair(oc, bucket, &st);
	secs = (double)(clock_mono_ms() - t0) / 1000.0;
	blk_rr_stats(objc_blk(oc), &after);
	objc_close(oc);
	bytes = after.bytes_rewritten - before.bytes_rewritten;
	if (json) {
		struct jw jw;

		jw_init(&jw, stdout, 1);
		jw_obj(&jw, NULL);
		jw_str(&jw, "bucket", bucket);
		jw_u64(&jw, "files", st.files);
		jw_u64(&jw, "blocks", st.blocks);
		jw_u64(&jw, "fragments_rewritten", st.fragments);
		jw_u64(&jw, "bytes_rewritten", bytes);
		jw_u64(&jw, "blocks_failed", st.failed);
		jw_num(&jw, "seconds", secs);
		jw_num(&jw, "mb_per_s", secs > 0 ? (double)bytes / 1e6 / secs : 0.0);
		jw_str(&jw, "error", rc != 0 ? obj_strerror(rc) : NULL);
		jw_finish(&jw);
	} else {
		printf("repair %s: %llu files, %llu blocks checked, %llu fragments rewritten, %llu "
		       "blocks failed\n",
		       bucket, (unsigned long long)st.files, (unsigned long long)st.blocks,
		       (unsigned long long)st.fragments, (unsigned long long)st.failed);
		printf("rebuilt %.1f MB in %.1f s: %.1f MB/s\n", (double)bytes / 1e6, secs,
		       secs > 0 ? (double)bytes / 1e6 / secs : 0.0);
	}
	if (rc != 0) {
		fprintf(stderr, "objfsctl repair: %s: %s\n", bucket, obj_strerror(rc));
		return CTL_FAIL;
	}
	return CTL_OK;
}
