/*
 * Tests for core/eio.c over a fake connection: a pl_conn_ops that records every response, send
 * and write, on a real libuv loop with short heartbeat times. Covers the handshake, heartbeat
 * deadlines, the upgrade with its probe, held and overlapping GETs, polling POSTs, the close
 * grace, batched and partial WebSocket writes, the send queue cap and the before-write barrier,
 * each with the exact bytes a client would see.
 */
#include "eio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "barrier.h"
#include "config.h"
#include "log.h"
#include "server.h"
#include "test.h"

#define HEADROOM 16 /* what the fake carrier asks for, as LWS_PRE does */

/* One fake request or WebSocket. */
struct fake {
	struct pl_eio *session;	   /* the transport's reference, released by end() */
	bool ws;		   /* a WebSocket (else an HTTP request) */
	int n_responses;	   /* respond calls (only the first counts, as in the transport) */
	int status;		   /* the first response's status */
	const char *ctype;	   /* its Content-Type */
	char body[4096];	   /* its body */
	size_t body_len;	   /* its length */
	unsigned char out[65536];  /* WebSocket bytes sent and written, in order */
	size_t out_len;		   /* bytes in out */
	int n_sends, n_writes;	   /* send and write_framed calls */
	bool last_more;		   /* the last send's more */
	int close_after_more;	   /* close_ws calls right after a send with more */
	int barrier_at_write;	   /* barrier runs seen by the last send or write */
	int want_writes;	   /* want_write calls */
	int close_status;	   /* close_ws status, 0 when not closed */
	bool dropped;		   /* drop was called */
	bool gone;		   /* peer_gone answers this */
	bool busy;		   /* busy answers this */
	size_t send_limit;	   /* most bytes one send takes (0: all) */
};

static struct pl_conn *conn(struct fake *f)
{
	return (struct pl_conn *)f;
}

static struct fake *fake(struct pl_conn *c)
{
	return (struct fake *)c;
}

static int barrier_runs; /* times the before-write barrier ran */

static void f_respond(struct pl_conn *c, int status, const char *ctype, const void *body,
		      size_t len)
{
	struct fake *f = fake(c);
	if (f->n_responses++)
		return;
	f->status = status;
	f->ctype = ctype;
	if (len > sizeof f->body)
		len = sizeof f->body;
	if (len)
		memcpy(f->body, body, len);
	f->body_len = len;
}

static bool f_peer_gone(struct pl_conn *c)
{
	return fake(c)->gone;
}

static bool f_busy(struct pl_conn *c)
{
	return fake(c)->busy;
}

static void take(struct fake *f, const void *p, size_t len)
{
	/* the headroom must be writable, as lws writes its own bytes there */
	memset((unsigned char *)p - HEADROOM, 0xee, HEADROOM);
	memcpy(f->out + f->out_len, p, len);
	f->out_len += len;
	f->barrier_at_write = barrier_runs;
}

static ssize_t f_send(struct pl_conn *c, const void *p, size_t len, bool more)
{
	struct fake *f = fake(c);
	f->last_more = more;
	size_t n = f->send_limit && len > f->send_limit ? f->send_limit : len;
	f->n_sends++;
	take(f, p, n);
	return (ssize_t)n;
}

static int f_write_framed(struct pl_conn *c, unsigned char *p, size_t len)
{
	struct fake *f = fake(c);
	f->n_writes++;
	take(f, p, len);
	return 0;
}

static void f_want_write(struct pl_conn *c)
{
	fake(c)->want_writes++;
}

static void f_close_ws(struct pl_conn *c, int status)
{
	if (fake(c)->last_more)
		fake(c)->close_after_more++;
	if (!fake(c)->close_status)
		fake(c)->close_status = status;
}

static void f_drop(struct pl_conn *c)
{
	fake(c)->dropped = true;
}

static const struct pl_conn_ops fake_ops = {
	.headroom = HEADROOM,
	.respond = f_respond,
	.peer_gone = f_peer_gone,
	.busy = f_busy,
	.send = f_send,
	.write_framed = f_write_framed,
	.want_write = f_want_write,
	.close_ws = f_close_ws,
	.drop = f_drop,
};

