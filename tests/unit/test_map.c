/*
 * Tests for core/map.c: the open-addressing string map, including deletions (tombstones),
 * reinsertions and growth with thousands of keys.
 */
#include "map.h"

#include <stdint.h>

#include "test.h"

#define NKEYS 5000

static char keys[NKEYS][16]; /* borrowed by the map while their entries exist */
static int values[NKEYS];    /* the stored values are pointers to these */
static int others[NKEYS];    /* values given on reinsertion */

static void make_keys(void)
{
	for (int i = 0; i < NKEYS; i++) {
		snprintf(keys[i], sizeof keys[i], "k%d", i);
		values[i] = i;
	}
}

/* Checks the table's bookkeeping: a power-of-two size that is never full. */
static void check_invariants(const struct pl_map *m)
{
	ASSERT(m->count <= m->used);
	if (m->cap == 0)
		return;
	ASSERT((m->cap & (m->cap - 1)) == 0);
	ASSERT(m->used < m->cap);
	size_t live = 0, taken = 0;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].key)
			taken++;
		if (m->slots[i].key && pl_map_get(m, m->slots[i].key) == m->slots[i].value &&
		    m->slots[i].value)
			live++;
	}
	ASSERT_EQ(live, m->count);
	ASSERT_EQ(taken, m->used);
}

static void test_empty(void)
{
	struct pl_map m = {0};
	ASSERT_NULL(pl_map_get(&m, "a"));
	ASSERT_NULL(pl_map_del(&m, "a"));
	size_t pos = 0;
	void *v;
	ASSERT_EQ(pl_map_next(&m, &pos, &v), 0);
	pl_map_close(&m);
	pl_map_close(&m);
	ASSERT_EQ(m.count, 0);
}

static void test_put_get_replace(void)
{
	struct pl_map m = {0};
	int a = 1, b = 2, c = 3;
	char key1[] = "room", key2[] = "room";
	ASSERT_EQ(pl_map_put(&m, key1, &a), 0);
	ASSERT_EQ(m.count, 1);
	ASSERT(pl_map_get(&m, "room") == &a);
	ASSERT_NULL(pl_map_get(&m, "roo"));
	ASSERT_NULL(pl_map_get(&m, "rooms"));
	/* replacing keeps one entry and adopts the new key pointer */
	ASSERT_EQ(pl_map_put(&m, key2, &b), 0);
	ASSERT_EQ(m.count, 1);
	key1[0] = 'X'; /* the old key may now change or go away */
	ASSERT(pl_map_get(&m, "room") == &b);
	/* the empty string is an ordinary key, distinct from a deleted slot */
	ASSERT_NULL(pl_map_get(&m, ""));
	ASSERT_EQ(pl_map_put(&m, "", &c), 0);
	ASSERT(pl_map_get(&m, "") == &c);
	ASSERT_EQ(m.count, 2);
	ASSERT(pl_map_del(&m, "") == &c);
	ASSERT_NULL(pl_map_get(&m, ""));
	ASSERT(pl_map_get(&m, "room") == &b);
	ASSERT(pl_map_del(&m, "room") == &b);
	ASSERT_NULL(pl_map_del(&m, "room"));
	ASSERT_EQ(m.count, 0);
	check_invariants(&m);
	pl_map_close(&m);
}

static void test_thousands(void)
{
	make_keys();
	struct pl_map m = {0};
	for (int i = 0; i < NKEYS; i++) {
		ASSERT_EQ(pl_map_put(&m, keys[i], &values[i]), 0);
		ASSERT_EQ(m.count, i + 1);
	}
	check_invariants(&m);
	if (test_failed)
		return;
	for (int i = 0; i < NKEYS; i++)
		ASSERT(pl_map_get(&m, keys[i]) == &values[i]);
	ASSERT_NULL(pl_map_get(&m, "k5000"));
	ASSERT_NULL(pl_map_get(&m, "k-1"));

	/* delete the odd keys: their slots become tombstones that lookups must probe past */
	for (int i = 1; i < NKEYS; i += 2)
		ASSERT(pl_map_del(&m, keys[i]) == &values[i]);
	ASSERT_EQ(m.count, NKEYS / 2);
	check_invariants(&m);
	if (test_failed)
		return;
	for (int i = 0; i < NKEYS; i++) {
		if (i % 2)
			ASSERT_NULL(pl_map_get(&m, keys[i]));
		else
			ASSERT(pl_map_get(&m, keys[i]) == &values[i]);
	}
	for (int i = 1; i < NKEYS; i += 2)
		ASSERT_NULL(pl_map_del(&m, keys[i]));

	/* reinsert them with other values, then replace the even ones */
	for (int i = 1; i < NKEYS; i += 2)
		ASSERT_EQ(pl_map_put(&m, keys[i], &others[i]), 0);
	for (int i = 0; i < NKEYS; i += 2)
		ASSERT_EQ(pl_map_put(&m, keys[i], &values[i]), 0);
	ASSERT_EQ(m.count, NKEYS);
	check_invariants(&m);
	if (test_failed)
		return;
	for (int i = 0; i < NKEYS; i++)
		ASSERT(pl_map_get(&m, keys[i]) == (i % 2 ? &others[i] : &values[i]));

	/* iteration visits every live value exactly once */
	static unsigned char seen[NKEYS];
	memset(seen, 0, sizeof seen);
	size_t pos = 0, n = 0;
	void *v;
	while (pl_map_next(&m, &pos, &v)) {
		uintptr_t a = (uintptr_t)v, o = (uintptr_t)others, w = (uintptr_t)values;
		int idx = (int)((a >= o && a < o + sizeof others ? a - o : a - w) / sizeof(int));
		ASSERT(idx >= 0 && idx < NKEYS);
		ASSERT(v == (idx % 2 ? (void *)&others[idx] : (void *)&values[idx]));
		ASSERT_EQ(seen[idx], 0);
		seen[idx] = 1;
		n++;
	}
	ASSERT_EQ(n, NKEYS);

	/* delete everything */
	for (int i = NKEYS - 1; i >= 0; i--)
		ASSERT_NOT_NULL(pl_map_del(&m, keys[i]));
	ASSERT_EQ(m.count, 0);
	pos = 0;
	ASSERT_EQ(pl_map_next(&m, &pos, &v), 0);
	for (int i = 0; i < NKEYS; i++)
		ASSERT_NULL(pl_map_get(&m, keys[i]));
	check_invariants(&m);
	pl_map_close(&m);
	ASSERT_NULL(m.slots);
	ASSERT_EQ(m.cap, 0);
}

/*
 * Sessions come and go forever while few are live: tombstones must be swept, or the table would
 * fill with them (lookups would never meet an empty slot) or grow without bound.
 */
static void test_tombstone_churn(void)
{
	make_keys();
	struct pl_map m = {0};
	for (int round = 0; round < 200000; round++) {
		int i = round % NKEYS;
		ASSERT_EQ(pl_map_put(&m, keys[i], &values[i]), 0);
		if (round >= 8) {
			int j = (round - 8) % NKEYS;
			ASSERT(pl_map_del(&m, keys[j]) == &values[j]);
		}
		ASSERT(m.count <= 9);
		ASSERT(m.cap <= 64);
		ASSERT(m.used < m.cap);
	}
	check_invariants(&m);
	ASSERT_NULL(pl_map_get(&m, "absent")); /* terminates: an empty slot exists */
	pl_map_close(&m);
}

TEST_MAIN(TEST(test_empty), TEST(test_put_get_replace), TEST(test_thousands),
	  TEST(test_tombstone_churn))
