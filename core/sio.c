/*
 * The Socket.IO v5 server (see sio.h). Packets arrive from Engine.IO in on_message, are decoded
 * by sio_codec, and each client event goes through dispatch(), the one place where handlers
 * see it. Outgoing packets are encoded into shared frames by encode_frames().
 */
#include "sio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "eio.h"
#include "json.h"
#include "log.h"
#include "rand.h"
#include "server.h"
#include "sio_codec.h"

enum handler_kind { H_EVENT, H_CONNECT, H_DISCONNECT };

struct handler {
	enum handler_kind kind; /* which callback is set */
	int priority;		/* lower runs first */
	char *event;		/* event name, or NULL for every event (H_EVENT only) */
	union {
		pl_event_fn event;
		pl_connect_fn connect;
		pl_disconnect_fn disconnect;
	} fn;			/* the callback */
	void *ud;		/* its user data */
};

struct pl_nsp {
	char *name;		    /* "/", "/chat", ... */
	struct pl_server *srv;	    /* owning server */
	struct pl_map sockets;	    /* id -> struct pl_socket */
	struct pl_socket **list;    /* connected sockets, for namespace-wide emits */
	size_t n, cap;		    /* sockets used and allocated in list */
	struct pl_map rooms;	    /* name -> struct pl_room */
	struct handler *handlers;   /* sorted by priority, stable */
	size_t n_handlers;	    /* entries in handlers */
};

struct pl_sio {
	struct pl_server *srv; /* owning server */
	struct pl_map nsps;    /* name -> struct pl_nsp */
	uint64_t epoch;	       /* broadcast stamp, see pl_nsp_broadcast */
};

/* One Engine.IO connection as Socket.IO sees it. */
struct pl_client {
	struct pl_server *srv;	    /* owning server */
	struct pl_eio *eio;	    /* the session, NULL once closed */
	struct pl_socket *sockets;  /* connected namespaces */
	uv_timer_t *connect_timer;  /* closes a client that never connects a namespace */
	struct pending *pending;    /* a binary packet waiting for its attachments, or NULL */
};

/* A binary packet being received: the packet, then its attachments one message each. */
struct pending {
	struct pl_sio_packet packet;		      /* the decoded header packet */
	struct pl_frame *att[PL_SIO_MAX_ATTACHMENTS]; /* attachments received so far */
	unsigned n_att;				      /* entries in att */
};

struct pl_pending_ack {
	long long id;		     /* the id sent to the client */
	pl_ack_fn fn;		     /* receives the answer */
	void *ud;		     /* its user data */
	uv_timer_t *timer;	     /* the timeout */
	struct pl_socket *socket;    /* the socket asked */
	struct pl_pending_ack *next; /* the socket's other pending acks */
};

static void socket_unref(struct pl_socket *s);

/* ---- namespaces and handlers ---- */

struct pl_nsp *pl_sio_nsp(struct pl_server *srv, const char *name, bool create)
{
	struct pl_nsp *nsp = pl_map_get(&srv->sio->nsps, name);
	if (nsp || !create)
		return nsp;
	nsp = calloc(1, sizeof *nsp);
	if (!nsp || !(nsp->name = strdup(name)) || pl_map_put(&srv->sio->nsps, nsp->name, nsp)) {
		if (nsp)
			free(nsp->name);
		free(nsp);
		return NULL;
	}
	nsp->srv = srv;
	return nsp;
}

const char *pl_nsp_name(const struct pl_nsp *nsp)
{
	return nsp->name;
}

struct pl_socket *pl_nsp_socket(struct pl_nsp *nsp, const char *id)
{
	return pl_map_get(&nsp->sockets, id);
}

size_t pl_nsp_count(const struct pl_nsp *nsp)
{
	return nsp->n;
}

struct pl_socket *pl_nsp_socket_at(struct pl_nsp *nsp, size_t i)
{
	return i < nsp->n ? nsp->list[i] : NULL;
}

struct pl_room *pl_nsp_room(struct pl_nsp *nsp, const char *name)
{
	return pl_map_get(&nsp->rooms, name);
}

