/*
 * Tests for core/http.c: which URL paths are safe, which Content-Type a file gets, how paths
 * route (health check, client bundles, private files, index.html for directories) over a real
 * temporary web root, which CORS headers an origin gets, how a query argument is read, and the
 * session cookie.
 */
#include "http.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

static void test_path_safe(void)
{
	ASSERT(pl_http_path_safe("/"));
	ASSERT(pl_http_path_safe("/index.html"));
	ASSERT(pl_http_path_safe("/a/b/c.js"));
	ASSERT(pl_http_path_safe("/a..b"));
	ASSERT(pl_http_path_safe("/..a/x"));
	ASSERT(pl_http_path_safe("/a../x"));
	ASSERT(pl_http_path_safe("/.well-known/x"));
	ASSERT(!pl_http_path_safe(""));
	ASSERT(!pl_http_path_safe("index.html"));
	ASSERT(!pl_http_path_safe("/.."));
	ASSERT(!pl_http_path_safe("/../etc/passwd"));
	ASSERT(!pl_http_path_safe("/a/../../etc/passwd"));
	ASSERT(!pl_http_path_safe("/a/.."));
	ASSERT(!pl_http_path_safe("/a\\..\\b"));
	ASSERT(!pl_http_path_safe("/a\\b"));
	ASSERT(!pl_http_path_safe("\\"));
}

static void test_mime(void)
{
	ASSERT_STR_EQ(pl_http_mime("/x/index.html"), "text/html; charset=utf-8");
	ASSERT_STR_EQ(pl_http_mime("a.js"), "application/javascript; charset=utf-8");
	ASSERT_STR_EQ(pl_http_mime("a.js.map"), "application/json; charset=utf-8");
	ASSERT_STR_EQ(pl_http_mime("a.css"), "text/css; charset=utf-8");
	ASSERT_STR_EQ(pl_http_mime("a.json"), "application/json");
	ASSERT_STR_EQ(pl_http_mime("a.png"), "image/png");
	ASSERT_STR_EQ(pl_http_mime("a.svg"), "image/svg+xml");
	ASSERT_STR_EQ(pl_http_mime("favicon.ico"), "image/x-icon");
	ASSERT_STR_EQ(pl_http_mime("a.txt"), "text/plain; charset=utf-8");
	ASSERT_STR_EQ(pl_http_mime("a.woff2"), "font/woff2");
	ASSERT_STR_EQ(pl_http_mime("a.woff"), "application/octet-stream");
	ASSERT_STR_EQ(pl_http_mime("html"), "application/octet-stream");
	ASSERT_STR_EQ(pl_http_mime("a.HTML"), "application/octet-stream");
	ASSERT_STR_EQ(pl_http_mime(""), "application/octet-stream");
}

/* A temporary web root: index.html, app.js, sub/index.html, .secret, package.json, and a client
 * dist directory holding socket.io.min.js. */
static char root[64];	/* the web root, a real path */
static char dist[96];	/* the client bundles, inside it */
static char outside[96]; /* a directory beside it, that links point to */

static void put(const char *rel, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", root, rel);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void make_root(struct pl_config *cfg)
{
	snprintf(root, sizeof root, "/tmp/parley-test-http-XXXXXX");
	char made[sizeof root], real[PATH_MAX];
	snprintf(made, sizeof made, "%s", root);
	/* real: files are answered by their real path */
	if (!mkdtemp(made) || !realpath(made, real) || strlen(real) >= sizeof root)
		abort();
	strcpy(root, real);
	char path[256];
	snprintf(path, sizeof path, "%s/sub", root);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/empty", root);
	mkdir(path, 0700);
	snprintf(dist, sizeof dist, "%s/dist", root);
	mkdir(dist, 0700);
	put("index.html", "<html>");
	put("app.js", "1");
	put("sub/index.html", "<html>");
	put(".secret", "s");
	put("package.json", "{}");
	put("dist/socket.io.min.js", "io");
	/* links: one within the root, and out of it to a file and to a directory */
	char target[256];
	snprintf(path, sizeof path, "%s/inner.js", root);
	if (symlink("app.js", path) != 0)
		abort();
	snprintf(outside, sizeof outside, "%s-outside", root);
	mkdir(outside, 0700);
	snprintf(target, sizeof target, "%s/secret.txt", outside);
	FILE *f = fopen(target, "w");
	if (f)
		fclose(f);
	snprintf(path, sizeof path, "%s/out.txt", root);
	if (symlink(target, path) != 0)
		abort();
	snprintf(path, sizeof path, "%s/outdir", root);
	if (symlink(outside, path) != 0)
		abort();
	pl_config_init(cfg);
	free(cfg->web_root);
	cfg->web_root = strdup(root);
	free(cfg->client_dist);
	cfg->client_dist = strdup(dist);
}

static void remove_root(struct pl_config *cfg)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", root, outside);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	pl_config_close(cfg);
}

