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
/* The same, and node i serves its metrics at 127.0.0.1:metrics_ports[i-1]
 * (metrics_addr; each port 1..65535, else -EINVAL), NULL for none. */
int dev_conf_write_metrics(FILE *f, size_t n, const char *dir, unsigned base_port,
			   const unsigned *metrics_ports);
/* Both, and TLS when tls_dir is not NULL: tls_ca = tls_dir/ca.crt and
 * each node's tls_cert/tls_key = tls_dir/nodeI.crt/.key (made by the
 * caller, dev_tls_make). */
int dev_conf_write_full(FILE *f, size_t n, const char *dir, unsigned base_port,
			const unsigned *metrics_ports, const char *tls_dir);

#endif
