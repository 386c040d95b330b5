/* fragstore.h: the fragment store of one node, on its local disk.
 * Owns the files under DATA_DIR/frags/: one file per fragment, written to
 * a temporary name, fsynced, renamed into place and the directory fsynced,
 * so a crash never leaves a partial fragment under its real name.  Each
 * file starts with a fixed header (magic, version, the frag_hdr fields and
 * an XXH3 of the header itself) followed by the fragment bytes; every read
 * verifies both checksums.  Never talks to the network.  Thread-safe:
 * calls may run concurrently from the node's disk worker threads. */
#ifndef OBJFS_FRAGSTORE_H
#define OBJFS_FRAGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/msg.h"

struct fragstore;

/* Bytes of the fixed header every fragment file starts with. */
#define FRAG_FILE_HDR_LEN 64

/* Decodes the file header in b into h: a pure function, for the store
 * and for tools and tests that read fragment files.  Returns 0, or
 * -OBJ_ECHECKSUM for a header that is damaged or not ours (bad magic,
 * checksum, version, or fields no codec could produce), with the reason
 * in *why. */
int frag_hdr_decode(const uint8_t b[FRAG_FILE_HDR_LEN], struct frag_hdr *h, const char **why);

/* Opens (creating DATA_DIR/frags if needed) the store under data_dir.
 * Fails with -ENOENT if data_dir does not exist, -EACCES/-EROFS if it is
 * not writable, -ENOTDIR.  Removes temporary files left by a crash.
 * Counts existing fragments for status. */
int frag_open(const char *data_dir, struct fragstore **out);
void frag_close(struct fragstore *fs);

/* Stores a fragment durably.  h->csum must equal csum64(data, frag_len):
 * -OBJ_ECHECKSUM otherwise (the bytes were damaged in flight).  Replaces
 * an existing fragment with the same ref atomically.  -ENOSPC when the
 * disk (or the node's capacity) is full; nothing partial remains. */
int frag_put(struct fragstore *fs, const struct frag_hdr *h, const void *data);

/* Reads a fragment.  On success *data is a malloc'd buffer of
 * h->frag_len bytes owned by the caller.  -ENOENT if absent,
 * -OBJ_ECHECKSUM if the header or data fail their checksum (the file is
 * then renamed aside to DATA_DIR/frags/quarantine for repair). */
int frag_get(struct fragstore *fs, const struct frag_ref *ref, struct frag_hdr *h, uint8_t **data);

/* Reads every byte of a fragment from the disk (O_DIRECT where the file
 * system has it: not from the page cache, and without filling it) and
 * checks both checksums, as frag_get does (a failure quarantines it),
 * without keeping the bytes.  Adds the
 * bytes read to *bytes when bytes is not NULL.  Returns 0, -ENOENT,
 * -OBJ_ECHECKSUM or the errno of the read. */
int frag_verify(struct fragstore *fs, const struct frag_ref *ref, uint64_t *bytes);

/* Removes one fragment only if its file was last written more than
 * grace_s seconds ago by this node's clock (a stray found by the sweep:
 * a fragment written since the mark may belong to a block about to be
 * committed).  With dry set nothing is removed.  Returns 1 if removed (or
 * it would be), 0 if absent, -EAGAIN if younger. */
int frag_sweep(struct fragstore *fs, const struct frag_ref *ref, uint32_t grace_s, int dry);

/* Reads and checks only the header (data checksum not verified). */
int frag_stat(struct fragstore *fs, const struct frag_ref *ref, struct frag_hdr *h);

/* Removes one fragment or, with ref->index == FRAG_ALL, every fragment of
 * the block.  Returns the number removed (0 if none). */
int frag_del(struct fragstore *fs, const struct frag_ref *ref);

/* Lists up to max fragment headers whose (block id, index) sorts after
 * `after` (all zeros with index 0 and first=1 to start).  Returns the
 * number written to out, and sets *more when there may be more. */
int frag_list(struct fragstore *fs, const struct frag_ref *after, int first, struct frag_hdr *out,
	      size_t max, int *more);

struct frag_usage {
	uint64_t count;	     /* fragments stored */
	uint64_t bytes;	     /* bytes of fragment files */
	uint64_t disk_total; /* filesystem size (or configured capacity) */
	uint64_t disk_free;  /* bytes available to the node */
	uint64_t checksum_errors;
	uint64_t quarantined; /* fragments moved to quarantine/ since start */
};
void frag_usage(struct fragstore *fs, struct frag_usage *u);

/* Times every fsync of a put into r's objfs_fragstore_fsync_duration_
 * seconds (r NULL: not timed).  Call before serving. */
struct mx_registry;
void frag_set_metrics(struct fragstore *fs, struct mx_registry *r);

/* Sets a capacity limit in bytes (0: the disk's own). */
void frag_set_capacity(struct fragstore *fs, uint64_t bytes);

#endif
