/*
 * String builders and shared outgoing frames.
 */
#include "buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int pl_sbuf_reserve(struct pl_sbuf *b, size_t n)
{
	if (b->len + n < b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap <= b->len + n)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int pl_sbuf_append(struct pl_sbuf *b, const void *p, size_t n)
{
	if (pl_sbuf_reserve(b, n))
		return -ENOMEM;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int pl_sbuf_puts(struct pl_sbuf *b, const char *s)
{
	return pl_sbuf_append(b, s, strlen(s));
}

int pl_sbuf_putc(struct pl_sbuf *b, char c)
{
	return pl_sbuf_append(b, &c, 1);
}

int pl_sbuf_printf(struct pl_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || pl_sbuf_reserve(b, (size_t)n))
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void pl_sbuf_close(struct pl_sbuf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void *pl_array_grow(void *arr, size_t *cap, size_t elem, size_t min_cap)
{
	size_t n = *cap ? *cap * 2 : min_cap;
	void *p = realloc(arr, n * elem);
	if (p)
		*cap = n;
	return p;
}

/* Writes the unmasked server-side WebSocket header that ends at `end` and returns its length. */
static unsigned char write_ws_header(unsigned char *end, size_t len, bool binary)
{
	unsigned char op = 0x80 | (binary ? 0x2 : 0x1);
	if (len < 126) {
		end[-2] = op;
		end[-1] = (unsigned char)len;
		return 2;
	}
	if (len <= 0xffff) {
		end[-4] = op;
		end[-3] = 126;
		end[-2] = (unsigned char)(len >> 8);
		end[-1] = (unsigned char)len;
		return 4;
	}
	end[-10] = op;
	end[-9] = 127;
	for (int i = 0; i < 8; i++)
		end[-8 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

struct pl_frame *pl_frame_new(const void *p, size_t len, bool binary)
{
	struct pl_frame *f = malloc(sizeof *f + PL_FRAME_HEADROOM + len + 1);
	if (!f)
		return NULL;
	f->refs = 1;
	f->binary = binary;
	f->len = len;
	if (len)
		memcpy(f->mem + PL_FRAME_HEADROOM, p, len);
	f->mem[PL_FRAME_HEADROOM + len] = '\0';
	f->hdr_len = write_ws_header(f->mem + PL_FRAME_HEADROOM, len, binary);
	return f;
}

struct pl_frame *pl_frame_new_typed(char type, const void *data, size_t len)
{
	struct pl_frame *f = malloc(sizeof *f + PL_FRAME_HEADROOM + len + 2);
	if (!f)
		return NULL;
	f->refs = 1;
	f->binary = false;
	f->len = len + 1;
	unsigned char *d = f->mem + PL_FRAME_HEADROOM;
	d[0] = (unsigned char)type;
	if (len)
		memcpy(d + 1, data, len);
	d[len + 1] = '\0';
	f->hdr_len = write_ws_header(d, f->len, false);
	return f;
}

void pl_frame_unref(struct pl_frame *f)
{
	if (f && --f->refs == 0)
		free(f);
}
