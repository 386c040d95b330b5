/* ctl_fsck.c: objfsctl fsck [BUCKET] and objfsctl gc: printing and
 * options over common/fsck.c (block health) and common/gc.c (stray
 * fragments).  Talks to the nodes; keeps nothing. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/err.h"
#include "../common/fsck.h"
#include "../common/gc.h"
#include "../common/meta_client.h"
#include "ctl.h"
#include "ctl_drain.h"
#include "ctl_maint.h"

static void fsck_usage(FILE *f)
{
	fprintf(f, "Usage: objfsctl fsck [--repair] [--json] [BUCKET]\n"
		   "Check that every block of every file of BUCKET (default: every bucket)\n"
		   "has its k+m fragments intact on k+m distinct nodes, spread over as many\n"
		   "zones as the cluster map allows.  Every fragment is read in full on the\n"
		   "node holding it.  Degraded blocks (still readable, short of redundancy)\n"
		   "and lost blocks (fewer than k intact fragments) are listed.\n\n"
		   "  --repair   rebuild the fragments of degraded blocks on their home\n"
		   "             nodes, then check those blocks again\n"
		   "  --json     print the result as one JSON object\n\n"
		   "Exit status: 0 clean, 3 degraded blocks (none lost), 4 lost blocks,\n"
		   "1 failure (a shard or the cluster unreachable), 2 usage error.\n");
}

struct fsck_cli {
	int json;
	const char *bucket;
	uint64_t total; /* bytes of the bucket being checked */
	uint64_t n_reported;
	struct ctl_progress pb;
};

static const char *state_name(enum fsck_state s)
{
	return s == FSCK_LOST ? "lost" : s == FSCK_DEGRADED ? "degraded" : "healthy";
}

static void fsck_report(void *arg, const struct fsck_block *b)
{
	struct fsck_cli *fc = arg;
	char hex[2 * BLOCK_ID_LEN + 1];

	msg_block_hex(b->blk.id, hex);
	if (fc->json) {
		printf("%s{\"bucket\":", fc->n_reported ? "," : "");
		ctl_json_str(fc->bucket);
		printf(",\"path\":");
		ctl_json_str(b->path);
		printf(",\"chunk\":%llu,\"block\":\"%s\",\"k\":%u,\"m\":%u,\"state\":\"%s\","
		       "\"intact\":%u,\"placed\":%u,\"zones\":%u,\"bad\":%u,\"missing\":%u,"
		       "\"nodes_down\":%u,\"repaired\":%s}",
		       (unsigned long long)b->chunk, hex, b->blk.k, b->blk.m, state_name(b->state),
		       b->intact, b->placed, b->zones, b->bad, b->missing, b->nodes_down,
		       b->repaired ? "true" : "false");
	} else {
		ctl_progress_end(&fc->pb);
		printf("%-8s %s/%s chunk %llu (block %s, %u+%u): %u intact, %u on distinct nodes, "
		       "%u zones; %u bad, %u missing, %u home nodes down%s\n",
		       state_name(b->state), fc->bucket, b->path, (unsigned long long)b->chunk, hex,
		       b->blk.k, b->blk.m, b->intact, b->placed, b->zones, b->bad, b->missing,
		       b->nodes_down, b->repaired ? " (after repair)" : "");
	}
	fc->n_reported++;
}

static void fsck_progress(void *arg, uint64_t done)
{
	struct fsck_cli *fc = arg;
	char hb[32], what[128];

	snprintf(what, sizeof(what), "%s: %s", fc->bucket, ctl_human(done, hb, sizeof(hb)));
	ctl_progress_show(&fc->pb, done, fc->total, what);
}

struct name_list {
	char **v;
	size_t n, cap;
};

static int add_name(void *arg, const char *name)
{
	struct name_list *nl = arg;

	if (nl->n == nl->cap) {
		size_t ncap = nl->cap ? nl->cap * 2 : 16;
		char **nv = realloc(nl->v, ncap * sizeof(*nv));

		if (nv == NULL) {
			return -ENOMEM;
		}
		nl->v = nv;
		nl->cap = ncap;
	}
	if ((nl->v[nl->n] = strdup(name)) == NULL) {
		return -ENOMEM;
	}
	nl->n++;
	return 0;
}

