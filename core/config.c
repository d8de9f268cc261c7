/*
 * Configuration sources and validation (see config.h). One table lists every option once: its
 * command-line name, its config-file key, its type and limits, and its help text.
 */
#include "config.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <lua.h>
#include <lualib.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "lua_alloc.h"
#include "peers.h"
#include "parley/version.h"

enum opt_type {
	OPT_STR,
	OPT_UINT,
	OPT_SIZE,
	OPT_PORT,
	OPT_BOOL,
	OPT_LEVEL,
	OPT_APP,
	OPT_NSPS,
	OPT_PLUGIN,
	OPT_SCRIPT
};

#ifndef PARLEY_PLUGIN_DIR
#define PARLEY_PLUGIN_DIR "plugins"
#endif
#ifndef PARLEY_SCRIPT_DIR
#define PARLEY_SCRIPT_DIR "scripts"
#endif
const char *pl_config_plugin_dir = PARLEY_PLUGIN_DIR;
const char *pl_config_script_dir = PARLEY_SCRIPT_DIR;

/* The bundled extensions, loaded before those named by the configuration. */
static const char *const bundled_plugins[] = {"moderation", "ratelimit"};
static const char *const bundled_scripts[] = {"help.lua", "welcome.lua"};

struct option_def {
	const char *name;   /* command-line option without "--"; the config key uses '_' for '-' */
	enum opt_type type; /* how the value is parsed */
	size_t offset;	    /* field in struct pl_config */
	unsigned long long min, max; /* limits for numbers */
	const char *help;   /* one line of --help */
};

