/* loop_turn.c: the turns of a libuv loop, timed (see loop_turn.h).  A
 * prepare handle runs right before each wait for I/O; the turn that
 * ended is the wall time since the last one minus libuv's idle time
 * (uv_metrics_idle_time: time in the wait, kept only with
 * UV_METRICS_IDLE_TIME configured before uv_run). */
#include "loop_turn.h"

#include "../common/log.h"

/* A warning about a long turn, at most this often. */
#define LT_LOG_NS (10ull * 1000000000u)

static void turn_cb(uv_prepare_t *p)
{
	struct loop_turn *t = p->data;
	uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(p->loop);
	struct mx_metric *busy = __atomic_load_n(&t->busy_ns, __ATOMIC_ACQUIRE);
	struct mx_metric *stalls = __atomic_load_n(&t->stalls, __ATOMIC_ACQUIRE);

	if (t->turn_ns != 0) {
		uint64_t wall = now - t->turn_ns, waited = idle - t->idle_ns;
		uint64_t work = wall > waited ? wall - waited : 0;

		if (busy != NULL) {
			mx_observe(busy, work);
		}
		if (work >= t->limit_ns) {
			if (stalls != NULL) {
				mx_add(stalls, 1);
			}
			if (t->logged_ns == 0 || now - t->logged_ns >= LT_LOG_NS) {
				log_warn(
				    "repl.stall",
				    "the Raft loop worked %.0f ms in one turn without reading "
				    "messages (election timeout %u ms); %u more such turns since "
				    "the last warning",
				    (double)work / 1e6, t->election_ms, t->unlogged);
				t->logged_ns = now;
				t->unlogged = 0;
			} else {
				t->unlogged++;
			}
		}
	}
	t->turn_ns = now;
	t->idle_ns = idle;
}

void lt_init(struct loop_turn *t, uv_loop_t *loop, uint32_t election_ms)
{
	*t = (struct loop_turn){.limit_ns = (uint64_t)election_ms * 500000u,
				.election_ms = election_ms};
	uv_prepare_init(loop, &t->h);
	t->h.data = t;
	if (uv_loop_configure(loop, UV_METRICS_IDLE_TIME) == 0) {
		uv_prepare_start(&t->h, turn_cb);
	} else {
		log_warn("repl.stall", "libuv keeps no idle time here: loop turns are not timed");
	}
}

void lt_set_metrics(struct loop_turn *t, struct mx_registry *mx)
{
	__atomic_store_n(&t->busy_ns,
			 mx_histogram(mx, "objfs_raft_loop_turn_seconds",
				      "Work of each turn of the Raft loop, without its wait for "
				      "messages: no message is read meanwhile.",
				      NULL, &mx_buckets_latency),
			 __ATOMIC_RELEASE);
	__atomic_store_n(&t->stalls,
			 mx_counter(mx, "objfs_raft_loop_stalls_total",
				    "Turns of the Raft loop longer than half the election timeout.",
				    NULL),
			 __ATOMIC_RELEASE);
}

void lt_quiet(struct loop_turn *t)
{
	__atomic_store_n(&t->busy_ns, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&t->stalls, NULL, __ATOMIC_RELEASE);
}

void lt_close(struct loop_turn *t)
{
	uv_prepare_stop(&t->h);
	uv_close((uv_handle_t *)&t->h, NULL);
}
