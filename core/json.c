/*
 * JSON reading and writing with JavaScript's number and string rules (see json.h).
 */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pl_hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return -1;
}

/* Returns the value of the 4 hex digits at s, or -1. */
static long hex4(const char *s)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int d = pl_hex_digit((unsigned char)s[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/*
 * Rewrites in place each escaped unpaired surrogate ("\ud83d" without a low half after it, or a
 * lone "\udc00") as "\ufffd", which has the same length. Returns how many it replaced.
 */
static size_t replace_lone_surrogates(char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i + 1 < len; i++) {
		if (s[i] != '\\')
			continue;
		i++; /* the escaped character, so "\\" is skipped whole */
		if (s[i] != 'u' || len - i < 5)
			continue;
		long u = hex4(s + i + 1);
		if (u < 0xd800 || u > 0xdfff)
			continue;
		if (u < 0xdc00 && len - i >= 11 && s[i + 5] == '\\' && s[i + 6] == 'u') {
			long lo = hex4(s + i + 7);
			if (lo >= 0xdc00 && lo <= 0xdfff) {
				i += 10; /* a valid pair */
				continue;
			}
		}
		memcpy(s + i + 1, "fffd", 4);
		i += 4;
		n++;
	}
	return n;
}

json_t *pl_json_parse(const char *text, size_t len)
{
	json_error_t err;
	const size_t flags = JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL;
	json_t *v = json_loadb(text, len, flags, &err);
	if (v)
		return v;
	/*
	 * JavaScript strings may hold unpaired surrogates and JSON.stringify escapes them
	 * ("\ud83d" from a string cut inside an emoji); jansson refuses them. Retry with each one
	 * replaced by U+FFFD, as a browser's TextDecoder would.
	 */
	char *copy = malloc(len);
	if (!copy)
		return NULL;
	memcpy(copy, text, len);
	if (replace_lone_surrogates(copy, len))
		v = json_loadb(copy, len, flags, &err);
	free(copy);
	return v;
}

/* Finds the shortest digit string that reads back as d: digits (no dot) and decimal exponent. */
static void shortest_digits(double d, char *digits, int *ndigits, int *exp10)
{
	char buf[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
		if (strtod(buf, NULL) == d || prec == 17)
			break;
		/*
		 * Below a power of two the gap to the next double is half the gap above, so the
		 * nearest prec-digit decimal may not read back while the next one up does.
		 */
		char up[40];
		char *e = strchr(buf, 'e');
		memcpy(up, buf, sizeof up);
		char *q = up + (e - buf) - 1;
		for (; q >= up; q--) {
			if (*q == '.')
				continue;
			if (*q != '9') {
				(*q)++;
				break;
			}
			*q = '0';
		}
		if (q >= up && strtod(up, NULL) == d) {
			memcpy(buf, up, sizeof buf);
			break;
		}
	}
	/* buf is "d.ddddde[+-]xx" or "de[+-]xx" */
	int n = 0;
	const char *p = buf;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[n++] = *p;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	*ndigits = n;
	*exp10 = atoi(p + 1);
}

size_t pl_json_format_int(long long v, char *out)
{
	char tmp[24];
	size_t n = 0;
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	do
		tmp[n++] = (char)('0' + u % 10);
	while (u /= 10);
	size_t len = 0;
	if (v < 0)
		out[len++] = '-';
	while (n)
		out[len++] = tmp[--n];
	out[len] = '\0';
	return len;
}

#define EXACT_INT 9007199254740992.0 /* 2^53: every integer below is a double exactly */

size_t pl_json_format_number(double d, char *out)
{
	if (!isfinite(d))
		return (size_t)sprintf(out, "null");
	if (d == 0)
		return (size_t)sprintf(out, "0");
	/* the common case, an integer (ids, counts, times), without searching for digits */
	if (d > -EXACT_INT && d < EXACT_INT && d == (double)(long long)d)
		return pl_json_format_int((long long)d, out);
	char *o = out;
	if (d < 0) {
		*o++ = '-';
		d = -d;
	}
	char digits[24];
	int k, e;
	shortest_digits(d, digits, &k, &e);
	int n = e + 1; /* ECMAScript's n: the decimal point sits after n digits */
	if (k <= n && n <= 21) {
		memcpy(o, digits, (size_t)k);
		o += k;
		for (int i = 0; i < n - k; i++)
			*o++ = '0';
	} else if (0 < n && n <= 21) {
		memcpy(o, digits, (size_t)n);
		o += n;
		*o++ = '.';
		memcpy(o, digits + n, (size_t)(k - n));
		o += k - n;
	} else if (-6 < n && n <= 0) {
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -n; i++)
			*o++ = '0';
		memcpy(o, digits, (size_t)k);
		o += k;
	} else {
		*o++ = digits[0];
		if (k > 1) {
			*o++ = '.';
			memcpy(o, digits + 1, (size_t)(k - 1));
			o += k - 1;
		}
		o += sprintf(o, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
	*o = '\0';
	return (size_t)(o - out);
}

static int write_string(struct pl_sbuf *out, const char *s, size_t len)
{
	int rc = pl_sbuf_reserve(out, len + 2);
	if (rc)
		return rc;
	pl_sbuf_putc(out, '"'); /* cannot fail: reserved */
	size_t run = 0; /* start of the current run of bytes copied verbatim */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if ((rc = pl_sbuf_append(out, s + run, i - run)))
			return rc;
		run = i + 1;
		char esc[8];
		switch (c) {
		case '"': strcpy(esc, "\\\""); break;
		case '\\': strcpy(esc, "\\\\"); break;
		case '\b': strcpy(esc, "\\b"); break;
		case '\f': strcpy(esc, "\\f"); break;
		case '\n': strcpy(esc, "\\n"); break;
		case '\r': strcpy(esc, "\\r"); break;
		case '\t': strcpy(esc, "\\t"); break;
		default: snprintf(esc, sizeof esc, "\\u%04x", c); break;
		}
		if ((rc = pl_sbuf_puts(out, esc)))
			return rc;
	}
	if ((rc = pl_sbuf_append(out, s + run, len - run)))
		return rc;
	return pl_sbuf_putc(out, '"');
}

/* True if key is a canonical array index ("0", "17", not "01"), which JavaScript orders first. */
static bool index_key(const char *key, unsigned long *value)
{
	if (!*key || (key[0] == '0' && key[1]) || strlen(key) > 10)
		return false;
	unsigned long long v = 0;
	for (const char *p = key; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long long)(*p - '0');
	}
	if (v >= 4294967295ull)
		return false;
	*value = (unsigned long)v;
	return true;
}

