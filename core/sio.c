/*
 * The Socket.IO v5 protocol (see sio.h). Packets arrive from Engine.IO in eio_message, are
 * decoded by sio_codec, and reach the hook pipeline: CONNECT through the connect hooks, client
 * events through the event hooks (indexed by name), disconnects through the disconnect hooks.
 */
#include "sio.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ack.h"
#include "adapter.h"
#include "client.h"
#include "eio.h"
#include "hooks.h"
#include "json.h"
#include "log.h"
#include "nsp.h"
#include "server.h"
#include "sio_codec.h"
#include "socket.h"

/* A binary packet being received: the packet, then its attachments one message each. */
struct pl_pending_packet {
	struct pl_sio_packet packet;		      /* the decoded header packet */
	struct pl_frame *att[PL_SIO_MAX_ATTACHMENTS]; /* attachments received so far */
	unsigned n_att;				      /* entries in att */
	size_t bytes;				      /* their bytes, at most max_payload */
	struct pl_client *client;		      /* whose packet it is */
	struct pl_deadline due;			      /* when it is given up, with its client */
};

struct pl_nsp *pl_sio_nsp(struct pl_server *srv, const char *name, bool create)
{
	struct pl_sio *sio = srv->sio;
	struct pl_nsp *nsp = pl_nsp_find(sio, name);
	if (nsp || !create)
		return nsp;
	nsp = calloc(1, sizeof *nsp);
	if (nsp) {
		nsp->sio = sio; /* the adapter may look at it */
		if ((nsp->name = strdup(name)))
			nsp->adapter = sio->adapter_new ? sio->adapter_new(nsp, sio->adapter_ud)
							: pl_adapter_local_new(nsp);
	}
	if (!nsp || !nsp->name || !nsp->adapter || pl_map_put(&sio->nsps, nsp->name, nsp)) {
		if (nsp) {
			if (nsp->adapter)
				nsp->adapter->ops->free(nsp->adapter);
			free(nsp->name);
		}
		free(nsp);
		return NULL;
	}
	nsp->sio = sio;
	return nsp;
}

/* ---- client packets ---- */

static void timer_freed(uv_handle_t *h)
{
	free(h);
}

