/* tls.h: TLS for client-node and node-node requests, on nng's TLS
 * transport (tls+tcp://, mbedTLS underneath).  Turns a node's tcp://
 * address into its TLS form and builds the nng TLS configurations: a node
 * presents its certificate (tls_cert, tls_key), a client checks it against
 * the cluster's CA (tls_ca) and the host name of the node's address.
 * Clients present no certificate: who may do what is the job of keys
 * (proto/keys.h), not of TLS.  Caller's thread; no state. */
#ifndef OBJFS_TLS_H
#define OBJFS_TLS_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stddef.h>

#include "config.h"

/* True when the config turns TLS on (tls_ca set). */
static inline int tls_on(const struct cfg *c)
{
	return c->tls_ca[0] != '\0';
}

/* The URL to dial or listen on for addr ("tcp://H:P"): itself, or
 * "tls+tcp://H:P" with tls.  0 or -ENAMETOOLONG. */
int tls_url(const char *addr, int tls, char *out, size_t cap);

/* A server configuration presenting the certificate at cert with its key
 * at key (PEM files).  0 or a negative errno, with the reason in err. */
int tls_server_config(const char *cert, const char *key, nng_tls_config **out, char *err,
		      size_t errlen);
/* A client configuration trusting the PEM CA at ca and expecting a
 * certificate for host (the host of the node's address).  0 or -errno
 * with the reason in err. */
int tls_client_config(const char *ca, const char *host, nng_tls_config **out, char *err,
		      size_t errlen);

/* The host part of "tcp://H:P" into out ("" when malformed). */
void tls_host_of(const char *addr, char *out, size_t cap);

/* Why a TLS dial failed (nng_rv), for people, into buf: names the CA
 * (ca) when the handshake failed.  Returns buf. */
const char *tls_dial_error(int nng_rv, const char *ca, char *buf, size_t cap);

#endif
