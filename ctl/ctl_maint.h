/* ctl_maint.h: what objfsctl's maintenance commands (scrub, fsck, gc,
 * durability) share: a progress bar on a terminal and exit codes.
 * Printing only; no cluster calls. */
#ifndef OBJFS_CTL_MAINT_H
#define OBJFS_CTL_MAINT_H

#include <stdint.h>
#include <stdio.h>

/* Exit codes of commands that report health, beside CTL_OK/FAIL/USAGE. */
enum { CTL_DEGRADED = 3, CTL_LOST = 4 };

struct ctl_progress {
	int on;		  /* stderr is a terminal and no --json */
	uint64_t last_ms; /* last redraw */
	int drawn;
};

/* Starts a bar on stderr if it is a terminal and json is not set. */
void ctl_progress_init(struct ctl_progress *p, int json);
/* Redraws at most ten times a second: "[####....]  42%  what". */
void ctl_progress_show(struct ctl_progress *p, uint64_t done, uint64_t total, const char *what);
/* Ends the bar's line. */
void ctl_progress_end(struct ctl_progress *p);

#endif
