/* fuzz.h: what every libFuzzer harness of tests/fuzz shares: the entry
 * points, a fixed frame key, a silent log sink, exact-size heap copies
 * (so ASan sees one byte past the input) and a private scratch directory.
 * Test-only; one harness per decoder, each in its own fuzz_<name>.c. */
#ifndef OBJFS_TESTS_FUZZ_H
#define OBJFS_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "../../proto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The cluster secret every harness seals and opens frames with; the
 * corpus generator (gen_corpus.c) uses the same, so seeds authenticate. */
#define FUZZ_SECRET "objfs fuzz secret: fixed, never a real one"

void fuzz_key(struct frame_key *k);
/* Drops every log line (decoders log refusals; the fuzzer must not). */
void fuzz_quiet(void);
/* A malloc'd copy of exactly n bytes (one byte when n is 0). */
uint8_t *fuzz_dup(const uint8_t *p, size_t n);
/* A fresh directory under /dev/shm (or $TMPDIR), made once per process
 * and removed at exit; aborts when none can be made. */
const char *fuzz_scratch(void);
/* Writes n bytes to path (created or truncated): 0 or a negative errno. */
int fuzz_write_file(const char *path, const uint8_t *p, size_t n);
/* Removes everything below dir (dir itself stays). */
void fuzz_clear(const char *dir);
/* Stops the run: a harness found a broken invariant (libFuzzer reports
 * the input as a crash). */
void fuzz_fail(const char *what) __attribute__((noreturn));

#endif
