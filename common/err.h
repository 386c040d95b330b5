/* err.h: the one error convention of objfs.
 * Every function that can fail returns 0 (or a count) on success and a
 * negative errno on failure.  Foreign codes (nng, SQLite, ISA-L) are
 * translated once, in the module that wraps the library.  This header owns
 * the few project-specific codes and the panic for impossible states. */
#ifndef OBJFS_ERR_H
#define OBJFS_ERR_H

#include <errno.h>

/* Project codes live above the errno range so they never collide.  They
 * are mapped to a POSIX errno (obj_errno) before reaching a FUSE reply. */
enum {
	OBJ_EBASE = 4096,
	OBJ_ECHECKSUM, /* stored data failed its XXH3 check */
	OBJ_EAUTH,     /* message not authenticated (bad MAC, replay, skew) */
	OBJ_EPROTO,    /* malformed or unknown message */
	OBJ_EQUORUM,   /* too few nodes answered to meet the quorum */
	OBJ_ECONFIG,   /* configuration rejected */
	OBJ_EMAJORITY, /* a replica without a metadata majority cannot prove the answer */
	OBJ_ELAST
};

/* Returns a static description of a negative (or positive) error code. */
const char *obj_strerror(int err);

/* Maps a negative project or errno code to the positive POSIX errno a
 * program expects (EIO for checksum and quorum failures). */
int obj_errno(int err);

/* For states the code proves impossible: prints file:line and aborts.
 * Never used for input from disk or the network. */
#define OBJ_PANIC(...) obj_panic(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void obj_panic(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define OBJ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
