/*
 * Tests for core/buf.c: the string builder and shared WebSocket frames (exact header bytes).
 */
#include "buf.h"

#include <stdint.h>

#include "test.h"

static void test_sbuf_append(void)
{
	struct pl_sbuf b = {0};
	ASSERT_EQ(pl_sbuf_append(&b, "", 0), 0);
	ASSERT_NOT_NULL(b.data);
	ASSERT_EQ(b.len, 0);
	ASSERT_STR_EQ(b.data, "");
	ASSERT_EQ(pl_sbuf_puts(&b, "abc"), 0);
	ASSERT_EQ(pl_sbuf_putc(&b, '\0'), 0);
	ASSERT_EQ(pl_sbuf_append(&b, "d\x1e", 2), 0);
	ASSERT_MEM_LIT(b.data, b.len, "abc\0d\x1e");
	ASSERT_EQ(b.data[b.len], '\0');
	ASSERT(b.len < b.cap);
	pl_sbuf_close(&b);
	ASSERT_NULL(b.data);
	ASSERT_EQ(b.len, 0);
	ASSERT_EQ(b.cap, 0);
	pl_sbuf_close(&b); /* closing twice is harmless */
}

static void test_sbuf_growth(void)
{
	struct pl_sbuf b = {0};
	/* byte-at-a-time across many reallocations, always NUL-terminated */
	for (int i = 0; i < 10000; i++) {
		ASSERT_EQ(pl_sbuf_putc(&b, (char)('a' + i % 26)), 0);
		ASSERT(b.len < b.cap);
		ASSERT_EQ(b.data[b.len], '\0');
	}
	ASSERT_EQ(b.len, 10000);
	for (int i = 0; i < 10000; i++)
		ASSERT_EQ(b.data[i], 'a' + i % 26);
	/* one large append past the current capacity */
	static char big[100000];
	memset(big, 'x', sizeof big);
	ASSERT_EQ(pl_sbuf_append(&b, big, sizeof big), 0);
	ASSERT_EQ(b.len, 110000);
	ASSERT_EQ(b.data[10000], 'x');
	ASSERT_EQ(b.data[109999], 'x');
	ASSERT_EQ(b.data[110000], '\0');
	pl_sbuf_close(&b);

	/* exactly filling the capacity still leaves room for the NUL */
	for (size_t n = 0; n < 300; n++) {
		struct pl_sbuf c = {0};
		ASSERT_EQ(pl_sbuf_append(&c, big, n), 0);
		ASSERT(c.len < c.cap);
		ASSERT_EQ(c.data[n], '\0');
		ASSERT_EQ(pl_sbuf_reserve(&c, 10), 0);
		ASSERT(c.len + 10 < c.cap);
		pl_sbuf_close(&c);
	}
}

static void test_sbuf_printf(void)
{
	struct pl_sbuf b = {0};
	ASSERT_EQ(pl_sbuf_printf(&b, "%d-%s", 42, "x"), 0);
	ASSERT_STR_EQ(b.data, "42-x");
	ASSERT_EQ(pl_sbuf_printf(&b, "%s", ""), 0);
	ASSERT_EQ(b.len, 4);
	/* a long formatted string forces a growth inside printf */
	ASSERT_EQ(pl_sbuf_printf(&b, "%0500d|", 7), 0);
	ASSERT_EQ(b.len, 4 + 501);
	ASSERT_EQ(b.data[4], '0');
	ASSERT_EQ(b.data[503], '7');
	ASSERT_EQ(b.data[504], '|');
	ASSERT_EQ(b.data[505], '\0');
	ASSERT_EQ(pl_sbuf_printf(&b, "%lld", -9007199254740993LL), 0);
	ASSERT_STR_EQ(b.data + 505, "-9007199254740993");
	pl_sbuf_close(&b);
}

/* Checks a frame's packet bytes and its WebSocket header. */
static void check_frame(struct pl_frame *f, const unsigned char *payload, size_t len, bool binary,
			const unsigned char *hdr, size_t hdr_len)
{
	ASSERT_NOT_NULL(f);
	ASSERT_EQ(f->refs, 1);
	ASSERT_EQ(f->binary, binary);
	ASSERT_EQ(f->len, len);
	ASSERT_EQ(f->hdr_len, hdr_len);
	ASSERT_MEM_EQ(pl_frame_data(f), f->len, payload, len);
	ASSERT_EQ(pl_frame_data(f)[len], '\0');
	size_t ws_len;
	unsigned char *ws = pl_frame_ws(f, &ws_len);
	ASSERT_EQ(ws_len, hdr_len + len);
	ASSERT(ws >= f->mem);
	ASSERT_MEM_EQ(ws, hdr_len, hdr, hdr_len);
	ASSERT(ws + hdr_len == pl_frame_data(f));
}