/* What the layer above saw. */
static struct pl_eio *opened;  /* the last session opened */
static char messages[4096];    /* messages received, each "<t|b>:<data>\n" */
static char closed_reason[64]; /* the last on_close reason */
static int n_closed;	       /* on_close calls */

static void on_open(struct pl_eio *s)
{
	opened = s;
}

static void on_message(struct pl_eio *s, const char *data, size_t len, bool binary)
{
	(void)s;
	size_t n = strlen(messages);
	snprintf(messages + n, sizeof messages - n, "%c:%.*s\n", binary ? 'b' : 't', (int)len, data);
}

static void on_close(struct pl_eio *s, const char *reason)
{
	(void)s;
	n_closed++;
	snprintf(closed_reason, sizeof closed_reason, "%s", reason);
}

static int count_barrier(void *ud)
{
	(void)ud;
	barrier_runs++;
	return 0;
}

static uv_loop_t loop;
static struct pl_config cfg;
static struct pl_server srv;
static struct fake fakes[8];

static void setup(unsigned ping_interval, unsigned ping_timeout)
{
	memset(&srv, 0, sizeof srv);
	memset(fakes, 0, sizeof fakes);
	opened = NULL;
	messages[0] = closed_reason[0] = '\0';
	n_closed = barrier_runs = 0;
	uv_loop_init(&loop);
	pl_log_set_level(PL_LOG_ERROR);
	pl_config_init(&cfg);
	cfg.ping_interval = ping_interval;
	cfg.ping_timeout = ping_timeout;
	srv.loop = &loop;
	srv.cfg = &cfg;
	pl_barrier_init(&srv.before_write);
	pl_barrier_add(&srv.before_write, count_barrier, NULL);
	struct pl_eio_handler h = {on_open, on_message, on_close};
	if (pl_eio_server_init(&srv, &h) || pl_eio_set_conn_ops(&srv, &fake_ops))
		abort();
}

/* Ends a fake's request or WebSocket, as the transport does when lws reports it gone. */
static void end(struct fake *f)
{
	struct pl_eio *s = f->session;
	if (!s)
		return;
	f->session = NULL;
	if (f->ws)
		pl_eio_ws_closed(s, conn(f));
	else
		pl_eio_request_gone(s, conn(f), false);
	pl_eio_unref(s);
}

/* Ends every fake, closes what sessions are left, and checks the loop ends empty. */
static void teardown(void)
{
	for (size_t i = 0; i < sizeof fakes / sizeof *fakes; i++)
		end(&fakes[i]);
	struct pl_eio *all[16], *s;
	size_t n = 0;
	for (size_t pos = 0; n < 16 && pl_map_next(&srv.eio.sessions, &pos, (void **)&s);)
		all[n++] = s;
	for (size_t i = 0; i < n; i++)
		pl_eio_close(all[i], "test over", false);
	pl_eio_server_stop(&srv);
	uv_run(&loop, UV_RUN_DEFAULT);
	pl_eio_server_close(&srv);
	pl_peers_close(&srv.peers);
	pl_barrier_close(&srv.before_write);
	if (uv_loop_close(&loop) != 0)
		fprintf(stderr, "loop not empty\n");
	pl_config_close(&cfg);
}

/* Runs the loop without blocking until cond holds or ms pass. Returns cond's last value. */
static bool run_until(bool (*cond)(void), unsigned ms)
{
	uint64_t end_at = uv_hrtime() + (uint64_t)ms * 1000000;
	for (;;) {
		uv_run(&loop, UV_RUN_NOWAIT);
		if (cond && cond())
			return true;
		if (uv_hrtime() >= end_at)
			return cond ? cond() : true;
		usleep(500);
	}
}

/* One loop iteration: the end-of-iteration flush and whatever timers are due. */
static void iterate(void)
{
	uv_run(&loop, UV_RUN_NOWAIT);
}

static struct pl_eio_request request(struct fake *f, bool get, const char *transport,
				     const char *sid)
{
	return (struct pl_eio_request){
		.conn = conn(f),
		.is_get = get,
		.transport = transport,
		.eio = "4",
		.sid = sid,
		.remote = "127.0.0.1",
		.content_type = "",
		.content_length = -1,
	};
}