static int add_handler(struct pl_nsp *nsp, struct handler h)
{
	struct handler *a = realloc(nsp->handlers, (nsp->n_handlers + 1) * sizeof *a);
	if (!a)
		return -ENOMEM;
	nsp->handlers = a;
	size_t i = nsp->n_handlers;
	while (i > 0 && a[i - 1].priority > h.priority) {
		a[i] = a[i - 1];
		i--;
	}
	a[i] = h;
	nsp->n_handlers++;
	return 0;
}

int pl_nsp_on_event(struct pl_nsp *nsp, const char *event, int priority, pl_event_fn fn, void *ud)
{
	struct handler h = {.kind = H_EVENT, .priority = priority, .fn.event = fn, .ud = ud};
	if (event && !(h.event = strdup(event)))
		return -ENOMEM;
	int rc = add_handler(nsp, h);
	if (rc)
		free(h.event);
	return rc;
}

int pl_nsp_on_connect(struct pl_nsp *nsp, int priority, pl_connect_fn fn, void *ud)
{
	return add_handler(nsp, (struct handler){.kind = H_CONNECT, .priority = priority,
						 .fn.connect = fn, .ud = ud});
}

int pl_nsp_on_disconnect(struct pl_nsp *nsp, int priority, pl_disconnect_fn fn, void *ud)
{
	return add_handler(nsp, (struct handler){.kind = H_DISCONNECT, .priority = priority,
						 .fn.disconnect = fn, .ud = ud});
}

/* ---- rooms ---- */

bool pl_socket_in(const struct pl_socket *s, const char *room)
{
	for (size_t i = 0; i < s->n_rooms; i++)
		if (strcmp(s->rooms[i].room->name, room) == 0)
			return true;
	return false;
}

int pl_socket_join(struct pl_socket *s, const char *name)
{
	if (!s->connected)
		return -EPIPE;
	if (pl_socket_in(s, name))
		return 0;
	struct pl_nsp *nsp = s->nsp;
	struct pl_room *r = pl_map_get(&nsp->rooms, name);
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r || !(r->name = strdup(name)) || pl_map_put(&nsp->rooms, r->name, r)) {
			if (r)
				free(r->name);
			free(r);
			return -ENOMEM;
		}
	}
	if (r->n == r->cap) {
		/* members and slots grow together; each keeps its own copy of the capacity until
		 * both have grown */
		size_t cap_m = r->cap, cap_s = r->cap;
		struct pl_socket **m = pl_array_grow(r->members, &cap_m, sizeof *m, 4);
		if (m)
			r->members = m;
		size_t *sl = m ? pl_array_grow(r->slots, &cap_s, sizeof *sl, 4) : NULL;
		if (!sl)
			goto fail;
		r->slots = sl;
		r->cap = cap_m;
	}
	if (s->n_rooms == s->cap_rooms) {
		struct pl_membership *a = pl_array_grow(s->rooms, &s->cap_rooms, sizeof *a, 2);
		if (!a)
			goto fail;
		s->rooms = a;
	}
	r->members[r->n] = s;
	r->slots[r->n] = s->n_rooms;
	s->rooms[s->n_rooms++] = (struct pl_membership){r, r->n};
	r->n++;
	return 0;
fail:
	if (r->n == 0) {
		/* a room created for this join goes again */
		pl_map_del(&nsp->rooms, r->name);
		free(r->members);
		free(r->slots);
		free(r->name);
		free(r);
	}
	return -ENOMEM;
}

/* Removes membership k of s, swapping the last entries into the holes on both sides. */
static void leave_at(struct pl_socket *s, size_t k)
{
	struct pl_room *r = s->rooms[k].room;
	size_t i = s->rooms[k].index;
	r->n--;
	if (i != r->n) {
		r->members[i] = r->members[r->n];
		r->slots[i] = r->slots[r->n];
		r->members[i]->rooms[r->slots[i]].index = i;
	}
	s->n_rooms--;
	if (k != s->n_rooms) {
		s->rooms[k] = s->rooms[s->n_rooms];
		struct pl_room *moved = s->rooms[k].room;
		moved->slots[s->rooms[k].index] = k;
	}
	if (r->n == 0) {
		pl_map_del(&s->nsp->rooms, r->name);
		free(r->members);
		free(r->slots);
		free(r->name);
		free(r);
	}
}

