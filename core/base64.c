/*
 * Base64 and base64url (see base64.h).
 */
#include "base64.h"

#include <stdbool.h>

static const char digits[2][65] = {
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
};

size_t pl_base64_len(size_t n, enum pl_base64_alphabet a)
{
	return a == PL_BASE64 ? (n + 2) / 3 * 4 : n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

size_t pl_base64_encode(char *out, const unsigned char *in, size_t n, enum pl_base64_alphabet a)
{
	const char *d = digits[a == PL_BASE64URL];
	char *o = out;
	size_t i = 0;
	for (; i + 2 < n; i += 3) {
		unsigned long v =
		    (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];
		*o++ = d[v >> 18];
		*o++ = d[v >> 12 & 63];
		*o++ = d[v >> 6 & 63];
		*o++ = d[v & 63];
	}
	if (i < n) {
		bool two = i + 1 < n;
		unsigned long v =
		    (unsigned long)in[i] << 16 | (two ? (unsigned long)in[i + 1] << 8 : 0);
		*o++ = d[v >> 18];
		*o++ = d[v >> 12 & 63];
		if (two)
			*o++ = d[v >> 6 & 63];
		if (a == PL_BASE64) {
			if (!two)
				*o++ = '=';
			*o++ = '=';
		}
	}
	*o = '\0';
	return (size_t)(o - out);
}

/* The value of digit c, -1 for a byte that is none (in base64url, the standard's '+' and '/'). */
static int value(char c, enum pl_base64_alphabet a)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-' || c == '_')
		return c == '-' ? 62 : 63;
	if (a == PL_BASE64 && (c == '+' || c == '/'))
		return c == '+' ? 62 : 63;
	return -1;
}

long pl_base64_decode(unsigned char *out, const char *in, size_t n, enum pl_base64_alphabet a)
{
	while (a == PL_BASE64 && n > 0 && in[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return -1;
	unsigned char *o = out;
	unsigned long acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = value(in[i], a);
		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			*o++ = (unsigned char)(acc >> bits);
		}
	}
	if (a == PL_BASE64URL && bits && (acc & ((1ul << bits) - 1)))
		return -1;
	return (long)(o - out);
}
