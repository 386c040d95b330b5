/* keys.h: client keys and what they allow: capability bits, the one check
 * every request passes at dispatch (key_allows), the wire form of a key
 * (META_KEYS, META_KEY_SYNC) and the text of a key file.  The cluster
 * secret (key id 0) is the nodes' own identity and may do anything.
 * Pure functions; no I/O; any thread. */
#ifndef OBJFS_KEYS_H
#define OBJFS_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define KEY_NAME_MAX 64	  /* names: 1..63 of [A-Za-z0-9._-] */
#define KEY_BUCKET_MAX 64 /* bucket names are at most 63 bytes (msg.h) */
#define KEY_SECRET_LEN 32 /* 256 random bits */
#define KEY_ID_NODE 0	  /* frames sealed with the cluster secret */

/* Capabilities.  A client key holds exactly one of ADMIN, or RO/RW with
 * its bucket; NODE is the cluster secret's and never stored. */
enum key_cap {
	KEY_CAP_RO = 1u << 0,	 /* read the key's bucket */
	KEY_CAP_RW = 1u << 1,	 /* read and change the key's bucket */
	KEY_CAP_ADMIN = 1u << 2, /* every bucket, buckets, nodes, keys */
	KEY_CAP_NODE = 1u << 3,	 /* a node: everything, key secrets too */
};

/* What a request type needs, from its dispatch table.  A request without
 * a bucket (fragments) needs the right on any bucket: fragment ids are
 * random 128-bit names a key only learns from its own bucket's extents. */
enum key_need {
	KEY_NEED_ANY = 0, /* any valid key (PING, the bucket list) */
	KEY_NEED_READ,	  /* ro or rw of the request's bucket */
	KEY_NEED_WRITE,	  /* rw of the request's bucket; the catalog: admin */
	KEY_NEED_ADMIN,	  /* admin: shard opening, membership, key list */
	KEY_NEED_NODE,	  /* nodes only: key secrets */
};

struct key_ent {
	uint64_t id; /* random, never KEY_ID_NODE */
	char name[KEY_NAME_MAX];
	char bucket[KEY_BUCKET_MAX]; /* "" for admin */
	uint32_t caps;		     /* enum key_cap */
	uint8_t secret[KEY_SECRET_LEN];
	int64_t ctime_ns;
};

/* 0 when k may make a request needing need on bucket (NULL: a request
 * that names no bucket; "" the catalog), else -EACCES. */
int key_allows(const struct key_ent *k, enum key_need need, const char *bucket);

/* 0 for a valid key name, else -EINVAL. */
int key_check_name(const char *name);
/* 0 when caps/bucket form a valid client key (one of admin, ro:B, rw:B
 * with a valid bucket name), else -EINVAL. */
int key_check_caps(uint32_t caps, const char *bucket);

/* "admin", "rw:BUCKET", "ro:BUCKET" or "node" into buf (>= 72 bytes). */
const char *key_caps_str(const struct key_ent *k, char *buf, size_t cap);
/* Parses the form key_caps_str writes: 0 or -EINVAL. */
int key_parse_caps(const char *s, uint32_t *caps, char bucket[KEY_BUCKET_MAX]);

/* Wire form: u64 id, str name, str bucket, u32 caps, i64 ctime, and with
 * secret set the 32 secret bytes.  Decoding checks name and caps. */
void key_put(struct wr *w, const struct key_ent *k, int secret);
void key_get(struct rd *r, struct key_ent *k, int secret);

/* A key file: "name = ", "id = " (16 hex digits), "caps = " and
 * "secret = " (64 hex digits) lines, '#' comments and blank lines.
 * key_file_parse reads the len bytes of text (from file `what`, for
 * messages) into *k: 0, or -EINVAL with the line and reason in err (never
 * the secret).  key_file_format writes the text of k into buf: its
 * length, or -ENOSPC when cap is too small. */
int key_file_parse(const char *text, size_t len, const char *what, struct key_ent *k, char *err,
		   size_t errlen);
int key_file_format(const struct key_ent *k, char *buf, size_t cap);

#endif
