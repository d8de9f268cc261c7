/*
 * The extension API's host side: the struct parley_api table over the server's objects, and
 * owners (a built-in application, a plugin, a script) that own hooks, timers and per-socket
 * values, all released with the owner. It also drives the TICK hook once a second.
 */
#ifndef PL_API_H
#define PL_API_H

#include "parley/plugin.h"

struct pl_server;

/* Binds the table to srv (after pl_sio_init) and starts the tick. Returns 0 or -ENOMEM. */
int pl_api_init(struct pl_server *srv);
/* Stops the tick (before the loop's last run). */
void pl_api_close(void);
/* The function table (valid after pl_api_init). */
const struct parley_api *pl_api(void);

/* A new owner named name (copied); NULL without memory. */
parley_owner *pl_owner_new(const char *name);
/* Removes the owner's hooks, timers and per-socket values, then frees it. NULL is a no-op. */
void pl_owner_free(parley_owner *o);

#endif