void pl_socket_leave(struct pl_socket *s, const char *room)
{
	for (size_t k = 0; k < s->n_rooms; k++) {
		if (strcmp(s->rooms[k].room->name, room) == 0) {
			leave_at(s, k);
			return;
		}
	}
}

/* ---- encoding and sending ---- */

/* Encodes one Socket.IO packet as an Engine.IO message frame. Returns a new frame or NULL. */
static struct pl_frame *encode_frame(const char *nsp, int type, long long id, const json_t *data,
				     unsigned n_att)
{
	struct pl_sbuf b = {0};
	struct pl_frame *f = NULL;
	if (pl_sbuf_putc(&b, '4') == 0 && pl_sio_encode(&b, type, nsp, id, data, n_att) == 0)
		f = pl_frame_new(b.data, b.len, false);
	pl_sbuf_close(&b);
	return f;
}

static int send_frames(struct pl_socket *s, struct pl_frame *f, struct pl_frame **att, unsigned n)
{
	struct pl_eio *e = s->client->eio;
	if (!e)
		return -EPIPE;
	int rc = pl_eio_send(e, f);
	for (unsigned i = 0; i < n && rc == 0; i++)
		rc = pl_eio_send(e, att[i]);
	return rc;
}

static void ack_timer_freed(uv_handle_t *h)
{
	free(h->data);
	free(h);
}

static void ack_free(struct pl_pending_ack *a)
{
	uv_timer_stop(a->timer);
	a->timer->data = a;
	uv_close((uv_handle_t *)a->timer, ack_timer_freed);
}

/* Unlinks a pending ack from its socket. */
static void ack_unlink(struct pl_pending_ack *a)
{
	for (struct pl_pending_ack **p = &a->socket->acks; *p; p = &(*p)->next) {
		if (*p == a) {
			*p = a->next;
			return;
		}
	}
}

static void ack_timeout(uv_timer_t *t)
{
	struct pl_pending_ack *a = t->data;
	ack_unlink(a);
	a->fn(a->socket, NULL, a->ud);
	ack_free(a);
}

int pl_socket_emit(struct pl_socket *s, const struct pl_message *m, pl_ack_fn fn, void *ud)
{
	if (!s->connected)
		return -EPIPE;
	long long id = fn ? s->next_ack_id++ : -1;
	int type = m->n_attachments ? PL_SIO_BINARY_EVENT : PL_SIO_EVENT;
	struct pl_frame *f = encode_frame(s->nsp->name, type, id, m->payload, m->n_attachments);
	if (!f)
		return -ENOMEM;
	int rc = send_frames(s, f, m->attachments, m->n_attachments);
	pl_frame_unref(f);
	/* the ack is awaited only once the packet is on its way (sending can disconnect a slow
	 * client), so fn is never called for an emit that failed */
	if (rc || !fn)
		return rc;
	if (!s->connected)
		return -EPIPE;
	struct pl_pending_ack *a = calloc(1, sizeof *a);
	if (!a || !(a->timer = malloc(sizeof *a->timer))) {
		free(a);
		return -ENOMEM;
	}
	a->id = id;
	a->fn = fn;
	a->ud = ud;
	a->socket = s;
	uv_timer_init(s->nsp->srv->loop, a->timer);
	a->timer->data = a;
	uv_timer_start(a->timer, ack_timeout, s->nsp->srv->cfg->ack_timeout, 0);
	a->next = s->acks;
	s->acks = a;
	return 0;
}

int pl_socket_ack(struct pl_socket *s, long long id, json_t *args, struct pl_frame **att,
		  unsigned n_att)
{
	if (!s->connected)
		return -EPIPE;
	struct pl_frame *f =
		encode_frame(s->nsp->name, n_att ? PL_SIO_BINARY_ACK : PL_SIO_ACK, id, args, n_att);
	if (!f)
		return -ENOMEM;
	int rc = send_frames(s, f, att, n_att);
	pl_frame_unref(f);
	return rc;
}

