/*
 * The cluster adapter (see redis_adapter.h). The wire format follows lib/index.ts of
 * @socket.io/redis-adapter 8.3: a broadcast is msgpack [uid, packet, {rooms, except, flags}]
 * on "<prefix>#<nsp>#" (or "<prefix>#<nsp>#<room>#" for one room); requests come on
 * "<prefix>-request#<nsp>#", JSON when the first byte is '{' and msgpack otherwise, and are
 * answered on the shared "<prefix>-response#<nsp>#" (the default of a Node node, whose
 * publishOnSpecificResponseChannel is off), JSON except the BROADCAST_ACK, which is msgpack.
 */
#include "redis_adapter.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "ack.h"
#include "client.h"
#include "hooks.h"
#include "json.h"
#include "log.h"
#include "msgpack_codec.h"
#include "nsp.h"
#include "rand.h"
#include "redis_link.h"
#include "server.h"
#include "sio_codec.h"
#include "socket.h"

/* The request types of lib/index.ts. */
enum {
	REQ_SOCKETS = 0,
	REQ_ALL_ROOMS = 1,
	REQ_REMOTE_JOIN = 2,
	REQ_REMOTE_LEAVE = 3,
	REQ_REMOTE_DISCONNECT = 4,
	REQ_REMOTE_FETCH = 5,
	REQ_SERVER_SIDE_EMIT = 6,
	REQ_BROADCAST = 7,
	REQ_BROADCAST_CLIENT_COUNT = 8,
	REQ_BROADCAST_ACK = 9,
};

struct cadapter;

struct ask;

struct pl_cluster {
	struct pl_server *srv;		 /* owning server */
	struct pl_redis *redis;		 /* the link to Redis */
	char *prefix;			 /* channel prefix */
	char uid[7];			 /* this node on the channels */
	struct cadapter *adapters;	 /* every namespace's adapter */
	struct ask *asks;		 /* requests of this node awaiting answers */
	unsigned long long next_request; /* numbers the requests' ids */
	bool stopped;			 /* shutting down */
};

struct cadapter {
	struct pl_adapter base;	   /* ops and namespace */
	struct pl_adapter *local;  /* rooms and delivery on this node */
	struct pl_cluster *cl;	   /* the cluster */
	struct cadapter *next;	   /* the cluster's other adapters */
	char *channel;		   /* "<prefix>#<nsp>#" */
	char *pattern;		   /* channel then "*" */
	char *req;		   /* "<prefix>-request#<nsp>#" */
	char *resp;		   /* "<prefix>-response#<nsp>#" */
	char *resp_mine;	   /* resp then "<uid>#" */
};

/* ---- publishing and subscribing ---- */

static bool cluster_up(const struct pl_cluster *cl)
{
	return !cl->stopped && pl_redis_up(cl->redis);
}

static void publish(struct pl_cluster *cl, const char *channel, const void *p, size_t n)
{
	if (!cl->stopped)
		pl_redis_publish(cl->redis, channel, p, n);
}

static void publish_json(struct pl_cluster *cl, const char *channel, const json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);
	if (text)
		publish(cl, channel, text, strlen(text));
	else
		pl_redis_lost(cl->redis);
	free(text);
}

/* The namespace's channels, as RedisAdapter's constructor subscribes them. */
static void subscribe(struct cadapter *a)
{
	pl_redis_subscribe(a->cl->redis, a->pattern, true);
	pl_redis_subscribe(a->cl->redis, a->req, false);
	pl_redis_subscribe(a->cl->redis, a->resp, false);
	pl_redis_subscribe(a->cl->redis, a->resp_mine, false);
}

/* ---- selecting sockets as the Node adapter's opts {rooms, except} do ---- */

/* A target built from a request's rooms and except lists. */
struct sel {
	struct parley_target t; /* what the local adapter is given */
	const char **rooms;	/* t's rooms */
	const char **except;	/* t's except_rooms */
	size_t cap_rooms, cap_except; /* allocated */
	json_t *hold;		/* strings made for numeric room names */
	bool nobody;		/* rooms were named, none of them here */
};

static int names_add(const char ***v, size_t *n, size_t *cap, const char *name)
{
	if (*n == *cap) {
		const char **g = pl_array_grow(*v, cap, sizeof *g, 8);
		if (!g)
			return -ENOMEM;
		*v = g;
	}
	(*v)[(*n)++] = name;
	return 0;
}

/*
 * Adds the room names of list (strings, or numbers as Node allows them) to v; the room of a
 * user (PARLEY_USER_ROOM) becomes the ids of that user's sockets here.
 */
