/*
 * Tests for core/hooks.c: verdicts, ordering, the namespace and event filters, args and name
 * adoption with re-matching, (un)registration from inside running handlers, owner teardown,
 * connect pairing and pl_hooks_active. Handlers append their tag to a trace string, so each
 * test asserts the exact call order.
 */
#include "hooks.h"

#include <errno.h>

#include "test.h"

static char trace[2048];     /* tags of the handlers called, space-separated */
static struct pl_hooks *reg; /* the registry under test, for handlers that change it */

static char owner_a, owner_b; /* owners are only compared: any distinct addresses do */
#define OA ((parley_owner *)&owner_a)
#define OB ((parley_owner *)&owner_b)

struct tag {
	const char *name;	     /* appended to the trace ("!" added for CONNECT_FAILED) */
	enum parley_verdict verdict; /* what the handler returns */
	void (*act)(struct tag *t, void *evt); /* something more to do, or NULL */
	const char *arg;		       /* act's argument (a name to rename to, ...) */
	void *ptr;			       /* act's other argument */
	int n;				       /* act's counter */
};

static void reset(void)
{
	trace[0] = '\0';
}

static enum parley_verdict rec(enum parley_hook hook, void *evt, void *ud)
{
	struct tag *t = ud;
	enum parley_verdict v = t->verdict; /* act may free t */
	if (trace[0])
		strcat(trace, " ");
	strcat(trace, t->name);
	if (hook == PARLEY_HOOK_CONNECT_FAILED)
		strcat(trace, "!");
	if (t->act)
		t->act(t, evt);
	return v;
}

static int add(parley_owner *o, enum parley_hook hook, const char *nsp, const char *event, int prio,
	       struct tag *t)
{
	return pl_hooks_add(reg, o, hook, nsp, event, prio, rec, t);
}

static enum parley_verdict tick(const char *nsp)
{
	struct parley_evt_tick ev = {.size = sizeof ev, .now_ms = 1};
	reset();
	return pl_hooks_run(reg, PARLEY_HOOK_TICK, nsp, &ev);
}

/* Runs EVENT on a copy of name that the caller owns, then releases what the run left. */
static enum parley_verdict event(const char *name)
{
	char orig[64];
	snprintf(orig, sizeof orig, "%s", name);
	struct parley_evt_message ev = {.size = sizeof ev, .name = orig, .args = json_array()};
	reset();
	enum parley_verdict v = pl_hooks_run(reg, PARLEY_HOOK_EVENT, "/", &ev);
	pl_hooks_message_done(&ev, orig);
	return v;
}

static void test_empty(void)
{
	pl_hooks_free(NULL);
	reg = pl_hooks_new();
	ASSERT_NOT_NULL(reg);
	for (int i = 0; i < PARLEY_HOOK_COUNT; i++)
		ASSERT(!pl_hooks_active(reg, (enum parley_hook)i));
	ASSERT(!pl_hooks_active(reg, PARLEY_HOOK_COUNT));
	ASSERT(!pl_hooks_active(NULL, PARLEY_HOOK_TICK));
	ASSERT_EQ(tick("/"), PARLEY_PASS);
	ASSERT_EQ(event("x"), PARLEY_PASS);
	ASSERT_EQ(pl_hooks_run(reg, PARLEY_HOOK_COUNT, "/", NULL), PARLEY_PASS);
	struct tag a = {.name = "a", PARLEY_PASS};
	ASSERT_EQ(add(OA, PARLEY_HOOK_COUNT, NULL, NULL, 0, &a), -EINVAL);
	ASSERT_EQ(add(OA, (enum parley_hook) - 1, NULL, NULL, 0, &a), -EINVAL);
	ASSERT_EQ(pl_hooks_add(reg, OA, PARLEY_HOOK_TICK, NULL, NULL, 0, NULL, &a), -EINVAL);
	ASSERT_EQ(pl_hooks_remove(reg, OA, PARLEY_HOOK_TICK, rec, &a), 0);
	ASSERT_EQ(pl_hooks_remove(reg, OA, PARLEY_HOOK_COUNT, rec, &a), 0);
	pl_hooks_remove_owner(reg, OA);
	ASSERT_STR_EQ(trace, "");
	pl_hooks_free(reg);
}

