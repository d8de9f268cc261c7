/*
 * Tests for core/config.c: command-line options, Lua config files and their errors, which must
 * name the offending option or key. stderr and stdout are captured to check the messages.
 */
#include "config.h"

#include <stdarg.h>
#include <unistd.h>

#include "log.h"
#include "parley/version.h"
#include "test.h"

static char err_text[8192]; /* what the last parse printed on stderr */
static char bundled_dir[4096]; /* stands in for the bundled plugins' and scripts' directories */
static const char *const bundled_files[] = {"moderation.so", "ratelimit.so", "help.lua",
					    "welcome.lua", "conformance.lua"};

static void remove_bundled(void)
{
	char f[4200];
	for (size_t i = 0; i < sizeof bundled_files / sizeof *bundled_files; i++) {
		snprintf(f, sizeof f, "%s/%s", bundled_dir, bundled_files[i]);
		unlink(f);
	}
	rmdir(bundled_dir);
}

/* Points the bundled directories at a temporary one holding (empty) bundled files. */
static void make_bundled(void)
{
	if (bundled_dir[0])
		return;
	const char *dir = getenv("TMPDIR");
	snprintf(bundled_dir, sizeof bundled_dir, "%s/parley-test-bundled-XXXXXX",
		 dir ? dir : "/tmp");
	if (!mkdtemp(bundled_dir))
		abort();
	char f[4200];
	for (size_t i = 0; i < sizeof bundled_files / sizeof *bundled_files; i++) {
		snprintf(f, sizeof f, "%s/%s", bundled_dir, bundled_files[i]);
		FILE *fp = fopen(f, "w");
		if (!fp)
			abort();
		fclose(fp);
	}
	pl_config_plugin_dir = bundled_dir;
	pl_config_script_dir = bundled_dir;
	atexit(remove_bundled);
}
static char out_text[8192]; /* what the last parse printed on stdout */

/* Reads what was written to tmp since it was created into text. */
static void slurp(FILE *tmp, char *text, size_t n)
{
	rewind(tmp);
	size_t got = fread(text, 1, n - 1, tmp);
	text[got] = '\0';
	fclose(tmp);
}

/*
 * Runs pl_config_parse_args on a fresh default config with the given arguments (a NULL-ended
 * list after the program name), capturing stdout and stderr. Returns its result; c is left
 * filled for the caller to check and close.
 */
