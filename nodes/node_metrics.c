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
#include "snap_stream.h"

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

static void snap_one(struct mx_out *o, const char *name, const char *help, enum mx_type t, double v)
{
	mx_out_family(o, name, help, t);
	mx_out_sample(o, name, NULL, v);
}

/* Shard snapshot copies taken, served and fetched (snap_stream.c). */
static void snap_collect(void *arg, struct mx_out *o)
{
	struct snap_stats s;

	(void)arg;
	snap_get_stats(&s);
	snap_one(o, "objfs_raft_snapshot_copies_total", "Shard snapshot copies this node took.",
		 MX_COUNTER, (double)s.taken);
	snap_one(o, "objfs_raft_snapshot_take_seconds", "Time the last snapshot copy took.",
		 MX_GAUGE, (double)s.take_ns_last / 1e9);
	snap_one(o, "objfs_raft_snapshot_take_bytes", "Size of the last snapshot copy taken.",
		 MX_GAUGE, (double)s.take_bytes_last);
	snap_one(o, "objfs_raft_snapshot_chunks_total",
		 "Snapshot chunks this node served to replicas installing a snapshot.", MX_COUNTER,
		 (double)s.chunks_sent);
	snap_one(o, "objfs_raft_snapshot_sent_bytes_total", "Snapshot bytes served.", MX_COUNTER,
		 (double)s.bytes_sent);
	snap_one(o, "objfs_raft_snapshot_chunks_received_total",
		 "Snapshot chunks this node fetched and checked.", MX_COUNTER,
		 (double)s.chunks_received);
	snap_one(o, "objfs_raft_snapshot_received_bytes_total", "Snapshot bytes fetched.",
		 MX_COUNTER, (double)s.bytes_received);
	snap_one(o, "objfs_raft_snapshot_chunk_errors_total",
		 "Snapshot chunks refused: a checksum or length that did not match.", MX_COUNTER,
		 (double)s.chunk_errors);
	snap_one(o, "objfs_raft_snapshot_resumes_total",
		 "Snapshot fetches resumed from a part file an earlier attempt left.", MX_COUNTER,
		 (double)s.resumes);
	snap_one(o, "objfs_raft_snapshot_fetches_total", "Snapshot fetches begun.", MX_COUNTER,
		 (double)s.fetches);
	snap_one(o, "objfs_raft_snapshot_fetch_seconds", "Time the last snapshot fetch took.",
		 MX_GAUGE, (double)s.fetch_ns_last / 1e9);
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
	if (rc == 0) {
		rc = mx_add_collector(nm->r, snap_collect, NULL, NULL);
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
