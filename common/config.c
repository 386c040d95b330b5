/* config.c: objfs.conf parsing and the one table of known keys.
 * Never touches the network or global state: each call parses into its own
 * copy, so any thread may load a config, and a failed load leaves *out as it was. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fileio.h"
#include "log.h"

/* A config is a few KiB; anything past this is a wrong path or a runaway
 * generator, and reading it whole would only hide the mistake. */
#define CFG_FILE_MAX (1u << 20)

/* Node ids travel as uint32 but must also fit an int in tools and SQLite. */
#define CFG_NODE_ID_MAX 2147483647u

/* A secret is shared by every member; shorter ones are guessable offline. */
#define CFG_SECRET_MIN 16

/* SECT_MOUNT holds the options of the objfs mount (-o NAME=VALUE), not a
 * section of the file: the same rows give their defaults, checks, --help
 * lines and objfs(1) summaries. */
enum cfg_sect { SECT_NONE, SECT_CLUSTER, SECT_NODE, SECT_CLASS, SECT_MOUNT };

enum cfg_type {
	CT_STRING,
	CT_SIZE,
	CT_UINT,
	CT_PROFILE,
	CT_TIERS,
	CT_SECRET,
	CT_LEVEL,
	CT_SECONDS
};

static const char *const cfg_type_names[] = {
    [CT_STRING] = "string",   [CT_SIZE] = "size",	    [CT_UINT] = "uint",
    [CT_PROFILE] = "profile", [CT_TIERS] = "profile-tiers", [CT_SECRET] = "secret",
    [CT_LEVEL] = "level",     [CT_SECONDS] = "seconds",
};

/* One row per key.  The parser, the defaults, cfg_print_keys, cfg_write_defaults
 * and (by hand, checked by test_config) objfs.conf(5) all read this table.
 * For strings and secrets min/max bound the length in bytes; for numbers
 * they bound the value (seconds: whole seconds, the value may have a
 * fraction).  def NULL means required; "" means optional and unset.
 * metavar names the value in a mount option's usage line. */
struct cfg_key {
	enum cfg_sect sect;
	const char *name;
	enum cfg_type type;
	const char *def;
	uint64_t min, max;
	uint64_t align;	  /* sizes: value must be a multiple of this, 0 = any */
	size_t off, size; /* field in struct cfg or struct cfg_node */
	int (*check)(const char *v, char *why, size_t whylen); /* extra rule for strings */
	const char *metavar;
	const char *doc;
};

#define FSIZE(type, member) sizeof(((type *)0)->member)
#define CLUSTER(member)                                                                            \
	.sect = SECT_CLUSTER, .off = offsetof(struct cfg, member), .size = FSIZE(struct cfg, member)
#define NODE(member)                                                                               \
	.sect = SECT_NODE, .off = offsetof(struct cfg_node, member),                               \
	.size = FSIZE(struct cfg_node, member)
#define CLASS(member)                                                                              \
	.sect = SECT_CLASS, .off = offsetof(struct cfg_class, member),                             \
	.size = FSIZE(struct cfg_class, member)
#define MOUNT(member)                                                                              \
	.sect = SECT_MOUNT, .off = offsetof(struct cfg_mount, member),                             \
	.size = FSIZE(struct cfg_mount, member)

static int cfg_check_addr(const char *v, char *why, size_t whylen);
static int cfg_check_abspath(const char *v, char *why, size_t whylen);
static int cfg_check_optpath(const char *v, char *why, size_t whylen);
static int cfg_check_hostport(const char *v, char *why, size_t whylen);
static int cfg_check_tags(const char *v, char *why, size_t whylen);
static int cfg_check_policy(const char *v, char *why, size_t whylen);

