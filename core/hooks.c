/*
 * The hook pipeline (see hooks.h). Each hook kind keeps a catch-all list and, for EVENT and APP,
 * a map from event name to that name's list. A list is an immutable, refcounted array of
 * refcounted registrations sorted by (priority, sequence number); registering or removing
 * publishes a new array (copy-on-write), so a run that holds the arrays it walks never reads
 * freed memory whatever its handlers do. A removed registration is flagged, so a run that
 * started before the removal skips it, and a run only calls registrations older than itself.
 * Not thread-safe: everything runs on the loop thread, and pl_hooks_free is never called from a
 * handler.
 */
#include "hooks.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"

#define MAX_RENAMES 16

struct entry {
	unsigned refs;	     /* one per list holding it, plus one per run about to call it */
	bool removed;	     /* unregistered: runs that still see it skip it */
	parley_owner *owner; /* compared only */
	int priority;	     /* lower runs first */
	uint64_t seq;	     /* registration order, unique in the registry */
	parley_hook_fn fn;   /* the handler */
	void *ud;	     /* its argument */
	char *nsp;	     /* the namespace it is limited to, or NULL for all */
	char *event;	     /* EVENT and APP: the event name, or NULL for the catch-all list */
};

struct list {
	unsigned refs;	   /* the registry's reference plus one per run walking it */
	unsigned n;	   /* entries in v */
	struct entry *v[]; /* sorted by (priority, seq) */
};

struct kind {
	struct pl_map names; /* EVENT and APP: event name -> struct list; keys are v[0]->event */
	struct list *all;    /* the catch-all list, or NULL when empty */
	size_t count;	     /* live registrations (pl_hooks_active) */
};

struct pl_hooks {
	struct kind kinds[PARLEY_HOOK_COUNT]; /* one per enum parley_hook */
	uint64_t seq;			      /* the last sequence number given out */
};

static bool valid_hook(enum parley_hook hook)
{
	return (unsigned)hook < PARLEY_HOOK_COUNT;
}

static bool has_names(enum parley_hook hook)
{
	return hook == PARLEY_HOOK_EVENT || hook == PARLEY_HOOK_APP ||
	       hook == PARLEY_HOOK_SERVER_EMIT;
}

static bool before(const struct entry *a, int priority, uint64_t seq)
{
	return a->priority < priority || (a->priority == priority && a->seq < seq);
}

static void entry_unref(struct entry *e)
{
	if (--e->refs)
		return;
	free(e->nsp);
	free(e->event);
	free(e);
}

static void list_unref(struct list *l)
{
	if (!l || --l->refs)
		return;
	for (unsigned i = 0; i < l->n; i++)
		entry_unref(l->v[i]);
	free(l);
}

/*
 * Builds the list that replaces old: its live entries plus add (NULL: none) in order. *out is
 * the new list (one reference), or NULL when it would be empty. Returns 0 or -ENOMEM.
 */
static int rebuild(const struct list *old, struct entry *add, struct list **out)
{
	unsigned n = add ? 1 : 0;
	for (unsigned i = 0; old && i < old->n; i++)
		n += !old->v[i]->removed;
	*out = NULL;
	if (!n)
		return 0;
	struct list *l = malloc(sizeof *l + n * sizeof l->v[0]);
	if (!l)
		return -ENOMEM;
	l->refs = 1;
	l->n = 0;
	for (unsigned i = 0; old && i < old->n; i++) {
		struct entry *e = old->v[i];
		/* add has the highest seq: it goes before the first entry of higher priority */
		if (add && add->priority < e->priority) {
			l->v[l->n++] = add;
			add = NULL;
		}
		if (!e->removed)
			l->v[l->n++] = e;
	}
	if (add)
		l->v[l->n++] = add;
	for (unsigned i = 0; i < l->n; i++)
		l->v[i]->refs++;
	*out = l;
	return 0;
}

/* Replaces the named list old (NULL: none yet) with nl (NULL: empty). Returns 0 or -ENOMEM. */
static int publish_named(struct kind *k, struct list *old, struct list *nl)
{
	if (nl) {
		/* the key lives in the list's first entry, which the list keeps alive */
		int rc = pl_map_put(&k->names, nl->v[0]->event, nl);
		if (rc)
			return rc;
	} else if (old) {
		pl_map_del(&k->names, old->v[0]->event);
	}
	list_unref(old);
	return 0;
}

struct pl_hooks *pl_hooks_new(void)
{
	return calloc(1, sizeof(struct pl_hooks));
}

void pl_hooks_free(struct pl_hooks *h)
{
	if (!h)
		return;
	for (int i = 0; i < PARLEY_HOOK_COUNT; i++) {
		struct kind *k = &h->kinds[i];
		void *v;
		for (size_t pos = 0; pl_map_next(&k->names, &pos, &v);)
			list_unref(v);
		pl_map_close(&k->names);
		list_unref(k->all);
	}
	free(h);
}

