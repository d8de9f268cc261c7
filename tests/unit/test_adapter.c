/*
 * Tests for core/adapter.c, the local adapter: room membership (both sides of every membership
 * kept consistent through the swap-removals, checked against a reference model over a random
 * sequence), rooms freed when emptied, del_all with and without a callback, and broadcast
 * targeting (rooms, overlaps, exceptions, socket ids as rooms) with the exact frames sent and
 * fetch_sockets visiting the same set. Clients have a sink that records every frame's text.
 */
#include "adapter.h"

#include "test.h"
#include "sio_fixture.h"

static int add(struct fx *fx, size_t i, const char *room)
{
	return fx->a->ops->add(fx->a, fx->s[i], room);
}

static bool del(struct fx *fx, size_t i, const char *room)
{
	return fx->a->ops->del(fx->a, fx->s[i], room);
}

static struct pl_room *room(struct fx *fx, const char *name)
{
	return fx->a->ops->room(fx->a, name);
}

/* Which fixture socket s is, or -1. */
static int sock_index(struct fx *fx, const struct pl_socket *s)
{
	for (size_t i = 0; i < fx->n; i++)
		if (s && fx->s[i] == s)
			return (int)i;
	return -1;
}

/*
 * Checks both sides of every membership: each socket's rooms[k] names a room whose
 * members[index] is the socket and whose slots[index] is k, and each room's members point back
 * the same way; with names and model (model[i][r]: socket i is in names[r]), also that the
 * memberships are exactly the model's and that rooms without members are gone.
 */
static void check(struct fx *fx, const char *const *names, size_t n_names,
		  bool model[][MAX_SOCKETS])
{
	size_t total = 0;
	for (size_t i = 0; i < fx->n; i++) {
		struct pl_socket *s = fx->s[i];
		total += s->n_rooms;
		ASSERT(s->n_rooms <= s->cap_rooms);
		for (size_t k = 0; k < s->n_rooms; k++) {
			struct pl_room *r = s->rooms[k].room;
			size_t idx = s->rooms[k].index;
			ASSERT_NOT_NULL(r);
			ASSERT(room(fx, r->name) == r);
			ASSERT(idx < r->n);
			ASSERT(r->members[idx] == s);
			ASSERT_EQ(r->slots[idx], k);
			for (size_t k2 = 0; k2 < k; k2++)
				ASSERT(s->rooms[k2].room != r);
		}
	}
	if (!names)
		return;
	size_t members = 0;
	for (size_t r = 0; r < n_names; r++) {
		struct pl_room *rm = room(fx, names[r]);
		size_t want = 0;
		for (size_t i = 0; i < fx->n; i++) {
			ASSERT_EQ(pl_adapter_in(fx->s[i], names[r]), model[r][i]);
			want += model[r][i];
		}
		if (want == 0) {
			ASSERT_NULL(rm);
			continue;
		}
		ASSERT_NOT_NULL(rm);
		ASSERT_STR_EQ(rm->name, names[r]);
		ASSERT_EQ(rm->n, want);
		ASSERT(rm->n <= rm->cap);
		for (size_t j = 0; j < rm->n; j++) {
			struct pl_socket *m = rm->members[j];
			int i = sock_index(fx, m);
			ASSERT(i >= 0);
			ASSERT(model[r][i]);
			ASSERT(rm->slots[j] < m->n_rooms);
			ASSERT(m->rooms[rm->slots[j]].room == rm);
			ASSERT_EQ(m->rooms[rm->slots[j]].index, j);
			for (size_t j2 = 0; j2 < j; j2++)
				ASSERT(rm->members[j2] != m);
		}
		members += rm->n;
	}
	ASSERT_EQ(members, total);
}

#define CHECK(fx, names, n, model)          \
	do {                                \
		check(fx, names, n, model); \
		if (test_failed)            \
			return;             \
	} while (0)

