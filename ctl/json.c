/* json.c: objfsctl's JSON writer and reader (see json.h).  Pure text in
 * and out; no cluster, no globals. */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* --- writer ------------------------------------------------------------ */

void jw_init(struct jw *w, FILE *f, int pretty)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->pretty = pretty;
}

void json_put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				fprintf(f, "\\u%04x", *p);
			} else {
				fputc(*p, f);
			}
		}
	}
	fputc('"', f);
}

/* Comma, newline and indent before a member, then its key. */
static void member(struct jw *w, const char *key)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->count[w->depth]++ > 0) {
		fputc(',', w->f);
	}
	if (w->pretty && w->depth > 0) {
		fputc('\n', w->f);
		for (int i = 0; i < w->depth; i++) {
			fputs("  ", w->f);
		}
	}
	if (key != NULL) {
		json_put_string(w->f, key);
		fputs(w->pretty ? ": " : ":", w->f);
	}
}

static void open_container(struct jw *w, const char *key, char c)
{
	member(w, key);
	fputc(c, w->f);
	if (w->depth < JSON_DEPTH_MAX) {
		w->close[w->depth] = c == '{' ? '}' : ']';
		w->depth++;
		w->count[w->depth] = 0;
	}
}

void jw_obj(struct jw *w, const char *key)
{
	open_container(w, key, '{');
}

void jw_arr(struct jw *w, const char *key)
{
	open_container(w, key, '[');
}

void jw_end(struct jw *w)
{
	if (w->depth == 0) {
		return;
	}
	if (w->pretty && w->count[w->depth] > 0) {
		fputc('\n', w->f);
		for (int i = 0; i < w->depth - 1; i++) {
			fputs("  ", w->f);
		}
	}
	w->depth--;
	fputc(w->close[w->depth], w->f);
}

void jw_str(struct jw *w, const char *key, const char *v)
{
	member(w, key);
	if (v == NULL) {
		fputs("null", w->f);
	} else {
		json_put_string(w->f, v);
	}
}

void jw_u64(struct jw *w, const char *key, uint64_t v)
{
	member(w, key);
	fprintf(w->f, "%llu", (unsigned long long)v);
}

void jw_i64(struct jw *w, const char *key, int64_t v)
{
	member(w, key);
	fprintf(w->f, "%lld", (long long)v);
}

void jw_num(struct jw *w, const char *key, double v)
{
	member(w, key);
	if (!isfinite(v)) {
		fputs("null", w->f);
	} else if (v == floor(v) && fabs(v) < 1e15) {
		fprintf(w->f, "%.0f", v);
	} else {
		fprintf(w->f, "%.10g", v);
	}
}

void jw_bool(struct jw *w, const char *key, int v)
{
	member(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w, const char *key)
{
	member(w, key);
	fputs("null", w->f);
}

int jw_finish(struct jw *w)
{
	while (w->depth > 0) {
		jw_end(w);
	}
	fputc('\n', w->f);
	return fflush(w->f) == 0 && !ferror(w->f) ? 0 : -EIO;
}

/* --- reader ------------------------------------------------------------ */

struct jp {
	const char *s;
	size_t len, pos;
	char *err;
	size_t errlen;
	int failed; /* -EINVAL or -ENOMEM */
};

static int jp_fail(struct jp *p, int rc, const char *what)
{
	if (p->failed == 0) {
		p->failed = rc;
		snprintf(p->err, p->errlen, "%s at byte %zu", what, p->pos);
	}
	return rc;
}

static void jp_ws(struct jp *p)
{
	while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) != NULL && p->s[p->pos] != 0) {
		p->pos++;
	}
}

static int jp_lit(struct jp *p, const char *lit)
{
	size_t n = strlen(lit);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0) {
		return jp_fail(p, -EINVAL, "unexpected character");
	}
	p->pos += n;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* Appends code point cp as UTF-8; cp 0 is refused (strings hold no NUL). */
