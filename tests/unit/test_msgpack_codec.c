/*
 * Tests for core/msgpack_codec.c against bytes that notepack.io 3.0.1 (the encoder of
 * @socket.io/redis-adapter and the emitter) writes for the same JavaScript values: integral
 * numbers as the shortest integers, others as float64, Buffers as bin; both of its encodings
 * of undefined and of dates decode; truncated, oversized and too deep input is refused.
 */
#include "msgpack_codec.h"

#include <errno.h>

#include "test.h"

/* hex text to bytes in out (at most cap); returns the length */
static size_t unhex(const char *hex, unsigned char *out, size_t cap)
{
	size_t n = 0;
	for (; hex[0] && hex[1] && n < cap; hex += 2) {
		unsigned v;
		sscanf(hex, "%2x", &v);
		out[n++] = (unsigned char)v;
	}
	return n;
}

/* encodes the JSON text (numbers read as reals, as Parley reads them) and compares to hex */
static void check_encode(const char *file, int line, const char *json, const char *hex)
{
	unsigned char want[256];
	size_t n = unhex(hex, want, sizeof want);
	json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
	struct pl_sbuf out = {0};
	if (!v || pl_msgpack_encode(&out, v, NULL, 0) != 0 || out.len != n ||
	    memcmp(out.data, want, n) != 0) {
		test_fail_head(file, line, json);
		fputs(": got ", stderr);
		test_print_bytes(out.data, out.len);
		fputc('\n', stderr);
	}
	pl_sbuf_close(&out);
	json_decref(v);
}
#define CHECK_ENCODE(json, hex) check_encode(__FILE__, __LINE__, json, hex)

/* decodes hex and compares the compact JSON text */
static void check_decode(const char *file, int line, const char *hex, const char *json)
{
	unsigned char in[256];
	size_t n = unhex(hex, in, sizeof in);
	struct pl_frame *att[4];
	unsigned n_att = 0;
	json_t *v = pl_msgpack_decode(in, n, att, &n_att, 4);
	char *text = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	if (!text || strcmp(text, json) != 0) {
		test_fail_head(file, line, hex);
		fprintf(stderr, ": got %s, want %s\n", text ? text : "NULL", json);
	}
	free(text);
	json_decref(v);
	for (unsigned i = 0; i < n_att; i++)
		pl_frame_unref(att[i]);
}
#define CHECK_DECODE(hex, json) check_decode(__FILE__, __LINE__, hex, json)

static bool refused(const char *hex)
{
	unsigned char in[256];
	size_t n = unhex(hex, in, sizeof in);
	struct pl_frame *att[2];
	unsigned n_att = 0;
	json_t *v = pl_msgpack_decode(in, n, att, &n_att, 2);
	for (unsigned i = 0; i < n_att; i++)
		pl_frame_unref(att[i]);
	json_decref(v);
	return v == NULL;
}

static void test_numbers_as_notepack(void)
{
	/* notepack.encode([1,255,256,65536,4294967296,-1,-33,-129,0.5,"h",null,true,{a:1}]) */
	CHECK_ENCODE("[1,255,256,65536,4294967296,-1,-33,-129,0.5,\"h\",null,true,{\"a\":1}]",
		     "9d01ccffcd0100ce00010000cf0000000100000000ffd0dfd1ff7fcb3fe0000000000000a168c0"
		     "c381a16101");
	/* past 2^63 a float64: notepack.io writes a wrong uint64 there */
	CHECK_ENCODE("1e300", "cb7e37e43c8800759c");
	CHECK_ENCODE("-0.0", "00");
	CHECK_DECODE("9d01ccffcd0100ce00010000cf0000000100000000ffd0dfd1ff7fcb3fe0000000000000a168c0"
		     "c381a16101",
		     "[1,255,256,65536,4294967296,-1,-33,-129,0.5,\"h\",null,true,{\"a\":1}]");
	/* float32, and NaN (JSON has none: null, as JSON.stringify writes it) */
	CHECK_DECODE("ca3fc00000", "1.5");
	CHECK_DECODE("cb7ff8000000000000", "null");
	/* empty strings and keys */
	CHECK_DECODE("81a0a0", "{\"\":\"\"}");
	CHECK_ENCODE("{\"\":\"\"}", "81a0a0");
}

