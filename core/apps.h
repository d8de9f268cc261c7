/*
 * The built-in applications, registered on the Socket.IO dispatch point like any extension:
 * the tutorial chat (with Parley's documented chat protocol), the reference setup of the
 * official Socket.IO protocol test suite, and an Engine.IO echo for the Engine.IO suite.
 */
#ifndef PL_APPS_H
#define PL_APPS_H

struct pl_server;

/* Registers the chat application on "/" and "/chat". Returns 0 or a negative errno. */
int pl_app_chat_init(struct pl_server *srv);
/* Registers the Socket.IO conformance application on "/" and "/custom". */
int pl_app_conformance_init(struct pl_server *srv);
/* Installs the Engine.IO echo in place of the Socket.IO layer. */
int pl_app_engine_echo_init(struct pl_server *srv);

#endif
