/* metrics.h: a registry of counters, gauges and histograms, and their
 * Prometheus text exposition (format 0.0.4).
 * Observations are relaxed atomics on series made at start-up: no lock
 * and no allocation per observation.  Registration and exposition take
 * the registry's mutex.  Never does I/O (metrics_http.c serves the text).
 *
 * Labels are kept low-cardinality by construction: series are made for
 * the names of fixed tables (message types, FUSE operations, errno names),
 * never for paths, keys or client addresses.  Every function accepts a
 * NULL registry or series and then does nothing, so code instrumented for
 * a process whose metrics are off pays one branch. */
#ifndef OBJFS_METRICS_H
#define OBJFS_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum mx_type { MX_COUNTER, MX_GAUGE, MX_HISTOGRAM };

/* The fixed upper bounds of a histogram's buckets, ascending, in raw
 * units (nanoseconds, bytes); scale turns a raw value into the metric's
 * base unit (1e-9: seconds).  A +Inf bucket is always added. */
struct mx_buckets {
	size_t n;
	const uint64_t *le;
	double scale;
};

/* Request and I/O latencies: 50 us .. 10 s (raw ns, exposed in seconds). */
extern const struct mx_buckets mx_buckets_latency;
/* Transfer sizes: 512 B .. 64 MiB (bytes). */
extern const struct mx_buckets mx_buckets_bytes;

#define MX_HIST_MAX 24 /* most bounds a histogram may have */

struct mx_registry;
struct mx_metric; /* one series: a name and one set of label values */
struct mx_out;	  /* the exposition being written, for collectors */

/* Returns a new empty registry, or NULL when out of memory. */
struct mx_registry *mx_create(void);
/* Frees r and every series; no observation may run concurrently. */
void mx_destroy(struct mx_registry *r);

/* Find or create the series name{labels}.  labels is preformatted text,
 * `op="frag_put",direction="in"` (values escaped with mx_label), or NULL
 * or "" for none.  Every series of one name must agree on type, help and
 * buckets: a mismatch returns NULL, as does running out of memory.  The
 * series lives as long as r.  Takes the registry's mutex: call at
 * start-up, or on cold paths (an error's first occurrence). */
struct mx_metric *mx_counter(struct mx_registry *r, const char *name, const char *help,
			     const char *labels);
struct mx_metric *mx_gauge(struct mx_registry *r, const char *name, const char *help,
			   const char *labels);
struct mx_metric *mx_histogram(struct mx_registry *r, const char *name, const char *help,
			       const char *labels, const struct mx_buckets *b);

/* Hot path: lock-free, allocation-free, any thread. */
void mx_add(struct mx_metric *m, uint64_t n);	    /* counter += n */
void mx_set(struct mx_metric *m, double v);	    /* gauge = v */
void mx_gauge_add(struct mx_metric *m, int64_t d);  /* gauge += d (integral gauges) */
void mx_observe(struct mx_metric *m, uint64_t raw); /* histogram, raw units */

/* Reads a series back (tests, objfsctl's own use): a counter's or
 * gauge's value, a histogram's count. */
double mx_value(const struct mx_metric *m);

/* Collectors emit values computed at scrape time (store usage, Raft
 * state, /proc).  They run in registration order after the series, with
 * the registry's mutex held: they must not call back into r. */
typedef void (*mx_collect_fn)(void *arg, struct mx_out *o);
/* release (NULL: none) frees arg at mx_destroy.  0 or -ENOMEM. */
int mx_add_collector(struct mx_registry *r, mx_collect_fn fn, void *arg,
		     void (*release)(void *arg));
/* HELP and TYPE lines; then the family's samples, all together. */
void mx_out_family(struct mx_out *o, const char *name, const char *help, enum mx_type t);
/* One sample line: name{labels} value (labels NULL or "" for none). */
void mx_out_sample(struct mx_out *o, const char *name, const char *labels, double v);

/* Formats key="value" into buf, escaping \, " and newlines as the text
 * format requires.  Returns buf (truncated to len if needed). */
char *mx_label(char *buf, size_t len, const char *key, const char *value);

/* The exposition text of every series and collector.  Returns a malloc'd
 * NUL-terminated buffer (its length in *len) that the caller frees, or
 * NULL when out of memory. */
char *mx_expose(struct mx_registry *r, size_t *len);

/* The label value of an error: "ENOENT" for -ENOENT, "ECHECKSUM" for
 * -OBJ_ECHECKSUM, "E123" for a code without a name.  Static or in buf. */
const char *mx_errno_name(int err, char *buf, size_t len);

/* Error counters of one operation by errno, made at each errno's first
 * occurrence: that one takes the registry's mutex, every later one is an
 * atomic load and add (errors such as ENOENT of lookups are frequent). */
#define MX_ERR_SLOTS 144
struct mx_errtab {
	struct mx_registry *r;
	const char *name, *help; /* the counter family */
	char op[64];		 /* op="..." (preformatted), the series' first label */
	struct mx_metric *_Atomic slot[MX_ERR_SLOTS];
};
/* Counts one error err (negative or positive errno or project code) in t:
 * name{op...,errno="ENOENT"}.  Any thread; no-op when t or t->r is NULL. */
void mx_count_error(struct mx_errtab *t, int err);

/* Monotonic nanoseconds, for timing observations. */
uint64_t mx_now_ns(void);

#endif
