/*
 * Pending server-to-client acks (see ack.h), one list per socket, each with its own timer.
 */
#include "ack.h"

#include <errno.h>
#include <stdlib.h>

#include "nsp.h"
#include "server.h"

struct pl_pending_ack {
	long long id;		     /* the id sent to the client */
	parley_ack_fn fn;	     /* receives the answer */
	void *ud;		     /* its user data */
	uv_timer_t *timer;	     /* the timeout */
	struct pl_socket *socket;    /* the socket asked */
	struct pl_pending_ack *next; /* the socket's other pending acks */
};

static void timer_freed(uv_handle_t *h)
{
	free(h->data);
	free(h);
}

static void ack_free(struct pl_pending_ack *a)
{
	uv_timer_stop(a->timer);
	a->timer->data = a;
	uv_close((uv_handle_t *)a->timer, timer_freed);
}

static void unlink_ack(struct pl_pending_ack *a)
{
	for (struct pl_pending_ack **p = &a->socket->acks; *p; p = &(*p)->next) {
		if (*p == a) {
			*p = a->next;
			return;
		}
	}
}

static void timeout(uv_timer_t *t)
{
	struct pl_pending_ack *a = t->data;
	unlink_ack(a);
	a->fn((parley_socket *)a->socket, NULL, a->ud);
	ack_free(a);
}

int pl_ack_await(struct pl_socket *s, long long id, unsigned timeout_ms, parley_ack_fn fn,
		 void *ud)
{
	struct pl_pending_ack *a = calloc(1, sizeof *a);
	if (!a || !(a->timer = malloc(sizeof *a->timer))) {
		free(a);
		return -ENOMEM;
	}
	a->id = id;
	a->fn = fn;
	a->ud = ud;
	a->socket = s;
	uv_timer_init(s->nsp->sio->srv->loop, a->timer);
	a->timer->data = a;
	uv_timer_start(a->timer, timeout, timeout_ms, 0);
	a->next = s->acks;
	s->acks = a;
	return 0;
}

void pl_ack_answer(struct pl_socket *s, long long id, json_t *args)
{
	for (struct pl_pending_ack *a = s->acks; a; a = a->next) {
		if (a->id == id) {
			unlink_ack(a);
			a->fn((parley_socket *)s, args, a->ud);
			ack_free(a);
			return;
		}
	}
}

void pl_ack_cancel_all(struct pl_socket *s)
{
	while (s->acks) {
		struct pl_pending_ack *a = s->acks;
		s->acks = a->next;
		a->fn((parley_socket *)s, NULL, a->ud);
		ack_free(a);
	}
}
