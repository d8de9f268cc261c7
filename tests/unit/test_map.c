/*
 * Tests for core/map.c: the open-addressing string map, including deletions (tombstones),
 * reinsertions and growth with thousands of keys; SipHash-1-3 against known vectors, the
 * per-process random seed, and clusters of keys that share a slot.
 */
#include "map.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* The key every test after test_random_seed uses, so that table layouts repeat run to run. */
static const unsigned char fixed_seed[16] = {0x70, 0x61, 0x72, 0x6c, 0x65, 0x79, 0x2d, 0x74,
					     0x65, 0x73, 0x74, 0x2d, 0x73, 0x65, 0x65, 0x64};

/* Slot index of each key in m, or -1 when absent. */
static void slots_of(const struct pl_map *m, char (*k)[16], int n, long *out)
{
	for (int i = 0; i < n; i++) {
		out[i] = -1;
		for (size_t j = 0; j < m->cap; j++)
			if (m->slots[j].key == k[i])
				out[i] = (long)j;
	}
}

/*
 * Without pl_map_set_seed() each process draws its own key: a child process and this one place
 * the same 64 keys differently, and neither places them as the all-zero key would. Runs first,
 * before any test fixes the seed.
 */
static void test_random_seed(void)
{
	enum { N = 64 };
	static long mine[N], child[N], zero[N];
	int fd[2];
	make_keys();
	ASSERT_EQ(pipe(fd), 0);
	pid_t pid = fork();
	ASSERT(pid >= 0);
	struct pl_map m = {0};
	for (int i = 0; i < N; i++)
		if (pl_map_put(&m, keys[i], &values[i]))
			_exit(2);
	slots_of(&m, keys, N, mine);
	if (pid == 0) {
		ssize_t w = write(fd[1], mine, sizeof mine);
		_exit(w == (ssize_t)sizeof mine ? 0 : 1);
	}
	int status;
	ASSERT_EQ(read(fd[0], child, sizeof child), (long long)sizeof child);
	ASSERT_EQ(waitpid(pid, &status, 0), pid);
	ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd[0]);
	close(fd[1]);
	unsigned char zero_key[16] = {0};
	int same_child = 0, same_zero = 0;
	for (int i = 0; i < N; i++) {
		ASSERT(mine[i] >= 0 && child[i] >= 0);
		zero[i] = (long)(pl_siphash13(keys[i], strlen(keys[i]), zero_key) & (m.cap - 1));
		same_child += mine[i] == child[i];
		same_zero += mine[i] == zero[i];
	}
	/* 64 keys in 128 slots: equal layouts by chance are out of the question */
	ASSERT(same_child < N / 2);
	ASSERT(same_zero < N / 2);
	pl_map_close(&m);
	pl_map_set_seed(fixed_seed);
}

/*
 * SipHash-1-3 vectors. Under the all-zero key they agree with CPython 3.11's hash() of bytes
 * with PYTHONHASHSEED=0 (its siphash13 with a zero key) and with the Rust crate
 * digest-sip_hash for "" and "siphash"; the ones under key 00..0f over bytes 00, 01, ... cover
 * every tail length and two full words.
 */
/* The hash extensions get: the maps' keyed SipHash-1-3, stable within the process. */
static void test_map_hash(void)
{
	unsigned char key[16] = {0};
	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)(i * 7 + 1);
	pl_map_set_seed(key);
	ASSERT_EQ(pl_map_hash("room", 4), pl_siphash13("room", 4, key));
	ASSERT_EQ(pl_map_hash("room", 4), pl_map_hash("room", 4));
	ASSERT(pl_map_hash("room", 4) != pl_map_hash("roon", 4));
}

