/*
 * The auth-token plugin: identity from a signed token instead of from the client's word. A
 * client sends its token in the CONNECT auth (io(url, {auth: {token}})); the host's token codec
 * (api->token_verify: HS256, exp, iat, bounded claims) checks it with the secret of the
 * plugin's options, and a bad or missing token gets CONNECT_ERROR {message: reason}. The
 * verified claims stay on the socket: once connected, its identity is {userid: sub, name}, and
 * a later `login` may not claim another userid (nor another name when the token has one).
 *
 * Private rooms (option private_rooms) admit a socket whose token lists the room in its rooms
 * claim, or whose user a member invited (`invite` {room, userid}, `uninvite`). Invitations are
 * kept in a table of the server's SQLite database, on a connection of the plugin's own, loaded
 * at init and looked up in memory; a write that meets the server's open transaction waits in
 * a queue and is retried from a timer.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "parley/plugin.h"

#define DEFAULT_SKEW 60	 /* seconds an iat may lie in the future */
#define MAX_SKEW     3600
#define MAX_USERID   256 /* longest userid an invitation names (the token codec's bound) */
#define MAX_ROOM     256 /* longest room name handled here; the core's own limit applies too */
#define BUSY_TIMEOUT 5	 /* ms the plugin's connection waits for the server's lock */
#define RETRY_MS     100 /* delay before writes that found the database busy are retried */
#define TABLE	     "auth_token_invitations"

/* A write of the invitation table not yet done, in order. */
struct op {
	bool put;	 /* an invitation (else its removal) */
	char *nsp;	 /* namespace */
	char *room;	 /* room */
	char *userid;	 /* the invited user */
	char *by;	 /* who invited, or NULL */
	long long ts;	 /* ms since the epoch */
	struct op *next; /* the next write */
};

static const struct parley_api *api; /* the host's table */
static parley_owner *owner;	     /* what the hooks and log lines belong to */
static char *secret;		     /* the HMAC key (a copy of the option) */
static bool required = true;	     /* a CONNECT without a token is refused */
static long long skew = DEFAULT_SKEW; /* seconds of clock skew allowed for iat and nbf */
static json_t *private_rooms;	     /* room patterns: names, or prefixes ending in '*' */
static json_t *invitations;	     /* "nsp\nroom\nuserid" -> true */
static sqlite3 *db;		     /* the plugin's connection */
static sqlite3_stmt *put_st, *del_st; /* prepared writes */
static struct op *ops, **ops_tail = &ops; /* writes still to do */
static parley_timer *retry;		  /* a pending retry of ops, or NULL */
static bool closing;			  /* in cleanup: no more retries */

/* ---- small helpers ---- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The verified claims of s (borrowed), or NULL for a socket that connected without a token. */
static json_t *claims_of(const parley_socket *s)
{
	return api->socket_get_data(s, owner);
}

static void claims_free(void *claims)
{
	json_decref(claims);
}

/* "nsp\nroom\nuserid", the key of an invitation; caller frees. */
static char *invitation_key(const char *nsp, const char *room, const char *userid)
{
	size_t a = strlen(nsp), b = strlen(room), c = strlen(userid);
	char *k = malloc(a + b + c + 3);
	if (k)
		snprintf(k, a + b + c + 3, "%s\n%s\n%s", nsp, room, userid);
	return k;
}

/* True if room matches pattern: the same name, or a prefix when the pattern ends in '*'. */
static bool matches(const char *pattern, const char *room)
{
	size_t n = strlen(pattern);
	if (n && pattern[n - 1] == '*')
		return strncmp(pattern, room, n - 1) == 0;
	return strcmp(pattern, room) == 0;
}

/* True if a pattern of list (an array of strings, borrowed) matches room. */
static bool listed(const json_t *list, const char *room)
{
	size_t i;
	json_t *p;
	json_array_foreach(list, i, p)
		if (json_is_string(p) && matches(json_string_value(p), room))
			return true;
	return false;
}

static bool is_private(const char *room)
{
	return listed(private_rooms, room);
}

static bool invited(const char *nsp, const char *room, const char *userid)
{
	char *key = invitation_key(nsp, room, userid);
	bool yes = key && json_object_get(invitations, key);
	free(key);
	return yes;
}

