/*
 * Parley's entry point: configuration, the loop, the layers, the plugins, a reload of the
 * extensions on SIGHUP, and an orderly shutdown on SIGINT/SIGTERM (close packets first, then
 * libwebsockets, then the loop, which must end empty).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "api.h"
#include "apps.h"
#include "barrier.h"
#include "config.h"
#include "eio.h"
#include "eio_echo.h"
#include "http.h"
#include "history.h"
#include "history_cli.h"
#include "history_stream.h"
#include "log.h"
#include "lua_host.h"
#include "plugin.h"
#include "redis_adapter.h"
#include "recovery.h"
#include "retention.h"
#include "server.h"
#include "sio.h"
#include "token_cli.h"
#include "transport.h"

#define SHUTDOWN_GRACE_MS 300 /* time for close packets to leave before the context goes */

static struct pl_server server;
static parley_owner *app_owner; /* the built-in application's hooks */
static uv_signal_t sigint_h, sigterm_h, sighup_h, sigusr1_h;
static int saved_argc; /* the command line, read again on SIGHUP */
static char **saved_argv;
static uv_timer_t shutdown_timer;
static struct pl_recovery *recovery;	/* connection state recovery, NULL when off */
static struct pl_retention *retention; /* deletes what is kept no longer */
static struct pl_cluster *cluster;	/* the Redis cluster link, NULL alone */
static struct pl_history_stream *stream; /* the cluster's history, NULL alone */

#define RECOVERY_MAX_MISSED 1000 /* packets a recovered client gets again at most */

static uint64_t shutdown_at; /* loop time of the signal */

/* Stops the transport once every session's close packet has left and every WebSocket's
 * closing handshake is done, or the grace is over. */
static void finish_shutdown(uv_timer_t *t)
{
	if ((server.eio.sessions.count || pl_transport_closing()) &&
	    uv_now(t->loop) - shutdown_at < SHUTDOWN_GRACE_MS)
		return; /* the timer repeats */
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
	uv_close((uv_handle_t *)&sighup_h, NULL);
	uv_close((uv_handle_t *)&sigusr1_h, NULL);
	/* closing their handles gives them back their default, which ends the process */
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	pl_scripts_stop(); /* their timers would keep the loop running */
	pl_recovery_stop(recovery);
	pl_eio_close_all(&server);
	pl_history_stream_stop(stream);
	pl_cluster_stop(cluster); /* its connections too */
	uv_timer_init(server.loop, &shutdown_timer);
	shutdown_at = uv_now(server.loop);
	uv_timer_start(&shutdown_timer, finish_shutdown, 0, 10);
}

/*
 * Reloads the extensions: reads the configuration again (the --config file, then the command
 * line over it), re-initialises every plugin with its new options and reloads every script from
 * its file. The server's own settings and the set of loaded plugins and scripts stay as they
 * were started; connections stay up. Runs on the loop, outside every hook.
 */
static void reload(void)
{
	struct pl_config next;
	pl_config_init(&next);
	if (pl_config_parse_args(&next, saved_argc, saved_argv) != 0) {
		pl_error("reload: the configuration is invalid, keeping the current one");
		pl_config_close(&next);
		return;
	}
	pl_plugins_reload(&next);
	pl_config_close(&next);
	pl_scripts_reload();
	pl_info("reloaded the configuration");
}

static void on_sighup(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
	if (server.stopping)
		return;
	pl_info("received SIGHUP, reloading");
	reload();
}

static void on_sigusr1(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
	char cl[512] = "", st[200] = "";
	if (cluster) {
		char line[256];
		if (!pl_cluster_degraded(cluster, line, sizeof line))
			snprintf(line, sizeof line, "redis connected");
		line[strcspn(line, "\n")] = '\0';
		if (stream)
			pl_history_stream_status(stream, st, sizeof st);
		snprintf(cl, sizeof cl, "; cluster: %s; %s", line, st);
	}
	pl_info("status: %zu Engine.IO sessions, newest stored id %lld%s",
		server.eio.sessions.count, pl_history_last(server.history), cl);
}

/* /healthz in a cluster: the Redis link's state first, then the history stream's gaps. */
static bool cluster_health(void *ud, char *buf, size_t n)
{
	(void)ud;
	return pl_cluster_degraded(cluster, buf, n) || pl_history_stream_health(stream, buf, n);
}

/*
 * Only SIGINT and SIGTERM stop the server: the other signals whose default ends a process,
 * which an operator or a stray script may send, are ignored (SIGHUP reloads, SIGUSR1 logs a
 * status line). A file grown past RLIMIT_FSIZE fails its write instead of killing the process.
 */
static void ignore_stray_signals(void)
{
	static const int stray[] = {SIGPIPE, SIGUSR2, SIGQUIT, SIGALRM, SIGVTALRM, SIGPROF,
				    SIGIO,   SIGPWR,  SIGXFSZ, SIGXCPU, SIGTTIN,   SIGTTOU};
	for (size_t i = 0; i < sizeof stray / sizeof *stray; i++)
		signal(stray[i], SIG_IGN);
}

/* Raises the soft limit on open descriptors to the hard limit: every connection is one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			pl_warn("cannot raise the open file limit to %llu",
				(unsigned long long)rl.rlim_max);
	}
}

/* The history's step of the before-write barrier: what a frame carries is stored first. */
static int commit_history(void *h)
{
	return pl_history_commit(h);
}

