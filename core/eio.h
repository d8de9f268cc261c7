/*
 * Engine.IO v4 sessions: the handshake, the heartbeat, the send queue, and the two transports
 * (HTTP long-polling and WebSocket) with the upgrade from one to the other. The transport module
 * feeds requests and frames in, each carried by a struct pl_conn it implements (conn.h); the
 * layer above (Socket.IO, or an echo for conformance) gets open/message/close events through
 * struct pl_eio_handler and sends with pl_eio_send(). Before any frame leaves, the server's
 * before-write barrier runs (barrier.h).
 */
#ifndef PL_EIO_H
#define PL_EIO_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "buf.h"
#include "conn.h"
#include "deadline.h"
#include "map.h"

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

/* The Engine.IO state of the server, embedded in struct pl_server as its eio member. */
struct pl_eio_server {
	struct pl_map sessions;		/* sid -> struct pl_eio */
	struct pl_deadlines deadlines;	/* the sessions' heartbeat deadlines */
	struct pl_eio_handler handler;	/* the layer above Engine.IO */
	const struct pl_conn_ops *ops;	/* the carrier of every session's bytes */
	struct pl_eio **flush;		/* WebSocket sessions with frames to send this iteration */
	size_t n_flush, cap_flush;	/* entries used and allocated in flush */
	uv_check_t *flusher;		/* sends them after the I/O phase of each loop iteration */
	uv_idle_t *flush_soon;		/* ...or before the next poll, for frames queued by timers */
	unsigned char *wbuf;		/* scratch for batched WebSocket writes, ops->headroom first */
	size_t wbuf_cap;		/* its size after the headroom */
};

enum pl_eio_state { PL_EIO_STATE_OPEN, PL_EIO_STATE_CLOSING, PL_EIO_STATE_CLOSED };

struct pl_eio {
	char sid[24];		  /* session id, base64url */
	struct pl_server *srv;	  /* owning server */
	unsigned refs;		  /* the session table, plus each request or WebSocket attached */
	enum pl_eio_state state;  /* CLOSING: flushing a last packet before the close */
	bool websocket;		  /* WebSocket is the active transport */
	bool upgrading;		  /* a probed WebSocket waits for the client's '5' */
	bool probe_pending;	  /* "3probe" is still to be written on ws_conn */
	bool awaiting_pong;	  /* a ping is out and the timer is the pong deadline */
	bool client_closed;	  /* the client sent a close packet */
	unsigned char family;	  /* the peer address's family: AF_INET, AF_INET6, or 0 unknown */
	struct pl_conn *get_conn; /* the held polling GET, or NULL */
	struct pl_conn *post_conn; /* the polling POST whose body is arriving, or NULL */
	struct pl_peer *peer;	   /* its client address's counts, NULL when not counted */
	struct pl_conn *ws_conn;  /* the WebSocket (active or probing), or NULL */
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
	unsigned char addr[16];	  /* the peer address in network order (4 bytes for AF_INET) */
	char *query;		  /* the handshake's query arguments (a JSON object), or NULL */
	void *user;		  /* the upper layer's object (a Socket.IO client) */
};

/* Creates the session table and remembers the upper layer. Returns 0 or -ENOMEM. */
int pl_eio_server_init(struct pl_server *srv, const struct pl_eio_handler *h);
/*
 * Sets the carrier of every session's bytes (ops is borrowed and must outlive the server) and
 * allocates the scratch buffer for batched writes with ops->headroom in front. Called by the
 * transport before the first request. Returns 0 or -ENOMEM.
 */
int pl_eio_set_conn_ops(struct pl_server *srv, const struct pl_conn_ops *ops);
/* Closes every session with a close packet (shutdown). */
void pl_eio_close_all(struct pl_server *srv);
/* Stops the heartbeat machinery (after the transport is gone, before the loop ends). */
void pl_eio_server_stop(struct pl_server *srv);
/* Frees the session table and the scratch buffer once every session is gone. */
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

/* The longest text of a peer address, its NUL included (INET6_ADDRSTRLEN). */
#define PL_EIO_ADDRSTRLEN 46

