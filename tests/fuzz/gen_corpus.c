/* gen_corpus.c: writes the seed corpora of tests/fuzz/corpus/<harness>/
 * from the project's own encoders, so every seed is a valid input a real
 * peer or disk could produce (frames sealed under FUZZ_SECRET, fragment
 * files written by frag_put).  Deterministic: fixed ids, times and nonces.
 * Usage: gen_corpus OUTDIR (the harness directories are created). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/checksum.h"
#include "../../common/ec.h"
#include "../../common/err.h"
#include "../../common/fileio.h"
#include "../../common/log.h"
#include "../../nodes/fragstore.h"
#include "../../nodes/meta_store.h"
#include "../../nodes/rmux_pre.h"
#include "../../proto/frame.h"
#include "../../proto/manifest.h"
#include "../../proto/meta.h"
#include "../../proto/msg.h"
#include "fuzz.h"

static const char *outdir;

static void die(const char *what)
{
	fprintf(stderr, "gen_corpus: %s\n", what);
	exit(1);
}

static void seed(const char *harness, const char *name, const void *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, harness);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		die(path);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, harness, name);
	f = fopen(path, "wb");
	if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		die(path);
	}
}

static void seed_wr(const char *harness, const char *name, struct wr *w)
{
	if (wr_status(w) != 0) {
		die("encoder failed");
	}
	seed(harness, name, w->buf + w->reserve, wr_len(w));
	wr_free(w);
}

static struct frag_hdr sample_hdr(uint8_t index, uint64_t block_len)
{
	struct frag_hdr h = {.ref = {.index = index}, .k = 4, .m = 2, .block_len = block_len};

	for (int i = 0; i < BLOCK_ID_LEN; i++) {
		h.ref.block_id[i] = (uint8_t)(0xa0 + i);
	}
	h.frag_len = (uint32_t)ec_frag_len((struct ec_profile){4, 2}, block_len);
	return h;
}

static struct meta_attr sample_attr(void)
{
	return (struct meta_attr){.ino = 42,
				  .mode = 0100644,
				  .nlink = 1,
				  .uid = 1000,
				  .gid = 1000,
				  .size = 5000,
				  .blocks = 16,
				  .atime_ns = 1700000000000000000,
				  .mtime_ns = 1700000000000000000,
				  .ctime_ns = 1700000000000000000,
				  .gen = 3};
}

static struct meta_extent sample_extent(uint64_t chunk)
{
	struct meta_extent e = {.chunk = chunk, .blk = {.k = 4, .m = 2, .len = 4096}, .len = 4000};

	memset(e.blk.id, (int)(0x10 + chunk), BLOCK_ID_LEN);
	e.blk.csum = 0x1234567890abcdefull;
	return e;
}

/* ---- frame ---- */

static void gen_frame(void)
{
	struct frame_key key;
	static const struct {
		const char *name;
		uint8_t type;
		uint16_t flags;
		int32_t status;
		const char *err;
	} frames[] = {
	    {"ping_request", MSG_PING, 0, 0, NULL},
	    {"lookup_request", MSG_META_LOOKUP, 0, 0, NULL},
	    {"error_reply", MSG_FRAG_GET, FRAME_F_REPLY, -ENOENT, "no such fragment"},
	    {"eremote_reply", MSG_META_OP, FRAME_F_REPLY, -EREMOTE, "not the leader"},
	};

	fuzz_key(&key);
	for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
		struct frame_hdr h = {.type = frames[i].type,
				      .flags = frames[i].flags,
				      .req_id = 7 + i,
				      .ts_ms = 1700000000000ull,
				      .nonce = 0x0123456789abcdefull + i,
				      .status = frames[i].status};
		struct wr w;

		wr_init(&w, FRAME_HDR_LEN);
		if (frames[i].err != NULL) {
			msg_put_error(&w, frames[i].err);
			if (frames[i].status == -EREMOTE) {
				wr_u32(&w, 3); /* the leader hint */
			}
		} else if (frames[i].type == MSG_META_LOOKUP) {
			wr_str(&w, "photos");
			wr_u64(&w, META_ROOT_INO);
			wr_str(&w, "a.jpg");
		}
		h.body_len = (uint32_t)wr_len(&w);
		wr_space(&w, FRAME_TAG_LEN);
		if (wr_status(&w) != 0 || frame_seal(&key, &h, w.buf) != 0) {
			die("frame_seal");
		}
		seed("frame", frames[i].name, w.buf, w.len);
		wr_free(&w);
	}
}

/* ---- message bodies: u8 type, u8 direction, body ---- */

