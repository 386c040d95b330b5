/* fuzz_config.c: the configuration file parser (common/config.c), fed
 * the input as the text of an objfs.conf, and a mount option line
 * ("name=value,...") as objfs -o passes them.  Every refusal must come
 * with a message; nothing may crash or leak. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/config.h"
#include "fuzz.h"

static char path[4200];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	snprintf(path, sizeof(path), "%s/objfs.conf", fuzz_scratch());
	return 0;
}

/* Each "name=value" of a comma-separated option line, as objfs -o. */
static void mount_opts(char *line)
{
	struct cfg_mount m;
	char *save = NULL;

	cfg_mount_defaults(&m);
	for (char *opt = strtok_r(line, ",", &save); opt != NULL;
	     opt = strtok_r(NULL, ",", &save)) {
		char why[256] = "";
		char *eq = strchr(opt, '=');
		int rc;

		if (eq == NULL) {
			continue;
		}
		*eq = '\0';
		rc = cfg_mount_set(&m, opt, eq + 1, why, sizeof(why));
		if (rc < 0 && rc != -ENOENT && why[0] == '\0') {
			fuzz_fail("a mount option was refused without a reason");
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct cfg *c;
	char err[512] = "";
	int rc;

	c = calloc(1, sizeof(*c));
	if (text == NULL || c == NULL) {
		fuzz_fail("out of memory");
	}
	memcpy(text, data, size);
	text[size] = '\0';
	rc = cfg_load_string(text, "fuzz.conf", c, err, sizeof(err));
	if (rc < 0 && err[0] == '\0') {
		fuzz_fail("a config was refused without a message");
	}
	/* The same text from a file: the reading path of objfs-node. */
	if (fuzz_write_file(path, data, size) == 0) {
		char err2[512] = "";
		int rc2 = cfg_load_file(path, c, err2, sizeof(err2));

		/* A NUL ends the text in memory; in a file it is refused. */
		if (rc2 != rc && memchr(data, '\0', size) == NULL) {
			fuzz_fail("a config file and the same text in memory disagree");
		}
	}
	mount_opts(text);
	free(c);
	free(text);
	return 0;
}
