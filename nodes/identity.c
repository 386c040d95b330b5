/* identity.c: the data dir's identity file and the replaced-disk check
 * (see identity.h).  The file is written to a temporary name, fsynced and
 * renamed, then the directory is fsynced, so a crash leaves it whole or
 * absent -- and absent only ever costs the peer check below. */
#include "identity.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/checksum.h"
#include "../common/client.h"
#include "../common/err.h"
#include "../common/fileio.h"
#include "../common/log.h"
#include "../common/meta_client.h"
#include "../common/rand.h"

#define ID_FILE "identity"
#define ID_MAX_GROUPS 16

void id_cluster(const struct cfg *cfg, char out[33])
{
	uint8_t buf[CFG_SECRET_MAX + 32], h[16];
	static const char tag[] = "objfs cluster id";

	memcpy(buf, tag, sizeof(tag) - 1);
	memcpy(buf + sizeof(tag) - 1, cfg->secret, cfg->secret_len);
	csum128(buf, sizeof(tag) - 1 + cfg->secret_len, h);
	for (size_t i = 0; i < 16; i++) {
		snprintf(out + 2 * i, 3, "%02x", h[i]);
	}
}

/* 1 when dir exists and holds any entry but . and .. */
static int dir_has_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int any = 0;

	if (d == NULL) {
		return 0;
	}
	while (!any && (e = readdir(d)) != NULL) {
		any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	}
	closedir(d);
	return any;
}

static int read_identity(const char *path, struct node_identity *id)
{
	FILE *f = fopen(path, "r");
	int n;

	if (f == NULL) {
		return -errno;
	}
	memset(id, 0, sizeof(*id));
	n = fscanf(f, "cluster %32s node %" SCNu32 " incarnation %" SCNx64, id->cluster,
		   &id->node_id, &id->incarnation);
	fclose(f);
	return n == 3 && strlen(id->cluster) == 32 ? 0 : -EPROTO;
}

static int write_identity(const char *dir, const struct node_identity *id)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 16], text[128];
	int fd, n, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, ID_FILE);
	snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, ID_FILE);
	n = snprintf(text, sizeof(text),
		     "cluster %s\nnode %" PRIu32 "\nincarnation %016" PRIx64 "\n", id->cluster,
		     id->node_id, id->incarnation);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		return -errno;
	}
	rc = fio_write_full(fd, text, (size_t)n, 0);
	if (rc == 0 && fsync(fd) != 0) {
		rc = -errno;
	}
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = -errno;
	}
	if (rc == 0 && (fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(fd) != 0) {
			rc = -errno;
		}
		close(fd);
	}
	if (rc != 0) {
		unlink(tmp);
	}
	return rc;
}

/* Shards (sorted names) whose voters, as some other node reports them,
 * include this node. */
struct voter_scan {
	uint32_t me;
	char names[ID_MAX_GROUPS][MSG_NAME_MAX];
	size_t n;
	uint32_t seen_by;
};

static int scan_cb(void *arg, const struct shard_state *st)
{
	struct voter_scan *vs = arg;
	const char *name = st->name[0] != '\0' ? st->name : "_catalog";
	size_t at;

	for (uint32_t i = 0; i < st->n_voters && i < 8; i++) {
		if (st->voter_id[i] != vs->me) {
			continue;
		}
		for (at = 0; at < vs->n && strcmp(vs->names[at], name) < 0; at++) {
		}
		if ((at < vs->n && strcmp(vs->names[at], name) == 0) || vs->n == ID_MAX_GROUPS) {
			return 0;
		}
		memmove(vs->names[at + 1], vs->names[at], (vs->n - at) * MSG_NAME_MAX);
		snprintf(vs->names[at], MSG_NAME_MAX, "%s", name);
		vs->n++;
	}
	return 0;
}

/* Asks every other node which groups list me as a voter.  Nodes that
 * refuse the connection (not started) fail at once and others get the
 * client's connect grace; those that do not answer are skipped: the first
 * start of a whole cluster finds nobody, which is the fresh case. */
static void scan_peers(const struct cfg *cfg, const struct cfg_node *me, struct voter_scan *vs)
{
	struct cl *cl;

	if (cl_open(cfg, &cl) != 0) {
		return;
	}
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		size_t before = vs->n;

		if (&cfg->nodes[i] == me) {
			continue;
		}
		mc_shards(cl, i, scan_cb, vs);
		if (vs->n > before && vs->seen_by == 0) {
			vs->seen_by = cfg->nodes[i].id;
		}
	}
	cl_close(cl);
}

int id_check(const struct cfg *cfg, const struct cfg_node *me, struct node_identity *out,
	     int *created, char *err, size_t errlen)
{
	char path[PATH_MAX + 16], raft[PATH_MAX + 8], cluster[33];
	struct voter_scan vs = {.me = me->id};
	int rc;

	*created = 0;
	id_cluster(cfg, cluster);
	snprintf(path, sizeof(path), "%s/%s", me->data_dir, ID_FILE);
	rc = read_identity(path, out);
	if (rc == 0) {
		if (strcmp(out->cluster, cluster) != 0 || out->node_id != me->id) {
			snprintf(err, errlen,
				 "data_dir %s belongs to node %" PRIu32 " of cluster %s, not to "
				 "node %" PRIu32 " of cluster %s",
				 me->data_dir, out->node_id, out->cluster, me->id, cluster);
			return -EEXIST;
		}
		return 0;
	}
	if (rc != -ENOENT) {
		snprintf(err, errlen, "%s: %s", path,
			 rc == -EPROTO ? "not an objfs identity file" : strerror(-rc));
		return rc;
	}
	/* No identity.  With Raft state this data dir predates identity
	 * files: it is still the voter it was.  Without, it is a new node or
	 * one whose disk was replaced; only the others can tell which. */
	snprintf(raft, sizeof(raft), "%s/raft", me->data_dir);
	if (!dir_has_entries(raft)) {
		scan_peers(cfg, me, &vs);
	}
	if (vs.n > 0) {
		char list[256] = "";

		for (size_t i = 0; i < vs.n; i++) {
			size_t l = strlen(list);

			snprintf(list + l, sizeof(list) - l, "%s'%s'", i ? ", " : "", vs.names[i]);
		}
		snprintf(err, errlen,
			 "data_dir %s has no identity and no Raft state, but node %" PRIu32
			 " lists node %" PRIu32 " as a voter of shard %s: refusing to vote "
			 "again with its log and votes lost; run 'objfsctl node out %" PRIu32
			 "', start the node, then 'objfsctl node in %" PRIu32 "'",
			 me->data_dir, vs.seen_by, me->id, list, me->id, me->id);
		return -ESTALE;
	}
	snprintf(out->cluster, sizeof(out->cluster), "%s", cluster);
	out->node_id = me->id;
	if ((rc = rand_u64(&out->incarnation)) != 0 ||
	    (rc = write_identity(me->data_dir, out)) != 0) {
		snprintf(err, errlen, "%s: cannot write: %s", path, obj_strerror(rc));
		return rc;
	}
	*created = 1;
	return 0;
}
