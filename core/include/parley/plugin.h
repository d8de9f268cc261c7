/*
 * Parley's extension API: the only header that plugins and the built-in applications see.
 *
 * An extension gets a table of host functions (struct parley_api) and an owner handle; every
 * hook, timer and per-socket value it registers belongs to that owner and goes with it. Sockets
 * and namespaces are opaque handles read through the table. Event structs start with their
 * size and end with reserved pointers, so they can grow without breaking built extensions;
 * the table only ever grows at its end (check api->size before using a newer member).
 *
 * Errors are 0 or a negative code; api->strerror() describes one. JSON values are jansson's:
 * parameters are borrowed unless a comment says "adopted" (the callee takes the reference),
 * and returned JSON is borrowed unless it says "new reference".
 */
#ifndef PARLEY_PLUGIN_H
#define PARLEY_PLUGIN_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a plugin's entry points as exported when it is built with -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define PARLEY_EXPORT __attribute__((visibility("default")))
#else
#define PARLEY_EXPORT
#endif

/* The API version this header describes; the host may offer several. */
#define PARLEY_API_VERSION 1

/* Errors besides negative errno values (-ENOMEM, -EPIPE when not connected, -EINVAL, ...). */
#define PARLEY_ETOOMANYROOMS (-1002) /* the socket is in as many rooms as allowed */
#define PARLEY_EROOMNAME     (-1003) /* a room name is empty or too long */
#define PARLEY_ERESERVED     (-1004) /* a name reserved by the protocol or the server */
#define PARLEY_EREFUSED	     (-1005) /* a hook refused it */
#define PARLEY_EVERSION	     (-1006) /* no API version in common */
/* token_verify's refusals; api->strerror gives a reason that may be shown to the client */
#define PARLEY_ETOKEN_MALFORMED (-1201) /* not three base64url parts of JSON, or too long */
#define PARLEY_ETOKEN_ALG	(-1202) /* a header algorithm other than HS256 */
#define PARLEY_ETOKEN_SIGNATURE (-1203) /* the signature does not match the key */
#define PARLEY_ETOKEN_EXPIRED	(-1204) /* exp has passed */
#define PARLEY_ETOKEN_NOTYET	(-1205) /* iat or nbf lies in the future, beyond the skew */
#define PARLEY_ETOKEN_CLAIMS	(-1206) /* exp missing, or a claim of the wrong type or size */

/* Signed tokens: the shortest HMAC key token_sign and token_verify accept, bytes. */
#define PARLEY_TOKEN_MIN_KEY 32

typedef struct parley_socket parley_socket; /* one client in one namespace */
typedef struct parley_nsp parley_nsp;	    /* a namespace ("/", "/chat", ...) */
typedef struct parley_owner parley_owner;   /* a plugin, script or built-in application */
typedef struct parley_binary parley_binary; /* a binary attachment (refcounted by the host) */
typedef struct parley_timer parley_timer;   /* a timer owned by an extension */
typedef struct parley_request parley_request; /* a question to the servers of a cluster */

/* Hook points, in the order a socket meets them. */
enum parley_hook {
	PARLEY_HOOK_CONNECT,	    /* handshake + auth, may refuse (struct parley_evt_connect) */
	PARLEY_HOOK_CONNECT_FAILED, /* a CONNECT that passed a handler was refused later: told to
				     * the connect handlers that passed (struct parley_evt_connect) */
	PARLEY_HOOK_CONNECTED,	    /* the socket is connected (struct parley_evt_socket) */
	PARLEY_HOOK_EVENT,	    /* a client event, by name or catch-all (struct parley_evt_message) */
	PARLEY_HOOK_JOIN,	    /* before a socket joins a room; may refuse (struct parley_evt_room) */
	PARLEY_HOOK_LEAVE,	    /* a socket left a room (struct parley_evt_room) */
	PARLEY_HOOK_EMIT,	    /* an outgoing emit or broadcast, once, before it is encoded
				     * (struct parley_evt_emit) */
	PARLEY_HOOK_DISCONNECT,	    /* the socket is leaving, its rooms still readable
				     * (struct parley_evt_socket) */
	PARLEY_HOOK_TICK,	    /* once a second (struct parley_evt_tick) */
	PARLEY_HOOK_APP,	    /* raised by an application, by name: "login", "chat", "private"
				     * (struct parley_evt_message) */
	PARLEY_HOOK_SERVER_EMIT,    /* a server-side emit from another server of the cluster, by
				     * name (struct parley_evt_message, socket NULL; see
				     * cluster_emit) */
	PARLEY_HOOK_COUNT
};

