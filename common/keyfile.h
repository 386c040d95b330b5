/* keyfile.h: reading a client key file (proto/keys.h gives its text) and
 * making a client use it.  Caller's thread; no state of its own. */
#ifndef OBJFS_KEYFILE_H
#define OBJFS_KEYFILE_H

#include <stddef.h>

#include "../proto/keys.h"
#include "config.h"

/* Reads the key file at path into *k: 0, the open/read error (-ENOENT,
 * -EACCES ...) or -EINVAL, with a message naming the file in err (never
 * the secret). */
int key_file_load(const char *path, struct key_ent *k, char *err, size_t errlen);

/* Makes every client of cfg (cl_open) seal its frames with the key in
 * the file at path instead of the cluster secret.  0 or key_file_load's
 * error. */
int cfg_use_key_file(struct cfg *cfg, const char *path, char *err, size_t errlen);

#endif