/* Accepts a request for f (a handshake when sid is NULL); the fake keeps the reference. */
static struct pl_eio *accept_on(struct fake *f, bool get, bool ws, const char *sid)
{
	struct pl_eio_request r = request(f, get, ws ? "websocket" : "polling", sid);
	struct pl_eio_error err;
	f->ws = ws;
	f->session = pl_eio_accept(&srv, &r, ws, &err);
	return f->session;
}

/* The held GET f became writable: answer it, then the request ends. */
static void poll_write(struct fake *f)
{
	struct pl_eio *s = f->session;
	pl_eio_poll_writable(s, conn(f));
	end(f);
}

static void expect_open(const char *body, size_t len, struct pl_eio *s, bool ws)
{
	char want[256];
	int n = snprintf(want, sizeof want,
			 "0{\"sid\":\"%s\",\"upgrades\":%s,\"pingInterval\":%u,\"pingTimeout\":%u,"
			 "\"maxPayload\":%zu}",
			 s->sid, ws ? "[]" : "[\"websocket\"]", cfg.ping_interval, cfg.ping_timeout,
			 cfg.max_payload);
	test_check_mem(__FILE__, __LINE__, "OPEN packet", body, len, want, (size_t)n);
}

/* A polling GET on f for session sid (NULL: a handshake), handed to the session to hold. */
static struct pl_eio *hold_get(struct fake *f, const char *sid)
{
	struct pl_eio *s = accept_on(f, true, false, sid);
	if (s)
		pl_eio_poll_get(s, conn(f));
	return s;
}

/* A polling session whose handshake GET was answered; the fake's request is over. */
static struct pl_eio *polling_session(struct fake *get)
{
	struct pl_eio *s = hold_get(get, NULL);
	if (s)
		poll_write(get);
	return s;
}

/* A WebSocket session whose handshake frame was sent; the fake keeps the WebSocket. */
static struct pl_eio *ws_session(struct fake *ws)
{
	struct pl_eio *s = accept_on(ws, true, true, NULL);
	if (!s)
		return NULL;
	pl_eio_ws_open(s, conn(ws));
	iterate();
	return s;
}

static void test_handshake_polling(void)
{
	setup(25000, 20000);
	struct fake *get = &fakes[0];
	struct pl_eio *s = accept_on(get, true, false, NULL);
	ASSERT_NOT_NULL(s);
	ASSERT(opened == s);
	ASSERT_EQ(strlen(s->sid), 20);
	ASSERT_EQ(srv.eio.sessions.count, 1);
	ASSERT(pl_map_get(&srv.eio.sessions, s->sid) == s);
	pl_eio_poll_get(s, conn(get));
	ASSERT_EQ(get->want_writes, 1); /* the OPEN packet is waiting */
	ASSERT_EQ(get->n_responses, 0);
	int before = barrier_runs;
	pl_eio_poll_writable(s, conn(get));
	ASSERT_EQ(barrier_runs, before + 1);
	ASSERT_EQ(get->n_responses, 1);
	ASSERT_EQ(get->status, 200);
	ASSERT_STR_EQ(get->ctype, "text/plain; charset=UTF-8");
	expect_open(get->body, get->body_len, s, false);
	ASSERT(!test_failed);
	end(get);
	teardown();
}

static void test_handshake_websocket(void)
{
	setup(25000, 20000);
	struct fake *ws = &fakes[0];
	struct pl_eio *s = accept_on(ws, true, true, NULL);
	ASSERT_NOT_NULL(s);
	pl_eio_ws_open(s, conn(ws));
	ASSERT_EQ(ws->n_sends, 0); /* sent at the end of the iteration, not from here */
	iterate();
	ASSERT_EQ(ws->n_sends, 1);
	ASSERT_EQ(ws->barrier_at_write, 1);
	ASSERT_EQ(ws->out[0], 0x81);
	ASSERT_EQ(ws->out[1], ws->out_len - 2);
	expect_open((char *)ws->out + 2, ws->out_len - 2, s, true);
	ASSERT(!test_failed);
	teardown();
}

