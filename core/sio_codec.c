/*
 * Socket.IO v5 packet codec (see sio_codec.h). Validation follows the reference parser
 * (socket.io-parser 4.x): anything it rejects is rejected here with the same meaning.
 */
#include "sio_codec.h"

#include <errno.h>
#include <string.h>

#include "json.h"

static const char *const reserved_events[] = {
	"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

/*
 * Checks the JSON text's shape before it is parsed: a parsed value costs about 100 bytes, so a
 * megabyte of "[[],[],...]" would become tens of megabytes. Counts values as the separators
 * and openings outside strings (an upper bound) and tracks the nesting depth.
 */
static bool shape_ok(const char *s, size_t len)
{
	size_t values = 1;
	int depth = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		switch (c) {
		case '"': in_string = true; break;
		case '[':
		case '{':
			if (++depth > PL_SIO_MAX_DEPTH)
				return false;
			values++;
			break;
		case ']':
		case '}': depth--; break;
		case ',':
			if (++values > PL_SIO_MAX_VALUES)
				return false;
			break;
		}
	}
	return values <= PL_SIO_MAX_VALUES;
}

int pl_sio_decode(const char *s, size_t len, struct pl_sio_packet *p)
{
	size_t i = 0;
	memset(p, 0, sizeof *p);
	p->id = -1;
	strcpy(p->nsp, "/");
	if (len == 0 || s[0] < '0' || s[0] > '6')
		return PL_SIO_EBADTYPE;
	p->type = s[i++] - '0';

	if (p->type == PL_SIO_BINARY_EVENT || p->type == PL_SIO_BINARY_ACK) {
		size_t start = i;
		unsigned n = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			n = n * 10 + (unsigned)(s[i] - '0');
			if (n > PL_SIO_MAX_ATTACHMENTS)
				return PL_SIO_EBADATTACH;
			i++;
		}
		if (i == start || i >= len || s[i] != '-' || n == 0)
			return PL_SIO_EBADATTACH;
		i++;
		p->attachments = n;
	}

	if (i < len && s[i] == '/') {
		size_t start = i;
		while (i < len && s[i] != ',')
			i++;
		size_t n = i - start;
		if (n > PL_SIO_MAX_NSP)
			return PL_SIO_EBADNSP;
		memcpy(p->nsp, s + start, n);
		p->nsp[n] = '\0';
		if (i < len)
			i++; /* the ',' */
	}

	if (i < len && s[i] >= '0' && s[i] <= '9') {
		long long id = 0;
		size_t start = i;
		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (i - start >= 15) /* beyond JavaScript's safe integers */
				return PL_SIO_EBADID;
			id = id * 10 + (s[i] - '0');
			i++;
		}
		p->id = id;
	}

	if (i < len) {
		if (p->type == PL_SIO_CONNECT && len - i > PL_SIO_MAX_AUTH)
			return PL_SIO_EAUTHSIZE;
		if (!shape_ok(s + i, len - i))
			return PL_SIO_ECOMPLEX;
		p->data = pl_json_parse(s + i, len - i);
		if (!p->data)
			return PL_SIO_EBADJSON;
	}

	bool ok;
	switch (p->type) {
	case PL_SIO_CONNECT:
		ok = !p->data || json_is_object(p->data);
		break;
	case PL_SIO_DISCONNECT:
		ok = !p->data;
		break;
	case PL_SIO_CONNECT_ERROR:
		ok = p->data && (json_is_object(p->data) || json_is_string(p->data));
		break;
	case PL_SIO_EVENT:
	case PL_SIO_BINARY_EVENT:
		ok = pl_sio_event_payload_valid(p->data);
		break;
	default: /* ACK, BINARY_ACK */
		if (p->id < 0) {
			pl_sio_packet_close(p);
			return PL_SIO_EBADID;
		}
		ok = json_is_array(p->data);
		break;
	}
	if (ok && (p->type == PL_SIO_BINARY_EVENT || p->type == PL_SIO_BINARY_ACK))
		ok = pl_sio_placeholders_valid(p->data, p->attachments);
	if (!ok) {
		pl_sio_packet_close(p);
		return PL_SIO_EBADPAYLOAD;
	}
	return 0;
}

/*
 * The same texts as pl_strerror() (test_error checks it): the codec stays free of link
 * dependencies, so that the fuzzers can build it alone.
 */
const char *pl_sio_strerror(int err)
{
	if (err > PL_SIO_EBADTYPE || err < PL_SIO_EAUTHSIZE)
		return "unknown error";
	return pl_strerror(err);
}

void pl_sio_packet_close(struct pl_sio_packet *p)
{
	json_decref(p->data);
	p->data = NULL;
}

bool pl_sio_event_payload_valid(const json_t *data)
{
	if (!json_is_array(data) || json_array_size(data) == 0)
		return false;
	const json_t *name = json_array_get(data, 0);
	if (json_is_number(name))
		return true;
	if (!json_is_string(name))
		return false;
	for (size_t i = 0; i < sizeof reserved_events / sizeof *reserved_events; i++)
		if (strcmp(json_string_value(name), reserved_events[i]) == 0)
			return false;
	return true;
}

/* Walks data, marking referenced attachment numbers in seen; false on an invalid reference. */
static bool walk_placeholders(const json_t *v, unsigned n, unsigned *seen, int depth)
{
	if (depth > PL_SIO_MAX_DEPTH) /* (shape_ok has refused deeper) */
		return false;
	if (json_is_object(v)) {
		const json_t *ph = json_object_get(v, "_placeholder");
		if (json_is_true(ph)) {
			const json_t *num = json_object_get(v, "num");
			if (!json_is_number(num))
				return false;
			double d = json_number_value(num);
			if (d < 0 || d >= n || d != (double)(unsigned)d)
				return false;
			*seen |= 1u << (unsigned)d;
			return true;
		}
		const char *key;
		json_t *val;
		json_object_foreach((json_t *)v, key, val) {
			if (!walk_placeholders(val, n, seen, depth + 1))
				return false;
		}
		return true;
	}
	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			if (!walk_placeholders(json_array_get(v, i), n, seen, depth + 1))
				return false;
	}
	return true;
}

bool pl_sio_placeholders_valid(const json_t *data, unsigned attachments)
{
	unsigned seen = 0; /* as in the reference parser, unreferenced attachments are allowed */
	return walk_placeholders(data, attachments, &seen, 0);
}

int pl_sio_encode(struct pl_sbuf *out, int type, const char *nsp, long long id, const json_t *data,
		  unsigned attachments)
{
	if (pl_sbuf_putc(out, (char)('0' + type)))
		return -ENOMEM;
	if ((type == PL_SIO_BINARY_EVENT || type == PL_SIO_BINARY_ACK) &&
	    pl_sbuf_printf(out, "%u-", attachments))
		return -ENOMEM;
	if (strcmp(nsp, "/") != 0 && pl_sbuf_printf(out, "%s,", nsp))
		return -ENOMEM;
	if (id >= 0 && pl_sbuf_printf(out, "%lld", id))
		return -ENOMEM;
	if (data && pl_json_write(out, data))
		return -ENOMEM;
	return 0;
}
