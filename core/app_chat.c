/*
 * The chat application. On "/", the classic Express + Socket.IO tutorial (login, chat,
 * forceDisconnect) extended with rooms, private messages and member lists, documented in the
 * README. On "/chat", the tutorial's rooms example ("chat message"). It is written against the
 * public extension API alone, as plugins are: every event is an ordinary EVENT hook handler, the
 * core keeps the identity and enforces the limits, and "login", "chat" and "private" raise
 * application hooks (PARLEY_HOOK_APP) through which plugins and scripts may rewrite, drop or
 * refuse them before the application acts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "apps.h"

#define MAX_ROOM_NAME  128 /* the core's default for "max-room-name" */
#define HISTORY_REPLAY 50  /* the core's default for "history-replay" */
#define REPLAY_BYTES   (256 << 10) /* the core's default for "history-replay-bytes" */
#define MESSAGE_BYTES  (64 << 10)  /* the core's default for "max-message-bytes" */
#define NAME_BYTES     64	   /* the core's default for "max-name-bytes" */

static const struct parley_api *api; /* the host's table, set by pl_app_chat_init */
static parley_owner *owner;	     /* what the hooks and log lines belong to */
static long long max_room_name;	     /* the configured limit, read once at init */
static long long history_replay;     /* messages replayed on login and join; 0 for none */
static char room_name_error[80];     /* "a room name of 1 to N characters is required" */
static long long replay_bytes;	     /* bytes a replay or history page carries at most */
static long long max_message_bytes;  /* longest chat or private text */
static long long max_name_bytes;     /* longest login name */
static bool store_messages;	     /* "history": chat and private messages are stored */
static bool clustered;		     /* a node of a cluster: private messages cross it */
static char message_error[64];	     /* "message too long (max N bytes)" */
static char name_error[64];	     /* "name too long (max N bytes)" */

/* The sender's identity as the tutorial sends it: {name, userid}, absent fields omitted. */
static json_t *identity(parley_socket *s)
{
	json_t *o = json_object();
	json_t *name = api->socket_name(s), *userid = api->socket_userid(s);
	if (name)
		json_object_set(o, "name", name);
	if (userid)
		json_object_set(o, "userid", userid);
	return o;
}

/* {id, name, userid} of a member, for member lists and join/leave notices. */
static json_t *member(parley_socket *s)
{
	json_t *o = identity(s);
	json_object_set_new(o, "id", json_string(api->socket_id(s)));
	if (api->socket_is_bot && api->socket_is_bot(s))
		json_object_set_new(o, "bot", json_true());
	return o;
}

/* Answers the event's ack, if the client asked for one, with a single argument (stolen). */
static void reply(const struct parley_evt_message *ev, json_t *answer)
{
	if (ev->ack_id >= 0) {
		json_t *args = json_pack("[O]", answer);
		api->ack(ev->socket, ev->ack_id, args, NULL, 0);
		json_decref(args);
	}
	json_decref(answer);
}

static enum parley_verdict fail(const struct parley_evt_message *ev, const char *error)
{
	reply(ev, json_pack("{sbss}", "ok", 0, "error", error));
	return PARLEY_HANDLED;
}

/* Emits name with one argument (borrowed) to one socket. */
static int emit1(parley_socket *s, const char *name, json_t *arg)
{
	json_t *payload = json_pack("[sO]", name, arg);
	if (!payload)
		return -ENOMEM;
	struct parley_message m = {.payload = payload};
	int rc = api->emit(s, &m, NULL, NULL);
	json_decref(payload);
	return rc;
}

/*
 * Emits name with one argument (borrowed) to a room of nsp (NULL: the whole namespace), skipping
 * except when it is not NULL. Returns the number of recipients.
 */
static size_t broadcast_binary(parley_nsp *nsp, const char *room, parley_socket *except,
			       const char *name, json_t *arg, parley_binary *const *att,
			       unsigned n_att)
{
	json_t *payload = json_pack("[sO]", name, arg);
	if (!payload)
		return 0;
	struct parley_target t = {.size = sizeof t,
				  .rooms = room ? &room : NULL,
				  .n_rooms = room ? 1 : 0,
				  .except = except};
	struct parley_message m = {.payload = payload, .attachments = att, .n_attachments = n_att};
	size_t n = api->broadcast(nsp, &t, &m);
	json_decref(payload);
	return n;
}

static size_t broadcast1(parley_nsp *nsp, const char *room, parley_socket *except, const char *name,
			 json_t *arg)
{
	return broadcast_binary(nsp, room, except, name, arg, NULL, 0);
}

/*
 * Tells a room but s of what s did ("joined", "left"): stored as a notice first, so that members
 * who reconnect having missed it still get it.
 */
