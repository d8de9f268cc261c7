/*
 * The before-write barrier: an ordered list of steps that run before any frame of a loop
 * iteration leaves for a socket. Engine.IO runs it at each of its write points; whoever needs
 * "stored before sent" registers a step (the history commits its transaction). Redis's
 * beforeSleep(), which flushes the append-only file before replies are written, is the model:
 * the network code runs the barrier and knows nothing of what is behind it.
 */
#ifndef PL_BARRIER_H
#define PL_BARRIER_H

#include <stddef.h>

/* One registered step. */
struct pl_barrier_step {
	int (*step)(void *ud); /* returns 0 or a negative error */
	void *ud;	       /* its argument, borrowed */
};

struct pl_barrier {
	struct pl_barrier_step *steps; /* in registration order */
	size_t n, cap;		       /* entries used and allocated */
};

/* Prepares an empty barrier. */
void pl_barrier_init(struct pl_barrier *b);
/* Forgets every step and frees the list. */
void pl_barrier_close(struct pl_barrier *b);

/*
 * Appends a step, run after those added before it. ud is borrowed: it must stay valid until the
 * step is removed or the barrier closed. Returns 0 or -ENOMEM.
 */
int pl_barrier_add(struct pl_barrier *b, int (*step)(void *ud), void *ud);
/* Removes the step registered with step and ud, if any. */
void pl_barrier_remove(struct pl_barrier *b, int (*step)(void *ud), void *ud);

/*
 * Runs every step in order. A failing step does not stop the others (frames still leave, as
 * they did before the barrier existed). Returns 0, or the first step's negative error.
 */
int pl_barrier_run(struct pl_barrier *b);

#endif
