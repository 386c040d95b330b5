/* test_meta_store_locks.c: the lock and ACL records of a shard (meta_store_locks.c,
 * meta_store_acl.c) through ms_apply: grants and refusals, a retried record, F_GETLK, the
 * session drop; an access ACL setting the mode, chmod rewriting the mask, inheritance of a
 * default ACL at create and the umask without one. */
#include "meta_store_fixture.h"

#include "../../nodes/acl.h"

static int lock(uint64_t session, uint64_t owner, uint8_t type, uint64_t start, uint64_t end,
		struct meta_op *keep)
{
	struct meta_lock l = {.ino = 2,
			      .session = session,
			      .owner = owner,
			      .start = start,
			      .end = end,
			      .kind = META_LK_POSIX,
			      .type = type};
	struct meta_op op;

	op_init(&op, MOP_LOCK);
	meta_lock_to_op(&l, &op);
	if (keep != NULL) {
		*keep = op;
	}
	return apply(&op, NULL);
}

/* Two sessions contend on ranges of one file; a retried record gives its first answer even
 * after the state changed; F_GETLK names the lock in the way; a dropped session frees all. */
START_TEST(test_lock_records)
{
	struct meta_lock q = {.ino = 2,
			      .session = 2,
			      .owner = 1,
			      .start = 0,
			      .end = 9,
			      .kind = META_LK_POSIX,
			      .type = META_LK_WR};
	struct meta_lock got;
	struct meta_op retry, op;

	ck_assert_int_eq(mknode(META_ROOT_INO, "f", S_IFREG | 0644, NULL), 0);
	ck_assert_int_eq(lock(1, 1, META_LK_WR, 0, 99, NULL), 0);
	ck_assert_int_eq(lock(2, 1, META_LK_RD, 50, 50, &retry), -EAGAIN);
	ck_assert_int_eq(lock(2, 1, META_LK_WR, 100, META_LOCK_EOF, NULL), 0);
	ck_assert_int_eq(ms_getlk(ms, &q, &got), 1);
	ck_assert(got.session == 1 && got.start == 0 && got.end == 99 && got.type == META_LK_WR);
	ck_assert_int_eq(lock(1, 1, META_LK_UN, 0, 99, NULL), 0);
	ck_assert_int_eq(apply(&retry, NULL), -EAGAIN); /* the same op id: its first result */
	ck_assert_int_eq(lock(2, 1, META_LK_RD, 50, 50, NULL), 0);
	ck_assert_int_eq(ms_getlk(ms, &q, &got), 0);
	q.session = 3;
	q.end = META_LOCK_EOF;
	ck_assert_int_eq(ms_getlk(ms, &q, &got), 1);
	ck_assert(got.session == 2 && got.type == META_LK_RD);
	op_init(&op, MOP_LOCK_DROP);
	op.parent = 2;
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert_int_eq(ms_getlk(ms, &q, &got), 0);
	/* A lock of an inode that does not exist is refused; its unlock is not. */
	q.ino = 99;
	op_init(&op, MOP_LOCK);
	meta_lock_to_op(&q, &op);
	ck_assert_int_eq(apply(&op, NULL), -ENOENT);
	q.type = META_LK_UN;
	op_init(&op, MOP_LOCK);
	meta_lock_to_op(&q, &op);
	ck_assert_int_eq(apply(&op, NULL), 0);
}
END_TEST

static int setacl(uint64_t ino, const char *name, const uint16_t (*v)[3], size_t n)
{
	static struct acl a;
	uint8_t buf[4 + 8 * 16];
	struct meta_op op;

	a.n = n;
	for (size_t i = 0; i < n; i++) {
		a.e[i] = (struct acl_entry){.tag = v[i][0], .perm = v[i][1], .id = v[i][2]};
	}
	op_init(&op, MOP_SETXATTR);
	op.ino = ino;
	snprintf(op.name, sizeof(op.name), "%s", name);
	op.data = buf;
	op.data_len = acl_encode(&a, buf);
	return apply(&op, NULL);
}