/* Checks that a request is refused with status and the JSON body of code and message. */
static void expect_refused(struct pl_eio_request *r, bool ws, int status, const char *json)
{
	struct pl_eio_error err;
	ASSERT_NULL(pl_eio_accept(&srv, r, ws, &err));
	ASSERT_EQ(err.status, status);
	char body[160];
	size_t n = pl_eio_error_json(&err, body, sizeof body);
	ASSERT_MEM_EQ(body, n, json, strlen(json));
}

static void test_refusals(void)
{
	setup(25000, 20000);
	struct fake *f = &fakes[0];
	struct pl_eio_request r = request(f, true, NULL, NULL);
	expect_refused(&r, false, 400, "{\"code\":0,\"message\":\"Transport unknown\"}");
	r.transport = "flash";
	expect_refused(&r, false, 400, "{\"code\":0,\"message\":\"Transport unknown\"}");
	r.transport = "websocket";
	expect_refused(&r, false, 400, "{\"code\":3,\"message\":\"Bad request\"}");
	r.transport = "polling";
	r.eio = "3";
	expect_refused(&r, false, 400, "{\"code\":5,\"message\":\"Unsupported protocol version\"}");
	r.eio = "4";
	r.is_get = false;
	expect_refused(&r, false, 400, "{\"code\":2,\"message\":\"Bad handshake method\"}");
	r.is_get = true;
	r.sid = "nosuchsession";
	expect_refused(&r, false, 400, "{\"code\":1,\"message\":\"Session ID unknown\"}");
	srv.stopping = true;
	r.sid = NULL;
	expect_refused(&r, false, 503, "{\"code\":3,\"message\":\"Bad request\"}");
	srv.stopping = false;
	cfg.max_connections = 0;
	expect_refused(&r, false, 503, "{\"code\":3,\"message\":\"Bad request\"}");
	ASSERT_EQ(srv.eio.sessions.count, 0);
	ASSERT_EQ(f->n_responses, 0); /* refusals are answered by the transport */
	/* a cut error body stays NUL-terminated */
	struct pl_eio_error e = {400, 1, "Session ID unknown"};
	char small[8];
	ASSERT_EQ(pl_eio_error_json(&e, small, sizeof small), 7);
	ASSERT_STR_EQ(small, "{\"code\"");
	teardown();
}

static bool ws0_has_output(void)
{
	return fakes[0].out_len > 0;
}

static bool get1_wants_write(void)
{
	return fakes[1].want_writes > 0;
}

static bool ws0_has_two_pings(void)
{
	return fakes[0].out_len >= 6;
}

static bool closed_once(void)
{
	return n_closed > 0;
}

static void test_heartbeat(void)
{
	setup(30, 60);
	struct fake *ws = &fakes[0];
	struct pl_eio *s = ws_session(ws);
	ASSERT_NOT_NULL(s);
	ws->out_len = 0;
	/* a ping after pingInterval */
	uint64_t t0 = uv_hrtime();
	iterate();
	ASSERT_EQ(ws->out_len, 0);
	ASSERT(run_until(ws0_has_output, 2000));
	ASSERT((uv_hrtime() - t0) / 1000000 >= 25);
	ASSERT_MEM_LIT(ws->out, ws->out_len, "\x81\x01" "2");
	/* the pong re-arms: the next event is another ping, not a close */
	pl_eio_ws_message(s, conn(ws), "3", 1, false);
	ASSERT(run_until(ws0_has_two_pings, 2000));
	ASSERT_EQ(n_closed, 0);
	ASSERT_MEM_LIT(ws->out, ws->out_len, "\x81\x01" "2" "\x81\x01" "2");
	/* no pong: closed after pingTimeout, the WebSocket with a normal close */
	t0 = uv_hrtime();
	ASSERT(run_until(closed_once, 2000));
	ASSERT((uv_hrtime() - t0) / 1000000 >= 50);
	ASSERT_STR_EQ(closed_reason, "ping timeout");
	ASSERT_EQ(ws->close_status, 1000);
	ASSERT_EQ(s->state, PL_EIO_STATE_CLOSED);
	ASSERT_EQ(srv.eio.sessions.count, 0);
	teardown();
}

