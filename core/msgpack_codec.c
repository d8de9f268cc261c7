/*
 * The msgpack codec (see msgpack_codec.h) on msgpack-c. Decoding first walks the bytes once
 * to check every length and count against what is left and the nesting against
 * PL_MSGPACK_MAX_DEPTH: msgpack-c allocates a container's elements from its count before
 * reading them, so a five-byte array header claiming four billion elements must not reach it.
 */
#include "msgpack_codec.h"

#include <errno.h>
#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* ---- encoding ---- */

static int sbuf_write(void *data, const char *buf, size_t len)
{
	return pl_sbuf_append(data, buf, len) ? -1 : 0;
}

/* The attachment number of a placeholder object, or -1. */
static long long placeholder_num(const json_t *v)
{
	if (json_object_size(v) != 2 || !json_is_true(json_object_get(v, "_placeholder")))
		return -1;
	const json_t *num = json_object_get(v, "num");
	if (!json_is_number(num))
		return -1;
	double d = json_number_value(num);
	return d >= 0 && d < 1e9 && floor(d) == d ? (long long)d : -1;
}

static int encode(msgpack_packer *pk, const json_t *v, struct pl_frame *const *att,
		  unsigned n_att, int depth)
{
	if (depth > PL_MSGPACK_MAX_DEPTH)
		return -EINVAL;
	switch (json_typeof(v)) {
	case JSON_NULL:
		return msgpack_pack_nil(pk) ? -ENOMEM : 0;
	case JSON_TRUE:
		return msgpack_pack_true(pk) ? -ENOMEM : 0;
	case JSON_FALSE:
		return msgpack_pack_false(pk) ? -ENOMEM : 0;
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, json_integer_value(v)) ? -ENOMEM : 0;
	case JSON_REAL: {
		/* a JavaScript number that is integral goes as an integer, as notepack.io writes it
		 * (Parley reads every JSON number as a double) */
		double d = json_real_value(v);
		if (isfinite(d) && floor(d) == d && d >= -9223372036854775808.0 &&
		    d < 9223372036854775808.0)
			return msgpack_pack_int64(pk, (int64_t)d) ? -ENOMEM : 0;
		return msgpack_pack_double(pk, d) ? -ENOMEM : 0;
	}
	case JSON_STRING: {
		size_t n = json_string_length(v);
		if (msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, json_string_value(v), n))
			return -ENOMEM;
		return 0;
	}
	case JSON_ARRAY: {
		if (msgpack_pack_array(pk, json_array_size(v)))
			return -ENOMEM;
		size_t i;
		json_t *e;
		json_array_foreach(v, i, e) {
			int rc = encode(pk, e, att, n_att, depth + 1);
			if (rc)
				return rc;
		}
		return 0;
	}
	case JSON_OBJECT: {
		long long num = placeholder_num(v);
		if (num >= 0) {
			if ((unsigned long long)num >= n_att)
				return -EINVAL;
			struct pl_frame *f = att[num];
			if (msgpack_pack_bin(pk, f->len) ||
			    msgpack_pack_bin_body(pk, pl_frame_data(f), f->len))
				return -ENOMEM;
			return 0;
		}
		if (msgpack_pack_map(pk, json_object_size(v)))
			return -ENOMEM;
		const char *k;
		json_t *e;
		json_object_foreach((json_t *)v, k, e) {
			size_t n = strlen(k);
			if (msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, k, n))
				return -ENOMEM;
			int rc = encode(pk, e, att, n_att, depth + 1);
			if (rc)
				return rc;
		}
		return 0;
	}
	}
	return -EINVAL;
}

int pl_msgpack_encode(struct pl_sbuf *out, const json_t *v, struct pl_frame *const *att,
		      unsigned n_att)
{
	msgpack_packer pk;
	msgpack_packer_init(&pk, out, sbuf_write);
	return encode(&pk, v, att, n_att, 0);
}

/* ---- checking ---- */

