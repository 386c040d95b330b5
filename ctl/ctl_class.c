/* ctl_class.c: `objfsctl class ls|get|set|move` -- storage classes.
 * A directory (or a bucket's root) names its class in the xattr
 * CLASS_XATTR; files take the class of their nearest directory that names
 * one.  `move` runs the class mover (common/mover.c) here, in this
 * process, over a tree: a killed run leaves every file readable (see
 * ARCHITECTURE.md, "Storage classes").  Prints; keeps no state. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/clock.h"
#include "../common/err.h"
#include "../common/meta_client.h"
#include "../common/metrics.h"
#include "../common/metrics_http.h"
#include "../common/mover.h"
#include "ctl.h"

/* A user xattr, so that a mount shows it and setfattr can set it too. */
#define CLASS_XATTR "user.objfs.class"
#define DEFAULT_CLASS "default"
/* The age rule of a directory: "CLASS SECONDS", files below it not read
 * for SECONDS (their atime, kept to a day by the mounts) belong in CLASS. */
#define AGE_XATTR "user.objfs.class_age"
/* Progress lines on stderr at most this often during a move. */
#define PROGRESS_MS 1000

static void class_usage(FILE *f)
{
	fprintf(f,
		"Usage: objfsctl class ls [--json]\n"
		"       objfsctl class get BUCKET[/PATH] [--json]\n"
		"       objfsctl class set BUCKET[/DIR] NAME\n"
		"       objfsctl class age BUCKET[/DIR] NAME AGE | off\n"
		"       objfsctl class move BUCKET[/DIR] [--rate MB/s] [--metrics HOST:PORT] "
		"[--json]\n"
		"Storage classes ([class NAME] sections of objfs.conf: an erasure code and the\n"
		"nodes with a tag).  ls lists them; set makes directory DIR (or the bucket)\n"
		"name class NAME ('default': the cluster's ec_profile on every node), which\n"
		"the files below it take unless a nearer directory names another; get shows\n"
		"the class of PATH, where it comes from and, for a file, its blocks by class;\n"
		"age makes files below DIR that were not read for AGE (seconds, or with a\n"
		"suffix m, h or d; a mount records reads to a day) belong in class NAME\n"
		"instead, for the next move (off: no such rule);\n"
		"move re-encodes every file below DIR whose blocks are not in its class, at\n"
		"most class_rate MB/s, while the files stay readable, printing progress to\n"
		"stderr each second.\n"
		"  --rate N             read at most N MB/s (default: class_rate of the config)\n"
		"  --metrics HOST:PORT  serve objfs_mover_* metrics while moving\n"
		"  --json               ls: an array of classes; get: one object; move: the\n"
		"                       final counts as one object\n");
}

/* The class named by directory ino's xattr: 1 with *id, 0 when it names
 * none, -ENOENT (message printed) for a name the config lacks. */
static int dir_class(struct mc *mc, const struct cfg *cfg, uint64_t ino, const char *path,
		     uint8_t *id)
{
	const struct cfg_class *cl;
	char name[CFG_CLASS_NAME_MAX];
	uint8_t *val = NULL;
	size_t len = 0;
	int rc = mc_getxattr(mc, ino, CLASS_XATTR, &val, &len);

	if (rc == -ENODATA) {
		return 0;
	}
	if (rc < 0) {
		return rc;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(len < sizeof(name) ? len : sizeof(name) - 1),
		 (const char *)val);
	free(val);
	if (strcmp(name, DEFAULT_CLASS) == 0) {
		*id = 0;
		return 1;
	}
	cl = cfg_class_by_name(cfg, name);
	if (cl == NULL) {
		fprintf(stderr, "objfsctl class: '/%s' names class '%s', which the config lacks\n",
			path, name);
		return -ENOENT;
	}
	*id = (uint8_t)cl->id;
	return 1;
}

/* Directory ino's age rule: 1 with *cold and *age_s, 0 when it has none
 * (or "off"), -ENOENT / -EINVAL (message printed) for a rule naming a
 * class the config lacks or a malformed one. */
