/*
 * Fuzzes the Engine.IO decoders (core/eio_codec.c): polling payloads split on 0x1e with in-place
 * base64, single text packets, and base64 itself. Every delivered packet must lie inside the
 * input; base64 and the polling form of a binary frame must round-trip.
 */
#include <string.h>

#include "eio_codec.h"
#include "fuzz.h"

struct span {
	const char *start; /* the decoded body */
	size_t len;        /* its length */
	unsigned sum;      /* touches every delivered byte */
	unsigned count;    /* packets delivered */
};

static int visit(const struct pl_eio_packet *p, void *ud)
{
	struct span *s = ud;
	CHECK(p->data >= s->start && p->data + p->len <= s->start + s->len);
	CHECK(p->binary ? p->type == PL_EIO_MESSAGE : p->type >= '0' && p->type <= '6');
	for (size_t i = 0; i < p->len; i++)
		s->sum += (unsigned char)p->data[i];
	s->count++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = fuzz_copy(data, size);

	struct pl_eio_packet p;
	if (pl_eio_decode_text(body, size, &p) == 0)
		CHECK(p.data == body + 1 && p.len == size - 1);

	struct span s = {body, size, 0, 0};
	int rc = pl_eio_decode_payload(body, size, visit, &s);
	CHECK(rc == 0 || rc == PL_EIO_EBADPACKET);

	/* base64: encoding then decoding gives the input back */
	struct pl_sbuf b64 = {0};
	CHECK(pl_base64_encode(&b64, data, size) == 0);
	CHECK(b64.len == (size + 2) / 3 * 4);
	CHECK(pl_base64_decode(b64.data, b64.len) == (long)size);
	CHECK(size == 0 || memcmp(b64.data, data, size) == 0);
	pl_sbuf_close(&b64);

	/* decoding arbitrary bytes as base64 never writes more than it reads */
	if (size)
		memcpy(body, data, size);
	long n = pl_base64_decode(body, size);
	CHECK(n >= -1 && n <= (long)size);

	/* a binary frame's polling item decodes to the same bytes */
	struct pl_frame *f = pl_frame_new(data, size, true);
	CHECK(f);
	struct pl_sbuf item = {0};
	CHECK(pl_eio_encode_polling_item(&item, f) == 0);
	CHECK(item.data[0] == 'b');
	struct span t = {item.data, item.len, 0, 0};
	CHECK(pl_eio_decode_payload(item.data, item.len, visit, &t) == 0);
	CHECK(t.count == 1);
	CHECK(size == 0 || memcmp(item.data + 1, data, size) == 0);
	pl_sbuf_close(&item);
	pl_frame_unref(f);
	free(body);
	return 0;
}
