/* ctl_key.c: `objfsctl key create|ls|rm`: client keys in the catalog.
 * A key is created with a fresh random id and secret and printed as a key
 * file on stdout (the catalog keeps the only other copy); create and rm
 * return once every reachable node has seen the change, so the next
 * command may rely on it.  Needs an admin key or the cluster secret. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/client.h"
#include "../common/clock.h"
#include "../common/err.h"
#include "../common/meta_client.h"
#include "../common/rand.h"
#include "ctl.h"

/* How long create/rm wait for every node's key cache (polled each
 * second, keycache.h) before saying which nodes lag. */
#define KEY_SYNC_WAIT_MS 10000

static void key_usage(FILE *f)
{
	fprintf(f,
		"Usage: objfsctl key create NAME (--bucket BUCKET (--ro | --rw) | --admin)\n"
		"       objfsctl key ls [--json]\n"
		"       objfsctl key rm NAME\n"
		"Client keys.  'create' prints the new key file on stdout: give it to a\n"
		"client (objfsctl --key FILE, objfs -o key=FILE).  A --ro key may read\n"
		"BUCKET (mounts read-only), a --rw key read and change it, an --admin key\n"
		"do anything a client can (buckets, nodes, keys).  'rm' revokes a key on\n"
		"every node.  create and rm return once every reachable node knows.\n"
		"  -b, --bucket BUCKET  the bucket of a --ro or --rw key\n"
		"      --ro, --rw       read-only or read-write\n"
		"      --admin          an administrator's key\n"
		"      --json           ls: one JSON array of {name, id, caps, bucket, ctime}\n");
}

/* Asks every node that is up, sealing with key k (its secret may be
 * wrong: then a node that knows the id says so).  Sets *pending to the
 * number of nodes whose answer is not yet `want` (0: accepted, -ENOKEY:
 * unknown there). */
static int probe(const struct cfg *base, const struct key_ent *k, int want, size_t *pending,
		 char *lagging, size_t cap)
{
	struct cfg *cfg = malloc(sizeof(*cfg));
	struct cl_req *reqs = NULL;
	struct cl *cl = NULL;
	size_t n = 0, len = 0;
	int rc;

	if (cfg == NULL) {
		return -ENOMEM;
	}
	*cfg = *base;
	cfg->client_key = *k;
	cfg->has_client_key = 1;
	rc = cl_open(cfg, &cl);
	if (rc == 0) {
		reqs = calloc(cfg->n_nodes, sizeof(*reqs));
		rc = reqs == NULL ? -ENOMEM : 0;
	}
	if (rc == 0) {
		cl_wait_connected(cl, 1000);
		for (size_t i = 0; i < cfg->n_nodes; i++) {
			reqs[n].node = i;
			reqs[n].type = MSG_PING;
			reqs[n].once = 1;
			n++;
		}
		cl_run(cl, reqs, n, 2000);
		*pending = 0;
		lagging[0] = '\0';
		for (size_t i = 0; i < n; i++) {
			int st = reqs[i].status;

			/* A node that is down learns the keys when it starts. */
			if (st != want && st != -EHOSTDOWN && st != -ETIMEDOUT &&
			    st != -ECONNREFUSED) {
				(*pending)++;
				len += (size_t)snprintf(lagging + len, len < cap ? cap - len : 0,
							" %u", cfg->nodes[reqs[i].node].id);
			}
			cl_req_release(&reqs[i]);
		}
	}
	free(reqs);
	if (cl != NULL) {
		cl_close(cl);
	}
	memset(cfg, 0, sizeof(*cfg));
	free(cfg);
	return rc;
}

/* Waits until every reachable node answers k with want. */
static int wait_nodes(const struct cfg *cfg, const struct key_ent *k, int want)
{
	uint64_t deadline = clock_mono_ms() + KEY_SYNC_WAIT_MS;
	char lagging[256];
	size_t pending = 0;
	int rc;

	for (;;) {
		rc = probe(cfg, k, want, &pending, lagging, sizeof(lagging));
		if (rc != 0 || pending == 0) {
			return rc;
		}
		if (clock_mono_ms() >= deadline) {
			fprintf(stderr, "objfsctl key: nodes%s have not seen the change yet\n",
				lagging);
			return -ETIMEDOUT;
		}
		usleep(200000);
	}
}

