/*
 * Retention (see retention.h). The per-room limits read room_totals, which the store adds to at
 * each commit and a trigger of schema.sql takes deletes from. So a room's excess is known at once, and only the oldest
 * rows are walked, on the (nsp, room, id) and (nsp, recipient, id) indexes. The rooms to check
 * are found in bounded batches: once by walking room_totals after the database is opened, then
 * by reading the rows stored since the last batch (id > seen). Age walks the oldest rows by id,
 * notices have a partial index by time. Every batch reads or deletes a bounded number of rows,
 * and a step runs batches for about half a millisecond. Each DELETE is a transaction of its own:
 * inside an explicit one, SQLite would keep a statement journal for it (the trigger), spilled
 * to a temporary file.
 *
 * Deleting fills the write-ahead log, so retention hands the store connection's checkpoints to
 * checkpoint.h, off the loop, and waits while one runs (the log starts over only after a
 * checkpoint that no write overlapped).
 */
#include "retention.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkpoint.h"
#include "clock.h"
#include "log.h"
#include "map.h"

#define DELETE_BATCH	   32	  /* notices or old rows deleted at once (each can dirty a page) */
#define SCAN_BATCH	   256	  /* new rows read at once for the rooms they went to */
#define PER_VISIT	   16	  /* rows of a room trim examines per visit */
#define STEP_IDS	   32	  /* messages trim deletes at once */
#define WALK_BATCH	   64	  /* rooms of room_totals a batch reads */
#define STEP_BUDGET_NS	   500000 /* a batch starts if one as long as the last still fits */
#define CATCHUP_DELAY_MS   1	  /* between steps while work remains */
#define REPORT_INTERVAL_MS 60000
#define HIST_US		   4096 /* step durations are counted per µs up to this */

enum {
	S_MAX_ID,
	S_NOTICES,
	S_OLDEST,
	S_DELETE_UPTO,
	S_NEW,
	S_WALK,
	S_TOTALS,
	S_ROOM_ROWS,
	S_PRIVATE_ROWS,
	S_DELETE_IDS,
	N_STMT
};

static const char *const sql[N_STMT] = {
    [S_MAX_ID] = "SELECT coalesce(max(id), 0) FROM messages",
    [S_NOTICES] = "DELETE FROM messages WHERE rowid IN (SELECT id FROM messages "
		  "WHERE kind = 1 AND ts < ?1 ORDER BY ts LIMIT ?2)",
    [S_OLDEST] = "SELECT id, ts FROM messages ORDER BY id LIMIT ?1",
    [S_DELETE_UPTO] = "DELETE FROM messages WHERE id <= ?1",
    [S_NEW] = "SELECT id, nsp, room, recipient, kind FROM messages WHERE id > ?1 "
	      "ORDER BY id LIMIT ?2",
    [S_WALK] = "SELECT nsp, private, target, messages, bytes FROM room_totals "
	       "WHERE (nsp, private, target) > (?1, ?2, ?3) ORDER BY nsp, private, target "
	       "LIMIT ?4",
    [S_TOTALS] = "SELECT messages, bytes FROM room_totals "
		 "WHERE nsp = ?1 AND target = ?2 AND private = ?3",
    [S_ROOM_ROWS] = "SELECT id, kind, length(CAST(args AS BLOB)) FROM messages "
		    "WHERE nsp = ?1 AND room = ?2 AND id > ?3 ORDER BY id LIMIT ?4",
    [S_PRIVATE_ROWS] = "SELECT id, kind, length(CAST(args AS BLOB)) FROM messages "
		       "WHERE nsp = ?1 AND recipient = ?2 AND room IS NULL AND id > ?3 "
		       "ORDER BY id LIMIT ?4",
    [S_DELETE_IDS] = "DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?1)) "
		     "AND kind = 0",
};

/* A room, or a recipient's private messages, queued to be held to the limits. */
struct target {
	struct target *next; /* the next in the queue */
	long long after;     /* its rows up to this id are examined already */
	bool private;	     /* name is a recipient (JSON), not a room */
	const char *nsp;     /* inside key, nsp_len bytes, not terminated */
	int nsp_len;
	const char *name; /* inside key, terminated */
	char key[];	  /* the map key: '0' or '1', nsp's length, ':', nsp, name */
};

/* Rows removed, by reason. */
struct removed {
	unsigned long long count;   /* beyond --history-keep */
	unsigned long long bytes;   /* beyond --history-room-bytes */
	unsigned long long aged;    /* older than --history-max-age */
	unsigned long long notices; /* notices older than the recovery window */
};