static void msg_begin(struct wr *w, uint8_t type, int reply)
{
	wr_init(w, 0);
	wr_u8(w, type);
	wr_u8(w, (uint8_t)reply);
}

static void gen_msg(void)
{
	struct frag_hdr fh = sample_hdr(1, 10000);
	struct meta_attr a = sample_attr();
	struct wr w;

	msg_begin(&w, MSG_PING, 1);
	msg_put_node_status(
	    &w, &(struct node_status){
		    .node_id = 1, .zone = "rack-a", .disk_total = 1u << 30, .frag_count = 5});
	seed_wr("msg", "ping_reply", &w);

	msg_begin(&w, MSG_FRAG_PUT, 0);
	msg_put_frag_hdr(&w, &fh);
	wr_space(&w, fh.frag_len);
	memset(w.buf + w.len - fh.frag_len, 0x5a, fh.frag_len);
	seed_wr("msg", "frag_put_request", &w);

	msg_begin(&w, MSG_FRAG_GET, 0);
	msg_put_frag_ref(&w, &fh.ref);
	seed_wr("msg", "frag_get_request", &w);

	msg_begin(&w, MSG_FRAG_STAT, 1);
	msg_put_frag_hdr(&w, &fh);
	seed_wr("msg", "frag_stat_reply", &w);

	msg_begin(&w, MSG_FRAG_DEL, 1);
	wr_u32(&w, 6);
	seed_wr("msg", "frag_del_reply", &w);

	msg_begin(&w, MSG_FRAG_LIST, 0);
	msg_put_frag_ref(&w, &fh.ref);
	wr_u8(&w, 1);
	wr_u32(&w, 100);
	seed_wr("msg", "frag_list_request", &w);

	msg_begin(&w, MSG_FRAG_LIST, 1);
	wr_u32(&w, 2);
	msg_put_frag_hdr(&w, &fh);
	fh.ref.index = 2;
	msg_put_frag_hdr(&w, &fh);
	wr_u8(&w, 0);
	seed_wr("msg", "frag_list_reply", &w);

	msg_begin(&w, MSG_META_OP, 0);
	wr_str(&w, "photos");
	{
		struct meta_extent ext[2] = {sample_extent(0), sample_extent(1)};
		struct meta_op op = {.type = MOP_WRITE,
				     .op_id = 99,
				     .ino = 42,
				     .size = 8000,
				     .ext = ext,
				     .n_ext = 2};

		meta_put_op(&w, &op);
	}
	seed_wr("msg", "meta_op_request", &w);

	msg_begin(&w, MSG_META_OP, 1);
	meta_put_result(&w, &(struct meta_result){.status = 0, .attr = a});
	seed_wr("msg", "meta_op_reply", &w);

	msg_begin(&w, MSG_META_LOOKUP, 0);
	wr_str(&w, "photos");
	wr_u64(&w, 1);
	wr_str(&w, "a.jpg");
	seed_wr("msg", "lookup_request", &w);

	msg_begin(&w, MSG_META_GETATTR, 1);
	meta_put_attr(&w, &a);
	seed_wr("msg", "getattr_reply", &w);

	msg_begin(&w, MSG_META_READDIR, 0);
	wr_str(&w, "photos");
	wr_u64(&w, 1);
	wr_str(&w, "");
	wr_u32(&w, 100);
	wr_u8(&w, 1);
	seed_wr("msg", "readdir_request", &w);

	msg_begin(&w, MSG_META_READDIR, 1);
	wr_u32(&w, 2);
	wr_str(&w, "a.jpg");
	meta_put_attr(&w, &a);
	wr_str(&w, "b");
	meta_put_attr(&w, &a);
	wr_u8(&w, 1);
	seed_wr("msg", "readdir_reply", &w);

	msg_begin(&w, MSG_META_READLINK, 1);
	wr_str(&w, "../target");
	seed_wr("msg", "readlink_reply", &w);

	msg_begin(&w, MSG_META_GETXATTR, 0);
	wr_str(&w, "photos");
	wr_u64(&w, 42);
	wr_str(&w, "user.tag");
	seed_wr("msg", "getxattr_request", &w);

	msg_begin(&w, MSG_META_GETXATTR, 1);
	wr_blob(&w, "value", 5);
	seed_wr("msg", "getxattr_reply", &w);

	msg_begin(&w, MSG_META_LISTXATTR, 1);
	wr_u32(&w, 2);
	wr_str(&w, "user.a");
	wr_str(&w, "user.b");
	seed_wr("msg", "listxattr_reply", &w);

	msg_begin(&w, MSG_META_EXTENTS, 0);
	wr_str(&w, "photos");
	wr_u64(&w, 42);
	wr_u64(&w, 0);
	wr_u32(&w, 1000);
	seed_wr("msg", "extents_request", &w);

	msg_begin(&w, MSG_META_EXTENTS, 1);
	meta_put_attr(&w, &a);
	wr_u32(&w, 1);
	{
		struct meta_extent e = sample_extent(0);

		meta_put_extent(&w, &e);
	}
	wr_u8(&w, 0);
	wr_blob(&w, NULL, 0);
	seed_wr("msg", "extents_reply", &w);

	msg_begin(&w, MSG_META_STATFS, 1);
	wr_u64(&w, 10);
	wr_u64(&w, 1u << 20);
	wr_u32(&w, 4u << 20);
	wr_u32(&w, 16384);
	wr_u8(&w, BLK_CODEC_ZSTD);
	seed_wr("msg", "statfs_reply", &w);

	msg_begin(&w, MSG_META_BLOCK_STATS, 1);
	wr_u8(&w, BLK_CODEC_LZ4);
	wr_u64(&w, 10);
	wr_u64(&w, 4);
	wr_u64(&w, 40u << 20);
	wr_u64(&w, 25u << 20);
	seed_wr("msg", "block_stats_reply", &w);

	msg_begin(&w, MSG_META_NODE_MAP, 1);
	wr_u32(&w, 2);
	wr_u32(&w, 3);
	wr_u8(&w, META_NODE_DOWN);
	wr_u64(&w, 1700000000000000000ull);
	wr_u32(&w, 5);
	wr_u8(&w, META_NODE_OUT);
	wr_u64(&w, 1700000001000000000ull);
	seed_wr("msg", "node_map_reply", &w);

	msg_begin(&w, MSG_META_RESOLVE, 0);
	wr_str(&w, "photos");
	wr_str(&w, "2024/a.jpg");
	seed_wr("msg", "resolve_request", &w);

	msg_begin(&w, MSG_META_LIST, 0);
	wr_str(&w, "photos");
	wr_str(&w, "2024/");
	wr_str(&w, "");
	wr_u32(&w, 1000);
	seed_wr("msg", "list_request", &w);

	msg_begin(&w, MSG_META_LIST, 1);
	wr_u32(&w, 1);
	wr_str(&w, "2024/a.jpg");
	wr_u64(&w, 5000);
	wr_u64(&w, 1700000000000000000ull);
	wr_u8(&w, 0);
	seed_wr("msg", "list_reply", &w);

	msg_begin(&w, MSG_META_SHARDS, 1);
	wr_u32(&w, 1);
	meta_put_shard_state(&w, &(struct shard_state){.name = "photos",
						       .role = 3,
						       .ready = 1,
						       .leader_id = 1,
						       .term = 2,
						       .commit = 10,
						       .applied = 10,
						       .last_index = 10,
						       .n_voters = 3,
						       .voter_id = {1, 2, 3},
						       .match = {10, 10, 9}});
	seed_wr("msg", "shards_reply", &w);

	msg_begin(&w, MSG_META_QUOTA, 1);
	wr_u32(&w, 1);
	meta_put_quota(&w, &(struct meta_quota){
			       .ino = 1, .max_bytes = 1u << 30, .used_bytes = 5, .path = "/"});
	wr_u8(&w, 0);
	seed_wr("msg", "quota_reply", &w);

	msg_begin(&w, MSG_META_TRASH, 1);
	wr_u64(&w, 3600);
	wr_u32(&w, 1);
	meta_put_trash(&w, &(struct meta_trash){.ino = 9,
						.parent = 1,
						.mode = 0100644,
						.size = 3,
						.deleted_ns = 5,
						.name = "x",
						.parent_path = "/"});
	wr_u8(&w, 0);
	seed_wr("msg", "trash_reply", &w);

	msg_begin(&w, MSG_USAGE, 0);
	wr_u32(&w, 100);
	seed_wr("msg", "usage_request", &w);

	msg_begin(&w, MSG_USAGE, 1);
	wr_u32(&w, 1);
	msg_put_usage_sample(&w, &(struct usage_sample){.t_s = 1700000000, .frag_count = 3});
	seed_wr("msg", "usage_reply", &w);

	msg_begin(&w, MSG_SCRUB, 1);
	msg_put_scrub_status(&w, &(struct scrub_status){.running = 0});
	seed_wr("msg", "scrub_reply", &w);

	msg_begin(&w, MSG_FRAG_CHECK, 0);
	msg_put_frag_check(&w, FRAG_CHECK_VERIFY, 60, &fh.ref, 1);
	seed_wr("msg", "frag_check_request", &w);

	msg_begin(&w, MSG_FRAG_CHECK, 1);
	wr_u32(&w, 2);
	wr_u8(&w, 0);
	wr_u8(&w, 1);
	seed_wr("msg", "frag_check_reply", &w);

	msg_begin(&w, MSG_META_BLOCKS, 1);
	wr_u32(&w, 1);
	wr_bytes(&w, fh.ref.block_id, BLOCK_ID_LEN);
	wr_u8(&w, 4);
	wr_u8(&w, 2);
	wr_u32(&w, 4096);
	wr_u64(&w, 7);
	wr_u32(&w, 1);
	wr_u8(&w, 7); /* storage class */
	wr_u8(&w, 0);
	seed_wr("msg", "blocks_reply", &w);

	msg_begin(&w, MSG_META_MEMBER, 0);
	wr_str(&w, "photos");
	wr_u8(&w, 1);
	wr_u32(&w, 4);
	seed_wr("msg", "member_request", &w);
}