static int key_op(struct ctl *c, struct mc **mc, struct objc **oc)
{
	int rc;

	if (ctl_connect(c, oc) != CTL_OK) {
		return -EIO;
	}
	rc = mc_open(objc_cl(*oc), "", mc);
	if (rc != 0) {
		objc_close(*oc);
	}
	return rc;
}

int ctl_key_new(struct ctl *c, const char *name, uint32_t caps, const char *bucket, FILE *out)
{
	struct meta_op op = {.type = MOP_KEY_PUT};
	struct meta_result res;
	struct key_ent k = {.caps = caps};
	char text[512];
	struct objc *oc;
	struct mc *mc;
	int rc;

	snprintf(k.name, sizeof(k.name), "%s", name);
	snprintf(k.bucket, sizeof(k.bucket), "%s", bucket);
	do {
		rc = rand_u64(&k.id);
	} while (rc == 0 && k.id == KEY_ID_NODE);
	if (rc == 0) {
		rc = rand_bytes(k.secret, sizeof(k.secret));
	}
	if (rc != 0 || (rc = key_op(c, &mc, &oc)) != 0) {
		return rc;
	}
	/* The catalog's group exists before the first record (idempotent). */
	if ((rc = mc_shard_create(objc_cl(oc), "")) != 0) {
		mc_close(mc);
		objc_close(oc);
		return rc;
	}
	snprintf(op.name, sizeof(op.name), "%s", k.name);
	snprintf(op.newname, sizeof(op.newname), "%s", k.bucket);
	op.ino = k.id;
	op.mode = k.caps;
	op.data = k.secret;
	op.data_len = sizeof(k.secret);
	rc = mc_op(mc, &op, &res);
	mc_close(mc);
	objc_close(oc);
	if (rc == 0) {
		rc = wait_nodes(&c->cfg, &k, 0);
	}
	if (rc == 0 || rc == -ETIMEDOUT) {
		int n = key_file_format(&k, text, sizeof(text));

		if (n <= 0 || fwrite(text, 1, (size_t)n, out) != (size_t)n || fflush(out) != 0) {
			rc = -EIO;
		}
		memset(text, 0, sizeof(text));
		rc = rc == -ETIMEDOUT ? 0 : rc;
	}
	memset(&k, 0, sizeof(k));
	return rc;
}

struct ls_out {
	int json, n;
	struct key_ent *found; /* rm: the key named want */
	const char *want;
};