/* What a hook handler tells the pipeline. */
enum parley_verdict {
	PARLEY_PASS,	   /* no opinion: later handlers run */
	PARLEY_HANDLED,	   /* stop; the event is delivered as modified (or was handled here) */
	PARLEY_DROP,	   /* stop; nobody receives it and the sender is not told */
	PARLEY_REJECT,	   /* stop; the sender gets evt->reject as its ack answer (connect: the
			    * CONNECT_ERROR data; join: the join fails) */
	PARLEY_DISCONNECT, /* reject, then disconnect the sender */
};

/* Conventional priorities: lower runs first; equal priorities run in registration order. */
enum {
	PARLEY_PRIO_GUARD = 0,	  /* limits, authentication */
	PARLEY_PRIO_FILTER = 100, /* moderation, rewriting */
	PARLEY_PRIO_APP = 200,	  /* the application that handles the event */
	PARLEY_PRIO_OBSERVE = 300 /* loggers, bridges */
};

/* Log levels of api->log. */
enum parley_log_level { PARLEY_LOG_DEBUG, PARLEY_LOG_INFO, PARLEY_LOG_WARN, PARLEY_LOG_ERROR };

/* PARLEY_HOOK_CONNECT and PARLEY_HOOK_CONNECT_FAILED. */
struct parley_evt_connect {
	size_t size;		/* sizeof this struct as the host built it */
	parley_socket *socket;	/* the socket being connected (not yet in the namespace) */
	json_t *auth;		/* the CONNECT payload (an object) or NULL; borrowed */
	json_t *error;		/* PARLEY_REJECT: the CONNECT_ERROR data (an object, or a string
				 * used as its message), adopted; NULL gives "Not authorized" */
	void *future[4];	/* reserved */
};

/* PARLEY_HOOK_CONNECTED and PARLEY_HOOK_DISCONNECT. */
struct parley_evt_socket {
	size_t size;		/* sizeof this struct as the host built it */
	parley_socket *socket;	/* the socket */
	const char *reason;	/* DISCONNECT: Socket.IO's reason ("transport close", ...) */
	void *future[4];	/* reserved */
};

/*
 * Routing of an application's message (the chat application's "chat" and "private" hooks): who
 * else receives it and whether it is stored. The arrays belong to the event: a handler creates
 * one when it is NULL (json_array()) and appends to it; the application releases them.
 */
struct parley_route {
	size_t size;	  /* sizeof this struct as the host built it */
	json_t *to_rooms; /* more rooms to deliver to (strings), or NULL */
	json_t *to_users; /* user ids whose sockets also receive it, or NULL */
	json_t *skip;	  /* socket ids that must not receive it, or NULL */
	bool no_store;	  /* deliver it but keep it out of the history */
	void *future[4];  /* reserved */
};

/*
 * PARLEY_HOOK_EVENT and PARLEY_HOOK_APP. name and args are replaceable: a handler may leave a
 * new name (a malloc'd string) or new args (a new reference to an array) in the struct; the
 * pipeline adopts them, frees what they replaced, and re-matches on a changed name (handlers of
 * the new name that come later in priority order run next). args may also be modified in place.
 */
