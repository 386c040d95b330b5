/* replay.h: refuses a request seen before.
 * Remembers the (ts_ms, nonce) of every request accepted within the skew
 * window; a request outside the window or already remembered is refused.
 * Memory is bounded: entries older than the window are dropped, and when
 * the table is full the oldest half of the window is refused wholesale
 * rather than letting a flood evict live entries.  Thread-safe (one mutex). */
#ifndef OBJFS_REPLAY_H
#define OBJFS_REPLAY_H

#include <stdint.h>

struct replay;

/* window_ms: accepted |ts - now|; capacity: entries remembered. */
struct replay *replay_create(uint64_t window_ms, uint32_t capacity);
void replay_destroy(struct replay *r);
/* Returns 0 and remembers the pair, or -OBJ_EAUTH for a stale, future or
 * repeated request. */
int replay_check(struct replay *r, uint64_t ts_ms, uint64_t nonce, uint64_t now_ms);

#endif
