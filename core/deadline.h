/*
 * Many timers on one: a binary min-heap of deadlines driven by a single libuv timer. Every
 * session has a heartbeat deadline; embedding a 24-byte node instead of a uv_timer_t per
 * session saves memory on idle connections, and the heap keeps each set and cancel O(log n).
 */
#ifndef PL_DEADLINE_H
#define PL_DEADLINE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct pl_deadline;
typedef void (*pl_deadline_fn)(struct pl_deadline *d);

struct pl_deadline {
	uint64_t due;	   /* loop time (ms) at which fn runs */
	size_t index;	   /* position in the heap, PL_DEADLINE_IDLE when not armed */
	pl_deadline_fn fn; /* called once when due; the node is disarmed before the call */
};

#define PL_DEADLINE_IDLE SIZE_MAX

struct pl_deadlines {
	uv_timer_t *timer;	    /* fires at the earliest deadline; freed by its close */
	struct pl_deadline **heap;  /* min-heap on due */
	size_t n, cap;		    /* entries used and allocated */
};

/* Prepares the set on loop. Returns 0 or -ENOMEM. */
int pl_deadlines_init(struct pl_deadlines *set, uv_loop_t *loop);
/* Frees the heap and closes the timer; armed deadlines are dropped. */
void pl_deadlines_close(struct pl_deadlines *set);

/* Initialises a node (not armed). */
static inline void pl_deadline_init(struct pl_deadline *d)
{
	d->index = PL_DEADLINE_IDLE;
	d->fn = NULL;
}
/*
 * Arms (or re-arms) d to call fn in ms milliseconds. Returns 0, -ENOMEM, or -EPIPE once the
 * set is closed (the server is going away; d is not armed).
 */
int pl_deadline_set(struct pl_deadlines *set, struct pl_deadline *d, uint64_t ms, pl_deadline_fn fn);
/* Disarms d if armed. */
void pl_deadline_cancel(struct pl_deadlines *set, struct pl_deadline *d);

#endif