/* How long steps took. */
struct durations {
	uint32_t by_us[HIST_US + 1]; /* steps by µs, the last for longer ones */
	uint64_t max_ns;	     /* the longest */
};

struct pl_retention {
	struct pl_history *h;	    /* the store whose rows go */
	sqlite3 *db;		    /* the connection stmt was prepared on */
	sqlite3_stmt *stmt[N_STMT]; /* indexed by S_* */
	uv_loop_t *loop;
	uv_timer_t *timer;	       /* the next step; freed by its close */
	unsigned long long keep;       /* messages kept per room, 0 for all */
	unsigned long long room_bytes; /* bytes of args kept per room, 0 for all */
	long long max_age_ms;	       /* rows older than this go, 0 for no limit */
	long long notice_ms;	       /* notices older than this go */
	unsigned interval_ms;	       /* between steps once caught up */
	long long seen;		       /* rows up to this id were read for the rooms they touch */
	bool walked;		       /* room_totals was walked through since db was opened */
	char *walk_nsp, *walk_target;  /* the walk's last room (walk_nsp NULL: none yet) */
	int walk_private;
	struct pl_map queued;		  /* key to struct target: the rooms in the queue */
	struct target *head, **tail;	  /* the queue, oldest first */
	uint64_t deadline;		  /* hrtime at which a step should be over */
	char ids[STEP_IDS * 21 + 2];	  /* trim's ids to delete, a JSON array */
	size_t ids_len;			  /* bytes used in ids */
	int n_ids;			  /* ids in it */
	struct removed removed;		  /* since the last report */
	unsigned long long removed_total; /* rows, since the start */
	uint64_t reported_at;		  /* loop time of the last report, or of the start */
	bool reported;			  /* a report was logged */
	uint64_t err_at;		  /* loop time of the last logged error */
	bool behind;			  /* the last step left work */
	unsigned long long steps;	  /* steps run */
	struct durations wall;		  /* steps' elapsed time */
	struct durations cpu;		  /* steps' CPU time (less what other processes took) */
	struct pl_checkpoint *checkpoint; /* takes the store connection's checkpoints */
};

static int sql_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_NOMEM: return -ENOMEM;
	default: return -EIO;
	}
}

/* Steps st to its end (a statement without rows) and resets it. Returns 0 or an error. */
static int run(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : sql_errno(rc);
}

/* Resets st after its rows were stepped through (rc: the last step's result). Returns 0 or an
 * error. */
static int end_rows(sqlite3_stmt *st, int rc)
{
	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sql_errno(rc);
}

static unsigned long long removed_rows(const struct removed *m)
{
	return m->count + m->bytes + m->aged + m->notices;
}

/* ---- the queue of rooms ---- */

/* Puts t at the end of the queue. */
static void push(struct pl_retention *r, struct target *t)
{
	t->next = NULL;
	*r->tail = t;
	r->tail = &t->next;
}

/* Queues a room (a recipient when private) unless it is queued already. Returns 0 or -ENOMEM. */
static int enqueue(struct pl_retention *r, const char *nsp, bool private, const char *name)
{
	char head[32];
	int hl = snprintf(head, sizeof head, "%c%zu:", private ? '1' : '0', strlen(nsp));
	size_t nl = strlen(nsp), ml = strlen(name);
	struct target *t = malloc(sizeof *t + (size_t)hl + nl + ml + 1);
	if (!t)
		return -ENOMEM;
	memcpy(t->key, head, (size_t)hl);
	memcpy(t->key + hl, nsp, nl);
	memcpy(t->key + hl + nl, name, ml + 1);
	if (pl_map_get(&r->queued, t->key)) {
		free(t);
		return 0;
	}
	if (pl_map_put(&r->queued, t->key, t)) {
		free(t);
		return -ENOMEM;
	}
	t->after = 0;
	t->private = private;
	t->nsp = t->key + hl;
	t->nsp_len = (int)nl;
	t->name = t->key + hl + nl;
	push(r, t);
	return 0;
}

/* Takes the first room off the queue (it stays in queued) and returns it, or NULL. */
static struct target *pop(struct pl_retention *r)
{
	struct target *t = r->head;
	if (t) {
		r->head = t->next;
		if (!r->head)
			r->tail = &r->head;
	}
	return t;
}

