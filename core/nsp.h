/*
 * The Socket.IO data model: the namespace registry, namespaces, sockets (one per client and
 * namespace) and rooms. This header holds the structs that the layers above share (the room
 * adapter, the socket lifecycle, acks and the protocol state machine); behaviour lives in
 * adapter.c, socket.c, ack.c and sio.c. Nothing here is seen by extensions: they read the
 * same objects through the opaque handles of parley/plugin.h.
 */
#ifndef PL_NSP_H
#define PL_NSP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "map.h"

struct pl_server;
struct pl_client;
struct pl_hooks;
struct pl_adapter;
struct pl_pending_ack;
struct pl_nsp;
struct pl_socket;

/* A session brought back by connection state recovery: what its new socket gets again. */
struct pl_restored {
	char sid[24];	     /* the socket id */
	json_t *userid;	     /* identity, or NULL */
	json_t *name;
	json_t *rooms;	     /* its rooms: an array of names */
	json_t *missed;	     /* the packets it missed, oldest first: [[id, [event, args...]], ...] */
};

/*
 * Connection state recovery, kept by a layer above (recovery.c) and installed by main. Every
 * EVENT frame without an ack id carries an offset: the id of the newest packet stored when it
 * was sent, so a client holding it has received every stored packet for it up to that id.
 */
struct pl_recovery_ops {
	/* The offset a frame sent now carries. */
	long long (*offset)(void *ud);
	/* s connected, joined or left a room, or changed identity: its session is to be saved. */
	void (*save)(void *ud, struct pl_socket *s);
	/* s is leaving (rooms still readable); keep when the reason allows a recovery. */
	void (*end)(void *ud, struct pl_socket *s, bool keep);
	/*
	 * The session pid of nsp, if the client (holding offset, NULL when it has none) may have
	 * it back: fills out (released with pl_restored_close) and returns true.
	 */
	bool (*restore)(void *ud, struct pl_nsp *nsp, const char *pid, const char *offset,
			struct pl_restored *out);
};

/* Releases what a restore filled in. */
void pl_restored_close(struct pl_restored *r);

/* The Socket.IO layer of a server: its namespaces and the hook pipeline they share. */
struct pl_sio {
	struct pl_server *srv;	/* owning server */
	struct pl_map nsps;	/* name -> struct pl_nsp */
	struct pl_hooks *hooks; /* the hook pipeline (owned) */
	const struct pl_recovery_ops *recovery; /* NULL: recovery is off */
	void *recovery_ud;			/* its argument */
	struct pl_adapter *(*adapter_new)(struct pl_nsp *nsp, void *ud); /* NULL: the local one */
	void *adapter_ud;	/* its argument */
	uint64_t epoch;		/* broadcast stamp, see the local adapter */
	size_t max_rooms;	/* rooms one socket may be in */
	size_t max_room_name;	/* longest room name, bytes */
};

struct pl_nsp {
	char *name;		    /* "/", "/chat", ... */
	struct pl_sio *sio;	    /* owning layer */
	struct pl_map sockets;	    /* id -> struct pl_socket (connected sockets) */
	struct pl_socket **list;    /* connected sockets, for namespace-wide emits */
	size_t n, cap;		    /* sockets used and allocated in list */
	struct pl_map users;	    /* userid as JSON text -> struct pl_user */
	struct pl_adapter *adapter; /* rooms and broadcast (owned) */
};

struct pl_membership {
	struct pl_room *room; /* a room this socket is in */
	size_t index;	      /* the socket's position in room->members */
	long long joined_at;  /* the recovery offset when it joined */
};

/* A value an extension keeps on a socket. */
struct pl_slot {
	void *owner;		 /* the parley_owner it belongs to */
	void *data;		 /* the value */
	void (*free_fn)(void *); /* its destructor, or NULL */
	struct pl_slot *next;	 /* the socket's other values */
};

/* The sockets of one user id in a namespace. */
struct pl_user {
	char *key;		 /* the userid as JSON text (the map key) */
	struct pl_socket *first; /* its sockets, linked by next_user */
};

