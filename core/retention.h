/*
 * Retention of the store, a little at a time: per room (and per recipient of private messages)
 * the oldest messages beyond --history-keep or --history-room-bytes, every row older than
 * --history-max-age, and the notices older than the recovery window. It runs in steps on a
 * timer, each a few bounded batches, so a step never holds the loop for long. Each batch deletes
 * in a transaction of its own, begun only once the store's open batch is committed; one that
 * fails (the database locked by another process) changes nothing and is tried again later.
 */
#ifndef PL_RETENTION_H
#define PL_RETENTION_H

#include <uv.h>

#include "config.h"
#include "history.h"

struct pl_retention;

/*
 * Starts retention on h's database. The limits come from cfg: history_keep, history_room_bytes
 * and history_max_age (0 for none), recovery_window (notices older than this go; with 0 at the
 * next step) and history_retention_interval (ms between steps when nothing is left to do; while
 * work remains, steps come every millisecond). cfg is read only here. h must outlive the
 * retention. Runs the first step at once. Returns NULL after logging why.
 */
struct pl_retention *pl_retention_new(uv_loop_t *loop, struct pl_history *h,
				      const struct pl_config *cfg);

/*
 * Runs one step now (the timer also runs them): at most about half a millisecond of batches.
 * Returns 1 when work remains, 0 when retention is caught up, or a negative error (-EBUSY when
 * the database is locked, -EIO, -ENOMEM) from the batch that failed, which changed nothing.
 */
int pl_retention_step(struct pl_retention *r);

/* Stops retention, logs what it removed since its last report. NULL is a no-op. */
void pl_retention_free(struct pl_retention *r);

#endif
