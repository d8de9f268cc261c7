/*
 * Engine.IO v4 packet codec: pure functions from bytes to packets and back, with no I/O, so they
 * can be unit-tested and fuzzed. A packet is "<type digit><data>" in a text WebSocket frame or a
 * polling payload item; a binary message is raw bytes in a WebSocket frame or "b<base64>" in a
 * polling payload; polling payloads join packets with the record separator 0x1e.
 */
#ifndef PL_EIO_CODEC_H
#define PL_EIO_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

enum pl_eio_type {
	PL_EIO_OPEN = '0',
	PL_EIO_CLOSE = '1',
	PL_EIO_PING = '2',
	PL_EIO_PONG = '3',
	PL_EIO_MESSAGE = '4',
	PL_EIO_UPGRADE = '5',
	PL_EIO_NOOP = '6',
};

#define PL_EIO_SEPARATOR '\x1e'

struct pl_eio_packet {
	char type;	  /* one of enum pl_eio_type */
	bool binary;	  /* a binary message: data holds raw bytes */
	const char *data; /* payload after the type digit; borrowed from the decoded input */
	size_t len;	  /* payload length */
};

/* The decoders' one error: Parley's generic bad-packet code (error.h). */
#define PL_EIO_EBADPACKET PL_EBADPACKET

/*
 * Decodes one text packet (a text WebSocket frame or one polling item that is not base64).
 * Returns 0 or PL_EIO_EBADPACKET for an empty input or an unknown type. data points into s.
 */
int pl_eio_decode_text(const char *s, size_t len, struct pl_eio_packet *out);

typedef int (*pl_eio_packet_cb)(const struct pl_eio_packet *p, void *ud);

/*
 * Splits a polling payload and calls cb for each packet in order. Base64 items are decoded in
 * place, so body is modified. Stops at the first non-zero return of cb and returns it; returns
 * PL_EIO_EBADPACKET for a malformed item (nothing after it is delivered), else 0.
 */
int pl_eio_decode_payload(char *body, size_t len, pl_eio_packet_cb cb, void *ud);

/*
 * Appends the polling form of one queued frame: the text packet as is, a binary one as
 * "b<base64>". Returns 0 or -ENOMEM.
 */
int pl_eio_encode_polling_item(struct pl_sbuf *out, struct pl_frame *f);

#endif