static void notify(parley_socket *s, const char *room, const char *name, json_t *notice)
{
	json_t *args = json_pack("[O]", notice);
	json_t *from = identity(s);
	struct parley_record r = {.size = sizeof r,
				  .nsp = api->socket_nsp(s),
				  .room = room,
				  .skip = s,
				  .sender = from,
				  .event = name,
				  .args = args,
				  .notice = true};
	if (args)
		api->history_record(&r, NULL, NULL);
	json_decref(args);
	json_decref(from);
	broadcast1(api->socket_nsp(s), room, s, name, notice);
}

/* The room named by an argument that is either "room" or {room: "room"}; NULL if invalid. */
static const char *room_arg(json_t *arg)
{
	json_t *r = json_is_object(arg) ? json_object_get(arg, "room") : arg;
	const char *name = json_string_value(r);
	if (!name || !*name || (long long)strlen(name) > max_room_name)
		return NULL;
	return name;
}

/* Joins room within the core's limits. Returns NULL, or the error to answer. */
static const char *join_room(parley_socket *s, const char *room)
{
	int rc = api->socket_join(s, room);
	if (rc == 0)
		return NULL;
	return rc == PARLEY_ETOOMANYROOMS ? "too many rooms" : "cannot join now";
}

static json_t *members_of(parley_nsp *nsp, const char *room)
{
	json_t *list = json_array();
	size_t n = api->room_size(nsp, room);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, member(api->room_member_at(nsp, room, i)));
	return list;
}

/* A stored row (borrowed) as clients see it: the message with its id and time; a new reference. */
static json_t *history_message(json_t *row)
{
	json_t *msg = json_object_get(row, "payload");
	json_t *out = json_is_object(msg) ? json_incref(msg) : json_object();
	json_object_set(out, "id", json_object_get(row, "id"));
	json_object_set(out, "ts", json_object_get(row, "ts"));
	return out;
}

/* The bytes a value takes as JSON: what it adds to a frame. */
static size_t json_size(const json_t *v)
{
	return json_dumpb(v, NULL, 0, JSON_ENCODE_ANY | JSON_COMPACT);
}

/*
 * The stored rows (borrowed) as clients see them, within replay_bytes: walking from the newest
 * (newest_first) or the oldest end, messages are taken while they fit; one too large to fit on
 * its own is given as a marker {from, room?, id, ts, truncated:true} without its text, so paging
 * still moves past it. Returns a new array in the rows' order; *cut says the bound left some out.
 */
static json_t *bounded(json_t *rows, bool newest_first, bool *cut)
{
	size_t n = json_array_size(rows), total = 0;
	json_t **msgs = calloc(n ? n : 1, sizeof *msgs);
	*cut = false;
	for (size_t k = 0; msgs && k < n; k++) {
		size_t i = newest_first ? n - 1 - k : k;
		json_t *msg = history_message(json_array_get(rows, i));
		size_t size = json_size(msg) + 1;
		if (size > (size_t)replay_bytes) {
			json_t *marker = json_object();
			json_object_set(marker, "from", json_object_get(msg, "from"));
			if (json_object_get(msg, "room"))
				json_object_set(marker, "room", json_object_get(msg, "room"));
			json_object_set(marker, "id", json_object_get(msg, "id"));
			json_object_set(marker, "ts", json_object_get(msg, "ts"));
			json_object_set_new(marker, "truncated", json_true());
			json_decref(msg);
			msg = marker;
			size = json_size(msg) + 1;
		}
		if (total + size > (size_t)replay_bytes) {
			json_decref(msg);
			*cut = true;
			break;
		}
		total += size;
		msgs[i] = msg;
	}
	json_t *out = json_array();
	for (size_t i = 0; msgs && i < n; i++)
		if (msgs[i])
			json_array_append_new(out, msgs[i]);
	free(msgs);
	return out;
}

/*
 * Sends the last messages of a room ('' for the namespace-wide chat) to one socket as ordinary
 * "chat" events marked {"history":true,"id":..,"ts":..}, so clients that only know the live
 * event still show them: the newest that fit in replay_bytes, oldest first, so that a replay
 * never fills the client's send queue. With since >= 0, the oldest after that id instead.
 */
static void replay(parley_socket *s, const char *room, long long since)
{
	if (!history_replay)
		return;
	/* a client that says which id it has seen gets only what came after it */
	json_t *rows = api->history_page(api->socket_nsp(s), room, 0, since, (int)history_replay);
	bool cut;
	json_t *msgs = bounded(rows, since < 0, &cut);
	json_decref(rows);
	size_t i;
	json_t *msg;
	json_array_foreach(msgs, i, msg) {
		json_object_set_new(msg, "history", json_true());
		emit1(s, "chat", msg);
	}
	json_decref(msgs);
}

/*
 * Refuses what a chat or private message may not be: sent before logging in, or with a text
 * over max_message_bytes. Returns the error to answer, or NULL.
 */
