/* fuzz_meta_req.c: metadata queries as a shard's leader decodes and
 * answers them (the handler table of nodes/meta_handlers.c over a real
 * SQLite shard holding a small tree).  Input: u8 message type, then the
 * body as a client sends it (bucket first).  The handler must answer 0 or
 * a negative errno, and its reply must decode with the client's own
 * decoders (common/meta_reply.c).
 *
 * The handlers are static: this file includes meta_handlers.c to reach
 * them without a Raft group.  Queries only: records (META_OP) are fuzzed
 * by fuzz_meta_record; every other change, SHARD_OPEN and SHARDS drive
 * the Raft loop. */
#include "../../nodes/meta_handlers.c"

#include <sys/stat.h>
#include <unistd.h>

#include "../../common/meta_reply.h"
#include "fuzz.h"

static struct shard bucket_shard = {.name = "photos"}, catalog_shard = {.name = ""};

static void apply(struct mstore *ms, struct meta_op op)
{
	static uint64_t op_id = 100;
	static int64_t now = 1000000;
	struct meta_result res;

	op.op_id = ++op_id;
	op.now_ns = (now += 1000);
	if (ms_apply(ms, &op, 0, &res) != 0 || res.status != 0) {
		fuzz_fail("building the shard the queries read");
	}
}

static struct mstore *open_shard(const char *name)
{
	char path[4300];
	struct mstore *ms;

	snprintf(path, sizeof(path), "%s/%s.db", fuzz_scratch(), name);
	if (ms_open(path, MS_EXCLUSIVE, &ms) != 0) {
		fuzz_fail("cannot open a shard");
	}
	return ms;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct meta_extent ext = {.chunk = 1, .blk = {.k = 4, .m = 2, .len = 4096}, .len = 100};
	struct mstore *ms;

	(void)argc;
	(void)argv;
	fuzz_quiet();
	ms = bucket_shard.ms = open_shard("bucket");
	apply(ms, (struct meta_op){.type = MOP_BUCKET_CREATE,
				   .mode = S_IFDIR | 0755,
				   .chunk_size = 4096,
				   .inline_max = 64});
	apply(ms, (struct meta_op){.type = MOP_CREATE,
				   .new_ino = 2,
				   .parent = 1,
				   .name = "d",
				   .mode = S_IFDIR | 0755});
	apply(ms, (struct meta_op){.type = MOP_CREATE,
				   .new_ino = 3,
				   .parent = 2,
				   .name = "f",
				   .mode = S_IFREG | 0644});
	apply(ms, (struct meta_op){.type = MOP_WRITE,
				   .ino = 3,
				   .size = 5,
				   .flags = META_F_INLINE,
				   .data = (const uint8_t *)"hello",
				   .data_len = 5});
	apply(ms, (struct meta_op){.type = MOP_CREATE,
				   .new_ino = 4,
				   .parent = 1,
				   .name = "big",
				   .mode = S_IFREG | 0644});
	memset(ext.blk.id, 7, BLOCK_ID_LEN);
	apply(ms,
	      (struct meta_op){.type = MOP_WRITE, .ino = 4, .size = 4196, .ext = &ext, .n_ext = 1});
	apply(ms, (struct meta_op){.type = MOP_CREATE,
				   .new_ino = 5,
				   .parent = 1,
				   .name = "l",
				   .mode = S_IFLNK | 0777,
				   .data = (const uint8_t *)"d/f",
				   .data_len = 3});
	apply(ms, (struct meta_op){.type = MOP_SETXATTR,
				   .ino = 4,
				   .name = "user.a",
				   .data = (const uint8_t *)"v",
				   .data_len = 1});
	apply(ms, (struct meta_op){.type = MOP_PUT,
				   .new_ino = 6,
				   .name = "a/b/c",
				   .flags = META_F_PATH | META_F_INLINE,
				   .mode = S_IFREG | 0644,
				   .size = 2,
				   .data = (const uint8_t *)"hi",
				   .data_len = 2});
	ms = catalog_shard.ms = open_shard("catalog");
	apply(ms, (struct meta_op){.type = MOP_BUCKET_CREATE,
				   .name = "photos",
				   .chunk_size = 4096,
				   .inline_max = 64});
	apply(ms, (struct meta_op){.type = MOP_BUCKET_CREATE,
				   .name = "videos",
				   .chunk_size = 1u << 22,
				   .inline_max = 16384});
	apply(ms, (struct meta_op){.type = MOP_NODE_STATE, .ino = 3, .mode = META_NODE_DOWN});
	return 0;
}

static int dirent_cb(void *arg, const char *name, const struct meta_attr *a)
{
	(void)arg;
	(void)name;
	(void)a;
	return 0;
}

static int path_cb(void *arg, const char *path, uint64_t size, int64_t mtime)
{
	(void)arg;
	(void)path;
	(void)size;
	(void)mtime;
	return 0;
}

