/*
 * Fuzzes the parsers of what a client's HTTP request says: the URL path, the Origin and Host
 * headers against the CORS list (core/http.c), X-Forwarded-For and Forwarded behind trusted
 * proxies, address lists and the per-address key (core/peers.c), and the query arguments. The
 * first input byte holds flags (bit 0: CORS credentials, bit 1: a preflight); the rest is split
 * at '\n' into the fields below. Beyond memory errors, each answer is checked against a plainer
 * statement of the same rule.
 */
#include <stdbool.h>
#include <strings.h>

#include "config.h"
#include "fuzz.h"
#include "http.h"
#include "peers.h"

enum { PATH, ORIGIN, HOST, CORS, REQUEST_HEADERS, XFF, FORWARDED, TRUSTED, ADDRESS, QUERY, FIELDS };

/* True if a segment of path between slashes is "..". */
static bool dotdot_segment(const char *path)
{
	for (const char *s = path; s; s = strchr(s, '/')) {
		s += *s == '/';
		size_t n = strcspn(s, "/");
		if (n == 2 && s[0] == '.' && s[1] == '.')
			return true;
	}
	return false;
}

/* True if origin is one of list's comma-separated items, spaces around them ignored. */
static bool listed(const char *list, const char *origin)
{
	size_t n = strlen(origin);
	while (n && *list) {
		size_t len = strcspn(list, ",");
		size_t a = 0, b = len;
		while (a < b && list[a] == ' ')
			a++;
		while (b > a && list[b - 1] == ' ')
			b--;
		if (b - a == n && memcmp(list + a, origin, n) == 0)
			return true;
		list += len + (list[len] == ',');
	}
	return false;
}

static void check_path(const char *path)
{
	bool safe = path[0] == '/' && !strchr(path, '\\') && !dotdot_segment(path);
	CHECK(pl_http_path_safe(path) == safe);
	const char *mime = pl_http_mime(path);
	CHECK(mime && *mime);
}

static void check_origin(struct pl_config *cfg, char **f, bool preflight)
{
	const char *origin = f[ORIGIN], *host = f[HOST], *list = cfg->cors_origins;
	bool any = list && strcmp(list, "*") == 0;
	bool in_list = list && listed(list, origin);
	const char *rest = strncmp(origin, "http://", 7) == 0	 ? origin + 7
			   : strncmp(origin, "https://", 8) == 0 ? origin + 8
								 : NULL;
	bool same = rest && *host && strcasecmp(rest, host) == 0;
	CHECK(pl_http_origin_allowed(cfg, origin, host) == (!*origin || any || in_list || same));

	struct pl_http_header out[PL_HTTP_CORS_MAX];
	size_t n = pl_http_cors(cfg, origin, preflight, f[REQUEST_HEADERS], out);
	CHECK(n <= PL_HTTP_CORS_MAX);
	CHECK(!n || any || in_list);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(out[i].name);
		CHECK(len && out[i].name[len - 1] == ':' && out[i].value);
	}
	/* with credentials the origin itself is echoed, never "*" */
	if (n && cfg->cors_credentials)
		CHECK(strcmp(out[0].value, origin) == 0);
}

/* Checks what peers.c makes of one address and of the trusted list. */
static void check_address(const char *address, const char *trusted)
{
	char key[PL_PEER_KEY_MAX], base[PL_PEER_KEY_MAX], again[PL_PEER_KEY_MAX];
	bool parsed = pl_peer_key(address, key);
	CHECK(strlen(key) < PL_PEER_KEY_MAX);
	if (parsed) {
		/* the key of a key is itself: an IPv4 address, or a /64 whose low half is zero */
		memcpy(base, key, sizeof key);
		size_t n = strlen(base);
		if (n > 3 && strcmp(base + n - 3, "/64") == 0)
			base[n - 3] = '\0';
		CHECK(pl_peer_key(base, again));
		CHECK(strcmp(key, again) == 0);
		/* an address is in the list of itself alone */
		CHECK(pl_address_listed(address, address));
		char bad[64];
		CHECK(pl_address_list_valid(address, bad));
	}
	if (pl_address_listed(trusted, address))
		CHECK(parsed);
	char bad[64];
	if (!pl_address_list_valid(trusted, bad))
		CHECK(*bad && strlen(bad) < sizeof bad && strstr(trusted, bad));
}

static void check_forwarded(char **f)
{
	char out[48];
	if (!pl_forwarded_client(f[XFF], f[FORWARDED], f[TRUSTED], out, sizeof out))
		return;
	/* an address the request's own headers named */
	char key[PL_PEER_KEY_MAX];
	CHECK(strlen(out) < sizeof out && pl_peer_key(out, key));
	CHECK(strstr(f[XFF], out) || strstr(f[FORWARDED], out));
}

/* The query as lws hands it over: split at '&', each argument read as transport.c does. */
static void check_query(const char *query)
{
	static const struct {
		const char *name;
		size_t size;
	} args[] = {{"transport", 32}, {"EIO", 8}, {"sid", 64}};
	for (size_t a = 0; a < sizeof args / sizeof *args; a++) {
		char buf[64];
		const char *got = NULL, *want = NULL;
		size_t nlen = strlen(args[a].name), want_len = 0;
		for (const char *p = query;;) {
			size_t len = strcspn(p, "&");
			char *arg = malloc(len + 1);
			CHECK(arg);
			memcpy(arg, p, len);
			arg[len] = '\0';
			got = pl_http_query_value(arg, args[a].name, got, buf, args[a].size);
			if (!want && len > nlen && memcmp(arg, args[a].name, nlen) == 0 &&
			    arg[nlen] == '=') {
				want = p + nlen + 1;
				want_len = len - nlen - 1;
			}
			free(arg);
			if (!p[len])
				break;
			p += len + 1;
		}
		CHECK(!got == !want);
		if (!got)
			continue;
		CHECK(got == buf);
		if (want_len > args[a].size - 1)
			want_len = args[a].size - 1;
		CHECK(strlen(got) == want_len && memcmp(got, want, want_len) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char *f[FIELDS];
	fuzz_fields(data + 1, size - 1, '\n', f, FIELDS);
	struct pl_config cfg;
	pl_config_init(&cfg);
	cfg.cors_credentials = data[0] & 1;
	if (*f[CORS])
		cfg.cors_origins = strdup(f[CORS]);

	check_path(f[PATH]);
	check_origin(&cfg, f, data[0] & 2);
	check_address(f[ADDRESS], f[TRUSTED]);
	check_forwarded(f);
	check_query(f[QUERY]);

	pl_config_close(&cfg);
	fuzz_fields_free(f, FIELDS);
	return 0;
}
