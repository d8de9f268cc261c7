/*
 * libwebsockets 4.1 glue (see transport.h). One protocol receives every HTTP request and
 * WebSocket (Socket.IO clients send no Sec-WebSocket-Protocol, so lws would pick protocols[0]
 * anyway) and routes on the exact path. Engine.IO reaches connections through the pl_conn_ops
 * table at the end of this file, where a struct pl_conn is a struct lws. Each workaround for a
 * libwebsockets behaviour is commented where it is applied.
 */
#include "transport.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "buf.h"
#include "conn.h"
#include "deadline.h"
#include "eio.h"
#include "http.h"
#include "log.h"
#include "server.h"

/* The bytes lws holds of a request's headers (URI and query included); more get 431. */
#define MAX_HEADER_DATA 8192

_Static_assert(PL_FRAME_HEADROOM >= LWS_PRE + 10, "frame headroom must fit LWS_PRE and a header");

/* How long each step of a WebSocket close may take: our close frame to leave, then the peer's
 * to come back (lws 4.1 allows 5 s for each of them too). */
#define CLOSE_STEP_MS 5000

/* The transport's own state: one listener per process. */
static struct {
	struct lws_context *lws;     /* libwebsockets context on the server's loop */
	struct lws_vhost *vhost;     /* the listening vhost */
	struct pl_deadlines closing; /* WebSocket closes that take too long are cut here */
} tp;

/* Engine.IO's handle for a connection is the wsi itself: no allocation, no lookup. */
static struct pl_conn *conn_of(struct lws *wsi)
{
	return (struct pl_conn *)wsi;
}

static struct lws *wsi_of(struct pl_conn *c)
{
	return (struct lws *)c;
}

enum conn_kind { CONN_NONE, CONN_POLL_GET, CONN_POLL_POST, CONN_WS, CONN_OTHER };

/* Per-connection state, allocated by lws for each wsi (and reused across keep-alive requests). */
struct conn {
	enum conn_kind kind;	  /* what the current request or WebSocket is */
	struct pl_eio *session;	  /* the Engine.IO session it belongs to (a reference), or NULL */
	bool answered;		  /* a response was produced for the current request */
	bool responding;	  /* resp holds a response waiting for writable */
	bool preflight;		  /* the response answers a CORS preflight */
	bool handshake;		  /* a polling handshake: its response may set the session cookie */
	int status;		  /* response status */
	const char *ctype;	  /* response Content-Type (static string), or NULL */
	struct pl_sbuf resp;	  /* LWS_PRE bytes, then the response body */
	struct pl_sbuf body;	  /* POST body or a WebSocket message being reassembled */
	bool conn_close;	  /* the client sent "Connection: close" */
	bool hang_up;		  /* close the connection once the response is written */
	bool too_large;		  /* a WebSocket message passed maxPayload: closing, input ignored */
	int close_status;	  /* WebSocket: status of the close frame we send, 0 while open */
	bool close_sent;	  /* that close frame is written: the peer's close frame ends it */
	unsigned char close_off;  /* bytes of the close frame the socket took before writable */
	struct lws *closing_wsi;  /* WebSocket closing: the connection, for close_due */
	struct pl_deadline close_due; /* WebSocket closing: when it is cut short (tp.closing) */
};

/* lws has no per-connection area yet while an upgrade is confirmed: a refusal is built here */
static struct conn *confirm_conn;

static struct pl_server *server_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void conn_release_session(struct conn *c, struct lws *wsi, bool aborted)
{
	if (!c->session)
		return;
	struct pl_eio *s = c->session;
	c->session = NULL;
	if (c->kind == CONN_WS)
		pl_eio_ws_closed(s, conn_of(wsi));
	else
		pl_eio_request_gone(s, conn_of(wsi), aborted);
	pl_eio_unref(s);
}

static void conn_reset(struct conn *c, struct lws *wsi)
{
	conn_release_session(c, wsi, false);
	pl_sbuf_close(&c->resp);
	pl_sbuf_close(&c->body);
	memset(c, 0, sizeof *c);
}