static void test_undefined_and_dates(void)
{
	/* notepack 3 writes new Date(Date.UTC(2024,0,2,3,4,5,678)) as timestamp 64 */
	CHECK_DECODE("d7ffa1a5d60065937d25", "\"2024-01-02T03:04:05.678Z\"");
	CHECK_DECODE("d6ff65937d25", "\"2024-01-02T03:04:05.000Z\"");
	CHECK_DECODE("c70cff000000000000000065937d25", "\"2024-01-02T03:04:05.000Z\"");
	/* the old encodings: fixext 8 type 0 (ms), fixext 1 type 0 (undefined) */
	CHECK_DECODE("d7000000018cc820db2e", "\"2024-01-02T03:04:05.678Z\"");
	CHECK_DECODE("92d40000c0", "[null,null]");
	CHECK_DECODE("82a161d40000a16201", "{\"b\":1}");
}

static void test_binary(void)
{
	/* ["x", Buffer.from([1, 2])] */
	unsigned char in[16];
	size_t n = unhex("92a178c4020102", in, sizeof in);
	struct pl_frame *att[2];
	unsigned n_att = 0;
	json_t *v = pl_msgpack_decode(in, n, att, &n_att, 2);
	ASSERT_NOT_NULL(v);
	ASSERT_EQ(n_att, 1);
	ASSERT(att[0]->binary);
	ASSERT_MEM_LIT(pl_frame_data(att[0]), att[0]->len, "\x01\x02");
	char *text = json_dumps(v, JSON_COMPACT);
	ASSERT_STR_EQ(text, "[\"x\",{\"_placeholder\":true,\"num\":0}]");
	/* and back: the placeholder becomes bin again */
	struct pl_sbuf out = {0};
	ASSERT_EQ(pl_msgpack_encode(&out, v, att, n_att), 0);
	ASSERT_MEM_EQ(out.data, out.len, in, n);
	/* a placeholder without its attachment */
	ASSERT_EQ(pl_msgpack_encode(&out, v, NULL, 0), -EINVAL);
	pl_sbuf_close(&out);
	free(text);
	json_decref(v);
	pl_frame_unref(att[0]);
	/* more attachments than allowed */
	ASSERT(refused("93c40101c40102c40103"));
}

static void test_refused(void)
{
	ASSERT(refused(""));
	ASSERT(refused("92a178"));		/* an element missing */
	ASSERT(refused("a5616263"));		/* a string cut short */
	ASSERT(refused("dd7fffffff01"));	/* four billion elements claimed in 6 bytes */
	ASSERT(refused("df7fffffff01"));
	ASSERT(refused("c6ffffffff00"));	/* a huge bin */
	ASSERT(refused("c1"));			/* never used */
	ASSERT(refused("0101"));		/* trailing bytes */
	ASSERT(refused("8101a161"));		/* a key that is not a string */
	ASSERT(refused("a2c3c3"));		/* not UTF-8 */
	char deep[2 * 40 + 3] = "";
	for (int i = 0; i < 40; i++)
		strcat(deep, "91");
	strcat(deep, "01");
	ASSERT(refused(deep));
	char ok[2 * 20 + 3] = "";
	for (int i = 0; i < 20; i++)
		strcat(ok, "91");
	strcat(ok, "01");
	ASSERT(!refused(ok));
}

TEST_MAIN(TEST(test_numbers_as_notepack), TEST(test_undefined_and_dates), TEST(test_binary),
	  TEST(test_refused))
