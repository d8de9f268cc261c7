/*
 * The built-in applications, written against the public extension API like any plugin: the
 * tutorial chat (with Parley's documented chat protocol) and the reference setup of the official
 * Socket.IO protocol test suite.
 */
#ifndef PL_APPS_H
#define PL_APPS_H

#include "parley/plugin.h"

/* Registers the chat application on "/" and "/chat" for owner. Returns 0 or an error. */
int pl_app_chat_init(const struct parley_api *api, parley_owner *owner);

#endif
