/* vfs_metrics.c: the mount's metrics below the FUSE layer: block upload
 * and download times and bytes (observed by store.c), and at scrape time
 * the caches' counters, dirty bytes, retries and timeouts, each read
 * from the module that owns it under that module's own lock. */
#include <errno.h>
#include <stdio.h>

#include "../common/client.h"
#include "../common/metrics.h"
#include "diskcache.h"
#include "vfs_i.h"

/* One family of the caches: memory always, disk when the mount has one. */
static void cache_family(struct mx_out *o, const char *name, const char *help, enum mx_type t,
			 double memory, const struct dc_stats *ds, double disk)
{
	mx_out_family(o, name, help, t);
	mx_out_sample(o, name, "cache=\"memory\"", memory);
	if (ds != NULL) {
		mx_out_sample(o, name, "cache=\"disk\"", disk);
	}
}

static void collect(void *arg, struct mx_out *o)
{
	struct vfs *v = arg;
	struct rc_stats rs;
	struct cl_stats cs;
	struct mc_stats ms;
	struct dc_stats dstat = {0}, *ds = NULL;

	rc_get_stats(v->rc, &rs);
	cl_get_stats(v->cl, &cs);
	if (v->st.dc != NULL) {
		dc_get_stats(v->st.dc, &dstat);
		ds = &dstat;
	}
	cache_family(o, "objfs_mount_cache_hits_total",
		     "Block lookups served by a cache, memory or disk.", MX_COUNTER,
		     (double)rs.hits, ds, (double)dstat.hits);
	cache_family(o, "objfs_mount_cache_misses_total", "Block lookups a cache could not serve.",
		     MX_COUNTER, (double)rs.misses, ds, (double)dstat.misses);
	cache_family(o, "objfs_mount_cache_evictions_total",
		     "Blocks dropped from a cache to fit its bound.", MX_COUNTER,
		     (double)rs.evictions, ds, (double)dstat.evictions);
	cache_family(o, "objfs_mount_cache_bytes", "Bytes a cache holds now.", MX_GAUGE,
		     (double)rs.cached, ds, (double)dstat.bytes);
	cache_family(o, "objfs_mount_cache_bound_bytes",
		     "Bytes a cache may hold now (memory: between cache_min_mb and cache_mb).",
		     MX_GAUGE, (double)rs.policy.bound_bytes, ds, (double)dstat.policy.bound_bytes);
	cache_family(o, "objfs_mount_cache_frequent_bytes",
		     "Bytes of blocks read more than once (ARC's T2), which scans do not evict.",
		     MX_GAUGE, (double)rs.policy.t2_bytes, ds, (double)dstat.policy.t2_bytes);
	mx_out_family(o, "objfs_mount_cache_ghost_hits_total",
		      "Misses on blocks evicted lately, by the list they left (b1: read once, b2: "
		      "read again); they adapt ARC and grow the memory cache.",
		      MX_COUNTER);
	mx_out_sample(o, "objfs_mount_cache_ghost_hits_total", "cache=\"memory\",list=\"b1\"",
		      (double)rs.policy.ghost_hits[0]);
	mx_out_sample(o, "objfs_mount_cache_ghost_hits_total", "cache=\"memory\",list=\"b2\"",
		      (double)rs.policy.ghost_hits[1]);
	if (ds != NULL) {
		mx_out_sample(o, "objfs_mount_cache_ghost_hits_total", "cache=\"disk\",list=\"b1\"",
			      (double)dstat.policy.ghost_hits[0]);
		mx_out_sample(o, "objfs_mount_cache_ghost_hits_total", "cache=\"disk\",list=\"b2\"",
			      (double)dstat.policy.ghost_hits[1]);
	}
	mx_out_family(o, "objfs_mount_readahead_window_changes_total",
		      "Read-ahead windows doubled (a reader entered a new chunk in order) or "
		      "collapsed (it jumped).",
		      MX_COUNTER);
	mx_out_sample(o, "objfs_mount_readahead_window_changes_total", "change=\"grow\"",
		      (double)rs.ra_grows);
	mx_out_sample(o, "objfs_mount_readahead_window_changes_total", "change=\"collapse\"",
		      (double)rs.ra_collapses);
	mx_out_family(o, "objfs_mount_readahead_blocks_total",
		      "Blocks fetched by read-ahead before any read asked for them.", MX_COUNTER);
	mx_out_sample(o, "objfs_mount_readahead_blocks_total", NULL, (double)rs.prefetched);
	mx_out_family(o, "objfs_mount_readahead_hits_total",
		      "Reads served by a block that read-ahead had fetched.", MX_COUNTER);
	mx_out_sample(o, "objfs_mount_readahead_hits_total", NULL, (double)rs.readahead_hits);
	mx_out_family(o, "objfs_mount_dirty_bytes",
		      "Write-back memory held by data not yet committed to the cluster.", MX_GAUGE);
	mx_out_sample(o, "objfs_mount_dirty_bytes", NULL, (double)fb_ctx_dirty_bytes(v->fbc));
	mx_out_family(o, "objfs_mount_retries_total",
		      "Requests to nodes resent after a timeout or a dropped connection.",
		      MX_COUNTER);
	mx_out_sample(o, "objfs_mount_retries_total", NULL, (double)cs.retries);
	mx_out_family(o, "objfs_mount_timeouts_total", "Requests to nodes that timed out.",
		      MX_COUNTER);
	mx_out_sample(o, "objfs_mount_timeouts_total", NULL, (double)cs.timeouts);
	mx_out_family(o, "objfs_mount_cluster_calls_total",
		      "Calls the mount made to the cluster, by kind.", MX_COUNTER);
	mx_out_sample(o, "objfs_mount_cluster_calls_total", "kind=\"query\"",
		      (double)store_read_count(&v->st.queries));
	mx_out_sample(o, "objfs_mount_cluster_calls_total", "kind=\"commit\"",
		      (double)store_read_count(&v->st.commits));
	mc_get_stats(v->st.mc, &ms);
	mx_out_family(o, "objfs_mount_commit_requests_total",
		      "Requests that carried metadata records to the shard (records of "
		      "concurrent threads travel together in one).",
		      MX_COUNTER);
	mx_out_sample(o, "objfs_mount_commit_requests_total", NULL, (double)ms.calls);
	mx_out_family(o, "objfs_mount_readdir_pages_total",
		      "Directory pages fetched from the shard (up to 1024 entries each).",
		      MX_COUNTER);
	mx_out_sample(o, "objfs_mount_readdir_pages_total", NULL,
		      (double)store_read_count(&v->st.readdir_pages));
	mx_out_family(o, "objfs_mount_readdir_seeks_total",
		      "Directory pages fetched at a position outside the handle's page "
		      "(a seekdir): one request each, at any depth.",
		      MX_COUNTER);
	mx_out_sample(o, "objfs_mount_readdir_seeks_total", NULL,
		      (double)store_read_count(&v->st.readdir_seeks));
}

int vfs_set_metrics(struct vfs *v, struct mx_registry *r)
{
	static const char bytes_help[] = "Block bytes moved between the mount and the cluster.";

	if (r == NULL) {
		return 0;
	}
	v->st.up_ns = mx_histogram(r, "objfs_mount_block_upload_duration_seconds",
				   "Time to store one erasure-coded block (every fragment).", NULL,
				   &mx_buckets_latency);
	v->st.down_ns = mx_histogram(r, "objfs_mount_block_download_duration_seconds",
				     "Time to read one block from the cluster (cache misses).",
				     NULL, &mx_buckets_latency);
	v->st.up_bytes =
	    mx_counter(r, "objfs_mount_block_bytes_total", bytes_help, "direction=\"upload\"");
	v->st.down_bytes =
	    mx_counter(r, "objfs_mount_block_bytes_total", bytes_help, "direction=\"download\"");
	if (v->st.up_ns == NULL || v->st.down_ns == NULL || v->st.up_bytes == NULL ||
	    v->st.down_bytes == NULL) {
		return -ENOMEM;
	}
	if (store_metrics(&v->st, r) != 0) {
		return -ENOMEM;
	}
	return mx_add_collector(r, collect, v, NULL);
}
