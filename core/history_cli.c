/*
 * `parley history` (see history_cli.h): one query over the messages table of schema version 1
 * or 2 (history_schema.h), its rows printed as text lines or NDJSON. The connection is
 * read-only; the server keeps the file in WAL mode, so reading never waits for its writes.
 */
#include "history_cli.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "config.h"
#include "history_schema.h"
#include "json.h"

#define DEFAULT_LIMIT	 50
#define BUSY_TIMEOUT_MS	 2000 /* a server recovering the write-ahead log locks it briefly */
#define EXIT_DB_ERROR	 1

/* What to list, from the command line. */
struct query {
	const char *db;	    /* the database file */
	const char *nsp;    /* the namespace */
	const char *room;   /* the room, "" for the namespace-wide chat; NULL with userid */
	const char *userid; /* --private: list this user's private messages instead */
	long long limit;    /* messages at most */
	long long since;    /* >= 0: the oldest messages above this id */
	long long before;   /* > 0: the newest messages below this id (else the newest of all) */
	bool json;	    /* NDJSON instead of text lines */
	bool help;	    /* --help: print the usage and nothing else */
};

static void usage(const char *default_db)
{
	printf("Usage: parley history ROOM [options]\n"
	       "       parley history --private USERID [options]\n\n"
	       "Prints a room's stored messages (ROOM '*' is the namespace-wide chat),\n"
	       "or the private messages sent to or by a user, oldest first, one a line.\n"
	       "The database is only read, so this works while a server runs on it.\n"
	       "  --db FILE         the database (default %s)\n"
	       "  --nsp NAMESPACE   the namespace (default /)\n"
	       "  --private USERID  that user's private messages instead of a room's\n"
	       "  --limit N         at most N messages (default %d), the newest unless --since\n"
	       "  --since ID        the oldest messages after id ID (paging forward)\n"
	       "  --before ID       the newest messages before id ID (paging back)\n"
	       "  --json            one JSON object per line: id, ts, room or to, from, and msg\n"
	       "                    (or payload, the event's argument, when it has no msg)\n"
	       "  --help            print this text\n"
	       "Exit status: 0; 1 when the database cannot be read; 2 for a wrong command line.\n",
	       default_db, DEFAULT_LIMIT);
}

/* Prints one line about a wrong command line; returns PL_EXIT_USAGE. */
#define usage_error(...) pl_cli_usage_error("history", __VA_ARGS__)

/* Prints one line about the database file. */
static void db_error(const char *path, const char *what)
{
	fprintf(stderr, "parley history: %s: %s\n", path, what);
}

/* Parses a whole decimal number of at least min into *out; false when text is none. */
static bool parse_number(const char *text, long long min, long long *out)
{
	if (*text < '0' || *text > '9')
		return false;
	char *end;
	errno = 0;
	long long n = strtoll(text, &end, 10);
	if (errno || *end || n < min)
		return false;
	*out = n;
	return true;
}

enum value_option { OPT_DB, OPT_NSP, OPT_PRIVATE, OPT_LIMIT, OPT_SINCE, OPT_BEFORE, N_OPTS };
static const char *const value_options[N_OPTS] = {"--db",    "--nsp",	"--private",
						  "--limit", "--since", "--before"};

/* The option taking a value that arg names ("--name" or "--name=value"), or N_OPTS. */
static enum value_option find_option(const char *arg, const char **inline_value)
{
	for (int k = 0; k < N_OPTS; k++) {
		size_t n = strlen(value_options[k]);
		if (strncmp(arg, value_options[k], n) == 0 && (!arg[n] || arg[n] == '=')) {
			*inline_value = arg[n] ? arg + n + 1 : NULL;
			return (enum value_option)k;
		}
	}
	return N_OPTS;
}

/* Applies one option's value to q. Returns 0 or PL_EXIT_USAGE after saying why. */
static int apply(struct query *q, enum value_option k, const char *value)
{
	long long min = k == OPT_SINCE ? 0 : 1;
	long long *number = NULL;
	switch (k) {
	case OPT_DB: q->db = value; return 0;
	case OPT_NSP: q->nsp = value; return 0;
	case OPT_PRIVATE: q->userid = value; return 0;
	case OPT_LIMIT: number = &q->limit; break;
	case OPT_SINCE: number = &q->since; break;
	default: number = &q->before; break;
	}
	if (!parse_number(value, min, number))
		return usage_error("%s: expected a whole number of at least %lld, got '%s'",
				   value_options[k], min, value);
	return 0;
}

