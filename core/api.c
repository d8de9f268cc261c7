/*
 * The struct parley_api table (see api.h and parley/plugin.h). Each entry is a thin wrapper
 * that turns an opaque handle back into the core's object; the checks that protect the
 * server (limits, hooks, state) live in the core functions, so an extension cannot skip them.
 */
#include "api.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "adapter.h"
#include "bot.h"
#include "client.h"
#include "error.h"
#include "history.h"
#include "hooks.h"
#include "log.h"
#include "map.h"
#include "nsp.h"
#include "parley/version.h"
#include "requests.h"
#include "server.h"
#include "sio.h"
#include "socket.h"
#include "token.h"
#include "parley/version.h"

#define TICK_MS 1000

struct parley_timer {
	uv_timer_t handle;	       /* the libuv timer (freed in its close callback) */
	parley_owner *owner;	       /* its owner */
	parley_timer_fn fn;	       /* the callback */
	void *ud;		       /* its data */
	bool repeat;		       /* repeats until stopped */
	struct parley_timer *next;     /* the owner's other timers */
	struct parley_timer **pprev;   /* the link that points here */
};

struct parley_owner {
	char *name;		    /* for log lines */
	struct parley_timer *timers; /* running timers */
};

static struct pl_server *srv;
static uv_timer_t *tick_timer;

#define SOCK(s) ((struct pl_socket *)(s))
#define NSP(n)	((struct pl_nsp *)(n))

/* ---- errors, logging ---- */

_Static_assert(PARLEY_ETOOMANYROOMS == PL_ETOOMANYROOMS && PARLEY_EROOMNAME == PL_EROOMNAME &&
		       PARLEY_ERESERVED == PL_ERESERVED && PARLEY_EREFUSED == PL_EREFUSED &&
		       PARLEY_EVERSION == PL_EVERSION,
	       "the public error codes are the core's");
_Static_assert(PARLEY_ETOKEN_MALFORMED == PL_TOKEN_EMALFORMED && PARLEY_ETOKEN_ALG == PL_TOKEN_EALG &&
		       PARLEY_ETOKEN_SIGNATURE == PL_TOKEN_ESIG &&
		       PARLEY_ETOKEN_EXPIRED == PL_TOKEN_EEXPIRED &&
		       PARLEY_ETOKEN_NOTYET == PL_TOKEN_ENOTYET &&
		       PARLEY_ETOKEN_CLAIMS == PL_TOKEN_ECLAIMS && PARLEY_TOKEN_MIN_KEY == PL_TOKEN_MIN_KEY,
	       "the public token codes are the codec's");

static enum pl_log_level level_of(enum parley_log_level l)
{
	switch (l) {
	case PARLEY_LOG_DEBUG: return PL_LOG_DEBUG;
	case PARLEY_LOG_INFO: return PL_LOG_INFO;
	case PARLEY_LOG_WARN: return PL_LOG_WARN;
	default: return PL_LOG_ERROR;
	}
}

static void api_log(parley_owner *o, enum parley_log_level level, const char *fmt, ...)
{
	(void)o;
	enum pl_log_level l = level_of(level);
	if (!pl_log_enabled(l))
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	pl_log(l, "%s", line);
}

static bool api_log_enabled(enum parley_log_level level)
{
	return pl_log_enabled(level_of(level));
}

/* ---- hooks ---- */

static int hook_add(parley_owner *o, enum parley_hook hook, const char *nsp, const char *event,
		    int priority, parley_hook_fn fn, void *ud)
{
	return pl_hooks_add(srv->sio->hooks, o, hook, nsp, event, priority, fn, ud);
}

static int hook_remove(parley_owner *o, enum parley_hook hook, parley_hook_fn fn, void *ud)
{
	return pl_hooks_remove(srv->sio->hooks, o, hook, fn, ud);
}

static bool hook_active(enum parley_hook hook)
{
	return pl_hooks_active(srv->sio->hooks, hook);
}