/* The client's decoder of this reply: what it must accept. */
static int decode_reply(uint8_t type, const uint8_t *p, size_t n)
{
	struct meta_attr a;
	int more = 0, rc;

	switch (type) {
	case MSG_META_LOOKUP:
	case MSG_META_GETATTR:
	case MSG_META_RESOLVE:
		return mr_attr(p, n, &a);
	case MSG_META_READDIR:
		rc = mr_readdir(p, n, META_READDIR_MAX, dirent_cb, NULL, &more);
		return rc < 0 ? rc : 0;
	case MSG_META_READLINK: {
		char buf[META_SYMLINK_MAX + 1];

		rc = mr_readlink(p, n, buf, sizeof(buf));
		return rc < 0 ? rc : 0;
	}
	case MSG_META_GETXATTR: {
		uint8_t *v;
		size_t len;

		rc = mr_getxattr(p, n, &v, &len);
		free(v);
		return rc;
	}
	case MSG_META_LISTXATTR: {
		char *names;
		size_t len;

		rc = mr_listxattr(p, n, &names, &len);
		free(names);
		return rc;
	}
	case MSG_META_EXTENTS: {
		struct meta_extent *ext;
		uint8_t *inl;
		size_t len;

		rc = mr_extents(p, n, META_EXTENTS_MAX, &ext, &more, &a, &inl, &len);
		free(ext);
		free(inl);
		return rc < 0 ? rc : 0;
	}
	case MSG_META_STATFS: {
		struct mc_statfs st;

		return mr_statfs(p, n, &st);
	}
	case MSG_META_BLOCK_STATS: {
		struct mc_block_stats st;

		return mr_block_stats(p, n, &st);
	}
	case MSG_META_NODE_MAP: {
		struct meta_node_row rows[META_NODE_MAP_MAX];

		rc = mr_node_map(p, n, rows, META_NODE_MAP_MAX);
		return rc < 0 ? rc : 0;
	}
	case MSG_META_LIST:
		rc = mr_list(p, n, MSG_LIST_MAX, path_cb, NULL, &more);
		return rc < 0 ? rc : 0;
	case MSG_META_QUOTA: {
		struct meta_quota *qv = calloc(MH_QUOTA_PAGE, sizeof(*qv));

		rc = qv == NULL ? -ENOMEM : mr_quota(p, n, qv, MH_QUOTA_PAGE, &more);
		free(qv);
		return rc < 0 && rc != -ENOMEM ? rc : 0;
	}
	case MSG_META_TRASH: {
		struct meta_trash *tv = calloc(MH_TRASH_PAGE, sizeof(*tv));
		int64_t keep;

		rc = tv == NULL ? -ENOMEM : mr_trash(p, n, tv, MH_TRASH_PAGE, &keep, &more);
		free(tv);
		return rc < 0 && rc != -ENOMEM ? rc : 0;
	}
	case MSG_META_BLOCKS: {
		struct meta_block_row *rows = calloc(META_BLOCKS_MAX, sizeof(*rows));

		rc = rows == NULL ? -ENOMEM : mr_blocks(p, n, META_BLOCKS_MAX, rows, &more);
		free(rows);
		return rc < 0 && rc != -ENOMEM ? rc : 0;
	}
	case MSG_META_BUCKETS:
		rc = mr_list(p, n, MSG_LIST_MAX, path_cb, NULL, NULL);
		return rc < 0 ? rc : 0;
	case MSG_META_LOOKUPS: {
		struct meta_attr la[META_LOOKUPS_MAX], *lp[META_LOOKUPS_MAX];
		int st[META_LOOKUPS_MAX];
		struct rd cnt;
		uint32_t c;

		rd_init(&cnt, p, n);
		c = rd_u32(&cnt); /* the request's count: the handler answered it */
		if (c == 0 || c > META_LOOKUPS_MAX) {
			return -OBJ_EPROTO;
		}
		for (uint32_t i = 0; i < c; i++) {
			lp[i] = &la[i];
		}
		return mr_lookups(p, n, lp, st, c);
	}
	default:
		return 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct mh_entry *e;
	char bucket[MSG_NAME_MAX], err[256] = "";
	struct srv_reply out = {.tail = NULL};
	struct mh_req q = {.bucket = bucket, .out = &out, .err = err, .errlen = sizeof(err)};
	uint8_t *body;
	struct rd r;
	int rc;

	if (size < 1) {
		return 0;
	}
	e = entry_of(data[0]);
	/* Queries only (and META_BLOCKS, a read the table marks as a change
	 * so that no stale replica answers it): the others go through Raft. */
	if (e == NULL || (e->flags != MH_QUERY && e->fn != mh_blocks)) {
		return 0;
	}
	body = fuzz_dup(data + 1, size - 1);
	/* The bucket every META_* body starts with, as msvc_handle reads it. */
	rd_init(&r, body, size - 1);
	rd_str(&r, bucket, sizeof(bucket));
	if (rd_ok(&r) && (bucket[0] == '\0' || msg_check_bucket(bucket) == 0)) {
		q.r = &r;
		q.s = bucket[0] == '\0' ? &catalog_shard : &bucket_shard;
		wr_init(&out.w, FRAME_HDR_LEN);
		rc = e->fn(&q);
		if (getenv("OBJFS_FUZZ_TRACE") != NULL) {
			fprintf(stderr, "type %u -> %d, %zu reply bytes\n", data[0], rc,
				wr_len(&out.w));
		}
		if (rc > 0 || rc <= -OBJ_ELAST) {
			fuzz_fail("a handler answered neither 0 nor a negative errno");
		}
		if (rc == 0 &&
		    decode_reply(data[0], out.w.buf + out.w.reserve, wr_len(&out.w)) < 0) {
			fuzz_fail("a reply the client's decoder refuses");
		}
		wr_free(&out.w);
	}
	free(body);
	return 0;
}