/* Fills q from argv. Returns 0, or PL_EXIT_USAGE after saying why. */
static int parse_args(struct query *q, int argc, char **argv)
{
	bool only_operands = false; /* after "--" */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *value;
		if (only_operands || a[0] != '-' || !a[1]) {
			if (q->room)
				return usage_error("one ROOM only, got '%s' and '%s'", q->room, a);
			q->room = a;
		} else if (strcmp(a, "--") == 0) {
			only_operands = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			q->help = true;
			return 0;
		} else if (strcmp(a, "--json") == 0) {
			q->json = true;
		} else {
			enum value_option k = find_option(a, &value);
			if (k == N_OPTS)
				return usage_error("unknown option '%s'", a);
			if (!value && i + 1 >= argc)
				return usage_error("%s: missing value", value_options[k]);
			if (apply(q, k, value ? value : argv[++i]))
				return PL_EXIT_USAGE;
		}
	}
	if (q->room && q->userid)
		return usage_error("give a ROOM or --private USERID, not both");
	if (!q->room && !q->userid)
		return usage_error("missing ROOM (or --private USERID)");
	if (q->room && !*q->room)
		return usage_error("empty ROOM (the namespace-wide chat is '*')");
	if (q->since >= 0 && q->before > 0)
		return usage_error("--since and --before do not go together");
	if (q->nsp[0] != '/')
		return usage_error("--nsp: a namespace starts with '/', got '%s'", q->nsp);
	if (q->room && strcmp(q->room, "*") == 0)
		q->room = "";
	return 0;
}

/*
 * The schema version of the store at db: meta.schema_version, or 1 for a messages table without
 * a meta table. Returns it, or -1 after saying why the file is no store this build reads.
 */
static int schema_version(sqlite3 *db, const char *path)
{
	sqlite3_stmt *st;
	bool has_messages = false, has_meta = false;
	/* the first read is what tells a file that is no database */
	if (sqlite3_prepare_v2(db,
			       "SELECT name FROM sqlite_master WHERE type = 'table' AND "
			       "name IN ('messages', 'meta')",
			       -1, &st, NULL) != SQLITE_OK)
		goto sqlite_error;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		if (name && strcmp(name, "meta") == 0)
			has_meta = true;
		else if (name)
			has_messages = true;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto sqlite_error;
	long long version = 1;
	if (has_meta) {
		if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'",
				       -1, &st, NULL) != SQLITE_OK)
			goto sqlite_error;
		const char *text = NULL;
		if (sqlite3_step(st) == SQLITE_ROW)
			text = (const char *)sqlite3_column_text(st, 0);
		if (text && !parse_number(text, 1, &version))
			version = -1;
		sqlite3_finalize(st);
	}
	if (version < 0) {
		db_error(path, "the schema version (meta.schema_version) is not a positive number");
		return -1;
	}
	if (version > PL_SCHEMA_VERSION) {
		fprintf(stderr,
			"parley history: %s: the database has schema version %lld, written by a "
			"newer Parley; this one reads version %d at most\n",
			path, version, PL_SCHEMA_VERSION);
		return -1;
	}
	if (!has_messages) {
		db_error(path, "not a Parley database (it has no messages table)");
		return -1;
	}
	return (int)version;
sqlite_error:
	db_error(path, sqlite3_errmsg(db));
	return -1;
}

/*
 * The query for q on a store of that schema version, its parameters: 1 the namespace, 2 the id
 * to page from, 3 the limit, 4 the room or the userid as text, 5 the userid as a number (or
 * NULL). Columns: id, ts, recipient, sender, args. Returns NULL after saying why.
 */
