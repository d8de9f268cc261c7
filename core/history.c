/*
 * SQLite history (see history.h). One connection, prepared statements kept for the life of
 * the server, WAL journal, and a write transaction opened lazily by the first append of a loop
 * iteration and committed in the prepare phase.
 */
#include "history.h"

#include <errno.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "history_schema.h"
#include "json.h"
#include "log.h"
#include "map.h"

/* What the open transaction's messages add to one target's room_totals row. */
struct total {
	char *key;	/* the map key: nsp, '\x1f', private ('0'/'1'), target */
	size_t nsp_len; /* nsp is key[0, nsp_len), target key[nsp_len + 2, ...) */
	bool private;
	long long messages, bytes;
};

/* An append waiting for its batch's commit. */
struct pending {
	long long id;			 /* its row id, or the error that kept it out */
	void (*done)(long long id, void *ud); /* told the final id or an error */
	void *ud;
};

struct pl_history {
	sqlite3 *db;		 /* the connection */
	sqlite3_stmt *insert;	 /* INSERT INTO messages */
	sqlite3_stmt *newest;	 /* the newest N of a room below an id */
	sqlite3_stmt *oldest;	 /* the oldest N of a room above an id */
	int in_tx;		 /* a write transaction is open */
	uv_prepare_t *prepare;	 /* commits before the loop polls for I/O; freed by its close */
	char *path;		 /* the database file */
	uv_loop_t *loop;
	unsigned long long max_bytes; /* --history-max-bytes, 0 for no cap */
	struct pending *batch;	 /* appends of the open transaction, told at its commit */
	size_t n_batch, cap_batch;
	struct pl_map totals;	 /* the open transaction's additions to room_totals, by target */
	sqlite3_stmt *add_totals; /* adds one target's to room_totals */
	long long last_id;	 /* the highest id handed out: a reopened file starts above it */
	bool seq_behind;	 /* a batch was rolled back: ids go on above last_id regardless */
	uint64_t err_at;	 /* loop time of the last logged store error */
	unsigned long err_suppressed; /* store errors not logged since then */
	dev_t dev;		 /* the open file's identity, to notice it deleted or replaced */
	ino_t ino;
	bool file_known;	 /* dev and ino are set (not for ":memory:") */
	bool file_lost;		 /* the file is gone and not yet reopened (logged once) */
	uint64_t reopen_at;	 /* loop time of the last attempt to reopen it */
	uv_timer_t *watch;	 /* checks the file every WATCH_INTERVAL_MS; freed by its close */
	const struct pl_history_log *log; /* a cluster's log that gives the ids, or NULL */
	void *log_ud;		 /* its argument */
	sqlite3_stmt *put_row;	 /* INSERT OR IGNORE of a row whose id the log gave */
};

#define ERROR_LOG_INTERVAL_MS 10000
#define WATCH_INTERVAL_MS     5000

/* Maps a SQLite result code to the error an append's callback is given. */
static long long store_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_READONLY: return -EROFS;
	default: return -EIO;
	}
}

/* Logs a failure to store, with SQLite's message, at most once per ERROR_LOG_INTERVAL_MS. */
static void store_error(struct pl_history *h, const char *what)
{
	uint64_t now = uv_now(h->loop);
	if (h->err_at && now - h->err_at < ERROR_LOG_INTERVAL_MS) {
		h->err_suppressed++;
		return;
	}
	if (h->err_suppressed)
		pl_error("history: %s: %s (%lu more failures since the last report)", what,
			 sqlite3_errmsg(h->db), h->err_suppressed);
	else
		pl_error("history: %s: %s", what, sqlite3_errmsg(h->db));
	h->err_at = now ? now : 1;
	h->err_suppressed = 0;
}

/* Tells every append of the batch its outcome: its id, or err for all when err < 0. */
/* Forgets the open transaction's additions to room_totals (committed, or rolled back). */
static void totals_clear(struct pl_history *h)
{
	struct total *t;
	for (size_t pos = 0; pl_map_next(&h->totals, &pos, (void **)&t);) {
		free(t->key);
		free(t);
	}
	pl_map_close(&h->totals);
	h->totals = (struct pl_map){0};
}

/*
 * Adds a stored message to its target's totals, written once per target at the commit: the
 * per-room counts retention reads cost an update per room and batch, not one per message.
 * Returns 0 or -ENOMEM.
 */
