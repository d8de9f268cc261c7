/*
 * Byte buffers. `pl_sbuf` is a growable string builder owned by one function or object.
 * `pl_frame` is one outgoing Engine.IO packet, encoded and framed once and shared (by reference
 * count) by the send queue of every recipient: a broadcast to a thousand sockets is one frame.
 */
#ifndef PL_BUF_H
#define PL_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct pl_sbuf {
	char *data; /* heap bytes, NUL-terminated when len < cap; NULL until the first append */
	size_t len; /* bytes used */
	size_t cap; /* bytes allocated */
};

/* Appends n bytes; returns 0 or -ENOMEM. */
int pl_sbuf_append(struct pl_sbuf *b, const void *p, size_t n);
/* Appends a NUL-terminated string. */
int pl_sbuf_puts(struct pl_sbuf *b, const char *s);
/* Appends one byte. */
int pl_sbuf_putc(struct pl_sbuf *b, char c);
/* Appends printf-formatted text. */
int pl_sbuf_printf(struct pl_sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Makes room for n more bytes. */
int pl_sbuf_reserve(struct pl_sbuf *b, size_t n);
/* Frees the bytes and resets the builder to empty. */
void pl_sbuf_close(struct pl_sbuf *b);

/*
 * Grows an array of elem-byte elements to twice *cap (or min_cap when empty). Returns the
 * moved array and updates *cap, or returns NULL and leaves both unchanged.
 */
void *pl_array_grow(void *arr, size_t *cap, size_t elem, size_t min_cap);

/*
 * Bytes reserved in front of every frame's payload: libwebsockets' LWS_PRE plus the largest
 * WebSocket header (10 bytes for a server frame), so a frame can be written without copying.
 */
#define PL_FRAME_HEADROOM 32

struct pl_frame {
	unsigned refs;	 /* owners: every send queue holding it, plus the creator until released */
	bool binary;	 /* a binary message packet (raw bytes) instead of a text packet */
	unsigned char hdr_len; /* length of the WebSocket header written just before data */
	size_t len;	 /* Engine.IO packet length: "<type><data>" for text, raw bytes for binary */
	unsigned char mem[]; /* PL_FRAME_HEADROOM bytes, then the packet bytes */
};

/*
 * Creates a frame holding a copy of the Engine.IO packet p (text: type digit then data; binary:
 * the raw bytes) and its WebSocket framing. Returns a frame with one reference, or NULL.
 */
struct pl_frame *pl_frame_new(const void *p, size_t len, bool binary);
/* Creates a text frame "<type><data>" from a type digit and data. */
struct pl_frame *pl_frame_new_typed(char type, const void *data, size_t len);
/* The Engine.IO packet bytes. */
static inline unsigned char *pl_frame_data(struct pl_frame *f)
{
	return f->mem + PL_FRAME_HEADROOM;
}
/* The WebSocket frame (header then payload) and its length. */
static inline unsigned char *pl_frame_ws(struct pl_frame *f, size_t *len)
{
	*len = f->hdr_len + f->len;
	return f->mem + PL_FRAME_HEADROOM - f->hdr_len;
}
/* Takes another reference. */
static inline struct pl_frame *pl_frame_ref(struct pl_frame *f)
{
	f->refs++;
	return f;
}
/* Drops a reference; frees the frame with the last one. NULL is a no-op. */
void pl_frame_unref(struct pl_frame *f);

#endif
