/*
 * What Engine.IO needs of whatever carries a session's bytes: an HTTP request to answer (a
 * polling GET or POST, or a refused handshake) or a WebSocket to write frames on. transport.c
 * implements it over libwebsockets; the unit tests implement it over a recorder. Engine.IO never
 * sees the library underneath, as Redis's networking code never sees whether a ConnectionType is
 * TCP or TLS.
 */
#ifndef PL_CONN_H
#define PL_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * One carrier of bytes: an HTTP request or a WebSocket. Opaque to Engine.IO, which only keeps
 * the pointer between the transport's calls and hands it back to the operations below. The
 * transport owns it; Engine.IO forgets it when told the request or WebSocket is gone.
 */
struct pl_conn;

/* The operations on a pl_conn. One static table per kind of carrier. */
struct pl_conn_ops {
	/* Writable bytes that must precede every buffer given to write_framed and send. Frames
	 * (PL_FRAME_HEADROOM) and Engine.IO's scratch buffer reserve at least this much. */
	size_t headroom;
	/* Answers an HTTP request with a complete response, sent when the connection allows. The
	 * body is copied; ctype is a static string or NULL for none. A second answer to the same
	 * request is ignored. */
	void (*respond)(struct pl_conn *c, int status, const char *ctype, const void *body,
			size_t len);
	/* True if the client has closed a request that is still unanswered. */
	bool (*peer_gone)(struct pl_conn *c);
	/* True while the carrier holds unsent bytes of its own: then only write_framed, from the
	 * writable callback, may write, so the stream stays in order. */
	bool (*busy)(struct pl_conn *c);
	/* Sends pre-framed WebSocket bytes now, outside the writable callback; with more, the
	 * caller writes again at once (the close frame) and the bytes may wait for it to share a
	 * TCP segment. Returns the bytes taken (possibly fewer than len, 0 when none), or -1 when
	 * the connection failed. */
	ssize_t (*send)(struct pl_conn *c, const void *p, size_t len, bool more);
	/* Writes pre-framed WebSocket bytes completely (what the socket refuses, the carrier keeps
	 * and sends first). Only from the writable callback; p has headroom writable bytes before
	 * it. Returns 0, or -1 when the connection failed. */
	int (*write_framed)(struct pl_conn *c, unsigned char *p, size_t len);
	/* Asks for a writable callback (pl_eio_poll_writable or pl_eio_ws_writable). */
	void (*want_write)(struct pl_conn *c);
	/* Closes a WebSocket with a close frame carrying status (RFC 6455), outside of its
	 * callbacks. The first status asked for wins. */
	void (*close_ws)(struct pl_conn *c, int status);
	/* Drops a connection without a response (its client has gone). */
	void (*drop)(struct pl_conn *c);
};

#endif
