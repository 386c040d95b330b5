/* ctl_stats.c: `objfsctl stats`, a live view of the cluster from the
 * nodes' (and mounts') /metrics endpoints, in the manner of iostat: every
 * interval it scrapes each endpoint (nng's HTTP client), and prints the
 * rates of the interval from the difference of two scrapes: ops/s by
 * message type, MB/s in and out, p50/p99 from the request histograms'
 * buckets, errors/s, and for a mount its FUSE operations and cache hit
 * ratio.  Reads nothing but HTTP; needs no cluster secret. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/clock.h"
#include "../common/metrics.h"
#include "../common/metrics_http.h"
#include "ctl.h"
#include "json.h"

#define ST_OPS_MAX 64	    /* distinct op labels kept per endpoint */
#define ST_MOUNTS_MAX 16    /* --mount given at most this often */
#define ST_SCRAPE_MS 900    /* per endpoint: under the shortest interval */
#define ST_INTERVAL_MIN 0.2 /* s: below that the rates are mostly noise */

/* One op's counters in one scrape: a request-duration histogram (its
 * cumulative buckets), errors and bytes. */
struct st_op {
	char op[40];
	double count, errors, bytes_in, bytes_out;
	size_t nb;
	double le[MX_HIST_MAX + 1], cum[MX_HIST_MAX + 1];
};

/* One scrape of one endpoint. */
struct st_snap {
	int up;
	struct st_op ops[ST_OPS_MAX];
	size_t n_ops;
	double hits, misses, bytes_in, bytes_out; /* mounts: caches, blocks */
};

/* The family names an endpoint kind exposes. */
struct st_kind {
	const char *duration, *errors, *bytes;
	const char *in, *out; /* direction label values of bytes */
};
static const struct st_kind node_kind = {"objfs_node_request_duration_seconds",
					 "objfs_node_request_errors_total",
					 "objfs_node_request_bytes_total", "in", "out"};
static const struct st_kind mount_kind = {"objfs_mount_fuse_duration_seconds",
					  "objfs_mount_fuse_errors_total",
					  "objfs_mount_block_bytes_total", "download", "upload"};

/* The value of label key in a {labels} text, into buf ("" if absent). */
static const char *label(const char *labels, const char *key, char *buf, size_t len)
{
	char pat[48];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "%s=\"", key);
	buf[0] = '\0';
	for (p = strstr(labels, pat); p != NULL; p = strstr(p + 1, pat)) {
		if (p == labels || p[-1] == ',' || p[-1] == '{') {
			break;
		}
	}
	if (p == NULL) {
		return buf;
	}
	p += strlen(pat);
	e = strchr(p, '"');
	if (e != NULL) {
		snprintf(buf, len, "%.*s", (int)(e - p), p);
	}
	return buf;
}

static struct st_op *op_of(struct st_snap *s, const char *op)
{
	for (size_t i = 0; i < s->n_ops; i++) {
		if (strcmp(s->ops[i].op, op) == 0) {
			return &s->ops[i];
		}
	}
	if (s->n_ops == ST_OPS_MAX) {
		return NULL;
	}
	snprintf(s->ops[s->n_ops].op, sizeof(s->ops[0].op), "%s", op);
	return &s->ops[s->n_ops++];
}

/* Is line the sample name + suffix (followed by '{' or ' ')? */
static const char *is_sample(const char *line, const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	if (strncmp(line, name, n) != 0 || strncmp(line + n, suffix, k) != 0) {
		return NULL;
	}
	return line[n + k] == '{' || line[n + k] == ' ' ? line + n + k : NULL;
}

