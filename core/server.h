/*
 * The server object: the event loop, the configuration, and the state of the layers. One per
 * process; every module reaches it through its own objects. The transport keeps its own state
 * private (transport.c); Engine.IO's is the eio member, owned by eio.c.
 */
#ifndef PL_SERVER_H
#define PL_SERVER_H

#include <stdbool.h>
#include <uv.h>

#include "barrier.h"
#include "config.h"
#include "eio.h"
#include "peers.h"

struct pl_sio;
struct pl_history;

struct pl_server {
	uv_loop_t *loop;		  /* the loop everything runs on */
	struct pl_config *cfg;		  /* validated configuration */
	int port;			  /* the port actually bound */
	struct pl_eio_server eio;	  /* Engine.IO sessions and their send machinery (eio.c) */
	struct pl_barrier before_write;	  /* steps run before any frame leaves (history's commit) */
	struct pl_sio *sio;		  /* the Socket.IO layer, NULL in engine-echo mode */
	struct pl_history *history;	  /* the chat history store */
	struct pl_peers peers;		  /* what each client address holds (peers.c) */
	bool stopping;			  /* shutdown in progress */
};

#endif
