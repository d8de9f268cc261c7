/*
 * The chat-history scenarios of parley-bench. They speak Parley's chat app (rooms, acks that
 * report storage), which the Node reference server does not have. "store": every client logs
 * in, joins a room of its own and keeps --window chat messages in flight, each with an ack id;
 * Parley answers a chat once it is committed to SQLite ({ok, id, delivered}), or with
 * {stored:false} when it was not stored (the server runs with --no-history, or the commit
 * failed). "replay": every client logs in, then joins and leaves rooms of a database filled
 * beforehand, one room at a time. Each join makes Parley replay the room's newest stored
 * messages as "chat" events marked history:true; the ack of the leave, sent after them on the
 * same connection, ends the cycle. bench_scenarios.c runs the phases and the /proc sampling;
 * this file sends, reads the acks and reports its own figures.
 */
#define _GNU_SOURCE /* memmem() */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define PREP_LOGIN_ID 1000000000000ull /* ack id of a login; measured ids stay below 2^32 */
#define PREP_JOIN_ID  1000000000001ull /* ack id of the store scenario's room join */

static struct {
	uint64_t sent;	     /* store: chats sent; replay: join/leave cycles started */
	uint64_t done;	     /* store: chats acknowledged; replay: cycles completed */
	uint64_t stored;     /* store: acks carrying the stored message's id */
	uint64_t not_stored; /* store: acks saying stored:false */
	uint64_t refused;    /* acks saying ok:false, or ok:true without what they should say */
	uint64_t deliveries; /* store: the acks' "delivered" counts summed */
	uint64_t history;    /* replay: history:true chat events of completed cycles */
	uint64_t unmatched;  /* acks whose id is not in flight */
	uint32_t seq;	     /* store: the next chat's ack id */
	uint32_t ring_id[BENCH_RING]; /* store: the ack id in flight in each slot */
	uint64_t ring_ts[BENCH_RING]; /* store: when that chat was sent; 0 when the slot is free */
} h;

static bool has(const char *p, size_t len, const char *what)
{
	return memmem(p, len, what, strlen(what)) != NULL;
}

/* Counts an ack that is not the answer expected; logs the first few. */
static void refuse(const struct bench_client *cl, const char *p, size_t len)
{
	if (h.refused++ < 3)
		bench_log("client %u: unexpected answer %.*s", cl->id, (int)(len > 200 ? 200 : len),
			  p);
}

static int send_chat(struct bench_client *cl, uint64_t now)
{
	uint32_t id = h.seq, slot = id & (BENCH_RING - 1);

	if (h.ring_ts[slot] != 0)
		return -1; /* cannot happen: clients × window is at most half the ring */
	if (bench_emitf(cl, "42%u[\"chat\",{\"room\":\"r%u\",\"msg\":\"m%u%s\"}]", id, cl->room, id,
			bench_padding()) < 0)
		return -1;
	h.seq++;
	h.ring_id[slot] = id;
	h.ring_ts[slot] = now;
	h.sent++;
	cl->acks_out++;
	return 0;
}

/* The k-th room of a client: client c of N cycles through r(c), r(c+N), r(c+2N), ... */
static uint32_t cycle_room(const struct bench_client *cl, uint32_t k)
{
	uint32_t n = bench.o.clients, mine = (bench.o.rooms - 1 - cl->id) / n + 1;

	return cl->id + (k % mine) * n;
}

/* Joins the client's next room and leaves it at once: the leave's ack comes after the replay. */
static int send_cycle(struct bench_client *cl, uint64_t now)
{
	uint32_t k = cl->next_ack, room = cycle_room(cl, k);

	if (bench_emitf(cl, "42%u[\"join\",\"r%u\"]", 2 * k, room) < 0 ||
	    bench_emitf(cl, "42%u[\"leave\",\"r%u\"]", 2 * k + 1, room) < 0)
		return -1;
	cl->next_ack++;
	cl->acks_out = 1;
	cl->replayed = 0;
	cl->t_sent = now;
	h.sent++;
	return 0;
}