#define F(field) offsetof(struct pl_config, field)
static const struct option_def options[] = {
	{"host", OPT_STR, F(host), 0, 0, "listen address (default 0.0.0.0)"},
	{"port", OPT_PORT, F(port), 0, 65535, "listen port, 0 for any free port (default 3000)"},
	{"web-root", OPT_STR, F(web_root), 0, 0, "directory served at / (default ./web)"},
	{"client-dist", OPT_STR, F(client_dist), 0, 0,
	 "socket.io-client dist/ directory (default <web-root>/node_modules/socket.io-client/dist)"},
	{"db", OPT_STR, F(db_path), 0, 0, "SQLite history file (default ./parley.db)"},
	{"path", OPT_STR, F(path), 0, 0, "Engine.IO path (default /socket.io/)"},
	{"ping-interval", OPT_UINT, F(ping_interval), 10, 3600000, "ms between pings (default 25000)"},
	{"ping-timeout", OPT_UINT, F(ping_timeout), 10, 3600000, "ms to wait for a pong (default 20000)"},
	{"max-payload", OPT_SIZE, F(max_payload), 64, 1ull << 30,
	 "largest message or polling body in bytes (default 1000000)"},
	{"connect-timeout", OPT_UINT, F(connect_timeout), 10, 3600000,
	 "ms allowed before the first namespace CONNECT (default 45000)"},
	{"attachments-timeout", OPT_UINT, F(attachments_timeout), 10, 3600000,
	 "ms a binary packet's attachments may take to arrive (default 10000)"},
	{"ack-timeout", OPT_UINT, F(ack_timeout), 10, 3600000,
	 "ms a server-to-client ack waits (default 10000)"},
	{"max-send-queue", OPT_SIZE, F(max_send_queue), 1024, 1ull << 32,
	 "bytes queued for one client before it is dropped as too slow (default 4194304)"},
	{"max-connections", OPT_SIZE, F(max_connections), 1, 10000000,
	 "sessions at once (default 100000)"},
	{"max-sessions-per-address", OPT_SIZE, F(max_sessions_per_address), 0, 10000000,
	 "sessions one client address may hold, 0 for no limit (default 1000)"},
	{"max-handshakes-per-address", OPT_UINT, F(max_handshakes_per_address), 0, 1000000,
	 "new sessions one client address may open per second, 0 for no limit (default 50)"},
	{"max-connections-per-address", OPT_SIZE, F(max_connections_per_address), 0, 10000000,
	 "TCP connections one client address may hold open, 0 for no limit (default 1000)"},
	{"trusted-proxies", OPT_STR, F(trusted_proxies), 0, 0,
	 "proxies whose X-Forwarded-For or Forwarded names the client: addresses and CIDR "
	 "ranges, comma-separated (default: none)"},
	{"max-rooms-per-socket", OPT_SIZE, F(max_rooms), 1, 1000000,
	 "rooms one socket may be in at once (default 1000)"},
	{"max-room-name", OPT_SIZE, F(max_room_name), 1, 4096,
	 "longest room name in bytes (default 128)"},
	{"cors-origin", OPT_STR, F(cors_origins), 0, 0,
	 "allowed CORS origins, comma-separated, or * (default: none)"},
	{"cors-credentials", OPT_BOOL, F(cors_credentials), 0, 0,
	 "allow credentials in CORS requests (echoes the origin)"},
	{"cookie", OPT_STR, F(cookie), 0, 0,
	 "on the polling handshake, set the cookie of this name (io, as Engine.IO's cookie option) "
	 "to the session id, for a balancer's stickiness (default: none)"},
	{"cookie-path", OPT_STR, F(cookie_path), 0, 0, "the cookie's Path attribute (default /)"},
	{"history-replay", OPT_UINT, F(history_replay), 0, 1000,
	 "messages replayed to a client on login and on joining a room (default 50)"},
	{"history-keep", OPT_UINT, F(history_keep), 0, 100000000,
	 "messages kept per room, older ones deleted as new ones come; 0 keeps all (default 10000)"},
	{"history-max-bytes", OPT_SIZE, F(history_max_bytes), 0, 1ull << 50,
	 "largest size of the history file in bytes, 0 for no limit (default 0)"},
	{"history-replay-bytes", OPT_SIZE, F(history_replay_bytes), 1024, 1ull << 30,
	 "bytes a replay or history page carries at most, at most half of max-send-queue "
	 "(default 262144)"},
	{"history", OPT_BOOL, F(history), 0, 0,
	 "store chat and private messages (default; --no-history keeps none)"},
	{"history-max-age", OPT_UINT, F(history_max_age), 0, 3650u * 86400u,
	 "seconds a stored message is kept, 0 for no limit (default 0)"},
	{"history-room-bytes", OPT_SIZE, F(history_room_bytes), 0, 1ull << 50,
	 "bytes of stored messages kept per room, 0 for no limit (default 0)"},
	{"history-retention-interval", OPT_UINT, F(history_retention_interval), 10, 60000,
	 "ms between retention steps once old messages are removed (default 1000)"},
	{"recovery-window", OPT_UINT, F(recovery_window), 0, 86400000,
	 "ms a dropped client may reconnect and recover its session, 0 turns recovery off "
	 "(default 120000)"},
	{"max-message-bytes", OPT_SIZE, F(max_message_bytes), 1, 1ull << 30,
	 "longest chat or private message text in bytes (default 65536)"},
	{"max-name-bytes", OPT_SIZE, F(max_name_bytes), 1, 65536,
	 "longest login name in bytes (default 64)"},
	{"log-level", OPT_LEVEL, F(log_level), 0, 0, "error, warn, info or debug (default info)"},
	{"app", OPT_APP, F(app), 0, 0,
	 "built-in application: chat (default), conformance or engine-echo"},
	{"namespace", OPT_NSPS, F(namespaces), 0, 0,
	 "serve another namespace (repeatable; /chat is always served by the chat app)"},
	{"plugin", OPT_PLUGIN, F(plugins), 0, 0, "load a C plugin, a .so file (repeatable)"},
	{"script", OPT_SCRIPT, F(scripts), 0, 0, "load a Lua script (repeatable)"},
	{"bundled", OPT_BOOL, F(bundled), 0, 0,
	 "load the bundled plugins and scripts (default; --no-bundled turns them off)"},
	{"redis", OPT_STR, F(redis), 0, 0,
	 "join a cluster through Redis, redis://[[user]:password@]host:port[/db] (default: "
	 "alone)"},
	{"redis-history-length", OPT_SIZE, F(redis_history_length), 100, 1000000000,
	 "entries the cluster's history stream keeps, about (default 100000)"},
	{"redis-prefix", OPT_STR, F(redis_prefix), 0, 0,
	 "the Redis adapter's channel prefix, as the Node.js adapter's key (default socket.io)"},
};
#undef F

static char *dup_or_die(const char *s)
{
	char *p = strdup(s);
	if (!p) {
		fprintf(stderr, "parley: out of memory\n");
		exit(1);
	}
	return p;
}

static void set_str(char **field, const char *v)
{
	free(*field);
	*field = dup_or_die(v);
}

/* Appends a copy of s to the NULL-terminated list *v of *n entries. */
static void strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof *nv);
	if (!nv) {
		fprintf(stderr, "parley: out of memory\n");
		exit(1);
	}
	nv[(*n)++] = dup_or_die(s);
	nv[*n] = NULL;
	*v = nv;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The value of key in a key/value list, or NULL. */
static const char *strv_get(char **kv, const char *key)
{
	for (size_t i = 0; kv && kv[i] && kv[i + 1]; i += 2)
		if (strcmp(kv[i], key) == 0)
			return kv[i + 1];
	return NULL;
}

/* True if s has only printable ASCII characters (the space included). */
static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

/* True if s is a cookie name: an HTTP token (RFC 6265 section 4.1.1, RFC 2616 section 2.2)
 * of at most 64 bytes. */
static bool cookie_name_valid(const char *s)
{
	return *s && strlen(s) <= 64 && printable(s) && !strpbrk(s, " ()<>@,;:\\\"/[]?={}");
}

/* A plugin's name: its file name without directory and ".so" (caller frees). */
static char *plugin_name(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 3 && strcmp(base + n - 3, ".so") == 0)
		n -= 3;
	char *name = dup_or_die(base);
	name[n] = '\0';
	return name;
}