/* Forgets a room taken off the queue. */
static void drop(struct pl_retention *r, struct target *t)
{
	pl_map_del(&r->queued, t->key);
	free(t);
}

/* ---- the batches: each returns 1 when it did work and may have more, 0 when it has none
 * now, or a negative error ---- */

/* Deletes notices older than the recovery window. */
static int notices(struct pl_retention *r, struct removed *got)
{
	sqlite3_stmt *st = r->stmt[S_NOTICES];
	sqlite3_bind_int64(st, 1, r->notice_ms ? pl_wall_ms() - r->notice_ms : INT64_MAX);
	sqlite3_bind_int(st, 2, DELETE_BATCH);
	int rc = run(st);
	if (rc)
		return rc;
	int n = sqlite3_changes(r->db);
	got->notices += (unsigned long long)n;
	return n == DELETE_BATCH;
}

/* Deletes the oldest rows, by id, while they are older than --history-max-age. */
static int aged(struct pl_retention *r, struct removed *got)
{
	if (!r->max_age_ms)
		return 0;
	long long cutoff = pl_wall_ms() - r->max_age_ms, upto = 0;
	int n = 0, rc;
	sqlite3_stmt *st = r->stmt[S_OLDEST];
	sqlite3_bind_int(st, 1, DELETE_BATCH);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && sqlite3_column_int64(st, 1) < cutoff) {
		upto = sqlite3_column_int64(st, 0);
		n++;
	}
	if ((rc = end_rows(st, rc)) || !upto)
		return rc;
	sqlite3_bind_int64(r->stmt[S_DELETE_UPTO], 1, upto);
	if ((rc = run(r->stmt[S_DELETE_UPTO])))
		return rc;
	got->aged += (unsigned long long)sqlite3_changes(r->db);
	return n == DELETE_BATCH;
}

static bool per_room(const struct pl_retention *r)
{
	return r->keep || r->room_bytes;
}

/* Queues the rooms that rows stored since the last batch went to. */
static int scan(struct pl_retention *r, struct removed *got)
{
	(void)got;
	if (!per_room(r))
		return 0;
	sqlite3_stmt *st = r->stmt[S_NEW];
	sqlite3_bind_int64(st, 1, r->seen);
	sqlite3_bind_int(st, 2, SCAN_BATCH);
	int n = 0, rc, err = 0;
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		r->seen = sqlite3_column_int64(st, 0);
		const char *nsp = (const char *)sqlite3_column_text(st, 1);
		const char *room = (const char *)sqlite3_column_text(st, 2);
		const char *to = (const char *)sqlite3_column_text(st, 3);
		if (sqlite3_column_int(st, 4) == 0 && nsp && (room || to))
			err = enqueue(r, nsp, !room, room ? room : to);
	}
	rc = end_rows(st, rc);
	if (err)
		rc = err;
	return rc ? rc : n == SCAN_BATCH;
}

/* Queues the rooms over a limit, walking room_totals in key order from where it stopped. */
static int walk(struct pl_retention *r, struct removed *got)
{
	(void)got;
	if (!per_room(r) || r->walked)
		return 0;
	sqlite3_stmt *st = r->stmt[S_WALK];
	sqlite3_bind_text(st, 1, r->walk_nsp ? r->walk_nsp : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, r->walk_nsp ? r->walk_private : -1);
	sqlite3_bind_text(st, 3, r->walk_target ? r->walk_target : "", -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, WALK_BATCH);
	int n = 0, rc, err = 0;
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		n++;
		const char *nsp = (const char *)sqlite3_column_text(st, 0);
		int private = sqlite3_column_int(st, 1);
		const char *target = (const char *)sqlite3_column_text(st, 2);
		unsigned long long messages = (unsigned long long)sqlite3_column_int64(st, 3);
		unsigned long long bytes = (unsigned long long)sqlite3_column_int64(st, 4);
		if (!nsp || !target)
			continue;
		free(r->walk_nsp);
		free(r->walk_target);
		r->walk_nsp = strdup(nsp);
		r->walk_target = strdup(target);
		r->walk_private = private;
		if (!r->walk_nsp || !r->walk_target)
			err = -ENOMEM;
		else if ((r->keep && messages > r->keep) ||
			 (r->room_bytes && bytes > r->room_bytes))
			err = enqueue(r, nsp, private != 0, target);
	}
	rc = end_rows(st, rc);
	if (err)
		rc = err;
	if (rc)
		return rc;
	if (n < WALK_BATCH)
		r->walked = true;
	return n == WALK_BATCH;
}

