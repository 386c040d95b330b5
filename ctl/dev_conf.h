/* dev_conf.h: the config file of a local dev cluster (`objfsctl dev up`).
 * Owns only the text it writes; the keys and their defaults are
 * common/config.c's table.  Never starts processes or opens sockets. */
#ifndef OBJFS_DEV_CONF_H
#define OBJFS_DEV_CONF_H

#include <stddef.h>
#include <stdio.h>

/* Writes to f the config of a cluster of n nodes (1..CFG_MAX_NODES) on
 * 127.0.0.1, node i listening on base_port + i - 1, in three zones, its
 * data under dir/nodeI (dir absolute, one line), with a fresh random
 * secret; every other key appears as a commented default.  Returns 0,
 * -EINVAL for bad arguments (nothing is written), -ENAMETOOLONG, the
 * error of rand_bytes, or -EIO if f fails. */
int dev_conf_write(FILE *f, size_t n, const char *dir, unsigned base_port);
/* The same with TLS when tls_dir is not NULL: tls_ca = tls_dir/ca.crt and
 * each node's tls_cert/tls_key = tls_dir/nodeI.crt/.key (made by the
 * caller, dev_tls_make). */
int dev_conf_write_tls(FILE *f, size_t n, const char *dir, unsigned base_port, const char *tls_dir);

#endif
