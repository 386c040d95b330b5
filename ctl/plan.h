/* plan.h: the arithmetic of `objfsctl plan`: cluster series from the
 * nodes' usage histories, exponential growth fitted to them, and the
 * seed's growth model projected over years.  Pure functions: no I/O, no
 * cluster, no clock (the caller passes "now"), so tests step them. */
#ifndef OBJFS_CTL_PLAN_H
#define OBJFS_CTL_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/msg.h"

#define PLAN_YEAR_S (365.25 * 86400.0)

enum plan_metric {
	PLAN_FRAG_BYTES,   /* raw bytes stored (fragments) */
	PLAN_OBJECT_BYTES, /* logical bytes of files */
	PLAN_OBJECTS,	   /* files (inodes) */
	PLAN_REQ_RATE,	   /* requests per second, from the requests counters */
};

/* One node's samples, oldest first. */
struct plan_hist {
	const struct usage_sample *s;
	size_t n;
};

/* A cluster total over time (t in Unix seconds, ascending). */
struct plan_series {
	double *t, *v;
	size_t n;
};

/* Builds the cluster total of metric m: at each sample time of any node,
 * the sum over nodes of each node's latest value at or before it (a node
 * counts from its first sample on; times before every node has one are
 * left out, so nodes coming online do not look like growth).  Request
 * rates come from consecutive samples of one run of a node (its uptime
 * grew); a restart starts a new run.  Returns 0 or -ENOMEM; the caller
 * frees with plan_series_free. */
int plan_cluster_series(const struct plan_hist *h, size_t n_nodes, enum plan_metric m,
			struct plan_series *out);
void plan_series_free(struct plan_series *s);

/* Least squares of ln(v) over t: the growth factor per year.  Needs at
 * least min_points positive values spanning at least min_span_s seconds:
 * else -ENODATA. */
int plan_fit_growth(const struct plan_series *s, size_t min_points, double min_span_s,
		    double *factor_per_year);

/* Years until used reaches limit growing by factor per year: 0 if it is
 * there already, a negative number if it never gets there (factor <= 1
 * or nothing used). */
double plan_years_to_fill(double used, double limit, double factor);

/* The seed's projection of a current value: value x factor^year, at the
 * seasonal peak (x (1 + seasonal)).  (The seed's model multiplies by
 * 1 + 0.2 sin(2 pi year), which is 1 at every whole year: taken as the
 * peak it is meant to be.) */
double plan_project(double now, double factor, double year, double seasonal);

/* Nodes needed to hold raw bytes at fill x per-node capacity, to serve
 * rate at node_rate per node (0: not counted), and never fewer than
 * min_nodes (the widest erasure code). */
uint64_t plan_nodes_needed(double raw, double node_capacity, double fill, double rate,
			   double node_rate, uint64_t min_nodes, uint64_t *for_storage,
			   uint64_t *for_requests);

#endif
