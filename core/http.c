/*
 * Static files, the client bundles, health checks and CORS (see http.h). Files are sent by the
 * transport asynchronously; this module only decides what to send.
 */
#include "http.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "config.h"

static const struct {
	const char *ext;  /* file name suffix */
	const char *mime; /* Content-Type */
} mime_types[] = {
	{".html", "text/html; charset=utf-8"}, {".js", "application/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},   {".map", "application/json; charset=utf-8"},
	{".json", "application/json"},	       {".png", "image/png"},
	{".svg", "image/svg+xml"},	       {".ico", "image/x-icon"},
	{".txt", "text/plain; charset=utf-8"}, {".woff2", "font/woff2"},
};

/* The socket.io-client dist/ files served under /socket.io/, as the Node server does. */
static const char *const client_files[] = {
	"socket.io.js",	       "socket.io.js.map",	 "socket.io.min.js",
	"socket.io.min.js.map", "socket.io.esm.min.js", "socket.io.esm.min.js.map",
	"socket.io.msgpack.min.js", "socket.io.msgpack.min.js.map",
};

bool pl_http_path_safe(const char *path)
{
	if (path[0] != '/' || strchr(path, '\\'))
		return false;
	for (const char *p = path; *p; p++) {
		/* a ".." segment; lws has already URL-decoded and collapsed what it could */
		if (p[0] == '.' && p[1] == '.' && (p == path || p[-1] == '/') && (p[2] == '/' || !p[2]))
			return false;
	}
	return true;
}

const char *pl_http_mime(const char *path)
{
	size_t n = strlen(path);
	for (size_t i = 0; i < sizeof mime_types / sizeof *mime_types; i++) {
		size_t e = strlen(mime_types[i].ext);
		if (n >= e && strcmp(path + n - e, mime_types[i].ext) == 0)
			return mime_types[i].mime;
	}
	return "application/octet-stream";
}

/* True for paths under the web root that are not part of the site: dot files, the npm tree and
 * its manifests. */
static bool private_path(const char *path)
{
	return strstr(path, "/.") || strncmp(path, "/node_modules", 13) == 0 ||
	       strcmp(path, "/package.json") == 0 || strcmp(path, "/package-lock.json") == 0;
}

/* Fills *r with a body answer. */
static void answer(struct pl_http_response *r, int status, const char *body)
{
	r->kind = PL_HTTP_BODY;
	r->status = status;
	r->ctype = "text/plain; charset=utf-8";
	r->body = body;
	r->len = strlen(body);
}

/* True if the real path of file (links resolved) is root's or inside it; stores it in real. */
static bool inside(const char *root, const char *file, char real[PATH_MAX])
{
	char top[PATH_MAX];
	if (!realpath(root, top) || !realpath(file, real))
		return false;
	size_t n = strlen(top);
	return strncmp(real, top, n) == 0 && (real[n] == '/' || real[n] == '\0' || n == 1);
}

/*
 * Answers with the regular file in r->file, or 404. A file whose real path leaves root (a
 * symbolic link out of the web root) is not found; the transport opens the real path.
 */
static void answer_file(struct pl_http_response *r, const char *root)
{
	struct stat st;
	char real[PATH_MAX];
	if (!inside(root, r->file, real) || stat(real, &st) != 0 || !S_ISREG(st.st_mode) ||
	    strlen(real) >= sizeof r->file) {
		answer(r, 404, "Not Found\n");
		return;
	}
	strcpy(r->file, real);
	r->kind = PL_HTTP_FILE;
	r->status = 200;
	r->ctype = pl_http_mime(r->file);
	r->headers = "cache-control: no-cache\r\n";
}

static pl_http_health_fn health_fn; /* the degraded-state check, or NULL */
static void *health_ud;		    /* its argument */
static char health_body[256];	    /* the answer it wrote (bodies are static) */

void pl_http_set_health(pl_http_health_fn fn, void *ud)
{
	health_fn = fn;
	health_ud = ud;
}

void pl_http_route(const struct pl_config *cfg, const char *path, struct pl_http_response *r)
{
	memset(r, 0, sizeof *r);
	char *file = r->file;
	if (strcmp(path, "/healthz") == 0) {
		/* degraded is still 200: the node serves its own clients, a balancer keeps it */
		if (health_fn && health_fn(health_ud, health_body, sizeof health_body))
			answer(r, 200, health_body);
		else
			answer(r, 200, "ok\n");
		return;
	}
	if (!pl_http_path_safe(path)) {
		answer(r, 403, "Forbidden\n");
		return;
	}
	if (strncmp(path, "/socket.io/", 11) == 0) {
		for (size_t i = 0; i < sizeof client_files / sizeof *client_files; i++) {
			if (strcmp(path + 11, client_files[i]) == 0) {
				snprintf(file, sizeof r->file, "%s/%s", cfg->client_dist,
					 client_files[i]);
				answer_file(r, cfg->client_dist);
				return;
			}
		}
		answer(r, 404, "Not Found\n");
		return;
	}
	if (private_path(path)) {
		answer(r, 404, "Not Found\n");
		return;
	}
	size_t n = strlen(path);
	if (snprintf(file, sizeof r->file, "%s%s%s", cfg->web_root, path,
		     path[n - 1] == '/' ? "index.html" : "") >= (int)sizeof r->file) {
		answer(r, 414, "URI Too Long\n");
		return;
	}
	struct stat st;
	if (stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (strlen(file) + 12 >= sizeof r->file) {
			r->kind = PL_HTTP_CLOSE;
			return;
		}
		strcat(file, "/index.html");
	}
	answer_file(r, cfg->web_root);
}

/* True if origin is one of the configured comma-separated origins. */
static bool origin_listed(const char *list, const char *origin)
{
	size_t n = strlen(origin);
	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		const char *e = p;
		while (*e && *e != ',')
			e++;
		const char *t = e;
		while (t > p && t[-1] == ' ')
			t--;
		if ((size_t)(t - p) == n && n && strncmp(p, origin, n) == 0)
			return true;
		p = e;
	}
	return false;
}

