/*
 * The Redis link (see redis_link.h) on hiredis 0.14 and its libuv adapter. A link is one
 * connection: made, watched while under way (hiredis has no connect timeout and its libuv
 * adapter drops poll errors), authenticated, and made again after a failure with a backoff
 * doubling from BACKOFF_MIN_MS to BACKOFF_MAX_MS.
 */
#include "redis_link.h"

#include <errno.h>
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"
#include "log.h"

#define BACKOFF_MIN_MS	   100	/* first retry after a failure */
#define BACKOFF_MAX_MS	   2000 /* retries never wait longer */
#define CONNECT_TIMEOUT_MS 2000 /* a connection not made by then is tried again */
#define CONNECT_CHECK_MS   50	/* how often one under way is looked at */
#define STOP_WAIT_MS	   1500 /* at the stop, how long the replies under way may take */

/* One connection to Redis. */
struct link {
	struct pl_redis *r;	  /* owner */
	redisAsyncContext *ac;	  /* NULL while there is none */
	bool up;		  /* connected: commands may be sent */
	bool sub;		  /* the subscriber (else the publisher or the reader) */
	bool reader;		  /* the reader, for blocking commands */
	uv_timer_t timer;	  /* the next attempt, or the watchdog of one under way */
	unsigned backoff;	  /* ms before the next attempt after a failure */
	uint64_t connect_started; /* loop time (ms) of the attempt under way */
	redisAsyncContext *closing; /* at the stop: disconnecting once its replies are in */
};

struct pl_redis {
	uv_loop_t *loop;		/* the loop it runs on */
	struct pl_redis_url url;	/* where Redis is */
	struct pl_redis_handler h;	/* the owner's callbacks */
	void *ud;			/* their argument */
	struct link pub, sub;		/* the two connections */
	struct link rd;			/* the reader, when started (blocking reads) */
	bool has_reader;		/* rd is in use */
	void (*reader_ready)(void *ud);	/* rd is (again) connected */
	void *reader_ud;		/* its argument */
	bool stopped;			/* shutting down: nothing is tried again */
	bool down;			/* an outage was logged and has not ended */
	bool joined;			/* both were up once */
	uint64_t down_since;		/* loop time (ms) when it began */
	unsigned long long lost;	/* messages not published during the outage */
};

static void link_connect(struct link *l);
static void on_reply(redisAsyncContext *c, void *reply, void *privdata);

/* A command waiting for its reply. */
struct pl_redis_call {
	pl_redis_reply_fn cb; /* told the reply */
	void *ud;	      /* its argument */
};

static void on_retry(uv_timer_t *t)
{
	link_connect(t->data);
}

bool pl_redis_up(const struct pl_redis *r)
{
	return r->pub.up && r->sub.up && (!r->has_reader || r->rd.up);
}

/* What a connection is, for the logs. */
static const char *link_name(const struct link *l)
{
	return l->sub ? "subscriber" : l->reader ? "reader" : "publisher";
}

/* A connection failed or was lost: the outage is logged once, and the link tried again. */
static void link_failed(struct link *l, const char *why)
{
	struct pl_redis *r = l->r;
	if (r->stopped)
		return;
	if (!r->down) {
		r->down = true;
		r->down_since = uv_now(r->loop);
		r->lost = 0;
		pl_warn("cluster: redis %s:%d unavailable (%s): serving this node's clients alone, "
			"retrying",
			r->url.host, r->url.port, why ? why : "error");
	} else {
		pl_debug("cluster: redis %s connection: %s", link_name(l), why ? why : "error");
	}
	uv_timer_start(&l->timer, on_retry, l->backoff, 0);
	l->backoff = l->backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : l->backoff * 2;
}

static void link_ready(struct link *l)
{
	struct pl_redis *r = l->r;
	l->up = true;
	l->backoff = BACKOFF_MIN_MS;
	if (l->sub)
		r->h.ready(r->ud);
	if (l->reader && r->reader_ready)
		r->reader_ready(r->reader_ud);
	if (!pl_redis_up(r))
		return;
	if (r->down && r->joined)
		pl_warn("cluster: redis %s:%d reachable again after %.1f s (%llu cross-node "
			"messages were not sent meanwhile)",
			r->url.host, r->url.port, (double)(uv_now(r->loop) - r->down_since) / 1000,
			r->lost);
	else
		pl_info("cluster: connected to redis %s:%d", r->url.host, r->url.port);
	r->down = false;
	r->joined = true;
}

static void on_auth(redisAsyncContext *ac, void *reply_v, void *privdata)
{
	redisReply *reply = reply_v;
	(void)privdata;
	if (reply && reply->type == REDIS_REPLY_ERROR) {
		struct link *l = ac->data;
		if (l)
			pl_error("cluster: redis refused the %s's setup: %s", link_name(l),
				 reply->str);
		redisAsyncDisconnect(ac); /* tried again, with backoff */
	}
}

