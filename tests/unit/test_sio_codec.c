/*
 * Tests for core/sio_codec.c: Socket.IO v5 packets decoded from and encoded to exact bytes, with
 * every validation error. The expected encodings were printed by socket.io-parser 4.2's Encoder.
 */
#include "sio_codec.h"

#include "json.h"
#include "test.h"

/* Writes p's data as JSON into a static buffer ("(none)" when absent). */
static const char *data_json(const struct pl_sio_packet *p)
{
	static char text[4096];
	if (!p->data)
		return "(none)";
	struct pl_sbuf b = {0};
	if (pl_json_write(&b, p->data) || b.len >= sizeof text) {
		pl_sbuf_close(&b);
		return "(unwritable)";
	}
	memcpy(text, b.data, b.len + 1);
	pl_sbuf_close(&b);
	return text;
}

struct decode_case {
	const char *in;       /* packet bytes */
	int type;             /* expected type */
	const char *nsp;      /* expected namespace */
	long long id;         /* expected ack id, -1 for none */
	const char *data;     /* expected payload written back as JSON, "(none)" for none */
	unsigned attachments; /* expected attachment count */
};

static void check_decode(const struct decode_case *c)
{
	struct pl_sio_packet p;
	int rc = pl_sio_decode(c->in, strlen(c->in), &p);
	if (rc != 0) {
		test_fail_head(__FILE__, __LINE__, "pl_sio_decode");
		fprintf(stderr, ": %d (%s) for ", rc, pl_sio_strerror(rc));
		test_print_bytes(c->in, strlen(c->in));
		fputc('\n', stderr);
		return;
	}
	ASSERT_EQ(p.type, c->type);
	ASSERT_STR_EQ(p.nsp, c->nsp);
	ASSERT_EQ(p.id, c->id);
	ASSERT_STR_EQ(data_json(&p), c->data);
	ASSERT_EQ(p.attachments, c->attachments);
	pl_sio_packet_close(&p);
	ASSERT_NULL(p.data);
}