static bool peer_gone(struct lws *wsi)
{
	/* lws stops reading a connection while its request is unanswered, so a client that closes
	 * a held GET goes unnoticed; peek at the socket instead */
	char c;
	ssize_t n = recv(lws_get_socket_fd(wsi), &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/*
 * Answers an HTTP request with a complete response, written when the connection is writable.
 * Copies body. ctype may be NULL for no body type.
 */
static void respond(struct lws *wsi, int status, const char *ctype, const void *body, size_t len)
{
	struct conn *c = lws_wsi_user(wsi);
	if (!c)
		c = confirm_conn;
	if (!c || c->answered)
		return;
	c->answered = true;
	c->responding = true;
	c->status = status;
	c->ctype = ctype;
	static const char pad[LWS_PRE];
	c->resp.len = 0;
	if (pl_sbuf_append(&c->resp, pad, LWS_PRE) || pl_sbuf_append(&c->resp, body, len)) {
		c->status = 500;
		c->resp.len = c->resp.data ? LWS_PRE : 0;
	}
	lws_callback_on_writable(wsi);
}

/* Answers an Engine.IO error: its status with {"code":code,"message":message}. */
static void respond_error(struct lws *wsi, const struct pl_eio_error *err)
{
	char body[160];
	size_t n = pl_eio_error_json(err, body, sizeof body);
	respond(wsi, err->status, "application/json", body, n);
}

static void respond_eio_error(struct lws *wsi, int status, int code, const char *message)
{
	struct pl_eio_error err = {status, code, message};
	respond_error(wsi, &err);
}

/* Copies a header into buf ("" when absent). */
static void header(struct lws *wsi, enum lws_token_indexes t, char *buf, int len)
{
	buf[0] = '\0';
	if (lws_hdr_total_length(wsi, t) > 0 && lws_hdr_copy(wsi, buf, len, t) < 0)
		buf[0] = '\0';
}

/*
 * Writes the response held in c. With complete, ends the HTTP transaction and returns the
 * callback's verdict; without, the caller does (a refused upgrade).
 */
static int write_response(struct pl_server *srv, struct lws *wsi, struct conn *c, bool complete)
{
	unsigned char hdr[LWS_PRE + 2048];
	unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof hdr - 1;
	size_t len = c->resp.len > LWS_PRE ? c->resp.len - LWS_PRE : 0;
	c->responding = false;
	/* the request's headers stay readable until the transaction completes */
	char origin[256], req_headers[256] = "";
	header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin);
	if (c->preflight && lws_hdr_custom_copy(wsi, req_headers, sizeof req_headers,
						"access-control-request-headers:", 31) < 0)
		req_headers[0] = '\0';
	struct pl_http_header cors[PL_HTTP_CORS_MAX];
	size_t n_cors = pl_http_cors(srv->cfg, origin, c->preflight, req_headers, cors);
	if (lws_add_http_common_headers(wsi, (unsigned)c->status, c->ctype ? c->ctype : "text/plain",
					(lws_filepos_t)len, &p, end))
		return -1;
	for (size_t i = 0; i < n_cors; i++)
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)cors[i].name,
						(const unsigned char *)cors[i].value,
						(int)strlen(cors[i].value), &p, end))
			return -1;
	char cookie[512];
	size_t n_cookie = c->handshake && c->session
			      ? pl_http_cookie(srv->cfg, c->session->sid, cookie, sizeof cookie)
			      : 0;
	if (n_cookie &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_SET_COOKIE,
					 (const unsigned char *)cookie, (int)n_cookie, &p, end))
		return -1;
	if ((c->conn_close && lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION,
							   (const unsigned char *)"close", 5, &p, end)) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (len && lws_write(wsi, (unsigned char *)c->resp.data + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) !=
			   (int)len)
		return -1;
	pl_sbuf_close(&c->resp);
	enum conn_kind kind = c->kind;
	c->kind = CONN_NONE;
	if (kind == CONN_POLL_GET || kind == CONN_POLL_POST)
		conn_release_session(c, wsi, false);
	if (!complete)
		return 0;
	if (c->hang_up)
		return -1;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Writes pre-framed WebSocket bytes in one send (p has LWS_PRE writable bytes before it).
 * Only from the connection's writable callback. Returns 0 or -1 when the connection failed. */
static int ws_write_raw(struct lws *wsi, unsigned char *p, size_t len)
{
	/* RAW: the frames are already framed (unmasked server frames). lws keeps any unsent rest
	 * and sends it before anything else, holding WRITEABLE back until it is drained. */
	int n = lws_write(wsi, p, len, LWS_WRITE_RAW);
	return n < 0 ? -1 : 0;
}