static void test_heartbeat_polling(void)
{
	setup(20, 40);
	struct fake *get = &fakes[0], *get2 = &fakes[1], *post = &fakes[2];
	struct pl_eio *s = polling_session(get);
	ASSERT_NOT_NULL(s);
	char sid[24];
	memcpy(sid, s->sid, sizeof sid);
	ASSERT_NOT_NULL(hold_get(get2, sid));
	ASSERT_EQ(get2->want_writes, 0); /* held: nothing to send */
	ASSERT(run_until(get1_wants_write, 2000));
	poll_write(get2);
	ASSERT_MEM_LIT(get2->body, get2->body_len, "2");
	/* the pong arrives in a POST */
	ASSERT_NOT_NULL(accept_on(post, false, false, sid));
	char pong[] = "3";
	pl_eio_poll_post(s, conn(post), pong, 1);
	ASSERT_EQ(post->status, 200);
	ASSERT_STR_EQ(post->ctype, "text/html");
	ASSERT_MEM_LIT(post->body, post->body_len, "ok");
	end(post);
	ASSERT(!s->awaiting_pong);
	ASSERT_EQ(n_closed, 0);
	teardown();
}

static void test_upgrade(void)
{
	setup(25000, 20000);
	struct fake *get = &fakes[0], *held = &fakes[1], *ws = &fakes[2], *late = &fakes[3];
	struct pl_eio *s = polling_session(get);
	ASSERT_NOT_NULL(s);
	char sid[24];
	memcpy(sid, s->sid, sizeof sid);
	ASSERT_NOT_NULL(hold_get(held, sid));
	ASSERT_EQ(held->n_responses, 0);
	/* the probing WebSocket */
	ASSERT(accept_on(ws, true, true, sid) == s);
	pl_eio_ws_open(s, conn(ws));
	iterate();
	ASSERT_EQ(ws->out_len, 0);
	char probe[] = "2probe";
	pl_eio_ws_message(s, conn(ws), probe, 6, false);
	/* the held GET is released with a noop, the probe answer waits for writable */
	ASSERT_EQ(held->n_responses, 1);
	ASSERT_EQ(held->status, 200);
	ASSERT_MEM_LIT(held->body, held->body_len, "6");
	end(held);
	ASSERT_EQ(ws->want_writes, 1);
	ASSERT_EQ(pl_eio_ws_writable(s, conn(ws)), 0);
	ASSERT_EQ(ws->n_writes, 1);
	ASSERT_MEM_LIT(ws->out, ws->out_len, "\x81\x06" "3probe");
	/* a GET during the upgrade is answered at once with a noop */
	ASSERT_NOT_NULL(hold_get(late, sid));
	ASSERT_MEM_LIT(late->body, late->body_len, "6");
	end(late);
	/* a message queued during the upgrade waits for it */
	ASSERT_EQ(pl_eio_send_text(s, "hi", 2), 0);
	iterate();
	ASSERT_EQ(ws->out_len, 8);
	char upgrade[] = "5";
	pl_eio_ws_message(s, conn(ws), upgrade, 1, false);
	ASSERT(s->websocket);
	iterate();
	ASSERT_MEM_LIT(ws->out, ws->out_len, "\x81\x06" "3probe" "\x81\x03" "4hi");
	/* polling is over for this session */
	struct pl_eio_request r = request(&fakes[4], true, "polling", sid);
	expect_refused(&r, false, 400, "{\"code\":3,\"message\":\"Bad request\"}");
	/* a second WebSocket is closed at once */
	struct pl_eio_error err;
	r = request(&fakes[5], true, "websocket", sid);
	ASSERT_NULL(pl_eio_accept(&srv, &r, true, &err));
	ASSERT_EQ(err.status, 0);
	ASSERT_EQ(fakes[5].close_status, 1000);
	/* messages now arrive over the WebSocket */
	char msg[] = "4hello";
	pl_eio_ws_message(s, conn(ws), msg, 6, false);
	ASSERT_STR_EQ(messages, "t:hello\n");
	teardown();
}

