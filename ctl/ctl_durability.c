/* ctl_durability.c: objfsctl durability: the annual durability of a block
 * from the erasure code, the zones, a disk failure rate and a repair time
 * (the Markov model of durability.h), against the 99.9999 % objfs aims
 * for.  Reads the config for defaults; talks to no node. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ec.h"
#include "ctl.h"
#include "durability.h"

/* Annual failure rate of a disk: large fleets report 1-2 % (Backblaze's
 * drive statistics); 2 % is the cautious end. */
#define DEFAULT_AFR_PCT 2.0
/* Hours from a node's death to full redundancy, from the rate measured
 * with bench/repair.sh on the dev cluster: objfsctl repair (8 blocks at a
 * time, every home copy read from disk to check it) rebuilt a dead node's
 * 201 MB (768 MiB of 4+2 data on 6 nodes) at 29-39 MB/s, 9.3-11.3 s from
 * the kill to a clean fsck, on 2 cores shared with other work (load
 * average 18).  A node holding 4 TB rebuilt at 30 MB/s takes 37 hours;
 * 40 leaves some for noticing the loss and starting the repair. */
#define DEFAULT_MTTR_H 40.0
#define TARGET_NINES 6.0 /* 99.9999 % */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: objfsctl durability [--profile K+M] [--zones N] [--afr PCT]\n"
		"                           [--mttr HOURS] [--json]\n"
		"Estimate the probability that a block survives a year: a Markov chain\n"
		"of its k+m fragments on distinct disks, each failing independently at\n"
		"the annual failure rate, every missing fragment rebuilt after MTTR on\n"
		"average, data lost at the m+1st concurrent failure.  Compared with the\n"
		"99.9999 %% objfs aims for.  Whole-zone failures are reported separately:\n"
		"how many zones a block's placement survives.\n\n"
		"  -p, --profile K+M   erasure code (default: the config's ec_profile)\n"
		"  -z, --zones N       failure zones (default: the config's)\n"
		"  -a, --afr PCT       annual disk failure rate in %% (default %.0f)\n"
		"  -t, --mttr HOURS    mean time from a failure to full redundancy (default\n"
		"                      %.0f: detection and replacement, plus a rebuild at\n"
		"                      the repair rate measured on the dev cluster)\n"
		"  --json              print the result as one JSON object\n\n"
		"Exit status: 0 success, 1 failure, 2 usage error.\n",
		DEFAULT_AFR_PCT, DEFAULT_MTTR_H);
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double d = strtod(s, &end);

	if (end == s || *end != '\0' || !(d > lo && d <= hi)) {
		return -1;
	}
	*out = d;
	return 0;
}

int ctl_cmd_durability(struct ctl *c, int argc, char **argv)
{
	static const struct option opts[] = {{"profile", required_argument, NULL, 'p'},
					     {"zones", required_argument, NULL, 'z'},
					     {"afr", required_argument, NULL, 'a'},
					     {"mttr", required_argument, NULL, 't'},
					     {"json", no_argument, NULL, 'j'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	double afr_pct = DEFAULT_AFR_PCT, mttr = DEFAULT_MTTR_H, zones_d = 0, loss, nines, mttdl;
	unsigned k = 0, m = 0, zones = 0, tol;
	int json = 0, ch;

	while ((ch = getopt_long(argc, argv, "p:z:a:t:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (sscanf(optarg, "%u+%u", &k, &m) != 2 || k < 1 || k > EC_MAX_K ||
			    m > EC_MAX_M) {
				fprintf(stderr,
					"objfsctl durability: --profile: not K+M with K "
					"1..%d and M 0..%d: '%s'\n",
					EC_MAX_K, EC_MAX_M, optarg);
				return CTL_USAGE;
			}
			break;
		case 'z':
			if (parse_double(optarg, 0, 1000, &zones_d) != 0 ||
			    zones_d != floor(zones_d)) {
				fprintf(stderr, "objfsctl durability: --zones: not 1..1000: '%s'\n",
					optarg);
				return CTL_USAGE;
			}
			zones = (unsigned)zones_d;
			break;
		case 'a':
			if (parse_double(optarg, 0, 99.9, &afr_pct) != 0) {
				fprintf(stderr,
					"objfsctl durability: --afr: not a percentage in "
					"(0, 99.9]: '%s'\n",
					optarg);
				return CTL_USAGE;
			}
			break;
		case 't':
			if (parse_double(optarg, 0, 1e6, &mttr) != 0) {
				fprintf(stderr,
					"objfsctl durability: --mttr: not hours in (0, 1e6]: "
					"'%s'\n",
					optarg);
				return CTL_USAGE;
			}
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return CTL_OK;
		default:
			usage(stderr);
			return CTL_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return CTL_USAGE;
	}
	/* The config only for what the options did not give. */
	if (k == 0 || zones == 0) {
		if (ctl_load(c) != CTL_OK) {
			return CTL_FAIL;
		}
		if (k == 0) {
			k = c->cfg.ec.k;
			m = c->cfg.ec.m;
		}
		if (zones == 0) {
			zones = (unsigned)c->cfg.n_zones;
		}
	}
	loss = dur_annual_loss(k, m, afr_pct / 100.0, mttr);
	mttdl = dur_mttdl_hours(k, m, afr_pct / 100.0, mttr);
	tol = dur_zone_tolerance(k, m, zones);
	nines = loss > 0 ? -log10(loss) : INFINITY;
	if (loss < 0) {
		fprintf(stderr, "objfsctl durability: parameters out of range\n");
		return CTL_FAIL;
	}
	if (json) {
		printf("{\"k\":%u,\"m\":%u,\"zones\":%u,\"afr_pct\":%g,\"mttr_hours\":%g,"
		       "\"mttdl_years\":%.6g,\"annual_loss_probability\":%.6g,\"nines\":%.2f,"
		       "\"target_nines\":%.0f,\"meets_target\":%s,\"zone_failures_survived\":%u}\n",
		       k, m, zones, afr_pct, mttr, mttdl / DUR_HOURS_PER_YEAR, loss, nines,
		       TARGET_NINES, nines >= TARGET_NINES ? "true" : "false", tol);
		return CTL_OK;
	}
	printf("profile %u+%u over %u zones, disk AFR %g %%, MTTR %g h\n", k, m, zones, afr_pct,
	       mttr);
	printf("mean time to losing a block: %.3g years\n", mttdl / DUR_HOURS_PER_YEAR);
	printf("annual loss probability per block: %.3g  (durability %.*f %%, %.1f nines)\n", loss,
	       nines > 2 && nines < 16 ? (int)ceil(nines) : 6, 100.0 * (1.0 - loss), nines);
	printf("target 99.9999 %% (6 nines): %s\n", nines >= TARGET_NINES ? "met" : "NOT met");
	if (tol == 0) {
		printf("zones: one zone holds more than %u fragments of a block: losing one zone "
		       "can lose data\n",
		       m);
	} else {
		printf("zones: a block survives the loss of any %u zone%s\n", tol,
		       tol > 1 ? "s" : "");
	}
	printf("(independent disk failures; an object of B blocks is lost with about B times "
	       "that probability)\n");
	return CTL_OK;
}