/* clang-format off */
static const struct cfg_key cfg_keys[] = {
	{ CLUSTER(name), .name = "name", .type = CT_STRING, .def = "objfs",
	  .min = 1, .max = FSIZE(struct cfg, name) - 1,
	  .doc = "Cluster name, shown in logs and by objfsctl status." },
	{ CLUSTER(secret), .name = "secret", .type = CT_SECRET, .def = NULL,
	  .min = CFG_SECRET_MIN, .max = CFG_SECRET_MAX,
	  .doc = "The nodes' shared key; clients should use their own (objfsctl key)." },
	{ CLUSTER(ec), .name = "ec_profile", .type = CT_PROFILE, .def = "4+2",
	  .doc = "Default erasure code K+M: K data and M parity fragments per block." },
	{ CLUSTER(tiers), .name = "ec_tiers", .type = CT_TIERS, .def = "",
	  .doc = "Profiles by file size, e.g. 4+2:1M,6+3:100M,8+4; the last tier has no size." },
	{ CLUSTER(block_size), .name = "block_size", .type = CT_SIZE, .def = "4M",
	  .min = 64 << 10, .max = 64 << 20, .align = 4096,
	  .doc = "Largest block a file is cut into before erasure coding." },
	{ CLUSTER(inline_max), .name = "inline_max", .type = CT_SIZE, .def = "16K",
	  .min = 0, .max = 64 << 10,
	  .doc = "Files up to this size live in the metadata instead of fragments." },
	{ CLUSTER(timeout_ms), .name = "timeout_ms", .type = CT_UINT, .def = "5000",
	  .min = 100, .max = 600000,
	  .doc = "Milliseconds a client waits for one request before giving up on it." },
	{ CLUSTER(retries), .name = "retries", .type = CT_UINT, .def = "2",
	  .min = 0, .max = 10,
	  .doc = "Times an idempotent request is retried after a timeout or error." },
	{ CLUSTER(max_skew_s), .name = "max_skew_s", .type = CT_UINT, .def = "60",
	  .min = 1, .max = 3600,
	  .doc = "Largest clock difference in seconds accepted by replay protection." },
	{ CLUSTER(meta_replicas), .name = "meta_replicas", .type = CT_UINT, .def = "3",
	  .min = 1, .max = 7,
	  .doc = "Nodes holding a replica of each metadata shard." },
	{ CLUSTER(election_ms), .name = "election_ms", .type = CT_UINT, .def = "300",
	  .min = 50, .max = 60000,
	  .doc = "Raft election timeout of metadata shards in ms; heartbeats every tenth." },
	{ CLUSTER(snapshot_entries), .name = "snapshot_entries", .type = CT_UINT, .def = "8192",
	  .min = 16, .max = 10000000,
	  .doc = "Raft log entries between snapshots of a metadata shard; a quarter is kept." },
	{ CLUSTER(snapshot_max_entries), .name = "snapshot_max_entries", .type = CT_UINT,
	  .def = "65536", .min = 16, .max = 10000000,
	  .doc = "Most Raft log entries between snapshots of a large shard (one per 4 KiB of it)." },
	{ CLUSTER(snapshot_chunk), .name = "snapshot_chunk", .type = CT_SIZE, .def = "1M",
	  .min = 4096, .max = 8 << 20,
	  .doc = "Bytes per chunk when a replica fetches a shard snapshot from its leader." },
	/* Replies leave before the commit (the Raft log makes a record
	 * durable), so a longer window only delays when SQLite writes the
	 * pages that many records share; see ARCHITECTURE.md "Group commit". */
	{ CLUSTER(commit_batch_ms), .name = "commit_batch_ms", .type = CT_UINT, .def = "5",
	  .min = 0, .max = 1000,
	  .doc = "Milliseconds a shard replica gathers applied records into one SQLite commit." },
	/* Records proposed together while the loop was busy go out as one
	 * Raft entry: one log append, one message per follower.  1 keeps one
	 * record per entry, which replicas of older versions need. */
	{ CLUSTER(propose_batch), .name = "propose_batch", .type = CT_UINT, .def = "64",
	  .min = 1, .max = 1024,
	  .doc = "Metadata records a shard leader puts into one Raft entry at most." },
	/* Longer than any client keeps extents without refetching them at an
	 * open (attribute and entry timeouts: 1 s) plus a whole read of a large
	 * file and the client's fail-over time (20 s); a reader that holds
	 * extents longer finds the block gone and refetches them. */
	{ CLUSTER(free_grace_s), .name = "free_grace", .type = CT_UINT, .def = "120",
	  .min = 0, .max = 86400,
	  .doc = "Seconds a block no file references waits before its fragments are deleted." },
	/* Hourly: a year of history is 8760 samples (840 KiB per node), and
	 * growth planning looks at months, not minutes. */
	{ CLUSTER(usage_interval), .name = "usage_interval", .type = CT_UINT, .def = "3600",
	  .min = 1, .max = 86400,
	  .doc = "Seconds between a node's usage samples (objfsctl plan reads the history)." },
	/* A week between full reads is what large disk fleets use: latent
	 * sector errors show up within days, and 32 MB/s takes under a day
	 * for 2 TB while costing a disk about a tenth of its bandwidth. */
	{ CLUSTER(scrub_period_s), .name = "scrub_period", .type = CT_SECONDS, .def = "604800",
	  .min = 0, .max = 31536000,
	  .doc = "Seconds between the starts of a node's automatic scrub passes; 0 turns them off." },
	{ CLUSTER(scrub_rate_mb), .name = "scrub_rate", .type = CT_UINT, .def = "32",
	  .min = 1, .max = 100000,
	  .doc = "Most MB/s a scrub pass reads from a node's disk (at idle I/O priority)." },
	/* A day: far longer than any client holds an uncommitted block
	 * (a flush is retried for minutes at most) or a hand-off waits. */
	{ CLUSTER(gc_grace_s), .name = "gc_grace", .type = CT_SECONDS, .def = "86400",
	  .min = 0, .max = 31536000,
	  .doc = "Seconds a fragment no block references is kept before objfsctl gc deletes it." },
	/* Long enough that a reboot or a restart after an upgrade does not
	 * start a rebuild of a whole node, short against the hours a rebuild
	 * takes: every minute down counts in the MTTR (objfsctl durability). */
	{ CLUSTER(repair_after_s), .name = "repair_after", .type = CT_SECONDS, .def = "900",
	  .min = 0, .max = 31536000,
	  .doc = "Seconds a node may be down before its fragments are rebuilt on others; 0: never." },
	{ CLUSTER(repair_rate_mb), .name = "repair_rate", .type = CT_UINT, .def = "64",
	  .min = 1, .max = 100000,
	  .doc = "Most MB/s of fragments the automatic repair writes." },
	{ CLUSTER(lock_lease_ms), .name = "lock_lease_ms", .type = CT_UINT, .def = "10000",
	  .min = 300, .max = 600000,
	  .doc = "Milliseconds a mount's locks outlive its last renewal (a dead mount's go then)." },
	/* A mover re-encoding a cold tree must leave the disks to the
	 * workload: 50 MB/s is a tenth of a few disks' bandwidth and moves
	 * 4 TB a day. */
	{ CLUSTER(class_rate_mb), .name = "class_rate", .type = CT_UINT, .def = "50",
	  .min = 1, .max = 100000,
	  .doc = "Most MB/s the class mover (objfsctl class move) reads and re-encodes." },
	{ CLUSTER(log_level), .name = "log_level", .type = CT_LEVEL, .def = "info",
	  .doc = "Lowest level logged: debug, info, warn or error." },
	{ CLUSTER(tls_ca), .name = "tls_ca", .type = CT_STRING, .def = "",
	  .min = 0, .max = CFG_TLS_PATH_MAX - 1, .check = cfg_check_optpath, .metavar = "FILE",
	  .doc = "PEM CA certificate that signed every node's; set: all requests use TLS." },
	{ NODE(addr), .name = "addr", .type = CT_STRING, .def = NULL,
	  .min = 1, .max = CFG_ADDR_MAX - 1, .check = cfg_check_addr,
	  .doc = "Address the node listens on, tcp://HOST:PORT; unique in the cluster." },
	{ NODE(zone), .name = "zone", .type = CT_STRING, .def = "default",
	  .min = 1, .max = CFG_ZONE_MAX - 1,
	  .doc = "Failure zone (rack, room); the fragments of a block spread over zones." },
	{ NODE(data_dir), .name = "data_dir", .type = CT_STRING, .def = NULL,
	  .min = 1, .max = PATH_MAX - 1, .check = cfg_check_abspath,
	  .doc = "Absolute path of the directory holding the node's fragments and shards." },
	{ NODE(raft_port), .name = "raft_port", .type = CT_UINT, .def = "0",
	  .min = 0, .max = 65535,
	  .doc = "TCP port for metadata replication on the addr host; 0 means addr's port + 1000." },
	{ NODE(capacity), .name = "capacity", .type = CT_SIZE, .def = "0",
	  .min = 0, .max = UINT64_MAX,
	  .doc = "Bytes the node may use; 0 means the size of its file system." },
	{ NODE(tls_cert), .name = "tls_cert", .type = CT_STRING, .def = "",
	  .min = 0, .max = CFG_TLS_PATH_MAX - 1, .check = cfg_check_optpath, .metavar = "FILE",
	  .doc = "PEM certificate of the node, signed by tls_ca; needed with tls_ca." },
	{ NODE(tls_key), .name = "tls_key", .type = CT_STRING, .def = "",
	  .min = 0, .max = CFG_TLS_PATH_MAX - 1, .check = cfg_check_optpath, .metavar = "FILE",
	  .doc = "PEM private key of tls_cert; keep it private." },
	{ NODE(metrics_addr), .name = "metrics_addr", .type = CT_STRING, .def = "",
	  .min = 0, .max = CFG_ADDR_MAX - 1, .check = cfg_check_hostport,
	  .doc = "HOST:PORT serving Prometheus metrics at /metrics over HTTP; empty: off." },
	{ NODE(tags), .name = "class", .type = CT_STRING, .def = "",
	  .min = 0, .max = CFG_TAGS_MAX - 1, .check = cfg_check_tags,
	  .doc = "The node's tags, comma-separated (ssd,fast); a [class] uses the nodes with its tag." },
	/* [class NAME]: no defaults, so a class says what it is. */
	{ CLASS(id), .name = "id", .type = CT_UINT, .def = NULL,
	  .min = 1, .max = 255,
	  .doc = "Number stored in every block of the class; never reuse or change one in use." },
	{ CLASS(k), .name = "k", .type = CT_UINT, .def = NULL,
	  .min = 1, .max = EC_MAX_K,
	  .doc = "Data fragments per block of the class." },
	{ CLASS(m), .name = "m", .type = CT_UINT, .def = NULL,
	  .min = 0, .max = EC_MAX_M,
	  .doc = "Parity fragments per block of the class." },
	{ CLASS(tag), .name = "tag", .type = CT_STRING, .def = NULL,
	  .min = 1, .max = CFG_ZONE_MAX - 1, .check = cfg_check_tags,
	  .doc = "The class's blocks go to the nodes whose class key lists this tag." },
	/* Mount options.  The timeouts trade freshness for round trips: one
	 * second is what a user notices least and saves most repeated stats;
	 * a missing name is remembered as long as a present one. */
	{ MOUNT(conf), .name = "conf", .type = CT_STRING, .def = "",
	  .min = 0, .max = PATH_MAX - 1, .metavar = "FILE",
	  .doc = "Cluster config; default $OBJFS_CONF, else /etc/objfs/objfs.conf." },
	{ MOUNT(attr_timeout), .name = "attr_timeout", .type = CT_SECONDS, .def = "1",
	  .min = 0, .max = 86400, .metavar = "S",
	  .doc = "Seconds the kernel may cache a file's attributes." },
	{ MOUNT(entry_timeout), .name = "entry_timeout", .type = CT_SECONDS, .def = "1",
	  .min = 0, .max = 86400, .metavar = "S",
	  .doc = "Seconds the kernel may cache a name lookup." },
	{ MOUNT(negative_timeout), .name = "negative_timeout", .type = CT_SECONDS, .def = "1",
	  .min = 0, .max = 86400, .metavar = "S",
	  .doc = "Seconds the kernel may remember that a name does not exist." },
	{ MOUNT(max_dirty), .name = "max_dirty", .type = CT_SIZE, .def = "256M",
	  .min = 0, .max = UINT64_MAX, .metavar = "SIZE",
	  .doc = "Write-back memory for all files; never less than two chunks." },
	{ MOUNT(cache_mb), .name = "cache_mb", .type = CT_UINT, .def = "256",
	  .min = 1, .max = 1 << 20, .metavar = "N",
	  .doc = "Block cache in memory, MiB: the most it grows to." },
	/* 64 MiB: 16 blocks of 4 MiB, room for a few streams' read-ahead and a
	 * hot set, while a mount that reads little holds little. */
	{ MOUNT(cache_min_mb), .name = "cache_min_mb", .type = CT_UINT, .def = "64",
	  .min = 0, .max = 1 << 20, .metavar = "N",
	  .doc = "Memory cache it starts at and shrinks to under memory pressure, MiB; "
		 "0 or cache_mb: fixed." },
	{ MOUNT(cache_policy), .name = "cache_policy", .type = CT_STRING, .def = "arc",
	  .min = 3, .max = 3, .check = cfg_check_policy, .metavar = "NAME",
	  .doc = "Block caches' replacement: arc (scans pass by the hot set) or lru." },
	/* 8 chunks of 4 MiB keep two prefetchers busy on a fast cluster; the
	 * window starts at one chunk, so a file read once costs one. */
	{ MOUNT(readahead), .name = "readahead", .type = CT_UINT, .def = "8",
	  .min = 0, .max = 64, .metavar = "N",
	  .doc = "Most chunks read ahead of a sequential reader (the window doubles from 1 "
		 "per chunk read in order); 0 turns read-ahead off." },
	{ MOUNT(kernel_readahead), .name = "kernel_readahead", .type = CT_SIZE, .def = "1M",
	  .min = 0, .max = 64 << 20, .metavar = "SIZE",
	  .doc = "Read-ahead window of the kernel for this mount (as root); 0 leaves the kernel's." },
	{ MOUNT(writeback_cache), .name = "writeback_cache", .type = CT_UINT, .def = "0",
	  .min = 0, .max = 1, .metavar = "0|1",
	  .doc = "1: the kernel gathers writes until close or fsync; sizes other mounts set go unseen." },
	{ MOUNT(uploaders), .name = "uploaders", .type = CT_UINT, .def = "4",
	  .min = 1, .max = 64, .metavar = "N",
	  .doc = "Threads that upload chunks in the background." },
	{ MOUNT(prefetchers), .name = "prefetchers", .type = CT_UINT, .def = "2",
	  .min = 1, .max = 64, .metavar = "N",
	  .doc = "Threads that fetch read-ahead blocks in the background." },
	{ MOUNT(max_threads), .name = "max_threads", .type = CT_UINT, .def = "16",
	  .min = 1, .max = 1024, .metavar = "N",
	  .doc = "Most threads serving FUSE requests at once." },
	{ MOUNT(log_level), .name = "log_level", .type = CT_LEVEL, .def = "",
	  .metavar = "LEVEL",
	  .doc = "debug, info, warn or error; default: the config's log_level." },
	{ MOUNT(cache_dir), .name = "cache_dir", .type = CT_STRING, .def = "",
	  .min = 0, .max = PATH_MAX - 1, .metavar = "DIR",
	  .doc = "Also keep blocks read on disk in DIR; default: no disk cache." },
	{ MOUNT(cache_dir_mb), .name = "cache_dir_mb", .type = CT_UINT, .def = "1024",
	  .min = 1, .max = 1u << 30, .metavar = "N",
	  .doc = "Bound of the disk cache, MiB." },
	{ MOUNT(key), .name = "key", .type = CT_STRING, .def = "",
	  .min = 0, .max = PATH_MAX - 1, .metavar = "FILE",
	  .doc = "Client key file (objfsctl key create); a ro key mounts read-only. "
		 "Default: the config's secret." },
	{ MOUNT(metrics), .name = "metrics", .type = CT_STRING, .def = "",
	  .min = 0, .max = CFG_ADDR_MAX - 1, .check = cfg_check_hostport, .metavar = "HOST:PORT",
	  .doc = "Serve Prometheus metrics at http://HOST:PORT/metrics; default: off." },
};
/* clang-format on */

