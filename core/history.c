/*
 * SQLite history (see history.h). One connection, prepared statements kept for the life of
 * the server, WAL journal, and a write transaction opened lazily by the first append of a loop
 * iteration and committed in the prepare phase.
 */
#include "history.h"

#include <errno.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "log.h"

extern const char pl_schema_sql[]; /* schema.sql, compiled in by the build */

struct pl_history {
	sqlite3 *db;		 /* the connection */
	sqlite3_stmt *insert;	 /* INSERT INTO messages */
	sqlite3_stmt *newest;	 /* the newest N of a room below an id */
	sqlite3_stmt *oldest;	 /* the oldest N of a room above an id */
	int in_tx;		 /* a write transaction is open */
	uv_prepare_t *prepare;	 /* commits before the loop polls for I/O; freed by its close */
	uv_timer_t *retention;	 /* trims old messages every minute; freed by its close */
	unsigned keep;		 /* messages kept per room, 0 for all */
};

static void commit_cb(uv_prepare_t *p)
{
	pl_history_commit(p->data);
}

#define RETENTION_INTERVAL_MS 60000

static long long trim(struct pl_history *h, unsigned keep);

static void handle_freed(uv_handle_t *p)
{
	free(p);
}

static void retention_cb(uv_timer_t *t)
{
	struct pl_history *h = t->data;
	trim(h, h->keep);
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

struct pl_history *pl_history_new(const char *path, uv_loop_t *loop, unsigned keep)
{
	struct pl_history *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	h->keep = keep;
	if (sqlite3_open_v2(path, &h->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		pl_error("history: cannot open %s: %s", path, h->db ? sqlite3_errmsg(h->db) : "?");
		goto fail;
	}
	sqlite3_busy_timeout(h->db, 2000);
	if (exec(h, pl_schema_sql) || exec(h, "PRAGMA synchronous = NORMAL"))
		goto fail;
	if (sqlite3_prepare_v2(h->db,
			       "INSERT INTO messages (nsp, room, sender, event, payload, ts) "
			       "VALUES (?, ?, ?, ?, ?, ?)",
			       -1, &h->insert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db,
			       "SELECT id, ts, sender, payload FROM (SELECT * FROM messages "
			       "WHERE nsp = ? AND room = ? AND id < ? ORDER BY id DESC LIMIT ?) "
			       "ORDER BY id",
			       -1, &h->newest, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h->db,
			       "SELECT id, ts, sender, payload FROM messages "
			       "WHERE nsp = ? AND room = ? AND id > ? ORDER BY id LIMIT ?",
			       -1, &h->oldest, NULL) != SQLITE_OK) {
		pl_error("history: %s", sqlite3_errmsg(h->db));
		goto fail;
	}
	h->prepare = malloc(sizeof *h->prepare);
	if (!h->prepare)
		goto fail;
	uv_prepare_init(loop, h->prepare);
	h->prepare->data = h;
	uv_prepare_start(h->prepare, commit_cb);
	uv_unref((uv_handle_t *)h->prepare); /* it must not keep the loop alive */
	if (keep) {
		if (trim(h, keep) < 0)
			goto fail;
		h->retention = malloc(sizeof *h->retention);
		if (!h->retention)
			goto fail;
		uv_timer_init(loop, h->retention);
		h->retention->data = h;
		uv_timer_start(h->retention, retention_cb, RETENTION_INTERVAL_MS,
			       RETENTION_INTERVAL_MS);
		uv_unref((uv_handle_t *)h->retention);
	}
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
	if (h->retention)
		uv_close((uv_handle_t *)h->retention, handle_freed);
	sqlite3_finalize(h->insert);
	sqlite3_finalize(h->newest);
	sqlite3_finalize(h->oldest);
	sqlite3_close(h->db);
	free(h);
}

/* Deletes all but the newest keep messages of every room. Returns the number deleted, or a
 * negative error after logging sqlite3_errmsg. */
static long long trim(struct pl_history *h, unsigned keep)
{
	if (!keep)
		return 0;
	pl_history_commit(h);
	/* per room, everything at or below the id of the (keep+1)-th newest message goes; the
	 * (nsp, room, id) index serves both the offset and the range */
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(h->db,
			       "DELETE FROM messages WHERE rowid IN (SELECT m.id FROM "
			       "(SELECT DISTINCT nsp, room FROM messages) r JOIN messages m "
			       "ON m.nsp = r.nsp AND m.room = r.room AND m.id <= "
			       "(SELECT id FROM messages x WHERE x.nsp = r.nsp AND x.room = r.room "
			       "ORDER BY id DESC LIMIT 1 OFFSET ?))",
			       -1, &st, NULL) != SQLITE_OK) {
		pl_error("history: %s", sqlite3_errmsg(h->db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, keep);
	long long n = -EIO;
	if (sqlite3_step(st) == SQLITE_DONE)
		n = sqlite3_changes(h->db);
	else
		pl_error("history: cannot trim: %s", sqlite3_errmsg(h->db));
	sqlite3_finalize(st);
	if (n > 0)
		pl_info("history: removed %lld old messages (keeping %u per room)", n, keep);
	return n;
}

int pl_history_commit(struct pl_history *h)
{
	if (!h || !h->in_tx)
		return 0;
	h->in_tx = 0;
	return exec(h, "COMMIT") ? -EIO : 0;
}

static char *to_json(const json_t *v)
{
	struct pl_sbuf b = {0};
	if (pl_json_write(&b, v)) {
		pl_sbuf_close(&b);
		return NULL;
	}
	return b.data;
}

long long pl_history_append(struct pl_history *h, const char *nsp, const char *room,
			    const json_t *sender, const char *event, const json_t *payload)
{
	if (!h->in_tx) {
		if (exec(h, "BEGIN"))
			return -EIO;
		h->in_tx = 1;
	}
	char *s = to_json(sender), *p = to_json(payload);
	long long id = -ENOMEM;
	if (!s || !p)
		goto out;
	uv_timeval64_t tv;
	uv_gettimeofday(&tv);
	sqlite3_int64 ts = (sqlite3_int64)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	sqlite3_bind_text(h->insert, 1, nsp, -1, SQLITE_STATIC);
	sqlite3_bind_text(h->insert, 2, room ? room : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(h->insert, 3, s, -1, SQLITE_STATIC);
	sqlite3_bind_text(h->insert, 4, event, -1, SQLITE_STATIC);
	sqlite3_bind_text(h->insert, 5, p, -1, SQLITE_STATIC);
	sqlite3_bind_int64(h->insert, 6, ts);
	if (sqlite3_step(h->insert) != SQLITE_DONE) {
		pl_error("history: cannot store a message: %s", sqlite3_errmsg(h->db));
		id = -EIO;
	} else {
		id = sqlite3_last_insert_rowid(h->db);
	}
	sqlite3_reset(h->insert);
	sqlite3_clear_bindings(h->insert);
out:
	free(s);
	free(p);
	return id;
}

int pl_history_delete(struct pl_history *h, const char *nsp, long long id)
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
		const char *payload = (const char *)sqlite3_column_text(st, 3);
		json_t *from = sender ? pl_json_parse(sender, strlen(sender)) : NULL;
		json_t *p = payload ? pl_json_parse(payload, strlen(payload)) : NULL;
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
