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

/* Turns recovery off and frees it, before the history is freed. NULL is a no-op. */
void pl_recovery_free(struct pl_recovery *r);

/* The before-write barrier step (ud is the recovery): writes the sessions saved since the last. */
int pl_recovery_flush(void *ud);

#endif
