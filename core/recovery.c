/*
 * Connection state recovery (see recovery.h). Sessions are written in the history's transaction
 * of the loop iteration, by the before-write barrier, so a client never holds a pid whose
 * session is not stored; a restore reads the missed packets with one index range per room.
 */
#include "recovery.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "history.h"
#include "json.h"
#include "log.h"
#include "nsp.h"
#include "socket.h"

#define PURGE_INTERVAL_MS 1000 /* expired sessions are deleted this often ... */
#define PURGE_BATCH	  256	/* ... this many per statement ... */
#define PURGE_BUDGET_NS	  1000000 /* ... for at most this long per run */

struct pl_recovery {
	struct pl_sio *sio;
	struct pl_history *h;
	uv_loop_t *loop;
	unsigned window;	 /* ms a session outlives its socket */
	size_t max_missed;	 /* packets a restore brings back at most */
	size_t max_bytes;	 /* ... and their bytes */
	sqlite3 *db;		 /* the connection the statements were prepared on */
	sqlite3_stmt *put;	 /* writes a session */
	sqlite3_stmt *drop;	 /* deletes one */
	sqlite3_stmt *get;	 /* reads one */
	sqlite3_stmt *in_room;	 /* packets of a room after an id */
	sqlite3_stmt *to_user;	 /* private packets of a recipient after an id */
	sqlite3_stmt *purge;	 /* deletes expired sessions */
	struct pl_socket **dirty; /* sockets whose session is to be written (a reference each) */
	size_t n_dirty, cap_dirty;
	uv_timer_t *purge_timer; /* freed by its close */
	const struct pl_recovery_log *log; /* a cluster's log the sessions also go to, or NULL */
	void *log_ud;		 /* its argument */
	uv_timer_t *refresh_timer; /* with a log: writes the connected sessions again; freed by its
				    * close */
	bool stopping;		 /* the server is stopping: the sessions are stamped already */
};

static const struct pl_recovery_ops ops;

static void finalize_all(struct pl_recovery *r)
{
	sqlite3_stmt **all[] = {&r->put, &r->drop, &r->get, &r->in_room, &r->to_user, &r->purge};
	for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
		sqlite3_finalize(*all[i]);
		*all[i] = NULL;
	}
	r->db = NULL;
}

/* Prepares the statements on the history's connection (again, when the file was reopened). */
static int prepared(struct pl_recovery *r)
{
	sqlite3 *db = pl_history_db(r->h);
	if (db == r->db)
		return 0;
	finalize_all(r);
	static const char *const sql[] = {
		"INSERT OR REPLACE INTO sessions (pid, nsp, sid, userid, name, rooms, since, "
		"identity_at, disconnected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		"DELETE FROM sessions WHERE pid = ?",
		"SELECT nsp, sid, userid, name, rooms, since, identity_at, disconnected FROM sessions "
		"WHERE pid = ?",
		"SELECT id, event, args FROM messages WHERE nsp = ? AND room = ? AND id > ? AND "
		"(skip IS NULL OR skip <> ?) ORDER BY id LIMIT ?",
		"SELECT id, event, args FROM messages WHERE nsp = ? AND recipient = ? AND id > ? AND "
		"(skip IS NULL OR skip <> ?) ORDER BY id LIMIT ?",
		"DELETE FROM sessions WHERE pid IN (SELECT pid FROM sessions WHERE disconnected < ? "
		"LIMIT 256)", /* PURGE_BATCH */
	};
	sqlite3_stmt **out[] = {&r->put, &r->drop, &r->get, &r->in_room, &r->to_user, &r->purge};
	for (size_t i = 0; i < sizeof sql / sizeof *sql; i++) {
		if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, out[i], NULL) !=
		    SQLITE_OK) {
			pl_error("recovery: %s", sqlite3_errmsg(db));
			finalize_all(r);
			return -EIO;
		}
	}
	r->db = db;
	return 0;
}

