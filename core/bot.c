/*
 * Bots (see bot.h). The sink queues frame references; an idle handle, started while the queue
 * is not empty, decodes them and calls the bot's callback. A callback may free its own bot or
 * others: delivery works on a detached batch and checks the bot after each call.
 */
#include "bot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "client.h"
#include "log.h"
#include "server.h"
#include "sio_codec.h"
#include "socket.h"

struct queued {
	struct pl_frame *f;
	struct queued *next;
};

struct pl_bot {
	struct pl_client client;      /* its client: the sink is bot_sink, conn is the bot */
	struct pl_socket *s;	      /* its socket (one reference held) */
	void *owner;		      /* for pl_bot_free_owner */
	parley_bot_fn fn;	      /* what receives its events */
	void *ud;		      /* fn's data */
	uv_idle_t *idle;	      /* delivers the queue (freed in its close callback) */
	struct queued *head, **tail;  /* frames not yet delivered */
	bool delivering;	      /* inside deliver(): free later */
	bool dead;		      /* freed while delivering */
	struct pl_bot *next, **pprev; /* every bot */
};

static struct pl_bot *bots;

static void deliver(uv_idle_t *h);

static int bot_send(struct pl_client *c, struct pl_frame *f)
{
	struct pl_bot *b = c->conn;
	if (!b || b->dead)
		return -EPIPE;
	if (f->binary)
		return 0; /* attachments: a bot sees their placeholders */
	struct queued *q = malloc(sizeof *q);
	if (!q)
		return -ENOMEM;
	q->f = pl_frame_ref(f);
	q->next = NULL;
	*b->tail = q;
	b->tail = &q->next;
	if (!uv_is_active((uv_handle_t *)b->idle))
		uv_idle_start(b->idle, deliver);
	return 0;
}

static void bot_close(struct pl_client *c, const char *reason, bool flush)
{
	(void)reason;
	(void)flush;
	while (c->sockets)
		pl_socket_remove(c->sockets, "bot closed");
}

static const char *bot_name(const struct pl_client *c)
{
	const struct pl_bot *b = c->conn;
	return b ? b->s->id : "-";
}

static const struct pl_sink_ops bot_sink = {bot_send, bot_close, bot_name};

static void drop_queue(struct queued *q)
{
	while (q) {
		struct queued *n = q->next;
		pl_frame_unref(q->f);
		free(q);
		q = n;
	}
}

static void idle_freed(uv_handle_t *h)
{
	free(h);
}

static void destroy(struct pl_bot *b)
{
	drop_queue(b->head);
	uv_close((uv_handle_t *)b->idle, idle_freed);
	b->s->client = NULL; /* a reference held elsewhere must not reach the freed client */
	pl_socket_unref(b->s);
	free(b);
}

static void deliver_one(struct pl_bot *b, struct pl_frame *f)
{
	const char *data = (const char *)pl_frame_data(f);
	if (f->len < 1 || data[0] != '4')
		return;
	struct pl_sio_packet p;
	if (pl_sio_decode(data + 1, f->len - 1, &p))
		return;
	if ((p.type == PL_SIO_EVENT || p.type == PL_SIO_BINARY_EVENT) &&
	    json_array_size(p.data) > 0) {
		json_t *first = json_array_get(p.data, 0);
		char num[40];
		const char *name = json_is_string(first) ? json_string_value(first) : num;
		if (!json_is_string(first))
			snprintf(num, sizeof num, "%g", json_number_value(first));
		/* with recovery on, an event without an ack id ends with its offset: not for bots */
		size_t n = json_array_size(p.data);
		if (b->s->nsp->sio->recovery && p.id < 0 && n > 1)
			n--;
		json_t *args = json_array();
		for (size_t i = 1; i < n; i++)
			json_array_append(args, json_array_get(p.data, i));
		if (args)
			b->fn((parley_socket *)b->s, name, args, b->ud);
		json_decref(args);
	}
	pl_sio_packet_close(&p);
}

static void deliver(uv_idle_t *h)
{
	struct pl_bot *b = h->data;
	struct queued *q = b->head;
	b->head = NULL;
	b->tail = &b->head;
	uv_idle_stop(h);
	b->delivering = true;
	while (q && !b->dead) {
		struct queued *n = q->next;
		if (b->fn)
			deliver_one(b, q->f);
		pl_frame_unref(q->f);
		free(q);
		q = n;
	}
	drop_queue(q);
	b->delivering = false;
	if (b->dead)
		destroy(b);
}

struct pl_bot *pl_bot_new(struct pl_nsp *nsp, void *owner, const char *name, parley_bot_fn fn,
			  void *ud)
{
	struct pl_server *srv = nsp->sio->srv;
	struct pl_bot *b = calloc(1, sizeof *b);
	if (!b || !(b->idle = malloc(sizeof *b->idle))) {
		free(b);
		return NULL;
	}
	b->client.srv = srv;
	b->client.sink = &bot_sink;
	b->client.conn = b;
	b->owner = owner;
	b->fn = fn;
	b->ud = ud;
	b->tail = &b->head;
	b->s = pl_socket_new(nsp, &b->client, NULL);
	if (!b->s) {
		free(b->idle);
		free(b);
		return NULL;
	}
	char uid[64];
	snprintf(uid, sizeof uid, "bot:%s", b->s->id);
	json_t *juid = json_string(uid), *jname = json_string(name ? name : "bot");
	int rc = juid && jname ? pl_nsp_set_identity(b->s, juid, jname) : -ENOMEM;
	json_decref(juid);
	json_decref(jname);
	if (rc || pl_socket_attach(b->s)) {
		pl_socket_unref(b->s);
		free(b->idle);
		free(b);
		return NULL;
	}
	pl_socket_ref(b->s); /* the bot's own, beside the namespace's */
	uv_idle_init(srv->loop, b->idle);
	b->idle->data = b;
	b->next = bots;
	if (bots)
		bots->pprev = &b->next;
	b->pprev = &bots;
	bots = b;
	return b;
}

void pl_bot_free(struct pl_bot *b)
{
	if (!b || b->dead)
		return;
	*b->pprev = b->next;
	if (b->next)
		b->next->pprev = b->pprev;
	b->dead = true;
	pl_socket_remove(b->s, "bot freed");
	b->client.conn = NULL;
	if (!b->delivering)
		destroy(b);
}

void pl_bot_free_owner(void *owner)
{
	/* from the head each time: a bot's leaving runs hooks that may free other bots */
	for (;;) {
		struct pl_bot *b = bots;
		while (b && b->owner != owner)
			b = b->next;
		if (!b)
			break;
		pl_bot_free(b);
	}
}

struct pl_socket *pl_bot_socket(struct pl_bot *b)
{
	return b->s;
}

struct pl_bot *pl_bot_of(const struct pl_socket *s)
{
	return s->client && s->client->sink == &bot_sink ? s->client->conn : NULL;
}

bool pl_socket_is_bot(const struct pl_socket *s)
{
	return s->client ? s->client->sink == &bot_sink : true;
}
