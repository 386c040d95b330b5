/* metrics.c: the metrics registry and its text exposition (metrics.h).
 * Families keep registration order, their series too, so the text is
 * stable (the unit test compares it byte for byte).  A histogram keeps one
 * counter per bucket (not cumulative: an observation touches one bucket,
 * its sum and nothing else); exposition accumulates them, so _count always
 * equals the +Inf bucket of the same scrape. */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"

/* 50 us .. 10 s, about 2.5x apart: fine enough for p50/p99 of requests
 * that take from a cached lookup (~100 us) to a fragment fsync (~10 ms). */
static const uint64_t latency_le[] = {
    50000,     100000,	   250000,     500000,	   1000000,	2500000,
    5000000,   10000000,   25000000,   50000000,   100000000,	250000000,
    500000000, 1000000000, 2500000000, 5000000000, 10000000000,
};
const struct mx_buckets mx_buckets_latency = {OBJ_ARRAY_LEN(latency_le), latency_le, 1e-9};

static const uint64_t bytes_le[] = {
    512, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
};
const struct mx_buckets mx_buckets_bytes = {OBJ_ARRAY_LEN(bytes_le), bytes_le, 1.0};

struct mx_metric {
	struct mx_metric *next; /* next series of the family */
	struct mx_family *fam;
	char *labels;	    /* "" for none */
	_Atomic uint64_t v; /* counter; gauge as double bits; histogram sum (raw) */
	_Atomic uint64_t bucket[MX_HIST_MAX + 1]; /* histogram: per bucket, last +Inf */
};

struct mx_family {
	struct mx_family *next;
	char *name, *help;
	enum mx_type type;
	const struct mx_buckets *b;
	struct mx_metric *first, **tail;
};

struct mx_collector {
	struct mx_collector *next;
	mx_collect_fn fn;
	void *arg;
	void (*release)(void *arg);
};

struct mx_registry {
	pthread_mutex_t mu; /* guards the lists; never taken by observations */
	struct mx_family *first, **tail;
	struct mx_collector *coll, **coll_tail;
};

struct mx_out {
	char *buf;
	size_t len, cap;
	bool oom;
};

struct mx_registry *mx_create(void)
{
	struct mx_registry *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		return NULL;
	}
	pthread_mutex_init(&r->mu, NULL);
	r->tail = &r->first;
	r->coll_tail = &r->coll;
	return r;
}

void mx_destroy(struct mx_registry *r)
{
	if (r == NULL) {
		return;
	}
	for (struct mx_family *f = r->first, *fn; f != NULL; f = fn) {
		fn = f->next;
		for (struct mx_metric *m = f->first, *mn; m != NULL; m = mn) {
			mn = m->next;
			free(m->labels);
			free(m);
		}
		free(f->name);
		free(f->help);
		free(f);
	}
	for (struct mx_collector *c = r->coll, *cn; c != NULL; c = cn) {
		cn = c->next;
		if (c->release != NULL) {
			c->release(c->arg);
		}
		free(c);
	}
	pthread_mutex_destroy(&r->mu);
	free(r);
}

/* Caller holds r->mu. */
static struct mx_family *family(struct mx_registry *r, const char *name, const char *help,
				enum mx_type t, const struct mx_buckets *b)
{
	struct mx_family *f;

	for (f = r->first; f != NULL; f = f->next) {
		if (strcmp(f->name, name) == 0) {
			return f->type == t && f->b == b && strcmp(f->help, help) == 0 ? f : NULL;
		}
	}
	if (b != NULL && b->n > MX_HIST_MAX) {
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL || (f->name = strdup(name)) == NULL || (f->help = strdup(help)) == NULL) {
		if (f != NULL) {
			free(f->name);
		}
		free(f);
		return NULL;
	}
	f->type = t;
	f->b = b;
	f->tail = &f->first;
	*r->tail = f;
	r->tail = &f->next;
	return f;
}

static struct mx_metric *series(struct mx_registry *r, const char *name, const char *help,
				const char *labels, enum mx_type t, const struct mx_buckets *b)
{
	struct mx_family *f;
	struct mx_metric *m = NULL;

	if (r == NULL) {
		return NULL;
	}
	if (labels == NULL) {
		labels = "";
	}
	pthread_mutex_lock(&r->mu);
	f = family(r, name, help, t, b);
	if (f == NULL) {
		goto out;
	}
	for (m = f->first; m != NULL; m = m->next) {
		if (strcmp(m->labels, labels) == 0) {
			goto out;
		}
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL || (m->labels = strdup(labels)) == NULL) {
		free(m);
		m = NULL;
		goto out;
	}
	m->fam = f;
	*f->tail = m;
	f->tail = &m->next;
out:
	pthread_mutex_unlock(&r->mu);
	return m;
}

struct mx_metric *mx_counter(struct mx_registry *r, const char *name, const char *help,
			     const char *labels)
{
	return series(r, name, help, labels, MX_COUNTER, NULL);
}

