/* posix_check.h: what the files of posix_check share: the failure
 * reporters and the checks that live outside posix_check.c. */
#ifndef OBJFS_POSIX_CHECK_H
#define OBJFS_POSIX_CHECK_H

/* Record why the running check failed; both return -1. */
int failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int sysfail(const char *what);

int chk_file_handle(void);
int chk_direct_coherent(void);

#endif
