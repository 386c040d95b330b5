/* ctl_maint.c: the progress bar of the maintenance commands (see
 * ctl_maint.h). */
#include "ctl_maint.h"

#include <string.h>
#include <unistd.h>

#include "../common/clock.h"

#define BAR_WIDTH 30
#define REDRAW_MS 100 /* a terminal need not be redrawn faster */

void ctl_progress_init(struct ctl_progress *p, int json)
{
	memset(p, 0, sizeof(*p));
	p->on = !json && isatty(STDERR_FILENO);
}

void ctl_progress_show(struct ctl_progress *p, uint64_t done, uint64_t total, const char *what)
{
	uint64_t now = clock_mono_ms();
	char bar[BAR_WIDTH + 1];
	unsigned pct, fill;

	if (!p->on || (p->drawn && now - p->last_ms < REDRAW_MS)) {
		return;
	}
	p->last_ms = now;
	p->drawn = 1;
	pct = total == 0 ? 100 : (unsigned)(done >= total ? 100 : done * 100 / total);
	fill = pct * BAR_WIDTH / 100;
	for (unsigned i = 0; i < BAR_WIDTH; i++) {
		bar[i] = i < fill ? '#' : '.';
	}
	bar[BAR_WIDTH] = '\0';
	fprintf(stderr, "\r[%s] %3u%%  %s\033[K", bar, pct, what);
	fflush(stderr);
}

void ctl_progress_end(struct ctl_progress *p)
{
	if (p->on && p->drawn) {
		fputc('\n', stderr);
	}
	p->drawn = 0;
}
