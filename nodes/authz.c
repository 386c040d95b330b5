/* authz.c: the capability check at dispatch (see authz.h). */
#include "authz.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include "../common/log.h"

static atomic_uint_fast64_t refusals;

int authz_check(const struct key_ent *who, enum key_need need, const char *bucket, const char *what,
		char *err, size_t errlen)
{
	static const char *const needs[] = {
	    [KEY_NEED_ANY] = "a key",	[KEY_NEED_READ] = "read", [KEY_NEED_WRITE] = "write",
	    [KEY_NEED_ADMIN] = "admin", [KEY_NEED_NODE] = "node",
	};
	char caps[96];

	if (key_allows(who, need, bucket) == 0) {
		return 0;
	}
	atomic_fetch_add(&refusals, 1);
	snprintf(err, errlen, "key '%s' (%s) may not %s: needs %s%s%s%s", who->name,
		 key_caps_str(who, caps, sizeof(caps)), what, needs[need],
		 bucket == NULL	     ? ""
		 : bucket[0] == '\0' ? " on the catalog"
				     : " on bucket '",
		 bucket != NULL ? bucket : "", bucket != NULL && bucket[0] != '\0' ? "'" : "");
	log_warn("srv.cap", "refused: %s", err);
	return -EACCES;
}

uint64_t authz_refusals(void)
{
	return atomic_load(&refusals);
}