static enum parley_verdict hook_raise(parley_nsp *nsp, struct parley_evt_message *evt)
{
	struct pl_hooks *h = srv->sio->hooks;
	if (!pl_hooks_active(h, PARLEY_HOOK_APP))
		return PARLEY_PASS;
	return pl_hooks_run(h, PARLEY_HOOK_APP, NSP(nsp)->name, evt);
}

static void message_done(struct parley_evt_message *evt, const char *orig_name)
{
	pl_hooks_message_done(evt, orig_name);
}

/* ---- namespaces ---- */

static parley_nsp *nsp_get(const char *name, bool create)
{
	return (parley_nsp *)pl_sio_nsp(srv, name, create);
}

static const char *nsp_name(const parley_nsp *nsp)
{
	return NSP(nsp)->name;
}

static size_t nsp_count(const parley_nsp *nsp)
{
	return NSP(nsp)->n;
}

static parley_socket *nsp_socket_at(parley_nsp *nsp, size_t i)
{
	return (parley_socket *)pl_nsp_socket_at(NSP(nsp), i);
}

static parley_socket *nsp_socket(parley_nsp *nsp, const char *id)
{
	return (parley_socket *)pl_nsp_socket(NSP(nsp), id);
}

static struct pl_room *find_room(parley_nsp *nsp, const char *room)
{
	struct pl_adapter *a = NSP(nsp)->adapter;
	return a->ops->room(a, room);
}

static size_t room_size(parley_nsp *nsp, const char *room)
{
	struct pl_room *r = find_room(nsp, room);
	return r ? r->n : 0;
}

static parley_socket *room_member_at(parley_nsp *nsp, const char *room, size_t i)
{
	struct pl_room *r = find_room(nsp, room);
	return r && i < r->n ? (parley_socket *)r->members[i] : NULL;
}

static parley_socket *user_first(parley_nsp *nsp, const json_t *userid)
{
	return (parley_socket *)pl_nsp_user_first(NSP(nsp), userid);
}

static parley_socket *user_next(parley_socket *s)
{
	return (parley_socket *)SOCK(s)->next_user;
}

/* ---- sockets ---- */

static const char *socket_id(const parley_socket *s)
{
	return SOCK(s)->id;
}

static parley_nsp *socket_nsp(parley_socket *s)
{
	return (parley_nsp *)SOCK(s)->nsp;
}

static bool socket_connected(const parley_socket *s)
{
	return SOCK(s)->state == PL_SOCKET_CONNECTED;
}

static json_t *socket_auth(const parley_socket *s)
{
	return SOCK(s)->auth;
}

static parley_socket *socket_ref(parley_socket *s)
{
	return (parley_socket *)pl_socket_ref(SOCK(s));
}

static void socket_unref(parley_socket *s)
{
	pl_socket_unref(SOCK(s));
}

static int socket_set_identity(parley_socket *s, const json_t *userid, const json_t *name)
{
	if (SOCK(s)->state == PL_SOCKET_GONE)
		return -EPIPE;
	return pl_nsp_set_identity(SOCK(s), userid, name);
}

static json_t *socket_userid(const parley_socket *s)
{
	return SOCK(s)->userid;
}

static json_t *socket_name(const parley_socket *s)
{
	return SOCK(s)->name;
}

static size_t socket_room_count(const parley_socket *s)
{
	return SOCK(s)->n_rooms;
}

static const char *socket_room_at(const parley_socket *s, size_t i)
{
	return i < SOCK(s)->n_rooms ? SOCK(s)->rooms[i].room->name : NULL;
}

/*
 * The text lives in a static buffer, valid until the next call: the loop is single-threaded
 * and keeping it per socket would cost every idle connection its bytes.
 */
