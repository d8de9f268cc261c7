/*
 * Tests for core/socket.c through socket.h: join limits, JOIN, LEAVE, DISCONNECT and EMIT
 * hooks as the socket lifecycle runs them, extensions' data slots, and the identity index of
 * core/nsp.c. Clients have a sink that records every frame's text; hook handlers record what
 * they saw, so each test asserts exactly what ran.
 */
#include "socket.h"

#include "error.h"
#include "test.h"
#include "sio_fixture.h"

/* Which fixture socket s is, or -1. */
static int sock_index(struct fx *fx, const struct pl_socket *s)
{
	for (size_t i = 0; i < fx->n; i++)
		if (s && fx->s[i] == s)
			return (int)i;
	return -1;
}

static char owner_a; /* hooks are registered for this owner */
#define OA ((parley_owner *)&owner_a)

/* What a hook handler saw, and what it answers. */
struct seen {
	enum parley_verdict verdict; /* returned */
	int calls;		     /* times called */
	char trace[512];	     /* room names (JOIN, LEAVE) or reasons, space-separated */
	struct pl_socket *socket;    /* the last event's socket */
	size_t rooms;		     /* DISCONNECT: the socket's rooms during the call */
	bool in_a;		     /* DISCONNECT: the socket is still in "a" */
	const struct parley_target *target; /* EMIT: the event's target */
	bool to_set;			    /* EMIT: the event named a single recipient */
	json_t *replace;		    /* EMIT: a payload to leave in the event (adopted) */
};

static void note(struct seen *w, const char *what)
{
	if (w->trace[0])
		strcat(w->trace, " ");
	strcat(w->trace, what);
	w->calls++;
}

static enum parley_verdict on_room(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	struct parley_evt_room *ev = evt;
	struct seen *w = ud;
	note(w, ev->room);
	w->socket = (struct pl_socket *)ev->socket;
	return w->verdict;
}

static enum parley_verdict on_disconnect(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	struct parley_evt_socket *ev = evt;
	struct seen *w = ud;
	struct pl_socket *s = (struct pl_socket *)ev->socket;
	note(w, ev->reason);
	w->socket = s;
	w->rooms = s->n_rooms;
	w->in_a = pl_socket_in(s, "a");
	return w->verdict;
}

static enum parley_verdict on_emit(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	struct parley_evt_emit *ev = evt;
	struct seen *w = ud;
	char *text = json_dumps(ev->payload, JSON_COMPACT);
	note(w, text ? text : "?");
	free(text);
	w->target = ev->target;
	w->to_set = ev->to != NULL;
	if (w->replace) {
		/* the pipeline releases the payload it replaced */
		ev->payload = w->replace;
		w->replace = NULL;
	}
	return w->verdict;
}

static void test_join_limits(void)
{
	struct fx *fx = fx_new("/", 1, 3, 8);
	struct pl_socket *s = fx->s[0];
	ASSERT_EQ(pl_socket_join(s, ""), PL_EROOMNAME);
	ASSERT_EQ(pl_socket_join(s, "123456789"), PL_EROOMNAME);
	ASSERT_EQ(s->n_rooms, 0);
	ASSERT_NULL(fx->a->ops->room(fx->a, "123456789"));
	ASSERT_EQ(pl_socket_join(s, "12345678"), 0);
	ASSERT(pl_socket_in(s, "12345678"));
	ASSERT_EQ(pl_socket_join(s, "b"), 0);
	ASSERT_EQ(pl_socket_join(s, "c"), 0);
	ASSERT_EQ(s->n_rooms, 3);
	ASSERT_EQ(pl_socket_join(s, "d"), PL_ETOOMANYROOMS);
	ASSERT(!pl_socket_in(s, "d"));
	ASSERT_NULL(fx->a->ops->room(fx->a, "d"));
	/* at the cap, a room already joined is still fine */
	ASSERT_EQ(pl_socket_join(s, "b"), 0);
	ASSERT_EQ(pl_socket_join(s, "12345678"), 0);
	ASSERT_EQ(s->n_rooms, 3);
	/* leaving makes room again */
	pl_socket_leave(s, "b");
	ASSERT(!pl_socket_in(s, "b"));
	ASSERT_EQ(pl_socket_join(s, "d"), 0);
	ASSERT_EQ(s->n_rooms, 3);
	/* the name limit is checked before membership */
	ASSERT_EQ(pl_socket_join(s, ""), PL_EROOMNAME);
	fx_free(fx);
}