int pl_hooks_add(struct pl_hooks *h, parley_owner *owner, enum parley_hook hook, const char *nsp,
		 const char *event, int priority, parley_hook_fn fn, void *ud)
{
	if (!h || !valid_hook(hook) || !fn)
		return -EINVAL;
	if (!has_names(hook))
		event = NULL;
	struct kind *k = &h->kinds[hook];
	struct list *old, *nl;
	struct entry *e = calloc(1, sizeof *e);
	if (!e)
		return -ENOMEM;
	e->refs = 1; /* ours until it is published */
	e->owner = owner;
	e->priority = priority;
	e->fn = fn;
	e->ud = ud;
	if ((nsp && !(e->nsp = strdup(nsp))) || (event && !(e->event = strdup(event))))
		goto fail_entry;
	old = event ? pl_map_get(&k->names, event) : k->all;
	e->seq = h->seq + 1;
	if (rebuild(old, e, &nl))
		goto fail_entry;
	if (event) {
		if (publish_named(k, old, nl))
			goto fail_list;
	} else {
		k->all = nl;
		list_unref(old);
	}
	h->seq++;
	k->count++;
	entry_unref(e);
	return 0;

fail_list:
	list_unref(nl);
fail_entry:
	entry_unref(e);
	return -ENOMEM;
}

struct match {
	parley_owner *owner; /* whose registrations */
	bool any_fn;	     /* every fn and ud of the owner */
	parley_hook_fn fn;   /* else only this fn ... */
	void *ud;	     /* ... with this ud */
};

/* Flags the live entries of l that m selects; returns how many. */
static int mark(struct list *l, const struct match *m)
{
	int n = 0;
	for (unsigned i = 0; l && i < l->n; i++) {
		struct entry *e = l->v[i];
		if (e->removed || e->owner != m->owner ||
		    (!m->any_fn && (e->fn != m->fn || e->ud != m->ud)))
			continue;
		e->removed = true;
		n++;
	}
	return n;
}

static bool has_removed(const struct list *l)
{
	for (unsigned i = 0; l && i < l->n; i++)
		if (l->v[i]->removed)
			return true;
	return false;
}

/*
 * Publishes lists without the flagged entries. Out of memory, a flagged entry stays in its list
 * (runs skip it) until a later rebuild of that list drops it, so removing never fails.
 */
static void prune(struct kind *k)
{
	struct list *nl;
	if (has_removed(k->all) && rebuild(k->all, NULL, &nl) == 0) {
		list_unref(k->all);
		k->all = nl;
	}
	void *v;
	for (size_t pos = 0; pl_map_next(&k->names, &pos, &v);) {
		if (!has_removed(v))
			continue;
		if (rebuild(v, NULL, &nl))
			return;
		publish_named(k, v, nl); /* replaces or deletes an existing key: cannot fail */
		pos = 0;		 /* the map changed under the iteration: start over */
	}
}

static int remove_matching(struct pl_hooks *h, enum parley_hook hook, const struct match *m)
{
	struct kind *k = &h->kinds[hook];
	int n = mark(k->all, m);
	void *v;
	for (size_t pos = 0; pl_map_next(&k->names, &pos, &v);)
		n += mark(v, m);
	if (n) {
		k->count -= (size_t)n;
		prune(k);
	}
	return n;
}

int pl_hooks_remove(struct pl_hooks *h, parley_owner *owner, enum parley_hook hook,
		    parley_hook_fn fn, void *ud)
{
	if (!h || !valid_hook(hook))
		return 0;
	struct match m = {.owner = owner, .fn = fn, .ud = ud};
	return remove_matching(h, hook, &m);
}

void pl_hooks_remove_owner(struct pl_hooks *h, parley_owner *owner)
{
	if (!h)
		return;
	struct match m = {.owner = owner, .any_fn = true};
	for (int i = 0; i < PARLEY_HOOK_COUNT; i++)
		remove_matching(h, (enum parley_hook)i, &m);
}

bool pl_hooks_active(const struct pl_hooks *h, enum parley_hook hook)
{
	return h && valid_hook(hook) && h->kinds[hook].count;
}

/* A run's position in the two lists it merges. Both are referenced while the run holds them. */
struct cursor {
	struct list *named; /* the current event name's list, or NULL */
	struct list *all;   /* the catch-all list, or NULL */
	unsigned i, j;	    /* next index in named and in all */
	uint64_t limit;	    /* registrations after this seq were added during the run */
};

static bool nsp_matches(const struct entry *e, const char *nsp)
{
	return !e->nsp || (nsp && strcmp(e->nsp, nsp) == 0);
}

