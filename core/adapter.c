/*
 * The local adapter (see adapter.h): rooms as arrays of members, each membership recorded on
 * both sides so that joining and leaving are O(1) after the lookup. A broadcast is encoded once,
 * and an epoch stamp on each socket skips the excluded and the already served without a set.
 */
#include "adapter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "client.h"
#include "nsp.h"
#include "sio_codec.h"
#include "socket.h"

struct local {
	struct pl_adapter base; /* ops and namespace */
	struct pl_map rooms;	/* name -> struct pl_room */
};

static void room_free(struct local *l, struct pl_room *r)
{
	pl_map_del(&l->rooms, r->name);
	free(r->members);
	free(r->slots);
	free(r->name);
	free(r);
}

bool pl_adapter_in(const struct pl_socket *s, const char *room)
{
	for (size_t i = 0; i < s->n_rooms; i++)
		if (strcmp(s->rooms[i].room->name, room) == 0)
			return true;
	return false;
}

static int add(struct pl_adapter *a, struct pl_socket *s, const char *name)
{
	struct local *l = (struct local *)a;
	if (pl_adapter_in(s, name))
		return 0;
	struct pl_room *r = pl_map_get(&l->rooms, name);
	if (!r) {
		r = calloc(1, sizeof *r);
		if (!r || !(r->name = strdup(name)) || pl_map_put(&l->rooms, r->name, r)) {
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
		struct pl_membership *m = pl_array_grow(s->rooms, &s->cap_rooms, sizeof *m, 2);
		if (!m)
			goto fail;
		s->rooms = m;
	}
	r->members[r->n] = s;
	r->slots[r->n] = s->n_rooms;
	s->rooms[s->n_rooms++] = (struct pl_membership){r, r->n, 0};
	r->n++;
	return 0;
fail:
	if (r->n == 0)
		room_free(l, r); /* a room created for this join goes again */
	return -ENOMEM;
}

/* Removes membership k of s, swapping the last entries into the holes on both sides. Returns
 * the room, which the caller frees when it is empty. */
static struct pl_room *leave_at(struct pl_socket *s, size_t k)
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
	return r;
}

static bool del(struct pl_adapter *a, struct pl_socket *s, const char *name)
{
	for (size_t k = 0; k < s->n_rooms; k++) {
		if (strcmp(s->rooms[k].room->name, name) == 0) {
			struct pl_room *r = leave_at(s, k);
			if (r->n == 0)
				room_free((struct local *)a, r);
			return true;
		}
	}
	return false;
}

static void del_all(struct pl_adapter *a, struct pl_socket *s, pl_left_fn left, void *ud)
{
	while (s->n_rooms) {
		struct pl_room *r = leave_at(s, s->n_rooms - 1);
		/* the callback may make the room go or come back: it gets its own copy of the name */
		char *name = left ? strdup(r->name) : NULL;
		if (r->n == 0)
			room_free((struct local *)a, r);
		if (name)
			left(s, name, ud);
		free(name);
	}
}

/* Marks the sockets that a broadcast skips with epoch. */
static void mark_except(struct local *l, const struct parley_target *t, uint64_t epoch)
{
	struct pl_nsp *nsp = l->base.nsp;
	if (t->except)
		((struct pl_socket *)t->except)->mark = epoch;
	for (size_t i = 0; i < t->n_except; i++) {
		struct pl_room *r = pl_map_get(&l->rooms, t->except_rooms[i]);
		for (size_t j = 0; r && j < r->n; j++)
			r->members[j]->mark = epoch;
		struct pl_socket *one = pl_map_get(&nsp->sockets, t->except_rooms[i]);
		if (one)
			one->mark = epoch;
	}
}

/* Calls fn(s, ud) once for each socket of the target, returns how many it returned 0 for. */
static size_t each_target(struct local *l, const struct parley_target *t,
			  int (*fn)(struct pl_socket *s, void *ud), void *ud)
{
	struct pl_nsp *nsp = l->base.nsp;
	/* one stamp per walk: a socket whose mark equals it is skipped or already served */
	uint64_t epoch = ++nsp->sio->epoch;
	size_t n = 0;
	if (t)
		mark_except(l, t, epoch);
#define VISIT(sock)                                                                                \
	do {                                                                                       \
		struct pl_socket *v_ = (sock);                                                     \
		if (v_->mark != epoch) {                                                           \
			v_->mark = epoch;                                                          \
			if (fn(v_, ud) == 0)                                                       \
				n++;                                                               \
		}                                                                                  \
	} while (0)
	if (!t || t->n_rooms == 0) {
		for (size_t j = 0; j < nsp->n; j++)
			VISIT(nsp->list[j]);
		return n;
	}
	for (size_t i = 0; i < t->n_rooms; i++) {
		struct pl_room *r = pl_map_get(&l->rooms, t->rooms[i]);
		if (r) {
			for (size_t j = 0; j < r->n; j++)
				VISIT(r->members[j]);
		} else {
			/* every socket is in a room named by its id */
			struct pl_socket *one = pl_map_get(&nsp->sockets, t->rooms[i]);
			if (one)
				VISIT(one);
		}
	}
#undef VISIT
	return n;
}