static sqlite3_stmt *prepare(sqlite3 *db, const struct query *q, int version)
{
	/* version 1 kept chat rows only, the one argument in payload, never a private message */
	const char *columns =
	    version == 1 ? "id, ts, NULL AS recipient, sender, '[' || payload || ']' AS args"
			 : "id, ts, recipient, sender, args";
	const char *target = q->userid
				 ? "room IS NULL AND (json_extract(recipient, '$') IN (?4, ?5) OR "
				   "json_extract(sender, '$.userid') IN (?4, ?5))"
				 : "room = ?4";
	const char *kind = version == 1 ? "" : " AND kind = 0";
	struct pl_sbuf sql = {0};
	int rc;
	if (q->since >= 0)
		rc = pl_sbuf_printf(&sql,
				    "SELECT %s FROM messages WHERE nsp = ?1 AND %s%s AND id > ?2 "
				    "ORDER BY id LIMIT ?3",
				    columns, target, kind);
	else
		rc =
		    pl_sbuf_printf(&sql,
				   "SELECT * FROM (SELECT %s FROM messages WHERE nsp = ?1 AND %s%s "
				   "AND id < ?2 ORDER BY id DESC LIMIT ?3) ORDER BY id",
				   columns, target, kind);
	sqlite3_stmt *st = NULL;
	if (rc) {
		db_error(q->db, "out of memory");
		goto out;
	}
	if (sqlite3_prepare_v2(db, sql.data, -1, &st, NULL) != SQLITE_OK) {
		db_error(q->db, sqlite3_errmsg(db));
		goto out;
	}
	sqlite3_bind_text(st, 1, q->nsp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, q->since >= 0 ? q->since : q->before > 0 ? q->before : INT64_MAX);
	sqlite3_bind_int64(st, 3, q->limit);
	sqlite3_bind_text(st, 4, q->userid ? q->userid : q->room, -1, SQLITE_STATIC);
	/* a numeric userid is stored as a JSON number: --private 42 finds it too */
	json_t *n = q->userid ? pl_json_parse(q->userid, strlen(q->userid)) : NULL;
	if (json_is_number(n))
		sqlite3_bind_double(st, 5, json_number_value(n));
	json_decref(n);
out:
	pl_sbuf_close(&sql);
	return st;
}

/* A JSON column as a new reference, or NULL when it is NULL or not JSON. */
static json_t *json_column(sqlite3_stmt *st, int col)
{
	const char *text = (const char *)sqlite3_column_text(st, col);
	return text ? pl_json_parse(text, (size_t)sqlite3_column_bytes(st, col)) : NULL;
}

/* Appends len bytes of s with control characters escaped, so that a message stays one line. */
static void put_text(struct pl_sbuf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			pl_sbuf_puts(b, "\\n");
		else if (c == '\t')
			pl_sbuf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			pl_sbuf_printf(b, "\\x%02x", c);
		else
			pl_sbuf_putc(b, (char)c);
	}
}

/* Appends a string value as its text, anything else as compact JSON. */
static void put_value(struct pl_sbuf *b, const json_t *v)
{
	if (json_is_string(v)) {
		put_text(b, json_string_value(v), json_string_length(v));
		return;
	}
	struct pl_sbuf j = {0};
	if (pl_json_write(&j, v ? v : json_null()) == 0)
		put_text(b, j.data, j.len);
	pl_sbuf_close(&j);
}

/* Appends who a message is from: its name, else its userid, else the identity as JSON. */
static void put_sender(struct pl_sbuf *b, const json_t *from)
{
	const json_t *name = json_object_get(from, "name");
	const json_t *userid = json_object_get(from, "userid");
	put_value(b, json_is_string(name) ? name : userid && !json_is_null(userid) ? userid : from);
}

