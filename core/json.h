/*
 * JSON the way JavaScript reads and writes it. Parsing uses jansson with every number read as a
 * double, as JavaScript does (so 12345678901234567890 is accepted and rounds like in a browser).
 * Writing follows JSON.stringify: shortest round-trip numbers (0.1, 1e+21, 1.5e-7), -0 as 0,
 * raw UTF-8 with only the mandatory escapes, keys in JavaScript's order (array indexes
 * ascending, then insertion order).
 */
#ifndef PL_JSON_H
#define PL_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "buf.h"

/*
 * Parses exactly len bytes of JSON text (any value, not only objects). Returns a new reference,
 * or NULL when the text is not valid JSON.
 */
json_t *pl_json_parse(const char *text, size_t len);

/* Appends v serialised like JSON.stringify(v). Returns 0 or -ENOMEM. */
int pl_json_write(struct pl_sbuf *out, const json_t *v);

/* v serialised as pl_json_write does, as a new NUL-terminated string; NULL for NULL or when out
 * of memory. */
char *pl_json_text(const json_t *v);

/* Writes v in decimal and a NUL to out (24 bytes at least). Returns the length. */
size_t pl_json_format_int(long long v, char *out);

/*
 * Formats a double like JavaScript's Number.prototype.toString into out (at least 32 bytes);
 * NaN and infinities become "null" as in JSON.stringify. Returns the length.
 */
size_t pl_json_format_number(double d, char *out);

/* The keys of object obj as a new array of strings, in order; NULL without memory. */
json_t *pl_json_keys(const json_t *obj);

/* The value of the hexadecimal digit c (either case), or -1 (also for \u escapes elsewhere). */
int pl_hex_digit(int c);

#endif
