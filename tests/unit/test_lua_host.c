/*
 * Unit tests of the script host's sandbox (core/lua_host.c) over a fake extension API that
 * records log lines and hook registrations: what a script cannot reach, the memory cap, the
 * instruction budget (pcall and coroutines included), errors in hooks and disabling.
 */
#include "lua_host.h"

#include <errno.h>
#include <stdarg.h>
#include <time.h>

#include "test.h"

#define MAX_HOOKS 8

static char logbuf[65536];
static size_t loglen;
static struct {
	enum parley_hook hook;
	parley_hook_fn fn;
	void *ud;
} hooks[MAX_HOOKS];
static int n_hooks;

static void fake_log(parley_owner *o, enum parley_log_level level, const char *fmt, ...)
{
	(void)o;
	(void)level;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(logbuf + loglen, sizeof logbuf - loglen - 1, fmt, ap);
	va_end(ap);
	if (n > 0)
		loglen +=
		    (size_t)n < sizeof logbuf - loglen - 2 ? (size_t)n : sizeof logbuf - loglen - 2;
	logbuf[loglen++] = '\n';
	logbuf[loglen] = 0;
}

static bool fake_log_enabled(enum parley_log_level level)
{
	(void)level;
	return true;
}

static int fake_hook_add(parley_owner *o, enum parley_hook hook, const char *nsp, const char *event,
			 int priority, parley_hook_fn fn, void *ud)
{
	(void)o;
	(void)nsp;
	(void)event;
	(void)priority;
	if (n_hooks == MAX_HOOKS)
		return -ENOMEM;
	hooks[n_hooks].hook = hook;
	hooks[n_hooks].fn = fn;
	hooks[n_hooks].ud = ud;
	n_hooks++;
	return 0;
}

static int fake_hook_remove(parley_owner *o, enum parley_hook hook, parley_hook_fn fn, void *ud)
{
	(void)o;
	(void)hook;
	for (int i = 0; i < n_hooks; i++)
		if (hooks[i].fn == fn && hooks[i].ud == ud)
			hooks[i].fn = NULL;
	return 1;
}

static const char *fake_strerror(int e)
{
	(void)e;
	return "error";
}

static parley_nsp *fake_nsp_get(const char *name, bool create)
{
	(void)name;
	(void)create;
	return NULL;
}

static parley_timer *fake_timer_start(parley_owner *o, uint64_t ms, uint64_t repeat_ms,
				      parley_timer_fn fn, void *ud)
{
	(void)o;
	(void)ms;
	(void)repeat_ms;
	(void)fn;
	(void)ud;
	return NULL;
}

static const struct parley_api api = {
    .size = sizeof api,
    .version = PARLEY_API_VERSION,
    .strerror = fake_strerror,
    .log = fake_log,
    .log_enabled = fake_log_enabled,
    .hook_add = fake_hook_add,
    .hook_remove = fake_hook_remove,
    .nsp_get = fake_nsp_get,
    .timer_start = fake_timer_start,
};

static parley_owner *const owner = (parley_owner *)&api; /* never dereferenced */

static void reset(void)
{
	loglen = 0;
	logbuf[0] = 0;
	n_hooks = 0;
}

static struct pl_script *load(const char *src, const struct pl_script_limits *lim, char **err)
{
	reset();
	return pl_script_new(&api, owner, "t.lua", src, strlen(src), lim, err);
}