static void test_decode_valid(void)
{
	static char long_nsp[300]; /* "2/xxx...,["a"]" with a namespace of exactly the maximum */
	long_nsp[0] = '2';
	long_nsp[1] = '/';
	memset(long_nsp + 2, 'n', PL_SIO_MAX_NSP - 1);
	strcpy(long_nsp + 1 + PL_SIO_MAX_NSP, ",[\"a\"]");
	static char nsp_max[PL_SIO_MAX_NSP + 1];
	memcpy(nsp_max, long_nsp + 1, PL_SIO_MAX_NSP);

	const struct decode_case cases[] = {
	    {"2[\"a\"]", PL_SIO_EVENT, "/", -1, "[\"a\"]", 0},
	    {"2/chat,[\"a\",1]", PL_SIO_EVENT, "/chat", -1, "[\"a\",1]", 0},
	    {"21[\"a\"]", PL_SIO_EVENT, "/", 1, "[\"a\"]", 0},
	    {"2/chat,0[\"a\"]", PL_SIO_EVENT, "/chat", 0, "[\"a\"]", 0},
	    {"2123456789012345[\"a\"]", PL_SIO_EVENT, "/", 123456789012345LL, "[\"a\"]", 0},
	    {"2[1,{\"x\":[null,true,1.5]}]", PL_SIO_EVENT, "/", -1, "[1,{\"x\":[null,true,1.5]}]",
	     0},
	    {"2[\"chat message\",\"h\303\251\"]", PL_SIO_EVENT, "/", -1,
	     "[\"chat message\",\"h\303\251\"]", 0},
	    {"2/,[\"a\"]", PL_SIO_EVENT, "/", -1, "[\"a\"]", 0},
	    {"3/chat,5[1]", PL_SIO_ACK, "/chat", 5, "[1]", 0},
	    {"35[]", PL_SIO_ACK, "/", 5, "[]", 0},
	    {"30[\"ok\"]", PL_SIO_ACK, "/", 0, "[\"ok\"]", 0},
	    {"51-[\"a\",{\"_placeholder\":true,\"num\":0}]", PL_SIO_BINARY_EVENT, "/", -1,
	     "[\"a\",{\"_placeholder\":true,\"num\":0}]", 1},
	    {"52-/chat,3[\"up\",{\"_placeholder\":true,\"num\":0},{\"b\":{\"_placeholder\":true,"
	     "\"num\":1}}]",
	     PL_SIO_BINARY_EVENT, "/chat", 3,
	     "[\"up\",{\"_placeholder\":true,\"num\":0},{\"b\":{\"_placeholder\":true,\"num\":1}}]",
	     2},
	    /* the cap itself, and attachments nobody references (the reference parser allows it) */
	    {"510-[\"a\",{\"_placeholder\":true,\"num\":9}]", PL_SIO_BINARY_EVENT, "/", -1,
	     "[\"a\",{\"_placeholder\":true,\"num\":9}]", 10},
	    {"52-[\"a\",{\"_placeholder\":true,\"num\":0}]", PL_SIO_BINARY_EVENT, "/", -1,
	     "[\"a\",{\"_placeholder\":true,\"num\":0}]", 2},
	    /* not a placeholder unless _placeholder is true */
	    {"51-[\"a\",{\"_placeholder\":false,\"num\":99}]", PL_SIO_BINARY_EVENT, "/", -1,
	     "[\"a\",{\"_placeholder\":false,\"num\":99}]", 1},
	    {"61-7[{\"_placeholder\":true,\"num\":0}]", PL_SIO_BINARY_ACK, "/", 7,
	     "[{\"_placeholder\":true,\"num\":0}]", 1},
	    {"61-/chat,12[{\"_placeholder\":true,\"num\":0}]", PL_SIO_BINARY_ACK, "/chat", 12,
	     "[{\"_placeholder\":true,\"num\":0}]", 1},
	    {"0", PL_SIO_CONNECT, "/", -1, "(none)", 0},
	    {"0/nsp,", PL_SIO_CONNECT, "/nsp", -1, "(none)", 0},
	    {"0/nsp", PL_SIO_CONNECT, "/nsp", -1, "(none)", 0},
	    {"0/nsp,{\"token\":\"x\"}", PL_SIO_CONNECT, "/nsp", -1, "{\"token\":\"x\"}", 0},
	    {"0{\"pid\":\"p\",\"offset\":\"o\"}", PL_SIO_CONNECT, "/", -1,
	     "{\"pid\":\"p\",\"offset\":\"o\"}", 0},
	    {"1", PL_SIO_DISCONNECT, "/", -1, "(none)", 0},
	    {"1/nsp,", PL_SIO_DISCONNECT, "/nsp", -1, "(none)", 0},
	    {"4{\"message\":\"x\"}", PL_SIO_CONNECT_ERROR, "/", -1, "{\"message\":\"x\"}", 0},
	    {"4/nsp,\"refused\"", PL_SIO_CONNECT_ERROR, "/nsp", -1, "\"refused\"", 0},
	    {long_nsp, PL_SIO_EVENT, nsp_max, -1, "[\"a\"]", 0},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		check_decode(&cases[i]);
		if (test_failed) {
			fprintf(stderr, "  (case %zu)\n", i);
			return;
		}
	}
}

/* Expects pl_sio_decode to fail with err, leaving nothing to release. */
static void check_decode_error(const char *in, size_t len, int err)
{
	struct pl_sio_packet p;
	memset(&p, 0xa5, sizeof p);
	int rc = pl_sio_decode(in, len, &p);
	if (rc == 0)
		pl_sio_packet_close(&p);
	if (rc != err || (rc != 0 && p.data != NULL)) {
		test_fail_head(__FILE__, __LINE__, "decode error");
		fprintf(stderr, ": got %d (%s), expected %d (%s) for ", rc, pl_sio_strerror(rc),
			err, pl_sio_strerror(err));
		test_print_bytes(in, len);
		fputc('\n', stderr);
	}
}

#define BAD(lit, err)                                                                              \
	do {                                                                                       \
		check_decode_error(lit, sizeof(lit) - 1, err);                                     \
		if (test_failed)                                                                   \
			return;                                                                    \
	} while (0)

