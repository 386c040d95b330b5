/* fragstore.c: the fragment files under DATA_DIR/frags/ and their counters.
 * Never talks to the network and never holds the lock across data I/O or an
 * fsync; runs on the node's disk worker threads, any number at once.
 *
 * Layout: frags/XX/YY/<32 hex block id>.<index>, XX and YY the first two
 * bytes of the id, so no directory grows past a few thousand entries even
 * with millions of fragments.  Lowercase hex sorts like the bytes, which is
 * what lets frag_list walk the tree in (block id, index) order.
 *
 * File format (all integers little-endian, through the wire cursors):
 *    0  magic "OBJFFRAG"          32  u64 block_len
 *    8  u16 version (1)           40  u32 frag_len
 *   10  u8 k, u8 m, u8 index      44  u64 XXH3-64 of the fragment bytes
 *   13  3 pad bytes (zero)        52  4 pad bytes (zero)
 *   16  block id [16]             56  u64 XXH3-64 of bytes 0..55
 *   64  frag_len fragment bytes
 *
 * Invariants:
 *  1. A file under its final name is complete and synced: it is written
 *     under "<name>.tmp.<random>", fdatasync'd, then renamed into place and
 *     the directory fsync'd.  Temporary names are never read and are
 *     deleted by the next frag_open.
 *  2. count/bytes describe the files under final names, because every
 *     change to a final name (rename into place, unlink, quarantine) is made
 *     under fs->lock together with its accounting.
 *  3. Directories are never removed, so a leaf made once stays valid.
 *  4. One process per data directory (frag_open deletes temporary files
 *     it did not create).
 *
 * Failures: -ENOENT (no such fragment), -OBJ_ECHECKSUM (a check failed;
 * the file goes to frags/quarantine/ so repair sees it as lost), -ENOSPC
 * (disk or capacity full), -EINVAL (a header no codec could produce), or
 * the errno of the failing system call. */
#include "fragstore.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "../common/checksum.h"
#include "../common/ec.h"
#include "../common/err.h"
#include "../common/fileio.h"
#include "../common/log.h"
#include "../common/metrics.h"
#include "../common/rand.h"
#include "../proto/wire.h"

#define FRAG_MAGIC "OBJFFRAG"
#define FRAG_MAGIC_LEN 8
#define FRAG_VERSION 1
#define FRAG_HDR_LEN FRAG_FILE_HDR_LEN
#define FRAG_HDR_CSUM_OFF 56 /* the header checksum covers everything before it */
#define QUARANTINE_DIR "quarantine"
#define PROBE_NAME ".probe"
#define DIRECT_ALIGN 4096 /* O_DIRECT buffer, offset and length alignment */

/* Longest relative name: "quarantine/" + 32 hex + ".255" + "." + 16 hex. */
#define NAME_MAX_LEN 96
#define TMP_NAME_LEN (NAME_MAX_LEN + 24) /* a name plus ".tmp.<16 hex>" */

struct fragstore {
	int root_fd;	      /* DATA_DIR/frags; every path below is relative to it */
	pthread_mutex_t lock; /* guards the fields below and every change to a final name */
	uint64_t count;
	uint64_t bytes;	   /* sizes of the fragment files, headers included */
	uint64_t reserved; /* bytes of puts admitted but not yet renamed into place */
	uint64_t capacity; /* 0: only the disk limits us */
	uint64_t checksum_errors;
	uint64_t quarantined; /* fragments moved to the quarantine */
	/* Metrics (NULL: off); set once before serving. */
	struct mx_metric *fsync_data, *fsync_dir;
};

/* One fragment file name, parsed. */
struct frag_name {
	uint8_t id[BLOCK_ID_LEN];
	uint8_t index;
};

/* ---- header encoding ---- */

/* True for a header some codec could have produced: the same limits the
 * wire decoder applies, so nothing the network rejects lands on disk and
 * nothing on disk is served that the network would reject. */
static bool hdr_sane(const struct frag_hdr *h)
{
	return h->k >= 1 && h->k <= EC_MAX_K && h->m <= EC_MAX_M && h->ref.index < h->k + h->m &&
	       h->block_len <= MSG_BLOCK_MAX &&
	       h->frag_len == ec_frag_len((struct ec_profile){h->k, h->m}, h->block_len);
}