/* True if s may be in room: a public room, a bot, a rooms claim that names it, an invitation. */
static bool may_join(parley_socket *s, const char *room)
{
	if (!is_private(room) || (api->socket_is_bot && api->socket_is_bot(s)))
		return true;
	json_t *claims = claims_of(s);
	if (!claims)
		return false;
	if (listed(json_object_get(claims, "rooms"), room))
		return true;
	const char *sub = json_string_value(json_object_get(claims, "sub"));
	return invited(api->nsp_name(api->socket_nsp(s)), room, sub);
}

/* Answers a client event's ack, if any, with [answer] (answer is stolen). */
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

/* Refuses a message: its ack answer is {ok:false, error}. */
static enum parley_verdict refuse(struct parley_evt_message *ev, const char *error)
{
	json_decref(ev->reject); /* one an earlier handler left */
	ev->reject = json_pack("[{sbss}]", "ok", 0, "error", error);
	return PARLEY_REJECT;
}

/* The room named by an argument that is "room" or {room: "room"}; NULL if there is none. */
static const char *room_arg(const json_t *arg)
{
	const json_t *r = json_is_object(arg) ? json_object_get(arg, "room") : arg;
	const char *name = json_string_value(r);
	return name && *name && strlen(name) <= MAX_ROOM ? name : NULL;
}

/* ---- the database ---- */

static void op_free(struct op *o)
{
	free(o->nsp);
	free(o->room);
	free(o->userid);
	free(o->by);
	free(o);
}

static void retry_fired(void *ud);

/* Runs the queued writes in order; stops at SQLITE_BUSY and retries later. */
static void flush(void)
{
	while (ops) {
		struct op *o = ops;
		sqlite3_stmt *st = o->put ? put_st : del_st;
		sqlite3_bind_text(st, 1, o->nsp, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, o->room, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, o->userid, -1, SQLITE_STATIC);
		if (o->put) {
			sqlite3_bind_text(st, 4, o->by, -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 5, o->ts);
		}
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
			/* the server's transaction of this loop iteration: it ends before the next */
			if (!retry && !closing)
				retry = api->timer_start(owner, RETRY_MS, 0, retry_fired, NULL);
			return;
		}
		if (rc != SQLITE_DONE)
			api->log(owner, PARLEY_LOG_ERROR, "auth-token: cannot write %s: %s", TABLE,
				 sqlite3_errmsg(db));
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

/* Records an invitation (put) or its removal in memory and queues the write. Returns 0 or
 * -ENOMEM. */
static int store(bool put, const char *nsp, const char *room, const char *userid, const char *by)
{
	char *key = invitation_key(nsp, room, userid);
	struct op *o = calloc(1, sizeof *o);
	if (!key || !o)
		goto nomem;
	*o = (struct op){.put = put,
			 .nsp = strdup(nsp),
			 .room = strdup(room),
			 .userid = strdup(userid),
			 .by = by ? strdup(by) : NULL,
			 .ts = now_ms()};
	if (!o->nsp || !o->room || !o->userid || (by && !o->by))
		goto nomem;
	if (put ? json_object_set_new(invitations, key, json_true())
		: (json_object_del(invitations, key), 0))
		goto nomem;
	free(key);
	*ops_tail = o;
	ops_tail = &o->next;
	flush();
	return 0;
nomem:
	free(key);
	if (o)
		op_free(o);
	return -ENOMEM;
}

static int exec(const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		api->log(owner, PARLEY_LOG_ERROR, "auth-token: %s", err ? err : sqlite3_errmsg(db));
		sqlite3_free(err);
		return -EIO;
	}
	return 0;
}

