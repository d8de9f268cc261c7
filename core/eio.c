/*
 * Engine.IO v4 sessions (see eio.h). A session lives in the server's table from its handshake
 * until it closes; requests and WebSockets that refer to it hold references, so it is freed only
 * when the last of them is gone, never inside one of their callbacks' callers.
 */
#include "eio.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <libwebsockets.h>

#include "eio_codec.h"
#include "history.h"
#include "log.h"
#include "server.h"
#include "transport.h"

#define CLOSE_GRACE_MS 2000 /* how long a closing session waits for its last packet to leave */

static void handle_freed(uv_handle_t *h)
{
	free(h);
}

static void flush_after_io(uv_check_t *h);
static void flush_soon(uv_idle_t *h);

int pl_eio_server_init(struct pl_server *srv, const struct pl_eio_handler *h)
{
	srv->handler = *h;
	memset(&srv->sessions, 0, sizeof srv->sessions);
	srv->flusher = malloc(sizeof *srv->flusher);
	srv->flush_soon = malloc(sizeof *srv->flush_soon);
	if (!srv->flusher || !srv->flush_soon) {
		free(srv->flusher);
		free(srv->flush_soon);
		srv->flusher = NULL;
		srv->flush_soon = NULL;
		return -ENOMEM;
	}
	uv_check_init(srv->loop, srv->flusher);
	srv->flusher->data = srv;
	uv_check_start(srv->flusher, flush_after_io);
	uv_unref((uv_handle_t *)srv->flusher);
	uv_idle_init(srv->loop, srv->flush_soon);
	srv->flush_soon->data = srv;
	return pl_deadlines_init(&srv->deadlines, srv->loop);
}

void pl_eio_close_all(struct pl_server *srv)
{
	/* closing changes the table: take the list first */
	size_t n = srv->sessions.count, i = 0;
	struct pl_eio **all = malloc((n ? n : 1) * sizeof *all);
	if (!all)
		return;
	struct pl_eio *s;
	for (size_t pos = 0; i < n && pl_map_next(&srv->sessions, &pos, (void **)&s);)
		all[i++] = pl_eio_ref(s);
	for (size_t k = 0; k < i; k++) {
		pl_eio_close(all[k], "server shutting down", true);
		pl_eio_unref(all[k]);
	}
	free(all);
}

void pl_eio_server_stop(struct pl_server *srv)
{
	pl_deadlines_close(&srv->deadlines);
	for (size_t i = 0; i < srv->n_flush; i++) {
		srv->flush[i]->flush_pending = false;
		pl_eio_unref(srv->flush[i]);
	}
	free(srv->flush);
	srv->flush = NULL;
	srv->n_flush = srv->cap_flush = 0;
	if (srv->flusher)
		uv_close((uv_handle_t *)srv->flusher, handle_freed);
	if (srv->flush_soon)
		uv_close((uv_handle_t *)srv->flush_soon, handle_freed);
	srv->flusher = NULL;
	srv->flush_soon = NULL;
}

void pl_eio_server_close(struct pl_server *srv)
{
	pl_map_close(&srv->sessions);
}

static void session_free(struct pl_eio *s)
{
	while (s->qcount) {
		pl_frame_unref(s->queue[s->qhead]);
		s->qhead = (s->qhead + 1) % s->qcap;
		s->qcount--;
	}
	if (s->queue != s->inline_queue)
		free(s->queue);
	free(s->query);
	free(s);
}

struct pl_eio *pl_eio_ref(struct pl_eio *s)
{
	s->refs++;
	return s;
}

void pl_eio_unref(struct pl_eio *s)
{
	if (s && --s->refs == 0)
		session_free(s);
}

void pl_random_id(char *out)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char r[20];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		/* getrandom on Linux only fails before the pool is seeded; fall back to time */
		uint64_t t = uv_hrtime();
		for (size_t i = 0; i < sizeof r; i++)
			r[i] = (unsigned char)(t >> (i % 8 * 8)) ^ (unsigned char)rand();
	}
	for (size_t i = 0; i < sizeof r; i++)
		out[i] = alphabet[r[i] & 63];
	out[sizeof r] = '\0';
}

