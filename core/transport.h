/*
 * The libwebsockets glue: one vhost on our libuv loop, one protocol handling HTTP and
 * WebSocket. transport.c is the only file that includes libwebsockets: it feeds requests and
 * messages to Engine.IO (eio.h), sends what Engine.IO and http.c decide through its own
 * pl_conn_ops (conn.h), and keeps its state (context, vhost, deferred closes) to itself.
 */
#ifndef PL_TRANSPORT_H
#define PL_TRANSPORT_H

#include <stddef.h>

struct pl_server;

/*
 * Creates the context and the listening vhost on srv->loop, registers the connection
 * operations with Engine.IO, and sets srv->port. Returns 0, or -1 after logging why (then
 * pl_transport_stop and pl_transport_free still clean up).
 */
int pl_transport_start(struct pl_server *srv);
/* First half of shutdown: destroys the context while the loop still runs. */
void pl_transport_stop(struct pl_server *srv);
/* WebSockets whose closing handshake is still under way. */
size_t pl_transport_closing(void);
/* Second half, after uv_run returned (required with a foreign loop). */
void pl_transport_free(struct pl_server *srv);

#endif
