/*
 * Per-address accounting and the client address behind trusted proxies (see peers.h).
 */
#include "peers.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An address in binary form: family AF_INET (4 bytes) or AF_INET6 (16 bytes). */
struct address {
	int family;
	unsigned char bytes[16];
};

/* Reads a textual address; an IPv4-mapped IPv6 address reads as its IPv4 address. */
static bool parse_address(const char *text, struct address *a)
{
	if (strncasecmp(text, "::ffff:", 7) == 0 && inet_pton(AF_INET, text + 7, a->bytes) == 1) {
		a->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET, text, a->bytes) == 1) {
		a->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, a->bytes) == 1) {
		a->family = AF_INET6;
		return true;
	}
	return false;
}

bool pl_peer_key(const char *address, char key[PL_PEER_KEY_MAX])
{
	struct address a;
	if (!parse_address(address, &a)) {
		snprintf(key, PL_PEER_KEY_MAX, "%s", address);
		return false;
	}
	if (a.family == AF_INET) {
		inet_ntop(AF_INET, a.bytes, key, PL_PEER_KEY_MAX);
		return true;
	}
	memset(a.bytes + 8, 0, 8);
	inet_ntop(AF_INET6, a.bytes, key, PL_PEER_KEY_MAX - 3);
	strcat(key, "/64");
	return true;
}

/* The bucket holds two seconds' worth of handshakes. */
static uint64_t capacity(const struct pl_peers *set)
{
	return 2000ull * set->per_second;
}

static void refill(const struct pl_peers *set, struct pl_peer *p, uint64_t now)
{
	if (now > p->at) {
		uint64_t t = p->tokens + (now - p->at) * set->per_second; /* thousandths per ms */
		p->tokens = t < capacity(set) ? t : capacity(set);
	}
	p->at = now;
}

struct pl_peer *pl_peer_get(struct pl_peers *set, const char *address, uint64_t now)
{
	char key[PL_PEER_KEY_MAX];
	pl_peer_key(address, key);
	struct pl_peer *p = pl_map_get(&set->map, key);
	if (p)
		return p;
	p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	memcpy(p->key, key, sizeof key);
	p->tokens = capacity(set);
	p->at = now;
	if (pl_map_put(&set->map, p->key, p)) {
		free(p);
		return NULL;
	}
	return p;
}

bool pl_peer_handshake(struct pl_peers *set, struct pl_peer *p, uint64_t now)
{
	if (!set->per_second)
		return true;
	refill(set, p, now);
	if (p->tokens < 1000)
		return false;
	p->tokens -= 1000;
	return true;
}

void pl_peers_sweep(struct pl_peers *set, uint64_t now)
{
	/* the map may not change while it is walked: collect first */
	size_t n = 0, cap = set->map.count;
	struct pl_peer **idle = malloc((cap ? cap : 1) * sizeof *idle);
	if (!idle)
		return;
	struct pl_peer *p;
	for (size_t pos = 0; n < cap && pl_map_next(&set->map, &pos, (void **)&p);) {
		refill(set, p, now);
		if (!p->connections && !p->sessions && p->tokens >= capacity(set))
			idle[n++] = p;
	}
	for (size_t i = 0; i < n; i++) {
		pl_map_del(&set->map, idle[i]->key);
		free(idle[i]);
	}
	free(idle);
}

void pl_peers_sweep_due(struct pl_peers *set, uint64_t now)
{
	if (now < set->next_sweep)
		return;
	set->next_sweep = now + 10000;
	pl_peers_sweep(set, now);
}

void pl_peers_close(struct pl_peers *set)
{
	struct pl_peer *p;
	for (size_t pos = 0; pl_map_next(&set->map, &pos, (void **)&p);)
		free(p);
	pl_map_close(&set->map);
}

/* Reads a range "address[/bits]" of n bytes at text. False if it is none. */
static bool parse_range(const char *text, size_t n, struct address *r, long *bits)
{
	char item[64];
	if (n >= sizeof item)
		return false;
	memcpy(item, text, n);
	item[n] = '\0';
	char *slash = strchr(item, '/');
	*bits = -1;
	if (slash) {
		char *end;
		*slash = '\0';
		*bits = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end || *bits < 0)
			return false;
	}
	if (!parse_address(item, r))
		return false;
	long max = r->family == AF_INET ? 32 : 128;
	if (*bits > max)
		return false;
	if (*bits < 0)
		*bits = max;
	return true;
}

