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
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "client.h"
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

struct pl_cluster {
	struct pl_server *srv;	   /* owning server */
	struct pl_redis *redis;	   /* the link to Redis */
	char *prefix;		   /* channel prefix */
	char uid[7];		   /* this node on the channels */
	struct cadapter *adapters; /* every namespace's adapter */
	bool stopped;		   /* shutting down */
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

struct collected {
	struct pl_socket **v; /* referenced sockets */
	size_t n, cap;	      /* used and allocated */
	bool failed;	      /* out of memory */
};

static void collect_one(struct pl_socket *s, void *ud)
{
	struct collected *c = ud;
	if (c->n == c->cap) {
		struct pl_socket **g = pl_array_grow(c->v, &c->cap, sizeof *g, 16);
		if (!g) {
			c->failed = true;
			return;
		}
		c->v = g;
	}
	c->v[c->n++] = pl_socket_ref(s);
}

/* The local sockets that opts {rooms, except} select, referenced (collected first: acting on
 * one may change the rooms being walked). Release with collected_close. */
static int collect(struct cadapter *a, const json_t *opts, struct collected *out)
{
	memset(out, 0, sizeof *out);
	struct sel s;
	if (sel_init(a, &s, json_object_get(opts, "rooms"), json_object_get(opts, "except")))
		return -ENOMEM;
	if (!s.nobody)
		a->local->ops->fetch_sockets(a->local, &s.t, collect_one, out);
	sel_close(&s);
	return out->failed ? -ENOMEM : 0;
}

static void collected_close(struct collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		pl_socket_unref(c->v[i]);
	free(c->v);
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
	json_t *rooms = t ? string_list(t->rooms, t->n_rooms) : json_array();
	json_t *except = t ? string_list(t->except_rooms, t->n_except) : json_array();
	if (t && t->except && except)
		json_array_append_new(except, json_string(((struct pl_socket *)t->except)->id));
	/* packet {type: EVENT, data, nsp}: Node sends EVENT with binary data too, each node's
	 * encoder makes it a BINARY_EVENT */
	json_t *msg = rooms && except
			      ? json_pack("[s{sisOss}{sOsOs{}}]", cl->uid, "type", PL_SIO_EVENT,
					  "data", m->payload, "nsp", base->nsp->name, "rooms", rooms,
					  "except", except, "flags")
			      : NULL;
	json_decref(rooms);
	json_decref(except);
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

static size_t c_server_side_emit(struct pl_adapter *base, const struct parley_message *m)
{
	struct cadapter *a = (struct cadapter *)base;
	if (!cluster_up(a->cl) || m->n_attachments)
		return 0;
	json_t *req = json_pack("{sssisO}", "uid", a->cl->uid, "type", REQ_SERVER_SIDE_EMIT, "data",
				m->payload);
	if (req)
		publish_json(a->cl, a->req, req);
	json_decref(req);
	return req ? 1 : 0;
}

static void c_free(struct pl_adapter *base)
{
	struct cadapter *a = (struct cadapter *)base;
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
	.server_side_emit = c_server_side_emit,
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

static json_t *rooms_of(const struct pl_socket *s)
{
	json_t *r = json_array();
	json_array_append_new(r, json_string(s->id)); /* Node lists the socket's own room first */
	for (size_t i = 0; i < s->n_rooms; i++)
		json_array_append_new(r, json_string(s->rooms[i].room->name));
	return r;
}

/* A socket as RemoteSocket sees it: {id, handshake, rooms, data}. Parley keeps no request
 * headers or query: the handshake has the address, the path and the CONNECT auth. */
static json_t *describe(const struct pl_socket *s)
{
	char addr[PL_CLIENT_ADDRSTRLEN];
	const struct pl_config *cfg = s->nsp->sio->srv->cfg;
	json_t *data = json_object();
	if (s->userid)
		json_object_set(data, "userid", s->userid);
	if (s->name)
		json_object_set(data, "name", s->name);
	json_t *auth = s->auth ? json_incref(s->auth) : json_object();
	return json_pack("{sss{s{}sssbsbsss{}so}soso}", "id", s->id, "handshake", "headers",
			 "address", pl_client_address(s->client, addr), "xdomain", 0, "secure", 0,
			 "url", cfg->path, "query", "auth", auth, "rooms", rooms_of(s), "data",
			 data);
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
	struct collected c;
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
	collected_close(&c);
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
	struct collected c;
	if (opts) {
		if (collect(a, opts, &c))
			return;
	} else {
		memset(&c, 0, sizeof c);
		const char *sid = json_string_value(json_object_get(req, "sid"));
		struct pl_socket *s = sid ? pl_nsp_socket(a->base.nsp, sid) : NULL;
		if (!s)
			return;
		collect_one(s, &c);
		if (c.failed)
			return;
	}
	json_t *rooms = opts ? json_object_get(req, "rooms") : NULL;
	const char *room = json_string_value(json_object_get(req, "room"));
	bool close = json_is_true(json_object_get(req, "close"));
	for (size_t i = 0; i < c.n; i++) {
		struct pl_socket *s = c.v[i];
		if (s->state != PL_SOCKET_CONNECTED)
			continue;
		if (type == REQ_REMOTE_DISCONNECT) {
			pl_socket_disconnect(s, close);
			continue;
		}
		size_t j;
		json_t *r;
		json_array_foreach(rooms, j, r) {
			if (!json_is_string(r))
				continue;
			if (type == REQ_REMOTE_JOIN)
				pl_socket_join(s, json_string_value(r));
			else
				pl_socket_leave(s, json_string_value(r));
		}
		if (room && type == REQ_REMOTE_JOIN)
			pl_socket_join(s, room);
		else if (room)
			pl_socket_leave(s, room);
	}
	collected_close(&c);
	if (!opts)
		respond(a, json_pack("{sO}", "requestId", json_object_get(req, "requestId")));
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
		struct collected c;
		json_t *opts = json_pack("{sO*}", "rooms", json_object_get(req, "rooms"));
		if (!opts || !rid || collect(a, opts, &c)) {
			json_decref(opts);
			break;
		}
		json_decref(opts);
		json_t *ids = json_array();
		for (size_t i = 0; i < c.n; i++)
			json_array_append_new(ids, json_string(c.v[i]->id));
		collected_close(&c);
		respond(a, json_pack("{sOso}", "requestId", rid, "sockets", ids));
		break;
	}
	case REQ_ALL_ROOMS: {
		if (!rid)
			break;
		/* Node's rooms map: every room with members, and each socket's own */
		json_t *set = json_object();
		for (size_t i = 0; set && i < nsp->n; i++) {
			struct pl_socket *s = nsp->list[i];
			json_object_set_new(set, s->id, json_true());
			for (size_t j = 0; j < s->n_rooms; j++)
				json_object_set_new(set, s->rooms[j].room->name, json_true());
		}
		json_t *rooms = json_array();
		const char *k;
		json_t *v;
		json_object_foreach(set, k, v)
			json_array_append_new(rooms, json_string(k));
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
		struct collected c;
		if (!rid || collect(a, json_object_get(req, "opts"), &c))
			break;
		json_t *list = json_array();
		for (size_t i = 0; i < c.n; i++)
			json_array_append_new(list, describe(c.v[i]));
		collected_close(&c);
		respond(a, json_pack("{sOso}", "requestId", rid, "sockets", list));
		break;
	}
	case REQ_SERVER_SIDE_EMIT:
		/* Parley has no server-side listeners yet; with an ack the requester waits for
		 * every node's answer, so this one answers with what it is and its sockets */
		if (rid)
			respond(a, json_pack("{sisOs{sssssI}}", "type", REQ_SERVER_SIDE_EMIT,
					     "requestId", rid, "data", "server", "parley", "uid",
					     cl->uid, "sockets", (json_int_t)nsp->n));
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
		/* responses are for requests this node made: it makes none that wait yet */
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