static int ls_cb(void *arg, const struct key_ent *k)
{
	struct ls_out *lo = arg;
	char caps[96], when[32];
	time_t t = (time_t)(k->ctime_ns / 1000000000);
	struct tm tm;

	if (lo->want != NULL) {
		if (strcmp(k->name, lo->want) == 0) {
			*lo->found = *k;
			lo->n++;
		}
		return 0;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (lo->json) {
		/* Names and buckets are of [A-Za-z0-9._-]: nothing to escape. */
		printf("%s{\"name\":\"%s\",\"id\":\"%016llx\",\"caps\":\"%s\",\"bucket\":\"%s\","
		       "\"ctime\":\"%s\"}",
		       lo->n ? "," : "", k->name, (unsigned long long)k->id,
		       (k->caps & KEY_CAP_ADMIN) ? "admin"
		       : (k->caps & KEY_CAP_RW)	 ? "rw"
						 : "ro",
		       k->bucket, when);
	} else {
		printf("%-20s %016llx  %-24s %s\n", k->name, (unsigned long long)k->id,
		       key_caps_str(k, caps, sizeof(caps)), when);
	}
	lo->n++;
	return 0;
}

static int key_list(struct ctl *c, int json)
{
	struct ls_out lo = {.json = json};
	struct objc *oc;
	struct mc *mc;
	int rc = key_op(c, &mc, &oc);

	if (rc != 0) {
		return rc;
	}
	if (json) {
		printf("[");
	} else {
		printf("%-20s %-16s  %-24s %s\n", "NAME", "ID", "CAPS", "CREATED");
	}
	rc = mc_keys(mc, 0, ls_cb, &lo);
	if (json) {
		printf("]\n");
	}
	mc_close(mc);
	objc_close(oc);
	return rc;
}

static int key_remove(struct ctl *c, const char *name)
{
	struct meta_op op = {.type = MOP_KEY_DEL};
	struct meta_result res;
	struct key_ent k = {0};
	struct ls_out lo = {.found = &k, .want = name};
	struct objc *oc;
	struct mc *mc;
	int rc = key_op(c, &mc, &oc);

	if (rc != 0) {
		return rc;
	}
	rc = mc_keys(mc, 0, ls_cb, &lo);
	if (rc == 0 && lo.n == 0) {
		rc = -ENOENT;
	}
	if (rc == 0) {
		snprintf(op.name, sizeof(op.name), "%s", name);
		rc = mc_op(mc, &op, &res);
	}
	mc_close(mc);
	objc_close(oc);
	/* Probed with a secret nobody has: a node that still knows the id
	 * refuses the tag, one that forgot it does not know the key. */
	if (rc == 0) {
		rc = wait_nodes(&c->cfg, &k, -ENOKEY);
	}
	return rc == -ETIMEDOUT ? 0 : rc;
}

int ctl_cmd_key(struct ctl *c, int argc, char **argv)
{
	enum { O_RO = 256, O_RW, O_ADMIN, O_JSON };
	static const struct option opts[] = {
	    {"bucket", required_argument, NULL, 'b'}, {"ro", no_argument, NULL, O_RO},
	    {"rw", no_argument, NULL, O_RW},	      {"admin", no_argument, NULL, O_ADMIN},
	    {"json", no_argument, NULL, O_JSON},      {NULL, 0, NULL, 0},
	};
	const char *bucket = "", *action, *name;
	uint32_t caps = 0;
	int json = 0, o, n, rc;

	if (ctl_is_help(argc, argv)) {
		key_usage(stdout);
		return CTL_OK;
	}
	while ((o = getopt_long(argc, argv, "b:", opts, NULL)) != -1) {
		switch (o) {
		case 'b':
			bucket = optarg;
			break;
		case O_RO:
		case O_RW:
		case O_ADMIN:
			if (caps != 0) {
				fprintf(stderr, "objfsctl key: one of --ro, --rw, --admin\n");
				return CTL_USAGE;
			}
			caps = o == O_RO ? KEY_CAP_RO : o == O_RW ? KEY_CAP_RW : KEY_CAP_ADMIN;
			break;
		case O_JSON:
			json = 1;
			break;
		default:
			key_usage(stderr);
			return CTL_USAGE;
		}
	}
	n = argc - optind;
	action = n >= 1 ? argv[optind] : "";
	name = n >= 2 ? argv[optind + 1] : NULL;
	if (!((strcmp(action, "create") == 0 && n == 2) || (strcmp(action, "ls") == 0 && n == 1) ||
	      (strcmp(action, "rm") == 0 && n == 2)) ||
	    (json && strcmp(action, "ls") != 0) ||
	    ((caps != 0 || bucket[0] != '\0') && strcmp(action, "create") != 0)) {
		key_usage(stderr);
		return CTL_USAGE;
	}
	if (name != NULL && key_check_name(name) != 0) {
		fprintf(stderr,
			"objfsctl key: invalid key name '%s' (1..63 of A-Z a-z 0-9 . _ -)\n", name);
		return CTL_USAGE;
	}
	if (strcmp(action, "create") == 0 && key_check_caps(caps, bucket) != 0) {
		fprintf(stderr, "objfsctl key create: %s\n",
			caps == 0 ? "give --bucket BUCKET with --ro or --rw, or --admin"
			: caps == KEY_CAP_ADMIN ? "an --admin key takes no --bucket"
						: "--ro and --rw need a valid --bucket BUCKET");
		return CTL_USAGE;
	}
	if (strcmp(action, "create") == 0) {
		rc = ctl_key_new(c, name, caps, bucket, stdout);
	} else if (strcmp(action, "rm") == 0) {
		rc = key_remove(c, name);
	} else {
		rc = key_list(c, json);
	}
	if (rc != 0) {
		fprintf(stderr, "objfsctl key %s%s%s: %s\n", action, name != NULL ? " " : "",
			name != NULL ? name : "",
			rc == -EEXIST	? "a key of that name exists"
			: rc == -ENOENT ? "no such key"
					: obj_strerror(rc));
		return CTL_FAIL;
	}
	return CTL_OK;
}