static void test_verdicts(void)
{
	static const enum parley_verdict stops[] = {PARLEY_HANDLED, PARLEY_DROP, PARLEY_REJECT,
						    PARLEY_DISCONNECT};
	for (size_t i = 0; i < sizeof stops / sizeof *stops; i++) {
		reg = pl_hooks_new();
		struct tag a = {.name = "a", PARLEY_PASS}, b = {.name = "b", stops[i]},
			   c = {.name = "c", PARLEY_PASS};
		ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, 0, &a), 0);
		ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, 1, &b), 0);
		ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, 2, &c), 0);
		ASSERT_EQ(tick("/"), stops[i]);
		ASSERT_STR_EQ(trace, "a b");
		b.verdict = PARLEY_PASS;
		ASSERT_EQ(tick("/"), PARLEY_PASS);
		ASSERT_STR_EQ(trace, "a b c");
		b.verdict = (enum parley_verdict)42; /* unknown: counts as PASS */
		ASSERT_EQ(tick("/"), PARLEY_PASS);
		ASSERT_STR_EQ(trace, "a b c");
		b.verdict = (enum parley_verdict) - 1;
		ASSERT_EQ(tick("/"), PARLEY_PASS);
		ASSERT_STR_EQ(trace, "a b c");
		pl_hooks_free(reg);
	}
}

static void test_priority_then_registration(void)
{
	reg = pl_hooks_new();
	struct tag c = {.name = "c"}, a = {.name = "a"}, b1 = {.name = "b1"}, b2 = {.name = "b2"},
		   b3 = {.name = "b3"}, m = {.name = "m"};
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, PARLEY_PRIO_OBSERVE, &c), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, PARLEY_PRIO_FILTER, &b1), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_TICK, NULL, NULL, PARLEY_PRIO_GUARD, &a), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_TICK, NULL, NULL, PARLEY_PRIO_FILTER, &b2), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, -5, &m), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, PARLEY_PRIO_FILTER, &b3), 0);
	ASSERT_EQ(tick("/"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "m a b1 b2 b3 c");
	pl_hooks_free(reg);
}

static void test_named_and_catch_all_interleave(void)
{
	reg = pl_hooks_new();
	struct tag x1 = {.name = "x1"}, n1 = {.name = "n1"}, x2 = {.name = "x2"},
		   n2 = {.name = "n2"}, g = {.name = "g"}, o = {.name = "o"};
	struct tag other = {.name = "other"};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 100, &x1), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "m", 100, &n1), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 100, &x2), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "m", 100, &n2), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "m", 0, &g), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 300, &o), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "other", 200, &other), 0);
	ASSERT_EQ(event("m"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "g x1 n1 x2 n2 o");
	ASSERT_EQ(event("other"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "x1 x2 other o");
	ASSERT_EQ(event("none"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "x1 x2 o");
	pl_hooks_free(reg);
}

static void test_nsp_filter(void)
{
	reg = pl_hooks_new();
	struct tag all = {.name = "all"}, chat = {.name = "chat"}, later = {.name = "later"};
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, "/chat", NULL, 1, &chat), 0);
	/* a namespace that does not exist yet is just a name */
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, "/later", NULL, 2, &later), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, 3, &all), 0);
	ASSERT_EQ(tick("/"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "all");
	ASSERT_EQ(tick("/chat"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "chat all");
	ASSERT_EQ(tick("/later"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "later all");
	ASSERT_EQ(tick("/cha"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "all");
	ASSERT_EQ(tick(NULL), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "all");
	pl_hooks_free(reg);
}

static void test_event_filter(void)
{
	reg = pl_hooks_new();
	struct tag a = {.name = "a"}, b = {.name = "b"}, any = {.name = "any"},
		   app = {.name = "app"}, t = {.name = "t"};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "a", 1, &a), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "b", 1, &b), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 2, &any), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_APP, NULL, "a", 0, &app), 0);
	/* the event name is ignored for hooks that have none */
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, "zzz", 0, &t), 0);
	ASSERT_EQ(event("a"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "a any");
	ASSERT_EQ(event("b"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "b any");
	ASSERT_EQ(event("c"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "any");
	ASSERT_EQ(event(""), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "any");
	ASSERT_EQ(tick("/"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "t");

	char name[] = "a";
	struct parley_evt_message ev = {.size = sizeof ev, .name = name};
	reset();
	ASSERT_EQ(pl_hooks_run(reg, PARLEY_HOOK_APP, "/", &ev), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "app");
	/* a message without a name reaches only the catch-all list */
	ev.name = NULL;
	reset();
	ASSERT_EQ(pl_hooks_run(reg, PARLEY_HOOK_EVENT, "/", &ev), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "any");
	pl_hooks_free(reg);
}

static void push_text(struct tag *t, void *evt)
{
	struct parley_evt_message *ev = evt;
	json_array_append_new(ev->args, json_string(t->arg));
}

static void record_size(struct tag *t, void *evt)
{
	struct parley_evt_message *ev = evt;
	t->n = (int)json_array_size(ev->args);
	t->ptr = ev->args;
}

static void test_modify_args_in_place(void)
{
	reg = pl_hooks_new();
	struct tag m = {.name = "m", PARLEY_PASS, push_text, "more"},
		   r = {.name = "r", PARLEY_PASS, record_size};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "x", 1, &m), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 2, &r), 0);
	char name[] = "x";
	json_t *args = json_pack("[i]", 1);
	struct parley_evt_message ev = {.size = sizeof ev, .name = name, .args = args};
	reset();
	ASSERT_EQ(pl_hooks_run(reg, PARLEY_HOOK_EVENT, "/", &ev), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "m r");
	ASSERT_EQ(r.n, 2);
	ASSERT(r.ptr == args);
	ASSERT(ev.args == args);
	ASSERT(ev.name == name);
	ASSERT_EQ(args->refcount, 1);
	ASSERT_STR_EQ(json_string_value(json_array_get(args, 1)), "more");
	pl_hooks_message_done(&ev, name);
	ASSERT_NULL(ev.args);
	pl_hooks_free(reg);
}

