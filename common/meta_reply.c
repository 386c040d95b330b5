/* meta_reply.c: decoders of metadata shard replies (see meta_reply.h).
 * The body comes from a node: every count and length in it is checked
 * before anything is read or allocated from it. */
#include "meta_reply.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ec.h"
#include "err.h"

int mr_result(const uint8_t *p, size_t n, struct meta_result *res)
{
	struct rd rd;

	rd_init(&rd, p, n);
	meta_get_result(&rd, res);
	/* a positive status is no errno: the reply is malformed */
	return rd_done(&rd) && res->status <= 0 ? res->status : -OBJ_EPROTO;
}

int mr_results(const uint8_t *p, size_t n, struct meta_result *const *res, uint32_t count)
{
	struct rd rd;
	bool ok;

	rd_init(&rd, p, n);
	ok = rd_u32(&rd) == count;
	for (uint32_t i = 0; i < count && ok; i++) {
		meta_get_result(&rd, res[i]);
		ok = rd_ok(&rd) && res[i]->status <= 0;
	}
	if (ok && rd_done(&rd)) {
		return 0;
	}
	for (uint32_t i = 0; i < count; i++) {
		memset(res[i], 0, sizeof(*res[i]));
	}
	return -OBJ_EPROTO;
}

int mr_lookups(const uint8_t *p, size_t n, struct meta_attr *const *attr, int *status,
	       uint32_t count)
{
	struct rd rd;
	bool ok;

	rd_init(&rd, p, n);
	ok = rd_u32(&rd) == count;
	for (uint32_t i = 0; i < count && ok; i++) {
		int32_t st = (int32_t)rd_u32(&rd);

		ok = rd_ok(&rd) && st <= 0 && st > -OBJ_ELAST; /* an errno or ours */
		status[i] = st;
		if (ok && st == 0) {
			meta_get_attr(&rd, attr[i]);
		}
	}
	return ok && rd_done(&rd) ? 0 : -OBJ_EPROTO;
}

int mr_attr(const uint8_t *p, size_t n, struct meta_attr *out)
{
	struct rd rd;

	rd_init(&rd, p, n);
	meta_get_attr(&rd, out);
	return rd_done(&rd) ? 0 : -OBJ_EPROTO;
}

int mr_readdir(const uint8_t *p, size_t n, uint32_t max, mc_dirent_fn fn, void *arg, int *more)
{
	char name[META_NAME_MAX + 1];
	struct meta_attr a;
	struct rd rd;
	uint32_t cnt;
	int rc = 0;

	rd_init(&rd, p, n);
	cnt = rd_u32(&rd);
	if (cnt > max || cnt > META_READDIR_MAX) {
		rc = -OBJ_EPROTO;
	}
	/* Decode everything before calling back: a bad reply must not have
	 * half its entries delivered. */
	for (uint32_t i = 0; rc == 0 && i < cnt; i++) {
		rd_str(&rd, name, sizeof(name));
		meta_get_attr(&rd, &a);
	}
	*more = rd_u8(&rd);
	if (rc == 0 && !rd_done(&rd)) {
		rc = -OBJ_EPROTO;
	}
	rd_init(&rd, p, n);
	rd_u32(&rd);
	for (uint32_t i = 0; rc == 0 && i < cnt; i++) {
		rd_str(&rd, name, sizeof(name));
		meta_get_attr(&rd, &a);
		rc = fn(arg, name, &a);
	}
	return rc < 0 ? rc : (int)cnt;
}