/* True if a lies in the range "address[/bits]" of n bytes at text. */
static bool in_range(const struct address *a, const char *text, size_t n)
{
	struct address r;
	long bits;
	if (!parse_range(text, n, &r, &bits) || r.family != a->family)
		return false;
	size_t whole = (size_t)bits / 8;
	unsigned rest = (unsigned)bits % 8;
	if (memcmp(a->bytes, r.bytes, whole) != 0)
		return false;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return !rest || (a->bytes[whole] & mask) == (r.bytes[whole] & mask);
}

/* Calls each with every item of a comma-separated list (spaces trimmed) until it returns true. */
static bool any_item(const char *list, bool (*each)(const char *item, size_t n, void *ud), void *ud)
{
	for (const char *p = list; *p;) {
		p += strspn(p, " ,");
		size_t n = strcspn(p, ",");
		size_t t = n;
		while (t && p[t - 1] == ' ')
			t--;
		if (t && each(p, t, ud))
			return true;
		p += n;
	}
	return false;
}

static bool matches(const char *item, size_t n, void *a)
{
	return in_range(a, item, n);
}

static bool invalid(const char *item, size_t n, void *bad)
{
	struct address r;
	long bits;
	if (parse_range(item, n, &r, &bits))
		return false;
	snprintf(bad, 64, "%.*s", (int)n, item);
	return true;
}

bool pl_address_list_valid(const char *list, char bad[64])
{
	return !any_item(list, invalid, bad);
}

bool pl_address_listed(const char *list, const char *address)
{
	struct address a;
	return list && parse_address(address, &a) && any_item(list, matches, &a);
}

/*
 * Writes the address of one hop (n bytes at s) to out: spaces and quotes trimmed, and the
 * brackets and port of "[v6]:port" or the port of "v4:port" removed. False if it is no address.
 */
static bool hop_address(const char *s, size_t n, char *out, size_t size)
{
	while (n && (*s == ' ' || *s == '"')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '"'))
		n--;
	if (n && *s == '[') {
		const char *close = memchr(s, ']', n);
		if (!close)
			return false;
		s++;
		n = (size_t)(close - s);
	} else if (memchr(s, '.', n)) {
		const char *colon = memchr(s, ':', n); /* "1.2.3.4:5678" */
		if (colon)
			n = (size_t)(colon - s);
	}
	char text[64];
	struct address a;
	if (n == 0 || n >= sizeof text || n >= size)
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	if (!parse_address(text, &a))
		return false;
	memcpy(out, text, n + 1);
	return true;
}

/* The "for=" value of one Forwarded element (n bytes at s), as *v and *vn. False if none. */
static bool forwarded_for(const char *s, size_t n, const char **v, size_t *vn)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && s[j] != ';')
			j++;
		size_t k = i;
		while (k < j && s[k] == ' ')
			k++;
		if (j - k > 4 && strncasecmp(s + k, "for=", 4) == 0) {
			*v = s + k + 4;
			*vn = j - k - 4;
			return true;
		}
		i = j + 1;
	}
	return false;
}

bool pl_forwarded_client(const char *xff, const char *forwarded, const char *trusted, char *out,
			 size_t size)
{
	const char *h = xff && *xff ? xff : forwarded;
	if (!h || !*h)
		return false;
	bool is_xff = h == xff;
	char hop[64] = "";
	bool found = false;
	/* from the nearest hop (the last) back to the first */
	for (size_t end = strlen(h); end > 0;) {
		size_t start = end;
		while (start > 0 && h[start - 1] != ',')
			start--;
		const char *v = h + start;
		size_t vn = end - start;
		end = start ? start - 1 : 0;
		if (!is_xff && !forwarded_for(h + start, vn, &v, &vn))
			continue;
		if (!hop_address(v, vn, hop, sizeof hop))
			break; /* a hop no trusted proxy wrote: the client's own text */
		found = true;
		if (!pl_address_listed(trusted, hop))
			break;
	}
	if (!found || strlen(hop) >= size)
		return false;
	strcpy(out, hop);
	return true;
}
