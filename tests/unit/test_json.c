/* test_json.c: unit tests of objfsctl's JSON writer and reader
 * (ctl/json.c): what the writer emits is valid JSON that the reader gives
 * back value for value, strings with quotes and control bytes included,
 * and malformed input is refused with the offending byte named. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ctl/json.h"
#include "../lib/testlib.h"

static char *write_sample(int pretty, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	struct jw w;

	ck_assert_ptr_nonnull(f);
	jw_init(&w, f, pretty);
	jw_obj(&w, NULL);
	jw_str(&w, "name", "a\"b\\c\n\t\x01z/\xc3\xa9");
	jw_u64(&w, "big", UINT64_MAX);
	jw_i64(&w, "neg", -42);
	jw_num(&w, "pi", 3.25);
	jw_num(&w, "nan", NAN);
	jw_bool(&w, "yes", 1);
	jw_null(&w, "none");
	jw_arr(&w, "list");
	jw_u64(&w, NULL, 1);
	jw_obj(&w, NULL);
	jw_end(&w);
	jw_arr(&w, NULL);
	jw_end(&w);
	jw_str(&w, NULL, "x");
	jw_end(&w);
	jw_obj(&w, "empty");
	ck_assert_int_eq(jw_finish(&w), 0);
	fclose(f);
	return buf;
}

/* Every kind of value round-trips; escapes decode back to the bytes;
 * commas land right in nested and empty containers, pretty or not. */
START_TEST(test_round_trip)
{
	for (int pretty = 0; pretty <= 1; pretty++) {
		size_t len;
		char *text = write_sample(pretty, &len), err[128] = "";
		struct jv *v;
		const struct jv *l;

		ck_assert_int_eq(jv_parse(text, len, &v, err, sizeof(err)), 0);
		ck_assert_str_eq(jv_str_or_null(v, "name"), "a\"b\\c\n\t\x01z/\xc3\xa9");
		ck_assert(jv_num_or(v, "big", 0) == (double)UINT64_MAX);
		ck_assert(jv_num_or(v, "neg", 0) == -42);
		ck_assert(jv_num_or(v, "pi", 0) == 3.25);
		ck_assert_int_eq(jv_get(v, "nan")->type, JV_NULL);
		ck_assert_int_eq(jv_get(v, "yes")->type, JV_BOOL);
		ck_assert(jv_get(v, "yes")->num == 1);
		ck_assert_int_eq(jv_get(v, "none")->type, JV_NULL);
		l = jv_get(v, "list");
		ck_assert_int_eq(l->type, JV_ARR);
		ck_assert_uint_eq(l->n, 4);
		ck_assert_int_eq(l->items[1]->type, JV_OBJ);
		ck_assert_uint_eq(l->items[1]->n, 0);
		ck_assert_int_eq(l->items[2]->type, JV_ARR);
		ck_assert_str_eq(l->items[3]->str, "x");
		ck_assert_int_eq(jv_get(v, "empty")->type, JV_OBJ);
		ck_assert_ptr_null(jv_get(v, "missing"));
		ck_assert(pretty ? strchr(text, '\n') != text + len - 1
				 : strchr(text, '\n') == text + len - 1);
		jv_free(v);
		free(text);
	}
}
END_TEST

/* The reader takes what other writers produce: \u escapes (a surrogate
 * pair included), exponents, whitespace everywhere. */
START_TEST(test_reads_foreign)
{
	const char *t = " { \"s\" : \"\\u00e9\\ud83d\\ude00\\/\" , \"e\" : -1.5e3 , \"a\":[ ] } ";
	struct jv *v;
	char err[128];

	ck_assert_int_eq(jv_parse(t, strlen(t), &v, err, sizeof(err)), 0);
	ck_assert_str_eq(jv_str_or_null(v, "s"), "\xc3\xa9\xf0\x9f\x98\x80/");
	ck_assert(jv_num_or(v, "e", 0) == -1500);
	jv_free(v);
}
END_TEST

/* Malformed documents are refused with -EINVAL and the byte offset. */
START_TEST(test_refuses_malformed)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
	    {"", "unexpected end at byte 0"},
	    {"{\"a\":1,}", "expected a key at byte 7"},
	    {"[1 2]", "expected ',' or a closing bracket at byte 3"},
	    {"{\"a\" 1}", "expected ':' at byte 5"},
	    {"\"abc", "unterminated string at byte 0"},
	    {"\"\\q\"", "bad string escape at byte 3"},
	    {"\"\\u0000\"", "bad string escape at byte 7"},
	    {"\"\\udc00\"", "bad string escape at byte 7"},
	    {"01", "bad number (leading zero) at byte 0"},
	    {"1.", "bad number at byte 0"},
	    {"tru", "unexpected character at byte 0"},
	    {"{} x", "trailing bytes at byte 3"},
	    {"\"a\nb\"", "bad string escape at byte 2"},
	};
	char deep[JSON_DEPTH_MAX + 3];
	struct jv *v = (struct jv *)1;
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_int_eq(jv_parse(bad[i].text, strlen(bad[i].text), &v, err, sizeof(err)),
				 -EINVAL);
		ck_assert_ptr_null(v);
		ck_assert_str_eq(err, bad[i].msg);
	}
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	ck_assert_int_eq(jv_parse(deep, strlen(deep), &v, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "nested too deep at byte 33");
}
END_TEST

static Suite *json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("json");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_reads_foreign);
	tcase_add_test(tc, test_refuses_malformed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(json_suite());
}
