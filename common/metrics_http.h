/* metrics_http.h: GET /metrics over HTTP, served and fetched with nng's
 * HTTP server and client (no HTTP code of our own).
 * The server answers on nng's threads with the registry's exposition;
 * it never blocks on anything but the registry's mutex. */
#ifndef OBJFS_METRICS_HTTP_H
#define OBJFS_METRICS_HTTP_H

#include <stddef.h>

#include "metrics.h"

struct mx_http;

/* Serves r at http://ADDR/metrics, ADDR being HOST:PORT.  Returns 0,
 * -EADDRINUSE (another process has the port), -EINVAL (not HOST:PORT) or
 * -EADDRNOTAVAIL / -ENOMEM, with a message naming the address in err.
 * r must outlive the server. */
int mx_http_start(struct mx_registry *r, const char *addr, struct mx_http **out, char *err,
		  size_t errlen);
/* Stops serving (requests in progress finish first) and frees h. */
void mx_http_stop(struct mx_http *h);

/* Fetches http://ADDR/metrics within timeout_ms.  On success *body is a
 * malloc'd NUL-terminated copy of the text (the caller frees it) and 0 is
 * returned; else -ECONNREFUSED, -ETIMEDOUT, -EPROTO (an HTTP status other
 * than 200), -EINVAL or -EIO, with a message in err. */
int mx_http_get(const char *addr, int timeout_ms, char **body, size_t *len, char *err,
		size_t errlen);

#endif
