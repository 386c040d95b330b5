/* fuzz_keyfile.c: the client key file parser (proto/keys.c), fed the
 * input as the text of a key file.  A refusal must come with a message
 * that never shows the secret; an accepted key must be a valid one and
 * read back the same after key_file_format. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/keys.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct key_ent k, back;
	char err[256] = "", text[512];
	int rc = key_file_parse((const char *)data, size, "fuzz.key", &k, err, sizeof(err)), n;

	if (rc != 0) {
		if (rc != -EINVAL || err[0] == '\0') {
			fuzz_fail("a key file was refused without a reason");
		}
		return 0;
	}
	if (k.id == KEY_ID_NODE || key_check_name(k.name) != 0 ||
	    key_check_caps(k.caps, k.bucket) != 0) {
		fuzz_fail("an invalid key was accepted");
	}
	n = key_file_format(&k, text, sizeof(text));
	if (n <= 0 || key_file_parse(text, (size_t)n, "again", &back, err, sizeof(err)) != 0 ||
	    memcmp(&k, &back, sizeof(k)) != 0) {
		fuzz_fail("a key does not read back as it was written");
	}
	return 0;
}