/* A WebSocket close took too long (a peer that does not read or does not answer): cut it. */
static void close_overdue(struct pl_deadline *d)
{
	struct conn *c = (struct conn *)((char *)d - offsetof(struct conn, close_due));
	/* on Parley's timer, outside the connection's callbacks; with no close reason set, lws
	 * closes the socket without a close handshake (and arms no timeout of its own) */
	lws_set_timeout(c->closing_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* Arms (or re-arms) the deadline of the close step c is at. */
static void close_step(struct lws *wsi, struct conn *c)
{
	if (pl_deadline_set(&tp.closing, &c->close_due, CLOSE_STEP_MS, close_overdue))
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 1); /* lws's timer, then */
}

/* The close frame of c, whose status is set: 4 bytes. */
static void close_frame(const struct conn *c, unsigned char p[4])
{
	p[0] = 0x88; /* FIN, close */
	p[1] = 2;
	p[2] = (unsigned char)(c->close_status >> 8);
	p[3] = (unsigned char)c->close_status;
}

/* The close frame has left: the peer's answer (or its deadline) ends the connection. */
static void close_frame_sent(struct lws *wsi, struct conn *c)
{
	c->close_sent = true;
	close_step(wsi, c);
}

/*
 * Writes the close frame straight to the socket when lws holds nothing unsent, as Engine.IO's
 * frames are written: a shutdown then costs one send per connection, without a writable round
 * trip. Returns false when it is left (all or its rest) to the writable callback.
 */
static bool send_close(struct lws *wsi, struct conn *c)
{
	if (lws_partial_buffered(wsi))
		return false;
	unsigned char frame[4];
	close_frame(c, frame);
	ssize_t n = send(lws_get_socket_fd(wsi), frame, sizeof frame, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false;
	if (n < 0) {
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC); /* it failed */
		return true;
	}
	c->close_off = (unsigned char)n;
	if (n < (ssize_t)sizeof frame)
		return false;
	close_frame_sent(wsi, c);
	return true;
}

/*
 * Closes a WebSocket with a close frame carrying an RFC 6455 status; the first close asked for
 * a connection decides its status. The frame is written at once when the socket takes it, else
 * at the connection's next writable; the peer's close frame then ends the connection, and
 * Parley's deadline heap cuts a close that takes longer than CLOSE_STEP_MS per step.
 *
 * lws's own close (lws_close_reason, then closing the wsi) arms a 5 s timeout for the close frame
 * to leave and another for the peer's answer, each an insertion into lws's sorted timer list
 * that walks every close already in progress: closing n WebSockets at once (a shutdown) cost
 * O(n^2). lws also must not close from a connection's own callbacks (returning -1 from
 * WRITEABLE makes Debian's debug build of lws drop the close frame), which here never happens:
 * our frame is written by us, and the connection ends when the peer's has arrived.
 */
static void close_ws(struct lws *wsi, int status)
{
	struct conn *c = lws_wsi_user(wsi);
	if (!c) {
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	if (c->close_status)
		return;
	c->close_status = status;
	c->closing_wsi = wsi;
	pl_deadline_init(&c->close_due);
	if (send_close(wsi, c))
		return;
	close_step(wsi, c);
	lws_callback_on_writable(wsi);
}

/* Writes the close frame (what send_close left of it) of a closing WebSocket, from its writable
 * callback. Returns 0, or -1 when the connection failed. */
static int write_close(struct lws *wsi, struct conn *c)
{
	/* a RAW write: after what lws may still hold of earlier frames */
	unsigned char frame[LWS_PRE + 4];
	close_frame(c, frame + LWS_PRE);
	close_frame_sent(wsi, c);
	return ws_write_raw(wsi, frame + LWS_PRE + c->close_off, 4 - c->close_off);
}

/* The connection is gone: a close in progress is over. */
static void close_done(struct conn *c)
{
	if (c && c->close_status)
		pl_deadline_cancel(&tp.closing, &c->close_due);
}

/* The Engine.IO parts of a request: query arguments and the headers that matter. */
struct request_info {
	struct pl_eio_request r;
	char transport[32], eio[8], sid[64], remote[48], ctype[128];
	char query[MAX_HEADER_DATA]; /* a handshake's arguments as JSON (see r.query) */
};

/* Copies query argument i ("name=value", percent-decoded by lws) to arg. Returns 0, or -1 past
 * the last (or at one longer than lws can hold: it would refuse the request). */
static int query_arg(struct lws *wsi, int i, char *arg, size_t size)
{
	int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
	if (len < 0 || (size_t)len >= size)
		return -1;
	return lws_hdr_copy_fragment(wsi, arg, (int)size, WSI_TOKEN_HTTP_URI_ARGS, i) < 0 ? -1 : 0;
}

/*
 * Reads the query arguments Engine.IO uses, in any order and of any length up to the header
 * limit; lws has split them at '&' and percent-decoded them. (lws_get_urlarg_by_name gives up
 * at the first argument longer than its buffer.)
 */
static void read_query(struct lws *wsi, struct request_info *ri)
{
	char arg[MAX_HEADER_DATA];
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) <= 0)
		return; /* (then lws gives every fragment's length as 0) */
	for (int i = 0; query_arg(wsi, i, arg, sizeof arg) == 0; i++) {
		ri->r.transport = pl_http_query_value(arg, "transport", ri->r.transport,
						      ri->transport, sizeof ri->transport);
		ri->r.eio = pl_http_query_value(arg, "EIO", ri->r.eio, ri->eio, sizeof ri->eio);
		ri->r.sid = pl_http_query_value(arg, "sid", ri->r.sid, ri->sid, sizeof ri->sid);
	}
}

