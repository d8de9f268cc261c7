/*
 * Server-to-client acks: an emit that asks the client for an answer waits here, with a timeout,
 * until the client's ACK packet, the timeout or the socket's disconnect answers it; the callback
 * hears exactly one of them.
 */
#ifndef PL_ACK_H
#define PL_ACK_H

#include <jansson.h>

#include "parley/plugin.h"

struct pl_socket;

/*
 * Waits for the client's answer to ack id on s for timeout_ms; fn then receives it (NULL on
 * timeout or disconnect), never from within this call. Returns 0 or -ENOMEM.
 */
int pl_ack_await(struct pl_socket *s, long long id, unsigned timeout_ms, parley_ack_fn fn,
		 void *ud);
/* The client answered id with args (borrowed): the waiting callback runs. Unknown ids are ignored. */
void pl_ack_answer(struct pl_socket *s, long long id, json_t *args);
/* Every ack still awaited on s hears "no answer" (NULL) now. */
void pl_ack_cancel_all(struct pl_socket *s);

#endif