static int init_app(struct pl_server *srv)
{
	if (srv->cfg->app == PL_APP_ENGINE_ECHO)
		return pl_eio_echo_init(srv);
	if (pl_sio_init(srv) || pl_api_init(srv))
		return -1;
	if (srv->cfg->redis) {
		/* every namespace's adapter spans the cluster */
		cluster = pl_cluster_new(srv, srv->cfg->redis, srv->cfg->redis_prefix);
		if (!cluster || pl_sio_set_adapter(srv, pl_cluster_adapter_new, cluster))
			return -1;
		pl_http_set_health(cluster_health, NULL);
	}
	for (size_t i = 0; i < srv->cfg->n_namespaces; i++)
		if (!pl_sio_nsp(srv, srv->cfg->namespaces[i], true))
			return -1;
	if (srv->cfg->app == PL_APP_CONFORMANCE)
		return 0; /* the protocol suite's setup is a script: scripts/conformance.lua */
	app_owner = pl_owner_new("chat");
	if (!app_owner)
		return -1;
	return pl_app_chat_init(pl_api(), app_owner);
}

int main(int argc, char **argv)
{
	struct pl_config cfg;
	uv_loop_t loop;
	int rc = 1;

	if (argc > 1 && strcmp(argv[1], "history") == 0)
		return pl_history_cli(argc - 1, argv + 1); /* the operator command, no server */
	if (argc > 1 && strcmp(argv[1], "token") == 0)
		return pl_token_cli(argc - 1, argv + 1); /* the same: prints a signed token */
	saved_argc = argc;
	saved_argv = argv;
	pl_config_init(&cfg);
	int parsed = pl_config_parse_args(&cfg, argc, argv);
	if (parsed != 0) {
		pl_config_close(&cfg);
		return parsed > 0 ? 0 : 2;
	}
	pl_log_set_level(cfg.log_level);
	ignore_stray_signals();
	raise_fd_limit();

	if (uv_loop_init(&loop)) {
		pl_error("cannot initialise the event loop");
		goto out_cfg;
	}
	server.loop = &loop;
	server.cfg = &cfg;
	server.peers.per_second = cfg.max_handshakes_per_address;
	pl_barrier_init(&server.before_write);
	server.history = pl_history_new(cfg.db_path, &loop, cfg.history_max_bytes);
	if (!server.history)
		goto out_loop;
	retention = pl_retention_new(&loop, server.history, &cfg);
	if (!retention)
		goto out_history;
	if (init_app(&server)) {
		pl_error("cannot initialise the application");
		goto out_app;
	}
	/* the sessions are written before the history's transaction is committed */
	if (cfg.app == PL_APP_CHAT && cfg.recovery_window) {
		recovery = pl_recovery_new(server.sio, server.history, &loop, cfg.recovery_window,
					   RECOVERY_MAX_MISSED, cfg.max_send_queue / 2);
		if (!recovery || pl_barrier_add(&server.before_write, pl_recovery_flush, recovery))
			goto out_app;
	}
	if (cluster) {
		/* ids, history and sessions shared by the Parley nodes of the cluster */
		stream = pl_history_stream_new(&loop, pl_cluster_link(cluster), server.history, recovery,
					       cfg.redis_prefix, pl_cluster_uid(cluster),
					       cfg.redis_history_length);
		if (!stream)
			goto out_app;
	}
	if (pl_barrier_add(&server.before_write, commit_history, server.history))
		goto out_app;
	if (cfg.app != PL_APP_ENGINE_ECHO &&
	    (pl_plugins_load(&cfg) || pl_scripts_start(&server, cfg.scripts, cfg.n_scripts))) {
		rc = 2;
		goto out_app;
	}
	if (pl_transport_start(&server))
		goto out_transport;

	uv_signal_init(&loop, &sigint_h);
	uv_signal_init(&loop, &sigterm_h);
	uv_signal_start(&sigint_h, on_signal, SIGINT);
	uv_signal_start(&sigterm_h, on_signal, SIGTERM);
	uv_signal_init(&loop, &sighup_h);
	uv_signal_start(&sighup_h, on_sighup, SIGHUP);
	uv_signal_init(&loop, &sigusr1_h);
	uv_signal_start(&sigusr1_h, on_sigusr1, SIGUSR1);

	printf("listening on %s:%d\n", cfg.host, server.port);
	fflush(stdout);
	pl_info("parley listening on http://%s:%d (web root %s)", cfg.host, server.port, cfg.web_root);

	uv_run(&loop, UV_RUN_DEFAULT);
	rc = 0;
	/* one ladder: each label undoes what was set up before the step that jumps to it */
out_transport:
	if (rc) {
		pl_transport_stop(&server);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	pl_transport_free(&server);
out_app:
	pl_history_stream_stop(stream);
	pl_cluster_stop(cluster);
	pl_scripts_stop();
	pl_plugins_unload();
	pl_owner_free(app_owner);
	app_owner = NULL;
	pl_api_close();
	pl_eio_server_stop(&server);
	pl_recovery_free(recovery);
	recovery = NULL;
out_history:
	pl_barrier_close(&server.before_write);
	pl_retention_free(retention);
	pl_history_free(server.history);
	server.history = NULL;
out_loop:
	/* the loop must now be empty: anything left is a handle we forgot to close */
	uv_run(&loop, UV_RUN_DEFAULT);
	pl_sio_close(&server);
	pl_http_set_health(NULL, NULL);
	pl_cluster_free(cluster);
	cluster = NULL;
	pl_history_stream_free(stream);
	stream = NULL;
	pl_eio_server_close(&server);
	pl_peers_close(&server.peers);
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
