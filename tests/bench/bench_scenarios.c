/*
 * The scenarios of parley-bench and their measurement. Every run goes through the same phases
 * on a 1 ms tick: ramp (open the connections, at most --concurrency handshakes at a time), prep
 * (fanout/polling: every client logs in; rooms: every client joins its room), measure (traffic
 * for --duration seconds between two /proc samples of the servers, and with --redis-port two
 * INFO samples of their Redis), drain (wait for what is in flight) and done (print the JSON
 * line, close everything). Measured messages carry "~<send time in ns>.<sequence>" in their
 * text; receivers find the '~' with memchr, so a delivery costs one scan and a histogram
 * increment, never an allocation. The store and replay scenarios go through the same phases but
 * send, count and report in bench_history.c, which counts acks rather than deliveries.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define RAMP_BINS 100 /* --ramp-step bins kept for the JSON line */

enum phase {
	PH_RAMP,    /* opening connections */
	PH_PREP,    /* logins or room joins */
	PH_MEASURE, /* measured traffic */
	PH_DRAIN,   /* waiting for messages in flight */
	PH_DONE	    /* reported, closing */
};

/* Scenario state. */
static struct {
	int phase;			/* enum phase */
	uv_timer_t tick;		/* 1 ms tick driving phases and paced sending */
	uint64_t t_phase;		/* uv_hrtime() when the phase began */
	uint64_t t_progress;		/* last time something measured arrived */
	uint64_t t0, t1;		/* measured interval */
	uint64_t ramp_ns;		/* time the ramp took */
	uint64_t t_step;		/* --ramp-step: when the current bin of connections began */
	uint32_t step_mark;		/* --ramp-step: connections complete when it began */
	uint32_t bins;			/* --ramp-step: bins measured */
	uint32_t n_rates;		/* --ramp-step: bins kept in rates */
	double rates[RAMP_BINS];	/* --ramp-step: connections per second in each bin */
	struct bench_proc base, p0, p1; /* server samples: before ramp, interval start and end */
	struct bench_redis r0, r1;	/* --redis-port: Redis at the interval's start and end */
	uint64_t self0, self1;		/* our own CPU time over the interval */
	uint32_t connected;		/* clients ready when the ramp ended */
	uint64_t sent;			/* measured messages sent (echo: requests) */
	uint64_t delivered;		/* measured messages received (echo: acks) */
	uint64_t expected;		/* deliveries the sent messages should cause */
	uint64_t completed;		/* messages every receiver has got */
	uint64_t duplicates;		/* deliveries beyond the expected receivers */
	uint64_t stale;			/* measured-looking messages from before this run */
	uint64_t logins;		/* prep: login events or own join echoes received */
	uint64_t logins_needed;		/* prep: how many make the prep complete */
	uint64_t cycles;		/* churn: connect-login-close cycles done */
	uint64_t cycles_started;	/* churn: connection attempts started */
	uint32_t receivers;		/* fanout: receivers per message */
	uint32_t *senders;		/* client ids that send measured traffic */
	uint32_t nsenders;		/* entries in senders */
	uint32_t next_sender;		/* round-robin position */
	uint32_t *room_count;		/* rooms: members per room */
	bool stalled;			/* no progress for too long */
	bool need_pump;			/* window space freed: send more after this read */
	uint32_t ring_seq[BENCH_RING];	/* sequence number using each in-flight slot */
	uint32_t ring_got[BENCH_RING];	/* deliveries counted for that slot */
	uint32_t ring_want[BENCH_RING]; /* deliveries that complete that slot */
	char pad[60001];		/* --msg-size bytes of padding */
} s;

static bool is_fanout_like(void)
{
	return bench.o.scenario == BENCH_FANOUT || bench.o.scenario == BENCH_POLLING;
}

/* The scenarios of bench_history.c, which count acks rather than deliveries. */
static bool is_history(void)
{
	return bench.o.scenario == BENCH_STORE || bench.o.scenario == BENCH_REPLAY;
}

