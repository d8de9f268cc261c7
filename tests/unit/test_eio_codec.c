/*
 * Tests for core/eio_codec.c: Engine.IO text packets, polling payloads split on 0x1e with "b"
 * base64 items, and the polling form of queued frames (base64 itself: test_base64.c).
 */
#include "eio_codec.h"

#include "test.h"

static void test_decode_text(void)
{
	struct pl_eio_packet p;
	static const char types[] = "0123456";
	for (int i = 0; i < 7; i++) {
		char s[] = {types[i], 'x', 'y'};
		ASSERT_EQ(pl_eio_decode_text(s, 3, &p), 0);
		ASSERT_EQ(p.type, types[i]);
		ASSERT(!p.binary);
		ASSERT(p.data == s + 1);
		ASSERT_EQ(p.len, 2);
	}
	ASSERT_EQ(pl_eio_decode_text("2probe", 6, &p), 0);
	ASSERT_EQ(p.type, PL_EIO_PING);
	ASSERT_MEM_LIT(p.data, p.len, "probe");
	ASSERT_EQ(pl_eio_decode_text("4", 1, &p), 0);
	ASSERT_EQ(p.type, PL_EIO_MESSAGE);
	ASSERT_EQ(p.len, 0);
	/* only the given bytes count */
	ASSERT_EQ(pl_eio_decode_text("42[\"a\"]", 2, &p), 0);
	ASSERT_MEM_LIT(p.data, p.len, "2");

	ASSERT_EQ(pl_eio_decode_text("", 0, &p), PL_EIO_EBADPACKET);
	ASSERT_EQ(pl_eio_decode_text("4", 0, &p), PL_EIO_EBADPACKET);
	static const char *const bad[] = {"7", "9hello", "/", "b", "bAAA", "x", " 4", "\x1e"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ASSERT_EQ(pl_eio_decode_text(bad[i], strlen(bad[i]), &p), PL_EIO_EBADPACKET);
	ASSERT_EQ(pl_eio_decode_text("\0"
				     "4",
				     2, &p),
		  PL_EIO_EBADPACKET);
	ASSERT_EQ(pl_eio_decode_text("\377", 1, &p), PL_EIO_EBADPACKET);
}

struct collected {
	int n;             /* packets delivered */
	char types[16];    /* their types */
	bool binary[16];   /* their binary flags */
	char data[16][64]; /* their data */
	size_t len[16];    /* their lengths */
	int stop_after;    /* return stop_rc after this many packets; 0 for never */
	int stop_rc;       /* the value returned to stop */
};

static int collect(const struct pl_eio_packet *p, void *ud)
{
	struct collected *c = ud;
	if (c->n < 16) {
		c->types[c->n] = p->type;
		c->binary[c->n] = p->binary;
		c->len[c->n] = p->len < 64 ? p->len : 64;
		memcpy(c->data[c->n], p->data, c->len[c->n]);
	}
	c->n++;
	if (c->stop_after && c->n == c->stop_after)
		return c->stop_rc;
	return 0;
}

/* Decodes a copy of the payload (decoding works in place) into c; returns the decoder's code. */
static int decode(const char *payload, size_t len, struct collected *c)
{
	char *copy = malloc(len + 1);
	if (!copy)
		abort();
	memcpy(copy, payload, len);
	int rc = pl_eio_decode_payload(copy, len, collect, c);
	free(copy);
	return rc;
}

#define DECODE(lit, c) decode(lit, sizeof(lit) - 1, c)

static void test_payload_split(void)
{
	struct collected c = {0};
	ASSERT_EQ(DECODE("4hello\x1e"
			 "2\x1e"
			 "4\x1e"
			 "1",
			 &c),
		  0);
	ASSERT_EQ(c.n, 4);
	ASSERT_EQ(c.types[0], '4');
	ASSERT_MEM_LIT(c.data[0], c.len[0], "hello");
	ASSERT_EQ(c.types[1], '2');
	ASSERT_EQ(c.len[1], 0);
	ASSERT_EQ(c.types[2], '4');
	ASSERT_EQ(c.len[2], 0);
	ASSERT_EQ(c.types[3], '1');
	for (int i = 0; i < 4; i++)
		ASSERT(!c.binary[i]);

	/* a single packet without separator */
	memset(&c, 0, sizeof c);
	ASSERT_EQ(DECODE("42[\"chat message\",\"hi\"]", &c), 0);
	ASSERT_EQ(c.n, 1);
	ASSERT_MEM_LIT(c.data[0], c.len[0], "2[\"chat message\",\"hi\"]");
}

static void test_payload_base64(void)
{
	struct collected c = {0};
	/* "AQID" is 01 02 03, "/w==" is ff, "" is an empty binary message */
	ASSERT_EQ(DECODE("451-[\"up\",{\"_placeholder\":true,\"num\":0}]\x1e"
			 "bAQID\x1e"
			 "b/w==\x1e"
			 "b\x1e"
			 "4x",
			 &c),
		  0);
	ASSERT_EQ(c.n, 5);
	ASSERT_EQ(c.types[0], '4');
	ASSERT(!c.binary[0]);
	ASSERT_EQ(c.types[1], PL_EIO_MESSAGE);
	ASSERT(c.binary[1]);
	ASSERT_MEM_LIT(c.data[1], c.len[1], "\x01\x02\x03");
	ASSERT(c.binary[2]);
	ASSERT_MEM_LIT(c.data[2], c.len[2], "\xff");
	ASSERT(c.binary[3]);
	ASSERT_EQ(c.len[3], 0);
	ASSERT(!c.binary[4]);
	ASSERT_MEM_LIT(c.data[4], c.len[4], "x");

	/* base64 text: "aGVsbG8" without padding is accepted too */
	memset(&c, 0, sizeof c);
	ASSERT_EQ(DECODE("baGVsbG8=\x1e"
			 "baGVsbG8",
			 &c),
		  0);
	ASSERT_EQ(c.n, 2);
	ASSERT_MEM_LIT(c.data[0], c.len[0], "hello");
	ASSERT_MEM_LIT(c.data[1], c.len[1], "hello");
}

static void test_payload_malformed(void)
{
	static const struct {
		const char *payload;
		size_t len;
		int delivered; /* packets before the bad one */
	} cases[] = {
	    {"", 0, 0},       /* empty body */
	    {"\x1e", 1, 0},   /* empty items */
	    {"4a\x1e", 3, 1}, /* empty trailing item */
	    {"\x1e"
	     "4a",
	     3, 0}, /* empty leading item */
	    {"4a\x1e\x1e"
	     "4b",
	     5, 1}, /* empty middle item */
	    {"4a\x1e"
	     "7x\x1e"
	     "4b",
	     8, 1}, /* unknown type */
	    {"9", 1, 0},
	    {"x4", 2, 0},
	    {"4a\x1e"
	     "b!!!!",
	     7, 1},           /* bad base64 */
	    {"bA", 2, 0},     /* one base64 digit is no byte */
	    {"bAAAAA", 6, 0}, /* 5 digits */
	    {"bAA=A", 5, 0},  /* padding inside */
	    {"bAA A", 5, 0},
	    {"bAQ\nI", 5, 0},
	    {"4a\x1e"
	     "4b\x1e"
	     "b*",
	     8, 2},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct collected c = {0};
		int rc = decode(cases[i].payload, cases[i].len, &c);
		ASSERT_EQ(rc, PL_EIO_EBADPACKET);
		ASSERT_EQ(c.n, cases[i].delivered);
		if (test_failed) {
			fprintf(stderr, "  (case %zu)\n", i);
			return;
		}
	}
}

static void test_payload_callback_stops(void)
{
	struct collected c = {.stop_after = 2, .stop_rc = 7};
	ASSERT_EQ(DECODE("4a\x1e"
			 "4b\x1e"
			 "4c\x1e"
			 "7bad",
			 &c),
		  7);
	ASSERT_EQ(c.n, 2);
	struct collected d = {.stop_after = 1, .stop_rc = -3};
	ASSERT_EQ(DECODE("4a", &d), -3);
	ASSERT_EQ(d.n, 1);
}

static void test_encode_polling_item(void)
{
	struct pl_sbuf out = {0};
	struct pl_frame *t = pl_frame_new_typed('4', "2[\"a\"]", 6);
	struct pl_frame *b = pl_frame_new("\x00\x01\x02\xff", 4, true);
	struct pl_frame *e = pl_frame_new("", 0, true);
	ASSERT_NOT_NULL(t);
	ASSERT_NOT_NULL(b);
	ASSERT_NOT_NULL(e);
	ASSERT_EQ(pl_eio_encode_polling_item(&out, t), 0);
	ASSERT_EQ(pl_sbuf_putc(&out, PL_EIO_SEPARATOR), 0);
	ASSERT_EQ(pl_eio_encode_polling_item(&out, b), 0);
	ASSERT_EQ(pl_sbuf_putc(&out, PL_EIO_SEPARATOR), 0);
	ASSERT_EQ(pl_eio_encode_polling_item(&out, e), 0);
	ASSERT_MEM_LIT(out.data, out.len,
		       "42[\"a\"]\x1e"
		       "bAAEC/w==\x1e"
		       "b");
	ASSERT_EQ(out.data[out.len], '\0');

	/* and it decodes back to the same packets */
	struct collected c = {0};
	ASSERT_EQ(pl_eio_decode_payload(out.data, out.len, collect, &c), 0);
	ASSERT_EQ(c.n, 3);
	ASSERT_MEM_LIT(c.data[0], c.len[0], "2[\"a\"]");
	ASSERT(c.binary[1]);
	ASSERT_MEM_LIT(c.data[1], c.len[1], "\x00\x01\x02\xff");
	ASSERT(c.binary[2]);
	ASSERT_EQ(c.len[2], 0);
	pl_frame_unref(t);
	pl_frame_unref(b);
	pl_frame_unref(e);
	pl_sbuf_close(&out);
}

TEST_MAIN(TEST(test_decode_text), TEST(test_payload_split), TEST(test_payload_base64),
	  TEST(test_payload_malformed), TEST(test_payload_callback_stops),
	  TEST(test_encode_polling_item))
