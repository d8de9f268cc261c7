/*
 * Engine.IO v4 sessions (see eio.h). A session lives in the server's table from its handshake
 * until it closes; requests and WebSockets that refer to it hold references, so it is freed only
 * when the last of them is gone, never inside one of their callbacks' callers. Bytes go out
 * through the server's pl_conn_ops only, after the before-write barrier has run.
 */
#include "eio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "barrier.h"
#include "eio_codec.h"
#include "log.h"
#include "rand.h"
#include "server.h"

#define CLOSE_GRACE_MS 2000 /* how long a closing session waits for its last packet to leave */
#define SCRATCH_CAP    65536 /* bytes of whole frames batched into one WebSocket write */
#define WS_HEADER_MAX  10    /* the largest server WebSocket frame header */

static const char text_plain[] = "text/plain; charset=UTF-8";

static void handle_freed(uv_handle_t *h)
{
	free(h);
}

static void flush_after_io(uv_check_t *h);
static void flush_soon(uv_idle_t *h);

static struct pl_eio *eio_ref(struct pl_eio *s)
{
	s->refs++;
	return s;
}

int pl_eio_server_init(struct pl_server *srv, const struct pl_eio_handler *h)
{
	struct pl_eio_server *es = &srv->eio;
	es->handler = *h;
	memset(&es->sessions, 0, sizeof es->sessions);
	es->flusher = malloc(sizeof *es->flusher);
	es->flush_soon = malloc(sizeof *es->flush_soon);
	if (!es->flusher || !es->flush_soon) {
		free(es->flusher);
		free(es->flush_soon);
		es->flusher = NULL;
		es->flush_soon = NULL;
		return -ENOMEM;
	}
	uv_check_init(srv->loop, es->flusher);
	es->flusher->data = srv;
	uv_check_start(es->flusher, flush_after_io);
	uv_unref((uv_handle_t *)es->flusher);
	uv_idle_init(srv->loop, es->flush_soon);
	es->flush_soon->data = srv;
	return pl_deadlines_init(&es->deadlines, srv->loop);
}

int pl_eio_set_conn_ops(struct pl_server *srv, const struct pl_conn_ops *ops)
{
	struct pl_eio_server *es = &srv->eio;
	/* frames are written in place: their headroom must hold the carrier's and a header */
	if (ops->headroom + WS_HEADER_MAX > PL_FRAME_HEADROOM)
		return -EINVAL;
	unsigned char *wbuf = malloc(ops->headroom + SCRATCH_CAP);
	if (!wbuf)
		return -ENOMEM;
	free(es->wbuf);
	es->wbuf = wbuf;
	es->wbuf_cap = SCRATCH_CAP;
	es->ops = ops;
	return 0;
}

void pl_eio_close_all(struct pl_server *srv)
{
	struct pl_eio_server *es = &srv->eio;
	/* closing changes the table: take the list first */
	size_t n = es->sessions.count, i = 0;
	struct pl_eio **all = malloc((n ? n : 1) * sizeof *all);
	if (!all)
		return;
	struct pl_eio *s;
	for (size_t pos = 0; i < n && pl_map_next(&es->sessions, &pos, (void **)&s);)
		all[i++] = eio_ref(s);
	for (size_t k = 0; k < i; k++) {
		pl_eio_close(all[k], "server shutting down", true);
		pl_eio_unref(all[k]);
	}
	free(all);
}

void pl_eio_server_stop(struct pl_server *srv)
{
	struct pl_eio_server *es = &srv->eio;
	pl_deadlines_close(&es->deadlines);
	for (size_t i = 0; i < es->n_flush; i++) {
		es->flush[i]->flush_pending = false;
		pl_eio_unref(es->flush[i]);
	}
	free(es->flush);
	es->flush = NULL;
	es->n_flush = es->cap_flush = 0;
	if (es->flusher)
		uv_close((uv_handle_t *)es->flusher, handle_freed);
	if (es->flush_soon)
		uv_close((uv_handle_t *)es->flush_soon, handle_freed);
	es->flusher = NULL;
	es->flush_soon = NULL;
}

