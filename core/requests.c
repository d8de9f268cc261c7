/*
 * The cluster operations of the extension API (see requests.h). A request holds this
 * server's part from the start; the adapter's ask adds the other servers' answers, or a timer
 * of 0 ms ends it on the next loop turn when there is nobody to ask.
 */
#include "requests.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "json.h"
#include "log.h"
#include "nsp.h"
#include "server.h"
#include "sio.h"
#include "socket.h"

#define DEFAULT_TIMEOUT_MS 5000

struct parley_request {
	parley_owner *owner;	    /* whose it is */
	struct pl_adapter *adapter; /* the namespace's, which asked the others */
	enum pl_ask_kind kind;	    /* what is asked */
	json_t *answers;	    /* the items so far (PL_ASK_ROOMS: a set, an object) */
	parley_answers_fn fn;	    /* told once */
	void *ud;
	void *handle;		     /* the adapter's ask, while it runs */
	uv_timer_t soon;	     /* ends it when nobody else is asked */
	bool timing;		     /* soon is open: freed when it is closed */
	bool ending;		     /* fn runs or has run: cancelling it is a no-op */
	int err;		     /* what soon tells */
	struct parley_request *next; /* every request */
	struct parley_request **pprev;
};

static struct parley_request *requests;

static void request_free(struct parley_request *r)
{
	json_decref(r->answers);
	free(r);
}

static void soon_closed(uv_handle_t *h)
{
	request_free(h->data);
}

/* Off the list; told (tell) with err; freed, or once its timer is closed. */
static void request_end(struct parley_request *r, int err, bool tell)
{
	if (r->pprev) {
		*r->pprev = r->next;
		if (r->next)
			r->next->pprev = r->pprev;
		r->pprev = NULL;
	}
	if (r->handle)
		r->adapter->ops->ask_cancel(r->adapter, r->handle);
	r->handle = NULL;
	r->ending = true;
	if (tell) {
		json_t *answers =
		    r->kind == PL_ASK_ROOMS ? pl_json_keys(r->answers) : json_incref(r->answers);
		r->fn(answers ? answers : r->answers, answers ? err : -ENOMEM, r->ud);
		json_decref(answers);
	}
	if (r->timing)
		uv_close((uv_handle_t *)&r->soon, soon_closed);
	else
		request_free(r);
}

static void soon_fired(uv_timer_t *t)
{
	struct parley_request *r = t->data;
	request_end(r, r->err, true);
}

/* The other servers answered (the adapter's ask ended). */
static void answered(json_t *answers, int err, void *ud)
{
	struct parley_request *r = ud;
	r->handle = NULL;
	size_t i;
	json_t *v;
	switch (r->kind) {
	case PL_ASK_ROOMS:
		json_array_foreach(answers, i, v) if (json_is_string(v))
		    json_object_set_new(r->answers, json_string_value(v), json_true());
		break;
	case PL_ASK_SERVERS:
		json_array_clear(r->answers);
		json_array_extend(r->answers, answers);
		break;
	default: json_array_extend(r->answers, answers);
	}
	request_end(r, err, true);
}

static void describe_one(struct pl_socket *s, void *ud)
{
	json_t *d = pl_socket_describe(s);
	if (d)
		json_array_append_new(ud, d);
}

/* This server's part of the answers. */
static json_t *local_part(struct pl_nsp *nsp, enum pl_ask_kind kind, const struct parley_target *t)
{
	json_t *v = kind == PL_ASK_ROOMS ? json_object() : json_array();
	if (!v)
		return NULL;
	if (kind == PL_ASK_FETCH)
		nsp->adapter->ops->fetch_sockets(nsp->adapter, t, describe_one, v);
	else if (kind == PL_ASK_ROOMS && pl_rooms_add(nsp, v))
		json_decref(v), v = NULL;
	else if (kind == PL_ASK_SERVERS)
		json_array_append_new(v, json_integer(1));
	return v;
}

parley_request *pl_request_start(parley_owner *o, struct pl_nsp *nsp, enum pl_ask_kind kind,
				 const struct parley_target *t, const struct parley_message *m,
				 uint64_t timeout_ms, parley_answers_fn fn, void *ud)
{
	if (!fn || (kind == PL_ASK_EMIT && (!m || !json_is_array(m->payload))))
		return NULL;
	struct parley_request *r = calloc(1, sizeof *r);
	if (!r || !(r->answers = local_part(nsp, kind, t))) {
		free(r);
		return NULL;
	}
	r->owner = o;
	r->adapter = nsp->adapter;
	r->kind = kind;
	r->fn = fn;
	r->ud = ud;
	unsigned ms = timeout_ms == 0	     ? DEFAULT_TIMEOUT_MS
		      : timeout_ms > 3600000 ? 3600000
					     : (unsigned)timeout_ms;
	struct pl_adapter *a = nsp->adapter;
	int rc = a->ops->ask ? a->ops->ask(a, kind, t, m, ms, answered, r, &r->handle) : 1;
	if (rc < 0 && rc != -ENOTCONN) {
		request_free(r);
		return NULL;
	}
	if (rc != 0) { /* nobody else, or the cluster is away: this server's part, next turn */
		if (rc < 0)
			pl_debug("cluster: a request answered by this server only (redis away)");
		r->err = rc < 0 ? rc : 0;
		uv_timer_init(nsp->sio->srv->loop, &r->soon);
		r->soon.data = r;
		r->timing = true;
		uv_timer_start(&r->soon, soon_fired, 0, 0);
	}
	r->next = requests;
	if (requests)
		requests->pprev = &r->next;
	r->pprev = &requests;
	requests = r;
	return r;
}

void pl_request_cancel(parley_request *r)
{
	if (r && !r->ending)
		request_end(r, 0, false);
}

void pl_requests_drop_owner(parley_owner *o)
{
	for (struct parley_request *r = requests, *next; r; r = next) {
		next = r->next;
		if (r->owner == o)
			request_end(r, 0, false);
	}
}

int pl_request_tell(struct pl_nsp *nsp, enum pl_tell_kind kind, const struct parley_target *t,
		    const char *room, bool close, const struct parley_message *m)
{
	struct pl_adapter *a = nsp->adapter;
	if (kind == PL_TELL_EMIT && (!m || !json_is_array(m->payload) || m->n_attachments))
		return -EINVAL;
	if (kind != PL_TELL_EMIT) {
		if ((kind == PL_TELL_JOIN || kind == PL_TELL_LEAVE) && (!room || !*room))
			return -EINVAL;
		struct pl_collected c;
		if (pl_collect(a, t, &c))
			return -ENOMEM;
		pl_collected_act(&c, kind, room, close);
		pl_collected_close(&c);
	}
	if (a->ops->tell)
		a->ops->tell(a, kind, t, room, close, m);
	return 0;
}