struct parley_evt_message {
	size_t size;			   /* sizeof this struct as the host built it */
	parley_socket *socket;		   /* the sender */
	char *name;			   /* event name (a number's text for numeric names) */
	json_t *args;			   /* arguments after the name: an array */
	parley_binary *const *attachments; /* binary attachments the args refer to */
	unsigned n_attachments;		   /* their number */
	long long ack_id;		   /* the client's ack id, -1 when it expects none */
	json_t *reject;			   /* PARLEY_REJECT/DISCONNECT: the whole ack answer, an
					    * array (adopted); NULL answers with no arguments */
	struct parley_route *route;	   /* APP hooks that deliver a message: its routing;
					    * NULL elsewhere */
	void *future[3];		   /* reserved */
};

/* PARLEY_HOOK_JOIN and PARLEY_HOOK_LEAVE. */
struct parley_evt_room {
	size_t size;		/* sizeof this struct as the host built it */
	parley_socket *socket;	/* the member */
	const char *room;	/* the room */
	void *future[4];	/* reserved */
};

/*
 * The room of a user across a cluster: this prefix, then the userid as JSON text
 * ("parley:user:\"u1\""). A broadcast to it reaches every socket logged in with that userid on
 * every node (a Node.js node joins its sockets to it); no socket can join it by name.
 */
#define PARLEY_USER_ROOM "parley:user:"

/* Who receives a broadcast. Rooms named by a socket id reach that socket. */
struct parley_target {
	size_t size;			/* sizeof this struct as the caller built it */
	const char *const *rooms;	/* rooms to reach; none means the whole namespace */
	size_t n_rooms;			/* entries in rooms */
	const char *const *except_rooms; /* sockets in these rooms are skipped */
	size_t n_except;		/* entries in except_rooms */
	parley_socket *except;		/* a socket to skip (the sender), or NULL */
};

/*
 * A packet to store (history_record): a message listed in history pages and replays, or a
 * notice ("joined", "left", an extension's event) kept for connection state recovery only. Every
 * recoverable packet is stored just before it is sent, so that a client that missed it while
 * reconnecting gets it again. Fields are borrowed.
 */
struct parley_record {
	size_t size;		  /* sizeof this struct as the caller built it */
	parley_nsp *nsp;	  /* the namespace */
	const char *room;	  /* the room it is sent to; NULL or "" for the whole namespace */
	const json_t *recipient;  /* a private message: the recipient's userid (room is ignored) */
	parley_socket *skip;	  /* the socket it is not sent to (its sender), or NULL */
	const json_t *sender;	  /* the sender's identity {name, userid}, or NULL */
	const char *event;	  /* the event name */
	const json_t *args;	  /* the event's arguments, an array */
	bool notice;		  /* kept for recovery, not listed in history */
	void *future[4];	  /* reserved, zero */
};

/* An outgoing message: [name, args...] and the attachments its placeholders refer to. */
struct parley_message {
	json_t *payload;		   /* [name, args...]; borrowed */
	parley_binary *const *attachments; /* borrowed */
	unsigned n_attachments;		   /* their number */
};

/*
 * PARLEY_HOOK_EMIT. payload is replaceable: a handler may leave a new reference in it; the
 * pipeline adopts it and releases the one it replaced. DROP, REJECT and DISCONNECT cancel it.
 */
struct parley_evt_emit {
	size_t size;			    /* sizeof this struct as the host built it */
	parley_nsp *nsp;		    /* the namespace */
	parley_socket *to;		    /* an emit to one socket, or NULL for a broadcast */
	const struct parley_target *target; /* a broadcast's recipients, or NULL */
	json_t *payload;		    /* [name, args...] */
	void *future[4];		    /* reserved */
};

/* PARLEY_HOOK_TICK. */
struct parley_evt_tick {
	size_t size;	  /* sizeof this struct as the host built it */
	uint64_t now_ms;  /* the loop's clock, ms */
	void *future[4];  /* reserved */
};