static uint64_t be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/*
 * Walks one msgpack value filling p/len: true when every length fits in the bytes, every
 * container's count could (each element takes a byte at least) and nesting stays within bounds.
 */
static bool well_formed(const unsigned char *p, size_t len)
{
	uint64_t left[PL_MSGPACK_MAX_DEPTH + 1]; /* values still to read at each open level */
	int depth = 0;
	size_t i = 0;
	left[0] = 1;
	while (depth >= 0) {
		if (left[depth] == 0) {
			depth--;
			continue;
		}
		left[depth]--;
		if (i >= len)
			return false;
		unsigned c = p[i++];
		uint64_t skip = 0, items = 0; /* payload bytes; elements of a container */
		bool container = false;
		size_t hdr = 0; /* length bytes that follow the type byte */
		if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
			/* fixint, nil, booleans */
		} else if (c >= 0x80 && c <= 0x8f) {
			items = 2 * (uint64_t)(c & 0x0f), container = true;
		} else if (c >= 0x90 && c <= 0x9f) {
			items = c & 0x0f, container = true;
		} else if (c >= 0xa0 && c <= 0xbf) {
			skip = c & 0x1f;
		} else {
			switch (c) {
			case 0xc4: case 0xd9: hdr = 1; break;
			case 0xc5: case 0xda: hdr = 2; break;
			case 0xc6: case 0xdb: hdr = 4; break;
			case 0xc7: hdr = 1; skip = 1; break;
			case 0xc8: hdr = 2; skip = 1; break;
			case 0xc9: hdr = 4; skip = 1; break;
			case 0xca: skip = 4; break;
			case 0xcb: skip = 8; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: skip = 4; break;
			case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break;
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: hdr = 2; container = true; break;
			case 0xdd: hdr = 4; container = true; break;
			case 0xde: hdr = 2; container = true; break;
			case 0xdf: hdr = 4; container = true; break;
			default: return false; /* 0xc1 is never used */
			}
			if (hdr) {
				if (len - i < hdr)
					return false;
				uint64_t n = be(p + i, hdr);
				i += hdr;
				if (container)
					items = c == 0xde || c == 0xdf ? 2 * n : n;
				else
					skip += n;
			}
		}
		if (skip > len - i)
			return false;
		i += skip;
		if (container && items) {
			if (items > len - i || depth == PL_MSGPACK_MAX_DEPTH)
				return false;
			left[++depth] = items;
		}
	}
	return i == len;
}

/* ---- decoding ---- */

struct dec {
	struct pl_frame **att; /* attachments collected */
	unsigned *n_att;       /* their number */
	unsigned max_att;      /* the most there may be */
};

/* A JavaScript Date as JSON.stringify writes it (toISOString), from ms since 1970; null when
 * out of a Date's range, as JSON.stringify writes an invalid date. */