static void test_siphash_vectors(void)
{
	static const unsigned char zero_key[16];
	static const struct {
		const char *in;
		uint64_t want;
	} z[] = {
	    {"", 0xd1fba762150c532cull},
	    {"a", 0x407448d2b89b1813ull},
	    {"ab", 0x555508cbc6add439ull},
	    {"abcdefg", 0x6db12aae9070f506ull},
	    {"abcdefgh", 0x3f7b849c0b8e35eaull},
	    {"abcdefghi", 0xf89b34a3d11eb6e5ull},
	    {"siphash", 0x8264ceeccb16bcbeull},
	    {"room-12345", 0x9b57214fc136fba0ull},
	    {"digest-sip_hash", 0xce31007e34130c0aull},
	    {"hello world, this is longer than 16", 0xf77782d36ebd1009ull},
	};
	for (size_t i = 0; i < sizeof z / sizeof *z; i++)
		ASSERT(pl_siphash13(z[i].in, strlen(z[i].in), zero_key) == z[i].want);
	static const uint64_t k[17] = {
	    0xabac0158050fc4dcull, 0xc9f49bf37d57ca93ull, 0x82cb9b024dc7d44dull,
	    0x8bf80ab8e7ddf7fbull, 0xcf75576088d38328ull, 0xdef9d52f49533b67ull,
	    0xc50d2b50c59f22a7ull, 0xd3927d989bb11140ull, 0x369095118d299a8eull,
	    0x25a48eb36c063de4ull, 0x79de85ee92ff097full, 0x70c118c1f94dc352ull,
	    0x78a384b157b4d9a2ull, 0x306f760c1229ffa7ull, 0x605aa111c0f95d34ull,
	    0xd320d86d2a519956ull, 0xcc4fdd1a7d908b66ull,
	};
	unsigned char key[16], msg[17];
	for (int i = 0; i < 16; i++)
		key[i] = (unsigned char)i;
	for (int i = 0; i < 17; i++)
		msg[i] = (unsigned char)i;
	for (size_t len = 0; len <= 16; len++)
		ASSERT(pl_siphash13(msg, len, key) == k[len]);
	/* another key, another hash */
	ASSERT(pl_siphash13("room", 4, key) != pl_siphash13("room", 4, zero_key));
}

#define NCLUSTER     300
#define CLUSTER_BITS 12 /* the keys share their low 12 bits: one slot in every table up to 4096 */

static char cluster[NCLUSTER][16]; /* keys whose hashes collide under fixed_seed */

static void make_cluster(void)
{
	uint64_t want = pl_siphash13("c0", 2, fixed_seed) & ((1u << CLUSTER_BITS) - 1);
	int n = 0;
	for (unsigned i = 0; n < NCLUSTER; i++) {
		char k[16];
		snprintf(k, sizeof k, "c%u", i);
		if ((pl_siphash13(k, strlen(k), fixed_seed) & ((1u << CLUSTER_BITS) - 1)) == want)
			memcpy(cluster[n++], k, sizeof k);
	}
}

/*
 * Keys that all hash to one slot form one probe run: each must still be found, deletions inside
 * the run leave tombstones that lookups walk past, and reinsertion reuses them.
 */
static void test_collisions(void)
{
	pl_map_set_seed(fixed_seed);
	make_cluster();
	make_keys();
	struct pl_map m = {0};
	for (int i = 0; i < NCLUSTER; i++)
		ASSERT_EQ(pl_map_put(&m, cluster[i], &values[i]), 0);
	/* ordinary keys mixed in, some of them landing inside the run */
	for (int i = 0; i < 200; i++)
		ASSERT_EQ(pl_map_put(&m, keys[i], &others[i]), 0);
	ASSERT(m.cap <= (1u << CLUSTER_BITS));
	check_invariants(&m);
	if (test_failed)
		return;
	for (int i = 0; i < NCLUSTER; i++)
		ASSERT(pl_map_get(&m, cluster[i]) == &values[i]);
	for (int i = 0; i < 200; i++)
		ASSERT(pl_map_get(&m, keys[i]) == &others[i]);
	/* delete every third key of the run, the first and the last among them */
	for (int i = 0; i < NCLUSTER; i += 3)
		ASSERT(pl_map_del(&m, cluster[i]) == &values[i]);
	ASSERT(pl_map_del(&m, cluster[NCLUSTER - 1]) == &values[NCLUSTER - 1]);
	check_invariants(&m);
	if (test_failed)
		return;
	for (int i = 0; i < NCLUSTER; i++) {
		if (i % 3 == 0 || i == NCLUSTER - 1)
			ASSERT_NULL(pl_map_get(&m, cluster[i]));
		else
			ASSERT(pl_map_get(&m, cluster[i]) == &values[i]);
	}
	size_t used = m.used;
	for (int i = 0; i < NCLUSTER; i += 3)
		ASSERT_EQ(pl_map_put(&m, cluster[i], &others[i]), 0);
	ASSERT(m.used <= used); /* the tombstones were reused */
	for (int i = 0; i < NCLUSTER; i += 3)
		ASSERT(pl_map_get(&m, cluster[i]) == &others[i]);
	check_invariants(&m);
	pl_map_close(&m);
}

