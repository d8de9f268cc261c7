/*
 * The chat application. On "/", the classic Express + Socket.IO tutorial (login, chat,
 * forceDisconnect) extended with rooms, private messages and member lists, documented in the
 * README. On "/chat", the tutorial's rooms example ("chat message"). Every event is an ordinary
 * handler on the namespace's dispatch point, as plugins and scripts will be.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "apps.h"
#include "history.h"
#include "json.h"
#include "log.h"
#include "server.h"
#include "sio.h"

#define MAX_ROOM_NAME 128
#define MAX_ROOMS 1000 /* rooms one socket may be in: a client cannot grow the server at will */

/* The sender's identity as the tutorial sends it: {name, userid}, absent fields omitted. */
static json_t *identity(struct pl_socket *s)
{
	json_t *o = json_object();
	json_t *name = json_object_get(s->data, "name"), *userid = json_object_get(s->data, "userid");
	if (name)
		json_object_set(o, "name", name);
	if (userid)
		json_object_set(o, "userid", userid);
	return o;
}

/* {id, name, userid} of a member, for member lists and join/leave notices. */
static json_t *member(struct pl_socket *s)
{
	json_t *o = identity(s);
	json_object_set_new(o, "id", json_string(s->id));
	return o;
}

/* Answers the event's ack, if the client asked for one, with a single argument (stolen). */
static void reply(struct pl_event *ev, json_t *answer)
{
	if (ev->ack_id >= 0) {
		json_t *args = json_pack("[O]", answer);
		pl_socket_ack(ev->socket, ev->ack_id, args, NULL, 0);
		json_decref(args);
	}
	json_decref(answer);
}

static enum pl_verdict fail(struct pl_event *ev, const char *error)
{
	reply(ev, json_pack("{sbss}", "ok", 0, "error", error));
	return PL_DONE;
}

/* The room named by an argument that is either "room" or {room: "room"}; NULL if invalid. */
static const char *room_arg(json_t *arg)
{
	json_t *r = json_is_object(arg) ? json_object_get(arg, "room") : arg;
	const char *name = json_string_value(r);
	if (!name || !*name || strlen(name) > MAX_ROOM_NAME)
		return NULL;
	return name;
}

/* Joins room within the per-socket cap. Returns NULL, or the error to answer. */
static const char *join_capped(struct pl_socket *s, const char *room)
{
	if (!pl_socket_in(s, room) && s->n_rooms >= MAX_ROOMS)
		return "too many rooms";
	return pl_socket_join(s, room) ? "cannot join now" : NULL;
}

static json_t *members_of(struct pl_nsp *nsp, const char *room)
{
	json_t *list = json_array();
	struct pl_room *r = pl_nsp_room(nsp, room);
	for (size_t i = 0; r && i < r->n; i++)
		json_array_append_new(list, member(r->members[i]));
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

/*
 * Sends the last messages of a room ('' for the namespace-wide chat) to one socket as ordinary
 * "chat" events marked {"history":true,"id":..,"ts":..}, so clients that only know the live
 * event still show them.
 */
static void replay(struct pl_server *srv, struct pl_socket *s, const char *room)
{
	if (!srv->cfg->history_replay)
		return;
	json_t *rows = pl_history_page(srv->history, pl_nsp_name(s->nsp), room, 0, -1,
				       (int)srv->cfg->history_replay);
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row) {
		json_t *msg = history_message(row);
		json_object_set_new(msg, "history", json_true());
		pl_socket_emit1(s, "chat", msg);
		json_decref(msg);
	}
	json_decref(rows);
}

