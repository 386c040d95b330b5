/* ctl_drain.c: fragments of objfsctl node out/in (see ctl_drain.h), over
 * the block walk automatic repair uses (common/repair_walk.c). */
#include "ctl_drain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/blockio.h"
#include "../common/err.h"
#include "../common/gc.h"
#include "../common/meta_client.h"
#include "../common/repair_walk.h"
#include "ctl_maint.h"

struct drain_progress {
	struct ctl_progress bar;
	uint64_t total;
};

/* Records the node's state in the cluster map (the catalog), which tells
 * the catalog leader's automatic repair: out, rebuild elsewhere and keep
 * the sweep from the drained copies; in, check it and sweep. */
static int record(struct objc *oc, uint32_t id, int out)
{
	struct meta_op op = {.type = MOP_NODE_STATE, .ino = id};
	struct meta_result res;
	struct mc *mc;
	int rc = mc_open(objc_cl(oc), "", &mc);

	op.mode = out ? META_NODE_OUT : META_NODE_UP;
	if (rc == 0) {
		rc = mc_op(mc, &op, &res);
		mc_close(mc);
	}
	return rc;
}

int ctl_nodes_out(struct ctl *c, struct objc *oc, uint8_t *out)
{
	struct meta_node_row *rows = calloc(META_NODE_MAP_MAX, sizeof(*rows));
	struct mc *mc = NULL;
	int n = rows == NULL ? -ENOMEM : mc_open(objc_cl(oc), "", &mc), count = 0;

	memset(out, 0, c->cfg.n_nodes);
	if (n == 0) {
		n = mc_node_map(mc, rows, META_NODE_MAP_MAX);
		mc_close(mc);
	}
	for (int i = 0; i < n; i++) {
		for (size_t j = 0; j < c->cfg.n_nodes; j++) {
			if (c->cfg.nodes[j].id == rows[i].id && rows[i].state == META_NODE_OUT) {
				out[j] = 1;
				count++;
			}
		}
	}
	free(rows);
	return n < 0 ? n : count;
}

static int show(void *arg, const struct rw_stats *st, uint64_t bytes)
{
	struct drain_progress *p = arg;
	char what[96];

	(void)bytes;
	snprintf(what, sizeof(what), "%llu of %llu blocks, %llu rebuilt",
		 (unsigned long long)st->concerned, (unsigned long long)p->total,
		 (unsigned long long)st->rebuilt);
	ctl_progress_show(&p->bar, st->concerned, p->total, what);
	return 0;
}

int ctl_drain(struct ctl *c, struct jw *w, size_t self, int out)
{
	uint32_t id = c->cfg.nodes[self].id;
	uint8_t *role = calloc(c->cfg.n_nodes, 1);
	struct drain_progress p;
	struct rw_opts o = {.role = role, .count_only = 1};
	struct rw_stats st = {0};
	struct gc_stats gs = {0};
	struct objc *oc = NULL;
	int rc, grc = 0;

	if (role == NULL) {
		return -ENOMEM;
	}
	if (ctl_connect(c, &oc) != CTL_OK) {
		free(role);
		return -EHOSTDOWN;
	}
	/* out: the node's fragments are taken as lost and rebuilt elsewhere
	 * (a copy found elsewhere is enough); in: its home copies are read
	 * and rewritten where missing.  Every other node is trusted. */
	memset(role, BLK_NODE_TRUST, c->cfg.n_nodes);
	role[self] = out ? BLK_NODE_GONE : BLK_NODE_CHECK;
	ctl_progress_init(&p.bar, w != NULL);
	if ((rc = record(oc, id, out)) != 0) {
		fprintf(stderr,
			"objfsctl node: cannot record node %u as %s in the cluster map: %s\n", id,
			out ? "out" : "in", obj_strerror(rc));
	} else {
		rc = rw_run(oc, &o, &st);
	}
	if (rc == 0) {
		p.total = st.concerned;
		o.count_only = 0;
		o.each = show;
		o.arg = &p;
		rc = rw_run(oc, &o, &st);
		ctl_progress_end(&p.bar);
	}
	if (rc == 0 && st.rc != 0) {
		rc = st.rc;
	}
	if (rc == 0 && !out) {
		/* The copies that stood in for the node's fragments are surplus
		 * now; the GC removes those older than gc_grace. */
		struct gc_opts go = {.grace_s = (uint32_t)c->cfg.gc_grace_s, .out = role};

		/* Other nodes may be out: their stand-ins stay.  (role is
		 * free again: the walks are done.) */
		grc = ctl_nodes_out(c, oc, role);
		grc = grc < 0 ? grc : gc_run(oc, &go, &gs);
	}
	if (w != NULL) {
		jw_obj(w, "fragments");
		jw_u64(w, "blocks", st.concerned);
		jw_u64(w, "rebuilt", st.rebuilt);
		jw_u64(w, "bytes", st.bytes);
		if (!out) {
			jw_u64(w, "surplus_deleted", grc == 0 ? gs.deleted : 0);
			jw_u64(w, "surplus_kept", grc == 0 ? gs.young : 0);
		}
		jw_str(w, "result", rc == 0 ? "done" : obj_strerror(rc));
		jw_end(w);
		if (out) {
			jw_bool(w, "removable", rc == 0);
		}
	} else {
		printf("  fragments: %llu blocks with a fragment on node %u, %llu rebuilt (%llu "
		       "bytes) "
		       "%s: %s\n",
		       (unsigned long long)st.concerned, id, (unsigned long long)st.rebuilt,
		       (unsigned long long)st.bytes, out ? "on other nodes" : "on it",
		       rc == 0 ? "done" : obj_strerror(rc));
		if (!out && grc == 0) {
			printf("  surplus copies: %llu deleted, %llu kept until they are gc_grace "
			       "old\n",
			       (unsigned long long)gs.deleted, (unsigned long long)gs.young);
		}
		if (out && rc == 0) {
			printf("node %u can be removed: no block needs it\n", id);
		} else if (out) {
			printf(
			    "node %u must not be removed yet: run 'objfsctl node out %u' again\n",
			    id, id);
		}
	}
	gc_stats_free(&gs);
	objc_close(oc);
	free(role);
	return rc;
}