/* Appends a plugin to c's list; it takes kv (a NULL-terminated key/value list, or NULL). */
static struct pl_plugin_conf *add_plugin(struct pl_config *c, const char *path, char **kv)
{
	struct pl_plugin_conf *np = realloc(c->plugins, (c->n_plugins + 1) * sizeof *np);
	if (!np) {
		fprintf(stderr, "parley: out of memory\n");
		exit(1);
	}
	c->plugins = np;
	struct pl_plugin_conf *p = &np[c->n_plugins++];
	p->path = dup_or_die(path);
	p->name = plugin_name(path);
	p->bundled = false;
	p->options = kv ? kv : calloc(1, sizeof *p->options);
	if (!p->options) {
		fprintf(stderr, "parley: out of memory\n");
		exit(1);
	}
	return p;
}

int pl_config_init(struct pl_config *c)
{
	memset(c, 0, sizeof *c);
	c->host = dup_or_die("0.0.0.0");
	c->port = 3000;
	c->web_root = dup_or_die("web");
	c->db_path = dup_or_die("parley.db");
	c->path = dup_or_die("/socket.io/");
	c->cookie_path = dup_or_die("/");
	c->ping_interval = 25000;
	c->ping_timeout = 20000;
	c->max_payload = 1000000;
	c->connect_timeout = 45000;
	c->attachments_timeout = 10000;
	c->ack_timeout = 10000;
	c->max_send_queue = 4u << 20;
	c->max_connections = 100000;
	c->max_sessions_per_address = 1000;
	c->max_handshakes_per_address = 50;
	c->max_connections_per_address = 1000;
	c->max_rooms = 1000;
	c->max_room_name = 128;
	c->history_replay = 50;
	c->history_keep = 10000;
	c->history_replay_bytes = 256u << 10;
	c->history = true;
	c->recovery_window = 120000;
	c->history_retention_interval = 1000;
	c->max_message_bytes = 64u << 10;
	c->max_name_bytes = 64;
	c->log_level = PL_LOG_INFO;
	c->app = PL_APP_CHAT;
	c->bundled = true;
	c->redis_history_length = 100000;
	return 0;
}

void pl_config_close(struct pl_config *c)
{
	free(c->host);
	free(c->web_root);
	free(c->client_dist);
	free(c->db_path);
	free(c->path);
	free(c->cors_origins);
	free(c->trusted_proxies);
	free(c->cookie);
	free(c->cookie_path);
	free(c->redis);
	free(c->redis_prefix);
	for (size_t i = 0; i < c->n_namespaces; i++)
		free(c->namespaces[i]);
	for (size_t i = 0; i < c->n_plugins; i++) {
		free(c->plugins[i].path);
		free(c->plugins[i].name);
		strv_free(c->plugins[i].options);
	}
	free(c->plugins);
	for (size_t i = 0; i < c->n_plugin_opts; i++) {
		free(c->plugin_opts[i].name);
		strv_free(c->plugin_opts[i].options);
	}
	free(c->plugin_opts);
	strv_free(c->scripts);
	memset(c, 0, sizeof *c);
}

/* Parses value for option o into c; prints an error naming `key` and returns -1 when invalid. */
static int apply(struct pl_config *c, const struct option_def *o, const char *key,
		 const char *value)
{
	char *field = (char *)c + o->offset;
	char *end;
	switch (o->type) {
	case OPT_STR:
		if (!*value) {
			fprintf(stderr, "parley: %s: must not be empty\n", key);
			return -1;
		}
		set_str((char **)field, value);
		return 0;
	case OPT_UINT:
	case OPT_SIZE:
	case OPT_PORT: {
		errno = 0;
		unsigned long long v = strtoull(value, &end, 10);
		if (errno || end == value || *end || value[0] == '-' || v < o->min || v > o->max) {
			fprintf(stderr, "parley: %s: expected a whole number from %llu to %llu, got '%s'\n",
				key, o->min, o->max, value);
			return -1;
		}
		if (o->type == OPT_UINT)
			*(unsigned *)field = (unsigned)v;
		else if (o->type == OPT_SIZE)
			*(size_t *)field = (size_t)v;
		else
			*(int *)field = (int)v;
		return 0;
	}
	case OPT_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
			*(bool *)field = true;
		else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
			*(bool *)field = false;
		else {
			fprintf(stderr, "parley: %s: expected true or false, got '%s'\n", key, value);
			return -1;
		}
		return 0;
	case OPT_LEVEL: {
		int l = pl_log_parse_level(value);
		if (l < 0) {
			fprintf(stderr, "parley: %s: expected error, warn, info or debug, got '%s'\n", key,
				value);
			return -1;
		}
		*(int *)field = l;
		return 0;
	}
	case OPT_APP:
		if (strcmp(value, "chat") == 0)
			c->app = PL_APP_CHAT;
		else if (strcmp(value, "conformance") == 0)
			c->app = PL_APP_CONFORMANCE;
		else if (strcmp(value, "engine-echo") == 0)
			c->app = PL_APP_ENGINE_ECHO;
		else {
			fprintf(stderr, "parley: %s: expected chat, conformance or engine-echo, got '%s'\n",
				key, value);
			return -1;
		}
		return 0;
	case OPT_NSPS:
		if (value[0] != '/' || strlen(value) > 256 || strchr(value, ',')) {
			fprintf(stderr, "parley: %s: a namespace starts with '/' and has no ',', got '%s'\n",
				key, value);
			return -1;
		}
		if (c->n_namespaces == PL_CONFIG_MAX_NSP) {
			fprintf(stderr, "parley: %s: at most %d namespaces\n", key, PL_CONFIG_MAX_NSP);
			return -1;
		}
		c->namespaces[c->n_namespaces++] = dup_or_die(value);
		return 0;
	case OPT_PLUGIN:
		if (!*value) {
			fprintf(stderr, "parley: %s: must not be empty\n", key);
			return -1;
		}
		add_plugin(c, value, NULL);
		return 0;
	case OPT_SCRIPT:
		if (!*value) {
			fprintf(stderr, "parley: %s: must not be empty\n", key);
			return -1;
		}
		strv_push(&c->scripts, &c->n_scripts, value);
		return 0;
	}
	return -1;
}

