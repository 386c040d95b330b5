/* ctl_scrub.c: objfsctl scrub [BUCKET] and scrub status.  Without a
 * bucket it starts a pass of every node's scrubber (SCRUB) and follows
 * them to the end; with one it reads every fragment of the bucket's
 * blocks on the nodes (fsck.h, no repair), which also finds the missing
 * ones.  Talks to the nodes; keeps nothing. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/err.h"
#include "../common/fsck.h"
#include "../common/meta_client.h"
#include "ctl.h"
#include "ctl_maint.h"

#define POLL_MS 200 /* status polls while passes run */

static void scrub_usage(FILE *f)
{
	fprintf(f, "Usage: objfsctl scrub [--json] [BUCKET]\n"
		   "       objfsctl scrub status [--json]\n"
		   "Verify stored data now.  Without BUCKET, every up node starts a scrub\n"
		   "pass (a full read of every fragment it stores, checked against its\n"
		   "XXH3, at the node's scrub_rate) and this waits for all of them, with a\n"
		   "progress bar on a terminal.  With BUCKET, every fragment of every block\n"
		   "of its files is read in full on the nodes holding it, which also finds\n"
		   "fragments that are missing.  Damaged fragments are quarantined by their\n"
		   "node; 'objfsctl repair BUCKET' or 'objfsctl fsck --repair' rebuilds them.\n"
		   "'scrub status' shows each node's last complete pass and any pass under way.\n\n"
		   "  --json     print the result as one JSON object\n\n"
		   "Exit status: 0 nothing damaged, 3 damaged or missing fragments found,\n"
		   "1 failure, 2 usage error.\n");
}

/* One node's answer to SCRUB. */
static int scrub_call(struct cl *cl, size_t node, uint8_t op, struct scrub_status *st)
{
	struct cl_req r = {.node = node, .type = MSG_SCRUB, .body = &op, .body_len = 1};
	struct rd rd;
	int rc;

	cl_run(cl, &r, 1, 0);
	rc = r.status;
	if (rc == 0) {
		rd_init(&rd, r.reply, r.reply_len);
		msg_get_scrub_status(&rd, st);
		if (!rd_done(&rd)) {
			rc = -OBJ_EPROTO;
		}
	}
	cl_req_release(&r);
	return rc;
}

static void print_time(char *buf, size_t len, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0) {
		snprintf(buf, len, "never");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm);
}

static void json_pass(FILE *f, const struct scrub_pass *p)
{
	fprintf(f,
		"{\"id\":%u,\"started_ms\":%llu,\"finished_ms\":%llu,\"total\":%llu,"
		"\"checked\":%llu,\"bad\":%llu,\"bytes\":%llu}",
		p->id, (unsigned long long)p->started_ms, (unsigned long long)p->finished_ms,
		(unsigned long long)p->total, (unsigned long long)p->checked,
		(unsigned long long)p->bad, (unsigned long long)p->bytes);
}

static void json_bad(FILE *f, const struct scrub_status *st)
{
	fputs("[", f);
	for (uint32_t i = 0; i < st->n_bad; i++) {
		char hex[2 * BLOCK_ID_LEN + 1];

		msg_block_hex(st->bad[i].block_id, hex);
		fprintf(f, "%s\"%s.%u\"", i ? "," : "", hex, st->bad[i].index);
	}
	fputs("]", f);
}

/* scrub status */
static int do_status(struct objc *oc, int json)
{
	const struct cfg *cfg = cl_cfg(objc_cl(oc));
	int failed = 0;

	if (json) {
		printf("{\"nodes\":[");
	} else {
		printf("%-5s %-22s %10s %6s %10s %8s  %s\n", "NODE", "LAST PASS", "FRAGMENTS",
		       "BAD", "BYTES", "SECONDS", "NOW");
	}
	for (size_t j = 0; j < cfg->n_nodes; j++) {
		struct scrub_status st;
		int rc = scrub_call(objc_cl(oc), j, SCRUB_STATUS, &st);
		char when[32], hb[32], now[64];

		if (json) {
			printf("%s{\"id\":%u,\"up\":%s", j ? "," : "", cfg->nodes[j].id,
			       rc == 0 ? "true" : "false");
			if (rc == 0) {
				printf(
				    ",\"running\":%s,\"rate_mb\":%u,\"period_s\":%llu,\"current\":",
				    st.running ? "true" : "false", st.rate_mb,
				    (unsigned long long)st.period_s);
				json_pass(stdout, &st.cur);
				printf(",\"last\":");
				json_pass(stdout, &st.last);
				printf(",\"bad_fragments\":");
				json_bad(stdout, &st);
			} else {
				printf(",\"error\":");
				ctl_json_str(obj_strerror(rc));
			}
			printf("}");
			continue;
		}
		if (rc != 0) {
			printf("%-5u %s\n", cfg->nodes[j].id, obj_strerror(rc));
			failed = 1;
			continue;
		}
		print_time(when, sizeof(when), st.last.finished_ms);
		if (st.running) {
			snprintf(now, sizeof(now), "pass %u: %llu of %llu", st.cur.id,
				 (unsigned long long)st.cur.checked,
				 (unsigned long long)st.cur.total);
		} else {
			snprintf(now, sizeof(now), "idle");
		}
		printf("%-5u %-22s %10llu %6llu %10s %8.1f  %s\n", cfg->nodes[j].id, when,
		       (unsigned long long)st.last.checked, (unsigned long long)st.last.bad,
		       ctl_human(st.last.bytes, hb, sizeof(hb)),
		       st.last.id ? (double)(st.last.finished_ms - st.last.started_ms) / 1000.0
				  : 0.0,
		       now);
	}
	if (json) {
		printf("]}\n");
	}
	return failed ? CTL_FAIL : CTL_OK;
}