static const char *refused(const struct parley_evt_message *ev)
{
	parley_socket *s = ev->socket;
	if (!api->socket_name(s) && !api->socket_userid(s))
		return "log in first";
	json_t *msg = json_object_get(json_array_get(ev->args, 0), "msg");
	if (msg) {
		size_t len = json_is_string(msg) ? json_string_length(msg) : json_size(msg);
		if ((long long)len > max_message_bytes)
			return message_error;
	}
	return NULL;
}

static bool number_arg(json_t *data, const char *key, long long min, long long *out);

/* What an event does once its application hook agreed; ev is the event as the hook left it. */
typedef enum parley_verdict (*app_body)(struct parley_evt_message *ev);

/*
 * Raises the application hook name for the client event msg, then acts on the verdict: PASS or
 * HANDLED run body with the (possibly rewritten) arguments, DROP answers nothing, REJECT answers
 * the ack with the handler's reject array (by default {ok:false, error:"rejected"}) and
 * DISCONNECT does the same, then disconnects the sender. Without registered handlers the raise
 * returns PASS at once, so this costs a stack struct and one reference.
 */
static enum parley_verdict with_app_hook(struct parley_evt_message *msg, const char *name,
					 app_body body, struct parley_route *route)
{
	parley_socket *s = msg->socket;
	struct parley_evt_message ev = {.size = sizeof ev,
					.route = route,
					.socket = s,
					.name = (char *)name,
					.args = json_incref(msg->args),
					.attachments = msg->attachments,
					.n_attachments = msg->n_attachments,
					.ack_id = msg->ack_id};
	enum parley_verdict v = api->hook_raise(api->socket_nsp(s), &ev);
	switch (v) {
	case PARLEY_PASS:
	case PARLEY_HANDLED:
		/* a handler that disconnected the sender leaves nothing to do */
		if (api->socket_connected(s))
			body(&ev);
		break;
	case PARLEY_DROP: break;
	case PARLEY_REJECT:
	case PARLEY_DISCONNECT:
		if (ev.ack_id >= 0) {
			json_t *dflt = NULL;
			json_t *answer = ev.reject;
			if (!json_is_array(answer))
				answer = dflt = json_pack("[{sbss}]", "ok", 0, "error", "rejected");
			api->ack(s, ev.ack_id, answer, NULL, 0);
			json_decref(dflt);
		}
		if (v == PARLEY_DISCONNECT)
			api->socket_disconnect(s, false);
		break;
	}
	api->message_done(&ev, name);
	if (route) {
		json_decref(route->to_rooms);
		json_decref(route->to_users);
		json_decref(route->skip);
	}
	return PARLEY_HANDLED;
}

/* The chat's value on a socket that has logged in (or recovered a session that had). */
static char logged_in;