static void replace_args(struct tag *t, void *evt)
{
	struct parley_evt_message *ev = evt;
	(void)t;
	ev->args = json_pack("[s]", "new"); /* the old reference is the pipeline's to drop */
}

static void test_replace_args(void)
{
	reg = pl_hooks_new();
	struct tag p = {.name = "p", PARLEY_PASS, replace_args},
		   r = {.name = "r", PARLEY_PASS, record_size};
	struct tag p2 = {.name = "p2", PARLEY_HANDLED, replace_args};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "x", 1, &p), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 2, &r), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 3, &p2), 0);
	char name[] = "x";
	json_t *old = json_array();
	json_incref(old); /* ours, to watch the event's reference go */
	struct parley_evt_message ev = {.size = sizeof ev, .name = name, .args = old};
	reset();
	ASSERT_EQ(pl_hooks_run(reg, PARLEY_HOOK_EVENT, "/", &ev), PARLEY_HANDLED);
	ASSERT_STR_EQ(trace, "p r p2");
	ASSERT_EQ(old->refcount, 1);
	ASSERT(r.ptr != old);
	ASSERT(ev.args != old && ev.args != r.ptr); /* p2 replaced p's array too */
	ASSERT_EQ(ev.args->refcount, 1);
	ASSERT_STR_EQ(json_string_value(json_array_get(ev.args, 0)), "new");
	json_decref(old);
	pl_hooks_message_done(&ev, name);
	ASSERT_NULL(ev.args);
	pl_hooks_free(reg);
}

static void replace_payload(struct tag *t, void *evt)
{
	struct parley_evt_emit *ev = evt;
	t->ptr = ev->payload; /* what this handler saw */
	ev->payload = json_pack("[ss]", "msg", t->name);
}

static void test_replace_emit_payload(void)
{
	reg = pl_hooks_new();
	struct tag p1 = {.name = "p1", .act = replace_payload};
	struct tag p2 = {.name = "p2", .act = replace_payload};
	struct tag seen = {.name = "seen", .act = NULL};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EMIT, NULL, NULL, 1, &p1), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EMIT, NULL, NULL, 2, &p2), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EMIT, NULL, NULL, 3, &seen), 0);
	json_t *orig = json_pack("[s]", "msg");
	struct parley_evt_emit ev = {.size = sizeof ev, .payload = json_incref(orig)};
	reset();
	ASSERT_EQ(pl_hooks_run(reg, PARLEY_HOOK_EMIT, "/", &ev), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "p1 p2 seen");
	ASSERT(p1.ptr == orig);
	ASSERT_EQ(orig->refcount, 1); /* the event's reference went; p1's payload was freed */
	ASSERT_EQ(ev.payload->refcount, 1);
	ASSERT_STR_EQ(json_string_value(json_array_get(ev.payload, 1)), "p2");
	json_decref(ev.payload);
	json_decref(orig);
	pl_hooks_free(reg);
}