static int dir_age(struct mc *mc, const struct cfg *cfg, uint64_t ino, const char *path,
		   uint8_t *cold, uint64_t *age_s)
{
	const struct cfg_class *cl;
	char text[CFG_CLASS_NAME_MAX + 32], name[CFG_CLASS_NAME_MAX], *sp, *end = NULL;
	unsigned long long age;
	uint8_t *val = NULL;
	size_t len = 0;
	int rc = mc_getxattr(mc, ino, AGE_XATTR, &val, &len);

	if (rc == -ENODATA) {
		return 0;
	}
	if (rc < 0) {
		return rc;
	}
	snprintf(text, sizeof(text), "%.*s", (int)(len < sizeof(text) ? len : sizeof(text) - 1),
		 (const char *)val);
	free(val);
	if (strcmp(text, "off") == 0) {
		*age_s = 0;
		return 1;
	}
	sp = strrchr(text, ' ');
	age = sp != NULL ? strtoull(sp + 1, &end, 10) : 0;
	if (sp == NULL || sp == text || (size_t)(sp - text) >= sizeof(name) || *end != '\0' ||
	    age == 0) {
		fprintf(stderr, "objfsctl class: '/%s' has a malformed age rule '%s'\n", path,
			text);
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(sp - text), text);
	cl = cfg_class_by_name(cfg, name);
	if (cl == NULL && strcmp(name, DEFAULT_CLASS) != 0) {
		fprintf(stderr,
			"objfsctl class: '/%s' sends unread files to class '%s', which the "
			"config lacks\n",
			path, name);
		return -ENOENT;
	}
	*cold = cl != NULL ? (uint8_t)cl->id : 0;
	*age_s = age;
	return 1;
}

/* AGE as seconds: digits with an optional s, m, h or d.  0 if malformed. */
static uint64_t parse_age(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || v == 0 || v > (1ull << 32)) {
		return 0;
	}
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		v *= 60;
		break;
	case 'h':
		v *= 3600;
		break;
	case 'd':
		v *= 86400;
		break;
	default:
		return 0;
	}
	return *end != '\0' && end[1] != '\0' ? 0 : v;
}

static const char *class_name(const struct cfg *cfg, uint8_t id)
{
	const struct cfg_class *cl = cfg_class_by_id(cfg, id);

	return cl != NULL ? cl->name : id == 0 ? DEFAULT_CLASS : "unknown";
}

/* The class of path (a file or a directory; "" the root): the nearest
 * directory on the way from the root that names one.  from gets that
 * directory's path ("" the root; "-": none names one). */
static int resolve_class(struct mc *mc, const struct cfg *cfg, const char *path,
			 struct meta_attr *attr, uint8_t *id, char *from, size_t cap, uint8_t *cold,
			 uint64_t *age_s)
{
	char p[WIRE_STR_MAX + 1];
	size_t n = strlen(path), at = 0;
	int rc;

	*id = 0;
	snprintf(from, cap, "-");
	if (n >= sizeof(p)) {
		return -ENAMETOOLONG;
	}
	memcpy(p, path, n + 1);
	while (n > 0 && p[n - 1] == '/') {
		p[--n] = '\0';
	}
	rc = mc_getattr(mc, META_ROOT_INO, attr);
	for (;;) {
		char saved;

		if (rc == 0 && S_ISDIR(attr->mode)) {
			rc = dir_class(mc, cfg, attr->ino, p, id);
			if (rc == 1) {
				snprintf(from, cap, "%.*s", (int)at, p);
				rc = 0;
			}
			if (rc == 0 && age_s != NULL) {
				rc = dir_age(mc, cfg, attr->ino, p, cold, age_s);
				rc = rc < 0 ? rc : 0;
			}
		}
		if (rc < 0 || at >= n) {
			return rc;
		}
		at += (at > 0);
		while (at < n && p[at] != '/') {
			at++;
		}
		saved = p[at];
		p[at] = '\0';
		rc = mc_resolve(mc, p, attr);
		p[at] = saved;
	}
}