/* scrub (every node) */
static int do_nodes(struct objc *oc, int json)
{
	struct cl *cl = objc_cl(oc);
	const struct cfg *cfg = cl_cfg(cl);
	size_t n = cfg->n_nodes;
	struct scrub_status *st = calloc(n, sizeof(*st));
	uint32_t *want = calloc(n, sizeof(*want));
	int *state = calloc(n, sizeof(*state)); /* 0 down, 1 running, 2 done, 3 lost */
	uint64_t bad = 0, checked = 0, bytes = 0, t0 = 0;
	struct ctl_progress pb;
	size_t left = 0;
	int rc = CTL_OK;

	if (st == NULL || want == NULL || state == NULL) {
		free(st);
		free(want);
		free(state);
		fprintf(stderr, "objfsctl scrub: out of memory\n");
		return CTL_FAIL;
	}
	ctl_progress_init(&pb, json);
	for (size_t j = 0; j < n; j++) {
		if (cl_node_up(cl, j) && scrub_call(cl, j, SCRUB_START, &st[j]) == 0) {
			want[j] = st[j].cur.id;
			state[j] = 1;
			left++;
		}
	}
	t0 = (uint64_t)time(NULL);
	while (left > 0) {
		uint64_t done = 0, total = 0;
		char what[64];

		usleep(POLL_MS * 1000);
		for (size_t j = 0; j < n; j++) {
			if (state[j] != 1) {
				if (state[j] == 2) {
					done += st[j].last.checked;
					total += st[j].last.checked;
				}
				continue;
			}
			if (scrub_call(cl, j, SCRUB_STATUS, &st[j]) != 0) {
				fprintf(stderr, "objfsctl scrub: node %u stopped answering\n",
					cfg->nodes[j].id);
				state[j] = 3;
				left--;
				continue;
			}
			if (st[j].last.id >= want[j]) {
				state[j] = 2;
				left--;
				done += st[j].last.checked;
				total += st[j].last.checked;
			} else {
				done += st[j].running ? st[j].cur.checked : 0;
				total += st[j].cur.total;
			}
		}
		snprintf(what, sizeof(what), "%llu fragments, %zu nodes running",
			 (unsigned long long)done, left);
		ctl_progress_show(&pb, done, total, what);
	}
	ctl_progress_end(&pb);
	if (json) {
		printf("{\"nodes\":[");
	}
	for (size_t j = 0, first = 1; j < n; j++) {
		const struct scrub_pass *p = &st[j].last;

		if (state[j] == 2) {
			bad += p->bad;
			checked += p->checked;
			bytes += p->bytes;
		} else {
			rc = CTL_FAIL;
		}
		if (json) {
			printf("%s{\"id\":%u,\"state\":\"%s\"", first ? "" : ",", cfg->nodes[j].id,
			       state[j] == 2   ? "done"
			       : state[j] == 0 ? "down"
					       : "failed");
			if (state[j] == 2) {
				printf(",\"pass\":");
				json_pass(stdout, p);
				printf(",\"bad_fragments\":");
				json_bad(stdout, &st[j]);
			}
			printf("}");
			first = 0;
			continue;
		}
		if (state[j] == 2) {
			char hb[32];

			printf("node %u: pass %u: %llu fragments (%s) checked, %llu bad, %.1f s\n",
			       cfg->nodes[j].id, p->id, (unsigned long long)p->checked,
			       ctl_human(p->bytes, hb, sizeof(hb)), (unsigned long long)p->bad,
			       (double)(p->finished_ms - p->started_ms) / 1000.0);
			/* The node lists the latest bad fragments, oldest first:
			 * those of this pass are the last p->bad. */
			uint32_t from = p->bad < st[j].n_bad ? st[j].n_bad - (uint32_t)p->bad : 0;

			for (uint32_t i = from; i < st[j].n_bad; i++) {
				char hex[2 * BLOCK_ID_LEN + 1];

				msg_block_hex(st[j].bad[i].block_id, hex);
				printf("  quarantined %s.%u\n", hex, st[j].bad[i].index);
			}
		} else {
			printf("node %u: %s\n", cfg->nodes[j].id,
			       state[j] == 0 ? "down, not scrubbed" : "failed");
		}
	}
	if (json) {
		printf("],\"checked\":%llu,\"bad\":%llu,\"bytes\":%llu,\"seconds\":%llu}\n",
		       (unsigned long long)checked, (unsigned long long)bad,
		       (unsigned long long)bytes, (unsigned long long)((uint64_t)time(NULL) - t0));
	} else {
		printf("scrub: %llu fragments checked, %llu bad%s\n", (unsigned long long)checked,
		       (unsigned long long)bad,
		       bad ? " (quarantined: run objfsctl repair or fsck --repair)" : "");
	}
	free(st);
	free(want);
	free(state);
	if (rc == CTL_OK && bad > 0) {
		rc = CTL_DEGRADED;
	}
	return rc;
}