/* Opens the database, creates the table and loads the invitations. Returns 0 or -EIO. */
static int open_db(const char *path)
{
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		api->log(owner, PARLEY_LOG_ERROR, "auth-token: cannot open %s: %s", path,
			 db ? sqlite3_errmsg(db) : "out of memory");
		return -EIO;
	}
	/* a longer wait at start, when the server holds no transaction yet */
	sqlite3_busy_timeout(db, 2000);
	if (exec("PRAGMA journal_mode = WAL") ||
	    exec("CREATE TABLE IF NOT EXISTS " TABLE " (nsp TEXT NOT NULL, room TEXT NOT NULL, "
		 "userid TEXT NOT NULL, \"by\" TEXT, ts INTEGER, PRIMARY KEY (nsp, room, userid))"))
		return -EIO;
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db,
			       "INSERT OR REPLACE INTO " TABLE " (nsp, room, userid, \"by\", ts) "
			       "VALUES (?, ?, ?, ?, ?)",
			       -1, &put_st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "DELETE FROM " TABLE " WHERE nsp = ? AND room = ? AND userid = ?",
			       -1, &del_st, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT nsp, room, userid FROM " TABLE, -1, &st, NULL) !=
		SQLITE_OK)
		goto sql_error;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *key = invitation_key((const char *)sqlite3_column_text(st, 0),
					   (const char *)sqlite3_column_text(st, 1),
					   (const char *)sqlite3_column_text(st, 2));
		if (key)
			json_object_set_new(invitations, key, json_true());
		free(key);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto sql_error;
	sqlite3_busy_timeout(db, BUSY_TIMEOUT);
	return 0;
sql_error:
	api->log(owner, PARLEY_LOG_ERROR, "auth-token: %s", sqlite3_errmsg(db));
	return -EIO;
}

/* ---- connect and identity ---- */

/* Refuses a CONNECT with CONNECT_ERROR {message: reason}. */
static enum parley_verdict refuse_connect(struct parley_evt_connect *ev, const char *reason)
{
	json_decref(ev->error);
	ev->error = json_pack("{ss}", "message", reason);
	api->log(owner, PARLEY_LOG_INFO, "auth-token: connect from %s refused: %s",
		 api->socket_address(ev->socket), reason);
	return PARLEY_REJECT;
}

/*
 * Verifies the CONNECT auth's token, keeps its claims on the socket and gives it the token's
 * identity, before the host looks at a session to recover: a session is then taken over only
 * by its own user, who keeps the name it had when the token has none.
 */
static enum parley_verdict on_connect(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_connect *ev = evt;
	json_t *token = json_object_get(ev->auth, "token");
	if (!token || json_is_null(token))
		return required ? refuse_connect(ev, "authentication token required") : PARLEY_PASS;
	if (!json_is_string(token))
		return refuse_connect(ev, api->strerror(PARLEY_ETOKEN_MALFORMED));
	json_t *claims = NULL;
	int rc = api->token_verify(json_string_value(token), json_string_length(token), secret,
				   strlen(secret), 0, skew, &claims);
	if (rc)
		return refuse_connect(ev, api->strerror(rc));
	if ((rc = api->socket_set_data(ev->socket, owner, claims, claims_free))) {
		json_decref(claims);
		return refuse_connect(ev, api->strerror(rc));
	}
	rc = api->socket_set_identity(ev->socket, json_object_get(claims, "sub"),
				      json_object_get(claims, "name"));
	return rc ? refuse_connect(ev, api->strerror(rc)) : PARLEY_PASS;
}

/*
 * The chat application's login: with a token, the userid is the token's (a login that names
 * another is refused) and so is the name when the token has one; without a token, a login may
 * choose a display name but no userid.
 */
static enum parley_verdict on_login(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	json_t *claims = claims_of(ev->socket);
	json_t *data = json_array_get(ev->args, 0);
	json_t *uid = json_object_get(data, "userid"), *name = json_object_get(data, "name");
	if (uid && json_is_null(uid))
		uid = NULL;
	if (!claims)
		return uid ? refuse(ev, "a userid needs a token") : PARLEY_PASS;
	json_t *sub = json_object_get(claims, "sub"), *token_name = json_object_get(claims, "name");
	if (uid && !json_equal(uid, sub))
		return refuse(ev, "the userid comes from the token");
	if (token_name && name && !json_equal(name, token_name))
		return refuse(ev, "the name comes from the token");
	/* what the application sets is the token's identity, whatever the login omitted */
	if (!json_is_object(data)) {
		json_t *args = json_pack("[{}]");
		if (!args)
			return refuse(ev, "out of memory");
		json_decref(ev->args);
		ev->args = args;
		data = json_array_get(args, 0);
	}
	if (json_object_set(data, "userid", sub) ||
	    (token_name && json_object_set(data, "name", token_name)))
		return refuse(ev, "out of memory");
	return PARLEY_PASS;
}