static const struct option_def *find_option(const char *name, bool config_key)
{
	for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
		const char *n = options[i].name;
		size_t k = 0;
		for (; n[k] && name[k]; k++) {
			char want = (config_key && n[k] == '-') ? '_' : n[k];
			if (name[k] != want)
				break;
		}
		if (!n[k] && !name[k])
			return &options[i];
	}
	return NULL;
}

/* Converts one Lua value to the option's text form; returns -1 for a wrong type, -2 for a
 * string too long for buf. */
static int lua_value_text(lua_State *L, int idx, const struct option_def *o, char *buf, size_t n)
{
	int t = lua_type(L, idx);
	if (o->type == OPT_BOOL && t == LUA_TBOOLEAN) {
		snprintf(buf, n, "%s", lua_toboolean(L, idx) ? "true" : "false");
		return 0;
	}
	if ((o->type == OPT_UINT || o->type == OPT_SIZE || o->type == OPT_PORT) && lua_isinteger(L, idx)) {
		lua_Integer v = lua_tointeger(L, idx);
		snprintf(buf, n, "%lld", (long long)v);
		return 0;
	}
	if (t == LUA_TSTRING && o->type != OPT_BOOL) {
		size_t len;
		const char *v = lua_tolstring(L, idx, &len);
		if (len >= n)
			return -2;
		memcpy(buf, v, len + 1);
		return 0;
	}
	return -1;
}

/*
 * Reads the table at the top of L's stack as plugin options into *kv (a new key/value list):
 * string keys, values that are strings, numbers or booleans (kept as their text). Prints an
 * error naming what (the table's place in the file) and returns -1 otherwise.
 */
static int read_options(lua_State *L, const char *path, const char *what, char ***kv)
{
	size_t n = 0;
	*kv = calloc(1, sizeof **kv);
	if (!*kv) {
		fprintf(stderr, "parley: out of memory\n");
		exit(1);
	}
	if (!lua_istable(L, -1)) {
		fprintf(stderr, "parley: %s: config key '%s' must be a table, not %s\n", path, what,
			luaL_typename(L, -1));
		return -1;
	}
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		int t = lua_type(L, -1);
		if (lua_type(L, -2) != LUA_TSTRING ||
		    (t != LUA_TSTRING && t != LUA_TNUMBER && t != LUA_TBOOLEAN)) {
			fprintf(stderr,
				"parley: %s: config key '%s' must map names to strings, numbers or "
				"booleans\n",
				path, what);
			lua_pop(L, 2);
			return -1;
		}
		strv_push(kv, &n, lua_tostring(L, -2));
		strv_push(kv, &n, luaL_tolstring(L, -1, NULL));
		lua_pop(L, 2);
	}
	return 0;
}

/*
 * Reads the config key plugins at the top of L's stack: a list whose entries are a path or a
 * table {path = "x.so", options = {...}}.
 */
static int read_plugins(struct pl_config *c, lua_State *L, const char *path)
{
	if (!lua_istable(L, -1)) {
		fprintf(stderr, "parley: %s: config key 'plugins' must list plugins\n", path);
		return -1;
	}
	lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
	for (lua_Integer i = 1; i <= n; i++) {
		int t = lua_geti(L, -1, i);
		if (t == LUA_TSTRING && *lua_tostring(L, -1)) {
			add_plugin(c, lua_tostring(L, -1), NULL);
		} else if (t == LUA_TTABLE && lua_getfield(L, -1, "path") == LUA_TSTRING &&
			   *lua_tostring(L, -1)) {
			char what[64], **kv = NULL;
			snprintf(what, sizeof what, "plugins[%lld].options", (long long)i);
			if (lua_getfield(L, -2, "options") == LUA_TNIL) {
				lua_pop(L, 1);
				lua_newtable(L);
			}
			if (read_options(L, path, what, &kv)) {
				strv_free(kv);
				return -1;
			}
			lua_pop(L, 1);
			add_plugin(c, lua_tostring(L, -1), kv);
			lua_pop(L, 1);
		} else {
			fprintf(stderr,
				"parley: %s: config key 'plugins': entry %lld must be a path or "
				"{ path = ..., options = { ... } }\n",
				path, (long long)i);
			return -1;
		}
		lua_pop(L, 1);
	}
	return 0;
}

