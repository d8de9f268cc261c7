/* Tests for core/log.c: the once-a-second gate of repeated warnings. */
#include "log.h"

#include "test.h"

static void test_due_once_a_second(void)
{
	uint64_t last = 0;
	ASSERT(pl_log_due(&last, 5000)); /* the first */
	ASSERT(!pl_log_due(&last, 5000));
	ASSERT(!pl_log_due(&last, 5999));
	ASSERT(pl_log_due(&last, 6000)); /* a second later */
	ASSERT(!pl_log_due(&last, 6500));
	ASSERT(pl_log_due(&last, 60000));
}

static void test_due_at_time_zero(void)
{
	/* a loop whose clock starts at 0 still gates the line after it */
	uint64_t last = 0;
	ASSERT(pl_log_due(&last, 0));
	ASSERT(!pl_log_due(&last, 10));
	ASSERT(pl_log_due(&last, 1001));
}

static void test_gates_are_separate(void)
{
	uint64_t a = 0, b = 0;
	ASSERT(pl_log_due(&a, 100));
	ASSERT(pl_log_due(&b, 100));
	ASSERT(!pl_log_due(&a, 200));
	ASSERT(!pl_log_due(&b, 200));
}

TEST_MAIN(TEST(test_due_once_a_second), TEST(test_due_at_time_zero), TEST(test_gates_are_separate))
