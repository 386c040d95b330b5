/* shardsim.c: how a bucket's namespace would spread if it were split over
 * several Raft groups (ARCHITECTURE.md, "More than one shard per bucket"),
 * and how those shards and the data spread as a cluster grows from 6 to
 * 1,000 nodes -- a simulation over objfs's own placement (common/place.c),
 * no cluster needed.  Beside placesim.c, which does the same for whole
 * buckets.
 *
 * The namespace: F entries over D directories whose sizes fall as
 * 1/(rank+1)^0.8, plus one huge directory holding a fraction H of all
 * entries (the dataset directory of an ML bucket); requests go to
 * directories by Zipf(1) over a shuffled order, the huge directory the
 * hottest, and uniformly to the entries of a directory.  Three ways to
 * cut it into S = ceil(F / E) shards (E: entries a shard holds at most):
 *   bydir  a directory's entries on one shard, chosen by hashing the
 *          directory (HopsFS's partitioning by parent inode; CephFS pins
 *          subtrees the same way): a readdir is one shard, a huge
 *          directory is one shard however large
 *   range  ordered ranges of the key (parent ino, name), cut at E entries
 *          and split where a range outgrows E (3FS on FoundationDB,
 *          Bigtable/Spanner tablets): a huge directory spans several
 *          shards, a readdir walks them in order
 *   hash   every entry by a hash of (parent, name) (Tectonic's name layer
 *          keys by directory, then hashes): even, but every readdir asks
 *          every shard and renames inside a directory cross shards
 * Printed per scheme: shards, largest shard / mean (entries), hottest
 * shard / mean (requests), the mean number of shards a readdir touches,
 * the fraction of renames inside a directory, and between two directories,
 * that cross shards (these need the two-phase rename).  Then, per cluster
 * size N: fragments moved when node N+1 joins (place_slots, against the
 * ideal 1/(N+1) and the bound 1.1/N), shard replicas moved by the join,
 * replicas per node (mean, max) and the busiest node's leader load / the
 * even share for each scheme's shards (3 replicas by place_rank, load on
 * the leader: the best-ranked replica; the even share is 1/N of the
 * requests, or 1/S when there are fewer shards than nodes).  The moved
 * fraction is counted over B blocks of 4+2: at 1,000 nodes about 6B/1000
 * fragments move, so its sampling error is about 1/sqrt(6B/1000).
 * Usage: shardsim [--files F] [--dirs D] [--huge H] [--shard-entries E]
 *                 [--blocks B] [--zones Z] [--csv]
 * Deterministic: the same arguments give the same numbers. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/place.h"

#define MAX_NODES 1001
#define WIDTH 6 /* 4+2 fragments */

enum { SCH_BYDIR, SCH_RANGE, SCH_HASH, SCH_N };
static const char *const sch_name[SCH_N] = {"bydir", "range", "hash"};

static uint64_t mix(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void id_of(uint64_t a, uint64_t b, uint8_t id[16])
{
	uint64_t x = mix(a), y = mix(b ^ x);

	memcpy(id, &x, 8);
	memcpy(id + 8, &y, 8);
}

struct model {
	size_t dirs, shards;
	double *size, *load; /* per directory: entries, share of requests */
	/* per scheme and shard: entries and requests */
	double *ent[SCH_N], *req[SCH_N];
	double fanout[SCH_N], cross_in[SCH_N], cross_between[SCH_N];
};

static void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz);

	if (p == NULL) {
		fprintf(stderr, "shardsim: out of memory\n");
		exit(1);
	}
	return p;
}

