/*
 * The moderation plugin: a word filter on chat and private messages, and moderators' commands
 * typed in chat (/kick, /mute, /unmute, /ban, /unban, /delete). Bans and mutes are kept in
 * tables of the server's SQLite database, on a connection of the plugin's own, so that they
 * survive restarts; they are loaded at init and looked up in memory (jansson objects, whose
 * hash tables are seeded per process) on each message. Writes that meet the server's open
 * transaction (SQLITE_BUSY) are kept in order and retried from a timer.
 *
 * Per message: nothing for a message that neither starts with '/' nor meets a configured word
 * list, besides one size check of the mute table.
 */
#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "parley/plugin.h"

#define MAX_COMMAND   512	/* longest command line handled; longer ones are refused */
#define MAX_MINUTES   5256000.0 /* ten years */
#define BUSY_TIMEOUT  5		/* ms the plugin's connection waits for the server's lock */
#define RETRY_MS      100	/* delay before writes that found the database busy are retried */
#define SYSTEM_SENDER "moderation"

enum table { BANS, MUTES, N_TABLES };

static const char *const table_names[N_TABLES] = {"moderation_bans", "moderation_mutes"};

/* A write to a table not yet done: an upsert or a delete, in order of the actions. */
struct op {
	enum table table; /* which table */
	bool put;	  /* an upsert (else a delete) */
	char *nsp;	  /* namespace */
	char *userid;	  /* the user's id as text */
	char *name;	  /* display name at the time, or NULL */
	char *by;	  /* the moderator's userid, or NULL */
	long long until;  /* expiry, ms since the epoch; 0 for never */
	long long ts;	  /* when the action was taken */
	struct op *next;  /* the next write */
};

static const struct parley_api *api; /* the host's table */
static parley_owner *owner;	     /* what the hooks and log lines belong to */
static json_t *words;		     /* forbidden words in lower case: {word: true} */
static size_t min_word, max_word;    /* their shortest and longest lengths in bytes */
static bool reject_words;	     /* filter = reject: refuse instead of masking */
static json_t *moderators;	     /* userids (as text) allowed to use commands: {id: true} */
static bool notify = true;	     /* announce actions to the namespace */
static json_t *state[N_TABLES];	     /* "nsp\nuserid" -> {nsp, userid, name, by, until} */
static sqlite3 *db;		     /* the plugin's connection */
static sqlite3_stmt *put_st[N_TABLES], *del_st[N_TABLES]; /* prepared writes */
static struct op *ops, **ops_tail = &ops;		  /* writes still to do */
static parley_timer *retry;				  /* pending retry of ops, or NULL */
static bool closing;					  /* in cleanup: no more retries */

/* ---- small helpers ---- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Part of a word: ASCII letters and digits, '_', and any byte of a UTF-8 sequence. */
static bool word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c >= 0x80;
}

