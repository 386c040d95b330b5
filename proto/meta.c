/* meta.c: encode/decode of metadata records (see meta.h). */
#include "meta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ec.h"

void meta_put_attr(struct wr *w, const struct meta_attr *a)
{
	wr_u64(w, a->ino);
	wr_u32(w, a->mode);
	wr_u32(w, a->nlink);
	wr_u32(w, a->uid);
	wr_u32(w, a->gid);
	wr_u64(w, a->rdev);
	wr_u64(w, a->size);
	wr_u64(w, a->blocks);
	wr_u64(w, (uint64_t)a->atime_ns);
	wr_u64(w, (uint64_t)a->mtime_ns);
	wr_u64(w, (uint64_t)a->ctime_ns);
	wr_u64(w, a->gen);
}

void meta_get_attr(struct rd *r, struct meta_attr *a)
{
	a->ino = rd_u64(r);
	a->mode = rd_u32(r);
	a->nlink = rd_u32(r);
	a->uid = rd_u32(r);
	a->gid = rd_u32(r);
	a->rdev = rd_u64(r);
	a->size = rd_u64(r);
	a->blocks = rd_u64(r);
	a->atime_ns = (int64_t)rd_u64(r);
	a->mtime_ns = (int64_t)rd_u64(r);
	a->ctime_ns = (int64_t)rd_u64(r);
	a->gen = rd_u64(r);
}

void meta_put_trash(struct wr *w, const struct meta_trash *t)
{
	wr_u64(w, t->ino);
	wr_u64(w, t->parent);
	wr_u32(w, t->mode);
	wr_u64(w, t->size);
	wr_u64(w, (uint64_t)t->deleted_ns);
	wr_str(w, t->name);
	wr_str(w, t->parent_path);
}

void meta_get_trash(struct rd *r, struct meta_trash *t)
{
	t->ino = rd_u64(r);
	t->parent = rd_u64(r);
	t->mode = rd_u32(r);
	t->size = rd_u64(r);
	t->deleted_ns = (int64_t)rd_u64(r);
	rd_str(r, t->name, sizeof(t->name));
	rd_str(r, t->parent_path, sizeof(t->parent_path));
}

void meta_put_quota(struct wr *w, const struct meta_quota *q)
{
	wr_u64(w, q->ino);
	wr_u64(w, q->max_bytes);
	wr_u64(w, q->max_inodes);
	wr_u64(w, q->soft_bytes);
	wr_u64(w, q->soft_inodes);
	wr_u64(w, q->used_bytes);
	wr_u64(w, q->used_inodes);
	wr_u64(w, q->counted_bytes);
	wr_u64(w, q->counted_inodes);
	wr_str(w, q->path);
}

void meta_get_quota(struct rd *r, struct meta_quota *q)
{
	q->ino = rd_u64(r);
	q->max_bytes = rd_u64(r);
	q->max_inodes = rd_u64(r);
	q->soft_bytes = rd_u64(r);
	q->soft_inodes = rd_u64(r);
	q->used_bytes = rd_u64(r);
	q->used_inodes = rd_u64(r);
	q->counted_bytes = rd_u64(r);
	q->counted_inodes = rd_u64(r);
	rd_str(r, q->path, sizeof(q->path));
}

/* An extent in one of two encodings: the narrow one of records written
 * before block codecs and classes existed, and the wide one that adds
 * u8 codec, u32 zlen, u8 cls to the block. */
static void put_extent(struct wr *w, const struct meta_extent *e, int wide)
{
	wr_u64(w, e->chunk);
	wr_bytes(w, e->blk.id, BLOCK_ID_LEN);
	wr_u8(w, e->blk.k);
	wr_u8(w, e->blk.m);
	wr_u32(w, e->blk.len);
	wr_u64(w, e->blk.csum);
	wr_u32(w, e->len);
	if (wide) {
		wr_u8(w, e->blk.codec);
		wr_u32(w, e->blk.zlen);
		wr_u8(w, e->blk.cls);
	}
}