#define CFG_N_KEYS OBJ_ARRAY_LEN(cfg_keys)

/* Parser state.  set[] holds the line where each key was set (0: not yet),
 * for duplicate and missing-key messages; cfg is the copy being filled. */
struct cfg_parse {
	const char *name; /* file name in messages */
	char *err;
	size_t errlen;
	enum cfg_sect sect;
	size_t node;	       /* index of the current [node] */
	size_t cls;	       /* index of the current [class] */
	unsigned cluster_line; /* line of [cluster], 0 when absent */
	unsigned cluster_set[CFG_N_KEYS];
	unsigned node_line[CFG_MAX_NODES];
	unsigned node_set[CFG_MAX_NODES][CFG_N_KEYS];
	unsigned class_line[CFG_MAX_CLASSES];
	unsigned class_set[CFG_MAX_CLASSES][CFG_N_KEYS];
	struct cfg cfg;
};

/* Writes "NAME:LINE: msg" (or "NAME: msg" when line is 0) and returns -OBJ_ECONFIG. */
__attribute__((format(printf, 3, 4))) static int cfg_fail(struct cfg_parse *p, unsigned line,
							  const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->err == NULL || p->errlen == 0) {
		return -OBJ_ECONFIG;
	}
	if (line > 0) {
		n = snprintf(p->err, p->errlen, "%s:%u: ", p->name, line);
	} else {
		n = snprintf(p->err, p->errlen, "%s: ", p->name);
	}
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -OBJ_ECONFIG;
}