/* Fills s from exposition text (the parts stats shows). */
static void parse(const struct st_kind *k, char *text, struct st_snap *s)
{
	char *save = NULL, op[40], v[40];

	memset(s, 0, sizeof(*s));
	s->up = 1;
	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		const char *rest, *sp;
		struct st_op *o;
		double val;

		if (line[0] == '#' || (sp = strrchr(line, ' ')) == NULL) {
			continue;
		}
		val = strtod(sp + 1, NULL);
		label(line, "op", op, sizeof(op));
		if ((rest = is_sample(line, k->duration, "_bucket")) != NULL) {
			if ((o = op_of(s, op)) != NULL && o->nb <= MX_HIST_MAX) {
				label(rest, "le", v, sizeof(v));
				o->le[o->nb] = strcmp(v, "+Inf") == 0 ? INFINITY : strtod(v, NULL);
				o->cum[o->nb++] = val;
			}
		} else if (is_sample(line, k->duration, "_count") != NULL) {
			if ((o = op_of(s, op)) != NULL) {
				o->count = val;
			}
		} else if (is_sample(line, k->errors, "") != NULL) {
			if ((o = op_of(s, op)) != NULL) {
				o->errors += val;
			}
		} else if ((rest = is_sample(line, k->bytes, "")) != NULL) {
			int in = strcmp(label(rest, "direction", v, sizeof(v)), k->in) == 0;

			if (op[0] != '\0' && (o = op_of(s, op)) != NULL) {
				*(in ? &o->bytes_in : &o->bytes_out) += val;
			}
			*(in ? &s->bytes_in : &s->bytes_out) += val;
		} else if ((rest = is_sample(line, "objfs_mount_cache_hits_total", "")) != NULL &&
			   strstr(rest, "cache=\"memory\"") != NULL) {
			s->hits = val;
		} else if ((rest = is_sample(line, "objfs_mount_cache_misses_total", "")) != NULL &&
			   strstr(rest, "cache=\"memory\"") != NULL) {
			s->misses = val;
		}
	}
}

static int scrape(const char *addr, const struct st_kind *k, struct st_snap *s)
{
	char err[256], *body = NULL;
	size_t len;
	int rc = mx_http_get(addr, ST_SCRAPE_MS, &body, &len, err, sizeof(err));

	if (rc != 0) {
		memset(s, 0, sizeof(*s));
		return rc;
	}
	parse(k, body, s);
	free(body);
	return 0;
}

/* The rates of one interval (b minus a over dt), summed over endpoints. */
struct st_rate {
	char op[40];
	double ops, errors, in, out;
	size_t nb;
	double le[MX_HIST_MAX + 1], cum[MX_HIST_MAX + 1]; /* bucket deltas, cumulative */
};

struct st_view {
	struct st_rate ops[ST_OPS_MAX];
	size_t n_ops;
	struct st_rate all;
	double hits, misses;
};

static double delta(double b, double a)
{
	return b >= a ? b - a : b; /* a restart reset the counter */
}

static struct st_rate *rate_of(struct st_view *v, const char *op)
{
	for (size_t i = 0; i < v->n_ops; i++) {
		if (strcmp(v->ops[i].op, op) == 0) {
			return &v->ops[i];
		}
	}
	if (v->n_ops == ST_OPS_MAX) {
		return NULL;
	}
	snprintf(v->ops[v->n_ops].op, sizeof(v->ops[0].op), "%s", op);
	return &v->ops[v->n_ops++];
}

static void add_hist(struct st_rate *r, const struct st_op *ob, const struct st_op *oa)
{
	if (r->nb == 0) {
		r->nb = ob->nb;
		memcpy(r->le, ob->le, sizeof(r->le));
	}
	for (size_t i = 0; i < ob->nb && i < r->nb; i++) {
		r->cum[i] += delta(ob->cum[i], oa != NULL && i < oa->nb ? oa->cum[i] : 0);
	}
}

/* Adds endpoint's interval (b after a) to v, rates per second of dt. */
static void accumulate(struct st_view *v, const struct st_snap *a, const struct st_snap *b,
		       double dt)
{
	if (!a->up || !b->up) {
		return; /* no interval to measure: counted from the next one */
	}
	for (size_t i = 0; i < b->n_ops; i++) {
		const struct st_op *ob = &b->ops[i], *oa = NULL;
		struct st_rate *r = rate_of(v, ob->op);

		for (size_t j = 0; j < a->n_ops; j++) {
			if (strcmp(a->ops[j].op, ob->op) == 0) {
				oa = &a->ops[j];
			}
		}
		if (r == NULL) {
			continue;
		}
		r->ops += delta(ob->count, oa ? oa->count : 0) / dt;
		r->errors += delta(ob->errors, oa ? oa->errors : 0) / dt;
		add_hist(r, ob, oa);
		add_hist(&v->all, ob, oa);
		v->all.ops += delta(ob->count, oa ? oa->count : 0) / dt;
		v->all.errors += delta(ob->errors, oa ? oa->errors : 0) / dt;
	}
	v->all.in += delta(b->bytes_in, a->bytes_in) / dt;
	v->all.out += delta(b->bytes_out, a->bytes_out) / dt;
	v->hits += delta(b->hits, a->hits);
	v->misses += delta(b->misses, a->misses);
}