struct mx_metric *mx_gauge(struct mx_registry *r, const char *name, const char *help,
			   const char *labels)
{
	return series(r, name, help, labels, MX_GAUGE, NULL);
}

struct mx_metric *mx_histogram(struct mx_registry *r, const char *name, const char *help,
			       const char *labels, const struct mx_buckets *b)
{
	return series(r, name, help, labels, MX_HISTOGRAM, b);
}

void mx_add(struct mx_metric *m, uint64_t n)
{
	if (m != NULL) {
		atomic_fetch_add_explicit(&m->v, n, memory_order_relaxed);
	}
}

static uint64_t dbl_bits(double v)
{
	uint64_t u;

	memcpy(&u, &v, sizeof(u));
	return u;
}

static double bits_dbl(uint64_t u)
{
	double v;

	memcpy(&v, &u, sizeof(v));
	return v;
}

void mx_set(struct mx_metric *m, double v)
{
	if (m != NULL) {
		atomic_store_explicit(&m->v, dbl_bits(v), memory_order_relaxed);
	}
}

void mx_gauge_add(struct mx_metric *m, int64_t d)
{
	uint64_t old;

	if (m == NULL) {
		return;
	}
	/* A CAS loop, not a lock: gauges hold doubles, which have no
	 * atomic add. */
	old = atomic_load_explicit(&m->v, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(&m->v, &old,
						      dbl_bits(bits_dbl(old) + (double)d),
						      memory_order_relaxed, memory_order_relaxed)) {
	}
}

void mx_observe(struct mx_metric *m, uint64_t raw)
{
	const struct mx_buckets *b;
	size_t lo = 0, hi;

	if (m == NULL) {
		return;
	}
	b = m->fam->b;
	hi = b->n;
	/* The first bound >= raw (binary search; n is the +Inf bucket). */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (b->le[mid] < raw) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	atomic_fetch_add_explicit(&m->bucket[lo], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->v, raw, memory_order_relaxed);
}

double mx_value(const struct mx_metric *m)
{
	uint64_t n = 0;

	if (m == NULL) {
		return 0;
	}
	switch (m->fam->type) {
	case MX_COUNTER:
		return (double)atomic_load_explicit(&m->v, memory_order_relaxed);
	case MX_GAUGE:
		return bits_dbl(atomic_load_explicit(&m->v, memory_order_relaxed));
	case MX_HISTOGRAM:
		for (size_t i = 0; i <= m->fam->b->n; i++) {
			n += atomic_load_explicit(&m->bucket[i], memory_order_relaxed);
		}
		return (double)n;
	}
	return 0;
}

int mx_add_collector(struct mx_registry *r, mx_collect_fn fn, void *arg, void (*release)(void *arg))
{
	struct mx_collector *c;

	if (r == NULL) {
		return 0;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return -ENOMEM;
	}
	c->fn = fn;
	c->arg = arg;
	c->release = release;
	pthread_mutex_lock(&r->mu);
	*r->coll_tail = c;
	r->coll_tail = &c->next;
	pthread_mutex_unlock(&r->mu);
	return 0;
}

__attribute__((format(printf, 2, 3))) static void out_printf(struct mx_out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->oom) {
		return;
	}
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = true;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t cap = (o->cap + (size_t)n + 1) * 2;
		char *nb = realloc(o->buf, cap);

		if (nb == NULL) {
			o->oom = true;
			return;
		}
		o->buf = nb;
		o->cap = cap;
	}
}

/* Prometheus' own spelling of numbers: integers without a fraction,
 * others with enough digits to round-trip, and +Inf/NaN by name. */
