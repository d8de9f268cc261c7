/*
 * The reference setups of the official protocol test suites. Socket.IO: namespaces "/" and
 * "/custom"; on connection each emits "auth" with the handshake's auth payload; on "/",
 * "message" comes back as "message-back" with the same arguments and "message-with-ack" is
 * acknowledged with its arguments. Engine.IO: every message is echoed, text as text and binary
 * as binary.
 */
#include <string.h>

#include "apps.h"
#include "server.h"
#include "sio.h"

static enum pl_verdict on_connection(struct pl_event *ev, void *ud)
{
	(void)ud;
	json_t *empty = json_object();
	pl_socket_emit1(ev->socket, "auth", ev->socket->auth ? ev->socket->auth : empty);
	json_decref(empty);
	return PL_PASS;
}

static enum pl_verdict on_message(struct pl_event *ev, void *ud)
{
	(void)ud;
	json_t *payload = json_pack("[s]", "message-back");
	json_array_extend(payload, ev->args);
	struct pl_message m = {payload, ev->attachments, ev->n_attachments};
	pl_socket_emit(ev->socket, &m, NULL, NULL);
	json_decref(payload);
	return PL_DONE;
}

static enum pl_verdict on_message_with_ack(struct pl_event *ev, void *ud)
{
	(void)ud;
	if (ev->ack_id >= 0)
		pl_socket_ack(ev->socket, ev->ack_id, ev->args, ev->attachments, ev->n_attachments);
	return PL_DONE;
}

int pl_app_conformance_init(struct pl_server *srv)
{
	struct pl_nsp *root = pl_sio_nsp(srv, "/", true), *custom = pl_sio_nsp(srv, "/custom", true);
	if (!root || !custom)
		return -1;
	if (pl_nsp_on_event(root, "connection", 100, on_connection, NULL) ||
	    pl_nsp_on_event(custom, "connection", 100, on_connection, NULL) ||
	    pl_nsp_on_event(root, "message", 100, on_message, NULL) ||
	    pl_nsp_on_event(root, "message-with-ack", 100, on_message_with_ack, NULL))
		return -1;
	return 0;
}
