/*
 * Sockets (see socket.h). A socket is created when its CONNECT arrives, filed in its namespace
 * once the connect hooks agree, and taken out once; references keep the object for callers that
 * outlive the connection (an ack awaited for a sender who left).
 */
#include "socket.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ack.h"
#include "adapter.h"
#include "clock.h"
#include "client.h"
#include "error.h"
#include "hooks.h"
#include "json.h"
#include "rand.h"
#include "server.h"
#include "sio_codec.h"

long long pl_socket_offset(const struct pl_sio *sio)
{
	return sio->recovery ? sio->recovery->offset(sio->recovery_ud) : 0;
}

void pl_socket_save(struct pl_socket *s)
{
	struct pl_sio *sio = s->nsp->sio;
	if (sio->recovery && s->pid[0] && s->state == PL_SOCKET_CONNECTED)
		sio->recovery->save(sio->recovery_ud, s);
}

/* The reasons after which a client may recover its session, as in the reference server. */
static bool recoverable(const char *reason)
{
	static const char *const reasons[] = {"transport error", "transport close", "forced close",
					      "ping timeout", "server shutting down"};
	for (size_t i = 0; reason && i < sizeof reasons / sizeof *reasons; i++)
		if (strcmp(reason, reasons[i]) == 0)
			return true;
	return false;
}

json_t *pl_socket_with_offset(const struct pl_sio *sio, json_t *payload, long long offset)
{
	if (!sio->recovery)
		return NULL;
	char text[24];
	pl_json_format_int(offset, text);
	json_t *out = json_copy(payload);
	if (!out || json_array_append_new(out, json_string(text))) {
		json_decref(out);
		return NULL;
	}
	return out;
}

struct pl_socket *pl_socket_new(struct pl_nsp *nsp, struct pl_client *c, json_t *auth)
{
	struct pl_socket *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	do
		pl_random_id(s->id);
	while (pl_map_get(&nsp->sockets, s->id));
	s->nsp = nsp;
	s->client = c;
	s->refs = 1;
	s->state = PL_SOCKET_CONNECTING;
	s->auth = auth ? json_incref(auth) : NULL;
	s->issued_ms = pl_wall_ms();
	if (nsp->sio->recovery && c->sink == &pl_eio_sink)
		pl_random_id(s->pid); /* bots have no connection to lose */
	return s;
}

int pl_socket_attach(struct pl_socket *s)
{
	int rc = pl_nsp_add(s->nsp, s);
	if (rc)
		return rc;
	s->next_in_client = s->client->sockets;
	s->client->sockets = s;
	s->state = PL_SOCKET_CONNECTED;
	s->since = pl_socket_offset(s->nsp->sio);
	pl_socket_save(s);
	return 0;
}

struct pl_socket *pl_socket_ref(struct pl_socket *s)
{
	s->refs++;
	return s;
}

static void drop_slots(struct pl_socket *s)
{
	while (s->slots) {
		struct pl_slot *sl = s->slots;
		s->slots = sl->next;
		if (sl->free_fn)
			sl->free_fn(sl->data);
		free(sl);
	}
}

void pl_socket_unref(struct pl_socket *s)
{
	if (--s->refs)
		return;
	/* a socket that never connected may have been given an identity (a CONNECT hook) */
	pl_nsp_user_forget(s);
	drop_slots(s);
	json_decref(s->auth);
	json_decref(s->userid);
	json_decref(s->name);
	free(s->rooms);
	free(s);
}

static struct pl_hooks *hooks_of(const struct pl_socket *s)
{
	return s->nsp->sio->hooks;
}

/* Tells the LEAVE hooks that s left room. */
static void left_room(struct pl_socket *s, const char *room, void *ud)
{
	(void)ud;
	struct parley_evt_room ev = {.size = sizeof ev, .socket = (parley_socket *)s, .room = room};
	pl_hooks_run(hooks_of(s), PARLEY_HOOK_LEAVE, s->nsp->name, &ev);
}