/* A hook handler. evt points at the struct of the hook (see enum parley_hook). */
typedef enum parley_verdict (*parley_hook_fn)(enum parley_hook hook, void *evt, void *ud);
/* The answer to a server-to-client ack: args (borrowed), or NULL on timeout or disconnect. */
typedef void (*parley_ack_fn)(parley_socket *s, json_t *args, void *ud);
/* A timer's callback. */
typedef void (*parley_timer_fn)(void *ud);
/*
 * The answers of a cluster request (borrowed for the call): err 0 when every server answered,
 * -ETIMEDOUT when some did not in time (answers holds what came), -ESHUTDOWN when the server
 * stops first.
 */
typedef void (*parley_answers_fn)(json_t *answers, int err, void *ud);
/*
 * What a bot receives: an event sent to it (name and args, borrowed for the call). Called from
 * the loop, never from inside the emit or broadcast that sent it.
 */
typedef void (*parley_bot_fn)(parley_socket *bot, const char *event, json_t *args, void *ud);

/*
 * The host's functions. Members are only ever added at the end; an extension built against an
 * older header sees a prefix of the table.
 */
struct parley_api {
	size_t size;	  /* sizeof the table as the host built it */
	int version;	  /* the API version it implements */
	const char *server_version; /* "0.2.0" */

	/* -- errors and logging -- */
	const char *(*strerror)(int err);
	void (*log)(parley_owner *o, enum parley_log_level level, const char *fmt, ...)
		__attribute__((format(printf, 3, 4)));
	bool (*log_enabled)(enum parley_log_level level);

	/* -- hooks -- */
	/*
	 * Registers fn on hook for owner o, limited to namespace nsp (NULL: every namespace,
	 * those created later included) and, for EVENT and APP, to event (NULL: every name).
	 * Safe inside a running hook (takes effect for the next event). Returns 0 or an error.
	 */
	int (*hook_add)(parley_owner *o, enum parley_hook hook, const char *nsp, const char *event,
			int priority, parley_hook_fn fn, void *ud);
	/* Removes o's registrations of fn with ud on hook. Returns the number removed. */
	int (*hook_remove)(parley_owner *o, enum parley_hook hook, parley_hook_fn fn, void *ud);
	/*
	 * Raises an application hook (PARLEY_HOOK_APP) named evt->name in nsp and returns the
	 * verdict. The caller owns evt; afterwards it calls message_done to release what the
	 * handlers left in it. orig_name is what the caller put in evt->name (never freed).
	 */
	enum parley_verdict (*hook_raise)(parley_nsp *nsp, struct parley_evt_message *evt);
	void (*message_done)(struct parley_evt_message *evt, const char *orig_name);

	/* -- namespaces -- */
	/* The namespace, creating it when create is set; NULL if absent or out of memory. */
	parley_nsp *(*nsp_get)(const char *name, bool create);
	const char *(*nsp_name)(const parley_nsp *nsp);
	/* Connected sockets of nsp: count, and the i-th (0 <= i < count). */
	size_t (*nsp_count)(const parley_nsp *nsp);
	parley_socket *(*nsp_socket_at)(parley_nsp *nsp, size_t i);
	/* The socket with that Socket.IO id, or NULL. */
	parley_socket *(*nsp_socket)(parley_nsp *nsp, const char *id);
	/* Members of a room: count (0 when it does not exist) and the i-th. */
	size_t (*room_size)(parley_nsp *nsp, const char *room);
	parley_socket *(*room_member_at)(parley_nsp *nsp, const char *room, size_t i);
	/* The sockets whose identity has this userid (compared as JSON values): first, next. */
	parley_socket *(*user_first)(parley_nsp *nsp, const json_t *userid);
	parley_socket *(*user_next)(parley_socket *s);

