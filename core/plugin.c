/*
 * The plugin loader (see plugin.h). A plugin is a .so exporting parley_plugin_version,
 * parley_plugin_init and, optionally, parley_plugin_cleanup (Mosquitto's three entry points). It
 * is opened RTLD_NOW | RTLD_LOCAL: every symbol it needs resolves at load, and none of its own
 * leaks into the next plugin. It sees the host only through the function table of pl_api().
 */
#include "plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "error.h"
#include "log.h"

typedef int (*version_fn)(int n_versions, const int *versions);
typedef int (*init_fn)(const struct parley_api *api, parley_owner *owner,
		       const char *const *options);
typedef void (*cleanup_fn)(const struct parley_api *api, parley_owner *owner);

struct plugin {
	char *path;	     /* the file as configured */
	char *name;	     /* the owner's name */
	void *dl;	     /* dlopen's handle */
	init_fn init;	     /* parley_plugin_init */
	cleanup_fn cleanup;  /* parley_plugin_cleanup, or NULL */
	parley_owner *owner; /* while initialised, else NULL */
};

static const int host_versions[] = {PARLEY_API_VERSION}; /* the API versions offered */
#define N_VERSIONS ((int)(sizeof host_versions / sizeof *host_versions))

static struct plugin *plugins; /* loaded plugins, in load order */
static size_t n_plugins;       /* entries in plugins */

/* Formats the offered versions ("1" or "1, 2") into buf. */
static const char *offered(char *buf, size_t n)
{
	size_t len = 0;
	buf[0] = '\0';
	for (int i = 0; i < N_VERSIONS && len < n; i++) {
		const char *sep = i ? ", " : "";
		len += (size_t)snprintf(buf + len, n - len, "%s%d", sep, host_versions[i]);
	}
	return buf;
}

/*
 * Looks a symbol of dl up, dlerror cleared first. POSIX guarantees that the result converts to
 * a function pointer; load() copies it with memcpy, which ISO C accepts without a warning.
 */
static void *sym(void *dl, const char *name)
{
	dlerror();
	return dlsym(dl, name);
}

/* Gives p a new owner and runs its init with options. Returns 0 or logs and returns -1. */
static int start(struct plugin *p, const char *const *options)
{
	p->owner = pl_owner_new(p->name);
	if (!p->owner) {
		pl_error("plugin %s: init failed: %s", p->path, pl_strerror(-ENOMEM));
		return -1;
	}
	int err = p->init(pl_api(), p->owner, options);
	if (err) {
		/* a failed init is not followed by cleanup: the plugin undid its own work */
		pl_error("plugin %s: init failed: %s", p->path,
			 pl_strerror(err < 0 ? err : -EINVAL));
		pl_owner_free(p->owner);
		p->owner = NULL;
		return -1;
	}
	return 0;
}

/* Runs p's cleanup and frees its owner (its hooks, timers and socket values). */
static void stop(struct plugin *p)
{
	if (!p->owner)
		return;
	if (p->cleanup)
		p->cleanup(pl_api(), p->owner);
	pl_owner_free(p->owner);
	p->owner = NULL;
}

/* Opens and checks one plugin; on success it is appended to plugins, initialised. */
static int load(const struct pl_plugin_conf *pc)
{
	char dlpath[4096];
	/* a bare file name would make dlopen search the library path, not the current directory */
	snprintf(dlpath, sizeof dlpath, "%s%s", strchr(pc->path, '/') ? "" : "./", pc->path);
	void *dl = dlopen(dlpath, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		const char *why = dlerror();
		pl_error("plugin %s: not loadable: %s", pc->path, why ? why : "unknown error");
		return -1;
	}
	version_fn version;
	init_fn init;
	cleanup_fn cleanup;
	void *v = sym(dl, "parley_plugin_version"), *i = sym(dl, "parley_plugin_init");
	void *c = sym(dl, "parley_plugin_cleanup");
	if (!v || !i) {
		pl_error("plugin %s: not a plugin: it does not export %s", pc->path,
			 !v ? "parley_plugin_version" : "parley_plugin_init");
		goto out_close;
	}
	memcpy(&version, &v, sizeof version);
	memcpy(&init, &i, sizeof init);
	memcpy(&cleanup, &c, sizeof cleanup);
	int picked = version(N_VERSIONS, host_versions);
	bool ok = false;
	for (int k = 0; k < N_VERSIONS; k++)
		ok = ok || picked == host_versions[k];
	if (!ok) {
		char buf[64];
		pl_error("plugin %s: wrong API version: offered %s, it answered %d", pc->path,
			 offered(buf, sizeof buf), picked);
		goto out_close;
	}
	struct plugin *np = realloc(plugins, (n_plugins + 1) * sizeof *np);
	if (!np)
		goto out_nomem;
	plugins = np;
	struct plugin *p = &plugins[n_plugins];
	*p = (struct plugin){.dl = dl, .init = init, .cleanup = cleanup};
	p->path = strdup(pc->path);
	p->name = strdup(pc->name);
	if (!p->path || !p->name) {
		free(p->path);
		free(p->name);
		goto out_nomem;
	}
	n_plugins++;
	if (start(p, (const char *const *)pc->options))
		return -1; /* stays listed, uninitialised: unload closes it */
	pl_info("plugin %s loaded (API version %d)", p->name, picked);
	return 0;
out_nomem:
	pl_error("plugin %s: %s", pc->path, pl_strerror(-ENOMEM));
out_close:
	dlclose(dl);
	return -1;
}

int pl_plugins_load(const struct pl_config *cfg)
{
	for (size_t i = 0; i < cfg->n_plugins; i++)
		if (load(&cfg->plugins[i]))
			return -1;
	return 0;
}

void pl_plugins_reload(const struct pl_config *cfg)
{
	static const char *const none[] = {NULL};
	for (size_t i = 0; i < n_plugins; i++) {
		struct plugin *p = &plugins[i];
		const char *const *options = none;
		for (size_t k = 0; k < cfg->n_plugins; k++)
			if (strcmp(cfg->plugins[k].name, p->name) == 0)
				options = (const char *const *)cfg->plugins[k].options;
		stop(p);
		if (start(p, options) == 0)
			pl_info("plugin %s reloaded", p->name);
		else
			pl_warn("plugin %s stays unloaded until the next reload", p->name);
	}
}

void pl_plugins_unload(void)
{
	/* in reverse order of loading, as a stack of layers is taken down */
	for (size_t i = n_plugins; i-- > 0;) {
		struct plugin *p = &plugins[i];
		stop(p);
		dlclose(p->dl);
		free(p->path);
		free(p->name);
	}
	free(plugins);
	plugins = NULL;
	n_plugins = 0;
}

size_t pl_plugins_count(void)
{
	return n_plugins;
}