static const char *socket_address(const parley_socket *s)
{
	static char buf[PL_CLIENT_ADDRSTRLEN];
	buf[0] = '\0';
	return SOCK(s)->client ? pl_client_address(SOCK(s)->client, buf) : buf;
}

static bool socket_in(const parley_socket *s, const char *room)
{
	return pl_socket_in(SOCK(s), room);
}

static int socket_join(parley_socket *s, const char *room)
{
	return pl_socket_join(SOCK(s), room);
}

static void socket_leave(parley_socket *s, const char *room)
{
	pl_socket_leave(SOCK(s), room);
}

static void socket_disconnect(parley_socket *s, bool close)
{
	pl_socket_disconnect(SOCK(s), close);
}

static int socket_set_data(parley_socket *s, parley_owner *o, void *data, void (*free_fn)(void *))
{
	return pl_socket_set_data(SOCK(s), o, data, free_fn);
}

static void *socket_get_data(const parley_socket *s, parley_owner *o)
{
	return pl_socket_get_data(SOCK(s), o);
}

/* ---- sending ---- */

static int emit(parley_socket *s, const struct parley_message *m, parley_ack_fn fn, void *ud)
{
	return pl_socket_emit(SOCK(s), m, fn, ud);
}

static int ack(parley_socket *s, long long id, json_t *args, parley_binary *const *att,
	       unsigned n_att)
{
	return pl_socket_ack(SOCK(s), id, args, (struct pl_frame *const *)att, n_att);
}

static size_t broadcast(parley_nsp *nsp, const struct parley_target *t,
			const struct parley_message *m)
{
	return pl_nsp_broadcast(NSP(nsp), t, m);
}

/* ---- timers ---- */

static void timer_freed(uv_handle_t *h)
{
	free(h->data);
}

static void timer_unlink_close(struct parley_timer *t)
{
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	uv_timer_stop(&t->handle);
	t->handle.data = t;
	uv_close((uv_handle_t *)&t->handle, timer_freed);
}

static void timer_fired(uv_timer_t *h)
{
	struct parley_timer *t = h->data;
	bool once = !t->repeat;
	if (once) {
		/* a one-shot timer is gone once it fired: unlink it before the callback, which
		 * may stop other timers or free the owner */
		*t->pprev = t->next;
		if (t->next)
			t->next->pprev = t->pprev;
		t->pprev = NULL;
	}
	t->fn(t->ud);
	if (once)
		uv_close((uv_handle_t *)&t->handle, timer_freed);
}

static parley_timer *timer_start(parley_owner *o, uint64_t ms, uint64_t repeat_ms,
				 parley_timer_fn fn, void *ud)
{
	struct parley_timer *t = calloc(1, sizeof *t);
	if (!t || !fn) {
		free(t);
		return NULL;
	}
	t->owner = o;
	t->fn = fn;
	t->ud = ud;
	t->repeat = repeat_ms != 0;
	uv_timer_init(srv->loop, &t->handle);
	t->handle.data = t;
	uv_timer_start(&t->handle, timer_fired, ms, repeat_ms);
	t->next = o->timers;
	if (o->timers)
		o->timers->pprev = &t->next;
	t->pprev = &o->timers;
	o->timers = t;
	return t;
}

static void timer_stop(parley_timer *t)
{
	/* a fired one-shot timer is unlinked and closing already */
	if (t && t->pprev)
		timer_unlink_close(t);
}

/* ---- configuration, history ---- */