static void test_bad_probe(void)
{
	setup(25000, 20000);
	struct fake *get = &fakes[0], *ws = &fakes[1];
	struct pl_eio *s = polling_session(get);
	ASSERT_NOT_NULL(s);
	ASSERT(accept_on(ws, true, true, s->sid) == s);
	pl_eio_ws_open(s, conn(ws));
	char msg[] = "4early";
	pl_eio_ws_message(s, conn(ws), msg, 6, false);
	/* the WebSocket is refused, polling goes on */
	ASSERT_EQ(ws->close_status, 1000);
	ASSERT_NULL(s->ws_conn);
	ASSERT_EQ(s->state, PL_EIO_STATE_OPEN);
	ASSERT_STR_EQ(messages, "");
	teardown();
}

static void test_get_overlap(void)
{
	setup(25000, 20000);
	struct fake *get = &fakes[0], *a = &fakes[1], *b = &fakes[2];
	struct pl_eio *s = polling_session(get);
	ASSERT_NOT_NULL(s);
	char sid[24];
	memcpy(sid, s->sid, sizeof sid);
	ASSERT_NOT_NULL(hold_get(a, sid));
	ASSERT_NOT_NULL(hold_get(b, sid));
	/* the second GET is a protocol error: 400, and the session ends */
	ASSERT_EQ(b->status, 400);
	ASSERT_NULL(b->ctype);
	ASSERT_EQ(b->body_len, 0);
	ASSERT_STR_EQ(closed_reason, "transport error");
	/* the held one gets a close packet, as the server closed */
	ASSERT_EQ(a->status, 200);
	ASSERT_MEM_LIT(a->body, a->body_len, "1");
	ASSERT_EQ(srv.eio.sessions.count, 0);
	teardown();
}

static void test_get_replaced(void)
{
	setup(25000, 20000);
	struct fake *get = &fakes[0], *a = &fakes[1], *b = &fakes[2];
	struct pl_eio *s = polling_session(get);
	ASSERT_NOT_NULL(s);
	char sid[24];
	memcpy(sid, s->sid, sizeof sid);
	ASSERT_NOT_NULL(hold_get(a, sid));
	a->gone = true; /* the client aborted its held GET */
	ASSERT_NOT_NULL(hold_get(b, sid));
	ASSERT(a->dropped);
	ASSERT_EQ(a->n_responses, 0);
	ASSERT_STR_EQ(closed_reason, "transport close");
	ASSERT_EQ(b->status, 400);
	ASSERT_STR_EQ(b->ctype, "application/json");
	ASSERT_MEM_LIT(b->body, b->body_len, "{\"code\":1,\"message\":\"Session ID unknown\"}");
	teardown();
}

static void test_polling_post(void)
{
	setup(25000, 20000);
	struct fake *get = &fakes[0], *post = &fakes[1], *bad = &fakes[2];
	struct pl_eio *s = polling_session(get);
	ASSERT_NOT_NULL(s);
	char sid[24];
	memcpy(sid, s->sid, sizeof sid);
	ASSERT_NOT_NULL(accept_on(post, false, false, sid));
	char body[] = "4hello\x1e"
		      "4\x1e"
		      "bAQID\x1e"
		      "6\x1e"
		      "4wörld";
	pl_eio_poll_post(s, conn(post), body, sizeof body - 1);
	ASSERT_EQ(post->status, 200);
	ASSERT_MEM_LIT(post->body, post->body_len, "ok");
	ASSERT_STR_EQ(messages, "t:hello\nt:\nb:\x01\x02\x03\nt:wörld\n");
	end(post);
	/* an unparseable payload: 400 and the session ends */
	ASSERT_NOT_NULL(accept_on(bad, false, false, sid));
	char junk[] = "4ok\x1e"
		      "9what";
	pl_eio_poll_post(s, conn(bad), junk, sizeof junk - 1);
	ASSERT_EQ(bad->status, 400);
	ASSERT_EQ(bad->body_len, 0);
	ASSERT_STR_EQ(closed_reason, "parse error");
	ASSERT_EQ(srv.eio.sessions.count, 0);
	teardown();
}