static void on_connect(const redisAsyncContext *cac, int status)
{
	struct link *l = cac->data;
	if (!l)
		return;
	uv_timer_stop(&l->timer);
	if (status != REDIS_OK) {
		l->ac = NULL; /* hiredis frees it after this call */
		link_failed(l, cac->errstr);
		return;
	}
	redisAsyncContext *ac = (redisAsyncContext *)cac;
	struct pl_redis *r = l->r;
	/* commands are answered in order: AUTH and SELECT come before anything else */
	if (r->url.user[0]) /* an ACL user (Redis 6 and later) */
		redisAsyncCommand(ac, on_auth, NULL, "AUTH %s %s", r->url.user, r->url.password);
	else if (r->url.password[0])
		redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", r->url.password);
	if (!l->sub && r->url.db) /* the reader's keys are in that db too */
		redisAsyncCommand(ac, on_auth, NULL, "SELECT %d", r->url.db);
	link_ready(l);
}

/* The link is done with: its timer goes (once). */
static void link_closed(struct link *l)
{
	uv_timer_stop(&l->timer);
	if (!uv_is_closing((uv_handle_t *)&l->timer))
		uv_close((uv_handle_t *)&l->timer, NULL);
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
	struct link *l = cac->data;
	if (!l)
		return;
	if (l->r->stopped) {
		/* the disconnect of the stop: every reply came */
		l->closing = NULL;
		link_closed(l);
		return;
	}
	l->ac = NULL;
	l->up = false;
	link_failed(l, status == REDIS_OK ? "connection closed" : cac->errstr);
}

/* The watchdog of a connection under way: the socket's pending error tells a refusal at once,
 * and a connection not made within CONNECT_TIMEOUT_MS is given up. */
