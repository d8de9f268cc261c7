/*
 * Rooms and broadcast behind an interface shaped like Socket.IO's Adapter (add, del, delAll,
 * broadcast, sockets, socketRooms, fetchSockets, serverSideEmit). The local implementation keeps
 * the rooms of one namespace in memory and delivers a broadcast encoded and framed once; an
 * adapter that spans servers wraps it.
 */
#ifndef PL_ADAPTER_H
#define PL_ADAPTER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "parley/plugin.h"

struct pl_nsp;
struct pl_socket;
struct pl_room;
struct pl_adapter;

/* Called for each room a socket left in del_all, after it left (room is valid during the call). */
typedef void (*pl_left_fn)(struct pl_socket *s, const char *room, void *ud);
/* Called for each socket a query finds. */
typedef void (*pl_each_socket_fn)(struct pl_socket *s, void *ud);
/* Called for each room of a socket. */
typedef void (*pl_each_room_fn)(const char *room, void *ud);

/* What a server asks the others of its cluster (ask), and tells them (tell). */
enum pl_ask_kind {
	PL_ASK_FETCH,	/* their sockets of a target, described as Node's fetchSockets does */
	PL_ASK_ROOMS,	/* their rooms with members */
	PL_ASK_SERVERS, /* how many servers the cluster has: [n], this one included */
	PL_ASK_EMIT	/* a server-side emit awaiting each server's answer */
};
enum pl_tell_kind { PL_TELL_JOIN, PL_TELL_LEAVE, PL_TELL_DISCONNECT, PL_TELL_EMIT };
/*
 * The answers of an ask, all servers' items in one borrowed array (sockets, room names, each
 * server's answer, or [n]); err 0, or -ETIMEDOUT with what came in time, or -ESHUTDOWN.
 */
typedef void (*pl_answers_fn)(json_t *answers, int err, void *ud);

struct pl_adapter_ops {
	/* Adds s to room (idempotent). Returns 0 or -ENOMEM. */
	int (*add)(struct pl_adapter *a, struct pl_socket *s, const char *room);
	/* Removes s from room; false if it was not in it. */
	bool (*del)(struct pl_adapter *a, struct pl_socket *s, const char *room);
	/* Removes s from every room, telling left (if set) of each. */
	void (*del_all)(struct pl_adapter *a, struct pl_socket *s, pl_left_fn left, void *ud);
	/*
	 * Delivers m (attachments are struct pl_frame) to the target's sockets (NULL: all), each
	 * socket once. Returns the number of sockets it was queued for.
	 */
	size_t (*broadcast)(struct pl_adapter *a, const struct parley_target *t,
			    const struct parley_message *m);
	/* The room, or NULL. */
	struct pl_room *(*room)(struct pl_adapter *a, const char *name);
	/* Calls fn for each socket of the target (NULL: all), each once; returns their number. */
	size_t (*fetch_sockets)(struct pl_adapter *a, const struct parley_target *t,
				pl_each_socket_fn fn, void *ud);
	/* Calls fn for each room s is in; returns their number. */
	size_t (*socket_rooms)(struct pl_adapter *a, const struct pl_socket *s, pl_each_room_fn fn,
			       void *ud);
	/*
	 * Asks the other servers of a cluster: t selects the sockets of PL_ASK_FETCH, m is the
	 * emit of PL_ASK_EMIT. Returns 0 and sets *handle (for ask_cancel), then fn is called once,
	 * later; 1 when there is nobody to ask; -ENOTCONN while the cluster is unreachable; or
	 * -ENOMEM. NULL alone.
	 */
	int (*ask)(struct pl_adapter *a, enum pl_ask_kind kind, const struct parley_target *t,
		   const struct parley_message *m, unsigned timeout_ms, pl_answers_fn fn, void *ud,
		   void **handle);
	/* Forgets an ask: its fn is not called. */
	void (*ask_cancel)(struct pl_adapter *a, void *handle);
	/*
	 * Tells the other servers to make the target's sockets join or leave room, disconnect
	 * them (close: their connections too), or hear the server-side emit m. NULL alone.
	 */
	void (*tell)(struct pl_adapter *a, enum pl_tell_kind kind, const struct parley_target *t,
		     const char *room, bool close, const struct parley_message *m);
	/* Frees the adapter and its rooms (after every socket left). */
	void (*free)(struct pl_adapter *a);
	/*
	 * Tells the other servers of a cluster of a broadcast about to be delivered here: m is the
	 * final packet (after the EMIT hooks, without this server's recovery offset). NULL alone.
	 */
	void (*publish)(struct pl_adapter *a, const struct parley_target *t,
			const struct parley_message *m);
};

struct pl_adapter {
	const struct pl_adapter_ops *ops; /* the implementation */
	struct pl_nsp *nsp;		  /* the namespace it serves */
};

/* Makes the adapter of a new namespace (the cluster's, which wraps the local one). */
typedef struct pl_adapter *(*pl_adapter_new_fn)(struct pl_nsp *nsp, void *ud);

/* The in-memory adapter of nsp; NULL without memory. */
struct pl_adapter *pl_adapter_local_new(struct pl_nsp *nsp);

/* True if s is in room. */
bool pl_adapter_in(const struct pl_socket *s, const char *room);

/* Sockets gathered before acting on them (acting on one may change the rooms being walked). */
struct pl_collected {
	struct pl_socket **v; /* referenced sockets */
	size_t n, cap;	      /* used and allocated */
	bool failed;	      /* out of memory */
};
/* Adds s (referenced) to ud, a struct pl_collected: a pl_each_socket_fn. */
void pl_collect_one(struct pl_socket *s, void *ud);
/* The target's sockets in a's namespace (NULL: all), referenced. 0 or -ENOMEM. */
int pl_collect(struct pl_adapter *a, const struct parley_target *t, struct pl_collected *out);
/* Makes each connected socket of c join or leave room, or disconnect (close: the connection
 * too); PL_TELL_EMIT does nothing. */
void pl_collected_act(struct pl_collected *c, enum pl_tell_kind kind, const char *room, bool close);
/* Releases the sockets. */
void pl_collected_close(struct pl_collected *c);

/* Adds to set (an object used as a set) the rooms of nsp as Node's rooms map has them: every
 * room with members here, and each socket's own. 0 or -ENOMEM. */
int pl_rooms_add(const struct pl_nsp *nsp, json_t *set);

#endif
