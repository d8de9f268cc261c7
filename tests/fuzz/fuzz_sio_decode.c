/*
 * Fuzzes pl_sio_decode (core/sio_codec.c) on untrusted Engine.IO message data. Beyond memory
 * errors it checks that a decoded packet satisfies the documented limits, and that encoding it
 * gives bytes that decode and re-encode to themselves.
 */
#include <string.h>

#include "fuzz.h"
#include "sio_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = fuzz_copy(data, size);
	struct pl_sio_packet p;
	int rc = pl_sio_decode(in, size, &p);
	free(in);
	if (rc != 0) {
		CHECK(rc >= PL_SIO_EAUTHSIZE && rc <= PL_SIO_EBADTYPE);
		CHECK(strcmp(pl_sio_strerror(rc), "unknown error") != 0);
		return 0;
	}
	CHECK(p.type >= PL_SIO_CONNECT && p.type <= PL_SIO_BINARY_ACK);
	CHECK(p.nsp[0] == '/');
	CHECK(strlen(p.nsp) <= PL_SIO_MAX_NSP);
	CHECK(p.id >= -1 && p.id < 1000000000000000LL);
	CHECK(p.attachments <= PL_SIO_MAX_ATTACHMENTS);
	if (p.type == PL_SIO_ACK || p.type == PL_SIO_BINARY_ACK)
		CHECK(p.id >= 0 && json_is_array(p.data));
	if (p.type == PL_SIO_EVENT || p.type == PL_SIO_BINARY_EVENT)
		CHECK(pl_sio_event_payload_valid(p.data));
	if (p.type == PL_SIO_DISCONNECT)
		CHECK(!p.data);

	struct pl_sbuf a = {0}, b = {0};
	CHECK(pl_sio_encode(&a, p.type, p.nsp, p.id, p.data, p.attachments) == 0);
	pl_sio_packet_close(&p);
	struct pl_sio_packet q;
	CHECK(pl_sio_decode(a.data, a.len, &q) == 0);
	CHECK(pl_sio_encode(&b, q.type, q.nsp, q.id, q.data, q.attachments) == 0);
	pl_sio_packet_close(&q);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	pl_sbuf_close(&a);
	pl_sbuf_close(&b);
	return 0;
}
