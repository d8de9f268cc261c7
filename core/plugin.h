/*
 * Loadable C plugins: each .so named by the configuration is opened with dlopen, agrees on an
 * API version with the host, and is initialised with the host's function table, an owner of its
 * own and its options. A SIGHUP re-initialises every plugin with new options; shutdown unloads
 * them before the Socket.IO layer goes.
 */
#ifndef PL_PLUGIN_H
#define PL_PLUGIN_H

#include "config.h"

/*
 * Loads the plugins of cfg in order (after pl_api_init). The first refusal is logged as one line
 * naming the file and the reason (not loadable, not a plugin, wrong API version, init failed)
 * and ends the loading: returns -1, and the caller still calls pl_plugins_unload.
 */
int pl_plugins_load(const struct pl_config *cfg);

/*
 * Re-initialises every loaded plugin with its options in cfg (matched by name; none when cfg
 * no longer names it): cleanup, a new owner, init. The .so stays loaded. A plugin whose init
 * fails is logged and stays inactive until the next reload. Never call it from a hook.
 */
void pl_plugins_reload(const struct pl_config *cfg);

/* Unloads every plugin: cleanup, its owner freed, dlclose. */
void pl_plugins_unload(void);

/* Plugins loaded (active or not). */
size_t pl_plugins_count(void);

#endif