static char *cfg_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s)) {
		s++;
	}
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1])) {
		end--;
	}
	*end = '\0';
	return s;
}

/* --- value parsers -------------------------------------------------------- */

/* Unsigned decimal, digits only: a sign or space is an error, not ignored. */
static int cfg_parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0') {
		return -EINVAL;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9') {
			return -EINVAL;
		}
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
			return -ERANGE;
		}
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int cfg_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	uint64_t v = 0, mul = 1;
	const char *u;

	if (s == NULL || *s < '0' || *s > '9') {
		return -EINVAL;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) {
			return -ERANGE;
		}
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s != '\0' && (u = strchr(units, toupper((unsigned char)*s))) != NULL) {
		mul = (uint64_t)1 << (10 * (u - units + 1));
		s++;
		if (*s == 'i') {
			s++;
			if (*s != 'B') {
				return -EINVAL; /* "4Ki" */
			}
		}
	}
	if (*s == 'B') {
		s++;
	}
	if (*s != '\0') {
		return -EINVAL;
	}
	if (v > UINT64_MAX / mul) {
		return -ERANGE;
	}
	*out = v * mul;
	return 0;
}

/* Shortest exact text for a size: 65536 -> "64K", 5000 -> "5000". */
static void cfg_fmt_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int u = -1;

	while (v != 0 && u < 3 && v % 1024 == 0) {
		v /= 1024;
		u++;
	}
	if (u < 0) {
		snprintf(buf, len, "%llu", (unsigned long long)v);
	} else {
		snprintf(buf, len, "%llu%c", (unsigned long long)v, units[u]);
	}
}

static void cfg_fmt_value(const struct cfg_key *k, uint64_t v, char *buf, size_t len)
{
	if (k->type == CT_SIZE) {
		cfg_fmt_size(v, buf, len);
	} else {
		snprintf(buf, len, "%llu", (unsigned long long)v);
	}
}

static int cfg_parse_profile(const char *v, struct ec_profile *out)
{
	struct ec_profile p;

	if (ec_profile_parse(v, &p) < 0 || p.k < 1 || p.k + p.m > 255) {
		return -EINVAL;
	}
	*out = p;
	return 0;
}

/* "4+2:1M,6+3:100M,8+4": increasing sizes, the last tier without one.
 * Items are trimmed; an empty item is an error, not skipped. */
static int cfg_parse_tiers(const char *v, struct cfg *c, char *why, size_t whylen)
{
	char buf[512], *rest = buf, *item;
	size_t n = 0;

	c->n_tiers = 0;
	if (v[0] == '\0') {
		return 0; /* no tiers: ec_profile for every size */
	}
	if (strlen(v) >= sizeof(buf)) {
		snprintf(why, whylen, "too long (%zu bytes)", strlen(v));
		return -EINVAL;
	}
	strcpy(buf, v);
	while ((item = strsep(&rest, ",")) != NULL) {
		struct cfg_profile_tier *t = &c->tiers[n];
		char *colon = strchr(item, ':');
		uint64_t max = UINT64_MAX;

		if (n > 0 && c->tiers[n - 1].max_size == UINT64_MAX) {
			snprintf(why, whylen, "only the last tier may omit its size (got '%s')", v);
			return -EINVAL;
		}
		if (n == CFG_MAX_PROFILES) {
			snprintf(why, whylen, "at most %d tiers (got '%s')", CFG_MAX_PROFILES, v);
			return -EINVAL;
		}
		if (colon != NULL) {
			*colon = '\0';
			if (cfg_parse_size(cfg_trim(colon + 1), &max) < 0 || max == 0 ||
			    max == UINT64_MAX) {
				snprintf(why, whylen, "bad size in tier %zu (got '%s')", n + 1, v);
				return -EINVAL;
			}
			if (n > 0 && max <= c->tiers[n - 1].max_size) {
				snprintf(why, whylen, "tier sizes must increase (got '%s')", v);
				return -EINVAL;
			}
		}
		if (cfg_parse_profile(cfg_trim(item), &t->profile) < 0) {
			snprintf(why, whylen, "bad profile in tier %zu (got '%s')", n + 1, v);
			return -EINVAL;
		}
		t->max_size = max;
		n++;
	}
	if (n == 0 || c->tiers[n - 1].max_size != UINT64_MAX) {
		snprintf(why, whylen, "the last tier must have no size (got '%s')", v);
		return -EINVAL;
	}
	c->n_tiers = n;
	return 0;
}

/* HOST:PORT of an HTTP endpoint, or empty (off). */
static int cfg_check_policy(const char *v, char *why, size_t whylen)
{
	if (strcmp(v, "arc") != 0 && strcmp(v, "lru") != 0) {
		snprintf(why, whylen, "must be arc or lru (got '%s')", v);
		return -EINVAL;
	}
	return 0;
}

static int cfg_check_hostport(const char *v, char *why, size_t whylen)
{
	const char *colon = strrchr(v, ':');
	uint64_t port;

	if (v[0] == '\0') {
		return 0;
	}
	if (colon == NULL || colon == v || strpbrk(v, " \t/") != NULL) {
		snprintf(why, whylen, "must be HOST:PORT (got '%s')", v);
		return -EINVAL;
	}
	if (cfg_parse_uint(colon + 1, &port) < 0 || port < 1 || port > 65535) {
		snprintf(why, whylen, "port must be between 1 and 65535 (got '%s')", v);
		return -EINVAL;
	}
	return 0;
}