static enum parley_verdict login(struct parley_evt_message *ev)
{
	parley_socket *s = ev->socket;
	json_t *data = json_array_get(ev->args, 0);
	json_t *name = json_object_get(data, "name"), *userid = json_object_get(data, "userid");
	if (name && (long long)(json_is_string(name) ? json_string_length(name) : json_size(name)) >
			    max_name_bytes)
		return fail(ev, name_error);
	/* the previous parts, held across the change: a part the login omits keeps its value */
	json_t *old_name = json_incref(api->socket_name(s));
	json_t *old_userid = json_incref(api->socket_userid(s));
	/* history is replayed on the first login only: logging in again is no way to pull it.
	 * The first is remembered, not read from the identity, which an authentication plugin
	 * may have set at connect already. */
	bool first = !api->socket_get_data(s, owner);
	if (first)
		api->socket_set_data(s, owner, &logged_in, NULL);
	int rc = api->socket_set_identity(s, userid ? userid : old_userid, name ? name : old_name);
	json_decref(old_name);
	json_decref(old_userid);
	if (rc) {
		api->log(owner, PARLEY_LOG_DEBUG, "login on %s: identity not set: %s",
			 api->socket_id(s), api->strerror(rc));
		return fail(ev, api->strerror(rc));
	}
	if (json_is_string(name) && api->log_enabled(PARLEY_LOG_INFO)) {
		char *uid = userid ? json_dumps(userid, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
		api->log(owner, PARLEY_LOG_INFO, "login: %s (userid %s) on %s",
			 json_string_value(name), uid ? uid : "-", api->socket_id(s));
		free(uid);
	}
	/* io.emit('login', data.name): everyone, the sender included */
	broadcast1(api->socket_nsp(s), NULL, NULL, "login", name ? name : json_null());
	reply(ev, json_pack("{sb}", "ok", 1));
	long long since = -1;
	if (first && !number_arg(data, "since", 0, &since))
		since = -1;
	if (first)
		replay(s, "", since);
	return PARLEY_HANDLED;
}

static enum parley_verdict on_login(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	return with_app_hook(evt, "login", login, NULL);
}

/* Appends the strings of a (borrowed) JSON array to names, up to cap. Returns the new count. */
static size_t add_names(const char **names, size_t n, size_t cap, const json_t *list)
{
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
		if (json_is_string(v) && n < cap)
			names[n++] = json_string_value(v);
	return n;
}

#define MAX_ROUTE	 64  /* rooms, users' sockets and skipped sockets a hook may add */
#define MAX_PRIVATE 256 /* sockets a private message reaches at most */

/*
 * Delivers name with one argument to a room (NULL: the namespace) but except, plus the route's
 * rooms and users' sockets, minus its skipped sockets. Returns the number of recipients.
 */
static size_t deliver(parley_nsp *nsp, const char *room, parley_socket *except,
		      const struct parley_route *route, const char *name, json_t *arg,
		      parley_binary *const *att, unsigned n_att)
{
	if (!route->to_rooms && !route->to_users && !route->skip)
		return broadcast_binary(nsp, room, except, name, arg, att, n_att);
	const char *rooms[MAX_ROUTE + 1], *skip[MAX_ROUTE];
	size_t n_rooms = 0, n_skip = add_names(skip, 0, MAX_ROUTE, route->skip);
	/* the namespace-wide chat reaches everyone already: extra targets add nobody */
	if (room) {
		rooms[n_rooms++] = room;
		n_rooms = add_names(rooms, n_rooms, MAX_ROUTE + 1, route->to_rooms);
		size_t i;
		json_t *uid;
		json_array_foreach(route->to_users, i, uid) {
			/* a socket's id is a room of its own */
			for (parley_socket *t = api->user_first(nsp, uid); t && n_rooms <= MAX_ROUTE;
			     t = api->user_next(t))
				rooms[n_rooms++] = api->socket_id(t);
		}
	}
	json_t *payload = json_pack("[sO]", name, arg);
	if (!payload)
		return 0;
	struct parley_target t = {.size = sizeof t,
				  .rooms = rooms,
				  .n_rooms = n_rooms,
				  .except_rooms = skip,
				  .n_except = n_skip,
				  .except = except};
	struct parley_message m = {.payload = payload, .attachments = att, .n_attachments = n_att};
	size_t n = api->broadcast(nsp, &t, &m);
	json_decref(payload);
	return n;
}

/* Tells the "stored" application hook (bridges, loggers) of a stored message; notify only. */
static void stored(parley_socket *s, long long id, json_t *out)
{
	if (!api->hook_active(PARLEY_HOOK_APP))
		return;
	json_t *msg = json_copy(out);
	json_object_set_new(msg, "id", json_integer(id));
	struct parley_evt_message ev = {.size = sizeof ev,
					.socket = s,
					.name = (char *)"stored",
					.args = json_pack("[o]", msg),
					.ack_id = -1};
	api->hook_raise(api->socket_nsp(s), &ev);
	api->message_done(&ev, "stored");
}

/* A chat message being stored: the sender is answered when its commit is done. */
struct pending_chat {
	parley_socket *sender; /* a reference, released in chat_stored */
	long long ack_id;      /* the sender's ack id, or -1 */
	size_t delivered;      /* recipients of the live delivery */
	json_t *out;	       /* the message as delivered (a reference) */
};

/* What a failed store's ack says, by the history's error. */
static const char *store_error(long long err)
{
	switch (err) {
	case -ENOSPC: return "storage full";
	case -EBUSY: return "storage busy";
	case -ENOTCONN:
	case -ESHUTDOWN: return "storage unavailable";
	default: return "storage error";
	}
}

/* history_store's callback: answers {ok, id, delivered} once stored, or says it was not. */
static void chat_stored(long long id, void *ud)
{
	struct pending_chat *pc = ud;
	json_t *answer;
	if (id > 0) {
		stored(pc->sender, id, pc->out);
		answer = json_pack("{sbsIsI}", "ok", 1, "id", (json_int_t)id, "delivered",
				   (json_int_t)pc->delivered);
	} else {
		answer = json_pack("{sbsIsbss}", "ok", 1, "delivered", (json_int_t)pc->delivered,
				   "stored", 0, "error", store_error(id));
	}
	if (pc->ack_id >= 0) {
		json_t *args = json_pack("[o]", answer);
		/* fails harmlessly if the sender has gone */
		api->ack(pc->sender, pc->ack_id, args, NULL, 0);
		json_decref(args);
	} else {
		json_decref(answer);
	}
	json_decref(pc->out);
	api->socket_unref(pc->sender);
	free(pc);
}

static enum parley_verdict chat(struct parley_evt_message *ev)
{
	parley_socket *s = ev->socket;
	parley_nsp *nsp = api->socket_nsp(s);
	json_t *data = json_array_get(ev->args, 0);
	json_t *msg = json_object_get(data, "msg");
	json_t *out = json_object();
	json_object_set_new(out, "from", identity(s));
	const char *room =
	    json_is_object(data) && json_object_get(data, "room") ? room_arg(data) : NULL;
	if (json_is_object(data) && json_object_get(data, "room")) {
		if (!room || !api->socket_in(s, room)) {
			json_decref(out);
			return fail(ev, "not in that room");
		}
		json_object_set_new(out, "room", json_string(room));
	}
	if (msg)
		json_object_set(out, "msg", msg);
	const struct parley_route *route = ev->route;
	struct pending_chat *pc = NULL;
	bool store = !route->no_store && store_messages;
	/* the store keeps JSON: a message with binary attachments is relayed, not stored */
	bool binary = ev->n_attachments > 0;
	if (store && !binary) {
		pc = calloc(1, sizeof *pc);
		if (!pc) {
			json_decref(out);
			return fail(ev, "out of memory");
		}
		pc->sender = api->socket_ref(s);
		pc->ack_id = ev->ack_id;
		pc->out = json_incref(out);
		/* committed, and the sender answered, before any frame of this iteration leaves */
		json_t *args = json_pack("[O]", out);
		struct parley_record r = {.size = sizeof r,
					  .nsp = nsp,
					  .room = room,
					  .skip = s,
					  .sender = json_object_get(out, "from"),
					  .event = "chat",
					  .args = args};
		int rc = args ? api->history_record(&r, chat_stored, pc) : -ENOMEM;
		json_decref(args);
		if (rc) {
			api->socket_unref(pc->sender);
			json_decref(pc->out);
			free(pc);
			json_decref(out);
			return fail(ev, "the message could not be stored");
		}
	}
	/* socket.broadcast.emit('chat', ...): everyone (or the room) but the sender, and whoever
	 * the hooks routed it to; live delivery does not wait for, nor depend on, the store */
	size_t n = deliver(nsp, room, s, route, "chat", out, ev->attachments, ev->n_attachments);
	json_decref(out);
	if (pc)
		pc->delivered = n; /* the sender hears it with the id, once the commit is done */
	else if (store)
		reply(ev, json_pack("{sbsIsbss}", "ok", 1, "delivered", (json_int_t)n, "stored", 0,
				    "error", "binary messages are not stored"));
	else
		reply(ev, json_pack("{sbsIsb}", "ok", 1, "delivered", (json_int_t)n, "stored", 0));
	return PARLEY_HANDLED;
}

static enum parley_verdict on_chat(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	const char *err = refused(evt);
	if (err)
		return fail(evt, err);
	struct parley_route route = {.size = sizeof route};
	return with_app_hook(evt, "chat", chat, &route);
}

static enum parley_verdict on_force_disconnect(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	api->socket_disconnect(ev->socket, false);
	return PARLEY_HANDLED;
}

static enum parley_verdict on_join(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	parley_socket *s = ev->socket;
	parley_nsp *nsp = api->socket_nsp(s);
	const char *room = room_arg(json_array_get(ev->args, 0));
	if (!room)
		return fail(ev, room_name_error);
	if (api->nsp_socket(nsp, room))
		return fail(ev, "that name is reserved");
	bool was_in = api->socket_in(s, room);
	const char *err = join_room(s, room);
	if (err)
		return fail(ev, err);
	if (!was_in) {
		json_t *notice = json_pack("{ssso}", "room", room, "user", member(s));
		notify(s, room, "joined", notice);
		json_decref(notice);
	}
	reply(ev, json_pack("{sbssso}", "ok", 1, "room", room, "members", members_of(nsp, room)));
	long long since = -1;
	json_t *arg = json_array_get(ev->args, 0);
	if (!was_in && json_is_object(arg) && !number_arg(arg, "since", 0, &since))
		since = -1;
	if (!was_in)
		replay(s, room, since);
	return PARLEY_HANDLED;
}

static void announce_leave(parley_socket *s, const char *room)
{
	json_t *notice = json_pack("{ssso}", "room", room, "user", member(s));
	notify(s, room, "left", notice);
	json_decref(notice);
}

static enum parley_verdict on_leave(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	parley_socket *s = ev->socket;
	const char *room = room_arg(json_array_get(ev->args, 0));
	if (!room)
		return fail(ev, room_name_error);
	if (!api->socket_in(s, room))
		return fail(ev, "not in that room");
	announce_leave(s, room);
	/* the name may point into the event's arguments, which stay valid */
	api->socket_leave(s, room);
	reply(ev, json_pack("{sbss}", "ok", 1, "room", room));
	return PARLEY_HANDLED;
}

static enum parley_verdict on_members(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	const char *room = room_arg(json_array_get(ev->args, 0));
	if (!room)
		return fail(ev, room_name_error);
	/* who is in a room is for its members: a private room's list is not for everyone */
	if (!api->socket_in(ev->socket, room))
		return fail(ev, "not in that room");
	reply(ev, json_pack("{sbssso}", "ok", 1, "room", room, "members",
			    members_of(api->socket_nsp(ev->socket), room)));
	return PARLEY_HANDLED;
}

/* A private message whose sender asked for confirmation: counts the recipients' acks. */
struct receipt {
	parley_socket *sender; /* a reference, released when the sender is answered */
	long long ack_id;      /* the sender's ack id */
	size_t delivered;      /* recipients the message was sent to */
	size_t confirmed;      /* recipients that acknowledged it */
	size_t pending;	       /* acks still awaited, plus one while sending */
};

static void receipt_done(struct receipt *r)
{
	if (--r->pending)
		return;
	json_t *args = json_pack("[{sbsIsI}]", "ok", 1, "delivered", (json_int_t)r->delivered,
				 "confirmed", (json_int_t)r->confirmed);
	api->ack(r->sender, r->ack_id, args, NULL, 0); /* fails harmlessly if the sender has gone */
	json_decref(args);
	api->socket_unref(r->sender);
	free(r);
}

static void receipt_ack(parley_socket *recipient, json_t *args, void *ud)
{
	(void)recipient;
	struct receipt *r = ud;
	if (args)
		r->confirmed++;
	receipt_done(r);
}

static bool listed(parley_socket *const *list, size_t n, const parley_socket *s)
{
	for (size_t i = 0; i < n; i++)
		if (list[i] == s)
			return true;
	return false;
}

/* True if the route's skip list names s by its socket id. */
static bool skipped(const struct parley_route *route, const parley_socket *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(route->skip, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), api->socket_id(s)) == 0)
			return true;
	return false;
}