	/* -- sockets -- */
	const char *(*socket_id)(const parley_socket *s);
	parley_nsp *(*socket_nsp)(parley_socket *s);
	bool (*socket_connected)(const parley_socket *s);
	/* The CONNECT auth payload (an object) or NULL. */
	json_t *(*socket_auth)(const parley_socket *s);
	/* Keeps s valid (though perhaps disconnected) until socket_unref. */
	parley_socket *(*socket_ref)(parley_socket *s);
	void (*socket_unref)(parley_socket *s);
	/*
	 * Sets the identity: userid and name are JSON values (usually strings or numbers) or NULL
	 * for none; copied. Indexes the socket by userid. Returns 0 or an error.
	 */
	int (*socket_set_identity)(parley_socket *s, const json_t *userid, const json_t *name);
	/* The identity's parts, NULL when unset; valid until the identity changes. */
	json_t *(*socket_userid)(const parley_socket *s);
	json_t *(*socket_name)(const parley_socket *s);
	/* Rooms joined: count and the i-th name (valid while s stays in it). */
	size_t (*socket_room_count)(const parley_socket *s);
	const char *(*socket_room_at)(const parley_socket *s, size_t i);
	bool (*socket_in)(const parley_socket *s, const char *room);
	/*
	 * Joins a room (idempotent), within the server's limits on rooms per socket and room name
	 * length, after the JOIN hooks agree. Returns 0 or an error (too many rooms, invalid name,
	 * refused by a hook, not connected, out of memory).
	 */
	int (*socket_join)(parley_socket *s, const char *room);
	/* Leaves a room (no-op when not in it). */
	void (*socket_leave)(parley_socket *s, const char *room);
	/* Disconnects s from its namespace (DISCONNECT packet); with close, ends the connection. */
	void (*socket_disconnect)(parley_socket *s, bool close);
	/*
	 * o's value on s, with its destructor (called when s goes, when o goes, or when replaced).
	 * Returns 0 or an error; get returns NULL when unset.
	 */
	int (*socket_set_data)(parley_socket *s, parley_owner *o, void *data, void (*free_fn)(void *));
	void *(*socket_get_data)(const parley_socket *s, parley_owner *o);

	/* -- sending -- */
	/*
	 * Emits to one socket. With fn, asks the client for an ack that fn receives (NULL on
	 * timeout or disconnect), never from within this call and only when it returns 0.
	 */
	int (*emit)(parley_socket *s, const struct parley_message *m, parley_ack_fn fn, void *ud);
	/* Answers the client's ack id with args (an array). */
	int (*ack)(parley_socket *s, long long ack_id, json_t *args, parley_binary *const *att,
		   unsigned n_att);
	/* Emits to the target's sockets of nsp (NULL target: all). Returns the recipients. */
	size_t (*broadcast)(parley_nsp *nsp, const struct parley_target *t,
			    const struct parley_message *m);

	/* -- timers -- */
	/* Calls fn after ms, then every repeat_ms (0: once). NULL when out of memory. */
	parley_timer *(*timer_start)(parley_owner *o, uint64_t ms, uint64_t repeat_ms,
				     parley_timer_fn fn, void *ud);
	/* Stops and frees a timer (a one-shot timer that fired is freed already). */
	void (*timer_stop)(parley_timer *t);

	/* -- configuration -- */
	/* A numeric setting by its option name ("history-replay"), or fallback when unknown. */
	long long (*config_number)(const char *key, long long fallback);

	/* -- history -- */
	/*
	 * Stores a message and commits it at once, with whatever else is pending: a commit per
	 * call, so history_store is the one to use per message. room NULL or "" is the
	 * namespace-wide chat. Returns its id (> 0) once committed, or an error (-ENOSPC when the
	 * database is full, -EBUSY when another process holds its lock, -EIO, -ENOTSUP in a
	 * cluster, where the id comes from Redis later); an id is never returned for a message
	 * that is not stored.
	 */
	long long (*history_append)(parley_nsp *nsp, const char *room, const json_t *sender,
				    const char *event, const json_t *payload);
	/*
	 * A page of stored messages, oldest first, as a new array of {id, ts, from, payload}:
	 * with since >= 0 the oldest limit after since, else the newest limit before before (0:
	 * the newest). NULL on error.
	 */
	json_t *(*history_page)(parley_nsp *nsp, const char *room, long long before,
				long long since, int limit);

