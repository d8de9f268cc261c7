/*
 * Tests for core/retention.c on a real store (a temporary file): rooms and recipients are trimmed
 * to --history-keep each, a step removes a bounded number of rows, the store's open batch is
 * committed (and told) before retention deletes anything, and a database locked by another
 * connection makes a step fail without changing anything.
 */
#include "retention.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "test.h"

struct fixture {
	uv_loop_t loop;
	char dir[64];
	char path[96];
	struct pl_config cfg;
	struct pl_history *h;
};

static bool setup(struct fixture *f, unsigned keep)
{
	strcpy(f->dir, "/tmp/parley-test-retention-XXXXXX");
	if (!mkdtemp(f->dir))
		return false;
	snprintf(f->path, sizeof f->path, "%s/store.db", f->dir);
	uv_loop_init(&f->loop);
	pl_log_set_level(PL_LOG_WARN);
	pl_config_init(&f->cfg);
	f->cfg.history_keep = keep;
	f->h = pl_history_new(f->path, &f->loop, 0);
	return f->h != NULL;
}

static void teardown(struct fixture *f, struct pl_retention *r)
{
	pl_retention_free(r);
	pl_history_free(f->h);
	uv_run(&f->loop, UV_RUN_DEFAULT); /* closes the timers, finishes a checkpoint */
	uv_loop_close(&f->loop);
	pl_config_close(&f->cfg);
	char sql[160];
	snprintf(sql, sizeof sql, "%s-wal", f->path);
	unlink(sql);
	snprintf(sql, sizeof sql, "%s-shm", f->path);
	unlink(sql);
	unlink(f->path);
	rmdir(f->dir);
}

/* Stores n messages to room (or, with a recipient, privately); returns the last id. */
static long long store(struct fixture *f, const char *room, const char *recipient, int n)
{
	json_t *sender = json_pack("{ss}", "name", "t");
	json_t *to = recipient ? json_string(recipient) : NULL;
	long long id = 0;
	for (int i = 0; i < n; i++) {
		json_t *args = json_pack("[{si}]", "n", i);
		struct pl_record r = {.nsp = "/",
				      .room = room,
				      .recipient = to,
				      .sender = sender,
				      .event = "chat",
				      .args = args};
		id = pl_history_append(f->h, &r);
		json_decref(args);
	}
	json_decref(to);
	json_decref(sender);
	return id;
}

static long long count(struct fixture *f, const char *where)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM messages WHERE %s", where);
	sqlite3_stmt *st;
	long long n = -1;
	if (sqlite3_prepare_v2(pl_history_db(f->h), sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Runs steps until retention is caught up; returns how many it took, or -1 on an error. */
static int catch_up(struct pl_retention *r)
{
	for (int n = 1; n < 1000; n++) {
		int rc = pl_retention_step(r);
		if (rc <= 0)
			return rc < 0 ? -1 : n;
	}
	return -1;
}

static void test_keeps_the_newest_of_each_room(void)
{
	struct fixture f;
	ASSERT(setup(&f, 5));
	store(&f, "", NULL, 12);
	store(&f, "a", NULL, 3);
	long long last = store(&f, "b", NULL, 9);
	store(&f, NULL, "uid-x", 8);
	struct pl_retention *r = pl_retention_new(&f.loop, f.h, &f.cfg);
	ASSERT_NOT_NULL(r);
	ASSERT(catch_up(r) > 0);
	ASSERT_EQ(count(&f, "room = ''"), 5);
	ASSERT_EQ(count(&f, "room = 'a'"), 3);
	ASSERT_EQ(count(&f, "room = 'b'"), 5);
	ASSERT_EQ(count(&f, "recipient = '\"uid-x\"'"), 5);
	char newest[64];
	snprintf(newest, sizeof newest, "room = 'b' AND id > %lld", last - 5);
	ASSERT_EQ(count(&f, newest), 5);
	/* later messages are found by id and trimmed too */
	store(&f, "a", NULL, 4);
	ASSERT(catch_up(r) > 0);
	ASSERT_EQ(count(&f, "room = 'a'"), 5);
	teardown(&f, r);
}

static void test_steps_are_bounded(void)
{
	struct fixture f;
	ASSERT(setup(&f, 10));
	store(&f, "big", NULL, 2000);
	struct pl_retention *r = pl_retention_new(&f.loop, f.h, &f.cfg); /* runs one step */
	ASSERT_NOT_NULL(r);
	long long left = count(&f, "1");
	/* a step is about half a millisecond: far from all of it (on a loaded machine, maybe
	 * nothing yet) */
	ASSERT(left > 1000);
	ASSERT(catch_up(r) > 2);
	ASSERT_EQ(count(&f, "1"), 10);
	teardown(&f, r);
}

static long long told_id;

static void told(long long id, void *ud)
{
	(void)ud;
	told_id = id;
}

static void test_the_open_batch_is_committed_first(void)
{
	struct fixture f;
	ASSERT(setup(&f, 2));
	struct pl_retention *r = pl_retention_new(&f.loop, f.h, &f.cfg);
	ASSERT_NOT_NULL(r);
	store(&f, "", NULL, 4);
	json_t *args = json_pack("[{ss}]", "msg", "pending");
	json_t *sender = json_object();
	struct pl_record rec = {
	    .nsp = "/", .room = "", .sender = sender, .event = "chat", .args = args};
	told_id = 0;
	ASSERT_EQ(pl_history_store(f.h, &rec, told, NULL), 0);
	json_decref(args);
	json_decref(sender);
	ASSERT(catch_up(r) > 0);
	ASSERT(told_id > 0);
	char pending[64];
	snprintf(pending, sizeof pending, "id = %lld", told_id);
	ASSERT_EQ(count(&f, pending), 1);
	ASSERT_EQ(count(&f, "room = ''"), 2);
	teardown(&f, r);
}

static void test_a_locked_database_changes_nothing(void)
{
	struct fixture f;
	ASSERT(setup(&f, 3));
	store(&f, "", NULL, 10);
	sqlite3 *other;
	ASSERT_EQ(sqlite3_open(f.path, &other), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	struct pl_retention *r = pl_retention_new(&f.loop, f.h, &f.cfg);
	ASSERT_NOT_NULL(r);
	ASSERT_EQ(pl_retention_step(r), -EBUSY);
	ASSERT_EQ(count(&f, "1"), 10);
	ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	ASSERT(catch_up(r) > 0);
	ASSERT_EQ(count(&f, "1"), 3);
	teardown(&f, r);
}

TEST_MAIN(TEST(test_keeps_the_newest_of_each_room), TEST(test_steps_are_bounded),
	  TEST(test_the_open_batch_is_committed_first),
	  TEST(test_a_locked_database_changes_nothing))