static void bind_target(sqlite3_stmt *st, const struct target *t)
{
	sqlite3_bind_text(st, 1, t->nsp, t->nsp_len, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, t->name, -1, SQLITE_STATIC);
}

/* What a visit of trim found in one room. */
struct visit {
	struct target *t;	     /* the room, off the queue meanwhile */
	long long last;		     /* the last of its rows examined */
	bool done;		     /* within the limits once its ids are deleted */
	unsigned by_count, by_bytes; /* its ids that go for each limit */
};

/* Reads v's room's excess over the limits and adds the ids of its oldest messages that go to
 * r->ids, examining PER_VISIT rows at most. */
static int visit(struct pl_retention *r, struct visit *v)
{
	struct target *t = v->t;
	sqlite3_stmt *st = r->stmt[S_TOTALS];
	bind_target(st, t);
	sqlite3_bind_int(st, 3, t->private);
	unsigned long long messages = 0, bytes = 0;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		messages = (unsigned long long)sqlite3_column_int64(st, 0);
		bytes = (unsigned long long)sqlite3_column_int64(st, 1);
	}
	if ((rc = end_rows(st, rc)))
		return rc;
	unsigned long long over_n = r->keep && messages > r->keep ? messages - r->keep : 0;
	unsigned long long over_b =
	    r->room_bytes && bytes > r->room_bytes ? bytes - r->room_bytes : 0;
	v->done = !over_n && !over_b;
	if (v->done)
		return 0;
	/* the oldest messages go until both excesses are covered; notices are stepped over */
	st = r->stmt[t->private ? S_PRIVATE_ROWS : S_ROOM_ROWS];
	bind_target(st, t);
	sqlite3_bind_int64(st, 3, t->after);
	sqlite3_bind_int(st, 4, PER_VISIT);
	unsigned long long n = 0, b = 0;
	int rows = 0;
	bool enough = false, full = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long id = sqlite3_column_int64(st, 0);
		if (sqlite3_column_int(st, 1) == 0) {
			enough = n >= over_n && b >= over_b;
			full = r->n_ids == STEP_IDS;
			if (enough || full)
				break;
			r->ids_len +=
			    (size_t)snprintf(r->ids + r->ids_len, sizeof r->ids - r->ids_len,
					     "%s%lld", r->n_ids++ ? "," : "", id);
			n++;
			b += (unsigned long long)sqlite3_column_int64(st, 2);
		}
		v->last = id;
		rows++;
	}
	v->done = enough || (!full && rows < PER_VISIT);
	v->by_count = (unsigned)(n < over_n ? n : over_n);
	v->by_bytes = (unsigned)n - v->by_count;
	return end_rows(st, rc);
}

/* Visits the queued rooms in turn, then deletes what they collected in one statement, its own
 * transaction: the oldest messages of many rooms often share pages, written to the log once. A
 * room within the limits leaves the queue, the others go to its end. */
static int trim(struct pl_retention *r, struct removed *got)
{
	struct visit v[STEP_IDS];
	int nv = 0, rc = 0;
	r->n_ids = 0;
	r->ids_len = (size_t)snprintf(r->ids, sizeof r->ids, "[");
	while (!rc && r->head && nv < STEP_IDS && r->n_ids < STEP_IDS &&
	       uv_hrtime() < r->deadline) {
		v[nv] = (struct visit){.t = pop(r)};
		v[nv].last = v[nv].t->after;
		rc = visit(r, &v[nv++]);
	}
	if (!rc && r->n_ids) {
		snprintf(r->ids + r->ids_len, sizeof r->ids - r->ids_len, "]");
		sqlite3_bind_text(r->stmt[S_DELETE_IDS], 1, r->ids, -1, SQLITE_STATIC);
		rc = run(r->stmt[S_DELETE_IDS]);
	}
	for (int i = 0; i < nv; i++) {
		if (rc) {
			push(r, v[i].t); /* nothing of it was deleted: from where it was, later */
			continue;
		}
		got->count += v[i].by_count;
		got->bytes += v[i].by_bytes;
		v[i].t->after = v[i].last;
		if (v[i].done)
			drop(r, v[i].t);
		else
			push(r, v[i].t);
	}
	return rc ? rc : r->head != NULL;
}

/* ---- the connection ---- */