/* A userid as text (a string as is, other JSON as its compact encoding); caller frees. */
static char *uid_text(const json_t *uid)
{
	if (json_is_string(uid))
		return strdup(json_string_value(uid));
	return json_dumps(uid, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* "nsp\nuserid", the key of the state tables; caller frees. */
static char *state_key(const char *nsp, const char *uid)
{
	size_t a = strlen(nsp), b = strlen(uid);
	char *k = malloc(a + b + 2);
	if (k) {
		memcpy(k, nsp, a);
		k[a] = '\n';
		memcpy(k + a + 1, uid, b + 1);
	}
	return k;
}

/* Answers the command's ack, if any, with [answer] (answer is stolen). */
static void reply(const struct parley_evt_message *ev, json_t *answer)
{
	if (ev->ack_id >= 0 && answer) {
		json_t *args = json_pack("[O]", answer);
		if (args)
			api->ack(ev->socket, ev->ack_id, args, NULL, 0);
		json_decref(args);
	}
	json_decref(answer);
}

static enum parley_verdict fail(const struct parley_evt_message *ev, const char *error)
{
	reply(ev, json_pack("{sbss}", "ok", 0, "error", error));
	return PARLEY_DROP;
}

static enum parley_verdict refuse(struct parley_evt_message *ev, const char *error)
{
	json_decref(ev->reject); /* one an earlier handler left */
	ev->reject = json_pack("[{sbss}]", "ok", 0, "error", error);
	return PARLEY_REJECT;
}

/* Tells the namespace what a moderator did, as a "chat" message marked system (not stored). */
static void announce(parley_nsp *nsp, const char *text)
{
	if (!notify)
		return;
	json_t *payload = json_pack("[s{s{ss}sssb}]", "chat", "from", "name", SYSTEM_SENDER, "msg",
				    text, "system", 1);
	if (!payload)
		return;
	struct parley_message m = {.payload = payload};
	api->broadcast(nsp, NULL, &m);
	json_decref(payload);
}

/* ---- the database ---- */

static void op_free(struct op *o)
{
	free(o->nsp);
	free(o->userid);
	free(o->name);
	free(o->by);
	free(o);
}

static void retry_fired(void *ud);

/* Runs the queued writes in order; stops at SQLITE_BUSY and retries later. */
static void flush(void)
{
	while (ops) {
		struct op *o = ops;
		sqlite3_stmt *st = o->put ? put_st[o->table] : del_st[o->table];
		sqlite3_bind_text(st, 1, o->nsp, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, o->userid, -1, SQLITE_STATIC);
		if (o->put) {
			sqlite3_bind_text(st, 3, o->name, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 4, o->until);
			sqlite3_bind_text(st, 5, o->by, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 6, o->ts);
		}
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
			if (!retry && !closing) {
				api->log(owner, PARLEY_LOG_DEBUG,
					 "moderation: database busy, retrying in %d ms", RETRY_MS);
				retry = api->timer_start(owner, RETRY_MS, 0, retry_fired, NULL);
			}
			return;
		}
		if (rc != SQLITE_DONE)
			api->log(owner, PARLEY_LOG_ERROR, "moderation: cannot write %s: %s",
				 table_names[o->table], sqlite3_errmsg(db));
		ops = o->next;
		if (!ops)
			ops_tail = &ops;
		op_free(o);
	}
}

static void retry_fired(void *ud)
{
	(void)ud;
	retry = NULL; /* a one-shot timer is freed once it fired */
	flush();
}

/* Records an action in memory (entry is stolen; NULL removes) and queues its write. */
static void store(enum table t, const char *nsp, const char *uid, json_t *entry)
{
	char *key = state_key(nsp, uid);
	struct op *o = calloc(1, sizeof *o);
	if (!key || !o)
		goto fail;
	o->table = t;
	o->put = entry != NULL;
	o->nsp = strdup(nsp);
	o->userid = strdup(uid);
	if (!o->nsp || !o->userid)
		goto fail;
	if (entry) {
		const char *name = json_string_value(json_object_get(entry, "name"));
		const char *by = json_string_value(json_object_get(entry, "by"));
		o->name = name ? strdup(name) : NULL;
		o->by = by ? strdup(by) : NULL;
		o->until = json_integer_value(json_object_get(entry, "until"));
		o->ts = now_ms();
		json_object_set_new(state[t], key, entry);
		entry = NULL;
	} else {
		json_object_del(state[t], key);
	}
	free(key);
	*ops_tail = o;
	ops_tail = &o->next;
	flush();
	return;
fail:
	api->log(owner, PARLEY_LOG_ERROR, "moderation: out of memory");
	json_decref(entry);
	free(key);
	if (o)
		op_free(o);
}

static json_t *new_entry(const char *nsp, const char *uid, const char *name, const char *by,
			 long long until)
{
	json_t *e = json_pack("{sssssIss?ss?}", "nsp", nsp, "userid", uid, "until",
			      (json_int_t)until, "name", name, "by", by);
	return e;
}

/* The entry of (nsp, uid) in t if it is in force; an expired one is removed. Borrowed. */
static json_t *in_force(enum table t, const char *nsp, const char *uid)
{
	char *key = state_key(nsp, uid);
	json_t *e = key ? json_object_get(state[t], key) : NULL;
	free(key);
	if (!e)
		return NULL;
	long long until = json_integer_value(json_object_get(e, "until"));
	if (until && until <= now_ms()) {
		store(t, nsp, uid, NULL);
		return NULL;
	}
	return e;
}

static int exec(const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		api->log(owner, PARLEY_LOG_ERROR, "moderation: %s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

/* Opens the database, creates the tables and loads what is in force. Returns 0 or -EIO. */
static int open_db(const char *path)
{
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		api->log(owner, PARLEY_LOG_ERROR, "moderation: cannot open %s: %s", path,
			 db ? sqlite3_errmsg(db) : "out of memory");
		return -EIO;
	}
	/* a longer wait at start, when the server holds no transaction yet */
	sqlite3_busy_timeout(db, 2000);
	if (exec("PRAGMA journal_mode = WAL"))
		return -EIO;
	long long now = now_ms();
	for (int t = 0; t < N_TABLES; t++) {
		char sql[512];
		snprintf(sql, sizeof sql,
			 "CREATE TABLE IF NOT EXISTS %s (nsp TEXT NOT NULL, userid TEXT NOT NULL, "
			 "name TEXT, until INTEGER NOT NULL DEFAULT 0, \"by\" TEXT, ts INTEGER, "
			 "PRIMARY KEY (nsp, userid)); "
			 "DELETE FROM %s WHERE until != 0 AND until <= %lld",
			 table_names[t], table_names[t], now);
		if (exec(sql))
			return -EIO;
		snprintf(sql, sizeof sql,
			 "INSERT OR REPLACE INTO %s (nsp, userid, name, until, \"by\", ts) "
			 "VALUES (?, ?, ?, ?, ?, ?)",
			 table_names[t]);
		if (sqlite3_prepare_v2(db, sql, -1, &put_st[t], NULL) != SQLITE_OK)
			goto sql_error;
		snprintf(sql, sizeof sql, "DELETE FROM %s WHERE nsp = ? AND userid = ?",
			 table_names[t]);
		if (sqlite3_prepare_v2(db, sql, -1, &del_st[t], NULL) != SQLITE_OK)
			goto sql_error;
		snprintf(sql, sizeof sql, "SELECT nsp, userid, name, \"by\", until FROM %s",
			 table_names[t]);
		sqlite3_stmt *st;
		if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
			goto sql_error;
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			const char *nsp = (const char *)sqlite3_column_text(st, 0);
			const char *uid = (const char *)sqlite3_column_text(st, 1);
			char *key = state_key(nsp, uid);
			json_t *e = new_entry(nsp, uid, (const char *)sqlite3_column_text(st, 2),
					      (const char *)sqlite3_column_text(st, 3),
					      sqlite3_column_int64(st, 4));
			if (key && e)
				json_object_set_new(state[t], key, e);
			else
				json_decref(e);
			free(key);
		}
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			goto sql_error;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT);
	api->log(owner, PARLEY_LOG_INFO, "moderation: %zu bans and %zu mutes in force",
		 json_object_size(state[BANS]), json_object_size(state[MUTES]));
	return 0;
sql_error:
	api->log(owner, PARLEY_LOG_ERROR, "moderation: %s", sqlite3_errmsg(db));
	return -EIO;
}

/* ---- the word filter ---- */

/*
 * Finds the configured words in text (len bytes), whole words, ASCII case folded. With out (of
 * len + 1 bytes), writes the text with each character of a found word replaced by '*' and sets
 * *out_len. Returns the number of words found.
 */
static size_t scan(const char *text, size_t len, char *out, size_t *out_len)
{
	char word[256];
	size_t found = 0, o = 0, i = 0;
	while (i < len) {
		if (!word_byte((unsigned char)text[i])) {
			if (out)
				out[o++] = text[i];
			i++;
			continue;
		}
		size_t start = i;
		while (i < len && word_byte((unsigned char)text[i]))
			i++;
		size_t n = i - start;
		bool hit = false;
		if (n >= min_word && n <= max_word && n < sizeof word) {
			for (size_t k = 0; k < n; k++)
				word[k] = lower(text[start + k]);
			word[n] = '\0';
			hit = json_object_get(words, word) != NULL;
		}
		found += hit;
		if (!out)
			continue;
		for (size_t k = start; k < i; k++) {
			/* one '*' per character: UTF-8 continuation bytes are left out */
			if (!hit)
				out[o++] = text[k];
			else if (((unsigned char)text[k] & 0xc0) != 0x80)
				out[o++] = '*';
		}
	}
	if (out) {
		out[o] = '\0';
		*out_len = o;
	}
	return found;
}

static enum parley_verdict on_filter(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	json_t *data = json_array_get(ev->args, 0);
	json_t *msg = json_object_get(data, "msg");
	if (!json_is_string(msg))
		return PARLEY_PASS;
	const char *text = json_string_value(msg);
	size_t len = json_string_length(msg);
	if (reject_words) {
		if (!scan(text, len, NULL, NULL))
			return PARLEY_PASS;
		return refuse(ev, "message refused: forbidden word");
	}
	if (!scan(text, len, NULL, NULL))
		return PARLEY_PASS;
	char *out = malloc(len + 1);
	size_t out_len = 0;
	if (!out)
		return refuse(ev, "out of memory");
	scan(text, len, out, &out_len);
	json_object_set_new(data, "msg", json_stringn(out, out_len));
	free(out);
	return PARLEY_PASS;
}

/* ---- commands ---- */

/* The sender's userid as text when it is a moderator; caller frees. NULL otherwise. */
static char *moderator_of(parley_socket *s)
{
	json_t *uid = api->socket_userid(s);
	if (!uid)
		return NULL;
	char *text = uid_text(uid);
	if (text && !json_object_get(moderators, text)) {
		free(text);
		text = NULL;
	}
	return text;
}

/* A connected socket of nsp whose userid (first) or display name is name, or NULL. */
static parley_socket *find_socket(parley_nsp *nsp, const char *name)
{
	parley_socket *by_name = NULL;
	size_t n = api->nsp_count(nsp);
	for (size_t i = 0; i < n; i++) {
		parley_socket *s = api->nsp_socket_at(nsp, i);
		json_t *uid = api->socket_userid(s);
		if (uid) {
			char *text = uid_text(uid);
			bool same = text && strcmp(text, name) == 0;
			free(text);
			if (same)
				return s;
		}
		json_t *sname = api->socket_name(s);
		if (!by_name && json_is_string(sname) &&
		    strcmp(json_string_value(sname), name) == 0)
			by_name = s;
	}
	return by_name;
}

/*
 * Disconnects (and closes) every socket of the user uid in nsp, or only s when the user has
 * no userid. Returns the number disconnected.
 */
static size_t disconnect_user(parley_nsp *nsp, parley_socket *s, const json_t *uid)
{
	parley_socket *list[64];
	size_t n = 0;
	if (!uid) {
		list[n++] = api->socket_ref(s);
	} else {
		for (parley_socket *t = api->user_first(nsp, uid); t && n < 64;
		     t = api->user_next(t))
			list[n++] = api->socket_ref(t);
	}
	/* references first: disconnecting one changes the user's list */
	for (size_t i = 0; i < n; i++) {
		api->socket_disconnect(list[i], true);
		api->socket_unref(list[i]);
	}
	return n;
}

/* What a command acts on: a user, online or known by userid. */
struct target {
	parley_socket *socket; /* a connected socket of the user, or NULL */
	json_t *uid;	       /* the userid as JSON (a new reference), or NULL */
	char *uid_text;	       /* the same as text (malloc'd), or NULL */
	char label[128];       /* a display name for messages: a copy, since a kick frees the name */
};

static void target_close(struct target *t)
{
	json_decref(t->uid);
	free(t->uid_text);
}

/* Resolves name: an online socket's userid or display name, else name taken as a userid. */
static void resolve(parley_nsp *nsp, const char *name, struct target *t)
{
	memset(t, 0, sizeof *t);
	const char *label = name;
	t->socket = find_socket(nsp, name);
	json_t *uid = t->socket ? api->socket_userid(t->socket) : NULL;
	if (t->socket) {
		json_t *sname = api->socket_name(t->socket);
		if (json_is_string(sname))
			label = json_string_value(sname);
	}
	snprintf(t->label, sizeof t->label, "%s", label);
	if (uid) {
		t->uid = json_incref(uid);
		t->uid_text = uid_text(uid);
	} else if (!t->socket) {
		t->uid = json_string(name);
		t->uid_text = strdup(name);
	}
}

/* The entry of table t that name designates: by userid, else by the display name stored. */
static const char *find_entry(enum table tb, const char *nsp, const struct target *t,
			      const char *name)
{
	if (t->uid_text && in_force(tb, nsp, t->uid_text))
		return t->uid_text;
	if (in_force(tb, nsp, name))
		return name;
	const char *key;
	json_t *e;
	json_object_foreach(state[tb], key, e)
	{
		const char *en = json_string_value(json_object_get(e, "name"));
		if (en && strcmp(en, name) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "nsp")), nsp) == 0)
			return json_string_value(json_object_get(e, "userid"));
	}
	return NULL;
}

