/*
 * The server object: the event loop, the configuration, the libwebsockets context and the
 * tables of the layers. One per process; every module reaches it through its own objects.
 */
#ifndef PL_SERVER_H
#define PL_SERVER_H

#include <stdbool.h>
#include <uv.h>

#include "config.h"
#include "deadline.h"
#include "eio.h"
#include "map.h"

struct lws_context;
struct lws_vhost;
struct pl_sio;
struct pl_history;

/* A WebSocket close scheduled outside its callbacks, with the status its close frame carries. */
struct pl_pending_close {
	struct lws *wsi; /* the connection */
	int status;	 /* RFC 6455 close status */
};

struct pl_server {
	uv_loop_t *loop;		  /* the loop everything runs on */
	struct pl_config *cfg;		  /* validated configuration */
	struct lws_context *lws;	  /* libwebsockets context on our loop */
	struct lws_vhost *vhost;	  /* the listening vhost */
	int port;			  /* the port actually bound */
	struct pl_map sessions;		  /* sid -> struct pl_eio */
	struct pl_deadlines deadlines;	  /* the sessions' heartbeat deadlines */
	struct pl_eio_handler handler;	  /* the layer above Engine.IO */
	struct pl_sio *sio;		  /* the Socket.IO layer, NULL in engine-echo mode */
	struct pl_history *history;	  /* the chat history store */
	struct pl_eio **flush;		  /* WebSocket sessions with frames to send this iteration */
	size_t n_flush, cap_flush;	  /* entries used and allocated in flush */
	uv_check_t *flusher;		  /* sends them after the I/O phase of each loop iteration */
	uv_idle_t *flush_soon;		  /* ...or before the next poll, for frames queued by timers */
	unsigned char *wbuf;		  /* scratch for batched WebSocket writes */
	size_t wbuf_cap;		  /* its size after LWS_PRE */
	uv_timer_t closer;		  /* runs deferred WebSocket closes outside lws callbacks */
	struct pl_pending_close *pending_close; /* WebSockets to close at the next closer run */
	size_t n_pending_close;		  /* entries in pending_close */
	size_t cap_pending_close;	  /* capacity of pending_close */
	bool stopping;			  /* shutdown in progress */
};

#endif
