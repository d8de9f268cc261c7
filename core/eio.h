/*
 * Engine.IO v4 sessions: the handshake, the heartbeat, the send queue, and the two transports
 * (HTTP long-polling and WebSocket) with the upgrade from one to the other. The transport module
 * feeds requests and frames in; the layer above (Socket.IO, or an echo for conformance) gets
 * open/message/close events through struct pl_eio_handler and sends with pl_eio_send().
 */
#ifndef PL_EIO_H
#define PL_EIO_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "buf.h"
#include "deadline.h"

struct lws;
struct pl_server;
struct pl_eio;

/* What the layer above Engine.IO receives. */
struct pl_eio_handler {
	/* A session opened; the handshake has been queued. */
	void (*on_open)(struct pl_eio *s);
	/* A message arrived (text without the '4', or raw binary). data is valid during the call. */
	void (*on_message)(struct pl_eio *s, const char *data, size_t len, bool binary);
	/* The session closed; no more sends are delivered. reason is Engine.IO's ("transport close",
	 * "ping timeout", "forced close", ...). */
	void (*on_close)(struct pl_eio *s, const char *reason);
};

enum pl_eio_state { PL_EIO_STATE_OPEN, PL_EIO_STATE_CLOSING, PL_EIO_STATE_CLOSED };

struct pl_eio {
	char sid[24];		  /* session id, base64url */
	struct pl_server *srv;	  /* owning server */
	unsigned refs;		  /* the session table, plus each request or WebSocket attached */
	enum pl_eio_state state;  /* CLOSING: flushing a last packet before the close */
	bool websocket;		  /* WebSocket is the active transport */
	bool upgrading;		  /* a probed WebSocket waits for the client's '5' */
	bool probe_pending;	  /* "3probe" is still to be written on ws_wsi */
	bool awaiting_pong;	  /* a ping is out and the timer is the pong deadline */
	bool client_closed;	  /* the client sent a close packet */
	struct lws *get_wsi;	  /* the held polling GET, or NULL */
	struct lws *ws_wsi;	  /* the WebSocket (active or probing), or NULL */
	struct pl_frame **queue;  /* ring of frames waiting to be written (inline_queue at first) */
	struct pl_frame *inline_queue[2]; /* the ring's first home, so an idle session allocates none */
	size_t qhead;		  /* index of the oldest queued frame */
	size_t qcount;		  /* frames queued */
	size_t qcap;		  /* ring capacity */
	size_t qbytes;		  /* bytes queued, the backpressure signal */
	size_t head_sent;	  /* bytes of the oldest frame's WebSocket form already sent */
	bool flush_pending;	  /* in the server's flush list (which holds a reference) */
	bool overflow;		  /* the send queue passed its cap: closed at the end of the iteration */
	struct pl_deadline heartbeat; /* next ping, the pong deadline, or the close grace */
	char *query;		  /* the handshake's query string, for hooks */
	void *user;		  /* the upper layer's object (a Socket.IO client) */
};

/* Creates the session table and remembers the upper layer. */
int pl_eio_server_init(struct pl_server *srv, const struct pl_eio_handler *h);
/* Closes every session with a close packet (shutdown). */
void pl_eio_close_all(struct pl_server *srv);
/* Stops the heartbeat machinery (after the transport is gone, before the loop ends). */
void pl_eio_server_stop(struct pl_server *srv);
/* Frees the session table once every session is gone. */
void pl_eio_server_close(struct pl_server *srv);

/*
 * Queues a frame (the queue takes its own reference). Returns 0, or -EPIPE when the session is
 * closed, or -ENOBUFS after disconnecting a client whose queue passed the cap.
 */
int pl_eio_send(struct pl_eio *s, struct pl_frame *f);
/* Queues a text message "4<data>". */
int pl_eio_send_text(struct pl_eio *s, const char *data, size_t len);

/*
 * Closes the session. With flush, queued packets and a close packet are delivered first
 * (server-initiated close); without, it ends now. on_close is called once, from here.
 */
void pl_eio_close(struct pl_eio *s, const char *reason, bool flush);

/* Takes a reference, to keep s valid across calls that may close it. */
struct pl_eio *pl_eio_ref(struct pl_eio *s);
/* Drops a reference; the session is freed with the last. */
void pl_eio_unref(struct pl_eio *s);

/* Writes 20 random base64url characters and a NUL to out (ids of sessions and sockets). */
void pl_random_id(char *out);

/* Transport-facing entry points (called by transport.c only). */

/* What the transport knows of an HTTP request at the Engine.IO path. */
struct pl_eio_request {
	struct lws *wsi;	 /* the request */
	bool is_get;		 /* GET (else POST) */
	const char *transport;	 /* query "transport", or NULL */
	const char *eio;	 /* query "EIO", or NULL */
	const char *sid;	 /* query "sid", or NULL */
	const char *query;	 /* the whole query string */
	const char *remote;	 /* peer address */
	const char *content_type; /* POST Content-Type, or "" */
	long long content_length; /* POST Content-Length, -1 when absent */
};

/*
 * Checks a request against the protocol's rules without side effects. Returns 0, or -1 after
 * the error was answered (status and JSON body set with pl_transport_respond).
 */
int pl_eio_check(struct pl_server *srv, const struct pl_eio_request *r, bool websocket);
/*
 * Checks a request and finds or creates its session. Returns the session with a reference for
 * the request, or NULL after the error was answered. websocket selects the WebSocket rules.
 */
struct pl_eio *pl_eio_accept(struct pl_server *srv, const struct pl_eio_request *r, bool websocket);
/* A polling GET: answer now with queued packets or hold it. */
void pl_eio_poll_get(struct pl_eio *s, struct lws *wsi);
/* A complete polling POST body (modifiable in place); answers the request. */
void pl_eio_poll_post(struct pl_eio *s, struct lws *wsi, char *body, size_t len);
/* The held GET is writable: write the queued packets as one payload. Returns lws's verdict. */
int pl_eio_poll_writable(struct pl_eio *s, struct lws *wsi);
/* A request of this session ended (answered or aborted). */
void pl_eio_request_gone(struct pl_eio *s, struct lws *wsi, bool aborted);
/* A WebSocket attached to the session was established. */
void pl_eio_ws_open(struct pl_eio *s, struct lws *wsi);
/* A complete WebSocket message. */
void pl_eio_ws_message(struct pl_eio *s, struct lws *wsi, char *data, size_t len, bool binary);
/* The WebSocket is writable: write queued frames in one batch. */
int pl_eio_ws_writable(struct pl_eio *s, struct lws *wsi);
/* The WebSocket closed. */
void pl_eio_ws_closed(struct pl_eio *s, struct lws *wsi);

#endif