void pl_socket_remove(struct pl_socket *s, const char *reason)
{
	if (s->state != PL_SOCKET_CONNECTED)
		return;
	struct pl_nsp *nsp = s->nsp;
	struct pl_hooks *hooks = hooks_of(s);
	s->refs++;
	/* handlers still see the rooms, as in the reference server's "disconnecting" */
	if (pl_hooks_active(hooks, PARLEY_HOOK_DISCONNECT)) {
		struct parley_evt_socket ev = {
			.size = sizeof ev, .socket = (parley_socket *)s, .reason = reason};
		pl_hooks_run(hooks, PARLEY_HOOK_DISCONNECT, nsp->name, &ev);
	}
	if (nsp->sio->recovery && s->pid[0])
		nsp->sio->recovery->end(nsp->sio->recovery_ud, s, recoverable(reason));
	s->state = PL_SOCKET_GONE;
	nsp->adapter->ops->del_all(nsp->adapter, s,
				   pl_hooks_active(hooks, PARLEY_HOOK_LEAVE) ? left_room : NULL, NULL);
	/* acks still awaited will not come: their callers hear "no answer" now */
	pl_ack_cancel_all(s);
	drop_slots(s);
	pl_nsp_user_forget(s);
	pl_nsp_del(nsp, s);
	for (struct pl_socket **p = &s->client->sockets; *p; p = &(*p)->next_in_client) {
		if (*p == s) {
			*p = s->next_in_client;
			break;
		}
	}
	s->refs--; /* the namespace's reference; ours, taken above, keeps s alive */
	pl_socket_unref(s);
}

void pl_socket_disconnect(struct pl_socket *s, bool close)
{
	if (s->state != PL_SOCKET_CONNECTED)
		return;
	struct pl_client *c = s->client;
	struct pl_frame *f = pl_packet_frame(s->nsp->name, PL_SIO_DISCONNECT, -1, NULL, 0);
	if (f) {
		pl_client_send(c, f, NULL, 0);
		pl_frame_unref(f);
	}
	pl_socket_remove(s, "server namespace disconnect");
	if (close)
		pl_client_close(c, "forced close", true);
}

bool pl_socket_in(const struct pl_socket *s, const char *room)
{
	return pl_adapter_in(s, room);
}

int pl_socket_join(struct pl_socket *s, const char *room)
{
	if (s->state != PL_SOCKET_CONNECTED)
		return -EPIPE;
	struct pl_sio *sio = s->nsp->sio;
	size_t len = strlen(room);
	if (len == 0 || len > sio->max_room_name)
		return PL_EROOMNAME;
	/* a user's room across a cluster is reached through the user index, never joined */
	if (strncmp(room, PARLEY_USER_ROOM, strlen(PARLEY_USER_ROOM)) == 0)
		return PL_EROOMNAME;
	if (pl_socket_in(s, room))
		return 0;
	if (s->n_rooms >= sio->max_rooms)
		return PL_ETOOMANYROOMS;
	if (pl_hooks_active(sio->hooks, PARLEY_HOOK_JOIN)) {
		struct parley_evt_room ev = {.size = sizeof ev, .socket = (parley_socket *)s, .room = room};
		s->refs++;
		enum parley_verdict v = pl_hooks_run(sio->hooks, PARLEY_HOOK_JOIN, s->nsp->name, &ev);
		bool gone = s->state != PL_SOCKET_CONNECTED;
		pl_socket_unref(s);
		if (gone)
			return -EPIPE;
		if (v == PARLEY_DISCONNECT)
			pl_socket_disconnect(s, false);
		if (v != PARLEY_PASS && v != PARLEY_HANDLED)
			return PL_EREFUSED;
		/* a hook may have joined it, or filled the socket's rooms */
		if (pl_socket_in(s, room))
			return 0;
		if (s->n_rooms >= sio->max_rooms)
			return PL_ETOOMANYROOMS;
	}
	int rc = s->nsp->adapter->ops->add(s->nsp->adapter, s, room);
	if (rc == 0 && sio->recovery) {
		/* the adapter appends the membership; packets of the room before it are not s's */
		s->rooms[s->n_rooms - 1].joined_at = pl_socket_offset(sio);
		pl_socket_save(s);
	}
	return rc;
}