static void test_join_creates_room(void)
{
	struct fx *fx = fx_new("/", 2, 64, 64);
	ASSERT_NULL(room(fx, "a"));
	ASSERT_EQ(add(fx, 0, "a"), 0);
	struct pl_room *r = room(fx, "a");
	ASSERT_NOT_NULL(r);
	ASSERT_STR_EQ(r->name, "a");
	ASSERT_EQ(r->n, 1);
	ASSERT(r->members[0] == fx->s[0]);
	ASSERT_EQ(r->slots[0], 0);
	ASSERT_EQ(fx->s[0]->n_rooms, 1);
	ASSERT(fx->s[0]->rooms[0].room == r);
	ASSERT_EQ(fx->s[0]->rooms[0].index, 0);
	ASSERT(pl_adapter_in(fx->s[0], "a"));
	ASSERT(!pl_adapter_in(fx->s[1], "a"));
	/* a second join changes nothing */
	ASSERT_EQ(add(fx, 0, "a"), 0);
	ASSERT(room(fx, "a") == r);
	ASSERT_EQ(r->n, 1);
	ASSERT_EQ(fx->s[0]->n_rooms, 1);
	/* another member joins the same room */
	ASSERT_EQ(add(fx, 1, "a"), 0);
	ASSERT(room(fx, "a") == r);
	ASSERT_EQ(r->n, 2);
	ASSERT(r->members[1] == fx->s[1]);
	CHECK(fx, NULL, 0, NULL);
	/* leaving a room one is not in */
	ASSERT(!del(fx, 0, "b"));
	ASSERT_EQ(fx->s[0]->n_rooms, 1);
	fx_free(fx);
}