/* Ends the session: the queue is dropped, transports are released, the table forgets it. */
static void finish(struct pl_eio *s)
{
	if (s->state == PL_EIO_STATE_CLOSED)
		return;
	s->state = PL_EIO_STATE_CLOSED;
	pl_deadline_cancel(&s->srv->deadlines, &s->heartbeat);
	if (s->get_wsi) {
		/* as in the reference server, a held GET gets a noop when the client closed the
		 * session and a close packet when the server did */
		pl_transport_respond(s->get_wsi, 200, "text/plain; charset=UTF-8",
				     s->client_closed ? "6" : "1", 1);
		s->get_wsi = NULL;
	}
	if (s->ws_wsi)
		pl_transport_close_ws(s->srv, s->ws_wsi);
	if (pl_map_get(&s->srv->sessions, s->sid) == s) {
		pl_map_del(&s->srv->sessions, s->sid);
		pl_eio_unref(s);
	}
}

static void heartbeat(struct pl_deadline *d);

static void arm(struct pl_eio *s, unsigned ms)
{
	if (s->state != PL_EIO_STATE_CLOSED)
		pl_deadline_set(&s->srv->deadlines, &s->heartbeat, ms, heartbeat);
}

static int enqueue(struct pl_eio *s, struct pl_frame *f)
{
	if (s->qcount == s->qcap) {
		size_t cap = s->qcap * 2;
		struct pl_frame **q = malloc(cap * sizeof *q);
		if (!q)
			return -ENOMEM;
		for (size_t i = 0; i < s->qcount; i++)
			q[i] = s->queue[(s->qhead + i) % s->qcap];
		if (s->queue != s->inline_queue)
			free(s->queue);
		s->queue = q;
		s->qcap = cap;
		s->qhead = 0;
	}
	s->queue[(s->qhead + s->qcount) % s->qcap] = pl_frame_ref(f);
	s->qcount++;
	s->qbytes += f->len;
	return 0;
}

static struct pl_frame *dequeue(struct pl_eio *s)
{
	struct pl_frame *f = s->queue[s->qhead];
	s->qhead = (s->qhead + 1) % s->qcap;
	s->qcount--;
	s->qbytes -= f->len;
	return f;
}

/*
 * Adds a session to the list handled at the end of this loop iteration: WebSocket sessions
 * with frames to send, and sessions to close (overflow). Returns 0 or -ENOMEM.
 */
static int schedule_flush(struct pl_eio *s)
{
	struct pl_server *srv = s->srv;
	if (s->flush_pending)
		return 0;
	if (srv->n_flush == srv->cap_flush) {
		struct pl_eio **a = pl_array_grow(srv->flush, &srv->cap_flush, sizeof *a, 256);
		if (!a)
			return -ENOMEM;
		srv->flush = a;
	}
	srv->flush[srv->n_flush++] = pl_eio_ref(s);
	s->flush_pending = true;
	if (srv->n_flush == 1)
		uv_idle_start(srv->flush_soon, flush_soon);
	return 0;
}

/* Asks the active transport to write what is queued. */
static void kick(struct pl_eio *s)
{
	if (!s->qcount)
		return;
	if (s->websocket && s->ws_wsi) {
		if (schedule_flush(s))
			pl_transport_want_write(s->ws_wsi); /* the slower path still works */
	} else if (!s->websocket && s->get_wsi && !s->upgrading)
		pl_transport_want_write(s->get_wsi);
}

static int queue_frame(struct pl_eio *s, struct pl_frame *f)
{
	if (s->overflow)
		return -ENOBUFS;
	if (enqueue(s, f))
		return -ENOMEM;
	if (s->qbytes > s->srv->cfg->max_send_queue) {
		pl_warn("eio %s: send queue over %zu bytes, disconnecting slow client", s->sid,
			s->srv->cfg->max_send_queue);
		/* closed at the end of this iteration, not here: the caller may be walking a
		 * room or namespace that the close would change under it */
		s->overflow = true;
		if (schedule_flush(s))
			pl_eio_close(s, "send queue full", false);
		return -ENOBUFS;
	}
	kick(s);
	return 0;
}

int pl_eio_send(struct pl_eio *s, struct pl_frame *f)
{
	if (s->state != PL_EIO_STATE_OPEN)
		return -EPIPE;
	return queue_frame(s, f);
}

static int send_typed(struct pl_eio *s, char type, const char *data, size_t len)
{
	struct pl_frame *f = pl_frame_new_typed(type, data, len);
	if (!f)
		return -ENOMEM;
	int rc = queue_frame(s, f);
	pl_frame_unref(f);
	return rc;
}