/* Prometheus' histogram_quantile: linear within the bucket holding the
 * q-th observation; the +Inf bucket answers with the highest bound.  NaN
 * when nothing was observed. */
static double quantile(const struct st_rate *r, double q)
{
	double total, rank, lo = 0, prev = 0;

	if (r->nb == 0 || (total = r->cum[r->nb - 1]) <= 0) {
		return NAN;
	}
	rank = q * total;
	for (size_t i = 0; i < r->nb; i++) {
		if (r->cum[i] >= rank) {
			if (isinf(r->le[i])) {
				return i > 0 ? r->le[i - 1] : NAN;
			}
			return lo + (r->le[i] - lo) *
					(r->cum[i] > prev ? (rank - prev) / (r->cum[i] - prev) : 1);
		}
		lo = r->le[i];
		prev = r->cum[i];
	}
	return lo;
}

/* ---- output ----------------------------------------------------------- */

struct st_target {
	const char *addr;
	uint32_t node_id; /* 0 for a mount */
	const struct st_kind *k;
	struct st_snap prev, cur;
	int rc;
};

static void ms_str(char *buf, size_t len, double s)
{
	if (isnan(s)) {
		snprintf(buf, len, "-");
	} else {
		snprintf(buf, len, "%.2f", s * 1e3);
	}
}

/* The rates of r (and with v the bytes, and for a mount the hit ratio). */
static void json_rate(struct jw *w, const struct st_rate *r, const struct st_view *v, int mount)
{
	jw_num(w, "ops_per_s", r->ops);
	jw_num(w, "errors_per_s", r->errors);
	jw_num(w, "p50_s", quantile(r, 0.5));
	jw_num(w, "p99_s", quantile(r, 0.99));
	if (v != NULL) {
		jw_num(w, "in_bytes_per_s", r->in);
		jw_num(w, "out_bytes_per_s", r->out);
		if (mount) {
			jw_num(w, "cache_hit_ratio",
			       v->hits + v->misses > 0 ? v->hits / (v->hits + v->misses) : NAN);
		}
	}
}

static void json_ops(struct jw *w, const struct st_view *v)
{
	jw_arr(w, "ops");
	for (size_t i = 0; i < v->n_ops; i++) {
		jw_obj(w, NULL);
		jw_str(w, "op", v->ops[i].op);
		json_rate(w, &v->ops[i], NULL, 0);
		jw_end(w);
	}
	jw_end(w);
}

/* One document per interval, one line each (objfsctl(8)). */
static void print_json(struct st_target *t, size_t n, double dt)
{
	struct st_view cl = {0};
	size_t up = 0, nodes = 0;
	struct jw w;

	for (size_t i = 0; i < n; i++) {
		if (t[i].node_id != 0 && t[i].rc == 0) {
			accumulate(&cl, &t[i].prev, &t[i].cur, dt);
			up++;
		}
		nodes += t[i].node_id != 0;
	}
	jw_init(&w, stdout, 0);
	jw_obj(&w, NULL);
	jw_num(&w, "interval_s", dt);
	jw_obj(&w, "cluster");
	jw_u64(&w, "nodes", nodes);
	jw_u64(&w, "nodes_up", up);
	json_rate(&w, &cl.all, &cl, 0);
	json_ops(&w, &cl);
	jw_end(&w);
	jw_arr(&w, "nodes");
	for (size_t i = 0; i < n; i++) {
		struct st_view v = {0};

		if (t[i].node_id == 0) {
			continue;
		}
		jw_obj(&w, NULL);
		jw_u64(&w, "id", t[i].node_id);
		jw_str(&w, "metrics", t[i].addr);
		jw_bool(&w, "up", t[i].rc == 0);
		if (t[i].rc == 0) {
			accumulate(&v, &t[i].prev, &t[i].cur, dt);
			json_rate(&w, &v.all, &v, 0);
		}
		jw_end(&w);
	}
	jw_end(&w);
	jw_arr(&w, "mounts");
	for (size_t i = 0; i < n; i++) {
		struct st_view v = {0};

		if (t[i].node_id != 0) {
			continue;
		}
		jw_obj(&w, NULL);
		jw_str(&w, "metrics", t[i].addr);
		jw_bool(&w, "up", t[i].rc == 0);
		if (t[i].rc == 0) {
			accumulate(&v, &t[i].prev, &t[i].cur, dt);
			json_rate(&w, &v.all, &v, 1);
			json_ops(&w, &v);
		}
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w);
	jw_finish(&w);
	fflush(stdout);
}