/* Reads the config key plugin_options at the top of L's stack: { name = { key = value } }. */
static int read_plugin_options(struct pl_config *c, lua_State *L, const char *path)
{
	if (!lua_istable(L, -1)) {
		fprintf(stderr, "parley: %s: config key 'plugin_options' must be a table\n", path);
		return -1;
	}
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		if (lua_type(L, -2) != LUA_TSTRING) {
			fprintf(stderr,
				"parley: %s: config key 'plugin_options' must be keyed by name\n",
				path);
			lua_pop(L, 2);
			return -1;
		}
		char what[128], **kv = NULL;
		snprintf(what, sizeof what, "plugin_options.%.100s", lua_tostring(L, -2));
		if (read_options(L, path, what, &kv)) {
			strv_free(kv);
			lua_pop(L, 2);
			return -1;
		}
		struct pl_plugin_opts *np =
		    realloc(c->plugin_opts, (c->n_plugin_opts + 1) * sizeof *np);
		if (!np) {
			fprintf(stderr, "parley: out of memory\n");
			exit(1);
		}
		c->plugin_opts = np;
		np[c->n_plugin_opts].name = dup_or_die(lua_tostring(L, -2));
		np[c->n_plugin_opts++].options = kv;
		lua_pop(L, 1);
	}
	return 0;
}

/*
 * What running a config file may cost. It is data: an endless loop or a string doubled until
 * memory runs out is a mistake to report at start, not one to hang or swap on.
 */
#define CONFIG_MAX_INSTRUCTIONS 1000000
#define CONFIG_MAX_MEMORY	(64u << 20)

/* The memory a config file's Lua state holds, and how much it may. */
/* The count hook: called once the file has run CONFIG_MAX_INSTRUCTIONS instructions. */
static void ran_too_long(lua_State *L, lua_Debug *ar)
{
	/* (luaL_error would name the caller's line: here that is the pcall, not the file) */
	lua_getinfo(L, "Sl", ar);
	luaL_error(L, "%s:%d: ran for more than %d Lua instructions (a loop that does not end?)",
		   ar->short_src, ar->currentline, CONFIG_MAX_INSTRUCTIONS);
}

/* Prints the error of a failed load or run (status) at the top of L's stack. */
static void lua_failed(lua_State *L, const char *name, int status)
{
	const char *msg = lua_tostring(L, -1);
	if (status == LUA_ERRMEM)
		fprintf(stderr, "parley: config: %s: uses more than %u MB of memory\n", name,
			CONFIG_MAX_MEMORY >> 20);
	else
		fprintf(stderr, "parley: config: %s\n", msg ? msg : "error object is not a string");
}

/*
 * Runs a config file as Lua in an empty environment (no libraries: it is data, not a
 * program), bounded in instructions and memory, and applies every global it sets. The file is
 * read from path, or is the len bytes at text when text is not NULL (path then names it).
 * Unknown keys and wrong types are errors.
 */