int pl_eio_send_text(struct pl_eio *s, const char *data, size_t len)
{
	if (s->state != PL_EIO_STATE_OPEN)
		return -EPIPE;
	return send_typed(s, PL_EIO_MESSAGE, data, len);
}

void pl_eio_close(struct pl_eio *s, const char *reason, bool flush)
{
	if (s->state != PL_EIO_STATE_OPEN) {
		if (!flush)
			finish(s);
		return;
	}
	pl_debug("eio %s: closing (%s)", s->sid, reason);
	s->state = PL_EIO_STATE_CLOSING;
	s->refs++; /* the upper layer may drop its last use of s in on_close */
	if (s->srv->handler.on_close)
		s->srv->handler.on_close(s, reason);
	s->user = NULL;
	if (flush && !s->upgrading && (s->websocket ? s->ws_wsi != NULL : true)) {
		send_typed(s, PL_EIO_CLOSE, NULL, 0);
		if (s->state == PL_EIO_STATE_CLOSING)
			arm(s, CLOSE_GRACE_MS);
	} else {
		finish(s);
	}
	pl_eio_unref(s);
}

static void heartbeat(struct pl_deadline *d)
{
	struct pl_eio *s = (struct pl_eio *)((char *)d - offsetof(struct pl_eio, heartbeat));
	if (s->state == PL_EIO_STATE_CLOSING) {
		finish(s);
		return;
	}
	if (s->awaiting_pong) {
		pl_eio_close(s, "ping timeout", false);
		return;
	}
	s->awaiting_pong = true;
	arm(s, s->srv->cfg->ping_timeout);
	send_typed(s, PL_EIO_PING, NULL, 0);
}

/* Creates a session, queues its handshake and tells the upper layer. */
static struct pl_eio *session_new(struct pl_server *srv, const struct pl_eio_request *r,
				  bool websocket)
{
	struct pl_eio *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->query = strdup(r->query ? r->query : "");
	if (!s->query)
		goto fail;
	pl_deadline_init(&s->heartbeat);
	s->queue = s->inline_queue;
	s->qcap = sizeof s->inline_queue / sizeof *s->inline_queue;
	s->srv = srv;
	s->websocket = websocket;
	do
		pl_random_id(s->sid);
	while (pl_map_get(&srv->sessions, s->sid));
	if (pl_map_put(&srv->sessions, s->sid, s))
		goto fail;
	s->refs = 1; /* the table */

	char open[256];
	int n = snprintf(open, sizeof open,
			 "{\"sid\":\"%s\",\"upgrades\":%s,\"pingInterval\":%u,\"pingTimeout\":%u,"
			 "\"maxPayload\":%zu}",
			 s->sid, websocket ? "[]" : "[\"websocket\"]", srv->cfg->ping_interval,
			 srv->cfg->ping_timeout, srv->cfg->max_payload);
	send_typed(s, PL_EIO_OPEN, open, (size_t)n);
	arm(s, srv->cfg->ping_interval);
	/* the one line that names the peer: later lines of this session carry its sid */
	pl_info("connection %s from %s (%s)", s->sid, r->remote ? r->remote : "?",
		websocket ? "websocket" : "polling");
	return s;
fail:
	free(s->query);
	free(s);
	return NULL;
}

int pl_eio_check(struct pl_server *srv, const struct pl_eio_request *r, bool websocket)
{
	const char *t = r->transport;
	if (!t || (strcmp(t, "polling") != 0 && strcmp(t, "websocket") != 0)) {
		pl_transport_respond_error(r->wsi, 400, 0, "Transport unknown");
		return -1;
	}
	if (websocket != (strcmp(t, "websocket") == 0)) {
		pl_transport_respond_error(r->wsi, 400, 3, "Bad request");
		return -1;
	}
	if (r->sid) {
		struct pl_eio *s = pl_map_get(&srv->sessions, r->sid);
		if (!s || s->state != PL_EIO_STATE_OPEN) {
			pl_transport_respond_error(r->wsi, 400, 1, "Session ID unknown");
			return -1;
		}
		/* polling requests after the upgrade are refused; a second WebSocket is accepted
		 * and closed at once (pl_eio_accept), as the reference server does */
		if (s->websocket && !websocket) {
			pl_transport_respond_error(r->wsi, 400, 3, "Bad request");
			return -1;
		}
		return 0;
	}
	if (!r->is_get) {
		pl_transport_respond_error(r->wsi, 400, 2, "Bad handshake method");
		return -1;
	}
	if (!r->eio || strcmp(r->eio, "4") != 0) {
		pl_transport_respond_error(r->wsi, 400, 5, "Unsupported protocol version");
		return -1;
	}
	if (srv->stopping || srv->sessions.count >= srv->cfg->max_connections) {
		pl_warn("refusing a session from %s: %s", r->remote,
			srv->stopping ? "shutting down" : "connection limit reached");
		pl_transport_respond_error(r->wsi, 503, 3, "Bad request");
		return -1;
	}
	return 0;
}

