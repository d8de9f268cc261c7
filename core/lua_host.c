/*
 * The script host (see lua_host.h). What a script sees:
 *
 *   parley.on(hook, fn [, priority])  hook: "connect" (before the socket joins its namespace;
 *       may refuse), "connected" (after), "login", "chat", "private", "stored" (application
 *       hooks of the chat app), "join", "leave" (rooms), "event" (every client event),
 *       "disconnect", "tick" (1 s), "server" (a server-side emit from another server of the
 *       cluster: ev.name, ev.args, ev:ack(answer) when the sender awaits answers).
 *       Lower priorities run first (default 100). fn(ev) returns nothing or "pass", "accept",
 *       "drop", "reject", reason or "disconnect", reason.
 *   ev fields (read lazily): hook, id (the socket id), ns (its namespace), from {id, name,
 *       userid}, name and args (client events and application hooks), room, msg, to (chat
 *       and private, from the first argument), reason (disconnect), now (tick, seconds), auth
 *       (connect, connected); methods: ev:emit(event, ...) to the event's socket, ev:ack(...)
 *       answering the client's ack (both carry the event's binary attachments when the
 *       arguments keep their placeholders); writable: msg (chat, private), to_rooms,
 *       to_users, skip (tables) and no_store (boolean), which are the message's routing when
 *       the application gives one.
 *   parley.emit(target, event, ...)  target: a socket id, a room, or nil for the namespace
 *   parley.emit_recoverable(target, event, ...)  the same, stored first: a client that
 *                                     reconnects having missed it gets it (recovery)
 *   parley.join(id, room), parley.leave(id, room), parley.kick(id [, reason])
 *   parley.members(room)  {id, name, userid, bot} of each member (nil room: every socket)
 *   parley.history(room [, {before=, since=, limit=}])  stored messages, oldest first
 *   parley.timer(seconds, fn), parley.every(seconds, fn)  return an id for parley.cancel(id)
 *   parley.log(level, ...), print(...) (info), parley.clock(), parley.time()
 *   parley.object()  an empty table that becomes {} in JSON (an empty table is [])
 *   parley.bot{name=, rooms={...}}  a bot: bot.id, bot.name, bot:on(event, fn) (fn gets the
 *       event's arguments), bot:say(room or nil, text), bot:private(userid, text), bot:free()
 *   parley.cluster.sockets(target, fn [, timeout]), .rooms(fn [, timeout]),
 *       .servers(fn [, timeout]), .ask(event, {args}, fn [, timeout])  requests every server of
 *       the cluster answers (this one included; alone, a cluster of one); fn(result, err) later,
 *       err nil or "timeout" (result holds what came); timeout in seconds, default 5.
 *       target: nil (the namespace), a room or socket id, a list, or {rooms=, except=}.
 *   parley.cluster.emit(event, {args}), .join(target, room), .leave(target, room),
 *       .kick(target [, close])  carried out by every server; "server" hooks hear the emits.
 *   on_save() / on_restore(state)  globals that hand a JSON-able value across a reload.
 * The functions act in the namespace "/"; handlers hear every namespace.
 */
#include "lua_host.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "lua_alloc.h"
#include "log.h"
#include "lua_json.h"

#define HOOK_EVERY   1000 /* instructions between budget checks */
#define EVENT_MT     "parley.event"
#define BOT_MT	     "parley.bot"
#define MAX_LOG_LINE 900

enum kind {
	K_CONNECT,
	K_CONNECTED,
	K_LOGIN,
	K_CHAT,
	K_PRIVATE,
	K_STORED,
	K_JOIN,
	K_LEAVE,
	K_EVENT,
	K_DISCONNECT,
	K_TICK,
	K_SERVER,
	K_COUNT
};

static const struct {
	const char *name;
	enum parley_hook hook;
	const char *app; /* the application hook's name */
} kinds[K_COUNT] = {
    [K_CONNECT] = {"connect", PARLEY_HOOK_CONNECT, NULL},
    [K_CONNECTED] = {"connected", PARLEY_HOOK_CONNECTED, NULL},
    [K_LOGIN] = {"login", PARLEY_HOOK_APP, "login"},
    [K_CHAT] = {"chat", PARLEY_HOOK_APP, "chat"},
    [K_PRIVATE] = {"private", PARLEY_HOOK_APP, "private"},
    [K_STORED] = {"stored", PARLEY_HOOK_APP, "stored"},
    [K_JOIN] = {"join", PARLEY_HOOK_JOIN, NULL},
    [K_LEAVE] = {"leave", PARLEY_HOOK_LEAVE, NULL},
    [K_EVENT] = {"event", PARLEY_HOOK_EVENT, NULL},
    [K_DISCONNECT] = {"disconnect", PARLEY_HOOK_DISCONNECT, NULL},
    [K_TICK] = {"tick", PARLEY_HOOK_TICK, NULL},
    [K_SERVER] = {"server", PARLEY_HOOK_SERVER_EMIT, NULL},
};

struct reg {
	struct pl_script *sc;
	enum kind kind;
	int ref; /* the handler in the registry */
	struct reg *next;
};

struct ltimer {
	struct pl_script *sc;
	int ref;	 /* the function in the registry */
	long long id;	 /* for parley.cancel */
	parley_timer *t; /* the host's timer */
	bool repeat, firing, dead;
	struct ltimer *next, **pprev;
};

struct lbot {
	struct pl_script *sc;
	parley_socket *s; /* NULL once freed */
	int handlers_ref; /* event name -> function */
	int self_ref;	  /* the userdata, kept while the bot lives */
	struct lbot *next, **pprev;
};

enum ask { ASK_NONE, ASK_SOCKETS, ASK_ROOMS, ASK_SERVERS, ASK_EMIT };

struct lreq {
	struct pl_script *sc;
	int ref;	   /* the callback in the registry */
	parley_request *r; /* the host's request */
	enum ask kind;
	struct lreq *next, **pprev;
};

struct pl_script {
	const struct parley_api *api;
	parley_owner *owner;
	char *name;
	lua_State *L;
	struct pl_script_limits lim;
	struct pl_lua_budget mem;  /* bytes the state holds, and may hold (lim.max_memory) */
	unsigned long budget_left; /* instructions left in this call */
	bool exhausted;		   /* the budget ran out in this call */
	int depth;		   /* calls from C in progress */
	unsigned errors_in_row;
	time_t window_start; /* the minute budget exhaustions are counted in */
	unsigned exhausted_in_window;
	bool disabled;
	struct reg *regs;
	struct ltimer *timers;
	long long next_timer_id;
	struct lbot *bots;
	struct lreq *requests; /* cluster requests awaiting answers */
	unsigned n_requests;
};

struct evud {
	struct pl_script *sc;
	enum kind kind;
	void *evt;	   /* the hook's struct, NULL once the handler returned */
	json_t *orig_args; /* what evt->args was when the handler was called */
};

/* ---- allocation, budget ---- */

static struct pl_script *script_of(lua_State *L)
{
	void *ud;
	lua_getallocf(L, &ud);
	return (struct pl_script *)((char *)ud - offsetof(struct pl_script, mem));
}

/*
 * Every HOOK_EVERY instructions. Once the budget is spent the hook fires at every instruction
 * of the thread and raises each time, so that no pcall in the script can keep control: control
 * goes back to C within a few instructions per level of pcall.
 */
static void count_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	struct pl_script *sc = script_of(L);
	if (!sc->exhausted && sc->budget_left > HOOK_EVERY) {
		sc->budget_left -= HOOK_EVERY;
		return;
	}
	sc->exhausted = true;
	lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
	luaL_error(L, "instruction budget exhausted");
}

void pl_script_limits_default(struct pl_script_limits *l)
{
	l->max_memory = 32u << 20;
	l->budget = 10000000;
	l->max_string = 1u << 20;
	l->max_errors = 10;
	l->max_exhausted = 5;
}

/* ---- calls from C ---- */

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg)
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	luaL_traceback(L, L, msg, 1);
	return 1;
}

static void disable(struct pl_script *sc, const char *why)
{
	if (sc->disabled)
		return;
	sc->disabled = true;
	sc->api->log(sc->owner, PARLEY_LOG_ERROR, "script %s disabled: %s", sc->name, why);
}

