/* node_metrics.c: the registry and /metrics endpoint of objfs-node (see
 * node_metrics.h), and the fragment store's scrape-time gauges.  Runs at
 * start-up and shutdown on the main thread; collectors on nng's HTTP
 * threads, reading only what the stores publish under their own locks. */
#include "node_metrics.h"

#include "objfs_build.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "../common/metrics.h"
#include "../common/metrics_http.h"
#include "../common/metrics_proc.h"

struct node_metrics {
	struct mx_registry *r;
	struct mx_http *http;
};

static void frag_collect(void *arg, struct mx_out *o)
{
	struct node_ctx *nc = arg;
	struct frag_usage u;

	frag_usage(nc->fs, &u);
	mx_out_family(o, "objfs_fragstore_fragments", "Fragments stored on this node.", MX_GAUGE);
	mx_out_sample(o, "objfs_fragstore_fragments", NULL, (double)u.count);
	mx_out_family(o, "objfs_fragstore_bytes_used", "Bytes of fragment files, headers included.",
		      MX_GAUGE);
	mx_out_sample(o, "objfs_fragstore_bytes_used", NULL, (double)u.bytes);
	mx_out_family(o, "objfs_fragstore_bytes_free", "Bytes the node may still store.", MX_GAUGE);
	mx_out_sample(o, "objfs_fragstore_bytes_free", NULL, (double)u.disk_free);
	mx_out_family(o, "objfs_fragstore_bytes_capacity",
		      "Bytes the node may use: its capacity, or its file system's size.", MX_GAUGE);
	mx_out_sample(o, "objfs_fragstore_bytes_capacity", NULL, (double)u.disk_total);
	mx_out_family(o, "objfs_fragstore_checksum_errors_total",
		      "Fragments read back from disk that failed their XXH3 check.", MX_COUNTER);
	mx_out_sample(o, "objfs_fragstore_checksum_errors_total", NULL, (double)u.checksum_errors);
	mx_out_family(o, "objfs_fragstore_quarantined_total",
		      "Damaged fragments moved to quarantine/ since the node started.", MX_COUNTER);
	mx_out_sample(o, "objfs_fragstore_quarantined_total", NULL, (double)u.quarantined);
}

int node_metrics_start(const char *addr, struct node_metrics **out, char *err, size_t errlen)
{
	struct node_metrics *nm;
	int rc;

	*out = NULL;
	if (addr == NULL || addr[0] == '\0') {
		return 0;
	}
	nm = calloc(1, sizeof(*nm));
	if (nm == NULL || (nm->r = mx_create()) == NULL ||
	    mx_add_process_collector(nm->r, "objfs-node", PACKAGE_VERSION) != 0) {
		snprintf(err, errlen, "out of memory");
		node_metrics_stop(nm);
		return -ENOMEM;
	}
	if ((rc = mx_http_start(nm->r, addr, &nm->http, err, errlen)) != 0) {
		node_metrics_stop(nm);
		return rc;
	}
	*out = nm;
	return 0;
}

struct mx_registry *node_metrics_registry(struct node_metrics *nm)
{
	return nm != NULL ? nm->r : NULL;
}

int node_metrics_attach(struct node_metrics *nm, struct node_ctx *nc)
{
	int rc;

	if (nm == NULL) {
		return 0;
	}
	rc = mx_add_collector(nm->r, frag_collect, nc, NULL);
	if (rc == 0) {
		rc = mx_add_collector(nm->r, msvc_collect, nc->msvc, NULL);
	}
	return rc;
}

void node_metrics_quiesce(struct node_metrics *nm)
{
	if (nm != NULL) {
		mx_http_stop(nm->http);
		nm->http = NULL;
	}
}

void node_metrics_stop(struct node_metrics *nm)
{
	if (nm == NULL) {
		return;
	}
	mx_http_stop(nm->http);
	mx_destroy(nm->r);
	free(nm);
}
