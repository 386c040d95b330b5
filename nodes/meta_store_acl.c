/* meta_store_acl.c: POSIX ACLs of a metadata shard inside its records, as
 * ext4 keeps them (rules in acl.h): an access ACL is stored only when it
 * says more than the mode and sets the mode's bits; chmod rewrites the
 * stored ACL's owner, mask (or group) and other entries; a new inode in a
 * directory with a default ACL inherits it (and a new directory the
 * default ACL too) instead of having the creator's umask applied.  The
 * kernel enforces them (FUSE_CAP_POSIX_ACL).  Caller holds ms->lock. */
#include "meta_store_i.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "acl.h"

int msi_acl_name(const char *name)
{
	return strcmp(name, ACL_XATTR_ACCESS) == 0 || strcmp(name, ACL_XATTR_DEFAULT) == 0;
}

/* The stored ACL `name` of ino: 1 with *a decoded, 0 when none. */
static int acl_get(struct mstore *ms, uint64_t ino, const char *name, struct acl *a)
{
	sqlite3_stmt *st = msi_bind(ms, S_XA_GET, ARGS(AI(ino), AS(name)));
	int rc = msi_first_row(ms, S_XA_GET, st);

	if (rc == 1) {
		const void *p = sqlite3_column_blob(st, 0);
		size_t n = (size_t)sqlite3_column_bytes(st, 0);

		/* Only ever stored after a check: a bad one is damage. */
		rc = acl_decode(p, n, a) == 0 ? 1 : -EIO;
		msi_stmt_done(st);
	}
	return rc;
}

static int acl_put(struct mstore *ms, uint64_t ino, const char *name, const struct acl *a)
{
	uint8_t *buf = malloc(4 + 8 * a->n);
	size_t n;
	int rc;

	if (buf == NULL) {
		return -ENOMEM;
	}
	n = acl_encode(a, buf);
	rc = msi_run(ms, S_XA_PUT, ARGS(AI(ino), AS(name), AB(buf, n)));
	free(buf);
	return rc;
}

int msi_acl_xattr(struct mstore *ms, const struct meta_op *op, struct inode *x,
		  struct meta_result *res)
{
	bool access = strcmp(op->name, ACL_XATTR_ACCESS) == 0;
	struct acl *a = NULL;
	int64_t any;
	int rc = 0;

	if (op->type == MOP_REMOVEXATTR) {
		rc = msi_get_int(ms, S_XA_GET, ARGS(AI(x->a.ino), AS(op->name)), &any);
		if (rc == 0) {
			return -ENODATA;
		}
		rc = rc < 0 ? rc : msi_run(ms, S_XA_DEL, ARGS(AI(x->a.ino), AS(op->name)));
	} else if (!access && !S_ISDIR(x->a.mode)) {
		return -EACCES; /* only directories have a default ACL */
	} else if ((a = malloc(sizeof(*a))) == NULL) {
		return -ENOMEM;
	} else if (acl_decode(op->data, op->data_len, a) != 0) {
		rc = -EINVAL;
	} else if (access) {
		uint32_t perm;
		int extended = acl_equiv_mode(a, &perm);

		/* The ACL's bits are the mode's; one the mode says fully is
		 * not kept (so getfacl and the mode never disagree). */
		x->a.mode = (x->a.mode & ~0777u) | perm;
		rc = msi_ino_write(ms, S_INO_UPD, x);
		if (rc == 0) {
			rc = extended ? acl_put(ms, x->a.ino, op->name, a)
				      : msi_run(ms, S_XA_DEL, ARGS(AI(x->a.ino), AS(op->name)));
		}
	} else {
		rc = acl_put(ms, x->a.ino, op->name, a);
	}
	free(a);
	if (rc == 0) {
		rc = msi_run(ms, S_INO_CTIME, ARGS(AI(x->a.ino), AI(op->now_ns)));
	}
	return rc < 0 ? rc : msi_attr_of(ms, x->a.ino, &res->attr);
}

int msi_acl_chmod(struct mstore *ms, uint64_t ino, uint32_t mode)
{
	struct acl *a = malloc(sizeof(*a));
	int rc;

	if (a == NULL) {
		return -ENOMEM;
	}
	rc = acl_get(ms, ino, ACL_XATTR_ACCESS, a);
	if (rc == 1) {
		acl_chmod(a, mode);
		rc = acl_put(ms, ino, ACL_XATTR_ACCESS, a);
	}
	free(a);
	return rc;
}

int msi_acl_inherit(struct mstore *ms, const struct meta_op *op, uint32_t *mode,
		    struct msi_inherit *h)
{
	int rc;

	memset(h, 0, sizeof(*h));
	if (!(op->flags & META_F_UMASK) || S_ISLNK(*mode)) {
		return 0;
	}
	h->dflt = malloc(sizeof(*h->dflt));
	if (h->dflt == NULL) {
		return -ENOMEM;
	}
	rc = acl_get(ms, op->parent, ACL_XATTR_DEFAULT, h->dflt);
	if (rc <= 0) {
		free(h->dflt);
		h->dflt = NULL;
		if (rc == 0) {
			*mode &= ~(op->valid & 0777); /* no default ACL: the umask */
		}
		return rc;
	}
	h->access = malloc(sizeof(*h->access));
	if (h->access == NULL) {
		msi_acl_inherit_done(h);
		return -ENOMEM;
	}
	*h->access = *h->dflt;
	if (!acl_create(h->access, mode)) {
		free(h->access); /* the mode says it all */
		h->access = NULL;
	}
	if (!S_ISDIR(*mode)) {
		free(h->dflt); /* only directories pass the default on */
		h->dflt = NULL;
	}
	return 0;
}

int msi_acl_inherit_store(struct mstore *ms, uint64_t ino, struct msi_inherit *h)
{
	int rc = 0;

	if (h->access != NULL) {
		rc = acl_put(ms, ino, ACL_XATTR_ACCESS, h->access);
	}
	if (rc == 0 && h->dflt != NULL) {
		rc = acl_put(ms, ino, ACL_XATTR_DEFAULT, h->dflt);
	}
	return rc;
}

void msi_acl_inherit_done(struct msi_inherit *h)
{
	free(h->access);
	free(h->dflt);
	h->access = h->dflt = NULL;
}