/* Routes path and checks a body answer. */
#define ASSERT_BODY(cfg, path, st, text)                                                           \
	do {                                                                                       \
		struct pl_http_response r_;                                                        \
		pl_http_route(cfg, path, &r_);                                                     \
		ASSERT_EQ(r_.kind, PL_HTTP_BODY);                                                  \
		ASSERT_EQ(r_.status, st);                                                          \
		ASSERT_STR_EQ(r_.ctype, "text/plain; charset=utf-8");                              \
		ASSERT_MEM_LIT(r_.body, r_.len, text);                                             \
	} while (0)

/* Routes path and checks a file answer for the file rel under base. */
#define ASSERT_FILE(cfg, path, base, rel, mime)                                                    \
	do {                                                                                       \
		struct pl_http_response r_;                                                        \
		char want_[256];                                                                   \
		snprintf(want_, sizeof want_, "%s%s", base, rel);                                  \
		pl_http_route(cfg, path, &r_);                                                     \
		ASSERT_EQ(r_.kind, PL_HTTP_FILE);                                                  \
		ASSERT_EQ(r_.status, 200);                                                         \
		ASSERT_STR_EQ(r_.file, want_);                                                     \
		ASSERT_STR_EQ(r_.ctype, mime);                                                     \
		ASSERT_STR_EQ(r_.headers, "cache-control: no-cache\r\n");                          \
	} while (0)

static void run_routes(struct pl_config *cfg)
{
	ASSERT_BODY(cfg, "/healthz", 200, "ok\n");
	ASSERT_BODY(cfg, "/../index.html", 403, "Forbidden\n");
	ASSERT_BODY(cfg, "/sub/../../x", 403, "Forbidden\n");
	ASSERT_BODY(cfg, "/sub\\index.html", 403, "Forbidden\n");
	ASSERT_FILE(cfg, "/", root, "/index.html", "text/html; charset=utf-8");
	ASSERT_FILE(cfg, "/index.html", root, "/index.html", "text/html; charset=utf-8");
	ASSERT_FILE(cfg, "/app.js", root, "/app.js", "application/javascript; charset=utf-8");
	/* a directory without its slash still gets its index */
	ASSERT_FILE(cfg, "/sub", root, "/sub/index.html", "text/html; charset=utf-8");
	ASSERT_FILE(cfg, "/sub/", root, "/sub/index.html", "text/html; charset=utf-8");
	ASSERT_BODY(cfg, "/empty/", 404, "Not Found\n");
	ASSERT_BODY(cfg, "/empty", 404, "Not Found\n");
	ASSERT_BODY(cfg, "/missing.html", 404, "Not Found\n");
	/* private: dot files, the npm tree and its manifests */
	ASSERT_BODY(cfg, "/.secret", 404, "Not Found\n");
	ASSERT_BODY(cfg, "/sub/.git/config", 404, "Not Found\n");
	ASSERT_BODY(cfg, "/node_modules/socket.io-client/dist/socket.io.js", 404, "Not Found\n");
	ASSERT_BODY(cfg, "/package.json", 404, "Not Found\n");
	ASSERT_BODY(cfg, "/package-lock.json", 404, "Not Found\n");
	/* a link is followed only while its real path stays inside the web root */
	ASSERT_FILE(cfg, "/inner.js", root, "/app.js", "application/javascript; charset=utf-8");
	ASSERT_BODY(cfg, "/out.txt", 404, "Not Found\n");
	ASSERT_BODY(cfg, "/outdir/secret.txt", 404, "Not Found\n");
	/* the client bundles, from the dist directory, by exact name only */
	ASSERT_FILE(cfg, "/socket.io/socket.io.min.js", dist, "/socket.io.min.js",
		    "application/javascript; charset=utf-8");
	ASSERT_BODY(cfg, "/socket.io/socket.io.js", 404, "Not Found\n"); /* listed, absent */
	ASSERT_BODY(cfg, "/socket.io/app.js", 404, "Not Found\n");
	ASSERT_BODY(cfg, "/socket.io/", 404, "Not Found\n");
	ASSERT_BODY(cfg, "/socket.io/../index.html", 403, "Forbidden\n");
	/* a path too long for the file name buffer */
	char longp[5000];
	longp[0] = '/';
	memset(longp + 1, 'a', sizeof longp - 2);
	longp[sizeof longp - 1] = '\0';
	ASSERT_BODY(cfg, longp, 414, "URI Too Long\n");
}