/* ---- manifests ---- */

static void gen_manifest(void)
{
	struct manifest_block b[2] = {{.k = 4, .m = 2, .len = 4096, .csum = 1},
				      {.k = 4, .m = 2, .len = 100, .csum = 2}};
	struct manifest m = {.size = 4196, .n_blocks = 2, .blocks = b};
	struct wr w;

	memset(b[0].id, 1, BLOCK_ID_LEN);
	memset(b[1].id, 2, BLOCK_ID_LEN);
	wr_init(&w, 0);
	manifest_encode(&w, &m);
	seed_wr("manifest", "blocks", &w);
	/* fmt 2: a compressed block of class 1 beside a raw one. */
	b[0].codec = BLK_CODEC_ZSTD;
	b[0].zlen = 1000;
	b[0].cls = 1;
	m = (struct manifest){.size = 4196, .n_blocks = 2, .blocks = b};
	wr_init(&w, 0);
	manifest_encode(&w, &m);
	seed_wr("manifest", "blocks_wide", &w);
	m = (struct manifest){.size = 5, .is_inline = 1, .inline_data = (const uint8_t *)"hello"};
	wr_init(&w, 0);
	manifest_encode(&w, &m);
	seed_wr("manifest", "inline", &w);
}

/* ---- metadata records: u32 length + record, as Raft entries ---- */

