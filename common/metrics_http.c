/* metrics_http.c: the /metrics endpoint and its client (metrics_http.h),
 * over nng's supplemental HTTP server and client.  nng translates to a
 * negative errno here and nowhere else. */
#include "metrics_http.h"

#include <errno.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mx_http {
	nng_http_server *srv;
	nng_url *url;
};

/* The exposition format's registered content type. */
#define MX_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static int nng_to_errno(int rv)
{
	switch (rv) {
	case 0:
		return 0;
	case NNG_EADDRINUSE:
		return -EADDRINUSE;
	case NNG_EADDRINVAL:
	case NNG_EINVAL:
		return -EINVAL;
	case NNG_ECONNREFUSED:
		return -ECONNREFUSED;
	case NNG_ETIMEDOUT:
		return -ETIMEDOUT;
	case NNG_ENOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* HOST:PORT -> http://HOST:PORT/metrics, refusing anything else. */
static int parse_addr(const char *addr, nng_url **url, char *err, size_t errlen)
{
	char buf[300];
	const char *colon = strrchr(addr, ':');

	if (colon == NULL || colon == addr || colon[1] == '\0' ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) || strchr(addr, '/') != NULL) {
		snprintf(err, errlen, "metrics address '%s' is not HOST:PORT", addr);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "http://%s/metrics", addr);
	if (nng_url_parse(url, buf) != 0) {
		snprintf(err, errlen, "metrics address '%s' is not HOST:PORT", addr);
		return -EINVAL;
	}
	return 0;
}

static void metrics_cb(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	struct mx_registry *r = nng_http_handler_get_data(h);
	nng_http_res *res = NULL;
	size_t len = 0;
	char *text = mx_expose(r, &len);
	int rv;

	if (text == NULL) {
		nng_aio_finish(aio, NNG_ENOMEM); /* nng answers 500 */
		return;
	}
	rv = nng_http_res_alloc(&res);
	if (rv == 0) {
		rv = nng_http_res_set_header(res, "Content-Type", MX_CONTENT_TYPE);
	}
	if (rv == 0) {
		rv = nng_http_res_copy_data(res, text, len);
	}
	free(text);
	if (rv != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

int mx_http_start(struct mx_registry *r, const char *addr, struct mx_http **out, char *err,
		  size_t errlen)
{
	struct mx_http *m = calloc(1, sizeof(*m));
	nng_http_handler *h = NULL;
	int rv, rc;

	if (m == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if ((rc = parse_addr(addr, &m->url, err, errlen)) != 0) {
		free(m);
		return rc;
	}
	rv = nng_http_server_hold(&m->srv, m->url);
	if (rv == 0) {
		rv = nng_http_handler_alloc(&h, "/metrics", metrics_cb);
	}
	if (rv == 0) {
		rv = nng_http_handler_set_data(h, r, NULL);
	}
	if (rv == 0) {
		rv = nng_http_server_add_handler(m->srv, h);
		if (rv != 0) {
			nng_http_handler_free(h);
		}
	} else if (h != NULL) {
		nng_http_handler_free(h);
	}
	if (rv == 0) {
		rv = nng_http_server_start(m->srv);
	}
	if (rv != 0) {
		rc = nng_to_errno(rv);
		if (rc == -EADDRINUSE) {
			snprintf(err, errlen, "metrics address %s: address already in use", addr);
		} else {
			snprintf(err, errlen, "metrics address %s: %s", addr, nng_strerror(rv));
		}
		if (m->srv != NULL) {
			nng_http_server_release(m->srv);
		}
		nng_url_free(m->url);
		free(m);
		return rc == -EIO ? -EADDRNOTAVAIL : rc;
	}
	*out = m;
	return 0;
}

void mx_http_stop(struct mx_http *m)
{
	if (m == NULL) {
		return;
	}
	nng_http_server_stop(m->srv);
	nng_http_server_release(m->srv);
	nng_url_free(m->url);
	free(m);
}

int mx_http_get(const char *addr, int timeout_ms, char **body, size_t *len, char *err,
		size_t errlen)
{
	nng_url *url = NULL;
	nng_http_client *cl = NULL;
	nng_http_req *req = NULL;
	nng_http_res *res = NULL;
	nng_aio *aio = NULL;
	void *data;
	size_t n;
	int rv, rc;

	if ((rc = parse_addr(addr, &url, err, errlen)) != 0) {
		return rc;
	}
	rv = nng_http_client_alloc(&cl, url);
	if (rv == 0) {
		rv = nng_http_req_alloc(&req, url);
	}
	if (rv == 0) {
		rv = nng_http_res_alloc(&res);
	}
	if (rv == 0) {
		rv = nng_aio_alloc(&aio, NULL, NULL);
	}
	if (rv == 0) {
		nng_aio_set_timeout(aio, timeout_ms);
		nng_http_client_transact(cl, req, res, aio);
		nng_aio_wait(aio);
		rv = nng_aio_result(aio);
	}
	rc = nng_to_errno(rv);
	if (rv != 0) {
		snprintf(err, errlen, "http://%s/metrics: %s", addr, nng_strerror(rv));
	} else if (nng_http_res_get_status(res) != 200) {
		snprintf(err, errlen, "http://%s/metrics: HTTP status %u", addr,
			 nng_http_res_get_status(res));
		rc = -EPROTO;
	} else {
		nng_http_res_get_data(res, &data, &n);
		*body = malloc(n + 1);
		if (*body == NULL) {
			snprintf(err, errlen, "out of memory");
			rc = -ENOMEM;
		} else {
			memcpy(*body, data, n);
			(*body)[n] = '\0';
			*len = n;
		}
	}
	if (aio != NULL) {
		nng_aio_free(aio);
	}
	if (res != NULL) {
		nng_http_res_free(res);
	}
	if (req != NULL) {
		nng_http_req_free(req);
	}
	if (cl != NULL) {
		nng_http_client_free(cl);
	}
	nng_url_free(url);
	return rc;
}