	/* -- owners -- */
	/* The owner's name ("chat", "moderation", a script's file name). */
	const char *(*owner_name)(const parley_owner *o);

	/* -- more configuration, history, sockets and bots (API version 1) -- */
	/* A string setting by its option name ("db", "web-root"), or NULL when unknown or unset. */
	const char *(*config_string)(const char *key);
	/* Deletes the stored message with that id from nsp's history. Returns 0, -ENOENT or an error. */
	int (*history_delete)(parley_nsp *nsp, long long id);
	/*
	 * The peer address of the socket's connection ("127.0.0.1", "::1"), "" for a bot. The
	 * text is valid until the next call.
	 */
	const char *(*socket_address)(const parley_socket *s);
	/*
	 * A bot: a socket of o in nsp without a connection, with the identity {userid: bot:<id>,
	 * name}, listed among a room's members like any socket. fn receives what is emitted to it.
	 * Freed with bot_free or with its owner. NULL without memory.
	 */
	parley_socket *(*bot_new)(parley_owner *o, parley_nsp *nsp, const char *name, parley_bot_fn fn,
				  void *ud);
	void (*bot_free)(parley_socket *bot);
	bool (*socket_is_bot)(const parley_socket *s);
	/*
	 * Runs a client event as if s had sent it (the EVENT hooks, the application), without an
	 * ack. args is an array (borrowed). Returns 0 or an error.
	 */
	int (*inject)(parley_socket *s, const char *event, json_t *args);
	/* True if any handler is registered on hook: lets an application skip building an event. */
	bool (*hook_active)(enum parley_hook hook);
	/*
	 * A hash of data under a random key drawn once per process (SipHash-1-3): for tables over
	 * client-chosen keys, which an attacker cannot then fill with colliding names.
	 */
	uint64_t (*hash)(const void *data, size_t len);
	/*
	 * Stores a message in the loop iteration's transaction. done(id, ud) is called once, when
	 * that transaction has been committed, before any frame of the iteration leaves (from the
	 * before-write barrier), never from within this call: with the message's id (> 0), or with
	 * an error when it was not stored (-ENOSPC full, -EBUSY the database locked by another
	 * process, -EIO; the batch is rolled back and its ids are never given out). The history
	 * never waits for a lock. Keep whatever ud needs alive until done (socket_ref for a
	 * socket). Returns 0, or an error (done is then not called).
	 */
	int (*history_store)(parley_nsp *nsp, const char *room, const json_t *sender,
			     const char *event, const json_t *payload,
			     void (*done)(long long id, void *ud), void *ud);
	/*
	 * Stores a packet as history_store does (done as there; NULL when nothing waits for it):
	 * call it just before sending the packet, so that a client that reconnects having missed
	 * it gets it back (connection state recovery) and, unless it is a notice, history lists it.
	 */
	int (*history_record)(const struct parley_record *r, void (*done)(long long id, void *ud),
			      void *ud);
	/*
	 * True if s took over a session at connect (connection state recovery): it has its id,
	 * identity and rooms back, and was sent what it missed.
	 */
	bool (*socket_recovered)(const parley_socket *s);

	/* -- signed tokens (API version 1) -- */
	/*
	 * Verifies a token of Parley's format (an HS256 JSON Web Token, see the README's Identity
	 * section) of len bytes with the HMAC key (key_len bytes, at least PARLEY_TOKEN_MIN_KEY):
	 * the header's alg, the signature (in constant time, before the claims are read), then
	 * the claims at now_s (seconds since the epoch; 0 for the current time): exp required and
	 * in the future, iat and nbf no later than now_s + skew_s, sub a string, name a string,
	 * rooms a list of strings, all bounded in size. Returns 0 and sets *claims to the payload
	 * object (a new reference), or an error: a PARLEY_ETOKEN_ code, -EINVAL for a short key,
	 * -ENOMEM.
	 */
	int (*token_verify)(const char *token, size_t len, const void *key, size_t key_len,
			    long long now_s, long long skew_s, json_t **claims);
	/*
	 * Signs claims (an object, borrowed; written as given) with the HMAC key. Returns the
	 * token as a string (caller frees with free()), or NULL for a short key, a token over the
	 * size token_verify reads, or no memory.
	 */
	char *(*token_sign)(const json_t *claims, const void *key, size_t key_len);

