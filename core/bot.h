/*
 * Bots: sockets without a connection. A bot is a struct pl_socket on its own struct pl_client
 * whose sink keeps the frames it is sent and hands them, decoded, to a callback later from the
 * loop (an idle handle), never inside the emit or broadcast that sent them: a bot that answers
 * from inside a broadcast would re-enter the adapter.
 */
#ifndef PL_BOT_H
#define PL_BOT_H

#include <stdbool.h>

#include "nsp.h"
#include "parley/plugin.h"

struct pl_bot;

/*
 * A connected bot in nsp with the identity {userid: "bot:<socket id>", name} (name copied),
 * belonging to owner (any pointer, for pl_bot_free_owner). fn receives each event sent to it.
 * NULL without memory.
 */
struct pl_bot *pl_bot_new(struct pl_nsp *nsp, void *owner, const char *name, parley_bot_fn fn,
			  void *ud);
/* Takes the bot out of its namespace and frees it (its queued frames are dropped). */
void pl_bot_free(struct pl_bot *b);
/* Frees every bot of owner. */
void pl_bot_free_owner(void *owner);
/* The bot's socket. */
struct pl_socket *pl_bot_socket(struct pl_bot *b);
/* The bot of a socket, or NULL for a socket with a connection. */
struct pl_bot *pl_bot_of(const struct pl_socket *s);

/* True for a bot's socket (also after the bot was freed). */
bool pl_socket_is_bot(const struct pl_socket *s);

#endif
