/*
 * Plain HTTP: the web client from the web root, socket.io-client's browser bundles, /healthz,
 * and CORS headers. Path traversal is refused before any file is opened.
 */
#ifndef PL_HTTP_H
#define PL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct lws;
struct pl_server;

/*
 * Serves a GET or HEAD for a path outside the Engine.IO path. Returns lws's verdict for the
 * callback (0 to continue, non-zero to close).
 */
int pl_http_serve(struct pl_server *srv, struct lws *wsi, const char *path);

/*
 * Appends the CORS response headers for a request from origin ("" when it sent none), between
 * lws_add_http_common_headers and lws_finalize_write_http_header. preflight adds the
 * Access-Control-Allow-Methods/Headers pair. Returns 0 or -1 when out of header space.
 */
int pl_http_add_cors(struct pl_server *srv, struct lws *wsi, const char *origin, bool preflight,
		     const char *request_headers, unsigned char **p, unsigned char *end);

/* True if the URL path is safe to map under a directory: no "..", no backslash, no NUL. */
bool pl_http_path_safe(const char *path);

#endif