static json_t *done(const char *command, const char *target)
{
	return json_pack("{sbssss}", "ok", 1, "command", command, "target", target);
}

/* Runs the command cmd (its arguments in rest) from moderator mod. */
static enum parley_verdict command(struct parley_evt_message *ev, const char *cmd, char *rest,
				   const char *mod)
{
	parley_nsp *nsp = api->socket_nsp(ev->socket);
	const char *nspname = api->nsp_name(nsp);
	char notice[MAX_COMMAND + 128];
	char usage[64];
	snprintf(usage, sizeof usage, "usage: /%s %s", cmd,
		 strcmp(cmd, "mute") == 0     ? "NAME MINUTES"
		 : strcmp(cmd, "delete") == 0 ? "ID"
					      : "NAME");
	if (strcmp(cmd, "delete") == 0) {
		char *end;
		long long id = strtoll(rest, &end, 10);
		if (!*rest || *end || id <= 0)
			return fail(ev, usage);
		int rc = api->history_delete(nsp, id);
		if (rc == -ENOENT)
			return fail(ev, "no message with that id");
		if (rc)
			return fail(ev, api->strerror(rc));
		json_t *a =
		    json_pack("{sbsssI}", "ok", 1, "command", "delete", "target", (json_int_t)id);
		reply(ev, a);
		api->log(owner, PARLEY_LOG_INFO, "moderation: %s deleted message %lld on %s", mod,
			 id, nspname);
		snprintf(notice, sizeof notice, "a message was deleted by a moderator");
		announce(nsp, notice);
		return PARLEY_DROP;
	}
	double minutes = 0;
	if (strcmp(cmd, "mute") == 0) {
		char *sp = strrchr(rest, ' ');
		char *end;
		if (!sp)
			return fail(ev, usage);
		minutes = strtod(sp + 1, &end);
		if (*end || !isfinite(minutes) || minutes <= 0 || minutes > MAX_MINUTES)
			return fail(ev, usage);
		while (sp > rest && sp[-1] == ' ')
			sp--;
		*sp = '\0';
	}
	if (!*rest)
		return fail(ev, usage);
	struct target t;
	resolve(nsp, rest, &t);
	enum parley_verdict v = PARLEY_DROP;
	if (strcmp(cmd, "kick") == 0) {
		if (!t.socket) {
			v = fail(ev, "no such user online");
			goto out;
		}
		reply(ev, done("kick", t.uid_text ? t.uid_text : t.label));
		snprintf(notice, sizeof notice, "%s was kicked by a moderator", t.label);
		announce(nsp, notice);
		size_t n = disconnect_user(nsp, t.socket, t.uid);
		api->log(owner, PARLEY_LOG_INFO, "moderation: %s kicked %s (%zu sockets) on %s",
			 mod, t.label, n, nspname);
	} else if (strcmp(cmd, "mute") == 0 || strcmp(cmd, "ban") == 0) {
		bool ban = cmd[0] == 'b';
		if (!t.uid_text) {
			v = fail(ev, "that user has no userid");
			goto out;
		}
		long long until = ban ? 0 : now_ms() + (long long)ceil(minutes * 60000);
		json_t *e = new_entry(nspname, t.uid_text, t.label, mod, until);
		if (!e) {
			v = fail(ev, "out of memory");
			goto out;
		}
		store(ban ? BANS : MUTES, nspname, t.uid_text, e);
		json_t *a = done(cmd, t.uid_text);
		if (!ban)
			json_object_set_new(a, "minutes", json_real(minutes));
		reply(ev, a);
		if (ban)
			snprintf(notice, sizeof notice, "%s was banned by a moderator", t.label);
		else
			snprintf(notice, sizeof notice,
				 "%s was muted for %g minutes by a moderator", t.label, minutes);
		announce(nsp, notice);
		size_t n = ban ? disconnect_user(nsp, t.socket, t.uid) : 0;
		api->log(owner, PARLEY_LOG_INFO, "moderation: %s %s %s (userid %s) on %s%s", mod,
			 ban ? "banned" : "muted", t.label, t.uid_text, nspname,
			 ban && n ? ", disconnected" : "");
	} else { /* unban, unmute */
		bool ban = cmd[2] == 'b';
		const char *uid = find_entry(ban ? BANS : MUTES, nspname, &t, rest);
		if (!uid) {
			v = fail(ev, ban ? "that user is not banned" : "that user is not muted");
			goto out;
		}
		char *u = strdup(uid); /* uid may point into the entry that goes */
		if (!u) {
			v = fail(ev, "out of memory");
			goto out;
		}
		store(ban ? BANS : MUTES, nspname, u, NULL);
		reply(ev, done(cmd, u));
		snprintf(notice, sizeof notice, "%s was %s by a moderator", t.label,
			 ban ? "unbanned" : "unmuted");
		announce(nsp, notice);
		api->log(owner, PARLEY_LOG_INFO, "moderation: %s %s userid %s on %s", mod,
			 ban ? "unbanned" : "unmuted", u, nspname);
		free(u);
	}
out:
	target_close(&t);
	return v;
}

