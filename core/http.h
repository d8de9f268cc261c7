/*
 * Plain HTTP decisions: the web client from the web root, socket.io-client's browser bundles,
 * /healthz, and the CORS headers. Pure of any network library: each function answers with a
 * descriptor that the transport sends. Path traversal is refused before any file is looked at.
 */
#ifndef PL_HTTP_H
#define PL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct pl_config;

enum pl_http_kind {
	PL_HTTP_BODY,  /* answer status with body */
	PL_HTTP_FILE,  /* send the regular file at file (status 200) */
	PL_HTTP_CLOSE, /* hang up without an answer */
};

/* The answer to a request, decided by pl_http_route and sent by the transport. */
struct pl_http_response {
	enum pl_http_kind kind; /* what to send */
	int status;		/* HTTP status (PL_HTTP_BODY) */
	const char *ctype;	/* Content-Type, a static string */
	const char *body;	/* static body bytes (PL_HTTP_BODY) */
	size_t len;		/* body length */
	const char *headers;	/* extra raw header lines for a file ("name: value\r\n"), static */
	char file[4096];	/* the file's path (PL_HTTP_FILE) */
};

/*
 * What /healthz answers beyond "ok": fn writes a one-line state to buf (at most n bytes) and
 * returns true when the server is degraded (it still serves its own clients); NULL: always ok.
 */
typedef bool (*pl_http_health_fn)(void *ud, char *buf, size_t n);
/* Installs the health check (main does, for the cluster's Redis link). */
void pl_http_set_health(pl_http_health_fn fn, void *ud);

/* Fills *r with the answer to a GET or HEAD for a URL path outside the Engine.IO path. */
void pl_http_route(const struct pl_config *cfg, const char *path, struct pl_http_response *r);

/* True if the URL path is safe to map under a directory: no "..", no backslash, no NUL. */
bool pl_http_path_safe(const char *path);

/* Content-Type for a file name, from its suffix ("application/octet-stream" when unknown). */
const char *pl_http_mime(const char *path);

/* One response header. */
struct pl_http_header {
	const char *name;  /* lower case, ending with ':' */
	const char *value; /* a static string, or the origin or request_headers passed in */
};

#define PL_HTTP_CORS_MAX 5 /* the most headers pl_http_cors writes */

/*
 * Decides the CORS response headers for a request from origin ("" when it sent none). preflight
 * adds the Access-Control-Allow-Methods/Headers pair (request_headers is the preflight's
 * Access-Control-Request-Headers, "" or NULL for none). Writes them to out in the order they are
 * to be sent and returns how many (0 when the origin is not allowed). The values are valid as
 * long as origin and request_headers are.
 */
size_t pl_http_cors(const struct pl_config *cfg, const char *origin, bool preflight,
		    const char *request_headers, struct pl_http_header out[PL_HTTP_CORS_MAX]);

/*
 * Writes the value of the Set-Cookie header that names the session sid to a load balancer, as
 * the reference server's `cookie` option does (name=sid; Path=path; HttpOnly; SameSite=Lax), to
 * buf of n bytes. Returns its length, or 0 when no cookie is configured or buf is too small.
 */
size_t pl_http_cookie(const struct pl_config *cfg, const char *sid, char *buf, size_t n);

/*
 * True if a page of origin may open a WebSocket here: a request without an Origin (not a
 * browser), an origin of the CORS list (or "*"), or the same origin as host (the Host header).
 * Browsers do not apply CORS to WebSockets; without this any site could chat as its visitors.
 */
bool pl_http_origin_allowed(const struct pl_config *cfg, const char *origin, const char *host);

/*
 * Reads one query argument, arg ("name=value", already split at '&' and percent-decoded), for
 * the argument name: when kept is NULL and arg is name's, copies its value to buf (cut to size
 * bytes with the NUL: a value that long is no valid transport, version or sid, and stays one)
 * and returns buf. Otherwise returns kept, so the first value of an argument wins.
 */
const char *pl_http_query_value(const char *arg, const char *name, const char *kept, char *buf,
				size_t size);

#endif