static void on_connect_check(uv_timer_t *t)
{
	struct link *l = t->data;
	redisAsyncContext *ac = l->ac;
	if (!ac || l->up) {
		uv_timer_stop(t);
		return;
	}
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(ac->c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	bool late = uv_now(l->r->loop) - l->connect_started >= CONNECT_TIMEOUT_MS;
	if (!err && !late)
		return;
	uv_timer_stop(t);
	l->ac = NULL;
	ac->data = NULL;
	redisAsyncFree(ac);
	link_failed(l, err ? strerror(err) : "connection timed out");
}

static void link_connect(struct link *l)
{
	struct pl_redis *r = l->r;
	if (r->stopped || l->ac)
		return;
	redisAsyncContext *ac = redisAsyncConnect(r->url.host, r->url.port);
	if (!ac) {
		link_failed(l, "out of memory");
		return;
	}
	if (ac->err) {
		char why[128];
		snprintf(why, sizeof why, "%s", ac->errstr);
		redisAsyncFree(ac);
		link_failed(l, why);
		return;
	}
	if (redisLibuvAttach(ac, r->loop) != REDIS_OK) {
		redisAsyncFree(ac);
		link_failed(l, "cannot watch the connection");
		return;
	}
	ac->data = l;
	l->ac = ac;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	l->connect_started = uv_now(r->loop);
	uv_timer_start(&l->timer, on_connect_check, CONNECT_CHECK_MS, CONNECT_CHECK_MS);
}

int pl_redis_publish(struct pl_redis *r, const char *channel, const void *p, size_t n)
{
	if (!r->pub.up || !r->pub.ac ||
	    redisAsyncCommand(r->pub.ac, NULL, NULL, "PUBLISH %b %b", channel, strlen(channel), p,
			      n) != REDIS_OK) {
		r->lost++;
		return -ENOTCONN;
	}
	return 0;
}

/* Sends a command on l, its reply to cb. Returns 0, or -ENOTCONN (cb is then not called). */
static int command(struct link *l, pl_redis_reply_fn cb, void *ud, int argc, const char **argv,
		   const size_t *lens)
{
	if (!l->up || !l->ac)
		return -ENOTCONN;
	struct pl_redis_call *call = malloc(sizeof *call);
	if (!call)
		return -ENOMEM;
	*call = (struct pl_redis_call){cb, ud};
	if (redisAsyncCommandArgv(l->ac, on_reply, call, argc, argv, lens) != REDIS_OK) {
		free(call);
		return -ENOTCONN;
	}
	return 0;
}

int pl_redis_command(struct pl_redis *r, pl_redis_reply_fn cb, void *ud, int argc,
		     const char **argv, const size_t *lens)
{
	return command(&r->pub, cb, ud, argc, argv, lens);
}

int pl_redis_read(struct pl_redis *r, pl_redis_reply_fn cb, void *ud, int argc,
		  const char **argv, const size_t *lens)
{
	return r->has_reader ? command(&r->rd, cb, ud, argc, argv, lens) : -ENOTCONN;
}

void pl_redis_lost(struct pl_redis *r)
{
	r->lost++;
}

/* A command's reply (NULL when the connection went first) to its caller, once. */
static void on_reply(redisAsyncContext *c, void *reply, void *privdata)
{
	struct pl_redis_call *call = privdata;
	(void)c;
	call->cb(call->ud, reply);
	free(call);
}

/* Every subscribed message: a pattern's (pmessage) or a channel's (message). */
static void on_sub_message(redisAsyncContext *c, void *reply_v, void *privdata)
{
	struct pl_redis *r = privdata;
	redisReply *reply = reply_v;
	(void)c;
	if (!reply || r->stopped || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING)
		return;
	const char *kind = reply->element[0]->str;
	bool pmessage = strcmp(kind, "pmessage") == 0 && reply->elements == 4;
	if (!pmessage && strcmp(kind, "message") != 0)
		return; /* a subscription's confirmation */
	redisReply *key = reply->element[1], *channel = reply->element[pmessage ? 2 : 1];
	redisReply *body = reply->element[pmessage ? 3 : 2];
	if (key->type != REDIS_REPLY_STRING || channel->type != REDIS_REPLY_STRING ||
	    body->type != REDIS_REPLY_STRING)
		return;
	r->h.message(r->ud, pmessage ? key->str : NULL, channel->str, body->str, body->len);
}

void pl_redis_subscribe(struct pl_redis *r, const char *name, bool pattern)
{
	redisAsyncContext *ac = r->sub.ac;
	if (!r->sub.up || !ac)
		return;
	if (redisAsyncCommand(ac, on_sub_message, r, pattern ? "PSUBSCRIBE %b" : "SUBSCRIBE %b",
			      name, strlen(name)) != REDIS_OK)
		pl_warn("cluster: cannot subscribe to %s", name);
}

struct pl_redis *pl_redis_new(uv_loop_t *loop, const char *url, const struct pl_redis_handler *h,
			      void *ud)
{
	struct pl_redis *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	if (pl_config_redis_url(url, &r->url)) {
		free(r);
		return NULL;
	}
	r->loop = loop;
	r->h = *h;
	r->ud = ud;
	struct link *links[] = {&r->pub, &r->sub};
	for (int i = 0; i < 2; i++) {
		struct link *l = links[i];
		l->r = r;
		l->sub = i == 1;
		l->backoff = BACKOFF_MIN_MS;
		uv_timer_init(loop, &l->timer);
		l->timer.data = l;
		link_connect(l);
	}
	return r;
}

int pl_redis_reader_start(struct pl_redis *r, void (*ready)(void *ud), void *ud)
{
	if (r->has_reader || r->stopped)
		return -EALREADY;
	r->reader_ready = ready;
	r->reader_ud = ud;
	r->has_reader = true;
	struct link *l = &r->rd;
	l->r = r;
	l->reader = true;
	l->backoff = BACKOFF_MIN_MS;
	uv_timer_init(r->loop, &l->timer);
	l->timer.data = l;
	link_connect(l);
	return 0;
}

void pl_redis_reset(struct pl_redis *r, bool reader)
{
	struct link *l = reader ? &r->rd : &r->pub;
	redisAsyncContext *ac = l->ac;
	if ((reader && !r->has_reader) || r->stopped || !ac || !l->up)
		return;
	/* as the connect watchdog does: the commands under way are told NULL, then it is made
	 * anew */
	l->ac = NULL;
	l->up = false;
	ac->data = NULL;
	redisAsyncFree(ac);
	link_failed(l, "no answer in time");
}

/* The stop's wait is over: Redis is alive but does not answer (stopped, overloaded). What it
 * did not answer is told NULL, and the connection goes. */
static void on_stop_late(uv_timer_t *t)
{
	struct link *l = t->data;
	redisAsyncContext *ac = l->closing;
	l->closing = NULL;
	if (ac) {
		pl_warn("cluster: redis did not answer the %s within %d ms at shutdown: closing its "
			"connection",
			link_name(l), STOP_WAIT_MS);
		ac->data = NULL;
		redisAsyncFree(ac);
	}
	link_closed(l);
}

void pl_redis_stop(struct pl_redis *r)
{
	if (!r || r->stopped)
		return;
	r->stopped = true;
	struct link *links[] = {&r->pub, &r->sub, &r->rd};
	for (int i = 0; i < (r->has_reader ? 3 : 2); i++) {
		struct link *l = links[i];
		uv_timer_stop(&l->timer);
		redisAsyncContext *ac = l->ac;
		bool up = l->up;
		l->ac = NULL;
		l->up = false;
		if (ac && up && !l->reader) {
			/* the publisher's queued messages leave first, and the replies under way
			 * are waited for, within STOP_WAIT_MS; the disconnect may end at once */
			l->closing = ac;
			uv_timer_start(&l->timer, on_stop_late, STOP_WAIT_MS, 0);
			redisAsyncDisconnect(ac);
			continue;
		}
		if (ac) {
			/* a blocking read would hold the disconnect for its whole block: the
			 * reader goes at once (its read is told NULL), as does one not yet made */
			ac->data = NULL;
			redisAsyncFree(ac);
		}
		link_closed(l);
	}
}

void pl_redis_free(struct pl_redis *r)
{
	free(r);
}

bool pl_redis_degraded(void *ud, char *buf, size_t n)
{
	struct pl_redis *r = ud;
	if (pl_redis_up(r))
		return false;
	if (r->down)
		snprintf(buf, n, "degraded: redis unreachable for %llu s, serving local clients\n",
			 (unsigned long long)((uv_now(r->loop) - r->down_since) / 1000));
	else
		snprintf(buf, n, "degraded: connecting to redis\n");
	return true;
}