static void rename_to(struct tag *t, void *evt)
{
	struct parley_evt_message *ev = evt;
	ev->name = strdup(t->arg); /* the pipeline frees the old name unless it is the caller's */
}

static void test_rename_rematch(void)
{
	reg = pl_hooks_new();
	struct tag r = {.name = "r", PARLEY_PASS, rename_to, "b"}, a150 = {.name = "a150"};
	struct tag b50 = {.name = "b50"}, b100 = {.name = "b100"}, b150 = {.name = "b150"},
		   b100late = {.name = "b100late"};
	struct tag c50 = {.name = "c50"}, c200 = {.name = "c200"};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "b", 100, &b100), 0); /* before r */
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "a", 100, &r), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "a", 150, &a150), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "b", 50, &b50), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "b", 150, &b150), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "b", 100, &b100late), 0); /* after r */
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 50, &c50), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 200, &c200), 0);

	char orig[] = "a";
	struct parley_evt_message ev = {.size = sizeof ev, .name = orig, .args = json_array()};
	reset();
	ASSERT_EQ(pl_hooks_run(reg, PARLEY_HOOK_EVENT, "/", &ev), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "c50 r b100late b150 c200");
	ASSERT_STR_EQ(ev.name, "b");
	ASSERT(ev.name != orig);
	pl_hooks_message_done(&ev, orig); /* frees the malloc'd "b", not orig */
	ASSERT_NULL(ev.name);

	/* a rename from a catch-all handler re-matches as well */
	struct tag cr = {.name = "cr", PARLEY_PASS, rename_to, "b"};
	ASSERT_EQ(add(OB, PARLEY_HOOK_EVENT, NULL, NULL, 120, &cr), 0);
	char z[] = "z";
	ev = (struct parley_evt_message){.size = sizeof ev, .name = z};
	reset();
	ASSERT_EQ(pl_hooks_run(reg, PARLEY_HOOK_EVENT, "/", &ev), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "c50 cr b150 c200");
	pl_hooks_message_done(&ev, z);

	/* renaming to a name nobody registered leaves only the catch-all list */
	cr.arg = "nobody";
	reset();
	ev = (struct parley_evt_message){.size = sizeof ev, .name = orig};
	ASSERT_EQ(pl_hooks_run(reg, PARLEY_HOOK_EVENT, "/", &ev), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "c50 r b100late cr c200");
	ASSERT_STR_EQ(ev.name, "nobody");
	pl_hooks_message_done(&ev, orig);
	pl_hooks_free(reg);
}

static void restore_orig(struct tag *t, void *evt)
{
	struct parley_evt_message *ev = evt;
	ev->name = t->ptr;
}

static void test_rename_restores_original(void)
{
	reg = pl_hooks_new();
	char orig[] = "a";
	struct tag r = {.name = "r", PARLEY_PASS, rename_to, "b"}, a2 = {.name = "a2"};
	struct tag back = {.name = "back", PARLEY_PASS, restore_orig, NULL, orig};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "a", 1, &r), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "b", 2, &back), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "a", 3, &a2), 0);
	struct parley_evt_message ev = {.size = sizeof ev, .name = orig};
	reset();
	ASSERT_EQ(pl_hooks_run(reg, PARLEY_HOOK_EVENT, "/", &ev), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "r back a2");
	ASSERT(ev.name == orig);
	pl_hooks_message_done(&ev, orig);
	pl_hooks_free(reg);
}

static void test_rename_cap(void)
{
	reg = pl_hooks_new();
	/* handler i sits on "a" (even i) or "b" (odd i) and renames to the other name */
	enum { N = 24 };
	struct tag t[N];
	char tags[N][4];
	for (int i = 0; i < N; i++) {
		snprintf(tags[i], sizeof tags[i], "%d", i);
		t[i] = (struct tag){.name = tags[i], PARLEY_PASS, rename_to, i % 2 ? "a" : "b"};
		ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, i % 2 ? "b" : "a", i, &t[i]), 0);
	}
	char orig[] = "a";
	struct parley_evt_message ev = {.size = sizeof ev, .name = orig};
	reset();
	ASSERT_EQ(pl_hooks_run(reg, PARLEY_HOOK_EVENT, "/", &ev), PARLEY_PASS);
	/* 16 renames re-match (0..15); from 16 on the names change but "a"'s list goes on */
	ASSERT_STR_EQ(trace, "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 18 20 22");
	ASSERT_STR_EQ(ev.name, "b");
	pl_hooks_message_done(&ev, orig);
	pl_hooks_free(reg);
}