/* Loads src, expecting its top level to fail with a message containing what. */
static bool fails_with(const char *src, const struct pl_script_limits *lim, const char *what)
{
	char *err = NULL;
	struct pl_script *sc = load(src, lim, &err);
	bool ok = !sc && err && strstr(err, what);
	if (!ok)
		fprintf(stderr, "  expected an error with '%s', got %s\n", what,
			err ? err : "success");
	pl_script_free(sc);
	free(err);
	return ok;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_forbidden_globals(void)
{
	static const char *const names[] = {"io",      "os",	     "debug",  "package",
					    "load",    "loadstring", "dofile", "loadfile",
					    "require", "module"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char src[128];
		snprintf(src, sizeof src, "assert(%s == nil, '%s is reachable')", names[i],
			 names[i]);
		char *err = NULL;
		struct pl_script *sc = load(src, NULL, &err);
		if (!sc)
			fprintf(stderr, "  %s\n", err);
		ASSERT_NOT_NULL(sc);
		pl_script_free(sc);
		free(err);
	}
	char *err = NULL;
	struct pl_script *sc =
	    load("assert(string.dump == nil); assert(('x').dump == nil)\n"
		 "assert(type(string.rep) == 'function' and type(table.concat) == 'function')\n"
		 "assert(type(math.floor) == 'function' and type(utf8.char) == 'function')\n"
		 "assert(type(coroutine.wrap) == 'function' and type(parley.on) == 'function')\n"
		 "assert(type(collectgarbage('count')) == 'number')\n"
		 "assert(not pcall(collectgarbage, 'collect'))\n"
		 "assert(not pcall(collectgarbage, 'stop'))\n"
		 "assert(type(parley.clock()) == 'number' and parley.time() > 1e9)\n",
		 NULL, &err);
	if (!sc)
		fprintf(stderr, "  %s\n", err);
	ASSERT_NOT_NULL(sc);
	pl_script_free(sc);
	free(err);
}

static void test_bytecode_refused(void)
{
	static const char bc[] = "\x1bLuaT\x00\x19\x93\r\n\x1a\n";
	char *err = NULL;
	struct pl_script *sc = pl_script_new(&api, owner, "b.lua", bc, sizeof bc - 1, NULL, &err);
	ASSERT_NULL(sc);
	ASSERT_NOT_NULL(err);
	ASSERT(strstr(err, "binary") || strstr(err, "text"));
	free(err);
}

static void test_memory_cap(void)
{
	struct pl_script_limits lim;
	pl_script_limits_default(&lim);
	lim.max_memory = 4u << 20;
	lim.budget = 1000000000;
	ASSERT(fails_with("local t = {} for i = 1, 1e8 do t[i] = {i} end", &lim, "memory"));
	ASSERT(fails_with("local s = 'x' while true do s = s .. s end", &lim, "memory"));
	/* a huge string.rep is one C call: the cap stops it, not the budget */
	ASSERT(fails_with("local s = string.rep('x', 1 << 40)", &lim, ""));
	ASSERT(fails_with("local s = string.rep('abc', 1e8)", &lim, "memory"));
	ASSERT(fails_with("local s = string.rep('abc', 1e6, ',')", &lim, "memory"));
	/* the state still works after a memory error caught by the script */
	char *err = NULL;
	struct pl_script *sc = load("local ok = pcall(string.rep, 'x', 1e8)\nassert(not ok)\n"
				    "function f() return #string.rep('y', 1000) end\n",
				    &lim, &err);
	ASSERT_NOT_NULL(sc);
	ASSERT_EQ(pl_script_call(sc, "f"), 0);
	ASSERT(pl_script_memory(sc) <= lim.max_memory);
	pl_script_free(sc);
	free(err);
}

static void test_budget(void)
{
	struct pl_script_limits lim;
	pl_script_limits_default(&lim);
	lim.budget = 1000000;
	static const char *const loops[] = {
	    "while true do end",
	    "while true do pcall(function() while true do end end) end",
	    "while true do pcall(pcall, function() while true do end end) end",
	    "local function f() while true do pcall(f) end end f()",
	    "while true do xpcall(function() while true do end end, function() while true do end "
	    "end) end",
	    "while true do coroutine.resume(coroutine.create(function() while true do end end)) "
	    "end",
	    "local co = coroutine.wrap(function() while true do pcall(function() while true do end "
	    "end) end end) "
	    "while true do pcall(co) end",
	    "for i = 1, math.huge do local s = string.rep('x', 100) end",
	    "local t = setmetatable({}, {__index = function(t, k) while true do end end}) "
	    "while true do pcall(function() return t.x end) end",
	    "while true do pcall(string.gsub, 'aaaa', 'a', function() while true do end end) end",
	};
	for (size_t i = 0; i < sizeof loops / sizeof *loops; i++) {
		double t0 = now_s();
		ASSERT(fails_with(loops[i], &lim, ""));
		ASSERT(strstr(logbuf, "budget") != NULL);
		double dt = now_s() - t0;
		if (dt > 2.0)
			fprintf(stderr, "  %s took %.2f s\n", loops[i], dt);
		ASSERT(dt < 2.0);
	}
	/* each call from C gets a fresh budget */
	char *err = NULL;
	struct pl_script *sc = load("function f() for i = 1, 1e5 do end end", &lim, &err);
	ASSERT_NOT_NULL(sc);
	for (int i = 0; i < 50; i++)
		ASSERT_EQ(pl_script_call(sc, "f"), 0);
	pl_script_free(sc);
	free(err);
}

static void test_no_finalizers(void)
{
	ASSERT(fails_with("setmetatable({}, {__gc = function() while true do end end})", NULL,
			  "__gc"));
	char *err = NULL;
	struct pl_script *sc =
	    load("local mt = {} local t = setmetatable({}, mt)\n"
		 "mt.__gc = function() while true do end end t = nil\n"
		 "function f() local x = {} for i = 1, 1e4 do x[i] = {} end end\n",
		 NULL, &err);
	ASSERT_NOT_NULL(sc);
	ASSERT_EQ(pl_script_call(sc, "f"), 0);
	pl_script_free(sc);
	free(err);
}

static void test_hook_error_is_pass(void)
{
	char *err = NULL;
	struct pl_script *sc = load(
	    "calls = 0\n"
	    "parley.on('tick', function(ev) calls = calls + 1; error('boom ' .. ev.hook) end)\n"
	    "parley.on('tick', function(ev) return 'drop' end, 50)\n",
	    NULL, &err);
	ASSERT_NOT_NULL(sc);
	ASSERT_EQ(n_hooks, 2);
	struct parley_evt_tick ev = {.size = sizeof ev, .now_ms = 1000};
	ASSERT_EQ(hooks[0].fn(PARLEY_HOOK_TICK, &ev, hooks[0].ud), PARLEY_PASS);
	ASSERT(strstr(logbuf, "script t.lua: ") != NULL);
	ASSERT(strstr(logbuf, "boom tick") != NULL);
	ASSERT(strstr(logbuf, "stack traceback") != NULL);
	ASSERT_EQ(hooks[1].fn(PARLEY_HOOK_TICK, &ev, hooks[1].ud), PARLEY_DROP);
	ASSERT(!pl_script_disabled(sc));
	pl_script_free(sc);
	free(err);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void test_disabled_after_failures(void)
{
	char *err = NULL;
	struct pl_script *sc = load("parley.on('tick', function() error('again') end)", NULL, &err);
	ASSERT_NOT_NULL(sc);
	struct parley_evt_tick ev = {.size = sizeof ev, .now_ms = 1};
	for (int i = 0; i < 20; i++)
		ASSERT_EQ(hooks[0].fn(PARLEY_HOOK_TICK, &ev, hooks[0].ud), PARLEY_PASS);
	ASSERT(pl_script_disabled(sc));
	ASSERT_EQ(count(logbuf, "disabled"), 1);
	ASSERT_EQ(count(logbuf, "again"), 10);
	pl_script_free(sc);
	free(err);

	/* budget exhaustion, even with successes in between */
	struct pl_script_limits lim;
	pl_script_limits_default(&lim);
	lim.budget = 100000;
	sc = load("function spin() while true do end end\nfunction ok() end", &lim, &err);
	ASSERT_NOT_NULL(sc);
	for (int i = 0; i < 10; i++) {
		pl_script_call(sc, "spin");
		pl_script_call(sc, "ok");
	}
	ASSERT(pl_script_disabled(sc));
	ASSERT_EQ(count(logbuf, "disabled"), 1);
	ASSERT_EQ(pl_script_call(sc, "ok"), -1);
	pl_script_free(sc);
	free(err);
}

static void test_syntax_error(void)
{
	ASSERT(fails_with("parley.on('tick', function() end", NULL, "expected"));
	ASSERT(fails_with("parley.on('nosuchhook', function() end)", NULL, "unknown hook"));
}

TEST_MAIN(TEST(test_forbidden_globals), TEST(test_bytecode_refused), TEST(test_memory_cap),
	  TEST(test_budget), TEST(test_no_finalizers), TEST(test_hook_error_is_pass),
	  TEST(test_disabled_after_failures), TEST(test_syntax_error))