static void entry(struct wr *w, struct meta_op *op)
{
	struct wr rec;

	wr_init(&rec, 0);
	meta_put_op(&rec, op);
	if (wr_status(&rec) != 0) {
		die("meta_put_op");
	}
	wr_blob(w, rec.buf, rec.len);
	wr_free(&rec);
}

static void gen_meta_record(void)
{
	struct meta_extent ext[2] = {sample_extent(0), sample_extent(1)};
	struct wr w;
	struct meta_op op;
	int64_t t = 2000000;

#define OP(...) (op = (struct meta_op){.now_ns = (t += 1000), __VA_ARGS__}, entry(&w, &op))
	wr_init(&w, 0);
	OP(.type = MOP_CREATE, .op_id = 10, .new_ino = 2, .parent = 1, .name = "f", .mode = 0100644,
	   .uid = 1, .gid = 1, .flags = META_F_EXCL);
	OP(.type = MOP_WRITE, .op_id = 11, .ino = 2, .size = 5, .flags = META_F_INLINE,
	   .data = (const uint8_t *)"hello", .data_len = 5);
	OP(.type = MOP_SETXATTR, .op_id = 12, .ino = 2, .name = "user.a",
	   .data = (const uint8_t *)"v", .data_len = 1);
	OP(.type = MOP_SETATTR, .op_id = 13, .ino = 2, .valid = META_SET_SIZE | META_SET_MODE,
	   .size = 3, .mode = 0600);
	seed_wr("meta_record", "file_inline", &w);

	wr_init(&w, 0);
	OP(.type = MOP_CREATE, .op_id = 20, .new_ino = 2, .parent = 1, .name = "d", .mode = 040755);
	OP(.type = MOP_CREATE, .op_id = 21, .new_ino = 3, .parent = 2, .name = "l", .mode = 0120777,
	   .data = (const uint8_t *)"../x", .data_len = 4);
	OP(.type = MOP_CREATE, .op_id = 22, .new_ino = 4, .parent = 2, .name = "big",
	   .mode = 0100644);
	OP(.type = MOP_WRITE, .op_id = 23, .ino = 4, .size = 8096, .ext = ext, .n_ext = 2);
	OP(.type = MOP_LINK, .op_id = 24, .ino = 4, .newparent = 1, .newname = "big2");
	OP(.type = MOP_RENAME, .op_id = 25, .parent = 2, .name = "big", .newparent = 1,
	   .newname = "moved");
	OP(.type = MOP_UNLINK, .op_id = 26, .parent = 1, .name = "moved",
	   .flags = META_F_KEEP_ORPHAN);
	OP(.type = MOP_UNLINK, .op_id = 27, .parent = 1, .name = "big2");
	OP(.type = MOP_FORGET, .op_id = 28, .ino = 4);
	OP(.type = MOP_GC_DONE, .op_id = 29, .ext = ext, .n_ext = 2);
	OP(.type = MOP_UNLINK, .op_id = 30, .parent = 2, .name = "l");
	OP(.type = MOP_RMDIR, .op_id = 31, .parent = 1, .name = "d");
	seed_wr("meta_record", "tree", &w);

	wr_init(&w, 0);
	OP(.type = MOP_PUT, .op_id = 40, .new_ino = 2, .name = "a/b/c.txt",
	   .flags = META_F_PATH | META_F_INLINE, .mode = 0100644, .size = 2,
	   .data = (const uint8_t *)"hi", .data_len = 2);
	OP(.type = MOP_PUT, .op_id = 41, .new_ino = 5, .name = "a/b/c.txt", .flags = META_F_PATH,
	   .mode = 0100644, .size = 8096, .ext = ext, .n_ext = 2);
	OP(.type = MOP_UNLINK, .op_id = 42, .name = "a/b/c.txt", .flags = META_F_PATH);
	OP(.type = MOP_BUCKET_DELETE, .op_id = 43, .flags = META_F_FORCE);
	seed_wr("meta_record", "objects", &w);

	/* Wide extents: an lz4 block of class 2 beside a raw one. */
	ext[0].blk.codec = BLK_CODEC_LZ4;
	ext[0].blk.zlen = 2000;
	ext[0].blk.cls = 2;
	wr_init(&w, 0);
	OP(.type = MOP_BUCKET_COMPRESS, .op_id = 59, .mode = BLK_CODEC_LZ4);
	OP(.type = MOP_CREATE, .op_id = 60, .new_ino = 2, .parent = 1, .name = "z",
	   .mode = 0100644);
	OP(.type = MOP_WRITE, .op_id = 61, .ino = 2, .size = 8096, .ext = ext, .n_ext = 2);
	OP(.type = MOP_PUT, .op_id = 62, .new_ino = 3, .name = "o/z", .flags = META_F_PATH,
	   .mode = 0100644, .size = 8096, .ext = ext, .n_ext = 2);
	OP(.type = MOP_BUCKET_COMPRESS, .op_id = 63, .mode = BLK_CODEC_MAX);
	seed_wr("meta_record", "compressed", &w);
	ext[0].blk.codec = BLK_CODEC_NONE;
	ext[0].blk.zlen = 0;
	ext[0].blk.cls = 0;

	wr_init(&w, 0);
	OP(.type = MOP_BUCKET_CREATE, .op_id = 50, .name = "photos", .chunk_size = 4u << 20,
	   .inline_max = 16384);
	OP(.type = MOP_BUCKET_DELETE, .op_id = 51, .name = "photos");
	seed_wr("meta_record", "catalog", &w);

	wr_init(&w, 0);
	{
		static const uint8_t lim[32] = {0, 0, 1, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0};

		OP(.type = MOP_CREATE, .op_id = 60, .new_ino = 2, .parent = 1, .name = "q",
		   .mode = 040755);
		OP(.type = MOP_QUOTA_SET, .op_id = 61, .ino = 2, .data = lim, .data_len = 32);
		OP(.type = MOP_CREATE, .op_id = 62, .new_ino = 3, .parent = 2, .name = "f",
		   .mode = 0100644);
		OP(.type = MOP_WRITE, .op_id = 63, .ino = 3, .size = 8096, .ext = ext, .n_ext = 2);
		OP(.type = MOP_SNAPSHOT, .op_id = 64, .new_ino = 4, .ino = 2, .name = "s1");
		OP(.type = MOP_TRASH_SET, .op_id = 65, .size = 3600);
		OP(.type = MOP_UNLINK, .op_id = 66, .parent = 2, .name = "f");
		OP(.type = MOP_TRASH_RESTORE, .op_id = 67, .ino = 3);
		OP(.type = MOP_SNAPSHOT_RM, .op_id = 68, .name = "s1");
		OP(.type = MOP_TRASH_EMPTY, .op_id = 69);
	}
	seed_wr("meta_record", "quota_snapshot_trash", &w);
#undef OP
}