static void test_join_before_attach(void)
{
	struct fx *fx = fx_new("/", 0, 3, 8);
	struct pl_client c = {.srv = &fx->srv, .sink = &rec_sink};
	struct pl_socket *s = pl_socket_new(fx->nsp, &c, NULL);
	ASSERT_NOT_NULL(s);
	ASSERT_EQ(s->state, PL_SOCKET_CONNECTING);
	ASSERT_EQ(pl_socket_join(s, "a"), -EPIPE);
	ASSERT_EQ(s->n_rooms, 0);
	ASSERT_NULL(fx->a->ops->room(fx->a, "a"));
	pl_socket_unref(s);
	fx_free(fx);
}

static void test_join_hooks(void)
{
	struct fx *fx = fx_new("/", 2, 3, 8);
	struct pl_socket *s = fx->s[0];
	struct seen w = {.verdict = PARLEY_REJECT};
	ASSERT_EQ(pl_hooks_add(fx->sio->hooks, OA, PARLEY_HOOK_JOIN, NULL, NULL, 0, on_room, &w),
		  0);
	ASSERT_EQ(pl_socket_join(s, "a"), PL_EREFUSED);
	ASSERT_EQ(w.calls, 1);
	ASSERT_STR_EQ(w.trace, "a");
	ASSERT(w.socket == s);
	ASSERT(!pl_socket_in(s, "a"));
	ASSERT_EQ(s->n_rooms, 0);
	ASSERT_NULL(fx->a->ops->room(fx->a, "a"));
	/* DROP refuses too */
	w.verdict = PARLEY_DROP;
	ASSERT_EQ(pl_socket_join(s, "a"), PL_EREFUSED);
	ASSERT(!pl_socket_in(s, "a"));
	/* PASS lets it in */
	w = (struct seen){.verdict = PARLEY_PASS};
	ASSERT_EQ(pl_socket_join(fx->s[1], "b"), 0);
	ASSERT_EQ(w.calls, 1);
	ASSERT_STR_EQ(w.trace, "b");
	ASSERT(w.socket == fx->s[1]);
	ASSERT(pl_socket_in(fx->s[1], "b"));
	/* a room already joined does not ask again; limits are checked before the hooks */
	ASSERT_EQ(pl_socket_join(fx->s[1], "b"), 0);
	ASSERT_EQ(pl_socket_join(fx->s[1], ""), PL_EROOMNAME);
	ASSERT_EQ(w.calls, 1);
	/* a hook limited to another namespace is not asked */
	struct seen other = {.verdict = PARLEY_REJECT};
	ASSERT_EQ(
	    pl_hooks_add(fx->sio->hooks, OA, PARLEY_HOOK_JOIN, "/chat", NULL, 0, on_room, &other),
	    0);
	ASSERT_EQ(pl_socket_join(s, "c"), 0);
	ASSERT_EQ(other.calls, 0);
	ASSERT_EQ(w.calls, 2);
	pl_hooks_remove_owner(fx->sio->hooks, OA);
	fx_free(fx);
}