int ctl_cmd_fsck(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"repair", no_argument, NULL, 'r'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	struct fsck_cli fc = {0};
	struct fsck_opts o = {.report = fsck_report, .progress = fsck_progress, .arg = &fc};
	struct fsck_stats st = {0};
	struct name_list nl = {0};
	struct objc *oc;
	int ch, rc = 0, ret;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'r':
			o.repair = 1;
			break;
		case 'j':
			fc.json = 1;
			break;
		case 'h':
			fsck_usage(stdout);
			return CTL_OK;
		default:
			fsck_usage(stderr);
			return CTL_USAGE;
		}
	}
	if (argc - optind > 1 || (optind < argc && msg_check_bucket(argv[optind]) != 0)) {
		if (optind < argc) {
			fprintf(stderr, "objfsctl fsck: invalid bucket name '%s'\n", argv[optind]);
		}
		fsck_usage(stderr);
		return CTL_USAGE;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	cl_wait_connected(objc_cl(oc), 2000);
	if (optind < argc) {
		rc = add_name(&nl, argv[optind]);
	} else {
		rc = bucket_list(oc, add_name, &nl);
	}
	if (rc < 0) {
		fprintf(stderr, "objfsctl fsck: cannot list buckets: %s\n", obj_strerror(rc));
		objc_close(oc);
		return CTL_FAIL;
	}
	ctl_progress_init(&fc.pb, fc.json);
	if (fc.json) {
		printf("{\"blocks_reported\":[");
	}
	for (size_t i = 0; i < nl.n && rc == 0; i++) {
		struct mc *mc;

		fc.bucket = nl.v[i];
		fc.total = 0;
		if (mc_open(objc_cl(oc), fc.bucket, &mc) == 0) {
			struct mc_statfs sf;

			if (mc_statfs(mc, &sf) == 0) {
				fc.total = sf.bytes;
			}
			mc_close(mc);
		}
		rc = fsck_bucket(oc, fc.bucket, &o, &st);
		if (rc != 0) {
			ctl_progress_end(&fc.pb);
			fprintf(stderr, "objfsctl fsck: %s: %s\n", fc.bucket, obj_strerror(rc));
		}
	}
	ctl_progress_end(&fc.pb);
	objc_close(oc);
	ret = rc != 0 ? CTL_FAIL : st.lost > 0 ? CTL_LOST : st.degraded > 0 ? CTL_DEGRADED : CTL_OK;
	if (fc.json) {
		printf(
		    "],\"buckets\":%zu,\"files\":%llu,\"bytes\":%llu,\"blocks\":%llu,"
		    "\"healthy\":%llu,\"degraded\":%llu,\"lost\":%llu,\"fragments_intact\":%llu,"
		    "\"fragments_bad\":%llu,\"fragments_missing\":%llu,"
		    "\"fragments_unreachable\":%llu,\"repaired_blocks\":%llu,"
		    "\"fragments_rewritten\":%llu,\"status\":\"%s\"}\n",
		    nl.n, (unsigned long long)st.files, (unsigned long long)st.bytes,
		    (unsigned long long)st.blocks, (unsigned long long)st.healthy,
		    (unsigned long long)st.degraded, (unsigned long long)st.lost,
		    (unsigned long long)st.frags_checked, (unsigned long long)st.frags_bad,
		    (unsigned long long)st.frags_missing, (unsigned long long)st.frags_unreachable,
		    (unsigned long long)st.repaired_blocks, (unsigned long long)st.frags_rewritten,
		    ret == CTL_OK	  ? "clean"
		    : ret == CTL_DEGRADED ? "degraded"
		    : ret == CTL_LOST	  ? "lost"
					  : "failed");
	} else {
		printf(
		    "fsck: %zu buckets, %llu files, %llu blocks: %llu healthy, %llu degraded, "
		    "%llu lost; %llu fragments intact, %llu bad, %llu missing, %llu on down nodes",
		    nl.n, (unsigned long long)st.files, (unsigned long long)st.blocks,
		    (unsigned long long)st.healthy, (unsigned long long)st.degraded,
		    (unsigned long long)st.lost, (unsigned long long)st.frags_checked,
		    (unsigned long long)st.frags_bad, (unsigned long long)st.frags_missing,
		    (unsigned long long)st.frags_unreachable);
		if (o.repair) {
			printf("; %llu blocks repaired (%llu fragments rewritten)",
			       (unsigned long long)st.repaired_blocks,
			       (unsigned long long)st.frags_rewritten);
		}
		printf("\n");
	}
	for (size_t i = 0; i < nl.n; i++) {
		free(nl.v[i]);
	}
	free(nl.v);
	return ret;
}