static int cfg_check_addr(const char *v, char *why, size_t whylen)
{
	const char *host = v + strlen("tcp://"), *colon;
	uint64_t port;

	if (strncmp(v, "tcp://", strlen("tcp://")) != 0) {
		snprintf(why, whylen, "must start with tcp:// (got '%s')", v);
		return -EINVAL;
	}
	colon = strrchr(host, ':');
	if (colon == NULL || colon == host || strpbrk(host, " \t/") != NULL ||
	    (host[0] == '[' && colon[-1] != ']')) {
		snprintf(why, whylen, "must be tcp://HOST:PORT (got '%s')", v);
		return -EINVAL;
	}
	if (cfg_parse_uint(colon + 1, &port) < 0 || port < 1 || port > 65535) {
		snprintf(why, whylen, "port must be between 1 and 65535 (got '%s')", v);
		return -EINVAL;
	}
	return 0;
}

/* Tags: letters, digits, '-', '_' and '.', separated by single commas. */
static int cfg_check_tags(const char *v, char *why, size_t whylen)
{
	for (const char *c = v; *c != '\0'; c++) {
		int sep = *c == ',';

		if (sep && (c == v || c[1] == '\0' || c[1] == ',')) {
			snprintf(why, whylen, "empty tag in '%s'", v);
			return -EINVAL;
		}
		if (!sep && !isalnum((unsigned char)*c) && *c != '-' && *c != '_' && *c != '.') {
			snprintf(why, whylen, "tags are letters, digits, '-', '_', '.' (got '%s')",
				 v);
			return -EINVAL;
		}
	}
	return 0;
}

static int cfg_check_optpath(const char *v, char *why, size_t whylen)
{
	return v[0] == '\0' ? 0 : cfg_check_abspath(v, why, whylen);
}

static int cfg_check_abspath(const char *v, char *why, size_t whylen)
{
	if (v[0] != '/') {
		snprintf(why, whylen, "must be an absolute path (got '%s')", v);
		return -EINVAL;
	}
	return 0;
}

/* Parses text for key k into its field under base (struct cfg or struct
 * cfg_node); c is the whole config for the cluster-only types.  On error
 * writes the reason, ending with what was given, to why. */
static int cfg_set_value(const struct cfg_key *k, const char *v, void *base, struct cfg *c,
			 char *why, size_t whylen)
{
	char *field = (char *)base + k->off;
	size_t len = strlen(v);
	char lo[32], hi[32];
	enum log_level lvl;
	uint64_t n = 0;
	int rc;

	switch (k->type) {
	case CT_STRING:
		if (len < k->min || len > k->max) {
			snprintf(why, whylen, "must be %llu to %llu bytes long (got %zu bytes)",
				 (unsigned long long)k->min, (unsigned long long)k->max, len);
			return -EINVAL;
		}
		if (k->check != NULL && k->check(v, why, whylen) < 0) {
			return -EINVAL;
		}
		memcpy(field, v, len + 1);
		return 0;
	case CT_SECRET:
		/* Never echo a secret into a message that may reach a log. */
		if (len < k->min || len > k->max) {
			snprintf(why, whylen, "must be %llu to %llu bytes long (got %zu bytes)",
				 (unsigned long long)k->min, (unsigned long long)k->max, len);
			return -EINVAL;
		}
		memcpy(c->secret, v, len);
		c->secret_len = len;
		return 0;
	case CT_SIZE:
	case CT_UINT:
		rc = k->type == CT_SIZE ? cfg_parse_size(v, &n) : cfg_parse_uint(v, &n);
		if (rc == -EINVAL) {
			snprintf(why, whylen, "not %s (got '%s')",
				 k->type == CT_SIZE ? "a size such as 4096, 64K or 4MiB"
						    : "a number",
				 v);
			return rc;
		}
		cfg_fmt_value(k, k->min, lo, sizeof(lo));
		cfg_fmt_value(k, k->max, hi, sizeof(hi));
		if (rc < 0 || n < k->min || n > k->max) {
			snprintf(why, whylen, "must be between %s and %s (got '%s')", lo, hi, v);
			return -ERANGE;
		}
		if (k->align != 0 && n % k->align != 0) {
			cfg_fmt_value(k, k->align, lo, sizeof(lo));
			snprintf(why, whylen, "must be a multiple of %s (got '%s')", lo, v);
			return -EINVAL;
		}
		if (k->size == sizeof(uint32_t)) {
			uint32_t v32 = (uint32_t)n; /* the table's max keeps n in range */

			memcpy(field, &v32, sizeof(v32));
		} else {
			memcpy(field, &n, sizeof(n));
		}
		return 0;
	case CT_PROFILE:
		if (cfg_parse_profile(v, (struct ec_profile *)(void *)field) < 0) {
			snprintf(why, whylen, "not a K+M profile such as 4+2 (got '%s')", v);
			return -EINVAL;
		}
		return 0;
	case CT_TIERS:
		return cfg_parse_tiers(v, c, why, whylen);
	case CT_SECONDS: {
		char *end;
		double d;

		errno = 0;
		d = strtod(v, &end);
		if (errno != 0 || end == v || *end != '\0' || !(d >= (double)k->min) ||
		    !(d <= (double)k->max)) {
			snprintf(why, whylen, "expected seconds in %llu..%llu (got '%s')",
				 (unsigned long long)k->min, (unsigned long long)k->max, v);
			return -EINVAL;
		}
		memcpy(field, &d, sizeof(d));
		return 0;
	}
	case CT_LEVEL:
		if (log_parse_level(v, &lvl) < 0) {
			snprintf(why, whylen, "must be debug, info, warn or error (got '%s')", v);
			return -EINVAL;
		}
		snprintf(field, k->size, "%s", v);
		for (; *field != '\0'; field++) {
			*field = (char)tolower((unsigned char)*field);
		}
		return 0;
	}
	snprintf(why, whylen, "unknown type");
	return -EINVAL;
}

/* --- the parser ----------------------------------------------------------- */

static const struct cfg_key *cfg_find_key(enum cfg_sect sect, const char *name)
{
	for (size_t i = 0; i < CFG_N_KEYS; i++) {
		if (cfg_keys[i].sect == sect && strcmp(cfg_keys[i].name, name) == 0) {
			return &cfg_keys[i];
		}
	}
	return NULL;
}

/* Fills the defaults of one section.  The table is ours, so a default that
 * does not parse is a bug in this file, not bad input. */
static void cfg_apply_defaults(enum cfg_sect sect, void *base, struct cfg *c)
{
	char why[256];

	for (size_t i = 0; i < CFG_N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->sect == sect && k->def != NULL &&
		    cfg_set_value(k, k->def, base, c, why, sizeof(why)) < 0) {
			OBJ_PANIC("default of key '%s' rejected: %s", k->name, why);
		}
	}
}

