/* acl.c: POSIX ACL encoding and the mode rules of Linux (see acl.h). */
#include "acl.h"

#include <errno.h>

#include "../proto/wire.h"

enum {
	ACL_VERSION = 2,
	TAG_USER_OBJ = 0x01,
	TAG_USER = 0x02,
	TAG_GROUP_OBJ = 0x04,
	TAG_GROUP = 0x08,
	TAG_MASK = 0x10,
	TAG_OTHER = 0x20,
};

int acl_decode(const uint8_t *buf, size_t len, struct acl *out)
{
	unsigned seen = 0, named = 0;
	struct rd r;

	if (len < 4 || (len - 4) % 8 != 0 || (len - 4) / 8 > ACL_ENTRIES_MAX) {
		return -EINVAL;
	}
	rd_init(&r, buf, len);
	if (rd_u32(&r) != ACL_VERSION) {
		return -EINVAL;
	}
	out->n = (len - 4) / 8;
	for (size_t i = 0; i < out->n; i++) {
		struct acl_entry *e = &out->e[i];

		e->tag = rd_u16(&r);
		e->perm = rd_u16(&r);
		e->id = rd_u32(&r);
		if (e->perm & ~7u) {
			return -EINVAL;
		}
		switch (e->tag) {
		case TAG_USER_OBJ:
		case TAG_GROUP_OBJ:
		case TAG_MASK:
		case TAG_OTHER:
			if (seen & e->tag) {
				return -EINVAL;
			}
			seen |= e->tag;
			break;
		case TAG_USER:
		case TAG_GROUP:
			named = 1;
			break;
		default:
			return -EINVAL;
		}
	}
	if (!rd_done(&r)) {
		return -EINVAL;
	}
	if ((seen & (TAG_USER_OBJ | TAG_GROUP_OBJ | TAG_OTHER)) !=
	    (TAG_USER_OBJ | TAG_GROUP_OBJ | TAG_OTHER)) {
		return -EINVAL;
	}
	return named && !(seen & TAG_MASK) ? -EINVAL : 0;
}

size_t acl_encode(const struct acl *a, uint8_t *buf)
{
	struct wr w;

	wr_init_buf(&w, buf, 4 + 8 * a->n);
	wr_u32(&w, ACL_VERSION);
	for (size_t i = 0; i < a->n; i++) {
		wr_u16(&w, a->e[i].tag);
		wr_u16(&w, a->e[i].perm);
		wr_u32(&w, a->e[i].id);
	}
	return w.len;
}

int acl_equiv_mode(const struct acl *a, uint32_t *perm)
{
	uint32_t user = 0, group = 0, other = 0, mask = 0;
	int has_mask = 0, not_equiv = 0;

	for (size_t i = 0; i < a->n; i++) {
		const struct acl_entry *e = &a->e[i];

		switch (e->tag) {
		case TAG_USER_OBJ:
			user = e->perm;
			break;
		case TAG_GROUP_OBJ:
			group = e->perm;
			break;
		case TAG_OTHER:
			other = e->perm;
			break;
		case TAG_MASK:
			mask = e->perm;
			has_mask = not_equiv = 1;
			break;
		default:
			not_equiv = 1;
		}
	}
	/* With a mask, the group bits of the mode are the mask. */
	*perm = user << 6 | (has_mask ? mask : group) << 3 | other;
	return not_equiv;
}

void acl_chmod(struct acl *a, uint32_t mode)
{
	struct acl_entry *group = NULL, *mask = NULL;

	for (size_t i = 0; i < a->n; i++) {
		struct acl_entry *e = &a->e[i];

		switch (e->tag) {
		case TAG_USER_OBJ:
			e->perm = (mode >> 6) & 7;
			break;
		case TAG_GROUP_OBJ:
			group = e;
			break;
		case TAG_MASK:
			mask = e;
			break;
		case TAG_OTHER:
			e->perm = mode & 7;
			break;
		default:
			break;
		}
	}
	if (mask != NULL) {
		mask->perm = (mode >> 3) & 7;
	} else if (group != NULL) {
		group->perm = (mode >> 3) & 7;
	}
}

int acl_create(struct acl *a, uint32_t *mode_p)
{
	struct acl_entry *group = NULL, *mask = NULL;
	uint32_t mode = *mode_p & 0777;
	int not_equiv = 0;

	for (size_t i = 0; i < a->n; i++) {
		struct acl_entry *e = &a->e[i];

		switch (e->tag) {
		case TAG_USER_OBJ:
			e->perm &= (mode >> 6) & 7;
			mode &= ((uint32_t)e->perm << 6) | ~0700u;
			break;
		case TAG_GROUP_OBJ:
			group = e;
			break;
		case TAG_OTHER:
			e->perm &= mode & 7;
			mode &= e->perm | ~07u;
			break;
		case TAG_MASK:
			mask = e;
			not_equiv = 1;
			break;
		default:
			not_equiv = 1;
		}
	}
	if (mask == NULL) {
		mask = group; /* acl_decode guarantees a group entry */
	}
	if (mask != NULL) {
		mask->perm &= (mode >> 3) & 7;
		mode &= ((uint32_t)mask->perm << 3) | ~070u;
	}
	*mode_p = (*mode_p & ~0777u) | (mode & 0777);
	return not_equiv;
}