struct pl_eio *pl_eio_accept(struct pl_server *srv, const struct pl_eio_request *r, bool websocket)
{
	if (pl_eio_check(srv, r, websocket))
		return NULL;
	if (r->sid) {
		struct pl_eio *s = pl_map_get(&srv->sessions, r->sid);
		if (websocket && (s->websocket || s->ws_wsi)) {
			pl_transport_close_ws(srv, r->wsi);
			return NULL;
		}
		s->refs++; /* the request */
		return s;
	}
	struct pl_eio *s = session_new(srv, r, websocket);
	if (!s) {
		pl_transport_respond_error(r->wsi, 500, 3, "Bad request");
		return NULL;
	}
	s->refs++; /* the request */
	if (srv->handler.on_open)
		srv->handler.on_open(s);
	return s;
}

void pl_eio_poll_get(struct pl_eio *s, struct lws *wsi)
{
	if (s->get_wsi && pl_transport_peer_gone(s->get_wsi)) {
		/* the held GET was aborted: the client has gone, so has the session */
		struct lws *old = s->get_wsi;
		s->get_wsi = NULL;
		pl_transport_drop(old);
		pl_eio_close(s, "transport close", false);
		pl_transport_respond_error(wsi, 400, 1, "Session ID unknown");
		return;
	}
	if (s->get_wsi) {
		/* a second concurrent GET is a protocol error that ends the session */
		pl_warn("eio %s: overlapping polling GET", s->sid);
		pl_transport_respond(wsi, 400, NULL, NULL, 0);
		pl_eio_close(s, "transport error", false);
		return;
	}
	if (s->upgrading) {
		pl_transport_respond(wsi, 200, "text/plain; charset=UTF-8", "6", 1);
		return;
	}
	s->get_wsi = wsi;
	if (s->qcount)
		pl_transport_want_write(wsi);
}

int pl_eio_poll_writable(struct pl_eio *s, struct lws *wsi)
{
	(void)wsi;
	/* nothing leaves before the history it may contain is committed */
	pl_history_commit(s->srv->history);
	struct pl_sbuf body = {0};
	size_t n = 0;
	while (s->qcount) {
		struct pl_frame *f = dequeue(s);
		if (n++)
			pl_sbuf_putc(&body, PL_EIO_SEPARATOR);
		pl_eio_encode_polling_item(&body, f);
		pl_frame_unref(f);
	}
	s->get_wsi = NULL;
	pl_transport_respond(wsi, 200, "text/plain; charset=UTF-8", body.data, body.len);
	pl_sbuf_close(&body);
	if (s->state == PL_EIO_STATE_CLOSING)
		finish(s);
	return 0;
}

void pl_eio_request_gone(struct pl_eio *s, struct lws *wsi, bool aborted)
{
	if (s->get_wsi == wsi) {
		s->get_wsi = NULL;
		/* a client that aborts its held GET has gone away */
		if (aborted && s->state == PL_EIO_STATE_OPEN && !s->websocket && !s->upgrading)
			pl_eio_close(s, "transport close", false);
		else if (s->state == PL_EIO_STATE_CLOSING && !s->websocket)
			finish(s);
	}
}

