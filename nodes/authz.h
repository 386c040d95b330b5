/* authz.h: the capability check of objfs-node's dispatch tables.  One
 * call per request, before its handler touches anything: it decides from
 * the key's capabilities (proto/keys.h), counts and logs each refusal
 * with the key's name.  Any thread; never blocks. */
#ifndef OBJFS_AUTHZ_H
#define OBJFS_AUTHZ_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/keys.h"

/* 0 when who may make request `what` (a message name, for the log)
 * needing need on bucket (NULL: no bucket; "" the catalog); else -EACCES
 * with the reason in err. */
int authz_check(const struct key_ent *who, enum key_need need, const char *bucket, const char *what,
		char *err, size_t errlen);

/* Requests refused by authz_check since the process started. */
uint64_t authz_refusals(void);

#endif