static enum pl_verdict on_login(struct pl_event *ev, void *ud)
{
	struct pl_server *srv = ud;
	struct pl_socket *s = ev->socket;
	json_t *data = json_array_get(ev->args, 0);
	json_t *name = json_object_get(data, "name"), *userid = json_object_get(data, "userid");
	json_t *sd = pl_socket_data(s);
	/* history is replayed on the first login only: logging in again is no way to pull it */
	bool first = !json_object_get(sd, "name") && !json_object_get(sd, "userid");
	if (name)
		json_object_set(sd, "name", name);
	if (userid)
		json_object_set(sd, "userid", userid);
	if (json_is_string(name) && pl_log_enabled(PL_LOG_INFO)) {
		struct pl_sbuf uid = {0};
		if (userid)
			pl_json_write(&uid, userid);
		pl_info("login: %s (userid %s) on %s", json_string_value(name),
			uid.data ? uid.data : "-", s->id);
		pl_sbuf_close(&uid);
	}
	/* io.emit('login', data.name): everyone, the sender included */
	pl_nsp_emit1(s->nsp, NULL, NULL, "login", name ? name : json_null());
	reply(ev, json_pack("{sb}", "ok", 1));
	if (first)
		replay(srv, s, "");
	return PL_DONE;
}

static enum pl_verdict on_chat(struct pl_event *ev, void *ud)
{
	struct pl_server *srv = ud;
	struct pl_socket *s = ev->socket;
	json_t *data = json_array_get(ev->args, 0);
	json_t *msg = json_object_get(data, "msg");
	json_t *out = json_object();
	json_object_set_new(out, "from", identity(s));
	const char *room = json_is_object(data) && json_object_get(data, "room")
				   ? room_arg(data)
				   : NULL;
	if (json_is_object(data) && json_object_get(data, "room")) {
		if (!room || !pl_socket_in(s, room)) {
			json_decref(out);
			return fail(ev, "not in that room");
		}
		json_object_set_new(out, "room", json_string(room));
	}
	if (msg)
		json_object_set(out, "msg", msg);
	/* stored (and committed before any frame leaves) before it is delivered */
	long long id = pl_history_append(srv->history, pl_nsp_name(s->nsp), room,
					 json_object_get(out, "from"), "chat", out);
	if (id < 0) {
		json_decref(out);
		return fail(ev, "the message could not be stored");
	}
	/* socket.broadcast.emit('chat', ...): everyone but the sender (or the room but the sender) */
	size_t n = pl_nsp_emit1(s->nsp, room, s, "chat", out);
	json_decref(out);
	reply(ev, json_pack("{sbsIsI}", "ok", 1, "id", (json_int_t)id, "delivered", (json_int_t)n));
	return PL_DONE;
}

static enum pl_verdict on_force_disconnect(struct pl_event *ev, void *ud)
{
	(void)ud;
	pl_socket_disconnect(ev->socket, false);
	return PL_DONE;
}

static enum pl_verdict on_join(struct pl_event *ev, void *ud)
{
	struct pl_server *srv = ud;
	struct pl_socket *s = ev->socket;
	const char *room = room_arg(json_array_get(ev->args, 0));
	if (!room)
		return fail(ev, "a room name of 1 to 128 characters is required");
	if (pl_nsp_socket(s->nsp, room))
		return fail(ev, "that name is reserved");
	bool was_in = pl_socket_in(s, room);
	const char *err = join_capped(s, room);
	if (err)
		return fail(ev, err);
	if (!was_in) {
		json_t *notice = json_pack("{ssso}", "room", room, "user", member(s));
		pl_nsp_emit1(s->nsp, room, s, "joined", notice);
		json_decref(notice);
	}
	reply(ev, json_pack("{sbssso}", "ok", 1, "room", room, "members", members_of(s->nsp, room)));
	if (!was_in)
		replay(srv, s, room);
	return PL_DONE;
}

static void announce_leave(struct pl_socket *s, const char *room)
{
	json_t *notice = json_pack("{ssso}", "room", room, "user", member(s));
	pl_nsp_emit1(s->nsp, room, s, "left", notice);
	json_decref(notice);
}

