/*
 * Checkpoints on a worker thread (see checkpoint.h). One runs at a time; each opens its own
 * connection to the file, so the loop's connection is never used off the loop.
 */
#include "checkpoint.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

#define CHECKPOINT_PAGES  1000 /* SQLite's own threshold */
#define LOG_PAGES_MAX	  8000 /* past this, the worker cannot catch up: once on the loop */
#define ERROR_INTERVAL_MS 60000

/* A checkpoint handed to a worker thread. */
struct job {
	uv_work_t req;
	struct pl_checkpoint *c; /* told when it is done; NULL once c is freed */
	char *path;		 /* the database file */
	int rc;			 /* the checkpoint's result */
	uint64_t ns;		 /* how long it took */
};

struct pl_checkpoint {
	uv_loop_t *loop;
	struct job *running;	 /* the one on a worker, or NULL */
	unsigned long long done; /* checkpoints run on a worker */
	uint64_t max_ns;	 /* the longest */
	uint64_t err_at;	 /* loop time of the last logged error */
};

static void work(uv_work_t *req)
{
	struct job *j = (struct job *)req;
	uint64_t t0 = uv_hrtime();
	sqlite3 *db;
	j->rc = sqlite3_open_v2(j->path, &db, SQLITE_OPEN_READWRITE, NULL);
	/* a new connection sees the log once it has read the database */
	if (j->rc == SQLITE_OK)
		j->rc = sqlite3_exec(db, "PRAGMA schema_version", NULL, NULL, NULL);
	if (j->rc == SQLITE_OK)
		j->rc =
		    sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	sqlite3_close(db);
	j->ns = uv_hrtime() - t0;
}

static void work_done(uv_work_t *req, int status)
{
	struct job *j = (struct job *)req;
	struct pl_checkpoint *c = j->c;
	if (c) {
		c->running = NULL;
		c->done++;
		if (j->ns > c->max_ns)
			c->max_ns = j->ns;
		uint64_t now = uv_now(c->loop);
		if (status == 0 && j->rc != SQLITE_OK && (j->rc & 0xff) != SQLITE_BUSY &&
		    (!c->err_at || now - c->err_at >= ERROR_INTERVAL_MS)) {
			pl_error("history: cannot checkpoint %s: %s", j->path,
				 sqlite3_errstr(j->rc));
			c->err_at = now ? now : 1;
		}
	}
	free(j->path);
	free(j);
}

/* The WAL hook: called after each commit with the log's size in pages. */
static int wal_hook(void *ud, sqlite3 *db, const char *name, int pages)
{
	struct pl_checkpoint *c = ud;
	if (pages < CHECKPOINT_PAGES || c->running)
		return SQLITE_OK;
	if (pages < LOG_PAGES_MAX) {
		const char *path = sqlite3_db_filename(db, name);
		struct job *j = path && *path ? calloc(1, sizeof *j) : NULL;
		if (j && (j->path = strdup(path)) &&
		    uv_queue_work(c->loop, &j->req, work, work_done) == 0) {
			j->c = c;
			c->running = j;
			return SQLITE_OK;
		}
		if (j)
			free(j->path);
		free(j);
	}
	/* no worker, or writes went on all along: on the loop, as SQLite would */
	return sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

struct pl_checkpoint *pl_checkpoint_new(uv_loop_t *loop)
{
	struct pl_checkpoint *c = calloc(1, sizeof *c);
	if (c)
		c->loop = loop;
	return c;
}

void pl_checkpoint_attach(struct pl_checkpoint *c, sqlite3 *db)
{
	const char *path = sqlite3_db_filename(db, "main");
	if (sqlite3_threadsafe() && path && *path)
		sqlite3_wal_hook(db, wal_hook, c);
}

void pl_checkpoint_detach(sqlite3 *db)
{
	sqlite3_wal_autocheckpoint(db, CHECKPOINT_PAGES);
}

bool pl_checkpoint_running(const struct pl_checkpoint *c)
{
	return c->running != NULL;
}

void pl_checkpoint_figures(const struct pl_checkpoint *c, unsigned long long *count,
			   uint64_t *max_ns)
{
	*count = c->done;
	*max_ns = c->max_ns;
}

void pl_checkpoint_free(struct pl_checkpoint *c)
{
	if (!c)
		return;
	if (c->running)
		c->running->c = NULL;
	free(c);
}
