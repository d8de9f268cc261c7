/*
 * The cluster's history stream (see history_stream.h). Appends go on the link's publisher as
 * one EVAL of APPEND_SCRIPT, which picks the entry's id; the answer brings the row into the
 * local store under that id, and only then is the append's done told (at the next commit).
 * The tail is an XREAD BLOCK on the link's reader, from the newest id this node has, and
 * stores every entry it reads; the two meet on the id (a row stored twice is kept once).
 * A delete is done here at once and goes to the stream as an entry of its own, which every
 * node applies when its tail reads it, after the row it deletes.
 */
#include "history_stream.h"

#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "history.h"
#include "json.h"
#include "log.h"
#include "recovery.h"
#include "redis_link.h"

#define READ_COUNT    "256"    /* entries one XREAD brings at most */
#define READ_BLOCK_MS "2000"   /* how long one XREAD waits for an entry ... */
#define READ_LATE_MS  3000     /* ... and how long before its connection is taken for dead */
#define APPEND_LATE_MS 1000 /* an append unanswered this long is told it was not stored */
#define SEQ_PER_MS    1000     /* an id is ms * SEQ_PER_MS + seq */
#define MAX_FIELDS    24       /* field-value pairs of one entry, and then some */
#define MAX_DELETES   1024     /* deletes waiting for Redis at most */
#define TOMBSTONES    64       /* deletes done here whose entry was not read back yet */

/*
 * XADD with an id of the server's clock whose seq stays below SEQ_PER_MS: an entry that would
 * get seq 1000 takes the next millisecond instead. ids stay increasing when the clock steps
 * back (they go on from the newest entry), and after a restart that emptied the stream (the
 * clock is past every id given). ARGV[1] is MAXLEN, then the entry's fields and values.
 */
static const char APPEND_SCRIPT[] =
    "local t = redis.call('TIME')\n"
    "local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local seq = 0\n"
    "local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)\n"
    "if #last > 0 then\n"
    "  local id = last[1][1]\n"
    "  local dash = string.find(id, '-', 1, true)\n"
    "  local lms = tonumber(string.sub(id, 1, dash - 1))\n"
    "  local lseq = tonumber(string.sub(id, dash + 1))\n"
    "  if ms <= lms then\n"
    "    ms = lms\n"
    "    seq = lseq + 1\n"
    "    if seq >= 1000 then ms = lms + 1; seq = 0 end\n"
    "  end\n"
    "end\n"
    "return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], "
    "string.format('%.0f-%d', ms, seq), unpack(ARGV, 2))\n";

/* An append waiting for Redis's answer: the row it stores then, and who is told. */
struct append {
	struct pl_history_stream *s;	      /* owner */
	struct append *prev, *next;	      /* the owner's appends under way */
	void (*done)(long long id, void *ud); /* told the id or an error, or NULL */
	void *ud;
	bool orphan; /* told at the stop: the answer only frees it */
	bool late;   /* told, unanswered in time: an answer still stores the row */
	uint64_t sent_at; /* loop time (ms) it was sent */
	char *nsp, *room, *to, *skip, *from, *event, *args; /* the row, JSON as text */
	int kind;
};

/* A delete on its way to the stream: waiting for Redis, or sent and not yet answered. */
struct delete_req {
	struct pl_history_stream *s; /* owner */
	struct delete_req *next;     /* the next one waiting */
	long long id;		     /* the message */
	char nsp[];		     /* its namespace */
};

