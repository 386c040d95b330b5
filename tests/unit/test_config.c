/* test_config.c: the config parser, its key table and messages, and the log module.
 * Runs single-threaded except the test that races threads on the default log sink. */
#include <check.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/config.h"
#include "../../common/err.h"
#include "../../common/log.h"
#include "../lib/testlib.h"

#define SECRET "0123456789abcdef-test-secret"

/* The smallest valid config: one node, the secret, everything else default. */
static const char minimal_conf[] = "[cluster]\n"
				   "secret = " SECRET "\n"
				   "[node 1]\n"
				   "addr = tcp://127.0.0.1:7401\n"
				   "data_dir = /srv/objfs/1\n";

static struct cfg *cfg_new(void)
{
	struct cfg *c = malloc(sizeof(*c)); /* ~1 MiB: never on the stack */

	ck_assert_ptr_nonnull(c);
	return c;
}

/* Defaults from the key table fill every key a minimal file leaves out. */
START_TEST(test_defaults)
{
	struct cfg *c = cfg_new();
	char err[256];

	ck_assert_int_eq(cfg_load_string(minimal_conf, "min.conf", c, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(c->path, "<embedded>");
	ck_assert_str_eq(c->name, "objfs");
	ck_assert_uint_eq(c->secret_len, strlen(SECRET));
	ck_assert_int_eq(memcmp(c->secret, SECRET, strlen(SECRET)), 0);
	ck_assert_uint_eq(c->ec.k, 4);
	ck_assert_uint_eq(c->ec.m, 2);
	ck_assert_uint_eq(c->n_tiers, 0);
	ck_assert_uint_eq(c->block_size, 4u << 20);
	ck_assert_uint_eq(c->inline_max, 16384);
	ck_assert_uint_eq(c->timeout_ms, 5000);
	ck_assert_uint_eq(c->retries, 2);
	ck_assert_uint_eq(c->max_skew_s, 60);
	ck_assert_uint_eq(c->meta_replicas, 3);
	ck_assert_str_eq(c->log_level, "info");
	ck_assert_uint_eq(c->n_nodes, 1);
	ck_assert_uint_eq(c->n_zones, 1);
	ck_assert_uint_eq(c->nodes[0].id, 1);
	ck_assert_str_eq(c->nodes[0].addr, "tcp://127.0.0.1:7401");
	ck_assert_str_eq(c->nodes[0].zone, "default");
	ck_assert_uint_eq(c->nodes[0].zone_idx, 0);
	ck_assert_str_eq(c->nodes[0].data_dir, "/srv/objfs/1");
	ck_assert_uint_eq(c->nodes[0].capacity, 0);
	free(c);
}
END_TEST

/* Every key of both sections is parsed into its field; comments, blank
 * lines, CRLF, quotes and spacing are handled; zones are numbered in order. */
START_TEST(test_every_key)
{
	static const char text[] = "# objfs test config\n"
				   "   ; indented comment\n"
				   "\n"
				   "[cluster]\r\n"
				   "name=prod-eu\n"
				   "  secret   =   \"  spaces kept inside quotes  \"\n"
				   "ec_profile = 6+3\n"
				   "ec_tiers = 4+2:1M, 6+3:100MiB ,8+4\n"
				   "block_size = 8MiB\n"
				   "inline_max = 0\n"
				   "timeout_ms = 100\n"
				   "retries = 10\n"
				   "max_skew_s = 3600\n"
				   "meta_replicas = 5\n"
				   "log_level = WARN\n"
				   "[ node 7 ]\n"
				   "addr = tcp://[::1]:65535\n"
				   "zone = rack-a\n"
				   "data_dir = \"/data/objfs # not a comment\"\n"
				   "capacity = 2T\n"
				   "[node 3]\n"
				   "addr = tcp://node3.example:1\n"
				   "zone = rack-b\n"
				   "data_dir = /d3\n"
				   "[node 9]\n"
				   "addr = tcp://node9.example:7409\n"
				   "zone = rack-a\n"
				   "data_dir = /d9\n";
	struct cfg *c = cfg_new();
	const struct cfg_node *n;
	char err[256];

	ck_assert_msg(cfg_load_string(text, "all.conf", c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c->name, "prod-eu");
	ck_assert_uint_eq(c->secret_len, strlen("  spaces kept inside quotes  "));
	ck_assert_int_eq(memcmp(c->secret, "  spaces kept inside quotes  ", c->secret_len), 0);
	ck_assert_uint_eq(c->ec.k, 6);
	ck_assert_uint_eq(c->ec.m, 3);
	ck_assert_uint_eq(c->n_tiers, 3);
	ck_assert_uint_eq(c->block_size, 8u << 20);
	ck_assert_uint_eq(c->inline_max, 0);
	ck_assert_uint_eq(c->timeout_ms, 100);
	ck_assert_uint_eq(c->retries, 10);
	ck_assert_uint_eq(c->max_skew_s, 3600);
	ck_assert_uint_eq(c->meta_replicas, 5);
	ck_assert_str_eq(c->log_level, "warn");
	ck_assert_uint_eq(c->n_nodes, 3);
	ck_assert_uint_eq(c->n_zones, 2);

	n = cfg_node_by_id(c, 7);
	ck_assert_ptr_eq(n, &c->nodes[0]);
	ck_assert_str_eq(n->addr, "tcp://[::1]:65535");
	ck_assert_str_eq(n->zone, "rack-a");
	ck_assert_uint_eq(n->zone_idx, 0);
	ck_assert_str_eq(n->data_dir, "/data/objfs # not a comment");
	ck_assert_uint_eq(n->capacity, 2ull << 40);
	n = cfg_node_by_id(c, 3);
	ck_assert_ptr_eq(n, &c->nodes[1]);
	ck_assert_uint_eq(n->zone_idx, 1);
	ck_assert_uint_eq(n->capacity, 0);
	ck_assert_uint_eq(cfg_node_by_id(c, 9)->zone_idx, 0);
	ck_assert_ptr_null(cfg_node_by_id(c, 1));
	free(c);
}
END_TEST

/* One malformed config: the message must start with "bad.conf:LINE: " and
 * contain every string in want[]. */
struct bad_case {
	const char *text;
	unsigned line; /* 0: the message names the file but no line */
	const char *want[3];
};

#define CL "[cluster]\nsecret = " SECRET "\n"		 /* lines 1-2 */
#define N1 "[node 1]\naddr = tcp://h:1\ndata_dir = /d\n" /* 3 lines */

/* clang-format off */
static const struct bad_case bad_cases[] = {
	/* unknown section */
	{ CL "[clusterz]\n", 3, { "unknown section", "clusterz" } },
	{ CL N1 "[node]\n", 6, { "unknown section", "node" } },
	/* unknown key, and a known key in the wrong section */
	{ CL "colour = red\n" N1, 3, { "unknown key", "'colour'", "[cluster]" } },
	{ CL "addr = tcp://h:1\n" N1, 3, { "key 'addr'", "[node ID]" } },
	{ CL N1 "timeout_ms = 100\n", 6, { "key 'timeout_ms'", "[cluster]" } },
	/* duplicate key in one section */
	{ CL "name = a\n\nname = b\n" N1, 5, { "key 'name'", "twice", "line 3" } },
	{ CL N1 "zone = a\nzone = b\n", 7, { "key 'zone'", "twice", "line 6" } },
	/* missing '=' */
	{ CL "block_size 4M\n" N1, 3, { "missing '='", "block_size 4M" } },
	/* bad values */
	{ CL "timeout_ms = abc\n" N1, 3, { "key 'timeout_ms'", "not a number", "'abc'" } },
	{ CL "timeout_ms = -5\n" N1, 3, { "key 'timeout_ms'", "'-5'" } },
	{ CL "block_size = 4X\n" N1, 3, { "key 'block_size'", "not a size", "'4X'" } },
	{ CL "block_size = 65537\n" N1, 3, { "key 'block_size'", "multiple of 4K", "65537" } },
	{ CL "ec_profile = 4-2\n" N1, 3, { "key 'ec_profile'", "'4-2'" } },
	{ CL "ec_profile = 0+2\n" N1, 3, { "key 'ec_profile'", "'0+2'" } },
	{ CL "ec_tiers = 4+2:1M,8+4:1G\n" N1, 3, { "key 'ec_tiers'", "last tier" } },
	{ CL "log_level = loud\n" N1, 3, { "key 'log_level'", "'loud'" } },
	{ CL "name = \"unterminated\n" N1, 3, { "key 'name'", "quote" } },
	{ CL "name =\n" N1, 3, { "key 'name'", "0 bytes" } },
	{ CL N1 "addr2 = x\n", 6, { "unknown key", "'addr2'", "[node 1]" } },
	{ CL "[node 1]\naddr = http://h:1\ndata_dir = /d\n", 4, { "key 'addr'", "tcp://" } },
	{ CL "[node 1]\naddr = tcp://h\ndata_dir = /d\n", 4, { "key 'addr'", "HOST:PORT" } },
	{ CL "[node 1]\naddr = tcp://:1\ndata_dir = /d\n", 4, { "key 'addr'", "HOST:PORT" } },
	{ CL "[node 1]\naddr = tcp://h:0\ndata_dir = /d\n", 4, { "key 'addr'", "65535" } },
	{ CL "[node 1]\naddr = tcp://h:65536\ndata_dir = /d\n", 4, { "key 'addr'", "65535" } },
	{ CL "[node 1]\naddr = tcp://h:1\ndata_dir = rel/d\n", 5, { "key 'data_dir'", "absolute" } },
	/* values out of range */
	{ CL "block_size = 1K\n" N1, 3,
	  { "key 'block_size': must be between 64K and 64M (got '1K')" } },
	{ CL "block_size = 128M\n" N1, 3, { "key 'block_size'", "between 64K and 64M" } },
	{ CL "inline_max = 65537\n" N1, 3, { "key 'inline_max'", "between 0 and 64K" } },
	{ CL "timeout_ms = 99\n" N1, 3, { "key 'timeout_ms'", "between 100 and 600000" } },
	{ CL "retries = 11\n" N1, 3, { "key 'retries'", "between 0 and 10" } },
	{ CL "max_skew_s = 0\n" N1, 3, { "key 'max_skew_s'", "between 1 and 3600" } },
	{ CL "meta_replicas = 8\n" N1, 3, { "key 'meta_replicas'", "between 1 and 7" } },
	{ CL "retries = 99999999999999999999999\n" N1, 3, { "key 'retries'", "between" } },
	{ CL N1 "capacity = 99999999T\n", 6, { "key 'capacity'", "'99999999T'" } },
	{ "[cluster]\nsecret = short\n" N1, 2, { "key 'secret'", "16 to 128 bytes", "got 5" } },
	/* missing required keys: named with the line of their section header */
	{ "# c\n[cluster]\nname = x\n" N1, 2, { "[cluster]", "required key 'secret'" } },
	{ CL N1 "[node 2]\ndata_dir = /d2\n", 6, { "[node 2]", "required key 'addr'" } },
	{ CL "\n[node 5]\naddr = tcp://h:5\n", 4, { "[node 5]", "required key 'data_dir'" } },
	{ N1, 0, { "no [cluster] section", "'secret'" } },
	{ CL, 0, { "no [node ID] section" } },
	/* node ids */
	{ CL N1 "[node 1]\n", 6, { "duplicate node id 1", "line 3" } },
	{ CL "[node 0]\n", 3, { "[node 0]", "between 1 and 2147483647" } },
	{ CL "[node 2147483648]\n", 3, { "[node 2147483648]", "between 1" } },
	{ CL "[node -1]\n", 3, { "[node -1]" } },
	{ CL "[node x]\n", 3, { "[node x]" } },
	/* structure */
	{ "name = x\n" CL N1, 1, { "key 'name'", "before any" } },
	{ CL "[cluster\n", 3, { "lacks ']'" } },
	{ CL N1 "[cluster]\n", 6, { "duplicate section [cluster]", "line 1" } },
	{ CL "= 5\n", 3, { "missing key" } },
	{ CL N1 "[node 2]\naddr = tcp://h:1\ndata_dir = /d\n", 7,
	  { "key 'addr'", "tcp://h:1", "[node 1]" } },
	/* storage classes: the section, its keys, tags, and the whole-file checks */
	{ CL N1 "[class]\n", 6, { "unknown section", "[class NAME]" } },
	{ CL N1 "[class default]\n", 6, { "[class default]", "not 'default'" } },
	{ CL N1 "[class a/b]\n", 6, { "[class a/b]", "letters" } },
	{ CL N1 "[class c]\nid = 1\n[class c]\n", 8, { "duplicate section [class c]", "line 6" } },
	{ CL N1 "[class c]\nid = 0\n", 7, { "key 'id'", "between 1 and 255" } },
	{ CL N1 "[class c]\nk = 33\n", 7, { "key 'k'", "between 1 and 32" } },
	{ CL N1 "[class c]\nzone = z\n", 7, { "key 'zone'", "[node ID]" } },
	{ CL N1 "[class c]\ncolour = red\n", 7, { "unknown key", "'colour'", "[class c]" } },
	{ CL "k = 2\n" N1, 3, { "key 'k'", "[class NAME]" } },
	{ CL N1 "class = a,,b\n", 6, { "key 'class'", "empty tag" } },
	{ CL N1 "class = ssd flash\n", 6, { "key 'class'", "letters" } },
	{ CL N1 "[class c]\nid = 1\nk = 1\ntag = t\n", 6, { "[class c]", "required key 'm'" } },
	{ CL N1 "[class c]\nid = 1\nk = 1\nm = 0\ntag = t\n", 6,
	  { "[class c]: 1+0 needs 1 nodes with 'class = t', the config has 0" } },
	{ CL "[node 1]\naddr = tcp://h:1\ndata_dir = /d\nclass = t\n"
	  "[class a]\nid = 3\nk = 1\nm = 0\ntag = t\n"
	  "[class b]\nid = 3\nk = 1\nm = 0\ntag = t\n", 12,
	  { "[class b]: id 3 is already class a's" } },
};
/* clang-format on */

/* Each kind of error returns -OBJ_ECONFIG with file, line and key in the
 * message, and leaves the caller's struct untouched. */
START_TEST(test_errors)
{
	const struct bad_case *bc = &bad_cases[_i];
	struct cfg *c = cfg_new(), *before = cfg_new();
	char err[512], prefix[64];
	int rc;

	memset(c, 0xa5, sizeof(*c));
	memset(before, 0xa5, sizeof(*before));
	rc = cfg_load_string(bc->text, "bad.conf", c, err, sizeof(err));
	ck_assert_msg(rc == -OBJ_ECONFIG, "case %d: rc %d for:\n%s", _i, rc, bc->text);
	if (bc->line > 0) {
		snprintf(prefix, sizeof(prefix), "bad.conf:%u: ", bc->line);
	} else {
		snprintf(prefix, sizeof(prefix), "bad.conf: ");
	}
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "case %d: '%s' lacks '%s'", _i,
		      err, prefix);
	for (size_t w = 0; w < OBJ_ARRAY_LEN(bc->want) && bc->want[w] != NULL; w++) {
		ck_assert_msg(strstr(err, bc->want[w]) != NULL, "case %d: '%s' lacks '%s'", _i, err,
			      bc->want[w]);
	}
	ck_assert_ptr_null(strstr(err, SECRET)); /* secrets never reach messages */
	ck_assert_int_eq(memcmp(c, before, sizeof(*c)), 0);
	free(before);
	free(c);
}
END_TEST

/* Classes: every key parsed, the tagged nodes counted (a node may carry
 * several tags), lookups by name and id; no class section means none. */
START_TEST(test_classes)
{
	static const char text[] =
	    CL "class_rate = 7\n"
	       "[node 1]\naddr = tcp://h:1\ndata_dir = /d1\nclass = ssd\n"
	       "[node 2]\naddr = tcp://h:2\ndata_dir = /d2\nclass = hdd,ssd\n"
	       "[node 3]\naddr = tcp://h:3\ndata_dir = /d3\nclass = hdd\n"
	       "[node 4]\naddr = tcp://h:4\ndata_dir = /d4\nclass = hdd2\n"
	       "[class hot]\nid = 1\nk = 1\nm = 1\ntag = ssd\n"
	       "[class cold]\nid = 200\nk = 1\nm = 1\ntag = hdd\n";
	struct cfg *c = cfg_new();
	const struct cfg_class *hot, *cold;
	char err[256];

	ck_assert_int_eq(cfg_load_string(text, "cls.conf", c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c->class_rate_mb, 7);
	ck_assert_uint_eq(c->n_classes, 2);
	hot = cfg_class_by_name(c, "hot");
	cold = cfg_class_by_id(c, 200);
	ck_assert_ptr_eq(hot, &c->classes[0]);
	ck_assert_ptr_eq(cold, &c->classes[1]);
	ck_assert_ptr_eq(cfg_class_by_id(c, 1), hot);
	ck_assert_ptr_null(cfg_class_by_id(c, 0));
	ck_assert_ptr_null(cfg_class_by_id(c, 2));
	ck_assert_ptr_null(cfg_class_by_name(c, "default"));
	ck_assert_uint_eq(hot->ec.k, 1);
	ck_assert_uint_eq(hot->ec.m, 1);
	ck_assert_str_eq(cold->tag, "hdd");
	ck_assert_uint_eq(hot->n_nodes, 2);  /* nodes 1 and 2 */
	ck_assert_uint_eq(cold->n_nodes, 2); /* 2 and 3: hdd2 is another tag */
	ck_assert_int_eq(cfg_node_has_tag(&c->nodes[1], "hdd"), 1);
	ck_assert_int_eq(cfg_node_has_tag(&c->nodes[1], "ssd"), 1);
	ck_assert_int_eq(cfg_node_has_tag(&c->nodes[1], "hd"), 0);
	ck_assert_int_eq(cfg_node_has_tag(&c->nodes[3], "hdd"), 0);
	ck_assert_int_eq(cfg_node_has_tag(&c->nodes[0], ""), 0);
	ck_assert_int_eq(cfg_load_string(minimal_conf, "min.conf", c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c->n_classes, 0);
	ck_assert_uint_eq(c->class_rate_mb, 50);
	ck_assert_str_eq(c->nodes[0].tags, "");
	free(c);
}
END_TEST

/* A tiny error buffer truncates the message; a NULL one is allowed. */
START_TEST(test_error_buffer)
{
	struct cfg *c = cfg_new();
	char err[8];

	ck_assert_int_eq(cfg_load_string(CL, "long-file-name.conf", c, err, sizeof(err)),
			 -OBJ_ECONFIG);
	ck_assert_str_eq(err, "long-fi");
	ck_assert_int_eq(cfg_load_string(CL, NULL, c, NULL, 0), -OBJ_ECONFIG);
	free(c);
}
END_TEST

/* Sizes: plain bytes, binary units with K/KiB/KB forms, and every kind of
 * garbage, sign, emptiness and overflow rejected. */
START_TEST(test_parse_size)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t v;
	} cases[] = {
	    {"0", 0, 0},
	    {"4096", 0, 4096},
	    {"4096B", 0, 4096},
	    {"4K", 0, 4096},
	    {"4k", 0, 4096},
	    {"4KiB", 0, 4096},
	    {"4KB", 0, 4096},
	    {"1M", 0, 1 << 20},
	    {"2G", 0, 2ull << 30},
	    {"3TiB", 0, 3ull << 40},
	    {"007", 0, 7},
	    {"18446744073709551615", 0, UINT64_MAX},
	    {"16777215T", 0, 16777215ull << 40},
	    {"18446744073709551616", -ERANGE, 0},
	    {"16777216T", -ERANGE, 0},
	    {"99999999999999999999K", -ERANGE, 0},
	    {"", -EINVAL, 0},
	    {"K", -EINVAL, 0},
	    {"-1", -EINVAL, 0},
	    {"+1", -EINVAL, 0},
	    {" 1", -EINVAL, 0},
	    {"1 ", -EINVAL, 0},
	    {"1 K", -EINVAL, 0},
	    {"1.5M", -EINVAL, 0},
	    {"4Ki", -EINVAL, 0},
	    {"4iB", -EINVAL, 0},
	    {"4P", -EINVAL, 0},
	    {"4KK", -EINVAL, 0},
	    {"4KiBx", -EINVAL, 0},
	    {"0x10", -EINVAL, 0},
	};

	for (size_t i = 0; i < OBJ_ARRAY_LEN(cases); i++) {
		uint64_t v = 12345;
		int rc = cfg_parse_size(cases[i].s, &v);

		ck_assert_msg(rc == cases[i].rc, "'%s': rc %d", cases[i].s, rc);
		ck_assert_msg(v == (rc == 0 ? cases[i].v : 12345), "'%s': %llu", cases[i].s,
			      (unsigned long long)v);
	}
}
END_TEST

static struct cfg *load_tiers(const char *tiers, int want_rc, char *err, size_t errlen)
{
	struct cfg *c = cfg_new();
	char text[512];

	snprintf(text, sizeof(text), CL "ec_tiers = %s\n" N1, tiers);
	ck_assert_int_eq(cfg_load_string(text, "t.conf", c, err, errlen), want_rc);
	return c;
}

/* Tiers parse into increasing sizes with an unbounded last tier, and
 * cfg_profile_for picks the first tier that holds the size. */
START_TEST(test_tiers)
{
	static const struct {
		uint64_t size;
		uint8_t k, m;
	} picks[] = {
	    {0, 4, 2},
	    {1 << 20, 4, 2},
	    {(1 << 20) + 1, 6, 3},
	    {100ull << 20, 6, 3},
	    {(100ull << 20) + 1, 8, 4},
	    {UINT64_MAX, 8, 4},
	};
	static const char *const bad[] = {
	    "4+2:1M",		   /* the last tier has a size */
	    "4+2,8+4",		   /* a size-less tier is not last */
	    "4+2:100M,6+3:1M,8+4", /* sizes decrease */
	    "4+2:1M,6+3:1M,8+4",   /* sizes repeat */
	    "4+2:1M,,8+4",	   /* empty item */
	    "4+2:0,8+4",	   /* zero size */
	    "4+2:1X,8+4",	   /* bad size */
	    "4+2:1M,x+3",	   /* bad profile */
	    "2+1:1,2+1:2,2+1:3,2+1:4,2+1:5,2+1:6,2+1:7,2+1:8,2+1", /* nine tiers */
	};
	char err[256];
	struct cfg *c = load_tiers("4+2:1M,6+3:100M,8+4", 0, err, sizeof(err));

	ck_assert_uint_eq(c->n_tiers, 3);
	ck_assert_uint_eq(c->tiers[0].max_size, 1 << 20);
	ck_assert_uint_eq(c->tiers[1].max_size, 100ull << 20);
	ck_assert_uint_eq(c->tiers[2].max_size, UINT64_MAX);
	for (size_t i = 0; i < OBJ_ARRAY_LEN(picks); i++) {
		struct ec_profile p = cfg_profile_for(c, picks[i].size);

		ck_assert_msg(p.k == picks[i].k && p.m == picks[i].m, "size %llu: %u+%u",
			      (unsigned long long)picks[i].size, p.k, p.m);
	}
	free(c);

	/* Without tiers every size gets ec_profile. */
	c = load_tiers("", 0, err, sizeof(err));
	ck_assert_uint_eq(c->n_tiers, 0);
	ck_assert_uint_eq(cfg_profile_for(c, 0).k, 4);
	ck_assert_uint_eq(cfg_profile_for(c, UINT64_MAX).m, 2);
	free(c);

	/* A single size-less tier overrides ec_profile everywhere. */
	c = load_tiers("2+1", 0, err, sizeof(err));
	ck_assert_uint_eq(c->n_tiers, 1);
	ck_assert_uint_eq(cfg_profile_for(c, 5).k, 2);
	free(c);

	for (size_t i = 0; i < OBJ_ARRAY_LEN(bad); i++) {
		c = load_tiers(bad[i], -OBJ_ECONFIG, err, sizeof(err));
		ck_assert_msg(strstr(err, "t.conf:3: key 'ec_tiers'") != NULL, "%s", err);
		free(c);
	}
}
END_TEST

static char tmp_dir[64];

static void tmp_setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(tmp_dir, sizeof(tmp_dir), "%s/test_config.XXXXXX",
		 base != NULL && strlen(base) < 32 ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmp_dir));
}

