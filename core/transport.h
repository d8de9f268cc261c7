/*
 * The libwebsockets glue: one vhost on our libuv loop, one protocol handling HTTP and
 * WebSocket. Every libwebsockets workaround of the server lives in transport.c; the rest of the
 * server talks to connections only through these functions.
 */
#ifndef PL_TRANSPORT_H
#define PL_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct lws;
struct pl_server;

/* Creates the context and the listening vhost. Returns 0, or -1 after logging why. */
int pl_transport_start(struct pl_server *srv);
/* First half of shutdown: destroys the context while the loop still runs. */
void pl_transport_stop(struct pl_server *srv);
/* Second half, after uv_run returned (required with a foreign loop). */
void pl_transport_destroy(struct pl_server *srv);

/*
 * Answers an HTTP request with a complete response, written when the connection is writable.
 * Copies body. ctype may be NULL for no body type.
 */
void pl_transport_respond(struct lws *wsi, int status, const char *ctype, const char *body,
			  size_t len);
/* Answers an Engine.IO error: status with {"code":code,"message":message}. */
void pl_transport_respond_error(struct lws *wsi, int status, int code, const char *message);
/* True if the client closed the connection of a request that is still unanswered. */
bool pl_transport_peer_gone(struct lws *wsi);
/* True while lws holds unsent bytes of its own for wsi (then only writable may write). */
bool pl_transport_busy(struct lws *wsi);
/*
 * Sends bytes on wsi's socket now, outside lws. Returns the bytes the kernel took (0 when it
 * took none), or -1 when the connection failed.
 */
ssize_t pl_transport_send(struct lws *wsi, const void *p, size_t len);
/* Drops a connection without a response (its client has gone). */
void pl_transport_drop(struct lws *wsi);
/* Asks for a writable callback on wsi. */
void pl_transport_want_write(struct lws *wsi);
/*
 * Writes pre-framed WebSocket bytes in one send (p must have LWS_PRE writable bytes before it).
 * Only from the connection's writable callback. Returns 0 or -1 when the connection failed.
 */
int pl_transport_ws_write_raw(struct lws *wsi, unsigned char *p, size_t len);
/* Closes a WebSocket with a close frame (status 1000), outside of its callbacks. */
void pl_transport_close_ws(struct pl_server *srv, struct lws *wsi);
/* The same with another RFC 6455 status (1009 for a message over maxPayload). */
void pl_transport_close_ws_status(struct pl_server *srv, struct lws *wsi, int status);

#endif