enum pl_socket_state { PL_SOCKET_CONNECTING, PL_SOCKET_CONNECTED, PL_SOCKET_GONE };

struct pl_socket {
	char id[24];			  /* Socket.IO id (not the engine sid) */
	struct pl_nsp *nsp;		  /* namespace */
	struct pl_client *client;	  /* the connection it belongs to */
	struct pl_socket *next_in_client; /* the client's other sockets */
	size_t nsp_index;		  /* position in nsp->list */
	struct pl_membership *rooms;	  /* rooms joined */
	size_t n_rooms, cap_rooms;	  /* rooms used and allocated */
	uint64_t mark;			  /* broadcast dedup stamp */
	json_t *auth;			  /* the CONNECT auth payload (an object), NULL when none */
	long long issued_ms;		  /* when it connected, Unix time in ms */
	json_t *userid;			  /* identity: user id (a JSON scalar) or NULL */
	json_t *name;			  /* identity: display name (a JSON scalar) or NULL */
	struct pl_user *user;		  /* its entry in nsp->users, NULL without userid */
	struct pl_socket *next_user;	  /* the same user's other sockets in nsp */
	struct pl_socket *prev_user;	  /* ... and the one before, NULL for the first */
	struct pl_slot *slots;		  /* extensions' values */
	struct pl_pending_ack *acks;	  /* server-to-client acks awaiting an answer */
	long long next_ack_id;		  /* next server-assigned ack id */
	enum pl_socket_state state;	  /* CONNECTED between CONNECT and disconnect */
	char pid[24];			  /* recovery: the private session id, "" without one */
	long long since;		  /* recovery: the offset when it connected */
	long long identity_at;		  /* recovery: the offset when its identity was set */
	bool recovered;			  /* its session was recovered at connect */
	bool session_queued;		  /* recovery: its session waits to be written */
	unsigned refs;			  /* the namespace, plus callers that hold it across calls */
};

struct pl_room {
	char *name;		    /* room name (the map key) */
	struct pl_socket **members; /* sockets in the room */
	size_t *slots;		    /* for each member, its index in member->rooms */
	size_t n, cap;		    /* members used and allocated */
};

/* The namespace of that name, or NULL (namespaces are created by the protocol layer). */
struct pl_nsp *pl_nsp_find(struct pl_sio *sio, const char *name);
/* The socket with that id in nsp (connected), or NULL. */
struct pl_socket *pl_nsp_socket(struct pl_nsp *nsp, const char *id);
/* The i-th connected socket of nsp (0 <= i < nsp->n), or NULL. */
struct pl_socket *pl_nsp_socket_at(struct pl_nsp *nsp, size_t i);

/* Adds s to nsp's table and list. Returns 0 or -ENOMEM. */
int pl_nsp_add(struct pl_nsp *nsp, struct pl_socket *s);
/* Removes s from nsp's table and list. */
void pl_nsp_del(struct pl_nsp *nsp, struct pl_socket *s);

/* The largest userid and name, as JSON text: an identity is copied into every stored row,
 * session and private message, so its size is bounded whoever sets it. */
#define PL_MAX_USERID_BYTES 256
#define PL_MAX_NAME_BYTES 4096

/*
 * Sets the identity of s (userid and name: JSON values, copied; NULL for none) and files s
 * under its userid in nsp's users index. Returns 0, PL_EIDENTITY (over the limits above) or
 * -ENOMEM; on an error the identity is unchanged.
 */
int pl_nsp_set_identity(struct pl_socket *s, const json_t *userid, const json_t *name);
/* Takes s out of the users index (a socket that leaves; its identity stays readable). */
void pl_nsp_user_forget(struct pl_socket *s);
/* The first socket of nsp whose userid equals userid (as JSON values), or NULL. */
struct pl_socket *pl_nsp_user_first(struct pl_nsp *nsp, const json_t *userid);

#endif
