/*
 * Checkpoints of the store's write-ahead log, off the loop. SQLite copies the log back into the
 * database (page writes and an fsync: tens of milliseconds at times) in whichever commit takes
 * the log past 1000 pages, so on the loop. A connection attached here hands that to a libuv
 * worker thread with a connection of its own instead: a passive checkpoint there blocks neither
 * the loop's readers nor its writers. The log starts over from its beginning at the first commit
 * after a checkpoint that no commit overlapped; writers that never leave such a gap would let it
 * grow, so at 8000 pages it is checkpointed once on the loop.
 */
#ifndef PL_CHECKPOINT_H
#define PL_CHECKPOINT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct pl_checkpoint;

/* Returns a checkpointer running its checkpoints on loop's worker threads, or NULL. */
struct pl_checkpoint *pl_checkpoint_new(uv_loop_t *loop);

/*
 * Takes over db's checkpoints (its WAL hook) while db stays open. SQLite built without threads
 * keeps its own. A database in memory has no log and is left alone.
 */
void pl_checkpoint_attach(struct pl_checkpoint *c, sqlite3 *db);

/* Gives db's checkpoints back to SQLite (wal_autocheckpoint 1000). db must still be open. */
void pl_checkpoint_detach(sqlite3 *db);

/* True while a checkpoint runs: writes made meanwhile keep the log from starting over. */
bool pl_checkpoint_running(const struct pl_checkpoint *c);

/* How many checkpoints ran on the worker, and the longest, in ns. */
void pl_checkpoint_figures(const struct pl_checkpoint *c, unsigned long long *count,
			   uint64_t *max_ns);

/* Frees c; a checkpoint still running finishes on its own. NULL is a no-op. */
void pl_checkpoint_free(struct pl_checkpoint *c);

#endif
