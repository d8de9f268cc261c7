/*
 * Rooms and broadcast behind an interface shaped like Socket.IO's Adapter (add, del, delAll,
 * broadcast, sockets, socketRooms, fetchSockets, serverSideEmit). The local implementation keeps
 * the rooms of one namespace in memory and delivers a broadcast encoded and framed once; an
 * adapter that spans servers wraps it.
 */
#ifndef PL_ADAPTER_H
#define PL_ADAPTER_H

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
	/* Sends m to the other servers of a cluster; returns how many were reached (0 here). */
	size_t (*server_side_emit)(struct pl_adapter *a, const struct parley_message *m);
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

#endif