/* Handles one packet from the client, whichever transport carried it. */
static int on_packet(struct pl_eio *s, const struct pl_eio_packet *p)
{
	if (s->state != PL_EIO_STATE_OPEN)
		return 0;
	switch (p->type) {
	case PL_EIO_MESSAGE:
		if (s->srv->handler.on_message)
			s->srv->handler.on_message(s, p->data, p->len, p->binary);
		return 0;
	case PL_EIO_PONG:
		if (s->awaiting_pong) {
			s->awaiting_pong = false;
			arm(s, s->srv->cfg->ping_interval);
		}
		return 0;
	case PL_EIO_CLOSE:
		s->client_closed = true;
		pl_eio_close(s, "transport close", false);
		return 1;
	case PL_EIO_PING:
		/* in v4 heartbeats go from server to client; a client ping is a protocol error */
		pl_warn("eio %s: invalid heartbeat direction", s->sid);
		pl_eio_close(s, "transport error", false);
		return 1;
	default: /* open, upgrade outside an upgrade, noop: nothing to do */
		return 0;
	}
}

static int payload_packet(const struct pl_eio_packet *p, void *ud)
{
	return on_packet(ud, p);
}

void pl_eio_poll_post(struct pl_eio *s, struct lws *wsi, char *body, size_t len)
{
	s->refs++;
	int rc = pl_eio_decode_payload(body, len, payload_packet, s);
	if (rc == PL_EIO_EBADPACKET) {
		pl_warn("eio %s: unparseable polling payload", s->sid);
		pl_transport_respond(wsi, 400, NULL, NULL, 0);
		pl_eio_close(s, "parse error", false);
	} else {
		pl_transport_respond(wsi, 200, "text/html", "ok", 2);
	}
	pl_eio_unref(s);
}

void pl_eio_ws_open(struct pl_eio *s, struct lws *wsi)
{
	s->ws_wsi = wsi;
	kick(s);
}

/* Writes "3probe" on the probing WebSocket ahead of the session queue. */
static void answer_probe(struct pl_eio *s)
{
	s->upgrading = true;
	s->probe_pending = true;
	if (s->get_wsi) {
		/* release the held GET so the client can pause polling */
		pl_transport_respond(s->get_wsi, 200, "text/plain; charset=UTF-8", "6", 1);
		s->get_wsi = NULL;
	}
}

void pl_eio_ws_message(struct pl_eio *s, struct lws *wsi, char *data, size_t len, bool binary)
{
	if (s->ws_wsi != wsi || s->state != PL_EIO_STATE_OPEN)
		return;
	struct pl_eio_packet p;
	if (binary) {
		p = (struct pl_eio_packet){.type = PL_EIO_MESSAGE, .binary = true, .data = data, .len = len};
	} else if (pl_eio_decode_text(data, len, &p)) {
		pl_warn("eio %s: unparseable WebSocket frame", s->sid);
		pl_eio_close(s, "parse error", false);
		return;
	}
	if (!s->websocket) {
		/* the probing WebSocket: only the probe and the upgrade are legal */
		if (p.type == PL_EIO_PING && p.len == 5 && memcmp(p.data, "probe", 5) == 0 &&
		    !s->upgrading) {
			answer_probe(s);
			pl_transport_want_write(wsi);
		} else if (p.type == PL_EIO_UPGRADE && s->upgrading) {
			s->upgrading = false;
			s->websocket = true;
			if (s->get_wsi) {
				pl_transport_respond(s->get_wsi, 200, "text/plain; charset=UTF-8", "6", 1);
				s->get_wsi = NULL;
			}
			pl_debug("eio %s: upgraded to websocket", s->sid);
			kick(s);
		} else {
			pl_warn("eio %s: unexpected packet during upgrade", s->sid);
			s->ws_wsi = NULL;
			s->upgrading = false;
			pl_transport_close_ws(s->srv, wsi);
			kick(s);
		}
		return;
	}
	on_packet(s, &p);
}

/*
 * Points at the queued WebSocket bytes, from the unsent rest of the oldest frame on: the frame
 * itself when it is alone or large (no copy), else up to wbuf_cap bytes of whole frames copied
 * into the server's scratch buffer. Both have LWS_PRE writable bytes before them.
 */
static unsigned char *gather(struct pl_eio *s, size_t *len)
{
	struct pl_server *srv = s->srv;
	size_t flen;
	unsigned char *fp = pl_frame_ws(s->queue[s->qhead], &flen);
	if (s->qcount == 1 || flen - s->head_sent >= srv->wbuf_cap / 2) {
		*len = flen - s->head_sent;
		return fp + s->head_sent;
	}
	size_t used = 0;
	for (size_t i = 0; i < s->qcount; i++) {
		unsigned char *p = pl_frame_ws(s->queue[(s->qhead + i) % s->qcap], &flen);
		size_t skip = i == 0 ? s->head_sent : 0;
		if (used + flen - skip > srv->wbuf_cap)
			break;
		memcpy(srv->wbuf + LWS_PRE + used, p + skip, flen - skip);
		used += flen - skip;
	}
	*len = used;
	return srv->wbuf + LWS_PRE;
}