static void print_table(struct st_target *t, size_t n, double dt, int clear)
{
	struct st_view cl = {0};
	size_t up = 0, nodes = 0;
	char p50[16], p99[16];

	for (size_t i = 0; i < n; i++) {
		if (t[i].node_id != 0 && t[i].rc == 0) {
			accumulate(&cl, &t[i].prev, &t[i].cur, dt);
			up++;
		}
		nodes += t[i].node_id != 0;
	}
	if (clear) {
		printf("\033[H\033[2J");
	}
	ms_str(p50, sizeof(p50), quantile(&cl.all, 0.5));
	ms_str(p99, sizeof(p99), quantile(&cl.all, 0.99));
	printf("cluster: %zu/%zu nodes  %.1f ops/s  in %.2f MB/s  out %.2f MB/s  p50 %s ms  "
	       "p99 %s ms  errors %.1f/s  (%.1f s)\n",
	       up, nodes, cl.all.ops, cl.all.in / 1e6, cl.all.out / 1e6, p50, p99, cl.all.errors,
	       dt);
	printf("\n%-16s %10s %10s %10s %10s\n", "op", "ops/s", "p50 ms", "p99 ms", "errors/s");
	for (size_t i = 0; i < cl.n_ops; i++) {
		const struct st_rate *r = &cl.ops[i];

		if (r->ops <= 0 && r->errors <= 0) {
			continue; /* idle types would drown the busy ones */
		}
		ms_str(p50, sizeof(p50), quantile(r, 0.5));
		ms_str(p99, sizeof(p99), quantile(r, 0.99));
		printf("%-16s %10.1f %10s %10s %10.1f\n", r->op, r->ops, p50, p99, r->errors);
	}
	printf("\n%-5s %-22s %10s %9s %9s %9s %9s %9s\n", "node", "metrics", "ops/s", "in MB/s",
	       "out MB/s", "p50 ms", "p99 ms", "errors/s");
	for (size_t i = 0; i < n; i++) {
		struct st_view v = {0};

		if (t[i].node_id == 0) {
			continue;
		}
		if (t[i].rc != 0) {
			printf("%-5u %-22s %10s\n", t[i].node_id, t[i].addr, "down");
			continue;
		}
		accumulate(&v, &t[i].prev, &t[i].cur, dt);
		ms_str(p50, sizeof(p50), quantile(&v.all, 0.5));
		ms_str(p99, sizeof(p99), quantile(&v.all, 0.99));
		printf("%-5u %-22s %10.1f %9.2f %9.2f %9s %9s %9.1f\n", t[i].node_id, t[i].addr,
		       v.all.ops, v.all.in / 1e6, v.all.out / 1e6, p50, p99, v.all.errors);
	}
	for (size_t i = 0; i < n; i++) {
		struct st_view v = {0};

		if (t[i].node_id != 0) {
			continue;
		}
		if (t[i].rc != 0) {
			printf("\nmount %s: down\n", t[i].addr);
			continue;
		}
		accumulate(&v, &t[i].prev, &t[i].cur, dt);
		ms_str(p50, sizeof(p50), quantile(&v.all, 0.5));
		ms_str(p99, sizeof(p99), quantile(&v.all, 0.99));
		printf("\nmount %s: %.1f FUSE ops/s  p50 %s ms  p99 %s ms  errors %.1f/s  "
		       "read %.2f MB/s  written %.2f MB/s  cache hits ",
		       t[i].addr, v.all.ops, p50, p99, v.all.errors, v.all.in / 1e6,
		       v.all.out / 1e6);
		if (v.hits + v.misses > 0) {
			printf("%.1f%%\n", 100.0 * v.hits / (v.hits + v.misses));
		} else {
			printf("-\n");
		}
	}
	fflush(stdout);
}

static void stats_usage(FILE *f)
{
	fprintf(f,
		"Usage: objfsctl stats [--once] [--json] [--interval S] [--mount HOST:PORT]...\n"
		"Live view of the cluster from every node's /metrics (its metrics_addr):\n"
		"ops/s by message type, MB/s in and out, p50/p99 latency and errors/s, for\n"
		"the cluster and per node, refreshed every interval until interrupted.\n\n"
		"  -1, --once            print one interval and exit\n"
		"  -j, --json            one JSON object per interval (schema in objfsctl(8))\n"
		"  -i, --interval S      seconds between samples (default 1; at least 0.2)\n"
		"  -m, --mount HOST:PORT also show the mount serving metrics there (-o metrics):\n"
		"                        FUSE ops/s, latency, errors, cache hit ratio\n\n"
		"Exit status: 0; 1 when no node has a metrics_addr or none answers.\n");
}