struct pl_history_stream {
	struct pl_redis *redis;	 /* the cluster's link */
	struct pl_history *h;	 /* the local store */
	struct pl_recovery *rec; /* sessions, or NULL */
	char *key;		 /* "<prefix>-history" */
	char node[16];		 /* this node's uid */
	char cursor[48];	 /* the newest entry read: the next XREAD starts after it */
	char maxlen[24];	 /* entries the stream keeps, about (MAXLEN ~), as text */
	bool check_gap;		 /* the next read looks for a gap first (XINFO STREAM) */
	char info_cursor[48];	 /* the cursor that XINFO was sent at */
	unsigned long gaps;	 /* gaps found: entries trimmed before this node read them */
	char gap_after[48];	 /* the last one's range: after this entry ... */
	char gap_before[48];	 /* ... and before this one */
	long long committed;	 /* the newest id read whose commit succeeded */
	bool rewind;		 /* a commit failed: read again from committed */
	bool reading;		 /* an XREAD is under way */
	uint64_t read_at;	 /* loop time (ms) it was sent */
	uv_loop_t *loop;
	uv_timer_t *watch;	/* checks that XREADs are answered; freed by its close */
	bool stopped;		/* shut down: replies are dropped */
	unsigned long skipped;	/* malformed entries ignored */
	struct append *appends; /* under way */
	struct delete_req *deletes, **deletes_tail; /* waiting for Redis, oldest first */
	size_t n_deletes;			   /* their number, at most MAX_DELETES */
	long long tombs[TOMBSTONES]; /* ids deleted here: the tail does not store them again */
	size_t n_tombs;		     /* entries used, a ring past TOMBSTONES */
	json_t *batch;		     /* sessions written this iteration, or NULL */
	size_t batch_bytes;	     /* about how many bytes they take */
	uv_prepare_t *sender;	     /* sends the batch each iteration; freed by its close */
};

static void set_cursor(struct pl_history_stream *s, long long id)
{
	snprintf(s->cursor, sizeof s->cursor, "%lld-%lld", id / SEQ_PER_MS, id % SEQ_PER_MS);
}

/* The integer id of a stream id "ms-seq", or -1 when it has none (seq too large). */
static long long parse_id(const char *text)
{
	char *end;
	errno = 0;
	long long ms = strtoll(text, &end, 10);
	if (errno || end == text || *end != '-' || ms < 0)
		return -1;
	const char *q = end + 1;
	long long seq = strtoll(q, &end, 10);
	if (errno || end == q || *end || seq < 0 || seq >= SEQ_PER_MS ||
	    ms > (9007199254740991LL - SEQ_PER_MS) / SEQ_PER_MS) /* 2^53: a JavaScript number */
		return -1;
	return ms * SEQ_PER_MS + seq;
}

/* ---- appending ---- */

static void append_free(struct append *a)
{
	free(a->nsp);
	free(a->room);
	free(a->to);
	free(a->skip);
	free(a->from);
	free(a->event);
	free(a->args);
	free(a);
}

static void unlink_append(struct append *a)
{
	if (a->prev)
		a->prev->next = a->next;
	else if (a->s->appends == a)
		a->s->appends = a->next;
	if (a->next)
		a->next->prev = a->prev;
	a->prev = a->next = NULL;
}

/* Redis's answer to an append: the entry's id, and the row stored under it here. */
static void on_appended(void *ud, void *reply_v)
{
	struct append *a = ud;
	struct pl_history_stream *s = a->s;
	redisReply *reply = reply_v;
	if (a->orphan) {
		append_free(a); /* told already, at the stop */
		return;
	}
	unlink_append(a);
	long long id = reply && reply->type == REDIS_REPLY_STRING ? parse_id(reply->str) : -1;
	struct pl_history_row row = {.nsp = a->nsp, .room = a->room, .recipient = a->to,
				     .skip = a->skip, .sender = a->from, .event = a->event,
				     .args = a->args, .ts = id / SEQ_PER_MS,
				     .kind = (enum pl_record_kind)a->kind};
	if (a->late) {
		if (id > 0) /* told it was not stored; it is, so here too */
			pl_history_put_row(s->h, id, &row, NULL, NULL);
	} else if (id < 0) {
		/* a lost connection: the entry may still be in the stream, and then comes back
		 * through the tail, though the sender was told it was not stored */
		if (reply && reply->type == REDIS_REPLY_ERROR)
			pl_warn("cluster: the history stream refused an append: %s", reply->str);
		pl_history_tell(s->h, reply ? -EIO : -ENOTCONN, a->done, a->ud);
	} else {
		pl_history_put_row(s->h, id, &row, a->done, a->ud);
	}
	append_free(a);
}

/* Field-value pairs of an entry being built. */
struct fields {
	const char *argv[6 + 2 * MAX_FIELDS];
	size_t lens[6 + 2 * MAX_FIELDS];
	int n;
};

static void field(struct fields *f, const char *name, const char *value)
{
	if (!value || f->n + 2 > (int)(sizeof f->argv / sizeof *f->argv))
		return;
	f->argv[f->n] = name;
	f->lens[f->n++] = strlen(name);
	f->argv[f->n] = value;
	f->lens[f->n++] = strlen(value);
}