bool pl_http_origin_allowed(const struct pl_config *cfg, const char *origin, const char *host)
{
	if (!*origin)
		return true; /* not a browser: nothing of a visitor's is at stake */
	const char *list = cfg->cors_origins;
	if (list && (strcmp(list, "*") == 0 || origin_listed(list, origin)))
		return true;
	const char *rest = strncmp(origin, "http://", 7) == 0	 ? origin + 7
			   : strncmp(origin, "https://", 8) == 0 ? origin + 8
								 : NULL;
	return rest && *host && strcasecmp(rest, host) == 0;
}

const char *pl_http_query_value(const char *arg, const char *name, const char *kept, char *buf,
				size_t size)
{
	size_t n = strlen(name);
	if (kept || strncmp(arg, name, n) != 0 || arg[n] != '=')
		return kept;
	snprintf(buf, size, "%s", arg + n + 1);
	return buf;
}

size_t pl_http_cookie(const struct pl_config *cfg, const char *sid, char *buf, size_t n)
{
	if (!cfg->cookie)
		return 0;
	/* the attributes and their order are those of the reference's defaults, serialized by the
	 * npm cookie package */
	int len = snprintf(buf, n, "%s=%s; Path=%s; HttpOnly; SameSite=Lax", cfg->cookie, sid,
			   cfg->cookie_path);
	return len > 0 && (size_t)len < n ? (size_t)len : 0;
}

size_t pl_http_cors(const struct pl_config *cfg, const char *origin, bool preflight,
		    const char *request_headers, struct pl_http_header out[PL_HTTP_CORS_MAX])
{
	const char *list = cfg->cors_origins;
	size_t n = 0;
	if (!list)
		return 0;
	bool any = strcmp(list, "*") == 0;
	if (!any && !origin_listed(list, origin))
		return 0;
	if (any && !cfg->cors_credentials) {
		out[n++] = (struct pl_http_header){"access-control-allow-origin:", "*"};
	} else {
		/* with credentials a browser refuses "*": echo the origin */
		if (!*origin)
			return 0;
		out[n++] = (struct pl_http_header){"access-control-allow-origin:", origin};
		out[n++] = (struct pl_http_header){"vary:", "Origin"};
	}
	if (cfg->cors_credentials)
		out[n++] = (struct pl_http_header){"access-control-allow-credentials:", "true"};
	if (preflight) {
		out[n++] = (struct pl_http_header){"access-control-allow-methods:",
						   "GET,HEAD,PUT,PATCH,POST,DELETE"};
		if (request_headers && *request_headers)
			out[n++] = (struct pl_http_header){"access-control-allow-headers:",
							   request_headers};
	}
	return n;
}