static void client_close(struct pl_client *c, const char *why)
{
	if (c->conn) {
		pl_warn("eio %s: closing the connection: %s", pl_client_name(c), why);
		pl_client_close(c, "parse error", false);
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
	struct pl_frame *f = pl_packet_frame(nsp, PL_SIO_CONNECT_ERROR, -1, err, 0);
	if (f)
		pl_client_send(c, f, NULL, 0);
	pl_frame_unref(f);
}

/* The CONNECT_ERROR data for a refusal: an object as given, or {message} (error is adopted). */
static json_t *refusal(json_t *error)
{
	json_t *err = json_is_object(error)
			      ? json_incref(error)
			      : json_pack("{ss}", "message",
					  json_is_string(error) ? json_string_value(error)
								: "Not authorized");
	json_decref(error);
	return err;
}

void pl_restored_close(struct pl_restored *r)
{
	json_decref(r->userid);
	json_decref(r->name);
	json_decref(r->rooms);
	json_decref(r->missed);
	*r = (struct pl_restored){0};
}

/*
 * A CONNECT whose auth holds {pid, offset}: asks the recovery store for that session. A socket
 * still holding the id (its connection gone, not yet noticed) is taken out first, quietly: the
 * session is the new one's now. Returns true when s takes the session over.
 */
static bool recover(struct pl_socket *s, struct pl_restored *r)
{
	struct pl_sio *sio = s->nsp->sio;
	const char *pid = json_string_value(json_object_get(s->auth, "pid"));
	if (!sio->recovery || !s->pid[0] || !pid || strlen(pid) >= sizeof s->pid)
		return false;
	const char *offset = json_string_value(json_object_get(s->auth, "offset"));
	if (!sio->recovery->restore(sio->recovery_ud, s->nsp, pid, offset, r))
		return false;
	/* a CONNECT hook (a verified token) gave s an identity: only its own session is s's */
	if (s->userid && !(r->userid && json_equal(s->userid, r->userid))) {
		pl_restored_close(r);
		return false;
	}
	struct pl_socket *old = pl_nsp_socket(s->nsp, r->sid);
	if (old) {
		if (strcmp(old->pid, pid) != 0) {
			pl_restored_close(r);
			return false;
		}
		old->pid[0] = '\0';
		pl_socket_disconnect(old, false);
	}
	memcpy(s->id, r->sid, sizeof s->id);
	memcpy(s->pid, pid, strlen(pid) + 1);
	s->recovered = true;
	return true;
}

/* Gives a recovered socket its identity and rooms back, then what it missed. */
static void resume(struct pl_socket *s, struct pl_restored *r)
{
	/* not over an identity a CONNECT hook gave (recover() checked it is the same user's),
	 * but a name it lacks is the session's */
	if (!s->userid && !s->name)
		pl_nsp_set_identity(s, r->userid, r->name);
	else if (!s->name && r->name)
		pl_nsp_set_identity(s, s->userid, r->name);
	size_t i;
	json_t *room;
	json_array_foreach(r->rooms, i, room)
		if (s->state == PL_SOCKET_CONNECTED && strcmp(json_string_value(room), s->id) != 0)
			pl_socket_join(s, json_string_value(room)); /* the JOIN hooks may refuse */
	json_t *m;
	json_array_foreach(r->missed, i, m) {
		json_t *payload = pl_socket_with_offset(s->nsp->sio, json_array_get(m, 1),
							json_integer_value(json_array_get(m, 0)));
		struct pl_frame *f =
			payload ? pl_packet_frame(s->nsp->name, PL_SIO_EVENT, -1, payload, 0) : NULL;
		json_decref(payload);
		if (f && s->state == PL_SOCKET_CONNECTED)
			pl_client_send(s->client, f, NULL, 0);
		pl_frame_unref(f);
	}
	/* everything up to now has been sent */
	s->since = pl_socket_offset(s->nsp->sio);
	for (size_t k = 0; k < s->n_rooms; k++)
		s->rooms[k].joined_at = s->since;
	pl_socket_save(s);
}

static void on_connect(struct pl_client *c, struct pl_sio_packet *p)
{
	struct pl_sio *sio = c->srv->sio;
	struct pl_nsp *nsp = pl_nsp_find(sio, p->nsp);
	if (!nsp) {
		json_t *err = json_pack("{ss}", "message", "Invalid namespace");
		send_connect_error(c, p->nsp, err);
		json_decref(err);
		return;
	}
	struct pl_socket *s = pl_socket_new(nsp, c, p->data);
	if (!s)
		return;
	struct pl_restored restored = {0};
	struct parley_evt_connect ev = {
		.size = sizeof ev, .socket = (parley_socket *)s, .auth = s->auth};
	enum parley_verdict v = PARLEY_PASS;
	if (pl_hooks_active(sio->hooks, PARLEY_HOOK_CONNECT))
		v = pl_hooks_run(sio->hooks, PARLEY_HOOK_CONNECT, nsp->name, &ev);
	if (v == PARLEY_REJECT || v == PARLEY_DISCONNECT || v == PARLEY_DROP) {
		json_t *err = refusal(ev.error);
		send_connect_error(c, p->nsp, err);
		json_decref(err);
		goto out;
	}
	json_decref(ev.error);
	ev.error = NULL;
	/* after the CONNECT hooks: a session is taken over only by a client they let in */
	bool recovered = recover(s, &restored);
	if (!c->conn || pl_socket_attach(s)) {
		/* every connect hook passed: each hears that the connect failed all the same */
		pl_hooks_connect_failed(sio->hooks, nsp->name, &ev);
		json_decref(ev.error);
		goto out;
	}
	if (c->connect_timer) {
		uv_close((uv_handle_t *)c->connect_timer, timer_freed);
		c->connect_timer = NULL;
	}
	json_t *ok = s->pid[0] ? json_pack("{ssss}", "sid", s->id, "pid", s->pid)
			       : json_pack("{ss}", "sid", s->id);
	struct pl_frame *f = pl_packet_frame(nsp->name, PL_SIO_CONNECT, -1, ok, 0);
	json_decref(ok);
	if (f)
		pl_client_send(c, f, NULL, 0);
	pl_frame_unref(f);
	if (recovered) {
		resume(s, &restored);
		pl_restored_close(&restored);
	}
	pl_debug("sio %s: socket %s %s to %s", pl_client_name(c), s->id,
		 recovered ? "recovered its session" : "connected", nsp->name);
	if (pl_hooks_active(sio->hooks, PARLEY_HOOK_CONNECTED)) {
		struct parley_evt_socket cev = {.size = sizeof cev, .socket = (parley_socket *)s};
		pl_hooks_run(sio->hooks, PARLEY_HOOK_CONNECTED, nsp->name, &cev);
	}
	return; /* the reference pl_socket_new gave is the namespace's now */
out:
	pl_restored_close(&restored);
	pl_socket_unref(s);
}

int pl_sio_dispatch(struct pl_socket *s, const char *name, json_t *args, struct pl_frame **att,
		    unsigned n_att, long long ack_id)
{
	struct pl_hooks *hooks = s->nsp->sio->hooks;
	if (s->state != PL_SOCKET_CONNECTED)
		return -EPIPE;
	if (!pl_hooks_active(hooks, PARLEY_HOOK_EVENT))
		return 0;
	struct parley_evt_message ev = {.size = sizeof ev,
					.socket = (parley_socket *)s,
					.name = (char *)name,
					.args = json_incref(args),
					.attachments = (parley_binary *const *)att,
					.n_attachments = n_att,
					.ack_id = ack_id};
	pl_socket_ref(s);
	enum parley_verdict v = pl_hooks_run(hooks, PARLEY_HOOK_EVENT, s->nsp->name, &ev);
	if ((v == PARLEY_REJECT || v == PARLEY_DISCONNECT) && ev.ack_id >= 0) {
		json_t *answer = ev.reject ? ev.reject : json_array();
		pl_socket_ack(s, ev.ack_id, answer, NULL, 0);
		if (!ev.reject)
			json_decref(answer);
	}
	if (v == PARLEY_DISCONNECT)
		pl_socket_disconnect(s, false);
	pl_hooks_message_done(&ev, name);
	pl_socket_unref(s);
	return 0;
}

/* A client event: its name and arguments, then through the event hooks. */
static void dispatch(struct pl_socket *s, struct pl_sio_packet *p, struct pl_frame **att,
		     unsigned n_att)
{
	struct pl_hooks *hooks = s->nsp->sio->hooks;
	json_t *first = json_array_get(p->data, 0);
	char numname[40];
	const char *name = json_is_string(first) ? json_string_value(first) : numname;
	if (!json_is_string(first))
		pl_json_format_number(json_number_value(first), numname);
	if (!pl_hooks_active(hooks, PARLEY_HOOK_EVENT))
		return;
	json_t *args = json_array();
	for (size_t i = 1; i < json_array_size(p->data); i++)
		json_array_append(args, json_array_get(p->data, i));
	pl_sio_dispatch(s, name, args, att, n_att, p->id);
	json_decref(args);
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
		pl_socket_remove(s, "client namespace disconnect");
		break;
	case PL_SIO_EVENT:
	case PL_SIO_BINARY_EVENT:
		dispatch(s, p, att, n_att);
		break;
	case PL_SIO_ACK:
	case PL_SIO_BINARY_ACK:
		pl_ack_answer(s, p->id, p->data);
		break;
	default: /* CONNECT_ERROR from a client */
		client_close(c, "unexpected packet type");
		break;
	}
}