static void remove_self(struct tag *t, void *evt)
{
	(void)evt;
	t->n = pl_hooks_remove(reg, OA, PARLEY_HOOK_TICK, rec, t);
}

static void test_unregister_self(void)
{
	reg = pl_hooks_new();
	struct tag a = {.name = "a"}, self = {.name = "self", PARLEY_PASS, remove_self},
		   c = {.name = "c"};
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, 1, &a), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, 2, &self), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, 3, &c), 0);
	ASSERT_EQ(tick("/"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "a self c");
	ASSERT_EQ(self.n, 1);
	ASSERT_EQ(tick("/"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "a c");
	pl_hooks_free(reg);
}

static void remove_ptr(struct tag *t, void *evt)
{
	(void)evt;
	t->n = pl_hooks_remove(reg, OA, PARLEY_HOOK_EVENT, rec, t->ptr);
}

static void test_unregister_later(void)
{
	reg = pl_hooks_new();
	struct tag c = {.name = "c"}, b = {.name = "b"}, c2 = {.name = "c2"};
	struct tag a = {.name = "a", PARLEY_PASS, remove_ptr, NULL, &c};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "x", 1, &a), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 2, &b), 0);
	/* c twice, by name and catch-all: both registrations go */
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "x", 3, &c), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 4, &c), 0);
	/* same fn, other ud: stays */
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 5, &c2), 0);
	ASSERT_EQ(event("x"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "a b c2");
	ASSERT_EQ(a.n, 2);
	ASSERT_EQ(event("x"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "a b c2");
	ASSERT_EQ(a.n, 0);
	pl_hooks_free(reg);
}

static void register_once(struct tag *t, void *evt)
{
	(void)evt;
	if (t->n++)
		return;
	struct tag *news = t->ptr;
	ASSERT_EQ(add(OB, PARLEY_HOOK_TICK, NULL, NULL, 0, &news[0]), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_TICK, NULL, NULL, 500, &news[1]), 0);
}