static void get_extent(struct rd *r, struct meta_extent *e, int wide)
{
	e->chunk = rd_u64(r);
	rd_bytes(r, e->blk.id, BLOCK_ID_LEN);
	e->blk.k = rd_u8(r);
	e->blk.m = rd_u8(r);
	e->blk.len = rd_u32(r);
	e->blk.csum = rd_u64(r);
	e->len = rd_u32(r);
	e->blk.codec = wide ? rd_u8(r) : BLK_CODEC_NONE;
	e->blk.zlen = wide ? rd_u32(r) : 0;
	e->blk.cls = wide ? rd_u8(r) : 0;
	/* All zeros: a hole (a chunk META_F_PUNCH empties); the shard refuses
	 * it anywhere else. */
	if (e->blk.k == 0 && e->blk.m == 0 && e->blk.len == 0 && e->len == 0 &&
	    !mb_is_wide(&e->blk)) {
		return;
	}
	if (e->blk.k < 1 || e->blk.k > EC_MAX_K || e->blk.m > EC_MAX_M || e->blk.len == 0 ||
	    e->blk.len > MSG_BLOCK_MAX || e->len > e->blk.len || mb_check_codec(&e->blk) != 0) {
		r->bad = true;
	}
}

void meta_put_extent(struct wr *w, const struct meta_extent *e)
{
	put_extent(w, e, 1);
}

void meta_get_extent(struct rd *r, struct meta_extent *e)
{
	get_extent(r, e, 1);
}

#define EXTENT_WIRE (8 + BLOCK_ID_LEN + 1 + 1 + 4 + 8 + 4)
/* In a record's extent count: the extents are wide.  Set only when one
 * of them needs it, so records of raw, default-class blocks keep the
 * bytes they always had (and a wide list without such a block is
 * refused: one encoding per record, as the replicas compare them). */
#define EXTENT_COUNT_WIDE 0x80000000u

void meta_put_op(struct wr *w, const struct meta_op *op)
{
	int wide = 0;

	wr_u8(w, op->type);
	wr_u32(w, op->flags);
	wr_u64(w, op->op_id);
	wr_u64(w, (uint64_t)op->now_ns);
	wr_u64(w, op->new_ino);
	wr_u64(w, op->parent);
	wr_u64(w, op->ino);
	wr_u64(w, op->newparent);
	wr_str(w, op->name);
	wr_str(w, op->newname);
	wr_u32(w, op->mode);
	wr_u32(w, op->uid);
	wr_u32(w, op->gid);
	wr_u64(w, op->rdev);
	wr_u32(w, op->valid);
	wr_u64(w, op->size);
	wr_u64(w, (uint64_t)op->atime_ns);
	wr_u64(w, (uint64_t)op->mtime_ns);
	wr_u32(w, op->chunk_size);
	wr_u32(w, op->inline_max);
	wr_blob(w, op->data, op->data_len);
	for (size_t i = 0; i < op->n_ext && !wide; i++) {
		wide = mb_is_wide(&op->ext[i].blk);
	}
	wr_u32(w, (uint32_t)op->n_ext | (wide ? EXTENT_COUNT_WIDE : 0));
	for (size_t i = 0; i < op->n_ext; i++) {
		put_extent(w, &op->ext[i], wide);
	}
}

void meta_get_op(struct rd *r, struct meta_op *op)
{
	size_t n, wire;
	int wide, any = 0;

	op->type = rd_u8(r);
	op->flags = rd_u32(r);
	op->op_id = rd_u64(r);
	op->now_ns = (int64_t)rd_u64(r);
	op->new_ino = rd_u64(r);
	op->parent = rd_u64(r);
	op->ino = rd_u64(r);
	op->newparent = rd_u64(r);
	rd_str(r, op->name, sizeof(op->name));
	rd_str(r, op->newname, sizeof(op->newname));
	op->mode = rd_u32(r);
	op->uid = rd_u32(r);
	op->gid = rd_u32(r);
	op->rdev = rd_u64(r);
	op->valid = rd_u32(r);
	op->size = rd_u64(r);
	op->atime_ns = (int64_t)rd_u64(r);
	op->mtime_ns = (int64_t)rd_u64(r);
	op->chunk_size = rd_u32(r);
	op->inline_max = rd_u32(r);
	op->data = rd_blob(r, META_XATTR_VALUE_MAX, &op->data_len);
	n = rd_u32(r);
	wide = (n & EXTENT_COUNT_WIDE) != 0;
	n &= ~EXTENT_COUNT_WIDE;
	wire = EXTENT_WIRE + (wide ? 1 + 4 + 1 : 0);
	op->ext = NULL;
	op->n_ext = 0;
	/* The count must fit in the bytes present before anything is
	 * allocated from it. */
	if (!rd_ok(r) || n > META_EXTENTS_MAX || n > r->left / wire || op->type == 0 ||
	    op->type >= MOP_MAX) {
		r->bad = true;
		return;
	}
	if (n > 0) {
		op->ext = calloc(n, sizeof(*op->ext));
		if (op->ext == NULL) {
			r->bad = true;
			return;
		}
		op->n_ext = n;
		for (size_t i = 0; i < n; i++) {
			get_extent(r, &op->ext[i], wide);
			any |= mb_is_wide(&op->ext[i].blk);
		}
	}
	if (wide && !any) {
		r->bad = true;
	}
}

