/* ctl_status.c: objfsctl status: one PING to every node, in parallel, the
 * cluster map of the catalog and the replicas of every shard. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/client.h"
#include "../common/err.h"
#include "../common/meta_client.h"
#include "ctl.h"
#include "ctl_drain.h"
#include "json.h"

/* A node that does not answer within this is shown as down. */
#define STATUS_TIMEOUT_MS 2000

/* Every node's view of the shard groups it runs, merged per shard. */
struct shard_view {
	struct shard_state st[CFG_MAX_NODES]; /* by node index; role 0 = none */
	int seen[CFG_MAX_NODES];
};

struct shard_table {
	char names[64][MSG_NAME_MAX];
	struct shard_view *views[64];
	size_t n;
	size_t node;
};

static int collect_shard(void *arg, const struct shard_state *st)
{
	struct shard_table *t = arg;
	size_t i;

	for (i = 0; i < t->n; i++) {
		if (strcmp(t->names[i], st->name) == 0) {
			break;
		}
	}
	if (i == t->n) {
		if (t->n == 64 || (t->views[i] = calloc(1, sizeof(*t->views[i]))) == NULL) {
			return 0;
		}
		snprintf(t->names[i], sizeof(t->names[i]), "%s", st->name);
		t->n++;
	}
	t->views[i]->st[t->node] = *st;
	t->views[i]->seen[t->node] = 1;
	return 0;
}

static const char *role_name(int role)
{
	static const char *const names[] = {"-", "follower", "candidate", "leader"};

	return role >= 0 && role <= 3 ? names[role] : "?";
}

/* Prints every shard's replicas as a table, or as the "shards" member of
 * the JSON document w when w is not NULL. */
static void print_shards(struct ctl *c, struct cl *cl, struct jw *w)
{
	struct shard_table *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		return;
	}
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		if (cl_node_up(cl, i)) {
			t->node = i;
			mc_shards(cl, i, collect_shard, t);
		}
	}
	if (w != NULL) {
		jw_arr(w, "shards");
	} else {
		printf("\n%-12s %-5s %-10s %-6s %-8s %-8s %s\n", "SHARD", "NODE", "ROLE", "TERM",
		       "COMMIT", "APPLIED", "LAG");
	}
	for (size_t s = 0; s < t->n; s++) {
		struct shard_view *v = t->views[s];
		const struct shard_state *lead = NULL;
		uint32_t lead_id = 0;

		for (size_t i = 0; i < c->cfg.n_nodes; i++) {
			if (v->seen[i] && v->st[i].role == 3 && v->st[i].ready) {
				lead = &v->st[i];
				lead_id = c->cfg.nodes[i].id;
			}
		}
		if (w != NULL) {
			jw_obj(w, NULL);
			jw_str(w, "name", t->names[s]);
			if (lead != NULL) {
				jw_u64(w, "leader", lead_id);
			} else {
				jw_null(w, "leader");
			}
			jw_arr(w, "replicas");
		}
		for (size_t i = 0; i < c->cfg.n_nodes; i++) {
			const struct shard_state *st = &v->st[i];
			uint64_t lagv = 0;
			char lag[32] = "-";

			if (!v->seen[i]) {
				continue;
			}
			if (lead != NULL) {
				lagv = lead->last_index > st->applied
					   ? lead->last_index - st->applied
					   : 0;
				snprintf(lag, sizeof(lag), "%llu", (unsigned long long)lagv);
			}
			if (w != NULL) {
				jw_obj(w, NULL);
				jw_u64(w, "node", c->cfg.nodes[i].id);
				jw_str(w, "role", role_name(st->role));
				jw_u64(w, "term", st->term);
				jw_u64(w, "commit", st->commit);
				jw_u64(w, "applied", st->applied);
				if (lead != NULL) {
					jw_u64(w, "lag", lagv);
				} else {
					jw_null(w, "lag");
				}
				jw_end(w);
				continue;
			}
			printf("%-12s %-5u %-10s %-6llu %-8llu %-8llu %s\n", t->names[s],
			       c->cfg.nodes[i].id, role_name(st->role),
			       (unsigned long long)st->term, (unsigned long long)st->commit,
			       (unsigned long long)st->applied, lag);
		}
		if (w != NULL) {
			jw_end(w);
			jw_end(w);
		} else if (lead == NULL) {
			printf("%-12s no leader (fewer than a majority of its replicas answer)\n",
			       t->names[s]);
		}
		free(v);
		t->views[s] = NULL;
	}
	if (w != NULL) {
		jw_end(w);
	}
	free(t);
}

static const char *map_state_name(uint8_t state)
{
	static const char *const names[] = {"up", "down", "gone", "out"};

	return state <= META_NODE_OUT ? names[state] : "?";
}