static void test_register_during_run(void)
{
	reg = pl_hooks_new();
	struct tag news[2] = {{.name = "n0"}, {.name = "n500"}};
	struct tag a = {.name = "a", PARLEY_PASS, register_once, NULL, news}, b = {.name = "b"};
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, 1, &a), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, 2, &b), 0);
	ASSERT_EQ(tick("/"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "a b");
	ASSERT_EQ(tick("/"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "n0 a b n500");
	pl_hooks_free(reg);
}

static void register_then_rename(struct tag *t, void *evt)
{
	if (!t->n++)
		ASSERT_EQ(add(OB, PARLEY_HOOK_EVENT, NULL, "b", 200, t->ptr), 0);
	rename_to(t, evt);
}

static void test_register_during_run_then_rename(void)
{
	reg = pl_hooks_new();
	struct tag nb = {.name = "nb"}, b300 = {.name = "b300"};
	struct tag r = {.name = "r", PARLEY_PASS, register_then_rename, "b", &nb};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "a", 100, &r), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "b", 300, &b300), 0);
	/* nb lands in "b"'s list during the run, but the re-match must not call it */
	ASSERT_EQ(event("a"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "r b300");
	ASSERT_EQ(event("a"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "r nb b300");
	pl_hooks_free(reg);
}

/* A dynamically allocated owner that a handler tears down, as unloading a plugin would. */
struct plugin {
	struct tag tags[4]; /* its handlers' state */
};

static void unload(struct tag *t, void *evt)
{
	(void)evt;
	struct plugin *p = t->ptr;
	pl_hooks_remove_owner(reg, (parley_owner *)p);
	free(p);
}

static void test_remove_owner_during_run(void)
{
	reg = pl_hooks_new();
	struct tag b1 = {.name = "b1"}, b5 = {.name = "b5"};
	struct tag a1 = {.name = "a1"}, a3 = {.name = "a3"}, a4 = {.name = "a4"},
		   kill = {.name = "kill", PARLEY_PASS};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "x", 1, &a1), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_EVENT, NULL, NULL, 2, &kill), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "x", 3, &a3), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 4, &a4), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_EVENT, NULL, "x", 5, &b5), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_EVENT, NULL, NULL, 0, &b1), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_TICK, NULL, NULL, 0, &a1), 0);

	/* the plugin's own handler removes all of it and frees it mid-run */
	struct plugin *p = calloc(1, sizeof *p);
	ASSERT_NOT_NULL(p);
	parley_owner *po = (parley_owner *)p;
	p->tags[0] = (struct tag){.name = "p0"};
	p->tags[1] = (struct tag){.name = "p1", PARLEY_PASS, unload, NULL, p};
	p->tags[2] = (struct tag){.name = "p2"};
	p->tags[3] = (struct tag){.name = "p3"};
	ASSERT_EQ(pl_hooks_add(reg, po, PARLEY_HOOK_EVENT, NULL, "x", 0, rec, &p->tags[0]), 0);
	ASSERT_EQ(pl_hooks_add(reg, po, PARLEY_HOOK_EVENT, NULL, NULL, 1, rec, &p->tags[1]), 0);
	ASSERT_EQ(pl_hooks_add(reg, po, PARLEY_HOOK_EVENT, NULL, "x", 2, rec, &p->tags[2]), 0);
	ASSERT_EQ(pl_hooks_add(reg, po, PARLEY_HOOK_EVENT, NULL, NULL, 9, rec, &p->tags[3]), 0);
	ASSERT_EQ(pl_hooks_add(reg, po, PARLEY_HOOK_TICK, NULL, NULL, 0, rec, &p->tags[0]), 0);
	ASSERT_EQ(event("x"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "b1 p0 a1 p1 kill a3 a4 b5");
	ASSERT(pl_hooks_active(reg, PARLEY_HOOK_TICK));

	ASSERT_EQ(event("x"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "b1 a1 kill a3 a4 b5");
	pl_hooks_free(reg);
}

static void remove_owner_a(struct tag *t, void *evt)
{
	(void)t;
	(void)evt;
	pl_hooks_remove_owner(reg, OA);
}

static void test_remove_other_owner_during_run(void)
{
	reg = pl_hooks_new();
	struct tag a1 = {.name = "a1"}, a3 = {.name = "a3"}, a4 = {.name = "a4"},
		   b5 = {.name = "b5"};
	struct tag kill = {.name = "kill", PARLEY_PASS, remove_owner_a};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "x", 1, &a1), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_EVENT, NULL, NULL, 2, &kill), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "x", 3, &a3), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, NULL, 4, &a4), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_EVENT, NULL, "x", 5, &b5), 0);
	ASSERT_EQ(event("x"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "a1 kill b5");
	ASSERT_EQ(event("x"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "kill b5");
	pl_hooks_free(reg);
}

static void test_owner_teardown_all_kinds(void)
{
	reg = pl_hooks_new();
	struct tag a = {.name = "a"}, b = {.name = "b"};
	for (int i = 0; i < PARLEY_HOOK_COUNT; i++) {
		ASSERT_EQ(add(OA, (enum parley_hook)i, NULL, NULL, 0, &a), 0);
		ASSERT_EQ(add(OA, (enum parley_hook)i, "/chat", "n", 1, &a), 0);
	}
	ASSERT_EQ(add(OB, PARLEY_HOOK_TICK, NULL, NULL, 5, &b), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_EVENT, NULL, "n", 5, &b), 0);
	for (int i = 0; i < PARLEY_HOOK_COUNT; i++)
		ASSERT(pl_hooks_active(reg, (enum parley_hook)i));
	pl_hooks_remove_owner(reg, OA);
	for (int i = 0; i < PARLEY_HOOK_COUNT; i++)
		ASSERT_EQ(pl_hooks_active(reg, (enum parley_hook)i),
			  i == PARLEY_HOOK_TICK || i == PARLEY_HOOK_EVENT);
	ASSERT_EQ(tick("/chat"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "b");
	ASSERT_EQ(event("n"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "b");
	pl_hooks_remove_owner(reg, OA);
	pl_hooks_remove_owner(reg, OB);
	for (int i = 0; i < PARLEY_HOOK_COUNT; i++)
		ASSERT(!pl_hooks_active(reg, (enum parley_hook)i));
	/* the registry works as before */
	ASSERT_EQ(add(OA, PARLEY_HOOK_EVENT, NULL, "n", 0, &a), 0);
	ASSERT_EQ(event("n"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "a");
	pl_hooks_free(reg);
}

static enum parley_verdict connect_run(const char *nsp, struct parley_evt_connect *ev)
{
	reset();
	return pl_hooks_run(reg, PARLEY_HOOK_CONNECT, nsp, ev);
}

static void test_connect_pairing(void)
{
	reg = pl_hooks_new();
	struct tag a = {.name = "A"}, b = {.name = "B"}, c = {.name = "C", PARLEY_REJECT},
		   d = {.name = "D"}, x = {.name = "X"};
	ASSERT_EQ(add(OA, PARLEY_HOOK_CONNECT, NULL, NULL, 0, &a), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_CONNECT, "/other", NULL, 1, &x), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_CONNECT, "/", NULL, 2, &b), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_CONNECT, NULL, NULL, 3, &c), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_CONNECT, NULL, NULL, 4, &d), 0);
	struct parley_evt_connect ev = {.size = sizeof ev};
	ASSERT_EQ(connect_run("/", &ev), PARLEY_REJECT);
	ASSERT_STR_EQ(trace, "A B C A! B!");
	c.verdict = PARLEY_DISCONNECT;
	ASSERT_EQ(connect_run("/", &ev), PARLEY_DISCONNECT);
	ASSERT_STR_EQ(trace, "A B C A! B!");
	/* a verdict that is not a refusal tells nobody */
	c.verdict = PARLEY_HANDLED;
	ASSERT_EQ(connect_run("/", &ev), PARLEY_HANDLED);
	ASSERT_STR_EQ(trace, "A B C");
	c.verdict = PARLEY_DROP;
	ASSERT_EQ(connect_run("/", &ev), PARLEY_DROP);
	ASSERT_STR_EQ(trace, "A B C");
	/* the first handler refusing: nobody passed */
	a.verdict = PARLEY_REJECT;
	ASSERT_EQ(connect_run("/", &ev), PARLEY_REJECT);
	ASSERT_STR_EQ(trace, "A");
	a.verdict = PARLEY_PASS;
	c.verdict = PARLEY_PASS;
	ASSERT_EQ(connect_run("/", &ev), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "A B C D");
	/* the connect failed later: every matching connect handler hears it */
	reset();
	pl_hooks_connect_failed(reg, "/", &ev);
	ASSERT_STR_EQ(trace, "A! B! C! D!");
	reset();
	pl_hooks_connect_failed(reg, "/other", &ev);
	ASSERT_STR_EQ(trace, "A! X! C! D!");
	pl_hooks_free(reg);
}