struct bucket_scrub {
	struct ctl_progress pb;
	uint64_t total;
};

static void bs_progress(void *arg, uint64_t done)
{
	struct bucket_scrub *bs = arg;
	char hb[32], what[64];

	snprintf(what, sizeof(what), "%s of file data", ctl_human(done, hb, sizeof(hb)));
	ctl_progress_show(&bs->pb, done, bs->total, what);
}

/* scrub BUCKET */
static int do_bucket(struct objc *oc, const char *bucket, int json)
{
	struct fsck_stats st = {0};
	struct bucket_scrub bs = {0};
	struct fsck_opts o = {.progress = bs_progress, .arg = &bs};
	struct mc *mc;
	int rc;

	ctl_progress_init(&bs.pb, json);
	if (mc_open(objc_cl(oc), bucket, &mc) == 0) {
		struct mc_statfs sf;

		if (mc_statfs(mc, &sf) == 0) {
			bs.total = sf.bytes;
		}
		mc_close(mc);
	}
	rc = fsck_bucket(oc, bucket, &o, &st);
	ctl_progress_end(&bs.pb);
	if (rc != 0) {
		fprintf(stderr, "objfsctl scrub: %s: %s\n", bucket, obj_strerror(rc));
		return CTL_FAIL;
	}
	if (json) {
		printf("{\"bucket\":");
		ctl_json_str(bucket);
		printf(",\"files\":%llu,\"blocks\":%llu,\"checked\":%llu,\"bad\":%llu,"
		       "\"missing\":%llu,\"unreachable\":%llu}\n",
		       (unsigned long long)st.files, (unsigned long long)st.blocks,
		       (unsigned long long)st.frags_checked, (unsigned long long)st.frags_bad,
		       (unsigned long long)st.frags_missing,
		       (unsigned long long)st.frags_unreachable);
	} else {
		printf("scrub %s: %llu files, %llu blocks, %llu fragments intact, %llu bad "
		       "(quarantined), %llu missing%s\n",
		       bucket, (unsigned long long)st.files, (unsigned long long)st.blocks,
		       (unsigned long long)st.frags_checked, (unsigned long long)st.frags_bad,
		       (unsigned long long)st.frags_missing,
		       st.frags_bad + st.frags_missing ? ": run objfsctl repair" : "");
		if (st.frags_unreachable > 0) {
			printf("%llu fragments not checked: their nodes are down\n",
			       (unsigned long long)st.frags_unreachable);
		}
	}
	if (st.frags_bad + st.frags_missing > 0) {
		return CTL_DEGRADED;
	}
	return st.frags_unreachable > 0 ? CTL_FAIL : CTL_OK;
}

int ctl_cmd_scrub(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
	int json = 0, ch, rc;
	struct objc *oc;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			json = 1;
			break;
		case 'h':
			scrub_usage(stdout);
			return CTL_OK;
		default:
			scrub_usage(stderr);
			return CTL_USAGE;
		}
	}
	if (argc - optind > 1) {
		scrub_usage(stderr);
		return CTL_USAGE;
	}
	if (optind < argc && strcmp(argv[optind], "status") != 0 &&
	    msg_check_bucket(argv[optind]) != 0) {
		fprintf(stderr, "objfsctl scrub: invalid bucket name '%s'\n", argv[optind]);
		return CTL_USAGE;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		return CTL_FAIL;
	}
	cl_wait_connected(objc_cl(oc), 2000);
	if (optind == argc) {
		rc = do_nodes(oc, json);
	} else if (strcmp(argv[optind], "status") == 0) {
		rc = do_status(oc, json);
	} else {
		rc = do_bucket(oc, argv[optind], json);
	}
	objc_close(oc);
	return rc;
}
