/* config.h: the cluster configuration shared by nodes, clients and objfsctl.
 * Owns parsing of the INI-style file and the table of known keys (from
 * which the parser, --help texts and objfs.conf(5) agree).  Never touches
 * the network; the parsed struct is immutable and may be shared by threads.
 *
 * Format:
 *   # comment            ; comment
 *   [cluster]            global settings
 *   key = value
 *   [node ID]            one section per storage node, ID a positive integer
 *   addr = tcp://127.0.0.1:7401
 *   [class NAME]         a storage class: erasure code and the nodes it uses
 *   id = 1
 */
#ifndef OBJFS_CONFIG_H
#define OBJFS_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../proto/keys.h"
#include "ec.h"

#define CFG_MAX_NODES 256
#define CFG_MAX_PROFILES 8
#define CFG_ADDR_MAX 128
#define CFG_TLS_PATH_MAX 256 /* certificate paths (x2 per node: kept short) */
#define CFG_ZONE_MAX 64
#define CFG_SECRET_MAX 128
#define CFG_MAX_CLASSES 16
#define CFG_CLASS_NAME_MAX 32
#define CFG_TAGS_MAX 64 /* a node's comma-separated tags */

struct cfg_node {
	uint32_t id;		 /* [node ID] */
	char addr[CFG_ADDR_MAX]; /* nng URL the node listens on, tcp:// only */
	char zone[CFG_ZONE_MAX]; /* failure zone name, default "default" */
	uint32_t zone_idx;	 /* index of zone among distinct zone names */
	char data_dir[PATH_MAX]; /* where the node keeps fragments and shards */
	uint64_t capacity;	 /* bytes the node may use; 0 = the disk's size */
	uint32_t raft_port;	 /* replication port; 0 = addr's port + 1000 */
	/* HOST:PORT serving GET /metrics; "" = off */
	char metrics_addr[CFG_ADDR_MAX];
	char tls_cert[CFG_TLS_PATH_MAX]; /* PEM certificate, "" = no TLS */
	char tls_key[CFG_TLS_PATH_MAX];	 /* its PEM private key */
	char tags[CFG_TAGS_MAX];	 /* `class = ssd,fast`: the classes' tags it has */
};

/* A storage class ([class NAME]): blocks written in it use its erasure
 * code on the nodes carrying its tag only.  The id is what a block record
 * stores (manifest_block.cls), so it must never change once used; class 0
 * is the default class: the cluster's ec_profile/ec_tiers on every node. */
struct cfg_class {
	char name[CFG_CLASS_NAME_MAX];
	uint32_t id;		/* 1..255 */
	uint32_t k, m;		/* as parsed; ec below once checked */
	char tag[CFG_ZONE_MAX]; /* nodes whose tags include this one */
	struct ec_profile ec;	/* filled by the parser from k, m */
	uint32_t n_nodes;	/* nodes with the tag (>= k + m) */
};

/* A size-tiered EC profile: blocks of files up to max_size use profile. */
struct cfg_profile_tier {
	uint64_t max_size; /* UINT64_MAX for the last tier */
	struct ec_profile profile;
};

struct cfg {
	char path[PATH_MAX]; /* file it was read from, or "<embedded>" */
	char name[64];	     /* cluster name */
	uint8_t secret[CFG_SECRET_MAX];
	size_t secret_len;
	/* A client key (keyfile.h): when set, clients seal frames with it
	 * instead of the cluster secret, which is the nodes' own. */
	struct key_ent client_key;
	int has_client_key;
	/* TLS (common/tls.h): the CA that signed every node's certificate;
	 * when set, all client-node and node-node requests use TLS. */
	char tls_ca[CFG_TLS_PATH_MAX];
	struct ec_profile ec; /* default profile, "4+2" */
	struct cfg_profile_tier tiers[CFG_MAX_PROFILES];
	size_t n_tiers;		       /* 0: always use ec */
	uint32_t block_size;	       /* max bytes per block, default 4 MiB */
	uint32_t inline_max;	       /* files up to this size live in metadata */
	uint32_t timeout_ms;	       /* per-request timeout */
	uint32_t retries;	       /* retries of an idempotent request */
	uint32_t max_skew_s;	       /* accepted clock skew for replay protection */
	uint32_t meta_replicas;	       /* replicas of each metadata shard, default 3 */
	uint32_t election_ms;	       /* Raft election timeout of shard groups */
	uint32_t snapshot_entries;     /* Raft entries between snapshots */
	uint32_t snapshot_max_entries; /* ... at most, for a large shard */
	uint32_t snapshot_chunk;       /* bytes per snapshot chunk fetched */
	uint32_t commit_batch_ms;      /* applied records gathered per SQLite commit */
	uint32_t propose_batch;	       /* records per Raft entry at most */
	uint32_t free_grace_s;	       /* a block freed waits this long before deletion */
	uint32_t usage_interval;       /* seconds between a node's usage samples */
	double scrub_period_s;	       /* between automatic scrub passes; 0 = none */
	uint32_t scrub_rate_mb;	       /* scrub read limit, MB/s */
	double gc_grace_s;	       /* age before a stray fragment is deleted */
	double repair_after_s;	       /* a node down this long has its fragments rebuilt */
	uint32_t repair_rate_mb;       /* automatic repair write limit, MB/s */
	uint32_t lock_lease_ms;	       /* a mount's lock session without renewal */
	uint32_t class_rate_mb;	       /* the class mover's read limit, MB/s */
	char log_level[16];
	struct cfg_node nodes[CFG_MAX_NODES];
	size_t n_nodes;
	size_t n_zones;
	struct cfg_class classes[CFG_MAX_CLASSES];
	size_t n_classes;
};