/* Drops n sent bytes from the head of the queue. */
static void consume(struct pl_eio *s, size_t n)
{
	while (n && s->qcount) {
		size_t flen;
		pl_frame_ws(s->queue[s->qhead], &flen);
		size_t rest = flen - s->head_sent;
		if (n < rest) {
			s->head_sent += n;
			return;
		}
		n -= rest;
		s->head_sent = 0;
		pl_frame_unref(dequeue(s));
	}
}

/* After a write: more to send waits for writable; a closing session that is done ends. */
static void after_write(struct pl_eio *s, struct lws *wsi)
{
	if (s->qcount)
		pl_transport_want_write(wsi);
	else if (s->state == PL_EIO_STATE_CLOSING)
		finish(s);
}

/*
 * Sends queued frames straight to the socket, without waiting for lws's writable callback
 * (a round trip of several epoll_ctl calls in lws's libuv glue, per connection and message).
 * Whatever the kernel does not take waits for writable. Only when lws holds no unsent bytes
 * of its own, so the stream stays in order.
 */
static void direct_flush(struct pl_eio *s)
{
	struct lws *wsi = s->ws_wsi;
	if (!s->qcount)
		return;
	if (pl_transport_busy(wsi)) {
		pl_transport_want_write(wsi);
		return;
	}
	size_t len;
	unsigned char *p = gather(s, &len);
	ssize_t n = pl_transport_send(wsi, p, len);
	if (n < 0) {
		pl_eio_close(s, "transport error", false);
		return;
	}
	consume(s, (size_t)n);
	after_write(s, wsi);
}

/* Sends every session in the flush list. History is committed first: nothing leaves before
 * the messages it carries are stored. */
static void flush_all(struct pl_server *srv)
{
	if (!srv->n_flush)
		return;
	pl_history_commit(srv->history);
	/* sending may close sessions, whose handlers may queue more: the list can grow */
	for (size_t i = 0; i < srv->n_flush; i++) {
		struct pl_eio *s = srv->flush[i];
		s->flush_pending = false;
		if (s->overflow)
			pl_eio_close(s, "send queue full", false);
		else if (s->state != PL_EIO_STATE_CLOSED && s->websocket && s->ws_wsi)
			direct_flush(s);
		pl_eio_unref(s);
	}
	srv->n_flush = 0;
	uv_idle_stop(srv->flush_soon);
}

static void flush_after_io(uv_check_t *h)
{
	flush_all(h->data);
}

static void flush_soon(uv_idle_t *h)
{
	flush_all(h->data);
}

int pl_eio_ws_writable(struct pl_eio *s, struct lws *wsi)
{
	if (s->ws_wsi != wsi)
		return 0;
	if (!s->websocket) {
		/* probing: the only thing written before the upgrade is the probe answer */
		if (s->probe_pending) {
			s->probe_pending = false;
			static const unsigned char probe[] = "\x81\x06" "3probe";
			unsigned char buf[LWS_PRE + sizeof probe];
			memcpy(buf + LWS_PRE, probe, sizeof probe - 1);
			return pl_transport_ws_write_raw(wsi, buf + LWS_PRE, sizeof probe - 1);
		}
		return 0;
	}
	if (!s->qcount) {
		after_write(s, wsi);
		return 0;
	}
	/* nothing leaves before the history it may contain is committed */
	pl_history_commit(s->srv->history);
	size_t len;
	unsigned char *p = gather(s, &len);
	/* lws takes it all: what the kernel refuses, lws keeps and sends first */
	if (pl_transport_ws_write_raw(wsi, p, len))
		return -1;
	consume(s, len);
	after_write(s, wsi);
	return 0;
}

void pl_eio_ws_closed(struct pl_eio *s, struct lws *wsi)
{
	if (s->ws_wsi != wsi)
		return;
	s->ws_wsi = NULL;
	if (s->websocket) {
		if (s->state == PL_EIO_STATE_OPEN)
			pl_eio_close(s, "transport close", false);
		else
			finish(s);
	} else {
		s->upgrading = false; /* the probe failed: polling goes on */
		kick(s);
	}
}