static enum pl_verdict on_leave(struct pl_event *ev, void *ud)
{
	(void)ud;
	struct pl_socket *s = ev->socket;
	const char *room = room_arg(json_array_get(ev->args, 0));
	if (!room)
		return fail(ev, "a room name of 1 to 128 characters is required");
	if (!pl_socket_in(s, room))
		return fail(ev, "not in that room");
	announce_leave(s, room);
	/* the name may point into the event's arguments, which stay valid */
	pl_socket_leave(s, room);
	reply(ev, json_pack("{sbss}", "ok", 1, "room", room));
	return PL_DONE;
}

static enum pl_verdict on_members(struct pl_event *ev, void *ud)
{
	(void)ud;
	struct pl_socket *s = ev->socket;
	const char *room = room_arg(json_array_get(ev->args, 0));
	if (!room)
		return fail(ev, "a room name of 1 to 128 characters is required");
	reply(ev, json_pack("{sbssso}", "ok", 1, "room", room, "members", members_of(s->nsp, room)));
	return PL_DONE;
}

/* A private message whose sender asked for confirmation: counts the recipients' acks. */
struct receipt {
	struct pl_socket *sender; /* a reference, released when the sender is answered */
	long long ack_id;	  /* the sender's ack id */
	size_t delivered;	  /* recipients the message was sent to */
	size_t confirmed;	  /* recipients that acknowledged it */
	size_t pending;		  /* acks still awaited, plus one while sending */
};

static void receipt_done(struct receipt *r)
{
	if (--r->pending)
		return;
	json_t *args = json_pack("[{sbsIsI}]", "ok", 1, "delivered", (json_int_t)r->delivered,
				 "confirmed", (json_int_t)r->confirmed);
	pl_socket_ack(r->sender, r->ack_id, args, NULL, 0); /* a no-op if the sender has gone */
	json_decref(args);
	pl_socket_unref(r->sender);
	free(r);
}

static void receipt_ack(struct pl_socket *recipient, json_t *args, void *ud)
{
	(void)recipient;
	struct receipt *r = ud;
	if (args)
		r->confirmed++;
	receipt_done(r);
}