/* ---- fragment files, as frag_put writes them ---- */

static void gen_frag_hdr(const char *scratch)
{
	char dir[4200], path[4400], hex[2 * BLOCK_ID_LEN + 1];
	struct fragstore *fs;
	struct frag_hdr h = sample_hdr(3, 1000);
	uint8_t *data = malloc(h.frag_len), file[FRAG_FILE_HDR_LEN + 512];
	int fd;
	ssize_t n;

	if (data == NULL) {
		die("out of memory");
	}
	for (uint32_t i = 0; i < h.frag_len; i++) {
		data[i] = (uint8_t)(i * 7);
	}
	h.csum = csum64(data, h.frag_len);
	snprintf(dir, sizeof(dir), "%s/frags-seed", scratch);
	mkdir(dir, 0755);
	if (frag_open(dir, &fs) != 0 || frag_put(fs, &h, data) != 0) {
		die("frag_put");
	}
	frag_close(fs);
	msg_block_hex(h.ref.block_id, hex);
	snprintf(path, sizeof(path), "%s/frags/%.2s/%.2s/%s.%u", dir, hex, hex + 2, hex,
		 h.ref.index);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : fio_read_full(fd, file, sizeof(file), 0);
	if (n != (ssize_t)(FRAG_FILE_HDR_LEN + h.frag_len)) {
		die("reading back the fragment file");
	}
	close(fd);
	seed("frag_hdr", "fragment_4_2", file, (size_t)n);
	seed("frag_hdr", "header_only", file, FRAG_FILE_HDR_LEN);
	free(data);
}