static int put_utf8(char *o, size_t *n, unsigned cp)
{
	if (cp == 0) {
		return -EINVAL;
	}
	if (cp < 0x80) {
		o[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		o[(*n)++] = (char)(0xc0 | (cp >> 6));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		o[(*n)++] = (char)(0xe0 | (cp >> 12));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		o[(*n)++] = (char)(0xf0 | (cp >> 18));
		o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
	return 0;
}

static int jp_hex4(struct jp *p, unsigned *cp)
{
	*cp = 0;
	if (p->len - p->pos < 4) {
		return -EINVAL;
	}
	for (int i = 0; i < 4; i++) {
		int h = hexval(p->s[p->pos++]);

		if (h < 0) {
			return -EINVAL;
		}
		*cp = *cp << 4 | (unsigned)h;
	}
	return 0;
}

/* A string literal at p->pos (on its opening quote) into a new buffer.
 * The decoded form is never longer than the literal. */
static char *jp_string(struct jp *p)
{
	size_t start = p->pos + 1, n = 0, end = start;
	char *o;

	while (end < p->len && p->s[end] != '"') {
		end += p->s[end] == '\\' ? 2 : 1;
	}
	if (end >= p->len) {
		jp_fail(p, -EINVAL, "unterminated string");
		return NULL;
	}
	if ((o = malloc(end - start + 1)) == NULL) {
		jp_fail(p, -ENOMEM, "out of memory");
		return NULL;
	}
	p->pos = start;
	while (p->pos < end) {
		unsigned char c = (unsigned char)p->s[p->pos++];
		unsigned cp, lo;

		if (c < 0x20) {
			p->pos--;
			goto bad;
		}
		if (c != '\\') {
			o[n++] = (char)c;
			continue;
		}
		switch (p->s[p->pos++]) {
		case '"':
			o[n++] = '"';
			break;
		case '\\':
			o[n++] = '\\';
			break;
		case '/':
			o[n++] = '/';
			break;
		case 'b':
			o[n++] = '\b';
			break;
		case 'f':
			o[n++] = '\f';
			break;
		case 'n':
			o[n++] = '\n';
			break;
		case 'r':
			o[n++] = '\r';
			break;
		case 't':
			o[n++] = '\t';
			break;
		case 'u':
			if (jp_hex4(p, &cp) != 0) {
				goto bad;
			}
			/* A surrogate pair: \uD8xx\uDCxx is one code point of 4 bytes,
			 * and its two escapes took 12 bytes, so the buffer holds it. */
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (p->len - p->pos < 6 || p->s[p->pos] != '\\' ||
				    p->s[p->pos + 1] != 'u') {
					goto bad;
				}
				p->pos += 2;
				if (jp_hex4(p, &lo) != 0 || lo < 0xdc00 || lo >= 0xe000) {
					goto bad;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				goto bad;
			}
			if (put_utf8(o, &n, cp) != 0) {
				goto bad;
			}
			break;
		default:
			goto bad;
		}
	}
	p->pos = end + 1;
	o[n] = '\0';
	return o;
bad:
	free(o);
	jp_fail(p, -EINVAL, "bad string escape");
	return NULL;
}

static struct jv *jp_value(struct jp *p, int depth);

static int jp_push(struct jp *p, struct jv *v, char *key, struct jv *item)
{
	struct jv **items = realloc(v->items, (v->n + 1) * sizeof(*items));

	if (items == NULL) {
		jv_free(item);
		free(key);
		return jp_fail(p, -ENOMEM, "out of memory");
	}
	v->items = items;
	if (v->type == JV_OBJ) {
		char **keys = realloc(v->keys, (v->n + 1) * sizeof(*keys));

		if (keys == NULL) {
			jv_free(item);
			free(key);
			return jp_fail(p, -ENOMEM, "out of memory");
		}
		v->keys = keys;
		v->keys[v->n] = key;
	}
	v->items[v->n++] = item;
	return 0;
}

static int jp_members(struct jp *p, struct jv *v, int depth)
{
	char close = v->type == JV_OBJ ? '}' : ']';

	p->pos++;
	jp_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		struct jv *item;

		jp_ws(p);
		if (v->type == JV_OBJ) {
			if (p->pos >= p->len || p->s[p->pos] != '"') {
				return jp_fail(p, -EINVAL, "expected a key");
			}
			if ((key = jp_string(p)) == NULL) {
				return p->failed;
			}
			jp_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':') {
				free(key);
				return jp_fail(p, -EINVAL, "expected ':'");
			}
			p->pos++;
		}
		if ((item = jp_value(p, depth + 1)) == NULL) {
			free(key);
			return p->failed;
		}
		if (jp_push(p, v, key, item) != 0) {
			return p->failed;
		}
		jp_ws(p);
		if (p->pos < p->len && p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->pos < p->len && p->s[p->pos] == close) {
			p->pos++;
			return 0;
		}
		return jp_fail(p, -EINVAL, "expected ',' or a closing bracket");
	}
}