/* Behind a trusted proxy, replaces the peer address in remote with the client's, from the
 * X-Forwarded-For or Forwarded header the proxy added (kept when neither names one). */
static void forwarded_client(struct pl_server *srv, struct lws *wsi, char *remote, size_t size)
{
	if (!srv->cfg->trusted_proxies || !pl_address_listed(srv->cfg->trusted_proxies, remote))
		return;
	char xff[1024], fwd[1024];
	header(wsi, WSI_TOKEN_X_FORWARDED_FOR, xff, sizeof xff);
	if (lws_hdr_custom_copy(wsi, fwd, sizeof fwd, "forwarded:", 10) < 0)
		fwd[0] = '\0';
	char client[48];
	if (pl_forwarded_client(xff, fwd, srv->cfg->trusted_proxies, client, sizeof client))
		snprintf(remote, size, "%s", client);
}

/*
 * A handshake's query arguments, kept for fetchSockets' handshake.query: a JSON object of
 * strings in ri->query (the first of a repeated name; none that is not UTF-8).
 */
static void read_handshake_query(struct lws *wsi, struct request_info *ri)
{
	char arg[MAX_HEADER_DATA];
	json_t *q = json_object();
	if (!q || lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS) <= 0)
		goto out;
	for (int i = 0; query_arg(wsi, i, arg, sizeof arg) == 0; i++) {
		char *eq = strchr(arg, '=');
		if (eq)
			*eq = '\0';
		json_t *v = json_object_get(q, arg) ? NULL : json_string(eq ? eq + 1 : "");
		if (v)
			json_object_set_new(q, arg, v);
	}
	size_t n = json_dumpb(q, ri->query, sizeof ri->query - 1, JSON_COMPACT);
	if (n > 0 && n < sizeof ri->query) {
		ri->query[n] = '\0';
		ri->r.query = ri->query;
	}
out:
	json_decref(q);
}

static void read_request(struct lws *wsi, struct request_info *ri, bool is_get)
{
	memset(ri, 0, sizeof *ri);
	ri->r.conn = conn_of(wsi);
	ri->r.is_get = is_get;
	read_query(wsi, ri);
	if (!ri->r.sid)
		read_handshake_query(wsi, ri);
	lws_get_peer_simple(wsi, ri->remote, sizeof ri->remote);
	forwarded_client(server_of(wsi), wsi, ri->remote, sizeof ri->remote);
	ri->r.remote = ri->remote;
	header(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE, ri->ctype, sizeof ri->ctype);
	ri->r.content_type = ri->ctype;
	char cl[32];
	header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl);
	ri->r.content_length = cl[0] ? strtoll(cl, NULL, 10) : -1;
}

/* True if path is the Engine.IO path, with or without its trailing slash. */
static bool is_engine_path(struct pl_server *srv, const char *path)
{
	const char *ep = srv->cfg->path;
	size_t n = strlen(ep);
	return strcmp(path, ep) == 0 || (strlen(path) == n - 1 && strncmp(path, ep, n - 1) == 0);
}

static bool has(struct lws *wsi, enum lws_token_indexes t)
{
	return lws_hdr_total_length(wsi, t) > 0;
}