/*
 * In a cluster, sends a private message on to the other nodes: a broadcast to the rooms of
 * its users (PARLEY_USER_ROOM), which no socket joins here, so it is published and delivered
 * elsewhere only. The route's skipped sockets are skipped there too. True if it was sent.
 */
static bool forward_private(parley_nsp *nsp, const json_t *to, const struct parley_route *route,
			    const struct parley_message *m)
{
	const char *rooms[MAX_ROUTE + 1], *skip[MAX_ROUTE];
	char *names[MAX_ROUTE + 1];
	size_t n_rooms = 0, n_skip = add_names(skip, 0, MAX_ROUTE, route->skip);
	for (size_t u = 0; u <= json_array_size(route->to_users) && n_rooms <= MAX_ROUTE; u++) {
		const json_t *uid = u == 0 ? to : json_array_get(route->to_users, u - 1);
		char *text = json_dumps(uid, JSON_COMPACT | JSON_ENCODE_ANY);
		size_t len = text ? strlen(PARLEY_USER_ROOM) + strlen(text) + 1 : 0;
		char *name = text ? malloc(len) : NULL;
		if (name) {
			snprintf(name, len, "%s%s", PARLEY_USER_ROOM, text);
			names[n_rooms] = name;
			rooms[n_rooms++] = name;
		}
		free(text);
	}
	struct parley_target t = {.size = sizeof t,
				  .rooms = rooms,
				  .n_rooms = n_rooms,
				  .except_rooms = skip,
				  .n_except = n_skip};
	if (n_rooms)
		api->broadcast(nsp, &t, m);
	for (size_t i = 0; i < n_rooms; i++)
		free(names[i]);
	return n_rooms > 0;
}