static enum pl_verdict on_private(struct pl_event *ev, void *ud)
{
	(void)ud;
	struct pl_socket *s = ev->socket;
	json_t *data = json_array_get(ev->args, 0);
	json_t *to = json_object_get(data, "to");
	if (!to || json_is_null(to))
		return fail(ev, "a recipient userid is required");
	/* with confirm, recipients are asked to ack and the sender hears how many did */
	struct receipt *r = NULL;
	if (json_is_true(json_object_get(data, "confirm")) && ev->ack_id >= 0) {
		r = calloc(1, sizeof *r);
		if (!r)
			return fail(ev, "out of memory");
		r->sender = pl_socket_ref(s);
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
	struct pl_message m = {.payload = payload};
	size_t n = 0;
	for (size_t i = 0; i < pl_nsp_count(s->nsp); i++) {
		struct pl_socket *t = pl_nsp_socket_at(s->nsp, i);
		if (!json_equal(json_object_get(t->data, "userid"), to))
			continue;
		if (pl_socket_emit(t, &m, r ? receipt_ack : NULL, r) == 0) {
			n++;
			if (r) {
				r->delivered++;
				r->pending++;
			}
		}
	}
	json_decref(payload);
	if (n == 0) {
		if (r) {
			pl_socket_unref(r->sender);
			free(r);
		}
		return fail(ev, "no such user online");
	}
	if (r)
		receipt_done(r); /* the sender is answered once every recipient has */
	else
		reply(ev, json_pack("{sbsI}", "ok", 1, "delivered", (json_int_t)n));
	return PL_DONE;
}

static enum pl_verdict on_rooms(struct pl_event *ev, void *ud)
{
	(void)ud;
	json_t *list = json_array();
	for (size_t i = 0; i < ev->socket->n_rooms; i++)
		json_array_append_new(list, json_string(ev->socket->rooms[i].room->name));
	reply(ev, json_pack("{sbso}", "ok", 1, "rooms", list));
	return PL_DONE;
}

/* Reads an optional whole-number field of at least min; false when present and invalid. */
static bool number_arg(json_t *data, const char *key, long long min, long long *out)
{
	json_t *v = json_object_get(data, key);
	if (!v)
		return true;
	double d = json_number_value(v);
	if (!json_is_number(v) || d < (double)min || d > 9007199254740991.0 || d != (double)(long long)d)
		return false;
	*out = (long long)d;
	return true;
}

/*
 * history {room?, before?, since?, limit?}: a page of stored messages of a room the socket is
 * in (or of the namespace-wide chat without room), oldest first. before pages back from an id,
 * since forward from one; without either, the newest.
 */
static enum pl_verdict on_history(struct pl_event *ev, void *ud)
{
	struct pl_server *srv = ud;
	struct pl_socket *s = ev->socket;
	json_t *data = json_array_get(ev->args, 0);
	const char *room = "";
	if (json_object_get(data, "room")) {
		room = room_arg(data);
		if (!room || !pl_socket_in(s, room))
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
	json_t *rows = pl_history_page(srv->history, pl_nsp_name(s->nsp), room, before, since,
				       (int)limit);
	if (!rows)
		return fail(ev, "the history cannot be read now");
	json_t *messages = json_array();
	size_t i;
	json_t *row;
	json_array_foreach(rows, i, row)
		json_array_append_new(messages, history_message(row));
	json_decref(rows);
	reply(ev, json_pack("{sbssso}", "ok", 1, "room", room, "messages", messages));
	return PL_DONE;
}

/* Acknowledges with the arguments as sent: a round trip for clients and benchmarks. */
static enum pl_verdict on_echo(struct pl_event *ev, void *ud)
{
	(void)ud;
	if (ev->ack_id >= 0)
		pl_socket_ack(ev->socket, ev->ack_id, ev->args, ev->attachments, ev->n_attachments);
	return PL_DONE;
}

static void on_disconnect(struct pl_socket *s, const char *reason, void *ud)
{
	(void)ud;
	for (size_t i = 0; i < s->n_rooms; i++)
		announce_leave(s, s->rooms[i].room->name);
	json_t *name = json_object_get(s->data, "name");
	pl_info("user disconnected: %s (%s)", json_is_string(name) ? json_string_value(name) : "-",
		reason);
}

/* The tutorial's rooms example on /chat. */
static enum pl_verdict on_chat_message(struct pl_event *ev, void *ud)
{
	(void)ud;
	struct pl_socket *s = ev->socket;
	json_t *data = json_array_get(ev->args, 0);
	const char *room = room_arg(data);
	if (!room)
		return fail(ev, "a room name of 1 to 128 characters is required");
	const char *err = join_capped(s, room);
	if (err)
		return fail(ev, err);
	json_t *msg = json_object_get(data, "msg");
	pl_nsp_emit1(s->nsp, room, NULL, "chat message", msg ? msg : json_null());
	return PL_DONE;
}

int pl_app_chat_init(struct pl_server *srv)
{
	static const struct {
		const char *event;
		pl_event_fn fn;
	} events[] = {
		{"login", on_login},	 {"chat", on_chat},	  {"forceDisconnect", on_force_disconnect},
		{"join", on_join},	 {"leave", on_leave},	  {"members", on_members},
		{"private", on_private}, {"rooms", on_rooms},	  {"echo", on_echo},
		{"history", on_history},
	};
	struct pl_nsp *root = pl_sio_nsp(srv, "/", true), *chat = pl_sio_nsp(srv, "/chat", true);
	if (!root || !chat)
		return -1;
	for (size_t i = 0; i < sizeof events / sizeof *events; i++)
		if (pl_nsp_on_event(root, events[i].event, 100, events[i].fn, srv))
			return -1;
	if (pl_nsp_on_disconnect(root, 100, on_disconnect, NULL) ||
	    pl_nsp_on_event(chat, "chat message", 100, on_chat_message, NULL) ||
	    pl_nsp_on_event(chat, "echo", 100, on_echo, NULL))
		return -1;
	return 0;
}
