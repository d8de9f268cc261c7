/*
 * The reference setup of the official Socket.IO protocol test suite, written against the public
 * extension API alone: namespaces "/" and "/custom"; on connection each emits "auth" with the
 * handshake's auth payload; on "/", "message" comes back as "message-back" with the same
 * arguments (and attachments) and "message-with-ack" is acknowledged with its arguments.
 */
#include <errno.h>
#include <stddef.h>

#include <jansson.h>

#include "apps.h"

static const struct parley_api *api; /* the host's table, set by pl_app_conformance_init */

/* A socket connected to "/" or "/custom": it hears its CONNECT auth payload ({} without one). */
static enum parley_verdict on_connected(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_socket *e = evt;
	json_t *auth = api->socket_auth(e->socket);
	json_t *payload = json_pack("[so]", "auth", auth ? json_incref(auth) : json_object());
	if (payload) {
		struct parley_message m = {.payload = payload};
		api->emit(e->socket, &m, NULL, NULL);
		json_decref(payload);
	}
	return PARLEY_PASS;
}

static enum parley_verdict on_message(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	json_t *payload = json_pack("[s]", "message-back");
	json_array_extend(payload, ev->args);
	struct parley_message m = {payload, ev->attachments, ev->n_attachments};
	api->emit(ev->socket, &m, NULL, NULL);
	json_decref(payload);
	return PARLEY_HANDLED;
}

static enum parley_verdict on_message_with_ack(enum parley_hook hook, void *evt, void *ud)
{
	(void)hook;
	(void)ud;
	struct parley_evt_message *ev = evt;
	if (ev->ack_id >= 0)
		api->ack(ev->socket, ev->ack_id, ev->args, ev->attachments, ev->n_attachments);
	return PARLEY_HANDLED;
}

int pl_app_conformance_init(const struct parley_api *table, parley_owner *owner)
{
	api = table;
	/* both namespaces exist from the start, so that clients can connect to them */
	if (!api->nsp_get("/", true) || !api->nsp_get("/custom", true))
		return -ENOMEM;
	int rc;
	if ((rc = api->hook_add(owner, PARLEY_HOOK_CONNECTED, "/", NULL, PARLEY_PRIO_APP,
				on_connected, NULL)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_CONNECTED, "/custom", NULL, PARLEY_PRIO_APP,
				on_connected, NULL)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_EVENT, "/", "message", PARLEY_PRIO_APP,
				on_message, NULL)) ||
	    (rc = api->hook_add(owner, PARLEY_HOOK_EVENT, "/", "message-with-ack", PARLEY_PRIO_APP,
				on_message_with_ack, NULL)))
		return rc;
	return 0;
}