static enum parley_verdict private_message(struct parley_evt_message *ev)
{
	parley_socket *s = ev->socket;
	json_t *data = json_array_get(ev->args, 0);
	json_t *to = json_object_get(data, "to");
	const struct parley_route *route = ev->route;
	if (!to || json_is_null(to))
		return fail(ev, "a recipient userid is required");
	/* with confirm, recipients are asked to ack and the sender hears how many did */
	struct receipt *r = NULL;
	if (json_is_true(json_object_get(data, "confirm")) && ev->ack_id >= 0) {
		r = calloc(1, sizeof *r);
		if (!r)
			return fail(ev, "out of memory");
		r->sender = api->socket_ref(s);
		r->ack_id = ev->ack_id;
		r->pending = 1;
	}
	json_t *out = json_object();
	json_object_set_new(out, "from", identity(s));
	json_t *msg = json_object_get(data, "msg");
	if (msg)
		json_object_set(out, "msg", msg);
	json_t *payload = json_pack("[sO]", "private", out);
	json_decref(out);
	struct parley_message m = {.payload = payload};
	if (!route->no_store && store_messages) {
		/* stored before it is sent: history keeps it, and a recipient that reconnects having
		 * missed it gets it back; its ack does not wait for the commit */
		json_t *args = json_pack("[O]", json_array_get(payload, 1));
		struct parley_record rec = {.size = sizeof rec,
					    .nsp = api->socket_nsp(s),
					    .recipient = to,
					    .skip = s,
					    .sender = json_object_get(json_array_get(payload, 1), "from"),
					    .event = "private",
					    .args = args};
		if (args)
			api->history_record(&rec, NULL, NULL);
		json_decref(args);
	}
	/* every socket logged in with that userid, and with the users the hooks added, but the
	 * skipped ones; collected first, since an emit may disconnect a socket */
	parley_nsp *nsp = api->socket_nsp(s);
	parley_socket *targets[MAX_PRIVATE];
	size_t n_targets = 0, n = 0;
	for (size_t u = 0; u <= json_array_size(route->to_users); u++) {
		json_t *uid = u == 0 ? to : json_array_get(route->to_users, u - 1);
		for (parley_socket *t = api->user_first(nsp, uid); t && n_targets < MAX_PRIVATE;
		     t = api->user_next(t))
			if (!listed(targets, n_targets, t) && !skipped(route, t))
				targets[n_targets++] = api->socket_ref(t);
	}
	for (size_t i = 0; i < n_targets; i++) {
		if (api->emit(targets[i], &m, r ? receipt_ack : NULL, r) == 0) {
			n++;
			if (r) {
				r->delivered++;
				r->pending++;
			}
		}
		api->socket_unref(targets[i]);
	}
	bool forwarded = clustered && forward_private(nsp, to, route, &m);
	json_decref(payload);
	if (n == 0 && forwarded) {
		/* the recipient may be on another node: nobody here is no error */
		if (r) {
			api->socket_unref(r->sender);
			free(r);
		}
		reply(ev, json_pack("{sbsI}", "ok", 1, "delivered", (json_int_t)0));
		return PARLEY_HANDLED;
	}
	if (n == 0) {
		if (r) {
			api->socket_unref(r->sender);
			free(r);
		}
		return fail(ev, "no such user online");
	}
	if (r)
		receipt_done(r); /* the sender is answered once every recipient has */
	else
		reply(ev, json_pack("{sbsI}", "ok", 1, "delivered", (json_int_t)n));
	return PARLEY_HANDLED;
}