static void test_decode_malformed(void)
{
	/* type */
	BAD("", PL_SIO_EBADTYPE);
	BAD("7", PL_SIO_EBADTYPE);
	BAD("9[\"a\"]", PL_SIO_EBADTYPE);
	BAD("a", PL_SIO_EBADTYPE);
	BAD("/chat,[\"a\"]", PL_SIO_EBADTYPE);
	BAD("[\"a\"]", PL_SIO_EBADTYPE);
	BAD(" 2[\"a\"]", PL_SIO_EBADTYPE);
	BAD("\0"
	    "2",
	    PL_SIO_EBADTYPE);

	/* EVENT payloads: a non-empty array starting with a string or a number */
	BAD("2", PL_SIO_EBADPAYLOAD);
	BAD("2/chat,", PL_SIO_EBADPAYLOAD);
	BAD("2/chat[\"a\"]", PL_SIO_EBADPAYLOAD); /* no comma: all of it is the namespace */
	BAD("2{}", PL_SIO_EBADPAYLOAD);
	BAD("2[]", PL_SIO_EBADPAYLOAD);
	BAD("2\"a\"", PL_SIO_EBADPAYLOAD);
	BAD("2[null]", PL_SIO_EBADPAYLOAD);
	BAD("2[true]", PL_SIO_EBADPAYLOAD);
	BAD("2[{}]", PL_SIO_EBADPAYLOAD);
	BAD("2[[\"a\"]]", PL_SIO_EBADPAYLOAD);
	BAD("2null", PL_SIO_EBADPAYLOAD);
	BAD("21", PL_SIO_EBADPAYLOAD);
	BAD("2[\"connect\"]", PL_SIO_EBADPAYLOAD);
	BAD("2[\"connect_error\",1]", PL_SIO_EBADPAYLOAD);
	BAD("2[\"disconnect\"]", PL_SIO_EBADPAYLOAD);
	BAD("2[\"disconnecting\"]", PL_SIO_EBADPAYLOAD);
	BAD("2[\"newListener\"]", PL_SIO_EBADPAYLOAD);
	BAD("2/chat,5[\"removeListener\"]", PL_SIO_EBADPAYLOAD);
	BAD("51-[\"connect\",{\"_placeholder\":true,\"num\":0}]", PL_SIO_EBADPAYLOAD);

	/* JSON */
	BAD("2[1,", PL_SIO_EBADJSON);
	BAD("2[\"a\"", PL_SIO_EBADJSON);
	BAD("2[\"a\"]x", PL_SIO_EBADJSON);
	BAD("2[\"a\"][1]", PL_SIO_EBADJSON);
	BAD("2['a']", PL_SIO_EBADJSON);
	BAD("2/chat,x", PL_SIO_EBADJSON);
	BAD("0/chat,{", PL_SIO_EBADJSON);
	BAD("2-[\"a\"]", PL_SIO_EBADJSON);
	BAD("2[\"a\"]\0", PL_SIO_EBADJSON);

	/* ACK: an id is required and the payload is an array */
	BAD("3[1]", PL_SIO_EBADID);
	BAD("3/chat,[1]", PL_SIO_EBADID);
	BAD("3", PL_SIO_EBADID);
	BAD("61-[{\"_placeholder\":true,\"num\":0}]", PL_SIO_EBADID);
	BAD("35", PL_SIO_EBADPAYLOAD);
	BAD("35{}", PL_SIO_EBADPAYLOAD);
	BAD("35\"a\"", PL_SIO_EBADPAYLOAD);
	BAD("35[1", PL_SIO_EBADJSON);

	/* ack ids past JavaScript's safe integers: 16 digits and more */
	BAD("21234567890123456[\"a\"]", PL_SIO_EBADID);
	BAD("3/chat,9999999999999999[1]", PL_SIO_EBADID);
	BAD("299999999999999999999999999999[\"a\"]", PL_SIO_EBADID);

	/* CONNECT takes an object or nothing; DISCONNECT nothing; CONNECT_ERROR an object or a
	 * string */
	BAD("0[]", PL_SIO_EBADPAYLOAD);
	BAD("0\"tok\"", PL_SIO_EBADPAYLOAD);
	BAD("0/nsp,null", PL_SIO_EBADPAYLOAD);
	BAD("1{}", PL_SIO_EBADPAYLOAD);
	BAD("1/nsp,{}", PL_SIO_EBADPAYLOAD);
	BAD("1/nsp,\"x\"", PL_SIO_EBADPAYLOAD);
	BAD("4", PL_SIO_EBADPAYLOAD);
	BAD("4/nsp,", PL_SIO_EBADPAYLOAD);
	BAD("4[1]", PL_SIO_EBADPAYLOAD);
	BAD("41", PL_SIO_EBADPAYLOAD);

	/* attachments */
	BAD("5", PL_SIO_EBADATTACH);
	BAD("51", PL_SIO_EBADATTACH);
	BAD("5-[\"a\"]", PL_SIO_EBADATTACH);
	BAD("5a-[\"a\"]", PL_SIO_EBADATTACH);
	BAD("51[\"a\",{\"_placeholder\":true,\"num\":0}]", PL_SIO_EBADATTACH);
	BAD("5/chat,[\"a\"]", PL_SIO_EBADATTACH);
	BAD("511-[\"a\",{\"_placeholder\":true,\"num\":0}]", PL_SIO_EBADATTACH);
	BAD("599999999999999999999-[\"a\"]", PL_SIO_EBADATTACH);
	BAD("6-[1]", PL_SIO_EBADATTACH);
	BAD("6a-1[1]", PL_SIO_EBADATTACH);
	BAD("611-1[{\"_placeholder\":true,\"num\":0}]", PL_SIO_EBADATTACH);
	BAD("5 1-[\"a\"]", PL_SIO_EBADATTACH);

	/* placeholders must name an attachment that follows: 0 <= num < attachments */
	BAD("51-[\"a\",{\"_placeholder\":true,\"num\":1}]", PL_SIO_EBADPAYLOAD);
	BAD("51-[\"a\",{\"_placeholder\":true,\"num\":-1}]", PL_SIO_EBADPAYLOAD);
	BAD("51-[\"a\",{\"_placeholder\":true,\"num\":0.5}]", PL_SIO_EBADPAYLOAD);
	BAD("51-[\"a\",{\"_placeholder\":true,\"num\":\"0\"}]", PL_SIO_EBADPAYLOAD);
	BAD("51-[\"a\",{\"_placeholder\":true}]", PL_SIO_EBADPAYLOAD);
	BAD("51-[\"a\",{\"_placeholder\":true,\"num\":1e300}]", PL_SIO_EBADPAYLOAD);
	BAD("510-[\"a\",{\"_placeholder\":true,\"num\":10}]", PL_SIO_EBADPAYLOAD);
	BAD("51-[\"a\",{\"x\":[[{\"_placeholder\":true,\"num\":4}]]}]", PL_SIO_EBADPAYLOAD);
	BAD("61-3[{\"_placeholder\":true,\"num\":1}]", PL_SIO_EBADPAYLOAD);
	BAD("51-{\"_placeholder\":true,\"num\":0}", PL_SIO_EBADPAYLOAD);
}