static void test_polling_batch(void)
{
	setup(25000, 20000);
	struct fake *get = &fakes[0], *held = &fakes[1];
	struct pl_eio *s = polling_session(get);
	ASSERT_NOT_NULL(s);
	ASSERT_EQ(pl_eio_send_text(s, "a", 1), 0);
	struct pl_frame *bin = pl_frame_new("\x01\x02\x03", 3, true);
	ASSERT_EQ(pl_eio_send(s, bin), 0);
	pl_frame_unref(bin);
	ASSERT_EQ(pl_eio_send_text(s, "c", 1), 0);
	ASSERT_NOT_NULL(accept_on(held, true, false, s->sid));
	pl_eio_poll_get(s, conn(held));
	ASSERT_EQ(held->want_writes, 1);
	poll_write(held);
	ASSERT_MEM_LIT(held->body, held->body_len, "4a\x1e" "bAQID\x1e" "4c");
	teardown();
}

static void test_close_grace_websocket(void)
{
	setup(25000, 20000);
	struct fake *ws = &fakes[0];
	struct pl_eio *s = ws_session(ws);
	ASSERT_NOT_NULL(s);
	ws->out_len = 0;
	ws->n_sends = 0;
	ASSERT_EQ(pl_eio_send_text(s, "bye", 3), 0);
	pl_eio_close(s, "forced close", true);
	ASSERT_STR_EQ(closed_reason, "forced close");
	ASSERT_EQ(n_closed, 1);
	ASSERT_EQ(s->state, PL_EIO_STATE_CLOSING);
	ASSERT_EQ(pl_eio_send_text(s, "late", 4), -EPIPE);
	ASSERT_EQ(ws->close_status, 0);
	iterate();
	/* the queued message and a close packet leave, then the WebSocket closes */
	ASSERT_MEM_LIT(ws->out, ws->out_len, "\x81\x04" "4bye" "\x81\x01" "1");
	ASSERT_EQ(ws->close_status, 1000);
	/* in one send, told that the close frame follows at once (one TCP segment for both) */
	ASSERT_EQ(ws->n_sends, 1);
	ASSERT(ws->last_more);
	ASSERT_EQ(ws->close_after_more, 1);
	ASSERT_EQ(srv.eio.sessions.count, 0);
	ASSERT_EQ(n_closed, 1);
	teardown();
}

static bool session_table_empty(void)
{
	return srv.eio.sessions.count == 0;
}

static void test_close_grace_polling(void)
{
	setup(25000, 20000);
	struct fake *get = &fakes[0], *held = &fakes[1];
	struct pl_eio *s = polling_session(get);
	ASSERT_NOT_NULL(s);
	char sid[24];
	memcpy(sid, s->sid, sizeof sid);
	/* with a GET held: the close packet goes in it, and the session ends */
	ASSERT_NOT_NULL(hold_get(held, sid));
	ASSERT_EQ(held->want_writes, 0);
	pl_eio_close(s, "forced close", true);
	ASSERT_EQ(s->state, PL_EIO_STATE_CLOSING);
	ASSERT_EQ(srv.eio.sessions.count, 1);
	struct pl_eio_request r = request(&fakes[2], true, "polling", sid);
	struct pl_eio_error err;
	ASSERT_EQ(pl_eio_check(&srv, &r, false, &err), -1); /* no new requests while closing */
	ASSERT_EQ(err.code, 1);
	ASSERT_EQ(held->want_writes, 1);
	poll_write(held);
	ASSERT_MEM_LIT(held->body, held->body_len, "1");
	ASSERT_EQ(srv.eio.sessions.count, 0);
	teardown();

	/* without a GET: the session ends after the grace period */
	setup(25000, 20000);
	s = polling_session(&fakes[0]);
	ASSERT_NOT_NULL(s);
	pl_eio_close(s, "forced close", true);
	uint64_t t0 = uv_hrtime();
	ASSERT(run_until(session_table_empty, 5000));
	ASSERT((uv_hrtime() - t0) / 1000000 >= 1900);
	teardown();
}

