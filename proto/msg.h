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
 *   7  USAGE       v2     u32 max                      u32 n, n*usage_sample (oldest
 *                                                      first, the newest n kept)
 *   8  SCRUB       v2     u8 op (0 status, 1 start)    scrub_status
 *   9  FRAG_CHECK  v2     u8 op, u32 grace_s, u32 n,   u32 n, n*u8 result
 *                         n*frag_ref (n <= FRAG_CHECK_MAX)
 *  13  SNAP_READ   v2     str group, u64 min_index,    u64 index, u64 size,
 *                         u64 index (0: newest),       u64 file_xxh3, u64 chunk_xxh3,
 *                         u64 offset, u32 len          data[n] (n <= len; nodes only)
 *      (ids 7, 8 and 9 were v1's object index too, retired before any
 *       release; a v1 peer is refused by the frame version first)
 *  20..31       metadata shards: see meta.h
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
	MSG_USAGE = 7, /* usage history of the node (nodes/usage.c) */
	MSG_SCRUB = 8,
	MSG_FRAG_CHECK = 9,
	MSG_SNAP_READ = 13, /* a chunk of a shard snapshot file (nodes/snap_stream.c) */
	MSG_TYPE_MAX = 16,
	MSG_META_FIRST = 20 /* metadata messages: meta.h */
};

const char *msg_type_name(uint8_t type);

#define BLOCK_ID_LEN 16
#define FRAG_ALL 255
#define MSG_NAME_MAX 1024  /* bucket names; keys use WIRE_STR_MAX */
#define MSG_LIST_MAX 10000 /* entries per list reply */
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
	uint64_t csum;	    /* XXH3-64 of the fragment's bytes */
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

/* One usage sample a node took (nodes/usage.c); counters since the node
 * started are paired with its uptime so a reader can tell a restart from
 * a decrease. */
struct usage_sample {
	uint64_t t_s;	       /* Unix time of the sample */
	uint64_t uptime_s;     /* of the node at that time */
	uint64_t frag_bytes;   /* bytes of fragment files */
	uint64_t frag_count;   /* fragments */
	uint64_t capacity;     /* bytes the node may use */
	uint64_t disk_free;    /* bytes still available to it */
	uint64_t requests;     /* requests served since the node started */
	uint64_t objects;      /* files of the bucket shards it leads */
	uint64_t object_bytes; /* their logical size */
	uint64_t shards_led;   /* bucket shards it leads */
	uint64_t meta_bytes;   /* their database files here (with the WAL) */
};
#define MSG_USAGE_SAMPLE_LEN 88 /* encoded: 11 x u64 */
#define MSG_USAGE_MAX 8192	/* samples per reply (704 KiB) */

/* One scrub pass of a node: a full read of every fragment it stores. */
struct scrub_pass {
	uint32_t id;			  /* pass number on this node; 0: none yet */
	uint64_t started_ms, finished_ms; /* wall clock; finished 0 while running */
	uint64_t total;			  /* fragments stored when the pass began */
	uint64_t checked, bad, bytes;	  /* fragments read, failed (quarantined), bytes read */
};

#define SCRUB_BAD_MAX 64 /* bad fragments a status reply lists (the latest) */

/* SCRUB request ops. */
enum scrub_op { SCRUB_STATUS = 0, SCRUB_START = 1 };

struct scrub_status {
	uint8_t running;	/* a pass is under way: cur describes it */
	uint32_t rate_mb;	/* scrub_rate, MB/s */
	uint64_t period_s;	/* scrub_period; 0: no automatic passes */
	struct scrub_pass cur;	/* the pass running now, or the last one */
	struct scrub_pass last; /* the last complete pass */
	uint32_t n_bad;
	struct frag_ref bad[SCRUB_BAD_MAX]; /* latest bad fragments found by any pass */
};

/* FRAG_CHECK ops and per-fragment results.  VERIFY reads every byte and
 * checks both checksums (a failure quarantines, as FRAG_GET does); SWEEP
 * deletes a fragment only if its file is older than grace_s by the
 * node's clock; AGE answers what SWEEP would do, deleting nothing. */
enum frag_check_op { FRAG_CHECK_VERIFY = 1, FRAG_CHECK_SWEEP = 2, FRAG_CHECK_AGE = 3 };
enum frag_check_res {
	FRAG_RES_OK = 0,      /* VERIFY: intact; AGE: old enough to delete */
	FRAG_RES_MISSING = 1, /* not stored here */
	FRAG_RES_BAD = 2,     /* VERIFY: failed a checksum, now quarantined */
	FRAG_RES_YOUNG = 3,   /* SWEEP: younger than the grace period, kept */
	FRAG_RES_DELETED = 4, /* SWEEP: removed */
	FRAG_RES_ERROR = 5    /* the disk failed the read */
};
#define FRAG_CHECK_MAX 4096 /* fragments per FRAG_CHECK request */

#define MSG_BLOCK_MAX ((uint64_t)64 * 1024 * 1024) /* largest block */
#define MSG_MANIFEST_MAX (16u * 1024 * 1024)

/* Encoders append to w; check wr_status(w) once at the end. */
void msg_put_frag_ref(struct wr *w, const struct frag_ref *r);
void msg_put_frag_hdr(struct wr *w, const struct frag_hdr *h);
void msg_put_node_status(struct wr *w, const struct node_status *s);
void msg_put_error(struct wr *w, const char *text);
void msg_put_usage_sample(struct wr *w, const struct usage_sample *s);

void msg_put_scrub_status(struct wr *w, const struct scrub_status *s);
/* A FRAG_CHECK request body for n refs (n <= FRAG_CHECK_MAX). */
void msg_put_frag_check(struct wr *w, uint8_t op, uint32_t grace_s, const struct frag_ref *refs,
			size_t n);

/* Decoders read from r; the caller checks rd_ok()/rd_done().  Semantic
 * limits (index range, k/m range, lengths) mark the reader bad. */
void msg_get_frag_ref(struct rd *r, struct frag_ref *out);
void msg_get_frag_hdr(struct rd *r, struct frag_hdr *out);
void msg_get_node_status(struct rd *r, struct node_status *out);
void msg_get_error(struct rd *r, char *out, size_t cap);
void msg_get_usage_sample(struct rd *r, struct usage_sample *out);

void msg_get_scrub_status(struct rd *r, struct scrub_status *out);

/* Validates a bucket name: 1..63 chars of [a-z0-9.-], starting with a
 * letter or digit (S3 rules, simplified).  Returns 0 or -EINVAL. */
int msg_check_bucket(const char *b);
/* Validates an object key: 1..1023 bytes, no NUL, no empty path segment,
 * no "." or ".." segment, no leading '/'.  Returns 0 or -EINVAL. */
int msg_check_key(const char *k);

/* Hex form of a block id (32 chars + NUL). */
void msg_block_hex(const uint8_t id[BLOCK_ID_LEN], char out[2 * BLOCK_ID_LEN + 1]);

#endif