struct delivery {
	const char *nsp;		/* the namespace's name */
	const struct parley_message *m; /* the message */
	struct pl_frame *frame;		/* the encoded packet, once there is a recipient */
};

static int deliver(struct pl_socket *s, void *ud)
{
	struct delivery *d = ud;
	const struct parley_message *m = d->m;
	if (!d->frame) {
		/* encoded once, for the first recipient: a broadcast that reaches nobody costs none */
		int type = m->n_attachments ? PL_SIO_BINARY_EVENT : PL_SIO_EVENT;
		d->frame = pl_packet_frame(d->nsp, type, -1, m->payload, m->n_attachments);
		if (!d->frame)
			return -ENOMEM;
	}
	return pl_client_send(s->client, d->frame, (struct pl_frame *const *)m->attachments,
			      m->n_attachments);
}

static size_t broadcast(struct pl_adapter *a, const struct parley_target *t,
			const struct parley_message *m)
{
	struct delivery d = {a->nsp->name, m, NULL};
	size_t n = each_target((struct local *)a, t, deliver, &d);
	pl_frame_unref(d.frame);
	return n;
}

static struct pl_room *room(struct pl_adapter *a, const char *name)
{
	return pl_map_get(&((struct local *)a)->rooms, name);
}

struct fetch {
	pl_each_socket_fn fn; /* the caller's callback */
	void *ud;	      /* its data */
};

static int fetch_one(struct pl_socket *s, void *ud)
{
	struct fetch *f = ud;
	f->fn(s, f->ud);
	return 0;
}

static size_t fetch_sockets(struct pl_adapter *a, const struct parley_target *t,
			    pl_each_socket_fn fn, void *ud)
{
	struct fetch f = {fn, ud};
	return each_target((struct local *)a, t, fetch_one, &f);
}

static size_t socket_rooms(struct pl_adapter *a, const struct pl_socket *s, pl_each_room_fn fn,
			   void *ud)
{
	(void)a;
	for (size_t i = 0; i < s->n_rooms; i++)
		fn(s->rooms[i].room->name, ud);
	return s->n_rooms;
}

static void local_free(struct pl_adapter *a)
{
	struct local *l = (struct local *)a;
	struct pl_room *r;
	/* rooms outlive their members only on error paths; free what is left */
	for (size_t pos = 0; pl_map_next(&l->rooms, &pos, (void **)&r);) {
		free(r->members);
		free(r->slots);
		free(r->name);
		free(r);
	}
	pl_map_close(&l->rooms);
	free(l);
}

static const struct pl_adapter_ops local_ops = {
	.add = add,
	.del = del,
	.del_all = del_all,
	.broadcast = broadcast,
	.room = room,
	.fetch_sockets = fetch_sockets,
	.socket_rooms = socket_rooms,
	.free = local_free, /* alone: nothing to publish, nobody to ask or tell */
};

struct pl_adapter *pl_adapter_local_new(struct pl_nsp *nsp)
{
	struct local *l = calloc(1, sizeof *l);
	if (!l)
		return NULL;
	l->base.ops = &local_ops;
	l->base.nsp = nsp;
	return &l->base;
}

/* ---- acting on gathered sockets ---- */

void pl_collect_one(struct pl_socket *s, void *ud)
{
	struct pl_collected *c = ud;
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

int pl_collect(struct pl_adapter *a, const struct parley_target *t, struct pl_collected *out)
{
	memset(out, 0, sizeof *out);
	a->ops->fetch_sockets(a, t, pl_collect_one, out);
	if (out->failed) {
		pl_collected_close(out);
		return -ENOMEM;
	}
	return 0;
}

void pl_collected_act(struct pl_collected *c, enum pl_tell_kind kind, const char *room, bool close)
{
	for (size_t i = 0; i < c->n; i++) {
		struct pl_socket *s = c->v[i];
		if (s->state != PL_SOCKET_CONNECTED)
			continue;
		if (kind == PL_TELL_DISCONNECT)
			pl_socket_disconnect(s, close);
		else if (kind == PL_TELL_JOIN && room)
			pl_socket_join(s, room);
		else if (kind == PL_TELL_LEAVE && room)
			pl_socket_leave(s, room);
	}
}

void pl_collected_close(struct pl_collected *c)
{
	for (size_t i = 0; i < c->n; i++)
		pl_socket_unref(c->v[i]);
	free(c->v);
	memset(c, 0, sizeof *c);
}

int pl_rooms_add(const struct pl_nsp *nsp, json_t *set)
{
	int rc = 0;
	for (size_t i = 0; i < nsp->n; i++) {
		struct pl_socket *s = nsp->list[i];
		rc |= json_object_set_new(set, s->id, json_true());
		for (size_t j = 0; j < s->n_rooms; j++)
			rc |= json_object_set_new(set, s->rooms[j].room->name, json_true());
	}
	return rc ? -ENOMEM : 0;
}
