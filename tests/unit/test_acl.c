/* test_acl.c: POSIX ACLs in the xattr format and the mode rules of nodes/acl.c, against the
 * results ext4 gives for the same setfacl, chmod and create. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "../../nodes/acl.h"
#include "../lib/testlib.h"

/* Builds an ACL from (tag, perm, id) triples. */
static void mk(struct acl *a, size_t n, const uint16_t (*v)[3])
{
	a->n = n;
	for (size_t i = 0; i < n; i++) {
		a->e[i].tag = v[i][0];
		a->e[i].perm = v[i][1];
		a->e[i].id = v[i][2];
	}
}

static const uint16_t named[][3] = {
    {0x01, 7, 0}, {0x02, 7, 65534}, {0x04, 5, 0}, {0x10, 7, 0}, {0x20, 0, 0}};
static const uint16_t minimal[][3] = {{0x01, 6, 0}, {0x04, 4, 0}, {0x20, 4, 0}};

static struct acl a, b;

/* What encode writes, decode reads back; malformed values are EINVAL. */
START_TEST(test_codec)
{
	uint8_t buf[4 + 8 * 8];
	size_t n;

	mk(&a, 5, named);
	n = acl_encode(&a, buf);
	ck_assert_uint_eq(n, 4 + 8 * 5);
	ck_assert_int_eq(acl_decode(buf, n, &b), 0);
	ck_assert_uint_eq(b.n, 5);
	ck_assert(memcmp(a.e, b.e, sizeof(a.e[0]) * 5) == 0);
	ck_assert_int_eq(acl_decode(buf, n - 1, &b), -EINVAL);
	buf[0] = 1; /* version */
	ck_assert_int_eq(acl_decode(buf, n, &b), -EINVAL);
	buf[0] = 2;
	mk(&a, 4, named); /* a named entry without a mask: first four entries */
	ck_assert_int_eq(acl_decode(buf, acl_encode(&a, buf), &b), -EINVAL);
	mk(&a, 2, minimal); /* no other entry */
	ck_assert_int_eq(acl_decode(buf, acl_encode(&a, buf), &b), -EINVAL);
	mk(&a, 3, minimal);
	a.e[1].perm = 8;
	ck_assert_int_eq(acl_decode(buf, acl_encode(&a, buf), &b), -EINVAL);
}
END_TEST

/* The mode an access ACL implies: the mask stands for the group class. */
START_TEST(test_equiv_mode)
{
	uint32_t perm;

	mk(&a, 3, minimal);
	ck_assert_int_eq(acl_equiv_mode(&a, &perm), 0);
	ck_assert_uint_eq(perm, 0644);
	mk(&a, 5, named);
	a.e[3].perm = 6; /* mask rw- */
	ck_assert_int_eq(acl_equiv_mode(&a, &perm), 1);
	ck_assert_uint_eq(perm, 0760);
}
END_TEST

/* chmod: owner and other from the mode, the mask (not the group entry) from its group bits. */
START_TEST(test_chmod)
{
	mk(&a, 5, named);
	acl_chmod(&a, 0640);
	ck_assert_uint_eq(a.e[0].perm, 6);
	ck_assert_uint_eq(a.e[1].perm, 7); /* named entries keep theirs */
	ck_assert_uint_eq(a.e[2].perm, 5);
	ck_assert_uint_eq(a.e[3].perm, 4);
	ck_assert_uint_eq(a.e[4].perm, 0);
	mk(&a, 3, minimal);
	acl_chmod(&a, 0751);
	ck_assert(a.e[0].perm == 7 && a.e[1].perm == 5 && a.e[2].perm == 1);
}
END_TEST

/* A file created with 0666 under the default ACL u::rwx,u:65534:rwx,g::r-x,m::rwx,o::---
 * gets mode 0660 and mask rw- (setfacl/touch on ext4); with a minimal default ACL the result
 * says nothing beyond the mode. */
START_TEST(test_create)
{
	uint32_t mode = 0100666;

	mk(&a, 5, named);
	ck_assert_int_eq(acl_create(&a, &mode), 1);
	ck_assert_uint_eq(mode, 0100660);
	ck_assert(a.e[0].perm == 6 && a.e[1].perm == 7 && a.e[3].perm == 6 && a.e[4].perm == 0);
	mode = 040777;
	mk(&a, 3, minimal);
	ck_assert_int_eq(acl_create(&a, &mode), 0);
	ck_assert_uint_eq(mode, 040644);
}
END_TEST

static Suite *acl_suite(void)
{
	Suite *s = suite_create("acl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_codec);
	tcase_add_test(tc, test_equiv_mode);
	tcase_add_test(tc, test_chmod);
	tcase_add_test(tc, test_create);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(acl_suite());
}