/* Writes a session row, stamped disconnected (0: NULL, connected). Returns 0 or an error. */
static int write_row(struct pl_recovery *r, const struct pl_session_row *row,
		     long long disconnected)
{
	sqlite3_stmt *st = r->put;
	sqlite3_bind_text(st, 1, row->pid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, row->nsp, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, row->sid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, row->userid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, row->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 6, row->rooms, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, row->since);
	sqlite3_bind_int64(st, 8, row->identity_at);
	if (disconnected)
		sqlite3_bind_int64(st, 9, disconnected);
	return pl_history_write(r->h, st);
}

/* Writes s's session; disconnected is 0 while it is connected. */
static void put(struct pl_recovery *r, struct pl_socket *s, long long disconnected)
{
	if (prepared(r))
		return;
	json_t *rooms = json_object();
	for (size_t i = 0; i < s->n_rooms; i++)
		json_object_set_new(rooms, s->rooms[i].room->name, json_integer(s->rooms[i].joined_at));
	char *uid = pl_json_text(s->userid), *name = pl_json_text(s->name), *rj = pl_json_text(rooms);
	json_decref(rooms);
	if (!rj || (s->userid && !uid) || (s->name && !name)) {
		pl_warn("recovery: session of %s not saved: out of memory", s->id);
		goto out;
	}
	struct pl_session_row row = {.pid = s->pid, .nsp = s->nsp->name, .sid = s->id,
				     .userid = uid, .name = name, .rooms = rj, .since = s->since,
				     .identity_at = s->identity_at, .disconnected = disconnected};
	write_row(r, &row, disconnected);
	if (r->log)
		r->log->put(r->log_ud, &row);
out:
	free(uid);
	free(name);
	free(rj);
}

static long long offset(void *ud)
{
	struct pl_recovery *r = ud;
	return pl_history_last(r->h);
}

static void save(void *ud, struct pl_socket *s)
{
	struct pl_recovery *r = ud;
	if (s->session_queued)
		return;
	if (r->n_dirty == r->cap_dirty) {
		size_t cap = r->cap_dirty;
		struct pl_socket **d = pl_array_grow(r->dirty, &cap, sizeof *d, 16);
		if (!d) {
			put(r, s, 0); /* no room to wait: now */
			return;
		}
		r->dirty = d;
		r->cap_dirty = cap;
	}
	s->session_queued = true;
	r->dirty[r->n_dirty++] = pl_socket_ref(s);
}

int pl_recovery_flush(void *ud)
{
	struct pl_recovery *r = ud;
	for (size_t i = 0; i < r->n_dirty; i++) {
		struct pl_socket *s = r->dirty[i];
		s->session_queued = false;
		if (s->state == PL_SOCKET_CONNECTED && s->pid[0])
			put(r, s, 0);
		pl_socket_unref(s);
	}
	r->n_dirty = 0;
	return 0;
}

static void end(void *ud, struct pl_socket *s, bool keep)
{
	struct pl_recovery *r = ud;
	if (keep) {
		if (!r->stopping || r->log)
			put(r, s, pl_wall_ms());
		return;
	}
	if (prepared(r))
		return;
	sqlite3_bind_text(r->drop, 1, s->pid, -1, SQLITE_STATIC);
	pl_history_write(r->h, r->drop);
	if (r->log)
		r->log->drop(r->log_ud, s->pid);
}

/* A stored packet a restore sends again. */
struct missed {
	long long id;
	json_t *payload; /* [event, args...] */
};

static int by_id(const void *a, const void *b)
{
	long long x = ((const struct missed *)a)->id, y = ((const struct missed *)b)->id;
	return x < y ? -1 : x > y;
}

struct collect {
	struct missed *list;
	size_t n, cap;
	size_t bytes;
	bool overflow; /* more than the restore may bring back */
};