/* Sends what a client may have in flight: its window of chats, or its next join/leave cycle. */
static void refill(struct bench_client *cl, uint64_t now)
{
	if (bench.o.scenario == BENCH_REPLAY) {
		if (cl->acks_out == 0)
			send_cycle(cl, now);
		return;
	}
	while (cl->acks_out < bench.o.window && send_chat(cl, now) == 0)
		;
}

/*
 * Sends the prep of every connected client: a login, and in the store scenario the join of its
 * own room. Returns the number of acks that complete the prep.
 */
uint64_t bench_history_prep(void)
{
	uint64_t need = 0;
	uint32_t i;

	for (i = 0; i < bench.o.clients; i++) {
		struct bench_client *cl = &bench.clients[i];

		if (cl->state != BENCH_CL_READY)
			continue;
		if (bench_emitf(cl, "42%llu[\"login\",{\"name\":\"u%u\",\"userid\":\"%u\"}]",
				PREP_LOGIN_ID, cl->id, cl->id) == 0)
			need++;
		if (bench.o.scenario == BENCH_STORE &&
		    bench_emitf(cl, "42%llu[\"join\",\"r%u\"]", PREP_JOIN_ID, cl->room) == 0)
			need++;
	}
	return need;
}

/* Starts the measured traffic on every connected client. */
void bench_history_start(uint64_t now)
{
	uint32_t i;

	for (i = 0; i < bench.o.clients; i++) {
		struct bench_client *cl = &bench.clients[i];

		if (cl->state == BENCH_CL_READY)
			refill(cl, now);
	}
}

static void store_ack(struct bench_client *cl, uint64_t id, const char *p, size_t len, uint64_t now)
{
	uint32_t slot = (uint32_t)id & (BENCH_RING - 1);
	const char *d;
	uint64_t ts;

	if (id > UINT32_MAX || h.ring_ts[slot] == 0 || h.ring_id[slot] != id || cl->acks_out == 0) {
		h.unmatched++;
		return;
	}
	ts = h.ring_ts[slot];
	h.ring_ts[slot] = 0;
	cl->acks_out--;
	h.done++;
	if (has(p, len, "\"ok\":false"))
		refuse(cl, p, len);
	else if (has(p, len, "\"stored\":false"))
		h.not_stored++;
	else if (has(p, len, "\"id\":"))
		h.stored++;
	else
		refuse(cl, p, len);
	d = memmem(p, len, "\"delivered\":", 12);
	if (d)
		h.deliveries += strtoull(d + 12, NULL, 10);
	bench_measured(ts, now);
	if (bench_measuring(now))
		refill(cl, now);
}

static void cycle_ack(struct bench_client *cl, uint64_t id, const char *p, size_t len, uint64_t now)
{
	uint64_t k = cl->next_ack - 1;

	if (cl->acks_out == 0 || (id != 2 * k && id != 2 * k + 1)) {
		h.unmatched++;
		return;
	}
	if (has(p, len, "\"ok\":false"))
		refuse(cl, p, len);
	if (id == 2 * k)
		return; /* the join's ack: its replay follows */
	cl->acks_out = 0;
	h.done++;
	h.history += cl->replayed;
	bench_measured(cl->t_sent, now);
	if (bench_measuring(now))
		refill(cl, now);
}

/*
 * Handles a Socket.IO packet (without the Engine.IO '4') of a connected client: acks ("3<id>[..]")
 * and, in the replay scenario, the history events a join brings. Everything else (the login
 * broadcasts, live chat of a shared room) is ignored.
 */