/*
 * A banned sender's message is refused and the sender disconnected: with an authentication
 * plugin the identity comes with the connection, so a banned user could chat without the login
 * the ban is otherwise checked at. A muted sender's message is refused with the time left.
 */
static enum parley_verdict check_sender(struct parley_evt_message *ev)
{
	if (!json_object_size(state[MUTES]) && !json_object_size(state[BANS]))
		return PARLEY_PASS;
	json_t *uid = api->socket_userid(ev->socket);
	char *text = uid ? uid_text(uid) : NULL;
	if (!text)
		return PARLEY_PASS;
	const char *nspname = api->nsp_name(api->socket_nsp(ev->socket));
	bool banned = in_force(BANS, nspname, text) != NULL;
	json_t *e = banned ? NULL : in_force(MUTES, nspname, text);
	free(text);
	if (banned) {
		refuse(ev, "banned");
		return PARLEY_DISCONNECT;
	}
	if (!e)
		return PARLEY_PASS;
	long long left = json_integer_value(json_object_get(e, "until")) - now_ms();
	char msg[80];
	snprintf(msg, sizeof msg, "you are muted for %lld more minutes", (left + 59999) / 60000);
	return refuse(ev, msg);
}

static enum parley_verdict on_chat(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	static const char *const commands[] = {"kick", "mute", "unmute", "ban", "unban", "delete"};
	struct parley_evt_message *ev = evt;
	const char *text = json_string_value(json_object_get(json_array_get(ev->args, 0), "msg"));
	if (!text || text[0] != '/')
		return check_sender(ev);
	/* "/word rest": only the known commands are taken; "/me waves" is ordinary chat */
	size_t n = strcspn(text + 1, " ");
	const char *cmd = NULL;
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (strlen(commands[i]) == n && strncmp(text + 1, commands[i], n) == 0)
			cmd = commands[i];
	if (!cmd)
		return check_sender(ev);
	char *mod = moderator_of(ev->socket);
	if (!mod) {
		char msg[64];
		snprintf(msg, sizeof msg, "only moderators can use /%s", cmd);
		return refuse(ev, msg);
	}
	char line[MAX_COMMAND];
	enum parley_verdict v;
	if (strlen(text) >= sizeof line) {
		v = fail(ev, "command too long");
	} else {
		const char *rest = text + 1 + n;
		rest += strspn(rest, " ");
		strcpy(line, rest);
		for (size_t e = strlen(line); e > 0 && line[e - 1] == ' '; e--)
			line[e - 1] = '\0';
		v = command(ev, cmd, line, mod);
	}
	free(mod);
	return v;
}