static int jp_number(struct jp *p, double *out)
{
	size_t i = p->pos;
	char buf[64], *end;

	/* JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
	if (i < p->len && p->s[i] == '-') {
		i++;
	}
	if (i >= p->len || p->s[i] < '0' || p->s[i] > '9') {
		return jp_fail(p, -EINVAL, "bad number");
	}
	if (p->s[i] == '0' && i + 1 < p->len && p->s[i + 1] >= '0' && p->s[i + 1] <= '9') {
		return jp_fail(p, -EINVAL, "bad number (leading zero)");
	}
	while (i < p->len && strchr("0123456789.eE+-", p->s[i]) != NULL && p->s[i] != 0) {
		i++;
	}
	if (i - p->pos >= sizeof(buf)) {
		return jp_fail(p, -EINVAL, "number too long");
	}
	memcpy(buf, p->s + p->pos, i - p->pos);
	buf[i - p->pos] = '\0';
	*out = strtod(buf, &end);
	if (*end != '\0' || strchr(buf, 'x') != NULL || buf[strlen(buf) - 1] == '.') {
		return jp_fail(p, -EINVAL, "bad number");
	}
	p->pos = i;
	return 0;
}

static struct jv *jp_value(struct jp *p, int depth)
{
	struct jv *v;
	int rc = 0;

	jp_ws(p);
	if (depth > JSON_DEPTH_MAX) {
		jp_fail(p, -EINVAL, "nested too deep");
		return NULL;
	}
	if (p->pos >= p->len) {
		jp_fail(p, -EINVAL, "unexpected end");
		return NULL;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		jp_fail(p, -ENOMEM, "out of memory");
		return NULL;
	}
	switch (p->s[p->pos]) {
	case '{':
		v->type = JV_OBJ;
		rc = jp_members(p, v, depth);
		break;
	case '[':
		v->type = JV_ARR;
		rc = jp_members(p, v, depth);
		break;
	case '"':
		v->type = JV_STR;
		rc = (v->str = jp_string(p)) == NULL ? p->failed : 0;
		break;
	case 't':
		v->type = JV_BOOL;
		v->num = 1;
		rc = jp_lit(p, "true");
		break;
	case 'f':
		v->type = JV_BOOL;
		rc = jp_lit(p, "false");
		break;
	case 'n':
		rc = jp_lit(p, "null");
		break;
	default:
		v->type = JV_NUM;
		rc = jp_number(p, &v->num);
	}
	if (rc != 0) {
		jv_free(v);
		return NULL;
	}
	return v;
}

int jv_parse(const char *text, size_t len, struct jv **out, char *err, size_t errlen)
{
	struct jp p = {.s = text, .len = len, .err = err, .errlen = errlen};
	struct jv *v = jp_value(&p, 0);

	*out = NULL;
	if (v == NULL) {
		return p.failed;
	}
	jp_ws(&p);
	if (p.pos != p.len) {
		jv_free(v);
		return jp_fail(&p, -EINVAL, "trailing bytes");
	}
	*out = v;
	return 0;
}

void jv_free(struct jv *v)
{
	if (v == NULL) {
		return;
	}
	for (size_t i = 0; i < v->n; i++) {
		jv_free(v->items[i]);
		if (v->keys != NULL) {
			free(v->keys[i]);
		}
	}
	free(v->items);
	free(v->keys);
	free(v->str);
	free(v);
}

const struct jv *jv_get(const struct jv *v, const char *key)
{
	if (v == NULL || v->type != JV_OBJ) {
		return NULL;
	}
	for (size_t i = 0; i < v->n; i++) {
		if (strcmp(v->keys[i], key) == 0) {
			return v->items[i];
		}
	}
	return NULL;
}

double jv_num_or(const struct jv *v, const char *key, double def)
{
	const struct jv *m = jv_get(v, key);

	return m != NULL && m->type == JV_NUM ? m->num : def;
}

const char *jv_str_or_null(const struct jv *v, const char *key)
{
	const struct jv *m = jv_get(v, key);

	return m != NULL && m->type == JV_STR ? m->str : NULL;
}
