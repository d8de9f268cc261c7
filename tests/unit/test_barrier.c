/*
 * Tests for core/barrier.c: steps run in registration order with their own argument, every step
 * runs even after one fails, the first error is returned, and removal keeps the order.
 */
#include "barrier.h"

#include "test.h"

static char trace[64];

static int step(void *ud)
{
	const char *name = ud;
	size_t n = strlen(trace);
	trace[n] = name[0];
	trace[n + 1] = '\0';
	return name[1] == '!' ? -5 - (name[0] - 'a') : 0;
}

static void test_order_and_errors(void)
{
	struct pl_barrier b;
	pl_barrier_init(&b);
	trace[0] = '\0';
	ASSERT_EQ(pl_barrier_run(&b), 0);
	ASSERT_STR_EQ(trace, "");
	char a[] = "a", bad_b[] = "b!", c[] = "c", bad_d[] = "d!", e[] = "e";
	ASSERT_EQ(pl_barrier_add(&b, step, a), 0);
	ASSERT_EQ(pl_barrier_add(&b, step, bad_b), 0);
	ASSERT_EQ(pl_barrier_add(&b, step, c), 0);
	ASSERT_EQ(pl_barrier_add(&b, step, bad_d), 0);
	ASSERT_EQ(pl_barrier_add(&b, step, e), 0); /* past the first allocation */
	ASSERT_EQ(pl_barrier_run(&b), -6);	   /* b's error, the first */
	ASSERT_STR_EQ(trace, "abcde");
	trace[0] = '\0';
	pl_barrier_remove(&b, step, bad_b);
	pl_barrier_remove(&b, step, bad_b); /* gone already: nothing */
	pl_barrier_remove(&b, step, "x");   /* never added: nothing */
	ASSERT_EQ(pl_barrier_run(&b), -8);
	ASSERT_STR_EQ(trace, "acde");
	trace[0] = '\0';
	pl_barrier_remove(&b, step, bad_d);
	pl_barrier_remove(&b, step, a);
	ASSERT_EQ(pl_barrier_run(&b), 0);
	ASSERT_STR_EQ(trace, "ce");
	pl_barrier_close(&b);
	trace[0] = '\0';
	ASSERT_EQ(pl_barrier_run(&b), 0);
	ASSERT_STR_EQ(trace, "");
}

TEST_MAIN(TEST(test_order_and_errors))