static void remove_c_ptr(struct tag *t, void *evt)
{
	(void)evt;
	pl_hooks_remove(reg, OB, PARLEY_HOOK_CONNECT, rec, t->ptr);
}

static void test_connect_pairing_after_removal(void)
{
	reg = pl_hooks_new();
	struct tag a = {.name = "A"}, b = {.name = "B"};
	struct tag c = {.name = "C", PARLEY_REJECT, remove_c_ptr, NULL, &b};
	ASSERT_EQ(add(OA, PARLEY_HOOK_CONNECT, NULL, NULL, 0, &a), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_CONNECT, NULL, NULL, 1, &b), 0);
	ASSERT_EQ(add(OB, PARLEY_HOOK_CONNECT, NULL, NULL, 2, &c), 0);
	struct parley_evt_connect ev = {.size = sizeof ev};
	/* B went away before the failure: its owner's teardown, not the pipeline, cleans up */
	ASSERT_EQ(connect_run("/", &ev), PARLEY_REJECT);
	ASSERT_STR_EQ(trace, "A B C A!");
	pl_hooks_free(reg);
}

static void test_active_counts(void)
{
	reg = pl_hooks_new();
	struct tag a = {.name = "a"}, b = {.name = "b"};
	ASSERT_EQ(add(OA, PARLEY_HOOK_EMIT, NULL, NULL, 0, &a), 0);
	ASSERT(pl_hooks_active(reg, PARLEY_HOOK_EMIT));
	ASSERT(!pl_hooks_active(reg, PARLEY_HOOK_EVENT));
	ASSERT_EQ(add(OA, PARLEY_HOOK_EMIT, "/x", NULL, 0, &b), 0);
	ASSERT_EQ(add(OA, PARLEY_HOOK_APP, NULL, "login", 0, &a), 0);
	ASSERT(pl_hooks_active(reg, PARLEY_HOOK_APP));
	ASSERT_EQ(pl_hooks_remove(reg, OB, PARLEY_HOOK_EMIT, rec, &a), 0);  /* other owner */
	ASSERT_EQ(pl_hooks_remove(reg, OA, PARLEY_HOOK_EVENT, rec, &a), 0); /* other hook */
	ASSERT_EQ(pl_hooks_remove(reg, OA, PARLEY_HOOK_EMIT, rec, &a), 1);
	ASSERT(pl_hooks_active(reg, PARLEY_HOOK_EMIT));
	ASSERT_EQ(pl_hooks_remove(reg, OA, PARLEY_HOOK_EMIT, rec, &a), 0);
	ASSERT_EQ(pl_hooks_remove(reg, OA, PARLEY_HOOK_EMIT, rec, &b), 1);
	ASSERT(!pl_hooks_active(reg, PARLEY_HOOK_EMIT));
	ASSERT_EQ(pl_hooks_remove(reg, OA, PARLEY_HOOK_APP, rec, &a), 1);
	ASSERT(!pl_hooks_active(reg, PARLEY_HOOK_APP));
	pl_hooks_free(reg);
}

