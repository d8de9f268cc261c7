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
struct sqlite3;
struct sqlite3_stmt;

/* What a stored packet is: a message (listed in history pages) or a notice (kept for recovery). */
enum pl_record_kind { PL_RECORD_MESSAGE = 0, PL_RECORD_NOTICE = 1 };

/* A packet to store, every field borrowed. */
struct pl_record {
	const char *nsp;	  /* namespace */
	const char *room;	  /* target room, "" (or NULL) for the whole namespace */
	const json_t *recipient;  /* a private message: the recipient's userid (room is ignored) */
	const char *skip;	  /* the socket id it was not sent to (its sender), or NULL */
	const json_t *sender;	  /* the sender's identity, {name, userid} */
	const char *event;	  /* event name */
	const json_t *args;	  /* the event's arguments, an array */
	enum pl_record_kind kind;
};

/*
 * Opens (creating if needed) the database at path (":memory:" for none on disk), applies the
 * schema or migrates an older one (see history_schema.h), and commits pending writes in loop's
 * prepare phase. How long rows are kept is retention.h's business. max_bytes caps the file's
 * size (PRAGMA max_page_count; 0 for no cap). The connection never waits for a lock
 * (busy_timeout 0): a database locked by another process fails the batch at once. The file
 * is checked before each commit and every few seconds, and reopened (the schema applied again)
 * when it was deleted or replaced; the batch at hand then fails. Returns NULL after logging why.
 */
struct pl_history *pl_history_new(const char *path, uv_loop_t *loop, unsigned long long max_bytes);

/* Commits and closes. NULL is a no-op. */
void pl_history_free(struct pl_history *h);

/*
 * Appends a message (sender and payload are borrowed JSON) to the open transaction. done is
 * called once, from the next commit (pl_history_commit: the before-write barrier or the
 * prepare phase, so before any frame of this iteration leaves), with the message's id (> 0)
 * once it is committed, or a negative error (-ENOSPC full, -EBUSY locked by another process,
 * -EIO, -ENOMEM) when it is not stored: a failed commit is rolled back, and none of its ids is
 * ever given out. Errors are logged with sqlite3_errmsg at most once per 10 s. Returns 0, or
 * -ENOMEM (done is then not called).
 */
int pl_history_store(struct pl_history *h, const struct pl_record *r,
		     void (*done)(long long id, void *ud), void *ud);

/*
 * Appends a message and commits at once (with whatever the open transaction holds). Returns
 * its id (> 0) once committed, or a negative error as pl_history_store's done is told.
 */
long long pl_history_append(struct pl_history *h, const struct pl_record *r);

/*
 * The id of the newest packet handed to the store (committed or in the open transaction): a
 * frame sent now comes after every packet up to it, so it is the frame's recovery offset.
 */
long long pl_history_last(const struct pl_history *h);

/* The open database connection (it changes when the file is reopened), for the session store
 * and retention. It is closed with sqlite3_close_v2: statements prepared on it may outlive it
 * until their owner sees the new connection and finalizes them. */
struct sqlite3 *pl_history_db(struct pl_history *h);
/*
 * Runs a write statement (prepared on pl_history_db, bound) in the loop iteration's transaction,
 * committed with the next batch, then resets it. Returns 0 or a negative error (logged).
 */
int pl_history_write(struct pl_history *h, struct sqlite3_stmt *st);

/*
 * A log that gives stored packets their ids (a cluster's shared stream): with one set,
 * pl_history_store hands each record to append, which later brings it back, with its id, to
 * pl_history_put_row (done passed on), or tells done an error with pl_history_tell.
 */
struct pl_history_log {
	/* Takes the record (borrowed: copy what is kept). Returns 0, -ENOMEM (done is then not
	 * called), or another negative error that done is told at the next commit. */
	int (*append)(void *ud, const struct pl_record *r, void (*done)(long long id, void *ud),
		      void *done_ud);
	/* Takes a delete already done here (nsp borrowed), for every other copy; NULL: none. */
	void (*remove)(void *ud, const char *nsp, long long id);
};

/* Sets the log (NULL for none; log and ud borrowed, kept until it is set again). With a log,
 * pl_history_append fails with -ENOTSUP: its id would come later than it returns. */
void pl_history_set_log(struct pl_history *h, const struct pl_history_log *log, void *ud);

/* A stored packet as text: JSON values already serialized; every field borrowed. */
struct pl_history_row {
	const char *nsp;       /* namespace */
	const char *room;      /* target room, "" for everyone; ignored with a recipient */
	const char *recipient; /* a private message's recipient userid as JSON, or NULL */
	const char *skip;      /* the socket id it was not sent to, or NULL */
	const char *sender;    /* JSON */
	const char *event;     /* event name */
	const char *args;      /* JSON array */
	long long ts;	       /* ms since the epoch, when it entered the cluster */
	enum pl_record_kind kind;
};

/*
 * Stores a row under the id the log gave, in the open transaction (a row of that id already
 * stored is left as it is). done (may be NULL) is told id at the next commit, or the error
 * that kept the row out. Returns 0 or a negative error (done is told it too, unless -ENOMEM).
 */
int pl_history_put_row(struct pl_history *h, long long id, const struct pl_history_row *row,
		       void (*done)(long long id, void *ud), void *ud);

/* Tells done the error err (< 0) at the next commit. Returns 0 or -ENOMEM. */
int pl_history_tell(struct pl_history *h, long long err, void (*done)(long long id, void *ud),
		    void *ud);

/*
 * Returns messages (not notices) of (nsp, room) as a new array of {"id","ts","from","payload"}
 * objects (payload: the first argument), oldest
 * first, or NULL on error. With since >= 0, the oldest limit messages with an id above since
 * (paging forward); otherwise the newest limit ones with an id below before (paging back), or
 * the newest of all when before is 0.
 */
json_t *pl_history_page(struct pl_history *h, const char *nsp, const char *room, long long before,
			long long since, int limit);

/*
 * Deletes the message with that id from nsp's history (inside the open transaction, if any),
 * and, with a log that takes deletes, hands the delete to it too, so that every copy applies it
 * in the log's order. Returns 0, -ENOENT when nsp holds no such message here, or -EIO after
 * logging sqlite3_errmsg.
 */
int pl_history_delete(struct pl_history *h, const char *nsp, long long id);

/* Deletes the message as pl_history_delete does, here only: a delete the log brought back.
 * Returns the same. */
int pl_history_erase(struct pl_history *h, const char *nsp, long long id);

/*
 * Commits the open transaction, if any, and tells its appends their outcome (appends made by
 * those callbacks are committed too, a few rounds at most). NULL is a no-op. Returns 0 or a
 * negative error.
 */
int pl_history_commit(struct pl_history *h);

#endif
