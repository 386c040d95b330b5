/* json.h: objfsctl's JSON: a streaming writer for --json output and a small
 * reader for the files objfsctl reads back (bench baselines).  Owns only
 * text; never touches the cluster.  One thread per writer or tree.
 *
 * Writer: values go out as they are given; commas and nesting are kept by
 * the writer, so a caller cannot produce a misplaced comma.  Strings are
 * escaped per RFC 8259 (quote, backslash, control characters as \u00XX;
 * bytes >= 0x80 pass through, so UTF-8 stays UTF-8).  Numbers that are
 * not finite are written as null (JSON has no NaN).
 *
 * Reader: a whole document into a tree (objects keep their key order);
 * nesting deeper than JSON_DEPTH_MAX, trailing bytes and bad escapes are
 * refused with a message naming the byte offset. */
#ifndef OBJFS_CTL_JSON_H
#define OBJFS_CTL_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_DEPTH_MAX 32

struct jw {
	FILE *f;
	int depth;
	int pretty;		       /* newline + indent per member */
	int count[JSON_DEPTH_MAX + 1]; /* members written at each level */
	char close[JSON_DEPTH_MAX];    /* bracket that closes each level */
	int after_key;		       /* a key was written; its value is next */
};

/* Starts a writer on f; pretty gives one member per line. */
void jw_init(struct jw *w, FILE *f, int pretty);
/* Containers.  At the top level and inside arrays, the key is NULL. */
void jw_obj(struct jw *w, const char *key);
void jw_arr(struct jw *w, const char *key);
void jw_end(struct jw *w); /* closes the innermost object or array */
/* Members (key NULL inside arrays). */
void jw_str(struct jw *w, const char *key, const char *v); /* v NULL: null */
void jw_u64(struct jw *w, const char *key, uint64_t v);
void jw_i64(struct jw *w, const char *key, int64_t v);
void jw_num(struct jw *w, const char *key, double v); /* %.6g-ish, exact for integers */
void jw_bool(struct jw *w, const char *key, int v);
void jw_null(struct jw *w, const char *key);
/* Ends the document with a newline; returns 0 or -EIO if f failed. */
int jw_finish(struct jw *w);

/* Writes s as a JSON string literal (with quotes) to f. */
void json_put_string(FILE *f, const char *s);

enum jv_type { JV_NULL, JV_BOOL, JV_NUM, JV_STR, JV_ARR, JV_OBJ };

struct jv {
	enum jv_type type;
	double num;	   /* JV_NUM, JV_BOOL (0/1) */
	char *str;	   /* JV_STR (NUL-terminated, may hold no NUL) */
	char **keys;	   /* JV_OBJ: n keys */
	struct jv **items; /* JV_ARR, JV_OBJ: n values */
	size_t n;
};

/* Parses text[0..len) into a tree the caller frees with jv_free.  Returns
 * 0, -EINVAL (with a message in err) or -ENOMEM. */
int jv_parse(const char *text, size_t len, struct jv **out, char *err, size_t errlen);
void jv_free(struct jv *v);
/* Member of an object by key, or NULL (also when v is not an object). */
const struct jv *jv_get(const struct jv *v, const char *key);
/* Number of a member, or def when absent or not a number. */
double jv_num_or(const struct jv *v, const char *key, double def);
/* String of a member, or NULL. */
const char *jv_str_or_null(const struct jv *v, const char *key);

#endif
