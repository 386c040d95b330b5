/* classmap.h: the storage class of a mount's new blocks.  A file's blocks
 * take the class its nearest directory names (xattr user.objfs.class, as
 * `objfsctl class set` writes it), found by walking up the inode table's
 * parents; each directory's answer is cached for CM_TTL_MS.  Never decides
 * placement itself (blockio does, from the class id).  Thread-safe: its
 * own mutex, never held across a cluster call; uploader threads call it. */
#ifndef OBJFS_FUSE_CLASSMAP_H
#define OBJFS_FUSE_CLASSMAP_H

#include <stdint.h>

#include "../common/config.h"
#include "../common/meta_client.h"
#include "inode.h"

#define CM_XATTR "user.objfs.class"

struct classmap;

/* A map over mc's bucket; cfg, mc and it are borrowed and must outlive
 * every cm_class_of call.  With no [class] in cfg every answer is 0
 * without a cluster call.  0 or -ENOMEM. */
int cm_open(const struct cfg *cfg, struct mc *mc, struct itable *it, struct classmap **out);
void cm_close(struct classmap *cm);

/* The class id for new blocks of file ino: that of the nearest directory
 * above it (as last looked up) naming one, else 0.  A directory that
 * cannot be asked, or names a class the config lacks, counts as naming
 * none: the block is then written in the default class, which the mover
 * corrects later, rather than failing the write. */
uint8_t cm_class_of(struct classmap *cm, uint64_t ino);

#endif