/* Logs one error (the first lines of the traceback) and counts it. */
static void failed(struct pl_script *sc, const char *msg)
{
	char line[MAX_LOG_LINE];
	snprintf(line, sizeof line, "%s", msg ? msg : "?");
	sc->api->log(sc->owner, PARLEY_LOG_WARN, "script %s: %s", sc->name, line);
	char why[128];
	if (++sc->errors_in_row >= sc->lim.max_errors) {
		snprintf(why, sizeof why, "%u errors in a row", sc->errors_in_row);
		disable(sc, why);
	}
}

/*
 * Calls the function below nargs arguments on the stack, with the traceback handler, under a
 * fresh budget when it is the outermost call. Leaves nres results on success. Returns 0, or -1
 * after logging (err, when given, gets a malloc'd copy of the message).
 */
static int sc_pcall(struct pl_script *sc, int nargs, int nres, char **err)
{
	lua_State *L = sc->L;
	int base = lua_gettop(L) - nargs; /* the function's slot */
	lua_pushcfunction(L, traceback);
	lua_insert(L, base);
	if (sc->depth == 0) {
		sc->budget_left = sc->lim.budget;
		sc->exhausted = false;
		lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
	}
	sc->depth++;
	int rc = lua_pcall(L, nargs, nres, base);
	sc->depth--;
	bool exhausted = sc->exhausted && sc->depth == 0;
	if (rc != LUA_OK) {
		const char *msg = lua_tostring(L, -1);
		if (err)
			*err = strdup(msg ? msg : "?");
		failed(sc, msg);
		lua_settop(L, base - 1);
	} else {
		sc->errors_in_row = 0;
		lua_remove(L, base);
	}
	if (exhausted) {
		time_t now = time(NULL);
		if (now - sc->window_start >= 60) {
			sc->window_start = now;
			sc->exhausted_in_window = 0;
		}
		if (++sc->exhausted_in_window >= sc->lim.max_exhausted) {
			char why[128];
			snprintf(why, sizeof why,
				 "instruction budget exhausted %u times in a minute",
				 sc->exhausted_in_window);
			disable(sc, why);
		}
	}
	return rc == LUA_OK ? 0 : -1;
}

/* Runs f(arg) in protected mode: every Lua allocation of a call from C happens inside. */
static int protected_call(struct pl_script *sc, lua_CFunction f, void *arg)
{
	if (sc->disabled || !lua_checkstack(sc->L, 8))
		return -1;
	lua_pushcfunction(sc->L, f);
	lua_pushlightuserdata(sc->L, arg);
	return sc_pcall(sc, 1, 0, NULL);
}

/* ---- helpers for the API functions ---- */

static parley_nsp *main_nsp(struct pl_script *sc)
{
	return sc->api->nsp_get("/", false);
}

static parley_socket *socket_arg(lua_State *L, struct pl_script *sc, int idx)
{
	const char *id = luaL_checkstring(L, idx);
	parley_nsp *nsp = main_nsp(sc);
	return nsp ? sc->api->nsp_socket(nsp, id) : NULL;
}

/* The value at idx as JSON (a new reference); raises when it cannot be. */
static json_t *check_json(lua_State *L, int idx)
{
	const char *err;
	json_t *v = pl_lua_to_json(L, idx, &err);
	if (!v)
		luaL_error(L, "argument %d: %s", idx, err);
	return v;
}

static void push_identity(lua_State *L, struct pl_script *sc, parley_socket *s)
{
	const struct parley_api *api = sc->api;
	lua_createtable(L, 0, 4);
	lua_pushstring(L, api->socket_id(s));
	lua_setfield(L, -2, "id");
	pl_lua_push_json(L, api->socket_name(s), sc->lim.max_string);
	lua_setfield(L, -2, "name");
	pl_lua_push_json(L, api->socket_userid(s), sc->lim.max_string);
	lua_setfield(L, -2, "userid");
	lua_pushboolean(L, api->socket_is_bot(s));
	lua_setfield(L, -2, "bot");
}

static json_t *payload_of(lua_State *L, int idx);

/* ---- the event object ---- */

static struct parley_evt_message *message_of(struct evud *e)
{
	enum parley_hook h = kinds[e->kind].hook;
	return h == PARLEY_HOOK_APP || h == PARLEY_HOOK_EVENT || h == PARLEY_HOOK_SERVER_EMIT
		   ? e->evt
		   : NULL;
}

static parley_socket *socket_of(struct evud *e)
{
	switch (kinds[e->kind].hook) {
	case PARLEY_HOOK_CONNECT: return ((struct parley_evt_connect *)e->evt)->socket;
	case PARLEY_HOOK_JOIN:
	case PARLEY_HOOK_LEAVE: return ((struct parley_evt_room *)e->evt)->socket;
	case PARLEY_HOOK_CONNECTED:
	case PARLEY_HOOK_DISCONNECT: return ((struct parley_evt_socket *)e->evt)->socket;
	case PARLEY_HOOK_APP:
	case PARLEY_HOOK_EVENT: return ((struct parley_evt_message *)e->evt)->socket;
	default: return NULL;
	}
}

/* The first argument of a message when it is an object. */
static json_t *data_of(struct evud *e)
{
	struct parley_evt_message *m = message_of(e);
	json_t *d = m ? json_array_get(m->args, 0) : NULL;
	return json_is_object(d) ? d : NULL;
}

static bool is_route_field(const char *k)
{
	return strcmp(k, "to_rooms") == 0 || strcmp(k, "to_users") == 0 || strcmp(k, "skip") == 0;
}

static json_t **route_field(struct parley_route *r, const char *k)
{
	return k[0] == 's' ? &r->skip : k[3] == 'r' ? &r->to_rooms : &r->to_users;
}

/* Pushes the cache table of the event at 1, creating it. */
static void push_cache(lua_State *L)
{
	if (lua_getiuservalue(L, 1, 1) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setiuservalue(L, 1, 1);
	}
}

/* True if v holds a binary placeholder ({"_placeholder": true, "num": N}). */
static bool has_placeholder(const json_t *v)
{
	if (json_is_object(v)) {
		if (json_is_true(json_object_get(v, "_placeholder")))
			return true;
		const char *k;
		json_t *e;
		json_object_foreach((json_t *)v, k, e)
			if (has_placeholder(e))
				return true;
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			if (has_placeholder(json_array_get(v, i)))
				return true;
	}
	return false;
}

/* The event's binary attachments, for a payload that refers to them by placeholder. */
static void attach(struct evud *e, json_t *payload, struct parley_message *out)
{
	struct parley_evt_message *m = message_of(e);
	if (m && m->n_attachments && has_placeholder(payload)) {
		out->attachments = m->attachments;
		out->n_attachments = m->n_attachments;
	}
}

static struct evud *live_event(lua_State *L)
{
	struct evud *e = luaL_checkudata(L, 1, EVENT_MT);
	if (!e->evt)
		luaL_error(L, "event used after its handler returned");
	return e;
}

/* ev:emit(event, ...): emits to the event's socket, in its namespace. */
static int ev_emit(lua_State *L)
{
	struct evud *e = live_event(L);
	parley_socket *s = socket_of(e);
	json_t *p = payload_of(L, 2);
	struct parley_message msg = {.payload = p};
	attach(e, p, &msg);
	int rc = s ? e->sc->api->emit(s, &msg, NULL, NULL) : -ENOENT;
	json_decref(p);
	lua_pushboolean(L, rc == 0);
	return 1;
}

/* ev:ack(...): answers the client's ack with these arguments (false when it asked for none). */
static int ev_ack(lua_State *L)
{
	struct evud *e = live_event(L);
	struct parley_evt_message *m = message_of(e);
	if (!m || m->ack_id < 0) {
		lua_pushboolean(L, 0);
		return 1;
	}
	lua_pushliteral(L, "ack"); /* payload_of wants a name first: it is dropped below */
	lua_insert(L, 2);
	json_t *p = payload_of(L, 2);
	json_array_remove(p, 0);
	if (e->kind == K_SERVER) { /* the answer to the emitting server: its first argument */
		json_decref(m->reject);
		m->reject = p;
		lua_pushboolean(L, 1);
		return 1;
	}
	struct parley_message msg = {.payload = p};
	attach(e, p, &msg);
	int rc = e->sc->api->ack(m->socket, m->ack_id, p, msg.attachments, msg.n_attachments);
	json_decref(p);
	lua_pushboolean(L, rc == 0);
	return 1;
}