/* ---- private rooms ---- */

/* Every join, whoever asks for it (a client, a script, a recovered session). */
static enum parley_verdict on_join_hook(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_room *ev = evt;
	return may_join(ev->socket, ev->room) ? PARLEY_PASS : PARLEY_REJECT;
}

/* The client's join event: refused before the application, with a reason it can show. */
static enum parley_verdict on_join_event(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	const char *room = room_arg(json_array_get(ev->args, 0));
	if (!room || may_join(ev->socket, room))
		return PARLEY_PASS; /* an invalid name is the application's to answer */
	return refuse(ev, "that room is private: it needs an invitation or a token that lists it");
}

/* The sender's identity {name?, userid} for an `invited` notice; a new reference. */
static json_t *sender(parley_socket *s)
{
	json_t *o = json_object();
	json_t *name = api->socket_name(s), *uid = api->socket_userid(s);
	if (o && name)
		json_object_set(o, "name", name);
	if (o && uid)
		json_object_set(o, "userid", uid);
	return o;
}

/* Tells the invited user's sockets of nsp: `invited` {room, by}. */
static void tell_invited(parley_socket *from, const char *room, const char *userid)
{
	parley_nsp *nsp = api->socket_nsp(from);
	json_t *uid = json_string(userid);
	json_t *payload = json_pack("[s{ssso}]", "invited", "room", room, "by", sender(from));
	struct parley_message m = {.payload = payload};
	for (parley_socket *t = uid && payload ? api->user_first(nsp, uid) : NULL; t;
	     t = api->user_next(t))
		api->emit(t, &m, NULL, NULL);
	json_decref(payload);
	json_decref(uid);
}

/*
 * invite / uninvite {room, userid}: a member of a private room, connected with a token, lets
 * another user join it (or no longer). Answers {ok:true, room, userid} or {ok:false, error}.
 */
static enum parley_verdict on_invite(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	bool put = ud != NULL;
	struct parley_evt_message *ev = evt;
	parley_socket *s = ev->socket;
	json_t *data = json_array_get(ev->args, 0);
	const char *room = json_is_object(data) ? room_arg(data) : NULL;
	const char *userid = json_string_value(json_object_get(data, "userid"));
	if (!room || !userid || !*userid || strlen(userid) > MAX_USERID ||
	    strlen(userid) != json_string_length(json_object_get(data, "userid")))
		return refuse(ev, "a room and a userid are required");
	json_t *claims = claims_of(s);
	if (!claims)
		return refuse(ev, "invitations need a token");
	if (!is_private(room))
		return refuse(ev, "that room is not private");
	if (!api->socket_in(s, room))
		return refuse(ev, "not in that room");
	const char *nsp = api->nsp_name(api->socket_nsp(s));
	const char *by = json_string_value(json_object_get(claims, "sub"));
	bool was = invited(nsp, room, userid);
	if (put != was && store(put, nsp, room, userid, by))
		return refuse(ev, "out of memory");
	reply(ev, json_pack("{sbssss}", "ok", 1, "room", room, "userid", userid));
	if (put && !was)
		tell_invited(s, room, userid);
	api->log(owner, PARLEY_LOG_INFO, "auth-token: %s %s %s to %s on %s", by,
		 put ? "invited" : "uninvited", userid, room, nsp);
	return PARLEY_HANDLED;
}

/* ---- options, entry points ---- */

/* Appends the comma-separated items of list to the array, trimmed of spaces. */
static void parse_list(json_t *array, const char *list)
{
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *a = p, *b = p + n;
		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		if (b > a)
			json_array_append_new(array, json_stringn(a, (size_t)(b - a)));
		p += n + (p[n] == ',');
	}
}

static bool truthy(const char *v)
{
	return strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
	       strcmp(v, "on") == 0;
}

static bool falsy(const char *v)
{
	return strcmp(v, "no") == 0 || strcmp(v, "false") == 0 || strcmp(v, "0") == 0 ||
	       strcmp(v, "off") == 0;
}

int parley_plugin_version(int n_versions, const int *versions)
{
	for (int i = 0; i < n_versions; i++)
		if (versions[i] == PARLEY_API_VERSION)
			return PARLEY_API_VERSION;
	return -1;
}