/* An HTTP request at the Engine.IO path. */
static int engine_request(struct pl_server *srv, struct lws *wsi, struct conn *c)
{
	bool is_get = has(wsi, WSI_TOKEN_GET_URI), is_post = has(wsi, WSI_TOKEN_POST_URI);
	struct request_info ri;
	read_request(wsi, &ri, is_get);
	if (!is_get && !is_post && !ri.r.sid) {
		respond_eio_error(wsi, 400, 2, "Bad handshake method");
		return 0;
	}
	struct pl_eio_error err;
	if (is_get && pl_eio_admit(srv, &ri.r, &err)) {
		respond_error(wsi, &err);
		return 0;
	}
	struct pl_eio *s = pl_eio_accept(srv, &ri.r, false, &err);
	if (!s) {
		if (err.status)
			respond_error(wsi, &err);
		return 0;
	}
	c->session = s;
	if (is_get) {
		c->kind = CONN_POLL_GET;
		/* only the polling handshake carries the cookie: the reference sets it on no
		 * later request and on no WebSocket (its websocket transport emits no headers) */
		c->handshake = !ri.r.sid;
		/* lws arms a 5 s content timeout before LWS_CALLBACK_HTTP: a held GET would die at
		 * 5 s, so clear it; the heartbeat bounds how long a GET is held */
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
		pl_eio_poll_get(s, conn_of(wsi));
		return 0;
	}
	if (!is_post) {
		respond_eio_error(wsi, 400, 3, "Bad request");
		return 0;
	}
	c->kind = CONN_POLL_POST;
	if (strncmp(ri.ctype, "application/octet-stream", 24) == 0) {
		respond(wsi, 400, NULL, NULL, 0);
		pl_eio_close(s, "invalid content", false);
		return 0;
	}
	/* lws 4.1 does not support chunked request bodies; clients send Content-Length */
	if (ri.r.content_length < 0) {
		respond(wsi, 411, NULL, NULL, 0);
		pl_eio_close(s, "content-length required", false);
		return 0;
	}
	if ((unsigned long long)ri.r.content_length > srv->cfg->max_payload) {
		respond(wsi, 413, NULL, NULL, 0);
		pl_eio_close(s, "payload too large", false);
		return 0;
	}
	if (!pl_eio_poll_post_begin(s, conn_of(wsi)))
		return 0;
	if (ri.r.content_length == 0)
		pl_eio_poll_post(s, conn_of(wsi), (char *)"", 0);
	return 0;
}

/* Serves a GET or HEAD outside the Engine.IO path as http.c decides. Returns lws's verdict. */
static int serve_http(struct pl_server *srv, struct lws *wsi, const char *path)
{
	struct pl_http_response r;
	pl_http_route(srv->cfg, path, &r);
	if (r.kind == PL_HTTP_CLOSE)
		return -1;
	if (r.kind == PL_HTTP_BODY) {
		respond(wsi, r.status, r.ctype, r.body, r.len);
		return 0;
	}
	int n = lws_serve_http_file(wsi, r.file, r.ctype, r.headers, (int)strlen(r.headers));
	if (n < 0)
		return -1;
	if (n > 0)
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	return 0;
}

/*
 * True if where the request's body ends could be read two ways, which a proxy in front may
 * read otherwise (request smuggling): any Transfer-Encoding (lws 4.1 reads no chunked body),
 * or a Content-Length repeated or not a plain decimal number.
 */
static bool ambiguous_framing(struct lws *wsi)
{
	if (has(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING))
		return true;
	if (!has(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH))
		return false;
	/* a repeated header is more fragments than the first (lws gives 0 for a missing one) */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) !=
	    lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, 0))
		return true;
	char cl[32];
	header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl);
	if (!cl[0] || strspn(cl, "0123456789") != strlen(cl))
		return true;
	return false;
}

