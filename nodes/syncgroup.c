/* syncgroup.c: a shared syncfs(2) (see syncgroup.h).  Syncs are numbered;
 * a caller needs the sync numbered one above those begun when it arrived.
 * The first caller to find none running becomes its runner: it syncs
 * without the lock, then wakes everyone it covered.  So at most one sync
 * runs, and at most one more group gathers behind it. */
#include "syncgroup.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct syncgroup {
	int fd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t begun, ended; /* syncs begun and ended, counted from 1 */
	int running;
	uint64_t failed;  /* number of the last sync that failed, 0: none */
	int failed_errno; /* its negative errno */
	uint64_t calls, syncs;
};

int sg_open(int fd, struct syncgroup **out)
{
	struct syncgroup *g = calloc(1, sizeof(*g));

	*out = NULL;
	if (g == NULL) {
		return -ENOMEM;
	}
	g->fd = fd;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	*out = g;
	return 0;
}

void sg_close(struct syncgroup *g)
{
	if (g == NULL) {
		return;
	}
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

int sg_sync(struct syncgroup *g)
{
	int rc = 0;

	pthread_mutex_lock(&g->mu);
	/* Every sync numbered from here on began after this call did. */
	const uint64_t need = g->begun + 1;

	g->calls++;
	while (g->ended < need) {
		if (g->running) {
			pthread_cond_wait(&g->cv, &g->mu);
			continue;
		}
		const uint64_t mine = ++g->begun;

		g->running = 1;
		g->syncs++;
		pthread_mutex_unlock(&g->mu);
		rc = syncfs(g->fd) < 0 ? -errno : 0;
		pthread_mutex_lock(&g->mu);
		g->running = 0;
		g->ended = mine;
		if (rc < 0) {
			g->failed = mine;
			g->failed_errno = rc;
		}
		pthread_cond_broadcast(&g->cv);
	}
	rc = g->failed >= need ? g->failed_errno : 0;
	pthread_mutex_unlock(&g->mu);
	return rc;
}

void sg_get_stats(struct syncgroup *g, struct sg_stats *out)
{
	pthread_mutex_lock(&g->mu);
	out->calls = g->calls;
	out->syncs = g->syncs;
	pthread_mutex_unlock(&g->mu);
}