static enum parley_verdict on_private(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	const char *err = refused(evt);
	if (err)
		return fail(evt, err);
	struct parley_route route = {.size = sizeof route};
	return with_app_hook(evt, "private", private_message, &route);
}

static enum parley_verdict on_rooms(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	json_t *list = json_array();
	size_t n = api->socket_room_count(ev->socket);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_string(api->socket_room_at(ev->socket, i)));
	reply(ev, json_pack("{sbso}", "ok", 1, "rooms", list));
	return PARLEY_HANDLED;
}

/* Reads an optional whole-number field of at least min; false when present and invalid. */
static bool number_arg(json_t *data, const char *key, long long min, long long *out)
{
	json_t *v = json_object_get(data, key);
	if (!v)
		return true;
	double d = json_number_value(v);
	if (!json_is_number(v) || d < (double)min || d > 9007199254740991.0 ||
	    d != (double)(long long)d)
		return false;
	*out = (long long)d;
	return true;
}

/*
 * history {room?, before?, since?, limit?}: a page of stored messages of a room the socket is
 * in (or of the namespace-wide chat without room), oldest first. before pages back from an id,
 * since forward from one; without either, the newest.
 */
static enum parley_verdict on_history(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	parley_socket *s = ev->socket;
	json_t *data = json_array_get(ev->args, 0);
	const char *room = "";
	if (json_object_get(data, "room")) {
		room = room_arg(data);
		if (!room || !api->socket_in(s, room))
			return fail(ev, "not in that room");
	}
	long long before = 0, since = -1, limit = 50;
	if (!number_arg(data, "before", 1, &before) || !number_arg(data, "since", 0, &since) ||
	    !number_arg(data, "limit", 1, &limit))
		return fail(ev, "before, since and limit are whole numbers");
	if (json_object_get(data, "before") && json_object_get(data, "since"))
		return fail(ev, "ask for before or since, not both");
	if (limit > 100)
		limit = 100;
	json_t *rows = api->history_page(api->socket_nsp(s), room, before, since, (int)limit);
	if (!rows)
		return fail(ev, "the history cannot be read now");
	/* within replay_bytes: paging back keeps the newest, paging forward the oldest */
	bool cut;
	json_t *messages = bounded(rows, since < 0, &cut);
	bool more = cut || (long long)json_array_size(rows) == limit;
	json_decref(rows);
	reply(ev, json_pack("{sbsssosb}", "ok", 1, "room", room, "messages", messages, "more",
			    more));
	return PARLEY_HANDLED;
}