static void test_leave_swaps_both_sides(void)
{
	static const char *const names[] = {"r0", "r1", "r2"};
	bool model[3][MAX_SOCKETS] = {{0}};
	struct fx *fx = fx_new("/", 3, 64, 64);
	/* s0 is in r0 r1 r2; r0 also has s1 and s2 */
	for (size_t r = 0; r < 3; r++) {
		ASSERT_EQ(add(fx, 0, names[r]), 0);
		model[r][0] = true;
	}
	ASSERT_EQ(add(fx, 1, "r0"), 0);
	ASSERT_EQ(add(fx, 2, "r0"), 0);
	ASSERT_EQ(add(fx, 1, "r2"), 0);
	model[0][1] = model[0][2] = model[2][1] = true;
	CHECK(fx, names, 3, model);
	struct pl_room *r0 = room(fx, "r0");
	ASSERT(r0->members[0] == fx->s[0]);
	ASSERT(fx->s[0]->rooms[0].room == r0);
	/* r0 is not s0's last room, and s0 is not r0's last member: both sides swap */
	ASSERT(del(fx, 0, "r0"));
	model[0][0] = false;
	CHECK(fx, names, 3, model);
	ASSERT(r0->members[0] == fx->s[2]);
	ASSERT_EQ(fx->s[0]->n_rooms, 2);
	ASSERT_STR_EQ(fx->s[0]->rooms[0].room->name, "r2");
	ASSERT_STR_EQ(fx->s[0]->rooms[1].room->name, "r1");
	/* the same in the other order of arrival: s1 leaves r0 (its first room), r0 keeps s2 */
	ASSERT(del(fx, 1, "r0"));
	model[0][1] = false;
	CHECK(fx, names, 3, model);
	/* the last member leaves: the room goes */
	ASSERT(del(fx, 2, "r0"));
	model[0][2] = false;
	CHECK(fx, names, 3, model);
	ASSERT_NULL(room(fx, "r0"));
	ASSERT(!del(fx, 2, "r0"));
	/* a room that comes back is a new, consistent room */
	ASSERT_EQ(add(fx, 2, "r0"), 0);
	model[0][2] = true;
	CHECK(fx, names, 3, model);
	ASSERT_EQ(room(fx, "r0")->n, 1);
	fx_free(fx);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static void test_random_joins_and_leaves(void)
{
	static const char *const names[] = {"r0", "r1", "r2", "r3", "r4", "r5"};
	bool model[6][MAX_SOCKETS] = {{0}};
	struct fx *fx = fx_new("/", MAX_SOCKETS, 64, 64);
	size_t joins = 0, leaves = 0, freed = 0;
	for (int step = 0; step < 2000; step++) {
		unsigned i = rnd(MAX_SOCKETS), r = rnd(6);
		bool was = model[r][i];
		if (rnd(2)) {
			ASSERT_EQ(add(fx, i, names[r]), 0);
			model[r][i] = true;
			joins += !was;
		} else {
			ASSERT_EQ(del(fx, i, names[r]), was);
			model[r][i] = false;
			leaves += was;
			if (was && !room(fx, names[r]))
				freed++;
		}
		CHECK(fx, names, 6, model);
	}
	/* the sequence went through every kind of step */
	ASSERT(joins > 300);
	ASSERT(leaves > 300);
	ASSERT(freed > 0);
	fx_free(fx);
}

/* ---- del_all ---- */

struct left_log {
	char names[256]; /* rooms heard, space-separated */
	int calls;
	struct fx *fx;	     /* with join_other: the fixture */
	int join_other;	     /* if >= 0, the socket the callback joins to each room left */
	struct pl_socket *s; /* the socket the callback should hear of */
	bool wrong_socket;
};

static void on_left(struct pl_socket *s, const char *room, void *ud)
{
	struct left_log *l = ud;
	if (s != l->s)
		l->wrong_socket = true;
	if (l->names[0])
		strcat(l->names, " ");
	strcat(l->names, room);
	l->calls++;
	/* s has left room already */
	if (pl_adapter_in(s, room))
		l->wrong_socket = true;
	if (l->join_other >= 0)
		add(l->fx, (size_t)l->join_other, room);
}

static void test_del_all(void)
{
	struct fx *fx = fx_new("/", 3, 64, 64);
	ASSERT_EQ(add(fx, 0, "a"), 0);
	ASSERT_EQ(add(fx, 0, "b"), 0);
	ASSERT_EQ(add(fx, 1, "b"), 0);
	/* without a callback */
	fx->a->ops->del_all(fx->a, fx->s[0], NULL, NULL);
	ASSERT_EQ(fx->s[0]->n_rooms, 0);
	ASSERT_NULL(room(fx, "a"));
	ASSERT_NOT_NULL(room(fx, "b"));
	ASSERT_EQ(room(fx, "b")->n, 1);
	ASSERT(room(fx, "b")->members[0] == fx->s[1]);
	CHECK(fx, NULL, 0, NULL);
	/* nothing to leave */
	struct left_log l = {.fx = fx, .join_other = -1, .s = fx->s[0]};
	fx->a->ops->del_all(fx->a, fx->s[0], on_left, &l);
	ASSERT_EQ(l.calls, 0);
	/* with a callback: each room once */
	ASSERT_EQ(add(fx, 0, "a"), 0);
	ASSERT_EQ(add(fx, 0, "b"), 0);
	ASSERT_EQ(add(fx, 0, "c"), 0);
	fx->a->ops->del_all(fx->a, fx->s[0], on_left, &l);
	ASSERT_EQ(l.calls, 3);
	ASSERT_STR_EQ(l.names, "c b a");
	ASSERT(!l.wrong_socket);
	ASSERT_EQ(fx->s[0]->n_rooms, 0);
	ASSERT_NULL(room(fx, "a"));
	ASSERT_NULL(room(fx, "c"));
	ASSERT_EQ(room(fx, "b")->n, 1);
	CHECK(fx, NULL, 0, NULL);
	fx_free(fx);
}

static void test_del_all_callback_joins(void)
{
	static const char *const names[] = {"a", "b", "c"};
	bool model[3][MAX_SOCKETS] = {{0}};
	struct fx *fx = fx_new("/", 3, 64, 64);
	for (size_t r = 0; r < 3; r++) {
		ASSERT_EQ(add(fx, 0, names[r]), 0);
		model[r][0] = true;
	}
	/* s1 shares "b"; s2 shares "a", so "a" keeps a member while s0 leaves it */
	ASSERT_EQ(add(fx, 1, "b"), 0);
	ASSERT_EQ(add(fx, 2, "a"), 0);
	model[1][1] = model[0][2] = true;
	CHECK(fx, names, 3, model);
	/* the callback joins s1 to each room s0 left: "c" (freed) comes back, "b" is a no-op */
	struct left_log l = {.fx = fx, .join_other = 1, .s = fx->s[0]};
	fx->a->ops->del_all(fx->a, fx->s[0], on_left, &l);
	ASSERT_EQ(l.calls, 3);
	ASSERT_STR_EQ(l.names, "c b a");
	ASSERT(!l.wrong_socket);
	for (size_t r = 0; r < 3; r++) {
		model[r][0] = false;
		model[r][1] = true;
	}
	CHECK(fx, names, 3, model);
	ASSERT_EQ(fx->s[1]->n_rooms, 3);
	ASSERT_EQ(room(fx, "a")->n, 2);
	/* s1 leaves everything, joining s2 along the way */
	struct left_log l2 = {.fx = fx, .join_other = 2, .s = fx->s[1]};
	fx->a->ops->del_all(fx->a, fx->s[1], on_left, &l2);
	ASSERT_EQ(l2.calls, 3);
	ASSERT(!l2.wrong_socket);
	for (size_t r = 0; r < 3; r++) {
		model[r][1] = false;
		model[r][2] = true;
	}
	CHECK(fx, names, 3, model);
	fx_free(fx);
}

/* ---- broadcast ---- */

struct visit {
	struct fx *fx;
	unsigned mask; /* sockets visited */
	int repeats;   /* visits of a socket already visited */
};

static void on_fetch(struct pl_socket *s, void *ud)
{
	struct visit *v = ud;
	int i = sock_index(v->fx, s);
	unsigned bit = i >= 0 ? 1u << i : 1u << 31;
	if (v->mask & bit)
		v->repeats++;
	v->mask |= bit;
}

/*
 * Broadcasts ["x",1] to t and checks that exactly the sockets of want (a bit per socket)
 * received frame, once each, that the count returned matches, and that fetch_sockets visits
 * the same sockets once each.
 */
static void expect_broadcast(struct fx *fx, const struct parley_target *t, unsigned want,
			     const char *frame)
{
	json_t *payload = json_pack("[si]", "x", 1);
	ASSERT_NOT_NULL(payload);
	struct parley_message m = {.payload = payload};
	fx_clear_logs(fx);
	size_t n = fx->a->ops->broadcast(fx->a, t, &m);
	json_decref(payload);
	char line[128];
	snprintf(line, sizeof line, "%s\n", frame);
	unsigned got = 0;
	for (size_t i = 0; i < fx->n; i++) {
		if (want & (1u << i)) {
			ASSERT_STR_EQ(fx->cl[i].log, line);
			ASSERT_EQ(fx->cl[i].frames, 1);
			got |= 1u << i;
		} else {
			ASSERT_STR_EQ(fx->cl[i].log, "");
		}
	}
	ASSERT_EQ(got, want);
	ASSERT_EQ(n, __builtin_popcount(want));
	struct visit v = {.fx = fx};
	size_t nf = fx->a->ops->fetch_sockets(fx->a, t, on_fetch, &v);
	ASSERT_EQ(v.mask, want);
	ASSERT_EQ(v.repeats, 0);
	ASSERT_EQ(nf, n);
}

#define EXPECT_BROADCAST(fx, t, want, frame)          \
	do {                                          \
		expect_broadcast(fx, t, want, frame); \
		if (test_failed)                      \
			return;                       \
	} while (0)

/* s0: a; s1: a b; s2: b; s3: none. */
static struct fx *broadcast_fixture(const char *nsp)
{
	struct fx *fx = fx_new(nsp, 4, 64, 64);
	if (add(fx, 0, "a") || add(fx, 1, "a") || add(fx, 1, "b") || add(fx, 2, "b"))
		abort();
	return fx;
}

static void test_broadcast_targets(void)
{
	struct fx *fx = broadcast_fixture("/");
	const char *x = "42[\"x\",1]";
	const char *a[] = {"a"}, *ab[] = {"a", "b"}, *b[] = {"b"}, *none[] = {"nobody"};
	/* the whole namespace: NULL and a target without rooms */
	EXPECT_BROADCAST(fx, NULL, 0xf, x);
	struct parley_target t = {.size = sizeof t};
	EXPECT_BROADCAST(fx, &t, 0xf, x);
	/* one room */
	t = (struct parley_target){.size = sizeof t, .rooms = a, .n_rooms = 1};
	EXPECT_BROADCAST(fx, &t, 0x3, x);
	/* two overlapping rooms: s1 once */
	t = (struct parley_target){.size = sizeof t, .rooms = ab, .n_rooms = 2};
	EXPECT_BROADCAST(fx, &t, 0x7, x);
	/* the same room twice */
	const char *aa[] = {"a", "a"};
	t = (struct parley_target){.size = sizeof t, .rooms = aa, .n_rooms = 2};
	EXPECT_BROADCAST(fx, &t, 0x3, x);
	/* a room that does not exist */
	t = (struct parley_target){.size = sizeof t, .rooms = none, .n_rooms = 1};
	EXPECT_BROADCAST(fx, &t, 0, x);
	/* rooms but the sender */
	t = (struct parley_target){
	    .size = sizeof t, .rooms = ab, .n_rooms = 2, .except = (parley_socket *)fx->s[1]};
	EXPECT_BROADCAST(fx, &t, 0x5, x);
	/* all but the sender */
	t = (struct parley_target){.size = sizeof t, .except = (parley_socket *)fx->s[3]};
	EXPECT_BROADCAST(fx, &t, 0x7, x);
	/* all but a room */
	t = (struct parley_target){.size = sizeof t, .except_rooms = b, .n_except = 1};
	EXPECT_BROADCAST(fx, &t, 0x9, x);
	/* a room but another room */
	t = (struct parley_target){
	    .size = sizeof t, .rooms = a, .n_rooms = 1, .except_rooms = b, .n_except = 1};
	EXPECT_BROADCAST(fx, &t, 0x1, x);
	/* a room but itself */
	t = (struct parley_target){
	    .size = sizeof t, .rooms = a, .n_rooms = 1, .except_rooms = a, .n_except = 1};
	EXPECT_BROADCAST(fx, &t, 0, x);
	/* a socket's id as a room reaches that socket (s3 is in no room at all) */
	const char *id3[] = {fx->s[3]->id};
	t = (struct parley_target){.size = sizeof t, .rooms = id3, .n_rooms = 1};
	EXPECT_BROADCAST(fx, &t, 0x8, x);
	const char *id0_b[] = {fx->s[0]->id, "b"};
	t = (struct parley_target){.size = sizeof t, .rooms = id0_b, .n_rooms = 2};
	EXPECT_BROADCAST(fx, &t, 0x7, x);
	/* ... and the id of a socket in the target's room, also named as a room: once */
	const char *a_id1[] = {"a", fx->s[1]->id};
	t = (struct parley_target){.size = sizeof t, .rooms = a_id1, .n_rooms = 2};
	EXPECT_BROADCAST(fx, &t, 0x3, x);
	/* except_rooms naming a socket id skips that socket */
	const char *id1[] = {fx->s[1]->id};
	t = (struct parley_target){.size = sizeof t, .except_rooms = id1, .n_except = 1};
	EXPECT_BROADCAST(fx, &t, 0xd, x);
	t = (struct parley_target){
	    .size = sizeof t, .rooms = ab, .n_rooms = 2, .except_rooms = id1, .n_except = 1};
	EXPECT_BROADCAST(fx, &t, 0x5, x);
	/* a socket id as a room, excepted by the same id */
	t = (struct parley_target){
	    .size = sizeof t, .rooms = id3, .n_rooms = 1, .except_rooms = id3, .n_except = 1};
	EXPECT_BROADCAST(fx, &t, 0, x);
	fx_free(fx);
}

static void test_broadcast_after_leave(void)
{
	struct fx *fx = broadcast_fixture("/");
	const char *x = "42[\"x\",1]";
	const char *a[] = {"a"};
	struct parley_target t = {.size = sizeof t, .rooms = a, .n_rooms = 1};
	ASSERT(del(fx, 0, "a"));
	EXPECT_BROADCAST(fx, &t, 0x2, x);
	ASSERT(del(fx, 1, "a"));
	EXPECT_BROADCAST(fx, &t, 0, x);
	/* a removed socket is no longer reached, whole-namespace or by id */
	const char *id2[] = {fx->s[2]->id};
	struct pl_socket *gone = pl_socket_ref(fx->s[2]);
	pl_socket_remove(gone, "test");
	fx->s[2] = NULL;
	EXPECT_BROADCAST(fx, NULL, 0xb, x);
	t = (struct parley_target){.size = sizeof t, .rooms = id2, .n_rooms = 1};
	EXPECT_BROADCAST(fx, &t, 0, x);
	pl_socket_unref(gone);
	fx_free(fx);
}

static void test_broadcast_namespace_frame(void)
{
	struct fx *fx = broadcast_fixture("/chat");
	const char *x = "42/chat,[\"x\",1]";
	const char *b[] = {"b"};
	EXPECT_BROADCAST(fx, NULL, 0xf, x);
	struct parley_target t = {.size = sizeof t, .rooms = b, .n_rooms = 1};
	EXPECT_BROADCAST(fx, &t, 0x6, x);
	fx_free(fx);
}

TEST_MAIN(TEST(test_join_creates_room), TEST(test_leave_swaps_both_sides),
	  TEST(test_random_joins_and_leaves), TEST(test_del_all), TEST(test_del_all_callback_joins),
	  TEST(test_broadcast_targets), TEST(test_broadcast_after_leave),
	  TEST(test_broadcast_namespace_frame))