	/* -- the cluster (API version 1) -- */
	/*
	 * Every server of a Redis cluster (--redis), this one included, Node.js Socket.IO servers
	 * with @socket.io/redis-adapter among them; a server running alone is a cluster of one.
	 * A request's fn is called once, later, never from within the call; not at all after
	 * request_cancel or once its owner o is freed. timeout_ms 0 means 5000. NULL without
	 * memory (fn is then not called).
	 *
	 * cluster_fetch: the target's sockets on every server, as Node's fetchSockets() lists them:
	 * {id, handshake {address, url, auth, ...}, rooms (its own id first), data {userid, name}}.
	 */
	parley_request *(*cluster_fetch)(parley_owner *o, parley_nsp *nsp,
					 const struct parley_target *t, uint64_t timeout_ms,
					 parley_answers_fn fn, void *ud);
	/* Every room with members on any server (a socket's own room included), each once. */
	parley_request *(*cluster_rooms)(parley_owner *o, parley_nsp *nsp, uint64_t timeout_ms,
					 parley_answers_fn fn, void *ud);
	/* The number of servers, as answers [n]. */
	parley_request *(*cluster_servers)(parley_owner *o, parley_nsp *nsp, uint64_t timeout_ms,
					   parley_answers_fn fn, void *ud);
	/*
	 * A server-side emit of m ([event, args...], no attachments) to the other servers: their
	 * SERVER_EMIT hooks (a Node server's io.on(event) listeners). With fn, each server's
	 * answer (the first argument of its ack) is awaited; a Parley server whose hooks leave
	 * none answers {server: "parley", uid, sockets}. Without fn, returns NULL (and nothing is
	 * awaited); errors are then not reported.
	 */
	parley_request *(*cluster_emit)(parley_owner *o, parley_nsp *nsp,
					const struct parley_message *m, uint64_t timeout_ms,
					parley_answers_fn fn, void *ud);
	/* Forgets a request: its fn is not called (a no-op from within its own fn). */
	void (*request_cancel)(parley_request *r);
	/*
	 * The target's sockets on every server join (leave) room, or are disconnected (with close,
	 * their connections too): Node's socketsJoin, socketsLeave and disconnectSockets. Here at
	 * once, elsewhere as the servers receive it. Returns 0 or an error.
	 */
	int (*cluster_join)(parley_nsp *nsp, const struct parley_target *t, const char *room);
	int (*cluster_leave)(parley_nsp *nsp, const struct parley_target *t, const char *room);
	int (*cluster_disconnect)(parley_nsp *nsp, const struct parley_target *t, bool close);
};

/*
 * A loadable plugin exports these three functions (cleanup is optional).
 * parley_plugin_version: the host offers the API versions it supports; the plugin returns the
 * one it picks, or -1 to refuse. parley_plugin_init: registers hooks with api and owner, reads
 * its options (NULL-terminated key/value pairs); returns 0 or an error. parley_plugin_cleanup:
 * frees the plugin's own state (its hooks, timers and socket data are removed by the host).
 */
PARLEY_EXPORT int parley_plugin_version(int n_versions, const int *versions);
PARLEY_EXPORT int parley_plugin_init(const struct parley_api *api, parley_owner *owner,
				     const char *const *options);
PARLEY_EXPORT void parley_plugin_cleanup(const struct parley_api *api, parley_owner *owner);

#ifdef __cplusplus
}
#endif

#endif
