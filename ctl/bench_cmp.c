/* bench_cmp.c: result files and the regression verdict (see bench_cmp.h). */
#include "bench_cmp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/fileio.h"
#include "json.h"

/* Result files are small; a bigger one is not ours. */
#define BENCH_FILE_MAX (16u << 20)

/* The whole of a small file, into a new buffer with room for a NUL. */
static int read_small(const char *path, char **out, size_t *len)
{
	struct stat st;
	ssize_t got;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

	if (fd < 0) {
		return -errno;
	}
	if (fstat(fd, &st) != 0) {
		rc = -errno;
	} else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > BENCH_FILE_MAX) {
		rc = S_ISREG(st.st_mode) ? -EFBIG : -EINVAL;
	}
	if (rc != 0) {
		close(fd);
		return rc;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	got = fio_read_full(fd, buf, (size_t)st.st_size, 0);
	close(fd);
	if (got < 0) {
		free(buf);
		return (int)got;
	}
	buf[got] = '\0';
	*out = buf;
	*len = (size_t)got;
	return 0;
}

int bench_rows_add(struct bench_rows *rows, const struct bench_row *r)
{
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? rows->cap * 2 : 16;
		struct bench_row *v = realloc(rows->v, cap * sizeof(*v));

		if (v == NULL) {
			return -ENOMEM;
		}
		rows->v = v;
		rows->cap = cap;
	}
	rows->v[rows->n++] = *r;
	return 0;
}

void bench_rows_free(struct bench_rows *rows)
{
	free(rows->v);
	memset(rows, 0, sizeof(*rows));
}

static void row_defaults(struct bench_row *r)
{
	memset(r, 0, sizeof(*r));
	r->error_rate = -1;
}

/* A row without a spread is its own min and max. */
static void row_spread_from_value(struct bench_row *r)
{
	if (r->runs <= 1) {
		r->ops_s_min = r->ops_s_max = r->ops_s;
		r->mb_s_min = r->mb_s_max = r->mb_s;
		r->p95_min = r->p95_max = r->p95_ms;
	}
}

static int load_json(const char *text, size_t len, struct bench_rows *out, char *err, size_t errlen)
{
	const struct jv *res;
	struct jv *doc;
	int rc = jv_parse(text, len, &doc, err, errlen);

	if (rc != 0) {
		return rc;
	}
	res = jv_get(doc, "results");
	if (res == NULL || res->type != JV_ARR) {
		snprintf(err, errlen, "no \"results\" array");
		jv_free(doc);
		return -EINVAL;
	}
	for (size_t i = 0; i < res->n && rc == 0; i++) {
		const struct jv *o = res->items[i], *sp = jv_get(o, "spread");
		const char *scen = jv_str_or_null(o, "scenario"), *op = jv_str_or_null(o, "op");
		struct bench_row r;

		if (scen == NULL || op == NULL) {
			snprintf(err, errlen, "result %zu has no scenario or op", i);
			rc = -EINVAL;
			break;
		}
		row_defaults(&r);
		snprintf(r.scenario, sizeof(r.scenario), "%s", scen);
		snprintf(r.op, sizeof(r.op), "%s", op);
		r.ops_s = jv_num_or(o, "ops_s", 0);
		r.mb_s = jv_num_or(o, "mb_s", 0);
		r.p50_ms = jv_num_or(o, "p50_ms", 0);
		r.p95_ms = jv_num_or(o, "p95_ms", 0);
		r.p99_ms = jv_num_or(o, "p99_ms", 0);
		r.errors = jv_num_or(o, "errors", 0);
		r.error_rate = jv_num_or(o, "error_rate", -1);
		r.runs = (int)jv_num_or(o, "runs", 1);
		row_spread_from_value(&r);
		if (sp != NULL && r.runs > 1) {
			const struct jv *x;

			x = jv_get(sp, "ops_s");
			r.ops_s_min = jv_num_or(x, "min", r.ops_s);
			r.ops_s_max = jv_num_or(x, "max", r.ops_s);
			x = jv_get(sp, "mb_s");
			r.mb_s_min = jv_num_or(x, "min", r.mb_s);
			r.mb_s_max = jv_num_or(x, "max", r.mb_s);
			x = jv_get(sp, "p95_ms");
			r.p95_min = jv_num_or(x, "min", r.p95_ms);
			r.p95_max = jv_num_or(x, "max", r.p95_ms);
		}
		rc = bench_rows_add(out, &r);
	}
	jv_free(doc);
	return rc;
}

static int load_lines(char *text, struct bench_rows *out, char *err, size_t errlen)
{
	size_t lineno = 0;
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		struct bench_row r;
		char *wsave = NULL, *word;
		int rc;

		lineno++;
		if (strncmp(line, "RESULT ", 7) != 0) {
			continue; /* comments and other output */
		}
		row_defaults(&r);
		for (word = strtok_r(line + 7, " \t", &wsave); word != NULL;
		     word = strtok_r(NULL, " \t", &wsave)) {
			char *eq = strchr(word, '='), *end;
			double v;

			if (eq == NULL) {
				continue;
			}
			*eq++ = '\0';
			if (strcmp(word, "scenario") == 0) {
				snprintf(r.scenario, sizeof(r.scenario), "%s", eq);
				continue;
			}
			if (strcmp(word, "op") == 0) {
				snprintf(r.op, sizeof(r.op), "%s", eq);
				continue;
			}
			v = strtod(eq, &end);
			if (*end != '\0') {
				snprintf(err, errlen, "line %zu: %s=%s is not a number", lineno,
					 word, eq);
				return -EINVAL;
			}
			if (strcmp(word, "ops_s") == 0) {
				r.ops_s = v;
			} else if (strcmp(word, "mb_s") == 0) {
				r.mb_s = v;
			} else if (strcmp(word, "p50_ms") == 0) {
				r.p50_ms = v;
			} else if (strcmp(word, "p95_ms") == 0) {
				r.p95_ms = v;
			} else if (strcmp(word, "p99_ms") == 0) {
				r.p99_ms = v;
			} else if (strcmp(word, "errors") == 0) {
				r.errors = v;
			}
		}
		if (r.scenario[0] == '\0' || r.op[0] == '\0') {
			snprintf(err, errlen, "line %zu: RESULT without scenario= or op=", lineno);
			return -EINVAL;
		}
		r.runs = 1;
		row_spread_from_value(&r);
		if ((rc = bench_rows_add(out, &r)) != 0) {
			return rc;
		}
	}
	return 0;
}

