/*
 * Delivery to a client (see client.h): packets are encoded once into shared frames, and a
 * client's sink queues them. The Engine.IO sink is the only one today.
 */
#include "client.h"

#include <errno.h>

#include "eio.h"
#include "sio_codec.h"

static int eio_sink_send(struct pl_client *c, struct pl_frame *f)
{
	return c->conn ? pl_eio_send(c->conn, f) : -EPIPE;
}

static void eio_sink_close(struct pl_client *c, const char *reason, bool flush)
{
	if (c->conn)
		pl_eio_close(c->conn, reason, flush);
}

static const char *eio_sink_name(const struct pl_client *c)
{
	return c->conn ? ((const struct pl_eio *)c->conn)->sid : "-";
}

const struct pl_sink_ops pl_eio_sink = {eio_sink_send, eio_sink_close, eio_sink_name};

_Static_assert(PL_CLIENT_ADDRSTRLEN == PL_EIO_ADDRSTRLEN, "one size of address text");

int pl_client_send(struct pl_client *c, struct pl_frame *f, struct pl_frame *const *att,
		   unsigned n_att)
{
	int rc = c->sink->send(c, f);
	for (unsigned i = 0; i < n_att && rc == 0; i++)
		rc = c->sink->send(c, att[i]);
	return rc;
}

void pl_client_close(struct pl_client *c, const char *reason, bool flush)
{
	c->sink->close(c, reason, flush);
}

const char *pl_client_name(const struct pl_client *c)
{
	return c->sink->name(c);
}

const char *pl_client_address(const struct pl_client *c, char *buf)
{
	/* only an Engine.IO session has a peer; the sink ops stay what every sink can do */
	if (c->sink == &pl_eio_sink && c->conn)
		return pl_eio_address(c->conn, buf);
	buf[0] = '\0';
	return buf;
}

const char *pl_client_query(const struct pl_client *c)
{
	return c->sink == &pl_eio_sink && c->conn ? pl_eio_query(c->conn) : NULL;
}

struct pl_frame *pl_packet_frame(const char *nsp, int type, long long id, const json_t *data,
				 unsigned n_att)
{
	struct pl_sbuf b = {0};
	struct pl_frame *f = NULL;
	if (pl_sbuf_putc(&b, '4') == 0 && pl_sio_encode(&b, type, nsp, id, data, n_att) == 0)
		f = pl_frame_new(b.data, b.len, false);
	pl_sbuf_close(&b);
	return f;
}
