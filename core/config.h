/*
 * Server configuration: embedded defaults, then a Lua config file (--config), then command-line
 * options, each later source overriding the earlier. Every value is validated; an invalid one
 * names its key.
 */
#ifndef PL_CONFIG_H
#define PL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

enum pl_app { PL_APP_CHAT, PL_APP_CONFORMANCE, PL_APP_ENGINE_ECHO };

#define PL_CONFIG_MAX_NSP 16

/* A plugin to load: its file and its options. */
struct pl_plugin_conf {
	char *path;	/* the .so file */
	char *name;	/* its name: the file name without directory and ".so" */
	char **options; /* key, value, ..., NULL (never NULL itself) */
	bool bundled;	/* one of the bundled plugins (PARLEY_PLUGIN_DIR) */
};

/* Options for a plugin by name (config key plugin_options). */
struct pl_plugin_opts {
	char *name;	/* the plugin's name */
	char **options; /* key, value, ..., NULL */
};

struct pl_config {
	char *host;		/* listen address */
	int port;		/* listen port, 0 for an ephemeral one */
	char *web_root;		/* directory served at / */
	char *client_dist;	/* directory holding socket.io-client's dist/ files */
	char *db_path;		/* SQLite history file */
	char *path;		/* Engine.IO path, "/socket.io/" */
	unsigned ping_interval; /* ms between server pings */
	unsigned ping_timeout;	/* ms to wait for a pong */
	size_t max_payload;	/* largest message or polling body, bytes */
	unsigned connect_timeout; /* ms allowed between handshake and the first CONNECT */
	unsigned attachments_timeout; /* ms a binary packet's attachments may take */
	unsigned ack_timeout;	/* ms a server-to-client ack waits */
	size_t max_send_queue;	/* queued bytes after which a slow consumer is disconnected */
	size_t max_connections; /* Engine.IO sessions at once */
	size_t max_sessions_per_address;     /* sessions of one client address, 0: no limit */
	unsigned max_handshakes_per_address; /* new sessions per second of one address, 0: none */
	size_t max_connections_per_address;  /* TCP connections of one address, 0: no limit */
	char *trusted_proxies;		     /* addresses and ranges, NULL for none */
	size_t max_rooms;	/* rooms one socket may be in at once */
	size_t max_room_name;	/* longest room name, bytes */
	char *cors_origins;	/* comma-separated allowed origins, "*" for any, NULL for none */
	bool cors_credentials;	/* send Access-Control-Allow-Credentials */
	char *cookie;		/* name of the session id cookie of the handshake, NULL: none */
	char *cookie_path;	/* its Path attribute ("/") */
	unsigned history_replay; /* messages replayed on login and join, 0 for none */
	unsigned history_keep;	/* messages kept per room, 0 for all */
	size_t history_max_bytes; /* cap on the history file's size, 0 for none */
	size_t history_replay_bytes; /* bytes a replay or history page carries at most */
	bool history;		/* the chat application stores messages (default true) */
	unsigned history_max_age; /* seconds a message is kept, 0 for no limit */
	size_t history_room_bytes; /* bytes of messages kept per room, 0 for no limit */
	unsigned history_retention_interval; /* ms between retention steps when caught up */
	unsigned recovery_window; /* ms a disconnected socket may be recovered, 0 turns it off */
	size_t max_message_bytes; /* longest chat or private text, bytes */
	size_t max_name_bytes;	/* longest login name, bytes */
	int log_level;		/* enum pl_log_level */
	enum pl_app app;	/* built-in application */
	char *namespaces[PL_CONFIG_MAX_NSP]; /* namespaces served besides "/" */
	size_t n_namespaces;	/* entries used in namespaces */
	bool bundled;		/* load the bundled plugins and scripts (default true) */
	struct pl_plugin_conf *plugins;	    /* plugins to load, in order (bundled ones first) */
	size_t n_plugins;		    /* entries in plugins */
	struct pl_plugin_opts *plugin_opts; /* plugin_options of the config file */
	size_t n_plugin_opts;		    /* entries in plugin_opts */
	char **scripts;			    /* Lua scripts to load, in order (bundled ones first) */
	size_t n_scripts;		    /* entries in scripts */
	char *redis;			    /* redis://[[user]:password@]host:port[/db], NULL: alone */
	char *redis_prefix;		    /* the adapter's channel prefix ("socket.io") */
	size_t redis_history_length;	    /* entries the history stream keeps (MAXLEN ~) */
};

/* A Redis server address, from a redis:// URL. */
struct pl_redis_url {
	char host[256];	    /* host name or address */
	int port;	    /* TCP port */
	char user[256];	    /* an ACL user name, "" for the default user */
	char password[256]; /* "" for none */
	int db;		    /* database number */
};

/*
 * Parses redis://[[user]:password@]host[:port][/db] (port 6379 and db 0 by default; an IPv6
 * address in brackets; user and password %XX-decoded). Returns 0, or -1 when it is not such a
 * URL.
 */
int pl_config_redis_url(const char *url, struct pl_redis_url *out);

/* Fills c with the embedded defaults. */
int pl_config_init(struct pl_config *c);

/*
 * Applies argv: options and, first, the file named by --config. Returns 0 to run, 1 when the
 * program should exit successfully (--help, --version), or -1 after printing an error.
 */
int pl_config_parse_args(struct pl_config *c, int argc, char **argv);

/*
 * Applies a config file's text (len bytes, Lua; name is what errors call it) to c, as --config
 * applies the file it names: bounded in instructions and memory, so a loop that does not end
 * is an error. Returns 0, or -1 after printing an error. Used by the fuzzer.
 */
int pl_config_load_buffer(struct pl_config *c, const char *text, size_t len, const char *name);

/*
 * The bundled plugins' directory and scripts' directory (compiled in; tests point them
 * elsewhere).
 */
extern const char *pl_config_plugin_dir;
extern const char *pl_config_script_dir;

/* Releases the strings held by c. */
void pl_config_close(struct pl_config *c);

#endif