static void hdr_encode(const struct frag_hdr *h, uint8_t b[FRAG_HDR_LEN])
{
	static const uint8_t pad[4];
	struct wr w;

	wr_init_buf(&w, b, FRAG_HDR_LEN);
	wr_bytes(&w, FRAG_MAGIC, FRAG_MAGIC_LEN);
	wr_u16(&w, FRAG_VERSION);
	wr_u8(&w, h->k);
	wr_u8(&w, h->m);
	wr_u8(&w, h->ref.index);
	wr_bytes(&w, pad, 3);
	wr_bytes(&w, h->ref.block_id, BLOCK_ID_LEN);
	wr_u64(&w, h->block_len);
	wr_u32(&w, h->frag_len);
	wr_u64(&w, h->csum);
	wr_bytes(&w, pad, 4);
	if (w.len != FRAG_HDR_CSUM_OFF) {
		OBJ_PANIC("fragment header layout: %zu bytes before its checksum", w.len);
	}
	wr_u64(&w, csum64(b, FRAG_HDR_CSUM_OFF));
	if (wr_status(&w) != 0 || w.len != FRAG_HDR_LEN) {
		OBJ_PANIC("fragment header layout: %zu bytes", w.len);
	}
}

int frag_hdr_decode(const uint8_t b[FRAG_FILE_HDR_LEN], struct frag_hdr *h, const char **why)
{
	struct rd r;
	const uint8_t *magic;
	uint16_t version;
	uint64_t hdr_csum;

	rd_init(&r, b, FRAG_HDR_LEN);
	magic = rd_ptr(&r, FRAG_MAGIC_LEN);
	version = rd_u16(&r);
	h->k = rd_u8(&r);
	h->m = rd_u8(&r);
	h->ref.index = rd_u8(&r);
	rd_ptr(&r, 3);
	rd_bytes(&r, h->ref.block_id, BLOCK_ID_LEN);
	h->block_len = rd_u64(&r);
	h->frag_len = rd_u32(&r);
	h->csum = rd_u64(&r);
	rd_ptr(&r, 4);
	hdr_csum = rd_u64(&r);
	if (!rd_done(&r)) {
		OBJ_PANIC("fragment header layout: %zu bytes left", r.left);
	}
	*why = NULL;
	if (memcmp(magic, FRAG_MAGIC, FRAG_MAGIC_LEN) != 0) {
		*why = "bad magic";
	} else if (hdr_csum != csum64(b, FRAG_HDR_CSUM_OFF)) {
		*why = "header checksum mismatch";
	} else if (version != FRAG_VERSION) {
		/* Checked after the checksum: a damaged version field is
		 * damage, a well-formed unknown version is a file from a newer
		 * objfs. */
		*why = "unknown header version";
	} else if (!hdr_sane(h)) {
		*why = "header fields out of range";
	}
	return *why == NULL ? 0 : -OBJ_ECHECKSUM;
}

/* ---- names ---- */

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/* Parses two lowercase hex digits; -1 if s is not exactly that. */
static int parse_hex_byte(const char *s)
{
	int hi = hex_nibble(s[0]);
	int lo = hi < 0 ? -1 : hex_nibble(s[1]);

	if (lo < 0) {
		return -1;
	}
	return hi << 4 | lo;
}

/* Parses "<32 hex>.<index>" with a canonical decimal index; anything else
 * (temporary files, strays) is not a fragment. */
static bool parse_frag_name(const char *s, struct frag_name *out)
{
	unsigned idx = 0;
	size_t i;

	for (i = 0; i < BLOCK_ID_LEN; i++) {
		int b = parse_hex_byte(s + 2 * i);

		if (b < 0) {
			return false;
		}
		out->id[i] = (uint8_t)b;
	}
	s += 2 * BLOCK_ID_LEN;
	if (*s++ != '.') {
		return false;
	}
	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (i == 2 || (i == 1 && s[0] == '0')) {
			return false;
		}
		idx = idx * 10 + (unsigned)(s[i] - '0');
	}
	if (i == 0 || s[i] != '\0' || idx >= EC_MAX_FRAGS) {
		return false;
	}
	out->index = (uint8_t)idx;
	return true;
}

static int name_cmp(const struct frag_name *a, const struct frag_name *b)
{
	int c = memcmp(a->id, b->id, BLOCK_ID_LEN);

	if (c != 0) {
		return c;
	}
	return (int)a->index - (int)b->index;
}

static int name_qsort_cmp(const void *a, const void *b)
{
	return name_cmp(a, b);
}

/* "XX", "XX/YY" and "XX/YY/<hex>.<index>" for a fragment. */
static void frag_paths(const uint8_t id[BLOCK_ID_LEN], unsigned index, char top[4], char leaf[8],
		       char file[NAME_MAX_LEN])
{
	char hex[2 * BLOCK_ID_LEN + 1];

	msg_block_hex(id, hex);
	snprintf(top, 4, "%.2s", hex);
	snprintf(leaf, 8, "%.2s/%.2s", hex, hex + 2);
	snprintf(file, NAME_MAX_LEN, "%s/%s.%u", leaf, hex, index);
}

