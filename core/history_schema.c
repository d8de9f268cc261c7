/*
 * Schema versions and migrations (see history_schema.h). Version 1 kept chat rows only (one
 * payload each); version 2 keeps packets (arguments, private recipient, skipped sender, kind)
 * and the recovery sessions.
 */
#include "history_schema.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

extern const char pl_schema_sql[]; /* schema.sql, compiled in by the build */

static int fail(sqlite3 *db, const char *path, const char *what, const char *err)
{
	pl_error("history: %s: %s: %s", path, what, err ? err : sqlite3_errmsg(db));
	return -1;
}

static int run(sqlite3 *db, const char *path, const char *what, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) == SQLITE_OK)
		return 0;
	fail(db, path, what, err);
	sqlite3_free(err);
	return -1;
}

/* The database's version: 0 for a new (empty) one, or -1 after logging why it is unreadable. */
static int version_of(sqlite3 *db, const char *path)
{
	sqlite3_stmt *st;
	/* reading the schema is what tells a corrupt file, or one that is no database, apart */
	if (sqlite3_prepare_v2(db,
			       "SELECT (SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
			       "name = 'messages'), (SELECT count(*) FROM sqlite_master WHERE "
			       "type = 'table' AND name = 'meta')",
			       -1, &st, NULL) != SQLITE_OK)
		return fail(db, path, "cannot read the database", NULL);
	int rc = sqlite3_step(st);
	int has_messages = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	int has_meta = rc == SQLITE_ROW ? sqlite3_column_int(st, 1) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return fail(db, path, "cannot read the database", NULL);
	if (!has_meta)
		return has_messages ? 1 : 0;
	int v = has_messages ? 1 : 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
			       NULL) != SQLITE_OK)
		return fail(db, path, "cannot read the schema version", NULL);
	if (sqlite3_step(st) == SQLITE_ROW) {
		const char *text = (const char *)sqlite3_column_text(st, 0);
		char *end;
		long n = text ? strtol(text, &end, 10) : 0;
		v = text && *text && !*end && n > 0 && n < 1000000 ? (int)n : -2;
	}
	sqlite3_finalize(st);
	if (v == -2)
		return fail(db, path, "the schema version is not a number", "unreadable meta table");
	return v;
}

/* Version 1 to 2: chat rows become packets (their payload the one argument). */
static const char migrate_1_2[] =
	"DROP INDEX IF EXISTS messages_room_id;"
	"ALTER TABLE messages RENAME TO messages_v1;";

static const char migrate_1_2_copy[] =
	"INSERT INTO messages (id, nsp, room, sender, event, args, ts, kind) "
	"SELECT id, nsp, room, sender, event, '[' || payload || ']', ts, 0 FROM messages_v1;"
	/* ids go on above every id the old table gave out, deleted ones included */
	"UPDATE sqlite_sequence SET seq = (SELECT seq FROM sqlite_sequence WHERE name = "
	"'messages_v1') WHERE name = 'messages' AND seq < (SELECT seq FROM sqlite_sequence "
	"WHERE name = 'messages_v1');"
	"INSERT INTO sqlite_sequence (name, seq) SELECT 'messages', seq FROM sqlite_sequence "
	"WHERE name = 'messages_v1' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = "
	"'messages');"
	"INSERT INTO room_totals SELECT nsp, 0, room, count(*), sum(length(CAST(args AS BLOB))) "
	"FROM messages GROUP BY nsp, room;"
	"DROP TABLE messages_v1;"
	"UPDATE meta SET value = '2' WHERE key = 'schema_version';";

int pl_history_schema(sqlite3 *db, const char *path)
{
	int v = version_of(db, path);
	if (v < 0)
		return -1;
	if (v > PL_SCHEMA_VERSION) {
		pl_error("history: %s: the database has schema version %d, written by a newer Parley; "
			 "this one reads version %d at most",
			 path, v, PL_SCHEMA_VERSION);
		return -1;
	}
	if (sqlite3_db_readonly(db, "main") == 1) {
		pl_error("history: %s: the database cannot be written (read-only)", path);
		return -1;
	}
	if (run(db, path, "cannot use the write-ahead log", "PRAGMA journal_mode = WAL") ||
	    run(db, path, "cannot begin", "BEGIN IMMEDIATE"))
		return -1;
	if (v == 1) {
		pl_info("history: %s: migrating the schema from version 1 to %d", path,
			PL_SCHEMA_VERSION);
		if (run(db, path, "cannot migrate from version 1", migrate_1_2) ||
		    run(db, path, "cannot migrate from version 1", pl_schema_sql) ||
		    run(db, path, "cannot migrate from version 1", migrate_1_2_copy))
			goto undo;
	} else if (run(db, path, "cannot apply the schema", pl_schema_sql)) {
		goto undo;
	}
	if (run(db, path, "cannot write the schema", "COMMIT"))
		goto undo;
	return 0;
undo:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}