/*
 * socket.io-parser refuses a binary packet that announces no attachment ("Illegal attachments"
 * for n < 1); sio_codec.c promises to reject whatever the reference parser rejects.
 */
static void test_decode_zero_attachments(void)
{
	BAD("50-[\"a\"]", PL_SIO_EBADATTACH);
	BAD("60-1[1]", PL_SIO_EBADATTACH);
}

static void test_decode_long_namespace(void)
{
	static char in[PL_SIO_MAX_NSP + 64];
	/* one byte over the cap */
	in[0] = '2';
	in[1] = '/';
	memset(in + 2, 'n', PL_SIO_MAX_NSP);
	strcpy(in + 2 + PL_SIO_MAX_NSP, ",[\"a\"]");
	check_decode_error(in, strlen(in), PL_SIO_EBADNSP);
	/* the same without a comma, and a namespace of 64 KiB */
	in[2 + PL_SIO_MAX_NSP] = '\0';
	check_decode_error(in, strlen(in), PL_SIO_EBADNSP);
	static char huge[65536];
	memcpy(huge, "0/", 2);
	memset(huge + 2, 'x', sizeof huge - 2);
	check_decode_error(huge, sizeof huge, PL_SIO_EBADNSP);
}

/* The placeholder walk is bounded in depth: a deeply nested binary payload is refused. */
/* Writes an EVENT whose payload nests depth arrays: 2["e",[[...1...]]]; returns its length. */
static size_t nested(char *in, int depth)
{
	size_t n = (size_t)sprintf(in, "2[\"e\",");
	for (int i = 1; i < depth; i++)
		in[n++] = '[';
	in[n++] = '1';
	for (int i = 1; i < depth; i++)
		in[n++] = ']';
	in[n++] = ']';
	return n;
}