/* Acknowledges with the arguments as sent: a round trip for clients and benchmarks. */
static enum parley_verdict on_echo(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	if (ev->ack_id >= 0)
		api->ack(ev->socket, ev->ack_id, ev->args, ev->attachments, ev->n_attachments);
	return PARLEY_HANDLED;
}

/* A socket leaving "/": the members of each of its rooms (still readable here) hear it left. */
static enum parley_verdict on_disconnect(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_socket *e = evt;
	parley_socket *s = e->socket;
	size_t n = api->socket_room_count(s);
	for (size_t i = 0; i < n; i++)
		announce_leave(s, api->socket_room_at(s, i));
	json_t *name = api->socket_name(s);
	api->log(owner, PARLEY_LOG_INFO, "user disconnected: %s (%s)",
		 json_is_string(name) ? json_string_value(name) : "-", e->reason ? e->reason : "-");
	return PARLEY_PASS;
}

/* A socket that recovered its session is back in its rooms: their members hear it joined. */
static enum parley_verdict on_connected(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_socket *e = evt;
	parley_socket *s = e->socket;
	if (!api->socket_recovered(s))
		return PARLEY_PASS;
	/* a session that had logged in does not get the history again on a later login */
	if (api->socket_name(s) || api->socket_userid(s))
		api->socket_set_data(s, owner, &logged_in, NULL);
	size_t n = api->socket_room_count(s);
	for (size_t i = 0; i < n; i++) {
		const char *room = api->socket_room_at(s, i);
		json_t *notice = json_pack("{ssso}", "room", room, "user", member(s));
		notify(s, room, "joined", notice);
		json_decref(notice);
	}
	return PARLEY_PASS;
}

/* The tutorial's rooms example on /chat. */
static enum parley_verdict on_chat_message(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	parley_socket *s = ev->socket;
	json_t *data = json_array_get(ev->args, 0);
	const char *room = room_arg(data);
	if (!room)
		return fail(ev, room_name_error);
	const char *err = join_room(s, room);
	if (err)
		return fail(ev, err);
	json_t *msg = json_object_get(data, "msg");
	broadcast_binary(api->socket_nsp(s), room, NULL, "chat message", msg ? msg : json_null(),
			 ev->attachments, ev->n_attachments);
	return PARLEY_HANDLED;
}

int pl_app_chat_init(const struct parley_api *table, parley_owner *self)
{
	static const struct {
		const char *nsp;
		const char *event;
		parley_hook_fn fn;
	} events[] = {
	    {"/", "login", on_login},
	    {"/", "chat", on_chat},
	    {"/", "forceDisconnect", on_force_disconnect},
	    {"/", "join", on_join},
	    {"/", "leave", on_leave},
	    {"/", "members", on_members},
	    {"/", "private", on_private},
	    {"/", "rooms", on_rooms},
	    {"/", "echo", on_echo},
	    {"/", "history", on_history},
	    {"/chat", "chat message", on_chat_message},
	    {"/chat", "echo", on_echo},
	};
	api = table;
	owner = self;
	max_room_name = api->config_number("max-room-name", MAX_ROOM_NAME);
	history_replay = api->config_number("history-replay", HISTORY_REPLAY);
	replay_bytes = api->config_number("history-replay-bytes", REPLAY_BYTES);
	max_message_bytes = api->config_number("max-message-bytes", MESSAGE_BYTES);
	max_name_bytes = api->config_number("max-name-bytes", NAME_BYTES);
	store_messages = api->config_number("history", 1) != 0;
	clustered = api->config_string("redis-prefix") != NULL;
	snprintf(message_error, sizeof message_error, "message too long (max %lld bytes)",
		 max_message_bytes);
	snprintf(name_error, sizeof name_error, "name too long (max %lld bytes)", max_name_bytes);
	snprintf(room_name_error, sizeof room_name_error,
		 "a room name of 1 to %lld characters is required", max_room_name);
	/* both namespaces exist from the start, so that clients can connect to them */
	if (!api->nsp_get("/", true) || !api->nsp_get("/chat", true))
		return -ENOMEM;
	for (size_t i = 0; i < sizeof events / sizeof *events; i++) {
		int rc = api->hook_add(owner, PARLEY_HOOK_EVENT, events[i].nsp, events[i].event,
				       PARLEY_PRIO_APP, events[i].fn, NULL);
		if (rc)
			return rc;
	}
	int rc = api->hook_add(owner, PARLEY_HOOK_CONNECTED, "/", NULL, PARLEY_PRIO_APP,
			       on_connected, NULL);
	return rc ? rc : api->hook_add(owner, PARLEY_HOOK_DISCONNECT, "/", NULL, PARLEY_PRIO_APP,
				       on_disconnect, NULL);
}