static void gc_usage(FILE *f)
{
	fprintf(f, "Usage: objfsctl gc [--dry-run] [--grace SECONDS] [--mark-max N] [--json]\n"
		   "Find and delete stray fragments: fragments of blocks no bucket's shard\n"
		   "knows (a writer that died before its commit, a delete a down node\n"
		   "missed) and surplus hand-off copies whose home copy is intact.  A\n"
		   "fragment younger than the grace period is kept (its block's commit may\n"
		   "be on its way); a fragment of a known block on its home node is never\n"
		   "deleted, nor a copy standing in for a node that the cluster map has\n"
		   "out (objfsctl node out).  Every bucket and the cluster map must be\n"
		   "readable, or nothing is deleted; nodes that are down are skipped.\n\n"
		   "  -n, --dry-run        list what would be deleted; delete nothing\n"
		   "  -g, --grace SECONDS  keep fragments younger than this (default: the\n"
		   "                       config's gc_grace, one day unless set)\n"
		   "  --mark-max N         hold at most N block ids in memory (about 48\n"
		   "                       bytes each; default 1048576, at least 2): more\n"
		   "                       blocks are marked and swept in ranges of ids\n"
		   "  --json               print the result as one JSON object\n\n"
		   "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

int ctl_cmd_gc(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dry-run", no_argument, NULL, 'n'},	{"grace", required_argument, NULL, 'g'},
	    {"mark-max", required_argument, NULL, 'm'}, {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},		{NULL, 0, NULL, 0}};
	struct gc_opts o = {0};
	struct gc_stats st;
	struct objc *oc;
	uint8_t *out;
	long grace = -1;
	int json = 0, ch, rc, n_out;
	char hb[32];

	while ((ch = getopt_long(argc, argv, "ng:h", opts, NULL)) != -1) {
		char *end;

		switch (ch) {
		case 'n':
			o.dry_run = 1;
			break;
		case 'g':
			errno = 0;
			grace = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg || grace < 0 ||
			    grace > 31536000) {
				fprintf(stderr,
					"objfsctl gc: --grace: not a number of seconds "
					"in 0..31536000: '%s'\n",
					optarg);
				return CTL_USAGE;
			}
			break;
		case 'm': {
			unsigned long long v;

			errno = 0;
			v = strtoull(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || end == optarg || optarg[0] == '-' ||
			    v < 2 || v > (1ull << 32)) {
				fprintf(stderr,
					"objfsctl gc: --mark-max: not a number of blocks in "
					"2..4294967296: '%s'\n",
					optarg);
				return CTL_USAGE;
			}
			o.mark_max = (size_t)v;
			break;
		}
		case 'j':
			json = 1;
			break;
		case 'h':
			gc_usage(stdout);
			return CTL_OK;
		default:
			gc_usage(stderr);
			return CTL_USAGE;
		}
	}
	if (optind != argc) {
		gc_usage(stderr);
		return CTL_USAGE;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	o.grace_s = grace >= 0 ? (uint32_t)grace : (uint32_t)c->cfg.gc_grace_s;
	cl_wait_connected(objc_cl(oc), 2000);
	/* As the automatic sweep: nothing that stands in for a node that is
	 * out goes (the catalog's cluster map says which are). */
	out = calloc(c->cfg.n_nodes, 1);
	n_out = out == NULL ? -ENOMEM : ctl_nodes_out(c, oc, out);
	if (n_out < 0) {
		fprintf(stderr, "objfsctl gc: cannot read the cluster map: %s; nothing deleted\n",
			obj_strerror(n_out));
		objc_close(oc);
		free(out);
		return CTL_FAIL;
	}
	o.out = out;
	rc = gc_run(oc, &o, &st);
	objc_close(oc);
	if (rc != 0) {
		if (st.node != NULL && st.ranges > 0) {
			fprintf(stderr,
				"objfsctl gc: %s; %llu range(s) of block ids were swept (%llu "
				"fragments deleted), nothing more deleted\n",
				obj_strerror(rc), (unsigned long long)st.ranges,
				(unsigned long long)st.deleted);
		} else {
			fprintf(stderr, "objfsctl gc: %s%s\n", obj_strerror(rc),
				st.node != NULL ? "; nothing deleted" : "");
		}
		gc_stats_free(&st);
		free(out);
		return CTL_FAIL;
	}
	if (json) {
		printf("{\"dry_run\":%s,\"grace_s\":%u,\"buckets\":%llu,\"blocks\":%llu,"
		       "\"ranges\":%llu,\"out\":[",
		       o.dry_run ? "true" : "false", o.grace_s, (unsigned long long)st.buckets,
		       (unsigned long long)st.blocks, (unsigned long long)st.ranges);
		for (size_t j = 0, k = 0; j < c->cfg.n_nodes; j++) {
			if (out[j]) {
				printf("%s%u", k++ ? "," : "", c->cfg.nodes[j].id);
			}
		}
		printf("],\"nodes\":[");
		for (size_t j = 0; j < st.n_nodes; j++) {
			const struct gc_node_stats *ns = &st.node[j];

			printf("%s{\"id\":%u,\"swept\":%s,\"listed\":%llu,\"strays\":%llu,"
			       "\"surplus\":%llu,\"deleted\":%llu,\"young\":%llu,\"bytes\":%llu}",
			       j ? "," : "", ns->node_id, ns->up ? "true" : "false",
			       (unsigned long long)ns->listed, (unsigned long long)ns->strays,
			       (unsigned long long)ns->surplus, (unsigned long long)ns->deleted,
			       (unsigned long long)ns->young, (unsigned long long)ns->bytes);
		}
		printf("],\"listed\":%llu,\"strays\":%llu,\"surplus\":%llu,\"deleted\":%llu,"
		       "\"young\":%llu,\"bytes\":%llu}\n",
		       (unsigned long long)st.listed, (unsigned long long)st.strays,
		       (unsigned long long)st.surplus, (unsigned long long)st.deleted,
		       (unsigned long long)st.young, (unsigned long long)st.bytes);
	} else {
		for (size_t j = 0; j < st.n_nodes; j++) {
			const struct gc_node_stats *ns = &st.node[j];

			if (!ns->up) {
				printf("node %u: not swept (down or failed)\n", ns->node_id);
			}
			if (j < c->cfg.n_nodes && out[j]) {
				printf("node %u is out: the copies standing in for its fragments "
				       "are kept\n",
				       ns->node_id);
			}
		}
		printf("gc%s: %llu blocks marked in %llu buckets (%llu range%s of ids); %llu "
		       "fragments listed: %llu strays, %llu surplus hand-offs; %llu %s (%s), %llu "
		       "younger than %u s kept\n",
		       o.dry_run ? " (dry run)" : "", (unsigned long long)st.blocks,
		       (unsigned long long)st.buckets, (unsigned long long)st.ranges,
		       st.ranges == 1 ? "" : "s", (unsigned long long)st.listed,
		       (unsigned long long)st.strays, (unsigned long long)st.surplus,
		       (unsigned long long)st.deleted, o.dry_run ? "would be deleted" : "deleted",
		       ctl_human(st.bytes, hb, sizeof(hb)), (unsigned long long)st.young,
		       o.grace_s);
	}
	gc_stats_free(&st);
	free(out);
	return CTL_OK;
}