/*
 * Writes the session's peer address as text to buf ("127.0.0.1", "::1"; an IPv4-mapped IPv6
 * address shows as IPv4), "" when unknown. Returns buf.
 */
const char *pl_eio_address(const struct pl_eio *s, char buf[PL_EIO_ADDRSTRLEN]);

/* The handshake's query arguments as the text of a JSON object of strings, or NULL. */
const char *pl_eio_query(const struct pl_eio *s);

/* Drops a reference; the session is freed with the last. NULL is a no-op. */
void pl_eio_unref(struct pl_eio *s);

/* Transport-facing entry points (called by the transport only). */

/* What the transport knows of an HTTP request at the Engine.IO path. */
struct pl_eio_request {
	struct pl_conn *conn;	  /* the request */
	bool is_get;		  /* GET (else POST) */
	const char *transport;	  /* query "transport", or NULL */
	const char *eio;	  /* query "EIO", or NULL */
	const char *sid;	  /* query "sid", or NULL */
	const char *remote;	  /* peer address */
	const char *content_type; /* POST Content-Type, or "" */
	long long content_length; /* POST Content-Length, -1 when absent */
	const char *query;	  /* a handshake's arguments (a JSON object's text), or NULL */
};

/* A refused request, for the transport to answer. */
struct pl_eio_error {
	int status;	     /* HTTP status; 0 when there is nothing to answer */
	int code;	     /* Engine.IO error code */
	const char *message; /* Engine.IO error message (a static string) */
};

/*
 * Writes the JSON body of an error, {"code":code,"message":"message"}, to buf (NUL-terminated,
 * cut at n). Returns its length, at most n - 1.
 */
size_t pl_eio_error_json(const struct pl_eio_error *e, char *buf, size_t n);

/*
 * Checks a request against the protocol's rules without side effects. Returns 0, or -1 with
 * *err describing the answer the transport must give.
 */
int pl_eio_check(struct pl_server *srv, const struct pl_eio_request *r, bool websocket,
		 struct pl_eio_error *err);
/*
 * Admits a handshake (a request without a sid) from its client address: within the address's
 * handshakes per second and sessions. Takes one handshake; call it once per handshake, where
 * a refusal can still be answered. Returns 0, or -1 with *err (429).
 */
int pl_eio_admit(struct pl_server *srv, const struct pl_eio_request *r, struct pl_eio_error *err);
/*
 * Checks a request and finds or creates its session. websocket selects the WebSocket rules.
 * Returns the session with a reference for the request, or NULL with *err to answer (a second
 * WebSocket for a session is closed here, with err->status 0).
 */
struct pl_eio *pl_eio_accept(struct pl_server *srv, const struct pl_eio_request *r, bool websocket,
			     struct pl_eio_error *err);
/* A polling GET: answer now with queued packets or hold it. */
void pl_eio_poll_get(struct pl_eio *s, struct pl_conn *c);
/* A polling POST's headers: its body follows. A second POST while one is arriving ends the
 * session, as the reference server does; then it is answered 400 and false returned. */
bool pl_eio_poll_post_begin(struct pl_eio *s, struct pl_conn *c);
/* A complete polling POST body (modifiable in place); answers the request. */
void pl_eio_poll_post(struct pl_eio *s, struct pl_conn *c, char *body, size_t len);
/* A polling GET is writable: if it is the held one, answer it with the queued packets as one
 * payload. Returns 0. */
int pl_eio_poll_writable(struct pl_eio *s, struct pl_conn *c);
/* A request of this session ended (answered or aborted). */
void pl_eio_request_gone(struct pl_eio *s, struct pl_conn *c, bool aborted);
/* A WebSocket attached to the session was established. */
void pl_eio_ws_open(struct pl_eio *s, struct pl_conn *c);
/* A complete WebSocket message (modifiable in place). */
void pl_eio_ws_message(struct pl_eio *s, struct pl_conn *c, char *data, size_t len, bool binary);
/* The WebSocket is writable: write queued frames in one batch. Returns 0, or -1 when the
 * connection failed. */
int pl_eio_ws_writable(struct pl_eio *s, struct pl_conn *c);
/* The WebSocket closed. */
void pl_eio_ws_closed(struct pl_eio *s, struct pl_conn *c);

#endif
