/*
 * The built-in applications, registered on the Socket.IO dispatch point like any extension:
 * the tutorial chat (with Parley's documented chat protocol) and the reference setup of the
 * official Socket.IO protocol test suite. (The Engine.IO suite's echo is in eio_echo.h.)
 */
#ifndef PL_APPS_H
#define PL_APPS_H

struct pl_server;

/* Registers the chat application on "/" and "/chat". Returns 0 or a negative errno. */
int pl_app_chat_init(struct pl_server *srv);
/* Registers the Socket.IO conformance application on "/" and "/custom". */
int pl_app_conformance_init(struct pl_server *srv);

#endif
