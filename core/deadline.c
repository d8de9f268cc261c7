/*
 * Deadline heap (see deadline.h).
 */
#include "deadline.h"

#include <errno.h>
#include <stdlib.h>

#include "buf.h"

static void swap(struct pl_deadline **h, size_t a, size_t b)
{
	struct pl_deadline *t = h[a];
	h[a] = h[b];
	h[b] = t;
	h[a]->index = a;
	h[b]->index = b;
}

static void sift_up(struct pl_deadline **h, size_t i)
{
	while (i > 0 && h[(i - 1) / 2]->due > h[i]->due) {
		swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void sift_down(struct pl_deadline **h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && h[l]->due < h[m]->due)
			m = l;
		if (r < n && h[r]->due < h[m]->due)
			m = r;
		if (m == i)
			return;
		swap(h, i, m);
		i = m;
	}
}

static void remove_at(struct pl_deadlines *set, size_t i)
{
	struct pl_deadline **h = set->heap;
	h[i]->index = PL_DEADLINE_IDLE;
	set->n--;
	if (i == set->n)
		return;
	h[i] = h[set->n];
	h[i]->index = i;
	sift_down(h, set->n, i);
	sift_up(h, i);
}

static void fire(uv_timer_t *t);

/* Points the libuv timer at the earliest deadline. */
static void rearm(struct pl_deadlines *set)
{
	if (!set->n) {
		uv_timer_stop(set->timer);
		return;
	}
	uint64_t now = uv_now(set->timer->loop), due = set->heap[0]->due;
	uv_timer_start(set->timer, fire, due > now ? due - now : 0, 0);
}

static void fire(uv_timer_t *t)
{
	struct pl_deadlines *set = t->data;
	uint64_t now = uv_now(t->loop);
	while (set->n && set->heap[0]->due <= now) {
		struct pl_deadline *d = set->heap[0];
		remove_at(set, 0);
		d->fn(d); /* may set or cancel any deadline, this one included */
	}
	rearm(set);
}

int pl_deadlines_init(struct pl_deadlines *set, uv_loop_t *loop)
{
	set->heap = NULL;
	set->n = set->cap = 0;
	set->timer = malloc(sizeof *set->timer);
	if (!set->timer)
		return -ENOMEM;
	uv_timer_init(loop, set->timer);
	set->timer->data = set;
	return 0;
}

static void timer_freed(uv_handle_t *h)
{
	free(h);
}

void pl_deadlines_close(struct pl_deadlines *set)
{
	for (size_t i = 0; i < set->n; i++)
		set->heap[i]->index = PL_DEADLINE_IDLE;
	free(set->heap);
	set->heap = NULL;
	set->n = set->cap = 0;
	if (set->timer)
		uv_close((uv_handle_t *)set->timer, timer_freed);
	set->timer = NULL;
}

int pl_deadline_set(struct pl_deadlines *set, struct pl_deadline *d, uint64_t ms, pl_deadline_fn fn)
{
	if (!set->timer)
		return -EPIPE; /* closed: the server is going away */
	uint64_t due = uv_now(set->timer->loop) + ms;
	d->fn = fn;
	if (d->index != PL_DEADLINE_IDLE) {
		uint64_t old = d->due;
		d->due = due;
		if (due < old)
			sift_up(set->heap, d->index);
		else
			sift_down(set->heap, set->n, d->index);
	} else {
		if (set->n == set->cap) {
			struct pl_deadline **h = pl_array_grow(set->heap, &set->cap, sizeof *h, 64);
			if (!h)
				return -ENOMEM;
			set->heap = h;
		}
		d->due = due;
		d->index = set->n;
		set->heap[set->n++] = d;
		sift_up(set->heap, d->index);
	}
	if (set->heap[0] == d)
		rearm(set);
	return 0;
}

void pl_deadline_cancel(struct pl_deadlines *set, struct pl_deadline *d)
{
	if (d->index == PL_DEADLINE_IDLE)
		return;
	int was_first = d->index == 0;
	remove_at(set, d->index);
	if (was_first)
		rearm(set);
}
