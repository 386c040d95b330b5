/* msg.h: the wire catalogue: every message id, its fields, and the
 * protocol version that introduced it.  Ids are never reused.  Each
 * request type has a reply of the same id with FRAME_F_REPLY set; a reply
 * whose status is negative carries an error string (u16 len + text) as its
 * only body.  Decoders bounds-check every length, reject trailing bytes,
 * and return -OBJ_EPROTO for anything malformed.  Pure functions; no I/O.
 *
 *  id  name        since  request body                 reply body
 *   1  PING        v1     -                            node_status
 *   2  FRAG_PUT    v1     frag_hdr, data[len]          -
 *   3  FRAG_GET    v1     frag_ref                     frag_hdr, data[len]
 *   4  FRAG_STAT   v1     frag_ref                     frag_hdr
 *   5  FRAG_DEL    v1     frag_ref (index 255 = all)   u32 removed
 *   6  FRAG_LIST   v1     frag_ref after, u8 first,    u32 n, n*frag_hdr, u8 more
 *                         u32 max
 *   7  OBJ_PUT     v1     obj_key, obj_rec             -
 *   8  OBJ_GET     v1     obj_key                      obj_rec
 *   9  OBJ_LIST    v1     obj_list_req                 u32 n, n*obj_entry, u8 more
 */
#ifndef OBJFS_MSG_H
#define OBJFS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

enum msg_type {
	MSG_PING = 1,
	MSG_FRAG_PUT = 2,
	MSG_FRAG_GET = 3,
	MSG_FRAG_STAT = 4,
	MSG_FRAG_DEL = 5,
	MSG_FRAG_LIST = 6,
	MSG_OBJ_PUT = 7,
	MSG_OBJ_GET = 8,
	MSG_OBJ_LIST = 9,
	MSG_TYPE_MAX
};

const char *msg_type_name(uint8_t type);

#define BLOCK_ID_LEN 16
#define FRAG_ALL 255
#define MSG_NAME_MAX 1024   /* bucket names; keys use WIRE_STR_MAX */
#define MSG_LIST_MAX 10000  /* entries per list reply */
#define MSG_ERR_MAX 256

/* Identifies one fragment. */
struct frag_ref {
	uint8_t block_id[BLOCK_ID_LEN];
	uint8_t index; /* 0..k+m-1, or FRAG_ALL in FRAG_DEL */
};

/* Describes one stored fragment; also the on-disk header's fields. */
struct frag_hdr {
	struct frag_ref ref;
	uint8_t k, m;
	uint64_t block_len; /* bytes of the whole block before coding */
	uint32_t frag_len;  /* bytes of this fragment */
	uint64_t csum;      /* XXH3-64 of the fragment's bytes */
};

struct node_status {
	uint32_t node_id;
	char zone[64];
	uint64_t disk_total;
	uint64_t disk_free;
	uint64_t frag_count;
	uint64_t frag_bytes;
	uint64_t uptime_s;
	uint64_t requests;
	uint64_t auth_failures;
	uint64_t bad_requests;
	uint64_t checksum_errors;
};

struct obj_key {
	char bucket[MSG_NAME_MAX];
	char key[WIRE_STR_MAX + 1];
};

/* One version of an object's index record (replicated, newest wins). */
struct obj_rec {
	uint64_t version;   /* ordering: larger wins (ms timestamp << 16 | rand) */
	uint8_t deleted;    /* tombstone */
	uint64_t size;      /* object bytes */
	const uint8_t *manifest; /* points into the decoded message */
	size_t manifest_len;
};

struct obj_list_req {
	char bucket[MSG_NAME_MAX];
	char prefix[WIRE_STR_MAX + 1];
	char after[WIRE_STR_MAX + 1]; /* resume after this key ("" = start) */
	uint32_t max;
};

struct obj_entry {
	char key[WIRE_STR_MAX + 1];
	uint64_t version;
	uint8_t deleted;
	uint64_t size;
};

#define MSG_BLOCK_MAX ((uint64_t)64 * 1024 * 1024) /* largest block */
#define MSG_MANIFEST_MAX (16u * 1024 * 1024)

/* Encoders append to w; check wr_status(w) once at the end. */
void msg_put_frag_ref(struct wr *w, const struct frag_ref *r);
void msg_put_frag_hdr(struct wr *w, const struct frag_hdr *h);
void msg_put_node_status(struct wr *w, const struct node_status *s);
void msg_put_obj_key(struct wr *w, const struct obj_key *k);
void msg_put_obj_rec(struct wr *w, const struct obj_rec *r);
void msg_put_obj_list_req(struct wr *w, const struct obj_list_req *q);
void msg_put_obj_entry(struct wr *w, const struct obj_entry *e);
void msg_put_error(struct wr *w, const char *text);

/* Decoders read from r; the caller checks rd_ok()/rd_done().  Semantic
 * limits (index range, k/m range, lengths) mark the reader bad. */
void msg_get_frag_ref(struct rd *r, struct frag_ref *out);
void msg_get_frag_hdr(struct rd *r, struct frag_hdr *out);
void msg_get_node_status(struct rd *r, struct node_status *out);
void msg_get_obj_key(struct rd *r, struct obj_key *out);
void msg_get_obj_rec(struct rd *r, struct obj_rec *out);
void msg_get_obj_list_req(struct rd *r, struct obj_list_req *out);
void msg_get_obj_entry(struct rd *r, struct obj_entry *out);
void msg_get_error(struct rd *r, char *out, size_t cap);

/* Validates a bucket name: 1..63 chars of [a-z0-9.-], starting with a
 * letter or digit (S3 rules, simplified).  Returns 0 or -EINVAL. */
int msg_check_bucket(const char *b);
/* Validates an object key: 1..1023 bytes, no NUL, no empty path segment,
 * no "." or ".." segment, no leading '/'.  Returns 0 or -EINVAL. */
int msg_check_key(const char *k);

/* Hex form of a block id (32 chars + NUL). */
void msg_block_hex(const uint8_t id[BLOCK_ID_LEN], char out[2 * BLOCK_ID_LEN + 1]);

#endif