void pl_socket_leave(struct pl_socket *s, const char *room)
{
	struct pl_adapter *a = s->nsp->adapter;
	/* for the LEAVE hooks, a copy: room may be the room's own name, which goes with the room
	 * (without memory for it, the socket still leaves, unheard) */
	char *name = pl_hooks_active(hooks_of(s), PARLEY_HOOK_LEAVE) ? strdup(room) : NULL;
	if (a->ops->del(a, s, name ? name : room)) {
		pl_socket_save(s);
		if (name)
			left_room(s, name, NULL);
	}
	free(name);
}

int pl_socket_set_data(struct pl_socket *s, void *owner, void *data, void (*free_fn)(void *))
{
	if (s->state == PL_SOCKET_GONE)
		return -EPIPE;
	for (struct pl_slot *sl = s->slots; sl; sl = sl->next) {
		if (sl->owner == owner) {
			void *old = sl->data;
			void (*old_free)(void *) = sl->free_fn;
			sl->data = data;
			sl->free_fn = free_fn;
			if (old_free && old != data)
				old_free(old);
			return 0;
		}
	}
	struct pl_slot *sl = malloc(sizeof *sl);
	if (!sl)
		return -ENOMEM;
	*sl = (struct pl_slot){owner, data, free_fn, s->slots};
	s->slots = sl;
	return 0;
}

void *pl_socket_get_data(const struct pl_socket *s, void *owner)
{
	for (const struct pl_slot *sl = s->slots; sl; sl = sl->next)
		if (sl->owner == owner)
			return sl->data;
	return NULL;
}

void pl_socket_drop_data(struct pl_socket *s, void *owner)
{
	for (struct pl_slot **p = &s->slots; *p; p = &(*p)->next) {
		if ((*p)->owner == owner) {
			struct pl_slot *sl = *p;
			*p = sl->next;
			if (sl->free_fn)
				sl->free_fn(sl->data);
			free(sl);
			return;
		}
	}
}

/*
 * Runs the EMIT hooks on payload. Returns the payload to send (a new reference) or NULL when
 * a hook cancelled the emit.
 */
static json_t *emit_hooks(struct pl_nsp *nsp, struct pl_socket *to, const struct parley_target *t,
			  json_t *payload)
{
	struct parley_evt_emit ev = {.size = sizeof ev,
				     .nsp = (parley_nsp *)nsp,
				     .to = (parley_socket *)to,
				     .target = t,
				     .payload = json_incref(payload)};
	enum parley_verdict v = pl_hooks_run(nsp->sio->hooks, PARLEY_HOOK_EMIT, nsp->name, &ev);
	if (v == PARLEY_PASS || v == PARLEY_HANDLED)
		return ev.payload;
	json_decref(ev.payload);
	return NULL;
}

int pl_socket_emit(struct pl_socket *s, const struct parley_message *m, parley_ack_fn fn, void *ud)
{
	if (s->state != PL_SOCKET_CONNECTED)
		return -EPIPE;
	struct parley_message out = *m;
	json_t *hooked = NULL;
	if (pl_hooks_active(hooks_of(s), PARLEY_HOOK_EMIT)) {
		s->refs++;
		hooked = emit_hooks(s->nsp, s, NULL, m->payload);
		bool gone = s->state != PL_SOCKET_CONNECTED;
		pl_socket_unref(s);
		if (!hooked)
			return PL_EREFUSED;
		if (gone) {
			json_decref(hooked);
			return -EPIPE;
		}
		out.payload = hooked;
	}
	long long id = fn ? s->next_ack_id++ : -1;
	int type = out.n_attachments ? PL_SIO_BINARY_EVENT : PL_SIO_EVENT;
	/* an emit that awaits an ack carries no offset, as in the reference server */
	json_t *marked = fn ? NULL
			    : pl_socket_with_offset(s->nsp->sio, out.payload,
						    pl_socket_offset(s->nsp->sio));
	struct pl_frame *f = pl_packet_frame(s->nsp->name, type, id, marked ? marked : out.payload,
					     out.n_attachments);
	json_decref(marked);
	json_decref(hooked);
	if (!f)
		return -ENOMEM;
	int rc = pl_client_send(s->client, f, (struct pl_frame *const *)out.attachments,
				out.n_attachments);
	pl_frame_unref(f);
	/* the ack is awaited only once the packet is on its way (sending can disconnect a slow
	 * client), so fn is never called for an emit that failed */
	if (rc || !fn)
		return rc;
	if (s->state != PL_SOCKET_CONNECTED)
		return -EPIPE;
	return pl_ack_await(s, id, s->nsp->sio->srv->cfg->ack_timeout, fn, ud);
}

