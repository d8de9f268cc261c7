/*
 * Static files, the client bundles, health checks and CORS (see http.h). Files are sent by
 * libwebsockets asynchronously; this module only decides what to send.
 */
#include "http.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "server.h"
#include "transport.h"

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

static const char *mime_for(const char *path)
{
	size_t n = strlen(path);
	for (size_t i = 0; i < sizeof mime_types / sizeof *mime_types; i++) {
		size_t e = strlen(mime_types[i].ext);
		if (n >= e && strcmp(path + n - e, mime_types[i].ext) == 0)
			return mime_types[i].mime;
	}
	return "application/octet-stream";
}

/* Sends a regular file, or 404. */
static int send_file(struct lws *wsi, const char *file)
{
	struct stat st;
	if (stat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
		pl_transport_respond(wsi, 404, "text/plain; charset=utf-8", "Not Found\n", 10);
		return 0;
	}
	static const char cache[] = "cache-control: no-cache\r\n";
	int n = lws_serve_http_file(wsi, file, mime_for(file), cache, (int)sizeof cache - 1);
	if (n < 0)
		return -1;
	if (n > 0)
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	return 0;
}

/* True for paths under the web root that are not part of the site: dot files, the npm tree and
 * its manifests. */
static bool private_path(const char *path)
{
	return strstr(path, "/.") || strncmp(path, "/node_modules", 13) == 0 ||
	       strcmp(path, "/package.json") == 0 || strcmp(path, "/package-lock.json") == 0;
}

int pl_http_serve(struct pl_server *srv, struct lws *wsi, const char *path)
{
	char file[4096];
	if (strcmp(path, "/healthz") == 0) {
		pl_transport_respond(wsi, 200, "text/plain; charset=utf-8", "ok\n", 3);
		return 0;
	}
	if (!pl_http_path_safe(path)) {
		pl_transport_respond(wsi, 403, "text/plain; charset=utf-8", "Forbidden\n", 10);
		return 0;
	}
	if (strncmp(path, "/socket.io/", 11) == 0) {
		for (size_t i = 0; i < sizeof client_files / sizeof *client_files; i++) {
			if (strcmp(path + 11, client_files[i]) == 0) {
				snprintf(file, sizeof file, "%s/%s", srv->cfg->client_dist, client_files[i]);
				return send_file(wsi, file);
			}
		}
		pl_transport_respond(wsi, 404, "text/plain; charset=utf-8", "Not Found\n", 10);
		return 0;
	}
	if (private_path(path)) {
		pl_transport_respond(wsi, 404, "text/plain; charset=utf-8", "Not Found\n", 10);
		return 0;
	}
	size_t n = strlen(path);
	if (snprintf(file, sizeof file, "%s%s%s", srv->cfg->web_root, path,
		     path[n - 1] == '/' ? "index.html" : "") >= (int)sizeof file) {
		pl_transport_respond(wsi, 414, "text/plain; charset=utf-8", "URI Too Long\n", 13);
		return 0;
	}
	struct stat st;
	if (stat(file, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (strlen(file) + 12 >= sizeof file)
			return -1;
		strcat(file, "/index.html");
	}
	return send_file(wsi, file);
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

#define ADD(name, value) \
	do { \
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)(name), \
						(const unsigned char *)(value), (int)strlen(value), p, \
						end)) \
			return -1; \
	} while (0)

int pl_http_add_cors(struct pl_server *srv, struct lws *wsi, const char *origin, bool preflight,
		     const char *request_headers, unsigned char **p, unsigned char *end)
{
	const char *list = srv->cfg->cors_origins;
	if (!list)
		return 0;
	bool any = strcmp(list, "*") == 0;
	if (!any && !origin_listed(list, origin))
		return 0;
	if (any && !srv->cfg->cors_credentials) {
		ADD("access-control-allow-origin:", "*");
	} else {
		/* with credentials a browser refuses "*": echo the origin */
		if (!*origin)
			return 0;
		ADD("access-control-allow-origin:", origin);
		ADD("vary:", "Origin");
	}
	if (srv->cfg->cors_credentials)
		ADD("access-control-allow-credentials:", "true");
	if (preflight) {
		ADD("access-control-allow-methods:", "GET,HEAD,PUT,PATCH,POST,DELETE");
		if (request_headers && *request_headers)
			ADD("access-control-allow-headers:", request_headers);
	}
	return 0;
}