static long long config_number(const char *key, long long fallback)
{
	const struct pl_config *c = srv->cfg;
	static const char *const names[] = {
		"port",		  "ping-interval",	  "ping-timeout",  "max-payload",
		"connect-timeout", "ack-timeout",	  "max-send-queue", "max-connections",
		"history-replay", "history-keep",	  "max-rooms-per-socket", "max-room-name",
		"history-max-bytes",
		"history-replay-bytes",
		"max-message-bytes", "max-name-bytes", "history", "history-max-age",
		"history-room-bytes", "recovery-window", "history-retention-interval",
	};
	long long values[] = {
		c->port,		c->ping_interval,   c->ping_timeout,   (long long)c->max_payload,
		c->connect_timeout,	c->ack_timeout,	    (long long)c->max_send_queue,
		(long long)c->max_connections, c->history_replay, c->history_keep,
		(long long)c->max_rooms, (long long)c->max_room_name,
		(long long)c->history_max_bytes,
		/* a replay never fills more than half of a client's send queue */
		(long long)(c->history_replay_bytes < c->max_send_queue / 2 ? c->history_replay_bytes
									: c->max_send_queue / 2),
		(long long)c->max_message_bytes, (long long)c->max_name_bytes, c->history,
		c->history_max_age, (long long)c->history_room_bytes, c->recovery_window,
		c->history_retention_interval,
	};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(key, names[i]) == 0)
			return values[i];
	return fallback;
}

static const char *config_string(const char *key)
{
	const struct pl_config *c = srv->cfg;
	static const char *const names[] = {"db", "web-root", "host", "path", "client-dist"};
	const char *values[] = {c->db_path, c->web_root, c->host, c->path, c->client_dist};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(key, names[i]) == 0)
			return values[i] && *values[i] ? values[i] : NULL;
	/* set only in a cluster (the URL, which may hold a password, is not for extensions) */
	if (strcmp(key, "redis-prefix") == 0)
		return c->redis ? c->redis_prefix : NULL;
	return NULL;
}

static long long history_append(parley_nsp *nsp, const char *room, const json_t *sender,
				const char *event, const json_t *payload)
{
	json_t *args = json_pack("[O]", payload);
	struct pl_record r = {.nsp = NSP(nsp)->name, .room = room, .sender = sender,
			      .event = event, .args = args};
	long long id = args ? pl_history_append(srv->history, &r) : -ENOMEM;
	json_decref(args);
	return id;
}

static int history_store(parley_nsp *nsp, const char *room, const json_t *sender,
			 const char *event, const json_t *payload, void (*done)(long long id, void *ud),
			 void *ud)
{
	json_t *args = json_pack("[O]", payload);
	struct pl_record r = {.nsp = NSP(nsp)->name, .room = room, .sender = sender,
			      .event = event, .args = args};
	int rc = args ? pl_history_store(srv->history, &r, done, ud) : -ENOMEM;
	json_decref(args);
	return rc;
}

static int history_record(const struct parley_record *pr, void (*done)(long long id, void *ud),
			  void *ud)
{
	if (!pr || pr->size < offsetof(struct parley_record, future) || !pr->nsp || !pr->event ||
	    !json_is_array(pr->args))
		return -EINVAL;
	json_t *empty = pr->sender ? NULL : json_object();
	struct pl_record r = {.nsp = NSP(pr->nsp)->name,
			      .room = pr->room,
			      .recipient = pr->recipient,
			      .skip = pr->skip ? ((struct pl_socket *)pr->skip)->id : NULL,
			      .sender = pr->sender ? pr->sender : empty,
			      .event = pr->event,
			      .args = pr->args,
			      .kind = pr->notice ? PL_RECORD_NOTICE : PL_RECORD_MESSAGE};
	int rc = pl_history_store(srv->history, &r, done, ud);
	json_decref(empty);
	return rc;
}

static json_t *history_page(parley_nsp *nsp, const char *room, long long before, long long since,
			    int limit)
{
	return pl_history_page(srv->history, NSP(nsp)->name, room ? room : "", before, since, limit);
}

static int history_delete(parley_nsp *nsp, long long id)
{
	return pl_history_delete(srv->history, NSP(nsp)->name, id);
}

static const char *owner_name(const parley_owner *o)
{
	return o->name;
}

/* ---- bots, injected events ---- */

