/* node_main.c: objfs-node, a storage node: start-up, signals, shutdown.
 * Start-up order (each step refuses to continue with a clear message):
 *   1. parse options, load and validate the cluster config
 *   2. find this node's section, check its data dir (exists, writable)
 *   3. open the fragment store, check the data dir's identity (a node
 *      that lost its Raft state must not vote as the voter it was);
 *   4. the metrics endpoint if metrics_addr is set (a port in use is
 *      refused); the scrub thread, then the metadata shard registry
 *   5. listen (a port in use is reported as such), start contexts/workers,
 *      then the usage sampler (nodes/usage.c)
 *   6. wait for SIGTERM/SIGINT; then stop in reverse order.
 * Signals are blocked in every thread and taken with sigwait here, so no
 * handler ever runs inside library code. */
#include "objfs_build.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/config.h"
#include "../common/err.h"
#include "../common/log.h"
#include "../common/tls.h"
#include "../proto/frame.h"
#include "fragstore.h"
#include "handlers.h"
#include "identity.h"
#include "keycache.h"
#include "node_metrics.h"
#include "scrub.h"
#include "server.h"

#ifndef OBJFS_SYSCONFDIR
#define OBJFS_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF OBJFS_SYSCONFDIR "/objfs/objfs.conf"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: objfs-node [OPTIONS] --id N\n"
		"Run one storage node of an objfs cluster.\n\n"
		"  -c, --config FILE    cluster config (default $OBJFS_CONF or %s)\n"
		"  -i, --id N           this node's id: its [node N] section in the config\n"
		"  -w, --workers N      threads for fragment I/O (default 8)\n"
		"  -l, --log-level LVL  debug, info, warn or error (default: the config's)\n"
		"  -h, --help           show this help and exit\n"
		"  -V, --version        show the version and exit\n\n"
		"The node listens on its configured addr, keeps fragments and its object\n"
		"index under its data_dir, and stops cleanly on SIGTERM or SIGINT.\n"
		"Exit status: 0 after a clean stop, 1 on a start-up failure, 2 on bad usage.\n",
		DEFAULT_CONF);
}

/* Shard snapshot copies run on libuv's thread pool (raft_uv's async_work)
 * beside raft_uv's own file work: its default 4 threads would let a few
 * large copies delay every group's log writes.  Before any thread runs,
 * and only when the operator did not choose a size. */
