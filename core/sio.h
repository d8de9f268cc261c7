/*
 * The Socket.IO v5 protocol layer: one client per Engine.IO session, packets decoded and
 * answered, binary attachments reassembled, and every CONNECT, client event and disconnect
 * handed to the hook pipeline, where the built-in applications, plugins and scripts register.
 * The data model is in nsp.h, sockets in socket.h, rooms and broadcast in adapter.h.
 */
#ifndef PL_SIO_H
#define PL_SIO_H

#include <jansson.h>
#include <stdbool.h>

#include "adapter.h"

struct pl_server;
struct pl_nsp;
struct pl_socket;
struct pl_frame;

/* Initialises the layer (with its hook pipeline) and registers it as the Engine.IO handler. */
int pl_sio_init(struct pl_server *srv);
/* Frees namespaces, rooms and the pipeline (after every session closed). NULL sio: a no-op. */
void pl_sio_close(struct pl_server *srv);
/*
 * Makes fn(nsp, ud) the adapter of every namespace (a cluster's): those created so far, still
 * empty, get theirs now. Call before any client connects. Returns 0 or -ENOMEM.
 */
int pl_sio_set_adapter(struct pl_server *srv, pl_adapter_new_fn fn, void *ud);

/* Returns the namespace, creating it when create is set; NULL if absent or out of memory. */
struct pl_nsp *pl_sio_nsp(struct pl_server *srv, const char *name, bool create);

/*
 * Runs a client event of s (name, args borrowed, attachments) through the EVENT hooks and acts
 * on the verdict as for a packet from the client: REJECT and DISCONNECT answer ack_id (when >=
 * 0), DISCONNECT then disconnects s. Returns 0, or -EPIPE when s is not connected.
 */
int pl_sio_dispatch(struct pl_socket *s, const char *name, json_t *args, struct pl_frame **att,
		    unsigned n_att, long long ack_id);

#endif