static void clear_walk(struct pl_retention *r)
{
	free(r->walk_nsp);
	free(r->walk_target);
	r->walk_nsp = r->walk_target = NULL;
	r->walked = false;
}

static void finalize(struct pl_retention *r)
{
	for (int i = 0; i < N_STMT; i++) {
		sqlite3_finalize(r->stmt[i]);
		r->stmt[i] = NULL;
	}
	r->db = NULL;
}

/* Prepares the statements on the store's connection when it is new (opened, or reopened after
 * the file was replaced: then what was queued is about the old file and starts over). */
static int use_db(struct pl_retention *r)
{
	sqlite3 *db = pl_history_db(r->h);
	if (db == r->db)
		return 0;
	finalize(r);
	for (struct target *t; (t = pop(r));)
		drop(r, t);
	clear_walk(r);
	for (int i = 0; i < N_STMT; i++)
		if (sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &r->stmt[i],
				       NULL) != SQLITE_OK) {
			pl_error("history: retention: %s", sqlite3_errmsg(db));
			finalize(r);
			return -EIO;
		}
	r->db = db;
	pl_checkpoint_attach(r->checkpoint, db);
	/* rooms with older rows are found by the walk */
	sqlite3_stmt *st = r->stmt[S_MAX_ID];
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		r->seen = sqlite3_column_int64(st, 0);
	if ((rc = end_rows(st, rc))) {
		pl_error("history: retention: %s", sqlite3_errmsg(db));
		finalize(r);
	}
	return rc;
}

/* ---- steps ---- */

static uint64_t cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts))
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void durations_add(struct durations *d, uint64_t ns)
{
	d->by_us[ns / 1000 < HIST_US ? ns / 1000 : HIST_US]++;
	if (ns > d->max_ns)
		d->max_ns = ns;
}

/* The q-quantile of n steps, in µs (HIST_US: longer). */
static unsigned durations_quantile(const struct durations *d, unsigned long long n, double q)
{
	unsigned long long want = (unsigned long long)((double)n * q), seen = 0;
	for (unsigned us = 0; us < HIST_US; us++) {
		seen += d->by_us[us];
		if (seen > want)
			return us;
	}
	return HIST_US;
}

/* Writes "median M us, p99 P us, max X us, N over 1 ms" of n steps into buf. */
static void durations_format(char *buf, size_t size, const struct durations *d,
			     unsigned long long n)
{
	unsigned long long over = d->by_us[HIST_US];
	for (unsigned us = 1000; us < HIST_US; us++)
		over += d->by_us[us];
	snprintf(buf, size, "median %u us, p99 %u us, max %llu us, %llu over 1 ms",
		 durations_quantile(d, n, 0.5), durations_quantile(d, n, 0.99),
		 (unsigned long long)(d->max_ns / 1000), over);
}

/* Logs the step figures since the start at debug level (tests/bench/retention.sh reads them). */
static void log_steps(const struct pl_retention *r, const char *what)
{
	char wall[128], cpu[128];
	durations_format(wall, sizeof wall, &r->wall, r->steps);
	durations_format(cpu, sizeof cpu, &r->cpu, r->steps);
	unsigned long long checkpoints;
	uint64_t checkpoint_ns;
	pl_checkpoint_figures(r->checkpoint, &checkpoints, &checkpoint_ns);
	pl_debug("history: retention %s: %llu steps; elapsed %s; CPU %s; %llu rows removed; %llu "
		 "checkpoints off the loop, max %llu us",
		 what, r->steps, wall, cpu, r->removed_total, checkpoints,
		 (unsigned long long)(checkpoint_ns / 1000));
}

static void report(struct pl_retention *r)
{
	struct removed *m = &r->removed;
	if (removed_rows(m))
		pl_info(
		    "history: retention removed %llu messages beyond --history-keep, %llu beyond "
		    "--history-room-bytes, %llu rows older than --history-max-age and %llu "
		    "notices older than the recovery window",
		    m->count, m->bytes, m->aged, m->notices);
	*m = (struct removed){0};
	r->reported_at = uv_now(r->loop);
	r->reported = true;
}

static void record(struct pl_retention *r, uint64_t wall_ns, uint64_t cpu_used,
		   const struct removed *got)
{
	r->steps++;
	durations_add(&r->wall, wall_ns);
	durations_add(&r->cpu, cpu_used);
	r->removed.count += got->count;
	r->removed.bytes += got->bytes;
	r->removed.aged += got->aged;
	r->removed.notices += got->notices;
	r->removed_total += removed_rows(got);
}