/* Churn inside one probe run: tombstones are swept without growing the table. */
static void test_collision_churn(void)
{
	pl_map_set_seed(fixed_seed);
	make_cluster();
	struct pl_map m = {0};
	for (int round = 0; round < 100000; round++) {
		int i = round % NCLUSTER;
		ASSERT_EQ(pl_map_put(&m, cluster[i], &values[i]), 0);
		if (round >= 16) {
			int j = (round - 16) % NCLUSTER;
			ASSERT(pl_map_del(&m, cluster[j]) == &values[j]);
		}
		ASSERT(m.count <= 17);
		ASSERT(m.cap <= 64);
		ASSERT(m.used < m.cap);
	}
	check_invariants(&m);
	/* the keys of the last 16 rounds are live, no other */
	ASSERT_EQ(m.count, 16);
	for (int round = 100000 - 16; round < 100000; round++)
		ASSERT(pl_map_get(&m, cluster[round % NCLUSTER]) == &values[round % NCLUSTER]);
	ASSERT_NULL(pl_map_get(&m, cluster[(100000 - 17) % NCLUSTER]));
	pl_map_close(&m);
}

/*
 * 200,000 ordinary room names: all found, the table at most four times the entries, and the
 * average distance from a key's home slot small (under 1.5 expected at this load).
 */
static void test_many_keys(void)
{
	enum { N = 200000 };
	pl_map_set_seed(fixed_seed);
	char(*k)[24] = malloc(N * sizeof *k);
	ASSERT_NOT_NULL(k);
	struct pl_map m = {0};
	for (int i = 0; i < N; i++) {
		snprintf(k[i], sizeof k[i], "room-%d", i);
		ASSERT_EQ(pl_map_put(&m, k[i], k[i]), 0);
	}
	ASSERT_EQ(m.count, N);
	ASSERT(m.cap <= 4 * (size_t)N);
	size_t dist = 0;
	for (size_t j = 0; j < m.cap; j++) {
		const char *key = m.slots[j].key;
		if (!key)
			continue;
		size_t home = pl_siphash13(key, strlen(key), fixed_seed) & (m.cap - 1);
		dist += (j - home) & (m.cap - 1);
	}
	ASSERT(dist < 2 * (size_t)N);
	int missing = 0;
	for (int i = 0; i < N; i++)
		missing += pl_map_get(&m, k[i]) != k[i];
	ASSERT_EQ(missing, 0);
	ASSERT_NULL(pl_map_get(&m, "room-200000"));
	for (int i = 0; i < N; i += 2)
		ASSERT(pl_map_del(&m, k[i]) == k[i]);
	for (int i = 0; i < N; i++)
		missing += pl_map_get(&m, k[i]) != (i % 2 ? k[i] : NULL);
	ASSERT_EQ(missing, 0);
	pl_map_close(&m);
	free(k);
}

TEST_MAIN(TEST(test_random_seed), TEST(test_siphash_vectors), TEST(test_map_hash),
	  TEST(test_empty), TEST(test_put_get_replace), TEST(test_thousands), TEST(test_tombstone_churn),
	  TEST(test_collisions), TEST(test_collision_churn), TEST(test_many_keys))