static enum parley_verdict on_private(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	return check_sender(evt);
}

/* A login with a banned userid is refused and the socket disconnected. */
static enum parley_verdict on_login(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	if (!json_object_size(state[BANS]))
		return PARLEY_PASS;
	json_t *uid = json_object_get(json_array_get(ev->args, 0), "userid");
	if (!uid)
		uid = api->socket_userid(ev->socket);
	char *text = uid ? uid_text(uid) : NULL;
	if (!text)
		return PARLEY_PASS;
	const char *nspname = api->nsp_name(api->socket_nsp(ev->socket));
	json_t *e = in_force(BANS, nspname, text);
	if (e)
		api->log(owner, PARLEY_LOG_INFO, "moderation: banned userid %s refused on %s", text,
			 nspname);
	free(text);
	if (!e)
		return PARLEY_PASS;
	refuse(ev, "banned");
	return PARLEY_DISCONNECT;
}

/* ---- options, entry points ---- */

/* Adds the comma-separated items of list to set, trimmed (and lower-cased with fold). */
static void parse_list(json_t *set, const char *list, bool fold)
{
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *a = p, *b = p + n;
		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		if (b > a) {
			char *item = strndup(a, (size_t)(b - a));
			if (item) {
				for (char *c = item; fold && *c; c++)
					*c = lower(*c);
				json_object_set_new(set, item, json_true());
				free(item);
			}
		}
		p += n + (p[n] == ',');
	}
}