static void pending_free(struct pl_pending_packet *p)
{
	if (!p)
		return;
	pl_deadline_cancel(&p->client->srv->eio.deadlines, &p->due);
	pl_sio_packet_close(&p->packet);
	for (unsigned i = 0; i < p->n_att; i++)
		pl_frame_unref(p->att[i]);
	free(p);
}

/* A binary packet whose attachments did not all come in time: its connection is closed, as
 * what they hold would otherwise stay pinned for as long as the connection lasts. */
static void attachments_late(struct pl_deadline *d)
{
	struct pl_pending_packet *p =
		(struct pl_pending_packet *)((char *)d - offsetof(struct pl_pending_packet, due));
	client_close(p->client, "binary attachments did not arrive in time");
}

static void eio_message(struct pl_eio *e, const char *data, size_t len, bool binary)
{
	struct pl_client *c = e->user;
	if (!c)
		return;
	if (binary) {
		struct pl_pending_packet *p = c->pending;
		if (!p) {
			client_close(c, "binary data without a binary packet");
			return;
		}
		/* the attachments of one packet are one message's worth, as over polling */
		if (len > c->srv->cfg->max_payload - p->bytes) {
			client_close(c, "binary attachments larger than maxPayload");
			return;
		}
		struct pl_frame *f = pl_frame_new(data, len, true);
		if (!f)
			return;
		p->att[p->n_att++] = f;
		p->bytes += len;
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
		c->pending->client = c;
		pl_deadline_init(&c->pending->due);
		if (pl_deadline_set(&c->srv->eio.deadlines, &c->pending->due, c->srv->cfg->attachments_timeout,
				    attachments_late))
			client_close(c, "out of memory");
		return;
	}
	on_packet(c, &p, NULL, 0);
	pl_sio_packet_close(&p);
}