static int names_from(struct cadapter *a, struct sel *s, const json_t *list, const char ***v,
		      size_t *n, size_t *cap)
{
	size_t i;
	json_t *e;
	size_t plen = strlen(PARLEY_USER_ROOM);
	json_array_foreach(list, i, e) {
		const char *name = NULL;
		if (json_is_string(e)) {
			name = json_string_value(e);
		} else if (json_is_number(e)) {
			char buf[64];
			snprintf(buf, sizeof buf, "%.17g", json_number_value(e));
			json_t *str = json_string(buf);
			if (!str || json_array_append_new(s->hold, str))
				return -ENOMEM;
			name = json_string_value(str);
		} else {
			continue;
		}
		if (strncmp(name, PARLEY_USER_ROOM, plen) != 0) {
			if (names_add(v, n, cap, name))
				return -ENOMEM;
			continue;
		}
		json_t *uid = json_loads(name + plen, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
		if (!uid)
			continue;
		for (struct pl_socket *u = pl_nsp_user_first(a->base.nsp, uid); u; u = u->next_user)
			if (names_add(v, n, cap, u->id)) {
				json_decref(uid);
				return -ENOMEM;
			}
		json_decref(uid);
	}
	return 0;
}

static void sel_close(struct sel *s)
{
	free(s->rooms);
	free(s->except);
	json_decref(s->hold);
}

static int sel_init(struct cadapter *a, struct sel *s, const json_t *rooms, const json_t *except)
{
	memset(s, 0, sizeof *s);
	s->t.size = sizeof s->t;
	if (!(s->hold = json_array()))
		return -ENOMEM;
	size_t n_rooms = 0, n_except = 0;
	if (names_from(a, s, rooms, &s->rooms, &n_rooms, &s->cap_rooms) ||
	    names_from(a, s, except, &s->except, &n_except, &s->cap_except)) {
		sel_close(s);
		return -ENOMEM;
	}
	/* rooms that are all absent here reach nobody, not everybody */
	s->nobody = json_array_size(rooms) > 0 && n_rooms == 0;
	s->t.rooms = s->rooms;
	s->t.n_rooms = n_rooms;
	s->t.except_rooms = s->except;
	s->t.n_except = n_except;
	return 0;
}

/* The local sockets that opts {rooms, except} select, referenced (collected first: acting on
 * one may change the rooms being walked). Release with collected_close. */
static int collect(struct cadapter *a, const json_t *opts, struct pl_collected *out)
{
	memset(out, 0, sizeof *out);
	struct sel s;
	if (sel_init(a, &s, json_object_get(opts, "rooms"), json_object_get(opts, "except")))
		return -ENOMEM;
	int rc = s.nobody ? 0 : pl_collect(a->local, &s.t, out);
	sel_close(&s);
	return rc;
}

/* ---- the adapter: local operations, plus publishing ---- */

static int c_add(struct pl_adapter *base, struct pl_socket *s, const char *room)
{
	struct cadapter *a = (struct cadapter *)base;
	return a->local->ops->add(a->local, s, room);
}

static bool c_del(struct pl_adapter *base, struct pl_socket *s, const char *room)
{
	struct cadapter *a = (struct cadapter *)base;
	return a->local->ops->del(a->local, s, room);
}

static void c_del_all(struct pl_adapter *base, struct pl_socket *s, pl_left_fn left, void *ud)
{
	struct cadapter *a = (struct cadapter *)base;
	a->local->ops->del_all(a->local, s, left, ud);
}

static size_t c_broadcast(struct pl_adapter *base, const struct parley_target *t,
			  const struct parley_message *m)
{
	struct cadapter *a = (struct cadapter *)base;
	return a->local->ops->broadcast(a->local, t, m);
}

static struct pl_room *c_room(struct pl_adapter *base, const char *name)
{
	struct cadapter *a = (struct cadapter *)base;
	return a->local->ops->room(a->local, name);
}

static size_t c_fetch_sockets(struct pl_adapter *base, const struct parley_target *t,
			      pl_each_socket_fn fn, void *ud)
{
	struct cadapter *a = (struct cadapter *)base;
	return a->local->ops->fetch_sockets(a->local, t, fn, ud);
}

static size_t c_socket_rooms(struct pl_adapter *base, const struct pl_socket *s,
			     pl_each_room_fn fn, void *ud)
{
	struct cadapter *a = (struct cadapter *)base;
	return a->local->ops->socket_rooms(a->local, s, fn, ud);
}

static json_t *string_list(const char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, json_string(v[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

/* {rooms, except} of lib/index.ts's opts for a target; a new reference. */
static json_t *opts_of(const struct parley_target *t)
{
	json_t *rooms = t ? string_list(t->rooms, t->n_rooms) : json_array();
	json_t *except = t ? string_list(t->except_rooms, t->n_except) : json_array();
	if (t && t->except && except)
		json_array_append_new(except, json_string(((struct pl_socket *)t->except)->id));
	if (!rooms || !except) {
		json_decref(rooms);
		json_decref(except);
		return NULL;
	}
	return json_pack("{soso}", "rooms", rooms, "except", except);
}

/* Publishes a broadcast as RedisAdapter.broadcast does: one message whatever the recipients. */
static void c_publish(struct pl_adapter *base, const struct parley_target *t,
		      const struct parley_message *m)
{
	struct cadapter *a = (struct cadapter *)base;
	struct pl_cluster *cl = a->cl;
	if (!cluster_up(cl)) {
		if (!cl->stopped)
			pl_redis_lost(cl->redis);
		return;
	}
	json_t *opts = opts_of(t);
	if (opts)
		json_object_set_new(opts, "flags", json_object());
	/* packet {type: EVENT, data, nsp}: Node sends EVENT with binary data too, each node's
	 * encoder makes it a BINARY_EVENT */
	json_t *msg = opts ? json_pack("[s{sisOss}o]", cl->uid, "type", PL_SIO_EVENT, "data",
				       m->payload, "nsp", base->nsp->name, opts)
			   : NULL;
	struct pl_sbuf out = {0};
	if (!msg || pl_msgpack_encode(&out, msg, (struct pl_frame *const *)m->attachments,
				      m->n_attachments)) {
		pl_warn("cluster: cannot encode a broadcast of %s", base->nsp->name);
		pl_redis_lost(cl->redis);
	} else if (t && t->n_rooms == 1) {
		size_t n = strlen(a->channel) + strlen(t->rooms[0]) + 2;
		char *ch = malloc(n);
		if (ch) {
			snprintf(ch, n, "%s%s#", a->channel, t->rooms[0]);
			publish(cl, ch, out.data, out.len);
		} else {
			pl_redis_lost(cl->redis);
		}
		free(ch);
	} else {
		publish(cl, a->channel, out.data, out.len);
	}
	pl_sbuf_close(&out);
	json_decref(msg);
}

/* ---- asking the other nodes, as RedisAdapter's requests do ---- */

/*
 * A request of this node: the number of nodes comes first (PUBSUB NUMSUB of the request
 * channel, as serverCount() does), then the request is published and the answers counted on
 * the response channel until every other node answered or the timeout.
 */
struct ask {
	struct cadapter *a;    /* the namespace's adapter */
	struct ask *next;      /* the cluster's other asks */
	enum pl_ask_kind kind; /* what is asked */
	json_t *req;	       /* the request, published once the count is known */
	char rid[32];	       /* its requestId */
	unsigned timeout_ms;   /* how long to wait for the answers */
	unsigned want, got;    /* answers awaited, and come */
	json_t *answers;       /* their items */
	pl_answers_fn fn;      /* told once; NULL once told or cancelled */
	void *ud;
	uv_timer_t timer; /* the timeout */
	bool counting;	  /* NUMSUB not answered yet (it owns the ask until then) */
	bool timing;	  /* the timer is open (it owns the ask until closed) */
};

static void ask_maybe_free(struct ask *q)
{
	if (q->counting || q->timing || q->fn)
		return;
	json_decref(q->req);
	json_decref(q->answers);
	free(q);
}

static void ask_timer_closed(uv_handle_t *h)
{
	struct ask *q = h->data;
	q->timing = false;
	ask_maybe_free(q);
}

/* Ends q: off the list, fn told (unless cancelled), the timer closed. */
static void ask_end(struct ask *q, int err, bool tell)
{
	struct pl_cluster *cl = q->a->cl;
	for (struct ask **p = &cl->asks; *p; p = &(*p)->next)
		if (*p == q) {
			*p = q->next;
			break;
		}
	pl_answers_fn fn = q->fn;
	q->fn = NULL;
	if (fn && tell)
		fn(q->answers, err, q->ud);
	if (q->timing && !uv_is_closing((uv_handle_t *)&q->timer))
		uv_close((uv_handle_t *)&q->timer, ask_timer_closed);
	ask_maybe_free(q);
}

static void ask_timed_out(uv_timer_t *t)
{
	struct ask *q = t->data;
	pl_debug("cluster: %u of %u nodes answered request %s in time", q->got, q->want, q->rid);
	ask_end(q, -ETIMEDOUT, true);
}

static void ask_counted(void *ud, void *reply)
{
	struct ask *q = ud;
	q->counting = false;
	if (!q->fn) { /* cancelled or ended meanwhile */
		ask_maybe_free(q);
		return;
	}
	redisReply *r = reply;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[1]->type != REDIS_REPLY_INTEGER) {
		ask_end(q, -ENOTCONN, true);
		return;
	}
	long long nodes = r->element[1]->integer;
	if (q->kind == PL_ASK_SERVERS) {
		json_array_append_new(q->answers, json_integer(nodes > 0 ? nodes : 1));
		ask_end(q, 0, true);
		return;
	}
	if (nodes <= 1) {
		ask_end(q, 0, true);
		return;
	}
	q->want = (unsigned)(nodes - 1);
	publish_json(q->a->cl, q->a->req, q->req);
	uv_timer_start(&q->timer, ask_timed_out, q->timeout_ms, 0);
}

/* The request object of lib/index.ts for kind, with requestId rid (none for PL_ASK_SERVERS). */
static json_t *request_of(struct cadapter *a, enum pl_ask_kind kind, const struct parley_target *t,
			  const struct parley_message *m, const char *rid)
{
	const char *uid = a->cl->uid;
	switch (kind) {
	case PL_ASK_FETCH:
		return json_pack("{sssssiso*}", "uid", uid, "requestId", rid, "type",
				 REQ_REMOTE_FETCH, "opts", opts_of(t));
	case PL_ASK_ROOMS:
		return json_pack("{sssssi}", "uid", uid, "requestId", rid, "type", REQ_ALL_ROOMS);
	case PL_ASK_EMIT:
		return json_pack("{sssssisO}", "uid", uid, "requestId", rid, "type",
				 REQ_SERVER_SIDE_EMIT, "data", m->payload);
	default: return NULL; /* PL_ASK_SERVERS: the count is all it needs */
	}
}

static int c_ask(struct pl_adapter *base, enum pl_ask_kind kind, const struct parley_target *t,
		 const struct parley_message *m, unsigned timeout_ms, pl_answers_fn fn, void *ud,
		 void **handle)
{
	struct cadapter *a = (struct cadapter *)base;
	struct pl_cluster *cl = a->cl;
	if (!cluster_up(cl))
		return -ENOTCONN;
	if (m && m->n_attachments)
		return -ENOTSUP;
	struct ask *q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->a = a;
	q->kind = kind;
	q->timeout_ms = timeout_ms;
	q->fn = fn;
	q->ud = ud;
	snprintf(q->rid, sizeof q->rid, "%s-%llu", cl->uid, ++cl->next_request);
	q->answers = json_array();
	q->req = request_of(a, kind, t, m, q->rid);
	const char *argv[] = {"PUBSUB", "NUMSUB", a->req};
	size_t lens[] = {6, 6, strlen(a->req)};
	if (!q->answers || (!q->req && kind != PL_ASK_SERVERS) ||
	    pl_redis_command(cl->redis, ask_counted, q, 3, argv, lens) != 0) {
		json_decref(q->answers);
		json_decref(q->req);
		free(q);
		return cluster_up(cl) ? -ENOMEM : -ENOTCONN;
	}
	q->counting = true;
	uv_timer_init(cl->srv->loop, &q->timer);
	q->timer.data = q;
	q->timing = true;
	q->next = cl->asks;
	cl->asks = q;
	*handle = q;
	return 0;
}

static void c_ask_cancel(struct pl_adapter *base, void *handle)
{
	(void)base;
	ask_end(handle, 0, false);
}

/* An answer to one of this node's requests. */
static void on_response(struct pl_cluster *cl, const char *p, size_t n)
{
	unsigned n_att = 0; /* none kept: an answer carries no attachments */
	json_t *resp = n && p[0] == '{' ? json_loadb(p, n, JSON_DECODE_INT_AS_REAL, NULL)
					: pl_msgpack_decode(p, n, NULL, &n_att, 0);
	const char *rid = json_string_value(json_object_get(resp, "requestId"));
	struct ask *q = cl->asks;
	while (rid && q && strcmp(q->rid, rid) != 0)
		q = q->next;
	if (!q || q->counting) {
		json_decref(resp);
		return; /* another node's, or one that ended */
	}
	const char *field = q->kind == PL_ASK_FETCH   ? "sockets"
			    : q->kind == PL_ASK_ROOMS ? "rooms"
						      : NULL;
	json_t *v = field ? json_object_get(resp, field) : json_object_get(resp, "data");
	if (field && json_is_array(v))
		json_array_extend(q->answers, v);
	else if (!field)
		json_array_append(q->answers, v ? v : json_null());
	json_decref(resp);
	if (++q->got >= q->want)
		ask_end(q, 0, true);
}

/* Every ask still waiting is told the node stops. */
static void asks_stop(struct pl_cluster *cl)
{
	while (cl->asks)
		ask_end(cl->asks, -ESHUTDOWN, true);
}

static void c_tell(struct pl_adapter *base, enum pl_tell_kind kind, const struct parley_target *t,
		   const char *room, bool close, const struct parley_message *m)
{
	struct cadapter *a = (struct cadapter *)base;
	if (!cluster_up(a->cl))
		return;
	const char *uid = a->cl->uid;
	json_t *req = NULL;
	switch (kind) {
	case PL_TELL_JOIN:
	case PL_TELL_LEAVE:
		req = json_pack("{sssiso*s[s]}", "uid", uid, "type",
				kind == PL_TELL_JOIN ? REQ_REMOTE_JOIN : REQ_REMOTE_LEAVE, "opts",
				opts_of(t), "rooms", room);
		break;
	case PL_TELL_DISCONNECT:
		req = json_pack("{sssiso*sb}", "uid", uid, "type", REQ_REMOTE_DISCONNECT, "opts",
				opts_of(t), "close", close);
		break;
	case PL_TELL_EMIT:
		if (!m->n_attachments)
			req = json_pack("{sssisO}", "uid", uid, "type", REQ_SERVER_SIDE_EMIT,
					"data", m->payload);
		break;
	}
	if (req)
		publish_json(a->cl, a->req, req);
	else
		pl_warn("cluster: cannot tell the other nodes of %s", base->nsp->name);
	json_decref(req);
}

static void c_free(struct pl_adapter *base)
{
	struct cadapter *a = (struct cadapter *)base;
	for (struct ask *q = a->cl->asks, *next; q; q = next) {
		next = q->next;
		if (q->a == a)
			ask_end(q, -ESHUTDOWN, true);
	}
	for (struct cadapter **p = &a->cl->adapters; *p; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			break;
		}
	if (a->local)
		a->local->ops->free(a->local);
	free(a->channel);
	free(a->pattern);
	free(a->req);
	free(a->resp);
	free(a->resp_mine);
	free(a);
}

static const struct pl_adapter_ops cluster_ops = {
	.add = c_add,
	.del = c_del,
	.del_all = c_del_all,
	.broadcast = c_broadcast,
	.room = c_room,
	.fetch_sockets = c_fetch_sockets,
	.socket_rooms = c_socket_rooms,
	.ask = c_ask,
	.ask_cancel = c_ask_cancel,
	.tell = c_tell,
	.free = c_free,
	.publish = c_publish,
};

/* a, b, c and d end to end, caller frees; NULL without memory. */
static char *concat(const char *a, const char *b, const char *c, const char *d)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s%s", a, b, c, d);
	return s;
}

struct pl_adapter *pl_cluster_adapter_new(struct pl_nsp *nsp, void *ud)
{
	struct pl_cluster *cl = ud;
	struct cadapter *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->base.ops = &cluster_ops;
	a->base.nsp = nsp;
	a->cl = cl;
	const char *p = cl->prefix, *name = nsp->name;
	char mine[16];
	snprintf(mine, sizeof mine, "#%s#", cl->uid);
	a->channel = concat(p, "#", name, "#");
	a->pattern = concat(p, "#", name, "#*");
	a->req = concat(p, "-request#", name, "#");
	a->resp = concat(p, "-response#", name, "#");
	a->resp_mine = concat(p, "-response#", name, mine);
	a->local = pl_adapter_local_new(nsp);
	if (!a->local || !a->channel || !a->pattern || !a->req || !a->resp || !a->resp_mine) {
		c_free(&a->base); /* not listed yet: it only frees */
		return NULL;
	}
	a->next = cl->adapters;
	cl->adapters = a;
	subscribe(a);
	return &a->base;
}

/* ---- what other nodes send ---- */

/* Whether a room of a channel ("<prefix>#<nsp>#<room>#") has anyone here: Node's hasRoom,
 * where every socket is in the room of its own id. */
static bool has_room(struct cadapter *a, const char *room)
{
	struct pl_nsp *nsp = a->base.nsp;
	if (a->local->ops->room(a->local, room) || pl_nsp_socket(nsp, room))
		return true;
	size_t plen = strlen(PARLEY_USER_ROOM);
	if (strncmp(room, PARLEY_USER_ROOM, plen) != 0)
		return false;
	json_t *uid = json_loads(room + plen, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
	bool here = uid && pl_nsp_user_first(nsp, uid);
	json_decref(uid);
	return here;
}

/* A broadcast from another node: delivered to the sockets here (no EMIT hooks: they ran on
 * the node where it entered), with this node's recovery offset. */
static void on_broadcast(struct cadapter *a, const char *channel, const char *p, size_t n)
{
	struct pl_cluster *cl = a->cl;
	size_t clen = strlen(a->channel), chlen = strlen(channel);
	if (chlen > clen + 1) {
		char *room = strndup(channel + clen, chlen - clen - 1);
		bool here = room && has_room(a, room);
		free(room);
		if (!here)
			return;
	}
	struct pl_frame *att[PL_SIO_MAX_ATTACHMENTS];
	unsigned n_att = 0;
	json_t *msg = pl_msgpack_decode(p, n, att, &n_att, PL_SIO_MAX_ATTACHMENTS);
	json_t *uid = json_array_get(msg, 0), *packet = json_array_get(msg, 1);
	json_t *opts = json_array_get(msg, 2);
	const char *nsp = json_string_value(json_object_get(packet, "nsp"));
	json_t *data = json_object_get(packet, "data");
	if (!msg || !json_is_string(uid) || !json_is_array(data) ||
	    !json_is_string(json_array_get(data, 0))) {
		pl_debug("cluster: ignoring a malformed broadcast on %s", channel);
		goto out;
	}
	if (strcmp(json_string_value(uid), cl->uid) == 0)
		goto out; /* our own */
	if (strcmp(nsp ? nsp : "/", a->base.nsp->name) != 0)
		goto out;
	struct sel s;
	if (sel_init(a, &s, json_object_get(opts, "rooms"), json_object_get(opts, "except")))
		goto out;
	if (!s.nobody) {
		struct pl_sio *sio = a->base.nsp->sio;
		json_t *marked = pl_socket_with_offset(sio, data, pl_socket_offset(sio));
		struct parley_message m = {.payload = marked ? marked : data,
					   .attachments = (parley_binary *const *)att,
					   .n_attachments = n_att};
		a->local->ops->broadcast(a->local, &s.t, &m);
		json_decref(marked);
	}
	sel_close(&s);
out:
	for (unsigned i = 0; i < n_att; i++)
		pl_frame_unref(att[i]);
	json_decref(msg);
}

static void respond(struct cadapter *a, json_t *resp)
{
	if (resp)
		publish_json(a->cl, a->resp, resp);
	json_decref(resp);
}

/* The state of a broadcast with acks: one per request, shared by its sockets' acks. */
struct bcast {
	struct pl_cluster *cl; /* to publish the answers */
	char *resp;	       /* the response channel */
	json_t *request_id;    /* the request's id */
	unsigned refs;	       /* acks still awaited, plus the request while it is handled */
};

static void bcast_unref(struct bcast *b)
{
	if (--b->refs)
		return;
	free(b->resp);
	json_decref(b->request_id);
	free(b);
}

static void bcast_ack(parley_socket *s, json_t *args, void *ud)
{
	struct bcast *b = ud;
	(void)s;
	if (args && !b->cl->stopped) {
		/* BROADCAST_ACK is msgpack; the ack callback of Node gets the first argument */
		json_t *resp = json_pack("{sisO}", "type", REQ_BROADCAST_ACK, "requestId",
					 b->request_id);
		json_t *arg = json_array_get(args, 0);
		if (resp && arg)
			json_object_set(resp, "packet", arg);
		struct pl_sbuf out = {0};
		if (resp && pl_msgpack_encode(&out, resp, NULL, 0) == 0)
			publish(b->cl, b->resp, out.data, out.len);
		else
			pl_debug("cluster: cannot relay an ack (binary acks are not relayed)");
		pl_sbuf_close(&out);
		json_decref(resp);
	}
	bcast_unref(b);
}

/* BROADCAST: each selected socket is asked for an ack; the requester hears how many, then
 * each answer. */
static void broadcast_with_ack(struct cadapter *a, json_t *req, struct pl_frame **att,
			       unsigned n_att)
{
	json_t *packet = json_object_get(req, "packet"), *opts = json_object_get(req, "opts");
	json_t *data = json_object_get(packet, "data");
	json_t *rid = json_object_get(req, "requestId");
	if (!json_is_array(data) || !json_is_string(json_array_get(data, 0)) || !rid)
		return;
	json_t *timeout = json_object_get(json_object_get(opts, "flags"), "timeout");
	unsigned ms = a->base.nsp->sio->srv->cfg->ack_timeout;
	if (json_is_number(timeout) && json_number_value(timeout) >= 1 &&
	    json_number_value(timeout) <= 3600000)
		ms = (unsigned)json_number_value(timeout);
	struct pl_collected c;
	struct bcast *b = calloc(1, sizeof *b);
	if (!b || !(b->resp = strdup(a->resp)) || collect(a, opts, &c)) {
		if (b)
			free(b->resp);
		free(b);
		return;
	}
	b->cl = a->cl;
	b->request_id = json_incref(rid);
	b->refs = 1;
	long long count = 0;
	int type = n_att ? PL_SIO_BINARY_EVENT : PL_SIO_EVENT;
	for (size_t i = 0; i < c.n; i++) {
		struct pl_socket *s = c.v[i];
		if (s->state != PL_SOCKET_CONNECTED)
			continue;
		long long id = s->next_ack_id++;
		struct pl_frame *f = pl_packet_frame(a->base.nsp->name, type, id, data, n_att);
		if (!f)
			continue;
		int rc = pl_client_send(s->client, f, att, n_att);
		pl_frame_unref(f);
		if (rc || s->state != PL_SOCKET_CONNECTED)
			continue;
		b->refs++;
		if (pl_ack_await(s, id, ms, bcast_ack, b)) {
			b->refs--;
			continue;
		}
		count++;
	}
	pl_collected_close(&c);
	/* the acks come from the network later: the count always goes first */
	respond(a, json_pack("{sisOsI}", "type", REQ_BROADCAST_CLIENT_COUNT, "requestId", rid,
			     "clientCount", (json_int_t)count));
	bcast_unref(b);
}

/* REMOTE_JOIN, REMOTE_LEAVE and REMOTE_DISCONNECT, with opts (addSockets, delSockets,
 * disconnectSockets) or the older form naming one socket by sid. */
static void remote_act(struct cadapter *a, int type, json_t *req)
{
	json_t *opts = json_object_get(req, "opts");
	struct pl_collected c;
	if (opts) {
		if (collect(a, opts, &c))
			return;
	} else {
		memset(&c, 0, sizeof c);
		const char *sid = json_string_value(json_object_get(req, "sid"));
		struct pl_socket *s = sid ? pl_nsp_socket(a->base.nsp, sid) : NULL;
		if (!s)
			return;
		pl_collect_one(s, &c);
		if (c.failed)
			return;
	}
	json_t *rooms = opts ? json_object_get(req, "rooms") : NULL;
	const char *room = json_string_value(json_object_get(req, "room"));
	bool close = json_is_true(json_object_get(req, "close"));
	enum pl_tell_kind kind = type == REQ_REMOTE_JOIN    ? PL_TELL_JOIN
				 : type == REQ_REMOTE_LEAVE ? PL_TELL_LEAVE
							    : PL_TELL_DISCONNECT;
	if (kind == PL_TELL_DISCONNECT) {
		pl_collected_act(&c, kind, NULL, close);
	} else {
		size_t j;
		json_t *r;
		json_array_foreach(rooms, j, r)
		    pl_collected_act(&c, kind, json_string_value(r), false);
		pl_collected_act(&c, kind, room, false);
	}
	pl_collected_close(&c);
	if (!opts)
		respond(a, json_pack("{sO}", "requestId", json_object_get(req, "requestId")));
}

/*
 * A server-side emit: the SERVER_EMIT hooks hear it. With a requestId the requester waits for
 * every node's answer: the first element of what a handler left in evt->reject, or, so that it
 * never waits in vain, what this node is.
 */
static void server_side_emit(struct cadapter *a, json_t *req, json_t *rid)
{
	struct pl_nsp *nsp = a->base.nsp;
	struct pl_hooks *h = nsp->sio->hooks;
	json_t *data = json_object_get(req, "data"), *answer = NULL;
	json_t *name = json_array_get(data, 0);
	if (json_is_string(name) && pl_hooks_active(h, PARLEY_HOOK_SERVER_EMIT)) {
		char *orig = (char *)json_string_value(name);
		json_t *args = json_array();
		for (size_t i = 1; args && i < json_array_size(data); i++)
			json_array_append(args, json_array_get(data, i));
		struct parley_evt_message ev = {
		    .size = sizeof ev, .name = orig, .args = args, .ack_id = rid ? 0 : -1};
		if (args)
			pl_hooks_run(h, PARLEY_HOOK_SERVER_EMIT, nsp->name, &ev);
		if (json_is_array(ev.reject)) {
			answer = json_array_get(ev.reject, 0);
			answer = answer ? json_incref(answer) : json_null();
		}
		pl_hooks_message_done(&ev, orig);
	}
	if (!rid) {
		json_decref(answer);
		return;
	}
	if (!answer)
		answer = json_pack("{sssssI}", "server", "parley", "uid", a->cl->uid, "sockets",
				   (json_int_t)nsp->n);
	respond(a, json_pack("{sisOso*}", "type", REQ_SERVER_SIDE_EMIT, "requestId", rid, "data",
			     answer));
}

static void on_request(struct cadapter *a, const char *p, size_t n)
{
	struct pl_cluster *cl = a->cl;
	struct pl_nsp *nsp = a->base.nsp;
	struct pl_frame *att[PL_SIO_MAX_ATTACHMENTS];
	unsigned n_att = 0;
	json_t *req = n && p[0] == '{' ? json_loadb(p, n, JSON_DECODE_INT_AS_REAL, NULL)
				       : pl_msgpack_decode(p, n, att, &n_att, PL_SIO_MAX_ATTACHMENTS);
	json_t *type_v = json_object_get(req, "type");
	json_t *rid = json_object_get(req, "requestId");
	const char *uid = json_string_value(json_object_get(req, "uid"));
	if (!json_is_number(type_v)) {
		pl_debug("cluster: ignoring a malformed request on %s", a->req);
		goto out;
	}
	if (uid && strcmp(uid, cl->uid) == 0)
		goto out; /* our own */
	int type = (int)json_number_value(type_v);
	switch (type) {
	case REQ_SOCKETS: {
		struct pl_collected c;
		json_t *opts = json_pack("{sO*}", "rooms", json_object_get(req, "rooms"));
		if (!opts || !rid || collect(a, opts, &c)) {
			json_decref(opts);
			break;
		}
		json_decref(opts);
		json_t *ids = json_array();
		for (size_t i = 0; i < c.n; i++)
			json_array_append_new(ids, json_string(c.v[i]->id));
		pl_collected_close(&c);
		respond(a, json_pack("{sOso}", "requestId", rid, "sockets", ids));
		break;
	}
	case REQ_ALL_ROOMS: {
		if (!rid)
			break;
		json_t *set = json_object();
		if (set && pl_rooms_add(nsp, set)) {
			json_decref(set);
			break;
		}
		json_t *rooms = pl_json_keys(set);
		json_decref(set);
		respond(a, json_pack("{sOso}", "requestId", rid, "rooms", rooms));
		break;
	}
	case REQ_REMOTE_JOIN:
	case REQ_REMOTE_LEAVE:
	case REQ_REMOTE_DISCONNECT:
		remote_act(a, type, req);
		break;
	case REQ_REMOTE_FETCH: {
		struct pl_collected c;
		if (!rid || collect(a, json_object_get(req, "opts"), &c))
			break;
		json_t *list = json_array();
		for (size_t i = 0; i < c.n; i++)
			json_array_append_new(list, pl_socket_describe(c.v[i]));
		pl_collected_close(&c);
		respond(a, json_pack("{sOso}", "requestId", rid, "sockets", list));
		break;
	}
	case REQ_SERVER_SIDE_EMIT:
		server_side_emit(a, req, rid);
		break;
	case REQ_BROADCAST:
		broadcast_with_ack(a, req, att, n_att);
		break;
	default:
		pl_debug("cluster: ignoring request type %d", type);
	}
out:
	for (unsigned i = 0; i < n_att; i++)
		pl_frame_unref(att[i]);
	json_decref(req);
}

/* The subscriber is up (again): every namespace subscribes. */
static void on_ready(void *ud)
{
	struct pl_cluster *cl = ud;
	for (struct cadapter *a = cl->adapters; a; a = a->next)
		subscribe(a);
}

/* Every subscribed message: the pattern's (broadcasts) and the channels' (requests). */
static void on_message(void *ud, const char *pattern, const char *channel, const char *p,
		       size_t n)
{
	struct pl_cluster *cl = ud;
	for (struct cadapter *a = cl->adapters; a; a = a->next) {
		if (pattern && strcmp(pattern, a->pattern) == 0 &&
		    strncmp(channel, a->channel, strlen(a->channel)) == 0) {
			on_broadcast(a, channel, p, n);
			return;
		}
		if (!pattern && strcmp(channel, a->req) == 0) {
			on_request(a, p, n);
			return;
		}
		if (!pattern &&
		    (strcmp(channel, a->resp) == 0 || strcmp(channel, a->resp_mine) == 0)) {
			on_response(cl, p, n);
			return;
		}
	}
}

/* ---- the cluster ---- */

static void random_uid(char out[7])
{
	/* uid2(6): six characters of [A-Za-z0-9] */
	static const char alnum[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	char id[PL_RANDOM_ID_LEN + 1];
	pl_random_id(id);
	for (int i = 0; i < 6; i++)
		out[i] = alnum[(unsigned char)id[i] % (sizeof alnum - 1)];
	out[6] = '\0';
}

struct pl_cluster *pl_cluster_new(struct pl_server *srv, const char *url, const char *prefix)
{
	static const struct pl_redis_handler handler = {on_ready, on_message};
	struct pl_cluster *cl = calloc(1, sizeof *cl);
	if (!cl || !(cl->prefix = strdup(prefix))) {
		free(cl);
		return NULL;
	}
	cl->srv = srv;
	random_uid(cl->uid);
	if (!(cl->redis = pl_redis_new(srv->loop, url, &handler, cl))) {
		free(cl->prefix);
		free(cl);
		return NULL;
	}
	pl_info("cluster: node %s, channels %s#<namespace>#", cl->uid, cl->prefix);
	return cl;
}

void pl_cluster_stop(struct pl_cluster *cl)
{
	if (!cl || cl->stopped)
		return;
	cl->stopped = true;
	asks_stop(cl);
	pl_redis_stop(cl->redis);
}

void pl_cluster_free(struct pl_cluster *cl)
{
	if (!cl)
		return;
	pl_redis_free(cl->redis);
	free(cl->prefix);
	free(cl);
}

bool pl_cluster_degraded(void *ud, char *buf, size_t n)
{
	struct pl_cluster *cl = ud;
	return pl_redis_degraded(cl->redis, buf, n);
}

struct pl_redis *pl_cluster_link(struct pl_cluster *cl)
{
	return cl->redis;
}

const char *pl_cluster_uid(const struct pl_cluster *cl)
{
	return cl->uid;
}