static bool truthy(const char *v)
{
	return strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	       strcmp(v, "on") == 0;
}

int parley_plugin_version(int n_versions, const int *versions)
{
	for (int i = 0; i < n_versions; i++)
		if (versions[i] == PARLEY_API_VERSION)
			return PARLEY_API_VERSION;
	return -1;
}

/* Reads the options, loads the database and registers the hooks. Returns 0 or an error. */
static int init(const struct parley_api *table, parley_owner *self, const char *const *options)
{
	api = table;
	owner = self;
	closing = false;
	notify = true;
	reject_words = false;
	if (api->size < offsetof(struct parley_api, history_delete) + sizeof api->history_delete)
		return PARLEY_EVERSION;
	words = json_object();
	moderators = json_object();
	state[BANS] = json_object();
	state[MUTES] = json_object();
	if (!words || !moderators || !state[BANS] || !state[MUTES])
		return -ENOMEM;
	const char *path = NULL;
	for (size_t i = 0; options && options[i] && options[i + 1]; i += 2) {
		const char *k = options[i], *v = options[i + 1];
		if (strcmp(k, "words") == 0) {
			parse_list(words, v, true);
		} else if (strcmp(k, "filter") == 0 || strcmp(k, "mode") == 0) {
			if (strcmp(v, "mask") != 0 && strcmp(v, "reject") != 0) {
				api->log(owner, PARLEY_LOG_ERROR,
					 "moderation: filter is mask or reject, not %s", v);
				return -EINVAL;
			}
			reject_words = strcmp(v, "reject") == 0;
		} else if (strcmp(k, "moderators") == 0) {
			parse_list(moderators, v, false);
		} else if (strcmp(k, "notify") == 0) {
			notify = truthy(v);
		} else if (strcmp(k, "db") == 0) {
			path = v;
		} else {
			/* as the rate limiter does: a misspelt option is no option silently ignored */
			api->log(owner, PARLEY_LOG_ERROR, "moderation: unknown option %s", k);
			return -EINVAL;
		}
	}
	const char *key;
	json_t *value;
	min_word = SIZE_MAX;
	max_word = 0;
	json_object_foreach(words, key, value)
	{
		size_t n = strlen(key);
		min_word = n < min_word ? n : min_word;
		max_word = n > max_word ? n : max_word;
	}
	if (!path)
		path = api->config_string("db");
	int rc = open_db(path ? path : ":memory:");
	if (rc)
		return rc;
	static const char *const guarded[] = {"chat", "private"};
	if ((rc = api->hook_add(owner, PARLEY_HOOK_APP, NULL, "login", PARLEY_PRIO_GUARD, on_login,
				NULL)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_APP, NULL, "chat", PARLEY_PRIO_GUARD, on_chat,
				NULL)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_APP, NULL, "private", PARLEY_PRIO_GUARD,
				on_private, NULL)))
		return rc;
	for (size_t i = 0; max_word && i < sizeof guarded / sizeof *guarded; i++)
		if ((rc = api->hook_add(owner, PARLEY_HOOK_APP, NULL, guarded[i],
					PARLEY_PRIO_FILTER, on_filter, NULL)))
			return rc;
	api->log(owner, PARLEY_LOG_INFO, "moderation: %zu words (%s), %zu moderators",
		 json_object_size(words), reject_words ? "reject" : "mask",
		 json_object_size(moderators));
	return 0;
}