static void test_leave_hooks(void)
{
	struct fx *fx = fx_new("/", 2, 3, 8);
	struct pl_socket *s = fx->s[0];
	ASSERT_EQ(pl_socket_join(s, "a"), 0);
	ASSERT_EQ(pl_socket_join(s, "b"), 0);
	ASSERT_EQ(pl_socket_join(s, "c"), 0);
	ASSERT_EQ(pl_socket_join(fx->s[1], "b"), 0);
	struct seen w = {.verdict = PARLEY_PASS};
	ASSERT_EQ(pl_hooks_add(fx->sio->hooks, OA, PARLEY_HOOK_LEAVE, NULL, NULL, 0, on_room, &w),
		  0);
	pl_socket_leave(s, "a");
	ASSERT_STR_EQ(w.trace, "a");
	ASSERT(w.socket == s);
	ASSERT(!pl_socket_in(s, "a"));
	/* not in the room: nothing to hear */
	pl_socket_leave(s, "a");
	pl_socket_leave(s, "zz");
	ASSERT_EQ(w.calls, 1);
	/* the room's own name, which goes with the room (s is its only member) */
	size_t k = strcmp(s->rooms[0].room->name, "c") == 0 ? 0 : 1;
	ASSERT_STR_EQ(s->rooms[k].room->name, "c");
	ASSERT_EQ(s->rooms[k].room->n, 1);
	pl_socket_leave(s, s->rooms[k].room->name);
	ASSERT_STR_EQ(w.trace, "a c");
	ASSERT(!pl_socket_in(s, "c"));
	ASSERT_NULL(fx->a->ops->room(fx->a, "c"));
	/* the same without a LEAVE hook */
	pl_hooks_remove_owner(fx->sio->hooks, OA);
	ASSERT_EQ(pl_socket_join(s, "d"), 0);
	k = strcmp(s->rooms[0].room->name, "d") == 0 ? 0 : 1;
	pl_socket_leave(s, s->rooms[k].room->name);
	ASSERT(!pl_socket_in(s, "d"));
	ASSERT_NULL(fx->a->ops->room(fx->a, "d"));
	ASSERT_EQ(w.calls, 2);
	/* remove: once per room */
	ASSERT_EQ(pl_socket_join(s, "e"), 0);
	ASSERT_EQ(pl_socket_join(s, "f"), 0);
	ASSERT_EQ(s->n_rooms, 3);
	w = (struct seen){.verdict = PARLEY_PASS};
	ASSERT_EQ(pl_hooks_add(fx->sio->hooks, OA, PARLEY_HOOK_LEAVE, NULL, NULL, 0, on_room, &w),
		  0);
	struct pl_socket *held = pl_socket_ref(s);
	pl_socket_remove(s, "test");
	fx->s[0] = NULL;
	ASSERT_EQ(w.calls, 3);
	ASSERT(strstr(w.trace, "b") && strstr(w.trace, "e") && strstr(w.trace, "f"));
	ASSERT_EQ(strlen(w.trace), strlen("b e f"));
	ASSERT(w.socket == held);
	ASSERT_EQ(held->n_rooms, 0);
	ASSERT_NULL(fx->a->ops->room(fx->a, "e"));
	ASSERT_EQ(fx->a->ops->room(fx->a, "b")->n, 1);
	/* a second remove is a no-op */
	pl_socket_remove(held, "again");
	ASSERT_EQ(w.calls, 3);
	pl_socket_unref(held);
	pl_hooks_remove_owner(fx->sio->hooks, OA);
	fx_free(fx);
}

