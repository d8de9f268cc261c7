/*
 * Fuzzes pl_msgpack_decode and pl_msgpack_encode (core/msgpack_codec.c), the parser of what
 * other cluster nodes publish on Redis: whatever decodes must encode, and its encoding must
 * decode and encode again to the same bytes (with the attachments it collected).
 */
#include <string.h>

#include "fuzz.h"
#include "msgpack_codec.h"

#define MAX_ATT 10

static void unref_all(struct pl_frame **att, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		pl_frame_unref(att[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl_frame *att[MAX_ATT], *att2[MAX_ATT];
	unsigned n_att = 0, n_att2 = 0;
	json_t *v = pl_msgpack_decode(data, size, att, &n_att, MAX_ATT);
	CHECK(n_att <= MAX_ATT);
	if (!v) {
		unref_all(att, n_att);
		return 0;
	}
	struct pl_sbuf a = {0}, b = {0};
	/* a literal placeholder naming an attachment that is not there is refused */
	if (pl_msgpack_encode(&a, v, att, n_att) == 0) {
		json_t *w = pl_msgpack_decode(a.data, a.len, att2, &n_att2, MAX_ATT);
		CHECK(w);
		CHECK(pl_msgpack_encode(&b, w, att2, n_att2) == 0);
		CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
		json_decref(w);
		unref_all(att2, n_att2);
	}
	pl_sbuf_close(&a);
	pl_sbuf_close(&b);
	json_decref(v);
	unref_all(att, n_att);
	return 0;
}