static int class_ls(const struct cfg *cfg, int json)
{
	if (json) {
		printf(
		    "[{\"name\":\"default\",\"id\":0,\"k\":%u,\"m\":%u,\"tag\":\"\",\"nodes\":%zu}",
		    cfg->ec.k, cfg->ec.m, cfg->n_nodes);
	} else {
		printf("%-16s %4s %6s %-12s %s\n", "NAME", "ID", "EC", "TAG", "NODES");
		printf("%-16s %4d %3u+%-2u %-12s all (%zu)\n", DEFAULT_CLASS, 0, cfg->ec.k,
		       cfg->ec.m, "-", cfg->n_nodes);
	}
	for (size_t i = 0; i < cfg->n_classes; i++) {
		const struct cfg_class *cl = &cfg->classes[i];

		if (json) {
			printf(",{\"name\":");
			ctl_json_str(cl->name);
			printf(",\"id\":%u,\"k\":%u,\"m\":%u,\"tag\":", cl->id, cl->k, cl->m);
			ctl_json_str(cl->tag);
			printf(",\"nodes\":%u,\"node_ids\":[", cl->n_nodes);
		} else {
			printf("%-16s %4u %3u+%-2u %-12s", cl->name, cl->id, cl->k, cl->m, cl->tag);
		}
		for (size_t n = 0, shown = 0; n < cfg->n_nodes; n++) {
			if (cfg_node_has_tag(&cfg->nodes[n], cl->tag)) {
				printf(json ? "%s%u" : "%s%u",
				       shown++ ? ","
				       : json  ? ""
					       : " ",
				       cfg->nodes[n].id);
			}
		}
		printf(json ? "]}" : "\n");
	}
	if (json) {
		printf("]\n");
	}
	return 0;
}

/* Blocks of a file by (class, k, m), for get. */
struct blk_count {
	uint8_t cls, k, m;
	uint64_t n;
};

static int class_get(struct mc *mc, const struct cfg *cfg, const char *bucket, const char *path,
		     int json)
{
	struct blk_count counts[32];
	struct meta_extent *ext = NULL;
	struct meta_attr a, fa;
	char from[WIRE_STR_MAX + 1];
	size_t nc = 0, n = 0, inl_len = 0;
	uint8_t *inl = NULL, id;
	int rc = resolve_class(mc, cfg, path, &a, &id, from, sizeof(from), NULL, NULL);

	if (rc == 0 && S_ISREG(a.mode)) {
		rc = mc_extents_all(mc, a.ino, &ext, &n, &fa, &inl, &inl_len);
		free(inl);
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		size_t j = 0;

		while (j < nc && !(counts[j].cls == ext[i].blk.cls && counts[j].k == ext[i].blk.k &&
				   counts[j].m == ext[i].blk.m)) {
			j++;
		}
		if (j == nc && nc < OBJ_ARRAY_LEN(counts)) {
			counts[nc++] =
			    (struct blk_count){ext[i].blk.cls, ext[i].blk.k, ext[i].blk.m, 0};
		}
		if (j < nc) {
			counts[j].n++;
		}
	}
	free(ext);
	if (rc != 0) {
		return rc;
	}
	if (json) {
		printf("{\"path\":");
		ctl_json_str(path);
		printf(",\"class\":");
		ctl_json_str(class_name(cfg, id));
		printf(",\"id\":%u,\"from\":", id);
		if (strcmp(from, "-") == 0) {
			printf("null");
		} else {
			ctl_json_str(from);
		}
		printf(",\"blocks\":[");
		for (size_t j = 0; j < nc; j++) {
			printf("%s{\"class\":", j ? "," : "");
			ctl_json_str(class_name(cfg, counts[j].cls));
			printf(",\"id\":%u,\"k\":%u,\"m\":%u,\"count\":%llu}", counts[j].cls,
			       counts[j].k, counts[j].m, (unsigned long long)counts[j].n);
		}
		printf("]}\n");
		return 0;
	}
	printf("%s/%s: class %s", bucket, path, class_name(cfg, id));
	if (strcmp(from, "-") == 0) {
		printf(" (no directory names one)\n");
	} else {
		printf(" (named by %s/%s)\n", bucket, from);
	}
	for (size_t j = 0; j < nc; j++) {
		printf("  %llu blocks in %s (%u+%u)\n", (unsigned long long)counts[j].n,
		       class_name(cfg, counts[j].cls), counts[j].k, counts[j].m);
	}
	return 0;
}

static int class_set(struct mc *mc, const char *path, const char *xattr, const char *value)
{
	struct meta_op *op;
	struct meta_result res;
	uint64_t ino;
	int rc;

	rc = ctl_dir_ino(mc, path, &ino); /* the value was checked before connecting */
	if (rc != 0) {
		return rc;
	}
	op = calloc(1, sizeof(*op));
	if (op == NULL) {
		return -ENOMEM;
	}
	op->type = MOP_SETXATTR;
	op->ino = ino;
	snprintf(op->name, sizeof(op->name), "%s", xattr);
	op->data = (const uint8_t *)value;
	op->data_len = strlen(value);
	rc = mc_op(mc, op, &res);
	free(op);
	return rc;
}