/* The next entry of the merge that the run calls, or NULL at the end. */
static struct entry *next(struct cursor *c, const char *nsp)
{
	for (;;) {
		struct entry *a = c->named && c->i < c->named->n ? c->named->v[c->i] : NULL;
		struct entry *b = c->all && c->j < c->all->n ? c->all->v[c->j] : NULL;
		struct entry *e;
		if (a && (!b || before(a, b->priority, b->seq))) {
			e = a;
			c->i++;
		} else if (b) {
			e = b;
			c->j++;
		} else {
			return NULL;
		}
		if (!e->removed && e->seq <= c->limit && nsp_matches(e, nsp))
			return e;
	}
}

/* Index of the first entry of l after (priority, seq). */
static unsigned upper_bound(const struct list *l, int priority, uint64_t seq)
{
	unsigned lo = 0, hi = l->n;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (before(l->v[mid], priority, seq) || l->v[mid]->seq == seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Calls e with a reference held, so that the handler may remove it or its whole owner. */
static enum parley_verdict call(struct entry *e, enum parley_hook hook, void *evt)
{
	e->refs++;
	enum parley_verdict v = e->fn(hook, evt, e->ud);
	entry_unref(e);
	return (unsigned)v > PARLEY_DISCONNECT ? PARLEY_PASS : v;
}

/* Tells the first n entries of l that match nsp that the connect failed. */
static void tell_failed(struct list *l, unsigned n, const char *nsp, void *evt)
{
	for (unsigned i = 0; i < n; i++) {
		struct entry *e = l->v[i];
		if (!e->removed && nsp_matches(e, nsp))
			call(e, PARLEY_HOOK_CONNECT_FAILED, evt);
	}
}

/*
 * Adopts what the handler just called left in ev (it had name and args before the call): frees
 * the replaced values and, on a new name, moves the cursor to that name's list, after the
 * handler's (priority, seq).
 */
static void adopt(struct kind *k, struct cursor *c, struct parley_evt_message *ev, char *name,
		  json_t *args, const char *orig, int priority, uint64_t seq, int *renames)
{
	if (ev->args != args)
		json_decref(args);
	if (ev->name == name)
		return;
	if (name != orig)
		free(name);
	if (*renames >= MAX_RENAMES)
		return;
	(*renames)++;
	struct list *nl = ev->name ? pl_map_get(&k->names, ev->name) : NULL;
	if (nl)
		nl->refs++;
	list_unref(c->named);
	c->named = nl;
	c->i = nl ? upper_bound(nl, priority, seq) : 0;
}

enum parley_verdict pl_hooks_run(struct pl_hooks *h, enum parley_hook hook, const char *nsp,
				 void *evt)
{
	if (!h || !valid_hook(hook) || !h->kinds[hook].count)
		return PARLEY_PASS;
	struct kind *k = &h->kinds[hook];
	struct parley_evt_message *ev = has_names(hook) ? evt : NULL;
	struct parley_evt_emit *em = hook == PARLEY_HOOK_EMIT ? evt : NULL;
	const char *orig = ev ? ev->name : NULL;
	struct cursor c = {.all = k->all, .limit = h->seq};
	if (ev && ev->name)
		c.named = pl_map_get(&k->names, ev->name);
	if (c.named)
		c.named->refs++;
	if (c.all)
		c.all->refs++;
	enum parley_verdict v = PARLEY_PASS;
	int renames = 0;
	for (struct entry *e; v == PARLEY_PASS && (e = next(&c, nsp));) {
		if (!ev) {
			json_t *payload = em ? em->payload : NULL;
			v = call(e, hook, evt);
			if (em && em->payload != payload)
				json_decref(payload);
			continue;
		}
		char *name = ev->name;
		json_t *args = ev->args;
		int priority = e->priority; /* adopt() may drop the list that holds e */
		uint64_t seq = e->seq;
		v = call(e, hook, evt);
		adopt(k, &c, ev, name, args, orig, priority, seq, &renames);
	}
	/* CONNECT has only the catch-all list, and the refusing handler was its (j-1)th entry */
	if (hook == PARLEY_HOOK_CONNECT && (v == PARLEY_REJECT || v == PARLEY_DISCONNECT))
		tell_failed(c.all, c.j - 1, nsp, evt);
	list_unref(c.named);
	list_unref(c.all);
	return v;
}

void pl_hooks_connect_failed(struct pl_hooks *h, const char *nsp, struct parley_evt_connect *evt)
{
	if (!h)
		return;
	struct list *l = h->kinds[PARLEY_HOOK_CONNECT].all;
	if (!l)
		return;
	l->refs++;
	tell_failed(l, l->n, nsp, evt);
	list_unref(l);
}

void pl_hooks_message_done(struct parley_evt_message *evt, const char *orig_name)
{
	if (!evt)
		return;
	if (evt->name != orig_name)
		free(evt->name);
	json_decref(evt->args);
	json_decref(evt->reject);
	evt->name = NULL;
	evt->args = NULL;
	evt->reject = NULL;
}
