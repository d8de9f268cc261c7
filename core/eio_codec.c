/*
 * Engine.IO v4 packet codec (see eio_codec.h).
 */
#include "eio_codec.h"

#include <string.h>

int pl_eio_decode_text(const char *s, size_t len, struct pl_eio_packet *out)
{
	if (len == 0 || s[0] < PL_EIO_OPEN || s[0] > PL_EIO_NOOP)
		return PL_EIO_EBADPACKET;
	out->type = s[0];
	out->binary = false;
	out->data = s + 1;
	out->len = len - 1;
	return 0;
}

int pl_eio_decode_payload(char *body, size_t len, pl_eio_packet_cb cb, void *ud)
{
	size_t start = 0;
	while (start <= len) {
		char *sep = memchr(body + start, PL_EIO_SEPARATOR, len - start);
		size_t end = sep ? (size_t)(sep - body) : len;
		char *item = body + start;
		size_t n = end - start;
		struct pl_eio_packet p;
		if (n > 0 && item[0] == 'b') {
			long m = pl_base64_decode(item + 1, n - 1);
			if (m < 0)
				return PL_EIO_EBADPACKET;
			p.type = PL_EIO_MESSAGE;
			p.binary = true;
			p.data = item + 1;
			p.len = (size_t)m;
		} else if (pl_eio_decode_text(item, n, &p)) {
			return PL_EIO_EBADPACKET;
		}
		int rc = cb(&p, ud);
		if (rc)
			return rc;
		if (!sep)
			break;
		start = end + 1;
	}
	return 0;
}

int pl_eio_encode_polling_item(struct pl_sbuf *out, struct pl_frame *f)
{
	if (!f->binary)
		return pl_sbuf_append(out, pl_frame_data(f), f->len);
	int rc = pl_sbuf_putc(out, 'b');
	if (rc)
		return rc;
	return pl_base64_encode(out, pl_frame_data(f), f->len);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int pl_base64_encode(struct pl_sbuf *out, const unsigned char *p, size_t len)
{
	int rc = pl_sbuf_reserve(out, (len + 2) / 3 * 4 + 1);
	if (rc)
		return rc;
	char *o = out->data + out->len;
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0);
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < len ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	out->len = (size_t)(o - out->data);
	out->data[out->len] = '\0';
	return 0;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

long pl_base64_decode(char *s, size_t len)
{
	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -1;
	unsigned char *o = (unsigned char *)s;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return (long)(o - (unsigned char *)s);
}