static void test_disconnect_hook(void)
{
	struct fx *fx = fx_new("/", 1, 3, 8);
	struct pl_socket *s = fx->s[0];
	ASSERT_EQ(pl_socket_join(s, "a"), 0);
	ASSERT_EQ(pl_socket_join(s, "b"), 0);
	struct seen w = {.verdict = PARLEY_PASS};
	ASSERT_EQ(pl_hooks_add(fx->sio->hooks, OA, PARLEY_HOOK_DISCONNECT, NULL, NULL, 0,
			       on_disconnect, &w),
		  0);
	/* a socket never attached is not disconnected */
	struct pl_client c = {.srv = &fx->srv, .sink = &rec_sink};
	struct pl_socket *never = pl_socket_new(fx->nsp, &c, NULL);
	ASSERT_NOT_NULL(never);
	pl_socket_remove(never, "never");
	ASSERT_EQ(w.calls, 0);
	pl_socket_unref(never);
	/* a connected one: once, rooms still readable */
	struct pl_socket *held = pl_socket_ref(s);
	pl_socket_remove(s, "client namespace disconnect");
	fx->s[0] = NULL;
	ASSERT_EQ(w.calls, 1);
	ASSERT_STR_EQ(w.trace, "client namespace disconnect");
	ASSERT(w.socket == held);
	ASSERT_EQ(w.rooms, 2);
	ASSERT(w.in_a);
	ASSERT_EQ(held->n_rooms, 0);
	ASSERT_EQ(held->state, PL_SOCKET_GONE);
	ASSERT_NULL(pl_nsp_socket(fx->nsp, held->id));
	ASSERT_EQ(fx->nsp->n, 0);
	ASSERT_NULL(c.sockets);
	ASSERT_NULL(fx->cl[0].c.sockets);
	pl_socket_remove(held, "again");
	ASSERT_EQ(w.calls, 1);
	pl_socket_unref(held);
	pl_hooks_remove_owner(fx->sio->hooks, OA);
	fx_free(fx);
}

static void test_emit_hooks(void)
{
	struct fx *fx = fx_new("/", 3, 3, 8);
	ASSERT_EQ(pl_socket_join(fx->s[0], "a"), 0);
	ASSERT_EQ(pl_socket_join(fx->s[1], "a"), 0);
	struct seen w = {.verdict = PARLEY_PASS};
	ASSERT_EQ(pl_hooks_add(fx->sio->hooks, OA, PARLEY_HOOK_EMIT, NULL, NULL, 0, on_emit, &w),
		  0);
	json_t *payload = json_pack("[si]", "x", 1);
	struct parley_message m = {.payload = payload};
	const char *a[] = {"a"};
	struct parley_target t = {.size = sizeof t, .rooms = a, .n_rooms = 1};
	/* once per broadcast, not per recipient */
	ASSERT_EQ(pl_nsp_broadcast(fx->nsp, &t, &m), 2);
	ASSERT_EQ(w.calls, 1);
	ASSERT_STR_EQ(w.trace, "[\"x\",1]");
	ASSERT(w.target == &t);
	ASSERT(!w.to_set);
	ASSERT_STR_EQ(fx->cl[0].log, "42[\"x\",1]\n");
	ASSERT_STR_EQ(fx->cl[1].log, "42[\"x\",1]\n");
	ASSERT_STR_EQ(fx->cl[2].log, "");
	/* the whole namespace: still once */
	fx_clear_logs(fx);
	w = (struct seen){.verdict = PARLEY_PASS};
	ASSERT_EQ(pl_nsp_broadcast(fx->nsp, NULL, &m), 3);
	ASSERT_EQ(w.calls, 1);
	ASSERT_NULL(w.target);
	/* a replaced payload is what recipients get */
	fx_clear_logs(fx);
	w = (struct seen){.verdict = PARLEY_PASS, .replace = json_pack("[si]", "y", 2)};
	ASSERT_EQ(pl_nsp_broadcast(fx->nsp, &t, &m), 2);
	ASSERT_EQ(w.calls, 1);
	ASSERT_NULL(w.replace);
	ASSERT_STR_EQ(fx->cl[0].log, "42[\"y\",2]\n");
	ASSERT_STR_EQ(fx->cl[1].log, "42[\"y\",2]\n");
	ASSERT_STR_EQ(fx->cl[2].log, "");
	/* the caller's payload is untouched */
	ASSERT_EQ(payload->refcount, 1);
	ASSERT_STR_EQ(json_string_value(json_array_get(payload, 0)), "x");
	/* HANDLED delivers as modified */
	fx_clear_logs(fx);
	w = (struct seen){.verdict = PARLEY_HANDLED, .replace = json_pack("[si]", "z", 3)};
	ASSERT_EQ(pl_nsp_broadcast(fx->nsp, &t, &m), 2);
	ASSERT_STR_EQ(fx->cl[0].log, "42[\"z\",3]\n");
	/* DROP cancels it */
	fx_clear_logs(fx);
	w = (struct seen){.verdict = PARLEY_DROP};
	ASSERT_EQ(pl_nsp_broadcast(fx->nsp, &t, &m), 0);
	ASSERT_EQ(w.calls, 1);
	for (size_t i = 0; i < 3; i++)
		ASSERT_EQ(fx->cl[i].frames, 0);
	/* ... also after replacing the payload (the replacement is released) */
	w = (struct seen){.verdict = PARLEY_DROP, .replace = json_pack("[si]", "y", 2)};
	ASSERT_EQ(pl_nsp_broadcast(fx->nsp, NULL, &m), 0);
	for (size_t i = 0; i < 3; i++)
		ASSERT_EQ(fx->cl[i].frames, 0);
	/* an emit to one socket: the hook sees its recipient */
	w = (struct seen){.verdict = PARLEY_PASS};
	ASSERT_EQ(pl_socket_emit(fx->s[2], &m, NULL, NULL), 0);
	ASSERT_EQ(w.calls, 1);
	ASSERT(w.to_set);
	ASSERT_STR_EQ(fx->cl[2].log, "42[\"x\",1]\n");
	w = (struct seen){.verdict = PARLEY_DROP};
	ASSERT_EQ(pl_socket_emit(fx->s[2], &m, NULL, NULL), PL_EREFUSED);
	ASSERT_EQ(fx->cl[2].frames, 1);
	ASSERT_EQ(payload->refcount, 1);
	json_decref(payload);
	pl_hooks_remove_owner(fx->sio->hooks, OA);
	fx_free(fx);
}

