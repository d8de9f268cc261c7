/*
 * Engine.IO v4 packet codec (see eio_codec.h).
 */
#include "eio_codec.h"

#include <string.h>

#include "base64.h"

int pl_eio_decode_text(const char *s, size_t len, struct pl_eio_packet *out)
{
	if (len == 0 || s[0] < PL_EIO_OPEN || s[0] > PL_EIO_NOOP)
		return PL_EIO_EBADPACKET;
	out->type = s[0];
	out->binary = false;
	out->data = s + 1;
	out->len = len - 1;
	return 0;
}

int pl_eio_decode_payload(char *body, size_t len, pl_eio_packet_cb cb, void *ud)
{
	size_t start = 0;
	while (start <= len) {
		char *sep = memchr(body + start, PL_EIO_SEPARATOR, len - start);
		size_t end = sep ? (size_t)(sep - body) : len;
		char *item = body + start;
		size_t n = end - start;
		struct pl_eio_packet p;
		if (n > 0 && item[0] == 'b') {
			long m =
			    pl_base64_decode((unsigned char *)item + 1, item + 1, n - 1, PL_BASE64);
			if (m < 0)
				return PL_EIO_EBADPACKET;
			p.type = PL_EIO_MESSAGE;
			p.binary = true;
			p.data = item + 1;
			p.len = (size_t)m;
		} else if (pl_eio_decode_text(item, n, &p)) {
			return PL_EIO_EBADPACKET;
		}
		int rc = cb(&p, ud);
		if (rc)
			return rc;
		if (!sep)
			break;
		start = end + 1;
	}
	return 0;
}

int pl_eio_encode_polling_item(struct pl_sbuf *out, struct pl_frame *f)
{
	if (!f->binary)
		return pl_sbuf_append(out, pl_frame_data(f), f->len);
	int rc = pl_sbuf_putc(out, 'b');
	if (rc)
		return rc;
	size_t n = pl_base64_len(f->len, PL_BASE64);
	if ((rc = pl_sbuf_reserve(out, n + 1)))
		return rc;
	out->len += pl_base64_encode(out->data + out->len, pl_frame_data(f), f->len, PL_BASE64);
	return 0;
}