static void test_routes(void)
{
	struct pl_config cfg;
	make_root(&cfg);
	run_routes(&cfg);
	remove_root(&cfg);
}

/* Decides the CORS headers and joins them as "name value\n" lines. */
static const char *cors(const struct pl_config *cfg, const char *origin, bool preflight,
			const char *req)
{
	static char out[1024];
	struct pl_http_header h[PL_HTTP_CORS_MAX];
	size_t n = pl_http_cors(cfg, origin, preflight, req, h);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s %s\n", h[i].name,
			 h[i].value);
	return out;
}

static void test_cors(void)
{
	struct pl_config cfg;
	pl_config_init(&cfg);
	/* none configured: no headers */
	ASSERT_STR_EQ(cors(&cfg, "http://a.example", true, "x-a"), "");
	/* any origin */
	cfg.cors_origins = strdup("*");
	ASSERT_STR_EQ(cors(&cfg, "http://a.example", false, NULL),
		      "access-control-allow-origin: *\n");
	ASSERT_STR_EQ(cors(&cfg, "", false, NULL), "access-control-allow-origin: *\n");
	ASSERT_STR_EQ(cors(&cfg, "http://a.example", true, "x-a, x-b"),
		      "access-control-allow-origin: *\n"
		      "access-control-allow-methods: GET,HEAD,PUT,PATCH,POST,DELETE\n"
		      "access-control-allow-headers: x-a, x-b\n");
	ASSERT_STR_EQ(cors(&cfg, "http://a.example", true, ""),
		      "access-control-allow-origin: *\n"
		      "access-control-allow-methods: GET,HEAD,PUT,PATCH,POST,DELETE\n");
	/* any origin with credentials: the origin is echoed, never "*" */
	cfg.cors_credentials = true;
	ASSERT_STR_EQ(cors(&cfg, "http://a.example", false, NULL),
		      "access-control-allow-origin: http://a.example\nvary: Origin\n"
		      "access-control-allow-credentials: true\n");
	ASSERT_STR_EQ(cors(&cfg, "", false, NULL), "");
	/* a list: exact matches only, spaces around commas ignored */
	free(cfg.cors_origins);
	cfg.cors_origins = strdup("http://a.example , https://b.example,http://c.example:8080");
	cfg.cors_credentials = false;
	ASSERT_STR_EQ(cors(&cfg, "http://a.example", false, NULL),
		      "access-control-allow-origin: http://a.example\nvary: Origin\n");
	ASSERT_STR_EQ(cors(&cfg, "https://b.example", false, NULL),
		      "access-control-allow-origin: https://b.example\nvary: Origin\n");
	ASSERT_STR_EQ(cors(&cfg, "http://c.example:8080", false, NULL),
		      "access-control-allow-origin: http://c.example:8080\nvary: Origin\n");
	ASSERT_STR_EQ(cors(&cfg, "http://c.example", false, NULL), "");
	ASSERT_STR_EQ(cors(&cfg, "http://a.example.evil", false, NULL), "");
	ASSERT_STR_EQ(cors(&cfg, "https://a.example", false, NULL), "");
	ASSERT_STR_EQ(cors(&cfg, "http://b.example", false, NULL), "");
	ASSERT_STR_EQ(cors(&cfg, "", false, NULL), "");
	cfg.cors_credentials = true;
	ASSERT_STR_EQ(cors(&cfg, "https://b.example", true, "content-type"),
		      "access-control-allow-origin: https://b.example\nvary: Origin\n"
		      "access-control-allow-credentials: true\n"
		      "access-control-allow-methods: GET,HEAD,PUT,PATCH,POST,DELETE\n"
		      "access-control-allow-headers: content-type\n");
	pl_config_close(&cfg);
}

