/*
 * Connection state recovery over the store: the sessions (socket id, identity, rooms, the offset
 * each room was joined at) are rows of the sessions table, written while the socket is connected
 * and stamped when it disconnects, so that they survive a restart and a crash; what a client
 * missed is read back from the stored packets by room, private recipient and id.
 */
#ifndef PL_RECOVERY_H
#define PL_RECOVERY_H

#include <stddef.h>
#include <uv.h>

struct pl_sio;
struct pl_history;
struct pl_recovery;

/*
 * Turns recovery on for sio's namespaces: sessions are kept window_ms after their socket
 * disconnects; a restore brings back at most max_missed packets of at most max_bytes in all
 * (more fails it: the client catches up with history instead). Sessions a previous process left
 * connected (it was killed) count as disconnected now. NULL after logging why.
 */
struct pl_recovery *pl_recovery_new(struct pl_sio *sio, struct pl_history *h, uv_loop_t *loop,
				    unsigned window_ms, size_t max_missed, size_t max_bytes);

/*
 * The server is stopping: writes the sessions saved since the last write, then stamps every
 * connected one disconnected in one statement, so that the sockets' ends that follow write
 * nothing more (a cluster's log still gets each). Call it before the sockets go. NULL is a
 * no-op.
 */
void pl_recovery_stop(struct pl_recovery *r);

/* Turns recovery off and frees it, before the history is freed. NULL is a no-op. */
void pl_recovery_free(struct pl_recovery *r);

/* A session as text (JSON values serialized), every field borrowed. */
struct pl_session_row {
	const char *pid, *nsp, *sid; /* private session id, namespace, socket id */
	const char *userid, *name;   /* identity as JSON, or NULL */
	const char *rooms;	     /* {"room": offset when it joined, ...} */
	long long since;	     /* offset when it connected */
	long long identity_at;	     /* offset when its identity was set */
	long long disconnected;	     /* ms since the epoch, 0 while connected */
};

/* Where a cluster's sessions also go, so that another node can recover them. */
struct pl_recovery_log {
	void (*put)(void *ud, const struct pl_session_row *row); /* written or stamped */
	void (*drop)(void *ud, const char *pid);		  /* ended, not recoverable */
};

/*
 * Sends every session written from now on to log too (borrowed, with ud), and writes the
 * connected ones again every quarter of the window, so that other nodes keep them for a
 * window after this node was last heard of. Returns 0 or -ENOMEM.
 */
int pl_recovery_set_log(struct pl_recovery *r, const struct pl_recovery_log *log, void *ud);

/*
 * Stores a session another node wrote, at ts (ms since the epoch): one still connected there
 * counts as disconnected a refresh after ts, unless written again. A socket here holding it
 * goes quietly when the entry's since is above its own (the client has moved); otherwise the
 * entry is stale and ignored. Returns 0 or a negative error.
 */
int pl_recovery_put_remote(struct pl_recovery *r, const struct pl_session_row *row, long long ts);
/* Forgets a session another node ended. Returns 0 or a negative error. */
int pl_recovery_drop_remote(struct pl_recovery *r, const char *pid);

/* The before-write barrier step (ud is the recovery): writes the sessions saved since the last. */
int pl_recovery_flush(void *ud);

#endif