static void test_ws_batch_and_partial(void)
{
	setup(25000, 20000);
	struct fake *ws = &fakes[0];
	struct pl_eio *s = ws_session(ws);
	ASSERT_NOT_NULL(s);
	ws->out_len = 0;
	ws->n_sends = 0;
	/* the carrier is busy: frames wait for writable, then leave in one write */
	ws->busy = true;
	pl_eio_send_text(s, "a", 1);
	pl_eio_send_text(s, "b", 1);
	pl_eio_send_text(s, "c", 1);
	iterate();
	ASSERT_EQ(ws->n_sends, 0);
	ASSERT(ws->want_writes >= 1);
	ws->busy = false;
	int before = barrier_runs;
	ASSERT_EQ(pl_eio_ws_writable(s, conn(ws)), 0);
	ASSERT_EQ(ws->n_writes, 1);
	ASSERT_EQ(ws->barrier_at_write, before + 1);
	ASSERT_MEM_LIT(ws->out, ws->out_len, "\x81\x02" "4a" "\x81\x02" "4b" "\x81\x02" "4c");
	/* a direct send the kernel takes in part: the rest waits for writable */
	ws->out_len = 0;
	ws->send_limit = 3;
	int wants = ws->want_writes;
	pl_eio_send_text(s, "xyz", 3);
	pl_eio_send_text(s, "uvw", 3);
	iterate();
	ASSERT_EQ(ws->n_sends, 1);
	ASSERT_EQ(ws->want_writes, wants + 1);
	ASSERT_MEM_LIT(ws->out, ws->out_len, "\x81\x04" "4");
	ASSERT_EQ(pl_eio_ws_writable(s, conn(ws)), 0);
	ASSERT_MEM_LIT(ws->out, ws->out_len, "\x81\x04" "4xyz" "\x81\x04" "4uvw");
	ASSERT_EQ(s->qcount, 0);
	teardown();
}

static void test_send_queue_cap(void)
{
	setup(25000, 20000);
	struct fake *ws = &fakes[0];
	struct pl_eio *s = ws_session(ws);
	ASSERT_NOT_NULL(s);
	cfg.max_send_queue = 100;
	ws->busy = true; /* a slow consumer */
	char chunk[40];
	memset(chunk, 'x', sizeof chunk);
	ASSERT_EQ(pl_eio_send_text(s, chunk, sizeof chunk), 0);
	ASSERT_EQ(pl_eio_send_text(s, chunk, sizeof chunk), 0);
	ASSERT_EQ(pl_eio_send_text(s, chunk, sizeof chunk), -ENOBUFS);
	/* not closed under the caller's feet: at the end of the iteration */
	ASSERT_EQ(s->state, PL_EIO_STATE_OPEN);
	ASSERT_EQ(n_closed, 0);
	ASSERT_EQ(pl_eio_send_text(s, "x", 1), -ENOBUFS);
	iterate();
	ASSERT_EQ(n_closed, 1);
	ASSERT_STR_EQ(closed_reason, "send queue full");
	ASSERT_EQ(ws->close_status, 1000);
	ASSERT_EQ(srv.eio.sessions.count, 0);
	teardown();
}

static void test_client_close(void)
{
	setup(25000, 20000);
	struct fake *get = &fakes[0], *held = &fakes[1], *post = &fakes[2];
	struct pl_eio *s = polling_session(get);
	ASSERT_NOT_NULL(s);
	char sid[24];
	memcpy(sid, s->sid, sizeof sid);
	ASSERT_NOT_NULL(hold_get(held, sid));
	ASSERT_NOT_NULL(accept_on(post, false, false, sid));
	char body[] = "1";
	pl_eio_poll_post(s, conn(post), body, 1);
	ASSERT_STR_EQ(closed_reason, "transport close");
	/* the held GET gets a noop when the client closed */
	ASSERT_MEM_LIT(held->body, held->body_len, "6");
	ASSERT_MEM_LIT(post->body, post->body_len, "ok");
	teardown();
}

TEST_MAIN(TEST(test_handshake_polling), TEST(test_handshake_websocket), TEST(test_refusals),
	  TEST(test_heartbeat), TEST(test_heartbeat_polling), TEST(test_upgrade),
	  TEST(test_bad_probe), TEST(test_get_overlap), TEST(test_get_replaced),
	  TEST(test_polling_post), TEST(test_polling_batch), TEST(test_close_grace_websocket),
	  TEST(test_close_grace_polling), TEST(test_ws_batch_and_partial), TEST(test_send_queue_cap),
	  TEST(test_client_close))
