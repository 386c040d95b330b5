/* err.c: descriptions and errno mapping for the project error codes. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const obj_err_names[] = {
    [OBJ_ECHECKSUM - OBJ_EBASE] = "checksum mismatch",
    [OBJ_EAUTH - OBJ_EBASE] = "message not authenticated",
    [OBJ_EPROTO - OBJ_EBASE] = "malformed protocol message",
    [OBJ_EQUORUM - OBJ_EBASE] = "too few nodes answered",
    [OBJ_ECONFIG - OBJ_EBASE] = "bad configuration",
    [OBJ_EMAJORITY - OBJ_EBASE] = "metadata majority unavailable",
};

const char *obj_strerror(int err)
{
	if (err < 0) {
		err = -err;
	}
	if (err > OBJ_EBASE && err < OBJ_ELAST) {
		return obj_err_names[err - OBJ_EBASE];
	}
	return strerror(err);
}

int obj_errno(int err)
{
	if (err < 0) {
		err = -err;
	}
	switch (err) {
	case OBJ_ECHECKSUM:
	case OBJ_EQUORUM:
	case OBJ_EPROTO:
	/* EIO, not EAGAIN: open, stat and readdir are not expected to be
	 * retried by programs, and an outage of a majority is not brief. */
	case OBJ_EMAJORITY:
		return EIO;
	case OBJ_EAUTH:
		return EACCES;
	case OBJ_ECONFIG:
		return EINVAL;
	default:
		return err > 0 && err < OBJ_EBASE ? err : EIO;
	}
}

void obj_panic(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "objfs panic at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