static void tmp_teardown(void)
{
	tl_rmtree(tmp_dir);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Files: a good one loads with its path recorded; missing, directory,
 * oversized and NUL-containing files fail with the file named. */
START_TEST(test_load_file)
{
	struct cfg *c = cfg_new();
	char path[128], err[512];
	size_t big = (1u << 20) + 1;
	char *blob;

	snprintf(path, sizeof(path), "%s/ok.conf", tmp_dir);
	write_file(path, minimal_conf, strlen(minimal_conf));
	ck_assert_msg(cfg_load_file(path, c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(c->path, path);
	ck_assert_uint_eq(c->n_nodes, 1);

	snprintf(path, sizeof(path), "%s/missing.conf", tmp_dir);
	ck_assert_int_eq(cfg_load_file(path, c, err, sizeof(err)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err, path));
	ck_assert_ptr_nonnull(strstr(err, "cannot read: No such file or directory"));

	ck_assert_int_eq(cfg_load_file(tmp_dir, c, err, sizeof(err)), -EISDIR);
	ck_assert_ptr_nonnull(strstr(err, "cannot read"));

	/* Exactly 1 MiB is accepted (comments); one byte more is refused. */
	blob = malloc(big);
	ck_assert_ptr_nonnull(blob);
	memset(blob, '#', big);
	memcpy(blob, minimal_conf, strlen(minimal_conf)); /* then one long comment line */
	snprintf(path, sizeof(path), "%s/big.conf", tmp_dir);
	write_file(path, blob, big - 1);
	ck_assert_msg(cfg_load_file(path, c, err, sizeof(err)) == 0, "%s", err);
	write_file(path, blob, big);
	ck_assert_int_eq(cfg_load_file(path, c, err, sizeof(err)), -EFBIG);
	ck_assert_ptr_nonnull(strstr(err, path));
	free(blob);

	snprintf(path, sizeof(path), "%s/nul.conf", tmp_dir);
	write_file(path, "[cluster]\n\nna\0me = x\n", 21);
	ck_assert_int_eq(cfg_load_file(path, c, err, sizeof(err)), -OBJ_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "nul.conf:3: "));

	snprintf(path, sizeof(path), "%s/bad.conf", tmp_dir);
	write_file(path, CL "\nretries = 11\n", strlen(CL "\nretries = 11\n"));
	ck_assert_int_eq(cfg_load_file(path, c, err, sizeof(err)), -OBJ_ECONFIG);
	ck_assert_ptr_nonnull(strstr(err, "bad.conf:4: key 'retries'"));
	free(c);
}
END_TEST

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long len;

	if (f == NULL) {
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)len + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return buf;
}

/* Loads the example of objfs.conf(5), the text between .EX and .EE. */
static void check_man_example(const char *man)
{
	const char *start = strstr(man, "\n.EX\n"), *end;
	struct cfg *c = cfg_new();
	char err[256], *text;

	ck_assert_ptr_nonnull(start);
	start += strlen("\n.EX\n");
	end = strstr(start, "\n.EE\n");
	ck_assert_ptr_nonnull(end);
	text = strndup(start, (size_t)(end - start + 1));
	ck_assert_ptr_nonnull(text);
	ck_assert_msg(cfg_load_string(text, "objfs.conf.5", c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(c->n_nodes, 6);
	ck_assert_uint_eq(c->n_zones, 3);
	free(text);
	free(c);
}

/* --help lists every key with its summary; objfs.conf(5) repeats each
 * summary verbatim under ".B key" and its example loads (checked when the
 * source tree is known, as under make check). */
START_TEST(test_print_keys_and_man)
{
	static const char *const keys[] = {"name",
					   "secret",
					   "ec_profile",
					   "ec_tiers",
					   "block_size",
					   "inline_max",
					   "timeout_ms",
					   "retries",
					   "max_skew_s",
					   "meta_replicas",
					   "election_ms",
					   "snapshot_entries",
					   "snapshot_max_entries",
					   "snapshot_chunk",
					   "commit_batch_ms",
					   "propose_batch",
					   "free_grace",
					   "usage_interval",
					   "scrub_period",
					   "scrub_rate",
					   "gc_grace",
					   "repair_after",
					   "repair_rate",
					   "lock_lease_ms",
					   "class_rate",
					   "log_level",
					   "tls_ca",
					   "addr",
					   "zone",
					   "data_dir",
					   "raft_port",
					   "capacity",
					   "tls_cert",
					   "tls_key",
					   "metrics_addr",
					   "class",
					   "id",
					   "k",
					   "m",
					   "tag"};
	const char *srcdir = getenv("OBJFS_SRCDIR");
	char *text = NULL, *man = NULL, *line, *save = NULL, path[4096];
	size_t len = 0, seen = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	cfg_print_keys(f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(text, "  block_size     size; default 4M; 64K..64M; "
					   "multiple of 4K\n"));
	ck_assert_ptr_nonnull(strstr(text, "  secret         secret; required; 16..128 bytes\n"));
	if (srcdir != NULL) {
		snprintf(path, sizeof(path), "%s/man/objfs.conf.5", srcdir);
		man = read_all(path);
		ck_assert_msg(man != NULL, "cannot read %s", path);
	}
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char key[32], needle[256];
		const char *sum;

		if (strncmp(line, "  ", 2) != 0 || line[2] == ' ') {
			continue; /* headings and doc lines */
		}
		ck_assert_int_eq(sscanf(line + 2, "%31s", key), 1);
		ck_assert_str_eq(key, keys[seen]);
		seen++;
		sum = line + 2 + strlen(key);
		while (*sum == ' ') {
			sum++;
		}
		if (man != NULL) {
			snprintf(needle, sizeof(needle), "\n.B %s\n(%s)\n", key, sum);
			ck_assert_msg(strstr(man, needle) != NULL, "objfs.conf.5 lacks:%s", needle);
		}
	}
	ck_assert_uint_eq(seen, OBJ_ARRAY_LEN(keys));
	if (man != NULL) {
		check_man_example(man);
	}
	free(text);
	free(man);
}
END_TEST

/* --- log ------------------------------------------------------------------ */

struct capture {
	int calls;
	enum log_level lvl;
	char id[64];
	char line[4096];
};

static void capture_sink(enum log_level lvl, const char *id, const char *line, void *arg)
{
	struct capture *cap = arg;

	cap->calls++;
	cap->lvl = lvl;
	snprintf(cap->id, sizeof(cap->id), "%s", id);
	snprintf(cap->line, sizeof(cap->line), "%s", line);
}

static int matches(const char *re, const char *s)
{
	regex_t r;
	int rc;

	ck_assert_int_eq(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
	rc = regexec(&r, s, 0, NULL, 0);
	regfree(&r);
	return rc == 0;
}

/* A swapped sink receives the formatted line with time, ident, pid, level
 * and id; filtered levels never reach it; long messages are cut. */
START_TEST(test_log_sink)
{
	struct capture cap = {0};
	char re[256], *big;

	log_set_ident("tcfg");
	log_set_sink(capture_sink, &cap);
	ck_assert_int_eq(log_threshold, LOG_LVL_INFO); /* the default */

	log_debug("t.debug", "hidden %d", 1);
	ck_assert_int_eq(cap.calls, 0);
	log_info("t.info", "shown %d", 2);
	ck_assert_int_eq(cap.calls, 1);
	ck_assert_int_eq(cap.lvl, LOG_LVL_INFO);

	log_set_level(LOG_LVL_WARN);
	log_info("t.info", "hidden");
	log_msg(LOG_LVL_INFO, "t.info", "hidden, even without the macro");
	ck_assert_int_eq(cap.calls, 1);
	log_warn("frag.checksum", "block %s fragment %d", "ab12", 3);
	ck_assert_int_eq(cap.calls, 2);
	ck_assert_int_eq(cap.lvl, LOG_LVL_WARN);
	ck_assert_str_eq(cap.id, "frag.checksum");
	snprintf(re, sizeof(re),
		 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
		 "tcfg\\[%ld\\] WARN frag\\.checksum: block ab12 fragment 3$",
		 (long)getpid());
	ck_assert_msg(matches(re, cap.line), "'%s'", cap.line);

	log_error("t.err", "two\nlines");
	ck_assert_ptr_nonnull(strstr(cap.line, " ERROR t.err: two?lines"));

	big = malloc(5000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'x', 4999);
	big[4999] = '\0';
	log_error("t.big", "%s", big);
	ck_assert_uint_eq(strlen(cap.line), 2047);
	ck_assert_ptr_nonnull(strstr(cap.line, " ERROR t.big: xxx"));
	free(big);

	log_set_level(LOG_LVL_DEBUG);
	log_debug("t.debug", "now shown");
	ck_assert_int_eq(cap.lvl, LOG_LVL_DEBUG);
	ck_assert_int_eq(cap.calls, 5);

	log_set_sink(NULL, NULL);
	log_set_level(LOG_LVL_INFO);
}
END_TEST

/* Level names parse case-insensitively; anything else is -EINVAL. */
START_TEST(test_log_parse_level)
{
	enum log_level l = LOG_LVL_INFO;

	ck_assert_int_eq(log_parse_level("debug", &l), 0);
	ck_assert_int_eq(l, LOG_LVL_DEBUG);
	ck_assert_int_eq(log_parse_level("Error", &l), 0);
	ck_assert_int_eq(l, LOG_LVL_ERROR);
	ck_assert_int_eq(log_parse_level("warn", &l), 0);
	ck_assert_int_eq(l, LOG_LVL_WARN);
	ck_assert_int_eq(log_parse_level("info", &l), 0);
	ck_assert_int_eq(l, LOG_LVL_INFO);
	ck_assert_int_eq(log_parse_level("warning", &l), -EINVAL);
	ck_assert_int_eq(log_parse_level("", &l), -EINVAL);
	ck_assert_int_eq(l, LOG_LVL_INFO);
}
END_TEST

#define LOG_THREADS 4
#define LOG_LINES 300
#define LOG_TEXT 1500 /* well past PIPE_BUF, so only a single write keeps lines whole */

static void *log_thread(void *arg)
{
	char text[LOG_TEXT + 1];

	memset(text, 'a' + (int)(long)arg, LOG_TEXT);
	text[LOG_TEXT] = '\0';
	for (int i = 0; i < LOG_LINES; i++) {
		log_warn("t.race", "%s", text);
	}
	return NULL;
}

/* The default sink writes whole lines to stderr even when threads race, and
 * truncates an oversized message to one line. */
START_TEST(test_log_default_sink)
{
	pthread_t th[LOG_THREADS];
	char path[128], *text, *line, *save = NULL, *big;
	int fd, saved, lines = 0;

	snprintf(path, sizeof(path), "%s/stderr.log", tmp_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);

	log_set_ident("race");
	for (long i = 0; i < LOG_THREADS; i++) {
		ck_assert_int_eq(pthread_create(&th[i], NULL, log_thread, (void *)i), 0);
	}
	for (int i = 0; i < LOG_THREADS; i++) {
		pthread_join(th[i], NULL);
	}
	big = malloc(3000);
	ck_assert_ptr_nonnull(big);
	memset(big, 'z', 2999);
	big[2999] = '\0';
	log_error("t.big", "%s", big);
	free(big);
	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);

	text = read_all(path);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(strlen(text) - 1, (size_t)(strrchr(text, '\n') - text));
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		const char *body = strstr(line, " WARN t.race: ");

		lines++;
		if (lines == LOG_THREADS * LOG_LINES + 1) {
			ck_assert_ptr_nonnull(strstr(line, "] ERROR t.big: zzz"));
			ck_assert_uint_eq(strlen(line), 2047);
			continue;
		}
		ck_assert_msg(body != NULL, "line %d mangled", lines);
		body += strlen(" WARN t.race: ");
		ck_assert_uint_eq(strlen(body), LOG_TEXT);
		ck_assert_uint_eq(strspn(body, (char[]){body[0], '\0'}), LOG_TEXT);
	}
	ck_assert_int_eq(lines, LOG_THREADS * LOG_LINES + 1);
	free(text);
}
END_TEST

/* objfs --help lists every mount option with its summary from the key
 * table; objfs(1) repeats each summary verbatim under ".BI name= ARG";
 * defaults come from the same rows, and a bad value is refused with the
 * range in the message. */
START_TEST(test_mount_opts_and_man)
{
	static const char *const names[] = {"conf",
					    "attr_timeout",
					    "entry_timeout",
					    "negative_timeout",
					    "max_dirty",
					    "cache_mb",
					    "cache_min_mb",
					    "cache_policy",
					    "readahead",
					    "kernel_readahead",
					    "writeback_cache",
					    "uploaders",
					    "prefetchers",
					    "max_threads",
					    "log_level",
					    "cache_dir",
					    "cache_dir_mb",
					    "key",
					    "metrics"};
	const char *srcdir = getenv("OBJFS_SRCDIR");
	char *text = NULL, *man = NULL, *line, *save = NULL, path[4096], why[256];
	size_t len = 0, seen = 0;
	struct cfg_mount m;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	cfg_print_mount_opts(f);
	fclose(f);
	ck_assert_ptr_nonnull(
	    strstr(text, "  -o attr_timeout=S        seconds; default 1; 0..86400\n"));
	if (srcdir != NULL) {
		snprintf(path, sizeof(path), "%s/man/objfs.1", srcdir);
		man = read_all(path);
		ck_assert_msg(man != NULL, "cannot read %s", path);
	}
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char opt[64], needle[256], *eq;
		const char *sum;

		if (strncmp(line, "  -o ", 5) != 0) {
			continue; /* doc lines */
		}
		ck_assert_int_eq(sscanf(line + 5, "%63s", opt), 1);
		eq = strchr(opt, '=');
		ck_assert_ptr_nonnull(eq);
		*eq = '\0';
		ck_assert_uint_lt(seen, OBJ_ARRAY_LEN(names));
		ck_assert_str_eq(opt, names[seen]);
		seen++;
		sum = line + 5 + strlen(opt) + 1 + strlen(eq + 1);
		while (*sum == ' ') {
			sum++;
		}
		if (man != NULL) {
			snprintf(needle, sizeof(needle), "\n.BI %s= %s\n(%s)\n", opt, eq + 1, sum);
			ck_assert_msg(strstr(man, needle) != NULL, "objfs.1 lacks:%s", needle);
		}
	}
	ck_assert_uint_eq(seen, OBJ_ARRAY_LEN(names));

	cfg_mount_defaults(&m);
	ck_assert(m.attr_timeout == 1 && m.entry_timeout == 1 && m.negative_timeout == 1);
	ck_assert_uint_eq(m.max_dirty, 256u << 20);
	ck_assert_uint_eq(m.cache_mb, 256);
	ck_assert_uint_eq(m.readahead, 8);
	ck_assert_uint_eq(m.cache_min_mb, 64);
	ck_assert_str_eq(m.cache_policy, "arc");
	ck_assert_uint_eq(m.uploaders, 4);
	ck_assert_uint_eq(m.prefetchers, 2);
	ck_assert_uint_eq(m.max_threads, 16);
	ck_assert_uint_eq(m.cache_dir_mb, 1024);
	ck_assert_str_eq(m.conf, "");
	ck_assert_str_eq(m.log_level, "");
	ck_assert_str_eq(m.cache_dir, "");
	ck_assert_int_eq(cfg_mount_set(&m, "attr_timeout", "2.5", why, sizeof(why)), 0);
	ck_assert(m.attr_timeout == 2.5);
	ck_assert_int_eq(cfg_mount_set(&m, "max_dirty", "1G", why, sizeof(why)), 0);
	ck_assert_uint_eq(m.max_dirty, 1u << 30);
	ck_assert_int_eq(cfg_mount_set(&m, "log_level", "WARN", why, sizeof(why)), 0);
	ck_assert_str_eq(m.log_level, "warn");
	ck_assert_int_eq(cfg_mount_set(&m, "uploaders", "0", why, sizeof(why)), -ERANGE);
	ck_assert_str_eq(why, "must be between 1 and 64 (got '0')");
	ck_assert_int_eq(cfg_mount_set(&m, "entry_timeout", "-1", why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "expected seconds in 0..86400 (got '-1')");
	ck_assert_int_eq(cfg_mount_set(&m, "entry_timeout", "1x", why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(cfg_mount_set(&m, "log_level", "loud", why, sizeof(why)), -EINVAL);
	/* Not ours: a FUSE or kernel option, or a cluster key. */
	ck_assert_int_eq(cfg_mount_set(&m, "allow_other", "1", why, sizeof(why)), -ENOENT);
	ck_assert_int_eq(cfg_mount_set(&m, "inline_max", "4K", why, sizeof(why)), -ENOENT);
	free(text);
	free(man);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	TCase *tf = tcase_create("files");
	TCase *tl = tcase_create("log");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_every_key);
	tcase_add_loop_test(tc, test_errors, 0, (int)OBJ_ARRAY_LEN(bad_cases));
	tcase_add_test(tc, test_error_buffer);
	tcase_add_test(tc, test_classes);
	tcase_add_test(tc, test_parse_size);
	tcase_add_test(tc, test_tiers);
	tcase_add_test(tc, test_print_keys_and_man);
	tcase_add_test(tc, test_mount_opts_and_man);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tf, tmp_setup, tmp_teardown);
	tcase_add_test(tf, test_load_file);
	suite_add_tcase(s, tf);

	tcase_add_checked_fixture(tl, tmp_setup, tmp_teardown);
	tcase_add_test(tl, test_log_sink);
	tcase_add_test(tl, test_log_parse_level);
	tcase_add_test(tl, test_log_default_sink);
	suite_add_tcase(s, tl);
	return s;
}

int main(void)
{
	return tl_run(config_suite());
}