static json_t *date_string(double ms)
{
	if (!isfinite(ms) || fabs(ms) > 8.64e15)
		return json_null();
	double fl = floor(ms);
	long long t = (long long)fl;
	long long sec = t >= 0 ? t / 1000 : -((-t + 999) / 1000);
	int milli = (int)(t - sec * 1000);
	time_t tt = (time_t)sec;
	struct tm tm;
	if (!gmtime_r(&tt, &tm))
		return json_null();
	long long year = tm.tm_year + 1900LL;
	char buf[48];
	if (year >= 0 && year <= 9999)
		snprintf(buf, sizeof buf, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", year,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
	else
		snprintf(buf, sizeof buf, "%c%06lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 year < 0 ? '-' : '+', year < 0 ? -year : year, tm.tm_mon + 1, tm.tm_mday,
			 tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
	return json_string(buf);
}

/* A binary value: the next attachment, and its placeholder. */
static json_t *binary(struct dec *d, const void *p, size_t n)
{
	if (*d->n_att >= d->max_att)
		return NULL;
	struct pl_frame *f = pl_frame_new(p, n, true);
	if (!f)
		return NULL;
	unsigned num = (*d->n_att)++;
	d->att[num] = f;
	return json_pack("{sbsI}", "_placeholder", 1, "num", (json_int_t)num);
}

/* Whether o is undefined as older notepack.io versions wrote it (fixext 1, type 0); the
 * current one writes nil, which is null as it decodes it. */
static bool old_undefined(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_EXT && o->via.ext.type == 0 && o->via.ext.size == 1;
}

static json_t *ext(struct dec *d, const msgpack_object_ext *e)
{
	const unsigned char *p = (const unsigned char *)e->ptr;
	if (e->type == 0 && e->size == 1)
		return json_null(); /* undefined */
	if (e->type == 0 && e->size == 8) {
		/* the old date: ms since 1970 as a signed 64-bit integer */
		int64_t ms = (int64_t)be(p, 8);
		return date_string((double)ms);
	}
	if (e->type == 0)
		return binary(d, p, e->size); /* the old ArrayBuffer */
	if (e->type == -1) {
		/* the timestamp extension: 32, 64 or 96 bits */
		if (e->size == 4)
			return date_string((double)be(p, 4) * 1e3);
		if (e->size == 8) {
			uint64_t v = be(p, 8);
			return date_string((double)(v & 0x3ffffffffULL) * 1e3 + (double)(v >> 34) / 1e6);
		}
		if (e->size == 12) {
			int64_t s = (int64_t)be(p + 4, 8);
			return date_string((double)s * 1e3 + (double)be(p, 4) / 1e6);
		}
	}
	/* notepack.io decodes other extensions as [type, Buffer] */
	json_t *bin = binary(d, p, e->size);
	return bin ? json_pack("[io]", (int)e->type, bin) : NULL;
}

static json_t *convert(struct dec *d, const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)INT64_MAX)
			return json_real((double)o->via.u64);
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		/* JSON has no NaN or Infinity: JSON.stringify writes null */
		return isfinite(o->via.f64) ? json_real(o->via.f64) : json_null();
	case MSGPACK_OBJECT_STR:
		/* msgpack-c may leave an empty string's pointer NULL */
		return json_stringn(o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return binary(d, o->via.bin.ptr, o->via.bin.size);
	case MSGPACK_OBJECT_EXT:
		return ext(d, &o->via.ext);
	case MSGPACK_OBJECT_ARRAY: {
		json_t *a = json_array();
		for (uint32_t i = 0; a && i < o->via.array.size; i++) {
			json_t *e = convert(d, &o->via.array.ptr[i]);
			if (!e || json_array_append_new(a, e)) {
				json_decref(a);
				return NULL;
			}
		}
		return a;
	}
	case MSGPACK_OBJECT_MAP: {
		json_t *m = json_object();
		for (uint32_t i = 0; m && i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			const char *key = kv->key.via.str.size ? kv->key.via.str.ptr : "";
			if (kv->key.type != MSGPACK_OBJECT_STR ||
			    memchr(key, 0, kv->key.via.str.size)) {
				json_decref(m);
				return NULL;
			}
			if (old_undefined(&kv->val))
				continue; /* JSON leaves an undefined member out */
			json_t *e = convert(d, &kv->val);
			if (!e || json_object_setn_new(m, key, kv->key.via.str.size, e)) {
				json_decref(m);
				return NULL;
			}
		}
		return m;
	}
	}
	return NULL;
}

json_t *pl_msgpack_decode(const void *p, size_t len, struct pl_frame **att, unsigned *n_att,
			  unsigned max_att)
{
	*n_att = 0;
	if (!well_formed(p, len))
		return NULL;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	json_t *v = NULL;
	if (msgpack_unpack_next(&u, p, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len) {
		struct dec d = {att, n_att, max_att};
		v = convert(&d, &u.data);
	}
	msgpack_unpacked_destroy(&u);
	return v;
}