/* "[class NAME]": names are what objfsctl class and directories use. */
static int cfg_class_section(struct cfg_parse *p, unsigned line, const char *name)
{
	size_t len = strlen(name);
	struct cfg_class *cl;

	if (len == 0 || len >= CFG_CLASS_NAME_MAX || strcmp(name, "default") == 0 ||
	    cfg_check_tags(name, NULL, 0) < 0 || strchr(name, ',') != NULL) {
		return cfg_fail(p, line,
				"section [class %s]: the name must be 1 to %d letters, digits, "
				"'-', '_' or '.', and not 'default'",
				name, CFG_CLASS_NAME_MAX - 1);
	}
	for (size_t i = 0; i < p->cfg.n_classes; i++) {
		if (strcmp(p->cfg.classes[i].name, name) == 0) {
			return cfg_fail(p, line, "duplicate section [class %s] (first at line %u)",
					name, p->class_line[i]);
		}
	}
	if (p->cfg.n_classes == CFG_MAX_CLASSES) {
		return cfg_fail(p, line, "more than %d classes", CFG_MAX_CLASSES);
	}
	p->cls = p->cfg.n_classes++;
	p->class_line[p->cls] = line;
	cl = &p->cfg.classes[p->cls];
	memcpy(cl->name, name, len + 1);
	p->sect = SECT_CLASS;
	return 0;
}

/* "[cluster]", "[node ID]" or "[class NAME]". */
static int cfg_section(struct cfg_parse *p, unsigned line, char *s)
{
	size_t len = strlen(s);
	char *inner, *id;
	uint64_t n;

	if (s[len - 1] != ']') {
		return cfg_fail(p, line, "section header '%s' lacks ']'", s);
	}
	s[len - 1] = '\0';
	inner = cfg_trim(s + 1);
	if (strcmp(inner, "cluster") == 0) {
		if (p->cluster_line != 0) {
			return cfg_fail(p, line, "duplicate section [cluster] (first at line %u)",
					p->cluster_line);
		}
		p->cluster_line = line;
		p->sect = SECT_CLUSTER;
		return 0;
	}
	if (strncmp(inner, "class", 5) == 0 && isspace((unsigned char)inner[5])) {
		return cfg_class_section(p, line, cfg_trim(inner + 5));
	}
	if (strncmp(inner, "node", 4) != 0 || !isspace((unsigned char)inner[4])) {
		return cfg_fail(p, line,
				"unknown section '[%s]' (expected [cluster], [node ID] or "
				"[class NAME])",
				inner);
	}
	id = cfg_trim(inner + 4);
	if (cfg_parse_uint(id, &n) < 0 || n < 1 || n > CFG_NODE_ID_MAX) {
		return cfg_fail(p, line, "section [node %s]: id must be between 1 and %u", id,
				CFG_NODE_ID_MAX);
	}
	for (size_t i = 0; i < p->cfg.n_nodes; i++) {
		if (p->cfg.nodes[i].id == n) {
			return cfg_fail(p, line, "duplicate node id %llu (first at line %u)",
					(unsigned long long)n, p->node_line[i]);
		}
	}
	if (p->cfg.n_nodes == CFG_MAX_NODES) {
		return cfg_fail(p, line, "more than %d nodes", CFG_MAX_NODES);
	}
	p->node = p->cfg.n_nodes++;
	p->node_line[p->node] = line;
	p->cfg.nodes[p->node].id = (uint32_t)n;
	cfg_apply_defaults(SECT_NODE, &p->cfg.nodes[p->node], &p->cfg);
	p->sect = SECT_NODE;
	return 0;
}

/* Removes one pair of surrounding double quotes; nothing inside is special. */
static int cfg_unquote(char **v)
{
	size_t len = strlen(*v);

	if ((*v)[0] != '"') {
		return 0;
	}
	if (len < 2 || (*v)[len - 1] != '"') {
		return -EINVAL;
	}
	(*v)[len - 1] = '\0';
	(*v)++;
	return 0;
}

static int cfg_assign(struct cfg_parse *p, unsigned line, char *s)
{
	char *eq = strchr(s, '='), *key, *val, why[512];
	const struct cfg_key *k;
	unsigned *set;
	void *base;

	if (eq == NULL) {
		return cfg_fail(p, line, "missing '=' in '%.64s' (expected key = value)", s);
	}
	*eq = '\0';
	key = cfg_trim(s);
	val = cfg_trim(eq + 1);
	if (key[0] == '\0') {
		return cfg_fail(p, line, "missing key before '='");
	}
	if (p->sect == SECT_NONE) {
		return cfg_fail(p, line, "key '%.64s' before any [cluster] or [node ID] section",
				key);
	}
	k = cfg_find_key(p->sect, key);
	if (k == NULL) {
		static const enum cfg_sect sects[] = {SECT_CLUSTER, SECT_NODE, SECT_CLASS};
		static const char *const names[] = {"cluster", "node ID", "class NAME"};

		for (size_t i = 0; i < OBJ_ARRAY_LEN(sects); i++) {
			if (sects[i] != p->sect && cfg_find_key(sects[i], key) != NULL) {
				return cfg_fail(p, line, "key '%s' belongs in a [%s] section", key,
						names[i]);
			}
		}
		if (p->sect == SECT_CLUSTER) {
			return cfg_fail(p, line, "unknown key '%.64s' in [cluster]", key);
		}
		if (p->sect == SECT_CLASS) {
			return cfg_fail(p, line, "unknown key '%.64s' in [class %s]", key,
					p->cfg.classes[p->cls].name);
		}
		return cfg_fail(p, line, "unknown key '%.64s' in [node %u]", key,
				p->cfg.nodes[p->node].id);
	}
	if (p->sect == SECT_CLUSTER) {
		set = &p->cluster_set[k - cfg_keys];
		base = &p->cfg;
	} else if (p->sect == SECT_CLASS) {
		set = &p->class_set[p->cls][k - cfg_keys];
		base = &p->cfg.classes[p->cls];
	} else {
		set = &p->node_set[p->node][k - cfg_keys];
		base = &p->cfg.nodes[p->node];
	}
	if (*set != 0) {
		return cfg_fail(p, line, "key '%s': set twice in this section (first at line %u)",
				k->name, *set);
	}
	if (cfg_unquote(&val) < 0) {
		return cfg_fail(p, line, "key '%s': unterminated quote", k->name);
	}
	if (cfg_set_value(k, val, base, &p->cfg, why, sizeof(why)) < 0) {
		return cfg_fail(p, line, "key '%s': %s", k->name, why);
	}
	*set = line;
	return 0;
}

/* Each class: a distinct id, a codec ISA-L can build, and enough tagged
 * nodes to hold every fragment of a block on a node of its own (a class
 * that cannot is refused here rather than shrunk: its blocks would
 * silently have less redundancy than the operator asked for). */