/* Formats one Engine.IO packet and sends it (bench_client_send). Returns 0 or a negative error. */
int bench_emitf(struct bench_client *cl, const char *fmt, ...)
{
	char buf[61000 + 256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	return bench_client_send(cl, buf, (size_t)n);
}

/* Parses "~<ns>.<seq>" at p (p[0] == '~'); returns false when malformed. */
static bool parse_stamp(const char *p, const char *end, uint64_t *ts, uint32_t *seq)
{
	uint64_t t = 0, q = 0;

	for (p++; p < end && *p >= '0' && *p <= '9'; p++)
		t = t * 10 + (uint64_t)(*p - '0');
	if (p >= end || *p != '.')
		return false;
	for (p++; p < end && *p >= '0' && *p <= '9'; p++)
		q = q * 10 + (uint64_t)(*p - '0');
	*ts = t;
	*seq = (uint32_t)q;
	return true;
}

static void start_more(void)
{
	uint32_t n = bench.o.clients;

	while (bench.next_start < n && bench.opening < bench.o.concurrency && !bench.stopping) {
		struct bench_client *cl = &bench.clients[bench.next_start++];

		bench_client_start(cl);
	}
}

static int send_measured(struct bench_client *cl, uint64_t now)
{
	uint32_t seq = (uint32_t)s.sent;
	uint32_t slot = seq & (BENCH_RING - 1);
	int rc;

	switch (bench.o.scenario) {
	case BENCH_ROOMS:
		rc = bench_emitf(cl,
				 "42/chat,[\"chat "
				 "message\",{\"name\":\"u%u\",\"room\":\"r%u\",\"msg\":\"~%" PRIu64
				 ".%u%s\"}]",
				 cl->id, cl->room, now, seq, s.pad);
		s.ring_want[slot] = s.room_count[cl->room];
		break;
	case BENCH_ECHO:
		rc = bench_emitf(cl, "42%u[\"echo\",\"~%" PRIu64 ".%u%s\"]", cl->next_ack++, now,
				 seq, s.pad);
		cl->acks_out++;
		s.ring_want[slot] = 1;
		break;
	default:
		rc = bench_emitf(cl, "42[\"chat\",{\"msg\":\"~%" PRIu64 ".%u%s\"}]", now, seq,
				 s.pad);
		s.ring_want[slot] = s.receivers;
		break;
	}
	if (rc < 0)
		return rc;
	s.ring_seq[slot] = seq;
	s.ring_got[slot] = 0;
	s.expected += s.ring_want[slot];
	s.sent++;
	return 0;
}

static void enter(int phase);

/* Sends what the rate and the window allow now. */
static void pump(void)
{
	uint64_t now = uv_hrtime(), allowed, budget = 20000;

	if (s.phase != PH_MEASURE || bench.o.scenario == BENCH_IDLE ||
	    bench.o.scenario == BENCH_CHURN || is_history())
		return;
	if (now >= s.t0 + (uint64_t)(bench.o.duration * 1e9)) {
		enter(PH_DRAIN);
		return;
	}
	if (s.nsenders == 0)
		return;
	if (bench.o.rate > 0) {
		uint64_t target = (uint64_t)((double)(now - s.t0) / 1e9 * bench.o.rate) + 1;

		allowed = target > s.sent ? target - s.sent : 0;
	} else {
		allowed = UINT64_MAX;
	}
	if (bench.o.scenario != BENCH_ECHO) {
		uint64_t out = s.sent - s.completed;

		allowed = out >= bench.o.window
			      ? 0
			      : (allowed < bench.o.window - out ? allowed : bench.o.window - out);
	}
	if (allowed > budget)
		allowed = budget;
	while (allowed > 0) {
		uint32_t tries;
		struct bench_client *cl = NULL;

		for (tries = 0; tries < s.nsenders; tries++) {
			struct bench_client *c = &bench.clients[s.senders[s.next_sender]];

			s.next_sender = (s.next_sender + 1) % s.nsenders;
			if (c->state == BENCH_CL_READY &&
			    (bench.o.scenario != BENCH_ECHO || c->acks_out < bench.o.window)) {
				cl = c;
				break;
			}
		}
		if (!cl)
			break;
		if (send_measured(cl, now) < 0)
			break;
		allowed--;
	}
}

static void count_delivery(struct bench_client *cl, uint32_t seq, uint64_t ts, uint64_t now)
{
	uint32_t slot = seq & (BENCH_RING - 1);

	if (s.t0 == 0 || ts < s.t0) {
		/* Sent before this run: a server replaying stored history (Parley does on login).
		 */
		s.stale++;
		return;
	}
	bench_hist_add(&bench.hist, now > ts ? now - ts : 0);
	s.delivered++;
	s.t_progress = now;
	if (s.ring_seq[slot] != seq)
		return;
	if (s.ring_got[slot] >= s.ring_want[slot]) {
		/* More copies than receivers: the server sent one twice, or to the sender. */
		if (s.duplicates++ < 3)
			bench_log("extra delivery of message %u (client %u)", seq, cl->id);
		return;
	}
	if (++s.ring_got[slot] == s.ring_want[slot]) {
		s.completed++;
		s.need_pump = true;
	}
}

/* The --msg-size padding (empty, or a space and msg_size - 1 'x'); valid for the whole run. */
const char *bench_padding(void)
{
	return s.pad;
}

/* True while the measured interval lasts: measured traffic may still be sent. */
bool bench_measuring(uint64_t now)
{
	return s.phase == PH_MEASURE && now < s.t0 + (uint64_t)(bench.o.duration * 1e9);
}

/* Records a measured answer: its latency since sent (uv_hrtime() ns) and the progress. */
void bench_measured(uint64_t sent, uint64_t now)
{
	bench_hist_add(&bench.hist, now > sent ? now - sent : 0);
	s.t_progress = now;
}

/* Counts one login or join of the prep as answered. */
void bench_prep_progress(uint64_t now)
{
	s.logins++;
	s.t_progress = now;
}

/* Called when a client's namespace CONNECT was answered. */
void bench_on_ready(struct bench_client *cl, uint64_t now)
{
	(void)now;
	if (bench.o.scenario == BENCH_CHURN) {
		if (bench_emitf(cl, "42[\"login\",{\"name\":\"c%u.%u\",\"userid\":\"%u\"}]", cl->id,
				cl->gen, cl->id) < 0)
			bench_client_close(cl, false);
		return;
	}
	if (s.phase == PH_RAMP)
		start_more();
}

/*
 * The length of an event packet without its recovery offset: with connection state recovery on
 * (Parley's default), an event the server sends without an ack id ends with ,"<digits>"].
 */
static size_t without_offset(const char *p, size_t len)
{
	size_t i = len;
	if (i < 4 || p[i - 1] != ']' || p[i - 2] != '"')
		return len;
	i -= 2;
	while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
		i--;
	if (i < 2 || i == len - 2 || p[i - 1] != '"' || p[i - 2] != ',')
		return len;
	return i - 2; /* the comma's position */
}

/* Called for each Socket.IO packet (without the Engine.IO '4') of a connected client. */
void bench_on_packet(struct bench_client *cl, const char *p, size_t len, uint64_t now)
{
	const char *end = p + len, *t;
	uint64_t ts;
	uint32_t seq;

	if (is_history()) {
		bench_history_packet(cl, p, len, now);
		return;
	}
	if (p[0] == '3' && bench.o.scenario == BENCH_ECHO) {
		if (cl->acks_out > 0)
			cl->acks_out--;
		t = memchr(p, '~', len);
		if (t && parse_stamp(t, end, &ts, &seq))
			count_delivery(cl, seq, ts, now);
		if (bench.o.rate <= 0 && s.phase == PH_MEASURE && cl->acks_out < bench.o.window &&
		    now < s.t0 + (uint64_t)(bench.o.duration * 1e9))
			send_measured(cl, now);
		else
			s.need_pump = true;
		return;
	}
	if (p[0] != '2')
		return;
	/* short packets are matched as they would read without the offset */
	char plain[256];
	size_t body = without_offset(p, len);
	if (body != len && body + 1 < sizeof plain) {
		memcpy(plain, p, body);
		plain[body] = ']';
		p = plain;
		len = body + 1;
		end = p + len;
	}
	t = memchr(p, '~', len);
	if (t) {
		if (parse_stamp(t, end, &ts, &seq))
			count_delivery(cl, seq, ts, now);
		return;
	}
	if (len > 10 && memcmp(p, "2[\"login\",", 10) == 0) {
		if (bench.o.scenario == BENCH_CHURN) {
			char want[48];
			int n = snprintf(want, sizeof(want), "\"c%u.%u\"]", cl->id, cl->gen);

			if ((size_t)n == len - 10 && memcmp(p + 10, want, (size_t)n) == 0) {
				bench_hist_add(&bench.hist, now - cl->t_start);
				s.cycles++;
				s.t_progress = now;
				bench_client_close(cl, true);
			}
			return;
		}
		s.logins++;
		s.t_progress = now;
		return;
	}
	if (bench.o.scenario == BENCH_ROOMS && !cl->joined) {
		char want[40];
		int n = snprintf(want, sizeof(want), "\"j%u\"]", cl->id);

		if (len > (size_t)n && memcmp(end - n, want, (size_t)n) == 0) {
			cl->joined = true;
			s.logins++;
			s.t_progress = now;
		}
	}
}

/* Called once every handle of a client is closed. */
void bench_on_closed(struct bench_client *cl, bool failed)
{
	(void)failed;
	cl->state = BENCH_CL_IDLE;
	if (bench.stopping)
		return;
	if (s.phase == PH_RAMP) {
		start_more();
		return;
	}
	if (bench.o.scenario == BENCH_CHURN && s.phase == PH_MEASURE && bench.o.rate <= 0) {
		cl->gen++;
		s.cycles_started++;
		bench_client_start(cl);
	}
}

/* Called after each read: refills the window when deliveries freed room in it. */
void bench_on_read_done(void)
{
	if (s.need_pump) {
		s.need_pump = false;
		pump();
	}
}

static void fmt_ms(char *out, size_t n, uint64_t ns)
{
	snprintf(out, n, "%.3f", (double)ns / 1e6);
}

/* Appends "key":value to a JSON line, the value formatted as printf would. */
void bench_json_add(struct bench_json *j, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (j->n + 8 >= sizeof(j->b))
		return;
	j->n += (size_t)snprintf(j->b + j->n, sizeof(j->b) - j->n, "%s\"%s\":", j->n > 1 ? "," : "",
				 key);
	va_start(ap, fmt);
	j->n += (size_t)vsnprintf(j->b + j->n, sizeof(j->b) - j->n, fmt, ap);
	va_end(ap);
	if (j->n >= sizeof(j->b))
		j->n = sizeof(j->b) - 1;
}

static void jnum(struct bench_json *j, const char *key, bool ok, double v)
{
	if (ok)
		bench_json_add(j, key, "%.6g", v);
	else
		bench_json_add(j, key, "null");
}

/* The latency percentiles, formatted by fmt_ms: p[0..3] are p50, p90, p99 and max. */
static void add_latency(struct bench_json *j, char p[4][32])
{
	static const char *const keys[] = {"p50_ms", "p90_ms", "p99_ms", "max_ms"};
	size_t i;

	for (i = 0; i < 4; i++)
		bench_json_add(j, keys[i], "%s", p[i]);
}

/*
 * --redis-port: what Redis did over the measured interval per message (a broadcast, an ack or a
 * join), in the JSON line, and its summary for stderr in line: its CPU, the commands it ran (a
 * script's own calls count, as INFO commandstats counts them) and the PUBLISHes among them.
 */
static void redis_report(struct bench_json *j, double msgs, double secs, char *line, size_t n)
{
	bool ok = s.r0.ok && s.r1.ok && msgs > 0;
	double cpu = ok ? (double)(s.r1.cpu_us - s.r0.cpu_us) : 0;
	double cmds = ok ? (double)(s.r1.commands - s.r0.commands) : 0;
	double pubs = ok ? (double)(s.r1.publish - s.r0.publish) : 0;

	if (!bench.o.redis_port)
		return;
	jnum(j, "redis_cpu_us_per_message", ok, ok ? cpu / msgs : 0);
	jnum(j, "redis_commands_per_message", ok, ok ? cmds / msgs : 0);
	jnum(j, "redis_publish_per_message", ok, ok ? pubs / msgs : 0);
	jnum(j, "redis_cpu_pct", ok, cpu / (secs * 1e4));
	if (ok)
		snprintf(line, n,
			 "  redis CPU %.2f us/message (%.0f %%), %.3f commands and %.3f PUBLISH "
			 "per message",
			 cpu / msgs, cpu / (secs * 1e4), cmds / msgs, pubs / msgs);
	else
		snprintf(line, n, "  redis figures unavailable");
}

static int report(void)
{
	const struct bench_opts *o = &bench.o;
	double secs = (double)(s.t1 - s.t0) / 1e9;
	bool srv = s.p0.ok && s.p1.ok;
	double cpu_us = srv ? (double)(s.p1.cpu_us - s.p0.cpu_us) : 0;
	double self_us = (double)(s.self1 - s.self0);
	uint64_t got = s.delivered - s.duplicates;
	uint64_t lost = s.expected > got ? s.expected - got : 0;
	const char *unit = "delivery", *what = "deliveries";
	double count = (double)s.delivered;
	char pct[4][32], key[64], redis_line[160] = "";
	struct bench_json j = {.n = 1};
	bool ok;

	j.b[0] = '{';
	if (secs <= 0)
		secs = 1e-9;
	bench_json_add(&j, "scenario", "\"%s\"", o->label);
	bench_json_add(&j, "clients", "%u", o->clients);
	if (o->scenario == BENCH_CHURN)
		s.connected = bench.ever_ready;
	bench_json_add(&j, "connected", "%u", s.connected);
	bench_json_add(&j, "failed", "%u", bench.failed);
	bench_json_add(&j, "server_closed", "%u", bench.server_closed);
	bench_json_add(&j, "duration_s", "%.3f", secs);
	bench_json_add(&j, "ramp_s", "%.3f", (double)s.ramp_ns / 1e9);
	if (o->ramp_step) {
		char rates[RAMP_BINS * 10 + 3];
		size_t n = 0;

		rates[n++] = '[';
		for (uint32_t k = 0; k < s.n_rates; k++)
			n += (size_t)snprintf(rates + n, sizeof(rates) - n, "%s%.0f", k ? "," : "",
					      s.rates[k]);
		snprintf(rates + n, sizeof(rates) - n, "]");
		bench_json_add(&j, "ramp_step", "%u", o->ramp_step);
		bench_json_add(&j, "ramp_rates", "%s", rates);
	}
	fmt_ms(pct[0], sizeof(pct[0]), bench_hist_pct(&bench.hist, 50));
	fmt_ms(pct[1], sizeof(pct[1]), bench_hist_pct(&bench.hist, 90));
	fmt_ms(pct[2], sizeof(pct[2]), bench_hist_pct(&bench.hist, 99));
	fmt_ms(pct[3], sizeof(pct[3]), bench.hist.max);
	ok = bench.failed == 0 && bench.server_closed == 0 && !s.stalled && s.connected > 0;
	bench_log("%s: %u/%u connected (ramp %.2f s), %.2f s measured", o->label, s.connected,
		  o->clients, (double)s.ramp_ns / 1e9, secs);
	switch (o->scenario) {
	case BENCH_IDLE:
		bench_json_add(&j, "connections_held", "%u", bench.ready);
		bench_json_add(&j, "pings", "%" PRIu64, bench.pings);
		jnum(&j, "server_rss_base_kb", s.base.ok, (double)s.base.rss_kb);
		jnum(&j, "rss_per_conn_kb", srv && s.base.ok && s.connected,
		     s.connected ? ((double)s.p0.rss_kb - (double)s.base.rss_kb) / s.connected : 0);
		jnum(&j, "server_cpu_pct", srv, cpu_us / (secs * 1e4));
		ok = ok && bench.ready == o->clients;
		count = 0;
		break;
	case BENCH_CHURN:
		unit = "cycle";
		what = "cycles";
		count = (double)s.cycles;
		bench_json_add(&j, "cycles", "%" PRIu64, s.cycles);
		bench_json_add(&j, "cycles_per_s", "%.6g", (double)s.cycles / secs);
		add_latency(&j, pct);
		jnum(&j, "server_rss_base_kb", s.base.ok, (double)s.base.rss_kb);
		ok = ok && s.cycles > 0;
		break;
	case BENCH_STORE:
	case BENCH_REPLAY:
		ok = bench_history_report(&j, secs, &count, &unit) && ok;
		what = o->scenario == BENCH_STORE ? "acks" : "joins";
		add_latency(&j, pct);
		break;
	default:
		if (o->scenario == BENCH_ECHO) {
			unit = "round_trip";
			what = "round trips";
		}
		bench_json_add(&j, "senders", "%u", s.nsenders);
		if (o->scenario == BENCH_ROOMS)
			bench_json_add(&j, "room_size", "%u", o->room_size);
		bench_json_add(&j, "rate", "%.6g", o->rate);
		bench_json_add(&j, "window", "%u", o->window);
		bench_json_add(&j, "messages", "%" PRIu64, s.sent);
		bench_json_add(&j, o->scenario == BENCH_ECHO ? "round_trips" : "deliveries",
			       "%" PRIu64, s.delivered);
		bench_json_add(&j, "lost", "%" PRIu64, lost);
		bench_json_add(&j, "duplicates", "%" PRIu64, s.duplicates);
		bench_json_add(&j, "stale", "%" PRIu64, s.stale);
		bench_json_add(&j, "msgs_per_s", "%.6g", (double)s.sent / secs);
		bench_json_add(&j,
			       o->scenario == BENCH_ECHO ? "round_trips_per_s" : "deliveries_per_s",
			       "%.6g", (double)s.delivered / secs);
		add_latency(&j, pct);
		ok = ok && lost == 0 && s.duplicates == 0 && s.delivered > 0;
		break;
	}
	if (count > 0) {
		snprintf(key, sizeof(key), "server_cpu_us_per_%s", unit);
		jnum(&j, key, srv, cpu_us / count);
		snprintf(key, sizeof(key), "bench_cpu_us_per_%s", unit);
		jnum(&j, key, true, self_us / count);
	}
	if (o->scenario != BENCH_IDLE)
		jnum(&j, "server_cpu_pct", srv, cpu_us / (secs * 1e4));
	jnum(&j, "server_rss_kb", s.p1.ok, (double)s.p1.rss_kb);
	if (o->npids > 1)
		bench_json_add(&j, "servers", "%u", o->npids);
	redis_report(&j, is_history() || o->scenario == BENCH_CHURN ? count : (double)s.sent, secs,
		     redis_line, sizeof(redis_line));
	bench_json_add(&j, "ok", ok ? "true" : "false");
	printf("%s}\n", j.b);
	fflush(stdout);

	if (o->scenario == BENCH_IDLE) {
		if (srv && s.base.ok && s.connected)
			bench_log("  %u held, server RSS %" PRIu64 " -> %" PRIu64
				  " KiB = %.2f KiB/conn",
				  bench.ready, s.base.rss_kb, s.p0.rss_kb,
				  ((double)s.p0.rss_kb - (double)s.base.rss_kb) / s.connected);
	} else {
		bench_log("  %.0f %s/s, latency p50 %s p90 %s p99 %s max %s ms", count / secs, what,
			  pct[0], pct[1], pct[2], pct[3]);
		if (srv && count > 0)
			bench_log("  server CPU %.3f us/%s (%.0f %%), RSS %" PRIu64
				  " KiB; bench CPU %.3f us/%s",
				  cpu_us / count, unit, cpu_us / (secs * 1e4), s.p1.rss_kb,
				  self_us / count, unit);
		if (lost && o->scenario != BENCH_CHURN && !is_history())
			bench_log("  LOST %" PRIu64 " of %" PRIu64 " deliveries", lost, s.expected);
	}
	if (redis_line[0])
		bench_log("%s", redis_line);
	if (bench.failed || bench.server_closed || s.stalled)
		bench_log("  %u connection attempts failed, %u dropped by the server%s",
			  bench.failed, bench.server_closed, s.stalled ? ", traffic stalled" : "");
	return ok ? 0 : 1;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (h->type == UV_TCP) {
		struct bench_conn *c = h->data;

		bench_client_close(c->cl, false);
	} else if (!uv_is_closing(h)) {
		uv_close(h, NULL);
	}
}

static void prepare_senders(void)
{
	const struct bench_opts *o = &bench.o;
	uint32_t i, n = o->clients;

	s.senders = calloc(n ? n : 1, sizeof(*s.senders));
	if (!s.senders)
		return;
	for (i = 0; i < n; i++) {
		const struct bench_client *cl = &bench.clients[i];

		if (o->scenario == BENCH_ECHO || (is_fanout_like() && i < o->senders) ||
		    (o->scenario == BENCH_ROOMS && i % o->room_size < o->senders))
			s.senders[s.nsenders++] = cl->id;
	}
}

static void enter(int phase)
{
	const struct bench_opts *o = &bench.o;
	uint64_t now = uv_hrtime();
	uint32_t i;

	s.phase = phase;
	s.t_phase = now;
	s.t_progress = now;
	switch (phase) {
	case PH_PREP:
		s.connected = bench.ready;
		if (o->scenario == BENCH_ROOMS) {
			s.logins_needed = bench.ready;
			for (i = 0; i < o->clients; i++) {
				struct bench_client *cl = &bench.clients[i];

				if (cl->state == BENCH_CL_READY)
					bench_emitf(cl,
						    "42/chat,[\"chat "
						    "message\",{\"name\":\"u%u\",\"room\":\"r%u\","
						    "\"msg\":\"j%u\"}]",
						    cl->id, cl->room, cl->id);
			}
		} else if (is_history()) {
			s.logins_needed = bench_history_prep();
		} else if (is_fanout_like() && o->login) {
			s.logins_needed = (uint64_t)bench.ready * bench.ready;
			for (i = 0; i < o->clients; i++) {
				struct bench_client *cl = &bench.clients[i];

				if (cl->state == BENCH_CL_READY)
					bench_emitf(
					    cl,
					    "42[\"login\",{\"name\":\"u%u\",\"userid\":\"%u\"}]",
					    cl->id, cl->id);
			}
		}
		break;
	case PH_MEASURE:
		prepare_senders();
		s.receivers = bench.ready > 0 ? bench.ready - 1 : 0;
		s.p0 = bench_servers_sample();
		s.r0 = bench_redis_sample(o->redis_port);
		s.self0 = bench_self_cpu_us();
		memset(&bench.hist, 0, sizeof(bench.hist));
		s.t0 = uv_hrtime();
		if (o->scenario == BENCH_CHURN && o->rate <= 0) {
			for (i = 0; i < o->clients; i++) {
				s.cycles_started++;
				bench_client_start(&bench.clients[i]);
			}
		}
		if (is_history())
			bench_history_start(s.t0);
		pump();
		break;
	case PH_DRAIN:
		if (o->scenario == BENCH_CHURN || o->scenario == BENCH_IDLE)
			s.t1 = now;
		break;
	case PH_DONE:
		if (s.t1 == 0)
			s.t1 = now;
		s.p1 = bench_servers_sample();
		s.r1 = bench_redis_sample(o->redis_port);
		s.self1 = bench_self_cpu_us();
		break;
	default: break;
	}
}

/* Churn at a fixed rate: start idle slots as the rate allows. */
static void churn_paced(uint64_t in_phase)
{
	uint64_t target = (uint64_t)((double)in_phase / 1e9 * bench.o.rate) + 1;
	uint32_t i;

	for (i = 0; i < bench.o.clients && s.cycles_started < target; i++) {
		struct bench_client *cl = &bench.clients[i];

		if (cl->state != BENCH_CL_IDLE || cl->handles > 0)
			continue;
		cl->gen++;
		s.cycles_started++;
		bench_client_start(cl);
	}
}

static bool drained(void)
{
	uint32_t i;

	if (bench.o.scenario == BENCH_CHURN) {
		for (i = 0; i < bench.o.clients; i++)
			if (bench.clients[i].state != BENCH_CL_IDLE)
				return false;
		return true;
	}
	if (is_history())
		return !bench_history_waiting();
	return s.delivered >= s.expected;
}

/*
 * --ramp-step: closes the current bin of connections once it holds ramp_step of them (or the
 * ramp is over) and logs its rate, so that an accept rate falling with the number held shows.
 */
static void ramp_steps(uint64_t now, bool last)
{
	uint32_t got = bench.ever_ready - s.step_mark;
	double rate;

	if (!s.t_step)
		s.t_step = s.t_phase;
	/* bins end at multiples of ramp_step (give or take a tick's connections), so that the
	 * last one is short only when --clients is not a multiple */
	if (!got || (bench.ever_ready < (s.bins + 1) * bench.o.ramp_step && !last))
		return;
	s.bins++;
	rate = (double)got / ((double)(now - s.t_step) / 1e9 + 1e-9);
	if (s.n_rates < RAMP_BINS)
		s.rates[s.n_rates++] = rate;
	bench_log("ramp: %u connected, %.0f/s over the last %u", bench.ever_ready, rate, got);
	s.step_mark = bench.ever_ready;
	s.t_step = now;
}

static void tick_cb(uv_timer_t *t)
{
	const struct bench_opts *o = &bench.o;
	uint64_t now = uv_hrtime(), in_phase = now - s.t_phase;
	static uint32_t last_seen;
	int rc;

	(void)t;
	switch (s.phase) {
	case PH_RAMP:
		start_more();
		if (bench.ever_ready + bench.failed != last_seen) {
			last_seen = bench.ever_ready + bench.failed;
			s.t_progress = now;
		}
		if (o->ramp_step)
			ramp_steps(now, bench.next_start >= o->clients && bench.opening == 0);
		if (bench.next_start >= o->clients && bench.opening == 0) {
			s.ramp_ns = in_phase;
			if (o->ramp_step)
				bench_log("ramp done: %u connected in %.3f s", bench.ever_ready,
					  (double)in_phase / 1e9);
			enter(PH_PREP);
		} else if (now - s.t_progress > 10000000000ull) {
			bench_log("ramp stalled with %u connections opening", bench.opening);
			s.ramp_ns = in_phase;
			s.stalled = true;
			s.connected = bench.ready;
			enter(PH_DONE);
		}
		break;
	case PH_PREP:
		if (o->scenario == BENCH_IDLE) {
			if (in_phase > 1000000000ull)
				enter(PH_MEASURE);
		} else if (s.logins >= s.logins_needed) {
			if (in_phase > 200000000ull || o->scenario != BENCH_ROOMS)
				enter(PH_MEASURE);
		} else if (now - s.t_progress > 2000000000ull) {
			bench_log("prep: %" PRIu64 " of %" PRIu64 " login/join events, going on",
				  s.logins, s.logins_needed);
			enter(PH_MEASURE);
		}
		break;
	case PH_MEASURE:
		if (o->scenario == BENCH_IDLE || o->scenario == BENCH_CHURN) {
			if (in_phase >= (uint64_t)(o->duration * 1e9))
				enter(PH_DRAIN);
			else if (o->scenario == BENCH_CHURN && o->rate > 0)
				churn_paced(in_phase);
			break;
		}
		if (is_history() && in_phase >= (uint64_t)(o->duration * 1e9))
			enter(PH_DRAIN);
		pump();
		if (s.phase == PH_MEASURE &&
		    (is_history() ? bench_history_waiting() : s.sent > s.completed) &&
		    now - s.t_progress > 5000000000ull) {
			s.stalled = true;
			enter(PH_DRAIN);
		}
		break;
	case PH_DRAIN:
		if (drained() || in_phase > 3000000000ull || s.stalled ||
		    o->scenario == BENCH_IDLE) {
			if (o->scenario != BENCH_CHURN && o->scenario != BENCH_IDLE)
				s.t1 = drained() ? s.t_progress : now;
			enter(PH_DONE);
		}
		break;
	default: break;
	}
	if (s.phase == PH_DONE) {
		rc = report();
		bench.stopping = true;
		uv_walk(bench.loop, close_walk, NULL);
		s.phase = rc == 0 ? PH_DONE : -1;
	}
}

/*
 * Runs the scenario chosen in bench.o on bench.loop until it is over, printing the JSON line.
 * Returns 0 when the run was clean (everything connected, nothing lost), 1 otherwise.
 */
int bench_scenario_run(void)
{
	const struct bench_opts *o = &bench.o;
	uint32_t i, rooms;
	int rc;

	memset(s.pad, 'x', o->msg_size);
	s.pad[o->msg_size] = '\0';
	if (o->msg_size > 0)
		s.pad[0] = ' ';
	rooms = (o->clients + o->room_size - 1) / o->room_size;
	s.room_count = calloc(rooms ? rooms : 1, sizeof(*s.room_count));
	if (!s.room_count)
		return 1;
	for (i = 0; i < o->clients; i++) {
		bench.clients[i].room = i / o->room_size;
		s.room_count[bench.clients[i].room]++;
	}
	s.base = bench_servers_sample();
	if (o->npids && !s.base.ok)
		bench_log("cannot read every --server-pid in /proc: server figures will be null");
	if (o->redis_port && !bench_redis_sample(o->redis_port).ok)
		bench_log("cannot read INFO of 127.0.0.1:%d: Redis figures will be null",
			  o->redis_port);
	rc = uv_timer_init(bench.loop, &s.tick);
	if (rc == 0)
		rc = uv_timer_start(&s.tick, tick_cb, 1, 1);
	if (rc < 0) {
		bench_log("timer: %s", uv_strerror(rc));
		return 1;
	}
	s.phase = PH_RAMP;
	s.t_phase = s.t_progress = uv_hrtime();
	if (o->scenario == BENCH_CHURN) {
		s.connected = 0;
		enter(PH_MEASURE);
	} else {
		start_more();
	}
	uv_run(bench.loop, UV_RUN_DEFAULT);
	rc = s.phase == PH_DONE ? 0 : 1;
	free(s.senders);
	free(s.room_count);
	return rc;
}
