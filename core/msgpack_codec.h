/*
 * MessagePack as the Socket.IO Redis adapters write it (notepack.io): JSON values to bytes and
 * back, with Socket.IO's binary attachments travelling as msgpack bin in place of their
 * placeholders. Pure: bytes in, values out, no I/O, so it is unit-tested and fuzzed.
 */
#ifndef PL_MSGPACK_CODEC_H
#define PL_MSGPACK_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Nesting the decoder accepts (msgpack-c's own unpacker stops at 32). */
#define PL_MSGPACK_MAX_DEPTH 32

/*
 * Appends v as notepack.io encodes the same JavaScript value: integers and integral finite
 * reals as the shortest msgpack integer, other reals as float64, strings as str, and each
 * {"_placeholder":true,"num":i} with i < n_att as bin holding attachment i's bytes (att are
 * struct pl_frame, borrowed). Returns 0, -ENOMEM or -EINVAL (an attachment that is not there).
 */
int pl_msgpack_encode(struct pl_sbuf *out, const json_t *v, struct pl_frame *const *att,
		      unsigned n_att);

/*
 * Decodes one msgpack value filling all of p/len. bin values (and notepack's old ArrayBuffer
 * extension, type 0) become placeholders {"_placeholder":true,"num":i} and binary frames in
 * att (at most max_att; the caller unrefs the *n_att it gets, also on failure); undefined
 * (nil, or notepack's old fixext 1 type 0) is null in arrays and left out of maps; dates
 * (timestamp extension -1, or the old fixext 8 type 0) become ISO 8601 strings as
 * JSON.stringify writes them; integers are JSON integers. Map keys must be strings and strings
 * UTF-8. Returns a new value or NULL (malformed, too deep, too many attachments, no memory).
 */
json_t *pl_msgpack_decode(const void *p, size_t len, struct pl_frame **att, unsigned *n_att,
			  unsigned max_att);

#endif
