/*
 * The Engine.IO echo: the reference setup of the official Engine.IO test suite, installed in
 * place of the Socket.IO layer. Every message is sent back, text as text and binary as binary.
 */
#ifndef PL_EIO_ECHO_H
#define PL_EIO_ECHO_H

struct pl_server;

/* Installs the echo as the layer above Engine.IO. Returns 0 or a negative errno. */
int pl_eio_echo_init(struct pl_server *srv);

#endif
