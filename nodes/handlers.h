/* handlers.h: what objfs-node does with each authenticated request.
 * Decodes the body (every length checked, trailing bytes refused), calls
 * the fragment store or the metadata service, encodes the reply.  Runs
 * on the server's queue threads; holds no locks of its own. */
#ifndef OBJFS_HANDLERS_H
#define OBJFS_HANDLERS_H

#include <stdint.h>

#include "fragstore.h"
#include "meta_service.h"
#include "scrub.h"
#include "server.h"
#include "usage.h"

struct node_ctx {
	uint32_t node_id;
	const char *zone;
	struct fragstore *fs;
	struct msvc *msvc;   /* metadata shards served here */
	struct server *srv;  /* for PING statistics; set after srv_start */
	struct usage *usage; /* usage history; NULL answers USAGE with none */
	struct scrub *scrub; /* NULL: SCRUB answers -ENOTSUP */
	uint64_t start_ms;
};

/* usage_probe_fn for objfs-node; arg is a struct node_ctx. */
void node_usage_probe(void *arg, struct usage_sample *s);

/* srv_route_fn for objfs-node: which server queue runs a request type. */
enum srv_pool node_route(void *arg, uint8_t type);
/* srv_handler_fn for objfs-node; arg is a struct node_ctx. */
int node_handle(void *arg, const struct frame_hdr *h, const uint8_t *body, struct srv_reply *out,
		char *err, size_t errlen);

#endif