static int totals_add(struct pl_history *h, const char *nsp, bool private, const char *target,
		      size_t bytes)
{
	size_t nl = strlen(nsp), tl = strlen(target);
	char *key = malloc(nl + tl + 3);
	if (!key)
		return -ENOMEM;
	memcpy(key, nsp, nl);
	key[nl] = '\x1f';
	key[nl + 1] = private ? '1' : '0';
	memcpy(key + nl + 2, target, tl + 1);
	struct total *t = pl_map_get(&h->totals, key);
	if (t) {
		free(key);
	} else {
		t = calloc(1, sizeof *t);
		if (!t || pl_map_put(&h->totals, key, t)) {
			free(t);
			free(key);
			return -ENOMEM;
		}
		*t = (struct total){.key = key, .nsp_len = nl, .private = private};
	}
	t->messages++;
	t->bytes += (long long)bytes;
	return 0;
}

/* Writes the open transaction's totals into room_totals. Returns SQLITE_OK or the error. */
static int totals_flush(struct pl_history *h)
{
	if (!h->totals.count)
		return SQLITE_OK;
	if ((!h->add_totals || sqlite3_db_handle(h->add_totals) != h->db)) {
		sqlite3_finalize(h->add_totals);
		h->add_totals = NULL;
		int rc = sqlite3_prepare_v3(h->db,
					    "INSERT INTO room_totals (nsp, private, target, messages, "
					    "bytes) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
					    "messages = messages + excluded.messages, "
					    "bytes = bytes + excluded.bytes",
					    -1, SQLITE_PREPARE_PERSISTENT, &h->add_totals, NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	struct total *t;
	int rc = SQLITE_OK;
	for (size_t pos = 0; rc == SQLITE_OK && pl_map_next(&h->totals, &pos, (void **)&t);) {
		sqlite3_stmt *st = h->add_totals;
		sqlite3_bind_text(st, 1, t->key, (int)t->nsp_len, SQLITE_STATIC);
		sqlite3_bind_int(st, 2, t->private);
		sqlite3_bind_text(st, 3, t->key + t->nsp_len + 2, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, t->messages);
		sqlite3_bind_int64(st, 5, t->bytes);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_extended_errcode(h->db);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	return rc;
}

static void finish_batch(struct pl_history *h, long long err)
{
	totals_clear(h); /* written before the commit, or undone with it */
	/* a callback may append again: that starts a new batch */
	struct pending *b = h->batch;
	size_t n = h->n_batch;
	h->batch = NULL;
	h->n_batch = h->cap_batch = 0;
	for (size_t i = 0; i < n; i++) {
		long long id = err < 0 ? err : b[i].id;
		if (id > h->last_id)
			h->last_id = id;
		if (b[i].done)
			b[i].done(id, b[i].ud);
	}
	free(b);
}

static void commit_cb(uv_prepare_t *p)
{
	pl_history_commit(p->data);
}

static void handle_freed(uv_handle_t *p)
{
	free(p);
}

static int exec(struct pl_history *h, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(h->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		pl_error("history: %s", err ? err : sqlite3_errmsg(h->db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* Closes the connection and its statements. */
static void close_db(struct pl_history *h)
{
	sqlite3_finalize(h->add_totals);
	h->add_totals = NULL;
	sqlite3_finalize(h->put_row);
	h->put_row = NULL;
	sqlite3_finalize(h->insert);
	sqlite3_finalize(h->newest);
	sqlite3_finalize(h->oldest);
	h->insert = h->newest = h->oldest = NULL;
	/* _v2: statements others prepared on it (retention's) finish the close when finalized */
	sqlite3_close_v2(h->db);
	h->db = NULL;
	h->in_tx = 0;
}

/* Records the identity of the file at h->path, to notice it replaced or deleted. */
static void note_file(struct pl_history *h)
{
	struct stat st;
	h->file_known = strcmp(h->path, ":memory:") != 0 && *h->path && stat(h->path, &st) == 0;
	if (h->file_known) {
		h->dev = st.st_dev;
		h->ino = st.st_ino;
	}
}

#define START_BUSY_TIMEOUT_MS 2000 /* at start only, before the loop runs */

/* Sets the id sequence above every id handed out (a new file, a rolled-back batch): an id, and
 * so a recovery offset, never means two packets. */
static int skip_ids(struct pl_history *h)
{
	char sql[320];
	snprintf(sql, sizeof sql,
		 "UPDATE sqlite_sequence SET seq = %lld WHERE name = 'messages' AND seq < %lld;"
		 "INSERT INTO sqlite_sequence (name, seq) SELECT 'messages', %lld WHERE NOT "
		 "EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'messages')",
		 h->last_id, h->last_id, h->last_id);
	return exec(h, sql);
}

/* Opens the connection, applies the schema and settings, prepares the statements. */
static int open_db(struct pl_history *h, bool starting)
{
	/* one thread uses the connection: no per-call mutex */
	if (sqlite3_open_v2(h->path, &h->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		pl_error("history: %s: cannot open the database: %s", h->path,
			 h->db ? sqlite3_errmsg(h->db) : "out of memory");
		return -1;
	}
	sqlite3_busy_timeout(h->db, starting ? START_BUSY_TIMEOUT_MS : 0);
	if (pl_history_schema(h->db, h->path) || exec(h, "PRAGMA synchronous = NORMAL"))
		return -1;
	/* never wait for a lock on the loop: a busy database fails the batch at once */
	sqlite3_busy_timeout(h->db, 0);
	sqlite3_stmt *st;

	if (h->max_bytes) {
		int page = 4096;
		if (sqlite3_prepare_v2(h->db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK) {
			if (sqlite3_step(st) == SQLITE_ROW)
				page = sqlite3_column_int(st, 0);
			sqlite3_finalize(st);
		}
		char sql[64];
		unsigned long long pages = h->max_bytes / (unsigned long long)(page > 0 ? page : 4096);
		/* SQLite keeps the limit at least at the file's current size */
		snprintf(sql, sizeof sql, "PRAGMA max_page_count = %llu", pages ? pages : 1);
		if (exec(h, sql))
			return -1;
	}
	if (h->last_id > 0 && skip_ids(h))
		return -1;
	if (sqlite3_prepare_v2(h->db,
			       "INSERT INTO messages (nsp, room, recipient, skip, sender, event, args, "
			       "ts, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			       -1, &h->insert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db,
			       "SELECT id, ts, sender, args FROM (SELECT * FROM messages "
			       "WHERE nsp = ? AND room = ? AND id < ? AND kind = 0 ORDER BY id DESC "
			       "LIMIT ?) ORDER BY id",
			       -1, &h->newest, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db,
			       "SELECT id, ts, sender, args FROM messages "
			       "WHERE nsp = ? AND room = ? AND id > ? AND kind = 0 ORDER BY id LIMIT ?",
			       -1, &h->oldest, NULL) != SQLITE_OK) {
		pl_error("history: %s", sqlite3_errmsg(h->db));
		return -1;
	}
	if (starting && sqlite3_prepare_v2(h->db, "SELECT seq FROM sqlite_sequence WHERE name = "
				       "'messages'", -1, &st, NULL) == SQLITE_OK) {
		/* offsets clients hold from before a restart are below what comes next */
		if (sqlite3_step(st) == SQLITE_ROW)
			h->last_id = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	note_file(h);
	return 0;
}

/* True when the path no longer names the open file; *gone says it was deleted. */
static bool file_changed(struct pl_history *h, bool *gone)
{
	struct stat st;
	*gone = stat(h->path, &st) != 0;
	return *gone || st.st_dev != h->dev || st.st_ino != h->ino;
}

#define REOPEN_RETRY_MS 1000 /* a file that cannot be opened again is retried this often */

/*
 * The file under the connection was deleted or replaced: the open batch fails (it would go to
 * the old file, gone at the next start, so it is not acknowledged as stored), and the file is
 * opened again (created, with the schema), ids going on above those handed out.
 */
static void reopen(struct pl_history *h, bool gone)
{
	if (h->in_tx) {
		exec(h, "ROLLBACK");
		h->in_tx = 0;
	}
	h->seq_behind = true;
	finish_batch(h, -EIO);
	uint64_t now = uv_now(h->loop);
	if (h->file_lost && now - h->reopen_at < REOPEN_RETRY_MS)
		return;
	h->reopen_at = now;
	if (!h->file_lost)
		pl_error("history: the database file %s was %s while open; reopening it", h->path,
			 gone ? "deleted" : "replaced");
	h->file_lost = true;
	sqlite3 *old = h->db;
	sqlite3_stmt *ins = h->insert, *nw = h->newest, *od = h->oldest;
	h->db = NULL;
	h->insert = h->newest = h->oldest = NULL;
	if (open_db(h, false) == 0) {
		sqlite3_finalize(ins);
		sqlite3_finalize(nw);
		sqlite3_finalize(od);
		sqlite3_finalize(h->add_totals); /* prepared on the old connection */
		h->add_totals = NULL;
		sqlite3_finalize(h->put_row);
		h->put_row = NULL;
		sqlite3_close_v2(old); /* closed once the session store finalizes its statements */
		h->file_lost = false;
		pl_info("history: reopened %s", h->path);
		return;
	}
	/* cannot open it now (its directory gone?): keep the old connection, try again later */
	close_db(h);
	h->db = old;
	h->insert = ins;
	h->newest = nw;
	h->oldest = od;
}

/* Every WATCH_INTERVAL_MS, for a file nothing is written to: see reopen. */
static void watch_cb(uv_timer_t *t)
{
	struct pl_history *h = t->data;
	bool gone = false;
	if (h->file_lost || (h->file_known && file_changed(h, &gone)))
		reopen(h, gone);
}

struct pl_history *pl_history_new(const char *path, uv_loop_t *loop, unsigned long long max_bytes)
{
	struct pl_history *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->loop = loop;
	h->max_bytes = max_bytes;
	h->path = strdup(path);
	if (!h->path || open_db(h, true))
		goto fail;
	h->watch = malloc(sizeof *h->watch);
	if (!h->watch)
		goto fail;
	uv_timer_init(loop, h->watch);
	h->watch->data = h;
	uv_timer_start(h->watch, watch_cb, WATCH_INTERVAL_MS, WATCH_INTERVAL_MS);
	uv_unref((uv_handle_t *)h->watch);
	h->prepare = malloc(sizeof *h->prepare);
	if (!h->prepare)
		goto fail;
	uv_prepare_init(loop, h->prepare);
	h->prepare->data = h;
	uv_prepare_start(h->prepare, commit_cb);
	uv_unref((uv_handle_t *)h->prepare); /* it must not keep the loop alive */
	return h;
fail:
	pl_history_free(h);
	return NULL;
}

void pl_history_free(struct pl_history *h)
{
	if (!h)
		return;
	pl_history_commit(h);
	if (h->prepare) {
		uv_prepare_stop(h->prepare);
		uv_close((uv_handle_t *)h->prepare, handle_freed);
	}
	if (h->watch)
		uv_close((uv_handle_t *)h->watch, handle_freed);
	finish_batch(h, -EIO); /* only if the last commit could not even begin */
	close_db(h);
	free(h->path);
	free(h);
}

/* Commits (or, on failure, rolls back) the open transaction and tells its appends. */
static int commit_once(struct pl_history *h)
{
	long long err = 0;
	bool gone = false;
	if (h->in_tx && (h->file_lost || (h->file_known && file_changed(h, &gone)))) {
		/* a commit to a deleted file would be acknowledged and lost: checked every time */
		reopen(h, gone);
		return -EIO;
	}
	if (h->in_tx) {
		h->in_tx = 0;
		int rc = totals_flush(h);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			err = store_errno(rc);
			store_error(h, "cannot commit");
			h->seq_behind = true;
			/* a failed COMMIT may leave the transaction open (SQLITE_BUSY): undo it,
			 * so that none of its ids is given out and the next batch starts afresh */
			if (!sqlite3_get_autocommit(h->db))
				sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		}
	}
	finish_batch(h, err);
	return err < 0 ? (int)err : 0;
}

int pl_history_commit(struct pl_history *h)
{
	if (!h)
		return 0;
	/* a callback that appends again is committed in the same barrier step; bounded, so that
	 * a callback appending at every commit cannot hold the loop */
	int rc = 0;
	for (int round = 0; round < 4 && (h->in_tx || h->n_batch); round++) {
		int r = commit_once(h);
		if (r < 0 && rc == 0)
			rc = r;
	}
	return rc;
}

/* Adds an append to the batch told at the next commit. Returns 0 or -ENOMEM. */
static int queue(struct pl_history *h, long long id, void (*done)(long long, void *), void *ud)
{
	if (h->n_batch == h->cap_batch) {
		size_t cap = h->cap_batch ? h->cap_batch * 2 : 16;
		struct pending *b = realloc(h->batch, cap * sizeof *b);
		if (!b)
			return -ENOMEM;
		h->batch = b;
		h->cap_batch = cap;
	}
	h->batch[h->n_batch++] = (struct pending){id, done, ud};
	return 0;
}

/* Inserts a row into the open transaction (opening it). Returns its id or a negative error. */
/* Opens the loop iteration's write transaction if it is not open. Returns 0 or an error. */
static int begin(struct pl_history *h)
{
	if (h->in_tx)
		return 0;
	int rc = sqlite3_exec(h->db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		store_error(h, "cannot begin a transaction");
		return (int)store_errno(rc);
	}
	h->in_tx = 1;
	/* after a rollback the sequence is back where it was: ids handed out stay taken */
	if (h->seq_behind && skip_ids(h) == 0)
		h->seq_behind = false;
	return 0;
}

/*
 * Steps a write statement in the open transaction. When it fails and SQLite rolled the whole
 * transaction back (it may, when full), the batch's earlier rows are gone too: their appends
 * are told err. Returns 0 or the error.
 */
static long long step_write(struct pl_history *h, sqlite3_stmt *st, const char *what)
{
	if (sqlite3_step(st) == SQLITE_DONE)
		return 0;
	long long err = store_errno(sqlite3_extended_errcode(h->db));
	store_error(h, what);
	if (sqlite3_get_autocommit(h->db)) {
		h->in_tx = 0;
		h->seq_behind = true;
		totals_clear(h);
		for (size_t i = 0; i < h->n_batch; i++)
			if (h->batch[i].id > 0)
				h->batch[i].id = err;
	}
	return err;
}

int pl_history_write(struct pl_history *h, sqlite3_stmt *st)
{
	long long rc = begin(h);
	if (rc == 0)
		rc = step_write(h, st, "cannot store a session");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return (int)rc;
}

/*
 * Binds row to st (an INSERT of the messages columns, after the id when id is given), steps it
 * in the open transaction and counts what it added. Returns the row's id (the new one when id
 * is 0), 0 when a row of that id was there already (INSERT OR IGNORE), or a negative error.
 */
static long long put(struct pl_history *h, sqlite3_stmt *st, long long id,
		     const struct pl_history_row *row)
{
	int c = 1;
	if (id)
		sqlite3_bind_int64(st, c++, id);
	sqlite3_bind_text(st, c++, row->nsp, -1, SQLITE_STATIC);
	if (!row->recipient)
		sqlite3_bind_text(st, c, row->room ? row->room : "", -1, SQLITE_STATIC);
	c++;
	sqlite3_bind_text(st, c++, row->recipient, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, c++, row->skip, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, c++, row->sender, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, c++, row->event, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, c++, row->args, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, c++, row->ts);
	sqlite3_bind_int(st, c, (int)row->kind);
	long long rc = step_write(h, st, "cannot store a message");
	bool added = rc == 0 && sqlite3_changes(h->db) > 0;
	if (rc == 0 && !id)
		id = sqlite3_last_insert_rowid(h->db);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc)
		return rc;
	if (id > h->last_id)
		h->last_id = id;
	if (added && row->kind == PL_RECORD_MESSAGE &&
	    totals_add(h, row->nsp, row->recipient != NULL,
		       row->recipient ? row->recipient : row->room ? row->room : "",
		       strlen(row->args)))
		pl_warn("history: out of memory: the totals of %s miss message %lld", row->nsp, id);
	return added ? id : 0;
}

static long long insert(struct pl_history *h, const struct pl_record *r)
{
	long long rc = begin(h);
	if (rc)
		return rc;
	char *s = pl_json_text(r->sender), *a = pl_json_text(r->args);
	char *to = r->recipient ? pl_json_text(r->recipient) : NULL;
	long long id = -ENOMEM;
	if (s && a && (!r->recipient || to)) {
		struct pl_history_row row = {.nsp = r->nsp, .room = r->room, .recipient = to,
					     .skip = r->skip, .sender = s, .event = r->event,
					     .args = a, .ts = pl_wall_ms(),
					     .kind = r->kind};
		id = put(h, h->insert, 0, &row);
	}
	free(s);
	free(a);
	free(to);
	return id;
}

int pl_history_store(struct pl_history *h, const struct pl_record *r,
		     void (*done)(long long id, void *ud), void *ud)
{
	if (h->log) {
		/* the log gives the id, and hands the row back through pl_history_put_row */
		int rc = h->log->append(h->log_ud, r, done, ud);
		return rc == 0 || rc == -ENOMEM ? rc : pl_history_tell(h, rc, done, ud);
	}
	if (queue(h, 0, NULL, NULL))
		return -ENOMEM; /* room for it first: once inserted, it must be told */
	h->n_batch--;
	long long id = insert(h, r);
	queue(h, id, done, ud);
	return 0;
}

long long pl_history_append(struct pl_history *h, const struct pl_record *r)
{
	if (h->log)
		return -ENOTSUP; /* the id comes from the log, later */
	long long id = insert(h, r);
	/* committed now, with the batch so far: the id returned is one that is stored */
	int rc = commit_once(h);
	if (id > 0 && rc < 0)
		return rc;
	return id;
}

void pl_history_set_log(struct pl_history *h, const struct pl_history_log *log, void *ud)
{
	h->log = log;
	h->log_ud = ud;
}

int pl_history_tell(struct pl_history *h, long long err, void (*done)(long long id, void *ud),
		    void *ud)
{
	return done ? queue(h, err < 0 ? err : -EIO, done, ud) : 0;
}

int pl_history_put_row(struct pl_history *h, long long id, const struct pl_history_row *row,
		       void (*done)(long long id, void *ud), void *ud)
{
	if (done && queue(h, 0, NULL, NULL))
		return -ENOMEM; /* room for it first, as in pl_history_store */
	if (done)
		h->n_batch--;
	long long rc = begin(h);
	if (rc == 0 && (!h->put_row || sqlite3_db_handle(h->put_row) != h->db)) {
		sqlite3_finalize(h->put_row);
		h->put_row = NULL;
		if (sqlite3_prepare_v3(h->db,
				       "INSERT OR IGNORE INTO messages (id, nsp, room, recipient, skip, "
				       "sender, event, args, ts, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
				       "?, ?)",
				       -1, SQLITE_PREPARE_PERSISTENT, &h->put_row, NULL) != SQLITE_OK) {
			store_error(h, "cannot prepare");
			rc = -EIO;
		}
	}
	/* a row already there is left (the origin's reply and the tail both bring it) */
	if (rc == 0 && (rc = put(h, h->put_row, id, row)) > 0)
		rc = 0;
	if (done)
		queue(h, rc == 0 ? id : rc, done, ud);
	return rc < 0 ? (int)rc : 0;
}

long long pl_history_last(const struct pl_history *h)
{
	return h ? h->last_id : 0;
}

struct sqlite3 *pl_history_db(struct pl_history *h)
{
	return h->db;
}

/* Deletes the row (nsp, id), in the open transaction if there is one. Returns 0, -ENOENT or
 * -EIO after logging why. */
static int delete_row(struct pl_history *h, const char *nsp, long long id)
{
	/* rare (a moderator's action): prepared when needed rather than kept */
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db, "DELETE FROM messages WHERE nsp = ? AND id = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		pl_error("history: %s", sqlite3_errmsg(h->db));
		return -EIO;
	}
	sqlite3_bind_text(st, 1, nsp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, id);
	int rc = -EIO;
	if (sqlite3_step(st) == SQLITE_DONE)
		rc = sqlite3_changes(h->db) > 0 ? 0 : -ENOENT;
	else
		pl_error("history: cannot delete message %lld: %s", id, sqlite3_errmsg(h->db));
	sqlite3_finalize(st);
	return rc;
}

int pl_history_delete(struct pl_history *h, const char *nsp, long long id)
{
	int rc = delete_row(h, nsp, id);
	if (rc == 0 && h->log && h->log->remove)
		h->log->remove(h->log_ud, nsp, id); /* the other copies, in the log's order */
	return rc;
}

int pl_history_erase(struct pl_history *h, const char *nsp, long long id)
{
	return delete_row(h, nsp, id);
}

json_t *pl_history_page(struct pl_history *h, const char *nsp, const char *room, long long before,
			long long since, int limit)
{
	sqlite3_stmt *st = since >= 0 ? h->oldest : h->newest;
	json_t *out = json_array();
	sqlite3_bind_text(st, 1, nsp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, room ? room : "", -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, since >= 0 ? since : before > 0 ? before : INT64_MAX);
	sqlite3_bind_int(st, 4, limit);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *sender = (const char *)sqlite3_column_text(st, 2);
		const char *args = (const char *)sqlite3_column_text(st, 3);
		json_t *from = sender ? pl_json_parse(sender, strlen(sender)) : NULL;
		json_t *a = args ? pl_json_parse(args, strlen(args)) : NULL;
		json_t *p = json_incref(json_array_get(a, 0));
		json_decref(a);
		json_array_append_new(
			out, json_pack("{sIsIsoso}", "id", (json_int_t)sqlite3_column_int64(st, 0), "ts",
				       (json_int_t)sqlite3_column_int64(st, 1), "from",
				       from ? from : json_object(), "payload", p ? p : json_null()));
	}
	if (rc != SQLITE_DONE) {
		pl_error("history: cannot read: %s", sqlite3_errmsg(h->db));
		json_decref(out);
		out = NULL;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return out;
}