static int parse(struct pl_config *c, ...)
{
	char *argv[64];
	int argc = 0;
	argv[argc++] = (char *)"parley";
	va_list ap;
	va_start(ap, c);
	for (const char *a; (a = va_arg(ap, const char *)) && argc < 63;)
		argv[argc++] = (char *)a;
	va_end(ap);
	argv[argc] = NULL;

	make_bundled();
	pl_config_init(c);
	FILE *err = tmpfile(), *out = tmpfile();
	if (!err || !out)
		abort();
	fflush(stdout);
	fflush(stderr);
	int saved_out = dup(1), saved_err = dup(2);
	dup2(fileno(out), 1);
	dup2(fileno(err), 2);
	int rc = pl_config_parse_args(c, argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	slurp(err, err_text, sizeof err_text);
	slurp(out, out_text, sizeof out_text);
	return rc;
}

/* Fails unless the captured stderr contains each of the given strings (a NULL-ended list). */
#define ASSERT_ERR_HAS(...)                                                                        \
	do {                                                                                       \
		const char *test_want[] = {__VA_ARGS__, NULL};                                     \
		for (int test_i = 0; test_want[test_i]; test_i++) {                                \
			if (!strstr(err_text, test_want[test_i])) {                                \
				test_fail_head(__FILE__, __LINE__, "stderr check");                \
				fprintf(stderr, ": \"%s\" not in \"%s\"\n", test_want[test_i],     \
					err_text);                                                 \
				return;                                                            \
			}                                                                          \
		}                                                                                  \
	} while (0)

static char file_path[4096]; /* the temporary config file written by write_file */

/* Writes text to a new temporary file whose name is left in file_path. */
static void write_file(const char *text)
{
	const char *dir = getenv("TMPDIR");
	snprintf(file_path, sizeof file_path, "%s/parley-test-config-XXXXXX", dir ? dir : "/tmp");
	int fd = mkstemp(file_path);
	if (fd < 0)
		abort();
	size_t n = strlen(text);
	if (write(fd, text, n) != (ssize_t)n)
		abort();
	close(fd);
}

/* Parses a config file of text alone (removed after); returns the result, errors in err_text. */
static int parse_file(const char *text)
{
	struct pl_config c;
	write_file(text);
	int rc = parse(&c, "--config", file_path, NULL);
	pl_config_close(&c);
	unlink(file_path);
	return rc;
}

static void test_defaults(void)
{
	struct pl_config c;
	ASSERT_EQ(parse(&c, NULL), 0);
	ASSERT_STR_EQ(c.host, "0.0.0.0");
	ASSERT_EQ(c.port, 3000);
	ASSERT_STR_EQ(c.web_root, "web");
	ASSERT_STR_EQ(c.client_dist, "web/node_modules/socket.io-client/dist");
	ASSERT_STR_EQ(c.db_path, "parley.db");
	ASSERT_STR_EQ(c.path, "/socket.io/");
	ASSERT_EQ(c.ping_interval, 25000);
	ASSERT_EQ(c.ping_timeout, 20000);
	ASSERT_EQ(c.max_payload, 1000000);
	ASSERT_EQ(c.connect_timeout, 45000);
	ASSERT_EQ(c.ack_timeout, 10000);
	ASSERT_EQ(c.max_send_queue, 4194304);
	ASSERT_EQ(c.max_connections, 100000);
	ASSERT_EQ(c.max_rooms, 1000);
	ASSERT_EQ(c.max_room_name, 128);
	ASSERT_NULL(c.cors_origins);
	ASSERT(!c.cors_credentials);
	ASSERT_NULL(c.cookie);
	ASSERT_STR_EQ(c.cookie_path, "/");
	ASSERT_EQ(c.history_replay, 50);
	ASSERT_EQ(c.log_level, PL_LOG_INFO);
	ASSERT_EQ(c.app, PL_APP_CHAT);
	ASSERT_EQ(c.n_namespaces, 0);
	ASSERT_STR_EQ(err_text, "");
	pl_config_close(&c);
	ASSERT_NULL(c.host);
}

static void test_options(void)
{
	struct pl_config c;
	ASSERT_EQ(parse(&c, "--port", "0", "--host", "127.0.0.1", "--web-root", "/srv/www",
			"--db=/tmp/x.db", "--path", "/io/", "--ping-interval", "300",
			"--ping-timeout=10", "--max-payload", "64", "--connect-timeout", "3600000",
			"--ack-timeout", "10", "--max-send-queue", "4294967296",
			"--max-connections", "1", "--cors-origin", "http://a,http://b",
			"--cors-credentials", "--log-level", "debug", "--app", "conformance",
			"--namespace", "/a", "--namespace=/b", NULL),
		  0);
	ASSERT_STR_EQ(err_text, "");
	ASSERT_EQ(c.port, 0);
	ASSERT_STR_EQ(c.host, "127.0.0.1");
	ASSERT_STR_EQ(c.web_root, "/srv/www");
	ASSERT_STR_EQ(c.client_dist, "/srv/www/node_modules/socket.io-client/dist");
	ASSERT_STR_EQ(c.db_path, "/tmp/x.db");
	ASSERT_STR_EQ(c.path, "/io/");
	ASSERT_EQ(c.ping_interval, 300);
	ASSERT_EQ(c.ping_timeout, 10);
	ASSERT_EQ(c.max_payload, 64);
	ASSERT_EQ(c.connect_timeout, 3600000);
	ASSERT_EQ(c.ack_timeout, 10);
	ASSERT_EQ(c.max_send_queue, 4294967296LL);
	ASSERT_EQ(c.max_connections, 1);
	ASSERT_STR_EQ(c.cors_origins, "http://a,http://b");
	ASSERT(c.cors_credentials);
	ASSERT_EQ(c.log_level, PL_LOG_DEBUG);
	ASSERT_EQ(c.app, PL_APP_CONFORMANCE);
	ASSERT_EQ(c.n_namespaces, 2);
	ASSERT_STR_EQ(c.namespaces[0], "/a");
	ASSERT_STR_EQ(c.namespaces[1], "/b");
	/* the protocol suite's setup is its script, alone */
	ASSERT(!c.bundled);
	ASSERT_EQ(c.n_plugins, 0);
	ASSERT_EQ(c.n_scripts, 1);
	ASSERT(strstr(c.scripts[0], "/conformance.lua") != NULL);
	pl_config_close(&c);

	/* later options win; booleans take =true/=false/=1/=0; --client-dist is kept */
	ASSERT_EQ(parse(&c, "--port", "1", "--port=65535", "--cors-credentials",
			"--cors-credentials=0", "--client-dist", "/d", "--app", "engine-echo",
			NULL),
		  0);
	ASSERT_EQ(c.port, 65535);
	ASSERT(!c.cors_credentials);
	ASSERT_STR_EQ(c.client_dist, "/d");
	ASSERT_EQ(c.app, PL_APP_ENGINE_ECHO);
	pl_config_close(&c);
	ASSERT_EQ(parse(&c, "--cors-credentials=true", "--log-level=error", "--history-replay", "0",
			NULL),
		  0);
	ASSERT_EQ(c.history_replay, 0);
	ASSERT(c.cors_credentials);
	ASSERT_EQ(c.log_level, PL_LOG_ERROR);
	pl_config_close(&c);

	/* the protective limits, at both ends of their ranges */
	ASSERT_EQ(parse(&c, "--max-rooms-per-socket", "1", "--max-room-name=4096", NULL), 0);
	ASSERT_STR_EQ(err_text, "");
	ASSERT_EQ(c.max_rooms, 1);
	ASSERT_EQ(c.max_room_name, 4096);
	pl_config_close(&c);
	ASSERT_EQ(parse(&c, "--max-rooms-per-socket=1000000", "--max-room-name", "1", NULL), 0);
	ASSERT_EQ(c.max_rooms, 1000000);
	ASSERT_EQ(c.max_room_name, 1);
	pl_config_close(&c);

	/* the history stream's length: 100,000 by default, from 100 to a billion */
	ASSERT_EQ(parse(&c, NULL), 0);
	ASSERT_EQ(c.redis_history_length, 100000);
	pl_config_close(&c);
	ASSERT_EQ(parse(&c, "--redis-history-length", "100", NULL), 0);
	ASSERT_EQ(c.redis_history_length, 100);
	pl_config_close(&c);
	ASSERT_EQ(parse(&c, "--redis-history-length=1000000000", NULL), 0);
	ASSERT_EQ(c.redis_history_length, 1000000000);
	pl_config_close(&c);
}

static void test_option_errors(void)
{
	struct pl_config c;
	static const struct {
		const char *args[3]; /* up to two arguments */
		const char *names;   /* what the error must mention */
	} cases[] = {
	    {{"--port", "70000"}, "--port"},
	    {{"--port", "65536"}, "--port"},
	    {{"--port", "-1"}, "--port"},
	    {{"--port", "abc"}, "--port"},
	    {{"--port", "12x"}, "--port"},
	    {{"--port", ""}, "--port"},
	    {{"--port", "99999999999999999999999"}, "--port"},
	    {{"--port"}, "--port"},
	    {{"--ping-interval", "9"}, "--ping-interval"},
	    {{"--ping-interval", "3600001"}, "--ping-interval"},
	    {{"--ping-timeout=0"}, "--ping-timeout"},
	    {{"--max-payload", "63"}, "--max-payload"},
	    {{"--max-send-queue", "4294967297"}, "--max-send-queue"},
	    {{"--max-connections", "0"}, "--max-connections"},
	    {{"--history-replay", "1001"}, "--history-replay"},
	    {{"--max-rooms-per-socket", "0"}, "--max-rooms-per-socket"},
	    {{"--max-rooms-per-socket", "1000001"}, "--max-rooms-per-socket"},
	    {{"--max-rooms-per-socket", "-5"}, "--max-rooms-per-socket"},
	    {{"--max-rooms-per-socket"}, "--max-rooms-per-socket"},
	    {{"--max-room-name", "0"}, "--max-room-name"},
	    {{"--max-room-name", "4097"}, "--max-room-name"},
	    {{"--max-room-name", "12k"}, "1 to 4096"},
	    {{"--max-rooms", "10"}, "--max-rooms"},
	    {{"--host", ""}, "--host"},
	    {{"--host"}, "--host"},
	    {{"--cors-credentials=maybe"}, "--cors-credentials"},
	    {{"--cookie", ""}, "--cookie"},
	    {{"--cookie", "a;b"}, "cookie"},
	    {{"--cookie", "a=b"}, "cookie"},
	    {{"--cookie", "a b"}, "cookie"},
	    {{"--cookie-path", "x"}, "cookie-path"},
	    {{"--cookie-path", "/a;b"}, "cookie-path"},
	    {{"--cookie-path", "/a\r\nb"}, "cookie-path"},
	    {{"--log-level", "loud"}, "--log-level"},
	    {{"--app", "nope"}, "--app"},
	    {{"--namespace", "chat"}, "--namespace"},
	    {{"--namespace", "/a,b"}, "--namespace"},
	    {{"--redis", "rediss://h:6380"}, "TLS"},
	    {{"--redis-history-length", "99"}, "--redis-history-length"},
	    {{"--redis-history-length", "1000000001"}, "100 to 1000000000"},
	    {{"--redis", "redis://alice@h"}, "[[user]:password@]"},
	    {{"--path", "/io"}, "path"},
	    {{"--path", "io/"}, "path"},
	    {{"--bogus"}, "--bogus"},
	    {{"--bogus=1"}, "--bogus"},
	    {{"--ping_interval", "300"}, "--ping_interval"},
	    {{"--"}, "--"},
	    {{"-p", "80"}, "-p"},
	    {{"stray"}, "stray"},
	    {{"--config"}, "--config"},
	    {{"--aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
	     "unknown"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int rc = parse(&c, cases[i].args[0], cases[i].args[1], cases[i].args[2], NULL);
		pl_config_close(&c);
		ASSERT_EQ(rc, -1);
		ASSERT_ERR_HAS(cases[i].names);
		if (test_failed) {
			fprintf(stderr, "  (case %zu)\n", i);
			return;
		}
	}

	/* the longest cookie name (64 bytes) and path (256) pass, one byte more is refused */
	static const struct {
		const char *option; /* the option */
		size_t max;	    /* its longest value */
		char first;	    /* the value's first character */
	} longest[] = {{"--cookie", 64, 'c'}, {"--cookie-path", 256, '/'}};
	for (size_t i = 0; i < sizeof longest / sizeof *longest; i++) {
		static char arg[300];
		memset(arg, 'x', sizeof arg);
		arg[0] = longest[i].first;
		arg[longest[i].max + 1] = '\0';
		ASSERT_EQ(parse(&c, longest[i].option, arg, NULL), -1);
		pl_config_close(&c);
		ASSERT_ERR_HAS(longest[i].option + 2);
		arg[longest[i].max] = '\0';
		ASSERT_EQ(parse(&c, longest[i].option, arg, NULL), 0);
		pl_config_close(&c);
	}

	/* a namespace over 256 bytes, and more than PL_CONFIG_MAX_NSP namespaces */
	static char nsp[300];
	nsp[0] = '/';
	memset(nsp + 1, 'n', 256);
	ASSERT_EQ(parse(&c, "--namespace", nsp, NULL), -1);
	pl_config_close(&c);
	ASSERT_ERR_HAS("--namespace");
	nsp[256] = '\0';
	ASSERT_EQ(parse(&c, "--namespace", nsp, NULL), 0);
	ASSERT_EQ(c.n_namespaces, 1);
	pl_config_close(&c);

	char *args[2 * (PL_CONFIG_MAX_NSP + 1)];
	static char names[PL_CONFIG_MAX_NSP + 1][8];
	for (int i = 0; i <= PL_CONFIG_MAX_NSP; i++) {
		snprintf(names[i], sizeof names[i], "/n%d", i);
		args[2 * i] = (char *)"--namespace";
		args[2 * i + 1] = names[i];
	}
	/* 16 are fine, the 17th is refused */
	char *argv[2 * (PL_CONFIG_MAX_NSP + 1) + 2];
	argv[0] = (char *)"parley";
	memcpy(argv + 1, args, sizeof args);
	pl_config_init(&c);
	ASSERT_EQ(pl_config_parse_args(&c, 1 + 2 * PL_CONFIG_MAX_NSP, argv), 0);
	ASSERT_EQ(c.n_namespaces, PL_CONFIG_MAX_NSP);
	pl_config_close(&c);
	fflush(stderr);
	int saved = dup(2);
	FILE *err = tmpfile();
	dup2(fileno(err), 2);
	pl_config_init(&c);
	int rc = pl_config_parse_args(&c, 1 + 2 * (PL_CONFIG_MAX_NSP + 1), argv);
	pl_config_close(&c);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	slurp(err, err_text, sizeof err_text);
	ASSERT_EQ(rc, -1);
	ASSERT_ERR_HAS("--namespace", "at most 16");
}

static void test_help_version(void)
{
	struct pl_config c;
	ASSERT_EQ(parse(&c, "--help", NULL), 1);
	pl_config_close(&c);
	ASSERT(strstr(out_text, "Usage: parley") != NULL);
	ASSERT(strstr(out_text, "--port N") != NULL);
	ASSERT(strstr(out_text, "--config FILE") != NULL);
	ASSERT(strstr(out_text, "--cors-credentials ") != NULL);
	ASSERT(strstr(out_text, "--max-rooms-per-socket N") != NULL);
	ASSERT(strstr(out_text, "--max-room-name N") != NULL);
	ASSERT_STR_EQ(err_text, "");
	ASSERT_EQ(parse(&c, "--port", "80", "-h", NULL), 1);
	pl_config_close(&c);
	ASSERT(strstr(out_text, "Usage: parley") != NULL);
	ASSERT_EQ(parse(&c, "--version", NULL), 1);
	pl_config_close(&c);
	ASSERT_STR_EQ(out_text, "parley " PARLEY_VERSION_STRING "\n");
	/* the generated numbers and string agree */
	char v[32];
	snprintf(v, sizeof v, "%d.%d.%d", PARLEY_VERSION_MAJOR, PARLEY_VERSION_MINOR,
		 PARLEY_VERSION_PATCH);
	ASSERT_STR_EQ(v, PARLEY_VERSION_STRING);
	/* an error before --help wins */
	ASSERT_EQ(parse(&c, "--port", "70000", "--help", NULL), -1);
	pl_config_close(&c);
	ASSERT_ERR_HAS("--port");
}

static void test_config_file(void)
{
	struct pl_config c;
	write_file("-- a Parley configuration\n"
		   "port = 1234\n"
		   "ping_interval = 300\n");
	int rc = parse(&c, "--config", file_path, NULL);
	ASSERT_EQ(rc, 0);
	ASSERT_STR_EQ(err_text, "");
	ASSERT_EQ(c.port, 1234);
	ASSERT_EQ(c.ping_interval, 300);
	ASSERT_EQ(c.ping_timeout, 20000);
	pl_config_close(&c);

	/* the command line overrides the file, wherever --config appears */
	ASSERT_EQ(parse(&c, "--port", "5", "--config", file_path, NULL), 0);
	ASSERT_EQ(c.port, 5);
	ASSERT_EQ(c.ping_interval, 300);
	pl_config_close(&c);
	ASSERT_EQ(parse(&c, "--config", file_path, "--ping-interval", "400", NULL), 0);
	ASSERT_EQ(c.port, 1234);
	ASSERT_EQ(c.ping_interval, 400);
	pl_config_close(&c);
	unlink(file_path);

	/* every type, locals and expressions (it is Lua), and string numbers */
	write_file("local base = 1000\n"
		   "host = '127.0.0.1'\n"
		   "port = '4321'\n"
		   "max_payload = base * 64\n"
		   "max_send_queue = 1 << 20\n"
		   "cors_origin = 'http://x'\n"
		   "cors_credentials = true\n"
		   "log_level = 'warn'\n"
		   "app = 'engine-echo'\n"
		   "namespace = {'/a', '/b'}\n"
		   "path = '/io/'\n"
		   "web_root = [[/srv]]\n"
		   "history_replay = 1000\n"
		   "max_rooms_per_socket = 50\n"
		   "max_room_name = '64'\n"
		   "cookie = 'io'\n"
		   "cookie_path = '/chat'\n");
	rc = parse(&c, "--config", file_path, "--namespace", "/c", NULL);
	unlink(file_path);
	ASSERT_EQ(rc, 0);
	ASSERT_STR_EQ(c.host, "127.0.0.1");
	ASSERT_EQ(c.port, 4321);
	ASSERT_EQ(c.max_payload, 64000);
	ASSERT_EQ(c.max_send_queue, 1 << 20);
	ASSERT_STR_EQ(c.cors_origins, "http://x");
	ASSERT(c.cors_credentials);
	ASSERT_EQ(c.log_level, PL_LOG_WARN);
	ASSERT_EQ(c.app, PL_APP_ENGINE_ECHO);
	ASSERT_EQ(c.n_namespaces, 3);
	ASSERT_STR_EQ(c.namespaces[0], "/a");
	ASSERT_STR_EQ(c.namespaces[1], "/b");
	ASSERT_STR_EQ(c.namespaces[2], "/c");
	ASSERT_STR_EQ(c.path, "/io/");
	ASSERT_STR_EQ(c.client_dist, "/srv/node_modules/socket.io-client/dist");
	ASSERT_EQ(c.history_replay, 1000);
	ASSERT_EQ(c.max_rooms, 50);
	ASSERT_EQ(c.max_room_name, 64);
	ASSERT_STR_EQ(c.cookie, "io");
	ASSERT_STR_EQ(c.cookie_path, "/chat");
	pl_config_close(&c);

	/* an empty file changes nothing */
	write_file("");
	rc = parse(&c, "--config", file_path, NULL);
	unlink(file_path);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(c.port, 3000);
	pl_config_close(&c);
}

static void test_config_file_errors(void)
{
	static const struct {
		const char *text;  /* the file */
		const char *names; /* what the error must mention */
	} cases[] = {
	    {"port = 1234\nbogus = 1\n", "bogus"},
	    {"ping_interval = 300\nping-interval = 300\n", "config"}, /* a Lua syntax error */
	    {"_ENV['ping-interval'] = 300\n", "ping-interval"},
	    {"_ENV[1] = 300\n", "unknown config key"},
	    {"Port = 80\n", "Port"},
	    {"port = true\n", "port"},
	    {"port = 12.5\n", "port"},
	    {"port = 80.0\n", "port"},
	    {"port = {}\n", "port"},
	    {"port = 'x'\n", "port"},
	    {"port = 70000\n", "port"},
	    {"port = -1\n", "port"},
	    {"ping_interval = 1\n", "ping_interval"},
	    {"history_replay = -1\n", "history_replay"},
	    {"max_rooms_per_socket = 0\n", "max_rooms_per_socket"},
	    {"max_rooms_per_socket = 1e3\n", "max_rooms_per_socket"},
	    {"max_room_name = 5000\n", "max_room_name"},
	    {"max_room_name = true\n", "max_room_name"},
	    {"max_rooms = 10\n", "max_rooms"},
	    {"host = 5\n", "host"},
	    {"host = ''\n", "host"},
	    {"cors_credentials = 'yes'\n", "cors_credentials"},
	    {"cors_credentials = 1\n", "cors_credentials"},
	    {"log_level = 'loud'\n", "log_level"},
	    {"app = 3\n", "app"},
	    {"namespace = {'/a', 'b'}\n", "namespace"},
	    {"namespace = 'nope'\n", "namespace"},
	    {"path = 'io'\n", "path"},
	    {"port = \n", "config"},
	    {"error('boom')\n", "config"}, /* no libraries: calling a nil global fails */
	    {"os.exit(1)\n", "config"},
	    {"port = string.rep('1', 3)\n", "config"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct pl_config c;
		write_file(cases[i].text);
		int rc = parse(&c, "--config", file_path, NULL);
		pl_config_close(&c);
		unlink(file_path);
		ASSERT_EQ(rc, -1);
		ASSERT_ERR_HAS(cases[i].names);
		if (test_failed) {
			fprintf(stderr, "  (case %zu: %s)\n", i, cases[i].text);
			return;
		}
	}

	/* a wrong type says so */
	struct pl_config c;
	write_file("ping_interval = 'often'\nport = false\n");
	int rc = parse(&c, "--config", file_path, NULL);
	pl_config_close(&c);
	unlink(file_path);
	ASSERT_EQ(rc, -1);
	ASSERT(strstr(err_text, "wrong type") || strstr(err_text, "expected"));

	write_file("port = true\n");
	rc = parse(&c, "--config", file_path, NULL);
	pl_config_close(&c);
	unlink(file_path);
	ASSERT_EQ(rc, -1);
	ASSERT_ERR_HAS("'port'", "wrong type", "boolean");

	/* a missing file, and a precompiled chunk (only text is loaded) */
	ASSERT_EQ(parse(&c, "--config", "/nonexistent/parley.lua", NULL), -1);
	pl_config_close(&c);
	ASSERT_ERR_HAS("/nonexistent/parley.lua");
	write_file("\x1bLua\x54");
	rc = parse(&c, "--config", file_path, NULL);
	pl_config_close(&c);
	unlink(file_path);
	ASSERT_EQ(rc, -1);
	ASSERT_ERR_HAS("config");
}

/* A config file is bounded in instructions and memory: a mistake fails at start, at once. */
static void test_config_file_bounds(void)
{
	struct pl_config c;
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"while true do end\n", "more than 1000000 Lua instructions"},
	    {"local function f() return f() end\nport = f()\n", "Lua instructions"},
	    {"local t = {}\nfor i = 1, 1e9 do t[i] = i end\n", "Lua instructions"},
	    {"local s = 'x'\nfor i = 1, 40 do s = s .. s end\n", "more than 64 MB of memory"},
	    {"local s = 'a'\nfor i = 1, 13 do s = s .. s end\nweb_root = s\n",
	     "config key 'web_root' is longer than 4095 bytes"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ASSERT_EQ(parse_file(bad[i].text), -1);
		ASSERT_ERR_HAS(bad[i].want, file_path);
	}

	/* loops that end are fine, and the bound does not outlive the file */
	write_file("local n = {}\nfor i = 1, 16 do n[i] = '/n' .. i end\nnamespace = n\n"
		   "local s = 'x'\nfor i = 1, 20 do s = s .. s end\n"
		   "cors_origin = 'http://a' .. #s\n");
	int rc = parse(&c, "--config", file_path, NULL);
	unlink(file_path);
	ASSERT_EQ(rc, 0);
	ASSERT_STR_EQ(err_text, "");
	ASSERT_EQ(c.n_namespaces, 16);
	ASSERT_STR_EQ(c.namespaces[15], "/n16");
	ASSERT_STR_EQ(c.cors_origins, "http://a1048576");
	pl_config_close(&c);

	/* the text of a file, as the fuzzer gives it */
	pl_config_init(&c);
	static const char text[] = "port = 99\nhost = 'h'";
	ASSERT_EQ(pl_config_load_buffer(&c, text, sizeof text - 1, "t.lua"), 0);
	ASSERT_EQ(c.port, 99);
	ASSERT_STR_EQ(c.host, "h");
	pl_config_close(&c);
}

/* The value of key in a plugin's options, or NULL. */
static const char *opt(const struct pl_plugin_conf *p, const char *key)
{
	for (size_t i = 0; p->options[i]; i += 2)
		if (strcmp(p->options[i], key) == 0)
			return p->options[i + 1];
	return NULL;
}

static void test_extensions(void)
{
	struct pl_config c;
	char want[4200];

	/* the default: the bundled plugins and scripts, in that order */
	ASSERT_EQ(parse(&c, NULL), 0);
	ASSERT(c.bundled);
	ASSERT_EQ(c.n_plugins, 2);
	ASSERT_STR_EQ(c.plugins[0].name, "moderation");
	ASSERT_STR_EQ(c.plugins[1].name, "ratelimit");
	ASSERT(c.plugins[0].bundled);
	snprintf(want, sizeof want, "%s/moderation.so", bundled_dir);
	ASSERT_STR_EQ(c.plugins[0].path, want);
	ASSERT_NULL(c.plugins[0].options[0]);
	ASSERT_EQ(c.n_scripts, 2);
	snprintf(want, sizeof want, "%s/welcome.lua", bundled_dir);
	ASSERT_STR_EQ(c.scripts[1], want);
	pl_config_close(&c);

	/* --no-bundled, repeatable --plugin and --script */
	snprintf(want, sizeof want, "%s/help.lua", bundled_dir);
	ASSERT_EQ(parse(&c, "--no-bundled", "--plugin", "a/b/wordguard.so", "--plugin=other.so",
			"--script", want, NULL),
		  0);
	ASSERT_STR_EQ(err_text, "");
	ASSERT(!c.bundled);
	ASSERT_EQ(c.n_plugins, 2);
	ASSERT_STR_EQ(c.plugins[0].path, "a/b/wordguard.so");
	ASSERT_STR_EQ(c.plugins[0].name, "wordguard");
	ASSERT(!c.plugins[0].bundled);
	ASSERT_STR_EQ(c.plugins[1].name, "other");
	ASSERT_EQ(c.n_scripts, 1);
	ASSERT_STR_EQ(c.scripts[0], want);
	pl_config_close(&c);

	/* explicit plugins follow the bundled ones; one named like a bundled one replaces it */
	ASSERT_EQ(parse(&c, "--plugin", "x.so", "--plugin", "/opt/moderation.so", NULL), 0);
	ASSERT_EQ(c.n_plugins, 3);
	ASSERT_STR_EQ(c.plugins[0].name, "ratelimit");
	ASSERT_STR_EQ(c.plugins[1].name, "x");
	ASSERT_STR_EQ(c.plugins[2].path, "/opt/moderation.so");
	pl_config_close(&c);

	/* the config file: plugins with inline options, plugin_options by name, scripts */
	char text[8192];
	snprintf(text, sizeof text,
		 "plugins = { \"a.so\", { path = \"dir/b.so\", options = { words = \"x,y\", "
		 "mode = \"mask\", max = 3, ratio = 0.5, on = true } } }\n"
		 "plugin_options = { b = { mode = \"drop\", extra = \"1\" }, moderation = { "
		 "words = \"bad\" } }\n"
		 "scripts = { \"%s\" }\n",
		 want);
	write_file(text);
	int rc = parse(&c, "--config", file_path, "--plugin", "c.so", NULL);
	unlink(file_path);
	ASSERT_EQ(rc, 0);
	ASSERT_STR_EQ(err_text, "");
	ASSERT_EQ(c.n_plugins, 5);
	ASSERT_STR_EQ(c.plugins[0].name, "moderation");
	ASSERT_STR_EQ(opt(&c.plugins[0], "words"), "bad");
	ASSERT_NULL(c.plugins[1].options[0]);
	ASSERT_STR_EQ(c.plugins[2].name, "a");
	const struct pl_plugin_conf *b = &c.plugins[3];
	ASSERT_STR_EQ(b->path, "dir/b.so");
	ASSERT_STR_EQ(opt(b, "words"), "x,y");
	ASSERT_STR_EQ(opt(b, "mode"), "mask"); /* inline options win */
	ASSERT_STR_EQ(opt(b, "max"), "3");
	ASSERT_STR_EQ(opt(b, "ratio"), "0.5");
	ASSERT_STR_EQ(opt(b, "on"), "true");
	ASSERT_STR_EQ(opt(b, "extra"), "1");
	ASSERT_STR_EQ(c.plugins[4].name, "c");
	/* a bundled script the configuration names itself is loaded once, where it names it */
	ASSERT_EQ(c.n_scripts, 2);
	ASSERT(strstr(c.scripts[0], "/welcome.lua") != NULL);
	ASSERT_STR_EQ(c.scripts[1], want);
	pl_config_close(&c);

	write_file("bundled = false\n");
	rc = parse(&c, "--config", file_path, NULL);
	unlink(file_path);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(c.n_plugins, 0);
	ASSERT_EQ(c.n_scripts, 0);
	pl_config_close(&c);

	/* a bundled file that does not exist is skipped with a warning */
	pl_config_plugin_dir = "/nonexistent";
	ASSERT_EQ(parse(&c, NULL), 0);
	pl_config_plugin_dir = bundled_dir;
	ASSERT_EQ(c.n_plugins, 0);
	ASSERT_EQ(c.n_scripts, 2);
	ASSERT_ERR_HAS("bundled plugin /nonexistent/moderation.so not found, skipped",
		       "/nonexistent/ratelimit.so");
	pl_config_close(&c);
}

static void test_extension_errors(void)
{
	struct pl_config c;
	ASSERT_EQ(parse(&c, "--plugin", "a/x.so", "--plugin", "b/x.so", NULL), -1);
	pl_config_close(&c);
	ASSERT_ERR_HAS("b/x.so", "'x'");
	ASSERT_EQ(parse(&c, "--script", "/nonexistent/s.lua", NULL), -1);
	pl_config_close(&c);
	ASSERT_ERR_HAS("script /nonexistent/s.lua", "No such file");
	ASSERT_EQ(parse(&c, "--plugin", NULL), -1);
	pl_config_close(&c);
	ASSERT_ERR_HAS("--plugin", "missing value");
	ASSERT_EQ(parse(&c, "--no-port", NULL), -1);
	pl_config_close(&c);
	ASSERT_ERR_HAS("unknown option '--no-port'");

	static const struct {
		const char *text, *want;
	} bad[] = {
		{"plugins = \"a.so\"\n", "'plugins' must list"},
		{"plugins = { 3 }\n", "entry 1 must be a path"},
		{"plugins = { { options = {} } }\n", "entry 1 must be a path"},
		{"plugins = { { path = \"a.so\", options = { w = {} } } }\n",
		 "'plugins[1].options' must map names to strings, numbers or booleans"},
		{"plugins = { { path = \"a.so\", options = 1 } }\n", "must be a table"},
		{"plugin_options = { m = 1 }\n", "'plugin_options.m' must be a table"},
		{"plugin_options = 1\n", "'plugin_options' must be a table"},
		{"scripts = { 1 }\n", "'scripts' must list strings"},
		{"plugin = \"a.so\"\n", "unknown config key 'plugin'"},
		{"bundled = 1\n", "'bundled'"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		ASSERT_EQ(parse_file(bad[i].text), -1);
		ASSERT_ERR_HAS(bad[i].want);
	}
}

/* The --redis URL: redis://[[user]:password@]host[:port][/db]. */
static void test_redis_urls(void)
{
	struct pl_redis_url u;
	ASSERT_EQ(pl_config_redis_url("redis://127.0.0.1:6380", &u), 0);
	ASSERT_STR_EQ(u.host, "127.0.0.1");
	ASSERT_EQ(u.port, 6380);
	ASSERT_EQ(u.db, 0);
	ASSERT_STR_EQ(u.password, "");
	ASSERT_EQ(pl_config_redis_url("redis://:s3cret@redis.local/2", &u), 0);
	ASSERT_STR_EQ(u.host, "redis.local");
	ASSERT_EQ(u.port, 6379);
	ASSERT_STR_EQ(u.password, "s3cret");
	ASSERT_EQ(u.db, 2);
	ASSERT_EQ(pl_config_redis_url("redis://[::1]:7000/", &u), 0);
	ASSERT_STR_EQ(u.host, "::1");
	ASSERT_EQ(u.port, 7000);
	ASSERT_EQ(pl_config_redis_url("http://x:1", &u), -1);
	ASSERT_EQ(pl_config_redis_url("redis://", &u), -1);
	ASSERT_EQ(pl_config_redis_url("redis://h:0", &u), -1);
	ASSERT_EQ(pl_config_redis_url("redis://h:99999", &u), -1);
	ASSERT_EQ(pl_config_redis_url("redis://h:1/x", &u), -1);
	/* an ACL user, and %XX escapes in user and password */
	ASSERT_EQ(pl_config_redis_url("redis://alice:pw@h:7000/3", &u), 0);
	ASSERT_STR_EQ(u.user, "alice");
	ASSERT_STR_EQ(u.password, "pw");
	ASSERT_STR_EQ(u.host, "h");
	ASSERT_EQ(u.port, 7000);
	ASSERT_EQ(u.db, 3);
	ASSERT_EQ(pl_config_redis_url("redis://a%40b:s3%3Ac%40t%25@h", &u), 0);
	ASSERT_STR_EQ(u.user, "a@b");
	ASSERT_STR_EQ(u.password, "s3:c@t%");
	ASSERT_EQ(pl_config_redis_url("redis://:p@ss@h", &u), 0); /* the last @ ends it */
	ASSERT_STR_EQ(u.user, "");
	ASSERT_STR_EQ(u.password, "p@ss");
	ASSERT_STR_EQ(u.host, "h");
	ASSERT_EQ(pl_config_redis_url("redis://alice@h", &u), -1);   /* no password */
	ASSERT_EQ(pl_config_redis_url("redis://alice:@h", &u), -1);  /* an empty one */
	ASSERT_EQ(pl_config_redis_url("redis://:pw%4@h", &u), -1);   /* a bad escape */
	ASSERT_EQ(pl_config_redis_url("redis://:pw%00@h", &u), -1);  /* a NUL */
	ASSERT_EQ(pl_config_redis_url("redis://:pw%zz@h", &u), -1);
	ASSERT_EQ(pl_config_redis_url("rediss://h", &u), -1); /* TLS: not in this hiredis */
}

TEST_MAIN(TEST(test_defaults), TEST(test_options), TEST(test_option_errors),
	  TEST(test_help_version), TEST(test_config_file), TEST(test_config_file_errors),
	  TEST(test_config_file_bounds), TEST(test_extensions), TEST(test_extension_errors),
	  TEST(test_redis_urls))