static int cfg_finish_classes(struct cfg_parse *p)
{
	struct cfg *c = &p->cfg;

	for (size_t i = 0; i < c->n_classes; i++) {
		struct cfg_class *cl = &c->classes[i];

		for (size_t j = 0; j < i; j++) {
			if (c->classes[j].id == cl->id) {
				return cfg_fail(p, p->class_line[i],
						"section [class %s]: id %u is already class %s's",
						cl->name, cl->id, c->classes[j].name);
			}
		}
		if (cl->k + cl->m > EC_MAX_FRAGS) {
			return cfg_fail(p, p->class_line[i],
					"section [class %s]: k + m must be at most %d", cl->name,
					EC_MAX_FRAGS);
		}
		cl->ec.k = (uint8_t)cl->k;
		cl->ec.m = (uint8_t)cl->m;
		cl->n_nodes = 0;
		for (size_t n = 0; n < c->n_nodes; n++) {
			cl->n_nodes += (uint32_t)cfg_node_has_tag(&c->nodes[n], cl->tag);
		}
		if (cl->n_nodes < cl->k + cl->m) {
			return cfg_fail(
			    p, p->class_line[i],
			    "section [class %s]: %u+%u needs %u nodes with 'class = %s', "
			    "the config has %u",
			    cl->name, cl->k, cl->m, cl->k + cl->m, cl->tag, cl->n_nodes);
		}
	}
	return 0;
}

/* Checks that need the whole file: required keys, node count, unique
 * addresses; then numbers the zones in order of first appearance. */
static int cfg_finish(struct cfg_parse *p)
{
	const struct cfg_key *addr = cfg_find_key(SECT_NODE, "addr");
	struct cfg *c = &p->cfg;

	for (size_t i = 0; i < CFG_N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->def != NULL) {
			continue;
		}
		if (k->sect == SECT_CLUSTER && p->cluster_line == 0) {
			return cfg_fail(p, 0, "no [cluster] section (holds required key '%s')",
					k->name);
		}
		if (k->sect == SECT_CLUSTER && p->cluster_set[i] == 0) {
			return cfg_fail(p, p->cluster_line,
					"section [cluster]: missing required key '%s'", k->name);
		}
		for (size_t n = 0; k->sect == SECT_NODE && n < c->n_nodes; n++) {
			if (p->node_set[n][i] == 0) {
				return cfg_fail(p, p->node_line[n],
						"section [node %u]: missing required key '%s'",
						c->nodes[n].id, k->name);
			}
		}
		for (size_t n = 0; k->sect == SECT_CLASS && n < c->n_classes; n++) {
			if (p->class_set[n][i] == 0) {
				return cfg_fail(p, p->class_line[n],
						"section [class %s]: missing required key '%s'",
						c->classes[n].name, k->name);
			}
		}
	}
	if (c->n_nodes == 0) {
		return cfg_fail(p, 0, "no [node ID] section: a cluster needs at least one node");
	}
	for (size_t i = 0; i < c->n_nodes; i++) {
		for (size_t j = 0; j < i; j++) {
			if (strcmp(c->nodes[i].addr, c->nodes[j].addr) == 0) {
				return cfg_fail(p, p->node_set[i][addr - cfg_keys],
						"key 'addr': '%s' is already used by [node %u]",
						c->nodes[i].addr, c->nodes[j].id);
			}
		}
	}
	c->n_zones = 0;
	for (size_t i = 0; i < c->n_nodes; i++) {
		size_t first = 0;

		while (strcmp(c->nodes[first].zone, c->nodes[i].zone) != 0) {
			first++; /* stops at i at the latest */
		}
		if (first < i) {
			c->nodes[i].zone_idx = c->nodes[first].zone_idx;
		} else {
			c->nodes[i].zone_idx = (uint32_t)c->n_zones++;
		}
	}
	return cfg_finish_classes(p);
}

/* Parses text, which it may modify, into p->cfg. */
static int cfg_parse_text(struct cfg_parse *p, char *text)
{
	unsigned line = 0;
	char *next = text;
	int rc;

	cfg_apply_defaults(SECT_CLUSTER, &p->cfg, &p->cfg);
	while (next != NULL) {
		char *s = next, *nl = strchr(next, '\n');

		line++;
		if (nl != NULL) {
			*nl = '\0';
			next = nl + 1;
		} else {
			next = NULL;
		}
		s = cfg_trim(s); /* also drops the '\r' of CRLF files */
		if (s[0] == '\0' || s[0] == '#' || s[0] == ';') {
			continue;
		}
		rc = s[0] == '[' ? cfg_section(p, line, s) : cfg_assign(p, line, s);
		if (rc < 0) {
			return rc;
		}
	}
	return cfg_finish(p);
}

/* Shared by both loaders: text is a heap copy the parser may modify. */
static int cfg_load(char *text, const char *name, const char *path, struct cfg *out, char *err,
		    size_t errlen)
{
	struct cfg_parse *p = calloc(1, sizeof(*p)); /* ~1.2 MiB: too big for a stack */
	int rc;

	if (p == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	p->name = name;
	p->err = err;
	p->errlen = errlen;
	rc = cfg_parse_text(p, text);
	if (rc == 0) {
		snprintf(p->cfg.path, sizeof(p->cfg.path), "%s", path);
		memcpy(out, &p->cfg, sizeof(*out));
	}
	free(p);
	return rc;
}

int cfg_load_string(const char *text, const char *name, struct cfg *out, char *err, size_t errlen)
{
	char *copy;
	int rc;

	if (errlen > 0) {
		err[0] = '\0';
	}
	if (name == NULL) {
		name = "<embedded>";
	}
	copy = strdup(text);
	if (copy == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	rc = cfg_load(copy, name, "<embedded>", out, err, errlen);
	free(copy);
	return rc;
}

/* Reads at most CFG_FILE_MAX bytes plus one, to tell "too big" from "just fits". */
static int cfg_read_file(const char *path, char **out, size_t *len)
{
	size_t cap = 16384, n = 0;
	char *buf, *tmp;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	buf = malloc(cap);
	if (buf == NULL) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 == cap) {
			cap = cap * 2 > CFG_FILE_MAX + 2 ? CFG_FILE_MAX + 2 : cap * 2;
			tmp = realloc(buf, cap);
			if (tmp == NULL) {
				rc = -ENOMEM;
				break;
			}
			buf = tmp;
		}
		r = fio_read_full(fd, buf + n, cap - 1 - n, FIO_CUR);
		if (r < 0) {
			rc = (int)r;
			break;
		}
		n += (size_t)r;
		if (n > CFG_FILE_MAX) {
			rc = -EFBIG;
			break;
		}
		if (n + 1 < cap) {
			break; /* short of the buffer: the end of the file */
		}
	}
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int cfg_load_file(const char *path, struct cfg *out, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (errlen > 0) {
		err[0] = '\0';
	}
	if (strlen(path) >= PATH_MAX) {
		snprintf(err, errlen, "%.64s...: path too long", path);
		return -ENAMETOOLONG;
	}
	rc = cfg_read_file(path, &text, &len);
	if (rc == -EFBIG) {
		snprintf(err, errlen, "%s: larger than %u bytes; not a config file", path,
			 CFG_FILE_MAX);
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(-rc));
		return rc;
	}
	if (strlen(text) != len) {
		/* The line of the NUL, for someone looking at a corrupt file. */
		unsigned line = 1;

		for (const char *s = text; *s != '\0'; s++) {
			line += *s == '\n';
		}
		snprintf(err, errlen, "%s:%u: NUL byte in file", path, line);
		free(text);
		return -OBJ_ECONFIG;
	}
	rc = cfg_load(text, path, path, out, err, errlen);
	free(text);
	return rc;
}