static void test_websocket_origin(void)
{
	struct pl_config cfg;
	pl_config_init(&cfg);
	/* by default: no Origin (not a browser) or the same origin only */
	ASSERT(pl_http_origin_allowed(&cfg, "", "chat.example:3000"));
	ASSERT(pl_http_origin_allowed(&cfg, "http://chat.example:3000", "chat.example:3000"));
	ASSERT(pl_http_origin_allowed(&cfg, "https://Chat.Example", "chat.example"));
	ASSERT(!pl_http_origin_allowed(&cfg, "http://evil.example", "chat.example:3000"));
	ASSERT(!pl_http_origin_allowed(&cfg, "http://chat.example", "chat.example:3000"));
	ASSERT(!pl_http_origin_allowed(&cfg, "http://chat.example:3000.evil", "chat.example:3000"));
	ASSERT(!pl_http_origin_allowed(&cfg, "null", "chat.example"));
	ASSERT(!pl_http_origin_allowed(&cfg, "ws://chat.example", "chat.example"));
	ASSERT(!pl_http_origin_allowed(&cfg, "http://chat.example", ""));
	/* the CORS origins are allowed too */
	cfg.cors_origins = strdup("http://a.example, http://b.example");
	ASSERT(pl_http_origin_allowed(&cfg, "http://b.example", "chat.example"));
	ASSERT(!pl_http_origin_allowed(&cfg, "http://c.example", "chat.example"));
	free(cfg.cors_origins);
	cfg.cors_origins = strdup("*");
	ASSERT(pl_http_origin_allowed(&cfg, "http://c.example", "chat.example"));
	pl_config_close(&cfg);
}

static void test_query_value(void)
{
	char buf[8];
	const char *v = NULL;
	/* another argument, a name that only starts the same, no '=': nothing kept */
	ASSERT_NULL(pl_http_query_value("EIO=4", "sid", v, buf, sizeof buf));
	ASSERT_NULL(pl_http_query_value("sidx=1", "sid", v, buf, sizeof buf));
	ASSERT_NULL(pl_http_query_value("sid", "sid", v, buf, sizeof buf));
	ASSERT_NULL(pl_http_query_value("", "sid", v, buf, sizeof buf));
	ASSERT_NULL(pl_http_query_value("SID=1", "sid", v, buf, sizeof buf));
	/* an empty value is a value; the first one wins */
	v = pl_http_query_value("sid=", "sid", NULL, buf, sizeof buf);
	ASSERT(v == buf);
	ASSERT_STR_EQ(v, "");
	ASSERT(pl_http_query_value("sid=b", "sid", v, buf, sizeof buf) == buf);
	ASSERT_STR_EQ(buf, "");
	/* a value too long is cut to the buffer; '=' in a value is kept */
	v = pl_http_query_value("sid=0123456789", "sid", NULL, buf, sizeof buf);
	ASSERT_STR_EQ(v, "0123456");
	v = pl_http_query_value("sid=a=b", "sid", NULL, buf, sizeof buf);
	ASSERT_STR_EQ(v, "a=b");
}

/* The session cookie: off by default, else the reference's attributes in its order. */
static void test_cookie(void)
{
	struct pl_config cfg;
	pl_config_init(&cfg);
	char buf[128];
	ASSERT_EQ(pl_http_cookie(&cfg, "Abc_-12", buf, sizeof buf), 0);
	cfg.cookie = strdup("io");
	size_t n = pl_http_cookie(&cfg, "Abc_-12", buf, sizeof buf);
	ASSERT_STR_EQ(buf, "io=Abc_-12; Path=/; HttpOnly; SameSite=Lax");
	ASSERT_EQ(n, strlen(buf));
	free(cfg.cookie_path);
	cfg.cookie_path = strdup("/chat");
	pl_http_cookie(&cfg, "s", buf, sizeof buf);
	ASSERT_STR_EQ(buf, "io=s; Path=/chat; HttpOnly; SameSite=Lax");
	/* too small a buffer: no cookie rather than a truncated one */
	ASSERT_EQ(pl_http_cookie(&cfg, "s", buf, 10), 0);
	pl_config_close(&cfg);
}

TEST_MAIN(TEST(test_path_safe), TEST(test_mime), TEST(test_routes), TEST(test_cors),
	  TEST(test_websocket_origin), TEST(test_query_value), TEST(test_cookie))
