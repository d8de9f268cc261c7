/*
 * One connection as Socket.IO sees it: the sockets it has in each namespace, and the sink its
 * packets go to. Today the sink is an Engine.IO session; an in-process bot or a remote node can
 * implement the same operations. Also the one place where Socket.IO packets become frames.
 */
#ifndef PL_CLIENT_H
#define PL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "buf.h"

struct pl_server;
struct pl_socket;
struct pl_client;
struct pl_pending_packet;

/* Where a client's frames go. */
struct pl_sink_ops {
	/* Queues one frame (the sink takes its own reference). Returns 0 or a negative error;
	 * -EPIPE once the connection is gone. */
	int (*send)(struct pl_client *c, struct pl_frame *f);
	/* Ends the connection: with flush, queued frames leave first. */
	void (*close)(struct pl_client *c, const char *reason, bool flush);
	/* A name for log lines (the engine session id). */
	const char *(*name)(const struct pl_client *c);
};

/* The room pl_client_address needs, its NUL included (an IPv6 address's text). */
#define PL_CLIENT_ADDRSTRLEN 46

struct pl_client {
	struct pl_server *srv;		   /* owning server */
	const struct pl_sink_ops *sink;	   /* where frames go */
	void *conn;			   /* the sink's object (a struct pl_eio), NULL once closed */
	struct pl_socket *sockets;	   /* connected namespaces */
	uv_timer_t *connect_timer;	   /* closes a client that never connects a namespace */
	struct pl_pending_packet *pending; /* a binary packet waiting for its attachments, or NULL */
};

/* The sink of an Engine.IO session (conn is the struct pl_eio). */
extern const struct pl_sink_ops pl_eio_sink;

/* Sends a frame and then its attachments. Returns 0 or a negative error. */
int pl_client_send(struct pl_client *c, struct pl_frame *f, struct pl_frame *const *att,
		   unsigned n_att);
/* Ends the connection (see struct pl_sink_ops). */
void pl_client_close(struct pl_client *c, const char *reason, bool flush);
/* The client's name for log lines. */
const char *pl_client_name(const struct pl_client *c);
/*
 * Writes the peer address of the client's connection to buf (PL_CLIENT_ADDRSTRLEN bytes):
 * "127.0.0.1", "::1", or "" without one (a closed connection; a sink other than an Engine.IO
 * session, which has no peer). Returns buf.
 */
const char *pl_client_address(const struct pl_client *c, char *buf);
/* The query arguments of the connection's handshake as a JSON object's text, or NULL. */
const char *pl_client_query(const struct pl_client *c);

/*
 * Encodes one Socket.IO packet as an Engine.IO message frame (type, namespace, ack id or -1,
 * data, attachment count). Returns a new frame (one reference) or NULL without memory.
 */
struct pl_frame *pl_packet_frame(const char *nsp, int type, long long id, const json_t *data,
				 unsigned n_att);

#endif