/* Prints the cluster map of the catalog (META_NODE_MAP): each configured
 * node's state as automatic repair and objfsctl node out/in recorded it
 * (up; down since T; gone: down past repair_after, being rebuilt; out).
 * As the "cluster_map" member of w when w is not NULL. */
static void print_map(struct ctl *c, struct cl *cl, struct jw *w)
{
	struct meta_node_row *rows = calloc(META_NODE_MAP_MAX, sizeof(*rows));
	struct mc *mc = NULL;
	int n = rows == NULL ? -ENOMEM : mc_open(cl, "", &mc);

	if (n == 0) {
		n = mc_node_map(mc, rows, META_NODE_MAP_MAX);
		mc_close(mc);
	}
	if (n < 0) {
		if (w != NULL) {
			jw_null(w, "cluster_map");
			jw_str(w, "cluster_map_error", obj_strerror(n));
		} else {
			printf("\ncluster map: cannot read it from the catalog: %s\n",
			       obj_strerror(n));
		}
		free(rows);
		return;
	}
	if (w != NULL) {
		jw_arr(w, "cluster_map");
	} else {
		printf("\n%-5s %-6s %s\n", "NODE", "MAP", "SINCE");
	}
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		uint32_t id = c->cfg.nodes[i].id;
		const struct meta_node_row *r = NULL;
		char when[32] = "-";

		for (int j = 0; j < n; j++) {
			if (rows[j].id == id) {
				r = &rows[j];
			}
		}
		if (r != NULL && r->since_ns > 0) {
			time_t t = (time_t)(r->since_ns / 1000000000);
			struct tm tm;

			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
		}
		if (w != NULL) {
			jw_obj(w, NULL);
			jw_u64(w, "node", id);
			jw_str(w, "state", map_state_name(r != NULL ? r->state : META_NODE_UP));
			if (r != NULL && r->since_ns > 0) {
				jw_u64(w, "since_ns", (uint64_t)r->since_ns);
				jw_str(w, "since", when);
			} else {
				jw_null(w, "since");
			}
			jw_end(w);
		} else {
			printf("%-5u %-6s %s\n", id,
			       map_state_name(r != NULL ? r->state : META_NODE_UP), when);
		}
	}
	if (w != NULL) {
		jw_end(w);
	}
	free(rows);
}

static void json_node(struct jw *w, const struct cfg_node *n, const struct node_status *st,
		      const char *error)
{
	jw_obj(w, NULL);
	jw_u64(w, "id", n->id);
	jw_str(w, "addr", n->addr);
	jw_str(w, "zone", st != NULL ? st->zone : n->zone);
	jw_str(w, "state", st != NULL ? "up" : "down");
	if (st == NULL) {
		jw_str(w, "error", error);
		jw_end(w);
		return;
	}
	jw_u64(w, "disk_total", st->disk_total);
	jw_u64(w, "disk_free", st->disk_free);
	jw_u64(w, "frag_bytes", st->frag_bytes);
	jw_u64(w, "frag_count", st->frag_count);
	jw_u64(w, "uptime_s", st->uptime_s);
	jw_u64(w, "requests", st->requests);
	jw_u64(w, "auth_failures", st->auth_failures);
	jw_u64(w, "bad_requests", st->bad_requests);
	jw_u64(w, "checksum_errors", st->checksum_errors);
	jw_end(w);
}