static void pool_size(void)
{
	setenv("UV_THREADPOOL_SIZE", "16", 0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"id", required_argument, NULL, 'i'},
	    {"workers", required_argument, NULL, 'w'},
	    {"log-level", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *conf = getenv("OBJFS_CONF");
	const char *level = NULL;
	long id = -1, workers = 8;
	static struct cfg cfg;
	const struct cfg_node *me;
	struct node_ctx nc = {0};
	struct srv_config sc = {0};
	struct server *srv = NULL;
	struct keycache *kc = NULL;
	struct node_metrics *nm = NULL;
	char err[512];
	sigset_t sigs;
	int c, rc, sig;

	pool_size();
	while ((c = getopt_long(argc, argv, "c:i:w:l:hV", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'i':
			errno = 0;
			id = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || id <= 0 || id > INT32_MAX) {
				fprintf(stderr, "objfs-node: --id: not a node id: '%s'\n", optarg);
				return 2;
			}
			break;
		case 'w':
			errno = 0;
			workers = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || workers < 1 || workers > 256) {
				fprintf(stderr, "objfs-node: --workers: must be 1..256\n");
				return 2;
			}
			break;
		case 'l':
			level = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("objfs-node %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || id < 0) {
		fprintf(stderr, "objfs-node: %s\n",
			optind != argc ? "unexpected argument" : "--id is required");
		usage(stderr);
		return 2;
	}
	if (conf == NULL) {
		conf = DEFAULT_CONF;
	}
	log_set_ident("objfs-node");

	/* 1. config */
	if ((rc = cfg_load_file(conf, &cfg, err, sizeof(err))) != 0) {
		fprintf(stderr, "objfs-node: %s\n", err);
		return 1;
	}
	{
		enum log_level lvl;
		const char *want = level != NULL ? level : cfg.log_level;

		if (log_parse_level(want, &lvl) != 0) {
			fprintf(stderr, "objfs-node: --log-level: unknown level '%s'\n", want);
			return 2;
		}
		log_set_level(lvl);
	}
	/* 2. this node */
	me = cfg_node_by_id(&cfg, (uint32_t)id);
	if (me == NULL) {
		fprintf(stderr, "objfs-node: %s: no [node %ld] section\n", cfg.path, id);
		return 1;
	}
	/* 3. stores */
	nc.node_id = me->id;
	nc.zone = me->zone;
	nc.start_ms = frame_now_ms();
	if ((rc = frag_open(me->data_dir, &nc.fs)) != 0) {
		fprintf(stderr, "objfs-node: data_dir %s: %s\n", me->data_dir, obj_strerror(rc));
		return 1;
	}
	frag_set_capacity(nc.fs, me->capacity);
	/* 4. metrics, before anything slow starts: a taken port fails fast */
	if ((rc = node_metrics_start(me->metrics_addr, &nm, err, sizeof(err))) != 0) {
		fprintf(stderr, "objfs-node: node %u: %s\n", me->id, err);
		frag_close(nc.fs);
		node_metrics_stop(nm);
		return 1;
	}
	frag_set_metrics(nc.fs, node_metrics_registry(nm));
	{
		char state[PATH_MAX + 16];
		struct node_identity ident;
		int created;

		/* Before any Raft group runs: a node that lost its state must
		 * not vote as the voter it was (identity.h). */
		if ((rc = id_check(&cfg, me, &ident, &created, err, sizeof(err))) != 0) {
			fprintf(stderr, "objfs-node: node %u: %s\n", me->id, err);
			frag_close(nc.fs);
			node_metrics_stop(nm);
			return 1;
		}
		log_info("node.identity", "node %u of cluster %s, incarnation %016" PRIx64 "%s",
			 me->id, ident.cluster, ident.incarnation, created ? " (new)" : "");
		snprintf(state, sizeof(state), "%s/scrub.state", me->data_dir);
		if ((rc = scrub_start(nc.fs, cfg.scrub_period_s, cfg.scrub_rate_mb, state,
				      &nc.scrub)) != 0) {
			fprintf(stderr, "objfs-node: scrub thread: %s\n", obj_strerror(rc));
			frag_close(nc.fs);
			node_metrics_stop(nm);
			return 1;
		}
	}

	if ((rc = msvc_open(&cfg, (size_t)(me - cfg.nodes), me->data_dir, &nc.msvc)) != 0) {
		fprintf(stderr, "objfs-node: %s/shards: %s\n", me->data_dir, obj_strerror(rc));
		scrub_stop(nc.scrub);
		node_metrics_quiesce(nm);
		frag_close(nc.fs);
		node_metrics_stop(nm);
		return 1;
	}
	msvc_set_metrics(nc.msvc, node_metrics_registry(nm));

	/* Block the signals we wait for before any thread exists, so every
	 * thread inherits the mask; a dead peer must not kill us by SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	/* 5. replication of metadata shards, then the request server */
	if ((rc = msvc_start(nc.msvc, err, sizeof(err))) != 0) {
		fprintf(stderr, "objfs-node: node %u: %s\n", me->id, err);
		node_metrics_quiesce(nm);
		msvc_close(nc.msvc);
		scrub_stop(nc.scrub);
		frag_close(nc.fs);
		node_metrics_stop(nm);
		return 1;
	}
	sc.url = me->addr;
	if (tls_on(&cfg) && (me->tls_cert[0] == '\0' || me->tls_key[0] == '\0')) {
		fprintf(stderr,
			"objfs-node: node %u: tls_ca is set: [node %u] needs tls_cert and "
			"tls_key\n",
			me->id, me->id);
		msvc_close(nc.msvc);
		frag_close(nc.fs);
		return 1;
	}
	sc.tls_cert = tls_on(&cfg) ? me->tls_cert : NULL;
	sc.tls_key = me->tls_key;
	memcpy(sc.key.secret, cfg.secret, cfg.secret_len);
	sc.key.len = cfg.secret_len;
	sc.max_skew_s = cfg.max_skew_s;
	/* Requests in progress at once: the bound on memory in flight.
	 * Metadata changes hold their context until they commit, so there
	 * must be room for a batch of them beside fragment transfers. */
	sc.n_ctx = 256;
	/* Metadata work is short (SQLite, encode, MAC) and never waits:
	 * one thread per core.  Fragment I/O waits on fsync: more threads
	 * let the filesystem's journal share one flush among them. */
	sc.n_meta = 2;
	sc.n_disk = (size_t)workers;
	sc.route = node_route;
	sc.handler = node_handle;
	sc.handler_arg = &nc;
	/* Client keys come from the catalog through the key cache. */
	if ((rc = keycache_start(&cfg, me->data_dir, &kc)) != 0) {
		fprintf(stderr, "objfs-node: node %u: key cache: %s\n", me->id, obj_strerror(rc));
		msvc_close(nc.msvc);
		frag_close(nc.fs);
		return 1;
	}
	sc.key_find = keycache_find;
	sc.key_arg = kc;
	sc.metrics = node_metrics_registry(nm);
	if ((rc = srv_start(&sc, &srv, err, sizeof(err))) != 0) {
		fprintf(stderr, "objfs-node: node %u: %s\n", me->id, err);
		node_metrics_quiesce(nm);
		msvc_close(nc.msvc);
		scrub_stop(nc.scrub);
		frag_close(nc.fs);
		node_metrics_stop(nm);
		return 1;
	}
	nc.srv = srv;
	if (node_metrics_attach(nm, &nc) != 0) {
		fprintf(stderr, "objfs-node: node %u: out of memory\n", me->id);
		msvc_quiesce(nc.msvc);
		srv_stop(srv);
		node_metrics_quiesce(nm);
		msvc_close(nc.msvc);
		scrub_stop(nc.scrub);
		frag_close(nc.fs);
		node_metrics_stop(nm);
		return 1;
	}
	if (nm != NULL) {
		log_info("node.metrics", "node %u: metrics at http://%s/metrics", me->id,
			 me->metrics_addr);
	}
	/* After the server: the first sample counts its requests.  A history
	 * that cannot be kept costs the planner data, not the node its job. */
	if ((rc = usage_open(me->data_dir, USAGE_KEEP, cfg.usage_interval, node_usage_probe, &nc,
			     &nc.usage)) != 0 ||
	    (rc = usage_start(nc.usage)) != 0) {
		log_warn("usage.open", "%s/%s: %s (no usage history)", me->data_dir, USAGE_FILE,
			 obj_strerror(rc));
		usage_close(nc.usage);
		nc.usage = NULL;
	}
	log_info("node.start", "node %u (zone %s) serving on %s, data in %s", me->id, me->zone,
		 me->addr, me->data_dir);

	/* 6. run until told to stop; SIGHUP is reserved for reloads. */
	do {
		if (sigwait(&sigs, &sig) != 0) {
			sig = SIGTERM;
		}
	} while (sig == SIGHUP);
	log_info("node.stop", "node %u stopping on signal %d", me->id, sig);
	usage_close(nc.usage); /* its probe reads the server and the shards */
	/* Replication first: every proposal still in flight is failed, so
	 * each deferred reply is sent before the server stops. */
	msvc_quiesce(nc.msvc);
	keycache_stop(kc);
	srv_stop(srv);
	/* Scrapes stop before the stores they read close; the registry goes
	 * last, after every thread that observes into it. */
	node_metrics_quiesce(nm);
	msvc_close(nc.msvc);
	scrub_stop(nc.scrub);
	frag_close(nc.fs);
	node_metrics_stop(nm);
	return 0;
}