size_t pl_nsp_broadcast(struct pl_nsp *nsp, const char *const *rooms, size_t n_rooms,
			const char *const *except_rooms, size_t n_except, struct pl_socket *except,
			const struct pl_message *m)
{
	struct pl_sio *sio = nsp->srv->sio;
	int type = m->n_attachments ? PL_SIO_BINARY_EVENT : PL_SIO_EVENT;
	struct pl_frame *f = encode_frame(nsp->name, type, -1, m->payload, m->n_attachments);
	if (!f)
		return 0;
	/* one stamp per broadcast: a socket whose mark equals it is skipped or already served */
	uint64_t epoch = ++sio->epoch;
	if (except)
		except->mark = epoch;
	for (size_t i = 0; i < n_except; i++) {
		struct pl_room *r = pl_map_get(&nsp->rooms, except_rooms[i]);
		for (size_t j = 0; r && j < r->n; j++)
			r->members[j]->mark = epoch;
		struct pl_socket *one = pl_map_get(&nsp->sockets, except_rooms[i]);
		if (one)
			one->mark = epoch;
	}
	size_t sent = 0;
#define DELIVER(sock) \
	do { \
		struct pl_socket *d_ = (sock); \
		if (d_->mark != epoch) { \
			d_->mark = epoch; \
			if (send_frames(d_, f, m->attachments, m->n_attachments) == 0) \
				sent++; \
		} \
	} while (0)
	if (n_rooms == 0) {
		for (size_t j = 0; j < nsp->n; j++)
			DELIVER(nsp->list[j]);
	}
	for (size_t i = 0; i < n_rooms; i++) {
		struct pl_room *r = pl_map_get(&nsp->rooms, rooms[i]);
		if (r) {
			for (size_t j = 0; j < r->n; j++)
				DELIVER(r->members[j]);
		} else {
			/* every socket is in a room named by its id */
			struct pl_socket *one = pl_map_get(&nsp->sockets, rooms[i]);
			if (one)
				DELIVER(one);
		}
	}
#undef DELIVER
	pl_frame_unref(f);
	return sent;
}

int pl_socket_emit1(struct pl_socket *s, const char *name, json_t *arg)
{
	json_t *payload = json_pack("[sO]", name, arg);
	if (!payload)
		return -ENOMEM;
	struct pl_message m = {.payload = payload};
	int rc = pl_socket_emit(s, &m, NULL, NULL);
	json_decref(payload);
	return rc;
}

size_t pl_nsp_emit1(struct pl_nsp *nsp, const char *room, struct pl_socket *except,
		    const char *name, json_t *arg)
{
	json_t *payload = json_pack("[sO]", name, arg);
	if (!payload)
		return 0;
	struct pl_message m = {.payload = payload};
	size_t n = pl_nsp_broadcast(nsp, room ? &room : NULL, room ? 1 : 0, NULL, 0, except, &m);
	json_decref(payload);
	return n;
}

/* ---- sockets ---- */

struct pl_socket *pl_socket_ref(struct pl_socket *s)
{
	s->refs++;
	return s;
}

void pl_socket_unref(struct pl_socket *s)
{
	socket_unref(s);
}

static void socket_unref(struct pl_socket *s)
{
	if (--s->refs)
		return;
	json_decref(s->auth);
	json_decref(s->data);
	free(s->rooms);
	free(s);
}

/* Removes a socket from its namespace and client, and tells the disconnect handlers. */
static void socket_remove(struct pl_socket *s, const char *reason)
{
	if (!s->connected)
		return;
	struct pl_nsp *nsp = s->nsp;
	s->refs++;
	/* handlers still see the rooms, as in the reference server's "disconnecting" */
	for (size_t i = 0; i < nsp->n_handlers; i++)
		if (nsp->handlers[i].kind == H_DISCONNECT)
			nsp->handlers[i].fn.disconnect(s, reason, nsp->handlers[i].ud);
	s->connected = false;
	while (s->n_rooms)
		leave_at(s, s->n_rooms - 1);
	/* acks still awaited will not come: their callers hear "no answer" now */
	while (s->acks) {
		struct pl_pending_ack *a = s->acks;
		s->acks = a->next;
		a->fn(s, NULL, a->ud);
		ack_free(a);
	}
	pl_map_del(&nsp->sockets, s->id);
	nsp->n--;
	if (s->nsp_index != nsp->n) {
		nsp->list[s->nsp_index] = nsp->list[nsp->n];
		nsp->list[s->nsp_index]->nsp_index = s->nsp_index;
	}
	for (struct pl_socket **p = &s->client->sockets; *p; p = &(*p)->next_in_client) {
		if (*p == s) {
			*p = s->next_in_client;
			break;
		}
	}
	s->refs--; /* the namespace's reference; ours, taken above, keeps s alive */
	socket_unref(s);
}