/* ---- small I/O helpers ---- */

/* A full quota is a full disk as far as the caller is concerned. */
static int quota_as_nospc(int rc)
{
	return rc == -EDQUOT ? -ENOSPC : rc;
}

static int neg_errno(void)
{
	return quota_as_nospc(-errno);
}

static int fsync_dir(int root_fd, const char *rel)
{
	int fd = openat(root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0) {
		return -errno;
	}
	if (fsync(fd) < 0) {
		rc = -errno;
	}
	close(fd);
	return rc;
}

/* Makes rel (whose parent is parent_rel) if missing, syncing the parent so
 * the new directory survives a crash along with what goes in it. */
static int make_dir(int root_fd, const char *rel, const char *parent_rel)
{
	if (mkdirat(root_fd, rel, 0755) == 0) {
		return fsync_dir(root_fd, parent_rel);
	}
	return errno == EEXIST ? 0 : -errno;
}

/* Opens directory rel under root_fd for reading its entries. */
static DIR *open_dir_at(int root_fd, const char *rel)
{
	int fd = openat(root_fd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0) {
		return NULL;
	}
	d = fdopendir(fd);
	if (d == NULL) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return d;
}

/* Marks in present[] the two-hex-digit subdirectories of rel. */
static int hex_subdirs(int root_fd, const char *rel, bool present[256])
{
	DIR *d = open_dir_at(root_fd, rel);
	struct dirent *de;
	int rc = 0;

	memset(present, 0, 256 * sizeof(bool));
	if (d == NULL) {
		return -errno;
	}
	for (;;) {
		int b;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			rc = errno ? -errno : 0;
			break;
		}
		/* A stray file with a hex name is not a level of the tree. */
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) {
			continue;
		}
		if (strlen(de->d_name) == 2 && (b = parse_hex_byte(de->d_name)) >= 0) {
			present[b] = true;
		}
	}
	closedir(d);
	return rc;
}

/* Reads the fragment names of one leaf directory, sorted by (id, index).
 * *out is malloc'd (NULL when empty).  Names whose id does not belong in
 * this leaf are ignored: they could never be found by lookup anyway. */
static int leaf_names(int root_fd, const char *leaf, uint8_t b0, uint8_t b1, struct frag_name **out,
		      size_t *n)
{
	DIR *d = open_dir_at(root_fd, leaf);
	struct frag_name *v = NULL, e;
	size_t cap = 0, len = 0;
	struct dirent *de;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (d == NULL) {
		return -errno;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			rc = errno ? -errno : 0;
			break;
		}
		if (!parse_frag_name(de->d_name, &e) || e.id[0] != b0 || e.id[1] != b1) {
			continue;
		}
		if (len == cap) {
			size_t ncap = cap ? 2 * cap : 64;
			struct frag_name *nv = realloc(v, ncap * sizeof(*v));

			if (nv == NULL) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		v[len++] = e;
	}
	closedir(d);
	if (rc < 0) {
		free(v);
		return rc;
	}
	if (len > 1) {
		qsort(v, len, sizeof(*v), name_qsort_cmp);
	}
	*out = v;
	*n = len;
	return 0;
}

/* ---- corruption ---- */

/* Records a failed check of the file `name` (whose identity was `st` when
 * it was read) and moves it to the quarantine.  Checking the inode under
 * the lock keeps a good fragment that a concurrent put just renamed over
 * the bad one from being quarantined in its place.  Returns -OBJ_ECHECKSUM. */