static void test_frame_headers(void)
{
	static unsigned char payload[70000];
	for (size_t i = 0; i < sizeof payload; i++)
		payload[i] = (unsigned char)(i * 7 + 3);

	/* text frames: FIN + opcode 1, then the 7-bit, 16-bit or 64-bit length */
	struct {
		size_t len;
		unsigned char hdr[10];
		size_t hdr_len;
	} cases[] = {
	    {0, {0x81, 0x00}, 2},
	    {1, {0x81, 0x01}, 2},
	    {125, {0x81, 0x7d}, 2},
	    {126, {0x81, 0x7e, 0x00, 0x7e}, 4},
	    {127, {0x81, 0x7e, 0x00, 0x7f}, 4},
	    {256, {0x81, 0x7e, 0x01, 0x00}, 4},
	    {65535, {0x81, 0x7e, 0xff, 0xff}, 4},
	    {65536, {0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}, 10},
	    {69999, {0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x11, 0x6f}, 10},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct pl_frame *f = pl_frame_new(payload, cases[i].len, false);
		check_frame(f, payload, cases[i].len, false, cases[i].hdr, cases[i].hdr_len);
		pl_frame_unref(f);
		if (test_failed) {
			fprintf(stderr, "  (text frame of %zu bytes)\n", cases[i].len);
			return;
		}
		/* binary frames differ only in the opcode */
		unsigned char bhdr[10];
		memcpy(bhdr, cases[i].hdr, sizeof bhdr);
		bhdr[0] = 0x82;
		f = pl_frame_new(payload, cases[i].len, true);
		check_frame(f, payload, cases[i].len, true, bhdr, cases[i].hdr_len);
		pl_frame_unref(f);
		if (test_failed) {
			fprintf(stderr, "  (binary frame of %zu bytes)\n", cases[i].len);
			return;
		}
	}
}

static void test_frame_typed(void)
{
	struct pl_frame *f = pl_frame_new_typed('4', "2[\"a\"]", 6);
	check_frame(f, (const unsigned char *)"42[\"a\"]", 7, false,
		    (const unsigned char *)"\x81\x07", 2);
	pl_frame_unref(f);
	if (test_failed)
		return;

	/* a bare type: "2" (ping) and "6" (noop) */
	f = pl_frame_new_typed('2', NULL, 0);
	check_frame(f, (const unsigned char *)"2", 1, false, (const unsigned char *)"\x81\x01", 2);
	pl_frame_unref(f);
	if (test_failed)
		return;

	/* the type byte counts in the length: 124 data bytes are a 125-byte frame, 125 are 126 */
	static char data[65535];
	memset(data, 'z', sizeof data);
	f = pl_frame_new_typed('4', data, 124);
	ASSERT_EQ(f->len, 125);
	ASSERT_EQ(f->hdr_len, 2);
	size_t n;
	ASSERT_MEM_LIT(pl_frame_ws(f, &n), 2, "\x81\x7d");
	pl_frame_unref(f);
	f = pl_frame_new_typed('4', data, 125);
	ASSERT_EQ(f->len, 126);
	ASSERT_MEM_LIT(pl_frame_ws(f, &n), 4, "\x81\x7e\x00\x7e");
	ASSERT_EQ(n, 130);
	pl_frame_unref(f);
	f = pl_frame_new_typed('4', data, 65535);
	ASSERT_EQ(f->len, 65536);
	ASSERT_MEM_LIT(pl_frame_ws(f, &n), 10, "\x81\x7f\0\0\0\0\0\x01\0\0");
	ASSERT_EQ(pl_frame_data(f)[0], '4');
	ASSERT_EQ(pl_frame_data(f)[65535], 'z');
	ASSERT_EQ(pl_frame_data(f)[65536], '\0');
	pl_frame_unref(f);
}

static void test_frame_refs(void)
{
	struct pl_frame *f = pl_frame_new("x", 1, false);
	ASSERT_NOT_NULL(f);
	ASSERT(pl_frame_ref(f) == f);
	ASSERT(pl_frame_ref(f) == f);
	ASSERT_EQ(f->refs, 3);
	pl_frame_unref(f);
	pl_frame_unref(f);
	ASSERT_EQ(f->refs, 1);
	ASSERT_EQ(pl_frame_data(f)[0], 'x');
	pl_frame_unref(f); /* freed here: ASan reports a leak or double free otherwise */
	pl_frame_unref(NULL);
}

TEST_MAIN(TEST(test_sbuf_append), TEST(test_sbuf_growth), TEST(test_sbuf_printf),
	  TEST(test_frame_headers), TEST(test_frame_typed), TEST(test_frame_refs))