static int on_http(struct pl_server *srv, struct lws *wsi, struct conn *c, const char *path)
{
	conn_reset(c, wsi);
	c->kind = CONN_OTHER;
	/* lws closes such a connection after the response but does not say so; a client that
	 * pools connections (Node's keep-alive agent) would then reuse a closing socket */
	char connection[64];
	header(wsi, WSI_TOKEN_CONNECTION, connection, sizeof connection);
	for (char *q = connection; *q; q++)
		*q = (char)tolower((unsigned char)*q);
	c->conn_close = strstr(connection, "close") != NULL;
	if (ambiguous_framing(wsi)) {
		char remote[48];
		lws_get_peer_simple(wsi, remote, sizeof remote);
		pl_info("request from %s refused: ambiguous body length", remote);
		c->conn_close = c->hang_up = true;
		respond(wsi, 400, "text/plain; charset=utf-8", "Bad Request\n", 12);
		return 0;
	}
	if (has(wsi, WSI_TOKEN_OPTIONS_URI)) {
		c->preflight = true;
		respond(wsi, 204, NULL, NULL, 0);
		return 0;
	}
	if (is_engine_path(srv, path))
		return engine_request(srv, wsi, c);
	if (!has(wsi, WSI_TOKEN_GET_URI) && !has(wsi, WSI_TOKEN_HEAD_URI)) {
		respond(wsi, 405, "text/plain; charset=utf-8", "Method Not Allowed\n", 19);
		return 0;
	}
	return serve_http(srv, wsi, path);
}

static int on_body(struct pl_server *srv, struct conn *c, const void *in, size_t len)
{
	if (c->kind != CONN_POLL_POST || c->answered)
		return 0;
	if (c->body.len + len > srv->cfg->max_payload)
		return -1;
	return pl_sbuf_append(&c->body, in, len) ? -1 : 0;
}

/*
 * Reads the query of an upgrade request. With accept, finds or creates the session; without,
 * only checks (errors are answered on the request, still plain HTTP at that point).
 * Returns 0 to go on, 1 when refused with a response, -1 to hang up.
 */
static int ws_request(struct pl_server *srv, struct lws *wsi, struct conn *c, bool accept)
{
	char path[256];
	header(wsi, WSI_TOKEN_GET_URI, path, sizeof path);
	if (!is_engine_path(srv, path))
		return -1;
	struct request_info ri;
	read_request(wsi, &ri, true);
	struct pl_eio_error err;
	if (!accept) {
		char origin[256], host[256];
		header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin);
		header(wsi, WSI_TOKEN_HOST, host, sizeof host);
		/* an Origin too long to read is not taken for none */
		if ((has(wsi, WSI_TOKEN_ORIGIN) && !origin[0]) ||
		    !pl_http_origin_allowed(srv->cfg, origin, host)) {
			pl_info("websocket from %s refused: origin not allowed", ri.remote);
			respond_eio_error(wsi, 403, 4, "Forbidden");
			return 1;
		}
		if (!pl_eio_check(srv, &ri.r, true, &err) && !pl_eio_admit(srv, &ri.r, &err))
			return 0;
		respond_error(wsi, &err);
		return 1;
	}
	/* a refusal here cannot be answered: the connection is a WebSocket already */
	struct pl_eio *s = pl_eio_accept(srv, &ri.r, true, &err);
	if (!s)
		return -1;
	c->kind = CONN_WS;
	c->session = s;
	return 0;
}

/*
 * Counts a new TCP connection against its address (not a trusted proxy's: it carries many
 * clients). Returns -1 to close it when the address holds as many as allowed.
 */
static int count_connection(struct pl_server *srv, struct lws *wsi)
{
	static uint64_t last_warning;
	char remote[48];
	lws_get_peer_simple(wsi, remote, sizeof remote);
	if (srv->cfg->trusted_proxies && pl_address_listed(srv->cfg->trusted_proxies, remote))
		return 0;
	uint64_t now = uv_now(srv->loop);
	pl_peers_sweep_due(&srv->peers, now);
	struct pl_peer *p = pl_peer_get(&srv->peers, remote, now);
	if (!p)
		return 0;
	size_t limit = srv->cfg->max_connections_per_address;
	if (limit && p->connections >= limit) {
		if (pl_log_due(&last_warning, now))
			pl_warn("refusing a connection from %s: %zu open already", remote, limit);
		return -1;
	}
	p->connections++;
	lws_set_opaque_user_data(wsi, p);
	return 0;
}

