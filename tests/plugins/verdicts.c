/*
 * A test plugin that turns chat text into hook verdicts, modifications and routing, so that the
 * end-to-end tests can drive every case through a C plugin (tests/e2e/verdicts.test.js; the
 * same cases run through a Lua script, tests/e2e/fixtures/lua/chat-verdicts.lua). A chat
 * message whose text starts with a command is handled by the "chat" application hook:
 *   #pass T     PASS                #accept T   HANDLED (the later hook does not run)
 *   #drop T     DROP                #reject T   REJECT, reason "rejected by the test"
 *   #kick T     DISCONNECT          #upper T    the text in capitals, then PASS
 *   #room R T   also to room R      #user U T   also to user U's sockets
 *   #skip ID T  not to socket ID    #nostore T  delivered, not stored
 * A second hook, later in priority order, appends " (seen)" to every text it sees, which shows
 * whether the pipeline went on after the first.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "parley/plugin.h"

static const struct parley_api *api;

PARLEY_EXPORT int parley_plugin_version(int n, const int *versions)
{
	for (int i = 0; i < n; i++)
		if (versions[i] == PARLEY_API_VERSION)
			return PARLEY_API_VERSION;
	return -1;
}

/* Appends the string s to the route's array *list, creating it. */
static void route_add(json_t **list, const char *s, size_t n)
{
	if (!*list)
		*list = json_array();
	json_array_append_new(*list, json_stringn(s, n));
}

/* Sets the message text to text (n bytes). */
static void set_msg(json_t *data, const char *text, size_t n)
{
	json_object_set_new(data, "msg", json_stringn(text, n));
}

static enum parley_verdict on_chat(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	json_t *data = json_array_get(ev->args, 0);
	const char *msg = json_string_value(json_object_get(data, "msg"));
	if (!msg || msg[0] != '#')
		return PARLEY_PASS;
	const char *arg = strchr(msg, ' ');
	size_t cmd = arg ? (size_t)(arg - msg) : strlen(msg);
	arg = arg ? arg + 1 : "";
#define IS(word) (cmd == sizeof(word) - 1 && strncmp(msg, word, cmd) == 0)
	if (IS("#pass"))
		return PARLEY_PASS;
	if (IS("#accept"))
		return PARLEY_HANDLED;
	if (IS("#drop"))
		return PARLEY_DROP;
	if (IS("#reject") || IS("#kick")) {
		ev->reject = json_pack("[{sbss}]", "ok", 0, "error", "rejected by the test");
		return IS("#kick") ? PARLEY_DISCONNECT : PARLEY_REJECT;
	}
	if (IS("#upper")) {
		char *up = strdup(msg);
		for (char *p = up; up && *p; p++)
			*p = (char)toupper((unsigned char)*p);
		if (up)
			set_msg(data, up, strlen(up));
		free(up);
		return PARLEY_PASS;
	}
	if (!ev->route)
		return PARLEY_PASS;
	const char *sp = strchr(arg, ' ');
	size_t n = sp ? (size_t)(sp - arg) : strlen(arg);
	if (IS("#room"))
		route_add(&ev->route->to_rooms, arg, n);
	else if (IS("#user"))
		route_add(&ev->route->to_users, arg, n);
	else if (IS("#skip"))
		route_add(&ev->route->skip, arg, n);
	else if (IS("#nostore"))
		ev->route->no_store = true;
#undef IS
	return PARLEY_PASS;
}

/* Later in the pipeline: marks what it saw. */
static enum parley_verdict on_chat_later(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	json_t *data = json_array_get(ev->args, 0);
	const char *msg = json_string_value(json_object_get(data, "msg"));
	if (msg && msg[0] == '#') {
		size_t n = strlen(msg);
		char *seen = malloc(n + 8);
		if (seen) {
			memcpy(seen, msg, n);
			memcpy(seen + n, " (seen)", 8);
			set_msg(data, seen, n + 7);
			free(seen);
		}
	}
	return PARLEY_PASS;
}

PARLEY_EXPORT int parley_plugin_init(const struct parley_api *host, parley_owner *owner,
				     const char *const *options)
{
	(void)options;
	api = host;
	int rc = api->hook_add(owner, PARLEY_HOOK_APP, NULL, "chat", PARLEY_PRIO_FILTER, on_chat,
			       NULL);
	if (rc == 0)
		rc = api->hook_add(owner, PARLEY_HOOK_APP, NULL, "chat", PARLEY_PRIO_FILTER + 50,
				   on_chat_later, NULL);
	return rc;
}