/* ---- data slots ---- */

static int freed[8]; /* how often each value was destroyed */
static int values[8];

static void free_value(void *p)
{
	freed[(int *)p - values]++;
}

static void test_data_slots(void)
{
	static char owner_1, owner_2;
	memset(freed, 0, sizeof freed);
	struct fx *fx = fx_new("/", 1, 3, 8);
	struct pl_socket *s = fx->s[0];
	ASSERT_NULL(pl_socket_get_data(s, &owner_1));
	ASSERT_EQ(pl_socket_set_data(s, &owner_1, &values[0], free_value), 0);
	ASSERT_EQ(pl_socket_set_data(s, &owner_2, &values[1], free_value), 0);
	ASSERT(pl_socket_get_data(s, &owner_1) == &values[0]);
	ASSERT(pl_socket_get_data(s, &owner_2) == &values[1]);
	/* replacing destroys the old value, once */
	ASSERT_EQ(pl_socket_set_data(s, &owner_1, &values[2], free_value), 0);
	ASSERT(pl_socket_get_data(s, &owner_1) == &values[2]);
	ASSERT_EQ(freed[0], 1);
	ASSERT_EQ(freed[2], 0);
	/* setting the same value again keeps it */
	ASSERT_EQ(pl_socket_set_data(s, &owner_1, &values[2], free_value), 0);
	ASSERT_EQ(freed[2], 0);
	/* a value without a destructor */
	ASSERT_EQ(pl_socket_set_data(s, &owner_1, &values[3], NULL), 0);
	ASSERT_EQ(freed[2], 1);
	ASSERT_EQ(pl_socket_set_data(s, &owner_1, &values[4], free_value), 0);
	ASSERT_EQ(freed[3], 0);
	/* dropping destroys; dropping again or for an unknown owner is a no-op */
	pl_socket_drop_data(s, &owner_1);
	ASSERT_EQ(freed[4], 1);
	ASSERT_NULL(pl_socket_get_data(s, &owner_1));
	pl_socket_drop_data(s, &owner_1);
	ASSERT_EQ(freed[4], 1);
	ASSERT(pl_socket_get_data(s, &owner_2) == &values[1]);
	/* remove destroys what is left */
	ASSERT_EQ(pl_socket_set_data(s, &owner_1, &values[5], free_value), 0);
	struct pl_socket *held = pl_socket_ref(s);
	pl_socket_remove(s, "test");
	fx->s[0] = NULL;
	ASSERT_EQ(freed[1], 1);
	ASSERT_EQ(freed[5], 1);
	ASSERT_NULL(pl_socket_get_data(held, &owner_1));
	ASSERT_NULL(pl_socket_get_data(held, &owner_2));
	/* a gone socket takes no values */
	ASSERT_EQ(pl_socket_set_data(held, &owner_1, &values[6], free_value), -EPIPE);
	ASSERT_EQ(freed[6], 0);
	pl_socket_unref(held);
	for (int i = 0; i < 7; i++)
		ASSERT_EQ(freed[i], i == 3 || i == 6 ? 0 : 1);
	fx_free(fx);
}