static int quarantine(struct fragstore *fs, const char *name, const struct frag_name *fn,
		      const struct stat *st, const char *why)
{
	char hex[2 * BLOCK_ID_LEN + 1], qname[NAME_MAX_LEN], leaf[8];
	struct stat cur;
	int rc = make_dir(fs->root_fd, QUARANTINE_DIR, ".");
	uint64_t suffix = 0;
	bool moved = false;

	msg_block_hex(fn->id, hex);
	/* A random suffix keeps an earlier quarantined copy for inspection. */
	if (rc == 0) {
		rc = rand_u64(&suffix);
	}
	snprintf(qname, sizeof(qname), QUARANTINE_DIR "/%s.%u.%016llx", hex, fn->index,
		 (unsigned long long)suffix);

	pthread_mutex_lock(&fs->lock);
	fs->checksum_errors++;
	if (rc == 0 && fstatat(fs->root_fd, name, &cur, AT_SYMLINK_NOFOLLOW) == 0 &&
	    cur.st_dev == st->st_dev && cur.st_ino == st->st_ino) {
		if (renameat(fs->root_fd, name, fs->root_fd, qname) == 0) {
			uint64_t sz = (uint64_t)cur.st_size;

			moved = true;
			fs->quarantined++;
			fs->count -= fs->count > 0;
			fs->bytes = fs->bytes > sz ? fs->bytes - sz : 0;
		} else {
			rc = -errno;
		}
	}
	pthread_mutex_unlock(&fs->lock);

	if (moved) {
		log_warn("frag.corrupt", "fragment %s: %s; moved to %s", name, why, qname);
		/* Best effort: if the rename is lost in a crash, the next read
		 * finds the damage again. */
		snprintf(leaf, sizeof(leaf), "%.5s", name);
		fsync_dir(fs->root_fd, QUARANTINE_DIR);
		fsync_dir(fs->root_fd, leaf);
	} else {
		log_warn("frag.corrupt", "fragment %s: %s; not quarantined: %s", name, why,
			 rc < 0 ? obj_strerror(rc) : "replaced meanwhile");
	}
	return -OBJ_ECHECKSUM;
}

/* ---- reading ---- */

/* Reads and checks the fragment `ref`; with data == NULL only its header
 * (and the file size) are checked. */