/* Starts an EVAL of the append script with the entry's type and node; fields follow. */
static void fields_init(struct pl_history_stream *s, struct fields *f, const char *type)
{
	f->n = 0;
	static const char *const head[] = {"EVAL", APPEND_SCRIPT, "1"};
	for (int i = 0; i < 3; i++) {
		f->argv[f->n] = head[i];
		f->lens[f->n++] = strlen(head[i]);
	}
	f->argv[f->n] = s->key;
	f->lens[f->n++] = strlen(s->key);
	f->argv[f->n] = s->maxlen;
	f->lens[f->n++] = strlen(s->maxlen);
	field(f, "t", type);
	field(f, "node", s->node);
}

static char *dup_or_null(const char *v)
{
	return v ? strdup(v) : NULL;
}

static int log_append(void *ud, const struct pl_record *r, void (*done)(long long, void *),
		      void *done_ud)
{
	struct pl_history_stream *s = ud;
	if (s->stopped)
		return -ESHUTDOWN;
	struct append *a = calloc(1, sizeof *a);
	if (!a)
		return -ENOMEM;
	*a = (struct append){.s = s, .done = done, .ud = done_ud, .kind = (int)r->kind};
	a->nsp = strdup(r->nsp);
	a->room = r->recipient ? NULL : strdup(r->room ? r->room : "");
	a->to = r->recipient ? pl_json_text(r->recipient) : NULL;
	a->skip = dup_or_null(r->skip);
	a->from = pl_json_text(r->sender);
	a->event = strdup(r->event);
	a->args = pl_json_text(r->args);
	if (!a->nsp || (!a->room && !a->to) || (r->skip && !a->skip) || !a->from || !a->event ||
	    !a->args) {
		append_free(a);
		return -ENOMEM;
	}
	struct fields f;
	fields_init(s, &f, "m");
	char kind[8];
	snprintf(kind, sizeof kind, "%d", a->kind);
	field(&f, "nsp", a->nsp);
	field(&f, "room", a->room);
	field(&f, "to", a->to);
	field(&f, "skip", a->skip);
	field(&f, "from", a->from);
	field(&f, "event", a->event);
	field(&f, "args", a->args);
	field(&f, "kind", kind);
	int rc = pl_redis_command(s->redis, on_appended, a, f.n, f.argv, f.lens);
	if (rc) {
		append_free(a);
		return rc == -ENOMEM ? -ENOMEM : -ENOTCONN; /* Redis is away: not stored */
	}
	a->sent_at = uv_now(s->loop);
	a->next = s->appends;
	if (a->next)
		a->next->prev = a;
	s->appends = a;
	return 0;
}

/* The answer to a session's entry: nothing waits for it. */
static void on_session_sent(void *ud, void *reply)
{
	(void)ud;
	redisReply *r = reply;
	if (r && r->type == REDIS_REPLY_ERROR)
		pl_warn("cluster: the history stream refused a session: %s", r->str);
}

/*
 * Sessions go to the stream in batches: those written in one loop iteration (the refresh
 * writes every connected one) share an entry "S" whose field "sessions" is a JSON array of
 * ["s", pid, nsp, sid, userid, name, rooms, since, iat, disc] (userid, name and rooms as the
 * JSON texts the store keeps, userid and name null when unset) and ["d", pid], in the order
 * they were written. An entry carries at most BATCH_SESSIONS of them and about BATCH_BYTES.
 */
#define BATCH_SESSIONS 256
#define BATCH_BYTES    (48 * 1024)

/* Sends the sessions gathered so far as one entry. */
static void send_batch(struct pl_history_stream *s)
{
	if (!s->batch || !json_array_size(s->batch))
		return;
	char *text = json_dumps(s->batch, JSON_COMPACT);
	json_array_clear(s->batch);
	s->batch_bytes = 0;
	if (!text) {
		pl_warn("cluster: out of memory: sessions not sent to the other nodes");
		return;
	}
	struct fields f;
	fields_init(s, &f, "S");
	field(&f, "sessions", text);
	/* while Redis is away, other nodes do not hear of them: they stay recoverable here */
	pl_redis_command(s->redis, on_session_sent, NULL, f.n, f.argv, f.lens);
	free(text);
}