void pl_socket_disconnect(struct pl_socket *s, bool close)
{
	if (!s->connected)
		return;
	struct pl_client *c = s->client;
	struct pl_frame *f = encode_frame(s->nsp->name, PL_SIO_DISCONNECT, -1, NULL, 0);
	if (f) {
		send_frames(s, f, NULL, 0);
		pl_frame_unref(f);
	}
	socket_remove(s, "server namespace disconnect");
	if (close && c->eio)
		pl_eio_close(c->eio, "forced close", true);
}

json_t *pl_socket_data(struct pl_socket *s)
{
	if (!s->data)
		s->data = json_object();
	return s->data;
}

const char *pl_socket_engine_sid(const struct pl_socket *s)
{
	return s->client->eio ? s->client->eio->sid : "";
}

/* ---- client packets ---- */

static void timer_freed(uv_handle_t *h)
{
	free(h);
}

static void client_close(struct pl_client *c, const char *why)
{
	if (c->eio) {
		pl_warn("eio %s: closing the connection: %s", c->eio->sid, why);
		pl_eio_close(c->eio, "parse error", false);
	}
}

static struct pl_socket *client_socket(struct pl_client *c, const char *nsp)
{
	for (struct pl_socket *s = c->sockets; s; s = s->next_in_client)
		if (strcmp(s->nsp->name, nsp) == 0)
			return s;
	return NULL;
}

static void send_connect_error(struct pl_client *c, const char *nsp, json_t *err)
{
	struct pl_frame *f = encode_frame(nsp, PL_SIO_CONNECT_ERROR, -1, err, 0);
	if (f && c->eio)
		pl_eio_send(c->eio, f);
	pl_frame_unref(f);
}

static void on_connect(struct pl_client *c, struct pl_sio_packet *p)
{
	struct pl_server *srv = c->srv;
	struct pl_nsp *nsp = pl_sio_nsp(srv, p->nsp, false);
	if (!nsp) {
		json_t *err = json_pack("{ss}", "message", "Invalid namespace");
		send_connect_error(c, p->nsp, err);
		json_decref(err);
		return;
	}
	struct pl_socket *s = calloc(1, sizeof *s);
	if (!s)
		return;
	do
		pl_random_id(s->id);
	while (pl_map_get(&nsp->sockets, s->id));
	s->nsp = nsp;
	s->client = c;
	s->refs = 1;
	s->auth = p->data ? json_incref(p->data) : NULL;
	if (nsp->n == nsp->cap) {
		struct pl_socket **l = pl_array_grow(nsp->list, &nsp->cap, sizeof *l, 16);
		if (!l)
			goto fail;
		nsp->list = l;
	}
	for (size_t i = 0; i < nsp->n_handlers; i++) {
		struct handler *h = &nsp->handlers[i];
		if (h->kind != H_CONNECT)
			continue;
		json_t *error = NULL;
		enum pl_verdict v = h->fn.connect(s, s->auth, &error, h->ud);
		if (v == PL_REJECT || v == PL_DISCONNECT) {
			json_t *err = json_is_object(error)
					      ? json_incref(error)
					      : json_pack("{ss}", "message",
							  json_is_string(error) ? json_string_value(error)
										: "Not authorized");
			send_connect_error(c, p->nsp, err);
			json_decref(err);
			json_decref(error);
			goto fail;
		}
		json_decref(error);
		if (v == PL_DONE)
			break;
	}
	if (pl_map_put(&nsp->sockets, s->id, s))
		goto fail;
	s->nsp_index = nsp->n;
	nsp->list[nsp->n++] = s;
	s->next_in_client = c->sockets;
	c->sockets = s;
	s->connected = true;
	if (c->connect_timer) {
		uv_close((uv_handle_t *)c->connect_timer, timer_freed);
		c->connect_timer = NULL;
	}

	json_t *ok = json_pack("{ss}", "sid", s->id);
	struct pl_frame *f = encode_frame(nsp->name, PL_SIO_CONNECT, -1, ok, 0);
	json_decref(ok);
	if (f)
		pl_eio_send(c->eio, f);
	pl_frame_unref(f);
	pl_debug("sio %s: socket %s connected to %s", c->eio->sid, s->id, nsp->name);
	/* "connection" handlers: the event handlers registered for the pseudo-event "connection" */
	struct pl_event ev = {.socket = s, .name = "connection", .ack_id = -1};
	s->refs++;
	for (size_t i = 0; i < nsp->n_handlers && s->connected; i++) {
		struct handler *h = &nsp->handlers[i];
		if (h->kind == H_EVENT && h->event && strcmp(h->event, "connection") == 0 &&
		    h->fn.event(&ev, h->ud) == PL_DONE)
			break;
	}
	socket_unref(s);
	return;
fail:
	socket_unref(s);
}