static int frag_read(struct fragstore *fs, const struct frag_ref *ref, struct frag_hdr *h,
		     uint8_t **data)
{
	char top[4], leaf[8], name[NAME_MAX_LEN];
	uint8_t hb[FRAG_HDR_LEN];
	struct frag_name fn = {.index = ref->index};
	struct frag_hdr got;
	uint8_t *buf = NULL;
	const char *why = NULL;
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	memcpy(fn.id, ref->block_id, BLOCK_ID_LEN);
	frag_paths(ref->block_id, ref->index, top, leaf, name);
	fd = openat(fs->root_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return errno == ENOTDIR ? -ENOENT : -errno;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	n = fio_read_full(fd, hb, FRAG_HDR_LEN, 0);
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	if (n < FRAG_HDR_LEN) {
		why = "truncated header";
	} else {
		/* -OBJ_ECHECKSUM: why says how; quarantined below */
		(void)frag_hdr_decode(hb, &got, &why);
	}
	if (why == NULL && (memcmp(got.ref.block_id, ref->block_id, BLOCK_ID_LEN) != 0 ||
			    got.ref.index != ref->index)) {
		why = "header names another fragment";
	}
	if (why == NULL && (uint64_t)st.st_size != FRAG_HDR_LEN + (uint64_t)got.frag_len) {
		why = "file size does not match header";
	}
	if (why == NULL && data != NULL) {
		/* malloc(0) may return NULL; an empty fragment still gets a buffer. */
		buf = malloc(got.frag_len ? got.frag_len : 1);
		if (buf == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		n = fio_read_full(fd, buf, got.frag_len, FRAG_HDR_LEN);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if ((size_t)n != got.frag_len) {
			why = "truncated data";
		} else if (csum64(buf, got.frag_len) != got.csum) {
			why = "data checksum mismatch";
		}
	}
out:
	close(fd);
	if (rc == 0 && why != NULL) {
		rc = quarantine(fs, name, &fn, &st, why);
	}
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*h = got;
	if (data != NULL) {
		*data = buf;
	}
	return 0;
}

int frag_get(struct fragstore *fs, const struct frag_ref *ref, struct frag_hdr *h, uint8_t **data)
{
	*data = NULL;
	return frag_read(fs, ref, h, data);
}

int frag_stat(struct fragstore *fs, const struct frag_ref *ref, struct frag_hdr *h)
{
	return frag_read(fs, ref, h, NULL);
}

/* The buffered full read of frag_verify, for file systems without
 * O_DIRECT (tmpfs). */
static int verify_buffered(struct fragstore *fs, const struct frag_ref *ref, uint64_t *bytes)
{
	struct frag_hdr h;
	uint8_t *data = NULL;
	int rc = frag_read(fs, ref, &h, &data);

	free(data);
	if (rc == 0 && bytes != NULL) {
		*bytes += FRAG_HDR_LEN + (uint64_t)h.frag_len;
	}
	return rc;
}

/* Verification reads bypass the page cache (O_DIRECT): a scrub must check
 * what the disk holds, not a cached copy of what was written, and must not
 * push out the pages foreground reads use.  The checks are frag_read's. */
int frag_verify(struct fragstore *fs, const struct frag_ref *ref, uint64_t *bytes)
{
	char top[4], leaf[8], name[NAME_MAX_LEN];
	struct frag_name fn = {.index = ref->index};
	struct frag_hdr got;
	const char *why = NULL;
	void *buf = NULL;
	struct stat st;
	size_t cap;
	ssize_t n;
	int fd, rc = 0;

	memcpy(fn.id, ref->block_id, BLOCK_ID_LEN);
	frag_paths(ref->block_id, ref->index, top, leaf, name);
	fd = openat(fs->root_fd, name, O_RDONLY | O_CLOEXEC | O_DIRECT);
	if (fd < 0 && errno == EINVAL) {
		return verify_buffered(fs, ref, bytes);
	}
	if (fd < 0) {
		return errno == ENOTDIR ? -ENOENT : -errno;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if ((uint64_t)st.st_size > FRAG_HDR_LEN + (uint64_t)MSG_BLOCK_MAX) {
		why = "file larger than any fragment";
		goto out;
	}
	/* One aligned read of the whole file: O_DIRECT returns up to the end. */
	cap = ((size_t)st.st_size + DIRECT_ALIGN - 1) / DIRECT_ALIGN * DIRECT_ALIGN;
	if (posix_memalign(&buf, DIRECT_ALIGN, cap ? cap : DIRECT_ALIGN) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	do {
		n = pread(fd, buf, cap, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		rc = -errno;
		if (rc == -EINVAL) {
			/* Alignment the device refuses: read it the usual way. */
			close(fd);
			free(buf);
			return verify_buffered(fs, ref, bytes);
		}
		goto out;
	}
	if (n < FRAG_HDR_LEN) {
		why = "truncated header";
	} else {
		(void)frag_hdr_decode(buf, &got, &why); /* why says how; quarantined below */
	}
	if (why == NULL && (memcmp(got.ref.block_id, ref->block_id, BLOCK_ID_LEN) != 0 ||
			    got.ref.index != ref->index)) {
		why = "header names another fragment";
	}
	if (why == NULL && (uint64_t)st.st_size != FRAG_HDR_LEN + (uint64_t)got.frag_len) {
		why = "file size does not match header";
	}
	if (why == NULL && (size_t)n < FRAG_HDR_LEN + (size_t)got.frag_len) {
		why = "truncated data";
	}
	if (why == NULL && csum64((uint8_t *)buf + FRAG_HDR_LEN, got.frag_len) != got.csum) {
		why = "data checksum mismatch";
	}
out:
	close(fd);
	free(buf);
	if (rc == 0 && why != NULL) {
		return quarantine(fs, name, &fn, &st, why);
	}
	if (rc == 0 && bytes != NULL) {
		*bytes += FRAG_HDR_LEN + (uint64_t)got.frag_len;
	}
	return rc;
}

/* ---- writing ---- */

/* Admits a put of size bytes against the disk and the capacity, reserving
 * the bytes so concurrent puts cannot together overshoot the capacity. */
static int admit(struct fragstore *fs, uint64_t size)
{
	struct statvfs sv;
	int rc = 0;

	if (fstatvfs(fs->root_fd, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < size) {
		return -ENOSPC;
	}
	pthread_mutex_lock(&fs->lock);
	if (fs->capacity != 0 && fs->bytes + fs->reserved + size > fs->capacity) {
		rc = -ENOSPC;
	} else {
		fs->reserved += size;
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* Creates the temporary file for `name`; returns its fd or a negative errno. */
static int create_tmp(struct fragstore *fs, const char *name, char tmp[TMP_NAME_LEN])
{
	for (int tries = 0;; tries++) {
		uint64_t suffix;
		int fd = rand_u64(&suffix);

		if (fd < 0) {
			return fd;
		}
		snprintf(tmp, TMP_NAME_LEN, "%s.tmp.%016llx", name, (unsigned long long)suffix);
		fd = openat(fs->root_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd >= 0) {
			return fd;
		}
		if (errno != EEXIST || tries == 8) {
			return neg_errno();
		}
	}
}

/* Writes header and data to fd and syncs them. */
static int write_frag(struct fragstore *fs, int fd, const struct frag_hdr *h, const void *data)
{
	uint8_t hb[FRAG_HDR_LEN];
	int rc;

	hdr_encode(h, hb);
	rc = quota_as_nospc(fio_write_full(fd, hb, sizeof(hb), 0));
	if (rc == 0) {
		rc = quota_as_nospc(fio_write_full(fd, data, h->frag_len, FRAG_HDR_LEN));
	}
	if (rc == 0) {
		uint64_t t0 = fs->fsync_data != NULL ? mx_now_ns() : 0;

		if (fdatasync(fd) < 0) {
			rc = neg_errno();
		}
		if (fs->fsync_data != NULL) {
			mx_observe(fs->fsync_data, mx_now_ns() - t0);
		}
	}
	return rc;
}

int frag_put(struct fragstore *fs, const struct frag_hdr *h, const void *data)
{
	const uint64_t size = FRAG_HDR_LEN + (uint64_t)h->frag_len;
	char top[4], leaf[8], name[NAME_MAX_LEN], tmp[TMP_NAME_LEN];
	struct stat old;
	bool replacing;
	int fd, rc;

	if (!hdr_sane(h) || (data == NULL && h->frag_len != 0)) {
		return -EINVAL;
	}
	if (csum64(data ? data : "", h->frag_len) != h->csum) {
		return -OBJ_ECHECKSUM;
	}
	rc = admit(fs, size);
	if (rc < 0) {
		return rc;
	}
	frag_paths(h->ref.block_id, h->ref.index, top, leaf, name);

	/* The leaf usually exists; make the top level only when it does not. */
	rc = make_dir(fs->root_fd, leaf, top);
	if (rc == -ENOENT) {
		rc = make_dir(fs->root_fd, top, ".");
		if (rc == 0) {
			rc = make_dir(fs->root_fd, leaf, top);
		}
	}
	fd = rc < 0 ? rc : create_tmp(fs, name, tmp);
	if (fd < 0) {
		rc = fd;
		goto unreserve;
	}
	rc = write_frag(fs, fd, h, data);
	if (close(fd) < 0 && rc == 0) {
		rc = neg_errno();
	}
	if (rc < 0) {
		unlinkat(fs->root_fd, tmp, 0);
		goto unreserve;
	}

	pthread_mutex_lock(&fs->lock);
	fs->reserved -= size;
	replacing = fstatat(fs->root_fd, name, &old, AT_SYMLINK_NOFOLLOW) == 0;
	if (renameat(fs->root_fd, tmp, fs->root_fd, name) == 0) {
		if (replacing) {
			uint64_t sz = (uint64_t)old.st_size;

			fs->bytes = fs->bytes > sz ? fs->bytes - sz : 0;
		} else {
			fs->count++;
		}
		fs->bytes += size;
	} else {
		rc = -errno;
	}
	pthread_mutex_unlock(&fs->lock);

	if (rc < 0) {
		unlinkat(fs->root_fd, tmp, 0);
		return rc;
	}
	/* The fragment is in place; only the sync of its name can still fail,
	 * and a retried put of the same fragment is harmless. */
	if (fs->fsync_dir != NULL) {
		uint64_t t0 = mx_now_ns();

		rc = fsync_dir(fs->root_fd, leaf);
		mx_observe(fs->fsync_dir, mx_now_ns() - t0);
		return rc;
	}
	return fsync_dir(fs->root_fd, leaf);

unreserve:
	pthread_mutex_lock(&fs->lock);
	fs->reserved -= size;
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* ---- deleting ---- */

/* Unlinks one final name; returns 1 if removed, 0 if absent. */
static int remove_one(struct fragstore *fs, const char *name)
{
	struct stat st;
	int rc = 0;

	pthread_mutex_lock(&fs->lock);
	if (fstatat(fs->root_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	} else if (unlinkat(fs->root_fd, name, 0) < 0) {
		rc = errno == ENOENT ? 0 : -errno;
	} else {
		uint64_t sz = (uint64_t)st.st_size;

		fs->count -= fs->count > 0;
		fs->bytes = fs->bytes > sz ? fs->bytes - sz : 0;
		rc = 1;
	}
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

int frag_sweep(struct fragstore *fs, const struct frag_ref *ref, uint32_t grace_s, int dry)
{
	char top[4], leaf[8], name[NAME_MAX_LEN];
	struct timespec now;
	struct stat st;
	int rc = 0;

	if (ref->index >= EC_MAX_FRAGS) {
		return -EINVAL;
	}
	frag_paths(ref->block_id, ref->index, top, leaf, name);
	clock_gettime(CLOCK_REALTIME, &now);
	/* The age check and the unlink under one lock: a put that renames a
	 * fresh copy into place in between is never the file removed. */
	pthread_mutex_lock(&fs->lock);
	if (fstatat(fs->root_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	} else if (st.st_mtim.tv_sec > now.tv_sec - (time_t)grace_s) {
		rc = -EAGAIN;
	} else if (dry) {
		rc = 1;
	} else if (unlinkat(fs->root_fd, name, 0) < 0) {
		rc = errno == ENOENT ? 0 : -errno;
	} else {
		uint64_t sz = (uint64_t)st.st_size;

		fs->count -= fs->count > 0;
		fs->bytes = fs->bytes > sz ? fs->bytes - sz : 0;
		rc = 1;
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc == 1 && !dry) {
		int frc = fsync_dir(fs->root_fd, leaf);

		if (frc < 0) {
			return frc;
		}
	}
	return rc;
}

int frag_del(struct fragstore *fs, const struct frag_ref *ref)
{
	char top[4], leaf[8], name[NAME_MAX_LEN];
	struct frag_name *names;
	size_t n;
	int removed = 0, rc = 0;

	frag_paths(ref->block_id, ref->index, top, leaf, name);
	if (ref->index != FRAG_ALL) {
		removed = remove_one(fs, name);
	} else {
		rc = leaf_names(fs->root_fd, leaf, ref->block_id[0], ref->block_id[1], &names, &n);
		if (rc < 0) {
			return rc == -ENOENT ? 0 : rc;
		}
		for (size_t i = 0; i < n && rc >= 0; i++) {
			if (memcmp(names[i].id, ref->block_id, BLOCK_ID_LEN) != 0) {
				continue;
			}
			frag_paths(ref->block_id, names[i].index, top, leaf, name);
			rc = remove_one(fs, name);
			removed += rc > 0;
		}
		free(names);
		if (rc < 0) {
			removed = rc;
		}
	}
	if (removed > 0) {
		rc = fsync_dir(fs->root_fd, leaf);
		if (rc < 0) {
			return rc;
		}
	}
	return removed;
}

/* ---- listing ---- */

int frag_list(struct fragstore *fs, const struct frag_ref *after, int first, struct frag_hdr *out,
	      size_t max, int *more)
{
	struct frag_name from = {.index = after->index};
	bool xs[256], ys[256];
	size_t got = 0;
	int rc;

	memcpy(from.id, after->block_id, BLOCK_ID_LEN);
	*more = 0;
	rc = hex_subdirs(fs->root_fd, ".", xs);
	if (rc < 0) {
		return rc;
	}
	for (int x = first ? 0 : from.id[0]; x < 256; x++) {
		char top[4];

		if (!xs[x]) {
			continue;
		}
		snprintf(top, sizeof(top), "%02x", x);
		rc = hex_subdirs(fs->root_fd, top, ys);
		if (rc < 0) {
			return rc;
		}
		for (int y = first || x > from.id[0] ? 0 : from.id[1]; y < 256; y++) {
			struct frag_name *names;
			char leaf[8];
			size_t n;

			if (!ys[y]) {
				continue;
			}
			snprintf(leaf, sizeof(leaf), "%02x/%02x", x, y);
			rc = leaf_names(fs->root_fd, leaf, (uint8_t)x, (uint8_t)y, &names, &n);
			if (rc < 0) {
				return rc;
			}
			for (size_t i = 0; i < n; i++) {
				struct frag_ref r;

				if (!first && name_cmp(&names[i], &from) <= 0) {
					continue;
				}
				if (got == max) {
					*more = 1;
					free(names);
					return (int)got;
				}
				memcpy(r.block_id, names[i].id, BLOCK_ID_LEN);
				r.index = names[i].index;
				rc = frag_read(fs, &r, &out[got], NULL);
				/* A fragment deleted or quarantined since the
				 * readdir is not stored any more: skip it. */
				if (rc == 0) {
					got++;
				} else if (rc != -ENOENT && rc != -OBJ_ECHECKSUM) {
					free(names);
					return rc;
				}
			}
			free(names);
		}
	}
	return (int)got;
}

/* ---- open, close, usage ---- */

/* Counts the fragments of one leaf and deletes the temporary files a crash
 * left in it (invariant 4: nobody else is writing them). */
static int scan_leaf(struct fragstore *fs, int x, int y)
{
	char leaf[8], name[NAME_MAX_LEN];
	struct frag_name fn;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = 0;

	snprintf(leaf, sizeof(leaf), "%02x/%02x", x, y);
	d = open_dir_at(fs->root_fd, leaf);
	if (d == NULL) {
		return -errno;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (snprintf(name, sizeof(name), "%s/%s", leaf, de->d_name) >= (int)sizeof(name)) {
			continue;
		}
		if (strstr(de->d_name, ".tmp.") != NULL) {
			if (unlinkat(fs->root_fd, name, 0) < 0) {
				log_warn("frag.tmp", "cannot remove %s: %s", name, strerror(errno));
			}
			continue;
		}
		if (!parse_frag_name(de->d_name, &fn) || fn.id[0] != x || fn.id[1] != y) {
			continue;
		}
		if (fstatat(fs->root_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
			fs->count++;
			fs->bytes += (uint64_t)st.st_size;
		}
	}
	if (errno != 0) {
		rc = -errno;
	}
	closedir(d);
	return rc;
}

/* Walks the whole tree once, at open, before any other call can run. */
static int scan(struct fragstore *fs)
{
	bool xs[256], ys[256];
	int rc = hex_subdirs(fs->root_fd, ".", xs);

	for (int x = 0; x < 256 && rc == 0; x++) {
		char top[4];

		if (!xs[x]) {
			continue;
		}
		snprintf(top, sizeof(top), "%02x", x);
		rc = hex_subdirs(fs->root_fd, top, ys);
		for (int y = 0; y < 256 && rc == 0; y++) {
			if (ys[y]) {
				rc = scan_leaf(fs, x, y);
			}
		}
	}
	return rc;
}

/* Proves the store is writable by creating and removing a file: access()
 * alone misses some read-only cases (ACLs, a full inode table). */
static int probe_writable(int root_fd)
{
	int fd = openat(root_fd, PROBE_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		return neg_errno();
	}
	close(fd);
	if (unlinkat(root_fd, PROBE_NAME, 0) < 0) {
		return -errno;
	}
	return 0;
}

int frag_open(const char *data_dir, struct fragstore **out)
{
	struct fragstore *fs;
	struct stat st;
	int dfd, root_fd, rc;

	*out = NULL;
	if (stat(data_dir, &st) < 0) {
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		return -ENOTDIR;
	}
	if (access(data_dir, W_OK) < 0) {
		return -errno;
	}
	dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		return -errno;
	}
	if (mkdirat(dfd, "frags", 0755) == 0) {
		rc = fsync(dfd) < 0 ? -errno : 0;
	} else {
		rc = errno == EEXIST ? 0 : -errno;
	}
	root_fd = rc < 0 ? rc : openat(dfd, "frags", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0 && rc == 0) {
		rc = -errno;
	}
	close(dfd);
	if (rc < 0) {
		return rc;
	}
	rc = probe_writable(root_fd);
	if (rc < 0) {
		close(root_fd);
		return rc;
	}
	fs = calloc(1, sizeof(*fs));
	if (fs == NULL) {
		close(root_fd);
		return -ENOMEM;
	}
	fs->root_fd = root_fd;
	pthread_mutex_init(&fs->lock, NULL);
	rc = scan(fs);
	if (rc < 0) {
		frag_close(fs);
		return rc;
	}
	*out = fs;
	return 0;
}

void frag_close(struct fragstore *fs)
{
	if (fs == NULL) {
		return;
	}
	close(fs->root_fd);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}

void frag_set_metrics(struct fragstore *fs, struct mx_registry *r)
{
	static const char help[] = "Time of the syncs that make a fragment put durable: the "
				   "file's data, then its directory entry.";

	fs->fsync_data = mx_histogram(r, "objfs_fragstore_fsync_duration_seconds", help,
				      "kind=\"data\"", &mx_buckets_latency);
	fs->fsync_dir = mx_histogram(r, "objfs_fragstore_fsync_duration_seconds", help,
				     "kind=\"dir\"", &mx_buckets_latency);
}

void frag_usage(struct fragstore *fs, struct frag_usage *u)
{
	struct statvfs sv;
	uint64_t cap;

	pthread_mutex_lock(&fs->lock);
	u->count = fs->count;
	u->bytes = fs->bytes;
	u->checksum_errors = fs->checksum_errors;
	u->quarantined = fs->quarantined;
	cap = fs->capacity;
	pthread_mutex_unlock(&fs->lock);

	u->disk_total = 0;
	u->disk_free = 0;
	if (fstatvfs(fs->root_fd, &sv) == 0) {
		u->disk_total = (uint64_t)sv.f_blocks * sv.f_frsize;
		u->disk_free = (uint64_t)sv.f_bavail * sv.f_frsize;
	}
	if (cap != 0) {
		uint64_t left = cap > u->bytes ? cap - u->bytes : 0;

		u->disk_total = u->disk_total < cap ? u->disk_total : cap;
		u->disk_free = u->disk_free < left ? u->disk_free : left;
	}
}

void frag_set_capacity(struct fragstore *fs, uint64_t bytes)
{
	pthread_mutex_lock(&fs->lock);
	fs->capacity = bytes;
	pthread_mutex_unlock(&fs->lock);
}
