/*
 * The socket lifecycle and what a socket can do: connect and leave a namespace, join and leave
 * rooms within the server's limits (JOIN and LEAVE hooks fire here, so every path that joins a
 * room is seen), identity, extensions' per-socket values, and sending (EMIT hooks fire here,
 * once per emit or broadcast, before the packet is encoded).
 */
#ifndef PL_SOCKET_H
#define PL_SOCKET_H

#include <jansson.h>
#include <stdbool.h>

#include "buf.h"
#include "nsp.h"
#include "parley/plugin.h"

/*
 * A new socket of client c in nsp, not yet connected (state CONNECTING), holding one
 * reference; auth (borrowed) is kept. NULL without memory.
 */
struct pl_socket *pl_socket_new(struct pl_nsp *nsp, struct pl_client *c, json_t *auth);
/* Files a new socket in its namespace and client: it is connected. Returns 0 or -ENOMEM. */
int pl_socket_attach(struct pl_socket *s);
/*
 * Takes a connected socket out: DISCONNECT hooks (rooms still readable), then its rooms
 * (LEAVE hooks), its pending acks ("no answer"), extensions' values, and the namespace's
 * reference. A no-op for a socket that is not connected.
 */
void pl_socket_remove(struct pl_socket *s, const char *reason);
/* Sends DISCONNECT and removes the socket; with close, also ends the connection. */
void pl_socket_disconnect(struct pl_socket *s, bool close);

/* Recovery: the offset a frame sent now carries (0 when recovery is off). */
long long pl_socket_offset(const struct pl_sio *sio);
/* Recovery: payload (an array) with the offset appended, a new reference; NULL when off. */
json_t *pl_socket_with_offset(const struct pl_sio *sio, json_t *payload, long long offset);
/* Recovery: s's session is to be saved (its rooms or identity changed). */
void pl_socket_save(struct pl_socket *s);

/* Takes a reference that keeps s valid (not connected) after it disconnects. */
struct pl_socket *pl_socket_ref(struct pl_socket *s);
/* Drops a reference; the socket is freed with the last. */
void pl_socket_unref(struct pl_socket *s);

/*
 * Joins a room (idempotent) after the JOIN hooks agree. Returns 0, -EPIPE when not connected,
 * PL_EROOMNAME, PL_ETOOMANYROOMS, PL_EREFUSED or -ENOMEM.
 */
int pl_socket_join(struct pl_socket *s, const char *room);
/* Leaves a room (a no-op when not in it); LEAVE hooks hear it. room may be the room's own name. */
void pl_socket_leave(struct pl_socket *s, const char *room);
/* True if s is in room. */
bool pl_socket_in(const struct pl_socket *s, const char *room);

/* o's value on s, replacing (and destroying) an earlier one. Returns 0 or -ENOMEM / -EPIPE. */
int pl_socket_set_data(struct pl_socket *s, void *owner, void *data, void (*free_fn)(void *));
/* o's value on s, or NULL. */
void *pl_socket_get_data(const struct pl_socket *s, void *owner);
/* Destroys o's value on s, if any. */
void pl_socket_drop_data(struct pl_socket *s, void *owner);

/*
 * Emits to one socket (EMIT hooks first). With fn, the client is asked for an ack that fn
 * receives (NULL on timeout or disconnect), never from within this call and only when it
 * returns 0. Attachments are struct pl_frame. Returns 0, -EPIPE, -ENOMEM or PL_EREFUSED.
 */
int pl_socket_emit(struct pl_socket *s, const struct parley_message *m, parley_ack_fn fn,
		   void *ud);
/* Answers the client's ack id with args (an array, borrowed). */
int pl_socket_ack(struct pl_socket *s, long long id, json_t *args, struct pl_frame *const *att,
		  unsigned n_att);
/* Emits to the target's sockets of nsp (NULL: all) after the EMIT hooks. Returns recipients. */
size_t pl_nsp_broadcast(struct pl_nsp *nsp, const struct parley_target *t,
			const struct parley_message *m);

/*
 * s as Node's RemoteSocket sees it (fetchSockets): {id, handshake, rooms (its own id first),
 * data {userid, name}}. Parley keeps no request headers or query: the handshake has the
 * address, the path and the CONNECT auth. A new reference, NULL without memory.
 */
json_t *pl_socket_describe(const struct pl_socket *s);

#endif