static void uncount_connection(struct lws *wsi)
{
	struct pl_peer *p = lws_get_opaque_user_data(wsi);
	if (p) {
		p->connections--;
		lws_set_opaque_user_data(wsi, NULL);
	}
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		    size_t len)
{
	struct conn *c = user;
	struct pl_server *srv = server_of(wsi);

	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		return count_connection(srv, wsi);

	case LWS_CALLBACK_WSI_DESTROY:
		uncount_connection(wsi);
		return 0;

	case LWS_CALLBACK_HTTP:
		return on_http(srv, wsi, c, in ? in : "/");

	case LWS_CALLBACK_HTTP_BODY:
		return on_body(srv, c, in, len);

	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (c->kind == CONN_POLL_POST && c->session && !c->answered) {
			struct pl_eio *s = c->session;
			pl_eio_poll_post(s, conn_of(wsi), c->body.data ? c->body.data : (char *)"",
					 c->body.len);
			pl_sbuf_close(&c->body);
		}
		return 0;

	case LWS_CALLBACK_HTTP_WRITEABLE:
		if (!c)
			return 0;
		if (!c->responding && c->kind == CONN_POLL_GET && c->session)
			pl_eio_poll_writable(c->session, conn_of(wsi));
		if (c->responding)
			return write_response(srv, wsi, c, true);
		return 0;

	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return lws_http_transaction_completed(wsi) ? -1 : 0;

	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (c && c->kind != CONN_WS) {
			conn_release_session(c, wsi, true);
			pl_sbuf_close(&c->resp);
			pl_sbuf_close(&c->body);
		}
		return 0;

	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
		struct conn tmp = {0};
		confirm_conn = &tmp;
		int rc = ws_request(srv, wsi, &tmp, false);
		confirm_conn = NULL;
		if (rc == 1 && tmp.responding) {
			/* refuse with the Engine.IO error as a plain HTTP response; lws ends the
			 * transaction itself when this returns > 0 */
			rc = write_response(srv, wsi, &tmp, false) ? -1 : 1;
		}
		pl_sbuf_close(&tmp.resp);
		return rc;
	}

	case LWS_CALLBACK_ESTABLISHED:
		/* lws gives the WebSocket a fresh per-connection area: start from scratch, the
		 * request's headers are still readable here */
		memset(c, 0, sizeof *c);
		if (ws_request(srv, wsi, c, true))
			return -1;
		pl_eio_ws_open(c->session, conn_of(wsi));
		return 0;

	case LWS_CALLBACK_RECEIVE: {
		if (!c->session)
			return -1;
		if (c->too_large)
			return 0;
		bool done = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
		bool binary = lws_frame_is_binary(wsi);
		/* lws has no maximum message size of its own: enforce maxPayload here */
		if (c->body.len + len > srv->cfg->max_payload) {
			pl_warn("eio %s: message over maxPayload", c->session->sid);
			/* closed with a close frame, not by returning -1 here, so the client
			 * gets 1009 rather than 1006; the rest of the message is ignored */
			close_ws(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
			pl_eio_close(c->session, "payload too large", false);
			pl_sbuf_close(&c->body);
			c->too_large = true;
			return 0;
		}
		if (done && c->body.len == 0) {
			/* the common case: a whole message in one piece, used in place */
			pl_eio_ws_message(c->session, conn_of(wsi), in, len, binary);
			return 0;
		}
		if (pl_sbuf_append(&c->body, in, len))
			return -1;
		if (done) {
			pl_eio_ws_message(c->session, conn_of(wsi), c->body.data, c->body.len,
					  binary);
			pl_sbuf_close(&c->body);
		}
		return 0;
	}

	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c->close_status)
			return c->close_sent ? 0 : write_close(wsi, c);
		if (!c->session)
			return 0;
		return pl_eio_ws_writable(c->session, conn_of(wsi));

	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* the answer to our close frame: lws would send a close frame of its own, so end
		 * the connection here; a close the peer began, lws answers */
		return c && c->close_sent ? -1 : 0;

	case LWS_CALLBACK_CLOSED:
		close_done(c);
		conn_release_session(c, wsi, true);
		pl_sbuf_close(&c->body);
		return 0;

	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static void op_respond(struct pl_conn *c, int status, const char *ctype, const void *body,
		       size_t len)
{
	respond(wsi_of(c), status, ctype, body, len);
}

static bool op_peer_gone(struct pl_conn *c)
{
	return peer_gone(wsi_of(c));
}

static bool op_busy(struct pl_conn *c)
{
	return lws_partial_buffered(wsi_of(c)) != 0;
}

static ssize_t op_send(struct pl_conn *c, const void *p, size_t len, bool more)
{
	int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (more ? MSG_MORE : 0);
	ssize_t n = send(lws_get_socket_fd(wsi_of(c)), p, len, flags);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	return n;
}

static int op_write_framed(struct pl_conn *c, unsigned char *p, size_t len)
{
	return ws_write_raw(wsi_of(c), p, len);
}

static void op_want_write(struct pl_conn *c)
{
	lws_callback_on_writable(wsi_of(c));
}