/* The one dispatch point for client events: every handler of the namespace, in order. */
static void dispatch(struct pl_socket *s, struct pl_sio_packet *p, struct pl_frame **att,
		     unsigned n_att)
{
	struct pl_nsp *nsp = s->nsp;
	json_t *first = json_array_get(p->data, 0);
	char numname[40];
	const char *name = json_is_string(first) ? json_string_value(first) : numname;
	if (!json_is_string(first))
		pl_json_format_number(json_number_value(first), numname);
	json_t *args = json_array();
	for (size_t i = 1; i < json_array_size(p->data); i++)
		json_array_append(args, json_array_get(p->data, i));
	struct pl_event ev = {.socket = s,
			      .name = name,
			      .args = args,
			      .attachments = att,
			      .n_attachments = n_att,
			      .ack_id = p->id};
	s->refs++;
	for (size_t i = 0; i < nsp->n_handlers && s->connected; i++) {
		struct handler *h = &nsp->handlers[i];
		if (h->kind != H_EVENT || (h->event && strcmp(h->event, name) != 0) ||
		    (h->event && strcmp(h->event, "connection") == 0))
			continue;
		enum pl_verdict v = h->fn.event(&ev, h->ud);
		if (v == PL_PASS)
			continue;
		if (v == PL_REJECT && ev.ack_id >= 0) {
			json_t *a = json_pack("[{sbso}]", "ok", 0, "error",
					      ev.reason ? json_incref(ev.reason) : json_string("rejected"));
			pl_socket_ack(s, ev.ack_id, a, NULL, 0);
			json_decref(a);
		}
		if (v == PL_DISCONNECT)
			pl_socket_disconnect(s, false);
		break;
	}
	json_decref(ev.reason);
	json_decref(args);
	socket_unref(s);
}

static void on_ack(struct pl_socket *s, struct pl_sio_packet *p)
{
	for (struct pl_pending_ack *a = s->acks; a; a = a->next) {
		if (a->id == p->id) {
			ack_unlink(a);
			a->fn(s, p->data, a->ud);
			ack_free(a);
			return;
		}
	}
}

/* Handles a complete packet (attachments included). */
static void on_packet(struct pl_client *c, struct pl_sio_packet *p, struct pl_frame **att,
		      unsigned n_att)
{
	struct pl_socket *s = client_socket(c, p->nsp);
	if (p->type == PL_SIO_CONNECT) {
		if (s)
			client_close(c, "second CONNECT for a namespace");
		else
			on_connect(c, p);
		return;
	}
	if (!s) {
		client_close(c, "packet for a namespace it has not joined");
		return;
	}
	switch (p->type) {
	case PL_SIO_DISCONNECT:
		socket_remove(s, "client namespace disconnect");
		break;
	case PL_SIO_EVENT:
	case PL_SIO_BINARY_EVENT:
		dispatch(s, p, att, n_att);
		break;
	case PL_SIO_ACK:
	case PL_SIO_BINARY_ACK:
		on_ack(s, p);
		break;
	default: /* CONNECT_ERROR from a client */
		client_close(c, "unexpected packet type");
		break;
	}
}

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	pl_sio_packet_close(&p->packet);
	for (unsigned i = 0; i < p->n_att; i++)
		pl_frame_unref(p->att[i]);
	free(p);
}

