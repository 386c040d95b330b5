/* test_dev_conf.c: the dev-cluster config writer of objfsctl dev up:
 * what it writes loads back through the real parser. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/config.h"
#include "../../common/err.h"
#include "../../ctl/dev_conf.h"
#include "../lib/testlib.h"

static struct cfg *cfg_new(void)
{
	struct cfg *c = malloc(sizeof(*c)); /* ~1 MiB: never on the stack */

	ck_assert_ptr_nonnull(c);
	return c;
}

static size_t count(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle)) {
		n++;
	}
	return n;
}

/* The dev config loads back: n nodes, consecutive ports, three zones, data
 * under dir, a fresh 32-byte hex secret each time; bad arguments refused. */
START_TEST(test_write_dev)
{
	struct cfg *c = cfg_new(), *c2 = cfg_new();
	char *text = NULL, err[256], want[64];
	size_t len = 0;
	FILE *f;

	f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(dev_conf_write(f, 6, "/tmp/objfs dev", 7401), 0);
	fclose(f);
	ck_assert_msg(cfg_load_string(text, "dev.conf", c, err, sizeof(err)) == 0, "%s\n%s", err,
		      text);
	free(text);
	ck_assert_str_eq(c->name, "dev");
	ck_assert_uint_eq(c->secret_len, 64);
	ck_assert_uint_eq(c->ec.k, 4);
	ck_assert_uint_eq(c->ec.m, 2);
	ck_assert_uint_eq(c->block_size, 4u << 20);
	ck_assert_uint_eq(c->n_nodes, 6);
	ck_assert_uint_eq(c->n_zones, 3);
	for (size_t i = 0; i < 6; i++) {
		ck_assert_uint_eq(c->nodes[i].id, i + 1);
		snprintf(want, sizeof(want), "tcp://127.0.0.1:%zu", 7401 + i);
		ck_assert_str_eq(c->nodes[i].addr, want);
		snprintf(want, sizeof(want), "z%zu", i % 3 + 1);
		ck_assert_str_eq(c->nodes[i].zone, want);
		ck_assert_uint_eq(c->nodes[i].zone_idx, i % 3);
		snprintf(want, sizeof(want), "/tmp/objfs dev/node%zu", i + 1);
		ck_assert_str_eq(c->nodes[i].data_dir, want);
	}

	text = NULL;
	f = open_memstream(&text, &len);
	ck_assert_int_eq(dev_conf_write(f, 1, "/d", 65535), 0);
	fclose(f);
	ck_assert_msg(cfg_load_string(text, "dev1.conf", c2, err, sizeof(err)) == 0, "%s", err);
	free(text);
	ck_assert_uint_eq(c2->n_nodes, 1);
	ck_assert_uint_eq(c2->n_zones, 1);
	ck_assert_int_ne(memcmp(c->secret, c2->secret, 64), 0);

	f = open_memstream(&text, &len);
	ck_assert_int_eq(dev_conf_write(f, 0, "/d", 7401), -EINVAL);
	ck_assert_int_eq(dev_conf_write(f, CFG_MAX_NODES + 1, "/d", 7401), -EINVAL);
	ck_assert_int_eq(dev_conf_write(f, 3, "relative", 7401), -EINVAL);
	ck_assert_int_eq(dev_conf_write(f, 3, "/d\nx", 7401), -EINVAL);
	ck_assert_int_eq(dev_conf_write(f, 3, "/d", 65534), -EINVAL);
	ck_assert_int_eq(dev_conf_write(f, 3, "/d", 0), -EINVAL);
	fclose(f);
	ck_assert_uint_eq(len, 0);
	free(text);
	free(c);
	free(c2);
}
END_TEST

/* Every key with a default that the writer does not set is shown once as
 * a commented default under its doc; set and required keys are not. */
START_TEST(test_write_dev_documents_defaults)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(dev_conf_write(f, 3, "/d", 7401), 0);
	fclose(f);
	ck_assert_uint_eq(count(text, "\n#block_size = 4M\n"), 1);
	ck_assert_uint_eq(count(text, "\n#timeout_ms = 5000\n"), 1);
	ck_assert_uint_eq(count(text, "\n#raft_port = 0\n"), 1);
	ck_assert_uint_eq(count(text, "\n#ec_tiers =\n"), 1);
	ck_assert_uint_eq(
	    count(text, "# Largest block a file is cut into before erasure coding.\n"), 1);
	ck_assert_uint_eq(count(text, "#secret"), 0);
	ck_assert_uint_eq(count(text, "#addr"), 0);
	ck_assert_uint_eq(count(text, "#data_dir"), 0);
	ck_assert_uint_eq(count(text, "#ec_profile"), 0);
	ck_assert_uint_eq(count(text, "\nfree_grace = 5\n"), 1);
	ck_assert_uint_eq(count(text, "#free_grace"), 0);
	ck_assert_uint_eq(count(text, "\n[node "), 3);
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dev_conf");
	TCase *tc = tcase_create("write");

	tcase_add_test(tc, test_write_dev);
	tcase_add_test(tc, test_write_dev_documents_defaults);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
