/* durability.h: the durability estimate of objfsctl durability, as pure
 * functions (no I/O): a continuous-time Markov chain of one block's
 * fragments.  State i is "i fragments lost"; each of the n - i intact
 * fragments fails at rate lambda (independent disks); a repair brings the
 * block back to state 0 at rate mu = 1 / MTTR (objfs repair rewrites
 * every missing fragment of a block in one pass); state m + 1 is data
 * loss.  Zone failures are not in the chain: dur_zone_tolerance says how
 * many whole zones the placement survives. */
#ifndef OBJFS_DURABILITY_H
#define OBJFS_DURABILITY_H

#define DUR_HOURS_PER_YEAR 8766.0

/* Mean time to data loss of one block, in hours, from all fragments
 * intact: k data and m parity fragments on distinct disks, each failing
 * with annual failure rate afr (0 < afr < 1), repaired after mttr_h
 * hours on average.  Returns a negative value for arguments out of range. */
double dur_mttdl_hours(unsigned k, unsigned m, double afr, double mttr_h);

/* Probability that one block is lost within a year. */
double dur_annual_loss(unsigned k, unsigned m, double afr, double mttr_h);

/* Whole zones whose loss a block survives when its k + m fragments spread
 * over `zones` zones as evenly as placement does (at most
 * ceil((k+m)/zones) in one zone): floor(m / that); 0 means one zone's
 * loss can lose data. */
unsigned dur_zone_tolerance(unsigned k, unsigned m, unsigned zones);

#endif