/* Adds the rows of a bound query (then reset) to c. */
static void gather(struct pl_recovery *r, sqlite3_stmt *st, struct collect *c)
{
	sqlite3_bind_int64(st, 5, (sqlite3_int64)r->max_missed + 1);
	int rc;
	while (!c->overflow && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *event = (const char *)sqlite3_column_text(st, 1);
		const char *args = (const char *)sqlite3_column_text(st, 2);
		size_t len = args ? (size_t)sqlite3_column_bytes(st, 2) : 0;
		json_t *a = args ? pl_json_parse(args, len) : NULL;
		c->bytes += len;
		if (c->n >= r->max_missed || c->bytes > r->max_bytes || !json_is_array(a) || !event) {
			json_decref(a);
			c->overflow = true;
			break;
		}
		json_array_insert_new(a, 0, json_string(event));
		if (c->n == c->cap) {
			struct missed *l = pl_array_grow(c->list, &c->cap, sizeof *l, 16);
			if (!l) {
				json_decref(a);
				c->overflow = true;
				break;
			}
			c->list = l;
		}
		c->list[c->n++] = (struct missed){sqlite3_column_int64(st, 0), a};
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static void missed_room(struct pl_recovery *r, const char *nsp, const char *room,
			long long after, const char *sid, struct collect *c)
{
	sqlite3_bind_text(r->in_room, 1, nsp, -1, SQLITE_STATIC);
	sqlite3_bind_text(r->in_room, 2, room, -1, SQLITE_STATIC);
	sqlite3_bind_int64(r->in_room, 3, after);
	sqlite3_bind_text(r->in_room, 4, sid, -1, SQLITE_STATIC);
	gather(r, r->in_room, c);
}

/* The client's offset: digits only, at most the newest id; -1 when invalid. */
static long long parse_offset(const char *text, long long newest)
{
	if (!text || !*text || strlen(text) > 18)
		return -1;
	long long v = 0;
	for (const char *p = text; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	return v <= newest ? v : -1;
}

static json_t *column_json(sqlite3_stmt *st, int col)
{
	const char *text = (const char *)sqlite3_column_text(st, col);
	return text ? pl_json_parse(text, (size_t)sqlite3_column_bytes(st, col)) : NULL;
}

static bool restore(void *ud, struct pl_nsp *nsp, const char *pid, const char *offset_text,
		    struct pl_restored *out)
{
	struct pl_recovery *r = ud;
	if (prepared(r))
		return false;
	sqlite3_bind_text(r->get, 1, pid, -1, SQLITE_STATIC);
	if (sqlite3_step(r->get) != SQLITE_ROW) {
		sqlite3_reset(r->get);
		sqlite3_clear_bindings(r->get);
		pl_debug("recovery: no session %s", pid);
		return false;
	}
	const char *snsp = (const char *)sqlite3_column_text(r->get, 0);
	const char *sid = (const char *)sqlite3_column_text(r->get, 1);
	long long since = sqlite3_column_int64(r->get, 5);
	long long identity_at = sqlite3_column_int64(r->get, 6);
	bool connected = sqlite3_column_type(r->get, 7) == SQLITE_NULL;
	long long disconnected = sqlite3_column_int64(r->get, 7);
	bool ok = snsp && sid && strcmp(snsp, nsp->name) == 0 && strlen(sid) < sizeof out->sid;
	bool expired = !connected && pl_wall_ms() - disconnected > (long long)r->window;
	if (ok && !expired) {
		memcpy(out->sid, sid, strlen(sid) + 1);
		out->userid = column_json(r->get, 2);
		out->name = column_json(r->get, 3);
		out->rooms = column_json(r->get, 4);
	}
	sqlite3_reset(r->get);
	sqlite3_clear_bindings(r->get);
	if (!ok || expired) {
		pl_debug("recovery: session %s %s", pid, expired ? "expired" : "of another namespace");
		pl_restored_close(out);
		return false;
	}
	long long after = offset_text ? parse_offset(offset_text, pl_history_last(r->h)) : since;
	if (after < 0) {
		pl_debug("recovery: session %s: unknown offset", pid);
		pl_restored_close(out);
		return false;
	}
	if (after < since)
		after = since; /* an offset from before this session: nothing older is its own */
	struct collect c = {0};
	missed_room(r, nsp->name, "", after, out->sid, &c);
	missed_room(r, nsp->name, out->sid, after, out->sid, &c);
	const char *room;
	json_t *joined;
	json_t *names = json_array();
	json_object_foreach(out->rooms, room, joined) {
		long long j = json_integer_value(joined);
		missed_room(r, nsp->name, room, j > after ? j : after, out->sid, &c);
		json_array_append_new(names, json_string(room));
	}
	json_decref(out->rooms);
	out->rooms = names;
	char *uid = out->userid ? pl_json_text(out->userid) : NULL;
	if (uid) {
		sqlite3_bind_text(r->to_user, 1, nsp->name, -1, SQLITE_STATIC);
		sqlite3_bind_text(r->to_user, 2, uid, -1, SQLITE_STATIC);
		sqlite3_bind_int64(r->to_user, 3, identity_at > after ? identity_at : after);
		sqlite3_bind_text(r->to_user, 4, out->sid, -1, SQLITE_STATIC);
		gather(r, r->to_user, &c);
		free(uid);
	}
	if (!c.overflow && c.n > 1)
		qsort(c.list, c.n, sizeof *c.list, by_id);
	out->missed = json_array();
	for (size_t i = 0; i < c.n; i++) {
		if (!c.overflow)
			json_array_append_new(out->missed,
					      json_pack("[Io]", (json_int_t)c.list[i].id,
							c.list[i].payload));
		else
			json_decref(c.list[i].payload);
	}
	free(c.list);
	if (c.overflow) {
		pl_info("recovery: session %s missed more than can be sent again (%zu packets or "
			"%zu bytes at most): a new session instead",
			pid, r->max_missed, r->max_bytes);
		pl_restored_close(out);
		return false;
	}
	return true;
}

static const struct pl_recovery_ops ops = {offset, save, end, restore};

/* Deletes expired sessions, a batch at a time. */
static void purge_cb(uv_timer_t *t)
{
	struct pl_recovery *r = t->data;
	if (prepared(r))
		return;
	uint64_t start = uv_hrtime();
	do {
		sqlite3_bind_int64(r->purge, 1, pl_wall_ms() - (long long)r->window);
		if (pl_history_write(r->h, r->purge) || sqlite3_changes(r->db) < PURGE_BATCH)
			break;
		pl_history_commit(r->h); /* in small transactions */
	} while (uv_hrtime() - start < PURGE_BUDGET_NS);
}

/* Stamps every session stored as connected disconnected now, in one statement (in the
 * iteration's transaction). Returns 0 or an error. */
static int stamp_connected(struct pl_recovery *r)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(r->db, "UPDATE sessions SET disconnected = ? WHERE disconnected IS "
				      "NULL", -1, &st, NULL) != SQLITE_OK) {
		pl_error("recovery: %s", sqlite3_errmsg(r->db));
		return -EIO;
	}
	sqlite3_bind_int64(st, 1, pl_wall_ms());
	int rc = pl_history_write(r->h, st);
	sqlite3_finalize(st);
	return rc;
}

void pl_recovery_stop(struct pl_recovery *r)
{
	if (!r || r->stopping)
		return;
	pl_recovery_flush(r);
	if (prepared(r) == 0 && stamp_connected(r) == 0)
		r->stopping = true;
}

static void timer_freed(uv_handle_t *h)
{
	free(h);
}

struct pl_recovery *pl_recovery_new(struct pl_sio *sio, struct pl_history *h, uv_loop_t *loop,
				    unsigned window_ms, size_t max_missed, size_t max_bytes)
{
	struct pl_recovery *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	*r = (struct pl_recovery){.sio = sio, .h = h, .loop = loop, .window = window_ms,
				  .max_missed = max_missed, .max_bytes = max_bytes};
	if (prepared(r))
		goto fail;
	/* a process that was killed left its sessions connected: they end now */
	if (stamp_connected(r) || pl_history_commit(h))
		goto fail;
	r->purge_timer = malloc(sizeof *r->purge_timer);
	if (!r->purge_timer)
		goto fail;
	uv_timer_init(loop, r->purge_timer);
	r->purge_timer->data = r;
	uv_timer_start(r->purge_timer, purge_cb, 0, PURGE_INTERVAL_MS);
	uv_unref((uv_handle_t *)r->purge_timer);
	sio->recovery = &ops;
	sio->recovery_ud = r;
	return r;
fail:
	pl_recovery_free(r);
	return NULL;
}

/* With a log, every REFRESH_PARTS of the window: the connected sessions are written again, so
 * that the other nodes keep them a window after this node was last heard of (it may die). */
#define REFRESH_PARTS	   4
#define REFRESH_MIN_MS	   500

static unsigned refresh_ms(const struct pl_recovery *r)
{
	unsigned ms = r->window / REFRESH_PARTS;
	return ms < REFRESH_MIN_MS ? REFRESH_MIN_MS : ms;
}

static void refresh_cb(uv_timer_t *t)
{
	struct pl_recovery *r = t->data;
	struct pl_nsp *nsp;
	for (size_t pos = 0; pl_map_next(&r->sio->nsps, &pos, (void **)&nsp);)
		for (size_t i = 0; i < nsp->n; i++)
			save(r, nsp->list[i]);
	/* written now, not at the next frame's barrier: a quiet node writes no frame for as long
	 * as a ping interval, and its sessions would lapse on the other nodes meanwhile */
	pl_recovery_flush(r);
}

int pl_recovery_set_log(struct pl_recovery *r, const struct pl_recovery_log *log, void *ud)
{
	r->log = log;
	r->log_ud = ud;
	if (!log || r->refresh_timer)
		return 0;
	r->refresh_timer = malloc(sizeof *r->refresh_timer);
	if (!r->refresh_timer)
		return -ENOMEM;
	uv_timer_init(r->loop, r->refresh_timer);
	r->refresh_timer->data = r;
	uv_timer_start(r->refresh_timer, refresh_cb, refresh_ms(r), refresh_ms(r));
	uv_unref((uv_handle_t *)r->refresh_timer);
	return 0;
}

int pl_recovery_put_remote(struct pl_recovery *r, const struct pl_session_row *row, long long ts)
{
	if (prepared(r))
		return -EIO;
	struct pl_nsp *nsp = pl_nsp_find(r->sio, row->nsp);
	struct pl_socket *old = nsp ? pl_nsp_socket(nsp, row->sid) : NULL;
	if (old && strcmp(old->pid, row->pid) == 0) {
		/* a socket here holds the session: an entry of a socket connected later (a
		 * recovery sets since to the offset of its resume) takes it over, and this
		 * connection of it, gone but not yet noticed, goes quietly; an older one (the
		 * other node wrote it before it heard of this one) is stale */
		if (row->since <= old->since)
			return 0;
		old->pid[0] = '\0';
		pl_socket_disconnect(old, false);
	}
	/* connected on its node, which writes it again every refresh: if that node is heard of
	 * no more, the session counts as disconnected one refresh after it was last written */
	return write_row(r, row,
			 row->disconnected ? row->disconnected : ts + (long long)refresh_ms(r));
}

int pl_recovery_drop_remote(struct pl_recovery *r, const char *pid)
{
	if (prepared(r))
		return -EIO;
	sqlite3_bind_text(r->drop, 1, pid, -1, SQLITE_STATIC);
	return pl_history_write(r->h, r->drop);
}

void pl_recovery_free(struct pl_recovery *r)
{
	if (!r)
		return;
	pl_recovery_flush(r);
	if (r->refresh_timer)
		uv_close((uv_handle_t *)r->refresh_timer, timer_freed);
	if (r->sio->recovery_ud == r) {
		r->sio->recovery = NULL;
		r->sio->recovery_ud = NULL;
	}
	if (r->purge_timer)
		uv_close((uv_handle_t *)r->purge_timer, timer_freed);
	free(r->dirty);
	finalize_all(r);
	free(r);
}