/* ---- identity ---- */

/* The sockets filed under userid, as a bit mask of fixture sockets; bit 31 for a stranger. */
static unsigned user_mask(struct fx *fx, json_t *userid)
{
	unsigned mask = 0;
	struct pl_socket *prev = NULL;
	for (struct pl_socket *s = pl_nsp_user_first(fx->nsp, userid); s; s = s->next_user) {
		int i = sock_index(fx, s);
		mask |= i >= 0 ? 1u << i : 1u << 31;
		if (s->prev_user != prev)
			mask |= 1u << 30; /* a broken back link */
		prev = s;
	}
	json_decref(userid);
	return mask;
}

static void test_identity(void)
{
	struct fx *fx = fx_new("/", 4, 3, 8);
	json_t *u1 = json_string("u1"), *one = json_integer(1), *name = json_string("Ann");
	ASSERT_EQ(pl_nsp_set_identity(fx->s[0], u1, name), 0);
	ASSERT_EQ(pl_nsp_set_identity(fx->s[1], u1, NULL), 0);
	ASSERT_EQ(pl_nsp_set_identity(fx->s[2], one, NULL), 0);
	/* copies: the caller's values are its own */
	ASSERT(fx->s[0]->userid != u1);
	ASSERT(json_equal(fx->s[0]->userid, u1));
	ASSERT_STR_EQ(json_string_value(fx->s[0]->name), "Ann");
	ASSERT_NULL(fx->s[1]->name);
	ASSERT_EQ(user_mask(fx, json_string("u1")), 0x3);
	ASSERT_EQ(user_mask(fx, json_integer(1)), 0x4);
	/* 1 (a number) and "1" (a string) are different users */
	ASSERT_EQ(user_mask(fx, json_string("1")), 0);
	ASSERT_EQ(user_mask(fx, json_string("u2")), 0);
	ASSERT_NULL(pl_nsp_user_first(fx->nsp, NULL));
	ASSERT_EQ(fx->nsp->users.count, 2);
	/* the same userid again keeps the socket filed once */
	ASSERT_EQ(pl_nsp_set_identity(fx->s[1], u1, name), 0);
	ASSERT_EQ(user_mask(fx, json_string("u1")), 0x3);
	ASSERT_STR_EQ(json_string_value(fx->s[1]->name), "Ann");
	/* changing the userid moves the socket */
	json_t *u2 = json_string("u2");
	ASSERT_EQ(pl_nsp_set_identity(fx->s[0], u2, NULL), 0);
	ASSERT_EQ(user_mask(fx, json_string("u1")), 0x2);
	ASSERT_EQ(user_mask(fx, json_string("u2")), 0x1);
	ASSERT_NULL(fx->s[0]->name);
	/* to the number's user, then to none */
	ASSERT_EQ(pl_nsp_set_identity(fx->s[3], one, NULL), 0);
	ASSERT_EQ(user_mask(fx, json_integer(1)), 0xc);
	ASSERT_EQ(pl_nsp_set_identity(fx->s[2], NULL, name), 0);
	ASSERT_EQ(user_mask(fx, json_integer(1)), 0x8);
	ASSERT_NULL(fx->s[2]->userid);
	ASSERT_NULL(fx->s[2]->user);
	ASSERT_EQ(pl_nsp_set_identity(fx->s[3], NULL, NULL), 0);
	ASSERT_EQ(user_mask(fx, json_integer(1)), 0);
	ASSERT_EQ(fx->nsp->users.count, 2);
	/* removing a socket drops it from the index; its identity stays readable while held */
	struct pl_socket *held = pl_socket_ref(fx->s[1]);
	pl_socket_remove(held, "test");
	fx->s[1] = NULL;
	ASSERT_EQ(user_mask(fx, json_string("u1")), 0);
	ASSERT_EQ(fx->nsp->users.count, 1);
	ASSERT_NULL(held->user);
	ASSERT_NULL(held->next_user);
	ASSERT_NULL(held->prev_user);
	ASSERT_STR_EQ(json_string_value(held->userid), "u1");
	ASSERT_STR_EQ(json_string_value(held->name), "Ann");
	pl_socket_unref(held);
	ASSERT_EQ(user_mask(fx, json_string("u2")), 0x1);
	json_decref(u1);
	json_decref(u2);
	json_decref(one);
	json_decref(name);
	fx_free(fx);
}

