/*
 * Fuzzes the Engine.IO decoders (core/eio_codec.c): polling payloads split on 0x1e with in-place
 * base64, single text packets, and base64 itself. Every delivered packet must lie inside the
 * input; base64 and the polling form of a binary frame must round-trip.
 */
#include <string.h>

#include "base64.h"
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

	/* base64 in both spellings: encoding then decoding (in place) gives the input back */
	for (int a = PL_BASE64; a <= PL_BASE64URL; a++) {
		size_t n = pl_base64_len(size, (enum pl_base64_alphabet)a);
		char *b64 = malloc(n + 1);
		CHECK(b64);
		CHECK(pl_base64_encode(b64, data, size, (enum pl_base64_alphabet)a) == n);
		CHECK(pl_base64_decode((unsigned char *)b64, b64, n, (enum pl_base64_alphabet)a) ==
		      (long)size);
		CHECK(size == 0 || memcmp(b64, data, size) == 0);
		free(b64);
	}

	/* decoding arbitrary bytes never writes more than it reads; base64url only what it
	 * would write itself */
	for (int a = PL_BASE64; a <= PL_BASE64URL; a++) {
		if (size)
			memcpy(body, data, size);
		long n =
		    pl_base64_decode((unsigned char *)body, body, size, (enum pl_base64_alphabet)a);
		CHECK(n >= -1 && n <= (long)size);
		if (n >= 0 && a == PL_BASE64URL) {
			char *again = malloc(size + 1);
			CHECK(again);
			CHECK(pl_base64_encode(again, (unsigned char *)body, (size_t)n,
					       PL_BASE64URL) == size);
			CHECK(size == 0 || memcmp(again, data, size) == 0);
			free(again);
		}
	}

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
