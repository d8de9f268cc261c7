/*
 * Parley's entry point: configuration, the loop, the layers, and an orderly shutdown on
 * SIGINT/SIGTERM (close packets first, then libwebsockets, then the loop, which must end empty).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "apps.h"
#include "config.h"
#include "eio.h"
#include "history.h"
#include "log.h"
#include "server.h"
#include "sio.h"
#include "transport.h"

#define SHUTDOWN_GRACE_MS 300 /* time for close packets to leave before the context goes */

static struct pl_server server;
static uv_signal_t sigint_h, sigterm_h;
static uv_timer_t shutdown_timer;

static void finish_shutdown(uv_timer_t *t)
{
	(void)t;
	pl_transport_stop(&server);
	uv_close((uv_handle_t *)&shutdown_timer, NULL);
}

static void on_signal(uv_signal_t *h, int signum)
{
	(void)h;
	if (server.stopping)
		return;
	pl_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
	server.stopping = true;
	uv_close((uv_handle_t *)&sigint_h, NULL);
	uv_close((uv_handle_t *)&sigterm_h, NULL);
	pl_eio_close_all(&server);
	uv_timer_init(server.loop, &shutdown_timer);
	uv_timer_start(&shutdown_timer, finish_shutdown, server.sessions.count ? SHUTDOWN_GRACE_MS : 0,
		       0);
}

static int init_app(struct pl_server *srv)
{
	if (srv->cfg->app == PL_APP_ENGINE_ECHO)
		return pl_app_engine_echo_init(srv);
	if (pl_sio_init(srv))
		return -1;
	for (size_t i = 0; i < srv->cfg->n_namespaces; i++)
		if (!pl_sio_nsp(srv, srv->cfg->namespaces[i], true))
			return -1;
	if (srv->cfg->app == PL_APP_CONFORMANCE)
		return pl_app_conformance_init(srv);
	return pl_app_chat_init(srv);
}

int main(int argc, char **argv)
{
	struct pl_config cfg;
	uv_loop_t loop;
	int rc = 1;

	pl_config_init(&cfg);
	int parsed = pl_config_parse_args(&cfg, argc, argv);
	if (parsed != 0) {
		pl_config_close(&cfg);
		return parsed > 0 ? 0 : 2;
	}
	pl_log_set_level(cfg.log_level);
	signal(SIGPIPE, SIG_IGN);

	if (uv_loop_init(&loop)) {
		pl_error("cannot initialise the event loop");
		goto out_cfg;
	}
	server.loop = &loop;
	server.cfg = &cfg;
	server.history = pl_history_open(cfg.db_path, &loop, cfg.history_keep);
	if (!server.history)
		goto out_loop;
	if (init_app(&server)) {
		pl_error("cannot initialise the application");
		goto out_loop;
	}
	if (pl_transport_start(&server))
		goto out_transport;

	uv_signal_init(&loop, &sigint_h);
	uv_signal_init(&loop, &sigterm_h);
	uv_signal_start(&sigint_h, on_signal, SIGINT);
	uv_signal_start(&sigterm_h, on_signal, SIGTERM);

	printf("listening on %s:%d\n", cfg.host, server.port);
	fflush(stdout);
	pl_info("parley listening on http://%s:%d (web root %s)", cfg.host, server.port, cfg.web_root);

	uv_run(&loop, UV_RUN_DEFAULT);
	rc = 0;
out_transport:
	if (rc) {
		pl_transport_stop(&server);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	pl_transport_destroy(&server);
	pl_eio_server_stop(&server);
	pl_history_free(server.history);
	server.history = NULL;
	/* the loop must now be empty: anything left is a handle we forgot to close */
	uv_run(&loop, UV_RUN_DEFAULT);
out_loop:
	/* on the error paths, whatever was started is stopped here */
	pl_eio_server_stop(&server);
	pl_history_free(server.history);
	server.history = NULL;
	uv_run(&loop, UV_RUN_DEFAULT);
	pl_sio_close(&server);
	pl_eio_server_close(&server);
	if (uv_loop_close(&loop) != 0) {
		pl_error("event loop still has open handles at exit");
		rc = 1;
	}
out_cfg:
	pl_config_close(&cfg);
	if (rc == 0)
		pl_info("stopped");
	return rc;
}