static void test_decode_bounded_payloads(void)
{
	static char in[PL_SIO_MAX_VALUES * 2 + 100];
	struct pl_sio_packet p;
	/* nesting: PL_SIO_MAX_DEPTH levels pass, one more is refused before parsing */
	ASSERT_EQ(pl_sio_decode(in, nested(in, PL_SIO_MAX_DEPTH), &p), 0);
	pl_sio_packet_close(&p);
	check_decode_error(in, nested(in, PL_SIO_MAX_DEPTH + 1), PL_SIO_ECOMPLEX);
	if (test_failed)
		return;
	/* values: PL_SIO_MAX_VALUES pass ("e" and 9,999 numbers), one more is refused */
	size_t n = (size_t)sprintf(in, "2[\"e\"");
	for (int i = 1; i < PL_SIO_MAX_VALUES - 1; i++)
		n += (size_t)sprintf(in + n, ",1");
	strcpy(in + n, "]");
	ASSERT_EQ(pl_sio_decode(in, n + 1, &p), 0);
	ASSERT_EQ(json_array_size(p.data), (size_t)PL_SIO_MAX_VALUES - 1);
	pl_sio_packet_close(&p);
	strcpy(in + n, ",1]");
	check_decode_error(in, n + 3, PL_SIO_ECOMPLEX);
	if (test_failed)
		return;
	/* the 990 KB "[[],[],...]" userid of a memory amplification */
	n = (size_t)sprintf(in, "2[\"login\",{\"userid\":[");
	while (n < sizeof in - 10)
		n += (size_t)sprintf(in + n, "[],");
	strcpy(in + n - 1, "]}]");
	check_decode_error(in, n + 2, PL_SIO_ECOMPLEX);
	if (test_failed)
		return;
	/* brackets and commas inside strings are text, escaped quotes included */
	BAD("2[\"a\",\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[,,,,,\\\"[[[[\"]", 0);
	/* a deep binary payload is refused before its placeholders are walked */
	n = (size_t)sprintf(in, "51-[\"a\",");
	for (int i = 0; i < 100; i++)
		in[n++] = '[';
	for (int i = 0; i < 100; i++)
		in[n++] = ']';
	in[n++] = ']';
	check_decode_error(in, n, PL_SIO_ECOMPLEX);
	if (test_failed)
		return;
	/* the auth payload of a CONNECT: up to PL_SIO_MAX_AUTH bytes */
	n = (size_t)sprintf(in, "0{\"token\":\"");
	while (n < PL_SIO_MAX_AUTH + 1 - 2)
		in[n++] = 'x';
	strcpy(in + n, "\"}");
	ASSERT_EQ(pl_sio_decode(in, n + 2, &p), 0); /* "0" and 8,192 bytes */
	pl_sio_packet_close(&p);
	memmove(in + 12, in + 11, n + 3 - 11);
	check_decode_error(in, n + 3, PL_SIO_EAUTHSIZE);
}

static void test_strerror(void)
{
	ASSERT_STR_EQ(pl_sio_strerror(PL_SIO_EBADTYPE), "unknown packet type");
	ASSERT_STR_EQ(pl_sio_strerror(PL_SIO_EBADATTACH), "illegal attachments");
	ASSERT_STR_EQ(pl_sio_strerror(PL_SIO_EBADNSP), "namespace too long");
	ASSERT_STR_EQ(pl_sio_strerror(PL_SIO_EBADID), "invalid ack id");
	ASSERT_STR_EQ(pl_sio_strerror(PL_SIO_EBADJSON), "invalid JSON payload");
	ASSERT_STR_EQ(pl_sio_strerror(PL_SIO_EBADPAYLOAD), "invalid payload");
	ASSERT_STR_EQ(pl_sio_strerror(PL_SIO_ECOMPLEX), "payload too deep or of too many values");
	ASSERT_STR_EQ(pl_sio_strerror(PL_SIO_EAUTHSIZE), "auth payload too large");
	ASSERT_STR_EQ(pl_sio_strerror(0), "unknown error");
	ASSERT_STR_EQ(pl_sio_strerror(-99), "unknown error");
}