static parley_socket *bot_new(parley_owner *o, parley_nsp *nsp, const char *name, parley_bot_fn fn,
			      void *ud)
{
	struct pl_bot *b = pl_bot_new(NSP(nsp), o, name, fn, ud);
	return b ? (parley_socket *)pl_bot_socket(b) : NULL;
}

static void bot_free(parley_socket *bot)
{
	if (bot)
		pl_bot_free(pl_bot_of(SOCK(bot)));
}

static bool socket_recovered(const parley_socket *s)
{
	return SOCK(s)->recovered;
}

static bool socket_is_bot(const parley_socket *s)
{
	return pl_socket_is_bot(SOCK(s));
}

static int inject(parley_socket *s, const char *event, json_t *args)
{
	if (!event || !json_is_array(args))
		return -EINVAL;
	return pl_sio_dispatch(SOCK(s), event, args, NULL, 0, -1);
}

/* ---- signed tokens ---- */

static int token_verify(const char *token, size_t len, const void *key, size_t key_len,
			long long now_s, long long skew_s, json_t **claims)
{
	if (now_s == 0)
		now_s = (long long)time(NULL);
	return pl_token_verify(token, len, key, key_len, now_s, skew_s, claims);
}

/* ---- the cluster ---- */

static parley_request *cluster_fetch(parley_owner *o, parley_nsp *nsp,
				     const struct parley_target *t, uint64_t timeout_ms,
				     parley_answers_fn fn, void *ud)
{
	return pl_request_start(o, NSP(nsp), PL_ASK_FETCH, t, NULL, timeout_ms, fn, ud);
}

static parley_request *cluster_rooms(parley_owner *o, parley_nsp *nsp, uint64_t timeout_ms,
				     parley_answers_fn fn, void *ud)
{
	return pl_request_start(o, NSP(nsp), PL_ASK_ROOMS, NULL, NULL, timeout_ms, fn, ud);
}

static parley_request *cluster_servers(parley_owner *o, parley_nsp *nsp, uint64_t timeout_ms,
				       parley_answers_fn fn, void *ud)
{
	return pl_request_start(o, NSP(nsp), PL_ASK_SERVERS, NULL, NULL, timeout_ms, fn, ud);
}

static parley_request *cluster_emit(parley_owner *o, parley_nsp *nsp,
				    const struct parley_message *m, uint64_t timeout_ms,
				    parley_answers_fn fn, void *ud)
{
	if (!fn) {
		pl_request_tell(NSP(nsp), PL_TELL_EMIT, NULL, NULL, false, m);
		return NULL;
	}
	return pl_request_start(o, NSP(nsp), PL_ASK_EMIT, NULL, m, timeout_ms, fn, ud);
}

static int cluster_join(parley_nsp *nsp, const struct parley_target *t, const char *room)
{
	return pl_request_tell(NSP(nsp), PL_TELL_JOIN, t, room, false, NULL);
}

static int cluster_leave(parley_nsp *nsp, const struct parley_target *t, const char *room)
{
	return pl_request_tell(NSP(nsp), PL_TELL_LEAVE, t, room, false, NULL);
}

static int cluster_disconnect(parley_nsp *nsp, const struct parley_target *t, bool close)
{
	return pl_request_tell(NSP(nsp), PL_TELL_DISCONNECT, t, NULL, close, NULL);
}