static int load(struct pl_config *c, const char *path, const char *text, size_t len)
{
	int rc = -1, status;
	struct pl_lua_budget budget = {0, CONFIG_MAX_MEMORY};
	lua_State *L = lua_newstate(pl_lua_alloc, &budget);
	if (!L) {
		fprintf(stderr, "parley: %s: out of memory\n", path);
		return -1;
	}
	if (text) {
		char chunkname[256];
		snprintf(chunkname, sizeof chunkname, "@%s", path);
		status = luaL_loadbufferx(L, text, len, chunkname, "t");
	} else {
		status = luaL_loadfilex(L, path, "t");
	}
	if (status != LUA_OK) {
		lua_failed(L, path, status);
		goto out;
	}
	lua_newtable(L); /* the file's _ENV: its globals land here */
	lua_pushvalue(L, -1);
	lua_setupvalue(L, -3, 1);
	lua_insert(L, -2);
	lua_sethook(L, ran_too_long, LUA_MASKCOUNT, CONFIG_MAX_INSTRUCTIONS);
	status = lua_pcall(L, 0, 0, 0);
	lua_sethook(L, NULL, 0, 0);
	/* reading the globals below allocates outside any pcall: it must not fail for the budget */
	budget.limit = SIZE_MAX;
	if (status != LUA_OK) {
		lua_failed(L, path, status);
		goto out;
	}
	lua_pushnil(L);
	while (lua_next(L, -2)) {
		char buf[4096];
		const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
		if (strcmp(key, "plugins") == 0 || strcmp(key, "plugin_options") == 0) {
			if (key[6] == 's' ? read_plugins(c, L, path)
					  : read_plugin_options(c, L, path))
				goto out;
			lua_pop(L, 1);
			continue;
		}
		/* the lists of extensions are plural in the file: scripts = { ... } */
		bool scripts = strcmp(key, "scripts") == 0;
		const struct option_def *o = scripts ? find_option("script", false) : find_option(key, true);
		if (!o || o->type == OPT_PLUGIN || (o->type == OPT_SCRIPT && !scripts)) {
			fprintf(stderr, "parley: %s: unknown config key '%s'\n", path, key);
			goto out;
		}
		if ((o->type == OPT_NSPS || o->type == OPT_SCRIPT) && lua_istable(L, -1)) {
			lua_Integer n = (lua_Integer)lua_rawlen(L, -1);
			for (lua_Integer i = 1; i <= n; i++) {
				if (lua_geti(L, -1, i) != LUA_TSTRING) {
					fprintf(stderr, "parley: %s: config key '%s' must list strings\n", path,
						key);
					goto out;
				}
				if (apply(c, o, key, lua_tostring(L, -1)))
					goto out;
				lua_pop(L, 1);
			}
		} else {
			int got = lua_value_text(L, -1, o, buf, sizeof buf);
			if (got == -2)
				fprintf(stderr, "parley: %s: config key '%s' is longer than %zu bytes\n",
					path, key, sizeof buf - 1);
			else if (got)
				fprintf(stderr, "parley: %s: config key '%s' has the wrong type (%s)\n",
					path, key, luaL_typename(L, -1));
			if (got || apply(c, o, key, buf))
				goto out;
		}
		lua_pop(L, 1);
	}
	rc = 0;
out:
	lua_close(L);
	return rc;
}

/* Applies the config file at path to c. */
static int load_file(struct pl_config *c, const char *path)
{
	return load(c, path, NULL, 0);
}

int pl_config_load_buffer(struct pl_config *c, const char *text, size_t len, const char *name)
{
	return load(c, name, text, len);
}

/* Whether path names an existing file. */
static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

/* True if the configuration names the script at path itself (by any path to the same file). */
static bool named_script(const struct pl_config *c, const char *path)
{
	char a[PATH_MAX], b[PATH_MAX];
	if (!realpath(path, a))
		return false;
	for (size_t i = 0; i < c->n_scripts; i++)
		if (realpath(c->scripts[i], b) && strcmp(a, b) == 0)
			return true;
	return false;
}

/*
 * Completes the lists of extensions once every source is read: puts the bundled plugins and
 * scripts first (unless turned off; one that does not exist is skipped with a warning, one that
 * the configuration names itself is not added twice), refuses two plugins of one name and
 * missing scripts, and gives each plugin the plugin_options of its name (its inline options
 * win).
 */
static int resolve_extensions(struct pl_config *c)
{
	size_t n_explicit = c->n_plugins;
	if (c->app == PL_APP_CONFORMANCE) {
		/* the protocol suite's setup is a script of its own, with nothing else around it */
		char path[4096];
		snprintf(path, sizeof path, "%s/conformance.lua", pl_config_script_dir);
		char **scripts = NULL;
		size_t n = 0;
		strv_push(&scripts, &n, path);
		for (size_t i = 0; i < c->n_scripts; i++)
			strv_push(&scripts, &n, c->scripts[i]);
		strv_free(c->scripts);
		c->scripts = scripts;
		c->n_scripts = n;
		c->bundled = false;
	}
	if (c->bundled) {
		for (size_t b = 0; b < sizeof bundled_plugins / sizeof *bundled_plugins; b++) {
			const char *name = bundled_plugins[b];
			bool named = false;
			for (size_t i = 0; i < n_explicit; i++)
				named = named || strcmp(c->plugins[i].name, name) == 0;
			char path[4096];
			snprintf(path, sizeof path, "%s/%s.so", pl_config_plugin_dir, name);
			if (named)
				continue;
			if (!exists(path)) {
				pl_warn("bundled plugin %s not found, skipped", path);
				continue;
			}
			add_plugin(c, path, NULL)->bundled = true;
		}
		/* the bundled ones go first, in their own order */
		size_t n_bundled = c->n_plugins - n_explicit;
		if (n_bundled && n_explicit) {
			struct pl_plugin_conf *all = malloc(c->n_plugins * sizeof *all);
			if (!all) {
				fprintf(stderr, "parley: out of memory\n");
				exit(1);
			}
			memcpy(all, c->plugins + n_explicit, n_bundled * sizeof *all);
			memcpy(all + n_bundled, c->plugins, n_explicit * sizeof *all);
			free(c->plugins);
			c->plugins = all;
		}
		char **scripts = NULL;
		size_t n = 0;
		for (size_t b = 0; b < sizeof bundled_scripts / sizeof *bundled_scripts; b++) {
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", pl_config_script_dir,
				 bundled_scripts[b]);
			if (!exists(path))
				pl_warn("bundled script %s not found, skipped", path);
			else if (!named_script(c, path))
				strv_push(&scripts, &n, path);
		}
		for (size_t i = 0; i < c->n_scripts; i++)
			strv_push(&scripts, &n, c->scripts[i]);
		strv_free(c->scripts);
		c->scripts = scripts;
		c->n_scripts = n;
	}
	for (size_t i = 0; i < c->n_scripts; i++) {
		if (!exists(c->scripts[i])) {
			fprintf(stderr, "parley: script %s: %s\n", c->scripts[i], strerror(ENOENT));
			return -1;
		}
	}
	for (size_t i = 0; i < c->n_plugins; i++) {
		struct pl_plugin_conf *p = &c->plugins[i];
		for (size_t j = 0; j < i; j++) {
			if (strcmp(c->plugins[j].name, p->name) == 0) {
				fprintf(
				    stderr,
				    "parley: plugin %s: a plugin named '%s' is loaded already\n",
				    p->path, p->name);
				return -1;
			}
		}
		for (size_t k = 0; k < c->n_plugin_opts; k++) {
			if (strcmp(c->plugin_opts[k].name, p->name) != 0)
				continue;
			size_t n = 0;
			while (p->options[n])
				n++;
			char **kv = c->plugin_opts[k].options;
			for (size_t j = 0; kv[j] && kv[j + 1]; j += 2) {
				if (strv_get(p->options, kv[j]))
					continue;
				strv_push(&p->options, &n, kv[j]);
				strv_push(&p->options, &n, kv[j + 1]);
			}
		}
	}
	return 0;
}

