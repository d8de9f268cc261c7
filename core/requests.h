/*
 * The extension API's cluster operations: requests that every server of the cluster answers
 * (fetch sockets, rooms, the number of servers, server-side emits with answers) and commands
 * they all carry out (join, leave, disconnect, server-side emits). This server's part is done at
 * once, the others' through the namespace's adapter; a server alone is a cluster of one. Each
 * request belongs to an extension's owner and is answered once, later.
 */
#ifndef PL_REQUESTS_H
#define PL_REQUESTS_H

#include <stdbool.h>
#include <stdint.h>

#include "adapter.h"
#include "parley/plugin.h"

struct pl_nsp;

/* What the servers answer: see cluster_fetch, cluster_rooms, cluster_servers, cluster_emit in
 * parley/plugin.h. t is read for PL_ASK_FETCH only, m for PL_ASK_EMIT only. */
parley_request *pl_request_start(parley_owner *o, struct pl_nsp *nsp, enum pl_ask_kind kind,
				 const struct parley_target *t, const struct parley_message *m,
				 uint64_t timeout_ms, parley_answers_fn fn, void *ud);
/* Forgets a request: its fn is not called. */
void pl_request_cancel(parley_request *r);
/* Forgets every request of o (its owner is going). */
void pl_requests_drop_owner(parley_owner *o);

/* Carries out kind (join or leave room, disconnect, the server-side emit m) on the target's
 * sockets here and on every other server. Returns 0 or an error. */
int pl_request_tell(struct pl_nsp *nsp, enum pl_tell_kind kind, const struct parley_target *t,
		    const char *room, bool close, const struct parley_message *m);

#endif