void meta_op_free(struct meta_op *op)
{
	free(op->ext);
	op->ext = NULL;
	op->n_ext = 0;
}

void meta_put_result(struct wr *w, const struct meta_result *res)
{
	wr_u32(w, (uint32_t)res->status);
	meta_put_attr(w, &res->attr);
	wr_u64(w, res->freed_ino);
	wr_u64(w, (uint64_t)res->dir_ctime_was);
}

void meta_get_result(struct rd *r, struct meta_result *res)
{
	res->status = (int32_t)rd_u32(r);
	meta_get_attr(r, &res->attr);
	res->freed_ino = rd_u64(r);
	res->dir_ctime_was = (int64_t)rd_u64(r);
	if (res->status > 0 || res->status < -4095) {
		r->bad = true;
	}
}

int meta_op_batchable(uint8_t type)
{
	switch (type) {
	case MOP_CREATE:
	case MOP_LINK:
	case MOP_UNLINK:
	case MOP_RMDIR:
	case MOP_RENAME:
	case MOP_SETATTR:
	case MOP_SETXATTR:
	case MOP_REMOVEXATTR:
	case MOP_WRITE:
	case MOP_FORGET:
	case MOP_PUT:
		return 1;
	default:
		return 0;
	}
}

int meta_check_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0) {
		return -EINVAL;
	}
	return n > META_NAME_MAX ? -ENAMETOOLONG : 0;
}

void meta_put_shard_state(struct wr *w, const struct shard_state *s)
{
	wr_str(w, s->name);
	wr_u8(w, s->role);
	wr_u8(w, s->ready);
	wr_u32(w, s->leader_id);
	wr_u64(w, s->term);
	wr_u64(w, s->commit);
	wr_u64(w, s->applied);
	wr_u64(w, s->last_index);
	wr_u32(w, s->n_voters);
	for (uint32_t i = 0; i < s->n_voters && i < 8; i++) {
		wr_u32(w, s->voter_id[i]);
		wr_u64(w, s->match[i]);
	}
}

void meta_get_shard_state(struct rd *r, struct shard_state *s)
{
	rd_str(r, s->name, sizeof(s->name));
	s->role = rd_u8(r);
	s->ready = rd_u8(r);
	s->leader_id = rd_u32(r);
	s->term = rd_u64(r);
	s->commit = rd_u64(r);
	s->applied = rd_u64(r);
	s->last_index = rd_u64(r);
	s->n_voters = rd_u32(r);
	if (s->n_voters > 8 || s->role > 3 || s->ready > 1) {
		r->bad = true;
		return;
	}
	for (uint32_t i = 0; i < s->n_voters; i++) {
		s->voter_id[i] = rd_u32(r);
		s->match[i] = rd_u64(r);
	}
}

void meta_put_lock(struct wr *w, const struct meta_lock *l)
{
	wr_u64(w, l->ino);
	wr_u64(w, l->session);
	wr_u64(w, l->owner);
	wr_u64(w, l->start);
	wr_u64(w, l->end);
	wr_u32(w, l->pid);
	wr_u8(w, l->kind);
	wr_u8(w, l->type);
}

void meta_get_lock(struct rd *r, struct meta_lock *l)
{
	l->ino = rd_u64(r);
	l->session = rd_u64(r);
	l->owner = rd_u64(r);
	l->start = rd_u64(r);
	l->end = rd_u64(r);
	l->pid = rd_u32(r);
	l->kind = rd_u8(r);
	l->type = rd_u8(r);
	if ((l->kind != META_LK_POSIX && l->kind != META_LK_FLOCK) || l->type < META_LK_RD ||
	    l->type > META_LK_UN || l->start > l->end) {
		r->bad = true;
	}
}

void meta_lock_to_op(const struct meta_lock *l, struct meta_op *op)
{
	op->type = MOP_LOCK;
	op->ino = l->ino;
	op->parent = l->session;
	op->newparent = l->owner;
	op->size = l->start;
	op->rdev = l->end;
	op->uid = l->pid;
	op->mode = l->type;
	op->valid = l->kind;
}

void meta_op_to_lock(const struct meta_op *op, struct meta_lock *l)
{
	l->ino = op->ino;
	l->session = op->parent;
	l->owner = op->newparent;
	l->start = op->size;
	l->end = op->rdev;
	l->pid = op->uid;
	l->type = (uint8_t)op->mode;
	l->kind = (uint8_t)op->valid;
}