static void test_many_registrations(void)
{
	reg = pl_hooks_new();
	enum { N = 200 };
	static struct tag t[N];
	static char names[N][8];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "e%d", i);
		t[i] = (struct tag){.name = names[i]};
		ASSERT_EQ(add(i % 2 ? OA : OB, PARLEY_HOOK_EVENT, NULL, names[i], N - i, &t[i]), 0);
		ASSERT_EQ(add(i % 2 ? OA : OB, PARLEY_HOOK_EVENT, NULL, names[i % 7], i, &t[i]), 0);
	}
	ASSERT_EQ(event("e150"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "e150");
	pl_hooks_remove_owner(reg, OA);
	ASSERT_EQ(event("e151"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "");
	ASSERT_EQ(event("e3"), PARLEY_PASS);
	ASSERT_STR_EQ(trace, "e10 e24 e38 e52 e66 e80 e94 e108 e122 e136 e150 e164 e178 e192");
	ASSERT(pl_hooks_active(reg, PARLEY_HOOK_EVENT));
	pl_hooks_remove_owner(reg, OB);
	ASSERT(!pl_hooks_active(reg, PARLEY_HOOK_EVENT));
	pl_hooks_free(reg);
}

static void test_message_done(void)
{
	char orig[] = "orig";
	struct parley_evt_message ev = {.size = sizeof ev, .name = orig};
	ev.args = json_array();
	ev.reject = json_pack("[{s:b}]", "ok", 0);
	pl_hooks_message_done(&ev, orig); /* orig stays (ASan would catch a free of it) */
	ASSERT_NULL(ev.name);
	ASSERT_NULL(ev.args);
	ASSERT_NULL(ev.reject);
	ASSERT_STR_EQ(orig, "orig");
	ev.name = strdup("renamed");
	pl_hooks_message_done(&ev, orig); /* LSan would catch a leak of it */
	ASSERT_NULL(ev.name);
	pl_hooks_message_done(&ev, orig);
	pl_hooks_message_done(NULL, orig);
}

TEST_MAIN(TEST(test_empty), TEST(test_verdicts), TEST(test_priority_then_registration),
	  TEST(test_named_and_catch_all_interleave), TEST(test_nsp_filter), TEST(test_event_filter),
	  TEST(test_modify_args_in_place), TEST(test_replace_args), TEST(test_replace_emit_payload),
	  TEST(test_rename_rematch), TEST(test_rename_restores_original), TEST(test_rename_cap),
	  TEST(test_unregister_self), TEST(test_unregister_later), TEST(test_register_during_run),
	  TEST(test_register_during_run_then_rename), TEST(test_remove_owner_during_run),
	  TEST(test_remove_other_owner_during_run), TEST(test_owner_teardown_all_kinds),
	  TEST(test_connect_pairing), TEST(test_connect_pairing_after_removal),
	  TEST(test_active_counts), TEST(test_many_registrations), TEST(test_message_done))