/* Reports once a minute, and the first time retention is caught up (what the start removed). */
static void maybe_report(struct pl_retention *r, bool caught_up)
{
	if (uv_now(r->loop) - r->reported_at >= REPORT_INTERVAL_MS ||
	    (caught_up && !r->reported && removed_rows(&r->removed))) {
		report(r);
		log_steps(r, "figures");
	}
}

static void step_failed(struct pl_retention *r, int rc)
{
	uint64_t now = uv_now(r->loop);
	if (rc == -EBUSY || (r->err_at && now - r->err_at < REPORT_INTERVAL_MS))
		return;
	pl_error("history: retention failed, trying again later: %s",
		 r->db ? sqlite3_errmsg(r->db) : "no database");
	r->err_at = now ? now : 1;
}

int pl_retention_step(struct pl_retention *r)
{
	static int (*const batches[])(struct pl_retention *, struct removed *) = {notices, aged,
										  scan, walk, trim};
	/* the store's open batch first: the deletes must not join it */
	pl_history_commit(r->h);
	uint64_t t0 = uv_hrtime(), c0 = cpu_ns();
	r->deadline = t0 + STEP_BUDGET_NS;
	struct removed got = {0};
	bool more = false;
	int rc = use_db(r);
	if (rc)
		goto out;
	if (!sqlite3_get_autocommit(r->db)) {
		rc = -EBUSY; /* the store's batch is still open (its callbacks stored more) */
		goto out;
	}
	uint64_t last = 0; /* the last batch's time */
	for (size_t i = 0; i < sizeof batches / sizeof *batches;) {
		uint64_t now = uv_hrtime();
		if (now + last > r->deadline) {
			more = true;
			break;
		}
		rc = batches[i](r, &got);
		last = uv_hrtime() - now;
		if (rc < 0)
			break;
		if (rc == 0)
			i++;
	}
	if (rc >= 0)
		rc = more;
out:
	if (rc < 0)
		step_failed(r, rc);
	record(r, uv_hrtime() - t0, cpu_ns() - c0, &got);
	if (r->behind && rc == 0)
		log_steps(r, "caught up");
	maybe_report(r, rc == 0);
	r->behind = rc > 0;
	return rc;
}

static void tick(uv_timer_t *timer)
{
	struct pl_retention *r = timer->data;
	/* the log restarts only after a checkpoint that nothing was written during */
	int rc = pl_checkpoint_running(r->checkpoint) ? 1 : pl_retention_step(r);
	uv_timer_start(timer, tick, rc > 0 ? CATCHUP_DELAY_MS : r->interval_ms, 0);
}

static void timer_freed(uv_handle_t *t)
{
	free(t);
}

struct pl_retention *pl_retention_new(uv_loop_t *loop, struct pl_history *h,
				      const struct pl_config *cfg)
{
	struct pl_retention *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->h = h;
	r->loop = loop;
	r->keep = cfg->history_keep;
	r->room_bytes = cfg->history_room_bytes;
	r->max_age_ms = (long long)cfg->history_max_age * 1000;
	r->notice_ms = cfg->recovery_window;
	r->interval_ms = cfg->history_retention_interval;
	r->reported_at = uv_now(loop);
	r->tail = &r->head;
	r->behind = true; /* the first step that finds nothing left says so */
	r->checkpoint = pl_checkpoint_new(loop);
	r->timer = malloc(sizeof *r->timer);
	if (!r->checkpoint || !r->timer || use_db(r))
		goto fail;
	uv_timer_init(loop, r->timer);
	r->timer->data = r;
	uv_unref((uv_handle_t *)r->timer); /* it must not keep the loop alive */
	tick(r->timer);
	return r;
fail:
	free(r->timer);
	r->timer = NULL;
	pl_retention_free(r);
	return NULL;
}

void pl_retention_free(struct pl_retention *r)
{
	if (!r)
		return;
	if (r->timer)
		uv_close((uv_handle_t *)r->timer, timer_freed);
	if (r->checkpoint)
		log_steps(r, "figures");
	report(r);
	/* a connection the store replaced is closing already: leave it alone */
	if (r->db && r->db == pl_history_db(r->h))
		pl_checkpoint_detach(r->db);
	pl_checkpoint_free(r->checkpoint);
	finalize(r);
	for (struct target *t; (t = pop(r));)
		drop(r, t);
	pl_map_close(&r->queued);
	clear_walk(r);
	free(r);
}
