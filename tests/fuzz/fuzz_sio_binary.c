/*
 * Fuzzes the pure parts of Socket.IO binary reassembly (core/sio_codec.c): a packet header
 * decoded with pl_sio_decode, then the attachments that follow it, each placeholder resolved
 * to its attachment as a plugin reads it, and the encode of a packet with attachments. (The
 * receiving state machine itself lives in core/sio.c, on the loop.) The input is the header,
 * then the attachments, separated by NUL bytes.
 *
 * Checked beyond memory errors: pl_sio_placeholders_valid agrees with a plain walk of the
 * payload for every attachment count; every placeholder of a decoded binary packet names one
 * of its attachments; a binary packet encodes and decodes to itself; and an EVENT or ACK sent
 * with n attachments decodes exactly when its placeholders are valid for n.
 */
#include <math.h>
#include <stdbool.h>

#include "fuzz.h"
#include "sio_codec.h"

#define PARTS (1 + PL_SIO_MAX_ATTACHMENTS + 1) /* the header, the attachments, one too many */

/* What a plain walk finds: the placeholders, the largest num, and whether any num is bad. */
struct walk {
	unsigned count; /* {"_placeholder":true} objects */
	double max;	/* the largest num, -1 when none */
	bool bad;	/* a num that is no whole number of 0 or more */
};

static void walk(const json_t *v, struct walk *w)
{
	if (json_is_object(v)) {
		if (json_is_true(json_object_get(v, "_placeholder"))) {
			const json_t *num = json_object_get(v, "num");
			double d = json_is_number(num) ? json_number_value(num) : -1;
			w->count++;
			if (d < 0 || d != floor(d) || d > 1e9)
				w->bad = true;
			else if (d > w->max)
				w->max = d;
			return;
		}
		const char *key;
		json_t *val;
		json_object_foreach((json_t *)v, key, val) {
			walk(val, w);
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			walk(json_array_get(v, i), w);
	}
}

/* What stands for an attachment once resolved: its length (its bytes need be no UTF-8). */
static json_t *length(const char *attachment)
{
	return json_integer((json_int_t)strlen(attachment));
}

static void resolve(json_t *v, char **att, unsigned n);

/* What replaces e: for a placeholder, its attachment; else NULL, e's own ones resolved. */
static json_t *resolved(json_t *e, char **att, unsigned n)
{
	if (!json_is_object(e) || !json_is_true(json_object_get(e, "_placeholder"))) {
		resolve(e, att, n);
		return NULL;
	}
	double d = json_number_value(json_object_get(e, "num"));
	CHECK(d >= 0 && d < n);
	json_t *r = length(att[(unsigned)d]);
	CHECK(r);
	return r;
}

/* Replaces every placeholder of v by its attachment, as a client's reconstruction does. */
static void resolve(json_t *v, char **att, unsigned n)
{
	const char *key;
	json_t *val, *r;
	json_object_foreach(v, key, val) {
		if ((r = resolved(val, att, n)))
			CHECK(json_object_set_new(v, key, r) == 0);
	}
	for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++) {
		if ((r = resolved(json_array_get(v, i), att, n)))
			CHECK(json_array_set_new(v, i, r) == 0);
	}
}

/* Encodes p's fields as type with n attachments and decodes that into *q. */
static int encode_decode(const struct pl_sio_packet *p, int type, unsigned n,
			 struct pl_sio_packet *q)
{
	struct pl_sbuf b = {0};
	CHECK(pl_sio_encode(&b, type, p->nsp, p->id, p->data, n) == 0);
	int rc = pl_sio_decode(b.data, b.len, q);
	pl_sbuf_close(&b);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[PARTS];
	size_t parts = fuzz_fields(data, size, '\0', part, PARTS);
	struct pl_sio_packet p, q;
	int rc = pl_sio_decode(part[0], strlen(part[0]), &p);
	if (rc) {
		CHECK(rc >= PL_SIO_EAUTHSIZE && rc <= PL_SIO_EBADTYPE);
		goto out;
	}
	bool binary = p.type == PL_SIO_BINARY_EVENT || p.type == PL_SIO_BINARY_ACK;
	struct walk w = {0, -1, false};
	walk(p.data, &w);
	for (unsigned n = 0; n <= PL_SIO_MAX_ATTACHMENTS; n++)
		CHECK(pl_sio_placeholders_valid(p.data, n) == (!w.bad && w.max < n));

	if (binary) {
		CHECK(p.attachments >= 1 && p.attachments <= PL_SIO_MAX_ATTACHMENTS);
		CHECK(!w.bad && w.max < p.attachments);
		/* complete once its attachments are in (what comes after is not its) */
		if (parts - 1 >= p.attachments) {
			json_t *copy = json_deep_copy(p.data);
			CHECK(copy);
			resolve(copy, part + 1, p.attachments);
			json_decref(copy);
		}
		CHECK(encode_decode(&p, p.type, p.attachments, &q) == 0);
		CHECK(q.type == p.type && q.id == p.id && q.attachments == p.attachments);
		CHECK(strcmp(q.nsp, p.nsp) == 0 && json_equal(q.data, p.data));
		pl_sio_packet_close(&q);
	} else if ((p.type == PL_SIO_EVENT || p.type == PL_SIO_ACK) && parts > 1) {
		/* the same payload sent as a binary packet with the attachments given */
		unsigned n = parts - 1 > PL_SIO_MAX_ATTACHMENTS ? PL_SIO_MAX_ATTACHMENTS
								: (unsigned)(parts - 1);
		int type = p.type == PL_SIO_EVENT ? PL_SIO_BINARY_EVENT : PL_SIO_BINARY_ACK;
		rc = encode_decode(&p, type, n, &q);
		CHECK((rc == 0) == pl_sio_placeholders_valid(p.data, n));
		if (rc == 0) {
			CHECK(q.type == type && q.attachments == n && json_equal(q.data, p.data));
			pl_sio_packet_close(&q);
		}
	}
	pl_sio_packet_close(&p);
out:
	fuzz_fields_free(part, PARTS);
	return 0;
}