/* Adds one session's item to the batch (taking it), sent at the end of the iteration. */
static void batch_add(struct pl_history_stream *s, json_t *item, size_t bytes)
{
	if (!s->batch && !(s->batch = json_array()))
		goto fail;
	if (!item || json_array_append_new(s->batch, item))
		goto fail;
	s->batch_bytes += bytes;
	if (json_array_size(s->batch) >= BATCH_SESSIONS || s->batch_bytes >= BATCH_BYTES)
		send_batch(s);
	return;
fail:
	pl_warn("cluster: out of memory: a session not sent to the other nodes");
}

static json_t *text_or_null(const char *v)
{
	return v ? json_string(v) : json_null();
}

static void log_session(void *ud, const struct pl_session_row *row)
{
	struct pl_history_stream *s = ud;
	if (s->stopped)
		return;
	json_t *item = json_pack("[ssssoosIII]", "s", row->pid, row->nsp, row->sid,
				 text_or_null(row->userid), text_or_null(row->name), row->rooms,
				 (json_int_t)row->since, (json_int_t)row->identity_at,
				 (json_int_t)row->disconnected);
	size_t bytes = strlen(row->pid) + strlen(row->nsp) + strlen(row->sid) +
		       strlen(row->rooms) + (row->userid ? strlen(row->userid) : 0) +
		       (row->name ? strlen(row->name) : 0) + 80;
	batch_add(s, item, bytes);
}

static void log_drop(void *ud, const char *pid)
{
	struct pl_history_stream *s = ud;
	if (s->stopped)
		return;
	batch_add(s, json_pack("[ss]", "d", pid), strlen(pid) + 8);
}

/* At the end of each loop iteration (before it polls): the batch of sessions leaves. */
static void sender_cb(uv_prepare_t *p)
{
	send_batch(p->data);
}

/* ---- deletes ---- */

static bool tomb_has(const struct pl_history_stream *s, long long id)
{
	size_t n = s->n_tombs < TOMBSTONES ? s->n_tombs : TOMBSTONES;
	for (size_t i = 0; i < n; i++)
		if (s->tombs[i] == id)
			return true;
	return false;
}

/* Puts d last in the queue of deletes waiting for Redis. Returns false when the queue is full
 * (d is then the caller's still). */
static bool queue_delete(struct pl_history_stream *s, struct delete_req *d)
{
	if (s->n_deletes >= MAX_DELETES)
		return false;
	d->next = NULL;
	*s->deletes_tail = d;
	s->deletes_tail = &d->next;
	s->n_deletes++;
	return true;
}

/* Redis's answer to a delete's entry: a lost connection sends it again (applied twice, it
 * deletes nothing the second time). */
static void on_delete_sent(void *ud, void *reply_v)
{
	struct delete_req *d = ud;
	struct pl_history_stream *s = d->s;
	redisReply *reply = reply_v;
	if (reply && reply->type == REDIS_REPLY_ERROR)
		pl_warn("cluster: the history stream refused the delete of %lld: %s", d->id,
			reply->str);
	if (reply || s->stopped || !queue_delete(s, d)) {
		if (!reply)
			pl_warn("cluster: the delete of message %lld may not reach the other nodes",
				d->id);
		free(d);
	}
}

static int send_delete(struct delete_req *d)
{
	struct fields f;
	char id[24];
	snprintf(id, sizeof id, "%lld", d->id);
	fields_init(d->s, &f, "x");
	field(&f, "nsp", d->nsp);
	field(&f, "id", id);
	return pl_redis_command(d->s->redis, on_delete_sent, d, f.n, f.argv, f.lens);
}

/* Sends the deletes that waited for Redis, oldest first, while it takes them. */
static void send_deletes(struct pl_history_stream *s)
{
	while (s->deletes && send_delete(s->deletes) == 0) {
		s->deletes = s->deletes->next;
		s->n_deletes--;
	}
	if (!s->deletes)
		s->deletes_tail = &s->deletes;
}

/* A delete done here: an entry of its own in the stream, which every node applies (this one
 * again, harmlessly) when its tail reads it. While Redis is away it waits, in order. */