int ctl_cmd_status(struct ctl *c, int argc, char **argv)
{
	struct cl *cl;
	struct cl_req *reqs;
	struct jw jw, *w = NULL;
	size_t up = 0;
	int rc, json;

	if (ctl_is_help(argc, argv)) {
		printf("Usage: objfsctl status [--json]\n"
		       "Ask every node of the cluster for its state and print one line per node:\n"
		       "id, address, zone, up or down, disk used and free, fragment count, and\n"
		       "the counts of refused (unauthenticated or malformed) requests.  Then\n"
		       "the cluster map the catalog keeps: each node up, down (not answering\n"
		       "the catalog leader) or gone (down longer than repair_after, being\n"
		       "rebuilt) since a time, or out (objfsctl node out).  Then one line per\n"
		       "replica of every metadata shard: its node, Raft role, term, commit\n"
		       "and applied index, and its lag behind the leader's log.\n"
		       "  --json  one JSON document instead (schema in objfsctl(8))\n"
		       "Exit status 0 when every node is up, 1 otherwise.\n");
		return CTL_OK;
	}
	if (ctl_json_operands(argc, argv, &json) != argc) {
		fprintf(stderr, "Usage: objfsctl status [--json]\n");
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
	if (json) {
		w = &jw;
		jw_init(w, stdout, 1);
		jw_obj(w, NULL);
		jw_str(w, "cluster", c->cfg.name);
		jw_arr(w, "nodes");
	} else {
		printf("%-4s %-24s %-10s %-5s %10s %10s %10s %8s %8s\n", "ID", "ADDRESS", "ZONE",
		       "STATE", "USED", "FREE", "FRAGMENTS", "AUTHFAIL", "BADREQ");
	}
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
			int refused = reqs[i].status == -ENOKEY || reqs[i].status == -OBJ_EAUTH;
			const char *why =
			    reqs[i].status ? obj_strerror(reqs[i].status) : "bad reply";

			if (w != NULL) {
				json_node(w, n, NULL, why);
			} else {
				/* A node that refuses our key is up, but says nothing. */
				printf("%-4u %-24s %-10s %-5s %10s %10s %10s %8s %8s  (%s)\n",
				       n->id, n->addr, n->zone, refused ? "refused" : "down", "-",
				       "-", "-", "-", "-", why);
			}
			cl_req_release(&reqs[i]);
			continue;
		}
		up++;
		if (w != NULL) {
			json_node(w, n, &st, NULL);
		} else {
			printf("%-4u %-24s %-10s %-5s %10s %10s %10llu %8llu %8llu\n", n->id,
			       n->addr, st.zone, "up", ctl_human(st.frag_bytes, used, sizeof(used)),
			       ctl_human(st.disk_free, avail, sizeof(avail)),
			       (unsigned long long)st.frag_count,
			       (unsigned long long)st.auth_failures,
			       (unsigned long long)st.bad_requests);
		}
		cl_req_release(&reqs[i]);
	}
	if (w != NULL) {
		jw_end(w);
		jw_u64(w, "nodes_up", up);
		jw_u64(w, "nodes_total", c->cfg.n_nodes);
	} else {
		printf("%zu of %zu nodes up\n", up, c->cfg.n_nodes);
	}
	print_map(c, cl, w);
	print_shards(c, cl, w);
	if (w != NULL) {
		jw_finish(w);
	}
	free(reqs);
	cl_close(cl);
	return up == c->cfg.n_nodes ? CTL_OK : CTL_FAIL;
}

/* --- objfsctl node out|in ------------------------------------------- */

static int is_voter(const struct shard_view *v, const struct cfg *cfg, size_t node)
{
	for (size_t i = 0; i < cfg->n_nodes; i++) {
		if (!v->seen[i] || v->st[i].role != 3) {
			continue;
		}
		for (uint32_t j = 0; j < v->st[i].n_voters; j++) {
			if (v->st[i].voter_id[j] == cfg->nodes[node].id) {
				return 1;
			}
		}
		return 0;
	}
	return v->seen[node]; /* no leader seen: best guess */
}

/* One membership change, reported as a line or as an element of the
 * "changes" array of w. */
static int member(struct cl *cl, struct jw *w, const char *shard, int add, uint32_t id)
{
	struct mc *mc;
	int rc = mc_open(cl, strcmp(shard, "_catalog") == 0 ? "" : shard, &mc);

	if (rc == 0) {
		rc = mc_member(mc, add, id);
		mc_close(mc);
	}
	if (w != NULL) {
		jw_obj(w, NULL);
		jw_str(w, "shard", shard);
		jw_str(w, "change", add ? "add" : "remove");
		jw_u64(w, "node", id);
		jw_str(w, "result", rc == 0 ? "done" : obj_strerror(rc));
		jw_end(w);
		return rc;
	}
	printf("  %s %s node %u: %s\n", shard, add ? "add" : "remove", id,
	       rc == 0 ? "done" : obj_strerror(rc));
	return rc;
}

/* A removal left undone because its stand-in was not added. */
static void not_tried(struct jw *w, const char *shard, uint32_t id)
{
	static const char why[] = "not tried: the stand-in was not added";

	if (w != NULL) {
		jw_obj(w, NULL);
		jw_str(w, "shard", shard);
		jw_str(w, "change", "remove");
		jw_u64(w, "node", id);
		jw_str(w, "result", why);
		jw_end(w);
		return;
	}
	printf("  %s remove node %u: %s\n", shard, id, why);
}

static void node_usage(FILE *f)
{
	fprintf(f, "Usage: objfsctl node [--json] out|in ID\n"
		   "out: move every metadata shard replica off node ID, one Raft\n"
		   "membership change at a time (a replacement chosen by rendezvous\n"
		   "order is added and caught up before ID is removed).\n"
		   "Then rebuilds every fragment the node is home to on other nodes\n"
		   "and says whether the node can be removed.\n"
		   "in: give node ID back the replicas rendezvous placement assigns it,\n"
		   "removing the stand-ins, then write its missing fragments back to it\n"
		   "and delete the copies that stood in for them (once gc_grace old).\n"
		   "  --json  report the changes as one JSON document (objfsctl(8))\n");
}