static const uint16_t named[][3] = {
    {0x01, 7, 0}, {0x02, 6, 65534}, {0x04, 5, 0}, {0x10, 7, 0}, {0x20, 0, 0}};
static const uint16_t minimal[][3] = {{0x01, 7, 0}, {0x04, 5, 0}, {0x20, 5, 0}};

static int has_xattr(uint64_t ino, const char *name)
{
	uint8_t *v = NULL;
	size_t n = 0;
	int rc = ms_getxattr(ms, ino, name, &v, &n);

	free(v);
	return rc == 0;
}

/* setfacl, chmod and create with a default ACL, as ext4 answers them. */
START_TEST(test_acl_records)
{
	struct meta_attr f, d, x;
	struct meta_op op;
	struct acl a;
	uint8_t *v = NULL;
	size_t n = 0;

	ck_assert_int_eq(mknode(META_ROOT_INO, "f", S_IFREG | 0600, &f), 0);
	ck_assert_int_eq(setacl(f.ino, ACL_XATTR_ACCESS, named, 5), 0);
	ck_assert_uint_eq(getattr(f.ino).mode, S_IFREG | 0770); /* the mask is the group */
	ck_assert(has_xattr(f.ino, ACL_XATTR_ACCESS));
	op_init(&op, MOP_SETATTR);
	op.ino = f.ino;
	op.valid = META_SET_MODE;
	op.mode = 0640;
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert_int_eq(ms_getxattr(ms, f.ino, ACL_XATTR_ACCESS, &v, &n), 0);
	ck_assert_int_eq(acl_decode(v, n, &a), 0);
	free(v);
	ck_assert(a.e[1].perm == 6 && a.e[3].perm == 4); /* named kept, mask r-- */
	ck_assert_int_eq(setacl(f.ino, ACL_XATTR_ACCESS, minimal, 3), 0);
	ck_assert_uint_eq(getattr(f.ino).mode, S_IFREG | 0755);
	ck_assert(!has_xattr(f.ino, ACL_XATTR_ACCESS)); /* the mode says it all */
	ck_assert_int_eq(setacl(f.ino, ACL_XATTR_DEFAULT, named, 5), -EACCES);

	ck_assert_int_eq(mknode(META_ROOT_INO, "d", S_IFDIR | 0755, &d), 0);
	ck_assert_int_eq(setacl(d.ino, ACL_XATTR_DEFAULT, named, 5), 0);
	op_init(&op, MOP_CREATE);
	op.parent = d.ino;
	snprintf(op.name, sizeof(op.name), "new");
	op.mode = S_IFREG | 0666;
	op.flags = META_F_UMASK;
	op.valid = 077; /* ignored: the default ACL decides */
	op.new_ino = ms_next_ino(ms);
	ck_assert_int_eq(apply(&op, NULL), 0);
	x = getattr(op.new_ino);
	ck_assert_uint_eq(x.mode, S_IFREG | 0660);
	ck_assert(has_xattr(x.ino, ACL_XATTR_ACCESS) && !has_xattr(x.ino, ACL_XATTR_DEFAULT));
	op_init(&op, MOP_CREATE);
	op.parent = d.ino;
	snprintf(op.name, sizeof(op.name), "sub");
	op.mode = S_IFDIR | 0777;
	op.flags = META_F_UMASK;
	op.new_ino = ms_next_ino(ms);
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert(has_xattr(op.new_ino, ACL_XATTR_DEFAULT));
	op_init(&op, MOP_CREATE);
	op.parent = META_ROOT_INO;
	snprintf(op.name, sizeof(op.name), "plain");
	op.mode = S_IFREG | 0666;
	op.flags = META_F_UMASK;
	op.valid = 027;
	op.new_ino = ms_next_ino(ms);
	ck_assert_int_eq(apply(&op, NULL), 0);
	ck_assert_uint_eq(getattr(op.new_ino).mode, S_IFREG | 0640);
	ck_assert(!has_xattr(op.new_ino, ACL_XATTR_ACCESS));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("meta_store_locks");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_lock_records);
	tcase_add_test(tc, test_acl_records);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tl_run(suite());
}