int mr_readdir_c(const uint8_t *p, size_t n, uint32_t max, uint64_t after, mc_dirent_c_fn fn,
		 void *arg, int *more)
{
	char name[META_NAME_MAX + 1];
	struct meta_attr a;
	uint64_t c, prev = after;
	struct rd rd;
	uint32_t cnt;
	int rc = 0;

	rd_init(&rd, p, n);
	cnt = rd_u32(&rd);
	if (cnt > max || cnt > META_READDIR_MAX) {
		rc = -OBJ_EPROTO;
	}
	/* Decode and check everything before calling back.  Equal cookies
	 * may follow each other (a hash collision), never fall. */
	for (uint32_t i = 0; rc == 0 && i < cnt; i++) {
		rd_str(&rd, name, sizeof(name));
		c = rd_u64(&rd);
		meta_get_attr(&rd, &a);
		if (c < META_COOKIE_FIRST || c > INT64_MAX || c < prev || (i == 0 && c == after)) {
			rc = -OBJ_EPROTO;
		}
		prev = c;
	}
	*more = rd_u8(&rd);
	if (rc == 0 && (!rd_done(&rd) || (*more && cnt == 0))) {
		rc = -OBJ_EPROTO;
	}
	rd_init(&rd, p, n);
	rd_u32(&rd);
	for (uint32_t i = 0; rc == 0 && i < cnt; i++) {
		rd_str(&rd, name, sizeof(name));
		c = rd_u64(&rd);
		meta_get_attr(&rd, &a);
		rc = fn(arg, name, c, &a);
	}
	return rc < 0 ? rc : (int)cnt;
}

int mr_readlink(const uint8_t *p, size_t n, char *buf, size_t cap)
{
	const uint8_t *t;
	struct rd rd;
	size_t len;

	rd_init(&rd, p, n);
	len = rd_u16(&rd);
	t = rd_ptr(&rd, len);
	if (!rd_done(&rd) || len > META_SYMLINK_MAX || memchr(t, '\0', len) != NULL) {
		return -OBJ_EPROTO; /* not a target the shard could have stored */
	}
	if (len >= cap) {
		return -ENAMETOOLONG; /* the caller's buffer is too small */
	}
	memcpy(buf, t, len);
	buf[len] = '\0';
	return (int)len;
}

int mr_getxattr(const uint8_t *p, size_t n, uint8_t **val, size_t *len)
{
	const uint8_t *v;
	struct rd rd;

	*val = NULL;
	*len = 0;
	rd_init(&rd, p, n);
	v = rd_blob(&rd, META_XATTR_VALUE_MAX, len);
	if (!rd_done(&rd)) {
		*len = 0;
		return -OBJ_EPROTO;
	}
	if ((*val = malloc(*len ? *len : 1)) == NULL) {
		*len = 0;
		return -ENOMEM;
	}
	memcpy(*val, v, *len);
	return 0;
}

int mr_listxattr(const uint8_t *p, size_t n, char **names, size_t *len)
{
	char name[META_XATTR_NAME_MAX + 1];
	size_t total = 0;
	struct rd rd;
	uint32_t cnt;

	*names = NULL;
	*len = 0;
	rd_init(&rd, p, n);
	cnt = rd_u32(&rd);
	/* Each name costs at least 3 bytes on the wire ... */
	if (!rd_ok(&rd) || cnt > rd.left / 3 + 1) {
		return -OBJ_EPROTO;
	}
	/* ... and a name of l bytes takes l + 2 of the reply but l + 1 of the
	 * list, so the list is never longer than the reply: sizing it from
	 * the count (256 bytes a name) let a small reply allocate 85 times
	 * its size. */
	*names = malloc(rd.left + 1);
	if (*names == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < cnt && rd_ok(&rd); i++) {
		size_t l;

		rd_str(&rd, name, sizeof(name));
		l = strlen(name) + 1;
		memcpy(*names + total, name, l);
		total += l;
	}
	if (!rd_done(&rd)) {
		free(*names);
		*names = NULL;
		return -OBJ_EPROTO;
	}
	*len = total;
	return 0;
}

int mr_extents(const uint8_t *p, size_t n, uint32_t max, struct meta_extent **ext, int *more,
	       struct meta_attr *attr, uint8_t **inl, size_t *inl_len)
{
	const uint8_t *data;
	size_t dlen;
	struct rd rd;
	uint32_t cnt;
	int rc = 0;