static void release_pending(struct pl_client *c)
{
	pending_free(c->pending);
	c->pending = NULL;
}

static void eio_message(struct pl_eio *e, const char *data, size_t len, bool binary)
{
	struct pl_client *c = e->user;
	if (!c)
		return;
	if (binary) {
		struct pending *p = c->pending;
		if (!p) {
			client_close(c, "binary data without a binary packet");
			return;
		}
		struct pl_frame *f = pl_frame_new(data, len, true);
		if (!f)
			return;
		p->att[p->n_att++] = f;
		if (p->n_att == p->packet.attachments) {
			/* handlers may close the connection, freeing c: detach p first */
			c->pending = NULL;
			on_packet(c, &p->packet, p->att, p->n_att);
			pending_free(p);
		}
		return;
	}
	if (c->pending) {
		client_close(c, "text packet while binary attachments were expected");
		return;
	}
	struct pl_sio_packet p;
	int rc = pl_sio_decode(data, len, &p);
	if (rc) {
		client_close(c, pl_sio_strerror(rc));
		return;
	}
	if ((p.type == PL_SIO_BINARY_EVENT || p.type == PL_SIO_BINARY_ACK) && p.attachments > 0) {
		c->pending = calloc(1, sizeof *c->pending);
		if (!c->pending) {
			pl_sio_packet_close(&p);
			client_close(c, "out of memory");
			return;
		}
		c->pending->packet = p;
		return;
	}
	on_packet(c, &p, NULL, 0);
	pl_sio_packet_close(&p);
}

static void connect_timeout(uv_timer_t *t)
{
	struct pl_client *c = t->data;
	if (!c->sockets && c->eio) {
		pl_info("eio %s: no namespace connected within %u ms, closing", c->eio->sid,
			c->srv->cfg->connect_timeout);
		pl_eio_close(c->eio, "connect timeout", false);
	}
}

static void eio_open(struct pl_eio *e)
{
	struct pl_client *c = calloc(1, sizeof *c);
	if (!c) {
		pl_eio_close(e, "out of memory", false);
		return;
	}
	c->srv = e->srv;
	c->eio = e;
	e->user = c;
	c->connect_timer = malloc(sizeof *c->connect_timer);
	if (c->connect_timer) {
		uv_timer_init(e->srv->loop, c->connect_timer);
		c->connect_timer->data = c;
		uv_timer_start(c->connect_timer, connect_timeout, e->srv->cfg->connect_timeout, 0);
	}
}

static void eio_close(struct pl_eio *e, const char *reason)
{
	struct pl_client *c = e->user;
	if (!c)
		return;
	pl_info("connection %s closed: %s", e->sid, reason);
	while (c->sockets)
		socket_remove(c->sockets, reason);
	c->eio = NULL;
	e->user = NULL;
	release_pending(c);
	if (c->connect_timer)
		uv_close((uv_handle_t *)c->connect_timer, timer_freed);
	free(c);
}

int pl_sio_init(struct pl_server *srv)
{
	struct pl_sio *sio = calloc(1, sizeof *sio);
	if (!sio)
		return -ENOMEM;
	sio->srv = srv;
	srv->sio = sio;
	if (!pl_sio_nsp(srv, "/", true))
		return -ENOMEM;
	struct pl_eio_handler h = {eio_open, eio_message, eio_close};
	return pl_eio_server_init(srv, &h);
}

void pl_sio_close(struct pl_server *srv)
{
	struct pl_sio *sio = srv->sio;
	if (!sio)
		return;
	struct pl_nsp *nsp;
	for (size_t pos = 0; pl_map_next(&sio->nsps, &pos, (void **)&nsp);) {
		for (size_t i = 0; i < nsp->n_handlers; i++)
			free(nsp->handlers[i].event);
		free(nsp->handlers);
		free(nsp->list);
		pl_map_close(&nsp->sockets);
		pl_map_close(&nsp->rooms);
		free(nsp->name);
		free(nsp);
	}
	pl_map_close(&sio->nsps);
	free(sio);
	srv->sio = NULL;
}