int ctl_cmd_stats(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"once", no_argument, NULL, '1'},
	    {"json", no_argument, NULL, 'j'},
	    {"interval", required_argument, NULL, 'i'},
	    {"mount", required_argument, NULL, 'm'},
	    {NULL, 0, NULL, 0},
	};
	const char *mounts[ST_MOUNTS_MAX];
	size_t n_mounts = 0, n = 0;
	struct st_target *t;
	double interval = 1.0;
	int once = 0, json = 0, o, tty = isatty(STDOUT_FILENO), rc = CTL_OK;

	if (ctl_is_help(argc, argv)) {
		stats_usage(stdout);
		return CTL_OK;
	}
	while ((o = getopt_long(argc, argv, "1ji:m:", opts, NULL)) != -1) {
		char *end;

		switch (o) {
		case '1':
			once = 1;
			break;
		case 'j':
			json = 1;
			break;
		case 'i':
			interval = strtod(optarg, &end);
			if (*end != '\0' || !(interval >= ST_INTERVAL_MIN) || interval > 3600) {
				fprintf(stderr,
					"objfsctl stats: --interval must be 0.2..3600 seconds\n");
				return CTL_USAGE;
			}
			break;
		case 'm':
			if (n_mounts == ST_MOUNTS_MAX) {
				fprintf(stderr, "objfsctl stats: at most %d --mount\n",
					ST_MOUNTS_MAX);
				return CTL_USAGE;
			}
			mounts[n_mounts++] = optarg;
			break;
		default:
			stats_usage(stderr);
			return CTL_USAGE;
		}
	}
	if (optind != argc) {
		stats_usage(stderr);
		return CTL_USAGE;
	}
	if (ctl_load(c) != CTL_OK) {
		return CTL_FAIL;
	}
	t = calloc(c->cfg.n_nodes + n_mounts, sizeof(*t));
	if (t == NULL) {
		fprintf(stderr, "objfsctl stats: out of memory\n");
		return CTL_FAIL;
	}
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		if (c->cfg.nodes[i].metrics_addr[0] != '\0') {
			t[n++] = (struct st_target){.addr = c->cfg.nodes[i].metrics_addr,
						    .node_id = c->cfg.nodes[i].id,
						    .k = &node_kind};
		}
	}
	if (n == 0) {
		fprintf(stderr,
			"objfsctl stats: no node of %s has a metrics_addr (objfs.conf(5))\n",
			c->cfg.path);
		free(t);
		return CTL_FAIL;
	}
	for (size_t i = 0; i < n_mounts; i++) {
		t[n++] = (struct st_target){.addr = mounts[i], .k = &mount_kind};
	}
	{
		int64_t t_prev = clock_mono_ns(), t_cur;
		size_t answered = 0;

		for (size_t i = 0; i < n; i++) {
			t[i].rc = scrape(t[i].addr, t[i].k, &t[i].prev);
			answered += t[i].node_id != 0 && t[i].rc == 0;
		}
		if (answered == 0) {
			fprintf(stderr,
				"objfsctl stats: no node's metrics endpoint answers (first: %s)\n",
				t[0].addr);
			free(t);
			return CTL_FAIL;
		}
		for (;;) {
			struct timespec ts = {.tv_sec = (time_t)interval,
					      .tv_nsec =
						  (long)((interval - floor(interval)) * 1e9)};

			nanosleep(&ts, NULL);
			t_cur = clock_mono_ns();
			for (size_t i = 0; i < n; i++) {
				t[i].rc = scrape(t[i].addr, t[i].k, &t[i].cur);
			}
			if (json) {
				print_json(t, n, (double)(t_cur - t_prev) / 1e9);
			} else {
				print_table(t, n, (double)(t_cur - t_prev) / 1e9, tty && !once);
			}
			if (once) {
				break;
			}
			for (size_t i = 0; i < n; i++) {
				/* A target that missed a scrape restarts from its next one. */
				t[i].prev = t[i].cur;
			}
			t_prev = t_cur;
		}
	}
	free(t);
	return rc;
}