void pl_eio_server_close(struct pl_server *srv)
{
	pl_map_close(&srv->eio.sessions);
	free(srv->eio.wbuf);
	srv->eio.wbuf = NULL;
	srv->eio.wbuf_cap = 0;
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

const char *pl_eio_query(const struct pl_eio *s)
{
	return s->query;
}

void pl_eio_unref(struct pl_eio *s)
{
	if (s && --s->refs == 0)
		session_free(s);
}

/* Ends the session: the queue is dropped, transports are released, the table forgets it. */
static void finish(struct pl_eio *s)
{
	if (s->state == PL_EIO_STATE_CLOSED)
		return;
	s->state = PL_EIO_STATE_CLOSED;
	struct pl_eio_server *es = &s->srv->eio;
	pl_deadline_cancel(&es->deadlines, &s->heartbeat);
	if (s->get_conn) {
		/* as in the reference server, a held GET gets a noop when the client closed the
		 * session and a close packet when the server did */
		es->ops->respond(s->get_conn, 200, text_plain, s->client_closed ? "6" : "1", 1);
		s->get_conn = NULL;
	}
	if (s->ws_conn)
		es->ops->close_ws(s->ws_conn, 1000);
	if (s->peer) {
		s->peer->sessions--;
		s->peer = NULL;
	}
	if (pl_map_get(&es->sessions, s->sid) == s) {
		pl_map_del(&es->sessions, s->sid);
		pl_eio_unref(s);
	}
}

static void heartbeat(struct pl_deadline *d);

static void arm(struct pl_eio *s, unsigned ms)
{
	if (s->state != PL_EIO_STATE_CLOSED)
		pl_deadline_set(&s->srv->eio.deadlines, &s->heartbeat, ms, heartbeat);
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
	struct pl_eio_server *es = &s->srv->eio;
	if (s->flush_pending)
		return 0;
	if (es->n_flush == es->cap_flush) {
		struct pl_eio **a = pl_array_grow(es->flush, &es->cap_flush, sizeof *a, 256);
		if (!a)
			return -ENOMEM;
		es->flush = a;
	}
	es->flush[es->n_flush++] = eio_ref(s);
	s->flush_pending = true;
	if (es->n_flush == 1)
		uv_idle_start(es->flush_soon, flush_soon);
	return 0;
}

/* Asks the active transport to write what is queued. */
static void kick(struct pl_eio *s)
{
	if (!s->qcount)
		return;
	if (s->websocket && s->ws_conn) {
		if (schedule_flush(s))
			s->srv->eio.ops->want_write(s->ws_conn); /* the slower path still works */
	} else if (!s->websocket && s->get_conn && !s->upgrading)
		s->srv->eio.ops->want_write(s->get_conn);
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
	if (s->srv->eio.handler.on_close)
		s->srv->eio.handler.on_close(s, reason);
	s->user = NULL;
	if (flush && !s->upgrading && (s->websocket ? s->ws_conn != NULL : true)) {
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

/*
 * Keeps the peer address in binary form: 17 bytes instead of its text. An IPv4-mapped IPv6
 * address (a dual-stack listener's view of an IPv4 peer) is kept as the IPv4 address it maps.
 */
static void set_address(struct pl_eio *s, const char *text)
{
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (!text)
		return;
	if (inet_pton(AF_INET, text, s->addr) == 1) {
		s->family = AF_INET;
	} else if (inet_pton(AF_INET6, text, s->addr) == 1) {
		s->family = AF_INET6;
		if (memcmp(s->addr, v4mapped, sizeof v4mapped) == 0) {
			memmove(s->addr, s->addr + 12, 4);
			s->family = AF_INET;
		}
	}
}

_Static_assert(PL_EIO_ADDRSTRLEN == INET6_ADDRSTRLEN, "room for any address's text");

const char *pl_eio_address(const struct pl_eio *s, char buf[PL_EIO_ADDRSTRLEN])
{
	buf[0] = '\0';
	if (s->family && !inet_ntop(s->family, s->addr, buf, PL_EIO_ADDRSTRLEN))
		buf[0] = '\0';
	return buf;
}

/* Creates a session, queues its handshake and tells the upper layer. */
static struct pl_eio *session_new(struct pl_server *srv, const struct pl_eio_request *r,
				  bool websocket)
{
	struct pl_eio *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	pl_deadline_init(&s->heartbeat);
	s->queue = s->inline_queue;
	s->qcap = sizeof s->inline_queue / sizeof *s->inline_queue;
	s->srv = srv;
	s->websocket = websocket;
	set_address(s, r->remote);
	s->query = r->query ? strdup(r->query) : NULL; /* none without memory: it is only shown */
	if (r->remote && (s->peer = pl_peer_get(&srv->peers, r->remote, uv_now(srv->loop))))
		s->peer->sessions++;
	do
		pl_random_id(s->sid);
	while (pl_map_get(&srv->eio.sessions, s->sid));
	if (pl_map_put(&srv->eio.sessions, s->sid, s)) {
		if (s->peer)
			s->peer->sessions--;
		free(s);
		return NULL;
	}
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
}

size_t pl_eio_error_json(const struct pl_eio_error *e, char *buf, size_t n)
{
	int len = snprintf(buf, n, "{\"code\":%d,\"message\":\"%s\"}", e->code, e->message);
	if (len < 0)
		len = 0;
	return (size_t)len < n ? (size_t)len : n ? n - 1 : 0;
}

/* Fills *err and returns -1. */
static int refuse(struct pl_eio_error *err, int status, int code, const char *message)
{
	*err = (struct pl_eio_error){status, code, message};
	return -1;
}

/* Answers a request with an Engine.IO error. */
static void respond_error(struct pl_server *srv, struct pl_conn *c, int status, int code,
			  const char *message)
{
	struct pl_eio_error e = {status, code, message};
	char body[160];
	size_t n = pl_eio_error_json(&e, body, sizeof body);
	srv->eio.ops->respond(c, status, "application/json", body, n);
}

int pl_eio_check(struct pl_server *srv, const struct pl_eio_request *r, bool websocket,
		 struct pl_eio_error *err)
{
	*err = (struct pl_eio_error){0, 0, NULL};
	const char *t = r->transport;
	if (!t || (strcmp(t, "polling") != 0 && strcmp(t, "websocket") != 0))
		return refuse(err, 400, 0, "Transport unknown");
	if (websocket != (strcmp(t, "websocket") == 0))
		return refuse(err, 400, 3, "Bad request");
	if (r->sid) {
		struct pl_eio *s = pl_map_get(&srv->eio.sessions, r->sid);
		if (!s || s->state != PL_EIO_STATE_OPEN)
			return refuse(err, 400, 1, "Session ID unknown");
		/* polling requests after the upgrade are refused; a second WebSocket is accepted
		 * and closed at once (pl_eio_accept), as the reference server does */
		if (s->websocket && !websocket)
			return refuse(err, 400, 3, "Bad request");
		return 0;
	}
	if (!r->is_get)
		return refuse(err, 400, 2, "Bad handshake method");
	if (!r->eio || strcmp(r->eio, "4") != 0)
		return refuse(err, 400, 5, "Unsupported protocol version");
	if (srv->stopping || srv->eio.sessions.count >= srv->cfg->max_connections) {
		static uint64_t last_warning;
		if (pl_log_due(&last_warning, uv_now(srv->loop)))
			pl_warn("refusing a session from %s: %s", r->remote,
				srv->stopping ? "shutting down" : "connection limit reached");
		return refuse(err, 503, 3, "Bad request");
	}
	return 0;
}

int pl_eio_admit(struct pl_server *srv, const struct pl_eio_request *r, struct pl_eio_error *err)
{
	static uint64_t last_warning;
	*err = (struct pl_eio_error){0, 0, NULL};
	if (r->sid || !r->remote)
		return 0;
	uint64_t now = uv_now(srv->loop);
	pl_peers_sweep_due(&srv->peers, now);
	struct pl_peer *p = pl_peer_get(&srv->peers, r->remote, now);
	if (!p)
		return 0; /* out of memory: the address goes uncounted rather than refused */
	const char *why = NULL;
	if (!pl_peer_handshake(&srv->peers, p, now))
		why = "Too many handshakes from this address";
	else if (srv->cfg->max_sessions_per_address &&
		 p->sessions >= srv->cfg->max_sessions_per_address)
		why = "Too many sessions from this address";
	if (!why)
		return 0;
	if (pl_log_due(&last_warning, now))
		pl_warn("refusing a session from %s: %s", r->remote, why);
	return refuse(err, 429, 4, why);
}

struct pl_eio *pl_eio_accept(struct pl_server *srv, const struct pl_eio_request *r, bool websocket,
			     struct pl_eio_error *err)
{
	if (pl_eio_check(srv, r, websocket, err))
		return NULL;
	if (r->sid) {
		struct pl_eio *s = pl_map_get(&srv->eio.sessions, r->sid);
		if (websocket && (s->websocket || s->ws_conn)) {
			srv->eio.ops->close_ws(r->conn, 1000);
			return NULL;
		}
		s->refs++; /* the request */
		return s;
	}
	struct pl_eio *s = session_new(srv, r, websocket);
	if (!s) {
		refuse(err, 500, 3, "Bad request");
		return NULL;
	}
	s->refs++; /* the request */
	if (srv->eio.handler.on_open)
		srv->eio.handler.on_open(s);
	return s;
}

void pl_eio_poll_get(struct pl_eio *s, struct pl_conn *c)
{
	const struct pl_conn_ops *ops = s->srv->eio.ops;
	if (s->get_conn && ops->peer_gone(s->get_conn)) {
		/* the held GET was aborted: the client has gone, so has the session */
		struct pl_conn *old = s->get_conn;
		s->get_conn = NULL;
		ops->drop(old);
		pl_eio_close(s, "transport close", false);
		respond_error(s->srv, c, 400, 1, "Session ID unknown");
		return;
	}
	if (s->get_conn) {
		/* a second concurrent GET is a protocol error that ends the session */
		pl_warn("eio %s: overlapping polling GET", s->sid);
		ops->respond(c, 400, NULL, NULL, 0);
		pl_eio_close(s, "transport error", false);
		return;
	}
	if (s->upgrading) {
		ops->respond(c, 200, text_plain, "6", 1);
		return;
	}
	s->get_conn = c;
	if (s->qcount)
		ops->want_write(c);
}

int pl_eio_poll_writable(struct pl_eio *s, struct pl_conn *c)
{
	if (s->get_conn != c)
		return 0; /* not the held GET (answered already, or another request) */
	/* nothing leaves before what it may carry is stored (the before-write barrier) */
	pl_barrier_run(&s->srv->before_write);
	struct pl_sbuf body = {0};
	size_t n = 0;
	while (s->qcount) {
		struct pl_frame *f = dequeue(s);
		if (n++)
			pl_sbuf_putc(&body, PL_EIO_SEPARATOR);
		pl_eio_encode_polling_item(&body, f);
		pl_frame_unref(f);
	}
	s->get_conn = NULL;
	s->srv->eio.ops->respond(c, 200, text_plain, body.data, body.len);
	pl_sbuf_close(&body);
	if (s->state == PL_EIO_STATE_CLOSING)
		finish(s);
	return 0;
}

void pl_eio_request_gone(struct pl_eio *s, struct pl_conn *c, bool aborted)
{
	if (s->post_conn == c)
		s->post_conn = NULL;
	if (s->get_conn == c) {
		s->get_conn = NULL;
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
		if (s->srv->eio.handler.on_message)
			s->srv->eio.handler.on_message(s, p->data, p->len, p->binary);
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

bool pl_eio_poll_post_begin(struct pl_eio *s, struct pl_conn *c)
{
	if (s->post_conn && s->post_conn != c) {
		pl_warn("eio %s: overlapping polling POST", s->sid);
		s->srv->eio.ops->respond(c, 400, NULL, NULL, 0);
		pl_eio_close(s, "transport error", false);
		return false;
	}
	s->post_conn = c;
	return true;
}

void pl_eio_poll_post(struct pl_eio *s, struct pl_conn *c, char *body, size_t len)
{
	const struct pl_conn_ops *ops = s->srv->eio.ops;
	if (s->post_conn == c)
		s->post_conn = NULL;
	s->refs++;
	int rc = pl_eio_decode_payload(body, len, payload_packet, s);
	if (rc == PL_EIO_EBADPACKET) {
		pl_warn("eio %s: unparseable polling payload", s->sid);
		ops->respond(c, 400, NULL, NULL, 0);
		pl_eio_close(s, "parse error", false);
	} else {
		ops->respond(c, 200, "text/html", "ok", 2);
	}
	pl_eio_unref(s);
}

void pl_eio_ws_open(struct pl_eio *s, struct pl_conn *c)
{
	s->ws_conn = c;
	kick(s);
}

/* Writes "3probe" on the probing WebSocket ahead of the session queue. */
static void answer_probe(struct pl_eio *s)
{
	s->upgrading = true;
	s->probe_pending = true;
	if (s->get_conn) {
		/* release the held GET so the client can pause polling */
		s->srv->eio.ops->respond(s->get_conn, 200, text_plain, "6", 1);
		s->get_conn = NULL;
	}
}

void pl_eio_ws_message(struct pl_eio *s, struct pl_conn *c, char *data, size_t len, bool binary)
{
	const struct pl_conn_ops *ops = s->srv->eio.ops;
	if (s->ws_conn != c || s->state != PL_EIO_STATE_OPEN)
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
			ops->want_write(c);
		} else if (p.type == PL_EIO_UPGRADE && s->upgrading) {
			s->upgrading = false;
			s->websocket = true;
			if (s->get_conn) {
				ops->respond(s->get_conn, 200, text_plain, "6", 1);
				s->get_conn = NULL;
			}
			pl_debug("eio %s: upgraded to websocket", s->sid);
			kick(s);
		} else {
			pl_warn("eio %s: unexpected packet during upgrade", s->sid);
			s->ws_conn = NULL;
			s->upgrading = false;
			ops->close_ws(c, 1000);
			kick(s);
		}
		return;
	}
	on_packet(s, &p);
}

/*
 * Points at the queued WebSocket bytes, from the unsent rest of the oldest frame on: the frame
 * itself when it is alone or large (no copy), else up to wbuf_cap bytes of whole frames copied
 * into the server's scratch buffer. Both have the carrier's headroom writable before them.
 */
static unsigned char *gather(struct pl_eio *s, size_t *len)
{
	struct pl_eio_server *es = &s->srv->eio;
	unsigned char *scratch = es->wbuf + es->ops->headroom;
	size_t flen;
	unsigned char *fp = pl_frame_ws(s->queue[s->qhead], &flen);
	if (s->qcount == 1 || flen - s->head_sent >= es->wbuf_cap / 2) {
		*len = flen - s->head_sent;
		return fp + s->head_sent;
	}
	size_t used = 0;
	for (size_t i = 0; i < s->qcount; i++) {
		unsigned char *p = pl_frame_ws(s->queue[(s->qhead + i) % s->qcap], &flen);
		size_t skip = i == 0 ? s->head_sent : 0;
		if (used + flen - skip > es->wbuf_cap)
			break;
		memcpy(scratch + used, p + skip, flen - skip);
		used += flen - skip;
	}
	*len = used;
	return scratch;
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
static void after_write(struct pl_eio *s, struct pl_conn *c)
{
	if (s->qcount)
		s->srv->eio.ops->want_write(c);
	else if (s->state == PL_EIO_STATE_CLOSING)
		finish(s);
}

/*
 * Sends queued frames straight to the socket, without waiting for the carrier's writable
 * callback (with libwebsockets, a round trip of several epoll_ctl calls per connection and
 * message). Whatever the kernel does not take waits for writable. Only when the carrier holds no
 * unsent bytes of its own, so the stream stays in order.
 */
static void direct_flush(struct pl_eio *s)
{
	struct pl_conn *c = s->ws_conn;
	const struct pl_conn_ops *ops = s->srv->eio.ops;
	if (!s->qcount)
		return;
	if (ops->busy(c)) {
		ops->want_write(c);
		return;
	}
	size_t len;
	unsigned char *p = gather(s, &len);
	/* a closing session's last frames and its close frame leave in one segment */
	ssize_t n = ops->send(c, p, len, s->state == PL_EIO_STATE_CLOSING);
	if (n < 0) {
		pl_eio_close(s, "transport error", false);
		return;
	}
	consume(s, (size_t)n);
	after_write(s, c);
}

/* Sends every session in the flush list. The before-write barrier runs first: nothing leaves
 * before what it carries is stored. */
static void flush_all(struct pl_server *srv)
{
	struct pl_eio_server *es = &srv->eio;
	if (!es->n_flush)
		return;
	pl_barrier_run(&srv->before_write);
	/* sending may close sessions, whose handlers may queue more: the list can grow */
	for (size_t i = 0; i < es->n_flush; i++) {
		struct pl_eio *s = es->flush[i];
		s->flush_pending = false;
		if (s->overflow)
			pl_eio_close(s, "send queue full", false);
		else if (s->state != PL_EIO_STATE_CLOSED && s->websocket && s->ws_conn)
			direct_flush(s);
		pl_eio_unref(s);
	}
	es->n_flush = 0;
	uv_idle_stop(es->flush_soon);
}

static void flush_after_io(uv_check_t *h)
{
	flush_all(h->data);
}

static void flush_soon(uv_idle_t *h)
{
	flush_all(h->data);
}

/* Writes the probe's answer, "3probe", framed like every other frame. */
static int write_probe(struct pl_eio *s, struct pl_conn *c)
{
	struct pl_frame *f = pl_frame_new_typed(PL_EIO_PONG, "probe", 5);
	if (!f)
		return -1;
	size_t len;
	unsigned char *p = pl_frame_ws(f, &len);
	int rc = s->srv->eio.ops->write_framed(c, p, len);
	pl_frame_unref(f);
	return rc;
}

int pl_eio_ws_writable(struct pl_eio *s, struct pl_conn *c)
{
	if (s->ws_conn != c)
		return 0;
	if (!s->websocket) {
		/* probing: the only thing written before the upgrade is the probe answer */
		if (s->probe_pending) {
			s->probe_pending = false;
			return write_probe(s, c);
		}
		return 0;
	}
	if (!s->qcount) {
		after_write(s, c);
		return 0;
	}
	/* nothing leaves before what it may carry is stored (the before-write barrier) */
	pl_barrier_run(&s->srv->before_write);
	size_t len;
	unsigned char *p = gather(s, &len);
	/* the carrier takes it all: what the kernel refuses, it keeps and sends first */
	if (s->srv->eio.ops->write_framed(c, p, len))
		return -1;
	consume(s, len);
	after_write(s, c);
	return 0;
}

void pl_eio_ws_closed(struct pl_eio *s, struct pl_conn *c)
{
	if (s->ws_conn != c)
		return;
	s->ws_conn = NULL;
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
