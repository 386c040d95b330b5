/* ctl_plan.c: objfsctl plan: capacity planning from the cluster's real
 * usage (PING, each node's usage history, each bucket's statfs) with the
 * seed's growth model, or growth fitted to the history (ctl/plan.c). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/client.h"
#include "../common/err.h"
#include "../common/meta_client.h"
#include "ctl.h"
#include "json.h"
#include "plan.h"

#define PLAN_TIMEOUT_MS 5000
#define PLAN_BUCKETS_MAX 1024
/* A fitted factor outside these is the fit of too short a history (a
 * burst extrapolated to a year), not a growth to plan for. */
#define PLAN_FIT_MIN 0.01
#define PLAN_FIT_MAX 1000.0

struct plan_opts {
	int years;
	double growth[3]; /* objects, bytes, requests; 0 = not given */
	double seasonal, fill, node_rate, meta_bytes, min_history_s, time_scale;
	size_t min_samples;
	const char *model; /* auto, seed, history */
	int meta_given;
	int json;
};

static const char *const metric_key[3] = {"objects", "bytes", "requests"};
static const double seed_growth[3] = {1.5, 2.0, 1.8};

struct bucket_use {
	char name[64];
	uint64_t files, bytes;
};

struct plan_state {
	struct node_status st[CFG_MAX_NODES];
	int up[CFG_MAX_NODES];
	struct usage_sample *hist[CFG_MAX_NODES];
	size_t n_hist[CFG_MAX_NODES];
	struct bucket_use buckets[PLAN_BUCKETS_MAX];
	size_t n_buckets;
	struct objc *oc;
};

static int add_bucket(void *arg, const char *name)
{
	struct plan_state *ps = arg;

	if (ps->n_buckets < PLAN_BUCKETS_MAX) {
		snprintf(ps->buckets[ps->n_buckets++].name, sizeof(ps->buckets[0].name), "%s",
			 name);
	}
	return 0;
}

/* PING and USAGE to every node at once. */
static void ask_nodes(struct ctl *c, struct cl *cl, struct plan_state *ps)
{
	size_t n = c->cfg.n_nodes;
	struct cl_req *r = calloc(2 * n, sizeof(*r));
	uint8_t body[4];
	struct wr w;

	if (r == NULL) {
		return;
	}
	wr_init_buf(&w, body, sizeof(body));
	wr_u32(&w, MSG_USAGE_MAX);
	for (size_t i = 0; i < n; i++) {
		r[i].node = i;
		r[i].type = MSG_PING;
		r[n + i].node = i;
		r[n + i].type = MSG_USAGE;
		r[n + i].body = body;
		r[n + i].body_len = sizeof(body);
	}
	cl_run(cl, r, 2 * n, PLAN_TIMEOUT_MS);
	for (size_t i = 0; i < n; i++) {
		struct rd rd;
		uint32_t cnt;

		if (r[i].status == 0) {
			rd_init(&rd, r[i].reply, r[i].reply_len);
			msg_get_node_status(&rd, &ps->st[i]);
			ps->up[i] = rd_done(&rd);
		}
		if (r[n + i].status == 0) {
			rd_init(&rd, r[n + i].reply, r[n + i].reply_len);
			cnt = rd_u32(&rd);
			if (cnt <= MSG_USAGE_MAX &&
			    (ps->hist[i] = calloc(cnt ? cnt : 1, sizeof(*ps->hist[i]))) != NULL) {
				for (uint32_t j = 0; j < cnt; j++) {
					msg_get_usage_sample(&rd, &ps->hist[i][j]);
				}
				ps->n_hist[i] = rd_done(&rd) ? cnt : 0;
			}
		}
		cl_req_release(&r[i]);
		cl_req_release(&r[n + i]);
	}
	free(r);
}