	*ext = NULL;
	*inl = NULL;
	*inl_len = 0;
	*more = 0;
	rd_init(&rd, p, n);
	meta_get_attr(&rd, attr);
	cnt = rd_u32(&rd);
	if (!rd_ok(&rd) || cnt > max) {
		return -OBJ_EPROTO;
	}
	if ((*ext = calloc(cnt ? cnt : 1, sizeof(**ext))) == NULL) {
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < cnt && rd_ok(&rd); i++) {
		meta_get_extent(&rd, &(*ext)[i]);
	}
	*more = rd_u8(&rd);
	data = rd_blob(&rd, META_XATTR_VALUE_MAX, &dlen);
	if (!rd_done(&rd)) {
		rc = -OBJ_EPROTO;
	} else if (dlen > 0) {
		if ((*inl = malloc(dlen)) == NULL) {
			rc = -ENOMEM;
		} else {
			memcpy(*inl, data, dlen);
			*inl_len = dlen;
		}
	}
	if (rc != 0) {
		free(*ext);
		*ext = NULL;
		*more = 0;
		return rc;
	}
	return (int)cnt;
}

int mr_statfs(const uint8_t *p, size_t n, struct mc_statfs *st)
{
	struct rd rd;

	rd_init(&rd, p, n);
	st->files = rd_u64(&rd);
	st->bytes = rd_u64(&rd);
	st->chunk_size = rd_u32(&rd);
	st->inline_max = rd_u32(&rd);
	st->codec = rd_u8(&rd);
	if (!rd_done(&rd) || st->chunk_size == 0 || st->chunk_size > MSG_BLOCK_MAX ||
	    st->codec >= BLK_CODEC_MAX) {
		return -OBJ_EPROTO;
	}
	return 0;
}

int mr_block_stats(const uint8_t *p, size_t n, struct mc_block_stats *st)
{
	struct rd rd;

	rd_init(&rd, p, n);
	st->codec = rd_u8(&rd);
	st->blocks = rd_u64(&rd);
	st->compressed = rd_u64(&rd);
	st->bytes = rd_u64(&rd);
	st->stored = rd_u64(&rd);
	if (!rd_done(&rd) || st->codec >= BLK_CODEC_MAX || st->compressed > st->blocks) {
		return -OBJ_EPROTO;
	}
	return 0;
}

int mr_node_map(const uint8_t *p, size_t n, struct meta_node_row *out, size_t max)
{
	struct rd rd;
	uint32_t cnt;

	rd_init(&rd, p, n);
	cnt = rd_u32(&rd);
	if (!rd_ok(&rd) || cnt > META_NODE_MAP_MAX || cnt > max) {
		return -OBJ_EPROTO;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		out[i].id = rd_u32(&rd);
		out[i].state = rd_u8(&rd);
		out[i].since_ns = (int64_t)rd_u64(&rd);
		if (!rd_ok(&rd) || out[i].id == 0 || out[i].state > META_NODE_OUT ||
		    (i > 0 && out[i].id <= out[i - 1].id)) {
			return -OBJ_EPROTO;
		}
	}
	return rd_done(&rd) ? (int)cnt : -OBJ_EPROTO;
}

int mr_list(const uint8_t *p, size_t n, uint32_t max, mc_list_fn fn, void *arg, int *more)
{
	struct rd rd;
	uint32_t cnt;
	char *path = malloc(WIRE_STR_MAX + 1);
	int rc = 0, m;

	if (path == NULL) {
		return -ENOMEM;
	}
	rd_init(&rd, p, n);
	cnt = rd_u32(&rd);
	if (cnt > max) {
		free(path);
		return -OBJ_EPROTO;
	}
	for (uint32_t i = 0; i < cnt && rc == 0; i++) {
		uint64_t size;
		int64_t mtime;

		rd_str(&rd, path, WIRE_STR_MAX + 1);
		size = rd_u64(&rd);
		mtime = (int64_t)rd_u64(&rd);
		if (!rd_ok(&rd)) {
			rc = -OBJ_EPROTO;
			break;
		}
		rc = fn(arg, path, size, mtime);
	}
	/* Every list reply ends with the more flag, also when the caller
	 * cannot page (META_BUCKETS): it must be read for rd_done to hold. */
	m = rd_u8(&rd);
	if (more != NULL) {
		*more = rc == 0 ? m : 0; /* past a stop the flag is not read */
	}
	if (rc == 0 && (!rd_done(&rd) || (more == NULL && m != 0))) {
		rc = -OBJ_EPROTO; /* trailing bytes, or more than one reply holds */
	}
	free(path);
	return rc < 0 ? rc : (rc > 0 ? rc : (int)cnt);
}