/* Prints the usage text to stdout. */
static void usage(void)
{
	printf("Usage: parley [options]\n"
	       "       parley history ROOM [options]  print stored messages (parley history --help)\n\n"
	       "Parley is a Socket.IO chat server. Options (also config-file keys, with '_' for '-'):\n"
	       "  --config FILE              read options from a Lua file first (key = value lines)\n");
	for (size_t i = 0; i < sizeof options / sizeof *options; i++) {
		const struct option_def *o = &options[i];
		char left[64];
		const char *arg = " N";
		if (o->type == OPT_PLUGIN || o->type == OPT_SCRIPT)
			arg = " PATH";
		else if (o->type == OPT_BOOL)
			arg = "";
		else if (o->type == OPT_STR || o->type == OPT_NSPS || o->type == OPT_LEVEL ||
			 o->type == OPT_APP)
			arg = " VALUE";
		snprintf(left, sizeof left, "--%s%s", o->name, arg);
		printf("  %-26s %s\n", left, o->help);
	}
	printf("  %-26s %s\n  %-26s %s\n", "--help", "print this text", "--version",
	       "print the version");
	printf("\nConfig-file keys for extensions:\n"
	       "  plugins = { \"a.so\", { path = \"b.so\", options = { k = \"v\" } } }\n"
	       "  plugin_options = { name = { k = \"v\" } }\n"
	       "  scripts = { \"a.lua\" }\n"
	       "  bundled = false\n");
}

