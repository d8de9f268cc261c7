/*
 * The fixture of the Socket.IO layer's unit tests (test_adapter.c, test_socket.c): one namespace
 * of a registry without Engine.IO, with sockets whose clients have a sink that records every
 * frame's text. Included once by each test program.
 */
#ifndef PL_TEST_SIO_FIXTURE_H
#define PL_TEST_SIO_FIXTURE_H

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "adapter.h"
#include "buf.h"
#include "client.h"
#include "config.h"
#include "hooks.h"
#include "nsp.h"
#include "server.h"
#include "sio.h"
#include "socket.h"

#define MAX_SOCKETS 8

/* A client whose sink appends each frame's text and a newline to log. */
struct rec_client {
	struct pl_client c; /* first: the sink gets this pointer */
	char log[4096];	    /* frames received, one a line */
	size_t len;	    /* bytes used in log */
	int frames;	    /* frames received */
};

static int rec_send(struct pl_client *c, struct pl_frame *f)
{
	struct rec_client *rc = (struct rec_client *)c;
	if (rc->len + f->len + 2 > sizeof rc->log)
		return -ENOBUFS;
	memcpy(rc->log + rc->len, pl_frame_data(f), f->len);
	rc->len += f->len;
	rc->log[rc->len++] = '\n';
	rc->log[rc->len] = '\0';
	rc->frames++;
	return 0;
}

static void rec_close(struct pl_client *c, const char *reason, bool flush)
{
	(void)c;
	(void)reason;
	(void)flush;
}

static const char *rec_name(const struct pl_client *c)
{
	(void)c;
	return "rec";
}

static const struct pl_sink_ops rec_sink = {rec_send, rec_close, rec_name};

/* One namespace with n connected sockets, each on its own recording client. */
struct fx {
	uv_loop_t loop;
	struct pl_config cfg;
	struct pl_server srv;
	struct pl_sio *sio;
	struct pl_nsp *nsp;
	struct pl_adapter *a;
	size_t n;
	struct rec_client cl[MAX_SOCKETS];
	struct pl_socket *s[MAX_SOCKETS];
};

static struct fx *fx_new(const char *nsp_name, size_t n, size_t max_rooms, size_t max_room_name)
{
	struct fx *fx = calloc(1, sizeof *fx);
	if (!fx || uv_loop_init(&fx->loop))
		abort();
	fx->cfg.ack_timeout = 1000;
	fx->srv.loop = &fx->loop;
	fx->srv.cfg = &fx->cfg;
	/* the Socket.IO layer without Engine.IO: the registry and one namespace */
	fx->sio = calloc(1, sizeof *fx->sio);
	if (!fx->sio || !(fx->sio->hooks = pl_hooks_new()))
		abort();
	fx->sio->srv = &fx->srv;
	fx->sio->max_rooms = max_rooms;
	fx->sio->max_room_name = max_room_name;
	fx->srv.sio = fx->sio;
	if (!(fx->nsp = pl_sio_nsp(&fx->srv, nsp_name, true)))
		abort();
	fx->a = fx->nsp->adapter;
	fx->n = n;
	for (size_t i = 0; i < n; i++) {
		fx->cl[i].c.srv = &fx->srv;
		fx->cl[i].c.sink = &rec_sink;
		fx->s[i] = pl_socket_new(fx->nsp, &fx->cl[i].c, NULL);
		if (!fx->s[i] || pl_socket_attach(fx->s[i]))
			abort();
	}
	return fx;
}

static void fx_clear_logs(struct fx *fx)
{
	for (size_t i = 0; i < fx->n; i++) {
		fx->cl[i].len = 0;
		fx->cl[i].log[0] = '\0';
		fx->cl[i].frames = 0;
	}
}

static void fx_free(struct fx *fx)
{
	for (size_t i = 0; i < fx->n; i++)
		if (fx->s[i])
			pl_socket_remove(fx->s[i], "test over");
	pl_sio_close(&fx->srv);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	uv_loop_close(&fx->loop);
	free(fx);
}

#endif
