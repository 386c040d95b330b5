/* plan.c: capacity-planning arithmetic (see plan.h). */
#include "plan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void plan_series_free(struct plan_series *s)
{
	free(s->t);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* A node's points of metric m: (time, value) pairs, ascending. */
struct pts {
	double *t, *v;
	size_t n;
};

static int node_points(const struct plan_hist *h, enum plan_metric m, struct pts *p)
{
	p->n = 0;
	p->t = malloc((h->n ? h->n : 1) * sizeof(double));
	p->v = malloc((h->n ? h->n : 1) * sizeof(double));
	if (p->t == NULL || p->v == NULL) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < h->n; i++) {
		const struct usage_sample *s = &h->s[i];
		double v;

		switch (m) {
		case PLAN_FRAG_BYTES:
			v = (double)s->frag_bytes;
			break;
		case PLAN_OBJECT_BYTES:
			v = (double)s->object_bytes;
			break;
		case PLAN_OBJECTS:
			v = (double)s->objects;
			break;
		default: {
			const struct usage_sample *a = i > 0 ? &h->s[i - 1] : NULL;

			/* One run of the node: its uptime and counter grew. */
			if (a == NULL || s->t_s <= a->t_s || s->uptime_s <= a->uptime_s ||
			    s->requests < a->requests) {
				continue;
			}
			v = (double)(s->requests - a->requests) / (double)(s->t_s - a->t_s);
		}
		}
		if (p->n > 0 && (double)s->t_s <= p->t[p->n - 1]) {
			continue; /* clock stepped back: keep the series ascending */
		}
		p->t[p->n] = (double)s->t_s;
		p->v[p->n] = v;
		p->n++;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int plan_cluster_series(const struct plan_hist *h, size_t n_nodes, enum plan_metric m,
			struct plan_series *out)
{
	struct pts *p = calloc(n_nodes ? n_nodes : 1, sizeof(*p));
	size_t *at = calloc(n_nodes ? n_nodes : 1, sizeof(*at));
	size_t total = 0, k = 0;
	double *times = NULL, start = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (p == NULL || at == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_nodes && rc == 0; i++) {
		rc = node_points(&h[i], m, &p[i]);
		total += p[i].n;
	}
	if (rc != 0 || total == 0) {
		goto out;
	}
	/* Every node that has points must have started: the latest first
	 * point is where the sum begins. */
	for (size_t i = 0; i < n_nodes; i++) {
		if (p[i].n > 0 && p[i].t[0] > start) {
			start = p[i].t[0];
		}
	}
	times = malloc(total * sizeof(*times));
	out->t = malloc(total * sizeof(double));
	out->v = malloc(total * sizeof(double));
	if (times == NULL || out->t == NULL || out->v == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n_nodes; i++) {
		for (size_t j = 0; j < p[i].n; j++) {
			times[k++] = p[i].t[j];
		}
	}
	qsort(times, total, sizeof(*times), cmp_double);
	for (size_t j = 0; j < total; j++) {
		double sum = 0;

		if (times[j] < start || (out->n > 0 && times[j] == out->t[out->n - 1])) {
			continue;
		}
		for (size_t i = 0; i < n_nodes; i++) {
			while (at[i] + 1 < p[i].n && p[i].t[at[i] + 1] <= times[j]) {
				at[i]++;
			}
			if (p[i].n > 0) {
				sum += p[i].v[at[i]];
			}
		}
		out->t[out->n] = times[j];
		out->v[out->n] = sum;
		out->n++;
	}
out:
	for (size_t i = 0; p != NULL && i < n_nodes; i++) {
		free(p[i].t);
		free(p[i].v);
	}
	free(p);
	free(at);
	free(times);
	if (rc != 0) {
		plan_series_free(out);
	}
	return rc;
}

int plan_fit_growth(const struct plan_series *s, size_t min_points, double min_span_s,
		    double *factor_per_year)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0, t0 = 0, first = 0, last = 0, den;
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		double x, y;

		if (!(s->v[i] > 0)) {
			continue; /* ln(0): an empty cluster has no growth rate */
		}
		if (n == 0) {
			t0 = first = s->t[i];
		}
		last = s->t[i];
		/* In years from the first point, so the sums stay well scaled. */
		x = (s->t[i] - t0) / PLAN_YEAR_S;
		y = log(s->v[i]);
		sx += x;
		sy += y;
		sxx += x * x;
		sxy += x * y;
		n++;
	}
	if (n < min_points || n < 2 || last - first < min_span_s) {
		return -ENODATA;
	}
	den = (double)n * sxx - sx * sx;
	if (!(den > 0)) {
		return -ENODATA;
	}
	*factor_per_year = exp(((double)n * sxy - sx * sy) / den);
	return 0;
}

double plan_years_to_fill(double used, double limit, double factor)
{
	if (used >= limit) {
		return 0;
	}
	if (!(used > 0) || !(factor > 1)) {
		return -1;
	}
	return log(limit / used) / log(factor);
}

double plan_project(double now, double factor, double year, double seasonal)
{
	return now * pow(factor, year) * (1 + seasonal);
}

uint64_t plan_nodes_needed(double raw, double node_capacity, double fill, double rate,
			   double node_rate, uint64_t min_nodes, uint64_t *for_storage,
			   uint64_t *for_requests)
{
	uint64_t st = 0, rq = 0, n;

	if (node_capacity > 0 && fill > 0) {
		st = (uint64_t)ceil(raw / (node_capacity * fill));
	}
	if (node_rate > 0) {
		rq = (uint64_t)ceil(rate / node_rate);
	}
	n = st > rq ? st : rq;
	*for_storage = st;
	*for_requests = rq;
	return n > min_nodes ? n : min_nodes;
}