static int ev_index(lua_State *L)
{
	struct evud *e = luaL_checkudata(L, 1, EVENT_MT);
	const char *k = luaL_checkstring(L, 2);
	if (!e->evt)
		return luaL_error(L, "event used after its handler returned");
	struct pl_script *sc = e->sc;
	size_t max = sc->lim.max_string;
	if (lua_getiuservalue(L, 1, 1) == LUA_TTABLE) {
		if (lua_getfield(L, -1, k) != LUA_TNIL)
			return 1;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	struct parley_evt_message *m = message_of(e);
	parley_socket *s = socket_of(e);
	bool cache = false;
	if (strcmp(k, "hook") == 0) {
		lua_pushstring(L, kinds[e->kind].name);
	} else if (strcmp(k, "id") == 0) {
		if (s)
			lua_pushstring(L, sc->api->socket_id(s));
		else
			lua_pushnil(L);
	} else if (strcmp(k, "from") == 0) {
		if (s)
			push_identity(L, sc, s);
		else
			lua_pushnil(L);
		cache = true;
	} else if (strcmp(k, "name") == 0 && m) {
		lua_pushstring(L, m->name);
	} else if (strcmp(k, "args") == 0 && m) {
		pl_lua_push_json(L, m->args, max);
		cache = true;
	} else if (strcmp(k, "room") == 0) {
		enum parley_hook h = kinds[e->kind].hook;
		if (h == PARLEY_HOOK_JOIN || h == PARLEY_HOOK_LEAVE) {
			lua_pushstring(L, ((struct parley_evt_room *)e->evt)->room);
		} else {
			json_t *r = json_object_get(data_of(e), "room");
			if (json_is_string(r) && json_string_length(r) > 0)
				lua_pushstring(L, json_string_value(r));
			else
				lua_pushnil(L);
		}
	} else if (strcmp(k, "msg") == 0 || strcmp(k, "to") == 0) {
		pl_lua_push_json(L, json_object_get(data_of(e), k), max);
	} else if (strcmp(k, "reason") == 0 && kinds[e->kind].hook == PARLEY_HOOK_DISCONNECT) {
		lua_pushstring(L, ((struct parley_evt_socket *)e->evt)->reason);
	} else if (strcmp(k, "now") == 0 && e->kind == K_TICK) {
		lua_pushnumber(L, (double)((struct parley_evt_tick *)e->evt)->now_ms / 1000.0);
	} else if (strcmp(k, "auth") == 0 && (e->kind == K_CONNECT || e->kind == K_CONNECTED)) {
		pl_lua_push_json(L, sc->api->socket_auth(s), max);
		cache = true;
	} else if (strcmp(k, "ns") == 0 && s) {
		lua_pushstring(L, sc->api->nsp_name(sc->api->socket_nsp(s)));
	} else if (strcmp(k, "emit") == 0 && s) {
		lua_pushcfunction(L, ev_emit);
	} else if (strcmp(k, "ack") == 0 && m) {
		lua_pushcfunction(L, ev_ack);
	} else if (is_route_field(k) && m && m->route) {
		pl_lua_push_json(L, *route_field(m->route, k), max);
		if (lua_isnil(L, -1)) {
			lua_pop(L, 1);
			lua_newtable(L);
		}
		cache = true;
	} else if (strcmp(k, "no_store") == 0 && m && m->route) {
		lua_pushboolean(L, m->route->no_store);
	} else {
		lua_pushnil(L);
	}
	if (cache) {
		push_cache(L);
		lua_pushvalue(L, -2);
		lua_setfield(L, -2, k);
		lua_pop(L, 1);
	}
	return 1;
}

/* Replaces the message's first argument's field k with v (adopted). */
static void set_data_field(struct evud *e, const char *k, json_t *v)
{
	struct parley_evt_message *m = message_of(e);
	json_t *d = json_array_get(m->args, 0);
	json_t *nd = json_is_object(d) ? json_copy(d) : json_object();
	json_t *na = json_is_array(m->args) ? json_copy(m->args) : json_array();
	if (!nd || !na) {
		json_decref(nd);
		json_decref(na);
		json_decref(v);
		return;
	}
	json_object_set_new(nd, k, v);
	if (json_array_size(na) == 0)
		json_array_append_new(na, nd);
	else
		json_array_set_new(na, 0, nd);
	if (m->args != e->orig_args)
		json_decref(m->args); /* ours from an earlier assignment in this handler */
	m->args = na;		      /* the pipeline adopts it and releases the original */
}

static int ev_newindex(lua_State *L)
{
	struct evud *e = luaL_checkudata(L, 1, EVENT_MT);
	const char *k = luaL_checkstring(L, 2);
	if (!e->evt)
		return luaL_error(L, "event used after its handler returned");
	struct parley_evt_message *m = message_of(e);
	if (m && (e->kind == K_CHAT || e->kind == K_PRIVATE) && strcmp(k, "msg") == 0) {
		json_t *v = check_json(L, 3);
		set_data_field(e, "msg", v);
		return 0;
	}
	if (m && m->route && strcmp(k, "no_store") == 0) {
		m->route->no_store = lua_toboolean(L, 3);
		return 0;
	}
	if (m && m->route && is_route_field(k)) {
		luaL_checktype(L, 3, LUA_TTABLE);
		push_cache(L);
		lua_pushvalue(L, 3);
		lua_setfield(L, -2, k);
		return 0;
	}
	return luaL_error(L, "event field '%s' cannot be set here", k);
}

/* Writes the routing tables the handler read or set back into the route. */
static void route_back(lua_State *L, struct evud *e, int evidx)
{
	struct parley_evt_message *m = message_of(e);
	if (!m || !m->route)
		return;
	if (lua_getiuservalue(L, evidx, 1) != LUA_TTABLE) {
		lua_pop(L, 1);
		return;
	}
	static const char *const fields[] = {"to_rooms", "to_users", "skip"};
	for (int i = 0; i < 3; i++) {
		if (lua_getfield(L, -1, fields[i]) == LUA_TTABLE) {
			const char *err;
			json_t *v = pl_lua_to_json(L, -1, &err);
			if (json_is_array(v)) {
				json_t **f = route_field(m->route, fields[i]);
				json_decref(*f);
				*f = v;
			} else {
				json_decref(v);
			}
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static enum parley_verdict verdict_of(const char *v)
{
	if (!v || strcmp(v, "pass") == 0)
		return PARLEY_PASS;
	if (strcmp(v, "accept") == 0)
		return PARLEY_HANDLED;
	if (strcmp(v, "drop") == 0)
		return PARLEY_DROP;
	if (strcmp(v, "reject") == 0)
		return PARLEY_REJECT;
	if (strcmp(v, "disconnect") == 0)
		return PARLEY_DISCONNECT;
	return PARLEY_PASS;
}

struct hcall {
	struct reg *r;
	void *evt;
	struct evud *e;
	enum parley_verdict v;
};

static int h_call(lua_State *L)
{
	struct hcall *c = lua_touserdata(L, 1);
	struct pl_script *sc = c->r->sc;
	struct evud *e = lua_newuserdatauv(L, sizeof *e, 1);
	e->sc = sc;
	e->kind = c->r->kind;
	e->evt = c->evt;
	struct parley_evt_message *m = message_of(e);
	e->orig_args = m ? m->args : NULL;
	c->e = e;
	luaL_setmetatable(L, EVENT_MT);
	int evidx = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->r->ref);
	lua_pushvalue(L, evidx);
	lua_call(L, 1, 2);
	route_back(L, e, evidx);
	const char *v = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
	const char *reason = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
	c->v = verdict_of(v);
	if (c->v == PARLEY_REJECT || c->v == PARLEY_DISCONNECT) {
		if (m) {
			json_decref(m->reject);
			m->reject =
			    json_pack("[{sbss}]", "ok", 0, "error", reason ? reason : "rejected");
		} else if (e->kind == K_CONNECT) {
			struct parley_evt_connect *ce = c->evt;
			json_decref(ce->error);
			ce->error = reason ? json_string(reason) : NULL;
		}
	}
	return 0;
}

static enum parley_verdict on_hook(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	struct reg *r = ud;
	struct hcall c = {.r = r, .evt = evt, .v = PARLEY_PASS};
	if (protected_call(r->sc, h_call, &c))
		c.v = PARLEY_PASS;
	if (c.e)
		c.e->evt = NULL; /* a script that kept the event cannot reach the freed struct */
	return c.v;
}

/* ---- parley.* ---- */

static int l_on(lua_State *L)
{
	struct pl_script *sc = script_of(L);
	const char *name = luaL_checkstring(L, 1);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	int prio = (int)luaL_optinteger(L, 3, PARLEY_PRIO_FILTER);
	int k = 0;
	while (k < K_COUNT && strcmp(kinds[k].name, name) != 0)
		k++;
	if (k == K_COUNT)
		return luaL_error(L, "unknown hook '%s'", name);
	lua_pushvalue(L, 2);
	int ref = luaL_ref(L, LUA_REGISTRYINDEX);
	struct reg *r = malloc(sizeof *r);
	if (!r) {
		luaL_unref(L, LUA_REGISTRYINDEX, ref);
		return luaL_error(L, "out of memory");
	}
	r->sc = sc;
	r->kind = (enum kind)k;
	r->ref = ref;
	int rc = sc->api->hook_add(sc->owner, kinds[k].hook, NULL, kinds[k].app, prio, on_hook, r);
	if (rc) {
		luaL_unref(L, LUA_REGISTRYINDEX, ref);
		free(r);
		return luaL_error(L, "cannot register '%s': %s", name, sc->api->strerror(rc));
	}
	r->next = sc->regs;
	sc->regs = r;
	return 0;
}

/* Builds [event, args from idx...] as a new reference; raises on a value JSON cannot hold. */
static json_t *payload_of(lua_State *L, int idx)
{
	int top = lua_gettop(L);
	json_t *p = json_array();
	if (!p)
		luaL_error(L, "out of memory");
	json_array_append_new(p, json_string(luaL_checkstring(L, idx)));
	for (int i = idx + 1; i <= top; i++) {
		const char *err;
		json_t *v = pl_lua_to_json(L, i, &err);
		if (!v) {
			json_decref(p);
			luaL_error(L, "argument %d: %s", i, err);
		}
		json_array_append_new(p, v);
	}
	return p;
}

/* parley.emit and parley.emit_recoverable: the latter stores the event first, as a notice. */
static int emit(lua_State *L, bool recoverable)
{
	struct pl_script *sc = script_of(L);
	const struct parley_api *api = sc->api;
	parley_nsp *nsp = main_nsp(sc);
	const char *target = luaL_optstring(L, 1, NULL);
	json_t *p = payload_of(L, 2);
	struct parley_message msg = {.payload = p};
	if (recoverable && nsp && json_array_size(p) > 0) {
		json_t *args = json_array();
		for (size_t i = 1; i < json_array_size(p); i++)
			json_array_append(args, json_array_get(p, i));
		struct parley_record r = {.size = sizeof r,
					  .nsp = nsp,
					  .room = target,
					  .event = json_string_value(json_array_get(p, 0)),
					  .args = args,
					  .notice = true};
		if (r.event)
			api->history_record(&r, NULL, NULL);
		json_decref(args);
	}
	lua_Integer n = 0;
	parley_socket *s = target && nsp ? api->nsp_socket(nsp, target) : NULL;
	if (s) {
		n = api->emit(s, &msg, NULL, NULL) == 0;
	} else if (nsp) {
		struct parley_target t = {
		    .size = sizeof t, .rooms = &target, .n_rooms = target ? 1 : 0};
		n = (lua_Integer)api->broadcast(nsp, &t, &msg);
	}
	json_decref(p);
	lua_pushinteger(L, n);
	return 1;
}

static int l_emit(lua_State *L)
{
	return emit(L, false);
}

static int l_emit_recoverable(lua_State *L)
{
	return emit(L, true);
}

static int l_join(lua_State *L)
{
	struct pl_script *sc = script_of(L);
	parley_socket *s = socket_arg(L, sc, 1);
	const char *room = luaL_checkstring(L, 2);
	int rc = s ? sc->api->socket_join(s, room) : -ENOENT;
	if (rc) {
		lua_pushnil(L);
		lua_pushstring(L, s ? sc->api->strerror(rc) : "no such socket");
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

static int l_leave(lua_State *L)
{
	struct pl_script *sc = script_of(L);
	parley_socket *s = socket_arg(L, sc, 1);
	const char *room = luaL_checkstring(L, 2);
	if (s)
		sc->api->socket_leave(s, room);
	lua_pushboolean(L, s != NULL);
	return 1;
}

static int l_kick(lua_State *L)
{
	struct pl_script *sc = script_of(L);
	parley_socket *s = socket_arg(L, sc, 1);
	const char *reason = luaL_optstring(L, 2, "kicked");
	if (s) {
		sc->api->log(sc->owner, PARLEY_LOG_INFO, "script %s kicks %s: %s", sc->name,
			     sc->api->socket_id(s), reason);
		sc->api->socket_disconnect(s, false);
	}
	lua_pushboolean(L, s != NULL);
	return 1;
}

static int l_members(lua_State *L)
{
	struct pl_script *sc = script_of(L);
	const struct parley_api *api = sc->api;
	const char *room = luaL_optstring(L, 1, NULL);
	parley_nsp *nsp = main_nsp(sc);
	size_t n = !nsp ? 0 : room ? api->room_size(nsp, room) : api->nsp_count(nsp);
	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		parley_socket *s =
		    room ? api->room_member_at(nsp, room, i) : api->nsp_socket_at(nsp, i);
		if (!s)
			break;
		push_identity(L, sc, s);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static int l_history(lua_State *L)
{
	struct pl_script *sc = script_of(L);
	const char *room = luaL_optstring(L, 1, "");
	long long before = 0, since = -1;
	lua_Integer limit = 50;
	if (lua_istable(L, 2)) {
		lua_getfield(L, 2, "before");
		before = (long long)luaL_optinteger(L, -1, 0);
		lua_getfield(L, 2, "since");
		since = (long long)luaL_optinteger(L, -1, -1);
		lua_getfield(L, 2, "limit");
		limit = luaL_optinteger(L, -1, 50);
		lua_pop(L, 3);
	}
	if (limit < 1)
		limit = 1;
	if (limit > 1000)
		limit = 1000;
	parley_nsp *nsp = main_nsp(sc);
	json_t *page = nsp ? sc->api->history_page(nsp, room, before, since, (int)limit) : NULL;
	if (!page) {
		lua_pushnil(L);
		lua_pushstring(L, "history unavailable");
		return 2;
	}
	pl_lua_push_json(L, page, sc->lim.max_string);
	json_decref(page);
	return 1;
}

static int log_at(lua_State *L, enum parley_log_level level, int first)
{
	struct pl_script *sc = script_of(L);
	if (!sc->api->log_enabled(level))
		return 0;
	int top = lua_gettop(L); /* before the buffer, which may push a box of its own */
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (int i = first; i <= top; i++) {
		if (i > first)
			luaL_addchar(&b, ' ');
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
	}
	luaL_pushresult(&b);
	sc->api->log(sc->owner, level, "script %s: %.*s", sc->name, MAX_LOG_LINE,
		     lua_tostring(L, -1));
	return 0;
}

static int l_log(lua_State *L)
{
	static const char *const names[] = {"debug", "info", "warn", "error", NULL};
	static const enum parley_log_level levels[] = {PARLEY_LOG_DEBUG, PARLEY_LOG_INFO,
						       PARLEY_LOG_WARN, PARLEY_LOG_ERROR};
	int l = luaL_checkoption(L, 1, "info", names);
	return log_at(L, levels[l], 2);
}

static int l_print(lua_State *L)
{
	return log_at(L, PARLEY_LOG_INFO, 1);
}

static int l_clock(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
	return 1;
}

static int l_object(lua_State *L)
{
	pl_lua_push_object(L);
	return 1;
}

static int l_time(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
	return 1;
}

/* ---- timers ---- */

static void timer_free(struct ltimer *t)
{
	if (t->pprev) {
		*t->pprev = t->next;
		if (t->next)
			t->next->pprev = t->pprev;
	}
	luaL_unref(t->sc->L, LUA_REGISTRYINDEX, t->ref);
	free(t);
}

static int timer_call(lua_State *L)
{
	struct ltimer *t = lua_touserdata(L, 1);
	lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
	lua_call(L, 0, 0);
	return 0;
}

static void timer_fired(void *ud)
{
	struct ltimer *t = ud;
	if (!t->repeat)
		t->t = NULL; /* the host frees a one-shot timer that fired */
	t->firing = true;
	protected_call(t->sc, timer_call, t);
	t->firing = false;
	if (!t->repeat || t->dead)
		timer_free(t);
}

static void timer_cancel(struct ltimer *t)
{
	if (t->t)
		t->sc->api->timer_stop(t->t);
	t->t = NULL;
	if (t->firing)
		t->dead = true;
	else
		timer_free(t);
}

static int start_timer(lua_State *L, bool repeat)
{
	struct pl_script *sc = script_of(L);
	double sec = luaL_checknumber(L, 1);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	if (!(sec >= 0) || sec > 1e7)
		return luaL_error(L, "bad timer interval");
	uint64_t ms = (uint64_t)(sec * 1000.0);
	if (repeat && ms < 10)
		ms = 10;
	lua_pushvalue(L, 2);
	int ref = luaL_ref(L, LUA_REGISTRYINDEX);
	struct ltimer *t = calloc(1, sizeof *t);
	if (!t) {
		luaL_unref(L, LUA_REGISTRYINDEX, ref);
		return luaL_error(L, "out of memory");
	}
	t->sc = sc;
	t->ref = ref;
	t->repeat = repeat;
	t->id = ++sc->next_timer_id;
	t->t = sc->api->timer_start(sc->owner, ms, repeat ? ms : 0, timer_fired, t);
	if (!t->t) {
		timer_free(t);
		return luaL_error(L, "cannot start a timer");
	}
	t->next = sc->timers;
	if (sc->timers)
		sc->timers->pprev = &t->next;
	t->pprev = &sc->timers;
	sc->timers = t;
	lua_pushinteger(L, t->id);
	return 1;
}

static int l_timer(lua_State *L)
{
	return start_timer(L, false);
}

static int l_every(lua_State *L)
{
	return start_timer(L, true);
}

static int l_cancel(lua_State *L)
{
	struct pl_script *sc = script_of(L);
	lua_Integer id = luaL_checkinteger(L, 1);
	for (struct ltimer *t = sc->timers; t; t = t->next) {
		if (t->id == id && !t->dead) {
			timer_cancel(t);
			lua_pushboolean(L, 1);
			return 1;
		}
	}
	lua_pushboolean(L, 0);
	return 1;
}

/* ---- bots ---- */

struct bcall {
	struct lbot *b;
	const char *event;
	json_t *args;
};

static int bot_call(lua_State *L)
{
	struct bcall *c = lua_touserdata(L, 1);
	struct lbot *b = c->b;
	struct pl_script *sc = b->sc;
	lua_rawgeti(L, LUA_REGISTRYINDEX, b->handlers_ref);
	if (lua_getfield(L, -1, c->event) != LUA_TFUNCTION)
		return 0;
	/* never its own messages: the sender is named by its socket id or by its user id */
	json_t *from = json_object_get(json_array_get(c->args, 0), "from");
	const char *fid = json_string_value(json_object_get(from, "id"));
	json_t *fuid = json_object_get(from, "userid");
	if (b->s && ((fid && strcmp(fid, sc->api->socket_id(b->s)) == 0) ||
		     (fuid && json_equal(fuid, sc->api->socket_userid(b->s)))))
		return 0;
	size_t n = json_array_size(c->args);
	luaL_checkstack(L, (int)n + 2, "too many arguments");
	for (size_t i = 0; i < n; i++)
		pl_lua_push_json(L, json_array_get(c->args, i), sc->lim.max_string);
	lua_call(L, (int)n, 0);
	return 0;
}

static void bot_event(parley_socket *bot, const char *event, json_t *args, void *ud)
{
	(void)bot;
	struct lbot *b = ud;
	struct bcall c = {b, event, args};
	protected_call(b->sc, bot_call, &c);
}

static struct lbot *check_bot(lua_State *L)
{
	struct lbot **pb = luaL_checkudata(L, 1, BOT_MT);
	if (!*pb || !(*pb)->s)
		luaL_error(L, "bot already freed");
	return *pb;
}

static void bot_release(struct lbot *b)
{
	if (b->s)
		b->sc->api->bot_free(b->s);
	b->s = NULL;
	*b->pprev = b->next;
	if (b->next)
		b->next->pprev = b->pprev;
	luaL_unref(b->sc->L, LUA_REGISTRYINDEX, b->handlers_ref);
	luaL_unref(b->sc->L, LUA_REGISTRYINDEX, b->self_ref);
	/* the userdata may outlive it: it points nowhere now */
	b->sc = NULL;
	free(b);
}

static int bot_on(lua_State *L)
{
	struct lbot *b = check_bot(L);
	const char *ev = luaL_checkstring(L, 2);
	luaL_checktype(L, 3, LUA_TFUNCTION);
	lua_rawgeti(L, LUA_REGISTRYINDEX, b->handlers_ref);
	lua_pushvalue(L, 3);
	lua_setfield(L, -2, ev);
	lua_settop(L, 1);
	return 1;
}

static int bot_inject(lua_State *L, struct lbot *b, const char *event, json_t *data)
{
	json_t *args = json_array();
	if (!args || json_array_append_new(args, data)) {
		json_decref(args);
		return luaL_error(L, "out of memory");
	}
	int rc = b->sc->api->inject(b->s, event, args);
	json_decref(args);
	lua_pushboolean(L, rc == 0);
	return 1;
}

static int bot_say(lua_State *L)
{
	struct lbot *b = check_bot(L);
	const char *room = luaL_optstring(L, 2, NULL);
	json_t *msg = check_json(L, 3);
	json_t *data =
	    room ? json_pack("{ssso}", "room", room, "msg", msg) : json_pack("{so}", "msg", msg);
	return bot_inject(L, b, "chat", data);
}

static int bot_private(lua_State *L)
{
	struct lbot *b = check_bot(L);
	luaL_checkany(L, 2);
	json_t *to = check_json(L, 2);
	json_t *msg = check_json(L, 3);
	return bot_inject(L, b, "private", json_pack("{soso}", "to", to, "msg", msg));
}

static int bot_freem(lua_State *L)
{
	struct lbot **pb = luaL_checkudata(L, 1, BOT_MT);
	if (*pb) {
		struct lbot *b = *pb;
		*pb = NULL;
		bot_release(b);
	}
	return 0;
}

static int bot_index(lua_State *L)
{
	struct lbot **pb = luaL_checkudata(L, 1, BOT_MT);
	const char *k = luaL_checkstring(L, 2);
	if (*pb && (*pb)->s && strcmp(k, "id") == 0) {
		lua_pushstring(L, (*pb)->sc->api->socket_id((*pb)->s));
		return 1;
	}
	if (*pb && (*pb)->s && strcmp(k, "name") == 0) {
		pl_lua_push_json(L, (*pb)->sc->api->socket_name((*pb)->s), 1024);
		return 1;
	}
	luaL_getmetatable(L, BOT_MT);
	lua_getfield(L, -1, "methods");
	lua_getfield(L, -1, k);
	return 1;
}

static int l_bot(lua_State *L)
{
	struct pl_script *sc = script_of(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "name");
	const char *name = luaL_optstring(L, -1, "bot");
	parley_nsp *nsp = main_nsp(sc);
	struct lbot **pb = lua_newuserdatauv(L, sizeof *pb, 0);
	*pb = NULL;
	luaL_setmetatable(L, BOT_MT);
	lua_newtable(L);
	int handlers = luaL_ref(L, LUA_REGISTRYINDEX);
	lua_pushvalue(L, -1);
	int self = luaL_ref(L, LUA_REGISTRYINDEX);
	struct lbot *b = calloc(1, sizeof *b);
	parley_socket *s = b && nsp ? sc->api->bot_new(sc->owner, nsp, name, bot_event, b) : NULL;
	if (!s) {
		free(b);
		luaL_unref(L, LUA_REGISTRYINDEX, handlers);
		luaL_unref(L, LUA_REGISTRYINDEX, self);
		return luaL_error(L, "cannot create a bot");
	}
	b->sc = sc;
	b->s = s;
	b->handlers_ref = handlers;
	b->self_ref = self;
	b->next = sc->bots;
	if (sc->bots)
		sc->bots->pprev = &b->next;
	b->pprev = &sc->bots;
	sc->bots = b;
	*pb = b;
	if (lua_getfield(L, 1, "rooms") == LUA_TTABLE) {
		for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
			int rc = sc->api->socket_join(s, lua_tostring(L, -1));
			if (rc)
				sc->api->log(sc->owner, PARLEY_LOG_WARN,
					     "script %s: bot cannot join %s: %s", sc->name,
					     lua_tostring(L, -1), sc->api->strerror(rc));
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return 1;
}

/* ---- the cluster ---- */

#define MAX_TARGET_ROOMS 32   /* rooms (and except rooms) of a target */
#define MAX_REQUESTS	 1000 /* a script's cluster requests awaiting answers */

struct ltarget {
	struct parley_target t;
	const char *rooms[MAX_TARGET_ROOMS];
	const char *except[MAX_TARGET_ROOMS];
};

/* Fills n names from the string or array at idx (borrowed from the stack); raises when many. */
static size_t names_arg(lua_State *L, int idx, const char **names)
{
	if (lua_isnoneornil(L, idx))
		return 0;
	if (lua_type(L, idx) == LUA_TSTRING) {
		names[0] = lua_tostring(L, idx);
		return 1;
	}
	luaL_checktype(L, idx, LUA_TTABLE);
	size_t n = (size_t)lua_rawlen(L, idx);
	if (n > MAX_TARGET_ROOMS)
		luaL_error(L, "more than %d rooms", MAX_TARGET_ROOMS);
	for (size_t i = 0; i < n; i++) {
		if (lua_rawgeti(L, idx, (lua_Integer)i + 1) != LUA_TSTRING)
			luaL_error(L, "a room name must be a string");
		names[i] = lua_tostring(L, -1);
		lua_pop(L, 1); /* still held by the table */
	}
	return n;
}

/*
 * A target: nil (the namespace), a room or socket id, a list of them, or {rooms = room(s),
 * except = room(s)}. The names stay borrowed from the stack.
 */
static const struct parley_target *target_arg(lua_State *L, int idx, struct ltarget *lt)
{
	memset(lt, 0, sizeof *lt);
	lt->t.size = sizeof lt->t;
	lt->t.rooms = lt->rooms;
	lt->t.except_rooms = lt->except;
	if (!lua_istable(L, idx) || lua_rawlen(L, idx) > 0) {
		lt->t.n_rooms = names_arg(L, idx, lt->rooms);
		return &lt->t;
	}
	lua_getfield(L, idx, "rooms");
	lt->t.n_rooms = names_arg(L, lua_gettop(L), lt->rooms);
	lua_getfield(L, idx, "except");
	lt->t.n_except = names_arg(L, lua_gettop(L), lt->except);
	return &lt->t; /* both left on the stack, which holds their names */
}

static void lreq_free(struct lreq *q)
{
	if (q->pprev) {
		*q->pprev = q->next;
		if (q->next)
			q->next->pprev = q->pprev;
		q->sc->n_requests--;
	}
	luaL_unref(q->sc->L, LUA_REGISTRYINDEX, q->ref);
	free(q);
}

struct acall {
	struct lreq *q;
	json_t *answers;
	int err;
};

static int answer_call(lua_State *L)
{
	struct acall *c = lua_touserdata(L, 1);
	struct pl_script *sc = c->q->sc;
	lua_rawgeti(L, LUA_REGISTRYINDEX, c->q->ref);
	if (c->q->kind == ASK_SERVERS)
		lua_pushinteger(L, (lua_Integer)json_integer_value(json_array_get(c->answers, 0)));
	else
		pl_lua_push_json(L, c->answers, sc->lim.max_string);
	if (c->err == 0)
		lua_pushnil(L);
	else if (c->err == -ETIMEDOUT)
		lua_pushliteral(L, "timeout");
	else if (c->err == -ENOTCONN)
		lua_pushliteral(L, "cluster unreachable");
	else
		lua_pushstring(L, sc->api->strerror(c->err));
	lua_call(L, 2, 0);
	return 0;
}

static void answered(json_t *answers, int err, void *ud)
{
	struct lreq *q = ud;
	struct acall c = {q, answers, err};
	protected_call(q->sc, answer_call, &c);
	lreq_free(q);
}

/* Seconds at idx (default 5) as milliseconds. */
static uint64_t timeout_arg(lua_State *L, int idx)
{
	double sec = luaL_optnumber(L, idx, 5);
	if (!(sec > 0) || sec > 3600)
		luaL_error(L, "bad timeout");
	uint64_t ms = (uint64_t)(sec * 1000.0);
	return ms ? ms : 1;
}

/*
 * A request with the callback at fn_idx, not started yet; raises on a bad argument, NULL (nil
 * and a reason pushed) when the script has too many.
 */
static struct lreq *lreq_new(lua_State *L, enum ask kind, int fn_idx)
{
	struct pl_script *sc = script_of(L);
	luaL_checktype(L, fn_idx, LUA_TFUNCTION);
	if (sc->n_requests >= MAX_REQUESTS) {
		lua_pushnil(L);
		lua_pushstring(L, "too many cluster requests awaiting answers");
		return NULL;
	}
	lua_pushvalue(L, fn_idx);
	int ref = luaL_ref(L, LUA_REGISTRYINDEX);
	struct lreq *q = calloc(1, sizeof *q);
	if (!q) {
		luaL_unref(L, LUA_REGISTRYINDEX, ref);
		luaL_error(L, "out of memory");
	}
	q->sc = sc;
	q->kind = kind;
	q->ref = ref;
	return q;
}

/* Starts q (t for ASK_SOCKETS, m for ASK_EMIT); never raises. NULL, or why it did not start. */
static const char *lreq_start(struct lreq *q, const struct parley_target *t,
			      const struct parley_message *m, uint64_t ms)
{
	struct pl_script *sc = q->sc;
	const struct parley_api *api = sc->api;
	parley_nsp *nsp = main_nsp(sc);
	switch (nsp ? q->kind : ASK_NONE) {
	case ASK_SOCKETS: q->r = api->cluster_fetch(sc->owner, nsp, t, ms, answered, q); break;
	case ASK_ROOMS: q->r = api->cluster_rooms(sc->owner, nsp, ms, answered, q); break;
	case ASK_SERVERS: q->r = api->cluster_servers(sc->owner, nsp, ms, answered, q); break;
	case ASK_EMIT: q->r = api->cluster_emit(sc->owner, nsp, m, ms, answered, q); break;
	case ASK_NONE: break;
	}
	if (!q->r) {
		lreq_free(q);
		return nsp ? "cannot ask the cluster" : "no namespace";
	}
	q->next = sc->requests;
	if (sc->requests)
		sc->requests->pprev = &q->next;
	q->pprev = &sc->requests;
	sc->requests = q;
	sc->n_requests++;
	return NULL;
}

/* Pushes true, or nil and why. */
static int requested(lua_State *L, const char *why)
{
	if (!why) {
		lua_pushboolean(L, 1);
		return 1;
	}
	lua_pushnil(L);
	lua_pushstring(L, why);
	return 2;
}

/* A request of kind without a payload, with the callback at fn_idx and the timeout after it. */
static int simple_request(lua_State *L, enum ask kind, const struct parley_target *t, int fn_idx)
{
	uint64_t ms = timeout_arg(L, fn_idx + 1);
	struct lreq *q = lreq_new(L, kind, fn_idx);
	return q ? requested(L, lreq_start(q, t, NULL, ms)) : 2;
}

static int c_sockets(lua_State *L)
{
	lua_settop(L, 3); /* target_arg pushes above the arguments */
	struct ltarget lt;
	const struct parley_target *t = target_arg(L, 1, &lt);
	return simple_request(L, ASK_SOCKETS, t, 2);
}

static int c_rooms(lua_State *L)
{
	return simple_request(L, ASK_ROOMS, NULL, 1);
}

static int c_servers(lua_State *L)
{
	return simple_request(L, ASK_SERVERS, NULL, 1);
}

/*
 * [event, the elements of the table at idx + 1...] as a new reference; raises when it cannot,
 * after freeing q (the request it is for, or NULL).
 */
static json_t *event_of(lua_State *L, int idx, struct lreq *q)
{
	const char *event = lua_tostring(L, idx);
	const char *bad = !event ? "an event name"
			  : !lua_isnoneornil(L, idx + 1) && !lua_istable(L, idx + 1) ? "a table"
										     : NULL;
	json_t *p = bad ? NULL : json_array();
	if (!p || json_array_append_new(p, json_string(event))) {
		json_decref(p);
		if (q)
			lreq_free(q);
		if (bad)
			luaL_error(L, "%s expected", bad);
		luaL_error(L, "out of memory");
	}
	size_t n = lua_istable(L, idx + 1) ? (size_t)lua_rawlen(L, idx + 1) : 0;
	for (size_t i = 1; i <= n; i++) {
		lua_rawgeti(L, idx + 1, (lua_Integer)i);
		const char *err;
		json_t *v = pl_lua_to_json(L, -1, &err);
		lua_pop(L, 1);
		if (!v || json_array_append_new(p, v)) {
			json_decref(p);
			if (q)
				lreq_free(q);
			luaL_error(L, "argument %d: %s", (int)i, v ? "out of memory" : err);
		}
	}
	return p;
}

static int c_ask(lua_State *L)
{
	uint64_t ms = timeout_arg(L, 4);
	struct lreq *q = lreq_new(L, ASK_EMIT, 3);
	if (!q)
		return 2;
	json_t *p = event_of(L, 1, q);
	struct parley_message m = {.payload = p};
	const char *why = lreq_start(q, NULL, &m, ms);
	json_decref(p);
	return requested(L, why);
}

/* Pushes true, or nil and the reason of rc. */
static int done(lua_State *L, int rc)
{
	return requested(L, rc ? script_of(L)->api->strerror(rc) : NULL);
}

static int c_emit(lua_State *L)
{
	struct pl_script *sc = script_of(L);
	parley_nsp *nsp = main_nsp(sc);
	json_t *p = event_of(L, 1, NULL);
	struct parley_message m = {.payload = p};
	if (nsp)
		sc->api->cluster_emit(sc->owner, nsp, &m, 0, NULL, NULL);
	json_decref(p);
	return done(L, nsp ? 0 : -ENOENT);
}

static int join_or_leave(lua_State *L, bool join)
{
	lua_settop(L, 2); /* target_arg pushes above the arguments */
	struct pl_script *sc = script_of(L);
	parley_nsp *nsp = main_nsp(sc);
	struct ltarget lt;
	const struct parley_target *t = target_arg(L, 1, &lt);
	const char *room = luaL_checkstring(L, 2);
	if (!nsp)
		return done(L, -ENOENT);
	return done(L, join ? sc->api->cluster_join(nsp, t, room)
			    : sc->api->cluster_leave(nsp, t, room));
}

static int c_join(lua_State *L)
{
	return join_or_leave(L, true);
}

static int c_leave(lua_State *L)
{
	return join_or_leave(L, false);
}

static int c_kick(lua_State *L)
{
	lua_settop(L, 2); /* target_arg pushes above the arguments */
	struct pl_script *sc = script_of(L);
	parley_nsp *nsp = main_nsp(sc);
	struct ltarget lt;
	const struct parley_target *t = target_arg(L, 1, &lt);
	bool close = lua_toboolean(L, 2);
	if (!nsp)
		return done(L, -ENOENT);
	sc->api->log(sc->owner, PARLEY_LOG_INFO, "script %s kicks across the cluster", sc->name);
	return done(L, sc->api->cluster_disconnect(nsp, t, close));
}

/* ---- the sandbox ---- */

static int l_collectgarbage(lua_State *L)
{
	const char *opt = luaL_optstring(L, 1, "count");
	if (strcmp(opt, "count") != 0)
		return luaL_error(L, "collectgarbage: only \"count\" is allowed");
	struct pl_script *sc = script_of(L);
	lua_pushnumber(L, (double)sc->mem.used / 1024.0);
	return 1;
}

/*
 * xpcall(f, msgh, ...) as pcall(f, ...) followed by msgh(err) once the stack unwound. Lua runs a
 * message handler with hooks off when the error came from a hook (the budget's), so a handler
 * of its own could loop forever; here it runs as ordinary code, under the budget.
 */
static int l_xpcall(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 2);
	lua_insert(L, 1); /* msgh, f, msgh, args... */
	lua_remove(L, 3);
	int rc = lua_pcall(L, n - 2, LUA_MULTRET, 0);
	if (rc != LUA_OK) {
		lua_pushvalue(L, 1);
		lua_insert(L, -2);
		lua_call(L, 1, 1);
		lua_pushboolean(L, 0);
		lua_insert(L, -2);
		return 2;
	}
	lua_pushboolean(L, 1);
	lua_replace(L, 1);
	return lua_gettop(L);
}

/*
 * setmetatable without finalizers: Lua runs __gc with hooks off, outside any budget, so a
 * metatable with a __gc field is refused (a field added later marks nothing, per the manual).
 */
static int l_setmetatable(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	if (lua_istable(L, 2)) {
		lua_pushliteral(L, "__gc");
		if (lua_rawget(L, 2) != LUA_TNIL)
			return luaL_error(L, "setmetatable: __gc is not allowed");
		lua_pop(L, 1);
	}
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, 1);
	return 1;
}

static int setup(lua_State *L)
{
	static const luaL_Reg libs[] = {
	    {LUA_GNAME, luaopen_base},	     {LUA_STRLIBNAME, luaopen_string},
	    {LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
	    {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine},
	};
	for (size_t i = 0; i < sizeof libs / sizeof *libs; i++) {
		luaL_requiref(L, libs[i].name, libs[i].func, 1);
		lua_pop(L, 1);
	}
	static const char *const removed[] = {"load",	 "loadstring", "dofile", "loadfile",
					      "require", "warn",       "module"};
	for (size_t i = 0; i < sizeof removed / sizeof *removed; i++) {
		lua_pushnil(L);
		lua_setglobal(L, removed[i]);
	}
	lua_getglobal(L, "string");
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);
	/* the loaded-modules table would hand back what was removed */
	lua_pushnil(L);
	lua_setfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_register(L, "collectgarbage", l_collectgarbage);
	lua_register(L, "xpcall", l_xpcall);
	lua_getglobal(L, "setmetatable");
	lua_pushcclosure(L, l_setmetatable, 1);
	lua_setglobal(L, "setmetatable");
	lua_register(L, "print", l_print);

	static const luaL_Reg parley[] = {
	    {"on", l_on},	{"emit", l_emit},	{"emit_recoverable", l_emit_recoverable},
	    {"join", l_join},	{"leave", l_leave},
	    {"kick", l_kick},	{"members", l_members}, {"history", l_history}, {"timer", l_timer},
	    {"every", l_every}, {"cancel", l_cancel},	{"log", l_log},		{"clock", l_clock},
	    {"time", l_time},	{"object", l_object},	{"bot", l_bot},		{NULL, NULL},
	};
	luaL_newlib(L, parley);
	static const luaL_Reg cluster[] = {
	    {"sockets", c_sockets}, {"rooms", c_rooms}, {"servers", c_servers},
	    {"ask", c_ask},	    {"emit", c_emit},	{"join", c_join},
	    {"leave", c_leave},	    {"kick", c_kick},	{NULL, NULL},
	};
	luaL_newlib(L, cluster);
	lua_setfield(L, -2, "cluster");
	lua_setglobal(L, "parley");

	luaL_newmetatable(L, EVENT_MT);
	lua_pushcfunction(L, ev_index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, ev_newindex);
	lua_setfield(L, -2, "__newindex");
	lua_pushliteral(L, "event");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);

	static const luaL_Reg methods[] = {
	    {"on", bot_on},	 {"say", bot_say}, {"private", bot_private},
	    {"free", bot_freem}, {NULL, NULL},
	};
	luaL_newmetatable(L, BOT_MT);
	luaL_newlib(L, methods);
	lua_setfield(L, -2, "methods");
	lua_pushcfunction(L, bot_index);
	lua_setfield(L, -2, "__index");
	lua_pushliteral(L, "bot");
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 1);
	return 0;
}

static int panic(lua_State *L)
{
	pl_error("lua: unprotected error: %s", lua_tostring(L, -1));
	abort();
}

struct pl_script *pl_script_new(const struct parley_api *api, parley_owner *owner, const char *name,
				const char *src, size_t len, const struct pl_script_limits *lim,
				char **err)
{
	if (err)
		*err = NULL;
	struct pl_script *sc = calloc(1, sizeof *sc);
	if (!sc || !(sc->name = strdup(name))) {
		free(sc);
		if (err)
			*err = strdup("out of memory");
		return NULL;
	}
	sc->api = api;
	sc->owner = owner;
	if (lim)
		sc->lim = *lim;
	else
		pl_script_limits_default(&sc->lim);
	sc->mem.limit = sc->lim.max_memory;
	sc->L = lua_newstate(pl_lua_alloc, &sc->mem);
	if (!sc->L) {
		if (err)
			*err = strdup("cannot create a Lua state");
		pl_script_free(sc);
		return NULL;
	}
	lua_atpanic(sc->L, panic);
	lua_pushcfunction(sc->L, setup);
	if (sc_pcall(sc, 0, 0, err)) {
		pl_script_free(sc);
		return NULL;
	}
	char chunk[256];
	snprintf(chunk, sizeof chunk, "=%s", name);
	int rc = luaL_loadbufferx(sc->L, src, len, chunk, "t");
	if (rc != LUA_OK) {
		if (err)
			*err = strdup(lua_tostring(sc->L, -1) ? lua_tostring(sc->L, -1) : "?");
		pl_script_free(sc);
		return NULL;
	}
	if (sc_pcall(sc, 0, 0, err)) {
		pl_script_free(sc);
		return NULL;
	}
	return sc;
}

void pl_script_free(struct pl_script *sc)
{
	if (!sc)
		return;
	while (sc->bots)
		bot_release(sc->bots);
	while (sc->regs) {
		struct reg *r = sc->regs;
		sc->regs = r->next;
		sc->api->hook_remove(sc->owner, kinds[r->kind].hook, on_hook, r);
		free(r);
	}
	while (sc->timers) {
		struct ltimer *t = sc->timers;
		if (t->t)
			sc->api->timer_stop(t->t);
		sc->timers = t->next;
		free(t);
	}
	while (sc->requests) {
		struct lreq *q = sc->requests;
		sc->api->request_cancel(q->r);
		sc->requests = q->next;
		free(q);
	}
	if (sc->L)
		lua_close(sc->L);
	free(sc->name);
	free(sc);
}

struct gcall {
	const char *fn;
	json_t *in;  /* an argument (borrowed), or NULL for none */
	json_t *out; /* the JSON of the result, when wanted */
	bool want;
};

static int g_call(lua_State *L)
{
	struct gcall *c = lua_touserdata(L, 1);
	struct pl_script *sc = script_of(L);
	if (lua_getglobal(L, c->fn) != LUA_TFUNCTION)
		return 0;
	int nargs = 0;
	if (c->in) {
		pl_lua_push_json(L, c->in, sc->lim.max_string);
		nargs = 1;
	}
	lua_call(L, nargs, 1);
	if (c->want) {
		const char *err;
		c->out = pl_lua_to_json(L, -1, &err);
		if (!c->out)
			luaL_error(L, "%s(): the result cannot be saved: %s", c->fn, err);
	}
	return 0;
}

int pl_script_call(struct pl_script *sc, const char *fn)
{
	struct gcall c = {.fn = fn};
	return protected_call(sc, g_call, &c);
}

bool pl_script_disabled(const struct pl_script *sc)
{
	return sc->disabled;
}

size_t pl_script_memory(const struct pl_script *sc)
{
	return sc->mem.used;
}

/* ---- the scripts of the server ---- */

struct loaded {
	char *path;
	parley_owner *owner;
	struct pl_script *sc;
};

static struct loaded *loaded;
static size_t n_loaded;

static char *read_file(const char *path, size_t *len, char **err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		*err = strdup(strerror(errno));
		return NULL;
	}
	struct pl_sbuf_like {
		char *d;
		size_t n, cap;
	} b = {0};
	char chunk[8192];
	size_t got;
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.n + got > b.cap) {
			size_t cap = b.cap ? b.cap * 2 : 16384;
			while (cap < b.n + got)
				cap *= 2;
			char *d = realloc(b.d, cap);
			if (!d) {
				free(b.d);
				fclose(f);
				*err = strdup("out of memory");
				return NULL;
			}
			b.d = d;
			b.cap = cap;
		}
		memcpy(b.d + b.n, chunk, got);
		b.n += got;
	}
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(b.d);
		*err = strdup("read error");
		return NULL;
	}
	*len = b.n;
	return b.d ? b.d : strdup("");
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* Loads path with a new owner. Returns 0 or -1 with *err set. */
static int load(const char *path, parley_owner **owner, struct pl_script **sc, char **err)
{
	size_t len;
	char *src = read_file(path, &len, err);
	if (!src)
		return -1;
	*owner = pl_owner_new(base_name(path));
	*sc = *owner ? pl_script_new(pl_api(), *owner, base_name(path), src, len, NULL, err) : NULL;
	free(src);
	if (!*sc) {
		if (!*err)
			*err = strdup("out of memory");
		pl_owner_free(*owner);
		*owner = NULL;
		return -1;
	}
	return 0;
}