int pl_config_parse_args(struct pl_config *c, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--config=", 9) == 0) {
			if (load_file(c, argv[i] + 9))
				return -1;
		} else if (strcmp(argv[i], "--config") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "parley: --config: missing file name\n");
				return -1;
			}
			if (load_file(c, argv[i + 1]))
				return -1;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage();
			return 1;
		}
		if (strcmp(a, "--version") == 0) {
			printf("parley %s\n", PARLEY_VERSION_STRING);
			return 1;
		}
		if (strcmp(a, "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(a, "--config=", 9) == 0)
			continue;
		if (strncmp(a, "--", 2) != 0) {
			fprintf(stderr, "parley: unexpected argument '%s' (see --help)\n", a);
			return -1;
		}
		char name[64];
		const char *eq = strchr(a + 2, '=');
		size_t nlen = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nlen >= sizeof name) {
			fprintf(stderr, "parley: unknown option '%s' (see --help)\n", a);
			return -1;
		}
		memcpy(name, a + 2, nlen);
		name[nlen] = '\0';
		const struct option_def *o = find_option(name, false);
		bool negated = false;
		if (!o && !eq && strncmp(name, "no-", 3) == 0) {
			/* --no-NAME turns a boolean option off */
			o = find_option(name + 3, false);
			if (o && o->type != OPT_BOOL)
				o = NULL;
			negated = true;
		}
		if (!o) {
			fprintf(stderr, "parley: unknown option '--%s' (see --help)\n", name);
			return -1;
		}
		const char *value;
		if (negated)
			value = "false";
		else if (eq)
			value = eq + 1;
		else if (o->type == OPT_BOOL)
			value = "true";
		else if (i + 1 < argc)
			value = argv[++i];
		else {
			fprintf(stderr, "parley: --%s: missing value\n", name);
			return -1;
		}
		char key[70];
		snprintf(key, sizeof key, "--%s", name);
		if (apply(c, o, key, value))
			return -1;
	}
	if (!c->client_dist) {
		size_t n = strlen(c->web_root) + 64;
		c->client_dist = malloc(n);
		if (!c->client_dist)
			return -1;
		snprintf(c->client_dist, n, "%s/node_modules/socket.io-client/dist", c->web_root);
	}
	char bad[64];
	if (c->trusted_proxies && !pl_address_list_valid(c->trusted_proxies, bad)) {
		fprintf(stderr, "parley: trusted-proxies: '%s' is not an address or a CIDR range\n",
			bad);
		return -1;
	}
	struct pl_redis_url redis;
	if (c->redis && strncmp(c->redis, "rediss://", 9) == 0) {
		/* Debian 12's hiredis 0.14 has no TLS (no hiredis_ssl): refused rather than sent
		 * in clear text */
		fprintf(stderr, "parley: redis: rediss:// (TLS) is not supported by this build's "
				"hiredis: reach a TLS Redis through a local tunnel and give its "
				"redis://127.0.0.1:PORT (see the README's Clustering section)\n");
		return -1;
	}
	if (c->redis && pl_config_redis_url(c->redis, &redis)) {
		fprintf(stderr,
			"parley: redis: expected redis://[[user]:password@]host:port[/db]\n");
		return -1;
	}
	if (!c->redis_prefix && !(c->redis_prefix = strdup("socket.io")))
		return -1;
	if (!*c->redis_prefix) {
		fprintf(stderr, "parley: redis-prefix: must not be empty\n");
		return -1;
	}
	if (c->cookie && !cookie_name_valid(c->cookie)) {
		fprintf(stderr,
			"parley: cookie: '%s' is not a cookie name (an RFC 6265 token of at "
			"most 64 bytes)\n",
			c->cookie);
		return -1;
	}
	/* with these bounds the Set-Cookie header fits transport.c's buffer */
	if (c->cookie_path[0] != '/' || strlen(c->cookie_path) > 256 ||
	    strpbrk(c->cookie_path, ";") || !printable(c->cookie_path)) {
		fprintf(stderr,
			"parley: cookie-path: must start with '/', without ';' or controls, "
			"at most 256 bytes\n");
		return -1;
	}
	if (c->path[0] != '/' || c->path[strlen(c->path) - 1] != '/') {
		fprintf(stderr, "parley: path: must start and end with '/', got '%s'\n", c->path);
		return -1;
	}
	return resolve_extensions(c);
}

/* Copies n bytes of a URL's user or password to out (size bytes), %XX decoded. Returns 0, or
 * -1 when it is too long, badly escaped or decodes to a NUL. */
static int url_decode(const char *p, size_t n, char *out, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (ch == '%') {
			int hi = i + 2 < n ? pl_hex_digit((unsigned char)p[i + 1]) : -1;
			int lo = i + 2 < n ? pl_hex_digit((unsigned char)p[i + 2]) : -1;
			if (hi < 0 || lo < 0 || hi * 16 + lo == 0)
				return -1;
			ch = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= size)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return 0;
}

int pl_config_redis_url(const char *url, struct pl_redis_url *out)
{
	memset(out, 0, sizeof *out);
	out->port = 6379;
	if (strncmp(url, "redis://", 8) != 0)
		return -1;
	const char *p = url + 8;
	const char *at = strrchr(p, '@');
	if (at) {
		/* [user]:password@, each %XX-escaped as in any URL: a user (Redis 6 ACLs) is sent
		 * as AUTH user password, none as AUTH password (the default user) */
		const char *colon = memchr(p, ':', (size_t)(at - p));
		if (!colon || colon + 1 == at ||
		    url_decode(p, (size_t)(colon - p), out->user, sizeof out->user) ||
		    url_decode(colon + 1, (size_t)(at - colon - 1), out->password,
			       sizeof out->password))
			return -1;
		p = at + 1;
	}
	const char *end;
	if (*p == '[') {
		end = strchr(p, ']');
		if (!end)
			return -1;
		p++;
	} else {
		end = p + strcspn(p, ":/");
	}
	size_t n = (size_t)(end - p);
	if (n == 0 || n >= sizeof out->host)
		return -1;
	memcpy(out->host, p, n);
	p = *end == ']' ? end + 1 : end;
	char *num_end;
	if (*p == ':') {
		long port = strtol(p + 1, &num_end, 10);
		if (num_end == p + 1 || port < 1 || port > 65535)
			return -1;
		out->port = (int)port;
		p = num_end;
	}
	if (*p == '/' && p[1]) {
		long db = strtol(p + 1, &num_end, 10);
		if (num_end == p + 1 || *num_end || db < 0 || db > 1000000)
			return -1;
		out->db = (int)db;
		p = num_end;
	} else if (*p == '/') {
		p++;
	}
	return *p ? -1 : 0;
}
