/* fuzz_frag_hdr.c: fragment files as a node reads them from its disk
 * (nodes/fragstore.c).  The input is the whole file: its first 64 bytes
 * go through frag_hdr_decode, then the file is placed in a fresh store
 * under the name its header claims and read back with frag_stat,
 * frag_get and frag_list; then the same with both checksums made right.  A read that succeeds must
 * return exactly the bytes the header describes and checksums; any other must quarantine the file
 * and fail with -OBJ_ECHECKSUM, never crash or over-read. */
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
#include "../../nodes/fragstore.h"
#include "fuzz.h"

static char data_dir[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(data_dir, sizeof(data_dir), "%s/data", fuzz_scratch());
	return 0;
}

/* mkdir -p of the fragment's leaf, then the file under its final name. */
static void place_file(const struct frag_ref *ref, const uint8_t *p, size_t n)
{
	char hex[2 * BLOCK_ID_LEN + 1], path[4400];
	int fd;

	msg_block_hex(ref->block_id, hex);
	snprintf(path, sizeof(path), "%s/frags/%.2s", data_dir, hex);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/frags/%.2s/%.2s", data_dir, hex, hex + 2);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/frags/%.2s/%.2s/%s.%u", data_dir, hex, hex + 2, hex,
		 ref->index);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || fio_write_full(fd, p, n, 0) != 0) {
		fuzz_fail("cannot write the fragment file");
	}
	close(fd);
}

static void check_read(const struct frag_hdr *h, const uint8_t *file, size_t size, int rc,
		       const uint8_t *got)
{
	if (rc == 0) {
		if (size != FRAG_FILE_HDR_LEN + (size_t)h->frag_len ||
		    (got != NULL && (memcmp(got, file + FRAG_FILE_HDR_LEN, h->frag_len) != 0 ||
				     csum64(got, h->frag_len) != h->csum))) {
			fuzz_fail("a fragment read returned bytes its file does not hold");
		}
	} else if (rc != -OBJ_ECHECKSUM && rc != -ENOENT) {
		fuzz_fail("a fragment read failed outside its contract");
	}
}

/* Rewrites the checksums of a file whose header is at least present: the
 * data checksum (bytes 44..51) over the bytes after the header, then the
 * header checksum (56..63) over bytes 0..55, as frag_put writes them. */
static void reseal(uint8_t *buf, size_t size)
{
	uint64_t c = csum64(buf + FRAG_FILE_HDR_LEN, size - FRAG_FILE_HDR_LEN);

	for (int i = 0; i < 8; i++) {
		buf[44 + i] = (uint8_t)(c >> (8 * i));
	}
	c = csum64(buf, 56);
	for (int i = 0; i < 8; i++) {
		buf[56 + i] = (uint8_t)(c >> (8 * i));
	}
}

static void run_file(uint8_t *buf, size_t size)
{
	struct frag_ref ref = {.index = 0};
	struct fragstore *fs;
	struct frag_hdr h, list[4];
	const char *why = NULL;
	uint8_t *got = NULL;
	int rc, more = 0;

	if (size >= FRAG_FILE_HDR_LEN) {
		uint8_t hb[FRAG_FILE_HDR_LEN];

		memcpy(hb, buf, sizeof(hb));
		rc = frag_hdr_decode(hb, &h, &why);
		if ((rc == 0) != (why == NULL) || (rc != 0 && rc != -OBJ_ECHECKSUM)) {
			fuzz_fail("frag_hdr_decode: result and reason disagree");
		}
		if (rc == 0 &&
		    (h.ref.index >= h.k + h.m || h.k < 1 || h.k > EC_MAX_K || h.m > EC_MAX_M ||
		     h.frag_len != ec_frag_len((struct ec_profile){h.k, h.m}, h.block_len))) {
			fuzz_fail("frag_hdr_decode accepted fields no codec produces");
		}
		/* File it under the name it claims, so the checks after the
		 * header are reached. */
		memcpy(ref.block_id, buf + 16, BLOCK_ID_LEN);
		ref.index = buf[12] < EC_MAX_FRAGS ? buf[12] : 0;
	}
	fuzz_clear(fuzz_scratch());
	mkdir(data_dir, 0755);
	if (frag_open(data_dir, &fs) != 0) {
		fuzz_fail("cannot open a fresh fragment store");
	}
	place_file(&ref, buf, size);
	rc = frag_stat(fs, &ref, &h);
	check_read(&h, buf, size, rc, NULL);
	rc = frag_get(fs, &ref, &h, &got);
	check_read(&h, buf, size, rc, got);
	free(got);
	rc = frag_list(fs, &(struct frag_ref){.index = 0}, 1, list, 4, &more);
	if (rc < 0 || rc > 1) {
		fuzz_fail("frag_list of a store with at most one fragment");
	}
	frag_close(fs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = fuzz_dup(data, size);

	run_file(buf, size);
	/* Again with both checksums right, so the field and size checks
	 * behind them are reached too. */
	if (size >= FRAG_FILE_HDR_LEN) {
		reseal(buf, size);
		run_file(buf, size);
	}
	free(buf);
	return 0;
}