/* ---- Raft preamble ---- */

static void gen_rmux_pre(void)
{
	struct frame_key key;
	struct rmux_pre p = {.group = "photos",
			     .addr = "127.0.0.1:8401",
			     .id = 2,
			     .ts_ms = 1700000000000ull,
			     .nonce = 0xfeedfacecafebeefull};
	uint8_t buf[RMUX_PRE_MAX];
	int n;

	fuzz_key(&key);
	n = rmux_pre_encode(&key, &p, buf, sizeof(buf));
	if (n < 0) {
		die("rmux_pre_encode");
	}
	seed("rmux_pre", "photos", buf, (size_t)n);
	snprintf(p.group, sizeof(p.group), "%s", "__catalog");
	snprintf(p.addr, sizeof(p.addr), "%s", "[::1]:9000");
	n = rmux_pre_encode(&key, &p, buf, sizeof(buf));
	if (n < 0) {
		die("rmux_pre_encode");
	}
	seed("rmux_pre", "catalog_ipv6", buf, (size_t)n);
}

/* ---- config files and mount options ---- */

static void gen_config(void)
{
	static const char full[] = "# objfs config\n"
				   "[cluster]\n"
				   "name = dev\n"
				   "secret = \"0123456789abcdef0123456789abcdef\"\n"
				   "ec_profile = 4+2\n"
				   "ec_tiers = 2+1:1M, 4+2:100MiB, 8+4\n"
				   "block_size = 4MiB\n"
				   "inline_max = 16K\n"
				   "timeout_ms = 5000\n"
				   "retries = 2\n"
				   "max_skew_s = 60\n"
				   "meta_replicas = 3\n"
				   "log_level = info\n"
				   "[node 1]\n"
				   "addr = tcp://127.0.0.1:7401\n"
				   "zone = a\n"
				   "data_dir = /var/lib/objfs/1\n"
				   "capacity = 10G\n"
				   "raft_port = 8401\n"
				   "[node 2]\n"
				   "addr = tcp://[::1]:7402\n"
				   "zone = b\n"
				   "data_dir = /var/lib/objfs/2\n";
	static const char mount[] = "attr_timeout=1.5,entry_timeout=0,negative_timeout=2,"
				    "max_dirty=64M,cache_mb=128,readahead=4,uploaders=4,"
				    "prefetchers=2,max_threads=16,log_level=debug,"
				    "cache_dir=/var/cache/objfs,cache_dir_mb=1024";

	seed("config", "full.conf", full, sizeof(full) - 1);
	seed("config", "mount_options", mount, sizeof(mount) - 1);
}

/* ---- node requests: u8 type, u16 length, body ---- */

static void node_req(struct wr *w, uint8_t type, struct wr *body)
{
	if (wr_status(body) != 0) {
		die("encoder failed");
	}
	wr_u8(w, type);
	wr_u16(w, (uint16_t)body->len);
	wr_bytes(w, body->buf, body->len);
	wr_free(body);
}