static void fmt_num(char *buf, size_t len, double v)
{
	if (isnan(v)) {
		snprintf(buf, len, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, len, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 1e15) {
		snprintf(buf, len, "%.0f", v);
	} else {
		snprintf(buf, len, "%.17g", v);
		/* Prefer the shortest form that reads back the same. */
		for (int p = 1; p < 17; p++) {
			char t[40];

			snprintf(t, sizeof(t), "%.*g", p, v);
			if (strtod(t, NULL) == v) {
				snprintf(buf, len, "%s", t);
				break;
			}
		}
	}
}

static const char *type_name(enum mx_type t)
{
	switch (t) {
	case MX_COUNTER:
		return "counter";
	case MX_GAUGE:
		return "gauge";
	case MX_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

void mx_out_family(struct mx_out *o, const char *name, const char *help, enum mx_type t)
{
	out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type_name(t));
}

void mx_out_sample(struct mx_out *o, const char *name, const char *labels, double v)
{
	char num[48];

	fmt_num(num, sizeof(num), v);
	if (labels != NULL && labels[0] != '\0') {
		out_printf(o, "%s{%s} %s\n", name, labels, num);
	} else {
		out_printf(o, "%s %s\n", name, num);
	}
}

static void out_histogram(struct mx_out *o, const struct mx_family *f, const struct mx_metric *m)
{
	const struct mx_buckets *b = f->b;
	const char *sep = m->labels[0] != '\0' ? "," : "";
	uint64_t cum = 0;
	char num[48];

	for (size_t i = 0; i <= b->n; i++) {
		cum += atomic_load_explicit(&m->bucket[i], memory_order_relaxed);
		if (i < b->n) {
			fmt_num(num, sizeof(num), (double)b->le[i] * b->scale);
		} else {
			snprintf(num, sizeof(num), "+Inf");
		}
		out_printf(o, "%s_bucket{%s%sle=\"%s\"} %" PRIu64 "\n", f->name, m->labels, sep,
			   num, cum);
	}
	fmt_num(num, sizeof(num),
		(double)atomic_load_explicit(&m->v, memory_order_relaxed) * b->scale);
	if (m->labels[0] != '\0') {
		out_printf(o, "%s_sum{%s} %s\n%s_count{%s} %" PRIu64 "\n", f->name, m->labels, num,
			   f->name, m->labels, cum);
	} else {
		out_printf(o, "%s_sum %s\n%s_count %" PRIu64 "\n", f->name, num, f->name, cum);
	}
}

char *mx_expose(struct mx_registry *r, size_t *len)
{
	struct mx_out o = {0};

	o.cap = 4096;
	o.buf = malloc(o.cap);
	if (o.buf == NULL) {
		return NULL;
	}
	o.buf[0] = '\0';
	if (r != NULL) {
		pthread_mutex_lock(&r->mu);
		for (const struct mx_family *f = r->first; f != NULL; f = f->next) {
			if (f->first == NULL) {
				continue;
			}
			mx_out_family(&o, f->name, f->help, f->type);
			for (const struct mx_metric *m = f->first; m != NULL; m = m->next) {
				if (f->type == MX_HISTOGRAM) {
					out_histogram(&o, f, m);
				} else {
					mx_out_sample(&o, f->name, m->labels, mx_value(m));
				}
			}
		}
		for (struct mx_collector *c = r->coll; c != NULL; c = c->next) {
			c->fn(c->arg, &o);
		}
		pthread_mutex_unlock(&r->mu);
	}
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}

char *mx_label(char *buf, size_t len, const char *key, const char *value)
{
	size_t n = 0;
	int k = snprintf(buf, len, "%s=\"", key);

	if (k < 0 || (size_t)k >= len) {
		buf[0] = '\0';
		return buf;
	}
	n = (size_t)k;
	for (const char *p = value; *p != '\0' && n + 4 <= len; p++) {
		if (*p == '\\' || *p == '"' || *p == '\n') {
			buf[n++] = '\\';
			buf[n++] = *p == '\n' ? 'n' : *p;
		} else {
			buf[n++] = *p;
		}
	}
	if (n + 2 <= len) {
		buf[n++] = '"';
	}
	buf[n < len ? n : len - 1] = '\0';
	return buf;
}

uint64_t mx_now_ns(void)
{
	return (uint64_t)clock_mono_ns();
}

const char *mx_errno_name(int err, char *buf, size_t len)
{
	const char *n;

	if (err < 0) {
		err = -err;
	}
	switch (err) {
	case OBJ_ECHECKSUM:
		return "ECHECKSUM";
	case OBJ_EAUTH:
		return "EAUTH";
	case OBJ_EPROTO:
		return "EPROTO";
	case OBJ_EQUORUM:
		return "EQUORUM";
	case OBJ_ECONFIG:
		return "ECONFIG";
	default:
		break;
	}
	n = err < OBJ_EBASE ? strerrorname_np(err) : NULL;
	if (n != NULL) {
		return n;
	}
	snprintf(buf, len, "E%d", err);
	return buf;
}

/* Slot of an error code: errno values first, then the project codes,
 * the last slot for anything else. */
static size_t err_slot(int e)
{
	const size_t obj0 = MX_ERR_SLOTS - 1 - (OBJ_ELAST - OBJ_EBASE);

	if (e > 0 && (size_t)e < obj0) {
		return (size_t)e;
	}
	if (e > OBJ_EBASE && e < OBJ_ELAST) {
		return obj0 + (size_t)(e - OBJ_EBASE - 1);
	}
	return MX_ERR_SLOTS - 1;
}

void mx_count_error(struct mx_errtab *t, int err)
{
	int e = err < 0 ? -err : err;
	size_t i;
	struct mx_metric *m;

	if (t == NULL || t->r == NULL) {
		return;
	}
	i = err_slot(e);
	m = atomic_load_explicit(&t->slot[i], memory_order_acquire);
	if (m == NULL) {
		char labels[160], eb[16];

		snprintf(labels, sizeof(labels), "%s,errno=\"%s\"", t->op,
			 i == MX_ERR_SLOTS - 1 ? "other" : mx_errno_name(e, eb, sizeof(eb)));
		/* Two threads may both get here: mx_counter returns the same
		 * series to both. */
		m = mx_counter(t->r, t->name, t->help, labels);
		atomic_store_explicit(&t->slot[i], m, memory_order_release);
	}
	mx_add(m, 1);
}
