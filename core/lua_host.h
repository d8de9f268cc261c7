/*
 * Sandboxed Lua scripts: one lua_State per script, on the extension API like a plugin (every
 * hook, timer and bot belongs to the script's owner). A state has only the base (without load,
 * dofile, loadfile, loadstring, require; collectgarbage only "count"), string (without dump),
 * table, math, utf8 and coroutine libraries, loads source text only, allocates within a memory
 * cap and runs each call from C under an instruction budget; once the budget is spent every
 * further instruction raises, so pcall cannot hold control. Errors are logged with a traceback
 * and the script's name; a script that keeps failing is disabled (one log line) and the server
 * goes on. The Lua API (parley.*) is described in README.md and at the top of lua_host.c.
 */
#ifndef PL_LUA_HOST_H
#define PL_LUA_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include "parley/plugin.h"

struct pl_server;
struct pl_script;

/* The limits of one script. */
struct pl_script_limits {
	size_t max_memory;	/* bytes the state may hold (default 32 MiB) */
	unsigned long budget;	/* VM instructions per call from C (default 10 million) */
	size_t max_string;	/* longest string handed to the script (default 1 MiB) */
	unsigned max_errors;	/* errors in a row that disable it (default 10) */
	unsigned max_exhausted; /* budget exhaustions within a minute that disable it (default 5) */
};

/* The defaults above. */
void pl_script_limits_default(struct pl_script_limits *l);

/*
 * Loads a script named name (for log lines) from src (source text, never bytecode) on api for
 * owner, and runs its top level. NULL on failure, with *err (when err is not NULL) a malloc'd
 * reason that the caller frees.
 */
struct pl_script *pl_script_new(const struct parley_api *api, parley_owner *owner, const char *name,
				const char *src, size_t len, const struct pl_script_limits *lim,
				char **err);
/* Frees the state and the script's own records (its owner's hooks are the caller's to remove). */
void pl_script_free(struct pl_script *sc);
/*
 * Calls the global function fn of the script with no arguments, as a hook call is made (budget,
 * traceback, failure count). Returns 0, or -1 when it failed or the script is disabled.
 */
int pl_script_call(struct pl_script *sc, const char *fn);
/* True once the script has been disabled. */
bool pl_script_disabled(const struct pl_script *sc);
/* Bytes its state holds. */
size_t pl_script_memory(const struct pl_script *sc);

/*
 * Loads the scripts of paths (each with its own owner) on srv's API. Returns 0, or -1 after
 * logging which file failed and why (the caller exits).
 */
int pl_scripts_start(struct pl_server *srv, char *const *paths, size_t n);
/*
 * Reloads every script from its file: the new version is compiled and its top level run first;
 * if that fails the old one keeps running (logged). Otherwise the old one's on_save() result is
 * handed to the new one's on_restore(state) (as JSON), and the old one is freed with its owner.
 */
void pl_scripts_reload(void);
/* Frees every script and its owner (before the Socket.IO layer goes). */
void pl_scripts_stop(void);

#endif
