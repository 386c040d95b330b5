/* node_metrics.h: the metrics of objfs-node: the registry, the /metrics
 * endpoint at the node's metrics_addr, and the collectors read at scrape
 * time (fragment store usage, shards, process).  Requests are counted by
 * the server itself (server.c), fsyncs by the fragment store, proposals
 * by replication: this module only wires them to one registry. */
#ifndef OBJFS_NODE_METRICS_H
#define OBJFS_NODE_METRICS_H

#include <stddef.h>

#include "handlers.h"

struct node_metrics;

/* Creates the registry and serves it at addr (HOST:PORT).  Returns 0,
 * or -EADDRINUSE/-EINVAL/-ENOMEM with a message in err.  *out NULL and 0
 * when addr is empty (metrics off). */
int node_metrics_start(const char *addr, struct node_metrics **out, char *err, size_t errlen);
/* The registry, for srv_config.metrics and the stores (NULL when off). */
struct mx_registry *node_metrics_registry(struct node_metrics *nm);
/* Adds the scrape-time collectors of nc's fragment store and shards. */
int node_metrics_attach(struct node_metrics *nm, struct node_ctx *nc);
/* Stops serving: before the stores the collectors read close. */
void node_metrics_quiesce(struct node_metrics *nm);
/* Stops serving if still serving, and frees the registry: after every
 * thread that observes into it (server, replication, stores) stopped. */
void node_metrics_stop(struct node_metrics *nm);

#endif