/* Appends ts (ms since the epoch) as "2026-12-02 01:23:45Z". */
static void put_time(struct pl_sbuf *b, long long ts)
{
	time_t secs = (time_t)(ts / 1000);
	struct tm tm;
	if (ts < 0 || !gmtime_r(&secs, &tm)) {
		pl_sbuf_printf(b, "%lld", ts);
		return;
	}
	pl_sbuf_printf(b, "%04d-%02d-%02d %02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		       tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * Appends the row at st as one line: "#id time sender: msg" ("sender -> recipient" for a
 * private message), or with json a JSON object. Returns 0 or -ENOMEM.
 */
static int format_row(struct pl_sbuf *line, sqlite3_stmt *st, const struct query *q)
{
	long long id = sqlite3_column_int64(st, 0), ts = sqlite3_column_int64(st, 1);
	json_t *to = json_column(st, 2), *from = json_column(st, 3), *args = json_column(st, 4);
	/* the event's one argument, or all of them */
	json_t *payload = json_array_size(args) == 1 ? json_array_get(args, 0) : args;
	json_t *msg = json_object_get(payload, "msg");
	int rc = 0;
	if (q->json) {
		json_t *o = json_pack("{sIsI}", "id", (json_int_t)id, "ts", (json_int_t)ts);
		if (q->userid)
			json_object_set(o, "to", to ? to : json_null());
		else if (*q->room)
			json_object_set_new(o, "room", json_string(q->room));
		json_object_set(o, "from", from ? from : json_null());
		if (msg)
			json_object_set(o, "msg", msg);
		else
			json_object_set(o, "payload", payload ? payload : json_null());
		rc = o ? pl_json_write(line, o) : -ENOMEM;
		json_decref(o);
	} else {
		pl_sbuf_printf(line, "#%lld ", id);
		put_time(line, ts);
		pl_sbuf_putc(line, ' ');
		put_sender(line, from);
		if (q->userid) {
			pl_sbuf_puts(line, " -> ");
			put_value(line, to);
		}
		pl_sbuf_puts(line, ": ");
		put_value(line, msg ? msg : payload);
	}
	json_decref(to);
	json_decref(from);
	json_decref(args);
	return rc ? rc : pl_sbuf_putc(line, '\n');
}

/* True when the file at path followed by suffix exists. */
static bool exists_beside(const char *path, const char *suffix)
{
	struct pl_sbuf name = {0};
	bool found =
	    pl_sbuf_printf(&name, "%s%s", path, suffix) == 0 && access(name.data, F_OK) == 0;
	pl_sbuf_close(&name);
	return found;
}

/*
 * Opens the database at path read-only into *db (closed by the caller, even on failure).
 * A server has its write-ahead log (path-wal) while it runs; without a log or a journal nothing
 * can be in flight, and the file is opened as immutable: a read-only connection would otherwise
 * leave an empty log and its index beside it, owned by whoever ran the command.
 */
static int open_db(const char *path, sqlite3 **db)
{
	if (exists_beside(path, "-wal") || exists_beside(path, "-journal"))
		return sqlite3_open_v2(path, db, SQLITE_OPEN_READONLY, NULL);
	struct pl_sbuf uri = {0};
	int rc = pl_sbuf_puts(&uri, path[0] == '/' ? "file://" : "file:");
	for (const char *p = path; *p && rc == 0; p++)
		rc = strchr("%?#", *p) ? pl_sbuf_printf(&uri, "%%%02x", (unsigned char)*p)
				       : pl_sbuf_putc(&uri, *p);
	if (rc == 0)
		rc = pl_sbuf_puts(&uri, "?mode=ro&immutable=1");
	rc = rc ? SQLITE_NOMEM
		: sqlite3_open_v2(uri.data, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	pl_sbuf_close(&uri);
	return rc;
}

/* Prints the messages q asks for. Returns the exit status. */
static int list(const struct query *q)
{
	struct stat file;
	/* a read-only open does not create the file, but says less about a missing one */
	bool missing = stat(q->db, &file) != 0;
	if (missing || S_ISDIR(file.st_mode)) {
		db_error(q->db, missing ? strerror(errno) : "is a directory");
		return EXIT_DB_ERROR;
	}
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct pl_sbuf line = {0};
	int status = EXIT_DB_ERROR;
	if (open_db(q->db, &db) != SQLITE_OK) {
		db_error(q->db, db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	int version = schema_version(db, q->db);
	if (version < 0 || !(st = prepare(db, q, version)))
		goto out;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		line.len = 0;
		if (format_row(&line, st, q)) {
			db_error(q->db, "out of memory");
			goto out;
		}
		if (fwrite(line.data, 1, line.len, stdout) != line.len)
			break;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		db_error(q->db, sqlite3_errmsg(db));
	else if (rc == SQLITE_ROW || fflush(stdout) != 0)
		fprintf(stderr, "parley history: cannot write the output: %s\n", strerror(errno));
	else
		status = 0;
out:
	pl_sbuf_close(&line);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return status;
}

int pl_history_cli(int argc, char **argv)
{
	struct pl_config defaults; /* the server's default --db */
	pl_config_init(&defaults);
	struct query q = {.db = defaults.db_path, .nsp = "/", .limit = DEFAULT_LIMIT, .since = -1};
	int status = parse_args(&q, argc, argv);
	if (status == 0 && q.help)
		usage(defaults.db_path);
	else if (status == 0)
		status = list(&q);
	pl_config_close(&defaults);
	return status;
}