static void log_remove(void *ud, const char *nsp, long long id)
{
	struct pl_history_stream *s = ud;
	if (s->stopped)
		return;
	s->tombs[s->n_tombs++ % TOMBSTONES] = id;
	size_t n = strlen(nsp) + 1;
	struct delete_req *d = malloc(sizeof *d + n);
	if (!d) {
		pl_warn("cluster: out of memory: the delete of %lld does not reach the other nodes",
			id);
		return;
	}
	*d = (struct delete_req){.s = s, .id = id};
	memcpy(d->nsp, nsp, n);
	if (!s->deletes && send_delete(d) == 0)
		return;
	if (!queue_delete(s, d)) {
		pl_warn("cluster: %d deletes wait for redis already: the delete of %lld does not "
			"reach the other nodes",
			MAX_DELETES, id);
		free(d);
	}
}

static const struct pl_history_log history_log = {log_append, log_remove};
static const struct pl_recovery_log recovery_log = {log_session, log_drop};

/* ---- the tail ---- */

/* The value of a field of an entry's [f1, v1, f2, v2, ...], or NULL. */
static const char *get(const redisReply *kv, const char *name)
{
	for (size_t i = 0; i + 1 < kv->elements; i += 2) {
		const redisReply *k = kv->element[i], *v = kv->element[i + 1];
		if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
		    strcmp(k->str, name) == 0)
			return v->str;
	}
	return NULL;
}

static long long number(const redisReply *kv, const char *name)
{
	const char *v = get(kv, name);
	return v ? strtoll(v, NULL, 10) : 0;
}

/* A row read back has been committed here, or not: a failure reads it again. */
static void on_row_stored(long long id, void *ud)
{
	struct pl_history_stream *s = ud;
	if (id > 0 && id > s->committed)
		s->committed = id;
	else if (id < 0)
		s->rewind = true;
}

/* Applies a batch of sessions another node wrote (see send_batch). Returns false when it is
 * malformed (the items before the first bad one are applied). */
static bool ingest_sessions(struct pl_history_stream *s, long long id, const char *text)
{
	json_t *all = text ? pl_json_parse(text, strlen(text)) : NULL;
	bool ok = json_is_array(all);
	size_t i;
	json_t *item;
	json_array_foreach(all, i, item) {
		const char *kind = json_string_value(json_array_get(item, 0));
		const char *pid = json_string_value(json_array_get(item, 1));
		if (!kind || !pid) {
			ok = false;
			break;
		}
		if (strcmp(kind, "d") == 0) {
			pl_recovery_drop_remote(s->rec, pid);
			continue;
		}
		struct pl_session_row row = {
		    .pid = pid,
		    .nsp = json_string_value(json_array_get(item, 2)),
		    .sid = json_string_value(json_array_get(item, 3)),
		    .userid = json_string_value(json_array_get(item, 4)),
		    .name = json_string_value(json_array_get(item, 5)),
		    .rooms = json_string_value(json_array_get(item, 6)),
		    .since = json_integer_value(json_array_get(item, 7)),
		    .identity_at = json_integer_value(json_array_get(item, 8)),
		    .disconnected = json_integer_value(json_array_get(item, 9))};
		if (strcmp(kind, "s") != 0 || !row.nsp || !row.sid || !row.rooms) {
			ok = false;
			break;
		}
		pl_recovery_put_remote(s->rec, &row, id / SEQ_PER_MS);
	}
	json_decref(all);
	return ok;
}