int bench_load(const char *path, struct bench_rows *out, char *err, size_t errlen)
{
	size_t len = 0, i = 0;
	char *text = NULL;
	int rc = read_small(path, &text, &len);

	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	while (i < len && strchr(" \t\r\n", text[i]) != NULL) {
		i++;
	}
	if (i < len && text[i] == '{') {
		rc = load_json(text, len, out, err, errlen);
	} else {
		rc = load_lines(text, out, err, errlen);
	}
	free(text);
	if (rc == -EINVAL) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "%s: %s", path, why);
	}
	return rc;
}

void bench_rows_json(struct jw *w, const struct bench_rows *rows)
{
	jw_arr(w, "results");
	for (size_t i = 0; i < rows->n; i++) {
		const struct bench_row *r = &rows->v[i];

		jw_obj(w, NULL);
		jw_str(w, "scenario", r->scenario);
		jw_str(w, "op", r->op);
		jw_num(w, "ops_s", r->ops_s);
		jw_num(w, "mb_s", r->mb_s);
		jw_num(w, "p50_ms", r->p50_ms);
		jw_num(w, "p95_ms", r->p95_ms);
		jw_num(w, "p99_ms", r->p99_ms);
		jw_num(w, "errors", r->errors);
		if (r->error_rate >= 0) {
			jw_num(w, "error_rate", r->error_rate);
		}
		jw_u64(w, "runs", r->runs > 0 ? (uint64_t)r->runs : 1);
		if (r->runs > 1) {
			jw_obj(w, "spread");
			jw_obj(w, "ops_s");
			jw_num(w, "min", r->ops_s_min);
			jw_num(w, "median", r->ops_s);
			jw_num(w, "max", r->ops_s_max);
			jw_end(w);
			jw_obj(w, "mb_s");
			jw_num(w, "min", r->mb_s_min);
			jw_num(w, "median", r->mb_s);
			jw_num(w, "max", r->mb_s_max);
			jw_end(w);
			jw_obj(w, "p95_ms");
			jw_num(w, "min", r->p95_min);
			jw_num(w, "median", r->p95_ms);
			jw_num(w, "max", r->p95_max);
			jw_end(w);
			jw_end(w);
		}
		jw_end(w);
	}
	jw_end(w);
}

static const struct bench_row *find_row(const struct bench_rows *rows, const struct bench_row *r)
{
	for (size_t i = 0; i < rows->n; i++) {
		if (strcmp(rows->v[i].scenario, r->scenario) == 0 &&
		    strcmp(rows->v[i].op, r->op) == 0) {
			return &rows->v[i];
		}
	}
	return NULL;
}

static void say(FILE *f, const struct bench_row *c, const char *metric, double base, double cur,
		double best)
{
	fprintf(f, "REGRESSION %s %s metric=%s baseline=%.6g current=%.6g (%+.0f%%)", c->scenario,
		c->op, metric, base, cur, base != 0 ? 100 * (cur - base) / base : 0.0);
	if (c->runs > 1) {
		fprintf(f, " best of %d runs %.6g", c->runs, best);
	}
	fputc('\n', f);
}

int bench_compare(const struct bench_rows *base, const struct bench_rows *cur,
		  const struct bench_thresholds *th, FILE *f, size_t *compared)
{
	int n = 0;

	*compared = 0;
	for (size_t i = 0; i < cur->n; i++) {
		const struct bench_row *c = &cur->v[i], *b = find_row(base, c);
		double be, ce;

		if (b == NULL) {
			continue;
		}
		(*compared)++;
		/* Latency: the lowest p95 of the runs must still be too high. */
		if (b->p95_ms > 0 && c->p95_min > b->p95_ms * th->p95_factor &&
		    c->p95_min > th->min_ms && c->p95_min - b->p95_ms >= th->min_ms) {
			say(f, c, "p95_ms", b->p95_ms, c->p95_ms, c->p95_min);
			n++;
		}
		/* Throughput: the highest of the runs must still be too low. */
		if (b->ops_s > 0 && c->ops_s_max < b->ops_s * th->tput_factor) {
			say(f, c, "ops_s", b->ops_s, c->ops_s, c->ops_s_max);
			n++;
		}
		if (b->mb_s > 0 && c->mb_s_max < b->mb_s * th->tput_factor) {
			say(f, c, "mb_s", b->mb_s, c->mb_s, c->mb_s_max);
			n++;
		}
		/* Errors: the rate when both sides know it, else the count. */
		if (b->error_rate >= 0 && c->error_rate >= 0) {
			be = b->error_rate;
			ce = c->error_rate;
		} else {
			be = b->errors;
			ce = c->errors;
		}
		if (ce > 0 && ce > be * th->err_factor) {
			fprintf(f, "REGRESSION %s %s metric=%s baseline=%.6g current=%.6g\n",
				c->scenario, c->op,
				b->error_rate >= 0 && c->error_rate >= 0 ? "error_rate" : "errors",
				be, ce);
			n++;
		}
	}
	return n;
}
