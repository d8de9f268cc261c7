/*
 * Chat history in SQLite. Messages are appended inside a transaction that is committed once
 * per loop iteration, before any frame of that iteration is written to a socket
 * (pl_history_commit runs in the loop's prepare phase, and main.c registers it as a step of the
 * server's before-write barrier, which Engine.IO runs before every write), so a message any
 * client has received is in the history even after a crash.
 */
#ifndef PL_HISTORY_H
#define PL_HISTORY_H

#include <jansson.h>
#include <uv.h>

struct pl_history;

/*
 * Opens (creating if needed) the database at path (":memory:" for none on disk), applies the
 * schema, and commits pending writes in loop's prepare phase. keep is the number of messages
 * kept per room (0 keeps all): older ones are deleted at open and then every minute.
 * Returns NULL after logging why.
 */
struct pl_history *pl_history_new(const char *path, uv_loop_t *loop, unsigned keep);

/* Commits and closes. NULL is a no-op. */
void pl_history_free(struct pl_history *h);

/*
 * Appends a message (sender and payload are borrowed JSON). Returns its id (> 0), or a
 * negative error after logging sqlite3_errmsg.
 */
long long pl_history_append(struct pl_history *h, const char *nsp, const char *room,
			    const json_t *sender, const char *event, const json_t *payload);

/*
 * Returns messages of (nsp, room) as a new array of {"id","ts","from","payload"} objects, oldest
 * first, or NULL on error. With since >= 0, the oldest limit messages with an id above since
 * (paging forward); otherwise the newest limit ones with an id below before (paging back), or
 * the newest of all when before is 0.
 */
json_t *pl_history_page(struct pl_history *h, const char *nsp, const char *room, long long before,
			long long since, int limit);

/*
 * Deletes the message with that id from nsp's history (inside the open transaction, if any).
 * Returns 0, -ENOENT when nsp holds no such message, or -EIO after logging sqlite3_errmsg.
 */
int pl_history_delete(struct pl_history *h, const char *nsp, long long id);

/* Commits the open transaction, if any. NULL is a no-op. Returns 0 or a negative error. */
int pl_history_commit(struct pl_history *h);

#endif
