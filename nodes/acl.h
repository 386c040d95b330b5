/* acl.h: POSIX ACLs in the Linux xattr format (system.posix_acl_access and
 * _default: u32 version 2, then entries of u16 tag, u16 perm, u32 id, all
 * little-endian) and the rules ext4 applies with them, as pure functions:
 * the mode an access ACL implies, chmod of an ACL, and the ACL and mode a
 * new inode inherits from its directory's default ACL.  The shard applies
 * them inside its records (meta_store_acl.c); the kernel enforces them.
 * No I/O; any thread. */
#ifndef OBJFS_ACL_H
#define OBJFS_ACL_H

#include <stddef.h>
#include <stdint.h>

#define ACL_XATTR_ACCESS "system.posix_acl_access"
#define ACL_XATTR_DEFAULT "system.posix_acl_default"
#define ACL_ENTRIES_MAX 1024 /* more than a 64 KiB xattr value holds */

struct acl_entry {
	uint16_t tag, perm;
	uint32_t id;
};

struct acl {
	size_t n;
	struct acl_entry e[ACL_ENTRIES_MAX];
};

/* Decodes and checks an ACL (one USER_OBJ, GROUP_OBJ and OTHER; a MASK
 * when named entries exist; perms within rwx).  0 or -EINVAL. */
int acl_decode(const uint8_t *buf, size_t len, struct acl *out);
/* Encodes into buf (room for 4 + 8 * n bytes); returns the length. */
size_t acl_encode(const struct acl *a, uint8_t *buf);
/* The permission bits a's owner, group (the mask if any) and other entries
 * give; returns 1 if a says more than those bits (named entries or a
 * mask), 0 if the mode alone says it all (ext4 then stores no ACL). */
int acl_equiv_mode(const struct acl *a, uint32_t *perm);
/* chmod: the owner, other and mask (else group) entries take mode's bits. */
void acl_chmod(struct acl *a, uint32_t mode);
/* A new inode with the requested permission bits *mode in a directory
 * whose default ACL is a (copied by the caller): both are narrowed to
 * each other (posix_acl_create); returns 1 if the ACL must be stored. */
int acl_create(struct acl *a, uint32_t *mode);

#endif