/* Builds the namespace and cuts it three ways. */
static void build(struct model *m, double files, size_t dirs, double huge, double per_shard)
{
	double rest = files * (1 - huge), zs = 0, ls = 0;
	size_t *perm;

	m->dirs = dirs + 1;
	m->shards = (size_t)ceil(files / per_shard);
	m->size = xcalloc(m->dirs, sizeof(double));
	m->load = xcalloc(m->dirs, sizeof(double));
	perm = xcalloc(m->dirs, sizeof(size_t));
	/* Directory 0 is the huge one; the others by a falling size law. */
	for (size_t j = 1; j < m->dirs; j++) {
		zs += pow((double)j, -0.8);
	}
	m->size[0] = files * huge;
	for (size_t j = 1; j < m->dirs; j++) {
		m->size[j] = rest * pow((double)j, -0.8) / zs;
	}
	/* Request ranks: the huge directory first, the rest shuffled. */
	for (size_t j = 0; j < m->dirs; j++) {
		perm[j] = j;
	}
	for (size_t j = m->dirs - 1; j > 1; j--) {
		size_t k = 1 + mix(j) % j;
		size_t t = perm[j];

		perm[j] = perm[k];
		perm[k] = t;
	}
	for (size_t r = 0; r < m->dirs; r++) {
		m->load[perm[r]] = 1.0 / (double)(r + 1);
		ls += 1.0 / (double)(r + 1);
	}
	for (size_t j = 0; j < m->dirs; j++) {
		m->load[j] /= ls;
	}
	free(perm);
	for (int s = 0; s < SCH_N; s++) {
		m->ent[s] = xcalloc(m->shards, sizeof(double));
		m->req[s] = xcalloc(m->shards, sizeof(double));
	}
	/* bydir: one shard per directory, by its hash. */
	for (size_t j = 0; j < m->dirs; j++) {
		size_t s = mix(j * 31 + 7) % m->shards;

		m->ent[SCH_BYDIR][s] += m->size[j];
		m->req[SCH_BYDIR][s] += m->load[j];
	}
	m->fanout[SCH_BYDIR] = 1;
	m->cross_in[SCH_BYDIR] = 0;
	/* range: directories in key order (their inode numbers: creation
	 * order, here the index), cut every per_shard entries; a directory's
	 * part on each shard carries that share of its requests. */
	{
		size_t s = 0;
		double fill = 0, fan = 0, cin = 0;

		for (size_t j = 0; j < m->dirs; j++) {
			double left = m->size[j], sq = 0;
			size_t span = 0;

			while (left > 1e-9) {
				double take = per_shard - fill < left ? per_shard - fill : left;

				if (s >= m->shards) {
					s = m->shards - 1; /* rounding: the last shard takes it */
				}
				m->ent[SCH_RANGE][s] += take;
				m->req[SCH_RANGE][s] += m->load[j] * take / m->size[j];
				sq += (take / m->size[j]) * (take / m->size[j]);
				span++;
				fill += take;
				left -= take;
				if (fill >= per_shard - 1e-9) {
					s++;
					fill = 0;
				}
			}
			fan += m->load[j] * (double)span;
			cin += m->load[j] * (1 - sq);
		}
		m->fanout[SCH_RANGE] = fan;
		m->cross_in[SCH_RANGE] = cin;
	}
	/* hash: every shard an equal part of every directory. */
	for (size_t s = 0; s < m->shards; s++) {
		m->ent[SCH_HASH][s] = files / (double)m->shards;
		m->req[SCH_HASH][s] = 1.0 / (double)m->shards;
	}
	m->fanout[SCH_HASH] = (double)m->shards;
	m->cross_in[SCH_HASH] = 1 - 1.0 / (double)m->shards;
	/* Between two directories drawn by request share: the chance their
	 * entries sit on different shards is 1 - sum of squared shares. */
	for (int sc = 0; sc < SCH_N; sc++) {
		double sq = 0;

		for (size_t s = 0; s < m->shards; s++) {
			sq += m->req[sc][s] * m->req[sc][s];
		}
		m->cross_between[sc] = sc == SCH_HASH ? 1 - 1.0 / (double)m->shards : 1 - sq;
	}
}

static double max_over_mean(const double *v, size_t n)
{
	double mx = 0, sum = 0;

	for (size_t i = 0; i < n; i++) {
		mx = v[i] > mx ? v[i] : mx;
		sum += v[i];
	}
	return sum > 0 ? mx / (sum / (double)n) : 0;
}