static void op_close_ws(struct pl_conn *c, int status)
{
	close_ws(wsi_of(c), status);
}

static void op_drop(struct pl_conn *c)
{
	lws_set_timeout(wsi_of(c), PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* What Engine.IO may do with a connection. */
static const struct pl_conn_ops lws_conn_ops = {
	.headroom = LWS_PRE,
	.respond = op_respond,
	.peer_gone = op_peer_gone,
	.busy = op_busy,
	.send = op_send,
	.write_framed = op_write_framed,
	.want_write = op_want_write,
	.close_ws = op_close_ws,
	.drop = op_drop,
};

static struct lws_protocols protocols[] = {
	{"parley", callback, sizeof(struct conn), 512, 0, NULL, 65536},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_line(int level, const char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	pl_log(level == LLL_ERR ? PL_LOG_ERROR : PL_LOG_WARN, "lws: %.*s", (int)n, line);
}

int pl_transport_start(struct pl_server *srv)
{
	struct lws_context_creation_info info;
	void *foreign_loops[1] = {srv->loop};

	lws_set_log_level(pl_log_enabled(PL_LOG_DEBUG) ? LLL_ERR | LLL_WARN : LLL_ERR, lws_log_line);
	if (pl_deadlines_init(&tp.closing, srv->loop) || pl_eio_set_conn_ops(srv, &lws_conn_ops)) {
		pl_error("cannot allocate the write buffer or the close timer");
		return -1;
	}

	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		       LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND | LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.foreign_loops = foreign_loops;
	info.user = srv;
	/* size lws's tables for the connections we allow, not from ulimit -n (which main.c has
	 * raised as far as the hard limit allows) */
	struct rlimit rl;
	unsigned fds = (unsigned)srv->cfg->max_connections + 64;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < fds)
		fds = (unsigned)rl.rlim_cur;
	info.fd_limit_per_thread = fds;
	/* the 4096-byte default is too small for real browsers' cookies */
	info.max_http_header_data = MAX_HEADER_DATA;
	/* every held long-poll GET keeps its header table until it is answered: a fixed pool
	 * would stall polling clients beyond its size. 0 lets lws allocate one per connection on
	 * demand (freed when the request ends), bounded by the descriptors */
	info.max_http_header_pool = 0;
	tp.lws = lws_create_context(&info);
	if (!tp.lws) {
		pl_error("cannot create the libwebsockets context");
		return -1;
	}

	info.port = srv->cfg->port;
	info.iface = strcmp(srv->cfg->host, "0.0.0.0") == 0 ? NULL : srv->cfg->host;
	info.protocols = protocols;
	info.vhost_name = "parley";
	info.keepalive_timeout = 60;
	info.timeout_secs = 20;
	/* lws 4.1 arms a "validity" timer on every WebSocket (a ping after 300 s without a pong,
	 * hang-up at 310 s) in its sorted timer list, and each insertion walks that list: with N
	 * WebSockets held, every accept cost O(N). Engine.IO's heartbeat already finds dead
	 * peers (eio.c, on Parley's deadline heap), so a policy without validity checks keeps
	 * held WebSockets out of lws's list */
	static const lws_retry_bo_t no_validity_checks = {.secs_since_valid_ping = 0,
							  .secs_since_valid_hangup = 0};
	info.retry_and_idle_policy = &no_validity_checks;
	/* with a foreign loop, lws_create_context succeeds even when the port is taken: only the
	 * explicit vhost creation tells */
	tp.vhost = lws_create_vhost(tp.lws, &info);
	if (!tp.vhost) {
		pl_error("cannot listen on %s:%d (port in use or address unavailable)", srv->cfg->host,
			 srv->cfg->port);
		return -1;
	}
	srv->port = lws_get_vhost_listen_port(tp.vhost);
	return 0;
}

size_t pl_transport_closing(void)
{
	return tp.closing.n;
}

void pl_transport_stop(struct pl_server *srv)
{
	(void)srv;
	if (tp.lws)
		lws_context_destroy(tp.lws);
	/* after the context: the connections it closed have cancelled their deadlines */
	pl_deadlines_close(&tp.closing);
}

void pl_transport_free(struct pl_server *srv)
{
	(void)srv;
	/* with a foreign loop, the context is finally freed by a second destroy after uv_run */
	if (tp.lws)
		lws_context_destroy(tp.lws);
	tp.lws = NULL;
	tp.vhost = NULL;
}