static json_t *parse(const char *text)
{
	return pl_json_parse(text, strlen(text));
}

static void test_payload_predicates(void)
{
	static const struct {
		const char *json;
		bool valid;
	} events[] = {
	    {"[\"a\"]", true},
	    {"[0]", true},
	    {"[-1.5,{}]", true},
	    {"[\"\"]", true},
	    {"[\"Connect\"]", true},
	    {"[\"connect \"]", true},
	    {"[]", false},
	    {"[null]", false},
	    {"[false]", false},
	    {"[[1]]", false},
	    {"{}", false},
	    {"\"a\"", false},
	    {"1", false},
	    {"[\"connect\"]", false},
	    {"[\"disconnect\",1]", false},
	};
	for (size_t i = 0; i < sizeof events / sizeof *events; i++) {
		json_t *v = parse(events[i].json);
		ASSERT_NOT_NULL(v);
		bool ok = pl_sio_event_payload_valid(v);
		json_decref(v);
		if (ok != events[i].valid) {
			test_fail_head(__FILE__, __LINE__, "pl_sio_event_payload_valid");
			fprintf(stderr, ": %s for %s\n", ok ? "true" : "false", events[i].json);
			return;
		}
	}
	ASSERT(!pl_sio_event_payload_valid(NULL));

	static const struct {
		const char *json;
		unsigned n;
		bool valid;
	} phs[] = {
	    {"[\"a\"]", 0, true},
	    {"[{\"_placeholder\":true,\"num\":0}]", 1, true},
	    {"[{\"_placeholder\":true,\"num\":0}]", 0, false},
	    {"{\"k\":{\"_placeholder\":true,\"num\":2}}", 3, true},
	    {"{\"k\":{\"_placeholder\":true,\"num\":3}}", 3, false},
	    {"[{\"_placeholder\":1,\"num\":7}]", 1, true},
	    {"[{\"_placeholder\":true,\"num\":0,\"extra\":{\"_placeholder\":true,\"num\":9}}]", 1,
	     true},
	    {"\"x\"", 0, true},
	};
	for (size_t i = 0; i < sizeof phs / sizeof *phs; i++) {
		json_t *v = parse(phs[i].json);
		ASSERT_NOT_NULL(v);
		bool ok = pl_sio_placeholders_valid(v, phs[i].n);
		json_decref(v);
		if (ok != phs[i].valid) {
			test_fail_head(__FILE__, __LINE__, "pl_sio_placeholders_valid");
			fprintf(stderr, ": %s for %s with %u\n", ok ? "true" : "false", phs[i].json,
				phs[i].n);
			return;
		}
	}
	ASSERT(pl_sio_placeholders_valid(NULL, 0));
}

struct encode_case {
	int type;             /* packet type */
	const char *nsp;      /* namespace */
	long long id;         /* ack id or -1 */
	const char *data;     /* payload as JSON text, or NULL */
	unsigned attachments; /* binary attachment count */
	const char *want;     /* exact encoding */
};