/* Stores one entry of the stream here. Returns false when it is malformed. */
static bool ingest(struct pl_history_stream *s, long long id, const redisReply *kv)
{
	const char *type = get(kv, "t"), *node = get(kv, "node");
	if (!type || !node)
		return false;
	if (strcmp(type, "x") == 0) {
		/* a delete, from any node, this one included: in stream order, after the row */
		const char *nsp = get(kv, "nsp");
		long long target = number(kv, "id");
		if (!nsp || target <= 0)
			return false;
		pl_history_erase(s->h, nsp, target);
		return true;
	}
	if (strcmp(type, "m") == 0) {
		if (tomb_has(s, id))
			return true; /* deleted here before the tail came to it */
		struct pl_history_row row = {.nsp = get(kv, "nsp"),
					     .room = get(kv, "room"),
					     .recipient = get(kv, "to"),
					     .skip = get(kv, "skip"),
					     .sender = get(kv, "from"),
					     .event = get(kv, "event"),
					     .args = get(kv, "args"),
					     .ts = id / SEQ_PER_MS,
					     .kind = number(kv, "kind") == 1 ? PL_RECORD_NOTICE
									     : PL_RECORD_MESSAGE};
		if (!row.nsp || !row.sender || !row.event || !row.args ||
		    (!row.room && !row.recipient))
			return false;
		pl_history_put_row(s->h, id, &row, on_row_stored, s);
		return true;
	}
	if (!s->rec || strcmp(node, s->node) == 0)
		return true; /* this node's own sessions are written here already */
	if (strcmp(type, "S") == 0)
		return ingest_sessions(s, id, get(kv, "sessions"));
	const char *pid = get(kv, "pid");
	if (!pid)
		return false;
	if (strcmp(type, "d") == 0) {
		pl_recovery_drop_remote(s->rec, pid);
		return true;
	}
	struct pl_session_row row = {.pid = pid,
				     .nsp = get(kv, "nsp"),
				     .sid = get(kv, "sid"),
				     .userid = get(kv, "userid"),
				     .name = get(kv, "name"),
				     .rooms = get(kv, "rooms"),
				     .since = number(kv, "since"),
				     .identity_at = number(kv, "iat"),
				     .disconnected = number(kv, "disc")};
	if (strcmp(type, "s") != 0 || !row.nsp || !row.sid || !row.rooms)
		return false;
	pl_recovery_put_remote(s->rec, &row, id / SEQ_PER_MS);
	return true;
}

static void read_more(struct pl_history_stream *s);

/* XREAD's answer: nil after the block, or [[key, [[id, [f, v, ...]], ...]]]. */
static void on_read(void *ud, void *reply_v)
{
	struct pl_history_stream *s = ud;
	redisReply *reply = reply_v;
	if (s->stopped)
		return;
	s->reading = false;
	if (!reply)
		return; /* the reader is gone: its ready starts the tail again */
	if (reply->type == REDIS_REPLY_ERROR) {
		pl_warn("cluster: cannot read the history stream: %s", reply->str);
		return; /* read again at the next check */
	}
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
	    reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2) {
		redisReply *entries = reply->element[0]->element[1];
		for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements;
		     i++) {
			redisReply *e = entries->element[i];
			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    e->element[0]->type != REDIS_REPLY_STRING)
				continue;
			snprintf(s->cursor, sizeof s->cursor, "%s", e->element[0]->str);
			long long id = parse_id(e->element[0]->str);
			if (id < 0 || e->element[1]->type != REDIS_REPLY_ARRAY ||
			    !ingest(s, id, e->element[1])) {
				if (!s->skipped++)
					pl_warn("cluster: ignoring a malformed history entry %s",
						e->element[0]->str);
			}
		}
	}
	read_more(s);
}

/* Reads a stream id "ms-seq" into its two numbers. Returns false when it is none. */
static bool split_id(const char *text, unsigned long long *ms, unsigned long long *seq)
{
	char *end;
	errno = 0;
	*ms = strtoull(text, &end, 10);
	if (errno || end == text || *end != '-' || !isdigit((unsigned char)end[1]))
		return false;
	*seq = strtoull(end + 1, &end, 10);
	return !errno && !*end;
}

/* The value of a field of XINFO STREAM's [name, value, ...] answer, or NULL. */
static const redisReply *info_field(const redisReply *info, const char *name)
{
	for (size_t i = 0; i + 1 < info->elements; i += 2) {
		const redisReply *k = info->element[i];
		if ((k->type == REDIS_REPLY_STRING || k->type == REDIS_REPLY_STATUS) &&
		    strcmp(k->str, name) == 0)
			return info->element[i + 1];
	}
	return NULL;
}

/*
 * XINFO STREAM's answer, sent before the read that resumes the tail: the entries after the
 * cursor are there to read, unless the stream was trimmed past it meanwhile. That is the case
 * when its first entry comes after the cursor and entries were removed from it (entries-added
 * above length; Redis before 7 does not say, and a node that has read nothing is then taken
 * to have missed nothing). The gap is logged once, counted, and reported by
 * pl_history_stream_health.
 */