int pl_socket_ack(struct pl_socket *s, long long id, json_t *args, struct pl_frame *const *att,
		  unsigned n_att)
{
	if (s->state != PL_SOCKET_CONNECTED)
		return -EPIPE;
	struct pl_frame *f =
		pl_packet_frame(s->nsp->name, n_att ? PL_SIO_BINARY_ACK : PL_SIO_ACK, id, args, n_att);
	if (!f)
		return -ENOMEM;
	int rc = pl_client_send(s->client, f, att, n_att);
	pl_frame_unref(f);
	return rc;
}

size_t pl_nsp_broadcast(struct pl_nsp *nsp, const struct parley_target *t,
			const struct parley_message *m)
{
	struct pl_adapter *a = nsp->adapter;
	struct pl_sio *sio = nsp->sio;
	if (!pl_hooks_active(sio->hooks, PARLEY_HOOK_EMIT) && !sio->recovery) {
		if (a->ops->publish)
			a->ops->publish(a, t, m);
		return a->ops->broadcast(a, t, m);
	}
	json_t *payload = pl_hooks_active(sio->hooks, PARLEY_HOOK_EMIT)
				  ? emit_hooks(nsp, NULL, t, m->payload)
				  : json_incref(m->payload);
	if (!payload)
		return 0;
	struct parley_message out = *m;
	out.payload = payload;
	if (a->ops->publish)
		a->ops->publish(a, t, &out); /* the offset is this server's: it stays here */
	/* one offset for every recipient: the frame is still encoded once */
	json_t *marked = pl_socket_with_offset(sio, payload, pl_socket_offset(sio));
	out.payload = marked ? marked : payload;
	size_t n = a->ops->broadcast(a, t, &out);
	json_decref(marked);
	json_decref(payload);
	return n;
}

/* ---- a socket as other servers see it ---- */

static json_t *rooms_of(const struct pl_socket *s)
{
	json_t *r = json_array();
	json_array_append_new(r, json_string(s->id)); /* Node lists the socket's own room first */
	for (size_t i = 0; i < s->n_rooms; i++)
		json_array_append_new(r, json_string(s->rooms[i].room->name));
	return r;
}

json_t *pl_socket_describe(const struct pl_socket *s)
{
	char addr[PL_CLIENT_ADDRSTRLEN];
	const struct pl_config *cfg = s->nsp->sio->srv->cfg;
	json_t *data = json_object();
	if (s->userid)
		json_object_set(data, "userid", s->userid);
	if (s->name)
		json_object_set(data, "name", s->name);
	json_t *auth = s->auth ? json_incref(s->auth) : json_object();
	const char *qtext = pl_client_query(s->client);
	json_t *query = qtext ? json_loads(qtext, 0, NULL) : NULL;
	if (!json_is_object(query)) {
		json_decref(query);
		query = json_object();
	}
	/* time as JavaScript's Date.prototype.toString() writes it, in UTC */
	char when[80] = "";
	time_t t = (time_t)(s->issued_ms / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof when,
			 "%a %b %d %Y %H:%M:%S GMT+0000 (Coordinated Universal Time)", &tm);
	return json_pack("{sss{s{}sssssbsbsIsssoso}soso}", "id", s->id, "handshake", "headers",
			 "time", when, "address", pl_client_address(s->client, addr), "xdomain", 0,
			 "secure", 0, "issued", (json_int_t)s->issued_ms, "url", cfg->path, "query",
			 query, "auth", auth, "rooms", rooms_of(s), "data", data);
}