/* --- move ----------------------------------------------------------------- */

struct ent {
	char name[META_NAME_MAX + 1];
	struct meta_attr a;
};

struct page {
	struct ent *v;
	size_t n, cap;
};

static int page_add(void *arg, const char *name, const struct meta_attr *a)
{
	struct page *pg = arg;

	if (pg->n == pg->cap) {
		size_t cap = pg->cap ? pg->cap * 2 : 256;
		struct ent *v = realloc(pg->v, cap * sizeof(*v));

		if (v == NULL) {
			return -ENOMEM;
		}
		pg->v = v;
		pg->cap = cap;
	}
	snprintf(pg->v[pg->n].name, sizeof(pg->v[pg->n].name), "%s", name);
	pg->v[pg->n].a = *a;
	pg->n++;
	return 0;
}

/* A directory still to walk, with the class it inherits. */
struct todo {
	uint64_t ino;
	uint8_t cls, cold; /* cold: the class of files unread for age_s */
	uint64_t age_s;	   /* 0: no age rule */
	char *path;
};

struct move_run {
	struct mc *mc;
	const struct cfg *cfg;
	struct mover *mv;
	struct todo *stack;
	size_t n, cap;
	uint64_t t0_ms, last_ms, errors;
};

static int push(struct move_run *mr, uint64_t ino, uint8_t cls, uint8_t cold, uint64_t age_s,
		const char *parent, const char *name)
{
	char *path;

	if (mr->n == mr->cap) {
		size_t cap = mr->cap ? mr->cap * 2 : 64;
		struct todo *v = realloc(mr->stack, cap * sizeof(*v));

		if (v == NULL) {
			return -ENOMEM;
		}
		mr->stack = v;
		mr->cap = cap;
	}
	if (asprintf(&path, "%s%s%s", parent, parent[0] && name[0] ? "/" : "", name) < 0) {
		return -ENOMEM;
	}
	mr->stack[mr->n++] = (struct todo){ino, cls, cold, age_s, path};
	return 0;
}

static void progress(struct move_run *mr, int last)
{
	struct mover_stats st;
	uint64_t now = clock_mono_ms(), ms;

	if (!last && now - mr->last_ms < PROGRESS_MS) {
		return;
	}
	mr->last_ms = now;
	ms = now - mr->t0_ms;
	mover_get_stats(mr->mv, &st);
	fprintf(stderr,
		"class move: %llu files seen, %llu moved, %llu blocks (%.1f MiB, %.1f MB/s), "
		"%llu raced, %llu errors%s\n",
		(unsigned long long)st.files_seen, (unsigned long long)st.files,
		(unsigned long long)st.blocks, (double)st.bytes / (1 << 20),
		ms ? (double)st.bytes / 1e3 / (double)ms : 0.0, (unsigned long long)st.raced,
		(unsigned long long)mr->errors, last ? ", done" : "");
}

static void on_batch(void *arg)
{
	progress(arg, 0);
}

/* Walks one directory: its own class name, then its files (moved now)
 * and its subdirectories (pushed). */
static int walk_dir(struct move_run *mr, struct todo *t)
{
	char after[META_NAME_MAX + 1] = "";
	struct page pg = {0};
	uint8_t cls = t->cls, cold = t->cold;
	uint64_t age_s = t->age_s;
	struct timespec now;
	int more = 1, rc = dir_class(mr->mc, mr->cfg, t->ino, t->path, &cls);

	if (rc >= 0) {
		rc = dir_age(mr->mc, mr->cfg, t->ino, t->path, &cold, &age_s);
	}
	rc = rc < 0 ? rc : 0;
	clock_gettime(CLOCK_REALTIME, &now);
	while (rc == 0 && more) {
		pg.n = 0;
		rc = mc_readdir(mr->mc, t->ino, after, 1000, page_add, &pg, &more);
		rc = rc < 0 ? rc : 0;
		for (size_t i = 0; rc == 0 && i < pg.n; i++) {
			const struct ent *e = &pg.v[i];

			if (meta_is_snap_ino(e->a.ino) ||
			    (t->ino == META_ROOT_INO && (strcmp(e->name, META_SNAP_DIR) == 0 ||
							 strcmp(e->name, META_TRASH_DIR) == 0))) {
				continue; /* read-only copies keep the blocks they share */
			}
			if (S_ISDIR(e->a.mode)) {
				rc = push(mr, e->a.ino, cls, cold, age_s, t->path, e->name);
			} else if (S_ISREG(e->a.mode)) {
				int64_t unread = (int64_t)now.tv_sec - e->a.atime_ns / 1000000000;
				int mrc =
				    mover_file(mr->mv, e->a.ino,
					       age_s && unread >= (int64_t)age_s ? cold : cls);

				/* A file removed meanwhile is no error. */
				if (mrc < 0 && mrc != -ENOENT) {
					fprintf(stderr, "objfsctl class move: /%s%s%s: %s\n",
						t->path, t->path[0] ? "/" : "", e->name,
						obj_strerror(mrc));
					mr->errors++;
				}
				progress(mr, 0);
			}
		}
		if (pg.n > 0) {
			memcpy(after, pg.v[pg.n - 1].name, sizeof(after));
		} else {
			more = 0;
		}
	}
	free(pg.v);
	return rc == -ENOENT ? 0 : rc; /* a directory removed meanwhile */
}