struct index_entry {
	unsigned long index; /* numeric value of the key */
	const char *key;     /* the key */
	json_t *value;	     /* its value */
};

static int by_index(const void *a, const void *b)
{
	unsigned long x = ((const struct index_entry *)a)->index;
	unsigned long y = ((const struct index_entry *)b)->index;
	return x < y ? -1 : x > y;
}

static int write_member(struct pl_sbuf *out, const char *key, const json_t *val, int *first)
{
	int rc;
	if (!*first && (rc = pl_sbuf_putc(out, ',')))
		return rc;
	*first = 0;
	if ((rc = write_string(out, key, strlen(key))) || (rc = pl_sbuf_putc(out, ':')))
		return rc;
	return pl_json_write(out, val);
}

/*
 * Writes an object's members in JavaScript's property order: array-index keys first in
 * ascending numeric order, then the others in insertion order (jansson keeps it).
 */
static int write_object(struct pl_sbuf *out, const json_t *v)
{
	const char *key;
	json_t *val;
	unsigned long idx;
	size_t n_index = 0;
	/* the iteration macros need a non-const object */
	json_object_foreach((json_t *)v, key, val) {
		if (index_key(key, &idx))
			n_index++;
	}
	int first = 1;
	struct index_entry *ix = NULL;
	int rc = pl_sbuf_putc(out, '{');
	if (rc)
		return rc;
	if (n_index) {
		ix = malloc(n_index * sizeof *ix);
		if (!ix)
			return -ENOMEM;
		size_t i = 0;
		json_object_foreach((json_t *)v, key, val) {
			if (index_key(key, &idx))
				ix[i++] = (struct index_entry){idx, key, val};
		}
		qsort(ix, n_index, sizeof *ix, by_index);
		for (i = 0; i < n_index; i++)
			if ((rc = write_member(out, ix[i].key, ix[i].value, &first)))
				goto out;
	}
	json_object_foreach((json_t *)v, key, val) {
		if ((!n_index || !index_key(key, &idx)) &&
		    (rc = write_member(out, key, val, &first)))
			goto out;
	}
	rc = pl_sbuf_putc(out, '}');
out:
	free(ix);
	return rc;
}

int pl_json_write(struct pl_sbuf *out, const json_t *v)
{
	char num[40];
	int rc;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return write_object(out, v);
	case JSON_ARRAY: {
		if ((rc = pl_sbuf_putc(out, '[')))
			return rc;
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i && (rc = pl_sbuf_putc(out, ',')))
				return rc;
			if ((rc = pl_json_write(out, json_array_get(v, i))))
				return rc;
		}
		return pl_sbuf_putc(out, ']');
	}
	case JSON_STRING:
		return write_string(out, json_string_value(v), json_string_length(v));
	case JSON_INTEGER: {
		json_int_t i = json_integer_value(v);
		/* exact below 2^53; beyond, printed as the double JavaScript would hold */
		if (i > -9007199254740992LL && i < 9007199254740992LL)
			return pl_sbuf_append(out, num, pl_json_format_int((long long)i, num));
		return pl_sbuf_append(out, num, pl_json_format_number((double)i, num));
	}
	case JSON_REAL:
		return pl_sbuf_append(out, num, pl_json_format_number(json_real_value(v), num));
	case JSON_TRUE:
		return pl_sbuf_puts(out, "true");
	case JSON_FALSE:
		return pl_sbuf_puts(out, "false");
	case JSON_NULL:
		return pl_sbuf_puts(out, "null");
	}
	return -EINVAL; /* not a jansson type */
}

char *pl_json_text(const json_t *v)
{
	struct pl_sbuf b = {0};
	if (!v || pl_json_write(&b, v)) {
		pl_sbuf_close(&b);
		return NULL;
	}
	return b.data;
}

json_t *pl_json_keys(const json_t *obj)
{
	json_t *keys = json_array();
	const char *k;
	json_t *v;
	if (!keys)
		return NULL;
	json_object_foreach((json_t *)obj, k, v) {
		if (json_array_append_new(keys, json_string(k))) {
			json_decref(keys);
			return NULL;
		}
	}
	return keys;
}
