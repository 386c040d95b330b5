/* ctl_target.c: what the commands on a bucket's directories share --
 * naming a directory as BUCKET[/DIR], finding its inode, printing a JSON
 * string.  No state. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../common/meta_client.h"
#include "ctl.h"
#include "json.h"

/* Splits "bucket/dir/sub" into the bucket and the directory path. */
int ctl_split_target(const char *arg, char *bucket, size_t cap, const char **path)
{
	const char *slash = strchr(arg, '/');
	size_t n = slash ? (size_t)(slash - arg) : strlen(arg);

	if (n == 0 || n >= cap) {
		return -EINVAL;
	}
	memcpy(bucket, arg, n);
	bucket[n] = '\0';
	*path = slash ? slash + 1 : "";
	while (**path == '/') {
		(*path)++;
	}
	return msg_check_bucket(bucket);
}

/* The directory inode a path names ("" is the root). */
int ctl_dir_ino(struct mc *mc, const char *path, uint64_t *ino)
{
	char p[WIRE_STR_MAX + 1];
	struct meta_attr a;
	size_t n = strlen(path);
	int rc;

	if (n == 0) {
		*ino = META_ROOT_INO;
		return 0;
	}
	if (n >= sizeof(p)) {
		return -ENAMETOOLONG;
	}
	memcpy(p, path, n + 1);
	while (n > 0 && p[n - 1] == '/') {
		p[--n] = '\0';
	}
	rc = mc_resolve(mc, p, &a);
	if (rc == 0 && (a.mode & 0170000) != 0040000) {
		rc = -ENOTDIR;
	}
	*ino = a.ino;
	return rc;
}

void ctl_json_str(const char *s)
{
	json_put_string(stdout, s); /* the one JSON escaper (json.c) */
}