static void test_encode(void)
{
	static const struct encode_case cases[] = {
	    {PL_SIO_EVENT, "/", -1, "[\"a\"]", 0, "2[\"a\"]"},
	    {PL_SIO_EVENT, "/chat", -1, "[\"a\",1]", 0, "2/chat,[\"a\",1]"},
	    {PL_SIO_EVENT, "/", 12, "[\"a\"]", 0, "212[\"a\"]"},
	    {PL_SIO_EVENT, "/chat", 0, "[\"a\"]", 0, "2/chat,0[\"a\"]"},
	    {PL_SIO_EVENT, "/", -1, "[\"message-back\",1,\"2\"]", 0, "2[\"message-back\",1,\"2\"]"},
	    {PL_SIO_EVENT, "/", -1, "[\"n\",0.1,1e21,-0,1.5e-7,\"\303\251\342\200\250\\n\"]", 0,
	     "2[\"n\",0.1,1e+21,0,1.5e-7,\"\303\251\342\200\250\\n\"]"},
	    {PL_SIO_ACK, "/", 5, "[1]", 0, "35[1]"},
	    {PL_SIO_ACK, "/chat", 5, "[1]", 0, "3/chat,5[1]"},
	    {PL_SIO_ACK, "/", 999999999999999LL, "[]", 0, "3999999999999999[]"},
	    {PL_SIO_CONNECT, "/", -1, "{\"sid\":\"abc\"}", 0, "0{\"sid\":\"abc\"}"},
	    {PL_SIO_CONNECT, "/chat", -1, "{\"sid\":\"abc\"}", 0, "0/chat,{\"sid\":\"abc\"}"},
	    {PL_SIO_CONNECT, "/", -1, NULL, 0, "0"},
	    {PL_SIO_DISCONNECT, "/chat", -1, NULL, 0, "1/chat,"},
	    {PL_SIO_DISCONNECT, "/", -1, NULL, 0, "1"},
	    {PL_SIO_CONNECT_ERROR, "/", -1, "{\"message\":\"Invalid namespace\"}", 0,
	     "4{\"message\":\"Invalid namespace\"}"},
	    {PL_SIO_CONNECT_ERROR, "/x", -1, "{\"message\":\"m\",\"data\":{\"a\":1}}", 0,
	     "4/x,{\"message\":\"m\",\"data\":{\"a\":1}}"},
	    {PL_SIO_BINARY_EVENT, "/", -1, "[\"up\",{\"_placeholder\":true,\"num\":0}]", 1,
	     "51-[\"up\",{\"_placeholder\":true,\"num\":0}]"},
	    {PL_SIO_BINARY_EVENT, "/chat", 3,
	     "[\"up\",{\"_placeholder\":true,\"num\":0},{\"b\":{\"_placeholder\":true,\"num\":1}}]",
	     2,
	     "52-/chat,3[\"up\",{\"_placeholder\":true,\"num\":0},{\"b\":{\"_placeholder\":true,"
	     "\"num\":1}}]"},
	    {PL_SIO_BINARY_ACK, "/", 7, "[{\"_placeholder\":true,\"num\":0}]", 1,
	     "61-7[{\"_placeholder\":true,\"num\":0}]"},
	    {PL_SIO_BINARY_ACK, "/chat", 7, "[{\"_placeholder\":true,\"num\":0}]", 1,
	     "61-/chat,7[{\"_placeholder\":true,\"num\":0}]"},
	    {PL_SIO_BINARY_EVENT, "/", -1, "[\"a\"]", 10, "510-[\"a\"]"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct encode_case *c = &cases[i];
		json_t *data = c->data ? parse(c->data) : NULL;
		ASSERT(!c->data || data);
		struct pl_sbuf out = {0};
		ASSERT_EQ(pl_sbuf_puts(&out, "4"), 0); /* appends after what is there */
		int rc = pl_sio_encode(&out, c->type, c->nsp, c->id, data, c->attachments);
		json_decref(data);
		ASSERT_EQ(rc, 0);
		ASSERT_EQ(out.data[0], '4');
		test_check_mem(__FILE__, __LINE__, "pl_sio_encode", out.data + 1, out.len - 1,
			       c->want, strlen(c->want));

		/* and the encoding decodes back to the same packet */
		struct pl_sio_packet p;
		if (!test_failed && pl_sio_decode(out.data + 1, out.len - 1, &p) == 0) {
			struct pl_sbuf again = {0};
			pl_sio_encode(&again, p.type, p.nsp, p.id, p.data, p.attachments);
			test_check_mem(__FILE__, __LINE__, "re-encode", again.data, again.len,
				       c->want, strlen(c->want));
			pl_sio_packet_close(&p);
			pl_sbuf_close(&again);
		} else if (!test_failed) {
			test_fail_head(__FILE__, __LINE__, "decoding the encoding");
			fputc('\n', stderr);
		}
		pl_sbuf_close(&out);
		if (test_failed) {
			fprintf(stderr, "  (case %zu)\n", i);
			return;
		}
	}
}

TEST_MAIN(TEST(test_decode_valid), TEST(test_decode_malformed), TEST(test_decode_zero_attachments),
	  TEST(test_decode_long_namespace), TEST(test_decode_bounded_payloads),
	  TEST(test_strerror), TEST(test_payload_predicates), TEST(test_encode))
