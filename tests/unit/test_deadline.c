/*
 * Tests for core/deadline.c: deadlines fire once, in order of their due time, on a real libuv
 * loop; re-arming moves a deadline, cancelling removes it, and a callback may arm others.
 */
#include "deadline.h"

#include "test.h"

#define N 200

struct node {
	struct pl_deadline d; /* the node under test */
	int id;		      /* which one */
};

static int fired[N * 2];
static int n_fired;
static struct pl_deadlines *current;

static void record(struct pl_deadline *d)
{
	fired[n_fired++] = ((struct node *)d)->id;
}

static void finish(uv_loop_t *loop, struct pl_deadlines *set)
{
	pl_deadlines_close(set);
	uv_run(loop, UV_RUN_DEFAULT);
	ASSERT_EQ(uv_loop_close(loop), 0);
}

static void test_fires_in_order(void)
{
	uv_loop_t loop;
	struct pl_deadlines set;
	static struct node nodes[N];
	uv_loop_init(&loop);
	ASSERT_EQ(pl_deadlines_init(&set, &loop), 0);
	n_fired = 0;
	/* due times 1..20 ms in a scrambled order; equal due times allowed */
	for (int i = 0; i < N; i++) {
		nodes[i].id = i;
		pl_deadline_init(&nodes[i].d);
		ASSERT_EQ(pl_deadline_set(&set, &nodes[i].d, (uint64_t)((i * 7919) % 20 + 1), record), 0);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_EQ(n_fired, N);
	for (int i = 1; i < N; i++) {
		uint64_t prev = (uint64_t)((fired[i - 1] * 7919) % 20), cur = (uint64_t)((fired[i] * 7919) % 20);
		ASSERT(prev <= cur);
	}
	for (int i = 0; i < N; i++)
		ASSERT_EQ(nodes[i].d.index, PL_DEADLINE_IDLE);
	finish(&loop, &set);
}

static void test_rearm_and_cancel(void)
{
	uv_loop_t loop;
	struct pl_deadlines set;
	static struct node a, b, c, d;
	uv_loop_init(&loop);
	ASSERT_EQ(pl_deadlines_init(&set, &loop), 0);
	n_fired = 0;
	a.id = 0, b.id = 1, c.id = 2, d.id = 3;
	pl_deadline_init(&a.d);
	pl_deadline_init(&b.d);
	pl_deadline_init(&c.d);
	pl_deadline_init(&d.d);
	pl_deadline_set(&set, &a.d, 5, record);
	pl_deadline_set(&set, &b.d, 10, record);
	pl_deadline_set(&set, &c.d, 15, record);
	pl_deadline_set(&set, &d.d, 20, record);
	pl_deadline_set(&set, &a.d, 30, record); /* later: moves behind everyone */
	pl_deadline_set(&set, &d.d, 1, record);	 /* earlier: moves in front */
	pl_deadline_cancel(&set, &b.d);
	pl_deadline_cancel(&set, &b.d); /* twice is harmless */
	uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_EQ(n_fired, 3);
	ASSERT_EQ(fired[0], 3);
	ASSERT_EQ(fired[1], 2);
	ASSERT_EQ(fired[2], 0);
	finish(&loop, &set);
}

static struct node chain[3];

static void rearm_next(struct pl_deadline *dl)
{
	struct node *n = (struct node *)dl;
	fired[n_fired++] = n->id;
	if (n->id + 1 < 3)
		pl_deadline_set(current, &chain[n->id + 1].d, 1, rearm_next);
	if (n->id == 0) /* re-arming itself from its own callback works too */
		pl_deadline_set(current, &n->d, 5, record);
}

static void test_callbacks_arm_others(void)
{
	uv_loop_t loop;
	struct pl_deadlines set;
	uv_loop_init(&loop);
	ASSERT_EQ(pl_deadlines_init(&set, &loop), 0);
	current = &set;
	n_fired = 0;
	for (int i = 0; i < 3; i++) {
		chain[i].id = i;
		pl_deadline_init(&chain[i].d);
	}
	pl_deadline_set(&set, &chain[0].d, 1, rearm_next);
	uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_EQ(n_fired, 4);
	ASSERT_EQ(fired[0], 0);
	ASSERT_EQ(fired[1], 1);
	ASSERT_EQ(fired[2], 2);
	ASSERT_EQ(fired[3], 0);
	finish(&loop, &set);
}

static void test_closed_set_refuses(void)
{
	uv_loop_t loop;
	struct pl_deadlines set;
	static struct node a;
	uv_loop_init(&loop);
	ASSERT_EQ(pl_deadlines_init(&set, &loop), 0);
	pl_deadline_init(&a.d);
	ASSERT_EQ(pl_deadline_set(&set, &a.d, 1000, record), 0);
	pl_deadlines_close(&set); /* drops armed deadlines */
	ASSERT_EQ(a.d.index, PL_DEADLINE_IDLE);
	ASSERT(pl_deadline_set(&set, &a.d, 1, record) < 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_EQ(uv_loop_close(&loop), 0);
}

TEST_MAIN(TEST(test_fires_in_order), TEST(test_rearm_and_cancel), TEST(test_callbacks_arm_others),
	  TEST(test_closed_set_refuses))