static int class_move(struct objc *oc, struct mc *mc, const struct cfg *cfg, const char *path,
		      uint32_t rate, const char *metrics, int json)
{
	struct move_run mr = {.mc = mc, .cfg = cfg};
	struct mx_registry *mx = NULL;
	struct mx_http *http = NULL;
	struct mover_stats st;
	struct meta_attr a;
	char from[WIRE_STR_MAX + 1], err[256];
	uint8_t cls;
	uint8_t cold = 0;
	uint64_t age_s = 0;
	int rc = resolve_class(mc, cfg, path, &a, &cls, from, sizeof(from), &cold, &age_s);

	if (rc == 0 && !S_ISDIR(a.mode)) {
		rc = -ENOTDIR;
	}
	if (rc == 0 && metrics != NULL) {
		mx = mx_create();
		rc = mx == NULL ? -ENOMEM : mx_http_start(mx, metrics, &http, err, sizeof(err));
		if (rc != 0 && mx != NULL) {
			fprintf(stderr, "objfsctl class move: %s\n", err);
		}
	}
	if (rc == 0) {
		rc = mover_open(mc, objc_blk(oc), cfg, rate, mx, &mr.mv);
	}
	if (rc == 0) {
		mover_on_batch(mr.mv, on_batch, &mr);
	}
	if (rc == 0) {
		/* The walk starts below the class resolve_class found: the
		 * directory's own name is read again by walk_dir. */
		rc = push(&mr, a.ino, cls, cold, age_s, path, "");
	}
	mr.t0_ms = mr.last_ms = clock_mono_ms();
	while (rc == 0 && mr.n > 0) {
		struct todo t = mr.stack[--mr.n];

		rc = walk_dir(&mr, &t);
		free(t.path);
	}
	if (mr.mv != NULL) {
		progress(&mr, 1);
		mover_get_stats(mr.mv, &st);
		if (json) {
			printf(
			    "{\"files_seen\":%llu,\"files\":%llu,\"blocks\":%llu,\"bytes\":%llu,"
			    "\"raced\":%llu,\"in_class\":%llu,\"errors\":%llu,\"seconds\":%.3f}\n",
			    (unsigned long long)st.files_seen, (unsigned long long)st.files,
			    (unsigned long long)st.blocks, (unsigned long long)st.bytes,
			    (unsigned long long)st.raced, (unsigned long long)st.blocks_left,
			    (unsigned long long)mr.errors,
			    (double)(clock_mono_ms() - mr.t0_ms) / 1e3);
		}
	}
	while (mr.n > 0) {
		free(mr.stack[--mr.n].path);
	}
	free(mr.stack);
	mover_close(mr.mv);
	mx_http_stop(http);
	mx_destroy(mx);
	if (rc == 0 && mr.errors > 0) {
		rc = -EIO;
	}
	return rc;
}