static void on_info(void *ud, void *reply_v)
{
	struct pl_history_stream *s = ud;
	redisReply *reply = reply_v;
	if (s->stopped || !reply || reply->type != REDIS_REPLY_ARRAY)
		return; /* no stream yet ("no such key"), or the reader went: checked again */
	const redisReply *first = info_field(reply, "first-entry");
	const redisReply *added = info_field(reply, "entries-added");
	const redisReply *length = info_field(reply, "length");
	if (!first || first->type != REDIS_REPLY_ARRAY || first->elements < 1 ||
	    first->element[0]->type != REDIS_REPLY_STRING)
		return; /* empty */
	unsigned long long cms, cseq, fms, fseq;
	if (!split_id(s->info_cursor, &cms, &cseq) || !split_id(first->element[0]->str, &fms, &fseq))
		return;
	bool counted = added && length && added->type == REDIS_REPLY_INTEGER &&
		       length->type == REDIS_REPLY_INTEGER;
	long long trimmed_n = counted ? added->integer - length->integer : -1;
	bool trimmed = counted ? trimmed_n > 0 : cms || cseq;
	if (!trimmed || cms > fms || (cms == fms && cseq >= fseq))
		return;
	s->gaps++;
	snprintf(s->gap_after, sizeof s->gap_after, "%s", s->info_cursor);
	snprintf(s->gap_before, sizeof s->gap_before, "%s", first->element[0]->str);
	pl_error("cluster: history gap: %s was trimmed (to about %s entries) past this node's "
		 "copy: the entries after %s and before %s (ids %lld to %lld) are missing here "
		 "and cannot be read again (%lld entries trimmed from the stream in all; %lu gaps "
		 "since this node started)",
		 s->key, s->maxlen, s->gap_after, s->gap_before,
		 (long long)(cms * SEQ_PER_MS + cseq + 1), (long long)(fms * SEQ_PER_MS + fseq - 1),
		 trimmed_n, s->gaps);
}

/* Sends XINFO STREAM ahead of the next XREAD on the reader (answered first, in order). */
static void check_gap(struct pl_history_stream *s)
{
	const char *argv[] = {"XINFO", "STREAM", s->key};
	size_t lens[3];
	for (int i = 0; i < 3; i++)
		lens[i] = strlen(argv[i]);
	snprintf(s->info_cursor, sizeof s->info_cursor, "%s", s->cursor);
	if (pl_redis_read(s->redis, on_info, s, 3, argv, lens) == 0)
		s->check_gap = false;
}

static void read_more(struct pl_history_stream *s)
{
	if (s->stopped || s->reading)
		return;
	if (s->rewind) {
		s->rewind = false;
		s->check_gap = true; /* what follows the last commit may be trimmed by now */
		set_cursor(s, s->committed);
		pl_warn("cluster: a commit failed: reading the history stream again after %s",
			s->cursor);
	}
	if (s->check_gap)
		check_gap(s);
	const char *argv[] = {"XREAD",	     "COUNT",	READ_COUNT, "BLOCK",
			      READ_BLOCK_MS, "STREAMS", s->key,	    s->cursor};
	size_t lens[8];
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	if (pl_redis_read(s->redis, on_read, s, 8, argv, lens) == 0) {
		s->reading = true;
		s->read_at = uv_now(s->loop);
	}
}

/*
 * Once a second: an append not answered within APPEND_LATE_MS is told it was not stored (its
 * connection may be dead unnoticed: hiredis's libuv adapter drops poll errors), and an XREAD
 * not answered well after its block says the reader's connection is dead.
 */
static void watch_cb(uv_timer_t *t)
{
	struct pl_history_stream *s = t->data;
	uint64_t now = uv_now(s->loop);
	bool late = false;
	for (struct append *a = s->appends; a; a = a->next)
		if (!a->late && now - a->sent_at > APPEND_LATE_MS) {
			pl_history_tell(s->h, -ENOTCONN, a->done, a->ud);
			a->late = late = true;
		}
	send_deletes(s);
	if (late) {
		pl_debug("cluster: history appends are not answered: reconnecting the publisher");
		pl_redis_reset(s->redis, false); /* their answers are told NULL */
	}
	if (s->reading && uv_now(s->loop) - s->read_at > READ_LATE_MS) {
		pl_debug("cluster: the history stream's read is not answered: reconnecting");
		pl_redis_reset(s->redis, true); /* on_read is told NULL */
	} else if (!s->reading) {
		read_more(s); /* after an error answer, or a read that could not be sent */
	}
}

static void watch_freed(uv_handle_t *h)
{
	free(h);
}

/* The reader is (again) connected: the tail goes on from the newest entry read. */
static void on_reader_ready(void *ud)
{
	struct pl_history_stream *s = ud;
	s->reading = false; /* a read under way was lost with the old connection */
	s->check_gap = true; /* at the start, and after an outage: was the stream trimmed? */
	read_more(s);
}