static void gen_node_req(void)
{
	struct frag_hdr h = sample_hdr(0, 1000);
	uint8_t *data = calloc(1, h.frag_len);
	struct wr w, b;

	if (data == NULL) {
		die("out of memory");
	}
	h.csum = csum64(data, h.frag_len);
	wr_init(&w, 0);
	wr_init(&b, 0);
	node_req(&w, MSG_PING, &b);
	wr_init(&b, 0);
	msg_put_frag_hdr(&b, &h);
	wr_bytes(&b, data, h.frag_len);
	node_req(&w, MSG_FRAG_PUT, &b);
	wr_init(&b, 0);
	msg_put_frag_ref(&b, &h.ref);
	node_req(&w, MSG_FRAG_GET, &b);
	wr_init(&b, 0);
	msg_put_frag_ref(&b, &h.ref);
	node_req(&w, MSG_FRAG_STAT, &b);
	wr_init(&b, 0);
	msg_put_frag_ref(&b, &(struct frag_ref){.index = 0});
	wr_u8(&b, 1);
	wr_u32(&b, 10);
	node_req(&w, MSG_FRAG_LIST, &b);
	wr_init(&b, 0);
	msg_put_frag_ref(&b, &(struct frag_ref){.index = FRAG_ALL});
	memcpy(b.buf, h.ref.block_id, BLOCK_ID_LEN);
	node_req(&w, MSG_FRAG_DEL, &b);
	seed_wr("node_req", "put_get_list_del", &w);
	free(data);
}

/* ---- metadata queries: u8 type, body (bucket first) ---- */

static void meta_req_begin(struct wr *w, uint8_t type, const char *bucket)
{
	wr_init(w, 0);
	wr_u8(w, type);
	wr_str(w, bucket);
}

/* Queries of the tree fuzz_meta_req builds (inodes 1..6). */
static void gen_meta_req(void)
{
	struct wr w;

	meta_req_begin(&w, MSG_META_LOOKUP, "photos");
	wr_u64(&w, 1);
	wr_str(&w, "d");
	seed_wr("meta_req", "lookup", &w);
	meta_req_begin(&w, MSG_META_GETATTR, "photos");
	wr_u64(&w, 4);
	seed_wr("meta_req", "getattr", &w);
	meta_req_begin(&w, MSG_META_READDIR, "photos");
	wr_u64(&w, 1);
	wr_str(&w, "");
	wr_u32(&w, 100);
	wr_u8(&w, 1);
	seed_wr("meta_req", "readdir", &w);
	meta_req_begin(&w, MSG_META_READLINK, "photos");
	wr_u64(&w, 5);
	seed_wr("meta_req", "readlink", &w);
	meta_req_begin(&w, MSG_META_GETXATTR, "photos");
	wr_u64(&w, 4);
	wr_str(&w, "user.a");
	seed_wr("meta_req", "getxattr", &w);
	meta_req_begin(&w, MSG_META_LISTXATTR, "photos");
	wr_u64(&w, 4);
	seed_wr("meta_req", "listxattr", &w);
	meta_req_begin(&w, MSG_META_EXTENTS, "photos");
	wr_u64(&w, 4);
	wr_u64(&w, 0);
	wr_u32(&w, 100);
	seed_wr("meta_req", "extents", &w);
	meta_req_begin(&w, MSG_META_STATFS, "photos");
	seed_wr("meta_req", "statfs", &w);
	meta_req_begin(&w, MSG_META_BLOCK_STATS, "photos");
	seed_wr("meta_req", "block_stats", &w);
	meta_req_begin(&w, MSG_META_NODE_MAP, "");
	seed_wr("meta_req", "node_map", &w);
	meta_req_begin(&w, MSG_META_RESOLVE, "photos");
	wr_str(&w, "a/b/c");
	seed_wr("meta_req", "resolve", &w);
	meta_req_begin(&w, MSG_META_LIST, "photos");
	wr_str(&w, "a/");
	wr_str(&w, "");
	wr_u32(&w, 100);
	seed_wr("meta_req", "list", &w);
	meta_req_begin(&w, MSG_META_BUCKETS, "");
	seed_wr("meta_req", "buckets", &w);
	meta_req_begin(&w, MSG_META_BLOCKS, "photos");
	wr_u8(&w, 1);
	wr_bytes(&w, (uint8_t[BLOCK_ID_LEN]){0}, BLOCK_ID_LEN);
	wr_u32(&w, 100);
	seed_wr("meta_req", "blocks", &w);
	meta_req_begin(&w, MSG_META_QUOTA, "photos");
	wr_u8(&w, 0);
	wr_u64(&w, 1);
	seed_wr("meta_req", "quota", &w);
	meta_req_begin(&w, MSG_META_TRASH, "photos");
	wr_u64(&w, 0);
	seed_wr("meta_req", "trash", &w);
}

