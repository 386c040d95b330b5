/* meta_leader.c: the leader's decisions (see meta_leader.h).  Pure. */
#include "meta_leader.h"

uint64_t leader_inos_needed(const struct meta_op *op)
{
	uint64_t n = 1;

	if (op->type == MOP_CREATE || op->type == MOP_TRASH_RESTORE) {
		return 1;
	}
	if (op->type != MOP_PUT) {
		return 0;
	}
	for (const char *p = op->name; *p; p++) {
		n += *p == '/';
	}
	return n;
}

void leader_stamp(struct leader_clock *lc, int64_t now_ns, uint64_t store_next_ino,
		  struct meta_op *op)
{
	uint64_t need = leader_inos_needed(op);
	uint64_t base = store_next_ino > lc->next_ino ? store_next_ino : lc->next_ino;

	if (now_ns <= lc->last_now) {
		now_ns = lc->last_now + 1; /* per-shard time never runs backwards */
	}
	lc->last_now = now_ns;
	op->now_ns = now_ns;
	op->new_ino = need ? base : 0;
	lc->next_ino = base + need;
}