static void connect_timeout(uv_timer_t *t)
{
	struct pl_client *c = t->data;
	if (!c->sockets && c->conn) {
		pl_info("eio %s: no namespace connected within %u ms, closing", pl_client_name(c),
			c->srv->cfg->connect_timeout);
		pl_client_close(c, "connect timeout", false);
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
	c->sink = &pl_eio_sink;
	c->conn = e;
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
		pl_socket_remove(c->sockets, reason);
	c->conn = NULL;
	e->user = NULL;
	pending_free(c->pending);
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
	sio->max_rooms = srv->cfg->max_rooms;
	sio->max_room_name = srv->cfg->max_room_name;
	srv->sio = sio;
	if (!(sio->hooks = pl_hooks_new()) || !pl_sio_nsp(srv, "/", true))
		return -ENOMEM;
	struct pl_eio_handler h = {eio_open, eio_message, eio_close};
	return pl_eio_server_init(srv, &h);
}

int pl_sio_set_adapter(struct pl_server *srv, pl_adapter_new_fn fn, void *ud)
{
	struct pl_sio *sio = srv->sio;
	sio->adapter_new = fn;
	sio->adapter_ud = ud;
	struct pl_nsp *nsp;
	for (size_t pos = 0; pl_map_next(&sio->nsps, &pos, (void **)&nsp);) {
		struct pl_adapter *a = fn(nsp, ud);
		if (!a)
			return -ENOMEM;
		nsp->adapter->ops->free(nsp->adapter); /* empty still: nobody has connected */
		nsp->adapter = a;
	}
	return 0;
}

void pl_sio_close(struct pl_server *srv)
{
	struct pl_sio *sio = srv->sio;
	if (!sio)
		return;
	struct pl_nsp *nsp;
	for (size_t pos = 0; pl_map_next(&sio->nsps, &pos, (void **)&nsp);) {
		nsp->adapter->ops->free(nsp->adapter);
		free(nsp->list);
		pl_map_close(&nsp->sockets);
		pl_map_close(&nsp->users);
		free(nsp->name);
		free(nsp);
	}
	pl_map_close(&sio->nsps);
	pl_hooks_free(sio->hooks);
	free(sio);
	srv->sio = NULL;
}