int mr_shards(const uint8_t *p, size_t n, int (*fn)(void *arg, const struct shard_state *st),
	      void *arg)
{
	struct shard_state st;
	struct rd rd;
	uint32_t cnt;
	int rc = 0;

	rd_init(&rd, p, n);
	cnt = rd_u32(&rd);
	for (uint32_t i = 0; i < cnt && rd_ok(&rd) && rc == 0; i++) {
		meta_get_shard_state(&rd, &st);
		if (rd_ok(&rd)) {
			rc = fn(arg, &st);
		}
	}
	if (rc == 0 && !rd_done(&rd)) {
		rc = -OBJ_EPROTO;
	}
	return rc;
}

/* A page of n fixed-type records after the reader's position: u32 count
 * (at most max), the records (get decodes one into out[i], size bytes
 * apart), u8 more.  Returns the count or -OBJ_EPROTO. */
static int page(struct rd *rd, void *out, size_t size, size_t max,
		void (*get)(struct rd *r, void *item), int *more)
{
	uint32_t cnt = rd_u32(rd);
	int rc = cnt > max ? -OBJ_EPROTO : 0;

	for (uint32_t i = 0; i < cnt && rc == 0; i++) {
		get(rd, (uint8_t *)out + i * size);
		rc = rd->bad ? -OBJ_EPROTO : 0;
	}
	*more = rd_u8(rd) != 0;
	if (rc == 0 && !rd_done(rd)) {
		rc = -OBJ_EPROTO;
	}
	return rc < 0 ? rc : (int)cnt;
}

static void get_quota(struct rd *r, void *item)
{
	meta_get_quota(r, item);
}

static void get_trash(struct rd *r, void *item)
{
	meta_get_trash(r, item);
}

int mr_quota(const uint8_t *p, size_t n, struct meta_quota *out, size_t max, int *more)
{
	struct rd rd;

	rd_init(&rd, p, n);
	return page(&rd, out, sizeof(*out), max, get_quota, more);
}

int mr_trash(const uint8_t *p, size_t n, struct meta_trash *out, size_t max, int64_t *keep,
	     int *more)
{
	struct rd rd;

	rd_init(&rd, p, n);
	*keep = (int64_t)rd_u64(&rd);
	return page(&rd, out, sizeof(*out), max, get_trash, more);
}

int mr_blocks(const uint8_t *p, size_t n, uint32_t max, struct meta_block_row *out, int *more)
{
	struct rd rd;
	uint32_t cnt;
	int rc = 0;

	rd_init(&rd, p, n);
	cnt = rd_u32(&rd);
	if (cnt > max) {
		rc = -OBJ_EPROTO;
	}
	for (uint32_t i = 0; rc == 0 && i < cnt; i++) {
		struct manifest_block *b = &out[i].blk;

		rd_bytes(&rd, b->id, BLOCK_ID_LEN);
		b->k = rd_u8(&rd);
		b->m = rd_u8(&rd);
		b->len = rd_u32(&rd);
		b->csum = rd_u64(&rd);
		out[i].refs = rd_u32(&rd);
		b->cls = rd_u8(&rd);
		/* The GC deletes fragments by these: only codable blocks. */
		if (rd_ok(&rd) &&
		    (b->k < 1 || b->k > EC_MAX_K || b->m > EC_MAX_M || b->len > MSG_BLOCK_MAX)) {
			rc = -OBJ_EPROTO;
		}
	}
	*more = rd_u8(&rd) != 0;
	if (rc == 0 && !rd_done(&rd)) {
		rc = -OBJ_EPROTO;
	}
	return rc < 0 ? rc : (int)cnt;
}