int parley_plugin_init(const struct parley_api *table, parley_owner *self,
		       const char *const *options)
{
	int rc = init(table, self, options);
	if (rc)
		parley_plugin_cleanup(table, self); /* safe to repeat if the host calls it too */
	return rc;
}

void parley_plugin_cleanup(const struct parley_api *table, parley_owner *self)
{
	(void)table;
	(void)self;
	/* the timer may be gone with the owner already; if not, it finds nothing left to do */
	retry = NULL;
	closing = true;
	if (db) {
		/* the last chance to write what is queued (a short wait: the server's own
		 * transaction, if still open, is on this thread and cannot end meanwhile) */
		sqlite3_busy_timeout(db, 200);
		flush();
	}
	while (ops) {
		struct op *o = ops;
		ops = o->next;
		api->log(owner, PARLEY_LOG_ERROR, "moderation: a change to %s was not saved",
			 table_names[o->table]);
		op_free(o);
	}
	ops_tail = &ops;
	for (int t = 0; t < N_TABLES; t++) {
		sqlite3_finalize(put_st[t]);
		sqlite3_finalize(del_st[t]);
		put_st[t] = del_st[t] = NULL;
		json_decref(state[t]);
		state[t] = NULL;
	}
	sqlite3_close(db);
	db = NULL;
	json_decref(words);
	json_decref(moderators);
	words = moderators = NULL;
}
