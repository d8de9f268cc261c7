/*
 * The Engine.IO echo (see eio_echo.h): an upper layer of one function, for the Engine.IO suite.
 */
#include "eio_echo.h"

#include "buf.h"
#include "eio.h"

static void echo_message(struct pl_eio *s, const char *data, size_t len, bool binary)
{
	if (!binary) {
		pl_eio_send_text(s, data, len);
		return;
	}
	struct pl_frame *f = pl_frame_new(data, len, true);
	if (f)
		pl_eio_send(s, f);
	pl_frame_unref(f);
}

int pl_eio_echo_init(struct pl_server *srv)
{
	struct pl_eio_handler h = {NULL, echo_message, NULL};
	return pl_eio_server_init(srv, &h);
}
