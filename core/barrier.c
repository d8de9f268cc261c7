/*
 * The before-write barrier (see barrier.h).
 */
#include "barrier.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void pl_barrier_init(struct pl_barrier *b)
{
	memset(b, 0, sizeof *b);
}

void pl_barrier_close(struct pl_barrier *b)
{
	free(b->steps);
	memset(b, 0, sizeof *b);
}

int pl_barrier_add(struct pl_barrier *b, int (*step)(void *ud), void *ud)
{
	if (b->n == b->cap) {
		struct pl_barrier_step *a = pl_array_grow(b->steps, &b->cap, sizeof *a, 4);
		if (!a)
			return -ENOMEM;
		b->steps = a;
	}
	b->steps[b->n++] = (struct pl_barrier_step){step, ud};
	return 0;
}

void pl_barrier_remove(struct pl_barrier *b, int (*step)(void *ud), void *ud)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->steps[i].step == step && b->steps[i].ud == ud) {
			memmove(b->steps + i, b->steps + i + 1, (b->n - i - 1) * sizeof *b->steps);
			b->n--;
			return;
		}
	}
}

int pl_barrier_run(struct pl_barrier *b)
{
	int rc = 0;
	for (size_t i = 0; i < b->n; i++) {
		int r = b->steps[i].step(b->steps[i].ud);
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
}