/* ---- shard snapshots: ms_backup copies of real shards ---- */

static void snap_apply(struct mstore *ms, struct meta_op op)
{
	static uint64_t op_id = 500;
	static int64_t now = 3000000;
	struct meta_result res;

	op.op_id = ++op_id;
	op.now_ns = (now += 1000);
	if (ms_apply(ms, &op, 0, &res) != 0 || res.status != 0) {
		die("building a shard for a snapshot");
	}
}

static void snap_seed(struct mstore *ms, const char *scratch, const char *name)
{
	char path[4200];
	uint8_t *buf;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s.snap", scratch, name);
	if (ms_backup(ms, path) != 0 || stat(path, &st) != 0 ||
	    (buf = malloc((size_t)st.st_size)) == NULL) {
		die("ms_backup");
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fio_read_full(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		die("reading back a snapshot");
	}
	close(fd);
	seed("shard_snapshot", name, buf, (size_t)st.st_size);
	free(buf);
}

static void gen_shard_snapshot(const char *scratch)
{
	struct meta_extent ext = sample_extent(1);
	char path[4200];
	struct mstore *ms;

	snprintf(path, sizeof(path), "%s/tree.db", scratch);
	if (ms_open(path, MS_EXCLUSIVE, &ms) != 0) {
		die("ms_open");
	}
	snap_apply(ms, (struct meta_op){.type = MOP_BUCKET_CREATE,
					.mode = 040755,
					.chunk_size = 4096,
					.inline_max = 64});
	snap_seed(ms, scratch, "empty");
	snap_apply(
	    ms, (struct meta_op){
		    .type = MOP_CREATE, .new_ino = 2, .parent = 1, .name = "f", .mode = 0100644});
	snap_apply(ms, (struct meta_op){.type = MOP_WRITE,
					.ino = 2,
					.size = 5,
					.flags = META_F_INLINE,
					.data = (const uint8_t *)"hello",
					.data_len = 5});
	snap_apply(ms,
		   (struct meta_op){
		       .type = MOP_CREATE, .new_ino = 3, .parent = 1, .name = "d", .mode = 040755});
	snap_apply(
	    ms, (struct meta_op){
		    .type = MOP_CREATE, .new_ino = 4, .parent = 3, .name = "big", .mode = 0100644});
	ext.blk.len = 4096;
	ext.len = 4000;
	snap_apply(ms, (struct meta_op){
			   .type = MOP_WRITE, .ino = 4, .size = 8096, .ext = &ext, .n_ext = 1});
	snap_apply(ms, (struct meta_op){.type = MOP_CREATE,
					.new_ino = 5,
					.parent = 1,
					.name = "l",
					.mode = 0120777,
					.data = (const uint8_t *)"d/big",
					.data_len = 5});
	snap_apply(ms, (struct meta_op){.type = MOP_SETXATTR,
					.ino = 4,
					.name = "user.k",
					.data = (const uint8_t *)"v",
					.data_len = 1});
	snap_apply(
	    ms, (struct meta_op){
		    .type = MOP_UNLINK, .parent = 3, .name = "big", .flags = META_F_KEEP_ORPHAN});
	snap_seed(ms, scratch, "tree");
	ms_close(ms);
}

/* ---- replay window steps ---- */

static void gen_replay(void)
{
	struct wr w;

	wr_init(&w, 0);
	for (int i = 0; i < 64; i++) {
		wr_u16(&w, (uint16_t)(0x8000 | 0x1000 | (i % 7)));
		wr_u64(&w, (uint64_t)i % 5);
	}
	seed_wr("replay", "steady", &w);
}

int main(int argc, char **argv)
{
	char scratch[] = "/tmp/objfs-gen-corpus.XXXXXX";

	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus OUTDIR\n");
		return 2;
	}
	outdir = argv[1];
	fuzz_quiet();
	if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
		die(outdir);
	}
	if (mkdtemp(scratch) == NULL) {
		die("mkdtemp");
	}
	gen_frame();
	gen_msg();
	gen_manifest();
	gen_meta_record();
	gen_frag_hdr(scratch);
	gen_rmux_pre();
	gen_config();
	gen_replay();
	gen_node_req();
	gen_meta_req();
	gen_shard_snapshot(scratch);
	fuzz_clear(scratch);
	rmdir(scratch);
	return 0;
}