struct pl_history_stream *pl_history_stream_new(uv_loop_t *loop, struct pl_redis *redis,
						struct pl_history *h, struct pl_recovery *rec,
						const char *prefix, const char *node,
						size_t length)
{
	struct pl_history_stream *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->loop = loop;
	s->deletes_tail = &s->deletes;
	if (!(s->watch = malloc(sizeof *s->watch))) {
		free(s);
		return NULL;
	}
	uv_timer_init(loop, s->watch);
	s->watch->data = s;
	uv_timer_start(s->watch, watch_cb, 1000, 1000);
	uv_unref((uv_handle_t *)s->watch);
	if (!(s->sender = malloc(sizeof *s->sender))) {
		pl_history_stream_stop(s);
		pl_history_stream_free(s);
		return NULL;
	}
	uv_prepare_init(loop, s->sender);
	s->sender->data = s;
	uv_prepare_start(s->sender, sender_cb);
	uv_unref((uv_handle_t *)s->sender);
	size_t n = strlen(prefix) + sizeof "-history";
	if (!(s->key = malloc(n))) {
		pl_history_stream_stop(s);
		pl_history_stream_free(s);
		return NULL;
	}
	snprintf(s->key, n, "%s-history", prefix);
	s->redis = redis;
	s->h = h;
	s->rec = rec;
	snprintf(s->node, sizeof s->node, "%s", node);
	snprintf(s->maxlen, sizeof s->maxlen, "%zu", length);
	/* what this node has is where it goes on: the rest of the stream, after a restart too */
	s->committed = pl_history_last(h);
	set_cursor(s, s->committed);
	if (rec && pl_recovery_set_log(rec, &recovery_log, s)) {
		pl_history_stream_stop(s);
		pl_history_stream_free(s);
		return NULL;
	}
	pl_history_set_log(h, &history_log, s);
	pl_redis_reader_start(redis, on_reader_ready, s);
	pl_info("cluster: history stream %s (about %s entries), read from %s", s->key, s->maxlen,
		s->cursor);
	return s;
}

void pl_history_stream_stop(struct pl_history_stream *s)
{
	if (!s || s->stopped)
		return;
	if (s->redis)
		send_batch(s); /* the sessions stamped disconnected so far */
	s->stopped = true; /* the logs stay set, refusing: an id made here could be taken */
	if (s->watch) {
		uv_close((uv_handle_t *)s->watch, watch_freed);
		s->watch = NULL;
	}
	if (s->sender) {
		uv_close((uv_handle_t *)s->sender, watch_freed);
		s->sender = NULL;
	}
	/* the answers may come still: they find done told and only free */
	for (struct append *a = s->appends; a; a = a->next) {
		if (!a->late)
			pl_history_tell(s->h, -ESHUTDOWN, a->done, a->ud);
		a->orphan = true;
	}
	while (s->appends)
		unlink_append(s->appends);
	if (s->n_deletes)
		pl_warn("cluster: %zu deletes waited for redis: the other nodes keep those messages",
			s->n_deletes);
	while (s->deletes) {
		struct delete_req *d = s->deletes;
		s->deletes = d->next;
		free(d);
	}
	s->deletes_tail = &s->deletes;
	s->n_deletes = 0;
}

void pl_history_stream_free(struct pl_history_stream *s)
{
	if (!s)
		return;
	json_decref(s->batch);
	free(s->key);
	free(s);
}

bool pl_history_stream_health(void *ud, char *buf, size_t n)
{
	const struct pl_history_stream *s = ud;
	if (!s || !s->gaps)
		return false;
	snprintf(buf, n,
		 "degraded: history incomplete: %lu gaps, the last after %s and before %s "
		 "(trimmed from the stream before this node read it)\n",
		 s->gaps, s->gap_after, s->gap_before);
	return true;
}

void pl_history_stream_status(const struct pl_history_stream *s, char *buf, size_t n)
{
	if (!s->gaps)
		snprintf(buf, n, "stream read up to %s, no gaps", s->cursor);
	else
		snprintf(buf, n, "stream read up to %s, %lu gaps (the last after %s and before %s)",
			 s->cursor, s->gaps, s->gap_after, s->gap_before);
}