static void plan_usage(FILE *f)
{
	fprintf(
	    f, "Usage: objfsctl plan [--years N] [--objects-growth X] [--bytes-growth X]\n"
	       "                     [--requests-growth X] [--seasonal F] [--fill F]\n"
	       "                     [--node-rate R] [--meta-bytes B] [--model auto|seed|history]\n"
	       "                     [--min-history S] [--min-samples N] [--time-scale X]\n"
	       "                     [--json]\n"
	       "Capacity planning from the cluster's current usage: projects files, bytes\n"
	       "and request rate N years ahead (default 3) by growth per year (the seed's\n"
	       "1.5x files, 2x bytes, 1.8x requests, or fitted to the nodes' usage history)\n"
	       "at a seasonal peak (default 0.2 = +20%%), and prints per year the raw bytes\n"
	       "with the erasure-coding overhead of the configured profiles, the nodes\n"
	       "needed at the current per-node capacity filled to F (default 0.85), the\n"
	       "metadata shard sizes, and the date the current cluster fills.\n"
	       "  --X-growth X    growth factor per year of files, bytes or requests;\n"
	       "                  given, it wins over the fit\n"
	       "  --node-rate R   requests/s one node serves (default: the highest rate a\n"
	       "                  node reached in the history, a lower bound)\n"
	       "  --meta-bytes B  metadata bytes per file for shard sizes (default: measured\n"
	       "                  from the shard leaders' database files, else 512)\n"
	       "  --model M       auto (default): fit when the history has at least\n"
	       "                  --min-samples points (3) over --min-history seconds\n"
	       "                  (604800, a week), else the seed's factors; seed; history\n"
	       "                  (fail without enough history)\n"
	       "  --time-scale X  a second of history counts as X seconds (a test cluster\n"
	       "                  sampling every second can stand for months); the fit\n"
	       "                  and --min-history see scaled time\n"
	       "  --json          one JSON document (schema in objfsctl(8))\n");
}