static void test_identity_removal_middle(void)
{
	struct fx *fx = fx_new("/", 3, 3, 8);
	json_t *u = json_string("u");
	for (size_t i = 0; i < 3; i++)
		ASSERT_EQ(pl_nsp_set_identity(fx->s[i], u, NULL), 0);
	ASSERT_EQ(user_mask(fx, json_string("u")), 0x7);
	/* the middle of the list, then the head, then the last */
	struct pl_socket *mid = pl_nsp_user_first(fx->nsp, u)->next_user;
	int mi = sock_index(fx, mid);
	pl_socket_remove(mid, "test");
	fx->s[mi] = NULL;
	ASSERT_EQ(user_mask(fx, json_string("u")), 0x7u & ~(1u << mi));
	struct pl_socket *head = pl_nsp_user_first(fx->nsp, u);
	int hi = sock_index(fx, head);
	pl_socket_remove(head, "test");
	fx->s[hi] = NULL;
	ASSERT_EQ(user_mask(fx, json_string("u")), 0x7u & ~(1u << mi) & ~(1u << hi));
	struct pl_socket *last = pl_nsp_user_first(fx->nsp, u);
	ASSERT_NOT_NULL(last);
	ASSERT_NULL(last->next_user);
	ASSERT_NULL(last->prev_user);
	int li = sock_index(fx, last);
	pl_socket_remove(last, "test");
	fx->s[li] = NULL;
	ASSERT_NULL(pl_nsp_user_first(fx->nsp, u));
	ASSERT_EQ(fx->nsp->users.count, 0);
	json_decref(u);
	fx_free(fx);
}

static void test_identity_never_attached(void)
{
	struct fx *fx = fx_new("/", 1, 3, 8);
	json_t *u = json_string("u");
	ASSERT_EQ(pl_nsp_set_identity(fx->s[0], u, NULL), 0);
	/* a CONNECT hook may set the identity of a socket whose connect is then refused */
	struct pl_client c = {.srv = &fx->srv, .sink = &rec_sink};
	struct pl_socket *s = pl_socket_new(fx->nsp, &c, NULL);
	ASSERT_NOT_NULL(s);
	ASSERT_EQ(pl_nsp_set_identity(s, u, NULL), 0);
	ASSERT(pl_nsp_user_first(fx->nsp, u) == s);
	pl_socket_unref(s);
	/* the freed socket is not left in the index */
	ASSERT_EQ(user_mask(fx, json_string("u")), 0x1);
	ASSERT_EQ(fx->nsp->users.count, 1);
	json_decref(u);
	fx_free(fx);
}

TEST_MAIN(TEST(test_join_limits), TEST(test_join_before_attach), TEST(test_join_hooks),
	  TEST(test_leave_hooks), TEST(test_disconnect_hook), TEST(test_emit_hooks),
	  TEST(test_data_slots), TEST(test_identity), TEST(test_identity_removal_middle),
	  TEST(test_identity_never_attached))
