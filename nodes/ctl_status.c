/* ctl_status.c: objfsctl status: one PING to every node, in parallel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/client.h"
#include "../common/err.h"
#include "ctl.h"

/* A node that does not answer within this is shown as down. */
#define STATUS_TIMEOUT_MS 2000

int ctl_cmd_status(struct ctl *c, int argc, char **argv)
{
	struct cl *cl;
	struct cl_req *reqs;
	size_t up = 0;
	int rc;

	if (ctl_is_help(argc, argv)) {
		printf("Usage: objfsctl status\n"
		       "Ask every node of the cluster for its state and print one line per node:\n"
		       "id, address, zone, up or down, disk used and free, fragment count, and\n"
		       "the counts of refused (unauthenticated or malformed) requests.\n"
		       "Exit status 0 when every node is up, 1 otherwise.\n");
		return CTL_OK;
	}
	if (argc != 1) {
		fprintf(stderr, "Usage: objfsctl status\n");
		return CTL_USAGE;
	}
	if (ctl_load(c) != CTL_OK) {
		return CTL_FAIL;
	}
	if ((rc = cl_open(&c->cfg, &cl)) != 0) {
		fprintf(stderr, "objfsctl status: %s\n", obj_strerror(rc));
		return CTL_FAIL;
	}
	reqs = calloc(c->cfg.n_nodes, sizeof(*reqs));
	if (reqs == NULL) {
		cl_close(cl);
		return CTL_FAIL;
	}
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		reqs[i].node = i;
		reqs[i].type = MSG_PING;
	}
	cl_run(cl, reqs, c->cfg.n_nodes, STATUS_TIMEOUT_MS);
	printf("%-4s %-24s %-10s %-5s %10s %10s %10s %8s %8s\n", "ID", "ADDRESS", "ZONE", "STATE",
	       "USED", "FREE", "FRAGMENTS", "AUTHFAIL", "BADREQ");
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		const struct cfg_node *n = &c->cfg.nodes[i];
		struct node_status st;
		struct rd rd;
		char used[32], avail[32];

		rd_init(&rd, NULL, 0);
		if (reqs[i].status == 0) {
			rd_init(&rd, reqs[i].reply, reqs[i].reply_len);
			msg_get_node_status(&rd, &st);
		}
		if (reqs[i].status != 0 || !rd_done(&rd)) {
			printf("%-4u %-24s %-10s %-5s %10s %10s %10s %8s %8s  (%s)\n", n->id, n->addr,
			       n->zone, "down", "-", "-", "-", "-", "-",
			       reqs[i].status ? obj_strerror(reqs[i].status) : "bad reply");
			cl_req_release(&reqs[i]);
			continue;
		}
		up++;
		printf("%-4u %-24s %-10s %-5s %10s %10s %10llu %8llu %8llu\n", n->id, n->addr,
		       st.zone, "up", ctl_human(st.frag_bytes, used, sizeof(used)),
		       ctl_human(st.disk_free, avail, sizeof(avail)),
		       (unsigned long long)st.frag_count, (unsigned long long)st.auth_failures,
		       (unsigned long long)st.bad_requests);
		cl_req_release(&reqs[i]);
	}
	printf("%zu of %zu nodes up\n", up, c->cfg.n_nodes);
	free(reqs);
	cl_close(cl);
	return up == c->cfg.n_nodes ? CTL_OK : CTL_FAIL;
}