static int parse_pos(const char *opt, const char *arg, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(arg, &end);

	if (*end != '\0' || !(v >= lo) || !(v <= hi)) {
		fprintf(stderr, "objfsctl plan: --%s: a number in %g..%g\n", opt, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_opts(int argc, char **argv, struct plan_opts *o)
{
	static const struct option opts[] = {
	    {"years", required_argument, NULL, 'y'},
	    {"objects-growth", required_argument, NULL, 'O'},
	    {"bytes-growth", required_argument, NULL, 'B'},
	    {"requests-growth", required_argument, NULL, 'R'},
	    {"seasonal", required_argument, NULL, 's'},
	    {"fill", required_argument, NULL, 'f'},
	    {"node-rate", required_argument, NULL, 'r'},
	    {"meta-bytes", required_argument, NULL, 'm'},
	    {"model", required_argument, NULL, 'M'},
	    {"min-history", required_argument, NULL, 'H'},
	    {"min-samples", required_argument, NULL, 'S'},
	    {"time-scale", required_argument, NULL, 'T'},
	    {"json", no_argument, NULL, 'J'},
	    {NULL, 0, NULL, 0},
	};
	double v;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int rc = 0;

		switch (c) {
		case 'y':
			rc = parse_pos("years", optarg, 1, 50, &v);
			o->years = (int)v;
			if (rc == 0 && v != floor(v)) {
				fprintf(stderr, "objfsctl plan: --years: a whole number\n");
				rc = -EINVAL;
			}
			break;
		case 'O':
			rc = parse_pos("objects-growth", optarg, 0.01, 1000, &o->growth[0]);
			break;
		case 'B':
			rc = parse_pos("bytes-growth", optarg, 0.01, 1000, &o->growth[1]);
			break;
		case 'R':
			rc = parse_pos("requests-growth", optarg, 0.01, 1000, &o->growth[2]);
			break;
		case 's':
			rc = parse_pos("seasonal", optarg, 0, 10, &o->seasonal);
			break;
		case 'f':
			rc = parse_pos("fill", optarg, 0.01, 1, &o->fill);
			break;
		case 'r':
			rc = parse_pos("node-rate", optarg, 0.001, 1e9, &o->node_rate);
			break;
		case 'm':
			rc = parse_pos("meta-bytes", optarg, 1, 1 << 20, &o->meta_bytes);
			o->meta_given = 1;
			break;
		case 'H':
			rc = parse_pos("min-history", optarg, 0, 1e10, &o->min_history_s);
			break;
		case 'S':
			rc = parse_pos("min-samples", optarg, 2, 1e6, &v);
			o->min_samples = (size_t)v;
			break;
		case 'M':
			if (strcmp(optarg, "auto") != 0 && strcmp(optarg, "seed") != 0 &&
			    strcmp(optarg, "history") != 0) {
				fprintf(stderr, "objfsctl plan: --model: auto, seed or history\n");
				rc = -EINVAL;
			}
			o->model = optarg;
			break;
		case 'T':
			rc = parse_pos("time-scale", optarg, 1e-6, 1e9, &o->time_scale);
			break;
		case 'J':
			o->json = 1;
			break;
		default:
			rc = -EINVAL;
		}
		if (rc != 0) {
			return rc;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "Usage: objfsctl plan [OPTIONS] (see --help)\n");
		return -EINVAL;
	}
	return 0;
}

static void fmt_date(double t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	strftime(buf, len, "%Y-%m-%d", gmtime_r(&tt, &tm));
}

static double profile_overhead(struct ec_profile p)
{
	return (double)(p.k + p.m) / (double)p.k;
}

int ctl_cmd_plan(struct ctl *c, int argc, char **argv)
{
	struct plan_opts o = {.years = 3,
			      .seasonal = 0.2,
			      .fill = 0.85,
			      .meta_bytes = 512,
			      .min_history_s = 7 * 86400,
			      .min_samples = 3,
			      .time_scale = 1,
			      .model = "auto"};
	struct plan_state *ps;
	struct plan_hist h[CFG_MAX_NODES];
	struct plan_series ser[3];
	static const enum plan_metric fit_metric[3] = {PLAN_OBJECTS, PLAN_FRAG_BYTES,
						       PLAN_REQ_RATE};
	double growth[3], now_v[3], cap_total = 0, node_cap = 0, overhead = 0, peak_node_rate = 0;
	const char *source[3], *meta_source = "default";
	size_t up = 0, samples = 0;
	uint64_t min_nodes = 0, used_raw = 0, logical = 0, files = 0;
	double now = (double)time(NULL), node_rate, years_fill, hist_span = 0;
	char d1[32];
	struct jw w;
	int rc = CTL_OK;

	if (ctl_is_help(argc, argv)) {
		plan_usage(stdout);
		return CTL_OK;
	}
	if (parse_opts(argc, argv, &o) != 0) {
		return CTL_USAGE; /* parse_opts or getopt said why */
	}
	if ((ps = calloc(1, sizeof(*ps))) == NULL) {
		return CTL_FAIL;
	}
	if (ctl_connect(c, &ps->oc) != CTL_OK) {
		free(ps);
		return CTL_FAIL;
	}
	cl_wait_connected(objc_cl(ps->oc), 2000);
	ask_nodes(c, objc_cl(ps->oc), ps);
	if (bucket_list(ps->oc, add_bucket, ps) != 0) {
		fprintf(stderr, "objfsctl plan: cannot list the buckets\n");
	}
	for (size_t b = 0; b < ps->n_buckets; b++) {
		struct mc_statfs st;
		struct mc *mc;

		if (mc_open(objc_cl(ps->oc), ps->buckets[b].name, &mc) != 0) {
			continue;
		}
		if (mc_statfs(mc, &st) == 0) {
			ps->buckets[b].files = st.files > 0 ? st.files - 1 : 0; /* less the root */
			ps->buckets[b].bytes = st.bytes;
			files += ps->buckets[b].files;
			logical += st.bytes;
		}
		mc_close(mc);
	}

	/* Today: capacity and use of the nodes that answer. */
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		h[i].s = ps->hist[i];
		h[i].n = ps->n_hist[i];
		samples += ps->n_hist[i];
		if (!ps->up[i]) {
			continue;
		}
		up++;
		cap_total += (double)ps->st[i].disk_total;
		used_raw += ps->st[i].frag_bytes;
	}
	node_cap = up ? cap_total / (double)up : 0;
	overhead = profile_overhead(c->cfg.ec);
	min_nodes = (uint64_t)c->cfg.ec.k + c->cfg.ec.m;
	for (size_t t = 0; t < c->cfg.n_tiers; t++) {
		struct ec_profile p = c->cfg.tiers[t].profile;

		if (profile_overhead(p) > overhead) {
			overhead = profile_overhead(p);
		}
		if ((uint64_t)p.k + p.m > min_nodes) {
			min_nodes = (uint64_t)p.k + p.m;
		}
	}

	/* Growth: the option, else the fit, else the seed. */
	for (int m = 0; m < 3; m++) {
		double f;

		memset(&ser[m], 0, sizeof(ser[m]));
		plan_cluster_series(h, c->cfg.n_nodes, fit_metric[m], &ser[m]);
		for (size_t i = 1; i < ser[m].n; i++) {
			ser[m].t[i] = ser[m].t[0] + (ser[m].t[i] - ser[m].t[0]) * o.time_scale;
		}
		if (ser[m].n > 1 && ser[m].t[ser[m].n - 1] - ser[m].t[0] > hist_span) {
			hist_span = ser[m].t[ser[m].n - 1] - ser[m].t[0];
		}
		growth[m] = seed_growth[m];
		source[m] = "seed";
		if (o.growth[m] > 0) {
			growth[m] = o.growth[m];
			source[m] = "option";
		} else if (strcmp(o.model, "seed") != 0 &&
			   plan_fit_growth(&ser[m], o.min_samples, o.min_history_s, &f) == 0 &&
			   f >= PLAN_FIT_MIN && f <= PLAN_FIT_MAX) {
			growth[m] = f;
			source[m] = "history";
		} else if (strcmp(o.model, "history") == 0) {
			fprintf(stderr,
				"objfsctl plan: --model history: the %s history has %zu points "
				"over %.0f s, fewer than %zu over %.0f s\n",
				metric_key[m], ser[m].n,
				ser[m].n > 1 ? ser[m].t[ser[m].n - 1] - ser[m].t[0] : 0.0,
				o.min_samples, o.min_history_s);
			rc = CTL_FAIL;
		}
	}
	/* The request rate now: the newest point of the cluster series, else
	 * each node's requests over its uptime. */
	now_v[0] = (double)files;
	now_v[1] = (double)logical;
	if (ser[2].n > 0) {
		now_v[2] = ser[2].v[ser[2].n - 1];
	} else {
		now_v[2] = 0;
		for (size_t i = 0; i < c->cfg.n_nodes; i++) {
			if (ps->up[i] && ps->st[i].uptime_s > 0) {
				now_v[2] += (double)ps->st[i].requests / (double)ps->st[i].uptime_s;
			}
		}
	}
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		struct plan_series one;
		struct plan_hist hi = h[i];

		if (plan_cluster_series(&hi, 1, PLAN_REQ_RATE, &one) == 0) {
			for (size_t j = 0; j < one.n; j++) {
				peak_node_rate =
				    one.v[j] > peak_node_rate ? one.v[j] : peak_node_rate;
			}
			plan_series_free(&one);
		}
	}
	node_rate = o.node_rate > 0 ? o.node_rate : peak_node_rate;
	/* Metadata per file: the leaders' database bytes over their files,
	 * from each node's newest sample. */
	{
		double mb = 0, mf = 0;

		for (size_t i = 0; i < c->cfg.n_nodes; i++) {
			if (h[i].n > 0) {
				mb += (double)h[i].s[h[i].n - 1].meta_bytes;
				mf += (double)h[i].s[h[i].n - 1].objects;
			}
		}
		if (!o.meta_given && mb > 0 && mf > 0) {
			o.meta_bytes = mb / mf;
			meta_source = "measured";
		} else if (o.meta_given) {
			meta_source = "option";
		}
	}
	years_fill = plan_years_to_fill((double)used_raw, cap_total * o.fill, growth[1]);
	if (rc != CTL_OK) {
		goto out;
	}

	if (o.json) {
		jw_init(&w, stdout, 1);
		jw_obj(&w, NULL);
		jw_obj(&w, "now");
		fmt_date(now, d1, sizeof(d1));
		jw_str(&w, "date", d1);
		jw_u64(&w, "nodes_up", up);
		jw_u64(&w, "nodes_total", c->cfg.n_nodes);
		jw_num(&w, "capacity_bytes", cap_total);
		jw_num(&w, "node_capacity_bytes", node_cap);
		jw_u64(&w, "raw_bytes", used_raw);
		jw_u64(&w, "logical_bytes", logical);
		jw_u64(&w, "files", files);
		jw_num(&w, "request_rate", now_v[2]);
		jw_num(&w, "node_request_rate", node_rate);
		jw_str(&w, "node_request_rate_source", o.node_rate > 0 ? "option" : "history");
		jw_end(&w);
		jw_obj(&w, "ec");
		jw_num(&w, "overhead", overhead);
		if (logical > 0) {
			jw_num(&w, "measured_overhead", (double)used_raw / (double)logical);
		} else {
			jw_null(&w, "measured_overhead");
		}
		jw_u64(&w, "min_nodes", min_nodes);
		jw_end(&w);
		jw_obj(&w, "growth");
		for (int m = 0; m < 3; m++) {
			jw_obj(&w, metric_key[m]);
			jw_num(&w, "factor", growth[m]);
			jw_str(&w, "source", source[m]);
			jw_end(&w);
		}
		jw_end(&w);
		jw_obj(&w, "history");
		jw_u64(&w, "samples", samples);
		jw_num(&w, "span_s", hist_span);
		jw_end(&w);
		jw_obj(&w, "meta_bytes_per_file");
		jw_num(&w, "value", o.meta_bytes);
		jw_str(&w, "source", meta_source);
		jw_end(&w);
		jw_num(&w, "seasonal", o.seasonal);
		jw_num(&w, "fill", o.fill);
		if (years_fill >= 0) {
			fmt_date(now + years_fill * PLAN_YEAR_S, d1, sizeof(d1));
			jw_num(&w, "years_to_fill", years_fill);
			jw_str(&w, "fill_date", d1);
		} else {
			jw_null(&w, "years_to_fill");
			jw_null(&w, "fill_date");
		}
		jw_arr(&w, "years");
	} else {
		char a[32], b[32], cc[32];

		fmt_date(now, d1, sizeof(d1));
		printf("cluster %s on %s: %zu of %zu nodes up, %s of %s capacity used "
		       "(%s per node)\n",
		       c->cfg.name, d1, up, c->cfg.n_nodes, ctl_human(used_raw, a, sizeof(a)),
		       ctl_human((uint64_t)cap_total, b, sizeof(b)),
		       ctl_human((uint64_t)node_cap, cc, sizeof(cc)));
		printf("files %llu, %s logical; requests %.1f/s (a node served up to %.1f/s%s)\n",
		       (unsigned long long)files, ctl_human(logical, a, sizeof(a)), now_v[2],
		       node_rate, o.node_rate > 0 ? ": --node-rate" : "");
		printf("erasure coding: x%.2f raw per logical byte (widest profile, needs %llu "
		       "nodes)",
		       overhead, (unsigned long long)min_nodes);
		if (logical > 0) {
			printf("; measured x%.2f", (double)used_raw / (double)logical);
		}
		printf("\ngrowth per year: files x%.3g (%s), bytes x%.3g (%s), requests x%.3g "
		       "(%s); history: %zu samples over %.0f s\n",
		       growth[0], source[0], growth[1], source[1], growth[2], source[2], samples,
		       hist_span);
		printf("seasonal peak +%.0f%%, nodes filled to %.0f%%\n", o.seasonal * 100,
		       o.fill * 100);
		if (years_fill >= 0) {
			fmt_date(now + years_fill * PLAN_YEAR_S, d1, sizeof(d1));
			printf("the current cluster reaches %.0f%% full in %.2f years: %s\n\n",
			       o.fill * 100, years_fill, d1);
		} else {
			printf("the current cluster does not fill at this growth\n\n");
		}
		printf("%-4s %-10s %12s %12s %12s %10s %8s %8s %8s\n", "YEAR", "DATE", "FILES",
		       "LOGICAL", "RAW", "REQ/S", "N-DISK", "N-REQ", "NODES");
	}
	for (int y = 0; y <= o.years; y++) {
		double f = plan_project(now_v[0], growth[0], y, o.seasonal);
		double lb = plan_project(now_v[1], growth[1], y, o.seasonal);
		/* Raw grows from what is stored today (inline files and the
		 * overhead of each profile in use), and never from less than
		 * the widest profile would need for the logical bytes. */
		double raw0 =
		    (double)used_raw > now_v[1] * overhead ? (double)used_raw : now_v[1] * overhead;
		double raw = plan_project(raw0, growth[1], y, o.seasonal);
		double rate = plan_project(now_v[2], growth[2], y, o.seasonal);
		uint64_t ns, nr,
		    n = plan_nodes_needed(raw, node_cap, o.fill, rate, node_rate, min_nodes, &ns,
					  &nr);
		char a[32], b[32];

		fmt_date(now + y * PLAN_YEAR_S, d1, sizeof(d1));
		if (!o.json) {
			printf("%-4d %-10s %12.0f %12s %12s %10.1f %8llu %8llu %8llu\n", y, d1, f,
			       ctl_human((uint64_t)lb, a, sizeof(a)),
			       ctl_human((uint64_t)raw, b, sizeof(b)), rate, (unsigned long long)ns,
			       (unsigned long long)nr, (unsigned long long)n);
			continue;
		}
		jw_obj(&w, NULL);
		jw_u64(&w, "year", (uint64_t)y);
		jw_str(&w, "date", d1);
		jw_num(&w, "files", round(f));
		jw_num(&w, "logical_bytes", round(lb));
		jw_num(&w, "raw_bytes", round(raw));
		jw_num(&w, "request_rate", rate);
		jw_u64(&w, "nodes_storage", ns);
		jw_u64(&w, "nodes_requests", nr);
		jw_u64(&w, "nodes", n);
		jw_end(&w);
	}
	/* Metadata shards: one per bucket, on meta_replicas nodes each. */
	if (o.json) {
		jw_end(&w);
		jw_arr(&w, "shards");
	} else {
		printf("\n%-24s %12s %12s %14s %14s\n", "SHARD", "FILES", "BYTES", "FILES-Y",
		       "META-Y");
	}
	for (size_t b = 0; b < ps->n_buckets; b++) {
		const struct bucket_use *bu = &ps->buckets[b];
		double fy = plan_project((double)bu->files, growth[0], o.years, o.seasonal);
		char a[32], m2[32];

		if (o.json) {
			jw_obj(&w, NULL);
			jw_str(&w, "bucket", bu->name);
			jw_u64(&w, "files", bu->files);
			jw_u64(&w, "bytes", bu->bytes);
			jw_num(&w, "files_projected", round(fy));
			jw_num(&w, "meta_bytes_projected", round(fy * o.meta_bytes));
			jw_end(&w);
			continue;
		}
		printf("%-24s %12llu %12s %14.0f %14s\n", bu->name, (unsigned long long)bu->files,
		       ctl_human(bu->bytes, a, sizeof(a)), fy,
		       ctl_human((uint64_t)(fy * o.meta_bytes), m2, sizeof(m2)));
	}
	if (o.json) {
		jw_end(&w);
		jw_finish(&w);
	} else {
		printf("(Y = year %d at the seasonal peak; META = FILES-Y x %.0f bytes per file "
		       "(%s),\n on each of the shard's %u replicas)\n",
		       o.years, o.meta_bytes, meta_source, c->cfg.meta_replicas);
	}
out:
	for (int m = 0; m < 3; m++) {
		plan_series_free(&ser[m]);
	}
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		free(ps->hist[i]);
	}
	objc_close(ps->oc);
	free(ps);
	return rc;
}