const struct cfg_node *cfg_node_by_id(const struct cfg *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_nodes; i++) {
		if (c->nodes[i].id == id) {
			return &c->nodes[i];
		}
	}
	return NULL;
}

const struct cfg_class *cfg_class_by_name(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_classes; i++) {
		if (strcmp(c->classes[i].name, name) == 0) {
			return &c->classes[i];
		}
	}
	return NULL;
}

const struct cfg_class *cfg_class_by_id(const struct cfg *c, uint32_t id)
{
	for (size_t i = 0; i < c->n_classes && id != 0; i++) {
		if (c->classes[i].id == id) {
			return &c->classes[i];
		}
	}
	return NULL;
}

int cfg_node_has_tag(const struct cfg_node *n, const char *tag)
{
	size_t len = strlen(tag);

	for (const char *t = n->tags; len > 0 && *t != '\0';) {
		const char *end = strchr(t, ',');
		size_t tl = end != NULL ? (size_t)(end - t) : strlen(t);

		if (tl == len && memcmp(t, tag, len) == 0) {
			return 1;
		}
		t += tl + (end != NULL);
	}
	return 0;
}

struct ec_profile cfg_profile_for(const struct cfg *c, uint64_t file_size)
{
	for (size_t i = 0; i < c->n_tiers; i++) {
		if (c->tiers[i].max_size >= file_size) {
			return c->tiers[i].profile;
		}
	}
	return c->ec;
}

/* --- documentation -------------------------------------------------------- */

/* "size; default 4M; 64K..64M; multiple of 4K": the line objfs.conf(5)
 * repeats under each key, so the page and --help cannot drift apart. */
static void cfg_key_summary(const struct cfg_key *k, char *buf, size_t len)
{
	char lo[32], hi[32];
	size_t n;

	n = (size_t)snprintf(buf, len, "%s; ", cfg_type_names[k->type]);
	if (k->def == NULL) {
		n += (size_t)snprintf(buf + n, len - n, "required");
	} else if (k->def[0] == '\0') {
		n += (size_t)snprintf(buf + n, len - n, "optional");
	} else {
		n += (size_t)snprintf(buf + n, len - n, "default %s", k->def);
	}
	switch (k->type) {
	case CT_STRING:
	case CT_SECRET:
		snprintf(buf + n, len - n, "; %llu..%llu bytes", (unsigned long long)k->min,
			 (unsigned long long)k->max);
		break;
	case CT_SIZE:
	case CT_UINT:
		if (k->min == 0 && k->max == UINT64_MAX) {
			break;
		}
		cfg_fmt_value(k, k->min, lo, sizeof(lo));
		cfg_fmt_value(k, k->max, hi, sizeof(hi));
		n += (size_t)snprintf(buf + n, len - n, "; %s..%s", lo, hi);
		if (k->align != 0) {
			cfg_fmt_value(k, k->align, lo, sizeof(lo));
			snprintf(buf + n, len - n, "; multiple of %s", lo);
		}
		break;
	case CT_LEVEL:
		snprintf(buf + n, len - n, "; debug|info|warn|error");
		break;
	case CT_SECONDS:
		snprintf(buf + n, len - n, "; %llu..%llu", (unsigned long long)k->min,
			 (unsigned long long)k->max);
		break;
	case CT_PROFILE:
	case CT_TIERS:
		break;
	}
}

void cfg_print_keys(FILE *f)
{
	enum cfg_sect sects[] = {SECT_CLUSTER, SECT_NODE, SECT_CLASS};
	static const char *const heads[] = {"cluster", "node ID", "class NAME"};
	char sum[128];

	fprintf(f, "Configuration keys (see objfs.conf(5)):\n");
	for (size_t s = 0; s < OBJ_ARRAY_LEN(sects); s++) {
		fprintf(f, "[%s]\n", heads[s]);
		for (size_t i = 0; i < CFG_N_KEYS; i++) {
			if (cfg_keys[i].sect != sects[s]) {
				continue;
			}
			cfg_key_summary(&cfg_keys[i], sum, sizeof(sum));
			fprintf(f, "  %-14s %s\n", cfg_keys[i].name, sum);
			fprintf(f, "  %-14s %s\n", "", cfg_keys[i].doc);
		}
	}
}

/* --- mount options -------------------------------------------------------- */

void cfg_mount_defaults(struct cfg_mount *m)
{
	char why[256];

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < CFG_N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->sect == SECT_MOUNT && k->def[0] != '\0' &&
		    cfg_set_value(k, k->def, m, NULL, why, sizeof(why)) < 0) {
			OBJ_PANIC("default of mount option '%s' rejected: %s", k->name, why);
		}
	}
}

int cfg_mount_set(struct cfg_mount *m, const char *name, const char *value, char *why,
		  size_t whylen)
{
	const struct cfg_key *k = cfg_find_key(SECT_MOUNT, name);

	if (k == NULL) {
		snprintf(why, whylen, "unknown option");
		return -ENOENT;
	}
	return cfg_set_value(k, value, m, NULL, why, whylen);
}

void cfg_print_mount_opts(FILE *f)
{
	char sum[128], opt[64];

	for (size_t i = 0; i < CFG_N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];

		if (k->sect != SECT_MOUNT) {
			continue;
		}
		cfg_key_summary(k, sum, sizeof(sum));
		snprintf(opt, sizeof(opt), "-o %s=%s", k->name, k->metavar);
		fprintf(f, "  %-24s %s\n", opt, sum);
		fprintf(f, "  %-24s %s\n", "", k->doc);
	}
}

/* --- generated configs ---------------------------------------------------- */

/* Writes every key of a section not given in `given` as a commented default,
 * with its doc, so the generated file documents itself. */
void cfg_write_defaults(FILE *f, const char *section, const char *const *given)
{
	enum cfg_sect sect = strcmp(section, "node") == 0 ? SECT_NODE : SECT_CLUSTER;

	for (size_t i = 0; i < CFG_N_KEYS; i++) {
		const struct cfg_key *k = &cfg_keys[i];
		int skip = 0;

		for (const char *const *g = given; *g != NULL; g++) {
			skip |= strcmp(*g, k->name) == 0;
		}
		if (k->sect != sect || skip || k->def == NULL) {
			continue;
		}
		fprintf(f, "# %s\n#%s =%s%s\n", k->doc, k->name, k->def[0] != '\0' ? " " : "",
			k->def);
	}
}