struct row {
	size_t nodes;
	double moved, ideal, rep_moved, reps_mean, node_skew[SCH_N];
	size_t reps_max;
};

static void make_nodes(struct place_node *nodes, size_t n, uint32_t zones)
{
	for (size_t i = 0; i < n; i++) {
		nodes[i].id = (uint32_t)i + 1;
		nodes[i].zone = (uint32_t)(i % zones);
		nodes[i].up = 1;
	}
}

static void simulate(const struct model *m, size_t n, uint32_t zones, size_t nb, struct row *r)
{
	struct place_node nodes[MAX_NODES];
	size_t a[WIDTH], b[WIDTH], moved = 0, rep_moved = 0;
	size_t *reps = xcalloc(n + 1, sizeof(size_t));
	double *hot = xcalloc(n + 1, sizeof(double));
	uint8_t id[16];

	make_nodes(nodes, n + 1, zones);
	for (size_t i = 0; i < nb; i++) {
		size_t wa, wb;

		id_of(i, 0xb10c, id);
		wa = place_slots(id, nodes, n, WIDTH, a, WIDTH);
		wb = place_slots(id, nodes, n + 1, WIDTH, b, WIDTH);
		for (size_t j = 0; j < wa; j++) {
			moved += j >= wb || a[j] != b[j];
		}
	}
	r->nodes = n;
	r->moved = (double)moved / (double)(nb * WIDTH);
	r->ideal = 1.0 / (double)(n + 1);
	for (int sc = 0; sc < SCH_N; sc++) {
		memset(hot, 0, (n + 1) * sizeof(double));
		for (size_t s = 0; s < m->shards; s++) {
			size_t wa;

			id_of(s, (uint64_t)sc + 1, id);
			wa = place_rank(id, nodes, n, a, 3);
			hot[a[0]] += m->req[sc][s];
			if (sc != SCH_RANGE) {
				continue;
			}
			/* Replicas and join moves counted once, on the range cut. */
			place_rank(id, nodes, n + 1, b, 3);
			for (size_t j = 0; j < wa; j++) {
				int kept = 0;

				reps[a[j]]++;
				for (size_t k = 0; k < 3; k++) {
					kept |= a[j] == b[k];
				}
				rep_moved += !kept;
			}
		}
		/* Against the best any placement can do: each node's share
		 * is at least 1/N, each shard's at most 1/S of the whole. */
		{
			double mx = 0, floor_share = n > m->shards ? 1.0 / (double)m->shards
								   : 1.0 / (double)n;

			for (size_t i = 0; i < n; i++) {
				mx = hot[i] > mx ? hot[i] : mx;
			}
			r->node_skew[sc] = mx / floor_share;
		}
	}
	r->rep_moved = (double)rep_moved / (double)(3 * m->shards);
	r->reps_mean = 3.0 * (double)m->shards / (double)n;
	r->reps_max = 0;
	for (size_t i = 0; i < n; i++) {
		r->reps_max = reps[i] > r->reps_max ? reps[i] : r->reps_max;
	}
	free(reps);
	free(hot);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"files", required_argument, NULL, 'f'},
	    {"dirs", required_argument, NULL, 'd'},
	    {"huge", required_argument, NULL, 'H'},
	    {"shard-entries", required_argument, NULL, 'e'},
	    {"blocks", required_argument, NULL, 'b'},
	    {"zones", required_argument, NULL, 'z'},
	    {"csv", no_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const size_t sizes[] = {6, 12, 24, 48, 100, 250, 500, 1000};
	double files = 1e9, huge = 0.1, per_shard = 10e6;
	size_t dirs = 100000, nb = 100000;
	uint32_t zones = 3;
	int csv = 0, o;
	struct model m;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'f':
			files = strtod(optarg, NULL);
			break;
		case 'd':
			dirs = strtoull(optarg, NULL, 10);
			break;
		case 'H':
			huge = strtod(optarg, NULL);
			break;
		case 'e':
			per_shard = strtod(optarg, NULL);
			break;
		case 'b':
			nb = strtoull(optarg, NULL, 10);
			break;
		case 'z':
			zones = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			csv = 1;
			break;
		case 'h':
			printf("Usage: shardsim [--files F] [--dirs D] [--huge H] [--shard-entries "
			       "E]\n"
			       "                [--blocks B] [--zones Z] [--csv]\n"
			       "(see the top of bench/shardsim.c)\n");
			return 0;
		default:
			return 2;
		}
	}
	if (files < 1 || dirs == 0 || huge < 0 || huge >= 1 || per_shard < 1 || nb == 0 ||
	    zones == 0 || files / per_shard > 1e7) {
		fprintf(stderr, "shardsim: bad arguments\n");
		return 2;
	}
	memset(&m, 0, sizeof(m));
	build(&m, files, dirs, huge, per_shard);
	if (csv) {
		printf("scheme,shards,entries_max_over_mean,requests_max_over_mean,readdir_shards,"
		       "rename_in_dir_cross,rename_between_dirs_cross\n");
	} else {
		printf("%.0f entries, %zu directories + one of %.0f%%, %.0f entries per shard\n",
		       files, dirs, 100 * huge, per_shard);
		printf("%-6s %7s %9s %9s %9s %10s %10s\n", "SCHEME", "SHARDS", "ENTSKEW", "REQSKEW",
		       "READDIR", "RN-IN-DIR", "RN-BETWEEN");
	}
	for (int sc = 0; sc < SCH_N; sc++) {
		double es = max_over_mean(m.ent[sc], m.shards),
		       rs = max_over_mean(m.req[sc], m.shards);

		printf(csv ? "%s,%zu,%.3f,%.3f,%.2f,%.4f,%.4f\n"
			   : "%-6s %7zu %9.2f %9.2f %9.2f %9.2f%% %9.2f%%\n",
		       sch_name[sc], m.shards, es, rs, m.fanout[sc],
		       csv ? m.cross_in[sc] : 100 * m.cross_in[sc],
		       csv ? m.cross_between[sc] : 100 * m.cross_between[sc]);
	}
	if (csv) {
		printf("\nnodes,frag_moved_fraction,ideal_fraction,moved_times_n,within_1.1_over_n,"
		       "replicas_moved_fraction,replicas_per_node_mean,replicas_per_node_max,"
		       "node_skew_bydir,node_skew_range,node_skew_hash\n");
	} else {
		printf("\n%6s %9s %9s %7s %9s %8s %6s %8s %8s %8s\n", "NODES", "FRAGMOVE", "IDEAL",
		       "x N", "REPMOVE", "REPS", "MAX", "BYDIR", "RANGE", "HASH");
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct row r;

		simulate(&m, sizes[i], zones, nb, &r);
		if (csv) {
			printf("%zu,%.6f,%.6f,%.3f,%s,%.6f,%.2f,%zu,%.2f,%.2f,%.2f\n", r.nodes,
			       r.moved, r.ideal, r.moved * (double)r.nodes,
			       r.moved <= 1.1 / (double)r.nodes ? "yes" : "no", r.rep_moved,
			       r.reps_mean, r.reps_max, r.node_skew[SCH_BYDIR],
			       r.node_skew[SCH_RANGE], r.node_skew[SCH_HASH]);
		} else {
			printf("%6zu %8.3f%% %8.3f%% %7.3f %8.3f%% %8.2f %6zu %8.2f %8.2f %8.2f\n",
			       r.nodes, 100 * r.moved, 100 * r.ideal, r.moved * (double)r.nodes,
			       100 * r.rep_moved, r.reps_mean, r.reps_max, r.node_skew[SCH_BYDIR],
			       r.node_skew[SCH_RANGE], r.node_skew[SCH_HASH]);
		}
	}
	for (int sc = 0; sc < SCH_N; sc++) {
		free(m.ent[sc]);
		free(m.req[sc]);
	}
	free(m.size);
	free(m.load);
	return 0;
}