int ctl_cmd_class(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"rate", required_argument, NULL, 'r'},
	    {"metrics", required_argument, NULL, 'M'},
	    {NULL, 0, NULL, 0},
	};
	char bucket[MSG_NAME_MAX], agerule[CFG_CLASS_NAME_MAX + 32];
	uint64_t age_s = 0;
	const char *sub, *path = "", *metrics = NULL;
	unsigned long rate = 0;
	struct objc *oc;
	struct mc *mc;
	int json = 0, o, n, rc;
	char *end;

	if (ctl_is_help(argc, argv)) {
		class_usage(stdout);
		return CTL_OK;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'j') {
			json = 1;
		} else if (o == 'r') {
			errno = 0;
			rate = strtoul(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' || rate == 0 ||
			    rate > 100000) {
				fprintf(stderr, "objfsctl class: --rate must be 1..100000 MB/s\n");
				return CTL_USAGE;
			}
		} else if (o == 'M') {
			metrics = optarg;
		} else {
			class_usage(stderr);
			return CTL_USAGE;
		}
	}
	n = argc - optind;
	sub = n > 0 ? argv[optind] : "";
	if (!((strcmp(sub, "ls") == 0 && n == 1) || (strcmp(sub, "get") == 0 && n == 2) ||
	      (strcmp(sub, "set") == 0 && n == 3) || (strcmp(sub, "move") == 0 && n == 2) ||
	      (strcmp(sub, "age") == 0 && (n == 3 || n == 4)))) {
		class_usage(stderr);
		return CTL_USAGE;
	}
	if (ctl_load(c) != CTL_OK) {
		return CTL_FAIL;
	}
	if (strcmp(sub, "ls") == 0) {
		return class_ls(&c->cfg, json) == 0 ? CTL_OK : CTL_FAIL;
	}
	if (ctl_split_target(argv[optind + 1], bucket, sizeof(bucket), &path) != 0) {
		fprintf(stderr, "objfsctl class %s: bad target '%s'\n", sub, argv[optind + 1]);
		return CTL_USAGE;
	}
	if (strcmp(sub, "set") == 0 && strcmp(argv[optind + 2], DEFAULT_CLASS) != 0 &&
	    cfg_class_by_name(&c->cfg, argv[optind + 2]) == NULL) {
		fprintf(stderr, "objfsctl class set: no class '%s' in %s (objfsctl class ls)\n",
			argv[optind + 2], c->cfg.path);
		return CTL_FAIL;
	}
	if (strcmp(sub, "age") == 0) {
		const char *name = argv[optind + 2];

		age_s = n == 4 ? parse_age(argv[optind + 3]) : 0;
		if (n == 3 ? strcmp(name, "off") != 0 : age_s == 0) {
			fprintf(stderr, "objfsctl class age: want NAME AGE (AGE: seconds, or with "
					"a suffix m, h or d) or off\n");
			return CTL_USAGE;
		}
		if (n == 4 && strcmp(name, DEFAULT_CLASS) != 0 &&
		    cfg_class_by_name(&c->cfg, name) == NULL) {
			fprintf(stderr,
				"objfsctl class age: no class '%s' in %s (objfsctl class ls)\n",
				name, c->cfg.path);
			return CTL_FAIL;
		}
		if (n == 3) {
			snprintf(agerule, sizeof(agerule), "off");
		} else {
			snprintf(agerule, sizeof(agerule), "%s %llu", name,
				 (unsigned long long)age_s);
		}
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	rc = mc_open(objc_cl(oc), bucket, &mc);
	if (rc != 0) {
		fprintf(stderr, "objfsctl class: %s: %s\n", bucket, obj_strerror(rc));
		objc_close(oc);
		return CTL_FAIL;
	}
	if (strcmp(sub, "get") == 0) {
		rc = class_get(mc, &c->cfg, bucket, path, json);
	} else if (strcmp(sub, "set") == 0) {
		rc = class_set(mc, path, CLASS_XATTR, argv[optind + 2]);
		if (rc == 0) {
			printf("%s/%s: class %s\n", bucket, path, argv[optind + 2]);
		}
	} else if (strcmp(sub, "age") == 0) {
		rc = class_set(mc, path, AGE_XATTR, agerule);
		if (rc == 0 && n == 3) {
			printf("%s/%s: no age rule\n", bucket, path);
		} else if (rc == 0) {
			printf("%s/%s: files unread for %llu s go to class %s at the next move\n",
			       bucket, path, (unsigned long long)age_s, argv[optind + 2]);
		}
	} else {
		rc = class_move(oc, mc, &c->cfg, path, rate ? (uint32_t)rate : c->cfg.class_rate_mb,
				metrics, json);
	}
	if (rc != 0) {
		fprintf(stderr, "objfsctl class %s: %s: %s\n", sub, argv[optind + 1],
			obj_strerror(rc));
	}
	mc_close(mc);
	objc_close(oc);
	return rc == 0 ? CTL_OK : CTL_FAIL;
}