static const struct parley_api table = {
	.size = sizeof table,
	.version = PARLEY_API_VERSION,
	.server_version = PARLEY_VERSION_STRING,
	.strerror = pl_strerror,
	.log = api_log,
	.log_enabled = api_log_enabled,
	.hook_add = hook_add,
	.hook_remove = hook_remove,
	.hook_raise = hook_raise,
	.message_done = message_done,
	.nsp_get = nsp_get,
	.nsp_name = nsp_name,
	.nsp_count = nsp_count,
	.nsp_socket_at = nsp_socket_at,
	.nsp_socket = nsp_socket,
	.room_size = room_size,
	.room_member_at = room_member_at,
	.user_first = user_first,
	.user_next = user_next,
	.socket_id = socket_id,
	.socket_nsp = socket_nsp,
	.socket_connected = socket_connected,
	.socket_auth = socket_auth,
	.socket_ref = socket_ref,
	.socket_unref = socket_unref,
	.socket_set_identity = socket_set_identity,
	.socket_userid = socket_userid,
	.socket_name = socket_name,
	.socket_room_count = socket_room_count,
	.socket_room_at = socket_room_at,
	.socket_in = socket_in,
	.socket_join = socket_join,
	.socket_leave = socket_leave,
	.socket_disconnect = socket_disconnect,
	.socket_set_data = socket_set_data,
	.socket_get_data = socket_get_data,
	.emit = emit,
	.ack = ack,
	.broadcast = broadcast,
	.timer_start = timer_start,
	.timer_stop = timer_stop,
	.config_number = config_number,
	.history_append = history_append,
	.history_page = history_page,
	.owner_name = owner_name,
	.config_string = config_string,
	.history_delete = history_delete,
	.hook_active = hook_active,
	.bot_new = bot_new,
	.bot_free = bot_free,
	.socket_is_bot = socket_is_bot,
	.inject = inject,
	.socket_address = socket_address,
	.hash = pl_map_hash,
	.history_store = history_store,
	.history_record = history_record,
	.socket_recovered = socket_recovered,
	.token_verify = token_verify,
	.token_sign = pl_token_sign,
	.cluster_fetch = cluster_fetch,
	.cluster_rooms = cluster_rooms,
	.cluster_servers = cluster_servers,
	.cluster_emit = cluster_emit,
	.request_cancel = pl_request_cancel,
	.cluster_join = cluster_join,
	.cluster_leave = cluster_leave,
	.cluster_disconnect = cluster_disconnect,
};

const struct parley_api *pl_api(void)
{
	return &table;
}

/* ---- owners, tick ---- */

parley_owner *pl_owner_new(const char *name)
{
	parley_owner *o = calloc(1, sizeof *o);
	if (!o || !(o->name = strdup(name))) {
		free(o);
		return NULL;
	}
	return o;
}

void pl_owner_free(parley_owner *o)
{
	if (!o)
		return;
	pl_bot_free_owner(o); /* while the hooks that hear them leave are still there */
	pl_requests_drop_owner(o);
	if (srv && srv->sio) {
		pl_hooks_remove_owner(srv->sio->hooks, o);
		struct pl_nsp *nsp;
		for (size_t pos = 0; pl_map_next(&srv->sio->nsps, &pos, (void **)&nsp);)
			for (size_t i = 0; i < nsp->n; i++)
				pl_socket_drop_data(nsp->list[i], o);
	}
	while (o->timers)
		timer_unlink_close(o->timers);
	free(o->name);
	free(o);
}

static void tick(uv_timer_t *t)
{
	(void)t;
	struct pl_hooks *h = srv->sio->hooks;
	if (!pl_hooks_active(h, PARLEY_HOOK_TICK))
		return;
	struct parley_evt_tick ev = {.size = sizeof ev, .now_ms = uv_now(srv->loop)};
	pl_hooks_run(h, PARLEY_HOOK_TICK, NULL, &ev);
}

static void tick_freed(uv_handle_t *h)
{
	free(h);
}

int pl_api_init(struct pl_server *s)
{
	srv = s;
	tick_timer = malloc(sizeof *tick_timer);
	if (!tick_timer)
		return -ENOMEM;
	uv_timer_init(s->loop, tick_timer);
	uv_timer_start(tick_timer, tick, TICK_MS, TICK_MS);
	uv_unref((uv_handle_t *)tick_timer);
	return 0;
}

void pl_api_close(void)
{
	if (tick_timer)
		uv_close((uv_handle_t *)tick_timer, tick_freed);
	tick_timer = NULL;
}
