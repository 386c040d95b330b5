/* tls.c: nng TLS configurations of objfs (see tls.h). */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"

/* A PEM certificate chain or key is a few KiB. */
#define TLS_PEM_MAX (256u * 1024)

int tls_url(const char *addr, int tls, char *out, size_t cap)
{
	int n;

	if (!tls || strncmp(addr, "tcp://", 6) != 0) {
		n = snprintf(out, cap, "%s", addr);
	} else {
		n = snprintf(out, cap, "tls+%s", addr);
	}
	return n < 0 || (size_t)n >= cap ? -ENAMETOOLONG : 0;
}

void tls_host_of(const char *addr, char *out, size_t cap)
{
	const char *h = strstr(addr, "://"), *colon;
	size_t n;

	out[0] = '\0';
	if (h == NULL) {
		return;
	}
	h += 3;
	colon = strrchr(h, ':');
	n = colon != NULL ? (size_t)(colon - h) : strlen(h);
	if (n > 1 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (n < cap) {
		memcpy(out, h, n);
		out[n] = '\0';
	}
}

/* Reads a PEM file whole, NUL-terminated (mbedTLS wants the NUL). */
static char *read_pem(const char *path, char *err, size_t errlen, int *rc)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *buf;
	ssize_t n;

	if (fd < 0) {
		*rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(TLS_PEM_MAX + 1);
	n = buf != NULL ? fio_read_full(fd, buf, TLS_PEM_MAX + 1, FIO_CUR) : -ENOMEM;
	close(fd);
	if (n < 0 || (size_t)n > TLS_PEM_MAX) {
		*rc = n < 0 ? (int)n : -EFBIG;
		snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror((int)-n) : "too large");
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*rc = 0;
	return buf;
}

int tls_server_config(const char *cert, const char *key, nng_tls_config **out, char *err,
		      size_t errlen)
{
	nng_tls_config *tc = NULL;
	char *c = NULL, *k = NULL;
	int rc = 0, rv;

	c = read_pem(cert, err, errlen, &rc);
	if (c != NULL) {
		k = read_pem(key, err, errlen, &rc);
	}
	if (k == NULL) {
		free(c);
		return rc;
	}
	rv = nng_tls_config_alloc(&tc, NNG_TLS_MODE_SERVER);
	if (rv == 0) {
		rv = nng_tls_config_own_cert(tc, c, k, NULL);
		if (rv != 0) {
			snprintf(err, errlen, "TLS certificate %s with key %s: %s", cert, key,
				 nng_strerror(rv));
		}
	} else {
		snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
	}
	if (rv == 0) {
		/* Clients are not asked for certificates: keys say who they are. */
		rv = nng_tls_config_auth_mode(tc, NNG_TLS_AUTH_MODE_NONE);
	}
	memset(k, 0, strlen(k));
	free(k);
	free(c);
	if (rv != 0) {
		if (tc != NULL) {
			nng_tls_config_free(tc);
		}
		return -EINVAL;
	}
	*out = tc;
	return 0;
}

int tls_client_config(const char *ca, const char *host, nng_tls_config **out, char *err,
		      size_t errlen)
{
	nng_tls_config *tc = NULL;
	int rv = nng_tls_config_alloc(&tc, NNG_TLS_MODE_CLIENT);

	err[0] = '\0';
	if (rv == 0 && (rv = nng_tls_config_ca_file(tc, ca)) != 0) {
		snprintf(err, errlen, "tls_ca %s: %s", ca, nng_strerror(rv));
	}
	if (rv == 0) {
		rv = nng_tls_config_server_name(tc, host);
	}
	if (rv == 0) {
		rv = nng_tls_config_auth_mode(tc, NNG_TLS_AUTH_MODE_REQUIRED);
	}
	if (rv != 0) {
		if (err[0] == '\0') {
			snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
		}
		if (tc != NULL) {
			nng_tls_config_free(tc);
		}
		return rv == NNG_ENOMEM ? -ENOMEM : -EINVAL;
	}
	*out = tc;
	return 0;
}

const char *tls_dial_error(int rv, const char *ca, char *buf, size_t cap)
{
	switch (rv) {
	case NNG_EPEERAUTH:
	case NNG_ECRYPTO:
		/* mbedTLS reports an untrusted certificate as a failed
		 * handshake (NNG_ECRYPTO), like a peer without TLS. */
		snprintf(buf, cap,
			 "TLS handshake failed: the node's certificate is not signed by the CA "
			 "of tls_ca (%s) or not issued for its address, or the node does not "
			 "speak TLS",
			 ca);
		return buf;
	default:
		snprintf(buf, cap, "%s", nng_strerror(rv));
		return buf;
	}
}
