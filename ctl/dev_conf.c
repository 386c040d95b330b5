/* dev_conf.c: writes the config of a local dev cluster.
 * The secret comes from rand_bytes and is wiped from memory once written;
 * nothing else here touches the system. */
#include "dev_conf.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "../common/config.h"
#include "../common/rand.h"

/* Bytes of getrandom output in a dev secret: 256 bits, written as 64 hex digits. */
#define DEV_SECRET_BYTES 32

int dev_conf_write(FILE *f, size_t n, const char *dir, unsigned base_port)
{
	return dev_conf_write_full(f, n, dir, base_port, NULL, NULL);
}

int dev_conf_write_metrics(FILE *f, size_t n, const char *dir, unsigned base_port,
			   const unsigned *metrics_ports)
{
	return dev_conf_write_full(f, n, dir, base_port, metrics_ports, NULL);
}

int dev_conf_write_full(FILE *f, size_t n, const char *dir, unsigned base_port,
			const unsigned *metrics_ports, const char *tls_dir)
{
	/* The keys written with a value; the others appear as commented
	 * defaults (the same list whatever is on: tls and metrics keys that
	 * are off are shown commented too). */
	static const char *const cluster_given[] = {"name",	  "secret", "ec_profile",
						    "free_grace", "tls_ca", NULL};
	static const char *const node_given[] = {"addr",     "zone",	"data_dir",
						 "tls_cert", "tls_key", NULL};
	static const char *const node_given_mx[] = {
	    "addr", "zone", "data_dir", "metrics_addr", "tls_cert", "tls_key", NULL};
	uint8_t raw[DEV_SECRET_BYTES];
	char hex[2 * DEV_SECRET_BYTES + 1];
	int rc;

	/* The file must load back: data_dir is absolute, quoted, one line. */
	for (size_t i = 0; metrics_ports != NULL && i < n; i++) {
		if (metrics_ports[i] == 0 || metrics_ports[i] > 65535) {
			return -EINVAL;
		}
	}
	if (n == 0 || n > CFG_MAX_NODES || dir == NULL || dir[0] != '/' ||
	    strpbrk(dir, "\n\r") != NULL || base_port == 0 || base_port + n - 1 > 65535) {
		return -EINVAL;
	}
	if (strlen(dir) + sizeof("/node256") > PATH_MAX ||
	    (tls_dir != NULL && strlen(tls_dir) + sizeof("/node256.key") > CFG_TLS_PATH_MAX)) {
		return -ENAMETOOLONG;
	}
	if (tls_dir != NULL && (tls_dir[0] != '/' || strpbrk(tls_dir, "\n\r\"") != NULL)) {
		return -EINVAL;
	}
	rc = rand_bytes(raw, sizeof(raw));
	if (rc < 0) {
		return rc;
	}
	for (size_t i = 0; i < sizeof(raw); i++) {
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	}
	explicit_bzero(raw, sizeof(raw));

	fprintf(f,
		"# objfs.conf for a local development cluster of %zu nodes; see objfs.conf(5).\n"
		"# Lines starting with '#' show a key's built-in default.\n\n",
		n);
	fprintf(f, "[cluster]\nname = dev\n");
	fprintf(f, "# Generated; keep this file private.\nsecret = %s\n", hex);
	fprintf(f, "ec_profile = 4+2\n");
	/* A development cluster collects overwritten blocks within seconds;
	 * its clients are on this machine (the default is 120). */
	fprintf(f, "free_grace = 5\n");
	if (tls_dir != NULL) {
		fprintf(f, "tls_ca = \"%s/ca.crt\"\n", tls_dir);
	}
	cfg_write_defaults(f, "cluster", cluster_given);
	explicit_bzero(hex, sizeof(hex));
	for (size_t i = 1; i <= n; i++) {
		/* Three zones so that the default 4+2 spreads as it would on racks. */
		fprintf(f,
			"\n[node %zu]\naddr = tcp://127.0.0.1:%zu\nzone = z%zu\n"
			"data_dir = \"%s/node%zu\"\n",
			i, base_port + i - 1, (i - 1) % 3 + 1, dir, i);
		if (tls_dir != NULL) {
			fprintf(f, "tls_cert = \"%s/node%zu.crt\"\ntls_key = \"%s/node%zu.key\"\n",
				tls_dir, i, tls_dir, i);
		}
		if (metrics_ports != NULL) {
			fprintf(f, "metrics_addr = 127.0.0.1:%u\n", metrics_ports[i - 1]);
		}
		if (i == 1) {
			cfg_write_defaults(f, "node",
					   metrics_ports != NULL ? node_given_mx : node_given);
		}
	}
	if (fflush(f) != 0 || ferror(f)) {
		return -EIO;
	}
	return 0;
}
