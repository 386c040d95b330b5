/* meta_metrics.c: the metrics of the metadata shards a node serves: Raft
 * state and counters per shard (objfs_raft_*) and GC queues, read at
 * scrape time from what the Raft loop and the GC pass published.  Never
 * waits for the Raft loop and never touches a shard's database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/metrics.h"
#include "meta_service.h"
#include "meta_service_i.h"

void msvc_set_metrics(struct msvc *m, struct mx_registry *mx)
{
	m->mx = mx;
}

struct shard_sample {
	char label[MSG_NAME_MAX + 16]; /* shard="..." */
	struct repl_stats rs;
	int64_t gc_queue;
};

/* One gauge or counter family over every shard. */
static void family(struct mx_out *o, const struct shard_sample *v, size_t n, const char *name,
		   const char *help, enum mx_type t, double (*get)(const struct shard_sample *))
{
	mx_out_family(o, name, help, t);
	for (size_t i = 0; i < n; i++) {
		mx_out_sample(o, name, v[i].label, get(&v[i]));
	}
}

static double g_term(const struct shard_sample *s)
{
	return (double)s->rs.st.term;
}
static double g_commit(const struct shard_sample *s)
{
	return (double)s->rs.st.commit;
}
static double g_applied(const struct shard_sample *s)
{
	return (double)s->rs.st.applied;
}
static double g_last(const struct shard_sample *s)
{
	return (double)s->rs.st.last_index;
}
/* A leader that has not applied its barrier yet serves nothing: not
 * counted as one (the ShardWithoutLeader alert means "nobody serves"). */
static double g_leader(const struct shard_sample *s)
{
	return s->rs.st.role == 3 && s->rs.st.ready;
}
static double g_voters(const struct shard_sample *s)
{
	return (double)s->rs.st.n_voters;
}
static double g_elections(const struct shard_sample *s)
{
	return (double)s->rs.elections;
}
static double g_snap_taken(const struct shard_sample *s)
{
	return (double)s->rs.snapshots_taken;
}
static double g_snap_inst(const struct shard_sample *s)
{
	return (double)s->rs.snapshots_installed;
}

static double g_prop_entries(const struct shard_sample *s)
{
	return (double)s->rs.proposed_entries;
}

static double g_prop_records(const struct shard_sample *s)
{
	return (double)s->rs.proposed_records;
}

void msvc_collect(void *arg, struct mx_out *o)
{
	struct msvc *m = arg;
	struct shard_sample *v;
	struct shard *head, *s;
	size_t n = 0, cap = 0;

	/* Shards are only ever added at the head: a snapshot of the head
	 * can be walked unlocked (meta_gc.c does the same). */
	pthread_mutex_lock(&m->mu);
	head = m->shards;
	pthread_mutex_unlock(&m->mu);
	for (s = head; s != NULL; s = s->next) {
		cap++;
	}
	v = calloc(cap ? cap : 1, sizeof(*v));
	if (v == NULL) {
		return;
	}
	for (s = head; s != NULL && n < cap; s = s->next) {
		if (s->g == NULL || repl_get_stats(s->g, &v[n].rs) != 0) {
			continue;
		}
		mx_label(v[n].label, sizeof(v[n].label), "shard",
			 s->name[0] != '\0' ? s->name : CATALOG_GROUP);
		v[n].gc_queue = atomic_load(&s->gc_queue);
		n++;
	}
	family(o, v, n, "objfs_raft_term", "Current Raft term of the shard on this replica.",
	       MX_GAUGE, g_term);
	family(o, v, n, "objfs_raft_commit_index", "Highest log index known committed.", MX_GAUGE,
	       g_commit);
	family(o, v, n, "objfs_raft_applied_index", "Highest log index applied to the database.",
	       MX_GAUGE, g_applied);
	family(o, v, n, "objfs_raft_last_index", "Last index in this replica's log.", MX_GAUGE,
	       g_last);
	family(o, v, n, "objfs_raft_is_leader",
	       "1 when this replica is the shard's ready leader (serving), else 0.", MX_GAUGE,
	       g_leader);
	family(o, v, n, "objfs_raft_voters", "Voters in the shard's configuration.", MX_GAUGE,
	       g_voters);
	family(o, v, n, "objfs_raft_elections_total",
	       "Terms begun since the shard opened here (each is an election).", MX_COUNTER,
	       g_elections);
	family(o, v, n, "objfs_raft_snapshots_taken_total", "Snapshots this replica took.",
	       MX_COUNTER, g_snap_taken);
	family(o, v, n, "objfs_raft_snapshots_installed_total",
	       "Snapshots restored on this replica (sent by a leader, or loaded at start).",
	       MX_COUNTER, g_snap_inst);
	family(o, v, n, "objfs_raft_proposed_entries_total",
	       "Raft entries this replica proposed as the shard's leader.", MX_COUNTER,
	       g_prop_entries);
	family(o, v, n, "objfs_raft_proposed_records_total",
	       "Metadata records those entries carried (records / entries: the batching).",
	       MX_COUNTER, g_prop_records);
	/* Lag: only the leader knows its followers' match index. */
	mx_out_family(o, "objfs_raft_replica_lag_entries",
		      "Leader only: log entries a voter is behind the leader's last index.",
		      MX_GAUGE);
	for (size_t i = 0; i < n; i++) {
		const struct repl_state *st = &v[i].rs.st;

		if (st->role != 3) {
			continue;
		}
		for (size_t j = 0; j < st->n_voters; j++) {
			char lb[sizeof(v[i].label) + 32];

			if (st->voters[j] < 0 || (size_t)st->voters[j] >= m->cfg->n_nodes) {
				continue;
			}
			snprintf(lb, sizeof(lb), "%s,replica=\"%u\"", v[i].label,
				 m->cfg->nodes[st->voters[j]].id);
			mx_out_sample(o, "objfs_raft_replica_lag_entries", lb,
				      st->last_index > st->match[j]
					  ? (double)(st->last_index - st->match[j])
					  : 0);
		}
	}
	mx_out_family(o, "objfs_meta_gc_queue_blocks",
		      "Blocks no file references whose fragments wait for deletion.", MX_GAUGE);
	for (size_t i = 0; i < n; i++) {
		if (v[i].gc_queue >= 0) {
			mx_out_sample(o, "objfs_meta_gc_queue_blocks", v[i].label,
				      (double)v[i].gc_queue);
		}
	}
	free(v);
}
