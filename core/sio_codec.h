/*
 * Socket.IO v5 packet codec: pure functions, no I/O. A packet travels as the data of one
 * Engine.IO message: "<type>[<attachments>-][<nsp>,][<ack id>][<json>]", the namespace omitted
 * for "/". Binary packets carry {"_placeholder":true,"num":i} in their JSON and are followed by
 * that many binary Engine.IO messages.
 */
#ifndef PL_SIO_CODEC_H
#define PL_SIO_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"

enum pl_sio_type {
	PL_SIO_CONNECT = 0,
	PL_SIO_DISCONNECT = 1,
	PL_SIO_EVENT = 2,
	PL_SIO_ACK = 3,
	PL_SIO_CONNECT_ERROR = 4,
	PL_SIO_BINARY_EVENT = 5,
	PL_SIO_BINARY_ACK = 6,
};

/* The most namespace bytes and binary attachments a client packet may carry. */
#define PL_SIO_MAX_NSP 256
#define PL_SIO_MAX_ATTACHMENTS 10
/* The deepest nesting and the most JSON values of a packet's payload, and the largest CONNECT
 * payload (the auth object) in bytes: what parsing a packet may cost stays bounded. */
#define PL_SIO_MAX_DEPTH 32
#define PL_SIO_MAX_VALUES 10000
#define PL_SIO_MAX_AUTH 8192

struct pl_sio_packet {
	int type;		       /* enum pl_sio_type */
	char nsp[PL_SIO_MAX_NSP + 1];  /* namespace, "/" when omitted */
	long long id;		       /* ack id, or -1 when absent */
	json_t *data;		       /* payload (owned), or NULL when absent */
	unsigned attachments;	       /* binary attachments that follow (binary types only) */
};

/*
 * Decoder errors: PL_SIO_EBADTYPE (unknown packet type), PL_SIO_EBADATTACH (attachment count
 * malformed or over the cap), PL_SIO_EBADNSP (namespace too long), PL_SIO_EBADID (ack id
 * malformed or missing where required), PL_SIO_EBADJSON (payload is not JSON),
 * PL_SIO_EBADPAYLOAD (payload JSON of the wrong shape for the type), PL_SIO_ECOMPLEX (over
 * PL_SIO_MAX_DEPTH or PL_SIO_MAX_VALUES) and PL_SIO_EAUTHSIZE (a CONNECT payload over
 * PL_SIO_MAX_AUTH). They are part of Parley's one code space (error.h), contiguous from
 * PL_SIO_EBADTYPE down to PL_SIO_EAUTHSIZE.
 */

/*
 * Decodes one packet from s (len bytes, the Engine.IO message data). On success returns 0 and
 * fills p, whose data the caller releases with pl_sio_packet_close(). On error returns one of
 * the PL_SIO_E* codes and leaves nothing to release.
 */
int pl_sio_decode(const char *s, size_t len, struct pl_sio_packet *p);

/*
 * Returns a static description of a PL_SIO_E* code (the text pl_strerror() gives), or
 * "unknown error" for any other value.
 */
const char *pl_sio_strerror(int err);

/* Releases the payload of a decoded or built packet. */
void pl_sio_packet_close(struct pl_sio_packet *p);

/*
 * True if an EVENT payload is valid: a non-empty array whose first element is a number or a
 * string that is not a reserved event name.
 */
bool pl_sio_event_payload_valid(const json_t *data);

/*
 * Checks that every {"_placeholder":true,"num":i} in data has 0 <= i < attachments.
 * Returns true when consistent.
 */
bool pl_sio_placeholders_valid(const json_t *data, unsigned attachments);

/*
 * Appends the encoded packet (without the Engine.IO '4' prefix) to out. nsp "/" is omitted, id
 * is written when >= 0, data when non-NULL; binary types write their attachment count.
 * Returns 0 or -ENOMEM.
 */
int pl_sio_encode(struct pl_sbuf *out, int type, const char *nsp, long long id, const json_t *data,
		  unsigned attachments);

#endif
