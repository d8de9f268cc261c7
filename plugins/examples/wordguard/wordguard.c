/* wordguard: refuses chat messages that contain a configured word (options: word, reason). */
#include <errno.h>
#include <parley/plugin.h>
#include <stdio.h>
#include <string.h>

static const struct parley_api *api;
static char word[128], reason[256];

static enum parley_verdict on_chat(enum parley_hook hook, void *evt, void *owner)
{
	struct parley_evt_message *m = evt;
	const char *text = json_string_value(json_object_get(json_array_get(m->args, 0), "msg"));
	(void)hook;
	if (!text || !strstr(text, word))
		return PARLEY_PASS;
	api->log(owner, PARLEY_LOG_INFO, "refused a message from %s", api->socket_id(m->socket));
	json_decref(m->reject);
	m->reject = json_pack("[{sbss}]", "ok", 0, "error", reason);
	return PARLEY_REJECT;
}

PARLEY_EXPORT int parley_plugin_version(int n_versions, const int *versions)
{
	for (int i = 0; i < n_versions; i++)
		if (versions[i] == PARLEY_API_VERSION)
			return PARLEY_API_VERSION;
	return -1;
}

PARLEY_EXPORT int parley_plugin_init(const struct parley_api *host, parley_owner *owner,
				     const char *const *options)
{
	api = host;
	word[0] = '\0';
	snprintf(reason, sizeof reason, "that word is not allowed here");
	for (size_t i = 0; options[i] && options[i + 1]; i += 2) {
		if (strcmp(options[i], "word") == 0)
			snprintf(word, sizeof word, "%s", options[i + 1]);
		else if (strcmp(options[i], "reason") == 0)
			snprintf(reason, sizeof reason, "%s", options[i + 1]);
	}
	if (!word[0]) {
		api->log(owner, PARLEY_LOG_ERROR, "the option 'word' is required");
		return -EINVAL;
	}
	return api->hook_add(owner, PARLEY_HOOK_APP, "/", "chat", PARLEY_PRIO_FILTER, on_chat,
			     owner);
}