/* Reads and validates path.  On error returns a negative errno
 * (-ENOENT, -EACCES, -OBJ_ECONFIG ...) and writes a message naming the
 * file, line and key to err. */
int cfg_load_file(const char *path, struct cfg *out, char *err, size_t errlen);
/* The same for text already in memory; name is used in messages. */
int cfg_load_string(const char *text, const char *name, struct cfg *out, char *err, size_t errlen);

/* Returns the node with this id, or NULL. */
const struct cfg_node *cfg_node_by_id(const struct cfg *c, uint32_t id);
/* The class with this name or id, or NULL (id 0, the default class, has
 * no entry). */
const struct cfg_class *cfg_class_by_name(const struct cfg *c, const char *name);
const struct cfg_class *cfg_class_by_id(const struct cfg *c, uint32_t id);
/* 1 when node n carries tag (one of its comma-separated tags), else 0. */
int cfg_node_has_tag(const struct cfg_node *n, const char *tag);

/* EC profile for a file (or object) of the given total size. */
struct ec_profile cfg_profile_for(const struct cfg *c, uint64_t file_size);

/* Writes every key of section ("cluster" or "node") that has a default
 * and is not named in given (NULL-terminated) as a commented
 * "#key = default" line under its doc, so a generated config documents
 * itself. */
void cfg_write_defaults(FILE *f, const char *section, const char *const *given);

/* Prints the documented key table (for --help and the man page). */
void cfg_print_keys(FILE *f);

/* Options of the objfs mount (-o NAME=VALUE), from the same key table as
 * the file: their defaults, checks, --help lines and objfs(1). */
struct cfg_mount {
	char conf[PATH_MAX];	 /* "" = $OBJFS_CONF or the default path */
	double attr_timeout;	 /* seconds */
	double entry_timeout;	 /* seconds */
	double negative_timeout; /* seconds */
	uint64_t max_dirty;	 /* bytes */
	uint32_t cache_mb;
	uint32_t cache_min_mb;	   /* 0 = cache_mb */
	char cache_policy[8];	   /* "arc" or "lru" */
	uint32_t readahead;	   /* chunks */
	uint64_t kernel_readahead; /* bytes; 0 = the kernel's */
	uint32_t writeback_cache;  /* 1: FUSE_CAP_WRITEBACK_CACHE */
	uint32_t uploaders;	   /* threads */
	uint32_t prefetchers;	   /* threads */
	uint32_t max_threads;	   /* FUSE workers */
	char log_level[16];	   /* "" = the config's */
	char cache_dir[PATH_MAX];  /* "" = no disk cache */
	char key[PATH_MAX];	   /* "" = the config's secret; else a key file */
	uint32_t cache_dir_mb;
	char metrics[CFG_ADDR_MAX]; /* HOST:PORT serving GET /metrics; "" = off */
};

/* Fills every option with its default. */
void cfg_mount_defaults(struct cfg_mount *m);
/* Sets option name to value.  Returns 0, -ENOENT when name is no mount
 * option of objfs (a FUSE or kernel option, perhaps), or -EINVAL/-ERANGE
 * with the reason in why. */
int cfg_mount_set(struct cfg_mount *m, const char *name, const char *value, char *why,
		  size_t whylen);
/* Prints "-o NAME=VALUE  summary" and the doc line of every mount option
 * (objfs --help; objfs(1) repeats each summary). */
void cfg_print_mount_opts(FILE *f);

/* Parses sizes such as "4096", "4K", "4KiB", "1M", "2G" (binary units). */
int cfg_parse_size(const char *s, uint64_t *out);

#endif