void bench_history_packet(struct bench_client *cl, const char *p, size_t len, uint64_t now)
{
	const char *end = p + len, *q = p + 1;
	uint64_t id = 0;

	if (p[0] == '2') {
		if (bench.o.scenario == BENCH_REPLAY && cl->acks_out && len > 8 &&
		    memcmp(p, "2[\"chat\",", 9) == 0 && has(p, len, "\"history\":true"))
			cl->replayed++;
		return;
	}
	if (p[0] != '3' || q >= end || *q < '0' || *q > '9')
		return;
	for (; q < end && *q >= '0' && *q <= '9'; q++)
		id = id * 10 + (uint64_t)(*q - '0');
	if (id >= PREP_LOGIN_ID) {
		if (has(q, (size_t)(end - q), "\"ok\":false"))
			refuse(cl, p, len);
		bench_prep_progress(now);
	} else if (bench.o.scenario == BENCH_STORE) {
		store_ack(cl, id, q, (size_t)(end - q), now);
	} else {
		cycle_ack(cl, id, q, (size_t)(end - q), now);
	}
}

/* True while measured messages (or cycles) wait for their acks. */
bool bench_history_waiting(void)
{
	return h.done < h.sent;
}

/*
 * Adds the scenario's figures to the JSON line and logs them. Sets *count to what server and
 * client CPU are divided by and *unit to its name. Returns true when the run was clean.
 */
bool bench_history_report(struct bench_json *j, double secs, double *count, const char **unit)
{
	const struct bench_opts *o = &bench.o;
	uint64_t lost = h.sent - h.done;
	bool ok = h.done > 0 && lost == 0 && h.refused == 0 && h.unmatched == 0;

	*count = (double)h.done;
	if (o->scenario == BENCH_STORE) {
		*unit = "message";
		bench_json_add(j, "history", o->history ? "true" : "false");
		bench_json_add(j, "room_size", "%u", o->room_size);
		bench_json_add(j, "window", "%u", o->window);
		bench_json_add(j, "msg_size", "%u", o->msg_size);
		bench_json_add(j, "messages", "%" PRIu64, h.sent);
		bench_json_add(j, "acks", "%" PRIu64, h.done);
		bench_json_add(j, "stored", "%" PRIu64, h.stored);
		bench_json_add(j, "not_stored", "%" PRIu64, h.not_stored);
		bench_json_add(j, "deliveries", "%" PRIu64, h.deliveries);
		bench_json_add(j, "msgs_per_s", "%.6g", (double)h.sent / secs);
		bench_json_add(j, "acks_per_s", "%.6g", (double)h.done / secs);
		bench_json_add(j, "stored_per_s", "%.6g", (double)h.stored / secs);
		/* with history on, failed stores are a figure of the run, not an error of it */
		ok = ok && (o->history ? h.stored > 0 : h.stored == 0);
		bench_log(
		    "  %.0f acks/s, %.0f stored/s (%" PRIu64 " not stored, %" PRIu64 " deliveries)",
		    (double)h.done / secs, (double)h.stored / secs, h.not_stored, h.deliveries);
		if (!o->history && h.stored)
			bench_log("  %" PRIu64 " acks carried an id: the server stores chat, so "
				  "this is no --no-history baseline",
				  h.stored);
		if (o->history && h.stored == 0)
			bench_log(
			    "  nothing was stored (is the server running with --no-history?)");
	} else {
		*unit = "join";
		bench_json_add(j, "rooms", "%u", o->rooms);
		bench_json_add(j, "joins", "%" PRIu64, h.done);
		bench_json_add(j, "joins_per_s", "%.6g", (double)h.done / secs);
		bench_json_add(j, "history_msgs", "%" PRIu64, h.history);
		bench_json_add(j, "history_per_join", "%.6g",
			       h.done ? (double)h.history / (double)h.done : 0.0);
		bench_log("  %.0f joins/s, %.2f history messages per join", (double)h.done / secs,
			  h.done ? (double)h.history / (double)h.done : 0.0);
	}
	bench_json_add(j, "lost", "%" PRIu64, lost);
	bench_json_add(j, "refused", "%" PRIu64, h.refused);
	bench_json_add(j, "unmatched", "%" PRIu64, h.unmatched);
	if (lost || h.unmatched)
		bench_log("  %" PRIu64 " never acknowledged, %" PRIu64
			  " acks matching nothing sent",
			  lost, h.unmatched);
	return ok;
}
