/*
 * The Socket.IO v5 server: clients (one per Engine.IO session), namespaces, sockets (one per
 * client and namespace), rooms, emits and acks. Every client event passes through one dispatch
 * point, the namespace's handler list, where the built-in applications (and later plugins and
 * scripts) register. A broadcast is encoded and framed once; every recipient's queue shares it.
 */
#ifndef PL_SIO_H
#define PL_SIO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "map.h"

struct pl_server;
struct pl_eio;
struct pl_socket;
struct pl_nsp;

/* What a handler tells the dispatcher. */
enum pl_verdict {
	PL_PASS,       /* no opinion: later handlers run */
	PL_DONE,       /* handled: later handlers do not run */
	PL_REJECT,     /* refuse (connect: the client gets CONNECT_ERROR with the reason) */
	PL_DISCONNECT, /* refuse and disconnect the socket */
};

/* A client event as handlers see it. */
struct pl_event {
	struct pl_socket *socket; /* the sender */
	const char *name;	  /* event name (a number's text for numeric names) */
	json_t *args;		  /* arguments after the name (an array; handlers may modify) */
	struct pl_frame **attachments; /* binary attachments referenced by placeholders in args */
	unsigned n_attachments;	  /* number of attachments */
	long long ack_id;	  /* the client's ack id, or -1 when it expects none */
	json_t *reason;		  /* set by a handler that rejects: sent back as the ack's error */
};

typedef enum pl_verdict (*pl_event_fn)(struct pl_event *ev, void *ud);
typedef enum pl_verdict (*pl_connect_fn)(struct pl_socket *s, json_t *auth, json_t **error,
					 void *ud);
typedef void (*pl_disconnect_fn)(struct pl_socket *s, const char *reason, void *ud);
/* A server-to-client ack: args is the client's answer, or NULL on timeout or disconnect. */
typedef void (*pl_ack_fn)(struct pl_socket *s, json_t *args, void *ud);

struct pl_membership {
	struct pl_room *room; /* a room this socket is in */
	size_t index;	      /* the socket's position in room->members */
};

struct pl_socket {
	char id[24];		     /* Socket.IO id (not the engine sid) */
	struct pl_nsp *nsp;	     /* namespace */
	struct pl_client *client;    /* the connection it belongs to */
	struct pl_socket *next_in_client; /* the client's other sockets */
	size_t nsp_index;	     /* position in nsp->sockets */
	struct pl_membership *rooms; /* rooms joined */
	size_t n_rooms, cap_rooms;   /* rooms used and allocated */
	uint64_t mark;		     /* broadcast dedup stamp */
	json_t *auth;		     /* the CONNECT auth payload (an object), NULL when none */
	json_t *data;		     /* application data (identity, ...), NULL until pl_socket_data */
	struct pl_pending_ack *acks; /* server-to-client acks awaiting an answer */
	long long next_ack_id;	     /* next server-assigned ack id */
	bool connected;		     /* false once disconnected (the object may outlive it briefly) */
	unsigned refs;		     /* the namespace, plus callers that hold it across calls */
};

struct pl_room {
	char *name;		       /* room name (the map key) */
	struct pl_socket **members;    /* sockets in the room */
	size_t *slots;		       /* for each member, its index in member->rooms */
	size_t n, cap;		       /* members used and allocated */
};

/* Initialises the layer and registers it as the Engine.IO handler of srv. */
int pl_sio_init(struct pl_server *srv);
/* Frees namespaces and rooms (after every session closed). */
void pl_sio_close(struct pl_server *srv);

/* Returns the namespace, creating it when create is set; NULL if absent or out of memory. */
struct pl_nsp *pl_sio_nsp(struct pl_server *srv, const char *name, bool create);
/* The namespace's name. */
const char *pl_nsp_name(const struct pl_nsp *nsp);
/* The socket with that id in nsp, or NULL. */
struct pl_socket *pl_nsp_socket(struct pl_nsp *nsp, const char *id);
/* Number of connected sockets in nsp. */
size_t pl_nsp_count(const struct pl_nsp *nsp);
/* The i-th connected socket of nsp (0 <= i < pl_nsp_count). */
struct pl_socket *pl_nsp_socket_at(struct pl_nsp *nsp, size_t i);
/* The room, or NULL. */
struct pl_room *pl_nsp_room(struct pl_nsp *nsp, const char *name);

/* Handler registration; handlers run in priority order (lower first), then registration order. */
int pl_nsp_on_event(struct pl_nsp *nsp, const char *event, int priority, pl_event_fn fn, void *ud);
int pl_nsp_on_connect(struct pl_nsp *nsp, int priority, pl_connect_fn fn, void *ud);
int pl_nsp_on_disconnect(struct pl_nsp *nsp, int priority, pl_disconnect_fn fn, void *ud);

/* Takes a reference that keeps s valid (not connected) after it disconnects. */
struct pl_socket *pl_socket_ref(struct pl_socket *s);
/* Drops a reference taken with pl_socket_ref. */
void pl_socket_unref(struct pl_socket *s);

/* The socket's application data object, created on first use (NULL only without memory). */
json_t *pl_socket_data(struct pl_socket *s);

/* Joins or leaves a room (idempotent). Returns 0 or -ENOMEM. */
int pl_socket_join(struct pl_socket *s, const char *room);
void pl_socket_leave(struct pl_socket *s, const char *room);
/* True if s is in room. */
bool pl_socket_in(const struct pl_socket *s, const char *room);
/* Disconnects the socket from its namespace (sends DISCONNECT); with close, also ends the
 * connection. */
void pl_socket_disconnect(struct pl_socket *s, bool close);
/* The engine session id of the socket's connection. */
const char *pl_socket_engine_sid(const struct pl_socket *s);

/* An outgoing message: the event name and arguments, encoded once per namespace. */
struct pl_message {
	json_t *payload;	       /* [name, args...] (borrowed) */
	struct pl_frame **attachments; /* binary attachments referenced by placeholders (borrowed) */
	unsigned n_attachments;	       /* their number */
};

/*
 * Emits to one socket. With fn, the client is asked for an ack that fn receives (NULL on
 * timeout or disconnect), never from within this call and only when it returns 0. Returns 0 or
 * a negative errno.
 */
int pl_socket_emit(struct pl_socket *s, const struct pl_message *m, pl_ack_fn fn, void *ud);
/* Answers a client's ack id with args (an array, borrowed). */
int pl_socket_ack(struct pl_socket *s, long long id, json_t *args, struct pl_frame **att,
		  unsigned n_att);

/*
 * Emits to every socket of nsp in any of rooms (all sockets when n_rooms is 0), skipping the
 * sockets in except_rooms and the socket except. Returns the number of recipients.
 */
size_t pl_nsp_broadcast(struct pl_nsp *nsp, const char *const *rooms, size_t n_rooms,
			const char *const *except_rooms, size_t n_except, struct pl_socket *except,
			const struct pl_message *m);

/* Convenience: emit name with one argument (borrowed) to a socket / a broadcast. */
int pl_socket_emit1(struct pl_socket *s, const char *name, json_t *arg);
size_t pl_nsp_emit1(struct pl_nsp *nsp, const char *room, struct pl_socket *except,
		    const char *name, json_t *arg);

#endif