int ctl_cmd_node(struct ctl *c, int argc, char **argv)
{
	struct shard_table *t;
	struct cl *cl;
	struct jw jw, *w = NULL;
	size_t self = SIZE_MAX;
	int out, rc, failed = 0, op, json;
	char *end;
	long id;

	if (ctl_is_help(argc, argv)) {
		node_usage(stdout);
		return CTL_OK;
	}
	if ((op = ctl_json_operands(argc, argv, &json)) < 0 || argc - op != 2 ||
	    (strcmp(argv[op], "out") != 0 && strcmp(argv[op], "in") != 0)) {
		node_usage(stderr);
		return CTL_USAGE;
	}
	out = strcmp(argv[op], "out") == 0;
	id = strtol(argv[op + 1], &end, 10);
	if (*end != '\0' || id <= 0) {
		fprintf(stderr, "objfsctl node: not a node id: '%s'\n", argv[op + 1]);
		return CTL_USAGE;
	}
	if (ctl_load(c) != CTL_OK) {
		return CTL_FAIL;
	}
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		if (c->cfg.nodes[i].id == (uint32_t)id) {
			self = i;
		}
	}
	if (self == SIZE_MAX) {
		fprintf(stderr, "objfsctl node: no node %ld in %s\n", id, c->cfg.path);
		return CTL_FAIL;
	}
	if ((rc = cl_open(&c->cfg, &cl)) != 0 || (t = calloc(1, sizeof(*t))) == NULL) {
		fprintf(stderr, "objfsctl node: %s\n", obj_strerror(rc ? rc : -ENOMEM));
		return CTL_FAIL;
	}
	cl_wait_connected(cl, 1000);
	for (size_t i = 0; i < c->cfg.n_nodes; i++) {
		if (cl_node_up(cl, i)) {
			t->node = i;
			mc_shards(cl, i, collect_shard, t);
		}
	}
	if (json) {
		w = &jw;
		jw_init(w, stdout, 1);
		jw_obj(w, NULL);
		jw_u64(w, "node", (uint64_t)id);
		jw_str(w, "action", out ? "out" : "in");
		jw_arr(w, "changes");
	}
	for (size_t s = 0; s < t->n; s++) {
		struct shard_view *v = t->views[s];
		const char *bucket = strcmp(t->names[s], "_catalog") == 0 ? "" : t->names[s];
		size_t rank[CFG_MAX_NODES],
		    nr = mc_shard_replicas(&c->cfg, bucket, rank, c->cfg.n_nodes);
		size_t want = c->cfg.meta_replicas < nr ? c->cfg.meta_replicas : nr;

		if (out && is_voter(v, &c->cfg, self)) {
			int stand_in = 0; /* 1 added, -1 refused */

			/* First the stand-in, so the group never shrinks: if it
			 * could not be added (EBUSY: another change of the group
			 * is under way), node ID keeps its place; run again. */
			for (size_t k = 0; k < nr; k++) {
				if (rank[k] != self && !is_voter(v, &c->cfg, rank[k]) &&
				    cl_node_up(cl, rank[k])) {
					stand_in = member(cl, w, t->names[s], 1,
							  c->cfg.nodes[rank[k]].id) == 0
						       ? 1
						       : -1;
					break;
				}
			}
			if (stand_in < 0) {
				failed = 1;
				not_tried(w, t->names[s], (uint32_t)id);
			} else {
				failed |= member(cl, w, t->names[s], 0, (uint32_t)id) != 0;
			}
		} else if (!out && !is_voter(v, &c->cfg, self)) {
			int preferred = 0;

			for (size_t k = 0; k < want; k++) {
				preferred |= rank[k] == self;
			}
			if (!preferred) {
				continue;
			}
			failed |= member(cl, w, t->names[s], 1, (uint32_t)id) != 0;
			/* Then the stand-in that placement does not prefer. */
			for (size_t k = nr; k-- > want;) {
				if (is_voter(v, &c->cfg, rank[k])) {
					failed |= member(cl, w, t->names[s], 0,
							 c->cfg.nodes[rank[k]].id) != 0;
					break;
				}
			}
		}
	}
	for (size_t s = 0; s < t->n; s++) {
		free(t->views[s]);
	}
	if (w != NULL) {
		jw_end(w);
	}
	free(t);
	cl_close(cl);
	/* Fragments after replicas: a node out keeps serving reads of its
	 * fragments until the rebuilt copies exist. */
	failed |= ctl_drain(c, w, self, out) != 0;
	if (w != NULL) {
		jw_bool(w, "failed", failed);
		jw_finish(w);
	}
	return failed ? CTL_FAIL : CTL_OK;
}