int pl_scripts_start(struct pl_server *srv, char *const *paths, size_t n)
{
	(void)srv;
	if (n == 0)
		return 0;
	loaded = calloc(n, sizeof *loaded);
	if (!loaded)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char *err = NULL;
		struct loaded *l = &loaded[n_loaded];
		if (!(l->path = strdup(paths[i])) || load(paths[i], &l->owner, &l->sc, &err)) {
			pl_error("script %s: cannot load: %s", paths[i],
				 err ? err : "out of memory");
			free(err);
			free(l->path);
			l->path = NULL;
			return -1;
		}
		n_loaded++;
		pl_info("script %s loaded", paths[i]);
	}
	return 0;
}

void pl_scripts_reload(void)
{
	for (size_t i = 0; i < n_loaded; i++) {
		struct loaded *l = &loaded[i];
		parley_owner *owner;
		struct pl_script *sc;
		char *err = NULL;
		if (load(l->path, &owner, &sc, &err)) {
			pl_warn("script %s: reload failed, the running version stays: %s", l->path,
				err);
			free(err);
			continue;
		}
		struct gcall save = {.fn = "on_save", .want = true};
		if (!l->sc->disabled && protected_call(l->sc, g_call, &save) == 0 && save.out &&
		    !json_is_null(save.out)) {
			struct gcall restore = {.fn = "on_restore", .in = save.out};
			protected_call(sc, g_call, &restore);
		}
		json_decref(save.out);
		pl_script_free(l->sc);
		pl_owner_free(l->owner);
		l->sc = sc;
		l->owner = owner;
		pl_info("script %s reloaded", l->path);
	}
}

void pl_scripts_stop(void)
{
	for (size_t i = 0; i < n_loaded; i++) {
		pl_script_free(loaded[i].sc);
		pl_owner_free(loaded[i].owner);
		free(loaded[i].path);
	}
	free(loaded);
	loaded = NULL;
	n_loaded = 0;
}