/* Reads the options (an unknown or invalid one refuses the plugin). Returns 0 or an error. */
static int read_options(const char *const *options, const char **path)
{
	for (size_t i = 0; options && options[i] && options[i + 1]; i += 2) {
		const char *k = options[i], *v = options[i + 1];
		if (strcmp(k, "secret") == 0) {
			free(secret);
			if (!(secret = strdup(v)))
				return -ENOMEM;
		} else if (strcmp(k, "required") == 0) {
			if (!truthy(v) && !falsy(v)) {
				api->log(owner, PARLEY_LOG_ERROR,
					 "auth-token: required is yes or no, not %s", v);
				return -EINVAL;
			}
			required = truthy(v);
		} else if (strcmp(k, "skew") == 0) {
			char *end;
			skew = strtoll(v, &end, 10);
			if (end == v || *end || skew < 0 || skew > MAX_SKEW) {
				api->log(owner, PARLEY_LOG_ERROR,
					 "auth-token: skew is 0 to %d seconds, not %s", MAX_SKEW, v);
				return -EINVAL;
			}
		} else if (strcmp(k, "private_rooms") == 0) {
			parse_list(private_rooms, v);
		} else if (strcmp(k, "db") == 0) {
			*path = v;
		} else {
			api->log(owner, PARLEY_LOG_ERROR, "auth-token: unknown option %s", k);
			return -EINVAL;
		}
	}
	if (!secret || strlen(secret) < PARLEY_TOKEN_MIN_KEY) {
		/* the secret itself is never logged */
		api->log(owner, PARLEY_LOG_ERROR,
			 "auth-token: the option secret is required, of %d bytes at least",
			 PARLEY_TOKEN_MIN_KEY);
		return -EINVAL;
	}
	return 0;
}

/* Reads the options, loads the invitations and registers the hooks. Returns 0 or an error. */
static int init(const struct parley_api *table, parley_owner *self, const char *const *options)
{
	api = table;
	owner = self;
	closing = false;
	required = true;
	skew = DEFAULT_SKEW;
	if (api->size < offsetof(struct parley_api, token_sign) + sizeof api->token_sign)
		return PARLEY_EVERSION;
	private_rooms = json_array();
	invitations = json_object();
	if (!private_rooms || !invitations)
		return -ENOMEM;
	const char *path = NULL;
	int rc = read_options(options, &path);
	if (rc)
		return rc;
	if (!path)
		path = api->config_string("db");
	if ((rc = open_db(path ? path : ":memory:")))
		return rc;
	if ((rc = api->hook_add(owner, PARLEY_HOOK_CONNECT, NULL, NULL, PARLEY_PRIO_GUARD,
				on_connect, NULL)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_APP, NULL, "login", PARLEY_PRIO_GUARD, on_login,
				NULL)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_JOIN, NULL, NULL, PARLEY_PRIO_GUARD,
				on_join_hook, NULL)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_EVENT, NULL, "join", PARLEY_PRIO_GUARD,
				on_join_event, NULL)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_EVENT, NULL, "invite", PARLEY_PRIO_APP,
				on_invite, (void *)1)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_EVENT, NULL, "uninvite", PARLEY_PRIO_APP,
				on_invite, NULL)))
		return rc;
	api->log(owner, PARLEY_LOG_INFO,
		 "auth-token: tokens %s, %zu private room patterns, %zu invitations",
		 required ? "required" : "optional", json_array_size(private_rooms),
		 json_object_size(invitations));
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
	retry = NULL; /* the timer goes with the owner */
	closing = true;
	if (db) {
		/* the last chance to write what is queued */
		sqlite3_busy_timeout(db, 200);
		flush();
	}
	while (ops) {
		struct op *o = ops;
		ops = o->next;
		api->log(owner, PARLEY_LOG_ERROR, "auth-token: an invitation change was not saved");
		op_free(o);
	}
	ops_tail = &ops;
	sqlite3_finalize(put_st);
	sqlite3_finalize(del_st);
	put_st = del_st = NULL;
	sqlite3_close(db);
	db = NULL;
	json_decref(private_rooms);
	json_decref(invitations);
	private_rooms = invitations = NULL;
	if (secret) {
		memset(secret, 0, strlen(secret));
		free(secret);
		secret = NULL;
	}
}
